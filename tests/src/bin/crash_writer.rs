//! A child for the crash test: edits a group in a loop and prints each submission id on its
//! own line once `Group::act` has acknowledged it (fsynced). The parent kills it with SIGKILL
//! at random moments and checks that every printed id survived.
//!
//! Usage: `crash-writer DATA_DIR GROUP_ID COMPACT_EVERY`

use std::io::Write;

use anyhow::Context;
use quire_store::ops::SubmissionDraft;
use quire_store::storage::{DataDir, StorageOptions};
use quire_store::{Group, GroupId, SubmissionId};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, root, group, compact_every] = args.as_slice() else {
        anyhow::bail!("usage: crash-writer DATA_DIR GROUP_ID COMPACT_EVERY");
    };
    let compact_every: u64 = compact_every.parse().context("COMPACT_EVERY")?;
    let device = quire_tests::device_of(root.as_ref())?;
    let data = DataDir::open(root)?;
    let id: GroupId = group.parse()?;
    let mut group = Group::open(&data, id, device, StorageOptions::default())?;
    let stdout = std::io::stdout();
    for n in 1u64.. {
        let sub = SubmissionId::random();
        let draft = SubmissionDraft {
            title: format!("Piece {n}"),
            genre: "flash".into(),
            text: format!("Written by process {} as edit {n}.", std::process::id()),
            ..Default::default()
        };
        let now = jiff::Timestamp::now();
        group.submit(sub, draft, now)?;
        let mut out = stdout.lock();
        writeln!(out, "{sub}")?;
        out.flush()?;
        if compact_every > 0 && n % compact_every == 0 {
            group.storage_mut().compact()?;
            writeln!(out, "compacted")?;
            out.flush()?;
        }
    }
    Ok(())
}
