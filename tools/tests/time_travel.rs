//! End-to-end tests of reading the past with the `northstar` binary: `history`,
//! `get --as-of`, `scan --as-of`, `replay`, and the log and recovery parts of `stat` and
//! `checkpoint`.

mod common;

use std::path::Path;

use common::{assert_exit, json, northstar, stderr, stdout};

/// A database whose key `k` was put (txn 1), overwritten (txn 2), deleted (txn 3) and put
/// again (txn 4), with `other` put at txn 5.
fn versioned_database(dir: &Path) -> String {
    let path = dir.join("db");
    let path = path.to_str().unwrap().to_string();
    for arguments in [
        &["put", &path, "k", "first"][..],
        &["put", &path, "k", "second"],
        &["del", &path, "k"],
        &["put", &path, "k", "third"],
        &["put", &path, "other", "x"],
    ] {
        assert_exit(&northstar(arguments), 0);
    }
    path
}

#[test]
fn history_lists_every_version_of_a_key_with_increasing_txn_ids() {
    let dir = tempfile::tempdir().unwrap();
    let path = versioned_database(dir.path());
    let output = northstar(&["history", &path, "k"]);
    assert_exit(&output, 0);
    assert_eq!(
        stdout(&output),
        "txn 1: put first\ntxn 2: put second\ntxn 3: deleted\ntxn 4: put third\n"
    );

    let history = json(&northstar(&["history", "--json", &path, "k"]));
    let versions = history["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 4);
    let txns: Vec<u64> = versions
        .iter()
        .map(|version| version["txn_id"].as_u64().unwrap())
        .collect();
    assert!(txns.windows(2).all(|pair| pair[0] < pair[1]), "{txns:?}");
    let ops: Vec<&str> = versions
        .iter()
        .map(|version| version["op"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["put", "put", "delete", "put"]);
    assert_eq!(versions[3]["value"], "third");

    let missing = northstar(&["history", &path, "never"]);
    assert_exit(&missing, 1);
    assert!(
        stderr(&missing).contains("no versions"),
        "{}",
        stderr(&missing)
    );
    assert_exit(&northstar(&["history", &path, "k", "-k", "nobody"]), 1);
}

#[test]
fn history_follows_a_named_keyspace_until_it_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = northstar::Db::open(&path, northstar::Options::default()).unwrap();
    let mut txn = db.begin_write().unwrap();
    txn.put("u1", "in the default keyspace").unwrap();
    txn.create_keyspace("users").unwrap();
    txn.keyspace("users").unwrap().put("u1", "ada").unwrap();
    txn.commit().unwrap();
    let mut txn = db.begin_write().unwrap();
    txn.drop_keyspace("users").unwrap();
    txn.commit().unwrap();
    let mut txn = db.begin_write().unwrap();
    txn.create_keyspace("users").unwrap();
    txn.keyspace("users").unwrap().put("u1", "grace").unwrap();
    txn.commit().unwrap();
    db.close().unwrap();

    let output = northstar(&["history", path.to_str().unwrap(), "u1", "-k", "users"]);
    assert_exit(&output, 0);
    assert_eq!(
        stdout(&output),
        "txn 1: put ada\ntxn 2: keyspace dropped\ntxn 3: put grace\n"
    );
}

#[test]
fn get_as_of_returns_the_value_an_earlier_txn_left() {
    let dir = tempfile::tempdir().unwrap();
    let path = versioned_database(dir.path());
    let value_as_of = |txn: &str| {
        let output = northstar(&["get", &path, "k", "--as-of", txn]);
        (output.status.code(), stdout(&output))
    };
    assert_eq!(value_as_of("1"), (Some(0), "first\n".to_string()));
    assert_eq!(value_as_of("2"), (Some(0), "second\n".to_string()));
    assert_eq!(value_as_of("3").0, Some(1));
    assert_eq!(value_as_of("5"), (Some(0), "third\n".to_string()));
    assert_eq!(stdout(&northstar(&["get", &path, "k"])), "third\n");

    let future = northstar(&["get", &path, "k", "--as-of", "99"]);
    assert_exit(&future, 1);
    assert!(
        stderr(&future).contains("has not committed"),
        "{}",
        stderr(&future)
    );
    let deleted = northstar(&["get", &path, "k", "--as-of", "3"]);
    assert!(
        stderr(&deleted).contains("as of txn 3"),
        "{}",
        stderr(&deleted)
    );
}

#[test]
fn scan_as_of_shows_the_entries_of_an_earlier_txn() {
    let dir = tempfile::tempdir().unwrap();
    let path = versioned_database(dir.path());
    assert_eq!(
        stdout(&northstar(&["scan", &path, "--as-of", "2"])),
        "k\tsecond\n"
    );
    assert_eq!(stdout(&northstar(&["scan", &path, "--as-of", "3"])), "");
    assert_eq!(
        stdout(&northstar(&["scan", &path, "--as-of", "5", "--reverse"])),
        "other\tx\nk\tthird\n"
    );
}

#[test]
fn replay_to_a_txn_matches_scan_as_of_that_txn() {
    let dir = tempfile::tempdir().unwrap();
    let path = versioned_database(dir.path());
    for txn in ["1", "2", "3", "4", "5"] {
        let replayed = json(&northstar(&["replay", &path, "--to", txn, "--json"]));
        assert_eq!(replayed["txn_id"].as_u64().unwrap().to_string(), txn);
        let scanned = json(&northstar(&["scan", &path, "--as-of", txn, "--json"]));
        assert_eq!(replayed["keyspaces"][0]["entries"], scanned, "txn {txn}");
    }
    let output = northstar(&["replay", &path, "--to", "2"]);
    assert_exit(&output, 0);
    assert_eq!(
        stdout(&output),
        "# default keyspace: 1 entries at txn 2\nk\tsecond\n"
    );
    let summary = json(&northstar(&[
        "replay",
        &path,
        "--to",
        "5",
        "--summary",
        "--json",
    ]));
    assert_eq!(summary["keyspaces"][0]["entry_count"], 2);
    assert_exit(&northstar(&["replay", &path, "--to", "6"]), 1);
    assert_exit(
        &northstar(&["replay", &path, "--to", "2", "-k", "nobody"]),
        1,
    );
    assert_exit(&northstar(&["replay", "no-such-db", "--to", "2"]), 3);
}

#[test]
fn stat_shows_the_log_and_what_open_cut_off_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let path = versioned_database(dir.path());
    let log = Path::new(&path).join("northstar.log");
    let size = std::fs::metadata(&log).unwrap().len();
    let mut bytes = std::fs::read(&log).unwrap();
    bytes.extend([0xab; 30]);
    std::fs::write(&log, bytes).unwrap();

    let stat = json(&northstar(&["stat", "--json", &path]));
    assert_eq!(stat["log"]["records"], 5);
    assert_eq!(stat["log"]["first_txn_id"], 1);
    assert_eq!(stat["log"]["last_txn_id"], 5);
    assert_eq!(stat["log"]["size"], size);
    assert_eq!(stat["recovery"]["checkpoint_txn_id"], 5);
    assert_eq!(stat["recovery"]["log_truncated"]["offset"], size);
    assert_eq!(stat["recovery"]["log_truncated"]["size"], 30);

    let text = stdout(&northstar(&["stat", &path]));
    assert!(text.contains("log records     5 (txns 1..5)"), "{text}");
    assert!(text.contains("nothing cut"), "{text}");
}

#[test]
fn checkpoint_reports_the_txn_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let path = versioned_database(dir.path());
    let output = northstar(&["checkpoint", &path]);
    assert_exit(&output, 0);
    assert!(
        stdout(&output).starts_with("checkpoint at txn 5 written to "),
        "{}",
        stdout(&output)
    );
    let report = json(&northstar(&["checkpoint", "--json", &path]));
    assert_eq!(report["checkpoint_txn_id"], 5);
    assert_eq!(report["open"]["replayed_txns"], 0);
}
