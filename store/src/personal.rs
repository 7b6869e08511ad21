//! A member's personal document: what they have read and their settings, held only by their
//! own devices (see [`crate::documents`]), never in the group document every member holds.
//!
//! ```text
//! read/<item>:    time it was first read (ms since the epoch), one key per item
//! notifications:  bool; absent means on
//! ```
//!
//! Every value is a scalar at the root, so two devices that start the document apart (each
//! creates its own empty one) merge without one's map hiding the other's: there is no object
//! two devices could both create. An item key names what was read, such as
//! `critique/<id>` (see [`crate::inbox`]).

use std::collections::BTreeMap;

use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, ROOT, ReadDoc, ScalarValueRef, ValueRef};
use jiff::Timestamp;

use crate::documents::DocumentId;
use crate::error::{Error, OpError};
use crate::ids::{DeviceId, GroupId, MemberId};
use crate::storage::{DataDir, GroupStorage, StorageOptions};

/// The prefix of a read item's key.
const READ: &str = "read/";
/// The notifications setting.
const NOTIFICATIONS: &str = "notifications";
/// The longest item key kept.
pub const MAX_ITEM_LEN: usize = 128;

/// What a member's personal document says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Personal {
    /// Items read, with when they were first read.
    pub read: BTreeMap<String, Timestamp>,
    /// Whether desktop notifications are on.
    pub notifications: bool,
}

impl Default for Personal {
    fn default() -> Self {
        Self {
            read: BTreeMap::new(),
            notifications: true,
        }
    }
}

impl Personal {
    /// Whether `item` was read.
    pub fn is_read(&self, item: &str) -> bool {
        self.read.contains_key(item)
    }
}

/// Reads the personal document. Values of the wrong type are skipped: the document is only
/// ever written by its member's own devices, and a newer build may add keys.
pub fn read(doc: &Automerge) -> Personal {
    let mut personal = Personal::default();
    for item in doc.map_range(ROOT, ..) {
        let ValueRef::Scalar(value) = &item.value else {
            continue;
        };
        if let Some(key) = item.key.strip_prefix(READ) {
            let ms = match value {
                ScalarValueRef::Int(ms) | ScalarValueRef::Timestamp(ms) => *ms,
                _ => continue,
            };
            if let Ok(at) = Timestamp::from_millisecond(ms) {
                personal.read.insert(key.to_string(), at);
            }
        } else if item.key == NOTIFICATIONS
            && let ScalarValueRef::Boolean(on) = value
        {
            personal.notifications = *on;
        }
    }
    personal
}

/// A member's personal document open on this device.
#[derive(Debug)]
pub struct PersonalDoc {
    storage: GroupStorage,
    member: MemberId,
}

impl PersonalDoc {
    /// Opens `member`'s personal document in group `group`, creating it empty if this device
    /// has none yet; edits are by a fresh session actor of `device`.
    pub fn open(
        data: &DataDir,
        group: GroupId,
        member: MemberId,
        device: DeviceId,
        options: StorageOptions,
    ) -> Result<Self, Error> {
        let actor: ActorId = crate::session_actor(device);
        let storage = data.open_document(group, DocumentId::Personal(member), actor, options)?;
        Ok(Self { storage, member })
    }

    /// Whose document it is.
    pub fn member(&self) -> MemberId {
        self.member
    }

    /// Its id.
    pub fn id(&self) -> DocumentId {
        DocumentId::Personal(self.member)
    }

    /// What it says now.
    pub fn read(&self) -> Personal {
        read(self.storage.doc())
    }

    /// The document and its files.
    pub fn storage(&self) -> &GroupStorage {
        &self.storage
    }

    /// The document and its files, to apply what peers send.
    pub fn storage_mut(&mut self) -> &mut GroupStorage {
        &mut self.storage
    }

