//! Snapshot isolation: a read txn sees exactly the committed state it began at, however
//! much the writer commits, frees and reuses afterwards; pages come back into use once the
//! readers that could see them are gone; the writer reads its own writes; abort discards.

mod common;

use std::ops::Bound;

use common::{assert_holds, Model, Reads, Rng};
use northstar::{Db, Options};

fn key(n: u64) -> Vec<u8> {
    format!("key{n:06}").into_bytes()
}

/// A value whose size varies with `generation`: mostly small, some in overflow pages.
fn value(n: u64, generation: u64) -> Vec<u8> {
    let len = match (n + generation) % 50 {
        0 => 5000 + (n % 7) as usize * 1000,
        1..=5 => 300,
        _ => 10 + ((n * 7 + generation) % 60) as usize,
    };
    let mut value = format!("{n}:{generation}:").into_bytes();
    value.resize(len, b'.');
    value
}

/// One small txn of churn: a few puts (new and overwritten keys) and deletes.
fn churn(db: &Db, model: &mut Model, rng: &mut Rng, generation: u64, key_space: u64) {
    let mut txn = db.begin_write().expect("begin_write");
    for _ in 0..1 + rng.below(6) {
        let n = rng.below(key_space);
        if rng.chance(2, 5) {
            let existed = txn.delete(key(n)).expect("delete");
            assert_eq!(existed, model.remove(&key(n)).is_some());
        } else {
            txn.put(key(n), value(n, generation)).expect("put");
            model.insert(key(n), value(n, generation));
        }
    }
    txn.commit().expect("commit");
}

fn fill(db: &Db, count: u64) -> Model {
    let mut model = Model::new();
    let mut txn = db.begin_write().expect("begin_write");
    for n in 0..count {
        txn.put(key(n), value(n, 0)).expect("put");
        model.insert(key(n), value(n, 0));
    }
    txn.commit().expect("commit");
    model
}

/// Spot checks that are cheaper than a full scan: some gets, one range, first and last.
fn spot_check(reader: &impl Reads, model: &Model, rng: &mut Rng, key_space: u64) {
    for _ in 0..20 {
        let n = rng.below(key_space);
        assert_eq!(
            reader.fetch(&key(n)),
            model.get(&key(n)).cloned(),
            "get key{n:06}"
        );
    }
    let (a, b) = (key(rng.below(key_space)), key(rng.below(key_space)));
    let got = common::collect(reader.scan(Bound::Included(a.clone()), Bound::Excluded(b.clone())));
    assert!(got == common::model_range(model, Bound::Included(&a), Bound::Excluded(&b)));
}

