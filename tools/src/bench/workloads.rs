//! The macro workloads: what an application does with the store, end to end through the
//! public API. Sizes are at full scale (see [`Context::scaled`]).
//!
//! - `commit_durable_*`: one txn putting one random existing key of the commit base
//!   (100,000 keys), `Durability::Immediate`; 2,000 commits on one thread, or 4,000
//!   split over 4 threads sharing group commit. Checkpoints that fall due are inside.
//! - `commit_batch_1k`: one durable txn putting 1,000 random existing keys; 200 txns.
//! - `get_hot`: `ReadTxn::get` of a random key of the loaded database (1,000,000 keys,
//!   every page read once beforehand), one read txn for all; 1,000,000 gets.
//! - `range_scan_1k`: 1,000 rows in key order from a random key of the loaded database;
//!   5,000 scans.
//! - `bulk_load`: ascending keys into an empty database, 10,000 per durable txn; 100
//!   txns (1,000,000 keys).
//! - `as_of_read_100`: `Db::begin_read_at` of the txn 100 commits before the newest, with
//!   the snapshot just before those 100 pinned (so the view replays 100 records of 10
//!   puts), one `get`, drop; 2,000 reads.
//! - `recovery_replay`: `Db::open` of a copy of the recovery image, replaying the 1,000
//!   single-put commits made after its checkpoint (about as much as the default
//!   checkpoint policy lets pile up) and checkpointing; 20 opens, each on a fresh copy
//!   made outside the timed span.
//!
//! Invariants: setup (copies, loading, warming the cache) is never timed; each workload
//! closes what it opened after measuring, so the next one can open the same fixture.

use std::hint::black_box;

use northstar::{Db, Options};

use super::context::Context;
use super::error::{BenchError, Fallible};
use super::fixtures::{self, bench_options, commit_random_puts, key, value, XorShift, SEED};
use super::measure::{run_ops, run_ops_with_setup, run_threads, Probe, Sample};

/// Keys per txn of `commit_batch_1k`.
const BATCH_KEY_COUNT: u64 = 1_000;
/// Rows per scan of `range_scan_1k`.
const SCAN_ROW_COUNT: u64 = 1_000;
/// Keys per txn of `bulk_load`.
const BULK_TXN_KEY_COUNT: u64 = 10_000;
/// How far back `as_of_read_100` reads, in commits.
const AS_OF_DEPTH: u64 = 100;
/// Puts per commit of the history `as_of_read_100` reads back through.
const AS_OF_PUTS_PER_COMMIT: u64 = 10;

/// `macro/commit_durable/1_thread`.
pub fn commit_durable_1_thread(ctx: &Context) -> Fallible<Sample> {
    let dir = ctx.fixtures.commit_base_copy()?;
    let db = Db::open(dir.path(), bench_options())?;
    let key_count = ctx.fixtures.commit_base_key_count();
    let mut rng = XorShift::new(SEED);
    let sample = {
        let probe = Probe::writes(&db)?;
        run_ops(&ctx.plan(2_000, 10), &probe, || {
            commit_random_puts(&db, &mut rng, key_count, 1)
        })?
    };
    db.close()?;
    Ok(sample)
}

/// `macro/commit_durable/4_threads`.
pub fn commit_durable_4_threads(ctx: &Context) -> Fallible<Sample> {
    let dir = ctx.fixtures.commit_base_copy()?;
    let db = Db::open(dir.path(), bench_options())?;
    let key_count = ctx.fixtures.commit_base_key_count();
    let sample = {
        let probe = Probe::writes(&db)?;
        let db = &db;
        run_threads(&ctx.plan(4_000, 20), &probe, 4, |thread| {
            let mut rng = XorShift::new(SEED ^ (thread as u64 + 1));
            move || commit_random_puts(db, &mut rng, key_count, 1)
        })?
    };
    db.close()?;
    Ok(sample)
}

/// `macro/commit_batch_1k`.
pub fn commit_batch_1k(ctx: &Context) -> Fallible<Sample> {
    let dir = ctx.fixtures.commit_base_copy()?;
    let db = Db::open(dir.path(), bench_options())?;
    let key_count = ctx.fixtures.commit_base_key_count();
    let mut rng = XorShift::new(SEED);
    let sample = {
        let probe = Probe::writes(&db)?;
        run_ops(&ctx.plan(200, 5), &probe, || {
            commit_random_puts(&db, &mut rng, key_count, BATCH_KEY_COUNT)
        })?
    };
    db.close()?;
    Ok(sample)
}

