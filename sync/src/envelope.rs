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

use automerge::ChangeHash;

/// The first byte of a frame.
const FRAME: u8 = 0x51;
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
