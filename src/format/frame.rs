//! Byte layout of the commit log: the file header and CRC-framed commit records.
//! See `spec/commit_record_v1.md`.
//!
//! Invariants: every record starts at a multiple of 8 bytes from the start of the file and
//! its length is a multiple of 8; a record is trusted only if its header checksum, its
//! trailer (magic and repeated length) and its payload checksum all match, and its
//! operations parse exactly, with zero padding after them.

use super::page::{read_u16, read_u32, read_u64, write_u32, write_u64};
use crate::TxnId;

/// Magic at the start of a log file.
pub const LOG_MAGIC: [u8; 8] = *b"NSLOG\0\0\0";
/// Log format version this build reads and writes.
pub const LOG_VERSION: u32 = 1;
/// Oldest log format version this build still reads.
pub const LOG_VERSION_OLDEST: u32 = 0;
/// Appends after a sync start on a boundary of this many bytes, so a torn write of the
/// new record can never garble a sector that holds durable bytes.
pub const LOG_SECTOR_SIZE: u64 = 512;
/// Size of the log file header; the first record starts here.
pub const LOG_HEADER_SIZE: usize = 64;
/// Magic at the start of every record.
pub const RECORD_MAGIC: [u8; 4] = *b"NSRC";
/// Magic in every record trailer.
pub const TRAILER_MAGIC: [u8; 4] = *b"NSRE";
/// Bytes of a record header.
pub const RECORD_HEADER_SIZE: usize = 64;
/// Bytes of a version 0 record header (read only).
pub const RECORD_HEADER_SIZE_V0: usize = 48;
/// Record version this build writes.
pub const RECORD_VERSION: u8 = 1;
/// Bytes of a record trailer.
pub const RECORD_TRAILER_SIZE: usize = 16;
/// Records start at, and their lengths are, multiples of this.
pub const RECORD_ALIGN: usize = 8;

const OP_PUT: u8 = 1;
const OP_DELETE: u8 = 2;
const OP_CREATE_KEYSPACE: u8 = 3;
const OP_DROP_KEYSPACE: u8 = 4;

/// Decoded log file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogHeader {
    /// The database the log belongs to (same as the page file's meta).
    pub database_id: [u8; 16],
    /// Txn id of the first record the file holds (or would hold).
    pub first_txn_id: TxnId,
}

impl LogHeader {
    /// Encodes the 64-byte file header.
    pub fn encode(&self) -> [u8; LOG_HEADER_SIZE] {
        let mut bytes = [0u8; LOG_HEADER_SIZE];
        bytes[0..8].copy_from_slice(&LOG_MAGIC);
        write_u32(&mut bytes, 8, LOG_VERSION);
        write_u32(&mut bytes, 12, LOG_HEADER_SIZE as u32);
        bytes[16..32].copy_from_slice(&self.database_id);
        write_u64(&mut bytes, 32, self.first_txn_id);
        let crc = crc32c::crc32c(&bytes[..60]);
        write_u32(&mut bytes, 60, crc);
        bytes
    }

    /// Decodes a file header, or says what is wrong with it.
    pub fn decode(bytes: &[u8]) -> Result<LogHeader, String> {
        if bytes.len() < LOG_HEADER_SIZE {
            return Err(format!(
                "file is {} bytes, shorter than the {LOG_HEADER_SIZE}-byte header",
                bytes.len()
            ));
        }
        if bytes[0..8] != LOG_MAGIC {
            return Err("not a NorthstarDB commit log (no log magic)".into());
        }
        let crc = crc32c::crc32c(&bytes[..60]);
        if crc != read_u32(bytes, 60) {
            return Err("log header checksum mismatch".into());
        }
        let version = read_u32(bytes, 8);
        if !(LOG_VERSION_OLDEST..=LOG_VERSION).contains(&version) {
            return Err(format!(
                "log format version {version} is not supported (this build reads {LOG_VERSION})"
            ));
        }
        if read_u32(bytes, 12) as usize != LOG_HEADER_SIZE {
            return Err(format!(
                "log header size {} is not {LOG_HEADER_SIZE}",
                read_u32(bytes, 12)
            ));
        }
        let mut database_id = [0u8; 16];
        database_id.copy_from_slice(&bytes[16..32]);
        Ok(LogHeader {
            database_id,
            first_txn_id: read_u64(bytes, 32),
        })
    }
}

