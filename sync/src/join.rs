//! Joining a group with a ticket (`quire/join/1`), both sides.
//!
//! The joiner dials the inviter, presents the ticket's secret and its profile. The inviter's
//! group actor hashes the secret, finds the invite, checks it (unexpired, uses left, the right
//! kind) and, in one change, records the use and adds the member or device. The reply says
//! yes or why not; on yes the stream becomes a sync stream and the whole document flows to
//! the joiner, who writes it to its data dir only once it has all of it.
//!
//! The joiner offers `quire/join/2` and `quire/join/1`; an inviter that speaks the first sends
//! the group as a saved document right after the reply ([`crate::join_bootstrap`]), and sync
//! then brings only what is newer. With an older inviter the whole group flows by sync.

use std::time::Duration;

use automerge::{Automerge, ChangeHash};
use iroh::endpoint::{ConnectOptions, Connection};
use iroh::{Endpoint, EndpointAddr, SecretKey};
use quire_store::SignatureBook;
use quire_store::authority::Authority;
use quire_store::ops::Joiner;
use quire_store::storage::{DataDir, GroupStorage, StorageOptions};
use quire_store::{DeviceId, GroupId, InviteHash, MemberId, doc, session_actor};
use tokio::sync::oneshot;
use tokio::time::timeout;

use crate::error::SyncError;
use crate::frame::{MAX_FRAME, read_frame, write_frame};
use crate::group_actor::GroupMsg;
use crate::group_actor::SessionKind;
use crate::join_bootstrap::{self, Bootstrapped};
use crate::session::{PeerSession, Voucher};
use crate::shared::{Shared, device_of};
use crate::stream::{accept_handshake, pump};
use crate::ticket::{InviteSecret, Ticket, TicketKind};
use crate::wire::{
    self, JOIN_ALPN, JOIN_ALPN_2, JoinReply, JoinRequest, MAX_HANDSHAKE, MAX_NAME, close,
};

/// How long a join may wait for the inviter to connect and answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long the joiner waits for each message of the document.
const MESSAGE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the inviter waits for the joiner's request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A group joined.
#[derive(Debug, Clone)]
pub struct Joined {
    /// The group.
    pub group: GroupId,
    /// Its name.
    pub name: String,
    /// The member this device belongs to.
    pub member: MemberId,
    /// That member's display name.
    pub display_name: String,
}

/// The joiner's side: redeems `ticket` at the inviter over `endpoint`, receives the whole
/// group and writes it into `data`. `display_name` is required for a member ticket and
/// refused for a device ticket.
pub async fn join(
    endpoint: &Endpoint,
    data: &DataDir,
    storage: StorageOptions,
    ticket: &Ticket,
    display_name: Option<String>,
    device_label: String,
) -> Result<Joined, SyncError> {
    join_into(endpoint, data, storage, ticket, display_name, device_label)
        .await
        .map(|(joined, _)| joined)
}

