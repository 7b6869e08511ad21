//! Writing changes before they are durable, for a caller that wants other processes to read
//! them at once and can wait for the fsync afterwards: the sync actor, which tells the desktop
//! client of a peer's change as soon as the change is in the log, and fsyncs after.
//!
//! [`GroupStorage::write`] appends the changes not yet on disk to this process's log without
//! an fsync, with the unsaved signatures in the same records, as a persist would. Other processes read them at once; a crash or power cut may lose them (they are
//! not acknowledged to anyone yet). The next [`GroupStorage::persist`] fsyncs them first and
//! only then counts them durable; if that fsync fails they are cut back off the log and written
//! again by a later persist, as after any failed append. The signatures written count as
//! saved only after that fsync too.

use automerge::{ActorId, ChangeHash};

use super::error::StorageError;
use super::group_storage::GroupStorage;
use super::log_file::AppendTarget;

/// Records in our log written by [`GroupStorage::write`] and not yet fsynced.
#[derive(Debug)]
pub(crate) struct Written {
    /// Where they start in our log: what a failed fsync cuts the log back to.
    from: u64,
    /// The document's heads once they are written: durable after the fsync.
    heads: Vec<ChangeHash>,
    /// The signatures written (actor and seq): saved after the fsync.
    signatures: Vec<(ActorId, u64)>,
}

impl Written {
    /// Whether `actor`'s signature of change `seq` is among these.
    fn holds(&self, actor: &ActorId, seq: u64) -> bool {
        self.signatures.iter().any(|(a, s)| a == actor && *s == seq)
    }
}

impl GroupStorage {
    /// Appends the changes not yet on disk to this process's log, without waiting for the
    /// disk: readers in other processes see them at once, and the next
    /// [`persist`](Self::persist) makes them durable. A caller must not acknowledge them to a
    /// user before that persist returns `Ok`.
    ///
    /// Changes salvaged from damaged files are written durably at once, as by `persist`.
    pub fn write(&mut self) -> Result<(), StorageError> {
        if !self.pending_salvage.is_empty() {
            return self.persist().map(drop);
        }
        let heads = self.heads();
        let written = self.written.as_ref();
        let since = written.map_or(&self.durable_heads, |w| &w.heads);
        let signatures: Vec<_> = self
            .signatures
            .unsaved()
            .filter(|(actor, sig)| !written.is_some_and(|w| w.holds(actor, sig.seq)))
            .map(|(actor, sig)| (actor.clone(), *sig))
            .collect();
        if heads == *since && signatures.is_empty() {
            return Ok(());
        }
        let since = since.clone();
        let mut own = self.take_own_log()?;
        let batch = match self.batch_since(&since, own.path(), &signatures) {
            Ok(batch) => batch,
            Err(e) => {
                self.own_log = Some(own);
                return Err(e);
            }
        };
        let at = own.len();
        if let Err(error) = own.file_mut().write_all_at_offset(at, &batch) {
            let path = own.path().to_path_buf();
            if own.file_mut().truncate_to(at).is_ok() {
                self.own_log = Some(own);
            } else {
                tracing::warn!(path = %path.display(), %error, "cannot cut a failed write back off the log; abandoning it");
                self.abandon_written();
            }
            return Err(StorageError::Io {
                action: "write to log",
                path,
                source: error,
            });
        }
        own.advance(batch.len() as u64);
        self.own_log = Some(own);
        let mut signatures: Vec<_> = signatures
            .into_iter()
            .map(|(actor, sig)| (actor, sig.seq))
            .collect();
        let from = match self.written.take() {
            Some(earlier) => {
                signatures.extend(earlier.signatures);
                earlier.from
            }
            None => at,
        };
        self.written = Some(Written {
            from,
            heads,
            signatures,
        });
        Ok(())
    }

    /// Fsyncs what [`write`](Self::write) appended and counts it durable. Returns the bytes
    /// made durable. If the fsync fails they are cut back off the log, to be written again.
    pub(crate) fn sync_written(&mut self) -> Result<usize, StorageError> {
        let Some(written) = self.written.take() else {
            return Ok(0);
        };
        let Some(own) = self.own_log.as_mut() else {
            return Ok(0);
        };
        match own.file_mut().sync() {
            Ok(()) => {
                let bytes = (own.len() - written.from) as usize;
                self.durable_heads = written.heads;
                for (actor, seq) in &written.signatures {
                    self.signatures.mark_saved(actor, *seq);
                }
                Ok(bytes)
            }
            Err(error) => {
                let path = own.path().to_path_buf();
                if own.file_mut().truncate_to(written.from).is_ok() {
                    own.rewind(written.from);
                } else {
                    tracing::warn!(path = %path.display(), %error, "cannot cut unsynced records back off the log; abandoning it");
                    self.abandon_written();
                }
                Err(StorageError::Io {
                    action: "fsync log",
                    path,
                    source: error,
                })
            }
        }
    }

    /// Forgets written records: the snapshot now holds them, or our log was abandoned (its
    /// changes are still in memory and not durable, so the next persist writes them again to
    /// a new log).
    pub(crate) fn forget_written(&mut self) {
        self.written = None;
    }

    fn abandon_written(&mut self) {
        self.own_log = None;
        self.written = None;
    }
}
