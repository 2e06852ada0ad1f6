//! End-to-end tests of the `logdump` binary: each builds a database with the library in a
//! temporary directory, damages its commit log on purpose where the test says so, and
//! checks logdump's exit code, stdout and stderr.

mod common;

use std::path::{Path, PathBuf};

use common::{assert_exit, json, logdump, stderr, stdout};

/// A database of 6 txns: 1 puts a and b, 2 creates keyspace "users" with u1, 3 puts a
/// 1000-byte value, 4 deletes b, 5 overwrites a, 6 drops "users". Returns its directory.
fn database(dir: &Path) -> PathBuf {
    let path = dir.join("db");
    let db = northstar::Db::open(&path, northstar::Options::default()).unwrap();
    let commit = |change: &dyn Fn(&mut northstar::WriteTxn<'_>)| {
        let mut txn = db.begin_write().unwrap();
        change(&mut txn);
        txn.commit().unwrap();
    };
    commit(&|txn| {
        txn.put("a", "one").unwrap();
        txn.put("b", "two").unwrap();
    });
    commit(&|txn| {
        txn.create_keyspace("users").unwrap();
        txn.keyspace("users").unwrap().put("u1", "ada").unwrap();
    });
    commit(&|txn| txn.put("long", vec![b'x'; 1000]).unwrap());
    commit(&|txn| assert!(txn.delete("b").unwrap()));
    commit(&|txn| txn.put("a", "three").unwrap());
    commit(&|txn| assert!(txn.drop_keyspace("users").unwrap()));
    db.close().unwrap();
    path
}

fn text(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temporary path")
}

fn log_of(database: &Path) -> PathBuf {
    database.join("northstar.log")
}

/// Offsets of the records of txns 1..=6, from `logdump scan --json`.
fn record_offsets(database: &Path) -> Vec<u64> {
    record_spans(database)
        .into_iter()
        .map(|(offset, _)| offset)
        .collect()
}

/// Offset and end of every record. Records appended after a sync start on a fresh
/// 512-byte sector, so one record's end is not always the next one's offset.
fn record_spans(database: &Path) -> Vec<(u64, u64)> {
    let output = logdump(&["scan", text(database), "--from", "1", "--to", "6", "--json"]);
    assert_exit(&output, 0);
    json(&output)
        .as_array()
        .unwrap()
        .iter()
        .map(|record| {
            let offset = record["offset"].as_u64().unwrap();
            (offset, offset + record["length"].as_u64().unwrap())
        })
        .collect()
}

fn flip_byte(file: &Path, offset: u64) {
    let mut bytes = std::fs::read(file).unwrap();
    bytes[offset as usize] ^= 0xff;
    std::fs::write(file, bytes).unwrap();
}

#[test]
fn verify_on_a_sound_log_prints_one_ok_line_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(dir.path());
    for target in [path.clone(), log_of(&path)] {
        let output = logdump(&["verify", text(&target)]);
        assert_exit(&output, 0);
        let line = stdout(&output);
        assert_eq!(line.lines().count(), 1, "{line}");
        assert!(line.starts_with("ok: "), "{line}");
        assert!(line.contains("6 records, txns 1..6"), "{line}");
        assert!(stderr(&output).is_empty(), "{}", stderr(&output));
    }
    let report = json(&logdump(&["verify", "--json", text(&path)]));
    assert_eq!(report["ok"], true);
    assert_eq!(report["records"], 6);
    assert_eq!(report["last_txn_id"], 6);
    assert_eq!(report["checkpoint"]["txn_id"], 6);
    assert_eq!(
        report["size"],
        std::fs::metadata(log_of(&path)).unwrap().len()
    );
}

#[test]
fn verify_on_a_log_cut_inside_its_last_record_reports_a_torn_tail_and_exits_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(dir.path());
    let spans = record_spans(&path);
    let last = spans[5].0;
    let previous_end = spans[4].1;
    let log = std::fs::OpenOptions::new()
        .write(true)
        .open(log_of(&path))
        .unwrap();
    log.set_len(last + 20).unwrap();

    let output = logdump(&["verify", text(&path)]);
    assert_exit(&output, 1);
    let report = stdout(&output);
    assert!(report.starts_with("torn tail: "), "{report}");
    assert!(
        report.contains(&format!(
            "offset {previous_end}: torn tail where txn 6 was expected"
        )),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "ends at offset {previous_end}; {} bytes follow",
            last + 20 - previous_end
        )),
        "{report}"
    );
    assert!(stderr(&output).contains("torn tail"), "{}", stderr(&output));

    let report = json(&logdump(&["verify", "--json", text(&path)]));
    assert_eq!(report["status"], "torn_tail");
    assert_eq!(report["valid_end"], previous_end);
    assert_eq!(report["bytes_after_valid_end"], last + 20 - previous_end);
    assert_eq!(report["problems"][0]["expected_txn_id"], 6);
}

