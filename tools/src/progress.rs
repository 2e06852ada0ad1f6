//! Progress indicators for long runs over big files.
//!
//! Invariants:
//! - Nothing is drawn unless stderr is a terminal: piped or redirected runs stay quiet.
//! - A command that streams entries to stdout draws only while stdout is not a terminal
//!   too (e.g. `northstar dump DB > out.txt`), so the indicator never tears through the
//!   lines it prints.
//! - An indicator is cleared before the command prints its result.

use std::cell::Cell;
use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

const TICK_INTERVAL: Duration = Duration::from_millis(120);
/// A byte bar is moved only after this many bytes, so per-record updates stay cheap.
const BYTES_STEP: u64 = 1 << 20;

/// When a command prints its results, which decides whether a bar may be drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Everything is printed after the work is done.
    AtEnd,
    /// Lines are printed while the bar runs.
    Streamed,
}

/// A spinner or bar on stderr, or nothing when stderr is not a terminal.
pub struct Progress {
    bar: ProgressBar,
    position: Cell<u64>,
}

impl Progress {
    /// A spinner for one long step of unknown length (e.g. validating every page), ticking
    /// on its own while the step runs.
    pub fn spinner(message: impl Into<String>) -> Progress {
        let bar = new_bar(None, stderr_is_terminal());
        bar.set_style(style("{spinner} {wide_msg} {elapsed}"));
        bar.set_message(message.into());
        if !bar.is_hidden() {
            bar.enable_steady_tick(TICK_INTERVAL);
        }
        Progress::new(bar)
    }

    /// A bar counting entries written to stdout, out of `total` when it is known.
    pub fn entries(total: Option<u64>, message: impl Into<String>) -> Progress {
        let visible = stderr_is_terminal() && !std::io::stdout().is_terminal();
        let bar = new_bar(total, visible);
        bar.set_style(match total {
            Some(_) => style("{msg} [{wide_bar}] {human_pos}/{human_len} entries, {eta} left"),
            None => style("{spinner} {msg}: {human_pos} entries, {elapsed}"),
        });
        bar.set_message(message.into());
        Progress::new(bar)
    }

    /// A bar over the `total` bytes of a file read from start to end.
    pub fn bytes(total: u64, message: impl Into<String>, output: Output) -> Progress {
        let visible =
            stderr_is_terminal() && (output == Output::AtEnd || !std::io::stdout().is_terminal());
        let bar = new_bar(Some(total), visible);
        bar.set_style(style(
            "{msg} [{wide_bar}] {binary_bytes}/{binary_total_bytes}, {eta} left",
        ));
        bar.set_message(message.into());
        Progress::new(bar)
    }

    fn new(bar: ProgressBar) -> Progress {
        Progress {
            bar,
            position: Cell::new(0),
        }
    }

    /// Moves a byte bar to `position` (drawn in steps of a MiB).
    pub fn reached(&self, position: u64) {
        if position >= self.position.get() + BYTES_STEP {
            self.position.set(position);
            self.bar.set_position(position);
        }
    }

    /// Counts one more entry.
    pub fn tick(&self) {
        self.bar.inc(1);
    }

    /// Removes the indicator from the terminal.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

fn new_bar(total: Option<u64>, visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(total) => ProgressBar::new(total),
        None => ProgressBar::new_spinner(),
    };
    bar.set_draw_target(ProgressDrawTarget::stderr());
    bar
}

fn style(template: &str) -> ProgressStyle {
    // The templates are constants of this file; a bad one is a bug caught by the tests.
    ProgressStyle::with_template(template)
        .expect("valid progress template")
        .progress_chars("=> ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indicators_build_and_finish_without_a_terminal() {
        let spinner = Progress::spinner("checking");
        spinner.finish();
        let bar = Progress::entries(Some(3), "dumping");
        bar.tick();
        bar.finish();
        let counter = Progress::entries(None, "scanning");
        counter.tick();
        let bytes = Progress::bytes(10 << 20, "reading", Output::AtEnd);
        bytes.reached(3 << 20);
        bytes.reached(1);
        bytes.finish();
    }
}
