//! `northstar-bench gate BASE_DIR NEW_DIR`: fails when a critical benchmark regressed
//! beyond the thresholds of [`super::compare`] (ops/s −5%, p99 +10%, allocations per op
//! +5%, fsyncs per op any rise), comparing the medians of the repeats.
//!
//! Invariants:
//! - Benchmarks flagged unstable in either set are not judged; the gate names them, so
//!   an ignored regression is visible.
//! - A critical benchmark of the base set that is missing from the new set fails the
//!   gate: a benchmark that stopped running must not pass as "no regression".
//! - Non-critical benchmarks never fail the gate; they are in the table for reading.

use std::path::PathBuf;

use clap::Args;

use super::compare::{self, Comparison, Verdict};
use super::error::{Fallible, EXIT_REGRESSION};

/// `northstar-bench gate`.
#[derive(Debug, Clone, Args)]
pub struct GateArgs {
    /// Directory of the baseline results.
    pub base_dir: PathBuf,
    /// Directory of the results to judge.
    pub new_dir: PathBuf,
}

/// What the gate decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The report to print: the table, then what failed and what was ignored.
    pub report: String,
    /// Whether the gate passed.
    pub passed: bool,
}

impl Decision {
    /// The process exit code: 0 when passed, [`EXIT_REGRESSION`] otherwise.
    pub fn exit_code(&self) -> u8 {
        if self.passed {
            0
        } else {
            EXIT_REGRESSION
        }
    }
}

/// Decides on `comparisons` (all benchmarks; only critical ones count).
pub fn decide(comparisons: &[Comparison]) -> Decision {
    let critical: Vec<_> = comparisons.iter().filter(|c| c.critical).collect();
    let named = |wanted: &dyn Fn(&Comparison) -> bool| -> Vec<String> {
        critical
            .iter()
            .filter(|c| wanted(c))
            .map(|c| format!("{} ({})", c.bench, c.reasons.join("; ")))
            .collect()
    };
    let regressed = named(&|c| c.verdict == Verdict::Regressed);
    let vanished = named(&|c| c.verdict == Verdict::Missing && c.base.is_some() && c.new.is_none());
    let unstable = named(&|c| c.verdict == Verdict::Unstable);
    let mut report = compare::table(comparisons);
    report.push('\n');
    report.push_str(&format!(
        "gate: {} critical benchmarks; thresholds: ops/s -{:.0}%, p99 +{:.0}%, allocations/op +{:.0}%, fsyncs/op any rise\n",
        critical.len(),
        compare::OPS_PER_SEC_DROP_MAX * 100.0,
        compare::LATENCY_P99_RISE_MAX * 100.0,
        compare::ALLOCATIONS_PER_OP_RISE_MAX * 100.0,
    ));
    for (heading, names) in [
        ("regressed", &regressed),
        ("missing from the new set", &vanished),
        ("ignored as unstable", &unstable),
    ] {
        for name in names {
            report.push_str(&format!("  {heading}: {name}\n"));
        }
    }
    let passed = regressed.is_empty() && vanished.is_empty();
    report.push_str(if passed {
        "gate: PASS\n"
    } else {
        "gate: FAIL\n"
    });
    Decision { report, passed }
}

/// `northstar-bench gate`: reads both sets and decides.
pub fn run(args: &GateArgs) -> Fallible<Decision> {
    let (_, comparisons) = compare::run(&compare::CompareArgs {
        base_dir: args.base_dir.clone(),
        new_dir: args.new_dir.clone(),
    })?;
    Ok(decide(&comparisons))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::compare::Summary;

    fn summary() -> Summary {
        Summary {
            repeat_count: 3,
            critical: true,
            stable: true,
            ops_per_sec_cv: 0.01,
            ops_per_sec: 100.0,
            latency_ns_p99: 1_000.0,
            allocations_per_op: 0.0,
            fsyncs_per_op: 0.0,
        }
    }

    fn comparison(bench: &str, critical: bool, verdict: Verdict, reason: &str) -> Comparison {
        let missing_new = reason.contains("new set");
        let missing_base = reason.contains("base set");
        Comparison {
            bench: bench.into(),
            critical,
            verdict,
            base: (!missing_base).then(summary),
            new: (!missing_new).then(summary),
            reasons: vec![reason.into()],
        }
    }

    #[test]
    fn a_critical_regression_fails_and_a_non_critical_one_does_not() {
        let decision = decide(&[comparison(
            "macro/a",
            true,
            Verdict::Regressed,
            "ops/s -20.0%",
        )]);
        assert!(!decision.passed);
        assert!(decision
            .report
            .contains("regressed: macro/a (ops/s -20.0%)"));
        assert!(decide(&[comparison("micro/a", false, Verdict::Regressed, "x")]).passed);
    }

    #[test]
    fn unstable_benchmarks_are_named_but_pass() {
        let decision = decide(&[comparison(
            "macro/a",
            true,
            Verdict::Unstable,
            "new: ops/s cv 9.0%",
        )]);
        assert!(decision.passed);
        assert!(decision
            .report
            .contains("ignored as unstable: macro/a (new: ops/s cv 9.0%)"));
    }

    #[test]
    fn a_critical_benchmark_gone_from_the_new_set_fails() {
        assert!(
            !decide(&[comparison(
                "macro/a",
                true,
                Verdict::Missing,
                "not in the new set"
            )])
            .passed
        );
        assert!(
            decide(&[comparison(
                "macro/a",
                true,
                Verdict::Missing,
                "not in the base set"
            )])
            .passed
        );
    }
}
