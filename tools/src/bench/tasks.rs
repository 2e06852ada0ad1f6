//! The task queue of `spec/task_queue_v1.md` as the task-queue benchmark and its crash
//! harness drive it: enqueue, claim (check and set in one write txn), complete, and the
//! checker of the queue's invariants. The byte layout is the spec's code home,
//! `northstar_cartridges::tasks`; this module only uses it.
//!
//! How the benchmark uses the layout (spec section "Benchmark invariants"):
//! - Task `id` has type [`task_type`]`(id % type_count)` and a priority equal to that
//!   type's index, so within a type run order (priority, id) is id order.
//! - A claim takes the pending task of its type with the lowest id. Tasks are never
//!   released, so the non-pending tasks of each type are a prefix of that type's ids.
//!
//! Invariants the checker ([`QueueState::check`]) enforces on any committed state:
//! - Every value in `tasks` decodes as a task of this layout.
//! - `claims[id]` exists exactly when task `id` is claimed; `completions[id]` exactly
//!   when it is done or failed.
//! - Per type, the non-pending tasks are a prefix of its ids (no claim skipped a task).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use northstar::{Db, ReadTxn};
use northstar_cartridges::tasks::{
    task_key, Task, TaskState, CLAIMS_KEYSPACE, COMPLETIONS_KEYSPACE, TASKS_KEYSPACE,
};

use super::error::{BenchError, Fallible};

/// Tasks per enqueuing txn.
const ENQUEUE_TXN_TASK_COUNT: u64 = 10_000;
/// Bytes of every task's payload.
pub const PAYLOAD_SIZE: usize = 64;
/// How long a claim's lease runs, in milliseconds.
const LEASE_MS: u64 = 60_000;
/// Outcome byte of a successful completion.
const OUTCOME_DONE: u8 = 0;

/// The name of task type `index`: `type-NN`.
pub fn task_type(index: u64) -> Vec<u8> {
    format!("type-{index:02}").into_bytes()
}

/// A queue of `type_count` task types in one database, with a claim hint per type.
pub struct Queue {
    type_count: u64,
    /// Per type, an id at or below the lowest pending task of the type: where a claim
    /// starts scanning. Only a hint: the claim txn checks every task it considers.
    hints: Vec<AtomicU64>,
    /// Task values claims have read, over all claims (to show what a claim's scan costs).
    scanned: AtomicU64,
}

impl Queue {
    /// A queue of `type_count` types (at least 1).
    pub fn new(type_count: u64) -> Queue {
        assert!(type_count > 0, "a queue needs a task type");
        Queue {
            type_count,
            hints: (0..type_count).map(|_| AtomicU64::new(0)).collect(),
            scanned: AtomicU64::new(0),
        }
    }

    /// Task values read by the claims of this queue so far.
    pub fn scanned(&self) -> u64 {
        self.scanned.load(Ordering::Relaxed)
    }

    /// Task types of the queue.
    pub fn type_count(&self) -> u64 {
        self.type_count
    }

    /// The type index of task `id`.
    pub fn type_of(&self, id: u64) -> u64 {
        id % self.type_count
    }

