//! Framing of log records, with no I/O.
//!
//! A log is a sequence of records, each `[u32 LE payload length][u32 LE crc32 of payload][payload]`.
//! The payload is a run of automerge change chunks. A record is valid when its length is between
//! 1 and [`MAX_PAYLOAD_LEN`], the whole payload is present and the crc matches; an empty record is
//! never written, so a header of zeros is never mistaken for one.
//!
//! [`parse`] reads the valid records from the front of a byte slice and says how the slice ends:
//!
//! * [`End::Clean`]: the last record ends exactly at the end.
//! * [`End::Incomplete`]: what follows the last valid record looks like one record that has not
//!   all reached the disk: it runs to or past the end (short header, declared length past the
//!   end, or a bad crc on a record ending exactly at the end), or the rest is all zero bytes past
//!   its first header (the file grew before its data was written, perhaps mid-header), and no
//!   valid record starts anywhere after it. In a
//!   live log it may still be in flight; in a dead one it is a torn tail.
//! * [`End::Corrupt`]: an invalid record with more data behind it. Nothing after it is trusted.
//!
//! Declared lengths are only compared, never allocated: the parser borrows from the slice.

use std::fmt;

/// Bytes in a record header: length then crc, both little-endian `u32`.
pub(crate) const HEADER_LEN: usize = 8;

/// The largest payload a record may declare (256 MiB).
pub(crate) const MAX_PAYLOAD_LEN: usize = 256 * 1024 * 1024;

/// How many payload bytes [`parse`] will checksum while looking for a valid record after a bad
/// one; past this it assumes one might exist and reports corruption rather than a torn tail.
const RESYNC_BUDGET: usize = 64 * 1024 * 1024;

/// Appends one record holding `payload` to `out`.
///
/// The payload must hold between 1 and [`MAX_PAYLOAD_LEN`] bytes; callers split larger batches.
pub(crate) fn encode_into(out: &mut Vec<u8>, payload: &[u8]) {
    debug_assert!(!payload.is_empty() && payload.len() <= MAX_PAYLOAD_LEN);
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.reserve(HEADER_LEN + payload.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// One valid record found by [`parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Record<'a> {
    /// Where the record's header starts, in bytes from the start of the parsed slice.
    pub(crate) offset: usize,
    /// The payload, borrowed from the slice.
    pub(crate) payload: &'a [u8],
}

impl Record<'_> {
    /// Where the next record would start.
    pub(crate) fn end(&self) -> usize {
        self.offset + HEADER_LEN + self.payload.len()
    }
}

/// What is wrong with the first invalid record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Defect {
    /// Fewer than [`HEADER_LEN`] bytes left.
    ShortHeader,
    /// The header declares an empty payload.
    Empty,
    /// The header declares more than [`MAX_PAYLOAD_LEN`] bytes.
    OverCap(u32),
    /// The header declares more bytes than are left.
    PastEnd(u32),
    /// The payload does not match its crc.
    Checksum,
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Defect::ShortHeader => f.write_str("truncated record header"),
            Defect::Empty => f.write_str("record declares an empty payload"),
            Defect::OverCap(len) => write!(f, "record declares {len} bytes, over the cap"),
            Defect::PastEnd(len) => write!(f, "record declares {len} bytes, past the end"),
            Defect::Checksum => f.write_str("record crc mismatch"),
        }
    }
}

/// How the parsed bytes end, after the last valid record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// The last valid record ends exactly at the end.
    Clean,
    /// From `offset` on is a record that has not (all) reached the disk.
    Incomplete {
        /// Where the unfinished record starts.
        offset: usize,
    },
    /// From `offset` on is an invalid record followed by more data.
    Corrupt {
        /// Where the invalid record starts.
        offset: usize,
        /// What is wrong with it.
        defect: Defect,
    },
}

/// The valid records at the front of a slice and how it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parsed<'a> {
    /// The valid records, in order.
    pub(crate) records: Vec<Record<'a>>,
    /// What follows them.
    pub(crate) end: End,
}

