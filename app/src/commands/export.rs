//! `export`: the roster and the queue as JSON, CSV or Markdown.
//!
//! Files are written whole or not at all: each goes to a temporary file beside its target and
//! is renamed into place once complete.

use crate::out::{say, say_raw};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use quire_store::model::Group;
use quire_store::views;
use serde::Serialize;

use super::{now, when};
use crate::cli::{ExportArgs, ExportFormat};
use crate::context::Context;

pub fn export(ctx: &Context, args: ExportArgs) -> anyhow::Result<()> {
    let group = ctx.open_group()?;
    let model = group.read()?;
    match args.format {
        ExportFormat::Json => emit(args.out.as_deref(), json(&model)?.as_bytes()),
        ExportFormat::Md => emit(args.out.as_deref(), markdown(&model).as_bytes()),
        ExportFormat::Csv => {
            let dir = args
                .out
                .unwrap_or_else(|| PathBuf::from(slug(&model.info.name) + "-export"));
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create export folder `{}`", dir.display()))?;
            for (name, bytes) in csv(&model)? {
                let path = dir.join(name);
                write_atomically(&path, &bytes)?;
                say!("wrote {}", path.display());
            }
            Ok(())
        }
    }
}

fn emit(out: Option<&Path>, bytes: &[u8]) -> anyhow::Result<()> {
    match out {
        Some(path) => write_atomically(path, bytes),
        None => {
            say_raw!("{}", String::from_utf8_lossy(bytes));
            Ok(())
        }
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write `{}`", path.display()))
}

fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    s.split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

#[derive(Serialize)]
struct JsonExport<'a> {
    group: &'a quire_store::model::GroupInfo,
    members: Vec<&'a quire_store::model::Member>,
    queue: Vec<views::QueueEntry>,
    submissions: Vec<&'a quire_store::model::Submission>,
}

fn json(model: &Group) -> anyhow::Result<String> {
    let export = JsonExport {
        group: &model.info,
        members: model.members.values().collect(),
        queue: views::queue(model, now()),
        submissions: model.submissions.values().collect(),
    };
    Ok(serde_json::to_string_pretty(&export)? + "\n")
}

fn csv(model: &Group) -> anyhow::Result<Vec<(&'static str, Vec<u8>)>> {
    let join = |items: Vec<String>| items.join("; ");
    let mut members = csv::Writer::from_writer(Vec::new());
    members.write_record([
        "id",
        "display_name",
        "pen_name",
        "genres",
        "roles",
        "links",
        "capacity_per_month",
        "hiatus_until",
        "organizer",
        "joined_at",
        "removed_at",
    ])?;
    for m in model.members.values() {
        let p = &m.profile;
        members.write_record([
            m.id.to_string(),
            p.display_name.clone(),
            p.pen_name.clone().unwrap_or_default(),
            join(p.genres.iter().cloned().collect()),
            join(p.roles.iter().map(|r| r.to_string()).collect()),
            join(p.links.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            p.capacity_per_month
                .map(|c| c.to_string())
                .unwrap_or_default(),
            p.hiatus_until.map(|d| d.to_string()).unwrap_or_default(),
            m.organizer.to_string(),
            m.joined_at.to_string(),
            m.removed_at.map(|t| t.to_string()).unwrap_or_default(),
        ])?;
    }
    let mut subs = csv::Writer::from_writer(Vec::new());
    subs.write_record([
        "id",
        "title",
        "author",
        "genre",
        "word_count",
        "status",
        "critiques",
        "critiques_wanted",
        "due_at",
        "submitted_at",
        "withdrawn_at",
        "feedback_wanted",
        "content_notes",
    ])?;
    let mut critiques = csv::Writer::from_writer(Vec::new());
    critiques.write_record([
        "id",
        "submission",
        "submission_title",
        "reviewer",
        "word_count",
        "delivered_at",
        "rating",
        "thanked_at",
        "body",
    ])?;
    for row in views::queue(model, now()) {
        let s = &model.submissions[&row.id];
        subs.write_record([
            s.id.to_string(),
            s.title.clone(),
            model.name_of(s.author),
            s.genre.clone(),
            s.word_count.to_string(),
            row.status.to_string(),
            row.critiques.to_string(),
            s.critiques_wanted.to_string(),
            s.due_at.map(|d| d.to_string()).unwrap_or_default(),
            s.submitted_at.to_string(),
            s.withdrawn_at.map(|t| t.to_string()).unwrap_or_default(),
            s.feedback_wanted.clone(),
            s.content_notes.clone(),
        ])?;
        for c in s.critiques.values() {
            critiques.write_record([
                c.id.to_string(),
                s.id.to_string(),
                s.title.clone(),
                model.name_of(c.reviewer),
                c.word_count.to_string(),
                c.delivered_at.to_string(),
                c.rating.map(|r| r.to_string()).unwrap_or_default(),
                c.thanked_at.map(|t| t.to_string()).unwrap_or_default(),
                c.body.clone(),
            ])?;
        }
    }
    Ok(vec![
        ("members.csv", members.into_inner()?),
        ("submissions.csv", subs.into_inner()?),
        ("critiques.csv", critiques.into_inner()?),
    ])
}

fn markdown(model: &Group) -> String {
    let mut md = String::new();
    let info = &model.info;
    let _ = writeln!(md, "# {}\n", info.name);
    if !info.description.is_empty() {
        let _ = writeln!(md, "{}\n", info.description);
    }
    let _ = writeln!(md, "## Members\n");
    let _ = writeln!(md, "| Name | Pen name | Genres | Roles |");
    let _ = writeln!(md, "| --- | --- | --- | --- |");
    for m in model.members.values().filter(|m| m.is_current()) {
        let p = &m.profile;
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            cell(&p.display_name),
            cell(p.pen_name.as_deref().unwrap_or("")),
            cell(&p.genres.iter().cloned().collect::<Vec<_>>().join(", ")),
            cell(
                &p.roles
                    .iter()
                    .map(|r| r.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    let _ = writeln!(md, "\n## Queue\n");
    for row in views::queue(model, now()) {
        let s = &model.submissions[&row.id];
        let _ = writeln!(md, "### {}\n", s.title);
        let _ = writeln!(
            md,
            "*{}* · {} · {} words · {} · submitted {}{}\n",
            model.name_of(s.author),
            s.genre,
            s.word_count,
            row.status,
            when(s.submitted_at),
            s.due_at.map(|d| format!(" · due {d}")).unwrap_or_default(),
        );
        if !s.feedback_wanted.is_empty() {
            let _ = writeln!(md, "**Feedback wanted:** {}\n", s.feedback_wanted);
        }
        if !s.content_notes.is_empty() {
            let _ = writeln!(md, "**Content notes:** {}\n", s.content_notes);
        }
        let _ = writeln!(md, "{}\n", s.text.trim_end());
        let mut critiques: Vec<_> = s.critiques.values().collect();
        critiques.sort_by_key(|c| (c.delivered_at, c.id));
        for c in critiques {
            let _ = writeln!(
                md,
                "#### Critique by {} ({}, {} words{})\n",
                model.name_of(c.reviewer),
                when(c.delivered_at),
                c.word_count,
                c.rating
                    .map(|r| format!(", rated {r}/5"))
                    .unwrap_or_default(),
            );
            let _ = writeln!(md, "{}\n", c.body.trim_end());
        }
    }
    md
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}
