//! AS OF reads: `begin_read_at(t)` shows exactly the state after txn `t`, for every
//! committed `t`, whatever snapshots are retained (none, the most recent ones, periodic
//! ones, pinned ones), before and after a reopen, and while the writer keeps committing.
//!
//! Two drivers share one executor: a proptest (shrinks a failure to a short history) and a
//! seeded random walk with longer histories (prints its seed; `NORTHSTAR_SEED` repeats a
//! run, `NORTHSTAR_OPS` sets its length).

mod common;

use std::collections::VecDeque;
use std::ops::Bound;

use common::{
    apply_change, assert_state, collect_iter, empty_state, model_entries, model_prefix,
    model_range, read_state, test_key, Change, Model, Rng, State, KEYSPACE_NAMES, TEST_PREFIXES,
};
use northstar::{AsOfKeyspace, AsOfRange, AsOfTxn, Db, Error, Options, WriteTxn};
use proptest::prelude::*;

/// Which snapshots the database retains for AS OF reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retain {
    /// None: every AS OF read but the newest replays the log from its start.
    Nothing,
    /// `retain_recent(3)`.
    Recent,
    /// `retain_every(5, 4)`.
    Every,
    /// No policy, but the history pins and unpins snapshots.
    Pins,
}

const RETAINS: [Retain; 4] = [Retain::Nothing, Retain::Recent, Retain::Every, Retain::Pins];

fn options(retain: Retain) -> Options {
    let options = common::verified();
    match retain {
        Retain::Nothing | Retain::Pins => options,
        Retain::Recent => options.retain_recent(3),
        Retain::Every => options.retain_every(5, 4),
    }
}

/// One step of a history.
#[derive(Debug, Clone)]
enum Step {
    /// A change in the open write txn (begun if none is open).
    Change(Change),
    Commit,
    Abort,
    /// `pin_latest` (only when retaining [`Retain::Pins`]).
    Pin,
    /// Unpins pin number `n % pins` (only when retaining [`Retain::Pins`]).
    Unpin(u8),
}

fn random_step(rng: &mut Rng) -> Step {
    match rng.below(20) {
        0..=13 => Step::Change(common::random_change(rng)),
        14..=16 => Step::Commit,
        17 => Step::Abort,
        18 => Step::Pin,
        _ => Step::Unpin(rng.next_u64() as u8),
    }
}

/// Reads shared by an AS OF view's default keyspace and its named keyspaces.
trait ViewReads {
    fn fetch(&self, key: &[u8]) -> Option<Vec<u8>>;
    fn scan(&self, start: Bound<Vec<u8>>, end: Bound<Vec<u8>>) -> AsOfRange<'_>;
    fn scan_prefix(&self, prefix: &[u8]) -> AsOfRange<'_>;
    fn count(&self) -> u64;
    fn empty(&self) -> bool;
}

macro_rules! impl_view_reads {
    ($($reader:ty),*) => {$(
        impl ViewReads for $reader {
            fn fetch(&self, key: &[u8]) -> Option<Vec<u8>> {
                self.get(key).expect("get").map(|value| value.into_owned())
            }
            fn scan(&self, start: Bound<Vec<u8>>, end: Bound<Vec<u8>>) -> AsOfRange<'_> {
                self.range((start, end)).expect("range")
            }
            fn scan_prefix(&self, prefix: &[u8]) -> AsOfRange<'_> {
                self.prefix(prefix).expect("prefix")
            }
            fn count(&self) -> u64 {
                self.len()
            }
            fn empty(&self) -> bool {
                self.is_empty()
            }
        }
    )*};
}

impl_view_reads!(AsOfTxn<'_>, AsOfKeyspace<'_>);

fn random_bound(rng: &mut Rng) -> Bound<Vec<u8>> {
    match rng.below(3) {
        0 => Bound::Unbounded,
        1 => Bound::Included(test_key(rng.below(48) as u8)),
        _ => Bound::Excluded(test_key(rng.below(48) as u8)),
    }
}

fn as_slice(bound: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    bound.as_ref().map(Vec::as_slice)
}

