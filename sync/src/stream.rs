//! The pump between one QUIC stream and a group actor: frames in go to the actor, frames
//! the actor wants sent go out, and whichever side stops first closes the connection with a
//! code and a reason the other side can log.
//!
//! A device that is not a member device of the group it named is refused with
//! [`refuse_not_member`], whether the group is here or not: the same close code and reason at
//! the same time after the hello, so that a stranger cannot tell which groups exist.

use std::sync::Arc;
use std::time::{Duration, Instant};

use iroh::endpoint::{Connection, RecvStream, SendStream};
use quire_store::DeviceId;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use crate::frame::{FrameError, MAX_FRAME, read_frame, write_frame};
use crate::group_actor::{GroupMsg, OUTBOUND, Outbound, SessionKind, next_session_id};
use crate::shared::Traffic;
use crate::wire::{self, MAX_HANDSHAKE, close};

/// Bytes of one session's frames read off its stream and not yet handled by the group actor
/// (each frame counted as at least [`FRAME_COST`]): what a peer can make us hold beyond the
/// frame being read.
const BUFFERED: usize = 2 * MAX_FRAME;

/// What a frame counts for against [`BUFFERED`] at the least, so that many tiny frames are
/// bounded too.
const FRAME_COST: usize = 512;

/// Most frames the group actor takes from one session in one turn.
pub(crate) const BATCH_FRAMES: usize = 64;

/// Bytes past which no more frames join a turn's batch (a frame larger than this is a batch
/// of its own).
const BATCH_BYTES: usize = 1024 * 1024;

/// A frame read off the stream, holding its share of [`BUFFERED`].
struct Read {
    bytes: Vec<u8>,
    held: OwnedSemaphorePermit,
}

/// What a batch of frames holds until the group actor has handled it: the session's one
/// turn, and the frames' share of its buffer.
pub(crate) struct Turn {
    _turn: OwnedSemaphorePermit,
    _held: Vec<OwnedSemaphorePermit>,
}

/// The permits a frame of `len` bytes takes.
fn charge(len: usize) -> u32 {
    // A frame is at most MAX_FRAME, far below u32::MAX.
    len.clamp(FRAME_COST, BUFFERED) as u32
}

/// The reason every refused sync dial is closed with: the group is not here, or the dialer is
/// not one of its current member devices. Which one is logged here, never told.
pub(crate) const NOT_A_MEMBER_REASON: &str = "not a member device of that group";

/// How long after a dialer names its group its refusal is sent, at the earliest. A group that
/// is not here is refused after a map lookup, a dialer that is not one of its devices after the
/// group actor has read what is new on disk; both wait until this much time has passed, so the
/// difference does not show. Far above the actor's check, and short for a refused device that
/// will dial again later anyway.
pub(crate) const REFUSAL_PACE: Duration = Duration::from_millis(200);

/// Refuses a dialer that is not a member device of the group it named (or that named a group
/// not here) at `named_at` + [`REFUSAL_PACE`]: closes with [`close::NOT_A_MEMBER`] and
/// [`NOT_A_MEMBER_REASON`], the same bytes either way.
pub(crate) async fn refuse_not_member(conn: &Connection, named_at: Instant) {
    tokio::time::sleep_until((named_at + REFUSAL_PACE).into()).await;
    conn.close(close::NOT_A_MEMBER.into(), NOT_A_MEMBER_REASON.as_bytes());
}

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
    let named_at = Instant::now();
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
            // The actor logged who and why; the peer is told no more than a stranger.
            tracing::debug!(peer = %peer.short(), reason, "attach refused");
            refuse_not_member(conn, named_at).await;
            return false;
        }
        Err(_) => {
            conn.close(close::SHUTDOWN.into(), b"shutting down");
            return false;
        }
    }
    // The reader takes frames off the stream as fast as they come, up to BUFFERED bytes; the
    // forwarder hands the actor everything read so far as one batch, one batch of a session in
    // the actor's inbox at a time. A peer that floods us waits its turn instead of filling the
    // inbox ahead of everyone else, and a peer whose frames are small and many (acknowledging
    // another's flood) has them all taken in its next turn instead of queued up in the stream,
    // where its next edit would wait behind every one of them.
    let turns = Arc::new(Semaphore::new(1));
    let budget = Arc::new(Semaphore::new(BUFFERED));
    let (frames_tx, mut frames_rx) = mpsc::unbounded_channel::<Read>();
    let reader = async {
        loop {
            match read_frame(&mut recv, MAX_FRAME).await {
                Ok(Some(bytes)) => {
                    Traffic::count(&traffic.received, bytes.len());
                    let cost = charge(bytes.len());
                    let Ok(held) = budget.clone().acquire_many_owned(cost).await else {
                        return (close::SHUTDOWN, "shutting down".to_string());
                    };
                    if frames_tx.send(Read { bytes, held }).is_err() {
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
    let forwarder = async {
        while let Some(first) = frames_rx.recv().await {
            let Ok(turn) = turns.clone().acquire_owned().await else {
                break;
            };
            let mut size = first.bytes.len();
            let mut batch = vec![first];
            while batch.len() < BATCH_FRAMES && size < BATCH_BYTES {
                match frames_rx.try_recv() {
                    Ok(next) => {
                        size += next.bytes.len();
                        batch.push(next);
                    }
                    Err(_) => break,
                }
            }
            let (frames, held): (Vec<Vec<u8>>, Vec<_>) =
                batch.into_iter().map(|r| (r.bytes, r.held)).unzip();
            let incoming = GroupMsg::Incoming {
                session,
                frames,
                turn: Turn {
                    _turn: turn,
                    _held: held,
                },
            };
            if group.send(incoming).await.is_err() {
                break;
            }
        }
        (close::SHUTDOWN, "shutting down".to_string())
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
        f = forwarder => f,
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
