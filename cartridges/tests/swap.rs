//! Many threads read one cartridge while it is caught up and swapped: every reader gets a
//! whole cartridge whose answers equal the model at its `to`, and a reader holding an old
//! cartridge keeps reading it after the file was replaced.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::{random_database, seed, universe};
use northstar_cartridges::{
    build_at, cartridge_path, BuildOptions, KeyHistory, LogSource, Method, Recipe, Shelf,
};

#[test]
fn readers_keep_working_across_catch_ups_and_swaps() {
    let dir = tempfile::tempdir().unwrap();
    let (db, model) = random_database(dir.path(), seed(41), 200);
    let model = Arc::new(model);
    let first = BuildOptions {
        up_to: Some(110),
        ..BuildOptions::default()
    };
    let log = LogSource::open(dir.path()).unwrap();
    build_at(
        &log,
        &cartridge_path(dir.path(), "key_history"),
        &Recipe::KeyHistory,
        &first,
    )
    .unwrap();
    let (shelf, built) =
        Shelf::open(dir.path(), Recipe::KeyHistory, &BuildOptions::default()).unwrap();
    assert!(built.is_none(), "the shelf serves the existing cartridge");
    let shelf = Arc::new(shelf);
    let oldest = shelf.current();
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|reader| {
            let (shelf, model, done) = (shelf.clone(), model.clone(), done.clone());
            std::thread::spawn(move || {
                let mut reads = 0u64;
                let keys = universe();
                while !done.load(Ordering::Relaxed) || reads == 0 {
                    let cartridge = shelf.current();
                    let history = KeyHistory::new(&cartridge).unwrap();
                    let to = cartridge.txn_to();
                    for (index, (keyspace, key)) in keys.iter().enumerate() {
                        let txn = (index as u64 * 7 + reads + reader) % (to + 1);
                        let found = history.get_at(keyspace, key, txn).unwrap();
                        assert_eq!(found, model.get(txn, keyspace, key), "txn {txn} of {to}");
                    }
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    for up_to in [130, 150, 170, 185, 200] {
        let options = BuildOptions {
            up_to: Some(up_to),
            ..BuildOptions::default()
        };
        let report = shelf.catch_up(&options).unwrap();
        assert_eq!((report.txn_to, report.method), (up_to, Method::Merge));
        assert_eq!(shelf.current().txn_to(), up_to);
    }
    done.store(true, Ordering::Relaxed);
    for reader in readers {
        assert!(reader.join().unwrap() > 0);
    }
    let history = KeyHistory::new(&oldest).unwrap();
    assert_eq!(oldest.txn_to(), 110);
    for (keyspace, key) in universe() {
        assert_eq!(
            history.get_at(&keyspace, &key, 110).unwrap(),
            model.get(110, &keyspace, &key)
        );
    }
    assert_eq!(shelf.current().txn_to(), db.last_txn_id());
}
