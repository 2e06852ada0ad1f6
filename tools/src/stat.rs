//! `northstar stat PATH`: the shape of a database: txn id, pages, file size, free pages,
//! the commit log (size, first txn, records) and what open did to recover, and per tree
//! (default keyspace, catalog, each named keyspace) its depth, entries, pages by kind and
//! fill.
//!
//! The numbers come from the validator's walk of every page and a scan of every log
//! record, so `stat` on a big database takes as long as `validate` and
//! `logdump verify`; a problem found on the way is counted, not listed.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use northstar::{CacheStats, CheckpointStats};
use northstar::{CheckReport, Db, RecoveryReport, TreeStats, TxnId, PAGE_SIZE};
use serde_json::{json, Value};

use crate::bytes::{self, Encoding};
use crate::commit_log::{damage_text, LogSource, Step};
use crate::failure::{Failure, Outcome};
use crate::{open, validate};

/// Arguments of `northstar stat`.
#[derive(Debug, Args)]
pub struct StatArgs {
    /// Database directory (the one holding northstar.db).
    pub path: PathBuf,
    /// Print the statistics as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// What `stat` shows about one database.
#[derive(Debug)]
pub struct Stat {
    /// The database directory.
    pub database: PathBuf,
    /// The page file inside it.
    pub page_file: PathBuf,
    /// Size of the page file in bytes, preallocated space included.
    pub file_size: u64,
    /// Bytes of disk blocks allocated to the page file (holes take none).
    pub allocated_size: u64,
    /// The page cache of this handle.
    pub cache: CacheStats,
    /// The checkpoints of this handle (the one open ran after replaying, if any).
    pub checkpoints: CheckpointStats,
    /// The validator's report of the newest committed state.
    pub report: CheckReport,
    /// The commit log.
    pub log: LogStat,
    /// What open did to bring the database up to date.
    pub recovery: RecoveryReport,
}

/// What `stat` shows about the commit log.
#[derive(Debug)]
pub struct LogStat {
    /// The log file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Txn of its first record, from its header.
    pub first_txn_id: TxnId,
    /// Valid records.
    pub records: u64,
    /// Txn of the last valid record.
    pub last_txn_id: Option<TxnId>,
    /// The first damage found, in words (open cuts a torn tail, so normally none).
    pub damage: Option<String>,
}

/// Runs `northstar stat`.
pub fn run(args: &StatArgs) -> Outcome {
    let db = open::existing(&args.path)?;
    let stat = collect(&db)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{:#}", to_json(&stat))?;
    } else {
        write_text(&stat, &mut out)?;
    }
    out.flush()?;
    Ok(())
}

/// Gathers the statistics of `db`.
///
/// Errors: when the page file's size cannot be read, and read errors from the library.
pub fn collect(db: &Db) -> Result<Stat, Failure> {
    let page_file = db.page_file_path().to_path_buf();
    let metadata = std::fs::metadata(&page_file)
        .map_err(|error| Failure::new(format!("stat {}: {error}", page_file.display())))?;
    let file_size = metadata.len();
    let allocated_size = std::os::unix::fs::MetadataExt::blocks(&metadata) * 512;
    let report = validate::check(db)?;
    Ok(Stat {
        database: db.path().to_path_buf(),
        page_file,
        file_size,
        allocated_size,
        cache: db.cache_stats(),
        checkpoints: db.checkpoint_stats(),
        report,
        log: log_stat(&LogSource::open(db.log_path())?),
        recovery: db.recovery_report().clone(),
    })
}

/// Counts the records of a log.
pub fn log_stat(source: &LogSource) -> LogStat {
    let mut stat = LogStat {
        path: source.path().to_path_buf(),
        size: source.size(),
        first_txn_id: source.header().first_txn_id,
        records: 0,
        last_txn_id: None,
        damage: None,
    };
    for step in source.walk() {
        match step {
            Step::Record(_, record) => {
                stat.records += 1;
                stat.last_txn_id = Some(record.header.txn_id);
            }
            Step::Damage(damage) => {
                stat.damage.get_or_insert_with(|| damage_text(&damage));
            }
        }
    }
    stat
}

/// What open did, in words: the checkpoint it started from, the records it replayed, and
/// what it cut off the log.
pub fn recovery_text(recovery: &RecoveryReport) -> String {
    let cut = match &recovery.log_truncated {
        None => "nothing cut".to_string(),
        Some((offset, size, detail)) => {
            format!("cut {size} bytes off the log at offset {offset} ({detail})")
        }
    };
    format!(
        "checkpoint at txn {}, {} log records replayed up to txn {}, {cut}",
        recovery.checkpoint_txn_id, recovery.replayed_txns, recovery.last_txn_id
    )
}

/// What open did, as a JSON object.
pub fn recovery_json(recovery: &RecoveryReport) -> Value {
    json!({
        "checkpoint_txn_id": recovery.checkpoint_txn_id,
        "replayed_txns": recovery.replayed_txns,
        "last_txn_id": recovery.last_txn_id,
        "log_truncated": recovery.log_truncated.as_ref().map(|(offset, size, detail)| json!({
            "offset": offset,
            "size": size,
            "detail": detail,
        })),
    })
}

/// Writes the statistics as aligned text.
pub fn write_text(stat: &Stat, out: &mut impl Write) -> std::io::Result<()> {
    let report = &stat.report;
    let used_size = report.page_count * PAGE_SIZE as u64;
    let file_pages = stat.file_size / PAGE_SIZE as u64;
    writeln!(out, "database        {}", stat.database.display())?;
    writeln!(out, "page file       {}", stat.page_file.display())?;
    writeln!(out, "txn id          {}", report.txn_id)?;
    writeln!(out, "page size       {PAGE_SIZE} bytes")?;
    writeln!(
        out,
        "pages           {} ({})",
        report.page_count,
        human_size(used_size)
    )?;
    write!(
        out,
        "file size       {} ({file_pages} pages",
        human_size(stat.file_size)
    )?;
    match file_pages.checked_sub(report.page_count) {
        Some(0) | None => writeln!(out, ")")?,
        Some(spare) => writeln!(out, ", {spare} preallocated past the last page in use)")?,
    }
    writeln!(
        out,
        "allocated       {} on disk",
        human_size(stat.allocated_size)
    )?;
    writeln!(
        out,
        "io              mmap reads, pwrite writes, page cache for changed pages"
    )?;
    let cache = &stat.cache;
    writeln!(
        out,
        "page cache      {} frames, {} dirty; {} hits, {} made, {} written, {} never written",
        cache.frames, cache.dirty, cache.hits, cache.inserted, cache.retired, cache.discarded
    )?;
    let checkpoints = &stat.checkpoints;
    match checkpoints.count {
        0 => writeln!(out, "checkpoints     none by this handle")?,
        count => writeln!(
            out,
            "checkpoints     {count} by this handle; the last, of txn {}, wrote {} pages in {:.1} ms",
            checkpoints.last_txn_id,
            checkpoints.last_pages_written,
            checkpoints.last_duration.as_secs_f64() * 1e3
        )?,
    }
    writeln!(out, "free pages      {}", report.free_pages)?;
    writeln!(out, "freelist pages  {}", report.freelist_pages)?;
    match report.problems.len() {
        0 => writeln!(out, "problems        none")?,
        count => writeln!(
            out,
            "problems        {count} (run `northstar validate` to list them)"
        )?,
    }
    let log = &stat.log;
    writeln!(out, "log             {}", log.path.display())?;
    writeln!(
        out,
        "log size        {} ({} bytes)",
        human_size(log.size),
        log.size
    )?;
    match log.last_txn_id {
        Some(last) => writeln!(
            out,
            "log records     {} (txns {}..{last})",
            log.records, log.first_txn_id
        )?,
        None => writeln!(
            out,
            "log records     0 (the next is txn {})",
            log.first_txn_id
        )?,
    }
    if let Some(damage) = &log.damage {
        writeln!(out, "log damage      {damage} (run `logdump verify`)")?;
    }
    writeln!(out, "recovery        {}", recovery_text(&stat.recovery))?;
    writeln!(out)?;
    writeln!(
        out,
        "{:<20} {:>5} {:>10} {:>8} {:>8} {:>9} {:>7}",
        "tree", "depth", "entries", "leaf", "branch", "overflow", "fill"
    )?;
    for tree in &report.trees {
        writeln!(
            out,
            "{:<20} {:>5} {:>10} {:>8} {:>8} {:>9} {:>6.1}%",
            tree_label(&tree.name),
            tree.depth,
            tree.entries,
            tree.leaf_pages,
            tree.branch_pages,
            tree.overflow_pages,
            tree.fill() * 100.0
        )?;
    }
    Ok(())
}

/// The statistics as one JSON object.
pub fn to_json(stat: &Stat) -> Value {
    let report = &stat.report;
    json!({
        "database": stat.database,
        "page_file": stat.page_file,
        "txn_id": report.txn_id,
        "page_size": PAGE_SIZE,
        "page_count": report.page_count,
        "file_size": stat.file_size,
        "allocated_size": stat.allocated_size,
        "io": "mmap",
        "cache": {
            "frames": stat.cache.frames,
            "dirty": stat.cache.dirty,
            "hits": stat.cache.hits,
            "inserted": stat.cache.inserted,
            "retired": stat.cache.retired,
            "discarded": stat.cache.discarded,
        },
        "checkpoints": {
            "count": stat.checkpoints.count,
            "failed": stat.checkpoints.failed,
            "last_txn_id": stat.checkpoints.last_txn_id,
            "last_duration_ms": stat.checkpoints.last_duration.as_secs_f64() * 1e3,
            "last_pages_written": stat.checkpoints.last_pages_written,
        },
        "free_pages": report.free_pages,
        "freelist_pages": report.freelist_pages,
        "problems": report.problems.len(),
        "log": {
            "path": stat.log.path,
            "size": stat.log.size,
            "first_txn_id": stat.log.first_txn_id,
            "records": stat.log.records,
            "last_txn_id": stat.log.last_txn_id,
            "damage": stat.log.damage,
        },
        "recovery": recovery_json(&stat.recovery),
        "trees": report.trees.iter().map(tree_json).collect::<Vec<_>>(),
    })
}

fn tree_json(tree: &TreeStats) -> Value {
    json!({
        "name": tree.name,
        "depth": tree.depth,
        "entries": tree.entries,
        "leaf_pages": tree.leaf_pages,
        "branch_pages": tree.branch_pages,
        "overflow_pages": tree.overflow_pages,
        "node_bytes_used": tree.node_bytes_used,
        "fill": tree.fill(),
    })
}

/// How a tree is named in text: `(default)` for the default keyspace, the catalog as
/// the library names it, a keyspace by its name shown safely.
pub fn tree_label(name: &str) -> String {
    match name {
        "" => "(default)".to_string(),
        name => bytes::show(name.as_bytes(), Encoding::Text, Some(20)),
    }
}

/// A byte count for people: `512 bytes`, `1.5 KiB`, `6.3 MiB`, `2.0 GiB`.
pub fn human_size(size: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if size < 1024 {
        return format!("{size} bytes");
    }
    let mut scaled = size as f64 / 1024.0;
    let mut unit = 0;
    while scaled >= 1024.0 && unit + 1 < UNITS.len() {
        scaled /= 1024.0;
        unit += 1;
    }
    format!("{scaled:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_pick_the_largest_fitting_unit() {
        assert_eq!(human_size(512), "512 bytes");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(4 * 1024 * 1024), "4.0 MiB");
    }

    #[test]
    fn tree_labels_name_the_default_keyspace() {
        assert_eq!(tree_label(""), "(default)");
        assert_eq!(tree_label("(catalog)"), "(catalog)");
        assert_eq!(tree_label("bad\nname"), "bad\\nname");
    }
}
