//! `northstar-bench report DIR`: a summary of one result set, per benchmark: medians over
//! its repeats (ops/s, p50 and p99 latency, fsyncs per op, every named figure), the
//! spread (coefficient of variation of ops/s, stable or not), and a status against a
//! baseline, with the counts of each status; as a table, `--json` or `--csv`. The
//! machine, the commit and the scale of the run head the report.
//!
//! Statuses, from [`super::compare`]'s verdict on the benchmark against the baseline:
//! `pass` (unchanged or improved), `fail` (regressed, or critical and in the baseline
//! but not in the set, as `gate` judges), `unjudged` (unstable in either set, new, or
//! not critical and missing from the set), `no-baseline` (no baseline given or found).
//!
//! After the benchmarks come the roadmap's targets ([`super::targets`]): met, missed,
//! reported (no bound) or not run.
//!
//! Invariants: the report reads results only through [`super::result::read_set`], so
//! every figure it prints comes from a result that matched the schema; a baseline is
//! `--base DIR`, or the baseline of `--profile NAME`, or else the baseline of the
//! profile detected for this machine if one is stored.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use super::baseline::{default_baselines_dir, profile_dir};
use super::compare::{compare_sets, median, Comparison, Verdict};
use super::error::{BenchError, Fallible};
use super::metadata::Metadata;
use super::result::{read_set, RepeatResult};
use super::targets::{judge, Judged, Outcome};
use super::units;

/// `northstar-bench report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Directory of the results to report on.
    pub dir: PathBuf,
    /// Baseline to judge them against (a result set directory).
    #[arg(long, value_name = "DIR", conflicts_with = "profile")]
    pub base: Option<PathBuf>,
    /// Judge against the stored baseline of this profile (benches/baselines/NAME).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Print the report as JSON.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print the report as CSV, one row per benchmark.
    #[arg(long)]
    pub csv: bool,
}

/// How a benchmark stands against the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Unchanged or improved.
    Pass,
    /// Regressed, or critical and missing from the set.
    Fail,
    /// Unstable in either set, not in the baseline, or not critical and missing.
    Unjudged,
    /// No baseline to judge by.
    NoBaseline,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Unjudged => "unjudged",
            Status::NoBaseline => "no-baseline",
        })
    }
}

/// One benchmark of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    /// Benchmark name.
    pub bench: String,
    /// Whether the gate guards it.
    pub critical: bool,
    /// Repeats in the set (0 when only the baseline has it).
    pub repeats: usize,
    /// Median ops/s.
    pub ops_per_sec: f64,
    /// Coefficient of variation of ops/s over the repeats.
    pub ops_per_sec_cv: f64,
    /// Whether the repeats were stable.
    pub stable: bool,
    /// Median of the repeats' median latencies.
    pub latency_ns_p50: f64,
    /// Median of the repeats' p99 latencies.
    pub latency_ns_p99: f64,
    /// Median fsyncs per op.
    pub fsyncs_per_op: f64,
    /// Median of each named figure.
    pub figures: BTreeMap<String, f64>,
    /// Status against the baseline.
    pub status: Status,
    /// Why: the compare verdict's reasons.
    pub reasons: Vec<String>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The set reported on.
    pub dir: String,
    /// The baseline judged against, if any.
    pub baseline: Option<String>,
    /// The machine and code of the set (from its first result).
    pub metadata: Metadata,
    /// Scale of the run.
    pub scale: f64,
    /// One line per benchmark, in name order.
    pub benches: Vec<Line>,
    /// Benchmarks per status.
    pub counts: BTreeMap<String, usize>,
    /// The roadmap's targets, judged on the medians (see [`super::targets`]).
    pub targets: Vec<Judged>,
}

fn status_of(comparison: Option<&Comparison>) -> (Status, Vec<String>) {
    let Some(comparison) = comparison else {
        return (Status::NoBaseline, Vec::new());
    };
    let status = match comparison.verdict {
        Verdict::Improved | Verdict::Unchanged => Status::Pass,
        Verdict::Regressed => Status::Fail,
        Verdict::Missing if comparison.new.is_none() && comparison.critical => Status::Fail,
        Verdict::Missing | Verdict::Unstable => Status::Unjudged,
    };
    (status, comparison.reasons.clone())
}

