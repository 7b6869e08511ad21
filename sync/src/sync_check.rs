//! A strict check of an incoming automerge sync message before automerge decodes it.
//!
//! automerge's `sync::Message::decode` trusts its input: a bloom filter may ask for billions of
//! probes (an allocation that aborts the process) or zero bits per entry (a division by zero
//! later), and compressed chunks are inflated without limit. We never advertise V2 messages, so
//! an honest peer only sends V1 messages whose changes are plain change chunks. This module walks
//! that wire format itself, with checked arithmetic and every count weighed against the input that
//! is left, and only hands the bytes to automerge once they are known to be of that shape. Each
//! change's op columns are counted too (the crate's `change_ops` module): a change may claim no more ops
//! than [`max_ops`] of its size, since automerge expands every op a run-length encoded column
//! claims, however few bytes claim them.
//!
//! The V1 wire format, all numbers unsigned LEB128:
//!
//! ```text
//! 0x42
//! count, heads: 32-byte hashes
//! count, need:  32-byte hashes
//! count, haves: (count, last_sync: 32-byte hashes; length, bloom bytes)
//! count, changes: (length, one change chunk)
//! optionally: length, flag bytes — and nothing after
//! ```

use std::collections::{HashMap, HashSet};

use automerge::legacy::{ObjectId, OpId, OpType};
use automerge::sync::{Message, MessageVersion, ReadMessageError};
use automerge::{ActorId, Automerge, Change, ChangeHash, ExpandedChange};

use crate::change_ops::check_change_ops;
use crate::columns::{self, NumberFault};
use crate::seq_index::SeqIndex;

pub use crate::change_ops::{MAX_OPS_PER_BYTE, MIN_OPS, max_ops};

/// The first byte of a V1 sync message.
const SYNC_V1: u8 = 0x42;
/// The first byte of a V2 sync message, which we never accept.
const SYNC_V2: u8 = 0x43;
/// Bytes in a change hash.
const HASH_LEN: usize = 32;
/// The magic bytes that open every automerge chunk.
const CHUNK_MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// The chunk type of a plain (uncompressed) change.
const CHUNK_TYPE_CHANGE: u8 = 1;
/// The most probes a bloom filter may ask for (automerge uses 7).
const MAX_BLOOM_PROBES: u64 = 32;
/// The most bits per entry a bloom filter may use (automerge uses 10).
const MAX_BLOOM_BITS_PER_ENTRY: u64 = 64;

/// How much one sync message may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most hashes in each list: the heads, the needed hashes, and each have's last-sync heads.
    pub max_hashes: usize,
    /// The most haves.
    pub max_haves: usize,
    /// The most entries in one have's bloom filter.
    pub max_bloom_entries: u32,
    /// The most changes.
    pub max_changes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_hashes: 10_000,
            max_haves: 16,
            max_bloom_entries: 1_000_000,
            max_changes: 1_000_000,
        }
    }
}

/// Which list of a sync message a count belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The sender's heads.
    Heads,
    /// The hashes the sender asks for.
    Need,
    /// The summaries of what the sender has.
    Haves,
    /// The last-sync heads of one have.
    LastSync,
    /// The changes carried.
    Changes,
}

impl std::fmt::Display for Section {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Heads => "heads",
            Self::Need => "needed hashes",
            Self::Haves => "haves",
            Self::LastSync => "last-sync heads",
            Self::Changes => "changes",
        })
    }
}

