//! What only the writer touches: free pages, the newest txn (durable or not), and the
//! newest checkpoint. The writer slot's mutex guards it.

use super::freelist::FreeState;
use crate::format::meta::Meta;
use crate::PageId;

/// State of the single writer slot.
#[derive(Debug)]
pub struct WriterState {
    /// Free and pending pages, and the current txn's allocations.
    pub free: FreeState,
    /// Meta of the newest committed txn, appended to the log but maybe not durable yet.
    /// Its freelist fields are those of the newest checkpoint.
    pub head: Meta,
    /// Meta of the newest durable checkpoint.
    pub checkpoint: Meta,
    /// The meta slot holding `checkpoint`; the next checkpoint goes to the other one.
    pub checkpoint_slot: PageId,
    /// Commits since the newest checkpoint.
    pub commits_since_checkpoint: u64,
    /// When the newest checkpoint finished.
    pub checkpoint_time: std::time::Instant,
}
