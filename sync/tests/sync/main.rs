//! quire-sync end to end: real iroh endpoints on loopback, relays and public lookup off, real
//! data dirs on disk.

/// Helpers: peers with their own data dirs and nodes, edits, waiting for convergence.
mod support;

/// Live sync between connected peers: both ways, chains, concurrent claims, many groups.
mod live;

/// Who may sync and join: strangers, removed members, expired and used-up invites.
mod access;

/// Offline edits, restarts and catch-up.
mod offline;

/// Peers that send oversized frames, garbage, malicious sync messages, or stall and flood.
mod hostile;

/// Members whose modified client writes forbidden changes straight into the document and
/// syncs them: each refused by the device it reaches, never relayed, its sender named and cut
/// off, while honest edits keep flowing.
mod hostile_member;

/// Larger groups: gossip neighbors instead of a full mesh, announcements and pulls.
mod fanout;

/// A new member's first copy as a saved document: honest inviters of both protocol versions,
/// and inviters that send bombs, forged run lengths, truncated, foreign or garbage documents.
mod bootstrap;

/// Forks that edit, partition and sync in random orders through sans-IO sessions, one of them
/// hostile (a property test): the honest ones converge and hold no invalid change.
mod forks;

/// A member's personal document: synced among their own devices only, never to another
/// member's, and refused to one that asks for it.
mod personal;
