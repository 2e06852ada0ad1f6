//! Walking the records of a commit log in order, past damage: every valid record, and
//! for each damaged stretch one [`Damage`] saying where it is, which txn was expected
//! there and where valid records resume.
//!
//! Invariants:
//! - Records come in file order with increasing txn ids; each was fully checked by the
//!   library's frame decoder (header, trailer, payload checksum, operations) and belongs
//!   to the log's database.
//! - Damage is classified by the library's scanner: a damaged stretch followed by a valid
//!   record is [`DamageKind::Corrupt`] and the walk resumes at that record; otherwise it is
//!   [`DamageKind::TornTail`] and the walk ends. A walk therefore always moves forward and
//!   ends.

use northstar::format::frame::{decode_header, decode_record, LogHeader, Record, LOG_HEADER_SIZE};
use northstar::log::{LogEnd, Scanner};
use northstar::TxnId;

/// How a damaged stretch of the log relates to the records after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DamageKind {
    /// Nothing valid follows: an append cut short (opening the database cuts it off).
    TornTail,
    /// Valid records follow: damage in the middle of the log.
    Corrupt,
}

/// One damaged stretch of a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Torn tail or corruption.
    pub kind: DamageKind,
    /// Where the stretch starts: just past the last valid record before it.
    pub offset: u64,
    /// The txn whose record should have started there.
    pub expected_txn_id: TxnId,
    /// Bytes in the stretch: up to the next valid record, or to the end of the file.
    pub size: u64,
    /// What the library found there.
    pub detail: String,
    /// Offset and txn id of the valid record the walk resumes at (corruption only).
    pub resumes_at: Option<(u64, TxnId)>,
}

/// One step of a walk.
pub enum Step<'a> {
    /// A valid record and its offset.
    Record(u64, Record<'a>),
    /// A damaged stretch.
    Damage(Damage),
}

/// The walk over a log's bytes (see the module invariants).
pub struct Walker<'a> {
    bytes: &'a [u8],
    database_id: [u8; 16],
    scanner: Option<Scanner<'a>>,
    next_txn_id: TxnId,
    offset: u64,
}

