//! Byte layouts of a cartridge file (`spec/cartridge_format_v1.md`), read in place.
//!
//! Invariants:
//! - Every struct here is `repr(C)` of little-endian fields with alignment 1, so any byte
//!   offset of a mapped file can be viewed as one; `zerocopy`'s derives reject padding and
//!   the `const` asserts pin each size to the spec.
//! - Sections start at multiples of [`SECTION_ALIGN`]; the gaps are zeros.

use zerocopy::little_endian::{U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// The first 8 bytes of every cartridge: "NSCART" and two zeros.
pub const MAGIC: [u8; 8] = *b"NSCART\0\0";
/// Format version this build writes (and the newest it reads).
pub const FORMAT_VERSION: u32 = 1;
/// Oldest reader version that can read what this build writes.
pub const READER_VERSION_MIN: u32 = 1;
/// Size of the header at offset 0.
pub const HEADER_SIZE: usize = 128;
/// Size of one section table entry; the table follows the header.
pub const SECTION_ENTRY_SIZE: usize = 32;
/// Every section starts at a multiple of this (a cache line).
pub const SECTION_ALIGN: u64 = 64;
/// Bytes of the kind name in the header.
pub const KIND_NAME_SIZE: usize = 32;
/// `EntrySlot::flags` bit: this version is a delete (no value).
pub const FLAG_TOMBSTONE: u32 = 1;

/// The file header (offset 0).
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Header {
    /// [`MAGIC`].
    pub magic: [u8; 8],
    /// Format version that wrote the file.
    pub format_version: U32,
    /// Oldest reader version that can read the file.
    pub reader_version_min: U32,
    /// Kind code (`Kind`).
    pub kind: U32,
    /// Entries in the section table.
    pub section_count: U32,
    /// FNV-1a 64 of the kind name and the build parameters.
    pub params_hash: U64,
    /// Id of the database whose log the cartridge was built from.
    pub database_id: [u8; 16],
    /// First txn covered.
    pub txn_from: U64,
    /// Last txn covered.
    pub txn_to: U64,
    /// Log offset just past the record of `txn_to` (where catching up starts reading).
    pub log_offset: U64,
    /// Size of the whole file.
    pub file_size: U64,
    /// Kind name, zero padded (the extractor's name for user-defined kinds).
    pub kind_name: [u8; KIND_NAME_SIZE],
    /// CRC32C of the section table.
    pub table_crc: U32,
    /// Zeros.
    pub reserved: [u8; 8],
    /// CRC32C of bytes 0 .. 124.
    pub header_crc: U32,
}

/// One entry of the section table.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct SectionEntry {
    /// Section id: its position plus one (`SectionId`).
    pub id: U32,
    /// CRC32C of the section's bytes.
    pub crc: U32,
    /// Offset of the section in the file.
    pub offset: U64,
    /// Size of the section in bytes.
    pub size: U64,
    /// Items in the section (slots, or bytes for byte sections).
    pub count: U64,
}

/// A group of a table: a run of entries sharing one group name (a keyspace, a task type).
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct GroupSlot {
    /// Offset of the name in the table's names section.
    pub name_offset: U64,
    /// Length of the name.
    pub name_len: U32,
    /// Zero.
    pub reserved: U32,
    /// Index of the group's first entry.
    pub entry_first: U64,
    /// Entries in the group (at least one).
    pub entry_count: U64,
}

/// One entry of a table: a key (and sequence number) with a value, both in the data
/// section.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct EntrySlot {
    /// Offset of the key in the table's data section; the value follows the key.
    pub data_offset: U64,
    /// Sequence number (the txn of a key version; zero where unused).
    pub seq: U64,
    /// Length of the key.
    pub key_len: U32,
    /// Length of the value.
    pub value_len: U32,
    /// [`FLAG_TOMBSTONE`] or zero.
    pub flags: U32,
    /// Zero.
    pub reserved: U32,
}

