//! `critique`, `rate`, `thank`: delivering critiques and answering them.

use crate::out::say;
use quire_store::CritiqueId;
use quire_store::ops;

use super::now;
use crate::cli::CritiqueArgs;
use crate::context::Context;
use crate::input;

pub fn critique(ctx: &Context, args: CritiqueArgs) -> anyhow::Result<()> {
    let body = input::long_text(args.file.as_deref(), "critique")?;
    let mut group = ctx.open_group()?;
    let sub = ops::resolve_submission(group.doc(), &args.id)?;
    let (id, now) = (CritiqueId::random(), now());
    let critique = group.act(|doc, me| ops::critique(doc, me, sub, id, &body, now))?;
    eprintln!("delivered a critique of {} words", critique.word_count);
    say!("{}", critique.id);
    Ok(())
}

pub fn rate(ctx: &Context, given: &str, rating: u8) -> anyhow::Result<()> {
    let mut group = ctx.open_group()?;
    let (id, sub) = ops::resolve_critique(group.doc(), given)?;
    let now = now();
    group.act(|doc, me| ops::rate(doc, me, sub, id, rating, now))?;
    say!("rated critique {} {rating}/5", id.short());
    Ok(())
}

pub fn thank(ctx: &Context, given: &str) -> anyhow::Result<()> {
    let mut group = ctx.open_group()?;
    let (id, sub) = ops::resolve_critique(group.doc(), given)?;
    let now = now();
    group.act(|doc, me| ops::thank(doc, me, sub, id, now))?;
    say!("thanked the reviewer of critique {}", id.short());
    Ok(())
}
