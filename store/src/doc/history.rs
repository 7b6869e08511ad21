//! The document's history as plain [`Change`]s for the activity feed: when each change was
//! made, by which device, and what its ops did.
//!
//! A change's message is free text its writer chooses, and a hostile writer can make it say
//! anything ("created the group"), so it is never read here. Each described change is decoded
//! instead, and each of its ops placed in the schema: an op writes one key of one map, and the
//! path of that map from the root (`submissions/<id>/claims/<member>`) says which entry it
//! touched ([`Deed`]). Maps the change makes itself are placed from its own ops; the others
//! are looked up in the document once (`ReadDoc::parents`) and remembered for the rest of the
//! pass.
//!
//! Decoding costs time in the ops, so whoever shows only the newest changes describes only
//! those ([`newest_history`]), and a change of more than [`MAX_DESCRIBED_OPS`] ops is counted,
//! not decoded.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use automerge::legacy::{Key, ObjectId, OpId, OpType};
use automerge::{Automerge, ChangeHash, ObjType, Prop, ReadDoc, ScalarValue};
use jiff::Timestamp;

use crate::exchange::activity::{Change, Deed};
use crate::ids::{CritiqueId, DeviceId, InviteHash, MemberId, RuleChangeId, SubmissionId};

/// The most ops a change may have to be described op by op; a larger one is described as
/// [`Deed::Bulk`]. Quire's own operations write a few dozen ops each (founding a group 36, a
/// member with a long profile about fifty). Reading a change's ops back from automerge costs
/// about 5 µs an op, so the newest 500 changes cost 14 ms when they are Quire's own and 0.65 s
/// at most, whatever a peer wrote.
pub const MAX_DESCRIBED_OPS: u64 = 256;

/// Every change in the document, in its causal order, described.
pub fn history(doc: &Automerge) -> Vec<Change> {
    history_from(doc, None)
}

/// The changes made at or after `since` (all if `None`), in causal order, described.
pub fn history_from(doc: &Automerge, since: Option<Timestamp>) -> Vec<Change> {
    let metas = doc.get_changes_meta(&[]);
    describe_all(
        doc,
        metas
            .iter()
            .filter(|m| since.is_none_or(|s| time_of(m.timestamp) >= s)),
    )
}

/// The newest `n` changes of the document's causal order, oldest first, described: what a
/// client that shows the newest `n` needs, for the cost of those alone.
pub fn newest_history(doc: &Automerge, n: usize) -> Vec<Change> {
    let metas = doc.get_changes_meta(&[]);
    let older = metas.len().saturating_sub(n);
    describe_all(doc, metas.iter().skip(older))
}

/// The changes made since `heads`, described.
pub fn history_since(doc: &Automerge, heads: &[ChangeHash]) -> Vec<Change> {
    describe_all(doc, doc.get_changes_meta(heads).iter())
}

fn time_of(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn describe_all<'m>(
    doc: &Automerge,
    metas: impl Iterator<Item = &'m automerge::ChangeMetadata<'m>>,
) -> Vec<Change> {
    let mut places = Places {
        doc,
        known: HashMap::new(),
    };
    metas
        .map(|m| Change {
            at: time_of(m.timestamp),
            device: crate::device_of_actor(&m.actor),
            deeds: deeds_of(doc, m, &mut places),
            order: (m.start_op, m.actor.to_bytes().to_vec()),
        })
        .collect()
}

/// What the change `meta` did, from its ops.
fn deeds_of(
    doc: &Automerge,
    meta: &automerge::ChangeMetadata<'_>,
    places: &mut Places<'_>,
) -> Vec<Deed> {
    let ops = meta.max_op.saturating_add(1).saturating_sub(meta.start_op);
    if ops > MAX_DESCRIBED_OPS {
        return vec![Deed::Bulk(ops)];
    }
    let Some(change) = doc.get_change_by_hash(&meta.hash) else {
        return vec![Deed::Unrecognised];
    };
    let change = change.decode();
    let mut touched = Touched::default();
    for (offset, op) in (0u64..).zip(&change.operations) {
        let (Some(mut path), Key::Map(key)) = (places.of(&op.obj), &op.key) else {
            touched.unrecognised = true;
            continue;
        };
        path.push(key.to_string());
        let write = match &op.action {
            OpType::Make(ObjType::Map) => {
                let id = OpId(
                    change.start_op.get().saturating_add(offset),
                    change.actor_id.clone(),
                );
                places.known.insert(id, Some(path.clone()));
                Write::Made
            }
            OpType::Put(value) => Write::Value(value.clone()),
            OpType::Delete => Write::Deleted,
            _ => {
                touched.unrecognised = true;
                continue;
            }
        };
        touched.add(&path, write);
    }
    touched.deeds()
}

