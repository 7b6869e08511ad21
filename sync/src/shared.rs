//! State shared between the node's tasks and its group actors: the event channel, which
//! peers each group wants connected, and the registry of running group actors.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use automerge::ChangeHash;
use iroh::EndpointId;
use iroh::address_lookup::memory::MemoryLookup;
use quire_store::{DeviceId, GroupId, MemberId};
use tokio::sync::{Notify, broadcast, mpsc};

use crate::fanout::PeerView;
use crate::group_actor::GroupMsg;
use crate::peer_book::PeerBook;
use crate::sync_check::Limits;

/// Something that happened, for the UI, logs and the status file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncEvent {
    /// A group's document moved on.
    DocumentChanged {
        /// The group.
        group: GroupId,
        /// Its new heads.
        heads: Vec<ChangeHash>,
        /// From a peer (else from this device: an edit here or another local process).
        from_peer: bool,
    },
    /// A member device connected for a group.
    PeerConnected {
        /// The group.
        group: GroupId,
        /// The device.
        device: DeviceId,
    },
    /// A member device went away.
    PeerDisconnected {
        /// The group.
        group: GroupId,
        /// The device.
        device: DeviceId,
        /// Why, as logged.
        reason: String,
    },
    /// A device was refused.
    Refused {
        /// Who.
        device: DeviceId,
        /// Why.
        reason: String,
    },
    /// A peer sent a change the group's rules refuse (or nobody signed): it was disconnected,
    /// and nothing of it was applied, written or relayed.
    ChangeRefused {
        /// The group.
        group: GroupId,
        /// The sending device.
        device: DeviceId,
        /// The sending device's member, if it is a member device.
        member: Option<MemberId>,
        /// What was refused and why.
        reason: String,
    },
    /// This device's personal document in a group moved on.
    PersonalChanged {
        /// The group.
        group: GroupId,
        /// From a peer (one of this member's other devices), else from this device.
        from_peer: bool,
    },
    /// A group started syncing on this node (joined, created, or found on disk).
    GroupAdded {
        /// The group.
        group: GroupId,
    },
}

/// Node-wide state every group actor and task holds a reference to.
#[derive(Debug)]
pub(crate) struct Shared {
    pub me: DeviceId,
    pub secret: iroh::SecretKey,
    pub events: broadcast::Sender<SyncEvent>,
    pub peers: Mutex<BTreeMap<GroupId, PeerView>>,
    pub wake_dialer: Notify,
    pub limits: Limits,
    pub groups: Mutex<HashMap<GroupId, mpsc::Sender<GroupMsg>>>,
    pub book: Mutex<PeerBook>,
    /// The peer book as an address lookup of the endpoint, so gossip can reach members by id.
    pub lookup: MemoryLookup,
    pub traffic: Traffic,
}

/// Bytes of sync streams (frames with their length prefixes), both ways, since the node
/// started.
#[derive(Debug, Default)]
pub struct Traffic {
    /// Sent to peers.
    pub sent: std::sync::atomic::AtomicU64,
    /// Received from peers.
    pub received: std::sync::atomic::AtomicU64,
}

impl Traffic {
    /// Counts a frame of `len` payload bytes.
    pub fn count(counter: &std::sync::atomic::AtomicU64, len: usize) {
        counter.fetch_add(len as u64 + 4, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Shared {
    pub fn new(secret: iroh::SecretKey, book: PeerBook) -> Arc<Self> {
        Arc::new(Shared {
            me: DeviceId::from_bytes(*secret.public().as_bytes()),
            secret,
            events: broadcast::channel(1024).0,
            peers: Mutex::new(BTreeMap::new()),
            wake_dialer: Notify::new(),
            limits: Limits::default(),
            groups: Mutex::new(HashMap::new()),
            lookup: lookup_of(&book),
            book: Mutex::new(book),
            traffic: Traffic::default(),
        })
    }

    pub fn emit(&self, event: SyncEvent) {
        // No subscriber is fine: events are for whoever listens.
        let _ = self.events.send(event);
    }

    pub fn group(&self, id: GroupId) -> Option<mpsc::Sender<GroupMsg>> {
        self.groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .cloned()
    }

    /// Remembers where a peer was reached (in the local peer book, never the document).
    pub fn remember(&self, addr: &iroh::EndpointAddr) {
        let mut book = self.book.lock().unwrap_or_else(PoisonError::into_inner);
        book.keep(addr, jiff::Timestamp::now());
        self.lookup.add_endpoint_info(book.addr_of(addr.id));
    }

    /// Remembers the addresses iroh saw a connected peer at.
    pub async fn remember_remote(&self, endpoint: &iroh::Endpoint, id: EndpointId) {
        if let Some(info) = endpoint.remote_info(id).await {
            let ips = info
                .into_addrs()
                .map(|a| a.into_addr())
                .filter(|a| a.is_ip());
            self.remember(&iroh::EndpointAddr::from_parts(id, ips));
        }
    }

    /// Whether `device` is a current member device of any group here.
    pub fn is_member_device(&self, device: DeviceId) -> bool {
        self.with_peers(|peers| peers.values().any(|v| v.devices.contains(&device)))
    }

    pub fn with_peers<R>(&self, f: impl FnOnce(&mut BTreeMap<GroupId, PeerView>) -> R) -> R {
        f(&mut self.peers.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Every address in `book`, as an address lookup.
fn lookup_of(book: &PeerBook) -> MemoryLookup {
    let lookup = MemoryLookup::new();
    for addr in book.addrs() {
        lookup.add_endpoint_info(addr);
    }
    lookup
}

/// The device an iroh endpoint id stands for: the same 32 bytes.
pub fn device_of(id: EndpointId) -> DeviceId {
    DeviceId::from_bytes(*id.as_bytes())
}

/// The iroh endpoint id of a device, if its bytes are a valid key.
pub fn endpoint_of(device: DeviceId) -> Option<EndpointId> {
    EndpointId::from_bytes(device.as_bytes()).ok()
}
