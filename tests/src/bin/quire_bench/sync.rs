//! The sync figures: two `quire-sync` nodes on loopback (no relay, no lookup), each figure
//! beside the same exchange between two documents in memory, no network and no disk: with
//! every check a node makes (a `PeerSession` with signatures and the group's rules) and
//! without any (automerge's sync protocol alone, the floor); see [`super::pair`].
//!
//! * live edit: a bio change on A through the node, until B's node reports a document that
//!   has A's new heads (B's `DocumentChanged` event, once B has written the change to its
//!   log, where the desktop client reads it; B's fsync follows). A sends before its own fsync
//!   and acknowledges the edit after it.
//! * catch-up: both devices edit their own profile offline, then B's node starts
//!   and the figure runs until both nodes report the same heads; bytes are what both nodes
//!   sent on their sync streams meanwhile, against the size of the changes each side lacked.
//! * signatures' share of storage: the bytes of each device's `signatures` file and log record
//!   trailers over its group folder, after the live edits and the catch-up, and again after
//!   compaction.

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use automerge::{Automerge, ChangeHash};
use iroh_base::SecretKey;
use jiff::Timestamp;
use quire_store::doc::ProfilePatch;
use quire_store::ops::{self, NewGroup, NewMember};
use quire_store::signatures::SignatureBook;
use quire_store::storage::{DataDir, StorageOptions};
use quire_store::{DeviceId, Group, GroupId, MemberId, session_actor};
use quire_sync::{InviteOptions, Node, NodeConfig, NodeHandle, SyncEvent};
use quire_tests::Summary;
use quire_tests::report::{Report, ms};
use quire_tests::workload::device_of;
use tempfile::TempDir;
use tokio::sync::broadcast;

use super::arrivals::Arrivals;
use super::pair::{Checked, Raw, Side, deliver, exchange};
use super::signature_share::{self, Share};

/// Untimed edits before the live figure, so connections and caches are warm.
const WARM_UP: usize = 10;
/// Pause between two timed live edits, so each one starts on a quiet pair.
const EDIT_GAP: Duration = Duration::from_millis(10);
/// How long any one wait may take before the benchmark gives up.
pub(super) const DEADLINE: Duration = Duration::from_secs(60);
/// Small appends timed for the fsync figure.
const FSYNCS: usize = 50;
/// Runs of the in-memory catch-up (it is one shot on the nodes, cheap in memory).
const FLOOR_RUNS: usize = 5;

/// Adds the live-edit and catch-up figures to `report`.
pub fn figures(quick: bool, report: &mut Report) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(quick, report))
}

