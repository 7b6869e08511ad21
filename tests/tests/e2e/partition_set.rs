//! A Jepsen-style set test: five hosts on a [`Lan`], each adding unique entries (pieces with
//! titles no one else uses) while a seeded random schedule partitions the LAN and heals it.
//! A partition is made by the bridge dropping the frames between chosen pairs of hosts: a split
//! into two or three sides, a bridge (two sides and one host that still reaches both), or a
//! random set of cut pairs. Partitions last up to 24 s, so some outlive the 12 s after which a
//! silent peer counts as gone and the heal needs a redial; others are healed before that.
//!
//! An entry is acknowledged when `quire submit` exited 0. After the final heal, within a bounded
//! wait, every acknowledged entry must be on every host, every host must have the same heads,
//! and the derived views (the queue, the roster, the activity feed, the JSON export) must read
//! the same everywhere. No host may show an entry nobody tried to add.
//!
//! Every member was invited by host 1 and, with relays and mDNS off, the others learn each
//! other's addresses only as sync tells them, so some pairs may never connect directly; the
//! test needs only the paths that exist once the network is whole again.
//!
//! `QUIRE_TEST_SEED` replays a schedule; `QUIRE_PARTITION_SECS` (default 45) sets how long the
//! schedule runs and `QUIRE_PARTITION_HOSTS` (default 5) how many hosts take part. Needs root,
//! `ip` and `nft` (nftables); without them it says so on stderr and passes, unless
//! `QUIRE_REQUIRE_NETNS=1`.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::host::{Host, connected, heads, star_in_sync, wait_for};
use crate::lan::{Lan, unavailable};
use crate::support::env_or;

/// Generous limits: CI machines are small and busy.
const START_LIMIT: Duration = Duration::from_secs(90);
/// After the final heal: the dialer's backoff is capped at 30 s, plus a dial timeout, and
/// entries may have to cross two hops.
const HEAL_LIMIT: Duration = Duration::from_secs(150);
/// The first partition outlasts the 12 s after which a silent peer counts as gone.
const FIRST_PARTITION: Duration = Duration::from_secs(20);

/// One step of the schedule: the pairs of hosts that cannot reach each other, for how long.
#[derive(Debug)]
struct Step {
    cut: Vec<(usize, usize)>,
    what: String,
    lasts: Duration,
}

/// Hosts `1..=hosts` assigned to `sides` sides at random, at least two of them non-empty.
fn sides(rng: &mut fastrand::Rng, hosts: usize, sides: usize) -> Vec<Vec<usize>> {
    loop {
        let mut split = vec![Vec::new(); sides];
        for n in 1..=hosts {
            split[rng.usize(..sides)].push(n);
        }
        split.retain(|side| !side.is_empty());
        if split.len() >= 2 {
            return split;
        }
    }
}

/// Every pair with one host in `a` and the other in `b`.
fn across(a: &[usize], b: &[usize]) -> Vec<(usize, usize)> {
    a.iter()
        .flat_map(|&x| b.iter().map(move |&y| (x.min(y), x.max(y))))
        .collect()
}

/// `{1,3}`
fn show(side: &[usize]) -> String {
    let names: Vec<String> = side.iter().map(usize::to_string).collect();
    format!("{{{}}}", names.join(","))
}

/// A random partition of `hosts`; the first kind (a split) when `split_only`.
fn partition(
    rng: &mut fastrand::Rng,
    hosts: usize,
    split_only: bool,
) -> (Vec<(usize, usize)>, String) {
    let kind = if split_only { 0 } else { rng.usize(..3) };
    match kind {
        0 => {
            let count = rng.usize(2..=3);
            let split = sides(rng, hosts, count);
            let mut cut = Vec::new();
            for (i, a) in split.iter().enumerate() {
                for b in &split[i + 1..] {
                    cut.extend(across(a, b));
                }
            }
            let shown: Vec<String> = split.iter().map(|s| show(s)).collect();
            (cut, format!("split {}", shown.join(" | ")))
        }
        1 => {
            let bridge = rng.usize(1..=hosts);
            let mut others: Vec<usize> = (1..=hosts).filter(|&n| n != bridge).collect();
            rng.shuffle(&mut others);
            let (a, b) = others.split_at(rng.usize(1..others.len()));
            let what = format!("bridge {} | {bridge} | {}", show(a), show(b));
            (across(a, b), what)
        }
        _ => {
            let pairs: Vec<(usize, usize)> = (1..=hosts)
                .flat_map(|a| (a + 1..=hosts).map(move |b| (a, b)))
                .collect();
            let mut cut: Vec<(usize, usize)> =
                pairs.iter().copied().filter(|_| rng.u8(..3) == 0).collect();
            if cut.is_empty() {
                cut.push(pairs[rng.usize(..pairs.len())]);
            }
            let shown: Vec<String> = cut.iter().map(|(a, b)| format!("{a}-{b}")).collect();
            (cut, format!("cut {}", shown.join(" ")))
        }
    }
}

