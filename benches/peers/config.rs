//! The command line and the counts it implies.
//!
//! `cargo bench --bench peers -- [--scale X] [--out PATH] [--engines a,b,...]`. Cargo adds
//! `--bench` to a `harness = false` target's arguments, so unknown arguments are ignored.
//! With `NORTHSTAR_BENCH_SMOKE=1` and no `--scale` the scale is [`SMOKE_SCALE`].
//!
//! Invariants: every count is the full-scale count times the scale, at least 1 (and at
//! least one per thread where threads share it); the shapes of the work (key and value
//! sizes, entries per scan, keys per batch) do not scale.

use std::path::PathBuf;

use crate::engine::EngineKind;

/// Scale of the CI smoke run.
pub const SMOKE_SCALE: f64 = 0.002;
/// Threads of the multi-threaded write row and the largest read row.
pub const THREADS_MAX: u64 = 4;
/// Reader thread counts measured.
pub const READER_THREADS: [u64; 3] = [1, 2, THREADS_MAX];
/// Entries of a short range scan.
pub const SHORT_SCAN_ENTRIES: usize = 10;
/// Entries of a long range scan.
pub const LONG_SCAN_ENTRIES: usize = 1_000;
/// Keys per commit of the batch-write row.
pub const BATCH_KEYS: u64 = 1_000;
/// Keys per commit of the sequential-insert row.
pub const SEQUENTIAL_BATCH_KEYS: u64 = 10_000;

/// What the command line asked for.
#[derive(Debug, Clone)]
pub struct Config {
    /// Multiplier of every count (1.0 is the full table).
    pub scale: f64,
    /// Where to write the markdown table besides stdout.
    pub out: Option<PathBuf>,
    /// Engines to run, in table order.
    pub engines: Vec<EngineKind>,
}

impl Config {
    /// Parses `args` (without the program name); `smoke` is whether NORTHSTAR_BENCH_SMOKE=1.
    pub fn parse(args: impl IntoIterator<Item = String>, smoke: bool) -> Config {
        let mut scale = None;
        let mut out = None;
        let mut engines = EngineKind::ALL.to_vec();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) => (flag.to_string(), Some(value.to_string())),
                None => (arg, None),
            };
            let mut value = |flag: &str| {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .unwrap_or_else(|| panic!("{flag} needs a value"))
            };
            match flag.as_str() {
                "--scale" => {
                    let text = value("--scale");
                    let parsed: f64 = text
                        .parse()
                        .unwrap_or_else(|_| panic!("--scale {text}: not a number"));
                    assert!(parsed > 0.0, "--scale must be above zero, got {parsed}");
                    scale = Some(parsed);
                }
                "--out" => out = Some(PathBuf::from(value("--out"))),
                "--engines" => engines = parse_engines(&value("--engines")),
                _ => {}
            }
        }
        let scale = scale.unwrap_or(if smoke { SMOKE_SCALE } else { 1.0 });
        Config {
            scale,
            out,
            engines,
        }
    }

    /// The counts at this scale.
    pub fn plan(&self) -> Plan {
        let count = |full: u64| ((full as f64 * self.scale).round() as u64).max(1);
        Plan {
            scale: self.scale,
            load_keys: count(1_000_000).max(2),
            individual_commits: count(1_000).max(THREADS_MAX),
            batch_commits: count(100),
            point_gets: count(1_000_000).max(THREADS_MAX),
            short_scans: count(500_000),
            long_scans: count(1_000),
            sequential_keys: count(1_000_000),
            snapshots: count(100_000),
        }
    }
}

fn parse_engines(list: &str) -> Vec<EngineKind> {
    let chosen: Vec<EngineKind> = list
        .split(',')
        .filter(|name| !name.trim().is_empty())
        .map(|name| {
            EngineKind::from_flag_name(name).unwrap_or_else(|| {
                panic!("--engines: unknown engine {name:?} (known: northstar, northstar-direct, redb, lmdb, sqlite)")
            })
        })
        .collect();
    assert!(!chosen.is_empty(), "--engines names no engine");
    // Table order, whatever the order on the command line.
    EngineKind::ALL
        .into_iter()
        .filter(|kind| chosen.contains(kind))
        .collect()
}

/// How many of each thing one run does.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// The scale these counts came from.
    pub scale: f64,
    /// Random keys loaded in one txn (and read, scanned and half removed later).
    pub load_keys: u64,
    /// One-key durable commits, both for 1 thread and shared by [`THREADS_MAX`] threads.
    pub individual_commits: u64,
    /// Commits of [`BATCH_KEYS`] random keys.
    pub batch_commits: u64,
    /// Point gets, shared by the reader threads.
    pub point_gets: u64,
    /// Scans of [`SHORT_SCAN_ENTRIES`] entries.
    pub short_scans: u64,
    /// Scans of [`LONG_SCAN_ENTRIES`] entries.
    pub long_scans: u64,
    /// Ascending keys inserted in commits of [`SEQUENTIAL_BATCH_KEYS`].
    pub sequential_keys: u64,
    /// Read snapshots begun and ended.
    pub snapshots: u64,
}