#[cfg(test)]
impl Parsed<'_> {
    /// Where the valid prefix ends.
    pub(crate) fn valid_len(&self) -> usize {
        self.records.last().map_or(0, Record::end)
    }
}

/// Parses `bytes` as a log (or the part of one after a record boundary).
pub(crate) fn parse(bytes: &[u8]) -> Parsed<'_> {
    let mut records = Vec::new();
    let mut offset = 0;
    while offset < bytes.len() {
        match check(&bytes[offset..]) {
            Ok(payload) => {
                records.push(Record { offset, payload });
                offset += HEADER_LEN + payload.len();
            }
            Err(defect) => {
                let end = classify(bytes, offset, defect);
                return Parsed { records, end };
            }
        }
    }
    Parsed {
        records,
        end: End::Clean,
    }
}

/// The payload of the record at the start of `rest`, or what is wrong with it.
fn check(rest: &[u8]) -> Result<&[u8], Defect> {
    let Some((header, body)) = rest.split_first_chunk::<HEADER_LEN>() else {
        return Err(Defect::ShortHeader);
    };
    let [l0, l1, l2, l3, c0, c1, c2, c3] = *header;
    let len = u32::from_le_bytes([l0, l1, l2, l3]);
    let crc = u32::from_le_bytes([c0, c1, c2, c3]);
    let n = len as usize;
    if n == 0 {
        return Err(Defect::Empty);
    }
    if n > MAX_PAYLOAD_LEN {
        return Err(Defect::OverCap(len));
    }
    let Some(payload) = body.get(..n) else {
        return Err(Defect::PastEnd(len));
    };
    if crc32fast::hash(payload) != crc {
        return Err(Defect::Checksum);
    }
    Ok(payload)
}

/// Decides whether the invalid record at `offset` is an unfinished tail or corruption.
fn classify(bytes: &[u8], offset: usize, defect: Defect) -> End {
    let rest = &bytes[offset..];
    let reaches_end = match defect {
        Defect::ShortHeader => true,
        _ => {
            let declared = rest
                .first_chunk::<4>()
                .map_or(0, |l| u32::from_le_bytes(*l) as usize);
            HEADER_LEN + declared >= rest.len()
        }
    };
    // A write cut short may leave part of a header followed by zeros (the file's new length
    // reached the disk, the data did not): the length field then reads as something smaller.
    let zeros_after_header = rest.iter().skip(HEADER_LEN).all(|&b| b == 0);
    let tail_shaped = reaches_end || zeros_after_header;
    if tail_shaped && !valid_record_after(rest) {
        End::Incomplete { offset }
    } else {
        End::Corrupt { offset, defect }
    }
}

