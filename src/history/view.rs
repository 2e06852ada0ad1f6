//! [`AsOfTxn`]: a read view of the database exactly as it was after one txn.
//!
//! Invariants: the base snapshot (when there is one) is registered as a reader for the
//! life of the view, so its pages are not reused; entries of the overlay win over the base;
//! a merged range yields each key once, in order, from either end.

use std::borrow::Cow;
use std::ops::{Bound, RangeBounds};

use super::overlay::{KeyspaceOverlay, Overlay};
use crate::btree::{Range, Source, Value};

use crate::txn::keyspace::bound;
use crate::txn::{Keyspace, ReadTxn};
use crate::{Error, Result, TxnId};

/// The database as it was right after one committed txn: from [`crate::Db::begin_read_at`].
///
/// It reads like a [`ReadTxn`] (get, range, prefix, every keyspace) but has no cursor.
/// Built from the newest retained snapshot at or before the txn plus the commit log records
/// after it, replayed into memory.
pub struct AsOfTxn<'db> {
    pub(crate) base: Option<ReadTxn<'db>>,
    pub(crate) overlay: Overlay,
    pub(crate) replayed: u64,
}

impl<'db> AsOfTxn<'db> {
    /// The txn whose state this view shows.
    pub fn txn_id(&self) -> TxnId {
        self.overlay.txn_id()
    }

    /// Txn id of the snapshot the view was built on (0 for the empty database).
    pub fn base_txn_id(&self) -> TxnId {
        self.base.as_ref().map_or(0, ReadTxn::txn_id)
    }

    /// Log records replayed on top of the base snapshot to build the view.
    pub fn replayed_records(&self) -> u64 {
        self.replayed
    }

    fn view_of<'t>(&'t self, keyspace: &'t KeyspaceOverlay) -> AsOfKeyspace<'t> {
        let base = self
            .base
            .as_ref()
            .filter(|_| !keyspace.base_root.is_none())
            .map(|base| Keyspace::new(Source::View(base.view()), keyspace.base_root, 0));
        AsOfKeyspace {
            base,
            overlay: keyspace,
        }
    }

    /// The named keyspace `name` as it was. Errors with [`Error::KeyspaceNotFound`].
    pub fn keyspace(&self, name: &str) -> Result<AsOfKeyspace<'_>> {
        let keyspace = self
            .overlay
            .named
            .get(name.as_bytes())
            .ok_or_else(|| Error::KeyspaceNotFound(name.to_string()))?;
        Ok(self.view_of(keyspace))
    }

    /// Names of the named keyspaces that existed, sorted.
    pub fn keyspaces(&self) -> Vec<String> {
        self.overlay
            .named
            .keys()
            .map(|name| String::from_utf8_lossy(name).into_owned())
            .collect()
    }

    fn default_keyspace(&self) -> AsOfKeyspace<'_> {
        self.view_of(&self.overlay.default)
    }

    /// The value stored under `key` in the default keyspace.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Value<'_>>> {
        self.default_keyspace().get(key)
    }

    /// Entries with keys in `range`, in key order; `.rev()` for descending order.
    pub fn range<K: AsRef<[u8]>>(&self, range: impl RangeBounds<K>) -> Result<AsOfRange<'_>> {
        self.default_keyspace().range(range)
    }

    /// Every entry of the default keyspace.
    pub fn iter(&self) -> Result<AsOfRange<'_>> {
        self.default_keyspace().iter()
    }

    /// Entries whose key starts with `prefix`.
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Result<AsOfRange<'_>> {
        self.default_keyspace().prefix(prefix)
    }

    /// Entries in the default keyspace.
    pub fn len(&self) -> u64 {
        self.overlay.default.len
    }

    /// Whether the default keyspace was empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One keyspace of an [`AsOfTxn`].
pub struct AsOfKeyspace<'t> {
    base: Option<Keyspace<'t>>,
    overlay: &'t KeyspaceOverlay,
}

