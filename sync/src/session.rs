//! One peer's sync session over one group: automerge's sync state plus what we know of the
//! peer. Sans-IO: bytes in, bytes out, the caller moves them.
//!
//! A frame from the peer goes through three gates before any of it reaches our document:
//! its shape ([`check_sync_message`], [`check_changes_with`]: nothing automerge chokes on),
//! its signatures (each change vouched for by its actor's device, see [`crate::signing`]),
//! and the group's rules ([`Authority`](quire_store::authority::Authority), judged at each change's own past). Changes that
//! cannot pass yet, for want of a dependency or a signature, are held ([`Held`], bounded);
//! the first change that fails a gate ends the session, and nothing after it is applied.

use std::collections::{HashMap, HashSet};

use automerge::sync::{ChunkList, Message, State, SyncDoc};
use automerge::{ActorId, Automerge, Change, ChangeHash};
use iroh::SecretKey;
use quire_store::DeviceId;
use quire_store::authority::{ChangeJudge, Judge, Refusal};
use quire_store::signatures::{ChangeSignature, SignatureBook};

use crate::envelope::{self, BadFrame, Offered};
use crate::held::{Held, TooMuchHeld};
use crate::seq_index::SeqIndex;
use crate::signing::{sign_change, verify_change};
use crate::sync_check::{BadSyncMessage, Limits, check_changes_with, check_sync_message};

/// Messages whose changes add up to more than this are sent in parts (frames are capped at
/// 16 MiB).
pub const SPLIT_AT: usize = 8 * 1024 * 1024;

/// Most signatures offered for changes we have not seen that one session keeps.
const MAX_OFFERED: usize = 200_000;

