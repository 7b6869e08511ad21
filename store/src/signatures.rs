//! Signatures over automerge changes: the newest known one of each actor, and the bytes they
//! are kept in.
//!
//! Every change in a group is signed by the device whose key starts its actor id (see
//! [`session_actor`](crate::session_actor)). A change names its predecessors by hash, so a
//! signature over an actor's newest change vouches for all of that actor's earlier changes too:
//! a [`SignatureBook`] keeps only the newest signature per actor. This crate only stores the
//! bytes; making and checking signatures is for whoever holds the keys.
//!
//! # Encoding
//!
//! [`SignatureBook::encode_entries`] writes a list of entries in a self-delimiting, versioned,
//! checked form, used on disk (log record trailers and the group's `signatures` file) and fit
//! for the wire:
//!
//! ```text
//! [version u8 = 1][count u32 LE]
//! count × [actor length u8 (1..=64)][actor id][change hash, 32 bytes][seq u64 LE][signature, 64 bytes]
//! [crc32 u32 LE of everything before it]
//! ```
//!
//! Decoding checks every length against the bytes at hand before it allocates, so no input can
//! make it panic or reserve more than the input's size.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use automerge::{ActorId, ChangeHash};

/// The longest actor id a signature can be kept for: a Quire session actor is a 32-byte device
/// key and 8 random bytes.
pub const MAX_ACTOR_LEN: usize = 64;

/// The version byte [`SignatureBook::encode_entries`] writes, the only one it reads.
pub const ENCODING_VERSION: u8 = 1;

/// Version byte and entry count.
const HEADER_LEN: usize = 1 + 4;
/// The crc32 at the end.
const CHECKSUM_LEN: usize = 4;
/// An entry with the shortest actor id (one byte).
const MIN_ENTRY_LEN: usize = 1 + 1 + 32 + 8 + 64;

/// A signature by an actor's device over one of its changes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChangeSignature {
    /// The signed change.
    pub hash: ChangeHash,
    /// Its sequence number among the actor's changes (automerge's `seq`, from 1).
    pub seq: u64,
    /// The ed25519 signature.
    pub signature: [u8; 64],
}

impl fmt::Debug for ChangeSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head: String = self.signature[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        f.debug_struct("ChangeSignature")
            .field("hash", &self.hash)
            .field("seq", &self.seq)
            .field("signature", &format_args!("{head}…"))
            .finish()
    }
}

/// Why bytes are not an encoded list of signatures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureDecodeError {
    /// Fewer bytes than the version, count and checksum take.
    #[error("signature list is {len} bytes, too short for its header and checksum")]
    TooShort {
        /// How many bytes there were.
        len: usize,
    },
    /// A version this code does not read.
    #[error("signature list has unknown version {version}")]
    UnknownVersion {
        /// The version byte found.
        version: u8,
    },
    /// More entries declared than the bytes could hold.
    #[error("signature list declares {count} entries, more than its {len} bytes can hold")]
    TooManyEntries {
        /// The declared count.
        count: u32,
        /// How many bytes there were.
        len: usize,
    },
    /// An entry runs past the end of the bytes.
    #[error("signature entry {index} runs past the end of the list")]
    Truncated {
        /// The entry, from 0.
        index: u32,
    },
    /// An actor id that is empty or longer than [`MAX_ACTOR_LEN`].
    #[error("signature entry {index} has a {len}-byte actor id (expected 1 to {MAX_ACTOR_LEN})")]
    BadActorLength {
        /// The entry, from 0.
        index: u32,
        /// The declared length.
        len: u8,
    },
    /// The checksum does not match the bytes.
    #[error("signature list checksum is {found:#010x}, expected {expected:#010x}")]
    Checksum {
        /// The checksum stored.
        found: u32,
        /// The checksum of the bytes.
        expected: u32,
    },
    /// Bytes after the end of the list.
    #[error("{extra} bytes after the end of the signature list")]
    TrailingBytes {
        /// How many.
        extra: usize,
    },
}

