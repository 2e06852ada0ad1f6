//! Running out of space. A txn (or checkpoint) that meets ENOSPC fails whole with an error
//! naming the file, none of its changes become visible, the database reopens at its last
//! durable commit, and once space is freed commits work again.
//!
//! Two disks: the simulated one (`northstar::io::sim::SimDisk`), failing every operation
//! from the k-th one of a txn or checkpoint on, for every k; and, where this machine lets a
//! test mount one, a real 4 MiB tmpfs filled up with a filler file.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use common::mount::Mount;
use common::{assert_state, empty_state, read_state, Rng, State};
use northstar::io::sim::{FaultKind, SimDisk};
use northstar::{Db, Error, Options};

/// ENOSPC on Linux.
const NO_SPACE: i32 = 28;

fn key(n: u64) -> Vec<u8> {
    format!("key{n:04}").into_bytes()
}

fn put(state: &mut State, keyspace: &str, key: &[u8], value: &[u8]) {
    state
        .get_mut(keyspace)
        .expect("keyspace in the model")
        .insert(key.to_vec(), value.to_vec());
}

/// A closed database on a simulated disk: 200 keys, a value in overflow pages, a named
/// keyspace; and its state.
fn base_disk() -> (SimDisk, State) {
    let disk = SimDisk::new("/sim/db");
    let mut state = empty_state();
    let db = Db::open_on(&disk, Options::default()).unwrap();
    let mut txn = db.begin_write().unwrap();
    for n in 0..200 {
        let value = vec![n as u8; 50];
        txn.put(key(n), &value).unwrap();
        put(&mut state, "", &key(n), &value);
    }
    txn.put(b"large", vec![1u8; 30_000]).unwrap();
    put(&mut state, "", b"large", &[1u8; 30_000]);
    txn.create_keyspace("named").unwrap();
    state.insert("named".into(), Default::default());
    txn.keyspace("named").unwrap().put(b"a", b"1").unwrap();
    put(&mut state, "named", b"a", b"1");
    txn.commit().unwrap();
    db.close().unwrap();
    (disk, state)
}

/// The txn the faults hit: small puts, a value in overflow pages, a delete and a put in a
/// named keyspace. Every operation is tried even after one failed; the txn must then refuse
/// to commit. Returns the first error.
fn try_txn(db: &Db) -> northstar::Result<u64> {
    let mut txn = db.begin_write()?;
    let mut results = Vec::new();
    for n in 0..20 {
        results.push(txn.put(key(1000 + n), vec![9u8; 100]));
    }
    results.push(txn.put(b"large", vec![2u8; 45_000]));
    results.push(txn.delete(key(3)).map(drop));
    results.push(
        txn.keyspace("named")
            .and_then(|mut named| named.put(b"b", b"2")),
    );
    let first_error = results.into_iter().find_map(Result::err);
    let committed = txn.commit();
    match first_error {
        Some(error) => {
            assert!(
                committed.is_err(),
                "a txn with a failed operation committed"
            );
            Err(error)
        }
        None => committed,
    }
}

/// The state after [`try_txn`] committed.
fn after_txn(base: &State) -> State {
    let mut state = base.clone();
    for n in 0..20 {
        put(&mut state, "", &key(1000 + n), &[9u8; 100]);
    }
    put(&mut state, "", b"large", &[2u8; 45_000]);
    state.get_mut("").unwrap().remove(&key(3));
    put(&mut state, "named", b"b", b"2");
    state
}

/// Checks `error` is ENOSPC naming one of `files`: an `Io` error, or `Poisoned` when a
/// sync failed. Returns a short account of it.
fn assert_no_space(error: &Error, files: &[PathBuf], context: &str) -> String {
    match error {
        Error::Io { path, op, source } => {
            assert_eq!(source.raw_os_error(), Some(NO_SPACE), "{context}: {error}");
            assert!(files.contains(path), "{context}: names {}", path.display());
            format!("Io({op} {})", short_name(path))
        }
        Error::Poisoned { path, detail } => {
            assert!(
                detail.contains("os error 28"),
                "{context}: poisoned by something else: {detail}"
            );
            assert!(files.contains(path), "{context}: names {}", path.display());
            format!("Poisoned({})", short_name(path))
        }
        other => panic!("{context}: expected ENOSPC naming a file, got {other:?}"),
    }
}

fn short_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    )
}

fn assert_sound(db: &Db, context: &str) {
    let report = db.check().expect("check");
    assert!(report.is_ok(), "{context}: {:?}", report.problems);
}

fn sim_files(disk: &SimDisk) -> Vec<PathBuf> {
    vec![
        disk.dir().join("northstar.db"),
        disk.dir().join("northstar.log"),
    ]
}

use northstar::io::Storage;

/// What happens after the fault: the power fails, or space is freed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Then {
    PowerLoss,
    Heal,
}