fn line(bench: &str, repeats: &[RepeatResult], comparison: Option<&Comparison>) -> Line {
    let median_of = |value: &dyn Fn(&RepeatResult) -> f64| {
        median(repeats.iter().map(value).collect::<Vec<_>>())
    };
    let names: BTreeSet<&String> = repeats.iter().flat_map(|r| r.figures.keys()).collect();
    let figures = names
        .into_iter()
        .map(|name| {
            let values = repeats.iter().filter_map(|r| r.figures.get(name)).copied();
            (name.clone(), median(values.collect()))
        })
        .collect();
    let (status, reasons) = status_of(comparison);
    Line {
        bench: bench.to_string(),
        critical: repeats.iter().any(|r| r.critical) || comparison.is_some_and(|c| c.critical),
        repeats: repeats.len(),
        ops_per_sec: median_of(&|r| r.ops_per_sec),
        ops_per_sec_cv: repeats.iter().map(|r| r.ops_per_sec_cv).fold(0.0, f64::max),
        stable: !repeats.is_empty() && repeats.iter().all(|r| r.stable),
        latency_ns_p50: median_of(&|r| r.latency_ns_p50 as f64),
        latency_ns_p99: median_of(&|r| r.latency_ns_p99 as f64),
        fsyncs_per_op: median_of(&|r| r.fsyncs_per_op),
        figures,
        status,
        reasons,
    }
}

/// The report of set `set` (read from `dir`) against `baseline`, if any.
pub fn build(
    dir: &Path,
    set: &BTreeMap<String, Vec<RepeatResult>>,
    baseline: Option<(&Path, &BTreeMap<String, Vec<RepeatResult>>)>,
) -> Report {
    let comparisons: BTreeMap<String, Comparison> = baseline
        .map(|(_, base)| compare_sets(base, set))
        .unwrap_or_default()
        .into_iter()
        .map(|c| (c.bench.clone(), c))
        .collect();
    let names: BTreeSet<&String> = set.keys().chain(comparisons.keys()).collect();
    let benches: Vec<Line> = names
        .into_iter()
        .map(|name| {
            let repeats = set.get(name).map_or(&[][..], Vec::as_slice);
            line(name, repeats, comparisons.get(name))
        })
        .collect();
    let mut counts = BTreeMap::new();
    for line in &benches {
        *counts.entry(line.status.to_string()).or_insert(0) += 1;
    }
    let first = set
        .values()
        .flatten()
        .next()
        .expect("a result set is never empty");
    Report {
        dir: dir.display().to_string(),
        baseline: baseline.map(|(path, _)| path.display().to_string()),
        metadata: first.metadata.clone(),
        scale: first.scale,
        targets: judge(&benches),
        benches,
        counts,
    }
}

/// The report as a table for a terminal.
pub fn table(report: &Report) -> String {
    let m = &report.metadata;
    let mut text = format!(
        "{}: scale {}, commit {}{}, {}\n{} ({} cores, {:.1} GiB), {}, data dir {} ({}), profile {}\n",
        report.dir,
        report.scale,
        m.git_commit,
        if m.git_dirty { " (dirty)" } else { "" },
        m.timestamp_utc,
        m.cpu_model,
        m.core_count,
        m.ram_bytes as f64 / (1u64 << 30) as f64,
        m.os,
        m.data_dir,
        m.filesystem,
        m.profile.as_deref().unwrap_or("unknown"),
    );
    text.push_str(&format!(
        "baseline: {}\n\n",
        report.baseline.as_deref().unwrap_or("none")
    ));
    let width = report
        .benches
        .iter()
        .map(|l| l.bench.len())
        .max()
        .unwrap_or(5);
    text.push_str(&format!(
        "  {:width$}  {:>8}  {:>6}  {:8}  {:>9}  {:>9}  {:>9}  {:11}  figures\n",
        "bench", "ops/s", "cv", "spread", "p50", "p99", "fsyncs/op", "status"
    ));
    for line in &report.benches {
        let figures: Vec<String> = line
            .figures
            .iter()
            .map(|(name, value)| format!("{name}={}", figure_text(*value)))
            .collect();
        let row = format!(
            "{} {:width$}  {:>8}  {:>5.1}%  {:8}  {:>9}  {:>9}  {:>9.3}  {:11}  {}",
            if line.critical { '*' } else { ' ' },
            line.bench,
            units::rate(line.ops_per_sec),
            line.ops_per_sec_cv * 100.0,
            if line.stable { "stable" } else { "UNSTABLE" },
            units::duration_ns(line.latency_ns_p50),
            units::duration_ns(line.latency_ns_p99),
            line.fsyncs_per_op,
            line.status.to_string(),
            figures.join(" ")
        );
        text.push_str(row.trim_end());
        text.push('\n');
        if line.status == Status::Fail {
            text.push_str(&format!("      {}\n", line.reasons.join("; ")));
        }
    }
    let counts: Vec<String> = report
        .counts
        .iter()
        .map(|(status, count)| format!("{count} {status}"))
        .collect();
    text.push_str(&format!(
        "\n{} benchmarks: {}\n\ntargets (medians; ratios measured within one repeat):\n",
        report.benches.len(),
        counts.join(", ")
    ));
    for judged in &report.targets {
        let value = match (judged.value, judged.outcome) {
            (Some(value), _) => figure_text(value),
            (None, Outcome::NotRun) => "-".to_string(),
            (None, _) => unreachable!("a target with an outcome has a value"),
        };
        text.push_str(&format!(
            "  {:8}  {:>12}  {}\n",
            judged.outcome.to_string(),
            value,
            judged.target
        ));
    }
    text
}

