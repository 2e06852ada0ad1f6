//! Building a cartridge from the commit log, and catching one up with newer records.
//!
//! Invariants:
//! - A build is a pure function of the log (up to its target txn) and the recipe: the
//!   same inputs give the same bytes, whatever the memory budget.
//! - A catch-up merges the old cartridge with the records after it when that reads less
//!   of the log than a full build; either way the result equals a full build at the same
//!   txn, byte for byte.
//! - Only logs that start at txn 1 are built from: before its first record the state is
//!   not in the log, and an index of part of it would answer wrongly.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use northstar::TxnId;

use crate::delta::{Delta, Stamp};
use crate::error::{CartridgeError, Result};
use crate::format::{params_hash, Kind};
use crate::kinds::extractor::{valid_name, Extractor};
use crate::kinds::tasks::PendingTasks;
use crate::kinds::{key_history, state};
use crate::map::{Cartridge, TableId};
use crate::sort::{Sorter, MEMORY_BUDGET_DEFAULT};
use crate::source::{encode_keyspaces, Change, LogSource, Position};
use crate::write::{write_cartridge, HeaderFields, TableWriter};

/// Subdirectory of a database directory holding its cartridges.
pub const CARTRIDGE_DIR: &str = "cartridges";
/// File extension of a cartridge.
pub const CARTRIDGE_EXTENSION: &str = "cart";
/// Logs smaller than this build without a progress bar.
const PROGRESS_LOG_SIZE_MIN: u64 = 16 << 20;

/// What a cartridge indexes.
#[derive(Clone)]
pub enum Recipe {
    /// Every version of every key.
    KeyHistory,
    /// Pending tasks by type (`spec/task_queue_v1.md`).
    PendingTasks(PendingTasks),
    /// A user-defined extractor.
    Extractor(Arc<dyn Extractor>),
}

impl std::fmt::Debug for Recipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Recipe({})", self.name())
    }
}

impl Recipe {
    /// The kind code.
    pub fn kind(&self) -> Kind {
        match self {
            Recipe::KeyHistory => Kind::KeyHistory,
            Recipe::PendingTasks(_) => Kind::PendingTasksByType,
            Recipe::Extractor(_) => Kind::Extractor,
        }
    }

    /// The kind name, also the cartridge's file name.
    pub fn name(&self) -> &str {
        match self {
            Recipe::KeyHistory => Kind::KeyHistory.name(),
            Recipe::PendingTasks(tasks) => tasks.name(),
            Recipe::Extractor(extractor) => extractor.name(),
        }
    }

    /// The build parameters.
    pub fn params(&self) -> Vec<u8> {
        self.extractor().map(Extractor::params).unwrap_or_default()
    }

    /// The hash of the name and parameters, as a header stores it.
    pub fn params_hash(&self) -> u64 {
        params_hash(self.name(), &self.params())
    }

    /// The extractor of a state-derived kind.
    pub fn extractor(&self) -> Option<&dyn Extractor> {
        match self {
            Recipe::KeyHistory => None,
            Recipe::PendingTasks(tasks) => Some(tasks),
            Recipe::Extractor(extractor) => Some(extractor.as_ref()),
        }
    }
}

/// How to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Last txn to cover (default: the last in the log).
    pub up_to: Option<TxnId>,
    /// Memory the sorter may fill before spilling runs to disk.
    pub memory_budget: usize,
    /// Draw a progress bar for long builds when stderr is a terminal.
    pub progress: bool,
    /// How a catch-up should work: `None` picks whichever reads less of the log; a
    /// merge is only done when the old cartridge allows it (same database, recipe and
    /// log), whatever is asked.
    pub catch_up_method: Option<Method>,
}

impl Default for BuildOptions {
    fn default() -> BuildOptions {
        BuildOptions {
            up_to: None,
            memory_budget: MEMORY_BUDGET_DEFAULT,
            progress: false,
            catch_up_method: None,
        }
    }
}

/// How a cartridge was produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Read from the log's first record.
    Full,
    /// The old cartridge merged with the records after it.
    Merge,
}

/// What a build did.
#[derive(Debug, Clone)]
pub struct BuildReport {
    /// The cartridge written.
    pub path: PathBuf,
    /// Txns covered.
    pub txn_from: TxnId,
    /// Last txn covered.
    pub txn_to: TxnId,
    /// Entries in the index table.
    pub entry_count: u64,
    /// File size.
    pub file_size: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Full build or merge.
    pub method: Method,
}

