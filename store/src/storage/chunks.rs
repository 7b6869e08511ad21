//! Applying a log record's payload to a document, strictly.
//!
//! A payload is what `Automerge::save_after` produces: automerge change chunks back to back.
//! `Automerge::load_incremental` would take it too, but it quietly keeps whatever prefix it
//! could parse and drops the rest (and, into an empty document, may drop everything), so a
//! record it half understood would look loaded. Here the payload is split into chunks by their
//! headers (magic, checksum, type, LEB128 length), each change chunk is parsed with
//! [`Change::try_from`], and the changes are applied with `apply_changes`; any failure refuses the
//! whole record, which the caller treats as corruption. Document and bundle chunks, which
//! `save_after` does not write, are handed to `load_incremental`.
//!
//! After the chunks a payload may end in a trailer of signatures (see `signature_block`),
//! which starts with a magic no chunk starts with. A trailer that does not decode refuses the
//! record like a bad chunk, before any of its changes is applied.

use automerge::{Automerge, Change};

use super::signature_block::{self, Entries};

/// The magic bytes that start every automerge chunk.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// Magic, checksum and type byte, before the LEB128 length.
const FIXED_HEADER: usize = 9;

const CHUNK_DOCUMENT: u8 = 0;
const CHUNK_CHANGE: u8 = 1;
const CHUNK_COMPRESSED: u8 = 2;
const CHUNK_BUNDLE: u8 = 3;

/// The changes in `payload`, parsed but not applied, and the signatures of its trailer;
/// `None` if it also holds document or bundle chunks, which only [`apply`] can load.
pub(crate) fn changes(payload: &[u8]) -> Result<Option<(Vec<Change>, Entries)>, String> {
    let (chunks, signatures) = split(payload)?;
    let mut changes = Vec::new();
    for chunk in chunks {
        match chunk.kind {
            CHUNK_CHANGE | CHUNK_COMPRESSED => changes.push(
                Change::try_from(chunk.bytes)
                    .map_err(|e| format!("bad change chunk at byte {}: {e}", chunk.offset))?,
            ),
            _ => return Ok(None),
        }
    }
    Ok(Some((changes, signatures)))
}

/// Applies every change in `payload` to `doc` and returns the signatures of its trailer, or
/// says why the payload was refused.
///
/// On refusal the changes of earlier chunks may already be applied; they are valid changes.
pub(crate) fn apply(doc: &mut Automerge, payload: &[u8]) -> Result<Entries, String> {
    let (chunks, signatures) = split(payload)?;
    let mut changes = Vec::new();
    for chunk in chunks {
        match chunk.kind {
            CHUNK_CHANGE | CHUNK_COMPRESSED => {
                let change = Change::try_from(chunk.bytes)
                    .map_err(|e| format!("bad change chunk at byte {}: {e}", chunk.offset))?;
                changes.push(change);
            }
            CHUNK_DOCUMENT | CHUNK_BUNDLE => {
                flush(doc, &mut changes)?;
                doc.load_incremental(chunk.bytes)
                    .map_err(|e| format!("bad chunk at byte {}: {e}", chunk.offset))?;
            }
            other => {
                return Err(format!(
                    "unknown chunk type {other} at byte {}",
                    chunk.offset
                ));
            }
        }
    }
    flush(doc, &mut changes)?;
    Ok(signatures)
}

fn flush(doc: &mut Automerge, changes: &mut Vec<Change>) -> Result<(), String> {
    if changes.is_empty() {
        return Ok(());
    }
    let batch = std::mem::take(changes);
    doc.apply_changes(batch)
        .map_err(|e| format!("changes refused: {e}"))
}

/// One chunk of a payload.
#[derive(Debug)]
struct Chunk<'a> {
    offset: usize,
    kind: u8,
    bytes: &'a [u8],
}

/// Splits `payload` into whole chunks and the signatures of its trailer, if it has one.
fn split(payload: &[u8]) -> Result<(Vec<Chunk<'_>>, Entries), String> {
    let mut chunks = Vec::new();
    let mut offset = 0;
    while offset < payload.len() {
        let rest = &payload[offset..];
        if signature_block::starts(rest) {
            let signatures = signature_block::decode(rest)
                .map_err(|e| format!("bad signature trailer at byte {offset}: {e}"))?;
            return Ok((chunks, signatures));
        }
        if rest.len() < FIXED_HEADER || rest[..4] != MAGIC {
            return Err(format!("no automerge chunk at byte {offset}"));
        }
        let kind = rest[8];
        let (data_len, leb_len) = read_uleb(&rest[FIXED_HEADER..])
            .ok_or_else(|| format!("bad chunk length at byte {offset}"))?;
        let total = usize::try_from(data_len)
            .ok()
            .and_then(|n| n.checked_add(FIXED_HEADER + leb_len))
            .filter(|&n| n <= rest.len())
            .ok_or_else(|| format!("chunk at byte {offset} runs past the end of the record"))?;
        chunks.push(Chunk {
            offset,
            kind,
            bytes: &rest[..total],
        });
        offset += total;
    }
    Ok((chunks, Vec::new()))
}

