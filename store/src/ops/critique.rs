//! Delivering a critique, and the author's answer to it: a rating and thanks.

use automerge::Automerge;
use automerge::transaction::Transaction;
use jiff::Timestamp;

use super::{current_member, existing_submission, label, long_text, reviewable, transact};
use crate::doc;
use crate::error::OpError;
use crate::exchange::Credits;
use crate::exchange::ledger::ledger;
use crate::ids::{CritiqueId, MemberId, SubmissionId};
use crate::model::Critique;
use crate::views::{LinePosition, claim_line};

/// `me` delivers critique `id` of submission `sub_id`. `me` must hold a live claim on it.
pub fn critique(
    doc: &mut Automerge,
    me: MemberId,
    sub_id: SubmissionId,
    id: CritiqueId,
    body: &str,
    now: Timestamp,
) -> Result<Critique, OpError> {
    if body.trim().is_empty() {
        return Err(OpError::Empty { field: "critique" });
    }
    long_text("critique", body)?;
    transact(doc, format!("critique {sub_id}"), now, |tx| {
        current_member(tx, me)?;
        let (sub, title) = reviewable(tx, me, sub_id)?;
        let Some(claim) = sub.claims.get(&me).filter(|c| c.released_at.is_none()) else {
            return Err(OpError::NotClaimed(title));
        };
        let line = claim_line(&sub, now);
        match line.position_of(me) {
            Some(LinePosition::Holder) => {}
            Some(LinePosition::Waiting(position)) => {
                return Err(OpError::Waiting { title, position });
            }
            None => {
                return Err(OpError::ClaimLapsed {
                    title,
                    lapsed: line.lapsed_at(me).unwrap_or(claim.expires_at),
                });
            }
        }
        let critique = Critique {
            id,
            reviewer: me,
            body: body.to_string(),
            word_count: crate::text::word_count(body),
            delivered_at: now,
            rating: None,
            thanked_at: None,
            tipped_at: None,
        };
        doc::put_critique(tx, sub_id, &critique)?;
        Ok(critique)
    })
}

/// The submission's author rates critique `id` from 1 to 5.
pub fn rate(
    doc: &mut Automerge,
    me: MemberId,
    sub_id: SubmissionId,
    id: CritiqueId,
    rating: u8,
    now: Timestamp,
) -> Result<(), OpError> {
    if !(1..=5).contains(&rating) {
        return Err(OpError::OutOfRange {
            field: "rating",
            value: rating.into(),
            min: 1,
            max: 5,
        });
    }
    transact(doc, format!("rate {id}"), now, |tx| {
        current_member(tx, me)?;
        own_critique(tx, me, sub_id, id, "rate its critiques")?;
        doc::mark_critique(tx, sub_id, id, doc::CritiqueMark::Rated(rating))?;
        Ok(())
    })
}

/// The submission's author thanks the reviewer for critique `id`.
pub fn thank(
    doc: &mut Automerge,
    me: MemberId,
    sub_id: SubmissionId,
    id: CritiqueId,
    now: Timestamp,
) -> Result<(), OpError> {
    transact(doc, format!("thank {id}"), now, |tx| {
        current_member(tx, me)?;
        let critique = own_critique(tx, me, sub_id, id, "thank its reviewers")?;
        if critique.thanked_at.is_some() {
            let reviewer = doc::read_member(tx, critique.reviewer)?
                .map(|m| m.profile.display_name)
                .unwrap_or_else(|| critique.reviewer.short());
            return Err(OpError::AlreadyThanked { reviewer });
        }
        doc::mark_critique(tx, sub_id, id, doc::CritiqueMark::Thanked(now))?;
        Ok(())
    })
}

/// The submission's author tips the reviewer of critique `id`: the rules' tip moves from the
/// author's credits to the reviewer's. Once per critique; refused if the author cannot pay.
pub fn tip(
    doc: &mut Automerge,
    me: MemberId,
    sub_id: SubmissionId,
    id: CritiqueId,
    now: Timestamp,
) -> Result<Credits, OpError> {
    transact(doc, format!("tip {id}"), now, |tx| {
        current_member(tx, me)?;
        let critique = own_critique(tx, me, sub_id, id, "tip its reviewers")?;
        let group = doc::read_group(tx)?;
        if critique.tipped_at.is_some() {
            return Err(OpError::AlreadyTipped {
                reviewer: group.name_of(critique.reviewer),
            });
        }
        let rules = group.info.rules_at(now);
        if !rules.credits {
            return Err(OpError::CreditsOff("tip"));
        }
        let has = ledger(&group, me).balance;
        if has < rules.tip {
            return Err(OpError::ShortOfCredits {
                what: "a tip".into(),
                needs: rules.tip,
                has,
            });
        }
        doc::mark_critique(tx, sub_id, id, doc::CritiqueMark::Tipped(now))?;
        Ok(rules.tip)
    })
}

/// Critique `id` of submission `sub_id`, which `me` wrote: the piece exists, holds that
/// critique, and is `me`'s, or `action` is refused.
fn own_critique(
    tx: &Transaction<'_>,
    me: MemberId,
    sub_id: SubmissionId,
    id: CritiqueId,
    action: &'static str,
) -> Result<Critique, OpError> {
    let mut sub = existing_submission(tx, sub_id)?;
    let Some(critique) = sub.critiques.remove(&id) else {
        return Err(OpError::NoCritique(id.short()));
    };
    if sub.author != me {
        return Err(OpError::NotAuthor {
            title: label(&sub),
            action,
        });
    }
    Ok(critique)
}
