//! The backend: a thread of its own, running a tokio runtime, that owns every open group.
//!
//! ```text
//!  UI thread (egui)                      backend thread (tokio)
//!  ───────────────                       ──────────────────────
//!  Backend::send(Command) ──mpsc──────▶  Actor::run: open groups, act, derive snapshots
//!  Backend::poll() ◀──────std mpsc─────  Event::{Snapshot, Submission, Done, Failed, ...}
//!        ▲                                  │ repaint(): wakes the UI after each batch
//!        └──────────────────────────────────┘
//!  one watcher thread per group ── Command::Refresh ──▶ Actor (changes from other processes)
//!  the opener (a worker thread, at start) ── Command::{Shown, Loaded} ──▶ Actor
//! ```
//!
//! A group opens from its view cache when that is current: its snapshot is on screen in a
//! fraction of a second, marked `loading`, while its document loads on a worker thread;
//! actions on it wait for the document and then run (see `opener` and `open_group`). When the
//! UI drops its end the backend writes the view caches that are out of date and stops.
//!
//! The UI never waits on the backend: sending is non-blocking and events are drained once per
//! frame. After each batch of commands the actor brings the derived lists of the groups that
//! changed up to date (from [`quire_store::Group::view_changed`], which reads only what
//! changed and says what that was, the [`LiveSnapshot`] redoes only the rows it feeds) and
//! sends them as one immutable [`GroupSnapshot`] the UI keeps until the next.

mod actor;
pub mod data;
pub mod demo;
pub mod drafts;
mod live_snapshot;
pub mod notify;
mod open_group;
#[cfg(test)]
mod open_group_tests;
mod opener;
mod personal;
pub mod qr_picture;
pub mod search;
mod snapshot;
pub mod sync;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use quire_store::doc::ProfilePatch;
use quire_store::ops::SubmissionDraft;
use quire_store::{CritiqueId, GroupId, MemberId, SubmissionId};
use tokio::sync::{mpsc, oneshot};

pub use live_snapshot::LiveSnapshot;
pub use opener::{GroupLoaded, GroupShown};
pub use snapshot::{
    GroupSnapshot, MemberDetail, MemberRow, QueueRow, SubmissionDetail, derive_snapshot,
};
pub use sync::{Invitation, PeerRow, PeerSync, SyncState, SyncStatus};

/// What the UI asks of the backend.
#[derive(Debug)]
pub enum Command {
    /// Create a group with this device's member as its organizer.
    CreateGroup {
        /// The group's name.
        name: String,
        /// What it is about.
        description: String,
        /// The founder's display name.
        me: String,
    },
    /// Join a group by an invite ticket (needs sync).
    Join {
        /// The ticket as pasted.
        ticket: String,
        /// The name to join under: required by a member ticket, refused by a device ticket.
        display_name: Option<String>,
    },
    /// Make an invite ticket for a group (needs sync).
    Invite {
        /// The group.
        group: GroupId,
        /// For a new member or another device of mine; how long; how many uses.
        options: quire_sync::InviteOptions,
    },
    /// Do something in a group as this device's member.
    Act {
        /// The group.
        group: GroupId,
        /// What to do.
        action: Action,
    },
    /// The submission or member the UI shows, so the backend sends its details and keeps
    /// them current as the group changes.
    Focus {
        /// The group.
        group: GroupId,
        /// The submission on screen, if any.
        submission: Option<SubmissionId>,
        /// The member on screen, if any.
        member: Option<MemberId>,
    },
    /// Save a critique in progress locally; an empty body deletes the draft.
    SaveDraft {
        /// The group.
        group: GroupId,
        /// The submission being critiqued.
        submission: SubmissionId,
        /// The text so far.
        body: String,
    },
    /// Read a text file for the submit form.
    ReadFile {
        /// The file.
        path: PathBuf,
    },
    /// Mark these inbox items read (keys of [`quire_store::inbox::InboxItem`]).
    MarkRead {
        /// The group.
        group: GroupId,
        /// The items.
        items: Vec<String>,
    },
    /// Turn desktop notifications on or off (a setting of my personal document, so it
    /// follows me to my other devices).
    SetNotifications {
        /// The group.
        group: GroupId,
        /// On or off.
        on: bool,
    },
    /// Read an invite ticket from a picture of its QR code.
    ReadQr {
        /// The picture.
        path: PathBuf,
    },
    /// A group's folder changed on disk (sent by its watcher).
    Refresh(GroupId),
    /// My personal document in a group changed on another device (sent by the backend's
    /// own tasks).
    RefreshPersonal(GroupId),
    /// A notification was clicked (sent by the notifier).
    NoticeClicked {
        /// The group.
        group: GroupId,
        /// The piece it is about.
        submission: SubmissionId,
    },
    /// The sync node finished something asked of it (sent by the backend's own tasks).
    SyncDone(SyncOutcome),
    /// A group is shown from its view cache (sent by the backend's own tasks).
    Shown(Box<GroupShown>),
    /// A group's document finished loading (sent by the backend's own tasks).
    Loaded(Box<GroupLoaded>),
}

