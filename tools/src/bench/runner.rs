//! `northstar-bench run`: runs the chosen benchmarks, each for all its repeats, then
//! writes one result file per repeat.
//!
//! Invariants:
//! - A benchmark's files are written only after all its repeats finished, because each
//!   carries the coefficient of variation of ops/s over all of them; a failing repeat
//!   stops the run and writes nothing for that benchmark.
//! - Allocations are only counted when the runner's counting allocator is installed; a
//!   run without it is refused rather than reporting zero allocations.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;

use super::context::Context;
use super::counters::allocation_counting_is_active;
use super::error::{BenchError, Fallible};
use super::measure::Sample;
use super::metadata::Metadata;
use super::result::{
    write_results, RepeatResult, BYTES_WRITTEN_BY_WRITE_CALLS, BYTES_WRITTEN_UNAVAILABLE,
    SCHEMA_VERSION,
};
use super::suite::{self, Bench};
use super::units;

/// Highest coefficient of variation of ops/s over repeats for a benchmark to be stable.
pub const STABLE_CV_MAX: f64 = 0.05;

/// What to run and how: shared by `run` and `capture-baseline`.
#[derive(Debug, Clone, Args)]
pub struct RunSettings {
    /// Run only benchmarks whose name contains this text (repeatable; any match).
    #[arg(long = "filter", value_name = "SUBSTR")]
    pub filters: Vec<String>,
    /// Repeats of each benchmark; ops/s stability is judged across them.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=999))]
    pub repeats: u32,
    /// Unmeasured ops before each repeat [default: a tenth of the measured ops, at least 1].
    #[arg(long, value_name = "N")]
    pub warmup_ops: Option<u64>,
    /// Minimum unmeasured time before each repeat, in nanoseconds.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub warmup_ns: u64,
    /// Factor on every data size and op count (1.0 = full scale: 1M-key databases).
    #[arg(long, value_name = "F", default_value_t = 1.0, value_parser = parse_scale)]
    pub scale: f64,
    /// Directory to create the benchmark databases in [default: the system temp dir].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// `northstar-bench run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub settings: RunSettings,
    /// Directory for the result files (created if missing).
    #[arg(long, value_name = "DIR", default_value = "target/bench-results")]
    pub out: PathBuf,
}

fn parse_scale(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(scale) if scale > 0.0 && scale.is_finite() => Ok(scale),
        _ => Err(format!("{text:?} is not a positive number")),
    }
}

/// Runs `settings` and writes the results into `out`; prints one summary line per
/// benchmark to `summary` and progress to stderr. Returns the files written.
pub fn run(settings: &RunSettings, out: &Path, summary: &mut dyn Write) -> Fallible<Vec<PathBuf>> {
    if !allocation_counting_is_active() {
        return Err(BenchError::new(
            "the counting allocator is not installed: run the northstar-bench binary",
        ));
    }
    let benches = suite::matching(&settings.filters);
    if benches.is_empty() {
        return Err(BenchError::new(format!(
            "no benchmark matches {:?} (see `northstar-bench list`)",
            settings.filters
        )));
    }
    let data_dir = settings.data_dir.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&data_dir).map_err(|e| BenchError::io(&data_dir, "create", e))?;
    let metadata = Metadata::gather(&data_dir);
    let ctx = Context::new(
        settings.scale,
        settings.warmup_ops,
        settings.warmup_ns,
        data_dir,
    );
    let mut written = Vec::new();
    for bench in benches {
        let samples = run_repeats(bench, &ctx, settings.repeats)?;
        let results = results_of(bench, &samples, settings.scale, &metadata);
        written.extend(write_results(out, &results).map_err(|e| e.context(bench.name))?);
        let line = summary_line(bench, &results);
        writeln!(summary, "{line}")
            .map_err(|e| BenchError::new(format!("cannot write the summary: {e}")))?;
    }
    Ok(written)
}

fn run_repeats(bench: &Bench, ctx: &Context, repeats: u32) -> Fallible<Vec<Sample>> {
    (0..repeats)
        .map(|repeat| {
            let started = Instant::now();
            let sample = (bench.run)(ctx)
                .map_err(|e| e.context(format!("{} (repeat {repeat})", bench.name)))?;
            eprintln!(
                "{}: repeat {}/{repeats}: {} ops in {:.2?}",
                bench.name,
                repeat + 1,
                sample.ops,
                started.elapsed()
            );
            Ok(sample)
        })
        .collect()
}

