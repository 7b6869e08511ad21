//! Integration tests of `quire-store`: one binary, one module per area.

/// Shared fixtures: a group with a few members, held in memory.
mod support;

/// The operations and their validation: each refusal names the bad value and writes nothing.
mod ops;

/// Invites, joining with them, removing members, and the fast read of who may sync.
mod membership;

/// Forks edited concurrently and merged in any order converge, derived views included.
mod convergence;

/// A group kept on a real file system through `Group`.
mod durable;

/// Power cut at any step of a recorded workload: every acknowledged edit survives.
#[cfg(unix)]
mod power_loss;

/// The critique exchange: rules over time, credits and ledgers, tips, claims that lapse and
/// move up, suggestions, reliability and activity.
mod exchange;

/// The activity feed: each change described from its ops, never from its message.
mod activity;

/// The view cache: written beside a group's files, valid for exactly those files, refused
/// (never fatal) when stale, damaged or foreign.
mod view_cache;

/// Authority: every change judged against the group at its own past; each forbidden write of a
/// hostile member's device is refused.
mod authority;

/// Change signatures kept with a group: in the same log records as their changes, in the
/// `signatures` file after compaction, seen by other processes, never lost to a power cut.
#[cfg(unix)]
mod signatures;

/// What needs a member: derived from the group and their personal document's read state.
mod inbox;
