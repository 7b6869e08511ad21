//! Each group's gossip swarm: who is let in, what is announced on it, and what hearing an
//! announcement does.
//!
//! * [`GossipGate`] serves iroh-gossip's ALPN, but only to current member devices of some
//!   group here, so a stranger can neither join a swarm nor crowd members out of it.
//! * [`run_group`] joins a group's topic with its member devices as bootstrap, keeps the
//!   group's [`PeerView::neighbors`](crate::fanout::PeerView) current for the dialer,
//!   announces the heads of every edit made on this device, and when it hears of heads the
//!   document still lacks after [`Fanout::pull_after`], asks the dialer to pull from the
//!   device that announced them.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use automerge::ChangeHash;
use iroh::endpoint::Connection;
use iroh::protocol::{AcceptError, ProtocolHandler};
use iroh_gossip::api::{Event, GossipSender};
use iroh_gossip::{Gossip, TopicId};
use n0_future::StreamExt;
use quire_store::{DeviceId, GroupId};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::announce::{Announce, topic_of};
use crate::fanout::Fanout;
use crate::group_actor::GroupMsg;
use crate::shared::{Shared, SyncEvent, device_of, endpoint_of};
use crate::wire::close;

/// How often new member devices are offered to the swarm.
const REJOIN_TICK: Duration = Duration::from_secs(2);
/// While this device has no neighbor, every member device is offered again, at first after
/// [`REJOIN_TICK`], then less and less often, up to this.
const LONELY_MAX: Duration = Duration::from_secs(60);

/// iroh-gossip's protocol, for member devices only.
#[derive(Debug, Clone)]
pub(crate) struct GossipGate {
    pub gossip: Gossip,
    pub shared: Arc<Shared>,
}

impl ProtocolHandler for GossipGate {
    async fn accept(&self, conn: Connection) -> Result<(), AcceptError> {
        let peer = device_of(conn.remote_id());
        if !self.shared.is_member_device(peer) {
            tracing::debug!(peer = %peer.short(), "gossip refused: not a member device");
            conn.close(close::NOT_A_MEMBER.into(), b"not a member device");
            return Ok(());
        }
        self.gossip
            .handle_connection(conn)
            .await
            .map_err(AcceptError::from_err)
    }

    async fn shutdown(&self) {
        if let Err(e) = self.gossip.shutdown().await {
            tracing::debug!(error = %e, "gossip did not shut down cleanly");
        }
    }
}

/// Runs `group`'s swarm until `cancel`.
pub(crate) async fn run_group(
    gossip: Gossip,
    shared: Arc<Shared>,
    group: GroupId,
    fanout: Fanout,
    cancel: CancellationToken,
) {
    let topic = TopicId::from_bytes(topic_of(group));
    let mut offered: BTreeSet<DeviceId> = member_devices(&shared, group);
    let bootstrap = offered.iter().filter_map(|d| endpoint_of(*d)).collect();
    let (sender, mut receiver) = match gossip.subscribe(topic, bootstrap).await {
        Ok(topic) => topic.split(),
        Err(e) => {
            tracing::warn!(group = %group.short(), error = %e, "cannot join the group's gossip; syncing without it");
            return;
        }
    };
    let mut events = shared.events.subscribe();
    let (pull_tx, mut pull_rx) = mpsc::channel::<(DeviceId, Vec<ChangeHash>)>(64);
    let mut checks = JoinSet::new();
    let mut checking: HashSet<DeviceId> = HashSet::new();
    let mut tick = tokio::time::interval(REJOIN_TICK);
    let mut lonely = Lonely::default();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {
                rejoin(&shared, group, &sender, &mut offered, &mut lonely).await;
            }
            event = events.recv() => match event {
                Ok(SyncEvent::DocumentChanged { group: g, heads, from_peer: false }) if g == group => {
                    let announce = Announce::new(group, shared.me, &heads);
                    if let Err(e) = sender.broadcast(announce.encode().into()).await {
                        tracing::debug!(group = %group.short(), error = %e, "cannot announce");
                    }
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            event = receiver.next() => match event {
                Some(Ok(Event::NeighborUp(id))) => set_neighbor(&shared, group, device_of(id), true),
                Some(Ok(Event::NeighborDown(id))) => set_neighbor(&shared, group, device_of(id), false),
                Some(Ok(Event::Received(message))) => {
                    let Some(announce) = heard(&shared, group, &message.content) else { continue };
                    if checking.insert(announce.origin) {
                        checks.spawn(check_later(shared.clone(), group, announce, fanout.pull_after, pull_tx.clone()));
                    }
                }
                Some(Ok(Event::Lagged)) => {}
                Some(Err(e)) => {
                    tracing::debug!(group = %group.short(), error = %e, "gossip stream failed");
                    return;
                }
                None => return,
            },
            Some((origin, missing)) = pull_rx.recv() => {
                checking.remove(&origin);
                if !missing.is_empty() {
                    tracing::debug!(group = %group.short(), peer = %origin.short(), "announced heads did not arrive; pulling");
                    let until = Instant::now() + fanout.pull_for;
                    shared.with_peers(|peers| {
                        peers.entry(group).or_default().pulls.insert(origin, until);
                    });
                    shared.wake_dialer.notify_one();
                }
            }
            Some(_) = checks.join_next(), if !checks.is_empty() => {}
        }
    }
}