type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Takes entries from the front (`false`) or back (`true`) of `range` per side, then the
/// rest from the front; the same from `expected`. Returns both sequences.
fn consume_mixed(range: AsOfRange<'_>, expected: Entries, sides: &[bool]) -> (Entries, Entries) {
    let mut range = range;
    let mut expected: VecDeque<_> = expected.into();
    let (mut got, mut want) = (Vec::new(), Vec::new());
    let owned = |entry: northstar::Result<(&[u8], northstar::Value<'_>)>| {
        let (key, value) = entry.expect("range entry");
        (key.to_vec(), value.into_owned())
    };
    for &back in sides {
        let (next, model) = if back {
            (range.next_back(), expected.pop_back())
        } else {
            (range.next(), expected.pop_front())
        };
        got.extend(next.map(owned));
        want.extend(model);
    }
    got.extend(range.map(owned));
    want.extend(expected);
    (got, want)
}

/// Checks one keyspace of a view against `model`: count, full scans both ways, gets,
/// ranges consumed from both ends, prefixes.
fn check_reads(reader: &impl ViewReads, model: &Model, rng: &mut Rng, context: &str) {
    assert_eq!(reader.count(), model.len() as u64, "{context}: len");
    assert_eq!(reader.empty(), model.is_empty(), "{context}: is_empty");
    let all = model_entries(model);
    let forward = collect_iter(reader.scan(Bound::Unbounded, Bound::Unbounded));
    if forward != all {
        panic!(
            "{context}: full scan: {}",
            common::describe_difference(&forward, &all)
        );
    }
    let mut backward = collect_iter(reader.scan(Bound::Unbounded, Bound::Unbounded).rev());
    backward.reverse();
    assert!(backward == all, "{context}: reverse scan differs");
    for _ in 0..6 {
        let key = test_key(rng.below(48) as u8);
        assert_eq!(
            reader.fetch(&key),
            model.get(&key).cloned(),
            "{context}: get {}",
            common::short(&key)
        );
    }
    for _ in 0..3 {
        let (start, end) = (random_bound(rng), random_bound(rng));
        let expected = model_range(model, as_slice(&start), as_slice(&end));
        let sides: Vec<bool> = (0..rng.below(6)).map(|_| rng.chance(1, 2)).collect();
        let range = reader.scan(start.clone(), end.clone());
        let (got, want) = consume_mixed(range, expected, &sides);
        assert!(
            got == want,
            "{context}: range {start:?}..{end:?} taken {sides:?}: {}",
            common::describe_difference(&got, &want)
        );
    }
    let prefix = TEST_PREFIXES[rng.index(TEST_PREFIXES.len())];
    let expected = model_prefix(model, prefix);
    assert!(
        collect_iter(reader.scan_prefix(prefix)) == expected,
        "{context}: prefix {prefix:?}"
    );
    let mut backward = collect_iter(reader.scan_prefix(prefix).rev());
    backward.reverse();
    assert!(
        backward == expected,
        "{context}: prefix {prefix:?} reversed"
    );
}

/// Checks a whole view against `state`: the keyspace list and every keyspace.
fn check_view(view: &AsOfTxn<'_>, state: &State, rng: &mut Rng, context: &str) {
    let names: Vec<String> = state.keys().filter(|n| !n.is_empty()).cloned().collect();
    assert_eq!(view.keyspaces(), names, "{context}: keyspaces");
    check_reads(view, &state[""], rng, context);
    for name in KEYSPACE_NAMES {
        match view.keyspace(name) {
            Ok(keyspace) => {
                let model = state
                    .get(name)
                    .unwrap_or_else(|| panic!("{context}: keyspace {name} should not exist"));
                check_reads(
                    &keyspace,
                    model,
                    rng,
                    &format!("{context}, keyspace {name}"),
                );
            }
            Err(Error::KeyspaceNotFound(_)) => assert!(
                !state.contains_key(name),
                "{context}: keyspace {name} is missing"
            ),
            Err(error) => panic!("{context}: keyspace({name}): {error}"),
        }
    }
}

