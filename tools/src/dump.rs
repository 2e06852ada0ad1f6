//! `northstar dump PATH`: every entry of a keyspace (the default one, a named one, or all
//! of them), shown safely; with `--tree`, the B+tree structure instead (see
//! [`crate::tree`]).
//!
//! Text output starts each keyspace with a `#` line naming it and its entry count, then
//! one `key<TAB>value` line per entry. JSON output is one object
//! `{"txn_id": N, "keyspaces": [{"name": ..., "entry_count": N, "entries": [...]}]}`,
//! written as it is read. All keyspaces are read from one snapshot.

use std::io::{BufWriter, Write};
use std::ops::Bound;
use std::path::PathBuf;

use clap::Args;
use northstar::ReadTxn;

use crate::bytes::WIDTH_DEFAULT;
use crate::entries::{EntryFormat, EntryWriter};
use crate::failure::{Failure, Outcome};
use crate::keyspace::KeyspaceReader;
use crate::progress::Progress;
use crate::{open, tree};

/// Arguments of `northstar dump`.
#[derive(Debug, Args)]
pub struct DumpArgs {
    /// Database directory (the one holding northstar.db).
    pub path: PathBuf,
    /// Dump this named keyspace instead of the default one.
    #[arg(long, short = 'k', value_name = "NAME")]
    pub keyspace: Option<String>,
    /// Dump the default keyspace and every named keyspace.
    #[arg(long, conflicts_with = "keyspace")]
    pub all: bool,
    /// Print the B+tree structure (pages, kinds, entry counts, separators, depth)
    /// instead of the entries.
    #[arg(long, conflicts_with_all = ["all", "limit"])]
    pub tree: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Print at most this many entries per keyspace.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Print keys and values (and separators) as hex.
    #[arg(long)]
    pub hex: bool,
    /// Bytes of each key and value shown in text output; 0 shows everything.
    #[arg(long, value_name = "BYTES", default_value_t = WIDTH_DEFAULT)]
    pub width: usize,
}

/// Runs `northstar dump`.
pub fn run(args: &DumpArgs) -> Outcome {
    let format = EntryFormat::new(args.json, args.hex, args.width);
    if args.tree {
        return tree::run(&args.path, args.keyspace.as_deref(), format);
    }
    let db = open::existing(&args.path)?;
    let txn = db.begin_read()?;
    let readers = chosen_keyspaces(&txn, args)?;
    let total = readers
        .iter()
        .map(|reader| shown_count(reader, args.limit))
        .sum();
    let progress = Progress::entries(Some(total), "dumping");
    let mut out = BufWriter::new(std::io::stdout().lock());
    if format.json {
        write!(out, "{{\"txn_id\": {}, \"keyspaces\": [", txn.txn_id())?;
    }
    for (index, reader) in readers.iter().enumerate() {
        if format.json {
            let name = serde_json::Value::from(reader.name());
            let separator = if index == 0 { "" } else { "," };
            write!(
                out,
                "{separator}\n{{\"name\": {name}, \"entry_count\": {}, \"entries\": ",
                reader.len()
            )?;
        } else {
            writeln!(
                out,
                "# {}: {} entries at txn {}",
                reader.label(),
                reader.len(),
                txn.txn_id()
            )?;
        }
        dump_keyspace(reader, args.limit, format, &mut out, &progress)?;
        if format.json {
            write!(out, "}}")?;
        }
    }
    if format.json {
        writeln!(out, "\n]}}")?;
    }
    out.flush()?;
    progress.finish();
    Ok(())
}

fn chosen_keyspaces<'t>(
    txn: &'t ReadTxn<'t>,
    args: &DumpArgs,
) -> Result<Vec<KeyspaceReader<'t>>, Failure> {
    if !args.all {
        return Ok(vec![KeyspaceReader::open(txn, args.keyspace.as_deref())?]);
    }
    let mut readers = vec![KeyspaceReader::open(txn, None)?];
    for name in txn.keyspaces()? {
        readers.push(KeyspaceReader::open(txn, Some(&name))?);
    }
    Ok(readers)
}

fn shown_count(reader: &KeyspaceReader<'_>, limit: Option<u64>) -> u64 {
    limit.map_or(reader.len(), |limit| reader.len().min(limit))
}

fn dump_keyspace(
    reader: &KeyspaceReader<'_>,
    limit: Option<u64>,
    format: EntryFormat,
    out: &mut impl Write,
    progress: &Progress,
) -> Outcome {
    let mut writer = EntryWriter::begin(out, format)?;
    let entries = reader.range(Bound::Unbounded, Bound::Unbounded)?;
    for entry in entries.take(limit.map_or(usize::MAX, |limit| {
        usize::try_from(limit).unwrap_or(usize::MAX)
    })) {
        let (key, value) = entry?;
        writer.entry(key, &value)?;
        progress.tick();
    }
    let written = writer.finish()?;
    let left_out = reader.len().saturating_sub(written);
    if !format.json && left_out > 0 {
        writeln!(
            out,
            "# ... {left_out} more entries (--limit {})",
            limit.unwrap_or(written)
        )?;
    }
    Ok(())
}
