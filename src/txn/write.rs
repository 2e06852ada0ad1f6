//! The write transaction.
//!
//! Invariants:
//! - At most one exists per database: it holds the writer slot.
//! - Dropping it without `commit` undoes every allocation; nothing it wrote is reachable.
//! - Every effective change is also recorded, in order, as an operation of the txn's
//!   commit record, so replaying the record reproduces the txn.
//! - Commit order: the commit record is appended to the log, the changed nodes become
//!   dirty frames in the page cache (no page is written), the writer slot is released, the
//!   log is synced (one sync may cover the records of several committers), and only then
//!   do new readers see the txn. Overflow pages of large values are the exception: they
//!   are written as the txn runs, to pages no checkpoint references.
//! - After any failed operation the txn refuses to commit: a half-applied change is never
//!   made durable.

use std::collections::BTreeMap;
use std::ops::RangeBounds;

use parking_lot::MutexGuard;

use super::keyspace::{Keyspace, KeyspaceMut};
use crate::btree::{Cursor, Range, Source, TreeWriter, Value};
use crate::db::Db;
use crate::format::catalog::Descriptor;
use crate::format::frame::{Op, Record, RecordBuilder};
use crate::format::meta::Meta;
use crate::format::page::PageRef;
use crate::limits::{KEYSPACE_NAME_SIZE_MAX, KEY_SIZE_MAX, VALUE_SIZE_MAX};
use crate::pager::WriterState;
use crate::{Durability, Error, Result, TxnId};

#[derive(Debug, Clone, Copy)]
struct KeyspaceState {
    id: u32,
    root: PageRef,
    len: u64,
    changed: bool,
}

/// The single write transaction: reads see its own writes; `commit` makes them durable.
///
/// Obtained from [`Db::begin_write`] or [`Db::try_begin_write`]. Dropping it (or calling
/// [`WriteTxn::abort`]) rolls everything back. The methods work on the default keyspace;
/// [`WriteTxn::keyspace`] gives a named one.
pub struct WriteTxn<'db> {
    db: &'db Db,
    tree: TreeWriter<'db>,
    base: Meta,
    default: KeyspaceState,
    catalog_root: PageRef,
    named: BTreeMap<String, KeyspaceState>,
    next_keyspace_id: u32,
    record: RecordBuilder,
    /// Set while replaying a log record: the offset just past it (nothing is appended).
    replay_end: Option<u64>,
    failed: Option<String>,
    finished: bool,
}

fn check_key(key: &[u8]) -> Result<()> {
    if key.len() > KEY_SIZE_MAX {
        return Err(Error::KeyTooLarge {
            len: key.len(),
            max: KEY_SIZE_MAX,
        });
    }
    Ok(())
}

