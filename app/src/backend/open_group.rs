//! A group the backend has open: its document (or, while that loads, the name shown from its
//! view cache), what the UI was last sent of it, and what the UI is looking at.
//!
//! While a group's document loads (see [`super::opener`]) the UI shows the snapshot of its view
//! cache, marked `loading`, and commands that need the document wait here, in the order they
//! came; they run as soon as it is there, so nothing the user does is refused or lost. The
//! details of a submission or member on screen follow with the document.
//!
//! The view cache is written again whenever it no longer matches what is loaded: right after
//! a load that found no current cache, when the group has been quiet for a while, and when the
//! backend stops. Never on the way of an edit.

use std::time::{Duration, Instant};

use jiff::Timestamp;
use quire_store::exchange::activity::Change;
use quire_store::storage::Fingerprint;
use quire_store::{DeviceId, Group, MemberId, SubmissionId, doc, model};

use super::Command;
use super::live_snapshot::LiveSnapshot;
use super::opener::LoadedGroup;
use super::snapshot::{ACTIVITY_SHOWN, GroupSnapshot};

/// A group's document.
#[derive(Debug)]
pub(super) enum Doc {
    /// Loading on the opener's thread, while the UI shows the view cache's snapshot.
    Loading {
        /// The group's name, as the cache had it.
        name: String,
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
    /// The document's history, oldest first, extended change by change.
    pub(super) history: Vec<Change>,
    /// What the UI was last sent, kept current row by row; `None` until derived.
    pub(super) live: Option<LiveSnapshot>,
    pub(super) version: u64,
    pub(super) dirty: bool,
    pub(super) focus_submission: Option<SubmissionId>,
    pub(super) focus_member: Option<MemberId>,
    /// What loading had to drop or move aside.
    pub(super) warnings: Vec<String>,
    /// The files the view cache on disk was made from, as far as this process knows.
    pub(super) cached: Option<Fingerprint>,
    /// The view cache is to be written now if it does not match what was loaded.
    pub(super) cache_due: bool,
    /// When the document last changed here.
    pub(super) changed_at: Instant,
}

impl OpenGroup {
    /// A group shown from its view cache (as `snapshot`) while its document loads.
    pub(super) fn shown(snapshot: &GroupSnapshot) -> Self {
        Self::with_doc(Doc::Loading {
            name: snapshot.name.clone(),
            waiting: Vec::new(),
        })
    }

    /// A group whose document is open.
    pub(super) fn opened(loaded: LoadedGroup) -> Self {
        let mut open = Self::with_doc(Doc::Loading {
            name: String::new(),
            waiting: Vec::new(),
        });
        open.loaded(loaded);
        open
    }

    fn with_doc(doc: Doc) -> Self {
        Self {
            doc,
            history: Vec::new(),
            live: None,
            version: 0,
            dirty: false,
            focus_submission: None,
            focus_member: None,
            warnings: Vec::new(),
            cached: None,
            cache_due: false,
            changed_at: Instant::now(),
        }
    }

    /// Takes the loaded document in place of the view cache's snapshot; returns the commands
    /// that waited for it, to run now.
    pub(super) fn loaded(&mut self, loaded: LoadedGroup) -> Vec<Command> {
        let LoadedGroup {
            group,
            history,
            live,
            cached,
        } = loaded;
        self.warnings = group.warnings().iter().map(ToString::to_string).collect();
        let waiting = match std::mem::replace(&mut self.doc, Doc::Open(Box::new(group))) {
            Doc::Loading { waiting, .. } => waiting,
            Doc::Open(_) => Vec::new(),
        };
        self.history = history;
        self.live = live;
        self.cached = cached;
        self.cache_due = true;
        self.version += 1;
        self.dirty = true;
        waiting
    }

    /// The document, if it is open.
    pub(super) fn group_mut(&mut self) -> Option<&mut Group> {
        match &mut self.doc {
            Doc::Open(group) => Some(group),
            Doc::Loading { .. } => None,
        }
    }

    /// The group's name.
    pub(super) fn name(&self) -> String {
        match &self.doc {
            Doc::Open(group) => group.name(),
            Doc::Loading { name, .. } => name.clone(),
        }
    }

    /// The model, current with the document; `None` while it loads.
    pub(super) fn model(&mut self) -> Option<Result<&model::Group, quire_store::Error>> {
        match &mut self.doc {
            Doc::Open(group) => Some(group.view()),
            Doc::Loading { .. } => None,
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

    /// Brings the snapshot up to date with the model at `now`, as `device`'s member; `None`
    /// while the document loads (the view cache's snapshot stands until then).
    pub(super) fn snapshot(
        &mut self,
        device: DeviceId,
        now: Timestamp,
    ) -> Option<Result<GroupSnapshot, quire_store::Error>> {
        let Doc::Open(group) = &mut self.doc else {
            return None;
        };
        let (model, changed) = match group.view_changed() {
            Ok(view) => view,
            Err(err) => return Some(Err(err)),
        };
        let me = model.member_for_device(device).map(|m| m.id);
        let (version, history) = (self.version, &self.history);
        let mut snapshot = match &mut self.live {
            Some(live) => live.update(model, &changed, me, history, now, version),
            None => {
                let (live, snapshot) = LiveSnapshot::derive(model, me, history, now, version);
                self.live = Some(live);
                snapshot
            }
        };
        snapshot.skipped.extend(self.warnings.iter().cloned());
        Some(Ok(snapshot))
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
