//! The changes of log records on top of a base snapshot, held in memory: what an AS OF
//! view and an in-memory replay read.
//!
//! Invariants: an entry in `entries` overrides the base tree (`None` is a deletion); a
//! keyspace created after the base has no base tree (`base_root == 0`), so a keyspace
//! dropped and created again never shows entries of its earlier life; after
//! [`Overlay::count_entries`], `len` is the number of live entries.

use std::collections::{BTreeMap, HashMap};

use crate::btree::Source;
use crate::format::catalog::Descriptor;
use crate::format::frame::{Op, Record};
use crate::format::meta::Meta;
use crate::format::page::PageRef;
use crate::pager::View;
use crate::{Result, TxnId};

/// One keyspace of an overlay.
#[derive(Debug, Clone, Default)]
pub struct KeyspaceOverlay {
    pub(crate) base_root: PageRef,
    pub(crate) entries: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    pub(crate) len: u64,
}

impl KeyspaceOverlay {
    /// Sets `len` from the base's count and the overlay: one base lookup per key the
    /// records touched, rather than one per operation.
    fn count_entries(&mut self, base: Option<&View>) -> Result<()> {
        let mut len = self.len as i64;
        for (key, value) in &self.entries {
            let in_base = match base {
                Some(view) if !self.base_root.is_none() => {
                    Source::View(view).find(self.base_root, key)?.is_some()
                }
                _ => false,
            };
            len += i64::from(value.is_some()) - i64::from(in_base);
        }
        self.len = len as u64;
        Ok(())
    }
}

/// A base snapshot's keyspaces plus the changes of records applied after it.
#[derive(Debug, Clone, Default)]
pub struct Overlay {
    pub(crate) txn_id: TxnId,
    pub(crate) default: KeyspaceOverlay,
    pub(crate) named: BTreeMap<Vec<u8>, KeyspaceOverlay>,
    names: HashMap<u32, Vec<u8>>,
}

impl Overlay {
    /// An overlay over the empty database before txn 1.
    pub fn empty() -> Overlay {
        Overlay::default()
    }

    /// An overlay over the snapshot `meta`, read through `view`.
    pub fn over(view: &View, meta: &Meta) -> Result<Overlay> {
        let mut overlay = Overlay {
            txn_id: meta.txn_id,
            ..Overlay::default()
        };
        overlay.default = KeyspaceOverlay {
            base_root: meta.default_root,
            entries: BTreeMap::new(),
            len: meta.default_len,
        };
        let catalog = crate::txn::Keyspace::new(Source::View(view), meta.catalog_root, 0);
        for entry in catalog.iter()? {
            let (name, value) = entry?;
            let descriptor = Descriptor::decode(&value).ok_or_else(|| {
                crate::Error::corrupt(
                    view.path(),
                    None,
                    format!(
                        "catalog entry {:?} is malformed",
                        String::from_utf8_lossy(name)
                    ),
                )
            })?;
            overlay.names.insert(descriptor.id, name.to_vec());
            let keyspace = KeyspaceOverlay {
                base_root: descriptor.root,
                entries: BTreeMap::new(),
                len: descriptor.len,
            };
            overlay.named.insert(name.to_vec(), keyspace);
        }
        Ok(overlay)
    }

    /// The txn whose state the overlay shows.
    pub fn txn_id(&self) -> TxnId {
        self.txn_id
    }

    fn keyspace_mut(&mut self, id: u32) -> Option<&mut KeyspaceOverlay> {
        if id == 0 {
            return Some(&mut self.default);
        }
        let name = self.names.get(&id)?;
        self.named.get_mut(name)
    }

    /// Sets every keyspace's entry count; call once after the last [`Overlay::apply`],
    /// with the view holding the base trees.
    pub fn count_entries(&mut self, base: Option<&View>) -> Result<()> {
        self.default.count_entries(base)?;
        for keyspace in self.named.values_mut() {
            keyspace.count_entries(base)?;
        }
        Ok(())
    }

    /// Applies the next record (txn `txn_id + 1`). Errors (in words) when an operation
    /// names a keyspace that does not exist.
    pub fn apply(&mut self, record: &Record<'_>) -> Result<(), String> {
        debug_assert_eq!(record.header.txn_id, self.txn_id + 1);
        for op in record.ops() {
            match op? {
                Op::Put {
                    keyspace,
                    key,
                    value,
                } => {
                    let target = self
                        .keyspace_mut(keyspace)
                        .ok_or_else(|| format!("put into unknown keyspace {keyspace}"))?;
                    target.entries.insert(key.to_vec(), Some(value.to_vec()));
                }
                Op::Delete { keyspace, key } => {
                    let target = self
                        .keyspace_mut(keyspace)
                        .ok_or_else(|| format!("delete in unknown keyspace {keyspace}"))?;
                    target.entries.insert(key.to_vec(), None);
                }
                Op::CreateKeyspace { keyspace, name } => {
                    self.names.insert(keyspace, name.to_vec());
                    self.named.insert(name.to_vec(), KeyspaceOverlay::default());
                }
                Op::DropKeyspace { keyspace, name } => {
                    self.names.remove(&keyspace);
                    self.named.remove(name);
                }
            }
        }
        self.txn_id = record.header.txn_id;
        Ok(())
    }
}
