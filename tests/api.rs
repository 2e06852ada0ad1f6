//! The public API on fixed cases: cursors, range bounds, prefix scans, keyspaces,
//! persistence across reopen, and how the tree shrinks and stays full under deletes.

mod common;

use std::ops::Bound;

use common::{
    assert_holds, collect, collect_rev, keys, model_prefix, model_range, Model, Reads, Rng,
};
use northstar::{Db, Error, KEY_SIZE_MAX};

fn key(n: u64) -> Vec<u8> {
    format!("k{n:05}").into_bytes()
}

/// A database holding `keys` with values `v{n}`, committed in one txn.
fn database_with(keys: impl IntoIterator<Item = Vec<u8>>) -> (tempfile::TempDir, Db, Model) {
    let (dir, db) = common::temp_db();
    let mut model = Model::new();
    let mut txn = db.begin_write().unwrap();
    for (n, key) in keys.into_iter().enumerate() {
        let value = format!("v{n}").into_bytes();
        txn.put(&key, &value).unwrap();
        model.insert(key, value);
    }
    txn.commit().unwrap();
    (dir, db, model)
}

fn assert_unpositioned(cursor: &northstar::Cursor<'_>) {
    assert!(!cursor.is_positioned());
    assert_eq!(cursor.key(), None);
    assert_eq!(cursor.value().unwrap(), None);
    assert!(cursor.entry().unwrap().is_none());
}

// ---- cursors ----

fn check_empty_cursor(mut cursor: northstar::Cursor<'_>) {
    assert_unpositioned(&cursor);
    assert!(!cursor.first().unwrap());
    assert!(!cursor.last().unwrap());
    assert!(!cursor.seek(b"").unwrap());
    assert!(!cursor.next().unwrap());
    assert!(!cursor.prev().unwrap());
    assert_unpositioned(&cursor);
}

#[test]
fn cursor_on_an_empty_tree_finds_nothing() {
    let (_dir, db) = common::temp_db();
    let mut txn = db.begin_write().unwrap();
    txn.create_keyspace("empty").unwrap();
    check_empty_cursor(txn.cursor());
    let named = txn.keyspace("empty").unwrap();
    check_empty_cursor(named.read().cursor());
    drop(named);
    txn.commit().unwrap();
    let read = db.begin_read().unwrap();
    check_empty_cursor(read.cursor());
    check_empty_cursor(read.keyspace("empty").unwrap().cursor());
    assert!(read.first().unwrap().is_none() && read.last().unwrap().is_none());
    assert!(read.iter().unwrap().next().is_none() && read.iter().unwrap().next_back().is_none());
    assert!(read.is_empty());
}

#[test]
fn cursor_on_a_single_entry_tree() {
    let (_dir, db, _) = database_with([b"m".to_vec()]);
    let read = db.begin_read().unwrap();
    let mut cursor = read.cursor();
    assert!(cursor.first().unwrap());
    assert_eq!(
        cursor
            .entry()
            .unwrap()
            .map(|(k, v)| (k.to_vec(), v.into_owned())),
        Some((b"m".to_vec(), b"v0".to_vec()))
    );
    assert!(!cursor.next().unwrap(), "no entry after the only one");
    assert_unpositioned(&cursor);
    assert!(
        !cursor.prev().unwrap(),
        "an unpositioned cursor stays unpositioned"
    );
    assert!(cursor.last().unwrap());
    assert_eq!(cursor.key(), Some(&b"m"[..]));
    assert!(!cursor.prev().unwrap(), "no entry before the only one");
    assert_unpositioned(&cursor);
    for (target, found) in [
        (&b""[..], true),
        (b"a", true),
        (b"m", true),
        (b"m\0", false),
        (b"z", false),
    ] {
        assert_eq!(cursor.seek(target).unwrap(), found, "seek {target:?}");
        assert_eq!(cursor.key(), found.then_some(&b"m"[..]));
    }
}

