//! What needs a member: derived from the group and their personal document, never stored.
//!
//! * a critique of one of my pieces (unread until I open it);
//! * each claim of mine holding a slot, with when it lapses, flagged a day before it does;
//!   and a claim waiting in line, with its place;
//! * a piece newly submitted by someone else in one of my genres (unread until I open it);
//! * a critique of mine its author thanked or tipped me for (unread until I see it).
//!
//! Read state is [`Personal::read`], keyed by [`InboxItem::key`]. Unread items stay until they
//! are read; read ones (and unread new pieces) drop out after [`KEPT_DAYS`].

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::ids::{CritiqueId, MemberId, SubmissionId};
use crate::model::{Group, Submission};
use crate::personal::Personal;
use crate::text::fold;
use crate::views::{LinePosition, claim_line};

/// How long a read item, or a new piece nobody opened, stays in the inbox.
pub const KEPT_DAYS: i64 = 30;
/// Most new pieces in my genres shown, the newest: a busy group submits more than anyone
/// reads.
pub const NEW_PIECES_SHOWN: usize = 50;
/// How long before a claim lapses it is flagged.
pub const LAPSE_WARNING: SignedDuration = SignedDuration::from_hours(24);

/// What an inbox item is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InboxKind {
    /// A critique of my piece.
    Critique {
        /// The piece.
        submission: SubmissionId,
        /// The critique.
        critique: CritiqueId,
        /// Who wrote it.
        reviewer: MemberId,
    },
    /// My claim that holds a slot.
    Claim {
        /// The piece.
        submission: SubmissionId,
        /// When it lapses without a critique.
        expires_at: Timestamp,
        /// Whether that is within a day.
        lapsing: bool,
    },
    /// My claim waiting in line for a slot.
    Waiting {
        /// The piece.
        submission: SubmissionId,
        /// My place in line, from 1.
        position: usize,
    },
    /// A new piece in one of my genres.
    NewPiece {
        /// The piece.
        submission: SubmissionId,
        /// Its author.
        author: MemberId,
    },
    /// The author thanked me for my critique.
    Thanked {
        /// The piece.
        submission: SubmissionId,
        /// My critique.
        critique: CritiqueId,
    },
    /// The author tipped me for my critique.
    Tipped {
        /// The piece.
        submission: SubmissionId,
        /// My critique.
        critique: CritiqueId,
    },
}

/// One thing that needs me.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InboxItem {
    /// Its key in the personal document's read state.
    pub key: String,
    /// What it is.
    #[serde(flatten)]
    pub kind: InboxKind,
    /// When it happened (a claim: when it lapses).
    #[serde(with = "crate::serde_time")]
    pub at: Timestamp,
    /// The piece's title.
    pub title: String,
    /// Who it is from (the reviewer, the author), if anyone.
    pub from: Option<String>,
    /// Whether it waits to be read (claims are never unread: they stay while they hold).
    pub unread: bool,
}

impl InboxItem {
    /// The piece it is about.
    pub fn submission(&self) -> SubmissionId {
        match &self.kind {
            InboxKind::Critique { submission, .. }
            | InboxKind::Claim { submission, .. }
            | InboxKind::Waiting { submission, .. }
            | InboxKind::NewPiece { submission, .. }
            | InboxKind::Thanked { submission, .. }
            | InboxKind::Tipped { submission, .. } => *submission,
        }
    }

    /// Whether it asks for something soon: a claim about to lapse.
    pub fn urgent(&self) -> bool {
        matches!(self.kind, InboxKind::Claim { lapsing: true, .. })
    }

    /// One line saying what it is.
    pub fn headline(&self) -> String {
        let from = self.from.as_deref().unwrap_or("someone");
        match &self.kind {
            InboxKind::Critique { .. } => format!("{from} critiqued “{}”", self.title),
            InboxKind::Claim { lapsing: true, .. } => {
                format!("Your claim on “{}” lapses within a day", self.title)
            }
            InboxKind::Claim { .. } => format!("You claimed “{}”", self.title),
            InboxKind::Waiting { position, .. } => {
                format!("You are number {position} in line for “{}”", self.title)
            }
            InboxKind::NewPiece { .. } => format!("New in your genres: “{}” by {from}", self.title),
            InboxKind::Thanked { .. } => {
                format!("{from} thanked you for your critique of “{}”", self.title)
            }
            InboxKind::Tipped { .. } => {
                format!("{from} tipped you for your critique of “{}”", self.title)
            }
        }
    }
}

/// The key of a critique of my piece.
pub fn critique_key(critique: CritiqueId) -> String {
    format!("critique/{critique}")
}

/// The key of a new piece.
pub fn piece_key(submission: SubmissionId) -> String {
    format!("piece/{submission}")
}

/// The key of the thanks for my critique.
fn thanks_key(critique: CritiqueId) -> String {
    format!("thanks/{critique}")
}

/// The key of the tip for my critique.
fn tip_key(critique: CritiqueId) -> String {
    format!("tip/{critique}")
}

