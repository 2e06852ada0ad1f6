//! A commit log opened for reading only: the file given, or `northstar.log` in the
//! database directory given, mapped read-only with its header checked.
//!
//! Invariants:
//! - Nothing is written and no lock is taken, so a damaged log can be inspected exactly
//!   as it is (opening the database would cut a torn tail) and a log in use can be read.
//! - Every reason the file cannot be read as a log (missing, not a log, bad header, log
//!   of another database than the page file beside it) is a
//!   [`Failure::cannot_open`] (exit 3) that names the file.

use std::path::{Path, PathBuf};

use northstar::format::frame::LogHeader;
use northstar::format::meta::Meta;
use northstar::io::LogBytes;
use northstar::log::{read_log_file, LOG_FILE_NAME};
use northstar::pager::PAGE_FILE_NAME;
use northstar::TxnId;

use super::page_meta;
use super::walk::{seek, Step, Walker};
use crate::bytes;
use crate::failure::Failure;

/// A commit log mapped read-only.
pub struct LogSource {
    path: PathBuf,
    bytes: LogBytes,
    header: LogHeader,
    checkpoint: Option<Meta>,
}

impl LogSource {
    /// Opens the log at `path`: a log file, or a database directory holding one.
    ///
    /// Errors: [`Failure::cannot_open`] when the path is missing, holds no log, cannot be
    /// read, its header is not a valid log header, or its database id differs from that
    /// of the page file beside it.
    pub fn open(path: &Path) -> Result<LogSource, Failure> {
        let path = resolve(path)?;
        let cannot_read = |error: &dyn std::fmt::Display| {
            Failure::cannot_open(format!("cannot read log {}: {error}", path.display()))
        };
        let bytes = read_log_file(&path).map_err(|error| cannot_read(&error))?;
        let header = LogHeader::decode(&bytes).map_err(|detail| {
            Failure::cannot_open(format!(
                "{}: not a usable NorthstarDB commit log: {detail}",
                path.display()
            ))
        })?;
        let page_file = path.with_file_name(PAGE_FILE_NAME);
        let checkpoint = page_meta::newest_meta(&page_file);
        if let Some(meta) = &checkpoint {
            if meta.database_id != header.database_id {
                return Err(Failure::cannot_open(format!(
                    "{}: the log belongs to another database: its database id is {}, the page file {} has {}",
                    path.display(),
                    bytes::hex(&header.database_id),
                    page_file.display(),
                    bytes::hex(&meta.database_id)
                )));
            }
        }
        Ok(LogSource {
            path,
            bytes,
            header,
            checkpoint,
        })
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The whole file.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Size of the file in bytes.
    pub fn size(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// The checked file header.
    pub fn header(&self) -> &LogHeader {
        &self.header
    }

    /// The newest valid meta of the page file beside the log, when there is one.
    pub fn checkpoint(&self) -> Option<&Meta> {
        self.checkpoint.as_ref()
    }

    /// Every record from the first one on, past damage (see [`Walker`]).
    pub fn walk(&self) -> Walker<'_> {
        Walker::new(&self.bytes, &self.header)
    }

    /// The records from txn `from_txn_id` on; the ones before it are skipped by their
    /// headers alone (see [`seek`]).
    pub fn walk_from(&self, from_txn_id: TxnId) -> Walker<'_> {
        let (offset, txn_id) = seek(&self.bytes, &self.header, from_txn_id);
        Walker::at(&self.bytes, self.header.database_id, offset, txn_id)
    }

    /// The steps of a walk that concern txns `from..=to` (unbounded where `None`): the
    /// records in that range, and damage met before the walk passes `to`.
    pub fn walk_range(
        &self,
        from: Option<TxnId>,
        to: Option<TxnId>,
    ) -> impl Iterator<Item = Step<'_>> {
        let walker = match from {
            Some(from) => self.walk_from(from),
            None => self.walk(),
        };
        let (from, to) = (from.unwrap_or(0), to.unwrap_or(TxnId::MAX));
        walker
            .take_while(move |step| match step {
                Step::Record(_, record) => record.header.txn_id <= to,
                Step::Damage(damage) => damage.expected_txn_id <= to,
            })
            .filter(move |step| match step {
                Step::Record(_, record) => record.header.txn_id >= from,
                Step::Damage(_) => true,
            })
    }
}

fn resolve(path: &Path) -> Result<PathBuf, Failure> {
    let shown = path.display();
    if !path.exists() {
        return Err(Failure::cannot_open(format!(
            "cannot read log {shown}: no such file or directory"
        )));
    }
    if !path.is_dir() {
        return Ok(path.to_path_buf());
    }
    let log = path.join(LOG_FILE_NAME);
    if !log.is_file() {
        return Err(Failure::cannot_open(format!(
            "cannot read log: the directory {shown} holds no {LOG_FILE_NAME}"
        )));
    }
    Ok(log)
}
