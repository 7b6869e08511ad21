use std::path::Path;
use std::process::{Command, Output, Stdio};

use quire_store::storage::{DataDir, StorageOptions};
use quire_store::{Group, GroupId};

/// Runs the real `quire` binary on `data`.
pub fn quire(data: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = Command::new(quire_tests::quire_bin())
        .args(args)
        .env("QUIRE_DATA_DIR", data)
        .env_remove("QUIRE_GROUP")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("quire starts");
    let mut input = child.stdin.take().expect("piped stdin");
    let _ = input.write_all(stdin.unwrap_or("").as_bytes());
    drop(input);
    child.wait_with_output().expect("quire runs")
}

/// Runs `quire` and expects it to succeed; returns its standard output.
pub fn quire_ok(data: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let out = quire(data, args, stdin);
    assert!(
        out.status.success(),
        "quire {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// A data dir with one group made by `quire init`; returns the group id. The group runs
/// without credits, so its one member can submit piece after piece.
pub fn init_group(data: &Path) -> GroupId {
    quire_ok(
        data,
        &["init", "--name", "Tuesday Writers", "--me", "Julia Amante"],
        None,
    );
    quire_ok(data, &["rules", "--set", "credits=off"], None);
    let ids = DataDir::open(data).unwrap().group_ids().unwrap();
    assert_eq!(ids.len(), 1);
    ids[0]
}

/// Opens the group as the data dir's own device.
pub fn open(data: &Path, id: GroupId) -> Group {
    let device = quire_tests::device_of(data).unwrap();
    Group::open(
        &DataDir::open(data).unwrap(),
        id,
        device,
        StorageOptions::default(),
    )
    .expect("the group opens")
}

/// The seed for this run's randomness: `QUIRE_TEST_SEED` or the clock, printed so a failure
/// can be replayed.
pub fn seed() -> u64 {
    let seed = std::env::var("QUIRE_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(7)
        });
    eprintln!("QUIRE_TEST_SEED={seed}");
    seed
}

/// The whole number in the environment variable `name`, or `default` when it is unset or not
/// one: how long or how large a test runs, set by hand for a longer run.
pub fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}
