//! Errors: [`OpError`] for an operation the rules refuse, [`Error`] for everything a [`crate::Group`]
//! can run into.

use crate::doc::DocError;
use crate::storage::StorageError;

/// An operation the group's rules refuse. Nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    /// A required text field is empty.
    #[error("{field} is empty")]
    Empty {
        /// Which field.
        field: &'static str,
    },
    /// A text field is longer than allowed.
    #[error("{field} is {len} characters long; the most allowed is {max}")]
    TooLong {
        /// Which field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// A number outside its range.
    #[error("{field} must be {min} to {max}, not {value}")]
    OutOfRange {
        /// Which field.
        field: &'static str,
        /// The value given.
        value: i64,
        /// Smallest allowed.
        min: i64,
        /// Largest allowed.
        max: i64,
    },
    /// A date that has passed.
    #[error("{field} {date} is in the past")]
    InThePast {
        /// Which field.
        field: &'static str,
        /// The date given.
        date: jiff::civil::Date,
    },
    /// The acting device is not a current member's.
    #[error("member `{0}` is not a current member of this group")]
    NotAMember(String),
    /// No such submission.
    #[error("no submission `{0}` in this group")]
    NoSubmission(String),
    /// No such critique.
    #[error("no critique `{0}` in this group")]
    NoCritique(String),
    /// Acting on a withdrawn piece.
    #[error("`{0}` was withdrawn")]
    Withdrawn(String),
    /// Claiming or critiquing one's own piece.
    #[error("`{0}` is your own submission")]
    OwnSubmission(String),
    /// Something only the author may do.
    #[error("only the author of `{title}` can {action}")]
    NotAuthor {
        /// The piece.
        title: String,
        /// What was attempted.
        action: &'static str,
    },
    /// Claiming twice.
    #[error("you already claimed `{0}`")]
    AlreadyClaimed(String),
    /// Claiming or critiquing what one already critiqued.
    #[error("you already critiqued `{0}`")]
    AlreadyCritiqued(String),
    /// Claiming a piece whose wanted critiques have all arrived.
    #[error("`{title}` already has the {wanted} critiques it wanted")]
    Complete {
        /// The piece.
        title: String,
        /// How many it wanted.
        wanted: u32,
    },
    /// Critiquing or unclaiming without a claim.
    #[error("you have not claimed `{0}`; claim it first")]
    NotClaimed(String),
    /// The claim ran out.
    #[error("your claim on `{title}` lapsed on {lapsed}; claim it again")]
    ClaimLapsed {
        /// The piece.
        title: String,
        /// When it lapsed.
        lapsed: jiff::Timestamp,
    },
    /// Critiquing while waiting in line for a slot.
    #[error("you are number {position} in line for `{title}`; wait for a slot to open")]
    Waiting {
        /// The piece.
        title: String,
        /// Place in line, from 1.
        position: usize,
    },
    /// Thanking twice.
    #[error("you already thanked {reviewer} for this critique")]
    AlreadyThanked {
        /// Who wrote it.
        reviewer: String,
    },
    /// A name or id that matches several things.
    #[error("`{given}` matches several {what}: {candidates}")]
    Ambiguous {
        /// What was typed.
        given: String,
        /// What kind of thing.
        what: &'static str,
        /// The matches, comma separated.
        candidates: String,
    },
    /// A name or id that matches nothing.
    #[error("no {what} `{given}` in this group")]
    NotFound {
        /// What was typed.
        given: String,
        /// What kind of thing.
        what: &'static str,
    },
    /// Only organizers may do this.
    #[error("only an organizer can {0}")]
    NotOrganizer(&'static str),
    /// Not enough credits for a submission or a tip.
    #[error("{what} needs {needs} credits, you have {has} — critique a piece to earn more")]
    ShortOfCredits {
        /// What costs them: `'Chapter 2'`, `a tip`.
        what: String,
        /// What it costs.
        needs: crate::exchange::Credits,
        /// The member's balance.
        has: crate::exchange::Credits,
    },
    /// A piece longer than the group takes.
    #[error("the piece is {words} words; this group takes at most {max}")]
    TooManyWords {
        /// Its length.
        words: u32,
        /// The rule.
        max: u32,
    },
    /// Something that needs credits, in a group that runs without them.
    #[error("this group runs without credits, so there is nothing to {0}")]
    CreditsOff(&'static str),
    /// Tipping twice.
    #[error("you already tipped {reviewer} for this critique")]
    AlreadyTipped {
        /// Who wrote it.
        reviewer: String,
    },
    /// A rule change naming no rule.
    #[error("no rule to change; give key=value")]
    NoRuleChange,
    /// An invite that would expire before it is made.
    #[error("invite expiry {expires_at} is not in the future")]
    InviteExpiry {
        /// The expiry given.
        expires_at: jiff::Timestamp,
    },
    /// A device invite for someone else's devices.
    #[error("you can invite only your own devices, not those of member `{0}`")]
    NotYourDevice(String),
    /// Making an invite whose hash the group already holds.
    #[error("invite `{0}` already exists")]
    InviteExists(String),
    /// No such invite.
    #[error("no invite `{0}` in this group")]
    NoInvite(String),
    /// Redeeming an invite past its expiry.
    #[error("invite `{invite}` expired at {expired}")]
    InviteExpired {
        /// The invite.
        invite: String,
        /// When it expired.
        expired: jiff::Timestamp,
    },
    /// Redeeming an invite that has no uses left.
    #[error("invite `{invite}` has been used {uses} of {max} times")]
    InviteUsedUp {
        /// The invite.
        invite: String,
        /// How many devices redeemed it.
        uses: usize,
        /// How many it allows.
        max: u32,
    },
    /// Redeeming a new-member invite as a device, or a device invite as a new member.
    #[error("invite `{invite}` is {is}, not {wanted}")]
    WrongInviteKind {
        /// The invite.
        invite: String,
        /// What it is: `a new-member invite`, `a device invite`.
        is: &'static str,
        /// What the joiner asked for.
        wanted: &'static str,
    },
    /// Redeeming an invite whose maker is no longer a member.
    #[error("invite `{invite}` was made by `{inviter}`, who is no longer a member")]
    InviterGone {
        /// The invite.
        invite: String,
        /// Who made it.
        inviter: String,
    },
    /// Acting on, or joining as, a member who has been removed.
    #[error("member `{0}` has been removed from this group")]
    Removed(String),
    /// A new member with an id the roster already holds.
    #[error("member `{0}` is already in this group")]
    MemberExists(String),
    /// The last organizer removing themselves.
    #[error("you are the last organizer of this group, so you cannot remove yourself")]
    LastOrganizer,
    /// A rule key or value the rules do not take.
    #[error(transparent)]
    Rule(#[from] crate::exchange::rules::RuleError),
    /// The document itself is in a state we cannot work with.
    #[error(transparent)]
    Doc(#[from] DocError),
}

/// Anything opening or changing a group can run into.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The operation was refused; nothing was written.
    #[error(transparent)]
    Op(#[from] OpError),
    /// The disk failed us; what the error names was not saved.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The document is not one we can open.
    #[error("group `{group}`: {problem}{damage}")]
    Doc {
        /// The group's folder name.
        group: String,
        /// What is wrong with it.
        problem: DocError,
        /// What loading found damaged on disk, if anything ("; " + warnings), which is
        /// usually why the document is incomplete.
        damage: String,
    },
    /// The view cache could not be written.
    #[error(transparent)]
    ViewCache(#[from] crate::view_cache::ViewCacheError),
    /// This device is not a member of the group.
    #[error("this device ({device}) is not a member of `{group}`")]
    NotAMember {
        /// The group's name.
        group: String,
        /// This device's short id.
        device: String,
    },
    /// The group's rules refuse the change an operation made; it was rolled back and nothing
    /// was written (our operations and every peer judge by the same rules).
    #[error("refused by the group's rules: {0}")]
    Forbidden(#[from] crate::authority::Refusal),
}