/// The keys that opening `sub` marks read for `me`: the critiques of my piece, or a piece of
/// someone else's with the thanks and the tip for my critique of it.
pub fn opened_keys(sub: &Submission, me: MemberId) -> Vec<String> {
    if sub.author == me {
        return sub.critiques.keys().map(|c| critique_key(*c)).collect();
    }
    let mut keys = vec![piece_key(sub.id)];
    if let Some(mine) = sub.critique_by(me) {
        keys.push(thanks_key(mine.id));
        keys.push(tip_key(mine.id));
    }
    keys
}

/// What needs `me` in `group` at `now`, given what `personal` says I read: urgent first, then
/// unread, each newest first.
pub fn inbox(group: &Group, me: MemberId, personal: &Personal, now: Timestamp) -> Vec<InboxItem> {
    let kept_since = now - SignedDuration::from_hours(24 * KEPT_DAYS);
    let my_genres: Vec<String> = group
        .members
        .get(&me)
        .map(|m| m.profile.genres.iter().map(|g| fold(g)).collect())
        .unwrap_or_default();
    let mut items = Vec::new();
    let mut push =
        |key: String, kind: InboxKind, at: Timestamp, title: &str, from: Option<String>| {
            let read = personal.is_read(&key);
            let claim = matches!(kind, InboxKind::Claim { .. } | InboxKind::Waiting { .. });
            if read && at < kept_since {
                return;
            }
            items.push(InboxItem {
                key,
                kind,
                at,
                title: title.to_string(),
                from,
                unread: !read && !claim,
            });
        };
    for sub in group.submissions.values() {
        if sub.author == me {
            for c in sub.critiques.values() {
                let kind = InboxKind::Critique {
                    submission: sub.id,
                    critique: c.id,
                    reviewer: c.reviewer,
                };
                let from = Some(group.name_of(c.reviewer));
                push(critique_key(c.id), kind, c.delivered_at, &sub.title, from);
            }
            continue;
        }
        // Named only for what is pushed: a large group has a hundred thousand pieces.
        let author = || Some(group.name_of(sub.author));
        if let Some(mine) = sub.critique_by(me) {
            if let Some(at) = mine.thanked_at {
                let kind = InboxKind::Thanked {
                    submission: sub.id,
                    critique: mine.id,
                };
                push(thanks_key(mine.id), kind, at, &sub.title, author());
            }
            if let Some(at) = mine.tipped_at {
                let kind = InboxKind::Tipped {
                    submission: sub.id,
                    critique: mine.id,
                };
                push(tip_key(mine.id), kind, at, &sub.title, author());
            }
            continue;
        }
        if sub.withdrawn_at.is_some() {
            continue;
        }
        if !sub.claims.contains_key(&me) {
            // Cheap tests first: a large group has thousands of pieces.
            let fresh = sub.submitted_at >= kept_since && !my_genres.is_empty();
            // Genres are kept in lowercase: only one with other than ASCII needs folding.
            let in_mine = |genre: &str| my_genres.iter().any(|g| g == genre);
            let mine = fresh
                && if sub.genre.is_ascii() {
                    in_mine(&sub.genre)
                } else {
                    in_mine(&fold(&sub.genre))
                };
            if mine {
                let kind = InboxKind::NewPiece {
                    submission: sub.id,
                    author: sub.author,
                };
                push(
                    piece_key(sub.id),
                    kind,
                    sub.submitted_at,
                    &sub.title,
                    author(),
                );
            }
            continue;
        }
        let line = claim_line(sub, now);
        match line.position_of(me) {
            Some(LinePosition::Holder) => {
                let expires_at = line
                    .holders
                    .iter()
                    .find(|(m, _)| *m == me)
                    .map_or(now, |(_, c)| c.expires_at);
                let kind = InboxKind::Claim {
                    submission: sub.id,
                    expires_at,
                    lapsing: expires_at.duration_since(now) <= LAPSE_WARNING,
                };
                push(
                    format!("claim/{}", sub.id),
                    kind,
                    expires_at,
                    &sub.title,
                    author(),
                );
            }
            Some(LinePosition::Waiting(position)) => {
                let kind = InboxKind::Waiting {
                    submission: sub.id,
                    position,
                };
                let at = sub.claims.get(&me).map_or(now, |c| c.at);
                push(
                    format!("waiting/{}", sub.id),
                    kind,
                    at,
                    &sub.title,
                    author(),
                );
            }
            // A claim that lapsed or was let go.
            None => {}
        }
    }
    items.sort_by(|a, b| {
        (b.urgent(), b.unread, b.at)
            .cmp(&(a.urgent(), a.unread, a.at))
            .then_with(|| a.key.cmp(&b.key))
    });
    let mut new_pieces = 0;
    items.retain(|item| {
        let new_piece = matches!(item.kind, InboxKind::NewPiece { .. });
        new_pieces += usize::from(new_piece);
        !new_piece || new_pieces <= NEW_PIECES_SHOWN
    });
    items
}

/// How many items wait to be read, or are urgent.
pub fn unread_count(items: &[InboxItem]) -> usize {
    items.iter().filter(|i| i.unread || i.urgent()).count()
}
