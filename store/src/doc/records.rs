//! The document's shape: records written with autosurgeon, and the readers that turn a
//! [`tree::Map`] back into model values.
//!
//! Records mirror the document field for field: ids as hex strings, times as integer
//! milliseconds since the Unix epoch, days as `YYYY-MM-DD`, sets as maps of `key -> true`.
//! Readers tolerate optional fields being absent, so a document written by an older version,
//! or one that gained fields in a newer version, still reads; a required field that is
//! missing or of the wrong type makes just that entry unreadable.

use std::collections::BTreeMap;

use automerge::ScalarValue;
use autosurgeon::Reconcile;
use jiff::Timestamp;
use jiff::civil::Date;

use super::tree::{Invalid, Map, Node};
use crate::ids::{CritiqueId, DeviceId, InviteHash, MemberId, RuleChangeId, SubmissionId};
use crate::model::{
    Claim, Critique, Device, Invite, InviteKind, Member, Profile, Role, RuleChange, Rules,
    SkippedEntry, Submission,
};

// ---- what operations write ----

/// A set of rules as the document holds it: every key with its value as text, except the
/// two rules of the first schema, kept as numbers so older builds still read them.
pub(crate) fn rules_record(r: &Rules) -> Vec<(&'static str, ScalarValue)> {
    r.values()
        .into_iter()
        .map(|(key, value)| {
            let v = match key {
                "critiques_wanted" => ScalarValue::Uint(r.critiques_wanted.into()),
                "claim_period_days" => ScalarValue::Uint(r.claim_period_days.into()),
                _ => ScalarValue::Str(value.into()),
            };
            (key, v)
        })
        .collect()
}

#[derive(Debug, Clone, Reconcile)]
pub(crate) struct RuleChangeRecord {
    pub at: i64,
    pub by: String,
    pub values: BTreeMap<String, String>,
}

impl RuleChangeRecord {
    pub fn from_model(c: &RuleChange) -> Self {
        Self {
            at: millis(c.at),
            by: c.by.to_string(),
            values: c.values.clone(),
        }
    }
}

#[derive(Debug, Clone, Reconcile)]
pub(crate) struct DeviceRecord {
    pub label: String,
    pub added_at: i64,
}

impl DeviceRecord {
    pub fn from_model(d: &Device) -> Self {
        Self {
            label: d.label.clone(),
            added_at: millis(d.added_at),
        }
    }
}

/// The `kind` of a new-member invite.
const MEMBER_INVITE: &str = "member";
/// The `kind` of an invite for another device of a member.
const DEVICE_INVITE: &str = "device";

#[derive(Debug, Clone, Reconcile)]
pub(crate) struct InviteRecord {
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub max_uses: u64,
    pub kind: String,
    pub for_member: Option<String>,
    pub uses: BTreeMap<String, i64>,
}

