//! Authority: whether a change's writer was allowed to make it, judged as the group stood at
//! the change's own dependencies.
//!
//! There is no server to refuse a bad write, so every device judges every change it receives
//! (and every change it makes) by the same rules ([`rules`], the table in ARCHITECTURE.md).
//! A verdict depends only on the change and its past, never on what else the judging device
//! happens to hold, so every honest device reaches the same verdict in any arrival order and
//! the group converges (the way Matrix's authorization rules check each event against the
//! auth state before it).
//!
//! The facts authority needs are few ([`Facts`]: members, devices, organizers, removals,
//! invites) and only ever grow, so the facts at a change's dependencies are the union of the
//! facts at each of them. They are kept per change as the changes are judged, sharing one copy
//! along a run of changes that add none, and read from the document at the dependencies
//! (automerge's `*_at` reads) for changes that came before this process started. Who owns an
//! entry (a submission's author, a critique's reviewer) is fixed when the entry is made, so it
//! is read from the document as it stands.
//!
//! Concurrent with a removal: a change is judged by its own past, so a removed member's
//! change made before they could know of the removal (its past does not hold it) is accepted
//! everywhere, as a server would have accepted it before the removal reached it; once a device
//! holds the removal it refuses the removed member's sessions, so nothing new of theirs reaches
//! it directly, and any change whose past holds the removal is refused by every device.

pub mod audience;
pub mod facts;
pub mod inspect;
pub mod past;
pub mod place;
pub mod rules;

use std::collections::HashMap;
use std::sync::Arc;

use automerge::{Automerge, Change, ChangeHash, ExpandedChange};

pub use audience::Audience;
pub use facts::Facts;
use inspect::Locator;

use crate::group::device_of_actor;
use crate::ids::{DeviceId, MemberId};

/// A change the group's rules refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("change {} by {}: {reason}", short(.change), writer(.device, .member))]
pub struct Refusal {
    /// The refused change.
    pub change: ChangeHash,
    /// The device whose key its actor names, if it names one.
    pub device: Option<DeviceId>,
    /// That device's member, if it was one.
    pub member: Option<MemberId>,
    /// Which rule it broke.
    pub reason: String,
}

fn short(hash: &ChangeHash) -> String {
    hash.to_string().chars().take(10).collect()
}

fn writer(device: &Option<DeviceId>, member: &Option<MemberId>) -> String {
    match (member, device) {
        (Some(m), Some(d)) => format!("member {} (device {})", m.short(), d.short()),
        (None, Some(d)) => format!("device {}", d.short()),
        _ => "an unknown writer".to_string(),
    }
}

/// Most changes whose facts are remembered; past this the memory starts over, and facts are
/// read from the document again where needed (slower, never different).
const REMEMBERED: usize = 500_000;

/// How many changes of a history are decoded ahead of the judging.
const DECODED_AHEAD: usize = 256;

/// Judges changes, remembering the facts at each change it judged.
#[derive(Debug, Default)]
pub struct Authority {
    /// The facts as of each judged change, itself included.
    at_change: HashMap<ChangeHash, Arc<Facts>>,
    /// The facts at a set of heads read from the document (sorted).
    at_heads: HashMap<Vec<ChangeHash>, Arc<Facts>>,
    /// The time (ms) of each change judged, which may not be applied yet.
    times: HashMap<ChangeHash, i64>,
    /// Owners of entries made by judged changes, which may not be applied yet.
    owners: HashMap<rules::Owned, String>,
    /// Whether a founding change was accepted.
    founded: bool,
    locator: Locator,
    /// Ops of changes judged but maybe not applied yet, kept apart for each judge that
    /// applies what it judged on its own schedule (a peer's session, over several turns).
    pending: HashMap<Judge, past::Pending>,
}

/// Who judged a change that is not applied yet: each keeps its own [`past::Pending`], told
/// [`Authority::settled`] as its changes are applied and [`Authority::forget`] when it drops
/// the rest. [`Authority::judge`] judges as judge `0`.
pub type Judge = u64;

/// Whoever judges the changes a sync session receives: [`Authority`] for the group document,
/// [`Audience`] for a document beside it.
pub trait ChangeJudge {
    /// Judges `change` for `judge` (see [`Authority::judge_for`]).
    fn judge_for(&mut self, judge: Judge, doc: &Automerge, change: &Change) -> Result<(), Refusal>;

    /// What `judge` judged is applied or dropped (see [`Authority::done`]).
    fn done(&mut self, judge: Judge);
}

impl ChangeJudge for Authority {
    fn judge_for(&mut self, judge: Judge, doc: &Automerge, change: &Change) -> Result<(), Refusal> {
        Authority::judge_for(self, judge, doc, change)
    }

