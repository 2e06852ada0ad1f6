//! The page cache: commits write only the log, checkpoints write each live page once, and
//! readers never see a page replaced under them while checkpoints retire frames.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use common::sim::{new_disk, PAGE_FILE};
use common::Rng;
use northstar::{Db, Options};

/// Options whose checkpoints run only when asked.
fn manual_checkpoints() -> Options {
    Options::default().checkpoint_every(u64::MAX, u64::MAX, Duration::from_secs(86_400))
}

#[test]
fn commits_between_checkpoints_write_no_page_and_a_checkpoint_writes_each_live_page_once() {
    let disk = new_disk();
    let db = Db::open_on(&disk, manual_checkpoints()).unwrap();
    let mut txn = db.begin_write().unwrap();
    for key in 0..2_000u32 {
        txn.put(key.to_be_bytes(), [7u8; 100]).unwrap();
    }
    txn.commit().unwrap();
    db.checkpoint().unwrap();
    let page_file = disk.file(PAGE_FILE).unwrap();
    let before = db.cache_stats();
    assert_eq!(before.dirty, 0, "a checkpoint leaves nothing dirty");
    for n in 0..500u32 {
        let mut txn = db.begin_write().unwrap();
        txn.put((n % 50).to_be_bytes(), n.to_le_bytes()).unwrap();
        txn.commit().unwrap();
    }
    let now = disk.file(PAGE_FILE).unwrap();
    assert!(
        now[..page_file.len()] == page_file[..] && now[page_file.len()..].iter().all(|b| *b == 0),
        "500 commits wrote to the page file (it may only have grown)"
    );
    let after = db.cache_stats();
    let made = after.inserted - before.inserted;
    assert!(
        made >= 500 * 2,
        "every commit copies its path: {made} frames"
    );
    assert!(
        after.discarded - before.discarded >= made - 100,
        "pages written and freed between checkpoints are reused, never written: {after:?}"
    );
    assert!(after.frames < 100, "frames stay few: {after:?}");
    db.checkpoint().unwrap();
    let written = db.cache_stats().retired - after.retired;
    assert!(
        (1..=after.dirty).contains(&written) && written <= 6,
        "the checkpoint writes the live path once: {written} pages"
    );
    assert!(
        disk.file(PAGE_FILE).unwrap().len() <= page_file.len() + 64 * northstar::PAGE_SIZE,
        "at most one growth step"
    );
    drop(db);
    let db = Db::open_on(&disk, Options::default().create(false)).unwrap();
    let read = db.begin_read().unwrap();
    for key in 0..50u32 {
        let newest = (450..500).find(|n| n % 50 == key).unwrap();
        assert_eq!(
            read.get(key.to_be_bytes()).unwrap().as_deref(),
            Some(&newest.to_le_bytes()[..])
        );
    }
    drop(read);
    assert!(db.check().unwrap().is_ok());
}

/// The model after every txn, for readers to compare their snapshots with.
type States = RwLock<Vec<Arc<BTreeMap<Vec<u8>, Vec<u8>>>>>;

#[test]
fn readers_keep_exact_snapshots_while_checkpoints_retire_frames() {
    let dir = tempfile::tempdir().unwrap();
    // A checkpoint every few commits: frames are retired while readers read them.
    let options = Options::default().checkpoint_every(5, u64::MAX, Duration::from_secs(3_600));
    let db = Db::open(dir.path(), options).unwrap();
    let states: States = RwLock::new(vec![Arc::new(BTreeMap::new())]);
    let done = AtomicBool::new(false);
    let mut rng = Rng::new(common::seed(
        "readers_keep_exact_snapshots_while_checkpoints_retire_frames",
    ));
    std::thread::scope(|scope| {
        for reader in 0..4u64 {
            let (db, states, done) = (&db, &states, &done);
            scope.spawn(move || {
                let mut checked = 0u64;
                while !done.load(Ordering::Acquire) || checked == 0 {
                    let read = db.begin_read().unwrap();
                    let expected = states.read().unwrap()[read.txn_id() as usize].clone();
                    // Hold the snapshot across a few commits and checkpoints.
                    std::thread::sleep(Duration::from_micros(200 * (reader + 1)));
                    let found = common::snapshot_entries(&read);
                    assert!(
                        found == *expected,
                        "reader {reader} at txn {}",
                        read.txn_id()
                    );
                    checked += 1;
                }
            });
        }
        let mut model = BTreeMap::new();
        for _ in 0..300 {
            let mut txn = db.begin_write().unwrap();
            for _ in 0..1 + rng.below(20) {
                common::random_put_or_delete(&mut txn, &mut model, &mut rng, 400, 300, 4);
            }
            // Every txn changes something, so txn ids advance one by one.
            let counter = (states.read().unwrap().len() as u64).to_le_bytes().to_vec();
            txn.put(b"counter", &counter).unwrap();
            model.insert(b"counter".to_vec(), counter);
            // The model for the txn is in place before any reader can see it.
            let next = states.read().unwrap().len() as u64;
            assert_eq!(txn.txn_id(), next);
            states.write().unwrap().push(Arc::new(model.clone()));
            txn.commit().unwrap();
        }
        done.store(true, Ordering::Release);
    });
    let stats = db.cache_stats();
    assert!(stats.retired > 0 && stats.hits > 0, "{stats:?}");
    assert!(db.check().unwrap().is_ok());
}

