//! `submit`, `queue`, `show`, `withdraw`, `claim`, `unclaim`: the critique queue.

use crate::out::{say, say_raw};
use quire_store::ops::{self, SubmissionDraft};
use quire_store::views::{self, LinePosition};
use quire_store::{SubmissionId, doc, model};
use serde::Serialize;

use super::{Output, now, when};
use crate::cli::SubmitArgs;
use crate::context::Context;
use crate::input;
use crate::table::{Table, clip};

pub fn submit(ctx: &Context, args: SubmitArgs) -> anyhow::Result<()> {
    let text = input::long_text(args.file.as_deref(), "text")?;
    let due_at = args
        .due
        .as_deref()
        .map(|d| input::date("due date", d))
        .transpose()?;
    let draft = SubmissionDraft {
        title: args.title,
        genre: args.genre,
        text,
        critiques_wanted: args.wanted,
        due_at,
        feedback_wanted: args.feedback,
        content_notes: args.notes,
    };
    let mut group = ctx.open_group()?;
    let (id, now) = (SubmissionId::random(), now());
    let sub = group.submit(id, draft, now)?;
    eprintln!(
        "submitted '{}' ({} words, {} critiques wanted)",
        sub.title, sub.word_count, sub.critiques_wanted
    );
    let credits = doc::read_info(group.doc())?.rules_at(now).credits;
    if credits {
        // The live view caught up for the credit check; this reads only the new piece.
        let balance = quire_store::exchange::ledger::ledger(group.view()?, sub.author).balance;
        eprintln!("you have {balance} credits left");
    }
    say!("{}", sub.id);
    Ok(())
}

pub fn queue(ctx: &Context, out: Output) -> anyhow::Result<()> {
    let group = ctx.open_group()?;
    let model = group.read()?;
    let rows = views::queue(&model, now());
    out.print(&rows, || {
        if rows.is_empty() {
            say!("the queue is empty; submit a piece with `quire submit`");
            return;
        }
        let mut table = Table::new(&["id", "title", "author", "genre", "words", "due", "status"]);
        for r in &rows {
            table.row(vec![
                r.id.short(),
                clip(&r.title, 40),
                clip(&r.author_name, 24),
                clip(&r.genre, 20),
                r.word_count.to_string(),
                r.due_at
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "-".into()),
                r.status.to_string(),
            ]);
        }
        say_raw!("{}", table.render());
    })
}

#[derive(Serialize)]
struct ShowView<'a> {
    #[serde(flatten)]
    submission: &'a model::Submission,
    #[serde(flatten)]
    status: views::Status,
    line: views::ClaimLine,
}

pub fn show(ctx: &Context, given: &str, out: Output) -> anyhow::Result<()> {
    let group = ctx.open_group()?;
    let id = ops::resolve_submission(group.doc(), given)?;
    let model = group.read()?;
    let Some(sub) = model.submissions.get(&id) else {
        anyhow::bail!("submission `{given}` cannot be read; see the warnings above");
    };
    let now = now();
    if let Err(e) = super::inbox::opened(ctx, &group, sub) {
        eprintln!("warning: cannot mark it read: {e}");
    }
    let view = ShowView {
        submission: sub,
        status: views::status(sub, now),
        line: views::claim_line(sub, now),
    };
    out.print(&view, || {
        say!("{} ({})", sub.title, sub.id);
        say!(
            "  by {}, {}",
            model.name_of(sub.author),
            when(sub.submitted_at)
        );
        say!(
            "  {} · {} words · {}",
            sub.genre,
            sub.word_count,
            view.status
        );
        if let Some(due) = sub.due_at {
            say!("  critiques wanted by {due}");
        }
        if !sub.feedback_wanted.is_empty() {
            say!("  feedback wanted: {}", sub.feedback_wanted);
        }
        if !sub.content_notes.is_empty() {
            say!("  content notes: {}", sub.content_notes);
        }
        for (who, claim) in &view.line.holders {
            say!(
                "  claimed by {} until {}",
                model.name_of(*who),
                when(claim.expires_at)
            );
        }
        for (i, (who, _)) in view.line.waiting.iter().enumerate() {
            say!("  waiting #{}: {}", i + 1, model.name_of(*who));
        }
        say!();
        say!("{}", sub.text.trim_end());
        let mut critiques: Vec<_> = sub.critiques.values().collect();
        critiques.sort_by_key(|c| (c.delivered_at, c.id));
        for c in critiques {
            say!();
            let mut head = format!(
                "--- critique {} by {}, {} ({} words)",
                c.id.short(),
                model.name_of(c.reviewer),
                when(c.delivered_at),
                c.word_count
            );
            if let Some(r) = c.rating {
                head.push_str(&format!(", rated {r}/5"));
            }
            if c.thanked_at.is_some() {
                head.push_str(", thanked");
            }
            say!("{head}");
            say!("{}", c.body.trim_end());
        }
    })
}

pub fn withdraw(ctx: &Context, given: &str) -> anyhow::Result<()> {
    let mut group = ctx.open_group()?;
    let id = ops::resolve_submission(group.doc(), given)?;
    let now = now();
    let sub = group.act(|doc, me| ops::withdraw(doc, me, id, now))?;
    say!("withdrew '{}'", sub.title);
    Ok(())
}

pub fn claim(ctx: &Context, given: &str) -> anyhow::Result<()> {
    let mut group = ctx.open_group()?;
    let id = ops::resolve_submission(group.doc(), given)?;
    let now = now();
    let position = group.act(|doc, me| ops::claim(doc, me, id, now))?;
    let title = doc::read_submission(group.doc(), id)?
        .map(|s| s.title)
        .unwrap_or_default();
    let days = doc::read_info(group.doc())?.rules_at(now).claim_period_days;
    match position {
        LinePosition::Holder => {
            say!("claimed '{title}'; deliver your critique within {days} days")
        }
        LinePosition::Waiting(n) => {
            say!("all slots of '{title}' are taken; you are number {n} in line")
        }
    }
    Ok(())
}

pub fn unclaim(ctx: &Context, given: &str) -> anyhow::Result<()> {
    let mut group = ctx.open_group()?;
    let id = ops::resolve_submission(group.doc(), given)?;
    let now = now();
    group.act(|doc, me| ops::unclaim(doc, me, id, now))?;
    say!("released your claim on {}", id.short());
    Ok(())
}
