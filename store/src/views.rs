//! Derived views: pure functions of the group and the current time, never stored.
//!
//! Every peer with the same document heads and the same `now` computes the same answer, which
//! is what makes concurrent claims fair: when more members claim a piece than it has slots,
//! the claims are ordered by `(claimed_at, MemberId)` on every device alike, the first take the
//! slots and the rest wait in line, moving up as claims lapse or are released.

use std::collections::BTreeSet;

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
    /// Live claims that hold a slot, first claimed first.
    pub holders: Vec<(MemberId, Claim)>,
    /// Live claims beyond the slots, in the order they will move up.
    pub waiting: Vec<(MemberId, Claim)>,
    /// Claims that ran out without a critique.
    pub lapsed: Vec<MemberId>,
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
pub fn claim_line(sub: &Submission, now: Timestamp) -> ClaimLine {
    let delivered: BTreeSet<MemberId> = sub.critiques.values().map(|c| c.reviewer).collect();
    let mut live: Vec<(MemberId, Claim)> = Vec::new();
    let mut lapsed = Vec::new();
    for (member, claim) in &sub.claims {
        if delivered.contains(member) {
            continue;
        }
        if now < claim.expires_at {
            live.push((*member, *claim));
        } else {
            lapsed.push(*member);
        }
    }
    live.sort_by_key(|(member, claim)| (claim.at, *member));
    let free = (sub.critiques_wanted as usize).saturating_sub(delivered.len());
    let waiting = live.split_off(free.min(live.len()));
    ClaimLine {
        delivered: delivered.into_iter().collect(),
        holders: live,
        waiting,
        lapsed,
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
    if sub.withdrawn_at.is_some() {
        return Status::Withdrawn;
    }
    let line = claim_line(sub, now);
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

/// The queue at `now`: pieces still wanting critiques first, soonest due first, then finished
/// and withdrawn pieces; ties broken by submission time and id so every peer agrees.
pub fn queue(group: &Group, now: Timestamp) -> Vec<QueueEntry> {
    let mut rows: Vec<QueueEntry> = group
        .submissions
        .values()
        .map(|s| QueueEntry {
            id: s.id,
            title: s.title.clone(),
            author: s.author,
            author_name: group.name_of(s.author),
            genre: s.genre.clone(),
            word_count: s.word_count,
            due_at: s.due_at,
            submitted_at: s.submitted_at,
            critiques: s
                .critiques
                .values()
                .map(|c| c.reviewer)
                .collect::<BTreeSet<_>>()
                .len() as u32,
            status: status(s, now),
        })
        .collect();
    rows.sort_by(|a, b| {
        let rank = |s: &Status| match s {
            Status::Open | Status::Claimed { .. } => 0,
            Status::Critiqued => 1,
            Status::Withdrawn => 2,
        };
        rank(&a.status)
            .cmp(&rank(&b.status))
            .then_with(|| match (a.due_at, b.due_at) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            })
            .then(a.submitted_at.cmp(&b.submitted_at))
            .then(a.id.cmp(&b.id))
    });
    rows
}
