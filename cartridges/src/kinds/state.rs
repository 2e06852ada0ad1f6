//! State-derived indexes (`pending_tasks_by_type` and user-defined extractors): entries
//! computed from each key's value as of `txn_to`, built from the log and caught up by
//! merging.
//!
//! Table 0 (the index) groups entries by the extractor's group; each entry's key is the
//! index key and its value the source (keyspace, key). Table 1 (sources) holds, per
//! source key with entries, the encoded list of what it produced.
//!
//! Invariants:
//! - The index holds exactly the entries the extractor gives for each live key's value at
//!   `txn_to`; the sources table holds exactly those sources. A full build and a merge
//!   from an older cartridge compute the same two sorted sets, so the same bytes.
//! - A merge reads the old cartridge once in order and keeps in memory only what the
//!   delta touched (and the entries it hides).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use northstar::TxnId;

use super::extractor::{decode_derived, derive, encode_source, Extractor};
use crate::delta::{Delta, SourceKey, Stamp};
use crate::entry::Entry;
use crate::error::{CartridgeError, Result};
use crate::format::Table;
use crate::map::{Cartridge, TableId};
use crate::sort::{merge, EntryStream, Sorter};
use crate::write::TableWriter;

/// The change event a full build sorts: the source key at a txn with what its value
/// produced (a tombstone when nothing, or deleted).
pub(crate) fn change_event(
    extractor: &dyn Extractor,
    stamp: Stamp,
    keyspace: &[u8],
    key: &[u8],
    value: Option<&[u8]>,
) -> Entry {
    let derived = value.and_then(|value| derive(extractor, keyspace, key, value));
    Entry {
        group: keyspace.to_vec(),
        key: key.to_vec(),
        seq: stamp.0,
        ordinal: stamp.1,
        tombstone: derived.is_none(),
        value: derived.unwrap_or_default(),
    }
}

fn index_entries(source: &Entry) -> impl Iterator<Item = Entry> + '_ {
    let derived = decode_derived(&source.value).expect("derived lists are encoded by this crate");
    let value = encode_source(&source.group, &source.key);
    derived.into_iter().map(move |entry| Entry {
        group: entry.group,
        key: entry.key,
        seq: 0,
        ordinal: 0,
        value: value.clone(),
        tombstone: false,
    })
}

fn source_entry(group: &[u8], key: &[u8], derived: Vec<u8>) -> Entry {
    Entry {
        group: group.to_vec(),
        key: key.to_vec(),
        seq: 0,
        ordinal: 0,
        value: derived,
        tombstone: false,
    }
}