/// Why an incoming sync message was refused.
#[derive(Debug, thiserror::Error)]
pub enum BadSyncMessage {
    /// The first byte is not that of a V1 sync message.
    #[error("sync message version {found:#04x} not accepted (only v1)")]
    Version {
        /// The first byte found.
        found: u8,
    },
    /// The message ended before a field it announced.
    #[error("sync message truncated at byte {at}")]
    Truncated {
        /// The offset at which more input was needed.
        at: usize,
    },
    /// A LEB128 number is overlong or does not fit in 64 bits.
    #[error("malformed number at byte {at} of the sync message")]
    BadNumber {
        /// The offset at which the number starts.
        at: usize,
    },
    /// A list has more entries than the limits allow.
    #[error("sync message carries {count} {section} (at most {max})")]
    TooMany {
        /// Which list.
        section: Section,
        /// The count the message announced.
        count: u64,
        /// The most accepted.
        max: usize,
    },
    /// A list announces more entries than the rest of the message could hold.
    #[error("sync message announces {count} {section} but only {remaining} bytes remain")]
    CountExceedsInput {
        /// Which list.
        section: Section,
        /// The count the message announced.
        count: u64,
        /// The bytes left after the count.
        remaining: usize,
    },
    /// A bloom filter asks for too many probes, or none.
    #[error("bloom filter asks for {probes} probes (at most {max})", max = MAX_BLOOM_PROBES)]
    BloomProbes {
        /// The probe count announced.
        probes: u64,
    },
    /// A bloom filter uses no bits per entry, or too many.
    #[error(
        "bloom filter uses {bits_per_entry} bits per entry (1 to {max} accepted)",
        max = MAX_BLOOM_BITS_PER_ENTRY
    )]
    BloomBitsPerEntry {
        /// The bits per entry announced.
        bits_per_entry: u64,
    },
    /// A bloom filter has more entries than the limits allow.
    #[error("bloom filter has {entries} entries (at most {max})")]
    BloomEntries {
        /// The entry count announced.
        entries: u64,
        /// The most accepted.
        max: u32,
    },
    /// A bloom filter's bits are not as long as its parameters say.
    #[error("bloom filter needs {expected} bytes of bits but carries {found}")]
    BloomLength {
        /// The bytes its entry count and bits per entry call for.
        expected: u64,
        /// The bytes it carries.
        found: usize,
    },
    /// A bloom filter of zero entries carries bytes; an empty filter is sent as no bytes at all.
    #[error("bloom filter of zero entries carries {len} bytes")]
    BloomNotEmpty {
        /// The bytes it carries.
        len: usize,
    },
    /// A change does not hold a complete chunk header.
    #[error("change {index} ({len} bytes) has no complete chunk header")]
    ChunkHeader {
        /// The change's position in the message.
        index: usize,
        /// Its length.
        len: usize,
    },
    /// A change does not start with automerge's magic bytes.
    #[error("change {index} is not an automerge chunk (bad magic bytes)")]
    ChunkMagic {
        /// The change's position in the message.
        index: usize,
    },
    /// A change is a chunk of another type than a plain change.
    #[error(
        "change {index} is a {} chunk (type {chunk_type}); only plain change chunks are accepted",
        chunk_type_name(*chunk_type)
    )]
    ChunkType {
        /// The change's position in the message.
        index: usize,
        /// The chunk type byte found.
        chunk_type: u8,
    },
    /// A change's chunk header declares another length than the change has.
    #[error("change {index} is {actual} bytes but its chunk header accounts for {declared}")]
    ChunkLength {
        /// The change's position in the message.
        index: usize,
        /// The header's length plus the data length it declares.
        declared: u64,
        /// The change's actual length.
        actual: usize,
    },
    /// Bytes follow the end of the message.
    #[error("{count} unexpected bytes after the end of the sync message at byte {at}")]
    TrailingBytes {
        /// Where the message ended.
        at: usize,
        /// How many bytes follow.
        count: usize,
    },
    /// automerge refused a message that passed these checks.
    #[error("automerge could not decode the sync message")]
    Decode(#[source] ReadMessageError),
    /// A change's layout (header fields, columns) does not parse.
    #[error("change {index} is malformed: {what}")]
    ChangeLayout {
        /// The change's position in the message.
        index: usize,
        /// What could not be read.
        what: &'static str,
    },
    /// A change's ops name an actor by an index past the change's list of actors.
    #[error("change {index} names actor {actor} but lists only {actors}")]
    ChangeActor {
        /// The change's position in the message.
        index: usize,
        /// The actor index found.
        actor: u64,
        /// How many actors the change lists.
        actors: u64,
    },
    /// A change's columns claim more ops than its size allows: automerge would expand every
    /// one of them (the op bomb).
    #[error("change {index} claims {ops} ops in {len} bytes (at most {max})")]
    TooManyOps {
        /// The change's position in the message.
        index: usize,
        /// The most rows any of its op columns claims (saturated at `u64::MAX`).
        ops: u64,
        /// The most its size allows ([`max_ops`]).
        max: u64,
        /// Its size in bytes.
        len: usize,
    },
    /// A change's group columns claim more predecessors than its size allows.
    #[error("change {index} claims {count} predecessors in {len} bytes (at most {max})")]
    TooManyPredecessors {
        /// The change's position in the message.
        index: usize,
        /// The most any group or grouped column claims (saturated at `u64::MAX`).
        count: u64,
        /// The most its size allows ([`max_ops`]).
        max: u64,
        /// Its size in bytes.
        len: usize,
    },
    /// A change's op columns disagree on how many ops it holds.
    #[error("change {index} column {spec:#x} holds {rows} rows where its ops need {expected}")]
    ColumnRows {
        /// The change's position in the message.
        index: usize,
        /// The column's spec.
        spec: u32,
        /// The rows it holds.
        rows: u64,
        /// The rows its ops (or its group) call for.
        expected: u64,
    },
    /// A change's value column is not as long as its value lengths add up to.
    #[error("change {index} value column {id} holds {found} bytes but its lengths claim {claimed}")]
    ValueLength {
        /// The change's position in the message.
        index: usize,
        /// The column id of the value columns.
        id: u32,
        /// The bytes the value metadata adds up to (saturated).
        claimed: u64,
        /// The bytes the value column holds.
        found: u64,
    },
    /// A change's sequence number does not come next for its actor.
    #[error("change {index} has sequence number {seq} where {expected} comes next for its actor")]
    ChangeSequence {
        /// The change's position in the message.
        index: usize,
        /// Its sequence number.
        seq: u64,
        /// The one that comes next.
        expected: u64,
    },
    /// A change is not in the encoding automerge writes for its ops.
    #[error("change {index} is not canonically encoded")]
    NotCanonical {
        /// The change's position in the message.
        index: usize,
    },
    /// A change writes into an object that neither our document nor the message creates.
    #[error("change {index} writes into object `{object}`, which does not exist")]
    UnknownObject {
        /// The change's position in the message.
        index: usize,
        /// The object's id, `counter@actor`.
        object: String,
    },
}

fn chunk_type_name(chunk_type: u8) -> &'static str {
    match chunk_type {
        0 => "document",
        1 => "change",
        2 => "compressed",
        3 => "bundle",
        _ => "unknown",
    }
}

/// Checks `bytes` as a V1 sync message within `limits`, then decodes it.
///
/// Every count is weighed against the limits and the remaining input before anything is read or
/// allocated for it; a message that passes holds only plain change chunks, each claiming at most
/// [`max_ops`] of its size in ops, with columns that agree on that count, and bloom filters
/// whose parameters are safe to use.
pub fn check_sync_message(bytes: &[u8], limits: &Limits) -> Result<Message, BadSyncMessage> {
    walk(bytes, limits)?;
    let message = Message::decode(bytes).map_err(BadSyncMessage::Decode)?;
    // The walk already refused everything but 0x42, so this is a second line of defence.
    if message.version != MessageVersion::V1 {
        return Err(BadSyncMessage::Version { found: SYNC_V2 });
    }
    Ok(message)
}

/// Checks the changes of a message that passed [`check_sync_message`] against `doc`: each must
/// be in the canonical encoding automerge writes, and write only into objects that `doc` holds
/// or that the message's own changes create.
///
/// automerge trusts both. A change in another encoding of the same ops is stored under a hash
/// that its saved form does not reproduce, so the document saves into a snapshot that no
/// longer loads; and a change that names an object nobody made panics while it is applied.
/// A change that does not parse is left to automerge, which refuses it.
///
/// A change whose dependencies are neither in `doc` nor in the message (nor depend only on
/// such) cannot be checked yet, and is left to automerge, which holds it back until they
/// arrive: an honest peer sends such changes whenever its bloom filter of our changes gives a
/// false positive, and refusing them would shut that peer out for good, since it would send
/// the same message on every reconnect. Should a held-back change be hostile after all, the
/// group actor catches automerge's panic when it is finally applied and reloads the group.
pub fn check_changes(doc: &Automerge, message: &Message) -> Result<(), BadSyncMessage> {
    check_changes_with(doc, message, &mut SeqIndex::new())
}

