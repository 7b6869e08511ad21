//! The desktop client: an egui app over the [`crate::backend`].
//!
//! Each frame the app drains the backend's events, then draws the open view from the latest
//! [`GroupSnapshot`] of the current group. Lists are virtualized (only the rows on screen are
//! laid out) and their filtered orders are cached until the snapshot or the filter changes, so
//! a frame costs the same with ten pieces or a hundred thousand.
//!
//! What is remembered between runs ([`UiState`]: the open view, the group, filters, the submit
//! form) is kept apart from runtime handles (the backend, snapshots); eframe persists it and
//! the window size in the data dir.

mod confirm;
mod first_run;
mod for_you;
mod invite;
pub mod launch;
mod lists;
mod member;
mod pages;
mod qr;
mod sorting;
mod state;
mod submission;
pub mod widgets;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use egui::{Key, KeyboardShortcut, Modifiers, RichText};
use quire_store::{GroupId, MemberId, SubmissionId};
use quire_sync::TicketKind;

use crate::backend::{
    Backend, BackendConfig, Command, Effect, Event, GroupListing, GroupSnapshot, Invitation,
    MemberDetail, SubmissionDetail, SyncStatus,
};
pub use state::{UiState, View};

/// A submission "id" meaning: the piece I hold a claim on (or the first in the queue).
pub const CLAIMED: &str = "claimed";
/// A member "id" meaning: another member with the longest history.
pub const SOMEONE: &str = "someone";

/// Seconds of quiet after typing before a draft is written to disk.
const DRAFT_SAVE_AFTER: f64 = 0.8;

/// The narrowest top bar (in points, so zoom counts) that holds the group, the views and my
/// account in one row.
const WIDE_TOP_BAR: f32 = 1060.0;

/// A critique in progress.
#[derive(Debug, Clone, Default)]
struct Draft {
    body: String,
    /// What is on disk.
    saved: String,
    edited_at: f64,
}

/// The one line under the window: what just happened, or what went wrong.
#[derive(Debug, Clone)]
enum Notice {
    Done(String, f64),
    Error(String),
}

/// The app.
#[derive(Debug)]
pub struct QuireApp {
    backend: Backend,
    /// Remembered between runs.
    pub state: UiState,
    groups: Vec<GroupListing>,
    snapshots: BTreeMap<GroupId, Arc<GroupSnapshot>>,
    submission: Option<Arc<SubmissionDetail>>,
    member: Option<Arc<MemberDetail>>,
    drafts: BTreeMap<(GroupId, SubmissionId), Draft>,
    notice: Option<Notice>,
    sync: SyncStatus,
    show_peers: bool,
    /// Bring the window forward on the next frame (a notification was clicked).
    raise: bool,
    invite: invite::InviteDialog,
    /// Open the invite dialog with a fresh member ticket once sync runs (screenshots).
    invite_when_online: bool,
    /// The focus last told to the backend.
    focus_sent: Option<(GroupId, Option<SubmissionId>, Option<MemberId>)>,
    /// Whether the backend has listed the groups yet.
    loaded: bool,
    lists: lists::Lists,
    forms: pages::Forms,
    first_run: first_run::FirstRun,
    back: Vec<View>,
    /// An action waiting for its confirmation.
    confirm: Option<confirm::Pending>,
}

impl QuireApp {
    /// The app over a backend on `data_dir`; `repaint` wakes the UI when the backend has news.
    pub fn new(data_dir: PathBuf, state: UiState, repaint: crate::backend::Repaint) -> Self {
        Self::with_sync(data_dir, None, state, repaint)
    }

    /// The app with peer-to-peer sync run by `sync` (`None`: no sync).
    pub fn with_sync(
        data_dir: PathBuf,
        sync: Option<quire_sync::NodeConfig>,
        state: UiState,
        repaint: crate::backend::Repaint,
    ) -> Self {
        let config = BackendConfig {
            data_dir,
            device_label: crate::backend::data::host_label(),
            sync,
            notifier: Some(Arc::new(crate::backend::notify::Desktop)),
        };
        Self::with_backend(config, state, repaint)
    }

