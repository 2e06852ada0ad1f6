//! Agents of the task-queue benchmark killed with SIGKILL in the middle of claiming. A
//! helper process (this test binary run again, see `common::child`) opens the queue and
//! runs agent threads that claim and complete tasks (`northstar_tools::bench::tasks`),
//! printing each claim and each completion after its durable commit returned; the parent
//! kills it after a seeded 0–60 ms, reopens the database and checks, against the model
//! built from every line acknowledged so far:
//!
//! - the validator passes and the queue passes its own checker (claim and completion
//!   records match the task states; per type, the non-pending tasks are a prefix of its
//!   ids, so no claim skipped a pending task);
//! - every acknowledged claim is there, held by the worker that was told it won, or done
//!   by that worker; every acknowledged completion is done;
//! - no task was acknowledged to two workers, across all kills;
//! - nothing went backwards since the last reopen, and at most one unacknowledged claim
//!   and one unacknowledged completion per agent became durable (the ones in flight).
//!
//! `NORTHSTAR_TASK_QUEUE_KILLS=n` sets the number of kills (default 20);
//! `NORTHSTAR_SEED` repeats a run.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::child::{hold_databases, say, wait_for_stdin_to_close, Helper};
use northstar::{Db, Options};
use northstar_cartridges::tasks::TaskState;
use northstar_tools::bench::fixtures::XorShift;
use northstar_tools::bench::tasks::{Queue, QueueState};

/// Set in a helper process: the database directory it claims in.
const HELPER_DIR_ENV: &str = "NORTHSTAR_TASK_QUEUE_HELPER_DIR";
/// Set in a helper process: the kill round, part of its worker ids.
const HELPER_ROUND_ENV: &str = "NORTHSTAR_TASK_QUEUE_HELPER_ROUND";
const CLAIMING_HELPER: &str = "helper_process_claims_until_it_is_killed";

/// Task types of the queue.
const TYPE_COUNT: u64 = 2;
/// Agent threads of a helper, spread over the types.
const AGENT_COUNT: u64 = 4;
/// Tasks enqueued before the first round: more than the rounds can claim.
const TASK_COUNT: u64 = 20_000;
/// How long a helper may take to open the database (a loaded CI machine is slow).
const HELPER_START_TIMEOUT: Duration = Duration::from_secs(60);

