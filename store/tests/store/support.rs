use automerge::{ActorId, Automerge};
use jiff::{SignedDuration, Timestamp};
use quire_store::ids::{DeviceId, GroupId, MemberId};
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
