//! automerge's column encodings, read only far enough to count what each column declares.
//!
//! automerge stores a change's ops, and a saved document's ops and changes, column by column,
//! and trusts what the columns claim: a run of four billion rows costs a few bytes to write, and
//! automerge expands every row when it reads the column. Both checks of peer input (a saved
//! document, [`crate::saved_check`], and the changes of a sync message, `change_ops`)
//! read the columns here first. Reading visits each run once and never materialises a row, so
//! it costs time in the column's bytes, whatever number of rows they claim. The encodings, by
//! the low three bits of a column spec (`id << 4 | deflate << 3 | type`):
//!
//! ```text
//! 0 group, 1 actor, 2 integer, 6 value metadata: run-length encoded unsigned LEB128 numbers
//! 3 delta:   run-length encoded signed LEB128 differences
//! 5 string:  run-length encoded (LEB128 length, UTF-8 bytes)
//!            a run: signed count n; n > 0: one value repeated n times; n < 0: -n literal
//!            values; n = 0: an unsigned count of nulls
//! 4 boolean: unsigned run lengths, alternately of false and of true, starting with false
//! 7 value:   raw bytes, sliced by the lengths of the value metadata column of the same id
//!            (`metadata >> 4`; the low four bits are the value's type)
//! ```
//!
//! A group column's values say how many rows each of the following columns of its id holds for
//! one row of the group (an op's predecessors, for instance).
//!
//! The numbers are read here for every reader of automerge's formats in this crate, with the
//! same rules as automerge's own parser: overlong encodings and values past 64 bits are refused.

/// The column types of automerge's formats.
pub(crate) mod column_type {
    /// How many rows each column grouped under it holds per row.
    pub(crate) const GROUP: u32 = 0;
    /// Indices into the chunk's list of actors.
    pub(crate) const ACTOR: u32 = 1;
    /// Unsigned numbers.
    pub(crate) const INTEGER: u32 = 2;
    /// Signed differences from the row before.
    pub(crate) const DELTA: u32 = 3;
    /// Booleans.
    pub(crate) const BOOLEAN: u32 = 4;
    /// UTF-8 strings.
    pub(crate) const STRING: u32 = 5;
    /// Each value's type and length.
    pub(crate) const VALUE_META: u32 = 6;
    /// The values' bytes.
    pub(crate) const VALUE: u32 = 7;
}

/// The bit of a column spec that marks its data deflated.
pub(crate) const DEFLATE_BIT: u32 = 1 << 3;

/// The column id of a spec.
pub(crate) fn spec_id(spec: u32) -> u32 {
    spec >> 4
}

/// The column type of a spec (one of [`column_type`]).
pub(crate) fn spec_type(spec: u32) -> u32 {
    spec & 0b111
}

/// Why a number could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumberFault {
    /// The input ended inside it.
    Truncated,
    /// It is overlong or does not fit in 64 bits.
    Malformed,
}

/// Reads an unsigned LEB128 number at `*pos` and moves past it. Overlong encodings and values
/// over 64 bits are refused, as automerge refuses them.
pub(crate) fn read_unsigned(bytes: &[u8], pos: &mut usize) -> Result<u64, NumberFault> {
    let mut value: u64 = 0;
    let mut shift = 0u32;
    loop {
        let byte = *bytes.get(*pos).ok_or(NumberFault::Truncated)?;
        *pos += 1;
        let low = u64::from(byte & 0x7f);
        if shift == 63 && low > 1 {
            return Err(NumberFault::Malformed);
        }
        value |= low << shift;
        if byte & 0x80 == 0 {
            if shift > 0 && byte == 0 {
                return Err(NumberFault::Malformed);
            }
            return Ok(value);
        }
        shift += 7;
        if shift > 63 {
            return Err(NumberFault::Malformed);
        }
    }
}

/// Reads a signed LEB128 number at `*pos` that fits in 64 bits and moves past it.
pub(crate) fn read_signed(bytes: &[u8], pos: &mut usize) -> Result<i64, NumberFault> {
    let mut value: i64 = 0;
    let mut shift = 0u32;
    loop {
        let byte = *bytes.get(*pos).ok_or(NumberFault::Truncated)?;
        *pos += 1;
        if shift > 63 {
            return Err(NumberFault::Malformed);
        }
        let low = i64::from(byte & 0x7f);
        // The tenth byte holds only the sign.
        if shift == 63 && !(low == 0 || low == 0x7f) {
            return Err(NumberFault::Malformed);
        }
        value |= low << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            if shift < 64 && byte & 0x40 != 0 {
                value |= -1i64 << shift;
            }
            return Ok(value);
        }
    }
}

