//! The node: one iroh endpoint for this device, a group actor per group in the data dir, and
//! the tasks that keep them connected.
//!
//! ```text
//!                 ┌── Router ── quire/sync/1 ─┐
//!   peers ◀──────▶│         ── quire/join/1,2 ─┼──▶ group actors (one thread each) ──▶ disk
//!                 │           ── iroh-gossip ──┼──▶ swarm per group: neighbors, announcements
//!                 └── dialer (backoff, fan-out)┘          │
//!   NodeHandle (UI, CLI) ── edit / invite / join / status ┘── SyncEvent ──▶ subscribers
//!   scanner: picks up groups other processes create or join in the data dir
//!   status writer: keeps `node-status.json` current for `quire status` in other processes
//! ```

use std::collections::HashSet;
use std::fs::File;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use iroh::endpoint::presets;
use iroh::protocol::Router;
use iroh::{Endpoint, EndpointAddr, RelayMode, SecretKey};
use iroh_gossip::Gossip;
use jiff::Timestamp;
use quire_store::personal::PersonalDoc;
use quire_store::storage::DataDir;
use quire_store::{DeviceId, Group, GroupId};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::config::{NodeConfig, RelayChoice};
use crate::error::SyncError;
use crate::frame::write_frame;
use crate::gossip::{self, GossipGate};
use crate::group_actor::{self, EditFn, GroupActorHandle, GroupMsg, PersonalFn, SessionKind};
use crate::invite::{InviteOptions, create_ticket};
use crate::join::{self, Joined};
use crate::peer_book::PeerBook;
use crate::protocols::{JoinProtocol, SyncProtocol};
use crate::shared::{Shared, SyncEvent, device_of, endpoint_of};
use crate::status::NodeStatus;
use crate::stream::pump;
use crate::ticket::Ticket;
use crate::wire::{self, SYNC_ALPN, SyncHello, close};

/// The lock file that keeps a second node off the same data dir.
const NODE_LOCK: &str = "node.lock";
/// How often the dialer looks for peers to dial when nothing wakes it.
const DIAL_TICK: Duration = Duration::from_millis(500);
/// How long a dial may take.
const DIAL_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the data dir is scanned for groups other processes created or joined.
const SCAN_TICK: Duration = Duration::from_secs(1);

/// A running sync node. Keep it alive as long as the device should sync; [`Node::shutdown`]
/// closes every connection cleanly.
#[derive(Debug)]
pub struct Node {
    handle: NodeHandle,
    router: Router,
    tasks: JoinSet<()>,
}

/// A cheap, cloneable handle to a running node.
#[derive(Debug, Clone)]
pub struct NodeHandle {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    endpoint: Endpoint,
    data: DataDir,
    config: NodeConfig,
    shared: Arc<Shared>,
    actors: Mutex<Vec<GroupActorHandle>>,
    gossip: Gossip,
    runtime: tokio::runtime::Handle,
    cancel: CancellationToken,
    _lock: File,
}

