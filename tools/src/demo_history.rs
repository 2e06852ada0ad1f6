//! The demo's time travel: the history of an overwritten key read from the commit log, an
//! AS OF read from before the overwrite, the log replayed into memory up to that txn, and
//! the `logdump verify` check of the whole log.
//!
//! Every answer is checked, against what the demo wrote and against the other ways of
//! reading the past (the AS OF view and the in-memory replay must agree); a mismatch
//! fails the demo (exit 1). The same library functions as the commands are used:
//! [`history::versions`], [`replay::replay`], [`commit_log::verify`].

use std::io::Write;

use northstar::{Db, TxnId};

use crate::bytes::{Encoding, WIDTH_DEFAULT};
use crate::commit_log::{self, LogSource, Status};
use crate::demo::{expect, shown_value, Tour};
use crate::failure::{Failure, Outcome};
use crate::history::{self, Change};
use crate::replay;
use crate::stat::human_size;

/// The key the demo wrote at txn 1 and overwrote later.
const KEY: &[u8] = b"apple";

/// Runs the time-travel steps on the demo's reopened database.
pub(crate) fn time_travel(db: &Db, tour: &mut Tour<impl Write>) -> Outcome {
    let source = LogSource::open(db.log_path())?;
    let (first_txn_id, overwrite_txn_id) = show_history(&source, tour)?;
    let before = overwrite_txn_id - 1;
    let (old_value, entry_count) = show_as_of(db, before, first_txn_id, overwrite_txn_id, tour)?;
    show_replay(db, before, old_value.as_deref(), entry_count, tour)?;
    let verdict = commit_log::verify(&source);
    if verdict.status() != Status::Sound {
        return Err(Failure::problems_found(format!(
            "demo check failed: {}",
            verdict.summary()
        )));
    }
    tour.step(format!("logdump verify: {}", verdict.summary()))
}

/// Shows the versions of the key; returns the txns of its two puts.
fn show_history(
    source: &LogSource,
    tour: &mut Tour<impl Write>,
) -> Result<(TxnId, TxnId), Failure> {
    let history = history::versions(source, None, KEY);
    let puts: Vec<(TxnId, &[u8])> = history
        .versions
        .iter()
        .filter_map(|version| match version.change {
            Change::Put(value) => Some((version.txn_id, value)),
            _ => None,
        })
        .collect();
    let [(first_txn_id, old_value), (overwrite_txn_id, new_value)] = puts[..] else {
        return Err(Failure::new(format!(
            "demo check failed: the history of apple has {} versions, expected 2 puts",
            history.versions.len()
        )));
    };
    expect("apple in its first version", Some(old_value), Some(b"red"))?;
    expect(
        "apple in its second version",
        Some(new_value),
        Some(b"green"),
    )?;
    let (first, last) = history.txn_range.unwrap_or_default();
    tour.step(format!(
        "history of apple, read from the commit log (txns {first}..{last}, {}):",
        human_size(source.size())
    ))?;
    for version in &history.versions {
        let text = history::version_text(version, Encoding::Text, Some(WIDTH_DEFAULT));
        tour.detail(text)?;
    }
    Ok((first_txn_id, overwrite_txn_id))
}

/// Reads the key AS OF txn `before` and now; returns the old value and the entry count
/// of the default keyspace then.
fn show_as_of(
    db: &Db,
    before: TxnId,
    first_txn_id: TxnId,
    overwrite_txn_id: TxnId,
    tour: &mut Tour<impl Write>,
) -> Result<(Option<Vec<u8>>, u64), Failure> {
    let then = db.begin_read_at(before)?;
    let old_value = then.get(KEY)?.map(|value| value.into_owned());
    expect(
        "apple AS OF the txn before the overwrite",
        old_value.as_deref(),
        Some(b"red"),
    )?;
    let now = db.begin_read()?;
    let new_value = now.get(KEY)?.map(|value| value.into_owned());
    expect("apple now", new_value.as_deref(), Some(b"green"))?;
    tour.step(format!(
        "AS OF txn {before} (after txn {first_txn_id} wrote apple, before txn {overwrite_txn_id} overwrote it): get apple -> {}; now at txn {}: get apple -> {}",
        shown_value(old_value.as_deref()),
        now.txn_id(),
        shown_value(new_value.as_deref())
    ))?;
    tour.detail(format!(
        "the view is the snapshot of txn {} plus {} log records replayed into memory; {} entries then, {} now",
        then.base_txn_id(),
        then.replayed_records(),
        then.len(),
        now.len()
    ))?;
    Ok((old_value, then.len()))
}

/// Replays the log alone up to txn `before` and checks it agrees with the AS OF view.
fn show_replay(
    db: &Db,
    before: TxnId,
    old_value: Option<&[u8]>,
    entry_count: u64,
    tour: &mut Tour<impl Write>,
) -> Outcome {
    let replayed = replay::replay(db.log_path(), before)?;
    let keyspaces = replay::keyspaces(&replayed, None)?;
    let default_entries = &keyspaces[0].1;
    let value = default_entries
        .iter()
        .find(|(key, _)| *key == KEY)
        .map(|(_, value)| *value);
    expect("apple in the replay", value, old_value)?;
    if default_entries.len() as u64 != entry_count {
        return Err(Failure::new(format!(
            "demo check failed: the replay to txn {before} holds {} entries, the AS OF view {entry_count}",
            default_entries.len()
        )));
    }
    let counts: Vec<String> = keyspaces
        .iter()
        .map(|(name, entries)| match name {
            None => format!("default keyspace {} entries", entries.len()),
            Some(name) => format!("keyspace {name:?} {} entries", entries.len()),
        })
        .collect();
    tour.step(format!(
        "replay --to {before}: the log alone replayed into memory: {}; apple -> {}",
        counts.join(", "),
        shown_value(value)
    ))
}
