//! Critiques in progress, kept on this device only (never in the shared document):
//! `drafts/<group>/<submission>.txt` under the data dir, each written to a temp file, fsynced
//! and renamed, so a crash leaves the old draft or the new one, never half of one.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use quire_store::{GroupId, SubmissionId};

/// The drafts of one data dir.
#[derive(Debug, Clone)]
pub struct Drafts {
    root: PathBuf,
}

impl Drafts {
    /// The drafts kept under `data_dir`.
    pub fn new(data_dir: &Path) -> Self {
        Self {
            root: data_dir.join("drafts"),
        }
    }

    fn path(&self, group: GroupId, sub: SubmissionId) -> PathBuf {
        self.root.join(group.to_string()).join(format!("{sub}.txt"))
    }

    /// Saves `body` as the draft for `sub`; an empty body removes it.
    pub fn save(&self, group: GroupId, sub: SubmissionId, body: &str) -> std::io::Result<()> {
        let path = self.path(group, sub);
        if body.trim().is_empty() {
            return match fs::remove_file(&path) {
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err),
                _ => Ok(()),
            };
        }
        let dir = path.parent().unwrap_or(&self.root);
        fs::create_dir_all(dir)?;
        let tmp = dir.join(format!("{sub}.tmp"));
        let mut file = fs::File::create(&tmp)?;
        file.write_all(body.as_bytes())?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, &path)?;
        if let Ok(dir) = fs::File::open(dir) {
            // Best effort: the rename is durable once the folder is synced.
            let _ = dir.sync_all();
        }
        Ok(())
    }

    /// Every draft saved for `group`; unreadable files are skipped.
    pub fn load(&self, group: GroupId) -> Vec<(SubmissionId, String)> {
        let dir = self.root.join(group.to_string());
        let Ok(entries) = fs::read_dir(&dir) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "txt") {
                continue;
            }
            let Some(id) = path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse::<SubmissionId>().ok())
            else {
                continue;
            };
            match fs::read_to_string(&path) {
                Ok(body) => out.push((id, body)),
                Err(err) => tracing::warn!(path = %path.display(), %err, "unreadable draft"),
            }
        }
        out.sort_by_key(|(id, _)| *id);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_draft_loads_and_an_empty_one_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let drafts = Drafts::new(dir.path());
        let (g, s) = (GroupId::random(), SubmissionId::random());
        drafts.save(g, s, "The opening drags.").unwrap();
        assert_eq!(drafts.load(g), vec![(s, "The opening drags.".to_string())]);
        drafts.save(g, s, "  ").unwrap();
        assert!(drafts.load(g).is_empty());
    }
}
