//! What the UI shows about peer-to-peer sync, and the invites it makes.
//!
//! The backend runs a `quire-sync` node next to its open groups (it writes the same data dir,
//! as another process would) and turns the node's status into [`SyncStatus`] every couple of
//! seconds and soon after each sync event; without a node (tests that ask for none, the demo,
//! or a `quire serve` already syncing the data dir) the status says so honestly.

use jiff::Timestamp;
use quire_store::GroupId;
use quire_sync::TicketKind;
use quire_sync::session::Distance;
use quire_sync::status::NodeStatus;

/// Whether this device syncs, as the status bar shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncState {
    /// No sync node in this build or session.
    NotRunning,
    /// The node is starting.
    Starting,
    /// The node runs.
    Online,
    /// The node runs but cannot reach anyone.
    Offline(String),
}

/// How far this device and a peer are apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerSync {
    /// Same document.
    InSync,
    /// This many changes apart, counted both ways.
    Apart(usize),
    /// The peer has not said yet.
    Unknown,
}

impl std::fmt::Display for PeerSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerSync::InSync => f.write_str("in sync"),
            PeerSync::Apart(1) => f.write_str("1 change apart"),
            PeerSync::Apart(n) => write!(f, "{n} changes apart"),
            PeerSync::Unknown => f.write_str("not compared yet"),
        }
    }
}

/// One member device of one group, as the peers panel lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRow {
    /// The group it is a device of.
    pub group: GroupId,
    /// The device's id (one device may be a peer in several groups).
    pub device_id: String,
    /// Whose device.
    pub member: String,
    /// Its label.
    pub device: String,
    /// Connected now.
    pub connected: bool,
    /// How far apart we are.
    pub sync: PeerSync,
    /// When we were last in sync with it.
    pub last_synced: Option<Timestamp>,
}

/// A peer disconnected for sending a change the group's rules refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedRow {
    /// The group.
    pub group: GroupId,
    /// Whose device, if a member's.
    pub member: String,
    /// The device's id, short.
    pub device: String,
    /// What was refused and why.
    pub reason: String,
    /// When.
    pub at: Timestamp,
}

/// The sync status of this device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStatus {
    /// Overall.
    pub state: SyncState,
    /// Every known member device of the open groups.
    pub peers: Vec<PeerRow>,
    /// Peers refused for a change the rules forbid, newest last.
    pub refused: Vec<RefusedRow>,
}

impl SyncStatus {
    /// The status before sync exists.
    pub fn not_running() -> Self {
        Self {
            state: SyncState::NotRunning,
            peers: Vec::new(),
            refused: Vec::new(),
        }
    }

    /// The node's status as the status bar and the peers panel show it.
    pub fn of_node(status: &NodeStatus) -> Self {
        let peers = status
            .groups
            .iter()
            .flat_map(|g| {
                let group = g.id.parse::<GroupId>().ok();
                g.peers.iter().filter_map(move |p| {
                    Some(PeerRow {
                        group: group?,
                        device_id: p.device.clone(),
                        member: p.member.clone(),
                        device: p.label.clone(),
                        connected: p.connected,
                        sync: match p.distance {
                            Distance::InSync => PeerSync::InSync,
                            Distance::Apart { they_lack, we_lack } => {
                                PeerSync::Apart(they_lack + we_lack)
                            }
                            Distance::Unknown => PeerSync::Unknown,
                        },
                        last_synced: p.last_synced,
                    })
                })
            })
            .collect();
        let refused = status
            .groups
            .iter()
            .flat_map(|g| {
                let group = g.id.parse::<GroupId>().ok();
                g.refused.iter().filter_map(move |r| {
                    Some(RefusedRow {
                        group: group?,
                        member: r.member.clone().unwrap_or_else(|| "a device".into()),
                        device: r.device.chars().take(10).collect(),
                        reason: r.reason.clone(),
                        at: r.at,
                    })
                })
            })
            .collect();
        SyncStatus {
            state: SyncState::Online,
            peers,
            refused,
        }
    }

