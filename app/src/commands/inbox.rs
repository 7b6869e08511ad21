//! `inbox`: what needs me, from the group and my personal document.

use quire_store::inbox::{self, InboxItem};
use quire_store::personal::PersonalDoc;
use quire_store::storage::StorageOptions;
use quire_store::{Group, model};

use super::{Output, now, when};
use crate::context::Context;
use crate::out::say;

/// This device's member's personal document in `group`.
pub fn personal_doc(ctx: &Context, group: &Group) -> anyhow::Result<PersonalDoc> {
    let me = group.me()?;
    Ok(PersonalDoc::open(
        &ctx.data,
        group.id(),
        me,
        ctx.device,
        StorageOptions::default(),
    )?)
}

pub fn inbox(ctx: &Context, mark_read: bool, out: Output) -> anyhow::Result<()> {
    let group = ctx.open_group()?;
    let model = group.read()?;
    let mut personal = personal_doc(ctx, &group)?;
    let now = now();
    let items = inbox::inbox(&model, group.me()?, &personal.read(), now);
    out.print(&items, || {
        if items.is_empty() {
            say!("nothing needs you now; `quire next` suggests a piece to critique");
            return;
        }
        for item in &items {
            say!("{}", line(item));
        }
    })?;
    if mark_read {
        let unread: Vec<&str> = items
            .iter()
            .filter(|i| i.unread)
            .map(|i| i.key.as_str())
            .collect();
        let marked = personal.mark_read(unread, now)?;
        eprintln!("marked {marked} read");
    }
    Ok(())
}

fn line(item: &InboxItem) -> String {
    let mark = if item.urgent() {
        "!"
    } else if item.unread {
        "*"
    } else {
        " "
    };
    let id = item.submission().short();
    let when = match &item.kind {
        inbox::InboxKind::Claim { expires_at, .. } => format!("lapses {}", when(*expires_at)),
        _ => when(item.at),
    };
    format!("{mark} {id}  {when}  {}", item.headline())
}

/// Marks what opening `sub` shows as read (see [`inbox::opened_keys`]).
pub fn opened(ctx: &Context, group: &Group, sub: &model::Submission) -> anyhow::Result<()> {
    let keys = inbox::opened_keys(sub, group.me()?);
    personal_doc(ctx, group)?.mark_read(keys.iter().map(String::as_str), now())?;
    Ok(())
}