#[test]
fn cursor_walks_a_multi_level_tree_both_ways() {
    let count = 6000;
    let (_dir, db, model) = database_with((0..count).map(|n| key(n * 2)));
    assert!(db.check().unwrap().trees[0].depth >= 2);
    let read = db.begin_read().unwrap();
    let keys: Vec<&Vec<u8>> = model.keys().collect();
    let mut cursor = read.cursor();
    assert!(cursor.first().unwrap());
    for (index, expected) in keys.iter().enumerate() {
        assert_eq!(
            cursor.key(),
            Some(expected.as_slice()),
            "forward at {index}"
        );
        // A step back and forth at every entry crosses every leaf boundary both ways.
        if index > 0 {
            assert!(cursor.prev().unwrap());
            assert_eq!(cursor.key(), Some(keys[index - 1].as_slice()));
            assert!(cursor.next().unwrap());
        }
        assert_eq!(cursor.next().unwrap(), index + 1 < keys.len());
    }
    assert_unpositioned(&cursor);
    assert!(cursor.last().unwrap());
    for (index, expected) in keys.iter().enumerate().rev() {
        assert_eq!(
            cursor.key(),
            Some(expected.as_slice()),
            "backward at {index}"
        );
        assert_eq!(cursor.prev().unwrap(), index > 0);
    }
    // Seeks to every key, to the gaps between keys, and past the end.
    for n in (0..count * 2 + 2).step_by(7) {
        let found = cursor.seek(&key(n)).unwrap();
        let expected = model.range(key(n)..).next().map(|(k, _)| k.as_slice());
        assert_eq!(found, expected.is_some());
        assert_eq!(cursor.key(), expected, "seek {n}");
        let mut between = key(n);
        between.push(0);
        cursor.seek(&between).unwrap();
        assert_eq!(
            cursor.key(),
            model
                .range(between.clone()..)
                .next()
                .map(|(k, _)| k.as_slice())
        );
    }
}

// ---- ranges ----

/// Keys around which the bounds are probed: present keys, gaps, both ends, the empty key.
fn probe_keys() -> Vec<Vec<u8>> {
    let mut probes = vec![
        b"".to_vec(),
        b"\0".to_vec(),
        b"a".to_vec(),
        b"zzz".to_vec(),
        vec![0xff; 3],
    ];
    for n in [0, 1, 2, 3, 50, 97, 98, 99, 100] {
        probes.push(key(n * 3));
        let mut after = key(n * 3);
        after.push(0);
        probes.push(after);
    }
    probes
}

fn bounds() -> Vec<Bound<Vec<u8>>> {
    let mut bounds = vec![Bound::Unbounded];
    for probe in probe_keys() {
        bounds.push(Bound::Included(probe.clone()));
        bounds.push(Bound::Excluded(probe));
    }
    bounds
}

#[test]
fn range_bounds_of_every_kind_match_the_model() {
    let (_dir, db, model) = database_with((0..100).map(|n| key(n * 3)).chain([b"".to_vec()]));
    let read = db.begin_read().unwrap();
    let mut nonempty = 0;
    for start in bounds() {
        for end in bounds() {
            let expected = model_range(
                &model,
                start.as_ref().map(Vec::as_slice),
                end.as_ref().map(Vec::as_slice),
            );
            let got = collect(read.scan(start.clone(), end.clone()));
            assert!(
                got == expected,
                "{start:?}..{end:?}: {}",
                common::describe_difference(&got, &expected)
            );
            let mut reversed = collect_rev(read.scan(start.clone(), end.clone()));
            reversed.reverse();
            assert!(reversed == expected, "{start:?}..{end:?} reversed");
            nonempty += usize::from(!expected.is_empty());
        }
    }
    assert!(nonempty > 100);
}

#[test]
fn range_syntax_of_every_form_works() {
    let (_dir, db, _) = database_with((0..10).map(key));
    let read = db.begin_read().unwrap();
    let (a, b) = (key(3), key(6));
    let n = |range: northstar::Range<'_>| keys(range).len();
    assert_eq!(n(read.range::<&[u8]>(..).unwrap()), 10);
    assert_eq!(n(read.range(a.clone()..).unwrap()), 7);
    assert_eq!(n(read.range(..b.clone()).unwrap()), 6);
    assert_eq!(n(read.range(..=b.clone()).unwrap()), 7);
    assert_eq!(n(read.range(a.clone()..b.clone()).unwrap()), 3);
    assert_eq!(n(read.range(a.clone()..=b.clone()).unwrap()), 4);
    assert_eq!(n(read.range("k00003".."k00006").unwrap()), 3);
    assert_eq!(n(read.range(&a[..]..&b[..]).unwrap()), 3);
    assert_eq!(
        n(read
            .range::<Vec<u8>>((Bound::Excluded(&a), Bound::Excluded(&b)))
            .unwrap()),
        2
    );
}

