//! Forks of one group that edit, partition and sync in random orders, one of them hostile: the
//! property test of issue 13, over the sans-IO [`PeerSession`]s (no network).
//!
//! Four devices, each with a real key, its own copy of the group, its own [`Authority`] and
//! [`SignatureBook`], and one session per connected peer, driven the way a node's group actor
//! drives them: a frame from a peer goes through [`PeerSession::incoming`]; if the document
//! moved, sessions with peers that are no longer current member devices end and every other
//! session is offered the news, otherwise only the sender's session answers; a session whose
//! frame fails ends (the connection closes, what was in flight is lost) and a fresh one may
//! replace it later; a session opens only between two devices that each hold the other for a
//! current member device. Actors, ids, keys and clocks are fixed, so a schedule replays.
//!
//! * Ann founded the group and is its only organizer; Bea and Cal are members. They edit only
//!   through `quire_store::ops`, each change judged by their own authority as `Group::act`
//!   does: profile edits, submissions, claims, critiques, ratings, and Ann's removal of a
//!   member (who keeps editing, concurrently, until the removal reaches her).
//! * Mal is a member whose client writes raw forbidden changes into her document ([`Forgery`]:
//!   the organizer flag on herself, another's title, a critique in another's name, a rating on
//!   another's piece, a device added without an invite, a removal although no organizer, a rule
//!   change backdated in Ann's name, a change under an actor naming another device's key, a
//!   change she sends unsigned, and a change under an honest device's own actor sent ahead of
//!   that device's genuine changes with their genuine signature), mixed with honest edits
//!   (unjudged), and syncs as usual.
//! * A schedule is a random list of [`Step`]s: an edit; up to four frames delivered on one link
//!   (frames keep their order within a session, as on a stream, but wait on their link for as
//!   long as the schedule says, so links deliver in any interleaving and with any delay);
//!   sessions opened; links cut, partitions of the four into two sides, heals; everything in
//!   flight delivered.
//!
//! At the end every link heals except Mal's (cut off, as her peers would refuse her anyway,
//! unless she forged nothing: then she counts as honest), and the honest devices sync until
//! nothing is left to say. Asserted ([`Net::check`]):
//! 1. every honest device that is a current member (by Ann's copy) has the same heads;
//! 2. every honest device's whole history passes `verify_history` with the signatures it could
//!    hand a new member (its own signed now, the others from its book): every change vouched
//!    for by its device and accepted by the rules at its own past;
//! 3. none of Mal's forbidden changes, nor any change whose past holds one, is on any honest
//!    device (removed ones included);
//! 4. no honest device ever refused a frame from another honest device (Mal counts as honest
//!    until her first forgery), and no honest operation that `ops` allowed was refused by its
//!    own device's rules.
//!
//! Not asserted: that Mal's honest changes reach anyone. Those made before her first forgery
//! reach a device only if a session carried them before a forgery ended it; those that reach
//! one honest device reach all the current ones, by 1. Nor that a removed member converges:
//! once her removal reaches a device, it refuses her.
//!
//! The default is 256 cases of up to 160 steps, about 8 s in a debug build; `PROPTEST_CASES`
//! sets another number, and `FORKS_SEED` replays the seed a failure prints. A failure prints
//! the smallest schedule proptest found and the end of its trace.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::fmt;

use automerge::sync::{ChunkList, Message, MessageVersion};
use automerge::transaction::{CommitOptions, Transactable, Transaction};
use automerge::{ActorId, Automerge, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, Value};
use iroh::SecretKey;
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};
use quire_store::authority::{Authority, Refusal};
use quire_store::doc::{self as layout, CritiqueMark, ProfilePatch};
use quire_store::model::{Critique, Device, InviteKind, RuleChange, Rules};
use quire_store::ops::{self, InviteSpec, Joiner, NewGroup, NewMember, SubmissionDraft};
use quire_store::{
    CritiqueId, DeviceId, GroupId, InviteHash, MemberId, OpError, RuleChangeId, SignatureBook,
    SubmissionId,
};
use quire_sync::envelope;
use quire_sync::session::{PeerError, PeerSession, Voucher};
use quire_sync::signing::sign_change;
use quire_sync::sync_check::Limits;
use quire_sync::verify::{verify_history, vouch_all};

/// The devices, by index: Ann organizes, Bea and Cal are members, Mal is hostile.
const ANN: usize = 0;
const BEA: usize = 1;
const CAL: usize = 2;
const MAL: usize = 3;
const FORKS: usize = 4;
const NAMES: [&str; FORKS] = ["Ann", "Bea", "Cal", "Mal"];

fn secret(i: usize) -> SecretKey {
    SecretKey::from_bytes(&[0x41 + i as u8; 32])
}

fn device_of(secret: &SecretKey) -> DeviceId {
    DeviceId::from_bytes(*secret.public().as_bytes())
}

fn device(i: usize) -> DeviceId {
    device_of(&secret(i))
}

fn member(i: usize) -> MemberId {
    MemberId::from_bytes([0x11 * (i as u8 + 1); 16])
}

/// A session actor of `device`, the same every run: the device's key, then `tag` and `n`.
fn actor(device: DeviceId, tag: u8, n: u32) -> ActorId {
    let mut bytes = device.as_bytes().to_vec();
    bytes.extend_from_slice(&[tag, 0, 0, 0]);
    bytes.extend_from_slice(&n.to_be_bytes());
    ActorId::from(bytes)
}

/// When the group was founded.
fn t0() -> Timestamp {
    Timestamp::from_second(1_800_000_000).expect("a time")
}

fn minutes(n: u64) -> Timestamp {
    t0() + SignedDuration::from_mins(i64::try_from(n).expect("few minutes"))
}

/// The group every fork starts from: Ann founded it (credits off, so anyone may submit) and let
/// the others in by invite, all written by Ann's device; with the signatures a new member's
/// bootstrap hands over, verified.
fn founded() -> (Automerge, SignatureBook) {
    let new = NewGroup {
        id: GroupId::from_bytes([0x0f; 16]),
        name: "Forks".into(),
        description: String::new(),
        rules: Rules {
            credits: false,
            ..Rules::default()
        },
        founder: NewMember {
            id: member(ANN),
            display_name: NAMES[ANN].into(),
            device: device(ANN),
            device_label: "laptop".into(),
        },
    };
    let mut doc = ops::create_group(new, actor(device(ANN), 0, 0), t0()).expect("a group");
    for i in [BEA, CAL, MAL] {
        let hash = InviteHash::from_bytes([0x70 + i as u8; 32]);
        let spec = InviteSpec {
            hash,
            expires_at: minutes(60),
            max_uses: 1,
            kind: InviteKind::Member,
        };
        ops::create_invite(&mut doc, member(ANN), spec, t0()).expect("an invite");
        let joiner = Joiner {
            device: device(i),
            device_label: "phone".into(),
            new_member: Some((member(i), NAMES[i].into())),
        };
        ops::redeem_invite(&mut doc, hash, joiner, t0()).expect("a join");
    }
    let mut vouched = SignatureBook::new();
    for (actor, sig) in vouch_all(&doc, &SignatureBook::new(), &secret(ANN)) {
        vouched.record(actor, sig);
    }
    let book = verify_history(&doc, &vouched).expect("the founding history verifies");
    (doc, book)
}

