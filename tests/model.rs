//! Model-based tests: random sequences of puts, deletes, keyspace changes, commits, aborts
//! and reopens, checked against a `BTreeMap` per keyspace after every step that reads and
//! after every txn. The validator runs after every commit (`verify_every_commit`).
//!
//! Two drivers share one executor: a proptest (shrinks a failure to a short sequence) and a
//! seeded random walk with many more operations (prints its seed; `NORTHSTAR_SEED` repeats a
//! run, `NORTHSTAR_OPS` sets its length).

mod common;

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;

use common::{assert_holds, collect, collect_rev, model_prefix, model_range, Model, Reads, Rng};
use northstar::{Db, Error, WriteTxn, KEY_SIZE_MAX};
use proptest::prelude::*;

/// Names of the named keyspaces the tests use; keyspace number `n > 0` is `NAMES[n - 1]`.
const NAMES: [&str; 3] = ["alpha", "beta", "gamma"];

/// Largest leaf cell kept inline (a quarter page body): a value of about this size minus
/// the cell header and key goes inline or to overflow pages depending on its key.
const INLINE_EDGE: u32 = 4088;
/// Payload bytes of one overflow page.
const OVERFLOW_PAYLOAD: u32 = 16 * 1024 - 32;

#[derive(Debug, Clone)]
enum Key {
    /// Short keys over a small alphabet with 0x00 and 0xff: collisions, shared prefixes,
    /// the empty key.
    Bytes(Vec<u8>),
    /// `n00042`-style keys, for runs that build trees several levels deep.
    Numbered(u16),
    /// Long keys, up to the largest allowed (from about 4080 bytes, the value always goes to
    /// overflow pages, even an empty one).
    Long { len: u16, fill: u8 },
}

