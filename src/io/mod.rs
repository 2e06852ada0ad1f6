//! The one seam between the store and storage: [`Storage`] names and creates a database's
//! files; [`PageIo`] moves whole pages of the page file; [`LogIo`] appends to the commit log.
//!
//! Backends know nothing of page or record contents; checksums and kinds are the pager's
//! and the log's business. [`OsStorage`] is the real file system (mmap reads, `pwrite`
//! writes); [`sim::SimDisk`] is a simulated disk for crash and fault tests.

mod clock;
mod direct;
mod frame;
mod lock;
mod mmap;
mod os;
pub mod sim;

pub use clock::ClockStats;
pub use direct::DirectIo;
pub use frame::{Frame, FRAME_ALIGN};
pub use lock::OsDirectoryLock;
pub(crate) use mmap::allocate;
pub use mmap::MmapIo;
pub use os::{OsLogIo, OsStorage};

use std::path::Path;
use std::sync::Arc;

use crate::{PageId, Result};

/// How the page file is read and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IoMode {
    /// Reads through a shared memory map, writes with `pwrite` (the LMDB-like path): the
    /// operating system's page cache holds the file.
    #[default]
    Mmap,
    /// `O_DIRECT` reads and writes of 4 KiB-aligned buffers; every read goes through the
    /// store's own cache of clean pages (`Options::cache_size`).
    Direct,
    /// `pread`/`pwrite` through the store's cache, without `O_DIRECT`: what a direct open
    /// falls back to where the file system refuses `O_DIRECT`, if the options allow it.
    Buffered,
}

impl IoMode {
    /// The mode's name, as `stat` shows it.
    pub fn name(self) -> &'static str {
        match self {
            IoMode::Mmap => "mmap",
            IoMode::Direct => "direct",
            IoMode::Buffered => "buffered",
        }
    }
}

/// How to open the page file: the I/O mode asked for, the clean-page cache's budget (for
/// the modes that have one), and whether a refused `O_DIRECT` may fall back to buffered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageIoConfig {
    /// The mode asked for.
    pub mode: IoMode,
    /// Bytes of clean pages the store's cache may hold.
    pub cache_size: u64,
    /// Whether [`IoMode::Direct`] may fall back to [`IoMode::Buffered`].
    pub fallback: bool,
}

impl Default for PageIoConfig {
    fn default() -> Self {
        PageIoConfig {
            mode: IoMode::Mmap,
            cache_size: 256 << 20,
            fallback: false,
        }
    }
}

/// Name of the lock file inside a database directory.
pub const LOCK_FILE_NAME: &str = "northstar.lock";

/// How a handle holds a database directory's lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// The one handle that may write: excludes every other handle, shared or exclusive.
    Exclusive,
    /// A handle that only reads: excludes exclusive ones, not other shared ones.
    Shared,
}

/// A database directory's lock, held until dropped.
pub trait DirectoryLock: Send + Sync {
    /// Releases the lock after a refused open, removing what taking it created (the lock
    /// file, and the directory when it was made for this open and is empty), so a refused
    /// open leaves the directory as it found it.
    fn release_refused(self: Box<Self>);
}

/// Where a database's files live.
///
/// Every method but [`Storage::lock`] assumes the caller holds the directory's lock.
pub trait Storage: Send + Sync {
    /// The database directory (for messages; a simulated disk names one too).
    fn dir(&self) -> &Path;

    /// Takes the directory's lock without waiting, before any other file is created or
    /// read. With `create`, a missing directory and lock file are made first.
    ///
    /// Errors: [`crate::Error::Locked`] when another handle (in any process or thread)
    /// holds it in a conflicting mode; [`crate::Error::Io`] when the directory is
    /// missing without `create`, or on an operating-system failure.
    fn lock(&self, mode: LockMode, create: bool) -> Result<Box<dyn DirectoryLock>>;

    /// Whether file `name` exists.
    fn exists(&self, name: &str) -> Result<bool>;

    /// Fails when the directory's file system refuses `O_DIRECT`, so a direct open is
    /// refused before it creates anything. The default (a simulated disk) accepts it.
    ///
    /// Errors: [`crate::Error::DirectIoUnsupported`] naming `page_file`.
    fn check_direct_io(&self, _page_file: &str) -> Result<()> {
        Ok(())
    }

    /// Up to `len_max` bytes from the start of file `name`, and the file's length; `None`
    /// when the file does not exist.
    fn read_start(&self, name: &str, len_max: usize) -> Result<Option<(Vec<u8>, u64)>>;

    /// Creates (or replaces) file `name` holding `contents` and makes its contents
    /// durable. Its directory entry is durable only after [`Storage::sync_dir`].
    fn write_new(&self, name: &str, contents: &[u8]) -> Result<()>;

    /// Renames file `from` to `to`, replacing any `to`, atomically. Durable after
    /// [`Storage::sync_dir`].
    fn rename(&self, from: &str, to: &str) -> Result<()>;

