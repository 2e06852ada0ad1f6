//! Reporting a [`Verdict`]: the one-line summary, the full text listing, the JSON object,
//! and the failure (message and exit code) of a log that is not sound; and damage met by
//! any reader of a log, in words and in JSON.
//!
//! Invariants: every damaged stretch is named by its offset and the txn expected there;
//! a torn tail exits 1 and corruption exits 2, whoever reports it.

use std::io::Write;
use std::path::Path;

use serde_json::{json, Value};

use super::verify::{Status, Verdict};
use super::walk::{Damage, DamageKind};
use crate::bytes;
use crate::failure::Failure;
use crate::stat::human_size;

impl Verdict {
    /// One line, starting with `ok:`, `torn tail:` or `corrupt:`.
    pub fn summary(&self) -> String {
        let path = self.path.display();
        let size = match self.size {
            0..1024 => format!("{} bytes", self.size),
            size => format!("{size} bytes ({})", human_size(size)),
        };
        match self.status() {
            Status::Sound => format!(
                "ok: {path}: {}, {}, {size}{}",
                plural(self.records, "record"),
                self.txns(),
                self.checkpoint
                    .as_ref()
                    .map(|check| format!(", checkpoint at txn {}", check.txn_id))
                    .unwrap_or_default()
            ),
            Status::TornTail => format!(
                "torn tail: {path}: {} ({}), then {} bytes of an unfinished append at offset {}",
                plural(self.records, "valid record"),
                self.txns(),
                self.bytes_after_valid_end(),
                self.valid_end
            ),
            Status::Corrupt => {
                let stretches = self
                    .damages
                    .iter()
                    .filter(|damage| damage.kind == DamageKind::Corrupt)
                    .count();
                let what = match self.damages.first() {
                    Some(damage) if stretches > 0 => format!(
                        "{} followed by valid records, the first at offset {} where txn {} was expected",
                        plural(stretches as u64, "damaged stretch"),
                        damage.offset,
                        damage.expected_txn_id
                    ),
                    _ => "the page file's checkpoint does not match the log".to_string(),
                };
                format!(
                    "corrupt: {path}: {what}; {} ({})",
                    plural(self.records, "valid record"),
                    self.txns()
                )
            }
        }
    }

    /// `txns 1..7`, `txns 1..4, 6..8`, or `no txns`.
    fn txns(&self) -> String {
        if self.runs.is_empty() {
            return format!("no txns, the next is txn {}", self.first_txn_id);
        }
        let runs: Vec<String> = self
            .runs
            .iter()
            .map(|(first, last)| match first == last {
                true => first.to_string(),
                false => format!("{first}..{last}"),
            })
            .collect();
        let noun = if self.records == 1 { "txn" } else { "txns" };
        format!("{noun} {}", runs.join(", "))
    }

    /// The summary, then for a damaged log every problem and where the sound part ends.
    pub fn write_text(&self, out: &mut impl Write) -> std::io::Result<()> {
        writeln!(out, "{}", self.summary())?;
        if self.status() == Status::Sound {
            return Ok(());
        }
        for damage in &self.damages {
            writeln!(out, "  {}", damage_text(damage))?;
        }
        if let Some(problem) = self.checkpoint_problem() {
            writeln!(
                out,
                "  checkpoint: {problem}; opening the database will fail"
            )?;
        }
        let last = match self.valid_end_txn_id {
            Some(txn_id) => format!("the last good record (txn {txn_id}) ends"),
            None => "no record is good; the header ends".to_string(),
        };
        let cut = match (self.status(), self.checkpoint_problem()) {
            (Status::TornTail, None) => " (opening the database cuts them off)",
            _ => "",
        };
        writeln!(
            out,
            "{last} at offset {}; {} bytes follow{cut}",
            self.valid_end,
            self.bytes_after_valid_end()
        )
    }

