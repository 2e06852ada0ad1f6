//! The MVCC micro workloads: many readers at once, and the writer among them.
//!
//! - `readers_256_point_get_hot`: 256 threads, each with its own read txn on the loaded
//!   database (every page read once beforehand), doing `get`s of random keys, each
//!   checked against the value the fixture wrote; 1,000,000 gets over all threads.
//! - `writer_commits_with_readers_128`: one thread commits durable txns on a copy of the
//!   commit base, each putting one random key and bumping a counter key, while 128
//!   reader threads loop: begin a read txn, read the counter, 10 random gets, read the
//!   counter again (it must not have changed inside the snapshot, nor gone back since
//!   the reader's previous snapshot), drop, sleep 2 ms. 500 commits; the counter must
//!   equal the commits made. The same commits without readers, on the same database
//!   just before, are the peer: `ops_per_sec_ratio_to_without_readers`.
//!
//! Invariants: readers never fail silently: any mismatch stops the run with an error.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use northstar::Db;

use super::context::Context;
use super::error::{BenchError, Fallible};
use super::fixtures::{bench_options, key, value, XorShift, SEED};
use super::measure::{run_ops, run_threads, Probe, Sample};
use super::workloads::open_loaded_warm;

/// Reader threads of `readers_256_point_get_hot`.
const POINT_GET_READERS: usize = 256;
/// Reader threads of `writer_commits_with_readers_128`.
const WRITER_PEER_READERS: usize = 128;
/// Gets per snapshot of a reader beside the writer.
const GETS_PER_SNAPSHOT: u64 = 10;
/// The key holding the writer's commit count.
const COUNTER_KEY: &[u8] = b"~commit-counter";

/// `micro/mvcc/readers_256_point_get_hot`.
pub fn readers_256_point_get_hot(ctx: &Context) -> Fallible<Sample> {
    let db = open_loaded_warm(ctx)?;
    let key_count = ctx.fixtures.loaded_key_count();
    let sample = {
        let db = &db;
        let plan = ctx.plan(1_000_000, 2 * POINT_GET_READERS as u64);
        run_threads(&plan, &Probe::reads(db), POINT_GET_READERS, |thread| {
            let txn = db.begin_read();
            let mut rng = XorShift::new(SEED ^ (thread as u64 + 1));
            move || {
                let txn = txn.as_ref().map_err(|e| BenchError::new(e.to_string()))?;
                let index = rng.below(key_count);
                match txn.get(key(index))? {
                    Some(found) if *found == value(index, 0) => Ok(()),
                    Some(_) => Err(BenchError::new(format!("key {index} has a wrong value"))),
                    None => Err(BenchError::new(format!("key {index} is missing"))),
                }
            }
        })?
    };
    db.close()?;
    Ok(sample)
}

fn read_counter(value: Option<&[u8]>) -> Fallible<u64> {
    match value {
        None => Ok(0),
        Some(bytes) => Ok(u64::from_le_bytes(bytes.try_into().map_err(|_| {
            BenchError::new(format!("the commit counter holds {bytes:?}"))
        })?)),
    }
}

/// One reader beside the writer: snapshots until `stop`, checking the counter.
fn reader_loop(db: &Db, key_count: u64, thread: u64, stop: &AtomicBool) -> Fallible<u64> {
    let mut rng = XorShift::new(SEED ^ (thread + 1));
    let (mut previous, mut snapshots) = (0u64, 0u64);
    while !stop.load(Ordering::Acquire) {
        let txn = db.begin_read()?;
        let first = read_counter(txn.get(COUNTER_KEY)?.as_deref())?;
        for _ in 0..GETS_PER_SNAPSHOT {
            black_box(txn.get(key(rng.below(key_count)))?);
        }
        let last = read_counter(txn.get(COUNTER_KEY)?.as_deref())?;
        if first != last || first < previous {
            return Err(BenchError::new(format!(
                "a reader saw the commit counter go {previous} -> {first} -> {last}"
            )));
        }
        previous = first;
        snapshots += 1;
        drop(txn);
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(snapshots)
}

/// Runs the writer's commits as `ctx` plans them, each bumping the counter from
/// `commits`; checks the counter afterwards.
fn write_commits(ctx: &Context, db: &Db, key_count: u64, commits: &mut u64) -> Fallible<Sample> {
    let probe = Probe::writes(db)?;
    let mut rng = XorShift::new(SEED ^ *commits);
    let sample = run_ops(&ctx.plan(500, 10), &probe, || {
        let mut txn = db.begin_write()?;
        let index = rng.below(key_count);
        txn.put(key(index), value(index, rng.next_u64()))?;
        *commits += 1;
        txn.put(COUNTER_KEY, commits.to_le_bytes())?;
        txn.commit()?;
        Ok(())
    })?;
    let stored = read_counter(db.begin_read()?.get(COUNTER_KEY)?.as_deref())?;
    if stored != *commits {
        return Err(BenchError::new(format!(
            "the counter reads {stored} after {commits} commits"
        )));
    }
    Ok(sample)
}

/// `micro/mvcc/writer_commits_with_readers_128`.
pub fn writer_commits_with_readers_128(ctx: &Context) -> Fallible<Sample> {
    let dir = ctx.fixtures.commit_base_copy()?;
    let db = Db::open(dir.path(), bench_options())?;
    let key_count = ctx.fixtures.commit_base_key_count();
    let mut commits = 0u64;
    let alone = write_commits(ctx, &db, key_count, &mut commits)?;
    let stop = AtomicBool::new(false);
    let (mut sample, snapshots) = std::thread::scope(|scope| {
        let readers: Vec<_> = (0..WRITER_PEER_READERS as u64)
            .map(|thread| {
                let (db, stop) = (&db, &stop);
                scope.spawn(move || reader_loop(db, key_count, thread, stop))
            })
            .collect();
        let writer = write_commits(ctx, &db, key_count, &mut commits);
        stop.store(true, Ordering::Release);
        let mut snapshots = 0;
        for reader in readers {
            snapshots += reader.join().expect("reader thread panicked")?;
        }
        writer.map(|sample| (sample, snapshots))
    })?;
    db.close()?;
    let rate = |s: &Sample| s.ops as f64 * 1e9 / s.duration_ns.max(1) as f64;
    sample.figure("reader_snapshots", snapshots as f64);
    sample.figure("ops_per_sec_without_readers", rate(&alone));
    sample.figure(
        "ops_per_sec_ratio_to_without_readers",
        rate(&sample) / rate(&alone),
    );
    Ok(sample)
}
