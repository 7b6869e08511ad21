//! The backend's side of my personal documents: one per open group, opened once I am a member
//! there; read marks set as pieces are opened; the inbox derived for each snapshot; and
//! notifications for what is new in it.
//!
//! The documents are opened from disk here, as the groups are. When the sync node runs it hosts
//! the same documents and sends what this process writes on to my other devices; what they
//! send arrives as [`quire_sync::SyncEvent::PersonalChanged`], and is read from disk again.

use quire_store::inbox::InboxItem;
use quire_store::personal::PersonalDoc;
use quire_store::storage::{DataDir, StorageOptions};
use quire_store::{DeviceId, GroupId, MemberId, SubmissionId};
use std::collections::BTreeMap;

use super::notify::{News, Notice, Notifier};

/// My personal documents, by group.
#[derive(Debug, Default)]
pub(super) struct Personals {
    docs: BTreeMap<GroupId, PersonalDoc>,
    news: News,
}

impl Personals {
    /// My document in `group`, opened (or created) on first use.
    pub fn doc(
        &mut self,
        data: &DataDir,
        device: DeviceId,
        group: GroupId,
        me: MemberId,
    ) -> Result<&mut PersonalDoc, quire_store::Error> {
        Ok(match self.docs.entry(group) {
            std::collections::btree_map::Entry::Occupied(open) => open.into_mut(),
            std::collections::btree_map::Entry::Vacant(slot) => slot.insert(PersonalDoc::open(
                data,
                group,
                me,
                device,
                StorageOptions::default(),
            )?),
        })
    }

    /// Reads what another process (the sync node) wrote to my document in `group`. Returns
    /// whether anything was new.
    pub fn refresh(&mut self, group: GroupId) -> Result<bool, quire_store::Error> {
        match self.docs.get_mut(&group) {
            Some(doc) => doc.refresh(),
            None => Ok(false),
        }
    }

    /// The items of `inbox` that call for a notification now.
    pub fn news<'a>(&mut self, group: GroupId, inbox: &'a [InboxItem]) -> Vec<&'a InboxItem> {
        self.news.fresh(group, inbox)
    }
}

/// Shows a notice for each of `items`; a click sends `clicked` the group and piece.
pub(super) fn announce(
    notifier: &dyn Notifier,
    group: GroupId,
    group_name: &str,
    items: &[&InboxItem],
    clicked: impl Fn(GroupId, SubmissionId) + Clone + Send + 'static,
) {
    for item in items {
        let notice = Notice::of(group, group_name, item);
        let submission = notice.submission;
        let clicked = clicked.clone();
        notifier.notify(notice, Box::new(move || clicked(group, submission)));
    }
}
