//! An open group on disk, acting as one device.

use std::path::Path;

use automerge::{ActorId, Automerge, ReadDoc};
use jiff::Timestamp;

use crate::authority::Authority;
use crate::doc;
use crate::error::{Error, OpError};
use crate::ids::{DeviceId, GroupId, MemberId};
use crate::live_view::{Changed, LiveView};
use crate::model;
use crate::ops::{self, NewGroup};
use crate::signatures::{ChangeSignature, SignatureBook};
use crate::storage::{
    DataDir, Fingerprint, GroupStorage, LoadWarning, PersistOutcome, StorageOptions,
};
use crate::view_cache::{self, ViewRef};

/// A group's document, kept durable on disk, used from one device.
///
/// Every change goes through [`Group::act`], which returns only once the change is fsynced: a
/// caller that reports success to a user after `act` returns `Ok` never reports a change that
/// a crash could lose. (Inside [`Group::holding_fsync`] the caller takes over the fsync.)
#[derive(Debug)]
pub struct Group {
    storage: GroupStorage,
    device: DeviceId,
    /// The model, kept current lazily by [`Group::view`].
    view: Option<LiveView>,
    /// What the model's catch-ups changed since [`Group::view_changed`] last said.
    changed: Changed,
    /// The member this device was found to belong to, checked again on every use.
    me: std::sync::Mutex<Option<MemberId>>,
    /// Inside [`Group::holding_fsync`]: operations leave their changes to the caller's persist.
    holding: bool,
    /// Judges every change an operation makes by the rules peers judge it by.
    authority: Authority,
}

/// A fresh automerge actor for one session of `device`: the device's key followed by eight
/// random bytes, so changes can be traced to a device and two processes of one device never
/// reuse an actor.
pub fn session_actor(device: DeviceId) -> ActorId {
    let mut bytes = device.as_bytes().to_vec();
    bytes.extend_from_slice(&uuid::Uuid::new_v4().as_bytes()[..8]);
    ActorId::from(bytes)
}

/// The device that wrote changes as `actor`, if the actor is a Quire session actor.
pub fn device_of_actor(actor: &ActorId) -> Option<DeviceId> {
    let bytes: [u8; 32] = actor.to_bytes().get(..32)?.try_into().ok()?;
    Some(DeviceId::from_bytes(bytes))
}

impl Group {
    /// Creates a new group in `data`, founded by this `device`.
    pub fn create(
        data: &DataDir,
        new: NewGroup,
        options: StorageOptions,
        now: Timestamp,
    ) -> Result<Group, Error> {
        let device = new.founder.device;
        let id = new.id;
        let doc = ops::create_group(new, session_actor(device), now)?;
        let storage = data.create_group(id, doc, options)?;
        Ok(Group::wrap(storage, device))
    }

    /// Wraps a group just created in a data dir (such as one a joining device received),
    /// used as `device`, without loading it again. Refuses a document from a newer schema.
    pub fn adopt(storage: GroupStorage, device: DeviceId) -> Result<Group, Error> {
        doc::check_schema(storage.doc()).map_err(|problem| Error::Doc {
            group: storage.id().to_string(),
            problem,
            damage: String::new(),
        })?;
        Ok(Group::wrap(storage, device))
    }

    /// Opens group `id` in `data` as `device`. Refuses a document from a newer schema without
    /// writing anything.
    pub fn open(
        data: &DataDir,
        id: GroupId,
        device: DeviceId,
        options: StorageOptions,
    ) -> Result<Group, Error> {
        let storage = data.open_group(id, session_actor(device), options)?;
        doc::check_schema(storage.doc()).map_err(|problem| Error::Doc {
            group: id.to_string(),
            problem,
            damage: storage
                .warnings()
                .iter()
                .map(|w| format!("; {w}"))
                .collect(),
        })?;
        Ok(Group::wrap(storage, device))
    }

    fn wrap(storage: GroupStorage, device: DeviceId) -> Group {
        Group {
            storage,
            device,
            view: None,
            changed: Changed::everything(),
            me: std::sync::Mutex::new(None),
            holding: false,
            authority: Authority::new(),
        }
    }

    /// The group's id.
    pub fn id(&self) -> GroupId {
        self.storage.id()
    }

    /// The group's folder.
    pub fn path(&self) -> &Path {
        self.storage.path()
    }

    /// This device.
    pub fn device(&self) -> DeviceId {
        self.device
    }

    /// The automerge document.
    pub fn doc(&self) -> &Automerge {
        self.storage.doc()
    }

    /// The storage underneath.
    pub fn storage(&self) -> &GroupStorage {
        &self.storage
    }