/// The path of cartridge `name` of the database in `db_dir`.
pub fn cartridge_path(db_dir: &Path, name: &str) -> PathBuf {
    db_dir
        .join(CARTRIDGE_DIR)
        .join(format!("{name}.{CARTRIDGE_EXTENSION}"))
}

fn check_recipe(recipe: &Recipe) -> Result<()> {
    if !valid_name(recipe.name()) {
        return Err(CartridgeError::InvalidParams(format!(
            "cartridge name {:?} is not 1 to 32 bytes of [a-z0-9_]",
            recipe.name()
        )));
    }
    Ok(())
}

/// Builds cartridge `recipe` at `path` from every record of `log` up to `options.up_to`.
///
/// Errors: [`CartridgeError::InvalidParams`] for a bad name or a target past the log's
/// end; [`CartridgeError::LogMismatch`] when the log does not start at txn 1;
/// [`CartridgeError::Log`] for a damaged log; [`CartridgeError::Io`] writing.
///
/// ```
/// use northstar::{Db, Options};
/// use northstar_cartridges::{build_at, catch_up_at, BuildOptions, Cartridge, LogSource, Method, Recipe};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// for round in 0..10u32 {
///     let mut txn = db.begin_write()?;
///     txn.put(round.to_be_bytes(), b"v")?;
///     txn.commit()?;
/// }
/// let log = LogSource::open(dir.path())?;
/// let path = dir.path().join("history.cart");
/// let up_to_8 = BuildOptions { up_to: Some(8), ..BuildOptions::default() };
/// build_at(&log, &path, &Recipe::KeyHistory, &up_to_8)?;
/// let old = Cartridge::open(&path)?;
/// assert_eq!(old.txn_to(), 8);
///
/// // Two newer txns: merged into a new cartridge, equal to a full build byte for byte.
/// let report = catch_up_at(&old, &log, &path, &Recipe::KeyHistory, &BuildOptions::default())?;
/// assert_eq!((report.txn_to, report.method), (10, Method::Merge));
/// let full = dir.path().join("full.cart");
/// build_at(&log, &full, &Recipe::KeyHistory, &BuildOptions::default())?;
/// assert_eq!(std::fs::read(&path)?, std::fs::read(&full)?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn build_at(
    log: &LogSource,
    path: &Path,
    recipe: &Recipe,
    options: &BuildOptions,
) -> Result<BuildReport> {
    check_recipe(recipe)?;
    let started = Instant::now();
    let start = log.start();
    if start.txn != 0 {
        return Err(CartridgeError::LogMismatch {
            path: path.to_path_buf(),
            detail: format!(
                "{} starts at txn {}: the state before it is not in the log",
                log.path().display(),
                start.txn + 1
            ),
        });
    }
    let dir = create_dir(path)?;
    let bar = progress_bar(options, log, recipe.name());
    let (sorter, drops, position) = sort_changes(log, &start, recipe, options, dir, &bar)?;
    bar.finish_and_clear();
    let mut writers = [TableWriter::new(dir)?, TableWriter::new(dir)?];
    let [index, sources] = &mut writers;
    match recipe.extractor() {
        None => key_history::write_table(sorter.finish()?, &drops, index)?,
        Some(_) => state::write_full(
            sorter.finish()?,
            &drops,
            dir,
            options.memory_budget,
            [index, sources],
        )?,
    }
    finish(path, recipe, log, &position, writers, started, Method::Full)
}

/// Sorts the changes of `log` after `start` (up to `options.up_to`) that `recipe` reads,
/// and collects the keyspace drops; the position reached.
fn sort_changes(
    log: &LogSource,
    start: &Position,
    recipe: &Recipe,
    options: &BuildOptions,
    dir: &Path,
    bar: &ProgressBar,
) -> Result<(Sorter, Drops, Position)> {
    let mut sorter = Sorter::new(dir, options.memory_budget);
    let mut drops = Drops::new();
    let position = log.walk(
        start,
        options.up_to,
        |txn, ordinal, change| collect(recipe, &mut sorter, &mut drops, (txn, ordinal), change),
        |offset| bar.set_position(offset),
    )?;
    Ok((sorter, drops, position))
}

/// Drops by keyspace name, in commit order.
type Drops = BTreeMap<Vec<u8>, Vec<Stamp>>;

