//! Making an invite: a random secret goes into the ticket, only its hash into the document.

use iroh::EndpointAddr;
use jiff::{SignedDuration, Timestamp};
use quire_store::model::InviteKind;
use quire_store::ops::{InviteSpec, create_invite};
use quire_store::{Group, InviteHash};

use crate::ticket::{InviteSecret, Ticket, TicketKind};

/// What an invite is for and how long it lasts.
#[derive(Debug, Clone, Copy)]
pub struct InviteOptions {
    /// A new member, or another device of mine.
    pub kind: TicketKind,
    /// How long the ticket works.
    pub valid_for: SignedDuration,
    /// How many devices may use it.
    pub max_uses: u32,
}

impl Default for InviteOptions {
    fn default() -> Self {
        InviteOptions {
            kind: TicketKind::Member,
            valid_for: SignedDuration::from_hours(7 * 24),
            max_uses: 1,
        }
    }
}

/// Records a new invite in `group` (durable before it returns) and makes its ticket, which
/// tells the joiner to find this device at `me`.
pub fn create_ticket(
    group: &mut Group,
    me: EndpointAddr,
    options: InviteOptions,
    now: Timestamp,
) -> Result<Ticket, quire_store::Error> {
    let secret = InviteSecret::random();
    let expires_at = now
        .saturating_add(options.valid_for)
        .unwrap_or(Timestamp::MAX);
    let hash = InviteHash::from_bytes(secret.hash());
    group.act(|doc, by| {
        let kind = match options.kind {
            TicketKind::Member => InviteKind::Member,
            TicketKind::Device => InviteKind::Device { member: by },
        };
        let spec = InviteSpec {
            hash,
            expires_at,
            max_uses: options.max_uses,
            kind,
        };
        create_invite(doc, by, spec, now)
    })?;
    Ok(Ticket {
        group: group.id(),
        inviter: me,
        secret,
        expires_at,
        kind: options.kind,
    })
}
