//! The cartridges of a database: listing them, judging how fresh they are, and a shelf
//! that serves one cartridge to many readers while catching it up.
//!
//! Invariants:
//! - A [`Shelf`] hands out `Arc<Cartridge>`s; a catch-up writes the new file beside the
//!   old, renames it over it and swaps the `Arc`, so a reader keeps the cartridge it
//!   loaded (and its mapping) until it drops it, and never sees a half-written file.
//! - One catch-up at a time per shelf (the build lock); readers never wait for it.
//! - The invalidation policy of `spec/cartridge_format_v1.md` lives here: damage rebuilds,
//!   a newer format or another database's cartridge is refused, changed parameters or a
//!   log truncated past the cartridge are served as of the cartridge with a flag and
//!   rebuilt by a catch-up.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use northstar::TxnId;

use crate::build::{
    build_at, cartridge_path, catch_up_at, BuildOptions, BuildReport, Recipe, CARTRIDGE_DIR,
    CARTRIDGE_EXTENSION,
};
use crate::error::{CartridgeError, Result};
use crate::map::Cartridge;
use crate::source::LogSource;

/// How a cartridge stands against the log and the recipe it is used with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    /// Txns in the log after the cartridge's `txn_to`.
    pub lag_txns: u64,
    /// Log bytes after the cartridge: what a query "as of now" folds into memory.
    pub lag_bytes: u64,
    /// The log no longer holds the cartridge's last txn where it says (truncated past its
    /// range, or replaced): serve only as of the cartridge, and rebuild.
    pub ahead_of_log: bool,
    /// The recipe's parameters differ from those it was built with.
    pub params_changed: bool,
}

/// Judges `cartridge` against `log` (and `recipe`, when given).
///
/// Errors: [`CartridgeError::WrongDatabase`] when the log is another database's;
/// [`CartridgeError::Log`] for a damaged log.
pub fn freshness(
    cartridge: &Cartridge,
    log: &LogSource,
    recipe: Option<&Recipe>,
) -> Result<Freshness> {
    cartridge.expect_database(log.database_id())?;
    let (last_txn, end) = log.last_txn()?;
    let ahead_of_log = log
        .check_position(cartridge.path(), &cartridge.position())
        .is_err();
    Ok(Freshness {
        lag_txns: last_txn.saturating_sub(cartridge.txn_to()),
        lag_bytes: end.saturating_sub(cartridge.position().log_offset),
        ahead_of_log,
        params_changed: recipe
            .is_some_and(|recipe| recipe.params_hash() != cartridge.params_hash()),
    })
}

/// When a caller should catch a cartridge up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RebuildTrigger {
    /// After this many txns past the cartridge.
    pub lag_txns_max: Option<u64>,
    /// When the log after the cartridge exceeds this many bytes.
    pub lag_bytes_max: Option<u64>,
}

impl RebuildTrigger {
    /// Whether a cartridge this fresh should be caught up (always when it is ahead of the
    /// log or its parameters changed).
    pub fn fires(&self, freshness: &Freshness) -> bool {
        freshness.ahead_of_log
            || freshness.params_changed
            || self
                .lag_txns_max
                .is_some_and(|max| freshness.lag_txns >= max)
            || self
                .lag_bytes_max
                .is_some_and(|max| freshness.lag_bytes > max)
    }
}

/// One cartridge of a database, as `cartridge list` shows it.
#[derive(Debug, Clone)]
pub struct CartridgeInfo {
    /// The file.
    pub path: PathBuf,
    /// Kind name, when the file opened.
    pub kind_name: Option<String>,
    /// First and last txn covered.
    pub txn_range: Option<(TxnId, TxnId)>,
    /// File size.
    pub file_size: u64,
    /// How it stands against the log, when it opened.
    pub freshness: Option<Freshness>,
    /// When the build that wrote it finished (the file's modification time).
    pub built_at: Option<SystemTime>,
    /// Why it was refused, when it was.
    pub error: Option<String>,
}

/// Every `*.cart` file of the database in `db_dir`, in name order.
///
/// Errors: [`CartridgeError::Io`] listing the directory; [`CartridgeError::Log`] when the
/// log cannot be read. A cartridge that does not open is listed with its error.
pub fn list(db_dir: &Path) -> Result<Vec<CartridgeInfo>> {
    let dir = db_dir.join(CARTRIDGE_DIR);
    let mut paths = Vec::new();
    if dir.is_dir() {
        for entry in std::fs::read_dir(&dir).map_err(|e| CartridgeError::io(&dir, "list", e))? {
            let path = entry
                .map_err(|e| CartridgeError::io(&dir, "list", e))?
                .path();
            if path
                .extension()
                .is_some_and(|ext| ext == CARTRIDGE_EXTENSION)
            {
                paths.push(path);
            }
        }
    }
    paths.sort();
    let log = LogSource::open(db_dir)?;
    Ok(paths
        .into_iter()
        .map(|path| {
            let metadata = std::fs::metadata(&path).ok();
            let mut info = CartridgeInfo {
                file_size: metadata.as_ref().map_or(0, |m| m.len()),
                built_at: metadata.and_then(|m| m.modified().ok()),
                path,
                kind_name: None,
                txn_range: None,
                freshness: None,
                error: None,
            };
            match Cartridge::open(&info.path).and_then(|c| Ok((freshness(&c, &log, None)?, c))) {
                Ok((freshness, cartridge)) => {
                    info.kind_name = Some(cartridge.kind_name().to_string());
                    info.txn_range = Some((cartridge.txn_from(), cartridge.txn_to()));
                    info.freshness = Some(freshness);
                }
                Err(error) => info.error = Some(error.to_string()),
            }
            info
        })
        .collect())
}

