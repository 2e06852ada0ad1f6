//! The `northstar cartridge` command line: subcommands, kinds, and the helpers they share.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Subcommand, ValueEnum};
use northstar_cartridges::tasks::PendingTasks;
use northstar_cartridges::{cartridge_path, CartridgeError, Recipe, WordIndex};

use super::{build, query, report};
use crate::failure::{Failure, Outcome};

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
    Query(query::QueryArgs),
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
        CartridgeCommand::Build(args) => build::run(args, false),
        CartridgeCommand::CatchUp(args) => build::run(args, true),
        CartridgeCommand::Verify(args) => report::verify(args),
        CartridgeCommand::Inspect(args) => report::inspect(args),
        CartridgeCommand::Query(args) => query::run(args),
    }
}

/// A cartridge error as a failure.
pub fn failure(error: CartridgeError) -> Failure {
    Failure::new(error.to_string())
}

/// The file of cartridge `name` (a kind name or a path to a `.cart` file).
pub fn resolve(db_dir: &Path, name: &str) -> PathBuf {
    let direct = PathBuf::from(name);
    if name.ends_with(".cart") && direct.exists() {
        return direct;
    }
    cartridge_path(db_dir, name)
}
