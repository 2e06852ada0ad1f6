//! End-to-end tests of `northstar cartridge`: build, list, query as of the cartridge and
//! as of now, catch-up, inspect, verify (and its exit code on a damaged cartridge).

mod common;

use std::path::Path;

use common::{assert_exit, json, northstar, stdout};

fn database(dir: &Path) -> String {
    let path = dir.join("db").to_str().expect("UTF-8 path").to_string();
    assert_exit(&northstar(&["put", &path, "color", "red"]), 0);
    assert_exit(&northstar(&["put", &path, "color", "quick brown fox"]), 0);
    path
}

/// `northstar cartridge <command> DB <arguments> --json`, parsed.
fn cartridge(command: &str, db: &str, arguments: &[&str]) -> serde_json::Value {
    let mut all = vec!["cartridge", command, db];
    all.extend_from_slice(arguments);
    all.push("--json");
    json(&northstar(&all))
}

/// A key_history query about the key "color".
fn color(db: &str, arguments: &[&str]) -> serde_json::Value {
    let mut all = vec!["key_history", "--key", "color"];
    all.extend_from_slice(arguments);
    cartridge("query", db, &all)
}

#[test]
fn build_query_catch_up_and_verify_a_cartridge() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path());
    let built = cartridge("build", &db, &["key_history"]);
    assert_eq!(built["txn_to"], 2);
    assert_eq!(built["method"], "full");

    let at_one = color(&db, &["--as-of", "1"]);
    assert_eq!(at_one["value"], "red");

    assert_exit(&northstar(&["put", &db, "color", "blue"]), 0);
    let listed = json(&northstar(&["cartridge", "list", &db, "--json"]));
    assert_eq!(listed[0]["kind"], "key_history");
    assert_eq!(listed[0]["lag_txns"], 1);
    let now = color(&db, &["--now"]);
    assert_eq!(
        (now["as_of"].clone(), now["value"].clone()),
        (3.into(), "blue".into())
    );
    let stale = northstar(&[
        "cartridge",
        "query",
        &db,
        "key_history",
        "--key",
        "color",
        "--as-of",
        "3",
    ]);
    assert_exit(&stale, 1);

    let caught_up = cartridge("catch-up", &db, &["key_history"]);
    assert_eq!(caught_up["txn_to"], 3);
    let history = color(&db, &["--history"]);
    assert_eq!(history["versions"].as_array().unwrap().len(), 3);

    assert_exit(&northstar(&["cartridge", "build", &db, "words"]), 0);
    let words = json(&northstar(&[
        "cartridge",
        "query",
        &db,
        "words",
        "--word",
        "BROWN",
        "--json",
    ]));
    assert_eq!(
        words["keys"],
        serde_json::json!([]),
        "the brown fox was overwritten by blue"
    );
    let inspect = json(&northstar(&[
        "cartridge",
        "inspect",
        &db,
        "key_history",
        "--json",
    ]));
    assert_eq!(inspect["sections"].as_array().unwrap().len(), 10);
    let verified = northstar(&["cartridge", "verify", &db, "--rebuild"]);
    assert_exit(&verified, 0);
    assert!(stdout(&verified).contains("equal to a fresh build"));
}

#[test]
fn verify_reports_a_damaged_cartridge_with_its_section() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path());
    assert_exit(&northstar(&["cartridge", "build", &db, "key_history"]), 0);
    let file = Path::new(&db).join("cartridges/key_history.cart");
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&file, bytes).unwrap();
    let verified = northstar(&["cartridge", "verify", &db, "--json"]);
    assert_exit(&verified, 2);
    let report = json(&verified);
    let problem = report["cartridges"][0]["problem"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(problem.contains("section data"), "{problem}");
    let query = northstar(&["cartridge", "query", &db, "key_history", "--key", "color"]);
    assert_exit(&query, 1);
}
