//! A data directory: the device key and a directory of groups.
//!
//! Groups are created atomically: the new group's snapshot, `signatures` file (if it has any),
//! `log/` directory and `compact.lock` are written into `groups/<id>.tmp-<random>/`, fsynced, and the directory is
//! renamed to `groups/<id>`; so a group directory is never seen half made. Names under
//! `groups/` that are not group ids (such as leftovers of a creation that crashed) are ignored.

use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use automerge::{ActorId, Automerge};

use super::device_key;
use super::disk;
use super::error::{IoContext, StorageError};
use super::fingerprint::Fingerprint;
use super::fsutil::{self, Stamp};
use super::group_storage::GroupStorage;
use super::layout::{DEVICE_KEY, DOCUMENTS_DIR, GROUPS_DIR, LOG_DIR, SIGNATURES, SNAPSHOT};
use super::lock::COMPACT_LOCK;
use super::options::StorageOptions;
use super::signature_file;
use crate::documents::DocumentId;
use crate::ids::GroupId;
use crate::signatures::SignatureBook;

/// A data directory holding this device's key and its groups.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Opens (creating if needed) the data directory at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StorageError> {
        let root = root.into();
        let groups = root.join(GROUPS_DIR);
        disk::create_dir_all(&groups).at("create directory", &groups)?;
        Ok(Self { root })
    }

    /// The data directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory a group lives in (whether or not it exists).
    pub fn group_path(&self, id: GroupId) -> PathBuf {
        self.root.join(GROUPS_DIR).join(id.to_string())
    }

    /// The ids of the groups in this data directory, sorted.
    pub fn group_ids(&self) -> Result<Vec<GroupId>, StorageError> {
        let groups = self.root.join(GROUPS_DIR);
        let mut ids = Vec::new();
        for entry in fs::read_dir(&groups).at("list groups in", &groups)? {
            let entry = entry.at("list groups in", &groups)?;
            let Some(id) = entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse::<GroupId>().ok())
            else {
                continue;
            };
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                ids.push(id);
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// This device's secret key, created (32 random bytes, mode 0600) on first use.
    pub fn device_secret(&self) -> Result<[u8; 32], StorageError> {
        device_key::load_or_create(&self.root.join(DEVICE_KEY))
    }

    /// Creates group `id` holding `doc` (which keeps its actor). Fails if the group exists.
    pub fn create_group(
        &self,
        id: GroupId,
        doc: Automerge,
        options: StorageOptions,
    ) -> Result<GroupStorage, StorageError> {
        let snapshot = doc.save();
        self.create_group_from_snapshot(id, doc, &snapshot, SignatureBook::new(), options)
    }

    /// Creates group `id` holding `doc`, with `snapshot` as its snapshot file: bytes that
    /// load to exactly `doc`'s changes (a `save()` of it, or one of an ancestor followed by
    /// `save_after` of the rest), so a document that arrived saved is written without saving
    /// it again. `signatures` (the signatures of `doc`'s changes, as far as they are known)
    /// are written with it, durable before it returns. Fails if the group exists.
    pub fn create_group_from_snapshot(
        &self,
        id: GroupId,
        doc: Automerge,
        snapshot: &[u8],
        signatures: SignatureBook,
        options: StorageOptions,
    ) -> Result<GroupStorage, StorageError> {
        let groups = self.root.join(GROUPS_DIR);
        let dir = self.group_path(id);
        create_storage(id, &groups, dir, doc, snapshot, signatures, options)
    }

    /// The directory document `doc` of group `group` lives in (whether or not it exists).
    pub fn document_path(&self, group: GroupId, doc: DocumentId) -> PathBuf {
        self.root
            .join(DOCUMENTS_DIR)
            .join(group.to_string())
            .join(doc.dir_name())
    }

    /// Opens document `doc` of group `group`, creating it empty if there is none yet; edits
    /// made through it are by `actor` (as for [`open_group`](Self::open_group)).
    pub fn open_document(
        &self,
        group: GroupId,
        doc: DocumentId,
        actor: ActorId,
        options: StorageOptions,
    ) -> Result<GroupStorage, StorageError> {
        let dir = self.document_path(group, doc);
        match GroupStorage::open_existing(group, dir.clone(), actor.clone(), options) {
            Err(StorageError::GroupNotFound { .. }) => {}
            opened => return opened,
        }
        let parent = dir
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.root.clone());
        disk::create_dir_all(&parent).at("create directory", &parent)?;
        let empty = Automerge::new().with_actor(actor.clone());
        let snapshot = empty.save();
        match create_storage(
            group,
            &parent,
            dir.clone(),
            empty,
            &snapshot,
            SignatureBook::new(),
            options,
        ) {
            // Another process made it first.
            Err(StorageError::GroupExists { .. }) => {
                GroupStorage::open_existing(group, dir, actor, options)
            }
            created => created,
        }
    }

    /// The fingerprint of group `id`'s files as they are now, taken without reading them: equal
    /// to a [`GroupStorage::loaded_fingerprint`] only while the files still hold exactly what
    /// that storage loaded.
    pub fn fingerprint(&self, id: GroupId) -> Result<Fingerprint, StorageError> {
        let dir = self.group_path(id);
        if !dir.is_dir() {
            return Err(StorageError::GroupNotFound { path: dir });
        }
        Fingerprint::on_disk(&dir)
    }

    /// Opens group `id`, loading its snapshot and logs; edits made through it are by `actor`.
    ///
    /// `actor` must not be used by any other process at the same time: two writers with one
    /// actor make conflicting changes that automerge refuses.
    pub fn open_group(
        &self,
        id: GroupId,
        actor: ActorId,
        options: StorageOptions,
    ) -> Result<GroupStorage, StorageError> {
        GroupStorage::open_existing(id, self.group_path(id), actor, options)
    }
}

