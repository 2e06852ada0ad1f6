//! End-to-end tests of the `northstar` binary: each runs the built tool on a database in
//! a temporary directory and checks its exit code, stdout and stderr.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use common::{assert_exit, json, northstar, stderr, stdout};

const PAGE_SIZE: u64 = 16 * 1024;

/// A database built by `demo --dir`: default keyspace with 2004 entries and a 4 MiB
/// value, and the keyspace "users".
fn demo_database(dir: &Path) -> String {
    let path = dir.join("db");
    let path = path.to_str().expect("UTF-8 temporary path").to_string();
    assert_exit(&northstar(&["demo", "--dir", &path]), 0);
    path
}

fn flip_byte(page_file: &Path, offset: u64) {
    let mut bytes = std::fs::read(page_file).expect("read the page file");
    bytes[offset as usize] ^= 0xff;
    std::fs::write(page_file, bytes).expect("write the page file");
}

/// Page ids of the leaves of the tree named `name` in `dump --tree --json` output.
fn leaf_pages(tree_json: &Value, name: &str) -> Vec<u64> {
    fn collect(node: &Value, leaves: &mut Vec<u64>) {
        if node["kind"] == "leaf" {
            leaves.push(node["page"].as_u64().expect("page id"));
        }
        for child in node["children"].as_array().into_iter().flatten() {
            collect(&child["node"], leaves);
        }
    }
    let tree = tree_json["trees"]
        .as_array()
        .expect("trees")
        .iter()
        .find(|tree| tree["name"] == name)
        .expect("tree");
    let mut leaves = Vec::new();
    collect(&tree["root"], &mut leaves);
    leaves
}

#[test]
fn demo_exits_zero_and_narrates_every_step() {
    let output = northstar(&["demo"]);
    assert_exit(&output, 0);
    let text = stdout(&output);
    for expected in [
        "txn 1: put apple",
        "keyspace \"users\"",
        "range scan",
        "prefix scan",
        "overwrote apple",
        "deleted banana",
        "overflow pages",
        "snapshot at txn 6: cherry -> dark red",
        "new read at txn 7: cherry -> black",
        "validator: ok",
        "history of apple, read from the commit log",
        "txn 1: put red",
        "txn 4: put green",
        "AS OF txn 3 (after txn 1 wrote apple, before txn 4 overwrote it): get apple -> red; now at txn 7: get apple -> green",
        "replay --to 3: the log alone replayed into memory: default keyspace 2003 entries, keyspace \"users\" 4 entries; apple -> red",
        "logdump verify: ok: ",
        "7 records, txns 1..7",
        "stat summary",
        "log records     7 (txns 1..7)",
        "recovery        checkpoint at txn 7",
        "(default)",
    ] {
        assert!(
            text.contains(expected),
            "demo output lacks {expected:?}:\n{text}"
        );
    }
}

#[test]
fn demo_keeps_its_database_in_a_given_directory_and_refuses_to_reuse_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = demo_database(dir.path());
    assert_exit(&northstar(&["validate", &path]), 0);
    let again = northstar(&["demo", "--dir", &path]);
    assert_exit(&again, 1);
    assert!(stderr(&again).contains("already"), "{}", stderr(&again));
}

#[test]
fn put_get_del_and_scan_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let path = path.to_str().unwrap();
    let created = northstar(&["put", path, "apple", "red"]);
    assert_exit(&created, 0);
    assert!(
        stdout(&created).contains("committed txn 1"),
        "{}",
        stdout(&created)
    );
    assert!(
        stderr(&created).contains("created a new database"),
        "{}",
        stderr(&created)
    );
    assert_exit(&northstar(&["put", path, "banana", "yellow"]), 0);
    assert_exit(&northstar(&["put", path, "apple", "green"]), 0);

    let get = northstar(&["get", path, "apple"]);
    assert_exit(&get, 0);
    assert_eq!(stdout(&get), "green\n");
    assert_eq!(
        stdout(&northstar(&["scan", path])),
        "apple\tgreen\nbanana\tyellow\n"
    );

    let deleted = northstar(&["del", path, "apple"]);
    assert_exit(&deleted, 0);
    assert!(
        stdout(&deleted).contains("deleted apple"),
        "{}",
        stdout(&deleted)
    );
    assert_exit(&northstar(&["get", path, "apple"]), 1);
    assert_exit(&northstar(&["del", path, "apple"]), 1);
    assert_eq!(stdout(&northstar(&["scan", path])), "banana\tyellow\n");
}

