//! The admin side: listing a database's cartridges with their lag, rebuild triggers, and
//! the shelf's policy for damaged cartridges and changed parameters.

mod common;

use std::sync::Arc;

use common::{random_database, random_txn, seed, Rng};
use northstar_cartridges::{
    cartridge_path, list, BuildOptions, Method, RebuildTrigger, Recipe, Shelf, WordIndex,
};

#[test]
fn list_shows_kind_range_size_and_lag_and_names_a_refused_file() {
    let dir = tempfile::tempdir().unwrap();
    let seed = seed(61);
    let (db, mut model) = random_database(dir.path(), seed, 20);
    let words = Recipe::Extractor(Arc::new(WordIndex::new(None, 2)));
    Shelf::open(dir.path(), Recipe::KeyHistory, &BuildOptions::default()).unwrap();
    Shelf::open(dir.path(), words, &BuildOptions::default()).unwrap();
    let mut rng = Rng::new(seed);
    for _ in 0..5 {
        random_txn(&mut rng, &db, &mut model);
    }
    let damaged = dir.path().join("cartridges/zzz.cart");
    std::fs::write(&damaged, b"NSCART\0\0 and then nothing").unwrap();
    let infos = list(dir.path()).unwrap();
    let names: Vec<_> = infos.iter().map(|info| info.kind_name.clone()).collect();
    assert_eq!(
        names,
        [Some("key_history".into()), Some("words".into()), None]
    );
    for info in &infos[..2] {
        assert_eq!(info.txn_range, Some((1, 20)));
        assert_eq!(info.freshness.unwrap().lag_txns, 5);
        assert!(info.file_size > 448 && info.built_at.is_some());
    }
    assert!(infos[2]
        .error
        .as_deref()
        .unwrap()
        .contains("section header"));
}

#[test]
fn triggers_fire_on_lag_and_catch_up_only_then() {
    let dir = tempfile::tempdir().unwrap();
    let seed = seed(62);
    let (db, mut model) = random_database(dir.path(), seed, 30);
    let (shelf, _) = Shelf::open(dir.path(), Recipe::KeyHistory, &BuildOptions::default()).unwrap();
    let trigger = RebuildTrigger {
        lag_txns_max: Some(10),
        lag_bytes_max: None,
    };
    let mut rng = Rng::new(seed);
    for _ in 0..9 {
        random_txn(&mut rng, &db, &mut model);
    }
    let options = BuildOptions::default();
    assert!(shelf.catch_up_if(&trigger, &options).unwrap().is_none());
    random_txn(&mut rng, &db, &mut model);
    let report = shelf
        .catch_up_if(&trigger, &options)
        .unwrap()
        .expect("lag 10 fires");
    assert_eq!((report.txn_to, report.method), (40, Method::Merge));
    random_txn(&mut rng, &db, &mut model);
    let by_bytes = RebuildTrigger {
        lag_txns_max: None,
        lag_bytes_max: Some(0),
    };
    assert!(shelf.catch_up_if(&by_bytes, &options).unwrap().is_some());
    assert_eq!(shelf.freshness().unwrap().lag_txns, 0);
}

#[test]
fn the_shelf_rebuilds_damaged_cartridges_and_changed_parameters() {
    let dir = tempfile::tempdir().unwrap();
    random_database(dir.path(), seed(63), 20);
    let options = BuildOptions::default();
    let two = Recipe::Extractor(Arc::new(WordIndex::new(None, 2)));
    let (_, built) = Shelf::open(dir.path(), two.clone(), &options).unwrap();
    assert!(built.is_some(), "missing: built");
    let (_, built) = Shelf::open(dir.path(), two.clone(), &options).unwrap();
    assert!(built.is_none(), "present and fresh: served");
    let four = Recipe::Extractor(Arc::new(WordIndex::new(None, 4)));
    let (shelf, built) = Shelf::open(dir.path(), four.clone(), &options).unwrap();
    assert!(built.is_some(), "parameters changed: rebuilt");
    assert_eq!(shelf.current().params_hash(), four.params_hash());
    drop(shelf);
    let path = cartridge_path(dir.path(), "words");
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&path, bytes).unwrap();
    let (_, built) = Shelf::open(dir.path(), four, &options).unwrap();
    assert!(built.is_some(), "damaged: rebuilt");
}

#[test]
fn an_empty_database_builds_empty_cartridges_of_every_kind() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::open(dir.path());
    let recipes = [
        Recipe::KeyHistory,
        Recipe::PendingTasks(northstar_cartridges::tasks::PendingTasks::default()),
        Recipe::Extractor(Arc::new(WordIndex::new(None, 2))),
    ];
    for recipe in recipes {
        let (shelf, built) = Shelf::open(dir.path(), recipe, &BuildOptions::default()).unwrap();
        assert_eq!(built.unwrap().entry_count, 0);
        let cartridge = shelf.current();
        assert_eq!((cartridge.txn_from(), cartridge.txn_to()), (1, 0));
        if cartridge.kind() == northstar_cartridges::format::Kind::KeyHistory {
            let history = northstar_cartridges::KeyHistory::new(&cartridge).unwrap();
            assert_eq!(history.get_at(b"", b"k", 0).unwrap(), None);
        }
    }
    let mut txn = db.begin_write().unwrap();
    txn.put(b"k", b"v").unwrap();
    txn.commit().unwrap();
    let (shelf, _) = Shelf::open(dir.path(), Recipe::KeyHistory, &BuildOptions::default()).unwrap();
    assert_eq!(shelf.catch_up(&BuildOptions::default()).unwrap().txn_to, 1);
}
