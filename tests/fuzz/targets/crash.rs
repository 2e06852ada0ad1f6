//! Target `ops_with_crash`: the input drives a few dozen operations on a database on the
//! simulated disk; after a countdown taken from the input the disk fails (every operation
//! from then on, or only that one); then the power goes, and the database is reopened.
//!
//! Properties checked, against a reference model (a `BTreeMap` per keyspace):
//! - Before the fault, every operation does what the model says (returned values
//!   included); reads see the model's state after a fault too, except in a txn whose own
//!   operation failed (which may hold part of that change, and must not commit).
//! - An error only ever follows the fault. A failed commit that is not `Poisoned` rolled
//!   back; a txn with a failed operation never commits; nothing commits after a
//!   `Poisoned` commit.
//! - After the power loss, open succeeds and the state is the model's after some txn: at
//!   least the last acknowledged-durable one (the last commit with immediate durability,
//!   the last sync or checkpoint with deferred), at most the last attempted one. The
//!   validator passes, the database takes a new commit, and a clean reopen keeps it.
//!
//! Set `NORTHSTAR_FUZZ_TRACE` to print the plan, every step and the recovery.

use std::collections::BTreeMap;
use std::time::Duration;

use northstar::io::sim::{FaultKind, SimDisk};
use northstar::log::LOG_FILE_NAME;
use northstar::{Db, Durability, Error, Options, WriteTxn};

use crate::input::Input;

/// Contents of every keyspace by name; the default keyspace is `""`.
type State = BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>;

/// Operations one input may run; keeps each execution small.
const OPS_MAX: usize = 40;
/// Keyspace names the operations pick from (`""` is the default keyspace).
const KEYSPACES: [&str; 4] = ["", "a", "b", "c"];
/// Disk operations the countdown ranges over (an open and ~40 operations take fewer).
const COUNTDOWN_MAX: usize = 400;

/// Runs the target on one input.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let plan = Plan::new(&mut input);
    if trace() {
        eprintln!("{plan:?}");
    }
    let disk = SimDisk::new("/fuzz/db");
    let mut model = Model::default();
    let mut fault_at = u64::MAX;
    if plan.fault_before_open {
        fault_at = plan.arm(&disk);
    }
    let survivor = match Db::open_on(&disk, plan.options()) {
        Ok(db) => {
            if !plan.fault_before_open {
                fault_at = plan.arm(&disk);
            }
            let mut runner = Runner {
                db: &db,
                disk: &disk,
                fault_at,
                immediate: !plan.deferred,
                txn: None,
                model: &mut model,
            };
            let mut count = 0;
            while !input.is_empty() && count < OPS_MAX {
                runner.step(&mut input);
                count += 1;
            }
            drop(runner);
            let survivor = disk.power_loss(plan.seed);
            drop(db);
            survivor
        }
        Err(error) => {
            assert!(
                disk.operations() >= fault_at,
                "open failed before any fault: {error}"
            );
            disk.power_loss(plan.seed)
        }
    };
    check_recovery(&survivor, &model, &plan);
}

/// The run's settings, taken from the first bytes of the input.
#[derive(Debug)]
struct Plan {
    countdown: u64,
    persistent: bool,
    kind: FaultKind,
    fault_before_open: bool,
    deferred: bool,
    checkpoint_commits: u64,
    checkpoint_bytes: u64,
    seed: u64,
}

impl Plan {
    fn new(input: &mut Input<'_>) -> Plan {
        let flags = input.byte();
        Plan {
            countdown: input.below(COUNTDOWN_MAX) as u64,
            persistent: flags & 0b11 != 0,
            kind: if flags & 0b100 == 0 {
                FaultKind::Io
            } else {
                FaultKind::NoSpace
            },
            fault_before_open: flags & 0b1_1000 == 0b1_1000,
            deferred: flags & 0b10_0000 != 0,
            checkpoint_commits: 1 + input.below(8) as u64,
            checkpoint_bytes: [u64::MAX, 64 << 10, 1 << 20, 0][input.below(4)],
            seed: input.u64(),
        }
    }

    fn options(&self) -> Options {
        let durability = if self.deferred {
            Durability::Deferred
        } else {
            Durability::Immediate
        };
        Options::default()
            .verify_every_commit(false)
            .durability(durability)
            .checkpoint_every(
                self.checkpoint_commits,
                self.checkpoint_bytes,
                Duration::MAX,
            )
            // One thread does every operation, so an input replays exactly.
            .background_checkpoints(false)
    }