/// [`check_changes`], reading the actors' last sequence numbers from `seqs`, which is brought
/// up to `doc` first: a session that keeps one pays for the changes new since its last
/// message instead of a pass over the whole history.
pub fn check_changes_with(
    doc: &Automerge,
    message: &Message,
    seqs: &mut SeqIndex,
) -> Result<(), BadSyncMessage> {
    let mut parsed = Vec::new();
    let mut changes = Vec::new();
    for (index, bytes) in message.changes.iter().enumerate() {
        // Bounded to expand: `check_sync_message` checked every actor index it holds, and
        // that its ops are no more than its bytes allow. Values it does not read (an op
        // counter past `u32`, found by fuzzing) still make automerge's parser panic: such a
        // change is refused as malformed, before anything else sees it.
        let parsed_change = std::panic::catch_unwind(|| {
            let change = Change::try_from(bytes).ok()?;
            let expanded: ExpandedChange = change.decode();
            let canonical = Change::from(expanded.clone()).hash() == change.hash();
            Some((change, expanded, canonical))
        });
        let (change, expanded) = match parsed_change {
            Err(_) => {
                return Err(BadSyncMessage::ChangeLayout {
                    index,
                    what: "automerge cannot parse it",
                });
            }
            Ok(None) => continue,
            Ok(Some((_, _, false))) => return Err(BadSyncMessage::NotCanonical { index }),
            Ok(Some((change, expanded, true))) => (change, expanded),
        };
        parsed.push((index, change));
        changes.push(expanded);
    }
    let deferred = waiting_for_dependencies(doc, &parsed);
    let (parsed, changes): (Vec<_>, Vec<_>) = parsed
        .into_iter()
        .zip(changes)
        .filter(|((_, change), _)| !deferred.contains(&change.hash()))
        .unzip();
    let mut created = HashSet::new();
    for change in &changes {
        for (offset, op) in (0u64..).zip(&change.operations) {
            if matches!(op.action, OpType::Make(_)) {
                let counter = change.start_op.get().saturating_add(offset);
                created.insert(OpId(counter, change.actor_id.clone()));
            }
        }
    }
    for ((index, _), change) in parsed.iter().zip(&changes) {
        let index = *index;
        for op in &change.operations {
            let ObjectId::Id(obj) = &op.obj else {
                continue;
            };
            // `import` finds the object by `counter@actor` and fails unless it is one.
            if !created.contains(obj) && doc.import(&obj.to_string()).is_err() {
                return Err(BadSyncMessage::UnknownObject {
                    index,
                    object: obj.to_string(),
                });
            }
        }
    }
    if parsed.is_empty() {
        return Ok(());
    }
    seqs.catch_up(doc);
    check_sequences(doc, seqs, &parsed)
}

/// The hashes of the changes in `parsed` that depend on a change neither `doc` nor the rest
/// of the message holds, directly or through another such change.
fn waiting_for_dependencies(doc: &Automerge, parsed: &[(usize, Change)]) -> HashSet<ChangeHash> {
    let in_message: HashSet<ChangeHash> = parsed.iter().map(|(_, c)| c.hash()).collect();
    let mut deferred: HashSet<ChangeHash> = HashSet::new();
    loop {
        let before = deferred.len();
        for (_, change) in parsed {
            let hash = change.hash();
            if deferred.contains(&hash) {
                continue;
            }
            let missing = change.deps().iter().any(|dep| {
                deferred.contains(dep)
                    || (!in_message.contains(dep) && doc.get_change_meta_by_hash(dep).is_none())
            });
            if missing {
                deferred.insert(hash);
            }
        }
        if deferred.len() == before {
            return deferred;
        }
    }
}

/// Checks that each actor's new changes continue its sequence numbers from the last change of
/// that actor in `doc` (as `seqs`, caught up with `doc`, knows it), one by one: automerge
/// asserts it (a panic) as it adds them to its graph.
fn check_sequences(
    doc: &Automerge,
    seqs: &SeqIndex,
    parsed: &[(usize, Change)],
) -> Result<(), BadSyncMessage> {
    let mut seen = HashSet::new();
    let mut incoming: HashMap<&ActorId, Vec<(u64, usize)>> = HashMap::new();
    for (index, change) in parsed {
        let (index, seq) = (*index, change.seq());
        // automerge records an author only on an actor's first change, and asserts so.
        if change.author().is_some() && seq != 1 {
            return Err(BadSyncMessage::ChangeSequence {
                index,
                seq,
                expected: 1,
            });
        }
        // A change we hold, or one the message repeats, is skipped by automerge.
        let hash = change.hash();
        if doc.get_change_meta_by_hash(&hash).is_some() || !seen.insert(hash) {
            continue;
        }
        incoming
            .entry(change.actor_id())
            .or_default()
            .push((seq, index));
    }
    for (actor, mut numbered) in incoming {
        numbered.sort_unstable();
        let mut expected = seqs.last_seq(actor);
        for (seq, index) in numbered {
            expected = expected.saturating_add(1);
            if seq != expected {
                return Err(BadSyncMessage::ChangeSequence {
                    index,
                    seq,
                    expected,
                });
            }
        }
    }
    Ok(())
}

/// Walks the whole message, refusing anything that is not a bounded, plain V1 message.
fn walk(bytes: &[u8], limits: &Limits) -> Result<(), BadSyncMessage> {
    let mut r = Reader::new(bytes);
    let version = r.byte()?;
    if version != SYNC_V1 {
        return Err(BadSyncMessage::Version { found: version });
    }

    r.hashes(Section::Heads, limits.max_hashes)?;
    r.hashes(Section::Need, limits.max_hashes)?;

    // Each have takes at least two bytes: its last-sync count and its bloom length.
    let haves = r.count(Section::Haves, limits.max_haves, 2)?;
    for _ in 0..haves {
        r.hashes(Section::LastSync, limits.max_hashes)?;
        let bloom = r.length_prefixed()?;
        check_bloom(bloom, limits)?;
    }

    // Each change takes at least its length byte; the chunk checks below do the rest.
    let changes = r.count(Section::Changes, limits.max_changes, 1)?;
    for index in 0..changes {
        let chunk = r.length_prefixed()?;
        check_change_chunk(index, chunk)?;
    }

    if !r.is_empty() {
        // The optional flags section, and nothing after it.
        r.length_prefixed()?;
        if !r.is_empty() {
            return Err(BadSyncMessage::TrailingBytes {
                at: r.pos,
                count: r.remaining(),
            });
        }
    }
    Ok(())
}

