//! The 32-byte header that starts every page, and the page checksum.
//!
//! Layout (little-endian):
//!
//! | offset | size | field                                   |
//! |--------|------|-----------------------------------------|
//! | 0      | 4    | magic `NSPG`                            |
//! | 4      | 1    | page kind                               |
//! | 5      | 1    | flags (zero in version 0)               |
//! | 6      | 2    | entry count (kind-specific)             |
//! | 8      | 8    | page id                                 |
//! | 16     | 8    | id of the txn that wrote the page       |
//! | 24     | 4    | CRC32C of the page, this field as zeros |
//! | 28     | 4    | aux (kind-specific)                     |
//!
//! Invariant: a page is trusted only after its magic, id and checksum match.

use crate::limits::{PAGE_HEADER_SIZE, PAGE_SIZE};
use crate::{PageId, TxnId};

/// Magic at offset 0 of every page.
pub const PAGE_MAGIC: [u8; 4] = *b"NSPG";

const OFFSET_MAGIC: usize = 0;
const OFFSET_KIND: usize = 4;
const OFFSET_FLAGS: usize = 5;
const OFFSET_COUNT: usize = 6;
const OFFSET_PAGE_ID: usize = 8;
const OFFSET_TXN_ID: usize = 16;
const OFFSET_CHECKSUM: usize = 24;
const OFFSET_AUX: usize = 28;
const _: () = assert!(OFFSET_AUX + 4 == PAGE_HEADER_SIZE);

/// A reference to a page together with the txn that wrote it. Every page reference on
/// disk carries both, so a stale page (an older version left by a lost or misdirected
/// write, whose checksum is still valid) is caught as corruption, not read as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct PageRef {
    /// The page.
    pub id: PageId,
    /// The txn that wrote it (the page header's txn id must match).
    pub txn: TxnId,
}

impl PageRef {
    /// No page (an empty tree, an empty freelist).
    pub const NONE: PageRef = PageRef { id: 0, txn: 0 };

    /// Whether this refers to no page.
    pub fn is_none(&self) -> bool {
        self.id == 0
    }
}

/// What a page holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum PageKind {
    /// Meta A or Meta B (pages 0 and 1).
    Meta = 1,
    /// Interior B+tree node: separators and child page ids.
    Branch = 2,
    /// B+tree leaf: keys and values (or overflow references).
    Leaf = 3,
    /// One page of a large value's run.
    Overflow = 4,
    /// One page of the persistent free-page list.
    Freelist = 5,
}

impl PageKind {
    /// Decodes a kind byte; `None` for an unknown kind.
    pub fn from_byte(byte: u8) -> Option<PageKind> {
        match byte {
            1 => Some(PageKind::Meta),
            2 => Some(PageKind::Branch),
            3 => Some(PageKind::Leaf),
            4 => Some(PageKind::Overflow),
            5 => Some(PageKind::Freelist),
            _ => None,
        }
    }

    /// Lower-case name used in messages and tools.
    pub fn name(self) -> &'static str {
        match self {
            PageKind::Meta => "meta",
            PageKind::Branch => "branch",
            PageKind::Leaf => "leaf",
            PageKind::Overflow => "overflow",
            PageKind::Freelist => "freelist",
        }
    }
}

/// Decoded page header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageHeader {
    /// Raw kind byte (see [`PageKind::from_byte`]).
    pub kind: u8,
    /// Flags; zero in format version 0.
    pub flags: u8,
    /// Kind-specific entry count.
    pub count: u16,
    /// Id the page was written as.
    pub page_id: PageId,
    /// Txn that wrote the page.
    pub txn_id: TxnId,
    /// Stored checksum.
    pub checksum: u32,
    /// Kind-specific extra field.
    pub aux: u32,
}

pub(crate) fn read_u16(bytes: &[u8], offset: usize) -> u16 {
    u16::from_le_bytes(bytes[offset..offset + 2].try_into().unwrap())
}

pub(crate) fn read_u32(bytes: &[u8], offset: usize) -> u32 {
    u32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap())
}

pub(crate) fn read_u64(bytes: &[u8], offset: usize) -> u64 {
    u64::from_le_bytes(bytes[offset..offset + 8].try_into().unwrap())
}

pub(crate) fn write_u16(bytes: &mut [u8], offset: usize, value: u16) {
    bytes[offset..offset + 2].copy_from_slice(&value.to_le_bytes());
}

