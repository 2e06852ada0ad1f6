//! The direct-I/O backend: the same results as the mmap backend through a cache far
//! smaller than the data, readers that keep exact snapshots under eviction, and a clear
//! refusal (or an allowed fallback) where the file system refuses `O_DIRECT` (ramfs).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use common::{directory_contents, Model, Rng};
use northstar::{Db, Error, IoMode, Options};

/// Direct I/O with a cache of 16 pages (256 KiB): nearly every read misses.
fn tiny_cache() -> Options {
    Options::default()
        .io_mode(IoMode::Direct)
        .cache_size(16 << 14)
}

/// Whether this machine's temporary directory takes `O_DIRECT` (tmpfs does not).
fn direct_io_here(test: &str) -> Option<tempfile::TempDir> {
    let dir = tempfile::tempdir().unwrap();
    match Db::open(dir.path(), Options::default().io_mode(IoMode::Direct)) {
        Ok(db) => {
            drop(db);
            Some(tempfile::tempdir().unwrap())
        }
        Err(Error::DirectIoUnsupported { .. }) => {
            println!("{test}: skipped: the temporary directory refuses O_DIRECT");
            None
        }
        Err(error) => panic!("{test}: {error}"),
    }
}

fn read_all(db: &Db) -> Model {
    common::snapshot_entries(&db.begin_read().unwrap())
}

#[test]
fn direct_io_through_a_tiny_cache_matches_the_model_across_checkpoints_and_reopens() {
    let test = "direct_io_through_a_tiny_cache_matches_the_model_across_checkpoints_and_reopens";
    let Some(dir) = direct_io_here(test) else {
        return;
    };
    let mut rng = Rng::new(common::seed(test));
    let mut model = Model::new();
    for round in 0..3 {
        let db = Db::open(dir.path(), tiny_cache()).unwrap();
        assert_eq!(db.io_mode(), IoMode::Direct);
        assert!(read_all(&db) == model, "round {round}: reopened");
        for _ in 0..40 {
            let mut txn = db.begin_write().unwrap();
            for _ in 0..50 {
                common::random_put_or_delete(&mut txn, &mut model, &mut rng, 3_000, 600, 5);
            }
            txn.commit().unwrap();
            if rng.below(8) == 0 {
                db.checkpoint().unwrap();
            }
        }
        assert!(read_all(&db) == model, "round {round}");
        let clean = db
            .cache_stats()
            .clean
            .expect("direct I/O has a clean cache");
        assert!(clean.frames <= clean.capacity, "{clean:?}");
        assert!(
            clean.evictions > 0,
            "the cache was too small to hold the data"
        );
        assert!(db.check().unwrap().is_ok(), "round {round}: validator");
    }
    // The files are the same format: the mmap backend opens them as they are.
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(db.io_mode(), IoMode::Mmap);
    assert!(read_all(&db) == model);
}

#[test]
fn readers_keep_exact_snapshots_while_a_tiny_cache_evicts_under_them() {
    let test = "readers_keep_exact_snapshots_while_a_tiny_cache_evicts_under_them";
    let Some(dir) = direct_io_here(test) else {
        return;
    };
    let options = tiny_cache().checkpoint_every(7, u64::MAX, Duration::from_secs(3_600));
    let db = Db::open(dir.path(), options).unwrap();
    let states: RwLock<Vec<Arc<Model>>> = RwLock::new(vec![Arc::new(Model::new())]);
    let done = AtomicBool::new(false);
    let mut rng = Rng::new(common::seed(test));
    std::thread::scope(|scope| {
        for _ in 0..4 {
            let (db, states, done) = (&db, &states, &done);
            scope.spawn(move || {
                while !done.load(Ordering::Acquire) {
                    let read = db.begin_read().unwrap();
                    let expected = states.read().unwrap()[read.txn_id() as usize].clone();
                    let found = common::snapshot_entries(&read);
                    assert!(found == *expected, "snapshot at txn {}", read.txn_id());
                }
            });
        }
        let mut model = Model::new();
        for n in 0..150u32 {
            let mut txn = db.begin_write().unwrap();
            for _ in 0..30 {
                let key = (rng.below(2_000) as u32).to_be_bytes().to_vec();
                let value = vec![rng.below(256) as u8; 100 + rng.below(200) as usize];
                txn.put(&key, &value).unwrap();
                model.insert(key, value);
            }
            assert_eq!(txn.txn_id(), u64::from(n) + 1);
            states.write().unwrap().push(Arc::new(model.clone()));
            txn.commit().unwrap();
        }
        done.store(true, Ordering::Release);
    });
    let clean = db.cache_stats().clean.unwrap();
    assert!(
        clean.frames <= clean.capacity && clean.evictions > 0,
        "{clean:?}"
    );
    assert!(db.check().unwrap().is_ok());
}

#[test]
fn a_file_system_that_refuses_o_direct_is_refused_by_name_or_falls_back_when_allowed() {
    let test = "a_file_system_that_refuses_o_direct_is_refused_by_name_or_falls_back_when_allowed";
    // ramfs refuses O_DIRECT (tmpfs takes it on recent kernels).
    let mount = match common::mount::Mount::new("ramfs", "mode=0700") {
        Ok(mount) => mount,
        Err(why) => {
            println!("{test}: skipped: {why}");
            return;
        }
    };
    let dir = mount.path().join("db");
    // A new database: refused before anything is created.
    match Db::open(&dir, Options::default().io_mode(IoMode::Direct)) {
        Err(Error::DirectIoUnsupported { path, .. }) => {
            assert_eq!(path, common::page_file(&dir))
        }
        other => panic!("{:?}", other.map(|db| db.io_mode())),
    }
    assert!(!dir.exists(), "a refused open made nothing");
    // An existing database: refused, every file as it was.
    let db = Db::open(&dir, Options::default()).unwrap();
    let mut txn = db.begin_write().unwrap();
    txn.put("kept", "yes").unwrap();
    txn.commit().unwrap();
    drop(db);
    let before = directory_contents(&dir);
    match Db::open(&dir, Options::default().io_mode(IoMode::Direct)) {
        Err(error @ Error::DirectIoUnsupported { .. }) => {
            assert!(error.to_string().contains("northstar.db"), "{error}")
        }
        other => panic!("{:?}", other.map(|db| db.io_mode())),
    }
    assert!(
        directory_contents(&dir) == before,
        "a refused open changed files"
    );
    // Allowed to fall back: buffered I/O through the store's cache, and said so.
    let options = Options::default()
        .io_mode(IoMode::Direct)
        .direct_io_fallback(true);
    let db = Db::open(&dir, options).unwrap();
    assert_eq!(db.io_mode(), IoMode::Buffered);
    let read = db.begin_read().unwrap();
    assert_eq!(read.get("kept").unwrap().as_deref(), Some(&b"yes"[..]));
}
