//! Cartridge benchmarks, each against its baseline in the same run:
//!
//! - `build/key_history`: entries per second building from the log (target >= 1M/s on one
//!   core).
//! - `tasks/next10`: the next 10 pending tasks of one type among 1M tasks of 20 types,
//!   from the cartridge vs scanning the task keyspace (target < 1 ms).
//! - `as_of/<back>`: a key_history AS OF point read vs `begin_read_at` + `get` (log
//!   replay), 1,000 and 100,000 txns back (target <= 2 us warm).
//! - `catch_up`: 10,000 new txns merged into a cartridge vs a full rebuild.
//!
//! Besides criterion's report, each pair prints one `ratio` line (baseline time over
//! cartridge time, measured back to back). `NORTHSTAR_BENCH_SMOKE=1` makes everything
//! small and short, for CI: the numbers only show that the benchmarks still run.

use std::collections::BinaryHeap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use criterion::{black_box, BenchmarkId, Criterion, Throughput};
use northstar::{Db, Durability, Options};
use northstar_cartridges::tasks::{task_key, PendingTasks, Task, TaskState, TASKS_KEYSPACE};
use northstar_cartridges::{
    build_at, catch_up_at, BuildOptions, Cartridge, KeyHistory, LogSource, PendingTask, Recipe,
    StateIndex, TaskQueue,
};
use tempfile::TempDir;

fn is_smoke() -> bool {
    static SMOKE: OnceLock<bool> = OnceLock::new();
    *SMOKE.get_or_init(|| std::env::var_os("NORTHSTAR_BENCH_SMOKE").is_some_and(|v| v == "1"))
}

/// `full` outside smoke mode, `smoke` in it.
fn size(full: u64, smoke: u64) -> u64 {
    if is_smoke() {
        smoke
    } else {
        full
    }
}

fn criterion() -> Criterion {
    let criterion = Criterion::default().without_plots();
    let criterion = if is_smoke() {
        criterion
            .warm_up_time(Duration::from_millis(100))
            .measurement_time(Duration::from_millis(300))
            .sample_size(10)
    } else {
        criterion
            .sample_size(20)
            .measurement_time(Duration::from_secs(3))
    };
    criterion.configure_from_args()
}

/// Mean time of `run` over `rounds` calls after one warm-up call.
fn time<T>(rounds: u32, mut run: impl FnMut() -> T) -> Duration {
    black_box(run());
    let started = Instant::now();
    for _ in 0..rounds {
        black_box(run());
    }
    started.elapsed() / rounds
}

fn ratio(name: &str, baseline: Duration, cartridge: Duration) {
    let speedup = baseline.as_secs_f64() / cartridge.as_secs_f64().max(1e-12);
    println!(
        "ratio {name}: baseline {baseline:.2?}, cartridge {cartridge:.2?}, speed-up {speedup:.1}x"
    );
}

fn open(dir: &Path) -> Db {
    Db::open(dir, Options::default().durability(Durability::Deferred)).expect("open")
}

/// A database of `txns` txns of `puts` puts each over distinct keys.
fn bulk_database(txns: u64, puts: u64) -> TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = open(dir.path());
    for txn in 0..txns {
        let mut write = db.begin_write().expect("begin");
        for put in 0..puts {
            let key = (txn * puts + put).to_be_bytes();
            write.put(key, [txn as u8; 16]).expect("put");
        }
        write.commit().expect("commit");
    }
    db.sync().expect("sync");
    dir
}

fn build(dir: &Path, path: &Path, recipe: &Recipe, up_to: Option<u64>) -> Cartridge {
    let options = BuildOptions {
        up_to,
        ..BuildOptions::default()
    };
    build_at(&LogSource::open(dir).expect("log"), path, recipe, &options).expect("build");
    Cartridge::open(path).expect("open")
}

fn build_and_catch_up(c: &mut Criterion) {
    let entries = size(1_000_000, 10_000);
    let dir = bulk_database(entries / 1000, 1000);
    let path = dir.path().join("bench.cart");
    let mut group = c.benchmark_group("build");
    group.throughput(Throughput::Elements(entries));
    group.sample_size(10);
    group.bench_function("key_history", |b| {
        b.iter(|| build(dir.path(), &path, &Recipe::KeyHistory, None))
    });
    group.finish();

    let old_to = entries / 1000;
    let db = open(dir.path());
    for txn in 0..size(10_000, 200) {
        let mut write = db.begin_write().expect("begin");
        write.put(b"counter", txn.to_be_bytes()).expect("put");
        write.commit().expect("commit");
    }
    db.sync().expect("sync");
    drop(db);
    let old_path = dir.path().join("old.cart");
    let old = build(dir.path(), &old_path, &Recipe::KeyHistory, Some(old_to));
    let log = LogSource::open(dir.path()).expect("log");
    let options = BuildOptions::default();
    let merge = || catch_up_at(&old, &log, &path, &Recipe::KeyHistory, &options).expect("merge");
    let full = || build_at(&log, &path, &Recipe::KeyHistory, &options).expect("full");
    let mut group = c.benchmark_group("catch_up");
    group.sample_size(10);
    group.bench_function("merge_10000_txns", |b| b.iter(merge));
    group.bench_function("full_rebuild", |b| b.iter(full));
    group.finish();
    ratio(
        "catch_up (merge vs full rebuild)",
        time(3, full),
        time(3, merge),
    );
}

const TASK_TYPES: u64 = 20;

fn task_type(index: u64) -> String {
    format!("type{:02}", index % TASK_TYPES)
}

