//! `ticket`: invite tickets as a person might paste them, or as a forger might make them.
//!
//! Input: one mode byte, then the rest. Mode 0 reads the rest as the pasted text (if it is
//! UTF-8). Otherwise the rest is the ticket's binary form (version byte and body), armored
//! here with a correct checksum, so the fuzzer reaches the body's decoding behind the checksum.
//! A ticket that reads must write out and read back as the same ticket.

use std::str::FromStr;

use data_encoding::BASE32_NOPAD;
use sha2::{Digest, Sha256};

use super::fixtures::Input;
use crate::ticket::Ticket;

/// Runs one input.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.byte();
    let rest = input.rest();
    let text = if mode == 0 {
        match std::str::from_utf8(rest) {
            Ok(text) => text.to_owned(),
            Err(_) => return,
        }
    } else {
        armor(rest)
    };
    let Ok(ticket) = Ticket::from_str(&text) else {
        return;
    };
    let written = ticket.to_string();
    let again = Ticket::from_str(&written).expect("a ticket we wrote reads back");
    assert_eq!(again, ticket, "ticket changed on a round trip");
}

/// What a ticket's armor is: `quire1`, then lowercase unpadded base32 of the bytes followed by
/// the first four bytes of their sha256.
fn armor(bytes: &[u8]) -> String {
    let mut all = bytes.to_vec();
    all.extend_from_slice(&Sha256::digest(bytes)[..4]);
    format!("quire1{}", BASE32_NOPAD.encode(&all).to_ascii_lowercase())
}