/// One device's copy of the group and everything it keeps beside it.
struct Fork {
    who: usize,
    secret: SecretKey,
    doc: Automerge,
    authority: Authority,
    book: SignatureBook,
    /// A session per connected peer, by the peer's index.
    sessions: BTreeMap<usize, PeerSession>,
}

impl Fork {
    fn new(who: usize, base: &Automerge, book: &SignatureBook) -> Fork {
        let secret = secret(who);
        let doc = base.fork().with_actor(actor(device_of(&secret), 1, 0));
        let mut authority = Authority::new();
        authority.seed(&doc);
        Fork {
            who,
            secret,
            doc,
            authority,
            book: book.clone(),
            sessions: BTreeMap::new(),
        }
    }

    /// Whether this device holds `peer`'s device for a current member device.
    fn admits(&self, peer: usize) -> bool {
        layout::current_devices(&self.doc).contains_key(&device(peer))
    }

    fn heads(&self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// Runs `op` as this device's member, then judges the changes it made by the rules, as
    /// `Group::act` does: a refused change is rolled back. Returns what the rules refused.
    fn act<T>(
        &mut self,
        op: impl FnOnce(&mut Automerge, MemberId) -> Result<T, OpError>,
    ) -> Option<Refusal> {
        let before = self.doc.get_heads();
        self.authority.seed(&self.doc);
        if op(&mut self.doc, member(self.who)).is_err() {
            return None;
        }
        let doc = &self.doc;
        let refused = doc
            .get_changes(&before)
            .iter()
            .find_map(|change| self.authority.judge(doc, change).err());
        if refused.is_some() {
            let actor = self.doc.get_actor().clone();
            self.doc = self
                .doc
                .fork_at(&before)
                .expect("our own heads")
                .with_actor(actor);
        }
        refused
    }

    /// The frames the session with `peer` has to send now.
    fn outgoing(&mut self, peer: usize) -> Vec<Vec<u8>> {
        let Some(session) = self.sessions.get_mut(&peer) else {
            return Vec::new();
        };
        let voucher = Voucher {
            secret: &self.secret,
            book: &self.book,
        };
        session.outgoing(&self.doc, voucher)
    }

    /// Takes in a frame from `peer`, keeping the signatures that vouch for what it applied.
    fn incoming(&mut self, peer: usize, frame: &[u8]) -> Result<(), PeerError> {
        let Some(session) = self.sessions.get_mut(&peer) else {
            return Ok(());
        };
        let result = session.incoming(
            &mut self.doc,
            frame,
            &Limits::default(),
            &mut self.authority,
            &self.book,
        );
        // On a refusal, what came before it is kept with the signatures that vouch for it,
        // as the group actor keeps them.
        let signatures = match &result {
            Ok(settled) => settled.signatures.clone(),
            Err(_) => session.take_signatures(),
        };
        for (actor, sig) in signatures {
            self.book.record(actor, sig);
        }
        result.map(drop)
    }
}

/// An honest edit, through `quire_store::ops`. Each picks its target among what the editing
/// device's copy holds, by a number taken modulo the choices.
#[derive(Debug, Clone)]
enum Edit {
    Bio(u8),
    Submit,
    Claim(u8),
    Critique(u8),
    Rate(u8, u8),
    /// An organizer removes a member (the op refuses anyone else).
    Remove(u8),
}

/// A raw change Mal's client writes, which the rules forbid.
#[derive(Debug, Clone, Copy)]
enum Forgery {
    OrganizerFlagOnHerself,
    AnothersTitle(u8),
    CritiqueInAnothersName(u8, u8),
    RatingOnAnothersPiece(u8),
    DeviceWithoutInvite,
    RemovalByNonOrganizer(u8),
    RuleChangeBackdatedAsAnn,
    ActorOfAnotherDevice(u8),
    /// A change under an honest device's own actor, numbered as one of its changes a victim
    /// lacks, sent to that victim first with the device's genuine signature over a later one.
    InAnothersChain(u8),
    Unsigned,
    /// Mal's own bio edit, signed, naming another op than the bio it overwrites as its
    /// predecessor, sent straight to a victim she is connected to.
    WrongPredecessor(u8),
}

#[derive(Debug, Clone)]
enum Step {
    /// An honest device edits.
    Edit(usize, Edit),
    /// Mal edits honestly.
    MalEdit(Edit),
    /// Mal forges.
    Forge(Forgery),
    /// Up to this many frames in flight from one device to another are delivered.
    Deliver { from: usize, to: usize, frames: u8 },
    /// Two devices open sessions, if they are apart and not cut off.
    Connect(usize, usize),
    /// The link between two devices is cut (their sessions end).
    Cut(usize, usize),
    /// The link between two devices heals, and they connect.
    Heal(usize, usize),
    /// Every link between the devices in the mask and the others is cut.
    Partition(u8),
    /// Every link heals, and every pair that may connects.
    HealAll,
    /// Everything in flight arrives, and everything it sets off, until the devices fall quiet.
    Drain,
}

fn pair() -> impl Strategy<Value = (usize, usize)> {
    (0..FORKS, 1..FORKS).prop_map(|(a, k)| (a, (a + k) % FORKS))
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        2 => any::<u8>().prop_map(Edit::Bio),
        2 => Just(Edit::Submit),
        3 => any::<u8>().prop_map(Edit::Claim),
        3 => any::<u8>().prop_map(Edit::Critique),
        2 => (any::<u8>(), 1u8..=5).prop_map(|(p, r)| Edit::Rate(p, r)),
        1 => any::<u8>().prop_map(Edit::Remove),
    ]
}

