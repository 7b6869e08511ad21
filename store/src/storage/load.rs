//! Reading a group's files into the document: the machinery shared by open, refresh, log
//! adoption and compaction. Callers hold `compact.lock` (shared, or exclusive for compaction).
//!
//! **Snapshot.** Loaded when its inode, length or mtime differ from what we last loaded. A new
//! snapshot means someone compacted, which may have truncated and regrown their own log, so every
//! log is then read again from the start (re-applying known changes is harmless). An empty,
//! unreadable or refused snapshot is quarantined; if our document already had data, all of it is
//! marked not durable so the next persist writes it again.
//!
//! **Signatures.** The `signatures` file is read next, when it changed (see `signature_file`),
//! then the signatures in each record's trailer as the record is applied; the book keeps the
//! newest per actor. A record whose trailer does not decode is refused like a bad chunk.
//!
//! **Logs.** Each other `log/*.log` is read from where we stopped last time. Whether its owner is
//! alive is asked of its flock with a non-blocking exclusive lock:
//!
//! * *Live* (someone holds it): complete, crc-valid records are applied; reading stops quietly at
//!   the first invalid or incomplete one (it may be in flight) and resumes there next time.
//! * *Dead* (we got the lock): an unfinished last record is a torn tail, ignored with a warning.
//!   An invalid record with data after it, or one automerge refuses, is corruption: the valid
//!   prefix is applied, kept as raw records for our next persist, and the file is moved to the
//!   quarantine.
//!
//! Records read from any log count as durable only once the log has been fsynced by us: its
//! writer may not have fsynced them yet (or died before it could), and an edit of ours built on
//! them must not outlive them in a power cut. If that fsync fails, they are left to our next
//! persist to write again, and so are the signatures read with them.
//!
//! Erring towards *live* is always safe (nothing is truncated, deleted or quarantined), and it
//! happens: a child process spawned by any thread inherits open descriptors, flocks included,
//! until it execs, so a lock just released can look held for a moment.
//!
//! A problem found when reading from a remembered offset is always confirmed by reading the
//! whole file again from the start: the offset might no longer be a record boundary (a writer
//! cut back a failed append after we read it), and a salvage must cover the whole file.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use automerge::Automerge;

use super::chunks;
use super::disk;
use super::error::{IoContext, StorageError};
use super::fsutil::{self, FileId, Owner, Stamp};
use super::group_storage::GroupStorage;
use super::layout::{LOG_DIR, SNAPSHOT, list_logs};
use super::record::{self, End};
use super::signature_block::Entries;
use super::warning::LoadWarning;

/// What a load pass does with the dead logs it read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoadMode {
    /// Unlock them again.
    Release,
    /// Keep them locked (compaction deletes them once the snapshot holds their changes).
    Hold,
}

/// How far another process's log has been read.
#[derive(Debug, Clone, Default)]
pub(crate) struct LogCursor {
    /// The file the offsets are about.
    id: FileId,
    /// The end of the last record applied.
    offset: u64,
    /// The file as it was when last read (its length unchanged means nothing new).
    seen: Option<Stamp>,
    /// A live log whose record at this offset was found invalid even reading from the start.
    stuck_at: Option<u64>,
    /// The torn tail (valid end, file length) already warned about.
    torn_warned: Option<(u64, u64)>,
}

impl LogCursor {
    /// The log as it was when read, if it was read to the full length it had then.
    pub(crate) fn read_to_end(&self) -> Option<Stamp> {
        self.seen
            .filter(|seen| seen.len() == self.offset && self.stuck_at.is_none())
    }
}

/// A dead log kept locked by a [`LoadMode::Hold`] pass.
#[derive(Debug)]
pub(crate) struct HeldLog {
    pub(crate) name: String,
    pub(crate) path: PathBuf,
    _file: File,
}

/// What a load pass found.
#[derive(Debug, Default)]
pub(crate) struct Pass {
    /// A snapshot is loaded (in this pass or unchanged since an earlier one).
    pub(crate) loaded_snapshot: bool,
    /// Log records applied in this pass.
    pub(crate) records: usize,
    /// Files moved to the quarantine in this pass.
    pub(crate) quarantined: Vec<PathBuf>,
    /// Dead logs held locked ([`LoadMode::Hold`] only).
    pub(crate) held: Vec<HeldLog>,
    /// Something must be persisted again: salvaged records, or data of a lost snapshot.
    pub(crate) salvaged: bool,
    /// Records were applied from a log we could not fsync: they may not be on disk yet.
    pub(crate) unsynced: bool,
}

