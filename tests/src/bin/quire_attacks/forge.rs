//! Bea's modified client: changes written straight into a copy of her document (no
//! operation, no check), signed or not as the attack needs, and framed for `quire/sync/2`.

use std::path::Path;

use anyhow::Context;
use automerge::sync::{ChunkList, Message, MessageVersion};
use automerge::transaction::{CommitOptions, Transaction};
use automerge::{ActorId, Automerge, Change, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, Value};
use iroh::SecretKey;
use jiff::Timestamp;
use quire_store::storage::{DataDir, StorageOptions};
use quire_store::{DeviceId, Group, GroupId, session_actor};
use quire_sync::envelope::{self, Offered};
use quire_sync::signing::sign_change;

/// One raw transaction, as a modified client writes it.
pub type Forgery = Box<dyn FnOnce(&mut Transaction<'_>) -> anyhow::Result<()> + Send>;

/// `f` as a [`Forgery`].
pub fn forge(
    f: impl FnOnce(&mut Transaction<'_>) -> anyhow::Result<()> + Send + 'static,
) -> Forgery {
    Box::new(f)
}

/// Bea's document as her disk holds it, and her device key.
#[derive(Debug)]
pub struct Forger {
    base: Automerge,
    secret: SecretKey,
    /// Bea's device.
    pub device: DeviceId,
}

impl Forger {
    /// Bea's group `group` from her data dir `root` (her node offline).
    pub fn load(root: &Path, group: GroupId) -> anyhow::Result<Forger> {
        let data = DataDir::open(root)?;
        let secret = SecretKey::from_bytes(&data.device_secret()?);
        let device = DeviceId::from_bytes(*secret.public().as_bytes());
        let g = Group::open(&data, group, device, StorageOptions::default())
            .context("opening Bea's group")?;
        Ok(Forger {
            base: g.doc().fork(),
            secret,
            device,
        })
    }

    /// A fresh actor of Bea's device: its changes start at sequence number 1.
    pub fn fresh_actor(&self) -> ActorId {
        session_actor(self.device)
    }

    /// A copy of Bea's document writing as `actor`.
    pub fn fork(&self, actor: ActorId) -> Automerge {
        let mut doc = self.base.fork();
        doc.set_actor(actor);
        doc
    }

    /// Commits each forgery as one change as `actor`, in a chain; returns the changes.
    pub fn changes(&self, actor: ActorId, forgeries: Vec<Forgery>) -> anyhow::Result<Vec<Change>> {
        let mut doc = self.fork(actor);
        let mut out = Vec::with_capacity(forgeries.len());
        for forgery in forgeries {
            out.push(commit(&mut doc, forgery)?);
        }
        Ok(out)
    }

    /// Bea's signature over change `hash`.
    pub fn sign(&self, hash: &ChangeHash) -> [u8; 64] {
        sign_change(&self.secret, hash)
    }

    /// Bea's signature over the last of `changes` (it vouches for the chain before it).
    pub fn vouch(&self, changes: &[Change]) -> Vec<Offered> {
        changes
            .last()
            .map(|c| vec![(c.hash(), self.sign(&c.hash()))])
            .unwrap_or_default()
    }

    /// The map at `path` from the root of Bea's document.
    pub fn map(&self, path: &[&str]) -> anyhow::Result<ObjId> {
        map_at(&self.base, path)
    }
}

/// Commits `forgery` as one change on `doc`, stamped now; the change.
pub fn commit(doc: &mut Automerge, forgery: Forgery) -> anyhow::Result<Change> {
    let mut tx = doc.transaction();
    forgery(&mut tx)?;
    let options = CommitOptions::default().with_time(Timestamp::now().as_second());
    let hash = tx
        .commit_with(options)
        .0
        .context("the forgery made no change")?;
    doc.get_change_by_hash(&hash)
        .context("a change just made is in the document")
}

/// The map at `path` from the document's root (`["members", "<MemberId>", "devices"]`).
pub fn map_at<D: ReadDoc>(doc: &D, path: &[&str]) -> anyhow::Result<ObjId> {
    let mut obj = ROOT;
    for (depth, key) in path.iter().enumerate() {
        obj = match doc.get(&obj, *key) {
            Ok(Some((Value::Object(ObjType::Map), id))) => id,
            _ => anyhow::bail!("no map at {}", path[..=depth].join("/")),
        };
    }
    Ok(obj)
}

/// A `quire/sync/2` frame carrying `chunks` (raw change bytes) with `signatures`; its heads
/// are `heads`.
pub fn frame_of_chunks(
    chunks: Vec<Vec<u8>>,
    heads: Vec<ChangeHash>,
    signatures: &[Offered],
) -> Vec<u8> {
    let mut heads = heads;
    heads.sort();
    let msg = Message {
        heads,
        need: Vec::new(),
        have: Vec::new(),
        changes: ChunkList::from(chunks),
        version: MessageVersion::V1,
        flags: None,
    };
    envelope::encode(&msg.encode(), signatures)
}

/// A frame carrying `changes` (a chain: the last is the head) with `signatures`.
pub fn frame(changes: &[Change], signatures: &[Offered]) -> Vec<u8> {
    let heads = changes.last().map(|c| vec![c.hash()]).unwrap_or_default();
    let chunks = changes.iter().map(|c| c.raw_bytes().to_vec()).collect();
    frame_of_chunks(chunks, heads, signatures)
}
