//! `sync_message`: a frame from a peer (an automerge sync message and the signatures that vouch
//! for its changes, [`crate::envelope`]), checked, vouched for and judged through a
//! [`PeerSession`] on a real group whose changes are all signed, as a group actor takes every
//! frame: the fixture group, its signatures, an authority seeded with it, and a session with
//! member 1's device.
//!
//! Input: one mode byte, then the frame or the message.
//! * bit 1 (`2`): the rest is a whole frame, as sent on the wire; without it, the rest is a
//!   bare sync message (the form of the crashers kept from before frames carried signatures),
//!   framed here with no signatures;
//! * bit 0 (`1`): the checksums of the message's change chunks are fixed up first, so
//!   mutations reach automerge's change parsing instead of stopping at a checksum mismatch;
//! * bit 2 (`4`): the signatures are replaced by the fixture devices' own, over each actor's
//!   newest change in the message (actors that name a fixture device), so mutated changes get
//!   past the signatures to the group's rules.
//!
//! Asserts beyond "no panic": whatever the session applied, accepted or not, the whole history
//! still passes `verify_history` with the signatures the session vouched for it with: every
//! change signed by its device and accepted by the rules at its own past. A frame whose
//! framing is bad, or whose changes would be held past the bounds, leaves the document as it
//! was. An accepted frame leaves a
//! document that can still be read, answered, measured, and saved into bytes that load again.

use std::collections::HashMap;

use automerge::{ActorId, Change, ChangeHash};
use quire_store::doc;
use sha2::{Digest, Sha256};

use super::fixtures::{self, Input};
use crate::envelope::{self, Offered};
use crate::session::{PeerError, PeerSession, Voucher};
use crate::signing::sign_change;
use crate::sync_check::{Limits, check_sync_message};
use crate::verify::verify_history;

/// Small enough that the fuzzer reaches every limit.
const LIMITS: Limits = Limits {
    max_hashes: 64,
    max_haves: 4,
    max_bloom_entries: 4096,
    max_changes: 64,
};

/// Mode bits.
const FIX_CHECKSUMS: u8 = 1;
const WHOLE_FRAME: u8 = 2;
const RESIGN: u8 = 4;

/// Runs one input.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.byte();
    let frame = frame_from(mode, input.rest());
    if let Ok((message, _)) = envelope::decode(&frame) {
        // The check alone, with the limits a node uses and with small ones.
        let _ = check_sync_message(message, &Limits::default());
        if check_sync_message(message, &LIMITS).is_err() {
            return;
        }
    }
    fixtures::with_small_group(|mut group| {
        let heads = group.get_heads();
        let mut book = fixtures::signatures();
        let mut authority = quire_store::authority::Authority::new();
        authority.seed(&group);
        let mut session = PeerSession::new(fixtures::device(1));
        let result = session.incoming(&mut group, &frame, &LIMITS, &mut authority, &book);
        if let Ok(settled) = &result {
            for (actor, sig) in &settled.signatures {
                book.record(actor.clone(), *sig);
            }
        }
        if let Err(e) = verify_history(&group, &book) {
            panic!(
                "the session kept what it cannot vouch for or the rules refuse ({result:?}): {e}"
            );
        }
        match result {
            Ok(_) => {
                // Whatever the peer made us take in, we can still read, answer and measure.
                let secret = fixtures::secret(0);
                let voucher = Voucher {
                    secret: &secret,
                    book: &book,
                };
                let _ = session.outgoing(&group, voucher);
                let _ = session.distance(&group);
                let _ = doc::read_group(&group);
                let _ = doc::current_devices(&group);
                // And what we took in saves into a snapshot that loads again.
                if let Err(e) = automerge::Automerge::load(&group.save()) {
                    panic!("an accepted message left a document that does not reload: {e}");
                }
            }
            Err(PeerError::Frame(_) | PeerError::Held(_)) => {
                // Refused before any of its changes could be applied.
                assert_eq!(
                    group.get_heads(),
                    heads,
                    "a refused frame changed the document"
                );
            }
            Err(_) => {}
        }
    });
}

/// The frame an input stands for, per the mode bits.
fn frame_from(mode: u8, rest: &[u8]) -> Vec<u8> {
    let fix = |message: &[u8]| {
        let mut message = message.to_vec();
        if mode & FIX_CHECKSUMS != 0 {
            fix_change_checksums(&mut message);
        }
        message
    };
    let (message, sigs) = if mode & WHOLE_FRAME == 0 {
        (fix(rest), Vec::new())
    } else {
        match envelope::decode(rest) {
            Ok((message, sigs)) => (fix(message), sigs),
            // A frame that does not decode goes as it is: the session refuses it.
            Err(_) => return rest.to_vec(),
        }
    };
    let sigs = if mode & RESIGN == 0 {
        sigs
    } else {
        resign(&message)
    };
    envelope::encode(&message, &sigs)
}

/// Signatures by the fixture's devices over the newest change of each of their actors in
/// `message`, if it reads as a sync message.
pub fn resign(message: &[u8]) -> Vec<Offered> {
    let Ok(msg) = check_sync_message(message, &LIMITS) else {
        return Vec::new();
    };
    let mut newest: HashMap<ActorId, (u64, ChangeHash)> = HashMap::new();
    for chunk in msg.changes.iter() {
        let Ok(change) = Change::try_from(chunk) else {
            continue;
        };
        let entry = newest
            .entry(change.actor_id().clone())
            .or_insert((0, change.hash()));
        if change.seq() >= entry.0 {
            *entry = (change.seq(), change.hash());
        }
    }
    let mut sigs = Vec::new();
    for (actor, (_, hash)) in newest {
        let device = quire_store::device_of_actor(&actor);
        if let Some(i) = (0..2).find(|i| device == Some(fixtures::device(*i))) {
            sigs.push((hash, sign_change(&fixtures::secret(i), &hash)));
        }
    }
    sigs.sort_by_key(|(hash, _)| *hash);
    sigs
}

