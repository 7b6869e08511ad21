//! What the node reports about itself and its peers: for `quire status`, the desktop client's
//! sync indicator, and the status file a running node keeps in the data dir so other `quire`
//! processes can show it.

use std::path::Path;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::atomic_file;
use crate::session::Distance;

/// File name of the running node's status in the data dir.
pub const STATUS_FILE: &str = "node-status.json";

/// This device and every group it syncs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NodeStatus {
    /// This device's id (its iroh endpoint id).
    pub device: String,
    /// The addresses the node listens on.
    pub addrs: Vec<String>,
    /// Its home relay, if any.
    pub relay: Option<String>,
    /// The process running the node.
    pub pid: u32,
    /// When this was written.
    pub updated_at: Timestamp,
    /// Each group.
    pub groups: Vec<GroupStatus>,
}

/// One group's sync state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GroupStatus {
    /// The group's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The document's heads here.
    pub heads: Vec<String>,
    /// Every current member device but this one.
    pub peers: Vec<PeerStatus>,
    /// Peers disconnected for sending a change the group's rules refuse, newest last.
    #[serde(default)]
    pub refused: Vec<RefusedPeer>,
}

/// A peer that sent a change the group's rules refuse: disconnected, and named here.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RefusedPeer {
    /// The sending device.
    pub device: String,
    /// Its member's display name, if it is a member device.
    pub member: Option<String>,
    /// What was refused and why.
    pub reason: String,
    /// When.
    pub at: jiff::Timestamp,
}

/// One member device, as this node sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PeerStatus {
    /// The device's id.
    pub device: String,
    /// Its member's display name.
    pub member: String,
    /// The device's label.
    pub label: String,
    /// Connected now.
    pub connected: bool,
    /// When we last heard from it.
    pub last_seen: Option<Timestamp>,
    /// When we were last in sync with it.
    pub last_synced: Option<Timestamp>,
    /// How far apart we are, as of its last message.
    pub distance: Distance,
}

impl NodeStatus {
    /// Writes the status file into `data_dir`.
    pub fn save(&self, data_dir: &Path) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        atomic_file::write(&data_dir.join(STATUS_FILE), &json)
    }

    /// Reads the status file a node left in `data_dir`, if there is a readable one.
    pub fn load(data_dir: &Path) -> Option<NodeStatus> {
        let bytes = std::fs::read(data_dir.join(STATUS_FILE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}
