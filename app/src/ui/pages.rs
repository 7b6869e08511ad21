//! The form-like views: what to critique next, submit a piece, the rules, my profile.

use std::collections::{BTreeMap, BTreeSet};

use egui::{RichText, Ui};
use quire_store::doc::ProfilePatch;
use quire_store::exchange::rules::KEYS;
use quire_store::model::Role;
use quire_store::ops::SubmissionDraft;

use super::state::{SubmitForm, View};
use super::widgets::{self, named_button, text_area, text_field};
use crate::backend::{Action, Command, GroupSnapshot};

/// Forms being edited, kept until saved.
#[derive(Debug, Default)]
pub struct Forms {
    /// The profile editor, filled from my profile when opened.
    pub profile: Option<ProfileForm>,
    /// The rules editor (organizers).
    pub rules: Option<BTreeMap<String, String>>,
    /// A view the page asked to open.
    pub open: Option<View>,
}

/// My profile as text fields.
#[derive(Debug, Clone, Default)]
pub struct ProfileForm {
    name: String,
    pen_name: String,
    bio: String,
    genres: String,
    roles: BTreeSet<Role>,
    links: String,
    capacity: String,
    hiatus: String,
    /// Why the last save was refused before it reached the group: every problem at once.
    errors: Vec<String>,
}

/// What to critique next, with reasons.
pub fn next_ui(ui: &mut Ui, s: &GroupSnapshot, actions: &mut Vec<Action>) -> Option<View> {
    let mut open = None;
    ui.heading("What should I critique next?");
    widgets::hint(
        ui,
        "Pieces you can still take: the least critiqued first, then your genres, then writers \
         who critiqued you, then the nearest deadline.",
    );
    ui.add_space(8.0);
    if let Some(until) = s.my_hiatus {
        ui.label(format!(
            "You are on hiatus until {until}, so nothing is suggested. End your hiatus on the \
             Profile page."
        ));
        return None;
    }
    if s.suggestions.is_empty() {
        ui.label("Nothing to critique right now: no open piece needs you. Check back soon.");
        return None;
    }
    egui::ScrollArea::vertical().show(ui, |ui| {
        for (i, n) in s.suggestions.iter().enumerate() {
            egui::Frame::group(ui.style())
                .inner_margin(10.0)
                .show(ui, |ui| {
                    ui.set_width(ui.available_width().min(760.0));
                    ui.horizontal(|ui| {
                        ui.label(RichText::new(format!("{}.", i + 1)).weak());
                        if widgets::link(ui, &n.title).clicked() {
                            open = Some(View::Submission(n.submission.to_string()));
                        }
                        ui.label(format!("by {}", n.author_name));
                        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                            if named_button(ui, "Claim", format!("Claim {}", n.title), true)
                                .clicked()
                            {
                                actions.push(Action::Claim(n.submission));
                            }
                        });
                    });
                    ui.horizontal_wrapped(|ui| {
                        widgets::tag(ui, &n.genre);
                        ui.weak(format!(
                            "{} words · {} slot{} open",
                            n.word_count,
                            n.open_slots,
                            if n.open_slots == 1 { "" } else { "s" }
                        ));
                    });
                    for reason in &n.reasons {
                        ui.label(format!("• {reason}"));
                    }
                });
            ui.add_space(6.0);
        }
    });
    open
}

