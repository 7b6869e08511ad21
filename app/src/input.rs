//! Reading what the user hands us: long texts from a file or standard input, and dates.

use std::io::{IsTerminal, Read};
use std::path::Path;

use anyhow::{Context, bail};
use jiff::civil::Date;

/// The text in `file`, or on standard input when there is no file.
pub fn long_text(file: Option<&Path>, what: &str) -> anyhow::Result<String> {
    let mut bytes = Vec::new();
    match file {
        Some(path) => {
            bytes = std::fs::read(path)
                .with_context(|| format!("cannot read {what} from `{}`", path.display()))?;
        }
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                bail!("give the {what} with --file PATH or on standard input");
            }
            stdin
                .lock()
                .read_to_end(&mut bytes)
                .with_context(|| format!("cannot read {what} from standard input"))?;
        }
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let source = file.map_or("standard input".to_string(), |p| {
                format!("`{}`", p.display())
            });
            bail!("{what} in {source} is not UTF-8 text (bad byte at offset {at})")
        }
    }
}

/// A day typed as `YYYY-MM-DD`.
pub fn date(field: &str, value: &str) -> anyhow::Result<Date> {
    value
        .trim()
        .parse::<Date>()
        .map_err(|_| anyhow::anyhow!("{field} `{value}` is not a date like 2026-12-01"))
}
