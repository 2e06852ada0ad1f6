//! The operating system's file system: [`OsStorage`] for a database directory, and
//! [`OsLogIo`] for its commit log.
//!
//! Invariants: a created file is written under a temporary name, synced, renamed, and the
//! directory synced, so it appears whole or not at all; the page file is locked with an
//! exclusive `flock` (fs2) for as long as it is open.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::{LogBytes, LogIo, MmapIo, PageIo, Storage};
use crate::{Error, Result};

/// A database directory on the real file system.
pub struct OsStorage {
    dir: PathBuf,
}

impl OsStorage {
    /// Storage in directory `dir` (created on the first [`Storage::create`]).
    pub fn new(dir: impl Into<PathBuf>) -> OsStorage {
        OsStorage { dir: dir.into() }
    }
}

fn lock(file: &File, path: &Path) -> Result<()> {
    fs2::FileExt::try_lock_exclusive(file).map_err(|error| {
        if error.kind() == fs2::lock_contended_error().kind()
            || error.kind() == std::io::ErrorKind::WouldBlock
        {
            Error::Locked {
                path: path.to_path_buf(),
            }
        } else {
            Error::io(path, "lock", error)
        }
    })
}

fn open_read_write(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path, "open", e))
}

impl Storage for OsStorage {
    fn dir(&self) -> &Path {
        &self.dir
    }

    fn exists(&self, name: &str) -> Result<bool> {
        Ok(self.dir.join(name).exists())
    }

    fn create(&self, name: &str, contents: &[u8]) -> Result<()> {
        let dir = &self.dir;
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create directory", e))?;
        let path = dir.join(name);
        let temporary = dir.join(format!("{name}.creating"));
        let file = File::create(&temporary).map_err(|e| Error::io(&temporary, "create", e))?;
        file.write_all_at(contents, 0)
            .map_err(|e| Error::io(&temporary, "write", e))?;
        file.sync_all()
            .map_err(|e| Error::io(&temporary, "fsync", e))?;
        std::fs::rename(&temporary, &path).map_err(|e| Error::io(&path, "rename new file", e))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io(dir, "fsync directory", e))
    }

    fn open_pages(&self, name: &str) -> Result<Box<dyn PageIo>> {
        let path = self.dir.join(name);
        let file = open_read_write(&path)?;
        lock(&file, &path)?;
        Ok(Box::new(MmapIo::new(file, path)?))
    }

    fn open_log(&self, name: &str) -> Result<Box<dyn LogIo>> {
        let path = self.dir.join(name);
        let file = open_read_write(&path)?;
        Ok(Box::new(OsLogIo { file, path }))
    }
}

/// A commit log file on the real file system.
pub struct OsLogIo {
    file: File,
    path: PathBuf,
}

impl OsLogIo {
    /// Opens an existing log read-only, for tools that inspect it without the database.
    pub fn open_read_only(path: impl Into<PathBuf>) -> Result<OsLogIo> {
        let path = path.into();
        let file = File::open(&path).map_err(|e| Error::io(&path, "open", e))?;
        Ok(OsLogIo { file, path })
    }
}

impl LogIo for OsLogIo {
    fn path(&self) -> &Path {
        &self.path
    }

    fn file_len(&self) -> Result<u64> {
        Ok(self
            .file
            .metadata()
            .map_err(|e| Error::io(&self.path, "stat", e))?
            .len())
    }

    fn read(&self, len: u64) -> Result<LogBytes> {
        if len == 0 {
            return Ok(LogBytes::Owned(Vec::new()));
        }
        // SAFETY: the log is only appended to, and cut only during recovery before any
        // reader exists; the mapped prefix does not change while mapped.
        let map = unsafe {
            memmap2::MmapOptions::new()
                .len(len as usize)
                .map(&self.file)
        }
        .map_err(|e| Error::io(&self.path, "mmap log", e))?;
        Ok(LogBytes::Mapped(map, len as usize))
    }

    fn write_at(&self, offset: u64, bytes: &[u8]) -> Result<()> {
        self.file
            .write_all_at(bytes, offset)
            .map_err(|e| Error::io(&self.path, format!("append at offset {offset}"), e))
    }

    fn sync(&self) -> Result<()> {
        self.file
            .sync_data()
            .map_err(|e| Error::io(&self.path, "fdatasync", e))
    }

    fn truncate(&self, len: u64) -> Result<()> {
        self.file
            .set_len(len)
            .and_then(|()| self.file.sync_all())
            .map_err(|e| Error::io(&self.path, format!("truncate at offset {len}"), e))
    }
}
