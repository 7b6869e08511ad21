//! One group's actor: the only owner of the open [`Group`] and of every peer session of it.
//!
//! ```text
//!   stream pumps ── Attach / Incoming / Detach ──▶ ┌────────────┐ ── frames ──▶ stream pumps
//!   watcher thread ── Refresh ───────────────────▶ │ GroupActor │
//!   NodeHandle ── Edit / Redeem / Status ────────▶ │ (a thread) │ ── SyncEvent ──▶ subscribers
//!                                                  └────────────┘
//! ```
//! It runs on a thread of its own because every change it accepts is written and fsynced
//! there, and disk waits must not stall the async runtime. Whenever the document moves on,
//! for whatever reason, the set of member devices is read again (a device whose member was
//! removed is disconnected), every connected session is offered the news at once, and only
//! then is the change written, reported and fsynced: a local edit is acknowledged to its
//! caller after that fsync.
//!
//! It also hosts the documents beside the group that this device holds ([`documents`]): its
//! member's personal document, synced on the same sessions with the member's other devices.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use automerge::ChangeHash;
use jiff::Timestamp;
use quire_store::authority::Authority;
use quire_store::ops::{Joiner, Redeemed, redeem_invite};
use quire_store::personal::PersonalDoc;
use quire_store::{DeviceId, Group, GroupId, InviteHash, MemberId, doc};
use tokio::sync::{mpsc, oneshot};

use crate::documents::Hosted;
use crate::envelope;
use crate::fanout::PeerView;
use crate::session::{Distance, PeerSession};
use crate::session::{PeerError, Voucher};
use crate::shared::{Shared, SyncEvent};
use crate::status::{GroupStatus, PeerStatus, RefusedPeer};
use crate::wire::close;

/// Messages waiting for a group actor beyond this make senders wait.
const INBOX: usize = 256;
/// Frames waiting for one peer beyond this disconnect it as too slow.
pub(crate) const OUTBOUND: usize = 256;

/// Two connections between the same devices attached within this time of each other were
/// dialed at once from both sides.
const DIAL_RACE: Duration = Duration::from_secs(3);

/// Identifies one attached stream.
pub(crate) type SessionId = u64;

/// A fresh session id.
pub(crate) fn next_session_id() -> SessionId {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// What a stream pump is told to do.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// Send this frame.
    Frame(Vec<u8>),
    /// Close the connection with this code and reason.
    Close { code: u32, reason: String },
}

/// A closure run on the actor's thread against the group, with the fsync of its changes held
/// back ([`Group::holding_fsync`]); it returns how to answer its caller.
pub(crate) type EditFn = Box<dyn FnOnce(&mut Group) -> EditReply + Send>;

/// Answers an edit's caller, given whether its changes were made durable: called only after
/// the fsync, so a caller never hears of success before the change is safe on this disk.
pub(crate) type EditReply = Box<dyn FnOnce(Result<(), quire_store::Error>) + Send>;

/// A closure run on the actor's thread against this device's personal document in the
/// group; dropped unread (so its caller hears the channel close) if the device has none
/// because it is no member's.
pub(crate) type PersonalFn = Box<dyn FnOnce(&mut PersonalDoc) + Send>;

/// Opens this device's member's personal document in the group.
pub(crate) type OpenPersonal =
    Box<dyn Fn(MemberId) -> Result<PersonalDoc, quire_store::Error> + Send>;

/// The actor's inbox.
pub(crate) enum GroupMsg {
    /// A stream wants to sync with `peer`; refused unless it is a current member device.
    Attach {
        session: SessionId,
        peer: DeviceId,
        how: SessionKind,
        outbound: mpsc::Sender<Outbound>,
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// Frames from a stream, in the order read, holding its session's turn until handled.
    Incoming {
        session: SessionId,
        frames: Vec<Vec<u8>>,
        turn: crate::stream::Turn,
    },
    /// A stream ended.
    Detach { session: SessionId, reason: String },
    /// Another process may have written to the group.
    Refresh,
    /// Run this against the group (a local edit).
    Edit(EditFn),
    /// Run this against this device's personal document (a local edit or a read).
    Personal(PersonalFn),
    /// Redeem an invite for a joining device.
    Redeem {
        hash: InviteHash,
        joiner: Joiner,
        reply: oneshot::Sender<Result<Redeemed, String>>,
    },
    /// The group as a saved document, for a device that just joined.
    Bootstrap {
        reply: oneshot::Sender<crate::bootstrap::Prepared>,
    },
    /// Report the group's sync state.
    Status { reply: oneshot::Sender<GroupStatus> },
    /// Whether the document has all of these changes.
    HasHeads {
        heads: Vec<ChangeHash>,
        reply: oneshot::Sender<bool>,
    },
    /// Close the sessions we dialed to these devices, if open longer than `older_than`: the
    /// fan-out no longer wants them.
    Prune {
        peers: Vec<DeviceId>,
        older_than: Duration,
    },
    /// Close every session and stop.
    Shutdown,
}

impl std::fmt::Debug for GroupMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            GroupMsg::Attach { .. } => "Attach",
            GroupMsg::Incoming { .. } => "Incoming",
            GroupMsg::Detach { .. } => "Detach",
            GroupMsg::Refresh => "Refresh",
            GroupMsg::Edit(_) => "Edit",
            GroupMsg::Personal(_) => "Personal",
            GroupMsg::Redeem { .. } => "Redeem",
            GroupMsg::Bootstrap { .. } => "Bootstrap",
            GroupMsg::Status { .. } => "Status",
            GroupMsg::HasHeads { .. } => "HasHeads",
            GroupMsg::Prune { .. } => "Prune",
            GroupMsg::Shutdown => "Shutdown",
        };
        f.write_str(name)
    }
}

