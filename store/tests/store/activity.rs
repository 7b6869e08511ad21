use automerge::transaction::{CommitOptions, Transactable};
use automerge::{Automerge, ObjId, ROOT, ReadDoc, Value};
use quire_store::doc::{self, ProfilePatch};
use quire_store::exchange::activity::{Deed, activity};
use quire_store::ids::{CritiqueId, GroupId, RuleChangeId, SubmissionId};
use quire_store::model::{Critique, InviteKind};
use quire_store::ops::{self, InviteSpec, Joiner, NewGroup};
use quire_store::{DeviceId, session_actor};

use crate::support::*;

fn sid(n: u8) -> SubmissionId {
    SubmissionId::from_bytes([n; 16])
}

fn cid(n: u8) -> CritiqueId {
    CritiqueId::from_bytes([n; 16])
}

/// Writes from now on as a fresh session of member `i`'s device.
fn as_device(doc: &mut Automerge, i: usize) -> &mut Automerge {
    doc.set_actor(session_actor(device(i)));
    doc
}

/// The feed, oldest first, as "who: what".
fn feed(doc: &Automerge) -> Vec<String> {
    let group = doc::read_group(doc).unwrap();
    let mut lines: Vec<String> = activity(&group, &doc::history(doc), None)
        .iter()
        .map(|a| format!("{}: {}", a.who, a.what))
        .collect();
    lines.reverse();
    lines
}

/// A group founded by Julia's device, with Ben added by it.
fn founded() -> Automerge {
    let new = NewGroup {
        id: GroupId::from_bytes([9; 16]),
        name: "Tuesday Writers".into(),
        description: String::new(),
        rules: Default::default(),
        founder: new_member(0),
    };
    let mut doc = ops::create_group(new, session_actor(device(0)), t0()).unwrap();
    ops::add_member(&mut doc, new_member(1), after(1)).unwrap();
    doc
}

/// The map at `path` from the root.
fn map_at(doc: &Automerge, path: &[&str]) -> ObjId {
    let mut obj = ROOT;
    for key in path {
        match doc.get(&obj, *key).unwrap() {
            Some((Value::Object(_), id)) => obj = id,
            other => panic!("no map at {key}: {other:?}"),
        }
    }
    obj
}

/// Commits what `f` writes as one change carrying `message`, at hour `hours`.
fn raw_change(
    doc: &mut Automerge,
    message: &str,
    hours: i64,
    f: impl FnOnce(&mut automerge::transaction::Transaction<'_>),
) {
    let options = CommitOptions::default()
        .with_message(message.to_string())
        .with_time(after(hours).as_second());
    doc.transact_with::<_, _, automerge::AutomergeError, _>(
        |_| options,
        |tx| {
            f(tx);
            Ok(())
        },
    )
    .unwrap();
}

#[test]
fn every_operation_is_described_from_its_ops_in_the_feeds_words() {
    let mut doc = founded();
    let member_invite = invite_hash(1);
    ops::create_invite(
        as_device(&mut doc, 0),
        member(0),
        InviteSpec {
            hash: member_invite,
            expires_at: after(100),
            max_uses: 1,
            kind: InviteKind::Member,
        },
        after(2),
    )
    .unwrap();
    let cara = Joiner {
        device: device(2),
        device_label: "laptop 2".into(),
        new_member: Some((member(2), "Cara Lind".into())),
    };
    ops::redeem_invite(&mut doc, member_invite, cara, after(3)).unwrap();
    let device_invite = invite_hash(2);
    ops::create_invite(
        as_device(&mut doc, 1),
        member(1),
        InviteSpec {
            hash: device_invite,
            expires_at: after(100),
            max_uses: 1,
            kind: InviteKind::Device { member: member(1) },
        },
        after(4),
    )
    .unwrap();
    let phone = Joiner {
        device: DeviceId::from_bytes([0xb1; 32]),
        device_label: "phone".into(),
        new_member: None,
    };
    ops::redeem_invite(&mut doc, device_invite, phone, after(5)).unwrap();
    let bio = ProfilePatch {
        bio: Some("Writes at night.".into()),
        ..Default::default()
    };
    ops::update_profile(&mut doc, member(1), bio, after(6)).unwrap();
    let values = [("claim_period_days".to_string(), "10".to_string())];
    ops::change_rules(
        as_device(&mut doc, 0),
        member(0),
        RuleChangeId::from_bytes([7; 16]),
        &values,
        after(7),
    )
    .unwrap();
    ops::submit(&mut doc, member(0), sid(1), draft("The Mill"), after(8)).unwrap();
    ops::claim(as_device(&mut doc, 1), member(1), sid(1), after(9)).unwrap();
    ops::unclaim(&mut doc, member(1), sid(1), after(10)).unwrap();
    ops::claim(as_device(&mut doc, 2), member(2), sid(1), after(11)).unwrap();
    ops::critique(&mut doc, member(2), sid(1), cid(1), "Lovely.", after(12)).unwrap();
    ops::rate(
        as_device(&mut doc, 0),
        member(0),
        sid(1),
        cid(1),
        5,
        after(13),
    )
    .unwrap();
    ops::thank(&mut doc, member(0), sid(1), cid(1), after(14)).unwrap();
    ops::withdraw(&mut doc, member(0), sid(1), after(15)).unwrap();
    ops::remove_member(&mut doc, member(0), member(1), after(16)).unwrap();

    assert_eq!(
        feed(&doc),
        [
            "Julia Amante: created the group 'Tuesday Writers'",
            "Julia Amante: added member 'Ben Okafor'",
            "Julia Amante: created an invite for a new member",
            "Julia Amante: added member 'Cara Lind'",
            "Ben Okafor: created an invite for a new device",
            "Ben Okafor: added device 'phone'",
            "Ben Okafor: edited their profile",
            "Julia Amante: changed the rules: claim_period_days=10",
            "Julia Amante: submitted 'The Mill'",
            "Ben Okafor: claimed 'The Mill'",
            "Ben Okafor: let go of their claim on 'The Mill'",
            "Cara Lind: claimed 'The Mill'",
            "Cara Lind: critiqued 'The Mill'",
            "Julia Amante: rated a critique of 'The Mill'",
            "Julia Amante: thanked a reviewer of 'The Mill'",
            "Julia Amante: withdrew 'The Mill'",
            "Julia Amante: removed 'Ben Okafor'",
        ]
    );
}

/// Issue 13: the feed printed each change's free-text message, which its writer chooses. A
/// change whose message says it founded the group while its ops submit a piece reads as what
/// the ops did, and the message is nowhere.
#[test]
fn a_lying_message_is_never_shown_the_ops_are() {
    let mut doc = founded();
    let mut draft_doc = doc.fork();
    ops::submit(
        &mut draft_doc,
        member(1),
        sid(7),
        draft("The Lie"),
        after(2),
    )
    .unwrap();
    let piece = doc::read_submission(&draft_doc, sid(7)).unwrap().unwrap();
    raw_change(as_device(&mut doc, 1), "created the group", 3, |tx| {
        doc::put_submission(tx, &piece).unwrap();
    });
    let lines = feed(&doc);
    assert_eq!(lines.last().unwrap(), "Ben Okafor: submitted 'The Lie'");
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("created the group"))
            .count(),
        1,
        "only the founding: {lines:?}"
    );
    let newest = doc::history(&doc).pop().unwrap();
    assert_eq!(newest.deeds, [Deed::Submitted(sid(7))]);
}

