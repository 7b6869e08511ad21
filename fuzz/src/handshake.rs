//! `handshake`: the first frame of a join or sync stream, decoded as each message it could be.
//! A message that decodes must encode back to bytes that decode to the same message.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::wire::{JoinReply, JoinRequest, MAX_HANDSHAKE, SyncHello, decode, encode};

/// Runs one input.
pub fn run(data: &[u8]) {
    if data.len() > MAX_HANDSHAKE {
        // The frame reader refuses a longer handshake before it is decoded.
        return;
    }
    round_trips::<JoinRequest>("join request", data);
    round_trips::<JoinReply>("join reply", data);
    round_trips::<SyncHello>("sync hello", data);
}

fn round_trips<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(
    what: &str,
    data: &[u8],
) {
    let Ok(msg) = decode::<T>(what, data) else {
        return;
    };
    let again: T = decode(what, &encode(&msg)).expect("a message we encoded decodes");
    assert_eq!(again, msg, "{what} changed on a round trip");
}
