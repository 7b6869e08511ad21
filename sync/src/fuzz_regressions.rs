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

/// Checked-in inputs that still find a bug, with the bug and the test that pins it down: the
/// replay leaves them out until the bug is fixed (then they leave this list).
const OPEN: &[(&str, &str, &str)] = &[];

fn is_open(target: &str, name: &str) -> bool {
    OPEN.iter().any(|(t, n, _)| *t == target && *n == name)
}

#[test]
fn checked_in_corpus_replays_without_panics() {
    for (target, run) in TARGETS {
        let inputs = checked_in(target);
        assert!(!inputs.is_empty(), "no seeds for fuzz target {target}");
        for (name, bytes) in inputs {
            if is_open(target, &name) {
                continue;
            }
            let outcome = std::panic::catch_unwind(|| run(&bytes));
            assert!(outcome.is_ok(), "fuzz/corpus/{target}/{name} panicked");
        }
    }
}

/// The inputs of [`OPEN`], each run ten times (the bug that one shows depends on hash order).
#[test]
#[ignore = "the bugs in OPEN are not fixed yet"]
fn open_findings_replay_without_panics() {
    for (target, run) in TARGETS {
        for (name, bytes) in checked_in(target) {
            if is_open(target, &name) {
                for _ in 0..10 {
                    let outcome = std::panic::catch_unwind(|| run(&bytes));
                    assert!(outcome.is_ok(), "fuzz/corpus/{target}/{name} panicked");
                }
            }
        }
    }
}

/// A crasher kept in `fuzz/artifacts/<target>/`.
fn artifact(target: &str, name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/artifacts")
        .join(target)
        .join(name);
    fs::read(&path).unwrap_or_else(|e| panic!("no crasher at {}: {e}", path.display()))
}

/// Found by `sync_message`: a change whose object column holds a counter past `u32` passed
/// `check_sync_message`, and automerge panicked parsing it (an `unwrap` in `OpId::new`) when
/// `check_changes_with` called `Change::try_from`. The check now refuses a change automerge
/// cannot parse (`sync_check`'s test `a_change_naming_an_object_counter_past_u32_is_refused`
/// pins it); this input is refused earlier since, for a message that is not UTF-8.
#[test]
fn a_change_naming_an_object_past_u32_is_refused_before_automerge_parses_it() {
    let input = artifact(
        "sync_message",
        "crash-object-counter-past-u32-panics-change-parsing",
    );
    sync_message::run(&input);
}

/// Found by `sync_message`: member 1 edits her own bio, but her change names the wrong
/// op as the value it overwrites (its `pred`). Nothing checks predecessors: the change is
/// signed by its device and the rules allow the edit, so it is applied; from then on automerge
/// cannot rebuild it (its op set records the op under the real predecessor, which hashes to
/// another change), so `get_changes` panics (`MissingDep`), a new member's sync fails, and
/// `save()` writes a snapshot that does not load ("mismatching heads"): one signed change from
/// any member poisons every device it reaches. The fuzzer's input is kept as
/// `crash-wrong-predecessor-poisons-the-document`. Fixed: the authority refuses a change unless
/// each op's predecessors are ops at its object and key in the change's own past
/// (`authority::past`), before it is applied.
#[test]
fn a_change_naming_the_wrong_predecessor_is_refused() {
    use automerge::sync::{ChunkList, Message, MessageVersion};

    let mut group = fixtures::small_group();
    let mut actor = fixtures::device(1).as_bytes().to_vec();
    actor.extend_from_slice(&[0xf3; 8]);
    let mut theirs = group.fork().with_actor(automerge::ActorId::from(actor));
    let patch = quire_store::doc::ProfilePatch {
        bio: Some("reviewer".into()),
        ..Default::default()
    };
    quire_store::ops::update_profile(&mut theirs, fixtures::member(1), patch, fixtures::after(6))
        .expect("member 1 edits her bio");
    let mut expanded = theirs.get_last_local_change().expect("her edit").decode();
    let pred = expanded.operations[0]
        .pred
        .get_mut(0)
        .expect("a bio to overwrite");
    pred.0 += 1;
    let forged = automerge::Change::from(expanded);
    let signature = crate::signing::sign_change(&fixtures::secret(1), &forged.hash());
    let message = Message {
        heads: vec![forged.hash()],
        need: Vec::new(),
        have: Vec::new(),
        changes: ChunkList::from(vec![forged.raw_bytes().to_vec()]),
        version: MessageVersion::V1,
        flags: None,
    };
    let frame = crate::envelope::encode(&message.encode(), &[(forged.hash(), signature)]);
    let mut authority = quire_store::authority::Authority::new();
    authority.seed(&group);
    let result = crate::session::PeerSession::new(fixtures::device(1)).incoming(
        &mut group,
        &frame,
        &crate::sync_check::Limits::default(),
        &mut authority,
        &fixtures::signatures(),
    );
    let error = result.expect_err("a change with a wrong predecessor was applied");
    assert!(
        error.to_string().contains("overwrites"),
        "refused for another reason: {error}"
    );
    assert!(automerge::Automerge::load(&group.save()).is_ok());
}