/// The newest known signature of each actor, and which of them are not yet on disk.
///
/// [`record`](Self::record) keeps a signature only if it is newer (a higher `seq`) than the one
/// held for its actor, and marks it unsaved; the group's storage writes unsaved signatures with
/// its next persist and marks them saved.
#[derive(Debug, Clone, Default)]
pub struct SignatureBook {
    entries: BTreeMap<ActorId, ChangeSignature>,
    /// Actors whose entry is not known to be on disk.
    unsaved: BTreeSet<ActorId>,
}

impl SignatureBook {
    /// An empty book.
    pub fn new() -> Self {
        Self::default()
    }

    /// The newest signature held for `actor`.
    pub fn newest(&self, actor: &ActorId) -> Option<&ChangeSignature> {
        self.entries.get(actor)
    }

    /// Keeps `sig` if it is newer (higher seq) than what we hold for `actor`; returns whether it
    /// did. A kept signature is unsaved until the group's storage writes it.
    ///
    /// An actor id that is empty or longer than [`MAX_ACTOR_LEN`] is refused (it could not be
    /// encoded), as is anything not newer than what is held.
    pub fn record(&mut self, actor: ActorId, sig: ChangeSignature) -> bool {
        let kept = self.keep(actor.clone(), sig);
        if kept {
            self.unsaved.insert(actor);
        }
        kept
    }

    /// Every actor's newest signature, ordered by actor id.
    pub fn iter(&self) -> impl Iterator<Item = (&ActorId, &ChangeSignature)> {
        self.entries.iter()
    }

