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