    /// The storage underneath, for sync and maintenance.
    pub fn storage_mut(&mut self) -> &mut GroupStorage {
        &mut self.storage
    }

    /// The whole group as the model.
    pub fn read(&self) -> Result<model::Group, Error> {
        doc::read_group(self.doc()).map_err(|problem| self.doc_error(problem))
    }

    fn doc_error(&self, problem: doc::DocError) -> Error {
        Error::Doc {
            group: self.id().to_string(),
            problem,
            damage: String::new(),
        }
    }

    /// The group as the model, brought up to date with the document by reading only what
    /// changed since the last call.
    pub fn view(&mut self) -> Result<&model::Group, Error> {
        let doc = self.storage.doc();
        let result = match &mut self.view {
            Some(view) => view.catch_up(doc),
            None => LiveView::load(doc).map(|v| {
                self.view = Some(v);
                Changed::everything()
            }),
        };
        match result {
            Ok(changed) => self.changed.merge(changed),
            Err(problem) => {
                self.view = None;
                return Err(self.doc_error(problem));
            }
        }
        Ok(self.view.as_ref().map(LiveView::group).expect("set above"))
    }

    /// [`Group::view`], with what changed in the model since the last call of this method
    /// (everything, the first time), for whoever keeps views derived from it current.
    pub fn view_changed(&mut self) -> Result<(&model::Group, Changed), Error> {
        self.view()?;
        let changed = std::mem::take(&mut self.changed);
        Ok((
            self.view
                .as_ref()
                .map(LiveView::group)
                .expect("set by view"),
            changed,
        ))
    }

    /// Takes `view` as this group's live view instead of reading the whole document, which for
    /// a large group costs about a second: a model read from this group's document at the
    /// view's heads, such as the view cache holds ([`crate::view_cache`]).
    ///
    /// If the document moved on since, the view catches up when next asked, reading only what
    /// changed, and [`Group::view_changed`] then says what changed since `view`, not
    /// everything: whatever was derived from `view`'s model stays good for the rest.
    ///
    /// Returns `false`, leaving the group to read the document afresh, if the document lacks
    /// any of the view's heads (it was not read from this document, or what it was read from
    /// is gone).
    pub fn adopt_view(&mut self, view: LiveView) -> bool {
        let known = self.storage.doc().get_missing_deps(view.heads()).is_empty();
        if known {
            self.view = Some(view);
            self.changed = Changed::default();
        }
        known
    }

    /// Writes this group's view cache ([`crate::view_cache`]): the model brought up to date, and
    /// `history`, the newest of the history the caller shows. Returns the fingerprint of the
    /// files it is valid for, or `None` without writing if there are none: the document holds
    /// changes not yet on disk, or some log was not read to its end (see
    /// [`GroupStorage::loaded_fingerprint`]).
    ///
    /// [`GroupStorage::loaded_fingerprint`]: crate::storage::GroupStorage::loaded_fingerprint
    pub fn write_view_cache(
        &mut self,
        history: &[crate::exchange::activity::Change],
    ) -> Result<Option<Fingerprint>, Error> {
        let Some(fingerprint) = self.storage.loaded_fingerprint() else {
            return Ok(None);
        };
        self.view()?;
        let view = self.view.as_ref().expect("set by view");
        let cached = ViewRef {
            fingerprint: &fingerprint,
            heads: view.heads(),
            group: view.group(),
            history,
        };
        view_cache::write(self.storage.path(), cached)?;
        Ok(Some(fingerprint))
    }

    /// Submits `draft` as this device's member; durable before it returns. When the group
    /// runs on credits the balance is checked against the live view, which catches up with
    /// the document by reading only the entries that changed, instead of reading the whole
    /// group again.
    pub fn submit(
        &mut self,
        id: crate::SubmissionId,
        draft: ops::SubmissionDraft,
        now: Timestamp,
    ) -> Result<model::Submission, Error> {
        let me = self.me()?;
        let credits = doc::read_info(self.doc())
            .map(|info| info.rules_at(now).credits)
            .unwrap_or(true);
        if credits {
            self.view()?;
        }
        let view = self.view.take();
        let known = view.as_ref().filter(|_| credits);
        let sub = self.judged(|doc| ops::submit_with(doc, me, id, draft, now, known));
        self.view = view;
        let sub = sub?;
        self.persist_unless_held()?;
        Ok(sub)
    }

    /// The group's name.
    pub fn name(&self) -> String {
        doc::read_info(self.doc())
            .map(|i| i.name)
            .unwrap_or_else(|_| self.id().short())
    }

