//! Soak: a dozen `quire serve` peers on loopback, all members of one group, each with an editor
//! making a CLI edit at a fixed rate (mostly new pieces, every fourth a new bio) for a while.
//! Every two seconds each peer's resident memory (`VmRSS`), open file descriptors and
//! connections (from `quire status --json`) are sampled.
//!
//! Afterwards, within a bounded wait, every acknowledged edit must be on every peer (each
//! member's last bio too) with the same heads everywhere. No peer may ever hold more connections
//! than there are other peers, its memory at the end may be at most twice what it was after the
//! warm-up plus 32 MiB (the document grows with every edit, a leak per message or connection
//! grows far faster), and its file descriptors must stay within a few dozen of the warm-up's.
//!
//! `QUIRE_SOAK_SECS` (default 35) sets how long the editors run, `QUIRE_SOAK_PEERS` (default 12)
//! how many peers, `QUIRE_SOAK_PERIOD_MS` (default 2000) each editor's time between edits.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::host::{Host, connections, heads, star_in_sync, wait_for};
use crate::support::env_or;

/// Generous limits: CI machines are small and busy.
const START_LIMIT: Duration = Duration::from_secs(120);
const CONVERGE_LIMIT: Duration = Duration::from_secs(120);
/// How often the peers are sampled.
const SAMPLE_EVERY: Duration = Duration::from_secs(2);
/// Memory a peer may gain beyond twice what it had after the warm-up.
const RSS_SLACK_KIB: u64 = 32 * 1024;
/// File descriptors a peer may open beyond what it had after the warm-up.
const FD_SLACK: usize = 48;

/// What one peer's editor did.
#[derive(Debug, Default)]
struct Edits {
    titles: Vec<String>,
    last_bio: Option<String>,
    /// Bio edits acknowledged.
    bios: usize,
    failed: Vec<String>,
}

