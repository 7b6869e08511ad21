//! Invites: an organizer invites a new member, a member invites another device of their own;
//! the joining device redeems the invite and is in the roster in the same change.
//!
//! The document holds only the hash of an invite's secret. Checking that a joiner knows the
//! secret is the sync layer's job; these operations take the hash it checked.

use automerge::Automerge;
use jiff::Timestamp;

use super::{current_member, short_text, transact};
use crate::doc;
use crate::error::OpError;
use crate::ids::{DeviceId, InviteHash, MemberId};
use crate::model::{Device, Invite, InviteKind, Member, Profile};

/// Most devices one invite may let in.
pub const MAX_INVITE_USES: u32 = 1000;

/// What a new invite is.
#[derive(Debug, Clone)]
pub struct InviteSpec {
    /// The hash of its secret.
    pub hash: InviteHash,
    /// It can be redeemed until just before this time.
    pub expires_at: Timestamp,
    /// How many devices may redeem it, 1 to [`MAX_INVITE_USES`].
    pub max_uses: u32,
    /// Who it lets in.
    pub kind: InviteKind,
}

/// Records an invite made by `by`. Member invites: organizers only. Device invites: only for
/// `by`'s own devices (`kind` `Device { member }` needs `member == by`).
pub fn create_invite(
    doc: &mut Automerge,
    by: MemberId,
    spec: InviteSpec,
    now: Timestamp,
) -> Result<Invite, OpError> {
    if !(1..=MAX_INVITE_USES).contains(&spec.max_uses) {
        return Err(OpError::OutOfRange {
            field: "max uses",
            value: spec.max_uses.into(),
            min: 1,
            max: MAX_INVITE_USES.into(),
        });
    }
    if spec.expires_at <= now {
        return Err(OpError::InviteExpiry {
            expires_at: spec.expires_at,
        });
    }
    let invite = Invite {
        hash: spec.hash,
        created_by: by,
        created_at: now,
        expires_at: spec.expires_at,
        max_uses: spec.max_uses,
        kind: spec.kind,
        uses: Default::default(),
    };
    let message = format!("invite {} {}", kind_word(spec.kind), spec.hash.short());
    transact(doc, message, now, |tx| {
        let me = current_member(tx, by)?;
        match spec.kind {
            InviteKind::Member if !me.organizer => {
                return Err(OpError::NotOrganizer("invite new members"));
            }
            InviteKind::Device { member } if member != by => {
                return Err(OpError::NotYourDevice(member.short()));
            }
            _ => {}
        }
        if doc::read_invite(tx, spec.hash)?.is_some() {
            return Err(OpError::InviteExists(spec.hash.short()));
        }
        doc::put_invite(tx, &invite)?;
        Ok(())
    })?;
    Ok(invite)
}

/// The device redeeming an invite.
#[derive(Debug, Clone)]
pub struct Joiner {
    /// The joining device.
    pub device: DeviceId,
    /// A label for it, e.g. "phone".
    pub device_label: String,
    /// Some for a member invite: the new member's id and display name.
    pub new_member: Option<(MemberId, String)>,
}

/// What redeeming an invite did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redeemed {
    /// The member the device now belongs to.
    pub member: MemberId,
    /// Their display name.
    pub display_name: String,
    /// False when the device already was a current device of the group (a retry): nothing
    /// was written and no use consumed.
    pub added: bool,
}

