//! `cartridge query`: AS OF reads and histories from key_history, pending tasks from
//! pending_tasks_by_type, keys by word from words — as of the cartridge, or with `--now`
//! as of the database's newest txn (the log after the cartridge folded in).

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use northstar_cartridges::{
    cartridge_path, Cartridge, Delta, IndexRead, KeyHistory, KeyHistoryNow, LogSource, StateIndex,
    StateNow, TaskQueue, WordIndex,
};
use serde_json::{json, Value};

use super::command::{failure, KindArg};
use crate::bytes::{self, Encoding};
use crate::failure::{Failure, Outcome};
use crate::input;

/// Arguments of `cartridge query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Database directory.
    pub path: PathBuf,
    /// Which cartridge to ask.
    pub kind: KindArg,
    /// Answer as of the database's newest txn, folding in the log after the cartridge.
    #[arg(long)]
    pub now: bool,
    /// key_history: the key (UTF-8, or hex with --hex).
    #[arg(long)]
    pub key: Option<String>,
    /// key_history and words: the keyspace (default: the default keyspace).
    #[arg(long, short = 'k', value_name = "NAME")]
    pub keyspace: Option<String>,
    /// key_history: read as of this txn (default: the newest answered).
    #[arg(long, value_name = "TXN")]
    pub as_of: Option<u64>,
    /// key_history: list every version of the key instead.
    #[arg(long)]
    pub history: bool,
    /// pending_tasks_by_type: the task type (without: counts by type and the next task).
    #[arg(long = "type", value_name = "TYPE")]
    pub task_type: Option<String>,
    /// pending_tasks_by_type: how many tasks to list.
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
    /// words: the word.
    #[arg(long)]
    pub word: Option<String>,
    /// Keys are given and shown as hex digits.
    #[arg(long)]
    pub hex: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `cartridge query`.
pub fn run(args: &QueryArgs) -> Outcome {
    let recipe = args.kind.recipe();
    let log = LogSource::open(&args.path).map_err(failure)?;
    let path = cartridge_path(&args.path, recipe.name());
    if !path.exists() {
        return Err(Failure::new(format!(
            "{}: no such cartridge; build it with `northstar cartridge build {} {}`",
            path.display(),
            args.path.display(),
            recipe.name()
        )));
    }
    let cartridge =
        Cartridge::open_for(&path, log.database_id(), recipe.name()).map_err(failure)?;
    let result = match recipe.extractor() {
        None => key_history(args, &cartridge, &log)?,
        Some(extractor) => {
            let index = StateIndex::new(&cartridge).map_err(failure)?;
            if args.now {
                let delta =
                    Delta::load(&cartridge, &log, None, |keyspace| extractor.wants(keyspace))
                        .map_err(failure)?;
                state(args, &StateNow::new(index, &delta, extractor))?
            } else {
                state(args, &index)?
            }
        }
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{result:#}")?;
    } else {
        write_text(&mut out, &result)?;
    }
    Ok(())
}

fn write_text(out: &mut impl Write, result: &Value) -> std::io::Result<()> {
    let Value::Object(fields) = result else {
        return writeln!(out, "{result}");
    };
    for (name, value) in fields {
        match value {
            Value::Array(items) => {
                writeln!(out, "{name}:")?;
                for item in items {
                    writeln!(out, "  {item}")?;
                }
            }
            Value::String(text) => writeln!(out, "{name}: {text}")?,
            other => writeln!(out, "{name}: {other}")?,
        }
    }
    Ok(())
}

fn shown(value: Option<&[u8]>, encoding: Encoding) -> Value {
    value.map_or(Value::Null, |value| {
        Value::String(bytes::show(value, encoding, None))
    })
}

fn key_history(args: &QueryArgs, cartridge: &Cartridge, log: &LogSource) -> Result<Value, Failure> {
    let encoding = Encoding::from_hex_flag(args.hex);
    let Some(key) = &args.key else {
        return Err(Failure::new("key_history queries need --key"));
    };
    let key = input::parse(key, encoding, "KEY")?;
    let keyspace = args.keyspace.as_deref().unwrap_or("").as_bytes();
    let base = KeyHistory::new(cartridge).map_err(failure)?;
    if args.history {
        let versions: Vec<Value> = base
            .history(keyspace, &key)
            .iter()
            .map(|version| json!({ "txn": version.txn, "value": shown(version.value, encoding) }))
            .collect();
        return Ok(json!({ "txn_to": cartridge.txn_to(), "versions": versions }));
    }
    let (value, txn) = if args.now {
        let now = KeyHistoryNow::load(base, log).map_err(failure)?;
        let txn = args.as_of.unwrap_or(now.txn());
        (now.get_at(keyspace, &key, txn).map_err(failure)?, txn)
    } else {
        let txn = args.as_of.unwrap_or(cartridge.txn_to());
        (
            base.get_at(keyspace, &key, txn)
                .map_err(failure)?
                .map(<[u8]>::to_vec),
            txn,
        )
    };
    Ok(
        json!({ "as_of": txn, "found": value.is_some(), "value": shown(value.as_deref(), encoding) }),
    )
}

fn state(args: &QueryArgs, index: &impl IndexRead) -> Result<Value, Failure> {
    match args.kind {
        KindArg::PendingTasksByType => {
            let queue = TaskQueue::new(index);
            if let Some(task_type) = &args.task_type {
                let tasks: Vec<Value> = queue
                    .next_pending(task_type.as_bytes(), args.limit)
                    .iter()
                    .map(|task| json!({ "id": task.id, "priority": task.priority }))
                    .collect();
                let count = queue.pending_count(task_type.as_bytes());
                return Ok(
                    json!({ "as_of": index.txn(), "type": task_type, "pending": count, "next": tasks }),
                );
            }
            let counts: Vec<Value> = queue
                .pending_counts()
                .iter()
                .map(|(task_type, count)| json!({ "type": String::from_utf8_lossy(task_type), "pending": count }))
                .collect();
            let next = queue.next_claimable().map(|(task_type, task)| {
                json!({ "type": String::from_utf8_lossy(&task_type), "id": task.id, "priority": task.priority })
            });
            Ok(json!({ "as_of": index.txn(), "counts": counts, "next_claimable": next }))
        }
        _ => {
            let Some(word) = &args.word else {
                return Err(Failure::new("words queries need --word"));
            };
            let keyspace = args.keyspace.as_deref().unwrap_or("").as_bytes();
            let keys: Vec<Value> = WordIndex::lookup(index, keyspace, word)
                .iter()
                .map(|(_, key)| {
                    Value::String(bytes::show(key, Encoding::from_hex_flag(args.hex), None))
                })
                .collect();
            Ok(json!({ "as_of": index.txn(), "word": word, "keys": keys }))
        }
    }
}
