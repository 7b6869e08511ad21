//! Open and derived views: a large group from disk until the desktop client has everything it
//! shows, with its view cache and without; its peak resident memory measured in a child process
//! doing only that; and the derived views brought up to date after one change from a peer.
//!
//! * open until ready (view cache current): the real backend (`Backend::spawn` on the data
//!   dir, as the client starts) until its first snapshot, derived from the view cache; its
//!   parts timed by the same calls in this process (read and check the cache, derive).
//! * open until editable: the same backend until the snapshot of the loaded document (the
//!   cached model adopted as its live view), after which actions run at once.
//! * open with no view cache (before): the backend with the cache removed, until its first
//!   snapshot; its parts timed in this process: `Group::open` (snapshot from disk), the live
//!   view's first read into the model, the history, and the first [`LiveSnapshot`].
//! * peak resident memory: the backend alone in a fresh `quire-bench --open-only` process,
//!   through the document's load and the backend's stop (which writes the cache if it was not
//!   current); its VmHWM. Once with a current cache, once without.
//! * update after one remote change: a change made on a peer's fork of the document arrives
//!   (`apply_changes` on the open group), the history grows, the live view catches up and the
//!   snapshot is brought up to date; floor: automerge applying the change alone.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use automerge::{ActorId, Automerge, Change};
use jiff::{SignedDuration, Timestamp};
use quire::backend::{Backend, BackendConfig, Event, LiveSnapshot, derive_snapshot};
use quire_store::doc::{self, ProfilePatch};
use quire_store::exchange::activity::Change as HistoryChange;
use quire_store::live_view::LiveView;
use quire_store::ops;
use quire_store::storage::{DataDir, StorageOptions};
use quire_store::view_cache;
use quire_store::{CritiqueId, DeviceId, Group, GroupId, MemberId, SubmissionId};
use quire_tests::Summary;
use quire_tests::report::{Report, ms};
use quire_tests::workload::{
    PER_SUBMISSION, big_group, device_of, founder_on, member_secret, to_document,
};

/// The device the figures open the group as: member 1's.
fn device() -> DeviceId {
    device_of(&member_secret(1))
}

/// The clock of the workload: the group's last year ends here.
fn now() -> Timestamp {
    Timestamp::from_second(1_800_000_000).expect("a valid time")
}

