//! The commit stream as cartridges read it: the log read through the library's record
//! scanner, turned into changes named by keyspace name.
//!
//! Invariants:
//! - Records are read in txn order, each checked by `northstar::log::Scanner`; a damaged
//!   middle is an error, a torn tail is where the stream ends (as recovery would cut it).
//! - Keyspace ids are resolved to names with the map of live keyspaces, which starts at a
//!   cartridge's stored map (or empty at txn 1) and follows create and drop ops.
//! - A walk that resumes at a cartridge's `log_offset` first proves that the record ending
//!   there is the cartridge's `txn_to` of the same database, or refuses.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use northstar::format::frame::{
    decode_record, length_from_trailer, LogHeader, Op, LOG_HEADER_SIZE,
};
use northstar::io::LogBytes;
use northstar::log::{read_log_file, LogEnd, Scanner, LOG_FILE_NAME};
use northstar::TxnId;

use crate::error::{CartridgeError, Result};

/// One change of the commit stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change<'a> {
    /// `key` was set to `value` in keyspace `keyspace` (`b""` is the default keyspace).
    Put {
        /// Keyspace name.
        keyspace: &'a [u8],
        /// Key.
        key: &'a [u8],
        /// New value.
        value: &'a [u8],
    },
    /// `key` was removed.
    Delete {
        /// Keyspace name.
        keyspace: &'a [u8],
        /// Key.
        key: &'a [u8],
    },
    /// Keyspace `keyspace` was dropped with all its entries.
    Drop {
        /// Keyspace name.
        keyspace: &'a [u8],
    },
}

/// Where a walk of the log starts: the record after `txn` at `log_offset`, with the
/// keyspaces live at `txn`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Position {
    /// Last txn already covered (0 before the first record).
    pub txn: TxnId,
    /// Log offset just past that txn's record.
    pub log_offset: u64,
    /// Live named keyspaces by id.
    pub keyspaces: BTreeMap<u32, Vec<u8>>,
}

/// A commit log, read once into memory (mapped).
pub struct LogSource {
    path: PathBuf,
    bytes: LogBytes,
    header: LogHeader,
}

impl LogSource {
    /// Reads the log at `path`: a log file, or a database directory holding one.
    ///
    /// Errors: [`CartridgeError::Log`] when it cannot be read or its header is damaged.
    pub fn open(path: &Path) -> Result<LogSource> {
        let path = if path.is_dir() {
            path.join(LOG_FILE_NAME)
        } else {
            path.to_path_buf()
        };
        let bytes = read_log_file(&path)?;
        let header = LogHeader::decode(&bytes).map_err(|detail| northstar::Error::Corrupt {
            path: path.clone(),
            page: None,
            offset: Some(0),
            detail,
        })?;
        Ok(LogSource {
            path,
            bytes,
            header,
        })
    }

    /// The log file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The database id in the log header.
    pub fn database_id(&self) -> [u8; 16] {
        self.header.database_id
    }

    /// Size of the log in bytes.
    pub fn len(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// Whether the log holds only its header.
    pub fn is_empty(&self) -> bool {
        self.bytes.len() <= LOG_HEADER_SIZE
    }

    /// The position before the log's first record.
    pub fn start(&self) -> Position {
        Position {
            txn: self.header.first_txn_id - 1,
            log_offset: LOG_HEADER_SIZE as u64,
            keyspaces: BTreeMap::new(),
        }
    }

    /// The last txn in the log (before a torn tail), with the offset past its record.
    ///
    /// Errors: [`CartridgeError::Log`] when the log is damaged in the middle.
    pub fn last_txn(&self) -> Result<(TxnId, u64)> {
        let start = self.start();
        let mut scanner = self.scanner(&start);
        let mut last = (start.txn, start.log_offset);
        while let Some((_, record)) = scanner.next() {
            last = (record.header.txn_id, scanner.offset());
        }
        self.check_end(&scanner)?;
        Ok(last)
    }

    fn scanner(&self, position: &Position) -> Scanner<'_> {
        Scanner::new(
            &self.bytes,
            position.log_offset,
            position.txn + 1,
            self.header.database_id,
        )
    }

    fn check_end(&self, scanner: &Scanner<'_>) -> Result<()> {
        if let Some(LogEnd::Corrupt { offset, detail, .. }) = scanner.end() {
            return Err(northstar::Error::Corrupt {
                path: self.path.clone(),
                page: None,
                offset: Some(*offset),
                detail: detail.clone(),
            }
            .into());
        }
        Ok(())
    }

    /// Checks that `position` (taken from the cartridge at `cartridge`) lies on a record
    /// boundary of this log: the record ending at its offset is its txn.
    ///
    /// Errors: [`CartridgeError::LogMismatch`] when it is not (a log truncated past the
    /// cartridge's range, or replaced).
    pub fn check_position(&self, cartridge: &Path, position: &Position) -> Result<()> {
        let start = self.start();
        if position.txn == start.txn && position.log_offset == start.log_offset {
            return Ok(());
        }
        let mismatch = |detail: String| CartridgeError::LogMismatch {
            path: cartridge.to_path_buf(),
            detail,
        };
        if position.txn < self.header.first_txn_id {
            return Err(mismatch(format!(
                "starts at txn {}, after the cartridge's txn {}",
                self.header.first_txn_id, position.txn
            )));
        }
        let end = usize::try_from(position.log_offset).unwrap_or(usize::MAX);
        let record = self
            .bytes
            .get(..end)
            .and_then(length_from_trailer)
            .and_then(|len| end.checked_sub(usize::try_from(len).ok()?))
            .and_then(|start| decode_record(&self.bytes[start..end]).ok());
        match record {
            Some(record)
                if record.header.txn_id == position.txn
                    && record.header.database_id == self.header.database_id =>
            {
                Ok(())
            }
            _ => Err(mismatch(format!(
                "{} holds no record of txn {} ending at offset {}: it was truncated past the \
                 cartridge's range or replaced",
                self.path.display(),
                position.txn,
                position.log_offset
            ))),
        }
    }