/// Submit a piece. Returns a command: the submission, or a file to read.
pub fn submit_ui(ui: &mut Ui, s: &GroupSnapshot, form: &mut SubmitForm) -> Option<Command> {
    let mut out = None;
    // A file dropped on the window fills the text.
    let dropped = ui
        .ctx()
        .input(|i| i.raw.dropped_files.first().map(|f| f.path().to_path_buf()));
    if let Some(path) = dropped {
        form.path = path.display().to_string();
        out = Some(Command::ReadFile { path });
    }
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.heading("Submit a piece");
        let short = short_of_credits(s);
        if let Some(balance) = short {
            // Said before the form, not after it is filled in.
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!(
                    "Submitting costs {} credits now and you have {balance}: critique another \
                     member's piece to earn what you lack, then submit.",
                    s.next_submission_cost
                ),
            );
        } else if s.rules.credits {
            let balance = s
                .ledger
                .as_ref()
                .map(|l| l.balance.to_string())
                .unwrap_or_default();
            widgets::hint(
                ui,
                format!(
                    "Submitting costs {} credits now; you have {balance}.",
                    s.next_submission_cost
                ),
            );
        } else {
            widgets::hint(ui, "The group runs without credits: submitting is free.");
        }
        ui.add_space(6.0);
        text_field(ui, "Title", &mut form.title, "The Mill");
        text_field(ui, "Genre", &mut form.genre, "historical fiction");
        if !form.genre.is_empty() {
            let typed = form.genre.to_lowercase();
            let close: Vec<&String> = s
                .genres
                .iter()
                .filter(|g| g.starts_with(&typed) && **g != typed)
                .take(5)
                .collect();
            if !close.is_empty() {
                ui.horizontal(|ui| {
                    ui.add_space(134.0);
                    for g in close {
                        if ui.small_button(g).clicked() {
                            form.genre = g.clone();
                        }
                    }
                });
            }
        }
        ui.horizontal(|ui| {
            let l = widgets::form_label(ui, "Critiques wanted");
            ui.add(egui::DragValue::new(&mut form.wanted).range(1..=20))
                .labelled_by(l.id);
        });
        text_field(ui, "Due date", &mut form.due, "YYYY-MM-DD (optional)");
        text_field(
            ui,
            "Feedback wanted",
            &mut form.feedback,
            "pacing, dialogue, the ending…",
        );
        text_field(
            ui,
            "Content notes",
            &mut form.notes,
            "violence, grief… (optional)",
        );
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            let l = widgets::form_label(ui, "Open a file");
            ui.add(
                egui::TextEdit::singleline(&mut form.path)
                    .hint_text("/path/to/chapter.txt — or drop a file on the window")
                    .desired_width(360.0),
            )
            .labelled_by(l.id);
            if ui
                .add_enabled(!form.path.trim().is_empty(), egui::Button::new("Load file"))
                .clicked()
            {
                out = Some(Command::ReadFile {
                    path: form.path.trim().into(),
                });
            }
        });
        ui.add_space(6.0);
        let words = quire_store::text::word_count(&form.text);
        text_area(ui, "Text", &mut form.text, 16);
        let too_long = s.rules.max_words.is_some_and(|max| words > max);
        let count = match s.rules.max_words {
            Some(max) => format!("{words} words (the group takes up to {max})"),
            None => format!("{words} words"),
        };
        if too_long {
            ui.colored_label(ui.visuals().error_fg_color, count);
        } else {
            widgets::hint(ui, count);
        }
        ui.add_space(8.0);
        let ready = !form.title.trim().is_empty()
            && !form.genre.trim().is_empty()
            && !form.text.trim().is_empty();
        let submit = ui
            .add_enabled(
                ready && short.is_none(),
                egui::Button::new(RichText::new("Submit piece").strong()),
            )
            .on_disabled_hover_text(match short {
                Some(balance) => format!(
                    "Submitting costs {} credits and you have {balance}",
                    s.next_submission_cost
                ),
                None => "A piece needs a title, a genre and its text".to_string(),
            });
        if submit.clicked() {
            match parse_date(&form.due) {
                Ok(due_at) => {
                    out = Some(Command::Act {
                        group: s.id,
                        action: Action::Submit(SubmissionDraft {
                            title: form.title.clone(),
                            genre: form.genre.clone(),
                            text: form.text.clone(),
                            critiques_wanted: Some(form.wanted),
                            due_at,
                            feedback_wanted: form.feedback.clone(),
                            content_notes: form.notes.clone(),
                        }),
                    });
                }
                Err(err) => {
                    ui.colored_label(ui.visuals().error_fg_color, err);
                }
            }
        }
        if parse_date(&form.due).is_err() {
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!("due date `{}` is not YYYY-MM-DD", form.due.trim()),
            );
        }
    });
    out
}

/// My balance, if the group runs on credits and it is less than the next submission costs.
fn short_of_credits(s: &GroupSnapshot) -> Option<quire_store::exchange::Credits> {
    let balance = s.ledger.as_ref()?.balance;
    (s.rules.credits && balance < s.next_submission_cost).then_some(balance)
}

fn parse_date(text: &str) -> Result<Option<jiff::civil::Date>, String> {
    let t = text.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    t.parse::<jiff::civil::Date>()
        .map(Some)
        .map_err(|_| format!("`{t}` is not a date like 2026-12-01"))
}

