//! The one place that maps the model to and from the automerge document.
//!
//! Reads are generic over [`autosurgeon::ReadDoc`], so they work on a document and inside a
//! transaction alike. Reading the whole group skips (and reports) entries it cannot read
//! instead of failing, so one malformed submission from a buggy peer does not hide the rest.
//! Writes touch only the keys an operation changes, so concurrent edits to different fields of
//! the same member or submission merge cleanly.

mod history;
mod invites;
mod membership;
mod records;
mod tree;

pub use history::{MAX_DESCRIBED_OPS, history, history_from, history_since, newest_history};
pub use invites::{put_invite, put_invite_use, read_invite, read_invites};
pub use membership::{
    current_devices, current_member_of_device, is_current_device_of, put_device, set_removed,
};

use std::collections::BTreeMap;

use automerge::{ObjId, ObjType, ROOT, ScalarValue, Value};
use autosurgeon::{Doc, ReadDoc, reconcile_prop};
use jiff::Timestamp;

use crate::ids::{CritiqueId, GroupId, MemberId, SubmissionId};
use crate::model::{
    Claim, Critique, Group, GroupInfo, Member, OLDEST_SCHEMA, Profile, RuleChange, SCHEMA_VERSION,
    SkippedEntry, Submission,
};
use records::{
    ClaimRecord, CritiqueRecord, MemberRecord, RuleChangeRecord, SubmissionRecord, millis,
};

/// Keys of the document root and of the `group` map.
mod key {
    pub const SCHEMA: &str = "schema";
    pub const GROUP: &str = "group";
    pub const MEMBERS: &str = "members";
    pub const INVITES: &str = "invites";
    pub const SUBMISSIONS: &str = "submissions";
    pub const RULES: &str = "rules";
    pub const RULE_CHANGES: &str = "rule_changes";
    pub const CLAIMS: &str = "claims";
    pub const CRITIQUES: &str = "critiques";
}

/// The document is not a Quire group this build can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocError {
    /// Written by a newer Quire.
    #[error(
        "the group uses document schema {found}, but this quire understands up to {SCHEMA_VERSION}; upgrade quire to open it"
    )]
    SchemaTooNew {
        /// The version the document declares.
        found: u64,
    },
    /// Made by an earlier Quire, before changes were signed and judged.
    #[error(
        "the group uses document schema {found}, made by an earlier quire before changes were signed; this quire opens schema {OLDEST_SCHEMA} and later: create the group again"
    )]
    SchemaTooOld {
        /// The version the document declares.
        found: u64,
    },
    /// Not a Quire group at all, or missing its core.
    #[error("the document is not a quire group: {0}")]
    NotAGroup(String),
    /// automerge refused an operation.
    #[error("document error: {0}")]
    Automerge(String),
}

impl From<automerge::AutomergeError> for DocError {
    fn from(e: automerge::AutomergeError) -> Self {
        DocError::Automerge(e.to_string())
    }
}

impl From<autosurgeon::ReconcileError> for DocError {
    fn from(e: autosurgeon::ReconcileError) -> Self {
        DocError::Automerge(e.to_string())
    }
}

/// The schema version the document declares, if any.
pub fn schema_version<D: ReadDoc>(doc: &D) -> Option<u64> {
    match doc.get(&ROOT, key::SCHEMA).ok().flatten() {
        Some((Value::Scalar(s), _)) => match s.as_ref() {
            ScalarValue::Uint(v) => Some(*v),
            ScalarValue::Int(v) => u64::try_from(*v).ok(),
            _ => None,
        },
        _ => None,
    }
}

/// Checks the document is a group of a schema this build reads.
pub fn check_schema<D: ReadDoc>(doc: &D) -> Result<(), DocError> {
    match schema_version(doc) {
        Some(v) if v > SCHEMA_VERSION => Err(DocError::SchemaTooNew { found: v }),
        Some(v) if v < OLDEST_SCHEMA => Err(DocError::SchemaTooOld { found: v }),
        Some(_) => Ok(()),
        None => Err(DocError::NotAGroup("no schema version".into())),
    }
}

