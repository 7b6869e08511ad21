//! One peer's sync session over one group: automerge's sync state plus what we know of the
//! peer. Sans-IO: bytes in, bytes out, the caller moves them.

use automerge::sync::{ChunkList, State, SyncDoc};
use automerge::{Automerge, ChangeHash};
use quire_store::DeviceId;

use crate::seq_index::SeqIndex;
use crate::sync_check::{BadSyncMessage, Limits, check_changes_with, check_sync_message};

/// Messages whose changes add up to more than this are sent in parts (frames are capped at
/// 16 MiB).
pub const SPLIT_AT: usize = 8 * 1024 * 1024;

/// Why a peer's message was not applied. The connection is closed; our document is untouched.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The message failed our checks before automerge saw it.
    #[error("bad sync message: {0}")]
    Bad(#[from] BadSyncMessage),
    /// Automerge refused it.
    #[error("sync message refused by automerge: {0}")]
    Refused(#[from] automerge::AutomergeError),
}

/// How far apart we and a peer are, as far as we know from its last message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Distance {
    /// Same heads.
    InSync,
    /// Different heads.
    Apart {
        /// Changes we have that the peer lacks.
        they_lack: usize,
        /// Heads of the peer's that we do not have yet.
        we_lack: usize,
    },
    /// The peer has not told us its heads yet.
    Unknown,
}

/// The sync session with one peer for one group.
#[derive(Debug)]
pub struct PeerSession {
    peer: DeviceId,
    state: State,
    /// Our actors' last sequence numbers, for checking the peer's changes.
    seqs: SeqIndex,
}

impl PeerSession {
    /// A fresh session with `peer`: the first message carries our heads and a summary of
    /// what we have.
    pub fn new(peer: DeviceId) -> Self {
        PeerSession {
            peer,
            state: State::new(),
            seqs: SeqIndex::new(),
        }
    }

    /// Takes it that the peer has every change up to `heads` (it sent us a document with
    /// them), so our first message summarises only what came after.
    pub fn assume_they_have(&mut self, heads: &[ChangeHash]) {
        self.state.shared_heads = heads.to_vec();
    }

    /// The peer.
    pub fn peer(&self) -> DeviceId {
        self.peer
    }

    /// The next message for the peer, encoded, if there is anything to say. We never
    /// advertise automerge's v2 messages (whole compressed documents), so the peer sends us
    /// only plain change chunks, which we can check before automerge inflates anything.
    ///
    /// A message bigger than [`SPLIT_AT`] (the first sync of a large group) is split into
    /// several, each with the same heads and summary and a share of the changes, so no frame
    /// passes the cap; automerge holds changes whose dependencies come in a later part.
    pub fn outgoing(&mut self, doc: &Automerge) -> Vec<Vec<u8>> {
        let Some(mut msg) = doc.generate_sync_message(&mut self.state) else {
            return Vec::new();
        };
        msg.flags = None;
        let size: usize = msg.changes.iter().map(<[u8]>::len).sum();
        if size <= SPLIT_AT {
            return vec![msg.encode()];
        }
        let changes = std::mem::replace(&mut msg.changes, ChunkList::empty());
        let mut parts = Vec::new();
        let mut batch: Vec<Vec<u8>> = Vec::new();
        let mut batch_size = 0;
        for change in changes.iter() {
            if batch_size + change.len() > SPLIT_AT && !batch.is_empty() {
                parts.push(std::mem::take(&mut batch));
                batch_size = 0;
            }
            batch_size += change.len();
            batch.push(change.to_vec());
        }
        parts.push(batch);
        parts
            .into_iter()
            .map(|batch| {
                let mut part = msg.clone();
                part.changes = ChunkList::from(batch);
                part.encode()
            })
            .collect()
    }

    /// Checks and applies one message from the peer.
    pub fn incoming(
        &mut self,
        doc: &mut Automerge,
        bytes: &[u8],
        limits: &Limits,
    ) -> Result<(), PeerError> {
        let msg = check_sync_message(bytes, limits)?;
        check_changes_with(doc, &msg, &mut self.seqs)?;
        doc.receive_sync_message(&mut self.state, msg)?;
        Ok(())
    }

    /// The peer's heads, from its last message.
    pub fn their_heads(&self) -> Option<&[ChangeHash]> {
        self.state.their_heads.as_deref()
    }

    /// Whether the peer's last message named exactly our heads: [`distance`](Self::distance)'s
    /// [`Distance::InSync`] without counting anything when not.
    pub fn in_sync(&self, doc: &Automerge) -> bool {
        self.their_heads()
            .is_some_and(|theirs| same_heads(doc, theirs))
    }

    /// How far apart we are.
    pub fn distance(&self, doc: &Automerge) -> Distance {
        match self.their_heads() {
            None => Distance::Unknown,
            Some(theirs) => distance(doc, theirs),
        }
    }
}

/// Whether `theirs` are exactly `doc`'s heads, in any order.
fn same_heads(doc: &Automerge, theirs: &[ChangeHash]) -> bool {
    let mut sorted = theirs.to_vec();
    sorted.sort();
    sorted == doc.get_heads()
}

