use std::fs;
use std::path::Path;

use automerge::ReadDoc;
use automerge::transaction::Transactable;
use quire_store::exchange::Credits;
use quire_store::live_view::LiveView;
use quire_store::model::Rules;
use quire_store::ops::{self, NewGroup};
use quire_store::storage::{DataDir, StorageOptions};
use quire_store::view_cache::{self, CachedView, ViewCacheError};
use quire_store::{CritiqueId, Group, GroupId, RuleChangeId, SubmissionId, doc};

use crate::support::*;

/// A group on disk with something of everything the model holds: members, pieces, claims,
/// critiques rated and tipped, a rule change, a withdrawn piece and an unreadable entry.
fn busy_group(data: &DataDir) -> Group {
    let new = NewGroup {
        id: GroupId::random(),
        name: "Tuesday Writers".into(),
        description: "We meet on Tuesdays.".into(),
        rules: Rules {
            starting_credits: Credits::whole(20),
            ..Default::default()
        },
        founder: new_member(0),
    };
    let mut group = Group::create(data, new, StorageOptions::default(), t0()).unwrap();
    for i in 1..4 {
        admit(&mut group, i);
    }
    let mine = SubmissionId::from_bytes([50; 16]);
    let gone = SubmissionId::from_bytes([51; 16]);
    group
        .act(|doc, me| ops::submit(doc, me, mine, draft("The Mill"), after(1)))
        .unwrap();
    group
        .act(|doc, me| ops::submit(doc, me, gone, draft("Withdrawn"), after(2)))
        .unwrap();
    group
        .act(|doc, me| ops::withdraw(doc, me, gone, after(3)))
        .unwrap();
    let critique = CritiqueId::from_bytes([60; 16]);
    // Each member acts from their own device, as the rules require.
    let as_device = |group: &mut Group, i: usize| {
        group
            .storage_mut()
            .doc_mut()
            .set_actor(quire_store::session_actor(device(i)));
    };
    as_device(&mut group, 1);
    group
        .act(|doc, _| {
            ops::claim(doc, member(1), mine, after(4))?;
            ops::critique(
                doc,
                member(1),
                mine,
                critique,
                "Vivid; slow start.",
                after(6),
            )
        })
        .unwrap();
    as_device(&mut group, 2);
    group
        .act(|doc, _| ops::claim(doc, member(2), mine, after(5)).map(drop))
        .unwrap();
    as_device(&mut group, 0);
    group
        .act(|doc, me| ops::rate(doc, me, mine, critique, 4, after(7)))
        .unwrap();
    group
        .act(|doc, me| ops::tip(doc, me, mine, critique, after(8)))
        .unwrap();
    let rules = [("claim_period_days".to_owned(), "5".to_owned())];
    group
        .act(|doc, me| {
            ops::change_rules(
                doc,
                me,
                RuleChangeId::from_bytes([70; 16]),
                &rules,
                after(9),
            )
        })
        .unwrap();
    // A member written by a broken peer: skipped when read, and reported.
    let doc = group.storage_mut().doc_mut();
    let members = match doc.get(automerge::ROOT, "members").unwrap() {
        Some((_, id)) => id,
        None => panic!("no members map"),
    };
    let mut tx = doc.transaction();
    tx.put(&members, "not-an-id", "not a member").unwrap();
    tx.commit();
    group.persist().unwrap();
    group
}

fn open(data: &DataDir, id: GroupId) -> Group {
    Group::open(data, id, device(0), StorageOptions::default()).unwrap()
}

/// Writes the view cache of `group` with its whole history.
fn write_cache(group: &mut Group) -> CachedView {
    let history = doc::history(group.doc());
    group
        .write_view_cache(&history)
        .unwrap()
        .expect("everything is on disk");
    view_cache::read_current(group.path()).unwrap()
}

fn stale(dir: &Path) -> bool {
    matches!(view_cache::read_current(dir), Err(ViewCacheError::Stale))
}