/// Sorts one change for a full build or a key_history merge.
fn collect(
    recipe: &Recipe,
    sorter: &mut Sorter,
    drops: &mut Drops,
    stamp: Stamp,
    change: Change<'_>,
) -> Result<()> {
    let extractor = recipe.extractor();
    let (keyspace, key, value) = match change {
        Change::Put {
            keyspace,
            key,
            value,
        } => (keyspace, key, Some(value)),
        Change::Delete { keyspace, key } => (keyspace, key, None),
        Change::Drop { keyspace } => {
            if extractor.is_none_or(|extractor| extractor.wants(keyspace)) {
                drops.entry(keyspace.to_vec()).or_default().push(stamp);
            }
            return Ok(());
        }
    };
    match extractor {
        None => sorter.push(crate::entry::Entry {
            group: keyspace.to_vec(),
            key: key.to_vec(),
            seq: stamp.0,
            ordinal: stamp.1,
            tombstone: value.is_none(),
            value: value.unwrap_or_default().to_vec(),
        }),
        Some(extractor) if extractor.wants(keyspace) => {
            sorter.push(state::change_event(extractor, stamp, keyspace, key, value))
        }
        Some(_) => Ok(()),
    }
}

/// Writes a cartridge covering the records of `log` up to `options.up_to`, starting from
/// `old` (which covers an earlier prefix) at `path`: by merging when the log after `old`
/// is smaller than the log before it and `old` matches the recipe and the log, else by a
/// full build.
///
/// Errors: those of [`build_at`]. See [`build_at`] for an example.
pub fn catch_up_at(
    old: &Cartridge,
    log: &LogSource,
    path: &Path,
    recipe: &Recipe,
    options: &BuildOptions,
) -> Result<BuildReport> {
    check_recipe(recipe)?;
    let start = old.position();
    let mergeable = old.database_id() == log.database_id()
        && old.kind_name() == recipe.name()
        && old.params_hash() == recipe.params_hash()
        && options.up_to.is_none_or(|up_to| up_to >= start.txn)
        && match options.catch_up_method {
            Some(method) => method == Method::Merge,
            None => log.len().saturating_sub(start.log_offset) < start.log_offset,
        }
        && log.check_position(old.path(), &start).is_ok();
    if !mergeable {
        return build_at(log, path, recipe, options);
    }
    let started = Instant::now();
    let dir = create_dir(path)?;
    let mut writers = [TableWriter::new(dir)?, TableWriter::new(dir)?];
    let [index, sources] = &mut writers;
    let position = match recipe.extractor() {
        None => {
            let (sorter, drops, position) =
                sort_changes(log, &start, recipe, options, dir, &ProgressBar::hidden())?;
            key_history::write_merged(old.table(TableId::Index), sorter.finish()?, &drops, index)?;
            position
        }
        Some(extractor) => {
            let delta = Delta::load(old, log, options.up_to, |keyspace| {
                extractor.wants(keyspace)
            })?;
            state::write_merged(old, &delta, extractor, [index, sources])?;
            delta.position
        }
    };
    finish(
        path,
        recipe,
        log,
        &position,
        writers,
        started,
        Method::Merge,
    )
}

fn finish(
    path: &Path,
    recipe: &Recipe,
    log: &LogSource,
    position: &Position,
    writers: [TableWriter<'_>; 2],
    started: Instant,
    method: Method,
) -> Result<BuildReport> {
    let params = recipe.params();
    let [index, sources] = writers;
    let entry_count = index.entry_count();
    let fields = HeaderFields {
        kind: recipe.kind(),
        kind_name: recipe.name(),
        params: &params,
        database_id: log.database_id(),
        txn_from: 1,
        txn_to: position.txn,
        log_offset: position.log_offset,
    };
    let file_size = write_cartridge(
        path,
        &fields,
        encode_keyspaces(&position.keyspaces),
        [index.finish()?, sources.finish()?],
    )?;
    Ok(BuildReport {
        path: path.to_path_buf(),
        txn_from: 1,
        txn_to: position.txn,
        entry_count,
        file_size,
        elapsed: started.elapsed(),
        method,
    })
}

fn create_dir(path: &Path) -> Result<&Path> {
    let dir = path.parent().expect("a cartridge path has a directory");
    std::fs::create_dir_all(dir).map_err(|e| CartridgeError::io(dir, "create directory", e))?;
    Ok(dir)
}

fn progress_bar(options: &BuildOptions, log: &LogSource, name: &str) -> ProgressBar {
    if !options.progress || !std::io::stderr().is_terminal() || log.len() < PROGRESS_LOG_SIZE_MIN {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(log.len()), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{msg} [{wide_bar}] {binary_bytes}/{binary_total_bytes} {eta}",
    )
    .expect("the template is valid");
    bar.set_style(style);
    bar.set_message(format!("building {name}"));
    bar
}