/// Writes both tables of a full build from the sorted change events and the drops.
///
/// Errors: [`CartridgeError::Io`] from sorting or writing.
pub(crate) fn write_full(
    events: EntryStream<'_>,
    drops: &BTreeMap<Vec<u8>, Vec<Stamp>>,
    dir: &Path,
    memory_budget: usize,
    writers: [&mut TableWriter<'_>; 2],
) -> Result<()> {
    let [index, sources] = writers;
    let mut sorter = Sorter::new(dir, memory_budget);
    let mut finish = |last: Entry| -> Result<()> {
        let stamp = (last.seq, last.ordinal);
        let dropped = drops
            .get(&last.group)
            .is_some_and(|drops| drops.last().is_some_and(|drop| *drop > stamp));
        if last.tombstone || dropped {
            return Ok(());
        }
        let source = source_entry(&last.group, &last.key, last.value.clone());
        for entry in index_entries(&source) {
            sorter.push(entry)?;
        }
        sources.push(&source)
    };
    let mut pending: Option<Entry> = None;
    for event in events {
        let event = event?;
        if let Some(last) = pending.take() {
            if !last.same_key(&event) {
                finish(last)?;
            }
        }
        pending = Some(event);
    }
    if let Some(last) = pending {
        finish(last)?;
    }
    for entry in sorter.finish()? {
        index.push(&entry?)?;
    }
    Ok(())
}

/// Writes both tables by merging `old` with the final states in `delta`.
///
/// Errors: [`CartridgeError::Io`] from writing; [`CartridgeError::Corrupt`] if an old
/// source list does not decode.
pub(crate) fn write_merged(
    old: &Cartridge,
    delta: &Delta,
    extractor: &dyn Extractor,
    writers: [&mut TableWriter<'_>; 2],
) -> Result<()> {
    let [index, sources] = writers;
    let touched: BTreeMap<SourceKey, Option<Vec<u8>>> = delta
        .touched()
        .map(|((keyspace, key), value)| {
            let derived = value.and_then(|value| derive(extractor, keyspace, key, value));
            ((keyspace.clone(), key.clone()), derived)
        })
        .collect();
    let mut hidden = BTreeSet::new();
    let mut added = BTreeSet::new();
    let new_sources: Vec<Entry> = touched
        .iter()
        .filter_map(|((group, key), derived)| Some(source_entry(group, key, derived.clone()?)))
        .collect();
    for source in &new_sources {
        added.extend(index_entries(source));
    }
    let kept = old.stream(TableId::Sources).filter_map(|source| {
        let source = match source {
            Ok(source) => source,
            error => return Some(error),
        };
        let replaced = touched.contains_key(&(source.group.clone(), source.key.clone()))
            || delta.last_drop(&source.group, TxnId::MAX).is_some();
        if replaced {
            hidden.extend(index_entries(&source));
            return None;
        }
        Some(Ok(source))
    });
    for source in merge(Box::new(kept), Box::new(new_sources.into_iter().map(Ok))) {
        sources.push(&source?)?;
    }
    let kept = old
        .stream(TableId::Index)
        .filter(|entry| entry.as_ref().map_or(true, |entry| !hidden.contains(entry)));
    for entry in merge(Box::new(kept), Box::new(added.into_iter().map(Ok))) {
        index.push(&entry?)?;
    }
    Ok(())
}

/// Reading a state-derived index: as of a cartridge, or as of now with a delta.
pub trait IndexRead {
    /// Entries under `group`.
    fn count(&self, group: &[u8]) -> u64;

    /// Every group with its entry count, in group order.
    fn groups(&self) -> Vec<(Vec<u8>, u64)>;

    /// Calls `visit(index_key, source)` for the entries of `group` in order (only those
    /// with index key `key`, when given) until it returns `false`. `source` decodes with
    /// [`crate::decode_source`].
    fn scan(&self, group: &[u8], key: Option<&[u8]>, visit: &mut dyn FnMut(&[u8], &[u8]) -> bool);

    /// The newest txn the answers reflect.
    fn txn(&self) -> TxnId;
}

impl<T: IndexRead + ?Sized> IndexRead for &T {
    fn count(&self, group: &[u8]) -> u64 {
        (**self).count(group)
    }

    fn groups(&self) -> Vec<(Vec<u8>, u64)> {
        (**self).groups()
    }

    fn scan(&self, group: &[u8], key: Option<&[u8]>, visit: &mut dyn FnMut(&[u8], &[u8]) -> bool) {
        (**self).scan(group, key, visit)
    }

    fn txn(&self) -> TxnId {
        (**self).txn()
    }
}

/// A state-derived cartridge read as of its `txn_to`; no allocation per lookup.
#[derive(Debug, Clone, Copy)]
pub struct StateIndex<'c> {
    cartridge: &'c Cartridge,
    table: Table<'c>,
}

impl<'c> StateIndex<'c> {
    /// The index view of `cartridge`.
    ///
    /// Errors: [`CartridgeError::WrongKind`] for a key_history cartridge.
    pub fn new(cartridge: &'c Cartridge) -> Result<StateIndex<'c>> {
        if cartridge.kind() == crate::format::Kind::KeyHistory {
            return Err(CartridgeError::WrongKind {
                path: cartridge.path().to_path_buf(),
                expected: "a state-derived index".into(),
                found: cartridge.kind_name().into(),
            });
        }
        Ok(StateIndex {
            cartridge,
            table: cartridge.table(TableId::Index),
        })
    }

    /// The cartridge.
    pub fn cartridge(&self) -> &'c Cartridge {
        self.cartridge
    }

    fn range(&self, group: &[u8], key: Option<&[u8]>) -> std::ops::Range<usize> {
        let Some(index) = self.table.find_group(group) else {
            return 0..0;
        };
        let range = self.table.group_range(index);
        match key {
            None => range,
            Some(key) => {
                let start = self.table.lower_bound(range.clone(), key, 0, &[]);
                let end = self.table.lower_bound(range, key, 1, &[]);
                start..end
            }
        }
    }
}

impl IndexRead for StateIndex<'_> {
    fn count(&self, group: &[u8]) -> u64 {
        self.range(group, None).len() as u64
    }

    fn groups(&self) -> Vec<(Vec<u8>, u64)> {
        (0..self.table.group_count())
            .map(|index| {
                let name = self.table.group_name(index).to_vec();
                (name, self.table.group_range(index).len() as u64)
            })
            .collect()
    }

    fn scan(&self, group: &[u8], key: Option<&[u8]>, visit: &mut dyn FnMut(&[u8], &[u8]) -> bool) {
        for index in self.range(group, key) {
            let entry = self.table.entry(index);
            if !visit(entry.key, entry.value) {
                return;
            }
        }
    }

    fn txn(&self) -> TxnId {
        self.cartridge.txn_to()
    }
}