/// One change in a commit record. Keyspace 0 is the default keyspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op<'a> {
    /// Store `value` under `key`.
    Put {
        /// Keyspace id.
        keyspace: u32,
        /// The key.
        key: &'a [u8],
        /// The value.
        value: &'a [u8],
    },
    /// Remove `key` (it existed).
    Delete {
        /// Keyspace id.
        keyspace: u32,
        /// The key.
        key: &'a [u8],
    },
    /// Create keyspace `name` with id `keyspace`.
    CreateKeyspace {
        /// Id given to the new keyspace.
        keyspace: u32,
        /// Its name.
        name: &'a [u8],
    },
    /// Drop keyspace `name` (id `keyspace`) and all its entries.
    DropKeyspace {
        /// Id of the dropped keyspace.
        keyspace: u32,
        /// Its name.
        name: &'a [u8],
    },
}

/// Appends one encoded operation to a record payload being built.
pub fn encode_op(payload: &mut Vec<u8>, op: &Op<'_>) {
    let (code, keyspace, key, value) = match op {
        Op::Put {
            keyspace,
            key,
            value,
        } => (OP_PUT, keyspace, key, Some(value)),
        Op::Delete { keyspace, key } => (OP_DELETE, keyspace, key, None),
        Op::CreateKeyspace { keyspace, name } => (OP_CREATE_KEYSPACE, keyspace, name, None),
        Op::DropKeyspace { keyspace, name } => (OP_DROP_KEYSPACE, keyspace, name, None),
    };
    payload.push(code);
    payload.extend_from_slice(&keyspace.to_le_bytes());
    payload.extend_from_slice(&(key.len() as u16).to_le_bytes());
    if let Some(value) = value {
        payload.extend_from_slice(&(value.len() as u32).to_le_bytes());
    }
    payload.extend_from_slice(key);
    if let Some(value) = value {
        payload.extend_from_slice(value);
    }
}

/// The operations of a payload, in order. Each item is an op or what is wrong.
pub struct Ops<'a> {
    payload: &'a [u8],
    at: usize,
    remaining: u32,
}

impl<'a> Iterator for Ops<'a> {
    type Item = Result<Op<'a>, String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let result = self.parse();
        if result.is_err() {
            self.remaining = 0;
        }
        Some(result)
    }
}

impl<'a> Ops<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(len)
            .filter(|end| *end <= self.payload.len());
        let end = end.ok_or_else(|| {
            format!(
                "operation runs past the payload end at payload byte {}",
                self.at
            )
        })?;
        let bytes = &self.payload[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    fn parse(&mut self) -> Result<Op<'a>, String> {
        let head = self.take(7)?;
        let (code, keyspace, key_len) = (head[0], read_u32(head, 1), read_u16(head, 5) as usize);
        let value_len = if code == OP_PUT {
            Some(read_u32(self.take(4)?, 0) as usize)
        } else {
            None
        };
        let key = self.take(key_len)?;
        match code {
            OP_PUT => Ok(Op::Put {
                keyspace,
                key,
                value: self.take(value_len.unwrap_or(0))?,
            }),
            OP_DELETE => Ok(Op::Delete { keyspace, key }),
            OP_CREATE_KEYSPACE => Ok(Op::CreateKeyspace {
                keyspace,
                name: key,
            }),
            OP_DROP_KEYSPACE => Ok(Op::DropKeyspace {
                keyspace,
                name: key,
            }),
            other => Err(format!("unknown operation code {other}")),
        }
    }

    /// Bytes after the last operation, which must be zero padding shorter than 8 bytes.
    pub fn rest(&self) -> &'a [u8] {
        &self.payload[self.at..]
    }
}

/// Total length of a record this build writes, for a payload of `payload_len` bytes
/// (padding included).
pub fn record_length(payload_len: usize) -> usize {
    (RECORD_HEADER_SIZE + payload_len + RECORD_TRAILER_SIZE).next_multiple_of(RECORD_ALIGN)
}

/// A record being built: operations are appended as the txn makes them, after room for
/// the header, so the finished record needs no copy.
#[derive(Debug, Clone)]
pub struct RecordBuilder {
    bytes: Vec<u8>,
    op_count: u32,
}

impl Default for RecordBuilder {
    fn default() -> Self {
        RecordBuilder {
            bytes: vec![0u8; RECORD_HEADER_SIZE],
            op_count: 0,
        }
    }
}

impl RecordBuilder {
    /// Appends one operation.
    pub fn push(&mut self, op: &Op<'_>) {
        encode_op(&mut self.bytes, op);
        self.op_count += 1;
    }

    /// Counts an operation without storing it (when replaying a record already logged).
    pub fn count_only(&mut self) {
        self.op_count += 1;
    }

    /// Operations so far.
    pub fn op_count(&self) -> u32 {
        self.op_count
    }

