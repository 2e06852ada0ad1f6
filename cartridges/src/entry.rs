//! The owned entry that flows from the log through sorting into a table writer.
//!
//! Invariants:
//! - Entries order by (group, key, seq, ordinal, value, tombstone), the derived order of
//!   the fields; equal entries are identical, so any sort of them gives the same bytes.
//! - `ordinal` only breaks ties between two changes of one key in one txn (the later op
//!   wins); it is never written to a cartridge.
//! - The run encoding is a pure function of the entry and reads back to it exactly.

use std::io::{self, Read, Write};

use crate::format::EntryRef;

/// An entry of a table, or an event on its way to becoming one.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Entry {
    /// Group name: a keyspace name (`""` is the default keyspace), a task type, ...
    pub group: Vec<u8>,
    /// The key within the group.
    pub key: Vec<u8>,
    /// Sequence number: the txn of a version; zero where unused.
    pub seq: u64,
    /// Position of the op within its txn, for ties within one txn.
    pub ordinal: u64,
    /// The value.
    pub value: Vec<u8>,
    /// A delete: no value.
    pub tombstone: bool,
}

const RUN_HEAD_SIZE: usize = 4 * 4 + 2 * 8;

impl Entry {
    /// An owned copy of `entry`, read from a table, of group `group`.
    pub fn from_ref(group: &[u8], entry: EntryRef<'_>) -> Entry {
        Entry {
            group: group.to_vec(),
            key: entry.key.to_vec(),
            seq: entry.seq,
            ordinal: 0,
            value: entry.value.to_vec(),
            tombstone: entry.tombstone,
        }
    }

    /// Bytes of memory the entry takes, roughly: what the sorter's budget counts.
    pub fn footprint(&self) -> usize {
        size_of::<Entry>() + self.group.len() + self.key.len() + self.value.len()
    }

    /// Appends the run encoding of the entry to `out`.
    pub fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        let mut head = [0u8; RUN_HEAD_SIZE];
        head[0..4].copy_from_slice(&(self.group.len() as u32).to_le_bytes());
        head[4..8].copy_from_slice(&(self.key.len() as u32).to_le_bytes());
        head[8..12].copy_from_slice(&(self.value.len() as u32).to_le_bytes());
        head[12..16].copy_from_slice(&u32::from(self.tombstone).to_le_bytes());
        head[16..24].copy_from_slice(&self.seq.to_le_bytes());
        head[24..32].copy_from_slice(&self.ordinal.to_le_bytes());
        out.write_all(&head)?;
        out.write_all(&self.group)?;
        out.write_all(&self.key)?;
        out.write_all(&self.value)
    }

    /// Reads the next entry of a run written by [`Entry::write_to`]; `None` at its end.
    pub fn read_from(input: &mut impl Read) -> io::Result<Option<Entry>> {
        let mut head = [0u8; RUN_HEAD_SIZE];
        match input.read_exact(&mut head) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(error) => return Err(error),
        }
        let u32_at =
            |at: usize| u32::from_le_bytes(head[at..at + 4].try_into().expect("4")) as usize;
        let u64_at = |at: usize| u64::from_le_bytes(head[at..at + 8].try_into().expect("8"));
        let mut read = |len: usize| -> io::Result<Vec<u8>> {
            let mut bytes = vec![0u8; len];
            input.read_exact(&mut bytes)?;
            Ok(bytes)
        };
        Ok(Some(Entry {
            group: read(u32_at(0))?,
            key: read(u32_at(4))?,
            value: read(u32_at(8))?,
            tombstone: u32_at(12) != 0,
            seq: u64_at(16),
            ordinal: u64_at(24),
        }))
    }

    /// Whether `self` and `other` are versions of one (group, key) in one txn.
    pub fn same_version(&self, other: &Entry) -> bool {
        self.seq == other.seq && self.key == other.key && self.group == other.group
    }

    /// Whether `self` and `other` have the same group and key.
    pub fn same_key(&self, other: &Entry) -> bool {
        self.key == other.key && self.group == other.group
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_encoding_reads_back_exactly() {
        let entry = Entry {
            group: b"users".to_vec(),
            key: b"k1".to_vec(),
            seq: 7,
            ordinal: 3,
            value: b"v".to_vec(),
            tombstone: false,
        };
        let mut bytes = Vec::new();
        entry.write_to(&mut bytes).unwrap();
        entry.write_to(&mut bytes).unwrap();
        let mut input = &bytes[..];
        assert_eq!(Entry::read_from(&mut input).unwrap(), Some(entry.clone()));
        assert_eq!(Entry::read_from(&mut input).unwrap(), Some(entry));
        assert_eq!(Entry::read_from(&mut input).unwrap(), None);
    }
}
