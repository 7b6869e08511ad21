//! Submitting a piece and withdrawing it.

use automerge::Automerge;
use jiff::Timestamp;
use jiff::civil::Date;

use super::{
    MAX_WANTED, current_member, existing_submission, label, long_text, short_text, transact,
};
use crate::doc;
use crate::error::OpError;
use crate::exchange::ledger;
use crate::ids::{MemberId, SubmissionId};
use crate::live_view::LiveView;
use crate::model::Submission;

/// A piece as its author hands it in.
#[derive(Debug, Clone, Default)]
pub struct SubmissionDraft {
    /// Its title.
    pub title: String,
    /// Its genre.
    pub genre: String,
    /// The text.
    pub text: String,
    /// Critiques wanted; the group's default if `None`.
    pub critiques_wanted: Option<u32>,
    /// When critiques are wanted by.
    pub due_at: Option<Date>,
    /// What the author wants feedback on.
    pub feedback_wanted: String,
    /// Content notes for readers.
    pub content_notes: String,
}

/// Puts `draft` in the queue as submission `id`, by `me`.
pub fn submit(
    doc: &mut Automerge,
    me: MemberId,
    id: SubmissionId,
    draft: SubmissionDraft,
    now: Timestamp,
) -> Result<Submission, OpError> {
    submit_with(doc, me, id, draft, now, None)
}

/// [`submit`], checking credits against `known`, the group as the caller already holds it,
/// when it reflects the document's current heads; otherwise the group is read afresh (a pass
/// over the whole document).
pub fn submit_with(
    doc: &mut Automerge,
    me: MemberId,
    id: SubmissionId,
    draft: SubmissionDraft,
    now: Timestamp,
    known: Option<&LiveView>,
) -> Result<Submission, OpError> {
    let known = known
        .filter(|view| view.heads() == doc.get_heads().as_slice())
        .map(LiveView::group);
    let title = short_text("title", &draft.title)?;
    let genre = short_text("genre", &draft.genre)?.to_lowercase();
    if draft.text.trim().is_empty() {
        return Err(OpError::Empty { field: "text" });
    }
    long_text("text", &draft.text)?;
    long_text("feedback wanted", &draft.feedback_wanted)?;
    long_text("content notes", &draft.content_notes)?;
    let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
    if let Some(due) = draft.due_at
        && due < today
    {
        return Err(OpError::InThePast {
            field: "due date",
            date: due,
        });
    }
    let message = format!("submit '{title}'");
    transact(doc, message, now, |tx| {
        current_member(tx, me)?;
        let info = doc::read_info(tx)?;
        let rules = info.rules_at(now);
        let wanted = draft.critiques_wanted.unwrap_or(rules.critiques_wanted);
        if !(1..=MAX_WANTED).contains(&wanted) {
            return Err(OpError::OutOfRange {
                field: "critiques wanted",
                value: wanted.into(),
                min: 1,
                max: MAX_WANTED.into(),
            });
        }
        let word_count = crate::text::word_count(&draft.text);
        if let Some(max) = rules.max_words
            && word_count > max
        {
            return Err(OpError::TooManyWords {
                words: word_count,
                max,
            });
        }
        if rules.credits {
            check_credits(tx, known, me, id, &title, now)?;
        }
        let sub = Submission {
            id,
            author: me,
            word_count,
            title,
            genre,
            text: draft.text,
            feedback_wanted: draft.feedback_wanted.trim().to_string(),
            content_notes: draft.content_notes.trim().to_string(),
            submitted_at: now,
            due_at: draft.due_at,
            critiques_wanted: wanted,
            withdrawn_at: None,
            claims: Default::default(),
            critiques: Default::default(),
        };
        doc::put_submission(tx, &sub)?;
        Ok(sub)
    })
}

/// Takes submission `id` out of the queue. Its author or an organizer may.
pub fn withdraw(
    doc: &mut Automerge,
    me: MemberId,
    id: SubmissionId,
    now: Timestamp,
) -> Result<Submission, OpError> {
    transact(doc, format!("withdraw {id}"), now, |tx| {
        let member = current_member(tx, me)?;
        let mut sub = existing_submission(tx, id)?;
        if sub.author != me && !member.organizer {
            return Err(OpError::NotAuthor {
                title: label(&sub),
                action: "withdraw it",
            });
        }
        if sub.withdrawn_at.is_some() {
            return Err(OpError::Withdrawn(label(&sub)));
        }
        doc::set_withdrawn(tx, id, now)?;
        sub.withdrawn_at = Some(now);
        Ok(sub)
    })
}

/// Refuses a submission its author cannot pay for, with the numbers.
fn check_credits(
    tx: &automerge::transaction::Transaction<'_>,
    known: Option<&crate::model::Group>,
    me: MemberId,
    id: SubmissionId,
    title: &str,
    now: Timestamp,
) -> Result<(), OpError> {
    let read;
    let group = match known {
        Some(group) => group,
        None => {
            read = doc::read_group(tx)?;
            &read
        }
    };
    let rules = group.info.rules_at(now);
    let others = ledger::others_open(group, me, now, id);
    let needs = ledger::submission_cost(&rules, others);
    let has = ledger::ledger(group, me).balance;
    if has < needs {
        return Err(OpError::ShortOfCredits {
            what: format!("'{title}'"),
            needs,
            has,
        });
    }
    Ok(())
}