#[test]
fn a_cached_view_reads_back_as_the_group_read_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::open(dir.path()).unwrap();
    let mut group = busy_group(&data);
    let cached = write_cache(&mut group);

    let fresh = doc::read_group(group.doc()).unwrap();
    assert_eq!(fresh.skipped.len(), 1, "{:?}", fresh.skipped);
    assert_eq!(cached.group, fresh);
    assert_eq!(cached.heads, group.doc().get_heads());
    assert_eq!(cached.history, doc::history(group.doc()));
    assert_eq!(
        Some(cached.fingerprint),
        group.storage_mut().loaded_fingerprint()
    );

    // Another process opening the same files finds the cache current, and takes its model as
    // the live view without reading the document: nothing to catch up.
    let mut reopened = open(&data, group.id());
    let cached = view_cache::read_current(reopened.path()).unwrap();
    assert!(reopened.adopt_view(LiveView::from_parts(cached.heads, cached.group)));
    let (model, changed) = reopened.view_changed().unwrap();
    assert!(changed.is_empty(), "{changed:?}");
    assert_eq!(model, &fresh);
}

#[test]
fn a_write_by_another_group_on_the_same_data_dir_makes_the_cache_stale() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::open(dir.path()).unwrap();
    let mut a = busy_group(&data);
    write_cache(&mut a);
    let mut b = open(&data, a.id());
    assert!(
        view_cache::read_current(a.path()).is_ok(),
        "opening writes nothing"
    );
    let theirs = SubmissionId::random();
    b.act(|doc, me| ops::submit(doc, me, theirs, draft("From B"), after(20)))
        .unwrap();
    assert!(stale(a.path()));

    // Written again before A reads B's change, the cache still names the files A loaded, not
    // those on disk now: it stays stale.
    a.write_view_cache(&[])
        .unwrap()
        .expect("A has nothing unsaved");
    assert!(stale(a.path()));

    assert!(a.refresh().unwrap());
    let cached = write_cache(&mut a);
    assert!(cached.group.submissions.contains_key(&theirs));
    assert_eq!(cached.group, doc::read_group(b.doc()).unwrap());
}

#[test]
fn our_own_edit_and_a_compaction_make_the_cache_stale() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::open(dir.path()).unwrap();
    let mut group = busy_group(&data);
    write_cache(&mut group);

    group
        .act(|doc, me| ops::update_profile(doc, me, bio("Edited."), after(30)))
        .unwrap();
    assert!(stale(group.path()));
    write_cache(&mut group);

    group.storage_mut().compact().unwrap();
    assert!(stale(group.path()));
    let cached = write_cache(&mut group);
    assert_eq!(cached.group, doc::read_group(group.doc()).unwrap());

    // The cache made after compacting is good for a process opening the compacted files.
    let mut reopened = open(&data, group.id());
    let cached = view_cache::read_current(reopened.path()).unwrap();
    assert!(reopened.adopt_view(LiveView::from_parts(cached.heads, cached.group)));
    assert!(reopened.view_changed().unwrap().1.is_empty());
}

#[test]
fn nothing_is_cached_while_the_document_holds_what_the_files_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::open(dir.path()).unwrap();
    let mut group = busy_group(&data);
    let me = member(0);
    ops::update_profile(
        group.storage_mut().doc_mut(),
        me,
        bio("Unsaved."),
        after(40),
    )
    .unwrap();
    assert_eq!(group.write_view_cache(&[]).unwrap(), None);
    assert!(matches!(
        view_cache::read(group.path()),
        Err(ViewCacheError::Missing { .. })
    ));
    group.persist().unwrap();
    assert!(group.write_view_cache(&[]).unwrap().is_some());
}

