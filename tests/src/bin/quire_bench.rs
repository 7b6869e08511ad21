//! `quire-bench`: Quire's speed and size figures on workloads of named sizes, each compared
//! against a floor measured in the same run (the same work done by automerge in memory,
//! without disk or network), printed as tables and written to BENCHMARKS.md.
//!
//! * edit: a local edit acknowledged (operation + append + fsync) on an empty group and on one
//!   of 1,000 members and ~110,000 entries; loading it; its size on disk after compaction.
//! * views: opening that group until it is ready to show (from its view cache, and without),
//!   until it is editable, its memory, and updating the derived views after one remote
//!   change.
//! * exchange: every ledger, the queue order and one member's suggestions of that group.
//! * sync: two nodes on loopback: a live edit until the other node has it, and catch-up after
//!   offline edits on both sides (time and bytes), each beside the same in memory with the
//!   checks (signatures, the group's rules) and without; signatures' share of storage.
//! * swarm: an edit reaching every one of 20 nodes; a new member's first sync of the large
//!   group, every change verified, beside automerge alone and the checks alone.
//!
//! `--quick` runs small sizes for CI (so the harness cannot rot); full sizes are the targets,
//! run by hand: `cargo run --release -p quire-tests --bin quire-bench`.

use std::time::{Duration, Instant};

use automerge::Automerge;
use clap::Parser;
use quire_store::ops::{self, NewGroup, NewMember, SubmissionDraft};
use quire_store::storage::{DataDir, StorageOptions};
use quire_store::{DeviceId, Group, GroupId, MemberId, SubmissionId};
use quire_tests::Summary;
use quire_tests::report::Report;
use quire_tests::workload::{big_group, device_of, founder_on, size_of, to_document};

#[derive(Debug, Parser)]
struct Args {
    /// Small sizes, for CI (nothing is written unless --out says where).
    #[arg(long)]
    quick: bool,
    /// Edits timed per group [default: 300, or 60 with --quick].
    #[arg(long)]
    edits: Option<usize>,
    /// Write the report as Markdown here [default: BENCHMARKS.md in the workspace, for full
    /// runs].
    #[arg(long)]
    out: Option<std::path::PathBuf>,
    /// Run only these sections (edit, exchange, sync, swarm, views), comma-separated.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Open the one group in this data dir, print the time and peak memory, and exit: the
    /// child process of the views section's memory figure.
    #[arg(long, hide = true)]
    open_only: Option<std::path::PathBuf>,
    /// With --open-only: remove the group's view cache first.
    #[arg(long, hide = true)]
    cold: bool,
}

const WORDS: &str = "The mill wheel turned all night and nobody in the village slept. ";

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(root) = &args.open_only {
        return views::open_only(root, args.cold);
    }
    let wants = |name: &str| args.only.is_empty() || args.only.iter().any(|o| o == name);
    let mut report = Report::new();
    println!(
        "quire-bench{}: {}",
        if args.quick { " --quick" } else { "" },
        quire_tests::report::machine()
    );
    if wants("edit") {
        edit_figures(&args, &mut report)?;
    }
    if wants("views") {
        views::figures(args.quick, &mut report)?;
    }
    if wants("exchange") {
        exchange::figures(args.quick, &mut report)?;
    }
    if wants("sync") {
        sync::figures(args.quick, &mut report)?;
    }
    if wants("swarm") {
        swarm::figures(args.quick, &mut report)?;
    }
    let out = args.out.clone().or_else(|| {
        (!args.quick && args.only.is_empty())
            .then(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../BENCHMARKS.md"))
    });
    if let Some(out) = out {
        let command = "cargo run --release -p quire-tests --bin quire-bench";
        std::fs::write(&out, report.markdown(command))?;
        println!();
        println!("written to {}", out.display());
    }
    let misses = report.misses();
    if !misses.is_empty() {
        println!();
        println!("targets not met: {}", misses.join("; "));
    }
    Ok(())
}

