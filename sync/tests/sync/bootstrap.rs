use std::io::Write;
use std::time::Duration;

use automerge::Automerge;
use iroh::Endpoint;
use jiff::{SignedDuration, Timestamp};
use quire_store::ops::{self, NewGroup, NewMember};
use quire_store::{GroupId, MemberId};
use quire_sync::bootstrap_wire::{Offer, encode_offer, encode_pieces, encode_signatures};
use quire_sync::frame::{MAX_FRAME, read_frame, write_frame};
use quire_sync::wire::{self, JOIN_ALPN, JOIN_ALPN_2, JoinReply, JoinRequest, MAX_HANDSHAKE};
use quire_sync::{InviteOptions, InviteSecret, NodeConfig, SyncError, Ticket, TicketKind};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

use crate::support::{Peer, converge};

// ---- honest inviters ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_member_gets_the_snapshot_as_it_is_and_then_whatever_is_newer() {
    let mut a = Peer::new("Ada");
    let mut b = Peer::new("Bea");
    let group = a.found("Tuesday Writers");
    a.set_bio_on_disk(group, "writes at night");
    let snapshot = std::fs::read(a.data().group_path(group).join("snapshot.automerge")).unwrap();
    a.online().await;
    b.online().await;
    let ticket = a.invite(group, InviteOptions::default()).await;
    b.join(&ticket).await.unwrap();

    // Joined as soon as `join` returns: B's copy holds the redeeming change and the bio, which
    // only sync could bring, on top of A's snapshot, which came as it was.
    let written = std::fs::read(b.data().group_path(group).join("snapshot.automerge")).unwrap();
    assert!(
        written.starts_with(&snapshot) && written.len() > snapshot.len(),
        "B's snapshot is A's ({} bytes) and the changes after it ({} bytes in all)",
        snapshot.len(),
        written.len()
    );
    converge(group, &[&a, &b]).await;
    assert_eq!(a.model(group).await, b.model(group).await);
    let on_disk = b.open(group).read().unwrap();
    assert_eq!(on_disk, a.model(group).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joiner_of_the_first_protocol_is_still_served_by_sync_alone() {
    let mut a = Peer::new("Ada");
    let old = Peer::new("Old");
    let group = a.found("Tuesday Writers");
    a.online().await;
    let ticket = a.invite(group, InviteOptions::default()).await;
    let endpoint = quire_sync::bind_endpoint(&NodeConfig::loopback(old.path()))
        .await
        .unwrap();
    let conn = endpoint
        .connect(ticket.inviter.clone(), JOIN_ALPN)
        .await
        .unwrap();
    let (mut send, mut recv) = conn.open_bi().await.unwrap();
    let request = JoinRequest {
        group: *group.as_bytes(),
        secret: *ticket.secret.as_bytes(),
        display_name: Some("Old".into()),
        device_label: "old build".into(),
    };
    write_frame(&mut send, &wire::encode(&request))
        .await
        .unwrap();
    let reply = read_frame(&mut recv, MAX_HANDSHAKE).await.unwrap().unwrap();
    assert!(matches!(
        wire::decode::<JoinReply>("join reply", &reply).unwrap(),
        JoinReply::Accepted { .. }
    ));
    let next = read_frame(&mut recv, MAX_FRAME).await.unwrap().unwrap();
    assert_eq!(next[0], 0x51, "a signed sync frame, not a bootstrap frame");
    endpoint.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inviter_of_the_first_protocol_is_joined_by_it() {
    let mut b = Peer::new("Bea");
    b.online().await;
    let (inviter, ticket) = FakeInviter::start(JOIN_ALPN, Vec::new()).await;
    let err = b.join(&ticket).await.unwrap_err();
    assert_eq!(
        inviter.alpn().await,
        JOIN_ALPN,
        "the older protocol was agreed"
    );
    // The fake answers yes and then hangs up: no bootstrap frame was expected.
    assert!(
        err.to_string().contains("receiving the group"),
        "sync, not a bootstrap, was under way: {err}"
    );
    assert!(!err.to_string().contains("saved group"), "{err}");
    assert!(!b.has_group(ticket.group));
}

// ---- hostile inviters ----

/// Joins `b` with a fake inviter that sends `frames` after saying yes; returns the error,
/// having checked that nothing of the group was written and the join did not hang.
async fn refused(frames: Vec<Vec<u8>>) -> String {
    let mut b = Peer::new("Bea");
    b.online().await;
    let (_inviter, ticket) = FakeInviter::start(JOIN_ALPN_2, frames).await;
    let joined = tokio::time::timeout(Duration::from_secs(60), b.join(&ticket))
        .await
        .expect("the join ends instead of hanging");
    let err = match joined {
        Err(SyncError::JoinFailed(e)) => e,
        other => panic!("expected the join to fail, got {other:?}"),
    };
    assert!(!b.has_group(ticket.group), "nothing written: {err}");
    let groups = std::fs::read_dir(b.path().join("groups")).unwrap().count();
    assert_eq!(groups, 0, "no group folder, finished or not: {err}");
    b.offline().await;
    err
}

/// An offer of `document` with `heads`, then its pieces, then (no) signatures.
fn offered(document: &[u8], heads: Vec<automerge::ChangeHash>) -> Vec<Vec<u8>> {
    let offer = Offer::Document {
        len: document.len() as u64,
        heads,
    };
    std::iter::once(encode_offer(&offer))
        .chain(encode_pieces(document))
        .chain(std::iter::once(encode_signatures(
            &quire_store::SignatureBook::encode_entries(std::iter::empty()),
        )))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deflate_bomb_is_refused_before_it_inflates() {
    // 256 MiB of zeros in a deflated op column: a few hundred KiB on the wire.
    let mut encoder =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    let zeros = vec![0u8; 1024 * 1024];
    for _ in 0..256 {
        encoder.write_all(&zeros).unwrap();
    }
    let bomb = document_chunk(
        &[vec![1; 16]],
        &[],
        &[(2 << 4 | 1 << 3 | 1, encoder.finish().unwrap())],
    );
    let err = refused(offered(&bomb, Vec::new())).await;
    assert!(err.contains("inflates past the"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_claiming_billions_of_ops_are_refused() {
    let mut column = Vec::new();
    sleb(&mut column, 4_000_000_000);
    leb(&mut column, 0);
    let forged = document_chunk(&[vec![1; 16]], &[], &[(2 << 4 | 1, column)]);
    let err = refused(offered(&forged, Vec::new())).await;
    assert!(err.contains("claims 4000000000 entries"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_document_is_refused() {
    let saved = other_group().save();
    let cut = &saved[..saved.len() / 2];
    let err = refused(offered(cut, Vec::new())).await;
    assert!(err.contains("saved document truncated"), "{err}");

    // And one that stops arriving halfway.
    let mut frames = offered(&saved, Vec::new());
    frames.truncate(1);
    let err = refused(frames).await;
    assert!(err.contains("the inviter closed the stream"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_of_another_group_is_refused() {
    let doc = other_group();
    let err = refused(offered(&doc.save(), doc.get_heads())).await;
    assert!(err.contains("the saved document is group `"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_unknown_versions_are_refused() {
    let err = refused(offered(b"not an automerge document at all", Vec::new())).await;
    assert!(err.contains("bad magic bytes"), "{err}");

    let mut offer = encode_offer(&Offer::Nothing {
        reason: "from the future".into(),
    });
    offer[0] = 9;
    let err = refused(vec![offer]).await;
    assert!(err.contains("bootstrap version 9 not understood"), "{err}");
}

// ---- the fake inviter ----

/// An endpoint that speaks one join ALPN and, to the first joiner, answers yes, sends its
/// frames, reads one frame back and hangs up.
struct FakeInviter {
    _dir: TempDir,
    endpoint: Endpoint,
    task: tokio::task::JoinHandle<Vec<u8>>,
}

impl FakeInviter {
    async fn start(alpn: &[u8], frames: Vec<Vec<u8>>) -> (FakeInviter, Ticket) {
        let dir = tempfile::tempdir().unwrap();
        let endpoint = quire_sync::bind_endpoint(&NodeConfig::loopback(dir.path()))
            .await
            .unwrap();
        endpoint.set_alpns(vec![alpn.to_vec()]);
        let ticket = Ticket {
            group: GroupId::random(),
            inviter: endpoint.addr(),
            secret: InviteSecret::random(),
            expires_at: Timestamp::now() + SignedDuration::from_hours(1),
            kind: TicketKind::Member,
        };
        let accepting = endpoint.clone();
        let task = tokio::spawn(async move {
            let conn = accepting.accept().await.unwrap().await.unwrap();
            let alpn = conn.alpn().to_vec();
            let (mut send, mut recv) = conn.accept_bi().await.unwrap();
            read_frame(&mut recv, MAX_HANDSHAKE).await.unwrap();
            let yes = JoinReply::Accepted {
                member: [1; 16],
                display_name: "Bea".into(),
            };
            write_frame(&mut send, &wire::encode(&yes)).await.unwrap();
            for frame in frames {
                if write_frame(&mut send, &frame).await.is_err() {
                    return alpn;
                }
            }
            let _ = tokio::time::timeout(Duration::from_secs(2), read_frame(&mut recv, MAX_FRAME))
                .await;
            let _ = send.finish();
            let _ = tokio::time::timeout(Duration::from_secs(10), conn.closed()).await;
            alpn
        });
        (
            FakeInviter {
                _dir: dir,
                endpoint,
                task,
            },
            ticket,
        )
    }

    /// The ALPN the joiner and the fake agreed on.
    async fn alpn(self) -> Vec<u8> {
        let alpn = self.task.await.unwrap();
        self.endpoint.close().await;
        alpn
    }
}

/// A real group document, of a group no ticket here names.
fn other_group() -> Automerge {
    let new = NewGroup {
        id: GroupId::random(),
        name: "Elsewhere".into(),
        description: String::new(),
        rules: Default::default(),
        founder: NewMember {
            id: MemberId::random(),
            display_name: "Zed".into(),
            device: quire_store::DeviceId::from_bytes([5; 32]),
            device_label: "Zed's laptop".into(),
        },
    };
    ops::create_group(new, automerge::ActorId::random(), Timestamp::now()).unwrap()
}

fn leb(out: &mut Vec<u8>, v: u64) {
    leb128::write::unsigned(out, v).expect("a Vec takes every byte");
}

fn sleb(out: &mut Vec<u8>, v: i64) {
    leb128::write::signed(out, v).expect("a Vec takes every byte");
}

/// A document chunk with `actors`, `heads`, no change columns and the op columns `ops`
/// (spec, data), with a correct checksum.
fn document_chunk(actors: &[Vec<u8>], heads: &[[u8; 32]], ops: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut data = Vec::new();
    leb(&mut data, actors.len() as u64);
    for a in actors {
        leb(&mut data, a.len() as u64);
        data.extend_from_slice(a);
    }
    leb(&mut data, heads.len() as u64);
    for h in heads {
        data.extend_from_slice(h);
    }
    leb(&mut data, 0);
    leb(&mut data, ops.len() as u64);
    for (spec, col) in ops {
        leb(&mut data, u64::from(*spec));
        leb(&mut data, col.len() as u64);
    }
    for (_, col) in ops {
        data.extend_from_slice(col);
    }
    let mut typed = vec![0u8];
    leb(&mut typed, data.len() as u64);
    let digest = Sha256::new()
        .chain_update(&typed)
        .chain_update(&data)
        .finalize();
    let mut out = vec![0x85, 0x6f, 0x4a, 0x83];
    out.extend_from_slice(&digest[..4]);
    out.extend_from_slice(&typed);
    out.extend_from_slice(&data);
    out
}
