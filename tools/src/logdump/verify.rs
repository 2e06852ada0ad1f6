//! `logdump verify LOG`: checks the header and every record of a commit log, and the
//! page file's checkpoint against it (see `northstar_tools::commit_log::verify`).
//!
//! A sound log prints one `ok:` line and exits 0. Otherwise every problem is listed with
//! its offset and the txn expected there, then where the last good record ends and how
//! many bytes follow; exit 1 for a torn tail, 2 for corruption, 3 when the file cannot be
//! read as a log of this database.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use northstar_tools::commit_log::{verify, LogSource};
use northstar_tools::failure::Outcome;
use serde_json::json;

/// Arguments of `logdump verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The log file, or the database directory holding northstar.log.
    pub log: PathBuf,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Runs `logdump verify`.
pub fn run(args: &VerifyArgs) -> Outcome {
    let mut out = std::io::stdout().lock();
    let source = match LogSource::open(&args.log) {
        Ok(source) => source,
        Err(failure) => {
            if args.json {
                let object = json!({ "ok": false, "path": args.log, "error": failure.message });
                writeln!(out, "{object:#}")?;
            }
            return Err(failure);
        }
    };
    let verdict = verify(&source);
    if args.json {
        writeln!(out, "{:#}", verdict.to_json())?;
    } else {
        verdict.write_text(&mut out)?;
    }
    out.flush()?;
    match verdict.failure() {
        Some(failure) => Err(failure),
        None => Ok(()),
    }
}
