//! "New heads" announcements: the one message Quire sends over iroh-gossip.
//!
//! Data never rides gossip. When a device makes an edit it broadcasts, on its group's topic,
//! the heads its document has now; every device that hears of heads it lacks knows changes
//! are on their way, and if they have not come through its sync sessions a moment later, it
//! pulls them by pairwise sync from the device that announced them. An announcement is a few
//! hundred bytes, far below gossip's 4 KiB message cap.

use automerge::ChangeHash;
use quire_store::{DeviceId, GroupId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Most heads an announcement carries; a document with more concurrent heads announces the
/// first ones (any one unknown head is reason enough to pull).
pub const MAX_HEADS: usize = 16;
/// Largest encoded announcement accepted.
pub const MAX_ANNOUNCE: usize = 1024;
/// The format version this build writes and reads.
const VERSION: u8 = 1;

/// A device's heads after an edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announce {
    /// The group the heads are of.
    pub group: GroupId,
    /// The device that made the edit, which holds the changes.
    pub origin: DeviceId,
    /// Its document's heads (at most [`MAX_HEADS`]).
    pub heads: Vec<ChangeHash>,
}

#[derive(Serialize, Deserialize)]
struct Wire {
    version: u8,
    group: [u8; 16],
    origin: [u8; 32],
    heads: Vec<[u8; 32]>,
}

/// Why an announcement was ignored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnnounceError {
    /// Longer than [`MAX_ANNOUNCE`].
    #[error("announcement of {0} bytes is over the {MAX_ANNOUNCE}-byte cap")]
    TooLong(usize),
    /// Not a postcard-encoded announcement.
    #[error("announcement is not readable: {0}")]
    Unreadable(String),
    /// A version this build does not know.
    #[error("announcement version {0} is not known here")]
    Version(u8),
    /// More heads than [`MAX_HEADS`], or none.
    #[error("announcement names {0} heads (1 to {MAX_HEADS} expected)")]
    Heads(usize),
}

impl Announce {
    /// An announcement of `heads`, cut to [`MAX_HEADS`].
    pub fn new(group: GroupId, origin: DeviceId, heads: &[ChangeHash]) -> Announce {
        Announce {
            group,
            origin,
            heads: heads.iter().take(MAX_HEADS).copied().collect(),
        }
    }

    /// The bytes broadcast.
    pub fn encode(&self) -> Vec<u8> {
        let wire = Wire {
            version: VERSION,
            group: *self.group.as_bytes(),
            origin: *self.origin.as_bytes(),
            heads: self.heads.iter().map(|h| h.0).collect(),
        };
        postcard::to_stdvec(&wire).expect("an announcement always encodes")
    }

    /// Reads an announcement a peer broadcast; anything malformed is an error, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<Announce, AnnounceError> {
        if bytes.len() > MAX_ANNOUNCE {
            return Err(AnnounceError::TooLong(bytes.len()));
        }
        let wire: Wire =
            postcard::from_bytes(bytes).map_err(|e| AnnounceError::Unreadable(e.to_string()))?;
        if wire.version != VERSION {
            return Err(AnnounceError::Version(wire.version));
        }
        if wire.heads.is_empty() || wire.heads.len() > MAX_HEADS {
            return Err(AnnounceError::Heads(wire.heads.len()));
        }
        Ok(Announce {
            group: GroupId::from_bytes(wire.group),
            origin: DeviceId::from_bytes(wire.origin),
            heads: wire.heads.into_iter().map(ChangeHash).collect(),
        })
    }
}

/// The gossip topic of a group: a hash of its id, so topics of different groups never meet.
pub fn topic_of(group: GroupId) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"quire/gossip-topic/1");
    hasher.update(group.as_bytes());
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(n: u8) -> ChangeHash {
        ChangeHash([n; 32])
    }

    #[test]
    fn round_trips_and_stays_small() {
        let group = GroupId::from_bytes([3; 16]);
        let heads: Vec<ChangeHash> = (0..40).map(hash).collect();
        let a = Announce::new(group, DeviceId::from_bytes([9; 32]), &heads);
        assert_eq!(a.heads.len(), MAX_HEADS);
        let bytes = a.encode();
        assert!(bytes.len() <= MAX_ANNOUNCE, "{} bytes", bytes.len());
        assert_eq!(Announce::decode(&bytes), Ok(a));
    }

    #[test]
    fn malformed_announcements_are_refused_by_name() {
        assert_eq!(
            Announce::decode(&[0; 2000]),
            Err(AnnounceError::TooLong(2000))
        );
        assert!(matches!(
            Announce::decode(&[1, 2, 3]),
            Err(AnnounceError::Unreadable(_))
        ));
        let group = GroupId::from_bytes([3; 16]);
        let mut bytes = Announce::new(group, DeviceId::from_bytes([9; 32]), &[hash(1)]).encode();
        bytes[0] = 7;
        assert_eq!(Announce::decode(&bytes), Err(AnnounceError::Version(7)));
        let none = Wire {
            version: VERSION,
            group: [0; 16],
            origin: [0; 32],
            heads: Vec::new(),
        };
        let bytes = postcard::to_stdvec(&none).unwrap();
        assert_eq!(Announce::decode(&bytes), Err(AnnounceError::Heads(0)));
    }

    #[test]
    fn topics_differ_by_group() {
        let a = topic_of(GroupId::from_bytes([1; 16]));
        let b = topic_of(GroupId::from_bytes([2; 16]));
        assert_ne!(a, b);
        assert_eq!(a, topic_of(GroupId::from_bytes([1; 16])));
    }
}
