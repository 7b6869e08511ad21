//! `saved_document`: what an inviter may send a new member on `quire/join/2`, a saved group
//! document and the signatures that vouch for its changes, through the joiner's whole path:
//! the loader (`bootstrap::load`: the bounded walk, automerge's load, the checks after it),
//! then `verify_history` (every change signed by its device and accepted by the group's rules
//! at its own past) with the signatures, as the joiner does before it writes anything.
//!
//! Input: one mode byte, then
//! * mode 0: the bytes as the document, offered with the heads the walk finds in it (or none),
//!   and the fixture group's signatures;
//! * mode 1: edits to the fixture group's saved document, three bytes each (position high,
//!   position low, new byte; a new byte of 0 cuts the document there), after which the
//!   chunk's length and checksum are made right again, so inputs get past the checksum; and
//!   the fixture group's signatures;
//! * mode 2: the fixture group's saved document as it is, with the bytes as the encoded list
//!   of signatures (`SignatureBook::decode_entries`), its checksum made right again.
//!
//! Asserts beyond "no panic": a document that loads has the offered heads and the ticket's
//! group, and saves into bytes that load again; with the fixture's signatures it verifies if
//! and only if it is the fixture group (same heads): nothing edited passes as signed; and a
//! list of signatures that verifies the fixture group holds a valid signature for every one of
//! its actors.

use automerge::{ActorId, Automerge, ChangeHash};
use quire_store::SignatureBook;
use quire_store::ids::GroupId;
use sha2::{Digest, Sha256};

use super::fixtures::{self, Input};
use super::load_chunks::crc32;
use crate::bootstrap;
use crate::saved_check::{DocLimits, check_saved_document};
use crate::signing::verify_change;
use crate::verify::verify_history;

/// The fixture group's id.
const GROUP: [u8; 16] = [9; 16];

/// Runs one input.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.byte() % 3;
    let signed = fixtures::signatures();
    let (document, signatures) = match mode {
        0 => (input.rest().to_vec(), signed),
        1 => {
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
            (saved, signed)
        }
        _ => {
            let mut list = input.rest().to_vec();
            fix_list_checksum(&mut list);
            let mut book = SignatureBook::new();
            for (actor, sig) in SignatureBook::decode_entries(&list).unwrap_or_default() {
                book.record(actor, sig);
            }
            (fixtures::with_small_group(|doc| doc.save()), book)
        }
    };
    let heads: Vec<ChangeHash> =
        check_saved_document(&document, &DocLimits::for_len(document.len()))
            .map(|summary| summary.heads)
            .unwrap_or_default();
    let group = GroupId::from_bytes(GROUP);
    let Ok(doc) = bootstrap::load(&document, &heads, group, ActorId::from(vec![7; 16])) else {
        return;
    };
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
    let verified = verify_history(&doc, &signatures);
    if mode == 2 {
        if let Ok(book) = verified {
            for meta in doc.get_changes_meta(&[]) {
                let sig = book.newest(&meta.actor);
                let device = quire_store::device_of_actor(&meta.actor);
                assert!(
                    sig.zip(device).is_some_and(|(sig, d)| verify_change(
                        d,
                        &sig.hash,
                        &sig.signature
                    )),
                    "a verified group has a valid signature for each of its actors"
                );
            }
        }
        return;
    }
    let mut fixture = fixtures::with_small_group(|doc| doc.get_heads());
    fixture.sort();
    match verified {
        Ok(_) => assert_eq!(got, fixture, "an edited group passed as signed"),
        Err(e) => assert_ne!(got, fixture, "the fixture group does not verify: {e}"),
    }
}

/// Makes a signature list's checksum (its last four bytes, a crc32 of the rest) agree with
/// the rest, as an honest writer would have written it.
pub fn fix_list_checksum(list: &mut [u8]) {
    if list.len() < 9 {
        return;
    }
    let (body, crc) = list.split_at_mut(list.len() - 4);
    crc.copy_from_slice(&crc32(body).to_le_bytes());
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
