//! The ops of one change chunk, counted from its columns before automerge expands them.
//!
//! automerge sizes its work by the rows a change's columns claim: `Change::try_from` walks every
//! op, and applying the change keeps each one. A run-length encoded column claims any number of
//! rows for a few bytes, so a 301-byte change can claim 16.7 million ops (50 seconds and 8 GB
//! to take in) or 2^28 (an allocation failure that aborts the process). [`check_change_ops`]
//! reads the change's data layout and counts every column (the `columns` module) without
//! materialising a row, then refuses a change that claims more ops than its size allows
//! ([`max_ops`]), whose columns disagree on how many ops there are, or whose values are not the
//! bytes their lengths claim. Only then may automerge see it.
//!
//! A change's data, after the chunk header (all numbers LEB128):
//!
//! ```text
//! deps: count, 32-byte hashes | actor: length, bytes | seq | start op | time (signed)
//! message: length, UTF-8 | other actors: count, (length, bytes)*
//! op columns: count, (spec, length)* | the columns' data | anything else (kept as is)
//! ```
//!
//! The op columns automerge 0.12 writes, one row per op unless said otherwise: object (actor,
//! counter), key (actor, counter delta, string), insert (boolean), action (integer: automerge
//! iterates the ops by this column), value (metadata, then raw bytes), predecessors (a group:
//! its count per op, then that many actors and counter deltas), expand (boolean) and mark name
//! (string). A column that is null in every row is left out or empty.

use crate::columns::{self, ColumnFault, Rows, column_type, spec_id, spec_type};
use crate::sync_check::BadSyncMessage;

/// How many ops a change may claim per byte of its chunk.
///
/// Quire writes only maps (long texts are plain strings: one op each) and writes each key of
/// an object at most once per change, so each op differs from the one before in its key or its
/// object, and that costs at least one byte of the key-string or object column: an honest
/// change never claims more ops than it has bytes. Measured with automerge 0.12, the densest
/// map changes are 5,000 maps each given the same key, or a chain of 5,000 nested maps: 0.50
/// ops per byte; 5,000 puts of distinct keys 0.15 (numbers) to 0.21 (booleans, or `make_map`);
/// one 1 MB string is one op; Quire's own changes stay under 0.06 (the benchmark's large group
/// written 100 submissions per change: 17,040 ops in 313,713 bytes). Two per byte leaves twice
/// the floor and four times the densest measured.
///
/// What this refuses that automerge could write: text and list edits (deleting 10,000
/// characters typed in one go is 10,000 ops in 129 bytes) and one key rewritten many times in
/// one change. Quire writes neither.
pub const MAX_OPS_PER_BYTE: u64 = 2;
/// Ops any change may claim, however small.
pub const MIN_OPS: u64 = 64;
/// The most columns a change may list (automerge 0.12 writes at most 14).
const MAX_COLUMNS: usize = 64;
/// Bytes in a change hash.
const HASH_LEN: usize = 32;
/// The action column: automerge reads a change's ops until it runs out.
const ACTION_SPEC: u32 = 4 << 4 | column_type::INTEGER;

/// The most ops (and the most predecessors) a change of `len` bytes may claim:
/// `MAX_OPS_PER_BYTE * len + MIN_OPS`.
pub fn max_ops(len: usize) -> u64 {
    u64::try_from(len)
        .unwrap_or(u64::MAX)
        .saturating_mul(MAX_OPS_PER_BYTE)
        .saturating_add(MIN_OPS)
}

