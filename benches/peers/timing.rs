//! Wall-clock timing with `std::time::Instant`: once, best of several, or across threads.
//!
//! Invariant: set-up a thread does before it reaches the start barrier (beginning its
//! transaction, opening a connection) is outside the timed span; the span runs from the
//! first thread's start to the last thread's end, as the threads themselves saw them.

use std::ops::Range;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

/// Repetitions of the fast, repeatable workloads; the best one is reported.
pub const REPEATS: usize = 3;

/// How long `work` took.
pub fn once(work: impl FnOnce()) -> Duration {
    let started = Instant::now();
    work();
    started.elapsed()
}

/// The shortest of [`REPEATS`] runs of `run`, each returning its own time.
pub fn best_of(mut run: impl FnMut() -> Duration) -> Duration {
    (0..REPEATS)
        .map(|_| run())
        .min()
        .expect("at least one repeat")
}

/// Lines threads up so their timed spans start together.
pub struct Start {
    barrier: Barrier,
}

impl Start {
    /// Waits until every thread is ready; returns the moment this thread starts.
    pub fn wait(&self) -> Instant {
        self.barrier.wait();
        Instant::now()
    }
}

/// Wall time for `threads` threads to run `work(thread_index, start)`: from the first
/// thread's start to the last thread's end. Each thread calls `start.wait()` once it is
/// ready to be timed and returns its span, from what `wait` returned to when it finished.
///
/// The span is measured by the workers themselves: a coordinating thread that woke from
/// the barrier late (on two cores it can lose the CPU to the workers for their whole run)
/// would otherwise start the clock after the work was done.
pub fn on_threads(threads: u64, work: impl Fn(u64, &Start) -> Range<Instant> + Sync) -> Duration {
    let start = Start {
        barrier: Barrier::new(threads as usize),
    };
    let (work, start) = (&work, &start);
    let spans: Vec<Range<Instant>> = thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread_index| scope.spawn(move || work(thread_index, start)))
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("benchmark thread panicked"))
            .collect()
    });
    let first = spans.iter().map(|span| span.start).min();
    let last = spans.iter().map(|span| span.end).max();
    match (first, last) {
        (Some(first), Some(last)) => last.saturating_duration_since(first),
        _ => Duration::ZERO,
    }
}

/// The share of `total` operations that thread `thread_index` of `threads` does.
pub fn share(total: u64, threads: u64, thread_index: u64) -> u64 {
    total / threads + u64::from(thread_index < total % threads)
}