const _: () = assert!(size_of::<Header>() == HEADER_SIZE);
const _: () = assert!(size_of::<SectionEntry>() == SECTION_ENTRY_SIZE);
const _: () = assert!(size_of::<GroupSlot>() == 32);
const _: () = assert!(size_of::<EntrySlot>() == 32);
const _: () = assert!(align_of::<Header>() == 1 && align_of::<EntrySlot>() == 1);
const _: () = assert!(
    ((HEADER_SIZE + SECTION_COUNT * SECTION_ENTRY_SIZE) as u64).is_multiple_of(SECTION_ALIGN)
);

/// The sections of a version 1 cartridge, in file order. Every cartridge has all of them
/// (possibly empty). Table 0 is the index; table 1 is the source table of state-derived
/// kinds (empty for `key_history`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionId {
    /// The build parameters, as given.
    Params = 1,
    /// Live keyspaces at `txn_to`: id and name.
    Keyspaces = 2,
    /// Table 0 group slots.
    Groups = 3,
    /// Table 0 group names.
    GroupNames = 4,
    /// Table 0 entry slots.
    Entries = 5,
    /// Table 0 keys and values.
    Data = 6,
    /// Table 1 group slots.
    SourceGroups = 7,
    /// Table 1 group names.
    SourceGroupNames = 8,
    /// Table 1 entry slots.
    SourceEntries = 9,
    /// Table 1 keys and values.
    SourceData = 10,
}

/// Sections in a version 1 file.
pub const SECTION_COUNT: usize = 10;

/// Every section id in file order.
pub const SECTIONS: [SectionId; SECTION_COUNT] = [
    SectionId::Params,
    SectionId::Keyspaces,
    SectionId::Groups,
    SectionId::GroupNames,
    SectionId::Entries,
    SectionId::Data,
    SectionId::SourceGroups,
    SectionId::SourceGroupNames,
    SectionId::SourceEntries,
    SectionId::SourceData,
];

impl SectionId {
    /// The section's name in errors and `inspect`.
    pub fn name(self) -> &'static str {
        match self {
            SectionId::Params => "params",
            SectionId::Keyspaces => "keyspaces",
            SectionId::Groups => "groups",
            SectionId::GroupNames => "group_names",
            SectionId::Entries => "entries",
            SectionId::Data => "data",
            SectionId::SourceGroups => "source_groups",
            SectionId::SourceGroupNames => "source_group_names",
            SectionId::SourceEntries => "source_entries",
            SectionId::SourceData => "source_data",
        }
    }

    /// Position in the section table.
    pub fn index(self) -> usize {
        self as usize - 1
    }
}

/// Kind codes in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Every version of every key.
    KeyHistory = 1,
    /// Pending tasks of the task-queue layout, by type and priority.
    PendingTasksByType = 2,
    /// A user-defined extractor's secondary index.
    Extractor = 3,
}

impl Kind {
    /// The kind for a header code, if known.
    pub fn from_code(code: u32) -> Option<Kind> {
        match code {
            1 => Some(Kind::KeyHistory),
            2 => Some(Kind::PendingTasksByType),
            3 => Some(Kind::Extractor),
            _ => None,
        }
    }

    /// The kind's code.
    pub fn code(self) -> u32 {
        self as u32
    }

    /// The built-in name (user-defined extractors carry their own).
    pub fn name(self) -> &'static str {
        match self {
            Kind::KeyHistory => "key_history",
            Kind::PendingTasksByType => "pending_tasks_by_type",
            Kind::Extractor => "extractor",
        }
    }
}

/// FNV-1a 64 of the kind name and the parameters: the header's `params_hash`.
pub fn params_hash(kind_name: &str, params: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let name_len = (kind_name.len() as u64).to_le_bytes();
    for byte in name_len.iter().chain(kind_name.as_bytes()).chain(params) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}
