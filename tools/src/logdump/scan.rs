//! `logdump scan LOG --from TXN --to TXN`: one line per record of a txn range: txn id,
//! offset, op count and length, or a JSON array of such objects.
//!
//! Cheap on a big log: the records before the range are skipped by their headers alone,
//! and the records in it are checked but their operations are not printed. Damage met in
//! the range is reported on stderr with the exit code of `verify` (1 torn tail, 2
//! corruption).

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use clap::Args;
use northstar::TxnId;
use northstar_tools::commit_log::{damage_failure, damage_text, plural, LogSource, Step};
use northstar_tools::failure::Outcome;
use northstar_tools::progress::{Output, Progress};
use serde_json::json;

/// Arguments of `logdump scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The log file, or the database directory holding northstar.log.
    pub log: PathBuf,
    /// First txn of the range.
    #[arg(long, value_name = "TXN")]
    pub from: TxnId,
    /// Last txn of the range (included).
    #[arg(long, value_name = "TXN")]
    pub to: TxnId,
    /// Print a JSON array.
    #[arg(long)]
    pub json: bool,
}

/// Runs `logdump scan`.
pub fn run(args: &ScanArgs) -> Outcome {
    let source = LogSource::open(&args.log)?;
    let progress = Progress::bytes(source.size(), "scanning", Output::Streamed);
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut damages = Vec::new();
    let mut count = 0u64;
    if args.json {
        write!(out, "[")?;
    }
    for step in source.walk_range(Some(args.from), Some(args.to)) {
        let (offset, record) = match step {
            Step::Record(offset, record) => (offset, record),
            Step::Damage(damage) => {
                progress.reached(damage.offset + damage.size);
                damages.push(damage);
                continue;
            }
        };
        let header = record.header;
        if args.json {
            let separator = if count == 0 { "\n  " } else { ",\n  " };
            let object = json!({
                "txn_id": header.txn_id,
                "offset": offset,
                "op_count": header.op_count,
                "length": header.length,
            });
            write!(out, "{separator}{object}")?;
        } else {
            writeln!(
                out,
                "txn {}: offset {offset}, {}, {} bytes",
                header.txn_id,
                plural(u64::from(header.op_count), "op"),
                header.length
            )?;
        }
        count += 1;
        progress.reached(offset + header.length);
    }
    if args.json {
        writeln!(out, "{}", if count == 0 { "]" } else { "\n]" })?;
    }
    out.flush()?;
    progress.finish();
    for damage in &damages {
        eprintln!("logdump: damage in the range: {}", damage_text(damage));
    }
    match damage_failure(source.path(), &damages) {
        Some(failure) => Err(failure),
        None => Ok(()),
    }
}