impl<'t> AsOfKeyspace<'t> {
    /// The value stored under `key`.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Value<'t>>> {
        match self.overlay.entries.get(key.as_ref()) {
            Some(Some(value)) => Ok(Some(Cow::Borrowed(value))),
            Some(None) => Ok(None),
            None => match &self.base {
                Some(base) => base.get(key),
                None => Ok(None),
            },
        }
    }

    fn bounded(&self, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Result<AsOfRange<'t>> {
        let empty = match (start, end) {
            (Bound::Included(a), Bound::Included(b)) => a > b,
            (Bound::Included(a) | Bound::Excluded(a), Bound::Excluded(b))
            | (Bound::Excluded(a), Bound::Included(b)) => a >= b,
            _ => false,
        };
        let overlay = if empty {
            None
        } else {
            Some(Ends::new(
                self.overlay.entries.range::<[u8], _>((start, end)),
            ))
        };
        let base = match &self.base {
            Some(base) if !empty => Some(Ends::new(base.range_bounds(start, end)?)),
            _ => None,
        };
        Ok(AsOfRange { base, overlay })
    }

    /// Entries with keys in `range`, in key order; `.rev()` for descending order.
    pub fn range<K: AsRef<[u8]>>(&self, range: impl RangeBounds<K>) -> Result<AsOfRange<'t>> {
        self.bounded(bound(range.start_bound()), bound(range.end_bound()))
    }

    /// Every entry.
    pub fn iter(&self) -> Result<AsOfRange<'t>> {
        self.bounded(Bound::Unbounded, Bound::Unbounded)
    }

    /// Entries whose key starts with `prefix`.
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Result<AsOfRange<'t>> {
        let prefix = prefix.as_ref();
        match prefix.iter().rposition(|byte| *byte != 0xff) {
            Some(last) => {
                let mut end = prefix[..=last].to_vec();
                end[last] += 1;
                self.bounded(Bound::Included(prefix), Bound::Excluded(&end))
            }
            None => self.bounded(Bound::Included(prefix), Bound::Unbounded),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> u64 {
        self.overlay.len
    }

    /// Whether the keyspace was empty.
    pub fn is_empty(&self) -> bool {
        self.overlay.len == 0
    }
}

/// A double-ended iterator with one look-ahead slot at each end. When the iterator runs
/// dry, an end takes the item the other end has looked at, so nothing is lost or doubled.
struct Ends<I: DoubleEndedIterator> {
    iter: I,
    front: Option<I::Item>,
    back: Option<I::Item>,
}

impl<I: DoubleEndedIterator> Ends<I> {
    fn new(iter: I) -> Self {
        Ends {
            iter,
            front: None,
            back: None,
        }
    }

    fn peek_front(&mut self) -> Option<&I::Item> {
        if self.front.is_none() {
            self.front = self.iter.next().or_else(|| self.back.take());
        }
        self.front.as_ref()
    }

    fn peek_back(&mut self) -> Option<&I::Item> {
        if self.back.is_none() {
            self.back = self.iter.next_back().or_else(|| self.front.take());
        }
        self.back.as_ref()
    }
}

type OverlayRange<'t> = std::collections::btree_map::Range<'t, Vec<u8>, Option<Vec<u8>>>;

/// Iterator over an [`AsOfKeyspace`] range: base entries merged with the overlay.
pub struct AsOfRange<'t> {
    base: Option<Ends<Range<'t>>>,
    overlay: Option<Ends<OverlayRange<'t>>>,
}

impl<'t> AsOfRange<'t> {
    fn take(&mut self, from_back: bool) -> Option<Result<(&'t [u8], Value<'t>)>> {
        loop {
            let (base_key, base_failed) = match &mut self.base {
                Some(base) => match if from_back {
                    base.peek_back()
                } else {
                    base.peek_front()
                } {
                    Some(Ok((key, _))) => (Some(*key), false),
                    Some(Err(_)) => (None, true),
                    None => (None, false),
                },
                None => (None, false),
            };
            if base_failed {
                let mut base = self.base.take().expect("base present");
                let slot = if from_back {
                    &mut base.back
                } else {
                    &mut base.front
                };
                return slot
                    .take()
                    .map(|item| item.map(|_| unreachable!("peeked an error")));
            }
            let overlay_key = match &mut self.overlay {
                Some(overlay) => (if from_back {
                    overlay.peek_back()
                } else {
                    overlay.peek_front()
                })
                .map(|(key, _)| &key[..]),
                None => None,
            };
            let use_overlay = match (base_key, overlay_key) {
                (None, None) => return None,
                (Some(_), None) => false,
                (None, Some(_)) => true,
                (Some(base), Some(overlay)) => {
                    if base == overlay {
                        // The overlay's version of the key replaces the base's.
                        let base = self.base.as_mut().expect("base present");
                        let _ = if from_back {
                            base.back.take()
                        } else {
                            base.front.take()
                        };
                        true
                    } else {
                        (overlay < base) != from_back
                    }
                }
            };
            if use_overlay {
                let overlay = self.overlay.as_mut().expect("overlay present");
                let (key, value) = if from_back {
                    overlay.back.take()
                } else {
                    overlay.front.take()
                }
                .expect("peeked");
                if let Some(value) = value {
                    return Some(Ok((&key[..], Cow::Borrowed(&value[..]))));
                }
            } else {
                let base = self.base.as_mut().expect("base present");
                return if from_back {
                    base.back.take()
                } else {
                    base.front.take()
                };
            }
        }
    }
}

impl<'t> Iterator for AsOfRange<'t> {
    type Item = Result<(&'t [u8], Value<'t>)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.take(false)
    }
}

impl DoubleEndedIterator for AsOfRange<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.take(true)
    }
}
