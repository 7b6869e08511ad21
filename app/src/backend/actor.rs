//! The backend actor: owns the data dir and every open group; handles commands in batches and
//! sends the UI fresh snapshots of the groups a batch changed.
//!
//! At start the opener (a worker thread, see [`super::opener`]) shows each group from its view
//! cache and loads the documents in turn; the actor keeps handling commands meanwhile, holding
//! back those that need a document still loading ([`super::open_group`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use jiff::Timestamp;
use quire_store::ops::{self, NewGroup, NewMember};
use quire_store::storage::{DataDir, StorageOptions};
use quire_store::{
    CritiqueId, DeviceId, Group, GroupId, MemberId, RuleChangeId, SubmissionId, doc,
};
use tokio::sync::{mpsc, oneshot};

use super::drafts::Drafts;
use super::notify::Notifier;
use super::open_group::{Doc, OpenGroup};
use super::opener::{self, GroupLoaded, GroupShown, LoadedGroup};
use super::personal::{Personals, announce};
use super::snapshot::{ACTIVITY_SHOWN, member_detail, submission_detail};
use super::sync::{Invitation, SYNC_MISSING, SyncState, SyncStatus};
use super::{Action, BackendConfig, Command, Effect, Event, GroupListing, Repaint, SyncOutcome};

/// How often derived lists are redone even when nothing changed: claims lapse with time.
const TICK: Duration = Duration::from_secs(60);
/// How often the sync status is read.
const SYNC_STATUS_EVERY: Duration = Duration::from_secs(2);
/// How soon after a sync event (a peer came or went, a change arrived) the status is read
/// again; events in a burst share one read.
const SYNC_STATUS_SOON: Duration = Duration::from_millis(150);
/// How long a group's watcher waits for a change before looking again.
const WATCH_WAIT: Duration = Duration::from_millis(500);
/// How long a group must have been quiet before its view cache is written again (checked every
/// [`TICK`]); writing a large group's takes about a tenth of a second.
const CACHE_QUIET: Duration = Duration::from_secs(20);

/// Runs the backend on this thread until `stop` fires (or its sender is dropped).
pub(super) fn run(
    config: BackendConfig,
    inbox: mpsc::UnboundedReceiver<Command>,
    loopback: mpsc::UnboundedSender<Command>,
    stop: oneshot::Receiver<()>,
    events: std_mpsc::Sender<Event>,
    repaint: Repaint,
) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("quire-runtime")
        .enable_all()
        .build();
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(err) => {
            let _ = events.send(Event::Failed(format!(
                "cannot start the backend runtime: {err}"
            )));
            repaint();
            return;
        }
    };
    let actor = match super::data::open(&config.data_dir) {
        Ok((data, device)) => Actor {
            drafts: Drafts::new(data.root()),
            data,
            device,
            device_label: config.device_label,
            sync_config: config.sync,
            notifier: config.notifier,
            personals: Personals::default(),
            node: None,
            sync_status: SyncStatus::not_running(),
            groups: BTreeMap::new(),
            opening: BTreeMap::new(),
            failed: BTreeMap::new(),
            loopback,
            events,
            repaint,
        },
        Err(err) => {
            let _ = events.send(Event::Failed(format!(
                "cannot open the data dir `{}`: {err:#}",
                config.data_dir.display()
            )));
            repaint();
            return;
        }
    };
    runtime.block_on(actor.run(inbox, stop));
    // A document still loading on a worker thread is of no use any more.
    runtime.shutdown_background();
}

struct Actor {
    data: DataDir,
    device: DeviceId,
    device_label: String,
    drafts: Drafts,
    sync_config: Option<quire_sync::NodeConfig>,
    /// Where notifications go, if anywhere.
    notifier: Option<Arc<dyn Notifier>>,
    /// My personal documents, by group.
    personals: Personals,
    /// The running sync node, kept alive while the backend runs.
    node: Option<quire_sync::Node>,
    sync_status: SyncStatus,
    /// Every group shown: open, or loading behind its view cache.
    groups: BTreeMap<GroupId, OpenGroup>,
    /// Groups the opener has not yet shown or loaded, with the commands sent for them
    /// meanwhile, in order.
    opening: BTreeMap<GroupId, Vec<Command>>,
    /// Groups that could not be opened, with why.
    failed: BTreeMap<GroupId, String>,
    loopback: mpsc::UnboundedSender<Command>,
    events: std_mpsc::Sender<Event>,
    repaint: Repaint,
}

