use std::fs;
use std::path::{Path, PathBuf};

use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, ROOT};
use quire_store::storage::power_loss::{Flavor, Recorder, Rng};
use quire_store::storage::{DataDir, GroupStorage, LoadWarning, StorageOptions};
use quire_store::{ChangeSignature, GroupId, SignatureBook, ops};

use crate::support::*;

/// A stand-in for an ed25519 signature: storage keeps bytes, so any bytes tied to the change
/// show whether the right ones came back.
fn fake_signature(hash: &automerge::ChangeHash) -> [u8; 64] {
    let mut out = [0; 64];
    out[..32].copy_from_slice(&hash.0);
    out[32..].copy_from_slice(&hash.0);
    out[63] ^= 0x5a;
    out
}

/// The signature of `doc`'s newest change by its own actor.
fn sign_newest(doc: &Automerge) -> (ActorId, ChangeSignature) {
    let change = doc.get_last_local_change().expect("a local change");
    let sig = ChangeSignature {
        hash: change.hash(),
        seq: change.seq(),
        signature: fake_signature(&change.hash()),
    };
    (change.actor_id().clone(), sig)
}

/// Makes one change as `g`'s actor and records its signature (not yet persisted).
fn edit(g: &mut GroupStorage, key: &str, value: i64) -> (ActorId, ChangeSignature) {
    let mut tx = g.doc_mut().transaction();
    tx.put(ROOT, key, value).unwrap();
    tx.commit();
    let (actor, sig) = sign_newest(g.doc());
    assert!(g.record_signature(actor.clone(), sig));
    (actor, sig)
}

/// Every change of `doc` whose actor has no signature at or after it in `book`, and every
/// signature that does not match the change it names.
fn unsigned(doc: &Automerge, book: &SignatureBook) -> Vec<String> {
    let mut problems = Vec::new();
    for change in doc.get_changes(&[]) {
        match book.newest(change.actor_id()) {
            Some(sig) if sig.seq > change.seq() => {}
            Some(sig) if sig.seq == change.seq() => {
                if sig.hash != change.hash() || sig.signature != fake_signature(&change.hash()) {
                    problems.push(format!("wrong signature of {}", change.hash()));
                }
            }
            _ => problems.push(format!(
                "change {} (seq {} of {}) has no signature",
                change.hash(),
                change.seq(),
                change.actor_id()
            )),
        }
    }
    problems
}

/// A new group (one change by actor 0, signed) in a fresh data dir.
fn setup() -> (tempfile::TempDir, DataDir, GroupId) {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::open(tmp.path().join("data")).unwrap();
    let id = create_signed(&data, StorageOptions::default());
    (tmp, data, id)
}

fn create_signed(data: &DataDir, options: StorageOptions) -> GroupId {
    let id = GroupId::random();
    let mut doc = Automerge::new().with_actor(actor(0));
    let mut tx = doc.transaction();
    tx.put(ROOT, "founded", 1).unwrap();
    tx.commit();
    let mut book = SignatureBook::new();
    let (a, sig) = sign_newest(&doc);
    book.record(a, sig);
    let snapshot = doc.save();
    let created = data
        .create_group_from_snapshot(id, doc, &snapshot, book, options)
        .unwrap();
    assert!(!created.has_unsaved_changes(), "created durably");
    id
}

fn open(data: &DataDir, id: GroupId) -> GroupStorage {
    open_with(data, id, StorageOptions::default())
}

fn open_with(data: &DataDir, id: GroupId, options: StorageOptions) -> GroupStorage {
    data.open_group(id, ActorId::random(), options).unwrap()
}

fn entries(book: &SignatureBook) -> Vec<(ActorId, ChangeSignature)> {
    book.iter().map(|(a, s)| (a.clone(), *s)).collect()
}

