//! Sorting entries with bounded memory: sorted runs spilled to temporary files and merged
//! from disk, and the merge of two sorted streams.
//!
//! Invariants:
//! - The sorter holds at most about `memory_budget` bytes of entries; beyond that it
//!   writes a sorted run to an anonymous temporary file in the cartridge directory.
//! - The output is the sorted sequence of everything pushed, whatever the budget: the
//!   number of runs changes the I/O, never the result (entries order totally).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

use crate::entry::Entry;
use crate::error::{CartridgeError, Result};

/// A sorted stream of entries (or the I/O error that ended it).
pub type EntryStream<'a> = Box<dyn Iterator<Item = Result<Entry>> + 'a>;

/// Memory a sorter may fill before spilling a run, unless the builder says otherwise.
pub const MEMORY_BUDGET_DEFAULT: usize = 256 << 20;

/// An external sorter of entries.
pub struct Sorter {
    dir: PathBuf,
    memory_budget: usize,
    buffer: Vec<Entry>,
    buffered_bytes: usize,
    runs: Vec<File>,
}

impl Sorter {
    /// A sorter that spills runs into `dir` once `memory_budget` bytes are buffered.
    pub fn new(dir: &Path, memory_budget: usize) -> Sorter {
        Sorter {
            dir: dir.to_path_buf(),
            memory_budget,
            buffer: Vec::new(),
            buffered_bytes: 0,
            runs: Vec::new(),
        }
    }

    /// Runs spilled to disk so far.
    #[cfg(test)]
    pub fn run_count(&self) -> usize {
        self.runs.len()
    }