    /// How many actors have a signature here.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no actor has a signature here.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Encodes `entries` (see the [module docs](self)). Entries whose actor id is empty or
    /// longer than [`MAX_ACTOR_LEN`] are left out; a book never holds one.
    pub fn encode_entries<'a>(
        entries: impl Iterator<Item = (&'a ActorId, &'a ChangeSignature)>,
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + CHECKSUM_LEN);
        out.push(ENCODING_VERSION);
        out.extend_from_slice(&[0; 4]);
        let mut count: u32 = 0;
        for (actor, sig) in entries {
            let actor = actor.to_bytes();
            let Some(len) = encodable_len(actor) else {
                tracing::warn!(actor = %ActorId::from(actor), "cannot encode a signature of an actor id this long; leaving it out");
                continue;
            };
            if count == u32::MAX {
                tracing::warn!("more than 2^32 signatures to encode; leaving the rest out");
                break;
            }
            count += 1;
            out.push(len);
            out.extend_from_slice(actor);
            out.extend_from_slice(&sig.hash.0);
            out.extend_from_slice(&sig.seq.to_le_bytes());
            out.extend_from_slice(&sig.signature);
        }
        out[1..HEADER_LEN].copy_from_slice(&count.to_le_bytes());
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes what [`encode_entries`](Self::encode_entries) wrote, all of `bytes` and nothing
    /// else. Never panics, and allocates at most in proportion to `bytes`.
    pub fn decode_entries(
        bytes: &[u8],
    ) -> Result<Vec<(ActorId, ChangeSignature)>, SignatureDecodeError> {
        let (entries, used) = Self::decode_entries_prefix(bytes)?;
        match bytes.len() - used {
            0 => Ok(entries),
            extra => Err(SignatureDecodeError::TrailingBytes { extra }),
        }
    }

    /// Decodes the encoded list at the start of `bytes`; returns it and how many bytes it took,
    /// for a list followed by other data.
    pub fn decode_entries_prefix(
        bytes: &[u8],
    ) -> Result<(Vec<(ActorId, ChangeSignature)>, usize), SignatureDecodeError> {
        let too_short = SignatureDecodeError::TooShort { len: bytes.len() };
        let (&[version, c0, c1, c2, c3], body) =
            bytes.split_first_chunk::<HEADER_LEN>().ok_or(too_short)?;
        if version != ENCODING_VERSION {
            return Err(SignatureDecodeError::UnknownVersion { version });
        }
        let count = u32::from_le_bytes([c0, c1, c2, c3]);
        let room = body.len().saturating_sub(CHECKSUM_LEN) / MIN_ENTRY_LEN;
        if count as usize > room {
            return Err(SignatureDecodeError::TooManyEntries {
                count,
                len: bytes.len(),
            });
        }
        let mut entries = Vec::with_capacity(count as usize);
        let mut reader = Reader { rest: body };
        for index in 0..count {
            entries.push(reader.entry(index)?);
        }
        let end = bytes.len() - reader.rest.len();
        let Some(stored) = reader.rest.first_chunk::<CHECKSUM_LEN>() else {
            return Err(SignatureDecodeError::Truncated { index: count });
        };
        let found = u32::from_le_bytes(*stored);
        let expected = crc32fast::hash(&bytes[..end]);
        if found != expected {
            return Err(SignatureDecodeError::Checksum { found, expected });
        }
        Ok((entries, end + CHECKSUM_LEN))
    }

    /// Keeps `sig` if it is newer than what is held for `actor`, saved or not; whether it did.
    fn keep(&mut self, actor: ActorId, sig: ChangeSignature) -> bool {
        if encodable_len(actor.to_bytes()).is_none() {
            return false;
        }
        match self.entries.get(&actor) {
            Some(held) if held.seq >= sig.seq => false,
            _ => {
                self.entries.insert(actor, sig);
                true
            }
        }
    }

    /// Keeps `sig`, read from disk, if it is newer than what is held for `actor`; it counts as
    /// saved. Returns whether it was kept.
    pub(crate) fn record_saved(&mut self, actor: ActorId, sig: ChangeSignature) -> bool {
        let kept = self.keep(actor.clone(), sig);
        if kept {
            self.unsaved.remove(&actor);
        }
        kept
    }

    /// Whether any signature is not yet on disk.
    pub(crate) fn has_unsaved(&self) -> bool {
        !self.unsaved.is_empty()
    }

    /// The signatures not yet on disk.
    pub(crate) fn unsaved(&self) -> impl Iterator<Item = (&ActorId, &ChangeSignature)> {
        self.unsaved
            .iter()
            .filter_map(|actor| Some((actor, self.entries.get(actor)?)))
    }

    /// Counts `actor`'s signature of change `seq` as on disk, unless a newer one replaced it
    /// meanwhile.
    pub(crate) fn mark_saved(&mut self, actor: &ActorId, seq: u64) {
        if self.entries.get(actor).is_some_and(|held| held.seq <= seq) {
            self.unsaved.remove(actor);
        }
    }

    /// Counts every signature as on disk.
    pub(crate) fn mark_all_saved(&mut self) {
        self.unsaved.clear();
    }

    /// Counts every signature as not on disk, to be written again.
    pub(crate) fn mark_all_unsaved(&mut self) {
        self.unsaved = self.entries.keys().cloned().collect();
    }
}

/// The length byte of an actor id a signature can be kept for.
fn encodable_len(actor: &[u8]) -> Option<u8> {
    if actor.is_empty() || actor.len() > MAX_ACTOR_LEN {
        return None;
    }
    u8::try_from(actor.len()).ok()
}