impl Actor {
    async fn run(
        mut self,
        mut inbox: mpsc::UnboundedReceiver<Command>,
        mut stop: oneshot::Receiver<()>,
    ) {
        self.open_all();
        self.start_sync();
        self.emit(Event::Sync(self.sync_status.clone()));
        self.flush();
        let mut tick = tokio::time::interval(TICK);
        tick.tick().await;
        let mut stopping = false;
        loop {
            tokio::select! {
                biased;
                command = inbox.recv() => {
                    let Some(command) = command else { break };
                    self.handle(command);
                    // Take everything already waiting, so a burst costs one derivation.
                    while let Ok(command) = inbox.try_recv() {
                        self.handle(command);
                    }
                }
                _ = tick.tick() => {
                    for open in self.groups.values_mut() {
                        open.dirty = true;
                    }
                    self.flush();
                    self.save_caches(Some(CACHE_QUIET));
                    continue;
                }
                _ = &mut stop, if !stopping => {
                    // What the UI sent before it stopped us is still done (drafts saved at
                    // exit, say).
                    stopping = true;
                    while let Ok(command) = inbox.try_recv() {
                        self.handle(command);
                    }
                }
            }
            self.flush();
            self.save_caches(None);
            // Actions waiting for a document still loading are not dropped: the load is
            // awaited (the UI waits for us up to `SHUTDOWN_WAIT`).
            if stopping && !self.actions_waiting() {
                break;
            }
        }
        tracing::debug!("backend stopping: the UI is gone");
        self.save_caches(Some(Duration::ZERO));
        if let Some(node) = self.node.take() {
            node.shutdown().await;
        }
    }

    /// Whether some action waits for a document still loading.
    fn actions_waiting(&self) -> bool {
        self.opening.values().any(|early| !early.is_empty())
            || self.groups.values().any(
                |open| matches!(&open.doc, Doc::Loading { waiting, .. } if !waiting.is_empty()),
            )
    }

    /// Writes the view cache of each open group that needs one: just loaded without a current
    /// cache, or (with `quiet`) quiet for that long while its cache no longer matches what is
    /// loaded. A failure costs the next start some time, nothing else: it is logged.
    fn save_caches(&mut self, quiet: Option<Duration>) {
        for (id, open) in &mut self.groups {
            let quiet = match (std::mem::take(&mut open.cache_due), quiet) {
                (true, _) => Duration::ZERO,
                (false, Some(quiet)) => quiet,
                (false, None) => continue,
            };
            if let Err(err) = open.save_cache(quiet) {
                tracing::warn!(group = %id.short(), %err, "cannot write the view cache");
            }
        }
    }

    fn sync_handle(&self) -> Option<quire_sync::NodeHandle> {
        self.node.as_ref().map(quire_sync::Node::handle)
    }

    /// Starts the sync node on the runtime; it reports back as [`SyncOutcome::Started`].
    fn start_sync(&mut self) {
        let Some(config) = self.sync_config.clone() else {
            return;
        };
        self.sync_status = SyncStatus {
            state: SyncState::Starting,
            peers: Vec::new(),
            refused: Vec::new(),
        };
        let loopback = self.loopback.clone();
        tokio::spawn(async move {
            let started = if quire_sync::node_running(&config.data_dir) {
                Err("another Quire process (quire serve?) syncs this data dir".to_string())
            } else {
                quire_sync::Node::spawn(config)
                    .await
                    .map_err(|err| err.to_string())
            };
            let _ = loopback.send(Command::SyncDone(SyncOutcome::Started(started)));
        });
    }

