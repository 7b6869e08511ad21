//! `quire-bench`: the store's speed and size figures, each printed with its workload size and
//! compared against a floor measured in the same run.
//!
//! * edit: one local edit acknowledged (operation + append + fsync), on an empty group and on
//!   a large one; floor: the same operation on an in-memory automerge document.
//! * open: loading a large group from disk until it is ready to show (read into the model).
//! * size: the compacted group on disk against automerge's own `save()`.
//! * exchange: derive every ledger, the queue order and one member's suggestions for a group
//!   of 1,000 members and 100,000 critiques, built directly as the model; and, separately,
//!   reading that group from its automerge document.
//! * sync: two nodes on loopback: a live edit until the other node has it, and catch-up
//!   after offline edits on both sides (time and bytes); floor: the same exchange between
//!   two documents in memory.
//!
//! `--quick` runs small sizes for CI; the full sizes are the targets.

use std::time::{Duration, Instant};

use automerge::Automerge;
use clap::Parser;
use quire_store::ops::{self, NewGroup, NewMember, SubmissionDraft};
use quire_store::storage::{DataDir, StorageOptions};
use quire_store::{DeviceId, Group, GroupId, MemberId, SubmissionId};
use quire_tests::Summary;

#[derive(Debug, Parser)]
struct Args {
    /// Small sizes, for CI.
    #[arg(long)]
    quick: bool,
    /// Submissions in the large group [default: 10000, or 1000 with --quick].
    #[arg(long)]
    submissions: Option<usize>,
    /// Edits timed per group [default: 300, or 60 with --quick].
    #[arg(long)]
    edits: Option<usize>,
    /// Only the exchange figures.
    #[arg(long)]
    exchange_only: bool,
    /// Only the sync figures.
    #[arg(long)]
    sync_only: bool,
}

const WORDS: &str = "The mill wheel turned all night and nobody in the village slept. ";

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.exchange_only {
        return exchange::figures(args.quick);
    }
    if args.sync_only {
        return sync::figures(args.quick);
    }
    let n = args
        .submissions
        .unwrap_or(if args.quick { 1_000 } else { 10_000 });
    let edits = args.edits.unwrap_or(if args.quick { 60 } else { 300 });
    let device = DeviceId::from_bytes([7; 32]);
    let me = MemberId::from_bytes([1; 16]);
    let start = jiff::Timestamp::now();
    println!("quire-bench: large group = {n} submissions of ~200 words, {edits} timed edits");

    let dir = tempfile::tempdir()?;
    let data = DataDir::open(dir.path())?;

    // Build the groups in memory once.
    let small = founded(device, me, start)?;
    let mut large = small.fork();
    for i in 0..n {
        let draft = draft(i);
        ops::submit(&mut large, me, SubmissionId::random(), draft, start)?;
    }

    // Floor: the same operation on an in-memory document, no disk.
    let mut floor_doc = large.fork();
    let floor = time(edits, |i| {
        let id = SubmissionId::random();
        ops::submit(&mut floor_doc, me, id, draft(i), start)?;
        Ok(())
    })?;

    let options = StorageOptions::default();
    let small_id = GroupId::random();
    drop(data.create_group(small_id, small.fork(), options)?);
    let large_id = GroupId::random();
    drop(data.create_group(large_id, large.fork(), options)?);

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
    let open = time(opens, |_| {
        let group = Group::open(&data, large_id, device, options)?;
        let model = group.read()?;
        anyhow::ensure!(model.submissions.len() >= n, "group incomplete");
        Ok(())
    })?;

    let load = time(opens, |_| {
        Group::open(&data, large_id, device, options)?;
        Ok(())
    })?;
    let group = Group::open(&data, large_id, device, options)?;
    let read = time(opens, |_| {
        group.read()?;
        Ok(())
    })?;
    drop(group);

    let mut group = Group::open(&data, large_id, device, options)?;
    group.storage_mut().compact()?;
    let on_disk = dir_size(group.path())?;
    let saved = group.doc().save().len() as u64;

    println!();
    println!("| figure | workload | median ms | p99 ms | target |");
    println!("| --- | --- | --- | --- | --- |");
    row(
        "edit, in memory (floor)",
        &format!("{n} submissions"),
        &floor,
        "",
    );
    row("edit acknowledged (fsync)", "empty group", &edit_empty, "");
    row(
        "edit acknowledged (fsync)",
        &format!("{n} submissions"),
        &edit_large,
        "≤ 5 ms median",
    );
    row(
        "submit with credit check",
        &format!("{n} submissions"),
        &edit_credits,
        "",
    );
    row(
        "open until ready",
        &format!("{n} submissions"),
        &open,
        "≤ 300 ms",
    );
    row(
        "  of which: load from disk",
        &format!("{n} submissions"),
        &load,
        "",
    );
    row(
        "  of which: read into the model",
        &format!("{n} submissions"),
        &read,
        "",
    );
    let ratio = edit_large.median_ms / edit_empty.median_ms;
    println!();
    println!("edit cost, large / empty group: {ratio:.2}× (target ≤ 1.5×)");
    println!(
        "edit cost over the in-memory floor: {:.2} ms",
        edit_large.median_ms - floor.median_ms
    );
    println!(
        "on disk after compaction: {on_disk} bytes; automerge save(): {saved} bytes; ratio {:.3} (target ≤ 1.1)",
        on_disk as f64 / saved as f64
    );
    println!();
    exchange::figures(args.quick)?;
    println!();
    sync::figures(args.quick)
}

#[path = "quire_bench/exchange.rs"]
mod exchange;
#[path = "quire_bench/sync.rs"]
mod sync;

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

pub(crate) fn row(figure: &str, workload: &str, s: &Summary, target: &str) {
    println!(
        "| {figure} | {workload} | {:.3} | {:.3} | {target} |",
        s.median_ms, s.p99_ms
    );
}

fn dir_size(dir: &std::path::Path) -> anyhow::Result<u64> {
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
