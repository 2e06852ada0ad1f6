//! A second process for tests: the test binary runs itself with one test selected and an
//! environment variable that tells that test to act as the helper instead of returning at
//! once. The helper talks to the parent through lines on stdout that carry [`LINE_PREFIX`].
//!
//! Invariants: a [`Helper`] never outlives its guard: dropping it kills (SIGKILL) and reaps
//! the process, so a failing test leaves no process behind. A helper whose parent died sees
//! its stdout or stdin closed and exits on its next line or read. Helpers start one at a
//! time, and never while the test holds a database open (see [`hold_databases`]).

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Marks the lines a helper means for its parent (the test harness prints lines too).
pub const LINE_PREFIX: &str = "northstar-helper: ";

/// SIGKILL's number on every Unix.
pub const SIGKILL: i32 = 9;

/// Called by the helper: prints one line for the parent and flushes it. Panics if the
/// parent is gone, which ends the helper.
pub fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    // The harness may have printed "test name ... " without a newline.
    writeln!(out, "\n{LINE_PREFIX}{line}").expect("the parent reads stdout");
    out.flush().expect("the parent reads stdout");
}

/// Called by the helper: blocks until the parent closes stdin (or dies).
pub fn wait_for_stdin_to_close() {
    let mut line = String::new();
    while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
        line.clear();
    }
}

/// Held exclusively while a helper starts, shared (see [`hold_databases`]) while test code
/// has a database open. Between its fork and its exec a child holds a copy of every
/// descriptor of this process, among them the page file of any database open here, and so
/// that database's flock: an open right after a close, here or in a helper started then,
/// would find it locked. `Command::spawn` returns only once the child has exec'd (dropping
/// the copies), so a helper never starts while a database is open in this process.
static STARTING: RwLock<()> = RwLock::new(());

/// Held while this process starts any other process (a helper, `mount`): waits until no
/// database is open here.
pub fn starting_a_process() -> RwLockWriteGuard<'static, ()> {
    STARTING
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Held while this process has databases open, in a test binary that also starts helpers:
/// no helper starts meanwhile. Never call [`Helper::spawn`] while holding it.
pub fn hold_databases() -> RwLockReadGuard<'static, ()> {
    STARTING
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running helper process.
pub struct Helper {
    child: Child,
    lines: Receiver<String>,
    reader: Option<JoinHandle<()>>,
    stderr: PathBuf,
    status: Option<ExitStatus>,
}

impl Helper {
    /// Starts this test binary running only `test` (which must be a `#[test]` that acts as
    /// the helper when it finds its variable in `env`). The helper's stderr goes to file
    /// `stderr`, shown when it fails. Waits while this process holds databases open (see
    /// [`hold_databases`]).
    pub fn spawn(test: &str, env: &[(&str, String)], stderr: &Path) -> Helper {
        let stderr_file = File::create(stderr).expect("create the helper's stderr file");
        let starting = starting_a_process();
        let mut child = Command::new(std::env::current_exe().expect("test binary path"))
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .envs(env.iter().map(|(name, value)| (*name, value.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr_file)
            .spawn()
            .expect("start the helper process");
        drop(starting);
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, lines) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(at) = line.find(LINE_PREFIX) {
                    if sender
                        .send(line[at + LINE_PREFIX.len()..].to_string())
                        .is_err()
                    {
                        break;
                    }
                }
            }
        });
        Helper {
            child,
            lines,
            reader: Some(reader),
            stderr: stderr.to_path_buf(),
            status: None,
        }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The next line from the helper, waiting up to `timeout`; `None` if it ended first or
    /// said nothing in time.
    pub fn next_line(&mut self, timeout: Duration) -> Option<String> {
        self.lines.recv_timeout(timeout).ok()
    }

    /// Lines already received, without waiting.
    pub fn lines_so_far(&mut self) -> Vec<String> {
        self.lines.try_iter().collect()
    }

    /// Waits (up to `timeout`) for a line starting with `prefix`; returns it and the lines
    /// before it. Panics, showing the helper's stderr, if none comes.
    pub fn expect_line(&mut self, prefix: &str, timeout: Duration) -> (String, Vec<String>) {
        let deadline = Instant::now() + timeout;
        let mut before = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_line(left) {
                Some(line) if line.starts_with(prefix) => return (line, before),
                Some(line) => before.push(line),
                None => panic!(
                    "helper {} said no {prefix:?} line within {timeout:?} (said {before:?}); stderr:\n{}",
                    self.id(),
                    self.stderr_text()
                ),
            }
        }
    }

    /// Sends SIGKILL, reaps the process and returns every line it printed that was not
    /// read yet. Panics (showing stderr) if the helper had already ended on its own.
    pub fn kill(&mut self) -> Vec<String> {
        let _ = self.child.kill();
        let status = self.child.wait().expect("reap the helper");
        self.status = Some(status);
        let rest = self.drain();
        assert_eq!(
            status.signal(),
            Some(SIGKILL),
            "helper {} ended with {status} before it was killed; stderr:\n{}",
            self.id(),
            self.stderr_text()
        );
        rest
    }

    /// Closes the helper's stdin and waits for it to end; returns its unread lines.
    /// Panics (showing stderr) unless it succeeded.
    pub fn finish(&mut self) -> Vec<String> {
        drop(self.child.stdin.take());
        let status = self.child.wait().expect("reap the helper");
        self.status = Some(status);
        let rest = self.drain();
        assert!(
            status.success(),
            "helper {} ended with {status}; stderr:\n{}",
            self.id(),
            self.stderr_text()
        );
        rest
    }

    fn drain(&mut self) -> Vec<String> {
        if let Some(reader) = self.reader.take() {
            reader.join().expect("stdout reader");
        }
        self.lines.try_iter().collect()
    }

    /// What the helper wrote to stderr so far.
    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
