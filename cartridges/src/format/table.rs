//! A table of a mapped cartridge: groups of entries sorted by key, read in place.
//!
//! Invariants, all checked once by [`Table::check`] so lookups need no bound checks that
//! could fail:
//! - Groups cover the entries `0 .. n` in order, each at least one entry; group names lie
//!   inside the names section and increase strictly (bytewise), so a group index orders
//!   like its name.
//! - Every entry's key and value lie inside the data section; flags are zero or
//!   `FLAG_TOMBSTONE` (and a tombstone has no value); reserved fields are zero.
//! - Within a group, entries increase strictly by (key, seq, value): a binary search
//!   finds the one answer, and lookups allocate nothing.

use std::cmp::Ordering;
use std::ops::Range;
use std::path::Path;

use zerocopy::FromBytes;

use super::layout::{EntrySlot, GroupSlot, FLAG_TOMBSTONE};
use crate::error::{CartridgeError, Result};

/// One table of a cartridge, borrowed from the mapped bytes.
#[derive(Debug, Clone, Copy)]
pub struct Table<'a> {
    groups: &'a [GroupSlot],
    names: &'a [u8],
    entries: &'a [EntrySlot],
    data: &'a [u8],
}

/// Where a table's four sections lie in the file, and their names for errors.
pub struct TableSections<'a> {
    /// File bytes.
    pub bytes: &'a [u8],
    /// Byte ranges of groups, names, entries and data.
    pub ranges: [Range<usize>; 4],
    /// Section names, in the same order.
    pub names: [&'static str; 4],
}

/// One entry read from a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRef<'a> {
    /// The key.
    pub key: &'a [u8],
    /// Sequence number (a txn for key versions).
    pub seq: u64,
    /// The value (empty for a tombstone).
    pub value: &'a [u8],
    /// Whether this is a tombstone.
    pub tombstone: bool,
}