async fn run(quick: bool, report: &mut Report) -> anyhow::Result<()> {
    let edits = if quick { 30 } else { 200 };
    let offline_edits = if quick { 500 } else { 5_000 };
    let mut a = Device::new("Ada")?;
    let mut b = Device::new("Bea")?;
    let group = pair(&mut a, &mut b).await?;

    let fsync = fsync_append(a.dir.path())?;
    let live = live_edit(&a, &b, group, edits).await?;
    let (raw, raw_back_to_back) = {
        let (a_doc, me, _) = a.doc(group).await?;
        let (b_doc, _, _) = b.doc(group).await?;
        let paced = live_edit_in_memory(
            Raw::new(a_doc.fork()),
            Raw::new(b_doc.fork()),
            me,
            edits,
            Some(EDIT_GAP),
        )
        .await?;
        let back_to_back =
            live_edit_in_memory(Raw::new(a_doc), Raw::new(b_doc), me, edits, None).await?;
        (paced, back_to_back)
    };
    let (checked, checked_back_to_back) = {
        let sides = || async {
            let (a_doc, me, a_book) = a.doc(group).await?;
            let (b_doc, _, b_book) = b.doc(group).await?;
            anyhow::Ok((
                Checked::new(a_doc, a.secret.clone(), b.id, a_book),
                Checked::new(b_doc, b.secret.clone(), a.id, b_book),
                me,
            ))
        };
        let (a_side, b_side, me) = sides().await?;
        let paced = live_edit_in_memory(a_side, b_side, me, edits, Some(EDIT_GAP)).await?;
        let (a_side, b_side, me) = sides().await?;
        let back_to_back = live_edit_in_memory(a_side, b_side, me, edits, None).await?;
        (paced, back_to_back)
    };
    let caught = catch_up(&mut a, &mut b, group, offline_edits).await?;
    a.offline().await;
    b.offline().await;
    let shares = [a.signature_shares(group)?, b.signature_shares(group)?];

    let workload = format!(
        "2 nodes, {edits} bio edits {} ms apart",
        EDIT_GAP.as_millis()
    );
    let in_memory = format!(
        "2 documents, {edits} bio edits {} ms apart",
        EDIT_GAP.as_millis()
    );
    let visible = live.visible;
    let p99_ratio = visible.p99_ms / checked.p99_ms;
    let median_ratio = visible.median_ms / checked.median_ms;
    let backlog = format!("{offline_edits} + {offline_edits} offline edits");
    let secs = caught.time.as_secs_f64();
    let bytes_ratio = caught.sent as f64 / caught.missing as f64;
    let section = report.section(
        "Sync between two peers",
        "Two nodes on loopback, relays and address lookup off, every change signed by its \
         device and judged by the group's rules on arrival. A live edit runs from the edit \
         on A until B's node reports a document holding it (written to B's log, where B's \
         client reads it; A sends before its fsync, B fsyncs after reporting); the catch-up \
         from starting B's node until both report the same heads. Beside each, the same \
         exchange in memory with those checks (a `PeerSession` signing, verifying and judging) \
         and without any (automerge's sync protocol alone: the floor).",
    );
    section
        .floor(
            "live edit in memory, automerge sync alone (no checks)",
            &in_memory,
            &raw,
        )
        .timing(
            "  the same, back to back",
            &format!("2 documents, {edits} bio edits"),
            &raw_back_to_back,
            "",
            None,
        )
        .timing(
            "live edit in memory, with signatures and rules",
            &in_memory,
            &checked,
            "",
            None,
        )
        .timing(
            "  the same, back to back",
            &format!("2 documents, {edits} bio edits"),
            &checked_back_to_back,
            "",
            None,
        )
        .timing(
            "live edit on A visible in B's document",
            &workload,
            &visible,
            "p99 ≤ 3 ms",
            Some(visible.p99_ms <= 3.0),
        )
        .value(
            "live edit over the same in memory with the checks",
            &workload,
            &format!("median {median_ratio:.1}×, p99 {p99_ratio:.1}×"),
            "≤ 3×",
            Some(median_ratio <= 3.0 && p99_ratio <= 3.0),
        )
        .timing(
            "A's edit acknowledged (op, sent to B, fsync)",
            &workload,
            &live.durable,
            "",
            None,
        )
        .timing(
            "  fsync of a small append, same disk",
            &format!("{FSYNCS} appends"),
            &fsync,
            "",
            None,
        )
        .floor(
            "catch-up in memory, automerge sync alone (no checks)",
            &format!("{backlog}, {FLOOR_RUNS} runs"),
            &caught.raw_time,
        )
        .timing(
            "catch-up in memory, with signatures and rules",
            &format!("{backlog}, {FLOOR_RUNS} runs"),
            &caught.checked_time,
            "",
            None,
        )
        .value(
            "catch-up until both have the same heads",
            &backlog,
            &ms(secs * 1000.0),
            "≤ 1 s",
            Some(secs <= 1.0),
        )
        .value(
            "  of which: B's node starting",
            &backlog,
            &ms(caught.start.as_secs_f64() * 1000.0),
            "",
            None,
        )
        .value(
            "catch-up bytes over the missing changes",
            &backlog,
            &format!(
                "{bytes_ratio:.3} ({} sent, {} of them by convergence, for {} bytes in {} \
                 changes; in memory {:.3} with the checks, {:.3} without)",
                caught.sent,
                caught.sent_at_convergence,
                caught.missing,
                caught.missing_changes,
                caught.checked_bytes as f64 / caught.missing as f64,
                caught.raw_bytes as f64 / caught.missing as f64,
            ),
            "≤ 1.3",
            Some(bytes_ratio <= 1.3),
        );
    let storage = format!("{backlog}, after {} live edits", WARM_UP + edits);
    for (device, [live_share, compacted]) in [a.name, b.name].into_iter().zip(shares) {
        section
            .value(
                &format!("signatures' share of {device}'s group folder"),
                &storage,
                &live_share.to_string(),
                "≤ 5 %",
                Some(live_share.ratio() <= 0.05),
            )
            .value(
                "  the same after compaction",
                &storage,
                &compacted.to_string(),
                "≤ 5 %",
                Some(compacted.ratio() <= 0.05),
            );
    }
    section.note(&format!(
        "The floors pace their edits as the live ones are ({} ms apart): after a sleep the \
         work starts on cold caches. The checks (each frame's signatures made and verified, \
         each change judged at its own past) cost {:.2} ms median per live edit in memory \
         ({:.2} ms with them, {:.2} ms without). Over the in-memory figure with the checks \
         the live path adds the hops to A's and B's actor threads, B's write to its log, and a \
         trip through QUIC and the kernel's UDP stack; no fsync is on it (A sends before its \
         fsync and acknowledges after; the fsync row is the price of one).",
        EDIT_GAP.as_millis(),
        checked.median_ms - raw.median_ms,
        checked.median_ms,
        raw.median_ms,
    ));
    section.note(&format!(
        "Catch-up: A had B's changes after {:.3} s, B had A's after {:.3} s; the offline edits \
         took {:.1} s on A and {:.1} s on B, each durable. In memory the checks add {:.0} ms \
         to automerge's {:.0} ms (median).",
        caught.a_done.as_secs_f64(),
        caught.b_done.as_secs_f64(),
        caught.edit_a.as_secs_f64(),
        caught.edit_b.as_secs_f64(),
        caught.checked_time.median_ms - caught.raw_time.median_ms,
        caught.raw_time.median_ms,
    ));
    section.note(&format!(
        "Catch-up bytes: in memory the frames with the checks are {:.0} bytes per missing \
         change longer than automerge's alone (a frame carries one 32-byte hash and 64-byte \
         signature per actor among its changes, not one per change).",
        (caught.checked_bytes as f64 - caught.raw_bytes as f64) / caught.missing_changes as f64,
    ));
    let p = &caught.parts;
    let secs_ms = |d: Duration| ms(d.as_secs_f64() * 1000.0);
    section.note(&format!(
        "Where the catch-up with checks goes, each part timed alone over the same {} changes \
         (both directions, one run): automerge applying them in one call, as a session \
         does after judging a turn's changes (up to 512) in causal order, {2}, against {1} \
         one change per call (every edit here writes the same key, the member's bio, and \
         automerge's apply of one change walks that key's earlier ops); judging each change \
         {3}; signing each change {4} and verifying each signature {5}, which a session no \
         longer does (one signature per actor per frame).",
        caught.missing_changes,
        secs_ms(p.apply_each),
        secs_ms(p.apply_batch),
        secs_ms(p.judge),
        secs_ms(p.sign),
        secs_ms(p.verify),
    ));
    section.note(
        "Signatures on disk: a change received live is written with the signature that came \
         with it (a trailer of about 160 bytes on its log record, one per actor per record), \
         a batch received in catch-up with one per actor; our own changes carry none (the \
         device signs them when it sends them). Compaction keeps the newest signature of each \
         actor only, in the `signatures` file.",
    );
    Ok(())
}