#[test]
fn zeros_after_the_last_record_are_a_torn_tail_too() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(dir.path());
    let mut bytes = std::fs::read(log_of(&path)).unwrap();
    bytes.extend([0u8; 100]);
    std::fs::write(log_of(&path), bytes).unwrap();
    let output = logdump(&["verify", text(&path)]);
    assert_exit(&output, 1);
    assert!(
        stdout(&output).contains("zero bytes"),
        "{}",
        stdout(&output)
    );
    assert!(
        stdout(&output).contains("opening the database cuts them off"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn verify_names_the_offset_of_a_flipped_byte_in_a_middle_record_and_exits_two() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(dir.path());
    let spans = record_spans(&path);
    let offsets: Vec<u64> = spans.iter().map(|span| span.0).collect();
    // Damage the payloads of txns 2 and 4: both are listed, the walk goes on after each.
    flip_byte(&log_of(&path), offsets[1] + 80);
    flip_byte(&log_of(&path), offsets[3] + 80);

    let output = logdump(&["verify", text(&path)]);
    assert_exit(&output, 2);
    let report = stdout(&output);
    assert!(report.starts_with("corrupt: "), "{report}");
    for (index, txn_id) in [(1, 2), (3, 4)] {
        let expected = format!(
            "offset {}: damaged record where txn {txn_id} was expected",
            offsets[index]
        );
        assert!(report.contains(&expected), "{report}");
    }
    assert!(
        report.contains(&format!("(txn 1) ends at offset {}", spans[0].1)),
        "{report}"
    );
    assert!(stderr(&output).contains("corrupt"), "{}", stderr(&output));

    let report = json(&logdump(&["verify", "--json", text(&path)]));
    assert_eq!(report["status"], "corrupt");
    assert_eq!(report["records"], 4);
    let problems = report["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 2);
    assert_eq!(problems[0]["offset"], offsets[1]);
    assert_eq!(problems[0]["next_valid_offset"], offsets[2]);
    assert_eq!(problems[0]["next_valid_txn_id"], 3);
}

#[test]
fn verify_refuses_what_is_not_a_log_of_this_database_with_exit_three() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(dir.path());

    let not_a_log = dir.path().join("notes.txt");
    std::fs::write(&not_a_log, vec![b'x'; 200]).unwrap();
    let output = logdump(&["verify", text(&not_a_log)]);
    assert_exit(&output, 3);
    assert!(
        stderr(&output).contains("not a usable NorthstarDB commit log"),
        "{}",
        stderr(&output)
    );

    let mut bytes = std::fs::read(log_of(&path)).unwrap();
    bytes[20] ^= 1;
    let bad_header = dir.path().join("bad-header.log");
    std::fs::write(&bad_header, bytes).unwrap();
    let output = logdump(&["verify", text(&bad_header)]);
    assert_exit(&output, 3);
    assert!(
        stderr(&output).contains("header checksum"),
        "{}",
        stderr(&output)
    );

    // Another database's page file beside this log.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    drop(northstar::Db::open(&other, northstar::Options::default()).unwrap());
    std::fs::copy(log_of(&path), log_of(&other)).unwrap();
    let output = logdump(&["verify", text(&other)]);
    assert_exit(&output, 3);
    assert!(
        stderr(&output).contains("belongs to another database"),
        "{}",
        stderr(&output)
    );

    assert_exit(&logdump(&["verify", text(&dir.path().join("missing"))]), 3);
    let output = logdump(&["verify", "--json", text(dir.path())]);
    assert_exit(&output, 3);
    assert_eq!(json(&output)["ok"], false);
}

#[test]
fn dump_json_parses_and_holds_every_record_and_operation() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(dir.path());
    let output = logdump(&["dump", "--json", text(&path)]);
    assert_exit(&output, 0);
    let dump = json(&output);
    let records = dump["records"].as_array().unwrap();
    let txns: Vec<u64> = records
        .iter()
        .map(|record| record["txn_id"].as_u64().unwrap())
        .collect();
    assert_eq!(txns, [1, 2, 3, 4, 5, 6]);
    assert_eq!(dump["first_txn_id"], 1);
    assert_eq!(
        records[0]["offset"], 512,
        "the first record starts on the sector after the header"
    );
    assert_eq!(records[0]["op_count"], 2);
    assert_eq!(records[0]["ops"][1]["op"], "put");
    assert_eq!(records[0]["ops"][1]["key"], "b");
    assert_eq!(records[0]["ops"][1]["value"], "two");
    assert_eq!(records[1]["ops"][0]["op"], "create_keyspace");
    assert_eq!(records[1]["ops"][0]["name"], "users");
    assert_eq!(records[2]["ops"][0]["value_size"], 1000);
    assert_eq!(records[3]["ops"][0]["op"], "delete");
    assert_eq!(records[5]["ops"][0]["op"], "drop_keyspace");
    assert_eq!(dump["problems"].as_array().unwrap().len(), 0);

    let limited = json(&logdump(&[
        "dump",
        "--json",
        "--from",
        "2",
        "--to",
        "5",
        "--limit",
        "2",
        text(&path),
    ]));
    let txns: Vec<u64> = limited["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| record["txn_id"].as_u64().unwrap())
        .collect();
    assert_eq!(txns, [2, 3]);
}

#[test]
fn dump_text_shows_each_operation_and_shortens_long_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(dir.path());
    let output = logdump(&["dump", text(&log_of(&path)), "--width", "8"]);
    assert_exit(&output, 0);
    let dump = stdout(&output);
    for expected in [
        "offset 512: txn 1, 2 ops,",
        "  put keyspace 0: a = one\n",
        "  create keyspace 1: users\n",
        "  put keyspace 1: u1 = ada\n",
        "  put keyspace 0: long = xxxxxxxx... (1000 bytes)\n",
        "  delete keyspace 0: b\n",
        "  drop keyspace 1: users\n",
    ] {
        assert!(dump.contains(expected), "lacks {expected:?}:\n{dump}");
    }
    let hex = stdout(&logdump(&["dump", text(&path), "--hex", "--to", "1"]));
    assert!(hex.contains("put keyspace 0: 61 = 6f6e65"), "{hex}");
    assert!(!hex.contains("txn 2"), "{hex}");
}