    /// One line for the status bar, e.g. "online — 2 peers connected, in sync · last synced
    /// just now"; `now` dates the last sync.
    pub fn summary(&self, now: Timestamp) -> String {
        let connected: Vec<&PeerRow> = self.peers.iter().filter(|p| p.connected).collect();
        let devices = connected
            .iter()
            .map(|p| p.device_id.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        let line = match &self.state {
            SyncState::NotRunning => return "offline — sync not running".to_string(),
            SyncState::Starting => return "starting sync…".to_string(),
            SyncState::Offline(why) => format!("offline — {why}"),
            SyncState::Online if connected.is_empty() => "online — no peers connected".to_string(),
            SyncState::Online => {
                let peers = match devices {
                    1 => "1 peer".to_string(),
                    n => format!("{n} peers"),
                };
                let apart: usize = connected
                    .iter()
                    .map(|p| match p.sync {
                        PeerSync::Apart(n) => n,
                        PeerSync::InSync | PeerSync::Unknown => 0,
                    })
                    .sum();
                let comparing = connected.iter().any(|p| p.sync == PeerSync::Unknown);
                let state = match (apart, comparing) {
                    (0, false) => "in sync".to_string(),
                    (0, true) => "comparing".to_string(),
                    (1, _) => "1 change apart".to_string(),
                    (n, _) => format!("{n} changes apart"),
                };
                format!("online — {peers} connected, {state}")
            }
        };
        match self.last_synced() {
            Some(at) => format!("{line} · last synced {}", ago(at, now)),
            None => line,
        }
    }

    /// When this device was last in sync with any peer.
    pub fn last_synced(&self) -> Option<Timestamp> {
        self.peers.iter().filter_map(|p| p.last_synced).max()
    }

    /// Whether it is online.
    pub fn is_online(&self) -> bool {
        self.state == SyncState::Online
    }
}

/// How long ago `at` was, in words: "just now", "5 min ago", "3 h ago", or the local date.
pub fn ago(at: Timestamp, now: Timestamp) -> String {
    let secs = now.as_second().saturating_sub(at.as_second());
    match secs {
        ..60 => "just now".to_string(),
        60..3600 => format!("{} min ago", secs / 60),
        3600..86_400 => format!("{} h ago", secs / 3600),
        _ => crate::ui::widgets::day(at),
    }
}

/// An invite just made, as the invite dialog shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    /// The group it admits to.
    pub group: GroupId,
    /// The ticket, as text.
    pub ticket: String,
    /// A new member, or another device of mine.
    pub kind: TicketKind,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// How many devices may use it.
    pub max_uses: u32,
    /// The invite in the group document (the hash of the ticket's secret).
    pub hash: quire_store::InviteHash,
}

impl Invitation {
    /// The invitation that `ticket` (made with `max_uses`) is.
    pub fn of_ticket(ticket: &quire_sync::Ticket, max_uses: u32) -> Self {
        Invitation {
            group: ticket.group,
            ticket: ticket.to_string(),
            kind: ticket.kind,
            expires_at: ticket.expires_at,
            max_uses,
            hash: quire_store::InviteHash::from_bytes(ticket.secret.hash()),
        }
    }
}

/// Why joining or inviting cannot happen now.
pub const SYNC_MISSING: &str =
    "peer-to-peer sync is not running, so invites and joining are unavailable";

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(connected: bool, sync: PeerSync, last: Option<i64>) -> PeerRow {
        PeerRow {
            group: GroupId::from_bytes([1; 16]),
            device_id: format!("{sync:?}"),
            member: "Ben".into(),
            device: "laptop".into(),
            connected,
            sync,
            last_synced: last.map(|s| Timestamp::from_second(s).unwrap()),
        }
    }

    fn online(peers: Vec<PeerRow>) -> SyncStatus {
        SyncStatus {
            state: SyncState::Online,
            peers,
            refused: Vec::new(),
        }
    }

    #[test]
    fn the_summary_says_peers_distance_and_last_sync() {
        let now = Timestamp::from_second(10_000).unwrap();
        assert_eq!(online(vec![]).summary(now), "online — no peers connected");
        assert_eq!(
            online(vec![peer(true, PeerSync::InSync, Some(9_990))]).summary(now),
            "online — 1 peer connected, in sync · last synced just now"
        );
        assert_eq!(
            online(vec![
                peer(true, PeerSync::Apart(2), Some(9_000)),
                peer(true, PeerSync::Apart(1), None),
                peer(false, PeerSync::Apart(7), None),
            ])
            .summary(now),
            "online — 2 peers connected, 3 changes apart · last synced 16 min ago"
        );
        // One device syncing two groups is one peer.
        assert_eq!(
            online(vec![
                peer(true, PeerSync::InSync, None),
                peer(true, PeerSync::InSync, None)
            ])
            .summary(now),
            "online — 1 peer connected, in sync"
        );
        assert_eq!(
            online(vec![peer(false, PeerSync::Unknown, Some(9_000))]).summary(now),
            "online — no peers connected · last synced 16 min ago"
        );
    }
}
