//! This process's own log: getting one (adopting a dead process's log, or creating one) and
//! appending to it durably.
//!
//! **Getting one**, at the first persist, under a shared `compact.lock`: every log whose flock
//! can be taken belongs to no live process. The first such log that reads cleanly (after its
//! new records are applied to our document, and a torn tail is cut off with a warning) is
//! adopted. Otherwise a new one is created as `log/<random>.log.tmp`, locked, renamed to
//! `.log` and the directory fsynced, so a `.log` file is never seen unlocked while its creator
//! lives. The lock is never released: the OS drops it when the process dies.
//!
//! **Appending** writes a batch of records with one `write_all`, then `sync_data`. If either
//! fails, the file is cut back to its previous length so no partial record stays; if even that
//! fails the log is abandoned (a fresh one is taken next time, and the torn tail is dropped by
//! whoever adopts this one).

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use super::disk;
use super::error::{IoContext, StorageError};
use super::fsutil::{self, Owner};
use super::group_storage::GroupStorage;
use super::layout::{LOG_DIR, LOG_SUFFIX, LOG_TMP_SUFFIX, list_logs};
use super::load::{Pass, Settled};
use super::lock::CompactLock;

/// The log this process appends to, locked exclusively for the life of the process.
#[derive(Debug)]
pub(crate) struct OwnLog {
    name: String,
    path: PathBuf,
    file: File,
    /// Where the next record goes: the end of the last complete record.
    len: u64,
}

impl OwnLog {
    /// The log's file name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The log's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes of complete records in the log.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// The file.
    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    /// The file, to append to with [`append_durably`].
    pub(crate) fn file_mut(&mut self) -> &mut File {
        &mut self.file
    }

    /// Records that `bytes` more were appended durably.
    pub(crate) fn advance(&mut self, bytes: u64) {
        self.len += bytes;
    }

    /// Forgets records from `len` on, after they were cut back off the file.
    pub(crate) fn rewind(&mut self, len: u64) {
        self.len = len;
    }

    /// Empties the log (its changes are in a new snapshot) and syncs.
    pub(crate) fn truncate_all(&mut self) -> Result<(), StorageError> {
        self.file.truncate_to(0).at("truncate log", &self.path)?;
        self.len = 0;
        Ok(())
    }

    /// Creates a new log in `log_dir`.
    fn create(log_dir: &Path) -> Result<Self, StorageError> {
        disk::create_dir_all(log_dir).at("create log directory", log_dir)?;
        let mut last_error = None;
        for _ in 0..8 {
            let stem = fsutil::random_name();
            let tmp = log_dir.join(format!("{stem}{LOG_TMP_SUFFIX}"));
            let mut options = OpenOptions::new();
            options.read(true).write(true).create_new(true);
            let file = match disk::open(&options, &tmp) {
                Ok(file) => file,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e).at("create log", &tmp),
            };
            if fsutil::probe_owner(&file, &tmp) == Owner::Live {
                // A compaction is cleaning it up as stale; try another name.
                continue;
            }
            let name = format!("{stem}{LOG_SUFFIX}");
            let path = log_dir.join(&name);
            match disk::rename(&tmp, &path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    last_error = Some(e);
                    continue;
                }
                Err(e) => {
                    let _ = disk::remove_file(&tmp);
                    return Err(e).at("create log", &path);
                }
            }
            disk::sync_dir(log_dir).at("fsync directory", log_dir)?;
            tracing::debug!(path = %path.display(), "created log");
            return Ok(Self {
                name,
                path,
                file,
                len: 0,
            });
        }
        let source = last_error.unwrap_or_else(|| io::Error::other("no free log name"));
        Err(source).at("create log in", log_dir)
    }
}

/// Where records are appended; a trait so the failure path can be tested.
pub(crate) trait AppendTarget {
    /// Writes all of `bytes` at `offset`.
    fn write_all_at_offset(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()>;
    /// Flushes written data to disk.
    fn sync(&mut self) -> io::Result<()>;
    /// Cuts the file to `len` bytes and syncs.
    fn truncate_to(&mut self, len: u64) -> io::Result<()>;
}

impl AppendTarget for File {
    fn write_all_at_offset(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        disk::write_all_at(self, offset, bytes)
    }

    fn sync(&mut self) -> io::Result<()> {
        disk::sync_data(self)
    }

