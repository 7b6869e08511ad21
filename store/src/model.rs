//! The plain Rust types of a group: what the document holds, with no automerge in sight.
//!
//! [`crate::doc`] maps these to and from the document; [`crate::ops`] changes them;
//! [`crate::views`] derives everything else from them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::exchange::Credits;
use crate::ids::{CritiqueId, DeviceId, GroupId, InviteHash, MemberId, RuleChangeId, SubmissionId};

/// The document schema this build reads and writes.
pub const SCHEMA_VERSION: u64 = 2;

/// The oldest schema this build opens: groups of schema 1 were made before changes were
/// signed and judged, and their changes cannot be vouched for.
pub const OLDEST_SCHEMA: u64 = 2;

/// A whole group, read from the document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// Name, description, rules.
    pub info: GroupInfo,
    /// Everyone who ever joined, removed members included (see [`Member::removed_at`]).
    pub members: BTreeMap<MemberId, Member>,
    /// Every submission, withdrawn ones included.
    pub submissions: BTreeMap<SubmissionId, Submission>,
    /// Entries the document holds but that could not be read (written by a newer or a broken
    /// peer). They are left untouched in the document.
    #[serde(skip)]
    pub skipped: Vec<SkippedEntry>,
}

/// An entry of the document that could not be read into the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedEntry {
    /// Where it is, e.g. `submissions/7f3a…`.
    pub path: String,
    /// Why it could not be read.
    pub reason: String,
}

impl fmt::Display for SkippedEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "skipped unreadable entry `{}`: {}",
            self.path, self.reason
        )
    }
}

/// What the group is and how it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupInfo {
    /// Its id, also its folder name on disk.
    pub id: GroupId,
    /// Shown everywhere, e.g. "Tuesday Writers".
    pub name: String,
    /// Free text from the organizer.
    pub description: String,
    /// When the organizer created it.
    #[serde(with = "crate::serde_time")]
    pub created_at: Timestamp,
    /// The organizer who created it.
    pub created_by: MemberId,
    /// The rules the group was founded with; see [`GroupInfo::rules_at`] for the rules in
    /// force at a given time.
    pub rules: Rules,
    /// Every change an organizer made to the rules, in the order they apply: by time, then id.
    pub rule_changes: Vec<RuleChange>,
}

impl GroupInfo {
    /// The rules in force at `t`: the founding rules with every change made up to `t` applied
    /// in `(at, id)` order. Past entries keep the rules of their time.
    pub fn rules_at(&self, t: Timestamp) -> Rules {
        crate::exchange::rules::fold(self.rules, &self.rule_changes, t)
    }
}

/// The group's rules, set by an organizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    /// How many critiques a new submission asks for unless its author says otherwise.
    pub critiques_wanted: u32,
    /// Days a claim holds a slot before it lapses and the slot reopens.
    pub claim_period_days: u32,
    /// Longest submission accepted, in words; `None` for no limit.
    pub max_words: Option<u32>,
    /// Whether the group counts credits at all; with `false`, submitting is free and
    /// critiques earn nothing.
    pub credits: bool,
    /// What a new member starts with.
    pub starting_credits: Credits,
    /// What a submission costs when its author has no other submission open.
    pub submission_cost: Credits,
    /// What each further submission the author has open at the same time adds to the cost.
    pub extra_open_cost: Credits,
    /// What an author's tip moves from the author to the reviewer.
    pub tip: Credits,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            critiques_wanted: 3,
            claim_period_days: 7,
            max_words: None,
            credits: true,
            starting_credits: Credits::whole(3),
            submission_cost: Credits::whole(3),
            extra_open_cost: Credits::whole(4),
            tip: Credits::whole(1),
        }
    }
}

/// One change of the rules: the keys an organizer set, as text (`claim_period_days` -> `5`).
/// Only the keys named change, so two organizers changing different rules at once both count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleChange {
    /// Its id; orders changes made in the same millisecond.
    pub id: RuleChangeId,
    /// When it was made; it applies from then on.
    #[serde(with = "crate::serde_time")]
    pub at: Timestamp,
    /// The organizer who made it.
    pub by: MemberId,
    /// The rules it sets, key -> value, in the form `quire rules --set` takes.
    pub values: std::collections::BTreeMap<String, String>,
}

