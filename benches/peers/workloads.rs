//! The workloads, run against one engine: a loaded database that is written, read and
//! half emptied, then a fresh one filled in key order.
//!
//! Invariants:
//! - Every engine gets the same keys in the same order: loaded keys are random keys
//!   `0..load_keys`; later writes use the numbers after them, so they insert new keys;
//!   readers pick loaded keys with per-thread seeded pickers.
//! - Each group runs in a fresh temporary directory that is removed after the engine is
//!   closed, so engines never share files or page cache of live files.
//! - Results are checked where it is cheap (every get finds its key, every removal finds
//!   its key, the warm-up scan sees every key), so a broken adapter fails loudly instead
//!   of looking fast.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::config::{
    Plan, BATCH_KEYS, LONG_SCAN_ENTRIES, READER_THREADS, SEQUENTIAL_BATCH_KEYS, SHORT_SCAN_ENTRIES,
    THREADS_MAX,
};
use crate::engine::{Engine, Reader, Writer};
use crate::keys::{random_key, sequential_key, value, Picker};
use crate::results::{Figure, Show, Workload};
use crate::timing::{self, best_of, on_threads, share};

/// One engine's figures, in the order they were measured; progress goes to stderr.
pub struct Recorder {
    engine: &'static str,
    plan: Plan,
    /// The figures so far.
    pub figures: Vec<(Workload, Figure)>,
}

impl Recorder {
    /// An empty record for `engine`.
    pub fn new(engine: &'static str, plan: Plan) -> Recorder {
        Recorder {
            engine,
            plan,
            figures: Vec::new(),
        }
    }

    fn time(&mut self, workload: Workload, elapsed: Duration, ops: u64, show: Show) {
        self.add(workload, Figure::Time { elapsed, ops, show });
    }

    fn add(&mut self, workload: Workload, figure: Figure) {
        let label = workload.label(&self.plan);
        eprintln!("  {:<12} {label}: {}", self.engine, figure.render());
        self.figures.push((workload, figure));
    }
}

/// Runs every workload against engine `E`.
pub fn run<E: Engine>(plan: &Plan, out: &mut Recorder) {
    loaded_database::<E>(plan, out);
    sequential_insert::<E>(plan, out);
}

fn temporary_directory() -> TempDir {
    tempfile::Builder::new()
        .prefix("northstar-peers-")
        .tempdir()
        .expect("temporary directory")
}

fn loaded_database<E: Engine>(plan: &Plan, out: &mut Recorder) {
    let dir = temporary_directory();
    let engine = E::open(dir.path());
    let keys = plan.load_keys;
    let elapsed = timing::once(|| {
        engine.write(|writer| (0..keys).for_each(|index| put_random(writer, index)));
    });
    out.time(Workload::BulkLoad, elapsed, keys, Show::Total);
    out.add(Workload::SizeAfterLoad, Figure::Size(engine.file_parts()));

    let engine = reopen(engine, dir.path(), plan, out);
    let warmed = engine.read(|reader| reader.scan(&[], keys as usize + 1).0);
    assert_eq!(warmed as u64, keys, "{}: the loaded keys", out.engine);
    point_reads(&engine, plan, out);
    scans(&engine, plan, out);
    let elapsed =
        best_of(|| timing::once(|| (0..plan.snapshots).for_each(|_| engine.snapshot_open_close())));
    out.time(
        Workload::SnapshotOpenClose,
        elapsed,
        plan.snapshots,
        Show::PerOp,
    );

    writes(&engine, plan, out);
    let removed = keys / 2;
    let elapsed = timing::once(|| {
        let found = engine.write(|writer| {
            (0..removed)
                .filter(|index| writer.remove(&random_key(*index)))
                .count()
        });
        assert_eq!(found as u64, removed, "removals that found their key");
    });
    out.time(Workload::Removals, elapsed, removed, Show::Total);
    out.add(
        Workload::SizeAfterRemovals,
        Figure::Size(engine.file_parts()),
    );
    engine.close();
}

fn put_random(writer: &mut impl Writer, index: u64) {
    writer.put(&random_key(index), value(index));
}

