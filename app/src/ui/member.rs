//! A member's page: profile, record, and what passed between them and me.

use egui::{RichText, Ui};

use super::state::View;
use super::widgets::{self, section, tag};
use crate::backend::{GroupSnapshot, MemberDetail};

/// Draws the page; returns a view to open (`View::Queue` means "back").
pub fn ui(ui: &mut Ui, d: &MemberDetail, s: &GroupSnapshot) -> Option<View> {
    let mut open = None;
    let m = &d.member;
    let p = &m.profile;
    let today = jiff::Zoned::now().date();
    egui::ScrollArea::vertical()
        .id_salt(("member", m.id))
        .show(ui, |ui| {
            ui.set_max_width(760.0);
            if ui.button("Back").on_hover_text("Alt+Left").clicked() {
                open = Some(View::Queue);
            }
            ui.horizontal(|ui| {
                ui.label(RichText::new(&p.display_name).size(24.0).strong());
                if let Some(pen) = &p.pen_name {
                    ui.weak(format!("writes as {pen}"));
                }
                if m.organizer {
                    tag(ui, "organizer");
                }
                if !m.is_current() {
                    tag(ui, "removed");
                }
            });
            if let Some(until) = p.hiatus_until.filter(|_| m.on_hiatus(today)) {
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    format!("On hiatus until {until}"),
                );
            }
            if !p.bio.is_empty() {
                ui.add_space(4.0);
                ui.label(&p.bio);
            }
            if d.is_me && ui.button("Edit your profile").clicked() {
                open = Some(View::Profile);
            }
            section(ui, "Genres and roles");
            ui.horizontal_wrapped(|ui| {
                for g in &p.genres {
                    tag(ui, g);
                }
                for r in &p.roles {
                    tag(ui, &r.to_string());
                }
                if p.genres.is_empty() && p.roles.is_empty() {
                    ui.weak("none given");
                }
            });
            egui::Grid::new("member-facts")
                .num_columns(2)
                .spacing([16.0, 4.0])
                .show(ui, |ui| {
                    ui.weak("Capacity");
                    ui.label(p.capacity_per_month.map_or_else(
                        || "not given".to_string(),
                        |c| format!("{c} critiques a month"),
                    ));
                    ui.end_row();
                    ui.weak("Joined");
                    ui.label(widgets::day(m.joined_at));
                    ui.end_row();
                    for (label, url) in &p.links {
                        ui.weak(label);
                        ui.hyperlink(url);
                        ui.end_row();
                    }
                });
            section(ui, "Reliability");
            let r = &d.reliability;
            ui.label(
                r.summary()
                    .unwrap_or_else(|| "No claims settled yet".to_string()),
            );
            ui.label(format!(
                "{} critiques given, {} received · {}",
                r.critiques_given,
                r.critiques_received,
                r.average_rating().map_or_else(
                    || "no ratings yet".to_string(),
                    |a| format!("rated {a} on average")
                ),
            ));
            if r.lapsed > 0 || r.open > 0 {
                ui.weak(format!("{} claims lapsed, {} open now", r.lapsed, r.open));
            }
            if !d.is_me {
                section(ui, "Between you");
                if d.interactions.is_empty() {
                    ui.weak("You have not critiqued each other yet.");
                }
                for i in &d.interactions {
                    ui.horizontal_wrapped(|ui| {
                        ui.weak(widgets::day(i.at));
                        let who = d.names.get(&i.reviewer).map_or("someone", String::as_str);
                        let whom = d.names.get(&i.author).map_or("someone", String::as_str);
                        ui.label(format!("{who} critiqued {whom}'s"));
                        if widgets::link(ui, &i.title).clicked() {
                            open = Some(View::Submission(i.submission.to_string()));
                        }
                        ui.weak(format!("({} words)", i.words));
                        if let Some(rating) = i.rating {
                            ui.label(format!("rated {rating}/5"));
                        }
                    });
                }
            }
            let theirs: Vec<_> = s
                .queue
                .iter()
                .filter(|q| q.entry.author == m.id)
                .take(50)
                .collect();
            if !theirs.is_empty() {
                section(ui, "Their pieces");
                for q in theirs {
                    ui.horizontal(|ui| {
                        if widgets::link(ui, &q.entry.title).clicked() {
                            open = Some(View::Submission(q.entry.id.to_string()));
                        }
                        ui.weak(format!("{} · {}", q.entry.genre, q.status_text));
                    });
                }
            }
        });
    open
}
