//! Reading a commit log forward: records in order, and a verdict on where and why the
//! valid part ends.
//!
//! The decision table (see `spec/commit_record_v0.md`):
//! - the file ends exactly after a record: clean end;
//! - zeros, a short header or a record running past the end of the file, with no valid
//!   record after it: torn tail (an append cut short by a crash);
//! - a damaged or out-of-sequence record with no valid record after it: torn tail;
//! - a damaged or out-of-sequence record followed by a valid record: corruption in the
//!   middle, never skipped silently.

use crate::format::frame::{decode_record, FrameFault, Record, RECORD_ALIGN, RECORD_MAGIC};
use crate::TxnId;

/// Where the valid part of a log ends, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEnd {
    /// The file ends right after the last valid record.
    Clean {
        /// Offset just past the last record.
        offset: u64,
    },
    /// Bytes after the last valid record are an unfinished append: safe to cut.
    TornTail {
        /// Offset where the torn part starts (just past the last valid record).
        offset: u64,
        /// Bytes from there to the end of the file.
        bytes: u64,
        /// What was found there.
        detail: String,
    },
    /// A bad record is followed by valid ones: the log is damaged in the middle.
    Corrupt {
        /// Offset of the bad record.
        offset: u64,
        /// Txn id the bad record should have had.
        expected_txn_id: TxnId,
        /// Offset of the next valid record found after it.
        next_valid_offset: u64,
        /// What is wrong.
        detail: String,
    },
}

/// Forward scanner over a log's bytes.
pub struct Scanner<'a> {
    bytes: &'a [u8],
    at: u64,
    next_txn_id: TxnId,
    database_id: [u8; 16],
    end: Option<LogEnd>,
}

impl<'a> Scanner<'a> {
    /// Scans `bytes` (the whole file) from `offset`, expecting the record of txn
    /// `next_txn_id` there and consecutive txn ids after it.
    pub fn new(
        bytes: &'a [u8],
        offset: u64,
        next_txn_id: TxnId,
        database_id: [u8; 16],
    ) -> Scanner<'a> {
        Scanner {
            bytes,
            at: offset,
            next_txn_id,
            database_id,
            end: None,
        }
    }

    /// The verdict once the scan stopped (`None` while records keep coming).
    pub fn end(&self) -> Option<&LogEnd> {
        self.end.as_ref()
    }

    /// Offset of the next record to read.
    pub fn offset(&self) -> u64 {
        self.at
    }

    fn check(&self, record: &Record<'_>) -> Result<(), FrameFault> {
        if record.header.database_id != self.database_id {
            return Err(FrameFault::Bad("record belongs to another database".into()));
        }
        if record.header.txn_id != self.next_txn_id {
            return Err(FrameFault::Bad(format!(
                "record holds txn {}, expected txn {}",
                record.header.txn_id, self.next_txn_id
            )));
        }
        Ok(())
    }

    /// Runs the scan to its end without returning records; the verdict.
    pub fn finish(mut self) -> LogEnd {
        while self.next().is_some() {}
        self.end.expect("scan ended")
    }

    fn stop(&mut self, fault: FrameFault) {
        let rest = &self.bytes[self.at as usize..];
        let after_offset = match fault {
            FrameFault::Short { .. } => None,
            _ => find_valid_record(rest, self.next_txn_id, &self.database_id),
        };
        self.end = Some(match after_offset {
            Some(after) => LogEnd::Corrupt {
                offset: self.at,
                expected_txn_id: self.next_txn_id,
                next_valid_offset: self.at + after,
                detail: fault.to_string(),
            },
            None => LogEnd::TornTail {
                offset: self.at,
                bytes: rest.len() as u64,
                detail: fault.to_string(),
            },
        });
    }
}

impl<'a> Iterator for Scanner<'a> {
    /// The offset of a valid record, and the record.
    type Item = (u64, Record<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.end.is_some() {
            return None;
        }
        if self.at >= self.bytes.len() as u64 {
            self.end = Some(LogEnd::Clean { offset: self.at });
            return None;
        }
        let rest = &self.bytes[self.at as usize..];
        match decode_record(rest).and_then(|record| self.check(&record).map(|()| record)) {
            Ok(record) => {
                let offset = self.at;
                self.at += record.header.length;
                self.next_txn_id += 1;
                Some((offset, record))
            }
            Err(fault) => {
                self.stop(fault);
                None
            }
        }
    }
}

/// Offset (within `bytes`) of the first valid record after the start of `bytes` with a
/// txn id of at least `min_txn_id`, found by trying every aligned offset.
fn find_valid_record(bytes: &[u8], min_txn_id: TxnId, database_id: &[u8; 16]) -> Option<u64> {
    (RECORD_ALIGN..bytes.len())
        .step_by(RECORD_ALIGN)
        .find_map(|offset| {
            if bytes[offset..].get(..4) != Some(&RECORD_MAGIC[..]) {
                return None;
            }
            let record = decode_record(&bytes[offset..]).ok()?;
            (record.header.database_id == *database_id && record.header.txn_id >= min_txn_id)
                .then_some(offset as u64)
        })
}
