//! Real processes killed with SIGKILL in the middle of committing. A helper process (this
//! test binary run again, see `common::child`) opens a database and commits in a loop,
//! printing each acknowledged txn id after `commit()` returned; the parent kills it after a
//! seeded 0–60 ms, reopens the database and checks that every acknowledged txn is there, that
//! the state is exactly the model after `last_txn_id` txns, that the validator passes and
//! that the next commit works.
//!
//! The content of txn `t` is a function of the workload, the seed and `t` alone, so the
//! parent rebuilds the model for whatever txn the database reopens at. Every txn changes
//! something (a put always commits), so txn ids and commits stay in step.
//!
//! `NORTHSTAR_KILLS=n` sets the number of kills (default 100, spread over the workloads);
//! `NORTHSTAR_SEED` repeats a run.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::child::{hold_databases, say, wait_for_stdin_to_close, Helper};
use common::{assert_state, empty_state, keyspace_name, read_state, Rng, State};
use northstar::{Db, Durability, Error, Options, WriteTxn};

/// Set in a helper process: the database directory it commits to.
const HELPER_DIR_ENV: &str = "NORTHSTAR_KILL_HELPER_DIR";
/// Set in a helper process: the workload's name.
const HELPER_WORKLOAD_ENV: &str = "NORTHSTAR_KILL_HELPER_WORKLOAD";
/// Set in a helper process: the workload's seed.
const HELPER_SEED_ENV: &str = "NORTHSTAR_KILL_HELPER_SEED";
/// Set in an idle helper process: the database directory it holds open.
const HOLDER_DIR_ENV: &str = "NORTHSTAR_KILL_HOLDER_DIR";

const COMMITTING_HELPER: &str = "helper_process_commits_until_it_is_killed";
const HOLDING_HELPER: &str = "helper_process_holds_the_database_until_stdin_closes";

/// How long a helper may take to open a database (a loaded CI machine is slow).
const HELPER_START_TIMEOUT: Duration = Duration::from_secs(60);
/// The key every txn but the single puts writes its own id under.
const COUNTER_KEY: &[u8] = b"~txn";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Workload {
    /// One small put per txn.
    SinglePuts,
    /// 100 puts per txn, one in eight with a value of 16–50 KB in overflow pages, and a
    /// few deletes.
    OverflowBatches,
    /// Puts and deletes across named keyspaces that are created and dropped.
    KeyspaceChurn,
    /// `Durability::Deferred`, with `Db::sync` every four commits acknowledging them.
    DeferredWithSync,
    /// A checkpoint every three commits, and `Db::checkpoint` every fifth txn.
    FrequentCheckpoints,
}

