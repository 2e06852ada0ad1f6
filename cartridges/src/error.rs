//! The one error type of the cartridge crate.
//!
//! Invariants: damaged or foreign bytes in a cartridge file are always an `Err` naming the
//! file, the section and the byte offset of what is wrong; a broken internal invariant is
//! a bug and panics instead.

use std::path::{Path, PathBuf};

use northstar::TxnId;

/// Result alias of the crate.
pub type Result<T, E = CartridgeError> = std::result::Result<T, E>;

/// Everything that can go wrong building, opening or querying a cartridge.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CartridgeError {
    /// An operating-system call on `path` failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// File the call was about.
        path: PathBuf,
        /// What was being done, e.g. "rename into place".
        op: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// The bytes of a cartridge are damaged: a CRC, a bound or an ordering does not check.
    #[error("{}: corrupt cartridge, section {section} at offset {offset}: {detail}", path.display())]
    Corrupt {
        /// The cartridge file.
        path: PathBuf,
        /// Section name (`header` and `section table` for the file's first bytes).
        section: &'static str,
        /// Byte offset in the file where the damage was found.
        offset: u64,
        /// What is wrong.
        detail: String,
    },

    /// The file does not start with the cartridge magic.
    #[error("{}: not a cartridge (section header at offset 0): {detail}", path.display())]
    NotACartridge {
        /// The file.
        path: PathBuf,
        /// Why it was rejected.
        detail: String,
    },

    /// The file needs a reader of a newer format version than this build.
    #[error(
        "{}: cartridge format version {found} needs a reader of version {reader_min} \
         (section header at offset 8); this build reads version {supported}",
        path.display()
    )]
    NewerVersion {
        /// The file.
        path: PathBuf,
        /// Format version that wrote it.
        found: u32,
        /// Oldest reader version it allows.
        reader_min: u32,
        /// Version this build reads and writes.
        supported: u32,
    },

    /// The cartridge was built from another database's log.
    #[error(
        "{}: cartridge belongs to database {found} (section header at offset 32), not {expected}",
        path.display()
    )]
    WrongDatabase {
        /// The file.
        path: PathBuf,
        /// Database id the caller expected, in hex.
        expected: String,
        /// Database id in the file, in hex.
        found: String,
    },

    /// The cartridge is of another kind than the caller asked for.
    #[error("{}: cartridge is of kind {found}, expected {expected}", path.display())]
    WrongKind {
        /// The file.
        path: PathBuf,
        /// Kind the caller asked for.
        expected: String,
        /// Kind in the file.
        found: String,
    },

    /// A query asked for a txn the cartridge (and its delta) do not cover.
    #[error("{}: txn {requested} is outside the covered range [{from}, {to}]", path.display())]
    TxnOutOfRange {
        /// The file.
        path: PathBuf,
        /// Txn asked for.
        requested: TxnId,
        /// First covered txn.
        from: TxnId,
        /// Last covered txn.
        to: TxnId,
    },

    /// The log no longer holds what the cartridge covers (truncated past its range, or its
    /// history cut below what a merge needs).
    #[error("{}: the commit log {detail}", path.display())]
    LogMismatch {
        /// The cartridge file.
        path: PathBuf,
        /// What differs.
        detail: String,
    },

    /// A build or query parameter is not usable.
    #[error("invalid cartridge parameters: {0}")]
    InvalidParams(String),

    /// Reading the commit log failed (damaged log, missing file, ...).
    #[error(transparent)]
    Log(#[from] northstar::Error),
}

impl CartridgeError {
    /// An I/O error on `path` while doing `op`.
    pub(crate) fn io(path: &Path, op: impl Into<String>, source: std::io::Error) -> Self {
        CartridgeError::Io {
            path: path.to_path_buf(),
            op: op.into(),
            source,
        }
    }

    /// Damage in `section` of the cartridge at `path`, at file offset `offset`.
    pub(crate) fn corrupt(
        path: &Path,
        section: &'static str,
        offset: u64,
        detail: impl Into<String>,
    ) -> Self {
        CartridgeError::Corrupt {
            path: path.to_path_buf(),
            section,
            offset,
            detail: detail.into(),
        }
    }
}

/// A database id as 32 hex digits.
pub fn hex_id(id: &[u8; 16]) -> String {
    id.iter().map(|byte| format!("{byte:02x}")).collect()
}
