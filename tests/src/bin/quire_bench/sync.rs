//! The sync figures: two `quire-sync` nodes on loopback (no relay, no lookup), each figure
//! against the same exchange between two automerge documents in memory with
//! [`PeerSession`], no network and no disk.
//!
//! * live edit: a bio change on A through the node, until B's node reports a document that
//!   has A's new heads (B's `DocumentChanged` event, once B has written the change to its
//!   log, where the desktop client reads it; B's fsync follows). A sends before its own fsync
//!   and acknowledges the edit after it.
//! * catch-up: both devices edit their own profile offline, then B's node starts
//!   and the figure runs until both nodes report the same heads; bytes are what both nodes
//!   sent on their sync streams meanwhile, against the size of the changes each side lacked.

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use automerge::{Automerge, ChangeHash};
use jiff::Timestamp;
use quire_store::doc::ProfilePatch;
use quire_store::ops::{self, NewGroup, NewMember};
use quire_store::storage::{DataDir, StorageOptions};
use quire_store::{DeviceId, Group, GroupId, MemberId};
use quire_sync::session::PeerSession;
use quire_sync::sync_check::Limits;
use quire_sync::{InviteOptions, Node, NodeConfig, NodeHandle, SyncEvent};
use quire_tests::Summary;
use quire_tests::report::{Report, ms};
use tempfile::TempDir;
use tokio::sync::broadcast;

use super::arrivals::Arrivals;

/// Untimed edits before the live figure, so connections and caches are warm.
const WARM_UP: usize = 10;
/// Pause between two timed live edits, so each one starts on a quiet pair.
const EDIT_GAP: Duration = Duration::from_millis(10);
/// How long any one wait may take before the benchmark gives up.
pub(super) const DEADLINE: Duration = Duration::from_secs(60);
/// Bytes the frame layer adds to each sync message (its length prefix); the nodes' traffic
/// counters include it, so the in-memory exchange counts it too.
const FRAME_PREFIX: usize = 4;
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
    let floor = live_edit_in_memory(&a, &b, group, edits, Some(EDIT_GAP)).await?;
    let back_to_back = live_edit_in_memory(&a, &b, group, edits, None).await?;
    let caught = catch_up(&mut a, &mut b, group, offline_edits).await?;
    a.offline().await;
    b.offline().await;

    let workload = format!(
        "2 nodes, {edits} bio edits {} ms apart",
        EDIT_GAP.as_millis()
    );
    let visible = live.visible;
    let p99_ratio = visible.p99_ms / floor.p99_ms;
    let median_ratio = visible.median_ms / floor.median_ms;
    let backlog = format!("{offline_edits} + {offline_edits} offline edits");
    let secs = caught.time.as_secs_f64();
    let bytes_ratio = caught.sent as f64 / caught.missing as f64;
    let section = report.section(
        "Sync between two peers",
        "Two nodes on loopback, relays and address lookup off. A live edit runs from the edit \
         on A until B's node reports a document holding it (written to B's log, where B's \
         client reads it; A sends before its fsync, B fsyncs after reporting); the catch-up \
         from starting B's node until both report the same heads.",
    );
    section
        .floor(
            "live edit, the same exchange in memory",
            &format!(
                "2 documents, {edits} bio edits {} ms apart",
                EDIT_GAP.as_millis()
            ),
            &floor,
        )
        .timing(
            "  the same, back to back",
            &format!("2 documents, {edits} bio edits"),
            &back_to_back,
            "",
            None,
        )
        .timing(
            "live edit on A visible in B's document",
            &workload,
            &visible,
            "p99 ≤ 20 ms",
            Some(visible.p99_ms <= 20.0),
        )
        .value(
            "live edit over its floor",
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
            "catch-up, the same in memory",
            &format!("{backlog}, {FLOOR_RUNS} runs"),
            &caught.floor_time,
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
                 changes; in memory {:.3})",
                caught.sent,
                caught.sent_at_convergence,
                caught.missing,
                caught.missing_changes,
                caught.floor_bytes as f64 / caught.missing as f64
            ),
            "≤ 1.3",
            Some(bytes_ratio <= 1.3),
        );
    section.note(&format!(
        "The floor paces its edits as the live ones are ({} ms apart): after a sleep the work \
         starts on cold caches, and back to back it takes {:.2} ms instead of {:.2} ms. Over \
         that floor the live path adds the hops to A's and B's actor threads, B's write to its \
         log, and a trip through QUIC and the kernel's UDP stack; no fsync is on it (A sends \
         before its fsync and acknowledges after; the fsync row is the price of one).",
        EDIT_GAP.as_millis(),
        back_to_back.median_ms,
        floor.median_ms
    ));
    section.note(&format!(
        "Catch-up: A had B's changes after {:.3} s, B had A's after {:.3} s; the offline edits \
         took {:.1} s on A and {:.1} s on B, each durable.",
        caught.a_done.as_secs_f64(),
        caught.b_done.as_secs_f64(),
        caught.edit_a.as_secs_f64(),
        caught.edit_b.as_secs_f64()
    ));
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
    node: Option<Node>,
}

