//! One writer and many readers on several threads: every snapshot is consistent, txn ids
//! never go backwards, and the single writer slot is exclusive.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use common::Rng;
use northstar::{Db, Error, ReadTxn};

// `Db` is shared by reference between threads, and read txns may move between threads.
const _: fn() = || {
    fn shareable<T: Send + Sync>() {}
    shareable::<Db>();
    shareable::<ReadTxn<'static>>();
};

const ACCOUNTS: u64 = 200;
const OPENING_BALANCE: u64 = 1_000;

fn account(n: u64) -> Vec<u8> {
    format!("account/{n:04}").into_bytes()
}

/// A balance, padded to a varying length so that rewriting accounts splits and merges
/// pages (the padding is ignored when reading).
fn encode_balance(balance: u64, padding: usize) -> Vec<u8> {
    let mut value = balance.to_le_bytes().to_vec();
    value.resize(8 + padding, 0xAB);
    value
}

/// The `u64` a value starts with (a balance, before its padding, or a counter).
fn leading_u64(value: &[u8]) -> u64 {
    u64::from_le_bytes(value[..8].try_into().expect("value of at least 8 bytes"))
}

/// Sums every balance of the snapshot, checking the number of accounts.
fn audit(read: &ReadTxn<'_>, backwards: bool) -> u64 {
    let range = read.prefix(b"account/").unwrap();
    let entries: Vec<_> = if backwards {
        range.rev().collect::<Result<_, _>>().unwrap()
    } else {
        range.collect::<Result<_, _>>().unwrap()
    };
    assert_eq!(
        entries.len() as u64,
        ACCOUNTS,
        "txn {}: account count",
        read.txn_id()
    );
    assert_eq!(
        read.len(),
        ACCOUNTS + 1,
        "txn {}: accounts plus the counter",
        read.txn_id()
    );
    entries.iter().map(|(_, value)| leading_u64(value)).sum()
}

#[test]
fn every_snapshot_sees_a_constant_total_while_money_moves() {
    let seed = common::seed("every_snapshot_sees_a_constant_total_while_money_moves");
    let (_dir, db) = common::temp_db();
    let mut txn = db.begin_write().unwrap();
    for n in 0..ACCOUNTS {
        txn.put(account(n), encode_balance(OPENING_BALANCE, 0))
            .unwrap();
    }
    txn.put(b"transfers", 0u64.to_le_bytes()).unwrap();
    txn.commit().unwrap();
    let total = ACCOUNTS * OPENING_BALANCE;

    let done = AtomicBool::new(false);
    let newest_committed = AtomicU64::new(db.last_txn_id());
    let audits = Mutex::new(Vec::new());
    let long_reader = db.begin_read().unwrap();
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let mut rng = Rng::new(seed);
            let deadline = Instant::now() + Duration::from_millis(2500);
            let mut commits = 0u64;
            while Instant::now() < deadline {
                let mut txn = db.begin_write().unwrap();
                for _ in 0..1 + rng.below(4) {
                    let (from, to) = (rng.below(ACCOUNTS), rng.below(ACCOUNTS));
                    let from_balance = leading_u64(&txn.get(account(from)).unwrap().unwrap());
                    let amount = rng.below(from_balance + 1);
                    txn.put(
                        account(from),
                        encode_balance(from_balance - amount, rng.index(400)),
                    )
                    .unwrap();
                    // Read `to` after writing `from`: when they are the same account this
                    // reads the txn's own write.
                    let to_balance = leading_u64(&txn.get(account(to)).unwrap().unwrap());
                    txn.put(
                        account(to),
                        encode_balance(to_balance + amount, rng.index(400)),
                    )
                    .unwrap();
                }
                let transfers = leading_u64(&txn.get(b"transfers").unwrap().unwrap());
                txn.put(b"transfers", (transfers + 1).to_le_bytes())
                    .unwrap();
                if rng.chance(1, 10) {
                    txn.abort();
                    continue;
                }
                let txn_id = txn.commit().unwrap();
                newest_committed.store(txn_id, Ordering::SeqCst);
                commits += 1;
            }
            done.store(true, Ordering::SeqCst);
            commits
        });
        for reader in 0..3 {
            let (db, done, newest_committed, audits) = (&db, &done, &newest_committed, &audits);
            scope.spawn(move || {
                let mut last_txn_id = 0;
                let mut count = 0u64;
                loop {
                    let finished = done.load(Ordering::SeqCst);
                    let committed_before = newest_committed.load(Ordering::SeqCst);
                    let read = db.begin_read().unwrap();
                    assert!(
                        read.txn_id() >= last_txn_id,
                        "txn id went back from {last_txn_id} to {}",
                        read.txn_id()
                    );
                    assert!(
                        read.txn_id() >= committed_before,
                        "snapshot older than a finished commit"
                    );
                    last_txn_id = read.txn_id();
                    assert_eq!(
                        audit(&read, count % 2 == 1),
                        total,
                        "reader {reader}, txn {}",
                        read.txn_id()
                    );
                    let transfers = leading_u64(&read.get(b"transfers").unwrap().unwrap());
                    // One counted transfer batch per committed txn after the first.
                    assert_eq!(
                        transfers,
                        read.txn_id() - 1,
                        "transfer counter at txn {}",
                        read.txn_id()
                    );
                    count += 1;
                    if finished {
                        break;
                    }
                }
                audits.lock().unwrap().push(count);
            });
        }
        let commits = writer.join().unwrap();
        println!("{commits} commits");
        assert!(commits > 0);
    });
    // The snapshot taken before any transfer still shows the opening balances.
    assert_eq!(long_reader.txn_id(), 1);
    assert_eq!(audit(&long_reader, false), total);
    for entry in long_reader.prefix(b"account/").unwrap() {
        assert_eq!(leading_u64(&entry.unwrap().1), OPENING_BALANCE);
    }
    let audits = audits.into_inner().unwrap();
    println!("audits per reader: {audits:?}");
    assert_eq!(audits.len(), 3);
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}

