use automerge::Automerge;
use quire_store::doc::{self, ProfilePatch};
use quire_store::ids::{CritiqueId, SubmissionId};
use quire_store::model::Role;
use quire_store::ops;
use quire_store::views::{self, LinePosition, Status};

use crate::support::*;

fn sid(n: u8) -> SubmissionId {
    SubmissionId::from_bytes([n; 16])
}

fn cid(n: u8) -> CritiqueId {
    CritiqueId::from_bytes([n; 16])
}

#[test]
fn a_new_group_has_its_founder_as_organizer() {
    let doc = group_with(1);
    let group = doc::read_group(&doc).unwrap();
    assert_eq!(group.info.name, "Tuesday Writers");
    let julia = &group.members[&member(0)];
    assert!(julia.organizer);
    assert_eq!(julia.profile.display_name, "Julia Amante");
    assert!(julia.devices.contains_key(&device(0)));
    assert_eq!(
        group.member_for_device(device(0)).map(|m| m.id),
        Some(member(0))
    );
}

#[test]
fn submit_counts_words_and_uses_the_group_default_wanted() {
    let mut doc = group_with(2);
    let sub = ops::submit(&mut doc, member(0), sid(1), draft("The Mill"), after(1)).unwrap();
    assert_eq!(sub.word_count, 9);
    assert_eq!(sub.critiques_wanted, 3);
    assert_eq!(sub.genre, "historical fiction");
    let read = doc::read_submission(&doc, sid(1)).unwrap().unwrap();
    assert_eq!(read, sub);
}

#[test]
fn submit_refuses_bad_drafts_naming_the_problem() {
    let mut doc = group_with(1);
    let me = member(0);
    let msg = refused(&mut doc, |d| {
        ops::submit(d, me, sid(1), draft("   "), after(1))
    });
    assert_eq!(msg, "title is empty");
    let mut empty = draft("The Mill");
    empty.text = " \n ".into();
    let msg = refused(&mut doc, |d| ops::submit(d, me, sid(1), empty, after(1)));
    assert_eq!(msg, "text is empty");
    let mut greedy = draft("The Mill");
    greedy.critiques_wanted = Some(40);
    let msg = refused(&mut doc, |d| ops::submit(d, me, sid(1), greedy, after(1)));
    assert_eq!(msg, "critiques wanted must be 1 to 20, not 40");
    let mut late = draft("The Mill");
    late.due_at = Some("2026-10-01".parse().unwrap());
    let msg = refused(&mut doc, |d| ops::submit(d, me, sid(1), late, after(1)));
    assert_eq!(msg, "due date 2026-10-01 is in the past");
}

#[test]
fn strangers_cannot_act() {
    let mut doc = group_with(1);
    let stranger = member(7);
    let msg = refused(&mut doc, |d| {
        ops::submit(d, stranger, sid(1), draft("X"), after(1))
    });
    assert!(msg.contains("not a current member"), "{msg}");
}

#[test]
fn claim_rules() {
    let mut doc = group_with(3);
    ops::submit(&mut doc, member(0), sid(1), draft("The Mill"), after(1)).unwrap();
    let msg = refused(&mut doc, |d| ops::claim(d, member(0), sid(1), after(2)));
    assert_eq!(
        msg,
        format!("`The Mill ({})` is your own submission", sid(1).short())
    );
    let msg = refused(&mut doc, |d| ops::claim(d, member(1), sid(9), after(2)));
    assert_eq!(
        msg,
        format!("no submission `{}` in this group", sid(9).short())
    );
    assert_eq!(
        ops::claim(&mut doc, member(1), sid(1), after(2)),
        Ok(LinePosition::Holder)
    );
    let msg = refused(&mut doc, |d| ops::claim(d, member(1), sid(1), after(3)));
    assert!(msg.starts_with("you already claimed"), "{msg}");
    let sub = doc::read_submission(&doc, sid(1)).unwrap().unwrap();
    assert_eq!(
        views::status(&sub, after(3)),
        Status::Claimed {
            taken: 1,
            wanted: 3
        }
    );
}