/// What a reopened image holds of a run that put `base` keys, then `c0`, `c1`, … one per
/// txn: the number of those txns present, after checking they form a prefix.
fn committed_prefix(db: &Db, base: u32) -> u32 {
    let read = db.begin_read().unwrap();
    for key in 0..base {
        assert!(
            read.get(format!("base{key:04}")).unwrap().is_some(),
            "base key {key}"
        );
    }
    let mut present = 0;
    while read.get(format!("c{present}")).unwrap().is_some() {
        present += 1;
    }
    let extra = read.prefix("c").unwrap().count() as u32;
    assert_eq!(extra, present, "commits present form a prefix");
    present
}

#[test]
fn a_checkpoint_crashed_at_every_operation_while_commits_run_loses_no_acknowledged_commit() {
    const BASE: u32 = 300;
    const COMMITS: u32 = 30;
    let mut images = 0;
    for point in 0.. {
        let disk = new_disk();
        let db = Db::open_on(&disk, manual_checkpoints()).unwrap();
        for chunk in 0..3 {
            let mut txn = db.begin_write().unwrap();
            for key in (chunk * BASE / 3)..((chunk + 1) * BASE / 3) {
                txn.put(format!("base{key:04}"), [key as u8; 200]).unwrap();
            }
            txn.commit().unwrap();
        }
        disk.fail_operation(point, northstar::io::sim::FaultKind::Io, true);
        let (acknowledged, attempted, checkpointed) = std::thread::scope(|scope| {
            let checkpoint = scope.spawn(|| db.checkpoint().is_ok());
            let mut acknowledged = 0;
            let mut attempted = 0;
            for n in 0..COMMITS {
                attempted = n + 1;
                let result = db.begin_write().and_then(|mut txn| {
                    txn.put(format!("c{n}"), [1u8; 64])?;
                    txn.commit()
                });
                if result.is_err() {
                    break;
                }
                acknowledged = n + 1;
            }
            (acknowledged, attempted, checkpoint.join().unwrap())
        });
        if checkpointed && acknowledged == COMMITS {
            // The fault came after everything: every point was covered.
            assert!(images > 10, "only {images} images");
            return;
        }
        for seed in 0..2 {
            let image = disk.power_loss(point * 10 + seed);
            let reopened = Db::open_on(&image, Options::default().create(false))
                .unwrap_or_else(|e| panic!("point {point} seed {seed}: {e}"));
            let present = committed_prefix(&reopened, BASE);
            assert!(
                (acknowledged..=attempted).contains(&present),
                "point {point} seed {seed}: {present} commits present, \
                 {acknowledged} acknowledged, {attempted} attempted"
            );
            assert!(reopened.check().unwrap().is_ok(), "point {point}");
            images += 1;
        }
        drop(db);
    }
}

#[test]
fn dirty_pages_stay_within_the_limit_while_readers_read() {
    const DIRTY_PAGES_MAX: u64 = 64;
    let dir = tempfile::tempdir().unwrap();
    let options = Options::default()
        .checkpoint_every(
            u64::MAX,
            (DIRTY_PAGES_MAX / 2) << 14,
            Duration::from_secs(3_600),
        )
        .dirty_limit(DIRTY_PAGES_MAX << 14);
    let db = Db::open(dir.path(), options).unwrap();
    let done = AtomicBool::new(false);
    let mut rng = Rng::new(common::seed(
        "dirty_pages_stay_within_the_limit_while_readers_read",
    ));
    let (mut dirty_max, mut frames_max) = (0, 0);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            let (db, done) = (&db, &done);
            scope.spawn(move || {
                while !done.load(Ordering::Acquire) {
                    let read = db.begin_read().unwrap();
                    let count = read.iter().unwrap().count() as u64;
                    assert_eq!(count, read.len(), "snapshot at txn {}", read.txn_id());
                }
            });
        }
        for _ in 0..400 {
            let mut txn = db.begin_write().unwrap();
            for _ in 0..20 {
                let key = (rng.below(20_000) as u32).to_be_bytes();
                txn.put(key, [rng.below(256) as u8; 100]).unwrap();
            }
            txn.commit().unwrap();
            let stats = db.cache_stats();
            dirty_max = dirty_max.max(stats.dirty);
            frames_max = frames_max.max(stats.frames);
        }
        done.store(true, Ordering::Release);
    });
    // A txn of 20 puts dirties at most about 25 pages on top of the limit.
    assert!(
        dirty_max <= DIRTY_PAGES_MAX + 32,
        "dirty pages reached {dirty_max}"
    );
    assert!(
        frames_max <= 4 * (DIRTY_PAGES_MAX + 32),
        "frames reached {frames_max}"
    );
    assert!(
        db.checkpoint_stats().count > 5,
        "{:?}",
        db.checkpoint_stats()
    );
    assert!(db.check().unwrap().is_ok());
}