/// Appends a small record to a file in `dir` and fsyncs it, [`FSYNCS`] times: the price of
/// one durable step on this disk.
fn fsync_append(dir: &std::path::Path) -> anyhow::Result<Summary> {
    use std::io::Write;
    let mut file = tempfile::tempfile_in(dir)?;
    super::time(FSYNCS, |_| {
        file.write_all(&[7; 200])?;
        file.sync_data()?;
        Ok(())
    })
}

/// A device: a data dir and, while online, its node.
pub(super) struct Device {
    pub(super) name: &'static str,
    dir: TempDir,
    pub(super) id: DeviceId,
    /// The device's key, as its node reads it from the data dir.
    pub(super) secret: SecretKey,
    node: Option<Node>,
}

impl Device {
    pub(super) fn new(name: &'static str) -> anyhow::Result<Device> {
        let dir = tempfile::tempdir()?;
        let secret = SecretKey::from_bytes(&DataDir::open(dir.path())?.device_secret()?);
        let id = device_of(&secret);
        Ok(Device {
            name,
            dir,
            id,
            secret,
            node: None,
        })
    }

    pub(super) fn data(&self) -> anyhow::Result<DataDir> {
        Ok(DataDir::open(self.dir.path())?)
    }

    pub(super) async fn online(&mut self) -> anyhow::Result<NodeHandle> {
        self.online_with(quire_sync::Fanout::default()).await
    }

