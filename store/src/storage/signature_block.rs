//! Signatures as the storage layer writes them: [`MAGIC`] followed by
//! [`SignatureBook::encode_entries`], both as the trailer of a log record (after its change
//! chunks) and as the whole of a group's `signatures` file.
//!
//! Every automerge chunk starts with `0x85 0x6f 0x4a 0x83`; [`MAGIC`] is ASCII, so where a
//! chunk could start, the two can never be confused.

use automerge::ActorId;

use crate::signatures::{ChangeSignature, SignatureBook};

/// What starts a block of signatures.
pub(crate) const MAGIC: [u8; 4] = *b"QSIG";

/// Entries as read from a block.
pub(crate) type Entries = Vec<(ActorId, ChangeSignature)>;

/// Appends a block holding `entries` to `out`.
pub(crate) fn encode_into<'a>(
    out: &mut Vec<u8>,
    entries: impl Iterator<Item = (&'a ActorId, &'a ChangeSignature)>,
) {
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&SignatureBook::encode_entries(entries));
}

/// The entries of the block that is all of `bytes`, or what is wrong with it.
pub(crate) fn decode(bytes: &[u8]) -> Result<Entries, String> {
    let Some(body) = bytes.strip_prefix(&MAGIC) else {
        return Err("no signature block magic".to_owned());
    };
    SignatureBook::decode_entries(body).map_err(|e| e.to_string())
}

/// Whether `bytes` start with a block.
pub(crate) fn starts(bytes: &[u8]) -> bool {
    bytes.starts_with(&MAGIC)
}

#[cfg(test)]
mod tests {
    use automerge::ChangeHash;

    use super::*;

    #[test]
    fn a_block_round_trips_and_refuses_damage() {
        let actor = ActorId::from([4u8; 40]);
        let sig = ChangeSignature {
            hash: ChangeHash([1; 32]),
            seq: 2,
            signature: [3; 64],
        };
        let mut out = Vec::new();
        encode_into(&mut out, [(&actor, &sig)].into_iter());
        assert!(starts(&out));
        assert_eq!(decode(&out).unwrap(), vec![(actor, sig)]);
        assert!(decode(&out[1..]).is_err());
        let last = out.len() - 1;
        out[last] ^= 1;
        assert!(decode(&out).unwrap_err().contains("checksum"));
    }
}
