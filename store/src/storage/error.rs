//! The one error type of the storage layer.
//!
//! Every variant names the file or directory it is about, so a message such as
//! "cannot read snapshot `…/groups/7f3a…/snapshot.automerge`: permission denied" is enough to
//! act on without a backtrace.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use super::record::MAX_PAYLOAD_LEN;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// A filesystem operation failed.
    #[error("cannot {action} `{}`", path.display())]
    Io {
        /// What was being done, as a verb phrase ("read snapshot", "fsync directory").
        action: &'static str,
        /// The file or directory it was done to.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// `create_group` found the group directory already there.
    #[error("group `{}` already exists", path.display())]
    GroupExists {
        /// The group directory.
        path: PathBuf,
    },
    /// `open_group` found no group directory.
    #[error("group `{}` does not exist", path.display())]
    GroupNotFound {
        /// The group directory that is missing.
        path: PathBuf,
    },
    /// Neither the snapshot nor any log record of a group could be loaded.
    #[error("group `{}` has no readable data; quarantined: {}", path.display(), PathList(quarantined))]
    NoReadableData {
        /// The group directory.
        path: PathBuf,
        /// Files moved to the quarantine while trying (may be empty).
        quarantined: Vec<PathBuf>,
    },
    /// The device key file exists but is not 32 bytes long.
    #[error("device key `{}` is {len} bytes long, expected 32", path.display())]
    BadDeviceKey {
        /// The key file.
        path: PathBuf,
        /// Its actual length.
        len: u64,
    },
    /// One automerge change is bigger than a log record may be.
    #[error(
        "cannot append to `{}`: a {len}-byte change is over the {MAX_PAYLOAD_LEN}-byte record cap",
        path.display()
    )]
    ChangeTooLarge {
        /// The log it was to be appended to.
        path: PathBuf,
        /// The size of the change.
        len: usize,
    },
    /// More signatures await writing than fit in a log record beside the changes.
    #[error("cannot append to `{}`: {count} signatures are too many for one record", path.display())]
    SignaturesTooLarge {
        /// The log they were to be appended to.
        path: PathBuf,
        /// How many there were.
        count: usize,
    },
    /// The operating system's random number generator failed.
    #[error("cannot generate random bytes for `{}`", path.display())]
    Random {
        /// The file the bytes were for.
        path: PathBuf,
        /// What the generator said.
        source: getrandom::Error,
    },
    /// A file-system watch could not be set up.
    #[error("cannot watch `{}`", path.display())]
    Watch {
        /// The directory to watch.
        path: PathBuf,
        /// What notify said.
        #[source]
        source: notify::Error,
    },
}

/// Paths joined by ", ", or "nothing" for none.
struct PathList<'a>(&'a [PathBuf]);

impl fmt::Display for PathList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("nothing");
        }
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "`{}`", p.display())?;
        }
        Ok(())
    }
}

/// Attaches an action and a path to an `io::Result`.
pub(super) trait IoContext<T> {
    /// Turns an I/O error into [`StorageError::Io`] naming `action` and `path`.
    fn at(self, action: &'static str, path: &Path) -> Result<T, StorageError>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn at(self, action: &'static str, path: &Path) -> Result<T, StorageError> {
        self.map_err(|source| StorageError::Io {
            action,
            path: path.to_path_buf(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line_and_name_the_path() {
        let err = Err::<(), _>(io::Error::from(io::ErrorKind::PermissionDenied))
            .at("read snapshot", Path::new("groups/7f3a/snapshot.automerge"))
            .unwrap_err();
        // The cause is the error's source, so a chain printer (`{:#}` in anyhow) shows it
        // once: "cannot read snapshot `…`: permission denied".
        assert_eq!(
            err.to_string(),
            "cannot read snapshot `groups/7f3a/snapshot.automerge`"
        );
        let cause = std::error::Error::source(&err).map(ToString::to_string);
        assert_eq!(cause.as_deref(), Some("permission denied"));
        let err = StorageError::NoReadableData {
            path: "g".into(),
            quarantined: vec!["g/quarantine/a".into(), "g/quarantine/b".into()],
        };
        assert_eq!(
            err.to_string(),
            "group `g` has no readable data; quarantined: `g/quarantine/a`, `g/quarantine/b`"
        );
    }
}