    pub(super) async fn online_with(
        &mut self,
        fanout: quire_sync::Fanout,
    ) -> anyhow::Result<NodeHandle> {
        let config = NodeConfig {
            fanout,
            ..NodeConfig::loopback(self.dir.path())
        };
        let node = Node::spawn(config)
            .await
            .with_context(|| format!("cannot start {}'s node", self.name))?;
        let handle = node.handle();
        self.node = Some(node);
        Ok(handle)
    }

    pub(super) async fn offline(&mut self) {
        if let Some(node) = self.node.take() {
            node.shutdown().await;
        }
    }

    fn handle(&self) -> anyhow::Result<NodeHandle> {
        match &self.node {
            Some(node) => Ok(node.handle()),
            None => bail!("{} is offline", self.name),
        }
    }

    fn open(&self, group: GroupId) -> anyhow::Result<Group> {
        Ok(Group::open(
            &self.data()?,
            group,
            self.id,
            StorageOptions::default(),
        )?)
    }

    /// The group's document as the node holds it, copied out to be written as a new session
    /// of this device, with the signatures the node holds.
    async fn doc(&self, group: GroupId) -> anyhow::Result<(Automerge, MemberId, SignatureBook)> {
        let actor = session_actor(self.id);
        let (doc, me, book) = self
            .handle()?
            .edit(group, move |g| {
                g.me()
                    .map(|me| (g.doc().fork().with_actor(actor), me, g.signatures().clone()))
            })
            .await??;
        Ok((doc, me, book))
    }

    /// The signatures' share of this device's group folder as it is, and after compaction.
    fn signature_shares(&self, group: GroupId) -> anyhow::Result<[Share; 2]> {
        let mut g = self.open(group)?;
        let before = signature_share::of_group(g.path())?;
        g.storage_mut().compact()?;
        let after = signature_share::of_group(g.path())?;
        Ok([before, after])
    }
}

impl Device {
    /// Founds a group on this device, offline.
    pub(super) fn found(&self) -> anyhow::Result<GroupId> {
        let new = NewGroup {
            id: GroupId::random(),
            name: "Bench Writers".into(),
            description: String::new(),
            rules: Default::default(),
            founder: NewMember {
                id: MemberId::random(),
                display_name: self.name.into(),
                device: self.id,
                device_label: "bench".into(),
            },
        };
        Ok(Group::create(
            &self.data()?,
            new,
            StorageOptions::default(),
            Timestamp::now(),
        )?
        .id())
    }
}

/// A group founded by A with B joined, both online and converged.
async fn pair(a: &mut Device, b: &mut Device) -> anyhow::Result<GroupId> {
    let group = a.found()?;
    let a_node = a.online().await?;
    let b_node = b.online().await?;
    let ticket = a_node.invite(group, InviteOptions::default()).await?;
    b_node
        .join(&ticket, Some(b.name.into()), "bench".into())
        .await?;
    converged(&[&a_node, &b_node], group).await?;
    Ok(group)
}

/// Waits until every node holds the same heads for `group` (setup only: it polls).
pub(super) async fn converged(
    nodes: &[&NodeHandle],
    group: GroupId,
) -> anyhow::Result<Vec<ChangeHash>> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let mut all = Vec::new();
        for node in nodes {
            all.push(heads(node, group).await?);
        }
        if all.windows(2).all(|w| w[0] == w[1]) {
            return Ok(all.swap_remove(0));
        }
        ensure!(Instant::now() < deadline, "the nodes did not converge");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The group's heads as `node` holds them, sorted.
