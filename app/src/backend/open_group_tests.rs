//! Opening groups through the real backend on a temporary data dir: from a current view cache
//! the group shows at once, marked `loading`, then live; actions sent meanwhile wait and land;
//! a stale or damaged cache is passed over for a full open, and written again.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use quire_store::ops::{self, NewGroup, NewMember, SubmissionDraft};
use quire_store::storage::{DataDir, StorageOptions};
use quire_store::view_cache::{self, ViewCacheError};
use quire_store::{DeviceId, Group, GroupId, MemberId, SubmissionId};

use super::{Action, Backend, BackendConfig, Command, Event, GroupSnapshot};

/// A data dir holding one group founded by this data dir's device, with a few pieces.
fn data_dir_with_group(root: &Path) -> (DataDir, GroupId) {
    let (data, device) = super::data::open(root).unwrap();
    let new = NewGroup {
        id: GroupId::random(),
        name: "Tuesday Writers".into(),
        description: String::new(),
        rules: quire_store::model::Rules {
            credits: false,
            ..Default::default()
        },
        founder: NewMember {
            id: MemberId::random(),
            display_name: "Julia".into(),
            device,
            device_label: "laptop".into(),
        },
    };
    let mut group = Group::create(&data, new, StorageOptions::default(), Timestamp::now()).unwrap();
    for title in ["The Mill", "Salt Flats", "Night Ferry"] {
        group
            .act(|doc, me| {
                ops::submit(
                    doc,
                    me,
                    SubmissionId::random(),
                    draft(title),
                    Timestamp::now(),
                )
            })
            .unwrap();
    }
    (data, group.id())
}

fn draft(title: &str) -> SubmissionDraft {
    SubmissionDraft {
        title: title.into(),
        genre: "literary".into(),
        text: "The mill wheel turned all night.".into(),
        ..Default::default()
    }
}

fn spawn(root: &Path) -> Backend {
    let config = BackendConfig {
        data_dir: root.to_path_buf(),
        device_label: "laptop".into(),
        sync: None,
        notifier: None,
    };
    Backend::spawn(config, Arc::new(|| {}))
}

