//! Transactions: read snapshots, the single write txn, and keyspace handles.

pub(crate) mod keyspace;
mod read;
mod write;

pub use keyspace::{Keyspace, KeyspaceMut};
pub use read::ReadTxn;
pub use write::WriteTxn;