/// What reading one log found.
#[derive(Debug)]
enum LogRead {
    /// Read up to `end` of the file as `stamp` describes it; for a live log anything after
    /// may be in flight.
    Valid {
        end: u64,
        stamp: Stamp,
        records: usize,
        stuck: bool,
    },
    /// A dead log whose bytes from `end` on are a torn tail.
    Torn {
        end: u64,
        stamp: Stamp,
        records: usize,
    },
    /// A dead log that is damaged; `salvage` are the payloads of its valid prefix.
    Corrupt {
        reason: String,
        records: usize,
        salvage: Vec<Vec<u8>>,
    },
}

/// What became of a log after reading it.
#[derive(Debug)]
pub(crate) enum Settled {
    /// Its owner is alive.
    Live,
    /// Its owner is dead; we hold its lock. `end` is where its valid records end.
    Dead { file: File, end: u64, len: u64 },
    /// It was damaged and moved to the quarantine (or vanished).
    Gone,
}

/// What is wrong with a log, before deciding what that means.
enum Problem {
    Tail,
    Corrupt(String),
}

impl GroupStorage {
    /// Loads the snapshot (if changed) and every other log's new records.
    pub(crate) fn load_pass(&mut self, mode: LoadMode) -> Result<Pass, StorageError> {
        let durable_current = self.durable_is_current();
        let mut pass = Pass::default();
        let lost = self.load_snapshot(&mut pass)?;
        self.load_signature_file(&mut pass)?;
        self.load_logs(mode, &mut pass)?;
        if lost {
            self.durable_heads.clear();
            self.forget_written();
            // Written again with the changes, in the same records.
            self.signatures.mark_all_unsaved();
            pass.salvaged = true;
        } else if durable_current && !pass.unsynced {
            self.durable_heads = self.heads();
        }
        if !self.pending_salvage.is_empty() {
            pass.salvaged = true;
        }
        Ok(pass)
    }

    /// Whether `durable_heads` cover the whole document, so changes loaded now from disk may
    /// advance them.
    pub(crate) fn durable_is_current(&self) -> bool {
        self.durable_heads == self.heads()
    }

