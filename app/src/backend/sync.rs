//! What the UI shows about peer-to-peer sync.
//!
//! The backend runs a `quire-sync` node next to its open groups (it writes the same data dir,
//! as another process would) and turns the node's status into [`SyncStatus`] every couple of
//! seconds; without a node (tests, the demo, or a `quire serve` already syncing the data dir)
//! the status says so honestly.

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

/// One member device as the peers panel lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRow {
    /// Whose device.
    pub member: String,
    /// Its label.
    pub device: String,
    /// Connected now.
    pub connected: bool,
    /// "in sync", "3 changes apart", "never synced".
    pub state: String,
    /// When it last synced, as text.
    pub last_synced: Option<String>,
}

/// The sync status of this device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStatus {
    /// Overall.
    pub state: SyncState,
    /// Every known member device of the open groups.
    pub peers: Vec<PeerRow>,
}

impl SyncStatus {
    /// The status before sync exists.
    pub fn not_running() -> Self {
        Self {
            state: SyncState::NotRunning,
            peers: Vec::new(),
        }
    }

    /// One line for the status bar.
    pub fn summary(&self) -> String {
        let connected = self.peers.iter().filter(|p| p.connected).count();
        match &self.state {
            SyncState::NotRunning => "offline — sync not running".to_string(),
            SyncState::Starting => "starting sync…".to_string(),
            SyncState::Offline(why) => format!("offline — {why}"),
            SyncState::Online => {
                let behind = self
                    .peers
                    .iter()
                    .filter(|p| p.connected && p.state != "in sync")
                    .count();
                if connected == 0 {
                    return "online — no peers connected".to_string();
                }
                let peers = match connected {
                    1 => "1 peer".to_string(),
                    n => format!("{n} peers"),
                };
                if behind == 0 {
                    format!("online — {peers} connected, in sync")
                } else {
                    format!("online — {peers} connected, syncing with {behind}")
                }
            }
        }
    }

    /// Whether it is online.
    pub fn is_online(&self) -> bool {
        self.state == SyncState::Online
    }
}

/// Why joining or inviting cannot happen now.
pub const SYNC_MISSING: &str =
    "peer-to-peer sync is not running, so invites and joining are unavailable";
