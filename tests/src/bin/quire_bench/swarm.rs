//! Figures of many peers and of big groups on the wire:
//!
//! * fan-out: 20 nodes on loopback in one group; an edit on one until every other node
//!   reports it (stamped as each report arrives, see `arrivals`), with the default fan-out (gossip neighbors, announcements, pulls) and, for
//!   comparison, as a full mesh; floor: automerge applying the same change to 19 documents
//!   in memory.
//! * first sync: a new member joins a group of 1,000 members, 10,000 submissions and 100,000
//!   critiques, written as its members would have (each change signed by its member's device,
//!   see `workload::to_document`); from the join request until the joiner holds the whole
//!   group on disk, every change's signature and authority verified; floors without the checks:
//!   automerge's sync protocol filling an empty document in memory, and automerge loading the
//!   saved document in memory (what the joiner does before it verifies). Beside them, the
//!   checks alone in memory: `verify_history` of the loaded document, each actor's signature
//!   checked, and `Authority::judge` per change; and the signatures' share of the joiner's
//!   group folder.

use std::time::{Duration, Instant};

use anyhow::Context;
use automerge::Automerge;
use jiff::Timestamp;
use quire_store::authority::Authority;
use quire_store::ops;
use quire_store::storage::StorageOptions;
use quire_store::{DeviceId, Group, GroupId, device_of_actor};
use quire_sync::saved_check::{DocLimits, check_saved_document};
use quire_sync::session::Distance;
use quire_sync::signing::verify_change;
use quire_sync::verify::verify_history;
use quire_sync::{Fanout, InviteOptions, NodeHandle};
use quire_tests::Summary;
use quire_tests::report::{Report, ms};
use quire_tests::workload::{Signed, big_group, founder_on, size_of, to_document};

use super::arrivals::Arrivals;
use super::pair::{Raw, Side, exchange};
use super::signature_share;
use super::sync::{Device, bio, converged};

/// Pause between two timed fan-out edits.
const EDIT_GAP: Duration = Duration::from_millis(20);

/// Adds the fan-out and first-sync figures to `report`.
pub fn figures(quick: bool, report: &mut Report) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        if let Err(e) = fan_out(quick, report).await {
            // The first sync is measured whatever became of the fan-out.
            let (peers, edits) = fan_out_size(quick);
            report
                .section(
                    "Fan-out",
                    &format!("{peers} nodes on loopback in one group; the run failed."),
                )
                .value(
                    "live edit reaching every peer (gossip neighbors)",
                    &format!("{peers} nodes, one group, {edits} bio edits"),
                    &format!("failed: {e:#}"),
                    "p99 ≤ 100 ms",
                    Some(false),
                );
        }
        first_sync(quick, report).await
    })
}

/// Nodes and edits of the fan-out figure.
fn fan_out_size(quick: bool) -> (usize, usize) {
    if quick { (10, 10) } else { (20, 100) }
}

async fn fan_out(quick: bool, report: &mut Report) -> anyhow::Result<()> {
    let (peers, edits) = fan_out_size(quick);
    let gossip = fan_out_run(peers, edits, Fanout::default()).await?;
    let mesh = fan_out_run(
        peers,
        edits,
        Fanout {
            full_mesh_up_to: usize::MAX,
            ..Fanout::default()
        },
    )
    .await?;
    let floor = fan_out_floor(peers, edits)?;
    let workload = format!("{peers} nodes, one group, {edits} bio edits");
    let section = report.section(
        "Fan-out",
        &format!(
            "{peers} nodes on loopback in one group; each sample runs from an edit on one node \
             (a different one each time) until every other node reports a document holding it \
             (written to its log; its fsync follows), each report stamped as it arrives."
        ),
    );
    section
        .floor(
            "the change applied to every other document in memory",
            &format!("{} documents", peers - 1),
            &floor,
        )
        .timing(
            "live edit reaching every peer (gossip neighbors)",
            &workload,
            &gossip.reach,
            "p99 ≤ 100 ms",
            Some(gossip.reach.p99_ms <= 100.0),
        )
        .timing("the same as a full mesh", &workload, &mesh.reach, "", None)
        .value(
            "sessions per node, gossip neighbors",
            &workload,
            &format!(
                "max {}, mean {:.1}",
                gossip.max_sessions, gossip.mean_sessions
            ),
            "",
            None,
        )
        .value(
            "sessions per node, full mesh",
            &workload,
            &format!("max {}, mean {:.1}", mesh.max_sessions, mesh.mean_sessions),
            "",
            None,
        )
        .value(
            "sync bytes sent per edit, all nodes",
            &workload,
            &format!(
                "{} (full mesh {})",
                gossip.bytes_per_edit, mesh.bytes_per_edit
            ),
            "",
            None,
        )
        .note(&format!(
            "A full mesh costs every node {} sessions and every edit a message on each; with \
             gossip neighbors a node keeps about five, and an edit floods them hop by hop, each \
             hop forwarding before its own fsync, while its announcement races ahead on gossip.",
            peers - 1
        ));
    Ok(())
}

