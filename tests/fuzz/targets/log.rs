//! Target `log_record_decode`: any bytes as commit log records, and logs of records built
//! from fuzzer-chosen operations.
//!
//! Properties checked:
//! - `LogHeader::decode`, `decode_header`, `decode_record`, `length_from_trailer` and the
//!   `Scanner` never panic on any bytes; the same bytes with their record checksums
//!   recomputed ("re-sealed") reach the operation parser and the scanner's later cases.
//! - A decoded record of the current version re-encodes to its bytes (an older one to its
//!   operations); the scanner returns records back to back, or after zeros up to a sector
//!   boundary, with consecutive txn ids, and its verdict is consistent (a clean end is the
//!   end of the file, a torn tail runs to the end, a damaged middle names a valid record
//!   after it).
//! - Records built with `RecordBuilder` decode to the same operations. A log of them, laid
//!   out as the log writer does (synced after every record, or never), scans clean; cut
//!   anywhere, it is a torn tail after the last whole record; with one bit flipped, the
//!   scan stops there, as a damaged middle exactly when a later record was appended after
//!   the flipped byte was durable, else as a torn tail.

use northstar::format::frame::{
    decode_header, decode_record, length_from_trailer, record_length, LogHeader, Op, Record,
    RecordBuilder, LOG_HEADER_SIZE, LOG_SECTOR_SIZE, LOG_VERSION, RECORD_ALIGN, RECORD_HEADER_SIZE,
    RECORD_HEADER_SIZE_V0, RECORD_MAGIC, RECORD_TRAILER_SIZE, RECORD_VERSION, TRAILER_MAGIC,
};
use northstar::log::{LogEnd, Scanner};

use crate::input::Input;

/// Runs the target on one input.
pub fn run(data: &[u8]) {
    decode_raw(data);
    let mut log = log_header(first_record_ids(data)).to_vec();
    log.extend_from_slice(data);
    scan(&log);
    reseal_records(&mut log);
    scan(&log);
    built_records(&mut Input::new(data));
}

/// The database id and txn id of the record at the start of `bytes` (zeros if too short),
/// so that a scan expects what the fuzzer wrote there.
fn first_record_ids(bytes: &[u8]) -> ([u8; 16], u64) {
    let mut database_id = [0u8; 16];
    let mut txn_id = [0u8; 8];
    if bytes.len() >= RECORD_HEADER_SIZE_V0 {
        database_id.copy_from_slice(&bytes[24..40]);
        txn_id.copy_from_slice(&bytes[16..24]);
    }
    // Below u64::MAX / 2: a record of txn u64::MAX overflows the scanner (a known
    // library bug, reproduced by an ignored test in tests/fuzz_smoke.rs).
    (database_id, u64::from_le_bytes(txn_id) & (u64::MAX >> 1))
}

fn log_header((database_id, first_txn_id): ([u8; 16], u64)) -> [u8; LOG_HEADER_SIZE] {
    LogHeader {
        database_id,
        first_txn_id,
    }
    .encode()
}

/// The decoders on the bytes as given.
fn decode_raw(data: &[u8]) {
    if let Ok(header) = LogHeader::decode(data) {
        assert_eq!(LogHeader::decode(&header.encode()), Ok(header));
        let version = u32::from_le_bytes(data[8..12].try_into().unwrap());
        if version == LOG_VERSION && data[40..60].iter().all(|b| *b == 0) {
            assert_eq!(&header.encode()[..], &data[..LOG_HEADER_SIZE]);
        }
    }
    let header = decode_header(data);
    let _ = length_from_trailer(data);
    if let Ok(record) = decode_record(data) {
        assert_eq!(header, Ok(record.header));
        let length = record.header.length as usize;
        assert!(length <= data.len() && length.is_multiple_of(RECORD_ALIGN));
        check_reencodes(&record, &data[..length]);
        assert_eq!(length_from_trailer(&data[..length]), Some(length as u64));
    }
}

/// A decoded record's operations, which must all parse.
fn ops_of<'a>(record: &Record<'a>) -> Vec<Op<'a>> {
    let ops: Vec<Op<'a>> = record
        .ops()
        .map(|op| op.expect("a decoded record's operations parse"))
        .collect();
    assert_eq!(ops.len(), record.header.op_count as usize);
    ops
}