/// What a sync task came back with.
#[derive(Debug)]
pub enum SyncOutcome {
    /// The node started (or could not).
    Started(Result<quire_sync::Node, String>),
    /// A fresh status.
    Status(SyncStatus),
    /// A group was joined.
    Joined(Result<quire_sync::Joined, String>),
    /// An invite was made.
    Invited(Result<Invitation, String>),
}

/// An operation on a group.
#[derive(Debug, Clone)]
pub enum Action {
    /// Edit my profile.
    Profile(ProfilePatch),
    /// Submit a piece.
    Submit(SubmissionDraft),
    /// Withdraw my piece.
    Withdraw(SubmissionId),
    /// Claim a piece to critique.
    Claim(SubmissionId),
    /// Let a claim go.
    Unclaim(SubmissionId),
    /// Deliver a critique.
    Critique {
        /// The piece.
        submission: SubmissionId,
        /// The critique.
        body: String,
    },
    /// Rate a critique of my piece.
    Rate {
        /// The piece.
        submission: SubmissionId,
        /// The critique.
        critique: CritiqueId,
        /// 1 to 5.
        rating: u8,
    },
    /// Thank a reviewer.
    Thank {
        /// The piece.
        submission: SubmissionId,
        /// The critique.
        critique: CritiqueId,
    },
    /// Tip a reviewer.
    Tip {
        /// The piece.
        submission: SubmissionId,
        /// The critique.
        critique: CritiqueId,
    },
    /// Change the rules (organizers).
    Rules(Vec<(String, String)>),
}

/// What the backend tells the UI.
#[derive(Debug)]
pub enum Event {
    /// The groups in the data dir, by name, and those that could not be opened.
    Groups(Vec<GroupListing>),
    /// A group's derived lists, after it changed.
    Snapshot(Arc<GroupSnapshot>),
    /// The focused submission, current.
    Submission(Arc<SubmissionDetail>),
    /// The focused member, current.
    Member(Arc<MemberDetail>),
    /// The drafts saved for a group, at open.
    Drafts {
        /// The group.
        group: GroupId,
        /// Critique drafts by submission.
        drafts: Vec<(SubmissionId, String)>,
    },
    /// A file the UI asked to read.
    FileRead {
        /// The file.
        path: PathBuf,
        /// Its text, or why it could not be read.
        result: Result<String, String>,
    },
    /// An action succeeded.
    Done {
        /// One line for the status bar.
        message: String,
        /// What the UI should do about it.
        effect: Effect,
    },
    /// Something failed; one line naming what.
    Failed(String),
    /// The state of peer-to-peer sync.
    Sync(SyncStatus),
    /// The ticket read from a QR code picture, or why none could be.
    QrRead(Result<String, String>),
    /// Show this piece and bring the window forward: its notification was clicked.
    Open {
        /// The group.
        group: GroupId,
        /// The piece.
        submission: SubmissionId,
    },
}

/// A group in the data dir.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupListing {
    /// Its id.
    pub id: GroupId,
    /// Its name, or why it could not be opened.
    pub name: Result<String, String>,
}