/// How a stream came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SessionKind {
    /// We dialed the peer.
    Dialed,
    /// The peer dialed us.
    Accepted,
    /// The peer just joined on this stream; it carries the whole group to a device that has
    /// nothing yet, and is never dropped as a duplicate of a regular connection.
    Joining,
}

/// One attached stream.
#[derive(Debug)]
struct Attached {
    session: PeerSession,
    how: SessionKind,
    outbound: mpsc::Sender<Outbound>,
    since: std::time::Instant,
}

/// What we remember of a peer across its connections.
#[derive(Debug, Default, Clone)]
struct PeerRecord {
    last_seen: Option<Timestamp>,
    last_synced: Option<Timestamp>,
    their_heads: Option<Vec<ChangeHash>>,
}

/// A running group actor: its inbox and its thread.
#[derive(Debug)]
pub(crate) struct GroupActorHandle {
    pub tx: mpsc::Sender<GroupMsg>,
    pub thread: std::thread::JoinHandle<()>,
}

/// Starts the actor for `group` (and its watcher thread), registered in `shared`.
pub(crate) fn spawn(
    mut group: Group,
    shared: Arc<Shared>,
    reopen: Reopen,
    open_personal: OpenPersonal,
) -> std::io::Result<GroupActorHandle> {
    let (tx, inbox) = mpsc::channel(INBOX);
    // Compacting saves the whole document: done when the actor has nothing else to do, never
    // while peers wait.
    group.hold_compaction();
    let id = group.id();
    let refresh_pending = Arc::new(AtomicBool::new(false));
    match group.storage_mut().watch() {
        Ok(watcher) => {
            let name = format!("quire-watch-{}", id.short());
            start_watching(name, watcher, tx.clone(), refresh_pending.clone())?;
        }
        Err(e) => {
            tracing::warn!(group = %id.short(), error = %e, "cannot watch the group folder; changes from other processes arrive only with the next sync");
        }
    }
    // Facts only grow: every device the group ever had, removed ones included, so a change a
    // device made to a hosted document before its removal is still taken when it arrives.
    let known_devices = quire_store::authority::Facts::read(group.doc(), None).devices;
    let mut actor = GroupActor {
        name: group.name(),
        group,
        id,
        inbox,
        shared: shared.clone(),
        sessions: HashMap::new(),
        records: BTreeMap::new(),
        devices: BTreeMap::new(),
        refresh_pending,
        reopen,
        authority: Authority::new(),
        refused: Vec::new(),
        unsynced_since: None,
        backlog: std::collections::VecDeque::new(),
        compaction_due: false,
        personal: None,
        open_personal,
        known_devices,
        watch_tx: tx.clone(),
    };
    actor.authority.seed(actor.group.doc());
    actor.read_devices();
    let thread = std::thread::Builder::new()
        .name(format!("quire-group-{}", id.short()))
        .spawn(move || actor.run())?;
    Ok(GroupActorHandle { tx, thread })
}

/// Starts a thread called `name` that runs [`watch`].
fn start_watching(
    name: String,
    watcher: quire_store::storage::GroupWatcher,
    tx: mpsc::Sender<GroupMsg>,
    pending: Arc<AtomicBool>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name(name)
        .spawn(move || watch(watcher, tx, pending))
        .map(drop)
}

/// Tells the actor behind `tx` to refresh whenever `watcher` sees another process write,
/// until the actor is gone.
fn watch(
    watcher: quire_store::storage::GroupWatcher,
    tx: mpsc::Sender<GroupMsg>,
    pending: Arc<AtomicBool>,
) {
    loop {
        let woke = watcher.wait(Duration::from_millis(500));
        if tx.is_closed() {
            return;
        }
        if woke
            && !pending.swap(true, Ordering::AcqRel)
            && tx.blocking_send(GroupMsg::Refresh).is_err()
        {
            return;
        }
    }
}