fn map_at<D: ReadDoc>(doc: &D, parent: &ObjId, name: &str) -> Option<ObjId> {
    match doc.get(parent, name).ok().flatten() {
        Some((Value::Object(ObjType::Map), id)) => Some(id),
        _ => None,
    }
}

fn required_map<D: ReadDoc>(doc: &D, parent: &ObjId, name: &str) -> Result<ObjId, DocError> {
    map_at(doc, parent, name).ok_or_else(|| DocError::NotAGroup(format!("no `{name}` map")))
}

fn submission_obj<D: ReadDoc>(doc: &D, id: SubmissionId) -> Result<Option<ObjId>, DocError> {
    let subs = required_map(doc, &ROOT, key::SUBMISSIONS)?;
    Ok(map_at(doc, &subs, &id.to_string()))
}

/// Reads the group's name, rules and founding facts.
pub fn read_info<D: ReadDoc + automerge::ReadDoc>(doc: &D) -> Result<GroupInfo, DocError> {
    read_info_reporting(doc, &mut Vec::new())
}

/// [`read_info`], reporting what it skips as [`read_group`] does.
pub(crate) fn read_info_reporting<D: ReadDoc + automerge::ReadDoc>(
    doc: &D,
    skipped: &mut Vec<SkippedEntry>,
) -> Result<GroupInfo, DocError> {
    let group = required_map(doc, &ROOT, key::GROUP)?;
    let map = tree::read_one(doc, &group);
    let bad = |e: String| DocError::NotAGroup(format!("group: {e}"));
    let rules = map.map(key::RULES).map(records::rules).unwrap_or_default();
    // Documents from before rule changes existed have no such map: no changes.
    let rule_changes = match map.map(key::RULE_CHANGES) {
        Ok(changes) => records::rule_changes(changes, "group/rule_changes", skipped),
        Err(reason) => {
            skipped.push(records::skip("group/rule_changes".into(), reason));
            Vec::new()
        }
    };
    Ok(GroupInfo {
        id: map
            .str("id")
            .and_then(|s| s.parse::<GroupId>().map_err(|e| e.to_string()))
            .map_err(bad)?,
        name: map.str("name").map_err(bad)?,
        description: map.str_or_empty("description").map_err(bad)?,
        created_at: map.i64("created_at").and_then(records::time).map_err(bad)?,
        created_by: map
            .str("created_by")
            .and_then(|s| s.parse::<MemberId>().map_err(|e| e.to_string()))
            .map_err(bad)?,
        rules,
        rule_changes,
    })
}

/// Reads one member.
pub fn read_member<D: ReadDoc + automerge::ReadDoc>(
    doc: &D,
    id: MemberId,
) -> Result<Option<Member>, DocError> {
    let members = required_map(doc, &ROOT, key::MEMBERS)?;
    let key = id.to_string();
    let Some(obj) = map_at(doc, &members, &key) else {
        return Ok(None);
    };
    let path = format!("{}/{key}", key::MEMBERS);
    records::member(id, &tree::read_one(doc, &obj), &path, &mut Vec::new())
        .map(Some)
        .map_err(|e| DocError::NotAGroup(format!("{path}: {e}")))
}

/// Reads every member that can be read.
pub fn read_members<D: ReadDoc + automerge::ReadDoc>(
    doc: &D,
    skipped: &mut Vec<SkippedEntry>,
) -> Result<BTreeMap<MemberId, Member>, DocError> {
    let members = required_map(doc, &ROOT, key::MEMBERS)?;
    let tree = tree::read_bulk(doc, &members);
    Ok(records::entries(
        &tree,
        key::MEMBERS,
        skipped,
        records::member,
    ))
}

