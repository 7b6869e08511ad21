use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use quire_store::SubmissionId;

use crate::support::{init_group, open, seed};

/// How many times to kill a writer; `QUIRE_CRASH_KILLS` raises it for long runs.
fn kills() -> usize {
    std::env::var("QUIRE_CRASH_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200)
}

struct Writer {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
}

fn spawn_writer(data: &std::path::Path, group: &str, compact_every: u64) -> Writer {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crash-writer"))
        .args([data.to_str().unwrap(), group, &compact_every.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("crash-writer starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        // Only whole lines count: a line is printed after its edit was acknowledged.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Writer { child, lines }
}

/// `Child::kill` sends SIGKILL on Unix: no chance to flush or clean up.
fn kill(writer: &mut Writer) {
    let _ = writer.child.kill();
    let _ = writer.child.wait();
}

#[test]
fn every_acknowledged_edit_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let group = init_group(data);
    let group_arg = group.to_string();
    let mut rng = fastrand::Rng::with_seed(seed());
    let kills = kills();
    let mut acked = BTreeSet::new();
    let mut compactions = 0;
    let mut killed = 0;
    while killed < kills {
        // Mostly one writer, sometimes two at once on the same group.
        let writers = if rng.u8(..4) == 0 { 2 } else { 1 };
        let mut running: Vec<Writer> = (0..writers)
            .map(|_| spawn_writer(data, &group_arg, rng.u64(3..40)))
            .collect();
        // Mostly kill once the writer is editing (its first acknowledgement is in), at a
        // random moment of its loop; sometimes blindly, while it may still be starting up.
        let mut early = Vec::new();
        if rng.u8(..5) == 0 {
            std::thread::sleep(Duration::from_micros(rng.u64(0..20_000)));
        } else {
            for w in &running {
                match w.lines.recv_timeout(Duration::from_secs(30)) {
                    Ok(line) => early.push(line),
                    Err(_) => panic!("a writer never acknowledged an edit"),
                }
            }
            std::thread::sleep(Duration::from_micros(rng.u64(0..40_000)));
        }
        for w in &mut running {
            kill(w);
            killed += 1;
        }
        let lines = running.into_iter().flat_map(|w| w.lines.into_iter());
        for line in early.into_iter().chain(lines) {
            if line == "compacted" {
                compactions += 1;
            } else {
                acked.insert(line.parse::<SubmissionId>().expect("an id per line"));
            }
        }
        if killed % 25 < writers || killed >= kills {
            check(data, group, &acked);
        }
    }
    eprintln!(
        "{killed} kills, {} acknowledged edits, {compactions} compactions acknowledged; none lost",
        acked.len()
    );
    assert!(
        !acked.is_empty(),
        "the writers never got an edit acknowledged"
    );
}

fn check(data: &std::path::Path, group: quire_store::GroupId, acked: &BTreeSet<SubmissionId>) {
    let group = open(data, group);
    let model = group.read().expect("the group reads");
    let missing: Vec<_> = acked
        .iter()
        .filter(|id| !model.submissions.contains_key(id))
        .collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    assert!(model.skipped.is_empty(), "{:?}", model.skipped);
}