/// Checks one have's bloom filter bytes.
fn check_bloom(bloom: &[u8], limits: &Limits) -> Result<(), BadSyncMessage> {
    if bloom.is_empty() {
        return Ok(());
    }
    let mut r = Reader::new(bloom);
    let entries = r.leb128()?;
    let bits_per_entry = r.leb128()?;
    let probes = r.leb128()?;
    if entries == 0 {
        return Err(BadSyncMessage::BloomNotEmpty { len: bloom.len() });
    }
    if entries > u64::from(limits.max_bloom_entries) {
        return Err(BadSyncMessage::BloomEntries {
            entries,
            max: limits.max_bloom_entries,
        });
    }
    if !(1..=MAX_BLOOM_BITS_PER_ENTRY).contains(&bits_per_entry) {
        return Err(BadSyncMessage::BloomBitsPerEntry { bits_per_entry });
    }
    if !(1..=MAX_BLOOM_PROBES).contains(&probes) {
        return Err(BadSyncMessage::BloomProbes { probes });
    }
    // Both factors are bounded above (u32 and 64), so this cannot overflow; checked anyway.
    let expected = entries
        .checked_mul(bits_per_entry)
        .map(|bits| bits.div_ceil(8))
        .ok_or(BadSyncMessage::BloomEntries {
            entries,
            max: limits.max_bloom_entries,
        })?;
    let found = r.remaining();
    if u64::try_from(found).ok() != Some(expected) {
        return Err(BadSyncMessage::BloomLength { expected, found });
    }
    Ok(())
}

/// Checks that `chunk` is exactly one plain change chunk.
fn check_change_chunk(index: usize, chunk: &[u8]) -> Result<(), BadSyncMessage> {
    let too_short = || BadSyncMessage::ChunkHeader {
        index,
        len: chunk.len(),
    };
    let magic = chunk.get(..CHUNK_MAGIC.len()).ok_or_else(too_short)?;
    if magic != CHUNK_MAGIC {
        return Err(BadSyncMessage::ChunkMagic { index });
    }
    // Magic, then four checksum bytes, then the type byte.
    let chunk_type = *chunk.get(8).ok_or_else(too_short)?;
    if chunk_type != CHUNK_TYPE_CHANGE {
        return Err(BadSyncMessage::ChunkType { index, chunk_type });
    }
    let mut r = Reader::new(chunk);
    r.pos = 9;
    let data_len = r.leb128().map_err(|_| too_short())?;
    let declared = u64::try_from(r.pos)
        .ok()
        .and_then(|header| header.checked_add(data_len))
        .unwrap_or(u64::MAX);
    if u64::try_from(chunk.len()).ok() != Some(declared) {
        return Err(BadSyncMessage::ChunkLength {
            index,
            declared,
            actual: chunk.len(),
        });
    }
    check_change_ops(index, chunk.len(), &chunk[r.pos..]).map(|_| ())
}

/// A cursor over the message that reports where it ran out.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    fn byte(&mut self) -> Result<u8, BadSyncMessage> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or(BadSyncMessage::Truncated { at: self.pos })?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, len: u64) -> Result<&'a [u8], BadSyncMessage> {
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| self.pos.checked_add(len))
            .filter(|end| *end <= self.bytes.len())
            .ok_or(BadSyncMessage::Truncated {
                at: self.bytes.len(),
            })?;
        let taken = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(taken)
    }

    /// An unsigned LEB128 number, refusing overlong encodings and values over 64 bits as
    /// automerge does.
    fn leb128(&mut self) -> Result<u64, BadSyncMessage> {
        let start = self.pos;
        columns::read_unsigned(self.bytes, &mut self.pos).map_err(|fault| match fault {
            NumberFault::Truncated => BadSyncMessage::Truncated {
                at: self.bytes.len(),
            },
            NumberFault::Malformed => BadSyncMessage::BadNumber { at: start },
        })
    }

    /// A count of entries of at least `min_size` bytes each, within `max` and the input left.
    fn count(
        &mut self,
        section: Section,
        max: usize,
        min_size: usize,
    ) -> Result<usize, BadSyncMessage> {
        let count = self.leb128()?;
        let remaining = self.remaining();
        let needed = usize::try_from(count)
            .ok()
            .and_then(|count| count.checked_mul(min_size));
        if needed.is_none_or(|needed| needed > remaining) {
            return Err(BadSyncMessage::CountExceedsInput {
                section,
                count,
                remaining,
            });
        }
        match usize::try_from(count) {
            Ok(count) if count <= max => Ok(count),
            _ => Err(BadSyncMessage::TooMany {
                section,
                count,
                max,
            }),
        }
    }

    /// A counted list of change hashes.
    fn hashes(&mut self, section: Section, max: usize) -> Result<(), BadSyncMessage> {
        let count = self.count(section, max, HASH_LEN)?;
        // count * HASH_LEN was checked against the remaining input by `count`.
        self.take((count * HASH_LEN) as u64)?;
        Ok(())
    }

    /// A LEB128 length followed by that many bytes.
    fn length_prefixed(&mut self) -> Result<&'a [u8], BadSyncMessage> {
        let len = self.leb128()?;
        self.take(len)
    }
}

#[cfg(test)]
mod tests {
    use automerge::sync::{State, SyncDoc};
    use automerge::transaction::Transactable;
    use automerge::{Automerge, ROOT};

    use super::*;

    fn doc_with(key: &str, values: usize) -> Automerge {
        let mut doc = Automerge::new();
        for i in 0..values {
            let mut tx = doc.transaction();
            tx.put(ROOT, format!("{key}{i}"), i as i64).expect("put");
            tx.commit();
        }
        doc
    }

    fn wire(mut msg: Message) -> Vec<u8> {
        msg.flags = None;
        msg.encode()
    }

    /// Runs a full sync between two diverged documents, checking every message on the way, and
    /// returns the encoded messages.
    fn synced_messages() -> Vec<Vec<u8>> {
        synced_messages_between(&mut doc_with("a", 5), &mut doc_with("b", 3))
    }

    /// Syncs `one` and `two` until both are quiet, checking every message on the way.
    fn synced_messages_between(one: &mut Automerge, two: &mut Automerge) -> Vec<Vec<u8>> {
        let (mut s1, mut s2) = (State::new(), State::new());
        let mut seen = Vec::new();
        for _ in 0..20 {
            let mut quiet = true;
            if let Some(m) = one.generate_sync_message(&mut s1) {
                let bytes = wire(m);
                let checked = check_sync_message(&bytes, &Limits::default()).expect("honest");
                two.receive_sync_message(&mut s2, checked).expect("receive");
                seen.push(bytes);
                quiet = false;
            }
            if let Some(m) = two.generate_sync_message(&mut s2) {
                let bytes = wire(m);
                let checked = check_sync_message(&bytes, &Limits::default()).expect("honest");
                one.receive_sync_message(&mut s1, checked).expect("receive");
                seen.push(bytes);
                quiet = false;
            }
            if quiet {
                break;
            }
        }
        assert_eq!(one.get_heads(), two.get_heads(), "the documents converged");
        seen
    }

