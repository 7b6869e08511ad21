//! Noticing when other processes write to a group.
//!
//! A [`GroupWatcher`] watches the group directory recursively with `notify` and reports, after
//! a short quiet period that folds a burst of events into one, that something changed; the
//! caller then calls [`GroupStorage::refresh`]. Pure reads (open and close events, which our own
//! loading causes), `compact.lock` traffic and the view cache are ignored so a refresh does not
//! wake itself.
//! If notify reports an error, the watcher stops trusting it and simply reports a change
//! every time the timeout passes, so callers fall back to polling.
//!
//! [`GroupStorage::refresh`]: super::GroupStorage::refresh

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};

use super::error::StorageError;
use super::lock::COMPACT_LOCK;
use crate::view_cache;

/// How long events must stop arriving before a burst counts as over.
const QUIET: Duration = Duration::from_millis(50);

/// A watch on one group directory.
#[derive(Debug)]
pub struct GroupWatcher {
    dir: PathBuf,
    _watcher: RecommendedWatcher,
    events: Receiver<notify::Result<Event>>,
    /// Notify failed once; report a change at every timeout from now on.
    polling: Cell<bool>,
}

impl GroupWatcher {
    /// Starts watching `dir` and everything below it.
    pub(crate) fn new(dir: &Path) -> Result<Self, StorageError> {
        let (tx, events) = mpsc::channel();
        let to_error = |source| StorageError::Watch {
            path: dir.to_path_buf(),
            source,
        };
        let mut watcher = notify::recommended_watcher(tx).map_err(to_error)?;
        watcher
            .watch(dir, RecursiveMode::Recursive)
            .map_err(to_error)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            _watcher: watcher,
            events,
            polling: Cell::new(false),
        })
    }

    /// Waits up to `timeout` for a change on disk; `true` if there was one (a burst of changes
    /// counts once). After a notify error, sleeps the timeout and returns `true`.
    pub fn wait(&self, timeout: Duration) -> bool {
        if self.polling.get() {
            std::thread::sleep(timeout);
            return true;
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(Ok(event)) if relevant(&event) => {
                    self.settle();
                    return true;
                }
                Ok(Ok(_)) => {}
                Ok(Err(error)) => {
                    self.start_polling(&error.to_string());
                    return true;
                }
                Err(RecvTimeoutError::Timeout) => return false,
                Err(RecvTimeoutError::Disconnected) => {
                    self.start_polling("watcher stopped");
                    std::thread::sleep(left);
                    return true;
                }
            }
        }
    }

    /// Swallows the rest of a burst of events.
    fn settle(&self) {
        loop {
            match self.events.recv_timeout(QUIET) {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => return self.start_polling(&error.to_string()),
                Err(RecvTimeoutError::Timeout) => return,
                Err(RecvTimeoutError::Disconnected) => {
                    return self.start_polling("watcher stopped");
                }
            }
        }
    }

    fn start_polling(&self, error: &str) {
        tracing::warn!(dir = %self.dir.display(), error, "file watch failed; polling instead");
        self.polling.set(true);
    }
}

/// Whether an event may mean new data: not a mere open/close, not the lock file, not the view
/// cache (which holds nothing the snapshot and logs do not).
fn relevant(event: &Event) -> bool {
    if matches!(event.kind, EventKind::Access(_)) {
        return false;
    }
    let ignored = [
        COMPACT_LOCK,
        view_cache::FILE_NAME,
        view_cache::TMP_FILE_NAME,
    ];
    !event.paths.iter().all(|p| {
        p.file_name()
            .is_some_and(|n| ignored.iter().any(|i| n == *i))
    }) || event.paths.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sees_a_write_and_times_out_when_quiet() {
        let dir = tempfile::tempdir().unwrap();
        let watcher = GroupWatcher::new(dir.path()).unwrap();
        assert!(!watcher.wait(Duration::from_millis(100)));
        std::fs::create_dir(dir.path().join("log")).unwrap();
        std::fs::write(dir.path().join("log").join("a.log"), b"x").unwrap();
        assert!(watcher.wait(Duration::from_secs(5)));
        // Reading is not a change, nor is writing the view cache.
        let _ = std::fs::read(dir.path().join("log").join("a.log")).unwrap();
        let cache = dir.path().join(view_cache::TMP_FILE_NAME);
        std::fs::write(&cache, b"x").unwrap();
        std::fs::rename(&cache, dir.path().join(view_cache::FILE_NAME)).unwrap();
        assert!(!watcher.wait(Duration::from_millis(200)));
    }
}