async fn heads(node: &NodeHandle, group: GroupId) -> anyhow::Result<Vec<ChangeHash>> {
    let mut heads = node.edit(group, |g| g.doc().get_heads()).await?;
    heads.sort();
    Ok(heads)
}

pub(super) fn bio(i: usize) -> ProfilePatch {
    ProfilePatch {
        bio: Some(format!("Writes about mills, draft {i}.")),
        ..Default::default()
    }
}

/// What the live edit measured.
struct Live {
    /// From the edit on A until B's node reports A's new heads.
    visible: Summary,
    /// From the edit until A's node acknowledged it (the operation, its send and its fsync).
    durable: Summary,
}

/// Edits A's bio `edits` times through A's node; each sample runs from the edit until B's
/// node reports a document holding A's new heads.
async fn live_edit(a: &Device, b: &Device, group: GroupId, edits: usize) -> anyhow::Result<Live> {
    let a_node = a.handle()?;
    let b_node = b.handle()?;
    let mut arrivals = Arrivals::watch(&b_node, group);
    let mut samples = Vec::with_capacity(edits);
    let mut durable = Vec::with_capacity(edits);
    for i in 0..WARM_UP + edits {
        let patch = bio(i);
        let started = Instant::now();
        let wanted = a_node
            .edit(group, move |g| {
                g.act(|doc, me| ops::update_profile(doc, me, patch, Timestamp::now()))
                    .map(|_| g.doc().get_heads())
            })
            .await??;
        let acked = started.elapsed();
        let arrived = arrivals
            .until(&wanted)
            .await
            .with_context(|| format!("live edit {i} never reached B"))?;
        if i >= WARM_UP {
            samples.push(arrived - started);
            durable.push(acked);
        }
        tokio::time::sleep(EDIT_GAP).await;
    }
    Ok(Live {
        visible: Summary::of(&samples),
        durable: Summary::of(&durable),
    })
}

/// Waits for `node` to report a document of `group` whose heads pass `done`. Reads the
/// node's heads once first (an event may have gone by before the caller subscribed) and
/// again if the event channel overflowed.
pub(super) async fn wait_for(
    events: &mut broadcast::Receiver<SyncEvent>,
    node: &NodeHandle,
    group: GroupId,
    done: impl Fn(&[ChangeHash]) -> bool,
) -> anyhow::Result<Instant> {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut check_node = false;
    loop {
        if check_node && done(&heads(node, group).await?) {
            return Ok(Instant::now());
        }
        check_node = false;
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(SyncEvent::DocumentChanged {
                group: g, heads, ..
            })) => {
                if g == group && done(&heads) {
                    return Ok(Instant::now());
                }
            }
            Ok(Ok(_)) => {}
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => check_node = true,
            Ok(Err(broadcast::error::RecvError::Closed)) => bail!("the node stopped"),
            Err(_) => bail!("timed out after {} s", DEADLINE.as_secs()),
        }
    }
}

/// The live edit in memory: the same bio edit on A's copy of the document, then A's side and
/// B's trade frames until B's copy has the change. The reply B sends afterwards is exchanged
/// untimed, as on the nodes, where it follows B's event.
///
/// With `gap`, the edits are paced as the live ones are: code that slept 10 ms starts on
/// cold caches, and back to back (no gap) the same work takes about half the time.
async fn live_edit_in_memory<S: Side>(
    mut a: S,
    mut b: S,
    me: MemberId,
    edits: usize,
    gap: Option<Duration>,
) -> anyhow::Result<Summary> {
    exchange(&mut a, &mut b)?;
    let mut samples = Vec::with_capacity(edits);
    for i in 0..WARM_UP + edits {
        let started = Instant::now();
        ops::update_profile(a.doc_mut(), me, bio(i), Timestamp::now())?;
        deliver(&mut a, &mut b).with_context(|| format!("in-memory live edit {i}"))?;
        if i >= WARM_UP {
            samples.push(started.elapsed());
        }
        exchange(&mut a, &mut b)?;
        if let Some(gap) = gap {
            tokio::time::sleep(gap).await;
        }
    }
    Ok(Summary::of(&samples))
}