#[test]
fn reversed_and_empty_ranges_yield_nothing() {
    let (_dir, db, _) = database_with((0..500).map(key));
    let read = db.begin_read().unwrap();
    let (a, b) = (key(300), key(100));
    for range in [
        read.range(a.clone()..b.clone()).unwrap(),
        read.range(a.clone()..=b.clone()).unwrap(),
        read.range(a.clone()..a.clone()).unwrap(),
        read.range::<Vec<u8>>((Bound::Excluded(&a), Bound::Included(&a)))
            .unwrap(),
        read.range::<Vec<u8>>((Bound::Excluded(&a), Bound::Excluded(&a)))
            .unwrap(),
        read.range((Bound::Excluded(key(7)), Bound::Excluded(key(8))))
            .unwrap(),
        read.range(b"k00007\0".to_vec()..key(8)).unwrap(),
        read.range(b"zzz".to_vec()..).unwrap(),
        read.range(..b"a".to_vec()).unwrap(),
    ] {
        let mut range = range;
        assert!(range.next().is_none() && range.next_back().is_none());
    }
    // A single-entry range yields it once from either end.
    let mut single = read.range(key(7)..=key(7)).unwrap();
    assert_eq!(single.next_back().unwrap().unwrap().0, &key(7)[..]);
    assert!(single.next().is_none() && single.next_back().is_none());
}

#[test]
fn range_ends_meet_when_consumed_from_both_sides() {
    let (_dir, db, model) = database_with((0..3000).map(key));
    let read = db.begin_read().unwrap();
    let mut rng = Rng::new(5);
    for _ in 0..20 {
        let (x, y) = (rng.below(3000), rng.below(3000));
        let (a, b) = (key(x.min(y)), key(x.max(y)));
        let mut expected: std::collections::VecDeque<_> = model
            .range(a.clone()..b.clone())
            .map(|(k, _)| k.clone())
            .collect();
        let mut range = read.range(a..b).unwrap();
        loop {
            let from_back = rng.chance(1, 2);
            let (got, want) = if from_back {
                (range.next_back(), expected.pop_back())
            } else {
                (range.next(), expected.pop_front())
            };
            assert_eq!(got.map(|entry| entry.unwrap().0.to_vec()), want);
            if want.is_none() {
                break;
            }
        }
        assert!(
            range.next().is_none() && range.next_back().is_none(),
            "an ended range stays ended"
        );
    }
}

// ---- prefixes ----

#[test]
fn prefix_scans_handle_prefixes_ending_in_0xff() {
    let all: Vec<Vec<u8>> = vec![
        vec![],
        vec![0x00],
        vec![0x61],
        vec![0x61, 0x00],
        vec![0x61, 0xfe, 0xff],
        vec![0x61, 0xff],
        vec![0x61, 0xff, 0x00],
        vec![0x61, 0xff, 0xff],
        vec![0x61, 0xff, 0xff, 0x01],
        vec![0x62],
        vec![0x62, 0x00],
        vec![0xfe, 0xff],
        vec![0xff],
        vec![0xff, 0x00],
        vec![0xff, 0xff],
        vec![0xff, 0xff, 0xff, 0x7f],
    ];
    let (_dir, db, model) = database_with(all.clone());
    let read = db.begin_read().unwrap();
    let mut prefixes = all;
    prefixes.extend([
        vec![0x61, 0xfe],
        vec![0xff, 0xff, 0xff],
        vec![0xff, 0xff, 0xff, 0xff],
        vec![0x63],
        vec![0x60, 0xff],
    ]);
    for prefix in prefixes {
        let expected = model_prefix(&model, &prefix);
        assert!(
            collect(read.prefix(&prefix).unwrap()) == expected,
            "prefix {prefix:x?}"
        );
        let mut reversed = collect_rev(read.prefix(&prefix).unwrap());
        reversed.reverse();
        assert!(reversed == expected, "prefix {prefix:x?} reversed");
    }
    assert_eq!(keys(read.prefix([0xff]).unwrap()).len(), 4);
    assert_eq!(keys(read.prefix([]).unwrap()).len(), model.len());
}

