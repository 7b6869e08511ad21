//! The exchange figure: ledgers + queue order + suggestions on a large group.

use jiff::Timestamp;
use quire_store::exchange::ledger::ledgers;
use quire_store::exchange::suggest::{Exchanges, suggestions_with};
use quire_store::{doc, views};
use quire_tests::workload::{PER_SUBMISSION, big_group, member_secret, to_document};

use quire_tests::report::Report;

use super::time;

pub fn figures(quick: bool, report: &mut Report) -> anyhow::Result<()> {
    let (members, critiques) = if quick {
        (100, 10_000)
    } else {
        (1_000, 100_000)
    };
    let submissions = critiques / PER_SUBMISSION;
    let now = Timestamp::from_second(1_800_000_000)?;
    let group = big_group(members, submissions, now);
    let workload = format!("{members} members, {submissions} submissions, {critiques} critiques");
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
    let document = to_document(&group, &member_secret(0))?.doc;
    let built = build.elapsed();
    let read = time(if quick { 3 } else { 5 }, |_| {
        let read = doc::read_group(&document)?;
        anyhow::ensure!(read.submissions.len() == submissions, "incomplete read");
        Ok(())
    })?;

    report
        .section(
            "Exchange",
            "The derived views of a large group, computed from the model in memory: every \
             member's ledger, the queue order and one member's suggestions; and reading that \
             group from its automerge document into the model.",
        )
        .timing(
            "derive ledgers + queue + suggestions",
            &workload,
            &derive,
            "≤ 200 ms",
            Some(derive.median_ms <= 200.0),
        )
        .timing(
            "  of which: every ledger",
            &workload,
            &ledger_only,
            "",
            None,
        )
        .timing("  of which: queue order", &workload, &queue_only, "", None)
        .timing(
            "  of which: one member's suggestions",
            &workload,
            &next_only,
            "",
            None,
        )
        .timing(
            "read that group from its document",
            &workload,
            &read,
            "",
            None,
        )
        .note(&format!(
            "Writing the document for the read figure took {:.1} s; it saves to {} bytes.",
            built.as_secs_f64(),
            document.save().len()
        ));
    Ok(())
}