impl Key {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Key::Bytes(bytes) => bytes.clone(),
            Key::Numbered(n) => format!("n{n:05}").into_bytes(),
            Key::Long { len, fill } => {
                let mut key = vec![*fill; *len as usize];
                if let Some(last) = key.last_mut() {
                    *last = last.wrapping_add(*len as u8);
                }
                key
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Val {
    len: u32,
    seed: u8,
}

impl Val {
    fn bytes(self) -> Vec<u8> {
        (0..self.len)
            .map(|i| (i.wrapping_mul(31).wrapping_add(u32::from(self.seed) * 7) % 251) as u8)
            .collect()
    }
}

#[derive(Debug, Clone)]
enum Start {
    First,
    Last,
    Seek(Key),
}

#[derive(Debug, Clone)]
enum Query {
    Get(Key),
    /// A range, consumed from the front (`false`) or back (`true`) per step, then from the
    /// front to its end.
    Range {
        start: Bound<Key>,
        end: Bound<Key>,
        sides: Vec<bool>,
    },
    Prefix {
        prefix: Vec<u8>,
        reverse: bool,
    },
    /// A cursor placed at `start`, then moved next (`true`) or prev (`false`) per step.
    Cursor {
        start: Start,
        steps: Vec<bool>,
    },
}

/// One step. `keyspace` 0 is the default keyspace, `n > 0` is `NAMES[n - 1]` (which may
/// not exist: then the model expects `KeyspaceNotFound`).
#[derive(Debug, Clone)]
enum Op {
    Put {
        keyspace: u8,
        key: Key,
        value: Val,
    },
    PutRun {
        keyspace: u8,
        first: u16,
        count: u16,
        value: Val,
    },
    Delete {
        keyspace: u8,
        key: Key,
    },
    /// Deletes the model's entry number `pick % len`, so deletes often hit, down to the
    /// last entry.
    DeleteExisting {
        keyspace: u8,
        pick: u16,
    },
    /// Overwrites the model's entry number `pick % len` with a value of another size.
    OverwriteExisting {
        keyspace: u8,
        pick: u16,
        value: Val,
    },
    DeleteRun {
        keyspace: u8,
        first: u16,
        count: u16,
    },
    OversizeKey {
        keyspace: u8,
    },
    CreateKeyspace(u8),
    DropKeyspace(u8),
    Query {
        keyspace: u8,
        query: Query,
    },
    Commit,
    Abort,
    Reopen,
}

/// What the database should hold.
#[derive(Debug, Clone, Default, PartialEq)]
struct State {
    default: Model,
    named: BTreeMap<String, Model>,
}

impl State {
    fn space_mut(&mut self, keyspace: u8) -> Option<&mut Model> {
        match keyspace {
            0 => Some(&mut self.default),
            n => self.named.get_mut(NAMES[n as usize - 1]),
        }
    }
}

/// How a write txn ended.
#[derive(Debug, PartialEq)]
enum End {
    Commit,
    Abort,
    Reopen,
    OutOfOps,
}

#[derive(Debug, Default)]
struct Stats {
    commits: u64,
    aborts: u64,
    reopens: u64,
    queries: u64,
    largest_entry_count: usize,
}

/// Runs `ops` against a new database and the model; panics on the first difference.
fn run(ops: impl IntoIterator<Item = Op>) -> Stats {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut db = Db::open(dir.path(), common::verified()).expect("open");
    let mut committed = State::default();
    let mut stats = Stats::default();
    let mut ops = ops.into_iter().peekable();
    while ops.peek().is_some() {
        let end = run_txn(&db, &mut committed, &mut ops, &mut stats);
        match end {
            End::Commit => stats.commits += 1,
            End::Abort | End::OutOfOps => stats.aborts += 1,
            End::Reopen => {
                stats.reopens += 1;
                let txn_id = db.last_txn_id();
                drop(db);
                db = Db::open(dir.path(), common::verified()).expect("reopen");
                assert_eq!(db.last_txn_id(), txn_id, "reopen shows the last commit");
                let report = db.check().expect("check");
                assert!(
                    report.is_ok(),
                    "validator after reopen: {:?}",
                    report.problems
                );
            }
        }
        check_committed(
            &db,
            &committed,
            &format!("after {end:?} at txn {}", db.last_txn_id()),
        );
        let entries =
            committed.default.len() + committed.named.values().map(Model::len).sum::<usize>();
        stats.largest_entry_count = stats.largest_entry_count.max(entries);
    }
    stats
}

/// Runs ops in one write txn until a commit, abort or reopen.
fn run_txn(
    db: &Db,
    committed: &mut State,
    ops: &mut impl Iterator<Item = Op>,
    stats: &mut Stats,
) -> End {
    let base = db.last_txn_id();
    let mut txn = db.begin_write().expect("begin_write");
    assert_eq!(txn.txn_id(), base + 1);
    let mut pending = committed.clone();
    for op in ops {
        match op {
            Op::Commit => {
                let txn_id = txn.commit().expect("commit");
                if pending == *committed {
                    assert!(
                        txn_id == base || txn_id == base + 1,
                        "commit without changes gave txn {txn_id}"
                    );
                } else {
                    assert_eq!(txn_id, base + 1, "commit with changes");
                }
                assert_eq!(db.last_txn_id(), txn_id);
                *committed = pending;
                return End::Commit;
            }
            Op::Abort => {
                txn.abort();
                assert_eq!(db.last_txn_id(), base, "abort leaves the txn id");
                return End::Abort;
            }
            Op::Reopen => return End::Reopen,
            Op::Query { .. } => {
                stats.queries += 1;
                apply(&mut txn, &mut pending, op);
            }
            op => apply(&mut txn, &mut pending, op),
        }
    }
    End::OutOfOps
}

fn name_of(keyspace: u8) -> &'static str {
    NAMES[keyspace as usize - 1]
}

/// Runs `action` on the keyspace's writable handle, or checks that the model agrees it
/// does not exist.
fn with_keyspace(
    txn: &mut WriteTxn<'_>,
    state: &mut State,
    keyspace: u8,
    action: impl FnOnce(Writer<'_, '_>, &mut Model),
) {
    match keyspace {
        0 => action(Writer::Default(txn), &mut state.default),
        n => match txn.keyspace(name_of(n)) {
            Ok(handle) => {
                let model = state
                    .space_mut(n)
                    .expect("the model has every keyspace the store has");
                action(Writer::Named(handle), model)
            }
            Err(Error::KeyspaceNotFound(name)) => {
                assert_eq!(name, name_of(n));
                assert!(
                    state.space_mut(n).is_none(),
                    "keyspace {name} is in the model but not in the store"
                );
            }
            Err(error) => panic!("keyspace({}): {error}", name_of(n)),
        },
    }
}

/// The default keyspace (the txn itself) or a named keyspace handle.
enum Writer<'t, 'db> {
    Default(&'t mut WriteTxn<'db>),
    Named(northstar::KeyspaceMut<'t, 'db>),
}

impl Writer<'_, '_> {
    fn put(&mut self, key: &[u8], value: &[u8]) -> northstar::Result<()> {
        match self {
            Writer::Default(txn) => txn.put(key, value),
            Writer::Named(handle) => handle.put(key, value),
        }
    }

