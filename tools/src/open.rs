//! Opening the database a command names.
//!
//! Invariants: a command that reads never creates a database; only `put` (and `demo`)
//! create one. A path that is missing, is a file, or is a directory with neither a page
//! file nor a log fails before the library is called, with a message that says which of
//! these it is.
//! Every failure to open maps to [`crate::failure::EXIT_CANNOT_OPEN`].

use std::path::Path;

use northstar::io::{DirectoryLock, LockMode, OsStorage, Storage};
use northstar::log::LOG_FILE_NAME;
use northstar::pager::{Opened, Pager, PAGE_FILE_NAME};
use northstar::{Db, Options};

use crate::failure::Failure;

/// Opens the existing database in directory `path`.
///
/// Errors: [`Failure::cannot_open`] when there is no database there or the library
/// refuses it (corrupt metas, not a database, locked by another process, truncated).
pub fn existing(path: &Path) -> Result<Db, Failure> {
    check_is_database_directory(path)?;
    Db::open(path, Options::default().create(false))
        .map_err(|error| Failure::cannot_open(format!("cannot open database: {error}")))
}

/// Opens the database in directory `path`, creating it when the directory does not hold
/// one. Returns the database and whether it was created.
///
/// Errors: as [`existing`], and when `path` is a file or cannot be created.
pub fn existing_or_new(path: &Path) -> Result<(Db, bool), Failure> {
    if path.is_file() {
        return Err(not_a_directory(path));
    }
    let created = !path.join(PAGE_FILE_NAME).exists() && !path.join(LOG_FILE_NAME).exists();
    let db = Db::open(path, Options::default()).map_err(|error| {
        let verb = if created { "create" } else { "open" };
        Failure::cannot_open(format!("cannot {verb} database: {error}"))
    })?;
    Ok((db, created))
}

/// A page file opened with the low-level pager, with the directory lock held.
pub struct Pages {
    /// The opened page file.
    pub opened: Opened,
    _lock: Box<dyn DirectoryLock>,
}

impl std::ops::Deref for Pages {
    type Target = Opened;

    fn deref(&self) -> &Opened {
        &self.opened
    }
}

/// Opens the page file of the existing database in `path` with the low-level pager, for
/// tools that walk pages. Takes the same exclusive lock as [`Db::open`] first.
///
/// Errors: as [`existing`].
pub fn pages(path: &Path) -> Result<Pages, Failure> {
    check_is_database_directory(path)?;
    let cannot_open = |error| Failure::cannot_open(format!("cannot open database: {error}"));
    let storage = OsStorage::new(path);
    let lock = storage
        .lock(LockMode::Exclusive, false)
        .map_err(cannot_open)?;
    let opened = Pager::open(&storage).map_err(cannot_open)?;
    Ok(Pages {
        opened,
        _lock: lock,
    })
}

fn check_is_database_directory(path: &Path) -> Result<(), Failure> {
    let shown = path.display();
    if !path.exists() {
        return Err(Failure::cannot_open(format!(
            "cannot open database {shown}: no such directory"
        )));
    }
    if !path.is_dir() {
        return Err(not_a_directory(path));
    }
    // A log without its page file goes to the library, which names what is missing.
    if !path.join(PAGE_FILE_NAME).exists() && !path.join(LOG_FILE_NAME).exists() {
        return Err(Failure::cannot_open(format!(
            "cannot open database {shown}: the directory holds no {PAGE_FILE_NAME}, so it is not a NorthstarDB database"
        )));
    }
    Ok(())
}

fn not_a_directory(path: &Path) -> Failure {
    Failure::cannot_open(format!(
        "cannot open database {}: not a NorthstarDB database: this is a file; a database is a directory holding {PAGE_FILE_NAME}",
        path.display()
    ))
}