/// What a member offers the group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum Role {
    /// Submits their own work.
    Writer,
    /// Reads whole manuscripts.
    BetaReader,
    /// Trades critiques.
    CritiquePartner,
    /// Keeps someone honest about their writing goals.
    AccountabilityPartner,
    /// Guides less experienced writers.
    Mentor,
    /// A role written by a newer version of Quire, kept as it is.
    Other(String),
}

impl Role {
    /// The roles this version knows, in the order they are listed to users.
    pub const KNOWN: [Role; 5] = [
        Role::Writer,
        Role::BetaReader,
        Role::CritiquePartner,
        Role::AccountabilityPartner,
        Role::Mentor,
    ];

    /// Parses a role a user typed; unlike [`FromStr`] this refuses unknown roles.
    pub fn parse_known(s: &str) -> Result<Role, UnknownRole> {
        match s.parse::<Role>() {
            Ok(Role::Other(_)) | Err(_) => Err(UnknownRole(s.trim().to_string())),
            Ok(role) => Ok(role),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            Role::Writer => "writer",
            Role::BetaReader => "beta-reader",
            Role::CritiquePartner => "critique-partner",
            Role::AccountabilityPartner => "accountability-partner",
            Role::Mentor => "mentor",
            Role::Other(s) => s,
        }
    }
}

/// A role name that is none of [`Role::KNOWN`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown role `{0}`; roles are writer, beta-reader, critique-partner, accountability-partner, mentor"
)]
pub struct UnknownRole(pub String);

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Role> for String {
    fn from(role: Role) -> String {
        role.to_string()
    }
}

impl From<String> for Role {
    fn from(role: String) -> Role {
        role.parse().unwrap_or_else(|never| match never {})
    }
}

impl FromStr for Role {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let normal = s.trim().to_lowercase().replace([' ', '_'], "-");
        Ok(match normal.as_str() {
            "writer" => Role::Writer,
            "beta-reader" | "beta" => Role::BetaReader,
            "critique-partner" | "critiquer" => Role::CritiquePartner,
            "accountability-partner" | "accountability" => Role::AccountabilityPartner,
            "mentor" => Role::Mentor,
            _ => Role::Other(normal),
        })
    }
}

/// A member's own description of themselves.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Profile {
    /// The name the group knows them by.
    pub display_name: String,
    /// The name they publish under, if different.
    pub pen_name: Option<String>,
    /// A few lines about them.
    pub bio: String,
    /// Genres they write or like to read, lowercase.
    pub genres: BTreeSet<String>,
    /// What they offer the group.
    pub roles: BTreeSet<Role>,
    /// Labelled links, e.g. `website` -> `https://…`.
    pub links: BTreeMap<String, String>,
    /// Critiques they mean to give per month.
    pub capacity_per_month: Option<u32>,
    /// Not taking work until this day.
    pub hiatus_until: Option<Date>,
}

/// A person in the group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// Their id.
    pub id: MemberId,
    /// What they say about themselves.
    pub profile: Profile,
    /// Organizers set the rules and remove members.
    pub organizer: bool,
    /// When they joined.
    #[serde(with = "crate::serde_time")]
    pub joined_at: Timestamp,
    /// When an organizer removed them; removed members keep their history.
    #[serde(with = "crate::serde_time::option")]
    pub removed_at: Option<Timestamp>,
    /// The devices they use, each an iroh endpoint.
    pub devices: BTreeMap<DeviceId, Device>,
}

impl Member {
    /// Whether they are still in the group.
    pub fn is_current(&self) -> bool {
        self.removed_at.is_none()
    }

    /// Whether they are on hiatus on `today`.
    pub fn on_hiatus(&self, today: Date) -> bool {
        self.profile.hiatus_until.is_some_and(|until| today < until)
    }
}

/// One of a member's devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// A name the member gave it, e.g. "laptop".
    pub label: String,
    /// When it was linked.
    #[serde(with = "crate::serde_time")]
    pub added_at: Timestamp,
}

/// Who an invite lets in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InviteKind {
    /// A new member, who joins with the device that redeems it.
    Member,
    /// Another device of an existing member.
    Device {
        /// The member the device will belong to.
        member: MemberId,
    },
}

