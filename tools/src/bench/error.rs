//! The one error type of the bench runner: a message that names what failed (the
//! benchmark, file or result field) and how the command should exit.
//!
//! Invariants: a benchmark that cannot run, a result that does not validate and an
//! unreadable result set are all [`BenchError`]s with [`EXIT_ERROR`]; only the gate
//! exits with [`EXIT_REGRESSION`].

use std::fmt;
use std::path::Path;

/// Exit code of `gate` when a critical benchmark regressed (or went missing).
pub const EXIT_REGRESSION: u8 = 1;
/// Exit code of any command that could not do its work: a benchmark failed, a result
/// did not validate, a result set could not be read.
pub const EXIT_ERROR: u8 = 2;

/// Why a command of the runner failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchError {
    /// What failed, in words, naming the benchmark or file.
    pub message: String,
    /// Process exit code.
    pub code: u8,
}

impl BenchError {
    /// A failure with [`EXIT_ERROR`].
    pub fn new(message: impl Into<String>) -> BenchError {
        BenchError {
            message: message.into(),
            code: EXIT_ERROR,
        }
    }

    /// A failed file operation on `path`.
    pub fn io(path: &Path, action: &str, error: std::io::Error) -> BenchError {
        BenchError::new(format!("cannot {action} {}: {error}", path.display()))
    }

    /// The same failure with `context` (e.g. the benchmark name) in front.
    pub fn context(self, context: impl fmt::Display) -> BenchError {
        BenchError {
            message: format!("{context}: {}", self.message),
            code: self.code,
        }
    }
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BenchError {}

impl From<northstar::Error> for BenchError {
    fn from(error: northstar::Error) -> BenchError {
        BenchError::new(error.to_string())
    }
}

impl From<northstar_cartridges::CartridgeError> for BenchError {
    fn from(error: northstar_cartridges::CartridgeError) -> BenchError {
        BenchError::new(error.to_string())
    }
}

/// Results of the runner's commands.
pub type Fallible<T> = Result<T, BenchError>;
