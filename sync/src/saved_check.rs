//! A strict walk of a saved automerge document (the output of `save()`) before automerge
//! loads it.
//!
//! `Automerge::load` trusts its input: it inflates deflated columns without a limit, sizes its
//! indexes by the number of ops the run-length encoded columns claim (a run of four billion
//! costs a few bytes to claim), and allocates lists by counts it reads. A new member's device
//! loads a document an inviter sent, so this module walks the document chunk first, with
//! checked arithmetic and every count weighed against what is left of the input and against
//! [`DocLimits`]:
//!
//! ```text
//! chunk:  magic 85 6f 4a 83 | checksum (4) | type 0 (document) | data length (uleb)
//! data:   actors: count, (length, bytes)*
//!         heads:  count, 32-byte hashes
//!         change column specs: count, (spec, length)*
//!         op column specs:     count, (spec, length)*
//!         change column data, op column data
//!         head indices: one uleb per head (or nothing, from old writers)
//! ```
//!
//! A column spec is `id << 4 | deflate << 3 | type`. Deflated columns are inflated here
//! through a limited inflater; every column is then read by its type (run-length encoded
//! numbers or strings, booleans as alternating run lengths, raw values; the crate's `columns`
//! module, which the sync check shares) to count its entries, check actor indices against the
//! actor list, and add up what groups and value metadata claim. Only a single document chunk with nothing after it is accepted: that is what
//! `save()` writes for a document with no changes waiting for dependencies.

use std::borrow::Cow;
use std::io::Read;

use automerge::ChangeHash;
use sha2::{Digest, Sha256};

use crate::columns::{self, ColumnFault, Rows, column_type};

/// The magic bytes that open every automerge chunk.
const CHUNK_MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// The chunk type of a document.
const CHUNK_TYPE_DOCUMENT: u8 = 0;
/// Bytes in a change hash.
const HASH_LEN: usize = 32;
/// The bit of a column spec that marks it deflated.
const DEFLATE_BIT: u32 = columns::DEFLATE_BIT;
/// The column id of the op columns holding each op's own id (actor and counter).
const OP_ID_COLUMN: u32 = 2;
/// The column id of the change columns holding each change's actor (and sequence number).
const CHANGE_ACTOR_COLUMN: u32 = 0;

/// The most bytes a saved document may be, as sent: 256 MiB.
pub const MAX_SAVED_BYTES: usize = 256 * 1024 * 1024;
/// The most a saved document may expand to once its columns are inflated: 1 GiB.
pub const MAX_INFLATED_BYTES: usize = 1024 * 1024 * 1024;
/// How many times its own size a document may inflate to (DEFLATE reaches about 1,000; the
/// benchmark's large group inflates 10.5 times, 3.1 MB to 33 MB).
pub const MAX_INFLATE_RATIO: usize = 64;
/// The most entries any one column may claim (ops, changes, successors, dependencies),
/// whatever the document's size. automerge keeps a few dozen bytes of index per op.
pub const MAX_ENTRIES: u64 = 32_000_000;
/// How many entries a column may claim for each byte of the document and of what its columns
/// inflate to. Run-length encoding lets a column repeat a value for nothing, so this is far
/// above what group documents reach (the benchmark's large group: 1.36 million ops in 33 MB
/// inflated, one per 24 bytes), but far below what a forged run claims.
pub const ENTRIES_PER_BYTE: u64 = 16;
/// Entries any document may claim, however small.
pub const MIN_ENTRIES: u64 = 1_000_000;
/// The most actors a document may list.
pub const MAX_ACTORS: usize = 1_000_000;
/// The longest actor id accepted (Quire's are 40 bytes; automerge's own are 16).
pub const MAX_ACTOR_LEN: usize = 64;
/// The most heads a document may have.
pub const MAX_HEADS: usize = 4096;
/// The most columns in either list (automerge writes 9 change and 15 op columns).
pub const MAX_COLUMNS: usize = 64;

/// What a saved document may hold, derived from its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocLimits {
    /// The most bytes the document may have as received.
    pub max_bytes: usize,
    /// The most bytes its columns may inflate to, in all.
    pub max_inflated: usize,
    /// Entries a column may claim per byte of the document and its inflated columns.
    pub entries_per_byte: u64,
    /// Entries a column may always claim.
    pub min_entries: u64,
    /// Entries no column may pass.
    pub max_entries: u64,
    /// The most actors.
    pub max_actors: usize,
    /// The most heads.
    pub max_heads: usize,
}

impl DocLimits {
    /// The limits for a document of `len` bytes: inflation at most [`MAX_INFLATE_RATIO`] times
    /// its size (at least 1 MiB, at most [`MAX_INFLATED_BYTES`]), and the caps above.
    pub fn for_len(len: usize) -> Self {
        let max_inflated = len
            .saturating_mul(MAX_INFLATE_RATIO)
            .clamp(1024 * 1024, MAX_INFLATED_BYTES);
        Self {
            max_bytes: MAX_SAVED_BYTES,
            max_inflated,
            entries_per_byte: ENTRIES_PER_BYTE,
            min_entries: MIN_ENTRIES,
            max_entries: MAX_ENTRIES,
            max_actors: MAX_ACTORS,
            max_heads: MAX_HEADS,
        }
    }