fn kill_count() -> u64 {
    std::env::var("NORTHSTAR_TASK_QUEUE_KILLS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(20)
}

fn seed() -> u64 {
    std::env::var("NORTHSTAR_SEED")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
}

/// What the helpers acknowledged, over all rounds.
#[derive(Default)]
struct Model {
    /// Worker told it won each claimed task.
    claims: BTreeMap<u64, String>,
    /// Tasks whose completion was acknowledged.
    completed: BTreeMap<u64, String>,
    /// Task states at the last reopen.
    seen: BTreeMap<u64, TaskState>,
}

impl Model {
    /// Takes in the lines of one helper; panics on a task acknowledged to two workers.
    fn acknowledge(&mut self, lines: &[String], context: &str) -> (u64, u64) {
        let (mut claims, mut completions) = (0, 0);
        for line in lines {
            let mut words = line.split_whitespace();
            let (Some(event), Some(id), Some(worker)) = (words.next(), words.next(), words.next())
            else {
                continue;
            };
            let id: u64 = id.parse().expect("a task id");
            match event {
                "claimed" => {
                    if let Some(first) = self.claims.insert(id, worker.to_string()) {
                        panic!("{context}: task {id} acknowledged to {first} and to {worker}");
                    }
                    claims += 1;
                }
                "completed" => {
                    assert_eq!(
                        self.claims.get(&id).map(String::as_str),
                        Some(worker),
                        "{context}: completion of task {id} by a worker that did not claim it"
                    );
                    self.completed.insert(id, worker.to_string());
                    completions += 1;
                }
                _ => {}
            }
        }
        (claims, completions)
    }

    /// Checks a reopened state against everything acknowledged so far.
    fn check(&mut self, state: &QueueState, context: &str) {
        state.check().unwrap_or_else(|e| panic!("{context}: {e}"));
        for (id, worker) in &self.claims {
            let holder = match state.tasks.get(id) {
                Some(TaskState::Claimed) => state.claims.get(id).map(|w| w.as_slice()),
                Some(TaskState::Done) => state.completions.get(id).map(|c| &c[1..]),
                other => {
                    panic!("{context}: acknowledged claim of task {id} by {worker} lost: {other:?}")
                }
            };
            assert_eq!(
                holder,
                Some(worker.as_bytes()),
                "{context}: task {id} acknowledged to {worker} is held by someone else"
            );
        }
        for id in self.completed.keys() {
            assert_eq!(
                state.tasks.get(id),
                Some(&TaskState::Done),
                "{context}: acknowledged completion of task {id} lost"
            );
        }
        for (id, before) in &self.seen {
            let now = state.tasks[id];
            assert!(
                rank(now) >= rank(*before),
                "{context}: task {id} went back from {before:?} to {now:?}"
            );
        }
        let unacknowledged = |wanted: &dyn Fn(TaskState) -> bool, known: &BTreeMap<u64, String>| {
            state
                .tasks
                .iter()
                .filter(|(id, state)| wanted(**state) && !known.contains_key(id))
                .filter(|(id, state)| self.seen.get(id) != Some(state))
                .count() as u64
        };
        let extra_claims = unacknowledged(&|s| s != TaskState::Pending, &self.claims);
        let extra_completions = unacknowledged(&|s| s == TaskState::Done, &self.completed);
        assert!(
            extra_claims <= AGENT_COUNT && extra_completions <= AGENT_COUNT,
            "{context}: {extra_claims} claims and {extra_completions} completions became durable without being acknowledged, more than the {AGENT_COUNT} agents had in flight"
        );
        self.seen = state.tasks.clone();
    }
}

fn rank(state: TaskState) -> u8 {
    match state {
        TaskState::Pending => 0,
        TaskState::Claimed => 1,
        TaskState::Done | TaskState::Failed => 2,
    }
}

fn reopen_and_read(dir: &Path, queue: &Queue, context: &str) -> QueueState {
    let _open = hold_databases();
    let db = Db::open(dir, Options::default().create(false))
        .unwrap_or_else(|e| panic!("{context}: reopen: {e}"));
    let report = db.check().expect("run the validator");
    assert!(
        report.problems.is_empty(),
        "{context}: {:?}",
        report.problems
    );
    let state = queue
        .read(&db.begin_read().expect("begin_read"))
        .unwrap_or_else(|e| panic!("{context}: {e}"));
    db.close().expect("close");
    state
}

#[test]
fn killed_claims_leave_every_acknowledged_claim_and_no_task_claimed_twice() {
    let seed = seed();
    eprintln!("task-queue crash test: NORTHSTAR_SEED={seed}");
    let temp = tempfile::tempdir().expect("temporary directory");
    let dir = temp.path().join("db");
    let queue = Queue::new(TYPE_COUNT);
    {
        let _open = hold_databases();
        let db = Db::open(&dir, Options::default()).expect("create");
        queue.create_keyspaces(&db).expect("keyspaces");
        queue.enqueue(&db, 0, TASK_COUNT).expect("enqueue");
        db.close().expect("close");
    }
    let mut rng = XorShift::new(seed);
    let mut model = Model::default();
    let mut acknowledged = (0, 0);
    for round in 0..kill_count() {
        let context = format!("seed {seed}, round {round}");
        let mut helper = Helper::spawn(
            CLAIMING_HELPER,
            &[
                (HELPER_DIR_ENV, dir.display().to_string()),
                (HELPER_ROUND_ENV, round.to_string()),
            ],
            &temp.path().join(format!("helper-{round}.stderr")),
        );
        let (_, mut lines) = helper.expect_line("ready", HELPER_START_TIMEOUT);
        std::thread::sleep(Duration::from_millis(rng.below(60)));
        lines.extend(helper.kill());
        let (claims, completions) = model.acknowledge(&lines, &context);
        acknowledged = (acknowledged.0 + claims, acknowledged.1 + completions);
        let state = reopen_and_read(&dir, &queue, &context);
        model.check(&state, &context);
    }
    eprintln!(
        "{} kills: {} claims and {} completions acknowledged",
        kill_count(),
        acknowledged.0,
        acknowledged.1
    );
    assert!(
        acknowledged.0 > 0,
        "no helper claimed anything before it was killed"
    );
}

/// The helper: claims and completes with [`AGENT_COUNT`] agents until killed. Does
/// nothing when run as an ordinary test.
#[test]
fn helper_process_claims_until_it_is_killed() {
    let Ok(dir) = std::env::var(HELPER_DIR_ENV) else {
        return;
    };
    let round = std::env::var(HELPER_ROUND_ENV).expect("round");
    let db = Db::open(&dir, Options::default().create(false)).expect("open");
    let queue = Queue::new(TYPE_COUNT);
    say("ready");
    std::thread::scope(|scope| {
        for agent in 0..AGENT_COUNT {
            let (db, queue, round) = (&db, &queue, &round);
            scope.spawn(move || {
                let worker = format!("r{round}-a{agent}");
                let type_index = agent % TYPE_COUNT;
                while let Some(id) = queue
                    .claim(db, type_index, worker.as_bytes())
                    .expect("claim")
                {
                    say(&format!("claimed {id} {worker}"));
                    queue.complete(db, id, worker.as_bytes()).expect("complete");
                    say(&format!("completed {id} {worker}"));
                }
            });
        }
    });
    wait_for_stdin_to_close();
}
