//! Commit log benchmarks: building and appending records, replay, durable commits with
//! group commit, the device's raw sync rate and AS OF view construction.
//!
//! - `log/append_commit_record/{1,100}`: `RecordBuilder` with 1 or 100 puts, sealed and
//!   appended with `write_all_at` at the end of a temporary log file, no sync (what a
//!   commit does to the log before it waits for durability).
//! - `log/commit_deferred_single_put`: the same through the store: one random-key put
//!   per txn, `Durability::Deferred` (tree pages written, record appended, no sync;
//!   the checkpoints that fall due are part of the cost).
//! - `log/begin_read_at_retained`: `Db::begin_read_at` of a txn whose snapshot is
//!   retained, and dropping the view.
//! - `log/begin_read_at_overlay_100`: the same for a txn 100 records past the nearest
//!   retained snapshot, so the view replays 100 records into memory.
//! - `log/replay_into_memtable`: `northstar::replay` of a whole log of
//!   [`REPLAY_COMMITS_FULL`] commits of [`PUTS_PER_COMMIT`] puts of distinct keys, not
//!   counting freeing the result; bytes/s of the log file (records/s are printed to
//!   stderr from a separate timed pass).
//! - `log/raw_fdatasync_16k`: 16 KiB appended to a file and `sync_data`, the device's
//!   plain sync rate in the same run, to compare durable commits with.
//! - `log/durable_commit_{1_thread,4_threads}`: one random-key put per txn,
//!   `Durability::Immediate`; with 4 threads each does a quarter of the commits and the
//!   time is wall time, so the throughput is combined commits/s. Log fsyncs per commit are
//!   counted over a separate fixed run and printed to stderr. With default options a
//!   checkpoint (page file sync) falls due every 10,000 commits or 30 s, inside a commit:
//!   part of the cost, and the main source of spread between samples.
//!
//! Invariants:
//! - Keys are 24 bytes and values 100 bytes; key `i` is distinct for every `i` and keys of
//!   consecutive `i` are scattered over the key space.
//! - Every fixture is built at most once, on first use, so a filtered run builds only what
//!   it measures; the files appended to without a database wrap at
//!   [`APPEND_FILE_SIZE_MAX`].
//! - Work outside the measured operation (wrapping a file, building fixtures, counting
//!   fsyncs) is never inside a timed span.

#[path = "support/mod.rs"]
mod support;

use std::cell::OnceCell;
use std::fs::File;
use std::hint::black_box;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput};
use northstar::format::frame::{record_length, LogHeader, Op, RecordBuilder, LOG_HEADER_SIZE};
use northstar::{Db, Durability, Options, TxnId};
use support::XorShift;
use tempfile::TempDir;

/// Bytes of every benchmark key.
const KEY_SIZE: usize = 24;
/// Bytes of every benchmark value.
const VALUE_SIZE: usize = 100;
/// Puts per commit in the replay and AS OF histories.
const PUTS_PER_COMMIT: u64 = 10;
/// Commits in the replayed log outside smoke mode.
const REPLAY_COMMITS_FULL: u64 = 10_000;
/// Commits in the replayed log in smoke mode.
const REPLAY_COMMITS_SMOKE: u64 = 1_000;
/// Keys present before the single-put commit benchmarks start.
const COMMIT_KEY_COUNT_FULL: u64 = 100_000;
/// The same in smoke mode.
const COMMIT_KEY_COUNT_SMOKE: u64 = 10_000;
/// Commits of the fixed run that counts fsyncs, per configuration.
const FSYNC_COUNT_COMMITS_FULL: u64 = 2_000;
/// The same in smoke mode.
const FSYNC_COUNT_COMMITS_SMOKE: u64 = 40;
/// Committer threads of the concurrent durable commit benchmark.
const COMMIT_THREADS: u64 = 4;
/// Snapshot spacing of the AS OF history (`Options::retain_every`).
const RETAIN_EVERY: u64 = 1_000;
/// Recent snapshots kept in the AS OF history (`Options::retain_recent`).
const RETAIN_RECENT: usize = 64;
/// Commits of the AS OF history after its first (prefill) txn.
const HISTORY_COMMITS: u64 = 2 * RETAIN_EVERY;
/// Records replayed by the overlay AS OF benchmark.
const OVERLAY_RECORDS: u64 = 100;
/// Bytes of one encoded put in a record payload: code, keyspace, key and value lengths,
/// key, value (see `spec/commit_record_v1.md`).
const PUT_SIZE: usize = 1 + 4 + 2 + 4 + KEY_SIZE + VALUE_SIZE;
/// Size at which an append benchmark cuts its file back to the header, outside the timing.
const APPEND_FILE_SIZE_MAX: u64 = 64 << 20;
/// Bytes written before each raw sync.
const RAW_SYNC_SIZE: usize = 16 << 10;

