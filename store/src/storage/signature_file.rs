//! The group's `signatures` file: the whole [`SignatureBook`] as of the last compaction (or the
//! group's creation), one block (see `signature_block`) of every actor's newest signature.
//!
//! It is written like the snapshot: to `signatures.tmp`, fsynced, renamed into place and the
//! group directory fsynced, before a compaction removes the logs whose trailers it absorbed.
//! Loading reads it (again only when its inode, length or mtime changed) before the logs, and
//! keeps the newest signature per actor. An unreadable file is quarantined, and since what it
//! held may now be only in memory, the whole book is written again by the next persist.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

use super::disk;
use super::error::{IoContext, StorageError};
use super::fsutil::{self, Stamp};
use super::group_storage::GroupStorage;
use super::layout::{SIGNATURES, SIGNATURES_TMP};
use super::load::Pass;
use super::signature_block;
use crate::signatures::SignatureBook;

/// Writes `book` as a new file at `path` (which must not exist) and fsyncs it; the caller
/// fsyncs the directory.
pub(crate) fn create(path: &Path, book: &SignatureBook) -> Result<(), StorageError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    write(&options, path, book).at("write signatures", path)
}

fn write(options: &OpenOptions, path: &Path, book: &SignatureBook) -> io::Result<()> {
    let mut bytes = Vec::new();
    signature_block::encode_into(&mut bytes, book.iter());
    let mut file = disk::open(options, path)?;
    disk::write_all_at(&mut file, 0, &bytes)?;
    disk::sync_all(&file)
}

impl GroupStorage {
    /// Writes the whole book as the group's `signatures` file, atomically, and counts every
    /// signature saved. Writes nothing for an empty book.
    pub(crate) fn write_signature_file(&mut self) -> Result<(), StorageError> {
        if self.signatures.is_empty() {
            return Ok(());
        }
        let path = self.dir.join(SIGNATURES);
        let tmp = self.dir.join(SIGNATURES_TMP);
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        if let Err(e) = write(&options, &tmp, &self.signatures) {
            let _ = disk::remove_file(&tmp);
            return Err(e).at("write signatures", &tmp);
        }
        disk::rename(&tmp, &path).at("replace signatures", &path)?;
        disk::sync_dir(&self.dir).at("fsync directory", &self.dir)?;
        if let Ok(meta) = std::fs::metadata(&path) {
            self.signatures_seen = Some(Stamp::of(&meta));
        }
        self.signatures.mark_all_saved();
        Ok(())
    }

    /// Reads the `signatures` file into the book if it changed since we last did. A damaged
    /// one is quarantined and the book marked to be written again.
    pub(crate) fn load_signature_file(&mut self, pass: &mut Pass) -> Result<(), StorageError> {
        let path = self.dir.join(SIGNATURES);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if self.signatures_seen.take().is_some() {
                    // Someone quarantined the file we read: what only it held is in memory.
                    self.rewrite_signatures(pass);
                }
                return Ok(());
            }
            Err(e) => {
                return self.reject_signature_file(&path, format!("cannot open it: {e}"), pass);
            }
        };
        let meta = file.metadata().at("stat signatures", &path)?;
        let stamp = Stamp::of(&meta);
        if self.signatures_seen == Some(stamp) {
            return Ok(());
        }
        let read = fsutil::read_range(&file, 0, meta.len())
            .map_err(|e| format!("cannot read it: {e}"))
            .and_then(|bytes| signature_block::decode(&bytes));
        drop(file);
        let entries = match read {
            Ok(entries) => entries,
            Err(reason) => return self.reject_signature_file(&path, reason, pass),
        };
        for (actor, sig) in entries {
            self.signatures.record_saved(actor, sig);
        }
        self.signatures_seen = Some(stamp);
        Ok(())
    }

    /// Quarantines an unreadable `signatures` file.
    fn reject_signature_file(
        &mut self,
        path: &Path,
        reason: String,
        pass: &mut Pass,
    ) -> Result<(), StorageError> {
        self.signatures_seen = None;
        self.quarantine_whole_file(path, reason, pass, "quarantine signatures")?;
        self.rewrite_signatures(pass);
        Ok(())
    }

    /// Marks the whole book to be written again, at once.
    fn rewrite_signatures(&mut self, pass: &mut Pass) {
        if !self.signatures.is_empty() {
            self.signatures.mark_all_unsaved();
            pass.salvaged = true;
        }
    }
}
