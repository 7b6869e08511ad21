//! `load_chunks`: the files of a group on disk, damaged or forged, loaded as a device does at
//! start-up. A file is read strictly: what cannot be read is quarantined and the group loads
//! from the rest; nothing panics.
//!
//! Input: one mode byte, then the bytes.
//! * mode 0: the bytes as a snapshot, loaded by automerge and read as a group;
//! * mode 1: the bytes as a whole log file of a real group, opened from a data dir;
//! * mode 2: the bytes as log payloads (split at `0xff 0xff`), each framed as a valid record
//!   with a correct length and crc, so automerge's chunk parsing is reached behind the framing;
//! * mode 3: the bytes as the group's snapshot file, opened from a data dir.

use std::fs;
use std::path::{Path, PathBuf};

use automerge::{ActorId, Automerge};
use quire_store::doc;
use quire_store::ids::GroupId;
use quire_store::storage::{DataDir, StorageOptions};

use super::fixtures::{self, Input};

/// Runs one input.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.byte() % 4;
    let bytes = input.rest();
    match mode {
        0 => {
            if let Ok(doc) = Automerge::load(bytes) {
                read(&doc);
            }
        }
        1 => open_with(|group| write(&group.join("log").join("fuzz.log"), bytes)),
        2 => {
            let log = records(bytes);
            open_with(|group| write(&group.join("log").join("fuzz.log"), &log))
        }
        _ => open_with(|group| write(&group.join("snapshot.automerge"), bytes)),
    }
}

fn read(doc: &Automerge) {
    let _ = doc::read_group(doc);
    let _ = doc::current_devices(doc);
    let _ = doc::read_invites(doc, &mut Vec::new());
}

fn write(path: &Path, bytes: &[u8]) {
    fs::write(path, bytes).expect("write into the scratch data dir");
}

/// The payloads in `bytes`, each framed as a log record: `[u32 LE length][u32 LE crc32]`.
fn records(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 64);
    for payload in bytes.split(|b| *b == 0xff).filter(|p| !p.is_empty()) {
        let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&crc32(payload).to_le_bytes());
        out.extend_from_slice(payload);
    }
    out
}

/// CRC-32 (IEEE), as the log's records carry.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xedb8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

/// A scratch data dir holding the fixture group, made once per thread.
struct Scratch {
    _dir: tempfile::TempDir,
    data: DataDir,
    template: PathBuf,
}

const GROUP: GroupId = GroupId::from_bytes([9; 16]);

/// Lays the fixture group out afresh, lets `damage` change its files, opens it and reads it.
fn open_with(damage: impl FnOnce(&Path)) {
    thread_local! {
        static SCRATCH: Scratch = scratch();
    }
    SCRATCH.with(|scratch| {
        let group = scratch.data.group_path(GROUP);
        let _ = fs::remove_dir_all(&group);
        copy_dir(&scratch.template, &group);
        damage(&group);
        let actor = ActorId::from(vec![0x5e; 16]);
        if let Ok(storage) = scratch
            .data
            .open_group(GROUP, actor, StorageOptions::default())
        {
            read(storage.doc());
            let _ = storage.warnings();
        }
    });
}

fn scratch() -> Scratch {
    // In memory where there is a tmpfs: the fuzzer opens thousands of groups a second.
    let dir = tempfile::Builder::new()
        .prefix("quire-fuzz-")
        .tempdir_in(if Path::new("/dev/shm").is_dir() {
            "/dev/shm"
        } else {
            "."
        })
        .or_else(|_| tempfile::tempdir())
        .expect("a scratch directory");
    let data = DataDir::open(dir.path().join("data")).expect("a scratch data dir");
    let storage =
        fixtures::with_small_group(|doc| data.create_group(GROUP, doc, StorageOptions::default()))
            .expect("the fixture group is created");
    drop(storage);
    let template = dir.path().join("template");
    copy_dir(&data.group_path(GROUP), &template);
    Scratch {
        _dir: dir,
        data,
        template,
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("make a scratch directory");
    for entry in fs::read_dir(from).expect("list the template").flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).expect("copy the template");
        }
    }
}