/// [`join`], also handing back the group just written, open, so a node can start syncing it
/// without loading it again.
pub(crate) async fn join_into(
    endpoint: &Endpoint,
    data: &DataDir,
    storage: StorageOptions,
    ticket: &Ticket,
    display_name: Option<String>,
    device_label: String,
) -> Result<(Joined, GroupStorage), SyncError> {
    match (&ticket.kind, &display_name) {
        (TicketKind::Member, None) => {
            return Err(SyncError::JoinFailed(
                "this ticket invites a new member: give your name with --me".into(),
            ));
        }
        (TicketKind::Device, Some(_)) => {
            return Err(SyncError::JoinFailed(
                "this ticket links a device to an existing member: leave out --me".into(),
            ));
        }
        _ => {}
    }
    if data.group_ids()?.contains(&ticket.group) {
        return Err(SyncError::AlreadyJoined(ticket.group.short()));
    }
    // Whatever comes of it, the inviter's address is where this device's node will look for
    // the group's members first.
    crate::peer_book::PeerBook::load(data.root()).keep(&ticket.inviter, jiff::Timestamp::now());
    let conn = connect(endpoint, &ticket.inviter).await?;
    let result = timeout(
        MESSAGE_TIMEOUT * 4,
        receive_group(
            &conn,
            endpoint.secret_key(),
            ticket,
            display_name,
            device_label,
        ),
    )
    .await
    .unwrap_or_else(|_| {
        Err(SyncError::JoinFailed(
            "the inviter stopped answering".into(),
        ))
    });
    let Received {
        doc,
        saved,
        reply,
        signatures,
    } = match result {
        Ok(ok) => ok,
        Err(e) => {
            conn.close(close::DONE.into(), b"join failed");
            return Err(e);
        }
    };
    conn.close(close::DONE.into(), b"joined");
    let name = doc::read_info(&doc)
        .map(|info| info.name)
        .unwrap_or_else(|_| ticket.group.short());
    let created = match saved {
        // The saved document as it came, and whatever sync brought after it: no second save.
        Some((mut snapshot, heads)) => {
            let mut now = doc.get_heads();
            now.sort();
            if now != heads {
                snapshot.extend_from_slice(&doc.save_after(&heads));
            }
            data.create_group_from_snapshot(ticket.group, doc, &snapshot, signatures, storage)?
        }
        None => {
            let snapshot = doc.save();
            data.create_group_from_snapshot(ticket.group, doc, &snapshot, signatures, storage)?
        }
    };
    let (member, display_name) = reply;
    let joined = Joined {
        group: ticket.group,
        name,
        member,
        display_name,
    };
    Ok((joined, created))
}

