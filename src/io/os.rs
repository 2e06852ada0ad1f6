//! The operating system's file system: [`OsStorage`] for a database directory, and
//! [`OsLogIo`] for its commit log.
//!
//! Invariants: a file is created under a temporary name, synced, renamed, and the directory
//! synced, so it appears whole or not at all; nothing here locks: the directory lock
//! ([`OsDirectoryLock`]) is taken before any of these files is touched.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::{
    DirectIo, DirectoryLock, IoMode, LockMode, LogBytes, LogIo, MmapIo, OsDirectoryLock, PageIo,
    PageIoConfig, Storage,
};
use crate::{Error, Result};

/// A database directory on the real file system.
pub struct OsStorage {
    dir: PathBuf,
}

impl OsStorage {
    /// Storage in directory `dir` (created by the first [`Storage::lock`] that may create).
    pub fn new(dir: impl Into<PathBuf>) -> OsStorage {
        OsStorage { dir: dir.into() }
    }
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

    fn lock(&self, mode: LockMode, create: bool) -> Result<Box<dyn DirectoryLock>> {
        Ok(Box::new(OsDirectoryLock::acquire(&self.dir, mode, create)?))
    }

    fn exists(&self, name: &str) -> Result<bool> {
        let path = self.dir.join(name);
        path.try_exists().map_err(|e| Error::io(&path, "stat", e))
    }

    fn check_direct_io(&self, page_file: &str) -> Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        // The lock file exists once the lock is taken; opening it with O_DIRECT is what
        // tmpfs refuses, and it changes nothing.
        let probe = self.dir.join(super::LOCK_FILE_NAME);
        match OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECT)
            .open(&probe)
        {
            Ok(_) => Ok(()),
            Err(error) if error.raw_os_error() == Some(libc::EINVAL) => {
                Err(Error::DirectIoUnsupported {
                    path: self.dir.join(page_file),
                    source: error,
                })
            }
            Err(error) => Err(Error::io(&probe, "open with O_DIRECT", error)),
        }
    }

    fn read_start(&self, name: &str, len_max: usize) -> Result<Option<(Vec<u8>, u64)>> {
        let path = self.dir.join(name);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(Error::io(&path, "open", error)),
        };
        let len = file
            .metadata()
            .map_err(|e| Error::io(&path, "stat", e))?
            .len();
        let mut bytes = vec![0u8; len.min(len_max as u64) as usize];
        file.read_exact_at(&mut bytes, 0)
            .map_err(|e| Error::io(&path, "read", e))?;
        Ok(Some((bytes, len)))
    }

    fn write_new(&self, name: &str, contents: &[u8]) -> Result<()> {
        let path = self.dir.join(name);
        let file = File::create(&path).map_err(|e| Error::io(&path, "create", e))?;
        file.write_all_at(contents, 0)
            .map_err(|e| Error::io(&path, "write", e))?;
        file.sync_all().map_err(|e| Error::io(&path, "fsync", e))
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        let (from, to) = (self.dir.join(from), self.dir.join(to));
        std::fs::rename(&from, &to)
            .map_err(|e| Error::io(&from, format!("rename to {}", to.display()), e))
    }

    fn remove(&self, name: &str) -> Result<()> {
        let path = self.dir.join(name);
        std::fs::remove_file(&path).map_err(|e| Error::io(&path, "remove", e))
    }

    fn sync_dir(&self) -> Result<()> {
        File::open(&self.dir)
            .and_then(|dir| dir.sync_all())
            .map_err(|e| Error::io(&self.dir, "fsync directory", e))
    }

    fn open_pages(&self, name: &str, config: &PageIoConfig) -> Result<Box<dyn PageIo>> {
        let path = self.dir.join(name);
        if config.mode == IoMode::Mmap {
            let file = open_read_write(&path)?;
            return Ok(Box::new(MmapIo::new(file, path)?));
        }
        Ok(Box::new(DirectIo::open(
            path,
            config.mode,
            config.cache_size,
            config.fallback,
        )?))
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