    /// The verdict as one JSON object.
    pub fn to_json(&self) -> Value {
        let status = match self.status() {
            Status::Sound => "sound",
            Status::TornTail => "torn_tail",
            Status::Corrupt => "corrupt",
        };
        json!({
            "ok": self.status() == Status::Sound,
            "status": status,
            "path": self.path,
            "size": self.size,
            "database_id": bytes::hex(&self.database_id),
            "header_first_txn_id": self.first_txn_id,
            "records": self.records,
            "first_txn_id": self.runs.first().map(|run| run.0),
            "last_txn_id": self.runs.last().map(|run| run.1),
            "valid_end": self.valid_end,
            "bytes_after_valid_end": self.bytes_after_valid_end(),
            "checkpoint": self.checkpoint.as_ref().map(|check| json!({
                "txn_id": check.txn_id,
                "log_position": check.log_position,
                "problem": check.problem,
            })),
            "problems": self.damages.iter().map(damage_json).collect::<Vec<_>>(),
        })
    }

    /// The failure for a log that is not sound: exit 1 for a torn tail, 2 for corruption.
    pub fn failure(&self) -> Option<Failure> {
        let path = self.path.display();
        match self.status() {
            Status::Sound => None,
            Status::TornTail => Some(Failure::new(format!(
                "{path}: torn tail: {} bytes after the last good record at offset {}",
                self.bytes_after_valid_end(),
                self.valid_end
            ))),
            Status::Corrupt => Some(Failure::problems_found(format!(
                "{path}: the log is corrupt: {}",
                self.damages
                    .first()
                    .map(damage_text)
                    .or_else(|| self.checkpoint_problem().map(str::to_string))
                    .unwrap_or_default()
            ))),
        }
    }
}

/// The failure for damage met while reading records: exit 2 when any of it is followed
/// by valid records, else exit 1 for a torn tail; `None` without damage.
pub fn damage_failure(path: &Path, damages: &[Damage]) -> Option<Failure> {
    let path = path.display();
    if let Some(damage) = damages
        .iter()
        .find(|damage| damage.kind == DamageKind::Corrupt)
    {
        return Some(Failure::problems_found(format!(
            "the log {path} is corrupt: the damage at offset {} is followed by valid records",
            damage.offset
        )));
    }
    damages.first().map(|damage| {
        Failure::new(format!(
            "the log {path} ends in a torn tail at offset {}: {} bytes of an unfinished append",
            damage.offset, damage.size
        ))
    })
}

/// One damaged stretch in words: offset, expected txn, what is wrong and how far it goes.
pub fn damage_text(damage: &Damage) -> String {
    let Damage {
        offset,
        expected_txn_id,
        size,
        detail,
        ..
    } = damage;
    match (damage.kind, damage.resumes_at) {
        (DamageKind::Corrupt, Some((resume_offset, resume_txn_id))) => {
            let missing = match resume_txn_id - expected_txn_id {
                0 => String::new(),
                1 => format!(", txn {expected_txn_id} missing"),
                _ => format!(", txns {expected_txn_id}..{} missing", resume_txn_id - 1),
            };
            format!("offset {offset}: damaged record where txn {expected_txn_id} was expected ({detail}); {size} bytes up to the next valid record, txn {resume_txn_id} at offset {resume_offset}{missing}")
        }
        _ => format!("offset {offset}: torn tail where txn {expected_txn_id} was expected ({detail}); {size} bytes to the end of the file"),
    }
}

/// One damaged stretch as a JSON object.
pub fn damage_json(damage: &Damage) -> Value {
    json!({
        "kind": match damage.kind {
            DamageKind::TornTail => "torn_tail",
            DamageKind::Corrupt => "corrupt",
        },
        "offset": damage.offset,
        "expected_txn_id": damage.expected_txn_id,
        "size": damage.size,
        "detail": damage.detail,
        "next_valid_offset": damage.resumes_at.map(|resume| resume.0),
        "next_valid_txn_id": damage.resumes_at.map(|resume| resume.1),
    })
}

/// `1 record`, `7 records`.
pub fn plural(count: u64, noun: &str) -> String {
    match count {
        1 => format!("1 {noun}"),
        _ if noun.ends_with("ch") => format!("{count} {noun}es"),
        _ => format!("{count} {noun}s"),
    }
}