/// Reads an unsigned LEB128 number, returning it and how many bytes it took.
fn read_uleb(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        let part = u64::from(b & 0x7f);
        let shifted = part.checked_shl(7 * i as u32)?;
        if shifted >> (7 * i as u32) != part {
            return None;
        }
        value |= shifted;
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::{ROOT, ReadDoc};

    fn doc_with(keys: &[&str]) -> Automerge {
        let mut doc = Automerge::new();
        for k in keys {
            let mut tx = doc.transaction();
            tx.put(ROOT, *k, 1).unwrap();
            tx.commit();
        }
        doc
    }

    #[test]
    fn save_after_output_applies() {
        let source = doc_with(&["a", "b"]);
        let payload = source.save_after(&[]);
        let mut target = Automerge::new();
        apply(&mut target, &payload).unwrap();
        assert_eq!(target.get_heads(), source.get_heads());
        assert!(target.get(ROOT, "b").unwrap().is_some());
    }

    #[test]
    fn a_full_save_applies_too() {
        let source = doc_with(&["a"]);
        let mut target = doc_with(&["z"]);
        apply(&mut target, &source.save()).unwrap();
        assert!(target.get(ROOT, "a").unwrap().is_some());
    }

    #[test]
    fn garbage_and_trailing_bytes_are_refused() {
        let mut target = Automerge::new();
        assert!(apply(&mut target, b"not automerge").is_err());
        let mut payload = doc_with(&["a"]).save_after(&[]);
        payload.push(0);
        assert!(apply(&mut target, &payload).is_err());
        let payload = doc_with(&["a"]).save_after(&[]);
        assert!(apply(&mut target, &payload[..payload.len() - 1]).is_err());
    }

    fn signed(seq: u64) -> Entries {
        let sig = crate::signatures::ChangeSignature {
            hash: automerge::ChangeHash([seq as u8; 32]),
            seq,
            signature: [7; 64],
        };
        vec![(automerge::ActorId::from([1u8; 40]), sig)]
    }

    fn trailer(entries: &Entries) -> Vec<u8> {
        let mut out = Vec::new();
        signature_block::encode_into(&mut out, entries.iter().map(|(a, s)| (a, s)));
        out
    }

    #[test]
    fn a_signature_trailer_is_split_off() {
        let source = doc_with(&["a", "b"]);
        let entries = signed(2);
        let payload = [source.save_after(&[]), trailer(&entries)].concat();
        let (parsed, sigs) = changes(&payload).unwrap().unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(sigs, entries);
        let mut target = Automerge::new();
        assert_eq!(apply(&mut target, &payload).unwrap(), entries);
        assert_eq!(target.get_heads(), source.get_heads());
        // A payload of only a trailer.
        let only = trailer(&entries);
        assert_eq!(changes(&only).unwrap().unwrap(), (Vec::new(), entries));
    }

    #[test]
    fn a_bad_trailer_refuses_the_whole_record() {
        let source = doc_with(&["a"]);
        let mut payload = [source.save_after(&[]), trailer(&signed(1))].concat();
        let last = payload.len() - 1;
        payload[last] ^= 1;
        assert!(
            changes(&payload)
                .unwrap_err()
                .contains("bad signature trailer")
        );
        let mut target = Automerge::new();
        assert!(apply(&mut target, &payload).is_err());
        assert!(target.get_heads().is_empty(), "nothing applied");
        // Chunks after a trailer are not part of it.
        let payload = [trailer(&signed(1)), source.save_after(&[])].concat();
        assert!(changes(&payload).is_err());
    }

    #[test]
    fn uleb_reads_and_rejects_overflow() {
        assert_eq!(read_uleb(&[0x05]), Some((5, 1)));
        assert_eq!(read_uleb(&[0x80, 0x01]), Some((128, 2)));
        assert_eq!(read_uleb(&[0x80]), None);
        assert_eq!(read_uleb(&[0xff; 11]), None);
    }
}
