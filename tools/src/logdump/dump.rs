//! `logdump dump LOG`: every record of a commit log (offset, length, txn id, op count)
//! and each of its operations, keys and values shown safely (long values shortened with
//! their length), or one JSON object holding them losslessly.
//!
//! Text: a `#` line describing the log, then per record an `offset N: txn T, K ops, L
//! bytes` line followed by one indented line per operation; damage gets a `# damage:`
//! line where it is met, and the walk goes on after it. JSON: `{"path", "database_id",
//! "first_txn_id", "size", "records": [{"offset", "length", "txn_id", "op_count",
//! "ops": [...]}], "problems": [...]}`, written as it is read. Damage met sets the exit
//! code as `verify` does (1 torn tail, 2 corruption).

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use clap::Args;
use northstar::format::frame::Record;
use northstar::TxnId;
use northstar_tools::bytes::{self, Encoding, WIDTH_DEFAULT};
use northstar_tools::commit_log::{
    damage_failure, damage_json, damage_text, op_json, op_text, plural, LogSource, Step,
};
use northstar_tools::failure::{Failure, Outcome};
use northstar_tools::progress::{Output, Progress};
use serde_json::{json, Value};

/// Arguments of `logdump dump`.
#[derive(Debug, Args)]
pub struct DumpArgs {
    /// The log file, or the database directory holding northstar.log.
    pub log: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Start at this txn (earlier records are skipped by their headers alone).
    #[arg(long, value_name = "TXN")]
    pub from: Option<TxnId>,
    /// Stop after this txn.
    #[arg(long, value_name = "TXN")]
    pub to: Option<TxnId>,
    /// Print keys and values as hex.
    #[arg(long)]
    pub hex: bool,
    /// Print at most this many records.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Bytes of each key and value shown in text output; 0 shows everything.
    #[arg(long, value_name = "BYTES", default_value_t = WIDTH_DEFAULT)]
    pub width: usize,
}

/// Runs `logdump dump`.
pub fn run(args: &DumpArgs) -> Outcome {
    let source = LogSource::open(&args.log)?;
    let encoding = Encoding::from_hex_flag(args.hex);
    let width = (args.width > 0).then_some(args.width);
    let progress = Progress::bytes(source.size(), "dumping", Output::Streamed);
    let mut out = BufWriter::new(std::io::stdout().lock());
    write_start(&mut out, &source, args.json)?;
    let mut damages = Vec::new();
    let mut count = 0u64;
    for step in source.walk_range(args.from, args.to) {
        if args.limit.is_some_and(|limit| count >= limit) {
            break;
        }
        match step {
            Step::Record(offset, record) => {
                if args.json {
                    let separator = if count == 0 { "\n  " } else { ",\n  " };
                    write!(out, "{separator}{}", record_json(offset, &record, encoding))?;
                } else {
                    write_record(&mut out, offset, &record, encoding, width)?;
                }
                count += 1;
                progress.reached(offset + record.header.length);
            }
            Step::Damage(damage) => {
                if !args.json {
                    writeln!(out, "# damage: {}", damage_text(&damage))?;
                }
                progress.reached(damage.offset + damage.size);
                damages.push(damage);
            }
        }
    }
    if args.json {
        let problems: Vec<Value> = damages.iter().map(damage_json).collect();
        let records_end = if count == 0 { "]" } else { "\n]" };
        writeln!(
            out,
            "{records_end},\n\"problems\": {}}}",
            Value::Array(problems)
        )?;
    }
    out.flush()?;
    progress.finish();
    match damage_failure(source.path(), &damages) {
        Some(failure) => Err(failure),
        None => Ok(()),
    }
}

fn write_start(out: &mut impl Write, source: &LogSource, as_json: bool) -> Result<(), Failure> {
    let header = source.header();
    if as_json {
        let start = json!({
            "path": source.path(),
            "database_id": bytes::hex(&header.database_id),
            "first_txn_id": header.first_txn_id,
            "size": source.size(),
        })
        .to_string();
        // The object is left open: the records follow as they are read.
        let start = start.strip_suffix('}').expect("a JSON object ends with }");
        write!(out, "{start},\"records\": [")?;
    } else {
        writeln!(
            out,
            "# log {}: database {}, first txn {}, {} bytes",
            source.path().display(),
            bytes::hex(&header.database_id),
            header.first_txn_id,
            source.size()
        )?;
    }
    Ok(())
}

fn write_record(
    out: &mut impl Write,
    offset: u64,
    record: &Record<'_>,
    encoding: Encoding,
    width: Option<usize>,
) -> std::io::Result<()> {
    let header = record.header;
    writeln!(
        out,
        "offset {offset}: txn {}, {}, {} bytes",
        header.txn_id,
        plural(u64::from(header.op_count), "op"),
        header.length
    )?;
    for op in record.ops() {
        match op {
            Ok(op) => writeln!(out, "  {}", op_text(&op, encoding, width))?,
            // The library checked every operation of a valid record; say so if not.
            Err(detail) => writeln!(out, "  unreadable operation: {detail}")?,
        }
    }
    Ok(())
}

fn record_json(offset: u64, record: &Record<'_>, encoding: Encoding) -> Value {
    let header = record.header;
    let ops: Vec<Value> = record
        .ops()
        .map(|op| match op {
            Ok(op) => op_json(&op, encoding),
            Err(detail) => json!({ "op": "unreadable", "detail": detail }),
        })
        .collect();
    json!({
        "offset": offset,
        "length": header.length,
        "txn_id": header.txn_id,
        "op_count": header.op_count,
        "ops": ops,
    })
}