struct GroupActor {
    group: Group,
    id: GroupId,
    name: String,
    inbox: mpsc::Receiver<GroupMsg>,
    shared: Arc<Shared>,
    sessions: HashMap<SessionId, Attached>,
    records: BTreeMap<DeviceId, PeerRecord>,
    /// Current member devices and their members.
    devices: BTreeMap<DeviceId, MemberId>,
    refresh_pending: Arc<AtomicBool>,
    reopen: Reopen,
    /// Judges every change a peer sends against the group at the change's own past.
    authority: Authority,
    /// Peers disconnected for a change the rules refuse, newest last.
    refused: Vec<RefusedPeer>,
    /// Since when peers' changes are written but not yet fsynced, if they are.
    unsynced_since: Option<std::time::Instant>,
    /// Sessions with held changes ready to apply, each waiting for its next turn.
    backlog: std::collections::VecDeque<SessionId>,
    /// Whether something was persisted since compaction was last considered.
    compaction_due: bool,
    /// This device's member's personal document, once the device is a member's.
    personal: Option<Hosted>,
    open_personal: OpenPersonal,
    /// Every device the group has known, with its member: who may write a hosted document.
    known_devices: BTreeMap<DeviceId, MemberId>,
    /// The inbox, for the watcher of a hosted document's folder.
    watch_tx: mpsc::Sender<GroupMsg>,
}

/// The longest peers' changes stay written but not fsynced while more frames keep coming.
const SYNC_EVERY: Duration = Duration::from_millis(200);

/// A turn taking this long is logged (at debug), with what it spent the time on.
const SLOW_TURN: Duration = Duration::from_millis(50);

/// How many refused peers status keeps.
const REFUSED_KEPT: usize = 32;

/// Opens the group again from disk, for when automerge panicked halfway through applying a
/// peer's message and the document in memory can no longer be trusted.
pub(crate) type Reopen = Box<dyn Fn() -> Result<Group, quire_store::Error> + Send>;

impl GroupActor {
    fn run(mut self) {
        tracing::debug!(group = %self.id.short(), "group actor started");
        loop {
            // Sessions with held work take turns with the inbox: one turn each between
            // messages, so no peer's backlog holds up another peer's edit.
            let msg = if self.backlog.is_empty() {
                match self.inbox.blocking_recv() {
                    Some(msg) => msg,
                    None => break,
                }
            } else {
                match self.inbox.try_recv() {
                    Ok(msg) => msg,
                    Err(mpsc::error::TryRecvError::Empty) => {
                        self.next_turn();
                        continue;
                    }
                    Err(mpsc::error::TryRecvError::Disconnected) => break,
                }
            };
            match msg {
                GroupMsg::Attach {
                    session,
                    peer,
                    how,
                    outbound,
                    reply,
                } => {
                    let result = self.attach(session, peer, how, outbound);
                    let _ = reply.send(result);
                }
                GroupMsg::Incoming {
                    session,
                    frames,
                    turn,
                } => {
                    self.settle(session, &frames);
                    drop(turn);
                }
                GroupMsg::Detach { session, reason } => self.detach(session, &reason),
                GroupMsg::Refresh => {
                    self.refresh_pending.store(false, Ordering::Release);
                    self.catch_up_with_disk();
                }
                GroupMsg::Edit(f) => {
                    let before = self.group.doc().get_heads();
                    let reply = self.group.holding_fsync(f);
                    let saved = if self.group.doc().get_heads() != before {
                        self.changed(false)
                    } else {
                        self.persist()
                    };
                    reply(saved);
                }
                GroupMsg::Personal(f) => self.edit_personal(f),
                GroupMsg::Redeem {
                    hash,
                    joiner,
                    reply,
                } => {
                    let _ = reply.send(self.redeem(hash, joiner));
                }
                GroupMsg::Bootstrap { reply } => {
                    let _ = reply.send(crate::bootstrap::prepare_for(
                        &mut self.group,
                        &self.shared.secret,
                    ));
                }
                GroupMsg::Status { reply } => {
                    let _ = reply.send(self.status());
                }
                GroupMsg::HasHeads { heads, reply } => {
                    let doc = self.group.doc();
                    let has = heads
                        .iter()
                        .all(|h| doc.get_change_meta_by_hash(h).is_some());
                    let _ = reply.send(has);
                }
                GroupMsg::Prune { peers, older_than } => self.prune(&peers, older_than),
                GroupMsg::Shutdown => break,
            }
            if !self.backlog.is_empty() {
                self.next_turn();
            }
            if self.unsynced_since.is_some() && self.inbox.is_empty() && self.backlog.is_empty() {
                let _ = self.persist();
                self.unsynced_since = None;
            }
            if self.compaction_due && self.inbox.is_empty() && self.backlog.is_empty() {
                self.compaction_due = false;
                self.group.compact_if_due();
            }
        }
        for (_, attached) in self.sessions.drain() {
            let _ = attached.outbound.try_send(Outbound::Close {
                code: close::SHUTDOWN,
                reason: "shutting down".into(),
            });
        }
        let _ = self.persist();
        self.group.compact_if_due();
        if let Some(hosted) = &mut self.personal {
            let _ = hosted.doc_mut().storage_mut().persist();
        }
        tracing::debug!(group = %self.id.short(), "group actor stopped");
    }

