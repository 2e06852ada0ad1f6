//! The one seam between the store and storage: [`Storage`] names and creates a database's
//! files; [`PageIo`] moves whole pages of the page file; [`LogIo`] appends to the commit log.
//!
//! Backends know nothing of page or record contents; checksums and kinds are the pager's
//! and the log's business. [`OsStorage`] is the real file system (mmap reads, `pwrite`
//! writes); [`sim::SimDisk`] is a simulated disk for crash and fault tests.

mod mmap;
mod os;
pub mod sim;

pub use mmap::MmapIo;
pub use os::{OsLogIo, OsStorage};

use std::path::Path;
use std::sync::Arc;

use crate::{PageId, Result};

/// Where a database's files live.
pub trait Storage: Send + Sync {
    /// The database directory (for messages; a simulated disk names one too).
    fn dir(&self) -> &Path;

    /// Whether file `name` exists.
    fn exists(&self, name: &str) -> Result<bool>;

    /// Creates file `name` holding `contents`, durably; the file appears under its name
    /// only once complete, so a crash leaves either nothing or the whole file.
    fn create(&self, name: &str, contents: &[u8]) -> Result<()>;

    /// Opens page file `name`, locked against every other handle.
    fn open_pages(&self, name: &str) -> Result<Box<dyn PageIo>>;

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

    /// Makes every write so far durable (fdatasync).
    fn sync(&self) -> Result<()>;
}