/// What one column declares.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rows {
    /// Rows in the column (saturated at `u64::MAX`); 0 for a value column, whose rows are
    /// those of its metadata.
    pub(crate) rows: u64,
    /// For a group column, the rows its grouped columns must hold (the sum of its values);
    /// for value metadata, the bytes its values take (the sum of their lengths); for a value
    /// column, its bytes. Saturated at `u64::MAX`.
    pub(crate) total: u64,
}

/// Why a column could not be counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColumnFault {
    /// Its encoding does not parse; says what could not be read.
    Malformed(&'static str),
    /// An actor column names an actor past the list (of `actors` passed in).
    ActorIndex {
        /// The index found.
        actor: u64,
    },
}

/// Counts the rows of one (inflated) column of `column_type`, checking each actor index
/// against `actors`. Costs time in `data`'s length, never in the rows it claims, and
/// allocates nothing.
pub(crate) fn count_rows(column_type: u32, data: &[u8], actors: u64) -> Result<Rows, ColumnFault> {
    let column = Column {
        data,
        pos: 0,
        actors,
    };
    match column_type {
        column_type::BOOLEAN => column.booleans(),
        column_type::VALUE => Ok(Rows {
            rows: 0,
            total: u64::try_from(data.len()).unwrap_or(u64::MAX),
        }),
        _ => column.runs(column_type),
    }
}

/// A cursor over one column's data.
struct Column<'a> {
    data: &'a [u8],
    pos: usize,
    actors: u64,
}

