//! Helpers for tests on the simulated disk (`northstar::io::sim`): a seeded workload that
//! stops at the first failed operation and remembers which commits were acknowledged and
//! which were durable, and the check that a crash image recovers to a state the workload
//! may have left.
//!
//! What a recovered image may hold, for a run that acknowledged txns `1..=n`:
//! - the state after some txn `t` with `durable <= t <= n`, where `durable` is the newest
//!   txn the run knew to be durable (every acknowledged commit with
//!   `Durability::Immediate`; with `Durability::Deferred`, those covered by a successful
//!   `sync` or `checkpoint`);
//! - or, when the run stopped inside `commit()`, the state of that commit as txn `n + 1`
//!   (its record may have reached the log before the failure).
//!
//! Images that hit a [`KnownIssue`] (an outcome the store does not handle yet, told apart
//! by what the power loss did to the log, not by the error's wording) are counted
//! and fail the test unless `NORTHSTAR_CRASH_LENIENT=1`.

use std::collections::BTreeMap;
use std::time::Duration;

use northstar::format::frame::{LogHeader, LOG_HEADER_SIZE};
use northstar::io::sim::SimDisk;
use northstar::log::Scanner;
use northstar::{Db, Durability, Error, Options, WriteTxn};

use super::{
    as_of_state, commit_random, describe_state_difference, empty_state, keyspace_name,
    random_change, read_state, test_key, test_value, Change, Model, Rng, State,
};

/// The page file's name on a simulated disk.
pub const PAGE_FILE: &str = "northstar.db";

/// The commit log's name on a simulated disk.
pub const LOG_FILE: &str = "northstar.log";

/// Bytes of a page (meta pages included).
pub const PAGE_BYTES: usize = northstar::PAGE_SIZE;

/// An empty simulated disk.
pub fn new_disk() -> SimDisk {
    SimDisk::new("/sim/db")
}

/// A seed for power loss number `index` of crash point `point` of workload `workload`,
/// so every image is reproducible from the three numbers printed with a failure.
pub fn image_seed(workload: u64, point: u64, index: u64) -> u64 {
    let mut rng = Rng::new(workload ^ point.rotate_left(24) ^ index.rotate_left(48));
    rng.next_u64()
}

/// Applies `change` to the write txn and, when the store accepted it, to `state`: like
/// `common::apply_change`, but an I/O error is returned instead of panicking, and changes
/// the model says are refused (a keyspace that exists or is missing) are skipped.
pub fn try_apply_change(
    txn: &mut WriteTxn<'_>,
    state: &mut State,
    change: &Change,
) -> northstar::Result<()> {
    match *change {
        Change::Put {
            keyspace,
            key,
            value_len,
            seed,
        } => {
            let name = keyspace_name(keyspace);
            let Some(model) = state.get_mut(&name) else {
                return Ok(());
            };
            let (key, value) = (test_key(key), test_value(value_len, seed));
            if keyspace == 0 {
                txn.put(&key, &value)?;
            } else {
                txn.keyspace(&name)?.put(&key, &value)?;
            }
            model.insert(key, value);
        }
        Change::Delete { keyspace, key } => {
            let name = keyspace_name(keyspace);
            let Some(model) = state.get_mut(&name) else {
                return Ok(());
            };
            let key = test_key(key);
            let existed = if keyspace == 0 {
                txn.delete(&key)?
            } else {
                txn.keyspace(&name)?.delete(&key)?
            };
            assert_eq!(existed, model.remove(&key).is_some(), "delete existed");
        }
        Change::CreateKeyspace(keyspace) => {
            let name = keyspace_name(keyspace.max(1));
            if state.contains_key(&name) {
                return Ok(());
            }
            txn.create_keyspace(&name)?;
            state.insert(name, Model::new());
        }
        Change::DropKeyspace(keyspace) => {
            let name = keyspace_name(keyspace.max(1));
            if !state.contains_key(&name) {
                return Ok(());
            }
            assert!(txn.drop_keyspace(&name)?, "drop {name}: the model has it");
            state.remove(&name);
        }
    }
    Ok(())
}