    fn sync_done(&mut self, outcome: SyncOutcome) {
        match outcome {
            SyncOutcome::Started(Ok(node)) => {
                let handle = node.handle();
                self.node = Some(node);
                // A group created while the node was starting may have been missed by it.
                for id in self.groups.keys() {
                    if let Err(err) = handle.open_group(*id) {
                        tracing::warn!(group = %id.short(), %err, "a group does not sync");
                    }
                }
                self.sync_status = SyncStatus {
                    state: SyncState::Online,
                    peers: Vec::new(),
                    refused: Vec::new(),
                };
                self.emit(Event::Sync(self.sync_status.clone()));
                tokio::spawn(watch_node(handle, self.loopback.clone()));
            }
            SyncOutcome::Started(Err(why)) => {
                self.sync_status = SyncStatus {
                    state: SyncState::Offline(why),
                    peers: Vec::new(),
                    refused: Vec::new(),
                };
                self.emit(Event::Sync(self.sync_status.clone()));
            }
            SyncOutcome::Status(status) => {
                if status != self.sync_status {
                    self.sync_status = status.clone();
                    self.emit(Event::Sync(status));
                }
            }
            SyncOutcome::Joined(Ok(joined)) => {
                let id = joined.group;
                if !self.groups.contains_key(&id)
                    && let Err(err) = self.open(id)
                {
                    self.fail(format!(
                        "joined `{}`, but cannot open it: {err}",
                        joined.name
                    ));
                    return;
                }
                self.send_listing();
                self.emit(Event::Done {
                    message: format!("joined `{}` as {}", joined.name, joined.display_name),
                    effect: Effect::Joined(id),
                });
            }
            SyncOutcome::Joined(Err(err)) => self.fail(format!("cannot join: {err}")),
            SyncOutcome::Invited(Ok(invitation)) => {
                let message = match invitation.kind {
                    quire_sync::TicketKind::Member => {
                        "made an invite; send the ticket to the person you invite"
                    }
                    quire_sync::TicketKind::Device => {
                        "made a device ticket; paste it into Quire on your other device"
                    }
                };
                self.emit(Event::Done {
                    message: message.into(),
                    effect: Effect::Invited(invitation),
                });
            }
            SyncOutcome::Invited(Err(err)) => self.fail(format!("cannot make an invite: {err}")),
        }
    }

    fn join(&mut self, ticket: String, display_name: Option<String>) {
        let Some(handle) = self.sync_handle() else {
            self.fail(SYNC_MISSING.to_string());
            return;
        };
        let ticket = match ticket.parse::<quire_sync::Ticket>() {
            Ok(ticket) => ticket,
            Err(err) => {
                self.fail(format!("that is not an invite ticket: {err}"));
                return;
            }
        };
        let (loopback, label) = (self.loopback.clone(), self.device_label.clone());
        tokio::spawn(async move {
            let joined = handle
                .join(&ticket, display_name, label)
                .await
                .map_err(|err| err.to_string());
            let _ = loopback.send(Command::SyncDone(SyncOutcome::Joined(joined)));
        });
    }

    fn invite(&mut self, group: GroupId, options: quire_sync::InviteOptions) {
        let Some(handle) = self.sync_handle() else {
            self.fail(SYNC_MISSING.to_string());
            return;
        };
        if let Err(err) = handle.open_group(group) {
            self.fail(format!("cannot make an invite: {err}"));
            return;
        }
        let loopback = self.loopback.clone();
        tokio::spawn(async move {
            let invitation = handle
                .invite(group, options)
                .await
                .map(|ticket| Invitation::of_ticket(&ticket, options.max_uses))
                .map_err(|err| err.to_string());
            let _ = loopback.send(Command::SyncDone(SyncOutcome::Invited(invitation)));
        });
    }

    /// Sends `event` to the UI and wakes it (egui folds the wake-ups of one batch into one
    /// frame).
    fn emit(&self, event: Event) {
        // The UI is gone only when the app is closing.
        let _ = self.events.send(event);
        (self.repaint)();
    }

    fn fail(&self, message: String) {
        tracing::warn!(%message, "failed");
        self.emit(Event::Failed(message));
    }

    /// Has the opener show every group of the data dir (at once from its view cache, where
    /// that is current) and load their documents in turn, on a worker thread.
    fn open_all(&mut self) {
        let ids = match self.data.group_ids() {
            Ok(ids) => ids,
            Err(err) => {
                self.fail(format!("cannot list the groups: {err}"));
                return;
            }
        };
        if ids.is_empty() {
            self.send_listing();
            return;
        }
        self.opening.extend(ids.iter().map(|id| (*id, Vec::new())));
        let (data, device, loopback) = (self.data.clone(), self.device, self.loopback.clone());
        tokio::task::spawn_blocking(move || opener::open(&data, &ids, device, &loopback));
    }

