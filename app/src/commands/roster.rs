//! `profile`, `members`, `member`: who is in the group.

use crate::out::{say, say_raw};
use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context as _, bail};
use quire_store::doc::ProfilePatch;
use quire_store::exchange::reliability;
use quire_store::model::{Member, Role};
use quire_store::ops;
use serde::Serialize;

use super::{Output, now, today, when};
use crate::cli::{MembersArgs, ProfileArgs};
use crate::context::Context;
use crate::input;
use crate::table::{Table, clip};

pub fn profile(ctx: &Context, args: ProfileArgs, out: Output) -> anyhow::Result<()> {
    let patch = patch_from(args)?;
    let mut group = ctx.open_group()?;
    if patch.is_empty() {
        let me = group.me()?;
        let model = group.read()?;
        return print_member(&model, &model.members[&me], out);
    }
    let now = now();
    group.act(|doc, me| ops::update_profile(doc, me, patch, now))?;
    let me = group.me()?;
    let model = group.read()?;
    print_member(&model, &model.members[&me], out)
}

fn list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn cleared(s: &str) -> bool {
    matches!(s.trim().to_lowercase().as_str(), "" | "none")
}

fn patch_from(args: ProfileArgs) -> anyhow::Result<ProfilePatch> {
    let mut patch = ProfilePatch {
        display_name: args.name,
        bio: args.bio,
        ..Default::default()
    };
    if let Some(pen) = args.pen_name {
        patch.pen_name = Some((!pen.trim().is_empty()).then_some(pen));
    }
    if let Some(genres) = args.genres {
        patch.genres = Some(list(&genres).into_iter().collect());
    }
    if let Some(roles) = args.roles {
        let roles = list(&roles)
            .iter()
            .map(|r| Role::parse_known(r))
            .collect::<Result<BTreeSet<_>, _>>()?;
        patch.roles = Some(roles);
    }
    if let Some(links) = args.links {
        let mut map = BTreeMap::new();
        for link in list(&links) {
            let Some((label, url)) = link.split_once('=') else {
                bail!("link `{link}` is not label=url");
            };
            let (label, url) = (label.trim(), url.trim());
            if label.is_empty() || url.is_empty() {
                bail!("link `{link}` is not label=url");
            }
            map.insert(label.to_string(), url.to_string());
        }
        patch.links = Some(map);
    }
    if let Some(cap) = args.capacity {
        patch.capacity_per_month = Some(if cleared(&cap) {
            None
        } else {
            Some(
                cap.trim()
                    .parse::<u32>()
                    .with_context(|| format!("capacity `{cap}` is not a whole number"))?,
            )
        });
    }
    if let Some(until) = args.hiatus_until {
        patch.hiatus_until = Some(if cleared(&until) {
            None
        } else {
            Some(input::date("hiatus date", &until)?)
        });
    }
    Ok(patch)
}

pub fn members(ctx: &Context, args: MembersArgs, out: Output) -> anyhow::Result<()> {
    let group = ctx.open_group()?;
    let model = group.read()?;
    let genre = args.genre.map(|g| g.trim().to_lowercase());
    let role = args.role.as_deref().map(Role::parse_known).transpose()?;
    let mut rows: Vec<&Member> = model
        .members
        .values()
        .filter(|m| args.all || m.is_current())
        .filter(|m| genre.as_ref().is_none_or(|g| m.profile.genres.contains(g)))
        .filter(|m| role.as_ref().is_none_or(|r| m.profile.roles.contains(r)))
        .collect();
    rows.sort_by_key(|m| (m.profile.display_name.to_lowercase(), m.id));
    let today = today();
    out.print(&rows, || {
        let mut table = Table::new(&["id", "name", "pen name", "genres", "roles", "status"]);
        for m in &rows {
            let status = if !m.is_current() {
                "removed".to_string()
            } else if m.on_hiatus(today) {
                format!(
                    "hiatus until {}",
                    m.profile
                        .hiatus_until
                        .map(|d| d.to_string())
                        .unwrap_or_default()
                )
            } else if m.organizer {
                "organizer".to_string()
            } else {
                "active".to_string()
            };
            table.row(vec![
                m.id.short(),
                m.profile.display_name.clone(),
                m.profile.pen_name.clone().unwrap_or_default(),
                clip(&join(&m.profile.genres), 30),
                clip(&join(&m.profile.roles), 30),
                status,
            ]);
        }
        if table.is_empty() {
            say!("no members match");
        } else {
            say_raw!("{}", table.render());
        }
    })
}