/// What one fan-out run measured.
struct FanOut {
    reach: Summary,
    max_sessions: usize,
    mean_sessions: f64,
    bytes_per_edit: u64,
}

/// One fan-out run on `peers` fresh devices, which are all offline again afterwards, whatever
/// came of it.
async fn fan_out_run(peers: usize, edits: usize, fanout: Fanout) -> anyhow::Result<FanOut> {
    let mut devices = Vec::with_capacity(peers);
    for i in 0..peers {
        devices.push(Device::new(Box::leak(
            format!("Peer {i}").into_boxed_str(),
        ))?);
    }
    let run = fan_out_on(&mut devices, edits, fanout).await;
    for d in &mut devices {
        d.offline().await;
    }
    run
}

async fn fan_out_on(
    devices: &mut [Device],
    edits: usize,
    fanout: Fanout,
) -> anyhow::Result<FanOut> {
    let peers = devices.len();
    let group = devices[0].found()?;
    let mut nodes = Vec::with_capacity(peers);
    for d in devices.iter_mut() {
        nodes.push(d.online_with(fanout).await?);
    }
    for (i, d) in devices.iter().enumerate().skip(1) {
        let ticket = nodes[0].invite(group, InviteOptions::default()).await?;
        nodes[i]
            .join(&ticket, Some(d.name.into()), "bench".into())
            .await
            .with_context(|| format!("{} cannot join", d.name))?;
    }
    let all: Vec<&NodeHandle> = nodes.iter().collect();
    converged(&all, group).await?;
    // Let the swarm form and unwanted dials be pruned.
    tokio::time::sleep(Duration::from_secs(if peers > 10 { 8 } else { 4 })).await;
    converged(&all, group).await?;

    let mut arrivals: Vec<_> = nodes.iter().map(|n| Arrivals::watch(n, group)).collect();
    let sent_before: u64 = nodes.iter().map(|n| n.traffic().0).sum();
    let mut samples = Vec::with_capacity(edits);
    for i in 0..edits {
        let origin = i % peers;
        let patch = bio(i);
        let started = Instant::now();
        let wanted = nodes[origin]
            .edit(group, move |g| {
                g.act(|doc, me| ops::update_profile(doc, me, patch, Timestamp::now()))
                    .map(|_| g.doc().get_heads())
            })
            .await??;
        let mut last = started;
        for (k, arrived) in arrivals.iter_mut().enumerate() {
            if k == origin {
                continue;
            }
            let at = match arrived.until(&wanted).await {
                Ok(at) => at,
                Err(e) => {
                    let status = stuck(&nodes[k], group).await;
                    return Err(e.context(format!(
                        "edit {i} (from node {origin}) never reached node {k}: {status}"
                    )));
                }
            };
            last = last.max(at);
        }
        samples.push(last - started);
        tokio::time::sleep(EDIT_GAP).await;
    }
    let sent_after: u64 = nodes.iter().map(|n| n.traffic().0).sum();
    let mut sessions = Vec::with_capacity(peers);
    for node in &nodes {
        let status = node.status().await;
        sessions.push(
            status
                .groups
                .iter()
                .map(|g| g.peers.iter().filter(|p| p.connected).count())
                .sum::<usize>(),
        );
    }
    Ok(FanOut {
        reach: Summary::of(&samples),
        max_sessions: sessions.iter().copied().max().unwrap_or(0),
        mean_sessions: sessions.iter().sum::<usize>() as f64 / peers as f64,
        bytes_per_edit: (sent_after - sent_before) / edits as u64,
    })
}

