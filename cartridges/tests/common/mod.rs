//! Shared by the cartridge tests: a seeded generator, a random workload applied to a
//! database and to a model (a BTreeMap state per txn), and the task-queue workload.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use northstar::{Db, Options, TxnId, WriteTxn};
use northstar_cartridges::tasks::{task_key, Task, TaskState, TASKS_KEYSPACE};

/// Keyspace name (`b""` is the default keyspace) → key → value.
pub type State = BTreeMap<Vec<u8>, BTreeMap<Vec<u8>, Vec<u8>>>;

/// A xorshift generator.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// The seed of a random test: `NORTHSTAR_SEED` or `default`, printed so a failure can be
/// repeated.
pub fn seed(default: u64) -> u64 {
    let seed = std::env::var("NORTHSTAR_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or(default);
    println!("seed {seed} (repeat with NORTHSTAR_SEED={seed})");
    seed
}

/// States after each txn: `states[t]` is the state after txn `t` (0: empty).
pub struct Model {
    pub states: Vec<State>,
}

impl Model {
    pub fn new() -> Model {
        let mut empty = State::new();
        empty.insert(Vec::new(), BTreeMap::new());
        Model {
            states: vec![empty],
        }
    }

    pub fn last(&self) -> &State {
        self.states.last().expect("the empty state")
    }

    pub fn get(&self, txn: TxnId, keyspace: &[u8], key: &[u8]) -> Option<&[u8]> {
        self.states[txn as usize]
            .get(keyspace)?
            .get(key)
            .map(Vec::as_slice)
    }
}

const KEYSPACES: [&str; 3] = ["ks0", "ks1", "ks2"];

fn key(rng: &mut Rng) -> Vec<u8> {
    format!("k{:02}", rng.below(24)).into_bytes()
}

/// Commits one random txn to `db` and the model: puts (some twice in one txn), deletes,
/// keyspace creates and drops.
pub fn random_txn(rng: &mut Rng, db: &Db, model: &mut Model) {
    let mut state = model.last().clone();
    let mut txn = db.begin_write().expect("begin");
    let ops = 1 + rng.below(5);
    // Every txn writes at least this key, so every txn commits a record.
    let tick = format!("tick{}", rng.below(3)).into_bytes();
    put(
        &mut txn,
        &mut state,
        b"",
        &tick,
        format!("t{}", model.states.len()).as_bytes(),
    );
    for _ in 0..ops {
        let named: Vec<&str> = KEYSPACES
            .iter()
            .copied()
            .filter(|name| state.contains_key(name.as_bytes()))
            .collect();
        match rng.below(20) {
            0 => {
                let name = KEYSPACES[rng.below(3) as usize];
                if !state.contains_key(name.as_bytes()) {
                    txn.create_keyspace(name).expect("create");
                    state.insert(name.as_bytes().to_vec(), BTreeMap::new());
                }
            }
            1 if !named.is_empty() && rng.below(3) == 0 => {
                let name = named[rng.below(named.len() as u64) as usize];
                txn.drop_keyspace(name).expect("drop");
                state.remove(name.as_bytes());
            }
            2..=5 => {
                let keyspace = pick_keyspace(rng, &named);
                let key = key(rng);
                if state[&keyspace].contains_key(&key) {
                    delete(&mut txn, &mut state, &keyspace, &key);
                }
            }
            _ => {
                let keyspace = pick_keyspace(rng, &named);
                let key = key(rng);
                let value = format!("v{}-{}", model.states.len(), rng.below(1000)).into_bytes();
                put(&mut txn, &mut state, &keyspace, &key, &value);
            }
        }
    }
    txn.commit().expect("commit");
    model.states.push(state);
}

fn pick_keyspace(rng: &mut Rng, named: &[&str]) -> Vec<u8> {
    if named.is_empty() || rng.below(2) == 0 {
        Vec::new()
    } else {
        named[rng.below(named.len() as u64) as usize]
            .as_bytes()
            .to_vec()
    }
}

pub fn put(txn: &mut WriteTxn<'_>, state: &mut State, keyspace: &[u8], key: &[u8], value: &[u8]) {
    if keyspace.is_empty() {
        txn.put(key, value).expect("put");
    } else {
        let name = std::str::from_utf8(keyspace).expect("UTF-8 name");
        txn.keyspace(name)
            .expect("keyspace")
            .put(key, value)
            .expect("put");
    }
    state
        .get_mut(keyspace)
        .expect("live keyspace")
        .insert(key.to_vec(), value.to_vec());
}

pub fn delete(txn: &mut WriteTxn<'_>, state: &mut State, keyspace: &[u8], key: &[u8]) {
    if keyspace.is_empty() {
        txn.delete(key).expect("delete");
    } else {
        let name = std::str::from_utf8(keyspace).expect("UTF-8 name");
        txn.keyspace(name)
            .expect("keyspace")
            .delete(key)
            .expect("delete");
    }
    state.get_mut(keyspace).expect("live keyspace").remove(key);
}

/// A fresh database in `dir` with `txns` random txns; its model.
pub fn random_database(dir: &Path, seed: u64, txns: usize) -> (Db, Model) {
    let db = Db::open(dir, Options::default()).expect("open");
    let mut model = Model::new();
    let mut rng = Rng::new(seed);
    for _ in 0..txns {
        random_txn(&mut rng, &db, &mut model);
    }
    (db, model)
}

/// Every (keyspace, key) the random workload can touch.
pub fn universe() -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut keys = Vec::new();
    for keyspace in std::iter::once("").chain(KEYSPACES) {
        for index in 0..24 {
            keys.push((
                keyspace.as_bytes().to_vec(),
                format!("k{index:02}").into_bytes(),
            ));
        }
        for tick in 0..3 {
            keys.push((
                keyspace.as_bytes().to_vec(),
                format!("tick{tick}").into_bytes(),
            ));
        }
    }
    keys
}

