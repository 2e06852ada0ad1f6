//! Reading a commit log forward: records in order, and a verdict on where and why the
//! valid part ends.
//!
//! The decision table (see `spec/commit_record_v1.md`):
//! - the file ends exactly after a record: clean end;
//! - zeros, a short header or a record running past the end of the file, with no valid
//!   record after it: torn tail (an append cut short by a crash);
//! - a damaged or out-of-sequence record with no valid record after it: torn tail;
//! - a damaged record followed by valid records that were all appended before it was
//!   durable (their `durable_before` does not reach it): torn tail too — unsynced appends
//!   may reach the disk in any order, and none of them was acknowledged;
//! - a damaged record followed by a valid record appended after it was durable (or by a
//!   version 0 record, which does not say): corruption in the middle, never skipped.
//!
//! Zeros between the end of a record and the next 512-byte boundary are padding: appends
//! after a sync start on a fresh sector.

use crate::format::frame::{
    decode_record, FrameFault, Record, LOG_SECTOR_SIZE, RECORD_ALIGN, RECORD_MAGIC,
};
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
        if record.header.txn_id == TxnId::MAX {
            return Err(FrameFault::Bad(
                "record holds txn id u64::MAX, which no commit can have".into(),
            ));
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

    /// Ends the scan at the record that should start at `start` (just past the last valid
    /// record, or the sector boundary after its padding).
    fn stop(&mut self, fault: FrameFault, start: u64) {
        let rest = &self.bytes[start as usize..];
        let later = match fault {
            FrameFault::Short { .. } => None,
            _ => later_valid_records(rest, self.next_txn_id, &self.database_id),
        };
        let torn = |detail: String| LogEnd::TornTail {
            offset: self.at,
            bytes: self.bytes.len() as u64 - self.at,
            detail,
        };
        self.end = Some(match later {
            // A later record appended when the log was already durable past `start` proves
            // the bad record had been made durable: damage, not an unfinished append.
            Some((after, durable_before)) if durable_before > start => LogEnd::Corrupt {
                offset: start,
                expected_txn_id: self.next_txn_id,
                next_valid_offset: start + after,
                detail: fault.to_string(),
            },
            Some(_) => torn(format!(
                "{fault}; the valid records after it were appended before it was durable \
                 (unsynced appends that reached the disk out of order)"
            )),
            None => torn(fault.to_string()),
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
        let len = self.bytes.len() as u64;
        if self.at >= len {
            self.end = Some(LogEnd::Clean { offset: self.at });
            return None;
        }
        // A record appended after a sync starts on the next sector boundary; the gap is
        // zeros.
        let boundary = self.at.next_multiple_of(LOG_SECTOR_SIZE);
        let gap = &self.bytes[self.at as usize..boundary.min(len) as usize];
        let start = if boundary < len && gap.iter().all(|byte| *byte == 0) {
            boundary
        } else {
            self.at
        };
        let rest = &self.bytes[start as usize..];
        match decode_record(rest).and_then(|record| self.check(&record).map(|()| record)) {
            Ok(record) => {
                self.at = start + record.header.length;
                self.next_txn_id += 1;
                Some((start, record))
            }
            Err(fault) => {
                self.stop(fault, start);
                None
            }
        }
    }
}

/// The first valid record after the start of `bytes` with a txn id of at least
/// `min_txn_id` (its offset within `bytes`), and the largest durable offset any such
/// record names (`u64::MAX` for version 0 records, which name none), found by trying
/// every aligned offset.
fn later_valid_records(
    bytes: &[u8],
    min_txn_id: TxnId,
    database_id: &[u8; 16],
) -> Option<(u64, u64)> {
    let mut found: Option<(u64, u64)> = None;
    for offset in (RECORD_ALIGN..bytes.len()).step_by(RECORD_ALIGN) {
        if bytes[offset..].get(..4) != Some(&RECORD_MAGIC[..]) {
            continue;
        }
        let Ok(record) = decode_record(&bytes[offset..]) else {
            continue;
        };
        if record.header.database_id != *database_id || record.header.txn_id < min_txn_id {
            continue;
        }
        let durable = record.header.durable_before.unwrap_or(u64::MAX);
        found = Some(match found {
            Some((first, most)) => (first, most.max(durable)),
            None => (offset as u64, durable),
        });
    }
    found
}
