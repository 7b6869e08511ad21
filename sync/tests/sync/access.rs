use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use quire_store::{GroupId, ops};
use quire_sync::frame::{MAX_FRAME, read_frame, write_frame};
use quire_sync::wire::{self, JOIN_ALPN_2, JoinReply, JoinRequest, close};
use quire_sync::{InviteOptions, NodeConfig, SyncError, TicketKind};

use crate::support::{Peer, converge, dial_as, eventually, pair};

/// Dials `target` as `from`'s device, names `group`, and returns the first frame the target
/// sends back, if any arrives before it closes the connection.
pub async fn hello_and_read(from: &Peer, target: &Peer, group: GroupId) -> Option<Vec<u8>> {
    let (endpoint, _conn, _send, mut recv) = dial_as(from, target, group).await;
    let got = tokio::time::timeout(Duration::from_secs(5), read_frame(&mut recv, MAX_FRAME))
        .await
        .ok()
        .and_then(|r| r.ok())
        .flatten();
    endpoint.close().await;
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_gets_not_one_byte() {
    let mut a = Peer::new("Ada");
    let stranger = Peer::new("Eve");
    let group = a.found("Tuesday Writers");
    a.online().await;
    let mut events = a.handle().subscribe();
    assert_eq!(hello_and_read(&stranger, &a, group).await, None);
    // And a group that does not exist gets the same answer.
    assert_eq!(hello_and_read(&stranger, &a, GroupId::random()).await, None);
    let refused = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Ok(quire_sync::SyncEvent::Refused { device, .. }) = events.recv().await {
                return device;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(refused, stranger.device());
}

/// How `target` closes a raw sync dial from `from`'s device naming `group`: the close code, the
/// reason, and how long after the hello was sent.
async fn sync_refusal(from: &Peer, target: &Peer, group: GroupId) -> (u64, Vec<u8>, Duration) {
    let (endpoint, conn, _send, _recv) = dial_as(from, target, group).await;
    let sent = std::time::Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(10), conn.closed())
        .await
        .expect("refused within ten seconds");
    let took = sent.elapsed();
    endpoint.close().await;
    match closed {
        iroh::endpoint::ConnectionError::ApplicationClosed(close) => {
            (close.error_code.into_inner(), close.reason.to_vec(), took)
        }
        other => panic!("closed otherwise: {other}"),
    }
}

/// The reply `target` gives a raw join request from `from`'s device for `group`, with a secret
/// that is no invite, as the bytes on the wire.
async fn join_refusal(from: &Peer, target: &Peer, group: GroupId) -> Vec<u8> {
    let mut config = NodeConfig::loopback(from.path());
    config.bind = Some("127.0.0.1:0".parse().unwrap());
    let endpoint = quire_sync::bind_endpoint(&config).await.unwrap();
    let conn = endpoint
        .connect(target.handle().addr(), JOIN_ALPN_2)
        .await
        .unwrap();
    let (mut send, mut recv) = conn.open_bi().await.unwrap();
    let request = wire::encode(&JoinRequest {
        group: *group.as_bytes(),
        secret: [0x5e; 32],
        display_name: Some("Eve".into()),
        device_label: "laptop".into(),
    });
    write_frame(&mut send, &request).await.unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(10), read_frame(&mut recv, MAX_FRAME))
        .await
        .expect("answered within ten seconds")
        .expect("a frame")
        .expect("a reply before the stream ends");
    endpoint.close().await;
    reply
}