impl<'a> Table<'a> {
    /// An empty table.
    pub const EMPTY: Table<'static> = Table {
        groups: &[],
        names: &[],
        entries: &[],
        data: &[],
    };

    /// Views and checks a table.
    ///
    /// Errors: [`CartridgeError::Corrupt`] naming the section and the file offset of the
    /// first slot that breaks an invariant of this module.
    pub fn check(path: &Path, sections: TableSections<'a>) -> Result<Table<'a>> {
        let [groups, names, entries, data] = sections.ranges.clone();
        let slots = |range: &Range<usize>, index: usize| {
            let bytes = &sections.bytes[range.clone()];
            if !bytes.len().is_multiple_of(32) {
                return Err(CartridgeError::corrupt(
                    path,
                    sections.names[index],
                    range.start as u64,
                    format!("size {} is not a multiple of the 32-byte slot", bytes.len()),
                ));
            }
            Ok(bytes)
        };
        let table = Table {
            groups: <[GroupSlot]>::ref_from_bytes(slots(&groups, 0)?).expect("size checked"),
            names: &sections.bytes[names],
            entries: <[EntrySlot]>::ref_from_bytes(slots(&entries, 2)?).expect("size checked"),
            data: &sections.bytes[data],
        };
        table.check_groups(path, &sections)?;
        table.check_entries(path, &sections)?;
        Ok(table)
    }

    /// Views a table that [`Table::check`] accepted before (when the file was opened), in
    /// O(1). Panics if a size is not a multiple of 32, which `check` rules out.
    pub fn view(bytes: &'a [u8], ranges: [Range<usize>; 4]) -> Table<'a> {
        let [groups, names, entries, data] = ranges;
        Table {
            groups: <[GroupSlot]>::ref_from_bytes(&bytes[groups]).expect("checked at open"),
            names: &bytes[names],
            entries: <[EntrySlot]>::ref_from_bytes(&bytes[entries]).expect("checked at open"),
            data: &bytes[data],
        }
    }

    fn check_groups(&self, path: &Path, sections: &TableSections<'_>) -> Result<()> {
        let mut next_entry = 0u64;
        let mut previous: Option<&[u8]> = None;
        for (index, group) in self.groups.iter().enumerate() {
            let offset = (sections.ranges[0].start + index * 32) as u64;
            let corrupt =
                |detail: String| CartridgeError::corrupt(path, sections.names[0], offset, detail);
            let name = slice(
                self.names,
                group.name_offset.get(),
                u64::from(group.name_len.get()),
            )
            .ok_or_else(|| corrupt("group name lies outside the names section".into()))?;
            if previous.is_some_and(|previous| previous >= name) {
                return Err(corrupt("group names are not strictly increasing".into()));
            }
            if group.reserved.get() != 0 {
                return Err(corrupt("reserved field is not zero".into()));
            }
            if group.entry_first.get() != next_entry || group.entry_count.get() == 0 {
                return Err(corrupt(format!(
                    "group covers entries {} + {}, expected to start at {next_entry} with at least one",
                    group.entry_first.get(),
                    group.entry_count.get()
                )));
            }
            next_entry = next_entry.saturating_add(group.entry_count.get());
            previous = Some(name);
        }
        if next_entry != self.entries.len() as u64 {
            return Err(CartridgeError::corrupt(
                path,
                sections.names[0],
                sections.ranges[0].end as u64,
                format!(
                    "groups cover {next_entry} entries, the table holds {}",
                    self.entries.len()
                ),
            ));
        }
        Ok(())
    }

    fn check_entries(&self, path: &Path, sections: &TableSections<'_>) -> Result<()> {
        for (group_index, group) in self.groups.iter().enumerate() {
            let first = group.entry_first.get() as usize;
            let mut previous: Option<EntryRef<'_>> = None;
            for index in first..first + group.entry_count.get() as usize {
                let slot = &self.entries[index];
                let offset = (sections.ranges[2].start + index * 32) as u64;
                let corrupt =
                    |detail: &str| CartridgeError::corrupt(path, sections.names[2], offset, detail);
                let len = u64::from(slot.key_len.get()) + u64::from(slot.value_len.get());
                if slice(self.data, slot.data_offset.get(), len).is_none() {
                    return Err(corrupt("key and value lie outside the data section"));
                }
                let flags = slot.flags.get();
                if flags & !FLAG_TOMBSTONE != 0 || slot.reserved.get() != 0 {
                    return Err(corrupt("unknown flags or non-zero reserved field"));
                }
                if flags == FLAG_TOMBSTONE && slot.value_len.get() != 0 {
                    return Err(corrupt("a tombstone carries a value"));
                }
                let entry = self.entry(index);
                if previous.is_some_and(|previous| compare(&previous, &entry) != Ordering::Less) {
                    return Err(corrupt(&format!(
                        "entries of group {group_index} are not in strictly increasing order"
                    )));
                }
                previous = Some(entry);
            }
        }
        Ok(())
    }

    /// Groups in the table.
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// Entries in the table.
    pub fn entry_count(&self) -> usize {
        self.entries.len()
    }

    /// Name of group `index`. Panics if `index` is out of range.
    pub fn group_name(&self, index: usize) -> &'a [u8] {
        let group = &self.groups[index];
        &self.names[group.name_offset.get() as usize..][..group.name_len.get() as usize]
    }

    /// Entry index range of group `index`. Panics if `index` is out of range.
    pub fn group_range(&self, index: usize) -> Range<usize> {
        let group = &self.groups[index];
        let first = group.entry_first.get() as usize;
        first..first + group.entry_count.get() as usize
    }

    /// Index of the group named `name`, by binary search.
    pub fn find_group(&self, name: &[u8]) -> Option<usize> {
        self.groups
            .binary_search_by(|group| {
                let start = group.name_offset.get() as usize;
                self.names[start..start + group.name_len.get() as usize].cmp(name)
            })
            .ok()
    }

    /// Entry `index`. Panics if `index` is out of range.
    pub fn entry(&self, index: usize) -> EntryRef<'a> {
        let slot = &self.entries[index];
        let start = slot.data_offset.get() as usize;
        let key_end = start + slot.key_len.get() as usize;
        EntryRef {
            key: &self.data[start..key_end],
            seq: slot.seq.get(),
            value: &self.data[key_end..key_end + slot.value_len.get() as usize],
            tombstone: slot.flags.get() == FLAG_TOMBSTONE,
        }
    }

    /// First index in `range` (a group's) whose entry is not less than (`key`, `seq`,
    /// `value`), by binary search; allocates nothing.
    pub fn lower_bound(&self, range: Range<usize>, key: &[u8], seq: u64, value: &[u8]) -> usize {
        let slots = &self.entries[range.clone()];
        range.start
            + slots.partition_point(|slot| {
                let start = slot.data_offset.get() as usize;
                let key_end = start + slot.key_len.get() as usize;
                let found = &self.data[start..key_end];
                let found_value = &self.data[key_end..key_end + slot.value_len.get() as usize];
                (found, slot.seq.get(), found_value) < (key, seq, value)
            })
    }
}

/// The order of entries within a group: (key, seq, value).
pub fn compare(left: &EntryRef<'_>, right: &EntryRef<'_>) -> Ordering {
    (left.key, left.seq, left.value).cmp(&(right.key, right.seq, right.value))
}

fn slice(bytes: &[u8], offset: u64, len: u64) -> Option<&[u8]> {
    let end = offset.checked_add(len)?;
    bytes.get(usize::try_from(offset).ok()?..usize::try_from(end).ok()?)
}
