//! Keyspace handles: read access to one tree of a snapshot, and write access to one tree
//! of the write txn.

use std::ops::{Bound, RangeBounds};

use super::write::WriteTxn;
use crate::btree::{Cursor, Range, Source, Value};
use crate::format::page::PageRef;
use crate::Result;

/// Read access to one keyspace of a transaction's snapshot.
///
/// Returned by [`crate::ReadTxn::keyspace`]; the default keyspace is read through the
/// transaction itself, which has the same methods.
#[derive(Clone, Copy)]
pub struct Keyspace<'t> {
    source: Source<'t>,
    root: PageRef,
    len: u64,
}

pub(crate) fn bound(bound: Bound<&impl AsRef<[u8]>>) -> Bound<&[u8]> {
    match bound {
        Bound::Included(key) => Bound::Included(key.as_ref()),
        Bound::Excluded(key) => Bound::Excluded(key.as_ref()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

impl<'t> Keyspace<'t> {
    pub(crate) fn new(source: Source<'t>, root: PageRef, len: u64) -> Keyspace<'t> {
        Keyspace { source, root, len }
    }

    /// The value stored under `key`. Borrowed from the file for inline values.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Value<'t>>> {
        self.source.get(self.root, key.as_ref())
    }

    /// Entries with keys in `range`, in key order; `.rev()` for descending order.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = northstar::Db::open(dir.path(), Default::default())?;
    /// # let mut txn = db.begin_write()?;
    /// # for key in ["a", "b", "c", "d"] { txn.put(key, key)?; }
    /// # txn.commit()?;
    /// let txn = db.begin_read()?;
    /// let keys: Vec<Vec<u8>> = txn.range("b".."d")?.map(|e| e.map(|(k, _)| k.to_vec())).collect::<Result<_, _>>()?;
    /// assert_eq!(keys, [b"b".to_vec(), b"c".to_vec()]);
    /// let last = txn.range("a"..="c")?.rev().next().transpose()?.map(|(k, _)| k.to_vec());
    /// assert_eq!(last, Some(b"c".to_vec()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn range<K: AsRef<[u8]>>(&self, range: impl RangeBounds<K>) -> Result<Range<'t>> {
        Range::new(
            self.source,
            self.root,
            bound(range.start_bound()),
            bound(range.end_bound()),
        )
    }

    pub(crate) fn range_bounds(&self, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Result<Range<'t>> {
        Range::new(self.source, self.root, start, end)
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> Result<Range<'t>> {
        Range::new(self.source, self.root, Bound::Unbounded, Bound::Unbounded)
    }

    /// Entries whose key starts with `prefix`, in key order.
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Result<Range<'t>> {
        Range::prefix(self.source, self.root, prefix.as_ref())
    }

    /// The entry with the smallest key.
    pub fn first(&self) -> Result<Option<(&'t [u8], Value<'t>)>> {
        self.iter()?.next().transpose()
    }

    /// The entry with the largest key.
    pub fn last(&self) -> Result<Option<(&'t [u8], Value<'t>)>> {
        self.iter()?.next_back().transpose()
    }

    /// A cursor, not yet positioned: call `first`, `last` or `seek`.
    pub fn cursor(&self) -> Cursor<'t> {
        Cursor::new(self.source, self.root)
    }

    /// Number of entries.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the keyspace has no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Write access to one named keyspace of the write txn. Obtained from
/// [`WriteTxn::keyspace`]; reads see the txn's own writes.
pub struct KeyspaceMut<'t, 'db> {
    pub(crate) txn: &'t mut WriteTxn<'db>,
    pub(crate) name: String,
}

impl<'db> KeyspaceMut<'_, 'db> {
    /// Read access to the keyspace as this txn sees it now.
    pub fn read(&self) -> Keyspace<'_> {
        self.txn.keyspace_read(Some(&self.name))
    }

    /// The value stored under `key`.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Value<'_>>> {
        self.txn.keyspace_read(Some(&self.name)).get(key)
    }

    /// Stores `value` under `key`, replacing any previous value.
    pub fn put(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        self.txn
            .put_in(Some(&self.name), key.as_ref(), value.as_ref())
    }

    /// Removes `key`; returns whether it was present.
    pub fn delete(&mut self, key: impl AsRef<[u8]>) -> Result<bool> {
        self.txn.delete_in(Some(&self.name), key.as_ref())
    }

    /// Number of entries.
    pub fn len(&self) -> u64 {
        self.read().len()
    }

    /// Whether the keyspace has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
