//! A small, real group document for the harnesses to attack, the ids in it, and the keys of
//! its devices: every change in it is signed by its device and passes the group's rules, as
//! in a group made by the app.

use automerge::{ActorId, Automerge};
use iroh::SecretKey;
use jiff::{SignedDuration, Timestamp};
use quire_store::SignatureBook;
use quire_store::ids::{
    CritiqueId, DeviceId, GroupId, InviteHash, MemberId, RuleChangeId, SubmissionId,
};
use quire_store::model::InviteKind;
use quire_store::ops::{self, InviteSpec, Joiner, NewGroup, NewMember, SubmissionDraft};

use crate::verify::vouch_all;

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

/// The secret key of member `i`'s device: fixed, so that seeds and crashers replay.
pub fn secret(i: u8) -> SecretKey {
    SecretKey::from_bytes(&[i + 101; 32])
}

/// The device of member `i`: the public half of [`secret`].
pub fn device(i: u8) -> DeviceId {
    DeviceId::from_bytes(*secret(i).public().as_bytes())
}

/// The automerge actor member `i`'s device writes the fixture as: its key, then eight fixed
/// bytes where a session actor has random ones.
pub fn actor(i: u8) -> ActorId {
    let mut bytes = device(i).as_bytes().to_vec();
    bytes.extend_from_slice(&[0xf1; 8]);
    ActorId::from(bytes)
}

/// The member invite member 1 joined with, used up.
pub fn joined_with() -> InviteHash {
    InviteHash::from_bytes([0x1b; 32])
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
/// and an open invite: every map of the schema holds at least one entry. Member 0 founded it
/// and let member 1 in with an invite; each wrote as their own device, so the rules accept
/// every change (`Authority::judge_history`).
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
    let mut doc = ops::create_group(new, actor(0), t0()).expect("create group");
    let spec = InviteSpec {
        hash: joined_with(),
        expires_at: after(1),
        max_uses: 1,
        kind: InviteKind::Member,
    };
    ops::create_invite(&mut doc, member(0), spec, t0()).expect("invite member 1");
    let joiner = Joiner {
        device: device(1),
        device_label: "laptop 1".into(),
        new_member: Some((member(1), "Ben Okafor".into())),
    };
    ops::redeem_invite(&mut doc, joined_with(), joiner, t0()).expect("member 1 joins");
    let draft = SubmissionDraft {
        title: "The Mill".into(),
        genre: "Historical Fiction".into(),
        text: "The mill wheel turned all night, and nobody slept.".into(),
        ..Default::default()
    };
    ops::submit(&mut doc, member(0), submission(), draft, after(1)).expect("submit");
    doc.set_actor(actor(1));
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
    doc.set_actor(actor(0));
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

/// The signatures that vouch for `doc`'s changes by the fixture's devices: each device's
/// newest change of each of its actors, signed with its key.
pub fn signatures_of(doc: &Automerge) -> SignatureBook {
    let mut book = SignatureBook::new();
    for i in 0..2 {
        for (actor, sig) in vouch_all(doc, &SignatureBook::new(), &secret(i)) {
            book.record(actor, sig);
        }
    }
    book
}

/// The signatures of [`small_group`].
pub fn signatures() -> SignatureBook {
    with_small_group(|doc| signatures_of(&doc))
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
