//! The invite dialog: makes a ticket for a new member, or for another device of mine, and
//! shows it as text to copy and as a QR code to scan, with when it expires and how many may
//! use it.

use egui::{RichText, Ui};
use jiff::{SignedDuration, Timestamp};
use quire_store::GroupId;
use quire_sync::{InviteOptions, TicketKind};

use super::qr::QrCode;
use super::widgets::{self, form_label};
use crate::backend::{Command, GroupSnapshot, Invitation, SyncStatus, sync::SYNC_MISSING};

/// How long a ticket may work, as offered.
const VALIDITY_DAYS: [u32; 3] = [1, 7, 30];
/// The most uses offered for one ticket.
const MAX_USES: u32 = 50;
/// How wide the QR code is drawn, at most, in points.
const QR_POINTS: f32 = 260.0;

/// The dialog's state; closed by default.
#[derive(Debug)]
pub struct InviteDialog {
    /// The group it invites to, while open.
    group: Option<GroupId>,
    kind: TicketKind,
    valid_days: u32,
    max_uses: u32,
    /// A ticket was asked for and has not come.
    waiting: bool,
    invitation: Option<Invitation>,
    qr: Option<Result<QrCode, String>>,
    /// When (the UI's clock, in seconds) the ticket was last copied.
    copied_at: Option<f64>,
}

/// How long "Copied" shows after Copy is clicked, in seconds.
const COPIED_SHOWN: f64 = 3.0;

impl Default for InviteDialog {
    fn default() -> Self {
        InviteDialog {
            group: None,
            kind: TicketKind::Member,
            valid_days: 7,
            max_uses: 1,
            waiting: false,
            invitation: None,
            qr: None,
            copied_at: None,
        }
    }
}

impl InviteDialog {
    /// Opens the dialog on a fresh form for `kind` of ticket to `group`.
    pub fn open(&mut self, group: GroupId, kind: TicketKind) {
        *self = InviteDialog {
            group: Some(group),
            kind,
            valid_days: match kind {
                TicketKind::Member => 7,
                TicketKind::Device => 1,
            },
            ..Default::default()
        };
    }

    /// Asks for a ticket to `group` as the form says.
    pub fn make(&mut self, group: GroupId) -> Command {
        self.waiting = true;
        Command::Invite {
            group,
            options: InviteOptions {
                kind: self.kind,
                valid_for: SignedDuration::from_hours(i64::from(self.valid_days) * 24),
                max_uses: self.max_uses,
            },
        }
    }

    /// The invitation on screen, if any.
    pub fn invitation(&self) -> Option<&Invitation> {
        self.invitation.as_ref()
    }

    /// Shows the invitation the backend made.
    pub fn made(&mut self, invitation: Invitation) {
        self.waiting = false;
        self.group = Some(invitation.group);
        self.kind = invitation.kind;
        self.invitation = Some(invitation);
        self.qr = None;
    }

    /// Something failed (the status bar says what): stop waiting for a ticket.
    pub fn failed(&mut self) {
        self.waiting = false;
    }

    /// Draws the dialog if it is open for the group on screen; returns a command to send.
    pub fn ui(
        &mut self,
        ctx: &egui::Context,
        snapshot: &GroupSnapshot,
        sync: &SyncStatus,
    ) -> Option<Command> {
        if self.group != Some(snapshot.id) {
            return None;
        }
        let title = match self.kind {
            TicketKind::Member => "Invite someone",
            TicketKind::Device => "Link another device of mine",
        };
        let mut open = true;
        let mut out = None;
        egui::Window::new(title)
            .id(egui::Id::unique("invite"))
            .pivot(egui::Align2::CENTER_CENTER)
            .default_pos(ctx.content_rect().center())
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .default_width(440.0)
            .show(ctx, |ui| {
                if self.invitation.is_some() {
                    self.ticket_ui(ui, snapshot);
                } else {
                    out = self.form_ui(ui, snapshot, sync);
                }
            });
        if !open {
            *self = InviteDialog::default();
        }
        out
    }

