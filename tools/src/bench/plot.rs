//! `northstar-bench plot DIR`: one SVG page of charts of a result set, drawn with
//! `plotters`, for a person to look at instead of reading JSON.
//!
//! The page, top to bottom: a header (machine, commit, scale, profile); the peer charts
//! (a benchmark beside the peer it is judged against, medians over repeats: claims/s
//! against single-thread commits/s, claims with and without a long snapshot, AS OF
//! latency with retention, without and from the cartridge, callers by index against a
//! scan, commits on 1 and 4 threads); then one row per benchmark: its latency
//! distribution (p50, p95, p99 and max, one line per repeat, log scale) and its
//! throughput over the repeats.
//!
//! Invariants: every line series carries its benchmark's name in the chart's caption,
//! so a reader (and the test) can find it; a peer chart whose benchmarks are not in the
//! set is left out, never drawn empty; the output is a standalone SVG document.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use super::compare::median;
use super::error::{BenchError, Fallible};
use super::result::{read_set, RepeatResult};
use super::units;

/// Width of the page, in pixels.
const WIDTH: u32 = 1_200;
/// Height of the header.
const HEADER_HEIGHT: u32 = 70;
/// Height of one row of charts.
const ROW_HEIGHT: u32 = 260;
/// Peer charts per row.
const PEERS_PER_ROW: usize = 3;