/// Reads the entry `key` of `members` exactly as [`read_members`] reads it, reporting what it
/// skips: none, or the one member.
pub(crate) fn reread_member<D: ReadDoc + automerge::ReadDoc>(
    doc: &D,
    entry: &str,
    skipped: &mut Vec<SkippedEntry>,
) -> Result<BTreeMap<MemberId, Member>, DocError> {
    let members = required_map(doc, &ROOT, key::MEMBERS)?;
    let tree = tree::read_entry(doc, &members, entry);
    Ok(records::entries(
        &tree,
        key::MEMBERS,
        skipped,
        records::member,
    ))
}

/// Reads one submission.
pub fn read_submission<D: ReadDoc + automerge::ReadDoc>(
    doc: &D,
    id: SubmissionId,
) -> Result<Option<Submission>, DocError> {
    let Some(obj) = submission_obj(doc, id)? else {
        return Ok(None);
    };
    let path = format!("{}/{id}", key::SUBMISSIONS);
    records::submission(id, &tree::read_one(doc, &obj), &path, &mut Vec::new())
        .map(Some)
        .map_err(|e| DocError::NotAGroup(format!("{path}: {e}")))
}

/// Reads every submission that can be read.
pub fn read_submissions<D: ReadDoc + automerge::ReadDoc>(
    doc: &D,
    skipped: &mut Vec<SkippedEntry>,
) -> Result<BTreeMap<SubmissionId, Submission>, DocError> {
    let subs = required_map(doc, &ROOT, key::SUBMISSIONS)?;
    let tree = tree::read_bulk(doc, &subs);
    Ok(records::entries(
        &tree,
        key::SUBMISSIONS,
        skipped,
        records::submission,
    ))
}

/// Reads the entry `key` of `submissions` exactly as [`read_submissions`] reads it, reporting
/// what it skips: none, or the one submission.
pub(crate) fn reread_submission<D: ReadDoc + automerge::ReadDoc>(
    doc: &D,
    entry: &str,
    skipped: &mut Vec<SkippedEntry>,
) -> Result<BTreeMap<SubmissionId, Submission>, DocError> {
    let subs = required_map(doc, &ROOT, key::SUBMISSIONS)?;
    let tree = tree::read_entry(doc, &subs, entry);
    Ok(records::entries(
        &tree,
        key::SUBMISSIONS,
        skipped,
        records::submission,
    ))
}

/// Puts skipped entries in the one order every reader reports them in: by path.
pub(crate) fn sort_skipped(skipped: &mut [SkippedEntry]) {
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
}

/// Reads the whole group.
pub fn read_group<D: ReadDoc + automerge::ReadDoc>(doc: &D) -> Result<Group, DocError> {
    check_schema(doc)?;
    let mut skipped = Vec::new();
    let info = read_info_reporting(doc, &mut skipped)?;
    let members = read_members(doc, &mut skipped)?;
    let submissions = read_submissions(doc, &mut skipped)?;
    sort_skipped(&mut skipped);
    Ok(Group {
        info,
        members,
        submissions,
        skipped,
    })
}

/// The ids of all submissions, without reading them.
pub fn submission_ids<D: ReadDoc>(doc: &D) -> Result<Vec<SubmissionId>, DocError> {
    let subs = required_map(doc, &ROOT, key::SUBMISSIONS)?;
    Ok(map_keys(doc, &subs)
        .iter()
        .filter_map(|k| k.parse().ok())
        .collect())
}

/// Every critique id with the submission it belongs to, without reading their bodies.
pub fn critique_ids<D: ReadDoc>(doc: &D) -> Result<Vec<(CritiqueId, SubmissionId)>, DocError> {
    let subs = required_map(doc, &ROOT, key::SUBMISSIONS)?;
    let mut out = Vec::new();
    for sub_key in map_keys(doc, &subs) {
        let (Ok(sub_id), Some(sub)) = (sub_key.parse(), map_at(doc, &subs, &sub_key)) else {
            continue;
        };
        if let Some(critiques) = map_at(doc, &sub, key::CRITIQUES) {
            out.extend(
                map_keys(doc, &critiques)
                    .iter()
                    .filter_map(|k| k.parse().ok())
                    .map(|c| (c, sub_id)),
            );
        }
    }
    Ok(out)
}