    /// An honest message that carries changes and a non-empty bloom filter.
    fn rich_message() -> Vec<u8> {
        let messages = synced_messages();
        messages
            .into_iter()
            .find(|m| {
                let msg = Message::decode(m).expect("decode");
                msg.changes.len() > 1 && msg.have.iter().any(|h| !h.bloom.to_bytes().is_empty())
            })
            .expect("a message with changes and a bloom filter")
    }

    fn leb(out: &mut Vec<u8>, v: u64) {
        leb128::write::unsigned(out, v).expect("a Vec takes every byte");
    }

    /// A message with one have whose bloom bytes are `bloom`.
    fn message_with_bloom(bloom: &[u8]) -> Vec<u8> {
        let mut m = vec![SYNC_V1, 0, 0, 1, 0];
        leb(&mut m, bloom.len() as u64);
        m.extend_from_slice(bloom);
        m.push(0);
        m
    }

    /// A message with the given changes.
    fn message_with_changes(changes: &[&[u8]]) -> Vec<u8> {
        let mut m = vec![SYNC_V1, 0, 0, 0];
        leb(&mut m, changes.len() as u64);
        for c in changes {
            leb(&mut m, c.len() as u64);
            m.extend_from_slice(c);
        }
        m
    }

    fn a_change_chunk() -> Vec<u8> {
        let doc = doc_with("k", 1);
        doc.get_changes(&[])[0].raw_bytes().to_vec()
    }

    fn check(bytes: &[u8]) -> Result<Message, BadSyncMessage> {
        check_sync_message(bytes, &Limits::default())
    }

    /// Found by the soak test: a peer whose bloom filter of our changes gave a false positive
    /// sent a change without the change it depends on (which made the object it writes into).
    /// Refusing it shut that honest peer out on every reconnect; it must go to automerge,
    /// which holds it back until the missing change arrives.
    #[test]
    fn a_change_whose_dependency_has_not_arrived_is_left_to_automerge() {
        let mut origin = Automerge::new();
        let mut tx = origin.transaction();
        let map = tx
            .put_object(ROOT, "invite", automerge::ObjType::Map)
            .expect("make");
        tx.commit();
        let mut tx = origin.transaction();
        tx.put(&map, "used", 1).expect("put");
        tx.commit();
        let changes = origin.get_changes(&[]);
        let (first, second) = (changes[0].raw_bytes(), changes[1].raw_bytes());

        let mut doc = Automerge::new();
        let msg = check(&message_with_changes(&[second])).expect("well-formed");
        check_changes(&doc, &msg).expect("not checkable yet, so not refused");
        doc.receive_sync_message(&mut State::new(), msg)
            .expect("held back");
        assert!(doc.get_heads().is_empty(), "nothing applied yet");

        let msg = check(&message_with_changes(&[first])).expect("well-formed");
        check_changes(&doc, &msg).expect("the missing change");
        doc.receive_sync_message(&mut State::new(), msg)
            .expect("applied");
        assert_eq!(doc.get_heads(), origin.get_heads());
    }

    #[test]
    fn honest_sync_passes_and_round_trips() {
        let messages = synced_messages();
        assert!(messages.len() >= 3);
        for bytes in &messages {
            let msg = check(bytes).expect("honest message");
            assert_eq!(&msg.encode(), bytes);
        }
        // The rich message really exercises blooms and changes.
        check(&rich_message()).expect("rich message");
    }

    #[test]
    fn flags_section_is_accepted_but_nothing_after_it() {
        let one = doc_with("a", 2);
        let msg = one
            .generate_sync_message(&mut State::new())
            .expect("message");
        assert!(msg.flags.is_some());
        let mut bytes = msg.encode();
        check(&bytes).expect("flags are allowed");
        bytes.push(0);
        let err = check(&bytes).expect_err("trailing");
        assert!(matches!(
            err,
            BadSyncMessage::TrailingBytes { count: 1, .. }
        ));
    }

    #[test]
    fn v2_and_other_versions_are_refused() {
        let mut bytes = rich_message();
        bytes[0] = SYNC_V2;
        let err = check(&bytes).expect_err("v2");
        assert!(matches!(err, BadSyncMessage::Version { found: 0x43 }));
        assert_eq!(
            err.to_string(),
            "sync message version 0x43 not accepted (only v1)"
        );
        assert!(matches!(
            check(&[0x00]),
            Err(BadSyncMessage::Version { found: 0 })
        ));
        assert!(matches!(
            check(&[]),
            Err(BadSyncMessage::Truncated { at: 0 })
        ));
    }

    #[test]
    fn bloom_with_huge_probes_is_refused() {
        let mut bloom = Vec::new();
        leb(&mut bloom, 1);
        leb(&mut bloom, 10);
        leb(&mut bloom, 4_000_000_000);
        bloom.extend_from_slice(&[0xff, 0xff]);
        let err = check(&message_with_bloom(&bloom)).expect_err("probes");
        assert!(matches!(
            err,
            BadSyncMessage::BloomProbes {
                probes: 4_000_000_000
            }
        ));
        assert_eq!(
            err.to_string(),
            "bloom filter asks for 4000000000 probes (at most 32)"
        );
    }

    #[test]
    fn bloom_with_zero_bits_per_entry_is_refused() {
        let bloom = [5, 0, 7];
        let err = check(&message_with_bloom(&bloom)).expect_err("zero bits");
        assert!(matches!(
            err,
            BadSyncMessage::BloomBitsPerEntry { bits_per_entry: 0 }
        ));
    }