/// Re-encoding a decoded record of the current version gives its bytes back; one of an
/// older version re-encodes to the same operations.
fn check_reencodes(record: &Record<'_>, bytes: &[u8]) {
    let ops = ops_of(record);
    let header = &record.header;
    let mut builder = RecordBuilder::default();
    ops.iter().for_each(|op| builder.push(op));
    let durable_before = header.durable_before.unwrap_or(0);
    let copy = builder.finish(header.txn_id, &header.database_id, durable_before);
    if header.header_size == RECORD_HEADER_SIZE {
        assert_eq!(copy, bytes);
    } else {
        let copy = decode_record(copy).expect("a built record decodes");
        assert_eq!(ops_of(&copy), ops);
    }
}

/// Header size and header checksum offset of a record of `version`
/// (`spec/commit_record_v*.md`); `None` for a version this build does not read.
fn header_layout(version: u8) -> Option<(usize, usize)> {
    match version {
        0 => Some((RECORD_HEADER_SIZE_V0, RECORD_HEADER_SIZE_V0 - 4)),
        RECORD_VERSION => Some((RECORD_HEADER_SIZE, RECORD_HEADER_SIZE - 8)),
        _ => None,
    }
}

/// Recomputes the checksums, trailer and magic of each record in the log whose version
/// is known and whose length fits, walking record by record, so the bytes behind the
/// checksums are reached. Reserved bytes stay as the fuzzer wrote them.
fn reseal_records(log: &mut [u8]) {
    let mut at = LOG_HEADER_SIZE;
    while log.len() - at >= RECORD_HEADER_SIZE_V0 {
        let record = &mut log[at..];
        let Some((header_size, crc_at)) = header_layout(record[4]) else {
            return;
        };
        let length = u64::from_le_bytes(record[8..16].try_into().unwrap());
        let minimum = (header_size + RECORD_TRAILER_SIZE) as u64;
        if length < minimum || length % RECORD_ALIGN as u64 != 0 || length > record.len() as u64 {
            return;
        }
        let length = length as usize;
        let payload_end = length - RECORD_TRAILER_SIZE;
        record[0..4].copy_from_slice(&RECORD_MAGIC);
        let crc = crc32c(&record[..crc_at]);
        record[crc_at..crc_at + 4].copy_from_slice(&crc.to_le_bytes());
        let crc = crc32c(&record[header_size..payload_end]);
        record[payload_end..payload_end + 4].copy_from_slice(&crc.to_le_bytes());
        record[payload_end + 4..payload_end + 8].copy_from_slice(&TRAILER_MAGIC);
        record[payload_end + 8..length].copy_from_slice(&(length as u64).to_le_bytes());
        at += length;
    }
}

/// CRC32C (Castagnoli), bit by bit: the fuzz crate takes no dependency the store's
/// tests do not have.
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Whether a record may start at `offset` when the previous one ended at `end`: right
/// there, or at the next sector boundary with only zeros before it.
fn starts_after(log: &[u8], end: u64, offset: u64) -> bool {
    offset == end
        || (offset == end.next_multiple_of(LOG_SECTOR_SIZE)
            && log[end as usize..offset as usize].iter().all(|b| *b == 0))
}

/// Scans a log whose header is valid, checking each record and the verdict.
fn scan(log: &[u8]) {
    let header = LogHeader::decode(log).expect("the target writes a valid log header");
    let start = LOG_HEADER_SIZE as u64;
    let mut scanner = Scanner::new(log, start, header.first_txn_id, header.database_id);
    let mut end = start;
    let mut expected_txn_id = header.first_txn_id;
    for (offset, record) in scanner.by_ref() {
        assert!(
            starts_after(log, end, offset),
            "record at {offset} after {end}"
        );
        assert_eq!(record.header.txn_id, expected_txn_id);
        assert_eq!(record.header.database_id, header.database_id);
        ops_of(&record);
        end = offset + record.header.length;
        expected_txn_id = expected_txn_id.wrapping_add(1);
    }
    assert_eq!(scanner.offset(), end);
    let verdict = scanner.end().expect("the scan ended").clone();
    let len = log.len() as u64;
    match &verdict {
        LogEnd::Clean { offset } => assert_eq!((*offset, *offset), (end, len)),
        LogEnd::TornTail { offset, bytes, .. } => {
            assert_eq!(*offset, end);
            assert_eq!(offset + bytes, len);
            assert!(*bytes > 0);
        }
        LogEnd::Corrupt {
            offset,
            expected_txn_id: txn_id,
            next_valid_offset,
            ..
        } => {
            assert!(
                starts_after(log, end, *offset),
                "damage at {offset} after {end}"
            );
            assert_eq!(*txn_id, expected_txn_id);
            assert!(*next_valid_offset > *offset);
            assert_eq!(next_valid_offset % RECORD_ALIGN as u64, 0);
            let next = decode_record(&log[*next_valid_offset as usize..])
                .expect("a damaged middle names a valid record after it");
            assert_eq!(next.header.database_id, header.database_id);
            assert!(next.header.txn_id >= expected_txn_id);
        }
    }
    let again = Scanner::new(log, start, header.first_txn_id, header.database_id).finish();
    assert_eq!(again, verdict);
}