    /// The most entries a column may claim in a document whose bytes and inflated columns add
    /// up to `size`.
    pub fn entries_for(&self, size: usize) -> u64 {
        u64::try_from(size)
            .unwrap_or(u64::MAX)
            .saturating_mul(self.entries_per_byte)
            .clamp(self.min_entries, self.max_entries.max(self.min_entries))
    }
}

/// What the walk learned about a document that passed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedSummary {
    /// The document's heads, as its header lists them.
    pub heads: Vec<ChangeHash>,
    /// How many actors it lists.
    pub actors: usize,
    /// How many ops its op id column holds.
    pub ops: u64,
    /// How many changes its change actor column holds.
    pub changes: u64,
    /// Its size once every column is inflated.
    pub inflated: usize,
    /// The most entries a column could have claimed.
    pub max_entries: u64,
}

mod error;
mod reader;

pub use error::{BadSavedDocument, ColumnList};
use reader::Reader;

/// Walks `bytes` as a saved document within `limits`. Nothing is handed to automerge; on
/// success the caller may: every count automerge will size anything by is within the limits.
pub fn check_saved_document(
    bytes: &[u8],
    limits: &DocLimits,
) -> Result<SavedSummary, BadSavedDocument> {
    if bytes.len() > limits.max_bytes {
        return Err(BadSavedDocument::TooLarge {
            len: bytes.len(),
            max: limits.max_bytes,
        });
    }
    let mut r = Reader::new(bytes);
    if r.take(CHUNK_MAGIC.len(), "magic bytes")? != CHUNK_MAGIC {
        return Err(BadSavedDocument::Magic);
    }
    let checksum: [u8; 4] = r
        .take(4, "checksum")?
        .try_into()
        .map_err(|_| BadSavedDocument::Magic)?;
    let chunk_type = r.byte("chunk type")?;
    if chunk_type != CHUNK_TYPE_DOCUMENT {
        return Err(BadSavedDocument::ChunkType { found: chunk_type });
    }
    let type_at = r.pos - 1;
    let data_len = r.leb128("data length")?;
    let data_start = r.pos;
    let data = r.take_u64(data_len, "document data")?;
    if !r.is_empty() {
        return Err(BadSavedDocument::TrailingBytes {
            count: r.remaining(),
        });
    }
    // The checksum covers the type byte, the length and the data.
    let digest = Sha256::new()
        .chain_update(&bytes[type_at..data_start])
        .chain_update(data)
        .finalize();
    if digest[..4] != checksum {
        return Err(BadSavedDocument::Checksum {
            found: hex(&checksum),
            expected: hex(&digest[..4]),
        });
    }
    Walk {
        bytes,
        limits,
        inflated: 0,
    }
    .document(Reader {
        bytes,
        pos: data_start,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One column's spec and its data as sent.
#[derive(Debug, Clone, Copy)]
struct RawColumn<'a> {
    spec: u32,
    data: &'a [u8],
}

impl RawColumn<'_> {
    fn id(&self) -> u32 {
        columns::spec_id(self.spec)
    }

    fn column_type(&self) -> u32 {
        columns::spec_type(self.spec)
    }

    fn deflated(&self) -> bool {
        self.spec & DEFLATE_BIT != 0
    }
}

/// One column's spec and its data, inflated if it was deflated.
type Inflated<'a> = (u32, Cow<'a, [u8]>);

struct Walk<'a, 'l> {
    bytes: &'a [u8],
    limits: &'l DocLimits,
    /// Bytes the columns inflated to so far (deflated columns only).
    inflated: usize,
}

