//! The code knowledge graph scenario: a synthetic repository (fixed seed) ingested as
//! keys, then the queries a code assistant asks of it, each checked against the
//! generator's model.
//!
//! Repository at full scale: 10,000 files in 100 modules (`src/mod_NNN/file_NNNNN.rs`),
//! 10 functions per file (100,000), 5 calls per function to random functions (500,000
//! call edges), 8 imports per file of random files (80,000). Keyspaces:
//!
//! | keyspace | key | value |
//! |---|---|---|
//! | `files` | path | first function id `u32` LE, function count `u32` LE |
//! | `functions` | function id `u32` BE | `path::fn_ID` |
//! | `calls` | caller id BE, callee id BE | empty |
//! | `callers` | callee id BE, caller id BE | empty |
//! | `imports` | importer path, `0x00`, imported path | empty |
//!
//! Ingest: durable txns of 10,000 keys; its time, keys per second and the page file's
//! size are reported (`ingest_ns`, `ingest_keys_per_sec`, `index_bytes`).
//!
//! - `query_mix`: one op is one query: 40% callers of a random function (prefix scan of
//!   `callers`), 30% dependencies of a random module (prefix scan of `imports` by the
//!   module's path, distinct imported files outside it), 30% the files of a random
//!   module (range scan of `files` by path); 20,000 queries. Per-kind p50/p99 figures;
//!   `hot_rss_growth_bytes` is the process's resident memory growth from before the
//!   ingest (the model already generated) to after every key was read once (the hot
//!   footprint of the index: its pages mapped and cached).
//! - `callers_of_x`: callers of a random function through `callers`; 20,000 queries. The
//!   peer measured in the same repeat answers the same question by scanning `calls`
//!   whole (20 queries): `scan_latency_ns_p99` and `scan_p99_over_index_p99`.
//!
//! Correctness: every answer equals the model's (a failure fails the run).

use std::collections::BTreeSet;
use std::time::Instant;

use hdrhistogram::Histogram;
use northstar::{Db, ReadTxn};
use tempfile::TempDir;

use super::context::Context;
use super::error::{BenchError, Fallible};
use super::fixtures::{self, bench_options, XorShift, SEED};
use super::measure::{latency_histogram, run_ops, Probe, Sample};

/// Files at full scale.
const FILES_FULL: u64 = 10_000;
/// Files per module.
const FILES_PER_MODULE: u64 = 100;
/// Functions per file.
const FUNCTIONS_PER_FILE: u64 = 10;
/// Calls per function.
const CALLS_PER_FUNCTION: u64 = 5;
/// Imports per file.
const IMPORTS_PER_FILE: u64 = 8;
/// Keys per ingest txn.
const INGEST_TXN_KEY_COUNT: usize = 10_000;

const KEYSPACES: [&str; 5] = ["files", "functions", "calls", "callers", "imports"];

/// The generated repository: the model every answer is checked against.
pub struct Repository {
    files: u64,
    /// Callers of each function, sorted.
    callers: Vec<Vec<u32>>,
    /// Files each file imports, sorted and distinct.
    imports: Vec<Vec<u32>>,
}

impl Repository {
    fn generate(files: u64) -> Repository {
        let functions = files * FUNCTIONS_PER_FILE;
        let mut rng = XorShift::new(SEED);
        let mut callers = vec![Vec::new(); functions as usize];
        for caller in 0..functions as u32 {
            for _ in 0..CALLS_PER_FUNCTION {
                callers[rng.below(functions) as usize].push(caller);
            }
        }
        for list in &mut callers {
            list.sort_unstable();
            list.dedup();
        }
        let imports = (0..files)
            .map(|_| {
                let set: BTreeSet<u32> = (0..IMPORTS_PER_FILE)
                    .map(|_| rng.below(files) as u32)
                    .collect();
                set.into_iter().collect()
            })
            .collect();
        Repository {
            files,
            callers,
            imports,
        }
    }

    fn modules(&self) -> u64 {
        self.files.div_ceil(FILES_PER_MODULE)
    }

    fn functions(&self) -> u64 {
        self.callers.len() as u64
    }

    /// The distinct files imported by the files of `module`, outside it.
    fn dependencies(&self, module: u64) -> BTreeSet<String> {
        let files = module_files(module, self.files);
        files
            .clone()
            .flat_map(|file| &self.imports[file as usize])
            .filter(|&&imported| !files.contains(&u64::from(imported)))
            .map(|&imported| path(u64::from(imported)))
            .collect()
    }
}

fn module_files(module: u64, files: u64) -> std::ops::Range<u64> {
    module * FILES_PER_MODULE..((module + 1) * FILES_PER_MODULE).min(files)
}

fn module_prefix(module: u64) -> String {
    format!("src/mod_{module:03}/")
}

fn path(file: u64) -> String {
    format!(
        "{}file_{file:05}.rs",
        module_prefix(file / FILES_PER_MODULE)
    )
}

fn edge(first: u32, second: u32) -> [u8; 8] {
    let mut key = [0u8; 8];
    key[..4].copy_from_slice(&first.to_be_bytes());
    key[4..].copy_from_slice(&second.to_be_bytes());
    key
}