/// `northstar-bench plot`.
#[derive(Debug, Clone, Args)]
pub struct PlotArgs {
    /// Directory of the results to chart.
    pub dir: PathBuf,
    /// File to write [default: DIR/charts.svg].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Where a bar's value comes from: a benchmark's median ops/s, p50 or p99 latency, or
/// one of its figures.
#[derive(Debug, Clone, Copy)]
enum Source {
    OpsPerSec,
    LatencyP50,
    LatencyP99,
    Figure(&'static str),
}

/// A peer chart: bars of (label, benchmark, source), in one unit.
struct Peers {
    title: &'static str,
    unit: Unit,
    bars: &'static [(&'static str, &'static str, Source)],
}

#[derive(Debug, Clone, Copy)]
enum Unit {
    Rate,
    Nanoseconds,
}

const PEERS: &[Peers] = &[
    Peers {
        title: "task queue: claims/s (8 agents) vs 1-thread commits/s",
        unit: Unit::Rate,
        bars: &[
            (
                "claims/s",
                "macro/task_queue/claims_8_agents",
                Source::OpsPerSec,
            ),
            (
                "commits/s, 1 thread",
                "macro/task_queue/claims_8_agents",
                Source::Figure("commits_per_sec_1_thread"),
            ),
        ],
    },
    Peers {
        title: "task queue: claims/s, long snapshot held or not",
        unit: Unit::Rate,
        bars: &[
            (
                "no snapshot",
                "macro/task_queue/claims_8_agents_long_snapshot",
                Source::Figure("ops_per_sec_no_snapshot"),
            ),
            (
                "snapshot held",
                "macro/task_queue/claims_8_agents_long_snapshot",
                Source::OpsPerSec,
            ),
        ],
    },
    Peers {
        title: "AS OF 100k txns back: p50 latency",
        unit: Unit::Nanoseconds,
        bars: &[
            (
                "retain every 1k",
                "macro/time_travel/as_of_100k_back/retain_every_1000",
                Source::LatencyP50,
            ),
            (
                "no retention",
                "macro/time_travel/as_of_100k_back/no_retention",
                Source::LatencyP50,
            ),
            (
                "key_history",
                "macro/time_travel/as_of_100k_back/key_history",
                Source::LatencyP50,
            ),
        ],
    },
    Peers {
        title: "callers of X: p99 latency, index vs scan",
        unit: Unit::Nanoseconds,
        bars: &[
            (
                "index",
                "macro/knowledge_graph/callers_of_x",
                Source::LatencyP99,
            ),
            (
                "scan",
                "macro/knowledge_graph/callers_of_x",
                Source::Figure("scan_latency_ns_p99"),
            ),
        ],
    },
    Peers {
        title: "pending tasks of a type: p50 latency, cartridge vs scan",
        unit: Unit::Nanoseconds,
        bars: &[
            (
                "cartridge",
                "macro/cartridge/pending_tasks_by_type",
                Source::LatencyP50,
            ),
            (
                "scan",
                "macro/cartridge/pending_tasks_by_type",
                Source::Figure("scan_latency_ns_p50"),
            ),
        ],
    },
    Peers {
        title: "durable commits/s: 1 thread vs 4 threads",
        unit: Unit::Rate,
        bars: &[
            (
                "1 thread",
                "macro/commit_durable/1_thread",
                Source::OpsPerSec,
            ),
            (
                "4 threads",
                "macro/commit_durable/4_threads",
                Source::OpsPerSec,
            ),
        ],
    },
];

type Set = BTreeMap<String, Vec<RepeatResult>>;

fn value(set: &Set, bench: &str, source: Source) -> Option<f64> {
    let repeats = set.get(bench)?;
    let values: Vec<f64> = repeats
        .iter()
        .filter_map(|r| match source {
            Source::OpsPerSec => Some(r.ops_per_sec),
            Source::LatencyP50 => Some(r.latency_ns_p50 as f64),
            Source::LatencyP99 => Some(r.latency_ns_p99 as f64),
            Source::Figure(name) => r.figures.get(name).copied(),
        })
        .collect();
    (!values.is_empty()).then(|| median(values))
}

fn drawing_error<E: std::fmt::Debug>(error: E) -> BenchError {
    BenchError::new(format!("cannot draw the charts: {error:?}"))
}

fn label(unit: Unit, value: f64) -> String {
    match unit {
        Unit::Rate => format!("{}/s", units::rate(value)),
        Unit::Nanoseconds => units::duration_ns(value),
    }
}

fn draw_peers<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    peers: &Peers,
    bars: &[(&str, f64)],
) -> Fallible<()> {
    let top = bars.iter().map(|b| b.1).fold(1.0, f64::max) * 2.0;
    let bottom = bars.iter().map(|b| b.1).fold(top, f64::min).max(1e-3) / 2.0;
    let mut chart = ChartBuilder::on(area)
        .caption(peers.title, ("sans-serif", 14))
        .margin(8)
        .x_label_area_size(24)
        .y_label_area_size(64)
        .build_cartesian_2d(
            (0..bars.len() as u32).into_segmented(),
            (bottom..top).log_scale(),
        )
        .map_err(drawing_error)?;
    let unit = peers.unit;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_label_formatter(&|segment| match segment {
            SegmentValue::CenterOf(index) | SegmentValue::Exact(index) => bars
                .get(*index as usize)
                .map_or_else(String::new, |bar| bar.0.to_string()),
            SegmentValue::Last => String::new(),
        })
        .y_label_formatter(&|value| label(unit, *value))
        .draw()
        .map_err(drawing_error)?;
    chart
        .draw_series(bars.iter().enumerate().map(|(index, (_, value))| {
            let index = index as u32;
            let color = Palette99::pick(index as usize).filled();
            Rectangle::new(
                [
                    (SegmentValue::Exact(index), bottom),
                    (SegmentValue::Exact(index + 1), *value),
                ],
                color,
            )
        }))
        .map_err(drawing_error)?;
    chart
        .draw_series(bars.iter().enumerate().map(|(index, (_, value))| {
            Text::new(
                label(unit, *value),
                (SegmentValue::CenterOf(index as u32), *value),
                ("sans-serif", 12),
            )
        }))
        .map_err(drawing_error)?;
    Ok(())
}

fn draw_latency<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    bench: &str,
    repeats: &[RepeatResult],
) -> Fallible<()> {
    let points = |r: &RepeatResult| {
        [
            r.latency_ns_p50,
            r.latency_ns_p95,
            r.latency_ns_p99,
            r.latency_ns_max,
        ]
        .map(|ns| ns.max(1) as f64)
    };
    let all: Vec<f64> = repeats.iter().flat_map(points).collect();
    let top = all.iter().copied().fold(1.0, f64::max) * 2.0;
    let bottom = all.iter().copied().fold(top, f64::min) / 2.0;
    let mut chart = ChartBuilder::on(area)
        .caption(format!("{bench}: latency"), ("sans-serif", 14))
        .margin(8)
        .x_label_area_size(24)
        .y_label_area_size(64)
        .build_cartesian_2d(0u32..3u32, (bottom..top).log_scale())
        .map_err(drawing_error)?;
    chart
        .configure_mesh()
        .x_labels(4)
        .x_label_formatter(&|index| ["p50", "p95", "p99", "max"][*index as usize].to_string())
        .y_label_formatter(&|ns| units::duration_ns(*ns))
        .draw()
        .map_err(drawing_error)?;
    for (index, repeat) in repeats.iter().enumerate() {
        let color = Palette99::pick(index).to_rgba();
        chart
            .draw_series(LineSeries::new(
                (0u32..).zip(points(repeat)),
                color.stroke_width(2),
            ))
            .map_err(drawing_error)?
            .label(format!("repeat {index}"))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color));
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .draw()
        .map_err(drawing_error)
}

