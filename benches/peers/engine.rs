//! The interface every engine under comparison implements, and the engines by name.
//!
//! Invariants:
//! - `write` is one transaction committed durably before it returns (each engine's
//!   strongest default: an fsync or fdatasync, or a log sync shared by waiting commits);
//!   `read` runs its closure inside one read snapshot.
//! - An engine owns exactly the files under the directory it was opened in, so file sizes
//!   are the sizes of those files and removing the directory removes the database.

use std::path::Path;

/// Reads inside one snapshot.
pub trait Reader {
    /// Size in bytes of the value stored under `key`, if there is one.
    fn get(&mut self, key: &[u8]) -> Option<usize>;
    /// Visits up to `count` entries in key order from the first key at or after `from`;
    /// returns how many it visited and the bytes of their keys and values.
    fn scan(&mut self, from: &[u8], count: usize) -> (usize, usize);
}

/// Changes inside one write transaction.
pub trait Writer {
    /// Inserts or replaces `key`.
    fn put(&mut self, key: &[u8], value: &[u8]);
    /// Removes `key`; returns whether it was there.
    fn remove(&mut self, key: &[u8]) -> bool;
}

/// One part of a database's footprint on disk: its label ("" for the main file) and size.
pub type FilePart = (&'static str, u64);

/// An embedded key-value store opened on a directory, shared by reference between threads.
/// Every failure panics with what failed: a benchmark has no use for a half-done result.
pub trait Engine: Sized + Sync {
    /// What `read` hands its closure.
    type Reader<'a>: Reader
    where
        Self: 'a;
    /// What `write` hands its closure.
    type Writer<'a>: Writer
    where
        Self: 'a;

    /// Opens the database in `dir` (an existing directory), creating it if it is empty.
    fn open(dir: &Path) -> Self;
    /// Closes the database cleanly, so the next `open` of `dir` sees every commit.
    fn close(self);
    /// Runs `work` in one read snapshot.
    fn read<T>(&self, work: impl FnOnce(&mut Self::Reader<'_>) -> T) -> T;
    /// Runs `work` in one write transaction and commits it durably.
    fn write<T>(&self, work: impl FnOnce(&mut Self::Writer<'_>) -> T) -> T;
    /// Begins a read snapshot and ends it.
    fn snapshot_open_close(&self);
    /// The files of the database as they are now, main file first.
    fn file_parts(&self) -> Vec<FilePart>;
}

/// The engines this benchmark knows, in table order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    /// NorthstarDB, the engine the others are compared with.
    Northstar,
    /// NorthstarDB with direct I/O and its own page cache.
    NorthstarDirect,
    /// redb.
    Redb,
    /// LMDB through heed.
    Lmdb,
    /// SQLite through rusqlite.
    Sqlite,
}

impl EngineKind {
    /// Every engine, in table order.
    pub const ALL: [EngineKind; 5] = [
        EngineKind::Northstar,
        EngineKind::NorthstarDirect,
        EngineKind::Redb,
        EngineKind::Lmdb,
        EngineKind::Sqlite,
    ];

    /// The name `--engines` takes.
    pub fn flag_name(self) -> &'static str {
        match self {
            EngineKind::Northstar => "northstar",
            EngineKind::NorthstarDirect => "northstar-direct",
            EngineKind::Redb => "redb",
            EngineKind::Lmdb => "lmdb",
            EngineKind::Sqlite => "sqlite",
        }
    }

    /// The name in the table.
    pub fn title(self) -> &'static str {
        match self {
            EngineKind::Northstar => "NorthstarDB",
            EngineKind::NorthstarDirect => "NorthstarDB (direct I/O)",
            EngineKind::Redb => "redb",
            EngineKind::Lmdb => "LMDB",
            EngineKind::Sqlite => "SQLite",
        }
    }

    /// The engine called `name` on the command line.
    pub fn from_flag_name(name: &str) -> Option<EngineKind> {
        EngineKind::ALL
            .into_iter()
            .find(|kind| kind.flag_name() == name.trim())
    }
}
