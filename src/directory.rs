//! The files of one database directory: how a new database is created, and the decision
//! table that tells a whole database from a half-made, incomplete or mismatched one
//! before anything is opened for writing (`spec/correctness_contracts_v0.md`, "Opening a
//! directory").
//!
//! Invariants:
//! - Everything here runs under the directory's exclusive lock.
//! - Creation is all-or-nothing: the log and the page file are written and synced under
//!   temporary names, the log is renamed into place and the directory synced, then the
//!   page file is renamed and the directory synced. A page file under its own name
//!   therefore always has its log beside it, and a crash at any point leaves no database,
//!   a whole one, or a log (header only) beside a whole temporary page file of the same
//!   database, which the next open finishes.
//! - A refusal changes nothing: every decision is made from reads alone.

use crate::format::frame::LOG_HEADER_SIZE;
use crate::io::Storage;
use crate::log::{LogFile, LOG_FILE_NAME};
use crate::pager::{is_new_database_file, new_database_file, new_database_id, PAGE_FILE_NAME};
use crate::{Error, Result, PAGE_SIZE};

/// The page file's name while it is being created.
pub const PAGE_FILE_CREATING: &str = "northstar.db.creating";
/// The log's name while it is being created.
pub const LOG_FILE_CREATING: &str = "northstar.log.creating";

/// What preparing the directory did before the database was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prepared {
    /// The directory already held a whole database.
    Existing,
    /// A new, empty database was created.
    Created,
    /// A creation cut short by a crash was finished.
    Finished,
}

/// Applies the decision table to a directory without a page file in `storage`: creates a
/// database where there is none (with `create`), finishes a creation cut short, or
/// refuses a log without its page file. A directory with a page file is left to the
/// pager (is it ours, which version) and then to [`require_log`].
///
/// Errors: [`Error::Io`] (not found, naming the page file) when there is no database and
/// `create` is false; [`Error::MissingFile`] for a log without its page file;
/// [`Error::Io`] for a failed creation (whose temporary files are removed again when the
/// log was not in place yet).
pub fn prepare(storage: &dyn Storage, create: bool) -> Result<Prepared> {
    if storage.exists(PAGE_FILE_NAME)? {
        return Ok(Prepared::Existing);
    }
    match storage.read_start(LOG_FILE_NAME, LOG_HEADER_SIZE)? {
        Some((header, log_len)) => finish_or_refuse(storage, &header, log_len),
        None if create => {
            create_database(storage)?;
            Ok(Prepared::Created)
        }
        None => Err(Error::io(
            storage.dir().join(PAGE_FILE_NAME),
            "open",
            std::io::ErrorKind::NotFound.into(),
        )),
    }
}

/// Refuses a page file (found to be ours) whose commit log is missing.
///
/// Errors: [`Error::MissingFile`] naming the log.
pub fn require_log(storage: &dyn Storage) -> Result<()> {
    if storage.exists(LOG_FILE_NAME)? {
        return Ok(());
    }
    Err(Error::MissingFile {
        path: storage.dir().join(LOG_FILE_NAME),
        detail: format!(
            "the page file {PAGE_FILE_NAME} is here but its commit log is not; the log holds \
             every commit since the last checkpoint, so the database cannot be opened \
             without it"
        ),
    })
}

/// A log without a page file: the end of a creation cut short when the temporary page file
/// is exactly the new database the log names and the log holds no record; else refused.
fn finish_or_refuse(storage: &dyn Storage, header: &[u8], log_len: u64) -> Result<Prepared> {
    if let Ok(log) = crate::format::frame::LogHeader::decode(header) {
        let fresh_log = log_len == LOG_HEADER_SIZE as u64 && log.first_txn_id == 1;
        let temporary = storage.read_start(PAGE_FILE_CREATING, 2 * PAGE_SIZE + 1)?;
        let whole_page_file =
            temporary.is_some_and(|(bytes, _)| is_new_database_file(&bytes, log.database_id));
        if fresh_log && whole_page_file {
            storage.rename(PAGE_FILE_CREATING, PAGE_FILE_NAME)?;
            storage.sync_dir()?;
            return Ok(Prepared::Finished);
        }
    }
    Err(Error::MissingFile {
        path: storage.dir().join(PAGE_FILE_NAME),
        detail: format!(
            "the commit log {LOG_FILE_NAME} ({log_len} bytes) is here but its page file is \
             not; restore the page file, or move the log away to start a new database"
        ),
    })
}

/// Creates a new, empty database (see the module's invariants for the order).
fn create_database(storage: &dyn Storage) -> Result<()> {
    let database_id = new_database_id();
    let written = (|| {
        storage.write_new(LOG_FILE_CREATING, &LogFile::new_file(database_id, 1))?;
        storage.write_new(PAGE_FILE_CREATING, &new_database_file(database_id))
    })();
    if let Err(error) = written {
        // Nothing is under a database name yet: take the pieces away again. A crash here
        // leaves them to the next creation, which overwrites them.
        for name in [LOG_FILE_CREATING, PAGE_FILE_CREATING] {
            if storage.exists(name).unwrap_or(false) {
                let _ = storage.remove(name);
            }
        }
        return Err(error);
    }
    storage.rename(LOG_FILE_CREATING, LOG_FILE_NAME)?;
    storage.sync_dir()?;
    storage.rename(PAGE_FILE_CREATING, PAGE_FILE_NAME)?;
    storage.sync_dir()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::sim::SimDisk;

    #[test]
    fn creation_leaves_exactly_the_page_file_and_the_log() {
        let disk = SimDisk::new("/sim");
        assert_eq!(prepare(&disk, true).unwrap(), Prepared::Created);
        assert_eq!(disk.file_names(), [PAGE_FILE_NAME, LOG_FILE_NAME]);
        assert_eq!(prepare(&disk, false).unwrap(), Prepared::Existing);
    }

    #[test]
    fn a_log_beside_a_whole_temporary_page_file_is_finished() {
        let disk = SimDisk::new("/sim");
        let id = [7u8; 16];
        disk.put_file(LOG_FILE_NAME, &LogFile::new_file(id, 1));
        disk.put_file(PAGE_FILE_CREATING, &new_database_file(id));
        assert_eq!(prepare(&disk, false).unwrap(), Prepared::Finished);
        assert_eq!(disk.file_names(), [PAGE_FILE_NAME, LOG_FILE_NAME]);
    }

    #[test]
    fn a_temporary_page_file_of_another_database_is_not_taken() {
        let disk = SimDisk::new("/sim");
        disk.put_file(LOG_FILE_NAME, &LogFile::new_file([7u8; 16], 1));
        disk.put_file(PAGE_FILE_CREATING, &new_database_file([8u8; 16]));
        assert!(matches!(
            prepare(&disk, true),
            Err(Error::MissingFile { .. })
        ));
        assert_eq!(disk.file_names(), [PAGE_FILE_CREATING, LOG_FILE_NAME]);
    }
}
