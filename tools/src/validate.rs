//! `northstar validate PATH`: runs the library's validator over a database and reports
//! every problem with its page id.
//!
//! A damaged meta page is a warning, not a problem: a crash during a commit leaves one
//! behind in a sound database (the next commit rewrites it), while damage on disk means
//! the newest commit was lost. The library's report carries it in `warnings`.
//!
//! Exit codes: 0 when the database is sound, [`EXIT_PROBLEMS_FOUND`] when the validator
//! found problems, [`EXIT_CANNOT_OPEN`] when the database cannot be opened at all (the
//! message names the file and, when known, the page).
//!
//! [`EXIT_PROBLEMS_FOUND`]: crate::failure::EXIT_PROBLEMS_FOUND
//! [`EXIT_CANNOT_OPEN`]: crate::failure::EXIT_CANNOT_OPEN

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use northstar::{CheckReport, Db};
use serde_json::{json, Value};

use crate::failure::{Failure, Outcome};
use crate::open;
use crate::progress::Progress;

/// Arguments of `northstar validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Database directory (the one holding northstar.db).
    pub path: PathBuf,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Runs `northstar validate`.
pub fn run(args: &ValidateArgs) -> Outcome {
    let mut out = std::io::stdout().lock();
    let db = match open::existing(&args.path) {
        Ok(db) => db,
        Err(failure) => {
            if args.json {
                let object = json!({ "ok": false, "path": args.path, "error": failure.message });
                writeln!(out, "{object:#}")?;
            }
            return Err(failure);
        }
    };
    let report = check(&db)?;
    let warnings: Vec<String> = report.warnings.iter().map(ToString::to_string).collect();
    let page_file = db.page_file_path().display().to_string();
    if args.json {
        writeln!(out, "{:#}", report_json(&page_file, &report, &warnings))?;
    } else {
        if report.is_ok() {
            writeln!(out, "{}", summary(&page_file, &report))?;
        } else {
            writeln!(
                out,
                "{page_file}: {} at txn {}",
                problem_count(&report),
                report.txn_id
            )?;
            for problem in &report.problems {
                writeln!(out, "  {problem}")?;
            }
        }
        for warning in &warnings {
            writeln!(out, "warning: {warning}")?;
        }
    }
    out.flush()?;
    if report.is_ok() {
        Ok(())
    } else {
        Err(Failure::problems_found(format!(
            "validation failed: {} in {page_file}",
            problem_count(&report)
        )))
    }
}

/// Runs the validator over the newest committed state, with a spinner on a terminal.
///
/// Errors: read errors from the library (the validator reports damage as problems).
pub fn check(db: &Db) -> Result<CheckReport, Failure> {
    let spinner = Progress::spinner(format!("validating {}", db.page_file_path().display()));
    let report = db.check()?;
    spinner.finish();
    Ok(report)
}

/// The one-line summary of a sound database, starting with `ok`.
pub fn summary(page_file: &str, report: &CheckReport) -> String {
    format!(
        "ok: {page_file} at txn {}: {} pages ({} free), {} trees, {} entries",
        report.txn_id,
        report.page_count,
        report.free_pages,
        report.trees.len(),
        keyspace_entries(report)
    )
}

/// Entries in all keyspaces, the catalog's own entries left out.
pub fn keyspace_entries(report: &CheckReport) -> u64 {
    report
        .trees
        .iter()
        .filter(|tree| tree.name != "(catalog)")
        .map(|tree| tree.entries)
        .sum()
}

fn problem_count(report: &CheckReport) -> String {
    match report.problems.len() {
        1 => "1 problem".to_string(),
        count => format!("{count} problems"),
    }
}

fn report_json(page_file: &str, report: &CheckReport, warnings: &[String]) -> Value {
    let problems: Vec<Value> = report
        .problems
        .iter()
        .map(|problem| json!({ "page": problem.page, "detail": problem.detail }))
        .collect();
    json!({
        "ok": report.is_ok(),
        "path": page_file,
        "txn_id": report.txn_id,
        "page_count": report.page_count,
        "free_pages": report.free_pages,
        "freelist_pages": report.freelist_pages,
        "trees": report.trees.len(),
        "entries": keyspace_entries(report),
        "problems": problems,
        "warnings": warnings,
    })
}