/// Opens the loaded database and reads every entry once, so its pages are verified and
/// in the page cache.
pub fn open_loaded_warm(ctx: &Context) -> Fallible<Db> {
    let db = Db::open(ctx.fixtures.loaded()?, Options::default().create(false))?;
    let txn = db.begin_read()?;
    let mut rows = 0u64;
    for entry in txn.iter()? {
        black_box(entry?);
        rows += 1;
    }
    let expected = ctx.fixtures.loaded_key_count();
    if rows != expected {
        return Err(BenchError::new(format!(
            "the loaded database holds {rows} rows, expected {expected}"
        )));
    }
    drop(txn);
    Ok(db)
}

/// `macro/get_hot`.
pub fn get_hot(ctx: &Context) -> Fallible<Sample> {
    let db = open_loaded_warm(ctx)?;
    let key_count = ctx.fixtures.loaded_key_count();
    let mut rng = XorShift::new(SEED);
    let sample = {
        let txn = db.begin_read()?;
        run_ops(&ctx.plan(1_000_000, 1_000), &Probe::reads(&db), || {
            let index = rng.below(key_count);
            match txn.get(key(index))? {
                Some(found) => {
                    black_box(found);
                    Ok(())
                }
                None => Err(BenchError::new(format!("key {index} is missing"))),
            }
        })?
    };
    db.close()?;
    Ok(sample)
}

/// `macro/range_scan_1k`.
pub fn range_scan_1k(ctx: &Context) -> Fallible<Sample> {
    let db = open_loaded_warm(ctx)?;
    let key_count = ctx.fixtures.loaded_key_count();
    let rows = SCAN_ROW_COUNT.min(key_count);
    let mut rng = XorShift::new(SEED);
    let sample = {
        let txn = db.begin_read()?;
        run_ops(&ctx.plan(5_000, 10), &Probe::reads(&db), || {
            let start = rng.below(key_count - rows + 1);
            let mut seen = 0;
            for entry in txn.range(key(start)..)? {
                black_box(entry?);
                seen += 1;
                if seen == rows {
                    return Ok(());
                }
            }
            Err(BenchError::new(format!(
                "the scan from key {start} ended after {seen} of {rows} rows"
            )))
        })?
    };
    db.close()?;
    Ok(sample)
}

/// `macro/bulk_load`.
pub fn bulk_load(ctx: &Context) -> Fallible<Sample> {
    let dir = fixtures::temp_dir(&ctx.data_dir)?;
    let db = Db::open(dir.path(), bench_options())?;
    let mut next = 0u64;
    let sample = {
        let probe = Probe::writes(&db)?;
        run_ops(&ctx.plan(100, 3), &probe, || {
            let mut txn = db.begin_write()?;
            for index in next..next + BULK_TXN_KEY_COUNT {
                txn.put(key(index), value(index, 0))?;
            }
            txn.commit()?;
            next += BULK_TXN_KEY_COUNT;
            Ok(())
        })?
    };
    db.close()?;
    Ok(sample)
}

/// `macro/as_of_read_100`.
pub fn as_of_read_100(ctx: &Context) -> Fallible<Sample> {
    let dir = ctx.fixtures.commit_base_copy()?;
    let db = Db::open(
        dir.path(),
        bench_options().durability(northstar::Durability::Deferred),
    )?;
    let key_count = ctx.fixtures.commit_base_key_count();
    let mut rng = XorShift::new(SEED);
    let pinned = db.pin_latest();
    for _ in 0..2 * AS_OF_DEPTH {
        commit_random_puts(&db, &mut rng, key_count, AS_OF_PUTS_PER_COMMIT)?;
    }
    let target = db.last_txn_id() - AS_OF_DEPTH;
    let sample = run_ops(&ctx.plan(2_000, 10), &Probe::reads(&db), || {
        let view = db.begin_read_at(target)?;
        if view.replayed_records() != target - pinned {
            return Err(BenchError::new(format!(
                "AS OF txn {target} replayed {} records, expected {}",
                view.replayed_records(),
                target - pinned
            )));
        }
        black_box(view.get(key(rng.below(key_count)))?);
        Ok(())
    })?;
    db.close()?;
    Ok(sample)
}

/// `macro/recovery_replay`.
pub fn recovery_replay(ctx: &Context) -> Fallible<Sample> {
    let expected = ctx.fixtures.recovery_commit_count();
    run_ops_with_setup(
        &ctx.plan(20, 3),
        &Probe::none(),
        || ctx.fixtures.recovery_image_copy(),
        |dir| {
            let db = Db::open(dir.path(), Options::default().create(false))?;
            let replayed = db.recovery_report().replayed_txns;
            if replayed != expected {
                return Err(BenchError::new(format!(
                    "open replayed {replayed} commits, expected {expected}"
                )));
            }
            // Closing (a checkpoint) and removing the copy happen after the timed span.
            Ok((db, dir))
        },
    )
}
