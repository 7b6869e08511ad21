//! The data dir and this device's identity, as the CLI derives them.

use std::path::PathBuf;

use anyhow::anyhow;
use quire_store::DeviceId;
use quire_store::storage::DataDir;

/// The platform's data dir for Quire, e.g. `~/.local/share/quire` on Linux.
pub fn default_data_dir() -> anyhow::Result<PathBuf> {
    directories::ProjectDirs::from("org", "quire", "quire")
        .map(|dirs| dirs.data_dir().to_path_buf())
        .ok_or_else(|| anyhow!("cannot find a home directory for the data dir; pass --data-dir"))
}

/// Opens (creating) the data dir at `root` and derives this device's id from its key.
pub fn open(root: &std::path::Path) -> anyhow::Result<(DataDir, DeviceId)> {
    let data = DataDir::open(root)?;
    let secret = data.device_secret()?;
    let public = iroh_base::SecretKey::from_bytes(&secret).public();
    Ok((data, DeviceId::from_bytes(*public.as_bytes())))
}

/// A label for this device: its host name.
pub fn host_label() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "this device".to_string())
}