const WORKLOADS: [Workload; 5] = [
    Workload::SinglePuts,
    Workload::OverflowBatches,
    Workload::KeyspaceChurn,
    Workload::DeferredWithSync,
    Workload::FrequentCheckpoints,
];

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::SinglePuts => "single-puts",
            Workload::OverflowBatches => "overflow-batches",
            Workload::KeyspaceChurn => "keyspace-churn",
            Workload::DeferredWithSync => "deferred-with-sync",
            Workload::FrequentCheckpoints => "frequent-checkpoints",
        }
    }

    fn from_name(name: &str) -> Workload {
        *WORKLOADS
            .iter()
            .find(|workload| workload.name() == name)
            .unwrap_or_else(|| panic!("unknown workload {name:?}"))
    }

    fn options(self) -> Options {
        match self {
            Workload::DeferredWithSync => Options::default().durability(Durability::Deferred),
            Workload::FrequentCheckpoints => {
                Options::default().checkpoint_every(3, 256 << 10, Duration::from_secs(3600))
            }
            _ => Options::default().durability(Durability::Immediate),
        }
    }

    /// Every how many txns the helper acknowledges (after a sync, for deferred commits).
    fn ack_every(self) -> u64 {
        match self {
            Workload::DeferredWithSync => 4,
            _ => 1,
        }
    }

    /// The operations of txn `txn_id`.
    fn ops(self, seed: u64, txn_id: u64) -> Vec<Op> {
        let mut rng = Rng::new(seed ^ txn_id.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut ops = Vec::new();
        match self {
            Workload::SinglePuts => {
                return vec![Op::Put {
                    keyspace: 0,
                    key: rng.below(2000) as u32,
                    len: 1 + rng.below(200) as u32,
                }]
            }
            Workload::OverflowBatches => {
                for _ in 0..100 {
                    let len = match rng.below(8) {
                        0 => 16_000 + rng.below(34_000),
                        1 => 0,
                        _ => 10 + rng.below(490),
                    };
                    let key = rng.below(600) as u32;
                    ops.push(Op::Put {
                        keyspace: 0,
                        key,
                        len: len as u32,
                    });
                }
                for _ in 0..5 {
                    let key = rng.below(600) as u32;
                    ops.push(Op::Delete { keyspace: 0, key });
                }
            }
            Workload::KeyspaceChurn | Workload::DeferredWithSync => {
                let count = if self == Workload::KeyspaceChurn {
                    12
                } else {
                    6
                };
                for _ in 0..count {
                    ops.push(churn_op(&mut rng));
                }
            }
            Workload::FrequentCheckpoints => {
                for _ in 0..20 {
                    let keyspace = if rng.chance(1, 3) { 1 } else { 0 };
                    let key = rng.below(300) as u32;
                    ops.push(match rng.below(40) {
                        0 => Op::Create(1),
                        1 => Op::Drop(1),
                        2..=11 => Op::Delete { keyspace, key },
                        12..=14 => Op::Put {
                            keyspace,
                            key,
                            len: 17_000 + rng.below(13_000) as u32,
                        },
                        _ => Op::Put {
                            keyspace,
                            key,
                            len: rng.below(300) as u32,
                        },
                    });
                }
            }
        }
        ops.push(Op::Counter);
        ops
    }
}

fn churn_op(rng: &mut Rng) -> Op {
    let keyspace = rng.below(4) as u8;
    let key = rng.below(100) as u32;
    match rng.below(20) {
        0 => Op::Create(1 + rng.below(3) as u8),
        1 => Op::Drop(1 + rng.below(3) as u8),
        2..=7 => Op::Delete { keyspace, key },
        _ => {
            let len = match rng.below(30) {
                0 => 5_000 + rng.below(15_000),
                1..=3 => 600 + rng.below(3_000),
                _ => rng.below(100),
            };
            Op::Put {
                keyspace,
                key,
                len: len as u32,
            }
        }
    }
}

/// One change of a txn. Keyspace 0 is the default one, `n > 0` is
/// `common::KEYSPACE_NAMES[n - 1]`. A put or delete in a keyspace that does not exist is
/// skipped, creating one that exists or dropping one that does not changes nothing.
#[derive(Debug, Clone, Copy)]
enum Op {
    Put {
        keyspace: u8,
        key: u32,
        len: u32,
    },
    Delete {
        keyspace: u8,
        key: u32,
    },
    Create(u8),
    Drop(u8),
    /// Put [`COUNTER_KEY`] = the txn id.
    Counter,
}

/// Key number `n`: the empty key and a key of 0xff bytes among ordinary ones.
fn key_bytes(n: u32) -> Vec<u8> {
    match n {
        0 => Vec::new(),
        1 => vec![0xff; 3],
        n => format!("k{n:05}").into_bytes(),
    }
}

/// The value txn `txn_id` writes under key `key`: unique to the txn, so a stale value from
/// an earlier txn never passes for the right one.
fn value_bytes(seed: u64, txn_id: u64, key: u32, len: u32) -> Vec<u8> {
    let mut rng =
        Rng::new(seed ^ (txn_id << 20) ^ u64::from(key).wrapping_mul(0xA076_1D64_78BD_642F));
    rng.bytes(len as usize)
}

/// Applies the ops of txn `txn_id` to the model.
fn apply_to_model(state: &mut State, seed: u64, txn_id: u64, ops: &[Op]) {
    for op in ops {
        match *op {
            Op::Put { keyspace, key, len } => {
                if let Some(model) = state.get_mut(&keyspace_name(keyspace)) {
                    model.insert(key_bytes(key), value_bytes(seed, txn_id, key, len));
                }
            }
            Op::Delete { keyspace, key } => {
                if let Some(model) = state.get_mut(&keyspace_name(keyspace)) {
                    model.remove(&key_bytes(key));
                }
            }
            Op::Create(keyspace) => {
                state.entry(keyspace_name(keyspace)).or_default();
            }
            Op::Drop(keyspace) => {
                state.remove(&keyspace_name(keyspace));
            }
            Op::Counter => {
                state
                    .get_mut("")
                    .expect("default keyspace")
                    .insert(COUNTER_KEY.to_vec(), txn_id.to_le_bytes().to_vec());
            }
        }
    }
}

