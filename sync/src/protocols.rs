//! The two ALPN handlers the node's router runs for incoming connections.

use std::sync::Arc;
use std::time::Duration;

use iroh::endpoint::Connection;
use iroh::protocol::{AcceptError, ProtocolHandler};
use quire_store::GroupId;

use crate::group_actor::SessionKind;
use crate::shared::{Shared, SyncEvent, device_of};
use crate::stream::{accept_handshake, pump};
use crate::wire::{SyncHello, close};

/// How long a dialer has to name its group.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// `quire/sync/1`: a member device syncing one group.
#[derive(Debug, Clone)]
pub(crate) struct SyncProtocol {
    pub shared: Arc<Shared>,
    pub endpoint: iroh::Endpoint,
}

impl ProtocolHandler for SyncProtocol {
    async fn accept(&self, conn: Connection) -> Result<(), AcceptError> {
        let peer = device_of(conn.remote_id());
        let refuse = |reason: &str| {
            tracing::warn!(peer = %peer.short(), reason, "sync refused");
            self.shared.emit(SyncEvent::Refused {
                device: peer,
                reason: reason.to_string(),
            });
            conn.close(close::NOT_A_MEMBER.into(), reason.as_bytes());
            Ok(())
        };
        let (send, recv, hello) =
            match accept_handshake::<SyncHello>(&conn, "hello", HELLO_TIMEOUT).await {
                Ok(handshake) => handshake,
                Err(reason) => return refuse(&reason),
            };
        let group = GroupId::from_bytes(hello.group);
        // An unknown group gets the same answer as a group the peer is not in.
        let Some(actor) = self.shared.group(group) else {
            return refuse("not a member device of that group");
        };
        let endpoint = self.endpoint.clone();
        let shared = self.shared.clone();
        let id = conn.remote_id();
        tokio::spawn(async move { shared.remember_remote(&endpoint, id).await });
        pump(
            &conn,
            send,
            recv,
            actor,
            peer,
            SessionKind::Accepted,
            &self.shared.traffic,
        )
        .await;
        Ok(())
    }
}

/// `quire/join/2` and `quire/join/1`: a device redeeming an invite (the version agreed is
/// the connection's ALPN).
#[derive(Debug, Clone)]
pub(crate) struct JoinProtocol {
    pub shared: Arc<Shared>,
    pub endpoint: iroh::Endpoint,
}

impl ProtocolHandler for JoinProtocol {
    async fn accept(&self, conn: Connection) -> Result<(), AcceptError> {
        crate::join::accept(conn, self.shared.clone(), self.endpoint.clone()).await;
        Ok(())
    }
}