/// Reads entries from the front of a slice.
struct Reader<'a> {
    rest: &'a [u8],
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self, index: u32) -> Result<[u8; N], SignatureDecodeError> {
        let (head, rest) = self
            .rest
            .split_first_chunk::<N>()
            .ok_or(SignatureDecodeError::Truncated { index })?;
        self.rest = rest;
        Ok(*head)
    }

    fn entry(&mut self, index: u32) -> Result<(ActorId, ChangeSignature), SignatureDecodeError> {
        let [len] = self.take::<1>(index)?;
        if len == 0 || usize::from(len) > MAX_ACTOR_LEN {
            return Err(SignatureDecodeError::BadActorLength { index, len });
        }
        let (actor, rest) = self
            .rest
            .split_at_checked(usize::from(len))
            .ok_or(SignatureDecodeError::Truncated { index })?;
        self.rest = rest;
        let actor = ActorId::from(actor);
        let hash = ChangeHash(self.take::<32>(index)?);
        let seq = u64::from_le_bytes(self.take::<8>(index)?);
        let signature = self.take::<64>(index)?;
        Ok((
            actor,
            ChangeSignature {
                hash,
                seq,
                signature,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sig(seq: u64, fill: u8) -> ChangeSignature {
        ChangeSignature {
            hash: ChangeHash([fill; 32]),
            seq,
            signature: [fill.wrapping_add(1); 64],
        }
    }

    fn actor(fill: u8, len: usize) -> ActorId {
        ActorId::from(vec![fill; len])
    }

    fn sample() -> Vec<(ActorId, ChangeSignature)> {
        vec![
            (actor(1, 40), sig(3, 7)),
            (actor(2, 1), sig(1, 8)),
            (actor(3, MAX_ACTOR_LEN), sig(u64::MAX, 9)),
        ]
    }

    fn encode(entries: &[(ActorId, ChangeSignature)]) -> Vec<u8> {
        SignatureBook::encode_entries(entries.iter().map(|(a, s)| (a, s)))
    }

    #[test]
    fn entries_round_trip() {
        let entries = sample();
        let bytes = encode(&entries);
        assert_eq!(bytes[0], ENCODING_VERSION);
        assert_eq!(SignatureBook::decode_entries(&bytes).unwrap(), entries);
        let empty = encode(&[]);
        assert_eq!(empty.len(), HEADER_LEN + CHECKSUM_LEN);
        assert!(SignatureBook::decode_entries(&empty).unwrap().is_empty());
    }

    #[test]
    fn a_prefix_is_found_before_other_data() {
        let entries = sample();
        let mut bytes = encode(&entries);
        let len = bytes.len();
        bytes.extend_from_slice(b"more");
        let (decoded, used) = SignatureBook::decode_entries_prefix(&bytes).unwrap();
        assert_eq!((decoded, used), (entries, len));
        assert_eq!(
            SignatureBook::decode_entries(&bytes),
            Err(SignatureDecodeError::TrailingBytes { extra: 4 })
        );
    }

    #[test]
    fn every_truncation_is_refused() {
        let bytes = encode(&sample());
        for cut in 0..bytes.len() {
            let err = SignatureBook::decode_entries(&bytes[..cut]).unwrap_err();
            assert!(
                matches!(
                    err,
                    SignatureDecodeError::TooShort { .. }
                        | SignatureDecodeError::TooManyEntries { .. }
                        | SignatureDecodeError::Truncated { .. }
                ),
                "cut at {cut}: {err}"
            );
        }
    }

    #[test]
    fn a_flipped_bit_is_refused() {
        let bytes = encode(&sample());
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0x10;
            assert!(
                SignatureBook::decode_entries(&bad).is_err(),
                "flipped a bit of byte {at}"
            );
        }
    }

    #[test]
    fn bad_headers_name_what_is_wrong() {
        let mut bytes = encode(&sample());
        bytes[0] = 9;
        assert_eq!(
            SignatureBook::decode_entries(&bytes)
                .unwrap_err()
                .to_string(),
            "signature list has unknown version 9"
        );
        let mut huge = vec![ENCODING_VERSION];
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        huge.extend_from_slice(&[0; 300]);
        assert_eq!(
            SignatureBook::decode_entries(&huge)
                .unwrap_err()
                .to_string(),
            "signature list declares 4294967295 entries, more than its 305 bytes can hold"
        );
    }

    #[test]
    fn oversized_and_empty_actor_ids_are_refused() {
        let mut bytes = encode(&[(actor(1, 4), sig(1, 1))]);
        bytes[HEADER_LEN] = MAX_ACTOR_LEN as u8 + 1;
        assert_eq!(
            SignatureBook::decode_entries(&bytes),
            Err(SignatureDecodeError::BadActorLength { index: 0, len: 65 })
        );
        bytes[HEADER_LEN] = 0;
        assert_eq!(
            SignatureBook::decode_entries(&bytes),
            Err(SignatureDecodeError::BadActorLength { index: 0, len: 0 })
        );
        // A book never keeps what it could not encode, and encoding leaves such entries out.
        let mut book = SignatureBook::new();
        assert!(!book.record(actor(1, MAX_ACTOR_LEN + 1), sig(1, 1)));
        assert!(!book.record(ActorId::from(Vec::new()), sig(1, 1)));
        assert!(book.is_empty());
        let long = actor(1, MAX_ACTOR_LEN + 1);
        let s = sig(1, 1);
        let bytes = SignatureBook::encode_entries([(&long, &s)].into_iter());
        assert!(SignatureBook::decode_entries(&bytes).unwrap().is_empty());
    }

    #[test]
    fn the_book_keeps_the_newest_per_actor() {
        let mut book = SignatureBook::new();
        let a = actor(1, 40);
        assert!(book.record(a.clone(), sig(2, 1)));
        assert!(!book.record(a.clone(), sig(1, 2)), "older");
        assert!(!book.record(a.clone(), sig(2, 3)), "same seq");
        assert_eq!(book.newest(&a), Some(&sig(2, 1)));
        assert!(book.record(a.clone(), sig(5, 4)));
        assert_eq!(book.newest(&a).map(|s| s.seq), Some(5));
        assert!(book.record(actor(2, 40), sig(1, 5)));
        assert_eq!(book.len(), 2);
        assert_eq!(book.iter().count(), 2);
    }

    #[test]
    fn saving_follows_the_newest_entry() {
        let mut book = SignatureBook::new();
        let a = actor(1, 40);
        book.record(a.clone(), sig(2, 1));
        assert!(book.has_unsaved());
        book.record(a.clone(), sig(3, 1));
        // A write of seq 2 does not save seq 3.
        book.mark_saved(&a, 2);
        assert!(book.has_unsaved());
        book.mark_saved(&a, 3);
        assert!(!book.has_unsaved());
        // What is read from disk counts as saved; a newer unsaved one stays unsaved.
        assert!(book.record_saved(actor(2, 40), sig(1, 1)));
        assert!(!book.has_unsaved());
        book.record(a.clone(), sig(4, 1));
        assert!(!book.record_saved(a.clone(), sig(4, 1)));
        assert!(book.has_unsaved());
        assert!(book.record_saved(a.clone(), sig(6, 1)));
        assert!(!book.has_unsaved());
        book.mark_all_unsaved();
        assert_eq!(book.unsaved().count(), 2);
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = SignatureBook::decode_entries(&bytes);
        }

        #[test]
        fn decode_of_a_damaged_encoding_never_panics(
            n in 0usize..4,
            at in any::<proptest::sample::Index>(),
            value in any::<u8>(),
            cut in any::<proptest::sample::Index>(),
        ) {
            let entries: Vec<_> = (0..n).map(|i| (actor(i as u8, 1 + i * 20), sig(i as u64, i as u8))).collect();
            let mut bytes = encode(&entries);
            let i = at.index(bytes.len());
            bytes[i] = value;
            let cut = cut.index(bytes.len() + 1);
            if let Ok(decoded) = SignatureBook::decode_entries(&bytes[..cut]) {
                prop_assert_eq!(decoded, entries);
            }
        }

        #[test]
        fn any_entries_round_trip(
            raw in proptest::collection::vec(
                (proptest::collection::vec(any::<u8>(), 1..=MAX_ACTOR_LEN), any::<u64>(), any::<[u8; 32]>()),
                0..6,
            ),
        ) {
            let entries: Vec<_> = raw
                .into_iter()
                .map(|(a, seq, h)| (ActorId::from(a), ChangeSignature { hash: ChangeHash(h), seq, signature: [h[0]; 64] }))
                .collect();
            prop_assert_eq!(SignatureBook::decode_entries(&encode(&entries)).unwrap(), entries);
        }
    }
}