/// Applies the ops of txn `txn_id` to a write txn, with the model's rules.
fn apply_to_txn(txn: &mut WriteTxn<'_>, seed: u64, txn_id: u64, ops: &[Op]) {
    for op in ops {
        match *op {
            Op::Put {
                keyspace: 0,
                key,
                len,
            } => txn
                .put(key_bytes(key), value_bytes(seed, txn_id, key, len))
                .expect("put"),
            Op::Delete { keyspace: 0, key } => drop(txn.delete(key_bytes(key)).expect("delete")),
            Op::Put { keyspace, key, len } => match txn.keyspace(&keyspace_name(keyspace)) {
                Ok(mut handle) => handle
                    .put(key_bytes(key), value_bytes(seed, txn_id, key, len))
                    .expect("put"),
                Err(Error::KeyspaceNotFound(_)) => {}
                Err(error) => panic!("keyspace: {error}"),
            },
            Op::Delete { keyspace, key } => match txn.keyspace(&keyspace_name(keyspace)) {
                Ok(mut handle) => drop(handle.delete(key_bytes(key)).expect("delete")),
                Err(Error::KeyspaceNotFound(_)) => {}
                Err(error) => panic!("keyspace: {error}"),
            },
            Op::Create(keyspace) => match txn.create_keyspace(&keyspace_name(keyspace)) {
                Ok(()) | Err(Error::KeyspaceExists(_)) => {}
                Err(error) => panic!("create_keyspace: {error}"),
            },
            Op::Drop(keyspace) => drop(
                txn.drop_keyspace(&keyspace_name(keyspace))
                    .expect("drop_keyspace"),
            ),
            Op::Counter => txn
                .put(COUNTER_KEY, txn_id.to_le_bytes())
                .expect("put counter"),
        }
    }
}

/// Commits txn `txn_id` of the workload; it must get exactly that id.
fn commit_txn(db: &Db, workload: Workload, seed: u64, txn_id: u64) {
    let mut txn = db.begin_write().expect("begin_write");
    assert_eq!(txn.txn_id(), txn_id, "txn ids and commits out of step");
    apply_to_txn(&mut txn, seed, txn_id, &workload.ops(seed, txn_id));
    assert_eq!(txn.commit().expect("commit"), txn_id);
}

/// The state after some number of txns of a workload, moved forward on demand.
struct Model {
    workload: Workload,
    seed: u64,
    state: State,
    txn_id: u64,
}

impl Model {
    fn advance_to(&mut self, txn_id: u64) {
        assert!(txn_id >= self.txn_id, "the database went back in time");
        while self.txn_id < txn_id {
            self.txn_id += 1;
            let ops = self.workload.ops(self.seed, self.txn_id);
            apply_to_model(&mut self.state, self.seed, self.txn_id, &ops);
        }
    }
}

/// Does nothing in a normal run. In a helper process: opens the database, says the txn it
/// starts from, and commits the workload's txns until it is killed, saying each
/// acknowledged txn id once `commit()` (and, for deferred commits, `Db::sync`) returned.
#[test]
fn helper_process_commits_until_it_is_killed() {
    let Ok(dir) = std::env::var(HELPER_DIR_ENV) else {
        return;
    };
    let workload = Workload::from_name(&std::env::var(HELPER_WORKLOAD_ENV).unwrap());
    let seed: u64 = std::env::var(HELPER_SEED_ENV).unwrap().parse().unwrap();
    let db = Db::open(&dir, workload.options()).expect("helper opens the database");
    let mut txn_id = db.last_txn_id();
    say(&format!("opened {txn_id}"));
    let started = Instant::now();
    loop {
        txn_id += 1;
        commit_txn(&db, workload, seed, txn_id);
        if txn_id.is_multiple_of(workload.ack_every()) {
            if workload == Workload::DeferredWithSync {
                db.sync().expect("sync");
            }
            say(&format!("ack {txn_id}"));
        }
        if workload == Workload::FrequentCheckpoints && txn_id.is_multiple_of(5) {
            db.checkpoint().expect("checkpoint");
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the parent never killed this helper"
        );
    }
}

