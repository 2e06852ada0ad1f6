//! What a benchmark costs besides time: allocations, bytes written, log syncs and
//! checkpoints, read as snapshots before and after the measured work.
//!
//! - Allocations: [`CountingAllocator`] counts every `alloc`, `alloc_zeroed` and
//!   `realloc` of the process (all threads). Only the `northstar-bench` binary installs
//!   it as the `#[global_allocator]`; [`allocation_counting_is_active`] tells whether it is.
//! - Bytes written: the `wchar` field of `/proc/self/io`, the bytes this process handed
//!   to `write`-family system calls (the engine's `pwrite`s of pages, metas and log
//!   records), whether or not they reached the disk yet. Copies made with
//!   `copy_file_range` are not counted.
//! - Log syncs: `Db::log_sync_count()` of the database under test.
//! - Checkpoints: the library has no page-file sync counter, so a [`CheckpointWatch`]
//!   reads the txn id of the two meta pages after each write op and counts each advance;
//!   each checkpoint stands for the page-file syncs it makes.
//!
//! Invariants: taking a snapshot allocates nothing and writes nothing (it reads
//! `/proc/self/io` into a stack buffer and the meta pages into stack buffers), so the
//! counters do not count themselves.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use northstar::format::meta::{Meta, META_USED_SIZE};
use northstar::{Db, PAGE_SIZE};

use super::error::{BenchError, Fallible};

#[path = "../../../benches/support/counting_alloc.rs"]
mod counting_alloc;
pub use counting_alloc::{allocation_count, CountingAllocator};

/// Whether [`CountingAllocator`] is the global allocator of this process.
pub fn allocation_counting_is_active() -> bool {
    let before = allocation_count();
    std::hint::black_box(Box::new(0u64));
    allocation_count() > before
}

/// Bytes this process has passed to `write`-family calls (`wchar` of `/proc/self/io`),
/// or `None` where the kernel does not report it.
pub fn bytes_written_total() -> Option<u64> {
    let mut buffer = [0u8; 512];
    let mut file = File::open("/proc/self/io").ok()?;
    let mut len = 0;
    while len < buffer.len() {
        match file.read(&mut buffer[len..]) {
            Ok(0) => break,
            Ok(read) => len += read,
            Err(_) => return None,
        }
    }
    let text = std::str::from_utf8(&buffer[..len]).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("wchar:"))
        .and_then(|value| value.trim().parse().ok())
}

/// Counts checkpoints of one database by watching the txn id of its meta pages: a
/// checkpoint writes the newest txn's meta into the slot not holding the newest one.
///
/// [`CheckpointWatch::observe`] may be called from several threads; each advance of the
/// checkpoint txn is counted once. Two checkpoints between two observations count as
/// one, which cannot happen when every write op is followed by an observation, as a
/// checkpoint only runs when a write txn begins.
pub struct CheckpointWatch {
    path: PathBuf,
    file: File,
    newest: AtomicU64,
    count: AtomicU64,
}

impl CheckpointWatch {
    /// Watches the page file of `db`, starting from its current checkpoint.
    pub fn new(db: &Db) -> Fallible<CheckpointWatch> {
        let path = db.page_file_path();
        let file = File::open(path).map_err(|e| BenchError::io(path, "open", e))?;
        let newest = checkpoint_txn_id(&file, path)?;
        Ok(CheckpointWatch {
            path: path.to_path_buf(),
            file,
            newest: AtomicU64::new(newest),
            count: AtomicU64::new(0),
        })
    }

