//! Removing members.

use automerge::Automerge;
use jiff::Timestamp;

use super::{current_member, transact};
use crate::doc;
use crate::error::OpError;
use crate::ids::MemberId;
use crate::model::Member;

/// An organizer, `by`, marks `member` removed from `now` on: their devices are refused from
/// then on, and they keep their history. The last organizer cannot remove themselves.
///
/// Two organizers removing each other offline both succeed; after the merge the group has
/// neither.
pub fn remove_member(
    doc: &mut Automerge,
    by: MemberId,
    member: MemberId,
    now: Timestamp,
) -> Result<Member, OpError> {
    let name = doc::read_member(&*doc, member)
        .ok()
        .flatten()
        .map_or_else(|| member.short(), |m| m.profile.display_name);
    let message = format!("remove member '{name}'");
    transact(doc, message, now, |tx| {
        let me = current_member(tx, by)?;
        if !me.organizer {
            return Err(OpError::NotOrganizer("remove members"));
        }
        let mut removed = match doc::read_member(tx, member)? {
            Some(m) if m.is_current() => m,
            Some(m) => return Err(OpError::Removed(m.profile.display_name)),
            None => return Err(OpError::NotAMember(member.short())),
        };
        if member == by {
            let others = doc::read_members(tx, &mut Vec::new())?
                .values()
                .filter(|m| m.is_current() && m.organizer && m.id != by)
                .count();
            if others == 0 {
                return Err(OpError::LastOrganizer);
            }
        }
        doc::set_removed(tx, member, now)?;
        removed.removed_at = Some(now);
        Ok(removed)
    })
}
