//! Creating and opening a database directory: one owner, nothing half-made, nothing
//! touched by a refusal.
//!
//! - Openers racing on one fresh directory, as threads and as processes: exactly one wins,
//!   the others get `Locked`, and the winner's commit is there afterwards.
//!   `NORTHSTAR_RACE_ROUNDS` sets the rounds (CI default 100; 1,000 for a long run).
//! - A crash at every I/O operation of creation on the simulated disk, and `kill -9`
//!   during creation with real processes: the next open finds a whole empty database or
//!   none, never a damaged or refused one.
//! - Refused opens (page file or log missing, files of two databases, a missing directory
//!   without `create`, a held lock) leave the directory byte-identical.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Barrier, Mutex};
use std::time::Duration;

use common::child::{hold_databases, say, wait_for_stdin_to_close, Helper};
use common::sim::{new_disk, LOG_FILE, PAGE_FILE};
use common::{directory_contents, lock_file, log_file, page_file, Rng};
use northstar::io::sim::{FaultKind, SimDisk};
use northstar::io::Storage;
use northstar::{Db, Error, Options};

/// Openers per round.
const RACERS: usize = 4;
/// How long a helper may take to answer.
const HELPER_TIMEOUT: Duration = Duration::from_secs(30);
/// Power-loss images per crash point.
const IMAGES_PER_POINT: u64 = 4;

fn race_rounds() -> usize {
    std::env::var("NORTHSTAR_RACE_ROUNDS")
        .ok()
        .and_then(|rounds| rounds.parse().ok())
        .unwrap_or(100)
}

/// Opens `dir` again and checks it holds exactly `keys`, each with itself as value.
fn assert_holds_exactly(dir: &Path, keys: &[String], context: &str) {
    let db = Db::open(dir, Options::default().create(false))
        .unwrap_or_else(|e| panic!("{context}: reopen: {e}"));
    let read = db.begin_read().unwrap();
    let found: Vec<Vec<u8>> = read
        .range::<&[u8]>(..)
        .unwrap()
        .map(|entry| entry.unwrap().0.to_vec())
        .collect();
    let mut wanted: Vec<Vec<u8>> = keys.iter().map(|key| key.as_bytes().to_vec()).collect();
    wanted.sort();
    assert_eq!(found, wanted, "{context}");
    drop(read);
    assert!(db.check().unwrap().is_ok(), "{context}: validator");
}

#[test]
fn threads_racing_to_open_one_fresh_directory_leave_exactly_one_owner() {
    let root = tempfile::tempdir().unwrap();
    for round in 0..race_rounds() {
        let dir = root.path().join(format!("round-{round}"));
        let started = Barrier::new(RACERS);
        let attempted = Barrier::new(RACERS);
        let winners = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for racer in 0..RACERS {
                let (dir, started, attempted, winners) = (&dir, &started, &attempted, &winners);
                scope.spawn(move || {
                    started.wait();
                    let opened = Db::open(dir, Options::default());
                    // Nobody closes before everybody tried: a later open would win fairly.
                    attempted.wait();
                    match opened {
                        Ok(db) => {
                            let key = format!("racer-{racer}");
                            let mut txn = db.begin_write().unwrap();
                            txn.put(&key, &key).unwrap();
                            txn.commit().unwrap();
                            db.close().unwrap();
                            winners.lock().unwrap().push(key);
                        }
                        Err(Error::Locked { path }) => assert_eq!(path, lock_file(dir)),
                        Err(error) => panic!("round {round}: racer {racer}: {error}"),
                    }
                });
            }
        });
        let winners = winners.into_inner().unwrap();
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        assert_holds_exactly(&dir, &winners, &format!("round {round}"));
    }
}

/// Environment variables of [`helper_process_races_to_open_a_fresh_directory`].
const RACE_DIR_ENV: &str = "NORTHSTAR_TEST_RACE_DIR";
const RACE_GO_ENV: &str = "NORTHSTAR_TEST_RACE_GO";
const RACE_KEY_ENV: &str = "NORTHSTAR_TEST_RACE_KEY";
const RACE_HELPER: &str = "helper_process_races_to_open_a_fresh_directory";