/// Edits on `host` every `period` until `until`: three new pieces, then a new bio, and again.
fn edit(host: &Host, period: Duration, until: Instant) -> Edits {
    let mut edits = Edits::default();
    let start = Instant::now();
    for k in 0u32.. {
        let due = start + period * k;
        if due >= until {
            break;
        }
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        if k % 4 == 3 {
            let bio = format!("Peer {} wrote this at edit {k}.", host.n);
            let out = host.run(&["profile", "--bio", &bio]);
            if out.status.success() {
                edits.last_bio = Some(bio);
                edits.bios += 1;
            } else {
                edits.failed.push(format!(
                    "host {}: bio edit {k}: {}",
                    host.n,
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
        } else {
            let title = format!("p{} edit {k:05}", host.n);
            match host.try_submit(&title) {
                Ok(()) => edits.titles.push(title),
                Err(e) => edits.failed.push(e),
            }
        }
    }
    edits
}

/// `pid`'s resident set in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("cannot read the status of process {pid}: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS for process {pid}"))
}

/// How many files `pid` has open.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or_else(|e| panic!("cannot list the files of process {pid}: {e}"))
}

/// Every peer at one moment.
#[derive(Debug, Clone)]
struct Sample {
    rss_kib: Vec<u64>,
    fds: Vec<usize>,
    connections: Vec<usize>,
}

fn sample(hosts: &[Host]) -> Sample {
    Sample {
        rss_kib: hosts.iter().map(|h| rss_kib(h.server_pid())).collect(),
        fds: hosts.iter().map(|h| open_fds(h.server_pid())).collect(),
        connections: hosts.iter().map(|h| connections(&h.status())).collect(),
    }
}

/// One peer's figures over the run (RSS in KiB).
#[derive(Debug)]
struct Figures {
    n: usize,
    warm_rss: u64,
    last_rss: u64,
    max_rss: u64,
    warm_fds: usize,
    last_fds: usize,
    max_fds: usize,
    last_connections: usize,
    max_connections: usize,
}

impl Figures {
    /// Peer `i` (from 0) in the samples after the warm-up, the last one and all.
    fn of(i: usize, warm: &Sample, last: &Sample, all: &[Sample]) -> Figures {
        let every = || all.iter().chain([last]);
        Figures {
            n: i + 1,
            warm_rss: warm.rss_kib[i],
            last_rss: last.rss_kib[i],
            max_rss: every().map(|s| s.rss_kib[i]).max().unwrap_or(0),
            warm_fds: warm.fds[i],
            last_fds: last.fds[i],
            max_fds: every().map(|s| s.fds[i]).max().unwrap_or(0),
            last_connections: last.connections[i],
            max_connections: every().map(|s| s.connections[i]).max().unwrap_or(0),
        }
    }
}

/// `Ok` once every peer has every acknowledged piece and last bio, and the same heads.
fn lagging(
    hosts: &[Host],
    titles: &BTreeSet<String>,
    bios: &[(String, String)],
) -> Result<(), String> {
    for host in hosts {
        let have: BTreeSet<String> = host.titles().into_iter().collect();
        let missing = titles.difference(&have).count();
        if missing > 0 {
            return Err(format!("peer {} lacks {missing} pieces", host.n));
        }
        let members = host.json(&["members"]);
        for (name, bio) in bios {
            let seen = members
                .as_array()
                .and_then(|ms| ms.iter().find(|m| m["profile"]["display_name"] == *name))
                .map(|m| m["profile"]["bio"].clone());
            if seen.as_ref().and_then(Value::as_str) != Some(bio.as_str()) {
                return Err(format!("peer {} has {name}'s bio as {seen:?}", host.n));
            }
        }
    }
    let all: Vec<Value> = hosts.iter().map(|h| heads(&h.status())).collect();
    if all.iter().all(|h| *h == all[0]) {
        Ok(())
    } else {
        Err(format!("heads differ: {all:?}"))
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// The display name of peer `n`.
fn name(n: usize) -> String {
    if n == 1 {
        "Julia Amante".to_string()
    } else {
        format!("Member {n}")
    }
}

#[test]
fn a_dozen_peers_editing_steadily_stay_bounded_and_lose_nothing() {
    let count = env_or("QUIRE_SOAK_PEERS", 12).max(2) as usize;
    let secs = env_or("QUIRE_SOAK_SECS", 35).max(8);
    let run_for = Duration::from_secs(secs);
    let period = Duration::from_millis(env_or("QUIRE_SOAK_PERIOD_MS", 2000).max(100));
    let warm_up = run_for / 4;

    let mut hosts: Vec<Host> = (1..=count).map(Host::on_loopback).collect();
    hosts[0].found();
    let (founder, joiners) = hosts.split_at_mut(1);
    for host in joiners {
        host.join(&founder[0], &name(host.n));
    }
    let took = wait_for("every peer is in sync with peer 1", START_LIMIT, || {
        star_in_sync(&hosts)
    });
    eprintln!("soak: {count} peers in sync {took:?} after the last join");

    let start = Instant::now();
    let until = start + run_for;
    let mut samples: Vec<Sample> = Vec::new();
    let mut warm: Option<Sample> = None;
    let edits: Vec<Edits> = std::thread::scope(|scope| {
        let editors: Vec<_> = hosts
            .iter()
            .map(|host| scope.spawn(move || edit(host, period, until)))
            .collect();
        while Instant::now() < until {
            let s = sample(&hosts);
            if warm.is_none() && start.elapsed() >= warm_up {
                warm = Some(s.clone());
            }
            samples.push(s);
            std::thread::sleep(SAMPLE_EVERY.min(until.saturating_duration_since(Instant::now())));
        }
        editors
            .into_iter()
            .map(|e| e.join().expect("an editor panicked"))
            .collect()
    });
    let stopped = Instant::now();

    let failed: Vec<&String> = edits.iter().flat_map(|e| &e.failed).collect();
    assert!(failed.is_empty(), "edits failed: {failed:?}");
    let titles: BTreeSet<String> = edits.iter().flat_map(|e| e.titles.clone()).collect();
    let bios: Vec<(String, String)> = hosts
        .iter()
        .zip(&edits)
        .filter_map(|(h, e)| Some((name(h.n), e.last_bio.clone()?)))
        .collect();
    let waited = wait_for(
        "every peer has every acknowledged edit and the same heads",
        CONVERGE_LIMIT,
        || lagging(&hosts, &titles, &bios),
    );
    let converged = stopped.elapsed();
    let last = sample(&hosts);
    let warm = warm.expect("a sample after the warm-up");

    let figures: Vec<Figures> = (0..count)
        .map(|i| Figures::of(i, &warm, &last, &samples))
        .collect();
    let max_connections = figures.iter().map(|f| f.max_connections).max();
    for f in &figures {
        eprintln!(
            "soak: peer {:>2}: RSS {} after warm-up, {} at the end, {} at most; fds {} -> {} \
             (max {}); connections at the end {}",
            f.n,
            mib(f.warm_rss),
            mib(f.last_rss),
            mib(f.max_rss),
            f.warm_fds,
            f.last_fds,
            f.max_fds,
            f.last_connections
        );
    }
    let bio_edits: usize = edits.iter().map(|e| e.bios).sum();
    let range = |rss: fn(&Figures) -> u64| {
        let all = figures.iter().map(rss);
        format!(
            "{} .. {}",
            mib(all.clone().min().unwrap_or(0)),
            mib(all.max().unwrap_or(0))
        )
    };
    eprintln!(
        "soak: {count} peers, {secs} s of editing every {period:?} each, {} pieces and \
         {bio_edits} bio edits acknowledged (0 lost); RSS after warm-up {}, at the end {}; most \
         connections of one peer {}; converged {converged:?} after the editors \
         stopped ({waited:?} of waiting); {} samples",
        titles.len(),
        range(|f| f.warm_rss),
        range(|f| f.last_rss),
        max_connections.unwrap_or(0),
        samples.len()
    );

    for f in &figures {
        assert!(
            f.max_connections < count,
            "peer {} had {} connections, with only {} other peers",
            f.n,
            f.max_connections,
            count - 1
        );
        let bound = 2 * f.warm_rss + RSS_SLACK_KIB;
        assert!(
            f.last_rss <= bound,
            "peer {}: RSS grew from {} after the warm-up to {} (bound {})",
            f.n,
            mib(f.warm_rss),
            mib(f.last_rss),
            mib(bound)
        );
        assert!(
            f.max_fds <= f.warm_fds + FD_SLACK,
            "peer {}: open files grew from {} after the warm-up to {}",
            f.n,
            f.warm_fds,
            f.max_fds
        );
    }
    for host in &mut hosts {
        host.stop();
    }
}