impl<'db> WriteTxn<'db> {
    pub(crate) fn new(
        db: &'db Db,
        slot: MutexGuard<'db, WriterState>,
        replay_end: Option<u64>,
    ) -> WriteTxn<'db> {
        let base = slot.head;
        WriteTxn {
            db,
            tree: TreeWriter::new(&db.shared.pager, slot, base.txn_id + 1),
            base,
            default: KeyspaceState {
                id: 0,
                root: base.default_root,
                len: base.default_len,
                changed: false,
            },
            catalog_root: base.catalog_root,
            named: BTreeMap::new(),
            next_keyspace_id: base.next_keyspace_id,
            record: RecordBuilder::default(),
            replay_end,
            failed: None,
            finished: false,
        }
    }

    /// Adds an operation to the commit record (while replaying, only counts it).
    fn record_op(&mut self, op: Op<'_>) {
        if self.replay_end.is_none() {
            self.record.push(&op);
        } else {
            self.record.count_only();
        }
    }

    /// Applies the operations of a log record through the normal write path. A record that
    /// does not fit the state it is replayed on is reported through `corrupt`; failures of
    /// the store itself (I/O, a damaged page) pass through unchanged, so a failed write
    /// during recovery is never reported as a damaged log.
    pub(crate) fn apply_record(
        &mut self,
        record: &Record<'_>,
        corrupt: impl Fn(String) -> Error,
    ) -> Result<()> {
        if record.header.txn_id != self.txn_id() {
            return Err(corrupt(format!(
                "record holds txn {}, expected txn {}",
                record.header.txn_id,
                self.txn_id()
            )));
        }
        let mut names: std::collections::HashMap<u32, String> = std::collections::HashMap::new();
        for name in self.keyspaces()? {
            let id = self.keyspace_id(&name)?;
            names.insert(id, name);
        }
        for op in record.ops() {
            let result = match op.map_err(&corrupt)? {
                Op::Put {
                    keyspace: 0,
                    key,
                    value,
                } => self.put_in(None, key, value),
                Op::Delete { keyspace: 0, key } => self.delete_in(None, key).map(drop),
                Op::Put {
                    keyspace,
                    key,
                    value,
                } => match names.get(&keyspace).cloned() {
                    Some(name) => self.put_in(Some(&name), key, value),
                    None => return Err(corrupt(format!("put into unknown keyspace {keyspace}"))),
                },
                Op::Delete { keyspace, key } => match names.get(&keyspace).cloned() {
                    Some(name) => self.delete_in(Some(&name), key).map(drop),
                    None => return Err(corrupt(format!("delete in unknown keyspace {keyspace}"))),
                },
                Op::CreateKeyspace { keyspace, name } => {
                    let name = String::from_utf8(name.to_vec())
                        .map_err(|_| corrupt("keyspace name is not UTF-8".to_string()))?;
                    if self.next_keyspace_id != keyspace {
                        return Err(corrupt(format!(
                            "keyspace {name:?} was created as id {keyspace}, replay gives {}",
                            self.next_keyspace_id
                        )));
                    }
                    names.insert(keyspace, name.clone());
                    self.create_keyspace(&name)
                }
                Op::DropKeyspace { keyspace, name } => {
                    let name = String::from_utf8_lossy(name).into_owned();
                    names.remove(&keyspace);
                    self.drop_keyspace(&name).map(drop)
                }
            };
            result.map_err(|error| match error {
                Error::Io { .. } | Error::Poisoned { .. } | Error::Corrupt { .. } => error,
                refused => corrupt(refused.to_string()),
            })?;
        }
        Ok(())
    }

    fn keyspace_id(&mut self, name: &str) -> Result<u32> {
        self.load_keyspace(name)?;
        Ok(self.named[name].id)
    }

    /// The txn id this txn gets if it commits with changes.
    pub fn txn_id(&self) -> TxnId {
        self.tree.txn_id()
    }

    /// Records a failure so the txn cannot commit a half-applied change.
    fn guard<T>(&mut self, result: Result<T>) -> Result<T> {
        if let Err(error) = &result {
            self.failed.get_or_insert_with(|| error.to_string());
        }
        result
    }

    fn state(&self, keyspace: Option<&str>) -> KeyspaceState {
        match keyspace {
            None => self.default,
            Some(name) => self.named[name],
        }
    }

    fn state_mut(&mut self, keyspace: Option<&str>) -> &mut KeyspaceState {
        match keyspace {
            None => &mut self.default,
            Some(name) => self.named.get_mut(name).expect("keyspace loaded"),
        }
    }

    pub(crate) fn keyspace_read(&self, keyspace: Option<&str>) -> Keyspace<'_> {
        let state = self.state(keyspace);
        Keyspace::new(Source::Writer(&self.tree), state.root, state.len)
    }

    pub(crate) fn put_in(
        &mut self,
        keyspace: Option<&str>,
        key: &[u8],
        value: &[u8],
    ) -> Result<()> {
        check_key(key)?;
        if value.len() > VALUE_SIZE_MAX {
            return Err(Error::ValueTooLarge {
                len: value.len(),
                max: VALUE_SIZE_MAX,
            });
        }
        let root = self.state(keyspace).root;
        let result = self.tree.put(root, key, value);
        let (root, replaced) = self.guard(result)?;
        let state = self.state_mut(keyspace);
        state.root = root;
        state.len += u64::from(!replaced);
        state.changed = true;
        let id = state.id;
        self.record_op(Op::Put {
            keyspace: id,
            key,
            value,
        });
        Ok(())
    }

    pub(crate) fn delete_in(&mut self, keyspace: Option<&str>, key: &[u8]) -> Result<bool> {
        check_key(key)?;
        let root = self.state(keyspace).root;
        let result = self.tree.delete(root, key);
        let (root, existed) = self.guard(result)?;
        let state = self.state_mut(keyspace);
        state.root = root;
        state.len -= u64::from(existed);
        state.changed |= existed;
        let id = state.id;
        if existed {
            self.record_op(Op::Delete { keyspace: id, key });
        }
        Ok(existed)
    }

    /// Stores `value` under `key` in the default keyspace, replacing any previous value.
    ///
    /// Errors: [`Error::KeyTooLarge`] over [`crate::KEY_SIZE_MAX`] bytes,
    /// [`Error::ValueTooLarge`] over [`crate::VALUE_SIZE_MAX`]; I/O and corruption errors,
    /// after which the txn can only be aborted.
    pub fn put(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        self.put_in(None, key.as_ref(), value.as_ref())
    }

    /// Removes `key` from the default keyspace; returns whether it was present.
    pub fn delete(&mut self, key: impl AsRef<[u8]>) -> Result<bool> {
        self.delete_in(None, key.as_ref())
    }

    /// The value under `key` as this txn sees it.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Value<'_>>> {
        self.keyspace_read(None).get(key)
    }

    /// Entries in `range` as this txn sees them.
    pub fn range<K: AsRef<[u8]>>(&self, range: impl RangeBounds<K>) -> Result<Range<'_>> {
        self.keyspace_read(None).range(range)
    }

    /// Every entry of the default keyspace.
    pub fn iter(&self) -> Result<Range<'_>> {
        self.keyspace_read(None).iter()
    }

    /// Entries whose key starts with `prefix`.
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Result<Range<'_>> {
        self.keyspace_read(None).prefix(prefix)
    }

    /// An unpositioned cursor over the default keyspace.
    pub fn cursor(&self) -> Cursor<'_> {
        self.keyspace_read(None).cursor()
    }

    /// Entries in the default keyspace.
    pub fn len(&self) -> u64 {
        self.default.len
    }

    /// Whether the default keyspace is empty.
    pub fn is_empty(&self) -> bool {
        self.default.len == 0
    }

    fn catalog_entry(&self, name: &str) -> Result<Option<Descriptor>> {
        let value = Source::Writer(&self.tree).get(self.catalog_root, name.as_bytes())?;
        match value {
            None => Ok(None),
            Some(bytes) => Descriptor::decode(&bytes).map(Some).ok_or_else(|| {
                Error::corrupt(
                    self.tree.view().path(),
                    None,
                    format!("catalog entry for keyspace {name:?} is malformed"),
                )
            }),
        }
    }

    fn load_keyspace(&mut self, name: &str) -> Result<bool> {
        if self.named.contains_key(name) {
            return Ok(true);
        }
        match self.catalog_entry(name)? {
            Some(descriptor) => {
                let state = KeyspaceState {
                    id: descriptor.id,
                    root: descriptor.root,
                    len: descriptor.len,
                    changed: false,
                };
                self.named.insert(name.to_string(), state);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn put_catalog(&mut self, name: &str, state: KeyspaceState) -> Result<()> {
        let descriptor = Descriptor {
            id: state.id,
            root: state.root,
            len: state.len,
        };
        let result = self
            .tree
            .put(self.catalog_root, name.as_bytes(), &descriptor.encode());
        self.catalog_root = self.guard(result)?.0;
        Ok(())
    }

    /// Creates the named keyspace `name` (1 to 255 bytes).
    ///
    /// Errors: [`Error::KeyspaceExists`], [`Error::InvalidKeyspaceName`].
    pub fn create_keyspace(&mut self, name: &str) -> Result<()> {
        if name.is_empty() || name.len() > KEYSPACE_NAME_SIZE_MAX {
            return Err(Error::InvalidKeyspaceName(name.to_string()));
        }
        if self.load_keyspace(name)? {
            return Err(Error::KeyspaceExists(name.to_string()));
        }
        let state = KeyspaceState {
            id: self.next_keyspace_id,
            root: PageRef::NONE,
            len: 0,
            changed: false,
        };
        self.next_keyspace_id += 1;
        self.put_catalog(name, state)?;
        self.named.insert(name.to_string(), state);
        self.record_op(Op::CreateKeyspace {
            keyspace: state.id,
            name: name.as_bytes(),
        });
        Ok(())
    }

    /// Write access to the named keyspace `name`. Errors: [`Error::KeyspaceNotFound`].
    pub fn keyspace(&mut self, name: &str) -> Result<KeyspaceMut<'_, 'db>> {
        let result = self.load_keyspace(name);
        if !self.guard(result)? {
            return Err(Error::KeyspaceNotFound(name.to_string()));
        }
        Ok(KeyspaceMut {
            txn: self,
            name: name.to_string(),
        })
    }

    /// Deletes the named keyspace and every entry in it; returns whether it existed.
    pub fn drop_keyspace(&mut self, name: &str) -> Result<bool> {
        let result = self.load_keyspace(name);
        if !self.guard(result)? {
            return Ok(false);
        }
        let state = self.named.remove(name).expect("keyspace loaded");
        let result = self.tree.free_tree(state.root);
        self.guard(result)?;
        let result = self.tree.delete(self.catalog_root, name.as_bytes());
        self.catalog_root = self.guard(result)?.0;
        self.record_op(Op::DropKeyspace {
            keyspace: state.id,
            name: name.as_bytes(),
        });
        Ok(true)
    }

    /// Names of the named keyspaces as this txn sees them, sorted.
    pub fn keyspaces(&self) -> Result<Vec<String>> {
        let catalog = Keyspace::new(Source::Writer(&self.tree), self.catalog_root, 0);
        catalog
            .iter()?
            .map(|entry| entry.map(|(name, _)| String::from_utf8_lossy(name).into_owned()))
            .collect()
    }

    /// Makes the txn's changes durable and visible; returns the new txn id. A txn that
    /// changed nothing commits nothing and returns the current txn id.
    ///
    /// With [`Durability::Immediate`] it returns once the commit record is durable; commits
    /// from several threads that wait at the same time share one log sync.
    ///
    /// Errors: I/O errors before the record is appended (the txn is rolled back and the
    /// database stays at the previous txn); [`Error::Poisoned`] if the log sync failed,
    /// now or before: the txn may or may not survive a crash, and the handle takes no more
    /// writes.
    pub fn commit(mut self) -> Result<TxnId> {
        if let Some(detail) = self.failed.take() {
            return Err(Error::Io {
                path: self.tree.view().path().to_path_buf(),
                op: "commit".into(),
                source: std::io::Error::other(format!(
                    "an earlier operation of this txn failed: {detail}"
                )),
            });
        }
        if self.record.op_count() == 0 && !self.tree.is_dirty() {
            return Ok(self.base.txn_id);
        }
        let (meta, end) = self.write_commit()?;
        self.finished = true;
        let db = self.db;
        let replaying = self.replay_end.is_some();
        // Release the writer slot before waiting for the sync, so the next writer can
        // append its record and share the sync.
        drop(self);
        if !replaying && db.shared.options.durability == Durability::Immediate {
            db.shared.log.wait_durable(end)?;
        }
        db.shared.publish(meta);
        if db.shared.options.verify_every_commit {
            let report = db.check()?;
            assert!(
                report.is_ok(),
                "validator after commit of txn {}: {:?}",
                meta.txn_id,
                report.problems
            );
        }
        Ok(meta.txn_id)
    }

    fn write_commit(&mut self) -> Result<(Meta, u64)> {
        let changed: Vec<(String, KeyspaceState)> = self
            .named
            .iter()
            .filter(|(_, state)| state.changed)
            .map(|(name, state)| (name.clone(), *state))
            .collect();
        for (name, state) in changed {
            self.put_catalog(&name, state)?;
        }
        let frames = self.tree.encode_nodes();
        let txn_id = self.tree.txn_id();
        let end = match self.replay_end {
            Some(end) => end,
            None => self
                .db
                .shared
                .log
                .append(&mut self.record, txn_id, &self.base.database_id)?,
        };
        // The record is in the log: from here the txn is committed, and its pages live in
        // the page cache until a checkpoint writes them.
        let freed: Vec<_> = self.tree.free_state().txn_freed_pages().collect();
        self.db.shared.pager.forget_dirty(&freed);
        self.db.shared.pager.insert_frames(frames);
        let slot = self.tree.slot();
        let meta = Meta {
            txn_id,
            page_count: slot.free.page_count(),
            default_root: self.default.root,
            default_len: self.default.len,
            catalog_root: self.catalog_root,
            freelist_head: slot.checkpoint.freelist_head,
            free_count: slot.checkpoint.free_count,
            next_keyspace_id: self.next_keyspace_id,
            database_id: self.base.database_id,
            log_position: end,
        };
        slot.free.commit_txn(txn_id);
        slot.head = meta;
        slot.commits_since_checkpoint += 1;
        Ok((meta, end))
    }

    /// Rolls back every change. Same as dropping the txn.
    pub fn abort(self) {}
}

impl Drop for WriteTxn<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.tree.free_state().abort_txn();
        }
    }
}
