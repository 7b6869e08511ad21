//! Every member's credit ledger, derived from the document: what they started with, what
//! each submission cost, what each critique earned, and tips given and received. Each entry
//! is valued with the rules in force when it happened, so a rule change never rewrites the
//! past; an offline double-spend shows as a negative balance rather than vanishing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use jiff::Timestamp;
use serde::Serialize;

use super::credits::{Credits, critique_earning};
use super::rules::RulesTimeline;
use crate::ids::{CritiqueId, MemberId, SubmissionId};
use crate::model::{Group, Rules, Submission};

/// Why a ledger entry exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// The credits a new member starts with.
    Joined,
    /// The cost of a submission.
    Submitted {
        /// The piece.
        submission: SubmissionId,
        /// Its title.
        title: String,
        /// The author's other submissions still open when it was submitted.
        others_open: u32,
    },
    /// What a delivered critique earned.
    Critiqued {
        /// The piece critiqued.
        submission: SubmissionId,
        /// The critique.
        critique: CritiqueId,
        /// The piece's title.
        title: String,
        /// The critique's length.
        words: u32,
    },
    /// A tip an author gave for this member's critique.
    TipReceived {
        /// The critique.
        critique: CritiqueId,
        /// The piece's title.
        title: String,
        /// The author's name.
        from: String,
    },
    /// A tip this member gave a reviewer.
    TipGiven {
        /// The critique.
        critique: CritiqueId,
        /// The piece's title.
        title: String,
        /// The reviewer's name.
        to: String,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Joined => f.write_str("joined the group"),
            Reason::Submitted {
                title, others_open, ..
            } => match others_open {
                0 => write!(f, "submitted '{title}'"),
                1 => write!(f, "submitted '{title}' (1 other piece open)"),
                n => write!(f, "submitted '{title}' ({n} other pieces open)"),
            },
            Reason::Critiqued { title, words, .. } => {
                write!(f, "critique of '{title}' ({words} words)")
            }
            Reason::TipReceived { title, from, .. } => {
                write!(f, "tip from {from} for your critique of '{title}'")
            }
            Reason::TipGiven { title, to, .. } => {
                write!(f, "tipped {to} for a critique of '{title}'")
            }
        }
    }
}

/// One line of a ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// When it happened.
    pub at: Timestamp,
    /// What it added (or, negative, took).
    pub amount: Credits,
    /// The balance after it.
    pub balance: Credits,
    /// Why.
    pub reason: Reason,
}

impl LedgerEntry {
    /// The entry as people read it: "+1 critique of 'The Mill' (412 words)". Made on demand,
    /// so deriving a hundred thousand entries does not format a hundred thousand strings.
    pub fn text(&self) -> String {
        format!("{} {}", self.amount.signed(), self.reason)
    }
}

impl Serialize for LedgerEntry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Out<'a> {
            at: Timestamp,
            amount: Credits,
            balance: Credits,
            #[serde(flatten)]
            reason: &'a Reason,
            text: String,
        }
        Out {
            at: self.at,
            amount: self.amount,
            balance: self.balance,
            reason: &self.reason,
            text: self.text(),
        }
        .serialize(s)
    }
}

/// A member's credits, entry by entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ledger {
    /// Whose.
    pub member: MemberId,
    /// What they have now.
    pub balance: Credits,
    /// Below zero: submissions made at once on disconnected devices overdrew it. Nothing is
    /// undone; the member earns it back.
    pub overdrawn: bool,
    /// Every entry, oldest first.
    pub entries: Vec<LedgerEntry>,
}

impl Ledger {
    fn new(member: MemberId) -> Self {
        Self {
            member,
            balance: Credits::ZERO,
            overdrawn: false,
            entries: Vec::new(),
        }
    }

    fn push(&mut self, at: Timestamp, amount: Credits, reason: Reason) {
        self.balance += amount;
        self.overdrawn = self.balance.is_negative();
        self.entries.push(LedgerEntry {
            at,
            amount,
            balance: self.balance,
            reason,
        });
    }
}

/// Something that moves credits, before the rules of its time value it.
struct Event<'a> {
    at: Timestamp,
    /// Orders events at the same moment: joins, critiques, tips, then submissions (so a
    /// critique delivered the moment one submits counts first), then by id.
    rank: (u8, [u8; 16]),
    kind: EventKind<'a>,
}