#[test]
fn reader_at_txn_keeps_its_snapshot_while_writer_commits() {
    let seed = common::seed("reader_at_txn_keeps_its_snapshot_while_writer_commits");
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().unwrap();
    // The validator runs every few hundred commits instead of after each, to keep the
    // thousands of commits fast.
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let key_space = 1500;
    let mut model = fill(&db, key_space);
    let first = db.begin_read().unwrap();
    let first_model = model.clone();
    let mut later: Vec<(northstar::ReadTxn<'_>, Model)> = Vec::new();
    for generation in 1..=2000 {
        churn(&db, &mut model, &mut rng, generation, key_space);
        if generation % 500 == 0 {
            // Keep a few more snapshots, and let an older one go so its pages are reused
            // while the others still read.
            if later.len() == 2 {
                let (reader, expected) = later.remove(0);
                assert_holds(
                    &reader,
                    &expected,
                    "an intermediate snapshot before it is dropped",
                );
            }
            later.push((db.begin_read().unwrap(), model.clone()));
            let report = db.check().unwrap();
            assert!(
                report.is_ok(),
                "validator at txn {}: {:?}",
                report.txn_id,
                report.problems
            );
        }
        if generation % 100 == 0 {
            spot_check(&first, &first_model, &mut rng, key_space);
            for (reader, expected) in &later {
                spot_check(reader, expected, &mut rng, key_space);
            }
        }
    }
    assert_eq!(first.txn_id(), 1);
    assert_holds(
        &first,
        &first_model,
        "the first snapshot after 2000 commits",
    );
    for (reader, expected) in &later {
        assert_holds(
            reader,
            expected,
            &format!("the snapshot at txn {}", reader.txn_id()),
        );
    }
    assert_holds(&db.begin_read().unwrap(), &model, "the newest state");
}

#[test]
fn snapshot_of_a_dropped_keyspace_stays_readable() {
    let (_dir, db) = common::temp_db();
    let mut txn = db.begin_write().unwrap();
    txn.create_keyspace("users").unwrap();
    let mut users = Model::new();
    {
        let mut keyspace = txn.keyspace("users").unwrap();
        for n in 0..2000 {
            keyspace.put(key(n), value(n, 0)).unwrap();
            users.insert(key(n), value(n, 0));
        }
    }
    txn.commit().unwrap();
    let reader = db.begin_read().unwrap();

    let mut txn = db.begin_write().unwrap();
    assert!(txn.drop_keyspace("users").unwrap());
    txn.commit().unwrap();
    // Enough new writes to reuse every page the dropped keyspace had, were they free.
    for generation in 1..=20 {
        let mut txn = db.begin_write().unwrap();
        for n in 0..300 {
            txn.put(key(n), value(n, generation)).unwrap();
        }
        txn.commit().unwrap();
    }
    assert!(db.begin_read().unwrap().keyspace("users").is_err());
    assert_eq!(reader.keyspaces().unwrap(), ["users"]);
    assert_holds(
        &reader.keyspace("users").unwrap(),
        &users,
        "dropped keyspace in an old snapshot",
    );
}

/// Runs `commits` small txns that keep rewriting the same 400 keys; returns the page
/// count the validator reports at the end.
fn rewrite_many_times(db: &Db, model: &mut Model, commits: u64, start: u64) -> u64 {
    let mut rng = Rng::new(start);
    for generation in start..start + commits {
        churn(db, model, &mut rng, generation, 400);
    }
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    report.page_count
}

/// Options that checkpoint every 50 commits, so freed pages become reusable quickly.
fn checkpointing() -> northstar::Options {
    common::verified().checkpoint_every(50, u64::MAX, std::time::Duration::from_secs(3600))
}

#[test]
fn pages_are_reused_once_no_reader_can_see_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), checkpointing()).unwrap();
    let mut model = fill(&db, 400);
    let warm = rewrite_many_times(&db, &mut model, 200, 1);
    let without_reader = rewrite_many_times(&db, &mut model, 1000, 1000);
    // With nobody reading old snapshots the file stops growing: the working set of a few
    // hundred keys needs the same pages however many times it is rewritten.
    assert!(
        without_reader <= warm + 8,
        "file grew from {warm} to {without_reader} pages without any reader"
    );

    let reader = db.begin_read().unwrap();
    let held = rewrite_many_times(&db, &mut model, 1000, 5000);
    assert!(
        held > without_reader + 100,
        "a held reader must keep its pages from reuse ({held} pages vs {without_reader})"
    );
    drop(reader);
    let released = rewrite_many_times(&db, &mut model, 1000, 9000);
    println!(
        "pages: warm {warm}, without reader {without_reader}, held {held}, released {released}"
    );
    assert!(
        released <= held,
        "after the reader ended its pages are reused: {released} pages, {held} before"
    );
    // The page count is a high-water mark; what matters is that the freed pages are now
    // free, not pinned.
    db.checkpoint().unwrap();
    let report = db.check().unwrap();
    assert!(
        report.free_pages >= held - without_reader - 100,
        "{} free pages",
        report.free_pages
    );

    // The free pages now fill a freelist of several pages; they survive a reopen and are
    // reused from there.
    assert!(
        report.freelist_pages >= 2,
        "{} freelist pages",
        report.freelist_pages
    );
    drop(db);
    let db = Db::open(dir.path(), checkpointing()).unwrap();
    let reopened = db.check().unwrap();
    assert!(reopened.is_ok(), "{:?}", reopened.problems);
    assert_eq!(
        (reopened.free_pages, reopened.page_count),
        (report.free_pages, report.page_count)
    );
    assert_holds(&db.begin_read().unwrap(), &model, "after reopen");
    let after_reopen = rewrite_many_times(&db, &mut model, 300, 20_000);
    assert!(
        after_reopen <= report.page_count,
        "{after_reopen} pages, {} before",
        report.page_count
    );
}

#[test]
fn writer_reads_its_own_writes_and_readers_do_not() {
    let (_dir, db) = common::temp_db();
    let committed = fill(&db, 500);
    let before = db.begin_read().unwrap();
    let mut txn = db.begin_write().unwrap();
    let mut pending = committed.clone();
    for n in (0..500).step_by(3) {
        assert!(txn.delete(key(n)).unwrap());
        pending.remove(&key(n));
    }
    for n in 500..700 {
        txn.put(key(n), value(n, 1)).unwrap();
        pending.insert(key(n), value(n, 1));
    }
    txn.put(key(1), b"changed").unwrap();
    pending.insert(key(1), b"changed".to_vec());
    txn.create_keyspace("side").unwrap();
    txn.keyspace("side").unwrap().put(b"s", b"1").unwrap();
    assert_eq!(
        txn.keyspace("side").unwrap().get(b"s").unwrap().as_deref(),
        Some(&b"1"[..])
    );
    assert_eq!(txn.keyspaces().unwrap(), ["side"]);

    assert_holds(&txn, &pending, "the write txn sees its own changes");
    let during = db.begin_read().unwrap();
    assert_holds(&during, &committed, "a reader begun during the write txn");
    assert!(during.keyspace("side").is_err());
    let txn_id = txn.commit().unwrap();

    assert_holds(&during, &committed, "the reader begun before commit");
    assert_holds(&before, &committed, "the reader begun before the write txn");
    let after = db.begin_read().unwrap();
    assert_eq!(after.txn_id(), txn_id);
    assert_holds(&after, &pending, "a reader begun after commit");
    assert_eq!(
        after
            .keyspace("side")
            .unwrap()
            .get(b"s")
            .unwrap()
            .as_deref(),
        Some(&b"1"[..])
    );
}