    /// Reads the meta pages and counts a checkpoint if their txn id advanced.
    pub fn observe(&self) -> Fallible<()> {
        let newest = checkpoint_txn_id(&self.file, &self.path)?;
        if self.newest.fetch_max(newest, Ordering::SeqCst) < newest {
            self.count.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }

    /// Checkpoints counted since the watch began.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }
}

/// The highest txn id among the meta slots of `file` that decode.
fn checkpoint_txn_id(file: &File, path: &Path) -> Fallible<u64> {
    Ok(checkpoint_meta(file, path)?.txn_id)
}

/// The newest checkpoint of page file `file` (named `path` in errors): the meta slot with
/// the highest txn id among those whose body decodes (the page checksum is not checked).
/// Allocates nothing unless it fails.
pub fn checkpoint_meta(file: &File, path: &Path) -> Fallible<Meta> {
    let mut newest: Option<Meta> = None;
    for slot in 0..2u64 {
        let mut bytes = [0u8; META_USED_SIZE];
        file.read_exact_at(&mut bytes, slot * PAGE_SIZE as u64)
            .map_err(|e| BenchError::io(path, "read a meta page of", e))?;
        if let Ok(meta) = Meta::decode_body(&bytes) {
            if newest.is_none_or(|newest| meta.txn_id > newest.txn_id) {
                newest = Some(meta);
            }
        }
    }
    newest.ok_or_else(|| BenchError::new(format!("{}: neither meta page decodes", path.display())))
}

/// Cumulative counters at one moment, or differences between two moments.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Allocations (see [`CountingAllocator`]).
    pub allocations: u64,
    /// Bytes passed to `write` calls; `None` where `/proc/self/io` is missing.
    pub bytes_written: Option<u64>,
    /// Log fdatasyncs of the database under test.
    pub log_syncs: u64,
}

impl Counts {
    /// Counters now, reading the log syncs of `db` if there is one. Reads the
    /// allocation counter last, so a caller that snapshots at the start counts none of
    /// the snapshot's own work.
    pub fn at_start(db: Option<&Db>) -> Counts {
        let bytes_written = bytes_written_total();
        let log_syncs = db.map_or(0, Db::log_sync_count);
        Counts {
            allocations: allocation_count(),
            bytes_written,
            log_syncs,
        }
    }

    /// Counters now, reading the allocation counter first (the mirror of
    /// [`Counts::at_start`]).
    pub fn at_end(db: Option<&Db>) -> Counts {
        let allocations = allocation_count();
        let log_syncs = db.map_or(0, Db::log_sync_count);
        Counts {
            allocations,
            bytes_written: bytes_written_total(),
            log_syncs,
        }
    }

    /// What happened between `self` (earlier) and `later`.
    pub fn until(self, later: Counts) -> Counts {
        Counts {
            allocations: later.allocations.saturating_sub(self.allocations),
            bytes_written: match (self.bytes_written, later.bytes_written) {
                (Some(before), Some(after)) => Some(after.saturating_sub(before)),
                _ => None,
            },
            log_syncs: later.log_syncs.saturating_sub(self.log_syncs),
        }
    }

    /// Adds the differences `other` to these.
    pub fn add(&mut self, other: Counts) {
        self.allocations += other.allocations;
        self.bytes_written = match (self.bytes_written, other.bytes_written) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        self.log_syncs += other.log_syncs;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_of_this_process_show_in_bytes_written() {
        let Some(before) = bytes_written_total() else {
            return; // no /proc/self/io on this kernel
        };
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), vec![7u8; 10_000]).unwrap();
        let after = bytes_written_total().unwrap();
        assert!(after - before >= 10_000, "{before} -> {after}");
    }

    #[test]
    fn a_checkpoint_is_counted_once_by_the_watch() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), northstar::Options::default()).unwrap();
        let watch = CheckpointWatch::new(&db).unwrap();
        let mut txn = db.begin_write().unwrap();
        txn.put("k", "v").unwrap();
        txn.commit().unwrap();
        watch.observe().unwrap();
        assert_eq!(watch.count(), 0);
        db.checkpoint().unwrap();
        watch.observe().unwrap();
        watch.observe().unwrap();
        assert_eq!(watch.count(), 1);
    }

    #[test]
    fn differences_saturate_and_add_up() {
        let start = Counts {
            allocations: 5,
            bytes_written: Some(100),
            log_syncs: 1,
        };
        let end = Counts {
            allocations: 9,
            bytes_written: Some(150),
            log_syncs: 3,
        };
        let mut total = start.until(end);
        assert_eq!(
            total,
            Counts {
                allocations: 4,
                bytes_written: Some(50),
                log_syncs: 2
            }
        );
        total.add(Counts {
            allocations: 1,
            bytes_written: None,
            log_syncs: 0,
        });
        assert_eq!(total.bytes_written, None);
        assert_eq!(total.allocations, 5);
    }
}
