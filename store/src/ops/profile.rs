//! Editing one's own profile.

use automerge::Automerge;
use jiff::Timestamp;

use super::{current_member, long_text, short_text, transact};
use crate::doc::{self, ProfilePatch};
use crate::error::OpError;
use crate::ids::MemberId;
use crate::model::Profile;

/// Most critiques per month a member may offer.
pub const MAX_CAPACITY: u32 = 100;

/// Applies `patch` to `me`'s profile and returns the profile as it now is.
pub fn update_profile(
    doc: &mut Automerge,
    me: MemberId,
    patch: ProfilePatch,
    now: Timestamp,
) -> Result<Profile, OpError> {
    let patch = validated(patch)?;
    transact(doc, "edit profile".to_string(), now, |tx| {
        let member = current_member(tx, me)?;
        doc::patch_profile(tx, me, &patch)?;
        Ok(patch.apply_to(&member.profile))
    })
}

fn validated(mut patch: ProfilePatch) -> Result<ProfilePatch, OpError> {
    if let Some(name) = &patch.display_name {
        patch.display_name = Some(short_text("name", name)?);
    }
    if let Some(Some(pen)) = &patch.pen_name {
        let pen = crate::text::tidy(pen);
        patch.pen_name = Some((!pen.is_empty()).then_some(pen));
        if let Some(Some(p)) = &patch.pen_name {
            short_text("pen name", p)?;
        }
    }
    if let Some(bio) = &patch.bio {
        long_text("bio", bio)?;
        patch.bio = Some(bio.trim().to_string());
    }
    if let Some(genres) = &patch.genres {
        let mut tidy = std::collections::BTreeSet::new();
        for g in genres {
            let g = crate::text::tidy(g).to_lowercase();
            if !g.is_empty() {
                tidy.insert(short_text("genre", &g)?);
            }
        }
        patch.genres = Some(tidy);
    }
    if let Some(links) = &patch.links {
        for (label, url) in links {
            short_text("link label", label)?;
            long_text("link", url)?;
        }
    }
    if let Some(Some(cap)) = patch.capacity_per_month
        && cap > MAX_CAPACITY
    {
        return Err(OpError::OutOfRange {
            field: "capacity",
            value: cap.into(),
            min: 0,
            max: MAX_CAPACITY.into(),
        });
    }
    Ok(patch)
}
