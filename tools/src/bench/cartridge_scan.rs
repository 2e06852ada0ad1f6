//! The cartridge-against-scan scenario: the next pending tasks of a type in run order,
//! answered by a `pending_tasks_by_type` cartridge and by a scan of the `tasks`
//! keyspace.
//!
//! Queue at full scale: 1,000,000 tasks of the `spec/task_queue_v1.md` layout over 8
//! types, random priorities 0–7, and a history behind them: 60% done, 10% claimed, 30%
//! pending (so a scan reads three finished or claimed tasks for each pending one).
//!
//! - `pending_tasks_by_type`: one op is `TaskQueue::next_pending_into` of the first 10
//!   pending tasks of a random type from the cartridge, built once from the log before
//!   measuring; 100,000 queries. The peer, in the same repeat: the same question by a
//!   scan of `tasks` in one read txn (decode every task, keep the type's pending ones,
//!   the 10 least (priority, id)), 20 queries: `scan_latency_ns_p50`/`_p99` and
//!   `speedup_p50` (scan p50 over cartridge p50).
//! - Rebuild against savings: `build_ns` (full build from the log), then 1% more claims
//!   are committed and the shelf catches up (`catch_up_ns`, by merge when cheaper);
//!   `queries_to_pay_for_build` and `queries_to_pay_for_catch_up` divide those costs by
//!   the mean time a query saves.
//!
//! Correctness: every cartridge answer equals the model's (the generator's pending
//! tasks sorted by priority and id), every scan answer too, and after the catch-up the
//! cartridge answers every type as the updated model says; a failure fails the run.

use std::collections::BTreeSet;
use std::time::Instant;

use northstar::{Db, ReadTxn};
use northstar_cartridges::tasks::{task_key, PendingTasks, Task, TaskState, TASKS_KEYSPACE};
use northstar_cartridges::{BuildOptions, PendingTask, Recipe, Shelf, StateIndex, TaskQueue};

use super::context::Context;
use super::error::{BenchError, Fallible};
use super::fixtures::{self, bench_options, XorShift, SEED};
use super::measure::{latency_histogram, run_ops, Probe, Sample};
use super::tasks::task_type;

/// Tasks at full scale.
const TASKS_FULL: u64 = 1_000_000;
/// Task types.
const TYPE_COUNT: u64 = 8;
/// Distinct priorities.
const PRIORITY_COUNT: u64 = 8;
/// Pending tasks asked for per query.
const ANSWER_LEN: usize = 10;
/// Tasks per enqueuing txn.
const ENQUEUE_TXN_TASK_COUNT: u64 = 10_000;

/// Pending tasks by type, in run order: the model.
type Model = Vec<BTreeSet<PendingTask>>;

fn first_pending(model: &Model, type_index: u64) -> Vec<PendingTask> {
    model[type_index as usize]
        .iter()
        .take(ANSWER_LEN)
        .copied()
        .collect()
}

/// Fills a new queue in `db`; returns the model.
fn fill(db: &Db, task_count: u64) -> Fallible<Model> {
    let mut rng = XorShift::new(SEED);
    let mut model = vec![BTreeSet::new(); TYPE_COUNT as usize];
    let mut txn = db.begin_write()?;
    txn.create_keyspace(TASKS_KEYSPACE)?;
    txn.commit()?;
    let mut payload = [0u8; 32];
    for first in (0..task_count).step_by(ENQUEUE_TXN_TASK_COUNT as usize) {
        let mut txn = db.begin_write()?;
        let mut tasks = txn.keyspace(TASKS_KEYSPACE)?;
        for id in first..(first + ENQUEUE_TXN_TASK_COUNT).min(task_count) {
            let type_index = rng.below(TYPE_COUNT);
            let priority = rng.below(PRIORITY_COUNT) as u32;
            let state = match rng.below(10) {
                0..=5 => TaskState::Done,
                6 => TaskState::Claimed,
                _ => TaskState::Pending,
            };
            if state == TaskState::Pending {
                model[type_index as usize].insert(PendingTask { priority, id });
            }
            payload[..8].copy_from_slice(&id.to_le_bytes());
            let task = Task {
                state,
                priority,
                task_type: &task_type(type_index),
                payload: &payload,
            };
            tasks.put(task_key(id), task.encode())?;
        }
        txn.commit()?;
    }
    Ok(model)
}

/// The first pending tasks of `type_index` by scanning every task.
fn scan(txn: &ReadTxn<'_>, type_index: u64) -> Fallible<Vec<PendingTask>> {
    let wanted = task_type(type_index);
    let mut found = BTreeSet::new();
    for entry in txn.keyspace(TASKS_KEYSPACE)?.iter()? {
        let (key, value) = entry?;
        let task = Task::decode(&value)
            .ok_or_else(|| BenchError::new(format!("task {key:?} does not decode")))?;
        if task.state == TaskState::Pending && task.task_type == wanted.as_slice() {
            let id = u64::from_be_bytes(
                key.try_into()
                    .map_err(|_| BenchError::new(format!("task key {key:?} is not 8 bytes")))?,
            );
            found.insert(PendingTask {
                priority: task.priority,
                id,
            });
            if found.len() > ANSWER_LEN {
                found.pop_last();
            }
        }
    }
    Ok(found.into_iter().collect())
}

