//! Small filesystem helpers: file identity, reading a file's tail, lock probes
//! and the quarantine move.
//!
//! Nothing here deletes user data: an unreadable file is *moved* into the group's
//! `quarantine/` directory under its own name plus a UTC timestamp, so it can be inspected or
//! recovered by hand.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::disk;

/// The name of a group's quarantine directory.
pub(crate) const QUARANTINE_DIR: &str = "quarantine";

/// Which file an open handle or a path refers to (device and inode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub(crate) struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    /// The identity of the file `meta` describes.
    #[cfg(unix)]
    pub(crate) fn of(meta: &Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }

    /// The identity of the file `meta` describes (unknown on this platform).
    #[cfg(not(unix))]
    pub(crate) fn of(_meta: &Metadata) -> Self {
        Self::default()
    }
}

/// Enough of a file's metadata to tell that it was replaced or rewritten: its identity, its
/// length and its modification time (in nanoseconds from the Unix epoch, negative before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Stamp {
    id: FileId,
    len: u64,
    modified: Option<i128>,
}

impl Stamp {
    /// The stamp of the file `meta` describes.
    pub(crate) fn of(meta: &Metadata) -> Self {
        Self {
            id: FileId::of(meta),
            len: meta.len(),
            modified: meta.modified().ok().map(nanos_since_epoch),
        }
    }

    /// The file's length.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }
}

fn nanos_since_epoch(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_nanos() as i128,
        Err(before) => -(before.duration().as_nanos() as i128),
    }
}

/// Whether `file` (already open) is still the file at `path`: it was not renamed away or deleted
/// between opening and locking it.
pub(crate) fn still_at(file: &File, path: &Path) -> bool {
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => FileId::of(&a) == FileId::of(&b),
        _ => false,
    }
}

/// Reads `file` from `offset` up to `len` (its length when last looked at).
///
/// Allocates at most `len - offset` bytes, the size the file actually had.
pub(crate) fn read_range(file: &File, offset: u64, len: u64) -> io::Result<Vec<u8>> {
    let mut reader = file;
    reader.seek(SeekFrom::Start(offset))?;
    let want = len.saturating_sub(offset);
    let mut buf = Vec::with_capacity(usize::try_from(want).unwrap_or(0));
    reader.take(want).read_to_end(&mut buf)?;
    Ok(buf)
}

/// What a non-blocking exclusive lock attempt found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    /// Another open file holds the lock: a live process (or another handle in this one).
    Live,
    /// We now hold the lock: no one else did.
    Dead,
}

/// Tries to lock `file` exclusively without waiting.
///
/// A lock error other than "would block" counts as live: it is the answer that never leads to
/// truncating, deleting or quarantining someone else's file.
pub(crate) fn probe_owner(file: &File, path: &Path) -> Owner {
    match file.try_lock() {
        Ok(()) => Owner::Dead,
        Err(fs::TryLockError::WouldBlock) => Owner::Live,
        Err(fs::TryLockError::Error(error)) => {
            tracing::debug!(path = %path.display(), %error, "cannot probe lock; assuming live");
            Owner::Live
        }
    }
}

/// Opens `path` for reading and locking; `None` if it vanished.
pub(crate) fn open_if_exists(path: &Path, write: bool) -> io::Result<Option<File>> {
    let mut options = OpenOptions::new();
    options.read(true).write(write);
    let opened = if write {
        disk::open(&options, path)
    } else {
        options.open(path)
    };
    match opened {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// A fresh random name: 32 lowercase hex digits.
pub(crate) fn random_name() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Moves `file` into `<group_dir>/quarantine/` as `<name>.<UTC timestamp>` and returns where it
/// went. Never overwrites: a name that is taken gets a counter.
pub(crate) fn quarantine(group_dir: &Path, file: &Path) -> io::Result<PathBuf> {
    let dir = group_dir.join(QUARANTINE_DIR);
    disk::create_dir_all(&dir)?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_owned());
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%S%.fZ")
        .to_string();
    let mut target = dir.join(format!("{name}.{stamp}"));
    let mut n = 1;
    while fs::symlink_metadata(&target).is_ok() {
        target = dir.join(format!("{name}.{stamp}-{n}"));
        n += 1;
    }
    disk::rename(file, &target)?;
    disk::sync_dir(&dir)?;
    if let Some(parent) = file.parent() {
        disk::sync_dir(parent)?;
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarantine_moves_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("x.log");
        fs::write(&a, b"one").unwrap();
        let first = quarantine(dir.path(), &a).unwrap();
        fs::write(&a, b"two").unwrap();
        let second = quarantine(dir.path(), &a).unwrap();
        assert_ne!(first, second);
        assert!(!a.exists());
        assert_eq!(fs::read(&first).unwrap(), b"one");
        assert_eq!(fs::read(&second).unwrap(), b"two");
        assert!(first.starts_with(dir.path().join(QUARANTINE_DIR)));
        let name = first.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("x.log.20"), "{name}");
    }

    #[test]
    fn lock_probe_sees_other_handles() {
        let _forks = crate::storage::tests::no_forks();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l");
        fs::write(&path, b"").unwrap();
        let a = File::open(&path).unwrap();
        let b = File::open(&path).unwrap();
        assert_eq!(probe_owner(&a, &path), Owner::Dead);
        assert_eq!(probe_owner(&b, &path), Owner::Live);
        drop(a);
        assert_eq!(probe_owner(&b, &path), Owner::Dead);
    }

    #[test]
    fn read_range_reads_the_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, b"0123456789").unwrap();
        let f = File::open(&path).unwrap();
        assert_eq!(read_range(&f, 4, 10).unwrap(), b"456789");
        assert_eq!(read_range(&f, 4, 6).unwrap(), b"45");
        assert!(read_range(&f, 12, 10).unwrap().is_empty());
    }
}