fn only_log(group: &Path) -> PathBuf {
    let mut logs: Vec<PathBuf> = fs::read_dir(group.join("log"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    logs.pop().unwrap()
}

#[test]
fn signatures_persisted_with_their_changes_are_there_after_reopening() {
    let (_tmp, data, id) = setup();
    let mut g = open(&data, id);
    edit(&mut g, "a", 1);
    let (me, newest) = edit(&mut g, "b", 2);
    assert!(g.has_unsaved_changes());
    g.persist().unwrap();
    assert!(!g.has_unsaved_changes());
    let want = entries(g.signatures());
    assert_eq!(want.len(), 2, "the founder's and ours");
    drop(g);
    let reopened = open(&data, id);
    assert_eq!(entries(reopened.signatures()), want);
    assert_eq!(reopened.signatures().newest(&me), Some(&newest));
    assert!(unsigned(reopened.doc(), reopened.signatures()).is_empty());
    assert!(reopened.warnings().is_empty());
}

#[test]
fn a_signature_alone_is_persisted_in_a_record_of_its_own() {
    let (_tmp, data, id) = setup();
    let mut g = open(&data, id);
    // A peer's change arrived earlier; its signature comes later.
    let mut peer = g.doc().fork().with_actor(actor(7));
    let mut tx = peer.transaction();
    tx.put(ROOT, "theirs", 1).unwrap();
    tx.commit();
    g.doc_mut().merge(&mut peer).unwrap();
    g.persist().unwrap();
    let (them, sig) = sign_newest(&peer);
    assert!(!g.has_unsaved_changes());
    assert!(g.record_signature(them.clone(), sig));
    assert!(!g.record_signature(them.clone(), sig), "not newer");
    assert!(g.has_unsaved_changes(), "a pending signature is unsaved");
    let outcome = g.persist().unwrap();
    assert!(outcome.bytes_written > 0);
    assert!(!g.has_unsaved_changes());
    assert_eq!(
        g.persist().unwrap().bytes_written,
        0,
        "nothing left to write"
    );
    drop(g);
    let reopened = open(&data, id);
    assert_eq!(reopened.signatures().newest(&them), Some(&sig));
    assert!(unsigned(reopened.doc(), reopened.signatures()).is_empty());
}

#[test]
fn compaction_keeps_every_signature() {
    let (_tmp, data, id) = setup();
    let mut a = open(&data, id);
    let mut b = open(&data, id);
    for i in 0..3 {
        edit(&mut a, &format!("a{i}"), i);
        a.persist().unwrap();
        edit(&mut b, &format!("b{i}"), i);
        b.persist().unwrap();
    }
    // A dead writer's log, to be absorbed and removed.
    let mut c = open(&data, id);
    edit(&mut c, "c", 1);
    c.persist().unwrap();
    drop(c);
    // One recorded but not persisted: the compaction makes it durable.
    let (me, pending) = edit(&mut a, "a-late", 9);
    a.refresh().unwrap();
    let want = entries(a.signatures());
    assert_eq!(want.len(), 4, "the founder's, a's, b's and c's newest");
    let stats = a.compact().unwrap();
    assert_eq!(stats.logs_removed, 1);
    assert!(!a.has_unsaved_changes());
    assert!(a.path().join("signatures").is_file());
    assert_eq!(entries(a.signatures()), want);
    // The snapshot is still a plain automerge document.
    let snapshot = a.snapshot_file().unwrap().unwrap();
    Automerge::load(&snapshot).unwrap();
    let dir = a.path().to_path_buf();
    drop((a, b));
    let reopened = open(&data, id);
    assert_eq!(entries(reopened.signatures()), want);
    assert_eq!(reopened.signatures().newest(&me), Some(&pending));
    assert!(unsigned(reopened.doc(), reopened.signatures()).is_empty());
    // And again once every log is gone: the file alone holds them.
    let mut last = reopened;
    last.compact().unwrap();
    drop(last);
    let logs = fs::read_dir(dir.join("log")).unwrap().count();
    assert_eq!(logs, 0, "every log absorbed");
    assert_eq!(entries(open(&data, id).signatures()), want);
}

#[test]
fn another_process_sees_signatures_after_refresh() {
    let (_tmp, data, id) = setup();
    let mut a = open(&data, id);
    let mut b = open(&data, id);
    let (me, first) = edit(&mut a, "a", 1);
    a.persist().unwrap();
    assert!(b.refresh().unwrap());
    assert_eq!(b.signatures().newest(&me), Some(&first));
    assert!(!b.has_unsaved_changes(), "what b read is on disk already");
    // Written without an fsync, as the sync actor does: readable at once.
    let (_, second) = edit(&mut a, "a", 2);
    a.write().unwrap();
    assert!(a.has_unsaved_changes(), "not durable before the fsync");
    b.refresh().unwrap();
    assert_eq!(b.signatures().newest(&me), Some(&second));
    a.persist().unwrap();
    assert!(!a.has_unsaved_changes());
    // After a compaction by `a` (its log emptied, the book in the `signatures` file).
    let (_, third) = edit(&mut a, "a", 3);
    a.compact().unwrap();
    b.refresh().unwrap();
    assert_eq!(b.signatures().newest(&me), Some(&third));
    assert!(unsigned(b.doc(), b.signatures()).is_empty());
    // A signature alone, no change.
    let mut peer = a.doc().fork().with_actor(actor(7));
    let mut tx = peer.transaction();
    tx.put(ROOT, "theirs", 1).unwrap();
    tx.commit();
    b.doc_mut().merge(&mut peer).unwrap();
    b.persist().unwrap();
    let (them, sig) = sign_newest(&peer);
    b.record_signature(them.clone(), sig);
    b.persist().unwrap();
    a.refresh().unwrap();
    assert_eq!(a.signatures().newest(&them), Some(&sig));
}

#[test]
fn a_change_written_twice_before_the_fsync_keeps_its_signature() {
    let (_tmp, data, id) = setup();
    let mut a = open(&data, id);
    edit(&mut a, "x", 1);
    a.write().unwrap();
    let (me, newest) = edit(&mut a, "x", 2);
    a.write().unwrap();
    a.write().unwrap();
    let bytes = a.persist().unwrap().bytes_written;
    assert!(bytes > 0, "the writes were synced");
    assert!(!a.has_unsaved_changes());
    drop(a);
    let reopened = open(&data, id);
    assert_eq!(reopened.signatures().newest(&me), Some(&newest));
    assert!(unsigned(reopened.doc(), reopened.signatures()).is_empty());
}

/// Regression guard for the atomicity the signatures are kept for: whatever prefix of a log
/// reaches the disk, no change loads without a signature that covers it.
#[test]
fn a_torn_record_never_yields_a_change_without_its_signature() {
    let (tmp, data, id) = setup();
    let mut a = open(&data, id);
    for i in 0..3 {
        edit(&mut a, "k", i);
        a.persist().unwrap();
    }
    let log = only_log(a.path());
    drop(a);
    let whole = fs::read(&log).unwrap();
    let group = data.group_path(id);
    let mut seqs = std::collections::BTreeSet::new();
    for cut in 0..=whole.len() {
        let copy = tmp.path().join(format!("cut-{cut}"));
        let copy_data = DataDir::open(&copy).unwrap();
        let dir = copy_data.group_path(id);
        fs::create_dir_all(dir.join("log")).unwrap();
        for name in ["snapshot.automerge", "signatures", "compact.lock"] {
            fs::copy(group.join(name), dir.join(name)).unwrap();
        }
        fs::write(dir.join("log").join("x.log"), &whole[..cut]).unwrap();
        let g = open(&copy_data, id);
        let problems = unsigned(g.doc(), g.signatures());
        assert!(problems.is_empty(), "cut at {cut}: {problems:?}");
        for w in g.warnings() {
            assert!(
                matches!(w, LoadWarning::TornTail { .. }),
                "cut at {cut}: {w}"
            );
        }
        seqs.insert(g.doc().get_changes(&[]).len());
        drop(g);
        fs::remove_dir_all(&copy).unwrap();
    }
    assert_eq!(seqs.len(), 4, "every record boundary was crossed: {seqs:?}");
}

#[test]
fn a_damaged_signatures_file_is_quarantined_and_written_again() {
    let (_tmp, data, id) = setup();
    let mut a = open(&data, id);
    let (me, sig) = edit(&mut a, "a", 1);
    a.compact().unwrap();
    let want = entries(a.signatures());
    let file = a.path().join("signatures");
    let mut bytes = fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    fs::write(&file, &bytes).unwrap();
    // Another process finds it damaged: a warning, never a failure.
    let b = open(&data, id);
    let warned = b.warnings().iter().any(|w| match w {
        LoadWarning::Quarantined { from, reason, .. } => {
            from == &file && reason.contains("checksum")
        }
        _ => false,
    });
    assert!(warned, "{:?}", b.warnings());
    assert!(!file.exists());
    assert!(
        b.signatures().newest(&me).is_none(),
        "only the file held it"
    );
    // `a`, which wrote it, notices it gone and writes its book again at once.
    a.refresh().unwrap();
    assert!(!a.has_unsaved_changes());
    drop(a);
    let c = open(&data, id);
    assert_eq!(entries(c.signatures()), want);
    assert_eq!(c.signatures().newest(&me), Some(&sig));
}

#[test]
fn a_record_with_a_damaged_trailer_is_treated_as_corrupt() {
    let (_tmp, data, id) = setup();
    let mut a = open(&data, id);
    edit(&mut a, "a", 1);
    a.persist().unwrap();
    edit(&mut a, "b", 2);
    a.persist().unwrap();
    let log = only_log(a.path());
    drop(a);
    // Rewrite the first record with its trailer's last byte damaged and a valid crc, so only
    // the trailer check can refuse it.
    let bytes = fs::read(&log).unwrap();
    let len = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
    let mut payload = bytes[8..8 + len].to_vec();
    let last = payload.len() - 1;
    payload[last] ^= 1;
    let mut damaged = Vec::new();
    damaged.extend_from_slice(&(len as u32).to_le_bytes());
    damaged.extend_from_slice(&crc32(&payload).to_le_bytes());
    damaged.extend_from_slice(&payload);
    damaged.extend_from_slice(&bytes[8 + len..]);
    fs::write(&log, &damaged).unwrap();
    let b = open(&data, id);
    let warned = b.warnings().iter().any(|w| match w {
        LoadWarning::Quarantined { reason, .. } => reason.contains("bad signature trailer"),
        _ => false,
    });
    assert!(warned, "{:?}", b.warnings());
    assert!(unsigned(b.doc(), b.signatures()).is_empty());
}

/// CRC-32 (IEEE), as log records carry it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xedb8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

#[test]
fn a_group_created_from_a_snapshot_keeps_its_signatures() {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::open(tmp.path()).unwrap();
    let id = create_signed(&data, StorageOptions::default());
    let g = open(&data, id);
    assert_eq!(g.signatures().len(), 1);
    assert!(unsigned(g.doc(), g.signatures()).is_empty());
    assert!(g.warnings().is_empty());
    // Without signatures, no file is written.
    let plain = GroupId::random();
    data.create_group(plain, Automerge::new(), StorageOptions::default())
        .unwrap();
    assert!(!data.group_path(plain).join("signatures").exists());
}

#[test]
fn a_group_records_and_persists_signatures_of_its_operations() {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::open(tmp.path()).unwrap();
    let new = ops::NewGroup {
        id: GroupId::random(),
        name: "Tuesday Writers".into(),
        description: String::new(),
        rules: Default::default(),
        founder: new_member(0),
    };
    let mut group =
        quire_store::Group::create(&data, new, StorageOptions::default(), t0()).unwrap();
    // As the sync actor will: the change in memory, signed, then one persist for both.
    let id = quire_store::SubmissionId::random();
    group
        .holding_fsync(|g| g.act(|doc, me| ops::submit(doc, me, id, draft("The Mill"), after(1))))
        .unwrap();
    let (me, sig) = sign_newest(group.doc());
    assert!(group.record_signature(me.clone(), sig));
    group.persist().unwrap();
    assert_eq!(group.signatures().newest(&me), Some(&sig));
    let gid = group.id();
    drop(group);
    let reopened =
        quire_store::Group::open(&data, gid, device(0), StorageOptions::default()).unwrap();
    assert_eq!(reopened.signatures().newest(&me), Some(&sig));
}

/// Small thresholds, so the workload compacts often.
const OPTIONS: StorageOptions = StorageOptions {
    compact_min_log_bytes: 0,
    compact_max_logs: 2,
};

/// Power cut anywhere in a workload of two writers that sign every change: no crash state
/// holds a change without a signature covering it, and every signature acknowledged by a
/// persist is there.
#[test]
fn no_power_cut_leaves_a_change_without_its_signature() {
    let work = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(0x51_6e_ed);
    let recorder = Recorder::start(work.path());
    let data = DataDir::open(work.path().join("data")).unwrap();
    let id = create_signed(&data, OPTIONS);
    let created = recorder.steps();
    let mut a = open_with(&data, id, OPTIONS);
    let mut b = open_with(&data, id, OPTIONS);
    // (step when acknowledged, actor, seq)
    let mut acked = Vec::new();
    for n in 0..30 {
        match rng.below(8) {
            0 => {
                a.compact().unwrap();
            }
            1 => {
                b.refresh().unwrap();
            }
            2 => a = open_with(&data, id, OPTIONS),
            _ => {}
        }
        let writer = if rng.one_in(2) { &mut a } else { &mut b };
        let (actor, sig) = edit(writer, "n", n);
        if rng.one_in(3) {
            writer.write().unwrap();
        }
        writer.persist().unwrap();
        acked.push((recorder.steps(), actor, sig.seq));
    }
    drop((a, b));
    let journal = recorder.finish();
    let syncs: Vec<usize> = journal
        .syncs()
        .into_iter()
        .filter(|&at| at >= created)
        .collect();
    let mut states = 0;
    for c in 0..40 {
        let cut = match c % 2 {
            _ if c == 0 => journal.len(),
            0 => syncs[rng.below(syncs.len() as u64) as usize],
            _ => created + rng.up_to(journal.len() - created),
        };
        for flavor in [Flavor::LoseAll, Flavor::Random, Flavor::Random] {
            let crash = journal.crash(cut, flavor, &mut rng);
            let dir = tempfile::tempdir().unwrap();
            crash.materialize(dir.path()).unwrap();
            let data = DataDir::open(dir.path().join("data")).unwrap();
            let g = open(&data, id);
            states += 1;
            let problems = unsigned(g.doc(), g.signatures());
            assert!(problems.is_empty(), "cut {cut} ({flavor:?}): {problems:?}");
            for (at, actor, seq) in acked.iter().filter(|(at, ..)| *at <= cut) {
                let kept = g.signatures().newest(actor).map(|s| s.seq);
                assert!(
                    kept >= Some(*seq),
                    "cut {cut} ({flavor:?}): signature of seq {seq} acknowledged at step {at} is lost"
                );
            }
        }
    }
    assert_eq!(states, 120);
}