#[test]
fn prefix_longer_than_the_largest_key_matches_nothing() {
    // Used to panic: the exclusive end of the prefix range was built in a buffer of the
    // largest key's size.
    let largest = vec![b'p'; KEY_SIZE_MAX];
    let (_dir, db, _) = database_with([largest.clone(), b"p".to_vec()]);
    let read = db.begin_read().unwrap();
    for len in [KEY_SIZE_MAX, KEY_SIZE_MAX + 1, 3 * KEY_SIZE_MAX] {
        let expected = usize::from(len == KEY_SIZE_MAX);
        assert_eq!(
            keys(read.prefix(vec![b'p'; len]).unwrap()).len(),
            expected,
            "prefix of {len} bytes"
        );
        let mut with_ff = vec![b'p'; len];
        with_ff.push(0xff);
        assert!(keys(read.prefix(&with_ff).unwrap()).is_empty());
    }
    let mut txn = db.begin_write().unwrap();
    assert!(keys(txn.prefix(vec![b'p'; KEY_SIZE_MAX + 10]).unwrap()).is_empty());
    txn.create_keyspace("named").unwrap();
    assert!(keys(
        txn.keyspace("named")
            .unwrap()
            .read()
            .prefix(vec![0; 5000])
            .unwrap()
    )
    .is_empty());
}

// ---- keyspaces ----

#[test]
fn keyspaces_can_be_created_listed_and_dropped() {
    let (dir, db) = common::temp_db();
    let mut txn = db.begin_write().unwrap();
    for name in ["orders", "users", "audit"] {
        txn.create_keyspace(name).unwrap();
    }
    assert_eq!(txn.keyspaces().unwrap(), ["audit", "orders", "users"]);
    txn.keyspace("users").unwrap().put(b"u1", b"ada").unwrap();
    txn.keyspace("orders").unwrap().put(b"o1", b"tea").unwrap();
    txn.commit().unwrap();

    let mut txn = db.begin_write().unwrap();
    assert!(txn.drop_keyspace("orders").unwrap());
    assert!(
        !txn.drop_keyspace("orders").unwrap(),
        "a dropped keyspace is gone within the txn"
    );
    assert!(matches!(
        txn.keyspace("orders").err(),
        Some(Error::KeyspaceNotFound(_))
    ));
    assert_eq!(txn.keyspaces().unwrap(), ["audit", "users"]);
    txn.commit().unwrap();
    drop(db);

    let db = Db::open(dir.path(), common::verified()).unwrap();
    let read = db.begin_read().unwrap();
    assert_eq!(read.keyspaces().unwrap(), ["audit", "users"]);
    assert!(read.keyspace("audit").unwrap().is_empty());
    assert_eq!(
        read.keyspace("users")
            .unwrap()
            .get(b"u1")
            .unwrap()
            .as_deref(),
        Some(&b"ada"[..])
    );
    assert!(matches!(
        read.keyspace("orders").err(),
        Some(Error::KeyspaceNotFound(_))
    ));
}

#[test]
fn drop_then_recreate_in_one_txn_starts_empty() {
    let (dir, db) = common::temp_db();
    let mut txn = db.begin_write().unwrap();
    txn.create_keyspace("cache").unwrap();
    for n in 0..2000 {
        txn.keyspace("cache")
            .unwrap()
            .put(key(n), vec![1; 300])
            .unwrap();
    }
    txn.commit().unwrap();
    let old = db.begin_read().unwrap();

    let mut txn = db.begin_write().unwrap();
    assert!(txn.drop_keyspace("cache").unwrap());
    txn.create_keyspace("cache").unwrap();
    assert!(txn.keyspace("cache").unwrap().is_empty());
    assert_eq!(txn.keyspace("cache").unwrap().get(key(1)).unwrap(), None);
    txn.keyspace("cache").unwrap().put(b"fresh", b"1").unwrap();
    txn.commit().unwrap();

    let read = db.begin_read().unwrap();
    let cache = read.keyspace("cache").unwrap();
    assert_eq!(cache.len(), 1);
    assert_eq!(keys(cache.iter().unwrap()), [b"fresh".to_vec()]);
    assert_eq!(
        old.keyspace("cache").unwrap().len(),
        2000,
        "the old snapshot keeps the old keyspace"
    );
    drop((read, old));
    drop(db);
    let db = Db::open(dir.path(), common::verified()).unwrap();
    assert_eq!(db.begin_read().unwrap().keyspace("cache").unwrap().len(), 1);
    assert!(db.check().unwrap().is_ok());
}