/// The paths of maps from the root, as far as they are known.
struct Places<'a> {
    doc: &'a Automerge,
    /// Maps placed so far: `None` for one that is not a map under maps.
    known: HashMap<OpId, Option<Vec<String>>>,
}

impl Places<'_> {
    fn of(&mut self, obj: &ObjectId) -> Option<Vec<String>> {
        let ObjectId::Id(id) = obj else {
            return Some(Vec::new());
        };
        if let Some(path) = self.known.get(id) {
            return path.clone();
        }
        let path = self.look_up(id);
        self.known.insert(id.clone(), path.clone());
        path
    }

    fn look_up(&self, id: &OpId) -> Option<Vec<String>> {
        let (obj, ObjType::Map) = self.doc.import(&id.to_string()).ok()? else {
            return None;
        };
        let mut path = Vec::new();
        for parent in self.doc.parents(&obj).ok()? {
            match parent.prop {
                Prop::Map(key) => path.push(key),
                Prop::Seq(_) => return None,
            }
        }
        path.reverse();
        Some(path)
    }
}

/// One op's write at a key.
#[derive(Debug, Clone, PartialEq)]
enum Write {
    /// Made a map there.
    Made,
    /// Put a value there.
    Value(ScalarValue),
    /// Deleted what was there.
    Deleted,
}

impl Write {
    /// Whether it set a value other than null.
    fn sets(&self) -> bool {
        matches!(self, Write::Value(v) if !matches!(v, ScalarValue::Null))
    }
}

/// An entry of the schema: what one map under the root collections is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Entry {
    Group,
    RuleChange(RuleChangeId),
    Member(MemberId),
    Device(MemberId, DeviceId),
    Invite(InviteHash),
    Submission(SubmissionId),
    Claim(SubmissionId, MemberId),
    Critique(SubmissionId, CritiqueId),
}

impl Entry {
    /// The entry this one is part of, if any.
    fn parent(self) -> Option<Entry> {
        match self {
            Entry::RuleChange(_) => Some(Entry::Group),
            Entry::Device(m, _) => Some(Entry::Member(m)),
            Entry::Claim(s, _) | Entry::Critique(s, _) => Some(Entry::Submission(s)),
            _ => None,
        }
    }
}

/// Where a path leads in the schema.
enum Place<'p> {
    /// A map that only holds entries (`members`, `submissions/<id>/claims`), part of `owner`
    /// if it has one: made with its owner, or once in a document that predates it.
    Collection(Option<Entry>),
    /// An entry itself.
    Entry(Entry),
    /// A field of an entry, and the keys below it.
    Field(Entry, &'p str, &'p [String]),
    /// Nothing the schema has.
    Unknown,
}

fn place(path: &[String]) -> Place<'_> {
    let keys: Vec<&str> = path.iter().map(String::as_str).collect();
    let id = |i: usize| keys.get(i).copied().unwrap_or("");
    let rest = |from: usize| path.get(from..).unwrap_or(&[]);
    let field = |entry: Entry, at: usize| match keys.get(at) {
        None => Place::Entry(entry),
        Some(name) => Place::Field(entry, name, rest(at + 1)),
    };
    macro_rules! parsed {
        ($i:expr) => {
            match id($i).parse() {
                Ok(id) => id,
                Err(_) => return Place::Unknown,
            }
        };
    }
    match keys.as_slice() {
        [] => Place::Unknown,
        ["schema"] => Place::Field(Entry::Group, "schema", &[]),
        ["members" | "invites" | "submissions"] | ["group", "rule_changes"] => {
            Place::Collection(None)
        }
        ["group", "rule_changes", ..] => field(Entry::RuleChange(parsed!(2)), 3),
        ["group", ..] => field(Entry::Group, 1),
        ["members", _, "devices"] => Place::Collection(Some(Entry::Member(parsed!(1)))),
        ["members", _, "devices", ..] => field(Entry::Device(parsed!(1), parsed!(3)), 4),
        ["members", ..] => field(Entry::Member(parsed!(1)), 2),
        ["invites", ..] => field(Entry::Invite(parsed!(1)), 2),
        ["submissions", _, "claims" | "critiques"] => {
            Place::Collection(Some(Entry::Submission(parsed!(1))))
        }
        ["submissions", _, "claims", ..] => field(Entry::Claim(parsed!(1), parsed!(3)), 4),
        ["submissions", _, "critiques", ..] => field(Entry::Critique(parsed!(1), parsed!(3)), 4),
        ["submissions", ..] => field(Entry::Submission(parsed!(1)), 2),
        _ => Place::Unknown,
    }
}