// The overlay txn lies past a periodic snapshot and before the recent ones.
const _: () = assert!(RETAIN_EVERY + OVERLAY_RECORDS < HISTORY_COMMITS - RETAIN_RECENT as u64);

fn main() {
    let mut criterion = support::criterion();
    // The sync-bound benchmarks run first: the other fixtures leave hundreds of megabytes
    // of page file that the kernel writes back (and discards when deleted) for a while.
    sync_benchmarks(&mut criterion);
    memory_benchmarks(&mut criterion);
    replay_benchmark(&mut criterion);
    criterion.final_summary();
}

/// `raw_fdatasync_16k` and `durable_commit_*`.
fn sync_benchmarks(criterion: &mut Criterion) {
    let mut group = criterion.benchmark_group("log");
    long_running(&mut group);

    let mut raw = None;
    group.throughput(Throughput::Bytes(RAW_SYNC_SIZE as u64));
    group.bench_function("raw_fdatasync_16k", |b| {
        let raw = raw.get_or_insert_with(RawSyncFile::new);
        b.iter_custom(|iters| raw.write_and_sync(iters));
    });

    let durable = OnceCell::new();
    group.throughput(Throughput::Elements(1));
    for threads in [1, COMMIT_THREADS] {
        let id = match threads {
            1 => "durable_commit_1_thread".to_string(),
            _ => format!("durable_commit_{threads}_threads"),
        };
        let mut counted = false;
        group.bench_function(&id, |b| {
            let (_dir, db) = durable.get_or_init(|| commit_fixture(Durability::Immediate));
            if !std::mem::replace(&mut counted, true) {
                report_fsyncs_per_commit(&id, db, threads);
            }
            b.iter_custom(|commits| commit_on_threads(db, threads, commits));
        });
    }
    group.finish();
}

/// `append_commit_record/*`, `commit_deferred_single_put` and `begin_read_at_*`: no
/// syncs, microseconds per iteration.
fn memory_benchmarks(criterion: &mut Criterion) {
    let mut group = criterion.benchmark_group("log");

    let mut target = None;
    for op_count in [1, 100] {
        group.throughput(Throughput::Bytes(AppendTarget::record_size(op_count)));
        group.bench_function(BenchmarkId::new("append_commit_record", op_count), |b| {
            let target = target.get_or_insert_with(AppendTarget::new);
            b.iter_custom(|iters| target.append(op_count, iters));
        });
    }

    group.throughput(Throughput::Elements(1));
    let mut deferred = None;
    group.bench_function("commit_deferred_single_put", |b| {
        let (_dir, db) = deferred.get_or_insert_with(|| commit_fixture(Durability::Deferred));
        let mut rng = XorShift::new(support::SEED);
        b.iter(|| commit_single_put(db, &mut rng));
    });

    let history = OnceCell::new();
    group.bench_function("begin_read_at_retained", |b| {
        let history = history.get_or_init(History::build);
        let txn_id = history.last_txn_id - RETAIN_RECENT as u64 / 2;
        history.expect_view(txn_id, 0);
        b.iter(|| drop(black_box(history.db.begin_read_at(txn_id).expect("AS OF"))));
    });
    group.bench_function("begin_read_at_overlay_100", |b| {
        let history = history.get_or_init(History::build);
        let txn_id = RETAIN_EVERY + OVERLAY_RECORDS;
        history.expect_view(txn_id, OVERLAY_RECORDS);
        b.iter(|| drop(black_box(history.db.begin_read_at(txn_id).expect("AS OF"))));
    });
    group.finish();
}

/// `replay_into_memtable`.
fn replay_benchmark(criterion: &mut Criterion) {
    let mut group = criterion.benchmark_group("log");
    long_running(&mut group);
    let mut replay_log = None;
    group.throughput(Throughput::Bytes(ReplayLog::expected_size()));
    group.bench_function("replay_into_memtable", |b| {
        let replay_log = replay_log.get_or_insert_with(ReplayLog::build);
        replay_log.report_once();
        // Freeing the replayed maps is not part of the replay.
        b.iter_with_large_drop(|| replay_log.replay());
    });
    group.finish();
}