/// What a successful action means for the UI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Nothing in particular.
    None,
    /// A group was created or joined: switch to it.
    GroupOpened(GroupId),
    /// A group was joined: switch to it, on For you, which asks a new member for their
    /// genres.
    Joined(GroupId),
    /// A piece was submitted: clear the form, show it.
    Submitted(GroupId, SubmissionId),
    /// A critique was delivered: its draft is gone.
    Critiqued(GroupId, SubmissionId),
    /// The profile was saved.
    ProfileSaved(GroupId),
    /// The rules were changed.
    RulesSaved(GroupId),
    /// An invite to show.
    Invited(Invitation),
}

/// The UI's end of the backend.
///
/// Dropping it (or [`Backend::shutdown`]) stops the backend: it writes the view caches of the
/// groups that changed and stops the sync node, and the drop waits for that, up to
/// [`SHUTDOWN_WAIT`].
#[derive(Debug)]
pub struct Backend {
    commands: mpsc::UnboundedSender<Command>,
    events: std_mpsc::Receiver<Event>,
    stop_reported: std::cell::Cell<bool>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How long stopping the backend may hold up the UI thread.
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// Wakes the UI; `egui::Context::request_repaint` in the app.
pub type Repaint = Arc<dyn Fn() + Send + Sync>;

/// Where and as whom the backend runs.
#[derive(Debug, Clone)]
pub struct BackendConfig {
    /// The data dir.
    pub data_dir: PathBuf,
    /// A name for this device in new groups.
    pub device_label: String,
    /// How to run peer-to-peer sync; `None` runs none (tests, benchmarks).
    pub sync: Option<quire_sync::NodeConfig>,
    /// Where desktop notifications go; `None` shows none (tests, benchmarks).
    pub notifier: Option<Arc<dyn notify::Notifier>>,
}

impl Backend {
    /// Starts the backend thread; it opens every group in the data dir at once.
    #[must_use]
    pub fn spawn(config: BackendConfig, repaint: Repaint) -> Backend {
        let (commands, inbox) = mpsc::unbounded_channel();
        let (events_tx, events) = std_mpsc::channel();
        let (stop, stopped) = oneshot::channel();
        let loopback = commands.clone();
        let thread = std::thread::Builder::new()
            .name("quire-backend".into())
            .spawn(move || actor::run(config, inbox, loopback, stopped, events_tx, repaint))
            .map_err(|err| tracing::error!(%err, "cannot start the backend thread"))
            .ok();
        Backend {
            commands,
            events,
            stop_reported: std::cell::Cell::new(false),
            stop: Some(stop),
            thread,
        }
    }

    /// Stops the backend and waits, up to [`SHUTDOWN_WAIT`], for it to write the view caches of
    /// the groups that changed and stop the sync node. Called again, does nothing.
    pub fn shutdown(&mut self) {
        let Some(stop) = self.stop.take() else {
            return;
        };
        let _ = stop.send(());
        let Some(thread) = self.thread.take() else {
            return;
        };
        let deadline = Instant::now() + SHUTDOWN_WAIT;
        while !thread.is_finished() {
            if Instant::now() >= deadline {
                tracing::warn!("the backend is still stopping; leaving it");
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = thread.join();
    }

    /// Sends a command; never blocks. A backend that has stopped is reported by
    /// [`Backend::poll`].
    pub fn send(&self, command: Command) {
        if self.commands.send(command).is_err() {
            tracing::error!("the backend has stopped");
        }
    }

    /// Every event that arrived since the last call.
    pub fn poll(&self) -> Vec<Event> {
        let mut out: Vec<Event> = self.events.try_iter().collect();
        if out.is_empty() && self.commands.is_closed() && !self.stop_reported.replace(true) {
            out.push(Event::Failed(
                "the backend stopped; restart Quire (nothing saved was lost)".into(),
            ));
        }
        out
    }

    /// Whether the backend thread is still running.
    pub fn is_running(&self) -> bool {
        !self.commands.is_closed()
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.shutdown();
    }
}
