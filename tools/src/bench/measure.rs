//! Timing one repeat of a benchmark: warm-up, then a fixed number of operations, each
//! timed into an HDR histogram, with the [`Counts`] around them.
//!
//! Invariants:
//! - Only the operation is inside its timed span: per-op setup, dropping what the op
//!   returned and the checkpoint watch run outside it. On one thread `duration_ns` is the
//!   sum of the timed spans; on several it is wall time from the start barrier until the
//!   last thread finished.
//! - Counters cover the measured operations only, never the warm-up: around the whole
//!   loop when there is no per-op setup (the loop adds no allocation or write of its
//!   own), around each op when there is one.
//! - Latencies are recorded in nanoseconds with 3 significant digits, up to one hour;
//!   longer ones are clamped to the top.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use northstar::Db;

use super::counters::{CheckpointWatch, Counts};
use super::error::{BenchError, Fallible};

/// Highest latency the histogram holds: one hour, in nanoseconds.
const LATENCY_NS_MAX: u64 = 3_600 * 1_000_000_000;

/// How many operations to run: at least `warmup_ops` and `warmup_ns` of unmeasured
/// ones first, then `ops` measured ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Measured operations (at least 1).
    pub ops: u64,
    /// Unmeasured operations before them, at least.
    pub warmup_ops: u64,
    /// Unmeasured time before them, at least.
    pub warmup_ns: u64,
}

/// What one repeat measured.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Measured operations.
    pub ops: u64,
    /// Threads that ran them.
    pub threads: u32,
    /// Time they took (see the module invariants).
    pub duration_ns: u64,
    /// Latency of each operation, in nanoseconds.
    pub latency_ns: Histogram<u64>,
    /// Allocations, bytes written and log syncs of the measured operations.
    pub counts: Counts,
    /// Checkpoints seen during the measured operations.
    pub checkpoints: u64,
    /// Warm-up operations run before them.
    pub warmup_ops: u64,
    /// Time the warm-up took.
    pub warmup_ns: u64,
    /// Figures of the scenario beyond time and counters, by name (units last, e.g.
    /// `duplicate_claims`, `replayed_records_per_query`); empty for most benchmarks.
    pub figures: BTreeMap<String, f64>,
}

impl Sample {
    /// Records the named figure `name` of this repeat.
    pub fn figure(&mut self, name: &str, value: f64) {
        self.figures.insert(name.to_string(), value);
    }
}

/// What the loop watches besides time: the database whose log syncs count, and the
/// checkpoint watch to poll after each op (write workloads only).
#[derive(Default)]
pub struct Probe<'a> {
    db: Option<&'a Db>,
    checkpoints: Option<CheckpointWatch>,
}