/// What the catch-up measured.
struct CatchUp {
    /// From starting B's node until both nodes report the same heads.
    time: Duration,
    /// Of which B's node took to start (open the group, bind).
    start: Duration,
    /// When A's node, and B's, reported the merged heads.
    a_done: Duration,
    b_done: Duration,
    /// Bytes both nodes sent on sync streams until they went quiet.
    sent: u64,
    /// Of which sent by the time both had the same heads.
    sent_at_convergence: u64,
    /// Size of the changes each side lacked, both directions.
    missing: u64,
    /// How many changes those were.
    missing_changes: usize,
    /// The same in memory without the checks, and the bytes it sent.
    raw_time: Summary,
    raw_bytes: usize,
    /// The same in memory with the checks, and the bytes it sent.
    checked_time: Summary,
    checked_bytes: usize,
    /// Where the checked catch-up's time goes.
    parts: Parts,
    edit_a: Duration,
    edit_b: Duration,
}

/// Both nodes stop; each device changes its member's bio `edits` times, on disk; A's node
/// starts, then B's, and the catch-up runs until both report the same heads.
///
/// Bios rather than rule changes on the organizer's side: `change_rules` reads every earlier
/// rule change, so 5,000 of them take minutes to make (quadratic), not what is measured here.
async fn catch_up(
    a: &mut Device,
    b: &mut Device,
    group: GroupId,
    edits: usize,
) -> anyhow::Result<CatchUp> {
    let base = converged(&[&a.handle()?, &b.handle()?], group).await?;
    a.offline().await;
    b.offline().await;

    let edit_bio = |doc: &mut Automerge, me, i| {
        ops::update_profile(doc, me, bio(i), Timestamp::now()).map(drop)
    };
    let (a_doc, a_book, edit_a) = edit_offline(a, group, edits, edit_bio)?;
    let (b_doc, b_book, edit_b) = edit_offline(b, group, edits, edit_bio)?;
    let a_new = a_doc.get_changes(&base);
    let b_new = b_doc.get_changes(&base);
    ensure!(
        a_new.len() == edits && b_new.len() == edits,
        "expected {edits} new changes on each side, found {} and {}",
        a_new.len(),
        b_new.len()
    );
    let missing: u64 = a_new
        .iter()
        .chain(&b_new)
        .map(|c| c.raw_bytes().len() as u64)
        .sum();

    let (raw_time, raw_bytes, merged) =
        catch_up_in_memory(|| (Raw::new(a_doc.fork()), Raw::new(b_doc.fork())))?;
    let (checked_time, checked_bytes, checked_heads) = catch_up_in_memory(|| {
        (
            Checked::new(a_doc.fork(), a.secret.clone(), b.id, a_book.clone()),
            Checked::new(b_doc.fork(), b.secret.clone(), a.id, b_book.clone()),
        )
    })?;
    ensure!(
        checked_heads == merged,
        "the catch-up with checks ended elsewhere than without"
    );
    let parts = catch_up_parts(&a_doc, &b_doc, &a_new, &b_new, &a.secret, &b.secret)?;
    drop((a_doc, b_doc));

    let a_node = a.online().await?;
    let mut a_events = a_node.subscribe();
    let a_sent = a_node.traffic().0;
    let started = Instant::now();
    let b_node = b.online().await?;
    let start = started.elapsed();
    let mut b_events = b_node.subscribe();
    let same = |heads: &[ChangeHash]| {
        let mut heads = heads.to_vec();
        heads.sort();
        heads == merged
    };
    let (a_done, b_done) = tokio::join!(
        wait_for(&mut a_events, &a_node, group, same),
        wait_for(&mut b_events, &b_node, group, same),
    );
    let (a_done, b_done) = (a_done? - started, b_done? - started);
    let time = a_done.max(b_done);
    let sent_now = || a_node.traffic().0 - a_sent + b_node.traffic().0;
    let sent_at_convergence = sent_now();
    // Let the last acknowledgements go out: quiet for 300 ms.
    let mut sent = sent_at_convergence;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = sent_now();
        if now == sent {
            break;
        }
        sent = now;
    }
    Ok(CatchUp {
        time,
        start,
        a_done,
        b_done,
        sent,
        sent_at_convergence,
        missing,
        missing_changes: a_new.len() + b_new.len(),
        raw_time,
        raw_bytes,
        checked_time,
        checked_bytes,
        parts,
        edit_a,
        edit_b,
    })
}