    /// Seals the record as txn `txn_id` of database `database_id`, appended when the log
    /// was durable up to offset `durable_before`, and returns its bytes.
    pub fn finish(&mut self, txn_id: TxnId, database_id: &[u8; 16], durable_before: u64) -> &[u8] {
        let payload_len = self.bytes.len() - RECORD_HEADER_SIZE;
        let length = record_length(payload_len);
        let payload_end = length - RECORD_TRAILER_SIZE;
        self.bytes.resize(length, 0);
        let record = &mut self.bytes[..];
        record[0..4].copy_from_slice(&RECORD_MAGIC);
        record[4] = RECORD_VERSION;
        write_u64(record, 8, length as u64);
        write_u64(record, 16, txn_id);
        record[24..40].copy_from_slice(database_id);
        write_u32(record, 40, self.op_count);
        write_u64(record, 48, durable_before);
        let crc = crc32c::crc32c(&record[..56]);
        write_u32(record, 56, crc);
        let crc = crc32c::crc32c(&record[RECORD_HEADER_SIZE..payload_end]);
        write_u32(record, payload_end, crc);
        record[payload_end + 4..payload_end + 8].copy_from_slice(&TRAILER_MAGIC);
        write_u64(record, payload_end + 8, length as u64);
        &self.bytes
    }
}

/// Builds a whole record of `ops` (for tests and tools).
pub fn encode_record(txn_id: TxnId, database_id: &[u8; 16], ops: &[Op<'_>]) -> Vec<u8> {
    let mut builder = RecordBuilder::default();
    for op in ops {
        builder.push(op);
    }
    builder.finish(txn_id, database_id, 0).to_vec()
}

/// A record header that passed its checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// Total record length in bytes.
    pub length: u64,
    /// The committed txn.
    pub txn_id: TxnId,
    /// The database the record belongs to.
    pub database_id: [u8; 16],
    /// Number of operations in the payload.
    pub op_count: u32,
    /// Bytes of the header (48 for version 0 records, 64 for version 1).
    pub header_size: usize,
    /// Offset up to which the log was durable when the record was appended (version 1;
    /// `None` for version 0 records, which did not record it).
    pub durable_before: Option<u64>,
}

/// Why bytes at some offset are not a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameFault {
    /// All zero: nothing was written here (end of the log, or a lost append).
    Zeros,
    /// Fewer bytes than the record claims: an append cut short.
    Short {
        /// Bytes present from the record start.
        have: u64,
        /// Bytes the record needs (0 when the header itself is cut).
        need: u64,
    },
    /// Bytes that are not a valid record, with what is wrong.
    Bad(String),
}

impl std::fmt::Display for FrameFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameFault::Zeros => f.write_str("zero bytes where a record should start"),
            FrameFault::Short { have, need: 0 } => {
                write!(f, "record header cut short: {have} bytes")
            }
            FrameFault::Short { have, need } => {
                write!(f, "record cut short: {have} of {need} bytes")
            }
            FrameFault::Bad(detail) => f.write_str(detail),
        }
    }
}

/// Decodes the record header at the start of `bytes` (the rest of the file).
pub fn decode_header(bytes: &[u8]) -> Result<RecordHeader, FrameFault> {
    let head = &bytes[..bytes.len().min(RECORD_HEADER_SIZE_V0)];
    if head.iter().all(|b| *b == 0) {
        return Err(FrameFault::Zeros);
    }
    if bytes.len() < 8 {
        return Err(FrameFault::Short {
            have: bytes.len() as u64,
            need: 0,
        });
    }
    if bytes[0..4] != RECORD_MAGIC {
        return Err(FrameFault::Bad("no record magic".into()));
    }
    let header_size = match bytes[4] {
        0 => RECORD_HEADER_SIZE_V0,
        1 => RECORD_HEADER_SIZE,
        version => {
            return Err(FrameFault::Bad(format!(
                "record version {version} is not supported"
            )));
        }
    };
    if bytes.len() < header_size {
        return Err(FrameFault::Short {
            have: bytes.len() as u64,
            need: 0,
        });
    }
    let header = &bytes[..header_size];
    let crc_at = header_size - 8 + usize::from(header_size == RECORD_HEADER_SIZE_V0) * 4;
    if crc32c::crc32c(&header[..crc_at]) != read_u32(header, crc_at) {
        return Err(FrameFault::Bad("record header checksum mismatch".into()));
    }
    let reserved_clear = header[5] == 0
        && header[6] == 0
        && header[7] == 0
        && (header_size == RECORD_HEADER_SIZE_V0
            || (header[44..48] == [0; 4] && header[60..64] == [0; 4]));
    if !reserved_clear {
        return Err(FrameFault::Bad(
            "record flags or reserved bytes are not zero".into(),
        ));
    }
    let length = read_u64(header, 8);
    let minimum = (header_size + RECORD_TRAILER_SIZE) as u64;
    if length < minimum || !length.is_multiple_of(RECORD_ALIGN as u64) {
        return Err(FrameFault::Bad(format!(
            "record length {length} is impossible"
        )));
    }
    let mut database_id = [0u8; 16];
    database_id.copy_from_slice(&header[24..40]);
    Ok(RecordHeader {
        length,
        txn_id: read_u64(header, 16),
        database_id,
        op_count: read_u32(header, 40),
        header_size,
        durable_before: (header_size == RECORD_HEADER_SIZE).then(|| read_u64(header, 48)),
    })
}

