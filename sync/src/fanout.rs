//! Which member devices a node keeps sync sessions with: the fan-out policy, without IO.
//!
//! A small group is a full mesh: every device syncs with every other, so an edit is one hop
//! from everyone. In a larger group a full mesh costs every device a connection per member and
//! every edit a message per connection, so a device keeps sessions only with its neighbors in
//! the group's gossip swarm (iroh-gossip's HyParView keeps about five, symmetric, and the
//! swarm connected). An edit then floods the swarm session by session, each hop forwarding
//! before its own fsync, while a small "new heads" announcement races ahead on gossip; a
//! device that hears of heads which have not reached it a moment later pulls them from the
//! device that announced them (a short-lived session, dropped once the pull is over).
//!
//! Gossip may be slow to form, or a device may find few members among its neighbors; a device
//! then tops its sessions up to [`Fanout::min_sessions`] from members whose address it knows,
//! in an order that differs from device to device so that the top-ups spread out.
//!
//! Whatever the group's size, a device keeps a session with each other device of its own
//! member: their personal document ([`quire_store::personal`]) travels only on those.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use quire_store::DeviceId;
use sha2::{Digest, Sha256};

/// The fan-out settings of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fanout {
    /// Groups with at most this many other member devices are a full mesh.
    pub full_mesh_up_to: usize,
    /// Keep sessions with gossip neighbors (off only to test pulls on their own).
    pub neighbor_sessions: bool,
    /// Keep at least this many sessions in a larger group, topping up from known members.
    pub min_sessions: usize,
    /// How long announced heads may take to arrive through sessions before they are pulled.
    /// Flooding takes milliseconds; this is a fallback for when it fails, and on a busy
    /// machine a short wait would turn every slow flood into a pull.
    pub pull_after: Duration,
    /// How long a pull session is kept before it is dropped again.
    pub pull_for: Duration,
}

impl Default for Fanout {
    fn default() -> Self {
        Fanout {
            full_mesh_up_to: 8,
            neighbor_sessions: true,
            min_sessions: 2,
            pull_after: Duration::from_secs(2),
            pull_for: Duration::from_secs(10),
        }
    }
}

/// One group's view of its peers, as the policy needs it.
#[derive(Debug, Default, Clone)]
pub struct PeerView {
    /// Current member devices, this one excluded.
    pub devices: BTreeSet<DeviceId>,
    /// Those with a session now (dialed or accepted).
    pub connected: BTreeSet<DeviceId>,
    /// Gossip neighbors on the group's topic.
    pub neighbors: BTreeSet<DeviceId>,
    /// Devices to pull announced heads from, until when.
    pub pulls: BTreeMap<DeviceId, Instant>,
    /// The other devices of this device's own member (a subset of `devices`).
    pub own: BTreeSet<DeviceId>,
}

impl Fanout {
    /// Whether a group with `devices` other member devices is a full mesh.
    pub fn is_full_mesh(&self, devices: usize) -> bool {
        devices <= self.full_mesh_up_to
    }

    /// The member devices `me` should have a session with now. `reachable` says whether an
    /// address of a device is known (top-ups are only chosen among those).
    pub fn wanted(
        &self,
        me: DeviceId,
        view: &PeerView,
        now: Instant,
        reachable: impl Fn(DeviceId) -> bool,
    ) -> BTreeSet<DeviceId> {
        if self.is_full_mesh(view.devices.len()) {
            return view.devices.clone();
        }
        let mut wanted: BTreeSet<DeviceId> = view
            .pulls
            .iter()
            .filter(|(_, until)| **until > now)
            .map(|(d, _)| *d)
            .filter(|d| view.devices.contains(d))
            .collect();
        if self.neighbor_sessions {
            wanted.extend(view.neighbors.intersection(&view.devices).copied());
        }
        wanted.extend(view.own.intersection(&view.devices).copied());
        if wanted.len() < self.min_sessions {
            // Sessions we already have come first, so a top-up is not swapped for another.
            let mut ranked: Vec<DeviceId> = view
                .devices
                .iter()
                .copied()
                .filter(|d| !wanted.contains(d) && (view.connected.contains(d) || reachable(*d)))
                .collect();
            ranked.sort_by_key(|d| (!view.connected.contains(d), rank(me, *d)));
            let missing = self.min_sessions - wanted.len();
            wanted.extend(ranked.into_iter().take(missing));
        }
        wanted
    }
}

