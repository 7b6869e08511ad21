//! The group's rules: who may write what. This is the one table both our own operations and
//! every change received from a peer are judged by (ARCHITECTURE.md, "The rules").
//!
//! Each write is looked up by the place it writes into and its key ([`who_may`]); writes into
//! an object made by the same change are part of creating that entry, which the rule of the
//! entry's collection governs, and whose fields are then checked as a whole ([`check_new`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use automerge::{Automerge, ObjType, ReadDoc, ScalarValue, Value};

use super::facts::{Facts, InviteFacts, InviteFor, as_i64};
use super::inspect::{Action, Write};
use super::place::Place;
use crate::ids::{DeviceId, InviteHash, MemberId};

/// Who may make a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    /// Nobody after the group's founding change.
    Founding,
    /// A current organizer.
    Organizer,
    /// Any current member: creating an entry of their own, whose fields say it is theirs.
    AnyMember,
    /// Only the member with this id.
    Member(String),
    /// Only the author of this submission.
    Author(String),
    /// The author of this submission, or an organizer.
    AuthorOrOrganizer(String),
    /// Only the reviewer of this critique (submission, critique).
    Reviewer(String, String),
    /// Only a change that redeems an invite.
    Joining,
}

/// Profile fields a member writes on their own entry.
const PROFILE: &[&str] = &[
    "display_name",
    "pen_name",
    "bio",
    "capacity_per_month",
    "hiatus_until",
];
/// Set-valued profile fields (maps of key -> true, or label -> url).
const PROFILE_SETS: &[&str] = &["genres", "roles", "links"];
/// Submission fields its author edits.
const SUBMISSION: &[&str] = &[
    "title",
    "genre",
    "word_count",
    "text",
    "feedback_wanted",
    "content_notes",
    "due_at",
    "critiques_wanted",
];

/// THE TABLE: who may write `key` of an existing object at `place` with `action`.
pub fn who_may(place: &Place, key: &str, action: &Action) -> Who {
    let making = matches!(action, Action::Make(ObjType::Map));
    let deleting = matches!(action, Action::Delete);
    let k = key.to_string();
    match place {
        Place::Root | Place::Rules | Place::Outside(_) => Who::Founding,
        Place::Group => match key {
            "name" | "description" => Who::Organizer,
            _ => Who::Founding,
        },
        Place::RuleChanges if making => Who::Organizer,
        Place::RuleChanges | Place::RuleChange(_) | Place::RuleChangeValues(_) => Who::Founding,
        Place::Members if making => Who::Joining,
        Place::Members => Who::Founding,
        Place::Member(m) => match key {
            _ if PROFILE.contains(&key) => Who::Member(m.clone()),
            _ if PROFILE_SETS.contains(&key) && (making || deleting) => Who::Member(m.clone()),
            "organizer" | "removed_at" => Who::Organizer,
            _ => Who::Founding,
        },
        Place::MemberSet(m) => Who::Member(m.clone()),
        Place::Devices(_) if making => Who::Joining,
        Place::Devices(_) | Place::Device(..) => Who::Founding,
        Place::Invites if making => Who::AnyMember,
        Place::InviteUses(_) if matches!(action, Action::Put(_)) => Who::Joining,
        Place::Invites | Place::Invite(_) | Place::InviteUses(_) => Who::Founding,
        Place::Submissions if making => Who::AnyMember,
        Place::Submissions if deleting => Who::Author(k),
        Place::Submissions => Who::Founding,
        Place::Submission(s) => match key {
            "withdrawn_at" => Who::AuthorOrOrganizer(s.clone()),
            _ if SUBMISSION.contains(&key) => Who::Author(s.clone()),
            _ => Who::Founding,
        },
        Place::Claims(_) if making || deleting => Who::Member(k),
        Place::Claims(_) => Who::Founding,
        Place::Claim(_, m) => Who::Member(m.clone()),
        Place::Critiques(_) if making => Who::AnyMember,
        Place::Critiques(s) if deleting => Who::Reviewer(s.clone(), k),
        Place::Critiques(_) => Who::Founding,
        Place::Critique(s, c) => match key {
            "body" | "word_count" | "delivered_at" => Who::Reviewer(s.clone(), c.clone()),
            "rating" | "thanked_at" | "tipped_at" => Who::Author(s.clone()),
            _ => Who::Founding,
        },
    }
}

