//! A new member's first copy of a group, sent as a saved document instead of change by change.
//!
//! automerge's sync protocol fills an empty document one change at a time, which for a large
//! group (a thousand members, a hundred thousand critiques) takes several times longer than
//! loading the same group from its saved form. So on `quire/join/2`, once the invite is
//! redeemed, the inviter sends its group as a saved document ([`prepare`]: its snapshot file
//! when that is recent enough, else a fresh `save()`), in pieces ([`crate::bootstrap_wire`]),
//! and ordinary sync then fills in whatever is newer (the redeeming change at least).
//!
//! The joiner trusts none of it ([`load`]): [`check_saved_document`] walks the bytes with every
//! size and count bounded before automerge sees them; automerge loads them inside
//! `catch_unwind`; and the loaded document must have the offered heads, our schema, the
//! ticket's group id, and each actor's changes numbered 1, 2, 3, … as sync requires of
//! incoming changes. A document refused here is dropped and the join goes on by ordinary sync.
//!
//! Sans-IO: the inviter's actor calls [`prepare`], the join code moves the frames.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use automerge::{ActorId, Automerge, ChangeHash, ReadDoc};
use quire_store::{Group, GroupId, SignatureBook, doc};

use crate::bootstrap_wire::{BadBootstrapFrame, Offer, decode_piece};
use crate::saved_check::{BadSavedDocument, DocLimits, MAX_SAVED_BYTES, check_saved_document};

/// The inviter sends its snapshot file as it is if the group has moved on by at most this many
/// changes since it was written (sync sends those); otherwise it saves the group afresh.
pub const MAX_CHANGES_PAST_SNAPSHOT: usize = 2_000;

/// What the inviter sends a new member before sync starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// The offer frame's content.
    pub offer: Offer,
    /// The saved document offered (empty if none).
    pub document: Vec<u8>,
    /// The signatures that vouch for its changes, encoded
    /// ([`SignatureBook::encode_entries`]); sent after the last piece.
    pub signatures: Vec<u8>,
}

impl Prepared {
    fn nothing(reason: impl Into<String>) -> Self {
        Prepared {
            offer: Offer::Nothing {
                reason: reason.into(),
            },
            document: Vec::new(),
            signatures: Vec::new(),
        }
    }
}

