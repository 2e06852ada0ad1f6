//! The in-memory delta: the log records after a cartridge's `txn_to`, folded into maps so
//! a query can answer "as of the database now" (Datomic's memory index over its log-built
//! indexes).
//!
//! Invariants:
//! - A delta is loaded only after the log was proven to hold the cartridge's `txn_to` at
//!   its `log_offset` (same database, not truncated): it then starts exactly where the
//!   cartridge ends.
//! - Versions of each key and drops of each keyspace are kept in commit order, as
//!   (txn, op ordinal); a drop kills every version before it.
//! - Memory is proportional to the records after `txn_to`: keeping the lag small is the
//!   caller's job (see `catalog::RebuildTrigger`).

use std::collections::BTreeMap;

use northstar::TxnId;

use crate::error::Result;
use crate::map::Cartridge;
use crate::source::{Change, LogSource, Position};

/// Where a change sits in commit order: its txn and its op's position in that txn.
pub type Stamp = (TxnId, u64);

/// A key by keyspace name (`b""` is the default keyspace) and key.
pub type SourceKey = (Vec<u8>, Vec<u8>);

/// One version of a key in the delta.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// When it was written.
    pub stamp: Stamp,
    /// The value, or `None` for a delete.
    pub value: Option<Vec<u8>>,
}

/// What the delta says about a key as of some txn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// The delta decides: the value, or `None` (deleted, or its keyspace dropped).
    Found(Option<&'a [u8]>),
    /// Nothing changed after the cartridge: ask the cartridge at its `txn_to`.
    Base,
}

/// The records after a cartridge, in memory.
#[derive(Debug, Clone, Default)]
pub struct Delta {
    /// The cartridge's `txn_to`.
    pub base: TxnId,
    /// Position after the last record folded in.
    pub position: Position,
    /// Versions by (keyspace, key), in commit order.
    pub versions: BTreeMap<SourceKey, Vec<Version>>,
    /// Drops by keyspace, in commit order.
    pub drops: BTreeMap<Vec<u8>, Vec<Stamp>>,
}

impl Delta {
    /// Folds in every record of `log` after `cartridge`'s `txn_to` up to `up_to` (or the
    /// end of the log), of keyspaces for which `wanted` holds.
    ///
    /// Errors: [`crate::CartridgeError::WrongDatabase`] when the log is another
    /// database's; [`crate::CartridgeError::LogMismatch`] when the log no longer holds the
    /// cartridge's last record; [`crate::CartridgeError::Log`] for a damaged log.
    pub fn load(
        cartridge: &Cartridge,
        log: &LogSource,
        up_to: Option<TxnId>,
        wanted: impl Fn(&[u8]) -> bool,
    ) -> Result<Delta> {
        cartridge.expect_database(log.database_id())?;
        let start = cartridge.position();
        log.check_position(cartridge.path(), &start)?;
        let mut delta = Delta {
            base: start.txn,
            ..Delta::default()
        };
        delta.position = log.walk(
            &start,
            up_to,
            |txn, ordinal, change| {
                delta.push((txn, ordinal), change, &wanted);
                Ok(())
            },
            |_| {},
        )?;
        Ok(delta)
    }

    fn push(&mut self, stamp: Stamp, change: Change<'_>, wanted: &impl Fn(&[u8]) -> bool) {
        let (keyspace, key, value) = match change {
            Change::Put {
                keyspace,
                key,
                value,
            } => (keyspace, key, Some(value.to_vec())),
            Change::Delete { keyspace, key } => (keyspace, key, None),
            Change::Drop { keyspace } => {
                if wanted(keyspace) {
                    self.drops.entry(keyspace.to_vec()).or_default().push(stamp);
                }
                return;
            }
        };
        if wanted(keyspace) {
            self.versions
                .entry((keyspace.to_vec(), key.to_vec()))
                .or_default()
                .push(Version { stamp, value });
        }
    }

    /// Last txn folded in (the database's newest when loaded).
    pub fn txn(&self) -> TxnId {
        self.position.txn
    }

    /// Changes folded in.
    pub fn change_count(&self) -> usize {
        self.versions.values().map(Vec::len).sum::<usize>()
            + self.drops.values().map(Vec::len).sum::<usize>()
    }

    /// The last drop of `keyspace` at or before `txn`.
    pub fn last_drop(&self, keyspace: &[u8], txn: TxnId) -> Option<Stamp> {
        let drops = self.drops.get(keyspace)?;
        let count = drops.partition_point(|stamp| stamp.0 <= txn);
        count.checked_sub(1).map(|index| drops[index])
    }

    /// `key` of `keyspace` as of `txn` (past the base), as far as the delta knows.
    pub fn get_at(&self, keyspace: &[u8], key: &[u8], txn: TxnId) -> Lookup<'_> {
        let version = self
            .versions
            .get(&(keyspace.to_vec(), key.to_vec()))
            .and_then(|versions| {
                let count = versions.partition_point(|version| version.stamp.0 <= txn);
                count.checked_sub(1).map(|index| &versions[index])
            });
        match (version, self.last_drop(keyspace, txn)) {
            (None, None) => Lookup::Base,
            (Some(version), drop) if drop.is_none_or(|drop| version.stamp > drop) => {
                Lookup::Found(version.value.as_deref())
            }
            // Dropped after the last version (or with no version since the base).
            _ => Lookup::Found(None),
        }
    }

    /// Final states of every key the delta touched, as of its last txn, in key order:
    /// `Some(value)` or `None` (deleted or dropped).
    pub fn touched(&self) -> impl Iterator<Item = (&SourceKey, Option<&[u8]>)> {
        self.versions.keys().map(|source| {
            let state = match self.get_at(&source.0, &source.1, self.txn()) {
                Lookup::Found(value) => value,
                Lookup::Base => unreachable!("a touched key has a version"),
            };
            (source, state)
        })
    }
}
