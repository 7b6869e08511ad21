//! `quire-attacks`: a hostile member against a real `quire serve`, and what each attack cost.
//!
//! The victim is Ann's device: the `quire` binary serving its own data dir on loopback (relays
//! and mDNS off), a child process. Ann founded the group with `quire init` and invited with
//! `quire invite`; Bea (the attacker), Cal (an honest member) and Dan (Bea's accomplice, whom
//! Ann removes for one attack) joined through those invites as in-process nodes. Bea's device
//! then speaks `quire/sync/2` by hand, with her real device key: forbidden changes signed by
//! her, a removed member's changes relayed, unsigned and wrongly signed changes, floods,
//! changes held back for a dependency that never comes, an op bomb and a change naming the
//! wrong predecessor. Around each attack
//! the harness reads the victim's CPU time and resident memory from `/proc`, has Cal make
//! honest edits and times how long each takes to reach the victim's disk, and afterwards
//! compares the victim's document with what it was (read from its disk) and checks that
//! nothing forged reached Cal.
//!
//! Prints a Markdown table; a full run writes it into RELIABILITY.md ("Hostile members").
//! `--quick` runs small sizes on one victim process in under a minute, to check the harness:
//! `cargo run -p quire-tests --bin quire-attacks -- --quick`.
//! Full sizes: `cargo run --release -p quire-tests --bin quire-attacks`.

#[path = "quire_attacks/attacks.rs"]
mod attacks;
#[path = "quire_attacks/bomb.rs"]
mod bomb;
#[path = "quire_attacks/cast.rs"]
mod cast;
#[path = "quire_attacks/forge.rs"]
mod forge;
#[path = "quire_attacks/observer.rs"]
mod observer;
#[path = "quire_attacks/raw.rs"]
mod raw;
#[path = "quire_attacks/run.rs"]
mod run;
#[path = "quire_attacks/table.rs"]
mod table;
#[path = "quire_attacks/victim.rs"]
mod victim;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;

use crate::attacks::{Attack, Sizes};
use crate::cast::Cast;
use crate::forge::Forger;
use crate::raw::RawPeer;

#[derive(Debug, Parser)]
struct Args {
    /// Small sizes on one victim process, for CI (nothing is written unless --out says where).
    #[arg(long)]
    quick: bool,
    /// Write the table into this Markdown file [default: RELIABILITY.md in the workspace, for
    /// full runs].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Run only these attacks (by key: organizer, remove-founder, backdated-rules,
    /// rewrite-piece, critique-as-other, rate-others-critique, delete-device, add-device,
    /// forged-actor, after-removal, unsigned, wrong-key, replayed, flood-frames, flood-message,
    /// flood-pieces-frames, flood-pieces-message, held-bytes, held-count, op-bomb, wrong-pred),
    /// comma-separated; the baseline always runs.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Keep one victim process for every attack instead of a fresh one each.
    #[arg(long)]
    same_victim: bool,
    /// Ops the op bomb claims [default: 16,777,216, or 65,536 with --quick].
    #[arg(long)]
    bomb_ops: Option<u64>,
    /// Tries of each one-frame attack [default: 20, or 2 with --quick].
    #[arg(long)]
    tries: Option<usize>,
    /// Changes in each flood [default: 30,000, or 1,000 with --quick].
    #[arg(long)]
    flood: Option<usize>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    build_quire()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(attack_all(args))
}

/// Builds the `quire` binary next to this one, in the same profile, when run by cargo (which
/// does not build another package's binary for `cargo run`). Both packages are named so that
/// their dependencies build with the same features as for this binary, not again.
fn build_quire() -> anyhow::Result<()> {
    let Some(cargo) = std::env::var_os("CARGO") else {
        return Ok(());
    };
    let mut cmd = Command::new(cargo);
    // What `cargo run` set for this binary would look like a changed build environment to
    // build scripts that watch it (ring's does), and rebuild half the dependencies.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let set_for_us = name.starts_with("CARGO_PKG_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_CRATE_NAME",
                "CARGO_BIN_NAME",
                "CARGO_PRIMARY_PACKAGE",
            ]
            .contains(&name.as_ref());
        if set_for_us {
            cmd.env_remove(name.as_ref());
        }
    }
    cmd.args([
        "build",
        "--quiet",
        "-p",
        "quire-tests",
        "-p",
        "quire",
        "--bin",
        "quire",
    ]);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    let status = cmd.status().context("running cargo to build quire")?;
    if !status.success() {
        bail!("building the quire binary failed ({status})");
    }
    Ok(())
}

