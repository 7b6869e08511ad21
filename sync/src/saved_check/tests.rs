//! Honest documents pass with what they hold; forged ones are refused by name before anything
//! is inflated or counted past the limits.

use std::io::Write;

use automerge::transaction::Transactable;
use automerge::{Automerge, ObjType, ROOT, ReadDoc};

use super::*;

fn leb(out: &mut Vec<u8>, v: u64) {
    leb128::write::unsigned(out, v).expect("a Vec takes every byte");
}

fn sleb(out: &mut Vec<u8>, v: i64) {
    leb128::write::signed(out, v).expect("a Vec takes every byte");
}

/// A column spec: `id << 4 | deflate << 3 | type`.
fn spec(id: u32, column_type: u32, deflate: bool) -> u32 {
    id << 4 | u32::from(deflate) << 3 | column_type
}

/// One run of `count` copies of the unsigned `value`.
fn run(count: i64, value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    sleb(&mut out, count);
    leb(&mut out, value);
    out
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut encoder =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// A document chunk with a correct checksum, built by hand.
#[derive(Debug, Clone, Default)]
struct Forged {
    actors: Vec<Vec<u8>>,
    heads: Vec<[u8; 32]>,
    changes: Vec<(u32, Vec<u8>)>,
    ops: Vec<(u32, Vec<u8>)>,
}

impl Forged {
    fn one_actor() -> Self {
        Forged {
            actors: vec![vec![1; 16]],
            ..Default::default()
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut data = Vec::new();
        leb(&mut data, self.actors.len() as u64);
        for a in &self.actors {
            leb(&mut data, a.len() as u64);
            data.extend_from_slice(a);
        }
        leb(&mut data, self.heads.len() as u64);
        for h in &self.heads {
            data.extend_from_slice(h);
        }
        for cols in [&self.changes, &self.ops] {
            leb(&mut data, cols.len() as u64);
            for (spec, col) in cols {
                leb(&mut data, u64::from(*spec));
                leb(&mut data, col.len() as u64);
            }
        }
        for cols in [&self.changes, &self.ops] {
            for (_, col) in cols {
                data.extend_from_slice(col);
            }
        }
        chunk(0, &data)
    }
}

/// A chunk of `chunk_type` around `data`, with the checksum automerge computes.
fn chunk(chunk_type: u8, data: &[u8]) -> Vec<u8> {
    let mut typed = vec![chunk_type];
    leb(&mut typed, data.len() as u64);
    let digest = Sha256::new()
        .chain_update(&typed)
        .chain_update(data)
        .finalize();
    let mut out = CHUNK_MAGIC.to_vec();
    out.extend_from_slice(&digest[..4]);
    out.extend_from_slice(&typed);
    out.extend_from_slice(data);
    out
}

fn check(bytes: &[u8]) -> Result<SavedSummary, BadSavedDocument> {
    check_saved_document(bytes, &DocLimits::for_len(bytes.len()))
}

/// A document with maps, a list, text and long strings, so some columns are deflated.
fn honest() -> Automerge {
    let mut doc = Automerge::new();
    for i in 0..50 {
        let mut tx = doc.transaction();
        let map = tx
            .put_object(ROOT, format!("entry-{i}"), ObjType::Map)
            .unwrap();
        tx.put(&map, "title", format!("Piece number {i}")).unwrap();
        tx.put(&map, "body", "word ".repeat(200 + i)).unwrap();
        tx.put(&map, "count", i as i64).unwrap();
        let list = tx.put_object(&map, "tags", ObjType::List).unwrap();
        tx.insert(&list, 0, "a").unwrap();
        tx.insert(&list, 1, "b").unwrap();
        tx.commit();
    }
    let mut other = doc.fork();
    let mut tx = other.transaction();
    tx.put(ROOT, "entry-3", "replaced").unwrap();
    tx.commit();
    doc.merge(&mut other).unwrap();
    doc
}

#[test]
fn an_honest_document_passes_with_its_heads_and_counts() {
    let doc = honest();
    let saved = doc.save();
    let summary = check(&saved).unwrap();
    let mut heads = summary.heads.clone();
    heads.sort();
    let mut want = doc.get_heads();
    want.sort();
    assert_eq!(heads, want);
    let stats = doc.stats();
    assert_eq!(summary.changes, stats.num_changes);
    assert_eq!(summary.actors as u64, stats.num_actors);
    assert_eq!(summary.ops, stats.num_ops);
    assert!(
        summary.inflated > saved.len(),
        "some columns were deflated: {summary:?}"
    );
}

#[test]
fn an_empty_document_and_a_small_group_pass() {
    check(&Automerge::new().save()).unwrap();
    let group = crate::fuzz_regressions::fixtures::small_group();
    let summary = check(&group.save()).unwrap();
    assert_eq!(summary.changes, group.stats().num_changes);
}

#[test]
fn a_deflate_bomb_is_refused_before_it_inflates() {
    let zeros = deflate(&vec![0; 4 * 1024 * 1024]);
    let mut forged = Forged::one_actor();
    forged.ops = vec![(spec(2, 1, true), zeros)];
    let bytes = forged.bytes();
    let err = check(&bytes).unwrap_err();
    assert!(
        matches!(err, BadSavedDocument::InflatesTooFar { max, .. } if max == 1024 * 1024),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("inflates past the 1048576-byte limit"),
        "{err}"
    );
}

#[test]
fn a_run_claiming_billions_of_ops_is_refused() {
    let mut forged = Forged::one_actor();
    forged.ops = vec![(spec(2, 1, false), run(4_000_000_000, 0))];
    let err = check(&forged.bytes()).unwrap_err();
    assert!(
        matches!(
            err,
            BadSavedDocument::TooManyEntries {
                count: 4_000_000_000,
                max: MIN_ENTRIES,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn many_small_runs_adding_up_past_the_limit_are_refused() {
    let mut column = Vec::new();
    for _ in 0..1000 {
        column.extend(run(100_000, 0));
    }
    let mut forged = Forged::one_actor();
    forged.ops = vec![(spec(2, 1, false), column)];
    let err = check(&forged.bytes()).unwrap_err();
    assert!(
        matches!(err, BadSavedDocument::TooManyEntries { .. }),
        "{err}"
    );
}

#[test]
fn a_group_column_claiming_billions_of_successors_is_refused() {
    let mut forged = Forged::one_actor();
    forged.ops = vec![(spec(8, 0, false), run(10, 1 << 40))];
    let err = check(&forged.bytes()).unwrap_err();
    assert!(
        matches!(err, BadSavedDocument::TooManyEntries { .. }),
        "{err}"
    );
}

#[test]
fn a_boolean_run_claiming_billions_is_refused() {
    let mut column = Vec::new();
    leb(&mut column, 5_000_000_000);
    let mut forged = Forged::one_actor();
    forged.ops = vec![(spec(3, 4, false), column)];
    let err = check(&forged.bytes()).unwrap_err();
    assert!(
        matches!(err, BadSavedDocument::TooManyEntries { .. }),
        "{err}"
    );
}

#[test]
fn an_actor_index_past_the_actor_list_is_refused() {
    let mut forged = Forged::one_actor();
    forged.ops = vec![(spec(2, 1, false), run(3, 1))];
    let err = check(&forged.bytes()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "op column 0x21 names actor 1 but the document lists 1"
    );
}

#[test]
fn value_metadata_claiming_more_than_the_values_hold_is_refused() {
    let mut forged = Forged::one_actor();
    // One string value of 1000 bytes (type 6), but the value column holds 3.
    forged.ops = vec![
        (spec(5, 6, false), run(1, 1000 << 4 | 6)),
        (spec(5, 7, false), b"abc".to_vec()),
    ];
    let err = check(&forged.bytes()).unwrap_err();
    assert!(
        matches!(
            err,
            BadSavedDocument::ValueLength {
                claimed: 1000,
                found: 3,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn too_many_actors_columns_or_heads_are_refused_before_they_are_read() {
    let mut data = Vec::new();
    leb(&mut data, u64::MAX >> 1);
    let err = check(&chunk(0, &data)).unwrap_err();
    assert!(
        matches!(err, BadSavedDocument::TooMany { what: "actors", .. }),
        "{err}"
    );

    let mut data = Vec::new();
    leb(&mut data, 0);
    leb(&mut data, 1_000_000);
    let err = check(&chunk(0, &data)).unwrap_err();
    assert!(
        matches!(err, BadSavedDocument::TooMany { what: "heads", .. }),
        "{err}"
    );

    let mut data = Vec::new();
    leb(&mut data, 0);
    leb(&mut data, 0);
    leb(&mut data, 1 << 40);
    let err = check(&chunk(0, &data)).unwrap_err();
    assert!(
        matches!(
            err,
            BadSavedDocument::TooMany {
                what: "change columns",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn columns_out_of_order_are_refused() {
    let mut forged = Forged::one_actor();
    forged.ops = vec![(spec(2, 3, false), vec![]), (spec(2, 1, false), vec![])];
    let err = check(&forged.bytes()).unwrap_err();
    assert!(matches!(err, BadSavedDocument::ColumnOrder { .. }), "{err}");
}

#[test]
fn every_truncation_of_a_real_document_is_refused() {
    let saved = honest().save();
    for len in 0..saved.len() {
        assert!(check(&saved[..len]).is_err(), "cut at {len} passed");
    }
}

#[test]
fn a_flipped_byte_fails_the_checksum() {
    let mut saved = honest().save();
    let last = saved.len() - 1;
    saved[last] ^= 1;
    assert!(
        matches!(check(&saved), Err(BadSavedDocument::Checksum { .. })),
        "{:?}",
        check(&saved)
    );
}

#[test]
fn bytes_after_the_document_and_other_chunks_are_refused() {
    let saved = honest().save();
    let twice = [&saved[..], &saved[..]].concat();
    assert!(matches!(
        check(&twice),
        Err(BadSavedDocument::TrailingBytes { .. })
    ));
    let doc = honest();
    let change = doc.get_last_local_change().unwrap().raw_bytes().to_vec();
    assert!(matches!(
        check(&change),
        Err(BadSavedDocument::ChunkType { found: 1 })
    ));
    assert_eq!(check(b"garbage garbage"), Err(BadSavedDocument::Magic));
    let limits = DocLimits {
        max_bytes: 100,
        ..DocLimits::for_len(0)
    };
    assert!(matches!(
        check_saved_document(&saved, &limits),
        Err(BadSavedDocument::TooLarge { max: 100, .. })
    ));
}

#[test]
fn limits_grow_with_the_size_up_to_the_caps() {
    let small = DocLimits::for_len(100);
    assert_eq!(small.max_inflated, 1024 * 1024);
    assert_eq!(small.entries_for(100), MIN_ENTRIES);
    assert_eq!(small.entries_for(1_000_000), 16_000_000);
    let big = DocLimits::for_len(200 * 1024 * 1024);
    assert_eq!(big.max_inflated, MAX_INFLATED_BYTES);
    assert_eq!(big.entries_for(1 << 30), MAX_ENTRIES);
}