    #[test]
    fn bloom_with_wrong_length_or_zero_entries_is_refused() {
        // 3 entries at 10 bits need 4 bytes.
        let mut bloom = vec![3, 10, 7, 0, 0, 0];
        assert!(matches!(
            check(&message_with_bloom(&bloom)),
            Err(BadSyncMessage::BloomLength {
                expected: 4,
                found: 3
            })
        ));
        bloom.push(0);
        check(&message_with_bloom(&bloom)).expect("exact length");
        bloom.push(0);
        assert!(matches!(
            check(&message_with_bloom(&bloom)),
            Err(BadSyncMessage::BloomLength {
                expected: 4,
                found: 5
            })
        ));
        assert!(matches!(
            check(&message_with_bloom(&[0, 10, 7])),
            Err(BadSyncMessage::BloomNotEmpty { len: 3 })
        ));
        let mut huge = Vec::new();
        leb(&mut huge, 2_000_000);
        huge.extend_from_slice(&[10, 7]);
        assert!(matches!(
            check(&message_with_bloom(&huge)),
            Err(BadSyncMessage::BloomEntries {
                entries: 2_000_000,
                ..
            })
        ));
    }

    #[test]
    fn compressed_chunk_is_refused() {
        let mut chunk = a_change_chunk();
        check(&message_with_changes(&[&chunk])).expect("plain change");
        chunk[8] = 2;
        let err = check(&message_with_changes(&[&a_change_chunk(), &chunk])).expect_err("type 2");
        assert!(matches!(
            err,
            BadSyncMessage::ChunkType {
                index: 1,
                chunk_type: 2
            }
        ));
        assert_eq!(
            err.to_string(),
            "change 1 is a compressed chunk (type 2); only plain change chunks are accepted"
        );
    }

    #[test]
    fn document_chunk_is_refused() {
        let saved = doc_with("d", 3).save();
        let err = check(&message_with_changes(&[&saved])).expect_err("document");
        assert!(matches!(
            err,
            BadSyncMessage::ChunkType {
                index: 0,
                chunk_type: 0
            }
        ));
    }

    #[test]
    fn two_chunks_in_one_change_are_refused() {
        let chunk = a_change_chunk();
        let doubled = [chunk.clone(), chunk.clone()].concat();
        assert!(matches!(
            check(&message_with_changes(&[&doubled])),
            Err(BadSyncMessage::ChunkLength { index: 0, .. })
        ));
        let short = &chunk[..chunk.len() - 1];
        assert!(matches!(
            check(&message_with_changes(&[short])),
            Err(BadSyncMessage::ChunkLength { index: 0, .. })
        ));
        assert!(matches!(
            check(&message_with_changes(&[&chunk[..6]])),
            Err(BadSyncMessage::ChunkHeader { index: 0, len: 6 })
        ));
        let mut bad_magic = chunk.clone();
        bad_magic[0] = 0;
        assert!(matches!(
            check(&message_with_changes(&[&bad_magic])),
            Err(BadSyncMessage::ChunkMagic { index: 0 })
        ));
    }

    #[test]
    fn huge_counts_are_refused_at_once() {
        for section in 0..3 {
            let mut m = vec![SYNC_V1];
            m.resize(1 + section, 0);
            leb(&mut m, 1 << 60);
            m.extend_from_slice(&[0, 0, 0]);
            assert!(
                matches!(
                    check(&m),
                    Err(BadSyncMessage::CountExceedsInput {
                        count: 1_152_921_504_606_846_976,
                        remaining: 3,
                        ..
                    })
                ),
                "section {section}"
            );
        }
        let mut changes = vec![SYNC_V1, 0, 0, 0];
        leb(&mut changes, u64::MAX);
        assert!(matches!(
            check(&changes),
            Err(BadSyncMessage::CountExceedsInput {
                section: Section::Changes,
                ..
            })
        ));
        let mut too_long = vec![SYNC_V1, 0, 0, 0];
        too_long.extend_from_slice(&[0xff; 11]);
        assert!(matches!(
            check(&too_long),
            Err(BadSyncMessage::BadNumber { at: 4 })
        ));
    }

    #[test]
    fn counts_over_the_limits_are_refused() {
        let limits = Limits {
            max_hashes: 1,
            max_haves: 1,
            max_bloom_entries: 10,
            max_changes: 1,
        };
        let mut heads = vec![SYNC_V1, 2];
        heads.extend_from_slice(&[0; 64]);
        heads.extend_from_slice(&[0, 0, 0]);
        assert!(matches!(
            check_sync_message(&heads, &limits),
            Err(BadSyncMessage::TooMany {
                section: Section::Heads,
                count: 2,
                max: 1
            })
        ));
        let chunk = a_change_chunk();
        let two = message_with_changes(&[&chunk, &chunk]);
        assert!(matches!(
            check_sync_message(&two, &limits),
            Err(BadSyncMessage::TooMany {
                section: Section::Changes,
                count: 2,
                max: 1
            })
        ));
    }

    #[test]
    fn overlong_numbers_are_refused() {
        // A zero count written in two bytes.
        let m = [SYNC_V1, 0x80, 0x00, 0, 0, 0];
        assert!(matches!(
            check(&m),
            Err(BadSyncMessage::BadNumber { at: 1 })
        ));
    }

    #[test]
    fn every_truncation_of_a_valid_message_is_an_error() {
        // The message carries no flags section, so it ends inside its last change and every
        // strict prefix is incomplete.
        let bytes = rich_message();
        for len in 0..bytes.len() {
            assert!(
                check(&bytes[..len]).is_err(),
                "prefix of {len} bytes accepted"
            );
        }
    }

    #[test]
    fn flipped_bytes_never_panic() {
        let bytes = rich_message();
        for i in 0..bytes.len() {
            for value in [
                0x00,
                0x01,
                0x7f,
                0x80,
                0xff,
                bytes[i] ^ 0x01,
                bytes[i] ^ 0x40,
            ] {
                let mut mutated = bytes.clone();
                mutated[i] = value;
                if let Ok(msg) = check(&mutated) {
                    // Whatever passes both checks must be usable without panicking.
                    let mut doc = doc_with("z", 1);
                    if check_changes(&doc, &msg).is_ok() {
                        let _ = doc.receive_sync_message(&mut State::new(), msg);
                    }
                }
            }
        }
    }

    /// The group the `sync_message` fuzz target applies messages to (the fuzz fixture's small
    /// group, as its `load_chunks` seed holds it).
    fn fuzz_fixture_group() -> Automerge {
        let seed = include_bytes!("../../fuzz/corpus/load_chunks/seed-snapshot-in-memory");
        Automerge::load(&seed[1..]).expect("the fixture snapshot loads")
    }