    /// A group is shown from its view cache while its document loads.
    fn shown(&mut self, shown: GroupShown) {
        let GroupShown { id, snapshot } = shown;
        if self.groups.contains_key(&id) {
            return;
        }
        let early = self.opening.remove(&id).unwrap_or_default();
        self.groups.insert(id, OpenGroup::shown(&snapshot));
        self.emit(Event::Drafts {
            group: id,
            drafts: self.drafts.load(id),
        });
        self.emit(Event::Snapshot(Arc::new(snapshot)));
        self.send_listing_unless_waiting();
        for command in early {
            self.handle(command);
        }
    }

    /// A group's document finished loading: the group opens (in place of its view cache's
    /// snapshot, if it was shown from one) and the commands that waited for it run.
    fn loaded(&mut self, loaded: GroupLoaded) {
        let GroupLoaded { id, result } = loaded;
        let early = self.opening.remove(&id).unwrap_or_default();
        match result {
            Ok(loaded) => {
                let waiting = match self.groups.get_mut(&id) {
                    Some(open) => {
                        let waiting = open.loaded(loaded);
                        if let Some(group) = open.group_mut() {
                            Self::watch_with(&self.loopback, group);
                        }
                        waiting
                    }
                    None => {
                        self.adopt(loaded);
                        early
                    }
                };
                self.send_listing_unless_waiting();
                // What another process wrote since the load read the files, before the watcher
                // was there to say.
                self.handle(Command::Refresh(id));
                for command in waiting {
                    self.handle(command);
                }
            }
            Err(err) => {
                let shown = self.groups.remove(&id);
                let name = shown.as_ref().map_or_else(|| id.short(), OpenGroup::name);
                self.fail(format!("cannot open `{name}`: {err}"));
                self.failed.insert(id, err);
                self.send_listing_unless_waiting();
            }
        }
    }

    /// Sends the listing, unless it would be empty while the opener still has groups to
    /// open: the UI would take that for a data dir with no groups.
    fn send_listing_unless_waiting(&self) {
        if !self.groups.is_empty() || !self.failed.is_empty() || self.opening.is_empty() {
            self.send_listing();
        }
    }

    /// Opens group `id` at once (one just joined).
    fn open(&mut self, id: GroupId) -> Result<(), String> {
        let loaded = opener::load(&self.data, id, self.device)?;
        self.adopt(loaded);
        Ok(())
    }

    /// Keeps `loaded` open, watches its folder, and sends its drafts.
    fn adopt(&mut self, loaded: LoadedGroup) {
        let id = loaded.group.id();
        Self::watch_with(&self.loopback, &loaded.group);
        self.emit(Event::Drafts {
            group: id,
            drafts: self.drafts.load(id),
        });
        self.failed.remove(&id);
        self.groups.insert(id, OpenGroup::opened(loaded));
    }