    fn attach(
        &mut self,
        session: SessionId,
        peer: DeviceId,
        how: SessionKind,
        outbound: mpsc::Sender<Outbound>,
    ) -> Result<(), String> {
        self.catch_up_with_disk();
        if !self.devices.contains_key(&peer) {
            let reason = format!(
                "device {} is not a current member device of this group",
                peer.short()
            );
            tracing::warn!(group = %self.id.short(), peer = %peer.short(), "refused: not a member device");
            self.shared.emit(SyncEvent::Refused {
                device: peer,
                reason: reason.clone(),
            });
            return Err(reason);
        }
        let existing = self
            .sessions
            .iter()
            .filter(|_| how != SessionKind::Joining)
            .find(|(_, a)| a.session.peer() == peer && a.how != SessionKind::Joining)
            .map(|(id, a)| (*id, a.how, a.since.elapsed()));
        if let Some((old, old_how, old_age)) = existing {
            // Two connections between the same two devices for one group. When both sides
            // dialed at once, both keep the one dialed by the smaller device id, so they agree
            // without talking. Otherwise the new one wins: a peer dials only when it holds no
            // live connection to us, so the old one is dead and we have not noticed yet.
            let me = self.shared.me;
            let dialer = |how: SessionKind| if how == SessionKind::Dialed { me } else { peer };
            let keep_new = old_how == how || old_age > DIAL_RACE || dialer(how) < dialer(old_how);
            if keep_new {
                self.close(old, close::DUPLICATE, "replaced by a newer connection");
            } else {
                let _ = outbound.try_send(Outbound::Close {
                    code: close::DUPLICATE,
                    reason: "another connection is kept".into(),
                });
                return Ok(());
            }
        }
        tracing::info!(group = %self.id.short(), peer = %peer.short(), ?how, "peer connected");
        self.sessions.insert(
            session,
            Attached {
                session: PeerSession::new(peer),
                how,
                outbound,
                since: std::time::Instant::now(),
            },
        );
        self.records.entry(peer).or_default().last_seen = Some(Timestamp::now());
        self.connected_changed();
        self.shared.emit(SyncEvent::PeerConnected {
            group: self.id,
            device: peer,
        });
        self.offer(session);
        // A joining stream carries only the group, to a device that has nothing yet; the
        // documents beside it travel on the regular connection that follows.
        if let Some(hosted) = &mut self.personal
            && how != SessionKind::Joining
            && hosted.attach(session, peer)
        {
            self.offer_documents(session);
        }
        Ok(())
    }

    /// Takes a batch of frames from `session` (or, with none, goes on applying what it left
    /// held) and handles what came of it once for the whole batch: peers are offered, the log
    /// written and subscribers told once a turn, not once a frame.
    fn settle(&mut self, session: SessionId, frames: &[Vec<u8>]) {
        let (document_frames, frames): (Vec<&Vec<u8>>, Vec<&Vec<u8>>) = frames
            .iter()
            .partition(|f| envelope::document_of(f).is_some());
        // The group first: a device added in this batch may write to a document in it.
        if !frames.is_empty() || document_frames.is_empty() {
            self.settle_group(session, &frames);
        }
        if !document_frames.is_empty() && self.sessions.contains_key(&session) {
            self.settle_documents(session, &document_frames);
        }
    }

