//! `saved_document`: what an inviter may send a new member on `quire/join/2`, a saved group
//! document, through the joiner's whole loader (`bootstrap::load`: the bounded walk, automerge's
//! load, the checks after it).
//!
//! Input: one mode byte, then
//! * mode 0: the bytes as the document, offered with the heads the walk finds in it (or none);
//! * mode 1: edits to the fixture group's saved document, three bytes each (position high,
//!   position low, new byte; a new byte of 0 cuts the document there), after which the
//!   chunk's length and checksum are made right again, so inputs get past the checksum.
//!
//! Asserts beyond "no panic": a document that loads has the offered heads and the ticket's
//! group, and saves into bytes that load again.

use automerge::{ActorId, Automerge, ChangeHash};
use quire_store::ids::GroupId;
use sha2::{Digest, Sha256};

use super::fixtures::{self, Input};
use crate::bootstrap;
use crate::saved_check::{DocLimits, check_saved_document};

/// The fixture group's id.
const GROUP: [u8; 16] = [9; 16];

/// Runs one input.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.byte() % 2;
    let document = match mode {
        0 => input.rest().to_vec(),
        _ => {
            let mut saved = fixtures::with_small_group(|doc| doc.save());
            while !input.is_empty() {
                let at = usize::from(u16::from_be_bytes([input.byte(), input.byte()]));
                let byte = input.byte();
                if saved.is_empty() {
                    break;
                }
                let at = at % saved.len();
                if byte == 0 {
                    saved.truncate(at.max(1));
                } else {
                    saved[at] = byte;
                }
            }
            fix_chunk_header(&mut saved);
            saved
        }
    };
    let heads: Vec<ChangeHash> =
        check_saved_document(&document, &DocLimits::for_len(document.len()))
            .map(|summary| summary.heads)
            .unwrap_or_default();
    let group = GroupId::from_bytes(GROUP);
    if let Ok(doc) = bootstrap::load(&document, &heads, group, ActorId::from(vec![7; 16])) {
        let mut got = doc.get_heads();
        let mut want = heads.clone();
        got.sort();
        want.sort();
        assert_eq!(got, want, "a loaded document has the offered heads");
        let saved = doc.save();
        assert!(
            Automerge::load(&saved).is_ok(),
            "a loaded document saves into bytes that load again"
        );
    }
}

/// Makes a document chunk's length and checksum agree with the bytes after its header, as an
/// honest writer would have written them.
pub fn fix_chunk_header(bytes: &mut Vec<u8>) {
    // Magic (4), checksum (4), type (1), then the data length.
    if bytes.len() < 10 {
        return;
    }
    let mut end = 9;
    while end < bytes.len() && bytes[end] & 0x80 != 0 {
        end += 1;
    }
    if end >= bytes.len() {
        return;
    }
    let data = bytes[end + 1..].to_vec();
    let mut typed = vec![bytes[8]];
    let mut len = data.len() as u64;
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            typed.push(byte);
            break;
        }
        typed.push(byte | 0x80);
    }
    let digest = Sha256::new()
        .chain_update(&typed)
        .chain_update(&data)
        .finalize();
    bytes.truncate(4);
    bytes.extend_from_slice(&digest[..4]);
    bytes.extend_from_slice(&typed);
    bytes.extend_from_slice(&data);
}