    /// Watches `group`'s folder for changes from other processes, on a thread of its own.
    fn watch_with(loopback: &mpsc::UnboundedSender<Command>, group: &Group) {
        let id = group.id();
        match group.storage().watch() {
            Ok(watcher) => {
                let loopback = loopback.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("quire-watch-{}", id.short()))
                    .spawn(move || {
                        while !loopback.is_closed() {
                            if watcher.wait(WATCH_WAIT)
                                && loopback.send(Command::Refresh(id)).is_err()
                            {
                                break;
                            }
                        }
                    });
                if let Err(err) = spawned {
                    tracing::warn!(%err, "cannot watch a group; changes from other processes show after a restart");
                }
            }
            Err(err) => tracing::warn!(%err, "cannot watch a group"),
        }
    }

    /// Sends the UI the groups shown and those that could not be opened.
    fn send_listing(&self) {
        let mut listing: Vec<GroupListing> = self
            .groups
            .iter()
            .map(|(id, open)| GroupListing {
                id: *id,
                name: Ok(open.name()),
            })
            .collect();
        listing.extend(self.failed.iter().map(|(id, err)| GroupListing {
            id: *id,
            name: Err(err.clone()),
        }));
        self.emit(Event::Groups(listing));
    }

    /// Sends fresh snapshots of the groups that changed, and wakes the UI.
    fn flush(&mut self) {
        let now = Timestamp::now();
        let device = self.device;
        let mut sent = false;
        for open in self.groups.values_mut().filter(|g| g.dirty) {
            open.dirty = false;
            let snapshot = match open.snapshot(device, now) {
                None => continue,
                Some(Ok(snapshot)) => snapshot,
                Some(Err(err)) => {
                    let _ = self.events.send(Event::Failed(err.to_string()));
                    sent = true;
                    continue;
                }
            };
            sent = true;
            tracing::debug!(group = %snapshot.name, ms = snapshot.derive_ms, "derived");
            let mut snapshot = snapshot;
            let me = snapshot.me;
            let (focus_submission, focus_member) = (open.focus_submission, open.focus_member);
            let invites = match (open.group_mut(), me) {
                (Some(group), Some(me)) => invites_by(group, me),
                _ => Vec::new(),
            };
            let Some(Ok(model)) = open.model() else {
                let _ = self.events.send(Event::Snapshot(Arc::new(snapshot)));
                continue;
            };
            snapshot.invite_uses = invite_uses(model, invites);
            if let Some(me) = me {
                match self.personals.doc(&self.data, device, snapshot.id, me) {
                    Ok(doc) => {
                        let personal = doc.read();
                        snapshot.inbox =
                            Arc::new(quire_store::inbox::inbox(model, me, &personal, now));
                        snapshot.notifications = personal.notifications;
                        let news = self.personals.news(snapshot.id, &snapshot.inbox);
                        if let Some(notifier) = &self.notifier
                            && personal.notifications
                            && !news.is_empty()
                        {
                            let loopback = self.loopback.clone();
                            let clicked = move |group, submission| {
                                let _ = loopback.send(Command::NoticeClicked { group, submission });
                            };
                            announce(
                                notifier.as_ref(),
                                snapshot.id,
                                &snapshot.name,
                                &news,
                                clicked,
                            );
                        }
                    }
                    Err(err) => {
                        let _ = self.events.send(Event::Failed(format!(
                            "cannot open your read marks for `{}`: {err}",
                            snapshot.name
                        )));
                    }
                }
            }
            let _ = self.events.send(Event::Snapshot(Arc::new(snapshot)));
            if let Some(detail) =
                focus_submission.and_then(|id| submission_detail(model, id, me, now))
            {
                let _ = self.events.send(Event::Submission(Arc::new(detail)));
            }
            if let Some(detail) = focus_member.and_then(|id| member_detail(model, id, me, now)) {
                let _ = self.events.send(Event::Member(Arc::new(detail)));
            }
        }
        if sent {
            (self.repaint)();
        }
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::CreateGroup {
                name,
                description,
                me,
            } => self.create(name, description, me),
            Command::Join {
                ticket,
                display_name,
            } => self.join(ticket, display_name),
            Command::Invite { group, options } => self.invite(group, options),
            Command::SyncDone(outcome) => self.sync_done(outcome),
            Command::Act { group, .. } | Command::Focus { group, .. }
                if self.opening.contains_key(&group) =>
            {
                // Before the group is shown: it waits for the group.
                if let Some(early) = self.opening.get_mut(&group) {
                    early.push(command);
                }
            }
            Command::Act { group, action } => self.act(group, action),
            Command::Focus {
                group,
                submission,
                member,
            } => {
                if let Some(open) = self.groups.get_mut(&group) {
                    open.focus_submission = submission;
                    open.focus_member = member;
                    open.dirty |= submission.is_some() || member.is_some();
                }
                if let Some(sub) = submission {
                    self.mark_opened(group, sub);
                }
            }
            Command::SaveDraft {
                group,
                submission,
                body,
            } => {
                if let Err(err) = self.drafts.save(group, submission, &body) {
                    self.fail(format!(
                        "cannot save the draft for submission {}: {err}",
                        submission.short()
                    ));
                }
            }
            Command::ReadFile { path } => {
                let result = read_text(&path);
                self.emit(Event::FileRead { path, result });
            }
            Command::Refresh(id) => {
                // A group still loading reads everything on disk anyway.
                let Some(open) = self.groups.get_mut(&id) else {
                    return;
                };
                let Some(group) = open.group_mut() else {
                    return;
                };
                let before = group.doc().get_heads();
                match group.refresh() {
                    Ok(true) => open.changed_since(&before),
                    Ok(false) => {}
                    Err(err) => {
                        let name = open.name();
                        self.fail(format!("cannot read new changes to `{name}`: {err}"));
                    }
                }
            }
            Command::ReadQr { path } => {
                let read = super::qr_picture::ticket_from_picture(&path);
                self.emit(Event::QrRead(read));
            }
            Command::MarkRead { group, items } => self.mark_read(group, items),
            Command::SetNotifications { group, on } => self.set_notifications(group, on),
            Command::RefreshPersonal(group) => match self.personals.refresh(group) {
                Ok(true) => {
                    if let Some(open) = self.groups.get_mut(&group) {
                        open.dirty = true;
                    }
                }
                Ok(false) => {}
                Err(err) => self.fail(format!("cannot read your read marks: {err}")),
            },
            Command::NoticeClicked { group, submission } => {
                self.emit(Event::Open { group, submission });
            }
            Command::Shown(shown) => self.shown(*shown),
            Command::Loaded(loaded) => self.loaded(*loaded),
        }
    }

    /// Marks read what opening piece `sub` shows me.
    fn mark_opened(&mut self, group: GroupId, sub: SubmissionId) {
        let Some(open) = self.groups.get_mut(&group) else {
            return;
        };
        let device = self.device;
        let Some(Ok(model)) = open.model() else {
            return;
        };
        let Some(me) = model.member_for_device(device).map(|m| m.id) else {
            return;
        };
        let Some(piece) = model.submissions.get(&sub) else {
            return;
        };
        let keys = quire_store::inbox::opened_keys(piece, me);
        self.mark_read(group, keys);
    }

    /// Marks `items` read in my personal document in `group`.
    fn mark_read(&mut self, group: GroupId, items: Vec<String>) {
        self.edit_personal(group, |doc| {
            doc.mark_read(items.iter().map(String::as_str), Timestamp::now())
                .map(|n| n > 0)
        });
    }

    fn set_notifications(&mut self, group: GroupId, on: bool) {
        self.edit_personal(group, |doc| doc.set_notifications(on));
    }

    /// Runs `f` on my personal document in `group`; when it says it changed something, the
    /// sync node is told at once (it sends the change to my other devices) and the group's
    /// snapshot redone.
    fn edit_personal(
        &mut self,
        group: GroupId,
        f: impl FnOnce(&mut quire_store::personal::PersonalDoc) -> Result<bool, quire_store::Error>,
    ) {
        let device = self.device;
        let Some(open) = self.groups.get_mut(&group) else {
            return;
        };
        let Some(Ok(model)) = open.model() else {
            return;
        };
        let Some(me) = model.member_for_device(device).map(|m| m.id) else {
            return;
        };
        let changed = self
            .personals
            .doc(&self.data, device, group, me)
            .and_then(f);
        match changed {
            Ok(true) => {
                open.dirty = true;
                if let Some(node) = &self.node {
                    node.handle().local_change(group);
                }
            }
            Ok(false) => {}
            Err(err) => self.fail(format!("cannot save your read marks: {err}")),
        }
    }

    fn create(&mut self, name: String, description: String, me: String) {
        let new = NewGroup {
            id: GroupId::random(),
            name,
            description,
            rules: Default::default(),
            founder: NewMember {
                id: MemberId::random(),
                display_name: me,
                device: self.device,
                device_label: self.device_label.clone(),
            },
        };
        match Group::create(&self.data, new, StorageOptions::default(), Timestamp::now()) {
            Ok(group) => {
                let (id, name) = (group.id(), group.name());
                let history = doc::newest_history(group.doc(), ACTIVITY_SHOWN);
                self.adopt(LoadedGroup {
                    group,
                    history,
                    live: None,
                    cached: None,
                });
                if let Some(handle) = self.sync_handle()
                    && let Err(err) = handle.open_group(id)
                {
                    tracing::warn!(%err, "the new group does not sync yet");
                }
                self.send_listing();
                self.emit(Event::Done {
                    message: format!("created the group `{name}`"),
                    effect: Effect::GroupOpened(id),
                });
            }
            Err(err) => self.fail(format!("cannot create the group: {err}")),
        }
    }

    fn act(&mut self, id: GroupId, action: Action) {
        let Some(open) = self.groups.get_mut(&id) else {
            self.fail(format!("no open group `{}`", id.short()));
            return;
        };
        let group = match &mut open.doc {
            Doc::Loading { waiting, .. } => {
                waiting.push(Command::Act { group: id, action });
                return;
            }
            Doc::Open(group) => group,
        };
        let before = group.doc().get_heads();
        let now = Timestamp::now();
        let result = perform(group, id, action, now);
        match result {
            Ok((message, effect)) => {
                if group.doc().get_heads() != before {
                    open.changed_since(&before);
                    if let Some(node) = &self.node {
                        node.handle().local_change(id);
                    }
                }
                if let Effect::Critiqued(group, sub) = effect
                    && let Err(err) = self.drafts.save(group, sub, "")
                {
                    tracing::warn!(%err, "cannot remove a delivered draft");
                }
                self.emit(Event::Done { message, effect });
            }
            Err(err) => self.fail(err.to_string()),
        }
    }
}

