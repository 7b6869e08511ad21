//! `ledger`, `tip`, `next`, `rules`, `activity`: the critique exchange.

use crate::out::{say, say_raw};
use anyhow::bail;
use quire_store::exchange::{activity as feed, ledger as ledgers, suggest};
use quire_store::{RuleChangeId, doc, ops};

use super::{Output, now, when};
use crate::context::Context;
use crate::input;
use crate::table::{Table, clip};

pub fn ledger(ctx: &Context, who: Option<&str>, out: Output) -> anyhow::Result<()> {
    let group = ctx.open_group()?;
    let model = group.read()?;
    let member = match who {
        Some(name) => ops::resolve_member(&model, name)?,
        None => group.me()?,
    };
    let ledger = ledgers::ledger(&model, member);
    let credits_on = model.info.rules_at(now()).credits;
    out.print(&ledger, || {
        say!(
            "{}: {} credits{}",
            model.name_of(member),
            ledger.balance,
            if credits_on {
                ""
            } else {
                " (the group runs without credits now)"
            }
        );
        if ledger.overdrawn {
            say!(
                "the balance is below zero: submissions made at once on disconnected devices overdrew it; critique a piece to earn it back"
            );
        }
        for e in &ledger.entries {
            say!("  {}  {:>6}  {}", when(e.at), e.balance.to_string(), e.text());
        }
    })
}

pub fn tip(ctx: &Context, given: &str) -> anyhow::Result<()> {
    let mut group = ctx.open_group()?;
    let (id, sub) = ops::resolve_critique(group.doc(), given)?;
    let now = now();
    let amount = group.act(|doc, me| ops::tip(doc, me, sub, id, now))?;
    say!(
        "tipped the reviewer of critique {} {amount} credits",
        id.short()
    );
    Ok(())
}

pub fn next(ctx: &Context, out: Output) -> anyhow::Result<()> {
    let group = ctx.open_group()?;
    let me = group.me()?;
    let model = group.read()?;
    let now = now();
    let suggestions = suggest::suggestions(&model, me, now);
    let hiatus = model.members[&me]
        .profile
        .hiatus_until
        .filter(|_| model.members[&me].on_hiatus(now.to_zoned(jiff::tz::TimeZone::UTC).date()));
    out.print(&suggestions, || {
        if let Some(until) = hiatus {
            say!("you are on hiatus until {until}; no suggestions until then");
            return;
        }
        if suggestions.is_empty() {
            say!("nothing to critique right now: no open piece needs you");
            return;
        }
        for s in suggestions.iter().take(10) {
            say!(
                "{}  '{}' by {} ({}, {} words, {} slot{} open)",
                s.submission.short(),
                clip(&s.title, 40),
                s.author_name,
                s.genre,
                s.word_count,
                s.open_slots,
                if s.open_slots == 1 { "" } else { "s" }
            );
            say!("          {}", s.reasons.join("; "));
        }
    })
}

pub fn rules(ctx: &Context, set: &[String], out: Output) -> anyhow::Result<()> {
    let mut group = ctx.open_group()?;
    let now = now();
    if !set.is_empty() {
        let mut values = Vec::new();
        for item in set {
            let Some((key, value)) = item.split_once('=') else {
                bail!("`{item}` is not key=value");
            };
            values.push((key.trim().to_string(), value.trim().to_string()));
        }
        let id = RuleChangeId::random();
        group.act(|doc, me| ops::change_rules(doc, me, id, &values, now))?;
    }
    // The rules live in the group's own entry: no need to read every submission.
    let info = doc::read_info(group.doc())?;
    let rules = info.rules_at(now);
    let values: std::collections::BTreeMap<&str, String> = rules.values().into_iter().collect();
    out.print(&values, || {
        let mut table = Table::new(&["rule", "value"]);
        for (key, value) in rules.values() {
            table.row(vec![key.to_string(), value]);
        }
        say_raw!("{}", table.render());
        if let Some(last) = info.rule_changes.iter().rfind(|c| c.at <= now) {
            let by = doc::read_member(group.doc(), last.by)
                .ok()
                .flatten()
                .map_or_else(|| last.by.short(), |m| m.profile.display_name);
            say!("last changed {} by {by}", when(last.at));
        }
    })
}

pub fn activity(ctx: &Context, since: Option<&str>, out: Output) -> anyhow::Result<()> {
    let group = ctx.open_group()?;
    let model = group.read()?;
    let since = since
        .map(|d| -> anyhow::Result<jiff::Timestamp> {
            let day = input::date("since", d)?;
            Ok(day.to_zoned(jiff::tz::TimeZone::system())?.timestamp())
        })
        .transpose()?;
    let rows = feed::activity(&model, &doc::history_from(group.doc(), since), since);
    out.print(&rows, || {
        if rows.is_empty() {
            say!("nothing happened in this period");
        }
        for a in &rows {
            say!("{}  {}  {}", when(a.at), a.who, a.what);
        }
    })
}