impl Device {
    pub(super) fn new(name: &'static str) -> anyhow::Result<Device> {
        let dir = tempfile::tempdir()?;
        let id = quire_tests::device_of(dir.path())?;
        Ok(Device {
            name,
            dir,
            id,
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

    /// The group's document as the node holds it, copied out.
    async fn doc(&self, group: GroupId) -> anyhow::Result<(Automerge, MemberId)> {
        let copy = self
            .handle()?
            .edit(group, |g| g.me().map(|me| (g.doc().fork(), me)))
            .await??;
        Ok(copy)
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

/// The live edit in memory: the same bio edit on a copy of A's document, then A's session
/// and B's trade messages until B's copy has the change. The reply B sends afterwards is
/// exchanged untimed, as on the nodes, where it follows B's event.
///
/// With `gap`, the edits are paced as the live ones are: code that slept 10 ms starts on
/// cold caches, and back to back (no gap) the same work takes about half the time.
async fn live_edit_in_memory(
    a: &Device,
    b: &Device,
    group: GroupId,
    edits: usize,
    gap: Option<Duration>,
) -> anyhow::Result<Summary> {
    let (mut a_doc, me) = a.doc(group).await?;
    let (mut b_doc, _) = b.doc(group).await?;
    let mut a_side = PeerSession::new(b.id);
    let mut b_side = PeerSession::new(a.id);
    let limits = Limits::default();
    exchange(&mut a_doc, &mut a_side, &mut b_doc, &mut b_side)?;
    let mut samples = Vec::with_capacity(edits);
    for i in 0..WARM_UP + edits {
        let started = Instant::now();
        ops::update_profile(&mut a_doc, me, bio(i), Timestamp::now())?;
        let wanted = a_doc.get_heads();
        let arrived = |b_doc: &Automerge| {
            wanted
                .iter()
                .all(|h| b_doc.get_change_meta_by_hash(h).is_some())
        };
        let mut rounds = 0;
        loop {
            for m in a_side.outgoing(&a_doc) {
                b_side.incoming(&mut b_doc, &m, &limits)?;
            }
            if arrived(&b_doc) {
                break;
            }
            for m in b_side.outgoing(&b_doc) {
                a_side.incoming(&mut a_doc, &m, &limits)?;
            }
            rounds += 1;
            ensure!(rounds < 10, "in-memory live edit {i} did not arrive");
        }
        if i >= WARM_UP {
            samples.push(started.elapsed());
        }
        exchange(&mut a_doc, &mut a_side, &mut b_doc, &mut b_side)?;
        if let Some(gap) = gap {
            tokio::time::sleep(gap).await;
        }
    }
    Ok(Summary::of(&samples))
}

/// Trades messages between two in-memory sessions until neither has anything to say, both
/// sides speaking first as the nodes do on connecting. Returns the bytes sent, framed.
pub(super) fn exchange(
    a: &mut Automerge,
    a_side: &mut PeerSession,
    b: &mut Automerge,
    b_side: &mut PeerSession,
) -> anyhow::Result<usize> {
    let limits = Limits::default();
    let mut bytes = 0;
    for _ in 0..100 {
        let to_b = a_side.outgoing(a);
        let to_a = b_side.outgoing(b);
        if to_a.is_empty() && to_b.is_empty() {
            return Ok(bytes);
        }
        for (messages, doc, side) in [(to_b, &mut *b, &mut *b_side), (to_a, &mut *a, &mut *a_side)]
        {
            for m in messages {
                bytes += m.len() + FRAME_PREFIX;
                side.incoming(doc, &m, &limits)?;
            }
        }
    }
    bail!("the in-memory sessions did not go quiet")
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
    floor_time: Summary,
    floor_bytes: usize,
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
    let (a_doc, edit_a) = edit_offline(a, group, edits, edit_bio)?;
    let (b_doc, edit_b) = edit_offline(b, group, edits, edit_bio)?;
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

    let mut floor_samples = Vec::with_capacity(FLOOR_RUNS);
    let mut floor_bytes = 0;
    let mut merged = Vec::new();
    for _ in 0..FLOOR_RUNS {
        let (mut a_copy, mut b_copy) = (a_doc.fork(), b_doc.fork());
        let mut a_side = PeerSession::new(b.id);
        let mut b_side = PeerSession::new(a.id);
        let started = Instant::now();
        floor_bytes = exchange(&mut a_copy, &mut a_side, &mut b_copy, &mut b_side)?;
        floor_samples.push(started.elapsed());
        merged = a_copy.get_heads();
        merged.sort();
        let mut b_heads = b_copy.get_heads();
        b_heads.sort();
        ensure!(merged == b_heads, "the in-memory catch-up did not converge");
    }
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
        floor_time: Summary::of(&floor_samples),
        floor_bytes,
        edit_a,
        edit_b,
    })
}

/// Opens `device`'s group once and runs `op` `edits` times through [`Group::act`] (each
/// change durable); returns the document and how long the edits took.
fn edit_offline(
    device: &Device,
    group: GroupId,
    edits: usize,
    mut op: impl FnMut(&mut Automerge, MemberId, usize) -> Result<(), quire_store::OpError>,
) -> anyhow::Result<(Automerge, Duration)> {
    let mut g = device.open(group)?;
    let started = Instant::now();
    for i in 0..edits {
        g.act(|doc, me| op(doc, me, i))
            .with_context(|| format!("offline edit {i} on {}", device.name))?;
    }
    let took = started.elapsed();
    Ok((g.doc().fork(), took))
}
