//! Bea's device speaking `quire/sync/2` by hand: an endpoint with her device key (her node is
//! offline), a connection to the victim naming the group, then whatever frames the attack
//! makes. What the victim sends back is read and dropped, as a real peer would read it, so the
//! victim never stalls on us.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use iroh::endpoint::{Connection, ConnectionError, SendStream};
use iroh::{Endpoint, EndpointAddr};
use quire_store::GroupId;
use quire_sync::NodeConfig;
use quire_sync::frame::{MAX_FRAME, read_frame, write_frame};
use quire_sync::wire::{self, SYNC_ALPN, SyncHello};

/// Bea's endpoint, for any number of connections to the victim.
#[derive(Debug)]
pub struct RawPeer {
    endpoint: Endpoint,
}

/// How the victim ended a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    /// The application close code (6: a change refused; 2: the protocol broken), if it closed
    /// the connection that way.
    pub code: Option<u64>,
    /// The reason it gave, or how the connection ended otherwise.
    pub reason: String,
}

/// One connection to the victim for the group.
#[derive(Debug)]
pub struct RawSession {
    conn: Connection,
    send: SendStream,
}

impl RawPeer {
    /// Binds an endpoint with the device key of the data dir `root`, loopback only.
    pub async fn bind(root: &Path) -> anyhow::Result<RawPeer> {
        let endpoint = quire_sync::bind_endpoint(&NodeConfig::loopback(root))
            .await
            .context("binding Bea's raw endpoint")?;
        Ok(RawPeer { endpoint })
    }

    /// Connects to `target`, names `group` and starts reading what comes back.
    pub async fn session(
        &self,
        target: EndpointAddr,
        group: GroupId,
    ) -> anyhow::Result<RawSession> {
        let conn = self
            .endpoint
            .connect(target, SYNC_ALPN)
            .await
            .context("connecting to the victim")?;
        let (mut send, mut recv) = conn.open_bi().await.context("opening the sync stream")?;
        let hello = wire::encode(&SyncHello {
            group: *group.as_bytes(),
        });
        write_frame(&mut send, &hello).await?;
        tokio::spawn(
            async move { while let Ok(Some(_)) = read_frame(&mut recv, MAX_FRAME).await {} },
        );
        Ok(RawSession { conn, send })
    }

    /// Closes the endpoint.
    pub async fn close(self) {
        self.endpoint.close().await;
    }
}

impl RawSession {
    /// Sends one frame; fails once the victim has closed the connection.
    pub async fn send(&mut self, frame: &[u8]) -> anyhow::Result<()> {
        write_frame(&mut self.send, frame).await?;
        Ok(())
    }

    /// How the connection ended, if it has.
    pub fn closed_now(&self) -> Option<Closed> {
        self.conn.close_reason().map(closed)
    }

    /// Waits up to `limit` for the victim to end the connection.
    pub async fn closed_within(&self, limit: Duration) -> Option<Closed> {
        tokio::time::timeout(limit, self.conn.closed())
            .await
            .ok()
            .map(closed)
    }

    /// Ends the connection from our side (if the victim has not).
    pub fn hang_up(&self) {
        self.conn.close(0u32.into(), b"done");
    }
}

fn closed(err: ConnectionError) -> Closed {
    match err {
        ConnectionError::ApplicationClosed(close) => Closed {
            code: Some(close.error_code.into_inner()),
            reason: String::from_utf8_lossy(&close.reason).into_owned(),
        },
        other => Closed {
            code: None,
            reason: other.to_string(),
        },
    }
}