/// The open-and-update figures, as a section of `report`.
pub(crate) fn figures(quick: bool, report: &mut Report) -> anyhow::Result<()> {
    let (members, submissions) = if quick { (100, 300) } else { (1_000, 10_000) };
    let critiques = submissions * PER_SUBMISSION;
    let workload = format!("{members} members, {submissions} submissions, {critiques} critiques");
    let opens = if quick { 3 } else { 7 };
    let client_opens = if quick { 5 } else { 15 };
    let changes = if quick { 40 } else { 200 };

    // The data dir's own device is the founder's, so the backend opens the group as a member.
    let dir = tempfile::tempdir()?;
    let (data, device) = quire::backend::data::open(dir.path())?;
    let secret = iroh_base::SecretKey::from_bytes(&data.device_secret()?);
    let mut model = big_group(members, submissions, now());
    founder_on(&mut model, &secret);
    let id = model.info.id;
    let signed = to_document(&model, &secret)?;
    drop(data.create_group_from_snapshot(
        id,
        signed.doc.fork(),
        &signed.doc.save(),
        signed.book,
        StorageOptions::default(),
    )?);
    drop(model);
    let cache = view_cache::FILE_NAME;
    let cache_path = data.group_path(id).join(cache);

    // Before: no view cache. The client, then the same steps part by part in this process.
    let mut cold = Vec::new();
    for _ in 0..opens {
        let _ = std::fs::remove_file(&cache_path);
        cold.push(client_open(dir.path(), submissions)?);
    }
    let mut parts = [Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..opens {
        let opened = open(&data, id)?;
        for (part, took) in parts.iter_mut().zip(opened.took) {
            part.push(took);
        }
    }

    // With the view cache the last cold open wrote (and each write to the group rewrites).
    let warm: Vec<ClientOpen> = (0..client_opens)
        .map(|_| client_open(dir.path(), submissions))
        .collect::<anyhow::Result<_>>()?;
    anyhow::ensure!(
        warm.iter().all(|w| w.from_cache),
        "a client open did not show the view cache"
    );
    let warm_parts = cached_parts(&data, id, device, opens)?;
    let writes = cache_writes(&data, id, if quick { 3 } else { 5 })?;
    let cache_bytes = std::fs::metadata(&cache_path)?.len();

    let _ = std::fs::remove_file(&cache_path);
    let cold_child = open_in_child(dir.path(), true)?;
    let warm_child = open_in_child(dir.path(), false)?;

    let mut opened = open(&data, id)?;
    let update = remote_changes(&mut opened, changes)?;
    let full = full_derives(&mut opened, 3)?;

    let section = report.section(
        "Open and derived views",
        "A group written to disk as one snapshot, opened by the desktop client's backend \
         (`Backend::spawn` on the data dir) until it sends the first snapshot of every list it \
         shows, with the group's view cache current and without one; then changes a peer made \
         on its fork of the document arrive one at a time and the derived lists are brought \
         up to date.",
    );
    let first = Summary::of(&warm.iter().map(|w| w.first).collect::<Vec<_>>());
    section.timing(
        "open until ready (view cache current)",
        &workload,
        &first,
        "≤ 1 s",
        Some(first.p99_ms <= 1_000.0),
    );
    section.timing(
        "  of which: read and check the view cache",
        &workload,
        &Summary::of(&warm_parts[0]),
        "",
        None,
    );
    section.timing(
        "  of which: derive every list",
        &workload,
        &Summary::of(&warm_parts[1]),
        "",
        None,
    );
    let live = Summary::of(&warm.iter().map(|w| w.live).collect::<Vec<_>>());
    section.timing(
        "open until editable: the document loaded, the cached model adopted",
        &workload,
        &live,
        "",
        None,
    );
    let cold_first = Summary::of(&cold.iter().map(|c| c.first).collect::<Vec<_>>());
    section.timing(
        "open until ready, no view cache (before)",
        &workload,
        &cold_first,
        "",
        None,
    );
    let labels = [
        "  of which: load from disk",
        "  of which: read into the model",
        "  of which: derive every list",
    ];
    for (label, samples) in labels.iter().zip(&parts) {
        section.timing(label, &workload, &Summary::of(samples), "", None);
    }
    section.timing(
        "write the view cache",
        &format!("{workload}, {cache_bytes} bytes"),
        &Summary::of(&writes),
        "",
        None,
    );
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    section.value(
        "peak resident memory, open until editable (view cache current)",
        &format!("{workload}, a process doing only that"),
        &format!("{:.0} MiB", mib(warm_child.peak_bytes)),
        "≤ 300 MB",
        Some(warm_child.peak_bytes <= 300_000_000),
    );
    section.value(
        "peak resident memory, open with no view cache (and write it)",
        &format!("{workload}, a process doing only that"),
        &format!("{:.0} MiB", mib(cold_child.peak_bytes)),
        "",
        None,
    );
    section.timing(
        "update derived views after one remote change",
        &workload,
        &update.total,
        "≤ 5 ms",
        Some(update.total.median_ms <= 5.0 && update.total.p99_ms <= 5.0),
    );
    section.floor("automerge applies the change", &workload, &update.apply);
    section.timing(
        "  of which: live view catches up",
        &workload,
        &update.catch_up,
        "",
        None,
    );
    section.timing(
        "  of which: snapshot rows updated",
        &workload,
        &update.snapshot,
        "",
        None,
    );
    section.timing(
        "derive every list anew after a change (before)",
        &workload,
        &full,
        "",
        None,
    );
    section.note(&format!(
        "The view cache (`{cache}`, {cache_bytes} bytes beside a {} byte snapshot) holds the \
         model as last read, its heads, the newest history and the fingerprint of the files it \
         was read from; the backend shows it only while those files are unchanged. Its opener \
         thread then drops what it derived the first snapshot from, loads the document, reads \
         the cache again and adopts its model as the live view instead of reading the \
         document, and derives the lists from it: the load's peak of memory reuses what was \
         dropped. Open until ready went from {} to {} median ({:.0}× less); until editable \
         takes {} (the document's load, which the cache cannot spare).",
        std::fs::metadata(data.group_path(id).join("snapshot.automerge"))?.len(),
        ms(cold_first.median_ms),
        ms(first.median_ms),
        cold_first.median_ms / first.median_ms.max(1e-6),
        ms(live.median_ms),
    ));
    section.note(&format!(
        "The child processes: with the cache current, first snapshot after {}, editable after \
         {} (peak resident {:.0} MiB); with none, first snapshot after {} (peak resident \
         {:.0} MiB, writing the cache included).",
        ms(warm_child.first_ms),
        ms(warm_child.live_ms),
        mib(warm_child.peak_bytes),
        ms(cold_child.first_ms),
        mib(cold_child.peak_bytes),
    ));
    section.note(&format!(
        "After each change the backend derived the whole snapshot anew ({} median, the row \
         above); it now keeps it current row by row: {} median ({:.0}× less).",
        ms(full.median_ms),
        ms(update.snapshot.median_ms),
        full.median_ms / update.snapshot.median_ms.max(1e-6),
    ));
    section.note(
        "The live view's catch-up read what changed from automerge's diff between the old and \
         new heads, which walks the whole document: 490 ms median per change at full size. It \
         now reads the new changes' operations and looks up the parents of the objects they \
         write: 0.45 ms.",
    );
    section.note(
        "Where opening without the cache goes (callgrind, full size, 17.1 G instructions): \
         automerge's load 10.6 G (62%; its change collector rebuilds and hashes every change \
         to build the change graph, whether or not heads are verified), reading the model \
         5.8 G (34%; automerge's document iterator 3.3 G, assembling the tree 1.9 G, records \
         0.7 G), deriving every list 0.6 G (3.5%). Automerge's load alone takes longer than \
         the target on this machine, hence the view cache shown while the document loads.",
    );
    Ok(())
}

/// The hidden `--open-only <data dir>` mode: start the backend on the data dir (with
/// `--cold`, after removing the group's view cache) until the group's document is loaded, stop
/// it, and print when the first snapshot came, when the live one came, and this process's peak
/// resident memory.
pub(crate) fn open_only(root: &Path, cold: bool) -> anyhow::Result<()> {
    let data = DataDir::open(root)?;
    let id = *data
        .group_ids()?
        .first()
        .ok_or_else(|| anyhow::anyhow!("no group in `{}`", root.display()))?;
    if cold {
        let _ = std::fs::remove_file(data.group_path(id).join(view_cache::FILE_NAME));
    }
    let opened = client_open(root, 0)?;
    anyhow::ensure!(
        opened.from_cache != cold,
        "the view cache was {}used",
        if cold { "" } else { "not " }
    );
    let peak = peak_resident_bytes().ok_or_else(|| anyhow::anyhow!("no VmHWM in /proc"))?;
    println!(
        "open-only {} {} {peak}",
        opened.first.as_secs_f64() * 1000.0,
        opened.live.as_secs_f64() * 1000.0
    );
    Ok(())
}

/// One start of the client's backend on a data dir holding one group.
struct ClientOpen {
    /// Until the first snapshot of the group arrived.
    first: Duration,
    /// Until the snapshot of its loaded document arrived.
    live: Duration,
    /// Whether the first snapshot came from the view cache.
    from_cache: bool,
}

/// Starts the backend on `root` and waits for the group's first snapshot and its live one,
/// checking the queue holds `submissions` rows (if not 0); then stops the backend, which writes
/// the view cache if it was not current.
fn client_open(root: &Path, submissions: usize) -> anyhow::Result<ClientOpen> {
    let (woken, wake) = std::sync::mpsc::channel();
    let config = BackendConfig {
        data_dir: root.to_path_buf(),
        device_label: "bench".into(),
        sync: None,
        notifier: None,
    };
    let started = Instant::now();
    let backend = Backend::spawn(
        config,
        Arc::new(move || {
            let _ = woken.send(());
        }),
    );
    let mut first: Option<(Duration, bool)> = None;
    // Kept as the UI keeps what it shows, so the memory figure counts it.
    let mut shown = None;
    let live = 'wait: loop {
        wake.recv_timeout(Duration::from_secs(120))?;
        for event in backend.poll() {
            match event {
                Event::Snapshot(snapshot) => {
                    let at = started.elapsed();
                    anyhow::ensure!(
                        submissions == 0 || snapshot.queue.len() == submissions,
                        "the queue is incomplete"
                    );
                    first.get_or_insert((at, snapshot.loading));
                    let loading = snapshot.loading;
                    // The UI lets go of what it showed when the next snapshot comes.
                    drop(shown.replace(snapshot));
                    if !loading {
                        break 'wait at;
                    }
                }
                Event::Failed(message) => anyhow::bail!("the backend failed: {message}"),
                _ => {}
            }
        }
    };
    drop(backend);
    drop(shown);
    let (first, from_cache) = first.expect("set before the live snapshot");
    Ok(ClientOpen {
        first,
        live,
        from_cache,
    })
}