/// What `node` says of its peers in `group`, in short: for a fan-out that got stuck.
async fn stuck(node: &NodeHandle, group: GroupId) -> String {
    let status = node.status().await;
    let Some(g) = status.groups.iter().find(|g| g.id == group.to_string()) else {
        return "it holds no such group".into();
    };
    let connected = g.peers.iter().filter(|p| p.connected).count();
    let (mut in_sync, mut we_lack, mut they_lack) = (0, 0, 0);
    for p in &g.peers {
        match p.distance {
            Distance::InSync => in_sync += 1,
            Distance::Apart {
                we_lack: w,
                they_lack: t,
            } => {
                we_lack += usize::from(w > 0);
                they_lack += usize::from(t > 0);
            }
            Distance::Unknown => {}
        }
    }
    let refused: Vec<String> = g
        .refused
        .iter()
        .map(|r| {
            format!(
                "{}: {}",
                r.device.chars().take(10).collect::<String>(),
                r.reason
            )
        })
        .collect();
    format!(
        "it had {} heads and {connected} of {} peers connected: {in_sync} in sync, {we_lack} \
         with changes it lacked, {they_lack} lacking some of its; refused: {}",
        g.heads.len(),
        g.peers.len(),
        if refused.is_empty() {
            "none".to_string()
        } else {
            refused.join("; ")
        }
    )
}

/// One bio change applied to `peers - 1` documents in memory, `edits` times.
fn fan_out_floor(peers: usize, edits: usize) -> anyhow::Result<Summary> {
    let device = DeviceId::from_bytes([5; 32]);
    let me = quire_store::MemberId::random();
    let mut origin = ops::create_group(
        ops::NewGroup {
            id: GroupId::random(),
            name: "Floor".into(),
            description: String::new(),
            rules: Default::default(),
            founder: ops::NewMember {
                id: me,
                display_name: "Floor".into(),
                device,
                device_label: "bench".into(),
            },
        },
        quire_store::session_actor(device),
        Timestamp::now(),
    )?;
    let mut others: Vec<Automerge> = (1..peers).map(|_| origin.fork()).collect();
    let mut samples = Vec::with_capacity(edits);
    for i in 0..edits {
        let started = Instant::now();
        let before = origin.get_heads();
        ops::update_profile(&mut origin, me, bio(i), Timestamp::now())?;
        let changes = origin.get_changes(&before);
        for doc in &mut others {
            doc.apply_changes(changes.iter().cloned())?;
        }
        samples.push(started.elapsed());
    }
    Ok(Summary::of(&samples))
}

