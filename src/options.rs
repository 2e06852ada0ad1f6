//! Settings for opening a database.

use std::time::Duration;

use crate::io::{IoMode, PageIoConfig};

/// When a commit is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `commit()` returns once the commit record is on stable storage (one fdatasync of the
    /// log, shared by commits that wait together). A crash loses nothing acknowledged.
    #[default]
    Immediate,
    /// `commit()` returns after appending the record, without a sync; the commit is
    /// visible at once and durable at the next checkpoint, [`crate::Db::sync`] or clean
    /// close. A crash loses the commits since the last of those (never part of one, never
    /// a later one without the earlier ones).
    Deferred,
}

/// What open does with a damaged commit log record that is followed by valid records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogRecovery {
    /// Refuse to open with [`crate::Error::Corrupt`] naming the log and the offset.
    /// (A torn record at the very end is always cut: it is an unfinished append.)
    #[default]
    Strict,
    /// Cut the log at the damaged record, dropping it and every record after it, and open
    /// at the txn before it. The recovery report says what was cut.
    TruncateAtDamage,
}

/// How to open a database. `Options::default()` creates the database if it is missing,
/// commits with [`Durability::Immediate`] and retains no extra snapshots.
///
/// ```
/// use std::time::Duration;
/// let options = northstar::Options::default()
///     .durability(northstar::Durability::Deferred)
///     .checkpoint_every(10_000, 64 << 20, Duration::from_secs(30))
///     .retain_recent(16);
/// assert!(options.is_create());
/// ```
#[derive(Debug, Clone)]
pub struct Options {
    pub(crate) create: bool,
    pub(crate) verify_every_commit: bool,
    pub(crate) durability: Durability,
    pub(crate) checkpoint_commits: u64,
    pub(crate) checkpoint_bytes: u64,
    pub(crate) checkpoint_interval: Duration,
    pub(crate) dirty_pages_max: u64,
    pub(crate) background_checkpoints: bool,
    pub(crate) page_io: PageIoConfig,
    pub(crate) retain_recent: usize,
    pub(crate) retain_every: u64,
    pub(crate) retain_periodic: usize,
    pub(crate) log_recovery: LogRecovery,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            create: true,
            verify_every_commit: cfg!(feature = "verify"),
            durability: Durability::Immediate,
            checkpoint_commits: 10_000,
            checkpoint_bytes: 64 << 20,
            checkpoint_interval: Duration::from_secs(30),
            dirty_pages_max: (256 << 20) / crate::PAGE_SIZE as u64,
            background_checkpoints: true,
            page_io: PageIoConfig::default(),
            retain_recent: 0,
            retain_every: 0,
            retain_periodic: 8,
            log_recovery: LogRecovery::Strict,
        }
    }
}

impl Options {
    /// Whether a missing database is created (default `true`).
    pub fn create(mut self, create: bool) -> Self {
        self.create = create;
        self
    }

    /// Whether a missing database will be created.
    pub fn is_create(&self) -> bool {
        self.create
    }

    /// Runs the full validator after every commit and panics on any problem. Slow; for
    /// tests. On by default with the `verify` feature.
    pub fn verify_every_commit(mut self, verify: bool) -> Self {
        self.verify_every_commit = verify;
        self
    }

    /// When commits are durable (default [`Durability::Immediate`]).
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Checkpoint (write the pages commits changed, sync the page file and write a meta
    /// page) after `commits` commits, `bytes` bytes written (log records plus changed
    /// pages), or `interval`, whichever comes first since the last checkpoint. Defaults:
    /// 10,000 commits, 64 MiB, 30 s. A background thread runs them while commits go on;
    /// they also run on [`crate::Db::checkpoint`] and on close. Between checkpoints the
    /// changed pages live in the page cache and recovery replays the log.
    pub fn checkpoint_every(mut self, commits: u64, bytes: u64, interval: Duration) -> Self {
        self.checkpoint_commits = commits.max(1);
        self.checkpoint_bytes = bytes;
        self.checkpoint_interval = interval;
        self
    }

    /// Whether a background thread runs the checkpoints due by policy while commits go on
    /// (default `true`). With `false` the handle starts no thread, and the write txn that
    /// finds a checkpoint due runs it before it begins (one thread does all the work, in
    /// an order that repeats exactly: deterministic simulation tests use it).
    pub fn background_checkpoints(mut self, background: bool) -> Self {
        self.background_checkpoints = background;
        self
    }

    /// How the page file is read and written (default [`IoMode::Mmap`]). With
    /// [`IoMode::Direct`] every read goes through the store's own cache of clean pages
    /// ([`Options::cache_size`]) and the operating system caches none of the file.
    pub fn io_mode(mut self, mode: IoMode) -> Self {
        self.page_io.mode = mode;
        self
    }

    /// Bytes of clean pages the store's cache may hold in [`IoMode::Direct`] and
    /// [`IoMode::Buffered`] (default 256 MiB; at least 16 pages). Pages changed since the
    /// last checkpoint are held apart, within [`Options::dirty_limit`].
    pub fn cache_size(mut self, bytes: u64) -> Self {
        self.page_io.cache_size = bytes;
        self
    }

    /// Whether a file system that refuses `O_DIRECT` (tmpfs does) gets
    /// [`IoMode::Buffered`] instead of [`crate::Error::DirectIoUnsupported`] (default
    /// `false`). [`crate::Db::io_mode`] says which one runs.
    pub fn direct_io_fallback(mut self, fallback: bool) -> Self {
        self.page_io.fallback = fallback;
        self
    }

    /// How many bytes of changed pages may wait in the page cache for a checkpoint before
    /// a write txn that finds a checkpoint due waits for one to finish, rather than
    /// leaving it to the background thread (default 256 MiB).
    pub fn dirty_limit(mut self, bytes: u64) -> Self {
        self.dirty_pages_max = (bytes / crate::PAGE_SIZE as u64).max(1);
        self
    }

    /// Keeps the snapshots of the newest `count` txns, so AS OF reads of them need no log
    /// replay. Cost: pages those txns' successors freed are not reused while retained.
    pub fn retain_recent(mut self, count: usize) -> Self {
        self.retain_recent = count;
        self
    }

    /// Keeps the snapshot of every `every`-th txn, the newest `count` of them, so an AS OF
    /// read replays at most `every - 1` records. Cost: pages freed after the oldest kept
    /// snapshot are not reused while it is kept.
    pub fn retain_every(mut self, every: u64, count: usize) -> Self {
        self.retain_every = every;
        self.retain_periodic = count;
        self
    }

    /// What to do with a damaged log record followed by valid ones (default
    /// [`LogRecovery::Strict`]).
    pub fn log_recovery(mut self, recovery: LogRecovery) -> Self {
        self.log_recovery = recovery;
        self
    }
}