/// Runs the fault at operation `k` of a txn (or, with `checkpoint`, of a checkpoint after a
/// committed txn). Returns `None` once `k` is past the last operation.
fn fault_at(base: &SimDisk, state: &State, k: u64, checkpoint: bool, then: Then) -> Option<String> {
    let context = format!(
        "ENOSPC from operation {k} of a {}, then {then:?}",
        if checkpoint { "checkpoint" } else { "txn" }
    );
    let disk = base.snapshot();
    let files = sim_files(&disk);
    let db = Db::open_on(&disk, Options::default()).unwrap();
    let done = after_txn(state);
    // States the database may reopen at: a failed sync leaves the txn's record in the log,
    // where a crash may or may not keep it.
    let mut allowed = vec![if checkpoint { &done } else { state }];
    if checkpoint {
        try_txn(&db).unwrap();
    }
    disk.fail_operation(k, FaultKind::NoSpace, true);
    let result = if checkpoint {
        db.checkpoint().map(|()| 0)
    } else {
        try_txn(&db)
    };
    let error = match result {
        Ok(_) => return None,
        Err(error) => error,
    };
    let account = assert_no_space(&error, &files, &context);
    // A failed sync poisons the handle (it is returned as `Io` by the sync that failed, as
    // `Poisoned` by a commit that waited for it).
    let poisoned = match &error {
        Error::Poisoned { .. } => true,
        Error::Io { op, .. } => op == "fdatasync",
        _ => false,
    };
    if poisoned && !checkpoint {
        allowed.push(&done);
    }
    assert_state(&read_state(&db), allowed[0], &format!("{context}: visible"));
    let (db, disk) = match then {
        Then::PowerLoss => {
            let survivor = disk.power_loss(k);
            drop(db);
            (Db::open_on(&survivor, Options::default()), survivor)
        }
        Then::Heal => {
            disk.heal();
            if poisoned {
                let refused = try_txn(&db).expect_err("a poisoned handle took a commit");
                assert!(
                    matches!(refused, Error::Poisoned { .. }),
                    "{context}: {refused:?}"
                );
                drop(db);
                (Db::open_on(&disk, Options::default()), disk)
            } else {
                (Ok(db), disk)
            }
        }
    };
    let db = db.unwrap_or_else(|error| panic!("{context}: reopen: {error}"));
    let reopened = read_state(&db);
    assert!(
        allowed.contains(&&reopened),
        "{context}: reopened at a state that is neither the last durable commit nor the failed txn"
    );
    assert_sound(&db, &context);
    try_txn(&db).unwrap_or_else(|error| panic!("{context}: commit after the fault: {error}"));
    assert_state(&read_state(&db), &done, &context);
    assert_sound(&db, &format!("{context}, after the next commit"));
    db.checkpoint()
        .unwrap_or_else(|error| panic!("{context}: checkpoint after the fault: {error}"));
    assert_sound(&db, &format!("{context}, after the next checkpoint"));
    drop(db);
    let db = Db::open_on(&disk, Options::default()).unwrap();
    assert_state(&read_state(&db), &done, &format!("{context}, reopened"));
    Some(account)
}

fn fault_every_operation(checkpoint: bool) {
    let (base, state) = base_disk();
    for then in [Then::Heal, Then::PowerLoss] {
        let mut accounts = Vec::new();
        for k in 0.. {
            match fault_at(&base, &state, k, checkpoint, then) {
                Some(account) => accounts.push(account),
                None => break,
            }
        }
        assert!(accounts.len() >= 3, "{accounts:?}");
        println!(
            "ENOSPC in a {} then {then:?}: {} operations: {}",
            if checkpoint { "checkpoint" } else { "txn" },
            accounts.len(),
            accounts.join(", ")
        );
    }
}

#[test]
fn no_space_at_any_operation_of_a_txn_fails_it_whole_and_loses_nothing_durable() {
    fault_every_operation(false);
}

#[test]
fn no_space_at_any_operation_of_a_checkpoint_loses_no_commit() {
    fault_every_operation(true);
}

/// A 4 MiB tmpfs, or `None` (with a note) where mounting is not allowed.
fn small_tmpfs(test: &str) -> Option<Mount> {
    match Mount::new("tmpfs", "size=4m") {
        Ok(mount) => Some(mount),
        Err(why) => {
            println!("{test}: skipped the real file system part: {why}");
            None
        }
    }
}

/// Fills the file system holding `filler` until a write fails with ENOSPC, then gives back
/// `spare` bytes.
fn fill_leaving(filler: &Path, spare: u64) -> std::fs::File {
    let mut file = std::fs::File::create(filler).unwrap();
    let chunk = vec![0xAAu8; 64 << 10];
    loop {
        match file.write(&chunk) {
            Ok(0) => break,
            Ok(_) => {}
            Err(error) if error.raw_os_error() == Some(NO_SPACE) => break,
            Err(error) => panic!("filling the disk: {error}"),
        }
    }
    let len = file.metadata().unwrap().len();
    file.set_len(len.saturating_sub(spare)).unwrap();
    file
}

fn real_files(dir: &Path) -> Vec<PathBuf> {
    vec![common::page_file(dir), common::log_file(dir)]
}

