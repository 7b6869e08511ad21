//! How a member keeps their promises and trades critiques: claims delivered on time out of
//! claims made, critiques given and received, the ratings their critiques earned, and the
//! history between two members.

use jiff::Timestamp;
use serde::Serialize;

use crate::ids::{CritiqueId, MemberId, SubmissionId};
use crate::model::Group;
use crate::views::{claim_line, held_at};

/// A member's record as a reviewer and an author.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Reliability {
    /// Claims made, released ones included.
    pub claims_made: u32,
    /// Critiques delivered while the claim held a slot.
    pub delivered_on_time: u32,
    /// Critiques delivered after the claim had lapsed (possible only offline).
    pub delivered_late: u32,
    /// Claims that ran out without a critique.
    pub lapsed: u32,
    /// Claims let go before they ran out; they do not count against the member.
    pub released: u32,
    /// Claims still running.
    pub open: u32,
    /// Critiques given.
    pub critiques_given: u32,
    /// Critiques received on their own pieces.
    pub critiques_received: u32,
    /// Sum of the ratings authors gave their critiques.
    pub rating_sum: u32,
    /// How many of their critiques were rated.
    pub ratings: u32,
}

impl Reliability {
    /// Claims that have an outcome: delivered or lapsed.
    pub fn settled(&self) -> u32 {
        self.delivered_on_time + self.delivered_late + self.lapsed
    }

    /// "4/5 claims delivered on time", or `None` before any claim has an outcome.
    pub fn summary(&self) -> Option<String> {
        (self.settled() > 0).then(|| {
            format!(
                "{}/{} claims delivered on time",
                self.delivered_on_time,
                self.settled()
            )
        })
    }

    /// The average rating of their critiques, to one decimal ("4.5"), computed in integers.
    pub fn average_rating(&self) -> Option<String> {
        (self.ratings > 0).then(|| {
            let tenths = (self.rating_sum * 10 + self.ratings / 2) / self.ratings;
            format!("{}.{}", tenths / 10, tenths % 10)
        })
    }
}

/// `member`'s record at `now`.
pub fn reliability(group: &Group, member: MemberId, now: Timestamp) -> Reliability {
    let mut r = Reliability::default();
    for sub in group.submissions.values() {
        if sub.author == member {
            r.critiques_received += sub.critiques.len() as u32;
        }
        let critique = sub.critique_by(member);
        if let Some(c) = critique {
            r.critiques_given += 1;
            if let Some(rating) = c.rating {
                r.rating_sum += u32::from(rating);
                r.ratings += 1;
            }
        }
        let Some(claim) = sub.claims.get(&member) else {
            continue;
        };
        r.claims_made += 1;
        match critique {
            Some(c) if held_at(sub, member, c.delivered_at) => r.delivered_on_time += 1,
            Some(_) => r.delivered_late += 1,
            None if claim.released_at.is_some_and(|at| at <= now) => r.released += 1,
            None if claim_line(sub, now).lapsed_at(member).is_some() => r.lapsed += 1,
            None => r.open += 1,
        }
    }
    r
}

/// One critique between two members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Interaction {
    /// When it was delivered.
    pub at: Timestamp,
    /// Who wrote it.
    pub reviewer: MemberId,
    /// Whose piece it was.
    pub author: MemberId,
    /// The piece.
    pub submission: SubmissionId,
    /// Its title.
    pub title: String,
    /// The critique.
    pub critique: CritiqueId,
    /// Its length.
    pub words: u32,
    /// The author's rating of it.
    pub rating: Option<u8>,
}

/// Every critique between `a` and `b`, either way, newest first.
pub fn interactions(group: &Group, a: MemberId, b: MemberId) -> Vec<Interaction> {
    let mut out = Vec::new();
    for sub in group.submissions.values() {
        if sub.author != a && sub.author != b {
            continue;
        }
        for c in sub.critiques.values() {
            let between =
                (sub.author == a && c.reviewer == b) || (sub.author == b && c.reviewer == a);
            if between && a != b {
                out.push(Interaction {
                    at: c.delivered_at,
                    reviewer: c.reviewer,
                    author: sub.author,
                    submission: sub.id,
                    title: sub.title.clone(),
                    critique: c.id,
                    words: c.word_count,
                    rating: c.rating,
                });
            }
        }
    }
    out.sort_by_key(|i| std::cmp::Reverse((i.at, i.critique)));
    out
}