/// Does nothing in a normal run. In a helper: waits for the go file, opens the directory,
/// and says whether it won (then commits its key and holds the database until stdin
/// closes) or found it locked.
#[test]
fn helper_process_races_to_open_a_fresh_directory() {
    let Ok(dir) = std::env::var(RACE_DIR_ENV) else {
        return;
    };
    let go = PathBuf::from(std::env::var(RACE_GO_ENV).unwrap());
    let key = std::env::var(RACE_KEY_ENV).unwrap();
    say("ready");
    while !go.exists() {
        std::thread::sleep(Duration::from_micros(50));
    }
    match Db::open(&dir, Options::default()) {
        Ok(db) => {
            let mut txn = db.begin_write().unwrap();
            txn.put(&key, &key).unwrap();
            txn.commit().unwrap();
            say("won");
            wait_for_stdin_to_close();
            db.close().unwrap();
        }
        Err(Error::Locked { .. }) => say("locked"),
        Err(error) => say(&format!("failed {error}")),
    }
}

#[test]
fn processes_racing_to_open_one_fresh_directory_leave_exactly_one_owner() {
    let root = tempfile::tempdir().unwrap();
    for round in 0..race_rounds() {
        let dir = root.path().join(format!("round-{round}"));
        let go = root.path().join(format!("go-{round}"));
        let mut helpers: Vec<Helper> = (0..RACERS)
            .map(|racer| {
                let env = [
                    (RACE_DIR_ENV, dir.display().to_string()),
                    (RACE_GO_ENV, go.display().to_string()),
                    (RACE_KEY_ENV, format!("process-{racer}")),
                ];
                let stderr = root.path().join(format!("stderr-{round}-{racer}"));
                Helper::spawn(RACE_HELPER, &env, &stderr)
            })
            .collect();
        for helper in &mut helpers {
            helper.expect_line("ready", HELPER_TIMEOUT);
        }
        std::fs::write(&go, b"").unwrap();
        let mut winners = Vec::new();
        for (racer, helper) in helpers.iter_mut().enumerate() {
            let (line, _) = helper.expect_line("", HELPER_TIMEOUT);
            match line.as_str() {
                "won" => winners.push(format!("process-{racer}")),
                "locked" => {}
                other => panic!("round {round}: racer {racer}: {other}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        for helper in &mut helpers {
            helper.finish();
        }
        let _open = hold_databases();
        assert_holds_exactly(&dir, &winners, &format!("round {round}"));
    }
}

/// The names a crash during creation may leave on a disk, besides a whole database.
fn is_creation_debris(names: &[String]) -> bool {
    names
        .iter()
        .all(|name| name.ends_with(".creating") || name == LOG_FILE)
}

/// Checks what a crash (or failure) during creation left on `image`: a whole empty
/// database, or none (then creating one works).
fn check_after_failed_creation(image: &SimDisk, context: &str) {
    let names = image.file_names();
    match Db::open_on(image, Options::default().create(false)) {
        Ok(db) => {
            assert_eq!(db.last_txn_id(), 0, "{context}");
            assert!(db.check().unwrap().is_ok(), "{context}: validator");
        }
        Err(Error::Io { path, source, .. })
            if source.kind() == std::io::ErrorKind::NotFound && path.ends_with(PAGE_FILE) =>
        {
            assert!(is_creation_debris(&names), "{context}: left {names:?}");
            assert_eq!(
                image.file_names(),
                names,
                "{context}: a refused open changed files"
            );
        }
        Err(error) => panic!("{context}: files {names:?}: {error}"),
    }
    let db = Db::open_on(image, Options::default())
        .unwrap_or_else(|e| panic!("{context}: create after the crash: {e}"));
    let mut txn = db.begin_write().unwrap();
    txn.put("after", "crash").unwrap();
    txn.commit().unwrap();
    drop(db);
    let db = Db::open_on(image, Options::default().create(false)).unwrap();
    let read = db.begin_read().unwrap();
    let value = read.get("after").unwrap();
    assert_eq!(value.as_deref(), Some(&b"crash"[..]), "{context}");
    assert_eq!(image.file_names(), [PAGE_FILE, LOG_FILE], "{context}");
}

/// Operations a fresh open (creation included) makes on the simulated disk.
fn creation_operations() -> u64 {
    let disk = new_disk();
    drop(Db::open_on(&disk, Options::default()).unwrap());
    disk.operations()
}

#[test]
fn power_loss_at_every_operation_of_creation_leaves_no_database_or_a_whole_one() {
    let operations = creation_operations();
    assert!(operations >= 6, "creation makes {operations} operations");
    let mut images = 0;
    let mut whole = 0;
    for point in 0..operations {
        let disk = new_disk();
        disk.fail_operation(point, FaultKind::Io, true);
        if Db::open_on(&disk, Options::default()).is_ok() {
            continue;
        }
        for index in 0..IMAGES_PER_POINT {
            let seed = point * 1_000 + index;
            let image = disk.power_loss(seed);
            if image.exists(PAGE_FILE).unwrap() || image.exists(LOG_FILE).unwrap() {
                whole += 1;
            }
            check_after_failed_creation(&image, &format!("point {point}, seed {seed}"));
            images += 1;
        }
    }
    assert!(images >= 20, "{images} images");
    assert!(
        whole > 0,
        "some crash points leave a database to open or finish"
    );
    println!("{operations} crash points, {images} images, {whole} with a database file");
}

#[test]
fn a_failed_operation_of_creation_fails_the_open_and_a_healed_open_creates_the_database() {
    for point in 0..creation_operations() {
        for kind in [FaultKind::Io, FaultKind::NoSpace] {
            let disk = new_disk();
            disk.fail_operation(point, kind, false);
            let context = format!("{kind:?} at operation {point}");
            match Db::open_on(&disk, Options::default()) {
                Ok(db) => drop(db),
                Err(Error::Io { .. }) => {}
                Err(error) => panic!("{context}: {error}"),
            }
            disk.heal();
            check_after_failed_creation(&disk, &context);
        }
    }
}

/// Environment variable of [`helper_process_creates_databases_until_killed`].
const CREATE_DIR_ENV: &str = "NORTHSTAR_TEST_CREATE_ROOT";
const CREATE_HELPER: &str = "helper_process_creates_databases_until_killed";

/// Does nothing in a normal run. In a helper: creates databases `0`, `1`, … under the
/// root directory, one after another, until it is killed.
#[test]
fn helper_process_creates_databases_until_killed() {
    let Ok(root) = std::env::var(CREATE_DIR_ENV) else {
        return;
    };
    say("ready");
    for n in 0.. {
        let db = Db::open(Path::new(&root).join(n.to_string()), Options::default()).unwrap();
        drop(db);
    }
}

#[test]
fn killed_creators_leave_no_database_or_a_whole_one() {
    let mut rng = Rng::new(common::seed(
        "killed_creators_leave_no_database_or_a_whole_one",
    ));
    let mut checked = 0;
    for kill in 0..20 {
        let root = tempfile::tempdir().unwrap();
        let stderr = root.path().join("stderr");
        let env = [(
            CREATE_DIR_ENV,
            root.path().join("dbs").display().to_string(),
        )];
        let mut helper = Helper::spawn(CREATE_HELPER, &env, &stderr);
        helper.expect_line("ready", HELPER_TIMEOUT);
        std::thread::sleep(Duration::from_micros(200 + rng.below(20_000)));
        helper.kill();
        let _open = hold_databases();
        let Ok(entries) = std::fs::read_dir(root.path().join("dbs")) else {
            continue;
        };
        for entry in entries {
            let dir = entry.unwrap().path();
            let context = format!("kill {kill}: {}", dir.display());
            match Db::open(&dir, Options::default().create(false)) {
                Ok(db) => assert!(db.check().unwrap().is_ok(), "{context}"),
                Err(Error::Io { path, source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound && path == page_file(&dir) =>
                {
                    let names: Vec<String> = directory_contents(&dir)
                        .keys()
                        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
                        .collect();
                    assert!(
                        names
                            .iter()
                            .all(|name| name.ends_with(".creating") || name == "northstar.lock"),
                        "{context}: {names:?}"
                    );
                }
                Err(error) => panic!("{context}: {error}"),
            }
            Db::open(&dir, Options::default())
                .unwrap_or_else(|e| panic!("{context}: create after the kill: {e}"));
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} directories checked");
}

/// A closed database in a fresh directory with one commit.
fn committed_database() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let mut txn = db.begin_write().unwrap();
    txn.put("kept", "safe").unwrap();
    txn.commit().unwrap();
    db.close().unwrap();
    dir
}

/// Opens `dir` with `options`, expects a refusal, and checks that nothing changed.
fn refused_unchanged(dir: &Path, options: Options, context: &str) -> Error {
    let before = directory_contents(dir);
    let error = match Db::open(dir, options) {
        Ok(db) => panic!("{context}: opened at txn {}", db.last_txn_id()),
        Err(error) => error,
    };
    assert!(
        directory_contents(dir) == before,
        "{context}: a refused open changed the directory ({error})"
    );
    error
}

#[test]
fn a_log_without_its_page_file_is_refused_naming_the_page_file_and_nothing_changes() {
    let dir = committed_database();
    std::fs::remove_file(page_file(dir.path())).unwrap();
    for create in [true, false] {
        let context = format!("create {create}");
        match refused_unchanged(dir.path(), Options::default().create(create), &context) {
            Error::MissingFile { path, detail } => {
                assert_eq!(path, page_file(dir.path()), "{context}");
                assert!(detail.contains("northstar.log"), "{context}: {detail}");
            }
            other => panic!("{context}: {other}"),
        }
    }
}

#[test]
fn a_page_file_without_its_log_is_refused_naming_the_log_and_nothing_changes() {
    let dir = committed_database();
    std::fs::remove_file(log_file(dir.path())).unwrap();
    for create in [true, false] {
        let context = format!("create {create}");
        match refused_unchanged(dir.path(), Options::default().create(create), &context) {
            Error::MissingFile { path, .. } => assert_eq!(path, log_file(dir.path())),
            other => panic!("{context}: {other}"),
        }
    }
}

#[test]
fn files_of_two_databases_are_refused_naming_both_and_nothing_changes() {
    let ours = committed_database();
    let theirs = committed_database();
    std::fs::copy(page_file(theirs.path()), page_file(ours.path())).unwrap();
    match refused_unchanged(ours.path(), Options::default(), "swapped page file") {
        Error::DatabaseMismatch { page_file, log, .. } => {
            assert_eq!(
                (page_file, log),
                (common::page_file(ours.path()), log_file(ours.path()))
            );
        }
        other => panic!("{other}"),
    }
}

#[test]
fn a_refused_open_of_a_directory_without_a_lock_file_removes_the_one_it_made() {
    let dir = committed_database();
    std::fs::remove_file(lock_file(dir.path())).unwrap();
    std::fs::remove_file(log_file(dir.path())).unwrap();
    let error = refused_unchanged(dir.path(), Options::default(), "no lock file");
    assert!(matches!(error, Error::MissingFile { .. }), "{error}");
    assert!(!lock_file(dir.path()).exists());
}

#[test]
fn opening_a_missing_directory_without_create_makes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("a").join("b");
    match Db::open(&dir, Options::default().create(false)) {
        Err(Error::Io { source, .. }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound)
        }
        other => panic!("{:?}", other.map(|db| db.last_txn_id())),
    }
    assert!(!root.path().join("a").exists(), "nothing created");
}

#[test]
fn an_open_refused_while_locked_changes_nothing() {
    let dir = committed_database();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    match refused_unchanged(dir.path(), Options::default(), "held") {
        Error::Locked { path } => assert_eq!(path, lock_file(dir.path())),
        other => panic!("{other}"),
    }
    drop(db);
}

#[test]
fn a_creation_cut_short_after_the_log_was_renamed_is_finished() {
    let dir = tempfile::tempdir().unwrap();
    drop(Db::open(dir.path(), Options::default()).unwrap());
    std::fs::rename(
        page_file(dir.path()),
        dir.path().join("northstar.db.creating"),
    )
    .unwrap();
    let db = Db::open(dir.path(), Options::default().create(false)).unwrap();
    assert_eq!(db.last_txn_id(), 0);
    let mut names: Vec<_> = directory_contents(dir.path()).into_keys().collect();
    names.sort();
    assert_eq!(
        names,
        [
            page_file(dir.path()),
            lock_file(dir.path()),
            log_file(dir.path())
        ]
    );
}

#[test]
fn a_log_beside_the_temporary_page_file_of_another_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(Db::open(dir.path(), Options::default()).unwrap());
    let other = tempfile::tempdir().unwrap();
    drop(Db::open(other.path(), Options::default()).unwrap());
    std::fs::remove_file(page_file(dir.path())).unwrap();
    std::fs::copy(
        page_file(other.path()),
        dir.path().join("northstar.db.creating"),
    )
    .unwrap();
    let error = refused_unchanged(dir.path(), Options::default(), "foreign temporary");
    assert!(matches!(error, Error::MissingFile { .. }), "{error}");
}