fn forgery() -> impl Strategy<Value = Forgery> {
    prop_oneof![
        Just(Forgery::OrganizerFlagOnHerself),
        any::<u8>().prop_map(Forgery::AnothersTitle),
        (any::<u8>(), any::<u8>()).prop_map(|(s, m)| Forgery::CritiqueInAnothersName(s, m)),
        any::<u8>().prop_map(Forgery::RatingOnAnothersPiece),
        Just(Forgery::DeviceWithoutInvite),
        any::<u8>().prop_map(Forgery::RemovalByNonOrganizer),
        Just(Forgery::RuleChangeBackdatedAsAnn),
        any::<u8>().prop_map(Forgery::ActorOfAnotherDevice),
        any::<u8>().prop_map(Forgery::InAnothersChain),
        Just(Forgery::Unsigned),
        any::<u8>().prop_map(Forgery::WrongPredecessor),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        10 => ((0..MAL), edit()).prop_map(|(who, e)| Step::Edit(who, e)),
        3 => edit().prop_map(Step::MalEdit),
        2 => forgery().prop_map(Step::Forge),
        12 => (pair(), 1u8..=4).prop_map(|((from, to), frames)| Step::Deliver { from, to, frames }),
        2 => pair().prop_map(|(a, b)| Step::Connect(a, b)),
        1 => pair().prop_map(|(a, b)| Step::Cut(a, b)),
        1 => pair().prop_map(|(a, b)| Step::Heal(a, b)),
        1 => (1u8..15).prop_map(Step::Partition),
        1 => Just(Step::HealAll),
        2 => Just(Step::Drain),
    ]
}

/// A link's key: the two devices, smaller first.
fn link(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

/// A frame an honest device refused from another, or an honest operation its own rules
/// refused: either breaks property 4.
#[derive(Debug)]
struct Wrong(String);

/// The four devices and the links between them.
struct Net {
    forks: Vec<Fork>,
    /// Frames in flight, by (from, to), for the sessions that are open.
    in_flight: BTreeMap<(usize, usize), VecDeque<Vec<u8>>>,
    /// Links cut by a partition.
    cut: BTreeSet<(usize, usize)>,
    /// Minutes since the founding: each step takes one.
    clock: u64,
    /// Ids handed out, so that every new entry is new.
    ids: u32,
    /// Mal's forbidden changes.
    forged: HashSet<ChangeHash>,
    /// Actors of Mal's whose changes her client sends unsigned.
    unsigned: HashSet<ActorId>,
    /// What broke property 4.
    wrongs: Vec<Wrong>,
    /// Frames refused from Mal: (device, reason).
    refused_mal: Vec<(usize, String)>,
    /// What happened, step by step, for a failure's report.
    trace: Vec<String>,
}

impl fmt::Debug for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Net")
            .field("clock", &self.clock)
            .field("forged", &self.forged.len())
            .field("wrongs", &self.wrongs)
            .field("refused_mal", &self.refused_mal)
            .finish_non_exhaustive()
    }
}

/// The last lines of a trace.
fn tail(trace: &[String]) -> String {
    trace[trace.len().saturating_sub(60)..].join("\n")
}

impl Net {
    /// The four devices, all connected.
    fn new() -> Net {
        thread_local! {
            static FOUNDED: (Automerge, SignatureBook) = founded();
        }
        let forks =
            FOUNDED.with(|(base, book)| (0..FORKS).map(|i| Fork::new(i, base, book)).collect());
        let mut net = Net {
            forks,
            in_flight: BTreeMap::new(),
            cut: BTreeSet::new(),
            clock: 0,
            ids: 0,
            forged: HashSet::new(),
            unsigned: HashSet::new(),
            wrongs: Vec::new(),
            refused_mal: Vec::new(),
            trace: Vec::new(),
        };
        net.connect_all(&[ANN, BEA, CAL, MAL]);
        net
    }

    fn now(&self) -> Timestamp {
        minutes(self.clock)
    }

    fn next_id(&mut self) -> [u8; 16] {
        self.ids += 1;
        let mut id = [0x5a; 16];
        id[..4].copy_from_slice(&self.ids.to_be_bytes());
        id
    }

    fn connected(&self, a: usize, b: usize) -> bool {
        self.forks[a].sessions.contains_key(&b)
    }

    /// Opens sessions between `a` and `b` if they are apart, not cut off, and each holds the
    /// other for a current member device; each side then says what it has.
    fn connect(&mut self, a: usize, b: usize) {
        if a == b
            || self.connected(a, b)
            || self.cut.contains(&link(a, b))
            || !self.forks[a].admits(b)
            || !self.forks[b].admits(a)
        {
            return;
        }
        self.trace
            .push(format!("  {} and {} connect", NAMES[a], NAMES[b]));
        self.forks[a]
            .sessions
            .insert(b, PeerSession::new(device(b)));
        self.forks[b]
            .sessions
            .insert(a, PeerSession::new(device(a)));
        self.in_flight.insert((a, b), VecDeque::new());
        self.in_flight.insert((b, a), VecDeque::new());
        self.offer(a, b);
        self.offer(b, a);
    }

    fn connect_all(&mut self, devices: &[usize]) {
        for &a in devices {
            for &b in devices {
                if a < b {
                    self.connect(a, b);
                }
            }
        }
    }

    /// Ends the sessions between `a` and `b`; what was in flight is lost.
    fn close(&mut self, a: usize, b: usize) {
        if self.connected(a, b) {
            self.trace
                .push(format!("  {} and {} part", NAMES[a], NAMES[b]));
        }
        self.forks[a].sessions.remove(&b);
        self.forks[b].sessions.remove(&a);
        self.in_flight.remove(&(a, b));
        self.in_flight.remove(&(b, a));
    }

    /// `from` sends `to` whatever its session has to say. Mal's client leaves out the
    /// signatures of the actors she sends unsigned.
    fn offer(&mut self, from: usize, to: usize) {
        let mut frames = self.forks[from].outgoing(to);
        if from == MAL && !self.unsigned.is_empty() {
            let doc = &self.forks[MAL].doc;
            for frame in &mut frames {
                let (message, sigs) = envelope::decode(frame).expect("our own frame");
                let kept: Vec<_> = sigs
                    .into_iter()
                    .filter(|(hash, _)| {
                        doc.get_change_meta_by_hash(hash)
                            .is_none_or(|m| !self.unsigned.contains(m.actor.as_ref()))
                    })
                    .collect();
                *frame = envelope::encode(message, &kept);
            }
        }
        if let Some(queue) = self.in_flight.get_mut(&(from, to)) {
            queue.extend(frames);
        }
    }

    /// `who`'s document moved: sessions with peers no longer current end, and every other
    /// session is offered the news.
    fn changed(&mut self, who: usize) {
        let peers: Vec<usize> = self.forks[who].sessions.keys().copied().collect();
        for peer in peers {
            if self.forks[who].admits(peer) {
                self.offer(who, peer);
            } else {
                self.close(who, peer);
            }
        }
    }

