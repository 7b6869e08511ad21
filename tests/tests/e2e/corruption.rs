use std::path::{Path, PathBuf};

use quire_store::storage::{DataDir, StorageOptions};
use quire_store::{Group, GroupId, SubmissionId};

use crate::support::{init_group, quire, quire_ok};

/// A small group made by the CLI: three pieces compacted into the snapshot, two more in a log.
struct Pristine {
    _dir: tempfile::TempDir,
    data: PathBuf,
    group: GroupId,
    in_snapshot: Vec<SubmissionId>,
    in_log: Vec<SubmissionId>,
}

fn submit(data: &Path, title: &str) -> SubmissionId {
    let out = quire_ok(
        data,
        &["submit", "--title", title, "--genre", "ya"],
        Some("Some words here."),
    );
    out.trim().parse().unwrap()
}

fn pristine() -> Pristine {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    let group = init_group(&data);
    let in_snapshot = (0..3)
        .map(|i| submit(&data, &format!("Early {i}")))
        .collect();
    quire_ok(&data, &["compact"], None);
    let in_log = (0..2)
        .map(|i| submit(&data, &format!("Late {i}")))
        .collect();
    Pristine {
        _dir: dir,
        data,
        group,
        in_snapshot,
        in_log,
    }
}

impl Pristine {
    fn group_dir(&self) -> PathBuf {
        self.data.join("groups").join(self.group.to_string())
    }

    fn snapshot(&self) -> PathBuf {
        self.group_dir().join("snapshot.automerge")
    }

    fn logs(&self) -> Vec<PathBuf> {
        let mut logs: Vec<PathBuf> = std::fs::read_dir(self.group_dir().join("log"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .filter(|p| std::fs::metadata(p).unwrap().len() > 0)
            .collect();
        logs.sort();
        logs
    }

    /// A copy of the data dir whose file `which` (relative to the group dir) is rewritten by `damage`.
    fn damaged(&self, which: &Path, damage: impl FnOnce(&mut Vec<u8>)) -> tempfile::TempDir {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(&self.data, copy.path());
        let rel = which.strip_prefix(&self.data).unwrap();
        let target = copy.path().join(rel);
        let mut bytes = std::fs::read(&target).unwrap();
        damage(&mut bytes);
        std::fs::write(&target, bytes).unwrap();
        copy
    }

    fn open_copy(&self, copy: &Path) -> Result<Group, quire_store::Error> {
        let device = quire_tests::device_of(copy).unwrap();
        Group::open(
            &DataDir::open(copy).unwrap(),
            self.group,
            device,
            StorageOptions::default(),
        )
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn quarantined(copy: &Path, group: GroupId) -> usize {
    let dir = copy
        .join("groups")
        .join(group.to_string())
        .join("quarantine");
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn every_truncation_of_the_log_keeps_the_snapshot_and_whole_records() {
    let p = pristine();
    let log = p.logs().pop().expect("the late pieces are in a log");
    let len = std::fs::metadata(&log).unwrap().len() as usize;
    let mut kept_both = 0;
    for cut in 0..len {
        let copy = p.damaged(&log, |b| b.truncate(cut));
        let group = p
            .open_copy(copy.path())
            .expect("a torn log never stops the group opening");
        let model = group.read().unwrap();
        for id in &p.in_snapshot {
            assert!(
                model.submissions.contains_key(id),
                "cut at {cut} lost a snapshot piece"
            );
        }
        kept_both += usize::from(p.in_log.iter().all(|id| model.submissions.contains_key(id)));
        assert_eq!(
            quarantined(copy.path(), p.group),
            0,
            "a torn tail is not corruption"
        );
    }
    assert_eq!(kept_both, 0, "any cut drops at least the last record");
}

#[test]
fn every_truncation_of_the_snapshot_is_survived_and_kept_aside() {
    let p = pristine();
    let snapshot = p.snapshot();
    let len = std::fs::metadata(&snapshot).unwrap().len() as usize;
    for cut in 0..len {
        let copy = p.damaged(&snapshot, |b| b.truncate(cut));
        match p.open_copy(copy.path()) {
            Ok(group) => {
                // Whatever the logs hold is still there.
                let model = group.read();
                if let Ok(model) = model {
                    for id in &p.in_log {
                        assert!(
                            model.submissions.contains_key(id),
                            "cut at {cut} lost a log piece"
                        );
                    }
                }
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
        assert_eq!(
            quarantined(copy.path(), p.group),
            1,
            "cut at {cut}: the damaged snapshot is kept aside"
        );
    }
}

#[test]
fn single_bit_flips_never_panic_and_never_lose_the_file() {
    let p = pristine();
    let mut files = p.logs();
    files.push(p.snapshot());
    for file in files {
        let len = std::fs::metadata(&file).unwrap().len() as usize;
        for at in 0..len {
            let bit = (at % 8) as u8;
            let copy = p.damaged(&file, |b| b[at] ^= 1 << bit);
            let opened = p.open_copy(copy.path());
            if let Ok(group) = opened {
                let _ = group.read();
            }
            // The damaged file is either still in place (the flip was harmless or only the
            // tail was dropped) or moved to quarantine: never deleted.
            let rel = file.strip_prefix(&p.data).unwrap();
            let still_there = copy.path().join(rel).exists();
            assert!(
                still_there || quarantined(copy.path(), p.group) > 0,
                "flip at {at} of {} lost the file",
                file.display()
            );
        }
    }
}

#[test]
fn a_zero_length_snapshot_is_an_error_not_an_empty_group() {
    let p = pristine();
    // Without any logs, nothing is left: opening must fail and say so.
    let copy = p.damaged(&p.snapshot(), Vec::clear);
    for log in std::fs::read_dir(
        copy.path()
            .join("groups")
            .join(p.group.to_string())
            .join("log"),
    )
    .unwrap()
    {
        std::fs::remove_file(log.unwrap().path()).unwrap();
    }
    let err = p.open_copy(copy.path()).unwrap_err().to_string();
    assert!(err.contains("no readable data"), "{err}");
    assert_eq!(quarantined(copy.path(), p.group), 1);
    // The CLI reports it in one line and does not panic.
    let out = quire(copy.path(), &["queue"], None);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn garbage_in_place_of_the_snapshot_is_kept_aside_and_reported() {
    let p = pristine();
    let copy = p.damaged(&p.snapshot(), |b| {
        *b = (0..4096u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
    });
    // The founding changes were only in the snapshot: the group cannot be shown, and the
    // error says why and where the damaged file went.
    let out = quire(copy.path(), &["queue"], None);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("moved unreadable"), "{stderr}");
    assert!(stderr.contains("quarantine"), "{stderr}");
    assert_eq!(quarantined(copy.path(), p.group), 1);
}

#[test]
fn garbage_appended_to_a_log_keeps_every_acknowledged_piece() {
    let p = pristine();
    let log = p.logs().pop().unwrap();
    let copy = p.damaged(&log, |b| {
        b.extend((0..3000u32).map(|i| (i * 7919 % 251) as u8))
    });
    let out = quire(copy.path(), &["queue", "--json"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let queue: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        queue.as_array().unwrap().len(),
        5,
        "all five pieces are still there"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("warning:"), "{stderr}");
}