/// Options with `Durability::Immediate` and no automatic checkpoint: tests that want one
/// say where.
pub fn manual_checkpoints() -> Options {
    Options::default()
        .checkpoint_every(u64::MAX, u64::MAX, Duration::from_secs(3600))
        .background_checkpoints(false)
}

/// Commits `count` random txns that each change something, pushing the state after each
/// onto `states` (indexed by txn id).
pub fn commit_random_txns(db: &Db, states: &mut Vec<State>, rng: &mut Rng, count: usize) {
    let goal = states.len() + count;
    while states.len() < goal {
        let changes = 1 + rng.index(4);
        let (state, txn_id) = commit_random(db, states.last().expect("a state"), rng, changes);
        if txn_id == states.len() as u64 {
            states.push(state);
        }
    }
}

/// Offset and length of every valid record of `log`, in order (txn `n` is entry `n - 1`).
pub fn record_spans(log: &[u8]) -> Vec<(u64, u64)> {
    let header = LogHeader::decode(log).expect("log header");
    Scanner::new(
        log,
        LOG_HEADER_SIZE as u64,
        header.first_txn_id,
        header.database_id,
    )
    .map(|(offset, record)| (offset, record.header.length))
    .collect()
}

/// One step of a workload.
#[derive(Debug, Clone)]
pub enum Step {
    /// One write txn making these changes.
    Commit(Vec<Change>),
    /// `Db::sync`.
    Sync,
    /// `Db::checkpoint`.
    Checkpoint,
}

/// A seeded sequence of commits, syncs and checkpoints, run the same way on every disk.
#[derive(Debug, Clone)]
pub struct Workload {
    /// The seed the steps were drawn from.
    pub seed: u64,
    /// How commits are made durable.
    pub durability: Durability,
    /// Automatic checkpoint every this many commits.
    pub checkpoint_commits: u64,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

/// What one run of a workload did before it finished or stopped at its first error.
pub struct Run {
    /// How the run's commits were made durable.
    pub durability: Durability,
    /// `states[t]`: every keyspace after txn `t`, for every txn the run committed.
    pub states: Vec<State>,
    /// The newest txn known to be durable.
    pub durable: u64,
    /// The state the commit that failed inside `commit()` would have made.
    pub in_flight: Option<State>,
    /// The first error, which stopped the run.
    pub error: Option<Error>,
    /// The commit log as written when the run stopped (synced or not).
    pub written_log: Vec<u8>,
    /// The database, still open (so a power loss can come before its closing checkpoint).
    pub db: Option<Db>,
}

impl Run {
    fn new(durability: Durability) -> Run {
        Run {
            durability,
            states: vec![empty_state()],
            durable: 0,
            in_flight: None,
            error: None,
            written_log: Vec::new(),
            db: None,
        }
    }

    /// A finished run with `Durability::Immediate` that acknowledged every txn of
    /// `states`; `written_log` is the commit log it wrote.
    pub fn acknowledged(states: Vec<State>, written_log: Vec<u8>) -> Run {
        let durable = states.len() as u64 - 1;
        Run {
            states,
            durable,
            written_log,
            ..Run::new(Durability::Immediate)
        }
    }

    /// The newest txn the run committed.
    pub fn last_txn_id(&self) -> u64 {
        self.states.len() as u64 - 1
    }

    /// The state after txn `txn_id`: a committed one, or the one in flight.
    pub fn state_at(&self, txn_id: u64) -> Option<&State> {
        match self.states.get(txn_id as usize) {
            Some(state) => Some(state),
            None if txn_id == self.states.len() as u64 => self.in_flight.as_ref(),
            None => None,
        }
    }

