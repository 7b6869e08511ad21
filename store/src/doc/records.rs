//! The document's shape, as autosurgeon records, and their conversion to the model.
//!
//! Records mirror the document field for field: ids as hex strings, times as integer
//! milliseconds since the Unix epoch, days as `YYYY-MM-DD`, sets as maps of `key -> true`.
//! Every optional field tolerates being absent, so a document written by an older version, or
//! one that gained fields in a newer version, still reads.

use std::collections::BTreeMap;

use autosurgeon::{Hydrate, Reconcile};
use jiff::Timestamp;
use jiff::civil::Date;

use crate::ids::{CritiqueId, DeviceId, MemberId};
use crate::model::{
    Claim, Critique, Device, Member, Profile, Role, Rules, SkippedEntry, Submission,
};

/// Why a record could not become a model value.
pub(crate) type Invalid = String;

#[derive(Debug, Clone, Hydrate, Reconcile)]
pub(crate) struct RulesRecord {
    #[autosurgeon(missing = "default_wanted")]
    pub critiques_wanted: u64,
    #[autosurgeon(missing = "default_claim_days")]
    pub claim_period_days: u64,
}

fn default_wanted() -> u64 {
    u64::from(Rules::default().critiques_wanted)
}

fn default_claim_days() -> u64 {
    u64::from(Rules::default().claim_period_days)
}

impl From<Rules> for RulesRecord {
    fn from(r: Rules) -> Self {
        Self {
            critiques_wanted: r.critiques_wanted.into(),
            claim_period_days: r.claim_period_days.into(),
        }
    }
}

impl RulesRecord {
    pub fn into_model(self) -> Rules {
        let defaults = Rules::default();
        Rules {
            critiques_wanted: small(self.critiques_wanted).unwrap_or(defaults.critiques_wanted),
            claim_period_days: small(self.claim_period_days).unwrap_or(defaults.claim_period_days),
        }
    }
}

#[derive(Debug, Clone, Hydrate, Reconcile)]
pub(crate) struct DeviceRecord {
    #[autosurgeon(missing = "Default::default")]
    pub label: String,
    pub added_at: i64,
}

#[derive(Debug, Clone, Hydrate, Reconcile)]
pub(crate) struct MemberRecord {
    pub display_name: String,
    #[autosurgeon(missing = "Default::default")]
    pub pen_name: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    pub bio: String,
    #[autosurgeon(missing = "Default::default")]
    pub genres: BTreeMap<String, bool>,
    #[autosurgeon(missing = "Default::default")]
    pub roles: BTreeMap<String, bool>,
    #[autosurgeon(missing = "Default::default")]
    pub links: BTreeMap<String, String>,
    #[autosurgeon(missing = "Default::default")]
    pub capacity_per_month: Option<u64>,
    #[autosurgeon(missing = "Default::default")]
    pub hiatus_until: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    pub organizer: bool,
    pub joined_at: i64,
    #[autosurgeon(missing = "Default::default")]
    pub removed_at: Option<i64>,
    #[autosurgeon(missing = "Default::default")]
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
                .map(|(id, d)| {
                    let record = DeviceRecord {
                        label: d.label.clone(),
                        added_at: millis(d.added_at),
                    };
                    (id.to_string(), record)
                })
                .collect(),
        }
    }

    pub fn into_model(
        self,
        id: MemberId,
        path: &str,
        skipped: &mut Vec<SkippedEntry>,
    ) -> Result<Member, Invalid> {
        let mut devices = BTreeMap::new();
        for (key, d) in self.devices {
            match (key.parse::<DeviceId>(), time(d.added_at)) {
                (Ok(device), Ok(added_at)) => {
                    devices.insert(
                        device,
                        Device {
                            label: d.label,
                            added_at,
                        },
                    );
                }
                (Err(e), _) => skipped.push(skip(format!("{path}/devices/{key}"), e)),
                (_, Err(e)) => skipped.push(skip(format!("{path}/devices/{key}"), e)),
            }
        }
        Ok(Member {
            id,
            profile: Profile {
                display_name: self.display_name,
                pen_name: self.pen_name,
                bio: self.bio,
                genres: members_of(self.genres),
                roles: members_of::<String>(self.roles)
                    .iter()
                    .map(|r| r.parse::<Role>().unwrap_or_else(|never| match never {}))
                    .collect(),
                links: self.links,
                capacity_per_month: self.capacity_per_month.map(small).transpose()?,
                hiatus_until: self.hiatus_until.as_deref().map(date).transpose()?,
            },
            organizer: self.organizer,
            joined_at: time(self.joined_at)?,
            removed_at: self.removed_at.map(time).transpose()?,
            devices,
        })
    }
}