    /// Creates the three keyspaces of the layout in `db` (one txn).
    pub fn create_keyspaces(&self, db: &Db) -> Fallible<()> {
        let mut txn = db.begin_write()?;
        for name in [TASKS_KEYSPACE, CLAIMS_KEYSPACE, COMPLETIONS_KEYSPACE] {
            txn.create_keyspace(name)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Enqueues pending tasks `first..first + count`, [`ENQUEUE_TXN_TASK_COUNT`] per txn.
    pub fn enqueue(&self, db: &Db, first: u64, count: u64) -> Fallible<()> {
        let mut payload = [0u8; PAYLOAD_SIZE];
        let end = first + count;
        let mut next = first;
        while next < end {
            let batch_end = (next + ENQUEUE_TXN_TASK_COUNT).min(end);
            let mut txn = db.begin_write()?;
            let mut tasks = txn.keyspace(TASKS_KEYSPACE)?;
            for id in next..batch_end {
                payload[..8].copy_from_slice(&id.to_le_bytes());
                let type_index = self.type_of(id);
                let task = Task {
                    state: TaskState::Pending,
                    priority: type_index as u32,
                    task_type: &task_type(type_index),
                    payload: &payload,
                };
                tasks.put(task_key(id), task.encode())?;
            }
            txn.commit()?;
            next = batch_end;
        }
        Ok(())
    }

    /// Claims the pending task of type `type_index` with the lowest id for `worker`, in
    /// one durable write txn that checks the task is pending and marks it claimed.
    /// Returns its id, or `None` when the type has no pending task.
    pub fn claim(&self, db: &Db, type_index: u64, worker: &[u8]) -> Fallible<Option<u64>> {
        let wanted = task_type(type_index);
        let hint = &self.hints[type_index as usize];
        let mut txn = db.begin_write()?;
        let mut tasks = txn.keyspace(TASKS_KEYSPACE)?;
        let mut found = None;
        let mut scanned = 0;
        for entry in tasks
            .read()
            .range(task_key(hint.load(Ordering::Acquire))..)?
        {
            let (key, value) = entry?;
            scanned += 1;
            let id = decode_id(key)?;
            let task = decode_task(id, &value)?;
            if task.task_type == wanted.as_slice() && task.state == TaskState::Pending {
                found = Some((
                    id,
                    Task {
                        state: TaskState::Claimed,
                        ..task
                    }
                    .encode(),
                ));
                break;
            }
        }
        self.scanned.fetch_add(scanned, Ordering::Relaxed);
        let Some((id, claimed)) = found else {
            return Ok(None);
        };
        tasks.put(task_key(id), claimed)?;
        let mut claim = (now_ms() + LEASE_MS).to_le_bytes().to_vec();
        claim.extend_from_slice(worker);
        txn.keyspace(CLAIMS_KEYSPACE)?.put(task_key(id), claim)?;
        txn.commit()?;
        hint.fetch_max(id + 1, Ordering::AcqRel);
        Ok(Some(id))
    }

    /// Completes task `id`, which `worker` must hold claimed: marks it done, deletes its
    /// claim and records the completion, in one durable write txn.
    pub fn complete(&self, db: &Db, id: u64, worker: &[u8]) -> Fallible<()> {
        let mut txn = db.begin_write()?;
        let mut tasks = txn.keyspace(TASKS_KEYSPACE)?;
        let value = tasks
            .get(task_key(id))?
            .ok_or_else(|| BenchError::new(format!("task {id} is missing")))?
            .into_owned();
        let task = decode_task(id, &value)?;
        if task.state != TaskState::Claimed {
            return Err(BenchError::new(format!(
                "task {id} is {:?}, not claimed, when completing it",
                task.state
            )));
        }
        tasks.put(
            task_key(id),
            Task {
                state: TaskState::Done,
                ..task
            }
            .encode(),
        )?;
        let mut claims = txn.keyspace(CLAIMS_KEYSPACE)?;
        let holder = claims
            .get(task_key(id))?
            .map(|claim| claim.get(8..).unwrap_or_default().to_vec());
        if holder.as_deref() != Some(worker) {
            return Err(BenchError::new(format!(
                "task {id} is claimed by {:?}, not by the completing worker {:?}",
                holder.map(|h| String::from_utf8_lossy(&h).into_owned()),
                String::from_utf8_lossy(worker)
            )));
        }
        claims.delete(task_key(id))?;
        let mut outcome = vec![OUTCOME_DONE];
        outcome.extend_from_slice(worker);
        txn.keyspace(COMPLETIONS_KEYSPACE)?
            .put(task_key(id), outcome)?;
        txn.commit()?;
        Ok(())
    }

    /// Reads the whole queue as `txn` sees it; see [`QueueState::check`].
    pub fn read(&self, txn: &ReadTxn<'_>) -> Fallible<QueueState> {
        let mut tasks = BTreeMap::new();
        for entry in txn.keyspace(TASKS_KEYSPACE)?.iter()? {
            let (key, value) = entry?;
            let id = decode_id(key)?;
            let task = decode_task(id, &value)?;
            let expected = task_type(self.type_of(id));
            if task.task_type != expected.as_slice() || task.priority as u64 != self.type_of(id) {
                return Err(BenchError::new(format!(
                    "task {id} has type {:?} and priority {}, expected {:?} and {}",
                    String::from_utf8_lossy(task.task_type),
                    task.priority,
                    String::from_utf8_lossy(&expected),
                    self.type_of(id)
                )));
            }
            tasks.insert(id, task.state);
        }
        let mut claims = BTreeMap::new();
        for entry in txn.keyspace(CLAIMS_KEYSPACE)?.iter()? {
            let (key, value) = entry?;
            let worker = value.get(8..).ok_or_else(|| {
                BenchError::new(format!("claim of {:?} is shorter than its lease", key))
            })?;
            claims.insert(decode_id(key)?, worker.to_vec());
        }
        let mut completions = BTreeMap::new();
        for entry in txn.keyspace(COMPLETIONS_KEYSPACE)?.iter()? {
            let (key, value) = entry?;
            completions.insert(decode_id(key)?, value.to_vec());
        }
        Ok(QueueState {
            type_count: self.type_count,
            tasks,
            claims,
            completions,
        })
    }
}

/// The queue's keyspaces as one read txn saw them.
#[derive(Debug, Clone)]
pub struct QueueState {
    type_count: u64,
    /// Task states by id.
    pub tasks: BTreeMap<u64, TaskState>,
    /// Claim holders (worker ids) by task id.
    pub claims: BTreeMap<u64, Vec<u8>>,
    /// Completion records by task id.
    pub completions: BTreeMap<u64, Vec<u8>>,
}

impl QueueState {
    /// Checks the invariants of the module header; the first violation is the error.
    pub fn check(&self) -> Fallible<()> {
        for id in self.claims.keys().chain(self.completions.keys()) {
            if !self.tasks.contains_key(id) {
                return Err(BenchError::new(format!(
                    "a claim or completion names task {id}, which does not exist"
                )));
            }
        }
        let mut pending_seen = vec![None; self.type_count as usize];
        for (&id, &state) in &self.tasks {
            let claimed = self.claims.contains_key(&id);
            let completed = self.completions.contains_key(&id);
            let consistent = match state {
                TaskState::Pending => !claimed && !completed,
                TaskState::Claimed => claimed && !completed,
                TaskState::Done | TaskState::Failed => !claimed && completed,
            };
            if !consistent {
                return Err(BenchError::new(format!(
                    "task {id} is {state:?} but has claim record: {claimed}, completion record: {completed}"
                )));
            }
            let first_pending = &mut pending_seen[(id % self.type_count) as usize];
            match (state, *first_pending) {
                (TaskState::Pending, None) => *first_pending = Some(id),
                (TaskState::Pending, Some(_)) => {}
                (_, Some(pending)) => {
                    return Err(BenchError::new(format!(
                        "task {id} is {state:?} although task {pending} of its type, older, is still pending"
                    )))
                }
                (_, None) => {}
            }
        }
        Ok(())
    }

    /// Tasks in `state`.
    pub fn count(&self, state: TaskState) -> u64 {
        self.tasks.values().filter(|&&s| s == state).count() as u64
    }
}

fn decode_id(key: &[u8]) -> Fallible<u64> {
    let bytes: [u8; 8] = key
        .try_into()
        .map_err(|_| BenchError::new(format!("task key {key:?} is not 8 bytes")))?;
    Ok(u64::from_be_bytes(bytes))
}

fn decode_task(id: u64, value: &[u8]) -> Fallible<Task<'_>> {
    Task::decode(value)
        .ok_or_else(|| BenchError::new(format!("the value of task {id} does not decode")))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_take_the_oldest_pending_task_of_their_type_and_completions_close_them() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), northstar::Options::default()).unwrap();
        let queue = Queue::new(3);
        queue.create_keyspaces(&db).unwrap();
        queue.enqueue(&db, 0, 9).unwrap();
        assert_eq!(queue.claim(&db, 1, b"w1").unwrap(), Some(1));
        assert_eq!(queue.claim(&db, 1, b"w2").unwrap(), Some(4));
        queue.complete(&db, 1, b"w1").unwrap();
        let error = queue.complete(&db, 4, b"w1").unwrap_err();
        assert!(
            error.message.contains("not by the completing worker"),
            "{error}"
        );
        let state = queue.read(&db.begin_read().unwrap()).unwrap();
        state.check().unwrap();
        assert_eq!(state.count(TaskState::Done), 1);
        assert_eq!(state.count(TaskState::Claimed), 1);
        assert_eq!(state.count(TaskState::Pending), 7);
        assert_eq!(queue.claim(&db, 1, b"w1").unwrap(), Some(7));
        assert_eq!(queue.claim(&db, 1, b"w1").unwrap(), None);
    }

    #[test]
    fn the_checker_refuses_a_claim_that_skipped_an_older_task() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), northstar::Options::default()).unwrap();
        let queue = Queue::new(2);
        queue.create_keyspaces(&db).unwrap();
        queue.enqueue(&db, 0, 6).unwrap();
        let mut state = queue.read(&db.begin_read().unwrap()).unwrap();
        state.check().unwrap();
        state.tasks.insert(4, TaskState::Claimed);
        state.claims.insert(4, b"w".to_vec());
        let error = state.check().unwrap_err();
        assert!(
            error.message.contains("task 4 is Claimed although task 0"),
            "{error}"
        );
        state.claims.remove(&4);
        let error = state.check().unwrap_err();
        assert!(error.message.contains("claim record: false"), "{error}");
    }
}