/// Closes `engine` and times opening it again plus its first get, best of several.
fn reopen<E: Engine>(engine: E, dir: &Path, plan: &Plan, out: &mut Recorder) -> E {
    engine.close();
    let mut opened: Option<E> = None;
    let elapsed = best_of(|| {
        if let Some(engine) = opened.take() {
            engine.close();
        }
        let started = Instant::now();
        let engine = E::open(dir);
        let found = engine.read(|reader| reader.get(&random_key(plan.load_keys / 2)));
        let elapsed = started.elapsed();
        assert!(found.is_some(), "the first get after open found nothing");
        opened = Some(engine);
        elapsed
    });
    out.time(Workload::Open, elapsed, 1, Show::Total);
    opened.expect("opened at least once")
}

fn point_reads<E: Engine>(engine: &E, plan: &Plan, out: &mut Recorder) {
    let keys = plan.load_keys;
    for threads in READER_THREADS {
        let elapsed = best_of(|| {
            on_threads(threads, |thread_index, start| {
                let gets = share(plan.point_gets, threads, thread_index);
                engine.read(|reader| {
                    let mut picker = Picker::new(thread_index);
                    let began = start.wait();
                    for _ in 0..gets {
                        let found = reader.get(&random_key(picker.below(keys)));
                        assert!(black_box(found).is_some(), "a loaded key is missing");
                    }
                    began..Instant::now()
                })
            })
        });
        out.time(
            Workload::RandomReads { threads },
            elapsed,
            plan.point_gets,
            Show::Rate,
        );
    }
}

fn scans<E: Engine>(engine: &E, plan: &Plan, out: &mut Recorder) {
    let runs = [
        (
            Workload::ShortScans,
            plan.short_scans,
            SHORT_SCAN_ENTRIES,
            Show::Rate,
        ),
        (
            Workload::LongScans,
            plan.long_scans,
            LONG_SCAN_ENTRIES,
            Show::PerOp,
        ),
    ];
    for (workload, count, entries, show) in runs {
        let elapsed = best_of(|| {
            engine.read(|reader| {
                let mut picker = Picker::new(0);
                let started = Instant::now();
                for _ in 0..count {
                    let start = random_key(picker.below(plan.load_keys));
                    let (visited, bytes) = reader.scan(&start, entries);
                    // The start key exists, so every scan sees at least it.
                    assert!(visited >= 1, "a scan from a loaded key saw nothing");
                    black_box(bytes);
                }
                started.elapsed()
            })
        });
        out.time(workload, elapsed, count, show);
    }
}

fn writes<E: Engine>(engine: &E, plan: &Plan, out: &mut Recorder) {
    let commits = plan.individual_commits;
    let first = plan.load_keys;
    let elapsed = timing::once(|| {
        for index in first..first + commits {
            engine.write(|writer| put_random(writer, index));
        }
    });
    out.time(
        Workload::IndividualWrites { threads: 1 },
        elapsed,
        commits,
        Show::Rate,
    );

    let first = first + commits;
    let elapsed = on_threads(THREADS_MAX, |thread_index, start| {
        let began = start.wait();
        for step in 0..share(commits, THREADS_MAX, thread_index) {
            let index = first + thread_index + step * THREADS_MAX;
            engine.write(|writer| put_random(writer, index));
        }
        began..Instant::now()
    });
    out.time(
        Workload::IndividualWrites {
            threads: THREADS_MAX,
        },
        elapsed,
        commits,
        Show::Rate,
    );

    let first = first + commits;
    let elapsed = timing::once(|| {
        for commit in 0..plan.batch_commits {
            let batch_first = first + commit * BATCH_KEYS;
            engine.write(|writer| {
                (batch_first..batch_first + BATCH_KEYS).for_each(|index| put_random(writer, index))
            });
        }
    });
    out.time(
        Workload::BatchWrites,
        elapsed,
        plan.batch_commits,
        Show::Rate,
    );
}

fn sequential_insert<E: Engine>(plan: &Plan, out: &mut Recorder) {
    let dir = temporary_directory();
    let engine = E::open(dir.path());
    let keys = plan.sequential_keys;
    let elapsed = timing::once(|| {
        for batch_first in (0..keys).step_by(SEQUENTIAL_BATCH_KEYS as usize) {
            let batch_end = keys.min(batch_first + SEQUENTIAL_BATCH_KEYS);
            engine.write(|writer| {
                for index in batch_first..batch_end {
                    writer.put(&sequential_key(index), value(index));
                }
            });
        }
    });
    out.time(Workload::SequentialInsert, elapsed, keys, Show::Total);
    engine.close();
}