/// A figure with at most three decimals, integers without any.
fn figure_text(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else if value.abs() >= 100.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.3}")
    }
}

/// The report as CSV: one row per benchmark, figures as `name=value` joined by `;`.
pub fn csv(report: &Report) -> Fallible<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let failed = |e: csv::Error| BenchError::new(format!("cannot write CSV: {e}"));
    writer
        .write_record([
            "bench",
            "critical",
            "repeats",
            "ops_per_sec",
            "ops_per_sec_cv",
            "stable",
            "latency_ns_p50",
            "latency_ns_p99",
            "fsyncs_per_op",
            "status",
            "figures",
            "reasons",
            "git_commit",
            "cpu_model",
            "scale",
        ])
        .map_err(failed)?;
    for line in &report.benches {
        let figures: Vec<String> = line
            .figures
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        writer
            .write_record([
                line.bench.clone(),
                line.critical.to_string(),
                line.repeats.to_string(),
                line.ops_per_sec.to_string(),
                line.ops_per_sec_cv.to_string(),
                line.stable.to_string(),
                line.latency_ns_p50.to_string(),
                line.latency_ns_p99.to_string(),
                line.fsyncs_per_op.to_string(),
                line.status.to_string(),
                figures.join(";"),
                line.reasons.join("; "),
                report.metadata.git_commit.clone(),
                report.metadata.cpu_model.clone(),
                report.scale.to_string(),
            ])
            .map_err(failed)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| BenchError::new(format!("cannot write CSV: {e}")))?;
    Ok(String::from_utf8(bytes).expect("CSV of UTF-8 fields is UTF-8"))
}

/// The baseline `args` ask for, or the stored one of the profile the set's machine
/// was detected as.
fn baseline_dir(args: &ReportArgs, set: &BTreeMap<String, Vec<RepeatResult>>) -> Option<PathBuf> {
    if let Some(base) = &args.base {
        return Some(base.clone());
    }
    let recorded = set
        .values()
        .flatten()
        .find_map(|r| r.metadata.profile.clone());
    let profile = args.profile.clone().or(recorded)?;
    let dir = profile_dir(&default_baselines_dir(), &profile);
    (args.profile.is_some() || dir.is_dir()).then_some(dir)
}

/// `northstar-bench report`: the text to print.
pub fn run(args: &ReportArgs) -> Fallible<String> {
    let set = read_set(&args.dir)?;
    let base_dir = baseline_dir(args, &set);
    let base = base_dir.as_deref().map(read_set).transpose()?;
    let report = build(&args.dir, &set, base_dir.as_deref().zip(base.as_ref()));
    if args.json {
        Ok(serde_json::to_string_pretty(&report).expect("a report serializes") + "\n")
    } else if args.csv {
        csv(&report)
    } else {
        Ok(table(&report))
    }
}
