//! One group on disk, open in this process.
//!
//! A [`GroupStorage`] owns the group's in-memory [`Automerge`] document and keeps it in step
//! with the group directory:
//!
//! * **Loading** (open and [`refresh`](GroupStorage::refresh)) happens under a shared
//!   `compact.lock`: the snapshot first (again only when its inode, length or mtime changed),
//!   then every other process's log from where this process last stopped reading it.
//! * **Persisting** appends the changes not yet durable to this process's own log and fsyncs it
//!   before returning, with the signatures not yet durable in the same records. The log is picked at the first persist: a dead process's log is adopted
//!   if there is one, else a new one is created; its flock is held until the process ends.
//! * **Compacting** (see [`compact`](GroupStorage::compact)) folds everything into a new
//!   snapshot under an exclusive `compact.lock`.
//!
//! `durable_heads` are the heads of what is known to be on disk. Changes are rewritten rather
//! than lost whenever that is in doubt: changes salvaged from a quarantined log are kept as raw
//! records until the next persist writes them to our log, and if a snapshot we relied on turns
//! out unreadable the whole document is written again. Automerge ignores changes it already
//! has, so writing one twice costs only bytes. Signatures are kept the same way: each is
//! unsaved until a record or the `signatures` file holding it is durable, and a signature
//! written twice is simply not newer the second time.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use automerge::{ActorId, Automerge, ChangeHash};

use super::error::{IoContext, StorageError};
use super::fsutil::Stamp;
use super::layout::SNAPSHOT;
use super::load::{LoadMode, LogCursor};
use super::lock::CompactLock;
use super::log_file::{OwnLog, append_durably};
use super::options::StorageOptions;
use super::record::{self, MAX_PAYLOAD_LEN};
use super::signature_block;
use super::warning::LoadWarning;
use super::watch::GroupWatcher;
use super::write_behind::Written;
use crate::ids::GroupId;
use crate::signatures::{ChangeSignature, SignatureBook};

/// What one [`GroupStorage::persist`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PersistOutcome {
    /// Bytes appended to this process's log (record headers included); 0 if nothing was new.
    pub bytes_written: usize,
    /// Whether the persist went on to compact the group.
    pub compacted: bool,
}

/// A group's document and its files, open in this process.
///
/// Edit through [`doc_mut`](Self::doc_mut), then call [`persist`](Self::persist): when it
/// returns `Ok`, the edit is on disk. Call [`refresh`](Self::refresh) (for example when a
/// [`GroupWatcher`] fires) to take in what other processes wrote.
#[derive(Debug)]
pub struct GroupStorage {
    pub(crate) id: GroupId,
    pub(crate) dir: PathBuf,
    pub(crate) options: StorageOptions,
    pub(crate) doc: Automerge,
    /// Sorted heads of what is known to be on disk.
    pub(crate) durable_heads: Vec<ChangeHash>,
    /// Payloads salvaged from quarantined logs, to be written to our log by the next persist.
    pub(crate) pending_salvage: Vec<Vec<u8>>,
    pub(crate) own_log: Option<OwnLog>,
    /// Records [`write`](Self::write) appended to our log that are not fsynced yet.
    pub(crate) written: Option<Written>,
    /// The snapshot file last loaded (or written) by us.
    pub(crate) snapshot_seen: Option<Stamp>,
    /// The newest signature of each actor, and which are not yet on disk.
    pub(crate) signatures: SignatureBook,
    /// The `signatures` file last loaded (or written) by us.
    pub(crate) signatures_seen: Option<Stamp>,
    /// How far each other log has been read, by file name.
    pub(crate) cursors: BTreeMap<String, LogCursor>,
    pub(crate) warnings: Vec<LoadWarning>,
    /// Whether a persist leaves compaction to [`compact_if_due`](Self::compact_if_due).
    pub(crate) compaction_held: bool,
}

