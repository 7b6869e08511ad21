//! End-to-end tests with real processes and a real file system.

/// Running `quire` and the crash writer as child processes.
mod support;

/// SIGKILL a writing process at random moments: every acknowledged edit survives.
mod crash;

/// Damaged files: the group still opens with what is good; the rest is kept aside.
mod corruption;

/// Several processes on one data dir: none loses another's changes, and a running process
/// sees the others' changes by itself.
mod processes;

/// `quire serve`, `invite`, `join` and `status` as separate processes on loopback.
mod sync_processes;

/// Three hosts in network namespaces on a bridge: cut one off, edit on both sides, heal,
/// converge. Skips loudly without root or `ip`.
mod netns;