    /// Delivers the oldest frame in flight from `from` to `to`, as the receiving group actor
    /// takes it. Returns whether there was one.
    fn deliver(&mut self, from: usize, to: usize) -> bool {
        let Some(frame) = self
            .in_flight
            .get_mut(&(from, to))
            .and_then(VecDeque::pop_front)
        else {
            return false;
        };
        let before = self.forks[to].heads();
        let result = self.forks[to].incoming(from, &frame);
        let moved = self.forks[to].heads() != before;
        self.trace.push(format!(
            "  {}->{} ({} bytes): {}",
            NAMES[from],
            NAMES[to],
            frame.len(),
            match &result {
                Ok(()) if moved => "applied".to_string(),
                Ok(()) => "ok".to_string(),
                Err(e) => format!("refused: {e}"),
            }
        ));
        if let Err(e) = result {
            // Mal is honest until she forges.
            if from == MAL && !self.forged.is_empty() {
                self.refused_mal.push((to, e.to_string()));
            } else if to != MAL {
                self.wrongs.push(Wrong(format!(
                    "{} refused a frame from {}: {e}",
                    NAMES[to], NAMES[from]
                )));
            }
            self.close(to, from);
            if moved {
                self.changed(to);
            }
        } else if moved {
            self.changed(to);
        } else {
            self.offer(to, from);
        }
        true
    }

    /// An honest device edits through `ops`.
    fn edit(&mut self, who: usize, edit: &Edit) {
        let now = self.now();
        let id = self.next_id();
        let before = self.forks[who].heads();
        let refused = if who == MAL {
            // Mal's client does not judge its own writes.
            let _ = honest_op(&mut self.forks[MAL].doc, member(MAL), edit, now, id);
            None
        } else {
            self.forks[who].act(|doc, me| honest_op(doc, me, edit, now, id))
        };
        if let Some(refusal) = refused {
            self.wrongs.push(Wrong(format!(
                "{}'s own rules refused her operation {edit:?}: {refusal}",
                NAMES[who]
            )));
        }
        if self.forks[who].heads() != before {
            self.changed(who);
        }
    }

    /// Mal's client writes a forbidden change straight into her document.
    fn forge(&mut self, forgery: Forgery) {
        let now = self.now();
        if let Forgery::InAnothersChain(v) = forgery {
            self.forge_in_chain(v, now);
            return;
        }
        if let Forgery::WrongPredecessor(v) = forgery {
            self.forge_predecessor(v, now);
            return;
        }
        let id = self.next_id();
        let n = self.ids;
        let mal = &mut self.forks[MAL];
        let own = mal.doc.get_actor().clone();
        let under = match forgery {
            Forgery::ActorOfAnotherDevice(v) => Some(actor(device(usize::from(v) % MAL), 0xee, n)),
            Forgery::Unsigned => Some(actor(device(MAL), 0xee, n)),
            _ => None,
        };
        if let Some(actor) = &under {
            mal.doc.set_actor(actor.clone());
        }
        let options = CommitOptions::default()
            .with_time(now.as_second())
            .with_message("an edit".to_string());
        let before = mal.doc.get_heads();
        let made = mal
            .doc
            .transact_with(|_| options, |tx| forge(tx, forgery, now, id));
        // A write of what is there already makes no change.
        let made = made.is_ok() && mal.doc.get_heads() != before;
        if made {
            self.forged.insert(newest_of(&mal.doc, mal.doc.get_actor()));
        }
        mal.doc.set_actor(own);
        if !made {
            return;
        }
        if let (Forgery::Unsigned, Some(actor)) = (forgery, under) {
            self.unsigned.insert(actor);
        }
        self.changed(MAL);
    }

    /// Mal edits her bio on a copy of her document, then names another op than the bio it
    /// overwrites as the edit's predecessor, signs it and sends it to a victim. Applied, it
    /// would poison the victim's document (automerge could not rebuild the change).
    fn forge_predecessor(&mut self, v: u8, now: Timestamp) {
        let victims: Vec<usize> = self.forks[MAL].sessions.keys().copied().collect();
        let Some(victim) = pick(&victims, v) else {
            return;
        };
        let mal = &self.forks[MAL];
        let mut copy = mal
            .doc
            .fork()
            .with_actor(actor(device(MAL), 0xdd, self.ids));
        let patch = ProfilePatch {
            bio: Some(format!("wrong predecessor at {now}")),
            ..Default::default()
        };
        if ops::update_profile(&mut copy, member(MAL), patch, now).is_err() {
            return;
        }
        let Some(edit) = copy.get_last_local_change() else {
            return;
        };
        let mut expanded = edit.decode();
        let Some(op) = expanded.operations.first_mut() else {
            return;
        };
        let pred = match op.pred.get(0) {
            Some(p) => automerge::legacy::OpId(p.0 + 1, p.1.clone()),
            None => automerge::legacy::OpId(1, expanded.actor_id.clone()),
        };
        op.pred = vec![pred].into();
        let forged = automerge::Change::from(expanded);
        self.forged.insert(forged.hash());
        let sig = sign_change(&secret(MAL), &forged.hash());
        let frame = frame_of(&[&forged], &[(forged.hash(), sig)]);
        if let Some(queue) = self.in_flight.get_mut(&(MAL, victim)) {
            queue.push_back(frame);
        }
    }

    /// Mal writes a change under an honest device's own actor, numbered as the first change
    /// of that actor a victim she is connected to lacks, and sends it to the victim ahead of
    /// the genuine one, with the genuine signature she holds over that actor's newest change.
    fn forge_in_chain(&mut self, v: u8, now: Timestamp) {
        let victims: Vec<usize> = self.forks[MAL].sessions.keys().copied().collect();
        let Some(victim) = pick(&victims, v) else {
            return;
        };
        let mal = &self.forks[MAL];
        let lacking = mal.doc.get_changes(&[]).into_iter().find(|c| {
            quire_store::device_of_actor(c.actor_id()).is_some_and(|d| d != device(MAL))
                && mal.book.newest(c.actor_id()).is_some()
                && self.forks[victim]
                    .doc
                    .get_change_meta_by_hash(&c.hash())
                    .is_none()
        });
        let Some(genuine) = lacking else {
            return;
        };
        let Some(writer) =
            (0..MAL).find(|i| quire_store::device_of_actor(genuine.actor_id()) == Some(device(*i)))
        else {
            return;
        };
        let sig = *mal.book.newest(genuine.actor_id()).expect("checked above");
        let Ok(fake) = mal.doc.fork_at(genuine.deps()) else {
            return;
        };
        let mut fake = fake.with_actor(genuine.actor_id().clone());
        // Something the device's member may do: edit their own profile.
        let patch = ProfilePatch {
            bio: Some(format!("forged by Mal at {now}")),
            ..Default::default()
        };
        if ops::update_profile(&mut fake, member(writer), patch, now).is_err() {
            return;
        }
        let Some(forged) = fake.get_last_local_change() else {
            return;
        };
        self.forged.insert(forged.hash());
        // Then the genuine changes from that number on, which the signature vouches for.
        let chain: Vec<automerge::Change> = mal
            .doc
            .get_changes(&[])
            .into_iter()
            .filter(|c| c.actor_id() == genuine.actor_id() && c.seq() >= genuine.seq())
            .collect();
        let chain: Vec<&automerge::Change> = chain.iter().collect();
        let frames = [
            frame_of(&[&forged], &[(sig.hash, sig.signature)]),
            frame_of(&chain, &[(sig.hash, sig.signature)]),
        ];
        if let Some(queue) = self.in_flight.get_mut(&(MAL, victim)) {
            queue.extend(frames);
        }
    }

