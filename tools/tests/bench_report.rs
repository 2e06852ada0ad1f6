//! End-to-end tests of `northstar-bench report`: a tiny run summarized as a table, as
//! JSON and as CSV, judged against a baseline in which one critical benchmark was
//! faster (so it fails) and which has a critical one the set lacks (so it fails as
//! missing).

mod common;

use std::path::Path;

use serde_json::Value;

use common::{assert_exit, copy_set, json, northstar_bench, path_str, stdout, TINY_RUN};

/// The benchmarks of the tiny run (each name is also its filter; the second matches the
/// third too).
const BENCHES: [&str; 4] = [
    "macro/get_hot",
    "macro/task_queue/claims_8_agents",
    "macro/task_queue/claims_8_agents_long_snapshot",
    "micro/page_read",
];

/// Marks every result of `result` stable, as a longer run would be.
fn stable(result: &mut Value) {
    result["stable"] = Value::Bool(true);
}

/// A baseline from `new` in which `macro/get_hot` was twice as fast, with a benchmark
/// `new` does not have.
fn doctored_baseline(new: &Path, base: &Path) {
    copy_set(new, base, "macro/get_hot", |result| {
        let faster = result["ops_per_sec"].as_f64().expect("ops/s") * 2.0;
        result["ops_per_sec"] = Value::from(faster);
    });
    let gone = base.with_file_name("gone");
    copy_set(new, &gone, "", |_| {});
    for entry in std::fs::read_dir(&gone).expect("read") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("name").to_str().expect("UTF-8");
        if let Some(rest) = name.strip_prefix("micro.page_read_r") {
            let text = std::fs::read_to_string(&path).expect("read");
            let renamed = text
                .replace("micro/page_read", "micro/page_read_gone")
                .replace("\"critical\": false", "\"critical\": true");
            std::fs::write(base.join(format!("micro.page_read_gone_r{rest}")), renamed)
                .expect("write");
        }
    }
}

#[test]
fn a_report_summarizes_a_set_and_counts_what_passed_and_failed_against_a_baseline() {
    let temp = tempfile::tempdir().expect("temporary directory");
    let run = temp.path().join("run");
    let mut arguments = TINY_RUN.to_vec();
    for name in [BENCHES[0], BENCHES[1], BENCHES[3]] {
        arguments.extend(["--filter", name]);
    }
    arguments.extend(["--out", path_str(&run)]);
    assert_exit(&northstar_bench(&arguments), 0);

    let alone = northstar_bench(&["report", path_str(&run), "--base", path_str(&run)]);
    assert_exit(&alone, 0);
    let text = stdout(&alone);
    assert!(text.contains("scale 0.0001, commit "), "{text}");
    for name in BENCHES {
        assert!(text.contains(name), "{text}");
    }
    assert!(text.contains("duplicate_claims=0"), "{text}");
    assert!(
        text.contains("met                  0  task queue: duplicate claims = 0"),
        "{text}"
    );
    assert!(
        text.contains("not-run              -  time travel:"),
        "{text}"
    );

    let new = temp.path().join("new");
    copy_set(&run, &new, "", stable);
    let base = temp.path().join("base");
    doctored_baseline(&new, &base);
    let judged = northstar_bench(&[
        "report",
        path_str(&new),
        "--base",
        path_str(&base),
        "--json",
    ]);
    assert_exit(&judged, 0);
    let report = json(&judged);
    let status = |name: &str| {
        report["benches"]
            .as_array()
            .expect("benches")
            .iter()
            .find(|line| line["bench"] == name)
            .unwrap_or_else(|| panic!("{name} in {report}"))["status"]
            .clone()
    };
    assert_eq!(status("macro/get_hot"), "fail");
    assert_eq!(status("micro/page_read_gone"), "fail");
    assert_eq!(report["counts"]["fail"], 2, "{report}");
    let claims = &report["benches"][1];
    assert_eq!(claims["bench"], "macro/task_queue/claims_8_agents");
    assert_eq!(claims["figures"]["duplicate_claims"], 0.0);
    assert!(
        claims["figures"]["commits_per_sec_1_thread"]
            .as_f64()
            .expect("figure")
            > 0.0
    );

    let csv = northstar_bench(&["report", path_str(&run), "--base", path_str(&run), "--csv"]);
    assert_exit(&csv, 0);
    let text = stdout(&csv);
    let mut lines = text.lines();
    assert!(lines
        .next()
        .expect("header")
        .starts_with("bench,critical,repeats,ops_per_sec,"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), BENCHES.len(), "{text}");
    assert!(
        rows[1].starts_with("macro/task_queue/claims_8_agents,true,2,"),
        "{text}"
    );
}
