//! Fingerprints of a group's files: enough to tell, without loading anything, that the files
//! on disk are still exactly those a document was loaded from.
//!
//! A [`Fingerprint`] names the snapshot and every log by identity (device and inode), length
//! and modification time. Two are taken, and compared:
//!
//! * **What a [`GroupStorage`] has loaded**, from its own records: the snapshot it loaded (or
//!   wrote), each other log as it was when last read, and its own log. Never by statting the
//!   files afterwards, which could describe bytes written since. There is none while the
//!   document holds anything the files do not (changes not yet persisted, salvage pending), or
//!   while some log has bytes not read into it (a record in flight, a torn tail, damage): a
//!   log counts only when it was read to the full length it had.
//! * **What is on disk now**, by statting the snapshot and the logs under a shared
//!   `compact.lock`, so a compaction is never seen half done.
//!
//! Logs only grow, by whole records, until a compaction or an adoption cuts them (which changes
//! their length or modification time) or removes them; a new snapshot is a new file. So equal
//! fingerprints mean the files hold what was loaded, and a document loaded from them again
//! would be the same. Anything else (another process wrote, a compaction, a peer's change
//! arriving through another process) shows as a difference.
//!
//! The comparison errs one way only: a file touched without changing its content (a log cut
//! back to its length and the same bytes appended again) reads as a difference, never the other
//! way round.

use std::fs;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::{IoContext, StorageError};
use super::fsutil::Stamp;
use super::group_storage::GroupStorage;
use super::layout::{LOG_DIR, SNAPSHOT, list_logs};
use super::lock::CompactLock;

/// The files of a group as some document was loaded from them, or as they are on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// The snapshot, if there is one.
    snapshot: Option<Stamp>,
    /// Every log, by file name, sorted.
    logs: Vec<(String, Stamp)>,
}

impl Fingerprint {
    /// Stats the group in `dir` as it is now, without reading any file.
    pub(crate) fn on_disk(dir: &Path) -> Result<Fingerprint, StorageError> {
        let _lock = CompactLock::shared(dir)?;
        let snapshot = stat(&dir.join(SNAPSHOT))?;
        let log_dir = dir.join(LOG_DIR);
        let mut logs = Vec::new();
        for name in list_logs(&log_dir)? {
            if let Some(stamp) = stat(&log_dir.join(&name))? {
                logs.push((name, stamp));
            }
        }
        Ok(Fingerprint { snapshot, logs })
    }
}

/// The stamp of the file at `path`; `None` if there is none.
fn stat(path: &Path) -> Result<Option<Stamp>, StorageError> {
    match fs::metadata(path) {
        Ok(meta) => Ok(Some(Stamp::of(&meta))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).at("stat", path),
    }
}

impl GroupStorage {
    /// The fingerprint of the files this document was loaded from (see the module docs), or
    /// `None` if the document differs from every set of files it could name: it holds changes
    /// not on disk yet, or some log has bytes that were not read into it.
    pub fn loaded_fingerprint(&self) -> Option<Fingerprint> {
        if self.has_unsaved_changes() {
            return None;
        }
        let mut logs = Vec::with_capacity(self.cursors.len() + 1);
        for (name, cursor) in &self.cursors {
            logs.push((name.clone(), cursor.read_to_end()?));
        }
        if let Some(own) = &self.own_log {
            let stamp = Stamp::of(&own.file().metadata().ok()?);
            if stamp.len() != own.len() {
                return None;
            }
            logs.push((own.name().to_owned(), stamp));
        }
        logs.sort_by(|a, b| a.0.cmp(&b.0));
        Some(Fingerprint {
            snapshot: self.snapshot_seen,
            logs,
        })
    }
}
