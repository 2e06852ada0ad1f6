//! What commits and checkpoints cost on the disk, printed as a table (no criterion: these
//! are counts and latency distributions, not one timed loop):
//!
//! - bytes written per one-key durable commit over 10,000 commits into a 100,000-key
//!   database, checkpoints included (default policy, plus one at the end), beside the
//!   raw log record size;
//! - latency of one-key durable commits while a checkpoint of 64 MiB or more runs in the
//!   background: median, p99, p99.9, and p99.9 as a multiple of the median.
//!
//! `NORTHSTAR_BENCH_SMOKE=1` runs it small, for CI.

mod support;

use std::time::{Duration, Instant};

use northstar::{Db, Options};

/// Bytes this process handed to write calls so far (`wchar` of `/proc/self/io`).
fn bytes_written() -> u64 {
    let io = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    io.lines()
        .find_map(|line| line.strip_prefix("wchar: "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index]
}

/// Loads `keys` keys (16-byte values) in batches of 10,000.
fn load(db: &Db, keys: u64) {
    let mut next = 0;
    while next < keys {
        let mut txn = db.begin_write().expect("begin");
        for index in next..(next + 10_000).min(keys) {
            txn.put(support::key(index), support::value(index))
                .expect("put");
        }
        txn.commit().expect("commit");
        next += 10_000;
    }
}

fn bytes_per_commit() {
    let (keys, commits) = if support::is_smoke() {
        (10_000, 500)
    } else {
        (100_000, 10_000)
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = Db::open(dir.path(), Options::default()).expect("open");
    load(&db, keys);
    db.checkpoint().expect("checkpoint after the load");
    let log_before = std::fs::metadata(db.log_path()).expect("log").len();
    let written_before = bytes_written();
    let pages_before = db.checkpoint_stats().pages_written;
    let mut rng = support::XorShift::new(support::SEED);
    for _ in 0..commits {
        let index = rng.below(keys);
        let mut txn = db.begin_write().expect("begin");
        txn.put(support::key(index), support::value(index + 1))
            .expect("put");
        txn.commit().expect("commit");
    }
    db.checkpoint().expect("final checkpoint");
    let written = bytes_written() - written_before;
    let log = std::fs::metadata(db.log_path()).expect("log").len() - log_before;
    let pages = db.checkpoint_stats().pages_written - pages_before;
    let stats = db.checkpoint_stats();
    println!(
        "| one-key durable commits, {keys} keys | {commits} | {:.0} B | {:.0} B | {:.0} B | {} |",
        written as f64 / commits as f64,
        log as f64 / commits as f64,
        (pages * northstar::PAGE_SIZE as u64) as f64 / commits as f64,
        stats.count,
    );
}

fn latency_during_checkpoint() {
    let keys = if support::is_smoke() {
        20_000
    } else {
        1_000_000
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let options =
        Options::default().checkpoint_every(u64::MAX, u64::MAX, Duration::from_secs(3_600));
    let db = Db::open(dir.path(), options).expect("open");
    // Baseline: commits with no checkpoint running.
    load(&db, keys);
    db.checkpoint().expect("checkpoint");
    let mut rng = support::XorShift::new(support::SEED);
    let mut commit = |db: &Db| {
        let index = rng.below(keys);
        let start = Instant::now();
        let mut txn = db.begin_write().expect("begin");
        txn.put(support::key(index), support::value(index + 2))
            .expect("put");
        txn.commit().expect("commit");
        start.elapsed()
    };
    let mut quiet: Vec<Duration> = (0..500).map(|_| commit(&db)).collect();
    quiet.sort();
    // Rewrite every value with a longer one, so the whole tree is dirty and larger than
    // 64 MiB, then checkpoint it in the background while committing.
    let mut txn = db.begin_write().expect("begin");
    for index in 0..keys {
        txn.put(support::key(index), [index as u8; 64])
            .expect("put");
    }
    txn.commit().expect("commit");
    let dirty_bytes = db.cache_stats().dirty * northstar::PAGE_SIZE as u64;
    let mut during = Vec::new();
    std::thread::scope(|scope| {
        let checkpoint = scope.spawn(|| {
            let start = Instant::now();
            db.checkpoint().expect("checkpoint");
            start.elapsed()
        });
        while !checkpoint.is_finished() {
            during.push(commit(&db));
        }
        let took = checkpoint.join().expect("checkpoint thread");
        during.sort();
        let median = percentile(&during, 0.5);
        let p999 = percentile(&during, 0.999);
        println!(
            "| commits during a checkpoint of {} MiB ({} ms) | {} | {:?} | {:?} | {:?} | {:.2}x |",
            dirty_bytes >> 20,
            took.as_millis(),
            during.len(),
            median,
            percentile(&during, 0.99),
            p999,
            p999.as_secs_f64() / median.as_secs_f64(),
        );
    });
    println!(
        "| commits with no checkpoint running | {} | {:?} | {:?} | {:?} | {:.2}x |",
        quiet.len(),
        percentile(&quiet, 0.5),
        percentile(&quiet, 0.99),
        percentile(&quiet, 0.999),
        percentile(&quiet, 0.999).as_secs_f64() / percentile(&quiet, 0.5).as_secs_f64(),
    );
}

fn main() {
    println!("| workload | commits | written per commit | log per commit | pages per commit | checkpoints |");
    println!("|---|---|---|---|---|---|");
    bytes_per_commit();
    println!();
    println!("| workload | commits | p50 | p99 | p99.9 | p99.9 / p50 |");
    println!("|---|---|---|---|---|---|");
    latency_during_checkpoint();
}
