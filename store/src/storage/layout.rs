//! Names of things inside a data directory and a group directory.
//!
//! ```text
//! <root>/device.key                         32 random bytes, mode 0600
//! <root>/groups/<group-id>/snapshot.automerge
//! <root>/groups/<group-id>/signatures
//! <root>/groups/<group-id>/log/<session>.log
//! <root>/groups/<group-id>/compact.lock
//! <root>/groups/<group-id>/quarantine/<name>.<timestamp>
//! <root>/groups/<group-id>/view.cache          (crate::view_cache)
//! <root>/documents/<group-id>/<document>/...   (crate::documents: laid out as a group)
//! ```

use std::fs;
use std::io;
use std::path::Path;

use super::error::{IoContext, StorageError};

/// The directory of groups inside a data directory.
pub(crate) const GROUPS_DIR: &str = "groups";
/// The directory of documents beside groups (crate::documents), one folder per group.
pub(crate) const DOCUMENTS_DIR: &str = "documents";
/// The device key inside a data directory.
pub(crate) const DEVICE_KEY: &str = "device.key";
/// A group's snapshot.
pub(crate) const SNAPSHOT: &str = "snapshot.automerge";
/// Where a compaction writes the next snapshot before renaming it over [`SNAPSHOT`].
pub(crate) const SNAPSHOT_TMP: &str = "snapshot.automerge.tmp";
/// A group's signatures as of its last compaction (see `signature_file`).
pub(crate) const SIGNATURES: &str = "signatures";
/// Where a compaction writes the next [`SIGNATURES`] before renaming it into place.
pub(crate) const SIGNATURES_TMP: &str = "signatures.tmp";
/// A group's directory of logs.
pub(crate) const LOG_DIR: &str = "log";
/// The suffix of a log file.
pub(crate) const LOG_SUFFIX: &str = ".log";
/// The suffix of a log being created (not yet renamed to [`LOG_SUFFIX`]).
pub(crate) const LOG_TMP_SUFFIX: &str = ".log.tmp";

/// The names in `log_dir` ending in `suffix`, sorted; none if the directory does not exist.
pub(crate) fn list_names(log_dir: &Path, suffix: &str) -> Result<Vec<String>, StorageError> {
    let entries = match fs::read_dir(log_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).at("list logs in", log_dir),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.at("list logs in", log_dir)?;
        if let Some(name) = entry.file_name().to_str()
            && name.ends_with(suffix)
            && name.len() > suffix.len()
        {
            names.push(name.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// The log files (`*.log`) in `log_dir`, sorted.
pub(crate) fn list_logs(log_dir: &Path) -> Result<Vec<String>, StorageError> {
    list_names(log_dir, LOG_SUFFIX)
}