/// A per-pair order: each device ranks the others differently, so top-ups spread out.
fn rank(me: DeviceId, other: DeviceId) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(me.as_bytes());
    hasher.update(other.as_bytes());
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(n: u8) -> DeviceId {
        DeviceId::from_bytes([n; 32])
    }

    fn view(devices: impl IntoIterator<Item = u8>) -> PeerView {
        PeerView {
            devices: devices.into_iter().map(dev).collect(),
            ..PeerView::default()
        }
    }

    #[test]
    fn a_large_group_keeps_sessions_with_my_own_other_devices() {
        let fanout = Fanout::default();
        let mut v = view(1..=40);
        v.own = [dev(17), dev(33)].into();
        let wanted = fanout.wanted(dev(0), &v, Instant::now(), |_| false);
        assert!(
            wanted.contains(&dev(17)) && wanted.contains(&dev(33)),
            "{wanted:?}"
        );
    }

    #[test]
    fn a_small_group_is_a_full_mesh() {
        let fanout = Fanout::default();
        let v = view(1..=8);
        assert_eq!(
            fanout.wanted(dev(0), &v, Instant::now(), |_| true),
            v.devices
        );
    }

    #[test]
    fn a_large_group_keeps_neighbors_and_live_pulls_only() {
        let fanout = Fanout::default();
        let now = Instant::now();
        let mut v = view(1..=20);
        v.neighbors = [2, 3, 4, 99].map(dev).into_iter().collect();
        v.pulls.insert(dev(7), now + Duration::from_secs(5));
        v.pulls.insert(dev(8), now - Duration::from_secs(1));
        let wanted = fanout.wanted(dev(0), &v, now, |_| true);
        // 99 is a neighbor but not a member device; 8's pull is over.
        assert_eq!(wanted, [2, 3, 4, 7].map(dev).into_iter().collect());
    }

    #[test]
    fn without_neighbors_a_large_group_tops_up_from_reachable_members() {
        let fanout = Fanout::default();
        let now = Instant::now();
        let v = view(1..=20);
        let wanted = fanout.wanted(dev(0), &v, now, |d| d != dev(5));
        assert_eq!(wanted.len(), fanout.min_sessions);
        assert!(!wanted.contains(&dev(5)));
        // Stable: asking again gives the same top-ups.
        assert_eq!(wanted, fanout.wanted(dev(0), &v, now, |d| d != dev(5)));
        // Other devices pick differently (with 20 candidates, not all alike).
        let others: BTreeSet<BTreeSet<DeviceId>> = (30..40)
            .map(|me| fanout.wanted(dev(me), &v, now, |_| true))
            .collect();
        assert!(others.len() > 1);
    }

    #[test]
    fn a_top_up_prefers_sessions_already_open() {
        let fanout = Fanout::default();
        let mut v = view(1..=20);
        v.connected = [11, 12].map(dev).into_iter().collect();
        let wanted = fanout.wanted(dev(0), &v, Instant::now(), |_| true);
        assert_eq!(wanted, v.connected);
    }

    #[test]
    fn pull_only_mode_wants_nothing_but_pulls() {
        let fanout = Fanout {
            neighbor_sessions: false,
            min_sessions: 0,
            full_mesh_up_to: 0,
            ..Fanout::default()
        };
        let now = Instant::now();
        let mut v = view(1..=3);
        v.neighbors = [1, 2].map(dev).into_iter().collect();
        assert!(fanout.wanted(dev(0), &v, now, |_| true).is_empty());
        v.pulls.insert(dev(3), now + Duration::from_secs(1));
        assert_eq!(
            fanout.wanted(dev(0), &v, now, |_| true),
            [dev(3)].into_iter().collect()
        );
    }
}
