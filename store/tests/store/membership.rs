use automerge::Automerge;
use automerge::transaction::Transactable;
use jiff::Timestamp;
use quire_store::doc;
use quire_store::ids::{DeviceId, InviteHash, MemberId};
use quire_store::model::InviteKind;
use quire_store::ops::{self, InviteSpec, Joiner, Redeemed};

use crate::support::*;

/// An invite of `kind` made by `by` at `t0`, good for a day.
fn invite(doc: &mut Automerge, by: usize, n: u8, kind: InviteKind, max_uses: u32) -> InviteHash {
    let spec = InviteSpec {
        hash: invite_hash(n),
        expires_at: after(24),
        max_uses,
        kind,
    };
    ops::create_invite(doc, member(by), spec, t0()).unwrap();
    invite_hash(n)
}

/// Device `i` joining as new member `i`.
fn newcomer(i: usize) -> Joiner {
    Joiner {
        device: device(i),
        device_label: format!("laptop {i}"),
        new_member: Some((member(i), NAMES[i].into())),
    }
}

/// Another device, number `n`, of an existing member.
fn second_device(n: u8) -> Joiner {
    Joiner {
        device: DeviceId::from_bytes([n; 32]),
        device_label: "phone".into(),
        new_member: None,
    }
}

fn current(doc: &Automerge) -> Vec<(DeviceId, MemberId)> {
    doc::current_devices(doc).into_iter().collect()
}

#[test]
fn a_member_invite_adds_the_member_with_their_device() {
    let mut doc = group_with(1);
    let hash = invite(&mut doc, 0, 1, InviteKind::Member, 1);
    let read = doc::read_invite(&doc, hash).unwrap().unwrap();
    assert_eq!(read.created_by, member(0));
    assert_eq!((read.max_uses, read.uses_left()), (1, 1));

    let joined = ops::redeem_invite(&mut doc, hash, newcomer(1), after(1)).unwrap();
    assert_eq!(
        joined,
        Redeemed {
            member: member(1),
            display_name: NAMES[1].into(),
            added: true,
        }
    );
    let ben = doc::read_member(&doc, member(1)).unwrap().unwrap();
    assert!(!ben.organizer);
    assert_eq!(ben.joined_at, after(1));
    assert_eq!(ben.devices[&device(1)].label, "laptop 1");
    assert_eq!(
        doc::current_member_of_device(&doc, device(1)),
        Some(member(1))
    );
    let used = doc::read_invite(&doc, hash).unwrap().unwrap();
    assert_eq!(
        used.uses.into_iter().collect::<Vec<_>>(),
        [(device(1), after(1))]
    );
}

#[test]
fn a_device_invite_adds_a_device_to_the_member() {
    let mut doc = group_with(2);
    let hash = invite(&mut doc, 1, 1, InviteKind::Device { member: member(1) }, 1);
    let joined = ops::redeem_invite(&mut doc, hash, second_device(50), after(1)).unwrap();
    assert_eq!(joined.member, member(1));
    assert_eq!(joined.display_name, NAMES[1]);
    assert!(joined.added);
    let ben = doc::read_member(&doc, member(1)).unwrap().unwrap();
    assert_eq!(ben.devices.len(), 2);
    assert_eq!(
        doc::current_member_of_device(&doc, DeviceId::from_bytes([50; 32])),
        Some(member(1))
    );
}

#[test]
fn an_unknown_invite_is_refused() {
    let mut doc = group_with(1);
    let msg = refused(&mut doc, |d| {
        ops::redeem_invite(d, invite_hash(7), newcomer(1), after(1))
    });
    assert_eq!(
        msg,
        format!("no invite `{}` in this group", invite_hash(7).short())
    );
}

#[test]
fn an_expired_invite_is_refused_naming_the_expiry() {
    let mut doc = group_with(1);
    let hash = invite(&mut doc, 0, 1, InviteKind::Member, 1);
    let msg = refused(&mut doc, |d| {
        ops::redeem_invite(d, hash, newcomer(1), after(24))
    });
    assert_eq!(
        msg,
        format!("invite `{}` expired at {}", hash.short(), after(24))
    );
}

