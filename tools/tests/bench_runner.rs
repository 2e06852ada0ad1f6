//! End-to-end tests of the `northstar-bench` binary: listing, a tiny run into a temporary
//! directory whose files must validate against `benches/results.schema.json` under their
//! stable names, and the gate on that set against itself and against doctored copies.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use northstar_tools::bench::result::file_name;
use northstar_tools::bench::schema;
use northstar_tools::bench::suite::{Suite, BENCHES};
use serde_json::Value;

use common::{assert_exit, copy_set, northstar_bench, path_str, read_json, stdout, TINY_RUN};

/// The critical benchmark the doctored copies change.
const DOCTORED_BENCH: &str = "macro/get_hot";

fn results_schema() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../benches/results.schema.json");
    let text = std::fs::read_to_string(&path).expect("read benches/results.schema.json");
    serde_json::from_str(&text).expect("the schema is JSON")
}

fn scale_throughput(result: &mut Value, factor: f64) {
    let ops_per_sec = result["ops_per_sec"].as_f64().expect("ops_per_sec");
    result["ops_per_sec"] = Value::from(ops_per_sec * factor);
}

fn gate(base: &Path, new: &Path) -> Output {
    northstar_bench(&["gate", path_str(base), path_str(new)])
}

#[test]
fn list_names_every_benchmark_by_suite_and_marks_the_critical_ones() {
    let output = northstar_bench(&["list"]);
    assert_exit(&output, 0);
    let text = stdout(&output);
    for suite in Suite::ALL {
        assert!(text.contains(&format!("{suite}\n")), "{text}");
    }
    for bench in BENCHES {
        let mark = if bench.critical { "* " } else { "  " };
        assert!(
            text.contains(&format!("{mark}{} ", bench.name)),
            "{}:\n{text}",
            bench.name
        );
    }
    let critical = BENCHES.iter().filter(|bench| bench.critical).count();
    assert!(critical > 0 && critical < BENCHES.len());
}

#[test]
fn a_tiny_run_writes_valid_results_that_gate_against_themselves_and_catch_a_drop() {
    let temp = tempfile::tempdir().expect("temporary directory");
    let run_dir = temp.path().join("run");
    let data_dir = temp.path().join("data");
    let mut arguments = TINY_RUN.to_vec();
    arguments.extend([
        "--out",
        path_str(&run_dir),
        "--data-dir",
        path_str(&data_dir),
    ]);
    assert_exit(&northstar_bench(&arguments), 0);

    // One file per repeat under its stable name, each valid against the schema file.
    let schema = results_schema();
    let mut expected: Vec<String> = BENCHES
        .iter()
        .flat_map(|bench| (0..2).map(|repeat| file_name(bench.name, repeat)))
        .collect();
    expected.sort();
    let mut found: Vec<String> = std::fs::read_dir(&run_dir)
        .expect("read the run")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .into_string()
                .expect("UTF-8")
        })
        .collect();
    found.sort();
    assert_eq!(found, expected);
    for name in &found {
        let result = read_json(&run_dir.join(name));
        if let Err(problems) = schema::validate(&schema, &result) {
            panic!("{name} does not match the schema: {problems:?}");
        }
        let bench = result["bench"].as_str().expect("bench");
        let repeat = result["repeat_index"].as_u64().expect("repeat_index") as u32;
        assert_eq!(&file_name(bench, repeat), name);
    }
    assert!(
        BENCHES
            .iter()
            .find(|b| b.name == DOCTORED_BENCH)
            .expect("bench")
            .critical
    );

    let itself = gate(&run_dir, &run_dir);
    assert_exit(&itself, 0);
    assert!(
        stdout(&itself).contains("gate: PASS"),
        "{}",
        stdout(&itself)
    );

    // A stable baseline, and a copy of it where the critical bench lost 20% of its ops/s.
    let base: PathBuf = temp.path().join("base");
    copy_set(&run_dir, &base, DOCTORED_BENCH, |result| {
        result["stable"] = Value::Bool(true);
    });
    let slower = temp.path().join("slower");
    copy_set(&base, &slower, DOCTORED_BENCH, |result| {
        scale_throughput(result, 0.8)
    });
    let failed = gate(&base, &slower);
    assert_exit(&failed, 1);
    let report = stdout(&failed);
    assert!(
        report.contains(&format!("regressed: {DOCTORED_BENCH} (ops/s -20.0%)")),
        "{report}"
    );
    assert!(report.contains("gate: FAIL"), "{report}");

    let compared = northstar_bench(&["compare", path_str(&base), path_str(&slower)]);
    assert_exit(&compared, 0);
    let line = stdout(&compared)
        .lines()
        .find(|line| line.contains(DOCTORED_BENCH))
        .map(str::to_string)
        .expect("a line for the doctored bench");
    assert!(
        line.contains("regressed") && line.contains("-20.0%"),
        "{line}"
    );

    // The same drop on a run flagged unstable is ignored, and named.
    let unstable = temp.path().join("unstable");
    copy_set(&slower, &unstable, DOCTORED_BENCH, |result| {
        result["stable"] = Value::Bool(false);
    });
    let ignored = gate(&base, &unstable);
    assert_exit(&ignored, 0);
    let report = stdout(&ignored);
    assert!(
        report.contains(&format!("ignored as unstable: {DOCTORED_BENCH}")),
        "{report}"
    );

    // A result that does not match the schema is refused, naming the file.
    let broken = temp.path().join("broken");
    copy_set(&base, &broken, DOCTORED_BENCH, |result| {
        result
            .as_object_mut()
            .expect("object")
            .remove("latency_ns_p99");
    });
    let refused = gate(&base, &broken);
    assert_exit(&refused, 2);
    let message = common::stderr(&refused);
    assert!(
        message.contains("missing required latency_ns_p99"),
        "{message}"
    );
    assert!(message.contains("macro.get_hot_r00"), "{message}");
}
