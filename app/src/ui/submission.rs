//! A submission: its text in a readable column, and beside it the claim line, the critique
//! editor (with a live word count and the credit it will earn) and the critiques, which the
//! author rates, thanks and tips.

use egui::{RichText, Ui};
use quire_store::exchange::credits::critique_earning;
use quire_store::views::{LinePosition, Status};

use super::Draft;
use super::state::View;
use super::widgets::{self, named_button, section};
use crate::backend::{Action, SubmissionDetail};

/// Widest the reading column grows, in points.
const READING_WIDTH: f32 = 660.0;

/// Draws the page; returns a view to open (`View::Queue` means "back").
pub fn ui(
    ui: &mut Ui,
    d: &SubmissionDetail,
    draft: &mut Draft,
    now: f64,
    actions: &mut Vec<Action>,
) -> Option<View> {
    let mut open = None;
    egui::Panel::right("submission-side")
        .resizable(true)
        .default_size(400.0)
        .size_range(300.0..=640.0)
        .show(ui, |ui| {
            // Each piece keeps its own scroll positions: another piece opens at its top.
            egui::ScrollArea::vertical()
                .id_salt(("side", d.sub.id))
                .show(ui, |ui| side_ui(ui, d, draft, now, actions, &mut open));
        });
    egui::CentralPanel::default().show(ui, |ui| {
        egui::ScrollArea::vertical()
            .id_salt(("reading", d.sub.id))
            .show(ui, |ui| {
                let width = ui.available_width().min(READING_WIDTH);
                let margin = ((ui.available_width() - width) / 2.0).max(0.0);
                ui.horizontal(|ui| {
                    ui.add_space(margin);
                    ui.vertical(|ui| {
                        ui.set_width(width);
                        reading_ui(ui, d, &mut open);
                    });
                });
            });
    });
    open
}

fn reading_ui(ui: &mut Ui, d: &SubmissionDetail, open: &mut Option<View>) {
    let s = &d.sub;
    if ui.button("Back").on_hover_text("Alt+Left").clicked() {
        *open = Some(View::Queue);
    }
    ui.add_space(6.0);
    ui.label(RichText::new(&s.title).size(26.0).strong());
    ui.horizontal_wrapped(|ui| {
        ui.label("by");
        if widgets::link(ui, d.name(s.author)).clicked() {
            *open = Some(View::Member(s.author.to_string()));
        }
        ui.weak("·");
        widgets::tag(ui, &s.genre);
        ui.weak(format!(
            "· {} words · submitted {}",
            s.word_count,
            widgets::day(s.submitted_at)
        ));
        if let Some(due) = s.due_at {
            ui.weak(format!("· due {due}"));
        }
    });
    ui.add_space(8.0);
    if !s.feedback_wanted.is_empty() {
        egui::Frame::group(ui.style())
            .inner_margin(8.0)
            .show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.label(RichText::new("Feedback wanted").strong());
                ui.label(&s.feedback_wanted);
            });
    }
    if !s.content_notes.is_empty() {
        ui.add_space(4.0);
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!("Content notes: {}", s.content_notes),
        );
    }
    ui.add_space(12.0);
    ui.spacing_mut().item_spacing.y = 10.0;
    for paragraph in s.text.split("\n\n") {
        ui.label(
            RichText::new(paragraph.trim())
                .size(16.0)
                .line_height(Some(26.0)),
        );
    }
    ui.add_space(40.0);
}

