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
