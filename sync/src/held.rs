//! Changes a peer sent that cannot be applied yet: their dependencies have not arrived, or no
//! signature vouching for them has. Bounded per peer in count and bytes, so a peer cannot make
//! us hold without limit what may never become applicable.

use std::collections::{HashMap, HashSet};

use automerge::{Automerge, Change, ChangeHash};

/// Most changes held back for one peer.
pub const MAX_HELD_CHANGES: usize = 200_000;
/// Most bytes of changes held back for one peer: eight parts of a split message.
pub const MAX_HELD_BYTES: usize = 64 * 1024 * 1024;

/// The held-back changes of one session, in the order they arrived.
#[derive(Debug, Default)]
pub struct Held {
    order: Vec<ChangeHash>,
    changes: HashMap<ChangeHash, Change>,
    bytes: usize,
}

/// Holding more would pass a bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "peer left {changes} changes ({bytes} bytes) waiting, past the bound of {max_changes} changes or {max_bytes} bytes"
)]
pub struct TooMuchHeld {
    /// Changes that would be held.
    pub changes: usize,
    /// Bytes that would be held.
    pub bytes: usize,
    /// The bound on changes.
    pub max_changes: usize,
    /// The bound on bytes.
    pub max_bytes: usize,
}

impl Held {
    /// Holds `change` unless it is held already; refuses past the bounds.
    pub fn hold(&mut self, change: Change) -> Result<(), TooMuchHeld> {
        let len = change.raw_bytes().len();
        let hash = change.hash();
        if self.changes.contains_key(&hash) {
            return Ok(());
        }
        let (changes, bytes) = (self.changes.len() + 1, self.bytes.saturating_add(len));
        if changes > MAX_HELD_CHANGES || bytes > MAX_HELD_BYTES {
            return Err(TooMuchHeld {
                changes,
                bytes,
                max_changes: MAX_HELD_CHANGES,
                max_bytes: MAX_HELD_BYTES,
            });
        }
        self.bytes = bytes;
        self.order.push(hash);
        self.changes.insert(hash, change);
        Ok(())
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// How many changes are held.
    pub fn len(&self) -> usize {
        self.changes.len()
    }

    /// A held change.
    pub fn get(&self, hash: &ChangeHash) -> Option<&Change> {
        self.changes.get(hash)
    }

    /// The held changes, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Change> {
        self.order.iter().filter_map(|h| self.changes.get(h))
    }

    /// Stops holding `hash`.
    pub fn release(&mut self, hash: &ChangeHash) -> Option<Change> {
        let change = self.changes.remove(hash)?;
        // Released hashes stay in `order` (skipped by `iter`) until they outnumber the rest.
        if self.order.len() > 2 * self.changes.len() + 64 {
            let changes = &self.changes;
            self.order.retain(|h| changes.contains_key(h));
        }
        self.bytes = self.bytes.saturating_sub(change.raw_bytes().len());
        Some(change)
    }

    /// The held changes whose whole past is in `doc` or held: the ones that can be applied
    /// once vouched for.
    pub fn complete(&self, doc: &Automerge) -> HashSet<ChangeHash> {
        let mut complete: HashSet<ChangeHash> = HashSet::new();
        loop {
            let before = complete.len();
            for change in self.iter() {
                let hash = change.hash();
                if complete.contains(&hash) {
                    continue;
                }
                let ready = change
                    .deps()
                    .iter()
                    .all(|d| complete.contains(d) || doc.get_change_meta_by_hash(d).is_some());
                if ready {
                    complete.insert(hash);
                }
            }
            if complete.len() == before {
                return complete;
            }
        }
    }

    /// Dependencies of held changes that neither `doc` nor this holds.
    pub fn missing(&self, doc: &Automerge) -> Vec<ChangeHash> {
        let mut missing: Vec<ChangeHash> = self
            .iter()
            .flat_map(|c| c.deps().iter().copied())
            .filter(|d| !self.changes.contains_key(d) && doc.get_change_meta_by_hash(d).is_none())
            .collect();
        missing.sort();
        missing.dedup();
        missing
    }
}
