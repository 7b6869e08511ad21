//! Typed operations on a group document.
//!
//! Each operation reads what it needs, checks the group's rules, and writes one automerge
//! change whose message names what happened (for a reader of the raw history; the activity feed
//! describes changes from their ops, never from their messages). If a check
//! fails the transaction is rolled back: a refused operation writes nothing. Time and new ids
//! are arguments, so operations are deterministic and tested without a clock.

mod claim;
mod critique;
mod group;
mod invite;
mod membership;
mod profile;
mod resolve;
mod rules;
mod submission;

use automerge::Automerge;
use automerge::transaction::{CommitOptions, Transaction};
use jiff::Timestamp;

use crate::doc;
use crate::error::OpError;
use crate::ids::{MemberId, SubmissionId};
use crate::model::{Member, Submission};

pub use claim::{claim, unclaim};
pub use critique::{critique, rate, thank, tip};
pub use group::{NewGroup, NewMember, add_member, create_group};
pub use invite::{InviteSpec, Joiner, MAX_INVITE_USES, Redeemed, create_invite, redeem_invite};
pub use membership::remove_member;
pub use profile::{MAX_CAPACITY, update_profile};
pub use resolve::{resolve_critique, resolve_member, resolve_submission};
pub use rules::change_rules;
pub use submission::{SubmissionDraft, submit, submit_with, withdraw};

/// Longest title, genre or name accepted, in characters.
pub const MAX_SHORT_TEXT: usize = 200;
/// Longest submission or critique text accepted, in bytes (about 200,000 words).
pub const MAX_LONG_TEXT: usize = 2 * 1024 * 1024;
/// Most critiques a submission may ask for.
pub const MAX_WANTED: u32 = 20;

/// Runs `f` in a transaction committed with `message` at `now`; rolls back if `f` fails.
pub(crate) fn transact<T>(
    doc: &mut Automerge,
    message: String,
    now: Timestamp,
    f: impl FnOnce(&mut Transaction<'_>) -> Result<T, OpError>,
) -> Result<T, OpError> {
    let options = CommitOptions::default()
        .with_message(message)
        .with_time(now.as_second());
    doc.transact_with(|_| options, f)
        .map(|success| success.result)
        .map_err(|failure| failure.error)
}

/// `me`, who must be a current member.
pub(crate) fn current_member(tx: &Transaction<'_>, me: MemberId) -> Result<Member, OpError> {
    match doc::read_member(tx, me)? {
        Some(m) if m.is_current() => Ok(m),
        _ => Err(OpError::NotAMember(me.short())),
    }
}

/// The submission `id`, which must exist.
pub(crate) fn existing_submission(
    tx: &Transaction<'_>,
    id: SubmissionId,
) -> Result<Submission, OpError> {
    doc::read_submission(tx, id)?.ok_or_else(|| OpError::NoSubmission(id.short()))
}

/// Submission `id` as one `me` may review: it exists, is not withdrawn, is not `me`'s own,
/// and `me` has not critiqued it yet. Returns it with its label for messages.
pub(crate) fn reviewable(
    tx: &Transaction<'_>,
    me: MemberId,
    id: SubmissionId,
) -> Result<(Submission, String), OpError> {
    let sub = existing_submission(tx, id)?;
    let title = label(&sub);
    if sub.withdrawn_at.is_some() {
        return Err(OpError::Withdrawn(title));
    }
    if sub.author == me {
        return Err(OpError::OwnSubmission(title));
    }
    if sub.critique_by(me).is_some() {
        return Err(OpError::AlreadyCritiqued(title));
    }
    Ok((sub, title))
}

/// Checks a required short text (title, name, genre) and returns it tidied.
pub(crate) fn short_text(field: &'static str, value: &str) -> Result<String, OpError> {
    let tidy = crate::text::tidy(value);
    if tidy.is_empty() {
        return Err(OpError::Empty { field });
    }
    let len = tidy.chars().count();
    if len > MAX_SHORT_TEXT {
        return Err(OpError::TooLong {
            field,
            len,
            max: MAX_SHORT_TEXT,
        });
    }
    Ok(tidy)
}

/// Checks a long text (a piece, a critique, a bio) against the size cap.
pub(crate) fn long_text(field: &'static str, value: &str) -> Result<(), OpError> {
    if value.len() > MAX_LONG_TEXT {
        return Err(OpError::TooLong {
            field,
            len: value.len(),
            max: MAX_LONG_TEXT,
        });
    }
    Ok(())
}

/// `title` as quoted in messages: the title and short id.
pub(crate) fn label(sub: &Submission) -> String {
    format!("{} ({})", sub.title, sub.id.short())
}