#[test]
fn critique_needs_a_live_claim() {
    let mut doc = group_with(3);
    ops::submit(&mut doc, member(0), sid(1), draft("The Mill"), after(1)).unwrap();
    let msg = refused(&mut doc, |d| {
        ops::critique(d, member(1), sid(1), cid(1), "Good.", after(2))
    });
    assert!(msg.starts_with("you have not claimed"), "{msg}");
    ops::claim(&mut doc, member(1), sid(1), after(2)).unwrap();
    let msg = refused(&mut doc, |d| {
        ops::critique(d, member(1), sid(1), cid(1), "  ", after(3))
    });
    assert_eq!(msg, "critique is empty");
    // Seven days later the claim has lapsed.
    let msg = refused(&mut doc, |d| {
        ops::critique(
            d,
            member(1),
            sid(1),
            cid(1),
            "Good pacing.",
            after(2 + 24 * 7),
        )
    });
    assert!(msg.contains("lapsed"), "{msg}");
    let c = ops::critique(
        &mut doc,
        member(1),
        sid(1),
        cid(1),
        "Good pacing, slow middle.",
        after(5),
    )
    .unwrap();
    assert_eq!(c.word_count, 4);
    let msg = refused(&mut doc, |d| {
        ops::critique(d, member(1), sid(1), cid(2), "More.", after(6))
    });
    assert!(msg.starts_with("you already critiqued"), "{msg}");
}

#[test]
fn claims_beyond_the_wanted_count_wait_in_line() {
    let mut doc = group_with(4);
    let mut one = draft("Flash");
    one.critiques_wanted = Some(1);
    ops::submit(&mut doc, member(0), sid(1), one, after(1)).unwrap();
    assert_eq!(
        ops::claim(&mut doc, member(1), sid(1), after(2)),
        Ok(LinePosition::Holder)
    );
    assert_eq!(
        ops::claim(&mut doc, member(2), sid(1), after(3)),
        Ok(LinePosition::Waiting(1))
    );
    assert_eq!(
        ops::claim(&mut doc, member(3), sid(1), after(4)),
        Ok(LinePosition::Waiting(2))
    );
    let msg = refused(&mut doc, |d| {
        ops::critique(d, member(2), sid(1), cid(2), "Hm.", after(5))
    });
    assert!(msg.contains("number 1 in line"), "{msg}");
    // The holder lets go: the first in line moves up.
    ops::unclaim(&mut doc, member(1), sid(1), after(6)).unwrap();
    ops::critique(
        &mut doc,
        member(2),
        sid(1),
        cid(2),
        "Lovely ending.",
        after(7),
    )
    .unwrap();
    let sub = doc::read_submission(&doc, sid(1)).unwrap().unwrap();
    assert_eq!(views::status(&sub, after(8)), Status::Critiqued);
    let msg = refused(&mut doc, |d| ops::claim(d, member(1), sid(1), after(9)));
    assert!(
        msg.contains("already has the 1 critiques it wanted"),
        "{msg}"
    );
}

#[test]
fn withdrawn_pieces_cannot_be_claimed_or_critiqued() {
    let mut doc = group_with(3);
    ops::submit(&mut doc, member(0), sid(1), draft("The Mill"), after(1)).unwrap();
    ops::claim(&mut doc, member(1), sid(1), after(2)).unwrap();
    let msg = refused(&mut doc, |d| ops::withdraw(d, member(2), sid(1), after(3)));
    assert!(msg.starts_with("only the author"), "{msg}");
    ops::withdraw(&mut doc, member(0), sid(1), after(3)).unwrap();
    let msg = refused(&mut doc, |d| ops::claim(d, member(2), sid(1), after(4)));
    assert!(msg.ends_with("was withdrawn"), "{msg}");
    let msg = refused(&mut doc, |d| {
        ops::critique(d, member(1), sid(1), cid(1), "x", after(4))
    });
    assert!(msg.ends_with("was withdrawn"), "{msg}");
    let sub = doc::read_submission(&doc, sid(1)).unwrap().unwrap();
    assert_eq!(views::status(&sub, after(4)), Status::Withdrawn);
}

