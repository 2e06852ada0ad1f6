//! End-to-end test of `northstar-bench plot`: the page of charts of a tiny run is a
//! well-formed SVG document holding, for every benchmark, its latency lines (one per
//! repeat) and its throughput chart, and the peer charts of the benchmarks that ran.

mod common;

use common::{assert_exit, northstar_bench, path_str, TINY_RUN};

/// Filters of the tiny run: two peer pairs and one benchmark without a peer.
const FILTERS: [&str; 3] = [
    "macro/task_queue/claims_8_agents",
    "macro/commit_durable",
    "micro/page_read",
];

/// The benchmarks those filters select.
const BENCHES: [&str; 5] = [
    "macro/commit_durable/1_thread",
    "macro/commit_durable/4_threads",
    "macro/task_queue/claims_8_agents",
    "macro/task_queue/claims_8_agents_long_snapshot",
    "micro/page_read",
];

#[test]
fn the_page_of_charts_is_an_svg_document_with_every_series() {
    let temp = tempfile::tempdir().expect("temporary directory");
    let run = temp.path().join("run");
    let mut arguments = TINY_RUN.to_vec();
    for filter in FILTERS {
        arguments.extend(["--filter", filter]);
    }
    arguments.extend(["--out", path_str(&run)]);
    assert_exit(&northstar_bench(&arguments), 0);

    let page = temp.path().join("page.svg");
    let plotted = northstar_bench(&["plot", path_str(&run), "--out", path_str(&page)]);
    assert_exit(&plotted, 0);
    let text = std::fs::read_to_string(&page).expect("read the page");
    let document = roxmltree::Document::parse(&text).expect("the page is well-formed XML");
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );

    let texts: Vec<String> = document
        .descendants()
        .filter(|node| node.has_tag_name("text"))
        .map(|node| node.text().unwrap_or_default().trim().to_string())
        .collect();
    let has_text = |wanted: &str| texts.iter().any(|text| text == wanted);
    for bench in BENCHES {
        assert!(has_text(&format!("{bench}: latency")), "{bench}: {texts:?}");
        assert!(
            texts
                .iter()
                .any(|text| text.starts_with(&format!("{bench}: ops/s over repeats"))),
            "{bench}"
        );
    }
    for title in [
        "task queue: claims/s (8 agents) vs 1-thread commits/s",
        "task queue: claims/s, long snapshot held or not",
        "durable commits/s: 1 thread vs 4 threads",
    ] {
        assert!(has_text(title), "{title}: {texts:?}");
    }
    assert!(!has_text("AS OF 100k txns back: p50 latency"));
    assert!(has_text("repeat 0") && has_text("repeat 1"));

    // One latency line per repeat and one throughput line per benchmark.
    let lines = document
        .descendants()
        .filter(|node| node.has_tag_name("polyline"))
        .count();
    assert!(lines >= BENCHES.len() * 3, "{lines} polylines");
}