    fn done(&mut self, judge: Judge) {
        Authority::done(self, judge)
    }
}

/// How much of a change is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// Received from a peer and not applied yet, judged by this judge: everything.
    Peer(Judge),
    /// Made by this device's automerge and already applied: its ops were made against its
    /// past, so they write only there; the rules are still checked.
    Own,
    /// Part of a document loaded whole: automerge's load rebuilt every change from the ops
    /// and checked the heads, so ops name their predecessors truly.
    History,
}

impl Authority {
    /// An authority that knows nothing yet: it reads the facts it needs from the document.
    pub fn new() -> Self {
        Self::default()
    }

    /// Judges `change`, whose dependencies `doc` holds or this authority judged before (the
    /// change itself may or may not be applied yet: changes of one message are judged in
    /// causal order, then applied together). On `Ok` the facts as of the change are
    /// remembered for its descendants.
    pub fn judge(&mut self, doc: &Automerge, change: &Change) -> Result<(), Refusal> {
        self.judge_for(0, doc, change)
    }

    /// [`Authority::judge`], for `judge`: the changes it judged are the past a later change
    /// of its may build on until they are applied ([`Authority::settled`]) or dropped
    /// ([`Authority::forget`]), whatever other judges apply in between.
    pub fn judge_for(
        &mut self,
        judge: Judge,
        doc: &Automerge,
        change: &Change,
    ) -> Result<(), Refusal> {
        let first = !self.founded && doc.get_heads().iter().all(|h| *h == change.hash());
        self.judge_as(doc, change, first, Source::Peer(judge))
    }

    /// Judges `change`, made by this device's own automerge and already applied to `doc`:
    /// the rules as for [`Authority::judge`], without checking that its ops write only into
    /// its past (automerge made them against it).
    pub fn judge_own(&mut self, doc: &Automerge, change: &Change) -> Result<(), Refusal> {
        let first = !self.founded && doc.get_heads().iter().all(|h| *h == change.hash());
        self.judge_as(doc, change, first, Source::Own)
    }

    /// Judges `change` of a document loaded whole, as [`Authority::judge_history`] judges each
    /// (for measuring one change at a time; `first` says whether it is the founding change).
    pub fn judge_loaded(
        &mut self,
        doc: &Automerge,
        change: &Change,
        first: bool,
    ) -> Result<(), Refusal> {
        self.judge_as(doc, change, first, Source::History)
    }

    /// Judges the whole history of `doc`, in causal order: what a device does with a group it
    /// received whole (a new member's bootstrap). Only the first change may found the group.
    pub fn judge_history(&mut self, doc: &Automerge) -> Result<usize, Refusal> {
        let changes = doc.get_changes(&[]);
        // Decoding a change into its ops needs nothing judged before it: a second thread
        // decodes a little ahead of the judging.
        std::thread::scope(|scope| {
            let (decoded, expanded) = std::sync::mpsc::sync_channel(DECODED_AHEAD);
            let to_decode = &changes;
            scope.spawn(move || {
                for change in to_decode {
                    if decoded.send(change.decode()).is_err() {
                        return;
                    }
                }
            });
            for (i, (change, expanded)) in changes.iter().zip(expanded).enumerate() {
                self.judge_decoded(doc, change, expanded, i == 0, Source::History)?;
            }
            Ok(changes.len())
        })
    }

    fn judge_as(
        &mut self,
        doc: &Automerge,
        change: &Change,
        first: bool,
        source: Source,
    ) -> Result<(), Refusal> {
        self.judge_decoded(doc, change, change.decode(), first, source)
    }

