//! The device key: 32 random bytes in `<root>/device.key`, mode 0600.
//!
//! Created atomically: the bytes are written to a private temporary file and fsynced, then
//! hard-linked to `device.key`. A hard link never replaces an existing file, so when two
//! processes race, the first link wins and the loser reads the winner's key. Either way the file
//! appears complete or not at all.

use std::fs::{self, OpenOptions};
use std::io;
use std::path::Path;

use super::disk;
use super::error::{IoContext, StorageError};
use super::fsutil;

/// Loads the key at `path`, creating it first if there is none.
pub(crate) fn load_or_create(path: &Path) -> Result<[u8; 32], StorageError> {
    match read(path)? {
        Some(key) => Ok(key),
        None => create(path),
    }
}

/// The key at `path`, or `None` if the file does not exist.
fn read(path: &Path) -> Result<Option<[u8; 32]>, StorageError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).at("read device key", path),
    };
    let key = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| StorageError::BadDeviceKey {
        path: path.to_path_buf(),
        len: bytes.len() as u64,
    })?;
    Ok(Some(key))
}

fn create(path: &Path) -> Result<[u8; 32], StorageError> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|source| StorageError::Random {
        path: path.to_path_buf(),
        source,
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!("device.key.tmp-{}", fsutil::random_name()));
    let result = write_private(&tmp, &key).and_then(|()| link(&tmp, path));
    let _ = disk::remove_file(&tmp);
    let won = result?;
    disk::sync_dir(dir).at("fsync directory", dir)?;
    if won {
        tracing::info!(path = %path.display(), "created device key");
        return Ok(key);
    }
    // Another process created it first: use theirs.
    read(path)?.ok_or_else(|| StorageError::Io {
        action: "read device key",
        path: path.to_path_buf(),
        source: io::Error::from(io::ErrorKind::NotFound),
    })
}

/// Writes `bytes` to a new file only its owner may read, and fsyncs it.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    disk::open(&options, path)
        .and_then(|mut f| {
            disk::write_all_at(&mut f, 0, bytes)?;
            disk::sync_all(&f)
        })
        .at("write device key", path)
}

/// Links `tmp` to `path` unless `path` exists; whether we linked it.
fn link(tmp: &Path, path: &Path) -> Result<bool, StorageError> {
    match disk::hard_link(tmp, path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e).at("create device key", path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("device.key");
        let key = load_or_create(&path).unwrap();
        assert_eq!(load_or_create(&path).unwrap(), key);
        assert_ne!(key, [0; 32]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // No temporary files left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn racing_creators_agree() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("device.key");
        let keys: Vec<[u8; 32]> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| load_or_create(&path).unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(keys.iter().all(|k| *k == keys[0]));
    }

    #[test]
    fn wrong_length_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("device.key");
        fs::write(&path, b"short").unwrap();
        let err = load_or_create(&path).unwrap_err();
        assert!(
            matches!(err, StorageError::BadDeviceKey { len: 5, .. }),
            "{err}"
        );
        assert_eq!(fs::read(&path).unwrap(), b"short");
    }
}
