//! The fuzz corpus, replayed on every test run.
//!
//! The fuzz targets in `fuzz/` run harnesses kept in `fuzz/src/`; this module compiles the very
//! same files and feeds them every checked-in input under `fuzz/corpus/<target>/` (the seeds,
//! and the crashers the fuzzer found, kept as `crash-<what it broke>`), so CI catches a
//! regression without building anything with sanitizers. The harnesses name this crate's
//! modules as `crate::…`, as the fuzz crate re-exports them. See RELIABILITY.md, "Fuzzing".
//!
//! `cargo test -p quire-sync fuzz_regressions::write_seed_corpus -- --ignored` writes the seeds
//! afresh.

#[path = "../../fuzz/src/fixtures.rs"]
pub(crate) mod fixtures;
#[path = "../../fuzz/src/frames.rs"]
mod frames;
#[path = "../../fuzz/src/handshake.rs"]
mod handshake;
#[path = "../../fuzz/src/hostile_document.rs"]
mod hostile_document;
#[path = "../../fuzz/src/load_chunks.rs"]
mod load_chunks;
#[path = "../../fuzz/src/saved_document.rs"]
pub(crate) mod saved_document;
#[path = "../../fuzz/src/sync_message.rs"]
pub(crate) mod sync_message;
#[path = "../../fuzz/src/tickets.rs"]
mod tickets;

use std::fs;
use std::path::PathBuf;

/// A harness: one input in, a panic if it found a bug.
type Harness = fn(&[u8]);

/// Each target with its harness.
const TARGETS: [(&str, Harness); 7] = [
    ("sync_message", sync_message::run),
    ("frame", frames::run),
    ("ticket", tickets::run),
    ("handshake", handshake::run),
    ("hostile_document", hostile_document::run),
    ("load_chunks", load_chunks::run),
    ("saved_document", saved_document::run),
];

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

/// The checked-in inputs of `target`: seeds and kept crashers, sorted by name.
fn checked_in(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(target);
    let mut inputs: Vec<(String, Vec<u8>)> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("no corpus at {}: {e}", dir.display()))
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let kept = name.starts_with("seed-") || name.starts_with("crash-");
            let bytes = fs::read(entry.path()).ok()?;
            kept.then_some((name, bytes))
        })
        .collect();
    inputs.sort();
    inputs
}

#[test]
fn checked_in_corpus_replays_without_panics() {
    for (target, run) in TARGETS {
        let inputs = checked_in(target);
        assert!(!inputs.is_empty(), "no seeds for fuzz target {target}");
        for (name, bytes) in inputs {
            let outcome = std::panic::catch_unwind(|| run(&bytes));
            assert!(outcome.is_ok(), "fuzz/corpus/{target}/{name} panicked");
        }
    }
}

/// Writes the seed corpus from honest traffic and files: every target starts from inputs that
/// get deep, and the mutations do the rest.
#[test]
#[ignore = "writes fuzz/corpus; run by hand when the formats change"]
fn write_seed_corpus() {
    for (target, seeds) in [
        ("sync_message", seeds::sync_messages()),
        ("frame", seeds::frames()),
        ("ticket", seeds::tickets()),
        ("handshake", seeds::handshakes()),
        ("hostile_document", seeds::hostile_documents()),
        ("load_chunks", seeds::load_chunks()),
        ("saved_document", seeds::saved_documents()),
    ] {
        let dir = corpus_dir(target);
        fs::create_dir_all(&dir).expect("corpus dir");
        for (name, bytes) in seeds {
            fs::write(dir.join(format!("seed-{name}")), bytes).expect("write seed");
        }
    }
}

mod seeds {
    use std::str::FromStr;

    use automerge::Automerge;
    use automerge::transaction::Transactable;
    use iroh::{EndpointAddr, RelayUrl, SecretKey, TransportAddr};

    use super::fixtures;
    use crate::session::PeerSession;
    use crate::sync_check::Limits;
    use crate::ticket::{InviteSecret, Ticket, TicketKind};
    use crate::wire::{JoinReply, JoinRequest, SyncHello, encode};