/// What one change wrote to an entry.
#[derive(Debug, Default)]
struct Writes {
    /// What it did to the entry itself (made, deleted, replaced by a value).
    entry: Option<Write>,
    /// Its fields, each with the change's last direct write to it (`Made` for a write to
    /// keys below it).
    fields: BTreeMap<String, Write>,
    /// For a rule change, the values it wrote under `values`.
    rule_values: BTreeMap<String, String>,
}

/// What one change wrote, entry by entry.
#[derive(Debug, Default)]
struct Touched {
    entries: BTreeMap<Entry, Writes>,
    /// Whether it wrote anywhere the schema does not have.
    unrecognised: bool,
}

impl Touched {
    fn add(&mut self, path: &[String], write: Write) {
        match place(path) {
            Place::Collection(owner) => match (write, owner) {
                (Write::Made, _) => {}
                (_, Some(owner)) => {
                    let name = path.last().cloned().unwrap_or_default();
                    self.at(owner).fields.insert(name, Write::Deleted);
                }
                (_, None) => self.unrecognised = true,
            },
            Place::Entry(entry) => self.at(entry).entry = Some(write),
            Place::Field(entry, name, below) => {
                let writes = self.at(entry);
                if let (Entry::RuleChange(_), "values", [key], Write::Value(ScalarValue::Str(v))) =
                    (entry, name, below, &write)
                {
                    writes.rule_values.insert(key.clone(), v.to_string());
                }
                let write = if below.is_empty() { write } else { Write::Made };
                writes.fields.insert(name.to_string(), write);
            }
            Place::Unknown => self.unrecognised = true,
        }
    }

    fn at(&mut self, entry: Entry) -> &mut Writes {
        self.entries.entry(entry).or_default()
    }

    fn made(&self, entry: Entry) -> bool {
        self.entries
            .get(&entry)
            .is_some_and(|w| w.entry == Some(Write::Made))
    }

    /// The deeds, each once, in [`Deed`] order.
    fn deeds(&self) -> Vec<Deed> {
        let mut deeds = BTreeSet::new();
        // The founder's entry is part of founding the group.
        let founder = self
            .entries
            .get(&Entry::Group)
            .filter(|_| self.made(Entry::Group))
            .and_then(|w| match w.fields.get("created_by") {
                Some(Write::Value(ScalarValue::Str(id))) => id.parse::<MemberId>().ok(),
                _ => None,
            });
        for (entry, writes) in &self.entries {
            // Whatever is written inside an entry made by the same change is part of making it.
            if entry.parent().is_some_and(|p| self.made(p))
                || matches!(entry, Entry::Member(m) if Some(*m) == founder)
            {
                continue;
            }
            deeds_of_entry(*entry, writes, &mut deeds);
        }
        if self.unrecognised {
            deeds.insert(Deed::Unrecognised);
        }
        let added = deeds
            .iter()
            .any(|d| matches!(d, Deed::AddedMember(_) | Deed::AddedDevice(..)));
        if added {
            // A redeemed invite: its use is part of the adding.
            deeds.retain(|d| !matches!(d, Deed::UsedInvite(_)));
        }
        deeds.into_iter().collect()
    }
}