    /// Offset just past the record of the newest durable txn in the written log: every
    /// byte before it was synced, so no power loss may change it.
    pub fn durable_log_end(&self) -> u64 {
        if self.durable == 0 || self.written_log.len() < LOG_HEADER_SIZE {
            return (LOG_HEADER_SIZE as u64).min(self.written_log.len() as u64);
        }
        let (offset, length) = record_spans(&self.written_log)
            .get(self.durable as usize - 1)
            .copied()
            .unwrap_or_else(|| panic!("the written log lacks durable txn {}", self.durable));
        offset + length
    }

    /// What the run may have left, in words, for messages.
    pub fn describe(&self) -> String {
        format!(
            "durable txn {}, acknowledged txn {}, {} in flight, stopped by {}",
            self.durable,
            self.last_txn_id(),
            if self.in_flight.is_some() {
                "one commit"
            } else {
                "no commit"
            },
            self.error
                .as_ref()
                .map_or("nothing".to_string(), |error| error.to_string())
        )
    }
}

impl Workload {
    /// About `commits` commits of one to four random changes each: small and overflow
    /// values, deletes, a named keyspace created in the first commit and dropped halfway;
    /// now and then an explicit checkpoint or sync.
    pub fn random(seed: u64, durability: Durability, commits: usize) -> Workload {
        let mut rng = Rng::new(seed);
        let mut steps = vec![Step::Commit(vec![
            Change::CreateKeyspace(1),
            Change::Put {
                keyspace: 1,
                key: 20,
                value_len: 20_000,
                seed: 1,
            },
            Change::Put {
                keyspace: 0,
                key: 21,
                value_len: 10,
                seed: 2,
            },
        ])];
        for index in 1..commits {
            let count = 1 + rng.index(4);
            let mut changes: Vec<Change> = (0..count).map(|_| random_change(&mut rng)).collect();
            if index == commits / 2 {
                changes.push(Change::DropKeyspace(1));
            }
            steps.push(Step::Commit(changes));
            match rng.below(12) {
                0 => steps.push(Step::Checkpoint),
                1..=3 => steps.push(Step::Sync),
                _ => {}
            }
        }
        Workload {
            seed,
            durability,
            checkpoint_commits: 7,
            steps,
        }
    }

    /// The options every open of this workload's database uses.
    pub fn options(&self) -> Options {
        Options::default()
            .durability(self.durability)
            .checkpoint_every(self.checkpoint_commits, u64::MAX, Duration::from_secs(3600))
            // One thread does all the I/O, so every run of a workload makes the same
            // operations in the same order and each crash point is hit exactly.
            .background_checkpoints(false)
    }

    /// Opens a new database on `disk` and runs the steps until the first error.
    pub fn run(&self, disk: &SimDisk) -> Run {
        let mut run = Run::new(self.durability);
        let db = match Db::open_on(disk, self.options()) {
            Ok(db) => db,
            Err(error) => {
                run.error = Some(error);
                return run;
            }
        };
        for step in &self.steps {
            let last = run.last_txn_id();
            let result = match step {
                Step::Commit(changes) => self.commit(&db, changes, &mut run),
                Step::Sync => db.sync().map(|()| run.durable = last),
                Step::Checkpoint => db.checkpoint().map(|()| run.durable = last),
            };
            if let Err(error) = result {
                run.error = Some(error);
                break;
            }
        }
        run.written_log = disk.file(LOG_FILE).unwrap_or_default();
        run.db = Some(db);
        run
    }

    fn commit(&self, db: &Db, changes: &[Change], run: &mut Run) -> northstar::Result<()> {
        let last = run.states.last().expect("the empty state");
        let mut next = last.clone();
        let mut txn = db.begin_write()?;
        // A checkpoint due by policy ran in `begin_write` (or on the background thread):
        // a completed one made every txn up to its own durable.
        run.durable = run.durable.max(db.checkpoint_stats().last_txn_id);
        for change in changes {
            try_apply_change(&mut txn, &mut next, change)?;
        }
        run.in_flight = Some(next.clone());
        let txn_id = txn.commit()?;
        run.in_flight = None;
        if txn_id == run.states.len() as u64 {
            run.states.push(next);
        } else {
            assert_eq!(txn_id, run.last_txn_id(), "a commit without changes");
        }
        if self.durability == Durability::Immediate {
            run.durable = txn_id;
        }
        Ok(())
    }
}

/// How thoroughly [`check_recovery`] reads history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum History {
    /// `begin_read_at` every txn up to the recovered one.
    EveryTxn,
    /// Only the recovered txn and the one before it.
    Newest,
}

