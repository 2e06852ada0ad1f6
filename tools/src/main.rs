//! `northstar`: the command-line tool for NorthstarDB databases.
//!
//! Parses the command line and runs the subcommand; each subcommand lives in its own
//! module of the `northstar_tools` library (see its crate documentation).
//!
//! Invariants: every failure prints one message naming the file (and page, when known)
//! to stderr and exits non-zero with a code from `northstar_tools::failure`; bad input
//! never panics.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use northstar_tools::failure::{Outcome, EXIT_CODES_HELP};
use northstar_tools::{
    cartridge, checkpoint, del, demo, dump, get, history, put, replay, scan, stat, validate,
};

/// Command-line tools for NorthstarDB, an embedded crash-safe key-value store.
///
/// A database is a directory holding the page file northstar.db and the commit log
/// northstar.log. Keys and values are given and shown as UTF-8 text unless --hex is used.
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
    /// Show txn id, page and file sizes, free pages, the commit log, what open recovered,
    /// and the shape of every tree.
    Stat(stat::StatArgs),
    /// Print the value stored under a key (exit 1 when the key is missing).
    Get(get::GetArgs),
    /// Store a value under a key, in one committed txn.
    Put(put::PutArgs),
    /// Remove a key, in one committed txn (exit 1 when the key is missing).
    Del(del::DelArgs),
    /// Print entries in key order: all, by prefix, or in a key range.
    Scan(scan::ScanArgs),
    /// Every version of a key, with the txn that wrote it, from the commit log.
    History(history::HistoryArgs),
    /// Replay the commit log into memory up to a txn and print the state there.
    Replay(replay::ReplayArgs),
    /// Write a checkpoint now, so the next open replays nothing.
    Checkpoint(checkpoint::CheckpointArgs),
    /// Derived indexes built from the commit log: list, build, catch-up, verify, inspect,
    /// query.
    Cartridge(cartridge::CartridgeArgs),
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
        Command::History(args) => history::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Checkpoint(args) => checkpoint::run(args),
        Command::Cartridge(args) => cartridge::run(args),
    }
}

fn main() -> ExitCode {
    northstar_tools::failure::run_main("northstar", |cli: &Cli| run(&cli.command))
}