/// Where the log writer starts a record when the log ends at `end` and is durable up to
/// `durable`: on the next sector boundary when the sector holding the end also holds
/// durable bytes, so a torn append cannot garble them.
fn append_start(end: u64, durable: u64) -> u64 {
    let sector_start = end - end % LOG_SECTOR_SIZE;
    if end > sector_start && durable > sector_start {
        sector_start + LOG_SECTOR_SIZE
    } else {
        end
    }
}

/// One record of a built log.
struct Built {
    start: usize,
    end: usize,
    durable_before: u64,
    ops: Vec<OwnedOp>,
}

/// Records of fuzzer-chosen operations: they decode to those operations, and a log of
/// them behaves as the decision table says when cut or damaged.
fn built_records(input: &mut Input<'_>) {
    let database_id: [u8; 16] = [input.byte(); 16];
    let first_txn_id = (input.u64_biased() & (u64::MAX >> 1)).max(1);
    let synced = input.bool();
    let record_count = 1 + input.below(4);
    let mut log = log_header((database_id, first_txn_id)).to_vec();
    let mut durable = LOG_HEADER_SIZE as u64;
    let mut records: Vec<Built> = Vec::new();
    for index in 0..record_count {
        let ops = ops_from(input);
        let txn_id = first_txn_id + index as u64;
        let mut builder = RecordBuilder::default();
        ops.iter().for_each(|op| builder.push(op));
        assert_eq!(builder.op_count() as usize, ops.len());
        let bytes = builder.finish(txn_id, &database_id, durable).to_vec();
        let payload_len: usize = ops.iter().map(op_size).sum();
        assert_eq!(bytes.len(), record_length(payload_len));
        let record = decode_record(&bytes).expect("a built record decodes");
        assert_eq!(record.header.txn_id, txn_id);
        assert_eq!(record.header.durable_before, Some(durable));
        assert_eq!(ops_of(&record), ops);
        let start = append_start(log.len() as u64, durable) as usize;
        log.resize(start, 0);
        log.extend_from_slice(&bytes);
        records.push(Built {
            start,
            end: log.len(),
            durable_before: durable,
            ops: ops.iter().map(owned).collect(),
        });
        if synced {
            durable = log.len() as u64;
        }
    }
    let all_ops: Vec<Vec<OwnedOp>> = records.iter().map(|record| record.ops.clone()).collect();
    for record in &records {
        let length = length_from_trailer(&log[..record.end]);
        assert_eq!(length, Some((record.end - record.start) as u64));
    }
    let end = log.len() as u64;
    assert_eq!(
        scan_ops(&log, &database_id),
        (all_ops.clone(), end_clean(end))
    );

    // A scan expecting another database finds nothing it may replay.
    let mut other_id = database_id;
    other_id[0] ^= 1;
    let verdict = Scanner::new(&log, LOG_HEADER_SIZE as u64, first_txn_id, other_id).finish();
    assert!(matches!(verdict, LogEnd::TornTail { offset, .. } if offset == LOG_HEADER_SIZE as u64));

    // Cut anywhere: the records before the cut, then a torn tail (or a clean end right
    // after a record).
    let cut = LOG_HEADER_SIZE + input.below(log.len() - LOG_HEADER_SIZE + 1);
    let whole = records.iter().filter(|record| record.end <= cut).count();
    let last_end = records[..whole]
        .last()
        .map_or(LOG_HEADER_SIZE, |record| record.end);
    let expected_end = if last_end == cut {
        end_clean(cut as u64)
    } else {
        LogEnd::TornTail {
            offset: last_end as u64,
            bytes: (cut - last_end) as u64,
            detail: String::new(),
        }
    };
    let (ops, verdict) = scan_ops(&log[..cut], &database_id);
    assert_eq!(ops, all_ops[..whole]);
    assert_eq!(without_detail(verdict), expected_end);

    // One bit flipped (in a record or in the zeros before one): the records before it,
    // then a stop there. Damage is refused exactly when a later record was appended after
    // the flipped byte was durable.
    let bit = input.below(8 * (log.len() - LOG_HEADER_SIZE));
    let at = LOG_HEADER_SIZE + bit / 8;
    log[at] ^= 1 << (bit % 8);
    let damaged = records.iter().filter(|record| record.end <= at).count();
    let stop = records[..damaged]
        .last()
        .map_or(LOG_HEADER_SIZE, |record| record.end) as u64;
    let proven_durable = records[damaged + 1..]
        .iter()
        .chain(records.get(damaged).filter(|record| record.start > at))
        .any(|record| record.durable_before > at as u64);
    let (ops, verdict) = scan_ops(&log, &database_id);
    assert_eq!(ops, all_ops[..damaged], "bit {bit} flipped");
    match verdict {
        LogEnd::Corrupt { offset, .. } if proven_durable => {
            let damaged_start = records[damaged].start as u64;
            assert!(
                offset == stop || offset == damaged_start,
                "bit {bit} flipped"
            );
        }
        LogEnd::TornTail { offset, .. } if !proven_durable => assert_eq!(offset, stop),
        other => panic!("bit {bit} flipped before record {damaged}: {other:?}"),
    }
}

