//! The view cache: a group's model as last read, kept beside its files, so that a client can
//! show the group at once and load the document behind it.
//!
//! Loading a large group's document takes automerge about a second, and reading it into the
//! model another. A client that kept what it last showed can show that in a tenth of the time,
//! if it is still true. So next to `snapshot.automerge` and `log/` lies `view.cache`: the model
//! ([`model::Group`], unreadable entries included), the document heads it was read at, the
//! newest of the history the client shows, and the [`Fingerprint`] of the files that document
//! was loaded from.
//!
//! * **Valid** only while the group's files are exactly those: [`read_current`] compares the
//!   fingerprint with one taken from the files now, without reading them. Anything written
//!   since (another process, a compaction, a peer's change saved by another process) makes the
//!   cache stale; the client then opens the group in full and writes the cache again.
//! * **Never trusted for more than a view.** The document is loaded behind it all the same;
//!   [`crate::Group::adopt_view`] takes the cached model as the live view only if the document
//!   holds the heads it was read at, and catches it up from there.
//! * **Never an error a user sees.** A cache that is missing, stale, damaged, cut short or of
//!   another format is ignored, and replaced by the next write.
//!
//! # Format
//!
//! ```text
//! "QUIREVC\n" | format: u32 LE | build: the crate version, postcard string
//!             | payload: postcard | payload length: u64 LE | crc32 of the payload: u32 LE
//! ```
//!
//! The payload is the [`CachedView`] in postcard, ids as bytes and times as nanoseconds (the
//! model's binary serde form). [`FORMAT`] changes whenever the payload or what the model holds
//! does; the build string makes a cache written by another version of Quire, which may read the
//! document differently, stale too. The checksum at the end catches a file cut short or
//! damaged: the cache is written to a temporary file and renamed into place, but not fsynced
//! (it is only a cache), so after a power cut it may hold anything.
//!
//! Encoding and decoding ([`encode`], [`decode`]) are plain functions over bytes; [`read`],
//! [`read_current`] and [`write()`] are the thin file-system driver around them.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use automerge::ChangeHash;
use serde::{Deserialize, Serialize};

use crate::exchange::activity::Change;
use crate::model::{self, SkippedEntry};
use crate::storage::{Fingerprint, StorageError};

/// The cache's file name inside the group directory.
pub const FILE_NAME: &str = "view.cache";
/// Where the next cache is written before it is renamed over [`FILE_NAME`].
pub const TMP_FILE_NAME: &str = "view.cache.tmp";

/// The file's first bytes.
const MAGIC: &[u8; 8] = b"QUIREVC\n";
/// The version of the payload. Change it whenever [`CachedView`] or the model types change.
pub const FORMAT: u32 = 2;
/// The build that wrote the cache: another version may read the document another way.
const BUILD: &str = env!("CARGO_PKG_VERSION");

/// What the view cache holds.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedView {
    /// The files the document was loaded from.
    pub fingerprint: Fingerprint,
    /// The document's heads when the model was read.
    pub heads: Vec<ChangeHash>,
    /// The model, as read at those heads.
    pub group: model::Group,
    /// The newest changes of the document's history, oldest first: as many as the client
    /// shows.
    pub history: Vec<Change>,
}

impl CachedView {
    /// The view, borrowed, as [`encode`] and [`write()`] take it.
    pub fn as_ref(&self) -> ViewRef<'_> {
        ViewRef {
            fingerprint: &self.fingerprint,
            heads: &self.heads,
            group: &self.group,
            history: &self.history,
        }
    }
}

/// A [`CachedView`] borrowed from whoever holds its parts (an open group), to write.
#[derive(Debug, Clone, Copy)]
pub struct ViewRef<'a> {
    /// The files the document was loaded from.
    pub fingerprint: &'a Fingerprint,
    /// The document's heads when the model was read.
    pub heads: &'a [ChangeHash],
    /// The model, as read at those heads.
    pub group: &'a model::Group,
    /// The newest changes of the document's history, oldest first.
    pub history: &'a [Change],
}