/// Tasks in one keyspace, in txns of 10,000: a tenth of them claimed.
fn task_database(tasks: u64) -> TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = open(dir.path());
    let mut rng = northstar::io::sim::SimRng::new(7);
    for chunk in 0..tasks.div_ceil(10_000) {
        let mut write = db.begin_write().expect("begin");
        if chunk == 0 {
            write.create_keyspace(TASKS_KEYSPACE).expect("create");
        }
        for id in chunk * 10_000..((chunk + 1) * 10_000).min(tasks) {
            let state = if rng.below(10) == 0 {
                TaskState::Claimed
            } else {
                TaskState::Pending
            };
            let kind = task_type(rng.below(TASK_TYPES));
            let task = Task {
                state,
                priority: rng.below(100) as u32,
                task_type: kind.as_bytes(),
                payload: b"{\"n\":1}",
            };
            write
                .keyspace(TASKS_KEYSPACE)
                .expect("tasks")
                .put(task_key(id), task.encode())
                .expect("put");
        }
        write.commit().expect("commit");
    }
    db.sync().expect("sync");
    dir
}

/// The baseline: scan every task, keep the 10 lowest (priority, id) pending of `kind`.
fn scan_next10(db: &Db, kind: &[u8]) -> Vec<PendingTask> {
    let read = db.begin_read().expect("read");
    let tasks = read.keyspace(TASKS_KEYSPACE).expect("tasks");
    let mut best = BinaryHeap::new();
    for entry in tasks.iter().expect("iter") {
        let (key, value) = entry.expect("entry");
        let Some(task) = Task::decode(&value) else {
            continue;
        };
        if task.state == TaskState::Pending && task.task_type == kind {
            let id = u64::from_be_bytes(key[..].try_into().expect("8-byte key"));
            best.push(PendingTask {
                priority: task.priority,
                id,
            });
            if best.len() > 10 {
                best.pop();
            }
        }
    }
    best.into_sorted_vec()
}

fn task_lookup(c: &mut Criterion) {
    let dir = task_database(size(1_000_000, 10_000));
    let path = dir.path().join("tasks.cart");
    let cartridge = build(
        dir.path(),
        &path,
        &Recipe::PendingTasks(PendingTasks::default()),
        None,
    );
    let queue = TaskQueue::new(StateIndex::new(&cartridge).expect("index"));
    let db = open(dir.path());
    let kind = task_type(7);
    assert_eq!(
        queue.next_pending(kind.as_bytes(), 10),
        scan_next10(&db, kind.as_bytes())
    );
    let mut out = [PendingTask { priority: 0, id: 0 }; 10];
    let mut group = c.benchmark_group("tasks");
    group.bench_function("next10/cartridge", |b| {
        b.iter(|| queue.next_pending_into(black_box(kind.as_bytes()), &mut out))
    });
    group.sample_size(10);
    group.bench_function("next10/scan_keyspace", |b| {
        b.iter(|| scan_next10(&db, black_box(kind.as_bytes())))
    });
    group.finish();
    let cartridge_time = time(10_000, || {
        queue.next_pending_into(kind.as_bytes(), &mut out)
    });
    ratio(
        "tasks next10 (scan vs cartridge)",
        time(3, || scan_next10(&db, kind.as_bytes())),
        cartridge_time,
    );
}

fn as_of_reads(c: &mut Criterion) {
    let txns = size(101_000, 2_000);
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = open(dir.path());
    for txn in 0..txns {
        let mut write = db.begin_write().expect("begin");
        write
            .put((txn % 1000).to_be_bytes(), txn.to_be_bytes())
            .expect("put");
        write.commit().expect("commit");
    }
    db.sync().expect("sync");
    let path: PathBuf = dir.path().join("history.cart");
    let cartridge = build(dir.path(), &path, &Recipe::KeyHistory, None);
    let history = KeyHistory::new(&cartridge).expect("history");
    let mut group = c.benchmark_group("as_of");
    for back in [size(1_000, 100), size(100_000, 1_000)] {
        let txn = txns - back;
        let key = 417u64.to_be_bytes();
        let expected = db
            .begin_read_at(txn)
            .expect("as of")
            .get(key)
            .expect("get")
            .map(|v| v.to_vec());
        assert_eq!(
            history
                .get_at(b"", &key, txn)
                .expect("read")
                .map(<[u8]>::to_vec),
            expected
        );
        let cartridge_read = || {
            history
                .get_at(b"", black_box(&key), black_box(txn))
                .expect("read")
                .is_some()
        };
        let replay_read = || {
            db.begin_read_at(txn)
                .expect("as of")
                .get(key)
                .expect("get")
                .is_some()
        };
        group.bench_function(BenchmarkId::new("cartridge", back), |b| {
            b.iter(cartridge_read)
        });
        group.sample_size(10);
        group.bench_function(BenchmarkId::new("begin_read_at", back), |b| {
            b.iter(replay_read)
        });
        ratio(
            &format!("as_of {back} txns back (begin_read_at vs cartridge)"),
            time(3, replay_read),
            time(100_000, cartridge_read),
        );
    }
    group.finish();
}

/// Whether a benchmark group runs: no filter on the command line, or a filter naming it
/// (`cargo bench ... -- tasks` builds only the task database). The fixtures are big, so
/// they are built only for the groups that run.
fn selected(groups: &[&str]) -> bool {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    filters.is_empty()
        || filters.iter().any(|filter| {
            groups
                .iter()
                .any(|group| filter.contains(group) || group.contains(filter.as_str()))
        })
}

fn main() {
    let mut c = criterion();
    if selected(&["build", "catch_up"]) {
        build_and_catch_up(&mut c);
    }
    if selected(&["tasks"]) {
        task_lookup(&mut c);
    }
    if selected(&["as_of"]) {
        as_of_reads(&mut c);
    }
    c.final_summary();
}