fn map_keys<D: ReadDoc>(doc: &D, obj: &ObjId) -> Vec<String> {
    doc.map_range(obj, ..)
        .map(|item| item.key.to_string())
        .collect()
}

// ---- writes ----

/// Writes a new group document's skeleton: schema, group, its first member.
pub fn write_new_group<D: Doc>(
    doc: &mut D,
    info: &GroupInfo,
    founder: &Member,
) -> Result<(), DocError> {
    doc.put(&ROOT, key::SCHEMA, ScalarValue::Uint(SCHEMA_VERSION))?;
    let group = doc.put_object(&ROOT, key::GROUP, ObjType::Map)?;
    doc.put(&group, "id", info.id.to_string())?;
    doc.put(&group, "name", info.name.as_str())?;
    doc.put(&group, "description", info.description.as_str())?;
    doc.put(
        &group,
        "created_at",
        ScalarValue::Int(millis(info.created_at)),
    )?;
    doc.put(&group, "created_by", info.created_by.to_string())?;
    let rules = doc.put_object(&group, key::RULES, ObjType::Map)?;
    for (name, value) in records::rules_record(&info.rules) {
        doc.put(&rules, name, value)?;
    }
    doc.put_object(&group, key::RULE_CHANGES, ObjType::Map)?;
    doc.put_object(&ROOT, key::MEMBERS, ObjType::Map)?;
    doc.put_object(&ROOT, key::INVITES, ObjType::Map)?;
    doc.put_object(&ROOT, key::SUBMISSIONS, ObjType::Map)?;
    put_member(doc, founder)
}

/// Adds a member who is not yet in the roster.
pub fn put_member<D: Doc>(doc: &mut D, member: &Member) -> Result<(), DocError> {
    let members = required_map(doc, &ROOT, key::MEMBERS)?;
    reconcile_prop(
        doc,
        &members,
        member.id.to_string().as_str(),
        MemberRecord::from_model(member),
    )?;
    Ok(())
}

/// Which profile fields an edit changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfilePatch {
    /// New display name.
    pub display_name: Option<String>,
    /// New pen name; `Some(None)` clears it.
    pub pen_name: Option<Option<String>>,
    /// New bio.
    pub bio: Option<String>,
    /// The whole new set of genres.
    pub genres: Option<std::collections::BTreeSet<String>>,
    /// The whole new set of roles.
    pub roles: Option<std::collections::BTreeSet<crate::model::Role>>,
    /// The whole new set of links.
    pub links: Option<BTreeMap<String, String>>,
    /// New capacity; `Some(None)` clears it.
    pub capacity_per_month: Option<Option<u32>>,
    /// New hiatus end; `Some(None)` ends the hiatus.
    pub hiatus_until: Option<Option<jiff::civil::Date>>,
}

impl ProfilePatch {
    /// The profile as it will be after the patch.
    pub fn apply_to(&self, p: &Profile) -> Profile {
        let mut p = p.clone();
        if let Some(v) = &self.display_name {
            p.display_name = v.clone();
        }
        if let Some(v) = &self.pen_name {
            p.pen_name = v.clone();
        }
        if let Some(v) = &self.bio {
            p.bio = v.clone();
        }
        if let Some(v) = &self.genres {
            p.genres = v.clone();
        }
        if let Some(v) = &self.roles {
            p.roles = v.clone();
        }
        if let Some(v) = &self.links {
            p.links = v.clone();
        }
        if let Some(v) = self.capacity_per_month {
            p.capacity_per_month = v;
        }
        if let Some(v) = self.hiatus_until {
            p.hiatus_until = v;
        }
        p
    }

