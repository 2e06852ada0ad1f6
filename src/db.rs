//! [`Db`]: one open database, shared by any number of threads.
//!
//! Invariants:
//! - `committed.meta` is the newest durable (or, with deferred durability, appended) txn
//!   that readers may see; readers pin its txn id in `committed.readers` under the same lock
//!   that hands the meta out, so the writer never reuses a page a reader is about to read.
//! - The `writer` mutex is the single writer slot. It owns the free pages, the newest txn
//!   (`head`, possibly not yet durable) and the newest checkpoint.
//! - The commit log holds exactly the committed txns, in order; the page file's meta is a
//!   checkpoint at some txn, and open replays the log records after it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use parking_lot::{Mutex, MutexGuard};

use crate::btree::{check_database, CheckReport};
use crate::checkpointer;
use crate::directory;
use crate::format::frame::LOG_HEADER_SIZE;
use crate::format::meta::Meta;
use crate::history::{AsOfTxn, Overlay, Retention};
use crate::io::{DirectoryLock, IoMode, LockMode, OsStorage, Storage};
use crate::log::{LogEnd, LogFile, Scanner};
use crate::pager::{Pager, View, WriterState, PAGE_FILE_NAME};
use crate::txn::{ReadTxn, WriteTxn};
use crate::{Error, LogRecovery, Options, Result, TxnId};

/// What open did to bring the database up to date.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Txn of the checkpoint open started from.
    pub checkpoint_txn_id: TxnId,
    /// Log records replayed on top of it.
    pub replayed_txns: u64,
    /// The newest txn after recovery.
    pub last_txn_id: TxnId,
    /// Set when the log's end was cut: the offset cut at, the bytes removed, and why.
    pub log_truncated: Option<(u64, u64, String)>,
}

/// An open NorthstarDB database: a directory holding the page file and the commit log.
///
/// `Db` is `Send + Sync`; share it with `Arc` or scoped threads. Only one `Db` (in any
/// process) can have a database open at a time: a second open gets [`Error::Locked`]
/// before it reads or creates any file. The lock is an `flock` on `northstar.lock` in the
/// directory, taken first and held until the `Db` is dropped: a child process forked while
/// the database is open holds it too until the child execs or exits, so a program that
/// spawns processes on other threads may briefly see [`Error::Locked`] when it reopens
/// right after closing.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let db = northstar::Db::open(dir.path().join("db"), northstar::Options::default())?;
/// let mut txn = db.begin_write()?;
/// txn.put(b"hello", b"world")?;
/// let txn_id = txn.commit()?;
/// let read = db.begin_read()?;
/// assert_eq!(read.txn_id(), txn_id);
/// assert_eq!(read.get(b"hello")?.as_deref(), Some(&b"world"[..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Db {
    pub(crate) shared: Arc<Shared>,
    dir: PathBuf,
    recovery: RecoveryReport,
    close_checkpoint: bool,
    checkpointer: Option<JoinHandle<()>>,
    /// The directory lock; last, so it is released only once both files are closed.
    lock: Option<Box<dyn DirectoryLock>>,
}

/// What the handle and its checkpointer thread share.
pub(crate) struct Shared {
    pub(crate) pager: Pager,
    pub(crate) log: LogFile,
    pub(crate) committed: Mutex<Committed>,
    pub(crate) writer: Mutex<WriterState>,
    pub(crate) options: Options,
    pub(crate) checkpoints: checkpointer::Signal,
}

pub(crate) struct Committed {
    pub(crate) meta: Meta,
    readers: BTreeMap<TxnId, usize>,
    retention: Retention,
}

