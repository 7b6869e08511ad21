use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use quire_store::{GroupId, ops};
use quire_sync::frame::{MAX_FRAME, read_frame, write_frame};
use quire_sync::wire::{self, SYNC_ALPN, SyncHello};
use quire_sync::{InviteOptions, NodeConfig, SyncError, TicketKind};

use crate::support::{Peer, converge, eventually, pair};

/// Dials `target` as `from`'s device, names `group`, and returns the first frame the target
/// sends back, if any arrives before it closes the connection.
pub async fn hello_and_read(from: &Peer, target: &Peer, group: GroupId) -> Option<Vec<u8>> {
    let mut config = NodeConfig::loopback(from.path());
    config.bind = Some("127.0.0.1:0".parse().unwrap());
    // A second endpoint with the same key is fine for a one-off dial.
    let endpoint = quire_sync::bind_endpoint(&config).await.unwrap();
    let conn = endpoint
        .connect(target.handle().addr(), SYNC_ALPN)
        .await
        .unwrap();
    let (mut send, mut recv) = conn.open_bi().await.unwrap();
    let hello = wire::encode(&SyncHello {
        group: *group.as_bytes(),
    });
    write_frame(&mut send, &hello).await.unwrap();
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
