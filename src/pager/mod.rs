//! Pages on disk: the page file, meta A/B, the free-page list and the checked read view.

mod cache;
mod file;
mod freelist;
mod view;
mod writer;

pub use cache::{CacheStats, Frame, PageCache};
pub(crate) use file::{is_new_database_file, new_database_file, new_database_id};
pub use file::{read_meta_slot, write_freelist, Opened, Pager, PAGE_FILE_NAME};
pub use freelist::{FreeState, FreelistPlan, FIRST_DATA_PAGE};
pub use view::View;
pub use writer::WriterState;
