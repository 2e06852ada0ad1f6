//! Failures of a command, and the exit codes they map to.
//!
//! Invariants:
//! - Every failure carries the message printed to stderr; it names what failed (the
//!   library's errors already name the file and page).
//! - The exit code says what kind of failure it was, so a script can tell a missing key
//!   from a damaged database or one that cannot be opened at all.
//! - A closed standard output (e.g. `northstar scan DB | head`) is not an error: the
//!   command stops quietly and exits 0.

use std::io;

use northstar::Error;

/// Exit code of a failed command: a missing key, bad input, or an error while reading.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code of `validate` when the database opened but problems were found.
pub const EXIT_PROBLEMS_FOUND: u8 = 2;
/// Exit code when the database cannot be opened (missing, corrupt metas, not a
/// database, locked, truncated, ...).
pub const EXIT_CANNOT_OPEN: u8 = 3;
/// Exit code for a command line that does not parse.
pub const EXIT_USAGE: u8 = 64;

/// Text for `--help` that lists the exit codes.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0   success
  1   failure: missing key, bad input, or an error while reading or writing
  2   validate found problems in the database
  3   the database cannot be opened (missing, corrupt, not a database, locked)
  64  the command line does not parse";

/// Why a command failed: the message for stderr and the process exit code.
#[derive(Debug)]
pub struct Failure {
    /// Exit code of the process.
    pub code: u8,
    /// Message for stderr; empty when nothing should be printed.
    pub message: String,
}

/// What every command returns.
pub type Outcome = Result<(), Failure>;

impl Failure {
    /// A failure with [`EXIT_FAILURE`].
    pub fn new(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_FAILURE,
            message: message.into(),
        }
    }

    /// The database could not be opened: [`EXIT_CANNOT_OPEN`].
    pub fn cannot_open(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_CANNOT_OPEN,
            message: message.into(),
        }
    }

    /// The validator found problems: [`EXIT_PROBLEMS_FOUND`].
    pub fn problems_found(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_PROBLEMS_FOUND,
            message: message.into(),
        }
    }

    /// Standard output was closed by its reader: stop quietly, exit 0.
    fn output_closed() -> Failure {
        Failure {
            code: 0,
            message: String::new(),
        }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure::new(error.to_string())
    }
}

/// Errors writing the command's output to standard output.
impl From<io::Error> for Failure {
    fn from(error: io::Error) -> Failure {
        if error.kind() == io::ErrorKind::BrokenPipe {
            Failure::output_closed()
        } else {
            Failure::new(format!("cannot write to standard output: {error}"))
        }
    }
}

/// Parses the command line as `C`; on a parse error or `--help`, prints it and gives the
/// exit code to return (usage errors exit with [`EXIT_USAGE`]).
pub fn parse_args<C: clap::Parser>() -> Result<C, std::process::ExitCode> {
    C::try_parse().map_err(|error| {
        let _ = error.print();
        if error.use_stderr() {
            std::process::ExitCode::from(EXIT_USAGE)
        } else {
            std::process::ExitCode::SUCCESS
        }
    })
}

/// The `main` of a tool: parses the command line as `C`, runs it, prints any failure as
/// `program: message` on stderr and turns it into the exit code.
pub fn run_main<C: clap::Parser>(
    program: &str,
    run: impl FnOnce(&C) -> Outcome,
) -> std::process::ExitCode {
    use std::io::Write;
    use std::process::ExitCode;
    let cli = match parse_args::<C>() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if !failure.message.is_empty() {
                let _ = writeln!(std::io::stderr(), "{program}: {}", failure.message);
            }
            ExitCode::from(failure.code)
        }
    }
}