/// Does nothing in a normal run. In a helper process: opens the database, says so, and
/// holds it open until stdin closes.
#[test]
fn helper_process_holds_the_database_until_stdin_closes() {
    let Ok(dir) = std::env::var(HOLDER_DIR_ENV) else {
        return;
    };
    let db = Db::open(&dir, Options::default()).expect("helper opens the database");
    say(&format!("opened {}", db.last_txn_id()));
    wait_for_stdin_to_close();
}

fn spawn_committer(dir: &Path, workload: Workload, seed: u64, stderr: &Path) -> Helper {
    Helper::spawn(
        COMMITTING_HELPER,
        &[
            (HELPER_DIR_ENV, dir.display().to_string()),
            (HELPER_WORKLOAD_ENV, workload.name().to_string()),
            (HELPER_SEED_ENV, seed.to_string()),
        ],
        stderr,
    )
}

fn number_after(line: &str, word: &str) -> Option<u64> {
    line.strip_prefix(word)?.trim().parse().ok()
}

/// What the kills of one workload found, for the summary line.
#[derive(Debug, Default)]
struct Tally {
    kills: u64,
    killed_before_open: u64,
    killed_before_open_with_replay_due: u64,
    unacknowledged_txns_found: u64,
    torn_tails_cut: u64,
    replayed_txns: u64,
    acknowledged: u64,
}

/// Kills helpers committing `workload` again and again on one database, checking it after
/// (most of) the kills.
fn kill_repeatedly(workload: Workload) {
    let seed = common::seed(&format!("kill {}", workload.name()));
    let kills = common::env_count("NORTHSTAR_KILLS", 100).div_ceil(WORKLOADS.len());
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().unwrap();
    let db_dir = dir.path().join("db");
    let stderr = dir.path().join("helper.stderr");
    let mut model = Model {
        workload,
        seed,
        state: empty_state(),
        txn_id: 0,
    };
    // Highest txn known durable: acknowledged by a helper, found by a helper's recovery, or
    // committed by this process.
    let mut acknowledged = 0;
    // Set when the last kill was not followed by a check: the next helper recovers.
    let mut needs_recovery = false;
    let mut tally = Tally::default();
    for round in 0..kills {
        let context = format!("{} kill {round} (seed {seed})", workload.name());
        let from_start = needs_recovery || rng.chance(1, 8);
        let delay = Duration::from_millis(rng.below(61));
        let mut helper = spawn_committer(&db_dir, workload, seed, &stderr);
        let mut lines = Vec::new();
        if !from_start {
            let (opened, before) = helper.expect_line("opened", HELPER_START_TIMEOUT);
            lines.extend(before);
            lines.push(opened);
        }
        std::thread::sleep(delay);
        lines.extend(helper.lines_so_far());
        lines.extend(helper.kill());
        tally.kills += 1;
        let mut opened = false;
        for line in &lines {
            if let Some(start) = number_after(line, "opened") {
                assert!(
                    start >= acknowledged,
                    "{context}: helper opened at txn {start}, txn {acknowledged} was acknowledged"
                );
                // Recovery synced the log before the helper said so: durable too.
                acknowledged = start;
                opened = true;
            } else if let Some(txn_id) = number_after(line, "ack") {
                assert!(txn_id > acknowledged, "{context}: acks out of order");
                acknowledged = txn_id;
                tally.acknowledged += 1;
            }
        }
        if !opened {
            tally.killed_before_open += 1;
            tally.killed_before_open_with_replay_due += u64::from(needs_recovery);
        }
        needs_recovery = round + 1 < kills && rng.chance(1, 4);
        if !needs_recovery {
            acknowledged =
                check_after_kill(&db_dir, &mut model, acknowledged, &mut tally, &context);
        }
    }
    println!(
        "kill {}: seed {seed}, {tally:?}, {} txns in the end",
        workload.name(),
        model.txn_id
    );
}

