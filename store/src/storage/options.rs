//! Tunables of a group's storage.

/// When [`GroupStorage::persist`] compacts on its own.
///
/// Only logs this process could remove count: its own log and the logs of dead processes.
/// Logs of live processes are never removed by anyone but their owner, so counting them would
/// make every persist compact without shrinking anything.
///
/// [`GroupStorage::persist`]: super::GroupStorage::persist
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageOptions {
    /// Compact once the removable logs hold more than this many bytes, or more than the
    /// snapshot's size if that is larger. Default 1 MiB.
    pub compact_min_log_bytes: u64,
    /// Compact once there are more than this many removable logs. Default 32.
    pub compact_max_logs: usize,
}

impl Default for StorageOptions {
    fn default() -> Self {
        Self {
            compact_min_log_bytes: 1024 * 1024,
            compact_max_logs: 32,
        }
    }
}
