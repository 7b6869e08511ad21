//! The messages of the two protocols, besides automerge's own sync messages.
//!
//! `quire/sync/2`: the dialer opens one bidirectional stream and sends a [`SyncHello`] frame
//! naming the group; from then on both directions carry automerge sync messages with the
//! signatures that vouch for their changes, one per frame ([`crate::envelope`]). `quire/join/1`: the joiner sends a [`JoinRequest`], the acceptor answers with a
//! [`JoinReply`], and if it accepted, the stream goes on as a sync stream for that group.
//! Every frame is length-prefixed and capped (see [`crate::frame`]).

use serde::{Deserialize, Serialize};

/// ALPN of the sync protocol.
pub const SYNC_ALPN: &[u8] = b"quire/sync/2";
/// ALPN of the first join protocol: after the reply, the group flows by sync alone.
pub const JOIN_ALPN: &[u8] = b"quire/join/3";
/// ALPN of the join protocol that sends the group as a saved document first (see
/// [`crate::bootstrap_wire`]) between the reply and sync. A joiner offers both, an inviter
/// prefers this one, and each side speaks whichever was agreed.
pub const JOIN_ALPN_2: &[u8] = b"quire/join/4";

/// The cap on a hello, a join request or a join reply.
pub const MAX_HANDSHAKE: usize = 64 * 1024;
/// Longest display name or device label a joiner may send.
pub const MAX_NAME: usize = 200;

/// Connection close codes, so the other side can tell why.
pub mod close {
    /// Finished normally.
    pub const DONE: u32 = 0;
    /// Not a current device of the group (or no such group here).
    pub const NOT_A_MEMBER: u32 = 1;
    /// The peer broke the protocol: bad frame, bad sync message.
    pub const PROTOCOL: u32 = 2;
    /// Another connection between the same two devices for the same group is kept instead.
    pub const DUPLICATE: u32 = 3;
    /// This node is shutting down.
    pub const SHUTDOWN: u32 = 4;
    /// The peer fell too far behind reading what we send.
    pub const TOO_SLOW: u32 = 5;
    /// The peer sent a change the group's rules refuse, or one nobody signed.
    pub const FORBIDDEN: u32 = 6;
}

/// First frame of a sync stream.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SyncHello {
    /// The group, as its 16 id bytes.
    pub group: [u8; 16],
}

/// First frame of a join stream.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct JoinRequest {
    /// The group, as its 16 id bytes.
    pub group: [u8; 16],
    /// The ticket's secret; the acceptor hashes it and looks the hash up.
    pub secret: [u8; 32],
    /// The joiner's display name, for a member ticket.
    pub display_name: Option<String>,
    /// A label for the joining device.
    pub device_label: String,
}

/// The acceptor's answer to a [`JoinRequest`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum JoinReply {
    /// Joined; the document follows on this stream.
    Accepted {
        /// The member the device now belongs to, as its 16 id bytes.
        member: [u8; 16],
        /// That member's display name.
        display_name: String,
    },
    /// Refused, with the reason for the user.
    Refused {
        /// Why, one line.
        reason: String,
    },
}

/// Encodes a handshake message.
pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    postcard::to_stdvec(msg).unwrap_or_default()
}

/// Decodes a handshake message, naming what was wrong.
pub fn decode<'a, T: Deserialize<'a>>(what: &str, bytes: &'a [u8]) -> Result<T, String> {
    postcard::from_bytes(bytes).map_err(|e| format!("malformed {what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_request_round_trips_and_garbage_is_refused() {
        let req = JoinRequest {
            group: [7; 16],
            secret: [9; 32],
            display_name: Some("Ada".into()),
            device_label: "laptop".into(),
        };
        let bytes = encode(&req);
        assert_eq!(decode::<JoinRequest>("join request", &bytes).unwrap(), req);
        let err = decode::<JoinRequest>("join request", &bytes[..10]).unwrap_err();
        assert!(err.starts_with("malformed join request"), "{err}");
    }
}
