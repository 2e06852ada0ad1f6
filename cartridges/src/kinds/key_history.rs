//! `key_history`: every version of every key with the txn that wrote it.
//!
//! Table 0 has one group per keyspace (`""` is the default keyspace); within it, one
//! entry per (key, txn) in (key, txn) order, the value or a tombstone. Table 1 is empty.
//!
//! Invariants:
//! - Each (keyspace, key, txn) appears once: the last change of a key within a txn wins.
//! - A keyspace drop is written as a tombstone, at the drop's txn, for every key that was
//!   live in it — so an AS OF read is one binary search, never a scan for drops.
//! - An AS OF read at txn `t` is the entry with the greatest txn `<= t` for the key: the
//!   value, or nothing for a tombstone or no entry. O(log n), no allocation.

use std::collections::BTreeMap;

use northstar::TxnId;

use crate::delta::{Delta, Lookup, Stamp};
use crate::entry::Entry;
use crate::error::{CartridgeError, Result};
use crate::format::{Kind, Table};
use crate::map::{Cartridge, TableId};
use crate::sort::EntryStream;
use crate::source::LogSource;
use crate::write::TableWriter;

/// Writes the key_history table from `stream` (changes sorted by keyspace, key, txn,
/// ordinal) and the keyspace drops (sorted per keyspace), inserting drop tombstones.
///
/// Errors: [`CartridgeError::Io`] from the stream or the writer.
pub(crate) fn write_table(
    stream: EntryStream<'_>,
    drops: &BTreeMap<Vec<u8>, Vec<Stamp>>,
    writer: &mut TableWriter<'_>,
) -> Result<()> {
    let mut pending: Option<Entry> = None;
    for entry in stream {
        let entry = entry?;
        if let Some(previous) = pending.take() {
            let next = previous.same_key(&entry).then_some(&entry);
            if next.is_some_and(|next| next.seq == previous.seq) {
                // A later change of the key in the same txn wins.
                pending = Some(entry);
                continue;
            }
            finish_version(previous, next, drops, writer)?;
        }
        pending = Some(entry);
    }
    if let Some(previous) = pending {
        finish_version(previous, None, drops, writer)?;
    }
    Ok(())
}

/// Writes the key_history table of a catch-up: the `old` table merged with `changes`
/// (the newer changes, sorted as for [`write_table`]) and the newer `drops`. Runs of old
/// keys that no newer change or drop touches are copied as they are, without
/// allocating; every touched key goes through [`write_table`]. The result equals
/// [`write_table`] over the old entries and the changes together.
///
/// Errors: [`CartridgeError::Io`] from the changes or the writer.
pub(crate) fn write_merged(
    old: Table<'_>,
    changes: EntryStream<'_>,
    drops: &BTreeMap<Vec<u8>, Vec<Stamp>>,
    writer: &mut TableWriter<'_>,
) -> Result<()> {
    let mut changes = changes.peekable();
    let (mut group, mut at) = (0, 0);
    loop {
        if changes.peek().is_some_and(Result::is_err) {
            return Err(changes
                .next()
                .expect("peeked")
                .expect_err("peeked an error"));
        }
        while group < old.group_count() && at >= old.group_range(group).end {
            group += 1;
        }
        let old_next =
            (group < old.group_count()).then(|| (old.group_name(group), old.entry(at).key));
        let change = changes
            .peek()
            .map(|change| change.as_ref().expect("errors returned above"));
        let change_next = change.map(|change| (&change.group[..], &change.key[..]));
        match (old_next, change_next) {
            (None, None) => return Ok(()),
            (Some(next), _) if change_next.is_none_or(|change| next < change) => {
                let (name, key) = next;
                let range = at..old.group_range(group).end;
                if drops.contains_key(name) {
                    let end = old.lower_bound(range, key, TxnId::MAX, &[]);
                    write_table(owned(old, name, at..end), drops, writer)?;
                    at = end;
                    continue;
                }
                let end = match change_next {
                    Some((change_group, change_key)) if change_group == name => {
                        old.lower_bound(range, change_key, 0, &[])
                    }
                    _ => range.end,
                };
                for index in at..end {
                    writer.push_ref(name, old.entry(index))?;
                }
                at = end;
            }
            (_, Some((change_group, change_key))) => {
                let (name, key) = (change_group.to_vec(), change_key.to_vec());
                let mut versions: Vec<Entry> = Vec::new();
                if old_next == Some((&name[..], &key[..])) {
                    let end =
                        old.lower_bound(at..old.group_range(group).end, &key, TxnId::MAX, &[]);
                    versions
                        .extend(owned(old, &name, at..end).map(|entry| entry.expect("in memory")));
                    at = end;
                }
                while let Some(Ok(next)) = changes.peek() {
                    if next.group != name || next.key != key {
                        break;
                    }
                    versions.push(changes.next().expect("peeked")?);
                }
                write_table(Box::new(versions.into_iter().map(Ok)), drops, writer)?;
            }
            (Some(_), None) => {
                unreachable!("the first arm takes old entries when no change is left")
            }
        }
    }
}