/// The group's rules; organizers edit them.
pub fn rules_ui(ui: &mut Ui, s: &GroupSnapshot, forms: &mut Forms, actions: &mut Vec<Action>) {
    ui.heading("Group rules");
    if !s.description.is_empty() {
        ui.label(&s.description);
    }
    if let Some((at, by)) = &s.rules_changed {
        widgets::hint(ui, format!("last changed {} by {by}", widgets::when(*at)));
    }
    ui.add_space(8.0);
    let values: BTreeMap<String, String> = s
        .rules
        .values()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let editing = forms.rules.is_some();
    // Every field of the form checked as the rules would take it, all at once.
    let problems: BTreeMap<&str, String> = forms
        .rules
        .as_ref()
        .map(|form| {
            let mut rules = s.rules;
            KEYS.iter()
                .filter_map(|(key, wanted)| {
                    let value = form.get(*key)?;
                    rules
                        .set(key, value)
                        .err()
                        .map(|_| (*key, format!("{} takes {wanted}", rule_label(key))))
                })
                .collect()
        })
        .unwrap_or_default();
    egui::Grid::new("rules")
        .num_columns(3)
        .spacing([16.0, 8.0])
        .striped(true)
        .show(ui, |ui| {
            for (key, wanted) in KEYS {
                let l = ui.label(rule_label(key));
                match forms.rules.as_mut() {
                    Some(form) => {
                        let value = form.entry(key.to_string()).or_default();
                        if key == "credits" {
                            // On or off: a box to tick, not a word to spell.
                            let mut on = value.trim().eq_ignore_ascii_case("on");
                            let text = "members earn and spend credits";
                            if ui.checkbox(&mut on, text).labelled_by(l.id).changed() {
                                *value = if on { "on" } else { "off" }.to_string();
                            }
                        } else {
                            ui.add(egui::TextEdit::singleline(value).desired_width(120.0))
                                .labelled_by(l.id);
                        }
                    }
                    None => {
                        ui.strong(values.get(key).cloned().unwrap_or_default());
                    }
                }
                match problems.get(key) {
                    Some(problem) => {
                        ui.colored_label(ui.visuals().error_fg_color, problem);
                    }
                    None => {
                        ui.weak(wanted);
                    }
                }
                ui.end_row();
            }
        });
    ui.add_space(8.0);
    if !s.organizer {
        widgets::hint(ui, "Only organizers change the rules.");
        return;
    }
    ui.horizontal(|ui| {
        if editing {
            let save = ui
                .add_enabled(problems.is_empty(), egui::Button::new("Save rules"))
                .on_disabled_hover_text("Some rules above cannot take what is written");
            if save.clicked()
                && let Some(form) = &forms.rules
            {
                let changed: Vec<(String, String)> = form
                    .iter()
                    .filter(|(k, v)| values.get(*k) != Some(v))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if changed.is_empty() {
                    forms.rules = None;
                } else {
                    actions.push(Action::Rules(changed));
                }
            }
            if ui.button("Cancel").clicked() {
                forms.rules = None;
            }
        } else if ui.button("Edit rules").clicked() {
            forms.rules = Some(values.clone());
        }
    });
}

/// A rule's name in words, as the rules page shows it.
fn rule_label(key: &str) -> &'static str {
    match key {
        "critiques_wanted" => "Critiques a piece wants",
        "claim_period_days" => "Days to write a claimed critique",
        "max_words" => "Longest piece, in words",
        "credits" => "Credits",
        "starting_credits" => "Credits a new member starts with",
        "submission_cost" => "Cost of a submission",
        "extra_open_cost" => "Extra cost per piece already open",
        "tip" => "A tip",
        _ => "This rule",
    }
}