    /// What the ticket will be: how long it works and how many may use it.
    fn form_ui(
        &mut self,
        ui: &mut Ui,
        snapshot: &GroupSnapshot,
        sync: &SyncStatus,
    ) -> Option<Command> {
        match self.kind {
            TicketKind::Member => widgets::hint(
                ui,
                format!(
                    "Make a ticket that lets someone join {} as a new member. Send it to \
                     them however you like; they paste it into Quire or scan its QR code.",
                    snapshot.name
                ),
            ),
            TicketKind::Device => widgets::hint(
                ui,
                "Make a ticket that adds another device of yours (a laptop, a tablet) to \
                 your membership. It joins as you: no new member, no name to give.",
            ),
        }
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            let l = form_label(ui, "Works for");
            let days = |d: u32| {
                if d == 1 {
                    "1 day".into()
                } else {
                    format!("{d} days")
                }
            };
            egui::ComboBox::from_id_salt("invite-valid")
                .selected_text(days(self.valid_days))
                .show_ui(ui, |ui| {
                    for d in VALIDITY_DAYS {
                        ui.selectable_value(&mut self.valid_days, d, days(d));
                    }
                })
                .response
                .labelled_by(l.id);
        });
        ui.horizontal(|ui| {
            let l = form_label(
                ui,
                match self.kind {
                    TicketKind::Member => "People it admits",
                    TicketKind::Device => "Devices it links",
                },
            );
            ui.add(egui::DragValue::new(&mut self.max_uses).range(1..=MAX_USES))
                .labelled_by(l.id);
        });
        ui.add_space(8.0);
        let online = sync.is_online();
        if !online {
            ui.label(RichText::new(SYNC_MISSING).color(ui.visuals().warn_fg_color));
        }
        let mut out = None;
        ui.horizontal(|ui| {
            let face = match self.kind {
                TicketKind::Member => "Make invite ticket",
                TicketKind::Device => "Make device ticket",
            };
            let button = egui::Button::new(RichText::new(face).strong());
            if ui.add_enabled(online && !self.waiting, button).clicked() {
                out = Some(self.make(snapshot.id));
            }
            if self.waiting {
                ui.spinner();
            }
        });
        out
    }

    /// The ticket: QR code, text, Copy, expiry and uses.
    fn ticket_ui(&mut self, ui: &mut Ui, snapshot: &GroupSnapshot) {
        let Some(invitation) = self.invitation.clone() else {
            return;
        };
        let qr = self
            .qr
            .get_or_insert_with(|| QrCode::new(ui.ctx(), &invitation.ticket));
        let who = match invitation.kind {
            TicketKind::Member => format!(
                "Send this ticket to the person you invite to {}. They open Quire, choose \
                 Join a group, and paste it or scan the code.",
                snapshot.name
            ),
            TicketKind::Device => "On your other device, open Quire, choose Join a group, and \
                                   paste this ticket or scan the code. No name is asked: it \
                                   joins as you."
                .to_string(),
        };
        widgets::hint(ui, who);
        ui.add_space(8.0);
        ui.vertical_centered(|ui| match qr {
            Ok(code) => {
                code.ui(ui, QR_POINTS, "QR code of the ticket");
            }
            Err(why) => {
                ui.label(format!("{why}; copy the text instead"));
            }
        });
        ui.add_space(8.0);
        let l = ui.label("Ticket to send");
        let mut text = invitation.ticket.clone();
        ui.add(
            egui::TextEdit::multiline(&mut text)
                .font(egui::TextStyle::Monospace)
                .desired_rows(3)
                .desired_width(f32::INFINITY),
        )
        .labelled_by(l.id);
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            let now = ui.input(|i| i.time);
            if ui.button(RichText::new("Copy ticket").strong()).clicked() {
                ui.ctx().copy_text(invitation.ticket.clone());
                self.copied_at = Some(now);
            }
            if let Some(at) = self.copied_at {
                let left = COPIED_SHOWN - (now - at);
                if left > 0.0 {
                    let color = widgets::ok_color(ui);
                    ui.label(RichText::new("Copied to the clipboard").color(color));
                    ui.ctx()
                        .request_repaint_after(std::time::Duration::from_secs_f64(left));
                } else {
                    self.copied_at = None;
                }
            }
            if ui.button("Make another").clicked() {
                self.invitation = None;
                self.qr = None;
                self.copied_at = None;
            }
        });
        ui.add_space(6.0);
        let now = Timestamp::now();
        ui.label(format!(
            "Expires {} ({}).",
            widgets::when(invitation.expires_at),
            until(invitation.expires_at, now)
        ));
        ui.label(uses(invitation.kind, invitation.max_uses));
        // The ticket at work: who joined with it, as soon as the group knows.
        for who in snapshot
            .invite_uses
            .get(&invitation.hash)
            .into_iter()
            .flatten()
        {
            let joined = match invitation.kind {
                TicketKind::Member => format!("✔ {who} joined with it"),
                TicketKind::Device => format!("✔ {who} is linked with it"),
            };
            ui.label(RichText::new(joined).color(widgets::ok_color(ui)));
        }
    }
}

/// How long until `at`, in words: "in 7 days", "in 5 h", "in 12 min", "expired".
fn until(at: Timestamp, now: Timestamp) -> String {
    let secs = at.as_second().saturating_sub(now.as_second());
    match secs {
        ..=0 => "expired".to_string(),
        1..3600 => format!("in {} min", (secs + 59) / 60),
        3600..86_400 => format!("in {} h", secs / 3600),
        _ => match secs / 86_400 {
            1 => "in 1 day".to_string(),
            n => format!("in {n} days"),
        },
    }
}

/// Who may use a ticket, in words.
fn uses(kind: TicketKind, max_uses: u32) -> String {
    match (kind, max_uses) {
        (TicketKind::Member, 1) => "One person can join with it.".to_string(),
        (TicketKind::Member, n) => format!("Up to {n} people can join with it."),
        (TicketKind::Device, 1) => "One device can be linked with it.".to_string(),
        (TicketKind::Device, n) => format!("Up to {n} devices can be linked with it."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_and_uses_read_as_words() {
        let now = Timestamp::from_second(1_000_000).unwrap();
        let at = |secs: i64| Timestamp::from_second(1_000_000 + secs).unwrap();
        assert_eq!(until(at(7 * 86_400), now), "in 7 days");
        assert_eq!(until(at(86_400), now), "in 1 day");
        assert_eq!(until(at(5 * 3600 + 10), now), "in 5 h");
        assert_eq!(until(at(61), now), "in 2 min");
        assert_eq!(until(at(0), now), "expired");
        assert_eq!(uses(TicketKind::Member, 1), "One person can join with it.");
        assert_eq!(
            uses(TicketKind::Device, 3),
            "Up to 3 devices can be linked with it."
        );
    }
}