    type Seeds = Vec<(String, Vec<u8>)>;

    /// Every message of two syncs: the group to an empty device, and two diverged copies.
    pub fn sync_messages() -> Seeds {
        let mut out = Vec::new();
        let group = fixtures::small_group();
        let mut edited = group.fork();
        let mut tx = edited.transaction();
        tx.put(automerge::ROOT, "note", "diverged").expect("put");
        tx.commit();
        for (label, mut a, mut b) in [
            ("join", group.clone(), Automerge::new()),
            ("diverged", group, edited),
        ] {
            let (mut sa, mut sb) = (
                PeerSession::new(fixtures::device(1)),
                PeerSession::new(fixtures::device(0)),
            );
            for round in 0..6 {
                let to_b = pass(&mut sa, &a, &mut sb, &mut b);
                let to_a = pass(&mut sb, &b, &mut sa, &mut a);
                for (side, messages) in [("a", to_b), ("b", to_a)] {
                    for (part, m) in messages.into_iter().enumerate() {
                        // Mode 1 fixes checksums up after mutation; mode 0 leaves them.
                        let mode = u8::from(m.len() > 200);
                        let name = format!("{label}-{round}-{side}{part}");
                        out.push((name, [&[mode], &m[..]].concat()));
                    }
                }
            }
        }
        // The op bomb of issue 13: one change of 301 bytes claiming 2^24 ops. Mode 1 fixes
        // the checksum after mutation, so mutated runs reach the op count check.
        let bomb = super::sync_message::op_bomb(1 << 24, 301);
        out.push(("op-bomb".into(), [&[1][..], &bomb].concat()));
        out
    }

    /// Sends what `from` has to say to `to`; returns the messages.
    fn pass(
        from: &mut PeerSession,
        doc_from: &Automerge,
        to: &mut PeerSession,
        doc_to: &mut Automerge,
    ) -> Vec<Vec<u8>> {
        // Seeds need not be accepted: the fixture's devices have no keys to sign with.
        let secret = SecretKey::from_bytes(&[3; 32]);
        let book = quire_store::SignatureBook::new();
        let voucher = crate::session::Voucher {
            secret: &secret,
            book: &book,
        };
        let messages = from.outgoing(doc_from, voucher);
        for m in &messages {
            let _ = to.incoming(
                doc_to,
                m,
                &Limits::default(),
                &mut quire_store::authority::Authority::new(),
                &book,
            );
        }
        messages
    }

    pub fn frames() -> Seeds {
        let frame = |payload: &[u8]| [&(payload.len() as u32).to_be_bytes()[..], payload].concat();
        vec![
            (
                "two-frames".into(),
                [&[64, 0, 3][..], &frame(b"hello"), &frame(&[7; 40])].concat(),
            ),
            (
                "empty-frame".into(),
                [&[16, 0, 1][..], &frame(b"")].concat(),
            ),
            (
                "oversized".into(),
                [&[8, 0, 16][..], &frame(b"0123456789")].concat(),
            ),
            ("torn-prefix".into(), vec![255, 0, 2, 0, 0]),
        ]
    }

    pub fn tickets() -> Seeds {
        let secret = SecretKey::from_bytes(&[3; 32]);
        let relay = RelayUrl::from_str("https://relay.example.org").expect("relay url");
        let inviter = EndpointAddr::from_parts(
            secret.public(),
            [
                TransportAddr::Ip("192.0.2.7:4433".parse().expect("addr")),
                TransportAddr::Ip("[2001:db8::7]:4433".parse().expect("addr")),
                TransportAddr::Relay(relay),
            ],
        );
        let ticket = Ticket {
            group: quire_store::GroupId::from_bytes([9; 16]),
            inviter,
            secret: InviteSecret::from_bytes([0x5e; 32]),
            expires_at: fixtures::after(24 * 7),
            kind: TicketKind::Member,
        };
        let text = ticket.to_string();
        let binary = data_encoding::BASE32_NOPAD
            .decode(text["quire1".len()..].to_ascii_uppercase().as_bytes())
            .expect("base32");
        let body = &binary[..binary.len() - 4];
        vec![
            ("text".into(), [b"\0", text.as_bytes()].concat()),
            (
                "text-wrapped".into(),
                [
                    b"\0  ",
                    &text.as_bytes()[..40],
                    b"\n",
                    &text.as_bytes()[40..],
                ]
                .concat(),
            ),
            ("binary".into(), [&[1][..], body].concat()),
        ]
    }

