//! Two documents syncing in memory, no network and no disk, two ways:
//!
//! * [`Checked`]: through [`PeerSession`] with everything a node checks: each frame's shape,
//!   every change's signature (our own signed as we send them) and the group's rules, judged
//!   by an [`Authority`] at each change's own past.
//! * [`Raw`]: automerge's sync protocol alone (`generate_sync_message` and
//!   `receive_sync_message` on the same documents, v1 messages as sessions send them): the
//!   floor without the checks, what the sync path cost before changes were signed and judged.

use anyhow::{bail, ensure};
use automerge::Automerge;
use automerge::sync::{Message, State, SyncDoc};
use iroh_base::SecretKey;
use quire_store::DeviceId;
use quire_store::authority::Authority;
use quire_store::signatures::SignatureBook;
use quire_sync::session::{PeerSession, Voucher};
use quire_sync::sync_check::Limits;

/// Bytes the frame layer adds to each sync message (its length prefix); the nodes' traffic
/// counters include it, so the in-memory exchanges count it too.
const FRAME_PREFIX: usize = 4;

/// One side of an in-memory sync.
pub(super) trait Side {
    /// The side's document.
    fn doc(&self) -> &Automerge;
    /// The same, to edit.
    fn doc_mut(&mut self) -> &mut Automerge;
    /// The frames for the peer, if there is anything to say.
    fn send(&mut self) -> anyhow::Result<Vec<Vec<u8>>>;
    /// Takes one frame from the peer.
    fn take(&mut self, frame: &[u8]) -> anyhow::Result<()>;
}

/// A device's side with every check: its key, session, judge and the signatures it holds.
pub(super) struct Checked {
    doc: Automerge,
    secret: SecretKey,
    session: PeerSession,
    authority: Authority,
    book: SignatureBook,
    limits: Limits,
}

impl Checked {
    /// The side of the device of `secret`, holding `doc` and the signatures in `book`, in a
    /// fresh session with `peer`. Its judge starts from the facts at `doc`'s heads, as a node's
    /// does for the group it opens.
    pub(super) fn new(
        doc: Automerge,
        secret: SecretKey,
        peer: DeviceId,
        book: SignatureBook,
    ) -> Checked {
        let mut authority = Authority::new();
        authority.seed(&doc);
        Checked {
            doc,
            secret,
            session: PeerSession::new(peer),
            authority,
            book,
            limits: Limits::default(),
        }
    }
}

impl Side for Checked {
    fn doc(&self) -> &Automerge {
        &self.doc
    }

    fn doc_mut(&mut self) -> &mut Automerge {
        &mut self.doc
    }

    fn send(&mut self) -> anyhow::Result<Vec<Vec<u8>>> {
        let voucher = Voucher {
            secret: &self.secret,
            book: &self.book,
        };
        Ok(self.session.outgoing(&self.doc, voucher))
    }

    /// Takes the frame and applies all it lets in, turn after turn as a node would (a node
    /// serves other peers between turns; here there are none).
    fn take(&mut self, frame: &[u8]) -> anyhow::Result<()> {
        let mut settled = self.session.incoming(
            &mut self.doc,
            frame,
            &self.limits,
            &mut self.authority,
            &self.book,
        )?;
        loop {
            for (actor, sig) in std::mem::take(&mut settled.signatures) {
                self.book.record(actor, sig);
            }
            if !settled.more {
                return Ok(());
            }
            let known = self.session.known_signatures(&self.book);
            settled = self
                .session
                .resume(&mut self.doc, &mut self.authority, &known)?;
        }
    }
}

/// A side with automerge's sync state alone.
pub(super) struct Raw {
    doc: Automerge,
    state: State,
}

impl Raw {
    pub(super) fn new(doc: Automerge) -> Raw {
        Raw {
            doc,
            state: State::new(),
        }
    }
}

impl Side for Raw {
    fn doc(&self) -> &Automerge {
        &self.doc
    }

    fn doc_mut(&mut self) -> &mut Automerge {
        &mut self.doc
    }

    fn send(&mut self) -> anyhow::Result<Vec<Vec<u8>>> {
        Ok(self
            .doc
            .generate_sync_message(&mut self.state)
            .map(|mut msg| {
                // As sessions send them: v1 messages, changes rather than whole documents.
                msg.flags = None;
                msg.encode()
            })
            .into_iter()
            .collect())
    }

    fn take(&mut self, frame: &[u8]) -> anyhow::Result<()> {
        let msg = Message::decode(frame)?;
        self.doc.receive_sync_message(&mut self.state, msg)?;
        Ok(())
    }
}

/// Trades frames between two sides until neither has anything to say, both speaking first as
/// the nodes do on connecting. Returns the bytes sent, framed.
pub(super) fn exchange<S: Side>(a: &mut S, b: &mut S) -> anyhow::Result<usize> {
    let mut bytes = 0;
    for _ in 0..100 {
        let to_b = a.send()?;
        let to_a = b.send()?;
        if to_a.is_empty() && to_b.is_empty() {
            return Ok(bytes);
        }
        for m in to_b {
            bytes += m.len() + FRAME_PREFIX;
            b.take(&m)?;
        }
        for m in to_a {
            bytes += m.len() + FRAME_PREFIX;
            a.take(&m)?;
        }
    }
    bail!("the in-memory sides did not go quiet")
}

/// A's side sends, B's answers, until B holds every one of A's heads. The reply B sends then
/// is left for [`exchange`], as on the nodes, where it follows B's event.
pub(super) fn deliver<S: Side>(a: &mut S, b: &mut S) -> anyhow::Result<()> {
    let wanted = a.doc().get_heads();
    let arrived = |b: &S| {
        wanted
            .iter()
            .all(|h| b.doc().get_change_meta_by_hash(h).is_some())
    };
    for _ in 0..10 {
        for m in a.send()? {
            b.take(&m)?;
        }
        if arrived(b) {
            return Ok(());
        }
        for m in b.send()? {
            a.take(&m)?;
        }
    }
    ensure!(arrived(b), "the change did not arrive in 10 rounds");
    Ok(())
}