/// My profile editor.
pub fn profile_ui(ui: &mut Ui, s: &GroupSnapshot, forms: &mut Forms, actions: &mut Vec<Action>) {
    let Some(me) = &s.my_member else {
        ui.heading("Profile");
        widgets::hint(ui, "This device is not a member of this group.");
        return;
    };
    let p = &me.profile;
    let form = forms.profile.get_or_insert_with(|| ProfileForm {
        name: p.display_name.clone(),
        pen_name: p.pen_name.clone().unwrap_or_default(),
        bio: p.bio.clone(),
        genres: p.genres.iter().cloned().collect::<Vec<_>>().join(", "),
        roles: p.roles.clone(),
        links: p
            .links
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("\n"),
        capacity: p
            .capacity_per_month
            .map(|c| c.to_string())
            .unwrap_or_default(),
        hiatus: p.hiatus_until.map(|d| d.to_string()).unwrap_or_default(),
        errors: Vec::new(),
    });
    let mut save = false;
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.horizontal(|ui| {
            ui.heading("Your profile");
            if ui.link("see it as others do").clicked() {
                forms.open = Some(View::Member(me.id.to_string()));
            }
        });
        ui.add_space(6.0);
        text_field(ui, "Display name", &mut form.name, "");
        text_field(ui, "Pen name", &mut form.pen_name, "optional");
        text_field(
            ui,
            "Genres",
            &mut form.genres,
            "comma separated: fantasy, ya",
        );
        ui.horizontal(|ui| {
            widgets::form_label(ui, "Roles");
            for role in Role::KNOWN {
                let mut on = form.roles.contains(&role);
                if ui.checkbox(&mut on, role.to_string()).changed() {
                    if on {
                        form.roles.insert(role);
                    } else {
                        form.roles.remove(&role);
                    }
                }
            }
        });
        text_field(ui, "Critiques a month", &mut form.capacity, "e.g. 4");
        text_field(
            ui,
            "On hiatus until",
            &mut form.hiatus,
            "YYYY-MM-DD, empty when available",
        );
        text_area(ui, "Links (label=url, one a line)", &mut form.links, 3);
        text_area(ui, "Bio", &mut form.bio, 4);
        ui.add_space(8.0);
        save = ui.button(RichText::new("Save profile").strong()).clicked();
        for err in &form.errors {
            ui.colored_label(ui.visuals().error_fg_color, err);
        }
    });
    if save {
        match patch_of(form, &me.profile) {
            Ok(patch) if patch.is_empty() => forms.profile = None,
            Ok(patch) => actions.push(Action::Profile(patch)),
            Err(errors) => form.errors = errors,
        }
    }
}

/// The fields of `form` that differ from `was`, so saving an unchanged field writes nothing;
/// or every field that cannot be saved as written, each in a line.
fn patch_of(
    form: &ProfileForm,
    was: &quire_store::model::Profile,
) -> Result<ProfilePatch, Vec<String>> {
    let list = |s: &str| -> BTreeSet<String> {
        s.split(',')
            .map(|g| g.trim().to_lowercase())
            .filter(|g| !g.is_empty())
            .collect()
    };
    let mut problems = Vec::new();
    if form.name.trim().is_empty() {
        problems.push("Display name cannot be empty".to_string());
    }
    let mut links = BTreeMap::new();
    for line in form.links.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match line.split_once('=') {
            Some((label, url)) => {
                links.insert(label.trim().to_string(), url.trim().to_string());
            }
            None => problems.push(format!("Link `{line}` is not label=url")),
        }
    }
    let max = quire_store::ops::MAX_CAPACITY;
    let capacity = match form.capacity.trim() {
        "" => None,
        c => match c.parse::<u32>() {
            Ok(n) if n <= max => Some(n),
            Ok(_) => {
                problems.push(format!("Critiques a month `{c}` is more than {max}"));
                None
            }
            Err(_) => {
                problems.push(format!("Critiques a month `{c}` is not a whole number"));
                None
            }
        },
    };
    let hiatus = parse_date(&form.hiatus).unwrap_or_else(|e| {
        problems.push(format!("On hiatus until: {e}"));
        None
    });
    if !problems.is_empty() {
        return Err(problems);
    }
    let pen = form.pen_name.trim();
    fn changed<T: PartialEq>(new: T, old: &T) -> Option<T> {
        (new != *old).then_some(new)
    }
    Ok(ProfilePatch {
        display_name: changed(form.name.trim().to_string(), &was.display_name),
        pen_name: changed((!pen.is_empty()).then(|| pen.to_string()), &was.pen_name),
        bio: changed(form.bio.clone(), &was.bio),
        genres: changed(list(&form.genres), &was.genres),
        roles: changed(form.roles.clone(), &was.roles),
        links: changed(links, &was.links),
        capacity_per_month: changed(capacity, &was.capacity_per_month),
        hiatus_until: changed(hiatus, &was.hiatus_until),
    })
}
