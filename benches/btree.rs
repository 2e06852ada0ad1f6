//! B+tree micro-benchmarks: bulk build, point gets and range scans.
//!
//! - `btree/build_sequential_insert_1m`: ascending keys into a fresh database, one write
//!   txn, committed (durable). Slow by nature: ten samples of one build each.
//! - `btree/point_get_hot_1m`: random gets on the shared database through one `ReadTxn`.
//! - `btree/range_scan_1k_rows_hot`: 1,000 consecutive rows from a random start.
//!
//! Smoke mode (`NORTHSTAR_BENCH_SMOKE=1`) uses 10,000 keys; the ids keep their names.

#[path = "support/mod.rs"]
mod support;

use std::cell::OnceCell;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, SamplingMode, Throughput};
use northstar::{Db, ReadTxn};
use support::{Fixture, XorShift};

/// Rows one range scan reads.
const SCAN_ROWS: u64 = 1_000;

fn main() {
    let fixture = Fixture::new();
    let mut criterion = support::criterion();
    bench_build(&mut criterion);
    bench_reads(&mut criterion, &fixture);
    criterion.final_summary();
}

fn bench_build(criterion: &mut Criterion) {
    let key_count = support::key_count();
    let mut group = criterion.benchmark_group("btree");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(key_count));
    if !support::is_smoke() {
        // A build takes the best part of a second: ten do not fit the default five seconds.
        group.measurement_time(Duration::from_secs(10));
    }
    group.bench_function("build_sequential_insert_1m", |b| {
        b.iter_batched(
            || tempfile::tempdir().expect("temporary directory"),
            // The directory and the open database are dropped outside the timing.
            |dir| (support::build(dir.path(), key_count), dir),
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

fn bench_reads(criterion: &mut Criterion, fixture: &Fixture) {
    let key_count = support::key_count();
    let db = OnceCell::new();
    let txn = OnceCell::new();
    let read_txn = || txn.get_or_init(|| open_warm(db.get_or_init(|| fixture.open())));
    let mut group = criterion.benchmark_group("btree");

    let mut rng = XorShift::new(support::SEED);
    group.throughput(Throughput::Elements(1));
    group.bench_function("point_get_hot_1m", |b| {
        let txn = read_txn();
        b.iter(|| black_box(txn.get(support::key(rng.below(key_count))).expect("get")));
    });

    let mut rng = XorShift::new(support::SEED);
    group.throughput(Throughput::Elements(SCAN_ROWS));
    group.bench_function("range_scan_1k_rows_hot", |b| {
        let txn = read_txn();
        b.iter(|| black_box(scan(txn, rng.below(key_count - SCAN_ROWS + 1))));
    });

    group.finish();
}

/// A read txn on `db` whose pages are all hot, after checking reads do not allocate.
fn open_warm(db: &Db) -> ReadTxn<'_> {
    support::warm(db);
    let txn = db.begin_read().expect("begin read");
    let mut rng = XorShift::new(support::SEED);
    support::assert_no_allocations("ReadTxn::get", 1_000, || {
        black_box(
            txn.get(support::key(rng.below(support::key_count())))
                .expect("get"),
        );
    });
    support::assert_no_allocations("ReadTxn::range", 100, || {
        black_box(scan(&txn, rng.below(support::key_count() - SCAN_ROWS + 1)));
    });
    txn
}

/// Total key and value bytes of the `SCAN_ROWS` rows from key index `start`.
fn scan(txn: &ReadTxn<'_>, start: u64) -> usize {
    let mut bytes = 0;
    for entry in txn
        .range(support::key(start)..)
        .expect("range")
        .take(SCAN_ROWS as usize)
    {
        let (key, value) = entry.expect("row");
        bytes += key.len() + value.len();
    }
    bytes
}
