//! Derived views: pure functions of the group and the current time, never stored.
//!
//! Every peer with the same document heads and the same `now` computes the same answer, which
//! is what makes concurrent claims fair: when more members claim a piece than it has slots,
//! the claims are ordered by `(claimed_at, MemberId)` on every device alike, the first take the
//! slots and the rest wait in line, moving up as claims lapse or are released.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;

use crate::ids::{MemberId, SubmissionId};
use crate::model::{Claim, Group, Submission};

/// Who holds and who waits for a submission's critique slots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClaimLine {
    /// Reviewers who delivered a critique; each fills a slot for good.
    pub delivered: Vec<MemberId>,
    /// Live claims that hold a slot, first claimed first. Each claim's `expires_at` is when
    /// it lapses as things stand: a claim that waited in line gets its whole period again from
    /// the moment it moved up.
    pub holders: Vec<(MemberId, Claim)>,
    /// Live claims beyond the slots, in the order they will move up.
    pub waiting: Vec<(MemberId, Claim)>,
    /// Claims that ran out without a critique, with when they lapsed.
    pub lapsed: Vec<(MemberId, Timestamp)>,
}

impl ClaimLine {
    /// `member`'s place: holding a slot, or waiting at a 1-based position.
    pub fn position_of(&self, member: MemberId) -> Option<LinePosition> {
        if self.holders.iter().any(|(m, _)| *m == member) {
            return Some(LinePosition::Holder);
        }
        self.waiting
            .iter()
            .position(|(m, _)| *m == member)
            .map(|i| LinePosition::Waiting(i + 1))
    }

    /// When `member`'s claim lapsed, if it did.
    pub fn lapsed_at(&self, member: MemberId) -> Option<Timestamp> {
        self.lapsed
            .iter()
            .find(|(m, _)| *m == member)
            .map(|(_, at)| *at)
    }
}

/// Where a claim stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LinePosition {
    /// It holds a slot: the member may deliver a critique.
    Holder,
    /// It waits in line at this 1-based position.
    Waiting(usize),
}

/// The claim line of `sub` at `now`.
///
/// The claims are replayed in `(claimed_at, MemberId)` order: a claim takes a free slot when
/// it is made, or waits in line. When a holder's period runs out (it lapses) or its member lets
/// it go, the first in line moves up, and its period starts then, so waiting never eats into
/// the time to write the critique. A delivered critique keeps its slot for good; one delivered
/// by a member who had no slot (offline, say) takes one anyway when it arrives.
pub fn claim_line(sub: &Submission, now: Timestamp) -> ClaimLine {
    claim_line_until(sub, now).0
}

/// The claim line of `sub` at `now`, and the first moment after `now` at which it reads
/// differently although the submission stays as it is: a claim lapses or is let go, one in
/// line moves up, a critique delivered takes or keeps its slot. `None` if the line stays as
/// it is for good. Whoever keeps views of the line needs to look again only then.
pub fn claim_line_until(sub: &Submission, now: Timestamp) -> (ClaimLine, Option<Timestamp>) {
    let delivered: BTreeSet<MemberId> = sub.critiques.values().map(|c| c.reviewer).collect();
    let replay = replay(sub, None, now);
    let line = ClaimLine {
        delivered: delivered.into_iter().collect(),
        holders: replay.holders,
        waiting: replay.waiting,
        lapsed: replay.lapsed,
    };
    (line, replay.next)
}

/// Whether `member`'s claim on `sub` held a slot at `t`, counting their own critique as not
/// yet delivered: a critique delivered at `t` was on time if this is true.
pub fn held_at(sub: &Submission, member: MemberId, t: Timestamp) -> bool {
    replay(sub, Some(member), t)
        .holders
        .iter()
        .any(|(m, _)| *m == member)
}

struct Replay {
    holders: Vec<(MemberId, Claim)>,
    waiting: Vec<(MemberId, Claim)>,
    lapsed: Vec<(MemberId, Timestamp)>,
    /// The first moment after `now` at which the replay would go on, or a holder's critique
    /// would count as delivered.
    next: Option<Timestamp>,
}