/// Where the time of the catch-up with checks goes, each part timed alone over the same
/// changes, both directions.
struct Parts {
    /// Automerge applying each side's missing changes in one call, as its sync does.
    apply_batch: Duration,
    /// The same one change per call, as a session does: each change is judged at its own
    /// past, so what it depends on must be applied before it.
    apply_each: Duration,
    /// Each change judged by a fresh `Authority` (seeded at the base), before it is applied.
    judge: Duration,
    /// Each change signed by its device (the sender signs each of its own changes).
    sign: Duration,
    /// Each signature verified.
    verify: Duration,
}

fn catch_up_parts(
    a_doc: &Automerge,
    b_doc: &Automerge,
    a_new: &[automerge::Change],
    b_new: &[automerge::Change],
    a_secret: &SecretKey,
    b_secret: &SecretKey,
) -> anyhow::Result<Parts> {
    let mut parts = Parts {
        apply_batch: Duration::ZERO,
        apply_each: Duration::ZERO,
        judge: Duration::ZERO,
        sign: Duration::ZERO,
        verify: Duration::ZERO,
    };
    for (into, changes, secret) in [(a_doc, b_new, b_secret), (b_doc, a_new, a_secret)] {
        let mut batch = into.fork();
        let started = Instant::now();
        batch.apply_changes(changes.iter().cloned())?;
        parts.apply_batch += started.elapsed();

        let mut each = into.fork();
        let mut authority = quire_store::authority::Authority::new();
        authority.seed(&each);
        for change in changes {
            let started = Instant::now();
            authority.judge(&each, change)?;
            parts.judge += started.elapsed();
            let started = Instant::now();
            each.apply_changes([change.clone()])?;
            parts.apply_each += started.elapsed();
        }
        ensure!(each.get_heads() == batch.get_heads(), "the applies differ");

        let device = device_of(secret);
        let started = Instant::now();
        let sigs: Vec<[u8; 64]> = changes
            .iter()
            .map(|c| quire_sync::signing::sign_change(secret, &c.hash()))
            .collect();
        parts.sign += started.elapsed();
        let started = Instant::now();
        for (change, sig) in changes.iter().zip(&sigs) {
            ensure!(quire_sync::signing::verify_change(
                device,
                &change.hash(),
                sig
            ));
        }
        parts.verify += started.elapsed();
    }
    Ok(parts)
}

/// The catch-up in memory, [`FLOOR_RUNS`] times on fresh sides from `sides`: how long it took,
/// the bytes sent and the merged heads (sorted).
fn catch_up_in_memory<S: Side>(
    sides: impl Fn() -> (S, S),
) -> anyhow::Result<(Summary, usize, Vec<ChangeHash>)> {
    let mut samples = Vec::with_capacity(FLOOR_RUNS);
    let mut bytes = 0;
    let mut merged = Vec::new();
    for _ in 0..FLOOR_RUNS {
        let (mut a, mut b) = sides();
        let started = Instant::now();
        bytes = exchange(&mut a, &mut b)?;
        samples.push(started.elapsed());
        merged = a.doc().get_heads();
        merged.sort();
        let mut b_heads = b.doc().get_heads();
        b_heads.sort();
        ensure!(merged == b_heads, "the in-memory catch-up did not converge");
    }
    Ok((Summary::of(&samples), bytes, merged))
}

/// Opens `device`'s group once and runs `op` `edits` times through [`Group::act`] (each
/// change durable); returns the document, the signatures the device holds and how long the
/// edits took.
fn edit_offline(
    device: &Device,
    group: GroupId,
    edits: usize,
    mut op: impl FnMut(&mut Automerge, MemberId, usize) -> Result<(), quire_store::OpError>,
) -> anyhow::Result<(Automerge, SignatureBook, Duration)> {
    let mut g = device.open(group)?;
    let started = Instant::now();
    for i in 0..edits {
        g.act(|doc, me| op(doc, me, i))
            .with_context(|| format!("offline edit {i} on {}", device.name))?;
    }
    let took = started.elapsed();
    Ok((g.doc().fork(), g.signatures().clone(), took))
}
