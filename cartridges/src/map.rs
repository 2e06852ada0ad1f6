//! An open cartridge: the file mapped read-only, checked once, then read in place by any
//! number of threads.
//!
//! Invariants:
//! - [`Cartridge::open`] checks the header, the section table, every CRC and every table
//!   invariant before returning; queries afterwards only index into checked bytes.
//! - The mapping stays valid for the life of the `Cartridge`: files are never changed in
//!   place, only replaced by rename, which leaves the old inode (and this map) intact.
//! - `Cartridge` is `Send + Sync`; lookups take `&self` and allocate nothing.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use northstar::TxnId;

use crate::entry::Entry;
use crate::error::{hex_id, CartridgeError, Result};
use crate::format::layout::{SectionId, SECTIONS};
use crate::format::table::TableSections;
use crate::format::{check_file, FileLayout, Kind, Table};
use crate::sort::EntryStream;
use crate::source::{decode_keyspaces, Position};

/// The bytes of a cartridge: a read-only map of its file, or a copy in memory.
#[derive(Debug)]
enum Bytes {
    Mapped(Mmap),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(map) => map,
            Bytes::Owned(bytes) => bytes,
        }
    }
}

/// A checked, mapped cartridge file.
#[derive(Debug)]
pub struct Cartridge {
    path: PathBuf,
    map: Bytes,
    layout: FileLayout,
    keyspaces: BTreeMap<u32, Vec<u8>>,
}

/// Which table of a cartridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableId {
    /// The index: what queries read.
    Index,
    /// Sources of a state-derived index: each source key with the entries it produced.
    Sources,
}

const TABLES: [(TableId, [SectionId; 4]); 2] = [
    (
        TableId::Index,
        [
            SectionId::Groups,
            SectionId::GroupNames,
            SectionId::Entries,
            SectionId::Data,
        ],
    ),
    (
        TableId::Sources,
        [
            SectionId::SourceGroups,
            SectionId::SourceGroupNames,
            SectionId::SourceEntries,
            SectionId::SourceData,
        ],
    ),
];

/// One section as `inspect` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionInfo {
    /// Section name.
    pub name: &'static str,
    /// Offset in the file.
    pub offset: u64,
    /// Size in bytes.
    pub size: u64,
    /// Items (slots, or bytes).
    pub count: u64,
}