/// Someone in the replay: a claim, a critique, or both.
struct Party {
    member: MemberId,
    /// When they enter the line: their claim, or their critique if they never claimed.
    at: Timestamp,
    claim: Option<Claim>,
    delivered: Option<Timestamp>,
}

impl Party {
    fn released(&self) -> Timestamp {
        self.claim
            .and_then(|c| c.released_at)
            .unwrap_or(Timestamp::MAX)
    }
}

/// Where each party stands during the replay.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Before,
    /// Holding a slot until this time (by lapse or release); `None` for good.
    Holding(Option<Timestamp>, Claim),
    Waiting,
    Out,
}

/// Replays the line of `sub` up to `now`, treating `undelivered`'s critique as not there.
fn replay(sub: &Submission, undelivered: Option<MemberId>, now: Timestamp) -> Replay {
    let mut critiques: BTreeMap<MemberId, Timestamp> = BTreeMap::new();
    for c in sub.critiques.values() {
        if Some(c.reviewer) != undelivered {
            let at = critiques.entry(c.reviewer).or_insert(c.delivered_at);
            *at = (*at).min(c.delivered_at);
        }
    }
    let mut parties: Vec<Party> = sub
        .claims
        .iter()
        .map(|(m, c)| Party {
            member: *m,
            at: c.at,
            claim: Some(*c),
            delivered: critiques.get(m).copied(),
        })
        .collect();
    for (m, at) in &critiques {
        if !sub.claims.contains_key(m) {
            parties.push(Party {
                member: *m,
                at: *at,
                claim: None,
                delivered: Some(*at),
            });
        }
    }
    parties.sort_by_key(|p| (p.at, p.member));
    let wanted = sub.critiques_wanted as usize;
    let mut place = vec![Place::Before; parties.len()];
    let mut waiting: Vec<usize> = Vec::new();
    let mut lapsed: Vec<(MemberId, Timestamp)> = Vec::new();
    let mut later: Option<Timestamp>;
    loop {
        // The next thing to happen, at or before `now`: (time, kind, party). At the same
        // moment a slot ends before a critique forces its way in, before a claim arrives.
        // What would happen after `now` is noted too: once nothing is left before it, the
        // soonest of it is when the line changes next.
        let mut next: Option<(Timestamp, u8, usize)> = None;
        later = None;
        let mut consider = |t: Timestamp, kind: u8, i: usize| {
            if t > now {
                later = Some(later.map_or(t, |l: Timestamp| l.min(t)));
            } else if next.is_none_or(|n| (t, kind, i) < n) {
                next = Some((t, kind, i));
            }
        };
        for (i, p) in parties.iter().enumerate() {
            match place[i] {
                Place::Holding(Some(end), _) => consider(end, 0, i),
                Place::Waiting | Place::Out => {
                    if let Some(d) = p.delivered {
                        consider(d, 1, i);
                    }
                }
                Place::Before => consider(p.at, 2, i),
                Place::Holding(None, _) => {}
            }
        }
        let Some((t, kind, i)) = next else { break };
        let p = &parties[i];
        match kind {
            0 => {
                let Place::Holding(_, claim) = place[i] else {
                    unreachable!("only holders end")
                };
                match p.delivered {
                    // Delivered in time: the slot is theirs for good.
                    Some(d) if d <= t => place[i] = Place::Holding(None, claim),
                    _ => {
                        if claim.expires_at <= p.released() {
                            lapsed.push((p.member, t));
                        }
                        place[i] = Place::Out;
                    }
                }
            }
            1 => {
                waiting.retain(|w| *w != i);
                lapsed.retain(|(m, _)| *m != p.member);
                let claim = p.claim.unwrap_or(Claim {
                    at: t,
                    expires_at: t,
                    released_at: None,
                });
                place[i] = Place::Holding(None, claim);
            }
            _ => {
                // A critique without a claim waits only until it forces its way in.
                if p.claim.is_none() {
                    place[i] = Place::Waiting;
                } else if p.released() <= t {
                    place[i] = Place::Out;
                } else {
                    place[i] = Place::Waiting;
                    waiting.push(i);
                }
            }
        }
        // Drop claims let go while waiting, then fill free slots from the line.
        waiting.retain(|w| {
            let gone = parties[*w].released() <= t;
            if gone {
                place[*w] = Place::Out;
            }
            !gone
        });
        let mut held = place
            .iter()
            .filter(|p| matches!(p, Place::Holding(..)))
            .count();
        while held < wanted && !waiting.is_empty() {
            let w = waiting.remove(0);
            if let Some(c) = parties[w].claim {
                // Moving up at `t`: its whole period runs from then (from its claim if it
                // never had to wait).
                let claim = if t == c.at { c } else { moved_up(c, t) };
                let end = claim.expires_at.min(parties[w].released());
                place[w] = Place::Holding(Some(end), claim);
                held += 1;
            }
        }
    }
    let mut holders: Vec<(MemberId, Claim)> = Vec::new();
    for (i, p) in parties.iter().enumerate() {
        if let Place::Holding(_, claim) = place[i]
            && p.delivered.is_none_or(|d| d > now)
        {
            holders.push((p.member, claim));
            // A holder's critique, once delivered, fills its slot instead of the claim.
            if let Some(d) = p.delivered {
                later = Some(later.map_or(d, |l| l.min(d)));
            }
        }
    }
    holders.sort_by_key(|(member, claim)| (claim.at, *member));
    Replay {
        holders,
        waiting: waiting
            .iter()
            .filter_map(|w| parties[*w].claim.map(|c| (parties[*w].member, c)))
            .collect(),
        lapsed,
        next: later,
    }
}

