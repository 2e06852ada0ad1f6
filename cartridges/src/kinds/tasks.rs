//! `pending_tasks_by_type`: the task-queue layout of `spec/task_queue_v1.md`, and the
//! index of its pending tasks by type in priority order.
//!
//! Invariants:
//! - Only the `tasks` keyspace (or the one named in the parameters) is read; a value that
//!   does not decode as a task of layout version 1 produces no entry.
//! - A task is in the index exactly when its state byte is `pending`; its entry is under
//!   its type, keyed by (priority, task id) big-endian, so entries list in the order
//!   tasks should run: lowest priority number first, then oldest id.

use northstar::TxnId;

use super::extractor::{decode_source, Extractor, IndexEntry};
use super::state::IndexRead;

/// Keyspace of the tasks in layout version 1.
pub const TASKS_KEYSPACE: &str = "tasks";
/// Keyspace of the claims.
pub const CLAIMS_KEYSPACE: &str = "claims";
/// Keyspace of the completions.
pub const COMPLETIONS_KEYSPACE: &str = "completions";
/// First byte of every task value.
pub const TASK_LAYOUT_VERSION: u8 = 1;
/// Bytes before the type name in a task value.
pub const TASK_HEAD_SIZE: usize = 8;

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    /// Waiting for a worker.
    Pending = 0,
    /// Claimed by a worker (see the `claims` keyspace).
    Claimed = 1,
    /// Finished successfully.
    Done = 2,
    /// Finished with a failure.
    Failed = 3,
}

impl TaskState {
    fn from_byte(byte: u8) -> Option<TaskState> {
        match byte {
            0 => Some(TaskState::Pending),
            1 => Some(TaskState::Claimed),
            2 => Some(TaskState::Done),
            3 => Some(TaskState::Failed),
            _ => None,
        }
    }
}

/// A task value of the layout, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Task<'a> {
    /// State.
    pub state: TaskState,
    /// Priority: lower runs first.
    pub priority: u32,
    /// Type name, 1 to 255 bytes.
    pub task_type: &'a [u8],
    /// Opaque payload.
    pub payload: &'a [u8],
}

impl<'a> Task<'a> {
    /// The value stored under the task's key.
    pub fn encode(&self) -> Vec<u8> {
        assert!(
            (1..=255).contains(&self.task_type.len()),
            "task types are 1 to 255 bytes"
        );
        let mut bytes =
            Vec::with_capacity(TASK_HEAD_SIZE + self.task_type.len() + self.payload.len());
        bytes.push(TASK_LAYOUT_VERSION);
        bytes.push(self.state as u8);
        bytes.extend_from_slice(&(self.task_type.len() as u16).to_le_bytes());
        bytes.extend_from_slice(&self.priority.to_le_bytes());
        bytes.extend_from_slice(self.task_type);
        bytes.extend_from_slice(self.payload);
        bytes
    }

    /// Decodes a task value; `None` if it is not one of layout version 1.
    pub fn decode(bytes: &'a [u8]) -> Option<Task<'a>> {
        let head = bytes.get(..TASK_HEAD_SIZE)?;
        if head[0] != TASK_LAYOUT_VERSION {
            return None;
        }
        let state = TaskState::from_byte(head[1])?;
        let type_len = u16::from_le_bytes([head[2], head[3]]) as usize;
        let priority = u32::from_le_bytes(head[4..8].try_into().expect("4 bytes"));
        let task_type = bytes.get(TASK_HEAD_SIZE..TASK_HEAD_SIZE + type_len)?;
        if !(1..=255).contains(&type_len) {
            return None;
        }
        Some(Task {
            state,
            priority,
            task_type,
            payload: &bytes[TASK_HEAD_SIZE + type_len..],
        })
    }
}

/// The key of task `id`: the id big-endian, so keys order like ids.
pub fn task_key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

/// The extractor behind `pending_tasks_by_type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingTasks {
    keyspace: String,
}

impl Default for PendingTasks {
    fn default() -> PendingTasks {
        PendingTasks::new(TASKS_KEYSPACE)
    }
}

impl PendingTasks {
    /// Indexes the tasks stored in keyspace `keyspace` (normally [`TASKS_KEYSPACE`]).
    pub fn new(keyspace: &str) -> PendingTasks {
        PendingTasks {
            keyspace: keyspace.to_string(),
        }
    }
}