impl Node {
    /// Starts the node for `config.data_dir`: binds the endpoint, opens every group there and
    /// starts syncing them. Fails if another process already runs a node on that data dir.
    #[must_use = "the node stops syncing when dropped; call shutdown"]
    pub async fn spawn(config: NodeConfig) -> Result<Node, SyncError> {
        let data = DataDir::open(&config.data_dir)?;
        let lock = lock_data_dir(data.root())?;
        let secret = SecretKey::from_bytes(&data.device_secret()?);
        let endpoint = bind_reusing_port(&config, secret.clone(), data.root()).await?;
        let shared = Shared::new(secret, PeerBook::load(data.root()));
        if let Ok(lookup) = endpoint.address_lookup() {
            lookup.add(shared.lookup.clone());
        }
        let gossip = Gossip::builder().spawn(endpoint.clone());
        let inner = Arc::new(Inner {
            endpoint: endpoint.clone(),
            data,
            config,
            shared: shared.clone(),
            actors: Mutex::new(Vec::new()),
            gossip: gossip.clone(),
            runtime: tokio::runtime::Handle::current(),
            cancel: CancellationToken::new(),
            _lock: lock,
        });
        let handle = NodeHandle { inner };
        for id in handle.inner.data.group_ids()? {
            if let Err(e) = handle.start_group(id) {
                tracing::warn!(group = %id.short(), error = %e, "not syncing a group that cannot be opened");
            }
        }
        let router = Router::builder(endpoint.clone())
            .accept(
                SYNC_ALPN,
                SyncProtocol {
                    shared: shared.clone(),
                    endpoint: endpoint.clone(),
                },
            )
            // Registered first, so a joiner offering both gets the saved-document join.
            .accept(
                wire::JOIN_ALPN_2,
                JoinProtocol {
                    shared: shared.clone(),
                    endpoint: endpoint.clone(),
                },
            )
            .accept(
                wire::JOIN_ALPN,
                JoinProtocol {
                    shared: shared.clone(),
                    endpoint: endpoint.clone(),
                },
            )
            .accept(iroh_gossip::ALPN, GossipGate { gossip, shared })
            .spawn();
        // Written once before returning, so `quire invite` right after finds our addresses.
        let status = handle.status().await;
        if let Err(e) = status.save(handle.inner.data.root()) {
            tracing::warn!(error = %e, "cannot write the node status file");
        }
        let mut tasks = JoinSet::new();
        tasks.spawn(dialer(handle.clone()));
        tasks.spawn(scanner(handle.clone()));
        tasks.spawn(status_writer(handle.clone()));
        tracing::info!(device = %handle.device().short(), addrs = %join::describe(&handle.addr()), "sync node started");
        Ok(Node {
            handle,
            router,
            tasks,
        })
    }

    /// A handle to the node.
    pub fn handle(&self) -> NodeHandle {
        self.handle.clone()
    }

    /// Stops the node: stops dialing, closes every connection with a reason, lets each group
    /// actor save what it holds, and closes the endpoint.
    pub async fn shutdown(mut self) {
        let inner = &self.handle.inner;
        inner.cancel.cancel();
        while self.tasks.join_next().await.is_some() {}
        let actors: Vec<GroupActorHandle> =
            std::mem::take(&mut *inner.actors.lock().unwrap_or_else(PoisonError::into_inner));
        for actor in &actors {
            let _ = actor.tx.send(GroupMsg::Shutdown).await;
        }
        inner
            .shared
            .groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        for actor in actors {
            let _ = tokio::task::spawn_blocking(move || actor.thread.join()).await;
        }
        // Give the pumps a moment to send their close frames.
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let Err(e) = self.router.shutdown().await {
            tracing::warn!(error = %e, "router did not shut down cleanly");
        }
        tracing::info!("sync node stopped");
    }
}

impl NodeHandle {
    /// This device.
    pub fn device(&self) -> DeviceId {
        self.inner.shared.me
    }

    /// Where peers can reach this device now.
    pub fn addr(&self) -> EndpointAddr {
        self.inner.endpoint.addr()
    }

    /// The data dir.
    pub fn data(&self) -> &DataDir {
        &self.inner.data
    }

    /// Events from now on: document changes, peers coming and going, refusals.
    pub fn subscribe(&self) -> broadcast::Receiver<SyncEvent> {
        self.inner.shared.events.subscribe()
    }

