use automerge::transaction::Transactable;
use automerge::{Automerge, ObjType, ROOT, ReadDoc, ScalarValue};
use quire_store::authority::Authority;
use quire_store::ids::{CritiqueId, DeviceId, RuleChangeId, SubmissionId};
use quire_store::model::InviteKind;
use quire_store::ops::{self, InviteSpec, Joiner};
use quire_store::session_actor;

use crate::support::*;

/// Ann (0) founds the group and invites Bea (1) and Cal (2), each change written as the
/// device that would write it. Bea submits a piece; Cal critiques it; Bea rates it.
fn honest() -> Automerge {
    let new = ops::NewGroup {
        id: quire_store::GroupId::from_bytes([9; 16]),
        name: "Tuesday Writers".into(),
        description: String::new(),
        rules: Default::default(),
        founder: new_member(0),
    };
    let mut doc = ops::create_group(new, session_actor(device(0)), t0()).unwrap();
    for (i, name) in NAMES.iter().enumerate().take(3).skip(1) {
        let spec = InviteSpec {
            hash: invite_hash(i as u8),
            expires_at: after(24),
            max_uses: 1,
            kind: InviteKind::Member,
        };
        ops::create_invite(&mut doc, member(0), spec, t0()).unwrap();
        let joiner = Joiner {
            device: device(i),
            device_label: "laptop".into(),
            new_member: Some((member(i), (*name).into())),
        };
        ops::redeem_invite(&mut doc, invite_hash(i as u8), joiner, after(1)).unwrap();
    }
    as_device(&mut doc, 1);
    ops::submit(&mut doc, member(1), piece(), draft("The Mill"), after(2)).unwrap();
    as_device(&mut doc, 2);
    ops::claim(&mut doc, member(2), piece(), after(3)).unwrap();
    ops::critique(
        &mut doc,
        member(2),
        piece(),
        review(),
        "Strong opening.",
        after(4),
    )
    .unwrap();
    as_device(&mut doc, 1);
    ops::rate(&mut doc, member(1), piece(), review(), 5, after(5)).unwrap();
    doc
}

fn piece() -> SubmissionId {
    SubmissionId::from_bytes([40; 16])
}

fn review() -> CritiqueId {
    CritiqueId::from_bytes([50; 16])
}

/// Makes the next changes of `doc` as device `i`.
fn as_device(doc: &mut Automerge, i: usize) {
    doc.set_actor(session_actor(device(i)));
}

/// Replays `doc`'s history change by change into a fresh document, judging each first, as a
/// receiving device does. Returns how many were accepted, or the first refusal.
fn replay(doc: &Automerge) -> Result<usize, String> {
    let mut fresh = Automerge::new();
    let mut authority = Authority::new();
    let changes = doc.get_changes(&[]);
    for change in &changes {
        authority.judge(&fresh, change).map_err(|r| r.to_string())?;
        fresh.apply_changes([change.clone()]).unwrap();
    }
    Ok(changes.len())
}

