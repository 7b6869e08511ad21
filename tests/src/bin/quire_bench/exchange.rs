//! The exchange figure: ledgers + queue order + suggestions on a large group.

use jiff::Timestamp;
use quire_store::exchange::ledger::ledgers;
use quire_store::exchange::suggest::{Exchanges, suggestions_with};
use quire_store::{doc, views};
use quire_tests::workload::{PER_SUBMISSION, big_group, to_document};

use super::{row, time};

pub fn figures(quick: bool) -> anyhow::Result<()> {
    let (members, critiques) = if quick {
        (100, 10_000)
    } else {
        (1_000, 100_000)
    };
    let submissions = critiques / PER_SUBMISSION;
    let now = Timestamp::from_second(1_800_000_000)?;
    let group = big_group(members, submissions, now);
    let workload = format!("{members} members, {submissions} submissions, {critiques} critiques");
    println!("exchange: {workload}");
    let me = *group.members.keys().next().expect("members");
    let runs = if quick { 5 } else { 15 };
    let derive = time(runs, |_| {
        let ledgers = ledgers(&group);
        let queue = views::queue(&group, now);
        let exchanges = Exchanges::of(&group);
        let next = suggestions_with(&group, &exchanges, me, now);
        anyhow::ensure!(ledgers.len() == members && queue.len() == submissions);
        anyhow::ensure!(!next.is_empty(), "no suggestions");
        Ok(())
    })?;
    let ledger_only = time(runs, |_| {
        ledgers(&group);
        Ok(())
    })?;
    let queue_only = time(runs, |_| {
        views::queue(&group, now);
        Ok(())
    })?;
    let next_only = time(runs, |_| {
        suggestions_with(&group, &Exchanges::of(&group), me, now);
        Ok(())
    })?;

    let build = std::time::Instant::now();
    let document = to_document(&group)?;
    let built = build.elapsed();
    let read = time(if quick { 3 } else { 5 }, |_| {
        let read = doc::read_group(&document)?;
        anyhow::ensure!(read.submissions.len() == submissions, "incomplete read");
        Ok(())
    })?;

    println!("| figure | workload | median ms | p99 ms | target |");
    println!("| --- | --- | --- | --- | --- |");
    row(
        "derive ledgers + queue + suggestions",
        &workload,
        &derive,
        "≤ 200 ms",
    );
    row("  of which: every ledger", &workload, &ledger_only, "");
    row("  of which: queue order", &workload, &queue_only, "");
    row(
        "  of which: one member's suggestions",
        &workload,
        &next_only,
        "",
    );
    row("read that group from its document", &workload, &read, "");
    println!(
        "(writing the document for the read figure took {:.1} s, {} bytes saved)",
        built.as_secs_f64(),
        document.save().len()
    );
    Ok(())
}
