//! MVCC micro-benchmarks: snapshot cost and concurrent readers.
//!
//! - `mvcc/snapshot_open_close`: `Db::begin_read` and drop.
//! - `mvcc/readers_{N}_point_get_hot`, N = 1, 2, 4, 8: N threads, each with its own
//!   `ReadTxn`, share the gets of one measurement; the time is wall time from the moment
//!   all threads are ready until the last finishes, so the reported throughput is the
//!   combined gets per second of all readers.

#[path = "support/mod.rs"]
mod support;

use std::cell::OnceCell;
use std::hint::black_box;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use criterion::Throughput;
use northstar::Db;
use support::{Fixture, XorShift};

/// Reader thread counts measured.
const READER_COUNTS: [u64; 4] = [1, 2, 4, 8];

fn main() {
    let fixture = Fixture::new();
    let mut criterion = support::criterion();
    let db = OnceCell::new();
    let shared_db = || {
        db.get_or_init(|| {
            let db = fixture.open();
            support::warm(&db);
            db
        })
    };
    let mut group = criterion.benchmark_group("mvcc");

    group.bench_function("snapshot_open_close", |b| {
        let db = shared_db();
        b.iter(|| drop(black_box(db.begin_read().expect("begin read"))));
    });

    // One iteration is one get, so the throughput is gets per second over all threads.
    group.throughput(Throughput::Elements(1));
    for readers in READER_COUNTS {
        group.bench_function(format!("readers_{readers}_point_get_hot"), |b| {
            let db = shared_db();
            b.iter_custom(|gets| point_gets_on_threads(db, readers, gets));
        });
    }

    group.finish();
    criterion.final_summary();
}

/// Wall time for `readers` threads, each with its own read txn, to do `gets` random point
/// gets between them: from the earliest start to the latest finish, as each worker times
/// itself (the coordinating thread may wake after the workers on a busy machine).
fn point_gets_on_threads(db: &Db, readers: u64, gets: u64) -> Duration {
    let key_count = support::key_count();
    let ready = Barrier::new(readers as usize);
    let spans: Vec<(Instant, Instant)> = thread::scope(|scope| {
        let workers: Vec<_> = (0..readers)
            .map(|reader| {
                let share = gets / readers + u64::from(reader < gets % readers);
                let ready = &ready;
                scope.spawn(move || {
                    let txn = db.begin_read().expect("begin read");
                    let mut rng = XorShift::new(support::SEED.wrapping_mul(reader + 1));
                    ready.wait();
                    let start = Instant::now();
                    for _ in 0..share {
                        black_box(txn.get(support::key(rng.below(key_count))).expect("get"));
                    }
                    (start, Instant::now())
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("reader thread"))
            .collect()
    });
    let start = spans.iter().map(|span| span.0).min().expect("a reader");
    let end = spans.iter().map(|span| span.1).max().expect("a reader");
    end - start
}