/// Reopens the database right after a kill (so the lock must be free) and checks it;
/// commits one more txn. Returns the new highest durable txn.
fn check_after_kill(
    dir: &Path,
    model: &mut Model,
    acknowledged: u64,
    tally: &mut Tally,
    context: &str,
) -> u64 {
    let workload = model.workload;
    let _open = hold_databases();
    let db = Db::open(dir, workload.options())
        .unwrap_or_else(|error| panic!("{context}: reopen after the kill: {error}"));
    let report = db.recovery_report().clone();
    tally.torn_tails_cut += u64::from(report.log_truncated.is_some());
    tally.replayed_txns += report.replayed_txns;
    let last = db.last_txn_id();
    assert!(
        last >= acknowledged,
        "{context}: txn {acknowledged} was acknowledged, the database reopened at txn {last} ({report:?})"
    );
    // Only the txns a helper committed but had not yet acknowledged may be there besides.
    let unacknowledged_max = workload.ack_every();
    assert!(
        last <= acknowledged + unacknowledged_max,
        "{context}: reopened at txn {last}, {acknowledged} acknowledged"
    );
    tally.unacknowledged_txns_found += last - acknowledged;
    model.advance_to(last);
    assert_state(&read_state(&db), &model.state, context);
    let check = db.check().expect("check");
    assert!(check.is_ok(), "{context}: {:?}", check.problems);
    commit_txn(&db, workload, model.seed, last + 1);
    model.advance_to(last + 1);
    assert_state(
        &read_state(&db),
        &model.state,
        &format!("{context}, after the next commit"),
    );
    db.close().expect("close");
    last + 1
}

#[test]
fn killed_single_put_commits_lose_nothing_acknowledged() {
    kill_repeatedly(Workload::SinglePuts);
}

#[test]
fn killed_batches_with_overflow_values_lose_nothing_acknowledged() {
    kill_repeatedly(Workload::OverflowBatches);
}

#[test]
fn killed_keyspace_creates_drops_and_deletes_lose_nothing_acknowledged() {
    kill_repeatedly(Workload::KeyspaceChurn);
}

#[test]
fn killed_deferred_commits_lose_nothing_synced() {
    kill_repeatedly(Workload::DeferredWithSync);
}

#[test]
fn killed_commits_between_frequent_checkpoints_lose_nothing_acknowledged() {
    kill_repeatedly(Workload::FrequentCheckpoints);
}

#[test]
fn killed_lock_holder_releases_the_lock_at_once() {
    let seed = common::seed("killed_lock_holder_releases_the_lock_at_once");
    for busy in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let db_dir = dir.path().join("db");
        let stderr = dir.path().join("helper.stderr");
        let open = hold_databases();
        let db = Db::open(&db_dir, Options::default()).unwrap();
        commit_txn(&db, Workload::SinglePuts, seed, 1);
        drop(db);
        drop(open);
        let mut helper = if busy {
            spawn_committer(&db_dir, Workload::SinglePuts, seed, &stderr)
        } else {
            Helper::spawn(
                HOLDING_HELPER,
                &[(HOLDER_DIR_ENV, db_dir.display().to_string())],
                &stderr,
            )
        };
        helper.expect_line("opened", HELPER_START_TIMEOUT);
        let _open = hold_databases();
        match Db::open(&db_dir, Options::default()) {
            Err(Error::Locked { path }) => assert_eq!(path, common::lock_file(&db_dir)),
            other => panic!(
                "open while another process holds the database: {:?}",
                other.map(|db| db.last_txn_id())
            ),
        }
        if busy {
            helper.expect_line("ack", HELPER_START_TIMEOUT);
        }
        helper.kill();
        let db = Db::open(&db_dir, Options::default())
            .expect("open right after the lock holder was killed");
        assert!(
            db.last_txn_id() > u64::from(busy),
            "the helper committed txn 2 before it was killed"
        );
        assert!(db.check().unwrap().is_ok());
        println!(
            "lock holder ({}) killed; reopened at txn {}",
            if busy { "committing" } else { "idle" },
            db.last_txn_id()
        );
    }
}
