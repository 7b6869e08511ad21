//! Where a command runs: the data dir, this device's identity, and the group it acts on.

use std::path::PathBuf;

use anyhow::{anyhow, bail};
use quire_store::storage::{DataDir, StorageOptions};
use quire_store::{DeviceId, Group, GroupId};

/// The data dir and device a command runs as.
#[derive(Debug)]
pub struct Context {
    /// The data dir.
    pub data: DataDir,
    /// This device.
    pub device: DeviceId,
    /// The `--group` the user gave, if any.
    group_hint: Option<String>,
}

/// The platform's data dir for Quire, e.g. `~/.local/share/quire` on Linux.
pub fn default_data_dir() -> anyhow::Result<PathBuf> {
    directories::ProjectDirs::from("org", "quire", "quire")
        .map(|dirs| dirs.data_dir().to_path_buf())
        .ok_or_else(|| anyhow!("cannot find a home directory for the data dir; pass --data-dir"))
}

impl Context {
    /// Opens the data dir (creating it) and loads or creates this device's key.
    pub fn new(data_dir: Option<PathBuf>, group_hint: Option<String>) -> anyhow::Result<Self> {
        let root = match data_dir {
            Some(dir) => dir,
            None => default_data_dir()?,
        };
        let data = DataDir::open(&root)?;
        let secret = data.device_secret()?;
        let public = iroh_base::SecretKey::from_bytes(&secret).public();
        let device = DeviceId::from_bytes(*public.as_bytes());
        Ok(Self {
            data,
            device,
            group_hint,
        })
    }

    /// Opens the group the user means: `--group`, or the only one there is.
    pub fn open_group(&self) -> anyhow::Result<Group> {
        let group = self.choose_group()?;
        for warning in group.warnings() {
            eprintln!("warning: {warning}");
        }
        Ok(group)
    }

    fn open(&self, id: GroupId) -> anyhow::Result<Group> {
        Ok(Group::open(
            &self.data,
            id,
            self.device,
            StorageOptions::default(),
        )?)
    }

    fn choose_group(&self) -> anyhow::Result<Group> {
        let ids = self.data.group_ids()?;
        let root = self.data.root().display();
        match (&self.group_hint, ids.as_slice()) {
            (_, []) => bail!(
                "no groups in `{root}` yet; create one with `quire init --name NAME --me YOU`"
            ),
            (None, [only]) => self.open(*only),
            (None, _) => {
                let names = self.group_names(&ids).join(", ");
                bail!("`{root}` holds several groups ({names}); choose one with --group")
            }
            (Some(hint), _) => self.match_group(hint, &ids),
        }
    }

    /// The group `hint` names by id prefix or by name. Groups opened to read their names are
    /// not opened a second time.
    fn match_group(&self, hint: &str, ids: &[GroupId]) -> anyhow::Result<Group> {
        let wanted = hint.trim().to_lowercase();
        let by_prefix: Vec<GroupId> = ids
            .iter()
            .copied()
            .filter(|id| !wanted.is_empty() && id.to_string().starts_with(&wanted))
            .collect();
        if let [one] = by_prefix.as_slice() {
            return self.open(*one);
        }
        let mut by_name: Vec<Group> = ids
            .iter()
            .filter_map(|id| self.open(*id).ok())
            .filter(|group| group.name().to_lowercase() == wanted)
            .collect();
        match by_name.len() {
            1 => Ok(by_name.remove(0)),
            0 if by_prefix.is_empty() => {
                bail!("no group `{hint}` in `{}`", self.data.root().display())
            }
            _ => bail!("`{hint}` matches several groups; give more of the id"),
        }
    }

    fn group_name(&self, id: GroupId) -> Option<String> {
        Group::open(&self.data, id, self.device, StorageOptions::default())
            .ok()
            .map(|g| g.name())
    }

    fn group_names(&self, ids: &[GroupId]) -> Vec<String> {
        ids.iter()
            .map(|id| {
                let name = self.group_name(*id).unwrap_or_else(|| "unreadable".into());
                format!("{name} ({})", id.short())
            })
            .collect()
    }
}

/// A label for this device: its host name.
pub fn host_label() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "this device".to_string())
}