#[test]
fn only_the_author_rates_and_thanks_once() {
    let mut doc = group_with(3);
    ops::submit(&mut doc, member(0), sid(1), draft("The Mill"), after(1)).unwrap();
    ops::claim(&mut doc, member(1), sid(1), after(2)).unwrap();
    ops::critique(
        &mut doc,
        member(1),
        sid(1),
        cid(1),
        "Strong voice.",
        after(3),
    )
    .unwrap();
    let msg = refused(&mut doc, |d| {
        ops::rate(d, member(0), sid(1), cid(1), 6, after(4))
    });
    assert_eq!(msg, "rating must be 1 to 5, not 6");
    let msg = refused(&mut doc, |d| {
        ops::rate(d, member(2), sid(1), cid(1), 4, after(4))
    });
    assert!(msg.starts_with("only the author"), "{msg}");
    ops::rate(&mut doc, member(0), sid(1), cid(1), 4, after(4)).unwrap();
    ops::thank(&mut doc, member(0), sid(1), cid(1), after(5)).unwrap();
    let msg = refused(&mut doc, |d| {
        ops::thank(d, member(0), sid(1), cid(1), after(6))
    });
    assert_eq!(msg, "you already thanked Ben Okafor for this critique");
    let sub = doc::read_submission(&doc, sid(1)).unwrap().unwrap();
    assert_eq!(sub.critiques[&cid(1)].rating, Some(4));
    assert_eq!(sub.critiques[&cid(1)].thanked_at, Some(after(5)));
}

#[test]
fn profile_edits_touch_only_named_fields() {
    let mut doc = group_with(2);
    let patch = ProfilePatch {
        pen_name: Some(Some("J. A. Mante".into())),
        genres: Some(["Historical Fiction".to_string(), "YA".to_string()].into()),
        roles: Some([Role::Writer, Role::BetaReader].into()),
        capacity_per_month: Some(Some(4)),
        hiatus_until: Some(Some("2027-01-10".parse().unwrap())),
        ..Default::default()
    };
    let profile = ops::update_profile(&mut doc, member(0), patch, after(1)).unwrap();
    assert_eq!(profile.display_name, "Julia Amante");
    assert_eq!(
        profile.genres.iter().cloned().collect::<Vec<_>>(),
        ["historical fiction", "ya"]
    );
    let read = doc::read_member(&doc, member(0)).unwrap().unwrap();
    assert_eq!(read.profile, profile);
    let msg = refused(&mut doc, |d| {
        let patch = ProfilePatch {
            capacity_per_month: Some(Some(500)),
            ..Default::default()
        };
        ops::update_profile(d, member(0), patch, after(2))
    });
    assert_eq!(msg, "capacity must be 0 to 100, not 500");
}

#[test]
fn genres_added_on_two_devices_both_survive() {
    let mut a = group_with(1);
    let mut b = a.fork().with_actor(actor(5));
    let add = |doc: &mut Automerge, genres: &[&str]| {
        let patch = ProfilePatch {
            genres: Some(genres.iter().map(|g| g.to_string()).collect()),
            ..Default::default()
        };
        ops::update_profile(doc, member(0), patch, after(1)).unwrap();
    };
    add(&mut a, &["ya"]);
    add(&mut b, &["horror"]);
    a.merge(&mut b).unwrap();
    let genres = doc::read_member(&a, member(0))
        .unwrap()
        .unwrap()
        .profile
        .genres;
    assert_eq!(genres.into_iter().collect::<Vec<_>>(), ["horror", "ya"]);
}

