//! The markdown report: one row per workload, one column per engine, then each engine's
//! ratio to NorthstarDB, a line on the machine and the notes that qualify the figures.
//!
//! Invariant: a ratio divides the engine's time (or bytes) by NorthstarDB's for the same
//! work, so above 1.00x NorthstarDB is ahead whatever unit the row shows.

use std::fmt::Write as _;

use crate::config::Plan;
use crate::engine::EngineKind;
use crate::results::{thousands, Figure, Workload};

/// One engine's figures.
pub struct Column {
    /// The engine.
    pub kind: EngineKind,
    /// Its figures, in any order.
    pub figures: Vec<(Workload, Figure)>,
}

impl Column {
    fn figure(&self, workload: Workload) -> Option<&Figure> {
        self.figures
            .iter()
            .find(|(measured, _)| *measured == workload)
            .map(|(_, figure)| figure)
    }
}

/// The whole report as markdown.
pub fn render(plan: &Plan, columns: &[Column]) -> String {
    let northstar = columns
        .iter()
        .find(|column| column.kind == EngineKind::Northstar);
    let peers: Vec<&Column> = match northstar {
        Some(_) => columns
            .iter()
            .filter(|column| column.kind != EngineKind::Northstar)
            .collect(),
        None => Vec::new(),
    };
    let mut text = String::new();
    let _ = writeln!(
        text,
        "Scale {} ({} loaded keys), one run; {}.\n",
        plan.scale,
        thousands(plan.load_keys),
        machine()
    );
    let mut header = vec!["workload".to_string()];
    header.extend(columns.iter().map(|column| column.kind.title().to_string()));
    header.extend(peers.iter().map(|column| {
        format!(
            "{} ÷ NorthstarDB (time or bytes; >1 = NorthstarDB ahead)",
            column.kind.title()
        )
    }));
    let _ = writeln!(text, "| {} |", header.join(" | "));
    let alignment: Vec<&str> = header
        .iter()
        .enumerate()
        .map(|(index, _)| if index == 0 { "---" } else { "---:" })
        .collect();
    let _ = writeln!(text, "|{}|", alignment.join("|"));
    for workload in Workload::all() {
        let mut cells = vec![workload.label(plan)];
        cells.extend(columns.iter().map(|column| {
            column
                .figure(workload)
                .map_or_else(|| "—".to_string(), Figure::render)
        }));
        let base = northstar.and_then(|column| column.figure(workload));
        cells.extend(
            peers
                .iter()
                .map(|column| match (column.figure(workload), base) {
                    (Some(figure), Some(base)) if base.magnitude() > 0.0 => {
                        format!("{:.2}x", figure.magnitude() / base.magnitude())
                    }
                    _ => "—".to_string(),
                }),
        );
        let _ = writeln!(text, "| {} |", cells.join(" | "));
    }
    text.push_str(NOTES);
    text
}

const NOTES: &str = "
- Every write is a durable commit: NorthstarDB `Options::default()` (the commit log is
  fdatasynced before `commit` returns, one sync shared by commits that wait together), redb
  `Durability::Immediate`, LMDB (through heed) with its default flags, SQLite (through
  rusqlite, bundled) in WAL mode with `synchronous=FULL` and a `WITHOUT ROWID` table. Other
  settings are the engines' defaults (SQLite: 2 MiB page cache per connection, no mmap);
  LMDB's map size is set to 16 GiB, as it must be set to something.
- Keys are 24 random bytes from a fixed seed (8-byte big-endian integers for sequential
  insert), values 150 bytes; every engine gets the same keys in the same order. Writes after
  the bulk load insert new keys into the loaded database.
- Reads are hot: a full scan warms the database first. Multi-thread rows are the combined
  rate of all threads over wall time; each reader thread has its own read snapshot (SQLite:
  its own connection). Writer threads contend on each engine's single writer.
- Reads, scans, snapshots and open are the best of 3 runs; writes are timed once.
- NorthstarDB file sizes are measured after `Db::checkpoint()`, so the page file holds every
  commit; the second figure is its commit log. SQLite's second figure is its WAL file.
- SQLite's snapshot row is `BEGIN; PRAGMA schema_version; COMMIT`: its WAL snapshot is only
  taken at the first read. Open is close, then open plus one point get, page cache warm.
- One run on a shared 2-core virtual machine: figures are noisy, and differences of a few
  tens of percent, especially in the durable-write rows, may not repeat.
";

/// CPU model, core count, memory and kernel, from /proc where it can be read.
fn machine() -> String {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map(|(_, model)| model.trim().to_string())
        .unwrap_or_else(|| "unknown CPU".to_string());
    let cores = std::thread::available_parallelism().map_or(0, |cores| cores.get());
    let memory_gib = read("/proc/meminfo")
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kib| kib / (1024.0 * 1024.0));
    let kernel = read("/proc/sys/kernel/osrelease");
    let lmdb = heed::lmdb_version();
    format!(
        "{cpu}, {cores} cores, {memory_gib:.0} GiB, Linux {}; SQLite {}, LMDB {}.{}.{}",
        kernel.trim(),
        rusqlite::version(),
        lmdb.major,
        lmdb.minor,
        lmdb.patch
    )
}