#[test]
fn abort_and_drop_discard_every_change() {
    let (dir, db) = common::temp_db();
    let committed = fill(&db, 800);
    let txn_id = db.last_txn_id();
    let pages = db.check().unwrap().page_count;
    for explicit in [true, false] {
        let mut txn = db.begin_write().unwrap();
        for n in 0..800 {
            if n % 2 == 0 {
                txn.delete(key(n)).unwrap();
            } else {
                txn.put(key(n), vec![b'x'; 9000]).unwrap();
            }
        }
        for n in 800..3000 {
            txn.put(key(n), value(n, 9)).unwrap();
        }
        txn.create_keyspace("gone").unwrap();
        txn.keyspace("gone")
            .unwrap()
            .put(b"k", vec![1; 50_000])
            .unwrap();
        if explicit {
            txn.abort();
        } else {
            drop(txn);
        }
        assert_eq!(db.last_txn_id(), txn_id);
        let read = db.begin_read().unwrap();
        assert_holds(&read, &committed, "after an aborted txn");
        assert!(read.keyspaces().unwrap().is_empty());
        let report = db.check().unwrap();
        assert!(report.is_ok(), "{:?}", report.problems);
        assert_eq!(
            report.page_count, pages,
            "an aborted txn leaves the high-water mark"
        );
    }
    // A commit after the aborts writes into the pages the aborted txns had used.
    let mut txn = db.begin_write().unwrap();
    txn.put(b"after", b"abort").unwrap();
    assert_eq!(txn.commit().unwrap(), txn_id + 1);
    drop(db);
    let db = Db::open(dir.path(), common::verified()).unwrap();
    let mut expected = committed;
    expected.insert(b"after".to_vec(), b"abort".to_vec());
    assert_holds(&db.begin_read().unwrap(), &expected, "after reopen");
    assert!(db.check().unwrap().is_ok());
}

#[test]
fn abort_after_taking_back_a_page_freed_in_the_same_txn_keeps_the_high_water_mark() {
    // A txn that allocates a new page, frees it and allocates it again, then aborts, used
    // to leave that page (past the old end of the file) in the free set; the next commit
    // then placed a node past its own high-water mark.
    let (dir, db) = common::temp_db();
    let mut txn = db.begin_write().unwrap();
    txn.put(b"k", b"first").unwrap();
    assert!(txn.delete(b"k").unwrap());
    txn.put(b"k", b"again").unwrap();
    txn.abort();
    let mut txn = db.begin_write().unwrap();
    txn.put(b"k", b"committed").unwrap();
    txn.commit().unwrap();
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    drop(db);
    let db = Db::open(dir.path(), common::verified()).unwrap();
    assert_eq!(db.last_txn_id(), 1);
    assert_eq!(
        db.begin_read().unwrap().get(b"k").unwrap().as_deref(),
        Some(&b"committed"[..])
    );
}

#[test]
fn reader_never_sees_a_later_commit_even_to_keys_it_has_not_read_yet() {
    let (_dir, db) = common::temp_db();
    let committed = fill(&db, 1000);
    let reader = db.begin_read().unwrap();
    let mut cursor = reader.cursor();
    assert!(cursor.first().unwrap());
    let mut seen = vec![cursor.key().unwrap().to_vec()];
    let mut generation = 1;
    // Interleave: one cursor step, then a commit that rewrites keys ahead of the cursor.
    while cursor.next().unwrap() {
        let (k, v) = cursor.entry().unwrap().unwrap();
        assert_eq!(
            Some(&v.to_vec()),
            committed.get(k),
            "entry {}",
            common::short(k)
        );
        seen.push(k.to_vec());
        if seen.len() % 10 == 0 {
            let mut txn = db.begin_write().unwrap();
            for n in seen.len() as u64..seen.len() as u64 + 40 {
                if n % 3 == 0 {
                    txn.delete(key(n)).unwrap();
                } else {
                    txn.put(key(n), value(n, generation)).unwrap();
                }
            }
            txn.commit().unwrap();
            generation += 1;
        }
    }
    assert_eq!(seen, committed.keys().cloned().collect::<Vec<_>>());
}