/// Redeems invite `hash` for `joiner`, in one change. The invite must exist, be unexpired at
/// `now`, have uses left, be of the kind the joiner asks for (a member invite needs
/// `new_member`, a device invite must not have one), and its maker (for a device invite, the
/// member the device joins) must still be a current member. Then the use is recorded and the
/// new member added with this device (not as organizer), or the device added to the member.
///
/// If `joiner.device` already is a current device of a current member (checked after the
/// invite is found, before the other checks, so a retry after a lost answer succeeds even
/// once the invite is used up), returns `added: false` and writes nothing.
///
/// Two devices redeeming a one-use invite on two peers offline both get in: each use is its
/// own entry, and after the merge the invite shows more uses than it allows.
pub fn redeem_invite(
    doc: &mut Automerge,
    hash: InviteHash,
    joiner: Joiner,
    now: Timestamp,
) -> Result<Redeemed, OpError> {
    let device = Device {
        label: crate::text::tidy(&joiner.device_label),
        added_at: now,
    };
    let new_member = match &joiner.new_member {
        Some((id, name)) => Some((*id, short_text("name", name)?)),
        None => None,
    };
    let name = |m: &Member| m.profile.display_name.clone();
    let message = match &new_member {
        Some((_, display_name)) => format!("add member '{display_name}'"),
        None => format!("add device '{}'", device.label),
    };
    transact(doc, message, now, |tx| {
        let invite = doc::read_invite(tx, hash)?.ok_or_else(|| OpError::NoInvite(hash.short()))?;
        if let Some(member) = doc::current_member_of_device(tx, joiner.device) {
            let display_name = doc::read_member(tx, member)?
                .map(|m| name(&m))
                .unwrap_or_else(|| member.short());
            return Ok(Redeemed {
                member,
                display_name,
                added: false,
            });
        }
        let label = hash.short();
        if invite.is_expired(now) {
            return Err(OpError::InviteExpired {
                invite: label,
                expired: invite.expires_at,
            });
        }
        if invite.uses_left() == 0 {
            return Err(OpError::InviteUsedUp {
                invite: label,
                uses: invite.uses.len(),
                max: invite.max_uses,
            });
        }
        let inviter = doc::read_member(tx, invite.created_by)?;
        let redeemed = match (invite.kind, new_member) {
            (InviteKind::Member, Some((id, display_name))) => {
                if !inviter.as_ref().is_some_and(Member::is_current) {
                    return Err(OpError::InviterGone {
                        invite: label,
                        inviter: inviter.map_or_else(|| invite.created_by.short(), |m| name(&m)),
                    });
                }
                if doc::read_member(tx, id)?.is_some() {
                    return Err(OpError::MemberExists(id.short()));
                }
                let member = Member {
                    id,
                    profile: Profile {
                        display_name: display_name.clone(),
                        ..Profile::default()
                    },
                    organizer: false,
                    joined_at: now,
                    removed_at: None,
                    devices: [(joiner.device, device.clone())].into_iter().collect(),
                };
                doc::put_member(tx, &member)?;
                Redeemed {
                    member: id,
                    display_name,
                    added: true,
                }
            }
            (InviteKind::Device { member }, None) => {
                let owner = match doc::read_member(tx, member)? {
                    Some(m) if m.is_current() => m,
                    Some(m) => return Err(OpError::Removed(name(&m))),
                    None => return Err(OpError::NotAMember(member.short())),
                };
                doc::put_device(tx, member, joiner.device, &device)?;
                Redeemed {
                    member,
                    display_name: name(&owner),
                    added: true,
                }
            }
            (kind, new_member) => {
                return Err(OpError::WrongInviteKind {
                    invite: label,
                    is: invite_word(kind),
                    wanted: match new_member {
                        Some(_) => MEMBER_INVITE,
                        None => DEVICE_INVITE,
                    },
                });
            }
        };
        doc::put_invite_use(tx, hash, joiner.device, now)?;
        Ok(redeemed)
    })
}

fn kind_word(kind: InviteKind) -> &'static str {
    match kind {
        InviteKind::Member => "member",
        InviteKind::Device { .. } => "device",
    }
}

const MEMBER_INVITE: &str = "a new-member invite";
const DEVICE_INVITE: &str = "a device invite";

fn invite_word(kind: InviteKind) -> &'static str {
    match kind {
        InviteKind::Member => MEMBER_INVITE,
        InviteKind::Device { .. } => DEVICE_INVITE,
    }
}
