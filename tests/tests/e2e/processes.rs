use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use quire_store::SubmissionId;

use crate::support::{init_group, open, quire_ok};

#[test]
fn concurrent_writers_and_compactions_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    let group = init_group(&data);
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let data = data.clone();
            std::thread::spawn(move || {
                (0..8)
                    .map(|i| {
                        let title = format!("Writer {w} piece {i}");
                        let out = quire_ok(
                            &data,
                            &["submit", "--title", &title, "--genre", "ya"],
                            Some("words"),
                        );
                        out.trim().parse::<SubmissionId>().unwrap()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let compactor = {
        let data = data.clone();
        std::thread::spawn(move || {
            for _ in 0..10 {
                quire_ok(&data, &["compact"], None);
            }
        })
    };
    let acked: BTreeSet<SubmissionId> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    compactor.join().unwrap();
    assert_eq!(acked.len(), 32);
    let model = open(&data, group).read().unwrap();
    let present: BTreeSet<SubmissionId> = model.submissions.keys().copied().collect();
    assert_eq!(present, acked);
}

#[test]
fn a_running_process_sees_other_processes_changes_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    init_group(&data);
    let mut watch = Command::new(quire_tests::quire_bin())
        .arg("watch")
        .env("QUIRE_DATA_DIR", &data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, lines) = mpsc::channel();
    let stdout = watch.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send((Instant::now(), line));
        }
    });
    let (_, first) = lines
        .recv_timeout(Duration::from_secs(30))
        .expect("watch starts");
    assert!(first.starts_with("watching"), "{first}");
    for round in 0..3 {
        let title = format!("Seen by the watcher {round}");
        quire_ok(
            &data,
            &["submit", "--title", &title, "--genre", "ya"],
            Some("words"),
        );
        let acked = Instant::now();
        let deadline = acked + Duration::from_secs(10);
        let seen = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok((at, line)) if line.contains(&title) => break at,
                Ok(_) => continue,
                Err(_) => panic!("the watcher never showed `{title}`"),
            }
        };
        eprintln!(
            "round {round}: seen {:?} after the writer exited",
            seen.saturating_duration_since(acked)
        );
    }
    let _ = watch.kill();
    let _ = watch.wait();
}
