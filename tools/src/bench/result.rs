//! The JSON result of one repeat of one benchmark, its file name, and reading and writing
//! result sets (directories of such files).
//!
//! Invariants:
//! - A result file is named `<stem>_r<NNN>.json`: the benchmark name with `/` replaced by
//!   `.`, then the repeat index in three or more digits. Only files named so are part of
//!   a set; anything else in the directory is left alone.
//! - Every result is checked against `benches/results.schema.json` before it is written
//!   and after it is read: an invalid result is never written and never compared.
//! - All repeats of a benchmark carry the same `ops_per_sec_cv` and `stable`, computed
//!   over all of them, so the files are written only once every repeat has finished.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{BenchError, Fallible};
use super::metadata::Metadata;
use super::schema;
use super::suite::file_stem;

/// Version of the result format, `schema_version` in every file.
pub const SCHEMA_VERSION: u32 = 1;

/// What `bytes_written_source` says when bytes are counted from `/proc/self/io`.
pub const BYTES_WRITTEN_BY_WRITE_CALLS: &str = "write_calls";
/// What `bytes_written_source` says when the kernel does not report them (then 0).
pub const BYTES_WRITTEN_UNAVAILABLE: &str = "unavailable";

/// One repeat of one benchmark. Field meanings are in `benches/results.schema.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepeatResult {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Benchmark name, `suite/name[/variant]`.
    pub bench: String,
    /// Suite name: `micro`, `macro` or `hardening`.
    pub suite: String,
    /// Whether the gate fails on a regression of this benchmark.
    pub critical: bool,
    /// Index of this repeat, from 0.
    pub repeat_index: u32,
    /// Repeats of the benchmark in the run.
    pub repeat_count: u32,
    /// Scale factor of the run.
    pub scale: f64,
    /// Threads that ran the operations.
    pub threads: u32,
    /// Measured operations.
    pub ops: u64,
    /// Time they took: sum of the timed operations, or wall time with several threads.
    pub duration_ns: u64,
    /// `ops / duration`.
    pub ops_per_sec: f64,
    /// Median operation latency.
    pub latency_ns_p50: u64,
    /// 95th percentile operation latency.
    pub latency_ns_p95: u64,
    /// 99th percentile operation latency.
    pub latency_ns_p99: u64,
    /// Slowest operation.
    pub latency_ns_max: u64,
    /// Unmeasured operations run before.
    pub warmup_ops: u64,
    /// Time the warm-up took.
    pub warmup_ns: u64,
    /// Bytes passed to `write` calls during the measured operations.
    pub bytes_written: u64,
    /// `bytes_written / ops`.
    pub bytes_written_per_op: f64,
    /// How bytes were counted: [`BYTES_WRITTEN_BY_WRITE_CALLS`] or
    /// [`BYTES_WRITTEN_UNAVAILABLE`].
    pub bytes_written_source: String,
    /// Log fdatasyncs of the database under test.
    pub log_syncs: u64,
    /// Checkpoints (each syncing the page file) during the measured operations.
    pub checkpoints: u64,
    /// `(log_syncs + checkpoints) / ops`.
    pub fsyncs_per_op: f64,
    /// Heap allocations during the measured operations.
    pub allocations: u64,
    /// `allocations / ops`.
    pub allocations_per_op: f64,
    /// Coefficient of variation of `ops_per_sec` over all repeats of the benchmark.
    pub ops_per_sec_cv: f64,
    /// Whether `ops_per_sec_cv <= stable_cv_max` with at least two repeats.
    pub stable: bool,
    /// The threshold `stable` was judged by.
    pub stable_cv_max: f64,
    /// The machine and the code the run measured.
    pub metadata: Metadata,
    /// Named figures of the scenario beyond the common fields (a duplicate-claim count,
    /// a ratio to a peer measured in the same repeat, records replayed per query);
    /// absent when the benchmark has none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub figures: BTreeMap<String, f64>,
}

impl RepeatResult {
    /// The file name of this result.
    pub fn file_name(&self) -> String {
        file_name(&self.bench, self.repeat_index)
    }

    /// This result as JSON, checked against the schema.
    pub fn to_checked_json(&self) -> Fallible<String> {
        let value = serde_json::to_value(self).expect("a result serializes");
        schema::check_result(&value).map_err(|problems| {
            BenchError::new(format!(
                "refusing to write {}: it does not match benches/results.schema.json: {}",
                self.file_name(),
                problems.join("; ")
            ))
        })?;
        // Serialized from the struct, not the value, to keep the fields in their order.
        Ok(serde_json::to_string_pretty(self).expect("a result serializes") + "\n")
    }
}

/// `<stem>_r<NNN>.json` for repeat `repeat_index` of `bench`.
pub fn file_name(bench: &str, repeat_index: u32) -> String {
    format!("{}_r{repeat_index:03}.json", file_stem(bench))
}