/// A V1 sync message carrying one change that claims `ops` ops in a few bytes: each column
/// of the change is a single run-length encoded run, so the change says "put null at key `x`
/// of the root, `ops` times" in about eighty bytes, and automerge, trusting the runs, expands
/// every op (2^24 ops cost 50 seconds and 8 GB; 2^28 abort the process). The change's message
/// pads the whole sync message to `len` bytes where it can (the bomb of issue 13 was 301).
pub fn op_bomb(ops: u64, len: usize) -> Vec<u8> {
    let ops = i64::try_from(ops).unwrap_or(i64::MAX);
    let run = |value: &[u8]| [sleb(ops), value.to_vec()].concat();
    let columns = [
        // key string: "x"
        (0x15, run(&[1, b'x'])),
        // insert: a run of `ops` false
        (0x34, uleb(ops.unsigned_abs())),
        // action 1: set
        (0x42, run(&[1])),
        // value metadata 0: null
        (0x56, run(&[0])),
        // predecessors: none
        (0x70, run(&[0])),
    ];
    let bomb =
        |padding: usize| sync_message_with(&[&forged_change(&columns, &"~".repeat(padding))]);
    // The longest padding that stays within `len` (lengths grow by a byte at 128).
    let unpadded = bomb(0).len();
    (0..=len.saturating_sub(unpadded))
        .rev()
        .map(bomb)
        .find(|message| message.len() <= len)
        .unwrap_or_else(|| bomb(0))
}

/// A change chunk by hand: the first change (seq 1, start op 1, no dependencies) of a
/// Quire-shaped actor, carrying `columns` (spec, data) and `message`, with the checksum
/// automerge computes.
pub fn forged_change(columns: &[(u32, Vec<u8>)], message: &str) -> Vec<u8> {
    let mut data = uleb(0); // dependencies
    let actor = [[7u8; 32].as_slice(), &[1; 8]].concat();
    data.extend(uleb(actor.len() as u64));
    data.extend(actor);
    data.extend(uleb(1)); // seq
    data.extend(uleb(1)); // start op
    data.extend(sleb(1_793_000_000)); // time
    data.extend(uleb(message.len() as u64));
    data.extend(message.as_bytes());
    data.extend(uleb(0)); // other actors
    data.extend(uleb(columns.len() as u64));
    for (spec, column) in columns {
        data.extend(uleb(u64::from(*spec)));
        data.extend(uleb(column.len() as u64));
    }
    for (_, column) in columns {
        data.extend(column);
    }
    // Magic, checksum (first four bytes of sha256 over type, length and data), type, length.
    let typed = [[1].as_slice(), &uleb(data.len() as u64), &data].concat();
    let digest = Sha256::digest(&typed);
    [&[0x85, 0x6f, 0x4a, 0x83], &digest[..4], &typed[..]].concat()
}

/// A V1 sync message with no heads, needs or haves that carries `changes`.
pub fn sync_message_with(changes: &[&[u8]]) -> Vec<u8> {
    let mut message = vec![0x42, 0, 0, 0];
    message.extend(uleb(changes.len() as u64));
    for change in changes {
        message.extend(uleb(change.len() as u64));
        message.extend_from_slice(change);
    }
    message
}

fn uleb(value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    leb128::write::unsigned(&mut out, value).expect("a Vec takes every byte");
    out
}

fn sleb(value: i64) -> Vec<u8> {
    let mut out = Vec::new();
    leb128::write::signed(&mut out, value).expect("a Vec takes every byte");
    out
}

/// Rewrites the checksum of every change chunk found where a V1 message keeps its changes.
/// Best effort: it stops at the first thing that does not parse.
pub fn fix_change_checksums(message: &mut [u8]) {
    let _ = fix_checksums_from(message, 1);
}

fn fix_checksums_from(message: &mut [u8], mut pos: usize) -> Option<()> {
    skip_hashes(message, &mut pos)?;
    skip_hashes(message, &mut pos)?;
    let haves = leb(message, &mut pos)?;
    for _ in 0..haves.min(64) {
        skip_hashes(message, &mut pos)?;
        let len = usize::try_from(leb(message, &mut pos)?).ok()?;
        pos = pos.checked_add(len)?;
    }
    let changes = leb(message, &mut pos)?;
    for _ in 0..changes.min(1024) {
        let len = usize::try_from(leb(message, &mut pos)?).ok()?;
        let end = pos.checked_add(len)?;
        let chunk = message.get_mut(pos..end)?;
        if chunk.len() > 9 {
            // automerge's checksum: the first four bytes of sha256 over type, length and data.
            let digest = Sha256::digest(&chunk[8..]);
            chunk[4..8].copy_from_slice(&digest[..4]);
        }
        pos = end;
    }
    Some(())
}

fn skip_hashes(message: &[u8], pos: &mut usize) -> Option<()> {
    let n = usize::try_from(leb(message, pos)?).ok()?;
    *pos = pos.checked_add(n.checked_mul(32)?)?;
    Some(())
}

/// An unsigned LEB128 number at `pos`, moving past it.
fn leb(bytes: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*pos)?;
        *pos += 1;
        value |= u64::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}
