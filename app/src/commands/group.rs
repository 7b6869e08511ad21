//! `init`, `groups`, `watch`, `compact`: groups as a whole.

use crate::out::{say, say_raw};
use std::time::Duration;

use anyhow::Context as _;
use quire_store::exchange::activity::activity;
use quire_store::ops::{NewGroup, NewMember};
use quire_store::storage::StorageOptions;
use quire_store::{Group, GroupId, MemberId, doc};
use serde::Serialize;

use super::{Output, now, when};
use crate::cli::InitArgs;
use crate::context::{Context, host_label};
use crate::table::Table;

pub fn init(ctx: &Context, args: InitArgs) -> anyhow::Result<()> {
    let new = NewGroup {
        id: GroupId::random(),
        name: args.name,
        description: args.description,
        rules: Default::default(),
        founder: NewMember {
            id: MemberId::random(),
            display_name: args.me,
            device: ctx.device,
            device_label: args.device_label.unwrap_or_else(host_label),
        },
    };
    let group = Group::create(&ctx.data, new, StorageOptions::default(), now())?;
    say!("created group `{}` ({})", group.name(), group.id());
    Ok(())
}

#[derive(Serialize)]
struct GroupRow {
    id: GroupId,
    name: String,
    members: usize,
    submissions: usize,
    member_here: bool,
}

pub fn groups(ctx: &Context, out: Output) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    for id in ctx.data.group_ids()? {
        let group = Group::open(&ctx.data, id, ctx.device, StorageOptions::default())
            .with_context(|| format!("cannot open group `{}`", id.short()))?;
        let model = group.read()?;
        rows.push(GroupRow {
            id,
            name: model.info.name.clone(),
            members: model.members.values().filter(|m| m.is_current()).count(),
            submissions: model.submissions.len(),
            member_here: model.member_for_device(ctx.device).is_some(),
        });
    }
    out.print(&rows, || {
        if rows.is_empty() {
            say!("no groups yet; create one with `quire init --name NAME --me YOU`");
            return;
        }
        let mut table = Table::new(&["id", "name", "members", "submissions"]);
        for r in &rows {
            table.row(vec![
                r.id.short(),
                r.name.clone(),
                r.members.to_string(),
                r.submissions.to_string(),
            ]);
        }
        say_raw!("{}", table.render());
    })
}

#[derive(Serialize)]
struct ChangeLine {
    at: String,
    by: String,
    what: String,
}

/// Prints each change as it reaches this data dir, from any process.
pub fn watch(ctx: &Context, out: Output) -> anyhow::Result<()> {
    let mut group = ctx.open_group()?;
    let watcher = group.storage_mut().watch()?;
    if !out.json {
        say!("watching `{}`; press Ctrl-C to stop", group.name());
    }
    loop {
        if !watcher.wait(Duration::from_millis(500)) {
            continue;
        }
        let before = group.doc().get_heads();
        if !group.refresh()? {
            continue;
        }
        let changes = doc::history_since(group.doc(), &before);
        let model = group.view()?;
        // `activity` lists newest first; a live feed reads oldest first.
        for entry in activity(model, &changes, None).into_iter().rev() {
            let line = ChangeLine {
                at: when(entry.at),
                by: entry.who,
                what: entry.what,
            };
            if out.json {
                say!("{}", serde_json::to_string(&line)?);
            } else {
                say!("{}  {}  {}", line.at, line.by, line.what);
            }
        }
    }
}

pub fn compact(ctx: &Context) -> anyhow::Result<()> {
    let mut group = ctx.open_group()?;
    let stats = group.storage_mut().compact()?;
    say!(
        "compacted `{}`: {} bytes -> {} bytes, {} old logs removed",
        group.name(),
        stats.bytes_before,
        stats.bytes_after,
        stats.logs_removed
    );
    Ok(())
}