enum EventKind<'a> {
    Joined(MemberId),
    Submitted(&'a Submission, u32),
    Critiqued(&'a Submission, CritiqueId),
    Tipped(&'a Submission, CritiqueId),
}

/// Every member's ledger (removed members included), from the whole history.
pub fn ledgers(group: &Group) -> BTreeMap<MemberId, Ledger> {
    ledgers_of(group, group.submissions.values(), |_| true)
}

/// The ledgers of the members `wanted` keeps, from the submissions `subs` (in id order).
/// Events that touch none of them are never gathered, so one member's ledger (the credit
/// check on every submission) does not pay for everyone's.
fn ledgers_of<'a>(
    group: &'a Group,
    subs: impl Iterator<Item = &'a Submission> + Clone,
    wanted: impl Fn(MemberId) -> bool,
) -> BTreeMap<MemberId, Ledger> {
    let mut events: Vec<Event<'_>> = Vec::new();
    for m in group.members.values().filter(|m| wanted(m.id)) {
        events.push(Event {
            at: m.joined_at,
            rank: (0, *m.id.as_bytes()),
            kind: EventKind::Joined(m.id),
        });
    }
    let others_open = others_open_at_submission(subs.clone(), &wanted);
    for sub in subs {
        if let Some(open) = others_open.get(&sub.id).copied() {
            events.push(Event {
                at: sub.submitted_at,
                rank: (3, *sub.id.as_bytes()),
                kind: EventKind::Submitted(sub, open),
            });
        }
        for c in sub.critiques.values() {
            let tip_touches_author = c.tipped_at.is_some() && wanted(sub.author);
            if !(wanted(c.reviewer) || tip_touches_author) {
                continue;
            }
            events.push(Event {
                at: c.delivered_at,
                rank: (1, *c.id.as_bytes()),
                kind: EventKind::Critiqued(sub, c.id),
            });
            if let Some(at) = c.tipped_at {
                events.push(Event {
                    at,
                    rank: (2, *c.id.as_bytes()),
                    kind: EventKind::Tipped(sub, c.id),
                });
            }
        }
    }
    // Stable, so that events alike in time and rank (only a hostile document has them) keep
    // the order of `subs` whichever of them are gathered.
    events.sort_by_key(|e| (e.at, e.rank));

    let mut out: BTreeMap<MemberId, Ledger> = group
        .members
        .keys()
        .filter(|id| wanted(**id))
        .map(|id| (*id, Ledger::new(*id)))
        .collect();
    let mut timeline = RulesTimeline::new(group.info.rules, &group.info.rule_changes);
    for e in events {
        let rules = timeline.at(e.at);
        if !rules.credits {
            continue;
        }
        let mut post = |member: MemberId, amount: Credits, reason: Reason| {
            if !wanted(member) {
                return;
            }
            out.entry(member)
                .or_insert_with(|| Ledger::new(member))
                .push(e.at, amount, reason);
        };
        match e.kind {
            EventKind::Joined(member) => post(member, rules.starting_credits, Reason::Joined),
            EventKind::Submitted(sub, open) => post(
                sub.author,
                -submission_cost(&rules, open),
                Reason::Submitted {
                    submission: sub.id,
                    title: sub.title.clone(),
                    others_open: open,
                },
            ),
            EventKind::Critiqued(sub, id) => {
                let c = &sub.critiques[&id];
                post(
                    c.reviewer,
                    critique_earning(c.word_count),
                    Reason::Critiqued {
                        submission: sub.id,
                        critique: id,
                        title: sub.title.clone(),
                        words: c.word_count,
                    },
                );
            }
            EventKind::Tipped(sub, id) => {
                let c = &sub.critiques[&id];
                post(
                    c.reviewer,
                    rules.tip,
                    Reason::TipReceived {
                        critique: id,
                        title: sub.title.clone(),
                        from: group.name_of(sub.author),
                    },
                );
                post(
                    sub.author,
                    -rules.tip,
                    Reason::TipGiven {
                        critique: id,
                        title: sub.title.clone(),
                        to: group.name_of(c.reviewer),
                    },
                );
            }
        }
    }
    out
}

/// `member`'s ledger.
pub fn ledger(group: &Group, member: MemberId) -> Ledger {
    ledger_among(group, member, group.submissions.values())
}

/// `member`'s ledger, read from `subs` alone: the submissions in the group, in id order, that
/// `member` wrote or critiqued. No other submission moves their credits, so this is
/// [`ledger`] for whoever keeps that list and does not want to look through the whole group.
pub fn ledger_among<'a>(
    group: &'a Group,
    member: MemberId,
    subs: impl Iterator<Item = &'a Submission> + Clone,
) -> Ledger {
    ledgers_of(group, subs, |id| id == member)
        .remove(&member)
        .unwrap_or_else(|| Ledger::new(member))
}