/// The warm path's parts, by the calls the backend makes: read and check the view cache, and
/// derive every list from the cached model.
fn cached_parts(
    data: &DataDir,
    id: GroupId,
    device: DeviceId,
    n: usize,
) -> anyhow::Result<[Vec<Duration>; 2]> {
    let mut parts = [Vec::new(), Vec::new()];
    for _ in 0..n {
        let started = Instant::now();
        let cached = view_cache::read_current(&data.group_path(id))?;
        let read = started.elapsed();
        let view = LiveView::from_parts(cached.heads, cached.group);
        let model = view.group();
        let me = model.member_for_device(device).map(|m| m.id);
        let started = Instant::now();
        let (_live, snapshot) = LiveSnapshot::derive(model, me, &cached.history, now(), 0);
        parts[1].push(started.elapsed());
        parts[0].push(read);
        anyhow::ensure!(!snapshot.queue.is_empty(), "no queue");
    }
    Ok(parts)
}

/// Writing the view cache of the open group, `n` times.
fn cache_writes(data: &DataDir, id: GroupId, n: usize) -> anyhow::Result<Vec<Duration>> {
    let mut opened = open(data, id)?;
    let mut samples = Vec::new();
    for _ in 0..n {
        let started = Instant::now();
        let written = opened.group.write_view_cache(&opened.history)?;
        samples.push(started.elapsed());
        anyhow::ensure!(written.is_some(), "the group could not be cached");
    }
    Ok(samples)
}

