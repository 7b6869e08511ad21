//! Durable storage of groups: a compacted snapshot plus append-only logs, one per process,
//! safe with several processes on one data directory and with any of them killed at any time.
//!
//! # On disk
//!
//! ```text
//! <root>/device.key                             32 random bytes, mode 0600
//! <root>/groups/<group-id>/snapshot.automerge   a full Automerge::save()
//! <root>/groups/<group-id>/signatures           every actor's newest change signature
//! <root>/groups/<group-id>/log/<session>.log    one append-only log per writing process
//! <root>/groups/<group-id>/compact.lock         flock: shared to load, exclusive to compact
//! <root>/groups/<group-id>/quarantine/          unreadable files, moved here, never deleted
//! <root>/groups/<group-id>/view.cache           the model as last read (see `view_cache`)
//! ```
//!
//! The view cache is not part of the group's data: it is written and read by
//! [`crate::view_cache`], valid only while the snapshot and logs are exactly those a
//! [`Fingerprint`] names, and losing it costs only time.
//!
//! A log is a sequence of records `[u32 LE length][u32 LE crc32][payload]`; a payload is the
//! automerge change chunks of one persist (see `record`), possibly followed by a trailer of
//! change signatures (see `signature_block`). The document is the snapshot plus every record of
//! every log; automerge ignores changes it already has, so overlap is harmless and "write it
//! again" is always a safe answer to doubt.
//!
//! # Signatures
//!
//! The group's [`SignatureBook`](crate::SignatureBook) (the newest signature of each actor's
//! changes) is kept beside the document: signatures recorded with
//! [`GroupStorage::record_signature`] are written by the next persist in the same record as the
//! changes, so the record's crc makes a change and its signature durable together, and a torn
//! record loses both. Compaction writes the whole book to the `signatures` file (the snapshot
//! stays a plain automerge `save()`) before it removes any log. Loading reads that file, then
//! every record's trailer, keeping the newest signature per actor. A damaged `signatures` file
//! is quarantined like a damaged snapshot and the book is written again.
//!
//! # Processes
//!
//! * A process appends only to its own log, which it holds `flock`ed for its lifetime. A log
//!   whose lock can be taken belongs to a dead process: it may be adopted by the next process
//!   that needs a log (its torn tail cut off) or deleted by a compaction that absorbed it.
//! * Persisting is `write_all` + `sync_data` of one batch of records; a failed append is cut
//!   back off, so logs only ever hold complete records plus, after a crash, one torn tail.
//!   `write` appends without the `sync_data`, for a process that wants readers to see a change
//!   at once; the next persist syncs it before it counts as durable.
//! * A reader fsyncs a log before the records it read from it count as durable: its writer may
//!   not have fsynced them yet, and an edit built on them must not outlive them in a power cut.
//! * Every file and directory made is made durable in its parent by an fsync of the parent
//!   before anything relies on it (new logs, snapshots, group and data directories).
//! * Readers never block writers: they read complete records of live logs and come back later
//!   for the rest. Compaction takes `compact.lock` exclusively so no reader sees a snapshot
//!   replaced without the logs it absorbed being gone, or the other way round.
//! * Damage is never fatal and never deleted: a torn tail of a dead log is dropped with a
//!   warning; an unreadable snapshot or a corrupt dead log is moved to `quarantine/`, whatever
//!   could be read from it is kept and written again, and the group loads from what is left.
//!
//! # Power loss
//!
//! Every change to the group's data on the file system goes through one module (`disk`); the
//! view cache, which holds nothing the snapshot and logs do not, is written apart. With the
//! `power-loss-sim` feature, `power_loss` records them and rebuilds what a disk could hold had
//! the power failed after any of them; the crate's tests check every acknowledged edit survives.
//!
//! # Use
//!
//! [`DataDir::open`] a data directory, [`DataDir::create_group`] or [`DataDir::open_group`] to
//! get a [`GroupStorage`], edit [`GroupStorage::doc_mut`], [`GroupStorage::persist`], and call
//! [`GroupStorage::refresh`] when a [`GroupWatcher`] says something changed.

mod chunks;
mod compaction;
mod data_dir;
mod device_key;
mod disk;
mod error;
mod fingerprint;
mod fsutil;
mod group_storage;
mod layout;
mod load;
mod lock;
mod log_file;
mod options;
#[cfg(feature = "power-loss-sim")]
pub mod power_loss;
mod record;
mod signature_block;
mod signature_file;
mod warning;
mod watch;
mod write_behind;

#[cfg(test)]
mod tests;

pub use compaction::CompactStats;
pub use data_dir::DataDir;
pub use error::StorageError;
pub use fingerprint::Fingerprint;
pub use group_storage::{GroupStorage, PersistOutcome};
pub use options::StorageOptions;
pub use warning::LoadWarning;
pub use watch::GroupWatcher;