/// A waiting claim that takes a slot at `at`: its whole period runs from then.
fn moved_up(claim: Claim, at: Timestamp) -> Claim {
    Claim {
        expires_at: at.saturating_add(claim.period()).unwrap_or(Timestamp::MAX),
        ..claim
    }
}

/// Where a submission stands in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// No one has claimed it yet.
    Open,
    /// Some slots are taken (by claims or delivered critiques).
    Claimed {
        /// Slots taken.
        taken: u32,
        /// Slots wanted.
        wanted: u32,
    },
    /// It has all the critiques it wanted.
    Critiqued,
    /// Its author withdrew it.
    Withdrawn,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Status::Open => f.write_str("open"),
            Status::Claimed { taken, wanted } => write!(f, "claimed {taken}/{wanted}"),
            Status::Critiqued => f.write_str("critiqued"),
            Status::Withdrawn => f.write_str("withdrawn"),
        }
    }
}

/// The status of `sub` at `now`.
pub fn status(sub: &Submission, now: Timestamp) -> Status {
    status_on(sub, &claim_line(sub, now))
}

/// The status of `sub` given its claim line.
fn status_on(sub: &Submission, line: &ClaimLine) -> Status {
    if sub.withdrawn_at.is_some() {
        return Status::Withdrawn;
    }
    let delivered = line.delivered.len() as u32;
    if delivered >= sub.critiques_wanted {
        return Status::Critiqued;
    }
    let taken = delivered + line.holders.len() as u32;
    if taken == 0 {
        Status::Open
    } else {
        Status::Claimed {
            taken,
            wanted: sub.critiques_wanted,
        }
    }
}

/// Orders due dates soonest first, pieces without one last.
pub(crate) fn due_order(due: Option<Date>) -> (bool, Option<Date>) {
    (due.is_none(), due)
}

/// One row of the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueEntry {
    /// The submission.
    pub id: SubmissionId,
    /// Its title.
    pub title: String,
    /// Its author.
    pub author: MemberId,
    /// The author's display name.
    pub author_name: String,
    /// Its genre.
    pub genre: String,
    /// Its length.
    pub word_count: u32,
    /// When critiques are wanted by.
    pub due_at: Option<Date>,
    /// When it was submitted.
    pub submitted_at: Timestamp,
    /// Critiques delivered.
    pub critiques: u32,
    /// Where it stands.
    #[serde(flatten)]
    pub status: Status,
}

/// Where a row stands in the queue: lower first.
pub type QueueKey = (u8, (bool, Option<Date>), Timestamp, SubmissionId);

/// The queue at `now`: pieces still wanting critiques first, soonest due first, then finished
/// and withdrawn pieces; ties broken by submission time and id so every peer agrees.
pub fn queue(group: &Group, now: Timestamp) -> Vec<QueueEntry> {
    let mut rows: Vec<QueueEntry> = group
        .submissions
        .values()
        .map(|s| queue_entry(group, s, &claim_line(s, now)))
        .collect();
    rows.sort_by_key(queue_key);
    rows
}