    fn run(&mut self, step: &Step) {
        self.clock += 1;
        self.trace.push(format!("{step:?}"));
        match step {
            Step::Edit(who, e) => self.edit(*who, e),
            Step::MalEdit(e) => self.edit(MAL, e),
            Step::Forge(f) => self.forge(*f),
            Step::Deliver { from, to, frames } => {
                for _ in 0..*frames {
                    if !self.deliver(*from, *to) {
                        break;
                    }
                }
            }
            Step::Connect(a, b) => self.connect(*a, *b),
            Step::Cut(a, b) => {
                self.cut.insert(link(*a, *b));
                self.close(*a, *b);
            }
            Step::Heal(a, b) => {
                self.cut.remove(&link(*a, *b));
                self.connect(*a, *b);
            }
            Step::Partition(mask) => {
                for a in 0..FORKS {
                    for b in a + 1..FORKS {
                        if (mask >> a) & 1 != (mask >> b) & 1 {
                            self.cut.insert((a, b));
                            self.close(a, b);
                        }
                    }
                }
            }
            Step::HealAll => {
                self.cut.clear();
                self.connect_all(&[ANN, BEA, CAL, MAL]);
            }
            Step::Drain => {
                // Mal may keep asking for what she will never get: give up after a while.
                let _ = self.drain(2_000);
            }
        }
    }

    /// Delivers what is in flight, and what that sets off, until nothing is; fails if that
    /// never ends.
    fn drain(&mut self, most: usize) -> Result<(), String> {
        let mut delivered = 0;
        loop {
            let busy: Vec<(usize, usize)> = self
                .in_flight
                .iter()
                .filter(|(_, q)| !q.is_empty())
                .map(|(k, _)| *k)
                .collect();
            if busy.is_empty() {
                return Ok(());
            }
            for (from, to) in busy {
                self.deliver(from, to);
                delivered += 1;
            }
            if delivered > most {
                return Err(format!("the devices still talk after {most} frames"));
            }
        }
    }

    /// The honest devices: Mal too if she forged nothing.
    fn honest(&self) -> Vec<usize> {
        if self.forged.is_empty() {
            vec![ANN, BEA, CAL, MAL]
        } else {
            vec![ANN, BEA, CAL]
        }
    }

    /// Heals every link among the honest devices, cuts Mal off if she forged, and delivers
    /// until nothing is in flight; sessions that failed are opened again, a few times.
    fn quiesce(&mut self) -> Result<(), String> {
        let honest = self.honest();
        if !honest.contains(&MAL) {
            for peer in [ANN, BEA, CAL] {
                self.close(MAL, peer);
            }
        }
        self.cut.clear();
        for _round in 0..6 {
            self.connect_all(&honest);
            self.drain(5_000)?;
            let apart = honest.iter().any(|&a| {
                honest.iter().any(|&b| {
                    a < b
                        && !self.connected(a, b)
                        && self.forks[a].admits(b)
                        && self.forks[b].admits(a)
                })
            });
            if !apart {
                return Ok(());
            }
        }
        let wrong = self.wrongs.first().map_or("", |Wrong(w)| w.as_str());
        Err(format!(
            "sessions between honest devices keep failing: {wrong}"
        ))
    }

    /// Mal's forbidden changes and every change whose past holds one.
    fn tainted(&self) -> HashSet<ChangeHash> {
        let mut tainted = self.forged.clone();
        for change in self.forks[MAL].doc.get_changes(&[]) {
            if change.deps().iter().any(|d| tainted.contains(d)) {
                tainted.insert(change.hash());
            }
        }
        tainted
    }

    /// The properties of the module's doc.
    fn check(&self) -> Result<(), String> {
        let honest = self.honest();
        let ann = &self.forks[ANN];
        let current: Vec<usize> = honest
            .iter()
            .copied()
            .filter(|&i| ann.admits(i) || i == ANN)
            .collect();
        for &i in &current {
            if self.forks[i].heads() != ann.heads() {
                return Err(format!(
                    "1: {} and Ann, both current, ended with different heads ({} and {} changes)",
                    NAMES[i],
                    self.forks[i].doc.get_changes(&[]).len(),
                    ann.doc.get_changes(&[]).len()
                ));
            }
        }
        for &i in &honest {
            // What the device would hand a new member: its own changes signed now, everyone
            // else's with the signatures it kept.
            let fork = &self.forks[i];
            let mut offered = SignatureBook::new();
            for (actor, sig) in vouch_all(&fork.doc, &fork.book, &fork.secret) {
                offered.record(actor, sig);
            }
            verify_history(&fork.doc, &offered)
                .map_err(|e| format!("2: {}'s history does not verify: {e}", NAMES[i]))?;
        }
        let tainted = self.tainted();
        for &i in &honest {
            if let Some(bad) = tainted
                .iter()
                .find(|h| self.forks[i].doc.get_change_meta_by_hash(h).is_some())
            {
                return Err(format!(
                    "3: {} holds Mal's forbidden change {bad}",
                    NAMES[i]
                ));
            }
        }
        if let Some(Wrong(wrong)) = self.wrongs.first() {
            return Err(format!("4: {wrong}"));
        }
        Ok(())
    }
}

/// The newest change of `actor` in `doc`.
fn newest_of(doc: &Automerge, actor: &ActorId) -> ChangeHash {
    doc.get_changes_meta(&[])
        .into_iter()
        .filter(|m| m.actor.as_ref() == actor)
        .max_by_key(|m| m.seq)
        .map(|m| m.hash)
        .expect("the actor made a change")
}

/// The number an id was made from.
fn serial(id: [u8; 16]) -> u32 {
    u32::from_be_bytes([id[0], id[1], id[2], id[3]])
}

/// Picks one of `choices` by `n`.
fn pick<T: Clone>(choices: &[T], n: u8) -> Option<T> {
    (!choices.is_empty()).then(|| choices[usize::from(n) % choices.len()].clone())
}