/// Fewer, equal samples over a longer time, for benchmarks whose iterations take
/// milliseconds. Smoke mode keeps its short settings.
fn long_running(group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    if !support::is_smoke() {
        group
            .sample_size(20)
            .measurement_time(Duration::from_secs(10))
            .sampling_mode(SamplingMode::Flat);
    }
}

/// Benchmark key `index`: `"log-key-"` and 16 hex digits of `index` scrambled by an odd
/// multiplier (a bijection, so keys stay distinct).
fn log_key(index: u64) -> [u8; KEY_SIZE] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut key = [0u8; KEY_SIZE];
    key[..8].copy_from_slice(b"log-key-");
    let scrambled = index.wrapping_mul(support::SEED | 1);
    for (position, byte) in key[8..].iter_mut().enumerate() {
        *byte = HEX[(scrambled >> (60 - 4 * position) & 0xf) as usize];
    }
    key
}

/// Benchmark value for key `index`: the key repeated.
fn log_value(index: u64) -> [u8; VALUE_SIZE] {
    let key = log_key(index);
    let mut value = [0u8; VALUE_SIZE];
    for (position, byte) in value.iter_mut().enumerate() {
        *byte = key[position % KEY_SIZE];
    }
    value
}

fn smoke_or_full(smoke: u64, full: u64) -> u64 {
    if support::is_smoke() {
        smoke
    } else {
        full
    }
}

/// A temporary log file that records are appended to, cut back to its header (outside the
/// timing) whenever it reaches [`APPEND_FILE_SIZE_MAX`].
struct AppendTarget {
    _dir: TempDir,
    file: File,
    end: u64,
    txn_id: TxnId,
    keys: Vec<[u8; KEY_SIZE]>,
    value: [u8; VALUE_SIZE],
}

const DATABASE_ID: [u8; 16] = *b"northstar-bench!";

impl AppendTarget {
    fn new() -> AppendTarget {
        let dir = tempfile::tempdir().expect("temporary directory");
        let file = File::create(dir.path().join("append.log")).expect("create log");
        let header = LogHeader {
            database_id: DATABASE_ID,
            first_txn_id: 1,
        };
        file.write_all_at(&header.encode(), 0).expect("header");
        AppendTarget {
            _dir: dir,
            file,
            end: LOG_HEADER_SIZE as u64,
            txn_id: 1,
            keys: (0..100).map(log_key).collect(),
            value: log_value(0),
        }
    }

    fn build(&self, op_count: u64) -> RecordBuilder {
        let mut builder = RecordBuilder::default();
        for key in &self.keys[..op_count as usize] {
            builder.push(&Op::Put {
                keyspace: 0,
                key,
                value: &self.value,
            });
        }
        builder
    }

    /// Bytes of a sealed record of `op_count` puts.
    fn record_size(op_count: u64) -> u64 {
        record_length(op_count as usize * PUT_SIZE) as u64
    }

    /// Time to build, seal and append `iters` records of `op_count` puts.
    fn append(&mut self, op_count: u64, iters: u64) -> Duration {
        let mut measured = Duration::ZERO;
        let mut started = Instant::now();
        for _ in 0..iters {
            if self.end > APPEND_FILE_SIZE_MAX {
                measured += started.elapsed();
                self.file
                    .set_len(LOG_HEADER_SIZE as u64)
                    .expect("cut log back");
                self.end = LOG_HEADER_SIZE as u64;
                started = Instant::now();
            }
            let mut builder = self.build(op_count);
            let record = builder.finish(self.txn_id, &DATABASE_ID, 0);
            self.file.write_all_at(record, self.end).expect("append");
            self.end += record.len() as u64;
            self.txn_id += 1;
        }
        measured + started.elapsed()
    }
}

/// A database in a temporary directory holding the keys of the single-put commit
/// benchmarks, opened with `durability`.
fn commit_fixture(durability: Durability) -> (TempDir, Db) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let key_count = smoke_or_full(COMMIT_KEY_COUNT_SMOKE, COMMIT_KEY_COUNT_FULL);
    let db = Db::open(dir.path(), Options::default().durability(durability)).expect("open");
    let mut txn = db.begin_write().expect("begin write");
    for index in 0..key_count {
        txn.put(log_key(index), log_value(index)).expect("put");
    }
    txn.commit().expect("commit");
    (dir, db)
}

