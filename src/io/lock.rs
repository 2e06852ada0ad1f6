//! The lock of a database directory on the real file system: an `flock` on the file
//! `northstar.lock` inside it, taken before any other file of the database is created or
//! read and held for the life of the handle.
//!
//! Invariants:
//! - The lock file is never truncated or written; it exists only to be locked.
//! - A lock counts only while the path still names the locked file: after locking, the
//!   file's identity (device and inode) is compared with the path's, and a lock on a file
//!   that was removed meanwhile is dropped and taken again. That makes it safe for a
//!   refused open to remove the lock file it created.
//! - The directory and lock file are created only when the open may create a database;
//!   a refused open removes both again if it made them (the directory only when empty).

use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{DirectoryLock, LockMode, LOCK_FILE_NAME};
use crate::{Error, Result};

/// Attempts at locking a lock file that others keep removing before giving up.
const LOCK_ATTEMPTS_MAX: usize = 64;

/// A held lock on a database directory; dropping it unlocks.
pub struct OsDirectoryLock {
    file: File,
    path: PathBuf,
    mode: LockMode,
    created_file: bool,
    created_dir: Option<PathBuf>,
}

impl OsDirectoryLock {
    /// Takes the lock of directory `dir` in `mode` without waiting (see
    /// [`super::Storage::lock`]).
    ///
    /// Errors: [`Error::Locked`] when it is held in a conflicting mode; [`Error::Io`] when
    /// `dir` is missing and `create` is false, or an operating-system call fails.
    pub fn acquire(dir: &Path, mode: LockMode, create: bool) -> Result<OsDirectoryLock> {
        let created_dir = if dir.is_dir() {
            None
        } else if create {
            let parent_missing = first_missing_ancestor(dir);
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create directory", e))?;
            parent_missing
        } else {
            return Err(Error::io(
                dir,
                "open database directory",
                std::io::ErrorKind::NotFound.into(),
            ));
        };
        let path = dir.join(LOCK_FILE_NAME);
        let mut lock = Self::acquire_file(&path, mode).inspect_err(|_| {
            if let Some(made) = &created_dir {
                let _ = remove_empty_dirs(made, dir);
            }
        })?;
        lock.created_dir = created_dir;
        Ok(lock)
    }

    fn acquire_file(path: &Path, mode: LockMode) -> Result<OsDirectoryLock> {
        for _ in 0..LOCK_ATTEMPTS_MAX {
            let (file, created_file) = open_or_create(path)?;
            let locked = match mode {
                LockMode::Exclusive => file.try_lock(),
                LockMode::Shared => file.try_lock_shared(),
            };
            match locked {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    return Err(Error::Locked {
                        path: path.to_path_buf(),
                    })
                }
                Err(TryLockError::Error(error)) => return Err(Error::io(path, "lock", error)),
            }
            // The holder of a refused open may have removed the file between our open and
            // our lock: a lock on a file no longer under the name protects nothing.
            let ours = file.metadata().map_err(|e| Error::io(path, "stat", e))?;
            match std::fs::metadata(path) {
                Ok(named) if named.dev() == ours.dev() && named.ino() == ours.ino() => {
                    return Ok(OsDirectoryLock {
                        file,
                        path: path.to_path_buf(),
                        mode,
                        created_file,
                        created_dir: None,
                    });
                }
                Ok(_) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(Error::io(path, "stat", error)),
            }
        }
        Err(Error::io(
            path,
            "lock",
            std::io::Error::other("the lock file kept being replaced while locking it"),
        ))
    }
}

fn open_or_create(path: &Path) -> Result<(File, bool)> {
    match OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(file) => return Ok((file, true)),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(error) => return Err(Error::io(path, "create lock file", error)),
    }
    // Read access suffices to lock; a lock file left read-only still works.
    let file = File::open(path).map_err(|e| Error::io(path, "open lock file", e))?;
    Ok((file, false))
}

/// The outermost directory of `dir`'s chain that does not exist yet.
fn first_missing_ancestor(dir: &Path) -> Option<PathBuf> {
    let mut missing = None;
    let mut current = Some(dir);
    while let Some(path) = current {
        if path.exists() {
            break;
        }
        missing = Some(path.to_path_buf());
        current = path.parent();
    }
    missing
}

/// Removes `dir` and its parents up to and including `top`, while they are empty.
fn remove_empty_dirs(top: &Path, dir: &Path) -> std::io::Result<()> {
    let mut current = Some(dir);
    while let Some(path) = current {
        std::fs::remove_dir(path)?;
        if path == top {
            break;
        }
        current = path.parent();
    }
    Ok(())
}

impl DirectoryLock for OsDirectoryLock {
    fn release_refused(self: Box<Self>) {
        // Best effort: what remains is an empty lock file or directory, harmless to a
        // later open. The file goes while still locked (see the module's invariants), and
        // only from an exclusive holder: a shared one cannot know nobody else holds it.
        if self.created_file && self.mode == LockMode::Exclusive {
            let _ = std::fs::remove_file(&self.path);
        }
        let dir = self.path.parent().map(Path::to_path_buf);
        let created_dir = self.created_dir.clone();
        drop(self);
        if let (Some(top), Some(dir)) = (created_dir, dir) {
            let _ = remove_empty_dirs(&top, &dir);
        }
    }
}

impl Drop for OsDirectoryLock {
    fn drop(&mut self) {
        // Closing the file releases the flock; unlocking first makes it explicit.
        let _ = self.file.unlock();
    }
}
