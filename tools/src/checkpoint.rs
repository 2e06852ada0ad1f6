//! `northstar checkpoint PATH`: writes a checkpoint now (the page file made durable and
//! the meta page written for the newest txn), so the next open replays no log records.
//!
//! Opening the database already replays the log records after the last checkpoint (and
//! checkpoints when it replayed any); the report says what that open found.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use crate::failure::Outcome;
use crate::open;
use crate::stat::recovery_text;

/// Arguments of `northstar checkpoint`.
#[derive(Debug, Args)]
pub struct CheckpointArgs {
    /// Database directory (the one holding northstar.db).
    pub path: PathBuf,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Runs `northstar checkpoint`.
pub fn run(args: &CheckpointArgs) -> Outcome {
    let db = open::existing(&args.path)?;
    let recovery = db.recovery_report().clone();
    db.checkpoint()?;
    let txn_id = db.last_txn_id();
    let mut out = std::io::stdout().lock();
    if args.json {
        let object = json!({
            "path": db.page_file_path(),
            "checkpoint_txn_id": txn_id,
            "open": crate::stat::recovery_json(&recovery),
        });
        writeln!(out, "{object:#}")?;
    } else {
        writeln!(
            out,
            "checkpoint at txn {txn_id} written to {}",
            db.page_file_path().display()
        )?;
        writeln!(out, "before it, open found: {}", recovery_text(&recovery))?;
    }
    out.flush()?;
    db.close()?;
    Ok(())
}
