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
//! - An append never writes into a sector holding bytes that are durable or that a sync
//!   under way will make durable: it starts on the next sector instead. Appends hold the
//!   state lock through their write, so a sync's target is always a record boundary.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Condvar, Mutex};

use crate::format::frame::{LogHeader, RecordBuilder, LOG_HEADER_SIZE, LOG_SECTOR_SIZE};
use crate::io::{LogBytes, LogIo, OsLogIo, Storage};
use crate::{Error, Result, TxnId};

/// Name of the commit log inside a database directory.
pub const LOG_FILE_NAME: &str = "northstar.log";

struct SyncState {
    end: u64,
    durable: u64,
    /// The end a sync under way will make durable.
    syncing: Option<u64>,
    failed: Option<String>,
}

/// An open commit log.
pub struct LogFile {
    io: Box<dyn LogIo>,
    header: LogHeader,
    state: Mutex<SyncState>,
    synced: Condvar,
    sync_count: AtomicU64,
}

/// Reads a whole log file on the real file system without opening its database.
pub fn read_log_file(path: &Path) -> Result<LogBytes> {
    let io = OsLogIo::open_read_only(path)?;
    io.read(io.file_len()?)
}

impl LogFile {
    /// The bytes of a new log of database `database_id` whose first record will be txn
    /// `first_txn_id`: the file header alone.
    pub fn new_file(database_id: [u8; 16], first_txn_id: TxnId) -> [u8; LOG_HEADER_SIZE] {
        LogHeader {
            database_id,
            first_txn_id,
        }
        .encode()
    }

    /// Creates a new log (see [`LogFile::new_file`]) in `storage`, whole or not at all,
    /// and opens it. For tools and benchmarks that write a log without a database.
    ///
    /// Errors: [`Error::Io`]; those of [`LogFile::open`].
    pub fn create(
        storage: &dyn Storage,
        database_id: [u8; 16],
        first_txn_id: TxnId,
    ) -> Result<LogFile> {
        storage.create(LOG_FILE_NAME, &Self::new_file(database_id, first_txn_id))?;
        Self::open(storage)
    }

    /// Opens the log in `storage`, whose directory lock the caller holds. Whether it
    /// belongs to the same database as the page file is the caller's check (see
    /// [`LogFile::header`]).
    ///
    /// Errors: [`Error::Io`] (not found) when it is missing; [`Error::Corrupt`] at offset
    /// 0 when its header is short, damaged or not ours.
    pub fn open(storage: &dyn Storage) -> Result<LogFile> {
        let io = storage.open_log(LOG_FILE_NAME)?;
        // Whatever reached the file is made durable before anything is built on it.
        io.sync()?;
        let len = io.file_len()?;
        let bytes = io.read(len.min(LOG_HEADER_SIZE as u64))?;
        let header =
            LogHeader::decode(&bytes).map_err(|detail| Error::corrupt_log(io.path(), 0, detail))?;
        let state = SyncState {
            end: len,
            durable: len,
            syncing: None,
            failed: None,
        };
        Ok(LogFile {
            io,
            header,
            state: Mutex::new(state),
            synced: Condvar::new(),
            sync_count: AtomicU64::new(0),
        })
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        self.io.path()
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
            path: self.path().to_path_buf(),
            detail: failed.to_string(),
        }
    }

    /// Seals and appends the record of txn `txn_id`; returns the offset just past it. Not
    /// durable yet.
    ///
    /// When the sector holding the current end also holds durable bytes (the end of the
    /// last synced record, or the file header), the record starts on the next sector
    /// boundary instead: a torn write then cannot garble durable bytes. The gap is zeros.
    pub fn append(
        &self,
        record: &mut RecordBuilder,
        txn_id: TxnId,
        database_id: &[u8; 16],
    ) -> Result<u64> {
        // The lock is held through the write, so no sync starts between choosing where the
        // record goes and writing it; a sync under way protects its target like durable
        // bytes, since it may complete before or after this write reaches the disk.
        let mut state = self.state.lock();
        if let Some(failed) = &state.failed {
            return Err(self.poisoned(failed));
        }
        let protected = state.durable.max(state.syncing.unwrap_or(0));
        let sector_start = state.end - state.end % LOG_SECTOR_SIZE;
        let start = if state.end > sector_start && protected > sector_start {
            sector_start + LOG_SECTOR_SIZE
        } else {
            state.end
        };
        let record = record.finish(txn_id, database_id, state.durable);
        self.io.write_at(start, record)?;
        let end = start + record.len() as u64;
        state.end = end;
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
            if state.syncing.is_some() {
                self.synced.wait(&mut state);
                continue;
            }
            let target = state.end;
            state.syncing = Some(target);
            drop(state);
            let result = self.io.sync();
            self.sync_count.fetch_add(1, Ordering::Relaxed);
            state = self.state.lock();
            state.syncing = None;
            match result {
                Ok(()) => state.durable = state.durable.max(target),
                Err(error) => state.failed = Some(error.to_string()),
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

    /// Cuts the log at `offset` (recovery from a torn tail), durably.
    pub fn truncate(&self, offset: u64) -> Result<()> {
        self.io.truncate(offset)?;
        let mut state = self.state.lock();
        state.end = offset;
        state.durable = offset;
        Ok(())
    }

    /// The log as it is now, up to the last appended record.
    pub fn bytes(&self) -> Result<LogBytes> {
        self.io.read(self.end())
    }

    /// The whole file, including anything past the last appended record.
    pub fn file_bytes(&self) -> Result<LogBytes> {
        self.io.read(self.io.file_len()?)
    }
}