#[test]
fn a_used_up_invite_is_refused() {
    let mut doc = group_with(1);
    let hash = invite(&mut doc, 0, 1, InviteKind::Member, 1);
    ops::redeem_invite(&mut doc, hash, newcomer(1), after(1)).unwrap();
    let msg = refused(&mut doc, |d| {
        ops::redeem_invite(d, hash, newcomer(2), after(2))
    });
    assert_eq!(
        msg,
        format!("invite `{}` has been used 1 of 1 times", hash.short())
    );
}

#[test]
fn a_retry_by_a_device_already_in_writes_nothing() {
    let mut doc = group_with(1);
    let hash = invite(&mut doc, 0, 1, InviteKind::Member, 1);
    ops::redeem_invite(&mut doc, hash, newcomer(1), after(1)).unwrap();
    let heads = doc.get_heads();
    // The invite is used up by now; the retry still succeeds, as the member it made.
    let again = ops::redeem_invite(&mut doc, hash, newcomer(1), after(2)).unwrap();
    assert_eq!(
        again,
        Redeemed {
            member: member(1),
            display_name: NAMES[1].into(),
            added: false,
        }
    );
    assert_eq!(doc.get_heads(), heads);
    assert_eq!(doc::read_invite(&doc, hash).unwrap().unwrap().uses.len(), 1);
}

#[test]
fn an_invite_of_the_wrong_kind_is_refused() {
    let mut doc = group_with(2);
    let for_members = invite(&mut doc, 0, 1, InviteKind::Member, 5);
    let for_devices = invite(&mut doc, 1, 2, InviteKind::Device { member: member(1) }, 5);
    let msg = refused(&mut doc, |d| {
        ops::redeem_invite(d, for_members, second_device(50), after(1))
    });
    assert_eq!(
        msg,
        format!(
            "invite `{}` is a new-member invite, not a device invite",
            for_members.short()
        )
    );
    let msg = refused(&mut doc, |d| {
        ops::redeem_invite(d, for_devices, newcomer(2), after(1))
    });
    assert_eq!(
        msg,
        format!(
            "invite `{}` is a device invite, not a new-member invite",
            for_devices.short()
        )
    );
}

#[test]
fn making_invites_checks_who_and_what() {
    let mut doc = group_with(2);
    let spec = |n: u8, kind, expires_at: Timestamp, max_uses| InviteSpec {
        hash: invite_hash(n),
        expires_at,
        max_uses,
        kind,
    };
    let msg = refused(&mut doc, |d| {
        ops::create_invite(
            d,
            member(1),
            spec(1, InviteKind::Member, after(24), 1),
            t0(),
        )
    });
    assert_eq!(msg, "only an organizer can invite new members");
    let for_julia = InviteKind::Device { member: member(0) };
    let msg = refused(&mut doc, |d| {
        ops::create_invite(d, member(1), spec(1, for_julia, after(24), 1), t0())
    });
    assert_eq!(
        msg,
        format!(
            "you can invite only your own devices, not those of member `{}`",
            member(0).short()
        )
    );
    let msg = refused(&mut doc, |d| {
        ops::create_invite(
            d,
            member(0),
            spec(1, InviteKind::Member, after(24), 0),
            t0(),
        )
    });
    assert_eq!(msg, "max uses must be 1 to 1000, not 0");
    let msg = refused(&mut doc, |d| {
        ops::create_invite(d, member(0), spec(1, InviteKind::Member, t0(), 1), t0())
    });
    assert_eq!(msg, format!("invite expiry {} is not in the future", t0()));
    let msg = refused(&mut doc, |d| {
        ops::create_invite(
            d,
            member(7),
            spec(1, InviteKind::Member, after(24), 1),
            t0(),
        )
    });
    assert!(msg.contains("not a current member"), "{msg}");
    invite(&mut doc, 0, 1, InviteKind::Member, 1);
    let msg = refused(&mut doc, |d| {
        ops::create_invite(
            d,
            member(0),
            spec(1, InviteKind::Member, after(24), 1),
            t0(),
        )
    });
    assert_eq!(
        msg,
        format!("invite `{}` already exists", invite_hash(1).short())
    );
}

