//! The "For you" view: what needs me in this group (see [`quire_store::inbox`]), with my
//! notification setting.

use egui::{RichText, Ui};
use quire_store::inbox::{InboxItem, InboxKind};

use super::state::View;
use super::widgets;
use crate::backend::{Command, GroupSnapshot};

/// Draws the view. Returns a view to open and a command for the backend, if the user asked.
pub fn for_you_ui(ui: &mut Ui, s: &GroupSnapshot) -> (Option<View>, Option<Command>) {
    let mut open = None;
    let mut command = None;
    ui.horizontal(|ui| {
        ui.heading("For you");
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            let mut on = s.notifications;
            if ui
                .checkbox(&mut on, "Desktop notifications")
                .on_hover_text("New critiques of your pieces and claims about to lapse. This follows you to your other devices.")
                .changed()
            {
                command = Some(Command::SetNotifications { group: s.id, on });
            }
            let unread: Vec<String> = s
                .inbox
                .iter()
                .filter(|i| i.unread)
                .map(|i| i.key.clone())
                .collect();
            if ui
                .add_enabled(!unread.is_empty(), egui::Button::new("Mark all read"))
                .clicked()
            {
                command = Some(Command::MarkRead {
                    group: s.id,
                    items: unread,
                });
            }
        });
    });
    widgets::hint(
        ui,
        "Critiques of your pieces, your claims and when they lapse, new pieces in your genres, \
         and thanks and tips for your critiques. Opening a piece marks it read.",
    );
    ui.add_space(8.0);
    if s.me.is_none() {
        ui.label("This device is not a member's in this group yet.");
        return (None, None);
    }
    let no_genres = s
        .my_member
        .as_ref()
        .is_some_and(|m| m.profile.genres.is_empty());
    if no_genres {
        egui::Frame::group(ui.style())
            .inner_margin(10.0)
            .show(ui, |ui| {
                ui.label(
                    "Add the genres you read and write: new pieces in them then come to you here, \
                 and Next can match you with them.",
                );
                if ui.button("Add your genres").clicked() {
                    open = Some(View::Profile);
                }
            });
        ui.add_space(8.0);
    }
    if s.inbox.is_empty() {
        ui.label("Nothing needs you right now.");
        ui.horizontal(|ui| {
            if ui.button("Find a piece to critique").clicked() {
                open = Some(View::Next);
            }
        });
        return (open, command);
    }
    // Only the rows on screen are laid out: a large group's inbox runs to hundreds.
    let row_height = ui.spacing().interact_size.y;
    egui::ScrollArea::vertical()
        .id_salt("for-you")
        .auto_shrink([false, false])
        .show_rows(ui, row_height, s.inbox.len(), |ui, rows| {
            for item in &s.inbox[rows] {
                if item_ui(ui, item) {
                    open = Some(View::Submission(item.submission().to_string()));
                    if item.unread {
                        command = Some(Command::MarkRead {
                            group: s.id,
                            items: vec![item.key.clone()],
                        });
                    }
                }
            }
        });
    (open, command)
}

/// One item; returns whether it was clicked.
fn item_ui(ui: &mut Ui, item: &InboxItem) -> bool {
    let mut clicked = false;
    ui.horizontal(|ui| {
        let (mark, color) = if item.urgent() {
            ("⚠", ui.visuals().warn_fg_color)
        } else if item.unread {
            ("•", ui.visuals().hyperlink_color)
        } else {
            (" ", ui.visuals().weak_text_color())
        };
        let state = if item.urgent() {
            "soon"
        } else if item.unread {
            "unread"
        } else {
            "read"
        };
        let response = ui
            .label(RichText::new(mark).color(color))
            .on_hover_text(state);
        response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, state));
        let headline = item.headline();
        let text = if item.unread || item.urgent() {
            RichText::new(headline).strong()
        } else {
            RichText::new(headline)
        };
        clicked = ui.link(text).clicked();
        let when = match &item.kind {
            InboxKind::Claim { expires_at, .. } => format!("lapses {}", widgets::when(*expires_at)),
            _ => widgets::when(item.at),
        };
        ui.weak(when);
    });
    clicked
}