/// Partitions alternating with heals for about `total`, starting with a split that outlasts the
/// idle timeout and ending with a partition: the final heal, not part of it, comes after that.
fn schedule(rng: &mut fastrand::Rng, hosts: usize, total: Duration) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut planned = Duration::ZERO;
    while steps.is_empty() || planned < total {
        if !steps.is_empty() {
            let heal = Duration::from_secs(rng.u64(2..=10));
            steps.push(Step {
                cut: Vec::new(),
                what: "heal".to_string(),
                lasts: heal,
            });
            planned += heal;
        }
        let (cut, what) = partition(rng, hosts, steps.is_empty());
        let lasts = if steps.is_empty() {
            FIRST_PARTITION
        } else {
            Duration::from_secs(rng.u64(4..=24))
        };
        steps.push(Step { cut, what, lasts });
        planned += lasts;
    }
    steps
}

/// What one host's editor did.
#[derive(Debug, Default)]
struct Edits {
    acknowledged: Vec<String>,
    failed: Vec<String>,
}

/// Adds entries with titles unique to `host` until `stop`, at random short intervals.
fn edit(host: &Host, seed: u64, stop: &AtomicBool) -> Edits {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut edits = Edits::default();
    for k in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let title = format!("h{} entry {k:04}", host.n);
        match host.try_submit(&title) {
            Ok(()) => edits.acknowledged.push(title),
            Err(e) => {
                eprintln!("partition set: {e}");
                edits.failed.push(title);
            }
        }
        std::thread::sleep(Duration::from_millis(rng.u64(100..700)));
    }
    edits
}

/// Which pairs of hosts say they are connected to each other (either side).
fn links(hosts: &[Host]) -> BTreeSet<(usize, usize)> {
    let s: Vec<Value> = hosts.iter().map(Host::status).collect();
    let mut pairs = BTreeSet::new();
    for a in 0..s.len() {
        for b in a + 1..s.len() {
            if connected(&s[a], &s[b]) || connected(&s[b], &s[a]) {
                pairs.insert((a + 1, b + 1));
            }
        }
    }
    pairs
}

fn show_pairs(pairs: &BTreeSet<(usize, usize)>) -> String {
    let shown: Vec<String> = pairs.iter().map(|(a, b)| format!("{a}-{b}")).collect();
    format!("[{}]", shown.join(" "))
}

/// `Ok` once every host has every acknowledged entry and the same heads; else what is off.
fn lagging(hosts: &[Host], acknowledged: &BTreeSet<String>) -> Result<(), String> {
    for host in hosts {
        let titles: BTreeSet<String> = host.titles().into_iter().collect();
        let missing: Vec<&String> = acknowledged.difference(&titles).collect();
        if !missing.is_empty() {
            return Err(format!(
                "host {} lacks {} acknowledged entries, e.g. {:?}",
                host.n,
                missing.len(),
                &missing[..missing.len().min(5)]
            ));
        }
    }
    let all: Vec<Value> = hosts.iter().map(|h| heads(&h.status())).collect();
    if all.iter().all(|h| *h == all[0]) {
        Ok(())
    } else {
        Err(format!("heads differ: {all:?}"))
    }
}

