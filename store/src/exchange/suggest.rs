//! What a member should critique next, and why: pieces they can still take, the least
//! critiqued first, then their genres, then authors who critiqued them and whom they have not
//! repaid, then the nearest deadline. Members on hiatus get no suggestions.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;

use crate::ids::{MemberId, SubmissionId};
use crate::model::{Group, Submission};
use crate::views::{ClaimLine, claim_line, due_order};

/// One piece to critique, with the reasons it is suggested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    /// The piece.
    pub submission: SubmissionId,
    /// Its title.
    pub title: String,
    /// Its author.
    pub author: MemberId,
    /// The author's name.
    pub author_name: String,
    /// Its genre.
    pub genre: String,
    /// Its length.
    pub word_count: u32,
    /// When critiques are wanted by.
    pub due_at: Option<Date>,
    /// Critiques delivered so far.
    pub critiques: u32,
    /// Slots free to claim now.
    pub open_slots: u32,
    /// Why it is suggested, most important first.
    pub reasons: Vec<String>,
}

/// Critiques each member gave each other member: `given[(reviewer, author)]`.
#[derive(Debug, Default, Clone)]
pub struct Exchanges(BTreeMap<(MemberId, MemberId), u32>);

impl Exchanges {
    /// Counts every critique in the group.
    pub fn of(group: &Group) -> Self {
        Self::among(group.submissions.values())
    }

    /// Counts the critiques of `subs`. Those a member wrote or critiqued are enough for what
    /// they owe and are owed ([`Exchanges::owed`] with them as `me`).
    pub fn among<'a>(subs: impl Iterator<Item = &'a Submission>) -> Self {
        let mut given = BTreeMap::new();
        for sub in subs {
            for c in sub.critiques.values() {
                *given.entry((c.reviewer, sub.author)).or_insert(0) += 1;
            }
        }
        Self(given)
    }

    /// Critiques `reviewer` gave `author`.
    pub fn given(&self, reviewer: MemberId, author: MemberId) -> u32 {
        self.0.get(&(reviewer, author)).copied().unwrap_or(0)
    }

    /// How many more critiques `author` gave `me` than `me` gave `author`.
    pub fn owed(&self, me: MemberId, author: MemberId) -> u32 {
        self.given(author, me)
            .saturating_sub(self.given(me, author))
    }
}

/// What `me` should critique next at `now`, best first.
pub fn suggestions(group: &Group, me: MemberId, now: Timestamp) -> Vec<Suggestion> {
    suggestions_with(group, &Exchanges::of(group), me, now)
}

/// A piece `me` could take: not theirs, not withdrawn, not critiqued or claimed by them, with
/// a slot free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opening {
    /// Critiques delivered so far.
    pub critiques: u32,
    /// Slots free to claim now.
    pub open_slots: u32,
}

impl Opening {
    /// Whether `sub`, whose claim line is `line`, is open to `me`.
    pub fn of(sub: &Submission, line: &ClaimLine, me: MemberId) -> Option<Opening> {
        if sub.withdrawn_at.is_some() || sub.author == me || sub.critique_by(me).is_some() {
            return None;
        }
        if line.position_of(me).is_some() {
            return None;
        }
        let taken = line.delivered.len() + line.holders.len();
        let open_slots = (sub.critiques_wanted as usize).saturating_sub(taken) as u32;
        (open_slots > 0).then_some(Opening {
            critiques: line.delivered.len() as u32,
            open_slots,
        })
    }
}

/// Where a suggestion ranks, best first: the least critiqued, then in the member's genres,
/// then by authors they owe, then the nearest deadline, then the oldest.
pub type Rank = (
    u32,
    Reverse<bool>,
    Reverse<bool>,
    (bool, Option<Date>),
    Timestamp,
    SubmissionId,
);

/// The rank of `sub` with `opening` for a member whose genres hold it or not (`in_genre`) and
/// who owes its author or not (`owes`).
pub fn rank(sub: &Submission, opening: Opening, in_genre: bool, owes: bool) -> Rank {
    (
        opening.critiques,
        Reverse(in_genre),
        Reverse(owes),
        due_order(sub.due_at),
        sub.submitted_at,
        sub.id,
    )
}

/// The suggestion of `sub` with `opening` to `me`, whose genres are `genres`, with the reasons.
pub fn suggestion(
    group: &Group,
    exchanges: &Exchanges,
    me: MemberId,
    genres: &BTreeSet<String>,
    sub: &Submission,
    opening: Opening,
) -> Suggestion {
    let critiques = opening.critiques;
    let in_genre = genres.contains(&sub.genre);
    let owed = exchanges.owed(me, sub.author);
    let author_name = group.name_of(sub.author);
    let mut reasons = vec![match critiques {
        0 => "no critiques yet".to_string(),
        n => format!("{n} of {} critiques so far", sub.critiques_wanted),
    }];
    if in_genre {
        reasons.push(format!("in your genre ({})", sub.genre));
    }
    if owed > 0 {
        let times = if owed == 1 {
            "once".to_string()
        } else {
            format!("{owed} times")
        };
        reasons.push(format!(
            "{author_name} critiqued you {times} more than you critiqued them"
        ));
    }
    if let Some(due) = sub.due_at {
        reasons.push(format!("due {due}"));
    }
    Suggestion {
        submission: sub.id,
        title: sub.title.clone(),
        author: sub.author,
        author_name,
        genre: sub.genre.clone(),
        word_count: sub.word_count,
        due_at: sub.due_at,
        critiques,
        open_slots: opening.open_slots,
        reasons,
    }
}

/// Whether `me` gets suggestions at `now`: a current member, not on hiatus. Their genres if so.
pub fn suggested_to(group: &Group, me: MemberId, now: Timestamp) -> Option<&BTreeSet<String>> {
    let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
    let member = group.members.get(&me).filter(|m| m.is_current())?;
    (!member.on_hiatus(today)).then_some(&member.profile.genres)
}

/// [`suggestions`] with the exchange counts already made, for suggesting to many members.
pub fn suggestions_with(
    group: &Group,
    exchanges: &Exchanges,
    me: MemberId,
    now: Timestamp,
) -> Vec<Suggestion> {
    best_suggestions(group, exchanges, me, now, usize::MAX)
}

/// The first `n` of [`suggestions_with`]; only those are put in words.
pub fn best_suggestions(
    group: &Group,
    exchanges: &Exchanges,
    me: MemberId,
    now: Timestamp,
    n: usize,
) -> Vec<Suggestion> {
    let Some(genres) = suggested_to(group, me, now) else {
        return Vec::new();
    };
    let mut ranked = Vec::new();
    for sub in group.submissions.values() {
        if sub.withdrawn_at.is_some() || sub.author == me || sub.critique_by(me).is_some() {
            continue;
        }
        let Some(opening) = Opening::of(sub, &claim_line(sub, now), me) else {
            continue;
        };
        let owes = exchanges.owed(me, sub.author) > 0;
        ranked.push((
            rank(sub, opening, genres.contains(&sub.genre), owes),
            sub,
            opening,
        ));
    }
    ranked.sort_by_key(|(key, _, _)| *key);
    ranked
        .into_iter()
        .take(n)
        .map(|(_, sub, opening)| suggestion(group, exchanges, me, genres, sub, opening))
        .collect()
}
