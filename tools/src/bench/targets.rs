//! The roadmap's targets for the scenarios, judged on a report's medians: each names a
//! benchmark, what is read from it (a figure or a latency) and a bound, or only asks
//! for the figure to be reported.
//!
//! Invariants: a target whose benchmark or figure is not in the set is `not-run`, never
//! met; a ratio is always one measured within the same repeat (a figure of the
//! benchmark), so machine noise between benchmarks does not decide it.

use std::fmt;

use serde::Serialize;

use super::report::Line;

/// What a target reads from its benchmark's line.
#[derive(Debug, Clone, Copy)]
enum Measure {
    /// The median of a named figure.
    Figure(&'static str),
    /// The median p99 latency, in nanoseconds.
    LatencyP99,
}

/// What the value must be.
#[derive(Debug, Clone, Copy)]
enum Bound {
    AtLeast(f64),
    AtMost(f64),
    /// No bound: the figure is reported.
    Reported,
}

struct Target {
    name: &'static str,
    bench: &'static str,
    measure: Measure,
    bound: Bound,
}

const TARGETS: &[Target] = &[
    Target {
        name: "task queue: durable claims/s, 8 agents, over 1-thread durable commits/s >= 2",
        bench: "macro/task_queue/claims_8_agents",
        measure: Measure::Figure("claims_per_sec_over_commits_per_sec_1_thread"),
        bound: Bound::AtLeast(2.0),
    },
    Target {
        name: "task queue: duplicate claims = 0",
        bench: "macro/task_queue/claims_8_agents",
        measure: Measure::Figure("duplicate_claims"),
        bound: Bound::AtMost(0.0),
    },
    Target {
        name: "task queue: claims/s with a long snapshot over without >= 0.5 (no collapse)",
        bench: "macro/task_queue/claims_8_agents_long_snapshot",
        measure: Measure::Figure("ops_per_sec_ratio_to_no_snapshot"),
        bound: Bound::AtLeast(0.5),
    },
    Target {
        name: "time travel: AS OF open + first get 100k txns back, retain every 1,000, p99 <= 1 ms",
        bench: "macro/time_travel/as_of_100k_back/retain_every_1000",
        measure: Measure::LatencyP99,
        bound: Bound::AtMost(1e6),
    },
    Target {
        name: "knowledge graph: callers-of-X p99, scan over index",
        bench: "macro/knowledge_graph/callers_of_x",
        measure: Measure::Figure("scan_p99_over_index_p99"),
        bound: Bound::Reported,
    },
    Target {
        name: "cartridge vs scan: p50 speed-up of pending_tasks_by_type",
        bench: "macro/cartridge/pending_tasks_by_type",
        measure: Measure::Figure("speedup_p50"),
        bound: Bound::Reported,
    },
    Target {
        name: "cartridge vs scan: queries that pay for a full build",
        bench: "macro/cartridge/pending_tasks_by_type",
        measure: Measure::Figure("queries_to_pay_for_build"),
        bound: Bound::Reported,
    },
];

/// How a target fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Within its bound.
    Met,
    /// Outside its bound.
    Missed,
    /// No bound; the value is reported.
    Reported,
    /// Its benchmark or figure is not in the set.
    NotRun,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Met => "met",
            Outcome::Missed => "MISSED",
            Outcome::Reported => "reported",
            Outcome::NotRun => "not-run",
        })
    }
}

/// One target judged.
#[derive(Debug, Clone, Serialize)]
pub struct Judged {
    /// The target, in words.
    pub target: String,
    /// The benchmark it reads.
    pub bench: String,
    /// The median value read, if the benchmark ran.
    pub value: Option<f64>,
    /// The outcome.
    pub outcome: Outcome,
}

/// Every target, judged on `lines`.
pub fn judge(lines: &[Line]) -> Vec<Judged> {
    TARGETS
        .iter()
        .map(|target| {
            let value = lines
                .iter()
                .find(|line| line.bench == target.bench && line.repeats > 0)
                .and_then(|line| match target.measure {
                    Measure::Figure(name) => line.figures.get(name).copied(),
                    Measure::LatencyP99 => Some(line.latency_ns_p99),
                });
            let outcome = match (value, target.bound) {
                (None, _) => Outcome::NotRun,
                (Some(_), Bound::Reported) => Outcome::Reported,
                (Some(value), Bound::AtLeast(bound)) if value >= bound => Outcome::Met,
                (Some(value), Bound::AtMost(bound)) if value <= bound => Outcome::Met,
                (Some(_), _) => Outcome::Missed,
            };
            Judged {
                target: target.name.to_string(),
                bench: target.bench.to_string(),
                value,
                outcome,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::report::Status;

    fn line(bench: &str, figures: &[(&str, f64)], latency_ns_p99: f64) -> Line {
        Line {
            bench: bench.to_string(),
            critical: true,
            repeats: 2,
            ops_per_sec: 1.0,
            ops_per_sec_cv: 0.0,
            stable: true,
            latency_ns_p50: latency_ns_p99,
            latency_ns_p99,
            fsyncs_per_op: 0.0,
            figures: figures.iter().map(|(n, v)| (n.to_string(), *v)).collect(),
            status: Status::NoBaseline,
            reasons: Vec::new(),
        }
    }

    #[test]
    fn targets_are_met_missed_reported_or_not_run() {
        let lines = [
            line(
                "macro/task_queue/claims_8_agents",
                &[
                    ("claims_per_sec_over_commits_per_sec_1_thread", 1.5),
                    ("duplicate_claims", 0.0),
                ],
                1.0,
            ),
            line(
                "macro/time_travel/as_of_100k_back/retain_every_1000",
                &[],
                400_000.0,
            ),
            line(
                "macro/knowledge_graph/callers_of_x",
                &[("scan_p99_over_index_p99", 3_000.0)],
                1.0,
            ),
        ];
        let outcomes: Vec<Outcome> = judge(&lines).iter().map(|j| j.outcome).collect();
        assert_eq!(
            outcomes,
            [
                Outcome::Missed,
                Outcome::Met,
                Outcome::NotRun,
                Outcome::Met,
                Outcome::Reported,
                Outcome::NotRun,
                Outcome::NotRun,
            ]
        );
    }
}