/// Ops per second of `sample`.
pub fn ops_per_sec(sample: &Sample) -> f64 {
    sample.ops as f64 * 1e9 / sample.duration_ns.max(1) as f64
}

/// Sample standard deviation over mean; 0 for fewer than two values.
pub fn coefficient_of_variation(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let count = values.len() as f64;
    let mean = values.iter().sum::<f64>() / count;
    if mean <= 0.0 {
        return 0.0;
    }
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (count - 1.0);
    variance.sqrt() / mean
}

/// The result files of all repeats of `bench`.
pub fn results_of(
    bench: &Bench,
    samples: &[Sample],
    scale: f64,
    metadata: &Metadata,
) -> Vec<RepeatResult> {
    let rates: Vec<f64> = samples.iter().map(ops_per_sec).collect();
    let cv = coefficient_of_variation(&rates);
    let stable = samples.len() >= 2 && cv <= STABLE_CV_MAX;
    samples
        .iter()
        .zip(&rates)
        .enumerate()
        .map(|(index, (sample, &rate))| {
            let ops = sample.ops as f64;
            let latency = &sample.latency_ns;
            let (bytes_written, bytes_written_source) = match sample.counts.bytes_written {
                Some(bytes) => (bytes, BYTES_WRITTEN_BY_WRITE_CALLS),
                None => (0, BYTES_WRITTEN_UNAVAILABLE),
            };
            RepeatResult {
                schema_version: SCHEMA_VERSION,
                bench: bench.name.to_string(),
                suite: bench.suite.name().to_string(),
                critical: bench.critical,
                repeat_index: index as u32,
                repeat_count: samples.len() as u32,
                scale,
                threads: sample.threads,
                ops: sample.ops,
                duration_ns: sample.duration_ns,
                ops_per_sec: rate,
                latency_ns_p50: latency.value_at_quantile(0.50),
                latency_ns_p95: latency.value_at_quantile(0.95),
                latency_ns_p99: latency.value_at_quantile(0.99),
                latency_ns_max: latency.max(),
                warmup_ops: sample.warmup_ops,
                warmup_ns: sample.warmup_ns,
                bytes_written,
                bytes_written_per_op: bytes_written as f64 / ops,
                bytes_written_source: bytes_written_source.to_string(),
                log_syncs: sample.counts.log_syncs,
                checkpoints: sample.checkpoints,
                fsyncs_per_op: (sample.counts.log_syncs + sample.checkpoints) as f64 / ops,
                allocations: sample.counts.allocations,
                allocations_per_op: sample.counts.allocations as f64 / ops,
                ops_per_sec_cv: cv,
                stable,
                stable_cv_max: STABLE_CV_MAX,
                metadata: metadata.clone(),
                figures: sample.figures.clone(),
            }
        })
        .collect()
}

/// One line per benchmark: median ops/s and p99, allocations and syncs per op, spread.
fn summary_line(bench: &Bench, results: &[RepeatResult]) -> String {
    let median = |value: fn(&RepeatResult) -> f64| {
        super::compare::median(results.iter().map(value).collect())
    };
    let first = &results[0];
    format!(
        "{} {:32} {:>7} ops/s  p99 {:>9}  {:>6} allocs/op  {:.3} fsyncs/op  cv {:4.1}% {}",
        if bench.critical { '*' } else { ' ' },
        bench.name,
        units::rate(median(|r| r.ops_per_sec)),
        units::duration_ns(median(|r| r.latency_ns_p99 as f64)),
        units::count(median(|r| r.allocations_per_op)),
        median(|r| r.fsyncs_per_op),
        first.ops_per_sec_cv * 100.0,
        if first.stable { "stable" } else { "UNSTABLE" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_coefficient_of_variation_uses_the_sample_deviation() {
        assert_eq!(coefficient_of_variation(&[5.0]), 0.0);
        assert_eq!(coefficient_of_variation(&[3.0, 3.0, 3.0]), 0.0);
        let cv = coefficient_of_variation(&[90.0, 110.0]);
        assert!((cv - 0.141_421).abs() < 1e-5, "{cv}");
    }
}