#[test]
fn named_keyspace_data_is_isolated_from_the_default_one() {
    let (_dir, db) = common::temp_db();
    let mut txn = db.begin_write().unwrap();
    txn.create_keyspace("a").unwrap();
    txn.create_keyspace("b").unwrap();
    let mut models = [Model::new(), Model::new(), Model::new()];
    for n in 0..500 {
        // The same keys everywhere, with values that say where they belong.
        for (index, model) in models.iter_mut().enumerate() {
            if n % (index as u64 + 1) != 0 {
                continue;
            }
            let value = format!("{index}:{n}").into_bytes();
            match index {
                0 => txn.put(key(n), &value).unwrap(),
                1 => txn.keyspace("a").unwrap().put(key(n), &value).unwrap(),
                _ => txn.keyspace("b").unwrap().put(key(n), &value).unwrap(),
            }
            model.insert(key(n), value);
        }
    }
    assert!(txn.keyspace("a").unwrap().delete(key(2)).unwrap());
    models[1].remove(&key(2));
    assert!(
        !txn.keyspace("b").unwrap().delete(key(5)).unwrap(),
        "key 5 is only in other keyspaces"
    );
    assert_holds(&txn, &models[0], "default keyspace in the write txn");
    assert_holds(
        &txn.keyspace("a").unwrap().read(),
        &models[1],
        "keyspace a in the write txn",
    );
    txn.commit().unwrap();
    let read = db.begin_read().unwrap();
    assert_holds(&read, &models[0], "default keyspace");
    assert_holds(&read.keyspace("a").unwrap(), &models[1], "keyspace a");
    assert_holds(&read.keyspace("b").unwrap(), &models[2], "keyspace b");
    // Keys 0, 4, 6 and 8 of the first ten: keyspace a holds even keys, and key 2 was deleted.
    assert_eq!(read.keyspace("a").unwrap().scan_prefix(b"k0000").count(), 4);
}

#[test]
fn names_of_keyspaces_never_collide_with_default_keys() {
    let (_dir, db) = common::temp_db();
    let mut txn = db.begin_write().unwrap();
    txn.put(b"users", b"a default key").unwrap();
    txn.create_keyspace("users").unwrap();
    txn.commit().unwrap();
    let read = db.begin_read().unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(keys(read.iter().unwrap()), [b"users".to_vec()]);
    assert!(read.keyspace("users").unwrap().is_empty());
}

// ---- persistence ----

#[test]
fn everything_committed_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut default = Model::new();
    let mut named = Model::new();
    for round in 0..4u64 {
        let db = Db::open(dir.path(), common::verified()).unwrap();
        assert_eq!(db.last_txn_id(), round * 2);
        let read = db.begin_read().unwrap();
        assert_holds(
            &read,
            &default,
            &format!("default keyspace at reopen {round}"),
        );
        if round > 0 {
            assert_holds(&read.keyspace("named").unwrap(), &named, "named keyspace");
        }
        drop(read);
        let mut txn = db.begin_write().unwrap();
        if round == 0 {
            txn.create_keyspace("named").unwrap();
        }
        for n in 0..300 {
            let value = vec![(n + round) as u8; (n as usize * 97 + round as usize * 1000) % 20_000];
            txn.put(key(n * 4 + round), &value).unwrap();
            default.insert(key(n * 4 + round), value);
        }
        txn.keyspace("named")
            .unwrap()
            .put(key(round), round.to_le_bytes())
            .unwrap();
        named.insert(key(round), round.to_le_bytes().to_vec());
        txn.commit().unwrap();
        let mut txn = db.begin_write().unwrap();
        for n in (0..1200).step_by(5) {
            if txn.delete(key(n)).unwrap() {
                default.remove(&key(n));
            }
        }
        txn.commit().unwrap();
        // Uncommitted work is not persisted.
        let mut txn = db.begin_write().unwrap();
        txn.put(b"uncommitted", b"x").unwrap();
        drop(txn);
    }
}