fn end_clean(offset: u64) -> LogEnd {
    LogEnd::Clean { offset }
}

fn without_detail(end: LogEnd) -> LogEnd {
    match end {
        LogEnd::TornTail { offset, bytes, .. } => LogEnd::TornTail {
            offset,
            bytes,
            detail: String::new(),
        },
        other => other,
    }
}

/// An operation as plain owned parts: code, keyspace id, key or name, value.
type OwnedOp = (u8, u32, Vec<u8>, Vec<u8>);

fn owned(op: &Op<'_>) -> OwnedOp {
    match op {
        Op::Put {
            keyspace,
            key,
            value,
        } => (1, *keyspace, key.to_vec(), value.to_vec()),
        Op::Delete { keyspace, key } => (2, *keyspace, key.to_vec(), Vec::new()),
        Op::CreateKeyspace { keyspace, name } => (3, *keyspace, name.to_vec(), Vec::new()),
        Op::DropKeyspace { keyspace, name } => (4, *keyspace, name.to_vec(), Vec::new()),
    }
}

/// The operations of every record a scan returns, and its verdict.
fn scan_ops(log: &[u8], database_id: &[u8; 16]) -> (Vec<Vec<OwnedOp>>, LogEnd) {
    let header = LogHeader::decode(log).expect("valid log header");
    let start = LOG_HEADER_SIZE as u64;
    let mut scanner = Scanner::new(log, start, header.first_txn_id, *database_id);
    let records = scanner
        .by_ref()
        .map(|(_, record)| ops_of(&record).iter().map(owned).collect())
        .collect();
    (records, scanner.end().expect("scan ended").clone())
}

/// Encoded size of one operation (spec: a 7-byte head, a put's value length, the bytes).
fn op_size(op: &Op<'_>) -> usize {
    match op {
        Op::Put { key, value, .. } => 7 + 4 + key.len() + value.len(),
        Op::Delete { key, .. } => 7 + key.len(),
        Op::CreateKeyspace { name, .. } | Op::DropKeyspace { name, .. } => 7 + name.len(),
    }
}

/// Up to 8 operations with short keys and values taken from the input.
fn ops_from<'a>(input: &mut Input<'a>) -> Vec<Op<'a>> {
    let count = input.below(9);
    (0..count)
        .map(|_| {
            let code = input.byte();
            let keyspace = input.u64_biased() as u32;
            let key_len = input.below(33);
            let key = input.bytes(key_len);
            match code % 4 {
                0 => {
                    let value_len = input.below(257);
                    Op::Put {
                        keyspace,
                        key,
                        value: input.bytes(value_len),
                    }
                }
                1 => Op::Delete { keyspace, key },
                2 => Op::CreateKeyspace {
                    keyspace,
                    name: key,
                },
                _ => Op::DropKeyspace {
                    keyspace,
                    name: key,
                },
            }
        })
        .collect()
}