    /// The app over a backend configured in full: tests run two on loopback sync nodes, each
    /// device with its own label.
    pub fn with_backend(
        config: BackendConfig,
        state: UiState,
        repaint: crate::backend::Repaint,
    ) -> Self {
        Self {
            backend: Backend::spawn(config, repaint),
            state,
            groups: Vec::new(),
            snapshots: BTreeMap::new(),
            submission: None,
            member: None,
            drafts: BTreeMap::new(),
            notice: None,
            sync: SyncStatus::not_running(),
            show_peers: false,
            raise: false,
            invite: Default::default(),
            invite_when_online: false,
            focus_sent: None,
            loaded: false,
            lists: Default::default(),
            forms: Default::default(),
            first_run: Default::default(),
            back: Vec::new(),
            confirm: None,
        }
    }

    /// The snapshot of the current group.
    pub fn current(&self) -> Option<&Arc<GroupSnapshot>> {
        self.state.group.and_then(|id| self.snapshots.get(&id))
    }

    /// The last error shown, if any.
    pub fn error(&self) -> Option<&str> {
        match &self.notice {
            Some(Notice::Error(e)) => Some(e),
            _ => None,
        }
    }

    /// Shows `snapshot` as if the backend had sent it, and makes its group current: for the
    /// frame benchmark, which draws groups too large to build on disk each run.
    pub fn show_snapshot(&mut self, snapshot: Arc<GroupSnapshot>) {
        let id = snapshot.id;
        if !self.groups.iter().any(|g| g.id == id) {
            self.groups.push(GroupListing {
                id,
                name: Ok(snapshot.name.clone()),
            });
        }
        self.loaded = true;
        self.state.group = Some(id);
        self.snapshots.insert(id, snapshot);
    }

    /// The line in the status bar: what just happened or what went wrong.
    pub fn notice(&self) -> Option<&str> {
        match &self.notice {
            Some(Notice::Error(m) | Notice::Done(m, _)) => Some(m),
            None => None,
        }
    }

    /// The sync status the status bar and the peers panel show.
    pub fn sync_status(&self) -> &SyncStatus {
        &self.sync
    }

    /// The invite the invite dialog shows, if any.
    pub fn invitation(&self) -> Option<&Invitation> {
        self.invite.invitation()
    }

    /// Opens the invite dialog on a fresh member ticket as soon as sync runs, as if the user
    /// had asked for one: for the screenshot of the dialog.
    pub fn invite_when_online(&mut self) {
        self.invite_when_online = true;
    }

    /// Whether the backend has reported the groups of the data dir.
    pub fn is_loaded(&self) -> bool {
        self.loaded
    }

    fn send(&self, command: Command) {
        self.backend.send(command);
    }

    /// Opens `view`, remembering where we were for Back.
    fn go(&mut self, view: View) {
        if self.state.view != view {
            let from = std::mem::replace(&mut self.state.view, view);
            if matches!(self.state.view, View::Submission(_) | View::Member(_)) {
                self.back.push(from);
                self.back.truncate(50);
            } else {
                self.back.clear();
            }
        }
    }

    fn go_back(&mut self) {
        let to = self.back.pop().unwrap_or(View::Queue);
        self.state.view = to;
    }

    /// What runs even while the window is hidden: the backend's news is taken in, drafts are
    /// saved, and a clicked notification brings the window forward.
    pub fn logic(&mut self, ctx: &egui::Context) {
        let now = ctx.input(|i| i.time);
        self.drain_events(now);
        self.save_drafts(now, false);
        if std::mem::take(&mut self.raise) {
            ctx.send_viewport_cmd(egui::ViewportCommand::Minimized(false));
            ctx.send_viewport_cmd(egui::ViewportCommand::Visible(true));
            ctx.send_viewport_cmd(egui::ViewportCommand::Focus);
        }
    }

