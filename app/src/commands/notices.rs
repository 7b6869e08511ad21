//! Desktop notifications while `quire serve` runs: a new critique of my piece, a claim of mine
//! about to lapse (as the desktop client raises them, see `quire::backend::notify`).

use quire::backend::notify::{Desktop, News, Notice, Notifier};
use quire_store::GroupId;
use quire_store::inbox::{self, InboxItem};
use quire_sync::NodeHandle;

use super::now;

/// What `quire serve` has announced, and where notices go.
#[derive(Debug, Default)]
pub struct ServeNotices {
    news: News,
    notifier: Desktop,
}

impl ServeNotices {
    /// Looks at `group`'s inbox and announces what is new in it since the last look (the
    /// first look only remembers what is there).
    pub async fn look(&mut self, handle: &NodeHandle, group: GroupId) {
        let Some((name, items, on)) = inbox_of(handle, group).await else {
            return;
        };
        let fresh = self.news.fresh(group, &items);
        if !on {
            return;
        }
        for item in fresh {
            // There is no window to open: the notice is all.
            let notice = Notice::of(group, &name, item);
            self.notifier.notify(notice, Box::new(|| {}));
        }
    }
}

/// The group's name, my inbox in it and whether notifications are on, as the node holds them;
/// `None` if this device is no member's there.
async fn inbox_of(handle: &NodeHandle, group: GroupId) -> Option<(String, Vec<InboxItem>, bool)> {
    let personal = handle.personal(group, |doc| doc.read()).await.ok()?;
    let on = personal.notifications;
    let now = now();
    let read = handle
        .edit(group, move |g| -> Result<_, quire_store::Error> {
            let me = g.me()?;
            let name = g.name();
            let model = g.view()?;
            Ok((name, inbox::inbox(model, me, &personal, now)))
        })
        .await;
    let read = read
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
    match read {
        Ok((name, items)) => Some((name, items, on)),
        Err(e) => {
            tracing::debug!(group = %group.short(), error = %e, "cannot read the inbox");
            None
        }
    }
}