/// The queue row of `sub`, whose claim line is `line`.
pub fn queue_entry(group: &Group, sub: &Submission, line: &ClaimLine) -> QueueEntry {
    QueueEntry {
        id: sub.id,
        title: sub.title.clone(),
        author: sub.author,
        author_name: group.name_of(sub.author),
        genre: sub.genre.clone(),
        word_count: sub.word_count,
        due_at: sub.due_at,
        submitted_at: sub.submitted_at,
        critiques: line.delivered.len() as u32,
        status: status_on(sub, line),
    }
}

/// Where `entry` stands in [`queue`]'s order.
pub fn queue_key(entry: &QueueEntry) -> QueueKey {
    let rank = match entry.status {
        Status::Open | Status::Claimed { .. } => 0,
        Status::Critiqued => 1,
        Status::Withdrawn => 2,
    };
    (rank, due_order(entry.due_at), entry.submitted_at, entry.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::CritiqueId;
    use crate::model::Critique;
    use jiff::SignedDuration;
    use proptest::prelude::*;

    fn at(hours: i64) -> Timestamp {
        Timestamp::UNIX_EPOCH + SignedDuration::from_hours(1_000 + hours)
    }

    /// A piece with up to six parties: (member, claimed at, period, released after,
    /// delivered at), hours from the epoch.
    type Party = (u8, Option<(i64, i64, Option<i64>)>, Option<i64>);

    fn piece(wanted: u32, parties: &[Party]) -> Submission {
        let mut sub = Submission {
            id: SubmissionId::from_bytes([1; 16]),
            author: MemberId::from_bytes([0; 16]),
            title: "The Mill".into(),
            genre: "ya".into(),
            word_count: 10,
            text: String::new(),
            feedback_wanted: String::new(),
            content_notes: String::new(),
            submitted_at: at(0),
            due_at: None,
            critiques_wanted: wanted,
            withdrawn_at: None,
            claims: BTreeMap::new(),
            critiques: BTreeMap::new(),
        };
        for (member, claim, delivered) in parties {
            let m = MemberId::from_bytes([*member; 16]);
            if let Some((claimed, period, released)) = claim {
                sub.claims.insert(
                    m,
                    Claim {
                        at: at(*claimed),
                        expires_at: at(claimed + period),
                        released_at: released.map(|r| at(claimed + r)),
                    },
                );
            }
            if let Some(d) = delivered {
                let id = CritiqueId::from_bytes([*member; 16]);
                sub.critiques.insert(
                    id,
                    Critique {
                        id,
                        reviewer: m,
                        body: "ok".into(),
                        word_count: 1,
                        delivered_at: at(*d),
                        rating: None,
                        thanked_at: None,
                        tipped_at: None,
                    },
                );
            }
        }
        sub
    }

    fn party() -> impl Strategy<Value = Party> {
        (
            1u8..7,
            proptest::option::of((0i64..100, 1i64..50, proptest::option::of(0i64..60))),
            proptest::option::weighted(0.4, 0i64..150),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// The line reads the same at every moment before the change `claim_line_until` names.
        #[test]
        fn the_line_stays_as_it_is_until_its_next_change(
            wanted in 0u32..4,
            parties in proptest::collection::vec(party(), 0..6),
            now in -10i64..160,
            fractions in proptest::collection::vec(0.0f64..1.0, 4),
        ) {
            let sub = piece(wanted, &parties);
            let now = at(now);
            let (line, next) = claim_line_until(&sub, now);
            prop_assert_eq!(&line, &claim_line(&sub, now));
            let until = next.unwrap_or(at(10_000));
            prop_assert!(until > now);
            let span = until.duration_since(now).as_secs_f64();
            for f in fractions {
                let t = now + SignedDuration::from_secs_f64(span * f);
                if t < until {
                    prop_assert_eq!(&claim_line(&sub, t), &line, "at {} (next {:?})", t, next);
                }
            }
            let just_before = until - SignedDuration::from_nanos(1);
            prop_assert_eq!(&claim_line(&sub, just_before), &line);
        }
    }
}