#[derive(Debug, Clone, Hydrate, Reconcile)]
pub(crate) struct ClaimRecord {
    pub at: i64,
    pub expires_at: i64,
}

#[derive(Debug, Clone, Hydrate, Reconcile)]
pub(crate) struct CritiqueRecord {
    pub reviewer: String,
    pub body: String,
    pub word_count: u64,
    pub delivered_at: i64,
    #[autosurgeon(missing = "Default::default")]
    pub rating: Option<u64>,
    #[autosurgeon(missing = "Default::default")]
    pub thanked_at: Option<i64>,
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
        }
    }

    fn into_model(self, id: CritiqueId) -> Result<Critique, Invalid> {
        Ok(Critique {
            id,
            reviewer: self
                .reviewer
                .parse()
                .map_err(|e| format!("reviewer: {e}"))?,
            body: self.body,
            word_count: small(self.word_count)?,
            delivered_at: time(self.delivered_at)?,
            rating: self.rating.filter(|r| (1..=5).contains(r)).map(|r| r as u8),
            thanked_at: self.thanked_at.map(time).transpose()?,
        })
    }
}

#[derive(Debug, Clone, Hydrate, Reconcile)]
pub(crate) struct SubmissionRecord {
    pub author: String,
    pub title: String,
    #[autosurgeon(missing = "Default::default")]
    pub genre: String,
    pub word_count: u64,
    pub text: String,
    #[autosurgeon(missing = "Default::default")]
    pub feedback_wanted: String,
    #[autosurgeon(missing = "Default::default")]
    pub content_notes: String,
    pub submitted_at: i64,
    #[autosurgeon(missing = "Default::default")]
    pub due_at: Option<String>,
    pub critiques_wanted: u64,
    #[autosurgeon(missing = "Default::default")]
    pub withdrawn_at: Option<i64>,
    #[autosurgeon(missing = "Default::default")]
    pub claims: BTreeMap<String, ClaimRecord>,
    #[autosurgeon(missing = "Default::default")]
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

    pub fn into_model(
        self,
        id: crate::ids::SubmissionId,
        path: &str,
        skipped: &mut Vec<SkippedEntry>,
    ) -> Result<Submission, Invalid> {
        let mut claims = BTreeMap::new();
        for (key, c) in self.claims {
            let claim = key
                .parse::<MemberId>()
                .map_err(|e| e.to_string())
                .and_then(|m| Ok((m, c.into_model()?)));
            match claim {
                Ok((member, claim)) => {
                    claims.insert(member, claim);
                }
                Err(e) => skipped.push(skip(format!("{path}/claims/{key}"), e)),
            }
        }
        let mut critiques = BTreeMap::new();
        for (key, c) in self.critiques {
            let critique = key
                .parse::<CritiqueId>()
                .map_err(|e| e.to_string())
                .and_then(|id| c.into_model(id));
            match critique {
                Ok(critique) => {
                    critiques.insert(critique.id, critique);
                }
                Err(e) => skipped.push(skip(format!("{path}/critiques/{key}"), e)),
            }
        }
        Ok(Submission {
            id,
            author: self.author.parse().map_err(|e| format!("author: {e}"))?,
            title: self.title,
            genre: self.genre,
            word_count: small(self.word_count)?,
            text: self.text,
            feedback_wanted: self.feedback_wanted,
            content_notes: self.content_notes,
            submitted_at: time(self.submitted_at)?,
            due_at: self.due_at.as_deref().map(date).transpose()?,
            critiques_wanted: small(self.critiques_wanted)?,
            withdrawn_at: self.withdrawn_at.map(time).transpose()?,
            claims,
            critiques,
        })
    }
}

impl ClaimRecord {
    pub fn from_model(c: &Claim) -> Self {
        Self {
            at: millis(c.at),
            expires_at: millis(c.expires_at),
        }
    }

    fn into_model(self) -> Result<Claim, Invalid> {
        Ok(Claim {
            at: time(self.at)?,
            expires_at: time(self.expires_at)?,
        })
    }
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

fn small(n: u64) -> Result<u32, Invalid> {
    u32::try_from(n).map_err(|_| format!("{n} is too large"))
}

fn set<T: ToString>(items: impl Iterator<Item = T>) -> BTreeMap<String, bool> {
    items.map(|i| (i.to_string(), true)).collect()
}

fn members_of<T: Ord + From<String>>(set: BTreeMap<String, bool>) -> std::collections::BTreeSet<T> {
    set.into_iter()
        .filter(|(_, present)| *present)
        .map(|(k, _)| T::from(k))
        .collect()
}

pub(crate) fn skip(path: String, reason: impl ToString) -> SkippedEntry {
    SkippedEntry {
        path,
        reason: reason.to_string(),
    }
}