/// Checks the data of change `index` (`data`, following the header of a chunk of `chunk_len`
/// bytes): its layout parses, every actor index names one of its actors, it claims at most
/// [`max_ops`] of `chunk_len` ops and predecessors, every op column holds one row per op (or
/// none), grouped columns hold the rows their group claims, and each value column holds the
/// bytes its metadata claims. Returns the number of ops.
pub(crate) fn check_change_ops(
    index: usize,
    chunk_len: usize,
    data: &[u8],
) -> Result<u64, BadSyncMessage> {
    let mut r = Cursor {
        index,
        data,
        pos: 0,
    };
    let deps = r.number("dependencies")?;
    r.skip_n(deps, HASH_LEN, "dependencies")?;
    r.length_prefixed("actor")?;
    r.number("sequence number")?;
    r.number("start op")?;
    r.signed("time")?;
    r.length_prefixed("message")?;
    let others = r.number("other actors")?;
    // Each other actor takes at least its length byte.
    if others > r.remaining() {
        return Err(r.layout("other actors"));
    }
    for _ in 0..others {
        r.length_prefixed("other actors")?;
    }
    let actors = others.saturating_add(1);

    let count = r.number("columns")?;
    if count > MAX_COLUMNS as u64 {
        return Err(r.layout("more columns than automerge writes"));
    }
    let mut specs: Vec<(u32, u64)> = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let spec = u32::try_from(r.number("columns")?).map_err(|_| r.layout("a column spec"))?;
        let len = r.number("columns")?;
        if spec & columns::DEFLATE_BIT != 0 {
            return Err(r.layout("a deflated column"));
        }
        // automerge refuses columns out of order or repeated; so do we, so that each
        // (id, type) names one column.
        if specs.last().is_some_and(|(last, _)| *last >= spec) {
            return Err(r.layout("columns out of order"));
        }
        specs.push((spec, len));
    }
    let mut counted: Vec<(u32, Rows)> = Vec::with_capacity(specs.len());
    for (spec, len) in specs {
        let column = r.take(len, "column data")?;
        let rows =
            columns::count_rows(spec_type(spec), column, actors).map_err(|fault| match fault {
                ColumnFault::Malformed(what) => BadSyncMessage::ChangeLayout { index, what },
                ColumnFault::ActorIndex { actor } => BadSyncMessage::ChangeActor {
                    index,
                    actor,
                    actors,
                },
            })?;
        counted.push((spec, rows));
    }
    OpColumns { index, counted }.check(chunk_len)
}

/// The counted op columns of one change.
struct OpColumns {
    index: usize,
    counted: Vec<(u32, Rows)>,
}

impl OpColumns {
    fn check(&self, chunk_len: usize) -> Result<u64, BadSyncMessage> {
        let index = self.index;
        let max = max_ops(chunk_len);
        // The bound first, on what any column claims, so that nothing below depends on a
        // column automerge would read first.
        let ops_claimed = self.per_op().map(|(_, rows)| rows.rows).max().unwrap_or(0);
        if ops_claimed > max {
            return Err(BadSyncMessage::TooManyOps {
                index,
                ops: ops_claimed,
                max,
                len: chunk_len,
            });
        }
        let grouped_claimed = self
            .counted
            .iter()
            .map(|(spec, rows)| match spec_type(*spec) {
                column_type::GROUP => rows.total,
                _ if self.grouped(*spec) => rows.rows,
                _ => 0,
            })
            .max()
            .unwrap_or(0);
        if grouped_claimed > max {
            return Err(BadSyncMessage::TooManyPredecessors {
                index,
                count: grouped_claimed,
                max,
                len: chunk_len,
            });
        }

        let ops = self.rows_of(ACTION_SPEC).map_or(0, |rows| rows.rows);
        for (spec, rows) in self.per_op() {
            if rows.rows != 0 && rows.rows != ops {
                return Err(BadSyncMessage::ColumnRows {
                    index,
                    spec,
                    rows: rows.rows,
                    expected: ops,
                });
            }
        }
        for &(spec, rows) in &self.counted {
            if spec_type(spec) == column_type::GROUP || !self.grouped(spec) {
                continue;
            }
            let expected = self
                .rows_of(spec_id(spec) << 4 | column_type::GROUP)
                .map_or(0, |group| group.total);
            if rows.rows != expected {
                return Err(BadSyncMessage::ColumnRows {
                    index,
                    spec,
                    rows: rows.rows,
                    expected,
                });
            }
        }
        for &(spec, rows) in &self.counted {
            let id = spec_id(spec);
            let (claimed, found) = match spec_type(spec) {
                column_type::VALUE_META => (
                    rows.total,
                    self.rows_of(id << 4 | column_type::VALUE)
                        .map_or(0, |v| v.total),
                ),
                column_type::VALUE => (
                    self.rows_of(id << 4 | column_type::VALUE_META)
                        .map_or(0, |meta| meta.total),
                    rows.total,
                ),
                _ => continue,
            };
            if claimed != found {
                return Err(BadSyncMessage::ValueLength {
                    index,
                    id,
                    claimed,
                    found,
                });
            }
        }
        Ok(ops)
    }