/// What a hostile member's raw writes did is said as it is, naming whom it touched.
#[test]
fn forbidden_writes_are_described_by_what_they_touched() {
    let mut doc = founded();
    ops::add_member(&mut doc, new_member(2), after(1)).unwrap();
    ops::submit(&mut doc, member(0), sid(1), draft("The Mill"), after(2)).unwrap();
    let bens = member(1).to_string();
    let julias = member(0).to_string();
    let sub = sid(1).to_string();

    let ben = map_at(&doc, &["members", &bens]);
    raw_change(as_device(&mut doc, 1), "edit profile", 3, |tx| {
        tx.put(&ben, "organizer", true).unwrap();
    });
    let piece = map_at(&doc, &["submissions", &sub]);
    raw_change(&mut doc, "edit profile", 4, |tx| {
        tx.put(&piece, "title", "Ben's Mill").unwrap();
    });
    let on_behalf = Critique {
        id: cid(9),
        reviewer: member(2),
        body: "Dull.".into(),
        word_count: 1,
        delivered_at: after(5),
        rating: None,
        thanked_at: None,
        tipped_at: None,
    };
    raw_change(&mut doc, "thank", 5, |tx| {
        doc::put_critique(tx, sid(1), &on_behalf).unwrap();
    });
    let devices = map_at(&doc, &["members", &julias, "devices"]);
    raw_change(&mut doc, "edit profile", 6, |tx| {
        tx.delete(&devices, device(0).to_string()).unwrap();
    });
    let cara = map_at(&doc, &["members", &member(2).to_string()]);
    raw_change(&mut doc, "edit profile", 7, |tx| {
        tx.put(&cara, "bio", "Cara is a fraud").unwrap();
        tx.put(&ROOT, "graffiti", "created the group").unwrap();
    });

    let lines = feed(&doc);
    assert_eq!(
        lines[lines.len() - 5..],
        [
            "Ben Okafor: made 'Ben Okafor' an organizer",
            "Ben Okafor: edited 'Ben's Mill'",
            "Ben Okafor: critiqued 'Ben's Mill' as 'Cara Lind'",
            "Ben Okafor: removed a device of 'Julia Amante'",
            "Ben Okafor: edited the profile of 'Cara Lind', made a change Quire does not recognise",
        ]
    );
}

#[test]
fn a_change_too_large_to_read_op_by_op_is_counted() {
    let mut doc = founded();
    raw_change(as_device(&mut doc, 1), "edit profile", 2, |tx| {
        for i in 0..300 {
            tx.put(&ROOT, format!("k{i}"), i).unwrap();
        }
    });
    assert_eq!(
        feed(&doc).last().unwrap(),
        "Ben Okafor: made 300 edits at once"
    );
}

#[test]
fn the_newest_history_describes_only_the_newest_changes() {
    let mut doc = founded();
    for i in 0..5 {
        let bio = ProfilePatch {
            bio: Some(format!("Draft {i}")),
            ..Default::default()
        };
        ops::update_profile(&mut doc, member(0), bio, after(2 + i)).unwrap();
    }
    let all = doc::history(&doc);
    assert_eq!(all.len(), 7);
    assert_eq!(doc::newest_history(&doc, 3), all[4..]);
    assert_eq!(doc::newest_history(&doc, 100), all);
    assert_eq!(doc::history_from(&doc, Some(after(5))), all[5..]);
    assert_eq!(doc::history_since(&doc, &[]), all);
}