/// Creates a group's (or a document's) directory `dir` inside `parent`, holding `doc` with
/// `snapshot` and `signatures`, made in a temporary directory beside it and renamed into place.
fn create_storage(
    id: GroupId,
    parent: &Path,
    dir: PathBuf,
    doc: Automerge,
    snapshot: &[u8],
    signatures: SignatureBook,
    options: StorageOptions,
) -> Result<GroupStorage, StorageError> {
    if fs::symlink_metadata(&dir).is_ok() {
        return Err(StorageError::GroupExists { path: dir });
    }
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("group")
        .to_string();
    let tmp = parent.join(format!("{name}.tmp-{}", fsutil::random_name()));
    if let Err(e) = write_group_dir(&tmp, snapshot, &signatures) {
        let _ = disk::remove_dir_all(&tmp);
        return Err(e);
    }
    if let Err(e) = disk::rename(&tmp, &dir) {
        let _ = disk::remove_dir_all(&tmp);
        let exists = matches!(
            e.kind(),
            io::ErrorKind::AlreadyExists | io::ErrorKind::DirectoryNotEmpty
        );
        if exists {
            return Err(StorageError::GroupExists { path: dir });
        }
        return Err(e).at("create group", &dir);
    }
    disk::sync_dir(parent).at("fsync directory", parent)?;
    let stamp = |name| fs::metadata(dir.join(name)).ok().map(|m| Stamp::of(&m));
    let stamps = (stamp(SNAPSHOT), stamp(SIGNATURES));
    tracing::info!(path = %dir.display(), signatures = signatures.len(), "created group");
    Ok(GroupStorage::created(
        id, dir, doc, options, stamps, signatures,
    ))
}

/// Makes a complete group directory at `dir`: snapshot, signatures (unless there are none),
/// empty `log/`, `compact.lock`, all fsynced.
fn write_group_dir(
    dir: &Path,
    snapshot: &[u8],
    signatures: &SignatureBook,
) -> Result<(), StorageError> {
    disk::create_dir(dir).at("create directory", dir)?;
    let log_dir = dir.join(LOG_DIR);
    disk::create_dir(&log_dir).at("create directory", &log_dir)?;
    let path = dir.join(SNAPSHOT);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    disk::open(&options, &path)
        .and_then(|mut f| {
            disk::write_all_at(&mut f, 0, snapshot)?;
            disk::sync_all(&f)
        })
        .at("write snapshot", &path)?;
    if !signatures.is_empty() {
        signature_file::create(&dir.join(SIGNATURES), signatures)?;
    }
    let lock = dir.join(COMPACT_LOCK);
    options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    disk::open(&options, &lock).at("create lock", &lock)?;
    disk::sync_dir(dir).at("fsync directory", dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_ids_lists_only_groups() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::open(tmp.path().join("data")).unwrap();
        assert!(data.group_ids().unwrap().is_empty());
        let a = GroupId::random();
        let b = GroupId::random();
        data.create_group(a, Automerge::new(), StorageOptions::default())
            .unwrap();
        data.create_group(b, Automerge::new(), StorageOptions::default())
            .unwrap();
        fs::create_dir(data.root().join("groups").join(format!("{a}.tmp-x"))).unwrap();
        fs::write(data.root().join("groups").join("notes.txt"), b"").unwrap();
        let mut want = vec![a, b];
        want.sort();
        assert_eq!(data.group_ids().unwrap(), want);
    }

    #[test]
    fn creating_twice_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::open(tmp.path()).unwrap();
        let id = GroupId::random();
        data.create_group(id, Automerge::new(), StorageOptions::default())
            .unwrap();
        let err = data
            .create_group(id, Automerge::new(), StorageOptions::default())
            .unwrap_err();
        assert!(matches!(err, StorageError::GroupExists { .. }), "{err}");
        // No temporary directories left behind.
        assert_eq!(fs::read_dir(data.root().join("groups")).unwrap().count(), 1);
    }

    #[test]
    fn a_group_created_from_a_snapshot_and_what_came_after_opens_whole() {
        use automerge::transaction::Transactable;
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::open(tmp.path()).unwrap();
        let mut doc = Automerge::new();
        let mut tx = doc.transaction();
        tx.put(automerge::ROOT, "a", 1).unwrap();
        tx.commit();
        let received = doc.save();
        let heads = doc.get_heads();
        let mut tx = doc.transaction();
        tx.put(automerge::ROOT, "b", 2).unwrap();
        tx.commit();
        let snapshot = [received, doc.save_after(&heads)].concat();
        let id = GroupId::random();
        let created = data
            .create_group_from_snapshot(
                id,
                doc.clone(),
                &snapshot,
                SignatureBook::new(),
                StorageOptions::default(),
            )
            .unwrap();
        assert_eq!(created.doc().get_heads(), doc.get_heads());
        let on_disk = fs::read(data.group_path(id).join(SNAPSHOT)).unwrap();
        assert_eq!(on_disk, snapshot, "written as given, not saved again");
        let opened = data
            .open_group(id, automerge::ActorId::random(), StorageOptions::default())
            .unwrap();
        assert_eq!(opened.doc().get_heads(), doc.get_heads());
        assert!(opened.warnings().is_empty());
    }

    #[test]
    fn opening_a_missing_group_names_it() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::open(tmp.path()).unwrap();
        let id = GroupId::random();
        let err = data
            .open_group(id, automerge::ActorId::random(), StorageOptions::default())
            .unwrap_err();
        assert!(matches!(err, StorageError::GroupNotFound { .. }));
        assert!(err.to_string().contains(&id.to_string()), "{err}");
    }
}