/// A whole record, checked: header, trailer, payload checksum and operations.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// The checked header.
    pub header: RecordHeader,
    payload: &'a [u8],
}

impl<'a> Record<'a> {
    /// The record's operations, in commit order.
    pub fn ops(&self) -> Ops<'a> {
        Ops {
            payload: self.payload,
            at: 0,
            remaining: self.header.op_count,
        }
    }
}

/// Decodes and checks the record at the start of `bytes` (the rest of the file).
pub fn decode_record(bytes: &[u8]) -> Result<Record<'_>, FrameFault> {
    let header = decode_header(bytes)?;
    if header.length > bytes.len() as u64 {
        return Err(FrameFault::Short {
            have: bytes.len() as u64,
            need: header.length,
        });
    }
    let record = &bytes[..header.length as usize];
    let payload_end = record.len() - RECORD_TRAILER_SIZE;
    let trailer = &record[payload_end..];
    if trailer[4..8] != TRAILER_MAGIC || read_u64(trailer, 8) != header.length {
        return Err(FrameFault::Bad(
            "record trailer does not match its header".into(),
        ));
    }
    let payload = &record[header.header_size..payload_end];
    if crc32c::crc32c(payload) != read_u32(trailer, 0) {
        return Err(FrameFault::Bad("record payload checksum mismatch".into()));
    }
    let checked = Record { header, payload };
    let mut ops = checked.ops();
    for op in ops.by_ref() {
        op.map_err(FrameFault::Bad)?;
    }
    let rest = ops.rest();
    if rest.len() >= RECORD_ALIGN || rest.iter().any(|b| *b != 0) {
        return Err(FrameFault::Bad(format!(
            "{} bytes after the last operation are not padding",
            rest.len()
        )));
    }
    Ok(checked)
}

/// Length of the record that ends at the end of `bytes`, read from its trailer, for
/// scanning backwards. `None` when the trailer is not one.
pub fn length_from_trailer(bytes: &[u8]) -> Option<u64> {
    let trailer = bytes.get(bytes.len().checked_sub(RECORD_TRAILER_SIZE)?..)?;
    (trailer[4..8] == TRAILER_MAGIC).then(|| read_u64(trailer, 8))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let ops = [
            Op::CreateKeyspace {
                keyspace: 1,
                name: b"users",
            },
            Op::Put {
                keyspace: 1,
                key: b"k",
                value: b"value",
            },
            Op::Delete {
                keyspace: 0,
                key: b"",
            },
            Op::DropKeyspace {
                keyspace: 1,
                name: b"users",
            },
        ];
        encode_record(9, &[3; 16], &ops)
    }

    #[test]
    fn record_round_trips_with_its_operations() {
        let bytes = sample();
        assert_eq!(bytes.len() % RECORD_ALIGN, 0);
        let record = decode_record(&bytes).unwrap();
        assert_eq!(record.header.txn_id, 9);
        let ops: Vec<Op<'_>> = record.ops().map(Result::unwrap).collect();
        assert_eq!(
            ops[1],
            Op::Put {
                keyspace: 1,
                key: b"k",
                value: b"value"
            }
        );
        assert_eq!(ops.len(), 4);
        assert_eq!(length_from_trailer(&bytes), Some(bytes.len() as u64));
    }

    #[test]
    fn every_flipped_bit_and_every_cut_is_refused() {
        let bytes = sample();
        for bit in 0..bytes.len() * 8 {
            let mut damaged = bytes.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            assert!(decode_record(&damaged).is_err(), "bit {bit}");
        }
        for cut in 0..bytes.len() {
            assert!(
                matches!(
                    decode_record(&bytes[..cut]),
                    Err(FrameFault::Short { .. } | FrameFault::Zeros)
                ),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn log_header_round_trips() {
        let header = LogHeader {
            database_id: [5; 16],
            first_txn_id: 1,
        };
        assert_eq!(LogHeader::decode(&header.encode()), Ok(header));
        let mut damaged = header.encode();
        damaged[33] ^= 1;
        assert!(LogHeader::decode(&damaged).is_err());
    }
}