/// Which snapshots the checks may count on: the handle's policy, its pins, and the first
/// txn it published (retention starts empty at open).
#[derive(Debug, Clone, Copy)]
struct Retained<'a> {
    retain: Retain,
    pins: &'a [u64],
    published_from: u64,
}

/// The oldest txn a snapshot is surely retained for at or before `txn_id`, by the policy
/// and the pins (0 when nothing need be).
fn retained_floor(retained: Retained<'_>, txn_id: u64, latest: u64) -> u64 {
    let Retained {
        retain,
        pins,
        published_from,
    } = retained;
    if retain != Retain::Pins && txn_id < published_from {
        return 0;
    }
    match retain {
        Retain::Nothing => 0,
        Retain::Recent if txn_id + 3 > latest => txn_id,
        Retain::Recent => 0,
        Retain::Every => {
            let periodic = txn_id - txn_id % 5;
            let newest = latest - latest % 5;
            if periodic >= published_from.max(1) && periodic + 15 >= newest {
                periodic
            } else {
                0
            }
        }
        Retain::Pins => pins
            .iter()
            .copied()
            .filter(|p| *p <= txn_id)
            .max()
            .unwrap_or(0),
    }
}

/// Checks `begin_read_at(t)` for every committed `t` against `states[t]`.
fn check_every_txn(
    db: &Db,
    states: &[State],
    retained: Retained<'_>,
    rng: &mut Rng,
    context: &str,
) {
    let latest = db.last_txn_id();
    assert_eq!(latest, states.len() as u64 - 1, "{context}: last txn");
    for (txn_id, state) in states.iter().enumerate() {
        let txn_id = txn_id as u64;
        let context = format!("{context}, AS OF txn {txn_id}");
        let view = db
            .begin_read_at(txn_id)
            .unwrap_or_else(|error| panic!("{context}: {error}"));
        assert_eq!(view.txn_id(), txn_id, "{context}");
        let base = view.base_txn_id();
        assert!(base <= txn_id, "{context}: base {base}");
        assert_eq!(
            view.replayed_records(),
            txn_id - base,
            "{context}: replayed"
        );
        if txn_id == latest {
            assert_eq!(base, latest, "{context}: the newest txn needs no replay");
        }
        let floor = retained_floor(retained, txn_id, latest);
        assert!(base >= floor, "{context}: base {base}, retained {floor}");
        check_view(&view, state, rng, &context);
    }
    match db.begin_read_at(latest + 1) {
        Err(Error::FutureTxn {
            requested,
            latest: newest,
        }) => {
            assert_eq!((requested, newest), (latest + 1, latest), "{context}")
        }
        other => panic!(
            "{context}: AS OF a future txn: {:?}",
            other.map(|view| view.txn_id())
        ),
    }
}