#[test]
fn ids_resolve_by_unique_prefix_and_names_by_any_case() {
    let mut doc = group_with(3);
    let a = SubmissionId::from_bytes([0xab; 16]);
    let b = SubmissionId::from_bytes([0xac; 16]);
    ops::submit(&mut doc, member(0), a, draft("One"), after(1)).unwrap();
    ops::submit(&mut doc, member(1), b, draft("Two"), after(1)).unwrap();
    assert_eq!(ops::resolve_submission(&doc, "abab"), Ok(a));
    let err = ops::resolve_submission(&doc, "a").unwrap_err().to_string();
    assert!(err.starts_with("`a` matches several submissions"), "{err}");
    let err = ops::resolve_submission(&doc, "ff").unwrap_err().to_string();
    assert_eq!(err, "no submission `ff` in this group");
    let group = doc::read_group(&doc).unwrap();
    assert_eq!(ops::resolve_member(&group, "ben okafor"), Ok(member(1)));
    assert_eq!(
        ops::resolve_member(&group, &member(2).short()),
        Ok(member(2))
    );
}

#[test]
fn names_resolve_without_regard_to_accents() {
    let mut doc = group_with(2);
    let patch = ProfilePatch {
        display_name: Some("Tomás Herrera".into()),
        pen_name: Some(Some("Zoë Vance".into())),
        ..Default::default()
    };
    ops::update_profile(&mut doc, member(1), patch, after(1)).unwrap();
    let group = doc::read_group(&doc).unwrap();
    assert_eq!(ops::resolve_member(&group, "tomas herrera"), Ok(member(1)));
    assert_eq!(ops::resolve_member(&group, "TOMÁS  Herrera"), Ok(member(1)));
    assert_eq!(ops::resolve_member(&group, "zoe vance"), Ok(member(1)));
    let err = ops::resolve_member(&group, "tomas")
        .unwrap_err()
        .to_string();
    assert!(err.contains("tomas"), "{err}");
}

#[test]
fn a_newer_schema_is_refused() {
    use automerge::transaction::Transactable;
    let mut doc = group_with(1);
    let mut tx = doc.transaction();
    tx.put(automerge::ROOT, "schema", automerge::ScalarValue::Uint(3))
        .unwrap();
    tx.commit();
    let err = doc::read_group(&doc).unwrap_err().to_string();
    assert_eq!(
        err,
        "the group uses document schema 3, but this quire understands up to 2; upgrade quire to open it"
    );
}

#[test]
fn a_group_made_before_changes_were_signed_is_refused_with_a_clear_error() {
    use automerge::transaction::Transactable;
    let mut doc = group_with(1);
    let mut tx = doc.transaction();
    tx.put(automerge::ROOT, "schema", automerge::ScalarValue::Uint(1))
        .unwrap();
    tx.commit();
    let err = doc::read_group(&doc).unwrap_err().to_string();
    assert!(
        err.contains("made by an earlier quire before changes were signed"),
        "{err}"
    );
    assert!(err.contains("create the group again"), "{err}");
}

#[test]
fn a_malformed_entry_is_skipped_not_fatal() {
    use automerge::ReadDoc;
    use automerge::transaction::Transactable;
    let mut doc = group_with(1);
    ops::submit(&mut doc, member(0), sid(1), draft("Good"), after(1)).unwrap();
    let subs = match doc.get(automerge::ROOT, "submissions").unwrap() {
        Some((_, id)) => id,
        None => panic!("no submissions map"),
    };
    let mut tx = doc.transaction();
    tx.put(&subs, sid(2).to_string(), "not a map").unwrap();
    tx.put(&subs, "junk-key", 5u64).unwrap();
    tx.commit();
    let group = doc::read_group(&doc).unwrap();
    assert_eq!(group.submissions.len(), 1);
    assert_eq!(group.skipped.len(), 2);
}
