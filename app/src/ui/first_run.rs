//! The first run (and "New group…"): start a group, or join one with an invite ticket.

use egui::{RichText, Ui};

use super::state::View;
use super::widgets::{self, text_field};
use crate::backend::Command;

/// The two forms of the first-run page.
#[derive(Debug, Default)]
pub struct FirstRun {
    group_name: String,
    description: String,
    my_name: String,
    ticket: String,
    join_name: String,
}

impl FirstRun {
    /// Draws the page; returns the command to send when a button is pressed. With `cancel`, a
    /// Cancel button returns to the queue.
    pub fn ui(&mut self, ui: &mut Ui, cancel: bool, view: &mut View) -> Option<Command> {
        let mut out = None;
        egui::ScrollArea::vertical().show(ui, |ui| {
            ui.add_space(24.0);
            ui.vertical_centered(|ui| {
                ui.label(RichText::new("Welcome to Quire").size(28.0).strong());
                widgets::hint(
                    ui,
                    "A home for your writing group that lives on your own devices: the roster, \
                     the critique queue and every critique, with no server and no subscription.",
                );
            });
            ui.add_space(20.0);
            ui.columns(2, |cols| {
                egui::Frame::group(cols[0].style())
                    .inner_margin(14.0)
                    .show(&mut cols[0], |ui| {
                        ui.label(RichText::new("Start a group").size(18.0).strong());
                        widgets::hint(ui, "You become its organizer and first member.");
                        ui.add_space(6.0);
                        text_field(ui, "Group name", &mut self.group_name, "Tuesday Writers");
                        text_field(
                            ui,
                            "Your name",
                            &mut self.my_name,
                            "how the group knows you",
                        );
                        text_field(ui, "Description", &mut self.description, "optional");
                        ui.add_space(6.0);
                        let ready =
                            !self.group_name.trim().is_empty() && !self.my_name.trim().is_empty();
                        if ui
                            .add_enabled(
                                ready,
                                egui::Button::new(RichText::new("Create group").strong()),
                            )
                            .on_disabled_hover_text("Give the group a name, and yourself one")
                            .clicked()
                        {
                            out = Some(Command::CreateGroup {
                                name: self.group_name.trim().to_string(),
                                description: self.description.trim().to_string(),
                                me: self.my_name.trim().to_string(),
                            });
                        }
                    });
                egui::Frame::group(cols[1].style())
                    .inner_margin(14.0)
                    .show(&mut cols[1], |ui| {
                        ui.label(RichText::new("Join a group").size(18.0).strong());
                        widgets::hint(ui, "Paste the invite ticket a member sent you.");
                        ui.add_space(6.0);
                        text_field(ui, "Invite ticket", &mut self.ticket, "quire1…");
                        text_field(
                            ui,
                            "Name to join as",
                            &mut self.join_name,
                            "how the group knows you",
                        );
                        ui.add_space(6.0);
                        let ready =
                            !self.ticket.trim().is_empty() && !self.join_name.trim().is_empty();
                        if ui
                            .add_enabled(
                                ready,
                                egui::Button::new(RichText::new("Join group").strong()),
                            )
                            .clicked()
                        {
                            out = Some(Command::Join {
                                ticket: self.ticket.trim().to_string(),
                                display_name: self.join_name.trim().to_string(),
                            });
                        }
                    });
            });
            if cancel {
                ui.add_space(12.0);
                if ui.button("Cancel").clicked() {
                    *view = View::Queue;
                }
            }
        });
        out
    }
}
