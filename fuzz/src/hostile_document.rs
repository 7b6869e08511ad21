//! `hostile_document`: a group document edited by a hostile member, then read the way every
//! device reads it. A member's device can write anything into the document (wrong types,
//! missing fields, huge strings, deep nesting, concurrent conflicting values), and every honest
//! device then reads it: the readers must skip what they cannot read, never panic, and the live
//! view kept up to date change by change must agree with a fresh read.
//!
//! Input: a small program. Each step is an opcode byte, a path byte (which map of the schema to
//! write into), a key byte (a field name of the schema, an id, or a string from the input) and
//! the value's bytes. One opcode switches between the main document and a concurrent fork,
//! which is merged at the end.

use std::borrow::Cow;

use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value};
use quire_store::doc;
use quire_store::exchange::{activity, ledger, reliability, suggest};
use quire_store::live_view::LiveView;
use quire_store::views;

use super::fixtures::{self, Input};

/// The most steps one input runs.
const MAX_STEPS: usize = 64;
/// The most bytes of huge strings one input writes.
const MAX_HUGE_BYTES: usize = 1 << 20;

/// Field names of the schema, every one somewhere a reader looks.
const FIELDS: [&str; 62] = [
    "schema",
    "group",
    "members",
    "invites",
    "submissions",
    "id",
    "name",
    "description",
    "created_at",
    "created_by",
    "rules",
    "rule_changes",
    "at",
    "by",
    "values",
    "display_name",
    "pen_name",
    "bio",
    "genres",
    "roles",
    "links",
    "capacity_per_month",
    "hiatus_until",
    "organizer",
    "joined_at",
    "removed_at",
    "devices",
    "label",
    "added_at",
    "expires_at",
    "max_uses",
    "kind",
    "for_member",
    "uses",
    "author",
    "title",
    "genre",
    "word_count",
    "text",
    "feedback_wanted",
    "content_notes",
    "submitted_at",
    "due_at",
    "critiques_wanted",
    "withdrawn_at",
    "claims",
    "critiques",
    "reviewer",
    "body",
    "delivered_at",
    "rating",
    "thanked_at",
    "tipped_at",
    "released_at",
    "claim_period_days",
    "max_words",
    "credits",
    "starting_credits",
    "submission_cost",
    "extra_open_cost",
    "tip",
    "",
];

/// Short strings a reader parses: kinds, roles, dates, numbers, near-ids.
const WORDS: [&str; 12] = [
    "member",
    "device",
    "organizer",
    "reader",
    "2026-11-02",
    "2026-02-30",
    "-1",
    "18446744073709551616",
    "on",
    "none",
    "0123456789abcdef0123456789abcdef",
    "not an id",
];

/// Runs one input.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    fixtures::with_small_group(|base| {
        let before = LiveView::load(&base).expect("the fixture group reads");
        let mut main = base.clone();
        let mut fork: Option<Automerge> = None;
        let mut on_fork = false;
        let mut huge_budget = MAX_HUGE_BYTES;
        let ids = Ids::new();
        for _ in 0..MAX_STEPS {
            if input.is_empty() {
                break;
            }
            let op = input.byte();
            if op % 16 == 15 {
                on_fork = !on_fork;
                if fork.is_none() {
                    fork = Some(base.fork().with_actor(ActorId::from(vec![0xee; 16])));
                }
                continue;
            }
            let target = match (on_fork, fork.as_mut()) {
                (true, Some(fork)) => fork,
                _ => &mut main,
            };
            step(target, op, &mut input, &ids, &mut huge_budget);
        }
        if let Some(mut fork) = fork {
            let _ = main.merge(&mut fork);
        }
        read_everything(&main, &before);
    });
}

/// The ids of the fixture group as the document writes them.
struct Ids {
    paths: Vec<Vec<String>>,
    keys: Vec<String>,
}

impl Ids {
    fn new() -> Self {
        let m0 = fixtures::member(0).to_string();
        let m1 = fixtures::member(1).to_string();
        let d0 = fixtures::device(0).to_string();
        let d1 = fixtures::device(1).to_string();
        let s = fixtures::submission().to_string();
        let c = fixtures::critique().to_string();
        let h = fixtures::invite().to_string();
        let rc = fixtures::rule_change().to_string();
        let p = |parts: &[&str]| parts.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let paths = vec![
            p(&[]),
            p(&["group"]),
            p(&["group", "rules"]),
            p(&["group", "rule_changes"]),
            p(&["group", "rule_changes", &rc]),
            p(&["group", "rule_changes", &rc, "values"]),
            p(&["members"]),
            p(&["members", &m0]),
            p(&["members", &m1]),
            p(&["members", &m0, "devices"]),
            p(&["members", &m1, "devices"]),
            p(&["members", &m0, "devices", &d0]),
            p(&["members", &m1, "genres"]),
            p(&["members", &m1, "roles"]),
            p(&["members", &m1, "links"]),
            p(&["invites"]),
            p(&["invites", &h]),
            p(&["invites", &h, "uses"]),
            p(&["submissions"]),
            p(&["submissions", &s]),
            p(&["submissions", &s, "claims"]),
            p(&["submissions", &s, "claims", &m1]),
            p(&["submissions", &s, "critiques"]),
            p(&["submissions", &s, "critiques", &c]),
        ];
        let keys = [m0, m1, d0, d1, s, c, h, rc].into_iter().collect();
        Self { paths, keys }
    }
}

