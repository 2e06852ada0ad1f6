//! Writing a cartridge file: tables streamed from sorted entries, then the file assembled
//! sequentially and put in place atomically.
//!
//! Invariants:
//! - The bytes are a pure function of the header fields, the parameters, the keyspaces and
//!   the two sorted entry streams: no clock, no process id, no map iteration order.
//! - Memory stays bounded: entry slots and data go to temporary files as they come; only
//!   the group slots and names (one per keyspace or type) are held.
//! - A cartridge appears at its path complete or not at all: it is written to a temporary
//!   file of its own in the same directory (`.<name>.cart.<random>.tmp`), synced, renamed
//!   over the path, and the directory synced.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, Write};
use std::path::Path;

use northstar::TxnId;
use zerocopy::little_endian::{U32, U64};
use zerocopy::IntoBytes;

use crate::entry::Entry;
use crate::error::{CartridgeError, Result};
use crate::format::file::header_crc;
use crate::format::layout::{
    EntrySlot, GroupSlot, Header, Kind, SectionEntry, FLAG_TOMBSTONE, FORMAT_VERSION, HEADER_SIZE,
    KIND_NAME_SIZE, MAGIC, READER_VERSION_MIN, SECTIONS, SECTION_ALIGN, SECTION_COUNT,
    SECTION_ENTRY_SIZE,
};
use crate::format::{params_hash, EntryRef};
use crate::sort::flush_file;

/// A section's bytes, in memory or spilled to a temporary file.
enum Section {
    Memory(Vec<u8>),
    Spilled { file: File, len: u64, crc: u32 },
}

impl Section {
    fn len(&self) -> u64 {
        match self {
            Section::Memory(bytes) => bytes.len() as u64,
            Section::Spilled { len, .. } => *len,
        }
    }

    fn crc(&self) -> u32 {
        match self {
            Section::Memory(bytes) => crc32c::crc32c(bytes),
            Section::Spilled { crc, .. } => *crc,
        }
    }
}

/// A sequential temporary file with a running CRC.
struct Spill {
    out: BufWriter<File>,
    len: u64,
    crc: u32,
}

impl Spill {
    fn new(dir: &Path) -> Result<Spill> {
        let file = tempfile::tempfile_in(dir)
            .map_err(|e| CartridgeError::io(dir, "create a temporary section in", e))?;
        Ok(Spill {
            out: BufWriter::with_capacity(1 << 20, file),
            len: 0,
            crc: 0,
        })
    }

    fn write(&mut self, dir: &Path, bytes: &[u8]) -> Result<()> {
        self.out
            .write_all(bytes)
            .map_err(|e| CartridgeError::io(dir, "write a temporary section in", e))?;
        self.crc = crc32c::crc32c_append(self.crc, bytes);
        self.len += bytes.len() as u64;
        Ok(())
    }

    fn finish(self, dir: &Path) -> Result<Section> {
        let mut file = flush_file(self.out, dir, "write a temporary section in")?;
        file.rewind()
            .map_err(|e| CartridgeError::io(dir, "rewind a temporary section in", e))?;
        Ok(Section::Spilled {
            file,
            len: self.len,
            crc: self.crc,
        })
    }
}

/// Writes one table from entries pushed in order.
pub struct TableWriter<'d> {
    dir: &'d Path,
    groups: Vec<GroupSlot>,
    names: Vec<u8>,
    entries: Spill,
    data: Spill,
    entry_count: u64,
    last: Option<Entry>,
}

/// A finished table: its four sections.
pub struct TablePart {
    sections: [Section; 4],
    counts: [u64; 4],
}