    /// Loads the snapshot if it changed. Returns whether data we relied on was lost (a snapshot
    /// we had loaded from turned out unreadable).
    fn load_snapshot(&mut self, pass: &mut Pass) -> Result<bool, StorageError> {
        let path = self.dir.join(SNAPSHOT);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if self.snapshot_seen.take().is_none() {
                    return Ok(false);
                }
                // Someone quarantined the snapshot we loaded; what only it held is now only in
                // memory, ours included.
                self.rewind_cursors();
                return Ok(!self.doc.is_empty());
            }
            Err(e) => return self.reject_snapshot(&path, format!("cannot open it: {e}"), pass),
        };
        let meta = file.metadata().at("stat snapshot", &path)?;
        let stamp = Stamp::of(&meta);
        if self.snapshot_seen == Some(stamp) {
            pass.loaded_snapshot = true;
            return Ok(false);
        }
        self.rewind_cursors();
        let loaded = read_snapshot(&file, meta.len());
        drop(file);
        let mut snapshot = match loaded {
            Ok(doc) => doc,
            Err(reason) => return self.reject_snapshot(&path, reason, pass),
        };
        if self.doc.is_empty() {
            let actor = self.doc.get_actor().clone();
            self.doc = snapshot.with_actor(actor);
        } else if let Err(e) = self.doc.merge(&mut snapshot) {
            return self.reject_snapshot(
                &path,
                format!("automerge refused to merge it: {e}"),
                pass,
            );
        }
        self.snapshot_seen = Some(stamp);
        pass.loaded_snapshot = true;
        Ok(false)
    }

    /// Quarantines an unreadable snapshot. Returns whether our document had data (which may
    /// have been durable only in that snapshot).
    fn reject_snapshot(
        &mut self,
        path: &Path,
        reason: String,
        pass: &mut Pass,
    ) -> Result<bool, StorageError> {
        self.snapshot_seen = None;
        self.quarantine_whole_file(path, reason, pass, "quarantine snapshot")?;
        Ok(!self.doc.is_empty())
    }

    /// Moves an unreadable snapshot or signatures file aside and warns of it; another reader
    /// may have moved it first.
    pub(crate) fn quarantine_whole_file(
        &mut self,
        path: &Path,
        reason: String,
        pass: &mut Pass,
        what: &'static str,
    ) -> Result<(), StorageError> {
        match fsutil::quarantine(&self.dir, path) {
            Ok(to) => {
                pass.quarantined.push(to.clone());
                self.warn(LoadWarning::Quarantined {
                    from: path.to_path_buf(),
                    to,
                    reason,
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).at(what, path),
        }
        Ok(())
    }

    /// Makes every log be read again from the start.
    fn rewind_cursors(&mut self) {
        for cursor in self.cursors.values_mut() {
            cursor.offset = 0;
            cursor.seen = None;
            cursor.stuck_at = None;
        }
    }

    /// Reads every log but our own.
    fn load_logs(&mut self, mode: LoadMode, pass: &mut Pass) -> Result<(), StorageError> {
        let log_dir = self.dir.join(LOG_DIR);
        let names = list_logs(&log_dir)?;
        self.cursors
            .retain(|name, _| names.binary_search(name).is_ok());
        let own = self.own_log.as_ref().map(|log| log.name().to_owned());
        for name in names {
            if own.as_deref() == Some(name.as_str()) {
                continue;
            }
            let path = log_dir.join(&name);
            self.load_log(&name, &path, mode, pass)?;
        }
        Ok(())
    }

    fn load_log(
        &mut self,
        name: &str,
        path: &Path,
        mode: LoadMode,
        pass: &mut Pass,
    ) -> Result<(), StorageError> {
        let meta = match fs::metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.cursors.remove(name);
                return Ok(());
            }
            Err(e) => return Err(e).at("stat log", path),
        };
        let id = FileId::of(&meta);
        let cursor = self.cursors.entry(name.to_owned()).or_default();
        if cursor.id != id {
            *cursor = LogCursor {
                id,
                ..LogCursor::default()
            };
        }
        if mode == LoadMode::Release && cursor.seen.map(|s| s.len()) == Some(meta.len()) {
            return Ok(());
        }
        let Some(file) = fsutil::open_if_exists(path, false).at("open log", path)? else {
            return Ok(());
        };
        let owner = fsutil::probe_owner(&file, path);
        if owner == Owner::Dead && !fsutil::still_at(&file, path) {
            return Ok(());
        }
        match self.read_and_settle(name, path, file, owner, pass)? {
            Settled::Dead { file, .. } if mode == LoadMode::Hold => pass.held.push(HeldLog {
                name: name.to_owned(),
                path: path.to_path_buf(),
                _file: file,
            }),
            _ => {}
        }
        Ok(())
    }

    /// Reads one log from its cursor and acts on what was found: advances the cursor, warns of
    /// a torn tail once, or salvages and quarantines a damaged dead log.
    pub(crate) fn read_and_settle(
        &mut self,
        name: &str,
        path: &Path,
        file: File,
        owner: Owner,
        pass: &mut Pass,
    ) -> Result<Settled, StorageError> {
        let id = FileId::of(&file.metadata().at("stat log", path)?);
        let cursor = self.cursors.entry(name.to_owned()).or_default();
        if cursor.id != id {
            *cursor = LogCursor {
                id,
                ..LogCursor::default()
            };
        }
        let cursor = cursor.clone();
        let mut signatures = Vec::new();
        let read = self.read_log(path, &file, &cursor, owner == Owner::Dead, &mut signatures)?;
        let mut synced = true;
        if let LogRead::Valid { records, .. } | LogRead::Torn { records, .. } = read
            && records > 0
            && let Err(error) = disk::sync_data(&file)
        {
            tracing::debug!(path = %path.display(), %error, "cannot fsync log read; its records stay undurable");
            pass.unsynced = true;
            synced = false;
        }
        // Signatures of a salvaged prefix are written again with it, so count as saved.
        for (actor, sig) in signatures {
            if synced {
                self.signatures.record_saved(actor, sig);
            } else {
                self.signatures.record(actor, sig);
            }
        }
        let cursor = self.cursors.entry(name.to_owned()).or_default();
        match read {
            LogRead::Valid {
                end,
                stamp,
                records,
                stuck,
            } => {
                pass.records += records;
                cursor.offset = end;
                cursor.seen = Some(stamp);
                cursor.stuck_at = stuck.then_some(end);
                Ok(match owner {
                    Owner::Live => Settled::Live,
                    Owner::Dead => Settled::Dead {
                        file,
                        end,
                        len: stamp.len(),
                    },
                })
            }
            LogRead::Torn {
                end,
                stamp,
                records,
            } => {
                let len = stamp.len();
                pass.records += records;
                cursor.offset = end;
                cursor.seen = Some(stamp);
                cursor.stuck_at = None;
                if cursor.torn_warned != Some((end, len)) {
                    cursor.torn_warned = Some((end, len));
                    self.warn(LoadWarning::TornTail {
                        path: path.to_path_buf(),
                        dropped_bytes: len - end,
                    });
                }
                Ok(Settled::Dead { file, end, len })
            }
            LogRead::Corrupt {
                reason,
                records,
                salvage,
            } => {
                pass.records += records;
                // Still holding the file's lock, so no one appends to or adopts it meanwhile.
                let to = match fsutil::quarantine(&self.dir, path) {
                    Ok(to) => to,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        self.cursors.remove(name);
                        return Ok(Settled::Gone);
                    }
                    Err(e) => return Err(e).at("quarantine log", path),
                };
                drop(file);
                self.cursors.remove(name);
                self.pending_salvage.extend(salvage);
                pass.salvaged = true;
                pass.quarantined.push(to.clone());
                self.warn(LoadWarning::Quarantined {
                    from: path.to_path_buf(),
                    to,
                    reason,
                });
                Ok(Settled::Gone)
            }
        }
    }

    /// Reads and applies a log's records from the cursor's offset; adds the signatures of the
    /// records applied to `signatures`.
    fn read_log(
        &mut self,
        path: &Path,
        file: &File,
        cursor: &LogCursor,
        dead: bool,
        signatures: &mut Entries,
    ) -> Result<LogRead, StorageError> {
        let stamp = Stamp::of(&file.metadata().at("stat log", path)?);
        let len = stamp.len();
        let mut start = if cursor.offset > len {
            0
        } else {
            cursor.offset
        };
        loop {
            let bytes = fsutil::read_range(file, start, len).at("read log", path)?;
            let parsed = record::parse(&bytes);
            let (applied, refused) =
                apply_records(&mut self.doc, &parsed.records, start, signatures);
            let end = start + parsed.records[..applied].last().map_or(0, |r| r.end()) as u64;
            let problem = match (refused, parsed.end) {
                (Some(reason), _) => Some(Problem::Corrupt(reason)),
                (None, End::Clean) => None,
                (None, End::Incomplete { .. }) => Some(Problem::Tail),
                (None, End::Corrupt { offset, defect }) => Some(Problem::Corrupt(format!(
                    "{defect} at byte {}",
                    start + offset as u64
                ))),
            };
            let confirm = start > 0
                && match &problem {
                    None => false,
                    Some(Problem::Tail) => dead,
                    Some(Problem::Corrupt(_)) => dead || cursor.stuck_at != Some(start),
                };
            if confirm {
                start = 0;
                continue;
            }
            let valid = |stuck| LogRead::Valid {
                end,
                stamp,
                records: applied,
                stuck,
            };
            return Ok(match (problem, dead) {
                (None, _) | (Some(Problem::Tail), false) => valid(false),
                (Some(Problem::Corrupt(_)), false) => valid(true),
                (Some(Problem::Tail), true) => LogRead::Torn {
                    end,
                    stamp,
                    records: applied,
                },
                (Some(Problem::Corrupt(reason)), true) => LogRead::Corrupt {
                    reason,
                    records: applied,
                    salvage: parsed.records[..applied]
                        .iter()
                        .map(|r| r.payload.to_vec())
                        .collect(),
                },
            });
        }
    }
}