/// One txn putting a new value under a random existing key.
fn commit_single_put(db: &Db, rng: &mut XorShift) -> TxnId {
    let key_count = smoke_or_full(COMMIT_KEY_COUNT_SMOKE, COMMIT_KEY_COUNT_FULL);
    let index = rng.below(key_count);
    let mut txn = db.begin_write().expect("begin write");
    txn.put(log_key(index), log_value(index ^ 1)).expect("put");
    txn.commit().expect("commit")
}

/// Wall time for `threads` threads to make `commits` single-put commits between them.
fn commit_on_threads(db: &Db, threads: u64, commits: u64) -> Duration {
    let ready = Barrier::new(threads as usize + 1);
    let started = thread::scope(|scope| {
        for thread in 0..threads {
            let share = commits / threads + u64::from(thread < commits % threads);
            let ready = &ready;
            scope.spawn(move || {
                let mut rng = XorShift::new(support::SEED.wrapping_mul(thread + 7));
                ready.wait();
                for _ in 0..share {
                    commit_single_put(db, &mut rng);
                }
            });
        }
        ready.wait();
        Instant::now()
    });
    // The scope joined every committer before returning.
    started.elapsed()
}

/// Prints the log fsyncs per commit of a fixed run of commits on `threads` threads
/// (criterion has no place for a second figure).
fn report_fsyncs_per_commit(id: &str, db: &Db, threads: u64) {
    let commits = smoke_or_full(FSYNC_COUNT_COMMITS_SMOKE, FSYNC_COUNT_COMMITS_FULL);
    let syncs_before = db.log_sync_count();
    let elapsed = commit_on_threads(db, threads, commits);
    let syncs = db.log_sync_count() - syncs_before;
    eprintln!(
        "log/{id}: {commits} commits, {syncs} log fsyncs: {:.3} fsyncs per commit \
         ({:.0} commits/s in this run)",
        syncs as f64 / commits as f64,
        commits as f64 / elapsed.as_secs_f64()
    );
}

/// A history of commits for AS OF reads, in one handle (retention lives with the handle).
struct History {
    _dir: TempDir,
    db: Db,
    last_txn_id: TxnId,
}

impl History {
    /// Txn 1 puts the keys, then [`HISTORY_COMMITS`] txns of [`PUTS_PER_COMMIT`] random
    /// overwrites follow; every [`RETAIN_EVERY`]-th and the newest [`RETAIN_RECENT`]
    /// snapshots are retained.
    fn build() -> History {
        let started = Instant::now();
        let dir = tempfile::tempdir().expect("temporary directory");
        let options = Options::default()
            .durability(Durability::Deferred)
            .retain_recent(RETAIN_RECENT)
            .retain_every(RETAIN_EVERY, 4);
        let db = Db::open(dir.path(), options).expect("open");
        let key_count = COMMIT_KEY_COUNT_SMOKE;
        let mut txn = db.begin_write().expect("begin write");
        for index in 0..key_count {
            txn.put(log_key(index), log_value(index)).expect("put");
        }
        txn.commit().expect("commit");
        let mut rng = XorShift::new(support::SEED);
        for _ in 0..HISTORY_COMMITS {
            let mut txn = db.begin_write().expect("begin write");
            for _ in 0..PUTS_PER_COMMIT {
                let index = rng.below(key_count);
                txn.put(log_key(index), log_value(index ^ 1)).expect("put");
            }
            txn.commit().expect("commit");
        }
        let last_txn_id = db.last_txn_id();
        eprintln!(
            "built an AS OF history of {last_txn_id} txns in {:.2?}",
            started.elapsed()
        );
        History {
            _dir: dir,
            db,
            last_txn_id,
        }
    }

    /// Panics unless the view of `txn_id` replays exactly `records` log records.
    fn expect_view(&self, txn_id: TxnId, records: u64) {
        let view = self.db.begin_read_at(txn_id).expect("AS OF");
        assert_eq!(view.txn_id(), txn_id);
        assert_eq!(
            view.replayed_records(),
            records,
            "view of txn {txn_id} built on txn {}",
            view.base_txn_id()
        );
    }
}

/// A closed database whose log holds the replay benchmark's commits.
struct ReplayLog {
    dir: TempDir,
    last_txn_id: TxnId,
    log_size: u64,
    reported: bool,
}

