//! The task-queue scenario: agents claiming and completing tasks of the
//! `spec/task_queue_v1.md` layout (operations in [`super::tasks`]), every commit durable.
//!
//! - `claims_8_agents`: 8 agent threads, two per task type (4 types), each looping: claim
//!   the oldest pending task of its type (one write txn that checks and sets), then
//!   complete it (a second write txn). 16,000 claims at full scale. One op is one claim;
//!   its latency is the claim txn's alone; ops/s is claims per second of wall time,
//!   completions included. The same database measures the single-thread durable commit
//!   rate of one-put txns (1,000 at full scale, half before the agents, half after):
//!   the peer the claim rate is reported against
//!   (`claims_per_sec_over_commits_per_sec_1_thread`; group commit should make it at
//!   least 2), and the agents' txn rate, two txns per claim, against it
//!   (`txns_per_sec_over_commits_per_sec_1_thread`); `tasks_scanned_per_claim` is what
//!   a claim's scan from its type's hint read.
//! - `claims_8_agents_long_snapshot`: the same agents twice on one database: first
//!   with no reader, then with one read txn held open from before the second phase until
//!   after it. The result is the second phase; `ops_per_sec_ratio_to_no_snapshot` is
//!   its rate over the first's.
//!
//! Correctness, checked on every repeat (a failure fails the run): no task id is claimed
//! twice (`duplicate_claims`, must be 0), every claimed task is done with its
//! completion record and no claim record, the queue state passes
//! [`super::tasks::QueueState::check`], and the held snapshot still sees the queue as it
//! was when it began.
//!
//! Invariants: the database is new for every repeat; enqueuing (twice the tasks the
//! agents will claim, so pending tasks of every type remain) is not timed; the counters
//! cover the measured claims and completions only.

use std::collections::BTreeSet;
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use northstar::Db;
use northstar_cartridges::tasks::TaskState;
use tempfile::TempDir;

use super::context::Context;
use super::counters::{CheckpointWatch, Counts};
use super::error::{BenchError, Fallible};
use super::fixtures::{self, bench_options};
use super::measure::{latency_histogram, Plan, Sample};
use super::tasks::Queue;

/// Agent threads.
pub const AGENT_COUNT: u64 = 8;
/// Task types; agents are spread evenly over them.
pub const TYPE_COUNT: u64 = 4;
/// Measured claims per phase at full scale.
const CLAIMS_FULL: u64 = 16_000;
/// Single-put commits of the single-thread peer at full scale.
const PEER_COMMITS_FULL: u64 = 1_000;

/// `macro/task_queue/claims_8_agents`.
pub fn claims_8_agents(ctx: &Context) -> Fallible<Sample> {
    let plan = agent_plan(ctx);
    let (_dir, db, queue) = new_queue(ctx, 2 * claims_per_phase(&plan))?;
    // Half the peer's commits before the agents and half after, so a drift of the
    // disk's sync latency during the repeat weighs on both sides alike.
    let peer_commits = ctx.scaled(PEER_COMMITS_FULL, 10).div_ceil(2);
    let before = single_thread_commit_time(&db, peer_commits)?;
    let (mut sample, claimed) = run_agents(&db, &queue, &plan)?;
    let after = single_thread_commit_time(&db, peer_commits)?;
    let commits_per_sec = (2 * peer_commits) as f64 / (before + after).as_secs_f64().max(1e-9);
    check_claims(&db, &queue, &claimed, &mut sample)?;
    sample.figure(
        "tasks_scanned_per_claim",
        queue.scanned() as f64 / claimed.len().max(1) as f64,
    );
    let claims_per_sec = sample.ops as f64 * 1e9 / sample.duration_ns.max(1) as f64;
    sample.figure("commits_per_sec_1_thread", commits_per_sec);
    sample.figure(
        "claims_per_sec_over_commits_per_sec_1_thread",
        claims_per_sec / commits_per_sec,
    );
    // A claim and its completion are two durable txns.
    sample.figure(
        "txns_per_sec_over_commits_per_sec_1_thread",
        2.0 * claims_per_sec / commits_per_sec,
    );
    db.close()?;
    Ok(sample)
}