/// Issue 13: a stranger could tell whether a group id exists, since a group that is not here
/// and a group the dialer is not in were refused with different reasons. Both, and a member of
/// another group dialing a group it is not in, now get the same bytes, both as late.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_foreign_groups_are_refused_alike() {
    let mut a = Peer::new("Ada");
    let mut b = Peer::new("Bea");
    let eve = Peer::new("Eve");
    // Bea is a member of one of Ada's groups but not of the other.
    let _shared = pair(&mut a, &mut b).await;
    let foreign = a.found("Ada alone");
    b.offline().await;
    a.offline().await;
    a.online().await;
    eventually("Ada's node holds both groups", || async {
        !a.heads(foreign).await.is_empty()
    })
    .await;
    let mut events = a.handle().subscribe();

    let unknown = sync_refusal(&eve, &a, GroupId::random()).await;
    let not_in = sync_refusal(&eve, &a, foreign).await;
    let member_elsewhere = sync_refusal(&b, &a, foreign).await;
    // The foreign group's refusals came from its group actor, which names the reason locally.
    let mut checked_by_the_group = 0;
    while let Ok(event) = events.try_recv() {
        if let quire_sync::SyncEvent::Refused { reason, .. } = event {
            checked_by_the_group += usize::from(reason.contains("not a current member device"));
        }
    }
    assert_eq!(checked_by_the_group, 2);
    for (code, reason, took) in [&unknown, &not_in, &member_elsewhere] {
        assert_eq!(*code, u64::from(close::NOT_A_MEMBER));
        assert_eq!(
            String::from_utf8_lossy(reason),
            "not a member device of that group"
        );
        // Paced: neither refusal is quicker than the group actor's check could be.
        assert!(
            *took >= Duration::from_millis(190),
            "refused after {took:?}"
        );
    }

    let unknown = join_refusal(&eve, &a, GroupId::random()).await;
    let wrong_secret = join_refusal(&eve, &a, foreign).await;
    assert_eq!(unknown, wrong_secret, "the same reply, byte for byte");
    let reply: JoinReply = wire::decode("join reply", &unknown).unwrap();
    match reply {
        JoinReply::Refused { reason } => assert!(reason.starts_with("no invite"), "{reason}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_gets_the_group_on_a_raw_dial() {
    // The control for the stranger test: the same dial by a member is answered.
    let mut a = Peer::new("Ada");
    let mut b = Peer::new("Bea");
    let group = pair(&mut a, &mut b).await;
    b.offline().await;
    assert!(hello_and_read(&b, &a, group).await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_member_is_cut_off_and_refused() {
    let mut a = Peer::new("Ada");
    let mut b = Peer::new("Bea");
    let group = pair(&mut a, &mut b).await;
    let bea = b.device();
    a.handle()
        .edit(group, move |g| {
            let model = g.read().unwrap();
            let id = model.member_for_device(bea).unwrap().id;
            g.act(|doc, me| ops::remove_member(doc, me, id, Timestamp::now()))
        })
        .await
        .unwrap()
        .unwrap();
    eventually("Bea is disconnected", || async {
        let status = a.handle().status().await;
        status.groups[0].peers.iter().all(|p| !p.connected)
    })
    .await;
    a.set_bio(group, "after the removal").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let model = b.model(group).await;
    let ada = model
        .members
        .values()
        .find(|m| m.profile.display_name == "Ada")
        .unwrap();
    assert_ne!(
        ada.profile.bio, "after the removal",
        "nothing new reaches a removed member"
    );
    b.offline().await;
    assert_eq!(hello_and_read(&b, &a, group).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_and_used_up_invites_are_refused() {
    let mut a = Peer::new("Ada");
    let mut b = Peer::new("Bea");
    let mut c = Peer::new("Cy");
    let mut d = Peer::new("Dee");
    let group = a.found("Tuesday Writers");
    a.online().await;
    b.online().await;
    c.online().await;
    d.online().await;

    let short = InviteOptions {
        valid_for: SignedDuration::from_millis(300),
        ..InviteOptions::default()
    };
    let expired = a.invite(group, short).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    match b.join(&expired).await {
        Err(SyncError::Refused(reason)) => assert!(reason.contains("expired"), "{reason}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(!b.has_group(group));

    let once = a.invite(group, InviteOptions::default()).await;
    c.join(&once).await.unwrap();
    match d.join(&once).await {
        Err(SyncError::Refused(reason)) => assert!(reason.contains("used"), "{reason}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(!d.has_group(group));
    converge(group, &[&a, &c]).await;
    let model = a.model(group).await;
    assert_eq!(model.members.len(), 2, "only Ada and Cy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_ticket_links_a_second_device_to_the_same_member() {
    let mut a = Peer::new("Ada");
    let mut laptop = Peer::new("Ada");
    let group = a.found("Tuesday Writers");
    a.online().await;
    laptop.online().await;
    let ticket = a
        .invite(
            group,
            InviteOptions {
                kind: TicketKind::Device,
                ..InviteOptions::default()
            },
        )
        .await;
    let joined = laptop
        .handle()
        .join(&ticket, None, "Ada's phone".into())
        .await
        .unwrap();
    assert_eq!(joined.display_name, "Ada");
    converge(group, &[&a, &laptop]).await;
    let model = laptop.model(group).await;
    assert_eq!(model.members.len(), 1);
    let ada = model.members.values().next().unwrap();
    assert_eq!(ada.devices.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_inviter_is_named_with_what_was_tried() {
    let mut a = Peer::new("Ada");
    let mut b = Peer::new("Bea");
    let group = a.found("Tuesday Writers");
    a.online().await;
    let ticket = a.invite(group, InviteOptions::default()).await;
    a.offline().await;
    b.online().await;
    match b.join(&ticket).await {
        Err(e @ SyncError::Unreachable { .. }) => {
            let text = e.to_string();
            assert!(text.contains("127.0.0.1"), "{text}");
        }
        other => panic!("expected unreachable, got {other:?}"),
    }
}
