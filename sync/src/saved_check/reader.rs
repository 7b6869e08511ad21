//! A cursor over a saved document that says where it ran out and what it was reading.

use super::BadSavedDocument;
use super::ColumnList;
use super::{DEFLATE_BIT, MAX_COLUMNS, RawColumn};
use crate::columns::{NumberFault, read_unsigned};

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
        read_unsigned(self.bytes, &mut self.pos).map_err(|fault| match fault {
            NumberFault::Truncated => BadSavedDocument::Truncated {
                what,
                at: self.bytes.len(),
            },
            NumberFault::Malformed => BadSavedDocument::BadNumber { what, at: start },
        })
    }
}