    /// Calls `visit(txn, ordinal, change)` for every change of txns after `from.txn` up to
    /// and including `up_to` (or the end of the log), in order; `progress(offset)` after
    /// each record. Returns the position reached.
    ///
    /// Errors: [`CartridgeError::Log`] for a damaged log, or a record naming a keyspace
    /// id that is not live; [`CartridgeError::InvalidParams`] when `up_to` lies past the
    /// end of the log; whatever `visit` returns.
    pub fn walk(
        &self,
        from: &Position,
        up_to: Option<TxnId>,
        mut visit: impl FnMut(TxnId, u64, Change<'_>) -> Result<()>,
        mut progress: impl FnMut(u64),
    ) -> Result<Position> {
        let mut keyspaces = from.keyspaces.clone();
        let mut at = (from.txn, from.log_offset);
        let mut scanner = self.scanner(from);
        while let Some((offset, record)) = scanner.next() {
            let txn = record.header.txn_id;
            if up_to.is_some_and(|up_to| txn > up_to) {
                break;
            }
            for (ordinal, op) in record.ops().enumerate() {
                let op = op.expect("the scanner checked every op");
                self.apply(&mut keyspaces, offset, txn, ordinal as u64, &op, &mut visit)?;
            }
            at = (txn, scanner.offset());
            progress(at.1);
        }
        self.check_end(&scanner)?;
        if let Some(up_to) = up_to.filter(|up_to| *up_to > at.0) {
            return Err(CartridgeError::InvalidParams(format!(
                "txn {up_to} is past the end of {} (last txn {})",
                self.path.display(),
                at.0
            )));
        }
        Ok(Position {
            txn: at.0,
            log_offset: at.1,
            keyspaces,
        })
    }

    fn apply(
        &self,
        keyspaces: &mut BTreeMap<u32, Vec<u8>>,
        offset: u64,
        txn: TxnId,
        ordinal: u64,
        op: &Op<'_>,
        visit: &mut impl FnMut(TxnId, u64, Change<'_>) -> Result<()>,
    ) -> Result<()> {
        let name = |id: u32| -> Result<&[u8]> {
            if id == 0 {
                return Ok(b"");
            }
            keyspaces.get(&id).map(Vec::as_slice).ok_or_else(|| {
                northstar::Error::Corrupt {
                    path: self.path.clone(),
                    page: None,
                    offset: Some(offset),
                    detail: format!("txn {txn} changes keyspace id {id}, which is not live"),
                }
                .into()
            })
        };
        match *op {
            Op::Put {
                keyspace,
                key,
                value,
            } => visit(
                txn,
                ordinal,
                Change::Put {
                    keyspace: name(keyspace)?,
                    key,
                    value,
                },
            ),
            Op::Delete { keyspace, key } => visit(
                txn,
                ordinal,
                Change::Delete {
                    keyspace: name(keyspace)?,
                    key,
                },
            ),
            Op::CreateKeyspace { keyspace, name } => {
                keyspaces.insert(keyspace, name.to_vec());
                Ok(())
            }
            Op::DropKeyspace { keyspace, .. } => {
                visit(
                    txn,
                    ordinal,
                    Change::Drop {
                        keyspace: name(keyspace)?,
                    },
                )?;
                keyspaces.remove(&keyspace);
                Ok(())
            }
        }
    }
}

/// Encodes the live keyspaces for the `keyspaces` section: per keyspace, its id (`u32`),
/// name length (`u16`) and name, in id order.
pub fn encode_keyspaces(keyspaces: &BTreeMap<u32, Vec<u8>>) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (id, name) in keyspaces {
        bytes.extend_from_slice(&id.to_le_bytes());
        bytes.extend_from_slice(&(name.len() as u16).to_le_bytes());
        bytes.extend_from_slice(name);
    }
    bytes
}

/// Decodes the `keyspaces` section, or says at which byte it is malformed.
pub fn decode_keyspaces(bytes: &[u8]) -> Result<BTreeMap<u32, Vec<u8>>, (usize, String)> {
    let mut keyspaces = BTreeMap::new();
    let mut at = 0;
    while at < bytes.len() {
        let head = bytes
            .get(at..at + 6)
            .ok_or((at, "truncated keyspace entry".to_string()))?;
        let id = u32::from_le_bytes(head[..4].try_into().expect("4 bytes"));
        let len = u16::from_le_bytes(head[4..].try_into().expect("2 bytes")) as usize;
        let name = bytes
            .get(at + 6..at + 6 + len)
            .ok_or((at, "keyspace name runs past the section".to_string()))?;
        if id == 0
            || keyspaces
                .last_key_value()
                .is_some_and(|(last, _)| *last >= id)
        {
            return Err((at, format!("keyspace id {id} is zero or out of order")));
        }
        keyspaces.insert(id, name.to_vec());
        at += 6 + len;
    }
    Ok(keyspaces)
}
