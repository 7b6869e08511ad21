//! `quire`: the desktop client and the headless command line of Quire.
//!
//! With no subcommand the desktop client opens; each subcommand does one thing to a group and
//! exits, for scripts, tests and always-on peers. A command that changes a group exits 0 only
//! once the change is fsynced.

mod cli;
mod commands;
mod context;
mod input;
mod out;
mod table;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("QUIRE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("quire: {err:#}");
            ExitCode::FAILURE
        }
    }
}
