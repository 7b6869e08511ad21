//! The activity feed: the document's history read as who did what, when.
//!
//! Each change's author is its automerge actor, which names the device
//! ([`crate::device_of_actor`]); the roster says whose device it is. Each change's message was
//! written by the operation that made it ("claim <submission id>"); here ids become titles.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::{CritiqueId, DeviceId, MemberId, SubmissionId};
use crate::model::Group;

/// One change as the document's history records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// When its device says it was made (to the second).
    #[serde(with = "crate::serde_time")]
    pub at: Timestamp,
    /// The device that made it, if its actor names one.
    pub device: Option<DeviceId>,
    /// What the operation wrote as its message.
    pub message: String,
    /// Its first op's counter (a Lamport clock: a change always counts higher than every
    /// change it builds on) and its actor: the order of changes made in the same second,
    /// causal, and the same on every device whatever order the changes arrived in.
    pub order: (u64, Vec<u8>),
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
    let mut critiques: BTreeMap<CritiqueId, SubmissionId> = BTreeMap::new();
    for sub in group.submissions.values() {
        for id in sub.critiques.keys() {
            critiques.insert(*id, sub.id);
        }
    }
    activity_with(
        group,
        |d| owners.get(&d).copied(),
        |c| critiques.get(&c).copied(),
        changes,
        since,
    )
}

/// [`activity`] for whoever keeps the lookups it needs: the member who owns a device (of
/// several, the greatest id), and the submission a critique belongs to (of several, the
/// greatest id).
pub fn activity_with(
    group: &Group,
    owner_of: impl Fn(DeviceId) -> Option<MemberId>,
    submission_of: impl Fn(CritiqueId) -> Option<SubmissionId>,
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
                what: describe(group, &submission_of, &c.message),
            }
        })
        .collect()
}

/// A change message in words, with the ids it names replaced by titles.
pub fn describe(
    group: &Group,
    submission_of: impl Fn(CritiqueId) -> Option<SubmissionId>,
    message: &str,
) -> String {
    let (verb, rest) = message.split_once(' ').unwrap_or((message, ""));
    let title = |id: SubmissionId| {
        group
            .submissions
            .get(&id)
            .map_or_else(|| id.short(), |s| format!("'{}'", s.title))
    };
    let piece = rest.parse::<SubmissionId>().ok().map(title);
    let of_critique = rest
        .parse::<CritiqueId>()
        .ok()
        .and_then(submission_of)
        .map(title);
    match (verb, piece, of_critique) {
        ("claim", Some(t), _) => format!("claimed {t}"),
        ("unclaim", Some(t), _) => format!("let go of their claim on {t}"),
        ("critique", Some(t), _) => format!("critiqued {t}"),
        ("withdraw", Some(t), _) => format!("withdrew {t}"),
        ("rate", _, Some(t)) => format!("rated a critique of {t}"),
        ("thank", _, Some(t)) => format!("thanked a reviewer of {t}"),
        ("tip", _, Some(t)) => format!("tipped a reviewer of {t}"),
        ("submit", _, _) => format!("submitted {rest}"),
        ("rules", _, _) => format!("changed the rules: {rest}"),
        ("edit", _, _) if rest == "profile" => "edited their profile".to_string(),
        ("create", _, _) => format!("created the {rest}"),
        ("add", _, _) => format!("added {rest}"),
        _ => message.to_string(),
    }
}
