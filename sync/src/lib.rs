//! `quire-sync`: keeps every member device's copy of a group's document in sync, directly,
//! over [iroh] — no server.
//!
//! # The model
//! Each device runs one [`Node`]: one iroh endpoint whose secret key (the data dir's
//! `device.key`) is the device's identity; the group document lists each member's devices by
//! that key. A node syncs every group in its data dir with every current member device it can
//! reach, live while connected and by catch-up after any time offline.
//!
//! * `quire/join/1` ([`join`]): a device with a [`Ticket`] presents its secret; a member
//!   device holding the invite (only the secret's hash is in the document) checks it and
//!   adds the member or device, and the document flows to the joiner. `quire/join/2` first
//!   sends the group as a saved document ([`bootstrap`]), which the joiner walks with bounds
//!   ([`saved_check`]) before automerge loads it.
//! * `quire/sync/1`: the dialer names a group; the acceptor refuses unless the remote
//!   endpoint is a current device of that group. Then automerge's sync protocol runs both
//!   ways as long as the connection lives: every change, local or remote, is offered to every
//!   connected peer at once. A peer relays what it learned, so a chain converges.
//! * Frames are length-prefixed and capped ([`frame`]); every sync message is checked
//!   ([`sync_check`]) before automerge parses it, since automerge trusts its input; a peer
//!   that sends anything wrong is disconnected and our document is untouched.
//! * One actor per group, on its own thread, owns the group's document and sessions; a
//!   dialer with backoff keeps trying member devices at the addresses this device last saw
//!   them ([`peer_book`]), found by iroh's address lookup, or on the LAN by mDNS.
//! * Fan-out ([`fanout`]): a small group is a full mesh. In a larger one each device keeps
//!   sessions only with its neighbors in the group's iroh-gossip swarm (only member devices
//!   are let into it), and edits flood the swarm session by session. Gossip itself carries
//!   nothing but small "new heads" [`announce`]ments, on which a device that has not received
//!   the heads a moment later pulls them by pairwise sync from the device that announced them.
#![warn(missing_docs)]

pub mod announce;
mod atomic_file;
pub mod backoff;
pub mod bootstrap;
pub mod bootstrap_wire;
mod change_ops;
mod columns;
pub mod config;
mod documents;
pub mod envelope;
mod error;
pub mod fanout;
pub mod frame;
#[cfg(test)]
mod fuzz_regressions;
mod gossip;
mod group_actor;
pub mod held;
mod invite;
pub mod join;
mod join_bootstrap;
mod node;
pub mod peer_book;
mod protocols;
pub mod saved_check;
pub mod seq_index;
pub mod session;
mod shared;
pub mod signing;
pub mod status;
mod stream;
pub mod sync_check;
pub mod ticket;
pub mod verify;
pub mod wire;

pub use config::{NodeConfig, RelayChoice};
pub use error::SyncError;
pub use fanout::Fanout;
pub use invite::{InviteOptions, create_ticket};
pub use join::Joined;
pub use node::{Node, NodeHandle, bind_endpoint, node_running};
pub use shared::{SyncEvent, device_of, endpoint_of};
pub use ticket::{InviteSecret, Ticket, TicketKind};
