//! Setup shared by the benchmark binaries: criterion settings, the key set, the pre-built
//! database and an allocation counter.
//!
//! Invariants:
//! - Key `i` is `i` as a big-endian u64 and its value is the key twice (16 bytes), so
//!   ascending `i` is ascending key order and every key in `0..key_count()` is present.
//! - The shared database is built at most once per process, on first use, so a filtered
//!   run that needs no database does not pay for it; its directory is removed when the
//!   [`Fixture`] drops at the end of `main`.
//! - With `NORTHSTAR_BENCH_SMOKE=1` everything is small and short, for CI: the numbers
//!   only show that the benchmarks still run.

// Each binary uses a different part of this module.
#![allow(dead_code)]

use std::cell::OnceCell;
use std::path::Path;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use criterion::Criterion;
use northstar::{Db, Options};
use tempfile::TempDir;

/// Keys in the shared database outside smoke mode.
pub const KEY_COUNT_FULL: u64 = 1_000_000;
/// Keys in the shared database in smoke mode.
pub const KEY_COUNT_SMOKE: u64 = 10_000;
/// Seed of every random key sequence, so runs read the same keys.
pub const SEED: u64 = 0x9e37_79b9_7f4a_7c15;

/// Whether `NORTHSTAR_BENCH_SMOKE=1` asks for the quick CI run.
pub fn is_smoke() -> bool {
    // Read once: looking up the variable allocates, and hot loops ask for `key_count()`.
    static SMOKE: OnceLock<bool> = OnceLock::new();
    *SMOKE
        .get_or_init(|| std::env::var_os("NORTHSTAR_BENCH_SMOKE").is_some_and(|value| value == "1"))
}

/// Keys in the shared database (and in the build benchmark).
pub fn key_count() -> u64 {
    if is_smoke() {
        KEY_COUNT_SMOKE
    } else {
        KEY_COUNT_FULL
    }
}

/// Criterion configured for this run (smoke or full), then from the command line.
pub fn criterion() -> Criterion {
    let criterion = Criterion::default();
    let criterion = if is_smoke() {
        criterion
            .warm_up_time(Duration::from_millis(100))
            .measurement_time(Duration::from_millis(300))
            .sample_size(10)
            .without_plots()
    } else {
        criterion
    };
    criterion.configure_from_args()
}

/// The key with index `index`.
pub fn key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// The value stored under key `index`.
pub fn value(index: u64) -> [u8; 16] {
    let mut value = [0u8; 16];
    value[..8].copy_from_slice(&key(index));
    value[8..].copy_from_slice(&key(index));
    value
}

/// A cheap, allocation-free, seeded random sequence: the store's own generator.
pub use northstar::io::sim::SimRng as XorShift;

/// Creates a database in `dir` holding keys `0..key_count` in one write txn, committed.
pub fn build(dir: &Path, key_count: u64) -> Db {
    let db = Db::open(dir, Options::default()).expect("open database to build");
    let mut txn = db.begin_write().expect("begin write");
    for index in 0..key_count {
        txn.put(key(index), value(index)).expect("put");
    }
    txn.commit().expect("commit");
    db
}

/// The shared pre-built database of [`key_count`] keys, built on first use.
pub struct Fixture {
    dir: OnceCell<TempDir>,
}

impl Fixture {
    /// A fixture that has built nothing yet.
    pub fn new() -> Fixture {
        Fixture {
            dir: OnceCell::new(),
        }
    }

    /// The database directory, building the database (and closing it) on first call.
    pub fn path(&self) -> &Path {
        self.dir
            .get_or_init(|| {
                let dir = tempfile::tempdir().expect("temporary directory");
                let started = Instant::now();
                drop(build(dir.path(), key_count()));
                eprintln!(
                    "built the {}-key database in {:.2?}",
                    key_count(),
                    started.elapsed()
                );
                dir
            })
            .path()
    }

    /// Opens the shared database. Only one handle may be open at a time.
    pub fn open(&self) -> Db {
        Db::open(self.path(), Options::default().create(false)).expect("open shared database")
    }
}

/// Reads every entry of `db` once so its pages are verified and in the page cache.
pub fn warm(db: &Db) {
    let txn = db.begin_read().expect("begin read");
    let mut rows = 0u64;
    for entry in txn.iter().expect("iterate") {
        std::hint::black_box(entry.expect("entry"));
        rows += 1;
    }
    assert_eq!(rows, key_count(), "the shared database lost rows");
}

#[path = "counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{allocation_count, CountingAllocator};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Allocations made (by any thread) while `work` runs.
pub fn allocations_during(work: impl FnOnce()) -> u64 {
    let before = allocation_count();
    work();
    allocation_count() - before
}

/// Runs `work` `calls` times and panics if any call allocated: a hot read path must not.
pub fn assert_no_allocations(what: &str, calls: u64, mut work: impl FnMut()) {
    let allocations = allocations_during(|| (0..calls).for_each(|_| work()));
    assert_eq!(
        allocations, 0,
        "{what} allocated {allocations} times in {calls} calls"
    );
}
