//! How a node reaches the network: relays, address lookup, the socket it binds.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use iroh::RelayUrl;
use quire_store::storage::StorageOptions;

use crate::fanout::Fanout;

/// Which relays the node uses to reach peers behind NATs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayChoice {
    /// n0's public relays and n0's address lookup (DNS / pkarr), iroh's defaults.
    Default,
    /// No relay and no public address lookup: direct addresses and the LAN only.
    Off,
    /// A self-hosted iroh-relay, with n0's address lookup.
    Url(RelayUrl),
}

impl FromStr for RelayChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "default" | "" => Ok(RelayChoice::Default),
            "off" | "none" => Ok(RelayChoice::Off),
            url => url
                .parse::<RelayUrl>()
                .map(RelayChoice::Url)
                .map_err(|e| format!("`{url}` is not `default`, `off` or a relay URL: {e}")),
        }
    }
}

/// Everything a [`crate::Node`] needs to start.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The data dir holding the groups and the device key.
    pub data_dir: PathBuf,
    /// Relays and public address lookup.
    pub relay: RelayChoice,
    /// Find peers on the LAN by mDNS.
    pub mdns: bool,
    /// Bind the endpoint here (IPv4 or IPv6) instead of an ephemeral port on all interfaces.
    pub bind: Option<SocketAddr>,
    /// How the groups are stored.
    pub storage: StorageOptions,
    /// Whom each group keeps sync sessions with.
    pub fanout: Fanout,
}

impl NodeConfig {
    /// A node for `data_dir` that reaches nothing beyond this machine: no relay, no public
    /// lookup, no mDNS, bound to loopback. For tests and benchmarks.
    pub fn loopback(data_dir: impl Into<PathBuf>) -> Self {
        NodeConfig {
            data_dir: data_dir.into(),
            relay: RelayChoice::Off,
            mdns: false,
            bind: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            storage: StorageOptions::default(),
            fanout: Fanout::default(),
        }
    }
}