    /// Removes file `name`. Durable after [`Storage::sync_dir`].
    fn remove(&self, name: &str) -> Result<()>;

    /// Makes every creation, rename and removal in the directory so far durable.
    fn sync_dir(&self) -> Result<()>;

    /// Creates file `name` holding `contents`, durably; the file appears under its name
    /// only once complete (written under `name.creating`, synced, renamed, the directory
    /// synced), so a crash leaves either nothing or the whole file.
    fn create(&self, name: &str, contents: &[u8]) -> Result<()> {
        let temporary = format!("{name}.creating");
        self.write_new(&temporary, contents)?;
        self.rename(&temporary, name)?;
        self.sync_dir()
    }

    /// Opens page file `name` for reading and writing as `config` asks (the directory lock
    /// is the caller's). A simulated disk has one backend of its own and ignores `config`.
    ///
    /// Errors: [`crate::Error::DirectIoUnsupported`] when `O_DIRECT` is refused and no
    /// fallback is allowed; [`crate::Error::Io`].
    fn open_pages(&self, name: &str, config: &PageIoConfig) -> Result<Box<dyn PageIo>>;

    /// Opens log file `name`.
    fn open_log(&self, name: &str) -> Result<Box<dyn LogIo>>;
}

/// The bytes of a log, read at one moment.
pub enum LogBytes {
    /// A read-only map of a file.
    Mapped(memmap2::Mmap, usize),
    /// A copy.
    Owned(Vec<u8>),
}

impl std::ops::Deref for LogBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            LogBytes::Mapped(map, len) => &map[..*len],
            LogBytes::Owned(bytes) => bytes,
        }
    }
}

/// Storage backend for the commit log: appends at known offsets, syncs, cuts.
///
/// Threading: `read` and `len` from any thread; writes only from the writer.
pub trait LogIo: Send + Sync {
    /// The file, for messages.
    fn path(&self) -> &Path;

    /// Current length in bytes.
    fn file_len(&self) -> Result<u64>;

    /// Bytes `0..len` of the file.
    fn read(&self, len: u64) -> Result<LogBytes>;

    /// Writes `bytes` at `offset`. Not durable until [`LogIo::sync`].
    fn write_at(&self, offset: u64, bytes: &[u8]) -> Result<()>;

    /// Makes every write so far durable (fdatasync).
    fn sync(&self) -> Result<()>;

    /// Cuts the file to `len` bytes, durably.
    fn truncate(&self, len: u64) -> Result<()>;
}

/// A stable read view of the file: pages stay readable at the same address for as long as
/// the view lives, even while the file grows behind it.
pub trait PageView: Send + Sync {
    /// Bytes of page `page_id`, or `None` past the end of the view.
    fn page(&self, page_id: PageId) -> Option<&[u8]>;

    /// Pages this view covers.
    fn page_count(&self) -> u64;
}

/// Storage backend for the page file.
///
/// Threading: every method may be called from any thread; the store calls the writing
/// methods from the single writer only.
pub trait PageIo: Send + Sync {
    /// The file this backend reads and writes, for error messages.
    fn path(&self) -> &Path;

    /// A read view of the file as it is now.
    fn view(&self) -> Arc<dyn PageView>;

    /// Makes the file hold at least `page_count` pages, growing in chunks.
    fn grow(&self, page_count: u64) -> Result<()>;

    /// Writes one full page at `page_id`. Not durable until [`PageIo::sync`].
    fn write_page(&self, page_id: PageId, bytes: &[u8]) -> Result<()>;

    /// Writes consecutive full pages starting at `first` (`bytes` is a multiple of a page)
    /// with as few calls as the backend allows. Not durable until [`PageIo::sync`].
    fn write_pages(&self, first: PageId, bytes: &[u8]) -> Result<()> {
        for (index, page) in bytes.chunks(crate::PAGE_SIZE).enumerate() {
            self.write_page(first + index as u64, page)?;
        }
        Ok(())
    }

    /// Makes every write so far durable (fdatasync).
    fn sync(&self) -> Result<()>;

    /// Starts writing pages `first..first + count` back to the device without waiting,
    /// and waits for the writeback started by the previous call to finish, so a large
    /// checkpoint keeps only a bounded amount of writeback queued ahead of the log's syncs.
    /// Durability still comes only from [`PageIo::sync`]. The default does nothing.
    fn write_back(&self, _first: PageId, _count: u64, _previous: Option<(PageId, u64)>) {}

    /// The mode this backend runs in.
    fn mode(&self) -> IoMode {
        IoMode::Mmap
    }

    /// Whether views handed out long ago keep enough evicted memory that a new view
    /// should be made (so it is freed as old readers finish).
    fn wants_new_view(&self) -> bool {
        false
    }

    /// The counters of the backend's own clean-page cache, where it has one.
    fn clean_cache_stats(&self) -> Option<ClockStats> {
        None
    }
}
