//! The cartridge part of `northstar demo`, on a database of its own (so the main demo
//! database keeps exactly what the earlier steps wrote): tasks are enqueued, a
//! `key_history` and a
//! `pending_tasks_by_type` cartridge are built from the commit log and queried, newer
//! txns are read through the delta, the cartridges are caught up by merging and swapped
//! in, and each is verified against a fresh build.
//!
//! Every answer is checked (against the store's own AS OF reads, or what the demo wrote),
//! so a mismatch fails the demo.

use std::io::Write;

use northstar::Db;
use northstar_cartridges::tasks::{task_key, PendingTasks, Task, TaskState, TASKS_KEYSPACE};
use northstar_cartridges::{
    build_at, BuildOptions, KeyHistory, KeyHistoryNow, LogSource, Method, Recipe, Shelf,
    StateIndex, TaskQueue,
};

use super::build::report_line;
use super::command::failure;
use crate::demo::{expect, Tour};
use crate::failure::{Failure, Outcome};

const TYPES: [&str; 3] = ["email", "resize", "report"];
const STATUS_KEY: &[u8] = b"demo:status";

fn enqueue(db: &Db, first_id: u64, count: u64) -> Result<u64, Failure> {
    let mut txn = db.begin_write()?;
    if !txn.keyspaces()?.iter().any(|name| name == TASKS_KEYSPACE) {
        txn.create_keyspace(TASKS_KEYSPACE)?;
    }
    for id in first_id..first_id + count {
        let task = Task {
            state: TaskState::Pending,
            priority: (id % 4) as u32,
            task_type: TYPES[(id % 3) as usize].as_bytes(),
            payload: b"{}",
        };
        txn.keyspace(TASKS_KEYSPACE)?
            .put(task_key(id), task.encode())?;
    }
    txn.put(
        STATUS_KEY,
        format!("{count} tasks enqueued from id {first_id}"),
    )?;
    Ok(txn.commit()?)
}

/// Runs the cartridge steps of the demo on a fresh database in a temporary directory.
pub(crate) fn tour<W: Write>(tour: &mut Tour<W>) -> Outcome {
    let scratch = tempfile::tempdir()
        .map_err(|e| Failure::new(format!("cannot create a temporary directory: {e}")))?;
    let dir = scratch.path();
    let db = &Db::open(dir, northstar::Options::default())?;
    let first = enqueue(db, 1, 30)?;
    tour.step(format!(
        "cartridges, on a second database: txn {first} enqueued 30 tasks of types {TYPES:?}"
    ))?;
    let options = BuildOptions::default();
    let (history, built) = Shelf::open(dir, Recipe::KeyHistory, &options).map_err(failure)?;
    let tasks_recipe = Recipe::PendingTasks(PendingTasks::default());
    let (tasks, _) = Shelf::open(dir, tasks_recipe, &options).map_err(failure)?;
    if let Some(report) = built {
        tour.step("cartridges: key_history built from the commit log")?;
        tour.detail(report_line(&report, "full"))?;
    }
    let cartridge = history.current();
    let view = KeyHistory::new(&cartridge).map_err(failure)?;
    let stored = db
        .begin_read_at(first)?
        .get(STATUS_KEY)?
        .map(|value| value.to_vec());
    expect(
        "key_history AS OF",
        view.get_at(b"", STATUS_KEY, first).map_err(failure)?,
        stored.as_deref(),
    )?;
    tour.step(format!(
        "cartridge AS OF txn {first}: {:?} (O(log n) in the mapped file, no log replay)",
        String::from_utf8_lossy(stored.as_deref().unwrap_or_default())
    ))?;
    let queue_cartridge = tasks.current();
    let queue = TaskQueue::new(StateIndex::new(&queue_cartridge).map_err(failure)?);
    let next: Vec<u64> = queue
        .next_pending(b"email", 3)
        .iter()
        .map(|task| task.id)
        .collect();
    // What `enqueue` wrote: email tasks are the ids divisible by 3, priority id % 4.
    let mut wanted: Vec<(u64, u64)> = (1..=30)
        .filter(|id| id % 3 == 0)
        .map(|id| (id % 4, id))
        .collect();
    wanted.sort_unstable();
    let wanted: Vec<u64> = wanted.iter().take(3).map(|(_, id)| *id).collect();
    if next != wanted {
        return Err(Failure::new(format!(
            "demo check failed: next email tasks {next:?}, expected {wanted:?}"
        )));
    }
    tour.step(format!(
        "pending_tasks_by_type: next email tasks {next:?} of {} pending",
        queue.pending_count(b"email")
    ))?;

    let latest = enqueue(db, 31, 10)?;
    let log = LogSource::open(dir).map_err(failure)?;
    let now = KeyHistoryNow::load(view, &log).map_err(failure)?;
    let status = now.get(b"", STATUS_KEY).map_err(failure)?;
    expect(
        "key_history as of now",
        status.as_deref(),
        Some(b"10 tasks enqueued from id 31"),
    )?;
    tour.step(format!(
        "txn {latest} committed: the cartridge lags {} txn(s); read as of now through the delta",
        now.lag()
    ))?;
    for shelf in [&history, &tasks] {
        let report = shelf.catch_up(&options).map_err(failure)?;
        let method = if report.method == Method::Merge {
            "merge"
        } else {
            "full"
        };
        tour.step(format!(
            "caught up {} by {method}, swapped in",
            shelf.recipe().name()
        ))?;
        tour.detail(report_line(&report, method))?;
        let fresh = dir.join("fresh.cart");
        let up_to = BuildOptions {
            up_to: Some(report.txn_to),
            ..BuildOptions::default()
        };
        build_at(&log, &fresh, shelf.recipe(), &up_to).map_err(failure)?;
        if std::fs::read(&fresh).ok().as_deref() != Some(shelf.current().bytes()) {
            return Err(Failure::new(
                "demo check failed: the caught-up cartridge differs from a fresh build",
            ));
        }
        tour.detail(
            "verified: every CRC checks and the bytes equal a fresh build at the same txn",
        )?;
    }
    let caught_up = tasks.current();
    let queue = TaskQueue::new(StateIndex::new(&caught_up).map_err(failure)?);
    tour.step(format!(
        "after catch-up: {} email tasks pending; the old cartridge still answers {}",
        queue.pending_count(b"email"),
        TaskQueue::new(StateIndex::new(&queue_cartridge).map_err(failure)?).pending_count(b"email")
    ))?;
    Ok(())
}
