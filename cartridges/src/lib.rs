//! Cartridges: derived, memory-mapped indexes of a NorthstarDB database, built offline from
//! its commit log.
//!
//! A cartridge is an immutable file (`<db>/cartridges/<name>.cart`) whose header names its
//! kind, format version, build parameters, database id and the txn range `[from, to]` it
//! covers, with a CRC32C per section; sections are read in place through `zerocopy`
//! layouts. The same log always gives the same bytes. A query answers as of the
//! cartridge's `to`, or as of the database now by folding the log records after `to` into
//! memory; a catch-up writes a new cartridge (merging, when cheaper than a rebuild) and
//! swaps it in while readers finish on the old one. Kinds:
//!
//! - `key_history` ([`KeyHistory`]): every version of every key; AS OF point reads in
//!   O(log n) without replaying the log.
//! - `pending_tasks_by_type` ([`TaskQueue`]): pending tasks of the task-queue layout
//!   (`spec/task_queue_v1.md`) by type in priority order.
//! - user-defined [`Extractor`]s: secondary indexes; [`WordIndex`] is an example.
//!
//! ```
//! use northstar::{Db, Options};
//! use northstar_cartridges::{BuildOptions, Recipe, Shelf, TaskQueue, StateIndex};
//! use northstar_cartridges::tasks::{task_key, PendingTasks, Task, TaskState};
//!
//! let dir = tempfile::tempdir()?;
//! let db = Db::open(dir.path(), Options::default())?;
//! let mut txn = db.begin_write()?;
//! txn.create_keyspace("tasks")?;
//! for (id, priority) in [(1u64, 5u32), (2, 1), (3, 9)] {
//!     let task = Task { state: TaskState::Pending, priority, task_type: b"email", payload: b"" };
//!     txn.keyspace("tasks")?.put(&task_key(id), &task.encode())?;
//! }
//! txn.commit()?;
//!
//! let recipe = Recipe::PendingTasks(PendingTasks::default());
//! let (shelf, _) = Shelf::open(dir.path(), recipe, &BuildOptions::default())?;
//! let cartridge = shelf.current();
//! let queue = TaskQueue::new(StateIndex::new(&cartridge)?);
//! let next: Vec<u64> = queue.next_pending(b"email", 2).iter().map(|task| task.id).collect();
//! assert_eq!(next, [2, 1]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

mod build;
mod catalog;
mod delta;
mod entry;
mod error;
pub mod format;
mod kinds;
mod map;
mod sort;
mod source;
mod write;

pub use build::{
    build_at, cartridge_path, catch_up_at, BuildOptions, BuildReport, Method, Recipe,
    CARTRIDGE_DIR, CARTRIDGE_EXTENSION,
};
pub use catalog::{freshness, list, CartridgeInfo, Freshness, RebuildTrigger, Shelf};
pub use delta::{Delta, Lookup, SourceKey, Stamp, Version as DeltaVersion};
pub use error::{hex_id, CartridgeError, Result};
pub use kinds::extractor::{decode_source, Extractor, IndexEntry};
pub use kinds::key_history::{History, KeyHistory, KeyHistoryNow, Version};
pub use kinds::state::{IndexRead, StateIndex, StateNow};
pub use kinds::tasks::{PendingTask, TaskQueue};
pub use kinds::words::WordIndex;
pub use map::{Cartridge, SectionInfo, TableId};
pub use source::{Change, LogSource, Position};

/// The task-queue layout of `spec/task_queue_v1.md`: keys, values and keyspace names.
pub mod tasks {
    pub use crate::kinds::tasks::{
        source_task_id, task_key, PendingTasks, Task, TaskState, CLAIMS_KEYSPACE,
        COMPLETIONS_KEYSPACE, TASKS_KEYSPACE, TASK_HEAD_SIZE, TASK_LAYOUT_VERSION,
    };
}