// ---- shrinking and fill ----

#[test]
fn deleting_every_key_shrinks_the_tree_to_empty_and_reuses_its_pages() {
    let (_dir, db) = common::temp_db();
    let mut page_counts = Vec::new();
    for cycle in 0..5u64 {
        let mut txn = db.begin_write().unwrap();
        for n in 0..5000 {
            let len = if n % 100 == 0 { 20_000 } else { 40 };
            txn.put(key(n), vec![cycle as u8; len]).unwrap();
        }
        txn.commit().unwrap();
        assert!(db.check().unwrap().trees[0].depth >= 2);
        let mut txn = db.begin_write().unwrap();
        // Delete in an order that is neither ascending nor descending.
        for n in (0..5000).map(|n| (n * 2003) % 5000) {
            assert!(txn.delete(key(n)).unwrap(), "cycle {cycle}: key {n}");
        }
        assert!(txn.is_empty());
        txn.commit().unwrap();
        // Freed pages become reusable once a checkpoint covers the txns that freed them.
        db.checkpoint().unwrap();
        let read = db.begin_read().unwrap();
        assert!(read.is_empty() && read.first().unwrap().is_none());
        let report = db.check().unwrap();
        assert!(report.is_ok(), "{:?}", report.problems);
        assert_eq!(
            report.trees[0],
            northstar::TreeStats::default(),
            "an empty tree has no pages"
        );
        page_counts.push(report.page_count);
    }
    assert!(
        page_counts
            .windows(2)
            .skip(1)
            .all(|pair| pair[1] <= pair[0]),
        "the file keeps growing: {page_counts:?}"
    );
}

#[test]
fn pages_stay_reasonably_full_after_deletes() {
    let seed = common::seed("pages_stay_reasonably_full_after_deletes");
    let mut rng = Rng::new(seed);
    let (_dir, db) = common::temp_db();
    let mut model = Model::new();
    let mut txn = db.begin_write().unwrap();
    for n in 0..20_000 {
        let value = vec![b'v'; 10 + rng.index(60)];
        txn.put(key(n), &value).unwrap();
        model.insert(key(n), value);
    }
    txn.commit().unwrap();
    let mut doomed: Vec<u64> = (0..20_000).filter(|_| rng.chance(4, 5)).collect();
    // Shuffle, then delete in several txns.
    for index in (1..doomed.len()).rev() {
        doomed.swap(index, rng.index(index + 1));
    }
    for chunk in doomed.chunks(4000) {
        let mut txn = db.begin_write().unwrap();
        for n in chunk {
            assert!(txn.delete(key(*n)).unwrap());
            model.remove(&key(*n));
        }
        txn.commit().unwrap();
    }
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    let fill = report.trees[0].fill();
    println!(
        "fill after deleting 80%: {fill:.3} over {} leaves",
        report.trees[0].leaf_pages
    );
    assert!(fill >= 0.4, "average fill {fill:.3} is below 0.4");
    assert_holds(&db.begin_read().unwrap(), &model, "after the deletes");
}

#[test]
fn ascending_loads_stay_well_filled_with_deletes_elsewhere() {
    // Deletes refill thin pages more eagerly than puts do; an ascending load, whose pages
    // are split near their end, must keep its fuller pages.
    let (_dir, db) = common::temp_db();
    for batch in 0..20u64 {
        let mut txn = db.begin_write().unwrap();
        for n in batch * 1000..(batch + 1) * 1000 {
            txn.put(key(n), [7u8; 50]).unwrap();
        }
        if batch > 0 {
            // A few deletes far behind the end of the load.
            for n in (0..10).map(|i| (batch - 1) * 1000 + i * 97) {
                txn.delete(key(n)).unwrap();
            }
        }
        txn.commit().unwrap();
    }
    let fill = db.check().unwrap().trees[0].fill();
    println!("fill after an ascending load: {fill:.3}");
    assert!(
        fill >= 0.7,
        "average fill {fill:.3} after an ascending load"
    );
}