/// Does `action` in `group`; returns the message and effect for the UI.
fn perform(
    group: &mut Group,
    id: GroupId,
    action: Action,
    now: Timestamp,
) -> Result<(String, Effect), quire_store::Error> {
    Ok(match action {
        Action::Profile(patch) => {
            group.act(|doc, me| ops::update_profile(doc, me, patch, now))?;
            ("saved your profile".into(), Effect::ProfileSaved(id))
        }
        Action::Submit(draft) => {
            let sub = group.submit(SubmissionId::random(), draft, now)?;
            (
                format!(
                    "submitted '{}' ({} words, {} critiques wanted)",
                    sub.title, sub.word_count, sub.critiques_wanted
                ),
                Effect::Submitted(id, sub.id),
            )
        }
        Action::Withdraw(sub) => {
            let title = title(group, sub);
            group.act(|doc, me| ops::withdraw(doc, me, sub, now))?;
            (format!("withdrew {title}"), Effect::None)
        }
        Action::Claim(sub) => {
            let title = title(group, sub);
            let place = group.act(|doc, me| ops::claim(doc, me, sub, now))?;
            let message = match place {
                quire_store::views::LinePosition::Holder => format!("claimed {title}"),
                quire_store::views::LinePosition::Waiting(n) => {
                    format!("claimed {title}; all slots are taken, you are number {n} in line")
                }
            };
            (message, Effect::None)
        }
        Action::Unclaim(sub) => {
            let title = title(group, sub);
            group.act(|doc, me| ops::unclaim(doc, me, sub, now))?;
            (format!("let go of your claim on {title}"), Effect::None)
        }
        Action::Critique { submission, body } => {
            let title = title(group, submission);
            let critique = group.act(|doc, me| {
                ops::critique(doc, me, submission, CritiqueId::random(), &body, now)
            })?;
            (
                format!(
                    "delivered your critique of {title} ({} words)",
                    critique.word_count
                ),
                Effect::Critiqued(id, submission),
            )
        }
        Action::Rate {
            submission,
            critique,
            rating,
        } => {
            let who = reviewer_of(group, submission, critique);
            group.act(|doc, me| ops::rate(doc, me, submission, critique, rating, now))?;
            (format!("rated {who}'s critique {rating}/5"), Effect::None)
        }
        Action::Thank {
            submission,
            critique,
        } => {
            let who = reviewer_of(group, submission, critique);
            group.act(|doc, me| ops::thank(doc, me, submission, critique, now))?;
            (format!("thanked {who}"), Effect::None)
        }
        Action::Tip {
            submission,
            critique,
        } => {
            let who = reviewer_of(group, submission, critique);
            let amount = group.act(|doc, me| ops::tip(doc, me, submission, critique, now))?;
            (format!("tipped {who} {amount} credits"), Effect::None)
        }
        Action::Rules(values) => {
            group
                .act(|doc, me| ops::change_rules(doc, me, RuleChangeId::random(), &values, now))?;
            ("changed the rules".into(), Effect::RulesSaved(id))
        }
    })
}