/// What the child process reported.
struct ChildOpen {
    first_ms: f64,
    live_ms: f64,
    peak_bytes: u64,
}

fn open_in_child(root: &Path, cold: bool) -> anyhow::Result<ChildOpen> {
    let mut command = std::process::Command::new(std::env::current_exe()?);
    command.arg("--open-only").arg(root);
    if cold {
        command.arg("--cold");
    }
    let out = command.output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        out.status.success(),
        "`quire-bench --open-only` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("open-only "))
        .ok_or_else(|| anyhow::anyhow!("`quire-bench --open-only` said `{stdout}`"))?;
    let mut words = line.split_whitespace();
    let first_ms = words.next().unwrap_or_default().parse()?;
    let live_ms = words.next().unwrap_or_default().parse()?;
    let peak_bytes = words.next().unwrap_or_default().parse()?;
    Ok(ChildOpen {
        first_ms,
        live_ms,
        peak_bytes,
    })
}

/// This process's peak resident memory (VmHWM), in bytes.
fn peak_resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// A group open as the backend holds it.
struct Opened {
    group: Group,
    me: Option<MemberId>,
    history: Vec<HistoryChange>,
    live: LiveSnapshot,
    version: u64,
    /// Load from disk, read into the model, derive.
    took: [Duration; 3],
}

fn open(data: &DataDir, id: GroupId) -> anyhow::Result<Opened> {
    let started = Instant::now();
    let mut group = Group::open(data, id, device(), StorageOptions::default())?;
    let loaded = started.elapsed();
    group.view_changed()?;
    let read = started.elapsed() - loaded;
    let history = doc::history(group.doc());
    let (model, _) = group.view_changed()?;
    let me = model.member_for_device(device()).map(|m| m.id);
    let (live, snapshot) = LiveSnapshot::derive(model, me, &history, now(), 0);
    anyhow::ensure!(
        snapshot.queue.len() == model.submissions.len(),
        "the queue is incomplete"
    );
    let derived = started.elapsed() - loaded - read;
    Ok(Opened {
        group,
        me,
        history,
        live,
        version: 0,
        took: [loaded, read, derived],
    })
}

/// The update figures: total, and its parts.
struct Update {
    total: Summary,
    apply: Summary,
    catch_up: Summary,
    snapshot: Summary,
}

