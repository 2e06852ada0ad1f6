//! The time-travel scenario: a long history of small txns, then random AS OF reads checked
//! against a reference model of every version.
//!
//! History (built once per run, per retention setting): 1,000,000 txns at full scale,
//! each putting one random key of a working set of 10,000 keys (16-byte keys, 16-byte
//! values naming the txn's sequence number). The load uses `Durability::Deferred` with a
//! `Db::sync` every 10,000 txns (a load of a million fsyncs would measure the disk, not
//! the history), checkpoints as `bench_options` says. The model keeps, per key, every
//! (txn id, sequence number) written.
//!
//! - `as_of_100k_back/retain_every_1000`: the database kept the snapshot of every
//!   1,000th txn (`Options::retain_every`, enough of them to reach 100,000 txns back).
//!   One op: `Db::begin_read_at(T)` with `T` a random txn in the 1,000 txns starting
//!   100,000 before the newest, then one `get` of a random key; 2,000 ops.
//! - `as_of_100k_back/no_retention`: the same reads on a history without retained
//!   snapshots: every read replays the log from its start; 20 ops.
//! - `as_of_100k_back/key_history`: the same question answered by a `key_history`
//!   cartridge built from the log of the history without retention (build not timed,
//!   reported): one `KeyHistory::get_at`; 200,000 ops.
//!
//! Figures: `open_ns_p50`/`open_ns_p99` (the `begin_read_at` alone),
//! `replayed_records_per_query` and `replayed_records_max`, `replay_ns_per_record`,
//! `load_txns_per_sec`, and for the cartridge `build_ns` and `cartridge_bytes`.
//!
//! Correctness, checked on every op (a failure fails the run): the value read equals the
//! model's version of the key at `T` (or both are absent); with retention no read
//! replays more than `every - 1` records; before measuring, one whole AS OF view is
//! compared with the model key by key.
//!
//! Invariants: each history database stays open from its load to the end of the run
//! (retention lives with the handle) and is only read after its load.

use std::hint::black_box;
use std::time::Instant;

use northstar::{Db, Durability, Options, TxnId};
use northstar_cartridges::{build_at, BuildOptions, Cartridge, KeyHistory, LogSource, Recipe};
use tempfile::TempDir;

use super::context::Context;
use super::error::{BenchError, Fallible};
use super::fixtures::{self, bench_options, key, XorShift, SEED};
use super::measure::{latency_histogram, run_ops, Probe, Sample};

/// Txns of the history at full scale.
const TXNS_FULL: u64 = 1_000_000;
/// Keys the txns edit, at full scale.
const WORKING_SET_FULL: u64 = 10_000;
/// How far back the reads go, in txns, at full scale.
const DEPTH_FULL: u64 = 100_000;
/// Every how many txns a snapshot is retained, at full scale.
const RETAIN_EVERY_FULL: u64 = 1_000;
/// Txns between two syncs of the deferred load.
const SYNC_EVERY: u64 = 10_000;

/// Sizes of the scenario at a run's scale.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    txns: u64,
    keys: u64,
    depth: u64,
    every: u64,
}

impl Sizes {
    fn of(ctx: &Context) -> Sizes {
        let txns = ctx.scaled(TXNS_FULL, 1_000);
        Sizes {
            txns,
            keys: ctx.scaled(WORKING_SET_FULL, 100),
            depth: ctx.scaled(DEPTH_FULL, 100).min(txns / 2),
            every: ctx.scaled(RETAIN_EVERY_FULL, 10),
        }
    }

    /// Open options of the history: retaining every `every`-th snapshot, enough of them
    /// to reach `depth + every` back, or none.
    fn options(&self, retained: bool) -> Options {
        let options = bench_options();
        if retained {
            let count = (self.depth / self.every + 2) as usize;
            options.retain_every(self.every, count)
        } else {
            options
        }
    }
}

