//! The frames that carry a whole group to a new member as a saved document, on
//! `quire/join/2` between the join reply and the first sync message.
//!
//! Every frame starts with the format's version byte and a kind byte:
//!
//! ```text
//! 2, 0, reason (UTF-8)                          no document follows; sync fills in everything
//! 2, 1, length (u64 BE), count (u16 BE), heads  a saved document of `length` bytes follows,
//!                                               whose heads are these 32-byte hashes
//! 2, 2, bytes                                   the next piece of that document
//! 2, 3, signatures                              after the last piece: for every actor of the
//!                                               document, a signature over a change of it
//! ```
//!
//! The pieces of the document follow the offer in order, each at most [`PIECE_LEN`] bytes, until
//! `length` bytes have arrived; then automerge sync messages follow as on `quire/sync/1`. A
//! receiver refuses a version it does not know, an offer longer than
//! [`MAX_SAVED_BYTES`] or with more than [`MAX_HEADS`] heads, and pieces past the announced
//! length.

use automerge::ChangeHash;

use crate::saved_check::{MAX_HEADS, MAX_SAVED_BYTES};

/// The version of this format.
pub const BOOTSTRAP_VERSION: u8 = 2;
/// The most document bytes in one piece: a quarter of the frame cap.
pub const PIECE_LEN: usize = 4 * 1024 * 1024;
/// The largest offer: version, kind, length, count and every head.
pub const MAX_OFFER: usize = 2 + 8 + 2 + 32 * MAX_HEADS;

/// Kind byte of a frame saying no document follows.
const KIND_NONE: u8 = 0;
/// Kind byte of an offer.
const KIND_OFFER: u8 = 1;
/// Kind byte of a piece.
const KIND_PIECE: u8 = 2;
/// Kind byte of the signatures that vouch for the document's changes, after its last piece.
const KIND_SIGNATURES: u8 = 3;

/// The first bootstrap frame: whether a saved document follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offer {
    /// None follows; why, for the log.
    Nothing {
        /// One line.
        reason: String,
    },
    /// A saved document of `len` bytes with these heads follows.
    Document {
        /// Its length in bytes.
        len: u64,
        /// Its heads.
        heads: Vec<ChangeHash>,
    },
}

/// A bootstrap frame that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadBootstrapFrame {
    /// The frame is too short to hold its version and kind.
    #[error("bootstrap frame of {len} bytes is too short")]
    Short {
        /// Its length.
        len: usize,
    },
    /// A version this build does not speak.
    #[error("bootstrap version {found} not understood (this build speaks {BOOTSTRAP_VERSION})")]
    Version {
        /// The version byte found.
        found: u8,
    },
    /// Another kind than the one expected next.
    #[error("bootstrap frame of kind {found} where {expected} was expected")]
    Kind {
        /// The kind byte found.
        found: u8,
        /// What was expected.
        expected: &'static str,
    },
    /// An offer that does not hold what it announces.
    #[error("malformed bootstrap offer: {what}")]
    Offer {
        /// What is wrong.
        what: String,
    },
    /// The document offered is larger than the cap.
    #[error("offered document of {len} bytes exceeds the {MAX_SAVED_BYTES}-byte cap")]
    TooLarge {
        /// The length offered.
        len: u64,
    },
}

/// Encodes an offer.
pub fn encode_offer(offer: &Offer) -> Vec<u8> {
    match offer {
        Offer::Nothing { reason } => {
            let mut out = vec![BOOTSTRAP_VERSION, KIND_NONE];
            out.extend_from_slice(reason.as_bytes());
            out
        }
        Offer::Document { len, heads } => {
            let mut out = Vec::with_capacity(12 + 32 * heads.len());
            out.extend_from_slice(&[BOOTSTRAP_VERSION, KIND_OFFER]);
            out.extend_from_slice(&len.to_be_bytes());
            let count = u16::try_from(heads.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&count.to_be_bytes());
            for head in heads.iter().take(usize::from(count)) {
                out.extend_from_slice(&head.0);
            }
            out
        }
    }
}

/// Decodes an offer.
pub fn decode_offer(frame: &[u8]) -> Result<Offer, BadBootstrapFrame> {
    let (kind, body) = split(frame)?;
    match kind {
        KIND_NONE => Ok(Offer::Nothing {
            reason: String::from_utf8_lossy(body).into_owned(),
        }),
        KIND_OFFER => {
            let bad = |what: &str| BadBootstrapFrame::Offer { what: what.into() };
            let len_bytes: [u8; 8] = body
                .get(..8)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| bad("no length"))?;
            let len = u64::from_be_bytes(len_bytes);
            if len > MAX_SAVED_BYTES as u64 {
                return Err(BadBootstrapFrame::TooLarge { len });
            }
            if len == 0 {
                return Err(bad("an empty document"));
            }
            let count_bytes: [u8; 2] = body
                .get(8..10)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| bad("no head count"))?;
            let count = usize::from(u16::from_be_bytes(count_bytes));
            if count > MAX_HEADS {
                return Err(bad(&format!("{count} heads (at most {MAX_HEADS})")));
            }
            let hashes = &body[10..];
            if hashes.len() != count * 32 {
                return Err(bad(&format!(
                    "{count} heads announced in {} bytes",
                    hashes.len()
                )));
            }
            let heads = hashes
                .chunks_exact(32)
                .map(|h| ChangeHash::try_from(h).map_err(|_| bad("a head")))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Offer::Document { len, heads })
        }
        found => Err(BadBootstrapFrame::Kind {
            found,
            expected: "an offer",
        }),
    }
}