/// Task types of the task workload.
pub const TASK_TYPES: [&str; 4] = ["email", "resize", "report", "sync"];

/// Tasks by id, as the model of the task workload holds them: (type, priority, state).
pub type Tasks = BTreeMap<u64, (String, u32, TaskState)>;

/// Commits `txns` txns of task-queue traffic (enqueue, claim, complete, release) to `db`;
/// returns the tasks after each txn (index 0: before the first of these txns).
pub fn task_txns(db: &Db, rng: &mut Rng, tasks: &mut Tasks, next_id: &mut u64, txns: usize) {
    for _ in 0..txns {
        let mut txn = db.begin_write().expect("begin");
        if !txn
            .keyspaces()
            .expect("keyspaces")
            .iter()
            .any(|name| name == TASKS_KEYSPACE)
        {
            txn.create_keyspace(TASKS_KEYSPACE).expect("create");
        }
        for _ in 0..1 + rng.below(4) {
            let ids: Vec<u64> = tasks.keys().copied().collect();
            let existing = (!ids.is_empty()).then(|| ids[rng.below(ids.len() as u64) as usize]);
            let (id, task_type, priority, state) = match (rng.below(10), existing) {
                (0..=2, Some(id)) => {
                    let (task_type, priority, state) = tasks[&id].clone();
                    let state = match state {
                        TaskState::Pending => TaskState::Claimed,
                        TaskState::Claimed if rng.below(4) == 0 => TaskState::Pending,
                        TaskState::Claimed => TaskState::Done,
                        other => other,
                    };
                    (id, task_type, priority, state)
                }
                _ => {
                    *next_id += 1;
                    let task_type = TASK_TYPES[rng.below(TASK_TYPES.len() as u64) as usize];
                    (
                        *next_id,
                        task_type.to_string(),
                        rng.below(10) as u32,
                        TaskState::Pending,
                    )
                }
            };
            let value = Task {
                state,
                priority,
                task_type: task_type.as_bytes(),
                payload: b"{}",
            }
            .encode();
            txn.keyspace(TASKS_KEYSPACE)
                .expect("tasks")
                .put(task_key(id), value)
                .expect("put");
            tasks.insert(id, (task_type, priority, state));
        }
        txn.commit().expect("commit");
    }
}

/// Pending task ids of `task_type` in run order, from the model.
pub fn pending_model(tasks: &Tasks, task_type: &str) -> Vec<(u32, u64)> {
    let mut pending: Vec<(u32, u64)> = tasks
        .iter()
        .filter(|(_, (kind, _, state))| kind == task_type && *state == TaskState::Pending)
        .map(|(id, (_, priority, _))| (*priority, *id))
        .collect();
    pending.sort();
    pending
}

/// The cartridge file of `name` in a test database.
pub fn path(dir: &Path, name: &str) -> std::path::PathBuf {
    northstar_cartridges::cartridge_path(dir, name)
}

/// The number of the last txn of `db`.
pub fn last_txn(db: &Db) -> TxnId {
    db.last_txn_id()
}

/// Opens the default options database at `dir`.
pub fn open(dir: &Path) -> Db {
    Db::open(dir, Options::default()).expect("open")
}