    fn drain_events(&mut self, now: f64) {
        for event in self.backend.poll() {
            match event {
                Event::Groups(list) => {
                    self.loaded = true;
                    self.groups = list;
                    let known = |id: GroupId| self.groups.iter().any(|g| g.id == id);
                    if self.state.group.is_none_or(|g| !known(g)) {
                        self.state.group =
                            self.groups.iter().find(|g| g.name.is_ok()).map(|g| g.id);
                    }
                }
                Event::Snapshot(snapshot) => {
                    self.snapshots.insert(snapshot.id, snapshot);
                }
                Event::Submission(detail) => self.submission = Some(detail),
                Event::Member(detail) => self.member = Some(detail),
                Event::Drafts { group, drafts } => {
                    for (sub, body) in drafts {
                        self.drafts.entry((group, sub)).or_insert(Draft {
                            saved: body.clone(),
                            body,
                            edited_at: 0.0,
                        });
                    }
                }
                Event::FileRead { path, result } => match result {
                    Ok(text) => {
                        self.state.submit.text = text;
                        if self.state.submit.title.trim().is_empty()
                            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
                        {
                            self.state.submit.title = stem.replace(['_', '-'], " ");
                        }
                        self.notice =
                            Some(Notice::Done(format!("loaded `{}`", path.display()), now));
                    }
                    Err(err) => self.notice = Some(Notice::Error(err)),
                },
                Event::Done { message, effect } => {
                    self.notice = Some(Notice::Done(message, now));
                    self.apply(effect);
                }
                Event::Failed(message) => {
                    self.invite.failed();
                    self.first_run.failed();
                    self.notice = Some(Notice::Error(message));
                }
                Event::Sync(status) => self.sync = status,
                Event::QrRead(result) => match result {
                    Ok(ticket) => {
                        self.first_run.ticket_read(ticket);
                        self.notice =
                            Some(Notice::Done("read the ticket from its QR code".into(), now));
                    }
                    Err(err) => self.notice = Some(Notice::Error(err)),
                },
                Event::Open { group, submission } => {
                    self.state.group = Some(group);
                    self.go(View::Submission(submission.to_string()));
                    self.raise = true;
                }
            }
        }
    }

    fn apply(&mut self, effect: Effect) {
        match effect {
            Effect::None => {}
            Effect::GroupOpened(id) | Effect::Joined(id) => {
                self.state.group = Some(id);
                self.first_run = Default::default();
                self.state.view = if matches!(effect, Effect::Joined(_)) {
                    View::ForYou
                } else {
                    View::Queue
                };
                self.back.clear();
            }
            Effect::Submitted(group, sub) => {
                self.state.submit = Default::default();
                if self.state.group == Some(group) {
                    self.go(View::Submission(sub.to_string()));
                }
            }
            Effect::Critiqued(group, sub) => {
                self.drafts.remove(&(group, sub));
            }
            Effect::ProfileSaved(_) => self.forms.profile = None,
            Effect::RulesSaved(_) => self.forms.rules = None,
            Effect::Invited(invitation) => self.invite.made(invitation),
        }
    }

    /// Tells the backend what is on screen, when that changes.
    fn sync_focus(&mut self) {
        let Some(group) = self.state.group else {
            return;
        };
        let (sub, member) = match &self.state.view {
            View::Submission(id) => (id.parse().ok(), None),
            View::Member(id) => (None, id.parse().ok()),
            _ => (None, None),
        };
        let focus = (group, sub, member);
        if self.focus_sent != Some(focus) {
            self.focus_sent = Some(focus);
            self.send(Command::Focus {
                group,
                submission: sub,
                member,
            });
        }
    }

    /// Writes drafts that have been quiet long enough, or all of them with `all`.
    fn save_drafts(&mut self, now: f64, all: bool) {
        for ((group, sub), draft) in &mut self.drafts {
            if draft.body != draft.saved && (all || now - draft.edited_at > DRAFT_SAVE_AFTER) {
                draft.saved = draft.body.clone();
                self.backend.send(Command::SaveDraft {
                    group: *group,
                    submission: *sub,
                    body: draft.body.clone(),
                });
            }
        }
    }