/// Splits `document` into piece frames.
pub fn encode_pieces(document: &[u8]) -> Vec<Vec<u8>> {
    document
        .chunks(PIECE_LEN)
        .map(|piece| {
            let mut out = Vec::with_capacity(2 + piece.len());
            out.extend_from_slice(&[BOOTSTRAP_VERSION, KIND_PIECE]);
            out.extend_from_slice(piece);
            out
        })
        .collect()
}

/// The document bytes of a piece frame.
pub fn decode_piece(frame: &[u8]) -> Result<&[u8], BadBootstrapFrame> {
    match split(frame)? {
        (KIND_PIECE, body) => Ok(body),
        (found, _) => Err(BadBootstrapFrame::Kind {
            found,
            expected: "a piece of the document",
        }),
    }
}

fn split(frame: &[u8]) -> Result<(u8, &[u8]), BadBootstrapFrame> {
    let [version, kind, body @ ..] = frame else {
        return Err(BadBootstrapFrame::Short { len: frame.len() });
    };
    if *version != BOOTSTRAP_VERSION {
        return Err(BadBootstrapFrame::Version { found: *version });
    }
    Ok((*kind, body))
}

/// The frame of the signatures that vouch for the document's changes
/// (`quire_store::SignatureBook::encode_entries`).
pub fn encode_signatures(entries: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() + 2);
    out.extend_from_slice(&[BOOTSTRAP_VERSION, KIND_SIGNATURES]);
    out.extend_from_slice(entries);
    out
}

/// The encoded signatures a signatures frame holds.
pub fn decode_signatures(frame: &[u8]) -> Result<&[u8], BadBootstrapFrame> {
    match split(frame)? {
        (KIND_SIGNATURES, body) => Ok(body),
        (found, _) => Err(BadBootstrapFrame::Kind {
            found,
            expected: "the signatures",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(n: u8) -> ChangeHash {
        ChangeHash([n; 32])
    }

    #[test]
    fn offers_round_trip() {
        for offer in [
            Offer::Nothing {
                reason: "changes wait for dependencies".into(),
            },
            Offer::Document {
                len: 3_149_598,
                heads: vec![hash(1), hash(2)],
            },
        ] {
            assert_eq!(decode_offer(&encode_offer(&offer)).unwrap(), offer);
        }
    }

    #[test]
    fn pieces_round_trip_under_the_frame_cap() {
        let document: Vec<u8> = (0..PIECE_LEN * 2 + 5).map(|i| i as u8).collect();
        let pieces = encode_pieces(&document);
        assert_eq!(pieces.len(), 3);
        assert!(pieces.iter().all(|p| p.len() <= crate::frame::MAX_FRAME));
        let joined: Vec<u8> = pieces
            .iter()
            .flat_map(|p| decode_piece(p).unwrap().to_vec())
            .collect();
        assert_eq!(joined, document);
    }

    #[test]
    fn an_unknown_version_is_refused_by_name() {
        let mut frame = encode_offer(&Offer::Nothing { reason: "x".into() });
        frame[0] = 9;
        let err = decode_offer(&frame).unwrap_err();
        assert_eq!(
            err.to_string(),
            "bootstrap version 9 not understood (this build speaks 2)"
        );
    }

    #[test]
    fn an_offer_past_the_cap_or_short_of_its_heads_is_refused() {
        let big = encode_offer(&Offer::Document {
            len: MAX_SAVED_BYTES as u64 + 1,
            heads: vec![hash(1)],
        });
        assert!(matches!(
            decode_offer(&big),
            Err(BadBootstrapFrame::TooLarge { .. })
        ));
        let mut short = encode_offer(&Offer::Document {
            len: 10,
            heads: vec![hash(1), hash(2)],
        });
        short.truncate(short.len() - 1);
        let err = decode_offer(&short).unwrap_err();
        assert!(
            err.to_string().contains("2 heads announced in 63 bytes"),
            "{err}"
        );
        assert!(matches!(
            decode_offer(&[BOOTSTRAP_VERSION]),
            Err(BadBootstrapFrame::Short { len: 1 })
        ));
        assert!(matches!(
            decode_piece(&encode_offer(&Offer::Nothing { reason: "x".into() })),
            Err(BadBootstrapFrame::Kind { found: 0, .. })
        ));
    }
}