/// Found by `saved_document`: saved documents that pass the walk on which automerge's load
/// panics (an op placed twice, `op_set2/change/collector.rs`; an index past the change graph,
/// `change_graph.rs`). The loader catches the panics and refuses the documents (libFuzzer
/// still counts them as crashes: its panic hook aborts before any `catch_unwind`).
#[test]
fn saved_documents_automerge_panics_on_are_refused_by_the_loader() {
    for name in [
        "crash-load-asserts-on-an-op-placed-twice",
        "crash-load-indexes-past-the-change-graph",
    ] {
        saved_document::run(&artifact("saved_document", name));
    }
}

/// Seeds that other tests read as they are, so `write_seed_corpus` leaves them be: the
/// `sync_check` tests load this snapshot as the group the `sync_message` crashers were found
/// against (before the fixture's devices had keys).
const KEPT: &[(&str, &str)] = &[("load_chunks", "snapshot-in-memory")];

/// The group every harness attacks is one an honest device accepts whole: each change signed
/// by its device, and allowed by the rules at its own past.
#[test]
fn the_fixture_group_is_signed_and_keeps_the_rules() {
    let verified = crate::verify::verify_history(&fixtures::small_group(), &fixtures::signatures())
        .expect("the fixture verifies");
    assert_eq!(verified.len(), 2, "one actor per device");
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
            if !KEPT.contains(&(target, name.as_str())) {
                fs::write(dir.join(format!("seed-{name}")), bytes).expect("write seed");
            }
        }
    }
}

mod seeds {
    use std::str::FromStr;

    use automerge::Automerge;
    use automerge::transaction::Transactable;
    use iroh::{EndpointAddr, RelayUrl, SecretKey, TransportAddr};
    use quire_store::SignatureBook;
    use quire_store::authority::Authority;
    use quire_store::ops;

    use super::fixtures;
    use crate::envelope;
    use crate::session::{PeerSession, Voucher};
    use crate::sync_check::Limits;
    use crate::ticket::{InviteSecret, Ticket, TicketKind};
    use crate::wire::{JoinReply, JoinRequest, SyncHello, encode};

    type Seeds = Vec<(String, Vec<u8>)>;

    /// Mode bits of the `sync_message` input (see its harness).
    const FIX_CHECKSUMS: u8 = 1;
    const WHOLE_FRAME: u8 = 2;
    const RESIGN: u8 = 4;

    /// One device's side of a sync: its copy, judge, signatures, key and session.
    struct Side {
        doc: Automerge,
        authority: Authority,
        book: SignatureBook,
        secret: SecretKey,
        session: PeerSession,
    }

    impl Side {
        /// Member `i`'s device holding `doc`, in a session with member `peer`'s.
        fn new(i: u8, doc: Automerge, peer: u8) -> Side {
            let mut authority = Authority::new();
            authority.seed(&doc);
            Side {
                book: fixtures::signatures_of(&doc),
                doc,
                authority,
                secret: fixtures::secret(i),
                session: PeerSession::new(fixtures::device(peer)),
            }
        }

        /// What this side has to say now.
        fn send(&mut self) -> Vec<Vec<u8>> {
            let voucher = Voucher {
                secret: &self.secret,
                book: &self.book,
            };
            self.session.outgoing(&self.doc, voucher)
        }

        /// Takes in a frame, as a group actor does; returns whether it passed (a group actor
        /// ends the session when one does not).
        fn take(&mut self, frame: &[u8]) -> bool {
            let settled = self.session.incoming(
                &mut self.doc,
                frame,
                &Limits::default(),
                &mut self.authority,
                &self.book,
            );
            let Ok(settled) = settled else {
                return false;
            };
            for (actor, sig) in settled.signatures {
                self.book.record(actor, sig);
            }
            true
        }
    }

    /// Member 1's device, writing as a session of its own after the fixture.
    fn member_one(doc: &Automerge) -> Automerge {
        let mut actor = fixtures::device(1).as_bytes().to_vec();
        actor.extend_from_slice(&[0xf2; 8]);
        doc.fork().with_actor(automerge::ActorId::from(actor))
    }

