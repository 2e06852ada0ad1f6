//! The keyspace a command reads: the default one or a named one, of the newest snapshot
//! or of an AS OF view, behind one interface.
//!
//! The library reads the default keyspace through the read txn (or [`AsOfTxn`]) itself
//! and a named one through a [`Keyspace`] (or [`AsOfKeyspace`]) handle;
//! [`KeyspaceReader`] lets commands treat all four alike.
//!
//! Invariant: a prefix longer than the longest key matches nothing and is answered here,
//! without asking the library to build an end bound longer than a key can be.

use std::borrow::Cow;
use std::ops::Bound;

use northstar::{AsOfKeyspace, AsOfRange, AsOfTxn, Keyspace, Range, ReadTxn, KEY_SIZE_MAX};

use crate::failure::Failure;

/// Read access to the default keyspace or one named keyspace of a snapshot.
pub enum KeyspaceReader<'t> {
    /// The default keyspace.
    Default(&'t ReadTxn<'t>),
    /// A named keyspace and its name.
    Named(Keyspace<'t>, String),
    /// The default keyspace as of an earlier txn.
    AsOfDefault(&'t AsOfTxn<'t>),
    /// A named keyspace as of an earlier txn, and its name.
    AsOfNamed(AsOfKeyspace<'t>, String),
}

/// Entries of a keyspace, in key order, or none.
pub enum Entries<'t> {
    /// Entries from the store (boxed: a range holds two cursors of a few KiB).
    Range(Box<Range<'t>>),
    /// Entries of an AS OF view.
    AsOf(Box<AsOfRange<'t>>),
    /// No entry can match.
    Nothing,
}

impl<'t> Iterator for Entries<'t> {
    type Item = northstar::Result<(&'t [u8], Cow<'t, [u8]>)>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Entries::Range(range) => range.next(),
            Entries::AsOf(range) => range.next(),
            Entries::Nothing => None,
        }
    }
}

impl DoubleEndedIterator for Entries<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match self {
            Entries::Range(range) => range.next_back(),
            Entries::AsOf(range) => range.next_back(),
            Entries::Nothing => None,
        }
    }
}

impl<'t> KeyspaceReader<'t> {
    /// The keyspace `name` of `txn`, or its default keyspace when `name` is `None`.
    ///
    /// Errors: the library's [`northstar::Error::KeyspaceNotFound`] and read errors.
    pub fn open(txn: &'t ReadTxn<'t>, name: Option<&str>) -> Result<KeyspaceReader<'t>, Failure> {
        match name {
            None => Ok(KeyspaceReader::Default(txn)),
            Some(name) => Ok(KeyspaceReader::Named(txn.keyspace(name)?, name.to_string())),
        }
    }

    /// The keyspace `name` of the AS OF view `txn`, or its default keyspace.
    ///
    /// Errors: [`northstar::Error::KeyspaceNotFound`] when it did not exist at that txn.
    pub fn open_as_of(
        txn: &'t AsOfTxn<'t>,
        name: Option<&str>,
    ) -> Result<KeyspaceReader<'t>, Failure> {
        match name {
            None => Ok(KeyspaceReader::AsOfDefault(txn)),
            Some(name) => Ok(KeyspaceReader::AsOfNamed(
                txn.keyspace(name)?,
                name.to_string(),
            )),
        }
    }

    /// Words for messages: `default keyspace` or `keyspace "users"`.
    pub fn label(&self) -> String {
        keyspace_label(self.name_if_named())
    }

    fn name_if_named(&self) -> Option<&str> {
        match self {
            KeyspaceReader::Default(_) | KeyspaceReader::AsOfDefault(_) => None,
            KeyspaceReader::Named(_, name) | KeyspaceReader::AsOfNamed(_, name) => Some(name),
        }
    }

    /// The name the library uses in reports: empty for the default keyspace.
    pub fn name(&self) -> &str {
        self.name_if_named().unwrap_or("")
    }

    /// Number of entries.
    pub fn len(&self) -> u64 {
        match self {
            KeyspaceReader::Default(txn) => txn.len(),
            KeyspaceReader::Named(keyspace, _) => keyspace.len(),
            KeyspaceReader::AsOfDefault(txn) => txn.len(),
            KeyspaceReader::AsOfNamed(keyspace, _) => keyspace.len(),
        }
    }

    /// Whether the keyspace has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value stored under `key`.
    pub fn get(&self, key: &[u8]) -> northstar::Result<Option<Cow<'t, [u8]>>> {
        match self {
            KeyspaceReader::Default(txn) => txn.get(key),
            KeyspaceReader::Named(keyspace, _) => keyspace.get(key),
            KeyspaceReader::AsOfDefault(txn) => txn.get(key),
            KeyspaceReader::AsOfNamed(keyspace, _) => keyspace.get(key),
        }
    }

    /// Entries with keys between `start` and `end`, in key order.
    pub fn range(&self, start: Bound<&[u8]>, end: Bound<&[u8]>) -> northstar::Result<Entries<'t>> {
        let bounds = (start, end);
        Ok(match self {
            KeyspaceReader::Default(txn) => Entries::Range(Box::new(txn.range::<&[u8]>(bounds)?)),
            KeyspaceReader::Named(keyspace, _) => {
                Entries::Range(Box::new(keyspace.range::<&[u8]>(bounds)?))
            }
            KeyspaceReader::AsOfDefault(txn) => {
                Entries::AsOf(Box::new(txn.range::<&[u8]>(bounds)?))
            }
            KeyspaceReader::AsOfNamed(keyspace, _) => {
                Entries::AsOf(Box::new(keyspace.range::<&[u8]>(bounds)?))
            }
        })
    }

    /// Entries whose key starts with `prefix`, in key order.
    pub fn prefix(&self, prefix: &[u8]) -> northstar::Result<Entries<'t>> {
        if prefix.len() > KEY_SIZE_MAX {
            return Ok(Entries::Nothing);
        }
        Ok(match self {
            KeyspaceReader::Default(txn) => Entries::Range(Box::new(txn.prefix(prefix)?)),
            KeyspaceReader::Named(keyspace, _) => {
                Entries::Range(Box::new(keyspace.prefix(prefix)?))
            }
            KeyspaceReader::AsOfDefault(txn) => Entries::AsOf(Box::new(txn.prefix(prefix)?)),
            KeyspaceReader::AsOfNamed(keyspace, _) => {
                Entries::AsOf(Box::new(keyspace.prefix(prefix)?))
            }
        })
    }
}

/// Words for messages: `default keyspace` for `None`, else `keyspace "users"`.
pub fn keyspace_label(name: Option<&str>) -> String {
    match name {
        None => "default keyspace".to_string(),
        Some(name) => format!("keyspace {name:?}"),
    }
}
