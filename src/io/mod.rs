//! The one seam between the store and storage: [`PageIo`].
//!
//! A backend moves whole pages between memory and one file. It knows nothing of page
//! contents; checksums and kinds are the pager's business.

mod mmap;

pub use mmap::MmapIo;

use std::path::Path;
use std::sync::Arc;

use crate::{PageId, Result};

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