/// Whether a valid record starts anywhere in `rest` after its first byte (or the search gave up).
fn valid_record_after(rest: &[u8]) -> bool {
    let mut budget = RESYNC_BUDGET;
    for start in 1..rest.len() {
        let candidate = &rest[start..];
        let Some(header) = candidate.first_chunk::<4>() else {
            break;
        };
        let n = u32::from_le_bytes(*header) as usize;
        if n == 0 || n > MAX_PAYLOAD_LEN || HEADER_LEN + n > candidate.len() {
            continue;
        }
        if n > budget {
            return true;
        }
        budget -= n;
        if check(candidate).is_ok() {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn log_of(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for p in payloads {
            encode_into(&mut out, p);
        }
        out
    }

    #[test]
    fn valid_log_parses_clean() {
        let log = log_of(&[b"one", b"two!", b"3"]);
        let parsed = parse(&log);
        assert_eq!(parsed.end, End::Clean);
        let payloads: Vec<&[u8]> = parsed.records.iter().map(|r| r.payload).collect();
        assert_eq!(payloads, [&b"one"[..], b"two!", b"3"]);
        assert_eq!(parsed.records[1].offset, 11);
        assert_eq!(parsed.valid_len(), log.len());
        assert_eq!(parse(&[]).end, End::Clean);
    }

    #[test]
    fn half_a_record_at_the_end_is_incomplete() {
        let mut log = log_of(&[b"first", b"second"]);
        let whole = log.len();
        log.truncate(whole - 3);
        let parsed = parse(&log);
        assert_eq!(parsed.records.len(), 1);
        assert_eq!(parsed.end, End::Incomplete { offset: 13 });
        // Only part of a header.
        log.truncate(13 + 5);
        assert_eq!(parse(&log).end, End::Incomplete { offset: 13 });
    }

    #[test]
    fn bad_crc_on_the_last_record_is_incomplete() {
        let mut log = log_of(&[b"first", b"second"]);
        let last = log.len() - 1;
        log[last] ^= 0x40;
        assert_eq!(parse(&log).end, End::Incomplete { offset: 13 });
    }

    #[test]
    fn zeros_after_the_last_record_are_incomplete() {
        let mut log = log_of(&[b"first"]);
        log.extend_from_slice(&[0; 40]);
        assert_eq!(parse(&log).end, End::Incomplete { offset: 13 });
    }

    #[test]
    fn a_torn_length_followed_by_zeros_is_incomplete() {
        // Regression: only the first byte of a 1150-byte record's length arrived (126), then
        // zeros; the log was quarantined as corrupt instead of losing a torn tail.
        let mut log = log_of(&[b"first"]);
        log.push(126);
        log.extend_from_slice(&[0; 1157]);
        assert_eq!(parse(&log).end, End::Incomplete { offset: 13 });
    }

    #[test]
    fn bad_record_in_the_middle_is_corrupt() {
        let mut log = log_of(&[b"first", b"second", b"third"]);
        log[13 + HEADER_LEN + 2] ^= 1;
        let parsed = parse(&log);
        assert_eq!(parsed.records.len(), 1);
        assert_eq!(
            parsed.end,
            End::Corrupt {
                offset: 13,
                defect: Defect::Checksum
            }
        );
    }

    #[test]
    fn length_running_past_the_end_is_corrupt_when_a_valid_record_follows() {
        let mut log = log_of(&[b"first", b"second", b"third"]);
        // Declare a length that runs past the end of the file.
        log[13..17].copy_from_slice(&1000u32.to_le_bytes());
        let parsed = parse(&log);
        assert_eq!(parsed.records.len(), 1);
        assert!(matches!(parsed.end, End::Corrupt { offset: 13, .. }));
    }

    #[test]
    fn over_cap_and_empty_lengths_are_invalid() {
        let mut log = log_of(&[b"first"]);
        log.extend_from_slice(&u32::MAX.to_le_bytes());
        log.extend_from_slice(&[1, 2, 3, 4]);
        assert_eq!(parse(&log).end, End::Incomplete { offset: 13 });
        let mut log = log_of(&[b"first"]);
        log.extend_from_slice(&[0; 8]);
        log.extend(log_of(&[b"second"]));
        assert_eq!(
            parse(&log).end,
            End::Corrupt {
                offset: 13,
                defect: Defect::Empty
            }
        );
    }

    proptest! {
        #[test]
        fn any_truncation_parses_to_a_prefix(
            payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..64), 0..8),
            cut in any::<proptest::sample::Index>(),
        ) {
            let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
            let log = log_of(&refs);
            let cut = cut.index(log.len() + 1);
            let parsed = parse(&log[..cut]);
            prop_assert!(parsed.records.len() <= payloads.len());
            for (record, payload) in parsed.records.iter().zip(&payloads) {
                prop_assert_eq!(record.payload, payload.as_slice());
            }
            match parsed.end {
                End::Clean => prop_assert_eq!(parsed.valid_len(), cut),
                End::Incomplete { offset } => prop_assert_eq!(offset, parsed.valid_len()),
                End::Corrupt { .. } => prop_assert!(false, "a truncation is never corrupt"),
            }
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let parsed = parse(&bytes);
            let mut at = 0;
            for r in &parsed.records {
                prop_assert_eq!(r.offset, at);
                at = r.end();
            }
            prop_assert!(at <= bytes.len());
        }
    }
}
