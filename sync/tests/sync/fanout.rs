use std::time::Duration;

use quire_store::GroupId;
use quire_sync::{Fanout, InviteOptions, device_of};

use crate::support::{Peer, bio_of, converge, eventually};

/// How many sessions `peer` has open for `group` now.
async fn sessions(peer: &Peer, group: GroupId) -> usize {
    let status = peer.handle().status().await;
    status
        .groups
        .iter()
        .find(|g| g.id == group.to_string())
        .map(|g| g.peers.iter().filter(|p| p.connected).count())
        .unwrap_or(0)
}

/// `count` devices in one group founded by the first, each joined with its own ticket from
/// the founder, all online with `fanout`.
async fn group_of(count: usize, fanout: Fanout) -> (Vec<Peer>, GroupId) {
    let mut peers: Vec<Peer> = (0..count).map(|i| Peer::new(&format!("P{i}"))).collect();
    let group = peers[0].found("Big Circle");
    for p in &mut peers {
        p.online_with(fanout).await;
    }
    for i in 1..count {
        let ticket = peers[0].invite(group, InviteOptions::default()).await;
        peers[i].join(&ticket).await.unwrap();
    }
    (peers, group)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_group_syncs_through_gossip_neighbors_with_few_sessions_each() {
    let fanout = Fanout::default();
    let count = fanout.full_mesh_up_to + 4;
    let (peers, group) = group_of(count, fanout).await;
    let all: Vec<&Peer> = peers.iter().collect();
    converge(group, &all).await;

    // An edit on a device that joined last (whose address only the founder had in a ticket)
    // reaches every device.
    let last = &peers[count - 1];
    last.set_bio(group, "from the last to join").await;
    for p in &peers {
        eventually(&format!("{} sees the edit", p.name), || async {
            bio_of(p, group, &last.name).await.as_deref() == Some("from the last to join")
        })
        .await;
    }
    converge(group, &all).await;

    // No device holds a session with every other: the fan-out is bounded. Sessions settle
    // once the swarm has formed and unwanted dials are pruned.
    let bound = 8;
    eventually(
        "every device holds a bounded number of sessions",
        || async {
            let mut counts = Vec::new();
            for p in &peers {
                counts.push(sessions(p, group).await);
            }
            counts.iter().all(|c| *c <= bound && *c >= 1)
        },
    )
    .await;
    let mut counts = Vec::new();
    for p in &peers {
        counts.push(sessions(p, group).await);
    }
    assert!(
        counts.iter().sum::<usize>() < count * (count - 1),
        "not a full mesh: {counts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announced_heads_are_pulled_when_no_session_brings_them() {
    // No sessions but pulls: every change must travel announcement first, then pull.
    let fanout = Fanout {
        full_mesh_up_to: 0,
        neighbor_sessions: false,
        min_sessions: 0,
        pull_after: Duration::from_millis(100),
        pull_for: Duration::from_secs(3),
    };
    let (peers, group) = group_of(3, fanout).await;
    let all: Vec<&Peer> = peers.iter().collect();
    converge(group, &all).await;
    eventually("the join sessions are pruned", || async {
        let mut open = 0;
        for p in &peers {
            open += sessions(p, group).await;
        }
        open == 0
    })
    .await;

    peers[1].set_bio(group, "pulled, not pushed").await;
    for p in [&peers[0], &peers[2]] {
        eventually(&format!("{} pulls the edit", p.name), || async {
            bio_of(p, group, &peers[1].name).await.as_deref() == Some("pulled, not pushed")
        })
        .await;
    }
    converge(group, &all).await;
    // The pull sessions end again.
    eventually("the pull sessions are dropped", || async {
        let mut open = 0;
        for p in &peers {
            open += sessions(p, group).await;
        }
        open == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_is_kept_out_of_the_gossip_swarm() {
    let mut a = Peer::new("Ada");
    let group = a.found("Tuesday Writers");
    let handle = a.online().await;
    let _ = group;

    let stranger = iroh::Endpoint::builder(iroh::endpoint::presets::Minimal)
        .bind_addr(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .unwrap()
        .bind()
        .await
        .unwrap();
    let conn = stranger
        .connect(handle.addr(), iroh_gossip::ALPN)
        .await
        .expect("the handshake itself completes");
    let reason = conn.closed().await;
    let text = format!("{reason:?}");
    assert!(
        text.contains("not a member device"),
        "closed with the reason: {text}"
    );
    assert_ne!(device_of(stranger.id()), a.device());
    stranger.close().await;
}
