//! What a run measures: one figure per workload per engine.
//!
//! Invariant: a workload's label depends only on the plan, so every engine's figure for it
//! lands in the same row, and rows appear in `Workload`'s declaration order.

use std::time::Duration;

use crate::config::{
    Plan, BATCH_KEYS, LONG_SCAN_ENTRIES, SEQUENTIAL_BATCH_KEYS, SHORT_SCAN_ENTRIES, THREADS_MAX,
};
use crate::engine::FilePart;

/// A row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Workload {
    /// Random keys loaded in one txn.
    BulkLoad,
    /// One-key durable commits from `threads` threads.
    IndividualWrites { threads: u64 },
    /// Commits of [`BATCH_KEYS`] random keys.
    BatchWrites,
    /// Hot point gets from `threads` threads.
    RandomReads { threads: u64 },
    /// Scans of [`SHORT_SCAN_ENTRIES`] entries from random keys.
    ShortScans,
    /// Scans of [`LONG_SCAN_ENTRIES`] entries from random keys.
    LongScans,
    /// Ascending keys in commits of [`SEQUENTIAL_BATCH_KEYS`].
    SequentialInsert,
    /// Half the loaded keys removed in one txn.
    Removals,
    /// A read snapshot begun and ended.
    SnapshotOpenClose,
    /// Reopening the loaded database and one get.
    Open,
    /// Files after the bulk load.
    SizeAfterLoad,
    /// Files after the removals.
    SizeAfterRemovals,
}

impl Workload {
    /// The row's label at `plan`'s counts, with the unit its figures are in.
    pub fn label(self, plan: &Plan) -> String {
        let n = |count: u64| thousands(count);
        match self {
            Workload::BulkLoad => format!(
                "bulk load: {} random keys, 1 txn (total)",
                n(plan.load_keys)
            ),
            Workload::IndividualWrites { threads: 1 } => format!(
                "individual writes: {} one-key commits, 1 thread (commits/s)",
                n(plan.individual_commits)
            ),
            Workload::IndividualWrites { threads } => format!(
                "individual writes: {} one-key commits, {threads} threads (commits/s)",
                n(plan.individual_commits)
            ),
            Workload::BatchWrites => format!(
                "batch writes: {} commit{} of {} random keys (commits/s)",
                n(plan.batch_commits),
                if plan.batch_commits == 1 { "" } else { "s" },
                n(BATCH_KEYS)
            ),
            Workload::RandomReads { threads } => format!(
                "random reads: {} point gets, {threads} thread{} (gets/s)",
                n(plan.point_gets),
                if threads == 1 { "" } else { "s" }
            ),
            Workload::ShortScans => format!(
                "random range reads: {} scans of {SHORT_SCAN_ENTRIES} entries (scans/s)",
                n(plan.short_scans)
            ),
            Workload::LongScans => format!(
                "range scan of {} entries (time per scan)",
                n(LONG_SCAN_ENTRIES as u64)
            ),
            Workload::SequentialInsert => format!(
                "sequential insert: {} ascending u64 keys, commits of {} (total)",
                n(plan.sequential_keys),
                n(SEQUENTIAL_BATCH_KEYS)
            ),
            Workload::Removals => format!(
                "removals: {} of the loaded keys, 1 txn (total)",
                n(plan.load_keys / 2)
            ),
            Workload::SnapshotOpenClose => {
                "snapshot open/close: begin read txn + drop (per op)".to_string()
            }
            Workload::Open => "open of the loaded database: open + first get (total)".to_string(),
            Workload::SizeAfterLoad => "file size after bulk load".to_string(),
            Workload::SizeAfterRemovals => "file size after removals".to_string(),
        }
    }

    /// Every row, in table order.
    pub fn all() -> Vec<Workload> {
        let mut rows = vec![
            Workload::BulkLoad,
            Workload::IndividualWrites { threads: 1 },
            Workload::IndividualWrites {
                threads: THREADS_MAX,
            },
            Workload::BatchWrites,
        ];
        rows.extend(crate::config::READER_THREADS.map(|threads| Workload::RandomReads { threads }));
        rows.extend([
            Workload::ShortScans,
            Workload::LongScans,
            Workload::SequentialInsert,
            Workload::Removals,
            Workload::SnapshotOpenClose,
            Workload::Open,
            Workload::SizeAfterLoad,
            Workload::SizeAfterRemovals,
        ]);
        rows
    }
}

/// How a time is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    /// The whole time.
    Total,
    /// Time per operation.
    PerOp,
    /// Operations per second.
    Rate,
}

/// One engine's result for one workload.
#[derive(Debug, Clone)]
pub enum Figure {
    /// `ops` operations took `elapsed`.
    Time {
        elapsed: Duration,
        ops: u64,
        show: Show,
    },
    /// The database's files.
    Size(Vec<FilePart>),
}

impl Figure {
    /// The quantity ratios divide: seconds for times, bytes for sizes.
    pub fn magnitude(&self) -> f64 {
        match self {
            Figure::Time { elapsed, .. } => elapsed.as_secs_f64(),
            Figure::Size(parts) => parts.iter().map(|(_, bytes)| *bytes as f64).sum(),
        }
    }

    /// The figure as the table shows it.
    pub fn render(&self) -> String {
        match self {
            Figure::Time {
                elapsed,
                show: Show::Total,
                ..
            } => duration(*elapsed),
            Figure::Time {
                elapsed,
                ops,
                show: Show::PerOp,
            } => duration(elapsed.div_f64(*ops as f64)),
            Figure::Time {
                elapsed,
                ops,
                show: Show::Rate,
            } => rate(*ops as f64 / elapsed.as_secs_f64()),
            Figure::Size(parts) => parts
                .iter()
                .filter(|(label, bytes)| label.is_empty() || *bytes > 0)
                .map(|(label, bytes)| match *label {
                    "" => size(*bytes),
                    label => format!("{} {label}", size(*bytes)),
                })
                .collect::<Vec<_>>()
                .join(" + "),
        }
    }
}

/// `count` with thousands separators: 1,000,000.
pub fn thousands(count: u64) -> String {
    let digits = count.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn duration(elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64();
    if seconds >= 1.0 {
        format!("{seconds:.2} s")
    } else if seconds >= 1e-3 {
        format!("{:.1} ms", seconds * 1e3)
    } else if seconds >= 1e-6 {
        format!("{:.1} µs", seconds * 1e6)
    } else {
        format!("{:.0} ns", seconds * 1e9)
    }
}

fn rate(per_second: f64) -> String {
    if per_second >= 1e6 {
        format!("{:.2} M/s", per_second / 1e6)
    } else if per_second >= 1e3 {
        format!("{:.1} k/s", per_second / 1e3)
    } else {
        format!("{per_second:.0} /s")
    }
}

fn size(bytes: u64) -> String {
    let bytes = bytes as f64;
    if bytes >= (1u64 << 30) as f64 {
        format!("{:.2} GiB", bytes / (1u64 << 30) as f64)
    } else if bytes >= (100u64 << 20) as f64 {
        format!("{:.0} MiB", bytes / (1u64 << 20) as f64)
    } else if bytes >= (1u64 << 20) as f64 {
        format!("{:.1} MiB", bytes / (1u64 << 20) as f64)
    } else {
        format!("{:.0} KiB", bytes / 1024.0)
    }
}