impl<'d> TableWriter<'d> {
    /// A table writer whose temporary files go in `dir`.
    ///
    /// Errors: [`CartridgeError::Io`] creating them.
    pub fn new(dir: &'d Path) -> Result<TableWriter<'d>> {
        Ok(TableWriter {
            dir,
            groups: Vec::new(),
            names: Vec::new(),
            entries: Spill::new(dir)?,
            data: Spill::new(dir)?,
            entry_count: 0,
            last: None,
        })
    }

    /// Entries pushed so far.
    pub fn entry_count(&self) -> u64 {
        self.entry_count
    }

    /// Appends `entry`, which must order after every entry before it by (group, key,
    /// seq, value) — a bug otherwise, and a panic in debug builds.
    ///
    /// Errors: [`CartridgeError::Io`] writing the temporary files.
    pub fn push(&mut self, entry: &Entry) -> Result<()> {
        let view = EntryRef {
            key: &entry.key,
            seq: entry.seq,
            value: &entry.value,
            tombstone: entry.tombstone,
        };
        self.push_ref(&entry.group, view)
    }

    /// Appends `entry` of group `group` as [`TableWriter::push`] does, without
    /// allocating (once the writer has seen entries as long).
    ///
    /// Errors: [`CartridgeError::Io`] writing the temporary files.
    pub fn push_ref(&mut self, group: &[u8], entry: EntryRef<'_>) -> Result<()> {
        // Checked in debug builds only: the order is the builder's invariant, and this
        // comparison was a tenth of a release build's time.
        debug_assert!(
            self.last.as_ref().is_none_or(|last| {
                (&last.group[..], &last.key[..], last.seq, &last.value[..])
                    < (group, entry.key, entry.seq, entry.value)
            }),
            "table entries must be pushed in strictly increasing order"
        );
        debug_assert!(
            !entry.tombstone || entry.value.is_empty(),
            "tombstones carry no value"
        );
        let new_group = self.last.as_ref().is_none_or(|last| last.group != group);
        if new_group {
            self.groups.push(GroupSlot {
                name_offset: U64::new(self.names.len() as u64),
                name_len: U32::new(group.len() as u32),
                reserved: U32::new(0),
                entry_first: U64::new(self.entry_count),
                entry_count: U64::new(0),
            });
            self.names.extend_from_slice(group);
        }
        let slot_group = self.groups.last_mut().expect("a group was started");
        slot_group.entry_count = U64::new(slot_group.entry_count.get() + 1);
        let slot = EntrySlot {
            data_offset: U64::new(self.data.len),
            seq: U64::new(entry.seq),
            key_len: U32::new(entry.key.len() as u32),
            value_len: U32::new(entry.value.len() as u32),
            flags: U32::new(if entry.tombstone { FLAG_TOMBSTONE } else { 0 }),
            reserved: U32::new(0),
        };
        self.entries.write(self.dir, slot.as_bytes())?;
        self.data.write(self.dir, entry.key)?;
        self.data.write(self.dir, entry.value)?;
        self.entry_count += 1;
        let last = self.last.get_or_insert_with(Entry::default);
        for (buffer, bytes) in [
            (&mut last.group, group),
            (&mut last.key, entry.key),
            (&mut last.value, entry.value),
        ] {
            buffer.clear();
            buffer.extend_from_slice(bytes);
        }
        last.seq = entry.seq;
        Ok(())
    }

    /// The table's sections. Errors: [`CartridgeError::Io`] flushing them.
    pub fn finish(self) -> Result<TablePart> {
        let counts = [
            self.groups.len() as u64,
            self.names.len() as u64,
            self.entry_count,
            self.data.len,
        ];
        Ok(TablePart {
            sections: [
                Section::Memory(self.groups.as_bytes().to_vec()),
                Section::Memory(self.names),
                self.entries.finish(self.dir)?,
                self.data.finish(self.dir)?,
            ],
            counts,
        })
    }
}

/// The header fields of a cartridge being written.
#[derive(Debug, Clone)]
pub struct HeaderFields<'a> {
    /// Kind.
    pub kind: Kind,
    /// Kind name (the extractor's name for user-defined kinds); 1 to 32 bytes.
    pub kind_name: &'a str,
    /// Build parameters, stored and hashed.
    pub params: &'a [u8],
    /// Database id.
    pub database_id: [u8; 16],
    /// First txn covered.
    pub txn_from: TxnId,
    /// Last txn covered.
    pub txn_to: TxnId,
    /// Log offset just past the record of `txn_to`.
    pub log_offset: u64,
}

