//! The bootstrap stage of `quire/join/2`, both sides: between the join reply and the first
//! sync message, the inviter sends the group as a saved document ([`crate::bootstrap`] decides
//! what and checks what arrives; [`crate::bootstrap_wire`] frames it).
//!
//! A broken frame (an unknown version, pieces past the offered length, a stalled sender) ends
//! the join: the stream can no longer be read. A document that arrives whole but fails the
//! checks is dropped, and the join goes on by ordinary sync on the same stream, from nothing.

use std::time::Duration;

use automerge::{Automerge, ChangeHash};
use iroh::endpoint::{RecvStream, SendStream};
use quire_store::{DeviceId, GroupId, SignatureBook, session_actor};
use tokio::sync::{mpsc, oneshot};
use tokio::time::timeout;

use crate::bootstrap::{self, Assembly};
use crate::bootstrap_wire::{
    MAX_OFFER, Offer, decode_offer, decode_signatures, encode_offer, encode_pieces,
    encode_signatures,
};
use crate::error::SyncError;
use crate::frame::{MAX_FRAME, read_frame, write_frame};
use crate::group_actor::GroupMsg;
use crate::shared::Traffic;

/// What the joiner made of the bootstrap stage.
#[derive(Debug)]
pub(crate) enum Bootstrapped {
    /// A document that passed every check.
    Loaded {
        /// The group, loaded, acting as this device.
        doc: Box<Automerge>,
        /// The bytes it was loaded from, to be written as the snapshot.
        saved: Vec<u8>,
        /// Its heads.
        heads: Vec<ChangeHash>,
        /// The signatures offered for its changes, not yet verified: the joiner verifies the
        /// whole history, with what sync brings after it, before writing anything.
        signatures: SignatureBook,
    },
    /// No document was offered.
    NotOffered,
    /// A document arrived but was refused; why.
    Refused(String),
}

/// The inviter's side: asks the group's actor what to send and sends it. Returns false if
/// the stream or the actor went away.
pub(crate) async fn send(
    send: &mut SendStream,
    actor: &mpsc::Sender<GroupMsg>,
    peer: DeviceId,
    traffic: &Traffic,
) -> bool {
    let (reply, prepared) = oneshot::channel();
    if actor.send(GroupMsg::Bootstrap { reply }).await.is_err() {
        return false;
    }
    let Ok(prepared) = prepared.await else {
        return false;
    };
    match &prepared.offer {
        Offer::Document { len, .. } => {
            tracing::info!(peer = %peer.short(), bytes = len, "sending the group to a new member as a saved document")
        }
        Offer::Nothing { reason } => {
            tracing::info!(peer = %peer.short(), reason, "sending the group to a new member by sync alone")
        }
    }
    let signatures = match prepared.offer {
        Offer::Document { .. } => Some(encode_signatures(&prepared.signatures)),
        Offer::Nothing { .. } => None,
    };
    let frames = std::iter::once(encode_offer(&prepared.offer))
        .chain(encode_pieces(&prepared.document))
        .chain(signatures);
    for frame in frames {
        Traffic::count(&traffic.sent, frame.len());
        if write_frame(send, &frame).await.is_err() {
            return false;
        }
    }
    true
}

/// The joiner's side: reads the offer and the pieces, each within `wait`, and loads the
/// document as the first copy of `group` on device `me`.
pub(crate) async fn receive(
    recv: &mut RecvStream,
    group: GroupId,
    me: DeviceId,
    wait: Duration,
) -> Result<Bootstrapped, SyncError> {
    let failed = |what: &str, e: &dyn std::fmt::Display| {
        SyncError::JoinFailed(format!("receiving the saved group: {what}: {e}"))
    };
    let offer = next_frame(recv, MAX_OFFER, wait)
        .await
        .map_err(|e| failed("no offer", &e))?;
    let (len, heads) = match decode_offer(&offer).map_err(|e| failed("bad offer", &e))? {
        Offer::Nothing { reason } => {
            tracing::info!(group = %group.short(), reason, "the inviter sends the group by sync alone");
            return Ok(Bootstrapped::NotOffered);
        }
        Offer::Document { len, heads } => (len, heads),
    };
    let mut assembly = Assembly::new(len, heads);
    loop {
        let frame = next_frame(recv, MAX_FRAME, wait)
            .await
            .map_err(|e| failed("a piece", &e))?;
        if assembly.push(&frame).map_err(|e| failed("a piece", &e))? {
            break;
        }
    }
    let frame = next_frame(recv, MAX_FRAME, wait)
        .await
        .map_err(|e| failed("the signatures", &e))?;
    let entries = decode_signatures(&frame).map_err(|e| failed("the signatures", &e))?;
    let mut signatures = SignatureBook::new();
    for (actor, sig) in
        SignatureBook::decode_entries(entries).map_err(|e| failed("the signatures", &e))?
    {
        signatures.record(actor, sig);
    }
    let (saved, heads) = assembly.finish();
    let actor = session_actor(me);
    // Loading takes about a second for a large group: off the async threads.
    let loaded = tokio::task::spawn_blocking(move || {
        let result = bootstrap::load(&saved, &heads, group, actor);
        (result, saved, heads)
    })
    .await;
    match loaded {
        Ok((Ok(doc), saved, heads)) => Ok(Bootstrapped::Loaded {
            doc: Box::new(doc),
            saved,
            heads,
            signatures,
        }),
        Ok((Err(e), _, _)) => {
            tracing::warn!(group = %group.short(), error = %e, "refused the saved group the inviter sent; joining by sync alone");
            Ok(Bootstrapped::Refused(e.to_string()))
        }
        Err(e) => Ok(Bootstrapped::Refused(format!("the loader failed: {e}"))),
    }
}

async fn next_frame(recv: &mut RecvStream, cap: usize, wait: Duration) -> Result<Vec<u8>, String> {
    match timeout(wait, read_frame(recv, cap)).await {
        Err(_) => Err(format!("nothing for {} s", wait.as_secs())),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(None)) => Err("the inviter closed the stream".into()),
        Ok(Ok(Some(frame))) => Ok(frame),
    }
}