/// How far `doc` is from a peer whose heads are `theirs`.
pub fn distance(doc: &Automerge, theirs: &[ChangeHash]) -> Distance {
    if same_heads(doc, theirs) {
        return Distance::InSync;
    }
    let (known, lacking): (Vec<ChangeHash>, Vec<ChangeHash>) = theirs
        .iter()
        .copied()
        .partition(|h| doc.get_change_meta_by_hash(h).is_some());
    // Heads of theirs we lack hide what lies behind them, so this counts what we have beyond
    // the heads we share: exact when we lack nothing, an upper bound otherwise.
    let they_lack = doc.get_changes_meta(&known).len();
    Distance::Apart {
        they_lack,
        we_lack: lacking.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::{ROOT, ReadDoc};

    fn device(n: u8) -> DeviceId {
        DeviceId::from_bytes([n; 32])
    }

    fn edit(doc: &mut Automerge, key: &str) {
        let mut tx = doc.transaction();
        tx.put(ROOT, key, 1).unwrap();
        tx.commit();
    }

    /// Runs the two sessions until neither has anything to say; returns the bytes sent.
    fn converge(
        a: &mut Automerge,
        sa: &mut PeerSession,
        b: &mut Automerge,
        sb: &mut PeerSession,
    ) -> usize {
        let limits = Limits::default();
        let mut bytes = 0;
        for _ in 0..20 {
            let mut quiet = true;
            for m in sa.outgoing(a) {
                bytes += m.len();
                sb.incoming(b, &m, &limits).unwrap();
                quiet = false;
            }
            for m in sb.outgoing(b) {
                bytes += m.len();
                sa.incoming(a, &m, &limits).unwrap();
                quiet = false;
            }
            if quiet {
                return bytes;
            }
        }
        panic!("sessions did not go quiet");
    }

    #[test]
    fn two_sessions_converge_and_report_in_sync() {
        let mut a = Automerge::new();
        let mut b = Automerge::new();
        edit(&mut a, "a");
        edit(&mut b, "b");
        let mut sa = PeerSession::new(device(2));
        let mut sb = PeerSession::new(device(1));
        assert_eq!(sa.distance(&a), Distance::Unknown);
        converge(&mut a, &mut sa, &mut b, &mut sb);
        assert_eq!(a.get_heads(), b.get_heads());
        assert!(b.get(ROOT, "a").unwrap().is_some());
        assert_eq!(sa.distance(&a), Distance::InSync);
        assert_eq!(sb.distance(&b), Distance::InSync);
        edit(&mut a, "c");
        assert_eq!(
            sa.distance(&a),
            Distance::Apart {
                they_lack: 1,
                we_lack: 0
            }
        );
    }

    #[test]
    fn a_message_past_the_frame_cap_goes_in_parts_and_still_converges() {
        let mut a = Automerge::new();
        let big = "x".repeat(1024 * 1024);
        for i in 0..20 {
            let mut tx = a.transaction();
            tx.put(ROOT, format!("k{i}"), big.as_str()).unwrap();
            tx.commit();
        }
        let mut b = Automerge::new();
        let mut sa = PeerSession::new(device(2));
        let mut sb = PeerSession::new(device(1));
        let limits = Limits::default();
        let mut largest = 0;
        let mut parts = 0;
        for _ in 0..20 {
            let mut quiet = true;
            for m in sa.outgoing(&a) {
                largest = largest.max(m.len());
                parts += 1;
                sb.incoming(&mut b, &m, &limits).unwrap();
                quiet = false;
            }
            for m in sb.outgoing(&b) {
                sa.incoming(&mut a, &m, &limits).unwrap();
                quiet = false;
            }
            if quiet {
                break;
            }
        }
        assert_eq!(a.get_heads(), b.get_heads());
        assert!(
            largest <= crate::frame::MAX_FRAME,
            "largest frame {largest}"
        );
        assert!(parts >= 3, "20 MiB of changes went in {parts} messages");
    }

    #[test]
    fn messages_we_send_never_advertise_v2() {
        let mut a = Automerge::new();
        edit(&mut a, "a");
        let mut sa = PeerSession::new(device(2));
        let m = sa.outgoing(&a).remove(0);
        assert_eq!(m[0], 0x42, "a v1 sync message");
        let decoded = automerge::sync::Message::decode(&m).unwrap();
        assert!(decoded.flags.is_none());
    }

    #[test]
    fn garbage_leaves_the_document_untouched() {
        let mut a = Automerge::new();
        edit(&mut a, "a");
        let heads = a.get_heads();
        let mut sa = PeerSession::new(device(2));
        let err = sa
            .incoming(&mut a, &[0x42, 0xff, 0xff, 0xff], &Limits::default())
            .unwrap_err();
        assert!(matches!(err, PeerError::Bad(_)), "{err}");
        assert_eq!(a.get_heads(), heads);
    }
}