#[test]
fn get_of_a_missing_key_exits_one_and_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let path = path.to_str().unwrap();
    assert_exit(&northstar(&["put", path, "present", "1"]), 0);
    let output = northstar(&["get", path, "absent"]);
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("key absent not found in the default keyspace"),
        "{}",
        stderr(&output)
    );
    assert!(stdout(&output).is_empty());
}

#[test]
fn named_keyspaces_are_created_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let path = path.to_str().unwrap();
    let refused = northstar(&["put", path, "--keyspace", "users", "u1", "ada"]);
    assert_exit(&refused, 1);
    assert!(
        stderr(&refused).contains("--create-keyspace"),
        "{}",
        stderr(&refused)
    );
    assert_exit(
        &northstar(&[
            "put",
            path,
            "--keyspace",
            "users",
            "--create-keyspace",
            "u1",
            "ada",
        ]),
        0,
    );
    assert_eq!(
        stdout(&northstar(&["get", path, "-k", "users", "u1"])),
        "ada\n"
    );
    assert_exit(&northstar(&["get", path, "u1"]), 1);
    assert_exit(&northstar(&["get", path, "-k", "nobody", "u1"]), 1);
}

#[test]
fn hex_keys_and_values_round_trip_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let path = path.to_str().unwrap();
    assert_exit(&northstar(&["put", path, "--hex", "00ff", "0a1b00"]), 0);
    assert_eq!(
        stdout(&northstar(&["get", path, "--hex", "0x00ff"])),
        "0a1b00\n"
    );
    let raw = northstar(&["get", path, "--hex", "00ff", "--raw"]);
    assert_eq!(raw.stdout, [0x0a, 0x1b, 0x00]);
    assert_eq!(
        stdout(&northstar(&["scan", path, "--hex"])),
        "00ff\t0a1b00\n"
    );
    assert_eq!(stdout(&northstar(&["scan", path])), "0x00ff\t0x0a1b00\n");
    let bad = northstar(&["get", path, "--hex", "abc"]);
    assert_exit(&bad, 1);
    assert!(stderr(&bad).contains("not hex"), "{}", stderr(&bad));
}

#[test]
fn scan_selects_by_prefix_and_range_and_honours_reverse_and_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = demo_database(dir.path());
    let keys = |arguments: &[&str]| -> Vec<String> {
        let output = northstar(&[&["scan", &path][..], arguments].concat());
        assert_exit(&output, 0);
        stdout(&output)
            .lines()
            .map(|line| line.split('\t').next().unwrap().to_string())
            .collect()
    };
    assert_eq!(keys(&["--prefix", "item:000"]).len(), 10);
    assert_eq!(
        keys(&["--from", "item:0100", "--to", "item:0103"]),
        ["item:0100", "item:0101", "item:0102"]
    );
    assert_eq!(
        keys(&["--reverse", "--limit", "2"]),
        ["item:1999", "item:1998"]
    );
    assert_eq!(keys(&["--from", "z", "--to", "a"]), Vec::<String>::new());
    assert_eq!(keys(&["-k", "users", "--prefix", "admin"]), ["admin:1"]);
    assert_eq!(keys(&["--prefix", &"x".repeat(5000)]), Vec::<String>::new());

    let output = northstar(&["scan", &path, "--prefix", "blob", "--json"]);
    assert_exit(&output, 0);
    let entries = json(&output);
    assert_eq!(entries[0]["key"], "blob");
    assert_eq!(entries[0]["value_size"], 4 * 1024 * 1024);
}

