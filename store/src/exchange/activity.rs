//! The activity feed: the document's history read as who did what, when.
//!
//! Each change's author is its automerge actor, which names the device
//! ([`crate::device_of_actor`]); the roster says whose device it is. What a change did is read
//! from its ops ([`crate::doc::history`] turns them into [`Deed`]s: "made the entry
//! `submissions/<id>`", "set `removed_at` of member `<id>`"), never from the free-text message
//! it carries, which its writer chooses and which may say anything. Here the deeds become
//! words, with ids turned into the titles and names the group holds now.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::{CritiqueId, DeviceId, InviteHash, MemberId, RuleChangeId, SubmissionId};
use crate::model::{Group, Rules};

/// One change as the document's history records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// When its device says it was made (to the second).
    #[serde(with = "crate::serde_time")]
    pub at: Timestamp,
    /// The device that made it, if its actor names one.
    pub device: Option<DeviceId>,
    /// What its ops did, in [`Deed`] order, each once.
    pub deeds: Vec<Deed>,
    /// Its first op's counter (a Lamport clock: a change always counts higher than every
    /// change it builds on) and its actor: the order of changes made in the same second,
    /// causal, and the same on every device whatever order the changes arrived in.
    pub order: (u64, Vec<u8>),
}

/// One thing a change did to the group, as its ops show it.
///
/// Each names the entries it touched by id only: the words come from the group as it is
/// ([`describe`]), never from text the change carries.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Deed {
    /// Made the group's entry (the founding change).
    CreatedGroup,
    /// Wrote fields of the group's entry (its name, description, defaults) or the schema.
    EditedGroup,
    /// Wrote a change of the rules: the values it wrote, by key.
    ChangedRules(RuleChangeId, BTreeMap<String, String>),
    /// Made a member's entry.
    AddedMember(MemberId),
    /// Marked a member removed.
    RemovedMember(MemberId),
    /// Deleted a member's entry outright.
    DeletedMember(MemberId),
    /// Set or cleared a member's organizer flag.
    SetOrganizer(MemberId, bool),
    /// Wrote profile fields of a member (name, bio, genres, ...).
    EditedProfile(MemberId),
    /// Wrote other fields of a member (joined, removal cleared, a device's label).
    EditedMember(MemberId),
    /// Added a device to a member.
    AddedDevice(MemberId, DeviceId),
    /// Deleted a device of a member.
    RemovedDevice(MemberId, DeviceId),
    /// Made an invite; whether it is for a device (else for a new member).
    Invited(InviteHash, bool),
    /// Recorded a use of an invite, without adding anyone.
    UsedInvite(InviteHash),
    /// Wrote other fields of an invite, or deleted it.
    EditedInvite(InviteHash),
    /// Made a submission's entry.
    Submitted(SubmissionId),
    /// Wrote fields of a submission (title, text, ...).
    EditedSubmission(SubmissionId),
    /// Marked a submission withdrawn.
    Withdrew(SubmissionId),
    /// Deleted a submission's entry outright.
    DeletedSubmission(SubmissionId),
    /// Made or renewed a member's claim on a submission.
    Claimed(SubmissionId, MemberId),
    /// Let go of (or deleted) a member's claim on a submission.
    Unclaimed(SubmissionId, MemberId),
    /// Wrote other fields of a claim.
    EditedClaim(SubmissionId, MemberId),
    /// Made a critique of a submission.
    Critiqued(SubmissionId, CritiqueId),
    /// Rated a critique.
    Rated(SubmissionId, CritiqueId),
    /// Thanked a critique's reviewer.
    Thanked(SubmissionId, CritiqueId),
    /// Tipped a critique's reviewer.
    Tipped(SubmissionId, CritiqueId),
    /// Wrote other fields of a critique (its body, its reviewer).
    EditedCritique(SubmissionId, CritiqueId),
    /// Deleted a critique outright.
    DeletedCritique(SubmissionId, CritiqueId),
    /// Wrote where the group's schema has nothing.
    Unrecognised,
    /// More ops than are read one by one for the feed (see
    /// [`crate::doc::MAX_DESCRIBED_OPS`]).
    Bulk(u64),
}

/// One line of the activity feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Activity {
    /// When.
    pub at: Timestamp,
    /// Who, if the device belongs to a member.
    pub member: Option<MemberId>,
    /// Their name, or "someone".
    pub who: String,
    /// What they did, e.g. "claimed 'The Mill'".
    pub what: String,
}

/// The changes made at or after `since` (all if `None`), newest first.
pub fn activity(group: &Group, changes: &[Change], since: Option<Timestamp>) -> Vec<Activity> {
    let owners: BTreeMap<DeviceId, MemberId> = group
        .members
        .values()
        .flat_map(|m| m.devices.keys().map(move |d| (*d, m.id)))
        .collect();
    activity_with(group, |d| owners.get(&d).copied(), changes, since)
}

/// [`activity`] for whoever keeps the lookup it needs: the member who owns a device (of
/// several, the greatest id).
pub fn activity_with(
    group: &Group,
    owner_of: impl Fn(DeviceId) -> Option<MemberId>,
    changes: &[Change],
    since: Option<Timestamp>,
) -> Vec<Activity> {
    let mut sorted: Vec<&Change> = changes
        .iter()
        .filter(|c| since.is_none_or(|s| c.at >= s))
        .collect();
    // Newest first; changes of the same second by Lamport clock, then actor, so devices that
    // received concurrent changes in different orders still show the same feed.
    sorted.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| b.order.cmp(&a.order)));
    sorted
        .into_iter()
        .map(|c| {
            let member = c.device.and_then(&owner_of);
            Activity {
                at: c.at,
                member,
                who: member.map_or_else(|| "someone".to_string(), |m| group.name_of(m)),
                what: describe(group, member, &c.deeds),
            }
        })
        .collect()
}