/// Runs an honest edit as `me`.
fn honest_op(
    doc: &mut Automerge,
    me: MemberId,
    edit: &Edit,
    now: Timestamp,
    id: [u8; 16],
) -> Result<(), OpError> {
    let subs = layout::read_submissions(&*doc, &mut Vec::new())?;
    let nothing = || OpError::NotAMember("nothing to pick".into());
    match *edit {
        Edit::Bio(n) => {
            let patch = ProfilePatch {
                bio: Some(format!("bio {n}")),
                ..Default::default()
            };
            ops::update_profile(doc, me, patch, now).map(drop)
        }
        Edit::Submit => {
            let draft = SubmissionDraft {
                title: format!("Piece {}", serial(id)),
                genre: "fiction".into(),
                text: "It was a quiet mill.".into(),
                ..Default::default()
            };
            ops::submit(doc, me, SubmissionId::from_bytes(id), draft, now).map(drop)
        }
        Edit::Claim(n) => {
            let open: Vec<SubmissionId> = subs
                .values()
                .filter(|s| s.author != me && !s.claims.contains_key(&me))
                .map(|s| s.id)
                .collect();
            let sub = pick(&open, n).ok_or_else(nothing)?;
            ops::claim(doc, me, sub, now).map(drop)
        }
        Edit::Critique(n) => {
            let claimed: Vec<SubmissionId> = subs
                .values()
                .filter(|s| s.claims.get(&me).is_some_and(|c| c.released_at.is_none()))
                .filter(|s| s.critiques.values().all(|c| c.reviewer != me))
                .map(|s| s.id)
                .collect();
            let sub = pick(&claimed, n).ok_or_else(nothing)?;
            let body = "The middle sags; the end lands.";
            ops::critique(doc, me, sub, CritiqueId::from_bytes(id), body, now).map(drop)
        }
        Edit::Rate(n, stars) => {
            let mine: Vec<(SubmissionId, CritiqueId)> = subs
                .values()
                .filter(|s| s.author == me)
                .flat_map(|s| {
                    s.critiques
                        .values()
                        .filter(|c| c.rating.is_none())
                        .map(move |c| (s.id, c.id))
                })
                .collect();
            let (sub, critique) = pick(&mine, n).ok_or_else(nothing)?;
            ops::rate(doc, me, sub, critique, stars, now)
        }
        Edit::Remove(n) => {
            let target = pick(&[BEA, CAL, MAL], n).ok_or_else(nothing)?;
            ops::remove_member(doc, me, member(target), now).map(drop)
        }
    }
}

/// The map at `path`.
fn map_at(tx: &Transaction<'_>, path: &[&str]) -> Result<ObjId, String> {
    let mut obj = ROOT;
    for key in path {
        obj = match tx.get(&obj, *key) {
            Ok(Some((Value::Object(ObjType::Map), id))) => id,
            _ => return Err(format!("no map at {}", path.join("/"))),
        };
    }
    Ok(obj)
}

/// Writes `forgery` in one raw transaction. Where its target does not exist yet, Mal sets the
/// organizer flag on herself instead: every forgery is a forbidden change.
fn forge(
    tx: &mut Transaction<'_>,
    forgery: Forgery,
    now: Timestamp,
    id: [u8; 16],
) -> Result<(), String> {
    let subs = layout::read_submissions(&*tx, &mut Vec::new()).map_err(|e| e.to_string())?;
    let not_hers: Vec<SubmissionId> = subs
        .values()
        .filter(|s| s.author != member(MAL))
        .map(|s| s.id)
        .collect();
    let e = |e: automerge::AutomergeError| e.to_string();
    let d = |e: layout::DocError| e.to_string();
    let others = [ANN, BEA, CAL];
    let done = match forgery {
        Forgery::AnothersTitle(n) => match pick(&not_hers, n) {
            Some(sub) => {
                let obj = map_at(tx, &["submissions", &sub.to_string()])?;
                tx.put(&obj, "title", format!("Mal's now ({})", serial(id)))
                    .map_err(e)?;
                true
            }
            None => false,
        },
        Forgery::CritiqueInAnothersName(s, m) => {
            let reviewer = member(pick(&others, m).unwrap_or(ANN));
            let target: Vec<SubmissionId> = subs
                .values()
                .filter(|sub| sub.author != reviewer)
                .map(|sub| sub.id)
                .collect();
            match pick(&target, s) {
                Some(sub) => {
                    let critique = Critique {
                        id: CritiqueId::from_bytes(id),
                        reviewer,
                        body: "Dull. One star.".into(),
                        word_count: 3,
                        delivered_at: now,
                        rating: None,
                        thanked_at: None,
                        tipped_at: None,
                    };
                    layout::put_critique(tx, sub, &critique).map_err(d)?;
                    true
                }
                None => false,
            }
        }
        Forgery::RatingOnAnothersPiece(n) => {
            let theirs: Vec<(SubmissionId, CritiqueId)> = subs
                .values()
                .filter(|s| s.author != member(MAL))
                .flat_map(|s| s.critiques.keys().map(move |c| (s.id, *c)))
                .collect();
            match pick(&theirs, n) {
                Some((sub, critique)) => {
                    layout::mark_critique(tx, sub, critique, CritiqueMark::Rated(1)).map_err(d)?;
                    true
                }
                None => false,
            }
        }
        Forgery::DeviceWithoutInvite => {
            let record = Device {
                label: "spare".into(),
                added_at: now,
            };
            let mut key = [0xd0; 32];
            key[..16].copy_from_slice(&id);
            layout::put_device(tx, member(MAL), DeviceId::from_bytes(key), &record).map_err(d)?;
            true
        }
        Forgery::RemovalByNonOrganizer(n) => {
            let target = pick(&others, n).unwrap_or(ANN);
            layout::set_removed(tx, member(target), now).map_err(d)?;
            true
        }
        Forgery::RuleChangeBackdatedAsAnn => {
            let change = RuleChange {
                id: RuleChangeId::from_bytes(id),
                at: "2020-01-01T00:00:00Z"
                    .parse()
                    .map_err(|e: jiff::Error| e.to_string())?,
                by: member(ANN),
                values: [("claim_period_days".to_string(), "1".to_string())].into(),
            };
            layout::put_rule_change(tx, &change).map_err(d)?;
            true
        }
        Forgery::ActorOfAnotherDevice(v) => {
            // Written under an actor that names another device's key: in that member's name.
            let victim = usize::from(v) % MAL;
            let obj = map_at(tx, &["members", &member(victim).to_string()])?;
            let bio = format!("written by someone else ({})", serial(id));
            tx.put(&obj, "bio", bio).map_err(e)?;
            true
        }
        Forgery::Unsigned => {
            let obj = map_at(tx, &["members", &member(MAL).to_string()])?;
            tx.put(&obj, "bio", format!("unsigned ({})", serial(id)))
                .map_err(e)?;
            true
        }
        Forgery::OrganizerFlagOnHerself
        | Forgery::InAnothersChain(_)
        | Forgery::WrongPredecessor(_) => false,
    };
    if !done {
        let obj = map_at(tx, &["members", &member(MAL).to_string()])?;
        tx.put(&obj, "organizer", true).map_err(e)?;
    }
    Ok(())
}