fn draw_throughput<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    bench: &str,
    repeats: &[RepeatResult],
) -> Fallible<()> {
    let top = repeats.iter().map(|r| r.ops_per_sec).fold(1.0, f64::max) * 1.2;
    let last = repeats.len().saturating_sub(1).max(1) as u32;
    let cv = repeats.first().map_or(0.0, |r| r.ops_per_sec_cv);
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("{bench}: ops/s over repeats (cv {:.1}%)", cv * 100.0),
            ("sans-serif", 14),
        )
        .margin(8)
        .x_label_area_size(24)
        .y_label_area_size(64)
        .build_cartesian_2d(0u32..last, 0.0..top)
        .map_err(drawing_error)?;
    chart
        .configure_mesh()
        .x_desc("repeat")
        .y_label_formatter(&|rate| units::rate(*rate))
        .draw()
        .map_err(drawing_error)?;
    let points: Vec<(u32, f64)> = (0u32..)
        .zip(repeats.iter().map(|r| r.ops_per_sec))
        .collect();
    chart
        .draw_series(LineSeries::new(points.clone(), BLUE.stroke_width(2)))
        .map_err(drawing_error)?;
    chart
        .draw_series(PointSeries::of_element(
            points,
            4,
            BLUE.filled(),
            &|point, size, style| EmptyElement::at(point) + Circle::new((0, 0), size, style),
        ))
        .map_err(drawing_error)?;
    Ok(())
}

/// The page of charts of `set`, as an SVG document.
pub fn render(set: &Set) -> Fallible<String> {
    let peers: Vec<(&Peers, Vec<(&str, f64)>)> = PEERS
        .iter()
        .filter_map(|peers| {
            let bars: Option<Vec<_>> = peers
                .bars
                .iter()
                .map(|(label, bench, source)| Some((*label, value(set, bench, *source)?)))
                .collect();
            Some((peers, bars?))
        })
        .collect();
    let peer_rows = peers.len().div_ceil(PEERS_PER_ROW);
    let rows = peer_rows + set.len();
    let height = HEADER_HEIGHT + ROW_HEIGHT * rows as u32;
    let first = set
        .values()
        .flatten()
        .next()
        .ok_or_else(|| BenchError::new("no results to chart"))?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing_error)?;
        let (header, body) = root.split_vertically(HEADER_HEIGHT);
        let m = &first.metadata;
        for (line, text) in [
            format!(
                "northstar-bench: {} benchmarks, scale {}, commit {}{}, {}",
                set.len(),
                first.scale,
                m.git_commit,
                if m.git_dirty { " (dirty)" } else { "" },
                m.timestamp_utc
            ),
            format!(
                "{} ({} cores), {}, data dir {} ({}), profile {}",
                m.cpu_model,
                m.core_count,
                m.os,
                m.data_dir,
                m.filesystem,
                m.profile.as_deref().unwrap_or("unknown")
            ),
        ]
        .iter()
        .enumerate()
        {
            header
                .draw_text(
                    text,
                    &("sans-serif", 16).into(),
                    (10, 10 + 24 * line as i32),
                )
                .map_err(drawing_error)?;
        }
        let (peer_area, bench_area) = body.split_vertically(ROW_HEIGHT * peer_rows as u32);
        if peer_rows > 0 {
            let cells = peer_area.split_evenly((peer_rows, PEERS_PER_ROW));
            for ((peers, bars), cell) in peers.iter().zip(&cells) {
                draw_peers(cell, peers, bars)?;
            }
        }
        let cells = bench_area.split_evenly((set.len(), 2));
        for ((bench, repeats), pair) in set.iter().zip(cells.chunks(2)) {
            draw_latency(&pair[0], bench, repeats)?;
            draw_throughput(&pair[1], bench, repeats)?;
        }
        root.present().map_err(drawing_error)?;
    }
    Ok(svg)
}

/// `northstar-bench plot`: writes the page; returns where.
pub fn run(args: &PlotArgs) -> Fallible<PathBuf> {
    let set = read_set(&args.dir)?;
    let svg = render(&set)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.dir.join("charts.svg"));
    std::fs::write(&out, svg).map_err(|e| BenchError::io(&out, "write", e))?;
    Ok(out)
}