/// A loaded history, still open, and its model.
pub struct History {
    /// Open for the whole run: retained snapshots live as long as the handle (after a
    /// reopen, AS OF reads replay from the log's start until new ones are retained).
    db: Db,
    /// Dropped after `db`.
    dir: TempDir,
    /// Per key, every (txn id, sequence number) written, oldest first.
    versions: Vec<Vec<(TxnId, u64)>>,
    newest: TxnId,
    load_ns: u64,
}

impl History {
    /// The sequence number the model says key `index` held after txn `txn`.
    fn expected(&self, index: u64, txn: TxnId) -> Option<u64> {
        let versions = &self.versions[index as usize];
        let after = versions.partition_point(|&(written, _)| written <= txn);
        after.checked_sub(1).map(|at| versions[at].1)
    }
}

/// The value of the txn with sequence number `seq` for key `index`.
fn history_value(seq: u64, index: u64) -> [u8; 16] {
    let mut value = [0u8; 16];
    value[..8].copy_from_slice(&seq.to_le_bytes());
    value[8..].copy_from_slice(&index.to_le_bytes());
    value
}

fn decode_seq(index: u64, value: &[u8]) -> Fallible<u64> {
    match value.try_into() {
        Ok::<[u8; 16], _>(bytes) if bytes[8..] == index.to_le_bytes() => {
            Ok(u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")))
        }
        _ => Err(BenchError::new(format!(
            "key {index} holds {value:?}, not a value of the history"
        ))),
    }
}

/// Checks that `value`, read for key `index` AS OF `txn`, is the model's version;
/// returns whether the key was present.
fn check_read(history: &History, index: u64, txn: TxnId, value: Option<&[u8]>) -> Fallible<bool> {
    let got = value.map(|value| decode_seq(index, value)).transpose()?;
    let expected = history.expected(index, txn);
    if got != expected {
        return Err(BenchError::new(format!(
            "AS OF txn {txn}: key {index} reads {got:?}, the model says {expected:?}"
        )));
    }
    Ok(got.is_some())
}

fn build_history(ctx: &Context, sizes: Sizes, retained: bool) -> Fallible<History> {
    let dir = fixtures::temp_dir(&ctx.data_dir)?;
    let db = Db::open(
        dir.path(),
        sizes.options(retained).durability(Durability::Deferred),
    )?;
    let mut rng = XorShift::new(SEED);
    let mut versions = vec![Vec::new(); sizes.keys as usize];
    let started = Instant::now();
    for seq in 0..sizes.txns {
        let index = rng.below(sizes.keys);
        let mut txn = db.begin_write()?;
        txn.put(key(index), history_value(seq, index))?;
        versions[index as usize].push((txn.commit()?, seq));
        if (seq + 1) % SYNC_EVERY == 0 {
            db.sync()?;
        }
    }
    db.sync()?;
    let load_ns = started.elapsed().as_nanos() as u64;
    let newest = db.last_txn_id();
    Ok(History {
        db,
        dir,
        versions,
        newest,
        load_ns,
    })
}

fn history(ctx: &Context, retained: bool) -> Fallible<std::rc::Rc<History>> {
    let sizes = Sizes::of(ctx);
    let name = if retained {
        "time-travel history with retention"
    } else {
        "time-travel history without retention"
    };
    ctx.fixtures
        .scenario(name, || build_history(ctx, sizes, retained))
}

/// Compares the whole AS OF view at `txn` with the model.
fn check_view(db: &Db, history: &History, txn: TxnId) -> Fallible<()> {
    let view = db.begin_read_at(txn)?;
    let mut present = 0u64;
    for index in 0..history.versions.len() as u64 {
        let present_here = check_read(history, index, txn, view.get(key(index))?.as_deref())?;
        present += u64::from(present_here);
    }
    if view.len() != present {
        return Err(BenchError::new(format!(
            "AS OF txn {txn}: the view holds {} keys, the model {present}",
            view.len()
        )));
    }
    Ok(())
}

/// A random target txn `depth` back (plus up to `every - 1` newer) and a random key.
fn target(rng: &mut XorShift, history: &History, sizes: Sizes) -> (TxnId, u64) {
    let txn = history.newest - sizes.depth + rng.below(sizes.every);
    (txn, rng.below(sizes.keys))
}

fn as_of(ctx: &Context, retained: bool, full_ops: u64, min_ops: u64) -> Fallible<Sample> {
    let sizes = Sizes::of(ctx);
    let history = history(ctx, retained)?;
    let db = &history.db;
    check_view(db, &history, history.newest - sizes.depth)?;
    let mut rng = XorShift::new(SEED);
    let mut open_ns = latency_histogram();
    let (mut replayed_total, mut replayed_max, mut queries) = (0u64, 0u64, 0u64);
    let mut sample = run_ops(&ctx.plan(full_ops, min_ops), &Probe::reads(db), || {
        let (txn, index) = target(&mut rng, &history, sizes);
        let started = Instant::now();
        let view = db.begin_read_at(txn)?;
        open_ns.saturating_record(started.elapsed().as_nanos() as u64);
        check_read(&history, index, txn, view.get(key(index))?.as_deref())?;
        let replayed = view.replayed_records();
        if retained && replayed >= sizes.every {
            return Err(BenchError::new(format!(
                "AS OF txn {txn} replayed {replayed} records with a snapshot retained every {} txns",
                sizes.every
            )));
        }
        replayed_total += replayed;
        replayed_max = replayed_max.max(replayed);
        queries += 1;
        Ok(view)
    })?;
    let per_query = replayed_total as f64 / queries.max(1) as f64;
    let open_mean_ns = open_ns.mean();
    sample.figure("open_ns_p50", open_ns.value_at_quantile(0.5) as f64);
    sample.figure("open_ns_p99", open_ns.value_at_quantile(0.99) as f64);
    sample.figure("replayed_records_per_query", per_query);
    sample.figure("replayed_records_max", replayed_max as f64);
    if per_query > 0.0 {
        sample.figure("replay_ns_per_record", open_mean_ns / per_query);
    }
    record_history_figures(&mut sample, &history, sizes);
    Ok(sample)
}

fn record_history_figures(sample: &mut Sample, history: &History, sizes: Sizes) {
    sample.figure("history_txns", sizes.txns as f64);
    sample.figure("txns_back", sizes.depth as f64);
    sample.figure(
        "load_txns_per_sec",
        sizes.txns as f64 * 1e9 / history.load_ns.max(1) as f64,
    );
}

/// `macro/time_travel/as_of_100k_back/retain_every_1000`.
pub fn as_of_retained(ctx: &Context) -> Fallible<Sample> {
    as_of(ctx, true, 2_000, 10)
}

/// `macro/time_travel/as_of_100k_back/no_retention`.
pub fn as_of_without_retention(ctx: &Context) -> Fallible<Sample> {
    as_of(ctx, false, 20, 3)
}

/// `macro/time_travel/as_of_100k_back/key_history`.
pub fn as_of_key_history(ctx: &Context) -> Fallible<Sample> {
    let sizes = Sizes::of(ctx);
    let history = history(ctx, false)?;
    let cartridge_dir = fixtures::temp_dir(&ctx.data_dir)?;
    let path = cartridge_dir.path().join("key_history.cart");
    let started = Instant::now();
    let log = LogSource::open(history.dir.path())?;
    let report = build_at(&log, &path, &Recipe::KeyHistory, &BuildOptions::default())?;
    let build_ns = started.elapsed().as_nanos() as u64;
    let cartridge = Cartridge::open(&path)?;
    let index = KeyHistory::new(&cartridge)?;
    let mut rng = XorShift::new(SEED);
    let mut sample = run_ops(&ctx.plan(200_000, 100), &Probe::none(), || {
        let (txn, key_index) = target(&mut rng, &history, sizes);
        let value = index.get_at(b"", &key(key_index), txn)?;
        let got = check_read(&history, key_index, txn, value)?;
        Ok(black_box(got))
    })?;
    sample.figure("build_ns", build_ns as f64);
    sample.figure("cartridge_bytes", report.file_size as f64);
    record_history_figures(&mut sample, &history, sizes);
    Ok(sample)
}
