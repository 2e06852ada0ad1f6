//! `northstar`: the command-line tool for NorthstarDB databases.
//!
//! One module per subcommand (`demo`, `validate`, `dump`, `stat`, `get`, `put`, `del`,
//! `scan`), plus the helpers they share: opening a database, showing bytes safely,
//! parsing keys, writing entries, progress indicators, and failures with exit codes.
//!
//! Invariants: every failure prints one message naming the file (and page, when known)
//! to stderr and exits non-zero with a code from [`failure`]; bad input never panics.

mod bytes;
mod del;
mod demo;
mod dump;
mod entries;
mod failure;
mod get;
mod input;
mod keyspace;
mod open;
mod progress;
mod put;
mod scan;
mod stat;
mod tree;
mod validate;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::failure::{Outcome, EXIT_CODES_HELP, EXIT_USAGE};

/// Command-line tools for NorthstarDB, an embedded crash-safe key-value store.
///
/// A database is a directory holding the page file northstar.db. Keys and values are
/// given and shown as UTF-8 text unless --hex is used.
#[derive(Debug, Parser)]
#[command(name = "northstar", version, after_help = EXIT_CODES_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a fresh database, use every feature step by step, validate it, show stats.
    Demo(demo::DemoArgs),
    /// Check every page of a database; list each problem with its page id.
    Validate(validate::ValidateArgs),
    /// Print the entries of a keyspace, or with --tree the B+tree structure.
    Dump(dump::DumpArgs),
    /// Show txn id, page and file sizes, free pages, and the shape of every tree.
    Stat(stat::StatArgs),
    /// Print the value stored under a key (exit 1 when the key is missing).
    Get(get::GetArgs),
    /// Store a value under a key, in one committed txn.
    Put(put::PutArgs),
    /// Remove a key, in one committed txn (exit 1 when the key is missing).
    Del(del::DelArgs),
    /// Print entries in key order: all, by prefix, or in a key range.
    Scan(scan::ScanArgs),
}

fn run(command: &Command) -> Outcome {
    match command {
        Command::Demo(args) => demo::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Dump(args) => dump::run(args),
        Command::Stat(args) => stat::run(args),
        Command::Get(args) => get::run(args),
        Command::Put(args) => put::run(args),
        Command::Del(args) => del::run(args),
        Command::Scan(args) => scan::run(args),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(&cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if !failure.message.is_empty() {
                let _ = writeln!(std::io::stderr(), "northstar: {}", failure.message);
            }
            ExitCode::from(failure.code)
        }
    }
}