/// What a change that passed adds to the facts.
#[derive(Debug, Default)]
pub struct Effect {
    /// Members added, with their devices.
    pub members: Vec<(MemberId, Vec<DeviceId>, bool)>,
    /// Devices added to existing members.
    pub devices: Vec<(MemberId, DeviceId)>,
    /// Members granted organizer.
    pub organizers: Vec<MemberId>,
    /// Members removed.
    pub removed: Vec<MemberId>,
    /// Invites made.
    pub invites: Vec<(InviteHash, InviteFacts)>,
    /// Invite uses.
    pub uses: Vec<(InviteHash, DeviceId)>,
    /// Entries made, with their owners (not facts: owners never change).
    pub owners: Vec<(Owned, String)>,
}

impl Effect {
    /// Whether it adds nothing.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
            && self.devices.is_empty()
            && self.organizers.is_empty()
            && self.removed.is_empty()
            && self.invites.is_empty()
            && self.uses.is_empty()
    }

    /// `facts` with this added.
    pub fn apply(self, facts: &Facts) -> Facts {
        let mut out = facts.clone();
        for (member, devices, organizer) in self.members {
            let m = out.members.entry(member).or_default();
            m.organizer |= organizer;
            for d in devices {
                out.add_device(member, d);
            }
        }
        for (member, device) in self.devices {
            out.add_device(member, device);
        }
        for member in self.organizers {
            out.members.entry(member).or_default().organizer = true;
        }
        for member in self.removed {
            out.members.entry(member).or_default().removed = true;
        }
        for (hash, invite) in self.invites {
            out.invites.entry(hash).or_insert(invite);
        }
        for (hash, device) in self.uses {
            if let Some(invite) = out.invites.get_mut(&hash) {
                invite.uses.insert(device);
            }
        }
        out
    }
}

/// An entry whose owner is fixed when it is made.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Owned {
    /// A submission, owned by its author.
    Submission(String),
    /// A critique (submission, critique), owned by its reviewer.
    Critique(String, String),
}

/// What a judged change is and who wrote it.
#[derive(Debug)]
pub struct Context<'a> {
    /// The document, holding everything the change depends on or judged before it.
    pub doc: &'a Automerge,
    /// Owners of entries made by changes judged but not yet in `doc`.
    pub owners: &'a HashMap<Owned, String>,
    /// The facts at the change's dependencies.
    pub facts: &'a Facts,
    /// The signing device's member.
    pub me: MemberId,
    /// The signing device.
    pub device: DeviceId,
    /// The change's own time, in milliseconds.
    pub time_ms: i64,
    /// The latest time among the change's dependencies, in milliseconds.
    pub past_ms: i64,
}

/// Judges a change's writes; the founding change is judged by [`founding`].
pub fn judge(cx: &Context<'_>, writes: &[Write]) -> Result<Effect, String> {
    if !cx.facts.is_current(cx.me) {
        return Err(format!("its writer, member {}, was removed", cx.me.short()));
    }
    let join = Join::find(cx, writes)?;
    let mut effect = Effect::default();
    let me = cx.me.to_string();
    for w in writes.iter().filter(|w| !w.in_new_object) {
        let who = who_may(&w.place, &w.key, &w.action);
        allowed(cx, &me, &who, w, join.as_ref())?;
        value_rules(w, &mut effect)?;
    }
    check_new(cx, writes, join.as_ref(), &mut effect)?;
    if let Some(join) = join {
        effect.uses.push((join.invite, join.device));
        match join.kind {
            InviteFor::NewMember => {}
            InviteFor::DeviceOf(member) => effect.devices.push((member, join.device)),
        }
    }
    Ok(effect)
}

/// Whether `who` lets `cx.me` (`me`, as the document writes it) make write `w`.
fn allowed(
    cx: &Context<'_>,
    me: &str,
    who: &Who,
    w: &Write,
    join: Option<&Join>,
) -> Result<(), String> {
    let ok = match who {
        Who::Founding => false,
        Who::Organizer => cx.facts.is_organizer(cx.me),
        Who::AnyMember => true,
        Who::Member(m) => *m == me,
        Who::Author(s) => author_of(cx, s).as_deref() == Some(me),
        Who::AuthorOrOrganizer(s) => {
            cx.facts.is_organizer(cx.me) || author_of(cx, s).as_deref() == Some(me)
        }
        Who::Reviewer(s, c) => reviewer_of(cx, s, c).as_deref() == Some(me),
        Who::Joining => join.is_some_and(|j| j.covers(w)),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{} may not {} `{}` of {}",
            cx.me.short(),
            verb(&w.action),
            w.key,
            w.place
        ))
    }
}