/// The map at `path`, or the deepest map on the way there.
fn resolve(doc: &Automerge, path: &[String]) -> ObjId {
    let mut obj = ROOT;
    for part in path {
        match doc.get(&obj, part.as_str()) {
            Ok(Some((Value::Object(ObjType::Map), id))) => obj = id,
            _ => break,
        }
    }
    obj
}

/// Runs one step of the program on `doc`.
fn step(doc: &mut Automerge, op: u8, input: &mut Input<'_>, ids: &Ids, huge_budget: &mut usize) {
    let path = &ids.paths[usize::from(input.byte()) % ids.paths.len()];
    let obj = resolve(doc, path);
    let key_byte = input.byte();
    let key: Cow<'_, str> = match key_byte % 4 {
        0 | 1 => FIELDS[usize::from(key_byte / 4) % FIELDS.len()].into(),
        2 => ids.keys[usize::from(key_byte / 4) % ids.keys.len()]
            .as_str()
            .into(),
        _ => {
            let len = usize::from(key_byte / 4) % 40;
            String::from_utf8_lossy(input.take(len))
        }
    };
    let key = key.as_ref();
    let mut tx = doc.transaction();
    // Refusals (say, a counter increment on a string) are part of the game.
    let _ = match op % 16 {
        0 => {
            let len = usize::from(input.byte()) % 48;
            let s = match len {
                0..40 => String::from_utf8_lossy(input.take(len)).into_owned(),
                _ => WORDS[len % WORDS.len()].to_owned(),
            };
            tx.put(&obj, key, s)
        }
        1 => {
            let len = (usize::from(input.byte()) + 1) * 1024;
            let len = len.min(*huge_budget);
            *huge_budget -= len;
            let fill = char::from(b'a' + input.byte() % 26);
            tx.put(&obj, key, fill.to_string().repeat(len))
        }
        2 => tx.put(&obj, key, ScalarValue::Int(input.u64() as i64)),
        3 => tx.put(&obj, key, ScalarValue::Uint(input.u64())),
        4 => tx.put(&obj, key, ScalarValue::F64(f64::from_bits(input.u64()))),
        5 => tx.put(&obj, key, input.byte() & 1 == 1),
        6 => tx.put(&obj, key, ScalarValue::Null),
        7 => tx.put(&obj, key, ScalarValue::Bytes(input.take(8).to_vec())),
        8 => tx.put(&obj, key, ScalarValue::counter(input.u64() as i64)),
        9 => tx.put(&obj, key, ScalarValue::Timestamp(input.u64() as i64)),
        10 => tx.put_object(&obj, key, ObjType::Map).map(|_| ()),
        11 => tx.put_object(&obj, key, ObjType::List).and_then(|list| {
            for i in 0..usize::from(input.byte() % 4) {
                tx.insert(&list, i, ScalarValue::Int(i as i64))?;
            }
            Ok(())
        }),
        12 => tx
            .put_object(&obj, key, ObjType::Text)
            .and_then(|text| tx.splice_text(&text, 0, 0, &String::from_utf8_lossy(input.take(16)))),
        13 => tx.delete(&obj, key),
        _ => {
            // Maps nested up to 255 deep, each under the same key.
            let depth = usize::from(input.byte());
            let word = WORDS[usize::from(input.byte()) % WORDS.len()];
            let mut at = Ok(obj);
            for _ in 0..depth {
                at = at.and_then(|parent| tx.put_object(&parent, key, ObjType::Map));
            }
            at.and_then(|deepest| tx.put(&deepest, key, word))
        }
    };
    tx.commit();
}

/// Everything an honest device reads from a group: the whole model, the live view caught up
/// change by change, who may sync, the invites, and the derived views.
fn read_everything(doc: &Automerge, before: &LiveView) {
    let fresh = LiveView::load(doc);
    let mut caught_up = before.clone();
    let caught = caught_up.catch_up(doc);
    match (&fresh, &caught) {
        (Ok(fresh), Ok(_)) => assert_eq!(
            caught_up.group(),
            fresh.group(),
            "the live view caught up differs from a fresh read"
        ),
        (Err(_), Err(_)) => {}
        (fresh, caught) => panic!(
            "a fresh read and a catch-up disagree: {:?} vs {:?}",
            fresh.as_ref().err(),
            caught.as_ref().err()
        ),
    }
    let _ = doc::read_group(doc);
    let _ = doc::current_devices(doc);
    let _ = doc::current_member_of_device(doc, fixtures::device(0));
    let _ = doc::read_invites(doc, &mut Vec::new());
    let _ = doc::read_invite(doc, fixtures::invite());
    let _ = doc::submission_ids(doc);
    let _ = doc::critique_ids(doc);
    let Ok(view) = fresh else {
        return;
    };
    let group = view.group();
    let history = doc::history(doc);
    for now in [
        fixtures::t0(),
        fixtures::after(2),
        fixtures::after(24 * 400),
    ] {
        let _ = views::queue(group, now);
        let _ = activity::activity(group, &history, Some(now));
        for member in group.members.keys() {
            let _ = reliability::reliability(group, *member, now);
            let _ = suggest::suggestions(group, *member, now);
        }
    }
    let _ = ledger::ledgers(group);
    let _ = group.member_for_device(fixtures::device(0));
}