    /// [`settle`](Self::settle) for the frames of the group document itself.
    fn settle_group(&mut self, session: SessionId, frames: &[&Vec<u8>]) {
        let Some(attached) = self.sessions.get_mut(&session) else {
            return;
        };
        let peer = attached.session.peer();
        // When the turn had read its frames, from its start.
        let started = std::time::Instant::now();
        let mut received = Duration::ZERO;
        let before = self.group.doc().get_heads();
        let limits = self.shared.limits;
        let authority = &mut self.authority;
        let group = &mut self.group;
        // Our checks refuse every message automerge is known to choke on, but automerge
        // panics on some crafted changes we cannot foresee; a member's device must not be
        // able to take the group down with one.
        let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // What came before a frame that fails its checks is settled, then the failure
            // is the answer.
            let mut messages = Vec::with_capacity(frames.len());
            let mut failed = None;
            for bytes in frames {
                match attached.session.receive(group.doc(), bytes, &limits) {
                    Ok(msg) => messages.push(msg),
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            received = started.elapsed();
            let known = attached
                .session
                .known_signatures(group.storage().signatures());
            let doc = group.storage_mut().doc_mut();
            let settled = if frames.is_empty() {
                attached.session.resume(doc, authority, &known)
            } else {
                attached
                    .session
                    .settle_all(doc, messages, authority, &known)
            };
            if let Ok(settled) = &settled {
                for (actor, sig) in &settled.signatures {
                    group.storage_mut().record_signature(actor.clone(), *sig);
                }
            }
            match failed {
                Some(e) if settled.is_ok() => Err(e),
                _ => settled,
            }
        }));
        let result = match applied {
            Ok(result) => result,
            Err(_) => {
                tracing::error!(group = %self.id.short(), peer = %peer.short(), "automerge panicked on a peer's message; disconnecting it and reloading the group from disk");
                self.close(session, close::PROTOCOL, "sync message broke automerge");
                self.reload();
                return;
            }
        };
        let settled = match result {
            Ok(settled) => settled,
            Err(e) => {
                if let Some(attached) = self.sessions.get_mut(&session) {
                    for (actor, sig) in attached.session.take_signatures() {
                        self.group.storage_mut().record_signature(actor, sig);
                    }
                }
                self.refuse_peer(session, peer, &e);
                if self.group.doc().get_heads() != before {
                    // What came before the refused change passed every check: keep it.
                    let _ = self.changed(true);
                }
                return;
            }
        };
        if settled.more && !self.backlog.contains(&session) {
            self.backlog.push_back(session);
        }
        let now = Timestamp::now();
        let record = self.records.entry(peer).or_default();
        record.last_seen = Some(now);
        if let Some(attached) = self.sessions.get(&session) {
            record.their_heads = attached.session.their_heads().map(<[_]>::to_vec);
        }
        let settled_at = started.elapsed();
        if self.group.doc().get_heads() != before || self.group.storage().has_unsaved_changes() {
            let _ = self.changed(true);
        } else {
            self.offer(session);
        }
        let took = started.elapsed();
        if took >= SLOW_TURN {
            tracing::debug!(
                group = %self.id.short(),
                peer = %peer.short(),
                frames = frames.len(),
                applied = settled.applied,
                more = settled.more,
                receive_ms = received.as_millis() as u64,
                settle_ms = (settled_at - received).as_millis() as u64,
                after_ms = (took - settled_at).as_millis() as u64,
                "a slow turn"
            );
        }
        let in_sync = self
            .sessions
            .get(&session)
            .is_some_and(|a| a.session.in_sync(self.group.doc()));
        if in_sync {
            self.records.entry(peer).or_default().last_synced = Some(now);
        }
    }

    /// Gives the first session with held work its turn.
    fn next_turn(&mut self) {
        if let Some(session) = self.backlog.pop_front() {
            self.settle(session, &[]);
        }
    }

    /// Disconnects a peer whose message failed a check. A change the rules refuse, or one
    /// nobody signed, names the peer in the log, in an event and in status.
    fn refuse_peer(&mut self, session: SessionId, peer: DeviceId, e: &PeerError) {
        let forbidden = matches!(
            e,
            PeerError::Forbidden(_) | PeerError::Unsigned { .. } | PeerError::BadSignature { .. }
        );
        if !forbidden {
            tracing::warn!(group = %self.id.short(), peer = %peer.short(), error = %e, "disconnecting a peer that broke the protocol");
            self.close(session, close::PROTOCOL, &e.to_string());
            return;
        }
        let member = self.devices.get(&peer).copied();
        let name = member.and_then(|m| {
            doc::read_member(self.group.doc(), m)
                .ok()
                .flatten()
                .map(|m| m.profile.display_name)
        });
        let reason = e.to_string();
        tracing::warn!(group = %self.id.short(), peer = %peer.short(), member = name.as_deref().unwrap_or("?"), reason = %reason, "refused a change; disconnecting the peer that sent it");
        self.shared.emit(SyncEvent::ChangeRefused {
            group: self.id,
            device: peer,
            member,
            reason: reason.clone(),
        });
        if self.refused.len() >= REFUSED_KEPT {
            self.refused.remove(0);
        }
        self.refused.push(RefusedPeer {
            device: peer.to_string(),
            member: name,
            reason: reason.clone(),
            at: Timestamp::now(),
        });
        self.close(session, close::FORBIDDEN, &reason);
    }

    fn detach(&mut self, session: SessionId, reason: &str) {
        self.backlog.retain(|s| *s != session);
        if let Some(hosted) = &mut self.personal {
            hosted.detach(session);
        }
        if let Some(attached) = self.sessions.remove(&session) {
            // What it judged and never applied is dropped with it.
            self.authority.done(attached.session.judge());
            let peer = attached.session.peer();
            tracing::info!(group = %self.id.short(), peer = %peer.short(), reason, "peer disconnected");
            self.connected_changed();
            self.shared.emit(SyncEvent::PeerDisconnected {
                group: self.id,
                device: peer,
                reason: reason.to_string(),
            });
        }
    }

    /// Tells a session's pump to close and forgets the session.
    fn close(&mut self, session: SessionId, code: u32, reason: &str) {
        if let Some(attached) = self.sessions.get(&session) {
            let _ = attached.outbound.try_send(Outbound::Close {
                code,
                reason: reason.to_string(),
            });
        }
        self.detach(session, reason);
    }

    /// Sends `session` whatever it needs now, if anything.
    fn offer(&mut self, session: SessionId) {
        let Some(attached) = self.sessions.get_mut(&session) else {
            return;
        };
        let voucher = Voucher {
            secret: &self.shared.secret,
            book: self.group.storage().signatures(),
        };
        let frames = attached.session.outgoing(self.group.doc(), voucher);
        self.send(session, frames);
    }

    /// Hands `frames` to `session`'s pump; a peer too slow to take them is disconnected.
    fn send(&mut self, session: SessionId, frames: Vec<Vec<u8>>) {
        let Some(attached) = self.sessions.get(&session) else {
            return;
        };
        for frame in frames {
            match attached.outbound.try_send(Outbound::Frame(frame)) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    self.close(session, close::TOO_SLOW, "peer is not reading what we send");
                    return;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    self.detach(session, "stream ended");
                    return;
                }
            }
        }
    }

    /// The document moved on: re-read who may sync, tell every peer at once, write it to our
    /// log and tell subscribers, then make it durable. Returns whether that last step worked.
    fn changed(&mut self, from_peer: bool) -> Result<(), quire_store::Error> {
        self.read_devices();
        let gone: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, a)| !self.devices.contains_key(&a.session.peer()))
            .map(|(id, _)| *id)
            .collect();
        for session in gone {
            self.close(
                session,
                close::NOT_A_MEMBER,
                "no longer a member device of this group",
            );
        }
        let sessions: Vec<SessionId> = self.sessions.keys().copied().collect();
        for session in sessions {
            self.offer(session);
        }
        // Peers first, the fsync last: a change from a peer is still on that peer if we crash
        // now, a local edit is on its peers (and is acknowledged only after the fsync), and
        // every hop of a chain would otherwise wait for an fsync. Subscribers (which may read
        // the group from disk) hear of it once it is in our log, where other processes read
        // it; if that write fails they hear after the persist that retries it.
        let written = self.group.write();
        if let Err(e) = &written {
            tracing::warn!(group = %self.id.short(), error = %e, "cannot write changes to the log; persisting them instead");
        } else {
            self.emit_changed(from_peer);
            // More frames wait: a peer's change is safe on that peer, so one fsync serves the
            // whole run of them (at most SYNC_EVERY apart) instead of one each.
            let unsynced = *self
                .unsynced_since
                .get_or_insert_with(std::time::Instant::now);
            let waiting = !self.inbox.is_empty() || !self.backlog.is_empty();
            if from_peer && waiting && unsynced.elapsed() < SYNC_EVERY {
                return Ok(());
            }
        }
        let persisted = self.persist();
        self.unsynced_since = None;
        if written.is_err() {
            self.emit_changed(from_peer);
        }
        persisted
    }

    fn emit_changed(&self, from_peer: bool) {
        self.shared.emit(SyncEvent::DocumentChanged {
            group: self.id,
            heads: self.group.doc().get_heads(),
            from_peer,
        });
    }

    /// Replaces the document in memory with what is on disk (everything before the failed
    /// message was made durable before it arrived).
    fn reload(&mut self) {
        match (self.reopen)() {
            Ok(group) => {
                self.group = group;
                self.group.hold_compaction();
                let _ = self.changed(false);
            }
            Err(e) => {
                tracing::error!(group = %self.id.short(), error = %e, "cannot reload the group; stopping its sync");
                for (_, attached) in self.sessions.drain() {
                    let _ = attached.outbound.try_send(Outbound::Close {
                        code: close::SHUTDOWN,
                        reason: "group unavailable".into(),
                    });
                }
                self.inbox.close();
            }
        }
    }

    /// Makes the group's changes durable; a failure is logged (the changes stay in memory and
    /// are retried with the next change) and returned for a caller that answers someone.
    fn persist(&mut self) -> Result<(), quire_store::Error> {
        self.compaction_due = true;
        let persisted = self.group.persist().map(drop);
        if let Err(e) = &persisted {
            tracing::error!(group = %self.id.short(), error = %e, "cannot save changes; they stay in memory and are retried with the next change");
        }
        persisted
    }

    /// Reads what other processes on this data dir wrote, so a check sees the latest: an
    /// invite just made by `quire invite`, a member just removed by `quire remove-member`.
    fn catch_up_with_disk(&mut self) {
        let refreshed = self.personal.as_mut().map(|h| h.doc_mut().refresh());
        match refreshed {
            Some(Ok(true)) => self.documents_changed(false),
            Some(Err(e)) => {
                tracing::warn!(group = %self.id.short(), error = %e, "cannot read the personal document's changes from other processes")
            }
            _ => {}
        }
        match self.group.refresh() {
            Ok(true) => {
                let _ = self.changed(false);
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(group = %self.id.short(), error = %e, "cannot read changes from other processes")
            }
        }
    }

    fn redeem(&mut self, hash: InviteHash, joiner: Joiner) -> Result<Redeemed, String> {
        self.catch_up_with_disk();
        let device = joiner.device;
        let before = self.group.doc().get_heads();
        let result = redeem_invite(
            self.group.storage_mut().doc_mut(),
            hash,
            joiner,
            Timestamp::now(),
        )
        .map_err(|e| e.to_string())
        .and_then(|redeemed| {
            // Our own write, judged by the rules every peer will judge it by.
            let doc = self.group.doc();
            let refused = doc
                .get_changes(&before)
                .iter()
                .find_map(|change| self.authority.judge_own(doc, change).err());
            match refused {
                None => Ok(redeemed),
                Some(refusal) => {
                    self.reload();
                    Err(refusal.reason)
                }
            }
        });
        match result {
            Ok(redeemed) => {
                let _ = self.persist();
                tracing::info!(group = %self.id.short(), device = %device.short(), member = %redeemed.display_name, "invite redeemed");
                if redeemed.added {
                    let _ = self.changed(false);
                }
                Ok(redeemed)
            }
            Err(e) => {
                tracing::warn!(group = %self.id.short(), device = %device.short(), error = %e, "invite refused");
                self.shared.emit(SyncEvent::Refused {
                    device,
                    reason: e.clone(),
                });
                Err(e)
            }
        }
    }

    fn read_devices(&mut self) {
        self.devices = doc::current_devices(self.group.doc());
        let me = self.shared.me;
        let devices = self.devices.keys().copied().filter(|d| *d != me).collect();
        let my_member = self.devices.get(&me).copied();
        let own = self
            .devices
            .iter()
            .filter(|(d, m)| **d != me && Some(**m) == my_member)
            .map(|(d, _)| *d)
            .collect();
        self.host_documents(my_member);
        let moved = self.shared.with_peers(|peers| {
            let entry = peers.entry(self.id).or_default();
            let moved = entry.devices != devices || entry.own != own;
            entry.devices = devices;
            entry.own = own;
            moved
        });
        if moved {
            self.shared.wake_dialer.notify_one();
        }
    }

    fn prune(&mut self, peers: &[DeviceId], older_than: Duration) {
        let unwanted: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, a)| {
                a.how == SessionKind::Dialed
                    && peers.contains(&a.session.peer())
                    && a.since.elapsed() > older_than
            })
            .map(|(id, _)| *id)
            .collect();
        for session in unwanted {
            self.close(session, close::DONE, "no longer needed by the fan-out");
        }
    }

    fn connected_changed(&mut self) {
        let connected = self.sessions.values().map(|a| a.session.peer()).collect();
        self.shared.with_peers(|peers| {
            peers
                .entry(self.id)
                .or_insert_with(PeerView::default)
                .connected = connected;
        });
    }

    /// Opens this device's member's personal document once the device is a member's, and
    /// tells the hosted documents who may write them.
    fn host_documents(&mut self, my_member: Option<MemberId>) {
        let mut grew = false;
        for (device, member) in &self.devices {
            grew |= self.known_devices.insert(*device, *member).is_none();
        }
        if let Some(hosted) = &mut self.personal {
            if grew {
                hosted.set_devices(self.known_devices.clone());
            }
            return;
        }
        let Some(member) = my_member else {
            return;
        };
        match (self.open_personal)(member) {
            Ok(doc) => {
                let name = format!("quire-watch-{}-personal", self.id.short());
                let (tx, pending) = (self.watch_tx.clone(), self.refresh_pending.clone());
                let watching = doc
                    .storage()
                    .watch()
                    .map_err(|e| e.to_string())
                    .and_then(|w| start_watching(name, w, tx, pending).map_err(|e| e.to_string()));
                if let Err(e) = watching {
                    tracing::warn!(group = %self.id.short(), error = %e, "cannot watch the personal document's folder");
                }
                let me = self.shared.me;
                let mut hosted = Hosted::new(doc, me, self.known_devices.clone());
                let sessions: Vec<(SessionId, DeviceId)> = self
                    .sessions
                    .iter()
                    .filter(|(_, a)| a.how != SessionKind::Joining)
                    .map(|(id, a)| (*id, a.session.peer()))
                    .collect();
                let attached: Vec<SessionId> = sessions
                    .into_iter()
                    .filter(|(id, peer)| hosted.attach(*id, *peer))
                    .map(|(id, _)| id)
                    .collect();
                self.personal = Some(hosted);
                for session in attached {
                    self.offer_documents(session);
                }
            }
            Err(e) => {
                tracing::warn!(group = %self.id.short(), error = %e, "cannot open this member's personal document");
            }
        }
    }

    /// Takes the document frames of a batch from `session`.
    fn settle_documents(&mut self, session: SessionId, frames: &[&Vec<u8>]) {
        let Some(peer) = self.sessions.get(&session).map(|a| a.session.peer()) else {
            return;
        };
        let limits = self.shared.limits;
        let mut applied = 0;
        let mut failed = None;
        for frame in frames {
            let result = match envelope::document_of(frame) {
                None => continue,
                Some(Err(e)) => Err(e.into()),
                Some(Ok((id, inner))) => match &mut self.personal {
                    Some(hosted) if hosted.id() == id && hosted.has_session(session) => {
                        hosted.incoming(session, inner, &limits)
                    }
                    _ => Err(crate::session::PeerError::NotShared { document: id }),
                },
            };
            match result {
                Ok(n) => applied += n,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if applied > 0 {
            self.documents_changed(true);
        } else if failed.is_none() {
            self.offer_documents(session);
        }
        if let Some(e) = failed {
            self.refuse_peer(session, peer, &e);
        }
    }

    /// Sends `session` what it needs of the hosted documents, if anything.
    fn offer_documents(&mut self, session: SessionId) {
        let Some(hosted) = &mut self.personal else {
            return;
        };
        let frames = hosted.outgoing(session, &self.shared.secret);
        self.send(session, frames);
    }

    /// A hosted document moved on: tell its peers, write it, tell subscribers.
    fn documents_changed(&mut self, from_peer: bool) {
        let Some(hosted) = &mut self.personal else {
            return;
        };
        if let Err(e) = hosted.doc_mut().storage_mut().persist() {
            tracing::error!(group = %self.id.short(), error = %e, "cannot save the personal document; its changes stay in memory and are retried with the next");
        }
        for session in hosted.sessions() {
            self.offer_documents(session);
        }
        self.shared.emit(SyncEvent::PersonalChanged {
            group: self.id,
            from_peer,
        });
    }

    /// Runs a local edit (or read) of the personal document; without one, drops it.
    fn edit_personal(&mut self, f: PersonalFn) {
        let Some(hosted) = &mut self.personal else {
            return;
        };
        let before = hosted.doc().storage().doc().get_heads();
        f(hosted.doc_mut());
        if hosted.doc().storage().doc().get_heads() != before {
            self.documents_changed(false);
        }
    }

    fn status(&mut self) -> GroupStatus {
        let doc = self.group.doc();
        let mut skipped = Vec::new();
        let members = doc::read_members(doc, &mut skipped).unwrap_or_default();
        let mut peers = Vec::new();
        for (device, member) in &self.devices {
            if *device == self.shared.me {
                continue;
            }
            let m = members.get(member);
            let record = self.records.get(device).cloned().unwrap_or_default();
            let connected = self.sessions.values().any(|a| a.session.peer() == *device);
            peers.push(PeerStatus {
                device: device.to_string(),
                member: m
                    .map(|m| m.profile.display_name.clone())
                    .unwrap_or_default(),
                label: m
                    .and_then(|m| m.devices.get(device))
                    .map(|d| d.label.clone())
                    .unwrap_or_default(),
                connected,
                last_seen: record.last_seen,
                last_synced: record.last_synced,
                distance: match &record.their_heads {
                    Some(theirs) => crate::session::distance(doc, theirs),
                    None => Distance::Unknown,
                },
            });
        }
        self.name = self.group.name();
        GroupStatus {
            id: self.id.to_string(),
            name: self.name.clone(),
            heads: doc.get_heads().iter().map(|h| h.to_string()).collect(),
            peers,
            refused: self.refused.clone(),
        }
    }
}