    /// Marks `items` read at `now` (those read before keep their first time), in one change,
    /// durable when it returns. Returns how many were newly marked.
    pub fn mark_read<'a>(
        &mut self,
        items: impl IntoIterator<Item = &'a str>,
        now: Timestamp,
    ) -> Result<usize, Error> {
        let known = self.read();
        let mut new: Vec<&str> = items
            .into_iter()
            .filter(|item| !known.is_read(item))
            .collect();
        new.sort_unstable();
        new.dedup();
        if new.iter().any(|item| item.is_empty()) {
            return Err(OpError::Empty {
                field: "item to mark read",
            }
            .into());
        }
        if let Some(long) = new.iter().find(|item| item.len() > MAX_ITEM_LEN) {
            return Err(OpError::TooLong {
                field: "item to mark read",
                len: long.chars().count(),
                max: MAX_ITEM_LEN,
            }
            .into());
        }
        if new.is_empty() {
            return Ok(0);
        }
        let doc = self.storage.doc_mut();
        let mut tx = doc.transaction();
        for item in &new {
            tx.put(ROOT, format!("{READ}{item}"), now.as_millisecond())
                .expect("the root is a map");
        }
        tx.commit();
        self.storage.persist()?;
        Ok(new.len())
    }

    /// Turns desktop notifications on or off, durable when it returns. Returns whether that
    /// changed anything.
    pub fn set_notifications(&mut self, on: bool) -> Result<bool, Error> {
        if self.read().notifications == on {
            return Ok(false);
        }
        let doc = self.storage.doc_mut();
        let mut tx = doc.transaction();
        tx.put(ROOT, NOTIFICATIONS, on).expect("the root is a map");
        tx.commit();
        self.storage.persist()?;
        Ok(true)
    }

    /// Takes in what other processes of this device wrote. Returns whether anything was new.
    pub fn refresh(&mut self) -> Result<bool, Error> {
        Ok(self.storage.refresh()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(data: &DataDir, group: GroupId, member: MemberId, device: u8) -> PersonalDoc {
        PersonalDoc::open(
            data,
            group,
            member,
            DeviceId::from_bytes([device; 32]),
            StorageOptions::default(),
        )
        .unwrap()
    }

    #[test]
    fn read_marks_and_settings_survive_reopening() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::open(tmp.path()).unwrap();
        let (group, ann) = (GroupId::random(), MemberId::random());
        let mut doc = open(&data, group, ann, 1);
        assert_eq!(doc.read(), Personal::default());
        let at = Timestamp::from_second(1_800_000_000).unwrap();
        assert_eq!(
            doc.mark_read(["critique/a", "piece/b", "critique/a"], at)
                .unwrap(),
            2
        );
        let later = Timestamp::from_second(1_800_000_500).unwrap();
        assert_eq!(doc.mark_read(["critique/a"], later).unwrap(), 0);
        assert!(doc.set_notifications(false).unwrap());
        drop(doc);
        let again = open(&data, group, ann, 1).read();
        assert_eq!(again.read.get("critique/a"), Some(&at));
        assert!(again.is_read("piece/b"));
        assert!(!again.notifications);
        assert!(
            data.document_path(group, DocumentId::Personal(ann))
                .is_dir()
        );
    }

    #[test]
    fn a_bad_item_is_named_and_nothing_is_written() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::open(tmp.path()).unwrap();
        let mut doc = open(&data, GroupId::random(), MemberId::random(), 1);
        let long = "x".repeat(MAX_ITEM_LEN + 1);
        let err = doc
            .mark_read(["piece/a", long.as_str()], Timestamp::UNIX_EPOCH)
            .unwrap_err();
        assert!(err.to_string().contains("the most allowed is 128"), "{err}");
        assert!(doc.read().read.is_empty());
    }

    #[test]
    fn two_devices_that_each_started_the_document_merge_both_ways() {
        let tmp = tempfile::tempdir().unwrap();
        let (group, ann) = (GroupId::random(), MemberId::random());
        let laptop = DataDir::open(tmp.path().join("laptop")).unwrap();
        let phone = DataDir::open(tmp.path().join("phone")).unwrap();
        let mut a = open(&laptop, group, ann, 1);
        let mut b = open(&phone, group, ann, 2);
        a.mark_read(["critique/a"], Timestamp::UNIX_EPOCH).unwrap();
        b.mark_read(["piece/b"], Timestamp::UNIX_EPOCH).unwrap();
        b.set_notifications(false).unwrap();
        let from_b = b.storage().doc().save();
        a.storage_mut().doc_mut().load_incremental(&from_b).unwrap();
        let merged = a.read();
        assert!(merged.is_read("critique/a") && merged.is_read("piece/b"));
        assert!(!merged.notifications);
    }
}
