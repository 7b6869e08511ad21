//! A group the backend has open: its document, what the UI was last sent of it, and what the
//! UI is looking at.
//!
//! Loading a large group's document takes automerge about a second, and reading it into the
//! model as long again. So a group opens in two steps:
//!
//! ```text
//!  actor                                         worker thread (spawn_blocking)
//!  ─────                                         ──────────────────────────────
//!  view cache current? ── yes ─▶ Doc::Loading: derive and send its snapshot at once
//!        │ no: nothing shown yet                  │
//!        └────────────── load(id) ───────────────▶ Group::open (+ the model, if no cache),
//!                                                  the history
//!  Command::Loaded ◀─────────────────────────────┘
//!  Doc::Open: adopt the cached model as the live view (catching it up if the document
//!  moved on), run the commands that waited, send the live snapshot
//! ```
//!
//! While a group loads, its snapshot is derived from the cached model like any other (time
//! moves on, focus changes), and is marked `loading`. Commands that need the document wait,
//! in order, and run as soon as it is there: nothing the user does is refused or lost.
//!
//! The view cache is written again whenever it no longer matches what is loaded: right after
//! a load that found no current cache, when the group has been quiet for a while, and when the
//! backend stops. Never on the way of an edit.

use std::time::{Duration, Instant};

use jiff::Timestamp;
use quire_store::exchange::activity::Change;
use quire_store::live_view::{Changed, LiveView};
use quire_store::storage::{DataDir, Fingerprint, StorageOptions};
use quire_store::view_cache::CachedView;
use quire_store::{DeviceId, Group, GroupId, MemberId, SubmissionId, doc, model};

use super::Command;
use super::live_snapshot::LiveSnapshot;
use super::snapshot::{ACTIVITY_SHOWN, GroupSnapshot};

/// A group's document.
#[derive(Debug)]
pub(super) enum Doc {
    /// Loading on a worker thread. Meanwhile the model is the view cache's, and the commands
    /// that need the document wait here, in the order they came.
    Loading {
        /// The cached model and the heads it was read at.
        view: Box<LiveView>,
        /// Commands to run once the document is open.
        waiting: Vec<Command>,
    },
    /// Open.
    Open(Box<Group>),
}

/// One group the backend has open (or is opening behind its view cache).
#[derive(Debug)]
pub(super) struct OpenGroup {
    pub(super) doc: Doc,
    /// The document's history, oldest first, extended change by change. While loading, the
    /// newest of it, from the view cache.
    pub(super) history: Vec<Change>,
    /// What the UI was last sent, kept current row by row; `None` until first derived.
    pub(super) live: Option<LiveSnapshot>,
    pub(super) version: u64,
    pub(super) dirty: bool,
    pub(super) focus_submission: Option<SubmissionId>,
    pub(super) focus_member: Option<MemberId>,
    /// What loading had to drop or move aside.
    pub(super) warnings: Vec<String>,
    /// The files the view cache on disk was made from, as far as this process knows.
    pub(super) cached: Option<Fingerprint>,
    /// The view cache is to be written at once: the document was loaded without a current
    /// one.
    pub(super) cache_due: bool,
    /// When the document last changed here.
    pub(super) changed_at: Instant,
}

impl OpenGroup {
    /// A group shown from its view cache while its document loads.
    pub(super) fn from_cache(cached: CachedView) -> Self {
        Self {
            doc: Doc::Loading {
                view: Box::new(LiveView::from_parts(cached.heads, cached.group)),
                waiting: Vec::new(),
            },
            history: cached.history,
            live: None,
            version: 0,
            dirty: true,
            focus_submission: None,
            focus_member: None,
            warnings: Vec::new(),
            cached: Some(cached.fingerprint),
            cache_due: false,
            changed_at: Instant::now(),
        }
    }

    /// A group whose document is open.
    pub(super) fn opened(group: Group, history: Vec<Change>) -> Self {
        Self {
            warnings: warnings(&group),
            doc: Doc::Open(Box::new(group)),
            history,
            live: None,
            version: 0,
            dirty: true,
            focus_submission: None,
            focus_member: None,
            cached: None,
            cache_due: true,
            changed_at: Instant::now(),
        }
    }

    /// Takes the loaded document in place of the view cache; returns the commands that
    /// waited for it, to run now.
    ///
    /// The cached model becomes the live view if the document holds the heads it was read at
    /// (caught up on the next read if the document moved on since), so the snapshot derived
    /// from it is only updated; otherwise the model is read afresh and the snapshot derived
    /// anew.
    pub(super) fn loaded(&mut self, group: Group, history: Vec<Change>) -> Vec<Command> {
        self.warnings = warnings(&group);
        let previous = std::mem::replace(&mut self.doc, Doc::Open(Box::new(group)));
        let waiting = match previous {
            Doc::Loading { view, waiting } => {
                if let Doc::Open(group) = &mut self.doc
                    && !group.adopt_view(*view)
                {
                    tracing::info!(group = %group.id().short(), "the view cache is not of this document; reading it afresh");
                }
                waiting
            }
            Doc::Open(_) => Vec::new(),
        };
        self.history = history;
        self.version += 1;
        self.dirty = true;
        self.cache_due = true;
        waiting
    }