impl<'a> Walker<'a> {
    /// Walks the whole log `bytes` with file header `header`.
    pub fn new(bytes: &'a [u8], header: &LogHeader) -> Walker<'a> {
        Walker::at(
            bytes,
            header.database_id,
            LOG_HEADER_SIZE as u64,
            header.first_txn_id,
        )
    }

    /// Walks from `offset`, where the record of txn `txn_id` should start.
    pub fn at(bytes: &'a [u8], database_id: [u8; 16], offset: u64, txn_id: TxnId) -> Walker<'a> {
        Walker {
            bytes,
            database_id,
            scanner: Some(Scanner::new(bytes, offset, txn_id, database_id)),
            next_txn_id: txn_id,
            offset,
        }
    }

    /// Offset the walk has reached: just past the last record or damage it returned.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The damage the scanner stopped at, and where to go on from it.
    fn damage(&mut self, end: LogEnd) -> Option<Damage> {
        match end {
            LogEnd::Clean { .. } => None,
            LogEnd::TornTail {
                offset,
                bytes,
                detail,
            } => Some(Damage {
                kind: DamageKind::TornTail,
                offset,
                expected_txn_id: self.next_txn_id,
                size: bytes,
                detail,
                resumes_at: None,
            }),
            LogEnd::Corrupt {
                offset,
                expected_txn_id,
                next_valid_offset,
                detail,
            } => {
                // The scanner found a valid record there; its txn id is where to go on.
                let resumes_at = usize::try_from(next_valid_offset)
                    .ok()
                    .and_then(|start| self.bytes.get(start..))
                    .and_then(|rest| decode_record(rest).ok())
                    .map(|record| (next_valid_offset, record.header.txn_id));
                if let Some((resume_offset, txn_id)) = resumes_at {
                    self.scanner = Some(Scanner::new(
                        self.bytes,
                        resume_offset,
                        txn_id,
                        self.database_id,
                    ));
                    self.next_txn_id = txn_id;
                }
                Some(Damage {
                    kind: DamageKind::Corrupt,
                    offset,
                    expected_txn_id,
                    size: next_valid_offset - offset,
                    detail,
                    resumes_at,
                })
            }
        }
    }
}

impl<'a> Iterator for Walker<'a> {
    type Item = Step<'a>;

    fn next(&mut self) -> Option<Step<'a>> {
        let scanner = self.scanner.as_mut()?;
        if let Some((offset, record)) = scanner.next() {
            self.offset = offset + record.header.length;
            self.next_txn_id = record.header.txn_id + 1;
            return Some(Step::Record(offset, record));
        }
        let end = scanner
            .end()
            .expect("a scanner that stopped has a verdict")
            .clone();
        self.scanner = None;
        let damage = self.damage(end)?;
        self.offset = damage.offset + damage.size;
        Some(Step::Damage(damage))
    }
}

/// Offset and txn id of the record of txn `from_txn_id` (or of the first record, when the
/// log starts after it), found by hopping from record header to record header without
/// reading payloads. Hopping stops early at the first header that does not check out
/// (checksum, database id, txn id in sequence, length within the file), so a walk from
/// there reports that damage. A damaged payload of a hopped record is not noticed.
pub fn seek(bytes: &[u8], header: &LogHeader, from_txn_id: TxnId) -> (u64, TxnId) {
    let mut offset = LOG_HEADER_SIZE as u64;
    let mut txn_id = header.first_txn_id;
    while txn_id < from_txn_id {
        let Some(rest) = usize::try_from(offset).ok().and_then(|at| bytes.get(at..)) else {
            break;
        };
        match decode_header(rest) {
            Ok(record)
                if record.txn_id == txn_id
                    && record.database_id == header.database_id
                    && record.length <= rest.len() as u64 =>
            {
                offset += record.length;
                txn_id += 1;
            }
            _ => break,
        }
    }
    (offset, txn_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use northstar::format::frame::{Op, RecordBuilder};

    const DATABASE_ID: [u8; 16] = [7; 16];

    /// A log of `count` records, txns 1..=count, each putting one key; and record offsets.
    fn log(count: u64) -> (Vec<u8>, Vec<u64>) {
        let header = LogHeader {
            database_id: DATABASE_ID,
            first_txn_id: 1,
        };
        let mut bytes = header.encode().to_vec();
        let mut offsets = Vec::new();
        for txn_id in 1..=count {
            offsets.push(bytes.len() as u64);
            let key = format!("key {txn_id}");
            let op = Op::Put {
                keyspace: 0,
                key: key.as_bytes(),
                value: b"value",
            };
            // Each record is appended after the one before it was synced.
            let mut builder = RecordBuilder::default();
            builder.push(&op);
            let durable_before = bytes.len() as u64;
            bytes.extend(builder.finish(txn_id, &DATABASE_ID, durable_before));
        }
        (bytes, offsets)
    }

    fn walk(bytes: &[u8]) -> (Vec<TxnId>, Vec<Damage>) {
        let header = LogHeader::decode(bytes).unwrap();
        let mut txns = Vec::new();
        let mut damages = Vec::new();
        for step in Walker::new(bytes, &header) {
            match step {
                Step::Record(_, record) => txns.push(record.header.txn_id),
                Step::Damage(damage) => damages.push(damage),
            }
        }
        (txns, damages)
    }

    #[test]
    fn a_sound_log_walks_every_record_without_damage() {
        let (bytes, _) = log(5);
        assert_eq!(walk(&bytes), (vec![1, 2, 3, 4, 5], vec![]));
    }

    #[test]
    fn a_cut_last_record_is_a_torn_tail() {
        let (mut bytes, offsets) = log(3);
        bytes.truncate(offsets[2] as usize + 20);
        let (txns, damages) = walk(&bytes);
        assert_eq!(txns, [1, 2]);
        assert_eq!(damages.len(), 1);
        assert_eq!(damages[0].kind, DamageKind::TornTail);
        assert_eq!(damages[0].offset, offsets[2]);
        assert_eq!(damages[0].expected_txn_id, 3);
        assert_eq!(damages[0].size, 20);
    }

    #[test]
    fn a_damaged_middle_record_is_corruption_and_the_walk_goes_on() {
        let (mut bytes, offsets) = log(5);
        bytes[offsets[1] as usize + 60] ^= 0xff;
        let (txns, damages) = walk(&bytes);
        assert_eq!(txns, [1, 3, 4, 5]);
        assert_eq!(damages.len(), 1);
        assert_eq!(damages[0].kind, DamageKind::Corrupt);
        assert_eq!(damages[0].offset, offsets[1]);
        assert_eq!(damages[0].expected_txn_id, 2);
        assert_eq!(damages[0].resumes_at, Some((offsets[2], 3)));
        assert_eq!(damages[0].size, offsets[2] - offsets[1]);
    }

    #[test]
    fn seek_hops_headers_to_the_wanted_txn_and_stops_at_a_bad_header() {
        let (mut bytes, offsets) = log(5);
        let header = LogHeader::decode(&bytes).unwrap();
        assert_eq!(seek(&bytes, &header, 4), (offsets[3], 4));
        assert_eq!(seek(&bytes, &header, 0), (offsets[0], 1));
        assert_eq!(seek(&bytes, &header, 99).1, 6);
        bytes[offsets[2] as usize + 9] ^= 1;
        assert_eq!(seek(&bytes, &header, 5), (offsets[2], 3));
    }
}
