//! The addresses this device last reached each peer at, kept locally (`peers.json` in the
//! data dir), never in the shared document: where a member's laptop was yesterday is nobody
//! else's business, and it goes stale anyway.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use iroh::{EndpointAddr, EndpointId, RelayUrl, TransportAddr};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::atomic_file;

/// File name of the peer book in the data dir.
pub const PEER_BOOK: &str = "peers.json";
/// At most this many addresses are kept per peer.
const MAX_ADDRS: usize = 8;

/// What we remember of one peer's whereabouts.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PeerAddrs {
    /// Direct addresses, most recent first.
    pub addrs: Vec<SocketAddr>,
    /// Its home relay, if it had one.
    pub relay: Option<String>,
    /// When we last reached it.
    pub seen_at: Option<Timestamp>,
}

/// Every peer's last known addresses, keyed by endpoint id (hex).
#[derive(Debug, Default)]
pub struct PeerBook {
    path: PathBuf,
    peers: BTreeMap<String, PeerAddrs>,
}

impl PeerBook {
    /// Loads the book from `data_dir`; a missing or unreadable file is an empty book (it is a
    /// cache: the peers are found again by discovery), with a warning for the unreadable one.
    pub fn load(data_dir: &Path) -> Self {
        let path = data_dir.join(PEER_BOOK);
        let peers = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(path = %path.display(), error = %e, "ignoring unreadable peer book");
                BTreeMap::new()
            }),
            Err(_) => BTreeMap::new(),
        };
        PeerBook { path, peers }
    }

    /// Where to dial `id`: every address we remember.
    pub fn addr_of(&self, id: EndpointId) -> EndpointAddr {
        let mut addr = EndpointAddr::new(id);
        if let Some(known) = self.peers.get(&id.to_string()) {
            addr = addr.with_addrs(known.addrs.iter().map(|a| TransportAddr::Ip(*a)));
            if let Some(relay) = known
                .relay
                .as_deref()
                .and_then(|r| r.parse::<RelayUrl>().ok())
            {
                addr = addr.with_relay_url(relay);
            }
        }
        addr
    }

    /// Every peer in the book, with its addresses.
    pub fn addrs(&self) -> Vec<EndpointAddr> {
        self.peers
            .keys()
            .filter_map(|id| id.parse::<EndpointId>().ok())
            .map(|id| self.addr_of(id))
            .collect()
    }

    /// Remembers `addr` (its addresses first, then the ones we knew). True if anything changed.
    pub fn remember(&mut self, addr: &EndpointAddr, now: Timestamp) -> bool {
        let entry = self.peers.entry(addr.id.to_string()).or_default();
        let before = entry.clone();
        let mut addrs: Vec<SocketAddr> = addr.ip_addrs().copied().collect();
        for old in &entry.addrs {
            if !addrs.contains(old) {
                addrs.push(*old);
            }
        }
        addrs.truncate(MAX_ADDRS);
        entry.addrs = addrs;
        if let Some(relay) = addr.relay_urls().next() {
            entry.relay = Some(relay.to_string());
        }
        let moved = *entry != before;
        entry.seen_at = Some(now);
        moved
    }

    /// Remembers `addr` and writes the book if that changed anything; a failed write is
    /// logged (the book is a cache, and the peer is found again by discovery).
    pub fn keep(&mut self, addr: &EndpointAddr, now: Timestamp) {
        if !self.remember(addr, now) {
            return;
        }
        if let Err(e) = self.save() {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot save the peer book");
        }
    }

    /// Writes the book (atomically: a crash leaves the old one or the new one).
    pub fn save(&self) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(&self.peers).map_err(std::io::Error::other)?;
        atomic_file::write(&self.path, &json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_addresses_across_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let id = iroh::SecretKey::from_bytes(&[3; 32]).public();
        let mut book = PeerBook::load(dir.path());
        assert!(book.addr_of(id).is_empty());
        let a: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:4000".parse().unwrap();
        assert!(book.remember(
            &EndpointAddr::new(id).with_ip_addr(a),
            Timestamp::UNIX_EPOCH
        ));
        assert!(book.remember(
            &EndpointAddr::new(id).with_ip_addr(b),
            Timestamp::UNIX_EPOCH
        ));
        book.save().unwrap();
        let again = PeerBook::load(dir.path());
        let addrs: Vec<_> = again.addr_of(id).ip_addrs().copied().collect();
        assert_eq!(addrs.len(), 2);
        assert!(addrs.contains(&a) && addrs.contains(&b));
    }

    #[test]
    fn a_damaged_book_is_an_empty_one() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(PEER_BOOK), b"{not json").unwrap();
        let id = iroh::SecretKey::from_bytes(&[3; 32]).public();
        assert!(PeerBook::load(dir.path()).addr_of(id).is_empty());
    }
}