/// Why a view cache could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ViewCacheError {
    /// There is none.
    #[error("no view cache at `{}`", path.display())]
    Missing {
        /// Where it would be.
        path: PathBuf,
    },
    /// Reading or writing it failed.
    #[error("cannot {action} the view cache `{}`", path.display())]
    Io {
        /// What was being done ("read", "write", "replace").
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// Its files could not be statted, to compare them with the cache.
    #[error("cannot check the view cache against the group's files")]
    Storage(#[from] StorageError),
    /// It does not start as a view cache does.
    #[error("not a view cache (it starts with {found:02x?})")]
    NotACache {
        /// Its first bytes, up to eight.
        found: Vec<u8>,
    },
    /// It was written in another format, or by another version of Quire.
    #[error("view cache format {found} of Quire {build}; this is format {FORMAT} of Quire {BUILD}")]
    OtherVersion {
        /// Its format.
        found: u32,
        /// The version of Quire that wrote it.
        build: String,
    },
    /// Cut short or damaged.
    #[error("view cache damaged: {0}")]
    Damaged(String),
    /// The group's files changed since the cache was made.
    #[error("view cache is stale: the group's files changed since it was written")]
    Stale,
    /// Another process is writing the cache right now.
    #[error("another process is writing the view cache `{}`", path.display())]
    Busy {
        /// The temporary file it writes.
        path: PathBuf,
    },
    /// The view could not be encoded.
    #[error("cannot encode the view cache: {0}")]
    Encode(String),
}

/// The payload as written: borrowed from the caller.
#[derive(Serialize)]
struct PayloadRef<'a> {
    fingerprint: &'a Fingerprint,
    heads: Vec<[u8; 32]>,
    group: &'a model::Group,
    skipped: &'a [SkippedEntry],
    history: &'a [Change],
}

/// The payload as read.
#[derive(Deserialize)]
struct Payload {
    fingerprint: Fingerprint,
    heads: Vec<[u8; 32]>,
    group: model::Group,
    skipped: Vec<SkippedEntry>,
    history: Vec<Change>,
}

/// Writes `view` to `out` in the cache format.
pub fn encode(view: ViewRef<'_>, out: impl Write) -> Result<(), ViewCacheError> {
    let payload = PayloadRef {
        fingerprint: view.fingerprint,
        heads: view.heads.iter().map(|h| h.0).collect(),
        group: view.group,
        // The model's serde form leaves them out (the JSON export does not show them).
        skipped: &view.group.skipped,
        history: view.history,
    };
    let encode_error = |e: postcard::Error| ViewCacheError::Encode(e.to_string());
    let io_error = |e: io::Error| ViewCacheError::Encode(e.to_string());
    let mut out = out;
    out.write_all(MAGIC).map_err(io_error)?;
    out.write_all(&FORMAT.to_le_bytes()).map_err(io_error)?;
    let out = postcard::to_io(BUILD, out).map_err(encode_error)?;
    let summed = postcard::to_io(&payload, Summing::new(out)).map_err(encode_error)?;
    let (len, crc, mut out) = summed.finish().map_err(io_error)?;
    out.write_all(&len.to_le_bytes()).map_err(io_error)?;
    out.write_all(&crc.to_le_bytes()).map_err(io_error)?;
    out.flush().map_err(io_error)
}

/// Reads a view cache from `bytes`, checking its format, version and checksum.
pub fn decode(bytes: &[u8]) -> Result<CachedView, ViewCacheError> {
    let Some(rest) = bytes.strip_prefix(MAGIC) else {
        return Err(ViewCacheError::NotACache {
            found: bytes.iter().take(MAGIC.len()).copied().collect(),
        });
    };
    let damaged = |what: &str| ViewCacheError::Damaged(what.to_owned());
    let (format, rest) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| damaged("no format"))?;
    let format = u32::from_le_bytes(*format);
    if format != FORMAT {
        // What follows may be laid out otherwise.
        return Err(ViewCacheError::OtherVersion {
            found: format,
            build: "?".to_owned(),
        });
    }
    let (build, rest) =
        postcard::take_from_bytes::<&str>(rest).map_err(|_| damaged("no version of Quire"))?;
    if build != BUILD {
        return Err(ViewCacheError::OtherVersion {
            found: format,
            build: build.chars().take(40).collect(),
        });
    }
    let (payload, len, crc) = split_trailer(rest).ok_or_else(|| damaged("cut short"))?;
    if len != payload.len() as u64 {
        return Err(ViewCacheError::Damaged(format!(
            "{} bytes of payload, the trailer says {len}",
            payload.len()
        )));
    }
    if crc32fast::hash(payload) != crc {
        return Err(damaged("checksum mismatch"));
    }
    let payload: Payload = postcard::from_bytes(payload)
        .map_err(|e| ViewCacheError::Damaged(format!("cannot decode it: {e}")))?;
    let mut group = payload.group;
    group.skipped = payload.skipped;
    Ok(CachedView {
        fingerprint: payload.fingerprint,
        heads: payload.heads.into_iter().map(ChangeHash).collect(),
        group,
        history: payload.history,
    })
}

