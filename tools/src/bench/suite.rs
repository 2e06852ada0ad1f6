//! The registry of benchmarks: each one's name, suite, whether the gate guards it, what
//! it measures, and the workload that runs it.
//!
//! Invariants:
//! - Names are unique, start with their suite (`suite/name[/variant]`) and use only
//!   lowercase letters, digits, `_` and `/`, so [`file_stem`] maps them one-to-one onto
//!   file names.
//! - A benchmark is critical when a regression in it should stop a change: the paths
//!   every application takes. `commit_durable/4_threads` is not, because its syncs per
//!   op depend on how the threads happen to meet in group commit.

use std::fmt;

use super::context::Context;
use super::error::Fallible;
use super::measure::Sample;
use super::{
    cartridge_scan, hardening, knowledge_graph, micro, mvcc, task_queue, time_travel, workloads,
};

/// A group of benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Suite {
    /// One layer of the engine at a time.
    Micro,
    /// What an application does, end to end.
    Macro,
    /// The cost of validation and crash recovery.
    Hardening,
}

impl Suite {
    /// Every suite, in listing order.
    pub const ALL: [Suite; 3] = [Suite::Micro, Suite::Macro, Suite::Hardening];

    /// The suite's name, as in benchmark names and results.
    pub fn name(self) -> &'static str {
        match self {
            Suite::Micro => "micro",
            Suite::Macro => "macro",
            Suite::Hardening => "hardening",
        }
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One benchmark.
pub struct Bench {
    /// Unique name, `suite/name[/variant]`.
    pub name: &'static str,
    /// Its suite.
    pub suite: Suite,
    /// Whether `gate` fails on a regression of it.
    pub critical: bool,
    /// What one operation is, in a line.
    pub summary: &'static str,
    /// Runs one repeat.
    pub run: fn(&Context) -> Fallible<Sample>,
}

/// Every benchmark, grouped by suite in listing order.
pub const BENCHES: &[Bench] = &[
    Bench {
        name: "micro/page_read",
        suite: Suite::Micro,
        critical: false,
        summary: "View::node of a random tree page, checksums verified beforehand",
        run: micro::page_read,
    },
    Bench {
        name: "micro/record_append",
        suite: Suite::Micro,
        critical: false,
        summary: "build, seal and append a one-put commit record, no sync",
        run: micro::record_append,
    },
    Bench {
        name: "micro/snapshot_open_close",
        suite: Suite::Micro,
        critical: false,
        summary: "begin_read and drop on a 1M-key database",
        run: micro::snapshot_open_close,
    },
    Bench {
        name: "micro/pager/read_page_random_16k_cold",
        suite: Suite::Micro,
        critical: false,
        summary: "pread and verify a random 16 KiB tree page after dropping it from the OS cache",
        run: micro::read_page_random_16k_cold,
    },
    Bench {
        name: "micro/mvcc/readers_256_point_get_hot",
        suite: Suite::Micro,
        critical: false,
        summary: "get of a random key, 256 threads each in its own read txn, 1M keys",
        run: mvcc::readers_256_point_get_hot,
    },
    Bench {
        name: "micro/mvcc/writer_commits_with_readers_128",
        suite: Suite::Micro,
        critical: false,
        summary: "durable one-put commit while 128 threads open snapshots and read",
        run: mvcc::writer_commits_with_readers_128,
    },
    Bench {
        name: "macro/commit_durable/1_thread",
        suite: Suite::Macro,
        critical: true,
        summary: "durable txn of one random put, one thread",
        run: workloads::commit_durable_1_thread,
    },
    Bench {
        name: "macro/commit_durable/4_threads",
        suite: Suite::Macro,
        critical: false,
        summary: "durable txn of one random put, 4 threads in group commit",
        run: workloads::commit_durable_4_threads,
    },
    Bench {
        name: "macro/commit_batch_1k",
        suite: Suite::Macro,
        critical: true,
        summary: "durable txn of 1,000 random puts",
        run: workloads::commit_batch_1k,
    },
    Bench {
        name: "macro/get_hot",
        suite: Suite::Macro,
        critical: true,
        summary: "get of a random key, 1M keys, pages cached",
        run: workloads::get_hot,
    },
    Bench {
        name: "macro/range_scan_1k",
        suite: Suite::Macro,
        critical: true,
        summary: "1,000 rows in order from a random key, 1M keys",
        run: workloads::range_scan_1k,
    },
    Bench {
        name: "macro/bulk_load",
        suite: Suite::Macro,
        critical: true,
        summary: "durable txn of 10,000 ascending puts into a growing database",
        run: workloads::bulk_load,
    },
    Bench {
        name: "macro/as_of_read_100",
        suite: Suite::Macro,
        critical: true,
        summary: "begin_read_at 100 commits back (100 records replayed) and one get",
        run: workloads::as_of_read_100,
    },
    Bench {
        name: "macro/recovery_replay",
        suite: Suite::Macro,
        critical: true,
        summary: "open replaying 1,000 un-checkpointed single-put commits",
        run: workloads::recovery_replay,
    },
    Bench {
        name: "macro/task_queue/claims_8_agents",
        suite: Suite::Macro,
        critical: true,
        summary: "durable claim (check and set) of the oldest pending task of a type, 8 agents, each then completing it",
        run: task_queue::claims_8_agents,
    },
    Bench {
        name: "macro/task_queue/claims_8_agents_long_snapshot",
        suite: Suite::Macro,
        critical: false,
        summary: "the same claims with one read txn held open throughout; ratio to a phase without it",
        run: task_queue::claims_8_agents_long_snapshot,
    },
    Bench {
        name: "macro/time_travel/as_of_100k_back/retain_every_1000",
        suite: Suite::Macro,
        critical: true,
        summary: "begin_read_at 100k txns back in a 1M-txn history, a snapshot kept every 1,000 txns, and one get checked against the model",
        run: time_travel::as_of_retained,
    },
    Bench {
        name: "macro/time_travel/as_of_100k_back/no_retention",
        suite: Suite::Macro,
        critical: false,
        summary: "the same AS OF reads with no retained snapshot: replay from the log's start",
        run: time_travel::as_of_without_retention,
    },
    Bench {
        name: "macro/time_travel/as_of_100k_back/key_history",
        suite: Suite::Macro,
        critical: false,
        summary: "the same AS OF point reads from a key_history cartridge built from the log",
        run: time_travel::as_of_key_history,
    },
    Bench {
        name: "macro/knowledge_graph/query_mix",
        suite: Suite::Macro,
        critical: false,
        summary: "one query of a code graph (10k files, 500k calls): callers of X, dependencies of a module, files by path",
        run: knowledge_graph::query_mix,
    },
    Bench {
        name: "macro/knowledge_graph/callers_of_x",
        suite: Suite::Macro,
        critical: false,
        summary: "callers of a random function by a prefix scan of the reverse edges; a full edge scan as the peer",
        run: knowledge_graph::callers_of_x,
    },
    Bench {
        name: "macro/cartridge/pending_tasks_by_type",
        suite: Suite::Macro,
        critical: true,
        summary: "first 10 pending tasks of a type in run order from a pending_tasks_by_type cartridge; a scan of 1M tasks as the peer",
        run: cartridge_scan::pending_tasks_by_type,
    },
    Bench {
        name: "hardening/validate",
        suite: Suite::Hardening,
        critical: false,
        summary: "Db::check of a 1M-key database",
        run: hardening::validate,
    },
    Bench {
        name: "hardening/crash_image_recovery",
        suite: Suite::Hardening,
        critical: false,
        summary: "copy the files of a live database and open the copy",
        run: hardening::crash_image_recovery,
    },
];

/// The benchmark named `name`.
pub fn find(name: &str) -> Option<&'static Bench> {
    BENCHES.iter().find(|bench| bench.name == name)
}

