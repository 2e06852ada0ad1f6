//! key_history against a model: AS OF reads at every txn of a random workload (and the
//! store's own `begin_read_at`), history slices, reads as of now through the delta, and
//! catch-up compared with a full rebuild byte for byte.

mod common;

use common::{random_database, random_txn, seed, universe, Model, Rng};
use northstar::Db;
use northstar_cartridges::{
    build_at, cartridge_path, catch_up_at, BuildOptions, Cartridge, KeyHistory, KeyHistoryNow,
    LogSource, Method, Recipe,
};

fn build(dir: &std::path::Path, up_to: Option<u64>, budget: usize) -> Cartridge {
    let path = cartridge_path(dir, "key_history");
    let options = BuildOptions {
        up_to,
        memory_budget: budget,
        ..BuildOptions::default()
    };
    let log = LogSource::open(dir).expect("log");
    build_at(&log, &path, &Recipe::KeyHistory, &options).expect("build");
    Cartridge::open(&path).expect("open")
}

fn assert_matches_model(history: &KeyHistory<'_>, model: &Model, db: &Db) {
    let to = history.cartridge().txn_to();
    for txn in 0..=to {
        for (keyspace, key) in universe() {
            let found = history.get_at(&keyspace, &key, txn).expect("in range");
            assert_eq!(
                found,
                model.get(txn, &keyspace, &key),
                "txn {txn} {keyspace:?} {key:?}"
            );
        }
        if txn == 0 {
            continue;
        }
        let read = db.begin_read_at(txn).expect("begin_read_at");
        let live = read.keyspaces();
        for (keyspace, key) in universe() {
            let name = String::from_utf8(keyspace.clone()).expect("UTF-8 name");
            let stored = if keyspace.is_empty() {
                read.get(&key).expect("get").map(|value| value.to_vec())
            } else if live.contains(&name) {
                let named = read.keyspace(&name).expect("live keyspace");
                named.get(&key).expect("get").map(|value| value.to_vec())
            } else {
                None
            };
            let found = history.get_at(&keyspace, &key, txn).expect("in range");
            assert_eq!(
                found.map(<[u8]>::to_vec),
                stored,
                "begin_read_at({txn}) {name} {key:?}"
            );
        }
    }
}

#[test]
fn as_of_reads_equal_the_model_and_begin_read_at_at_every_txn() {
    let dir = tempfile::tempdir().unwrap();
    let (db, model) = random_database(dir.path(), seed(11), 160);
    let cartridge = build(dir.path(), None, 1 << 20);
    let history = KeyHistory::new(&cartridge).unwrap();
    assert_eq!(cartridge.txn_to(), model.states.len() as u64 - 1);
    assert_matches_model(&history, &model, &db);
    assert!(history.get_at(b"", b"k00", cartridge.txn_to() + 1).is_err());
}

#[test]
fn history_slices_hold_every_change_of_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, model) = random_database(dir.path(), seed(12), 120);
    let cartridge = build(dir.path(), None, 1 << 20);
    let history = KeyHistory::new(&cartridge).unwrap();
    for (keyspace, key) in universe() {
        let versions: Vec<_> = history.history(&keyspace, &key).iter().collect();
        for pair in versions.windows(2) {
            assert!(pair[0].txn < pair[1].txn, "versions in txn order");
        }
        for version in &versions {
            assert_eq!(version.value, model.get(version.txn, &keyspace, &key));
        }
        for txn in 1..model.states.len() as u64 {
            if model.get(txn, &keyspace, &key) != model.get(txn - 1, &keyspace, &key) {
                assert!(
                    versions.iter().any(|version| version.txn == txn),
                    "change of {keyspace:?} {key:?} at txn {txn} missing"
                );
            }
        }
    }
}

#[test]
fn reads_as_of_now_fold_in_the_records_after_the_cartridge() {
    let dir = tempfile::tempdir().unwrap();
    let seed = seed(13);
    let (db, mut model) = random_database(dir.path(), seed, 80);
    let cartridge = build(dir.path(), None, 1 << 20);
    let mut rng = Rng::new(seed ^ 0xff);
    for _ in 0..60 {
        random_txn(&mut rng, &db, &mut model);
    }
    let log = LogSource::open(dir.path()).unwrap();
    let now = KeyHistoryNow::load(KeyHistory::new(&cartridge).unwrap(), &log).unwrap();
    assert_eq!(now.lag(), 60);
    for txn in 0..model.states.len() as u64 {
        for (keyspace, key) in universe() {
            let found = now.get_at(&keyspace, &key, txn).unwrap();
            assert_eq!(
                found.as_deref(),
                model.get(txn, &keyspace, &key),
                "txn {txn}"
            );
        }
    }
}

#[test]
fn catch_up_by_merge_equals_a_full_rebuild_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _model) = random_database(dir.path(), seed(14), 150);
    let old = build(dir.path(), Some(100), 1 << 20);
    let old_bytes = old.bytes().to_vec();
    let log = LogSource::open(dir.path()).unwrap();
    let merged_path = dir.path().join("merged.cart");
    let report = catch_up_at(
        &old,
        &log,
        &merged_path,
        &Recipe::KeyHistory,
        &BuildOptions::default(),
    )
    .unwrap();
    assert_eq!(report.method, Method::Merge);
    assert_eq!(report.txn_to, db.last_txn_id());
    let full = build(dir.path(), None, 1 << 20);
    assert_eq!(std::fs::read(&merged_path).unwrap(), full.bytes());
    assert_ne!(old_bytes, full.bytes());
}

#[test]
fn catch_up_from_every_tenth_txn_equals_a_full_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _model) = random_database(dir.path(), seed(16), 120);
    let log = LogSource::open(dir.path()).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    for from in (0..120).step_by(10) {
        let old = build(dir.path(), Some(from), 1 << 20);
        for to in [from + 1, from + 10, 120]
            .into_iter()
            .filter(|to| *to <= 120)
        {
            let options = BuildOptions {
                up_to: Some(to),
                catch_up_method: Some(Method::Merge),
                ..BuildOptions::default()
            };
            let merged = scratch.path().join("merged.cart");
            let report = catch_up_at(&old, &log, &merged, &Recipe::KeyHistory, &options).unwrap();
            assert_eq!(report.method, Method::Merge);
            let full = scratch.path().join("full.cart");
            build_at(
                &log,
                &full,
                &Recipe::KeyHistory,
                &BuildOptions {
                    up_to: Some(to),
                    ..BuildOptions::default()
                },
            )
            .unwrap();
            assert!(
                std::fs::read(&merged).unwrap() == std::fs::read(&full).unwrap(),
                "{from} -> {to}"
            );
        }
    }
    drop(db);
}

#[test]
fn builds_are_byte_identical_whatever_the_memory_budget() {
    let dir = tempfile::tempdir().unwrap();
    let _ = random_database(dir.path(), seed(15), 100);
    let first = build(dir.path(), None, 1 << 20).bytes().to_vec();
    let second = build(dir.path(), None, 1 << 20).bytes().to_vec();
    let spilled = build(dir.path(), None, 512).bytes().to_vec();
    assert_eq!(first, second);
    assert_eq!(first, spilled);
}