impl GroupStorage {
    /// Loads the existing group in `dir`, acting as `actor`.
    pub(crate) fn open_existing(
        id: GroupId,
        dir: PathBuf,
        actor: ActorId,
        options: StorageOptions,
    ) -> Result<Self, StorageError> {
        match fs::metadata(&dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Err(StorageError::GroupNotFound { path: dir }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StorageError::GroupNotFound { path: dir });
            }
            Err(source) => {
                return Err(StorageError::Io {
                    action: "open group",
                    path: dir,
                    source,
                });
            }
        }
        let mut this = Self::with_doc(id, dir, Automerge::new().with_actor(actor), options);
        let pass = {
            let _lock = CompactLock::shared(&this.dir)?;
            this.load_pass(LoadMode::Release)?
        };
        if !pass.loaded_snapshot && pass.records == 0 {
            return Err(StorageError::NoReadableData {
                path: this.dir,
                quarantined: pass.quarantined,
            });
        }
        if pass.salvaged {
            this.persist_salvage();
        }
        Ok(this)
    }

    /// Wraps a group just created on disk whose snapshot holds all of `doc` and whose
    /// `signatures` file (if `signatures` is not empty) holds all of `signatures`.
    pub(crate) fn created(
        id: GroupId,
        dir: PathBuf,
        doc: Automerge,
        options: StorageOptions,
        (snapshot, signatures): (Option<Stamp>, Option<Stamp>),
        mut book: SignatureBook,
    ) -> Self {
        let mut this = Self::with_doc(id, dir, doc, options);
        this.durable_heads = this.heads();
        this.snapshot_seen = snapshot;
        book.mark_all_saved();
        this.signatures = book;
        this.signatures_seen = signatures;
        this
    }

    fn with_doc(id: GroupId, dir: PathBuf, doc: Automerge, options: StorageOptions) -> Self {
        Self {
            id,
            dir,
            options,
            doc,
            durable_heads: Vec::new(),
            pending_salvage: Vec::new(),
            compaction_held: false,
            own_log: None,
            written: None,
            snapshot_seen: None,
            signatures: SignatureBook::new(),
            signatures_seen: None,
            cursors: BTreeMap::new(),
            warnings: Vec::new(),
        }
    }

    /// The bytes of the snapshot file as they are now, if there is one: a `save()` of this
    /// group at some point, possibly by another process, so possibly holding changes this
    /// document lacks, or lacking some it has.
    pub fn snapshot_file(&self) -> Result<Option<Vec<u8>>, StorageError> {
        let path = self.dir.join(SNAPSHOT);
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).at("read snapshot", &path),
        }
    }

    /// The group's id.
    pub fn id(&self) -> GroupId {
        self.id
    }

    /// The group's directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The document as loaded, plus edits made here.
    pub fn doc(&self) -> &Automerge {
        &self.doc
    }

    /// The document, to edit: make transactions, then call [`persist`](Self::persist).
    pub fn doc_mut(&mut self) -> &mut Automerge {
        &mut self.doc
    }

    /// Whether the document holds changes, or the book signatures, that
    /// [`persist`](Self::persist) would write.
    pub fn has_unsaved_changes(&self) -> bool {
        !self.pending_salvage.is_empty()
            || self.heads() != self.durable_heads
            || self.signatures.has_unsaved()
    }

    /// The newest known signature of each actor's changes: read from disk (the `signatures`
    /// file, then every log record's trailer) and recorded here.
    pub fn signatures(&self) -> &SignatureBook {
        &self.signatures
    }

    /// Keeps `sig` if it is newer than what the book holds for `actor`, to be written by the
    /// next [`persist`](Self::persist) (or [`write`](Self::write)) in the same record as the
    /// changes it writes; returns whether it was kept.
    ///
    /// Record a change's signature before persisting the change: then no crash can leave the
    /// change durable without it.
    pub fn record_signature(&mut self, actor: ActorId, sig: ChangeSignature) -> bool {
        self.signatures.record(actor, sig)
    }

    /// Writes the changes not yet on disk to this process's log and fsyncs it, with the
    /// unsaved signatures in the same records (a record of just those if no change is new).
    ///
    /// On error nothing is half-written (a failed append is cut back off the log) and the same
    /// changes are retried by the next persist. Afterwards, if the removable logs have grown past
    /// [`StorageOptions`]' thresholds, the group is compacted; a failed compaction is logged and
    /// does not fail the persist, whose data is already safe.
    pub fn persist(&mut self) -> Result<PersistOutcome, StorageError> {
        let synced = self.sync_written()?;
        if !self.has_unsaved_changes() {
            if synced == 0 {
                return Ok(PersistOutcome::default());
            }
            let compacted = self.auto_compact();
            return Ok(PersistOutcome {
                bytes_written: synced,
                compacted,
            });
        }
        let mut own = self.take_own_log()?;
        let heads = self.heads();
        let signatures: Vec<_> = self
            .signatures
            .unsaved()
            .map(|(actor, sig)| (actor.clone(), *sig))
            .collect();
        let batch = match self.batch_since(&self.durable_heads, own.path(), &signatures) {
            Ok(batch) => batch,
            Err(e) => {
                self.own_log = Some(own);
                return Err(e);
            }
        };
        if !batch.is_empty() {
            let at = own.len();
            if let Err(failure) = append_durably(own.file_mut(), at, &batch) {
                let path = own.path().to_path_buf();
                if failure.rolled_back {
                    self.own_log = Some(own);
                } else {
                    tracing::warn!(
                        path = %path.display(),
                        error = %failure.error,
                        "cannot cut a failed append back off the log; abandoning it"
                    );
                }
                return Err(StorageError::Io {
                    action: "append to log",
                    path,
                    source: failure.error,
                });
            }
            own.advance(batch.len() as u64);
        }
        self.own_log = Some(own);
        self.durable_heads = heads;
        self.pending_salvage.clear();
        for (actor, sig) in &signatures {
            self.signatures.mark_saved(actor, sig.seq);
        }
        let compacted = self.auto_compact();
        Ok(PersistOutcome {
            bytes_written: synced + batch.len(),
            compacted,
        })
    }

    /// Takes in what other processes wrote since the last load: a new snapshot or `signatures`
    /// file, new records in their logs, new logs. Returns whether the document changed (new
    /// signatures alone do not count; see [`signatures`](Self::signatures)).
    ///
    /// Changes made here and not yet persisted stay pending. Unreadable files met on the way
    /// are quarantined (see [`warnings`](Self::warnings)) and what could be salvaged from them
    /// is persisted to this process's log straight away.
    pub fn refresh(&mut self) -> Result<bool, StorageError> {
        let before = self.heads();
        let pass = {
            let _lock = CompactLock::shared(&self.dir)?;
            self.load_pass(LoadMode::Release)?
        };
        if pass.salvaged {
            self.persist_salvage();
        }
        Ok(self.heads() != before)
    }

    /// Torn tails dropped and files quarantined since the group was opened (or since the last
    /// [`take_warnings`](Self::take_warnings)).
    pub fn warnings(&self) -> &[LoadWarning] {
        &self.warnings
    }

    /// Returns the warnings and forgets them.
    pub fn take_warnings(&mut self) -> Vec<LoadWarning> {
        std::mem::take(&mut self.warnings)
    }

    /// Watches the group directory for changes made by other processes.
    pub fn watch(&self) -> Result<GroupWatcher, StorageError> {
        GroupWatcher::new(&self.dir)
    }

    /// The document's heads, sorted.
    pub(crate) fn heads(&self) -> Vec<ChangeHash> {
        let mut heads = self.doc.get_heads();
        heads.sort_unstable();
        heads
    }

    /// Records one warning and logs it.
    pub(crate) fn warn(&mut self, warning: LoadWarning) {
        match &warning {
            LoadWarning::TornTail {
                path,
                dropped_bytes,
            } => tracing::warn!(path = %path.display(), dropped_bytes, "dropped torn tail"),
            LoadWarning::Quarantined { from, to, reason } => tracing::warn!(
                from = %from.display(),
                to = %to.display(),
                reason = %reason,
                "quarantined unreadable file"
            ),
        }
        self.warnings.push(warning);
    }

    /// Persists salvaged changes right after a load, so they do not live only in quarantine.
    /// A failure leaves them pending for the next persist.
    fn persist_salvage(&mut self) {
        if let Err(error) = self.persist() {
            tracing::warn!(
                group = %self.dir.display(),
                %error,
                "cannot persist salvaged changes yet; they stay pending"
            );
        }
    }

    /// The records to append: salvaged payloads, then every change after `since`, packed into
    /// records of at most [`MAX_PAYLOAD_LEN`] bytes, with `signatures` in trailers.
    ///
    /// A signature goes in the record that holds the change it signs, else in the last one; if
    /// there is no change to write, it goes in a record of its own. Each record leaves room for
    /// a trailer of all of `signatures`.
    pub(crate) fn batch_since(
        &self,
        since: &[ChangeHash],
        log: &Path,
        signatures: &[(ActorId, ChangeSignature)],
    ) -> Result<Vec<u8>, StorageError> {
        let mut out = Vec::new();
        for payload in &self.pending_salvage {
            record::encode_into(&mut out, payload);
        }
        let reserve = trailer_len(signatures.iter().map(|(a, s)| (a, s)));
        if reserve > MAX_PAYLOAD_LEN / 2 {
            return Err(StorageError::SignaturesTooLarge {
                path: log.to_path_buf(),
                count: signatures.len(),
            });
        }
        let room = MAX_PAYLOAD_LEN - reserve;
        let signed: HashMap<ChangeHash, usize> = signatures
            .iter()
            .enumerate()
            .map(|(i, (_, sig))| (sig.hash, i))
            .collect();
        // The record each signature goes in, if its change is in one.
        let mut placed: Vec<Option<usize>> = vec![None; signatures.len()];
        let mut payloads = Vec::new();
        let mut payload = Vec::new();
        for change in self.doc.get_changes(since) {
            let raw = change.raw_bytes();
            if raw.len() > room {
                return Err(StorageError::ChangeTooLarge {
                    path: log.to_path_buf(),
                    len: raw.len(),
                });
            }
            if payload.len() + raw.len() > room {
                payloads.push(std::mem::take(&mut payload));
            }
            payload.extend_from_slice(raw);
            if let Some(&i) = signed.get(&change.hash()) {
                placed[i] = Some(payloads.len());
            }
        }
        if !payload.is_empty() || (payloads.is_empty() && !signatures.is_empty()) {
            payloads.push(payload);
        }
        let last = payloads.len().saturating_sub(1);
        for (n, mut payload) in payloads.into_iter().enumerate() {
            let mut mine = signatures
                .iter()
                .zip(&placed)
                .filter(|(_, at)| at.unwrap_or(last) == n)
                .map(|((actor, sig), _)| (actor, sig))
                .peekable();
            if mine.peek().is_some() {
                signature_block::encode_into(&mut payload, mine);
            }
            record::encode_into(&mut out, &payload);
        }
        Ok(out)
    }

    /// Compacts if the thresholds say so; whether it did.
    /// Leaves compaction out of [`persist`](Self::persist), for a process that compacts when
    /// it has nothing else to do ([`compact_if_due`](Self::compact_if_due)): compacting saves
    /// the whole document, which on a large group takes a second that peers would wait for.
    pub fn hold_compaction(&mut self) {
        self.compaction_held = true;
    }

    /// Compacts if the removable logs have grown past [`StorageOptions`]' thresholds; returns
    /// whether it did. A failed compaction is logged: the data is safe in the logs.
    pub fn compact_if_due(&mut self) -> bool {
        match self.should_compact() {
            Ok(false) => false,
            Ok(true) => match self.compact() {
                Ok(stats) => {
                    tracing::debug!(group = %self.dir.display(), ?stats, "compacted");
                    true
                }
                Err(error) => {
                    tracing::warn!(group = %self.dir.display(), %error, "automatic compaction failed");
                    false
                }
            },
            Err(error) => {
                tracing::warn!(group = %self.dir.display(), %error, "cannot measure logs for compaction");
                false
            }
        }
    }

    fn auto_compact(&mut self) -> bool {
        !self.compaction_held && self.compact_if_due()
    }
}

/// The length of a trailer holding `signatures`: at least that of one holding any of them.
fn trailer_len<'a>(
    signatures: impl ExactSizeIterator<Item = (&'a ActorId, &'a ChangeSignature)>,
) -> usize {
    if signatures.len() == 0 {
        return 0;
    }
    let mut out = Vec::new();
    signature_block::encode_into(&mut out, signatures);
    out.len()
}
