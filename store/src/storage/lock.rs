//! The group's `compact.lock`: shared while reading, exclusive while compacting.
//!
//! Readers (open, refresh, adopting a log) hold it shared, so they never see a compaction half
//! done: the snapshot replaced but the logs it absorbed not yet deleted, or the other way
//! round. Appending to one's own log takes no lock at all.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

use super::disk;
use super::error::{IoContext, StorageError};

/// The lock file's name inside the group directory.
pub(crate) const COMPACT_LOCK: &str = "compact.lock";

/// A held `compact.lock`; released when dropped (closing the file releases the flock).
#[derive(Debug)]
pub(crate) struct CompactLock {
    _file: File,
}

impl CompactLock {
    /// Waits for and takes the lock shared.
    pub(crate) fn shared(group_dir: &Path) -> Result<Self, StorageError> {
        let path = group_dir.join(COMPACT_LOCK);
        let file = open(&path).at("open lock", &path)?;
        file.lock_shared().at("lock", &path)?;
        Ok(Self { _file: file })
    }

    /// Waits for and takes the lock exclusively.
    pub(crate) fn exclusive(group_dir: &Path) -> Result<Self, StorageError> {
        let path = group_dir.join(COMPACT_LOCK);
        let file = open(&path).at("open lock", &path)?;
        file.lock().at("lock", &path)?;
        Ok(Self { _file: file })
    }
}

/// Opens the lock file read-only (so closing it is no write event for watchers), creating it if
/// it is missing.
fn open(path: &Path) -> io::Result<File> {
    match File::open(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let mut options = OpenOptions::new();
            options.write(true).create(true).truncate(false);
            disk::open(&options, path)?;
            File::open(path)
        }
        other => other,
    }
}
