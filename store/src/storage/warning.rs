//! Problems found while loading that did not stop the load.

use std::fmt;
use std::path::PathBuf;

/// Something wrong on disk that loading worked around.
///
/// Each warning is also logged with `tracing::warn!` when it happens; these are kept so the
/// application can show them to the person (see [`GroupStorage::warnings`]).
///
/// [`GroupStorage::warnings`]: super::GroupStorage::warnings
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadWarning {
    /// A dead process's log ended in a record that never fully reached the disk; it was ignored
    /// (and is cut off when the log is adopted).
    TornTail {
        /// The log.
        path: PathBuf,
        /// How many bytes at its end were ignored.
        dropped_bytes: u64,
    },
    /// An unreadable file was moved to the group's `quarantine/` directory. Whatever could be
    /// read from it before the damage was kept and is written again.
    Quarantined {
        /// Where the file was.
        from: PathBuf,
        /// Where it is now.
        to: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
}

impl fmt::Display for LoadWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadWarning::TornTail {
                path,
                dropped_bytes,
            } => write!(
                f,
                "dropped a torn {dropped_bytes}-byte tail from `{}`",
                path.display()
            ),
            LoadWarning::Quarantined { from, to, reason } => write!(
                f,
                "moved unreadable `{}` to `{}`: {reason}",
                from.display(),
                to.display()
            ),
        }
    }
}