    /// Runs `f` on `group` on its actor's thread, pushes any change it made to every connected
    /// peer at once, then makes it durable; returns `f`'s result only after that fsync (or the
    /// store's error if it failed). Inside `f`, [`Group::act`] applies its change without the
    /// fsync, which the actor does once the peers have it.
    pub async fn edit<R: Send + 'static>(
        &self,
        group: GroupId,
        f: impl FnOnce(&mut Group) -> R + Send + 'static,
    ) -> Result<R, SyncError> {
        let (tx, rx) = oneshot::channel();
        let run: EditFn = Box::new(move |g: &mut Group| {
            let out = f(g);
            Box::new(move |saved: Result<(), quire_store::Error>| {
                let _ = tx.send(saved.map(|()| out));
            })
        });
        self.send_to(group, GroupMsg::Edit(run)).await?;
        Ok(rx.await.map_err(|_| SyncError::Closed)??)
    }

    /// Runs `f` on this device's personal document in `group` on the group actor's thread; a
    /// change it makes (through [`PersonalDoc`]'s methods, durable when they return) goes to
    /// this member's other devices at once. Fails with [`SyncError::NoPersonal`] if this device
    /// is no member's in the group.
    pub async fn personal<R: Send + 'static>(
        &self,
        group: GroupId,
        f: impl FnOnce(&mut PersonalDoc) -> R + Send + 'static,
    ) -> Result<R, SyncError> {
        let (tx, rx) = oneshot::channel();
        let run: PersonalFn = Box::new(move |doc: &mut PersonalDoc| {
            let _ = tx.send(f(doc));
        });
        self.send_to(group, GroupMsg::Personal(run)).await?;
        rx.await.map_err(|_| SyncError::NoPersonal(group))
    }

    /// Hands `msg` to `group`'s actor.
    async fn send_to(&self, group: GroupId, msg: GroupMsg) -> Result<(), SyncError> {
        let actor = self
            .inner
            .shared
            .group(group)
            .ok_or(SyncError::NoGroup(group))?;
        actor.send(msg).await.map_err(|_| SyncError::Closed)
    }

    /// Makes an invite to `group` and returns its ticket, which carries this node's address.
    pub async fn invite(
        &self,
        group: GroupId,
        options: InviteOptions,
    ) -> Result<Ticket, SyncError> {
        let me = self.addr();
        self.edit(group, move |g| {
            create_ticket(g, me, options, Timestamp::now())
        })
        .await?
        .map_err(SyncError::from)
    }

    /// Joins the group of `ticket` and starts syncing it.
    pub async fn join(
        &self,
        ticket: &Ticket,
        display_name: Option<String>,
        device_label: String,
    ) -> Result<Joined, SyncError> {
        self.remember(&ticket.inviter);
        let (joined, storage) = join::join_into(
            &self.inner.endpoint,
            &self.inner.data,
            self.inner.config.storage,
            ticket,
            display_name,
            device_label,
        )
        .await?;
        // The group is open already: no need to load it from disk again.
        let group = Group::adopt(storage, self.inner.shared.me)?;
        self.start_group_with(joined.group, Some(group))?;
        Ok(joined)
    }

    /// Starts syncing a group created in this data dir after the node started (the node also
    /// finds such groups by itself within a second).
    pub fn open_group(&self, group: GroupId) -> Result<(), SyncError> {
        self.start_group(group)
    }

    /// Tells the node that another handle wrote to `group`, so it reads the change at once
    /// instead of when the file watcher notices.
    pub fn local_change(&self, group: GroupId) {
        if let Some(actor) = self.inner.shared.group(group) {
            let _ = actor.try_send(GroupMsg::Refresh);
        }
    }

    /// Remembers where a peer can be reached, and dials it if it is a member device.
    pub fn add_peer_addr(&self, addr: EndpointAddr) {
        self.remember(&addr);
        self.inner.shared.wake_dialer.notify_one();
    }

    /// Bytes sent and received on sync streams since the node started.
    pub fn traffic(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        let t = &self.inner.shared.traffic;
        (t.sent.load(Relaxed), t.received.load(Relaxed))
    }

    /// This device and every group's peers.
    pub async fn status(&self) -> NodeStatus {
        let actors: Vec<_> = self
            .inner
            .shared
            .groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        let mut groups = Vec::new();
        for actor in actors {
            let (tx, rx) = oneshot::channel();
            if actor.send(GroupMsg::Status { reply: tx }).await.is_err() {
                continue;
            }
            if let Ok(status) = rx.await {
                groups.push(status);
            }
        }
        groups.sort_by(|a, b| a.name.cmp(&b.name));
        let addr = self.addr();
        NodeStatus {
            device: self.device().to_string(),
            addrs: addr.ip_addrs().map(|a| a.to_string()).collect(),
            relay: addr.relay_urls().next().map(|r| r.to_string()),
            pid: std::process::id(),
            updated_at: Timestamp::now(),
            groups,
        }
    }

    fn start_group(&self, id: GroupId) -> Result<(), SyncError> {
        self.start_group_with(id, None)
    }

    /// Starts syncing group `id`, `opened` already or opened here from disk.
    fn start_group_with(&self, id: GroupId, opened: Option<Group>) -> Result<(), SyncError> {
        let shared = &self.inner.shared;
        if shared.group(id).is_some() {
            return Ok(());
        }
        let group = match opened {
            Some(group) => group,
            None => Group::open(&self.inner.data, id, shared.me, self.inner.config.storage)?,
        };
        for warning in group.warnings() {
            tracing::warn!(group = %id.short(), "{warning}");
        }
        let (data, me, options) = (
            self.inner.data.clone(),
            shared.me,
            self.inner.config.storage,
        );
        let reopen = Box::new({
            let data = data.clone();
            move || Group::open(&data, id, me, options)
        });
        let open_personal =
            Box::new(move |member| PersonalDoc::open(&data, id, member, me, options));
        let actor =
            group_actor::spawn(group, shared.clone(), reopen, open_personal).map_err(|source| {
                SyncError::Io {
                    what: "cannot start a thread for group",
                    path: id.to_string(),
                    source,
                }
            })?;
        shared
            .groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, actor.tx.clone());
        self.inner
            .actors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(actor);
        self.inner.runtime.spawn(gossip::run_group(
            self.inner.gossip.clone(),
            shared.clone(),
            id,
            self.inner.config.fanout,
            self.inner.cancel.child_token(),
        ));
        shared.emit(SyncEvent::GroupAdded { group: id });
        shared.wake_dialer.notify_one();
        Ok(())
    }

    fn remember(&self, addr: &EndpointAddr) {
        self.inner.shared.remember(addr);
    }

    /// Whether this node has a way to find `device`: an address in the peer book, or a relay
    /// or mDNS to look it up by.
    fn reachable(&self, device: DeviceId) -> bool {
        let config = &self.inner.config;
        if config.mdns || config.relay != RelayChoice::Off {
            return true;
        }
        self.addr_of(device)
            .is_some_and(|addr| addr.ip_addrs().next().is_some())
    }

    fn addr_of(&self, device: DeviceId) -> Option<EndpointAddr> {
        let id = endpoint_of(device)?;
        let book = self
            .inner
            .shared
            .book
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Some(book.addr_of(id))
    }
}