impl Column<'_> {
    fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn unsigned(&mut self, what: &'static str) -> Result<u64, ColumnFault> {
        read_unsigned(self.data, &mut self.pos).map_err(|_| ColumnFault::Malformed(what))
    }

    fn signed(&mut self, what: &'static str) -> Result<i64, ColumnFault> {
        read_signed(self.data, &mut self.pos).map_err(|_| ColumnFault::Malformed(what))
    }

    /// Booleans: run lengths, alternately of false and of true.
    fn booleans(mut self) -> Result<Rows, ColumnFault> {
        let mut rows = Rows::default();
        while !self.is_empty() {
            let run = self.unsigned("a boolean run")?;
            rows.rows = rows.rows.saturating_add(run);
        }
        Ok(rows)
    }

    /// Run-length encoded values.
    fn runs(mut self, column_type: u32) -> Result<Rows, ColumnFault> {
        let mut rows = Rows::default();
        while !self.is_empty() {
            let (repeat, values) = match self.signed("a run length")? {
                0 => {
                    let nulls = self.unsigned("a null run")?;
                    rows.rows = rows.rows.saturating_add(nulls);
                    continue;
                }
                n if n > 0 => (n.unsigned_abs(), 1),
                n => (1, n.unsigned_abs()),
            };
            rows.rows = rows.rows.saturating_add(repeat.saturating_mul(values));
            // Each literal takes at least one byte, so this loop ends with the data.
            for _ in 0..values {
                let value = self.value(column_type)?;
                let weight = match column_type {
                    column_type::GROUP => value,
                    column_type::VALUE_META => value >> 4,
                    _ => 0,
                };
                rows.total = rows.total.saturating_add(weight.saturating_mul(repeat));
            }
        }
        Ok(rows)
    }

    /// One value of a run; returns it where it is an unsigned number, else 0.
    fn value(&mut self, column_type: u32) -> Result<u64, ColumnFault> {
        match column_type {
            column_type::DELTA => {
                self.signed("a delta")?;
                Ok(0)
            }
            column_type::STRING => {
                let len = self.unsigned("a string length")?;
                let end = usize::try_from(len)
                    .ok()
                    .and_then(|len| self.pos.checked_add(len))
                    .filter(|end| *end <= self.data.len())
                    .ok_or(ColumnFault::Malformed("a string past the column's end"))?;
                std::str::from_utf8(&self.data[self.pos..end])
                    .map_err(|_| ColumnFault::Malformed("a string not in UTF-8"))?;
                self.pos = end;
                Ok(0)
            }
            _ => {
                let value = self.unsigned("a number")?;
                if column_type == column_type::ACTOR && value >= self.actors {
                    return Err(ColumnFault::ActorIndex { actor: value });
                }
                Ok(value)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leb(out: &mut Vec<u8>, v: u64) {
        leb128::write::unsigned(out, v).expect("a Vec takes every byte");
    }

    fn sleb(out: &mut Vec<u8>, v: i64) {
        leb128::write::signed(out, v).expect("a Vec takes every byte");
    }

    #[test]
    fn signed_numbers_read_as_automerge_writes_them() {
        for (bytes, value) in [
            (&[0x00][..], 0),
            (&[0x7f][..], -1),
            (&[0x3f][..], 63),
            (&[0xc0, 0x00][..], 64),
            (&[0x40][..], -64),
            (&[0x80, 0x7f][..], -128),
        ] {
            assert_eq!(read_signed(bytes, &mut 0), Ok(value), "{bytes:?}");
        }
        for value in [i64::MIN, i64::MAX, 0, -1, 1 << 40] {
            let mut out = Vec::new();
            sleb(&mut out, value);
            assert_eq!(read_signed(&out, &mut 0), Ok(value));
        }
        assert_eq!(
            read_signed(&[0xff; 11], &mut 0),
            Err(NumberFault::Malformed)
        );
        assert_eq!(read_signed(&[0x80], &mut 0), Err(NumberFault::Truncated));
    }

    #[test]
    fn unsigned_numbers_refuse_overlong_and_oversized_encodings() {
        for value in [0, 1, 127, 128, u64::MAX] {
            let mut out = Vec::new();
            leb(&mut out, value);
            let mut pos = 0;
            assert_eq!(read_unsigned(&out, &mut pos), Ok(value));
            assert_eq!(pos, out.len());
        }
        assert_eq!(
            read_unsigned(&[0x80, 0x00], &mut 0),
            Err(NumberFault::Malformed)
        );
        assert_eq!(
            read_unsigned(&[0xff; 10], &mut 0),
            Err(NumberFault::Malformed)
        );
        assert_eq!(read_unsigned(&[0x80], &mut 0), Err(NumberFault::Truncated));
    }

    #[test]
    fn runs_count_repeats_literals_and_nulls_without_expanding_them() {
        let mut column = Vec::new();
        sleb(&mut column, 1 << 40); // a run of 2^40 copies of 7
        leb(&mut column, 7);
        sleb(&mut column, -2); // two literals
        leb(&mut column, 1);
        leb(&mut column, 2);
        sleb(&mut column, 0); // five nulls
        leb(&mut column, 5);
        let rows = count_rows(column_type::GROUP, &column, 0).expect("well-formed");
        assert_eq!(rows.rows, (1 << 40) + 7);
        assert_eq!(rows.total, 7 * (1 << 40) + 3);
    }

    #[test]
    fn value_metadata_adds_up_the_lengths_it_claims() {
        let mut column = Vec::new();
        sleb(&mut column, 3);
        leb(&mut column, 10 << 4 | 6); // three strings of ten bytes
        let rows = count_rows(column_type::VALUE_META, &column, 0).expect("well-formed");
        assert_eq!(rows, Rows { rows: 3, total: 30 });
    }

    #[test]
    fn booleans_add_up_their_runs() {
        let mut column = Vec::new();
        for run in [0, 4, 5_000_000_000] {
            leb(&mut column, run);
        }
        let rows = count_rows(column_type::BOOLEAN, &column, 0).expect("well-formed");
        assert_eq!(rows.rows, 5_000_000_004);
    }

    #[test]
    fn actor_indices_past_the_list_and_bad_strings_are_refused() {
        let mut column = Vec::new();
        sleb(&mut column, 2);
        leb(&mut column, 3);
        assert_eq!(
            count_rows(column_type::ACTOR, &column, 3),
            Err(ColumnFault::ActorIndex { actor: 3 })
        );
        let mut strings = Vec::new();
        sleb(&mut strings, -1);
        leb(&mut strings, 2);
        strings.extend_from_slice(&[0xff, 0xfe]);
        assert_eq!(
            count_rows(column_type::STRING, &strings, 0),
            Err(ColumnFault::Malformed("a string not in UTF-8"))
        );
        // A literal run claiming more values than the bytes hold ends with the data.
        let mut short = Vec::new();
        sleb(&mut short, i64::MIN);
        assert_eq!(
            count_rows(column_type::INTEGER, &short, 0),
            Err(ColumnFault::Malformed("a number"))
        );
    }
}
