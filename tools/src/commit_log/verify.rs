//! Checking a whole commit log: its header (see [`LogSource::open`]), every record, and
//! the page file's checkpoint against it. What `logdump verify` and the demo run; the
//! verdict is reported by [`super::report`].
//!
//! Invariants:
//! - The log is only read; every record is checked by the library's frame decoder.
//! - Every damaged stretch is listed with its offset and the txn expected there, also
//!   after the first one: the walk goes on from the next valid record.
//! - The status says what the log itself is: [`Status::Corrupt`] when any damaged stretch
//!   is followed by a valid record, [`Status::TornTail`] when the only damage is at the
//!   end, else [`Status::Corrupt`] when the page file's checkpoint does not match the log
//!   (a log cut at a record boundary looks sound on its own), else [`Status::Sound`]. A
//!   checkpoint past a torn tail is listed too, without hiding the torn tail. The exit
//!   codes follow the status (0, 1, 2).

use std::path::PathBuf;

use northstar::format::frame::LOG_HEADER_SIZE;
use northstar::TxnId;

use super::source::LogSource;
use super::walk::{Damage, DamageKind, Step};
use crate::progress::{Output, Progress};

/// The overall state of a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Header and every record are sound.
    Sound,
    /// Sound up to bytes at the end that are an unfinished append.
    TornTail,
    /// Damage followed by valid records, or a sound-looking log that does not match the
    /// page file's checkpoint.
    Corrupt,
}

/// The page file's checkpoint, checked against the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointCheck {
    /// Txn of the checkpoint.
    pub txn_id: TxnId,
    /// Log offset the checkpoint says its txn's record ends at (0: before the log).
    pub log_position: u64,
    /// What does not match, when something does not.
    pub problem: Option<String>,
}

/// Everything `verify` found.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The log file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Database id in the header.
    pub database_id: [u8; 16],
    /// Txn id of the log's first record, from the header.
    pub first_txn_id: TxnId,
    /// Valid records.
    pub records: u64,
    /// Runs of consecutive valid txns, in order.
    pub runs: Vec<(TxnId, TxnId)>,
    /// Offset just past the last record of the sound start of the log (where opening the
    /// database would cut a torn tail).
    pub valid_end: u64,
    /// Txn of the record ending at `valid_end`, if any.
    pub valid_end_txn_id: Option<TxnId>,
    /// Every damaged stretch, in order.
    pub damages: Vec<Damage>,
    /// The page file's checkpoint, when a page file sits beside the log.
    pub checkpoint: Option<CheckpointCheck>,
}

/// Checks every record of `source`, drawing a byte bar on a terminal.
pub fn verify(source: &LogSource) -> Verdict {
    let progress = Progress::bytes(
        source.size(),
        format!("verifying {}", source.path().display()),
        Output::AtEnd,
    );
    let header = source.header();
    let mut verdict = Verdict {
        path: source.path().to_path_buf(),
        size: source.size(),
        database_id: header.database_id,
        first_txn_id: header.first_txn_id,
        records: 0,
        runs: Vec::new(),
        valid_end: LOG_HEADER_SIZE as u64,
        valid_end_txn_id: None,
        damages: Vec::new(),
        checkpoint: None,
    };
    let checkpoint = source.checkpoint();
    let mut checkpoint_found = false;
    let mut walker = source.walk();
    while let Some(step) = walker.next() {
        match step {
            Step::Record(offset, record) => {
                let (txn_id, end) = (record.header.txn_id, offset + record.header.length);
                verdict.records += 1;
                match verdict.runs.last_mut() {
                    Some((_, last)) if *last + 1 == txn_id => *last = txn_id,
                    _ => verdict.runs.push((txn_id, txn_id)),
                }
                if verdict.damages.is_empty() {
                    verdict.valid_end = end;
                    verdict.valid_end_txn_id = Some(txn_id);
                }
                checkpoint_found |= checkpoint
                    .is_some_and(|meta| meta.txn_id == txn_id && meta.log_position == end);
            }
            Step::Damage(damage) => verdict.damages.push(damage),
        }
        progress.reached(walker.offset());
    }
    progress.finish();
    verdict.checkpoint = checkpoint.map(|meta| CheckpointCheck {
        txn_id: meta.txn_id,
        log_position: meta.log_position,
        problem: checkpoint_problem(
            meta.txn_id,
            meta.log_position,
            header.first_txn_id,
            checkpoint_found,
        ),
    });
    verdict
}

fn checkpoint_problem(
    txn_id: TxnId,
    log_position: u64,
    first_txn_id: TxnId,
    found: bool,
) -> Option<String> {
    if log_position == 0 {
        // The checkpoint predates the log, which must start right after it.
        return (first_txn_id != txn_id + 1).then(|| {
            format!("the page file's checkpoint of txn {txn_id} predates the log, so the log should start at txn {}, but it starts at txn {first_txn_id}", txn_id + 1)
        });
    }
    (!found).then(|| {
        format!("the page file's checkpoint says the record of txn {txn_id} ends at log offset {log_position}, but no valid record of txn {txn_id} ends there")
    })
}

impl Verdict {
    /// The overall state.
    pub fn status(&self) -> Status {
        if self
            .damages
            .iter()
            .any(|damage| damage.kind == DamageKind::Corrupt)
        {
            Status::Corrupt
        } else if !self.damages.is_empty() {
            Status::TornTail
        } else if self.checkpoint_problem().is_some() {
            Status::Corrupt
        } else {
            Status::Sound
        }
    }

    /// What does not match between the page file's checkpoint and the log, if anything.
    pub fn checkpoint_problem(&self) -> Option<&str> {
        self.checkpoint.as_ref()?.problem.as_deref()
    }

    /// Bytes after the sound start of the log.
    pub fn bytes_after_valid_end(&self) -> u64 {
        self.size.saturating_sub(self.valid_end)
    }
}
