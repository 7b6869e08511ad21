//! Power loss: a workload of two writers on one data directory (edits, persists, refreshes,
//! compactions, restarts that adopt a dead log) is recorded step by step; then, for many cut
//! points and several crash states each, the directory a crashed disk could hold is rebuilt
//! and opened as the next start of the app would. Every edit acknowledged before the cut must
//! be there. See `quire_store::storage::power_loss` for the crash model.
//!
//! `QUIRE_POWER_LOSS_CUTS` sets the number of cut points (default 100) and
//! `QUIRE_POWER_LOSS_SEED` the seed, for a long run by hand:
//!
//! ```text
//! QUIRE_POWER_LOSS_CUTS=5000 cargo test -p quire-store --test store power_loss -- --nocapture
//! ```

use std::path::Path;

use quire_store::model::Rules;
use quire_store::ops::{self, NewGroup};
use quire_store::storage::power_loss::{Flavor, Journal, Recorder, Rng, SyncGate};
use quire_store::storage::{DataDir, LoadWarning, StorageOptions};
use quire_store::{Group, GroupId, SubmissionId};

use crate::support::*;

/// Random crash states per cut point, besides "everything kept" and "everything unsynced lost".
const RANDOM_STATES: usize = 4;

/// Small thresholds, so the workload compacts often.
const OPTIONS: StorageOptions = StorageOptions {
    compact_min_log_bytes: 0,
    compact_max_logs: 2,
};

/// What the workload was told is durable, and when (in journal steps).
#[derive(Debug)]
struct Acknowledged {
    journal: Journal,
    data: std::path::PathBuf,
    group: GroupId,
    /// The step count when `Group::create` returned.
    created: usize,
    /// The device key and the step count when it was returned.
    key: ([u8; 32], usize),
    /// Submissions and the step count when `act` returned `Ok` for each.
    edits: Vec<(usize, SubmissionId)>,
}

impl Acknowledged {
    /// The edits acknowledged within the first `cut` steps.
    fn edits_before(&self, cut: usize) -> impl Iterator<Item = SubmissionId> + '_ {
        self.edits
            .iter()
            .filter(move |(at, _)| *at <= cut)
            .map(|(_, id)| *id)
    }
}

