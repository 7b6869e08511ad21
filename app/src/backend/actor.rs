//! The backend actor: owns the data dir and every open group; handles commands in batches and
//! sends the UI fresh snapshots of the groups a batch changed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use jiff::Timestamp;
use quire_store::exchange::activity::Change;
use quire_store::ops::{self, NewGroup, NewMember};
use quire_store::storage::{DataDir, StorageOptions};
use quire_store::{
    CritiqueId, DeviceId, Group, GroupId, MemberId, RuleChangeId, SubmissionId, doc,
};
use tokio::sync::mpsc;

use super::drafts::Drafts;
use super::snapshot::{derive_snapshot, member_detail, submission_detail};
use super::sync::{SYNC_MISSING, SyncStatus};
use super::{Action, BackendConfig, Command, Effect, Event, GroupListing, Repaint};

/// How often derived lists are redone even when nothing changed: claims lapse with time.
const TICK: Duration = Duration::from_secs(60);
/// How long a group's watcher waits for a change before looking again.
const WATCH_WAIT: Duration = Duration::from_millis(500);

/// Runs the backend on this thread until the UI drops its end.
pub(super) fn run(
    config: BackendConfig,
    inbox: mpsc::UnboundedReceiver<Command>,
    loopback: mpsc::UnboundedSender<Command>,
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
            groups: BTreeMap::new(),
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
    runtime.block_on(actor.run(inbox));
}

/// One open group and what the UI is looking at in it.
struct OpenGroup {
    group: Group,
    /// The document's history, oldest first, extended change by change.
    history: Vec<Change>,
    version: u64,
    dirty: bool,
    focus_submission: Option<SubmissionId>,
    focus_member: Option<MemberId>,
    /// What loading had to drop or move aside.
    warnings: Vec<String>,
}

impl OpenGroup {
    /// Records that the document moved on from `before`.
    fn changed_since(&mut self, before: &[automerge::ChangeHash]) {
        self.history
            .extend(doc::history_since(self.group.doc(), before));
        self.version += 1;
        self.dirty = true;
    }

    fn title(&mut self, id: SubmissionId) -> String {
        self.group
            .view()
            .ok()
            .and_then(|g| g.submissions.get(&id).map(|s| format!("'{}'", s.title)))
            .unwrap_or_else(|| format!("submission {}", id.short()))
    }

    fn reviewer_of(&mut self, sub: SubmissionId, critique: CritiqueId) -> String {
        self.group
            .view()
            .ok()
            .and_then(|g| {
                let reviewer = g.submissions.get(&sub)?.critiques.get(&critique)?.reviewer;
                Some(g.name_of(reviewer))
            })
            .unwrap_or_else(|| "the reviewer".to_string())
    }
}

struct Actor {
    data: DataDir,
    device: DeviceId,
    device_label: String,
    drafts: Drafts,
    groups: BTreeMap<GroupId, OpenGroup>,
    loopback: mpsc::UnboundedSender<Command>,
    events: std_mpsc::Sender<Event>,
    repaint: Repaint,
}