/// Whether `name` has the shape of a result file name.
pub fn is_result_file_name(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(".json") else {
        return false;
    };
    match stem.rsplit_once("_r") {
        Some((bench, digits)) => {
            !bench.is_empty() && digits.len() >= 3 && digits.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

/// Result files in `dir` (sorted by name).
pub fn result_files(dir: &Path) -> Fallible<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| BenchError::io(dir, "read directory", e))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| BenchError::io(dir, "read directory", e))?;
        if entry.file_name().to_str().is_some_and(is_result_file_name) {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// Removes the result files of `bench` from `dir`, so a new run leaves no stale repeats.
pub fn remove_results_of(dir: &Path, bench: &str) -> Fallible<()> {
    let prefix = format!("{}_r", file_stem(bench));
    for path in result_files(dir)? {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let rest = name.strip_prefix(&prefix).unwrap_or("_");
        if rest.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
            std::fs::remove_file(&path).map_err(|e| BenchError::io(&path, "remove", e))?;
        }
    }
    Ok(())
}

/// Removes every result file from `dir`.
pub fn remove_all_results(dir: &Path) -> Fallible<()> {
    for path in result_files(dir)? {
        std::fs::remove_file(&path).map_err(|e| BenchError::io(&path, "remove", e))?;
    }
    Ok(())
}

/// Writes the results (all repeats of one benchmark) into `dir`, after checking every
/// one against the schema; writes none if any is invalid.
pub fn write_results(dir: &Path, results: &[RepeatResult]) -> Fallible<Vec<PathBuf>> {
    let texts = results
        .iter()
        .map(|result| Ok((result.file_name(), result.to_checked_json()?)))
        .collect::<Fallible<Vec<_>>>()?;
    std::fs::create_dir_all(dir).map_err(|e| BenchError::io(dir, "create directory", e))?;
    if let Some(first) = results.first() {
        remove_results_of(dir, &first.bench)?;
    }
    let mut paths = Vec::new();
    for (name, text) in texts {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| BenchError::io(&path, "write", e))?;
        paths.push(path);
    }
    Ok(paths)
}

/// Reads one result file, checking it against the schema.
pub fn read_result(path: &Path) -> Fallible<RepeatResult> {
    let text = std::fs::read_to_string(path).map_err(|e| BenchError::io(path, "read", e))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| BenchError::new(format!("{}: not JSON: {e}", path.display())))?;
    schema::check_result(&value).map_err(|problems| {
        BenchError::new(format!(
            "{}: does not match benches/results.schema.json: {}",
            path.display(),
            problems.join("; ")
        ))
    })?;
    serde_json::from_value(value).map_err(|e| BenchError::new(format!("{}: {e}", path.display())))
}

/// Every result in `dir`, grouped by benchmark name, repeats in file-name order.
pub fn read_set(dir: &Path) -> Fallible<BTreeMap<String, Vec<RepeatResult>>> {
    let files = result_files(dir)?;
    if files.is_empty() {
        return Err(BenchError::new(format!(
            "{}: no result files (<bench>_rNNN.json)",
            dir.display()
        )));
    }
    let mut set: BTreeMap<String, Vec<RepeatResult>> = BTreeMap::new();
    for path in files {
        let result = read_result(&path)?;
        set.entry(result.bench.clone()).or_default().push(result);
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result() -> RepeatResult {
        RepeatResult {
            schema_version: SCHEMA_VERSION,
            bench: "macro/get_hot".into(),
            suite: "macro".into(),
            critical: true,
            repeat_index: 0,
            repeat_count: 2,
            scale: 0.5,
            threads: 1,
            ops: 10,
            duration_ns: 1_000,
            ops_per_sec: 1e7,
            latency_ns_p50: 90,
            latency_ns_p95: 120,
            latency_ns_p99: 150,
            latency_ns_max: 200,
            warmup_ops: 1,
            warmup_ns: 100,
            bytes_written: 0,
            bytes_written_per_op: 0.0,
            bytes_written_source: BYTES_WRITTEN_BY_WRITE_CALLS.into(),
            log_syncs: 0,
            checkpoints: 0,
            fsyncs_per_op: 0.0,
            allocations: 0,
            allocations_per_op: 0.0,
            ops_per_sec_cv: 0.01,
            stable: true,
            stable_cv_max: 0.05,
            metadata: Metadata {
                cpu_model: "cpu".into(),
                core_count: 2,
                ram_bytes: 1 << 30,
                os: "Linux".into(),
                data_dir: "/tmp".into(),
                filesystem: "ext4".into(),
                mount_point: "/".into(),
                git_commit: "unknown".into(),
                git_dirty: false,
                timestamp_utc: "2026-01-01T00:00:00Z".into(),
                runner: "northstar-bench 0.1.0".into(),
                profile: Some("ci".into()),
            },
            figures: BTreeMap::from([("duplicate_claims".to_string(), 0.0)]),
        }
    }

    #[test]
    fn a_valid_result_is_written_and_read_back_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let paths = write_results(dir.path(), &[result()]).unwrap();
        assert_eq!(paths, [dir.path().join("macro.get_hot_r000.json")]);
        assert_eq!(read_result(&paths[0]).unwrap(), result());
    }

    #[test]
    fn an_invalid_result_is_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut invalid = result();
        invalid.suite = "nano".into();
        let error = write_results(dir.path(), &[result(), invalid]).unwrap_err();
        assert!(
            error
                .message
                .contains("refusing to write macro.get_hot_r000.json"),
            "{error}"
        );
        assert!(
            error.message.contains("/suite: \"nano\" is not one of"),
            "{error}"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn result_file_names_carry_the_bench_and_a_three_digit_repeat() {
        assert_eq!(
            file_name("macro/commit_durable/1_thread", 7),
            "macro.commit_durable.1_thread_r007.json"
        );
        assert!(is_result_file_name("macro.get_hot_r000.json"));
        assert!(is_result_file_name("macro.get_hot_r1000.json"));
        assert!(!is_result_file_name("macro.get_hot_r00.json"));
        assert!(!is_result_file_name("macro.get_hot.json"));
        assert!(!is_result_file_name("results.schema.json"));
    }

    #[test]
    fn removing_one_bench_leaves_benches_with_longer_names() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "macro.commit_r000.json",
            "macro.commit_batch_r000.json",
            "notes.json",
        ] {
            std::fs::write(dir.path().join(name), "{}").unwrap();
        }
        remove_results_of(dir.path(), "macro/commit").unwrap();
        let mut left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["macro.commit_batch_r000.json", "notes.json"]);
    }
}
