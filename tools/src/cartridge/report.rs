//! `cartridge list`, `cartridge inspect` and `cartridge verify`: what a database's
//! cartridges are, and whether they can be trusted.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use northstar_cartridges::{
    build_at, freshness, hex_id, list as list_cartridges, BuildOptions, Cartridge, LogSource,
    Recipe,
};
use serde_json::{json, Value};

use super::command::{failure, resolve, KindArg};
use crate::failure::{Failure, Outcome};

/// Arguments of `cartridge list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Database directory.
    pub path: PathBuf,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `cartridge inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Database directory.
    pub path: PathBuf,
    /// Cartridge: a kind name (`key_history`, ...) or the path of a `.cart` file.
    pub name: String,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `cartridge verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Database directory.
    pub path: PathBuf,
    /// Also rebuild each cartridge at its txn and compare the bytes.
    #[arg(long)]
    pub rebuild: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

fn seconds_since_epoch(time: Option<std::time::SystemTime>) -> Option<u64> {
    time?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|elapsed| elapsed.as_secs())
}

/// Runs `cartridge list`.
pub fn list(args: &ListArgs) -> Outcome {
    let infos = list_cartridges(&args.path).map_err(failure)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let rows: Vec<Value> = infos
            .iter()
            .map(|info| {
                json!({
                    "path": info.path,
                    "kind": info.kind_name,
                    "txn_from": info.txn_range.map(|range| range.0),
                    "txn_to": info.txn_range.map(|range| range.1),
                    "file_size": info.file_size,
                    "lag_txns": info.freshness.map(|f| f.lag_txns),
                    "lag_bytes": info.freshness.map(|f| f.lag_bytes),
                    "ahead_of_log": info.freshness.map(|f| f.ahead_of_log),
                    "built_at_unix_s": seconds_since_epoch(info.built_at),
                    "error": info.error,
                })
            })
            .collect();
        writeln!(out, "{:#}", Value::Array(rows))?;
        return Ok(());
    }
    if infos.is_empty() {
        writeln!(out, "no cartridges in {}", args.path.display())?;
    }
    for info in &infos {
        let name = info.path.file_name().unwrap_or_default().to_string_lossy();
        match (&info.error, info.txn_range, info.freshness) {
            (None, Some((from, to)), Some(freshness)) => writeln!(
                out,
                "{name}: {} txns {from}..={to}, {} bytes, lag {} txns{}, built {} s ago",
                info.kind_name.as_deref().unwrap_or("?"),
                info.file_size,
                freshness.lag_txns,
                if freshness.ahead_of_log {
                    " (AHEAD OF THE LOG: rebuild)"
                } else {
                    ""
                },
                info.built_at
                    .and_then(|built| built.elapsed().ok())
                    .map_or(0, |age| age.as_secs()),
            )?,
            (error, _, _) => writeln!(out, "{name}: refused: {}", error.as_deref().unwrap_or("?"))?,
        }
    }
    Ok(())
}

/// Runs `cartridge inspect`.
pub fn inspect(args: &InspectArgs) -> Outcome {
    let path = resolve(&args.path, &args.name);
    let cartridge = Cartridge::open(&path).map_err(failure)?;
    let log = LogSource::open(&args.path).map_err(failure)?;
    let freshness = freshness(&cartridge, &log, None).map_err(failure)?;
    let sections: Vec<Value> = cartridge
        .sections()
        .iter()
        .map(|s| json!({ "name": s.name, "offset": s.offset, "size": s.size, "count": s.count }))
        .collect();
    let object = json!({
        "path": path,
        "kind": cartridge.kind_name(),
        "format_version": northstar_cartridges::format::FORMAT_VERSION,
        "database_id": hex_id(&cartridge.database_id()),
        "txn_from": cartridge.txn_from(),
        "txn_to": cartridge.txn_to(),
        "params": String::from_utf8_lossy(cartridge.params()),
        "params_hash": format!("{:016x}", cartridge.params_hash()),
        "file_size": cartridge.file_size(),
        "lag_txns": freshness.lag_txns,
        "ahead_of_log": freshness.ahead_of_log,
        "sections": sections,
    });
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{object:#}")?;
        return Ok(());
    }
    for key in [
        "path",
        "kind",
        "format_version",
        "database_id",
        "txn_from",
        "txn_to",
        "params",
        "params_hash",
        "file_size",
        "lag_txns",
        "ahead_of_log",
    ] {
        writeln!(
            out,
            "{key:>14}: {}",
            object[key].to_string().trim_matches('"')
        )?;
    }
    writeln!(out, "{:>14}:", "sections")?;
    for section in cartridge.sections() {
        writeln!(
            out,
            "{:>20} at {:>8}, {:>10} bytes, {:>8} items",
            section.name, section.offset, section.size, section.count
        )?;
    }
    Ok(())
}

/// The recipe to rebuild a cartridge of kind `name` with, when the CLI knows it.
fn recipe_for(name: &str) -> Option<Recipe> {
    [
        KindArg::KeyHistory,
        KindArg::PendingTasksByType,
        KindArg::Words,
    ]
    .into_iter()
    .map(KindArg::recipe)
    .find(|recipe| recipe.name() == name)
}

/// Runs `cartridge verify`.
pub fn verify(args: &VerifyArgs) -> Outcome {
    let infos = list_cartridges(&args.path).map_err(failure)?;
    let log = LogSource::open(&args.path).map_err(failure)?;
    let scratch = tempfile::tempdir()
        .map_err(|e| Failure::new(format!("cannot create a temporary directory: {e}")))?;
    let mut rows = Vec::new();
    let mut problems = 0;
    for info in &infos {
        let mut problem = info.error.clone();
        if problem.is_none() && info.freshness.is_some_and(|f| f.ahead_of_log) {
            problem = Some("the log no longer holds the cartridge's last txn: rebuild it".into());
        }
        let mut rebuilt = None;
        if let (None, true, Some(name), Some((_, to))) =
            (&problem, args.rebuild, &info.kind_name, info.txn_range)
        {
            if let Some(recipe) = recipe_for(name) {
                let fresh = scratch.path().join("fresh.cart");
                let options = BuildOptions {
                    up_to: Some(to),
                    ..BuildOptions::default()
                };
                build_at(&log, &fresh, &recipe, &options).map_err(failure)?;
                let same = std::fs::read(&fresh).ok() == std::fs::read(&info.path).ok();
                if !same {
                    problem = Some(format!("differs from a fresh build at txn {to}"));
                }
                rebuilt = Some(same);
            }
        }
        problems += usize::from(problem.is_some());
        rows.push(json!({ "path": info.path, "ok": problem.is_none(), "problem": problem, "equal_to_rebuild": rebuilt }));
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(
            out,
            "{:#}",
            json!({ "ok": problems == 0, "cartridges": rows })
        )?;
    } else {
        for row in &rows {
            let path = row["path"].as_str().unwrap_or("?");
            match row["problem"].as_str() {
                None if row["equal_to_rebuild"] == true => {
                    writeln!(out, "{path}: ok, equal to a fresh build")?
                }
                None => writeln!(out, "{path}: ok")?,
                Some(problem) => writeln!(out, "{path}: PROBLEM: {problem}")?,
            }
        }
    }
    if problems > 0 {
        return Err(Failure::problems_found(format!(
            "{problems} of {} cartridges failed verification",
            rows.len()
        )));
    }
    Ok(())
}