impl ReplayLog {
    fn build() -> ReplayLog {
        let started = Instant::now();
        let dir = tempfile::tempdir().expect("temporary directory");
        let db = Db::open(
            dir.path(),
            Options::default().durability(Durability::Deferred),
        )
        .expect("open");
        let commits = smoke_or_full(REPLAY_COMMITS_SMOKE, REPLAY_COMMITS_FULL);
        for commit in 0..commits {
            let mut txn = db.begin_write().expect("begin write");
            for put in 0..PUTS_PER_COMMIT {
                let index = commit * PUTS_PER_COMMIT + put;
                txn.put(log_key(index), log_value(index)).expect("put");
            }
            txn.commit().expect("commit");
        }
        let last_txn_id = db.last_txn_id();
        let log_path = db.log_path().to_path_buf();
        db.close().expect("close");
        let log_size = file_size(&log_path);
        // Every record after a sync starts on a fresh 512-byte sector, so the log holds
        // the records plus up to a sector of padding each.
        let records = ReplayLog::expected_size();
        assert!(
            (records..=records + last_txn_id * 512 + 512).contains(&log_size),
            "log size {log_size}, records {records}"
        );
        eprintln!(
            "built a log of {last_txn_id} commits ({:.1} MB) in {:.2?}",
            log_size as f64 / 1e6,
            started.elapsed()
        );
        ReplayLog {
            dir,
            last_txn_id,
            log_size,
            reported: false,
        }
    }

    /// Bytes of the log [`ReplayLog::build`] writes: the header and one record per commit.
    /// Bytes of the header and the records, without sector padding.
    fn expected_size() -> u64 {
        let commits = smoke_or_full(REPLAY_COMMITS_SMOKE, REPLAY_COMMITS_FULL);
        let record_size = record_length(PUTS_PER_COMMIT as usize * PUT_SIZE);
        LOG_HEADER_SIZE as u64 + commits * record_size as u64
    }

    fn replay(&self) -> northstar::Replayed {
        northstar::replay(self.dir.path(), self.last_txn_id).expect("replay")
    }

    /// Checks one replay and prints records/s and MB/s of a few timed ones, once.
    fn report_once(&mut self) {
        if std::mem::replace(&mut self.reported, true) {
            return;
        }
        let replayed = self.replay();
        assert_eq!(replayed.txn_id(), self.last_txn_id);
        assert_eq!(
            replayed.default_entries().count() as u64,
            self.last_txn_id * PUTS_PER_COMMIT
        );
        let rounds = smoke_or_full(2, 5);
        let mut fastest = Duration::MAX;
        for _ in 0..rounds {
            let started = Instant::now();
            let replayed = black_box(self.replay());
            fastest = fastest.min(started.elapsed());
            drop(replayed);
        }
        eprintln!(
            "log/replay_into_memtable: {} records, {:.1} MB in {fastest:.2?} (best of {rounds}): \
             {:.0} records/s, {:.0} MB/s",
            self.last_txn_id,
            self.log_size as f64 / 1e6,
            self.last_txn_id as f64 / fastest.as_secs_f64(),
            self.log_size as f64 / 1e6 / fastest.as_secs_f64()
        );
    }
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).expect("stat").len()
}

/// A file that 16 KiB blocks are appended to and synced, cut back (outside the timing)
/// whenever it reaches [`APPEND_FILE_SIZE_MAX`].
struct RawSyncFile {
    _dir: TempDir,
    file: File,
    end: u64,
    block: Vec<u8>,
}

impl RawSyncFile {
    fn new() -> RawSyncFile {
        let dir = tempfile::tempdir().expect("temporary directory");
        let file = File::create(dir.path().join("raw.bin")).expect("create");
        RawSyncFile {
            _dir: dir,
            file,
            end: 0,
            block: vec![0x5a; RAW_SYNC_SIZE],
        }
    }

    fn write_and_sync(&mut self, iters: u64) -> Duration {
        let mut measured = Duration::ZERO;
        let mut started = Instant::now();
        for _ in 0..iters {
            if self.end >= APPEND_FILE_SIZE_MAX {
                measured += started.elapsed();
                self.file.set_len(0).expect("cut file back");
                self.file.sync_all().expect("sync cut");
                self.end = 0;
                started = Instant::now();
            }
            self.file
                .write_all_at(&self.block, self.end)
                .expect("write");
            self.file.sync_data().expect("fdatasync");
            self.end += RAW_SYNC_SIZE as u64;
        }
        measured + started.elapsed()
    }
}