impl Extractor for PendingTasks {
    fn name(&self) -> &str {
        "pending_tasks_by_type"
    }

    fn params(&self) -> Vec<u8> {
        format!("keyspace={}", self.keyspace).into_bytes()
    }

    fn wants(&self, keyspace: &[u8]) -> bool {
        keyspace == self.keyspace.as_bytes()
    }

    fn extract(&self, _keyspace: &[u8], key: &[u8], value: &[u8], out: &mut Vec<IndexEntry>) {
        let (Some(task), Ok(id)) = (Task::decode(value), <[u8; 8]>::try_from(key)) else {
            return;
        };
        if task.state != TaskState::Pending {
            return;
        }
        let mut index_key = Vec::with_capacity(12);
        index_key.extend_from_slice(&task.priority.to_be_bytes());
        index_key.extend_from_slice(&id);
        out.push(IndexEntry {
            group: task.task_type.to_vec(),
            key: index_key,
        });
    }
}

/// A pending task as the index lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PendingTask {
    /// Priority (lower runs first).
    pub priority: u32,
    /// Task id.
    pub id: u64,
}

fn pending_task(index_key: &[u8]) -> PendingTask {
    let priority = u32::from_be_bytes(index_key[..4].try_into().expect("12-byte index keys"));
    let id = u64::from_be_bytes(index_key[4..12].try_into().expect("12-byte index keys"));
    PendingTask { priority, id }
}

/// Queries over a `pending_tasks_by_type` index, as of the cartridge or as of now.
#[derive(Debug, Clone, Copy)]
pub struct TaskQueue<I> {
    index: I,
}

impl<I: IndexRead> TaskQueue<I> {
    /// Queries over `index`, which must be a `pending_tasks_by_type` cartridge (whose
    /// index keys are all 12 bytes, as [`PendingTasks`] writes them).
    pub fn new(index: I) -> TaskQueue<I> {
        TaskQueue { index }
    }

    /// The txn the answers reflect.
    pub fn txn(&self) -> TxnId {
        self.index.txn()
    }

    /// Writes into `out` the first `out.len()` pending tasks of `task_type` in run order;
    /// returns how many there were. No allocation.
    pub fn next_pending_into(&self, task_type: &[u8], out: &mut [PendingTask]) -> usize {
        let mut count = 0;
        if out.is_empty() {
            return 0;
        }
        self.index.scan(task_type, None, &mut |key, _| {
            if key.len() == 12 {
                out[count] = pending_task(key);
                count += 1;
            }
            count < out.len()
        });
        count
    }

    /// The first `limit` pending tasks of `task_type` in run order.
    pub fn next_pending(&self, task_type: &[u8], limit: usize) -> Vec<PendingTask> {
        let mut out = vec![PendingTask { priority: 0, id: 0 }; limit];
        let count = self.next_pending_into(task_type, &mut out);
        out.truncate(count);
        out
    }

    /// Pending tasks of `task_type`.
    pub fn pending_count(&self, task_type: &[u8]) -> u64 {
        self.index.count(task_type)
    }

    /// Pending tasks per type, in type order (types with none are left out).
    pub fn pending_counts(&self) -> Vec<(Vec<u8>, u64)> {
        self.index.groups()
    }

    /// The task a worker of any type should claim next: the lowest (priority, id) among
    /// the first pending task of every type, with its type.
    pub fn next_claimable(&self) -> Option<(Vec<u8>, PendingTask)> {
        let mut best: Option<(Vec<u8>, PendingTask)> = None;
        for (task_type, _) in self.index.groups() {
            let mut head = [PendingTask { priority: 0, id: 0 }];
            if self.next_pending_into(&task_type, &mut head) == 1
                && best.as_ref().is_none_or(|(_, best)| head[0] < *best)
            {
                best = Some((task_type, head[0]));
            }
        }
        best
    }
}

/// The task id of an index entry's source, if it is a task key.
pub fn source_task_id(source: &[u8]) -> Option<u64> {
    let (_, key) = decode_source(source)?;
    Some(u64::from_be_bytes(key.try_into().ok()?))
}