/// The benchmarks whose name contains any of `filters` (all when there are none).
pub fn matching(filters: &[String]) -> Vec<&'static Bench> {
    BENCHES
        .iter()
        .filter(|bench| {
            filters.is_empty() || filters.iter().any(|f| bench.name.contains(f.as_str()))
        })
        .collect()
}

/// The file name stem of `bench`'s results: its name with `/` replaced by `.`.
pub fn file_stem(bench: &str) -> String {
    bench.replace('/', ".")
}

/// The `list` output: benchmarks by suite, critical ones marked `*`.
pub fn listing(benches: &[&Bench]) -> String {
    let width = benches
        .iter()
        .map(|bench| bench.name.len())
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    for suite in Suite::ALL {
        let members: Vec<_> = benches
            .iter()
            .filter(|bench| bench.suite == suite)
            .collect();
        if members.is_empty() {
            continue;
        }
        text.push_str(&format!("{suite}\n"));
        for bench in members {
            let mark = if bench.critical { '*' } else { ' ' };
            text.push_str(&format!(
                "  {mark} {:width$}  {}\n",
                bench.name, bench.summary
            ));
        }
    }
    text.push_str("\n* critical: `northstar-bench gate` fails when it regresses\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_start_with_their_suite() {
        for (index, bench) in BENCHES.iter().enumerate() {
            assert!(
                bench.name.starts_with(&format!("{}/", bench.suite)),
                "{}",
                bench.name
            );
            assert!(
                bench
                    .name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '/'),
                "{}",
                bench.name
            );
            assert!(BENCHES[..index]
                .iter()
                .all(|other| other.name != bench.name));
        }
    }

    #[test]
    fn benches_are_listed_in_suite_order() {
        let suites: Vec<_> = BENCHES.iter().map(|bench| bench.suite).collect();
        let mut sorted = suites.clone();
        sorted.sort();
        assert_eq!(suites, sorted);
    }

    #[test]
    fn filters_match_substrings_of_names() {
        let names: Vec<_> = matching(&["commit_durable".into()])
            .iter()
            .map(|bench| bench.name)
            .collect();
        assert_eq!(
            names,
            [
                "macro/commit_durable/1_thread",
                "macro/commit_durable/4_threads"
            ]
        );
        assert_eq!(matching(&[]).len(), BENCHES.len());
    }

    #[test]
    fn file_stems_replace_slashes_with_dots() {
        assert_eq!(
            file_stem("macro/commit_durable/1_thread"),
            "macro.commit_durable.1_thread"
        );
    }
}