/// Runs `steps` against a new database retaining per `retain`, then checks every txn,
/// reopens, checks again, commits a little more and checks again.
fn run(steps: &[Step], retain: Retain, seed: u64) {
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = Db::open(dir.path(), options(retain)).expect("open");
    let mut states = vec![empty_state()];
    let mut pins: Vec<u64> = Vec::new();
    let mut open: Option<(WriteTxn<'_>, State)> = None;
    for step in steps {
        match step {
            Step::Change(change) => {
                let (txn, state) = open.get_or_insert_with(|| {
                    let txn = db.begin_write().expect("begin_write");
                    (txn, states.last().expect("txn 0").clone())
                });
                apply_change(txn, state, change);
            }
            Step::Commit => {
                if let Some((txn, state)) = open.take() {
                    record_commit(&mut states, txn.commit().expect("commit"), state);
                }
            }
            Step::Abort => {
                if let Some((txn, _)) = open.take() {
                    txn.abort();
                }
            }
            Step::Pin if retain == Retain::Pins => pins.push(db.pin_latest()),
            Step::Unpin(n) if retain == Retain::Pins && !pins.is_empty() => {
                let pin = pins.remove(usize::from(*n) % pins.len());
                assert!(db.unpin(pin), "unpin {pin}");
            }
            Step::Pin | Step::Unpin(_) => {}
        }
    }
    drop(open);
    let entries: usize = states.last().unwrap().values().map(Model::len).sum();
    println!(
        "{retain:?}: {} txns, {} pins held, {entries} entries at the end",
        states.len() - 1,
        pins.len()
    );
    let retained = Retained {
        retain,
        pins: &pins,
        published_from: 1,
    };
    check_every_txn(&db, &states, retained, &mut rng, "before reopen");
    drop(db);

    // Retention lives with the handle: after a reopen, older txns replay the log.
    let db = Db::open(dir.path(), options(retain)).expect("reopen");
    assert_state(&read_state(&db), states.last().unwrap(), "after reopen");
    let reopened = Retained {
        retain,
        pins: &[],
        published_from: states.len() as u64,
    };
    check_every_txn(&db, &states, reopened, &mut rng, "after reopen");
    for _ in 0..4 {
        let count = 1 + rng.index(4);
        let (state, txn_id) = common::commit_random(&db, states.last().unwrap(), &mut rng, count);
        record_commit(&mut states, txn_id, state);
    }
    let newest = db.last_txn_id();
    let reopened_pins: Vec<u64> = (retain == Retain::Pins)
        .then(|| db.pin_latest())
        .into_iter()
        .collect();
    assert!(reopened_pins.iter().all(|pin| *pin == newest));
    let retained = Retained {
        pins: &reopened_pins,
        ..reopened
    };
    check_every_txn(&db, &states, retained, &mut rng, "after reopen and commits");
}

/// Records the outcome of a commit: a new txn, or none when nothing changed.
fn record_commit(states: &mut Vec<State>, txn_id: u64, state: State) {
    if txn_id == states.len() as u64 {
        states.push(state);
    } else {
        assert_eq!(txn_id, states.len() as u64 - 1, "commit without changes");
        assert_state(&state, states.last().unwrap(), "a txn that logged nothing");
    }
}

fn value_len() -> impl Strategy<Value = u32> {
    prop_oneof![8 => 0..60u32, 1 => 600..4_000u32, 1 => 5_000..40_000u32]
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        6 => (0..4u8, 0..48u8, value_len(), any::<u8>()).prop_map(
            |(keyspace, key, value_len, seed)| Change::Put { keyspace, key, value_len, seed }
        ),
        3 => (0..4u8, 0..48u8).prop_map(|(keyspace, key)| Change::Delete { keyspace, key }),
        1 => (1..4u8).prop_map(Change::CreateKeyspace),
        1 => (1..4u8).prop_map(Change::DropKeyspace),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        12 => change().prop_map(Step::Change),
        3 => Just(Step::Commit),
        1 => Just(Step::Abort),
        1 => Just(Step::Pin),
        1 => any::<u8>().prop_map(Step::Unpin),
    ]
}

