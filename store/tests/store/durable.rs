use quire_store::ops::{self, NewGroup};
use quire_store::storage::{DataDir, StorageOptions};
use quire_store::{Group, GroupId, SubmissionId};

use crate::support::*;

fn new_group(data: &DataDir) -> Group {
    let new = NewGroup {
        id: GroupId::random(),
        name: "Tuesday Writers".into(),
        description: "We meet on Tuesdays.".into(),
        rules: Default::default(),
        founder: new_member(0),
    };
    Group::create(data, new, StorageOptions::default(), t0()).unwrap()
}

#[test]
fn an_acknowledged_edit_is_there_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::open(dir.path()).unwrap();
    let mut group = new_group(&data);
    let id = SubmissionId::random();
    group
        .act(|doc, me| ops::submit(doc, me, id, draft("The Mill"), after(1)))
        .unwrap();
    let gid = group.id();
    drop(group);
    let reopened = Group::open(&data, gid, device(0), StorageOptions::default()).unwrap();
    let model = reopened.read().unwrap();
    assert_eq!(model.submissions[&id].title, "The Mill");
    assert_eq!(data.group_ids().unwrap(), [gid]);
}

#[test]
fn a_refused_operation_leaves_the_files_alone() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::open(dir.path()).unwrap();
    let mut group = new_group(&data);
    let before = snapshot_of_files(group.path());
    let err = group
        .act(|doc, me| ops::submit(doc, me, SubmissionId::random(), draft(""), after(1)))
        .unwrap_err();
    assert_eq!(err.to_string(), "title is empty");
    assert_eq!(snapshot_of_files(group.path()), before);
}

#[test]
fn another_device_is_not_a_member() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::open(dir.path()).unwrap();
    let group = new_group(&data);
    let other = Group::open(&data, group.id(), device(3), StorageOptions::default()).unwrap();
    let err = other.me().unwrap_err().to_string();
    assert!(
        err.contains("is not a member of `Tuesday Writers`"),
        "{err}"
    );
}

#[test]
fn two_handles_on_one_folder_see_each_others_edits() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::open(dir.path()).unwrap();
    let mut a = new_group(&data);
    let mut b = Group::open(&data, a.id(), device(0), StorageOptions::default()).unwrap();
    let (x, y) = (SubmissionId::random(), SubmissionId::random());
    a.act(|doc, me| ops::submit(doc, me, x, draft("From A"), after(1)))
        .unwrap();
    b.act(|doc, me| ops::submit(doc, me, y, draft("From B"), after(1)))
        .unwrap();
    assert!(a.refresh().unwrap());
    assert!(b.refresh().unwrap());
    for g in [&a, &b] {
        let model = g.read().unwrap();
        assert!(model.submissions.contains_key(&x) && model.submissions.contains_key(&y));
    }
    assert_eq!(a.doc().get_heads(), b.doc().get_heads());
}

fn snapshot_of_files(dir: &std::path::Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                out.push((entry.path().display().to_string(), meta.len()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn an_edit_held_from_its_fsync_is_written_for_readers_then_made_durable() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::open(dir.path()).unwrap();
    let mut writer = new_group(&data);
    let mut reader = Group::open(&data, writer.id(), device(0), StorageOptions::default()).unwrap();
    let id = SubmissionId::random();
    writer
        .holding_fsync(|g| g.act(|doc, me| ops::submit(doc, me, id, draft("Held"), after(1))))
        .unwrap();
    assert!(
        writer.storage_mut().has_unsaved_changes(),
        "an edit inside holding_fsync is left to the caller"
    );
    assert!(
        !reader.refresh().unwrap(),
        "nothing is on disk before the write"
    );

    writer.write().unwrap();
    assert!(
        reader.refresh().unwrap(),
        "a reader sees a written edit at once"
    );
    assert_eq!(reader.read().unwrap().submissions[&id].title, "Held");
    assert!(
        writer.storage_mut().has_unsaved_changes(),
        "a written edit is not durable before its fsync"
    );

    let outcome = writer.persist().unwrap();
    assert!(
        outcome.bytes_written > 0,
        "the persist fsyncs what was written"
    );
    assert!(!writer.storage_mut().has_unsaved_changes());
    assert_eq!(
        writer.persist().unwrap().bytes_written,
        0,
        "nothing is written twice"
    );
    let gid = writer.id();
    drop((writer, reader));
    let reopened = Group::open(&data, gid, device(0), StorageOptions::default()).unwrap();
    assert_eq!(reopened.read().unwrap().submissions[&id].title, "Held");
}

#[test]
fn a_compaction_after_a_write_keeps_the_written_edit() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::open(dir.path()).unwrap();
    let mut group = new_group(&data);
    let id = SubmissionId::random();
    group
        .holding_fsync(|g| g.act(|doc, me| ops::submit(doc, me, id, draft("Folded"), after(1))))
        .unwrap();
    group.write().unwrap();
    group.storage_mut().compact().unwrap();
    assert!(!group.storage_mut().has_unsaved_changes());
    assert_eq!(group.persist().unwrap().bytes_written, 0);
    let gid = group.id();
    drop(group);
    let reopened = Group::open(&data, gid, device(0), StorageOptions::default()).unwrap();
    assert_eq!(reopened.read().unwrap().submissions[&id].title, "Folded");
}