/// One cartridge of a database, served to many readers and caught up in place.
#[derive(Debug)]
pub struct Shelf {
    db_dir: PathBuf,
    path: PathBuf,
    recipe: Recipe,
    current: RwLock<Arc<Cartridge>>,
    building: Mutex<()>,
}

impl Shelf {
    /// Opens the cartridge of `recipe` in the database directory `db_dir`, building it
    /// (with `options`) when it is missing, damaged, built with other parameters or ahead
    /// of the log. Returns the build's report when it built.
    ///
    /// Errors: [`CartridgeError::NewerVersion`] and [`CartridgeError::WrongDatabase`] (the
    /// file is left alone); those of [`build_at`].
    ///
    /// ```
    /// use northstar::{Db, Options};
    /// use northstar_cartridges::{BuildOptions, KeyHistory, Recipe, Shelf};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// for value in [&b"one"[..], b"two"] {
    ///     let mut txn = db.begin_write()?;
    ///     txn.put(b"k", value)?;
    ///     txn.commit()?;
    /// }
    /// let (shelf, _) = Shelf::open(dir.path(), Recipe::KeyHistory, &BuildOptions::default())?;
    /// let cartridge = shelf.current();
    /// let history = KeyHistory::new(&cartridge)?;
    /// assert_eq!(history.get_at(b"", b"k", 1)?, Some(&b"one"[..]));
    /// assert_eq!(history.history(b"", b"k").len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(
        db_dir: &Path,
        recipe: Recipe,
        options: &BuildOptions,
    ) -> Result<(Shelf, Option<BuildReport>)> {
        let path = cartridge_path(db_dir, recipe.name());
        let log = LogSource::open(db_dir)?;
        let usable = match Cartridge::open_for(&path, log.database_id(), recipe.name()) {
            Ok(cartridge) => {
                let freshness = freshness(&cartridge, &log, Some(&recipe))?;
                (!freshness.ahead_of_log && !freshness.params_changed).then_some(cartridge)
            }
            Err(
                error
                @ (CartridgeError::NewerVersion { .. } | CartridgeError::WrongDatabase { .. }),
            ) => return Err(error),
            Err(CartridgeError::Io { source, .. })
                if source.kind() != std::io::ErrorKind::NotFound =>
            {
                return Err(CartridgeError::io(&path, "open", source))
            }
            Err(_) => None,
        };
        let (cartridge, report) = match usable {
            Some(cartridge) => (cartridge, None),
            None => {
                let report = build_at(&log, &path, &recipe, options)?;
                (Cartridge::open(&path)?, Some(report))
            }
        };
        let shelf = Shelf {
            db_dir: db_dir.to_path_buf(),
            path,
            recipe,
            current: RwLock::new(Arc::new(cartridge)),
            building: Mutex::new(()),
        };
        Ok((shelf, report))
    }

    /// The cartridge now on the shelf; it stays usable after a swap.
    pub fn current(&self) -> Arc<Cartridge> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The recipe.
    pub fn recipe(&self) -> &Recipe {
        &self.recipe
    }

    /// How the current cartridge stands against the log.
    ///
    /// Errors: those of [`freshness`].
    pub fn freshness(&self) -> Result<Freshness> {
        freshness(
            &self.current(),
            &LogSource::open(&self.db_dir)?,
            Some(&self.recipe),
        )
    }

    /// Writes a cartridge covering the log up to `options.up_to` (merging when cheaper)
    /// and swaps it in; readers holding the old one keep it.
    ///
    /// Errors: those of [`catch_up_at`]; the old cartridge then stays on the shelf.
    pub fn catch_up(&self, options: &BuildOptions) -> Result<BuildReport> {
        let _building = self
            .building
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let log = LogSource::open(&self.db_dir)?;
        let old = self.current();
        let report = catch_up_at(&old, &log, &self.path, &self.recipe, options)?;
        let new = Arc::new(Cartridge::open(&self.path)?);
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = new;
        Ok(report)
    }

    /// Catches up when `trigger` fires; the report when it did.
    ///
    /// Errors: those of [`Shelf::freshness`] and [`Shelf::catch_up`].
    pub fn catch_up_if(
        &self,
        trigger: &RebuildTrigger,
        options: &BuildOptions,
    ) -> Result<Option<BuildReport>> {
        if trigger.fires(&self.freshness()?) {
            return self.catch_up(options).map(Some);
        }
        Ok(None)
    }
}
