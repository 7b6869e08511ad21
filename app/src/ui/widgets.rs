//! Small widgets shared by the views, each labelled for screen readers.

use egui::{Color32, Response, RichText, Role, TextEdit, Ui, WidgetInfo};

/// A one-line text field with a visible label that AccessKit reads as its name.
pub fn text_field(ui: &mut Ui, label: &str, value: &mut String, hint: &str) -> Response {
    ui.horizontal(|ui| {
        let l = form_label(ui, label);
        ui.add(
            TextEdit::singleline(value)
                .hint_text(hint)
                .desired_width(ui.available_width().min(460.0)),
        )
        .labelled_by(l.id)
    })
    .inner
}

/// A drop-down with its label before it (egui puts a combo box's own label after it), named
/// by that label for screen readers.
pub fn combo(
    ui: &mut Ui,
    label: &str,
    selected: impl Into<egui::WidgetText>,
    contents: impl FnOnce(&mut Ui),
) {
    let l = ui.label(label);
    let inner = egui::ComboBox::from_id_salt(label)
        .selected_text(selected)
        .height(320.0)
        .show_ui(ui, contents);
    inner.response.labelled_by(l.id);
}

/// A form label in a fixed-width column, left-aligned.
pub fn form_label(ui: &mut Ui, label: &str) -> Response {
    ui.allocate_ui_with_layout(
        egui::vec2(130.0, 20.0),
        egui::Layout::left_to_right(egui::Align::Center),
        |ui| {
            ui.set_min_width(130.0);
            ui.label(label)
        },
    )
    .inner
}

/// A multi-line text field under its label.
pub fn text_area(ui: &mut Ui, label: &str, value: &mut String, rows: usize) -> Response {
    let l = ui.label(label);
    ui.add(
        TextEdit::multiline(value)
            .desired_rows(rows)
            .desired_width(ui.available_width().min(640.0)),
    )
    .labelled_by(l.id)
}

/// A button whose screen-reader name says more than its face, e.g. "Claim" read as
/// "Claim 'The Mill'", so a row of buttons can be told apart.
pub fn named_button(ui: &mut Ui, face: &str, name: String, enabled: bool) -> Response {
    let response = ui.add_enabled(enabled, egui::Button::new(face));
    response.widget_info(|| WidgetInfo::labeled(Role::Button, enabled, name.clone()));
    response
}

/// A link-like button for a title or a name in a list, with its own screen-reader name.
pub fn link(ui: &mut Ui, text: &str) -> Response {
    ui.add(egui::Button::new(RichText::new(text).color(ui.visuals().hyperlink_color)).frame(false))
        .on_hover_cursor(egui::CursorIcon::PointingHand)
}

/// A small button that switches the whole app between dark and light mode, as egui's
/// `global_theme_preference_switch` does (deprecated in egui 0.37 for a row of three buttons
/// that also offers following the system theme).
pub fn theme_switch(ui: &mut Ui) {
    let (face, hover, theme) = if ui.ctx().theme() == egui::Theme::Dark {
        ("☀️", "Switch to light mode", egui::Theme::Light)
    } else {
        ("🌙", "Switch to dark mode", egui::Theme::Dark)
    };
    if ui
        .add(egui::Button::new(face).frame(false))
        .on_hover_text(hover)
        .clicked()
    {
        ui.ctx().set_theme(theme);
    }
}

/// A small rounded tag, e.g. a genre or "organizer".
pub fn tag(ui: &mut Ui, text: &str) {
    let fill = ui.visuals().faint_bg_color;
    egui::Frame::new()
        .fill(fill)
        .corner_radius(8.0)
        .inner_margin(egui::Margin::symmetric(6, 1))
        .show(ui, |ui| {
            ui.label(RichText::new(text).size(12.5));
        });
}

/// A muted line of explanation.
pub fn hint(ui: &mut Ui, text: impl Into<String>) {
    ui.label(RichText::new(text.into()).weak());
}

/// The colour of a line saying something went well ("Copied"), readable in either theme.
pub fn ok_color(ui: &Ui) -> Color32 {
    if ui.visuals().dark_mode {
        Color32::from_rgb(120, 200, 140)
    } else {
        Color32::from_rgb(30, 120, 60)
    }
}

/// The colour of a queue status.
pub fn status_color(ui: &Ui, status: &quire_store::views::Status) -> Color32 {
    use quire_store::views::Status;
    let dark = ui.visuals().dark_mode;
    match status {
        Status::Open => ok_color(ui),
        Status::Claimed { .. } => {
            if dark {
                Color32::from_rgb(230, 190, 100)
            } else {
                Color32::from_rgb(150, 100, 0)
            }
        }
        Status::Critiqued | Status::Withdrawn => ui.visuals().weak_text_color(),
    }
}

/// A section heading with some air above it.
pub fn section(ui: &mut Ui, text: &str) {
    ui.add_space(10.0);
    ui.label(RichText::new(text).strong().size(15.0));
    ui.add_space(2.0);
}

/// Local date and time to the minute.
pub fn when(t: jiff::Timestamp) -> String {
    t.to_zoned(jiff::tz::TimeZone::system())
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}

/// Local date.
pub fn day(t: jiff::Timestamp) -> String {
    t.to_zoned(jiff::tz::TimeZone::system())
        .strftime("%Y-%m-%d")
        .to_string()
}
