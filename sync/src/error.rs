//! Errors of the sync node, each naming what went wrong.

use quire_store::GroupId;

/// What can go wrong running the node or joining a group.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The group's store refused or failed.
    #[error(transparent)]
    Store(#[from] quire_store::Error),
    /// The data dir failed.
    #[error(transparent)]
    Storage(#[from] quire_store::storage::StorageError),
    /// The endpoint could not be bound.
    #[error("cannot start the network endpoint: {0}")]
    Bind(String),
    /// Another process already runs the node for this data dir.
    #[error("another quire process (pid file `{0}`) already syncs this data dir")]
    NodeRunning(String),
    /// No group with this id here.
    #[error("no group `{0}` in this data dir")]
    NoGroup(GroupId),
    /// This device belongs to no member of the group, so it has no personal document there.
    #[error("this device is no member's in group `{0}`, so it has no personal document there")]
    NoPersonal(GroupId),
    /// The inviter could not be reached.
    #[error("cannot reach the inviter {peer} (tried {tried}): {reason}")]
    Unreachable {
        /// The inviter's device, short.
        peer: String,
        /// The addresses and relays tried.
        tried: String,
        /// Why it failed.
        reason: String,
    },
    /// The inviter refused the ticket.
    #[error("the inviter refused the ticket: {0}")]
    Refused(String),
    /// The join exchange broke off.
    #[error("joining failed: {0}")]
    JoinFailed(String),
    /// Already a member with this device.
    #[error("this device is already in group `{0}`")]
    AlreadyJoined(String),
    /// A file of the node (status, peers) could not be written or read.
    #[error("{what} `{path}`: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The node has shut down.
    #[error("the sync node has shut down")]
    Closed,
}