/// Applies records in order until automerge refuses one (or its signature trailer). Returns
/// how many were applied and, if one was refused, why; adds the signatures of the records
/// applied to `signatures`.
fn apply_records(
    doc: &mut Automerge,
    records: &[record::Record<'_>],
    start: u64,
    signatures: &mut Entries,
) -> (usize, Option<String>) {
    // Fast path: every record parses into plain changes, applied in one batch. Applying
    // record by record costs a pass over the document each time, which made a group with a
    // few hundred logged edits open three times slower.
    let mut batch = Vec::new();
    let mut signed = Vec::new();
    let parsed_all = records.iter().all(|r| match chunks::changes(r.payload) {
        Ok(Some((changes, sigs))) => {
            batch.extend(changes);
            signed.extend(sigs);
            true
        }
        _ => false,
    });
    if parsed_all && doc.apply_changes(batch).is_ok() {
        signatures.extend(signed);
        return (records.len(), None);
    }
    // Slow path: find the record automerge refuses. Changes the batch already applied are
    // valid; applying them again is a no-op.
    for (i, r) in records.iter().enumerate() {
        match chunks::apply(doc, r.payload) {
            Ok(sigs) => signatures.extend(sigs),
            Err(reason) => {
                let at = start + r.offset as u64;
                return (
                    i,
                    Some(format!(
                        "automerge refused the record at byte {at}: {reason}"
                    )),
                );
            }
        }
    }
    (records.len(), None)
}

/// Reads and strictly loads a snapshot; the reason if it is unusable.
fn read_snapshot(file: &File, len: u64) -> Result<Automerge, String> {
    if len == 0 {
        return Err("empty file (a snapshot is never empty)".to_owned());
    }
    let bytes = fsutil::read_range(file, 0, len).map_err(|e| format!("cannot read it: {e}"))?;
    if bytes.is_empty() {
        return Err("empty file (a snapshot is never empty)".to_owned());
    }
    Automerge::load(&bytes).map_err(|e| format!("automerge refused it: {e}"))
}
