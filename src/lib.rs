//! NorthstarDB: an embedded, crash-safe key-value store with copy-on-write B+trees,
//! one writer and many snapshot readers, linked into a program the way LMDB or redb are.
//!
//! A database is a directory holding a page file of 16 KiB pages. Every page carries a
//! CRC32C; two meta pages (A and B) are written alternately so a torn meta write loses to
//! the other one. Readers see a consistent snapshot and never block the writer.
//!
//! ```
//! use northstar::{Db, Options};
//!
//! let dir = tempfile::tempdir()?;
//! let db = Db::open(dir.path().join("demo"), Options::default())?;
//!
//! let mut txn = db.begin_write()?;
//! txn.put(b"apple", b"red")?;
//! txn.put(b"banana", b"yellow")?;
//! txn.create_keyspace("users")?;
//! txn.keyspace("users")?.put(b"u1", b"ada")?;
//! txn.commit()?;
//!
//! let read = db.begin_read()?;
//! assert_eq!(read.get(b"apple")?.as_deref(), Some(&b"red"[..]));
//! let fruits: Vec<_> = read.prefix(b"b")?.collect::<Result<_, _>>()?;
//! assert_eq!(fruits.len(), 1);
//! assert_eq!(read.keyspace("users")?.get(b"u1")?.as_deref(), Some(&b"ada"[..]));
//! assert!(db.check()?.is_ok());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

mod btree;
mod checkpointer;
mod db;
mod directory;
mod error;
pub mod format;
mod history;
pub mod io;
mod limits;
pub mod log;
mod options;
pub mod pager;
mod txn;

pub use btree::{CheckReport, Cursor, Problem, Range, TreeStats, Value};
pub use checkpointer::CheckpointStats;
pub use db::{Db, RecoveryReport};
pub use error::{Error, Result};
pub use history::{replay, AsOfKeyspace, AsOfRange, AsOfTxn, Replayed};
pub use io::IoMode;
pub use limits::{KEYSPACE_NAME_SIZE_MAX, KEY_SIZE_MAX, PAGE_SIZE, TREE_DEPTH_MAX, VALUE_SIZE_MAX};
pub use options::{Durability, LogRecovery, Options};
pub use pager::CacheStats;
pub use txn::{Keyspace, KeyspaceMut, ReadTxn, WriteTxn};

// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// Index of a page in the page file (page `n` starts at byte `n * PAGE_SIZE`).
pub type PageId = u64;

/// Id of a committed write transaction; ids increase by one per commit.
pub type TxnId = u64;
