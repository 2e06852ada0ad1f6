//! Helpers shared by the end-to-end tests: running the built `northstar` and `logdump`
//! binaries and checking what they print and how they exit.

// Each test file uses the helpers it needs.
#![allow(dead_code)]

use std::process::{Command, Output};

use serde_json::Value;

/// Runs the `northstar` binary with `arguments`.
pub fn northstar(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_northstar"))
        .args(arguments)
        .output()
        .expect("run the northstar binary")
}

/// Runs the `logdump` binary with `arguments`.
pub fn logdump(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_logdump"))
        .args(arguments)
        .output()
        .expect("run the logdump binary")
}

/// The arguments of a `northstar-bench run` small enough for a test.
pub const TINY_RUN: [&str; 7] = [
    "run",
    "--scale",
    "0.0001",
    "--repeats",
    "2",
    "--warmup-ops",
    "1",
];

/// Runs the `northstar-bench` binary with `arguments`.
pub fn northstar_bench(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_northstar-bench"))
        .args(arguments)
        .output()
        .expect("run the northstar-bench binary")
}

/// `path` as text, for a command line.
pub fn path_str(path: &std::path::Path) -> &str {
    path.to_str().expect("UTF-8 temporary path")
}

/// What the run printed on stdout.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// What the run printed on stderr.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Checks the exit code, and that the tool did not panic.
pub fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "expected exit {code}\nstdout:\n{}\nstderr:\n{}",
        stdout(output),
        stderr(output)
    );
    assert!(
        !stderr(output).contains("panicked"),
        "the tool panicked:\n{}",
        stderr(output)
    );
}

/// Stdout parsed as JSON.
pub fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("not JSON ({error}):\n{}", stdout(output)))
}

/// A second process for tests, shared with the library's own kill tests.
#[path = "../../../tests/common/child.rs"]
pub mod child;

/// A JSON file, parsed.
pub fn read_json(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).expect("read a result");
    serde_json::from_str(&text).expect("a result is JSON")
}

/// Copies the result set `from` into `to`, changing the results of `bench` (every
/// result when `bench` is empty) with `edit`.
pub fn copy_set(
    from: &std::path::Path,
    to: &std::path::Path,
    bench: &str,
    edit: impl Fn(&mut Value),
) {
    std::fs::create_dir_all(to).expect("create the copy");
    for entry in std::fs::read_dir(from).expect("read the set") {
        let path = entry.expect("entry").path();
        let mut result = read_json(&path);
        if bench.is_empty() || result["bench"] == bench {
            edit(&mut result);
        }
        let text = serde_json::to_string_pretty(&result).expect("serialize");
        std::fs::write(to.join(path.file_name().expect("name")), text).expect("write the copy");
    }
}