    fn truncate_to(&mut self, len: u64) -> io::Result<()> {
        disk::set_len(self, len)?;
        disk::sync_data(self)
    }
}

/// A failed append.
#[derive(Debug)]
pub(crate) struct AppendFailure {
    /// Why the write or sync failed.
    pub(crate) error: io::Error,
    /// Whether the file was cut back to its old length; if not, the log must be abandoned.
    pub(crate) rolled_back: bool,
}

/// Appends `bytes` at `len` (the end of the last complete record) and syncs; on failure cuts the
/// target back to `len`.
pub(crate) fn append_durably(
    target: &mut impl AppendTarget,
    len: u64,
    bytes: &[u8],
) -> Result<(), AppendFailure> {
    let written = target
        .write_all_at_offset(len, bytes)
        .and_then(|()| target.sync());
    match written {
        Ok(()) => Ok(()),
        Err(error) => {
            let rolled_back = target.truncate_to(len).is_ok();
            Err(AppendFailure { error, rolled_back })
        }
    }
}

impl GroupStorage {
    /// Takes this process's log out of `self`, adopting or creating one if there is none yet.
    /// The caller puts it back.
    pub(crate) fn take_own_log(&mut self) -> Result<OwnLog, StorageError> {
        if let Some(own) = self.own_log.take() {
            return Ok(own);
        }
        let log_dir = self.dir.join(LOG_DIR);
        let adopted = {
            let _lock = CompactLock::shared(&self.dir)?;
            let durable_current = self.durable_is_current();
            let mut pass = Pass::default();
            let adopted = self.adopt(&log_dir, &mut pass);
            if durable_current && !pass.unsynced {
                self.durable_heads = self.heads();
            }
            adopted?
        };
        match adopted {
            Some(own) => Ok(own),
            None => OwnLog::create(&log_dir),
        }
    }

    /// Finds a dead log, reads it to its end and takes it over.
    fn adopt(&mut self, log_dir: &Path, pass: &mut Pass) -> Result<Option<OwnLog>, StorageError> {
        for name in list_logs(log_dir)? {
            let path = log_dir.join(&name);
            let file = match fsutil::open_if_exists(&path, true) {
                Ok(Some(file)) => file,
                Ok(None) => continue,
                Err(error) => {
                    tracing::debug!(path = %path.display(), %error, "cannot open log to adopt");
                    continue;
                }
            };
            if fsutil::probe_owner(&file, &path) == Owner::Live || !fsutil::still_at(&file, &path) {
                continue;
            }
            let Settled::Dead { mut file, end, len } =
                self.read_and_settle(&name, &path, file, Owner::Dead, pass)?
            else {
                continue;
            };
            if end < len {
                if let Err(error) = file.truncate_to(end) {
                    tracing::warn!(path = %path.display(), %error, "cannot cut torn tail; not adopting");
                    continue;
                }
                tracing::warn!(path = %path.display(), dropped_bytes = len - end, "dropped torn tail of adopted log");
            }
            self.cursors.remove(&name);
            tracing::debug!(path = %path.display(), "adopted log");
            return Ok(Some(OwnLog {
                name,
                path,
                file,
                len: end,
            }));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    /// A target that accepts `room` bytes, then fails; optionally fails to truncate too.
    #[derive(Debug)]
    struct Flaky {
        data: Vec<u8>,
        room: usize,
        truncate_fails: bool,
    }

    impl AppendTarget for Flaky {
        fn write_all_at_offset(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
            self.data.truncate(offset as usize);
            let fits = bytes.len().min(self.room);
            self.data.extend_from_slice(&bytes[..fits]);
            self.room -= fits;
            if fits < bytes.len() {
                return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
            }
            Ok(())
        }
        fn sync(&mut self) -> io::Result<()> {
            Ok(())
        }
        fn truncate_to(&mut self, len: u64) -> io::Result<()> {
            if self.truncate_fails {
                return Err(io::Error::other("io error"));
            }
            self.data.truncate(len as usize);
            Ok(())
        }
    }

    #[test]
    fn failed_append_is_cut_back() {
        let mut target = Flaky {
            data: b"record1".to_vec(),
            room: 3,
            truncate_fails: false,
        };
        let failure = append_durably(&mut target, 7, b"record2").unwrap_err();
        assert!(failure.rolled_back);
        assert_eq!(failure.error.kind(), io::ErrorKind::StorageFull);
        assert_eq!(target.data, b"record1");
        target.room = 100;
        append_durably(&mut target, 7, b"record2").unwrap();
        assert_eq!(target.data, b"record1record2");
    }

    #[test]
    fn failed_cut_back_says_abandon() {
        let mut target = Flaky {
            data: Vec::new(),
            room: 2,
            truncate_fails: true,
        };
        let failure = append_durably(&mut target, 0, b"record").unwrap_err();
        assert!(!failure.rolled_back);
    }

    #[test]
    fn append_to_a_read_only_file_fails_and_leaves_it_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        fs::write(&path, b"abc").unwrap();
        let mut file = File::open(&path).unwrap();
        let failure = append_durably(&mut file, 3, b"more").unwrap_err();
        assert!(!failure.rolled_back, "set_len needs a writable handle");
        assert_eq!(fs::read(&path).unwrap(), b"abc");
    }
}