    /// The columns with one row per op: all but grouped columns and raw values.
    fn per_op(&self) -> impl Iterator<Item = (u32, Rows)> + '_ {
        self.counted.iter().copied().filter(|(spec, _)| {
            spec_type(*spec) != column_type::VALUE
                && (spec_type(*spec) == column_type::GROUP || !self.grouped(*spec))
        })
    }

    /// Whether `spec` belongs to a group: another column of its id is a group column.
    fn grouped(&self, spec: u32) -> bool {
        spec_type(spec) != column_type::GROUP
            && self
                .rows_of(spec_id(spec) << 4 | column_type::GROUP)
                .is_some()
    }

    fn rows_of(&self, spec: u32) -> Option<Rows> {
        self.counted
            .iter()
            .find(|(s, _)| *s == spec)
            .map(|(_, rows)| *rows)
    }
}

/// A cursor over a change's data whose every failure is a [`BadSyncMessage::ChangeLayout`].
struct Cursor<'a> {
    index: usize,
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn layout(&self, what: &'static str) -> BadSyncMessage {
        BadSyncMessage::ChangeLayout {
            index: self.index,
            what,
        }
    }

    fn remaining(&self) -> u64 {
        u64::try_from(self.data.len().saturating_sub(self.pos)).unwrap_or(u64::MAX)
    }

    fn number(&mut self, what: &'static str) -> Result<u64, BadSyncMessage> {
        columns::read_unsigned(self.data, &mut self.pos).map_err(|_| self.layout(what))
    }

    fn signed(&mut self, what: &'static str) -> Result<i64, BadSyncMessage> {
        columns::read_signed(self.data, &mut self.pos).map_err(|_| self.layout(what))
    }

    fn take(&mut self, len: u64, what: &'static str) -> Result<&'a [u8], BadSyncMessage> {
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| self.pos.checked_add(len))
            .filter(|end| *end <= self.data.len())
            .ok_or_else(|| self.layout(what))?;
        let taken = &self.data[self.pos..end];
        self.pos = end;
        Ok(taken)
    }

    fn length_prefixed(&mut self, what: &'static str) -> Result<&'a [u8], BadSyncMessage> {
        let len = self.number(what)?;
        self.take(len, what)
    }

    /// Skips `count` entries of `size` bytes each.
    fn skip_n(
        &mut self,
        count: u64,
        size: usize,
        what: &'static str,
    ) -> Result<(), BadSyncMessage> {
        let len = count
            .checked_mul(size as u64)
            .ok_or_else(|| self.layout(what))?;
        self.take(len, what).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{Automerge, ObjType, ROOT};

    use super::*;
    use crate::fuzz_regressions::fixtures;
    use crate::fuzz_regressions::sync_message::forged_change;

    /// Checks a whole change chunk as the sync check does, past its header.
    fn check_chunk(chunk: &[u8]) -> Result<u64, BadSyncMessage> {
        let mut pos = 9;
        columns::read_unsigned(chunk, &mut pos).expect("a data length");
        check_change_ops(0, chunk.len(), &chunk[pos..])
    }

    fn sleb(value: i64) -> Vec<u8> {
        let mut out = Vec::new();
        leb128::write::signed(&mut out, value).expect("a Vec takes every byte");
        out
    }

    fn uleb(value: u64) -> Vec<u8> {
        let mut out = Vec::new();
        leb128::write::unsigned(&mut out, value).expect("a Vec takes every byte");
        out
    }

    /// One run of `count` copies of `value` (already encoded).
    fn run(count: i64, value: &[u8]) -> Vec<u8> {
        [sleb(count), value.to_vec()].concat()
    }

    /// The columns of `ops` puts of null at key `x` of the root, each of which may be
    /// replaced.
    fn puts(ops: i64) -> Vec<(u32, Vec<u8>)> {
        vec![
            (0x15, run(ops, &[1, b'x'])),
            (0x34, uleb(ops.unsigned_abs())),
            (0x42, run(ops, &[1])),
            (0x56, run(ops, &[0])),
            (0x70, run(ops, &[0])),
        ]
    }

    fn replace(columns: &mut Vec<(u32, Vec<u8>)>, spec: u32, data: Vec<u8>) {
        match columns.iter_mut().find(|(s, _)| *s == spec) {
            Some(column) => column.1 = data,
            None => {
                columns.push((spec, data));
                columns.sort_by_key(|(s, _)| *s);
            }
        }
    }

    /// Every change of `doc`, each counted as automerge counts it, and within the bound.
    fn assert_counted_as_automerge_does(label: &str, doc: &Automerge) {
        let changes = doc.get_changes(&[]);
        assert!(!changes.is_empty(), "{label}: no changes");
        for change in changes {
            let raw = change.raw_bytes();
            let ops = check_chunk(raw).unwrap_or_else(|e| panic!("{label}: {e}"));
            assert_eq!(ops, change.len() as u64, "{label}");
            assert!(ops <= max_ops(raw.len()), "{label}");
        }
    }

    fn one_change(f: impl FnOnce(&mut automerge::transaction::Transaction<'_>)) -> Automerge {
        let mut doc = Automerge::new();
        let mut tx = doc.transaction();
        f(&mut tx);
        tx.commit();
        doc
    }

    #[test]
    fn honest_changes_of_every_kind_pass_with_their_op_counts() {
        assert_counted_as_automerge_does(
            "many small puts",
            &one_change(|tx| {
                for i in 0..5000 {
                    tx.put(ROOT, format!("{i}"), i as i64).expect("put");
                }
            }),
        );
        assert_counted_as_automerge_does(
            "one big string",
            &one_change(|tx| {
                tx.put(ROOT, "text", "word ".repeat(200_000)).expect("put");
            }),
        );
        assert_counted_as_automerge_does(
            "make_map heavy",
            &one_change(|tx| {
                for i in 0..5000 {
                    tx.put_object(ROOT, format!("{i}"), ObjType::Map)
                        .expect("make");
                }
            }),
        );
        // The densest map changes measured: 0.5 ops per byte.
        assert_counted_as_automerge_does(
            "nested maps under one key",
            &one_change(|tx| {
                let mut obj = ROOT;
                for _ in 0..5000 {
                    obj = tx.put_object(&obj, "x", ObjType::Map).expect("make");
                }
            }),
        );
        let mut doc = one_change(|tx| {
            for i in 0..2000 {
                tx.put(ROOT, format!("{i}"), true).expect("put");
            }
        });
        let mut tx = doc.transaction();
        for i in 0..2000 {
            tx.delete(ROOT, format!("{i}")).expect("delete");
        }
        tx.commit();
        assert_counted_as_automerge_does("deletes, each with its predecessor", &doc);
        // Every kind of change Quire's own operations write.
        assert_counted_as_automerge_does("the fixture group", &fixtures::small_group());
    }

    #[test]
    fn a_forged_change_within_the_bound_is_counted_as_automerge_counts_it() {
        let chunk = forged_change(&puts(100), "");
        assert_eq!(check_chunk(&chunk).expect("within the bound"), 100);
        let change = automerge::Change::try_from(&chunk[..]).expect("a valid change");
        assert_eq!(change.len(), 100);
    }

    #[test]
    fn a_change_claiming_more_ops_than_its_bytes_allow_is_refused() {
        let chunk = forged_change(&puts(1 << 24), "");
        let err = check_chunk(&chunk).expect_err("an op bomb");
        assert!(
            matches!(err, BadSyncMessage::TooManyOps { index: 0, ops: 16_777_216, max, len }
                if len == chunk.len() && max == 2 * chunk.len() as u64 + 64),
            "{err}"
        );
        // Claimed by the action column alone, with the others left empty: still refused.
        let alone = forged_change(&[(0x42, run(1 << 24, &[1]))], "");
        assert!(
            matches!(check_chunk(&alone), Err(BadSyncMessage::TooManyOps { .. })),
            "the action column alone"
        );
        // Or by a null run that no column automerge reads first would notice.
        let mut nulls = puts(10);
        replace(&mut nulls, 0x02, [sleb(0), uleb(u64::MAX)].concat());
        assert!(matches!(
            check_chunk(&forged_change(&nulls, "")),
            Err(BadSyncMessage::TooManyOps { ops: u64::MAX, .. })
        ));
    }

    #[test]
    fn predecessors_past_the_bound_are_refused() {
        let mut columns = puts(1);
        replace(&mut columns, 0x70, run(1, &uleb(1 << 40)));
        let err = check_chunk(&forged_change(&columns, "")).expect_err("predecessors");
        assert!(
            matches!(
                err,
                BadSyncMessage::TooManyPredecessors {
                    count: 1_099_511_627_776,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn columns_that_disagree_on_the_op_count_are_refused() {
        let mut columns = puts(10);
        replace(&mut columns, 0x34, uleb(11));
        let err = check_chunk(&forged_change(&columns, "")).expect_err("11 inserts, 10 ops");
        assert!(
            matches!(
                err,
                BadSyncMessage::ColumnRows {
                    spec: 0x34,
                    rows: 11,
                    expected: 10,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "change 0 column 0x34 holds 11 rows where its ops need 10"
        );

        // Two ops with one predecessor each, but three predecessor actors.
        let mut grouped = puts(2);
        replace(&mut grouped, 0x70, run(2, &[1]));
        replace(&mut grouped, 0x71, run(3, &[0]));
        replace(&mut grouped, 0x73, run(2, &sleb(1)));
        let err = check_chunk(&forged_change(&grouped, "")).expect_err("3 of 2");
        assert!(
            matches!(
                err,
                BadSyncMessage::ColumnRows {
                    spec: 0x71,
                    rows: 3,
                    expected: 2,
                    ..
                }
            ),
            "{err}"
        );
        replace(&mut grouped, 0x71, run(2, &[0]));
        check_chunk(&forged_change(&grouped, "")).expect("two predecessors for two");
    }

    #[test]
    fn values_shorter_than_their_lengths_claim_are_refused() {
        let mut columns = puts(1);
        // One string of ten bytes (type 6), but the value column holds three.
        replace(&mut columns, 0x56, run(1, &uleb(10 << 4 | 6)));
        replace(&mut columns, 0x57, b"abc".to_vec());
        let err = check_chunk(&forged_change(&columns, "")).expect_err("short value");
        assert!(
            matches!(
                err,
                BadSyncMessage::ValueLength {
                    id: 5,
                    claimed: 10,
                    found: 3,
                    ..
                }
            ),
            "{err}"
        );
        // A million strings of a gigabyte each, in three bytes of metadata.
        replace(&mut columns, 0x56, run(1 << 20, &uleb(1 << 30 << 4 | 6)));
        replace(&mut columns, 0x34, uleb(1 << 20));
        assert!(matches!(
            check_chunk(&forged_change(&columns, "")),
            Err(BadSyncMessage::TooManyOps { .. })
        ));
    }

    #[test]
    fn columns_out_of_order_or_deflated_are_refused() {
        let mut columns = puts(1);
        columns.swap(0, 1);
        assert!(matches!(
            check_chunk(&forged_change(&columns, "")),
            Err(BadSyncMessage::ChangeLayout {
                what: "columns out of order",
                ..
            })
        ));
        let deflated = [(0x42 | 8, run(1, &[1]))];
        assert!(matches!(
            check_chunk(&forged_change(&deflated, "")),
            Err(BadSyncMessage::ChangeLayout {
                what: "a deflated column",
                ..
            })
        ));
    }
}