/// Local edits on an empty and on a large group, opening it, and its size on disk.
fn edit_figures(args: &Args, report: &mut Report) -> anyhow::Result<()> {
    let (members, submissions) = if args.quick {
        (100, 1_000)
    } else {
        (1_000, 10_000)
    };
    let edits = args.edits.unwrap_or(if args.quick { 60 } else { 300 });
    let secret = iroh_base::SecretKey::from_bytes(&[7; 32]);
    let device = device_of(&secret);
    let start = jiff::Timestamp::now();

    let dir = tempfile::tempdir()?;
    let data = DataDir::open(dir.path())?;

    // The empty group, founded by this device.
    let me = MemberId::from_bytes([1; 16]);
    let small = founded(device, me, start)?;
    // The large group: this device is its first member's, and credits are off so that
    // thousands of submissions by one member are not refused (the credit check is timed
    // separately below).
    let mut model = big_group(members, submissions, start);
    model.info.rules.credits = false;
    let first = founder_on(&mut model, &secret);
    let large = to_document(&model, &secret)?;
    let workload = size_of(&model);

    // Floor: the same operation on an in-memory document, no disk.
    let mut floor_doc = large.doc.fork();
    let floor = time(edits, |i| {
        let id = SubmissionId::random();
        ops::submit(&mut floor_doc, first, id, draft(i), start)?;
        Ok(())
    })?;

    let options = StorageOptions::default();
    let small_id = GroupId::random();
    drop(data.create_group(small_id, small.fork(), options)?);
    let large_id = model.info.id;
    drop(data.create_group_from_snapshot(
        large_id,
        large.doc.fork(),
        &large.doc.save(),
        large.book.clone(),
        options,
    )?);

    let mut group = Group::open(&data, small_id, device, options)?;
    let edit_empty = time(edits, |i| edit(&mut group, i, start))?;
    drop(group);
    let mut group = Group::open(&data, large_id, device, options)?;
    let edit_large = time(edits, |i| edit(&mut group, i, start))?;
    // Now with credits on (pieces free, so the balance never runs out): every submission
    // checks the member's balance against the whole group's ledger.
    let credits_on = [
        ("credits", "on"),
        ("submission_cost", "0"),
        ("extra_open_cost", "0"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()));
    group.act(|doc, me| {
        ops::change_rules(
            doc,
            me,
            quire_store::ids::RuleChangeId::random(),
            &credits_on,
            start,
        )
    })?;
    let credit_edits = edits.min(100);
    let edit_credits = time(credit_edits, |i| edit(&mut group, i, start))?;
    drop(group);

    let opens = if args.quick { 5 } else { 15 };
    let load = time(opens, |_| {
        Group::open(&data, large_id, device, options)?;
        Ok(())
    })?;
    let mut group = Group::open(&data, large_id, device, options)?;
    group.storage_mut().compact()?;
    let on_disk = dir_size(group.path())?;
    let saved = group.doc().save().len() as u64;
    drop(group);

    let ratio = edit_large.median_ms / edit_empty.median_ms;
    let size_ratio = on_disk as f64 / saved as f64;
    report
        .section(
            "Local edits and storage",
            "A submission made through `Group` (the operation, its append to the log and the \
             fsync) until it is acknowledged; the floor is the same operation on the document \
             in memory.",
        )
        .floor("submission, in memory", &workload, &floor)
        .timing(
            "edit acknowledged (fsynced)",
            "empty group",
            &edit_empty,
            "",
            None,
        )
        .timing(
            "edit acknowledged (fsynced)",
            &workload,
            &edit_large,
            "≤ 5 ms",
            Some(edit_large.median_ms <= 5.0 && edit_large.p99_ms <= 5.0),
        )
        .value(
            "large over empty group",
            &workload,
            &format!("{ratio:.2}×"),
            "≤ 1.5×",
            Some(ratio <= 1.5),
        )
        .timing(
            "submission with the credit check",
            &workload,
            &edit_credits,
            "",
            None,
        )
        .timing("load from disk", &workload, &load, "", None)
        .value(
            "on disk after compaction, over automerge save()",
            &workload,
            &format!("{size_ratio:.3} ({on_disk} bytes; save() {saved} bytes)"),
            "≤ 1.1×",
            Some(size_ratio <= 1.1),
        );
    Ok(())
}

#[path = "quire_bench/arrivals.rs"]
mod arrivals;
#[path = "quire_bench/exchange.rs"]
mod exchange;
#[path = "quire_bench/pair.rs"]
mod pair;
#[path = "quire_bench/signature_share.rs"]
mod signature_share;
#[path = "quire_bench/swarm.rs"]
mod swarm;
#[path = "quire_bench/sync.rs"]
mod sync;
#[path = "quire_bench/views.rs"]
mod views;

fn founded(device: DeviceId, me: MemberId, now: jiff::Timestamp) -> anyhow::Result<Automerge> {
    let new = NewGroup {
        id: GroupId::random(),
        name: "Bench Writers".into(),
        description: String::new(),
        // One member submits thousands of pieces: built without credits; the credit check is
        // timed separately once the group is large.
        rules: quire_store::model::Rules {
            credits: false,
            ..Default::default()
        },
        founder: NewMember {
            id: me,
            display_name: "Bench".into(),
            device,
            device_label: "bench".into(),
        },
    };
    Ok(ops::create_group(
        new,
        quire_store::session_actor(device),
        now,
    )?)
}

fn draft(i: usize) -> SubmissionDraft {
    SubmissionDraft {
        title: format!("Piece {i}"),
        genre: "literary".into(),
        text: WORDS.repeat(16),
        ..Default::default()
    }
}

fn edit(group: &mut Group, i: usize, now: jiff::Timestamp) -> anyhow::Result<()> {
    let id = SubmissionId::random();
    group.submit(id, draft(i), now)?;
    Ok(())
}

pub(crate) fn time(
    n: usize,
    mut f: impl FnMut(usize) -> anyhow::Result<()>,
) -> anyhow::Result<Summary> {
    let mut samples: Vec<Duration> = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        f(i)?;
        samples.push(t.elapsed());
    }
    Ok(Summary::of(&samples))
}

pub(crate) fn dir_size(dir: &std::path::Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        if meta.is_dir() {
            if entry.file_name() != "quarantine" {
                total += dir_size(&entry.path())?;
            }
        } else if !entry.file_name().to_string_lossy().ends_with(".lock") {
            total += meta.len();
        }
    }
    Ok(total)
}
