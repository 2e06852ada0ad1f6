//! History: AS OF views built from retained snapshots and the commit log, retention, and
//! replay of the log into memory.

mod overlay;
mod replay;
mod retention;
mod view;

pub use overlay::Overlay;
pub use replay::{replay, Replayed};
pub use retention::Retention;
pub use view::{AsOfKeyspace, AsOfRange, AsOfTxn};