/// A piece's title for a message: `'The Mill'`, or its short id.
/// The invites `me` made in `group`, with the devices that used each.
fn invites_by(group: &Group, me: MemberId) -> Vec<(quire_store::InviteHash, Vec<DeviceId>)> {
    let mut skipped = Vec::new();
    let invites = doc::read_invites(group.doc(), &mut skipped).unwrap_or_default();
    invites
        .into_values()
        .filter(|i| i.created_by == me && !i.uses.is_empty())
        .map(|i| (i.hash, i.uses.into_keys().collect()))
        .collect()
}

/// Who used each invite: the member's name, with the device's label for another device of an
/// existing member.
fn invite_uses(
    model: &quire_store::model::Group,
    invites: Vec<(quire_store::InviteHash, Vec<DeviceId>)>,
) -> BTreeMap<quire_store::InviteHash, Vec<String>> {
    invites
        .into_iter()
        .map(|(hash, devices)| {
            let names = devices
                .into_iter()
                .map(|d| {
                    let member = model.members.values().find(|m| m.devices.contains_key(&d));
                    match member {
                        Some(m) => {
                            let label = &m.devices[&d].label;
                            format!("{} ({label})", m.profile.display_name)
                        }
                        None => format!("device {}", d.short()),
                    }
                })
                .collect();
            (hash, names)
        })
        .collect()
}

