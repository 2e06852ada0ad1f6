//! The data the workloads run on: keys, values, a seeded random sequence, and the
//! databases built once per run (in temporary directories under the data dir, removed
//! when the run ends).
//!
//! Invariants:
//! - Key `i` is 16 bytes, `i` big-endian followed by a scrambled copy of it, so ascending
//!   `i` is ascending key order; values are 100 bytes derived from `(i, version)`.
//! - Every fixture is built at most once per run, on first use, so a filtered run builds
//!   only what it measures, and is closed (checkpointed) before anyone opens it.
//! - Workloads that write get their own copy of a fixture; read-only ones open the
//!   fixture itself, one handle at a time.
//! - Time-based checkpoints are off in every database the workloads open
//!   ([`bench_options`]): whether a checkpoint falls inside a repeat must not depend on
//!   how fast the machine is, or syncs per op would too.

use std::any::Any;
use std::cell::{OnceCell, RefCell};
use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use northstar::log::LOG_FILE_NAME;
use northstar::pager::PAGE_FILE_NAME;
use northstar::{Db, Durability, Options, PAGE_SIZE};
use tempfile::TempDir;

use super::context::scaled;
use super::counters::checkpoint_meta;
use super::error::{BenchError, Fallible};

/// Bytes of every key.
pub const KEY_SIZE: usize = 16;
/// Bytes of every value.
pub const VALUE_SIZE: usize = 100;
/// Seed of every random sequence, so every run touches the same keys.
pub const SEED: u64 = 0x9e37_79b9_7f4a_7c15;
/// Keys of the loaded database at full scale.
pub const LOADED_KEY_COUNT_FULL: u64 = 1_000_000;
/// Keys of the database the commit workloads start from, at full scale.
pub const COMMIT_BASE_KEY_COUNT_FULL: u64 = 100_000;
/// Un-checkpointed single-put commits in the recovery image, at full scale: about 48 MiB
/// of page writes into the commit base, near the most the default checkpoint policy
/// (64 MiB) leaves to replay.
pub const RECOVERY_COMMITS_FULL: u64 = 1_000;
/// Keys per txn when a fixture is built.
const BUILD_TXN_KEY_COUNT: u64 = 100_000;

/// The key with index `index`.
pub fn key(index: u64) -> [u8; KEY_SIZE] {
    let mut key = [0u8; KEY_SIZE];
    key[..8].copy_from_slice(&index.to_be_bytes());
    key[8..].copy_from_slice(&index.wrapping_mul(SEED).to_be_bytes());
    key
}

/// Version `version` of the value of key `index`.
pub fn value(index: u64, version: u64) -> [u8; VALUE_SIZE] {
    let mut value = [0u8; VALUE_SIZE];
    let mut word = index ^ version.rotate_left(32);
    for chunk in value.chunks_mut(8) {
        word = word.wrapping_mul(SEED).wrapping_add(1);
        chunk.copy_from_slice(&word.to_le_bytes()[..chunk.len()]);
    }
    value
}

/// Options of every database a workload opens: the defaults with time-based
/// checkpoints off (interval one hour); checkpoints still fall due every 10,000
/// commits or 64 MiB written.
pub fn bench_options() -> Options {
    Options::default().checkpoint_every(10_000, 64 << 20, Duration::from_secs(3_600))
}

/// A cheap, allocation-free, seeded random sequence: the store's own generator.
pub use northstar::io::sim::SimRng as XorShift;

/// A new temporary directory under `parent`.
pub fn temp_dir(parent: &Path) -> Fallible<TempDir> {
    tempfile::Builder::new()
        .prefix("northstar-bench-")
        .tempdir_in(parent)
        .map_err(|e| BenchError::io(parent, "create a temporary directory in", e))
}

/// Copies the page file and the commit log of the database in `from` into `to`, which
/// must exist. Works on a live database too: the copy is what a crash would leave.
pub fn copy_database(from: &Path, to: &Path) -> Fallible<()> {
    for name in [PAGE_FILE_NAME, LOG_FILE_NAME] {
        let source = from.join(name);
        std::fs::copy(&source, to.join(name)).map_err(|e| BenchError::io(&source, "copy", e))?;
    }
    Ok(())
}

/// Cuts the page file in `dir` back to the page count of its newest checkpoint, as a
/// crash that lost the unsynced growth since that checkpoint would leave it.
pub fn cut_to_checkpoint(dir: &Path) -> Fallible<()> {
    let path = dir.join(PAGE_FILE_NAME);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| BenchError::io(&path, "open", e))?;
    let meta = checkpoint_meta(&file, &path)?;
    file.set_len(meta.page_count * PAGE_SIZE as u64)
        .map_err(|e| BenchError::io(&path, "cut", e))
}

/// Creates a database in `dir` holding keys `0..key_count` (version 0), loaded in
/// ascending order with deferred durability, and closes it.
pub fn build(dir: &Path, key_count: u64) -> Fallible<()> {
    let db = Db::open(dir, bench_options().durability(Durability::Deferred))?;
    let mut next = 0;
    while next < key_count {
        let end = (next + BUILD_TXN_KEY_COUNT).min(key_count);
        let mut txn = db.begin_write()?;
        for index in next..end {
            txn.put(key(index), value(index, 0))?;
        }
        txn.commit()?;
        next = end;
    }
    db.close()?;
    Ok(())
}

/// One txn putting `puts` random existing keys of `0..key_count` (new versions).
pub fn commit_random_puts(db: &Db, rng: &mut XorShift, key_count: u64, puts: u64) -> Fallible<()> {
    let mut txn = db.begin_write()?;
    for _ in 0..puts {
        let index = rng.below(key_count);
        txn.put(key(index), value(index, rng.next_u64()))?;
    }
    txn.commit()?;
    Ok(())
}