    /// The member this device belongs to.
    ///
    /// Checks the member found last time again, else looks the device up in each current
    /// member's devices; never reads the profiles (every operation asks, and reading a
    /// thousand profiles took 20 ms).
    pub fn me(&self) -> Result<MemberId, Error> {
        let mut cached = self
            .me
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(me) = *cached
            && doc::is_current_device_of(self.doc(), me, self.device)
        {
            return Ok(me);
        }
        let found = doc::current_member_of_device(self.doc(), self.device);
        *cached = found;
        found.ok_or_else(|| Error::NotAMember {
            group: self.name(),
            device: self.device.short(),
        })
    }

    /// Runs operation `op` as this device's member and makes its change durable before
    /// returning. If the operation is refused nothing is written.
    pub fn act<T>(
        &mut self,
        op: impl FnOnce(&mut Automerge, MemberId) -> Result<T, OpError>,
    ) -> Result<T, Error> {
        let me = self.me()?;
        let out = self.judged(|doc| op(doc, me))?;
        self.persist_unless_held()?;
        Ok(out)
    }

    /// Runs `op` on the document, then judges each change it made by the group's rules (the
    /// same [`Authority`] every peer judges them by); a refused change is rolled back.
    fn judged<T>(
        &mut self,
        op: impl FnOnce(&mut Automerge) -> Result<T, OpError>,
    ) -> Result<T, Error> {
        let before = self.storage.doc().get_heads();
        self.authority.seed(self.storage.doc());
        let out = op(self.storage.doc_mut())?;
        let doc = self.storage.doc();
        let refused = doc
            .get_changes(&before)
            .iter()
            .find_map(|change| self.authority.judge_own(doc, change).err());
        if let Some(refusal) = refused {
            tracing::error!(group = %self.id().short(), %refusal, "our own operation broke the group's rules; rolled back");
            let actor = doc.get_actor().clone();
            let rolled_back = doc
                .fork_at(&before)
                .map_err(|e| self.doc_error(e.into()))?
                .with_actor(actor);
            *self.storage.doc_mut() = rolled_back;
            return Err(Error::Forbidden(refusal));
        }
        self.authority.trim();
        Ok(out)
    }

    /// Runs `f` with the fsync of its operations held back: [`Group::act`] and
    /// [`Group::submit`] apply their change in memory and return, and the caller makes the
    /// changes durable with [`Group::persist`] before it acknowledges them to anyone.
    ///
    /// For the sync actor, which sends a local edit to its peers before the fsync: until the
    /// fsync the change is safe on a peer, and since each process writes as a fresh automerge
    /// actor ([`session_actor`]), a change lost in a crash can never clash with a later one.
    pub fn holding_fsync<T>(&mut self, f: impl FnOnce(&mut Group) -> T) -> T {
        let was = std::mem::replace(&mut self.holding, true);
        let out = f(self);
        self.holding = was;
        out
    }

    fn persist_unless_held(&mut self) -> Result<(), Error> {
        if !self.holding {
            self.storage.persist()?;
        }
        Ok(())
    }

    /// Makes any change not yet on disk durable.
    pub fn persist(&mut self) -> Result<PersistOutcome, Error> {
        Ok(self.storage.persist()?)
    }

    /// Leaves compaction out of [`Group::persist`], to be done by [`Group::compact_if_due`]
    /// when the caller has nothing else to do (see [`GroupStorage::hold_compaction`]).
    pub fn hold_compaction(&mut self) {
        self.storage.hold_compaction();
    }

    /// Compacts if the logs have grown past the thresholds; returns whether it did.
    pub fn compact_if_due(&mut self) -> bool {
        self.storage.compact_if_due()
    }

    /// Writes any change not yet on disk to the log without waiting for the disk, so other
    /// processes can read it at once; the next [`Group::persist`] makes it durable.
    pub fn write(&mut self) -> Result<(), Error> {
        Ok(self.storage.write()?)
    }

    /// Picks up changes other processes wrote to this group. True if anything arrived.
    pub fn refresh(&mut self) -> Result<bool, Error> {
        Ok(self.storage.refresh()?)
    }

    /// The newest known signature of each actor's changes (see
    /// [`GroupStorage::signatures`]).
    pub fn signatures(&self) -> &SignatureBook {
        self.storage.signatures()
    }

    /// Keeps `sig` if it is newer than what is held for `actor`, to be made durable by the next
    /// persist in the same record as the changes it writes; returns whether it was kept (see
    /// [`GroupStorage::record_signature`]).
    pub fn record_signature(&mut self, actor: ActorId, sig: ChangeSignature) -> bool {
        self.storage.record_signature(actor, sig)
    }

    /// What loading had to drop or move aside.
    pub fn warnings(&self) -> &[LoadWarning] {
        self.storage.warnings()
    }
}