#[test]
fn validate_on_a_sound_database_prints_one_ok_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = demo_database(dir.path());
    let output = northstar(&["validate", &path]);
    assert_exit(&output, 0);
    assert!(stdout(&output).starts_with("ok: "), "{}", stdout(&output));
    assert_eq!(stdout(&output).lines().count(), 1);
    let report = json(&northstar(&["validate", "--json", &path]));
    assert_eq!(report["ok"], true);
    assert_eq!(report["problems"].as_array().unwrap().len(), 0);
}

#[test]
fn validate_names_the_page_of_a_flipped_byte_in_page_two() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let text_path = path.to_str().unwrap();
    assert_exit(&northstar(&["put", text_path, "only", "commit"]), 0);
    flip_byte(&path.join("northstar.db"), 2 * PAGE_SIZE + 100);
    let output = northstar(&["validate", text_path]);
    assert_ne!(output.status.code(), Some(0));
    assert!(!stderr(&output).contains("panicked"));
    let everything = stdout(&output) + &stderr(&output);
    assert!(everything.contains("page 2"), "{everything}");
}

#[test]
fn validate_lists_a_damaged_leaf_page_and_exits_two() {
    let dir = tempfile::tempdir().unwrap();
    let path = demo_database(dir.path());
    let tree = json(&northstar(&["dump", "--tree", "--json", &path]));
    let leaf = *leaf_pages(&tree, "")
        .last()
        .expect("a leaf of the default keyspace");
    flip_byte(
        &Path::new(&path).join("northstar.db"),
        leaf * PAGE_SIZE + 100,
    );

    let output = northstar(&["validate", &path]);
    assert_exit(&output, 2);
    assert!(
        stdout(&output).contains(&format!("page {leaf}: checksum mismatch")),
        "{}",
        stdout(&output)
    );
    assert!(
        stderr(&output).contains("validation failed"),
        "{}",
        stderr(&output)
    );

    let output = northstar(&["validate", "--json", &path]);
    assert_exit(&output, 2);
    let report = json(&output);
    assert_eq!(report["ok"], false);
    assert!(
        report["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|problem| problem["page"] == leaf),
        "{report:#}"
    );

    let dump = northstar(&["dump", &path]);
    assert_exit(&dump, 1);
    assert!(
        stderr(&dump).contains(&format!("page {leaf}")),
        "{}",
        stderr(&dump)
    );
    let tree = northstar(&["dump", "--tree", &path]);
    assert_exit(&tree, 0);
    assert!(
        stdout(&tree).contains(&format!("page {leaf}: unreadable")),
        "{}",
        stdout(&tree)
    );
}

#[test]
fn validate_on_a_file_that_is_not_a_database_exits_three() {
    let dir = tempfile::tempdir().unwrap();
    let garbage: Vec<u8> = (0..3 * PAGE_SIZE)
        .map(|index| (index * 7 % 256) as u8)
        .collect();
    std::fs::write(dir.path().join("northstar.db"), garbage).unwrap();
    let output = northstar(&["validate", dir.path().to_str().unwrap()]);
    assert_exit(&output, 3);
    assert!(
        stderr(&output).contains("not a NorthstarDB database"),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("northstar.db"),
        "{}",
        stderr(&output)
    );

    let plain_file = dir.path().join("notes.txt");
    std::fs::write(&plain_file, "hello").unwrap();
    let output = northstar(&["validate", plain_file.to_str().unwrap()]);
    assert_exit(&output, 3);
    assert!(
        stderr(&output).contains("this is a file"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn validate_on_an_empty_page_file_exits_three() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("northstar.db"), b"").unwrap();
    let output = northstar(&["validate", dir.path().to_str().unwrap()]);
    assert_exit(&output, 3);
    assert!(
        stderr(&output).contains("the file is empty"),
        "{}",
        stderr(&output)
    );
    let report = json(&northstar(&[
        "validate",
        "--json",
        dir.path().to_str().unwrap(),
    ]));
    assert_eq!(report["ok"], false);
    assert!(report["error"].as_str().unwrap().contains("empty"));
}

#[test]
fn commands_on_a_missing_database_exit_three_without_creating_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nothing-here");
    for command in ["validate", "stat", "dump", "scan"] {
        let output = northstar(&[command, path.to_str().unwrap()]);
        assert_exit(&output, 3);
        assert!(
            stderr(&output).contains("no such directory"),
            "{command}: {}",
            stderr(&output)
        );
    }
    assert!(!path.exists());
}

#[test]
fn validate_on_a_truncated_page_file_exits_three() {
    let dir = tempfile::tempdir().unwrap();
    let path = demo_database(dir.path());
    let page_file = Path::new(&path).join("northstar.db");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&page_file)
        .unwrap();
    file.set_len(4 * PAGE_SIZE).unwrap();
    let output = northstar(&["validate", &path]);
    assert_exit(&output, 3);
    assert!(stderr(&output).contains("truncated"), "{}", stderr(&output));
}

