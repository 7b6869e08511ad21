//! The pump between one QUIC stream and a group actor: frames in go to the actor, frames
//! the actor wants sent go out, and whichever side stops first closes the connection with a
//! code and a reason the other side can log.

use std::sync::Arc;

use iroh::endpoint::{Connection, RecvStream, SendStream};
use quire_store::DeviceId;
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::frame::{FrameError, MAX_FRAME, read_frame, write_frame};
use crate::group_actor::{GroupMsg, OUTBOUND, Outbound, SessionKind, next_session_id};
use crate::shared::Traffic;
use crate::wire::{self, MAX_HANDSHAKE, close};

/// Frames of one session that may wait for the group actor at once.
const IN_FLIGHT: usize = 2;

/// Attaches the stream to the group actor `group` as a session with `peer` and pumps it
/// until either side stops. Returns true if the actor accepted the peer.
pub(crate) async fn pump(
    conn: &Connection,
    mut send: SendStream,
    mut recv: RecvStream,
    group: mpsc::Sender<GroupMsg>,
    peer: DeviceId,
    how: SessionKind,
    traffic: &Traffic,
) -> bool {
    let session = next_session_id();
    let (outbound, mut out_rx) = mpsc::channel(OUTBOUND);
    let (reply, accepted) = oneshot::channel();
    let attach = GroupMsg::Attach {
        session,
        peer,
        how,
        outbound,
        reply,
    };
    if group.send(attach).await.is_err() {
        conn.close(close::SHUTDOWN.into(), b"shutting down");
        return false;
    }
    match accepted.await {
        Ok(Ok(())) => {}
        Ok(Err(reason)) => {
            conn.close(close::NOT_A_MEMBER.into(), reason.as_bytes());
            return false;
        }
        Err(_) => {
            conn.close(close::SHUTDOWN.into(), b"shutting down");
            return false;
        }
    }
    // Each session has at most IN_FLIGHT frames waiting for the actor, so a peer that floods
    // us waits its turn instead of filling the actor's inbox ahead of everyone else.
    let turns = Arc::new(Semaphore::new(IN_FLIGHT));
    let reader = async {
        loop {
            match read_frame(&mut recv, MAX_FRAME).await {
                Ok(Some(bytes)) => {
                    Traffic::count(&traffic.received, bytes.len());
                    let Ok(turn) = turns.clone().acquire_owned().await else {
                        return (close::SHUTDOWN, "shutting down".to_string());
                    };
                    if group
                        .send(GroupMsg::Incoming {
                            session,
                            bytes,
                            turn,
                        })
                        .await
                        .is_err()
                    {
                        return (close::SHUTDOWN, "shutting down".to_string());
                    }
                }
                Ok(None) => return (close::DONE, "peer closed the stream".to_string()),
                Err(FrameError::Io(e)) => {
                    tracing::info!(peer = %peer.short(), error = %e, "connection lost");
                    return (close::DONE, format!("connection lost: {e}"));
                }
                Err(e) => {
                    tracing::warn!(peer = %peer.short(), error = %e, "disconnecting a peer that sent a bad frame");
                    return (close::PROTOCOL, e.to_string());
                }
            }
        }
    };
    let writer = async {
        while let Some(out) = out_rx.recv().await {
            match out {
                Outbound::Frame(bytes) => {
                    Traffic::count(&traffic.sent, bytes.len());
                    if let Err(e) = write_frame(&mut send, &bytes).await {
                        return (close::DONE, format!("cannot send: {e}"));
                    }
                }
                Outbound::Close { code, reason } => return (code, reason),
            }
        }
        (close::SHUTDOWN, "shutting down".to_string())
    };
    let (code, reason) = tokio::select! {
        r = reader => r,
        w = writer => w,
        e = conn.closed() => (close::DONE, format!("connection closed: {e}")),
    };
    let _ = group
        .send(GroupMsg::Detach {
            session,
            reason: reason.clone(),
        })
        .await;
    conn.close(code.into(), reason.as_bytes());
    true
}

/// The first stream a dialer opens and the handshake message it starts with: a `what`
/// (`"hello"`, `"join request"`) decoded as `T`, all within `wait`; or why not, in a line.
pub(crate) async fn accept_handshake<T: serde::de::DeserializeOwned>(
    conn: &Connection,
    what: &str,
    wait: std::time::Duration,
) -> Result<(SendStream, RecvStream, T), String> {
    let missing = || format!("no {what}");
    let (send, mut recv) = match tokio::time::timeout(wait, conn.accept_bi()).await {
        Ok(Ok(streams)) => streams,
        Ok(Err(_)) | Err(_) => return Err(missing()),
    };
    let bytes = match tokio::time::timeout(wait, read_frame(&mut recv, MAX_HANDSHAKE)).await {
        Ok(Ok(Some(bytes))) => bytes,
        Ok(Ok(None)) | Err(_) => return Err(missing()),
        Ok(Err(e)) => return Err(e.to_string()),
    };
    let message = wire::decode::<T>(what, &bytes)?;
    Ok((send, recv, message))
}
