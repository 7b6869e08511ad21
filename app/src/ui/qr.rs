//! A ticket as a QR code, for a phone's camera: the code's modules go into a texture one pixel
//! each, drawn at a whole number of screen pixels per module (sampled nearest, so every edge is
//! sharp), dark on white in either theme, inside the four-module quiet zone the standard asks
//! for.

use egui::emath::GuiRounding as _;
use egui::{Color32, ColorImage, Response, TextureHandle, TextureOptions, Ui, WidgetInfo};

/// Light modules around the code, on every side.
pub const QUIET_ZONE: usize = 4;

/// The modules of `text` as a QR code with its quiet zone, row by row, `true` for dark, and
/// the side in modules. Tickets are read without regard to case, so they are encoded in
/// capitals, which QR codes pack in fewer modules than lowercase.
pub fn modules(text: &str) -> Result<(usize, Vec<bool>), qrcode::types::QrError> {
    let code = qrcode::QrCode::new(text.to_ascii_uppercase())?;
    let width = code.width();
    let side = width + 2 * QUIET_ZONE;
    let dark: Vec<bool> = code
        .to_colors()
        .into_iter()
        .map(|c| c == qrcode::Color::Dark)
        .collect();
    let mut out = vec![false; side * side];
    for y in 0..width {
        for x in 0..width {
            out[(y + QUIET_ZONE) * side + x + QUIET_ZONE] = dark[y * width + x];
        }
    }
    Ok((side, out))
}

/// A QR code loaded as a texture, ready to draw.
pub struct QrCode {
    texture: TextureHandle,
    side: usize,
}

impl std::fmt::Debug for QrCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QrCode")
            .field("texture", &self.texture.id())
            .field("side", &self.side)
            .finish()
    }
}

impl QrCode {
    /// The QR code of `text`, or why there is none (a text too long for any QR code).
    pub fn new(ctx: &egui::Context, text: &str) -> Result<QrCode, String> {
        let (side, dark) = modules(text).map_err(|err| format!("no QR code: {err}"))?;
        let pixels = dark
            .into_iter()
            .map(|d| if d { Color32::BLACK } else { Color32::WHITE })
            .collect();
        let image = ColorImage::new([side, side], pixels);
        let texture = ctx.load_texture("invite-qr", image, TextureOptions::NEAREST);
        Ok(QrCode { texture, side })
    }

    /// Draws the code at most `max_points` wide (at least one screen pixel per module), named
    /// `name` for screen readers.
    pub fn ui(&self, ui: &mut Ui, max_points: f32, name: &str) -> Response {
        let ppp = ui.ctx().pixels_per_point();
        let per_module = ((max_points * ppp) / self.side as f32).floor().max(1.0);
        let size = self.side as f32 * per_module / ppp;
        let (rect, response) = ui.allocate_exact_size(egui::vec2(size, size), egui::Sense::hover());
        let rect = egui::Rect::from_min_size(rect.min.round_to_pixels(ppp), rect.size());
        let uv = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
        ui.painter()
            .image(self.texture.id(), rect, uv, Color32::WHITE);
        response.widget_info(|| WidgetInfo::labeled(egui::Role::Image, true, name));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_has_its_quiet_zone_and_finder_patterns() {
        let (side, dark) = modules("quire1abcdefghijklmnopqrstuvwxyz234567").unwrap();
        let at = |x: usize, y: usize| dark[y * side + x];
        for i in 0..side {
            for q in 0..QUIET_ZONE {
                assert!(!at(i, q) && !at(q, i), "quiet zone light at {i},{q}");
                assert!(!at(i, side - 1 - q) && !at(side - 1 - q, i));
            }
        }
        // The top-left finder pattern starts right inside the quiet zone.
        assert!(at(QUIET_ZONE, QUIET_ZONE));
        assert!(at(QUIET_ZONE + 6, QUIET_ZONE + 6));
        assert!(!at(QUIET_ZONE + 1, QUIET_ZONE + 1));
    }
}