/// A state-derived cartridge with the log records after it folded in.
#[derive(Debug, Clone)]
pub struct StateNow<'c> {
    base: StateIndex<'c>,
    txn: TxnId,
    hidden: HashSet<usize>,
    hidden_by_group: BTreeMap<Vec<u8>, u64>,
    added: BTreeSet<Entry>,
}

impl<'c> StateNow<'c> {
    /// Folds `delta` (loaded for `base`'s cartridge) into a view of the index now.
    pub fn new(base: StateIndex<'c>, delta: &Delta, extractor: &dyn Extractor) -> StateNow<'c> {
        let sources = base.cartridge.table(TableId::Sources);
        let mut view = StateNow {
            base,
            txn: delta.txn(),
            hidden: HashSet::new(),
            hidden_by_group: BTreeMap::new(),
            added: BTreeSet::new(),
        };
        let mut hide = |group: &[u8], key: &[u8], derived: &[u8]| {
            let source = encode_source(group, key);
            for entry in decode_derived(derived).expect("derived lists are encoded by this crate") {
                let range = view.base.range(&entry.group, Some(&entry.key));
                let at = view
                    .base
                    .table
                    .lower_bound(range.clone(), &entry.key, 0, &source);
                if at < range.end && view.base.table.entry(at).value == source {
                    view.hidden.insert(at);
                    *view.hidden_by_group.entry(entry.group).or_default() += 1;
                }
            }
        };
        for keyspace in delta.drops.keys() {
            if let Some(group) = sources.find_group(keyspace) {
                for index in sources.group_range(group) {
                    let source = sources.entry(index);
                    hide(keyspace, source.key, source.value);
                }
            }
        }
        for ((keyspace, key), value) in delta.touched() {
            if delta.drops.contains_key(keyspace) {
                // Every old entry of the keyspace is hidden already.
            } else if let Some(group) = sources.find_group(keyspace) {
                let range = sources.group_range(group);
                let at = sources.lower_bound(range.clone(), key, 0, &[]);
                if at < range.end && sources.entry(at).key == &key[..] {
                    hide(keyspace, key, sources.entry(at).value);
                }
            }
            if let Some(derived) = value.and_then(|value| derive(extractor, keyspace, key, value)) {
                let source = source_entry(keyspace, key, derived);
                view.added.extend(index_entries(&source));
            }
        }
        view
    }
}

impl IndexRead for StateNow<'_> {
    fn count(&self, group: &[u8]) -> u64 {
        let added = self
            .added
            .iter()
            .filter(|entry| entry.group == group)
            .count() as u64;
        self.base.count(group) - self.hidden_by_group.get(group).copied().unwrap_or(0) + added
    }

    fn groups(&self) -> Vec<(Vec<u8>, u64)> {
        let mut names: BTreeSet<Vec<u8>> = self
            .base
            .groups()
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        names.extend(self.added.iter().map(|entry| entry.group.clone()));
        names
            .into_iter()
            .map(|name| {
                let count = self.count(&name);
                (name, count)
            })
            .filter(|(_, count)| *count > 0)
            .collect()
    }

    fn scan(&self, group: &[u8], key: Option<&[u8]>, visit: &mut dyn FnMut(&[u8], &[u8]) -> bool) {
        let mut added = self
            .added
            .iter()
            .filter(|entry| entry.group == group && key.is_none_or(|key| entry.key == key))
            .peekable();
        for index in self.base.range(group, key) {
            if self.hidden.contains(&index) {
                continue;
            }
            let entry = self.base.table.entry(index);
            while let Some(next) =
                added.next_if(|next| (&next.key[..], &next.value[..]) < (entry.key, entry.value))
            {
                if !visit(&next.key, &next.value) {
                    return;
                }
            }
            if !visit(entry.key, entry.value) {
                return;
            }
        }
        for next in added {
            if !visit(&next.key, &next.value) {
                return;
            }
        }
    }

    fn txn(&self) -> TxnId {
        self.txn
    }
}