    /// Whether the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Writes only the fields a profile patch names. Sets are edited key by key, so a genre added
/// on one device and another added on a second device both survive the merge.
pub fn patch_profile<D: Doc>(
    doc: &mut D,
    member: MemberId,
    patch: &ProfilePatch,
) -> Result<(), DocError> {
    let members = required_map(doc, &ROOT, key::MEMBERS)?;
    let obj = map_at(doc, &members, &member.to_string())
        .ok_or_else(|| DocError::NotAGroup(format!("no member `{member}`")))?;
    if let Some(v) = &patch.display_name {
        doc.put(&obj, "display_name", v.as_str())?;
    }
    if let Some(v) = &patch.pen_name {
        put_optional_str(doc, &obj, "pen_name", v.as_deref())?;
    }
    if let Some(v) = &patch.bio {
        doc.put(&obj, "bio", v.as_str())?;
    }
    if let Some(v) = &patch.genres {
        sync_set(doc, &obj, "genres", v.iter().map(|g| g.to_string()))?;
    }
    if let Some(v) = &patch.roles {
        sync_set(doc, &obj, "roles", v.iter().map(|r| r.to_string()))?;
    }
    if let Some(v) = &patch.links {
        reconcile_prop(doc, &obj, "links", v)?;
    }
    if let Some(v) = patch.capacity_per_month {
        match v {
            Some(n) => doc.put(&obj, "capacity_per_month", ScalarValue::Uint(n.into()))?,
            None => doc.put(&obj, "capacity_per_month", ScalarValue::Null)?,
        }
    }
    if let Some(v) = patch.hiatus_until {
        put_optional_str(
            doc,
            &obj,
            "hiatus_until",
            v.map(|d| d.to_string()).as_deref(),
        )?;
    }
    Ok(())
}

fn put_optional_str<D: Doc>(
    doc: &mut D,
    obj: &ObjId,
    name: &str,
    v: Option<&str>,
) -> Result<(), DocError> {
    match v {
        Some(s) => doc.put(obj, name, s)?,
        None => doc.put(obj, name, ScalarValue::Null)?,
    }
    Ok(())
}

/// Makes the set map `name` hold exactly `wanted`, touching only keys that change.
fn sync_set<D: Doc>(
    doc: &mut D,
    obj: &ObjId,
    name: &str,
    wanted: impl Iterator<Item = String>,
) -> Result<(), DocError> {
    let wanted: std::collections::BTreeSet<String> = wanted.collect();
    let set = match map_at(doc, obj, name) {
        Some(set) => set,
        None => doc.put_object(obj, name, ObjType::Map)?,
    };
    for present in map_keys(doc, &set) {
        if !wanted.contains(&present) {
            doc.delete(&set, present.as_str())?;
        }
    }
    for item in &wanted {
        if map_at(doc, &set, item).is_none() && doc.get(&set, item.as_str())?.is_none() {
            doc.put(&set, item.as_str(), true)?;
        }
    }
    Ok(())
}

/// Adds a submission to the queue.
pub fn put_submission<D: Doc>(doc: &mut D, sub: &Submission) -> Result<(), DocError> {
    let subs = required_map(doc, &ROOT, key::SUBMISSIONS)?;
    reconcile_prop(
        doc,
        &subs,
        sub.id.to_string().as_str(),
        SubmissionRecord::from_model(sub),
    )?;
    Ok(())
}

fn existing_submission<D: Doc>(doc: &D, id: SubmissionId) -> Result<ObjId, DocError> {
    submission_obj(doc, id)?.ok_or_else(|| DocError::NotAGroup(format!("no submission `{id}`")))
}

/// Marks a submission withdrawn.
pub fn set_withdrawn<D: Doc>(doc: &mut D, id: SubmissionId, at: Timestamp) -> Result<(), DocError> {
    let obj = existing_submission(doc, id)?;
    doc.put(&obj, "withdrawn_at", ScalarValue::Int(millis(at)))?;
    Ok(())
}

/// Records `member`'s claim on a submission.
pub fn put_claim<D: Doc>(
    doc: &mut D,
    id: SubmissionId,
    member: MemberId,
    claim: &Claim,
) -> Result<(), DocError> {
    let obj = existing_submission(doc, id)?;
    let claims = required_map(doc, &obj, key::CLAIMS)?;
    reconcile_prop(
        doc,
        &claims,
        member.to_string().as_str(),
        ClaimRecord::from_model(claim),
    )?;
    Ok(())
}

/// Adds a delivered critique to a submission.
pub fn put_critique<D: Doc>(
    doc: &mut D,
    id: SubmissionId,
    critique: &Critique,
) -> Result<(), DocError> {
    let obj = existing_submission(doc, id)?;
    let critiques = required_map(doc, &obj, key::CRITIQUES)?;
    reconcile_prop(
        doc,
        &critiques,
        critique.id.to_string().as_str(),
        CritiqueRecord::from_model(critique),
    )?;
    Ok(())
}

fn existing_critique<D: Doc>(
    doc: &D,
    sub: SubmissionId,
    id: CritiqueId,
) -> Result<ObjId, DocError> {
    let obj = existing_submission(doc, sub)?;
    let critiques = required_map(doc, &obj, key::CRITIQUES)?;
    map_at(doc, &critiques, &id.to_string())
        .ok_or_else(|| DocError::NotAGroup(format!("no critique `{id}`")))
}

/// The author's answer to a critique.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CritiqueMark {
    /// A rating, 1 to 5.
    Rated(u8),
    /// Thanks, given at this time.
    Thanked(Timestamp),
    /// A tip, given at this time.
    Tipped(Timestamp),
}