/// How many cases to run: `PROPTEST_CASES`, or about 8 s worth in a debug build.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256)
}

#[test]
fn honest_forks_converge_and_hold_no_invalid_change() {
    let seed: u64 = std::env::var("FORKS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let mut bytes = [0u8; 8];
            getrandom::fill(&mut bytes).expect("randomness");
            u64::from_le_bytes(bytes)
        });
    let config = Config {
        cases: cases(),
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(seed),
        max_shrink_iters: 1024,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let schedule = proptest::collection::vec(step(), 1..160);
    let result = runner.run(&schedule, |steps| {
        let mut net = Net::new();
        for step in &steps {
            net.run(step);
        }
        net.quiesce().and_then(|()| net.check()).map_err(|e| {
            TestCaseError::fail(format!(
                "{e}\n{net:?}\nthe end of its trace:\n{}",
                tail(&net.trace)
            ))
        })
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, steps)) => {
            let steps: Vec<String> = steps.iter().map(|s| format!("  {s:?}")).collect();
            panic!(
                "forks: {why}\nminimal schedule ({} steps):\n{}\nreplay with FORKS_SEED={seed}",
                steps.len(),
                steps.join("\n")
            )
        }
        Err(e) => panic!("forks: {e}; replay with FORKS_SEED={seed}"),
    }
}

// Regression tests: the smallest cases of the engine bugs the property found, and of one it
// could not reach (a targeted forgery). Each is ignored until `PeerSession` is fixed; the fix
// for each is described with it.

/// Runs `steps` from the start, then as the property does: the honest devices sync until
/// quiet, and the properties hold.
fn scripted(steps: &[Step]) -> Result<Net, String> {
    let mut net = Net::new();
    for step in steps {
        net.run(step);
    }
    net.quiesce()
        .and_then(|()| net.check())
        .map_err(|e| format!("{e}\nthe end of its trace:\n{}", tail(&net.trace)))?;
    Ok(net)
}

/// A frame of `changes` alone, with `sigs`, as a peer's session could send it.
fn frame_of(changes: &[&automerge::Change], sigs: &[(ChangeHash, [u8; 64])]) -> Vec<u8> {
    let mut heads: Vec<ChangeHash> = changes.iter().map(|c| c.hash()).collect();
    heads.sort();
    let chunks: Vec<Vec<u8>> = changes.iter().map(|c| c.raw_bytes().to_vec()).collect();
    let message = Message {
        heads,
        need: Vec::new(),
        have: Vec::new(),
        changes: ChunkList::from(chunks),
        version: MessageVersion::V1,
        flags: None,
    };
    envelope::encode(&message.encode(), sigs)
}

/// The four devices after the founders' handshake, quiet.
fn quiet_net() -> Net {
    let mut net = Net::new();
    net.drain(1_000).expect("the founders' handshake ends");
    net
}

/// Found by the property: `PeerSession::outgoing` appends the hashes it was offered signatures
/// for, and those its held changes wait on, to automerge's `need` unsorted; automerge's
/// encoder asserts that hash lists are sorted, so the session panics (in debug builds).
/// Fix: sort `need` after appending.
#[test]
fn what_a_session_asks_for_is_sorted() {
    let mut net = quiet_net();
    // Ann's frame offers signatures over changes still to come (as the first parts of a split
    // message do): Bea asks for them.
    let message = Message {
        heads: net.forks[ANN].heads(),
        need: Vec::new(),
        have: Vec::new(),
        changes: ChunkList::empty(),
        version: MessageVersion::V1,
        flags: None,
    };
    let offered: Vec<_> = (1..=8u8)
        .rev()
        .map(|n| (ChangeHash([n; 32]), [0; 64]))
        .collect();
    let frame = envelope::encode(&message.encode(), &offered);
    let bea = &mut net.forks[BEA];
    bea.sessions.insert(ANN, PeerSession::new(device(ANN)));
    bea.incoming(ANN, &frame)
        .expect("nothing wrong with it yet");
    let asked = bea.outgoing(ANN);
    let (message, _) = envelope::decode(&asked[0]).expect("a frame");
    let need = Message::decode(message).expect("a message").need;
    assert!(need.is_sorted(), "{need:?}");
}

/// Found by the property: Mal's edit reaches Bea from Mal and, relayed with its signature,
/// from Ann. A signature offered for a change the document holds already stays offered (the
/// session looks at offered signatures only while it holds changes back), so Bea asks for that
/// change in every message, is sent it again with its signature, and so on: two devices that
/// are in sync never fall quiet. Fix: in `settle`, check offered signatures (`apply_held`)
/// whenever any are offered, not only while changes are held.
#[test]
fn relayed_signatures_let_the_devices_fall_quiet() {
    let mut net = quiet_net();
    net.run(&Step::Edit(ANN, Edit::Bio(1)));
    net.run(&Step::MalEdit(Edit::Bio(1)));
    if let Err(e) = net.drain(1_000) {
        panic!("{e}\n{}", tail(&net.trace));
    }
}

/// Found by the property: Cal holds Bea's second change in their session, waiting for her
/// first (automerge's bloom filter told Bea that Cal had it). Both then reach Cal through Ann.
/// When Bea's session next settles, the held copy of a change Cal holds already is applied
/// again and fails the sequence check: Cal cuts Bea off as a peer that broke the protocol.
/// Fix: `apply_held` first lets go of held changes the document holds.
#[test]
fn a_held_change_that_arrives_through_another_peer_is_let_go() {
    let mut net = quiet_net();
    net.run(&Step::Partition(1 << CAL));
    let before = net.forks[BEA].heads();
    net.run(&Step::Edit(BEA, Edit::Bio(1)));
    net.run(&Step::Edit(BEA, Edit::Bio(2)));
    net.drain(1_000).expect("Bea's edits reach Ann and Mal");
    let bea_changes = net.forks[BEA].doc.get_changes(&before);
    let (first, second) = (&bea_changes[0], &bea_changes[1]);
    let sig = *net.forks[ANN]
        .book
        .newest(first.actor_id())
        .expect("Ann holds Bea's signature");
    assert_eq!(sig.hash, second.hash());
    // Bea's session with Cal, seen from Cal's side: her second change comes alone.
    let offered = [(sig.hash, sig.signature)];
    let cal = &mut net.forks[CAL];
    cal.sessions.insert(BEA, PeerSession::new(device(BEA)));
    cal.incoming(BEA, &frame_of(&[second], &offered))
        .expect("held, waiting for the first");
    // Both reach Cal through Ann.
    net.run(&Step::Heal(CAL, ANN));
    net.drain(1_000).expect("Ann and Cal fall quiet");
    let cal = &mut net.forks[CAL];
    assert!(cal.doc.get_change_meta_by_hash(&second.hash()).is_some());
    // Bea answers what Cal asked her for: the first change.
    cal.incoming(BEA, &frame_of(&[first], &offered))
        .expect("nothing wrong with Bea's answer");
}