/// A valid announcement for `group` from one of its other member devices, or None.
fn heard(shared: &Shared, group: GroupId, bytes: &[u8]) -> Option<Announce> {
    let announce = match Announce::decode(bytes) {
        Ok(a) => a,
        Err(e) => {
            tracing::debug!(group = %group.short(), error = %e, "ignoring an announcement");
            return None;
        }
    };
    let member = shared.with_peers(|peers| {
        peers
            .get(&group)
            .is_some_and(|v| v.devices.contains(&announce.origin))
    });
    (announce.group == group && member && announce.origin != shared.me).then_some(announce)
}

/// After `wait`, reports which of the announced heads the document still lacks.
async fn check_later(
    shared: Arc<Shared>,
    group: GroupId,
    announce: Announce,
    wait: Duration,
    done: mpsc::Sender<(DeviceId, Vec<ChangeHash>)>,
) {
    let missing = match has_heads(&shared, group, &announce.heads).await {
        Some(true) | None => Vec::new(),
        Some(false) => {
            tokio::time::sleep(wait).await;
            match has_heads(&shared, group, &announce.heads).await {
                Some(false) => announce.heads,
                _ => Vec::new(),
            }
        }
    };
    let _ = done.send((announce.origin, missing)).await;
}

async fn has_heads(shared: &Shared, group: GroupId, heads: &[ChangeHash]) -> Option<bool> {
    let actor = shared.group(group)?;
    let (reply, answer) = oneshot::channel();
    actor
        .send(GroupMsg::HasHeads {
            heads: heads.to_vec(),
            reply,
        })
        .await
        .ok()?;
    answer.await.ok()
}

fn member_devices(shared: &Shared, group: GroupId) -> BTreeSet<DeviceId> {
    shared.with_peers(|peers| {
        peers
            .get(&group)
            .map(|v| v.devices.clone())
            .unwrap_or_default()
    })
}

fn set_neighbor(shared: &Shared, group: GroupId, device: DeviceId, up: bool) {
    shared.with_peers(|peers| {
        let view = peers.entry(group).or_default();
        if up {
            view.neighbors.insert(device);
        } else {
            view.neighbors.remove(&device);
        }
    });
    shared.wake_dialer.notify_one();
}

/// When to offer every member device again while this device has no neighbor.
#[derive(Debug)]
struct Lonely {
    next: Instant,
    gap: Duration,
}

impl Default for Lonely {
    fn default() -> Self {
        Lonely {
            next: Instant::now() + REJOIN_TICK,
            gap: REJOIN_TICK,
        }
    }
}

/// Offers the swarm member devices it has not been offered yet, or, while this device has no
/// neighbor (the first bootstrap may have found nobody online), all of them again now and
/// then.
async fn rejoin(
    shared: &Shared,
    group: GroupId,
    sender: &GossipSender,
    offered: &mut BTreeSet<DeviceId>,
    lonely: &mut Lonely,
) {
    let devices = member_devices(shared, group);
    let alone = shared.with_peers(|peers| peers.get(&group).is_none_or(|v| v.neighbors.is_empty()));
    if !alone {
        *lonely = Lonely::default();
    }
    let now = Instant::now();
    let fresh: Vec<DeviceId> = if alone && now >= lonely.next {
        lonely.gap = (lonely.gap * 2).min(LONELY_MAX);
        lonely.next = now + lonely.gap;
        devices.iter().copied().collect()
    } else {
        devices.difference(offered).copied().collect()
    };
    offered.extend(fresh.iter().copied());
    let ids: Vec<_> = fresh.into_iter().filter_map(endpoint_of).collect();
    if !ids.is_empty()
        && let Err(e) = sender.join_peers(ids).await
    {
        tracing::debug!(group = %group.short(), error = %e, "cannot offer peers to gossip");
    }
}