/// `n` changes made on a peer's fork, each applied to the open group and the snapshot brought
/// up to date. A fifth of them touch pieces of the member the group is open as.
fn remote_changes(opened: &mut Opened, n: usize) -> anyhow::Result<Update> {
    let mut peer = opened
        .group
        .doc()
        .fork()
        .with_actor(ActorId::from(vec![0xbe; 16]));
    let model = doc::read_group(&peer)?;
    let members: Vec<MemberId> = model.members.keys().copied().collect();
    let subs: Vec<SubmissionId> = model.submissions.keys().copied().collect();
    let me = opened
        .me
        .ok_or_else(|| anyhow::anyhow!("the device is no member's"))?;
    let my_subs: Vec<SubmissionId> = model
        .submissions
        .values()
        .filter(|s| s.author == me)
        .map(|s| s.id)
        .collect();
    drop(model);
    let mut rng = fastrand::Rng::with_seed(6);
    let mut samples: [Vec<Duration>; 4] = Default::default();
    let mut at = now();
    for i in 0..n {
        at += SignedDuration::from_secs(30);
        let sub = if i % 5 == 0 {
            my_subs[rng.usize(..my_subs.len())]
        } else {
            subs[rng.usize(..subs.len())]
        };
        let change = peer_change(&mut peer, &members, sub, i, at, &mut rng)?;
        let t = Instant::now();
        let before = opened.group.doc().get_heads();
        opened.group.storage_mut().doc_mut().apply_changes(change)?;
        let applied = t.elapsed();
        opened
            .history
            .extend(doc::history_since(opened.group.doc(), &before));
        let (model, changed) = opened.group.view_changed()?;
        let caught_up = t.elapsed();
        opened.version += 1;
        let snapshot = opened.live.update(
            model,
            &changed,
            opened.me,
            &opened.history,
            at,
            opened.version,
        );
        let done = t.elapsed();
        anyhow::ensure!(!snapshot.queue.is_empty(), "no queue");
        samples[0].push(done);
        samples[1].push(applied);
        samples[2].push(caught_up - applied);
        samples[3].push(done - caught_up);
    }
    Ok(Update {
        total: Summary::of(&samples[0]),
        apply: Summary::of(&samples[1]),
        catch_up: Summary::of(&samples[2]),
        snapshot: Summary::of(&samples[3]),
    })
}

/// One change on the peer's fork: a claim, a critique after a claim, or a profile edit, by
/// some member; returns it as automerge sends it.
fn peer_change(
    peer: &mut Automerge,
    members: &[MemberId],
    sub: SubmissionId,
    i: usize,
    at: Timestamp,
    rng: &mut fastrand::Rng,
) -> anyhow::Result<Vec<Change>> {
    let heads = peer.get_heads();
    let who = members[rng.usize(..members.len())];
    let done = match i % 4 {
        0 | 1 => ops::claim(peer, who, sub, at).map(|_| ()),
        2 => ops::claim(peer, who, sub, at).and_then(|_| {
            let id = CritiqueId::from_bytes(rng.u128(..).to_be_bytes());
            ops::critique(peer, who, sub, id, "A careful critique, start to end.", at).map(|_| ())
        }),
        _ => {
            let patch = ProfilePatch {
                bio: Some(format!("Bio {i}")),
                ..Default::default()
            };
            ops::update_profile(peer, who, patch, at).map(|_| ())
        }
    };
    if done.is_err() {
        // Refused (the piece is theirs, say): a profile edit instead.
        let patch = ProfilePatch {
            bio: Some(format!("Bio {i}")),
            ..Default::default()
        };
        ops::update_profile(peer, who, patch, at)?;
    }
    // A claim and its critique are two changes, arriving together.
    let changes: Vec<Change> = peer.get_changes(&heads);
    anyhow::ensure!(!changes.is_empty(), "the peer made no change");
    Ok(changes)
}

/// What the backend did before: the whole snapshot derived anew after a change.
fn full_derives(opened: &mut Opened, n: usize) -> anyhow::Result<Summary> {
    let mut samples = Vec::new();
    for _ in 0..n {
        let (model, _) = opened.group.view_changed()?;
        let t = Instant::now();
        let snapshot = derive_snapshot(model, opened.me, &opened.history, now(), 0);
        samples.push(t.elapsed());
        anyhow::ensure!(!snapshot.queue.is_empty(), "no queue");
    }
    Ok(Summary::of(&samples))
}
