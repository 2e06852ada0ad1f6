//! The copy-on-write B+tree: node codecs in memory, lookups, cursors, changes, checks.

mod check;
mod cursor;
mod node;
mod search;
mod write;

pub use check::{check_database, CheckReport, Problem, TreeStats};
pub use cursor::{Cursor, Range};
pub use search::{Source, Value};
pub use write::TreeWriter;