/// Found by the property: Mal sends an honest edit and a forbidden one in one frame (she made
/// both while apart), with the one signature, over the newer, that vouches for both. Ann keeps
/// the honest edit and refuses the other, so she holds a change nothing she can show vouches
/// for (the signature is over a change she refused; and the signatures of whatever else the
/// frame applied are lost with the error). She relays it to Bea, who refuses Ann's frame as
/// unsigned and cuts Ann off; a new member Ann invited would refuse the group Ann sends. Fix:
/// keep nothing of a message that holds a refused change (roll the document back to its heads
/// before `settle`, `Automerge::fork_at`, as `Group::act` does with its own refused
/// operations), or keep only what the kept signatures vouch for and return those signatures
/// with the error.
#[test]
fn a_change_kept_from_a_refused_frame_can_still_be_vouched_for() {
    let result = scripted(&[
        Step::Drain,
        Step::Partition(1 << MAL),
        Step::MalEdit(Edit::Bio(1)),
        Step::Forge(Forgery::OrganizerFlagOnHerself),
        Step::Heal(MAL, ANN),
        Step::Drain,
    ]);
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// A targeted forgery: Mal holds Ann's two newest changes and Ann's signature over the newer,
/// which Cal lacks. She writes a change under Ann's own actor, numbered 1 like Ann's first, and
/// sends it to Cal first, with Ann's signature offered; then Ann's two changes. The signature
/// vouches for Ann's changes "up to number 2" and Mal's change is number 1 of Ann's actor: Cal
/// applies it as Ann's, so Mal is an organizer on Cal's device in Ann's name, though Ann never
/// made the change and it is not in the past of the one she signed. Fix: a signature vouches
/// for the change it is over and for its actor's changes in that change's past (walked through
/// the held changes' dependencies), not for every change with a smaller number.
#[test]
fn a_signature_vouches_only_for_the_changes_in_its_past() {
    let mut net = quiet_net();
    net.run(&Step::Partition(1 << CAL));
    let before = net.forks[ANN].heads();
    net.run(&Step::Edit(ANN, Edit::Bio(1)));
    net.run(&Step::Edit(ANN, Edit::Bio(2)));
    net.drain(1_000).expect("Ann's edits reach Bea and Mal");
    let ann_actor = net.forks[ANN].doc.get_actor().clone();
    let genuine = net.forks[ANN].doc.get_changes(&before);
    let (first, second) = (&genuine[0], &genuine[1]);
    assert_eq!((first.seq(), second.seq()), (1, 2));
    let sig = *net.forks[MAL]
        .book
        .newest(&ann_actor)
        .expect("Mal holds Ann's signature");
    assert_eq!(sig.hash, second.hash());
    // Mal's forgery: number 1 of Ann's actor, on the heads before Ann's first change.
    let mut fake = net.forks[MAL]
        .doc
        .fork_at(&before)
        .expect("Mal holds those heads")
        .with_actor(ann_actor);
    let mut tx = fake.transaction();
    let mal = map_at(&tx, &["members", &member(MAL).to_string()]).expect("Mal's entry");
    tx.put(&mal, "organizer", true).expect("a raw put");
    tx.commit();
    let forged = fake.get_last_local_change().expect("the forgery");
    assert_eq!(forged.seq(), 1);
    let offered = [(sig.hash, sig.signature)];
    let cal = &mut net.forks[CAL];
    cal.sessions.insert(MAL, PeerSession::new(device(MAL)));
    let one = cal.incoming(MAL, &frame_of(&[&forged], &offered));
    let two = cal.incoming(MAL, &frame_of(&[first, second], &offered));
    assert!(
        cal.doc.get_change_meta_by_hash(&forged.hash()).is_none(),
        "Cal applied Mal's change as Ann's (first frame: {one:?}, second: {two:?})"
    );
    let mal = layout::read_member(&cal.doc, member(MAL))
        .expect("a group")
        .expect("Mal");
    assert!(!mal.organizer, "Mal is an organizer on Cal's device");
    // Refused for what it is: a change nothing vouches for (not for the clash of numbers with
    // Ann's genuine change, which only a forgery applied first would cause).
    assert!(
        matches!(&two, Err(PeerError::Unsigned { change, .. }) if *change == forged.hash()),
        "{two:?}"
    );
}

/// Mal sends a change she leaves unsigned and, on top of it, a signed one: Cal refuses the
/// unsigned change and cuts Mal off, although a signature is on offer.
#[test]
fn an_unsigned_change_under_a_signed_one_is_refused() {
    let mut net = quiet_net();
    for step in [
        Step::Partition(1 << MAL),
        Step::Forge(Forgery::Unsigned),
        Step::MalEdit(Edit::Bio(1)),
        Step::Heal(MAL, CAL),
    ] {
        net.run(&step);
    }
    let _ = net.drain(2_000);
    assert!(
        net.refused_mal.iter().any(|(who, _)| *who == CAL),
        "Cal never refused Mal's unsigned change:\n{}",
        tail(&net.trace)
    );
}

/// Found by the property test: Mal relays Cal's bio edit and Cal's piece (Cal's signature is
/// over the piece, which depends on Mal's own bio edit), then a refused forgery. Mal's bio edit
/// is left out (her signature is over the forgery), so the piece is left out, and then nothing
/// vouches for Cal's bio edit: Ann had kept it with no signature to prove it by. Now what is
/// left out can take with it what only it vouched for.
#[test]
fn a_change_vouched_for_only_by_one_left_out_is_left_out_too() {
    let result = scripted(&[
        Step::MalEdit(Edit::Bio(0)),
        Step::Edit(CAL, Edit::Bio(0)),
        Step::Partition(12),
        Step::Drain,
        Step::Edit(CAL, Edit::Submit),
        Step::Deliver {
            from: CAL,
            to: MAL,
            frames: 1,
        },
        Step::Forge(Forgery::OrganizerFlagOnHerself),
        Step::Edit(ANN, Edit::Bio(0)),
        Step::Edit(ANN, Edit::Remove(181)),
        Step::HealAll,
        Step::Drain,
    ]);
    if let Err(e) = result {
        panic!("{e}");
    }
}
