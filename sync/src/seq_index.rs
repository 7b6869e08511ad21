//! The last sequence number of every actor in a document, kept current by reading only the
//! changes added since it last looked.
//!
//! Checking that a peer's changes continue their actors' sequences needs each actor's last
//! sequence number in our document. Reading it afresh costs a pass over the whole history for
//! every message; a session keeps one of these instead, so a message costs the changes that
//! arrived since the last one.

use std::collections::HashMap;

use automerge::{ActorId, Automerge, ChangeHash};

/// Each actor's highest sequence number in a document, as of the heads it was last brought to.
#[derive(Debug, Default, Clone)]
pub struct SeqIndex {
    heads: Vec<ChangeHash>,
    last: HashMap<ActorId, u64>,
}

impl SeqIndex {
    /// An empty index: its first [`catch_up`](Self::catch_up) reads every change.
    pub fn new() -> Self {
        Self::default()
    }

    /// Brings the index up to `doc`, reading only the changes it does not cover yet. If `doc`
    /// no longer holds the heads it was at (the document was reloaded with less), it starts
    /// over.
    pub fn catch_up(&mut self, doc: &Automerge) {
        let heads = doc.get_heads();
        if heads == self.heads {
            return;
        }
        if self
            .heads
            .iter()
            .any(|h| doc.get_change_meta_by_hash(h).is_none())
        {
            *self = Self::default();
        }
        for meta in doc.get_changes_meta(&self.heads) {
            let seq = self.last.entry(meta.actor.into_owned()).or_default();
            *seq = (*seq).max(meta.seq);
        }
        self.heads = heads;
    }

    /// `actor`'s highest sequence number as of the last catch-up (0 if it has no change).
    pub fn last_seq(&self, actor: &ActorId) -> u64 {
        self.last.get(actor).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{ROOT, ReadDoc};

    use super::*;

    fn edit(doc: &mut Automerge, key: &str) {
        let mut tx = doc.transaction();
        tx.put(ROOT, key, 1).unwrap();
        tx.commit();
    }

    fn scan(doc: &Automerge) -> HashMap<ActorId, u64> {
        let mut last: HashMap<ActorId, u64> = HashMap::new();
        for meta in doc.get_changes_meta(&[]) {
            let seq = last.entry(meta.actor.into_owned()).or_default();
            *seq = (*seq).max(meta.seq);
        }
        last
    }

    #[test]
    fn follows_a_growing_document_with_concurrent_actors() {
        let mut a = Automerge::new().with_actor(ActorId::from([1u8; 16]));
        let mut b = Automerge::new().with_actor(ActorId::from([2u8; 16]));
        let mut index = SeqIndex::new();
        for round in 0..5 {
            edit(&mut a, &format!("a{round}"));
            edit(&mut b, &format!("b{round}"));
            if round % 2 == 0 {
                edit(&mut b, &format!("b{round}'"));
            }
            a.merge(&mut b).unwrap();
            index.catch_up(&a);
            assert_eq!(index.last, scan(&a), "round {round}");
        }
        assert_eq!(index.last_seq(b.get_actor()), 8);
        assert_eq!(index.last_seq(&ActorId::from([9u8; 16])), 0);
        assert!(a.get(ROOT, "b4'").unwrap().is_some());
    }

    #[test]
    fn starts_over_when_the_document_lost_changes() {
        let mut doc = Automerge::new().with_actor(ActorId::from([1u8; 16]));
        edit(&mut doc, "x");
        let before = doc.fork();
        edit(&mut doc, "y");
        let mut index = SeqIndex::new();
        index.catch_up(&doc);
        assert_eq!(index.last_seq(doc.get_actor()), 2);
        index.catch_up(&before);
        assert_eq!(index.last_seq(doc.get_actor()), 1);
    }
}