/// Totals over a run.
#[derive(Debug, Default)]
struct Tally {
    cuts: usize,
    states: usize,
    states_dropping: usize,
    edits_checked: usize,
    writes_dropped: usize,
    writes_torn: usize,
    names_undone: usize,
    torn_tails: usize,
    quarantined: usize,
    lost: usize,
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn new_group() -> NewGroup {
    NewGroup {
        id: GroupId::random(),
        name: "Tuesday Writers".into(),
        description: String::new(),
        rules: Rules {
            credits: false,
            ..Rules::default()
        },
        founder: new_member(0),
    }
}

fn submit(group: &mut Group, rng: &mut Rng, n: usize) -> SubmissionId {
    let id = SubmissionId::random();
    let mut draft = draft(&format!("Chapter {n}"));
    // Some edits are big enough to cross a page.
    let most = if rng.one_in(5) { 900 } else { 60 };
    let words = 10 + rng.below(most) as usize;
    draft.text = "the mill wheel turned ".repeat(words);
    group
        .act(|doc, me| ops::submit(doc, me, id, draft, after(n as i64)))
        .unwrap();
    id
}

/// Runs the workload under a recorder in `root` and returns what was acknowledged.
fn workload(root: &Path, rng: &mut Rng, edits: usize) -> Acknowledged {
    let recorder = Recorder::start(root);
    let data = DataDir::open(root.join("data")).unwrap();
    let key = data.device_secret().unwrap();
    let key = (key, recorder.steps());
    let mut a = Group::create(&data, new_group(), OPTIONS, t0()).unwrap();
    let created = recorder.steps();
    let group = a.id();
    admit(&mut a, 1);
    let mut b = Group::open(&data, group, device(1), OPTIONS).unwrap();
    let mut acked = Vec::new();
    for n in 0..edits {
        let writer = if rng.one_in(2) { &mut a } else { &mut b };
        match rng.below(20) {
            0 => {
                writer.storage_mut().compact().unwrap();
            }
            1 => {
                writer.refresh().unwrap();
            }
            2 => {
                // A restart: the old session's log is now dead, to be adopted or compacted away.
                b = Group::open(&data, group, device(1), OPTIONS).unwrap();
            }
            3 => {
                a = Group::open(&data, group, device(0), OPTIONS).unwrap();
            }
            _ => {}
        }
        let (writer, other) = if rng.one_in(2) {
            (&mut a, &mut b)
        } else {
            (&mut b, &mut a)
        };
        if rng.one_in(3) {
            // Written before it is durable, as the sync actor does with a peer's change; the
            // other writer may read it and build an edit on it before its fsync.
            let id = writer.holding_fsync(|g| submit(g, rng, n));
            writer.write().unwrap();
            if rng.one_in(2) {
                other.refresh().unwrap();
                let built_on = submit(other, rng, n);
                acked.push((recorder.steps(), built_on));
            }
            writer.persist().unwrap();
            acked.push((recorder.steps(), id));
        } else {
            let id = submit(writer, rng, n);
            acked.push((recorder.steps(), id));
        }
    }
    drop((a, b));
    Acknowledged {
        journal: recorder.finish(),
        data: root.join("data"),
        group,
        created,
        key,
        edits: acked,
    }
}

/// Opens the crashed copy in `root` and checks every edit acknowledged before `cut`. Returns
/// the problems found (empty if none) and adds to `tally`.
fn check(root: &Path, acked: &Acknowledged, cut: usize, tally: &mut Tally) -> Vec<String> {
    let rel = acked.data.strip_prefix(acked.journal.root()).unwrap();
    let data_path = root.join(rel);
    let mut problems = Vec::new();
    let data = match DataDir::open(&data_path) {
        Ok(data) => data,
        Err(e) => return vec![format!("data directory does not open: {e}")],
    };
    if acked.key.1 <= cut {
        match data.device_secret() {
            Ok(key) if key == acked.key.0 => {}
            Ok(_) => problems.push("the device key changed".to_owned()),
            Err(e) => problems.push(format!("device key unreadable: {e}")),
        }
    }
    let group = match Group::open(&data, acked.group, device(0), StorageOptions::default()) {
        Ok(group) => group,
        Err(e) if acked.created <= cut => {
            problems.push(format!("acknowledged group does not open: {e}"));
            return problems;
        }
        // Never acknowledged: it may or may not be there.
        Err(_) => return problems,
    };
    for warning in group.warnings() {
        match warning {
            LoadWarning::TornTail { .. } => tally.torn_tails += 1,
            LoadWarning::Quarantined { .. } => {
                // Not a loss (what could be read is kept and written again), but a power cut
                // should only ever leave torn tails.
                eprintln!("power loss: cut {cut}: {warning}");
                tally.quarantined += 1;
            }
        }
    }
    let model = match group.read() {
        Ok(model) => model,
        Err(e) => {
            problems.push(format!("group does not read: {e}"));
            return problems;
        }
    };
    for id in acked.edits_before(cut) {
        tally.edits_checked += 1;
        if !model.submissions.contains_key(&id) {
            tally.lost += 1;
            problems.push(format!("acknowledged submission {id} is missing"));
        }
    }
    problems
}

#[test]
fn every_acknowledged_edit_survives_power_loss() {
    let seed = env_or("QUIRE_POWER_LOSS_SEED", 0x5eed_c0de);
    let cuts = env_or("QUIRE_POWER_LOSS_CUTS", 100) as usize;
    let mut rng = Rng::new(seed);
    let work = tempfile::tempdir().unwrap();
    let acked = workload(work.path(), &mut rng, 40);
    let journal = &acked.journal;
    assert!(
        journal.len() > 100,
        "the workload recorded {} steps",
        journal.len()
    );
    let syncs = journal.syncs();
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    let started = std::time::Instant::now();
    for c in 0..cuts {
        // Just before an fsync, just after an acknowledgement, and anywhere.
        let cut = match c % 3 {
            _ if c == 0 => journal.len(),
            0 => acked.edits[rng.below(acked.edits.len() as u64) as usize].0,
            1 => syncs[rng.below(syncs.len() as u64) as usize],
            _ => rng.up_to(journal.len()),
        };
        tally.cuts += 1;
        let flavors = [Flavor::KeepAll, Flavor::LoseAll]
            .into_iter()
            .chain(std::iter::repeat_n(Flavor::Random, RANDOM_STATES));
        for (s, flavor) in flavors.enumerate() {
            let state_seed = rng.next_u64();
            let crash = journal.crash(cut, flavor, &mut Rng::new(state_seed));
            tally.states += 1;
            tally.states_dropping += usize::from(crash.dropped.any());
            tally.writes_dropped += crash.dropped.writes;
            tally.writes_torn += crash.dropped.torn_writes;
            tally.names_undone += crash.dropped.names;
            let dir = tempfile::tempdir().unwrap();
            crash.materialize(dir.path()).unwrap();
            let problems = check(dir.path(), &acked, cut, &mut tally);
            if !problems.is_empty() && failures.len() < 5 {
                let last = journal.describe(cut.saturating_sub(1));
                failures.push(format!(
                    "cut {cut} ({last}), state {s} ({flavor:?}, seed {state_seed:#x}, \
                     dropped {:?}): {}",
                    crash.dropped,
                    problems.join("; ")
                ));
            }
        }
    }
    eprintln!("checked in {:?}", started.elapsed());
    println!(
        "power loss: seed {seed:#x}, {} steps recorded ({} writes), {} cut points, {} crash \
         states ({} dropping something), {} acknowledged edits checked, {} writes dropped, {} \
         torn, {} name changes undone, {} torn tails warned, {} files quarantined, lost: {}",
        journal.len(),
        journal.writes(),
        tally.cuts,
        tally.states,
        tally.states_dropping,
        tally.edits_checked,
        tally.writes_dropped,
        tally.writes_torn,
        tally.names_undone,
        tally.torn_tails,
        tally.quarantined,
        tally.lost
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(tally.lost, 0);
    assert_eq!(
        tally.quarantined, 0,
        "a torn write was taken for corruption"
    );
    // The simulator really drops things, so passing means something.
    assert!(tally.writes_dropped > 0 && tally.writes_torn > 0 && tally.names_undone > 0);
    assert!(tally.states_dropping * 8 > tally.states, "{tally:?}");
    assert!(tally.edits_checked > cuts, "{tally:?}");
}

/// Regression: the data directory (and `groups/` in it) was made without fsyncing its parent,
/// so a power cut could take away a group whose creation and edits had been acknowledged.
#[test]
fn a_new_data_directory_survives_power_loss() {
    let work = tempfile::tempdir().unwrap();
    let recorder = Recorder::start(work.path());
    let data = DataDir::open(work.path().join("profiles").join("data")).unwrap();
    let mut group = Group::create(&data, new_group(), OPTIONS, t0()).unwrap();
    let edit = submit(&mut group, &mut Rng::new(1), 0);
    let id = group.id();
    drop(group);
    let journal = recorder.finish();
    let crash = journal.crash(journal.len(), Flavor::LoseAll, &mut Rng::new(1));
    let dir = tempfile::tempdir().unwrap();
    crash.materialize(dir.path()).unwrap();
    let data = DataDir::open(dir.path().join("profiles").join("data")).unwrap();
    let reopened = Group::open(&data, id, device(0), StorageOptions::default()).unwrap();
    assert!(reopened.read().unwrap().submissions.contains_key(&edit));
}

/// Regression: a process read another writer's record before that writer's fsync, counted it
/// as durable, and logged only its own edit on top of it. A power cut then lost the other
/// record, and with it (a change whose dependency is missing is never applied) the edit that
/// had been acknowledged. Reading a log now fsyncs it before its records count as durable.
#[test]
fn an_edit_on_a_record_read_before_its_writer_fsynced_it_survives_power_loss() {
    let work = tempfile::tempdir().unwrap();
    let recorder = Recorder::start(work.path());
    let data = DataDir::open(work.path().join("data")).unwrap();
    // Default options: a compaction would make everything durable and hide the window.
    let options = StorageOptions::default();
    let mut a = Group::create(&data, new_group(), options, t0()).unwrap();
    admit(&mut a, 1);
    let mut b = Group::open(&data, a.id(), device(1), options).unwrap();
    let mut rng = Rng::new(1);
    submit(&mut b, &mut rng, 0);
    let theirs = SubmissionId::random();
    let gate = SyncGate::new();
    let (mine, cut) = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            gate.arm_here();
            b.act(|doc, me| ops::submit(doc, me, theirs, draft("Theirs"), after(1)))
        });
        gate.wait_until_holding();
        // B's record is written, not yet fsynced: A sees it and builds on it.
        a.refresh().unwrap();
        assert!(a.read().unwrap().submissions.contains_key(&theirs));
        let mine = submit(&mut a, &mut rng, 2);
        let cut = recorder.steps();
        gate.release();
        writer.join().unwrap().unwrap();
        (mine, cut)
    });
    let group = a.id();
    drop((a, b));
    let journal = recorder.finish();
    for flavor in [Flavor::LoseAll, Flavor::Random] {
        let crash = journal.crash(cut, flavor, &mut Rng::new(7));
        let dir = tempfile::tempdir().unwrap();
        crash.materialize(dir.path()).unwrap();
        let data = DataDir::open(dir.path().join("data")).unwrap();
        let reopened = Group::open(&data, group, device(0), StorageOptions::default()).unwrap();
        let model = reopened.read().unwrap();
        assert!(
            model.submissions.contains_key(&mine),
            "the acknowledged edit is lost ({flavor:?}, dropped {:?})",
            crash.dropped
        );
    }
}