/// What a change by `doer` did, in words: its deeds, with the titles and names `group`
/// holds, joined by commas.
pub fn describe(group: &Group, doer: Option<MemberId>, deeds: &[Deed]) -> String {
    if deeds.is_empty() {
        return "changed nothing".to_string();
    }
    let words = Words { group, doer };
    deeds
        .iter()
        .map(|deed| words.deed(deed))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Words for deeds, as `doer` did them in `group`.
struct Words<'a> {
    group: &'a Group,
    doer: Option<MemberId>,
}

impl Words<'_> {
    fn deed(&self, deed: &Deed) -> String {
        match deed {
            Deed::CreatedGroup => format!("created the group '{}'", self.group.info.name),
            Deed::EditedGroup => "changed the group's details".to_string(),
            Deed::ChangedRules(_, values) => rules(values),
            Deed::AddedMember(m) => format!("added member {}", self.name(*m)),
            Deed::RemovedMember(m) => format!("removed {}", self.name(*m)),
            Deed::DeletedMember(m) => format!("deleted member {}", self.name(*m)),
            Deed::SetOrganizer(m, true) => format!("made {} an organizer", self.name(*m)),
            Deed::SetOrganizer(m, false) => {
                format!("made {} no longer an organizer", self.name(*m))
            }
            Deed::EditedProfile(m) if self.doer == Some(*m) => "edited their profile".to_string(),
            Deed::EditedProfile(m) => format!("edited the profile of {}", self.name(*m)),
            Deed::EditedMember(m) => format!("changed the membership of {}", self.name(*m)),
            Deed::AddedDevice(m, d) => {
                let label = self
                    .group
                    .members
                    .get(m)
                    .and_then(|member| member.devices.get(d))
                    .map_or_else(|| d.short(), |device| format!("'{}'", device.label));
                if self.doer == Some(*m) {
                    format!("added device {label}")
                } else {
                    format!("added device {label} to {}", self.name(*m))
                }
            }
            Deed::RemovedDevice(m, _) => format!("removed a device of {}", self.name(*m)),
            Deed::Invited(_, false) => "created an invite for a new member".to_string(),
            Deed::Invited(_, true) => "created an invite for a new device".to_string(),
            Deed::UsedInvite(_) => "used an invite".to_string(),
            Deed::EditedInvite(_) => "changed an invite".to_string(),
            Deed::Submitted(s) => format!("submitted {}", self.title(*s)),
            Deed::EditedSubmission(s) => format!("edited {}", self.title(*s)),
            Deed::Withdrew(s) => format!("withdrew {}", self.title(*s)),
            Deed::DeletedSubmission(s) => format!("deleted {}", self.title(*s)),
            Deed::Claimed(s, m) if self.doer == Some(*m) => format!("claimed {}", self.title(*s)),
            Deed::Claimed(s, m) => {
                format!("claimed {} for {}", self.title(*s), self.name(*m))
            }
            Deed::Unclaimed(s, m) if self.doer == Some(*m) => {
                format!("let go of their claim on {}", self.title(*s))
            }
            Deed::Unclaimed(s, m) => {
                format!("let go of {}'s claim on {}", self.name(*m), self.title(*s))
            }
            Deed::EditedClaim(s, _) => format!("changed a claim on {}", self.title(*s)),
            Deed::Critiqued(s, c) => match self.reviewer(*s, *c) {
                Some(r) if self.doer != Some(r) => {
                    format!("critiqued {} as {}", self.title(*s), self.name(r))
                }
                _ => format!("critiqued {}", self.title(*s)),
            },
            Deed::Rated(s, _) => format!("rated a critique of {}", self.title(*s)),
            Deed::Thanked(s, _) => format!("thanked a reviewer of {}", self.title(*s)),
            Deed::Tipped(s, _) => format!("tipped a reviewer of {}", self.title(*s)),
            Deed::EditedCritique(s, _) => format!("edited a critique of {}", self.title(*s)),
            Deed::DeletedCritique(s, _) => format!("deleted a critique of {}", self.title(*s)),
            Deed::Unrecognised => "made a change Quire does not recognise".to_string(),
            Deed::Bulk(ops) => format!("made {ops} edits at once"),
        }
    }

    fn name(&self, member: MemberId) -> String {
        match self.group.members.get(&member) {
            Some(m) => format!("'{}'", m.profile.display_name),
            None => member.short(),
        }
    }

    fn title(&self, id: SubmissionId) -> String {
        self.group
            .submissions
            .get(&id)
            .map_or_else(|| id.short(), |s| format!("'{}'", s.title))
    }

    fn reviewer(&self, sub: SubmissionId, critique: CritiqueId) -> Option<MemberId> {
        let critique = self.group.submissions.get(&sub)?.critiques.get(&critique)?;
        Some(critique.reviewer)
    }
}

/// "changed the rules: key=value ...", with only the keys a rule change may set, each value
/// in its canonical form (as every reader folds it).
fn rules(values: &BTreeMap<String, String>) -> String {
    let mut probe = Rules::default();
    let mut known = Vec::new();
    for (key, value) in values {
        if probe.set(key, value).is_ok() {
            let canonical = probe.value(key).unwrap_or_else(|| value.clone());
            known.push(format!("{key}={canonical}"));
        }
    }
    if known.is_empty() {
        "changed the rules".to_string()
    } else {
        format!("changed the rules: {}", known.join(" "))
    }
}