/// The honest history with one raw change by device `i` on top: a member's device running a
/// modified client.
fn forged(
    i: usize,
    write: impl FnOnce(&mut automerge::transaction::Transaction<'_>, &Automerge),
) -> String {
    let mut doc = honest();
    let snapshot = doc.clone();
    as_device(&mut doc, i);
    let mut tx = doc.transaction();
    write(&mut tx, &snapshot);
    tx.commit();
    replay(&doc).expect_err("the forged change is refused")
}

fn map(doc: &Automerge, path: &[&str]) -> automerge::ObjId {
    let mut at = ROOT;
    for key in path {
        at = doc.get(&at, *key).unwrap().expect(key).1;
    }
    at
}

#[test]
fn every_honest_change_is_accepted() {
    let doc = honest();
    assert_eq!(replay(&doc).unwrap(), doc.get_changes(&[]).len());
}

#[test]
fn a_member_cannot_make_herself_organizer() {
    let bea = member(1).to_string();
    let err = forged(1, |tx, d| {
        tx.put(map(d, &["members", &bea]), "organizer", true)
            .unwrap();
    });
    assert!(err.contains("organizer"), "{err}");
}

#[test]
fn a_member_cannot_remove_another() {
    let ann = member(0).to_string();
    let err = forged(1, |tx, d| {
        tx.put(
            map(d, &["members", &ann]),
            "removed_at",
            ScalarValue::Int(1),
        )
        .unwrap();
    });
    assert!(err.contains("removed_at"), "{err}");
}

/// A rule change backdated to 2020, written by device `by` in Ann's name: the attack that
/// rewrites every ledger.
fn backdated_rule_change(by: usize) -> String {
    forged(by, |tx, d| {
        let changes = map(d, &["group", "rule_changes"]);
        let entry = tx
            .put_object(
                changes,
                RuleChangeId::from_bytes([7; 16]).to_string(),
                ObjType::Map,
            )
            .unwrap();
        tx.put(&entry, "at", ScalarValue::Int(1_577_836_800_000))
            .unwrap();
        tx.put(&entry, "by", member(0).to_string()).unwrap();
        let values = tx.put_object(&entry, "values", ObjType::Map).unwrap();
        tx.put(&values, "starting_credits", "100").unwrap();
    })
}

#[test]
fn a_member_cannot_change_the_rules_in_an_organizers_name() {
    let err = backdated_rule_change(1);
    assert!(err.contains("rule_changes"), "{err}");
}

#[test]
fn an_organizer_cannot_backdate_a_rule_change() {
    let err = backdated_rule_change(0);
    assert!(err.contains("before its own past"), "{err}");
}

#[test]
fn only_the_author_edits_a_piece() {
    let id = piece().to_string();
    let err = forged(2, |tx, d| {
        tx.put(map(d, &["submissions", &id]), "title", "Mine now")
            .unwrap();
    });
    assert!(err.contains("title"), "{err}");
}

#[test]
fn a_critique_names_its_writer_as_reviewer() {
    let id = piece().to_string();
    let err = forged(0, |tx, d| {
        let critiques = map(d, &["submissions", &id, "critiques"]);
        let c = tx
            .put_object(
                critiques,
                CritiqueId::from_bytes([51; 16]).to_string(),
                ObjType::Map,
            )
            .unwrap();
        tx.put(&c, "reviewer", member(2).to_string()).unwrap();
        tx.put(&c, "body", "Weak.").unwrap();
        tx.put(&c, "rating", ScalarValue::Uint(1)).unwrap();
    });
    assert!(err.contains("reviewer"), "{err}");
}

#[test]
fn only_the_author_rates_a_critique() {
    let (s, c) = (piece().to_string(), review().to_string());
    let err = forged(0, |tx, d| {
        tx.put(
            map(d, &["submissions", &s, "critiques", &c]),
            "rating",
            ScalarValue::Uint(1),
        )
        .unwrap();
    });
    assert!(err.contains("rating"), "{err}");
}

#[test]
fn nobody_deletes_a_device() {
    let ann = member(0).to_string();
    let err = forged(1, |tx, d| {
        tx.delete(map(d, &["members", &ann, "devices"]), device(0).to_string())
            .unwrap();
    });
    assert!(err.contains("devices"), "{err}");
}

#[test]
fn a_device_is_added_only_by_an_invite() {
    let cal = member(2).to_string();
    let err = forged(1, |tx, d| {
        let devices = map(d, &["members", &cal, "devices"]);
        let new = tx
            .put_object(
                devices,
                DeviceId::from_bytes([77; 32]).to_string(),
                ObjType::Map,
            )
            .unwrap();
        tx.put(&new, "label", "sneaky").unwrap();
    });
    assert!(err.contains("devices"), "{err}");
}

#[test]
fn a_device_outside_the_group_writes_nothing() {
    let err = forged(3, |tx, _| {
        tx.put(ROOT, "schema", ScalarValue::Uint(7)).unwrap();
    });
    assert!(err.contains("not a member device"), "{err}");
}

#[test]
fn a_change_whose_past_holds_its_writers_removal_is_refused() {
    let mut doc = honest();
    as_device(&mut doc, 0);
    ops::remove_member(&mut doc, member(0), member(2), after(6)).unwrap();
    as_device(&mut doc, 2);
    let cal = member(2).to_string();
    let members = map(&doc, &["members", &cal]);
    let mut tx = doc.transaction();
    tx.put(members, "bio", "still here").unwrap();
    tx.commit();
    let err = replay(&doc).unwrap_err();
    assert!(err.contains("removed"), "{err}");
}

#[test]
fn a_change_concurrent_with_a_removal_is_accepted_in_either_order() {
    let mut ann = honest();
    let mut cal = ann.fork();
    as_device(&mut ann, 0);
    ops::remove_member(&mut ann, member(0), member(2), after(6)).unwrap();
    cal.set_actor(session_actor(device(2)));
    ops::update_profile(
        &mut cal,
        member(2),
        quire_store::doc::ProfilePatch {
            bio: Some("offline edit".into()),
            ..Default::default()
        },
        after(6),
    )
    .unwrap();
    let mut one = ann.fork();
    one.merge(&mut cal).unwrap();
    let mut two = cal.fork();
    two.merge(&mut ann).unwrap();
    assert_eq!(replay(&one).unwrap(), replay(&two).unwrap());
}

#[test]
fn a_group_is_founded_once() {
    let mut doc = honest();
    let other = ops::create_group(
        ops::NewGroup {
            id: quire_store::GroupId::from_bytes([9; 16]),
            name: "Tuesday Writers".into(),
            description: String::new(),
            rules: Default::default(),
            founder: new_member(1),
        },
        session_actor(device(1)),
        t0(),
    )
    .unwrap();
    let mut other = other;
    doc.merge(&mut other).unwrap();
    let err = replay(&doc).unwrap_err();
    assert!(err.contains("founded once"), "{err}");
}

#[test]
fn a_rule_change_after_a_clock_that_runs_ahead_is_not_backdated() {
    // The latest change was made at `after(5)` by another device; this organizer's clock says
    // `after(1)`: the rule change takes effect at the later time, and is accepted.
    let mut doc = honest();
    as_device(&mut doc, 0);
    let rules = [("claim_period_days".to_owned(), "5".to_owned())];
    ops::change_rules(
        &mut doc,
        member(0),
        RuleChangeId::from_bytes([8; 16]),
        &rules,
        after(1),
    )
    .unwrap();
    assert_eq!(replay(&doc).unwrap(), doc.get_changes(&[]).len());
}

/// Judges every change of `doc` after `have` before applying any (as a session takes one
/// message: judged in causal order, then applied together) onto a copy of `doc` at `have`.
fn judge_batch(doc: &Automerge, have: &[automerge::ChangeHash]) -> Result<usize, String> {
    let mut base = doc.fork_at(have).unwrap();
    let mut authority = Authority::new();
    authority.seed(&base);
    let changes = doc.get_changes(have);
    for change in &changes {
        authority.judge(&base, change).map_err(|r| r.to_string())?;
    }
    base.apply_changes(changes.clone()).unwrap();
    authority.trim();
    Ok(changes.len())
}

/// `change` with its first op's predecessors and its dependencies replaced, then encoded
/// again: what a modified client can send, signed and all.
fn rewritten(
    change: &automerge::Change,
    pred: Option<Vec<automerge::legacy::OpId>>,
    deps: Option<Vec<automerge::ChangeHash>>,
) -> automerge::Change {
    let mut expanded = change.decode();
    if let Some(pred) = pred {
        expanded.operations[0].pred = pred.into();
    }
    if let Some(deps) = deps {
        expanded.deps = deps;
    }
    automerge::Change::from(expanded)
}

fn op_id(id: &automerge::ObjId) -> automerge::legacy::OpId {
    id.to_string().parse().unwrap()
}

fn bio_edit(doc: &mut Automerge, i: usize, bio: &str) -> automerge::Change {
    ops::update_profile(
        doc,
        member(i),
        quire_store::doc::ProfilePatch {
            bio: Some(bio.into()),
            ..Default::default()
        },
        after(6),
    )
    .unwrap();
    doc.get_last_local_change().unwrap()
}

#[test]
fn a_chain_judged_before_it_is_applied_is_accepted() {
    let mut doc = honest();
    let have = doc.get_heads();
    as_device(&mut doc, 1);
    for i in 0..5 {
        bio_edit(&mut doc, 1, &format!("draft {i}"));
    }
    as_device(&mut doc, 2);
    bio_edit(&mut doc, 2, "poet");
    assert_eq!(judge_batch(&doc, &have).unwrap(), 6);
    // The whole history, from the founding change, as one batch.
    let all = doc.get_changes(&[]).len();
    assert_eq!(judge_batch(&doc, &[]).unwrap(), all);
}

#[test]
fn a_change_naming_another_keys_value_as_its_predecessor_is_refused() {
    let doc = honest();
    let bea = member(1).to_string();
    let (_, name_op) = doc
        .get(map(&doc, &["members", &bea]), "display_name")
        .unwrap()
        .unwrap();
    let mut theirs = doc.fork();
    theirs.set_actor(session_actor(device(1)));
    let edit = bio_edit(&mut theirs, 1, "reviewer");
    let forged = rewritten(&edit, Some(vec![op_id(&name_op)]), None);
    let mut authority = Authority::new();
    authority.seed(&doc);
    let err = authority.judge(&doc, &forged).unwrap_err().to_string();
    assert!(err.contains("overwrites") && err.contains("bio"), "{err}");
    // The honest edit passes the same check.
    authority.judge(&doc, &edit).unwrap();
}

#[test]
fn a_change_naming_a_concurrent_value_as_its_predecessor_is_refused() {
    let base = honest();
    let mut one = base.fork();
    one.set_actor(session_actor(device(1)));
    let first = bio_edit(&mut one, 1, "from the laptop");
    let mut two = base.fork();
    two.set_actor(session_actor(device(1)));
    let second = bio_edit(&mut two, 1, "from the phone");
    let bea = member(1).to_string();
    let (_, first_op) = one
        .get(map(&one, &["members", &bea]), "bio")
        .unwrap()
        .unwrap();
    // The honest concurrent edit is accepted by a device that holds the first; the forgery
    // naming the first (not in its past) as what it overwrites is refused.
    let mut authority = Authority::new();
    authority.seed(&one);
    authority.judge(&one, &second).unwrap();
    let forged = rewritten(&second, Some(vec![op_id(&first_op)]), None);
    let err = authority.judge(&one, &forged).unwrap_err().to_string();
    assert!(err.contains("not there in its past"), "{err}");
    // And by a device that holds neither yet, judging the first and the forgery together.
    let mut authority = Authority::new();
    authority.seed(&base);
    authority.judge(&base, &first).unwrap();
    let err = authority.judge(&base, &forged).unwrap_err().to_string();
    assert!(err.contains("not there in its past"), "{err}");
}

#[test]
fn a_write_into_an_object_its_past_does_not_hold_is_refused() {
    let mut doc = honest();
    let have = doc.get_heads();
    as_device(&mut doc, 0);
    let second = CritiqueId::from_bytes([51; 16]);
    ops::claim(&mut doc, member(0), piece(), after(6)).unwrap();
    ops::critique(
        &mut doc,
        member(0),
        piece(),
        second,
        "Tighten it.",
        after(7),
    )
    .unwrap();
    as_device(&mut doc, 1);
    ops::rate(&mut doc, member(1), piece(), second, 4, after(8)).unwrap();
    let rating = doc.get_last_local_change().unwrap();
    // The rating rewritten to depend only on what came before the critique was written.
    let forged = rewritten(&rating, None, Some(have));
    let mut authority = Authority::new();
    authority.seed(&doc);
    let err = authority.judge(&doc, &forged).unwrap_err().to_string();
    assert!(err.contains("its past does not hold"), "{err}");
    authority.judge(&doc, &rating).unwrap();
}