/// Splits the payload from the trailer after it: the payload, the length and the checksum the
/// trailer gives.
fn split_trailer(bytes: &[u8]) -> Option<(&[u8], u64, u32)> {
    let (rest, crc) = bytes.split_last_chunk::<4>()?;
    let (payload, len) = rest.split_last_chunk::<8>()?;
    Some((payload, u64::from_le_bytes(*len), u32::from_le_bytes(*crc)))
}

/// Reads the view cache of the group in `group_dir`, whatever files it was made from.
pub fn read(group_dir: &Path) -> Result<CachedView, ViewCacheError> {
    let path = group_dir.join(FILE_NAME);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(ViewCacheError::Missing { path });
        }
        Err(source) => {
            return Err(ViewCacheError::Io {
                action: "read",
                path,
                source,
            });
        }
    };
    decode(&bytes)
}

/// Reads the view cache of the group in `group_dir` (see [`DataDir::group_path`]) if it was
/// made from the group's files as they are now.
///
/// [`DataDir::group_path`]: crate::storage::DataDir::group_path
pub fn read_current(group_dir: &Path) -> Result<CachedView, ViewCacheError> {
    let view = read(group_dir)?;
    if Fingerprint::on_disk(group_dir)? != view.fingerprint {
        return Err(ViewCacheError::Stale);
    }
    Ok(view)
}

/// Writes `view` as the view cache of the group in `group_dir`, replacing the old one
/// atomically: to a temporary file first, renamed into place. Not fsynced; [`decode`] refuses
/// whatever a crash leaves.
///
/// Two processes writing at once do not mix their bytes: the temporary file is locked while
/// written, and a writer that finds it locked leaves it to the other ([`ViewCacheError::Busy`]).
pub fn write(group_dir: &Path, view: ViewRef<'_>) -> Result<(), ViewCacheError> {
    let tmp = group_dir.join(TMP_FILE_NAME);
    let io_error = |action, path: &Path| {
        let path = path.to_path_buf();
        move |source| ViewCacheError::Io {
            action,
            path,
            source,
        }
    };
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(false);
    let file = options.open(&tmp).map_err(io_error("create", &tmp))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => return Err(ViewCacheError::Busy { path: tmp }),
        Err(fs::TryLockError::Error(e)) => return Err(io_error("lock", &tmp)(e)),
    }
    // Locked, but perhaps only after its last writer renamed it into place and let go: then it
    // is the cache itself, not to be written over.
    if !same_file(&file, &tmp) {
        return Err(ViewCacheError::Busy { path: tmp });
    }
    file.set_len(0).map_err(io_error("truncate", &tmp))?;
    if let Err(e) = encode(view, BufWriter::with_capacity(1 << 16, &file)) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    let path = group_dir.join(FILE_NAME);
    fs::rename(&tmp, &path).map_err(io_error("replace", &path))?;
    drop(file);
    Ok(())
}

/// Whether `file` is the file at `path`.
fn same_file(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        true
    }
}

/// A writer that passes bytes on in blocks, counting them and summing them with crc32 on the
/// way (postcard writes byte by byte).
struct Summing<W> {
    inner: W,
    block: Vec<u8>,
    crc: crc32fast::Hasher,
    len: u64,
}

impl<W: Write> Summing<W> {
    const BLOCK: usize = 1 << 16;

    fn new(inner: W) -> Self {
        Self {
            inner,
            block: Vec::with_capacity(Self::BLOCK),
            crc: crc32fast::Hasher::new(),
            len: 0,
        }
    }

    fn flush_buffer(&mut self) -> io::Result<()> {
        self.crc.update(&self.block);
        self.len += self.block.len() as u64;
        self.inner.write_all(&self.block)?;
        self.block.clear();
        Ok(())
    }

    /// Passes the rest on; returns how many bytes went through, their checksum, and the
    /// writer.
    fn finish(mut self) -> io::Result<(u64, u32, W)> {
        self.flush_buffer()?;
        Ok((self.len, self.crc.finalize(), self.inner))
    }
}

impl<W: Write> Write for Summing<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.block.extend_from_slice(bytes);
        if self.block.len() >= Self::BLOCK {
            self.flush_buffer()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_buffer()?;
        self.inner.flush()
    }
}