    /// The changes of the message `bytes` (a kept crasher) that the wire check lets through,
    /// as a message of their own: what the later checks must still catch in it.
    fn walkable_changes(bytes: &[u8]) -> Vec<u8> {
        let msg = Message::decode(bytes).expect("a crasher automerge decodes");
        let kept: Vec<Vec<u8>> = msg
            .changes
            .iter()
            .filter(|change| check(&message_with_changes(&[change])).is_ok())
            .map(|change| change.to_vec())
            .collect();
        let kept: Vec<&[u8]> = kept.iter().map(Vec::as_slice).collect();
        message_with_changes(&kept)
    }

    /// Found by the `sync_message` fuzz target: a change whose checksum is right but whose op
    /// writes into an object nobody made passed every wire check, and automerge panicked
    /// applying it ("Obj … Missing from Index").
    #[test]
    fn change_into_a_missing_object_is_refused_before_automerge_panics() {
        let input =
            include_bytes!("../../fuzz/corpus/sync_message/crash-change-into-missing-object");
        let bytes = &input[1..];
        // Its change 5 is not one automerge can read either; the wire check now refuses it.
        assert!(matches!(
            check(bytes),
            Err(BadSyncMessage::ChangeLayout { index: 5, .. })
        ));
        let msg = check(&walkable_changes(bytes)).expect("well-formed on the wire");
        let err = check_changes(&fuzz_fixture_group(), &msg).expect_err("unknown object");
        assert!(
            matches!(err, BadSyncMessage::UnknownObject { index: 1, .. }),
            "{err}"
        );
        assert!(err.to_string().ends_with("which does not exist"), "{err}");

        // Through a session the document is left as it was.
        let mut doc = fuzz_fixture_group();
        let heads = doc.get_heads();
        let mut session =
            crate::session::PeerSession::new(quire_store::DeviceId::from_bytes([1; 32]));
        let frame = crate::envelope::encode(bytes, &[]);
        let refused = session.incoming(
            &mut doc,
            &frame,
            &Limits::default(),
            &mut quire_store::authority::Authority::new(),
            &quire_store::SignatureBook::new(),
        );
        assert!(refused.is_err());
        assert_eq!(doc.get_heads(), heads);
    }

    #[test]
    fn honest_changes_name_only_objects_that_exist() {
        let mut one = Automerge::new();
        let mut tx = one.transaction();
        let map = tx
            .put_object(ROOT, "m", automerge::ObjType::Map)
            .expect("map");
        tx.put(&map, "k", 1).expect("put");
        tx.commit();
        let mut tx = one.transaction();
        tx.put(&map, "k", 2).expect("put");
        tx.commit();
        let mut two = Automerge::new();
        for bytes in synced_messages_between(&mut one, &mut two) {
            let msg = check(&bytes).expect("honest");
            check_changes(&Automerge::new(), &msg).expect("objects made in the message");
        }
        // Once the receiver has the map, a later change into it passes on its own.
        let mut tx = one.transaction();
        tx.put(&map, "k", 3).expect("put");
        tx.commit();
        let change = one
            .get_last_local_change()
            .expect("change")
            .raw_bytes()
            .to_vec();
        let msg = check(&message_with_changes(&[&change])).expect("one change");
        check_changes(&two, &msg).expect("the map exists");
    }

    /// Found by the `sync_message` fuzz target: a change whose ops name an actor past its list
    /// of actors parses, but automerge panics expanding its ops (an `unwrap` in
    /// `Change::decode`).
    #[test]
    fn change_naming_an_actor_it_does_not_list_is_refused() {
        let input =
            include_bytes!("../../fuzz/corpus/sync_message/crash-actor-index-past-the-actors");
        let err = check(&input[1..]).expect_err("actor index past the actors");
        assert!(matches!(err, BadSyncMessage::ChangeActor { .. }), "{err}");
    }

    /// Issue 13: one 301-byte sync message carrying one change whose run-length encoded
    /// columns claim 16.7 million ops passed every check; automerge then took 50 seconds and
    /// 8 GB to expand it (2^28 ops aborted the process), and relayed it to every peer.
    #[test]
    fn op_bomb_is_refused_before_automerge_expands_it() {
        use crate::fuzz_regressions::sync_message::op_bomb;

        let bomb = op_bomb(1 << 24, 301);
        assert_eq!(bomb.len(), 301);
        let started = std::time::Instant::now();
        let err = check(&bomb).expect_err("an op bomb");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        let BadSyncMessage::TooManyOps {
            index,
            ops,
            max,
            len,
        } = err
        else {
            panic!("refused for another reason: {err}");
        };
        assert_eq!((index, ops), (0, 16_777_216));
        assert_eq!(max, max_ops(len));
        assert!(len < 301 && max < 1000, "{len} bytes, {max} ops");
        assert_eq!(
            err.to_string(),
            format!("change 0 claims 16777216 ops in {len} bytes (at most {max})")
        );
        // 2^28 ops, and the largest count a run can write: refused the same way.
        for ops in [1 << 28, i64::MAX as u64] {
            assert!(matches!(
                check(&op_bomb(ops, 301)),
                Err(BadSyncMessage::TooManyOps { .. })
            ));
        }

        // Through a session, as a group actor takes a frame: refused, the document untouched.
        let mut doc = fuzz_fixture_group();
        let heads = doc.get_heads();
        let mut session =
            crate::session::PeerSession::new(quire_store::DeviceId::from_bytes([1; 32]));
        let refused = session.incoming(
            &mut doc,
            &crate::envelope::encode(&bomb, &[]),
            &Limits::default(),
            &mut quire_store::authority::Authority::new(),
            &quire_store::SignatureBook::new(),
        );
        assert!(
            matches!(
                refused,
                Err(crate::session::PeerError::Bad(
                    BadSyncMessage::TooManyOps { .. }
                ))
            ),
            "{refused:?}"
        );
        assert_eq!(doc.get_heads(), heads);
    }

    /// The bomb is a valid change: with as many ops as its bytes allow, it passes every check
    /// and automerge applies every op.
    #[test]
    fn op_bomb_within_the_bound_is_an_ordinary_change() {
        use crate::fuzz_regressions::sync_message::op_bomb;
        use automerge::ReadDoc;

        let small = op_bomb(100, 0);
        let msg = check(&small).expect("100 ops in a change of this size");
        let mut doc = Automerge::new();
        check_changes(&doc, &msg).expect("canonical, into the root");
        doc.receive_sync_message(&mut State::new(), msg)
            .expect("applied");
        assert_eq!(doc.stats().num_ops, 100);
    }

