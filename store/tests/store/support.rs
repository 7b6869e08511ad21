use automerge::{ActorId, Automerge};
use jiff::{SignedDuration, Timestamp};
use quire_store::ids::{DeviceId, GroupId, InviteHash, MemberId};
use quire_store::ops::{self, NewGroup, NewMember};

pub const NAMES: [&str; 4] = ["Julia Amante", "Ben Okafor", "Cara Lind", "Dan Wu"];

/// A fixed start time, so tests never depend on the clock.
pub fn t0() -> Timestamp {
    "2026-11-02T09:00:00Z".parse().unwrap()
}

pub fn after(hours: i64) -> Timestamp {
    t0() + SignedDuration::from_hours(hours)
}

pub fn member(i: usize) -> MemberId {
    MemberId::from_bytes([i as u8 + 1; 16])
}

pub fn device(i: usize) -> DeviceId {
    DeviceId::from_bytes([i as u8 + 101; 32])
}

pub fn actor(fork: usize) -> ActorId {
    ActorId::from(vec![fork as u8 + 1; 16])
}

/// A group founded by member 0 with members 1..n added, all in one document.
pub fn group_with(n: usize) -> Automerge {
    let new = NewGroup {
        id: GroupId::from_bytes([9; 16]),
        name: "Tuesday Writers".into(),
        description: String::new(),
        rules: Default::default(),
        founder: new_member(0),
    };
    let mut doc = ops::create_group(new, actor(0), t0()).unwrap();
    for i in 1..n {
        ops::add_member(&mut doc, new_member(i), t0()).unwrap();
    }
    doc
}

pub fn new_member(i: usize) -> NewMember {
    NewMember {
        id: member(i),
        display_name: NAMES[i].into(),
        device: device(i),
        device_label: format!("laptop {i}"),
    }
}

pub fn draft(title: &str) -> ops::SubmissionDraft {
    ops::SubmissionDraft {
        title: title.into(),
        genre: "Historical Fiction".into(),
        text: "The mill wheel turned all night, and nobody slept.".into(),
        ..Default::default()
    }
}

/// Member `i` (any index) under `name`.
pub fn new_member_named(i: usize, name: &str) -> NewMember {
    NewMember {
        id: member(i),
        display_name: name.into(),
        device: device(i),
        device_label: format!("laptop {i}"),
    }
}

/// The invite whose secret hashes to `[n; 32]`.
pub fn invite_hash(n: u8) -> InviteHash {
    InviteHash::from_bytes([n; 32])
}

/// Runs `op` and checks that when it is refused the document did not change.
pub fn refused<T: std::fmt::Debug>(
    doc: &mut Automerge,
    op: impl FnOnce(&mut Automerge) -> Result<T, quire_store::OpError>,
) -> String {
    let heads = doc.get_heads();
    let err = op(doc).expect_err("operation should be refused");
    assert_eq!(doc.get_heads(), heads, "a refused operation wrote: {err}");
    err.to_string()
}

/// Lets member `i` in as the rules allow: the founder's device makes an invite and redeems it
/// for member `i`'s device, each as an operation of `group`.
pub fn admit(group: &mut quire_store::Group, i: usize) {
    let hash = invite_hash(100 + i as u8);
    let spec = ops::InviteSpec {
        hash,
        expires_at: after(24 * 365),
        max_uses: 1,
        kind: quire_store::model::InviteKind::Member,
    };
    group
        .act(|doc, me| ops::create_invite(doc, me, spec, t0()))
        .unwrap();
    let joiner = ops::Joiner {
        device: device(i),
        device_label: format!("laptop {i}"),
        new_member: Some((member(i), NAMES[i].into())),
    };
    group
        .act(|doc, _| ops::redeem_invite(doc, hash, joiner, t0()))
        .unwrap();
}
