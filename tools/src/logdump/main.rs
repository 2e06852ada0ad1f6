//! `logdump`: reads a NorthstarDB commit log without opening the database: `dump` its
//! records and operations, `verify` every record, `scan` the records of a txn range.
//!
//! The log is only read (mapped read-only, no lock taken), so a damaged log is shown
//! exactly as it is: opening the database would cut a torn tail off. The work is done by
//! `northstar_tools::commit_log`, which `northstar demo` and `northstar history` use too.
//!
//! Invariants: every failure prints one message naming the log file (and offset, when
//! known) to stderr and exits non-zero with a code from [`EXIT_CODES_HELP`]; bad input
//! and damaged logs never panic.

mod dump;
mod scan;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use northstar_tools::failure::Outcome;

/// Text for `--help` that lists the exit codes.
const EXIT_CODES_HELP: &str = "\
Exit codes:
  0   the log is sound (verify), or the records asked for were printed
  1   torn tail: bytes after the last good record that are an unfinished append (no
      valid record after them); also bad input or an error writing the output
  2   corruption: damage followed by valid records, or a page file checkpoint that
      does not match the log
  3   the log cannot be read: missing, not a commit log, bad header, or the log of
      another database than the page file beside it
  64  the command line does not parse";

/// Reads a NorthstarDB commit log (northstar.log) without opening the database.
///
/// LOG is the log file or the database directory holding it.
#[derive(Debug, Parser)]
#[command(name = "logdump", version, after_help = EXIT_CODES_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print every record (offset, length, txn id, op count) and its operations.
    Dump(dump::DumpArgs),
    /// Check the header and every record; list each problem with its offset.
    Verify(verify::VerifyArgs),
    /// One line per record in a txn range, without printing operations.
    Scan(scan::ScanArgs),
}

fn run(command: &Command) -> Outcome {
    match command {
        Command::Dump(args) => dump::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Scan(args) => scan::run(args),
    }
}

fn main() -> ExitCode {
    northstar_tools::failure::run_main("logdump", |cli: &Cli| run(&cli.command))
}