/// The databases of one run, each built on first use.
pub struct Fixtures {
    data_dir: PathBuf,
    scale: f64,
    loaded: OnceCell<TempDir>,
    commit_base: OnceCell<TempDir>,
    recovery_image: OnceCell<TempDir>,
    /// Fixtures of one scenario each (a database and its reference model), by name.
    scenarios: RefCell<BTreeMap<&'static str, Rc<dyn Any>>>,
}

impl Fixtures {
    /// Fixtures for a run at `scale`, to be built under `data_dir`.
    pub fn new(data_dir: PathBuf, scale: f64) -> Fixtures {
        Fixtures {
            data_dir,
            scale,
            loaded: OnceCell::new(),
            commit_base: OnceCell::new(),
            recovery_image: OnceCell::new(),
            scenarios: RefCell::new(BTreeMap::new()),
        }
    }

    /// The scenario fixture `name`, built by `build` on first use and shared by every
    /// benchmark of the run that asks for it (read-only, like [`Fixtures::loaded`]).
    /// Panics if `name` was built with another type.
    pub fn scenario<T: 'static>(
        &self,
        name: &'static str,
        build: impl FnOnce() -> Fallible<T>,
    ) -> Fallible<Rc<T>> {
        if let Some(built) = self.scenarios.borrow().get(name) {
            return Ok(Rc::clone(built)
                .downcast()
                .unwrap_or_else(|_| panic!("scenario fixture {name} has another type")));
        }
        let started = std::time::Instant::now();
        let built = Rc::new(build().map_err(|e| e.context(format!("building the {name}")))?);
        eprintln!("  built the {name} in {:.2?}", started.elapsed());
        self.scenarios
            .borrow_mut()
            .insert(name, Rc::clone(&built) as Rc<dyn Any>);
        Ok(built)
    }

    /// Keys in the loaded database: 1,000,000 at full scale, at least 2,000.
    pub fn loaded_key_count(&self) -> u64 {
        scaled(self.scale, LOADED_KEY_COUNT_FULL, 2_000)
    }

    /// Keys in the commit base: 100,000 at full scale, at least 1,000.
    pub fn commit_base_key_count(&self) -> u64 {
        scaled(self.scale, COMMIT_BASE_KEY_COUNT_FULL, 1_000)
    }

    /// Un-checkpointed commits in the recovery image: 1,000 at full scale, at least 20.
    pub fn recovery_commit_count(&self) -> u64 {
        scaled(self.scale, RECOVERY_COMMITS_FULL, 20)
    }

    /// The loaded database (read-only for the workloads; open one handle at a time).
    pub fn loaded(&self) -> Fallible<&Path> {
        self.built(&self.loaded, "loaded database", |dir| {
            build(dir, self.loaded_key_count())
        })
    }

    /// A private copy of the commit base, for a workload to write to.
    pub fn commit_base_copy(&self) -> Fallible<TempDir> {
        let base = self.built(&self.commit_base, "commit base", |dir| {
            build(dir, self.commit_base_key_count())
        })?;
        let copy = temp_dir(&self.data_dir)?;
        copy_database(base, copy.path())?;
        Ok(copy)
    }

    /// A private copy of the recovery image: the commit base plus
    /// [`Fixtures::recovery_commit_count`] single-put commits after its checkpoint, copied
    /// from the live database after a log sync, with the page file cut back to the
    /// checkpoint's length: a crash that lost the unsynced growth of the page file (the
    /// pages written since the checkpoint, which recovery rewrites from the log anyway).
    pub fn recovery_image_copy(&self) -> Fallible<TempDir> {
        let image = self.built(&self.recovery_image, "recovery image", |dir| {
            let live = self.commit_base_copy()?;
            let options = bench_options()
                .durability(Durability::Deferred)
                .checkpoint_every(u64::MAX, u64::MAX, Duration::from_secs(3_600));
            let db = Db::open(live.path(), options)?;
            let mut rng = XorShift::new(SEED);
            for _ in 0..self.recovery_commit_count() {
                commit_random_puts(&db, &mut rng, self.commit_base_key_count(), 1)?;
            }
            db.sync()?;
            copy_database(live.path(), dir)?;
            cut_to_checkpoint(dir)
        })?;
        let copy = temp_dir(&self.data_dir)?;
        copy_database(image, copy.path())?;
        Ok(copy)
    }

    fn built<'a>(
        &self,
        cell: &'a OnceCell<TempDir>,
        what: &str,
        build: impl FnOnce(&Path) -> Fallible<()>,
    ) -> Fallible<&'a Path> {
        if cell.get().is_none() {
            let dir = temp_dir(&self.data_dir)?;
            let started = std::time::Instant::now();
            build(dir.path()).map_err(|e| e.context(format!("building the {what}")))?;
            eprintln!("  built the {what} in {:.2?}", started.elapsed());
            let _ = cell.set(dir);
        }
        Ok(cell.get().expect("just built").path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascending_indexes_are_ascending_keys() {
        for index in [0u64, 1, 255, 256, 1 << 40] {
            assert!(key(index) < key(index + 1));
        }
    }

    #[test]
    fn values_differ_by_key_and_version() {
        assert_ne!(value(1, 0), value(2, 0));
        assert_ne!(value(1, 0), value(1, 1));
    }

    #[test]
    fn the_recovery_image_replays_its_commits_on_open() {
        let data = tempfile::tempdir().unwrap();
        let fixtures = Fixtures::new(data.path().to_path_buf(), 0.000_1);
        let copy = fixtures.recovery_image_copy().unwrap();
        let db = Db::open(copy.path(), Options::default().create(false)).unwrap();
        assert_eq!(
            db.recovery_report().replayed_txns,
            fixtures.recovery_commit_count()
        );
    }
}
