//! The document's history as plain [`Change`]s for the activity feed.

use automerge::Automerge;

use crate::exchange::activity::Change;

/// Every change in the document, in its causal order, with its device and message.
pub fn history(doc: &Automerge) -> Vec<Change> {
    history_since(doc, &[])
}

/// The changes made since `heads`, as plain data.
pub fn history_since(doc: &Automerge, heads: &[automerge::ChangeHash]) -> Vec<Change> {
    doc.get_changes_meta(heads)
        .into_iter()
        .map(|c| Change {
            at: jiff::Timestamp::from_second(c.timestamp).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
            device: crate::device_of_actor(&c.actor),
            message: c.message.map(|m| m.into_owned()).unwrap_or_default(),
            order: (c.start_op, c.actor.to_bytes().to_vec()),
        })
        .collect()
}