fn retain() -> impl Strategy<Value = Retain> {
    prop::sample::select(RETAINS.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn as_of_reads_match_the_model_at_every_txn(
        steps in prop::collection::vec(step(), 1..70),
        retain in retain(),
        seed in any::<u64>(),
    ) {
        run(&steps, retain, seed);
    }
}

#[test]
fn as_of_random_walk_matches_the_model_at_every_txn() {
    let seed = common::seed("as_of_random_walk_matches_the_model_at_every_txn");
    let steps = common::env_count("NORTHSTAR_OPS", 1500);
    for (n, retain) in RETAINS.into_iter().enumerate() {
        let seed = seed.wrapping_add(n as u64);
        let mut rng = Rng::new(seed);
        let history: Vec<Step> = (0..steps).map(|_| random_step(&mut rng)).collect();
        println!("{retain:?}: {steps} steps from seed {seed}");
        run(&history, retain, seed);
    }
}

#[test]
fn as_of_a_future_txn_is_refused() {
    let (_dir, db) = common::temp_db();
    match db.begin_read_at(1) {
        Err(Error::FutureTxn { requested, latest }) => assert_eq!((requested, latest), (1, 0)),
        other => panic!("{:?}", other.map(|view| view.txn_id())),
    }
    let empty = db.begin_read_at(0).unwrap();
    assert!(empty.is_empty() && empty.keyspaces().is_empty());
    drop(empty);
    let mut txn = db.begin_write().unwrap();
    txn.put(b"k", b"v").unwrap();
    let latest = txn.commit().unwrap();
    for requested in [latest + 1, latest + 2, u64::MAX] {
        match db.begin_read_at(requested) {
            Err(error @ Error::FutureTxn { .. }) => {
                let Error::FutureTxn {
                    requested: r,
                    latest: l,
                } = error
                else {
                    unreachable!()
                };
                assert_eq!((r, l), (requested, latest));
            }
            other => panic!("{requested}: {:?}", other.map(|view| view.txn_id())),
        }
    }
}

/// Commits one txn of `change` on `db` and its model.
fn commit_with(
    db: &Db,
    states: &mut Vec<State>,
    change: impl FnOnce(&mut WriteTxn<'_>, &mut State),
) {
    let mut state = states.last().unwrap().clone();
    let mut txn = db.begin_write().unwrap();
    change(&mut txn, &mut state);
    let txn_id = txn.commit().unwrap();
    assert_eq!(txn_id, states.len() as u64);
    states.push(state);
}

fn set(state: &mut State, keyspace: &str, key: &[u8], value: &[u8]) {
    state
        .get_mut(keyspace)
        .unwrap()
        .insert(key.to_vec(), value.to_vec());
}

#[test]
fn dropped_then_recreated_keyspace_shows_its_old_contents_at_old_txns() {
    for retain in RETAINS {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), options(retain)).unwrap();
        let mut states = vec![empty_state()];
        let mut pins = Vec::new();
        let big = common::test_value(30_000, 3);
        commit_with(&db, &mut states, |txn, state| {
            txn.create_keyspace("alpha").unwrap();
            let mut alpha = txn.keyspace("alpha").unwrap();
            alpha.put(b"a", b"1").unwrap();
            alpha.put(b"b", &big).unwrap();
            state.insert("alpha".into(), Model::new());
            set(state, "alpha", b"a", b"1");
            set(state, "alpha", b"b", &big);
        });
        commit_with(&db, &mut states, |txn, state| {
            txn.keyspace("alpha").unwrap().put(b"c", b"3").unwrap();
            set(state, "alpha", b"c", b"3");
        });
        if retain == Retain::Pins {
            pins.push(db.pin_latest());
        }
        commit_with(&db, &mut states, |txn, state| {
            assert!(txn.drop_keyspace("alpha").unwrap());
            txn.put(b"default", b"kept").unwrap();
            state.remove("alpha");
            set(state, "", b"default", b"kept");
        });
        commit_with(&db, &mut states, |txn, state| {
            txn.create_keyspace("alpha").unwrap();
            txn.keyspace("alpha").unwrap().put(b"z", b"new").unwrap();
            state.insert("alpha".into(), Model::new());
            set(state, "alpha", b"z", b"new");
        });
        // Dropped and created again within one txn: the new keyspace starts empty.
        commit_with(&db, &mut states, |txn, state| {
            assert!(txn.drop_keyspace("alpha").unwrap());
            txn.create_keyspace("alpha").unwrap();
            txn.keyspace("alpha").unwrap().put(b"y", b"newer").unwrap();
            state.insert("alpha".into(), Model::new());
            set(state, "alpha", b"y", b"newer");
        });
        let mut rng = Rng::new(5);
        let context = format!("{retain:?}");
        let retained = Retained {
            retain,
            pins: &pins,
            published_from: 1,
        };
        check_every_txn(&db, &states, retained, &mut rng, &context);
        let at_one = db.begin_read_at(1).unwrap();
        let alpha = at_one.keyspace("alpha").unwrap();
        assert_eq!(alpha.get(b"b").unwrap().as_deref(), Some(&big[..]));
        assert_eq!(alpha.get(b"z").unwrap(), None);
        drop(at_one);
        assert!(db.begin_read_at(3).unwrap().keyspace("alpha").is_err());
        drop(db);
        let db = Db::open(dir.path(), options(retain)).unwrap();
        let reopened = Retained {
            retain,
            pins: &[],
            published_from: states.len() as u64,
        };
        check_every_txn(
            &db,
            &states,
            reopened,
            &mut rng,
            &format!("{context} reopened"),
        );
    }
}

