//! One function per subcommand. Listings print a table, or JSON with `--json`.

mod exchange;
mod export;
mod group;
mod inbox;
mod notices;
mod queue;
mod review;
mod roster;
mod sync;

use crate::out::say;
use jiff::Timestamp;
use serde::Serialize;

use crate::cli::{Cli, Command};
use crate::context::Context;

/// Runs the command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let Some(command) = cli.command else {
        return quire::ui::launch::open(cli.data_dir, cli.relay, cli.mdns);
    };
    if let Command::Demo(args) = command {
        return quire::ui::launch::demo(cli.data_dir, args.no_window, args.view.as_deref());
    }
    let ctx = Context::new(cli.data_dir, cli.group)?;
    let out = Output { json: cli.json };
    let net = sync::Net {
        relay: cli.relay,
        mdns: cli.mdns,
    };
    match command {
        Command::Init(args) => group::init(&ctx, args),
        Command::Groups => group::groups(&ctx, out),
        Command::Watch => group::watch(&ctx, out),
        Command::Compact => group::compact(&ctx),
        Command::Profile(args) => roster::profile(&ctx, args, out),
        Command::Members(args) => roster::members(&ctx, args, out),
        Command::Member { who } => roster::member(&ctx, &who, out),
        Command::Submit(args) => queue::submit(&ctx, args),
        Command::Queue => queue::queue(&ctx, out),
        Command::Inbox { mark_read } => inbox::inbox(&ctx, mark_read, out),
        Command::Show { id } => queue::show(&ctx, &id, out),
        Command::Withdraw { id } => queue::withdraw(&ctx, &id),
        Command::Claim { id } => queue::claim(&ctx, &id),
        Command::Unclaim { id } => queue::unclaim(&ctx, &id),
        Command::Critique(args) => review::critique(&ctx, args),
        Command::Rate { critique, rating } => review::rate(&ctx, &critique, rating),
        Command::Thank { critique } => review::thank(&ctx, &critique),
        Command::Tip { critique } => exchange::tip(&ctx, &critique),
        Command::Ledger { member } => exchange::ledger(&ctx, member.as_deref(), out),
        Command::Next => exchange::next(&ctx, out),
        Command::Rules { set } => exchange::rules(&ctx, &set, out),
        Command::Activity { since } => exchange::activity(&ctx, since.as_deref(), out),
        Command::Export(args) => export::export(&ctx, args),
        Command::Invite(args) => sync::invite(&ctx, args),
        Command::Join(args) => sync::join(&ctx, &net, args),
        Command::Serve(args) => sync::serve(&ctx, &net, args, out),
        Command::Status => sync::status(&ctx, out),
        Command::RemoveMember { who } => sync::remove_member(&ctx, &who),
        Command::Demo(_) => unreachable!("handled above"),
    }
}

/// How listings are printed.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    json: bool,
}

impl Output {
    /// Prints `value` as JSON if asked, else runs `human`.
    fn print<T: Serialize>(self, value: &T, human: impl FnOnce()) -> anyhow::Result<()> {
        if self.json {
            say!("{}", serde_json::to_string_pretty(value)?);
        } else {
            human();
        }
        Ok(())
    }
}

/// The current time; every command reads the clock once, here.
fn now() -> Timestamp {
    Timestamp::now()
}

/// Today in the local time zone, for due dates and hiatus.
fn today() -> jiff::civil::Date {
    jiff::Zoned::now().date()
}

/// A time as people read it, in the local time zone, to the minute.
fn when(t: Timestamp) -> String {
    t.to_zoned(jiff::tz::TimeZone::system())
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}
