//! A snapshot kept current by [`LiveSnapshot`] equals the one [`derive_snapshot`] makes from
//! scratch, after any mix of changes and passing time.
//!
//! * On the model: random edits of every kind a document can bring (claims in the future and
//!   the past, critiques with no claim, withdrawals, entries vanishing, profiles, removed
//!   members, devices shared by two members, rule changes), each reported as the live view
//!   reports it, with time moving on so claims lapse and waiting claims move up.
//! * Through the document: operations on forks of a group merged into it as a peer's
//!   changes arrive, the live view catching up and saying what changed.

use std::collections::BTreeMap;

use automerge::Automerge;
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use quire_store::exchange::activity::{Change, Deed};
use quire_store::ids::RuleChangeId;
use quire_store::live_view::{Changed, LiveView};
use quire_store::model::{
    Claim, Critique, Device, Group, GroupInfo, Member, Profile, RuleChange, Rules, Submission,
};
use quire_store::ops::{self, NewGroup, NewMember, SubmissionDraft};
use quire_store::{CritiqueId, DeviceId, GroupId, MemberId, SubmissionId};

use super::LiveSnapshot;
use crate::backend::snapshot::{GroupSnapshot, derive_snapshot};

/// A small deterministic generator (splitmix64), so every failure replays from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    fn hours(&mut self, from: i64, to: i64) -> SignedDuration {
        SignedDuration::from_hours(from + self.below((to - from) as usize) as i64)
    }
}

const GENRES: [&str; 4] = ["ya", "horror", "poetry", "romance"];

fn t0() -> Timestamp {
    Timestamp::from_second(1_800_000_000).unwrap()
}

fn member_id(i: usize) -> MemberId {
    MemberId::from_bytes([i as u8 + 1; 16])
}

fn sub_id(i: usize) -> SubmissionId {
    SubmissionId::from_bytes([i as u8 + 1; 16])
}

/// A device from a small pool, so two members sometimes share one.
fn device(i: usize) -> DeviceId {
    DeviceId::from_bytes([(i % 5) as u8 + 1; 32])
}

fn same(live: &GroupSnapshot, fresh: &GroupSnapshot, context: &str) {
    let (mut live, mut fresh) = (live.clone(), fresh.clone());
    live.derive_ms = 0.0;
    fresh.derive_ms = 0.0;
    if live == fresh {
        return;
    }
    let parts: [(&str, bool); 9] = [
        ("queue", live.queue == fresh.queue),
        ("members", live.members == fresh.members),
        ("genres", live.genres == fresh.genres),
        ("ledger", live.ledger == fresh.ledger),
        ("suggestions", live.suggestions == fresh.suggestions),
        ("activity", live.activity == fresh.activity),
        (
            "cost",
            live.next_submission_cost == fresh.next_submission_cost,
        ),
        ("my_member", live.my_member == fresh.my_member),
        ("rules", live.rules == fresh.rules),
    ];
    let differ: Vec<&str> = parts.iter().filter(|p| !p.1).map(|p| p.0).collect();
    panic!(
        "{context}: the live snapshot differs in {differ:?}\nlive: {live:#?}\nfresh: {fresh:#?}"
    );
}

fn start_member(i: usize, at: Timestamp) -> Member {
    Member {
        id: member_id(i),
        profile: Profile {
            display_name: format!("Member {i}"),
            genres: [GENRES[i % 4].to_string()].into(),
            ..Profile::default()
        },
        organizer: i == 0,
        joined_at: at,
        removed_at: None,
        devices: [(
            device(i),
            Device {
                label: "laptop".into(),
                added_at: at,
            },
        )]
        .into(),
    }
}

fn start_group(members: usize, at: Timestamp) -> Group {
    Group {
        info: GroupInfo {
            id: GroupId::from_bytes([9; 16]),
            name: "Tuesday Writers".into(),
            description: String::new(),
            created_at: at,
            created_by: member_id(0),
            rules: Rules::default(),
            rule_changes: Vec::new(),
        },
        members: (0..members)
            .map(|i| (member_id(i), start_member(i, at)))
            .collect(),
        submissions: BTreeMap::new(),
        skipped: Vec::new(),
    }
}

/// The world of the model test: a group edited directly, and the clock.
struct World {
    group: Group,
    now: Timestamp,
    history: Vec<Change>,
    critiques: usize,
}

impl World {
    fn some_member(&self, rng: &mut Rng) -> MemberId {
        // Now and then someone the roster does not know.
        member_id(rng.below(self.group.members.len() + 1))
    }

    fn some_sub(&self, rng: &mut Rng) -> Option<SubmissionId> {
        let n = self.group.submissions.len();
        (n > 0).then(|| *self.group.submissions.keys().nth(rng.below(n)).unwrap())
    }

    fn when(&self, rng: &mut Rng) -> Timestamp {
        self.now + rng.hours(-24 * 10, 24 * 3)
    }