    pub fn handshakes() -> Seeds {
        vec![
            (
                "join-request".into(),
                encode(&JoinRequest {
                    group: [9; 16],
                    secret: [0x5e; 32],
                    display_name: Some("Cara Lind".into()),
                    device_label: "phone".into(),
                }),
            ),
            (
                "join-accepted".into(),
                encode(&JoinReply::Accepted {
                    member: [3; 16],
                    display_name: "Cara Lind".into(),
                }),
            ),
            (
                "join-refused".into(),
                encode(&JoinReply::Refused {
                    reason: "the invite has expired".into(),
                }),
            ),
            ("sync-hello".into(), encode(&SyncHello { group: [9; 16] })),
        ]
    }

    /// Small programs: each step is opcode, path, key, then the value's bytes.
    pub fn hostile_documents() -> Seeds {
        vec![
            // Huge strings and a list where maps should be.
            (
                "huge-and-wrong".into(),
                vec![1, 8, 4 * 15, 60, 3, 0, 9, 4 * 26],
            ),
            // Whole maps of the schema replaced.
            (
                "no-members".into(),
                vec![11, 0, 4 * 2, 3, 3, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0],
            ),
            // Concurrent edits on a fork, merged.
            (
                "fork-conflict".into(),
                vec![
                    15,
                    2,
                    8,
                    4 * 25,
                    1,
                    2,
                    3,
                    4,
                    5,
                    6,
                    7,
                    8,
                    15,
                    10,
                    10,
                    2 + 4 * 3,
                ],
            ),
            // Nesting 200 deep, and a float.
            (
                "deep-claims".into(),
                vec![14, 20, 2 + 4, 200, 4, 4, 21, 4 * 12, 1, 2, 3, 4, 5, 6, 7, 8],
            ),
            // Keys taken from the input.
            (
                "odd-keys".into(),
                vec![
                    10,
                    15,
                    3 + 4 * 5,
                    b'h',
                    b'e',
                    b'l',
                    b'l',
                    b'o',
                    0,
                    16,
                    4 * 31,
                    5,
                    b'x',
                ],
            ),
        ]
    }

    /// The fixture group saved (as it is, and with a few edits), an empty document, garbage.
    pub fn saved_documents() -> Seeds {
        let saved = fixtures::small_group().save();
        vec![
            ("group".into(), [&[0], &saved[..]].concat()),
            (
                "empty".into(),
                [&[0], &Automerge::new().save()[..]].concat(),
            ),
            ("garbage".into(), b"\0not a document at all".to_vec()),
            (
                "edited".into(),
                vec![1, 0, 40, 0x55, 0, 90, 0x7f, 1, 2, 0x81],
            ),
            ("cut".into(), vec![1, 0, 200, 0]),
        ]
    }

    pub fn load_chunks() -> Seeds {
        let group = fixtures::small_group();
        let snapshot = group.save();
        let changes: Vec<u8> = group.save_after(&[]);
        let mut log = Vec::new();
        let len = u32::try_from(changes.len()).expect("small");
        log.extend_from_slice(&len.to_le_bytes());
        log.extend_from_slice(&super::load_chunks::crc32(&changes).to_le_bytes());
        log.extend_from_slice(&changes);
        vec![
            ("snapshot-in-memory".into(), [&[0][..], &snapshot].concat()),
            ("log".into(), [&[1][..], &log].concat()),
            ("log-payload".into(), [&[2][..], &changes].concat()),
            (
                "snapshot-file".into(),
                [&[3][..], &snapshot[..snapshot.len() / 2]].concat(),
            ),
        ]
    }
}
