use std::path::Path;
use std::time::{Duration, Instant};

use automerge::ChangeHash;
use jiff::Timestamp;
use quire_store::doc::ProfilePatch;
use quire_store::ops::{self, NewGroup, NewMember};
use quire_store::storage::{DataDir, StorageOptions};
use quire_store::{DeviceId, Group, GroupId, MemberId};
use quire_sync::{InviteOptions, Node, NodeConfig, NodeHandle, Ticket};
use tempfile::TempDir;

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
}

/// Waits (up to 20 s) until every peer has the same heads for `group`; panics with the
/// heads otherwise.
pub async fn converge(group: GroupId, peers: &[&Peer]) {
    let deadline = Instant::now() + Duration::from_secs(20);
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
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
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
