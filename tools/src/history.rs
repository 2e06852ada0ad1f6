//! `northstar history PATH KEY`: every version of one key, with the txn that wrote it,
//! read from the commit log: `txn N: put VALUE`, `txn N: deleted`,
//! `txn N: keyspace dropped`.
//!
//! Invariants:
//! - Only the log is read (see [`LogSource`]): no lock is taken and nothing is written,
//!   so history works on a database another process has open, and on a damaged log.
//! - A named keyspace is followed by id: from the `CreateKeyspace` that gives its name an
//!   id to the `DropKeyspace` of that id (a version of its own: the key went with the
//!   keyspace); a keyspace created again under the name goes on with its new id. The
//!   default keyspace is id 0 and is never dropped.
//! - One version per txn (the key's last change in that txn), in txn order; values are
//!   borrowed from the mapped log, never copied.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use clap::Args;
use northstar::format::frame::Op;
use northstar::TxnId;
use serde_json::{json, Map, Value};

use crate::bytes::{self, Encoding, WIDTH_DEFAULT};
use crate::commit_log::{damage_text, Damage, DamageKind, LogSource, Step};
use crate::failure::{Failure, Outcome};
use crate::input;
use crate::keyspace::keyspace_label;
use crate::progress::{Output, Progress};

/// Arguments of `northstar history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Database directory, or its commit log file.
    pub path: PathBuf,
    /// The key: UTF-8 text, or hex digits with --hex.
    pub key: String,
    /// Follow the key in this named keyspace instead of the default one.
    #[arg(long, short = 'k', value_name = "NAME")]
    pub keyspace: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Take the key and print values as hex digits.
    #[arg(long)]
    pub hex: bool,
    /// Bytes of each value shown in text output; 0 shows everything.
    #[arg(long, value_name = "BYTES", default_value_t = WIDTH_DEFAULT)]
    pub width: usize,
}

/// What one txn did to the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change<'a> {
    /// Stored this value.
    Put(&'a [u8]),
    /// Removed the key.
    Deleted,
    /// Dropped the keyspace, and the key with it.
    KeyspaceDropped,
}

/// One version of the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version<'a> {
    /// The txn that made it.
    pub txn_id: TxnId,
    /// What it did.
    pub change: Change<'a>,
}

/// The versions of a key found in a log, and how the log ended.
#[derive(Debug, Clone, Default)]
pub struct History<'a> {
    /// Every version, in txn order.
    pub versions: Vec<Version<'a>>,
    /// Whether the keyspace existed at some point of the log (always, for the default).
    pub keyspace_seen: bool,
    /// Txns of the first and last valid records read.
    pub txn_range: Option<(TxnId, TxnId)>,
    /// Damage met on the way (versions in damaged records are missing).
    pub damages: Vec<Damage>,
}

/// Every version of `key` in keyspace `keyspace` (the default one when `None`) that the
/// log of `source` holds.
pub fn versions<'a>(source: &'a LogSource, keyspace: Option<&str>, key: &[u8]) -> History<'a> {
    let progress = Progress::bytes(source.size(), "reading the log", Output::AtEnd);
    let mut history = History {
        keyspace_seen: keyspace.is_none(),
        ..History::default()
    };
    let mut keyspace_id = match keyspace {
        None => Some(0),
        Some(_) => None,
    };
    let mut walker = source.walk();
    while let Some(step) = walker.next() {
        let record = match step {
            Step::Record(_, record) => record,
            Step::Damage(damage) => {
                history.damages.push(damage);
                continue;
            }
        };
        let txn_id = record.header.txn_id;
        history.txn_range = Some((history.txn_range.map_or(txn_id, |r| r.0), txn_id));
        let mut change = None;
        for op in record.ops().flatten() {
            match op {
                Op::Put {
                    keyspace: id,
                    key: found,
                    value,
                } if Some(id) == keyspace_id && found == key => change = Some(Change::Put(value)),
                Op::Delete {
                    keyspace: id,
                    key: found,
                } if Some(id) == keyspace_id && found == key => change = Some(Change::Deleted),
                Op::CreateKeyspace { keyspace: id, name } if keyspace == Some(name_of(name)) => {
                    keyspace_id = Some(id);
                    history.keyspace_seen = true;
                }
                Op::DropKeyspace { keyspace: id, .. } if Some(id) == keyspace_id => {
                    keyspace_id = None;
                    change = Some(Change::KeyspaceDropped);
                }
                _ => {}
            }
        }
        if let Some(change) = change {
            history.versions.push(Version { txn_id, change });
        }
        progress.reached(walker.offset());
    }
    progress.finish();
    history
}