/// Writes the cartridge at `path` atomically; returns its size.
///
/// Errors: [`CartridgeError::Io`] on any failed write, sync or rename (the old file, if
/// any, is then still in place).
pub fn write_cartridge(
    path: &Path,
    fields: &HeaderFields<'_>,
    keyspaces: Vec<u8>,
    tables: [TablePart; 2],
) -> Result<u64> {
    assert!(
        !fields.kind_name.is_empty() && fields.kind_name.len() <= KIND_NAME_SIZE,
        "kind names are checked by the builder"
    );
    let [index, sources] = tables;
    let mut sections: Vec<(Section, u64)> = vec![
        (
            Section::Memory(fields.params.to_vec()),
            fields.params.len() as u64,
        ),
        (Section::Memory(keyspaces), 0),
    ];
    let keyspace_bytes = sections[1].0.len();
    sections[1].1 = keyspace_bytes;
    for part in [index, sources] {
        for (section, count) in part.sections.into_iter().zip(part.counts) {
            sections.push((section, count));
        }
    }
    assert_eq!(sections.len(), SECTION_COUNT);
    let mut table = Vec::with_capacity(SECTION_COUNT * SECTION_ENTRY_SIZE);
    let mut offset = (HEADER_SIZE + SECTION_COUNT * SECTION_ENTRY_SIZE) as u64;
    let mut file_size = offset;
    for ((section, count), id) in sections.iter().zip(SECTIONS) {
        let entry = SectionEntry {
            id: U32::new(id as u32),
            crc: U32::new(section.crc()),
            offset: U64::new(offset),
            size: U64::new(section.len()),
            count: U64::new(*count),
        };
        table.extend_from_slice(entry.as_bytes());
        file_size = offset + section.len();
        offset = file_size.next_multiple_of(SECTION_ALIGN);
    }
    let header = header(fields, file_size, crc32c::crc32c(&table));
    let dir = path.parent().expect("a cartridge path has a directory");
    let name = path.file_name().expect("a cartridge path has a file name");
    // A name of its own per build: two builders of one cartridge never write one file,
    // and a failed build removes its file when `temporary` drops.
    let temporary = tempfile::Builder::new()
        .prefix(&format!(".{}.", name.to_string_lossy()))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| CartridgeError::io(dir, "create a temporary cartridge in", e))?;
    let (file, temporary) = temporary.into_parts();
    let io = |op: &str, e| CartridgeError::io(&temporary, op, e);
    let mut out = BufWriter::with_capacity(1 << 20, file);
    out.write_all(header.as_bytes())
        .map_err(|e| io("write", e))?;
    out.write_all(&table).map_err(|e| io("write", e))?;
    let mut written = (HEADER_SIZE + table.len()) as u64;
    for (section, _) in sections {
        let aligned = written.next_multiple_of(SECTION_ALIGN);
        out.write_all(&vec![0; (aligned - written) as usize])
            .map_err(|e| io("write", e))?;
        written = aligned + section.len();
        match section {
            Section::Memory(bytes) => out.write_all(&bytes).map_err(|e| io("write", e))?,
            Section::Spilled { file, len, .. } => {
                let copied = std::io::copy(&mut file.take(len), &mut out)
                    .map_err(|e| io("copy a section into", e))?;
                assert_eq!(copied, len, "a temporary section shrank while being copied");
            }
        }
    }
    assert_eq!(written, file_size);
    let file = flush_file(out, &temporary, "write")?;
    file.sync_all().map_err(|e| io("sync", e))?;
    drop(file);
    temporary
        .persist(path)
        .map_err(|e| CartridgeError::io(path, "rename the new cartridge into place at", e.error))?;
    sync_dir(dir)?;
    Ok(file_size)
}

fn header(fields: &HeaderFields<'_>, file_size: u64, table_crc: u32) -> Header {
    let mut kind_name = [0u8; KIND_NAME_SIZE];
    kind_name[..fields.kind_name.len()].copy_from_slice(fields.kind_name.as_bytes());
    let mut header = Header {
        magic: MAGIC,
        format_version: U32::new(FORMAT_VERSION),
        reader_version_min: U32::new(READER_VERSION_MIN),
        kind: U32::new(fields.kind.code()),
        section_count: U32::new(SECTION_COUNT as u32),
        params_hash: U64::new(params_hash(fields.kind_name, fields.params)),
        database_id: fields.database_id,
        txn_from: U64::new(fields.txn_from),
        txn_to: U64::new(fields.txn_to),
        log_offset: U64::new(fields.log_offset),
        file_size: U64::new(file_size),
        kind_name,
        table_crc: U32::new(table_crc),
        reserved: [0; 8],
        header_crc: U32::new(0),
    };
    header.header_crc = U32::new(header_crc(&header));
    header
}

/// Syncs directory `dir`, so a rename in it is durable.
///
/// Errors: [`CartridgeError::Io`].
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(|e| CartridgeError::io(dir, "sync the directory", e))
}
