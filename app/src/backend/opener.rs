//! The opener: the worker thread that opens the data dir's groups when the backend starts, so
//! that the actor never waits on a document.
//!
//! ```text
//!  opener (one worker thread)                           actor
//!  ──────────────────────────                           ─────
//!  each group whose view cache is current:
//!    read it, derive its snapshot ── Command::Shown ──▶ shown at once, marked `loading`
//!  each group in turn (those shown first):
//!    Group::open; the cached model adopted as the
//!    live view (or the model read afresh); its lists
//!    derived, the history read  ─── Command::Loaded ──▶ open; the actions that waited run
//! ```
//!
//! Loading a large document takes automerge about a second, with a peak of memory two and a
//! half times the size of the document it leaves. What the view cache held for the first
//! snapshot (the model, the lists' indexes) is dropped before the load, and read again after
//! it: it costs a few tens of milliseconds, and the load's peak then reuses their memory
//! instead of adding to it. Everything happens on this one thread, where memory freed is
//! memory the next step can reuse (the allocator keeps a heap per thread).
//!
//! After the load the view cache is read again whatever files it was made from: if the
//! document holds the heads its model was read at, that model is adopted and caught up with
//! what changed since, instead of reading a second's worth of document. A cache that was stale
//! at start is never shown, but still spares that read.

use jiff::Timestamp;
use quire_store::exchange::activity::Change;
use quire_store::live_view::LiveView;
use quire_store::storage::{DataDir, Fingerprint, StorageOptions};
use quire_store::view_cache::{self, ViewCacheError};
use quire_store::{DeviceId, Group, GroupId, doc};
use tokio::sync::mpsc;

use super::Command;
use super::live_snapshot::LiveSnapshot;
use super::snapshot::{ACTIVITY_SHOWN, GroupSnapshot};

/// A group shown from its view cache, as the actor gets it.
#[derive(Debug)]
pub struct GroupShown {
    pub(super) id: GroupId,
    pub(super) snapshot: GroupSnapshot,
}

/// A group's document loaded, as the actor gets it.
#[derive(Debug)]
pub struct GroupLoaded {
    pub(super) id: GroupId,
    pub(super) result: Result<LoadedGroup, String>,
}

/// An open group with what the actor needs to show it.
#[derive(Debug)]
pub(super) struct LoadedGroup {
    pub(super) group: Group,
    /// The document's history, oldest first.
    pub(super) history: Vec<Change>,
    /// Its lists, derived from the group's model as it stands; `None` if the model could not
    /// be read (the actor reports why when it tries again).
    pub(super) live: Option<LiveSnapshot>,
    /// The files the view cache on disk was made from, if there is a readable one.
    pub(super) cached: Option<Fingerprint>,
}

/// Opens the groups `ids` of `data` as `device`, telling the actor through `actor` as each is
/// shown and loaded. Runs on a worker thread until done.
pub(super) fn open(
    data: &DataDir,
    ids: &[GroupId],
    device: DeviceId,
    actor: &mpsc::UnboundedSender<Command>,
) {
    let mut shown = Vec::new();
    let mut cold = Vec::new();
    for &id in ids {
        match show(data, id, device) {
            Ok(snapshot) => {
                shown.push(id);
                let shown = GroupShown { id, snapshot };
                if actor.send(Command::Shown(Box::new(shown))).is_err() {
                    return;
                }
            }
            Err(err) => {
                match err {
                    ViewCacheError::Missing { .. } => {
                        tracing::debug!(group = %id.short(), %err, "opening in full");
                    }
                    _ => tracing::info!(group = %id.short(), %err, "opening in full"),
                }
                cold.push(id);
            }
        }
    }
    for id in shown.into_iter().chain(cold) {
        let loaded = GroupLoaded {
            id,
            result: load(data, id, device),
        };
        if actor.send(Command::Loaded(Box::new(loaded))).is_err() {
            return;
        }
    }
}

/// The snapshot of group `id` derived from its view cache, if that is current. What it was
/// derived from is dropped on return.
fn show(data: &DataDir, id: GroupId, device: DeviceId) -> Result<GroupSnapshot, ViewCacheError> {
    let cached = view_cache::read_current(&data.group_path(id))?;
    let me = cached.group.member_for_device(device).map(|m| m.id);
    let (_, mut snapshot) =
        LiveSnapshot::derive(&cached.group, me, &cached.history, Timestamp::now(), 0);
    snapshot.loading = true;
    Ok(snapshot)
}

/// Loads group `id`'s document and makes its model and lists, adopting the view cache's model
/// if the document holds its heads.
pub(super) fn load(data: &DataDir, id: GroupId, device: DeviceId) -> Result<LoadedGroup, String> {
    let mut group =
        Group::open(data, id, device, StorageOptions::default()).map_err(|e| e.to_string())?;
    let cached = match view_cache::read(group.path()) {
        Ok(cached) => {
            let fingerprint = cached.fingerprint;
            let view = LiveView::from_parts(cached.heads, cached.group);
            if !group.adopt_view(view) {
                tracing::info!(group = %id.short(), "the view cache is not of this document; reading it afresh");
            }
            Some(fingerprint)
        }
        Err(err) => {
            tracing::debug!(group = %id.short(), %err, "reading the document into the model");
            None
        }
    };
    // Only the newest changes are shown, so only they are read (their ops decoded).
    let history = doc::newest_history(group.doc(), ACTIVITY_SHOWN);
    // Read (or caught up) here, where the load's memory is free to reuse.
    let live = match group.view_changed() {
        Ok((model, _)) => {
            let me = model.member_for_device(device).map(|m| m.id);
            Some(LiveSnapshot::new(model, me, Timestamp::now()))
        }
        Err(_) => None,
    };
    Ok(LoadedGroup {
        group,
        history,
        live,
        cached,
    })
}
