//! The commit log file: appends, group-commit syncs, truncation after a torn tail.
//!
//! Invariants:
//! - Only the holder of the writer slot appends; appends land at `end`, which advances only
//!   after a whole record was written.
//! - `durable <= end`; a record is durable once a sync that started after its append
//!   completed. One sync covers every record appended before it started, so committers
//!   that wait together share one fdatasync (group commit).
//! - A failed sync poisons the log: nothing is appended or reported durable afterwards,
//!   and the sync is never retried.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use memmap2::Mmap;
use parking_lot::{Condvar, Mutex};

use crate::format::frame::{LogHeader, LOG_HEADER_SIZE};
use crate::{Error, Result, TxnId};

/// Name of the commit log inside a database directory.
pub const LOG_FILE_NAME: &str = "northstar.log";

struct SyncState {
    end: u64,
    durable: u64,
    syncing: bool,
    failed: Option<String>,
}

/// An open commit log.
pub struct LogFile {
    path: PathBuf,
    file: File,
    header: LogHeader,
    state: Mutex<SyncState>,
    synced: Condvar,
    sync_count: AtomicU64,
}

/// A read-only map of the log's bytes, from offset 0 to the end when it was made.
pub struct LogBytes {
    map: Option<Mmap>,
    len: usize,
}

impl std::ops::Deref for LogBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.map {
            Some(map) => &map[..self.len],
            None => &[],
        }
    }
}

/// Maps `len` bytes of `file` read-only.
pub fn map_file(file: &File, path: &Path, len: u64) -> Result<LogBytes> {
    if len == 0 {
        return Ok(LogBytes { map: None, len: 0 });
    }
    // SAFETY: the log is only ever appended to, and truncated only during recovery before
    // any reader exists; the mapped prefix never changes while mapped.
    let map = unsafe { memmap2::MmapOptions::new().len(len as usize).map(file) }
        .map_err(|e| Error::io(path, "mmap log", e))?;
    Ok(LogBytes {
        map: Some(map),
        len: len as usize,
    })
}

impl LogFile {
    /// Opens the log of database `database_id` in `dir`, creating it (with its first record
    /// to be txn `first_txn_id`) when `create` and it is missing.
    pub fn open(
        dir: &Path,
        database_id: [u8; 16],
        first_txn_id: TxnId,
        create: bool,
    ) -> Result<LogFile> {
        let path = dir.join(LOG_FILE_NAME);
        if !path.exists() {
            if !create {
                return Err(Error::corrupt(&path, None, "the commit log is missing"));
            }
            create_log(
                dir,
                &path,
                LogHeader {
                    database_id,
                    first_txn_id,
                },
            )?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, "open", e))?;
        let len = file
            .metadata()
            .map_err(|e| Error::io(&path, "stat", e))?
            .len();
        let mut bytes = vec![0u8; LOG_HEADER_SIZE.min(len as usize)];
        file.read_exact_at(&mut bytes, 0)
            .map_err(|e| Error::io(&path, "read log header", e))?;
        let header =
            LogHeader::decode(&bytes).map_err(|detail| Error::corrupt_log(&path, 0, detail))?;
        if header.database_id != database_id {
            return Err(Error::corrupt_log(
                &path,
                0,
                "the log belongs to another database (database id differs)",
            ));
        }
        let state = SyncState {
            end: len,
            durable: len,
            syncing: false,
            failed: None,
        };
        Ok(LogFile {
            path,
            file,
            header,
            state: Mutex::new(state),
            synced: Condvar::new(),
            sync_count: AtomicU64::new(0),
        })
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file header.
    pub fn header(&self) -> LogHeader {
        self.header
    }

    /// Offset just past the last appended record.
    pub fn end(&self) -> u64 {
        self.state.lock().end
    }

    /// fdatasyncs issued so far.
    pub fn sync_count(&self) -> u64 {
        self.sync_count.load(Ordering::Relaxed)
    }

    fn poisoned(&self, failed: &str) -> Error {
        Error::Poisoned {
            path: self.path.clone(),
            detail: failed.to_string(),
        }
    }

    /// Appends a whole record; returns the offset just past it. Not durable yet.
    pub fn append(&self, record: &[u8]) -> Result<u64> {
        let start = {
            let state = self.state.lock();
            if let Some(failed) = &state.failed {
                return Err(self.poisoned(failed));
            }
            state.end
        };
        self.file
            .write_all_at(record, start)
            .map_err(|e| Error::io(&self.path, format!("append record at offset {start}"), e))?;
        let end = start + record.len() as u64;
        self.state.lock().end = end;
        Ok(end)
    }

    /// Waits until every byte before `end` is durable, syncing if no sync that covers it
    /// is under way. Errors with [`Error::Poisoned`] once a sync has failed.
    pub fn wait_durable(&self, end: u64) -> Result<()> {
        let mut state = self.state.lock();
        loop {
            if let Some(failed) = &state.failed {
                return Err(self.poisoned(failed));
            }
            if state.durable >= end {
                return Ok(());
            }
            if state.syncing {
                self.synced.wait(&mut state);
                continue;
            }
            state.syncing = true;
            let target = state.end;
            drop(state);
            let result = self.file.sync_data();
            self.sync_count.fetch_add(1, Ordering::Relaxed);
            state = self.state.lock();
            state.syncing = false;
            match result {
                Ok(()) => state.durable = state.durable.max(target),
                Err(error) => {
                    state.failed = Some(format!(
                        "fdatasync of {} failed: {error}",
                        self.path.display()
                    ))
                }
            }
            self.synced.notify_all();
        }
    }

    /// Makes everything appended so far durable.
    pub fn sync(&self) -> Result<()> {
        let end = self.end();
        self.wait_durable(end)
    }

    /// Fails with [`Error::Poisoned`] after a failed sync.
    pub fn check_poisoned(&self) -> Result<()> {
        match &self.state.lock().failed {
            Some(failed) => Err(self.poisoned(failed)),
            None => Ok(()),
        }
    }

    /// Cuts the log at `offset` (recovery from a torn tail) and syncs the cut.
    pub fn truncate(&self, offset: u64) -> Result<()> {
        self.file
            .set_len(offset)
            .and_then(|()| self.file.sync_all())
            .map_err(|e| Error::io(&self.path, format!("truncate log at offset {offset}"), e))?;
        let mut state = self.state.lock();
        state.end = offset;
        state.durable = offset;
        Ok(())
    }

    /// Maps the log as it is now, up to the last appended record.
    pub fn bytes(&self) -> Result<LogBytes> {
        map_file(&self.file, &self.path, self.end())
    }

    /// Maps the whole file, including anything past the last appended record.
    pub fn file_bytes(&self) -> Result<LogBytes> {
        let len = self
            .file
            .metadata()
            .map_err(|e| Error::io(&self.path, "stat", e))?
            .len();
        map_file(&self.file, &self.path, len)
    }
}

/// Writes a log holding only its header, durably, under its final name.
fn create_log(dir: &Path, path: &Path, header: LogHeader) -> Result<()> {
    let temporary = dir.join(format!("{LOG_FILE_NAME}.creating"));
    let file = File::create(&temporary).map_err(|e| Error::io(&temporary, "create", e))?;
    file.write_all_at(&header.encode(), 0)
        .map_err(|e| Error::io(&temporary, "write log header", e))?;
    file.sync_all()
        .map_err(|e| Error::io(&temporary, "fsync", e))?;
    std::fs::rename(&temporary, path).map_err(|e| Error::io(path, "rename new log", e))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, "fsync directory", e))
}