/// Commits txns of `value_len` bytes each until one fails; checks the failure. Returns
/// which file it named and the number of txns that committed.
fn commit_until_full(
    db: &Db,
    dir: &Path,
    state: &mut State,
    value_len: usize,
    rng: &mut Rng,
) -> (String, usize) {
    for round in 0..100 {
        let value = rng.bytes(value_len);
        let name = format!("fill{round:03}");
        let result = (|| {
            let mut txn = db.begin_write()?;
            txn.put(&name, &value)?;
            txn.put(format!("small{round:03}"), b"x")?;
            txn.commit()
        })();
        match result {
            Ok(_) => {
                put(state, "", name.as_bytes(), &value);
                put(state, "", format!("small{round:03}").as_bytes(), b"x");
            }
            Err(error) => {
                let account = assert_no_space(&error, &real_files(dir), "real disk full");
                assert_state(&read_state(db), state, "the failed txn is not visible");
                return (account, round);
            }
        }
    }
    panic!("100 txns of {value_len} bytes fitted in a 4 MiB file system")
}

#[test]
fn real_full_tmpfs_fails_the_commit_and_works_again_once_space_is_freed() {
    let test = "real_full_tmpfs_fails_the_commit_and_works_again_once_space_is_freed";
    let Some(mount) = small_tmpfs(test) else {
        return;
    };
    let seed = common::seed(test);
    let mut rng = Rng::new(seed);
    let dir = mount.path().join("db");
    let filler = mount.path().join("filler");
    let mut state = empty_state();
    let db = Db::open(&dir, Options::default()).unwrap();
    let mut txn = db.begin_write().unwrap();
    for n in 0..50 {
        txn.put(key(n), b"base").unwrap();
        put(&mut state, "", &key(n), b"base");
    }
    txn.commit().unwrap();
    db.close().unwrap();

    // Txns of a 150 KB value: its overflow pages may grow the page file (whose growth
    // allocates blocks up front), then its record grows the log; how much space is left
    // decides which of the two runs out.
    let mut named = Vec::new();
    for spare in [40 << 10, 250 << 10, 600 << 10] {
        let db = Db::open(&dir, Options::default()).unwrap();
        let filler_file = fill_leaving(&filler, spare);
        let (account, committed) = commit_until_full(&db, &dir, &mut state, 150_000, &mut rng);
        assert_sound(&db, "after the failed txn");
        drop(db);
        // Still full: the database opens at its last durable commit all the same.
        let db = Db::open(&dir, Options::default()).expect("open on a full disk");
        assert_state(&read_state(&db), &state, "reopened on a full disk");
        assert_sound(&db, "reopened on a full disk");
        drop(db);
        println!("{test}: {spare} bytes spare: {committed} txns of 150 KB fitted, then {account}");
        named.push(account);
        drop(filler_file);
        std::fs::remove_file(&filler).unwrap();
        // Make room for the next round: the large values go, their pages become free.
        let db = Db::open(&dir, Options::default()).unwrap();
        delete_fill_keys(&db, &mut state);
        db.checkpoint().unwrap();
        db.close().unwrap();
    }

    // Small txns over free pages the file already holds: the page writes need no new
    // space, so the log meets ENOSPC.
    let db = Db::open(&dir, Options::default()).unwrap();
    let filler_file = fill_leaving(&filler, 0);
    let (account, committed) = commit_until_full(&db, &dir, &mut state, 3_000, &mut rng);
    assert!(account.contains("northstar.log"), "{account}");
    assert_sound(&db, "after the failed small txn");
    println!("{test}: no space: {committed} txns of 3 KB over reused pages fitted, then {account}");
    named.push(account);

    // Space freed: commits work again on the same handle, and after a reopen.
    drop(filler_file);
    std::fs::remove_file(&filler).unwrap();
    let mut txn = db.begin_write().unwrap();
    txn.put(b"after", vec![5u8; 100_000]).unwrap();
    txn.commit().expect("commit once space is free");
    put(&mut state, "", b"after", &[5u8; 100_000]);
    db.close().unwrap();
    let db = Db::open(&dir, Options::default()).unwrap();
    assert_state(&read_state(&db), &state, "reopened after space was freed");
    assert_sound(&db, "reopened after space was freed");
    drop(db);
    // Which file meets ENOSPC first depends on how much of the page file's preallocated
    // space is free; every failure must name one of them.
    assert!(
        named
            .iter()
            .all(|account| account.contains("northstar.db") || account.contains("northstar.log")),
        "every failure names a file of the database: {named:?}"
    );
}

fn delete_fill_keys(db: &Db, state: &mut State) {
    let mut txn = db.begin_write().unwrap();
    let names: Vec<Vec<u8>> = state[""]
        .keys()
        .filter(|key| key.starts_with(b"fill"))
        .cloned()
        .collect();
    for name in names {
        assert!(txn.delete(&name).unwrap());
        state.get_mut("").unwrap().remove(&name);
    }
    txn.commit().unwrap();
}
