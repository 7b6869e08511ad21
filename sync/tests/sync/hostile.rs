use std::path::Path;
use std::time::Duration;

use iroh::EndpointAddr;
use iroh::endpoint::{Connection, RecvStream, SendStream};
use quire_store::GroupId;
use quire_sync::frame::write_frame;
use quire_sync::wire::{self, SYNC_ALPN, SyncHello, close};
use quire_sync::{InviteOptions, NodeConfig};

use crate::support::{Peer, bio_of, converge, eventually, pair};

/// Dials `target` with the device key of the data dir `from` (its node offline) and names
/// `group`.
async fn raw_session(
    from: &Path,
    target: EndpointAddr,
    group: GroupId,
) -> (iroh::Endpoint, Connection, SendStream, RecvStream) {
    let endpoint = quire_sync::bind_endpoint(&NodeConfig::loopback(from))
        .await
        .unwrap();
    let conn = endpoint.connect(target, SYNC_ALPN).await.unwrap();
    let (mut send, recv) = conn.open_bi().await.unwrap();
    let hello = wire::encode(&SyncHello {
        group: *group.as_bytes(),
    });
    write_frame(&mut send, &hello).await.unwrap();
    (endpoint, conn, send, recv)
}

/// The close code the victim gave, once it closes.
async fn closed_with(conn: &Connection) -> Option<u64> {
    let err = tokio::time::timeout(Duration::from_secs(10), conn.closed())
        .await
        .expect("the victim closes the connection");
    match err {
        iroh::endpoint::ConnectionError::ApplicationClosed(close) => {
            Some(close.error_code.into_inner())
        }
        _ => None,
    }
}

/// A, B and C in one group; B goes offline so the test can speak as B's device by hand.
async fn victim_with_honest_peer() -> (Peer, Peer, Peer, GroupId) {
    let mut a = Peer::new("Ada");
    let mut b = Peer::new("Bea");
    let mut c = Peer::new("Cy");
    let group = pair(&mut a, &mut b).await;
    c.online().await;
    c.join(&a.invite(group, InviteOptions::default()).await)
        .await
        .unwrap();
    converge(group, &[&a, &b, &c]).await;
    b.offline().await;
    (a, b, c, group)
}

/// After the attack: A's document is what it was, and A still syncs with C both ways.
async fn still_serves_honest_peers(
    a: &Peer,
    c: &Peer,
    group: GroupId,
    before: Vec<automerge::ChangeHash>,
) {
    assert_eq!(
        a.heads(group).await,
        before,
        "the attack changed nothing of ours"
    );
    c.set_bio(group, "honest edit").await;
    eventually("A still hears from C", || async {
        bio_of(a, group, "Cy").await.as_deref() == Some("honest edit")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_frame_closes_only_that_connection() {
    let (a, b, c, group) = victim_with_honest_peer().await;
    let before = a.heads(group).await;
    let (endpoint, conn, mut send, _recv) = raw_session(b.path(), a.handle().addr(), group).await;
    // Announce 20 MiB, over the 16 MiB cap; send a few bytes of it.
    send.write_all(&(20u32 * 1024 * 1024).to_be_bytes())
        .await
        .unwrap();
    // The victim may already have hung up on the prefix alone.
    let _ = send.write_all(b"not really").await;
    assert_eq!(closed_with(&conn).await, Some(close::PROTOCOL.into()));
    endpoint.close().await;
    still_serves_honest_peers(&a, &c, group, before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_malicious_sync_messages_are_refused_before_automerge() {
    let (a, b, c, group) = victim_with_honest_peer().await;
    let before = a.heads(group).await;
    // A v1 message: no heads, no need, one have with an empty last_sync and a bloom filter
    // asking for four billion probes (automerge would try to allocate them).
    let mut bloom = Vec::new();
    for n in [1u64, 10, 4_000_000_000] {
        leb(&mut bloom, n);
    }
    bloom.push(0xff);
    bloom.push(0xff);
    let mut evil = vec![0x42, 0, 0, 1, 0];
    leb(&mut evil, bloom.len() as u64);
    evil.extend_from_slice(&bloom);
    evil.push(0);
    for message in [vec![0xde, 0xad, 0xbe, 0xef], evil] {
        let (endpoint, conn, mut send, _recv) =
            raw_session(b.path(), a.handle().addr(), group).await;
        write_frame(&mut send, &message).await.unwrap();
        assert_eq!(closed_with(&conn).await, Some(close::PROTOCOL.into()));
        endpoint.close().await;
    }
    still_serves_honest_peers(&a, &c, group, before).await;
}

fn leb(out: &mut Vec<u8>, n: u64) {
    leb128::write::unsigned(out, n).expect("a Vec takes every byte");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_and_flooding_strangers_do_not_stop_honest_sync() {
    let (a, _b, c, group) = victim_with_honest_peer().await;
    let before = a.heads(group).await;
    // One stranger connects and never says anything; twenty more name the group.
    let strangers: Vec<Peer> = (0..21).map(|i| Peer::new(&format!("Eve {i}"))).collect();
    let stall = quire_sync::bind_endpoint(&NodeConfig::loopback(strangers[0].path()))
        .await
        .unwrap();
    let stalled = stall.connect(a.handle().addr(), SYNC_ALPN).await.unwrap();
    let mut flood = tokio::task::JoinSet::new();
    for eve in &strangers[1..] {
        let (from, target) = (eve.path().to_path_buf(), a.handle().addr());
        flood.spawn(async move {
            let (endpoint, conn, _send, mut recv) = raw_session(&from, target, group).await;
            let got = quire_sync::frame::read_frame(&mut recv, 1024).await;
            assert!(!matches!(got, Ok(Some(_))), "a stranger got a frame");
            let code = closed_with(&conn).await;
            endpoint.close().await;
            code
        });
    }
    let codes = flood.join_all().await;
    assert!(
        codes.iter().all(|c| *c == Some(close::NOT_A_MEMBER.into())),
        "{codes:?}"
    );
    still_serves_honest_peers(&a, &c, group, before).await;
    // The staller is dropped once its time to say hello is up.
    assert_eq!(
        closed_with(&stalled).await,
        Some(close::NOT_A_MEMBER.into())
    );
    stall.close().await;
}
