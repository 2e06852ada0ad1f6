//! The state a reading command reads: the newest committed snapshot, or with `--as-of`
//! the database as it was right after an earlier txn.
//!
//! Invariant: a txn that has not committed, or is older than what the log still holds,
//! is a failure (exit 1) with the library's message, which names the txns that can be
//! read.

use northstar::{AsOfTxn, Db, ReadTxn, TxnId};

use crate::failure::Failure;
use crate::keyspace::KeyspaceReader;

/// A read view of one database.
pub enum Snapshot<'db> {
    /// The newest committed txn.
    Latest(ReadTxn<'db>),
    /// An earlier txn, rebuilt from a retained snapshot and the commit log.
    AsOf(AsOfTxn<'db>),
}

impl<'db> Snapshot<'db> {
    /// The newest snapshot of `db`, or the one after txn `as_of`.
    ///
    /// Errors: the library's [`northstar::Error::FutureTxn`] and
    /// [`northstar::Error::HistoryUnavailable`], and read errors.
    pub fn begin(db: &'db Db, as_of: Option<TxnId>) -> Result<Snapshot<'db>, Failure> {
        Ok(match as_of {
            None => Snapshot::Latest(db.begin_read()?),
            Some(txn_id) => Snapshot::AsOf(db.begin_read_at(txn_id)?),
        })
    }

    /// The txn whose state this is.
    pub fn txn_id(&self) -> TxnId {
        match self {
            Snapshot::Latest(txn) => txn.txn_id(),
            Snapshot::AsOf(txn) => txn.txn_id(),
        }
    }

    /// Words for messages: `txn 7` or `as of txn 3`.
    pub fn label(&self) -> String {
        match self {
            Snapshot::Latest(txn) => format!("txn {}", txn.txn_id()),
            Snapshot::AsOf(txn) => format!("as of txn {}", txn.txn_id()),
        }
    }

    /// The keyspace `name` (the default one when `None`).
    ///
    /// Errors: [`northstar::Error::KeyspaceNotFound`] when it does not exist (or did not
    /// at that txn), and read errors.
    pub fn reader(&self, name: Option<&str>) -> Result<KeyspaceReader<'_>, Failure> {
        match self {
            Snapshot::Latest(txn) => KeyspaceReader::open(txn, name),
            Snapshot::AsOf(txn) => KeyspaceReader::open_as_of(txn, name),
        }
    }
}
