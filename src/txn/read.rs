//! Read transactions: a snapshot of one committed txn.
//!
//! Invariant: the snapshot's txn id is registered with the database for the life of the
//! txn, so no page it can reach is reused; the view it holds covers every such page.

use std::ops::RangeBounds;
use std::sync::Arc;

use super::keyspace::Keyspace;
use crate::btree::{Cursor, Range, Source, Value};
use crate::db::Db;
use crate::format::catalog::Descriptor;
use crate::format::meta::Meta;
use crate::pager::View;
use crate::{Error, Result, TxnId};

/// A consistent, read-only snapshot of the database at one committed txn.
///
/// Reading never blocks and is never blocked by the writer. Many read txns may be open at
/// once, on any threads (`ReadTxn` is `Send + Sync`). Pages the snapshot can see are not
/// reused until it is dropped, so long-lived readers make the file grow.
///
/// The methods read the default keyspace; [`ReadTxn::keyspace`] reads a named one.
pub struct ReadTxn<'db> {
    db: &'db Db,
    meta: Meta,
    view: Arc<View>,
}

impl<'db> ReadTxn<'db> {
    pub(crate) fn new(db: &'db Db, meta: Meta, view: Arc<View>) -> ReadTxn<'db> {
        ReadTxn { db, meta, view }
    }

    pub(crate) fn view(&self) -> &View {
        &self.view
    }

    pub(crate) fn meta(&self) -> &Meta {
        &self.meta
    }

    /// The committed txn this snapshot shows.
    pub fn txn_id(&self) -> TxnId {
        self.meta.txn_id
    }

    fn default_keyspace(&self) -> Keyspace<'_> {
        Keyspace::new(
            Source::View(&self.view),
            self.meta.default_root,
            self.meta.default_len,
        )
    }

    /// The named keyspace `name`. Errors with [`Error::KeyspaceNotFound`].
    pub fn keyspace(&self, name: &str) -> Result<Keyspace<'_>> {
        let source = Source::View(&self.view);
        let value = source.get(self.meta.catalog_root, name.as_bytes())?;
        let value = value.ok_or_else(|| Error::KeyspaceNotFound(name.to_string()))?;
        let descriptor = Descriptor::decode(&value).ok_or_else(|| {
            Error::corrupt(
                self.view.path(),
                None,
                format!("catalog entry for keyspace {name:?} is malformed"),
            )
        })?;
        Ok(Keyspace::new(source, descriptor.root, descriptor.len))
    }

    /// Names of the named keyspaces, sorted.
    pub fn keyspaces(&self) -> Result<Vec<String>> {
        let catalog = Keyspace::new(Source::View(&self.view), self.meta.catalog_root, 0);
        catalog
            .iter()?
            .map(|entry| entry.map(|(name, _)| String::from_utf8_lossy(name).into_owned()))
            .collect()
    }

    /// The value stored under `key`, borrowed from the file when stored inline.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Value<'_>>> {
        self.default_keyspace().get(key)
    }

    /// Entries with keys in `range`, in key order; `.rev()` for descending order.
    pub fn range<K: AsRef<[u8]>>(&self, range: impl RangeBounds<K>) -> Result<Range<'_>> {
        self.default_keyspace().range(range)
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> Result<Range<'_>> {
        self.default_keyspace().iter()
    }

    /// Entries whose key starts with `prefix`.
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Result<Range<'_>> {
        self.default_keyspace().prefix(prefix)
    }

    /// The entry with the smallest key.
    pub fn first(&self) -> Result<Option<(&[u8], Value<'_>)>> {
        self.default_keyspace().first()
    }

    /// The entry with the largest key.
    pub fn last(&self) -> Result<Option<(&[u8], Value<'_>)>> {
        self.default_keyspace().last()
    }

    /// An unpositioned cursor over the default keyspace.
    pub fn cursor(&self) -> Cursor<'_> {
        self.default_keyspace().cursor()
    }

    /// Entries in the default keyspace.
    pub fn len(&self) -> u64 {
        self.meta.default_len
    }

    /// Whether the default keyspace is empty.
    pub fn is_empty(&self) -> bool {
        self.meta.default_len == 0
    }
}

impl Drop for ReadTxn<'_> {
    fn drop(&mut self) {
        self.db.end_read(self.meta.txn_id);
    }
}
