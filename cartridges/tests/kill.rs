//! A build killed with SIGKILL leaves the old cartridge or the new one, complete: a child
//! process (this test binary run again) builds and catches up in a loop; the parent kills
//! it after a seeded delay, then opens what is on disk and compares it with a fresh build
//! at the same txn, byte for byte.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{seed, Rng};
use northstar::{Db, Options};
use northstar_cartridges::{build_at, cartridge_path, BuildOptions, Cartridge, LogSource, Recipe};

/// Set in the child: the database directory it builds cartridges of.
const CHILD_DIR_ENV: &str = "NORTHSTAR_CARTRIDGE_KILL_DIR";
const CHILD_TEST: &str = "child_builds_until_it_is_killed";

/// Acts as the child when its variable is set; returns at once otherwise.
#[test]
fn child_builds_until_it_is_killed() {
    let Some(dir) = std::env::var_os(CHILD_DIR_ENV) else {
        return;
    };
    let dir = Path::new(&dir);
    let log = LogSource::open(dir).unwrap();
    let path = cartridge_path(dir, "key_history");
    let (last, _) = log.last_txn().unwrap();
    for round in 0u64.. {
        let options = BuildOptions {
            up_to: Some(last - round % 7),
            ..BuildOptions::default()
        };
        build_at(&log, &path, &Recipe::KeyHistory, &options).unwrap();
    }
}

fn fill(dir: &Path) {
    let db = Db::open(dir, Options::default()).unwrap();
    for txn in 0..40u32 {
        let mut write = db.begin_write().unwrap();
        for key in 0..1000u32 {
            write
                .put(format!("key{key:05}"), format!("value {txn} {key}"))
                .unwrap();
        }
        write.commit().unwrap();
    }
}

#[test]
fn a_build_killed_at_any_moment_leaves_a_whole_cartridge() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path());
    let mut rng = Rng::new(seed(51));
    let kills: u64 = std::env::var("NORTHSTAR_KILLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(6);
    let path = cartridge_path(dir.path(), "key_history");
    let log = LogSource::open(dir.path()).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    // The old cartridge a killed build must leave in place if it does not finish.
    let first = BuildOptions {
        up_to: Some(1),
        ..BuildOptions::default()
    };
    build_at(&log, &path, &Recipe::KeyHistory, &first).unwrap();
    let mut replaced = 0;
    for kill in 0..kills {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR_ENV, dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(30 + rng.below(600)));
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert!(!status.success(), "the child builds until killed");
        let cartridge = Cartridge::open(&path).expect("a whole cartridge after the kill");
        let fresh = scratch.path().join("fresh.cart");
        let options = BuildOptions {
            up_to: Some(cartridge.txn_to()),
            ..BuildOptions::default()
        };
        build_at(&log, &fresh, &Recipe::KeyHistory, &options).unwrap();
        assert_eq!(
            cartridge.bytes(),
            std::fs::read(&fresh).unwrap(),
            "kill {kill}"
        );
        replaced += u32::from(cartridge.txn_to() > 1);
    }
    println!("{replaced} of {kills} kills found a cartridge the child wrote");
}