    /// Plans the fault; returns the number of the first disk operation that fails.
    fn arm(&self, disk: &SimDisk) -> u64 {
        disk.fail_operation(self.countdown, self.kind, self.persistent);
        disk.operations() + self.countdown + 1
    }
}

/// What the database must hold.
struct Model {
    /// State after each committed txn, indexed by txn id (txn 0 is the empty database).
    committed: Vec<State>,
    /// State of a commit that failed after its record may have reached the log.
    maybe: Option<State>,
    /// Txn id every recovery must reach: the last one acknowledged as durable.
    durable: usize,
    /// The open txn's state, changes made and whether an operation of it failed.
    pending: Option<Pending>,
}

impl Default for Model {
    fn default() -> Model {
        let mut empty = State::new();
        empty.insert(String::new(), BTreeMap::new());
        Model {
            committed: vec![empty],
            maybe: None,
            durable: 0,
            pending: None,
        }
    }
}

struct Pending {
    state: State,
    changes: usize,
    failed: bool,
}

impl Model {
    fn last_id(&self) -> usize {
        self.committed.len() - 1
    }

    fn pending(&mut self) -> &mut Pending {
        self.pending.as_mut().expect("a txn is open")
    }
}

/// One step of a run, decoded from the input.
#[derive(Debug)]
enum Action {
    Put(&'static str, Bytes, Bytes),
    Delete(&'static str, Bytes),
    Commit,
    Abort,
    Create(&'static str),
    Drop(&'static str),
    Checkpoint,
    Sync,
    Get(&'static str, Bytes),
    /// Puts `count` keys `f <prefix> <i>` with 100-byte values.
    Fill(&'static str, u8, usize),
    /// Deletes every key starting with `f <prefix>`.
    Clear(&'static str, u8),
    Validate,
}

/// A key or value; traces show short ones as text, long ones by their length.
struct Bytes(Vec<u8>);

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.len() {
            0..=16 => write!(f, "b\"{}\"", self.0.escape_ascii()),
            len => write!(f, "{len} bytes"),
        }
    }
}

impl Action {
    fn next(input: &mut Input<'_>) -> Action {
        let keyspace = KEYSPACES[input.below(KEYSPACES.len())];
        match input.byte() % 16 {
            0..=4 => Action::Put(keyspace, Bytes(key(input)), Bytes(value(input))),
            5 | 6 => Action::Delete(keyspace, Bytes(key(input))),
            7 => Action::Commit,
            8 => Action::Abort,
            9 => Action::Create(keyspace),
            10 => Action::Drop(keyspace),
            11 => Action::Checkpoint,
            12 => Action::Sync,
            13 => Action::Get(keyspace, Bytes(key(input))),
            14 => Action::Fill(keyspace, input.byte() % 4, 16 + input.below(112)),
            _ => match input.byte() % 2 {
                0 => Action::Clear(keyspace, input.byte() % 4),
                _ => Action::Validate,
            },
        }
    }
}

/// Whether to print each step (set `NORTHSTAR_FUZZ_TRACE` to replay an input verbosely).
fn trace() -> bool {
    std::env::var_os("NORTHSTAR_FUZZ_TRACE").is_some()
}

struct Runner<'db, 'm> {
    db: &'db Db,
    disk: &'db SimDisk,
    fault_at: u64,
    immediate: bool,
    txn: Option<WriteTxn<'db>>,
    model: &'m mut Model,
}

impl<'db> Runner<'db, '_> {
    fn faulted(&self) -> bool {
        self.disk.operations() >= self.fault_at
    }

    /// An error is allowed only once the disk has failed.
    fn expect_fault(&self, what: &str, error: &Error) {
        assert!(
            self.faulted(),
            "{what} failed before any fault (disk operation {} of fault at {}): {error}",
            self.disk.operations(),
            self.fault_at
        );
    }

    /// An operation of the open txn failed: allowed after the fault; the txn may not commit.
    fn op_failed(&mut self, what: &str, error: &Error) {
        self.expect_fault(what, error);
        self.model.pending().failed = true;
    }

    /// Once an operation of the open txn failed, the txn may hold part of that change
    /// (the store promises only never to commit it), so later results are not compared.
    fn txn_failed(&self) -> bool {
        self.model
            .pending
            .as_ref()
            .is_some_and(|pending| pending.failed)
    }

    fn step(&mut self, input: &mut Input<'_>) {
        let action = Action::next(input);
        if trace() {
            eprintln!(
                "[disk op {}, fault at {}] {action:?}",
                self.disk.operations(),
                self.fault_at
            );
        }
        match action {
            Action::Put(keyspace, key, value) => self.put(keyspace, key.0, value.0),
            Action::Delete(keyspace, key) => self.delete(keyspace, key.0),
            Action::Commit => self.commit(),
            Action::Abort => self.abort(),
            Action::Create(keyspace) => self.create(keyspace),
            Action::Drop(keyspace) => self.drop_keyspace(keyspace),
            Action::Checkpoint => self.checkpoint(),
            Action::Sync => self.sync(),
            Action::Get(keyspace, key) => self.get(keyspace, &key.0),
            Action::Fill(keyspace, prefix, count) => self.fill(keyspace, prefix, count),
            Action::Clear(keyspace, prefix) => self.clear(keyspace, prefix),
            Action::Validate => self.validate(),
        }
    }

    /// Opens a txn if none is; `false` when the database refuses (after a fault only).
    fn begin(&mut self) -> bool {
        if self.txn.is_some() {
            return true;
        }
        match self.db.begin_write() {
            Ok(txn) => {
                self.txn = Some(txn);
                self.model.pending = Some(Pending {
                    state: self.model.committed.last().unwrap().clone(),
                    changes: 0,
                    failed: false,
                });
                true
            }
            Err(error) => {
                self.expect_fault("begin_write", &error);
                false
            }
        }
    }

    fn put(&mut self, keyspace: &str, key: Vec<u8>, value: Vec<u8>) {
        if !self.begin() {
            return;
        }
        let txn = self.txn.as_mut().unwrap();
        let result = if keyspace.is_empty() {
            txn.put(&key, &value)
        } else {
            txn.keyspace(keyspace)
                .and_then(|mut named| named.put(&key, &value))
        };
        if self.txn_failed() {
            return;
        }
        let pending = self.model.pending();
        let exists = pending.state.contains_key(keyspace);
        match result {
            Ok(()) => {
                assert!(exists, "put into missing keyspace {keyspace:?} succeeded");
                pending.state.get_mut(keyspace).unwrap().insert(key, value);
                pending.changes += 1;
            }
            Err(Error::KeyspaceNotFound(_)) if !exists => {}
            Err(error) => self.op_failed("put", &error),
        }
    }

    fn delete(&mut self, keyspace: &str, key: Vec<u8>) {
        if !self.begin() {
            return;
        }
        let txn = self.txn.as_mut().unwrap();
        let result = if keyspace.is_empty() {
            txn.delete(&key)
        } else {
            txn.keyspace(keyspace)
                .and_then(|mut named| named.delete(&key))
        };
        if self.txn_failed() {
            return;
        }
        let pending = self.model.pending();
        match (result, pending.state.get_mut(keyspace)) {
            (Ok(existed), Some(entries)) => {
                assert_eq!(existed, entries.remove(&key).is_some(), "delete {key:?}");
                pending.changes += usize::from(existed);
            }
            (Err(Error::KeyspaceNotFound(_)), None) => {}
            (Ok(_), None) => panic!("delete in missing keyspace {keyspace:?} succeeded"),
            (Err(error), _) => self.op_failed("delete", &error),
        }
    }

    fn create(&mut self, keyspace: &str) {
        if keyspace.is_empty() || !self.begin() {
            return;
        }
        let result = self.txn.as_mut().unwrap().create_keyspace(keyspace);
        if self.txn_failed() {
            return;
        }
        let pending = self.model.pending();
        let exists = pending.state.contains_key(keyspace);
        match result {
            Ok(()) => {
                assert!(!exists, "created keyspace {keyspace:?} twice");
                pending.state.insert(keyspace.to_string(), BTreeMap::new());
                pending.changes += 1;
            }
            Err(Error::KeyspaceExists(_)) if exists => {}
            Err(error) => self.op_failed("create_keyspace", &error),
        }
    }

    fn drop_keyspace(&mut self, keyspace: &str) {
        if keyspace.is_empty() || !self.begin() {
            return;
        }
        let result = self.txn.as_mut().unwrap().drop_keyspace(keyspace);
        if self.txn_failed() {
            return;
        }
        let pending = self.model.pending();
        match result {
            Ok(existed) => {
                let removed = pending.state.remove(keyspace).is_some();
                assert_eq!(existed, removed, "drop_keyspace {keyspace:?}");
                pending.changes += usize::from(existed);
            }
            Err(error) => self.op_failed("drop_keyspace", &error),
        }
    }

    /// `count` puts of keys `f <prefix> <i>`: enough to split leaves within a few calls.
    fn fill(&mut self, keyspace: &str, prefix: u8, count: usize) {
        for index in 0..count {
            let key = vec![b'f', prefix, index as u8];
            self.put(keyspace, key, vec![index as u8; 100]);
        }
    }

    /// Deletes every key starting with `f <prefix>`: enough to merge nodes again.
    fn clear(&mut self, keyspace: &str, prefix: u8) {
        if !self.begin() {
            return;
        }
        let keys: Vec<Vec<u8>> = match self.model.pending().state.get(keyspace) {
            Some(entries) => entries
                .keys()
                .filter(|key| key.starts_with(&[b'f', prefix]))
                .cloned()
                .collect(),
            None => return,
        };
        keys.into_iter().for_each(|key| self.delete(keyspace, key));
    }

    fn commit(&mut self) {
        let Some(txn) = self.txn.take() else {
            return;
        };
        let pending = self.model.pending.take().expect("a txn is open");
        let last_id = self.model.last_id();
        match txn.commit() {
            Ok(txn_id) => {
                assert!(!pending.failed, "a txn with a failed operation committed");
                assert!(
                    self.model.maybe.is_none(),
                    "txn {txn_id} committed after a poisoned commit"
                );
                if pending.changes == 0 {
                    assert_eq!(txn_id as usize, last_id, "an empty txn commits nothing");
                    return;
                }
                assert_eq!(txn_id as usize, last_id + 1, "txn ids go up by one");
                self.model.committed.push(pending.state);
                if self.immediate {
                    self.model.durable = last_id + 1;
                }
            }
            Err(error) => {
                self.expect_fault("commit", &error);
                let logged = matches!(error, Error::Poisoned { .. });
                if logged && pending.changes > 0 && !pending.failed {
                    assert!(self.model.maybe.is_none(), "two poisoned commits");
                    self.model.maybe = Some(pending.state);
                }
            }
        }
    }

    fn abort(&mut self) {
        if let Some(txn) = self.txn.take() {
            txn.abort();
            self.model.pending = None;
        }
    }

    fn checkpoint(&mut self) {
        self.commit();
        match self.db.checkpoint() {
            Ok(()) => self.made_durable(),
            Err(error) => self.expect_fault("checkpoint", &error),
        }
    }

    fn sync(&mut self) {
        match self.db.sync() {
            Ok(()) => self.made_durable(),
            Err(error) => self.expect_fault("sync", &error),
        }
    }

    fn made_durable(&mut self) {
        assert!(
            self.model.maybe.is_none(),
            "sync or checkpoint succeeded after a poisoned commit"
        );
        self.model.durable = self.model.last_id();
    }

    /// Reads see the open txn's state, or the last committed one, also after a fault.
    fn get(&mut self, keyspace: &str, key: &[u8]) {
        let found = match self.txn.as_mut() {
            Some(txn) if keyspace.is_empty() => txn.get(key).map(|value| value.map(|v| v.to_vec())),
            Some(txn) => txn
                .keyspace(keyspace)
                .and_then(|named| named.get(key).map(|value| value.map(|v| v.to_vec()))),
            None => {
                let read = self.db.begin_read().expect("begin_read never fails");
                if keyspace.is_empty() {
                    read.get(key).map(|value| value.map(|v| v.to_vec()))
                } else {
                    read.keyspace(keyspace)
                        .and_then(|named| named.get(key).map(|value| value.map(|v| v.to_vec())))
                }
            }
        };
        if self.txn_failed() {
            return;
        }
        let state = match &self.model.pending {
            Some(pending) => &pending.state,
            None => self.model.committed.last().unwrap(),
        };
        match (found, state.get(keyspace)) {
            (Ok(value), Some(entries)) => {
                assert_eq!(value.as_ref(), entries.get(key), "get {key:?}")
            }
            (Err(Error::KeyspaceNotFound(_)), None) => {}
            (found, entries) => panic!("get {keyspace:?} {key:?}: {found:?}, model {entries:?}"),
        }
    }

    fn validate(&mut self) {
        self.commit();
        match self.db.check() {
            Ok(report) => assert!(report.is_ok(), "validator: {:?}", report.problems),
            Err(error) => self.expect_fault("check", &error),
        }
    }
}

/// A key from a small alphabet so that keys repeat; now and then a long one, so that a
/// few dozen puts split leaves.
fn key(input: &mut Input<'_>) -> Vec<u8> {
    let selector = input.byte();
    let len = usize::from(selector % 4);
    let mut key: Vec<u8> = (0..len).map(|_| b'a' + input.byte() % 8).collect();
    if selector >= 0xf0 {
        key.resize(256 * usize::from(selector - 0xef), b'x');
    }
    key
}

/// A short value; now and then one large enough for overflow pages.
fn value(input: &mut Input<'_>) -> Vec<u8> {
    let selector = input.byte();
    let fill = input.byte();
    let len = if selector == 0xff {
        4096 + input.below(30_000)
    } else {
        usize::from(selector % 24)
    };
    vec![fill; len]
}

/// Everything the database holds, as the model writes it.
fn read_state(db: &Db) -> State {
    let read = db.begin_read().expect("begin_read");
    let collect = |range: northstar::Range<'_>| {
        range
            .map(|entry| entry.map(|(key, value)| (key.to_vec(), value.into_owned())))
            .collect::<Result<BTreeMap<_, _>, _>>()
            .expect("read every entry")
    };
    let mut state = State::new();
    state.insert(String::new(), collect(read.iter().expect("iter")));
    for name in read.keyspaces().expect("keyspaces") {
        let entries = collect(
            read.keyspace(&name)
                .expect("keyspace")
                .iter()
                .expect("iter"),
        );
        state.insert(name, entries);
    }
    state
}

/// Reopens after the power loss and compares with the model.
fn check_recovery(survivor: &SimDisk, model: &Model, plan: &Plan) {
    let options = plan.options();
    if trace() {
        for name in ["northstar.db", LOG_FILE_NAME] {
            let bytes = survivor.file(name).unwrap_or_default();
            let head = &bytes[..bytes.len().min(64)];
            eprintln!(
                "after power loss: {name}: {} bytes, {head:02x?}",
                bytes.len()
            );
        }
    }
    let db = Db::open_on(survivor, options.clone())
        .unwrap_or_else(|error| panic!("open after power loss: {error}"));
    let txn_id = db.last_txn_id() as usize;
    if trace() {
        eprintln!("recovered: {:?}", db.recovery_report());
    }
    let newest = model.last_id() + usize::from(model.maybe.is_some());
    assert!(
        (model.durable..=newest).contains(&txn_id),
        "recovered txn {txn_id}, expected {}..={newest}",
        model.durable
    );
    assert_eq!(db.recovery_report().last_txn_id as usize, txn_id);
    let mut expected = match model.committed.get(txn_id) {
        Some(state) => state.clone(),
        None => model.maybe.clone().expect("the poisoned commit"),
    };
    assert_eq!(
        read_state(&db),
        expected,
        "state after recovery at txn {txn_id}"
    );
    let report = db.check().expect("check after recovery");
    assert!(
        report.is_ok(),
        "validator after recovery: {:?}",
        report.problems
    );

    // The recovered database takes a commit, and a clean close keeps it.
    let (key, value) = (b"\xffafter".to_vec(), b"recovery".to_vec());
    let mut txn = db.begin_write().expect("begin_write after recovery");
    txn.put(&key, &value).expect("put after recovery");
    assert_eq!(
        txn.commit().expect("commit after recovery") as usize,
        txn_id + 1
    );
    db.close().expect("close after recovery");
    expected.get_mut("").unwrap().insert(key, value);
    let db = Db::open_on(survivor, options).expect("clean reopen");
    assert_eq!(db.last_txn_id() as usize, txn_id + 1);
    assert_eq!(read_state(&db), expected, "state after a clean reopen");
    let report = db.check().expect("check after clean reopen");
    assert!(
        report.is_ok(),
        "validator after clean reopen: {:?}",
        report.problems
    );
}
