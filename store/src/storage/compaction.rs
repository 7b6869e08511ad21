//! Compaction: folding the logs into a new snapshot.
//!
//! Under an exclusive `compact.lock` (no one is loading meanwhile):
//!
//! 1. Refresh: load the snapshot and every log to its current end, keeping the locks of the
//!    dead logs so no one adopts them while we work.
//! 2. Write the whole signature book to `signatures.tmp`, fsync it, rename it over
//!    `signatures`, fsync the group directory (see `signature_file`). Then the same for
//!    `doc.save()`, through `snapshot.automerge.tmp` to `snapshot.automerge`. The snapshot stays
//!    a plain `save()`, which is sent to joining devices as it is.
//! 3. Delete the dead logs we hold (their changes are in the snapshot) and empty our own log.
//!    Logs of live processes are left alone: they may have appended since step 1, and only
//!    their owners empty them, after compacting themselves.
//! 4. Remove `*.log.tmp` files no one holds locked (creators that died before the rename).
//!
//! If the document holds changes whose dependencies are missing (automerge queues them and a
//! snapshot cannot hold them), the dead logs are kept: they may be the only copy.
//!
//! Other processes notice the new snapshot by its inode/length/mtime and read it, then reread
//! every log from the start, since our own log was emptied and may have grown again.

use std::fs::{self, OpenOptions};
use std::io;

use automerge::ReadDoc;

use super::disk;
use super::error::{IoContext, StorageError};
use super::fsutil::{self, Owner, Stamp};
use super::group_storage::GroupStorage;
use super::layout::{
    LOG_DIR, LOG_TMP_SUFFIX, SIGNATURES, SNAPSHOT, SNAPSHOT_TMP, list_logs, list_names,
};
use super::load::LoadMode;
use super::lock::CompactLock;

/// What one [`GroupStorage::compact`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CompactStats {
    /// Snapshot, signatures and all logs, in bytes, before.
    pub bytes_before: u64,
    /// Snapshot, signatures and all logs, in bytes, after (live processes' logs included).
    pub bytes_after: u64,
    /// The size of the new snapshot.
    pub snapshot_bytes: u64,
    /// Dead processes' logs deleted.
    pub logs_removed: usize,
}

impl GroupStorage {
    /// Folds everything on disk and in memory into a new snapshot, then deletes the logs it
    /// made redundant and empties this process's own log.
    ///
    /// Changes not yet persisted are included (the snapshot makes them durable). Waits for
    /// readers in other processes to finish first.
    pub fn compact(&mut self) -> Result<CompactStats, StorageError> {
        let _lock = CompactLock::exclusive(&self.dir)?;
        let bytes_before = self.disk_bytes()?;
        let pass = self.load_pass(LoadMode::Hold)?;
        self.write_signature_file()?;
        let snapshot_bytes = self.write_snapshot()?;
        self.durable_heads = self.heads();
        self.forget_written();
        let log_dir = self.dir.join(LOG_DIR);
        let keep_dead = !self.doc.get_missing_deps(&[]).is_empty();
        let mut logs_removed = 0;
        if keep_dead {
            tracing::warn!(
                group = %self.dir.display(),
                "changes with missing dependencies; keeping dead logs"
            );
        } else {
            self.pending_salvage.clear();
            for held in &pass.held {
                match disk::remove_file(&held.path) {
                    Ok(()) => logs_removed += 1,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e).at("remove compacted log", &held.path),
                }
                self.cursors.remove(&held.name);
            }
            if logs_removed > 0 {
                disk::sync_dir(&log_dir).at("fsync directory", &log_dir)?;
            }
        }
        drop(pass);
        if let Some(mut own) = self.own_log.take() {
            match own.truncate_all() {
                Ok(()) => self.own_log = Some(own),
                Err(e) => {
                    tracing::warn!(path = %own.path().display(), error = %e, "abandoning log");
                    return Err(e);
                }
            }
        }
        self.remove_stale_tmp_logs(&log_dir);
        Ok(CompactStats {
            bytes_before,
            bytes_after: self.disk_bytes()?,
            snapshot_bytes,
            logs_removed,
        })
    }

    /// Whether the logs this process could remove have outgrown the thresholds.
    pub(crate) fn should_compact(&self) -> Result<bool, StorageError> {
        let snapshot = self.dir.join(SNAPSHOT);
        let snapshot_len = fs::metadata(&snapshot).map_or(0, |m| m.len());
        let own = self.own_log.as_ref();
        let mut bytes = own.map_or(0, |log| log.len());
        let mut count = usize::from(own.is_some());
        let log_dir = self.dir.join(LOG_DIR);
        for name in list_logs(&log_dir)? {
            if own.is_some_and(|log| log.name() == name) {
                continue;
            }
            let path = log_dir.join(&name);
            let Ok(Some(file)) = fsutil::open_if_exists(&path, false) else {
                continue;
            };
            if fsutil::probe_owner(&file, &path) == Owner::Dead {
                bytes += file.metadata().map_or(0, |m| m.len());
                count += 1;
            }
        }
        let limit = snapshot_len.max(self.options.compact_min_log_bytes);
        Ok(bytes > limit || count > self.options.compact_max_logs)
    }

    /// Writes the whole document as the new snapshot, atomically. Returns its size.
    fn write_snapshot(&mut self) -> Result<u64, StorageError> {
        let path = self.dir.join(SNAPSHOT);
        let tmp = self.dir.join(SNAPSHOT_TMP);
        let bytes = self.doc.save();
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        let written = disk::open(&options, &tmp).and_then(|mut f| {
            disk::write_all_at(&mut f, 0, &bytes)?;
            disk::sync_all(&f)
        });
        if let Err(e) = written {
            let _ = disk::remove_file(&tmp);
            return Err(e).at("write snapshot", &tmp);
        }
        disk::rename(&tmp, &path).at("replace snapshot", &path)?;
        disk::sync_dir(&self.dir).at("fsync directory", &self.dir)?;
        if let Ok(meta) = fs::metadata(&path) {
            self.snapshot_seen = Some(Stamp::of(&meta));
        }
        Ok(bytes.len() as u64)
    }

    /// The snapshot, the signatures and every log, in bytes.
    fn disk_bytes(&self) -> Result<u64, StorageError> {
        let mut total = fs::metadata(self.dir.join(SNAPSHOT)).map_or(0, |m| m.len());
        total += fs::metadata(self.dir.join(SIGNATURES)).map_or(0, |m| m.len());
        let log_dir = self.dir.join(LOG_DIR);
        for name in list_logs(&log_dir)? {
            total += fs::metadata(log_dir.join(name)).map_or(0, |m| m.len());
        }
        Ok(total)
    }

    /// Removes logs whose creator died before renaming them into place. Best effort.
    fn remove_stale_tmp_logs(&self, log_dir: &std::path::Path) {
        let Ok(names) = list_names(log_dir, LOG_TMP_SUFFIX) else {
            return;
        };
        for name in names {
            let path = log_dir.join(name);
            let Ok(Some(file)) = fsutil::open_if_exists(&path, false) else {
                continue;
            };
            if fsutil::probe_owner(&file, &path) == Owner::Dead && fsutil::still_at(&file, &path) {
                match disk::remove_file(&path) {
                    Ok(()) => tracing::debug!(path = %path.display(), "removed stale log"),
                    Err(error) => {
                        tracing::debug!(path = %path.display(), %error, "cannot remove stale log");
                    }
                }
            }
        }
    }
}