    /// Adds an entry. Errors: [`CartridgeError::Io`] when spilling a run fails.
    pub fn push(&mut self, entry: Entry) -> Result<()> {
        self.buffered_bytes += entry.footprint();
        self.buffer.push(entry);
        if self.buffered_bytes >= self.memory_budget {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> Result<()> {
        self.buffer.sort_unstable();
        let io = |op: &str, error| CartridgeError::io(&self.dir, op, error);
        let file = tempfile::tempfile_in(&self.dir).map_err(|e| io("create a sort run in", e))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        for entry in self.buffer.drain(..) {
            entry
                .write_to(&mut out)
                .map_err(|e| io("write a sort run in", e))?;
        }
        let mut file = out
            .into_inner()
            .map_err(|e| io("write a sort run in", e.into_error()))?;
        file.rewind().map_err(|e| io("rewind a sort run in", e))?;
        self.runs.push(file);
        self.buffered_bytes = 0;
        Ok(())
    }

    /// Everything pushed, in order.
    ///
    /// Errors: [`CartridgeError::Io`] spilling the last run; reading runs later fails
    /// inside the stream.
    pub fn finish(mut self) -> Result<EntryStream<'static>> {
        if self.runs.is_empty() {
            self.buffer.sort_unstable();
            return Ok(Box::new(self.buffer.into_iter().map(Ok)));
        }
        if !self.buffer.is_empty() {
            self.spill()?;
        }
        let dir = self.dir.clone();
        let mut readers: Vec<BufReader<File>> = self
            .runs
            .into_iter()
            .map(|file| BufReader::with_capacity(1 << 18, file))
            .collect();
        let mut heap = BinaryHeap::new();
        for (index, reader) in readers.iter_mut().enumerate() {
            if let Some(entry) = read_run(&dir, reader)? {
                heap.push(Reverse((entry, index)));
            }
        }
        Ok(Box::new(std::iter::from_fn(move || {
            let Reverse((entry, index)) = heap.pop()?;
            match read_run(&dir, &mut readers[index]) {
                Ok(Some(next)) => heap.push(Reverse((next, index))),
                Ok(None) => {}
                Err(error) => return Some(Err(error)),
            }
            Some(Ok(entry))
        })))
    }
}

fn read_run(dir: &Path, reader: &mut BufReader<File>) -> Result<Option<Entry>> {
    Entry::read_from(reader).map_err(|error| CartridgeError::io(dir, "read a sort run in", error))
}

/// The merge of two sorted streams, in order; on equal entries `left` comes first.
pub fn merge<'a>(left: EntryStream<'a>, right: EntryStream<'a>) -> EntryStream<'a> {
    let mut left = left.peekable();
    let mut right = right.peekable();
    Box::new(std::iter::from_fn(move || {
        let take_left = match (left.peek(), right.peek()) {
            (Some(Err(_)), _) => true,
            (_, Some(Err(_))) => false,
            (Some(Ok(l)), Some(Ok(r))) => l <= r,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return None,
        };
        if take_left {
            left.next()
        } else {
            right.next()
        }
    }))
}

/// Flushes and syncs a buffered file, naming `path` in errors.
pub fn flush_file(out: BufWriter<File>, path: &Path, op: &str) -> Result<File> {
    let mut out = out;
    out.flush().map_err(|e| CartridgeError::io(path, op, e))?;
    out.into_inner()
        .map_err(|e| CartridgeError::io(path, op, e.into_error()))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn arbitrary_entry() -> impl Strategy<Value = Entry> {
        let bytes = || proptest::collection::vec(0u8..4, 0..4);
        (bytes(), bytes(), 0u64..4, 0u64..3, bytes(), any::<bool>()).prop_map(
            |(group, key, seq, ordinal, value, tombstone)| Entry {
                group,
                key,
                seq,
                ordinal,
                value,
                tombstone,
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn any_budget_sorts_like_an_in_memory_sort(
            entries in proptest::collection::vec(arbitrary_entry(), 0..200),
            budget in 1usize..4096,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let mut sorter = Sorter::new(dir.path(), budget);
            for entry in &entries {
                sorter.push(entry.clone()).unwrap();
            }
            let sorted: Vec<Entry> = sorter.finish().unwrap().map(Result::unwrap).collect();
            let mut expected = entries;
            expected.sort();
            prop_assert_eq!(sorted, expected);
        }
    }

    fn entry(key: u32) -> Entry {
        Entry {
            group: vec![(key % 3) as u8],
            key: key.to_be_bytes().to_vec(),
            seq: u64::from(key % 5),
            ordinal: 0,
            value: vec![0; (key % 7) as usize],
            tombstone: false,
        }
    }

    #[test]
    fn spilled_runs_merge_to_the_same_order_as_an_in_memory_sort() {
        let dir = tempfile::tempdir().unwrap();
        let keys: Vec<u32> = (0..5000).map(|i| i * 7919 % 5003).collect();
        let sorted = |budget| -> Vec<Entry> {
            let mut sorter = Sorter::new(dir.path(), budget);
            for key in &keys {
                sorter.push(entry(*key)).unwrap();
            }
            let runs = sorter.run_count();
            let out: Vec<Entry> = sorter.finish().unwrap().map(Result::unwrap).collect();
            assert_eq!(
                runs > 0,
                budget < 1 << 20,
                "budget {budget} spilled {runs} runs"
            );
            out
        };
        let in_memory = sorted(1 << 30);
        let mut expected: Vec<Entry> = keys.iter().map(|key| entry(*key)).collect();
        expected.sort();
        assert_eq!(in_memory, expected);
        assert_eq!(sorted(4096), expected);
    }

    #[test]
    fn merge_interleaves_two_sorted_streams() {
        let mut left: Vec<Entry> = (0..10).step_by(2).map(entry).collect();
        let mut right: Vec<Entry> = (1..10).step_by(2).map(entry).collect();
        left.sort();
        right.sort();
        let merged: Vec<Entry> = merge(
            Box::new(left.clone().into_iter().map(Ok)),
            Box::new(right.clone().into_iter().map(Ok)),
        )
        .map(Result::unwrap)
        .collect();
        let mut expected = [left, right].concat();
        expected.sort();
        assert_eq!(merged, expected);
    }
}