    /// Every frame of real signed syncs with the fixture group (member 0's device): to a new
    /// device with nothing yet; with member 1's device after both edited apart; and from member
    /// 1's device after it wrote a change the rules forbid, or sent its edit unsigned. Frames
    /// with changes get mode bits that fix their checksums and re-sign them after mutation (but
    /// for the unsigned exchange), so mutations reach the rules.
    pub fn sync_messages() -> Seeds {
        let group = fixtures::small_group();
        let later = fixtures::after(6);
        let mut apart = group.clone();
        let patch = |bio: &str| quire_store::doc::ProfilePatch {
            bio: Some(bio.into()),
            ..Default::default()
        };
        ops::update_profile(&mut apart, fixtures::member(0), patch("founder"), later)
            .expect("member 0 edits");
        let mut theirs = member_one(&group);
        ops::update_profile(&mut theirs, fixtures::member(1), patch("reviewer"), later)
            .expect("member 1 edits");
        ops::unclaim(
            &mut theirs,
            fixtures::member(1),
            fixtures::submission(),
            later,
        )
        .ok();
        let mut forbidden = member_one(&group);
        let mut tx = forbidden.transaction();
        let entry = map_at(&tx, &["members", &fixtures::member(1).to_string()]);
        tx.put(&entry, "organizer", true).expect("a raw put");
        tx.commit();
        let mut exchanges = vec![
            (
                "join",
                Side::new(0, group.clone(), 2),
                Side::new(2, Automerge::new(), 0),
                true,
            ),
            (
                "diverged",
                Side::new(0, apart, 1),
                Side::new(1, theirs.clone(), 0),
                true,
            ),
            (
                "forbidden",
                Side::new(0, group.clone(), 1),
                Side::new(1, forbidden, 0),
                true,
            ),
            (
                "unsigned",
                Side::new(0, group, 1),
                Side::new(1, theirs, 0),
                false,
            ),
        ];
        let mut out = Vec::new();
        for (label, a, b, signed) in &mut exchanges {
            for round in 0..6 {
                let (to_b, b_refused) = pass(a, b, *signed);
                let (to_a, a_refused) = if b_refused {
                    (Vec::new(), false)
                } else {
                    pass(b, a, *signed)
                };
                let done = (to_b.is_empty() && to_a.is_empty()) || a_refused || b_refused;
                for (side, frames) in [("a", to_b), ("b", to_a)] {
                    for (part, frame) in frames.into_iter().enumerate() {
                        let (message, _) = envelope::decode(&frame).expect("our frame");
                        let carries = automerge::sync::Message::decode(message)
                            .is_ok_and(|m| !m.changes.is_empty());
                        let mode = match (carries, *signed) {
                            (true, true) => WHOLE_FRAME | FIX_CHECKSUMS | RESIGN,
                            (true, false) => WHOLE_FRAME | FIX_CHECKSUMS,
                            (false, _) => WHOLE_FRAME,
                        };
                        let name = format!("{label}-{round}-{side}{part}");
                        out.push((name, [&[mode], &frame[..]].concat()));
                    }
                }
                if done {
                    break;
                }
            }
        }
        // The op bomb of issue 13: one change of 301 bytes claiming 2^24 ops. Mode 1 fixes
        // the checksum after mutation, so mutated runs reach the op count check.
        let bomb = super::sync_message::op_bomb(1 << 24, 301);
        out.push(("op-bomb".into(), [&[1][..], &bomb].concat()));
        out
    }

    /// Sends what `from` has to say to `to` (without its signatures unless `signed`), up to
    /// the first frame `to` refuses; returns the frames sent and whether one was refused.
    /// Signatures go in the order of their hashes, so the seeds come out the same every time.
    fn pass(from: &mut Side, to: &mut Side, signed: bool) -> (Vec<Vec<u8>>, bool) {
        let mut sent = Vec::new();
        for frame in from.send() {
            let (message, mut sigs) = envelope::decode(&frame).expect("our frame");
            sigs.sort_by_key(|(hash, _)| *hash);
            if !signed {
                sigs.clear();
            }
            let frame = envelope::encode(message, &sigs);
            let passed = to.take(&frame);
            sent.push(frame);
            if !passed {
                return (sent, true);
            }
        }
        (sent, false)
    }

    /// The map at `path` in a transaction.
    fn map_at(tx: &automerge::transaction::Transaction<'_>, path: &[&str]) -> automerge::ObjId {
        use automerge::{ObjType, ReadDoc, Value};
        let mut obj = automerge::ROOT;
        for key in path {
            obj = match tx.get(&obj, *key) {
                Ok(Some((Value::Object(ObjType::Map), id))) => id,
                _ => panic!("no map at {}", path.join("/")),
            };
        }
        obj
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

    /// The fixture group saved (as it is, and with a few edits), an empty document, garbage,
    /// and the fixture's signatures as the inviter sends them.
    pub fn saved_documents() -> Seeds {
        let saved = fixtures::small_group().save();
        let signatures = SignatureBook::encode_entries(fixtures::signatures().iter());
        vec![
            ("signatures".into(), [&[2], &signatures[..]].concat()),
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