pub(crate) fn write_u32(bytes: &mut [u8], offset: usize, value: u32) {
    bytes[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
}

pub(crate) fn write_u64(bytes: &mut [u8], offset: usize, value: u64) {
    bytes[offset..offset + 8].copy_from_slice(&value.to_le_bytes());
}

impl PageHeader {
    /// Reads the header of `page` (at least [`PAGE_HEADER_SIZE`] bytes).
    pub fn decode(page: &[u8]) -> PageHeader {
        PageHeader {
            kind: page[OFFSET_KIND],
            flags: page[OFFSET_FLAGS],
            count: read_u16(page, OFFSET_COUNT),
            page_id: read_u64(page, OFFSET_PAGE_ID),
            txn_id: read_u64(page, OFFSET_TXN_ID),
            checksum: read_u32(page, OFFSET_CHECKSUM),
            aux: read_u32(page, OFFSET_AUX),
        }
    }

    /// Whether `page` starts with the page magic.
    pub fn has_magic(page: &[u8]) -> bool {
        page[OFFSET_MAGIC..OFFSET_MAGIC + 4] == PAGE_MAGIC
    }
}

/// Writes the header fields (checksum left zero; see [`seal`]).
pub fn write_header(
    page: &mut [u8],
    kind: PageKind,
    count: u16,
    page_id: PageId,
    txn_id: TxnId,
    aux: u32,
) {
    page[OFFSET_MAGIC..OFFSET_MAGIC + 4].copy_from_slice(&PAGE_MAGIC);
    page[OFFSET_KIND] = kind as u8;
    page[OFFSET_FLAGS] = 0;
    write_u16(page, OFFSET_COUNT, count);
    write_u64(page, OFFSET_PAGE_ID, page_id);
    write_u64(page, OFFSET_TXN_ID, txn_id);
    write_u32(page, OFFSET_CHECKSUM, 0);
    write_u32(page, OFFSET_AUX, aux);
}

/// CRC32C of a whole page with its checksum field taken as zeros.
pub fn checksum(page: &[u8]) -> u32 {
    debug_assert_eq!(page.len(), PAGE_SIZE);
    let crc = crc32c::crc32c(&page[..OFFSET_CHECKSUM]);
    let crc = crc32c::crc32c_append(crc, &[0; 4]);
    crc32c::crc32c_append(crc, &page[OFFSET_CHECKSUM + 4..])
}

/// Stores the page checksum; call after every other byte of the page is final.
pub fn seal(page: &mut [u8]) {
    let crc = checksum(page);
    write_u32(page, OFFSET_CHECKSUM, crc);
}

/// Why a page failed its basic checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageFault {
    /// The page does not start with the page magic (zeroed, garbage or never written).
    BadMagic,
    /// The stored checksum does not match the contents.
    BadChecksum {
        /// Checksum stored in the header.
        stored: u32,
        /// Checksum of the bytes.
        computed: u32,
    },
    /// The header names another page id (a misdirected write).
    WrongPageId {
        /// Id in the header.
        found: PageId,
    },
    /// The kind byte is unknown or not the one expected here.
    WrongKind {
        /// Kind byte found.
        found: u8,
    },
}

impl std::fmt::Display for PageFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PageFault::BadMagic => write!(f, "no page magic (zeroed or foreign bytes)"),
            PageFault::BadChecksum { stored, computed } => {
                write!(
                    f,
                    "checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
                )
            }
            PageFault::WrongPageId { found } => {
                write!(f, "header names page {found} (misdirected write)")
            }
            PageFault::WrongKind { found } => match PageKind::from_byte(*found) {
                Some(kind) => write!(f, "unexpected page kind {}", kind.name()),
                None => write!(f, "unknown page kind byte {found}"),
            },
        }
    }
}

/// Checks magic, checksum and page id of `page`, expected to be page `page_id`.
pub fn verify(page: &[u8], page_id: PageId) -> Result<PageHeader, PageFault> {
    if !PageHeader::has_magic(page) {
        return Err(PageFault::BadMagic);
    }
    let header = PageHeader::decode(page);
    let computed = checksum(page);
    if computed != header.checksum {
        return Err(PageFault::BadChecksum {
            stored: header.checksum,
            computed,
        });
    }
    if header.page_id != page_id {
        return Err(PageFault::WrongPageId {
            found: header.page_id,
        });
    }
    if PageKind::from_byte(header.kind).is_none() {
        return Err(PageFault::WrongKind { found: header.kind });
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_page_verifies_and_any_flipped_bit_fails() {
        let mut page = vec![0u8; PAGE_SIZE];
        write_header(&mut page, PageKind::Leaf, 3, 42, 7, 9);
        page[100] = 0xAB;
        seal(&mut page);
        let header = verify(&page, 42).unwrap();
        assert_eq!(
            (header.kind, header.count, header.txn_id, header.aux),
            (3, 3, 7, 9)
        );
        for bit in [0usize, 8 * 24 + 1, 8 * 100, 8 * (PAGE_SIZE - 1) + 7] {
            let mut damaged = page.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            assert!(verify(&damaged, 42).is_err(), "bit {bit}");
        }
        assert_eq!(verify(&page, 43), Err(PageFault::WrongPageId { found: 42 }));
    }
}