fn verb(action: &Action) -> &'static str {
    match action {
        Action::Make(_) => "make",
        Action::Put(_) => "write",
        Action::Delete => "delete",
        Action::Other(what) => what,
    }
}

/// Checks on the values of writes to existing objects, and what they add to the facts.
fn value_rules(w: &Write, effect: &mut Effect) -> Result<(), String> {
    if let Action::Other(what) = w.action {
        return Err(format!("it holds {what}, which the schema never uses"));
    }
    if let Place::Member(m) = &w.place {
        let member = parse_member(m)?;
        match (w.key.as_str(), &w.action) {
            ("organizer", Action::Put(ScalarValue::Boolean(true))) => {
                effect.organizers.push(member)
            }
            ("organizer", _) => return Err("an organizer flag can only be granted".into()),
            ("removed_at", Action::Put(v)) if as_i64(v).is_some() => effect.removed.push(member),
            ("removed_at", _) => return Err("a removal can only be set, to a time".into()),
            _ => {}
        }
    }
    Ok(())
}

/// The `author` of submission `s`, as the document holds it.
fn author_of(cx: &Context<'_>, s: &str) -> Option<String> {
    if let Some(author) = cx.owners.get(&Owned::Submission(s.to_string())) {
        return Some(author.clone());
    }
    let sub = entry(cx.doc, &[("submissions", s)])?;
    string(cx.doc, &sub, "author")
}

/// The `reviewer` of critique `c` of submission `s`.
fn reviewer_of(cx: &Context<'_>, s: &str, c: &str) -> Option<String> {
    if let Some(reviewer) = cx
        .owners
        .get(&Owned::Critique(s.to_string(), c.to_string()))
    {
        return Some(reviewer.clone());
    }
    let critique = entry(cx.doc, &[("submissions", s), ("critiques", c)])?;
    string(cx.doc, &critique, "reviewer")
}

/// The object reached from the root through `(collection, key)` steps.
fn entry(doc: &Automerge, steps: &[(&str, &str)]) -> Option<automerge::ObjId> {
    let mut at = automerge::ROOT;
    for (collection, key) in steps {
        for k in [*collection, *key] {
            at = match doc.get(&at, k).ok().flatten()? {
                (Value::Object(ObjType::Map), id) => id,
                _ => return None,
            };
        }
    }
    Some(at)
}

fn string(doc: &Automerge, obj: &automerge::ObjId, key: &str) -> Option<String> {
    match doc.get(obj, key).ok().flatten()? {
        (Value::Scalar(s), _) => match s.as_ref() {
            ScalarValue::Str(s) => Some(s.to_string()),
            _ => None,
        },
        _ => None,
    }
}

fn parse_member(s: &str) -> Result<MemberId, String> {
    s.parse().map_err(|_| format!("`{s}` is not a member id"))
}

/// The scalar fields a change puts into each object it makes.
fn new_fields(writes: &[Write]) -> HashMap<&str, BTreeMap<&str, &ScalarValue>> {
    let mut fields: HashMap<&str, BTreeMap<&str, &ScalarValue>> = HashMap::new();
    for w in writes {
        if let Action::Put(v) = &w.action {
            fields
                .entry(w.obj.as_str())
                .or_default()
                .insert(w.key.as_str(), v);
        }
    }
    fields
}