/// Why a peer's message was not applied. The connection is closed; nothing of the message
/// from the failing change on was applied.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The frame around the message is malformed.
    #[error("bad frame: {0}")]
    Frame(#[from] BadFrame),
    /// The message failed our checks before automerge saw it.
    #[error("bad sync message: {0}")]
    Bad(#[from] BadSyncMessage),
    /// Automerge refused it.
    #[error("sync message refused by automerge: {0}")]
    Refused(#[from] automerge::AutomergeError),
    /// A signature that is not its change's actor's over that change.
    #[error("change {change} carries a signature that is not its device's")]
    BadSignature {
        /// The change.
        change: ChangeHash,
    },
    /// A change nothing vouches for.
    #[error("change {change} is not signed by its device {device}")]
    Unsigned {
        /// The change.
        change: ChangeHash,
        /// The device its actor names (or the actor, if it names none).
        device: String,
    },
    /// A change the group's rules refuse.
    #[error("{0}")]
    Forbidden(#[from] Refusal),
    /// Too much waiting for what never came.
    #[error("{0}")]
    Held(#[from] TooMuchHeld),
    /// A frame of a document this session does not share with the peer.
    #[error("frame of the {document}, which is not shared with this peer")]
    NotShared {
        /// The document the frame named.
        document: quire_store::documents::DocumentId,
    },
}

impl PeerError {
    /// The refusal, if the rules refused a change.
    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            PeerError::Forbidden(r) => Some(r),
            _ => None,
        }
    }
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

/// Who we are when we vouch for changes we send.
#[derive(Debug, Clone, Copy)]
pub struct Voucher<'a> {
    /// This device's secret key: it signs this device's changes.
    pub secret: &'a SecretKey,
    /// The signatures we hold for everyone else's changes.
    pub book: &'a SignatureBook,
}

/// Most held changes one call judges: a peer with a great many waits for its next turn, so
/// the other peers' messages are not stuck behind it. What a turn judged is applied at its
/// end as far as a signature over a change judged with it vouches for it, the rest on a
/// later turn.
pub const PER_TURN: usize = 512;
/// Every this many changes of its own in a frame, a device signs one more (beside its newest),
/// so that what a receiver judged in a turn of [`PER_TURN`] changes is applied in that turn.
const CHECKPOINT: u64 = (PER_TURN / 4) as u64;

/// What a settled message did.
#[derive(Debug, Default)]
pub struct Settled {
    /// Changes applied.
    pub applied: usize,
    /// Whether more held changes are ready: call [`PeerSession::resume`] on a later turn.
    pub more: bool,
    /// Signatures that now vouch for applied changes, to keep with them.
    pub signatures: Vec<(ActorId, ChangeSignature)>,
}

/// The sync session with one peer for one group.
#[derive(Debug)]
pub struct PeerSession {
    peer: DeviceId,
    state: State,
    /// Our actors' last sequence numbers, for checking the peer's changes.
    seqs: SeqIndex,
    /// Changes waiting for a dependency or a signature.
    held: Held,
    /// Signatures offered for changes we have not seen yet.
    offered: HashMap<ChangeHash, [u8; 64]>,
    /// The heads of the peer's last message.
    their_last_heads: Vec<ChangeHash>,
    /// Signatures vouching for changes applied before a change that failed.
    unclaimed: Vec<(ActorId, ChangeSignature)>,
    /// Verified signatures over held changes, by actor and number.
    vouchers: HashMap<ActorId, std::collections::BTreeMap<u64, ChangeSignature>>,
    /// Who this session is to the authority that judges its changes.
    judge: Judge,
    /// Changes judged on an earlier turn and not applied yet: nothing judged so far is
    /// vouched for by a signature over a change judged with it.
    judging: Judging,
}

/// Changes a session judged and has not applied yet, in the order judged.
#[derive(Debug, Default)]
struct Judging {
    batch: Vec<Change>,
    in_batch: HashSet<ChangeHash>,
    /// Each actor's last sequence number, counting the batch.
    last_seq: HashMap<ActorId, u64>,
}

/// The next session's [`Judge`] (`0` is [`quire_store::authority::Authority::judge`]'s).
static NEXT_JUDGE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl PeerSession {
    /// A fresh session with `peer`: the first message carries our heads and a summary of
    /// what we have.
    pub fn new(peer: DeviceId) -> Self {
        PeerSession {
            peer,
            state: State::new(),
            seqs: SeqIndex::new(),
            held: Held::default(),
            offered: HashMap::new(),
            their_last_heads: Vec::new(),
            unclaimed: Vec::new(),
            vouchers: HashMap::new(),
            judge: NEXT_JUDGE.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            judging: Judging::default(),
        }
    }

    /// Who this session is to the authority that judges its changes: tell it
    /// [`Authority::done`](quire_store::authority::Authority::done) with this when the session ends, so it forgets what the session
    /// judged and never applied.
    pub fn judge(&self) -> Judge {
        self.judge
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

    /// Changes held back, waiting for a dependency or a signature.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// The next frames for the peer, if there is anything to say. We never advertise
    /// automerge's v2 messages (whole compressed documents), so the peer sends us only plain
    /// change chunks, which we can check before automerge inflates anything. Each frame
    /// carries, for every actor whose changes it holds, a signature over that actor's newest
    /// change we have: our own device's made now, everyone else's from `voucher.book`.
    ///
    /// A message bigger than [`SPLIT_AT`] (the first sync of a large group) is split into
    /// several, each with the same heads and summary and a share of the changes, so no frame
    /// passes the cap; the peer holds changes whose dependencies come in a later part.
    pub fn outgoing(&mut self, doc: &Automerge, voucher: Voucher<'_>) -> Vec<Vec<u8>> {
        let Some(mut msg) = doc.generate_sync_message(&mut self.state) else {
            return Vec::new();
        };
        msg.flags = None;
        // Ask for what held changes wait on, which automerge does not know we lack.
        for hash in self.held.missing(doc) {
            if !msg.need.contains(&hash) {
                msg.need.push(hash);
            }
        }
        msg.need.sort();
        let size: usize = msg.changes.iter().map(<[u8]>::len).sum();
        if size <= SPLIT_AT {
            let sigs = vouch_held(doc, msg.changes.iter(), voucher);
            return vec![envelope::encode(&msg.encode(), &sigs)];
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
                let sigs = vouch_held(doc, batch.iter().map(Vec::as_slice), voucher);
                let mut part = msg.clone();
                part.changes = ChunkList::from(batch);
                envelope::encode(&part.encode(), &sigs)
            })
            .collect()
    }

    /// Checks and applies one frame from the peer, judging each change by `authority`;
    /// `book` supplies signatures we hold already.
    pub fn incoming(
        &mut self,
        doc: &mut Automerge,
        bytes: &[u8],
        limits: &Limits,
        authority: &mut dyn ChangeJudge,
        book: &SignatureBook,
    ) -> Result<Settled, PeerError> {
        let msg = self.receive(doc, bytes, limits)?;
        let known = self.known_signatures(book);
        self.settle(doc, msg, authority, &known)
    }

    /// The first half of [`incoming`](Self::incoming): checks a frame and holds its changes.
    /// Returns the sync message for [`settle`](Self::settle).
    pub fn receive(
        &mut self,
        doc: &Automerge,
        bytes: &[u8],
        limits: &Limits,
    ) -> Result<Message, PeerError> {
        let (message, offered) = envelope::decode(bytes)?;
        let mut msg = check_sync_message(message, limits)?;
        check_changes_with(doc, &msg, &mut self.seqs)?;
        for chunk in std::mem::replace(&mut msg.changes, ChunkList::empty()).iter() {
            // Every chunk passed the checks above, which parse it the same way.
            let Ok(change) = Change::try_from(chunk) else {
                continue;
            };
            if doc.get_change_meta_by_hash(&change.hash()).is_none() {
                self.held.hold(change)?;
            }
        }
        for (hash, sig) in offered {
            // A signature over a change we hold already vouches for nothing new.
            if doc.get_change_meta_by_hash(&hash).is_some() {
                continue;
            }
            if self.offered.len() >= MAX_OFFERED && !self.offered.contains_key(&hash) {
                return Err(TooMuchHeld {
                    changes: self.offered.len() + 1,
                    bytes: 0,
                    max_changes: MAX_OFFERED,
                    max_bytes: 0,
                }
                .into());
            }
            self.offered.insert(hash, sig);
        }
        Ok(msg)
    }

    /// After an error: the signatures that vouch for what was applied before the failing
    /// change, to keep with those changes.
    pub fn take_signatures(&mut self) -> Vec<(ActorId, ChangeSignature)> {
        std::mem::take(&mut self.unclaimed)
    }

    /// The signatures in `book` of the actors whose changes wait here.
    pub fn known_signatures(&self, book: &SignatureBook) -> HashMap<ActorId, ChangeSignature> {
        let mut known = HashMap::new();
        for change in self.held.iter() {
            let actor = change.actor_id();
            if !known.contains_key(actor)
                && let Some(sig) = book.newest(actor)
            {
                known.insert(actor.clone(), *sig);
            }
        }
        known
    }

    /// The second half of [`incoming`](Self::incoming): applies, one by one and in causal
    /// order, every held change whose past we hold and that a signature vouches for, once
    /// `authority` accepts it; then lets automerge take in the rest of `msg`.
    pub fn settle(
        &mut self,
        doc: &mut Automerge,
        msg: Message,
        authority: &mut dyn ChangeJudge,
        known: &HashMap<ActorId, ChangeSignature>,
    ) -> Result<Settled, PeerError> {
        self.settle_all(doc, vec![msg], authority, known)
    }

    /// [`settle`](Self::settle) for the messages of several frames [`receive`](Self::receive)d
    /// in turn: automerge takes each message's heads and summary in order, then what they
    /// brought is judged and applied as one batch.
    pub fn settle_all(
        &mut self,
        doc: &mut Automerge,
        messages: Vec<Message>,
        authority: &mut dyn ChangeJudge,
        known: &HashMap<ActorId, ChangeSignature>,
    ) -> Result<Settled, PeerError> {
        let before = doc.get_heads();
        // automerge takes each message's heads and summary first, with its changes taken
        // out: given the changes we apply ourselves, it would count the message as an
        // acknowledgement of heads it has not seen yet.
        for msg in messages {
            let their_heads = msg.heads.clone();
            doc.receive_sync_message(&mut self.state, msg)?;
            self.their_last_heads = their_heads;
        }
        self.resume_from(doc, &before, authority, known)
    }

    /// Applies more of what is held, after a [`Settled`] that said there is more.
    pub fn resume(
        &mut self,
        doc: &mut Automerge,
        authority: &mut dyn ChangeJudge,
        known: &HashMap<ActorId, ChangeSignature>,
    ) -> Result<Settled, PeerError> {
        let before = doc.get_heads();
        self.resume_from(doc, &before, authority, known)
    }

    fn resume_from(
        &mut self,
        doc: &mut Automerge,
        before: &[ChangeHash],
        authority: &mut dyn ChangeJudge,
        known: &HashMap<ActorId, ChangeSignature>,
    ) -> Result<Settled, PeerError> {
        let mut settled = Settled::default();
        if !self.held.is_empty() {
            self.apply_held(doc, authority, known, &mut settled)?;
        }
        if settled.applied > 0 {
            let theirs = self.their_last_heads.clone();
            self.advance_shared_heads(doc, before, theirs);
        }
        Ok(settled)
    }

    /// Of the changes of a batch, those a verified signature over a change of the batch
    /// vouches for, and the rest: the signature that covered a change may be over one after
    /// it that cannot be applied now (or ever), and a change we keep is one we must be able to
    /// vouch for to others. What depends on a change left out is left out.
    fn vouched_prefix(&self, batch: Vec<Change>) -> (Vec<Change>, Vec<Change>) {
        let kept = self.vouched_in(&batch);
        batch
            .into_iter()
            .partition(|change| kept.contains(&change.hash()))
    }

    /// The changes of `batch` [`vouched_prefix`](Self::vouched_prefix) keeps.
    fn vouched_in(&self, batch: &[Change]) -> HashSet<ChangeHash> {
        // Leaving a change out may leave out the signed change that vouched for others, so
        // this runs until nothing more is left out.
        let mut kept: HashMap<ChangeHash, &Change> = batch.iter().map(|c| (c.hash(), c)).collect();
        loop {
            let vouched = self.vouched_within(&kept);
            let mut dropped: HashSet<ChangeHash> = HashSet::new();
            for change in batch.iter().filter(|c| kept.contains_key(&c.hash())) {
                if !vouched.contains(&change.hash())
                    || change.deps().iter().any(|d| dropped.contains(d))
                {
                    dropped.insert(change.hash());
                }
            }
            if dropped.is_empty() {
                return kept.into_keys().collect();
            }
            kept.retain(|hash, _| !dropped.contains(hash));
        }
    }

    /// The held changes a verified signature vouches for: each signed change whose whole past
    /// is here, and the changes of its actor found walking back from it through held changes.
    fn vouched(&self) -> HashSet<ChangeHash> {
        let held: HashMap<ChangeHash, &Change> = self.held.iter().map(|c| (c.hash(), c)).collect();
        self.vouched_within(&held)
    }

    /// [`vouched`](Self::vouched) among `changes`.
    fn vouched_within(&self, changes: &HashMap<ChangeHash, &Change>) -> HashSet<ChangeHash> {
        let mut vouched = HashSet::new();
        for (actor, sigs) in &self.vouchers {
            // Walks from each signature, newest first, through what no walk has seen yet.
            let mut seen = HashSet::new();
            let mut stack: Vec<ChangeHash> = sigs.values().map(|sig| sig.hash).collect();
            while let Some(hash) = stack.pop() {
                let Some(change) = changes.get(&hash) else {
                    continue;
                };
                if !seen.insert(hash) {
                    continue;
                }
                if change.actor_id() == actor {
                    vouched.insert(hash);
                }
                stack.extend(change.deps().iter().copied());
            }
        }
        vouched
    }

    /// Lets go of held changes that reached the document another way (another peer).
    fn release_what_we_hold(&mut self, doc: &Automerge) {
        let duplicates: Vec<ChangeHash> = self
            .held
            .iter()
            .map(Change::hash)
            .filter(|h| doc.get_change_meta_by_hash(h).is_some())
            .collect();
        for hash in duplicates {
            self.held.release(&hash);
        }
        self.offered
            .retain(|hash, _| doc.get_change_meta_by_hash(hash).is_none());
    }

    /// What automerge does with the heads we share after it applied a message's changes.
    fn advance_shared_heads(
        &mut self,
        doc: &Automerge,
        before: &[ChangeHash],
        mut their_heads: Vec<ChangeHash>,
    ) {
        if their_heads
            .iter()
            .all(|h| doc.get_change_meta_by_hash(h).is_some())
        {
            their_heads.sort();
            self.state.shared_heads = their_heads;
            return;
        }
        let after = doc.get_heads();
        let mut shared: Vec<ChangeHash> = after
            .iter()
            .filter(|h| !before.contains(h))
            .chain(self.state.shared_heads.iter().filter(|h| after.contains(h)))
            .copied()
            .collect();
        shared.sort();
        shared.dedup();
        self.state.shared_heads = shared;
    }

    fn apply_held(
        &mut self,
        doc: &mut Automerge,
        authority: &mut dyn ChangeJudge,
        known: &HashMap<ActorId, ChangeSignature>,
        settled: &mut Settled,
    ) -> Result<(), PeerError> {
        self.release_what_we_hold(doc);
        let complete = self.held.complete(doc);
        // What vouches for each actor's changes: the newest signature we hold, and those
        // offered over changes whose whole past is here, each checked against its device.
        let offered: Vec<Offered> = self.offered.iter().map(|(h, s)| (*h, *s)).collect();
        for (hash, sig) in offered {
            let (actor, seq) = if let Some(change) = self.held.get(&hash) {
                if !complete.contains(&hash) {
                    continue;
                }
                (change.actor_id().clone(), change.seq())
            } else if let Some(meta) = doc.get_change_meta_by_hash(&hash) {
                (meta.actor.into_owned(), meta.seq)
            } else {
                continue;
            };
            self.offered.remove(&hash);
            let device = quire_store::device_of_actor(&actor);
            if !device.is_some_and(|d| verify_change(d, &hash, &sig)) {
                return Err(PeerError::BadSignature { change: hash });
            }
            self.vouchers.entry(actor).or_default().insert(
                seq,
                ChangeSignature {
                    hash,
                    seq,
                    signature: sig,
                },
            );
        }
        // A signature vouches for its change and for that actor's changes in its past, found
        // by walking back from it, never for another change that merely has a lower number
        // (a forgery under the same actor may carry one).
        let vouched = self.vouched();
        self.seqs.catch_up(doc);
        // Held changes arrived in causal order, so one pass judges a chain; another pass picks
        // up what an earlier one left waiting for a later arrival. A turn judges at most
        // PER_TURN changes, then gives the other peers theirs; what it judged waits in
        // `judging` (its ops pending with `authority`) for the next. What passes is applied
        // in one call (automerge applies a batch far faster than one at a time), including
        // everything before a change that fails.
        let mut judging = std::mem::take(&mut self.judging);
        let mut judged_now = 0;
        let judged: Result<(), PeerError> = 'passes: loop {
            let mut progress = false;
            let order: Vec<ChangeHash> = self.held.iter().map(Change::hash).collect();
            for hash in order {
                let applicable = self.held.get(&hash).is_some_and(|c| {
                    c.deps().iter().all(|d| {
                        judging.in_batch.contains(d) || doc.get_change_meta_by_hash(d).is_some()
                    }) && vouched.contains(&c.hash())
                });
                if !applicable {
                    continue;
                }
                if judged_now >= PER_TURN {
                    settled.more = true;
                    break 'passes Ok(());
                }
                let Some(change) = self.held.release(&hash) else {
                    continue;
                };
                let actor = change.actor_id().clone();
                let last = *judging
                    .last_seq
                    .entry(actor.clone())
                    .or_insert_with(|| self.seqs.last_seq(&actor));
                if change.seq() != last + 1 {
                    break 'passes Err(BadSyncMessage::ChangeSequence {
                        index: 0,
                        seq: change.seq(),
                        expected: last + 1,
                    }
                    .into());
                }
                if let Err(refusal) = authority.judge_for(self.judge, doc, &change) {
                    break 'passes Err(refusal.into());
                }
                judging.last_seq.insert(actor, last + 1);
                judging.in_batch.insert(hash);
                judging.batch.push(change);
                judged_now += 1;
                progress = true;
            }
            if !progress {
                break Ok(());
            }
        };
        // Only what a signature over a change applied with it vouches for is applied: the
        // signature that covers a change may be over one not judged yet (a later turn
        // applies both), over one that cannot be applied now (it waits for more), or over
        // one after a refused or unsigned change, and a change we keep is one we must be
        // able to vouch for to others. The rest waits for a later turn, goes back to wait
        // for more, or after a refusal is dropped.
        let (mut batch, waiting) = self.vouched_prefix(std::mem::take(&mut judging.batch));
        match &judged {
            Ok(()) if settled.more => {
                // Judged, and still building on each other: applied once a later turn has
                // judged what vouches for them. With none left, the next turn starts afresh.
                if !waiting.is_empty() {
                    judging.in_batch = waiting.iter().map(Change::hash).collect();
                    judging.batch = waiting;
                    self.judging = judging;
                }
            }
            Ok(()) => {
                for change in waiting {
                    // Released from `held` above, so there is room for it again.
                    let _ = self.held.hold(change);
                }
            }
            Err(_) => {}
        }
        batch.retain(|c| doc.get_change_meta_by_hash(&c.hash()).is_none());
        settled.applied = batch.len();
        let applied = match doc.apply_changes(batch) {
            Ok(()) => judged,
            Err(e) => Err(e.into()),
        };
        if self.judging.batch.is_empty() {
            // Everything it judged is applied, or dropped to be judged again if it comes back.
            authority.done(self.judge);
        }
        // Keep, for each actor, the newest verified signature over a change we now hold (it
        // vouches for all of that actor's changes we hold); the rest wait for their changes.
        for (actor, sigs) in &mut self.vouchers {
            let newest_held = sigs
                .values()
                .rev()
                .find(|sig| doc.get_change_meta_by_hash(&sig.hash).is_some())
                .copied();
            if let Some(sig) = newest_held {
                sigs.retain(|seq, _| *seq > sig.seq);
                if known.get(actor).is_none_or(|k| k.seq < sig.seq) {
                    settled.signatures.push((actor.clone(), sig));
                }
            }
        }
        self.vouchers.retain(|_, sigs| !sigs.is_empty());
        // What came before a failing change is kept, with what vouches for it; the caller
        // takes those signatures with `take_signatures`.
        if let Err(e) = applied {
            self.unclaimed = std::mem::take(&mut settled.signatures);
            return Err(e);
        }
        // A change whose whole past is here but that nothing vouches for, when nothing
        // offered could still vouch for it, is unsigned.
        if !settled.more
            && self.offered.is_empty()
            && let Some(change) = self
                .held
                .iter()
                .find(|c| complete.contains(&c.hash()) && !vouched.contains(&c.hash()))
        {
            let actor = change.actor_id();
            self.unclaimed = std::mem::take(&mut settled.signatures);
            return Err(PeerError::Unsigned {
                change: change.hash(),
                device: quire_store::device_of_actor(actor)
                    .map_or_else(|| actor.to_string(), |d| d.short()),
            });
        }
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

/// The signatures that vouch for `changes`: for each actor among them, one over its newest
/// change: this device's own signed now (its newest in `changes` vouches for the rest), every
/// other actor's newest that we hold a signature for.
fn vouch<'a>(changes: impl Iterator<Item = &'a [u8]>, voucher: Voucher<'_>) -> Vec<Offered> {
    let me = DeviceId::from_bytes(*voucher.secret.public().as_bytes());
    let mut newest: HashMap<ActorId, (u64, ChangeHash)> = HashMap::new();
    let mut sigs = Vec::new();
    for chunk in changes {
        if let Ok(change) = Change::try_from(chunk) {
            // Our own long runs are signed along the way too, so a receiver can apply them a
            // turn at a time, each turn ending on a signed change.
            if change.seq().is_multiple_of(CHECKPOINT)
                && quire_store::device_of_actor(change.actor_id()) == Some(me)
            {
                sigs.push((change.hash(), sign_change(voucher.secret, &change.hash())));
            }
            let entry = newest
                .entry(change.actor_id().clone())
                .or_insert((0, change.hash()));
            if change.seq() >= entry.0 {
                *entry = (change.seq(), change.hash());
            }
        }
    }
    for (actor, (seq, hash)) in newest {
        if quire_store::device_of_actor(&actor) == Some(me) {
            if seq.is_multiple_of(CHECKPOINT) {
                continue;
            }
            sigs.push((hash, sign_change(voucher.secret, &hash)));
        } else if let Some(sig) = voucher.book.newest(&actor) {
            sigs.push((sig.hash, sig.signature));
        }
    }
    sigs
}

