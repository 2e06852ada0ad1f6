//! The one error type of the store.
//!
//! Corrupt bytes on disk are always an `Err` naming the file and the page id or offset; a
//! broken internal invariant is a bug and panics instead.

use std::path::PathBuf;

use crate::{PageId, TxnId};

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong when using a database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system call on `path` failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// File the call was about.
        path: PathBuf,
        /// What the store was doing, e.g. "write page 17".
        op: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// Bytes on disk are not what the store wrote. `page` names the page of a page file,
    /// `offset` the byte offset in a commit log, when known.
    #[error(
        "{}: corrupt{}{}: {detail}",
        path.display(),
        page.map(|p| format!(" page {p}")).unwrap_or_default(),
        offset.map(|o| format!(" at offset {o}")).unwrap_or_default()
    )]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// The damaged page, when the damage is within one page.
        page: Option<PageId>,
        /// Byte offset of the damage in a log file.
        offset: Option<u64>,
        /// What is wrong, in words.
        detail: String,
    },

    /// The file is not a NorthstarDB page file (no meta page carries our magic).
    #[error("{}: not a NorthstarDB database: {detail}", path.display())]
    NotADatabase {
        /// The file that was opened.
        path: PathBuf,
        /// Why it was rejected.
        detail: String,
    },

    /// The file was written by a format version this build does not read.
    #[error("{}: format version {found} is not supported (this build reads version {supported})", path.display())]
    UnsupportedVersion {
        /// The file that was opened.
        path: PathBuf,
        /// Version found in the meta page.
        found: u32,
        /// Version this build reads and writes.
        supported: u32,
    },

    /// Another handle, in this process or another, has the database open.
    #[error("{}: database is locked by another handle or process", path.display())]
    Locked {
        /// The database's lock file.
        path: PathBuf,
    },

    /// The file system refused `O_DIRECT` for the page file (tmpfs does) and the options
    /// allow no fallback to buffered I/O. Nothing was changed.
    #[error("{}: the file system refuses direct I/O (O_DIRECT): {source}; allow a fallback with Options::direct_io_fallback(true) or use IoMode::Mmap", path.display())]
    DirectIoUnsupported {
        /// The page file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// One of the database's files is missing while others are there: a page file without
    /// its commit log, or a log without its page file. Nothing was changed.
    #[error("{}: missing: {detail}", path.display())]
    MissingFile {
        /// The file that should be there.
        path: PathBuf,
        /// What is there instead, and what that means, in words.
        detail: String,
    },

    /// The page file and the commit log carry different database ids: they belong to two
    /// different databases. Nothing was changed.
    #[error(
        "{} and {} belong to different databases (database ids {} and {})",
        page_file.display(),
        log.display(),
        hex_id(page_file_database_id),
        hex_id(log_database_id)
    )]
    DatabaseMismatch {
        /// The page file.
        page_file: PathBuf,
        /// The commit log.
        log: PathBuf,
        /// The id in the page file's meta.
        page_file_database_id: [u8; 16],
        /// The id in the log's header.
        log_database_id: [u8; 16],
    },

    /// `try_begin_write` found the single writer slot taken.
    #[error("another write transaction is in progress")]
    WriteBusy,

    /// A key longer than [`crate::KEY_SIZE_MAX`].
    #[error("key of {len} bytes is larger than the maximum of {max} bytes")]
    KeyTooLarge {
        /// Length of the rejected key.
        len: usize,
        /// The limit.
        max: usize,
    },

    /// A value longer than [`crate::VALUE_SIZE_MAX`].
    #[error("value of {len} bytes is larger than the maximum of {max} bytes")]
    ValueTooLarge {
        /// Length of the rejected value.
        len: usize,
        /// The limit.
        max: usize,
    },

    /// No keyspace has this name.
    #[error("keyspace {0:?} does not exist")]
    KeyspaceNotFound(String),

    /// `create_keyspace` was given a name already in use.
    #[error("keyspace {0:?} already exists")]
    KeyspaceExists(String),

    /// A keyspace name that is empty or longer than [`crate::KEYSPACE_NAME_SIZE_MAX`].
    #[error("invalid keyspace name {0:?}: names are 1 to 255 bytes")]
    InvalidKeyspaceName(String),

    /// `begin_read_at` asked for a txn older than the oldest one still readable.
    #[error("txn {requested} is no longer readable: the oldest readable txn is {oldest}")]
    HistoryUnavailable {
        /// The txn asked for.
        requested: TxnId,
        /// The oldest txn that can be read.
        oldest: TxnId,
    },

    /// `begin_read_at` asked for a txn that has not committed yet.
    #[error("txn {requested} has not committed: the newest committed txn is {latest}")]
    FutureTxn {
        /// The txn asked for.
        requested: TxnId,
        /// The newest committed txn.
        latest: TxnId,
    },

    /// An earlier write or sync failed; the handle no longer accepts writes. Reopen the
    /// database to continue from the last durable commit.
    #[error("{}: handle is unusable after an earlier failed write or sync: {detail}", path.display())]
    Poisoned {
        /// The file whose write or sync failed.
        path: PathBuf,
        /// The first failure.
        detail: String,
    },
}

/// A database id as 32 hex digits.
fn hex_id(id: &[u8; 16]) -> String {
    id.iter().map(|byte| format!("{byte:02x}")).collect()
}

impl Error {
    pub(crate) fn io(
        path: impl Into<PathBuf>,
        op: impl Into<String>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            path: path.into(),
            op: op.into(),
            source,
        }
    }

    pub(crate) fn corrupt(
        path: impl Into<PathBuf>,
        page: Option<PageId>,
        detail: impl Into<String>,
    ) -> Self {
        Error::Corrupt {
            path: path.into(),
            page,
            offset: None,
            detail: detail.into(),
        }
    }

    pub(crate) fn corrupt_log(
        path: impl Into<PathBuf>,
        offset: u64,
        detail: impl Into<String>,
    ) -> Self {
        Error::Corrupt {
            path: path.into(),
            page: None,
            offset: Some(offset),
            detail: detail.into(),
        }
    }
}