/// `args`'s output on every host must be the same; `what` names it in the failure.
fn same_everywhere(hosts: &[Host], what: &str, args: &[&str]) {
    let first = hosts[0].ok(args);
    for host in &hosts[1..] {
        let other = host.ok(args);
        if other != first {
            let at = first
                .lines()
                .zip(other.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(first.lines().count().min(other.lines().count()));
            panic!(
                "{what} differs between host 1 and host {} from line {}: {:?} vs {:?}",
                host.n,
                at + 1,
                first.lines().nth(at),
                other.lines().nth(at)
            );
        }
    }
}

#[test]
fn entries_added_through_random_partitions_reach_every_host() {
    let count = env_or("QUIRE_PARTITION_HOSTS", 5).max(3) as usize;
    let total = Duration::from_secs(env_or("QUIRE_PARTITION_SECS", 45));
    let lan = match Lan::new(count) {
        Ok(lan) => lan,
        Err(reason) => {
            return unavailable(
                &format!("network namespaces unavailable: {reason}"),
                "the partition set test needs root, iproute2's `ip` and nftables' `nft`",
            );
        }
    };
    if let Err(reason) = lan.firewall() {
        return unavailable(
            &format!("cannot filter the bridge: {reason}"),
            "the partition set test needs nftables' `nft`",
        );
    }
    let seed = crate::support::seed();
    let mut rng = fastrand::Rng::with_seed(seed);
    let steps = schedule(&mut rng, count, total);
    // Declared after the LAN, so dropped before it: servers die before their namespaces.
    let mut hosts: Vec<Host> = (1..=count).map(|n| Host::in_lan(&lan, n)).collect();
    let started = Instant::now();

    hosts[0].found();
    let (founder, joiners) = hosts.split_at_mut(1);
    for host in joiners {
        let name = format!("Member {}", host.n);
        host.join(&founder[0], &name);
    }
    let took = wait_for("every host is in sync with host 1", START_LIMIT, || {
        star_in_sync(&hosts)
    });
    eprintln!("partition set: {count} hosts in sync {took:?} after the last join");

    let stop = AtomicBool::new(false);
    let mut dropped = 0;
    let edits: Vec<Edits> = std::thread::scope(|scope| {
        let editors: Vec<_> = hosts
            .iter()
            .map(|host| {
                let stop = &stop;
                scope.spawn(move || edit(host, seed ^ host.n as u64, stop))
            })
            .collect();
        for (i, step) in steps.iter().enumerate() {
            let before = links(&hosts);
            lan.block(&step.cut);
            std::thread::sleep(step.lasts);
            let after = links(&hosts);
            // Cut pairs that were connected when the step began and are no longer.
            let gone: BTreeSet<(usize, usize)> = step
                .cut
                .iter()
                .copied()
                .filter(|p| before.contains(p) && !after.contains(p))
                .collect();
            dropped += gone.len();
            eprintln!(
                "partition set: step {i} {} for {:?}; links {} -> {}{}",
                step.what,
                step.lasts,
                show_pairs(&before),
                show_pairs(&after),
                if gone.is_empty() {
                    String::new()
                } else {
                    format!(", cut and gone {}", show_pairs(&gone))
                }
            );
        }
        lan.block(&[]);
        stop.store(true, Ordering::Relaxed);
        editors
            .into_iter()
            .map(|e| e.join().expect("an editor panicked"))
            .collect()
    });
    let healed = Instant::now();
    assert!(
        dropped > 0,
        "no partition ever closed a connection: the firewall did not bite"
    );

    let acknowledged: BTreeSet<String> = edits
        .iter()
        .flat_map(|e| e.acknowledged.iter().cloned())
        .collect();
    let failed: usize = edits.iter().map(|e| e.failed.len()).sum();
    let took = wait_for(
        "every host has every acknowledged entry and the same heads",
        HEAL_LIMIT,
        || lagging(&hosts, &acknowledged),
    );
    let converged = healed.elapsed();

    let attempted: BTreeSet<String> = edits
        .iter()
        .flat_map(|e| e.acknowledged.iter().chain(&e.failed).cloned())
        .collect();
    for host in &hosts {
        let titles: BTreeSet<String> = host.titles().into_iter().collect();
        let phantoms: Vec<&String> = titles.difference(&attempted).collect();
        assert!(
            phantoms.is_empty(),
            "host {} shows entries nobody added: {phantoms:?}",
            host.n
        );
    }
    same_everywhere(&hosts, "the queue", &["--json", "queue"]);
    same_everywhere(&hosts, "the roster", &["--json", "members"]);
    same_everywhere(&hosts, "the activity feed", &["--json", "activity"]);
    same_everywhere(&hosts, "the JSON export", &["export", "--format", "json"]);
    let all_heads: Vec<Value> = hosts.iter().map(|h| heads(&h.status())).collect();
    assert!(
        all_heads.iter().all(|h| *h == all_heads[0]),
        "heads differ after convergence: {all_heads:?}"
    );

    let partitions = steps.iter().filter(|s| !s.cut.is_empty()).count();
    eprintln!(
        "partition set: seed {seed}, {count} hosts, {partitions} partitions over {:?} \
         ({dropped} connections cut), {} entries tried, {} acknowledged, {failed} failed, \
         0 lost; converged {converged:?} after the final heal ({took:?} of waiting); direct \
         links at the end {}; whole test {:?}",
        steps.iter().map(|s| s.lasts).sum::<Duration>(),
        attempted.len(),
        acknowledged.len(),
        show_pairs(&links(&hosts)),
        started.elapsed()
    );
    for host in &mut hosts {
        host.stop();
    }
}