/// What a submission costs when its author has `others_open` other pieces open.
pub fn submission_cost(rules: &Rules, others_open: u32) -> Credits {
    rules.submission_cost + rules.extra_open_cost * i64::from(others_open)
}

/// Whether `sub` is still open at `t`: submitted, not withdrawn, and short of the critiques
/// it wanted.
pub fn open_at(sub: &Submission, t: Timestamp) -> bool {
    if sub.submitted_at > t || sub.withdrawn_at.is_some_and(|w| w <= t) {
        return false;
    }
    let reviewers: BTreeSet<MemberId> = sub
        .critiques
        .values()
        .filter(|c| c.delivered_at <= t)
        .map(|c| c.reviewer)
        .collect();
    (reviewers.len() as u32) < sub.critiques_wanted
}

/// How many of `author`'s pieces submitted before `(at, id)` are still open at `at`.
pub fn others_open(group: &Group, author: MemberId, at: Timestamp, id: SubmissionId) -> u32 {
    others_open_among(group.submissions.values(), author, at, id)
}

/// [`others_open`] counted among `subs`, which must hold all of `author`'s pieces.
pub fn others_open_among<'a>(
    subs: impl Iterator<Item = &'a Submission>,
    author: MemberId,
    at: Timestamp,
    id: SubmissionId,
) -> u32 {
    subs.filter(|s| s.author == author && (s.submitted_at, s.id) < (at, id))
        .filter(|s| open_at(s, at))
        .count() as u32
}

/// For every submission by an author `wanted` keeps, how many of that author's earlier pieces
/// were open when it came in.
///
/// One sweep per author in submission order, holding the closing times of the pieces still
/// open in a min-heap: `O(k log k)` for an author with `k` pieces, where comparing every pair
/// made one prolific author cost seconds.
fn others_open_at_submission<'a>(
    subs: impl Iterator<Item = &'a Submission>,
    wanted: impl Fn(MemberId) -> bool,
) -> BTreeMap<SubmissionId, u32> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let mut by_author: BTreeMap<MemberId, Vec<&Submission>> = BTreeMap::new();
    for s in subs.filter(|s| wanted(s.author)) {
        by_author.entry(s.author).or_default().push(s);
    }
    let mut out = BTreeMap::new();
    for subs in by_author.values_mut() {
        subs.sort_by_key(|s| (s.submitted_at, s.id));
        let mut open: BinaryHeap<Reverse<Timestamp>> = BinaryHeap::new();
        for s in subs.iter() {
            while open
                .peek()
                .is_some_and(|Reverse(closed)| *closed <= s.submitted_at)
            {
                open.pop();
            }
            out.insert(s.id, open.len() as u32);
            open.push(Reverse(closed_at(s).unwrap_or(Timestamp::MAX)));
        }
    }
    out
}

/// When `sub` stopped being open (see [`open_at`]): withdrawn, or the moment its last wanted
/// reviewer first delivered; `None` while it is still open.
fn closed_at(sub: &Submission) -> Option<Timestamp> {
    let mut first: BTreeMap<MemberId, Timestamp> = BTreeMap::new();
    for c in sub.critiques.values() {
        let at = first.entry(c.reviewer).or_insert(c.delivered_at);
        *at = (*at).min(c.delivered_at);
    }
    let mut times: Vec<Timestamp> = first.into_values().collect();
    times.sort();
    let full = match sub.critiques_wanted as usize {
        0 => Some(sub.submitted_at),
        wanted => times.get(wanted - 1).copied(),
    };
    match (sub.withdrawn_at, full) {
        (Some(w), Some(f)) => Some(w.min(f)),
        (w, f) => w.or(f),
    }
}