impl Committed {
    fn oldest_pinned(&self) -> Option<TxnId> {
        let reader = self.readers.keys().next().copied();
        match (reader, self.retention.oldest()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

impl Db {
    /// Opens the database in directory `path`, creating it if `options` allow, and
    /// replays the commit log records after the newest checkpoint.
    ///
    /// A new database is created whole or not at all: a crash during creation leaves no
    /// database or a complete one (a creation cut short is finished by the next open).
    /// An open that fails changes no file of the directory.
    ///
    /// Errors: [`Error::Locked`] if another handle has it open; [`Error::NotADatabase`] if
    /// `path` is a file or its page file is not ours; [`Error::MissingFile`] when the page
    /// file or the commit log is there without the other; [`Error::DatabaseMismatch`] when
    /// they belong to different databases; [`Error::DirectIoUnsupported`] when
    /// [`Options::io_mode`] asks for direct I/O the file system refuses (and no fallback
    /// is allowed); [`Error::UnsupportedVersion`];
    /// [`Error::Corrupt`] when both meta pages are damaged, the file is truncated, or the
    /// log is damaged before its last record (see [`LogRecovery`]); [`Error::Io`] for
    /// operating-system failures (e.g. missing with `create(false)`).
    pub fn open(path: impl AsRef<Path>, options: Options) -> Result<Db> {
        let dir = path.as_ref().to_path_buf();
        if dir.is_file() {
            return Err(Error::NotADatabase {
                path: dir,
                detail: "this is a file; a database is a directory holding northstar.db".into(),
            });
        }
        Db::open_on(&OsStorage::new(dir), options)
    }

    /// Opens the database held by `storage` (the real file system, or a simulated disk for
    /// crash and fault tests); otherwise as [`Db::open`].
    pub fn open_on(storage: &dyn Storage, options: Options) -> Result<Db> {
        // The lock comes before any other file is created or read, so two openers can
        // never both create, and a refused open can take away what locking made.
        let lock = storage.lock(LockMode::Exclusive, options.create)?;
        match Db::open_locked(storage, options) {
            Ok(mut db) => {
                db.lock = Some(lock);
                Ok(db)
            }
            Err(error) => {
                lock.release_refused();
                Err(error)
            }
        }
    }

    fn open_locked(storage: &dyn Storage, options: Options) -> Result<Db> {
        let dir = storage.dir().to_path_buf();
        if options.page_io.mode == IoMode::Direct && !options.page_io.fallback {
            storage.check_direct_io(PAGE_FILE_NAME)?;
        }
        directory::prepare(storage, options.create)?;
        let opened = Pager::open_with(storage, &options.page_io)?;
        let meta = opened.meta;
        directory::require_log(storage)?;
        let log = LogFile::open(storage)?;
        if log.header().database_id != meta.database_id {
            return Err(Error::DatabaseMismatch {
                page_file: opened.pager.path().to_path_buf(),
                log: log.path().to_path_buf(),
                page_file_database_id: meta.database_id,
                log_database_id: log.header().database_id,
            });
        }
        let writer = WriterState {
            free: opened.free,
            head: meta,
            checkpoint: meta,
            checkpoint_slot: opened.slot,
            commits_since_checkpoint: 0,
            checkpoint_time: Instant::now(),
        };
        let shared = Shared {
            pager: opened.pager,
            log,
            committed: Mutex::new(Committed {
                meta,
                readers: BTreeMap::new(),
                retention: Retention::default(),
            }),
            writer: Mutex::new(writer),
            options,
            checkpoints: checkpointer::Signal::default(),
        };
        let mut db = Db {
            shared: Arc::new(shared),
            dir,
            recovery: RecoveryReport::default(),
            close_checkpoint: true,
            checkpointer: None,
            lock: None,
        };
        match db.recover() {
            Ok(report) => db.recovery = report,
            Err(error) => {
                // A refused open leaves the files as they were: no closing checkpoint of
                // records replayed before the failure.
                db.close_checkpoint = false;
                return Err(error);
            }
        }
        if db.shared.options.background_checkpoints {
            let shared = db.shared.clone();
            let thread = std::thread::Builder::new()
                .name("northstar-checkpointer".into())
                .spawn(move || shared.run_checkpointer())
                .map_err(|e| Error::io(&db.dir, "start the checkpointer thread", e))?;
            db.checkpointer = Some(thread);
        }
        Ok(db)
    }

    /// Replays the log after the checkpoint; cuts a torn tail; refuses a damaged middle.
    fn recover(&self) -> Result<RecoveryReport> {
        let checkpoint = self.shared.writer.lock().checkpoint;
        let start = if checkpoint.log_position == 0 {
            LOG_HEADER_SIZE as u64
        } else {
            checkpoint.log_position
        };
        // Whatever reached the file is made durable before anything is built on it.
        self.shared.log.sync()?;
        let bytes = self.shared.log.file_bytes()?;
        if start > bytes.len() as u64 {
            return Err(Error::corrupt_log(
                self.shared.log.path(),
                bytes.len() as u64,
                format!(
                    "the log ends before the checkpoint of txn {} at offset {start}",
                    checkpoint.txn_id
                ),
            ));
        }
        let mut report = RecoveryReport {
            checkpoint_txn_id: checkpoint.txn_id,
            ..RecoveryReport::default()
        };
        // Strict recovery decides before replaying anything: an open it refuses must leave
        // both files as they were (replayed records would otherwise be checkpointed on drop).
        if self.shared.options.log_recovery == LogRecovery::Strict {
            let verdict =
                Scanner::new(&bytes, start, checkpoint.txn_id + 1, checkpoint.database_id).finish();
            if let LogEnd::Corrupt {
                offset,
                expected_txn_id,
                next_valid_offset,
                detail,
            } = verdict
            {
                let detail = damaged_record_detail(expected_txn_id, &detail, next_valid_offset);
                return Err(Error::corrupt_log(self.shared.log.path(), offset, detail));
            }
        }
        let mut scanner =
            Scanner::new(&bytes, start, checkpoint.txn_id + 1, checkpoint.database_id);
        for (offset, record) in scanner.by_ref() {
            let end = offset + record.header.length;
            let mut txn = self.begin_write_at(Some(end))?;
            txn.apply_record(&record, |detail| {
                Error::corrupt_log(self.shared.log.path(), offset, detail)
            })?;
            txn.commit()?;
            report.replayed_txns += 1;
        }
        let verdict = scanner.end().expect("scan finished").clone();
        // Where the valid records end: a cut goes there, before any sector padding.
        let valid_end = scanner.offset();
        let file_len = bytes.len() as u64;
        // The map must be gone before the file is cut under it.
        drop(bytes);
        match verdict {
            LogEnd::Clean { .. } => {}
            LogEnd::TornTail {
                offset,
                bytes: cut,
                detail,
            } => {
                self.shared.log.truncate(offset)?;
                report.log_truncated = Some((offset, cut, detail));
            }
            LogEnd::Corrupt {
                offset,
                expected_txn_id,
                next_valid_offset,
                detail,
            } => {
                let detail = damaged_record_detail(expected_txn_id, &detail, next_valid_offset);
                if self.shared.options.log_recovery == LogRecovery::Strict {
                    return Err(Error::corrupt_log(self.shared.log.path(), offset, detail));
                }
                self.shared.log.truncate(valid_end)?;
                report.log_truncated = Some((valid_end, file_len - valid_end, detail));
            }
        }
        report.last_txn_id = self.last_txn_id();
        if report.replayed_txns > 0 {
            self.checkpoint()?;
        }
        Ok(report)
    }

    /// What open did: the checkpoint it started from, records replayed, log cut.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.recovery
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The page file inside the directory.
    pub fn page_file_path(&self) -> &Path {
        self.shared.pager.path()
    }

    /// The commit log inside the directory.
    pub fn log_path(&self) -> &Path {
        self.shared.log.path()
    }

    /// Id of the newest committed txn visible to readers (0 for a new database).
    pub fn last_txn_id(&self) -> TxnId {
        self.shared.committed.lock().meta.txn_id
    }

    /// Random id given to the database at creation.
    pub fn database_id(&self) -> [u8; 16] {
        self.shared.committed.lock().meta.database_id
    }

    /// How the page file is read and written: the mode asked for in
    /// [`Options::io_mode`], or [`IoMode::Buffered`] where direct I/O fell back.
    pub fn io_mode(&self) -> IoMode {
        self.shared.pager.io_mode()
    }

    /// Counters of the page cache: frames made by commits, written and retired by
    /// checkpoints, discarded unwritten, and reads served from it.
    pub fn cache_stats(&self) -> crate::CacheStats {
        self.shared.pager.cache_stats()
    }

    /// Number of log fdatasyncs issued by this handle (to measure group commit).
    pub fn log_sync_count(&self) -> u64 {
        self.shared.log.sync_count()
    }

    /// Starts a read txn on the newest committed state. Never waits for the writer.
    pub fn begin_read(&self) -> Result<ReadTxn<'_>> {
        let meta = {
            let mut committed = self.shared.committed.lock();
            let meta = committed.meta;
            *committed.readers.entry(meta.txn_id).or_insert(0) += 1;
            meta
        };
        Ok(ReadTxn::new(self, meta, self.shared.pager.view()))
    }

    /// A read txn on `meta`, which the caller made sure is still intact, registered
    /// under the committed lock it holds.
    fn read_at_meta(&self, committed: &mut Committed, meta: Meta) -> ReadTxn<'_> {
        *committed.readers.entry(meta.txn_id).or_insert(0) += 1;
        ReadTxn::new(self, meta, self.shared.pager.view())
    }

    pub(crate) fn end_read(&self, txn_id: TxnId) {
        let mut committed = self.shared.committed.lock();
        let count = committed
            .readers
            .get_mut(&txn_id)
            .expect("reader registered");
        *count -= 1;
        if *count == 0 {
            committed.readers.remove(&txn_id);
        }
    }

    /// A read view of the database exactly as it was after txn `txn_id`: the newest
    /// retained snapshot at or before it, plus the log records after that replayed into
    /// memory (see [`Options::retain_recent`] and [`Options::retain_every`]).
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let db = northstar::Db::open(dir.path(), Default::default())?;
    /// let mut txn = db.begin_write()?;
    /// txn.put("color", "red")?;
    /// let first = txn.commit()?;
    /// let mut txn = db.begin_write()?;
    /// txn.put("color", "blue")?;
    /// txn.commit()?;
    /// let then = db.begin_read_at(first)?;
    /// assert_eq!(then.get("color")?.as_deref(), Some(&b"red"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// Errors: [`Error::FutureTxn`] for a txn not committed yet;
    /// [`Error::HistoryUnavailable`] for a txn older than the oldest readable one.
    pub fn begin_read_at(&self, txn_id: TxnId) -> Result<AsOfTxn<'_>> {
        let base = {
            let mut committed = self.shared.committed.lock();
            let latest = committed.meta;
            if txn_id > latest.txn_id {
                return Err(Error::FutureTxn {
                    requested: txn_id,
                    latest: latest.txn_id,
                });
            }
            let base = if txn_id == latest.txn_id {
                Some(latest)
            } else {
                committed.retention.at_or_before(txn_id)
            };
            match base {
                Some(meta) => Some(self.read_at_meta(&mut committed, meta)),
                None if self.shared.log.header().first_txn_id == 1 => None,
                None => {
                    let oldest = committed.retention.oldest().unwrap_or(latest.txn_id);
                    return Err(Error::HistoryUnavailable {
                        requested: txn_id,
                        oldest,
                    });
                }
            }
        };
        let (mut overlay, start, view) = match &base {
            Some(base) => (
                Overlay::over(base.view(), base.meta())?,
                base.meta().log_position,
                Some(base.view()),
            ),
            None => (Overlay::empty(), LOG_HEADER_SIZE as u64, None),
        };
        let start = if start == 0 {
            LOG_HEADER_SIZE as u64
        } else {
            start
        };
        let mut replayed = 0;
        if overlay.txn_id() < txn_id {
            let bytes = self.shared.log.bytes()?;
            let database_id = self.shared.log.header().database_id;
            let mut scanner = Scanner::new(&bytes, start, overlay.txn_id() + 1, database_id);
            for (offset, record) in scanner.by_ref() {
                overlay
                    .apply(&record)
                    .map_err(|detail| Error::corrupt_log(self.shared.log.path(), offset, detail))?;
                replayed += 1;
                if overlay.txn_id() == txn_id {
                    break;
                }
            }
            if overlay.txn_id() != txn_id {
                // Name the record the scan stopped at, not where it started.
                let missing = overlay.txn_id() + 1;
                let (offset, detail) = match scanner.end() {
                    Some(
                        LogEnd::Corrupt { offset, detail, .. }
                        | LogEnd::TornTail { offset, detail, .. },
                    ) => (
                        *offset,
                        format!("record of txn {missing} is damaged ({detail}); reading AS OF txn {txn_id} needs it"),
                    ),
                    _ => (
                        scanner.offset(),
                        format!("the log ends before txn {missing}; reading AS OF txn {txn_id} needs it"),
                    ),
                };
                return Err(Error::corrupt_log(self.shared.log.path(), offset, detail));
            }
            overlay.count_entries(view)?;
        }
        Ok(AsOfTxn {
            base,
            overlay,
            replayed,
        })
    }