    fn shortcuts(&mut self, ctx: &egui::Context) {
        let views = [
            (Key::Num1, View::Queue),
            (Key::Num2, View::Next),
            (Key::Num3, View::Roster),
            (Key::Num4, View::Submit),
            (Key::Num5, View::Ledger),
            (Key::Num6, View::Activity),
            (Key::Num7, View::Rules),
            (Key::Num8, View::Profile),
            (Key::Num9, View::ForYou),
        ];
        for (key, view) in views {
            if ctx
                .input_mut(|i| i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, key)))
            {
                self.go(view);
            }
        }
        let back = ctx.input_mut(|i| {
            i.consume_shortcut(&KeyboardShortcut::new(Modifiers::ALT, Key::ArrowLeft))
        });
        if back && matches!(self.state.view, View::Submission(_) | View::Member(_)) {
            self.go_back();
        }
    }

    /// Draws one frame in `ui`, the whole window's. `eframe` calls this through
    /// [`eframe::App::ui`]; tests and the frame benchmark call it directly.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        // Windows and the modal draw on the context, beside the panels in `ui`.
        let ctx = ui.ctx().clone();
        let now = ctx.input(|i| i.time);
        self.logic(&ctx);
        self.shortcuts(&ctx);
        self.sync_focus();
        if self.drafts.values().any(|d| d.body != d.saved) {
            ctx.request_repaint_after(std::time::Duration::from_secs_f64(DRAFT_SAVE_AFTER));
        }
        if let Some(Notice::Done(_, at)) = &self.notice {
            if now - at > 8.0 {
                self.notice = None;
            } else {
                ctx.request_repaint_after(std::time::Duration::from_secs(8));
            }
        }

        self.status_bar(ui);
        let ready = self.current().cloned();
        let first_run = self.loaded && self.groups.is_empty();
        let Some(snapshot) = ready.filter(|_| self.state.view != View::NewGroup && !first_run)
        else {
            egui::CentralPanel::default().show(ui, |ui| {
                if !self.loaded {
                    ui.centered_and_justified(|ui| ui.spinner());
                } else if first_run || self.state.view == View::NewGroup {
                    let cancel = !first_run;
                    // A picture dropped here is a ticket's QR code.
                    let dropped =
                        ui.input(|i| i.raw.dropped_files.first().map(|f| f.path().to_path_buf()));
                    if let Some(path) = dropped {
                        self.send(Command::ReadQr { path });
                    }
                    if let Some(command) = self.first_run.ui(ui, cancel, &mut self.state.view) {
                        self.send(command);
                    }
                } else {
                    ui.centered_and_justified(|ui| ui.label("Opening the group…"));
                }
            });
            return;
        };
        self.resolve_placeholders(&snapshot);
        self.top_bar(ui, &snapshot);
        egui::CentralPanel::default().show(ui, |ui| {
            self.view_ui(ui, &snapshot, now);
        });
        if self.show_peers {
            self.peers_window(&ctx, &snapshot);
        }
        if self.invite_when_online && self.sync.is_online() {
            self.invite_when_online = false;
            self.invite.open(snapshot.id, TicketKind::Member);
            let command = self.invite.make(snapshot.id);
            self.send(command);
        }
        if let Some(command) = self.invite.ui(&ctx, &snapshot, &self.sync) {
            self.send(command);
        }
        if let Some(pending) = &self.confirm {
            let (confirmed, open) = pending.ui(&ctx);
            if !open {
                self.confirm = None;
            }
            if let Some((group, action)) = confirmed {
                self.send(Command::Act { group, action });
            }
        }
    }

    fn view_ui(&mut self, ui: &mut egui::Ui, snapshot: &Arc<GroupSnapshot>, now: f64) {
        let view = self.state.view.clone();
        let mut actions = Vec::new();
        match &view {
            View::Queue | View::NewGroup => {
                if let Some(v) =
                    self.lists
                        .queue_ui(ui, snapshot, &mut self.state.queue, &mut actions)
                {
                    self.go(v);
                }
            }
            View::Next => {
                if let Some(v) = pages::next_ui(ui, snapshot, &mut actions) {
                    self.go(v);
                }
            }
            View::ForYou => {
                let (open, command) = for_you::for_you_ui(ui, snapshot);
                if let Some(command) = command {
                    self.send(command);
                }
                if let Some(v) = open {
                    self.go(v);
                }
            }
            View::Roster => {
                if let Some(v) = self.lists.roster_ui(ui, snapshot, &mut self.state.roster) {
                    self.go(v);
                }
            }
            View::Submit => {
                let group = snapshot.id;
                if let Some(command) = pages::submit_ui(ui, snapshot, &mut self.state.submit) {
                    if let Command::ReadFile { .. } = command {
                        self.send(command);
                    } else if let Command::Act { action, .. } = command {
                        actions.push(action);
                    }
                }
                let _ = group;
            }
            View::Ledger => self.lists.ledger_ui(ui, snapshot),
            View::Activity => {
                if let Some(v) = self.lists.activity_ui(ui, snapshot) {
                    self.go(v);
                }
            }
            View::Rules => pages::rules_ui(ui, snapshot, &mut self.forms, &mut actions),
            View::Profile => {
                pages::profile_ui(ui, snapshot, &mut self.forms, &mut actions);
                if let Some(v) = self.forms.open.take() {
                    self.go(v);
                }
            }
            View::Submission(id) => {
                let id = id.parse::<SubmissionId>().ok();
                let detail = self
                    .submission
                    .clone()
                    .filter(|d| Some(d.sub.id) == id && d.group == snapshot.id);
                match (id, detail) {
                    (Some(id), Some(detail)) => {
                        let draft = self.drafts.entry((snapshot.id, id)).or_default();
                        let out = submission::ui(ui, &detail, draft, now, &mut actions);
                        if let Some(v) = out {
                            if v == View::Queue {
                                self.go_back();
                            } else {
                                self.go(v);
                            }
                        }
                    }
                    (Some(id), None) => {
                        if snapshot.queue.iter().any(|r| r.entry.id == id) {
                            ui.spinner();
                        } else {
                            ui.label("This piece is not in this group.");
                            if ui.button("Back to the queue").clicked() {
                                self.go(View::Queue);
                            }
                        }
                    }
                    (None, _) => {
                        ui.label("That submission does not exist.");
                    }
                }
            }
            View::Member(id) => {
                let id = id.parse::<MemberId>().ok();
                let detail = self
                    .member
                    .clone()
                    .filter(|d| Some(d.member.id) == id && d.group == snapshot.id);
                match detail {
                    Some(detail) => {
                        if let Some(v) = member::ui(ui, &detail, snapshot) {
                            if v == View::Queue {
                                self.go_back();
                            } else {
                                self.go(v);
                            }
                        }
                    }
                    None => {
                        let known =
                            id.is_some_and(|id| snapshot.members.iter().any(|m| m.id == id));
                        if known {
                            ui.spinner();
                        } else {
                            ui.label("This member is not in this group.");
                            if ui.button("Back to the roster").clicked() {
                                self.go(View::Roster);
                            }
                        }
                    }
                }
            }
        }
        for action in actions {
            match confirm::ask(&action, snapshot) {
                // The dialog blocks the window: nothing else asks while it is open.
                Some(ask) if self.confirm.is_none() => {
                    self.confirm = Some(confirm::Pending::new(snapshot.id, action, ask));
                }
                Some(_) => {}
                None => self.send(Command::Act {
                    group: snapshot.id,
                    action,
                }),
            }
        }
    }

    /// Turns the views `quire demo --view` names without an id into real ones.
    fn resolve_placeholders(&mut self, s: &GroupSnapshot) {
        match &self.state.view {
            View::Submission(id) if id == CLAIMED => {
                let row = s
                    .queue
                    .iter()
                    .find(|r| r.my_claim == Some(quire_store::views::LinePosition::Holder))
                    .or(s.queue.first());
                self.state.view =
                    row.map_or(View::Queue, |r| View::Submission(r.entry.id.to_string()));
            }
            View::Member(id) if id == SOMEONE => {
                let m = s
                    .members
                    .iter()
                    .filter(|m| Some(m.id) != s.me)
                    .max_by_key(|m| (m.given + m.received, std::cmp::Reverse(m.id)));
                self.state.view = m.map_or(View::Roster, |m| View::Member(m.id.to_string()));
            }
            _ => {}
        }
    }

    /// The group, the views and my account. On a wide window one row; on a narrow one (or
    /// zoomed in) the group and my account on the first row and the views wrapped below, so
    /// nothing is drawn over anything else.
    fn top_bar(&mut self, ui: &mut egui::Ui, snapshot: &GroupSnapshot) {
        egui::Panel::top("top").show(ui, |ui| {
            ui.add_space(4.0);
            if ui.available_width() >= WIDE_TOP_BAR {
                ui.horizontal(|ui| {
                    self.group_picker(ui, snapshot);
                    ui.separator();
                    self.tabs(ui, snapshot);
                    ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                        self.account(ui, snapshot);
                    });
                });
            } else {
                ui.horizontal(|ui| {
                    self.group_picker(ui, snapshot);
                    ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                        self.account(ui, snapshot);
                    });
                });
                ui.horizontal_wrapped(|ui| self.tabs(ui, snapshot));
            }
            ui.add_space(2.0);
        });
    }

    fn group_picker(&mut self, ui: &mut egui::Ui, snapshot: &GroupSnapshot) {
        let mut chosen = self.state.group;
        widgets::combo(ui, "Group", RichText::new(&snapshot.name).strong(), |ui| {
            for g in &self.groups {
                let name = match &g.name {
                    Ok(name) => name.clone(),
                    Err(_) => format!("{} (cannot open)", g.id.short()),
                };
                ui.add_enabled_ui(g.name.is_ok(), |ui| {
                    ui.selectable_value(&mut chosen, Some(g.id), name)
                        .on_disabled_hover_text(g.name.clone().err().unwrap_or_default());
                });
            }
            ui.separator();
            if ui.button("New group…").clicked() {
                self.state.view = View::NewGroup;
            }
        });
        if chosen != self.state.group {
            self.state.group = chosen;
            self.back.clear();
            if matches!(self.state.view, View::Submission(_) | View::Member(_)) {
                self.state.view = View::Queue;
            }
        }
    }

    fn tabs(&mut self, ui: &mut egui::Ui, snapshot: &GroupSnapshot) {
        let unread = snapshot.unread();
        let for_you = if unread > 0 {
            format!("For you ({unread})")
        } else {
            "For you".to_string()
        };
        if ui
            .selectable_label(self.state.view == View::ForYou, for_you)
            .on_hover_text("Ctrl+9")
            .clicked()
        {
            self.go(View::ForYou);
        }
        let tabs = [
            (View::Queue, "Queue", "Ctrl+1"),
            (View::Next, "Next", "Ctrl+2"),
            (View::Roster, "Roster", "Ctrl+3"),
            (View::Submit, "Submit", "Ctrl+4"),
            (View::Ledger, "Ledger", "Ctrl+5"),
            (View::Activity, "Activity", "Ctrl+6"),
            (View::Rules, "Rules", "Ctrl+7"),
            (View::Profile, "Profile", "Ctrl+8"),
        ];
        for (view, name, keys) in tabs {
            let selected = self.state.view == view;
            if ui
                .selectable_label(selected, name)
                .on_hover_text(keys)
                .clicked()
            {
                self.go(view);
            }
        }
    }

    /// Right to left: the theme, Invite, my credits, my name.
    fn account(&mut self, ui: &mut egui::Ui, snapshot: &GroupSnapshot) {
        widgets::theme_switch(ui);
        ui.menu_button("Invite", |ui| {
            if ui.button("Invite someone…").clicked() {
                self.invite.open(snapshot.id, TicketKind::Member);
            }
            if ui.button("Link another device of mine…").clicked() {
                self.invite.open(snapshot.id, TicketKind::Device);
            }
        });
        if let Some(ledger) = &snapshot.ledger {
            let credits = if snapshot.rules.credits {
                format!("{} credits", ledger.balance)
            } else {
                "no credits".to_string()
            };
            if ui.button(credits).on_hover_text("Your ledger").clicked() {
                self.go(View::Ledger);
            }
        }
        if !snapshot.my_name.is_empty() {
            ui.label(RichText::new(&snapshot.my_name).strong());
        }
    }

    fn status_bar(&mut self, ui: &mut egui::Ui) {
        egui::Panel::bottom("status").show(ui, |ui| {
            ui.horizontal(|ui| {
                let online = self.sync.is_online();
                let dot = if online {
                    egui::Color32::from_rgb(60, 170, 90)
                } else {
                    ui.visuals().weak_text_color()
                };
                let (rect, _) =
                    ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
                ui.painter().circle_filled(rect.center(), 4.0, dot);
                let summary = self.sync.summary(jiff::Timestamp::now());
                if ui.link(summary).on_hover_text("Peers and sync").clicked() {
                    self.show_peers = !self.show_peers;
                }
                if self.sync.last_synced().is_some() {
                    // Keeps "last synced 2 min ago" true while nothing else happens.
                    ui.ctx()
                        .request_repaint_after(std::time::Duration::from_secs(30));
                }
                ui.separator();
                match self.notice.clone() {
                    Some(Notice::Error(message)) => {
                        let color = ui.visuals().error_fg_color;
                        ui.label(RichText::new(format!("⚠ {message}")).color(color));
                        if ui.small_button("Dismiss").clicked() {
                            self.notice = None;
                        }
                    }
                    Some(Notice::Done(message, _)) => {
                        ui.label(format!("✔ {message}"));
                    }
                    None => {
                        if let Some(s) = self.current() {
                            let skipped = s.skipped.len();
                            if s.loading {
                                ui.weak("opening the group…")
                                    .on_hover_text("Shown as last saved; what you do now is done once the group is open");
                            } else if skipped > 0 {
                                ui.label(format!("{skipped} unreadable entries skipped"))
                                    .on_hover_text(s.skipped.join("\n"));
                            } else {
                                ui.weak("all changes saved");
                            }
                        }
                    }
                }
            });
        });
    }

    fn peers_window(&mut self, ctx: &egui::Context, snapshot: &GroupSnapshot) {
        let mut open = self.show_peers;
        let now = jiff::Timestamp::now();
        egui::Window::new("Peers")
            .open(&mut open)
            .default_width(520.0)
            .show(ctx, |ui| {
                ui.label(self.sync.summary(now));
                let peers: Vec<_> = self
                    .sync
                    .peers
                    .iter()
                    .filter(|p| p.group == snapshot.id)
                    .collect();
                ui.add_space(4.0);
                if peers.is_empty() {
                    widgets::hint(
                        ui,
                        format!(
                            "No other member devices in {} yet. Invite someone, or link \
                             another device of yours; other Quire windows on this device see \
                             every change at once.",
                            snapshot.name
                        ),
                    );
                } else {
                    widgets::hint(ui, format!("Member devices of {}:", snapshot.name));
                    egui::Grid::new("peers")
                        .striped(true)
                        .num_columns(5)
                        .spacing([14.0, 4.0])
                        .show(ui, |ui| {
                            for name in ["Member", "Device", "Connection", "Sync", "Last synced"] {
                                ui.strong(name);
                            }
                            ui.end_row();
                            for p in peers {
                                ui.label(&p.member);
                                ui.label(&p.device);
                                let (dot, text) = if p.connected {
                                    (egui::Color32::from_rgb(60, 170, 90), "connected")
                                } else {
                                    (ui.visuals().weak_text_color(), "offline")
                                };
                                ui.horizontal(|ui| {
                                    let (rect, _) = ui.allocate_exact_size(
                                        egui::vec2(10.0, 10.0),
                                        egui::Sense::hover(),
                                    );
                                    ui.painter().circle_filled(rect.center(), 4.0, dot);
                                    ui.label(text);
                                });
                                ui.label(p.sync.to_string());
                                match p.last_synced {
                                    Some(at) => ui
                                        .label(crate::backend::sync::ago(at, now))
                                        .on_hover_text(widgets::when(at)),
                                    None => ui.label("never"),
                                };
                                ui.end_row();
                            }
                        });
                }
                let refused: Vec<_> = self
                    .sync
                    .refused
                    .iter()
                    .filter(|r| r.group == snapshot.id)
                    .collect();
                if !refused.is_empty() {
                    ui.separator();
                    widgets::hint(
                        ui,
                        "Refused: these devices sent changes the group's rules forbid. \
                         Nothing of them was applied or passed on; they were disconnected.",
                    );
                    for r in refused {
                        ui.label(format!("{} ({}): {}", r.member, r.device, r.reason))
                            .on_hover_text(widgets::when(r.at));
                    }
                }
                ui.separator();
                ui.horizontal(|ui| {
                    if ui.button("Invite someone…").clicked() {
                        self.invite.open(snapshot.id, TicketKind::Member);
                    }
                    if ui.button("Link another device of mine…").clicked() {
                        self.invite.open(snapshot.id, TicketKind::Device);
                    }
                });
            });
        self.show_peers = open;
    }
}

