//! `northstar-bench compare BASE_DIR NEW_DIR`: a verdict per benchmark from the median
//! of its repeats in each set.
//!
//! Verdicts, in the order they are decided:
//! - `missing`: in one set only.
//! - `unstable`: flagged unstable (ops/s spread over repeats above the limit) in either
//!   set; no other verdict is given, as the medians cannot be trusted.
//! - `regressed`: any threshold crossed: ops/s down more than 5%, p99 latency up more
//!   than 10%, allocations per op up more than 5% (and by more than 0.01), or fsyncs per
//!   op up at all.
//! - `improved`: no threshold crossed the wrong way and at least one the right way.
//! - `unchanged`: otherwise.
//!
//! Invariants: every metric's median is taken on its own over the repeats; a benchmark is
//! critical when either set says so.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

use clap::Args;

use super::error::Fallible;
use super::result::{read_set, RepeatResult};
use super::units;

/// Largest drop of ops/s that is not a regression.
pub const OPS_PER_SEC_DROP_MAX: f64 = 0.05;
/// Largest rise of p99 latency that is not a regression.
pub const LATENCY_P99_RISE_MAX: f64 = 0.10;
/// Largest relative rise of allocations per op that is not a regression.
pub const ALLOCATIONS_PER_OP_RISE_MAX: f64 = 0.05;
/// Rises of allocations per op at most this large are never a regression (one stray
/// allocation in a long run is not).
pub const ALLOCATIONS_PER_OP_SLACK: f64 = 0.01;
/// Rises of fsyncs per op at most this large are rounding, not a rise.
pub const FSYNCS_PER_OP_SLACK: f64 = 1e-9;

/// `northstar-bench compare`.
#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// Directory of the baseline results.
    pub base_dir: PathBuf,
    /// Directory of the results to judge.
    pub new_dir: PathBuf,
}

/// The medians of one benchmark's repeats in one set.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Repeats the medians are over.
    pub repeat_count: usize,
    /// Whether the gate guards it.
    pub critical: bool,
    /// Whether its repeats were stable.
    pub stable: bool,
    /// Largest `ops_per_sec_cv` of its repeats.
    pub ops_per_sec_cv: f64,
    /// Median ops/s.
    pub ops_per_sec: f64,
    /// Median p99 latency.
    pub latency_ns_p99: f64,
    /// Median allocations per op.
    pub allocations_per_op: f64,
    /// Median fsyncs per op.
    pub fsyncs_per_op: f64,
}

/// The verdict on one benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Better on some metric, worse on none.
    Improved,
    /// Worse beyond a threshold on some metric.
    Regressed,
    /// Within the thresholds on every metric.
    Unchanged,
    /// Unstable in either set: not judged.
    Unstable,
    /// In one set only.
    Missing,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Improved => "improved",
            Verdict::Regressed => "regressed",
            Verdict::Unchanged => "unchanged",
            Verdict::Unstable => "unstable",
            Verdict::Missing => "missing",
        })
    }
}

/// One benchmark in both sets.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// Benchmark name.
    pub bench: String,
    /// Critical in either set.
    pub critical: bool,
    /// The verdict.
    pub verdict: Verdict,
    /// Its medians in the base set.
    pub base: Option<Summary>,
    /// Its medians in the new set.
    pub new: Option<Summary>,
    /// Why the verdict: the thresholds crossed, which set is missing or unstable.
    pub reasons: Vec<String>,
}

/// The median of `values` (the mean of the middle two for an even count; 0 when empty).
pub fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    }
}

/// The medians of the repeats of one benchmark.
pub fn summarize(repeats: &[RepeatResult]) -> Summary {
    let median_of = |value: fn(&RepeatResult) -> f64| median(repeats.iter().map(value).collect());
    Summary {
        repeat_count: repeats.len(),
        critical: repeats.iter().any(|r| r.critical),
        stable: repeats.iter().all(|r| r.stable),
        ops_per_sec_cv: repeats.iter().map(|r| r.ops_per_sec_cv).fold(0.0, f64::max),
        ops_per_sec: median_of(|r| r.ops_per_sec),
        latency_ns_p99: median_of(|r| r.latency_ns_p99 as f64),
        allocations_per_op: median_of(|r| r.allocations_per_op),
        fsyncs_per_op: median_of(|r| r.fsyncs_per_op),
    }
}