    /// One random edit; says what it touched.
    fn edit(&mut self, rng: &mut Rng, changed: &mut Changed) {
        let now = self.now;
        match rng.below(14) {
            0 | 1 => {
                let id = sub_id(self.group.submissions.len() + rng.below(3));
                let author = self.some_member(rng);
                let sub = Submission {
                    id,
                    author,
                    title: format!("Piece {}", rng.below(100)),
                    genre: GENRES[rng.below(4)].to_string(),
                    word_count: 100,
                    text: "words".into(),
                    feedback_wanted: String::new(),
                    content_notes: String::new(),
                    submitted_at: self.when(rng),
                    due_at: rng
                        .chance(2)
                        .then(|| Date::new(2027, 1, 1 + rng.below(28) as i8).unwrap()),
                    critiques_wanted: rng.below(4) as u32,
                    withdrawn_at: None,
                    claims: BTreeMap::new(),
                    critiques: BTreeMap::new(),
                };
                self.group.submissions.insert(id, sub);
                changed.submissions.insert(id);
            }
            2..=4 => {
                let Some(id) = self.some_sub(rng) else { return };
                let who = self.some_member(rng);
                let at = self.when(rng);
                let claim = Claim {
                    at,
                    expires_at: at + rng.hours(1, 24 * 8),
                    released_at: rng.chance(5).then(|| at + rng.hours(0, 48)),
                };
                self.group
                    .submissions
                    .get_mut(&id)
                    .unwrap()
                    .claims
                    .insert(who, claim);
                changed.submissions.insert(id);
            }
            5..=7 => {
                let Some(id) = self.some_sub(rng) else { return };
                let who = self.some_member(rng);
                self.critiques += 1;
                let cid = CritiqueId::from_bytes([self.critiques as u8; 16]);
                let at = self.when(rng);
                let critique = Critique {
                    id: cid,
                    reviewer: who,
                    body: "good".into(),
                    word_count: rng.below(1000) as u32,
                    delivered_at: at,
                    rating: rng.chance(2).then(|| rng.below(5) as u8 + 1),
                    thanked_at: None,
                    tipped_at: rng.chance(3).then(|| at + rng.hours(0, 24)),
                };
                self.group
                    .submissions
                    .get_mut(&id)
                    .unwrap()
                    .critiques
                    .insert(cid, critique);
                changed.submissions.insert(id);
            }
            8 => {
                let Some(id) = self.some_sub(rng) else { return };
                let sub = self.group.submissions.get_mut(&id).unwrap();
                if rng.chance(4) {
                    self.group.submissions.remove(&id);
                } else {
                    sub.withdrawn_at = Some(now);
                }
                changed.submissions.insert(id);
            }
            9 | 10 => {
                let id = self.some_member(rng);
                let at = self.group.info.created_at;
                let i = id.as_bytes()[0] as usize - 1;
                let m = self
                    .group
                    .members
                    .entry(id)
                    .or_insert_with(|| start_member(i, at));
                match rng.below(6) {
                    0 => m.profile.display_name = format!("Name {}", rng.below(50)),
                    1 => {
                        m.profile.genres = GENRES
                            .iter()
                            .filter(|_| rng.chance(2))
                            .map(|g| g.to_string())
                            .collect()
                    }
                    2 => {
                        let today = now.to_zoned(jiff::tz::TimeZone::system()).date();
                        m.profile.hiatus_until = Some(today + rng.hours(0, 24 * 4));
                    }
                    3 => m.removed_at = Some(now),
                    4 => {
                        m.devices.insert(
                            device(rng.below(10)),
                            Device {
                                label: "phone".into(),
                                added_at: now,
                            },
                        );
                    }
                    _ => m.profile.pen_name = Some("Pen".into()),
                }
                changed.members.insert(id);
            }
            11 => {
                let n = self.group.info.rule_changes.len();
                self.group.info.rule_changes.push(RuleChange {
                    id: RuleChangeId::from_bytes([n as u8 + 1; 16]),
                    at: now + rng.hours(-2, 2),
                    by: member_id(0),
                    values: [(
                        ["tip", "credits", "submission_cost"][rng.below(3)].to_string(),
                        ["1", "2", "off", "on"][rng.below(4)].to_string(),
                    )]
                    .into(),
                });
                self.group.info.rule_changes.sort_by_key(|c| (c.at, c.id));
                changed.info = true;
            }
            _ => {
                // Time passes, nothing else.
                self.now += rng.hours(0, 24 * 3);
            }
        }
        // Every edit is a change in the history, with what its ops did.
        let deeds = match self.some_sub(rng) {
            Some(id) if rng.chance(2) => vec![Deed::Claimed(id, member_id(0))],
            _ => match self.critiques {
                0 => vec![Deed::EditedProfile(member_id(0))],
                n => {
                    let critique = CritiqueId::from_bytes([(n % 256) as u8; 16]);
                    match self.group.critique(critique) {
                        Some((sub, _)) => vec![Deed::Rated(sub.id, critique)],
                        None => vec![Deed::Unrecognised],
                    }
                }
            },
        };
        let actor = rng.below(10);
        self.history.push(Change {
            at: now,
            device: Some(device(actor)),
            deeds,
            order: (self.history.len() as u64, vec![actor as u8]),
        });
    }
}