#[test]
fn removing_a_member_drops_their_devices() {
    let mut doc = group_with(3);
    let hash = invite(&mut doc, 1, 1, InviteKind::Device { member: member(1) }, 2);
    ops::redeem_invite(&mut doc, hash, second_device(50), after(1)).unwrap();
    assert_eq!(current(&doc).len(), 4);

    let msg = refused(&mut doc, |d| {
        ops::remove_member(d, member(2), member(1), after(2))
    });
    assert_eq!(msg, "only an organizer can remove members");

    let ben = ops::remove_member(&mut doc, member(0), member(1), after(2)).unwrap();
    assert_eq!(ben.removed_at, Some(after(2)));
    assert_eq!(
        doc::read_member(&doc, member(1))
            .unwrap()
            .unwrap()
            .removed_at,
        Some(after(2))
    );
    assert_eq!(
        current(&doc),
        [(device(0), member(0)), (device(2), member(2))]
    );
    assert_eq!(doc::current_member_of_device(&doc, device(1)), None);

    let msg = refused(&mut doc, |d| {
        ops::remove_member(d, member(0), member(1), after(3))
    });
    assert_eq!(
        msg,
        format!("member `{}` has been removed from this group", NAMES[1])
    );
    // Their unused device invite no longer lets anyone in.
    let msg = refused(&mut doc, |d| {
        ops::redeem_invite(d, hash, second_device(51), after(3))
    });
    assert_eq!(
        msg,
        format!("member `{}` has been removed from this group", NAMES[1])
    );
}

#[test]
fn the_last_organizer_cannot_remove_themselves() {
    let mut doc = group_with(2);
    let msg = refused(&mut doc, |d| {
        ops::remove_member(d, member(0), member(0), after(1))
    });
    assert_eq!(
        msg,
        "you are the last organizer of this group, so you cannot remove yourself"
    );
}

#[test]
fn invites_of_a_removed_organizer_stop_working() {
    let mut doc = group_with(1);
    let hash = invite(&mut doc, 0, 1, InviteKind::Member, 5);
    // Julia, the last organizer, cannot remove herself: write her removal directly.
    let mut tx = doc.transaction();
    let members = match automerge::ReadDoc::get(&tx, automerge::ROOT, "members").unwrap() {
        Some((_, obj)) => obj,
        None => panic!("no members map"),
    };
    let julia = automerge::ReadDoc::get(&tx, &members, member(0).to_string())
        .unwrap()
        .unwrap()
        .1;
    tx.put(&julia, "removed_at", after(2).as_millisecond())
        .unwrap();
    tx.commit();
    let msg = refused(&mut doc, |d| {
        ops::redeem_invite(d, hash, newcomer(3), after(3))
    });
    assert_eq!(
        msg,
        format!(
            "invite `{}` was made by `{}`, who is no longer a member",
            hash.short(),
            NAMES[0]
        )
    );
}

#[test]
fn the_fast_read_agrees_with_the_roster() {
    let mut doc = group_with(4);
    let hash = invite(&mut doc, 2, 1, InviteKind::Device { member: member(2) }, 1);
    ops::redeem_invite(&mut doc, hash, second_device(60), after(1)).unwrap();
    ops::remove_member(&mut doc, member(0), member(3), after(2)).unwrap();
    let group = doc::read_group(&doc).unwrap();
    let from_roster: Vec<_> = group
        .members
        .values()
        .filter(|m| m.is_current())
        .flat_map(|m| m.devices.keys().map(move |d| (*d, m.id)))
        .collect::<std::collections::BTreeMap<_, _>>()
        .into_iter()
        .collect();
    assert_eq!(current(&doc), from_roster);
    for (device, member) in from_roster {
        assert_eq!(doc::current_member_of_device(&doc, device), Some(member));
        assert_eq!(group.member_for_device(device).map(|m| m.id), Some(member));
    }
}