/// Every event until `done` holds for one, that one included.
fn events_until(backend: &Backend, what: &str, done: impl Fn(&Event) -> bool) -> Vec<Event> {
    let started = Instant::now();
    let mut seen = Vec::new();
    loop {
        for event in backend.poll() {
            let last = done(&event);
            seen.push(event);
            if last {
                return seen;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}; saw {seen:#?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn snapshots(events: &[Event]) -> Vec<Arc<GroupSnapshot>> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Snapshot(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

fn failures(events: &[Event]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Failed(message) => Some(message.as_str()),
            _ => None,
        })
        .collect()
}

fn is_live(event: &Event) -> bool {
    matches!(event, Event::Snapshot(s) if !s.loading)
}

/// Opens the data dir in a backend until the group is live, and stops it (writing the view
/// cache, if it was not current); returns the events seen.
fn open_once(root: &Path) -> Vec<Event> {
    let backend = spawn(root);
    let events = events_until(&backend, "the live snapshot", is_live);
    drop(backend);
    events
}

/// What a snapshot shows, apart from when and how it was made.
fn shown(snapshot: &GroupSnapshot) -> GroupSnapshot {
    GroupSnapshot {
        version: 0,
        loading: false,
        derive_ms: 0.0,
        ..snapshot.clone()
    }
}

fn titles(snapshot: &GroupSnapshot) -> Vec<String> {
    let mut titles: Vec<String> = snapshot
        .queue
        .iter()
        .map(|r| r.entry.title.clone())
        .collect();
    titles.sort();
    titles
}

#[test]
fn a_group_shows_from_its_view_cache_and_then_live() {
    let dir = tempfile::tempdir().unwrap();
    let (data, id) = data_dir_with_group(dir.path());

    // No cache yet: the first open is a full one, and writes the cache.
    let first = open_once(dir.path());
    let first = snapshots(&first);
    assert_eq!(first.len(), 1, "one snapshot, already live");
    assert!(view_cache::read_current(&data.group_path(id)).is_ok());

    let events = open_once(dir.path());
    assert_eq!(failures(&events), Vec::<&str>::new());
    let seen = snapshots(&events);
    let (cached, live) = (&seen[0], seen.last().unwrap());
    assert!(cached.loading, "the first snapshot comes from the cache");
    assert!(!live.loading);
    assert_eq!(titles(cached).len(), 3);
    assert_eq!(shown(cached), shown(live));
    assert_eq!(shown(live), shown(&first[0]));
}

#[test]
fn an_edit_sent_while_the_document_loads_lands() {
    let dir = tempfile::tempdir().unwrap();
    let (data, id) = data_dir_with_group(dir.path());
    open_once(dir.path());

    let backend = spawn(dir.path());
    backend.send(Command::Act {
        group: id,
        action: Action::Submit(draft("Sent While Loading")),
    });
    let events = events_until(
        &backend,
        "the submission",
        |e| matches!(e, Event::Snapshot(s) if !s.loading && titles(s).contains(&"Sent While Loading".to_string())),
    );
    assert_eq!(failures(&events), Vec::<&str>::new());
    let seen = snapshots(&events);
    assert!(seen[0].loading, "the first snapshot comes from the cache");
    assert!(!titles(&seen[0]).contains(&"Sent While Loading".to_string()));
    // It waited for the document and ran before the first live snapshot was made.
    assert!(
        seen.iter()
            .filter(|s| !s.loading)
            .all(|s| titles(s).contains(&"Sent While Loading".to_string()))
    );
    assert!(events.iter().any(|e| matches!(e, Event::Done { message, .. } if message.starts_with("submitted 'Sent While Loading'"))));
    drop(backend);

    // It is on disk, and the cache written at the stop shows it too.
    let cached = view_cache::read_current(&data.group_path(id)).unwrap();
    assert!(
        cached
            .group
            .submissions
            .values()
            .any(|s| s.title == "Sent While Loading")
    );
    let reopened = Group::open(
        &data,
        id,
        DeviceId::from_bytes([9; 32]),
        StorageOptions::default(),
    )
    .unwrap();
    assert_eq!(reopened.read().unwrap(), cached.group);
}

#[test]
fn an_edit_by_another_process_makes_the_next_open_a_full_one() {
    let dir = tempfile::tempdir().unwrap();
    let (data, id) = data_dir_with_group(dir.path());
    open_once(dir.path());

    let (_, device) = super::data::open(dir.path()).unwrap();
    let mut other = Group::open(&data, id, device, StorageOptions::default()).unwrap();
    other
        .act(|doc, me| {
            ops::submit(
                doc,
                me,
                SubmissionId::random(),
                draft("From Elsewhere"),
                Timestamp::now(),
            )
        })
        .unwrap();
    assert!(matches!(
        view_cache::read_current(&data.group_path(id)),
        Err(ViewCacheError::Stale)
    ));

    let events = open_once(dir.path());
    let seen = snapshots(&events);
    assert_eq!(seen.len(), 1, "not shown from the stale cache");
    assert!(titles(&seen[0]).contains(&"From Elsewhere".to_string()));
    let cached = view_cache::read_current(&data.group_path(id)).unwrap();
    assert_eq!(cached.group, other.read().unwrap());
}

#[test]
fn a_damaged_view_cache_is_passed_over_and_written_again() {
    let dir = tempfile::tempdir().unwrap();
    let (data, id) = data_dir_with_group(dir.path());
    open_once(dir.path());
    let path = data.group_path(id).join(view_cache::FILE_NAME);
    let good = std::fs::read(&path).unwrap();
    std::fs::write(&path, &good[..good.len() / 3]).unwrap();

    let events = open_once(dir.path());
    assert_eq!(failures(&events), Vec::<&str>::new());
    let seen = snapshots(&events);
    assert_eq!(seen.len(), 1, "not shown from the damaged cache");
    assert_eq!(titles(&seen[0]).len(), 3);
    assert!(view_cache::read_current(&data.group_path(id)).is_ok());
}

#[test]
fn a_piece_focused_while_the_document_loads_shows_once_it_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let (data, id) = data_dir_with_group(dir.path());
    open_once(dir.path());
    let cached = view_cache::read_current(&data.group_path(id)).unwrap();
    let mill = cached
        .group
        .submissions
        .values()
        .find(|s| s.title == "The Mill")
        .unwrap()
        .id;

    let backend = spawn(dir.path());
    backend.send(Command::Focus {
        group: id,
        submission: Some(mill),
        member: None,
    });
    let events = events_until(
        &backend,
        "the piece's details",
        |e| matches!(e, Event::Submission(detail) if detail.sub.id == mill),
    );
    assert_eq!(failures(&events), Vec::<&str>::new());
    assert!(snapshots(&events)[0].loading);
}