#[test]
fn validate_on_a_locked_database_exits_three() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let _held = northstar::Db::open(&path, northstar::Options::default()).unwrap();
    let output = northstar(&["validate", path.to_str().unwrap()]);
    assert_exit(&output, 3);
    assert!(stderr(&output).contains("locked"), "{}", stderr(&output));
}

/// Every file under `dir` with its bytes.
fn directory_files(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn put_into_a_database_whose_page_file_was_deleted_names_it_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let shown = path.to_str().unwrap();
    assert_exit(&northstar(&["put", shown, "greeting", "hello"]), 0);
    std::fs::remove_file(path.join("northstar.db")).unwrap();
    let before = directory_files(&path);
    for attempt in 0..2 {
        let output = northstar(&["put", shown, "greeting", "again"]);
        assert_exit(&output, 3);
        let text = stderr(&output);
        assert!(
            text.contains("northstar.db") && text.contains("missing"),
            "attempt {attempt}: {text}"
        );
        assert!(!text.contains("another database"), "{text}");
        assert_eq!(directory_files(&path), before, "attempt {attempt}");
    }
    let output = northstar(&["get", shown, "greeting"]);
    assert_exit(&output, 3);
    assert!(stderr(&output).contains("missing"), "{}", stderr(&output));
}

#[test]
fn validate_warns_about_a_damaged_meta_page_and_still_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let path = demo_database(dir.path());
    // Damage the meta slot that does not hold the newest checkpoint: the database still
    // opens from the other one, and validate says the spare slot is unusable.
    let page_file = Path::new(&path).join("northstar.db");
    let bytes = std::fs::read(&page_file).unwrap();
    let txn_of = |slot: usize| {
        u64::from_le_bytes(
            bytes[slot * 16384 + 16..slot * 16384 + 24]
                .try_into()
                .unwrap(),
        )
    };
    let older = if txn_of(0) < txn_of(1) { 0 } else { 1 };
    flip_byte(&page_file, older * 16384 + 100);
    let output = northstar(&["validate", &path]);
    assert_exit(&output, 0);
    let expected = format!("warning: page {older}: meta page {older} is unusable");
    assert!(stdout(&output).contains(&expected), "{}", stdout(&output));
}

#[test]
fn stat_json_parses_and_describes_every_tree() {
    let dir = tempfile::tempdir().unwrap();
    let path = demo_database(dir.path());
    let stat = json(&northstar(&["stat", "--json", &path]));
    assert_eq!(stat["txn_id"], 7);
    assert_eq!(stat["page_size"], PAGE_SIZE);
    assert!(
        stat["file_size"].as_u64().unwrap() >= stat["page_count"].as_u64().unwrap() * PAGE_SIZE
    );
    let names: Vec<&str> = stat["trees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tree| tree["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["", "(catalog)", "users"]);
    assert_eq!(stat["trees"][0]["depth"], 2);
    assert_eq!(stat["trees"][0]["entries"], 2004);
    assert!(stat["trees"][0]["overflow_pages"].as_u64().unwrap() >= 256);

    let text = northstar(&["stat", &path]);
    assert_exit(&text, 0);
    assert!(
        stdout(&text).contains("page size       16384 bytes"),
        "{}",
        stdout(&text)
    );
}

