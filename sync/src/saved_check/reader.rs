//! A cursor over a saved document that says where it ran out and what it was reading.

use super::BadSavedDocument;
use super::ColumnList;
use super::{DEFLATE_BIT, MAX_COLUMNS, RawColumn};

/// A cursor over the document that reports where it ran out.
pub(super) struct Reader<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    pub(super) fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub(super) fn byte(&mut self, what: &'static str) -> Result<u8, BadSavedDocument> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or(BadSavedDocument::Truncated { what, at: self.pos })?;
        self.pos += 1;
        Ok(b)
    }

    pub(super) fn take(
        &mut self,
        len: usize,
        what: &'static str,
    ) -> Result<&'a [u8], BadSavedDocument> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|end| *end <= self.bytes.len())
            .ok_or(BadSavedDocument::Truncated {
                what,
                at: self.bytes.len(),
            })?;
        let taken = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(taken)
    }

    pub(super) fn take_u64(
        &mut self,
        len: u64,
        what: &'static str,
    ) -> Result<&'a [u8], BadSavedDocument> {
        let len = usize::try_from(len).map_err(|_| BadSavedDocument::Truncated {
            what,
            at: self.bytes.len(),
        })?;
        self.take(len, what)
    }

    /// A count of entries that each take at least `min_size` bytes, within `max`.
    pub(super) fn count(
        &mut self,
        what: &'static str,
        max: usize,
        min_size: usize,
    ) -> Result<usize, BadSavedDocument> {
        let count = self.leb128(what)?;
        if count > max as u64 {
            return Err(BadSavedDocument::TooMany {
                what,
                count,
                max: max as u64,
            });
        }
        let count = count as usize;
        if count.saturating_mul(min_size) > self.remaining() {
            return Err(BadSavedDocument::Truncated {
                what,
                at: self.bytes.len(),
            });
        }
        Ok(count)
    }

    /// A list of column specs and lengths, in automerge's order (by id, then type).
    pub(super) fn column_specs(
        &mut self,
        list: ColumnList,
    ) -> Result<Vec<(u32, u64)>, BadSavedDocument> {
        let what = match list {
            ColumnList::Changes => "change columns",
            ColumnList::Ops => "op columns",
        };
        let count = self.count(what, MAX_COLUMNS, 2)?;
        let mut specs: Vec<(u32, u64)> = Vec::with_capacity(count);
        for _ in 0..count {
            let at = self.pos;
            let spec = self.leb128(what)?;
            let spec = u32::try_from(spec).map_err(|_| BadSavedDocument::BadNumber { what, at })?;
            let len = self.leb128(what)?;
            let normal = spec & !DEFLATE_BIT;
            if specs
                .last()
                .is_some_and(|(p, _)| *p & !DEFLATE_BIT >= normal)
            {
                return Err(BadSavedDocument::ColumnOrder { list, spec });
            }
            specs.push((spec, len));
        }
        Ok(specs)
    }

    /// The data of each column in `specs`, in order.
    pub(super) fn columns(
        &mut self,
        specs: &[(u32, u64)],
        what: &'static str,
    ) -> Result<Vec<RawColumn<'a>>, BadSavedDocument> {
        specs
            .iter()
            .map(|(spec, len)| {
                Ok(RawColumn {
                    spec: *spec,
                    data: self.take_u64(*len, what)?,
                })
            })
            .collect()
    }

    /// An unsigned LEB128 number, refusing overlong encodings and values over 64 bits.
    pub(super) fn leb128(&mut self, what: &'static str) -> Result<u64, BadSavedDocument> {
        let start = self.pos;
        let bad = BadSavedDocument::BadNumber { what, at: start };
        let mut value: u64 = 0;
        let mut shift = 0u32;
        loop {
            let byte = self.byte(what)?;
            let low = u64::from(byte & 0x7f);
            if shift == 63 && low > 1 {
                return Err(bad);
            }
            value |= low << shift;
            if byte & 0x80 == 0 {
                if shift > 0 && byte == 0 {
                    return Err(bad);
                }
                return Ok(value);
            }
            shift += 7;
            if shift > 63 {
                return Err(bad);
            }
        }
    }

    /// A signed LEB128 number that fits in 64 bits.
    pub(super) fn signed_leb128(&mut self, what: &'static str) -> Result<i64, BadSavedDocument> {
        let start = self.pos;
        let bad = BadSavedDocument::BadNumber { what, at: start };
        let mut value: i64 = 0;
        let mut shift = 0u32;
        loop {
            let byte = self.byte(what)?;
            if shift > 63 {
                return Err(bad);
            }
            let low = i64::from(byte & 0x7f);
            if shift == 63 && !(low == 0 || low == 0x7f) {
                return Err(bad);
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
}
