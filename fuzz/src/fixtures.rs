//! A small, real group document for the harnesses to attack, and the ids in it.

use automerge::{ActorId, Automerge};
use jiff::{SignedDuration, Timestamp};
use quire_store::ids::{
    CritiqueId, DeviceId, GroupId, InviteHash, MemberId, RuleChangeId, SubmissionId,
};
use quire_store::model::InviteKind;
use quire_store::ops::{self, InviteSpec, NewGroup, NewMember, SubmissionDraft};

/// When the fixture group was made; harnesses read views at this time and a little after.
pub fn t0() -> Timestamp {
    Timestamp::from_second(1_793_000_000).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// `t0` plus `hours`.
pub fn after(hours: i64) -> Timestamp {
    t0().saturating_add(SignedDuration::from_hours(hours))
        .unwrap_or(t0())
}

/// Member `i` of the fixture group (0 founded it, 1 joined).
pub fn member(i: u8) -> MemberId {
    MemberId::from_bytes([i + 1; 16])
}

/// The device of member `i`.
pub fn device(i: u8) -> DeviceId {
    DeviceId::from_bytes([i + 101; 32])
}

/// The fixture group's one submission.
pub fn submission() -> SubmissionId {
    SubmissionId::from_bytes([0x51; 16])
}

/// Member 1's critique of it.
pub fn critique() -> CritiqueId {
    CritiqueId::from_bytes([0xc1; 16])
}

/// The fixture group's open invite.
pub fn invite() -> InviteHash {
    InviteHash::from_bytes([0x1a; 32])
}

/// The fixture group's one change of the rules.
pub fn rule_change() -> RuleChangeId {
    RuleChangeId::from_bytes([0x7c; 16])
}

fn new_member(i: u8, name: &str) -> NewMember {
    NewMember {
        id: member(i),
        display_name: name.into(),
        device: device(i),
        device_label: format!("laptop {i}"),
    }
}

/// A group with two members, a submission that member 1 claimed and critiqued, a changed rule
/// and an open invite: every map of the schema holds at least one entry.
///
/// # Panics
///
/// If the store refuses one of these ordinary operations, which is a bug of the fixture.
pub fn small_group() -> Automerge {
    let new = NewGroup {
        id: GroupId::from_bytes([9; 16]),
        name: "Tuesday Writers".into(),
        description: "Fiction, weekly.".into(),
        rules: Default::default(),
        founder: new_member(0, "Julia Amante"),
    };
    let mut doc = ops::create_group(new, ActorId::from(vec![1; 16]), t0()).expect("create group");
    ops::add_member(&mut doc, new_member(1, "Ben Okafor"), t0()).expect("add member");
    let draft = SubmissionDraft {
        title: "The Mill".into(),
        genre: "Historical Fiction".into(),
        text: "The mill wheel turned all night, and nobody slept.".into(),
        ..Default::default()
    };
    ops::submit(&mut doc, member(0), submission(), draft, after(1)).expect("submit");
    ops::claim(&mut doc, member(1), submission(), after(2)).expect("claim");
    ops::critique(
        &mut doc,
        member(1),
        submission(),
        critique(),
        "The opening pulls; the middle sags.",
        after(3),
    )
    .expect("critique");
    ops::change_rules(
        &mut doc,
        member(0),
        rule_change(),
        &[("claim_period_days".into(), "10".into())],
        after(4),
    )
    .expect("change rules");
    let spec = InviteSpec {
        hash: invite(),
        expires_at: after(24 * 7),
        max_uses: 3,
        kind: InviteKind::Member,
    };
    ops::create_invite(&mut doc, member(0), spec, after(5)).expect("create invite");
    doc
}

/// Calls `f` with a fresh copy of [`small_group`], built once per thread.
pub fn with_small_group<T>(f: impl FnOnce(Automerge) -> T) -> T {
    thread_local! {
        static DOC: Automerge = small_group();
    }
    DOC.with(|doc| f(doc.clone()))
}

/// A cursor over fuzz input that never fails: past the end it reads zeros.
#[derive(Debug)]
pub struct Input<'a> {
    bytes: &'a [u8],
}

impl<'a> Input<'a> {
    /// A cursor at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    /// Whether everything has been read.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The next byte, or 0.
    pub fn byte(&mut self) -> u8 {
        match self.bytes.split_first() {
            Some((&b, rest)) => {
                self.bytes = rest;
                b
            }
            None => 0,
        }
    }

    /// Up to `n` bytes.
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (taken, rest) = self.bytes.split_at(n.min(self.bytes.len()));
        self.bytes = rest;
        taken
    }

    /// The next eight bytes as a little-endian number (zeros past the end).
    pub fn u64(&mut self) -> u64 {
        let mut buf = [0u8; 8];
        let taken = self.take(8);
        buf[..taken.len()].copy_from_slice(taken);
        u64::from_le_bytes(buf)
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.bytes)
    }
}