    /// Found by the `sync_message` fuzz target: automerge took a change whose ops were encoded
    /// differently from how it writes them, under the hash of those bytes; the document then
    /// saved into a snapshot that `Automerge::load` refused ("mismatching heads"), and with
    /// debug assertions on, the next sync message to any peer panicked.
    #[test]
    fn change_in_another_encoding_is_refused_so_the_snapshot_still_loads() {
        let input =
            include_bytes!("../../fuzz/corpus/sync_message/crash-change-not-canonically-encoded");
        // Its change 0 holds bytes past what its ops read; the wire check now refuses that.
        let err = check(&input[1..]).expect_err("bytes past the ops");
        assert!(
            matches!(err, BadSyncMessage::ChangeLayout { index: 0, .. }),
            "{err}"
        );

        // Another encoding that is well-formed to the last byte: the same two ops, with one
        // run of two keys written as two runs of one.
        use crate::fuzz_regressions::sync_message::{forged_change, sync_message_with};
        let columns = |keys: &[u8]| {
            [
                (0x15, keys.to_vec()),
                (0x34, vec![2]),
                (0x42, vec![2, 1]),
                (0x56, vec![2, 0]),
                (0x70, vec![2, 0]),
            ]
        };
        let canonical = forged_change(&columns(&[2, 1, b'x']), "");
        let split = forged_change(&columns(&[1, 1, b'x', 1, 1, b'x']), "");
        for (chunk, canonical) in [(canonical, true), (split, false)] {
            let msg = check(&sync_message_with(&[&chunk])).expect("well-formed on the wire");
            let checked = check_changes(&Automerge::new(), &msg);
            if canonical {
                checked.expect("as automerge writes it");
            } else {
                let err = checked.expect_err("not canonical");
                assert!(
                    matches!(err, BadSyncMessage::NotCanonical { index: 0 }),
                    "{err}"
                );
            }
        }
    }

    /// Found by the `sync_message` fuzz target: a change whose op writes into an object
    /// whose counter is past `u32` makes automerge's change parser panic (an `unwrap` in
    /// `OpId::new`); it is refused as malformed, and nothing panics out of the check.
    #[test]
    fn a_change_naming_an_object_counter_past_u32_is_refused() {
        use crate::fuzz_regressions::sync_message::{forged_change, sync_message_with};
        let leb = |v: u64| {
            let mut out = Vec::new();
            leb128::write::unsigned(&mut out, v).expect("a Vec takes every byte");
            out
        };
        for counter in [u64::from(u32::MAX) + 1, 1 << 40] {
            let chunk = forged_change(
                &[
                    (0x01, [vec![1], leb(0)].concat()),
                    (0x02, [vec![1], leb(counter)].concat()),
                    (0x15, vec![1, 1, b'x']),
                    (0x34, vec![1]),
                    (0x42, vec![1, 1]),
                    (0x56, vec![1, 0]),
                    (0x70, vec![1, 0]),
                ],
                "",
            );
            let msg = check(&sync_message_with(&[&chunk])).expect("well-formed on the wire");
            let err = check_changes(&Automerge::new(), &msg).expect_err("a counter past u32");
            assert!(
                matches!(
                    err,
                    BadSyncMessage::ChangeLayout { index: 0, .. }
                        | BadSyncMessage::NotCanonical { index: 0 }
                ),
                "{err}"
            );
        }
    }

    /// Found by the `sync_message` fuzz target: a change whose sequence number did not follow
    /// its actor's last change made automerge fail an assertion (a panic, in release builds
    /// too) while adding it to the change graph.
    #[test]
    fn change_out_of_its_actors_sequence_is_refused() {
        let input =
            include_bytes!("../../fuzz/corpus/sync_message/crash-sequence-number-out-of-order");
        // Two of its changes are not ones automerge can read either; the wire check now
        // refuses them.
        assert!(check(&input[1..]).is_err());
        let msg = check(&walkable_changes(&input[1..])).expect("well-formed on the wire");
        let err = check_changes(&fuzz_fixture_group(), &msg).expect_err("out of sequence");
        assert!(
            matches!(err, BadSyncMessage::ChangeSequence { .. }),
            "{err}"
        );

        // Honest changes continue each actor's sequence, whatever the receiver already holds.
        let mut one = doc_with("a", 3);
        let mut two = Automerge::new();
        synced_messages_between(&mut one, &mut two);
        let mut tx = one.transaction();
        tx.put(ROOT, "late", 1).expect("put");
        tx.commit();
        let all: Vec<Vec<u8>> = one
            .get_changes(&[])
            .iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect();
        let refs: Vec<&[u8]> = all.iter().map(Vec::as_slice).collect();
        let msg = check(&message_with_changes(&refs)).expect("wire");
        check_changes(&two, &msg).expect("held changes skipped, the new one next");
        // Seq 4 alone depends on seq 3, which is missing: held back by automerge, not refused.
        let skipping = check(&message_with_changes(&[refs[3]])).expect("wire");
        let mut empty = Automerge::new();
        check_changes(&empty, &skipping).expect("seq 4 waits for 1 to 3");
        empty
            .receive_sync_message(&mut State::new(), skipping)
            .expect("held back");
        assert!(empty.get_heads().is_empty());
    }

    /// Found by the `sync_message` fuzz target: a change that passes every check here makes
    /// automerge 0.12 unwrap a missing op position while it applies the batch (a panic in
    /// release builds too). It is now refused on the wire (one of its strings is not UTF-8);
    /// were it not, a session applies nothing its authority has not judged, and the authority
    /// refuses ops naming anything outside their change's past.
    #[test]
    fn change_automerge_cannot_place_is_refused() {
        let input = include_bytes!(
            "../../fuzz/artifacts/sync_message/crash-batch-apply-unwraps-a-missing-position"
        );
        let Ok(msg) = check(&input[1..]) else {
            return;
        };
        let doc = fuzz_fixture_group();
        let mut authority = quire_store::authority::Authority::new();
        authority.seed(&doc);
        let verdicts: Vec<String> = msg
            .changes
            .iter()
            .filter_map(|bytes| Change::try_from(bytes).ok())
            .filter_map(|change| authority.judge(&doc, &change).err())
            .map(|refusal| refusal.reason)
            .collect();
        assert!(!verdicts.is_empty(), "nothing in it was refused");
    }
}