async fn connect(endpoint: &Endpoint, inviter: &EndpointAddr) -> Result<Connection, SyncError> {
    let tried = describe(inviter);
    let unreachable = |reason: String| SyncError::Unreachable {
        peer: device_of(inviter.id).short(),
        tried: tried.clone(),
        reason,
    };
    // Both versions: the inviter picks the newest it speaks.
    let options = ConnectOptions::new().with_additional_alpns(vec![JOIN_ALPN.to_vec()]);
    let connect = async {
        endpoint
            .connect_with_opts(inviter.clone(), JOIN_ALPN_2, options)
            .await
            .map_err(|e| e.to_string())?
            .await
            .map_err(|e| e.to_string())
    };
    match timeout(CONNECT_TIMEOUT, connect).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(unreachable(e.to_string())),
        Err(_) => Err(unreachable(format!(
            "no answer within {} s",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// "127.0.0.1:4000, relay https://…", or "no address (discovery only)".
pub(crate) fn describe(addr: &EndpointAddr) -> String {
    let mut parts: Vec<String> = addr.ip_addrs().map(|a| a.to_string()).collect();
    parts.extend(addr.relay_urls().map(|r| format!("relay {r}")));
    if parts.is_empty() {
        "no address in the ticket, only discovery".into()
    } else {
        parts.join(", ")
    }
}

/// What a join received: the group, the saved document it started from with that
/// document's sorted heads (if the inviter sent one and it passed the checks), and the member
/// this device joined as, with that member's name.
struct Received {
    doc: Automerge,
    saved: Option<(Vec<u8>, Vec<ChangeHash>)>,
    reply: (MemberId, String),
    /// The signatures that vouch for every change of `doc`.
    signatures: SignatureBook,
}

async fn receive_group(
    conn: &Connection,
    secret: &SecretKey,
    ticket: &Ticket,
    display_name: Option<String>,
    device_label: String,
) -> Result<Received, SyncError> {
    let failed =
        |what: &str, e: &dyn std::fmt::Display| SyncError::JoinFailed(format!("{what}: {e}"));
    let (mut send, mut recv) = conn
        .open_bi()
        .await
        .map_err(|e| failed("cannot open a stream", &e))?;
    let request = JoinRequest {
        group: *ticket.group.as_bytes(),
        secret: *ticket.secret.as_bytes(),
        display_name,
        device_label,
    };
    write_frame(&mut send, &wire::encode(&request))
        .await
        .map_err(|e| failed("cannot send the request", &e))?;
    let reply = read_frame(&mut recv, MAX_HANDSHAKE)
        .await
        .map_err(|e| failed("no answer", &e))?
        .ok_or_else(|| failed("no answer", &"the inviter closed the stream"))?;
    let (member, name) = match wire::decode::<JoinReply>("join reply", &reply)
        .map_err(|e| failed("bad answer", &e))?
    {
        JoinReply::Refused { reason } => return Err(SyncError::Refused(reason)),
        JoinReply::Accepted {
            member,
            display_name,
        } => (MemberId::from_bytes(member), display_name),
    };
    let me = DeviceId::from_bytes(*secret.public().as_bytes());
    let bootstrapped = if conn.alpn() == JOIN_ALPN_2 {
        join_bootstrap::receive(&mut recv, ticket.group, me, MESSAGE_TIMEOUT).await?
    } else {
        Bootstrapped::NotOffered
    };
    let mut session = PeerSession::new(device_of(conn.remote_id()));
    let mut authority = Authority::new();
    let mut book = SignatureBook::new();
    let (mut doc, saved, refused) = match bootstrapped {
        Bootstrapped::Loaded {
            doc,
            saved,
            heads,
            signatures,
        } => {
            session.assume_they_have(&heads);
            book = signatures;
            (*doc, Some((saved, heads)), None)
        }
        Bootstrapped::NotOffered => (Automerge::new().with_actor(session_actor(me)), None, None),
        Bootstrapped::Refused(why) => (
            Automerge::new().with_actor(session_actor(me)),
            None,
            Some(why),
        ),
    };
    // Should sync fail after a refused document, the refusal is likely what went wrong.
    let failed = |what: &str, e: &dyn std::fmt::Display| match &refused {
        None => failed(what, e),
        Some(why) => SyncError::JoinFailed(format!(
            "{what}: {e} (the saved group it sent first was refused: {why})"
        )),
    };
    let limits = crate::sync_check::Limits::default();
    for first in session.outgoing(
        &doc,
        Voucher {
            secret,
            book: &book,
        },
    ) {
        write_frame(&mut send, &first)
            .await
            .map_err(|e| failed("cannot send", &e))?;
    }
    loop {
        let frame = timeout(MESSAGE_TIMEOUT, read_frame(&mut recv, MAX_FRAME))
            .await
            .map_err(|_| failed("the inviter stopped sending the group", &"timed out"))?
            .map_err(|e| failed("receiving the group", &e))?
            .ok_or_else(|| failed("receiving the group", &"the inviter closed the stream"))?;
        let settled = session
            .incoming(&mut doc, &frame, &limits, &mut authority, &book)
            .map_err(|e| failed("receiving the group", &e))?;
        for (actor, sig) in settled.signatures {
            book.record(actor, sig);
        }
        for reply in session.outgoing(
            &doc,
            Voucher {
                secret,
                book: &book,
            },
        ) {
            write_frame(&mut send, &reply)
                .await
                .map_err(|e| failed("cannot send", &e))?;
        }
        let complete = session.their_heads().is_some_and(|theirs| {
            !theirs.is_empty()
                && theirs
                    .iter()
                    .all(|h| doc.get_change_meta_by_hash(h).is_some())
        });
        if complete {
            break;
        }
    }
    if saved.is_some() {
        // The saved group came with signatures we could not check piece by piece: check the
        // whole history now, signatures and rules, before anything is written.
        let (checked, offered) = (doc, book);
        let (verified, checked) = tokio::task::spawn_blocking(move || {
            (crate::verify::verify_history(&checked, &offered), checked)
        })
        .await
        .map_err(|e| failed("checking the group", &e))?;
        doc = checked;
        book = verified.map_err(|e| failed("the group it sent breaks the group's rules", &e))?;
    }
    doc::check_schema(&doc).map_err(|e| failed("the group cannot be read", &e))?;
    let info = doc::read_info(&doc).map_err(|e| failed("the group cannot be read", &e))?;
    if info.id != ticket.group {
        return Err(failed(
            "the inviter sent another group",
            &format!(
                "`{}` instead of `{}`",
                info.id.short(),
                ticket.group.short()
            ),
        ));
    }
    if doc::current_member_of_device(&doc, me).is_none() {
        return Err(failed(
            "the group arrived without this device in it",
            &me.short(),
        ));
    }
    let _ = send.finish();
    Ok(Received {
        doc,
        saved,
        reply: (member, name),
        signatures: book,
    })
}

/// The inviter's side of one join connection.
pub(crate) async fn accept(conn: Connection, shared: std::sync::Arc<Shared>, endpoint: Endpoint) {
    let peer = device_of(conn.remote_id());
    let refuse = |conn: &Connection, reason: &str| {
        tracing::warn!(peer = %peer.short(), reason, "join refused");
        conn.close(close::NOT_A_MEMBER.into(), reason.as_bytes());
    };
    let (mut send, recv, request) =
        match accept_handshake::<JoinRequest>(&conn, "join request", REQUEST_TIMEOUT).await {
            Ok(handshake) => handshake,
            Err(reason) => return refuse(&conn, &reason),
        };
    let answer = |reason: String| JoinReply::Refused { reason };
    let group = GroupId::from_bytes(request.group);
    let too_long = |s: &str| s.chars().count() > MAX_NAME;
    let reply = if request.display_name.as_deref().is_some_and(too_long)
        || too_long(&request.device_label)
    {
        Err(answer(format!("names are at most {MAX_NAME} characters")))
    } else if let Some(actor) = shared.group(group) {
        let hash = InviteHash::from_bytes(InviteSecret::from_bytes(request.secret).hash());
        let joiner = Joiner {
            device: peer,
            device_label: request.device_label,
            new_member: request.display_name.map(|name| (MemberId::random(), name)),
        };
        let (tx, rx) = oneshot::channel();
        if actor
            .send(GroupMsg::Redeem {
                hash,
                joiner,
                reply: tx,
            })
            .await
            .is_err()
        {
            return refuse(&conn, "shutting down");
        }
        match rx.await {
            Ok(Ok(redeemed)) => Ok((
                actor,
                JoinReply::Accepted {
                    member: *redeemed.member.as_bytes(),
                    display_name: redeemed.display_name,
                },
            )),
            Ok(Err(reason)) => Err(answer(reason)),
            Err(_) => return refuse(&conn, "shutting down"),
        }
    } else {
        // Same answer as a wrong secret: a stranger learns nothing about which groups exist.
        Err(answer("no such invite".into()))
    };
    match reply {
        Ok((actor, accepted)) => {
            shared.remember_remote(&endpoint, conn.remote_id()).await;
            if write_frame(&mut send, &wire::encode(&accepted))
                .await
                .is_err()
            {
                return;
            }
            if conn.alpn() == JOIN_ALPN_2
                && !join_bootstrap::send(&mut send, &actor, peer, &shared.traffic).await
            {
                return;
            }
            pump(
                &conn,
                send,
                recv,
                actor,
                peer,
                SessionKind::Joining,
                &shared.traffic,
            )
            .await;
        }
        Err(refused) => {
            if let JoinReply::Refused { reason } = &refused {
                tracing::warn!(peer = %peer.short(), group = %group.short(), reason, "join refused");
            }
            let _ = write_frame(&mut send, &wire::encode(&refused)).await;
            let _ = send.finish();
            // Let the reply reach the joiner before the connection goes.
            let _ = timeout(Duration::from_secs(2), conn.closed()).await;
        }
    }
}
