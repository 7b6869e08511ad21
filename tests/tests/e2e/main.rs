//! End-to-end tests with real processes and a real file system.

/// Running `quire` and the crash writer as child processes.
mod support;

/// Hosts in network namespaces on a bridge, whose links can be cut and traffic blocked.
mod lan;

/// One device under test: a data dir and its `quire serve`, in a namespace or on loopback.
mod host;

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

/// Five hosts add unique entries through a random schedule of partitions and heals; after the
/// final heal every acknowledged entry is on every host and all derived views agree. Skips
/// loudly without root, `ip` or `nft`.
mod partition_set;

/// A dozen peers on loopback editing steadily: nothing lost, memory, open files and
/// connections stay bounded.
mod soak;