    /// The document, if it is open.
    pub(super) fn group_mut(&mut self) -> Option<&mut Group> {
        match &mut self.doc {
            Doc::Open(group) => Some(group),
            Doc::Loading { .. } => None,
        }
    }

    /// Whether the document is still loading behind the view cache.
    pub(super) fn is_loading(&self) -> bool {
        matches!(self.doc, Doc::Loading { .. })
    }

    /// The group's name.
    pub(super) fn name(&self) -> String {
        match &self.doc {
            Doc::Open(group) => group.name(),
            Doc::Loading { view, .. } => view.group().info.name.clone(),
        }
    }

    /// The model, current with the document; while loading, the cached model.
    pub(super) fn model(&mut self) -> Result<&model::Group, quire_store::Error> {
        match &mut self.doc {
            Doc::Open(group) => group.view(),
            Doc::Loading { view, .. } => Ok(view.group()),
        }
    }

    /// Records that the document moved on from `before`.
    pub(super) fn changed_since(&mut self, before: &[automerge::ChangeHash]) {
        if let Doc::Open(group) = &self.doc {
            self.history.extend(doc::history_since(group.doc(), before));
        }
        self.version += 1;
        self.dirty = true;
        self.changed_at = Instant::now();
    }

    /// Brings the snapshot up to date with the model at `now`, as `device`'s member.
    pub(super) fn snapshot(
        &mut self,
        device: DeviceId,
        now: Timestamp,
    ) -> Result<GroupSnapshot, quire_store::Error> {
        let loading = self.is_loading();
        let (version, history) = (self.version, &self.history);
        let (model, changed) = match &mut self.doc {
            Doc::Open(group) => group.view_changed()?,
            Doc::Loading { view, .. } => (view.group(), Changed::default()),
        };
        let me = model.member_for_device(device).map(|m| m.id);
        let mut snapshot = match &mut self.live {
            Some(live) => live.update(model, &changed, me, history, now, version),
            None => {
                let (live, snapshot) = LiveSnapshot::derive(model, me, history, now, version);
                self.live = Some(live);
                snapshot
            }
        };
        snapshot.loading = loading;
        snapshot.skipped.extend(self.warnings.iter().cloned());
        Ok(snapshot)
    }

    /// Writes the view cache if what is loaded is not what the cache on disk was made from,
    /// and the document has not changed for `quiet`. Returns whether it wrote one.
    pub(super) fn save_cache(&mut self, quiet: Duration) -> Result<bool, quire_store::Error> {
        if self.changed_at.elapsed() < quiet {
            return Ok(false);
        }
        let Doc::Open(group) = &mut self.doc else {
            return Ok(false);
        };
        let loaded = group.storage().loaded_fingerprint();
        if loaded.is_none() || loaded == self.cached {
            return Ok(false);
        }
        let newest = &self.history[self.history.len().saturating_sub(ACTIVITY_SHOWN)..];
        let started = Instant::now();
        let written = group.write_view_cache(newest)?;
        tracing::debug!(group = %group.id().short(), ms = started.elapsed().as_secs_f64() * 1000.0, "wrote the view cache");
        let wrote = written.is_some();
        if wrote {
            self.cached = written;
        }
        Ok(wrote)
    }
}

fn warnings(group: &Group) -> Vec<String> {
    group.warnings().iter().map(ToString::to_string).collect()
}

/// A group's document loaded on a worker thread, as the actor gets it back.
#[derive(Debug)]
pub struct GroupLoaded {
    pub(super) id: GroupId,
    pub(super) result: Result<(Group, Vec<Change>), String>,
}

/// Loads group `id` as `device`, with its history; with `read_model`, reads the model too
/// (when there is no cached one to adopt), so that the actor does not.
pub(super) fn load(data: &DataDir, id: GroupId, device: DeviceId, read_model: bool) -> GroupLoaded {
    let result = Group::open(data, id, device, StorageOptions::default())
        .map(|mut group| {
            if read_model {
                // A model that cannot be read is reported when the snapshot is derived, as
                // for any later read.
                let _ = group.view();
            }
            let history = doc::history(group.doc());
            (group, history)
        })
        .map_err(|err| err.to_string());
    GroupLoaded { id, result }
}
