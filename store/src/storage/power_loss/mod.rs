//! A power-loss simulator for tests (feature `power-loss-sim`): records every change the
//! storage layer makes below a directory and rebuilds what a disk could hold had the power
//! failed after any of them. `kill -9` cannot show this: the kernel still writes out what a
//! killed process left in the page cache; a power cut does not.
//!
//! # Recording
//!
//! All changes go through the storage layer's `disk` module, which reports each successful one
//! to the running [`Recorder`]s. A [`Recorder`] keeps those below its directory as a
//! [`Journal`] of steps on nodes (files and directories by identity, like inodes): make or link
//! a name, remove a name, rename, write bytes at an offset, set a length, fsync a file, fsync a
//! directory. Changes elsewhere are ignored, so tests may record in parallel.
//!
//! # The crash model
//!
//! [`Journal::crash`] replays the first `cut` steps as a POSIX file system that promises no
//! more than it must (stricter than ext4 with `data=ordered`):
//!
//! * A write or length change is durable only once its file is fsynced (`fsync` or
//!   `fdatasync`) later. Of the changes since, each file keeps a prefix in order, and the first
//!   one lost may be torn: only some of its bytes arrived, or the file's new length arrived and
//!   the missing bytes read as zeros.
//! * Making, linking, renaming or removing a name is durable only once its directory is
//!   fsynced later (both directories, for a rename from one to another). Each such change not
//!   yet durable may be undone on its own, whatever happened to the others: a new file may be
//!   missing, a rename not have happened, a removed file be back. An fsynced file whose name
//!   is not durable is missing with it.
//! * Nothing is ever reordered into the past or invented: what the disk holds is always some
//!   of what was written, and the durable part in full.
//!
//! A [`SyncGate`] holds one fsync back so a test can act between a write and its fsync, as
//! another process can.
//!
//! Each cut point has three kinds of state ([`Flavor`]): everything kept (`kill -9`), every
//! undurable step lost, and random mixes drawn from a seeded [`Rng`].

mod crash;
mod gate;
mod journal;
mod rng;
mod tree;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

pub(crate) use super::disk::Event;
pub use crash::{Crash, Dropped, Flavor};
pub use gate::SyncGate;
pub(crate) use gate::before_file_sync;
pub use journal::Journal;
pub use rng::Rng;

/// Recorders running now.
static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// Their journals.
static JOURNALS: Mutex<Vec<Arc<Mutex<Journal>>>> = Mutex::new(Vec::new());

/// Whether any recorder is running: the storage layer's only cost when none is.
pub(crate) fn recording() -> bool {
    RUNNING.load(Ordering::Relaxed) > 0
}

/// Hands `event` to every running recorder.
pub(crate) fn observe(event: Event<'_>) {
    for journal in lock(&JOURNALS).iter() {
        lock(journal).record(&event);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Records the storage layer's changes below one directory until [`finish`](Self::finish)ed
/// or dropped.
#[derive(Debug)]
pub struct Recorder {
    journal: Arc<Mutex<Journal>>,
}

impl Recorder {
    /// Starts recording changes below `root`, an existing directory taken to be durable and
    /// empty. `root` must be the path the storage layer will be given (not another spelling).
    pub fn start(root: impl Into<PathBuf>) -> Self {
        let journal = Arc::new(Mutex::new(Journal::new(root.into())));
        lock(&JOURNALS).push(Arc::clone(&journal));
        RUNNING.fetch_add(1, Ordering::Relaxed);
        Self { journal }
    }

    /// How many steps have been recorded so far: a point a crash may later be cut at.
    pub fn steps(&self) -> usize {
        lock(&self.journal).len()
    }

    /// Stops recording and returns the journal.
    pub fn finish(self) -> Journal {
        lock(&self.journal).clone()
    }

    /// The directory being recorded.
    pub fn root(&self) -> PathBuf {
        lock(&self.journal).root().to_path_buf()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        lock(&JOURNALS).retain(|j| !Arc::ptr_eq(j, &self.journal));
        RUNNING.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Journal {
    /// The recorded directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

#[cfg(test)]
mod tests {
    use std::fs::{self, OpenOptions};
    use std::path::Path;

    use super::*;
    use crate::storage::disk;

    /// The files in `dir` with their contents.
    fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut out: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let name = e.file_name().to_string_lossy().into_owned();
                (name, fs::read(e.path()).unwrap())
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn synced_changes_survive_and_unsynced_ones_may_not() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let recorder = Recorder::start(root);
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        let mut file = disk::open(&options, &root.join("a")).unwrap();
        disk::write_all_at(&mut file, 0, b"durable").unwrap();
        disk::sync_data(&file).unwrap();
        disk::sync_dir(root).unwrap();
        disk::write_all_at(&mut file, 7, b" pending").unwrap();
        disk::rename(&root.join("a"), &root.join("b")).unwrap();
        let journal = recorder.finish();
        assert_eq!(journal.len(), 6, "{}", journal.describe(5));
        let crashed = |cut, flavor, seed| {
            let crash = journal.crash(cut, flavor, &mut Rng::new(seed));
            let out = tempfile::tempdir().unwrap();
            crash.materialize(out.path()).unwrap();
            (files(out.path()), crash.dropped)
        };
        let (kept, dropped) = crashed(6, Flavor::KeepAll, 0);
        assert_eq!(kept, [("b".to_owned(), b"durable pending".to_vec())]);
        assert!(!dropped.any());
        let (lost, dropped) = crashed(6, Flavor::LoseAll, 0);
        assert_eq!(lost, [("a".to_owned(), b"durable".to_vec())]);
        assert_eq!((dropped.writes, dropped.names), (1, 1));
        // Before the directory fsync the new file may be missing altogether.
        let (early, _) = crashed(3, Flavor::LoseAll, 0);
        assert!(early.is_empty(), "{early:?}");
        let mut torn = 0;
        for seed in 0..200 {
            let (state, _) = crashed(6, Flavor::Random, seed);
            let [(name, data)] = state.as_slice() else {
                panic!("{state:?}");
            };
            assert!(name == "a" || name == "b");
            let tail = &data[7..];
            assert!(data.starts_with(b"durable") && tail.len() <= 8, "{data:?}");
            let arrived = tail.iter().take_while(|&&b| b != 0).count();
            assert_eq!(tail[..arrived], b" pending"[..arrived]);
            assert!(tail[arrived..].iter().all(|&b| b == 0), "{data:?}");
            torn += usize::from(!tail.is_empty() && tail != b" pending");
        }
        assert!(torn > 0);
    }
}
