//! What an inviter offers, and what a joiner's loader takes and refuses.

use automerge::transaction::Transactable;
use automerge::{ROOT, ReadDoc};

use super::*;
use crate::bootstrap_wire::encode_pieces;
use crate::fuzz_regressions::fixtures::small_group;
use crate::fuzz_regressions::saved_document;

fn group_id() -> GroupId {
    GroupId::from_bytes([9; 16])
}

fn edit(doc: &mut Automerge, n: usize) {
    let mut tx = doc.transaction();
    tx.put(ROOT, "note", format!("edit {n}")).unwrap();
    tx.commit();
}

fn sorted(mut heads: Vec<ChangeHash>) -> Vec<ChangeHash> {
    heads.sort();
    heads
}

fn offered(prepared: &Prepared) -> Vec<ChangeHash> {
    match &prepared.offer {
        Offer::Document { len, heads } => {
            assert_eq!(*len, prepared.document.len() as u64);
            heads.clone()
        }
        Offer::Nothing { reason } => panic!("nothing offered: {reason}"),
    }
}

#[test]
fn a_recent_snapshot_is_sent_as_it_is() {
    let mut doc = small_group();
    let snapshot = doc.save();
    let snapshot_heads = sorted(doc.get_heads());
    edit(&mut doc, 1);
    let prepared = prepare(&doc, Some(snapshot.clone()));
    assert_eq!(prepared.document, snapshot);
    assert_eq!(offered(&prepared), snapshot_heads);
}

#[test]
fn a_stale_foreign_or_broken_snapshot_is_replaced_by_a_fresh_save() {
    let mut doc = small_group();
    let stale = doc.save();
    for n in 0..=MAX_CHANGES_PAST_SNAPSHOT {
        edit(&mut doc, n);
    }
    let mut foreign = Automerge::new();
    edit(&mut foreign, 0);
    for snapshot in [
        None,
        Some(stale),
        Some(foreign.save()),
        Some(b"garbage".to_vec()),
    ] {
        let prepared = prepare(&doc, snapshot);
        assert_eq!(offered(&prepared), sorted(doc.get_heads()));
        let loaded = Automerge::load(&prepared.document).unwrap();
        assert_eq!(sorted(loaded.get_heads()), sorted(doc.get_heads()));
    }
}

#[test]
fn nothing_is_offered_while_changes_wait_for_dependencies() {
    let mut source = small_group();
    edit(&mut source, 1);
    edit(&mut source, 2);
    let last = source.get_last_local_change().unwrap().clone();
    let mut doc = small_group();
    doc.apply_changes([last]).unwrap();
    assert!(!doc.get_missing_deps(&[]).is_empty());
    let prepared = prepare(&doc, None);
    assert!(
        matches!(prepared.offer, Offer::Nothing { .. }),
        "{:?}",
        prepared.offer
    );
    assert!(prepared.document.is_empty());
}

#[test]
fn an_honest_group_loads_with_its_heads_and_our_actor() {
    let doc = small_group();
    let prepared = prepare(&doc, None);
    let actor = ActorId::from(vec![42; 40]);
    let loaded = load(
        &prepared.document,
        &offered(&prepared),
        group_id(),
        actor.clone(),
    )
    .unwrap();
    assert_eq!(sorted(loaded.get_heads()), sorted(doc.get_heads()));
    assert_eq!(loaded.get_actor(), &actor);
    assert_eq!(
        doc::read_group(&loaded).unwrap(),
        doc::read_group(&doc).unwrap()
    );
}

#[test]
fn another_group_is_refused_by_name() {
    let doc = small_group();
    let saved = doc.save();
    let other = GroupId::from_bytes([3; 16]);
    let err = load(&saved, &doc.get_heads(), other, ActorId::random()).unwrap_err();
    assert!(matches!(err, BadBootstrap::OtherGroup { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "the saved document is group `{}`, not `{}`",
            group_id().short(),
            other.short()
        )
    );
}

#[test]
fn heads_other_than_offered_are_refused() {
    let doc = small_group();
    let saved = doc.save();
    let err = load(
        &saved,
        &[ChangeHash([1; 32])],
        group_id(),
        ActorId::random(),
    )
    .unwrap_err();
    assert!(matches!(err, BadBootstrap::Heads { .. }), "{err}");
}

#[test]
fn a_document_that_is_not_a_group_is_refused() {
    let mut doc = Automerge::new();
    edit(&mut doc, 1);
    let err = load(&doc.save(), &doc.get_heads(), group_id(), ActorId::random()).unwrap_err();
    assert!(matches!(err, BadBootstrap::NotAGroup(_)), "{err}");
}

#[test]
fn garbage_and_truncations_are_refused_by_the_walk() {
    let doc = small_group();
    let saved = doc.save();
    for bytes in [&b"garbage"[..], &saved[..saved.len() / 2], &[][..]] {
        let err = load(bytes, &doc.get_heads(), group_id(), ActorId::random()).unwrap_err();
        assert!(matches!(err, BadBootstrap::Document(_)), "{err}");
    }
}

#[test]
fn pieces_are_gathered_up_to_the_offered_length_and_no_further() {
    let saved = small_group().save();
    let pieces = encode_pieces(&saved);
    let mut assembly = Assembly::new(saved.len() as u64, Vec::new());
    assert!(assembly.push(&pieces[0]).unwrap());
    assert_eq!(assembly.finish().0, saved);

    let mut short = Assembly::new(saved.len() as u64 - 1, Vec::new());
    let err = short.push(&pieces[0]).unwrap_err();
    assert!(matches!(err, BadBootstrap::PastEnd { .. }), "{err}");
}

/// A small xorshift, so the mutations are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}

/// The `saved_document` fuzz harness on a few thousand seeded mutations of a real saved
/// group, with the checksum made right so they reach the column walk and automerge: none
/// panics, and whatever loads is whole.
#[test]
fn mutated_saved_groups_never_panic_and_what_loads_is_whole() {
    let mut rng = Rng(0x5eed_b007);
    let saved = small_group().save();
    for _ in 0..3000 {
        // Mode 1: one to four three-byte edits; mode 0: raw bytes with a few flips.
        let input = if rng.next().is_multiple_of(4) {
            let mut bytes = saved.clone();
            for _ in 0..1 + rng.next() % 4 {
                let at = rng.next() as usize % bytes.len();
                bytes[at] = rng.byte();
            }
            [&[0u8][..], &bytes].concat()
        } else {
            let mut input = vec![1u8];
            for _ in 0..1 + rng.next() % 4 {
                let at = (rng.next() % saved.len() as u64) as u16;
                input.extend_from_slice(&at.to_be_bytes());
                input.push(rng.byte() | u8::from(!rng.next().is_multiple_of(16)));
            }
            input
        };
        let outcome = std::panic::catch_unwind(|| saved_document::run(&input));
        assert!(outcome.is_ok(), "input {input:?} panicked");
    }
}