/// Records the author's rating, thanks or tip on a critique.
pub fn mark_critique<D: Doc>(
    doc: &mut D,
    sub: SubmissionId,
    id: CritiqueId,
    mark: CritiqueMark,
) -> Result<(), DocError> {
    let obj = existing_critique(doc, sub, id)?;
    let (field, value) = match mark {
        CritiqueMark::Rated(r) => ("rating", ScalarValue::Uint(r.into())),
        CritiqueMark::Thanked(at) => ("thanked_at", ScalarValue::Int(millis(at))),
        CritiqueMark::Tipped(at) => ("tipped_at", ScalarValue::Int(millis(at))),
    };
    doc.put(&obj, field, value)?;
    Ok(())
}

/// Marks `member`'s claim on a submission let go at `at`. The claim stays in the document,
/// so the line can be replayed and reliability counted.
pub fn release_claim<D: Doc>(
    doc: &mut D,
    id: SubmissionId,
    member: MemberId,
    at: Timestamp,
) -> Result<(), DocError> {
    let obj = existing_submission(doc, id)?;
    let claims = required_map(doc, &obj, key::CLAIMS)?;
    let claim = map_at(doc, &claims, &member.to_string())
        .ok_or_else(|| DocError::NotAGroup(format!("no claim by `{member}`")))?;
    doc.put(&claim, "released_at", ScalarValue::Int(millis(at)))?;
    Ok(())
}

/// Adds a change of the rules. Groups created before rule changes existed get the map on
/// their first change.
pub fn put_rule_change<D: Doc>(doc: &mut D, change: &RuleChange) -> Result<(), DocError> {
    let group = required_map(doc, &ROOT, key::GROUP)?;
    let changes = match map_at(doc, &group, key::RULE_CHANGES) {
        Some(changes) => changes,
        None => doc.put_object(&group, key::RULE_CHANGES, ObjType::Map)?,
    };
    reconcile_prop(
        doc,
        &changes,
        change.id.to_string().as_str(),
        RuleChangeRecord::from_model(change),
    )?;
    Ok(())
}