/// `new / base - 1`; infinite when base is 0 and new is not.
pub fn relative_change(base: f64, new: f64) -> f64 {
    if base == 0.0 {
        if new == 0.0 {
            0.0
        } else {
            f64::INFINITY
        }
    } else {
        new / base - 1.0
    }
}

/// Judges `new` against `base` on every metric.
pub fn judge(base: &Summary, new: &Summary) -> (Verdict, Vec<String>) {
    let mut worse = Vec::new();
    let mut better = Vec::new();
    let ops = relative_change(base.ops_per_sec, new.ops_per_sec);
    if ops < -OPS_PER_SEC_DROP_MAX {
        worse.push(format!("ops/s {}", units::change(ops)));
    } else if ops > OPS_PER_SEC_DROP_MAX {
        better.push(format!("ops/s {}", units::change(ops)));
    }
    let p99 = relative_change(base.latency_ns_p99, new.latency_ns_p99);
    if p99 > LATENCY_P99_RISE_MAX {
        worse.push(format!("p99 {}", units::change(p99)));
    } else if p99 < -LATENCY_P99_RISE_MAX {
        better.push(format!("p99 {}", units::change(p99)));
    }
    let allocations = new.allocations_per_op - base.allocations_per_op;
    let allocations_limit =
        (base.allocations_per_op * ALLOCATIONS_PER_OP_RISE_MAX).max(ALLOCATIONS_PER_OP_SLACK);
    if allocations > allocations_limit {
        worse.push(format!(
            "allocations/op {:.2} -> {:.2}",
            base.allocations_per_op, new.allocations_per_op
        ));
    } else if -allocations > allocations_limit {
        better.push(format!(
            "allocations/op {:.2} -> {:.2}",
            base.allocations_per_op, new.allocations_per_op
        ));
    }
    let fsyncs = new.fsyncs_per_op - base.fsyncs_per_op;
    let fsyncs_text = || {
        format!(
            "fsyncs/op {:.4} -> {:.4}",
            base.fsyncs_per_op, new.fsyncs_per_op
        )
    };
    if fsyncs > FSYNCS_PER_OP_SLACK {
        worse.push(fsyncs_text());
    } else if -fsyncs > FSYNCS_PER_OP_SLACK {
        better.push(fsyncs_text());
    }
    if !worse.is_empty() {
        (Verdict::Regressed, worse)
    } else if !better.is_empty() {
        (Verdict::Improved, better)
    } else {
        (Verdict::Unchanged, Vec::new())
    }
}

/// Compares two sets, benchmark by benchmark, in name order.
pub fn compare_sets(
    base: &BTreeMap<String, Vec<RepeatResult>>,
    new: &BTreeMap<String, Vec<RepeatResult>>,
) -> Vec<Comparison> {
    let names: BTreeSet<&String> = base.keys().chain(new.keys()).collect();
    names
        .into_iter()
        .map(|name| {
            let base = base.get(name).map(|repeats| summarize(repeats));
            let new = new.get(name).map(|repeats| summarize(repeats));
            let critical = base.iter().chain(&new).any(|s| s.critical);
            let (verdict, reasons) = match (&base, &new) {
                (Some(base), Some(new)) if !base.stable || !new.stable => {
                    let mut reasons = Vec::new();
                    for (set, summary) in [("base", base), ("new", new)] {
                        if !summary.stable {
                            reasons.push(unstable_reason(set, summary));
                        }
                    }
                    (Verdict::Unstable, reasons)
                }
                (Some(base), Some(new)) => judge(base, new),
                (Some(_), None) => (Verdict::Missing, vec!["not in the new set".into()]),
                (None, _) => (Verdict::Missing, vec!["not in the base set".into()]),
            };
            Comparison {
                bench: name.clone(),
                critical,
                verdict,
                base,
                new,
                reasons,
            }
        })
        .collect()
}

fn unstable_reason(set: &str, summary: &Summary) -> String {
    if summary.repeat_count < 2 && summary.ops_per_sec_cv == 0.0 {
        format!("{set}: one repeat cannot show stability")
    } else {
        format!("{set}: ops/s cv {:.1}%", summary.ops_per_sec_cv * 100.0)
    }
}