/// Checks the entries a change makes, as wholes: each says it is its maker's.
fn check_new(
    cx: &Context<'_>,
    writes: &[Write],
    join: Option<&Join>,
    effect: &mut Effect,
) -> Result<(), String> {
    let fields = new_fields(writes);
    let me = cx.me.to_string();
    let empty = BTreeMap::new();
    for w in writes {
        let Some(made) = &w.makes else { continue };
        let f = fields.get(made.as_str()).unwrap_or(&empty);
        let str_field = |k: &str| match f.get(k) {
            Some(ScalarValue::Str(s)) => Some(s.to_string()),
            _ => None,
        };
        let new_place = child_place(&w.place, &w.key);
        match &new_place {
            Place::Submission(_) if str_field("author").as_deref() != Some(me.as_str()) => {
                return Err("a new submission's author must be its writer".into());
            }
            Place::Submission(sub) => effect
                .owners
                .push((Owned::Submission(sub.clone()), me.clone())),
            Place::Claim(_, m) if *m != me => {
                return Err("a claim is made only by its own member".into());
            }
            Place::Device(m, d) => {
                let covered = join.is_some_and(|j| {
                    *d == j.device.to_string()
                        && (j.new_member.as_deref() == Some(m.as_str())
                            || matches!(j.kind, InviteFor::DeviceOf(o) if o.to_string() == *m))
                });
                if !covered {
                    return Err("devices are added only by redeeming an invite".into());
                }
            }
            Place::Critique(..) if str_field("reviewer").as_deref() != Some(me.as_str()) => {
                return Err("a new critique's reviewer must be its writer".into());
            }
            Place::Critique(sub, c) => effect
                .owners
                .push((Owned::Critique(sub.clone(), c.clone()), me.clone())),
            Place::RuleChange(_) => {
                if str_field("by").as_deref() != Some(me.as_str()) {
                    return Err("a rule change's `by` must be its writer".into());
                }
                let at = f.get("at").and_then(|v| as_i64(v)).unwrap_or(i64::MIN);
                if at < cx.past_ms {
                    return Err(format!(
                        "a rule change may not take effect ({at}) before its own past ({})",
                        cx.past_ms
                    ));
                }
            }
            Place::Invite(h) => {
                let hash: InviteHash = h
                    .parse()
                    .map_err(|_| format!("`{h}` is not an invite hash"))?;
                if str_field("created_by").as_deref() != Some(me.as_str()) {
                    return Err("an invite's `created_by` must be its writer".into());
                }
                let kind = match str_field("kind").as_deref() {
                    Some("member") if cx.facts.is_organizer(cx.me) => InviteFor::NewMember,
                    Some("member") => return Err("only organizers invite new members".into()),
                    Some("device") if str_field("for_member").as_deref() == Some(me.as_str()) => {
                        InviteFor::DeviceOf(cx.me)
                    }
                    _ => return Err("a device invite must be for its writer's own devices".into()),
                };
                let expires_at = f.get("expires_at").and_then(|v| as_i64(v)).unwrap_or(0);
                let max_uses = f
                    .get("max_uses")
                    .and_then(|v| as_i64(v))
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or(0);
                if writes
                    .iter()
                    .any(|x| x.obj != *made && x.place == Place::InviteUses(h.clone()))
                {
                    return Err("a new invite may not be used in the change that makes it".into());
                }
                effect.invites.push((
                    hash,
                    InviteFacts {
                        created_by: cx.me,
                        kind,
                        expires_at,
                        max_uses,
                        uses: BTreeSet::new(),
                    },
                ));
            }
            Place::Member(m) => {
                let Some(join) = join else {
                    return Err("members are added only by redeeming an invite".into());
                };
                if f.get("organizer") == Some(&&ScalarValue::Boolean(true)) {
                    return Err("a joining member may not be an organizer".into());
                }
                if f.get("removed_at")
                    .is_some_and(|v| !matches!(v, ScalarValue::Null))
                {
                    return Err("a joining member may not be removed".into());
                }
                effect
                    .members
                    .push((parse_member(m)?, vec![join.device], false));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The place of the object made at `key` of an object at `place`.
fn child_place(place: &Place, key: &str) -> Place {
    let mut keys = parent_keys(place);
    keys.push(key.to_string());
    Place::of(&keys)
}

/// The keys from the root to an object at `place`.
fn parent_keys(place: &Place) -> Vec<String> {
    let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match place {
        Place::Root => vec![],
        Place::Group => v(&["group"]),
        Place::Rules => v(&["group", "rules"]),
        Place::RuleChanges => v(&["group", "rule_changes"]),
        Place::RuleChange(r) => v(&["group", "rule_changes", r]),
        Place::RuleChangeValues(r) => v(&["group", "rule_changes", r, "values"]),
        Place::Members => v(&["members"]),
        Place::Member(m) => v(&["members", m]),
        Place::MemberSet(m) => v(&["members", m, "set"]),
        Place::Devices(m) => v(&["members", m, "devices"]),
        Place::Device(m, d) => v(&["members", m, "devices", d]),
        Place::Invites => v(&["invites"]),
        Place::Invite(h) => v(&["invites", h]),
        Place::InviteUses(h) => v(&["invites", h, "uses"]),
        Place::Submissions => v(&["submissions"]),
        Place::Submission(s) => v(&["submissions", s]),
        Place::Claims(s) => v(&["submissions", s, "claims"]),
        Place::Claim(s, m) => v(&["submissions", s, "claims", m]),
        Place::Critiques(s) => v(&["submissions", s, "critiques"]),
        Place::Critique(s, c) => v(&["submissions", s, "critiques", c]),
        Place::Outside(p) => vec![p.clone(), "?".into()],
    }
}

/// A change that redeems an invite: one use of one live invite by one device, written by a
/// device of the invite's maker, adding that device (and, for a member invite, the member).
#[derive(Debug)]
struct Join {
    invite: InviteHash,
    device: DeviceId,
    kind: InviteFor,
    /// For a member invite, the member the change adds.
    new_member: Option<String>,
}

impl Join {
    /// The join a change makes, if it records an invite use; refuses a use that breaks the
    /// invite's terms.
    fn find(cx: &Context<'_>, writes: &[Write]) -> Result<Option<Join>, String> {
        let uses: Vec<&Write> = writes
            .iter()
            .filter(|w| matches!(w.place, Place::InviteUses(_)) && !w.in_new_object)
            .collect();
        let [used] = uses.as_slice() else {
            if uses.is_empty() {
                return Ok(None);
            }
            return Err("a change may redeem one invite once".into());
        };
        let Place::InviteUses(h) = &used.place else {
            return Ok(None);
        };
        let hash: InviteHash = h
            .parse()
            .map_err(|_| format!("`{h}` is not an invite hash"))?;
        let device: DeviceId = used
            .key
            .parse()
            .map_err(|_| format!("`{}` is not a device id", used.key))?;
        let invite = cx.facts.invites.get(&hash).ok_or_else(|| {
            format!(
                "it redeems invite {}, which its past does not hold",
                hash.short()
            )
        })?;
        if invite.created_by != cx.me {
            return Err("an invite is redeemed only by a device of the member who made it".into());
        }
        if cx.time_ms >= invite.expires_at {
            return Err(format!(
                "it redeems invite {} after it expired",
                hash.short()
            ));
        }
        if u64::try_from(invite.uses.len()).unwrap_or(u64::MAX) >= invite.max_uses {
            return Err(format!(
                "it redeems invite {}, which is used up",
                hash.short()
            ));
        }
        if cx.facts.devices.contains_key(&device) {
            return Err(format!("device {} is in the group already", device.short()));
        }
        let new_members: Vec<&Write> = writes
            .iter()
            .filter(|w| w.place == Place::Members && matches!(w.action, Action::Make(_)))
            .collect();
        let new_member = match (invite.kind, new_members.as_slice()) {
            (InviteFor::NewMember, [m]) => Some(m.key.clone()),
            (InviteFor::DeviceOf(_), []) => None,
            _ => return Err("a join adds exactly what its invite lets in".into()),
        };
        if let Some(m) = &new_member {
            let id = parse_member(m)?;
            if cx.facts.members.contains_key(&id) {
                return Err(format!("member {} exists already", id.short()));
            }
        }
        Ok(Some(Join {
            invite: hash,
            device,
            kind: invite.kind,
            new_member,
        }))
    }

    /// Whether the join lets write `w` happen.
    fn covers(&self, w: &Write) -> bool {
        let device = self.device.to_string();
        match (&w.place, self.kind) {
            (Place::InviteUses(h), _) => *h == self.invite.to_string() && w.key == device,
            (Place::Members, InviteFor::NewMember) => self.new_member.as_deref() == Some(&w.key),
            (Place::Devices(m), InviteFor::DeviceOf(owner)) => {
                *m == owner.to_string() && w.key == device
            }
            _ => false,
        }
    }
}

/// Judges the founding change: the first of the group, with no dependencies, made by a device
/// of an organizer it adds. Its writes make the group.
pub fn founding(device: DeviceId, writes: &[Write]) -> Result<Effect, String> {
    let fields = new_fields(writes);
    // The devices made under each member's `devices`, in the order they are made.
    let mut made_devices: HashMap<&str, Vec<DeviceId>> = HashMap::new();
    for d in writes {
        if let (Place::Devices(m), Action::Make(_)) = (&d.place, &d.action)
            && let Ok(device) = d.key.parse()
        {
            made_devices.entry(m.as_str()).or_default().push(device);
        }
    }
    let mut effect = Effect::default();
    for w in writes {
        if w.place != Place::Members || !matches!(w.action, Action::Make(_)) {
            continue;
        }
        let member = parse_member(&w.key)?;
        let organizer = w
            .makes
            .as_deref()
            .and_then(|id| fields.get(id))
            .and_then(|f| f.get("organizer"))
            == Some(&&ScalarValue::Boolean(true));
        let devices = made_devices
            .get(w.key.as_str())
            .cloned()
            .unwrap_or_default();
        effect.members.push((member, devices, organizer));
    }
    let founder = effect
        .members
        .iter()
        .any(|(_, devices, organizer)| *organizer && devices.contains(&device));
    if !founder {
        return Err("the founding change must add its writer's device to an organizer".into());
    }
    Ok(effect)
}