/// Why a bootstrap was refused.
#[derive(Debug, thiserror::Error)]
pub enum BadBootstrap {
    /// A frame did not parse.
    #[error(transparent)]
    Frame(#[from] BadBootstrapFrame),
    /// More bytes arrived than the offer announced.
    #[error("pieces carry more than the {len} bytes offered")]
    PastEnd {
        /// The length offered.
        len: u64,
    },
    /// The walk before automerge refused the document.
    #[error(transparent)]
    Document(#[from] BadSavedDocument),
    /// The document's heads are not the offered ones.
    #[error("the document's heads ({found}) are not the offered ones ({offered})")]
    Heads {
        /// The offered heads, short.
        offered: String,
        /// The heads found, short.
        found: String,
    },
    /// automerge refused to load it.
    #[error("automerge cannot load the saved document: {0}")]
    Load(String),
    /// automerge panicked loading it.
    #[error("automerge panicked loading the saved document")]
    Panicked,
    /// It is not a group document we can read.
    #[error("the saved document is not a readable group: {0}")]
    NotAGroup(String),
    /// It is another group.
    #[error("the saved document is group `{found}`, not `{expected}`")]
    OtherGroup {
        /// The group it holds.
        found: String,
        /// The ticket's group.
        expected: String,
    },
    /// An actor's changes are not numbered 1, 2, 3, …
    #[error("actor {actor} has change number {seq} where {expected} comes next")]
    Sequence {
        /// The actor, hex.
        actor: String,
        /// The number found.
        seq: u64,
        /// The number expected.
        expected: u64,
    },
}

/// The inviter's side: what to send a new member of `group`, read from its snapshot file or
/// saved afresh.
pub fn prepare_for(group: &mut Group, secret: &iroh::SecretKey) -> Prepared {
    let snapshot = match group.storage_mut().snapshot_file() {
        Ok(snapshot) => snapshot,
        Err(e) => {
            tracing::warn!(group = %group.id().short(), error = %e, "cannot read the snapshot for a new member; saving the group instead");
            None
        }
    };
    let mut prepared = prepare(group.doc(), snapshot);
    if let Offer::Document { .. } = prepared.offer {
        let vouched = crate::verify::vouch_all(group.doc(), group.signatures(), secret);
        prepared.signatures =
            SignatureBook::encode_entries(vouched.iter().map(|(actor, sig)| (actor, sig)));
    }
    prepared
}

/// What to send a new member of the group in `doc`: `snapshot` (the bytes of its snapshot file)
/// if it passes the joiner's checks, holds nothing `doc` lacks and is at most
/// [`MAX_CHANGES_PAST_SNAPSHOT`] changes behind; else a fresh `save()`; or nothing, if the
/// document holds changes waiting for dependencies (a save would carry them as extra chunks,
/// which the joiner refuses) or is too large.
pub fn prepare(doc: &Automerge, snapshot: Option<Vec<u8>>) -> Prepared {
    if !doc.get_missing_deps(&[]).is_empty() {
        return Prepared::nothing("the group holds changes waiting for their dependencies");
    }
    if let Some(snapshot) = snapshot
        && let Ok(summary) = check_saved_document(&snapshot, &DocLimits::for_len(snapshot.len()))
        && summary
            .heads
            .iter()
            .all(|h| doc.get_change_meta_by_hash(h).is_some())
        && doc.get_changes_meta(&summary.heads).len() <= MAX_CHANGES_PAST_SNAPSHOT
    {
        return offer(snapshot, summary.heads);
    }
    let saved = doc.save();
    match check_saved_document(&saved, &DocLimits::for_len(saved.len())) {
        Ok(summary) => offer(saved, summary.heads),
        Err(e) => Prepared::nothing(format!("our saved group would be refused: {e}")),
    }
}

fn offer(document: Vec<u8>, mut heads: Vec<ChangeHash>) -> Prepared {
    heads.sort();
    Prepared {
        offer: Offer::Document {
            len: document.len() as u64,
            heads,
        },
        document,
        signatures: Vec::new(),
    }
}

/// The joiner's side: the pieces of an offered document, gathered.
#[derive(Debug)]
pub struct Assembly {
    len: u64,
    heads: Vec<ChangeHash>,
    bytes: Vec<u8>,
}

impl Assembly {
    /// Gathers a document of `len` bytes (at most [`MAX_SAVED_BYTES`], as the offer decoder
    /// checked) with `heads`.
    pub fn new(len: u64, heads: Vec<ChangeHash>) -> Self {
        Assembly {
            len,
            heads,
            bytes: Vec::new(),
        }
    }

    /// Takes one piece frame; returns whether the document is complete.
    pub fn push(&mut self, frame: &[u8]) -> Result<bool, BadBootstrap> {
        let piece = decode_piece(frame)?;
        let total = (self.bytes.len() as u64).saturating_add(piece.len() as u64);
        if total > self.len || total > MAX_SAVED_BYTES as u64 {
            return Err(BadBootstrap::PastEnd { len: self.len });
        }
        self.bytes.extend_from_slice(piece);
        Ok(total == self.len)
    }

    /// The document and its offered heads.
    pub fn finish(self) -> (Vec<u8>, Vec<ChangeHash>) {
        (self.bytes, self.heads)
    }
}

/// Loads the saved `document` offered with `heads` as the first copy of `group`, acting as
/// `actor`, or says why not. Nothing reaches automerge before the walk has bounded it, and
/// nothing is written anywhere.
pub fn load(
    document: &[u8],
    heads: &[ChangeHash],
    group: GroupId,
    actor: ActorId,
) -> Result<Automerge, BadBootstrap> {
    let summary = check_saved_document(document, &DocLimits::for_len(document.len()))?;
    same_heads(heads, &summary.heads)?;
    let loaded = catch_unwind(AssertUnwindSafe(|| Automerge::load(document)))
        .map_err(|_| BadBootstrap::Panicked)?
        .map_err(|e| BadBootstrap::Load(e.to_string()))?;
    same_heads(heads, &loaded.get_heads())?;
    doc::check_schema(&loaded).map_err(|e| BadBootstrap::NotAGroup(e.to_string()))?;
    let info = doc::read_info(&loaded).map_err(|e| BadBootstrap::NotAGroup(e.to_string()))?;
    if info.id != group {
        return Err(BadBootstrap::OtherGroup {
            found: info.id.short(),
            expected: group.short(),
        });
    }
    check_sequences(&loaded)?;
    Ok(loaded.with_actor(actor))
}

fn same_heads(offered: &[ChangeHash], found: &[ChangeHash]) -> Result<(), BadBootstrap> {
    let mut a = offered.to_vec();
    let mut b = found.to_vec();
    a.sort();
    b.sort();
    if a == b {
        return Ok(());
    }
    let short = |heads: &[ChangeHash]| {
        heads
            .iter()
            .map(|h| h.to_string()[..8].to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(BadBootstrap::Heads {
        offered: short(&a),
        found: short(&b),
    })
}

/// Each actor's changes must be numbered 1, 2, 3, … without gaps, and only the first may carry
/// an author: what `sync_check` requires of the changes a peer sends, and what automerge
/// asserts as it adds changes to its graph later.
fn check_sequences(doc: &Automerge) -> Result<(), BadBootstrap> {
    let mut seqs: HashMap<ActorId, Vec<u64>> = HashMap::new();
    for meta in doc.get_changes_meta(&[]) {
        if meta.author.is_some() && meta.seq != 1 {
            return Err(BadBootstrap::Sequence {
                actor: meta.actor.to_hex_string(),
                seq: meta.seq,
                expected: 1,
            });
        }
        seqs.entry(meta.actor.into_owned())
            .or_default()
            .push(meta.seq);
    }
    for (actor, mut seqs) in seqs {
        seqs.sort_unstable();
        for (expected, seq) in (1u64..).zip(seqs) {
            if seq != expected {
                return Err(BadBootstrap::Sequence {
                    actor: actor.to_hex_string(),
                    seq,
                    expected,
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