/// Entries `range` of group `name` of `table`, as owned entries.
fn owned<'t>(table: Table<'t>, name: &'t [u8], range: std::ops::Range<usize>) -> EntryStream<'t> {
    Box::new(range.map(move |index| Ok(Entry::from_ref(name, table.entry(index)))))
}

/// Writes version `current` and, if a drop of its keyspace falls between it and `next`
/// (the key's next version), the drop's tombstone.
fn finish_version(
    mut current: Entry,
    next: Option<&Entry>,
    drops: &BTreeMap<Vec<u8>, Vec<Stamp>>,
    writer: &mut TableWriter<'_>,
) -> Result<()> {
    let stamp = (current.seq, current.ordinal);
    let next_stamp = next.map_or((TxnId::MAX, u64::MAX), |next| (next.seq, next.ordinal));
    let drop = drops.get(&current.group).and_then(|drops| {
        let index = drops.partition_point(|drop| *drop <= stamp);
        drops.get(index).filter(|drop| **drop < next_stamp)
    });
    let Some(&(drop_txn, _)) = drop.filter(|_| !current.tombstone) else {
        return writer.push(&current);
    };
    if drop_txn == current.seq {
        // Dropped later in the txn that wrote it: the txn ends with the key gone.
        current.value.clear();
        current.tombstone = true;
        return writer.push(&current);
    }
    writer.push(&current)?;
    if next.is_some_and(|next| next.seq == drop_txn) {
        // Recreated in the txn that dropped it: that version stands for the txn.
        return Ok(());
    }
    current.seq = drop_txn;
    current.value.clear();
    current.tombstone = true;
    writer.push(&current)
}

/// A key_history cartridge, queried as of its `txn_to` (or any txn before).
#[derive(Debug, Clone, Copy)]
pub struct KeyHistory<'c> {
    cartridge: &'c Cartridge,
    table: Table<'c>,
}

/// One version of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version<'c> {
    /// The txn that wrote it.
    pub txn: TxnId,
    /// The value, or `None` where the key was deleted (or its keyspace dropped).
    pub value: Option<&'c [u8]>,
}

/// The versions of one key, oldest first: a contiguous run of the mapped table.
#[derive(Debug, Clone)]
pub struct History<'c> {
    table: Table<'c>,
    range: std::ops::Range<usize>,
}

impl<'c> History<'c> {
    /// Versions in the history.
    pub fn len(&self) -> usize {
        self.range.len()
    }

    /// Whether the key was never written.
    pub fn is_empty(&self) -> bool {
        self.range.is_empty()
    }

    /// Version `index` (0 is the oldest). Panics if `index >= len()`.
    pub fn get(&self, index: usize) -> Version<'c> {
        assert!(index < self.len(), "version {index} of {}", self.len());
        version(self.table, self.range.start + index)
    }

    /// The versions, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = Version<'c>> + '_ {
        self.range.clone().map(|index| version(self.table, index))
    }
}