    /// [`judge_as`](Self::judge_as), given `change` decoded.
    fn judge_decoded(
        &mut self,
        doc: &Automerge,
        change: &Change,
        expanded: ExpandedChange,
        first: bool,
        source: Source,
    ) -> Result<(), Refusal> {
        let hash = change.hash();
        let device = device_of_actor(change.actor_id());
        let refuse = |member: Option<MemberId>, reason: String| Refusal {
            change: hash,
            device,
            member,
            reason,
        };
        let Some(device) = device else {
            return Err(refuse(None, "its actor does not name a device".into()));
        };
        let writes = self
            .locator
            .writes(doc, &expanded)
            .map_err(|reason| refuse(None, reason))?;
        let deps = change.deps();
        let checked = match source {
            Source::Peer(judge) => Some((
                judge,
                self.pending
                    .entry(judge)
                    .or_default()
                    .check(doc, &expanded, &writes)
                    .map_err(|reason| refuse(None, reason))?,
            )),
            Source::Own | Source::History => None,
        };
        if deps.is_empty() {
            let founding = if first {
                rules::founding(device, &writes)
            } else {
                Err("a group is founded once".into())
            }
            .map_err(|reason| refuse(None, reason))?;
            let facts = founding.apply(&Facts::default());
            self.founded = true;
            self.times.insert(hash, expanded.time.saturating_mul(1000));
            if let Some((judge, checked)) = checked {
                self.pending
                    .entry(judge)
                    .or_default()
                    .record(hash, &expanded, &writes, checked);
            }
            self.remember(hash, Arc::new(facts));
            return Ok(());
        }
        if let Some(missing) = deps
            .iter()
            .find(|d| !self.times.contains_key(d) && doc.get_change_meta_by_hash(d).is_none())
        {
            return Err(refuse(
                None,
                format!("it depends on {}, which we lack", short(missing)),
            ));
        }
        let facts = self.facts_at(doc, deps);
        let Some(me) = facts.member_of(device) else {
            return Err(refuse(
                None,
                format!(
                    "device {} was not a member device in the change's past",
                    device.short()
                ),
            ));
        };
        let past_ms = deps
            .iter()
            .filter_map(|d| match self.times.get(d) {
                Some(ms) => Some(*ms),
                None => doc
                    .get_change_meta_by_hash(d)
                    .map(|m| m.timestamp.saturating_mul(1000)),
            })
            .max()
            .unwrap_or(i64::MIN);
        let time_ms = expanded.time.saturating_mul(1000);
        let cx = rules::Context {
            doc,
            owners: &self.owners,
            facts: &facts,
            me,
            device,
            time_ms,
            past_ms,
        };
        let mut effect = rules::judge(&cx, &writes).map_err(|reason| refuse(Some(me), reason))?;
        self.owners.extend(std::mem::take(&mut effect.owners));
        self.times.insert(hash, time_ms);
        if let Some((judge, checked)) = checked {
            self.pending
                .entry(judge)
                .or_default()
                .record(hash, &expanded, &writes, checked);
        }
        let after = if effect.is_empty() {
            facts
        } else {
            Arc::new(effect.apply(&facts))
        };
        self.remember(hash, after);
        Ok(())
    }

    fn remember(&mut self, hash: ChangeHash, facts: Arc<Facts>) {
        self.at_change.insert(hash, facts);
    }

    /// Forgets what it remembers once that passes a bound, to be read from the document again
    /// where needed (slower, never different), and forgets the ops of changes judged but not
    /// applied, by every judge. Call it only when every change judged is in the document or
    /// will be judged again before it is applied.
    pub fn trim(&mut self) {
        self.pending.clear();
        self.forget_past_bound();
    }

    /// Tells the authority that what `judge` judged is now applied or dropped: its ops are
    /// read from the document from now on, and a dropped change is judged again if it comes
    /// back.
    pub fn done(&mut self, judge: Judge) {
        self.pending.remove(&judge);
        self.forget_past_bound();
    }

    /// Whether `judge` has changes judged and not yet [`done`](Self::done).
    pub fn has_pending(&self, judge: Judge) -> bool {
        self.pending.contains_key(&judge)
    }

    /// Starts the remembered facts over past [`REMEMBERED`], unless a judge still builds on
    /// changes that are not in the document (their facts are only remembered).
    fn forget_past_bound(&mut self) {
        if self.at_change.len() >= REMEMBERED && self.pending.is_empty() {
            self.at_change.clear();
            self.at_heads.clear();
            self.times.clear();
            self.owners.clear();
        }
    }

    /// Remembers the facts at `doc`'s current heads, read as it stands (cheaper than reading
    /// at heads): for a process about to make or receive changes on top of what it loaded.
    pub fn seed(&mut self, doc: &Automerge) {
        let heads = doc.get_heads();
        self.at_heads
            .entry(heads)
            .or_insert_with(|| Arc::new(Facts::read(doc, None)));
    }

    /// The facts at `deps`.
    fn facts_at(&mut self, doc: &Automerge, deps: &[ChangeHash]) -> Arc<Facts> {
        let mut key = deps.to_vec();
        key.sort();
        if let Some(facts) = self.at_heads.get(&key) {
            return facts.clone();
        }
        let mut parts: Vec<Arc<Facts>> = Vec::with_capacity(deps.len());
        for dep in &key {
            let facts = match self.at_change.get(dep) {
                Some(f) => f.clone(),
                None => {
                    let read = Arc::new(Facts::read(doc, Some(std::slice::from_ref(dep))));
                    self.remember(*dep, read.clone());
                    read
                }
            };
            parts.push(facts);
        }
        let mut iter = parts.into_iter();
        let first = iter.next().unwrap_or_default();
        iter.fold(first, |acc, f| {
            if Arc::ptr_eq(&acc, &f) || *acc == *f {
                acc
            } else {
                Arc::new(acc.union(&f))
            }
        })
    }
}