#[test]
fn a_document_without_an_invites_map_gets_one_with_its_first_invite() {
    let mut doc = group_with(1);
    let mut tx = doc.transaction();
    tx.delete(automerge::ROOT, "invites").unwrap();
    tx.commit();
    let mut skipped = Vec::new();
    assert!(doc::read_invites(&doc, &mut skipped).unwrap().is_empty());
    assert!(skipped.is_empty());
    let msg = refused(&mut doc, |d| {
        ops::redeem_invite(d, invite_hash(1), newcomer(1), after(1))
    });
    assert!(msg.starts_with("no invite"), "{msg}");
    let hash = invite(&mut doc, 0, 1, InviteKind::Member, 1);
    ops::redeem_invite(&mut doc, hash, newcomer(1), after(1)).unwrap();
    let invites = doc::read_invites(&doc, &mut skipped).unwrap();
    assert_eq!(invites[&hash].uses.len(), 1);
}

#[test]
fn unreadable_invites_are_skipped_and_reported() {
    let mut doc = group_with(1);
    let good = invite(&mut doc, 0, 1, InviteKind::Member, 1);
    let bad = invite(&mut doc, 0, 2, InviteKind::Member, 1);
    let mut tx = doc.transaction();
    let invites = automerge::ReadDoc::get(&tx, automerge::ROOT, "invites")
        .unwrap()
        .unwrap()
        .1;
    let entry = automerge::ReadDoc::get(&tx, &invites, bad.to_string())
        .unwrap()
        .unwrap()
        .1;
    tx.put(&entry, "kind", "a future kind").unwrap();
    tx.put(&invites, "not-a-hash", "junk").unwrap();
    tx.commit();
    let mut skipped = Vec::new();
    let read = doc::read_invites(&doc, &mut skipped).unwrap();
    assert_eq!(read.keys().collect::<Vec<_>>(), [&good]);
    let reasons: Vec<_> = skipped.iter().map(|s| s.to_string()).collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons
            .iter()
            .any(|r| r.contains(&bad.to_string())
                && r.contains("unknown invite kind `a future kind`")),
        "{reasons:?}"
    );
    assert!(doc::read_invite(&doc, bad).is_err());
}

/// Two devices redeem a one-use invite on two forks that have not synced: both get in, and
/// after the merge the invite shows two uses of one. The sync layer sees this through
/// `uses.len() > max_uses`; the store does not undo either join.
#[test]
fn a_one_use_invite_redeemed_on_two_forks_merges_the_same_way_on_both() {
    let mut base = group_with(1);
    let hash = invite(&mut base, 0, 1, InviteKind::Member, 1);
    let mut left = base.fork().with_actor(actor(10));
    let mut right = base.fork().with_actor(actor(11));
    ops::redeem_invite(&mut left, hash, newcomer(1), after(1)).unwrap();
    ops::redeem_invite(&mut right, hash, newcomer(2), after(1)).unwrap();
    left.merge(&mut right.clone()).unwrap();
    right.merge(&mut left.clone()).unwrap();

    assert_eq!(left.get_heads(), right.get_heads());
    let read = |d: &Automerge| {
        (
            doc::read_group(d).unwrap(),
            doc::read_invite(d, hash).unwrap().unwrap(),
            doc::current_devices(d),
        )
    };
    let (group, used, devices) = read(&left);
    assert_eq!((group.clone(), used.clone(), devices.clone()), read(&right));
    assert_eq!(used.uses.len(), 2);
    assert!(used.uses.len() > used.max_uses as usize);
    assert_eq!(used.uses_left(), 0);
    assert_eq!(devices.get(&device(1)), Some(&member(1)));
    assert_eq!(devices.get(&device(2)), Some(&member(2)));
}