impl InviteRecord {
    pub fn from_model(i: &Invite) -> Self {
        let (kind, for_member) = match i.kind {
            InviteKind::Member => (MEMBER_INVITE, None),
            InviteKind::Device { member } => (DEVICE_INVITE, Some(member.to_string())),
        };
        Self {
            created_by: i.created_by.to_string(),
            created_at: millis(i.created_at),
            expires_at: millis(i.expires_at),
            max_uses: i.max_uses.into(),
            kind: kind.to_string(),
            for_member,
            uses: i
                .uses
                .iter()
                .map(|(d, at)| (d.to_string(), millis(*at)))
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Reconcile)]
pub(crate) struct MemberRecord {
    pub display_name: String,
    pub pen_name: Option<String>,
    pub bio: String,
    pub genres: BTreeMap<String, bool>,
    pub roles: BTreeMap<String, bool>,
    pub links: BTreeMap<String, String>,
    pub capacity_per_month: Option<u64>,
    pub hiatus_until: Option<String>,
    pub organizer: bool,
    pub joined_at: i64,
    pub removed_at: Option<i64>,
    pub devices: BTreeMap<String, DeviceRecord>,
}

impl MemberRecord {
    pub fn from_model(m: &Member) -> Self {
        Self {
            display_name: m.profile.display_name.clone(),
            pen_name: m.profile.pen_name.clone(),
            bio: m.profile.bio.clone(),
            genres: set(m.profile.genres.iter()),
            roles: set(m.profile.roles.iter()),
            links: m.profile.links.clone(),
            capacity_per_month: m.profile.capacity_per_month.map(u64::from),
            hiatus_until: m.profile.hiatus_until.map(|d| d.to_string()),
            organizer: m.organizer,
            joined_at: millis(m.joined_at),
            removed_at: m.removed_at.map(millis),
            devices: m
                .devices
                .iter()
                .map(|(id, d)| (id.to_string(), DeviceRecord::from_model(d)))
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Reconcile)]
pub(crate) struct ClaimRecord {
    pub at: i64,
    pub expires_at: i64,
    pub released_at: Option<i64>,
}

impl ClaimRecord {
    pub fn from_model(c: &Claim) -> Self {
        Self {
            at: millis(c.at),
            expires_at: millis(c.expires_at),
            released_at: c.released_at.map(millis),
        }
    }
}

#[derive(Debug, Clone, Reconcile)]
pub(crate) struct CritiqueRecord {
    pub reviewer: String,
    pub body: String,
    pub word_count: u64,
    pub delivered_at: i64,
    pub rating: Option<u64>,
    pub thanked_at: Option<i64>,
    pub tipped_at: Option<i64>,
}

impl CritiqueRecord {
    pub fn from_model(c: &Critique) -> Self {
        Self {
            reviewer: c.reviewer.to_string(),
            body: c.body.clone(),
            word_count: c.word_count.into(),
            delivered_at: millis(c.delivered_at),
            rating: c.rating.map(u64::from),
            thanked_at: c.thanked_at.map(millis),
            tipped_at: c.tipped_at.map(millis),
        }
    }
}

#[derive(Debug, Clone, Reconcile)]
pub(crate) struct SubmissionRecord {
    pub author: String,
    pub title: String,
    pub genre: String,
    pub word_count: u64,
    pub text: String,
    pub feedback_wanted: String,
    pub content_notes: String,
    pub submitted_at: i64,
    pub due_at: Option<String>,
    pub critiques_wanted: u64,
    pub withdrawn_at: Option<i64>,
    pub claims: BTreeMap<String, ClaimRecord>,
    pub critiques: BTreeMap<String, CritiqueRecord>,
}

impl SubmissionRecord {
    pub fn from_model(s: &Submission) -> Self {
        Self {
            author: s.author.to_string(),
            title: s.title.clone(),
            genre: s.genre.clone(),
            word_count: s.word_count.into(),
            text: s.text.clone(),
            feedback_wanted: s.feedback_wanted.clone(),
            content_notes: s.content_notes.clone(),
            submitted_at: millis(s.submitted_at),
            due_at: s.due_at.map(|d| d.to_string()),
            critiques_wanted: s.critiques_wanted.into(),
            withdrawn_at: s.withdrawn_at.map(millis),
            claims: s
                .claims
                .iter()
                .map(|(m, c)| (m.to_string(), ClaimRecord::from_model(c)))
                .collect(),
            critiques: s
                .critiques
                .iter()
                .map(|(id, c)| (id.to_string(), CritiqueRecord::from_model(c)))
                .collect(),
        }
    }
}

// ---- what reads turn back into the model ----

/// The group's founding rules; a rule missing (a document from before it existed) or
/// unreadable keeps its default.
pub(crate) fn rules(map: &Map) -> Rules {
    let mut rules = Rules::default();
    for (key, value) in rule_values(map) {
        // Unreadable, or a rule from a newer Quire: keep the default.
        let _ = rules.set(&key, &value);
    }
    rules
}

/// The entries of a map of rules as text; entries of other types are left out.
fn rule_values(map: &Map) -> BTreeMap<String, String> {
    map.entries()
        .filter_map(|(k, v)| {
            let text = match v {
                Node::Str(s) => s.to_string(),
                Node::Uint(n) => n.to_string(),
                Node::Int(n) => n.to_string(),
                Node::Bool(b) => if *b { "on" } else { "off" }.to_string(),
                _ => return None,
            };
            Some((k.to_string(), text))
        })
        .collect()
}

/// The rule changes, in the order they apply; unreadable ones are reported and skipped.
pub(crate) fn rule_changes(
    map: &Map,
    path: &str,
    skipped: &mut Vec<SkippedEntry>,
) -> Vec<RuleChange> {
    let mut changes: Vec<RuleChange> = entries(map, path, skipped, |id: RuleChangeId, c, _, _| {
        Ok(RuleChange {
            id,
            at: time(c.i64("at")?)?,
            by: c.str("by")?.parse().map_err(|e| format!("by: {e}"))?,
            values: rule_values(c.map("values")?),
        })
    })
    .into_values()
    .collect();
    changes.sort_by_key(|c| (c.at, c.id));
    changes
}

/// Each entry of a map keyed by id, with the entries that cannot be read reported.
pub(crate) fn entries<K, V>(
    map: &Map,
    path: &str,
    skipped: &mut Vec<SkippedEntry>,
    mut read: impl FnMut(K, &Map, &str, &mut Vec<SkippedEntry>) -> Result<V, Invalid>,
) -> BTreeMap<K, V>
where
    K: std::str::FromStr + Ord + Copy,
    K::Err: std::fmt::Display,
{
    let mut out = BTreeMap::new();
    for (key, node) in map.entries() {
        let entry_path = format!("{path}/{key}");
        let result = match (key.parse::<K>(), node) {
            (Err(e), _) => Err(e.to_string()),
            (Ok(id), Node::Map(m)) => read(id, m, &entry_path, skipped).map(|v| (id, v)),
            (Ok(_), _) => Err("not a map".to_string()),
        };
        match result {
            Ok((id, value)) => {
                out.insert(id, value);
            }
            Err(reason) => skipped.push(skip(entry_path, reason)),
        }
    }
    out
}

/// A member entry.
pub(crate) fn member(
    id: MemberId,
    m: &Map,
    path: &str,
    skipped: &mut Vec<SkippedEntry>,
) -> Result<Member, Invalid> {
    let devices = entries(
        m.map("devices")?,
        &format!("{path}/devices"),
        skipped,
        |_: DeviceId, d, _, _| {
            Ok(Device {
                label: d.str_or_empty("label")?,
                added_at: time(d.i64("added_at")?)?,
            })
        },
    );
    Ok(Member {
        id,
        profile: Profile {
            display_name: m.str("display_name")?,
            pen_name: m.opt_str("pen_name")?,
            bio: m.str_or_empty("bio")?,
            genres: m.set("genres")?,
            roles: m
                .set("roles")?
                .iter()
                .map(|r| r.parse::<Role>().unwrap_or_else(|never| match never {}))
                .collect(),
            links: m.strings("links")?,
            capacity_per_month: m.opt_u32("capacity_per_month")?,
            hiatus_until: m
                .opt_str("hiatus_until")?
                .as_deref()
                .map(date)
                .transpose()?,
        },
        organizer: m.flag("organizer")?,
        joined_at: time(m.i64("joined_at")?)?,
        removed_at: m.opt_i64("removed_at")?.map(time).transpose()?,
        devices,
    })
}

/// A submission entry, its claims and critiques included.
pub(crate) fn submission(
    id: SubmissionId,
    s: &Map,
    path: &str,
    skipped: &mut Vec<SkippedEntry>,
) -> Result<Submission, Invalid> {
    let claims = entries(
        s.map("claims")?,
        &format!("{path}/claims"),
        skipped,
        |_: MemberId, c, _, _| {
            Ok(Claim {
                at: time(c.i64("at")?)?,
                expires_at: time(c.i64("expires_at")?)?,
                released_at: c.opt_i64("released_at")?.map(time).transpose()?,
            })
        },
    );
    let critiques = entries(
        s.map("critiques")?,
        &format!("{path}/critiques"),
        skipped,
        |id: CritiqueId, c, _, _| critique(id, c),
    );
    Ok(Submission {
        id,
        author: s
            .str("author")?
            .parse()
            .map_err(|e| format!("author: {e}"))?,
        title: s.str("title")?,
        genre: s.str_or_empty("genre")?,
        word_count: s.u32("word_count")?,
        text: s.str("text")?,
        feedback_wanted: s.str_or_empty("feedback_wanted")?,
        content_notes: s.str_or_empty("content_notes")?,
        submitted_at: time(s.i64("submitted_at")?)?,
        due_at: s.opt_str("due_at")?.as_deref().map(date).transpose()?,
        critiques_wanted: s.u32("critiques_wanted")?,
        withdrawn_at: s.opt_i64("withdrawn_at")?.map(time).transpose()?,
        claims,
        critiques,
    })
}

/// An invite entry; uses that cannot be read are reported and left out.
pub(crate) fn invite(
    hash: InviteHash,
    i: &Map,
    path: &str,
    skipped: &mut Vec<SkippedEntry>,
) -> Result<Invite, Invalid> {
    let kind = match i.str("kind")?.as_str() {
        MEMBER_INVITE => InviteKind::Member,
        DEVICE_INVITE => InviteKind::Device {
            member: i
                .str("for_member")?
                .parse()
                .map_err(|e| format!("for_member: {e}"))?,
        },
        other => return Err(format!("unknown invite kind `{other}`")),
    };
    let mut uses = BTreeMap::new();
    for (key, node) in i.map("uses")?.entries() {
        let use_path = format!("{path}/uses/{key}");
        let at = match node {
            Node::Int(ms) => time(*ms),
            Node::Uint(ms) => i64::try_from(*ms)
                .map_err(|_| format!("time {ms} is out of range"))
                .and_then(time),
            _ => Err("not a time".to_string()),
        };
        match (key.parse::<DeviceId>(), at) {
            (Ok(device), Ok(at)) => {
                uses.insert(device, at);
            }
            (Err(e), _) => skipped.push(skip(use_path, e)),
            (_, Err(reason)) => skipped.push(skip(use_path, reason)),
        }
    }
    Ok(Invite {
        hash,
        created_by: i
            .str("created_by")?
            .parse()
            .map_err(|e| format!("created_by: {e}"))?,
        created_at: time(i.i64("created_at")?)?,
        expires_at: time(i.i64("expires_at")?)?,
        max_uses: i.u32("max_uses")?,
        kind,
        uses,
    })
}

fn critique(id: CritiqueId, c: &Map) -> Result<Critique, Invalid> {
    Ok(Critique {
        id,
        reviewer: c
            .str("reviewer")?
            .parse()
            .map_err(|e| format!("reviewer: {e}"))?,
        body: c.str("body")?,
        word_count: c.u32("word_count")?,
        delivered_at: time(c.i64("delivered_at")?)?,
        rating: c
            .opt_u32("rating")
            .ok()
            .flatten()
            .filter(|r| (1..=5).contains(r))
            .map(|r| r as u8),
        thanked_at: c.opt_i64("thanked_at")?.map(time).transpose()?,
        tipped_at: c.opt_i64("tipped_at")?.map(time).transpose()?,
    })
}

/// A time as the document stores it.
pub(crate) fn millis(t: Timestamp) -> i64 {
    t.as_millisecond()
}

pub(crate) fn time(ms: i64) -> Result<Timestamp, Invalid> {
    Timestamp::from_millisecond(ms).map_err(|_| format!("time {ms} is out of range"))
}

fn date(s: &str) -> Result<Date, Invalid> {
    s.parse::<Date>()
        .map_err(|_| format!("`{s}` is not a date"))
}

fn set<T: ToString>(items: impl Iterator<Item = T>) -> BTreeMap<String, bool> {
    items.map(|i| (i.to_string(), true)).collect()
}

pub(crate) fn skip(path: String, reason: impl ToString) -> SkippedEntry {
    SkippedEntry {
        path,
        reason: reason.to_string(),
    }
}