fn title(group: &mut Group, id: SubmissionId) -> String {
    group
        .view()
        .ok()
        .and_then(|g| g.submissions.get(&id).map(|s| format!("'{}'", s.title)))
        .unwrap_or_else(|| format!("submission {}", id.short()))
}

/// The name of whoever wrote critique `critique` of `sub`, for a message.
fn reviewer_of(group: &mut Group, sub: SubmissionId, critique: CritiqueId) -> String {
    group
        .view()
        .ok()
        .and_then(|g| {
            let reviewer = g.submissions.get(&sub)?.critiques.get(&critique)?.reviewer;
            Some(g.name_of(reviewer))
        })
        .unwrap_or_else(|| "the reviewer".to_string())
}

/// Reads a text file for the submit form, refusing what the store would refuse.
fn read_text(path: &std::path::Path) -> Result<String, String> {
    let shown = path.display();
    let size = std::fs::metadata(path)
        .map_err(|err| format!("cannot read `{shown}`: {err}"))?
        .len();
    if size > ops::MAX_LONG_TEXT as u64 {
        return Err(format!(
            "`{shown}` is {size} bytes; a piece may be at most {} bytes",
            ops::MAX_LONG_TEXT
        ));
    }
    let bytes = std::fs::read(path).map_err(|err| format!("cannot read `{shown}`: {err}"))?;
    String::from_utf8(bytes).map_err(|_| format!("`{shown}` is not UTF-8 text"))
}

/// Follows the node for the actor: reads its status every couple of seconds and soon after
/// each event, and has every group a peer changed read again at once (which repaints).
async fn watch_node(handle: quire_sync::NodeHandle, loopback: mpsc::UnboundedSender<Command>) {
    use quire_sync::SyncEvent;
    use tokio::sync::broadcast::error::RecvError;

    let mut events = handle.subscribe();
    let mut every = tokio::time::interval(SYNC_STATUS_EVERY);
    let mut soon = false;
    loop {
        let command = tokio::select! {
            _ = every.tick() => {
                soon = false;
                let status = SyncStatus::of_node(&handle.status().await);
                Command::SyncDone(SyncOutcome::Status(status))
            }
            event = events.recv() => {
                let refresh = match event {
                    Ok(SyncEvent::DocumentChanged { group, from_peer: true, .. }) => {
                        Some(Command::Refresh(group))
                    }
                    Ok(SyncEvent::PersonalChanged { group, from_peer: true }) => {
                        Some(Command::RefreshPersonal(group))
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => None,
                    Err(RecvError::Closed) => break,
                };
                if !soon {
                    soon = true;
                    every.reset_after(SYNC_STATUS_SOON);
                }
                match refresh {
                    Some(command) => command,
                    None => continue,
                }
            }
        };
        if loopback.send(command).is_err() {
            break;
        }
    }
}
