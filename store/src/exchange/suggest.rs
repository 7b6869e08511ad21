//! What a member should critique next, and why: pieces they can still take, the least
//! critiqued first, then their genres, then authors who critiqued them and whom they have not
//! repaid, then the nearest deadline. Members on hiatus get no suggestions.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;

use crate::ids::{MemberId, SubmissionId};
use crate::model::Group;
use crate::views::{claim_line, due_order};

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
        let mut given = BTreeMap::new();
        for sub in group.submissions.values() {
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

/// [`suggestions`] with the exchange counts already made, for suggesting to many members.
pub fn suggestions_with(
    group: &Group,
    exchanges: &Exchanges,
    me: MemberId,
    now: Timestamp,
) -> Vec<Suggestion> {
    let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
    let Some(member) = group.members.get(&me).filter(|m| m.is_current()) else {
        return Vec::new();
    };
    if member.on_hiatus(today) {
        return Vec::new();
    }
    let genres = &member.profile.genres;
    let mut ranked = Vec::new();
    for sub in group.submissions.values() {
        if sub.withdrawn_at.is_some() || sub.author == me || sub.critique_by(me).is_some() {
            continue;
        }
        let line = claim_line(sub, now);
        if line.position_of(me).is_some() {
            continue;
        }
        let taken = line.delivered.len() + line.holders.len();
        let open_slots = (sub.critiques_wanted as usize).saturating_sub(taken) as u32;
        if open_slots == 0 {
            continue;
        }
        let critiques = line.delivered.len() as u32;
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
        let key = (
            critiques,
            Reverse(in_genre),
            Reverse(owed > 0),
            due_order(sub.due_at),
            sub.submitted_at,
            sub.id,
        );
        ranked.push((
            key,
            Suggestion {
                submission: sub.id,
                title: sub.title.clone(),
                author: sub.author,
                author_name,
                genre: sub.genre.clone(),
                word_count: sub.word_count,
                due_at: sub.due_at,
                critiques,
                open_slots,
                reasons,
            },
        ));
    }
    ranked.sort_by_key(|(key, _)| *key);
    ranked.into_iter().map(|(_, s)| s).collect()
}