#[test]
fn a_log_not_read_to_its_end_is_not_cached() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::open(dir.path()).unwrap();
    let group = busy_group(&data);
    let id = group.id();
    drop(group);
    // A dead process's log with half a record at its end: read up to it, the tail left.
    let log = data.group_path(id).join("log").join("0123456789abcdef.log");
    fs::write(&log, [200, 0, 0, 0, 1, 2, 3, 4, 5]).unwrap();
    let mut reopened = open(&data, id);
    assert_eq!(reopened.warnings().len(), 1, "{:?}", reopened.warnings());
    assert_eq!(reopened.write_view_cache(&[]).unwrap(), None);
}

#[test]
fn a_stale_view_adopted_catches_up_with_only_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::open(dir.path()).unwrap();
    let mut a = busy_group(&data);
    let before = write_cache(&mut a);
    let theirs = SubmissionId::random();
    a.act(|doc, me| ops::submit(doc, me, theirs, draft("Later"), after(50)))
        .unwrap();

    let mut reopened = open(&data, a.id());
    assert!(reopened.adopt_view(LiveView::from_parts(before.heads, before.group)));
    let (model, changed) = reopened.view_changed().unwrap();
    assert!(!changed.everything);
    assert_eq!(
        changed.submissions.into_iter().collect::<Vec<_>>(),
        [theirs]
    );
    assert_eq!(model, &doc::read_group(a.doc()).unwrap());
}

#[test]
fn a_view_of_heads_the_document_lacks_is_not_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::open(dir.path()).unwrap();
    let mut group = busy_group(&data);
    let mut fork = group.doc().fork().with_actor(actor(7));
    ops::submit(
        &mut fork,
        member(0),
        SubmissionId::random(),
        draft("Elsewhere"),
        after(60),
    )
    .unwrap();
    let elsewhere = LiveView::load(&fork).unwrap();
    assert!(!group.adopt_view(elsewhere));
    let fresh = doc::read_group(group.doc()).unwrap();
    let (model, changed) = group.view_changed().unwrap();
    assert!(changed.everything);
    assert_eq!(model, &fresh);
}

#[test]
fn a_damaged_or_foreign_cache_is_refused_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::open(dir.path()).unwrap();
    let mut group = busy_group(&data);
    write_cache(&mut group);
    let path = group.path().join(view_cache::FILE_NAME);
    let good = fs::read(&path).unwrap();
    let refused = |bytes: &[u8]| {
        fs::write(&path, bytes).unwrap();
        view_cache::read_current(group.path()).unwrap_err()
    };

    let err = refused(&good[..good.len() - 1]);
    assert!(matches!(err, ViewCacheError::Damaged(_)), "{err}");
    let err = refused(&good[..good.len() / 2]);
    assert!(matches!(err, ViewCacheError::Damaged(_)), "{err}");
    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    let err = refused(&flipped);
    assert_eq!(err.to_string(), "view cache damaged: checksum mismatch");

    let mut newer = good.clone();
    newer[8..12].copy_from_slice(&(view_cache::FORMAT + 1).to_le_bytes());
    let err = refused(&newer);
    assert!(matches!(err, ViewCacheError::OtherVersion { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("view cache format {}", view_cache::FORMAT + 1))
    );

    let err = refused(b"");
    assert!(matches!(err, ViewCacheError::NotACache { .. }), "{err}");
    let err = refused(b"{\"group\": 1}");
    assert!(matches!(err, ViewCacheError::NotACache { .. }), "{err}");

    // Written again, it is good again.
    write_cache(&mut group);
}

#[test]
fn writing_the_cache_leaves_no_temporary_file_and_does_not_touch_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::open(dir.path()).unwrap();
    let mut group = busy_group(&data);
    let fingerprint = data.fingerprint(group.id()).unwrap();
    write_cache(&mut group);
    write_cache(&mut group);
    assert_eq!(data.fingerprint(group.id()).unwrap(), fingerprint);
    assert!(!group.path().join(view_cache::TMP_FILE_NAME).exists());
}

fn bio(text: &str) -> quire_store::doc::ProfilePatch {
    quire_store::doc::ProfilePatch {
        bio: Some(text.into()),
        ..Default::default()
    }
}