fn version(table: Table<'_>, index: usize) -> Version<'_> {
    let entry = table.entry(index);
    Version {
        txn: entry.seq,
        value: (!entry.tombstone).then_some(entry.value),
    }
}

impl<'c> KeyHistory<'c> {
    /// The key_history view of `cartridge`.
    ///
    /// Errors: [`CartridgeError::WrongKind`] for another kind.
    pub fn new(cartridge: &'c Cartridge) -> Result<KeyHistory<'c>> {
        if cartridge.kind() != Kind::KeyHistory {
            return Err(CartridgeError::WrongKind {
                path: cartridge.path().to_path_buf(),
                expected: Kind::KeyHistory.name().into(),
                found: cartridge.kind_name().into(),
            });
        }
        Ok(KeyHistory {
            cartridge,
            table: cartridge.table(TableId::Index),
        })
    }

    /// The cartridge.
    pub fn cartridge(&self) -> &'c Cartridge {
        self.cartridge
    }

    /// Versions stored, over all keys.
    pub fn version_count(&self) -> usize {
        self.table.entry_count()
    }

    /// The value of `key` in `keyspace` (`b""` for the default keyspace) as of `txn`: what
    /// `begin_read_at(txn)` would read. O(log n), no allocation.
    ///
    /// Errors: [`CartridgeError::TxnOutOfRange`] when `txn` is past the cartridge's
    /// `txn_to` (use [`KeyHistoryNow`] to fold in newer records).
    pub fn get_at(&self, keyspace: &[u8], key: &[u8], txn: TxnId) -> Result<Option<&'c [u8]>> {
        if txn > self.cartridge.txn_to() {
            return Err(self.cartridge.out_of_range(txn));
        }
        let Some(group) = self.table.find_group(keyspace) else {
            return Ok(None);
        };
        let range = self.table.group_range(group);
        let after = self
            .table
            .lower_bound(range.clone(), key, txn.saturating_add(1), &[]);
        if after == range.start {
            return Ok(None);
        }
        let entry = self.table.entry(after - 1);
        Ok((entry.key == key && !entry.tombstone).then_some(entry.value))
    }

    /// Every version of `key` in `keyspace` up to the cartridge's `txn_to`, oldest first.
    pub fn history(&self, keyspace: &[u8], key: &[u8]) -> History<'c> {
        let range = match self.table.find_group(keyspace) {
            Some(group) => {
                let range = self.table.group_range(group);
                let start = self.table.lower_bound(range.clone(), key, 0, &[]);
                let end = self.table.lower_bound(range, key, TxnId::MAX, &[]);
                // Versions at txn u64::MAX cannot exist: no commit has that id.
                start..end
            }
            None => 0..0,
        };
        History {
            table: self.table,
            range,
        }
    }
}

/// A key_history cartridge with the log records after it folded in: reads as of any txn
/// up to the database's newest when it was loaded.
#[derive(Debug, Clone)]
pub struct KeyHistoryNow<'c> {
    base: KeyHistory<'c>,
    delta: Delta,
}

impl<'c> KeyHistoryNow<'c> {
    /// Folds the records of `log` after the cartridge into memory.
    ///
    /// Errors: those of [`Delta::load`].
    ///
    /// ```
    /// use northstar::{Db, Options};
    /// use northstar_cartridges::{BuildOptions, KeyHistory, KeyHistoryNow, LogSource, Recipe, Shelf};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// let mut txn = db.begin_write()?;
    /// txn.put(b"k", b"old")?;
    /// txn.commit()?;
    /// let (shelf, _) = Shelf::open(dir.path(), Recipe::KeyHistory, &BuildOptions::default())?;
    /// let mut txn = db.begin_write()?;
    /// txn.put(b"k", b"new")?;
    /// txn.commit()?;
    ///
    /// let cartridge = shelf.current();
    /// let history = KeyHistory::new(&cartridge)?;
    /// assert_eq!(history.get_at(b"", b"k", 1)?, Some(&b"old"[..]));
    /// assert!(history.get_at(b"", b"k", 2).is_err(), "txn 2 is past the cartridge");
    /// let now = KeyHistoryNow::load(history, &LogSource::open(dir.path())?)?;
    /// assert_eq!(now.get(b"", b"k")?.as_deref(), Some(&b"new"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load(base: KeyHistory<'c>, log: &LogSource) -> Result<KeyHistoryNow<'c>> {
        let delta = Delta::load(base.cartridge, log, None, |_| true)?;
        Ok(KeyHistoryNow { base, delta })
    }

    /// The newest txn it answers for.
    pub fn txn(&self) -> TxnId {
        self.delta.txn()
    }

    /// Txns between the cartridge and now.
    pub fn lag(&self) -> u64 {
        self.delta.txn() - self.delta.base
    }

    /// The value of `key` as of `txn`.
    ///
    /// Errors: [`CartridgeError::TxnOutOfRange`] past the newest txn loaded.
    pub fn get_at(&self, keyspace: &[u8], key: &[u8], txn: TxnId) -> Result<Option<Vec<u8>>> {
        if txn <= self.delta.base {
            return Ok(self.base.get_at(keyspace, key, txn)?.map(<[u8]>::to_vec));
        }
        if txn > self.delta.txn() {
            return Err(CartridgeError::TxnOutOfRange {
                path: self.base.cartridge.path().to_path_buf(),
                requested: txn,
                from: self.base.cartridge.txn_from(),
                to: self.delta.txn(),
            });
        }
        Ok(match self.delta.get_at(keyspace, key, txn) {
            Lookup::Found(value) => value.map(<[u8]>::to_vec),
            Lookup::Base => self
                .base
                .get_at(keyspace, key, self.delta.base)?
                .map(<[u8]>::to_vec),
        })
    }

    /// The value of `key` now.
    ///
    /// Errors: none in practice (as [`KeyHistoryNow::get_at`] at the newest txn).
    pub fn get(&self, keyspace: &[u8], key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.get_at(keyspace, key, self.delta.txn())
    }
}
