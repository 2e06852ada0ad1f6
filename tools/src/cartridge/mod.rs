//! `northstar cartridge`: derived indexes of a database, built from its commit log.
//!
//! Subcommands: `list`, `build KIND`, `catch-up KIND`, `verify`, `inspect NAME`, `query
//! KIND`, each with `--json`. Kinds: `key_history`, `pending_tasks_by_type`, and `words`
//! (the example extractor: words of at least three letters in every keyspace).
//!
//! Invariants: a cartridge error (damage, another database, a newer format) is a failure
//! naming the file, section and offset; `verify` exits with
//! [`crate::failure::EXIT_PROBLEMS_FOUND`] when a cartridge is refused or differs from a
//! rebuild. Building needs no open database: only the log is read, so it runs beside a
//! process that has the database open.

pub mod demo;
mod query;
mod report;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Subcommand, ValueEnum};
use northstar_cartridges::tasks::PendingTasks;
use northstar_cartridges::{
    cartridge_path, BuildOptions, BuildReport, CartridgeError, Method, Recipe, Shelf, WordIndex,
};
use serde_json::json;

use crate::failure::{Failure, Outcome};

pub use query::QueryArgs;

/// Minimum word length of the `words` kind.
pub const WORDS_MIN_LEN: usize = 3;

/// Arguments of `northstar cartridge`.
#[derive(Debug, Args)]
pub struct CartridgeArgs {
    #[command(subcommand)]
    pub command: CartridgeCommand,
}

/// The subcommands of `northstar cartridge`.
#[derive(Debug, Subcommand)]
pub enum CartridgeCommand {
    /// List the cartridges of a database: kind, txn range, size, lag, build time.
    List(report::ListArgs),
    /// Build a cartridge from the whole commit log (replacing any old one).
    Build(BuildArgs),
    /// Bring a cartridge up to the newest txn: merge when cheaper, else rebuild.
    CatchUp(BuildArgs),
    /// Check every cartridge (CRCs, layout, database, log); --rebuild also compares each
    /// with a fresh build at its txn.
    Verify(report::VerifyArgs),
    /// Show a cartridge's header and sections.
    Inspect(report::InspectArgs),
    /// Ask a cartridge: AS OF reads, pending tasks, words.
    Query(QueryArgs),
}

/// A cartridge kind on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    /// Every version of every key.
    #[value(name = "key_history")]
    KeyHistory,
    /// Pending tasks of the task-queue layout, by type.
    #[value(name = "pending_tasks_by_type")]
    PendingTasksByType,
    /// Inverted index of the words in values.
    #[value(name = "words")]
    Words,
}

impl KindArg {
    /// The recipe the kind builds with.
    pub fn recipe(self) -> Recipe {
        match self {
            KindArg::KeyHistory => Recipe::KeyHistory,
            KindArg::PendingTasksByType => Recipe::PendingTasks(PendingTasks::default()),
            KindArg::Words => Recipe::Extractor(Arc::new(WordIndex::new(None, WORDS_MIN_LEN))),
        }
    }
}

/// Arguments of `cartridge build` and `cartridge catch-up`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Database directory (the one holding northstar.log).
    pub path: PathBuf,
    /// What to build.
    pub kind: KindArg,
    /// Cover the log only up to this txn.
    #[arg(long, value_name = "TXN")]
    pub up_to: Option<u64>,
    /// Memory the sort may use before spilling runs to disk, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    pub memory_mib: usize,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Runs `northstar cartridge`.
pub fn run(args: &CartridgeArgs) -> Outcome {
    match &args.command {
        CartridgeCommand::List(args) => report::list(args),
        CartridgeCommand::Build(args) => build(args, false),
        CartridgeCommand::CatchUp(args) => build(args, true),
        CartridgeCommand::Verify(args) => report::verify(args),
        CartridgeCommand::Inspect(args) => report::inspect(args),
        CartridgeCommand::Query(args) => query::run(args),
    }
}

/// A cartridge error as a failure.
pub fn failure(error: CartridgeError) -> Failure {
    Failure::new(error.to_string())
}

fn build(args: &BuildArgs, catch_up: bool) -> Outcome {
    let recipe = args.kind.recipe();
    let options = BuildOptions {
        up_to: args.up_to,
        memory_budget: args.memory_mib.max(1) << 20,
        progress: !args.json,
        ..BuildOptions::default()
    };
    let report = if catch_up {
        let (shelf, built) = Shelf::open(&args.path, recipe, &options).map_err(failure)?;
        match built {
            Some(report) => report,
            None => shelf.catch_up(&options).map_err(failure)?,
        }
    } else {
        let log = northstar_cartridges::LogSource::open(&args.path).map_err(failure)?;
        let path = cartridge_path(&args.path, recipe.name());
        northstar_cartridges::build_at(&log, &path, &recipe, &options).map_err(failure)?
    };
    print_report(&report, args.json)
}

/// Prints what a build did.
pub fn print_report(report: &BuildReport, as_json: bool) -> Outcome {
    let mut out = std::io::stdout().lock();
    let method = match report.method {
        Method::Full => "full",
        Method::Merge => "merge",
    };
    if as_json {
        let object = json!({
            "path": report.path,
            "txn_from": report.txn_from,
            "txn_to": report.txn_to,
            "entries": report.entry_count,
            "file_size": report.file_size,
            "elapsed_ms": report.elapsed.as_secs_f64() * 1e3,
            "method": method,
        });
        writeln!(out, "{object:#}")?;
    } else {
        writeln!(out, "{}", report_line(report, method))?;
    }
    Ok(())
}

/// One line about a build, for people.
pub fn report_line(report: &BuildReport, method: &str) -> String {
    let rate = report.entry_count as f64 / report.elapsed.as_secs_f64().max(1e-9);
    format!(
        "{}: txns {}..={}, {} entries, {} bytes, {} build in {:.1} ms ({:.0} entries/s)",
        report.path.display(),
        report.txn_from,
        report.txn_to,
        report.entry_count,
        report.file_size,
        method,
        report.elapsed.as_secs_f64() * 1e3,
        rate
    )
}

/// The file of cartridge `name` (a kind name or a path to a `.cart` file).
pub fn resolve(db_dir: &Path, name: &str) -> PathBuf {
    let direct = PathBuf::from(name);
    if name.ends_with(".cart") && direct.exists() {
        return direct;
    }
    cartridge_path(db_dir, name)
}
