//! The frame of the sync protocol: an automerge sync message with the signatures that vouch
//! for the changes it carries.
//!
//! ```text
//! 0x51
//! length, automerge sync message (v1)
//! count, signatures: (32-byte change hash, 64-byte ed25519 signature)
//! ```
//! Numbers are unsigned LEB128. Every count is weighed against the bytes left before anything
//! is allocated for it, and nothing may follow the last signature.
//!
//! A frame of a document beside the group's ([`quire_store::documents`]), carried on the same
//! session, is that document's id followed by such a frame:
//!
//! ```text
//! 0x44
//! document id, 17 bytes (DocumentId::to_bytes)
//! a frame as above
//! ```

use automerge::ChangeHash;
use quire_store::documents::{BadDocumentId, DocumentId};

/// The first byte of a frame.
const FRAME: u8 = 0x51;
/// The first byte of a frame of a document beside the group's.
const DOCUMENT_FRAME: u8 = 0x44;
/// Bytes of one signature entry: the hash and the signature.
const ENTRY: usize = 32 + 64;

/// A signature offered for a change.
pub type Offered = (ChangeHash, [u8; 64]);

/// Why a frame could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadFrame {
    /// The first byte is not ours.
    #[error("frame starts with {found:#04x}, not a signed sync frame")]
    Kind {
        /// The byte found.
        found: u8,
    },
    /// A number is malformed or the frame ends early.
    #[error("frame truncated or malformed at byte {at}")]
    Truncated {
        /// Where.
        at: usize,
    },
    /// A document frame naming no document.
    #[error("document frame: {0}")]
    Document(#[from] BadDocumentId),
    /// More signatures than the bytes left can hold, or bytes after them.
    #[error("frame declares {count} signatures in {left} bytes")]
    Signatures {
        /// The count declared.
        count: u64,
        /// The bytes left.
        left: usize,
    },
}

/// Frames `message` with `signatures`.
pub fn encode(message: &[u8], signatures: &[Offered]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + signatures.len() * ENTRY + 12);
    out.push(FRAME);
    leb128(&mut out, message.len() as u64);
    out.extend_from_slice(message);
    leb128(&mut out, signatures.len() as u64);
    for (hash, sig) in signatures {
        out.extend_from_slice(&hash.0);
        out.extend_from_slice(sig);
    }
    out
}

/// Frames `frame` (made by [`encode`]) as one of `document`.
pub fn encode_for(document: DocumentId, frame: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + DocumentId::ENCODED_LEN + frame.len());
    out.push(DOCUMENT_FRAME);
    out.extend_from_slice(&document.to_bytes());
    out.extend_from_slice(frame);
    out
}

/// The document a frame is of and the frame inside, or `None` for a frame of the group
/// document itself.
pub fn document_of(frame: &[u8]) -> Option<Result<(DocumentId, &[u8]), BadFrame>> {
    if frame.first() != Some(&DOCUMENT_FRAME) {
        return None;
    }
    let end = 1 + DocumentId::ENCODED_LEN;
    let Some(id) = frame.get(1..end) else {
        return Some(Err(BadFrame::Truncated { at: 1 }));
    };
    Some(
        DocumentId::from_bytes(id)
            .map(|id| (id, &frame[end..]))
            .map_err(BadFrame::from),
    )
}

/// Splits a frame into its sync message and signatures.
pub fn decode(frame: &[u8]) -> Result<(&[u8], Vec<Offered>), BadFrame> {
    let first = *frame.first().ok_or(BadFrame::Truncated { at: 0 })?;
    if first != FRAME {
        return Err(BadFrame::Kind { found: first });
    }
    let mut at = 1;
    let len = read_leb128(frame, &mut at)?;
    let end = usize::try_from(len)
        .ok()
        .and_then(|len| at.checked_add(len))
        .filter(|end| *end <= frame.len())
        .ok_or(BadFrame::Truncated { at })?;
    let message = &frame[at..end];
    at = end;
    let count = read_leb128(frame, &mut at)?;
    let left = frame.len() - at;
    if usize::try_from(count)
        .ok()
        .and_then(|c| c.checked_mul(ENTRY))
        != Some(left)
    {
        return Err(BadFrame::Signatures { count, left });
    }
    let signatures = frame[at..]
        .chunks_exact(ENTRY)
        .map(|entry| {
            let mut hash = [0; 32];
            let mut sig = [0; 64];
            hash.copy_from_slice(&entry[..32]);
            sig.copy_from_slice(&entry[32..]);
            (ChangeHash(hash), sig)
        })
        .collect();
    Ok((message, signatures))
}

fn leb128(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn read_leb128(bytes: &[u8], at: &mut usize) -> Result<u64, BadFrame> {
    let start = *at;
    let mut n: u64 = 0;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at).ok_or(BadFrame::Truncated { at: start })?;
        *at += 1;
        n |= u64::from(byte & 0x7f)
            .checked_shl(shift)
            .ok_or(BadFrame::Truncated { at: start })?;
        if byte & 0x80 == 0 {
            return Ok(n);
        }
    }
    Err(BadFrame::Truncated { at: start })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_frames_name_their_document() {
        let doc = DocumentId::Personal(quire_store::MemberId::from_bytes([7; 16]));
        let inner = encode(b"\x42hi", &[]);
        let framed = encode_for(doc, &inner);
        let (id, back) = document_of(&framed).unwrap().unwrap();
        assert_eq!((id, back), (doc, inner.as_slice()));
        assert!(document_of(&inner).is_none());
        assert!(document_of(&framed[..5]).unwrap().is_err());
        let mut foreign = framed.clone();
        foreign[1] = 0x7e;
        let err = document_of(&foreign).unwrap().unwrap_err();
        assert!(
            err.to_string()
                .starts_with("document frame: 17-byte document id with kind 0x7e")
        );
    }

    #[test]
    fn frames_round_trip() {
        let sigs = vec![
            (ChangeHash([3; 32]), [4; 64]),
            (ChangeHash([5; 32]), [6; 64]),
        ];
        let frame = encode(b"\x42hello", &sigs);
        let (message, back) = decode(&frame).unwrap();
        assert_eq!(message, b"\x42hello");
        assert_eq!(back, sigs);
    }

    #[test]
    fn lies_about_lengths_are_refused_before_allocating() {
        let mut frame = encode(b"\x42", &[]);
        *frame.last_mut().unwrap() = 0x7f; // 127 signatures in no bytes
        assert!(matches!(decode(&frame), Err(BadFrame::Signatures { .. })));
        let huge = [FRAME, 0xff, 0xff, 0xff, 0xff, 0x0f];
        assert!(matches!(decode(&huge), Err(BadFrame::Truncated { .. })));
        assert!(matches!(decode(b"\x42abc"), Err(BadFrame::Kind { .. })));
        assert!(decode(&[]).is_err());
    }
}
