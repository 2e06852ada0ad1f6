//! `northstar replay PATH --to TXN`: replays the commit log into memory up to a txn and
//! prints the state there: the entries of every keyspace (or of one with `--keyspace`),
//! or with `--summary` the entry count of each.
//!
//! Only the log is read (through the library's `northstar::replay`): no page file, no
//! lock, nothing written. Text output is that of `northstar dump --all`; JSON output is
//! `{"txn_id": N, "keyspaces": [{"name": ..., "entry_count": N, "entries": [...]}]}`
//! (without `entries` with `--summary`).

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use clap::Args;
use northstar::{Replayed, TxnId};
use serde_json::json;

use crate::bytes::WIDTH_DEFAULT;
use crate::commit_log::LogSource;
use crate::entries::{EntryFormat, EntryWriter};
use crate::failure::{Failure, Outcome};
use crate::keyspace::keyspace_label;
use crate::progress::Progress;

/// Arguments of `northstar replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Database directory, or its commit log file.
    pub path: PathBuf,
    /// Replay up to and including this txn.
    #[arg(long, value_name = "TXN")]
    pub to: TxnId,
    /// Print only this named keyspace.
    #[arg(long, short = 'k', value_name = "NAME")]
    pub keyspace: Option<String>,
    /// Print only the number of entries in each keyspace.
    #[arg(long)]
    pub summary: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Print keys and values as hex.
    #[arg(long)]
    pub hex: bool,
    /// Bytes of each key and value shown in text output; 0 shows everything.
    #[arg(long, value_name = "BYTES", default_value_t = WIDTH_DEFAULT)]
    pub width: usize,
}

/// One keyspace of a replayed state: its name (`None` for the default) and entries.
pub type ReplayedKeyspace<'r> = (Option<String>, Vec<(&'r [u8], &'r [u8])>);

/// Replays the log at `path` (a database directory or a log file) up to txn `to`.
///
/// Errors: [`Failure::cannot_open`] when there is no readable log there; the library's
/// errors (a txn past the log's end, history before the log's start, damage) as failures.
pub fn replay(path: &std::path::Path, to: TxnId) -> Result<Replayed, Failure> {
    let source = LogSource::open(path)?;
    let spinner = Progress::spinner(format!(
        "replaying {} up to txn {to}",
        source.path().display()
    ));
    let replayed = northstar::replay(source.path(), to)?;
    spinner.finish();
    Ok(replayed)
}

/// The keyspaces of `replayed` to show: all of them (default first), or the one named.
///
/// Errors: when the named keyspace did not exist at that txn.
pub fn keyspaces<'r>(
    replayed: &'r Replayed,
    name: Option<&str>,
) -> Result<Vec<ReplayedKeyspace<'r>>, Failure> {
    if let Some(name) = name {
        let entries = replayed.keyspace_entries(name).ok_or_else(|| {
            Failure::new(format!(
                "{} did not exist at txn {}",
                keyspace_label(Some(name)),
                replayed.txn_id()
            ))
        })?;
        return Ok(vec![(Some(name.to_string()), entries.collect())]);
    }
    let mut all = vec![(None, replayed.default_entries().collect())];
    for name in replayed.keyspaces() {
        let entries = replayed
            .keyspace_entries(&name)
            .expect("a listed keyspace exists")
            .collect();
        all.push((Some(name), entries));
    }
    Ok(all)
}

/// Runs `northstar replay`.
pub fn run(args: &ReplayArgs) -> Outcome {
    let replayed = replay(&args.path, args.to)?;
    let keyspaces = keyspaces(&replayed, args.keyspace.as_deref())?;
    let txn_id = replayed.txn_id();
    let format = EntryFormat::new(args.json, args.hex, args.width);
    let mut out = BufWriter::new(std::io::stdout().lock());
    if args.summary {
        write_summary(&mut out, txn_id, &keyspaces, args.json)?;
        out.flush()?;
        return Ok(());
    }
    if format.json {
        write!(out, "{{\"txn_id\": {txn_id}, \"keyspaces\": [")?;
    }
    for (index, (name, entries)) in keyspaces.iter().enumerate() {
        if format.json {
            let separator = if index == 0 { "" } else { "," };
            let name = json!(name.as_deref().unwrap_or(""));
            write!(
                out,
                "{separator}\n{{\"name\": {name}, \"entry_count\": {}, \"entries\": ",
                entries.len()
            )?;
        } else {
            writeln!(
                out,
                "# {}: {} entries at txn {txn_id}",
                keyspace_label(name.as_deref()),
                entries.len()
            )?;
        }
        let mut writer = EntryWriter::begin(&mut out, format)?;
        for (key, value) in entries {
            writer.entry(key, value)?;
        }
        writer.finish()?;
        if format.json {
            write!(out, "}}")?;
        }
    }
    if format.json {
        writeln!(out, "\n]}}")?;
    }
    out.flush()?;
    Ok(())
}

fn write_summary(
    out: &mut impl Write,
    txn_id: TxnId,
    keyspaces: &[ReplayedKeyspace<'_>],
    as_json: bool,
) -> Outcome {
    if as_json {
        let counts: Vec<_> = keyspaces
            .iter()
            .map(|(name, entries)| {
                json!({ "name": name.as_deref().unwrap_or(""), "entry_count": entries.len() })
            })
            .collect();
        writeln!(
            out,
            "{:#}",
            json!({ "txn_id": txn_id, "keyspaces": counts })
        )?;
        return Ok(());
    }
    writeln!(out, "state at txn {txn_id}")?;
    for (name, entries) in keyspaces {
        writeln!(
            out,
            "  {}: {} entries",
            keyspace_label(name.as_deref()),
            entries.len()
        )?;
    }
    Ok(())
}