impl<'a> Probe<'a> {
    /// Watches nothing but time, allocations and bytes written.
    pub fn none() -> Probe<'a> {
        Probe::default()
    }

    /// Also counts the log syncs of `db` (for workloads that only read it).
    pub fn reads(db: &'a Db) -> Probe<'a> {
        Probe {
            db: Some(db),
            checkpoints: None,
        }
    }

    /// Also counts the log syncs and checkpoints of `db`, which the workload writes.
    pub fn writes(db: &'a Db) -> Fallible<Probe<'a>> {
        Ok(Probe {
            db: Some(db),
            checkpoints: Some(CheckpointWatch::new(db)?),
        })
    }

    fn after_op(&self) -> Fallible<()> {
        match &self.checkpoints {
            Some(watch) => watch.observe(),
            None => Ok(()),
        }
    }

    fn checkpoint_count(&self) -> u64 {
        self.checkpoints.as_ref().map_or(0, CheckpointWatch::count)
    }
}

/// An empty latency histogram.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_NS_MAX, 3).expect("valid histogram bounds")
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// Runs `op` as `plan` says on this thread and measures it.
pub fn run_ops<T>(
    plan: &Plan,
    probe: &Probe,
    mut op: impl FnMut() -> Fallible<T>,
) -> Fallible<Sample> {
    let (warmup_ops, warmup_ns) = warm_up(plan, probe, || Ok(()), |()| op())?;
    let mut latency_ns = latency_histogram();
    let mut duration_ns = 0u64;
    let start = Counts::at_start(probe.db);
    for _ in 0..plan.ops {
        let started = Instant::now();
        let output = op()?;
        let elapsed = nanos(started.elapsed());
        drop(black_box(output));
        duration_ns += elapsed;
        latency_ns.saturating_record(elapsed);
        probe.after_op()?;
    }
    let counts = start.until(Counts::at_end(probe.db));
    Ok(Sample {
        ops: plan.ops,
        threads: 1,
        duration_ns,
        latency_ns,
        counts,
        checkpoints: probe.checkpoint_count(),
        warmup_ops,
        warmup_ns,
        figures: BTreeMap::new(),
    })
}

/// Like [`run_ops`], with an untimed `setup` before each op whose result the op takes;
/// counters are read around each op so the setup's work is not counted.
pub fn run_ops_with_setup<S, T>(
    plan: &Plan,
    probe: &Probe,
    mut setup: impl FnMut() -> Fallible<S>,
    mut op: impl FnMut(S) -> Fallible<T>,
) -> Fallible<Sample> {
    let (warmup_ops, warmup_ns) = warm_up(plan, probe, &mut setup, &mut op)?;
    let mut latency_ns = latency_histogram();
    let mut duration_ns = 0u64;
    let mut counts = Counts {
        bytes_written: Some(0),
        ..Counts::default()
    };
    for _ in 0..plan.ops {
        let input = setup()?;
        let start = Counts::at_start(probe.db);
        let started = Instant::now();
        let output = op(input)?;
        let elapsed = nanos(started.elapsed());
        counts.add(start.until(Counts::at_end(probe.db)));
        drop(black_box(output));
        duration_ns += elapsed;
        latency_ns.saturating_record(elapsed);
        probe.after_op()?;
    }
    Ok(Sample {
        ops: plan.ops,
        threads: 1,
        duration_ns,
        latency_ns,
        counts,
        checkpoints: probe.checkpoint_count(),
        warmup_ops,
        warmup_ns,
        figures: BTreeMap::new(),
    })
}

/// Runs unmeasured ops until both warm-up minimums are met; returns how many and how long.
fn warm_up<S, T>(
    plan: &Plan,
    probe: &Probe,
    mut setup: impl FnMut() -> Fallible<S>,
    mut op: impl FnMut(S) -> Fallible<T>,
) -> Fallible<(u64, u64)> {
    let started = Instant::now();
    let mut ops = 0;
    while ops < plan.warmup_ops || nanos(started.elapsed()) < plan.warmup_ns {
        let input = setup()?;
        drop(black_box(op(input)?));
        probe.after_op()?;
        ops += 1;
    }
    Ok((ops, nanos(started.elapsed())))
}

/// Runs `plan` split over `threads` threads, each running the op that `make_op` builds
/// for its index; `plan.ops` is rounded down to a multiple of `threads`. Each thread
/// warms up on its own, then all start together.
pub fn run_threads<F>(
    plan: &Plan,
    probe: &Probe,
    threads: usize,
    make_op: impl Fn(usize) -> F + Sync,
) -> Fallible<Sample>
where
    F: FnMut() -> Fallible<()>,
{
    assert!(threads > 0, "a threaded run needs threads");
    let ops_per_thread = (plan.ops / threads as u64).max(1);
    let thread_plan = Plan {
        ops: ops_per_thread,
        warmup_ops: plan.warmup_ops.div_ceil(threads as u64),
        warmup_ns: plan.warmup_ns,
    };
    let warmed = Barrier::new(threads + 1);
    let go = Barrier::new(threads + 1);
    let warmups = Mutex::new((0u64, 0u64));
    let (start, duration_ns, outcomes) = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|index| {
                let (make_op, warmed, go, warmups) = (&make_op, &warmed, &go, &warmups);
                scope.spawn(move || {
                    let mut op = make_op(index);
                    let mut latency_ns = latency_histogram();
                    // Every thread passes both barriers, even after an error, so none waits forever.
                    let warmup = warm_up(&thread_plan, probe, || Ok(()), |()| op());
                    if let Ok((ops, ns)) = &warmup {
                        let mut total = warmups.lock().expect("warm-up totals");
                        total.0 += ops;
                        total.1 = total.1.max(*ns);
                    }
                    warmed.wait();
                    go.wait();
                    warmup?;
                    for _ in 0..thread_plan.ops {
                        let started = Instant::now();
                        op()?;
                        latency_ns.saturating_record(nanos(started.elapsed()));
                        probe.after_op()?;
                    }
                    Ok::<_, BenchError>(latency_ns)
                })
            })
            .collect();
        warmed.wait();
        let start = Counts::at_start(probe.db);
        let started = Instant::now();
        go.wait();
        let outcomes: Vec<_> = workers
            .into_iter()
            .map(|worker| worker.join().expect("benchmark thread panicked"))
            .collect();
        (start, nanos(started.elapsed()), outcomes)
    });
    let counts = start.until(Counts::at_end(probe.db));
    let mut latency_ns = latency_histogram();
    for outcome in outcomes {
        latency_ns
            .add(outcome?)
            .expect("histograms of equal bounds add");
    }
    let (warmup_ops, warmup_ns) = warmups.into_inner().expect("warm-up totals");
    Ok(Sample {
        ops: ops_per_thread * threads as u64,
        threads: threads as u32,
        duration_ns,
        latency_ns,
        counts,
        checkpoints: probe.checkpoint_count(),
        warmup_ops,
        warmup_ns,
        figures: BTreeMap::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(ops: u64) -> Plan {
        Plan {
            ops,
            warmup_ops: 3,
            warmup_ns: 0,
        }
    }

    #[test]
    fn every_measured_op_lands_in_the_histogram_after_the_warm_up() {
        let mut calls = 0u64;
        let sample = run_ops(&plan(10), &Probe::none(), || {
            calls += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(calls, 13);
        assert_eq!(sample.ops, 10);
        assert_eq!(sample.warmup_ops, 3);
        assert_eq!(sample.latency_ns.len(), 10);
    }

    #[test]
    fn setup_runs_before_every_op_and_its_time_is_not_counted() {
        let sample = run_ops_with_setup(
            &plan(4),
            &Probe::none(),
            || {
                std::thread::sleep(Duration::from_millis(5));
                Ok(7u32)
            },
            |input| {
                assert_eq!(input, 7);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(sample.latency_ns.len(), 4);
        assert!(sample.duration_ns < 4 * 5_000_000, "{}", sample.duration_ns);
    }

    #[test]
    fn threads_split_the_ops_and_merge_their_latencies() {
        let sample = run_threads(&plan(10), &Probe::none(), 4, |_| || Ok(())).unwrap();
        assert_eq!(sample.ops, 8);
        assert_eq!(sample.threads, 4);
        assert_eq!(sample.latency_ns.len(), 8);
    }

    #[test]
    fn a_failing_op_fails_the_run() {
        let error = run_threads(&plan(4), &Probe::none(), 2, |index| {
            move || {
                if index == 1 {
                    Err(BenchError::new("boom"))
                } else {
                    Ok(())
                }
            }
        })
        .unwrap_err();
        assert_eq!(error.message, "boom");
    }
}