/// Crash outcomes these tests once found, kept as categories so a regression names its
/// kind. They fail the tests (see [`strict`]); the tests named after them in
/// tests/crash_sim.rs reproduce each one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KnownIssue {
    /// The power loss garbled a sector holding synced log bytes: records start right
    /// after the previous one, so an append rewrites the last synced sector (and the
    /// first record rewrites the log header's sector). Durable commits, the log header
    /// or the history before the checkpoint can be lost.
    SyncedLogSectorGarbled,
    /// With `Durability::Deferred`, unsynced records reached the disk out of order: a
    /// lost one is followed by a kept one, and open refuses the log as damaged in the
    /// middle instead of cutting the unsynced tail.
    UnsyncedRecordsOutOfOrder,
}

/// What [`check_recovery`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovered {
    /// The image opened at this txn and passed every check.
    Txn(u64),
    /// The image hit a known issue (the checks that still apply passed).
    Known(KnownIssue),
}

/// What a test checked: crash (or failure) points, damaged images, and how many images
/// hit each known issue.
#[derive(Debug, Default)]
pub struct Tally {
    /// Points at which the disk stopped or failed.
    pub points: u64,
    /// Images opened and checked.
    pub images: u64,
    /// Images that hit a known issue, by issue.
    pub known: BTreeMap<KnownIssue, u64>,
}

impl Tally {
    /// Counts one checked image.
    pub fn add(&mut self, recovered: Recovered) {
        self.images += 1;
        if let Recovered::Known(issue) = recovered {
            *self.known.entry(issue).or_default() += 1;
        }
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} crash points, {} damaged images checked",
            self.points, self.images
        )?;
        if !self.known.is_empty() {
            write!(f, " (known issues, not failed: {:?})", self.known)?;
        }
        Ok(())
    }
}

/// Whether known issues fail the tests: always, unless `NORTHSTAR_CRASH_LENIENT=1` (for
/// surveying how often an issue shows up while it is being fixed).
pub fn strict() -> bool {
    !std::env::var("NORTHSTAR_CRASH_LENIENT").is_ok_and(|value| value == "1")
}

fn known(issue: KnownIssue, context: &str, detail: &str) -> Recovered {
    assert!(!strict(), "{context}: {issue:?}: {detail}");
    Recovered::Known(issue)
}