impl eframe::App for QuireApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        QuireApp::logic(self, ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        QuireApp::ui(self, ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.state);
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        self.save_drafts(f64::MAX, true);
        // Lets the backend write its view caches, so the next start shows the groups at once.
        self.backend.shutdown();
    }
}

/// How the window opens.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The data dir.
    pub data_dir: PathBuf,
    /// The window title.
    pub title: String,
    /// Open on this view instead of the remembered one.
    pub view: Option<View>,
    /// Run peer-to-peer sync.
    pub sync: bool,
    /// Open the invite dialog on a fresh ticket once sync runs.
    pub invite: bool,
    /// Relays for sync.
    pub relay: quire_sync::RelayChoice,
    /// mDNS for sync.
    pub mdns: bool,
    /// Where the sync node listens; `None`: every interface.
    pub bind: Option<std::net::SocketAddr>,
}

/// Opens the desktop client and runs it until the window closes.
pub fn run(launch: Launch) -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(&launch.title)
            .with_app_id("quire")
            .with_inner_size([1180.0, 760.0])
            .with_min_inner_size([720.0, 480.0]),
        persistence_path: Some(launch.data_dir.join("window.ron")),
        ..Default::default()
    };
    let data_dir = launch.data_dir.clone();
    eframe::run_native(
        &launch.title,
        options,
        Box::new(move |cc| {
            let mut state: UiState = cc
                .storage
                .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
                .unwrap_or_default();
            if let Some(view) = launch.view {
                state.view = view;
            }
            if matches!(state.view, View::NewGroup) {
                state.view = View::Queue;
            }
            match std::env::var("QUIRE_THEME").as_deref() {
                Ok("light") => cc.egui_ctx.set_theme(egui::ThemePreference::Light),
                Ok("dark") => cc.egui_ctx.set_theme(egui::ThemePreference::Dark),
                _ => {}
            }
            // A zoom to start at (Ctrl+plus and Ctrl+minus change it as usual).
            if let Some(zoom) = std::env::var("QUIRE_ZOOM")
                .ok()
                .and_then(|z| z.parse::<f32>().ok())
                .filter(|z| (0.5..=3.0).contains(z))
            {
                cc.egui_ctx.set_zoom_factor(zoom);
            }
            let ctx = cc.egui_ctx.clone();
            let repaint: crate::backend::Repaint = Arc::new(move || ctx.request_repaint());
            let sync = quire_sync::NodeConfig {
                data_dir: data_dir.clone(),
                relay: launch.relay.clone(),
                mdns: launch.mdns,
                bind: launch.bind,
                storage: Default::default(),
                fanout: Default::default(),
            };
            let sync = launch.sync.then_some(sync);
            let mut app = QuireApp::with_sync(data_dir, sync, state, repaint);
            if launch.invite {
                app.invite_when_online();
            }
            Ok(Box::new(app))
        }),
    )
    .map_err(|err| anyhow::anyhow!("cannot open the window: {err}"))
}
