//! Documents beside the group document, each with an audience of its own.
//!
//! The group document is held by every member's devices. What only some of them may see lives
//! in a document of its own, synced only among its audience's devices and judged by rules of
//! its own:
//!
//! | document | audience | who may write it |
//! |---|---|---|
//! | group (`groups/<group>`) | every current member device | per the rules table in ARCHITECTURE.md |
//! | personal (`documents/<group>/personal-<member>`) | that member's current devices | those devices |
//!
//! (Pair documents of two partners and a document per piece take the same path: a
//! [`DocumentId`], a directory, an audience read from the group document, and a judge.)
//!
//! Each is stored exactly like a group (a snapshot, per-process logs and signatures, see
//! [`storage`](crate::storage)), is signed change by change like the group, and travels on the
//! group's sync sessions, tagged with its [`DocumentId`], only to peers its audience admits.

use std::fmt;

use crate::ids::MemberId;

/// A document of a group other than the group document itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DocumentId {
    /// A member's own document: what they have read, their settings. Only their devices
    /// hold it.
    Personal(MemberId),
}

/// The tag of a [`DocumentId::Personal`] in [`DocumentId::to_bytes`].
const PERSONAL: u8 = 1;

/// Why bytes do not name a document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{len}-byte document id with kind {kind:#04x} names no document")]
pub struct BadDocumentId {
    /// The first byte.
    pub kind: u8,
    /// How many bytes there were.
    pub len: usize,
}

impl DocumentId {
    /// How many bytes [`to_bytes`](Self::to_bytes) writes.
    pub const ENCODED_LEN: usize = 17;

    /// The id as bytes: a kind byte and the key.
    pub fn to_bytes(&self) -> [u8; Self::ENCODED_LEN] {
        let mut out = [0; Self::ENCODED_LEN];
        match self {
            DocumentId::Personal(member) => {
                out[0] = PERSONAL;
                out[1..].copy_from_slice(member.as_bytes());
            }
        }
        out
    }

    /// Reads [`to_bytes`](Self::to_bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BadDocumentId> {
        let bad = || BadDocumentId {
            kind: bytes.first().copied().unwrap_or(0),
            len: bytes.len(),
        };
        match bytes {
            [PERSONAL, key @ ..] => {
                let key: [u8; 16] = key.try_into().map_err(|_| bad())?;
                Ok(DocumentId::Personal(MemberId::from_bytes(key)))
            }
            _ => Err(bad()),
        }
    }

    /// The name of its directory under the group's documents.
    pub fn dir_name(&self) -> String {
        match self {
            DocumentId::Personal(member) => format!("personal-{member}"),
        }
    }

    /// Whether a device of `member` is in the audience (may hold it and sync it).
    pub fn admits(&self, member: MemberId) -> bool {
        match self {
            DocumentId::Personal(owner) => *owner == member,
        }
    }
}

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DocumentId::Personal(member) => write!(f, "personal document of {}", member.short()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_bad_bytes_are_named() {
        let id = DocumentId::Personal(MemberId::random());
        assert_eq!(DocumentId::from_bytes(&id.to_bytes()), Ok(id));
        let err = DocumentId::from_bytes(&[PERSONAL, 1, 2]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "3-byte document id with kind 0x01 names no document"
        );
        assert!(DocumentId::from_bytes(&[9; 17]).is_err());
        assert!(DocumentId::from_bytes(&[]).is_err());
    }

    #[test]
    fn a_personal_document_admits_only_its_member() {
        let ann = MemberId::random();
        let bea = MemberId::random();
        let doc = DocumentId::Personal(ann);
        assert!(doc.admits(ann));
        assert!(!doc.admits(bea));
    }
}