#[test]
fn dump_json_parses_and_holds_every_entry() {
    let dir = tempfile::tempdir().unwrap();
    let path = demo_database(dir.path());
    let dump = json(&northstar(&["dump", "--json", &path]));
    assert_eq!(dump["txn_id"], 7);
    assert_eq!(
        dump["keyspaces"][0]["entries"].as_array().unwrap().len(),
        2004
    );

    let all = json(&northstar(&[
        "dump", "--json", "--all", "--limit", "3", &path,
    ]));
    let keyspaces = all["keyspaces"].as_array().unwrap();
    assert_eq!(keyspaces.len(), 2);
    assert_eq!(keyspaces[1]["name"], "users");
    assert_eq!(keyspaces[1]["entry_count"], 4);
    assert_eq!(keyspaces[1]["entries"].as_array().unwrap().len(), 3);

    let text = northstar(&["dump", &path, "--keyspace", "users", "--limit", "1"]);
    assert_exit(&text, 0);
    assert_eq!(stdout(&text), "# keyspace \"users\": 4 entries at txn 7\nadmin:1\troot\n# ... 3 more entries (--limit 1)\n");
}

#[test]
fn dump_shortens_long_values_and_says_how_long_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let path = demo_database(dir.path());
    let output = northstar(&["dump", &path]);
    assert_exit(&output, 0);
    let blob_line = stdout(&output)
        .lines()
        .find(|line| line.starts_with("blob\t"))
        .expect("blob line")
        .to_string();
    assert!(blob_line.ends_with("... (4194304 bytes)"), "{blob_line}");
    assert!(blob_line.len() < 200, "{blob_line}");
}

#[test]
fn dump_tree_shows_pages_separators_and_depth() {
    let dir = tempfile::tempdir().unwrap();
    let path = demo_database(dir.path());
    let output = northstar(&["dump", "--tree", &path]);
    assert_exit(&output, 0);
    let text = stdout(&output);
    assert!(text.contains("default keyspace: root page"), "{text}");
    assert!(text.contains("depth 2"), "{text}");
    assert!(text.contains("separator item:"), "{text}");
    assert!(text.contains("keyspace users: root page"), "{text}");

    let tree = json(&northstar(&["dump", "--tree", "--json", &path]));
    assert_eq!(tree["trees"][0]["depth"], 2);
    assert_eq!(tree["trees"][0]["entries"], 2004);
    assert_eq!(tree["trees"][0]["root"]["kind"], "branch");
    assert!(leaf_pages(&tree, "").len() > 1);

    let only_users = json(&northstar(&[
        "dump", "--tree", "--json", "-k", "users", &path,
    ]));
    assert_eq!(only_users["trees"].as_array().unwrap().len(), 1);
    assert_exit(&northstar(&["dump", "--tree", "-k", "nobody", &path]), 1);
}

#[test]
fn piped_runs_draw_no_progress_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let path = demo_database(dir.path());
    for arguments in [
        &["validate", &path][..],
        &["stat", &path],
        &["dump", &path],
        &["dump", "--tree", &path],
        &["scan", &path],
    ] {
        let output = northstar(arguments);
        assert_exit(&output, 0);
        assert!(
            output.stderr.is_empty(),
            "{arguments:?} wrote to stderr: {}",
            stderr(&output)
        );
    }
}

#[test]
fn a_reader_closing_the_pipe_early_stops_the_scan_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let path = demo_database(dir.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_northstar"))
        .args(["scan", &path, "--width", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first_bytes = [0u8; 16];
    child
        .stdout
        .take()
        .unwrap()
        .read_exact(&mut first_bytes)
        .unwrap();
    let status = child.wait().unwrap();
    let mut errors = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut errors)
        .unwrap();
    assert!(!errors.contains("panicked"), "{errors}");
    assert_eq!(status.code(), Some(0), "{errors}");
}

#[test]
fn a_command_line_that_does_not_parse_exits_sixty_four() {
    let output = northstar(&["scan", "db", "--prefix", "a", "--from", "b"]);
    assert_exit(&output, 64);
    assert_exit(&northstar(&["frobnicate"]), 64);
    assert_exit(&northstar(&["--help"]), 0);
}