fn check(what: &str, type_index: u64, found: &[PendingTask], model: &Model) -> Fallible<()> {
    let expected = first_pending(model, type_index);
    if found != expected.as_slice() {
        return Err(BenchError::new(format!(
            "{what}: the first pending tasks of type {type_index} are {found:?}, the model says {expected:?}"
        )));
    }
    Ok(())
}

/// Claims the first `count` pending tasks of each type in turn, updating the model.
fn claim_more(db: &Db, model: &mut Model, count: u64) -> Fallible<()> {
    for round in 0..count {
        let type_index = round % TYPE_COUNT;
        let Some(next) = model[type_index as usize].pop_first() else {
            continue;
        };
        let mut txn = db.begin_write()?;
        let mut tasks = txn.keyspace(TASKS_KEYSPACE)?;
        let value = tasks
            .get(task_key(next.id))?
            .ok_or_else(|| BenchError::new(format!("task {} is missing", next.id)))?
            .into_owned();
        let task = Task::decode(&value)
            .ok_or_else(|| BenchError::new(format!("task {} does not decode", next.id)))?;
        let claimed = Task {
            state: TaskState::Claimed,
            ..task
        };
        tasks.put(task_key(next.id), claimed.encode())?;
        txn.commit()?;
    }
    Ok(())
}

/// `macro/cartridge/pending_tasks_by_type`.
pub fn pending_tasks_by_type(ctx: &Context) -> Fallible<Sample> {
    let dir = fixtures::temp_dir(&ctx.data_dir)?;
    let db = Db::open(dir.path(), bench_options())?;
    let task_count = ctx.scaled(TASKS_FULL, 1_000);
    let mut model = fill(&db, task_count)?;
    let recipe = Recipe::PendingTasks(PendingTasks::default());
    let started = Instant::now();
    let (shelf, _) = Shelf::open(dir.path(), recipe, &BuildOptions::default())?;
    let build_ns = started.elapsed().as_nanos() as u64;

    let mut rng = XorShift::new(SEED);
    let types: Vec<Vec<u8>> = (0..TYPE_COUNT).map(task_type).collect();
    // Answers the timed queries are checked against, computed outside them.
    let expected: Vec<Vec<PendingTask>> = (0..TYPE_COUNT)
        .map(|type_index| first_pending(&model, type_index))
        .collect();
    let mut sample = {
        let cartridge = shelf.current();
        let queue = TaskQueue::new(StateIndex::new(&cartridge)?);
        let mut answer = [PendingTask { priority: 0, id: 0 }; ANSWER_LEN];
        run_ops(&ctx.plan(100_000, 100), &Probe::none(), || {
            let type_index = rng.below(TYPE_COUNT);
            let count = queue.next_pending_into(&types[type_index as usize], &mut answer);
            if answer[..count] != expected[type_index as usize] {
                return check("cartridge", type_index, &answer[..count], &model);
            }
            Ok(())
        })?
    };
    let mut scan_ns = latency_histogram();
    {
        let txn = db.begin_read()?;
        for _ in 0..ctx.scaled(20, 3) {
            let type_index = rng.below(TYPE_COUNT);
            let started = Instant::now();
            let found = scan(&txn, type_index)?;
            scan_ns.saturating_record(started.elapsed().as_nanos() as u64);
            check("scan", type_index, &found, &model)?;
        }
    }

    claim_more(&db, &mut model, task_count / 100)?;
    let started = Instant::now();
    shelf.catch_up(&BuildOptions::default())?;
    let catch_up_ns = started.elapsed().as_nanos() as u64;
    let cartridge = shelf.current();
    let queue = TaskQueue::new(StateIndex::new(&cartridge)?);
    for type_index in 0..TYPE_COUNT {
        let found = queue.next_pending(&task_type(type_index), ANSWER_LEN);
        check("cartridge after catching up", type_index, &found, &model)?;
    }
    drop(cartridge);
    drop(shelf);
    db.close()?;

    let saved_ns = (scan_ns.mean() - sample.latency_ns.mean()).max(1.0);
    sample.figure("scan_latency_ns_p50", scan_ns.value_at_quantile(0.5) as f64);
    sample.figure(
        "scan_latency_ns_p99",
        scan_ns.value_at_quantile(0.99) as f64,
    );
    sample.figure(
        "speedup_p50",
        scan_ns.value_at_quantile(0.5) as f64
            / sample.latency_ns.value_at_quantile(0.5).max(1) as f64,
    );
    sample.figure("build_ns", build_ns as f64);
    sample.figure("catch_up_ns", catch_up_ns as f64);
    sample.figure("queries_to_pay_for_build", build_ns as f64 / saved_ns);
    sample.figure("queries_to_pay_for_catch_up", catch_up_ns as f64 / saved_ns);
    sample.figure("tasks", task_count as f64);
    Ok(sample)
}
