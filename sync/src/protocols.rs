//! The two ALPN handlers the node's router runs for incoming connections.

use std::sync::Arc;
use std::time::{Duration, Instant};

use iroh::endpoint::Connection;
use iroh::protocol::{AcceptError, ProtocolHandler};
use quire_store::GroupId;

use crate::group_actor::SessionKind;
use crate::shared::{Shared, SyncEvent, device_of};
use crate::stream::{NOT_A_MEMBER_REASON, accept_handshake, pump, refuse_not_member};
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
        let named_at = Instant::now();
        let group = GroupId::from_bytes(hello.group);
        // An unknown group gets the same answer, at the same time, as a group the peer is not
        // in (which `pump` refuses once the group actor has checked).
        let Some(actor) = self.shared.group(group) else {
            tracing::warn!(peer = %peer.short(), group = %group.short(), "sync refused: no such group");
            self.shared.emit(SyncEvent::Refused {
                device: peer,
                reason: NOT_A_MEMBER_REASON.to_string(),
            });
            refuse_not_member(&conn, named_at).await;
            return Ok(());
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
