//! How much of a group's folder its signatures take: the `signatures` file, plus the
//! signature trailer (`QSIG` and its entries) of each log record, over every byte of the folder.
//!
//! Log records are walked as the store writes them: `[u32 LE length][u32 LE crc][payload]`,
//! the payload a run of automerge change chunks (`magic, checksum, type, ULEB128 length,
//! body`) and then, if any, the signature block.

use std::path::Path;

use anyhow::{Context, bail};

/// What starts a block of signatures (after the chunks of a log record).
const SIGNATURE_MAGIC: &[u8; 4] = b"QSIG";
/// What starts every automerge chunk.
const CHUNK_MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];

/// Bytes of signatures and of everything in a group's folder.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Share {
    /// The `signatures` file.
    pub(super) file: u64,
    /// The signature trailers of log records.
    pub(super) trailers: u64,
    /// Every file of the folder (as the storage figures count it).
    pub(super) total: u64,
}

impl Share {
    /// Signature bytes over the folder's.
    pub(super) fn ratio(&self) -> f64 {
        (self.file + self.trailers) as f64 / self.total.max(1) as f64
    }
}

impl std::fmt::Display for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.2} % ({} bytes in the signatures file + {} in log trailers, of {})",
            self.ratio() * 100.0,
            self.file,
            self.trailers,
            self.total
        )
    }
}

/// The signatures' share of the group folder `dir`.
pub(super) fn of_group(dir: &Path) -> anyhow::Result<Share> {
    let file = match std::fs::metadata(dir.join("signatures")) {
        Ok(meta) => meta.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(e.into()),
    };
    let mut trailers = 0;
    let logs = dir.join("log");
    if logs.is_dir() {
        for entry in std::fs::read_dir(&logs)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "log") {
                let bytes = std::fs::read(&path)?;
                trailers += trailer_bytes(&bytes)
                    .with_context(|| format!("cannot walk log `{}`", path.display()))?;
            }
        }
    }
    Ok(Share {
        file,
        trailers,
        total: super::dir_size(dir)?,
    })
}

/// The bytes of signature trailers in one log.
fn trailer_bytes(log: &[u8]) -> anyhow::Result<u64> {
    let mut at = 0;
    let mut total = 0;
    while at + 8 <= log.len() {
        let len = u32::from_le_bytes(log[at..at + 4].try_into()?) as usize;
        if len == 0 {
            // Space the log grew into before its record was written: the end.
            break;
        }
        let Some(payload) = log.get(at + 8..at + 8 + len) else {
            break;
        };
        total += record_trailer(payload)? as u64;
        at += 8 + len;
    }
    Ok(total)
}

/// The length of the signature block at the end of a record's payload, 0 if it has none.
fn record_trailer(payload: &[u8]) -> anyhow::Result<usize> {
    let mut at = 0;
    while at < payload.len() {
        let rest = &payload[at..];
        if rest.starts_with(SIGNATURE_MAGIC) {
            return Ok(rest.len());
        }
        if !rest.starts_with(&CHUNK_MAGIC) || rest.len() < 9 {
            bail!("a record holds something that is neither a chunk nor signatures");
        }
        let (len, used) = uleb128(&rest[9..])?;
        at += 9 + used + len;
    }
    Ok(0)
}

fn uleb128(bytes: &[u8]) -> anyhow::Result<(usize, usize)> {
    let mut value: u64 = 0;
    for (i, b) in bytes.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok((usize::try_from(value)?, i + 1));
        }
    }
    bail!("a chunk length that does not end")
}
