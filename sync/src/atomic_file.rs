//! Writing a small local file so that a crash leaves either the old or the new content.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` by a temp file, fsync and rename.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_data()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
