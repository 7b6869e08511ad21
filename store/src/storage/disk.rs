//! Every change the storage layer makes to the file system, in one place: creating and opening
//! files for writing, writing, cutting, syncing files and directories, renaming, linking and
//! removing.
//!
//! Each function is the plain `std` call. With the `power-loss-sim` feature, a successful call
//! is also reported to [`power_loss`](super::power_loss) while a recorder is running, so a test
//! can rebuild what a disk could hold had the power failed after any of them. Without the
//! feature nothing else happens; with it and no recorder running, the cost is one atomic load.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::Path;

use super::fsutil::FileId;
#[cfg(feature = "power-loss-sim")]
use super::power_loss;

/// Opens `path` with `options`, which may create or truncate it.
pub(crate) fn open(options: &OpenOptions, path: &Path) -> io::Result<File> {
    #[cfg(feature = "power-loss-sim")]
    if power_loss::recording() {
        let before = fs::symlink_metadata(path).ok().map(|m| m.len());
        let file = options.open(path)?;
        let after = file.metadata()?;
        power_loss::observe(Event::Open {
            path,
            file: FileId::of(&after),
            created: before.is_none(),
            truncated: before.is_some_and(|len| len > 0 && after.len() == 0),
        });
        return Ok(file);
    }
    options.open(path)
}

/// Writes all of `bytes` at `offset`.
pub(crate) fn write_all_at(file: &mut File, offset: u64, bytes: &[u8]) -> io::Result<()> {
    file.seek(SeekFrom::Start(offset))?;
    file.write_all(bytes)?;
    #[cfg(feature = "power-loss-sim")]
    observe_file(file, |file| Event::Write {
        file,
        offset,
        bytes,
    });
    Ok(())
}

/// Cuts or extends `file` to `len` bytes.
pub(crate) fn set_len(file: &File, len: u64) -> io::Result<()> {
    file.set_len(len)?;
    #[cfg(feature = "power-loss-sim")]
    observe_file(file, |file| Event::SetLen { file, len });
    Ok(())
}

/// Flushes `file`'s data, and the metadata needed to read it back, to disk.
pub(crate) fn sync_data(file: &File) -> io::Result<()> {
    #[cfg(feature = "power-loss-sim")]
    if power_loss::recording() {
        power_loss::before_file_sync();
    }
    file.sync_data()?;
    #[cfg(feature = "power-loss-sim")]
    observe_file(file, |file| Event::SyncFile { file });
    Ok(())
}

/// Flushes `file`'s data and all its metadata to disk.
pub(crate) fn sync_all(file: &File) -> io::Result<()> {
    #[cfg(feature = "power-loss-sim")]
    if power_loss::recording() {
        power_loss::before_file_sync();
    }
    file.sync_all()?;
    #[cfg(feature = "power-loss-sim")]
    observe_file(file, |file| Event::SyncFile { file });
    Ok(())
}

/// Flushes a directory's entries (creations, renames, removals) to disk.
#[cfg(unix)]
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()?;
    #[cfg(feature = "power-loss-sim")]
    if power_loss::recording() {
        power_loss::observe(Event::SyncDir { path: dir });
    }
    Ok(())
}

/// Flushes a directory's entries to disk (a no-op where directories cannot be opened).
#[cfg(not(unix))]
pub(crate) fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Creates the directory `path`, whose parent exists.
pub(crate) fn create_dir(path: &Path) -> io::Result<()> {
    fs::create_dir(path)?;
    observe_path(|| Event::CreateDir { path });
    Ok(())
}

/// Creates the directory `path` and any of its missing parents, durably: each directory
/// made is made durable in its parent by an fsync of the parent, so a power cut cannot take a
/// directory away after files in it were fsynced.
pub(crate) fn create_dir_all(path: &Path) -> io::Result<()> {
    let mut missing = Vec::new();
    let mut next = Some(path);
    while let Some(dir) = next.filter(|d| !d.as_os_str().is_empty() && !d.is_dir()) {
        missing.push(dir);
        next = dir.parent();
    }
    for dir in missing.into_iter().rev() {
        match create_dir(dir) {
            Ok(()) => {
                if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                    sync_dir(parent)?;
                }
            }
            // Another process made it meanwhile.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Renames `from` to `to`, replacing `to` if it is a file.
pub(crate) fn rename(from: &Path, to: &Path) -> io::Result<()> {
    fs::rename(from, to)?;
    observe_path(|| Event::Rename { from, to });
    Ok(())
}

/// Makes `to` a second name of the file `from`; fails if `to` exists.
pub(crate) fn hard_link(from: &Path, to: &Path) -> io::Result<()> {
    fs::hard_link(from, to)?;
    observe_path(|| Event::Link { from, to });
    Ok(())
}

/// Removes the file `path`.
pub(crate) fn remove_file(path: &Path) -> io::Result<()> {
    fs::remove_file(path)?;
    observe_path(|| Event::Remove { path });
    Ok(())
}

/// Removes the directory `path` and everything in it.
pub(crate) fn remove_dir_all(path: &Path) -> io::Result<()> {
    fs::remove_dir_all(path)?;
    observe_path(|| Event::Remove { path });
    Ok(())
}

/// Reports an event about a path, if a recorder is running.
#[cfg(feature = "power-loss-sim")]
fn observe_path<'a>(event: impl FnOnce() -> Event<'a>) {
    if power_loss::recording() {
        power_loss::observe(event());
    }
}

/// Without the feature there is no one to report to.
#[cfg(not(feature = "power-loss-sim"))]
fn observe_path<'a>(_event: impl FnOnce() -> Event<'a>) {}

/// Reports an event about an open file, if a recorder is running.
#[cfg(feature = "power-loss-sim")]
fn observe_file<'a>(file: &File, event: impl FnOnce(FileId) -> Event<'a>) {
    if power_loss::recording()
        && let Ok(meta) = file.metadata()
    {
        power_loss::observe(event(FileId::of(&meta)));
    }
}

/// One successful file-system change, as the storage layer made it.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(feature = "power-loss-sim"), allow(dead_code))]
pub(crate) enum Event<'a> {
    /// A file was opened for writing; `created` if it did not exist before, `truncated` if it
    /// had data and now has none.
    Open {
        path: &'a Path,
        file: FileId,
        created: bool,
        truncated: bool,
    },
    /// `bytes` were written at `offset`.
    Write {
        file: FileId,
        offset: u64,
        bytes: &'a [u8],
    },
    /// The file was cut (or extended) to `len` bytes.
    SetLen { file: FileId, len: u64 },
    /// The file's data was fsynced.
    SyncFile { file: FileId },
    /// The directory's entries were fsynced.
    SyncDir { path: &'a Path },
    /// A directory was made.
    CreateDir { path: &'a Path },
    /// `from` was renamed to `to`.
    Rename { from: &'a Path, to: &'a Path },
    /// `to` was made a second name of `from`.
    Link { from: &'a Path, to: &'a Path },
    /// A file, or a directory with everything in it, was removed.
    Remove { path: &'a Path },
}