/// The repository ingested into a database, open for the run.
pub struct Graph {
    db: Db,
    _dir: TempDir,
    repository: Repository,
    ingest_ns: u64,
    key_count: u64,
    hot_rss_growth_bytes: u64,
}

fn ingest(ctx: &Context) -> Fallible<Graph> {
    let repository = Repository::generate(ctx.scaled(FILES_FULL, 50));
    let resident_before = resident_bytes();
    let dir = fixtures::temp_dir(&ctx.data_dir)?;
    let db = Db::open(dir.path(), bench_options())?;
    let mut txn = db.begin_write()?;
    for name in KEYSPACES {
        txn.create_keyspace(name)?;
    }
    txn.commit()?;
    let mut pending: Vec<(usize, Vec<u8>, Vec<u8>)> = Vec::with_capacity(INGEST_TXN_KEY_COUNT);
    let mut key_count = 0u64;
    let started = Instant::now();
    let flush = |pending: &mut Vec<(usize, Vec<u8>, Vec<u8>)>, force: bool| -> Fallible<()> {
        let due = pending.len() >= INGEST_TXN_KEY_COUNT || (force && !pending.is_empty());
        if !due {
            return Ok(());
        }
        let mut txn = db.begin_write()?;
        for (keyspace, key, value) in pending.drain(..) {
            txn.keyspace(KEYSPACES[keyspace])?.put(key, value)?;
        }
        txn.commit()?;
        Ok(())
    };
    for file in 0..repository.files {
        let first = (file * FUNCTIONS_PER_FILE) as u32;
        let mut record = first.to_le_bytes().to_vec();
        record.extend_from_slice(&(FUNCTIONS_PER_FILE as u32).to_le_bytes());
        pending.push((0, path(file).into_bytes(), record));
        for function in first..first + FUNCTIONS_PER_FILE as u32 {
            let name = format!("{}::fn_{function}", path(file));
            pending.push((1, function.to_be_bytes().to_vec(), name.into_bytes()));
        }
        for &imported in &repository.imports[file as usize] {
            let mut key = path(file).into_bytes();
            key.push(0);
            key.extend_from_slice(path(u64::from(imported)).as_bytes());
            pending.push((4, key, Vec::new()));
        }
        key_count += 1 + FUNCTIONS_PER_FILE + repository.imports[file as usize].len() as u64;
        flush(&mut pending, false)?;
    }
    for (callee, callers) in repository.callers.iter().enumerate() {
        for &caller in callers {
            pending.push((2, edge(caller, callee as u32).to_vec(), Vec::new()));
            pending.push((3, edge(callee as u32, caller).to_vec(), Vec::new()));
            key_count += 2;
            flush(&mut pending, false)?;
        }
    }
    flush(&mut pending, true)?;
    let ingest_ns = started.elapsed().as_nanos() as u64;
    let txn = db.begin_read()?;
    let mut read = 0u64;
    for name in KEYSPACES {
        for entry in txn.keyspace(name)?.iter()? {
            std::hint::black_box(entry?);
            read += 1;
        }
    }
    drop(txn);
    if read != key_count {
        return Err(BenchError::new(format!(
            "the graph holds {read} keys, {key_count} were ingested"
        )));
    }
    Ok(Graph {
        db,
        _dir: dir,
        repository,
        ingest_ns,
        key_count,
        hot_rss_growth_bytes: resident_bytes().saturating_sub(resident_before),
    })
}

fn graph(ctx: &Context) -> Fallible<std::rc::Rc<Graph>> {
    ctx.fixtures
        .scenario("code knowledge graph", || ingest(ctx))
}

/// Callers of `function` through the `callers` keyspace.
fn callers_by_index(txn: &ReadTxn<'_>, function: u32) -> Fallible<Vec<u32>> {
    let mut found = Vec::new();
    for entry in txn.keyspace("callers")?.prefix(function.to_be_bytes())? {
        let (key, _) = entry?;
        found.push(u32::from_be_bytes(
            key[4..8].try_into().expect("8-byte edges"),
        ));
    }
    Ok(found)
}

/// Callers of `function` by scanning every edge of `calls`.
fn callers_by_scan(txn: &ReadTxn<'_>, function: u32) -> Fallible<Vec<u32>> {
    let mut found = Vec::new();
    for entry in txn.keyspace("calls")?.iter()? {
        let (key, _) = entry?;
        if key[4..8] == function.to_be_bytes() {
            found.push(u32::from_be_bytes(
                key[..4].try_into().expect("8-byte edges"),
            ));
        }
    }
    Ok(found)
}

fn check_callers(graph: &Graph, function: u32, found: &[u32]) -> Fallible<()> {
    let expected = &graph.repository.callers[function as usize];
    if found != expected.as_slice() {
        return Err(BenchError::new(format!(
            "callers of function {function}: found {} ({found:?}), the model has {} ({expected:?})",
            found.len(),
            expected.len()
        )));
    }
    Ok(())
}