impl Cartridge {
    /// Maps and checks the cartridge at `path`.
    ///
    /// Errors: [`CartridgeError::Io`] when it cannot be read;
    /// [`CartridgeError::NotACartridge`], [`CartridgeError::NewerVersion`] or
    /// [`CartridgeError::Corrupt`] (naming the section and offset) when its bytes are
    /// not a cartridge this build reads.
    ///
    /// ```
    /// # use northstar_cartridges::{Cartridge, CartridgeError};
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("bogus.cart");
    /// std::fs::write(&path, b"not a cartridge")?;
    /// assert!(matches!(Cartridge::open(&path), Err(CartridgeError::NotACartridge { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Cartridge> {
        let path = path.as_ref();
        let io = |op: &str, e| CartridgeError::io(path, op, e);
        let file = File::open(path).map_err(|e| io("open", e))?;
        let len = file.metadata().map_err(|e| io("stat", e))?.len();
        if len == 0 {
            return Err(CartridgeError::NotACartridge {
                path: path.to_path_buf(),
                detail: "the file is empty".into(),
            });
        }
        // SAFETY: cartridges are immutable once renamed into place and are replaced only
        // by rename, so the mapped bytes never change under the map.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| io("map", e))?;
        Cartridge::check(path, Bytes::Mapped(map))
    }

    /// Checks the cartridge `bytes` (named `path` in errors) as [`Cartridge::open`] does,
    /// and keeps them in memory.
    ///
    /// Errors: [`CartridgeError::NotACartridge`], [`CartridgeError::NewerVersion`] or
    /// [`CartridgeError::Corrupt`] (naming the section and offset).
    pub fn from_bytes(path: impl AsRef<Path>, bytes: Vec<u8>) -> Result<Cartridge> {
        Cartridge::check(path.as_ref(), Bytes::Owned(bytes))
    }

    fn check(path: &Path, map: Bytes) -> Result<Cartridge> {
        let layout = check_file(path, &map)?;
        for (_, ids) in TABLES {
            let ranges = ids.map(|id| layout.sections[id.index()].clone());
            let names = ids.map(SectionId::name);
            Table::check(
                path,
                TableSections {
                    bytes: &map,
                    ranges,
                    names,
                },
            )?;
        }
        let keyspaces_range = layout.sections[SectionId::Keyspaces.index()].clone();
        let keyspaces =
            decode_keyspaces(&map[keyspaces_range.clone()]).map_err(|(at, detail)| {
                CartridgeError::corrupt(
                    path,
                    "keyspaces",
                    (keyspaces_range.start + at) as u64,
                    detail,
                )
            })?;
        Ok(Cartridge {
            path: path.to_path_buf(),
            map,
            layout,
            keyspaces,
        })
    }

    /// Opens the cartridge at `path` and refuses it unless it was built from database
    /// `database_id` and is of kind `kind_name`.
    ///
    /// Errors: those of [`Cartridge::open`]; [`CartridgeError::WrongDatabase`];
    /// [`CartridgeError::WrongKind`].
    pub fn open_for(
        path: impl AsRef<Path>,
        database_id: [u8; 16],
        kind_name: &str,
    ) -> Result<Cartridge> {
        let cartridge = Cartridge::open(path)?;
        cartridge.expect_database(database_id)?;
        if cartridge.kind_name() != kind_name {
            return Err(CartridgeError::WrongKind {
                path: cartridge.path.clone(),
                expected: kind_name.to_string(),
                found: cartridge.kind_name().to_string(),
            });
        }
        Ok(cartridge)
    }

    /// Refuses the cartridge unless it belongs to database `database_id`.
    ///
    /// Errors: [`CartridgeError::WrongDatabase`].
    pub fn expect_database(&self, database_id: [u8; 16]) -> Result<()> {
        if self.database_id() != database_id {
            return Err(CartridgeError::WrongDatabase {
                path: self.path.clone(),
                expected: hex_id(&database_id),
                found: hex_id(&self.database_id()),
            });
        }
        Ok(())
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The kind.
    pub fn kind(&self) -> Kind {
        self.layout.kind
    }

    /// The kind name: `key_history`, `pending_tasks_by_type`, or an extractor's name.
    pub fn kind_name(&self) -> &str {
        &self.layout.kind_name
    }

    /// The id of the database whose log it was built from.
    pub fn database_id(&self) -> [u8; 16] {
        self.layout.header.database_id
    }

    /// First txn covered.
    pub fn txn_from(&self) -> TxnId {
        self.layout.header.txn_from.get()
    }

    /// Last txn covered: queries "as of the cartridge" answer as of this txn.
    pub fn txn_to(&self) -> TxnId {
        self.layout.header.txn_to.get()
    }

    /// The hash of the kind name and build parameters.
    pub fn params_hash(&self) -> u64 {
        self.layout.header.params_hash.get()
    }

    /// The build parameters.
    pub fn params(&self) -> &[u8] {
        &self.map[self.layout.sections[SectionId::Params.index()].clone()]
    }

    /// Size of the file in bytes.
    pub fn file_size(&self) -> u64 {
        self.map.len() as u64
    }

    /// The raw file bytes (as mapped).
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// Where in the log the cartridge ends: its `txn_to`, the offset past that record, and
    /// the keyspaces live then.
    pub fn position(&self) -> Position {
        Position {
            txn: self.txn_to(),
            log_offset: self.layout.header.log_offset.get(),
            keyspaces: self.keyspaces.clone(),
        }
    }

    /// Table `id`, read in place.
    pub fn table(&self, id: TableId) -> Table<'_> {
        let (_, ids) = TABLES[id as usize];
        Table::view(
            &self.map,
            ids.map(|id| self.layout.sections[id.index()].clone()),
        )
    }

    /// Every entry of table `id` in order, as owned entries (for merging into a new
    /// cartridge).
    pub fn stream(&self, id: TableId) -> EntryStream<'_> {
        let table = self.table(id);
        Box::new((0..table.group_count()).flat_map(move |group| {
            let name = table.group_name(group);
            table
                .group_range(group)
                .map(move |index| Ok(Entry::from_ref(name, table.entry(index))))
        }))
    }

    /// Every section with its place and size.
    pub fn sections(&self) -> Vec<SectionInfo> {
        SECTIONS
            .iter()
            .map(|id| {
                let range = &self.layout.sections[id.index()];
                SectionInfo {
                    name: id.name(),
                    offset: range.start as u64,
                    size: range.len() as u64,
                    count: self.layout.counts[id.index()],
                }
            })
            .collect()
    }

    /// The error for a query at `txn`, outside what the cartridge covers.
    pub(crate) fn out_of_range(&self, txn: TxnId) -> CartridgeError {
        CartridgeError::TxnOutOfRange {
            path: self.path.clone(),
            requested: txn,
            from: self.txn_from(),
            to: self.txn_to(),
        }
    }
}
