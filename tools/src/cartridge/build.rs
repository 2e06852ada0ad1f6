//! `cartridge build` and `cartridge catch-up`: write a cartridge from the log, or bring
//! one up to the newest txn, and report what was done.

use std::io::Write;

use northstar_cartridges::{cartridge_path, BuildOptions, BuildReport, Method, Shelf};
use serde_json::json;

use super::command::{failure, BuildArgs};
use crate::failure::Outcome;

/// Runs `cartridge build` (or, with `catch_up`, `cartridge catch-up`).
pub fn run(args: &BuildArgs, catch_up: bool) -> Outcome {
    let recipe = args.kind.recipe();
    let options = BuildOptions {
        up_to: args.up_to,
        memory_budget: args.memory_mib.max(1) << 20,
        progress: !args.json,
        ..BuildOptions::default()
    };
    let report = if catch_up {
        let (shelf, built) = Shelf::open(&args.path, recipe, &options).map_err(failure)?;
        match built {
            Some(report) => report,
            None => shelf.catch_up(&options).map_err(failure)?,
        }
    } else {
        let log = northstar_cartridges::LogSource::open(&args.path).map_err(failure)?;
        let path = cartridge_path(&args.path, recipe.name());
        northstar_cartridges::build_at(&log, &path, &recipe, &options).map_err(failure)?
    };
    print_report(&report, args.json)
}

/// Prints what a build did.
pub fn print_report(report: &BuildReport, as_json: bool) -> Outcome {
    let mut out = std::io::stdout().lock();
    let method = match report.method {
        Method::Full => "full",
        Method::Merge => "merge",
    };
    if as_json {
        let object = json!({
            "path": report.path,
            "txn_from": report.txn_from,
            "txn_to": report.txn_to,
            "entries": report.entry_count,
            "file_size": report.file_size,
            "elapsed_ms": report.elapsed.as_secs_f64() * 1e3,
            "method": method,
        });
        writeln!(out, "{object:#}")?;
    } else {
        writeln!(out, "{}", report_line(report, method))?;
    }
    Ok(())
}

/// One line about a build, for people.
pub fn report_line(report: &BuildReport, method: &str) -> String {
    let rate = report.entry_count as f64 / report.elapsed.as_secs_f64().max(1e-9);
    format!(
        "{}: txns {}..={}, {} entries, {} bytes, {} build in {:.1} ms ({:.0} entries/s)",
        report.path.display(),
        report.txn_from,
        report.txn_to,
        report.entry_count,
        report.file_size,
        method,
        report.elapsed.as_secs_f64() * 1e3,
        rate
    )
}