/// `macro/task_queue/claims_8_agents_long_snapshot`.
pub fn claims_8_agents_long_snapshot(ctx: &Context) -> Fallible<Sample> {
    let plan = agent_plan(ctx);
    let (_dir, db, queue) = new_queue(ctx, 4 * claims_per_phase(&plan))?;
    let (free, mut claimed) = run_agents(&db, &queue, &plan)?;

    let page_file_bytes = || -> Fallible<u64> {
        let path = db.page_file_path();
        Ok(std::fs::metadata(path)
            .map_err(|e| BenchError::io(path, "stat", e))?
            .len())
    };
    let snapshot = db.begin_read()?;
    let before = queue.read(&snapshot)?;
    let bytes_before = page_file_bytes()?;
    let (mut sample, claimed_held) = run_agents(&db, &queue, &plan)?;
    let growth = page_file_bytes()?.saturating_sub(bytes_before);
    let after = queue.read(&snapshot)?;
    if after.tasks != before.tasks || after.claims != before.claims {
        return Err(BenchError::new(
            "the snapshot held open during the claims saw the queue change",
        ));
    }
    drop(snapshot);

    claimed.extend(claimed_held);
    check_claims(&db, &queue, &claimed, &mut sample)?;
    let rate = |s: &Sample| s.ops as f64 * 1e9 / s.duration_ns.max(1) as f64;
    sample.figure("ops_per_sec_no_snapshot", rate(&free));
    sample.figure(
        "ops_per_sec_ratio_to_no_snapshot",
        rate(&sample) / rate(&free),
    );
    sample.figure("page_file_growth_bytes_with_snapshot", growth as f64);
    db.close()?;
    Ok(sample)
}

/// A new database in a temporary directory holding a queue of `task_count` pending tasks.
fn new_queue(ctx: &Context, task_count: u64) -> Fallible<(TempDir, Db, Queue)> {
    let dir = fixtures::temp_dir(&ctx.data_dir)?;
    let db = Db::open(dir.path(), bench_options())?;
    let queue = Queue::new(TYPE_COUNT);
    queue.create_keyspaces(&db)?;
    queue.enqueue(&db, 0, task_count)?;
    Ok((dir, db, queue))
}

fn agent_plan(ctx: &Context) -> Plan {
    ctx.plan(CLAIMS_FULL, 2 * AGENT_COUNT)
}

/// Claims the agents make in one phase, warm-up included.
fn claims_per_phase(plan: &Plan) -> u64 {
    let per_agent = plan.ops.div_ceil(AGENT_COUNT) + plan.warmup_ops.div_ceil(AGENT_COUNT);
    per_agent * AGENT_COUNT
}

/// The time `commits` durable one-put commits take on one thread.
fn single_thread_commit_time(db: &Db, commits: u64) -> Fallible<Duration> {
    let started = Instant::now();
    for index in 0..commits {
        let mut txn = db.begin_write()?;
        txn.put(b"peer/commit", index.to_le_bytes())?;
        txn.commit()?;
    }
    Ok(started.elapsed())
}