fn side_ui(
    ui: &mut Ui,
    d: &SubmissionDetail,
    draft: &mut Draft,
    now: f64,
    actions: &mut Vec<Action>,
    open: &mut Option<View>,
) {
    let s = &d.sub;
    let status = match d.status {
        Status::Open => "Open: no one has claimed it yet".to_string(),
        Status::Claimed { taken, wanted } => format!("{taken} of {wanted} slots taken"),
        Status::Critiqued => "Has all the critiques it wanted".to_string(),
        Status::Withdrawn => "Withdrawn by its author".to_string(),
    };
    ui.label(
        RichText::new(status)
            .color(widgets::status_color(ui, &d.status))
            .strong(),
    );
    let line = &d.line;
    let names = |ms: &mut dyn Iterator<Item = quire_store::MemberId>| {
        ms.map(|m| d.name(m).to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !line.delivered.is_empty() {
        ui.label(format!(
            "Critiqued by {}",
            names(&mut line.delivered.iter().copied())
        ));
    }
    if !line.holders.is_empty() {
        ui.label(format!(
            "Claimed by {}",
            names(&mut line.holders.iter().map(|(m, _)| *m))
        ));
    }
    if !line.waiting.is_empty() {
        ui.label(format!(
            "Waiting: {}",
            names(&mut line.waiting.iter().map(|(m, _)| *m))
        ));
    }
    ui.add_space(6.0);
    let live = matches!(d.status, Status::Open | Status::Claimed { .. });
    let critiqued = d.me.is_some_and(|me| s.critique_by(me).is_some());
    ui.horizontal(|ui| {
        if d.mine {
            if s.withdrawn_at.is_none()
                && named_button(ui, "Withdraw", format!("Withdraw {}", s.title), true).clicked()
            {
                actions.push(Action::Withdraw(s.id));
            }
        } else if d.my_position.is_some() {
            if named_button(ui, "Unclaim", format!("Unclaim {}", s.title), true).clicked() {
                actions.push(Action::Unclaim(s.id));
            }
        } else if d.me.is_some()
            && live
            && !critiqued
            && named_button(ui, "Claim", format!("Claim {}", s.title), true)
                .on_hover_text("Promise to critique this piece within the claim period")
                .clicked()
        {
            actions.push(Action::Claim(s.id));
        }
    });
    match d.my_position {
        Some(LinePosition::Holder) => {
            if let Some((_, claim)) = line.holders.iter().find(|(m, _)| Some(*m) == d.me) {
                widgets::hint(
                    ui,
                    format!("Your claim holds until {}", widgets::when(claim.expires_at)),
                );
            }
            editor_ui(ui, d, draft, now, actions);
        }
        Some(LinePosition::Waiting(n)) => {
            widgets::hint(
                ui,
                format!("You are number {n} in line; you can write once a slot frees up."),
            );
            if !draft.body.is_empty() {
                editor_ui(ui, d, draft, now, &mut Vec::new());
            }
        }
        None => {}
    }
    section(ui, &format!("Critiques ({})", s.critiques.len()));
    if s.critiques.is_empty() {
        ui.weak("None yet.");
    }
    let mut critiques: Vec<_> = s.critiques.values().collect();
    critiques.sort_by_key(|c| (c.delivered_at, c.id));
    for c in critiques {
        let reviewer = d.name(c.reviewer).to_string();
        egui::Frame::group(ui.style())
            .inner_margin(8.0)
            .show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.horizontal_wrapped(|ui| {
                    if widgets::link(ui, &reviewer).clicked() {
                        *open = Some(View::Member(c.reviewer.to_string()));
                    }
                    ui.weak(format!(
                        "{} · {} words",
                        widgets::day(c.delivered_at),
                        c.word_count
                    ));
                    if let Some(r) = c.rating {
                        ui.label(format!("rated {r}/5"));
                    }
                    if c.thanked_at.is_some() {
                        ui.weak("thanked");
                    }
                    if c.tipped_at.is_some() {
                        ui.weak("tipped");
                    }
                });
                egui::CollapsingHeader::new(format!("Read {reviewer}'s critique"))
                    .id_salt(c.id.to_string())
                    .default_open(d.mine || Some(c.reviewer) == d.me)
                    .show(ui, |ui| {
                        ui.label(RichText::new(&c.body).line_height(Some(22.0)));
                    });
                if d.mine {
                    ui.horizontal(|ui| {
                        ui.label("Rate");
                        for n in 1..=5u8 {
                            let chosen = c.rating == Some(n);
                            let button = ui.add(egui::Button::selectable(chosen, n.to_string()));
                            let name = format!("Rate {reviewer} {n} of 5");
                            button.widget_info(|| {
                                egui::WidgetInfo::labeled(egui::Role::Button, true, name.clone())
                            });
                            if button
                                .on_hover_text(format!("{n} of 5: 1 not useful, 5 invaluable"))
                                .clicked()
                            {
                                actions.push(Action::Rate {
                                    submission: s.id,
                                    critique: c.id,
                                    rating: n,
                                });
                            }
                        }
                        if c.thanked_at.is_none()
                            && named_button(ui, "Thank", format!("Thank {reviewer}"), true)
                                .clicked()
                        {
                            actions.push(Action::Thank {
                                submission: s.id,
                                critique: c.id,
                            });
                        }
                        if d.credits
                            && c.tipped_at.is_none()
                            && named_button(ui, "Tip", format!("Tip {reviewer}"), true)
                                .on_hover_text(format!("Give {reviewer} {} of your credits", d.tip))
                                .clicked()
                        {
                            actions.push(Action::Tip {
                                submission: s.id,
                                critique: c.id,
                            });
                        }
                    });
                }
            });
    }
}

fn editor_ui(
    ui: &mut Ui,
    d: &SubmissionDetail,
    draft: &mut Draft,
    now: f64,
    actions: &mut Vec<Action>,
) {
    section(ui, "Your critique");
    let l = ui.label(format!("Your critique of {}", d.sub.title));
    let edit = ui
        .add(
            egui::TextEdit::multiline(&mut draft.body)
                .desired_rows(14)
                .desired_width(f32::INFINITY)
                .hint_text(
                    "What works, what does not, and why. Answer the feedback the author asked for.",
                ),
        )
        .labelled_by(l.id);
    if edit.changed() {
        draft.edited_at = now;
    }
    let words = quire_store::text::word_count(&draft.body);
    let earns = critique_earning(words);
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(format!("{words} words")).strong());
        if d.credits {
            ui.label(format!("· earns {earns} credits"));
            let next = match words {
                0..150 => Some(150),
                150..300 => Some(300),
                300..600 => Some(600),
                600..900 => Some(900),
                _ => None,
            };
            if let Some(next) = next {
                ui.weak(format!(
                    "({} more words for the next half credit)",
                    next - words
                ));
            } else {
                ui.weak("(the most a critique earns)");
            }
        }
    });
    ui.horizontal(|ui| {
        let saved = if draft.body.is_empty() {
            ""
        } else if draft.body == draft.saved {
            "draft saved on this device"
        } else {
            "saving draft…"
        };
        ui.weak(saved);
    });
    let ready = !draft.body.trim().is_empty();
    if ui
        .add_enabled(
            ready,
            egui::Button::new(RichText::new("Deliver critique").strong()),
        )
        .clicked()
    {
        actions.push(Action::Critique {
            submission: d.sub.id,
            body: draft.body.clone(),
        });
    }
}
