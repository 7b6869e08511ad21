//! Invite tickets as pictures of their QR codes: written by `quire invite --qr FILE` (to send
//! as a picture), read by `quire join --qr FILE` and from a picture dropped on the window's
//! join page (a screenshot, a photo of a screen).
//!
//! The picture is read with bounds (file size, pixel dimensions and decoder memory) before it
//! is decoded, so a hostile or huge file costs a one-line refusal, never the machine.

use std::path::Path;

/// The largest picture file read.
pub const MAX_FILE: u64 = 32 * 1024 * 1024;
/// The largest width or height decoded, in pixels.
pub const MAX_SIDE: u32 = 8192;
/// The most memory the decoder may take.
const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;

/// The Quire ticket in the QR code(s) pictured in `path`.
pub fn ticket_from_picture(path: &Path) -> Result<String, String> {
    let shown = path.display();
    let size = std::fs::metadata(path)
        .map_err(|e| format!("cannot read `{shown}`: {e}"))?
        .len();
    if size > MAX_FILE {
        return Err(format!(
            "`{shown}` is {size} bytes, too large for a QR code picture (at most {MAX_FILE})"
        ));
    }
    let mut reader = image::ImageReader::open(path)
        .and_then(|r| r.with_guessed_format())
        .map_err(|e| format!("cannot read `{shown}`: {e}"))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let picture = reader
        .decode()
        .map_err(|e| format!("`{shown}` is not a picture Quire can read (PNG or JPEG): {e}"))?
        .to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(picture);
    let grids = prepared.detect_grids();
    if grids.is_empty() {
        return Err(format!("no QR code found in `{shown}`"));
    }
    grids
        .iter()
        .filter_map(|grid| grid.decode().ok())
        .map(|(_, content)| content.trim().to_string())
        .find(|content| content.starts_with("quire1"))
        .ok_or_else(|| format!("the QR code in `{shown}` holds no Quire invite ticket"))
}

/// Pixels a QR module takes in a written picture.
const MODULE_PIXELS: usize = 8;
/// Modules of white around the code, as the standard asks.
const QUIET_ZONE: usize = 4;

/// Writes `ticket` as a PNG picture of its QR code: dark modules on white with a quiet zone.
pub fn write_picture(ticket: &str, path: &Path) -> Result<(), String> {
    let code = qrcode::QrCode::new(ticket.as_bytes())
        .map_err(|e| format!("cannot make a QR code of the ticket: {e}"))?;
    let width = code.width();
    let colors = code.to_colors();
    let side = ((width + 2 * QUIET_ZONE) * MODULE_PIXELS) as u32;
    let picture = image::GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = (x as usize / MODULE_PIXELS, y as usize / MODULE_PIXELS);
        let inside = (QUIET_ZONE..width + QUIET_ZONE).contains(&mx)
            && (QUIET_ZONE..width + QUIET_ZONE).contains(&my);
        let dark =
            inside && colors[(my - QUIET_ZONE) * width + (mx - QUIET_ZONE)] == qrcode::Color::Dark;
        image::Luma([if dark { 0 } else { 255 }])
    });
    picture
        .save_with_format(path, image::ImageFormat::Png)
        .map_err(|e| format!("cannot write `{}`: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_is_read_back_from_its_qr_code() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ticket.png");
        let ticket = format!("quire1{}", "ab12".repeat(40));
        write_picture(&ticket, &path).unwrap();
        assert_eq!(ticket_from_picture(&path), Ok(ticket));
    }

    #[test]
    fn other_codes_garbage_and_blank_pictures_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("other.png");
        write_picture("https://example.org", &other).unwrap();
        let err = ticket_from_picture(&other).unwrap_err();
        assert!(err.ends_with("holds no Quire invite ticket"), "{err}");

        let blank = dir.path().join("blank.png");
        image::GrayImage::from_pixel(50, 50, image::Luma([255]))
            .save(&blank)
            .unwrap();
        let err = ticket_from_picture(&blank).unwrap_err();
        assert!(err.starts_with("no QR code found in"), "{err}");

        let garbage = dir.path().join("garbage.png");
        std::fs::write(&garbage, b"\x89PNG\r\n\x1a\nnot really").unwrap();
        let err = ticket_from_picture(&garbage).unwrap_err();
        assert!(err.contains("is not a picture Quire can read"), "{err}");

        let missing = dir.path().join("missing.png");
        assert!(
            ticket_from_picture(&missing)
                .unwrap_err()
                .starts_with("cannot read")
        );
    }

    #[test]
    fn a_picture_claiming_huge_dimensions_is_refused_before_decoding() {
        // A PNG header claiming 100,000 x 100,000 pixels, and nothing behind it.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bomb.png");
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = b"IHDR".to_vec();
        ihdr.extend_from_slice(&100_000u32.to_be_bytes());
        ihdr.extend_from_slice(&100_000u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
        png.extend_from_slice(&13u32.to_be_bytes());
        png.extend_from_slice(&ihdr);
        png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
        std::fs::write(&path, png).unwrap();
        let err = ticket_from_picture(&path).unwrap_err();
        assert!(err.contains("is not a picture Quire can read"), "{err}");
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for b in bytes {
            crc ^= u32::from(*b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
}