impl<'a> Walk<'a, '_> {
    fn document(&mut self, mut r: Reader<'a>) -> Result<SavedSummary, BadSavedDocument> {
        let actors = r.count("actors", self.limits.max_actors, 1)?;
        let mut previous: Option<&[u8]> = None;
        for index in 0..actors {
            let len = r.leb128("actor length")?;
            if len == 0 || len > MAX_ACTOR_LEN as u64 {
                return Err(BadSavedDocument::ActorLength { index, len });
            }
            let actor = r.take_u64(len, "actor")?;
            if previous.is_some_and(|p| p >= actor) {
                return Err(BadSavedDocument::ActorOrder { index });
            }
            previous = Some(actor);
        }
        let head_count = r.count("heads", self.limits.max_heads, HASH_LEN)?;
        let mut heads = Vec::with_capacity(head_count);
        for _ in 0..head_count {
            let hash = r.take(HASH_LEN, "heads")?;
            let hash = ChangeHash::try_from(hash).map_err(|_| BadSavedDocument::Truncated {
                what: "heads",
                at: r.pos,
            })?;
            heads.push(hash);
        }
        let change_specs = r.column_specs(ColumnList::Changes)?;
        let op_specs = r.column_specs(ColumnList::Ops)?;
        let change_columns = r.columns(&change_specs, "change column data")?;
        let op_columns = r.columns(&op_specs, "op column data")?;
        // Inflate everything first (within its budget), so the entries allowed follow from
        // what the document really holds.
        let change_columns = self.inflate_all(ColumnList::Changes, &change_columns)?;
        let op_columns = self.inflate_all(ColumnList::Ops, &op_columns)?;
        let max_entries = self
            .limits
            .entries_for(self.bytes.len().saturating_add(self.inflated));
        let changes = self.columns(ColumnList::Changes, &change_columns, actors, max_entries)?;
        let ops = self.columns(ColumnList::Ops, &op_columns, actors, max_entries)?;
        let change_count = entries_of(&changes, CHANGE_ACTOR_COLUMN);
        if !r.is_empty() {
            for _ in 0..head_count {
                let index = r.leb128("head indices")?;
                if index >= change_count {
                    return Err(BadSavedDocument::HeadIndex {
                        index,
                        changes: change_count,
                    });
                }
            }
        }
        if !r.is_empty() {
            return Err(BadSavedDocument::TrailingBytes {
                count: r.remaining(),
            });
        }
        Ok(SavedSummary {
            heads,
            actors,
            ops: entries_of(&ops, OP_ID_COLUMN),
            changes: change_count,
            inflated: self.bytes.len().saturating_add(self.inflated),
            max_entries,
        })
    }

    /// Each column with its data, inflated if it was deflated.
    fn inflate_all(
        &mut self,
        list: ColumnList,
        columns: &[RawColumn<'a>],
    ) -> Result<Vec<Inflated<'a>>, BadSavedDocument> {
        columns
            .iter()
            .map(|column| {
                let data = if column.deflated() {
                    Cow::Owned(self.inflate(list, column)?)
                } else {
                    Cow::Borrowed(column.data)
                };
                Ok((column.spec, data))
            })
            .collect()
    }

    /// Reads every (inflated) column of one list; returns each column's id, type and count.
    fn columns(
        &self,
        list: ColumnList,
        columns: &[Inflated<'_>],
        actors: usize,
        max_entries: u64,
    ) -> Result<Vec<(u32, u32, Rows)>, BadSavedDocument> {
        let mut counts = Vec::with_capacity(columns.len());
        for (spec, data) in columns {
            let column = RawColumn { spec: *spec, data };
            let count = columns::count_rows(column.column_type(), data, actors as u64).map_err(
                |fault| match fault {
                    ColumnFault::Malformed(what) => BadSavedDocument::Column {
                        list,
                        spec: column.spec,
                        what,
                    },
                    ColumnFault::ActorIndex { actor } => BadSavedDocument::ActorIndex {
                        list,
                        spec: column.spec,
                        actor,
                        actors,
                    },
                },
            )?;
            // A group's values say how many entries its other columns hold.
            let group_total = match column.column_type() {
                column_type::GROUP => count.total,
                _ => 0,
            };
            let claimed = count.rows.max(group_total);
            if claimed > max_entries {
                return Err(BadSavedDocument::TooManyEntries {
                    list,
                    spec: column.spec,
                    count: claimed,
                    max: max_entries,
                    len: self.bytes.len(),
                });
            }
            counts.push((column.id(), column.column_type(), count));
        }
        for (id, column_type, count) in &counts {
            if *column_type == column_type::VALUE_META {
                let found = counts
                    .iter()
                    .find(|(i, t, _)| i == id && *t == column_type::VALUE)
                    .map_or(0, |(_, _, c)| c.total);
                if found != count.total {
                    return Err(BadSavedDocument::ValueLength {
                        list,
                        id: *id,
                        claimed: count.total,
                        found: usize::try_from(found).unwrap_or(usize::MAX),
                    });
                }
            }
        }
        Ok(counts)
    }

    /// Inflates a deflated column, refusing to go past what is left of the budget.
    fn inflate(
        &mut self,
        list: ColumnList,
        column: &RawColumn<'_>,
    ) -> Result<Vec<u8>, BadSavedDocument> {
        let budget = self.limits.max_inflated.saturating_sub(self.inflated);
        let mut out = Vec::new();
        let limit = u64::try_from(budget).unwrap_or(u64::MAX).saturating_add(1);
        flate2::bufread::DeflateDecoder::new(column.data)
            .take(limit)
            .read_to_end(&mut out)
            .map_err(|e| BadSavedDocument::Deflate {
                list,
                spec: column.spec,
                reason: e.to_string(),
            })?;
        if out.len() > budget {
            return Err(BadSavedDocument::InflatesTooFar {
                list,
                spec: column.spec,
                max: self.limits.max_inflated,
                len: self.bytes.len(),
            });
        }
        self.inflated += out.len();
        Ok(out)
    }
}

/// The entries of the first column with id `id` (0 if there is none).
fn entries_of(counts: &[(u32, u32, Rows)], id: u32) -> u64 {
    counts
        .iter()
        .filter(|(i, t, _)| *i == id && *t != column_type::GROUP)
        .map(|(_, _, c)| c.rows)
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