#[test]
fn dump_goes_on_after_damage_and_exits_as_verify_does() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(dir.path());
    let offsets = record_offsets(&path);
    flip_byte(&log_of(&path), offsets[2] + 60);
    let output = logdump(&["dump", text(&path)]);
    assert_exit(&output, 2);
    let dump = stdout(&output);
    assert!(
        dump.contains(&format!("# damage: offset {}", offsets[2])),
        "{dump}"
    );
    assert!(dump.contains("txn 6,"), "{dump}");
    let output = logdump(&["dump", "--json", text(&path)]);
    assert_exit(&output, 2);
    let dump = json(&output);
    assert_eq!(dump["records"].as_array().unwrap().len(), 5);
    assert_eq!(dump["problems"][0]["offset"], offsets[2]);
}

#[test]
fn scan_prints_one_line_per_record_of_the_txn_range() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(dir.path());
    let offsets = record_offsets(&path);
    let output = logdump(&["scan", text(&path), "--from", "2", "--to", "4"]);
    assert_exit(&output, 0);
    let lines: Vec<String> = stdout(&output).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!("txn 2: offset {}, 2 ops, ", offsets[1])),
        "{lines:?}"
    );
    assert!(lines[2].starts_with("txn 4: "), "{lines:?}");

    let records = json(&logdump(&[
        "scan",
        text(&path),
        "--from",
        "5",
        "--to",
        "99",
        "--json",
    ]));
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["txn_id"], 5);
    assert_eq!(records[0]["offset"], offsets[4]);
    let length = records[0]["length"].as_u64().unwrap();
    assert!(
        length.is_multiple_of(8) && offsets[4] + length <= offsets[5],
        "record 5 is {length} bytes and ends by record 6's offset"
    );
    let empty = logdump(&["scan", text(&path), "--from", "5", "--to", "2"]);
    assert_exit(&empty, 0);
    assert!(stdout(&empty).is_empty());
    assert_exit(&logdump(&["scan", text(&path), "--from", "1"]), 64);
}