fn sizes(args: &Args) -> Sizes {
    let quick = args.quick;
    Sizes {
        tries: args.tries.unwrap_or(if quick { 2 } else { 20 }),
        baseline: if quick { 5 } else { 40 },
        flood: args.flood.unwrap_or(if quick { 1_000 } else { 30_000 }),
        flood_secs: if quick { 0.5 } else { 5.0 },
        held_big: 80,
        held_small: if quick { 5_000 } else { 205_000 },
        held_per_frame: 5_000,
        bomb_ops: args
            .bomb_ops
            .unwrap_or(if quick { 1 << 16 } else { 1 << 24 }),
        probe_every: Duration::from_millis(100),
        edit_wait: Duration::from_secs(if quick { 5 } else { 60 }),
    }
}

async fn attack_all(args: Args) -> anyhow::Result<()> {
    let began = std::time::Instant::now();
    let sizes = sizes(&args);
    let machine = quire_tests::report::machine();
    println!(
        "quire-attacks{}: {machine}",
        if args.quick { " --quick" } else { "" }
    );
    println!("setting up: Ann's `quire serve`, Bea and Cal joining by invite");
    let mut cast = Cast::new().await?;
    println!("  ({:.1} s)", began.elapsed().as_secs_f64());
    let forger = Forger::load(&cast.bea_dir, cast.group)?;
    let dan = Forger::load(&cast.dan_dir, cast.group)?;
    let raw = RawPeer::bind(&cast.bea_dir).await?;
    let fresh = !(args.quick || args.same_victim);
    let edits = Arc::new(AtomicUsize::new(0));
    let mut outcomes = Vec::new();
    for attack in Attack::all() {
        let wanted = attack == Attack::Baseline
            || args.only.is_empty()
            || args.only.iter().any(|k| k == attack.key());
        if !wanted {
            continue;
        }
        let started = std::time::Instant::now();
        println!("{}", attack.name(&sizes));
        let outcome = run::measure(
            &mut cast,
            &forger,
            &dan,
            &raw,
            attack,
            sizes,
            fresh,
            edits.clone(),
        )
        .await?;
        println!(
            "  answer: {}\n  lost: {}; reached Cal: {}; CPU {:?} ms; RSS {} → {} bytes",
            outcome.effect.answer,
            outcome.lost,
            outcome.reached_cal,
            outcome.cpu_ms,
            outcome.rss_before,
            outcome.rss_peak
        );
        println!("  ({:.1} s)", started.elapsed().as_secs_f64());
        for f in &outcome.effect.failures {
            println!("  FAILED: {f}");
        }
        outcomes.push(outcome);
    }
    raw.close().await;
    let _ = cast.victim.stop();

    let md = table::markdown(&outcomes, &machine, args.quick);
    println!();
    println!("{md}");
    let out = args.out.clone().or_else(|| {
        (!args.quick && args.only.is_empty())
            .then(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../RELIABILITY.md"))
    });
    if let Some(out) = out {
        table::write_into(&out, &md)?;
        println!("written to {}", out.display());
    }
    println!("took {:.0} s", began.elapsed().as_secs_f64());
    let failed = outcomes
        .iter()
        .filter(|o| !o.effect.failures.is_empty() || table::flood_miss(o, args.quick).is_some())
        .count();
    if failed > 0 {
        println!("{failed} attacks did not go as the rules say (see above)");
        std::process::exit(1);
    }
    Ok(())
}