fn dependencies(txn: &ReadTxn<'_>, graph: &Graph, module: u64) -> Fallible<()> {
    let prefix = module_prefix(module);
    let mut found = BTreeSet::new();
    for entry in txn.keyspace("imports")?.prefix(prefix.as_bytes())? {
        let (key, _) = entry?;
        let at = key
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| BenchError::new(format!("import key {key:?} has no separator")))?;
        let imported = String::from_utf8_lossy(&key[at + 1..]).into_owned();
        if !imported.starts_with(&prefix) {
            found.insert(imported);
        }
    }
    if found != graph.repository.dependencies(module) {
        return Err(BenchError::new(format!(
            "dependencies of {prefix}: found {} files, the model has {}",
            found.len(),
            graph.repository.dependencies(module).len()
        )));
    }
    Ok(())
}

fn module_files_by_path(txn: &ReadTxn<'_>, graph: &Graph, module: u64) -> Fallible<()> {
    let prefix = module_prefix(module);
    let mut expected = module_files(module, graph.repository.files).map(path);
    for entry in txn.keyspace("files")?.prefix(prefix.as_bytes())? {
        let (key, _) = entry?;
        if expected.next().as_deref().map(str::as_bytes) != Some(key) {
            return Err(BenchError::new(format!(
                "files under {prefix}: {:?} is not the next file of the model",
                String::from_utf8_lossy(key)
            )));
        }
    }
    match expected.next() {
        Some(missing) => Err(BenchError::new(format!("{missing} is missing"))),
        None => Ok(()),
    }
}

fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kib| kib.trim().strip_suffix("kB")?.trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

fn record_ingest(sample: &mut Sample, graph: &Graph) -> Fallible<()> {
    let path = graph.db.page_file_path();
    let bytes = std::fs::metadata(path)
        .map_err(|e| BenchError::io(path, "stat", e))?
        .len();
    sample.figure("ingest_ns", graph.ingest_ns as f64);
    sample.figure(
        "ingest_keys_per_sec",
        graph.key_count as f64 * 1e9 / graph.ingest_ns.max(1) as f64,
    );
    sample.figure("index_bytes", bytes as f64);
    sample.figure("keys", graph.key_count as f64);
    Ok(())
}

fn record_latency(sample: &mut Sample, kind: &str, latency_ns: &Histogram<u64>) {
    for (quantile, name) in [(0.5, "p50"), (0.99, "p99")] {
        sample.figure(
            &format!("{kind}_latency_ns_{name}"),
            latency_ns.value_at_quantile(quantile) as f64,
        );
    }
}

/// `macro/knowledge_graph/query_mix`.
pub fn query_mix(ctx: &Context) -> Fallible<Sample> {
    let graph = graph(ctx)?;
    let repository = &graph.repository;
    let txn = graph.db.begin_read()?;
    let mut rng = XorShift::new(SEED);
    let mut kinds = [
        latency_histogram(),
        latency_histogram(),
        latency_histogram(),
    ];
    let mut sample = run_ops(&ctx.plan(20_000, 30), &Probe::reads(&graph.db), || {
        let roll = rng.below(10);
        let started = Instant::now();
        let kind = if roll < 4 {
            let function = rng.below(repository.functions()) as u32;
            check_callers(&graph, function, &callers_by_index(&txn, function)?)?;
            0
        } else if roll < 7 {
            dependencies(&txn, &graph, rng.below(repository.modules()))?;
            1
        } else {
            module_files_by_path(&txn, &graph, rng.below(repository.modules()))?;
            2
        };
        kinds[kind].saturating_record(started.elapsed().as_nanos() as u64);
        Ok(())
    })?;
    for (kind, name) in kinds
        .iter()
        .zip(["callers", "dependencies", "files_by_path"])
    {
        record_latency(&mut sample, name, kind);
    }
    record_ingest(&mut sample, &graph)?;
    sample.figure("hot_rss_growth_bytes", graph.hot_rss_growth_bytes as f64);
    Ok(sample)
}

/// `macro/knowledge_graph/callers_of_x`.
pub fn callers_of_x(ctx: &Context) -> Fallible<Sample> {
    let graph = graph(ctx)?;
    let functions = graph.repository.functions();
    let txn = graph.db.begin_read()?;
    let mut rng = XorShift::new(SEED);
    let mut sample = run_ops(&ctx.plan(20_000, 30), &Probe::reads(&graph.db), || {
        let function = rng.below(functions) as u32;
        check_callers(&graph, function, &callers_by_index(&txn, function)?)
    })?;
    let mut scan_ns = latency_histogram();
    for _ in 0..ctx.scaled(20, 3) {
        let function = rng.below(functions) as u32;
        let started = Instant::now();
        let found = callers_by_scan(&txn, function)?;
        scan_ns.saturating_record(started.elapsed().as_nanos() as u64);
        check_callers(&graph, function, &found)?;
    }
    record_latency(&mut sample, "scan", &scan_ns);
    sample.figure(
        "scan_p99_over_index_p99",
        scan_ns.value_at_quantile(0.99) as f64
            / sample.latency_ns.value_at_quantile(0.99).max(1) as f64,
    );
    record_ingest(&mut sample, &graph)?;
    Ok(sample)
}
