//! Random operations on 2–4 forks of one group, with random partial syncs along the way, then
//! every fork merges every other in its own random order. All forks must end with the same
//! heads, the same model, and the same derived views; every refused operation wrote nothing.

use automerge::Automerge;
use jiff::Timestamp;
use proptest::prelude::*;
use quire_store::doc::{self, ProfilePatch};
use quire_store::exchange::ledger::{ledger, ledgers};
use quire_store::exchange::suggest::suggestions;
use quire_store::ids::{CritiqueId, SubmissionId};
use quire_store::ops;
use quire_store::views;

use crate::support::*;

#[derive(Debug, Clone)]
enum Op {
    Submit { wanted: u32 },
    Claim { sub: usize },
    Unclaim { sub: usize },
    Critique { sub: usize, words: usize },
    Withdraw { sub: usize },
    Rate { sub: usize, rating: u8 },
    Thank { sub: usize },
    Tip { sub: usize },
    Rules { key: usize, value: &'static str },
    Genres { genres: Vec<&'static str> },
    Sync { with: usize },
}

fn op() -> impl Strategy<Value = Op> {
    let sub = 0usize..6;
    prop_oneof![
        2 => (1u32..4).prop_map(|wanted| Op::Submit { wanted }),
        4 => sub.clone().prop_map(|sub| Op::Claim { sub }),
        1 => sub.clone().prop_map(|sub| Op::Unclaim { sub }),
        3 => (sub.clone(), 1usize..400).prop_map(|(sub, words)| Op::Critique { sub, words }),
        1 => sub.clone().prop_map(|sub| Op::Withdraw { sub }),
        1 => (sub.clone(), 1u8..=5).prop_map(|(sub, rating)| Op::Rate { sub, rating }),
        1 => sub.clone().prop_map(|sub| Op::Thank { sub }),
        1 => sub.clone().prop_map(|sub| Op::Tip { sub }),
        1 => (0usize..4, proptest::sample::select(vec!["1", "2", "0.5", "off", "on", "none"]))
            .prop_map(|(key, value)| Op::Rules { key, value }),
        1 => proptest::sample::subsequence(vec!["ya", "horror", "poetry", "romance"], 0..4)
            .prop_map(|genres| Op::Genres { genres }),
        1 => (0usize..4).prop_map(|with| Op::Sync { with }),
    ]
}

/// One step: which fork, acting as which member, does what, how many minutes later.
type Step = (usize, usize, Op, i64);

fn step() -> impl Strategy<Value = Step> {
    (0usize..4, 0usize..4, op(), 0i64..3000)
}

struct World {
    forks: Vec<Automerge>,
    clock: Timestamp,
    submitted: Vec<SubmissionId>,
    critiques: u8,
    rule_changes: u8,
}

impl World {
    fn new(forks: usize) -> Self {
        let base = group_with(4);
        let forks = (0..forks)
            .map(|i| base.fork().with_actor(actor(10 + i)))
            .collect();
        Self {
            forks,
            clock: t0(),
            submitted: Vec::new(),
            critiques: 0,
            rule_changes: 0,
        }
    }

    fn apply(&mut self, (fork, who, op, minutes): Step) {
        let fork = fork % self.forks.len();
        self.clock += jiff::SignedDuration::from_mins(minutes);
        let now = self.clock;
        let me = member(who);
        let pick = |i: usize, list: &[SubmissionId]| {
            list.get(i % list.len().max(1))
                .copied()
                .unwrap_or(SubmissionId::from_bytes([0; 16]))
        };
        let submitted = self.submitted.clone();
        if let Op::Sync { with } = op {
            let with = with % self.forks.len();
            if with != fork {
                let mut other = self.forks[with].clone();
                self.forks[fork].merge(&mut other).unwrap();
            }
            return;
        }
        let doc = &mut self.forks[fork];
        let heads = doc.get_heads();
        let result: Result<(), quire_store::OpError> = match op {
            Op::Submit { wanted } => {
                let id = SubmissionId::from_bytes([submitted.len() as u8 + 1; 16]);
                let mut d = draft(&format!("Piece {}", submitted.len()));
                d.critiques_wanted = Some(wanted);
                let r = ops::submit(doc, me, id, d, now).map(|_| ());
                if r.is_ok() {
                    self.submitted.push(id);
                }
                r
            }
            Op::Claim { sub } => ops::claim(doc, me, pick(sub, &submitted), now).map(|_| ()),
            Op::Unclaim { sub } => ops::unclaim(doc, me, pick(sub, &submitted), now),
            Op::Critique { sub, words } => {
                self.critiques += 1;
                let id = CritiqueId::from_bytes([self.critiques; 16]);
                let body = "word ".repeat(words);
                ops::critique(doc, me, pick(sub, &submitted), id, &body, now).map(|_| ())
            }
            Op::Withdraw { sub } => ops::withdraw(doc, me, pick(sub, &submitted), now).map(|_| ()),
            Op::Rate { sub, rating } => rate_first(doc, me, pick(sub, &submitted), |d, s, c| {
                ops::rate(d, me, s, c, rating, now)
            }),
            Op::Thank { sub } => rate_first(doc, me, pick(sub, &submitted), |d, s, c| {
                ops::thank(d, me, s, c, now)
            }),
            Op::Tip { sub } => rate_first(doc, me, pick(sub, &submitted), |d, s, c| {
                ops::tip(d, me, s, c, now).map(|_| ())
            }),
            Op::Rules { key, value } => {
                self.rule_changes += 1;
                let id = quire_store::RuleChangeId::from_bytes([self.rule_changes; 16]);
                let key = ["claim_period_days", "credits", "tip", "max_words"][key];
                let values = vec![(key.to_string(), value.to_string())];
                ops::change_rules(doc, me, id, &values, now).map(|_| ())
            }
            Op::Genres { genres } => {
                let patch = ProfilePatch {
                    genres: Some(genres.iter().map(|g| g.to_string()).collect()),
                    ..Default::default()
                };
                ops::update_profile(doc, me, patch, now).map(|_| ())
            }
            Op::Sync { .. } => unreachable!("handled above"),
        };
        if result.is_err() {
            assert_eq!(doc.get_heads(), heads, "refused op wrote: {result:?}");
        }
    }
}

/// Applies `f` to the first critique of `sub` on this fork, if there is one.
fn rate_first(
    doc: &mut Automerge,
    _me: quire_store::MemberId,
    sub: SubmissionId,
    f: impl FnOnce(&mut Automerge, SubmissionId, CritiqueId) -> Result<(), quire_store::OpError>,
) -> Result<(), quire_store::OpError> {
    let first = doc::read_submission(&*doc, sub)
        .ok()
        .flatten()
        .and_then(|s| s.critiques.keys().next().copied());
    match first {
        Some(c) => f(doc, sub, c),
        None => Err(quire_store::OpError::NoCritique("none".into())),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn forks_converge_in_any_merge_order(
        forks in 2usize..=4,
        steps in proptest::collection::vec(step(), 1..60),
        orders in proptest::collection::vec(Just(()).prop_perturb(|_, mut rng| rng.random::<u64>()), 4),
    ) {
        let mut world = World::new(forks);
        for s in steps {
            world.apply(s);
        }
        let originals = world.forks.clone();
        let mut merged = Vec::new();
        for (i, fork) in originals.iter().enumerate() {
            let mut doc = fork.clone();
            let mut others: Vec<usize> = (0..originals.len()).filter(|j| *j != i).collect();
            // A different order for each fork, from the seed.
            let seed = orders[i % orders.len()];
            others.sort_by_key(|j| (seed.rotate_left(*j as u32 * 7)) ^ (*j as u64));
            for j in others {
                let mut other = originals[j].clone();
                doc.merge(&mut other).unwrap();
            }
            merged.push(doc);
        }
        let now = world.clock + jiff::SignedDuration::from_hours(1);
        let first = doc::read_group(&merged[0]).unwrap();
        let first_queue = views::queue(&first, now);
        let first_lines: Vec<_> = first.submissions.values().map(|s| views::claim_line(s, now)).collect();
        let first_ledgers = ledgers(&first);
        let first_next: Vec<_> = (0..4).map(|i| suggestions(&first, member(i), now)).collect();
        for doc in &merged[1..] {
            prop_assert_eq!(doc.get_heads(), merged[0].get_heads());
            let group = doc::read_group(doc).unwrap();
            prop_assert_eq!(&group, &first);
            prop_assert_eq!(views::queue(&group, now), first_queue.clone());
            let lines: Vec<_> = group.submissions.values().map(|s| views::claim_line(s, now)).collect();
            prop_assert_eq!(lines, first_lines.clone());
            prop_assert_eq!(ledgers(&group), first_ledgers.clone());
            let next: Vec<_> = (0..4).map(|i| suggestions(&group, member(i), now)).collect();
            prop_assert_eq!(next, first_next.clone());
        }
        // Every ledger explains its balance entry by entry.
        for l in first_ledgers.values() {
            let sum: quire_store::exchange::Credits = l.entries.iter().map(|e| e.amount).sum();
            prop_assert_eq!(sum, l.balance);
            // One member's ledger, derived alone, is the same as in everyone's.
            prop_assert_eq!(&ledger(&first, l.member), l);
        }
        prop_assert!(first.skipped.is_empty(), "{:?}", first.skipped);
    }
}

#[test]
fn concurrent_claims_beyond_the_slots_resolve_the_same_everywhere() {
    let mut base = group_with(4);
    let id = SubmissionId::from_bytes([1; 16]);
    let mut d = draft("Flash");
    d.critiques_wanted = Some(1);
    ops::submit(&mut base, member(0), id, d, after(1)).unwrap();
    // Three members claim the one slot on three disconnected devices.
    let mut forks: Vec<Automerge> = (1..4)
        .map(|i| base.fork().with_actor(actor(20 + i)))
        .collect();
    for (i, fork) in forks.iter_mut().enumerate() {
        let position = ops::claim(fork, member(i + 1), id, after(2 + (3 - i as i64))).unwrap();
        assert_eq!(
            position,
            views::LinePosition::Holder,
            "alone, each thinks it holds the slot"
        );
    }
    let mut a = forks[0].clone();
    let mut b = forks[2].clone();
    for f in &forks {
        a.merge(&mut f.clone()).unwrap();
    }
    for f in forks.iter().rev() {
        b.merge(&mut f.clone()).unwrap();
    }
    for doc in [&a, &b] {
        let sub = doc::read_submission(doc, id).unwrap().unwrap();
        let line = views::claim_line(&sub, after(10));
        // Member 3 claimed earliest (hour 2), then member 2 (hour 3), then member 1 (hour 4).
        assert_eq!(
            line.holders.iter().map(|(m, _)| *m).collect::<Vec<_>>(),
            [member(3)]
        );
        assert_eq!(
            line.waiting.iter().map(|(m, _)| *m).collect::<Vec<_>>(),
            [member(2), member(1)]
        );
    }
}
