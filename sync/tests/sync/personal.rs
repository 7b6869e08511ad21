use std::time::Duration;

use jiff::Timestamp;
use quire_store::documents::DocumentId;
use quire_store::personal::Personal;
use quire_store::{GroupId, MemberId};
use quire_sync::envelope;
use quire_sync::frame::{MAX_FRAME, read_frame, write_frame};
use quire_sync::wire::close;
use quire_sync::{InviteOptions, SyncError, TicketKind};

use crate::support::{Peer, converge, dial_as, eventually};

/// What `peer`'s node holds of its personal document in `group`.
async fn personal(peer: &Peer, group: GroupId) -> Personal {
    peer.handle()
        .personal(group, |doc| doc.read())
        .await
        .unwrap()
}

async fn mark_read(peer: &Peer, group: GroupId, item: &'static str) {
    let marked = peer
        .handle()
        .personal(group, move |doc| doc.mark_read([item], Timestamp::now()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(marked, 1);
}

/// Ada on two devices (her desktop founded the group, her laptop linked by a device ticket)
/// and Bea, a member, all online and converged.
async fn ada_twice_and_bea() -> (Peer, Peer, Peer, GroupId) {
    let mut desktop = Peer::new("Ada");
    let mut laptop = Peer::new("Ada");
    let mut bea = Peer::new("Bea");
    let group = desktop.found("Tuesday Writers");
    desktop.online().await;
    laptop.online().await;
    bea.online().await;
    let device = InviteOptions {
        kind: TicketKind::Device,
        ..InviteOptions::default()
    };
    let ticket = desktop.invite(group, device).await;
    laptop
        .handle()
        .join(&ticket, None, "Ada's laptop".into())
        .await
        .unwrap();
    let ticket = desktop.invite(group, InviteOptions::default()).await;
    bea.join(&ticket).await.unwrap();
    converge(group, &[&desktop, &laptop, &bea]).await;
    (desktop, laptop, bea, group)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn my_read_marks_reach_my_other_device_and_no_other_members() {
    let (desktop, laptop, bea, group) = ada_twice_and_bea().await;
    mark_read(&desktop, group, "critique/from-desktop").await;
    eventually("the laptop has the desktop's read mark", || async {
        personal(&laptop, group)
            .await
            .is_read("critique/from-desktop")
    })
    .await;
    mark_read(&laptop, group, "piece/from-laptop").await;
    let off = laptop
        .handle()
        .personal(group, |doc| doc.set_notifications(false))
        .await
        .unwrap()
        .unwrap();
    assert!(off);
    eventually(
        "the desktop has the laptop's read mark and setting",
        || async {
            let p = personal(&desktop, group).await;
            p.is_read("piece/from-laptop") && !p.notifications
        },
    )
    .await;

    // Bea's device never holds Ada's document; her own knows nothing of Ada's marks.
    let ada = desktop.member_id(group, "Ada").await;
    assert!(
        !bea.data()
            .document_path(group, DocumentId::Personal(ada))
            .exists()
    );
    assert_eq!(personal(&bea, group).await, Personal::default());
    let bea_id = bea.member_id(group, "Bea").await;
    for ada_device in [&desktop, &laptop] {
        let path = ada_device
            .data()
            .document_path(group, DocumentId::Personal(bea_id));
        assert!(
            !path.exists(),
            "Bea's document reached one of Ada's devices"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_marks_made_offline_arrive_when_my_devices_meet_again() {
    let (desktop, mut laptop, _bea, group) = ada_twice_and_bea().await;
    laptop.offline().await;
    mark_read(&desktop, group, "critique/while-away").await;
    laptop.online().await;
    eventually("the laptop caught up with the desktop's mark", || async {
        personal(&laptop, group)
            .await
            .is_read("critique/while-away")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_with_no_member_has_no_personal_document() {
    // A group on this device's disk whose founder is some other device.
    let mut stranger = Peer::new("Stranger");
    let new = quire_store::ops::NewGroup {
        id: GroupId::random(),
        name: "Tuesday Writers".into(),
        description: String::new(),
        rules: Default::default(),
        founder: quire_store::ops::NewMember {
            id: MemberId::random(),
            display_name: "Ada".into(),
            device: quire_store::DeviceId::from_bytes([9; 32]),
            device_label: "Ada's laptop".into(),
        },
    };
    let options = quire_store::storage::StorageOptions::default();
    let group = quire_store::Group::create(&stranger.data(), new, options, Timestamp::now())
        .unwrap()
        .id();
    stranger.online().await;
    let err = stranger
        .handle()
        .personal(group, |doc| doc.read())
        .await
        .unwrap_err();
    assert!(
        matches!(err, SyncError::NoPersonal(g) if g == group),
        "{err}"
    );
}

/// Dials `target` as `from`'s device for `group`, sends `frame`, and returns how the target
/// closes the connection: its code and reason.
async fn send_and_close(from: &Peer, target: &Peer, group: GroupId, frame: &[u8]) -> (u64, String) {
    let (endpoint, conn, mut send, mut recv) = dial_as(from, target, group).await;
    // The target's first frame says the session is attached.
    let first = tokio::time::timeout(Duration::from_secs(10), read_frame(&mut recv, MAX_FRAME))
        .await
        .expect("attached within ten seconds");
    assert!(matches!(first, Ok(Some(_))), "no first frame: {first:?}");
    write_frame(&mut send, frame).await.unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(10), conn.closed())
        .await
        .expect("closed within ten seconds");
    endpoint.close().await;
    match closed {
        iroh::endpoint::ConnectionError::ApplicationClosed(close) => (
            close.error_code.into_inner(),
            String::from_utf8_lossy(&close.reason).into_owned(),
        ),
        other => panic!("closed otherwise: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_who_sends_frames_of_another_members_document_is_cut_off() {
    let (desktop, _laptop, mut bea, group) = ada_twice_and_bea().await;
    let ada: MemberId = desktop.member_id(group, "Ada").await;
    // Bea's own node goes away, so the raw dial below is her one connection (a second one
    // dialed within seconds of the first may be dropped as a duplicate).
    bea.offline().await;
    // An empty sync message of Ada's personal document, as a modified client would send it.
    let message = automerge::sync::Message {
        heads: Vec::new(),
        need: Vec::new(),
        have: Vec::new(),
        changes: automerge::sync::ChunkList::empty(),
        flags: None,
        version: automerge::sync::MessageVersion::V1,
    };
    let frame = envelope::encode_for(
        DocumentId::Personal(ada),
        &envelope::encode(&message.encode(), &[]),
    );
    let (code, reason) = send_and_close(&bea, &desktop, group, &frame).await;
    assert_eq!(code, u64::from(close::PROTOCOL), "{reason}");
    assert!(reason.contains("not shared with this peer"), "{reason}");
    // Ada's devices keep syncing with each other meanwhile.
    mark_read(&desktop, group, "critique/after-the-attempt").await;
}
