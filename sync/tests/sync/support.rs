use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::{Duration, Instant};

use automerge::transaction::{CommitOptions, Transaction};
use automerge::{ActorId, Automerge, Change, ChangeHash, ObjId, ObjType, ROOT, Value};
use jiff::Timestamp;
use quire_store::doc::ProfilePatch;
use quire_store::model::Member;
use quire_store::ops::{self, NewGroup, NewMember};
use quire_store::storage::{DataDir, StorageOptions};
use quire_store::{DeviceId, Group, GroupId, MemberId};
use quire_sync::status::GroupStatus;
use quire_sync::{InviteOptions, Node, NodeConfig, NodeHandle, Ticket};
use tempfile::TempDir;

/// How long the tests that wait on several round trips between three nodes give each wait:
/// the machines they run on are slow and shared.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// One raw transaction, as a modified client writes it straight into the document.
pub type Forgery = Box<dyn FnOnce(&mut Transaction<'_>) + Send>;

/// `f` as a [`Forgery`] (boxing here lets the closure's argument type be inferred).
pub fn forge(f: impl FnOnce(&mut Transaction<'_>) + Send + 'static) -> Forgery {
    Box::new(f)
}

/// A device: a data dir and, while online, a node.
pub struct Peer {
    pub name: String,
    dir: TempDir,
    pub node: Option<Node>,
}

impl Peer {
    /// A device with an empty data dir, offline.
    pub fn new(name: &str) -> Peer {
        Peer {
            name: name.to_string(),
            dir: tempfile::tempdir().unwrap(),
            node: None,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn data(&self) -> DataDir {
        DataDir::open(self.dir.path()).unwrap()
    }

    pub fn device(&self) -> DeviceId {
        let secret = self.data().device_secret().unwrap();
        let public = iroh::SecretKey::from_bytes(&secret).public();
        DeviceId::from_bytes(*public.as_bytes())
    }

    /// Founds a group on this device (offline, as `quire init` does).
    pub fn found(&self, group_name: &str) -> GroupId {
        let new = NewGroup {
            id: GroupId::random(),
            name: group_name.to_string(),
            description: String::new(),
            rules: Default::default(),
            founder: NewMember {
                id: MemberId::random(),
                display_name: self.name.clone(),
                device: self.device(),
                device_label: format!("{}'s laptop", self.name),
            },
        };
        let group = Group::create(
            &self.data(),
            new,
            StorageOptions::default(),
            Timestamp::now(),
        )
        .unwrap();
        group.id()
    }

    /// Starts this device's node.
    pub async fn online(&mut self) -> NodeHandle {
        self.online_with(quire_sync::Fanout::default()).await
    }

    /// Starts this device's node with `fanout` instead of the default.
    pub async fn online_with(&mut self, fanout: quire_sync::Fanout) -> NodeHandle {
        let config = NodeConfig {
            fanout,
            ..NodeConfig::loopback(self.path())
        };
        let node = Node::spawn(config).await.unwrap();
        let handle = node.handle();
        self.node = Some(node);
        handle
    }

    /// Stops this device's node cleanly.
    pub async fn offline(&mut self) {
        if let Some(node) = self.node.take() {
            node.shutdown().await;
        }
    }

    pub fn handle(&self) -> NodeHandle {
        self.node.as_ref().expect("peer is online").handle()
    }

    /// An invite to `group` from this (online) device.
    pub async fn invite(&self, group: GroupId, options: InviteOptions) -> Ticket {
        self.handle().invite(group, options).await.unwrap()
    }

    /// Joins with `ticket` as a new member called by this peer's name.
    pub async fn join(&self, ticket: &Ticket) -> Result<quire_sync::Joined, quire_sync::SyncError> {
        self.handle()
            .join(
                ticket,
                Some(self.name.clone()),
                format!("{}'s laptop", self.name),
            )
            .await
    }

    /// Edits this device's profile bio through the node (pushed to peers at once).
    pub async fn set_bio(&self, group: GroupId, bio: &str) {
        let bio = bio.to_string();
        self.handle()
            .edit(group, move |g| {
                g.act(|doc, me| {
                    let patch = ProfilePatch {
                        bio: Some(bio),
                        ..Default::default()
                    };
                    ops::update_profile(doc, me, patch, Timestamp::now())
                })
            })
            .await
            .unwrap()
            .unwrap();
    }

    /// Edits the bio on disk, as another process (`quire profile`) would, node or not.
    pub fn set_bio_on_disk(&self, group: GroupId, bio: &str) {
        let mut g = self.open(group);
        let patch = ProfilePatch {
            bio: Some(bio.to_string()),
            ..Default::default()
        };
        g.act(|doc, me| ops::update_profile(doc, me, patch, Timestamp::now()))
            .unwrap();
    }

    /// Opens the group from disk.
    pub fn open(&self, group: GroupId) -> Group {
        Group::open(
            &self.data(),
            group,
            self.device(),
            StorageOptions::default(),
        )
        .unwrap()
    }

    /// The group's heads as the node (or, offline, the disk) holds them.
    pub async fn heads(&self, group: GroupId) -> Vec<ChangeHash> {
        match &self.node {
            Some(node) => {
                let mut heads = node
                    .handle()
                    .edit(group, |g| g.doc().get_heads())
                    .await
                    .unwrap_or_default();
                heads.sort();
                heads
            }
            None => {
                let mut heads = self.open(group).doc().get_heads();
                heads.sort();
                heads
            }
        }
    }

    /// Reads the group through the node.
    pub async fn model(&self, group: GroupId) -> quire_store::model::Group {
        self.handle()
            .edit(group, |g| g.read().unwrap())
            .await
            .unwrap()
    }

    /// Does the data dir hold `group`?
    pub fn has_group(&self, group: GroupId) -> bool {
        self.data().group_ids().unwrap().contains(&group)
    }

    /// Runs `f` on the group's raw automerge document inside the node's group actor, as a
    /// modified client would: no operation, no check. The node's edit path then writes the
    /// result and offers it to the connected peers like any local edit. A panic in `f` is
    /// caught there (so it cannot take the node's group actor down) and raised here.
    pub async fn raw_doc<R: Send + 'static>(
        &self,
        group: GroupId,
        f: impl FnOnce(&mut Automerge) -> R + Send + 'static,
    ) -> R {
        let out = self
            .handle()
            .edit(group, move |g: &mut Group| {
                let doc = g.storage_mut().doc_mut();
                catch_unwind(AssertUnwindSafe(|| f(doc))).map_err(|panic| {
                    panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default()
                })
            })
            .await
            .expect("the node takes the raw edit");
        match out {
            Ok(out) => out,
            Err(panic) => panic!("the raw edit on {}'s device panicked: {panic}", self.name),
        }
    }

    /// Commits `forgery` as one raw change under this device's own session actor (so the
    /// node can sign it as its own) and returns the change's hash once the node holds it.
    pub async fn raw_edit(
        &self,
        group: GroupId,
        forgery: impl FnOnce(&mut Transaction<'_>) + Send + 'static,
    ) -> ChangeHash {
        self.raw_edits(group, vec![Box::new(forgery)]).await[0]
    }

    /// Commits each forgery as its own raw change, one after the other, in one edit of the
    /// node: a chain the node offers its peers together.
    pub async fn raw_edits(&self, group: GroupId, forgeries: Vec<Forgery>) -> Vec<ChangeHash> {
        let count = forgeries.len();
        let hashes = self
            .raw_doc(group, move |doc| {
                forgeries
                    .into_iter()
                    .filter_map(|f| commit_raw(doc, f))
                    .collect::<Vec<_>>()
            })
            .await;
        assert_eq!(hashes.len(), count, "every forgery made a change");
        hashes
    }

    /// Commits `forgery` as one raw change under `actor` instead of this device's own actor
    /// (then writes as itself again) and returns its hash.
    pub async fn raw_edit_as(
        &self,
        group: GroupId,
        actor: ActorId,
        forgery: impl FnOnce(&mut Transaction<'_>) + Send + 'static,
    ) -> ChangeHash {
        self.raw_doc(group, move |doc| {
            let own = doc.get_actor().clone();
            doc.set_actor(actor);
            let hash = commit_raw(doc, forgery);
            doc.set_actor(own);
            hash
        })
        .await
        .expect("the forgery made a change")
    }

    /// Applies `changes` to the node's document as they are, as if they had arrived by some
    /// other way than this node's sync.
    pub async fn apply_raw_changes(&self, group: GroupId, changes: Vec<Change>) {
        self.raw_doc(group, move |doc| doc.apply_changes(changes))
            .await
            .expect("the changes apply");
    }

    /// Does the node's document hold the change `hash`?
    pub async fn has_change(&self, group: GroupId, hash: ChangeHash) -> bool {
        self.handle()
            .edit(group, move |g| {
                g.doc().get_change_meta_by_hash(&hash).is_some()
            })
            .await
            .expect("the node answers")
    }

    /// The member called `display_name`, as the node sees the group.
    pub async fn member(&self, group: GroupId, display_name: &str) -> Member {
        let model = self.model(group).await;
        let found = model
            .members
            .into_values()
            .find(|m| m.profile.display_name == display_name);
        found.unwrap_or_else(|| panic!("{} knows no member `{display_name}`", self.name))
    }

    /// The id of the member called `display_name`, as the node sees the group.
    pub async fn member_id(&self, group: GroupId, display_name: &str) -> MemberId {
        self.member(group, display_name).await.id
    }

    /// Gives this node `other`'s current address (it dials `other` if it is a member device).
    pub fn introduce(&self, other: &Peer) {
        self.handle().add_peer_addr(other.handle().addr());
    }

    /// The node's status of `group`.
    pub async fn group_status(&self, group: GroupId) -> GroupStatus {
        let id = group.to_string();
        let status = self.handle().status().await;
        let found = status.groups.into_iter().find(|g| g.id == id);
        found.unwrap_or_else(|| panic!("{}'s node does not sync {id}", self.name))
    }

    /// Is the node connected to `device` for `group` now?
    pub async fn connected_to(&self, group: GroupId, device: DeviceId) -> bool {
        let device = device.to_string();
        self.group_status(group)
            .await
            .peers
            .iter()
            .any(|p| p.device == device && p.connected)
    }
}

/// Commits `forgery` as one transaction on `doc`, stamped now, under the doc's current
/// actor; the hash of the change, if it made one.
pub fn commit_raw(
    doc: &mut Automerge,
    forgery: impl FnOnce(&mut Transaction<'_>),
) -> Option<ChangeHash> {
    let mut tx = doc.transaction();
    forgery(&mut tx);
    let options = CommitOptions::default().with_time(Timestamp::now().as_second());
    tx.commit_with(options).0
}

/// The map at `path` from the document's root (`["members", "<MemberId>", "devices"]`);
/// panics naming the path if there is none.
pub fn map_at<D: automerge::ReadDoc>(doc: &D, path: &[&str]) -> ObjId {
    let mut obj = ROOT;
    for (depth, key) in path.iter().enumerate() {
        obj = match doc.get(&obj, *key) {
            Ok(Some((Value::Object(ObjType::Map), id))) => id,
            _ => panic!("no map at {}", path[..=depth].join("/")),
        };
    }
    obj
}

/// Waits (up to 20 s) until every peer has the same heads for `group`; panics with the
/// heads otherwise.
pub async fn converge(group: GroupId, peers: &[&Peer]) {
    converge_within(group, peers, Duration::from_secs(20)).await
}

/// [`converge`], waiting up to `limit`.
pub async fn converge_within(group: GroupId, peers: &[&Peer], limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let mut all = Vec::new();
        for p in peers {
            all.push(p.heads(group).await);
        }
        if all.windows(2).all(|w| w[0] == w[1]) {
            return;
        }
        if Instant::now() > deadline {
            panic!("peers did not converge: {all:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `check` holds, up to 20 s.
pub async fn eventually<F, Fut>(what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    eventually_within(what, Duration::from_secs(20), check).await
}

/// [`eventually`], waiting up to `limit`.
pub async fn eventually_within<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        if Instant::now() > deadline {
            panic!("timed out waiting until {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The bio of `member_name` as `peer` sees it.
pub async fn bio_of(peer: &Peer, group: GroupId, member_name: &str) -> Option<String> {
    let model = peer.model(group).await;
    model
        .members
        .values()
        .find(|m| m.profile.display_name == member_name)
        .map(|m| m.profile.bio.clone())
}

/// A group founded by `a` (online) with `b` joined (online), converged.
pub async fn pair(a: &mut Peer, b: &mut Peer) -> GroupId {
    let group = a.found("Tuesday Writers");
    a.online().await;
    b.online().await;
    let ticket = a.invite(group, InviteOptions::default()).await;
    b.join(&ticket).await.unwrap();
    converge(group, &[a, b]).await;
    group
}

/// A raw sync dial from `from`'s device to `target` naming `group`, as a modified client
/// makes it: the hello sent, the streams open. A second endpoint with the same key is fine
/// for a one-off dial.
pub async fn dial_as(
    from: &Peer,
    target: &Peer,
    group: GroupId,
) -> (
    iroh::Endpoint,
    iroh::endpoint::Connection,
    iroh::endpoint::SendStream,
    iroh::endpoint::RecvStream,
) {
    let mut config = NodeConfig::loopback(from.path());
    config.bind = Some("127.0.0.1:0".parse().unwrap());
    let endpoint = quire_sync::bind_endpoint(&config).await.unwrap();
    let conn = endpoint
        .connect(target.handle().addr(), quire_sync::wire::SYNC_ALPN)
        .await
        .unwrap();
    let (mut send, recv) = conn.open_bi().await.unwrap();
    let hello = quire_sync::wire::encode(&quire_sync::wire::SyncHello {
        group: *group.as_bytes(),
    });
    quire_sync::frame::write_frame(&mut send, &hello)
        .await
        .unwrap();
    (endpoint, conn, send, recv)
}
