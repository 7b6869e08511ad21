//! The first run (and "New group…"): start a group, or join one with an invite ticket.

use egui::{RichText, Ui};
use quire_sync::{Ticket, TicketKind};

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
    /// The ticket as last read: the text and what it reads as.
    parsed: Option<(String, Result<Ticket, String>)>,
    join_name: String,
    /// A join was asked for and has not come back.
    joining: bool,
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
                        widgets::hint(
                            ui,
                            "Paste the invite ticket a member sent you, or one you made on \
                             another device of yours; or drop a picture of its QR code here.",
                        );
                        ui.add_space(6.0);
                        if let Some(command) = self.join_ui(ui) {
                            out = Some(command);
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

    /// A ticket read from a picture of its QR code.
    pub fn ticket_read(&mut self, ticket: String) {
        self.ticket = ticket;
    }

    /// Something failed (the status bar says what): the join is over.
    pub fn failed(&mut self) {
        self.joining = false;
    }

    /// What the pasted ticket reads as, read again only when the text changes.
    fn ticket(&mut self) -> Option<&Result<Ticket, String>> {
        let text = self.ticket.trim();
        if text.is_empty() {
            return None;
        }
        if self.parsed.as_ref().is_none_or(|(t, _)| t != text) {
            let read = text.parse::<Ticket>().map_err(|err| err.to_string());
            self.parsed = Some((text.to_string(), read));
        }
        self.parsed.as_ref().map(|(_, read)| read)
    }

    /// The join form: the ticket, then a name only if the ticket admits a new member (a
    /// device ticket joins as the member who made it).
    fn join_ui(&mut self, ui: &mut Ui) -> Option<Command> {
        text_field(ui, "Invite ticket", &mut self.ticket, "quire1…");
        let kind = match self.ticket() {
            None => None,
            Some(Err(err)) => {
                let color = ui.visuals().error_fg_color;
                ui.label(RichText::new(err.as_str()).color(color));
                None
            }
            Some(Ok(ticket)) => {
                if ticket.is_expired(jiff::Timestamp::now()) {
                    let color = ui.visuals().warn_fg_color;
                    let when = widgets::when(ticket.expires_at);
                    ui.label(
                        RichText::new(format!("This ticket expired {when}; ask for a new one."))
                            .color(color),
                    );
                }
                Some(ticket.kind)
            }
        };
        match kind {
            Some(TicketKind::Member) => {
                widgets::hint(ui, "This ticket invites you as a new member.");
                text_field(
                    ui,
                    "Name to join as",
                    &mut self.join_name,
                    "how the group knows you",
                );
            }
            Some(TicketKind::Device) => widgets::hint(
                ui,
                "This ticket links this device to your membership: you join as yourself, \
                 with your name and history.",
            ),
            None => {}
        }
        ui.add_space(6.0);
        let ready = match kind {
            Some(TicketKind::Member) => !self.join_name.trim().is_empty(),
            Some(TicketKind::Device) => true,
            None => false,
        };
        let mut out = None;
        ui.horizontal(|ui| {
            let face = match kind {
                Some(TicketKind::Device) => "Link this device",
                _ => "Join group",
            };
            let button = egui::Button::new(RichText::new(face).strong());
            if ui
                .add_enabled(ready && !self.joining, button)
                .on_disabled_hover_text("Paste a ticket (and give your name if it asks)")
                .clicked()
            {
                self.joining = true;
                out = Some(Command::Join {
                    ticket: self.ticket.trim().to_string(),
                    display_name: (kind == Some(TicketKind::Member))
                        .then(|| self.join_name.trim().to_string()),
                });
            }
            if self.joining {
                ui.spinner();
                ui.label("Reaching the member who invited you…");
            }
        });
        out
    }
}