fn name_of(name: &[u8]) -> &str {
    // A name that is not UTF-8 cannot equal a name given on the command line.
    std::str::from_utf8(name).unwrap_or("\u{fffd}\u{fffd}")
}

/// Runs `northstar history`.
pub fn run(args: &HistoryArgs) -> Outcome {
    let encoding = Encoding::from_hex_flag(args.hex);
    let key = input::parse(&args.key, encoding, "KEY")?;
    let source = LogSource::open(&args.path)?;
    let keyspace = args.keyspace.as_deref();
    let history = versions(&source, keyspace, &key);
    let shown_key = bytes::show(&key, encoding, Some(WIDTH_DEFAULT));
    let log = format!("{} ({})", source.path().display(), txns(&history));
    if !history.keyspace_seen {
        return Err(Failure::new(format!(
            "the {} is never created in the log {log}{}",
            keyspace_label(keyspace),
            older_hint(&source)
        )));
    }
    let mut out = BufWriter::new(std::io::stdout().lock());
    if args.json {
        writeln!(
            out,
            "{:#}",
            to_json(&history, &key, keyspace, &source, encoding)
        )?;
    } else {
        let width = (args.width > 0).then_some(args.width);
        for version in &history.versions {
            writeln!(out, "{}", version_text(version, encoding, width))?;
        }
    }
    out.flush()?;
    if source.header().first_txn_id > 1 && keyspace.is_none() {
        eprintln!(
            "northstar: the log starts at txn {}; versions written before it are not in it",
            source.header().first_txn_id
        );
    }
    for damage in &history.damages {
        eprintln!("northstar: the log is damaged: {}", damage_text(damage));
    }
    if history
        .damages
        .iter()
        .any(|damage| damage.kind == DamageKind::Corrupt)
    {
        return Err(Failure::new(format!(
            "the log {} is corrupt: versions in its damaged records are missing (run `logdump verify`)",
            source.path().display()
        )));
    }
    if history.versions.is_empty() {
        return Err(Failure::new(format!(
            "key {shown_key} has no versions in the {} in the log {log}",
            keyspace_label(keyspace)
        )));
    }
    Ok(())
}

/// `txn 4: put green`, `txn 5: deleted`, `txn 9: keyspace dropped`.
pub fn version_text(version: &Version<'_>, encoding: Encoding, width: Option<usize>) -> String {
    let txn_id = version.txn_id;
    match version.change {
        Change::Put(value) => format!("txn {txn_id}: put {}", bytes::show(value, encoding, width)),
        Change::Deleted => format!("txn {txn_id}: deleted"),
        Change::KeyspaceDropped => format!("txn {txn_id}: keyspace dropped"),
    }
}

fn txns(history: &History<'_>) -> String {
    match history.txn_range {
        Some((first, last)) => format!("txns {first}..{last}"),
        None => "no records".to_string(),
    }
}

fn older_hint(source: &LogSource) -> String {
    match source.header().first_txn_id {
        1 => String::new(),
        first => format!("; the log starts at txn {first}, so the keyspace may be older"),
    }
}

fn to_json(
    history: &History<'_>,
    key: &[u8],
    keyspace: Option<&str>,
    source: &LogSource,
    encoding: Encoding,
) -> Value {
    let versions: Vec<Value> = history
        .versions
        .iter()
        .map(|version| {
            let mut object = Map::new();
            object.insert("txn_id".into(), json!(version.txn_id));
            match version.change {
                Change::Put(value) => {
                    object.insert("op".into(), json!("put"));
                    bytes::insert_json(&mut object, "value", value, encoding);
                    object.insert("value_size".into(), json!(value.len()));
                }
                Change::Deleted => {
                    object.insert("op".into(), json!("delete"));
                }
                Change::KeyspaceDropped => {
                    object.insert("op".into(), json!("drop_keyspace"));
                }
            }
            Value::Object(object)
        })
        .collect();
    let mut object = Map::new();
    bytes::insert_json(&mut object, "key", key, encoding);
    object.insert("keyspace".into(), json!(keyspace));
    object.insert("log".into(), json!(source.path()));
    object.insert("first_txn_id".into(), json!(history.txn_range.map(|r| r.0)));
    object.insert("last_txn_id".into(), json!(history.txn_range.map(|r| r.1)));
    object.insert("versions".into(), Value::Array(versions));
    Value::Object(object)
}