#[test]
fn a_live_snapshot_equals_a_fresh_derive_after_random_edits_and_time() {
    for seed in 0..150u64 {
        let mut rng = Rng(seed);
        let mut world = World {
            group: start_group(3 + rng.below(4), t0()),
            now: t0() + SignedDuration::from_hours(1),
            history: Vec::new(),
            critiques: 0,
        };
        let me = (!rng.chance(6)).then(|| member_id(rng.below(3)));
        let (mut live, first) = LiveSnapshot::derive(&world.group, me, &[], world.now, 0);
        same(
            &first,
            &derive_snapshot(&world.group, me, &[], world.now, 0),
            "at start",
        );
        for step in 0..60u64 {
            let mut changed = Changed::default();
            for _ in 0..1 + rng.below(3) {
                world.edit(&mut rng, &mut changed);
            }
            let (g, h, now) = (&world.group, &world.history, world.now);
            let kept = live.update(g, &changed, me, h, now, step);
            let context = format!("seed {seed}, step {step}, after {changed:?}");
            same(&kept, &derive_snapshot(g, me, h, now, step), &context);
        }
    }
}

fn founded(members: usize) -> Automerge {
    let new = NewGroup {
        id: GroupId::from_bytes([1; 16]),
        name: "Tuesday Writers".into(),
        description: String::new(),
        rules: Rules {
            credits: true,
            submission_cost: quire_store::exchange::Credits::ZERO,
            extra_open_cost: quire_store::exchange::Credits::ZERO,
            ..Rules::default()
        },
        founder: NewMember {
            id: member_id(0),
            display_name: "Member 0".into(),
            device: device(0),
            device_label: "laptop".into(),
        },
    };
    let mut doc = ops::create_group(new, automerge::ActorId::from(vec![1u8; 16]), t0()).unwrap();
    for i in 1..members {
        let newcomer = NewMember {
            id: member_id(i),
            display_name: format!("Member {i}"),
            device: DeviceId::from_bytes([i as u8 + 100; 32]),
            device_label: "laptop".into(),
        };
        ops::add_member(&mut doc, newcomer, t0()).unwrap();
    }
    doc
}

#[test]
fn a_live_snapshot_follows_a_peers_changes_through_the_live_view() {
    for seed in 0..12u64 {
        let mut rng = Rng(seed);
        let mut doc = founded(5);
        let mut peer = doc
            .fork()
            .with_actor(automerge::ActorId::from(vec![2u8; 16]));
        let mut view = LiveView::load(&doc).unwrap();
        let me = Some(member_id(0));
        let mut now = t0() + SignedDuration::from_hours(1);
        let mut history = quire_store::doc::history(&doc);
        let mut heads = doc.get_heads();
        let (mut live, _) = LiveSnapshot::derive(view.group(), me, &history, now, 0);
        let mut subs: Vec<SubmissionId> = Vec::new();
        for step in 0..40u64 {
            now += rng.hours(0, 24 * 3);
            let who = member_id(rng.below(5));
            // The peer acts, or I do; a refused operation writes nothing.
            let target = if rng.chance(3) { &mut doc } else { &mut peer };
            let pick = subs.get(rng.below(subs.len())).copied();
            let _ = match (rng.below(6), pick) {
                (0, _) | (_, None) => {
                    let id = SubmissionId::from_bytes([subs.len() as u8 + 1; 16]);
                    let draft = SubmissionDraft {
                        title: format!("Piece {step}"),
                        genre: GENRES[rng.below(4)].into(),
                        text: "words and more words".into(),
                        critiques_wanted: Some(1 + rng.below(2) as u32),
                        ..Default::default()
                    };
                    let r = ops::submit(target, who, id, draft, now).map(|_| ());
                    if r.is_ok() {
                        subs.push(id);
                    }
                    r
                }
                (1 | 2, Some(s)) => ops::claim(target, who, s, now).map(|_| ()),
                (3, Some(s)) => {
                    let c = CritiqueId::from_bytes([step as u8 + 1; 16]);
                    ops::critique(target, who, s, c, "a fine piece of work", now).map(|_| ())
                }
                (4, Some(s)) => ops::withdraw(target, who, s, now).map(|_| ()),
                _ => {
                    let patch = quire_store::doc::ProfilePatch {
                        genres: Some([GENRES[rng.below(4)].to_string()].into()),
                        ..Default::default()
                    };
                    ops::update_profile(target, who, patch, now).map(|_| ())
                }
            };
            if rng.chance(2) {
                // The peer's changes arrive.
                doc.merge(&mut peer).unwrap();
            }
            history.extend(quire_store::doc::history_since(&doc, &heads));
            heads = doc.get_heads();
            let changed = view.catch_up(&doc).unwrap();
            let kept = live.update(view.group(), &changed, me, &history, now, step);
            let fresh = derive_snapshot(view.group(), me, &history, now, step);
            same(&kept, &fresh, &format!("seed {seed}, step {step}"));
        }
    }
}