/// One phase: every agent warms up, then all claim and complete together. Returns the
/// sample (claim latencies, wall time of the measured part) and every id claimed,
/// warm-up included.
fn run_agents(db: &Db, queue: &Queue, plan: &Plan) -> Fallible<(Sample, Vec<u64>)> {
    let measured = plan.ops.div_ceil(AGENT_COUNT);
    let warmup = plan.warmup_ops.div_ceil(AGENT_COUNT);
    let watch = CheckpointWatch::new(db)?;
    let warmed = Barrier::new(AGENT_COUNT as usize + 1);
    let go = Barrier::new(AGENT_COUNT as usize + 1);
    let claimed = Mutex::new(Vec::new());
    let (start, duration_ns, outcomes) = std::thread::scope(|scope| {
        let agents: Vec<_> = (0..AGENT_COUNT)
            .map(|agent| {
                let (watch, warmed, go, claimed) = (&watch, &warmed, &go, &claimed);
                scope.spawn(move || {
                    let worker = format!("agent-{agent}").into_bytes();
                    let type_index = agent % queue.type_count();
                    let mut mine = Vec::new();
                    let mut latency_ns = latency_histogram();
                    let mut step = |timed: bool| -> Fallible<()> {
                        let started = Instant::now();
                        let id = queue.claim(db, type_index, &worker)?.ok_or_else(|| {
                            BenchError::new(format!("type {type_index} ran out of tasks"))
                        })?;
                        if timed {
                            latency_ns.saturating_record(started.elapsed().as_nanos() as u64);
                        }
                        mine.push(id);
                        queue.complete(db, id, &worker)?;
                        watch.observe()
                    };
                    // Both barriers are passed even after an error, so no thread waits forever.
                    let warm = (0..warmup).try_for_each(|_| step(false));
                    warmed.wait();
                    go.wait();
                    let outcome = warm.and_then(|()| (0..measured).try_for_each(|_| step(true)));
                    claimed.lock().expect("claimed ids").extend(mine);
                    outcome.map(|()| latency_ns)
                })
            })
            .collect();
        warmed.wait();
        let start = (Counts::at_start(Some(db)), watch.count());
        let started = Instant::now();
        go.wait();
        let outcomes: Vec<_> = agents
            .into_iter()
            .map(|agent| agent.join().expect("agent thread panicked"))
            .collect();
        (start, started.elapsed().as_nanos() as u64, outcomes)
    });
    let counts = start.0.until(Counts::at_end(Some(db)));
    let mut latency_ns = latency_histogram();
    for outcome in outcomes {
        latency_ns
            .add(outcome?)
            .expect("histograms of equal bounds add");
    }
    let sample = Sample {
        ops: measured * AGENT_COUNT,
        threads: AGENT_COUNT as u32,
        duration_ns,
        latency_ns,
        counts,
        checkpoints: watch.count() - start.1,
        warmup_ops: warmup * AGENT_COUNT,
        warmup_ns: 0,
        figures: Default::default(),
    };
    Ok((sample, claimed.into_inner().expect("claimed ids")))
}

/// Fails unless every id in `claimed` was claimed once and is done, and the queue passes
/// its checker; records the duplicate figures in `sample`.
fn check_claims(db: &Db, queue: &Queue, claimed: &[u64], sample: &mut Sample) -> Fallible<()> {
    let distinct: BTreeSet<u64> = claimed.iter().copied().collect();
    let duplicates = (claimed.len() - distinct.len()) as u64;
    sample.figure("duplicate_claims", duplicates as f64);
    sample.figure(
        "duplicate_claim_rate",
        duplicates as f64 / claimed.len().max(1) as f64,
    );
    if duplicates > 0 {
        return Err(BenchError::new(format!(
            "{duplicates} of {} claims took a task another claim had taken",
            claimed.len()
        )));
    }
    let state = queue.read(&db.begin_read()?)?;
    state.check()?;
    let done = state.count(TaskState::Done);
    if done != distinct.len() as u64 || state.count(TaskState::Claimed) != 0 {
        return Err(BenchError::new(format!(
            "{} tasks were claimed and completed, but the queue holds {done} done and {} claimed",
            distinct.len(),
            state.count(TaskState::Claimed)
        )));
    }
    if let Some(id) = distinct
        .iter()
        .find(|id| state.tasks.get(id) != Some(&TaskState::Done))
    {
        return Err(BenchError::new(format!(
            "task {id} was claimed and completed but is not done"
        )));
    }
    Ok(())
}