    /// Keeps the snapshot of the newest committed txn for AS OF reads until
    /// [`Db::unpin`]; returns its txn id. Pins nest. Cost: pages freed after it are not
    /// reused while pinned.
    pub fn pin_latest(&self) -> TxnId {
        let mut committed = self.shared.committed.lock();
        let meta = committed.meta;
        committed.retention.pin(meta);
        meta.txn_id
    }

    /// Releases one pin of `txn_id`; returns whether it was pinned.
    pub fn unpin(&self, txn_id: TxnId) -> bool {
        self.shared.committed.lock().retention.unpin(txn_id)
    }

    /// Starts the write txn, waiting while another one is open.
    ///
    /// Errors: [`Error::Poisoned`] after an earlier failed sync; errors of a checkpoint
    /// that was due (see [`Options::checkpoint_every`]).
    pub fn begin_write(&self) -> Result<WriteTxn<'_>> {
        let slot = self.shared.writer.lock();
        self.start_write(slot, None)
    }

    /// Starts the write txn, or returns [`Error::WriteBusy`] if one is open.
    pub fn try_begin_write(&self) -> Result<WriteTxn<'_>> {
        let slot = self.shared.writer.try_lock().ok_or(Error::WriteBusy)?;
        self.start_write(slot, None)
    }

    fn begin_write_at(&self, replay_end: Option<u64>) -> Result<WriteTxn<'_>> {
        let slot = self.shared.writer.lock();
        self.start_write(slot, replay_end)
    }

    fn start_write<'db>(
        &'db self,
        mut slot: MutexGuard<'db, WriterState>,
        replay_end: Option<u64>,
    ) -> Result<WriteTxn<'db>> {
        self.shared.check_poisoned()?;
        if replay_end.is_none() && self.shared.checkpoint_due(&slot) {
            if !self.shared.options.background_checkpoints {
                self.shared.checkpoint_holding_slot(&mut slot)?;
            } else if self.shared.pager.dirty_count() < self.shared.options.dirty_pages_max {
                self.shared.checkpoints.nudge();
            } else {
                // The checkpointer fell behind: this writer waits for one to finish.
                drop(slot);
                self.shared.checkpoint()?;
                slot = self.shared.writer.lock();
            }
        }
        let oldest_pinned = self.shared.committed.lock().oldest_pinned();
        slot.free.begin_txn(oldest_pinned, |page_id| {
            self.shared.pager.discard_frame(page_id)
        });
        Ok(WriteTxn::new(self, slot, replay_end))
    }

    /// Makes every commit so far durable (with [`crate::Durability::Deferred`], the
    /// moment its commits stop being at risk).
    pub fn sync(&self) -> Result<()> {
        self.shared.log.sync()
    }

    /// Checkpoints now: makes the page file durable and writes the meta page for the
    /// newest txn, so the next open replays nothing before it. Waits for a checkpoint the
    /// background thread is running. Commits go on meanwhile.
    ///
    /// Errors: [`Error::Poisoned`]; I/O errors (a failed write or sync poisons the handle
    /// when commits went on during the checkpoint; a failed sync always does).
    pub fn checkpoint(&self) -> Result<()> {
        self.shared.checkpoint()
    }

    /// What this handle's checkpoints did: count, failures, the newest one's txn, duration
    /// and pages written.
    pub fn checkpoint_stats(&self) -> crate::CheckpointStats {
        *self.shared.checkpoints.stats.lock()
    }

    /// Checkpoints and closes, returning any error (dropping a `Db` checkpoints too, but
    /// cannot report failure).
    pub fn close(self) -> Result<()> {
        self.checkpoint()
    }

    /// Runs the validator over the newest committed state (see [`CheckReport`]). Waits for
    /// the writer slot, so the check sees a quiet database; readers go on meanwhile.
    pub fn check(&self) -> Result<CheckReport> {
        // A checkpoint under way has planned a freelist not yet durable: wait for it.
        let _no_checkpoint = self.shared.checkpoints.running.lock();
        let slot = self.shared.writer.lock();
        self.shared
            .log
            .wait_durable(slot.head.log_position.max(LOG_HEADER_SIZE as u64))?;
        self.shared.publish(slot.head);
        let view: std::sync::Arc<View> = self.shared.pager.view();
        Ok(check_database(
            &view,
            &slot.head,
            &slot.checkpoint,
            slot.checkpoint_slot,
            &slot.free,
        ))
    }
}

/// What a damaged log record followed by valid ones is reported as.
fn damaged_record_detail(expected_txn_id: TxnId, detail: &str, next_valid_offset: u64) -> String {
    format!(
        "record of txn {expected_txn_id} is damaged ({detail}) and a valid record follows at offset {next_valid_offset}"
    )
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some(thread) = self.checkpointer.take() {
            self.shared.checkpoints.stop();
            let _ = thread.join();
        }
        // Best effort: an error here leaves the log to be replayed at the next open.
        if self.close_checkpoint {
            let _ = self.checkpoint();
        }
    }
}

impl Shared {
    /// Makes the newest txn visible to readers (never moving backwards) and retains its
    /// snapshot under the retention policy.
    pub(crate) fn publish(&self, meta: Meta) {
        let mut committed = self.committed.lock();
        if meta.txn_id > committed.meta.txn_id {
            committed.meta = meta;
            committed.retention.on_publish(&meta, &self.options);
        }
    }

    pub(crate) fn check_poisoned(&self) -> Result<()> {
        self.pager.check_poisoned()?;
        self.log.check_poisoned()
    }
}