/// The deeds of one entry's writes.
fn deeds_of_entry(entry: Entry, writes: &Writes, deeds: &mut BTreeSet<Deed>) {
    let made = writes.entry == Some(Write::Made);
    let gone = matches!(writes.entry, Some(Write::Deleted | Write::Value(_)));
    let field = |name: &str| writes.fields.get(name);
    let sets = |name: &str| field(name).is_some_and(Write::sets);
    let others = |known: &[&str]| writes.fields.keys().any(|k| !known.contains(&k.as_str()));
    match entry {
        Entry::Group if made => {
            deeds.insert(Deed::CreatedGroup);
        }
        Entry::Group => {
            deeds.insert(Deed::EditedGroup);
        }
        Entry::RuleChange(id) => {
            deeds.insert(Deed::ChangedRules(id, writes.rule_values.clone()));
        }
        Entry::Member(m) if made => {
            deeds.insert(Deed::AddedMember(m));
        }
        Entry::Member(m) if gone => {
            deeds.insert(Deed::DeletedMember(m));
        }
        Entry::Member(m) => {
            const PROFILE: [&str; 8] = [
                "display_name",
                "pen_name",
                "bio",
                "genres",
                "roles",
                "links",
                "capacity_per_month",
                "hiatus_until",
            ];
            if sets("removed_at") {
                deeds.insert(Deed::RemovedMember(m));
            }
            match field("organizer") {
                Some(Write::Value(ScalarValue::Boolean(flag))) => {
                    deeds.insert(Deed::SetOrganizer(m, *flag));
                }
                Some(_) => {
                    deeds.insert(Deed::EditedMember(m));
                }
                None => {}
            }
            if writes.fields.keys().any(|k| PROFILE.contains(&k.as_str())) {
                deeds.insert(Deed::EditedProfile(m));
            }
            let membership = writes.fields.iter().any(|(k, w)| {
                !PROFILE.contains(&k.as_str())
                    && k != "organizer"
                    && !(k == "removed_at" && w.sets())
            });
            if membership {
                deeds.insert(Deed::EditedMember(m));
            }
        }
        Entry::Device(m, d) if made => {
            deeds.insert(Deed::AddedDevice(m, d));
        }
        Entry::Device(m, d) if gone => {
            deeds.insert(Deed::RemovedDevice(m, d));
        }
        Entry::Device(m, _) => {
            deeds.insert(Deed::EditedMember(m));
        }
        Entry::Invite(h) if made => {
            let device =
                matches!(field("kind"), Some(Write::Value(ScalarValue::Str(k))) if k == "device");
            deeds.insert(Deed::Invited(h, device));
        }
        Entry::Invite(h) if !gone && !others(&["uses"]) => {
            deeds.insert(Deed::UsedInvite(h));
        }
        Entry::Invite(h) => {
            deeds.insert(Deed::EditedInvite(h));
        }
        Entry::Submission(s) if made => {
            deeds.insert(Deed::Submitted(s));
        }
        Entry::Submission(s) if gone => {
            deeds.insert(Deed::DeletedSubmission(s));
        }
        Entry::Submission(s) => {
            if sets("withdrawn_at") {
                deeds.insert(Deed::Withdrew(s));
            }
            if writes
                .fields
                .iter()
                .any(|(k, w)| !(k == "withdrawn_at" && w.sets()))
            {
                deeds.insert(Deed::EditedSubmission(s));
            }
        }
        Entry::Claim(s, m) if made || field("at").is_some() => {
            deeds.insert(Deed::Claimed(s, m));
        }
        Entry::Claim(s, m) if gone || sets("released_at") => {
            deeds.insert(Deed::Unclaimed(s, m));
            if others(&["released_at"]) {
                deeds.insert(Deed::EditedClaim(s, m));
            }
        }
        Entry::Claim(s, m) => {
            deeds.insert(Deed::EditedClaim(s, m));
        }
        Entry::Critique(s, c) if made => {
            deeds.insert(Deed::Critiqued(s, c));
        }
        Entry::Critique(s, c) if gone => {
            deeds.insert(Deed::DeletedCritique(s, c));
        }
        Entry::Critique(s, c) => {
            if sets("rating") {
                deeds.insert(Deed::Rated(s, c));
            }
            if sets("thanked_at") {
                deeds.insert(Deed::Thanked(s, c));
            }
            if sets("tipped_at") {
                deeds.insert(Deed::Tipped(s, c));
            }
            let marks = ["rating", "thanked_at", "tipped_at"];
            if writes
                .fields
                .iter()
                .any(|(k, w)| !(marks.contains(&k.as_str()) && w.sets()))
            {
                deeds.insert(Deed::EditedCritique(s, c));
            }
        }
    }
}