#[test]
fn pins_nest_and_an_unpinned_snapshot_is_rebuilt_from_the_log() {
    let (_dir, db) = common::temp_db();
    let mut states = vec![empty_state()];
    for n in 0..6u8 {
        commit_with(&db, &mut states, |txn, state| {
            txn.put([n], [n]).unwrap();
            set(state, "", &[n], &[n]);
        });
    }
    let pinned = db.pin_latest();
    assert_eq!(pinned, 6);
    assert_eq!(db.pin_latest(), 6, "a second pin of the same txn");
    for n in 6..9u8 {
        commit_with(&db, &mut states, |txn, state| {
            txn.put([n], [n]).unwrap();
            set(state, "", &[n], &[n]);
        });
    }
    let mut rng = Rng::new(9);
    for release in 0..3 {
        let view = db.begin_read_at(7).unwrap();
        let expected_base = if release < 2 { 6 } else { 0 };
        assert_eq!(view.base_txn_id(), expected_base, "after {release} unpins");
        assert_eq!(view.replayed_records(), 7 - expected_base);
        check_view(
            &view,
            &states[7],
            &mut rng,
            &format!("after {release} unpins"),
        );
        drop(view);
        assert_eq!(
            db.unpin(pinned),
            release < 2,
            "unpin number {}",
            release + 1
        );
    }
}

fn churn_key(n: u64) -> Vec<u8> {
    format!("key{n:04}").into_bytes()
}

#[test]
fn as_of_views_stay_correct_while_the_writer_keeps_committing() {
    let seed = common::seed("as_of_views_stay_correct_while_the_writer_keeps_committing");
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().unwrap();
    // The validator runs at the end: after every one of these commits it would be slow.
    let db = Db::open(dir.path(), Options::default().retain_recent(2)).unwrap();
    let mut states = vec![empty_state()];
    for round in 0..12u64 {
        commit_with(&db, &mut states, |txn, state| {
            for n in 0..60 {
                let key = churn_key(rng.below(400));
                if n % 5 == 0 {
                    txn.delete(&key).unwrap();
                    state.get_mut("").unwrap().remove(&key);
                } else {
                    let value = common::test_value(common::random_value_len(&mut rng), round as u8);
                    txn.put(&key, &value).unwrap();
                    set(state, "", &key, &value);
                }
            }
        });
    }
    let pinned = db.pin_latest();
    // Views on a retained snapshot (11, 12), a pinned one (12), replayed from the log start
    // (3) and replayed over a snapshot that retention drops as the writer goes on (12 → 13).
    let views: Vec<(u64, AsOfTxn<'_>)> = [3, 11, 12]
        .into_iter()
        .map(|txn_id| (txn_id, db.begin_read_at(txn_id).unwrap()))
        .collect();
    assert!(db.unpin(pinned));
    let finished = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut rng = Rng::new(seed ^ 1);
            for round in 0..150u64 {
                let mut txn = db.begin_write().unwrap();
                for _ in 0..20 {
                    let key = churn_key(rng.below(400));
                    if rng.chance(1, 3) {
                        txn.delete(&key).unwrap();
                    } else {
                        let value =
                            common::test_value(common::random_value_len(&mut rng), round as u8);
                        txn.put(&key, &value).unwrap();
                    }
                }
                txn.commit().unwrap();
            }
            finished.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let mut rng = Rng::new(seed ^ 2);
        let mut passes = 0;
        loop {
            let done = finished.load(std::sync::atomic::Ordering::SeqCst);
            for (txn_id, view) in &views {
                let context = format!("view AS OF txn {txn_id}, pass {passes}");
                check_view(view, &states[*txn_id as usize], &mut rng, &context);
            }
            passes += 1;
            if done {
                break;
            }
        }
        println!("{passes} passes over the views while the writer committed");
    });
    drop(views);
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    // The old txns are still readable once their first views are gone.
    for txn_id in [3, 11, 12] {
        let view = db.begin_read_at(txn_id).unwrap();
        check_view(
            &view,
            &states[txn_id as usize],
            &mut rng,
            &format!("new view AS OF {txn_id}"),
        );
    }
}