/// [`vouch`], offering only signatures over changes `doc` holds: a peer asks for a change a
/// signature names, and we could not send it one we lack.
fn vouch_held<'a>(
    doc: &Automerge,
    changes: impl Iterator<Item = &'a [u8]>,
    voucher: Voucher<'_>,
) -> Vec<Offered> {
    let mut sigs = vouch(changes, voucher);
    sigs.retain(|(hash, _)| doc.get_change_meta_by_hash(hash).is_some());
    sigs
}

#[cfg(test)]
mod tests {
    use automerge::ROOT;
    use automerge::transaction::Transactable;
    use quire_store::authority::Authority;
    use quire_store::ops::{self, InviteSpec, Joiner};
    use quire_store::{InviteHash, MemberId, doc, session_actor};

    use super::*;

    /// A device with a real key.
    struct Dev {
        secret: SecretKey,
        id: DeviceId,
    }

    fn dev(n: u8) -> Dev {
        let secret = SecretKey::from_bytes(&[n; 32]);
        let id = DeviceId::from_bytes(*secret.public().as_bytes());
        Dev { secret, id }
    }

    fn member(n: u8) -> MemberId {
        MemberId::from_bytes([n; 16])
    }

    fn now() -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_800_000_000).unwrap()
    }

    /// Ann (device 1) founds a group and lets Bea (device 2) in by invite; returns Ann's and
    /// Bea's copies, each writing as its own device.
    fn group() -> (Automerge, Automerge) {
        let (ann, bea) = (dev(1), dev(2));
        let new = ops::NewGroup {
            id: quire_store::GroupId::from_bytes([9; 16]),
            name: "Tuesday".into(),
            description: String::new(),
            rules: Default::default(),
            founder: ops::NewMember {
                id: member(1),
                display_name: "Ann".into(),
                device: ann.id,
                device_label: "laptop".into(),
            },
        };
        let mut a = ops::create_group(new, session_actor(ann.id), now()).unwrap();
        let spec = InviteSpec {
            hash: InviteHash::from_bytes([5; 32]),
            expires_at: now() + jiff::SignedDuration::from_hours(1),
            max_uses: 1,
            kind: quire_store::model::InviteKind::Member,
        };
        ops::create_invite(&mut a, member(1), spec, now()).unwrap();
        let joiner = Joiner {
            device: bea.id,
            device_label: "phone".into(),
            new_member: Some((member(2), "Bea".into())),
        };
        ops::redeem_invite(&mut a, InviteHash::from_bytes([5; 32]), joiner, now()).unwrap();
        let mut b = a.fork();
        b.set_actor(session_actor(bea.id));
        (a, b)
    }

    fn bio(doc: &mut Automerge, who: u8, text: &str) {
        let patch = doc::ProfilePatch {
            bio: Some(text.into()),
            ..Default::default()
        };
        ops::update_profile(doc, member(who), patch, now()).unwrap();
    }

    /// One side of a sync: a device's document, session, judge and signatures.
    struct Side {
        dev: Dev,
        doc: Automerge,
        session: PeerSession,
        authority: Authority,
        book: SignatureBook,
    }

    impl Side {
        fn new(n: u8, doc: Automerge, peer: u8) -> Side {
            let mut authority = Authority::new();
            authority.seed(&doc);
            Side {
                dev: dev(n),
                doc,
                session: PeerSession::new(dev(peer).id),
                authority,
                book: SignatureBook::new(),
            }
        }

        fn send(&mut self) -> Vec<Vec<u8>> {
            let voucher = Voucher {
                secret: &self.dev.secret,
                book: &self.book,
            };
            self.session.outgoing(&self.doc, voucher)
        }

        fn take(&mut self, frame: &[u8]) -> Result<Settled, PeerError> {
            let settled = self.session.incoming(
                &mut self.doc,
                frame,
                &Limits::default(),
                &mut self.authority,
                &self.book,
            )?;
            for (actor, sig) in &settled.signatures {
                self.book.record(actor.clone(), *sig);
            }
            Ok(settled)
        }
    }

    /// Runs both sides until neither has anything to say; returns the frames sent.
    fn converge(a: &mut Side, b: &mut Side) -> usize {
        let mut frames = 0;
        for _ in 0..30 {
            let mut quiet = true;
            for m in a.send() {
                frames += 1;
                b.take(&m).unwrap();
                quiet = false;
            }
            for m in b.send() {
                frames += 1;
                a.take(&m).unwrap();
                quiet = false;
            }
            if quiet {
                return frames;
            }
        }
        panic!("sessions did not go quiet");
    }

    fn pair() -> (Side, Side) {
        let (a, b) = group();
        (Side::new(1, a, 2), Side::new(2, b, 1))
    }

    #[test]
    fn two_sessions_converge_and_report_in_sync() {
        let (mut a, mut b) = pair();
        bio(&mut a.doc, 1, "a");
        bio(&mut b.doc, 2, "b");
        assert_eq!(a.session.distance(&a.doc), Distance::Unknown);
        converge(&mut a, &mut b);
        assert_eq!(a.doc.get_heads(), b.doc.get_heads());
        assert_eq!(a.session.distance(&a.doc), Distance::InSync);
        assert_eq!(b.session.distance(&b.doc), Distance::InSync);
        // Each kept the signature that vouches for the other's change, to relay it.
        assert_eq!(a.book.len(), 1);
        assert_eq!(b.book.len(), 1);
        bio(&mut a.doc, 1, "c");
        assert_eq!(
            a.session.distance(&a.doc),
            Distance::Apart {
                they_lack: 1,
                we_lack: 0
            }
        );
    }

    #[test]
    fn a_third_device_gets_relayed_changes_with_their_signatures() {
        let (mut a, mut b) = pair();
        let fresh = a.doc.fork();
        bio(&mut b.doc, 2, "from bea");
        converge(&mut a, &mut b);
        // A third copy of Ann's, knowing nothing of Bea's edit, hears of it from Ann alone.
        let mut c = Side::new(1, fresh, 1);
        let mut a2 = Side::new(1, a.doc.fork(), 1);
        a2.book = a.book.clone();
        converge(&mut a2, &mut c);
        assert_eq!(c.doc.get_heads(), b.doc.get_heads());
    }

    #[test]
    fn a_piece_its_critique_and_its_rating_arrive_in_one_message_and_are_judged_together() {
        let (mut a, mut b) = pair();
        let fresh = a.doc.fork();
        let piece = quire_store::SubmissionId::from_bytes([40; 16]);
        let review = quire_store::CritiqueId::from_bytes([41; 16]);
        let draft = ops::SubmissionDraft {
            title: "The Mill".into(),
            genre: "ya".into(),
            text: "The wheel turned all night.".into(),
            ..Default::default()
        };
        ops::submit(&mut b.doc, member(2), piece, draft, now()).unwrap();
        converge(&mut a, &mut b);
        ops::claim(&mut a.doc, member(1), piece, now()).unwrap();
        ops::critique(&mut a.doc, member(1), piece, review, "Strong.", now()).unwrap();
        converge(&mut a, &mut b);
        ops::rate(&mut b.doc, member(2), piece, review, 5, now()).unwrap();
        converge(&mut a, &mut b);
        // A copy from before all three hears of them from Ann in one message: the rating's
        // right depends on the piece's author, both new in that message.
        let mut c = Side::new(1, fresh, 1);
        let mut relay = Side::new(1, a.doc.fork(), 1);
        relay.book = a.book.clone();
        converge(&mut relay, &mut c);
        assert_eq!(c.doc.get_heads(), b.doc.get_heads());
    }

    #[test]
    fn a_message_past_the_frame_cap_goes_in_parts_and_still_converges() {
        let (mut a, mut b) = pair();
        let big = "x".repeat(1024 * 1024);
        for i in 0..20 {
            bio(&mut a.doc, 1, &format!("{i}{big}"));
        }
        let mut largest = 0;
        let mut parts = 0;
        for _ in 0..20 {
            let mut quiet = true;
            for m in a.send() {
                largest = largest.max(m.len());
                parts += 1;
                b.take(&m).unwrap();
                quiet = false;
            }
            for m in b.send() {
                a.take(&m).unwrap();
                quiet = false;
            }
            if quiet {
                break;
            }
        }
        assert_eq!(a.doc.get_heads(), b.doc.get_heads());
        assert!(
            largest <= crate::frame::MAX_FRAME,
            "largest frame {largest}"
        );
        assert!(parts >= 3, "20 MiB of changes went in {parts} messages");
    }

    #[test]
    fn messages_we_send_never_advertise_v2() {
        let (mut a, _) = pair();
        let frame = a.send().remove(0);
        let (m, _) = envelope::decode(&frame).unwrap();
        assert_eq!(m[0], 0x42, "a v1 sync message");
        let decoded = automerge::sync::Message::decode(m).unwrap();
        assert!(decoded.flags.is_none());
    }

    #[test]
    fn garbage_leaves_the_document_untouched() {
        let (mut a, _) = pair();
        let heads = a.doc.get_heads();
        let err = a
            .take(&envelope::encode(&[0x42, 0xff, 0xff, 0xff], &[]))
            .unwrap_err();
        assert!(matches!(err, PeerError::Bad(_)), "{err}");
        let err = a.take(&[0x42, 0xff]).unwrap_err();
        assert!(matches!(err, PeerError::Frame(_)), "{err}");
        assert_eq!(a.doc.get_heads(), heads);
    }

    /// Bea's next frame, after `forge` wrote into her document, with its signatures replaced
    /// by what `resign` makes of them.
    ///
    /// The frame always carries what `forge` wrote: a false positive in A's bloom filter
    /// would otherwise let Bea's session leave it for a later round (about one run in a
    /// hundred), and the refusal under test would never be reached in one frame.
    fn forged_frame(
        b: &mut Side,
        forge: impl FnOnce(&mut Automerge),
        resign: impl FnOnce(Vec<Offered>) -> Vec<Offered>,
    ) -> Vec<u8> {
        let before = b.doc.get_heads();
        forge(&mut b.doc);
        let frame = b.send().remove(0);
        let (m, mut sigs) = envelope::decode(&frame).unwrap();
        let mut msg = automerge::sync::Message::decode(m).unwrap();
        let sent: HashSet<Vec<u8>> = msg.changes.iter().map(<[u8]>::to_vec).collect();
        let forged: Vec<Change> = b.doc.get_changes(&before);
        if forged.iter().any(|c| !sent.contains(c.raw_bytes())) {
            let mut changes: Vec<Vec<u8>> = msg.changes.iter().map(<[u8]>::to_vec).collect();
            changes.extend(
                forged
                    .iter()
                    .map(|c| c.raw_bytes().to_vec())
                    .filter(|c| !sent.contains(c)),
            );
            msg.changes = ChunkList::from(changes);
            let own = |c: &&Change| quire_store::device_of_actor(c.actor_id()) == Some(b.dev.id);
            if let Some(newest) = forged.iter().rev().find(own) {
                sigs.push((newest.hash(), sign_change(&b.dev.secret, &newest.hash())));
            }
        }
        envelope::encode(&msg.encode(), &resign(sigs))
    }

    /// Bea, no organizer, makes herself one.
    fn self_promotion(d: &mut Automerge) {
        let bea = doc_map(d, &["members", &member(2).to_string()]);
        let mut tx = d.transaction();
        tx.put(&bea, "organizer", true).unwrap();
        tx.commit();
    }

    fn after_handshake() -> (Side, Side) {
        let (mut a, mut b) = pair();
        converge(&mut a, &mut b);
        (a, b)
    }

    #[test]
    fn a_forbidden_change_is_refused_and_nothing_of_it_applied() {
        let (mut a, mut b) = after_handshake();
        let heads = a.doc.get_heads();
        let frame = forged_frame(&mut b, self_promotion, |sigs| sigs);
        let err = a.take(&frame).unwrap_err();
        let refusal = err.refusal().expect("refused by the rules");
        assert_eq!(refusal.member, Some(member(2)));
        assert!(refusal.reason.contains("organizer"), "{refusal}");
        assert_eq!(a.doc.get_heads(), heads);
    }

    #[test]
    fn what_only_a_refused_change_vouched_for_is_dropped_with_it() {
        let (mut a, mut b) = after_handshake();
        let heads = a.doc.get_heads();
        // Bea's honest change and her forged one travel together, vouched for by one
        // signature over the forged one: keeping the honest one would leave A holding a change
        // it can never vouch for to anyone else.
        bio(&mut b.doc, 2, "an honest line");
        let frame = forged_frame(&mut b, self_promotion, |sigs| sigs);
        let err = a.take(&frame).unwrap_err();
        assert!(err.refusal().is_some(), "{err}");
        assert_eq!(a.doc.get_heads(), heads);
        assert!(a.session.take_signatures().is_empty());
    }

    #[test]
    fn what_came_before_a_refused_change_with_its_own_signature_is_kept_and_relayed() {
        let (mut a, mut b) = after_handshake();
        let fresh = a.doc.fork();
        bio(&mut b.doc, 2, "an honest line");
        let honest = b.doc.get_heads();
        // Bea's honest change went out alone and was signed; the forged one follows in a frame
        // A reads before the first is settled (both wait on nothing but their signatures).
        let first = b.send().remove(0);
        let second = forged_frame(&mut b, self_promotion, |sigs| sigs);
        let (m1, s1) = envelope::decode(&first).unwrap();
        let (m2, s2) = envelope::decode(&second).unwrap();
        let mut msg = automerge::sync::Message::decode(m2).unwrap();
        let earlier = automerge::sync::Message::decode(m1).unwrap();
        let mut changes: Vec<Vec<u8>> = earlier.changes.iter().map(<[u8]>::to_vec).collect();
        changes.extend(msg.changes.iter().map(<[u8]>::to_vec));
        changes.dedup();
        msg.changes = ChunkList::from(changes);
        let both = envelope::encode(&msg.encode(), &[s1, s2].concat());
        let err = a.take(&both).unwrap_err();
        assert!(err.refusal().is_some(), "{err}");
        assert_eq!(
            a.doc.get_heads(),
            honest,
            "the honest change is kept, the forged one not"
        );
        let kept = a.session.take_signatures();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].1.hash, honest[0]);
        for (actor, sig) in kept {
            a.book.record(actor, sig);
        }
        // A third copy gets the honest change from A, vouched for by what A kept.
        let mut c = Side::new(1, fresh, 1);
        let mut relay = Side::new(1, a.doc.fork(), 1);
        relay.book = a.book.clone();
        converge(&mut relay, &mut c);
        assert_eq!(c.doc.get_heads(), honest);
    }

    #[test]
    fn a_flood_is_applied_a_turn_at_a_time() {
        let (mut a, mut b) = after_handshake();
        for i in 0..(PER_TURN * 2 + 10) {
            bio(&mut b.doc, 2, &format!("edit {i}"));
        }
        let mut turns = 0;
        for frame in b.send() {
            let mut settled = a.take(&frame).unwrap();
            turns += 1;
            while settled.more {
                assert!(settled.applied <= PER_TURN);
                settled = a
                    .session
                    .resume(&mut a.doc, &mut a.authority, &HashMap::new())
                    .unwrap();
                turns += 1;
            }
        }
        assert!(
            turns >= 3,
            "{turns} turns, {} held, heads {:?} vs {:?}",
            a.session.held(),
            a.doc.get_heads(),
            b.doc.get_heads()
        );
        assert_eq!(a.doc.get_heads(), b.doc.get_heads());
    }

    /// Bea's `n` bio edits, then what `last` writes, in one frame carrying one signature:
    /// over her newest change.
    fn chain_under_one_signature(b: &mut Side, n: usize, last: fn(&mut Automerge)) -> Vec<u8> {
        forged_frame(
            b,
            |d| {
                for i in 0..n {
                    bio(d, 2, &format!("edit {i}"));
                }
                last(d);
            },
            |sigs| {
                let newest = sigs.iter().map(|(h, _)| *h).next_back();
                sigs.into_iter()
                    .filter(|(h, _)| Some(*h) == newest)
                    .collect()
            },
        )
    }

    #[test]
    fn a_long_chain_under_one_signature_is_judged_over_turns_and_applied_whole() {
        let (mut a, mut b) = after_handshake();
        let n = PER_TURN * 2 + 10;
        let frame = chain_under_one_signature(&mut b, n, |d| bio(d, 2, "the signed one"));
        let mut settled = a.take(&frame).unwrap();
        let mut turns = 1;
        // Ann edits while Bea's chain is being judged: the chain's judged part waits.
        bio(&mut a.doc, 1, "Ann's own edit between turns");
        while settled.more {
            assert_eq!(
                settled.applied, 0,
                "applied before the signature was judged"
            );
            assert!(a.authority.has_pending(a.session.judge()));
            settled = a
                .session
                .resume(&mut a.doc, &mut a.authority, &HashMap::new())
                .unwrap();
            turns += 1;
        }
        assert!(turns >= 3, "{turns} turns");
        assert_eq!(settled.applied, n + 1);
        assert!(
            b.doc
                .get_heads()
                .iter()
                .all(|h| a.doc.get_change_meta_by_hash(h).is_some())
        );
        assert!(!a.authority.has_pending(a.session.judge()));
        assert!(Automerge::load(&a.doc.save()).is_ok());
    }

    #[test]
    fn a_long_chain_whose_signed_change_is_refused_is_dropped_whole_after_its_turns() {
        let (mut a, mut b) = after_handshake();
        let heads = a.doc.get_heads();
        let frame = chain_under_one_signature(&mut b, PER_TURN * 2, self_promotion);
        let mut result = a.take(&frame);
        let mut turns = 1;
        while let Ok(settled) = &result {
            assert!(settled.more, "the chain ended without its refusal");
            assert_eq!(settled.applied, 0);
            result = a
                .session
                .resume(&mut a.doc, &mut a.authority, &HashMap::new());
            turns += 1;
        }
        let err = result.unwrap_err();
        assert!(err.refusal().is_some(), "{err}");
        assert!(turns >= 3, "{turns} turns");
        assert_eq!(a.doc.get_heads(), heads);
        assert!(!a.authority.has_pending(a.session.judge()));
    }

    #[test]
    fn an_unsigned_change_is_refused() {
        let (mut a, mut b) = after_handshake();
        let heads = a.doc.get_heads();
        let frame = forged_frame(&mut b, |d| bio(d, 2, "unsigned"), |_| Vec::new());
        let err = a.take(&frame).unwrap_err();
        assert!(matches!(err, PeerError::Unsigned { .. }), "{err}");
        assert_eq!(a.doc.get_heads(), heads);
    }

    #[test]
    fn a_change_written_under_another_devices_key_is_refused() {
        let (mut a, mut b) = after_handshake();
        let heads = a.doc.get_heads();
        // Bea writes as an actor that starts with Ann's device key: she cannot sign for it.
        let frame = forged_frame(
            &mut b,
            |d| {
                d.set_actor(session_actor(dev(1).id));
                bio(d, 1, "Ann never wrote this");
            },
            |sigs| sigs,
        );
        let err = a.take(&frame).unwrap_err();
        assert!(matches!(err, PeerError::Unsigned { .. }), "{err}");
        assert_eq!(a.doc.get_heads(), heads);
    }

    #[test]
    fn a_wrong_or_replayed_signature_is_refused() {
        let (mut a, mut b) = after_handshake();
        let heads = a.doc.get_heads();
        // A real signature of Bea's, over another change, offered for this one.
        let other = ChangeHash([7; 32]);
        let replayed = sign_change(&dev(2).secret, &other);
        let frame = forged_frame(
            &mut b,
            |d| bio(d, 2, "honest text"),
            |sigs| sigs.into_iter().map(|(h, _)| (h, replayed)).collect(),
        );
        let err = a.take(&frame).unwrap_err();
        assert!(matches!(err, PeerError::BadSignature { .. }), "{err}");
        assert_eq!(a.doc.get_heads(), heads);
    }

    #[test]
    fn changes_waiting_for_dependencies_are_bounded() {
        let (mut a, mut b) = after_handshake();
        // Bea sends each of many changes alone, the first one withheld, so none can apply.
        bio(&mut b.doc, 2, "first");
        let first = b.doc.get_heads();
        let mut sent: u64 = 0;
        let err = loop {
            // A megabyte that does not compress.
            let mut x: u64 = sent + 1;
            let big: String = (0..128 * 1024)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    format!("{:08x}", x >> 32)
                })
                .collect();
            bio(&mut b.doc, 2, &big);
            let change = b.doc.get_last_local_change().unwrap();
            let mut msg = automerge::sync::Message {
                heads: b.doc.get_heads(),
                need: Vec::new(),
                have: Vec::new(),
                changes: ChunkList::from(vec![change.raw_bytes().to_vec()]),
                version: automerge::sync::MessageVersion::V1,
                flags: None,
            };
            msg.heads.sort();
            match a.take(&envelope::encode(&msg.encode(), &[])) {
                Ok(_) => sent += 1,
                Err(e) => break e,
            }
            assert!(sent < 1000, "never refused");
        };
        assert!(matches!(err, PeerError::Held(_)), "{err}");
        assert!(sent >= 60, "refused after {sent} MiB");
        assert!(!first.is_empty());
        assert!(a.doc.get_change_meta_by_hash(&first[0]).is_none());
    }

    fn doc_map(d: &Automerge, path: &[&str]) -> automerge::ObjId {
        use automerge::ReadDoc;
        let mut at = ROOT;
        for key in path {
            at = d.get(&at, *key).unwrap().unwrap().1;
        }
        at
    }
}