/// Is a node (`quire serve` or the desktop client) running on the data dir at `root`?
pub fn node_running(root: &Path) -> bool {
    match File::open(root.join(NODE_LOCK)) {
        Ok(file) => file.try_lock_shared().is_err(),
        Err(_) => false,
    }
}

/// Takes the data dir's node lock, or says who holds it.
fn lock_data_dir(root: &Path) -> Result<File, SyncError> {
    let path = root.join(NODE_LOCK);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| SyncError::Io {
            what: "cannot open",
            path: path.display().to_string(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(_) => Err(SyncError::NodeRunning(path.display().to_string())),
    }
}

/// Binds an endpoint for this device as `config` says, for a one-off exchange such as a join
/// from the command line, without the node around it.
pub async fn bind_endpoint(config: &NodeConfig) -> Result<Endpoint, SyncError> {
    let data = DataDir::open(&config.data_dir)?;
    bind(config, SecretKey::from_bytes(&data.device_secret()?), None).await
}

/// Binds like [`bind`], but on the port this data dir's node used last time if the config
/// leaves the port open: peers remember where they last reached us, and a device that comes
/// back on the same port is found again without any discovery service.
async fn bind_reusing_port(
    config: &NodeConfig,
    secret: SecretKey,
    root: &Path,
) -> Result<Endpoint, SyncError> {
    let last_port = NodeStatus::load(root).and_then(|status| {
        status
            .addrs
            .iter()
            .filter_map(|a| a.parse::<std::net::SocketAddr>().ok())
            .map(|a| a.port())
            .find(|p| *p != 0)
    });
    let open_port = config.bind.is_none_or(|addr| addr.port() == 0);
    if let (Some(port), true) = (last_port, open_port) {
        match bind(config, secret.clone(), Some(port)).await {
            Ok(endpoint) => return Ok(endpoint),
            Err(e) => tracing::debug!(port, error = %e, "last port taken; binding another"),
        }
    }
    bind(config, secret, None).await
}

/// A peer that goes silent this long is taken for gone and redialed (QUIC's default is 30 s;
/// members want to see "offline" sooner). Keep-alives every few seconds keep a quiet but
/// healthy connection, and the NAT bindings under it, open.
const IDLE_TIMEOUT: Duration = Duration::from_secs(12);
/// How often a quiet connection sends a keep-alive.
const KEEP_ALIVE: Duration = Duration::from_secs(3);

fn transport_config() -> iroh::endpoint::QuicTransportConfig {
    let builder = iroh::endpoint::QuicTransportConfig::builder().keep_alive_interval(KEEP_ALIVE);
    match IDLE_TIMEOUT.try_into() {
        Ok(timeout) => builder.max_idle_timeout(Some(timeout)),
        Err(_) => builder,
    }
    .build()
}

/// Binds the endpoint as `config` says, on `port` if given and the config names none.
async fn bind(
    config: &NodeConfig,
    secret: SecretKey,
    port: Option<u16>,
) -> Result<Endpoint, SyncError> {
    let mut builder = match &config.relay {
        RelayChoice::Default => Endpoint::builder(presets::N0),
        RelayChoice::Url(url) => {
            Endpoint::builder(presets::N0).relay_mode(RelayMode::custom([url.clone()]))
        }
        RelayChoice::Off => Endpoint::builder(presets::Minimal),
    };
    builder = builder
        .secret_key(secret)
        .alpns(vec![
            SYNC_ALPN.to_vec(),
            wire::JOIN_ALPN_2.to_vec(),
            wire::JOIN_ALPN.to_vec(),
            iroh_gossip::ALPN.to_vec(),
        ])
        .transport_config(transport_config());
    let bad = |addr: std::net::SocketAddr, e: &dyn std::fmt::Display| {
        SyncError::Bind(format!("`{addr}`: {e}"))
    };
    match (config.bind, port) {
        (Some(mut addr), port) => {
            if addr.port() == 0 {
                addr.set_port(port.unwrap_or(0));
            }
            builder = builder
                .clear_ip_transports()
                .bind_addr(addr)
                .map_err(|e| bad(addr, &e))?;
        }
        (None, Some(port)) => {
            // Replaces the default unspecified binds of both families, same port.
            for addr in [
                std::net::SocketAddr::from(([0, 0, 0, 0], port)),
                std::net::SocketAddr::from(([0u16; 8], port)),
            ] {
                builder = builder.bind_addr(addr).map_err(|e| bad(addr, &e))?;
            }
        }
        (None, None) => {}
    }
    if config.mdns {
        builder = builder.address_lookup(iroh_mdns_address_lookup::MdnsAddressLookup::builder());
    }
    builder
        .bind()
        .await
        .map_err(|e| SyncError::Bind(e.to_string()))
}

/// A dialed session the fan-out no longer wants is closed once it is this old (so a pull has
/// time to finish, and a session is not dropped in the instant it was made).
const PRUNE_AFTER: Duration = Duration::from_secs(5);

/// Keeps every group connected as its fan-out wants: dials wanted member devices that are not
/// connected, with backoff, and has the group actors close dialed sessions no longer wanted.
async fn dialer(node: NodeHandle) {
    let inner = node.inner.clone();
    let fanout = inner.config.fanout;
    let me = inner.shared.me;
    let mut backoff: Backoff<(GroupId, DeviceId)> = Backoff::default();
    let mut dialing: HashSet<(GroupId, DeviceId)> = HashSet::new();
    let (done_tx, mut done_rx) = mpsc::channel::<((GroupId, DeviceId), bool)>(64);
    loop {
        tokio::select! {
            _ = inner.cancel.cancelled() => return,
            _ = inner.shared.wake_dialer.notified() => {}
            _ = tokio::time::sleep(DIAL_TICK) => {}
            Some((key, connected)) = done_rx.recv() => {
                dialing.remove(&key);
                if connected { backoff.succeeded(&key) } else { backoff.failed(key, Instant::now()) }
            }
        }
        let now = Instant::now();
        let reachable = |d: DeviceId| node.reachable(d);
        let plan: Vec<(GroupId, Vec<DeviceId>, Vec<DeviceId>)> = inner.shared.with_peers(|peers| {
            peers
                .iter_mut()
                .map(|(g, view)| {
                    view.pulls.retain(|_, until| *until > now);
                    let wanted = fanout.wanted(me, view, now, reachable);
                    let dial = wanted.difference(&view.connected).copied().collect();
                    let prune = view.connected.difference(&wanted).copied().collect();
                    (*g, dial, prune)
                })
                .collect()
        });
        for (group, dial_to, prune) in plan {
            let Some(actor) = inner.shared.group(group) else {
                continue;
            };
            if !prune.is_empty() {
                let _ = actor.try_send(GroupMsg::Prune {
                    peers: prune,
                    older_than: PRUNE_AFTER,
                });
            }
            for device in dial_to {
                let key = (group, device);
                if dialing.contains(&key) || !backoff.ready(&key, now) {
                    continue;
                }
                let Some(addr) = node.addr_of(device) else {
                    continue;
                };
                dialing.insert(key);
                let node = node.clone();
                let done = done_tx.clone();
                let cancel = inner.cancel.clone();
                let actor = actor.clone();
                tokio::spawn(async move {
                    let connected = tokio::select! {
                        _ = cancel.cancelled() => false,
                        c = dial(&node, addr, group, actor) => c,
                    };
                    let _ = done.send((key, connected)).await;
                });
            }
        }
    }
}

/// Dials one peer for one group and pumps the stream until it ends. True if it connected.
async fn dial(
    node: &NodeHandle,
    addr: EndpointAddr,
    group: GroupId,
    actor: mpsc::Sender<GroupMsg>,
) -> bool {
    let endpoint = &node.inner.endpoint;
    let peer = device_of(addr.id);
    let conn = match tokio::time::timeout(DIAL_TIMEOUT, endpoint.connect(addr.clone(), SYNC_ALPN))
        .await
    {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => {
            tracing::debug!(peer = %peer.short(), group = %group.short(), error = %e, tried = %join::describe(&addr), "cannot reach peer");
            return false;
        }
        Err(_) => {
            tracing::debug!(peer = %peer.short(), group = %group.short(), "dial timed out");
            return false;
        }
    };
    let Ok((mut send, recv)) = conn.open_bi().await else {
        return false;
    };
    let hello = wire::encode(&SyncHello {
        group: *group.as_bytes(),
    });
    if write_frame(&mut send, &hello).await.is_err() {
        return false;
    }
    node.inner.shared.remember_remote(endpoint, addr.id).await;
    let accepted = pump(
        &conn,
        send,
        recv,
        actor,
        peer,
        SessionKind::Dialed,
        &node.inner.shared.traffic,
    )
    .await;
    if !accepted {
        conn.close(close::DONE.into(), b"refused");
    }
    accepted
}

/// Starts syncing groups that appear in the data dir (created or joined by other processes).
async fn scanner(node: NodeHandle) {
    let inner = node.inner.clone();
    let mut broken: HashSet<GroupId> = HashSet::new();
    loop {
        tokio::select! {
            _ = inner.cancel.cancelled() => return,
            _ = tokio::time::sleep(SCAN_TICK) => {}
        }
        let Ok(ids) = inner.data.group_ids() else {
            continue;
        };
        for id in ids {
            if inner.shared.group(id).is_some() || broken.contains(&id) {
                continue;
            }
            match node.start_group(id) {
                Ok(()) => {
                    tracing::info!(group = %id.short(), "syncing a group found in the data dir")
                }
                Err(e) => {
                    tracing::warn!(group = %id.short(), error = %e, "cannot open a group found in the data dir");
                    broken.insert(id);
                }
            }
        }
    }
}

/// Keeps `node-status.json` current (at most every 200 ms, at least every 5 s).
async fn status_writer(node: NodeHandle) {
    let inner = node.inner.clone();
    let mut events = node.subscribe();
    loop {
        let status = node.status().await;
        let root = inner.data.root().to_path_buf();
        let written = tokio::task::spawn_blocking(move || status.save(&root)).await;
        if let Ok(Err(e)) = written {
            tracing::warn!(error = %e, "cannot write the node status file");
        }
        tokio::select! {
            _ = inner.cancel.cancelled() => return,
            _ = events.recv() => {}
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        while events.try_recv().is_ok() {}
    }
}