impl Actor {
    async fn run(mut self, mut inbox: mpsc::UnboundedReceiver<Command>) {
        self.open_all();
        self.emit(Event::Sync(SyncStatus::not_running()));
        self.flush();
        let mut tick = tokio::time::interval(TICK);
        tick.tick().await;
        loop {
            tokio::select! {
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
                }
            }
            self.flush();
        }
        tracing::debug!("backend stopped: the UI is gone");
    }

    fn emit(&self, event: Event) {
        // The UI is gone only when the app is closing.
        let _ = self.events.send(event);
    }

    fn fail(&self, message: String) {
        tracing::warn!(%message, "failed");
        self.emit(Event::Failed(message));
    }

    fn open_all(&mut self) {
        let ids = match self.data.group_ids() {
            Ok(ids) => ids,
            Err(err) => {
                self.fail(format!("cannot list the groups: {err}"));
                return;
            }
        };
        let mut failures = Vec::new();
        for id in ids {
            if let Err(err) = self.open(id) {
                failures.push((id, err));
            }
        }
        self.send_listing(failures);
    }

    fn open(&mut self, id: GroupId) -> Result<(), String> {
        let group = Group::open(&self.data, id, self.device, StorageOptions::default())
            .map_err(|err| err.to_string())?;
        self.adopt(group);
        Ok(())
    }

    /// Keeps `group` open, watches its folder, and sends its drafts.
    fn adopt(&mut self, mut group: Group) {
        let id = group.id();
        match group.storage_mut().watch() {
            Ok(watcher) => {
                let loopback = self.loopback.clone();
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
        let warnings = group.warnings().iter().map(ToString::to_string).collect();
        let history = doc::history(group.doc());
        self.emit(Event::Drafts {
            group: id,
            drafts: self.drafts.load(id),
        });
        self.groups.insert(
            id,
            OpenGroup {
                group,
                history,
                version: 0,
                dirty: true,
                focus_submission: None,
                focus_member: None,
                warnings,
            },
        );
    }

    fn send_listing(&self, failures: Vec<(GroupId, String)>) {
        let mut listing: Vec<GroupListing> = self
            .groups
            .iter()
            .map(|(id, open)| GroupListing {
                id: *id,
                name: Ok(open.group.name()),
            })
            .collect();
        listing.extend(
            failures
                .into_iter()
                .map(|(id, err)| GroupListing { id, name: Err(err) }),
        );
        self.emit(Event::Groups(listing));
    }

    /// Sends fresh snapshots of the groups that changed, and wakes the UI.
    fn flush(&mut self) {
        let now = Timestamp::now();
        let device = self.device;
        let mut sent = false;
        for open in self.groups.values_mut().filter(|g| g.dirty) {
            open.dirty = false;
            let model = match open.group.view() {
                Ok(model) => model,
                Err(err) => {
                    let _ = self.events.send(Event::Failed(err.to_string()));
                    sent = true;
                    continue;
                }
            };
            let me = model.member_for_device(device).map(|m| m.id);
            let mut snapshot = derive_snapshot(model, me, &open.history, now, open.version);
            snapshot.skipped.extend(open.warnings.iter().cloned());
            tracing::debug!(group = %model.info.name, ms = snapshot.derive_ms, "derived");
            let _ = self.events.send(Event::Snapshot(Arc::new(snapshot)));
            if let Some(detail) = open
                .focus_submission
                .and_then(|id| submission_detail(model, id, me, now))
            {
                let _ = self.events.send(Event::Submission(Arc::new(detail)));
            }
            if let Some(detail) = open
                .focus_member
                .and_then(|id| member_detail(model, id, me, now))
            {
                let _ = self.events.send(Event::Member(Arc::new(detail)));
            }
            sent = true;
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
            Command::Join { .. } | Command::Invite { .. } => self.fail(SYNC_MISSING.to_string()),
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
                (self.repaint)();
            }
            Command::Refresh(id) => {
                let Some(open) = self.groups.get_mut(&id) else {
                    return;
                };
                let before = open.group.doc().get_heads();
                match open.group.refresh() {
                    Ok(true) => open.changed_since(&before),
                    Ok(false) => {}
                    Err(err) => {
                        let name = open.group.name();
                        self.fail(format!("cannot read new changes to `{name}`: {err}"));
                    }
                }
            }
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
                self.adopt(group);
                self.send_listing(Vec::new());
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
        let before = open.group.doc().get_heads();
        let now = Timestamp::now();
        let result = perform(open, id, action, now);
        match result {
            Ok((message, effect)) => {
                if open.group.doc().get_heads() != before {
                    open.changed_since(&before);
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

/// Does `action` in `open`; returns the message and effect for the UI.
fn perform(
    open: &mut OpenGroup,
    id: GroupId,
    action: Action,
    now: Timestamp,
) -> Result<(String, Effect), quire_store::Error> {
    Ok(match action {
        Action::Profile(patch) => {
            open.group
                .act(|doc, me| ops::update_profile(doc, me, patch, now))?;
            ("saved your profile".into(), Effect::ProfileSaved(id))
        }
        Action::Submit(draft) => {
            let sub = open.group.submit(SubmissionId::random(), draft, now)?;
            (
                format!(
                    "submitted '{}' ({} words, {} critiques wanted)",
                    sub.title, sub.word_count, sub.critiques_wanted
                ),
                Effect::Submitted(id, sub.id),
            )
        }
        Action::Withdraw(sub) => {
            let title = open.title(sub);
            open.group.act(|doc, me| ops::withdraw(doc, me, sub, now))?;
            (format!("withdrew {title}"), Effect::None)
        }
        Action::Claim(sub) => {
            let title = open.title(sub);
            let place = open.group.act(|doc, me| ops::claim(doc, me, sub, now))?;
            let message = match place {
                quire_store::views::LinePosition::Holder => format!("claimed {title}"),
                quire_store::views::LinePosition::Waiting(n) => {
                    format!("claimed {title}; all slots are taken, you are number {n} in line")
                }
            };
            (message, Effect::None)
        }
        Action::Unclaim(sub) => {
            let title = open.title(sub);
            open.group.act(|doc, me| ops::unclaim(doc, me, sub, now))?;
            (format!("let go of your claim on {title}"), Effect::None)
        }
        Action::Critique { submission, body } => {
            let title = open.title(submission);
            let critique = open.group.act(|doc, me| {
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
            let who = open.reviewer_of(submission, critique);
            open.group
                .act(|doc, me| ops::rate(doc, me, submission, critique, rating, now))?;
            (format!("rated {who}'s critique {rating}/5"), Effect::None)
        }
        Action::Thank {
            submission,
            critique,
        } => {
            let who = open.reviewer_of(submission, critique);
            open.group
                .act(|doc, me| ops::thank(doc, me, submission, critique, now))?;
            (format!("thanked {who}"), Effect::None)
        }
        Action::Tip {
            submission,
            critique,
        } => {
            let who = open.reviewer_of(submission, critique);
            let amount = open
                .group
                .act(|doc, me| ops::tip(doc, me, submission, critique, now))?;
            (format!("tipped {who} {amount} credits"), Effect::None)
        }
        Action::Rules(values) => {
            open.group
                .act(|doc, me| ops::change_rules(doc, me, RuleChangeId::random(), &values, now))?;
            ("changed the rules".into(), Effect::RulesSaved(id))
        }
    })
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