    fn delete(&mut self, key: &[u8]) -> northstar::Result<bool> {
        match self {
            Writer::Default(txn) => txn.delete(key),
            Writer::Named(handle) => handle.delete(key),
        }
    }

    fn query(&self, model: &Model, query: &Query) {
        match self {
            Writer::Default(txn) => run_query(&**txn, model, query),
            Writer::Named(handle) => run_query(&handle.read(), model, query),
        }
    }
}

fn apply(txn: &mut WriteTxn<'_>, state: &mut State, op: Op) {
    match op {
        Op::Put {
            keyspace,
            key,
            value,
        } => with_keyspace(txn, state, keyspace, |mut writer, model| {
            let (key, value) = (key.bytes(), value.bytes());
            writer.put(&key, &value).expect("put");
            model.insert(key, value);
        }),
        Op::PutRun {
            keyspace,
            first,
            count,
            value,
        } => with_keyspace(txn, state, keyspace, |mut writer, model| {
            for n in first..first.saturating_add(count) {
                let key = Key::Numbered(n).bytes();
                let value = Val {
                    len: value.len,
                    seed: value.seed.wrapping_add(n as u8),
                }
                .bytes();
                writer.put(&key, &value).expect("put");
                model.insert(key, value);
            }
        }),
        Op::Delete { keyspace, key } => with_keyspace(txn, state, keyspace, |mut writer, model| {
            let key = key.bytes();
            let existed = writer.delete(&key).expect("delete");
            assert_eq!(
                existed,
                model.remove(&key).is_some(),
                "delete {} reports presence",
                common::short(&key)
            );
        }),
        Op::DeleteExisting { keyspace, pick } => {
            with_keyspace(txn, state, keyspace, |mut writer, model| {
                let Some(key) = model
                    .keys()
                    .nth(pick as usize % model.len().max(1))
                    .cloned()
                else {
                    return;
                };
                assert!(
                    writer.delete(&key).expect("delete"),
                    "delete {} reports presence",
                    common::short(&key)
                );
                model.remove(&key);
            })
        }
        Op::OverwriteExisting {
            keyspace,
            pick,
            value,
        } => with_keyspace(txn, state, keyspace, |mut writer, model| {
            let Some(key) = model
                .keys()
                .nth(pick as usize % model.len().max(1))
                .cloned()
            else {
                return;
            };
            let value = value.bytes();
            writer.put(&key, &value).expect("put");
            model.insert(key, value);
        }),
        Op::DeleteRun {
            keyspace,
            first,
            count,
        } => with_keyspace(txn, state, keyspace, |mut writer, model| {
            for n in first..first.saturating_add(count) {
                let key = Key::Numbered(n).bytes();
                let existed = writer.delete(&key).expect("delete");
                assert_eq!(
                    existed,
                    model.remove(&key).is_some(),
                    "delete {} reports presence",
                    common::short(&key)
                );
            }
        }),
        Op::OversizeKey { keyspace } => with_keyspace(txn, state, keyspace, |mut writer, _| {
            let key = vec![b'k'; KEY_SIZE_MAX + 1];
            let expected = |result: northstar::Result<()>| match result {
                Err(Error::KeyTooLarge { len, max }) => {
                    assert_eq!((len, max), (KEY_SIZE_MAX + 1, KEY_SIZE_MAX))
                }
                other => panic!("oversize key gave {other:?}"),
            };
            expected(writer.put(&key, b"v"));
            expected(writer.delete(&key).map(|_| ()));
        }),
        Op::CreateKeyspace(n) => {
            let name = name_of(n);
            match txn.create_keyspace(name) {
                Ok(()) => assert!(
                    state.named.insert(name.to_string(), Model::new()).is_none(),
                    "created {name} twice"
                ),
                Err(Error::KeyspaceExists(found)) => {
                    assert_eq!(found, name);
                    assert!(
                        state.named.contains_key(name),
                        "store says {name} exists, model disagrees"
                    );
                }
                Err(error) => panic!("create_keyspace({name}): {error}"),
            }
            assert_eq!(
                txn.keyspaces().expect("keyspaces"),
                state.named.keys().cloned().collect::<Vec<_>>()
            );
        }
        Op::DropKeyspace(n) => {
            let name = name_of(n);
            let existed = txn.drop_keyspace(name).expect("drop_keyspace");
            assert_eq!(
                existed,
                state.named.remove(name).is_some(),
                "drop {name} reports presence"
            );
            assert_eq!(
                txn.keyspaces().expect("keyspaces"),
                state.named.keys().cloned().collect::<Vec<_>>()
            );
        }
        Op::Query { keyspace, query } => with_keyspace(txn, state, keyspace, |writer, model| {
            writer.query(model, &query)
        }),
        Op::Commit | Op::Abort | Op::Reopen => unreachable!("handled by run_txn"),
    }
}

/// Checks a fresh snapshot against the committed model, every keyspace in full.
fn check_committed(db: &Db, state: &State, context: &str) {
    let read = db.begin_read().expect("begin_read");
    assert_eq!(read.txn_id(), db.last_txn_id());
    assert_holds(
        &read,
        &state.default,
        &format!("{context}, default keyspace"),
    );
    assert_eq!(
        read.keyspaces().expect("keyspaces"),
        state.named.keys().cloned().collect::<Vec<_>>(),
        "{context}"
    );
    for name in NAMES {
        match (read.keyspace(name), state.named.get(name)) {
            (Ok(keyspace), Some(model)) => {
                assert_holds(&keyspace, model, &format!("{context}, keyspace {name}"))
            }
            (Err(Error::KeyspaceNotFound(_)), None) => {}
            (Ok(_), None) => panic!("{context}: keyspace {name} exists but the model dropped it"),
            (Err(error), _) => panic!("{context}: keyspace({name}): {error}"),
        }
    }
}

fn bound(bound: &Bound<Key>) -> Bound<Vec<u8>> {
    match bound {
        Bound::Included(key) => Bound::Included(key.bytes()),
        Bound::Excluded(key) => Bound::Excluded(key.bytes()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn run_query(reader: &impl Reads, model: &Model, query: &Query) {
    match query {
        Query::Get(key) => {
            let key = key.bytes();
            assert_eq!(
                reader.fetch(&key),
                model.get(&key).cloned(),
                "get {}",
                common::short(&key)
            );
        }
        Query::Range { start, end, sides } => {
            let (start, end) = (bound(start), bound(end));
            let mut expected: VecDeque<_> = model_range(
                model,
                start.as_ref().map(Vec::as_slice),
                end.as_ref().map(Vec::as_slice),
            )
            .into();
            let mut range = reader.scan(start.clone(), end.clone());
            let owned = |entry: Option<northstar::Result<(&[u8], northstar::Value<'_>)>>| {
                entry.map(|entry| {
                    entry
                        .map(|(key, value)| (key.to_vec(), value.into_owned()))
                        .expect("range entry")
                })
            };
            for (step, from_back) in sides.iter().enumerate() {
                let (got, want) = if *from_back {
                    (owned(range.next_back()), expected.pop_back())
                } else {
                    (owned(range.next()), expected.pop_front())
                };
                let (got_key, want_key) = (got.as_ref().map(|e| &e.0), want.as_ref().map(|e| &e.0));
                assert!(
                    got == want,
                    "range {start:?}..{end:?} step {step} (from back: {from_back}): \
                     got {got_key:?}, want {want_key:?}"
                );
            }
            let rest = collect(range);
            assert!(expected == rest, "rest of range {start:?}..{end:?}");
        }
        Query::Prefix { prefix, reverse } => {
            let mut expected = model_prefix(model, prefix);
            let got = if *reverse {
                expected.reverse();
                collect_rev(reader.scan_prefix(prefix))
            } else {
                collect(reader.scan_prefix(prefix))
            };
            assert!(
                got == expected,
                "prefix {} (reverse {reverse}): {}",
                common::short(prefix),
                common::describe_difference(&got, &expected)
            );
        }
        Query::Cursor { start, steps } => check_cursor(reader, model, start, steps),
    }
}

fn check_cursor(reader: &impl Reads, model: &Model, start: &Start, steps: &[bool]) {
    let entries = common::model_entries(model);
    let mut cursor = reader.open_cursor();
    let (found, mut position) = match start {
        Start::First => (
            cursor.first().expect("first"),
            (!entries.is_empty()).then_some(0),
        ),
        Start::Last => (cursor.last().expect("last"), entries.len().checked_sub(1)),
        Start::Seek(key) => {
            let key = key.bytes();
            let index = entries.partition_point(|(k, _)| *k < key);
            (
                cursor.seek(&key).expect("seek"),
                (index < entries.len()).then_some(index),
            )
        }
    };
    assert_eq!(found, position.is_some(), "cursor {start:?} found an entry");
    for (step, forward) in std::iter::once(None)
        .chain(steps.iter().map(Some))
        .enumerate()
    {
        if let Some(forward) = forward {
            let moved = if *forward {
                cursor.next()
            } else {
                cursor.prev()
            }
            .expect("cursor move");
            position = match position {
                Some(index) if *forward => (index + 1 < entries.len()).then_some(index + 1),
                Some(index) => index.checked_sub(1),
                None => None,
            };
            assert_eq!(
                moved,
                position.is_some(),
                "cursor {start:?} step {step} (next: {forward})"
            );
        }
        assert_eq!(cursor.is_positioned(), position.is_some());
        let got = cursor
            .entry()
            .expect("entry")
            .map(|(key, value)| (key.to_vec(), value.into_owned()));
        assert!(
            got.as_ref() == position.map(|index| &entries[index]),
            "cursor {start:?} step {step}: entry"
        );
    }
}

// ---- proptest driver ----

fn key_strategy() -> impl Strategy<Value = Key> {
    let alphabet = prop::sample::select(vec![0x00u8, 0x01, b'a', b'b', b'n', 0x7f, 0xfe, 0xff]);
    let long_len = prop::sample::select(vec![1u16, 100, 2047, 4000, 4095, 4096]);
    let long_fill = prop::sample::select(vec![b'a', b'n', 0xff]);
    prop_oneof![
        4 => prop::collection::vec(alphabet, 0..5).prop_map(Key::Bytes),
        4 => (0u16..700).prop_map(Key::Numbered),
        1 => (long_len, long_fill).prop_map(|(len, fill)| Key::Long { len, fill }),
    ]
}

fn value_strategy() -> impl Strategy<Value = Val> {
    let overflow_edges = vec![
        OVERFLOW_PAYLOAD - 1,
        OVERFLOW_PAYLOAD,
        OVERFLOW_PAYLOAD + 1,
        2 * OVERFLOW_PAYLOAD,
    ];
    let len = prop_oneof![
        6 => 0u32..64,
        3 => 64u32..3000,
        2 => (INLINE_EDGE - 120)..(INLINE_EDGE + 40),
        2 => prop::sample::select(overflow_edges),
        2 => 4096u32..40_000,
        1 => 100_000u32..110_000,
    ];
    (len, any::<u8>()).prop_map(|(len, seed)| Val { len, seed })
}

fn bound_strategy() -> impl Strategy<Value = Bound<Key>> {
    prop_oneof![
        1 => Just(Bound::Unbounded),
        2 => key_strategy().prop_map(Bound::Included),
        2 => key_strategy().prop_map(Bound::Excluded),
    ]
}

fn query_strategy() -> impl Strategy<Value = Query> {
    let start = prop_oneof![
        Just(Start::First),
        Just(Start::Last),
        key_strategy().prop_map(Start::Seek)
    ];
    let sides = prop::collection::vec(any::<bool>(), 0..12);
    let prefix = prop::collection::vec(
        prop::sample::select(vec![0x00u8, b'a', b'n', b'0', 0xff]),
        0..4,
    );
    let steps = prop::collection::vec(any::<bool>(), 0..16);
    prop_oneof![
        2 => key_strategy().prop_map(Query::Get),
        3 => (bound_strategy(), bound_strategy(), sides)
            .prop_map(|(start, end, sides)| Query::Range { start, end, sides }),
        2 => (prefix, any::<bool>()).prop_map(|(prefix, reverse)| Query::Prefix { prefix, reverse }),
        2 => (start, steps).prop_map(|(start, steps)| Query::Cursor { start, steps }),
    ]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let keyspace = || prop_oneof![3 => Just(0u8), 2 => 1u8..=3];
    let run_value = (0u32..200, any::<u8>()).prop_map(|(len, seed)| Val { len, seed });
    prop_oneof![
        30 => (keyspace(), key_strategy(), value_strategy())
            .prop_map(|(keyspace, key, value)| Op::Put { keyspace, key, value }),
        3 => (keyspace(), 0u16..700, 1u16..400, run_value)
            .prop_map(|(keyspace, first, count, value)| Op::PutRun { keyspace, first, count, value }),
        7 => (keyspace(), key_strategy()).prop_map(|(keyspace, key)| Op::Delete { keyspace, key }),
        10 => (keyspace(), any::<u16>())
            .prop_map(|(keyspace, pick)| Op::DeleteExisting { keyspace, pick }),
        5 => (keyspace(), any::<u16>(), value_strategy())
            .prop_map(|(keyspace, pick, value)| Op::OverwriteExisting { keyspace, pick, value }),
        3 => (keyspace(), 0u16..700, 1u16..500)
            .prop_map(|(keyspace, first, count)| Op::DeleteRun { keyspace, first, count }),
        1 => keyspace().prop_map(|keyspace| Op::OversizeKey { keyspace }),
        3 => (1u8..=3).prop_map(Op::CreateKeyspace),
        2 => (1u8..=3).prop_map(Op::DropKeyspace),
        20 => (keyspace(), query_strategy()).prop_map(|(keyspace, query)| Op::Query { keyspace, query }),
        10 => Just(Op::Commit),
        3 => Just(Op::Abort),
        2 => Just(Op::Reopen),
    ]
}

fn config() -> ProptestConfig {
    let regressions =
        prop::test_runner::FileFailurePersistence::Direct("tests/model.proptest-regressions");
    ProptestConfig {
        cases: common::env_count("NORTHSTAR_CASES", 64) as u32,
        failure_persistence: Some(Box::new(regressions)),
        max_shrink_iters: 2000,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_ops_match_the_model(ops in prop::collection::vec(op_strategy(), 1..160)) {
        run(ops);
    }
}

// ---- seeded random walk ----

fn random_key(rng: &mut Rng) -> Key {
    match rng.below(9) {
        0..=3 => {
            const ALPHABET: [u8; 8] = [0x00, 0x01, b'a', b'b', b'n', 0x7f, 0xfe, 0xff];
            let len = rng.index(5);
            Key::Bytes(
                (0..len)
                    .map(|_| ALPHABET[rng.index(ALPHABET.len())])
                    .collect(),
            )
        }
        4..=7 => Key::Numbered(rng.below(1500) as u16),
        _ => {
            const LENGTHS: [u16; 6] = [1, 100, 2047, 4000, 4095, 4096];
            Key::Long {
                len: LENGTHS[rng.index(LENGTHS.len())],
                fill: [b'a', b'n', 0xff][rng.index(3)],
            }
        }
    }
}

fn random_value(rng: &mut Rng) -> Val {
    let len = match rng.below(100) {
        0..=49 => rng.below(64) as u32,
        50..=74 => 64 + rng.below(3000) as u32,
        75..=84 => INLINE_EDGE - 120 + rng.below(160) as u32,
        85..=98 => 4096 + rng.below(40_000) as u32,
        _ => 100_000 + rng.below(10_000) as u32,
    };
    Val {
        len,
        seed: rng.next_u64() as u8,
    }
}

fn random_bound(rng: &mut Rng) -> Bound<Key> {
    match rng.below(5) {
        0 => Bound::Unbounded,
        1 | 2 => Bound::Included(random_key(rng)),
        _ => Bound::Excluded(random_key(rng)),
    }
}

fn random_bools(rng: &mut Rng, max: usize) -> Vec<bool> {
    let len = rng.index(max + 1);
    (0..len).map(|_| rng.chance(1, 2)).collect()
}

fn random_query(rng: &mut Rng) -> Query {
    match rng.below(9) {
        0 | 1 => Query::Get(random_key(rng)),
        2..=4 => Query::Range {
            start: random_bound(rng),
            end: random_bound(rng),
            sides: random_bools(rng, 12),
        },
        5 | 6 => {
            const ALPHABET: [u8; 5] = [0x00, b'a', b'n', b'0', 0xff];
            let len = rng.index(4);
            Query::Prefix {
                prefix: (0..len)
                    .map(|_| ALPHABET[rng.index(ALPHABET.len())])
                    .collect(),
                reverse: rng.chance(1, 2),
            }
        }
        _ => {
            let start = match rng.below(3) {
                0 => Start::First,
                1 => Start::Last,
                _ => Start::Seek(random_key(rng)),
            };
            Query::Cursor {
                start,
                steps: random_bools(rng, 24),
            }
        }
    }
}

fn random_op(rng: &mut Rng) -> Op {
    let keyspace = if rng.chance(3, 5) {
        0
    } else {
        1 + rng.below(3) as u8
    };
    match rng.below(100) {
        0..=33 => Op::Put {
            keyspace,
            key: random_key(rng),
            value: random_value(rng),
        },
        34..=36 => Op::PutRun {
            keyspace,
            first: rng.below(1500) as u16,
            count: 1 + rng.below(400) as u16,
            value: Val {
                len: rng.below(200) as u32,
                seed: rng.next_u64() as u8,
            },
        },
        37..=42 => Op::Delete {
            keyspace,
            key: random_key(rng),
        },
        43..=48 => Op::DeleteExisting {
            keyspace,
            pick: rng.next_u64() as u16,
        },
        49..=51 => Op::OverwriteExisting {
            keyspace,
            pick: rng.next_u64() as u16,
            value: random_value(rng),
        },
        52..=54 => Op::DeleteRun {
            keyspace,
            first: rng.below(1500) as u16,
            count: 1 + rng.below(600) as u16,
        },
        55 => Op::OversizeKey { keyspace },
        56..=58 => Op::CreateKeyspace(1 + rng.below(3) as u8),
        59 => Op::DropKeyspace(1 + rng.below(3) as u8),
        60..=79 => Op::Query {
            keyspace,
            query: random_query(rng),
        },
        80..=91 => Op::Commit,
        92..=96 => Op::Abort,
        _ => Op::Reopen,
    }
}

#[test]
fn seeded_random_walk_matches_the_model() {
    let seed = common::seed("seeded_random_walk_matches_the_model");
    let op_count = common::env_count("NORTHSTAR_OPS", 5000);
    let mut rng = Rng::new(seed);
    let ops: Vec<Op> = (0..op_count).map(|_| random_op(&mut rng)).collect();
    let stats = run(ops);
    println!("{op_count} ops: {stats:?}");
    assert!(stats.commits > 0);
}