/// Opens `image` and checks that it recovered to a state `run` allows (see the module
/// header), that the validator passes, that AS OF reads show the run's states, and that
/// opening again (the same disk, and an untouched copy of the image) gives the same
/// state. Panics with `context` on any violation but the [`KnownIssue`]s.
pub fn check_recovery(
    image: &SimDisk,
    run: &Run,
    options: &Options,
    history: History,
    context: &str,
) -> Recovered {
    let durable_end = run.durable_log_end() as usize;
    let image_log = image.file(LOG_FILE).unwrap_or_default();
    let synced_garbled = image_log.get(..durable_end) != run.written_log.get(..durable_end);
    let untouched = image.snapshot();
    let db = match Db::open_on(image, options.clone()) {
        Ok(db) => db,
        Err(error) if synced_garbled && names_file(&error, LOG_FILE) => {
            return known(
                KnownIssue::SyncedLogSectorGarbled,
                context,
                &error.to_string(),
            );
        }
        Err(
            ref error @ Error::Corrupt {
                offset: Some(offset),
                ..
            },
        ) if run.durability == Durability::Deferred
            && offset >= durable_end as u64
            && names_file(error, LOG_FILE) =>
        {
            return known(
                KnownIssue::UnsyncedRecordsOutOfOrder,
                context,
                &error.to_string(),
            );
        }
        Err(error) => panic!("{context}: open failed: {error} ({})", run.describe()),
    };
    // With synced log bytes lost, any committed state may come back; the rest holds.
    let lower_bound = if synced_garbled { 0 } else { run.durable };
    let txn_id = check_open_state(&db, run, lower_bound, context);
    let report = db.check().expect("check");
    assert!(
        report.is_ok(),
        "{context}: validator after recovery to txn {txn_id}: {:?}",
        report.problems
    );
    if !synced_garbled {
        let from = match history {
            History::EveryTxn => 0,
            History::Newest => txn_id.saturating_sub(1),
        };
        for at in from..=txn_id {
            check_as_of(&db, run, at, context);
        }
        if history == History::EveryTxn {
            check_replay(image, run, txn_id, context);
        }
    }
    drop(db);
    for (name, disk) in [("reopen", image), ("replay again", &untouched)] {
        let db = Db::open_on(disk, options.clone())
            .unwrap_or_else(|error| panic!("{context}: {name}: open failed: {error}"));
        assert_eq!(db.last_txn_id(), txn_id, "{context}: {name}: txn");
        check_open_state(&db, run, lower_bound, &format!("{context}: {name}"));
    }
    if synced_garbled {
        return known(
            KnownIssue::SyncedLogSectorGarbled,
            context,
            &format!("recovered txn {txn_id} ({})", run.describe()),
        );
    }
    Recovered::Txn(txn_id)
}

/// Checks that `begin_read_at(txn_id)` shows the run's state after that txn.
pub fn check_as_of(db: &Db, run: &Run, txn_id: u64, context: &str) {
    let view = db.begin_read_at(txn_id).unwrap_or_else(|error| {
        panic!(
            "{context}: AS OF txn {txn_id}: {error} ({})",
            run.describe()
        )
    });
    let want = run.state_at(txn_id).expect("a txn the run made");
    let got = as_of_state(&view);
    assert!(
        got == *want,
        "{context}: AS OF txn {txn_id}: {}",
        describe_state_difference(&got, want)
    );
}

/// Checks that `northstar::replay` of the log on `disk` (copied to a real directory)
/// gives the run's state after `txn_id`.
pub fn check_replay(disk: &SimDisk, run: &Run, txn_id: u64, context: &str) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let log = disk.file(LOG_FILE).expect("log");
    std::fs::write(dir.path().join(LOG_FILE), log).expect("write log");
    let replayed = northstar::replay(dir.path(), txn_id)
        .unwrap_or_else(|error| panic!("{context}: replay to txn {txn_id}: {error}"));
    let want = run.state_at(txn_id).expect("a txn the run made");
    let got = replayed.to_maps();
    assert!(
        got == *want,
        "{context}: replay to txn {txn_id}: {}",
        describe_state_difference(&got, want)
    );
}

/// Checks that an open database holds the state of a txn of `run` at or after
/// `lower_bound`; returns its txn.
pub fn check_open_state(db: &Db, run: &Run, lower_bound: u64, context: &str) -> u64 {
    let txn_id = db.last_txn_id();
    let got = read_state(db);
    let want = run
        .state_at(txn_id)
        .filter(|_| txn_id >= lower_bound)
        .unwrap_or_else(|| {
            panic!(
                "{context}: recovered to txn {txn_id}, which the run does not allow ({})",
                run.describe()
            )
        });
    assert!(
        got == *want,
        "{context}: recovered txn {txn_id} holds the wrong state: {} ({})",
        describe_state_difference(&got, want),
        run.describe()
    );
    txn_id
}

/// Whether `error` names file `name` of the simulated disk.
pub fn names_file(error: &Error, name: &str) -> bool {
    match error {
        Error::Io { path, .. } | Error::Poisoned { path, .. } | Error::Corrupt { path, .. } => {
            path.ends_with(name)
        }
        _ => false,
    }
}
