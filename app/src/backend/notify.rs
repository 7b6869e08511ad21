//! Desktop notifications: which inbox items are worth interrupting a writer for, and the
//! notifier that shows them.
//!
//! A new critique of my piece and a claim of mine about to lapse are announced once each per
//! run of the app, while my personal document's `notifications` setting is on. What is already
//! in the inbox when a group opens is not announced: the inbox shows it.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use quire_store::inbox::{InboxItem, InboxKind};
use quire_store::{GroupId, SubmissionId};

/// One notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The group it is from.
    pub group: GroupId,
    /// The piece to open when it is clicked.
    pub submission: SubmissionId,
    /// Its first line.
    pub summary: String,
    /// The group's name.
    pub body: String,
}

impl Notice {
    /// The notice for `item` of group `group`, called `group_name`.
    pub fn of(group: GroupId, group_name: &str, item: &InboxItem) -> Self {
        Notice {
            group,
            submission: item.submission(),
            summary: item.headline(),
            body: group_name.to_string(),
        }
    }
}

/// What is run when a notice is clicked.
pub type OnClick = Box<dyn FnOnce() + Send>;

/// Shows notifications.
pub trait Notifier: Send + Sync + fmt::Debug {
    /// Shows `notice`; `open` is run if the user clicks it.
    fn notify(&self, notice: Notice, open: OnClick);
}

/// The desktop's own notifications (notify-rust).
#[derive(Debug, Default)]
pub struct Desktop;

impl Notifier for Desktop {
    fn notify(&self, notice: Notice, open: OnClick) {
        let mut n = notify_rust::Notification::new();
        n.appname("Quire")
            .summary(&notice.summary)
            .body(&notice.body)
            .action("default", "Open");
        // Showing talks to the notification service, and waiting for a click blocks until the
        // notice is closed: neither happens on the backend's thread.
        let spawned = std::thread::Builder::new()
            .name("quire-notice".into())
            .spawn(move || show(n, open));
        if let Err(e) = spawned {
            tracing::debug!(error = %e, "cannot start a thread for a notification");
        }
    }
}

#[cfg(all(unix, not(target_os = "macos")))]
fn show(n: notify_rust::Notification, open: OnClick) {
    match n.show() {
        Ok(handle) => {
            let mut open = Some(open);
            handle.wait_for_action(|action| {
                if action == "default"
                    && let Some(open) = open.take()
                {
                    open();
                }
            });
        }
        Err(e) => tracing::debug!(error = %e, "cannot show a notification"),
    }
}

#[cfg(not(all(unix, not(target_os = "macos"))))]
fn show(n: notify_rust::Notification, _open: OnClick) {
    if let Err(e) = n.show() {
        tracing::debug!(error = %e, "cannot show a notification");
    }
}

/// A notice shown, with what clicking it does until it is clicked.
type Shown = (Notice, Option<OnClick>);

/// Keeps what a notifier was given, for tests; [`Recorder::click`] acts as the user would.
#[derive(Default, Clone)]
pub struct Recorder {
    shown: Arc<Mutex<Vec<Shown>>>,
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorder")
            .field("shown", &self.notices())
            .finish()
    }
}

impl Recorder {
    /// Every notice shown so far.
    pub fn notices(&self) -> Vec<Notice> {
        let shown = self.shown.lock().unwrap_or_else(PoisonError::into_inner);
        shown.iter().map(|(n, _)| n.clone()).collect()
    }

    /// Clicks the `i`th notice shown. Returns whether it was there and not clicked before.
    pub fn click(&self, i: usize) -> bool {
        let open = {
            let mut shown = self.shown.lock().unwrap_or_else(PoisonError::into_inner);
            shown.get_mut(i).and_then(|(_, open)| open.take())
        };
        open.map(|open| open()).is_some()
    }
}

impl Notifier for Recorder {
    fn notify(&self, notice: Notice, open: OnClick) {
        let mut shown = self.shown.lock().unwrap_or_else(PoisonError::into_inner);
        shown.push((notice, Some(open)));
    }
}

/// Which inbox items are news, per group, since the group was first seen in this run.
#[derive(Debug, Default)]
pub struct News {
    seen: HashMap<GroupId, HashSet<String>>,
}

impl News {
    /// The items of `inbox` worth a notice that were not there before; the first call for a
    /// group only remembers what is there.
    pub fn fresh<'a>(&mut self, group: GroupId, inbox: &'a [InboxItem]) -> Vec<&'a InboxItem> {
        let first = !self.seen.contains_key(&group);
        let seen = self.seen.entry(group).or_default();
        let mut fresh = Vec::new();
        for item in inbox {
            let key = match item.kind {
                InboxKind::Critique { .. } if item.unread => item.key.clone(),
                InboxKind::Claim { lapsing: true, .. } => format!("{}#lapsing", item.key),
                _ => continue,
            };
            if seen.insert(key) && !first {
                fresh.push(item);
            }
        }
        fresh
    }
}
