//! Claiming a piece to critique, and letting a claim go.

use automerge::Automerge;
use jiff::{SignedDuration, Timestamp};

use super::{current_member, existing_submission, label, reviewable, transact};
use crate::doc;
use crate::error::OpError;
use crate::ids::{MemberId, SubmissionId};
use crate::model::Claim;
use crate::views::{LinePosition, claim_line};

/// `me` claims submission `id`. If every slot is taken the claim waits in line; the returned
/// position says which.
pub fn claim(
    doc: &mut Automerge,
    me: MemberId,
    id: SubmissionId,
    now: Timestamp,
) -> Result<LinePosition, OpError> {
    transact(doc, format!("claim {id}"), now, |tx| {
        current_member(tx, me)?;
        let (mut sub, title) = reviewable(tx, me, id)?;
        let line = claim_line(&sub, now);
        if line.position_of(me).is_some() {
            return Err(OpError::AlreadyClaimed(title));
        }
        if line.delivered.len() as u32 >= sub.critiques_wanted {
            return Err(OpError::Complete {
                title,
                wanted: sub.critiques_wanted,
            });
        }
        let rules = doc::read_info(tx)?.rules_at(now);
        let period = SignedDuration::from_hours(24 * i64::from(rules.claim_period_days));
        let claim = Claim {
            at: now,
            expires_at: now.saturating_add(period).unwrap_or(now),
            released_at: None,
        };
        doc::put_claim(tx, id, me, &claim)?;
        sub.claims.insert(me, claim);
        Ok(claim_line(&sub, now)
            .position_of(me)
            .unwrap_or(LinePosition::Holder))
    })
}

/// `me` lets go of their claim on submission `id`, reopening the slot. The claim stays in the
/// document, marked released, so the line replays the same on every peer.
pub fn unclaim(
    doc: &mut Automerge,
    me: MemberId,
    id: SubmissionId,
    now: Timestamp,
) -> Result<(), OpError> {
    transact(doc, format!("unclaim {id}"), now, |tx| {
        current_member(tx, me)?;
        let sub = existing_submission(tx, id)?;
        let title = label(&sub);
        if sub.withdrawn_at.is_some() {
            return Err(OpError::Withdrawn(title));
        }
        if sub.critique_by(me).is_some() {
            return Err(OpError::AlreadyCritiqued(title));
        }
        if claim_line(&sub, now).position_of(me).is_none() {
            return Err(OpError::NotClaimed(title));
        }
        doc::release_claim(tx, id, me, now)?;
        Ok(())
    })
}