#[test]
fn read_txn_can_move_to_another_thread() {
    let (_dir, db) = common::temp_db();
    let mut txn = db.begin_write().unwrap();
    txn.put(b"k", b"v1").unwrap();
    txn.commit().unwrap();
    let read = db.begin_read().unwrap();
    let mut txn = db.begin_write().unwrap();
    txn.put(b"k", b"v2").unwrap();
    txn.commit().unwrap();
    std::thread::scope(|scope| {
        let read = &read;
        for _ in 0..4 {
            scope.spawn(move || assert_eq!(read.get(b"k").unwrap().as_deref(), Some(&b"v1"[..])));
        }
    });
    let moved = std::thread::scope(|scope| {
        scope
            .spawn(move || read.get(b"k").unwrap().map(|v| v.into_owned()))
            .join()
            .unwrap()
    });
    assert_eq!(moved.as_deref(), Some(&b"v1"[..]));
}

#[test]
fn try_begin_write_is_busy_while_another_writer_is_open() {
    let (_dir, db) = common::temp_db();
    let mut first = db.begin_write().unwrap();
    first.put(b"a", b"1").unwrap();
    assert!(matches!(db.try_begin_write(), Err(Error::WriteBusy)));
    // Readers are never blocked by the writer.
    assert!(db.begin_read().unwrap().get(b"a").unwrap().is_none());
    std::thread::scope(|scope| {
        scope.spawn(|| assert!(matches!(db.try_begin_write(), Err(Error::WriteBusy))));
    });
    first.commit().unwrap();
    let mut second = db.try_begin_write().unwrap();
    assert_eq!(second.get(b"a").unwrap().as_deref(), Some(&b"1"[..]));
    assert!(matches!(db.try_begin_write(), Err(Error::WriteBusy)));
    second.put(b"b", b"2").unwrap();
    drop(second);
    assert!(
        db.try_begin_write().is_ok(),
        "an aborted writer frees the slot"
    );
}

#[test]
fn begin_write_waits_until_the_open_writer_finishes() {
    let (_dir, db) = common::temp_db();
    let started = Barrier::new(2);
    let mut first = db.begin_write().unwrap();
    first.put(b"counter", 1u64.to_le_bytes()).unwrap();
    std::thread::scope(|scope| {
        let waiter = scope.spawn(|| {
            started.wait();
            // Blocks until `first` commits; then it must see that commit.
            let mut txn = db.begin_write().unwrap();
            let counter = txn
                .get(b"counter")
                .unwrap()
                .map(|value| leading_u64(&value));
            txn.put(b"counter", (counter.unwrap_or(0) + 1).to_le_bytes())
                .unwrap();
            (counter, txn.commit().unwrap())
        });
        started.wait();
        // Give the waiter time to reach `begin_write` (the result does not depend on it).
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            !waiter.is_finished(),
            "a second writer cannot finish while the first is open"
        );
        let first_id = first.commit().unwrap();
        let (seen, second_id) = waiter.join().unwrap();
        assert_eq!(
            seen,
            Some(1),
            "the second writer began after the first committed"
        );
        assert_eq!((first_id, second_id), (1, 2));
    });
    let read = db.begin_read().unwrap();
    assert_eq!(
        read.get(b"counter").unwrap().as_deref(),
        Some(&2u64.to_le_bytes()[..])
    );
}

#[test]
fn many_writers_on_many_threads_serialize() {
    let (_dir, db) = common::temp_db();
    let threads = 4;
    let increments = 50;
    std::thread::scope(|scope| {
        for thread in 0..threads {
            let db = &db;
            scope.spawn(move || {
                for i in 0..increments {
                    let mut txn = db.begin_write().unwrap();
                    let counter = txn
                        .get(b"counter")
                        .unwrap()
                        .map_or(0, |value| leading_u64(&value));
                    txn.put(b"counter", (counter + 1).to_le_bytes()).unwrap();
                    txn.put(format!("thread{thread}/{i:03}"), b"").unwrap();
                    txn.commit().unwrap();
                }
            });
        }
    });
    let read = db.begin_read().unwrap();
    let expected = (threads * increments) as u64;
    assert_eq!(
        read.get(b"counter").unwrap().as_deref(),
        Some(&expected.to_le_bytes()[..])
    );
    assert_eq!(read.txn_id(), expected);
    assert_eq!(read.len(), expected + 1);
}