#[test]
fn deleting_the_only_entry_commits_an_empty_tree() {
    // Used to be lost: emptying a one-leaf tree left the txn with no new node, so commit
    // took it for a txn without changes and wrote nothing.
    let (dir, db) = common::temp_db();
    let mut txn = db.begin_write().unwrap();
    txn.put(b"only", b"1").unwrap();
    txn.create_keyspace("named").unwrap();
    txn.keyspace("named").unwrap().put(b"only", b"2").unwrap();
    assert_eq!(txn.commit().unwrap(), 1);

    let mut txn = db.begin_write().unwrap();
    assert!(txn.delete(b"only").unwrap());
    assert_eq!(
        txn.commit().unwrap(),
        2,
        "deleting the last entry is a change"
    );
    assert!(db.begin_read().unwrap().is_empty());

    let mut txn = db.begin_write().unwrap();
    assert!(txn.keyspace("named").unwrap().delete(b"only").unwrap());
    assert_eq!(txn.commit().unwrap(), 3);
    assert!(db
        .begin_read()
        .unwrap()
        .keyspace("named")
        .unwrap()
        .is_empty());

    let mut txn = db.begin_write().unwrap();
    assert!(txn.drop_keyspace("named").unwrap());
    assert_eq!(
        txn.commit().unwrap(),
        4,
        "dropping the only keyspace is a change"
    );
    assert!(db.begin_read().unwrap().keyspaces().unwrap().is_empty());
    drop(db);
    let db = Db::open(dir.path(), common::verified()).unwrap();
    assert_eq!(db.last_txn_id(), 4);
    let read = db.begin_read().unwrap();
    assert!(read.is_empty() && read.keyspaces().unwrap().is_empty());
}

#[test]
fn commit_without_changes_keeps_the_txn_id() {
    let (_dir, db, _) = database_with((0..10).map(key));
    assert_eq!(db.begin_write().unwrap().commit().unwrap(), 1);
    let mut txn = db.begin_write().unwrap();
    assert!(!txn.delete(b"missing").unwrap());
    assert!(!txn.drop_keyspace("missing").unwrap());
    assert!(txn.get(key(1)).unwrap().is_some());
    assert_eq!(txn.commit().unwrap(), 1);
    assert_eq!(db.last_txn_id(), 1);
    let mut txn = db.begin_write().unwrap();
    txn.put(key(1), b"v1").unwrap();
    assert_eq!(
        txn.commit().unwrap(),
        2,
        "rewriting a value is a commit, even with the same bytes"
    );
}

#[test]
fn values_of_every_size_class_round_trip() {
    let (dir, db) = common::temp_db();
    let mut model = Model::new();
    let mut txn = db.begin_write().unwrap();
    let sizes = [
        0, 1, 100, 4000, 4070, 4079, 4080, 4088, 4089, 4096, 16_352, 16_353, 32_704, 32_705,
        100_000,
    ];
    for key_len in [0usize, 1, 100, 2000, 4096] {
        for (index, size) in sizes.iter().enumerate() {
            let mut key = vec![b'k'; key_len];
            key.extend_from_slice(format!("{index:02}").as_bytes());
            key.truncate(KEY_SIZE_MAX);
            if key_len == KEY_SIZE_MAX {
                key[KEY_SIZE_MAX - 2..].copy_from_slice(format!("{index:02}").as_bytes());
            }
            let value: Vec<u8> = (0..*size).map(|i| (i * 7 + index) as u8).collect();
            txn.put(&key, &value).unwrap();
            model.insert(key, value);
        }
    }
    assert_holds(&txn, &model, "in the write txn");
    txn.commit().unwrap();
    drop(db);
    let db = Db::open(dir.path(), common::verified()).unwrap();
    assert_holds(&db.begin_read().unwrap(), &model, "after reopen");
    // Shrink every value to nothing, then grow it again: inline and overflow swap places.
    for round in 0..2 {
        let mut txn = db.begin_write().unwrap();
        for (key, value) in model.iter_mut() {
            *value = if round == 0 {
                Vec::new()
            } else {
                vec![9; 20_000]
            };
            txn.put(key, &*value).unwrap();
        }
        txn.commit().unwrap();
        assert_holds(&db.begin_read().unwrap(), &model, &format!("round {round}"));
    }
}
