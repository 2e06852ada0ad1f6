//! [`Db`]: one open database, shared by any number of threads.
//!
//! Invariants:
//! - `committed.meta` is the newest durable meta; readers pin its txn id in
//!   `committed.readers` under the same lock that hands the meta out, so the writer never
//!   reuses a page a reader is about to read.
//! - The `writer` mutex is the single writer slot; it owns the free-page state.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use crate::btree::{check_database, CheckReport};
use crate::format::meta::Meta;
use crate::pager::{FreeState, Pager};
use crate::txn::{ReadTxn, WriteTxn};
use crate::{Error, Options, Result, TxnId};

/// An open NorthstarDB database: a directory holding the page file.
///
/// `Db` is `Send + Sync`; share it with `Arc` or scoped threads. Only one `Db` (in any
/// process) can have a database open at a time: a second open gets [`Error::Locked`].
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let db = northstar::Db::open(dir.path().join("db"), northstar::Options::default())?;
/// let mut txn = db.begin_write()?;
/// txn.put(b"hello", b"world")?;
/// let txn_id = txn.commit()?;
/// let read = db.begin_read()?;
/// assert_eq!(read.txn_id(), txn_id);
/// assert_eq!(read.get(b"hello")?.as_deref(), Some(&b"world"[..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Db {
    dir: PathBuf,
    pub(crate) pager: Pager,
    pub(crate) committed: Mutex<Committed>,
    pub(crate) writer: Mutex<FreeState>,
    pub(crate) options: Options,
}

pub(crate) struct Committed {
    pub(crate) meta: Meta,
    readers: BTreeMap<TxnId, usize>,
}

impl Db {
    /// Opens the database in directory `path`, creating it if `options` allow.
    ///
    /// Errors: [`Error::Locked`] if another handle has it open; [`Error::NotADatabase`] if
    /// `path` is a file or its page file is not ours; [`Error::UnsupportedVersion`];
    /// [`Error::Corrupt`] when both meta pages are damaged or the file is truncated;
    /// [`Error::Io`] for operating-system failures (e.g. missing with `create(false)`).
    pub fn open(path: impl AsRef<Path>, options: Options) -> Result<Db> {
        let dir = path.as_ref().to_path_buf();
        if dir.is_file() {
            return Err(Error::NotADatabase {
                path: dir,
                detail: "this is a file; a database is a directory holding northstar.db".into(),
            });
        }
        let opened = Pager::open(&dir, options.create)?;
        Ok(Db {
            dir,
            pager: opened.pager,
            committed: Mutex::new(Committed {
                meta: opened.meta,
                readers: BTreeMap::new(),
            }),
            writer: Mutex::new(opened.free),
            options,
        })
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The page file inside the directory.
    pub fn page_file_path(&self) -> &Path {
        self.pager.path()
    }

    /// Id of the newest committed txn (0 for a new database).
    pub fn last_txn_id(&self) -> TxnId {
        self.committed.lock().meta.txn_id
    }

    /// Random id given to the database at creation.
    pub fn database_id(&self) -> [u8; 16] {
        self.committed.lock().meta.database_id
    }

    /// Starts a read txn on the newest committed state. Never waits for the writer.
    pub fn begin_read(&self) -> Result<ReadTxn<'_>> {
        let meta = {
            let mut committed = self.committed.lock();
            let meta = committed.meta;
            *committed.readers.entry(meta.txn_id).or_insert(0) += 1;
            meta
        };
        Ok(ReadTxn::new(self, meta, self.pager.view()))
    }

    pub(crate) fn end_read(&self, txn_id: TxnId) {
        let mut committed = self.committed.lock();
        let count = committed
            .readers
            .get_mut(&txn_id)
            .expect("reader registered");
        *count -= 1;
        if *count == 0 {
            committed.readers.remove(&txn_id);
        }
    }

    /// Starts the write txn, waiting while another one is open.
    ///
    /// Errors: [`Error::Poisoned`] after an earlier failed sync.
    pub fn begin_write(&self) -> Result<WriteTxn<'_>> {
        let free = self.writer.lock();
        self.start_write(free)
    }

    /// Starts the write txn, or returns [`Error::WriteBusy`] if one is open.
    pub fn try_begin_write(&self) -> Result<WriteTxn<'_>> {
        let free = self.writer.try_lock().ok_or(Error::WriteBusy)?;
        self.start_write(free)
    }

    fn start_write<'db>(
        &'db self,
        mut free: parking_lot::MutexGuard<'db, FreeState>,
    ) -> Result<WriteTxn<'db>> {
        self.pager.check_poisoned()?;
        let (meta, oldest_reader) = {
            let committed = self.committed.lock();
            (committed.meta, committed.readers.keys().next().copied())
        };
        free.begin_txn(oldest_reader);
        Ok(WriteTxn::new(self, free, meta))
    }

    pub(crate) fn publish(&self, meta: Meta) {
        self.committed.lock().meta = meta;
    }

    /// Runs the validator over the newest committed state (see [`CheckReport`]).
    ///
    /// Runs beside the writer and other readers; it pins its snapshot like a reader.
    pub fn check(&self) -> Result<CheckReport> {
        let txn = self.begin_read()?;
        Ok(check_database(txn.view(), txn.meta()))
    }
}
