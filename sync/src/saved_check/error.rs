//! Why a saved document was refused, naming the value that was wrong.

use super::MAX_ACTOR_LEN;

/// Which list of columns a column belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnList {
    /// The change metadata columns.
    Changes,
    /// The op columns.
    Ops,
}

impl std::fmt::Display for ColumnList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Changes => "change",
            Self::Ops => "op",
        })
    }
}

/// Why a saved document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadSavedDocument {
    /// The document is larger than the cap.
    #[error("saved document of {len} bytes exceeds the {max}-byte cap")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// It does not start with automerge's magic bytes.
    #[error("not an automerge document (bad magic bytes)")]
    Magic,
    /// Its chunk is not a document chunk.
    #[error("chunk type {found} where a document (0) was expected")]
    ChunkType {
        /// The type byte found.
        found: u8,
    },
    /// It ended before a field it announced.
    #[error("saved document truncated: {what} needs bytes past its end at byte {at}")]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Where the input ran out.
        at: usize,
    },
    /// A number is overlong or too large.
    #[error("malformed number in {what} at byte {at}")]
    BadNumber {
        /// The field being read.
        what: &'static str,
        /// Where the number starts.
        at: usize,
    },
    /// Bytes follow the document chunk.
    #[error("{count} bytes after the end of the document chunk")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
    /// The checksum does not match the chunk's data.
    #[error("checksum {found} does not match the document's data ({expected})")]
    Checksum {
        /// The checksum in the header, hex.
        found: String,
        /// The checksum of the data, hex.
        expected: String,
    },
    /// A list is longer than the limits allow.
    #[error("document lists {count} {what} (at most {max})")]
    TooMany {
        /// Which list.
        what: &'static str,
        /// Its announced length.
        count: u64,
        /// The most accepted.
        max: u64,
    },
    /// An actor id is empty or too long.
    #[error("actor {index} is {len} bytes (1 to {max} accepted)", max = MAX_ACTOR_LEN)]
    ActorLength {
        /// Its position in the actor list.
        index: usize,
        /// Its length.
        len: u64,
    },
    /// The actor list is not sorted, or repeats an actor.
    #[error("actor {index} is out of order in the actor list")]
    ActorOrder {
        /// Its position in the actor list.
        index: usize,
    },
    /// Column specs repeat or are out of order.
    #[error("{list} column spec {spec:#x} is out of order")]
    ColumnOrder {
        /// Which list.
        list: ColumnList,
        /// The spec.
        spec: u32,
    },
    /// A deflated column does not inflate.
    #[error("{list} column {spec:#x} does not inflate: {reason}")]
    Deflate {
        /// Which list.
        list: ColumnList,
        /// The column's spec.
        spec: u32,
        /// The inflater's complaint.
        reason: String,
    },
    /// The columns inflate to more than the limit.
    #[error("{list} column {spec:#x} inflates past the {max}-byte limit for a {len}-byte document")]
    InflatesTooFar {
        /// Which list.
        list: ColumnList,
        /// The column that went past it.
        spec: u32,
        /// The limit on all columns together.
        max: usize,
        /// The document's size.
        len: usize,
    },
    /// A column's encoding does not parse.
    #[error("{list} column {spec:#x} is malformed: {what}")]
    Column {
        /// Which list.
        list: ColumnList,
        /// The column's spec.
        spec: u32,
        /// What could not be read.
        what: &'static str,
    },
    /// A column (or the total of a group column) claims more entries than the limit.
    #[error(
        "{list} column {spec:#x} claims {count} entries (at most {max} for a {len}-byte document)"
    )]
    TooManyEntries {
        /// Which list.
        list: ColumnList,
        /// The column's spec.
        spec: u32,
        /// The entries claimed (saturated at `u64::MAX`).
        count: u64,
        /// The most accepted.
        max: u64,
        /// The document's size.
        len: usize,
    },
    /// An actor column names an actor past the actor list.
    #[error("{list} column {spec:#x} names actor {actor} but the document lists {actors}")]
    ActorIndex {
        /// Which list.
        list: ColumnList,
        /// The column's spec.
        spec: u32,
        /// The index found.
        actor: u64,
        /// How many actors the document lists.
        actors: usize,
    },
    /// Value metadata claims other lengths than its value column holds.
    #[error("{list} value column {id} holds {found} bytes but its metadata claims {claimed}")]
    ValueLength {
        /// Which list.
        list: ColumnList,
        /// The column id of the pair.
        id: u32,
        /// Bytes the metadata adds up to (saturated).
        claimed: u64,
        /// Bytes the value column holds.
        found: usize,
    },
    /// A head index names no change.
    #[error("head index {index} names no change (the document has {changes})")]
    HeadIndex {
        /// The index.
        index: u64,
        /// How many changes there are.
        changes: u64,
    },
}