async fn first_sync(quick: bool, report: &mut Report) -> anyhow::Result<()> {
    let (members, submissions) = if quick { (50, 200) } else { (1_000, 10_000) };
    let now = Timestamp::now();
    let mut model = big_group(members, submissions, now);
    let mut founder = Device::new("Founder")?;
    let mut joiner = Device::new("Joiner")?;
    // The founder's device is the first member's, so it may invite.
    founder_on(&mut model, &founder.secret);
    let built = Instant::now();
    let Signed {
        doc: document,
        book,
    } = to_document(&model, &founder.secret)?;
    let built = built.elapsed();
    let saved = document.save();
    let changes = document.get_changes_meta(&[]).len();
    let workload = format!(
        "{}, {changes} changes by {} devices, {} bytes saved",
        size_of(&model),
        book.len(),
        saved.len()
    );
    let group = model.info.id;
    drop(founder.data()?.create_group_from_snapshot(
        group,
        document.fork(),
        &saved,
        book.clone(),
        StorageOptions::default(),
    )?);

    // Floor: automerge's own sync protocol filling an empty document in memory.
    let floor_runs = if quick { 3 } else { 2 };
    let mut floor = Vec::new();
    for _ in 0..floor_runs {
        let mut a = Raw::new(document.fork());
        let mut b = Raw::new(Automerge::new());
        let started = Instant::now();
        exchange(&mut a, &mut b)?;
        floor.push(started.elapsed());
        anyhow::ensure!(
            b.doc().get_heads() == document.get_heads(),
            "the floor did not converge"
        );
    }
    let floor = Summary::of(&floor);
    let limits = DocLimits::for_len(saved.len());
    let walked = check_saved_document(&saved, &limits)
        .context("the joiner's walk refuses the big group's saved document")?;

    // The floor of what a new member does: load the saved document in memory; then the
    // checks it makes before writing anything.
    let mut loads = Vec::new();
    let mut verifies = Vec::new();
    let mut signature_checks = Vec::new();
    for _ in 0..floor_runs {
        let started = Instant::now();
        let loaded = Automerge::load(&saved)?;
        loads.push(started.elapsed());
        anyhow::ensure!(
            loaded.get_heads() == document.get_heads(),
            "the load differs"
        );
        let started = Instant::now();
        let verified = verify_history(&loaded, &book)
            .map_err(|e| anyhow::anyhow!("the workload is refused: {e}"))?;
        verifies.push(started.elapsed());
        anyhow::ensure!(verified.len() == book.len(), "signatures went missing");
        let started = Instant::now();
        for (actor, sig) in book.iter() {
            let device = device_of_actor(actor).context("an actor names no device")?;
            anyhow::ensure!(verify_change(device, &sig.hash, &sig.signature));
        }
        signature_checks.push(started.elapsed());
    }
    let load_floor = Summary::of(&loads);
    let verify = Summary::of(&verifies);
    let signature_checks = Summary::of(&signature_checks);
    let judge = judge_each(&document)?;

    let inviter = founder.online().await?;
    let node = joiner.online().await?;
    let ticket = inviter.invite(group, InviteOptions::default()).await?;
    let started = Instant::now();
    node.join(&ticket, Some("Joiner".into()), "bench".into())
        .await
        .context("the joiner cannot join the big group")?;
    let joined = started.elapsed();
    founder.offline().await;
    joiner.offline().await;
    let on_disk = Group::open(&joiner.data()?, group, joiner.id, StorageOptions::default())?;
    anyhow::ensure!(
        on_disk.read()?.submissions.len() == submissions,
        "the joiner holds {} of {submissions} submissions",
        on_disk.read()?.submissions.len()
    );
    let joiner_share = signature_share::of_group(on_disk.path())?;
    drop(on_disk);
    let founder_share = signature_share::of_group(&founder.data()?.group_path(group))?;

    let secs = joined.as_secs_f64();
    let with_checks = load_floor.median_ms + verify.median_ms;
    report
        .section(
            "First sync of a new member",
            "A new member joins with a ticket; from the join request until the joiner has \
             written the whole group to disk (the join returns only then). One run. The \
             inviter sends its snapshot as a saved document with a signature per device, then \
             sync sends what is newer; the joiner checks every signature and judges every \
             change by the group's rules at its own past before it writes anything.",
        )
        .floor("automerge sync into an empty document", &workload, &floor)
        .floor(
            "automerge load of the saved document",
            &workload,
            &load_floor,
        )
        .timing(
            "verify_history of the loaded document",
            &workload,
            &verify,
            "",
            None,
        )
        .timing(
            "  of which: each device's signature",
            &format!("{} signatures", book.len()),
            &signature_checks,
            "",
            None,
        )
        .timing(
            "Authority::judge, per change",
            &format!("{}, each change in order", size_of(&model)),
            &judge,
            "",
            None,
        )
        .value(
            "first sync of a new member, every change verified",
            &workload,
            &ms(secs * 1000.0),
            "≤ 3 s",
            Some(secs <= 3.0),
        )
        .value(
            "signatures' share of the joiner's group folder",
            &workload,
            &joiner_share.to_string(),
            "≤ 5 %",
            Some(joiner_share.ratio() <= 0.05),
        )
        .value(
            "  the same on the founder's",
            &workload,
            &founder_share.to_string(),
            "≤ 5 %",
            Some(founder_share.ratio() <= 0.05),
        )
        .note(&format!(
            "{:.2}× automerge's sync into an empty document in memory, {:.2}× loading the \
             saved document in memory. In memory the load and the checks take {} (median), \
             the load alone {}: the checks add {} ({:.0} %).",
            secs * 1000.0 / floor.median_ms,
            secs * 1000.0 / load_floor.median_ms,
            ms(with_checks),
            ms(load_floor.median_ms),
            ms(verify.median_ms),
            verify.median_ms / load_floor.median_ms * 100.0,
        ))
        .note(&format!(
            "The saved document holds {} ops and {} changes of {} actors and inflates to {} \
             bytes; for its size the joiner's walk allows {} bytes inflated and {} entries \
             per column. Writing it as its members would have took {:.1} s.",
            walked.ops,
            walked.changes,
            walked.actors,
            walked.inflated,
            limits.max_inflated,
            walked.max_entries,
            built.as_secs_f64(),
        ));
    Ok(())
}

/// Each change of `doc` judged by a fresh [`Authority`], in causal order, as
/// `verify_history` judges them ([`Authority::judge_loaded`]).
fn judge_each(doc: &Automerge) -> anyhow::Result<Summary> {
    let changes = doc.get_changes(&[]);
    let mut authority = Authority::new();
    let mut samples = Vec::with_capacity(changes.len());
    for (i, change) in changes.iter().enumerate() {
        let started = Instant::now();
        authority.judge_loaded(doc, change, i == 0)?;
        samples.push(started.elapsed());
    }
    anyhow::ensure!(!samples.is_empty(), "a history of one change");
    Ok(Summary::of(&samples))
}