fn join<T: ToString>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn member(ctx: &Context, who: &str, out: Output) -> anyhow::Result<()> {
    let group = ctx.open_group()?;
    let model = group.read()?;
    let id = ops::resolve_member(&model, who)?;
    let me = group.me().ok();
    let now = now();
    let record = reliability::reliability(&model, id, now);
    let log = me
        .filter(|me| *me != id)
        .map(|me| reliability::interactions(&model, me, id))
        .unwrap_or_default();
    let view = ExchangeView {
        reliability: record.summary(),
        average_rating: record.average_rating(),
        record: &record,
        last_contact: log.first().map(|i| i.at),
        with_me: &log,
    };
    if out.json {
        #[derive(Serialize)]
        struct Full<'a> {
            #[serde(flatten)]
            member: &'a Member,
            exchange: &'a ExchangeView<'a>,
        }
        return out.print(
            &Full {
                member: &model.members[&id],
                exchange: &view,
            },
            || {},
        );
    }
    print_member(&model, &model.members[&id], out)?;
    say!(
        "  reliability: {}",
        view.reliability
            .clone()
            .unwrap_or_else(|| "no claims settled yet".into())
    );
    say!(
        "  claims:     {} made, {} on time, {} late, {} lapsed, {} released, {} open",
        record.claims_made,
        record.delivered_on_time,
        record.delivered_late,
        record.lapsed,
        record.released,
        record.open
    );
    if let Some(avg) = &view.average_rating {
        say!(
            "  rating:     {avg} average over {} rated critiques",
            record.ratings
        );
    }
    if me.is_some_and(|me| me != id) {
        match view.last_contact {
            Some(at) => say!("  with you:   last contact {}", when(at)),
            None => say!("  with you:   no critiques between you yet"),
        }
        for i in &log {
            say!(
                "    {}  {} critiqued {}'s '{}' ({} words{})",
                when(i.at),
                model.name_of(i.reviewer),
                model.name_of(i.author),
                i.title,
                i.words,
                i.rating
                    .map(|r| format!(", rated {r}/5"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct ExchangeView<'a> {
    reliability: Option<String>,
    average_rating: Option<String>,
    record: &'a reliability::Reliability,
    last_contact: Option<jiff::Timestamp>,
    with_me: &'a [reliability::Interaction],
}

#[derive(Serialize)]
struct MemberView<'a> {
    #[serde(flatten)]
    member: &'a Member,
    submissions: usize,
    critiques_given: usize,
    critiques_received: usize,
}

fn print_member(model: &quire_store::model::Group, m: &Member, out: Output) -> anyhow::Result<()> {
    let submissions = model
        .submissions
        .values()
        .filter(|s| s.author == m.id)
        .count();
    let given = model
        .submissions
        .values()
        .flat_map(|s| s.critiques.values())
        .filter(|c| c.reviewer == m.id)
        .count();
    let received = model
        .submissions
        .values()
        .filter(|s| s.author == m.id)
        .map(|s| s.critiques.len())
        .sum();
    let view = MemberView {
        member: m,
        submissions,
        critiques_given: given,
        critiques_received: received,
    };
    out.print(&view, || {
        let p = &m.profile;
        say!("{} ({})", p.display_name, m.id);
        if let Some(pen) = &p.pen_name {
            say!("  pen name:   {pen}");
        }
        if m.organizer {
            say!("  organizer");
        }
        say!("  joined:     {}", when(m.joined_at));
        if let Some(removed) = m.removed_at {
            say!("  removed:    {}", when(removed));
        }
        say!("  genres:     {}", join(&p.genres));
        say!("  roles:      {}", join(&p.roles));
        if let Some(cap) = p.capacity_per_month {
            say!("  capacity:   {cap} critiques a month");
        }
        if let Some(until) = p.hiatus_until {
            say!("  hiatus:     until {until}");
        }
        for (label, url) in &p.links {
            say!("  {label}: {url}");
        }
        say!("  activity:   {submissions} submitted, {given} critiques given, {received} received");
        say!("  devices:    {}", m.devices.len());
        if !p.bio.is_empty() {
            say!();
            for line in p.bio.lines() {
                say!("  {line}");
            }
        }
    })
}