/// An invite to the group. The document holds only the hash of its secret; whoever shows the
/// secret (to a peer that checks it against the hash) may redeem it.
///
/// Invites are read apart from the rest of the group ([`crate::doc::read_invites`]), not as part
/// of [`Group`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invite {
    /// The hash of its secret, also its key in the document.
    pub hash: InviteHash,
    /// Who made it.
    pub created_by: MemberId,
    /// When it was made.
    pub created_at: Timestamp,
    /// It can be redeemed until just before this time.
    pub expires_at: Timestamp,
    /// How many devices may redeem it.
    pub max_uses: u32,
    /// Who it lets in.
    pub kind: InviteKind,
    /// The devices that redeemed it, with when. Two devices redeeming it offline at the same
    /// time both count, so after a merge this can hold more than `max_uses` entries.
    pub uses: BTreeMap<DeviceId, Timestamp>,
}

impl Invite {
    /// Whether it can no longer be redeemed at `now`.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        now >= self.expires_at
    }

    /// How many more devices may redeem it.
    pub fn uses_left(&self) -> u32 {
        let used = u32::try_from(self.uses.len()).unwrap_or(u32::MAX);
        self.max_uses.saturating_sub(used)
    }
}

/// A piece submitted for critique.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    /// Its id.
    pub id: SubmissionId,
    /// Who wrote it.
    pub author: MemberId,
    /// Its title.
    pub title: String,
    /// Its genre, lowercase.
    pub genre: String,
    /// Words in `text`.
    pub word_count: u32,
    /// The piece itself.
    pub text: String,
    /// What the author wants feedback on.
    pub feedback_wanted: String,
    /// Content notes for readers.
    pub content_notes: String,
    /// When it entered the queue.
    #[serde(with = "crate::serde_time")]
    pub submitted_at: Timestamp,
    /// When the author would like critiques by.
    pub due_at: Option<Date>,
    /// How many critiques it asks for.
    pub critiques_wanted: u32,
    /// When the author withdrew it.
    #[serde(with = "crate::serde_time::option")]
    pub withdrawn_at: Option<Timestamp>,
    /// Who has claimed it, keyed by member (one claim each).
    pub claims: BTreeMap<MemberId, Claim>,
    /// Critiques delivered on it.
    pub critiques: BTreeMap<CritiqueId, Critique>,
}

impl Submission {
    /// The critique `reviewer` delivered on this piece, if any.
    pub fn critique_by(&self, reviewer: MemberId) -> Option<&Critique> {
        self.critiques.values().find(|c| c.reviewer == reviewer)
    }
}

/// A member's promise to critique a submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// When they claimed it.
    #[serde(with = "crate::serde_time")]
    pub at: Timestamp,
    /// When the claim lapses if no critique arrives, counted from `at`. A claim that waited
    /// in line gets the same period again from when it moved up (see
    /// [`crate::views::claim_line`]).
    #[serde(with = "crate::serde_time")]
    pub expires_at: Timestamp,
    /// When the member let the claim go, if they did.
    #[serde(with = "crate::serde_time::option")]
    pub released_at: Option<Timestamp>,
}

impl Claim {
    /// How long the claim holds a slot once it has one.
    pub fn period(&self) -> jiff::SignedDuration {
        self.expires_at.duration_since(self.at)
    }
}

/// A critique delivered on a submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Critique {
    /// Its id.
    pub id: CritiqueId,
    /// Who wrote it.
    pub reviewer: MemberId,
    /// The critique itself.
    pub body: String,
    /// Words in `body`.
    pub word_count: u32,
    /// When it was delivered.
    #[serde(with = "crate::serde_time")]
    pub delivered_at: Timestamp,
    /// The author's rating, 1 to 5.
    pub rating: Option<u8>,
    /// When the author thanked the reviewer.
    #[serde(with = "crate::serde_time::option")]
    pub thanked_at: Option<Timestamp>,
    /// When the author tipped the reviewer a credit.
    #[serde(with = "crate::serde_time::option")]
    pub tipped_at: Option<Timestamp>,
}

impl Group {
    /// The member using `device`, if the device belongs to a current member.
    pub fn member_for_device(&self, device: DeviceId) -> Option<&Member> {
        self.members
            .values()
            .find(|m| m.is_current() && m.devices.contains_key(&device))
    }

    /// The display name of `member`, or its short id if the roster does not know it.
    pub fn name_of(&self, member: MemberId) -> String {
        self.members
            .get(&member)
            .map(|m| m.profile.display_name.clone())
            .unwrap_or_else(|| member.short())
    }

    /// The critique with this id and the submission it belongs to.
    pub fn critique(&self, id: CritiqueId) -> Option<(&Submission, &Critique)> {
        self.submissions
            .values()
            .find_map(|s| s.critiques.get(&id).map(|c| (s, c)))
    }
}