/// The comparison as a table, one line per benchmark (critical ones marked `*`).
pub fn table(comparisons: &[Comparison]) -> String {
    let width = comparisons
        .iter()
        .map(|c| c.bench.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut lines = vec![format!(
        "  {:width$}  {:9}  {:>17}  {:>7}  {:>7}  {:>15}  {:>13}  why",
        "bench", "verdict", "ops/s base→new", "Δ ops/s", "Δ p99", "allocs/op", "fsyncs/op"
    )];
    for comparison in comparisons {
        let mark = if comparison.critical { '*' } else { ' ' };
        let metrics = match (&comparison.base, &comparison.new) {
            (Some(base), Some(new)) => format!(
                "{:>17}  {:>7}  {:>7}  {:>15}  {:>13}",
                format!(
                    "{} → {}",
                    units::rate(base.ops_per_sec),
                    units::rate(new.ops_per_sec)
                ),
                units::change(relative_change(base.ops_per_sec, new.ops_per_sec)),
                units::change(relative_change(base.latency_ns_p99, new.latency_ns_p99)),
                format!(
                    "{} → {}",
                    units::count(base.allocations_per_op),
                    units::count(new.allocations_per_op)
                ),
                format!("{:.3} → {:.3}", base.fsyncs_per_op, new.fsyncs_per_op),
            ),
            _ => format!(
                "{:>17}  {:>7}  {:>7}  {:>15}  {:>13}",
                "-", "-", "-", "-", "-"
            ),
        };
        let line = format!(
            "{mark} {:width$}  {:9}  {metrics}  {}",
            comparison.bench,
            comparison.verdict.to_string(),
            comparison.reasons.join("; ")
        );
        lines.push(line.trim_end().to_string());
    }
    lines.join("\n") + "\n"
}

/// `northstar-bench compare`: reads both sets and returns the table.
pub fn run(args: &CompareArgs) -> Fallible<(String, Vec<Comparison>)> {
    let base = read_set(&args.base_dir)?;
    let new = read_set(&args.new_dir)?;
    let comparisons = compare_sets(&base, &new);
    Ok((table(&comparisons), comparisons))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(ops_per_sec: f64) -> Summary {
        Summary {
            repeat_count: 3,
            critical: true,
            stable: true,
            ops_per_sec_cv: 0.01,
            ops_per_sec,
            latency_ns_p99: 1_000.0,
            allocations_per_op: 2.0,
            fsyncs_per_op: 1.0,
        }
    }

    #[test]
    fn medians_take_the_middle_or_the_mean_of_the_middle_two() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(Vec::new()), 0.0);
    }

    #[test]
    fn changes_within_the_thresholds_are_unchanged() {
        let mut new = summary(96.0);
        new.latency_ns_p99 = 1_090.0;
        new.allocations_per_op = 2.09;
        assert_eq!(judge(&summary(100.0), &new), (Verdict::Unchanged, vec![]));
    }

    #[test]
    fn each_threshold_crossed_is_a_regression_reason() {
        let mut new = summary(94.0);
        new.latency_ns_p99 = 1_200.0;
        new.allocations_per_op = 2.2;
        new.fsyncs_per_op = 1.001;
        let (verdict, reasons) = judge(&summary(100.0), &new);
        assert_eq!(verdict, Verdict::Regressed);
        assert_eq!(
            reasons,
            [
                "ops/s -6.0%",
                "p99 +20.0%",
                "allocations/op 2.00 -> 2.20",
                "fsyncs/op 1.0000 -> 1.0010"
            ]
        );
    }

    #[test]
    fn a_stray_allocation_on_an_allocation_free_path_is_not_a_regression() {
        let mut base = summary(100.0);
        base.allocations_per_op = 0.0;
        let mut new = base.clone();
        new.allocations_per_op = 0.001;
        assert_eq!(judge(&base, &new).0, Verdict::Unchanged);
        new.allocations_per_op = 1.0;
        assert_eq!(judge(&base, &new).0, Verdict::Regressed);
    }

    #[test]
    fn faster_without_any_regression_is_improved() {
        assert_eq!(judge(&summary(100.0), &summary(120.0)).0, Verdict::Improved);
    }
}
