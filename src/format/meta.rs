//! Meta pages: page 0 (Meta A) and page 1 (Meta B).
//!
//! The meta for txn `t` is written to page `t % 2`, so a commit always overwrites the slot
//! that does not hold the newest meta. Open takes the valid meta with the highest txn id.
//!
//! Body layout after the page header (little-endian):
//!
//! | offset | size | field                                    |
//! |--------|------|------------------------------------------|
//! | 32     | 8    | file magic `NSTARDB\0`                   |
//! | 40     | 4    | format version                           |
//! | 44     | 4    | page size                                |
//! | 48     | 8    | txn id                                   |
//! | 56     | 8    | page count (high-water mark)             |
//! | 64     | 8    | default keyspace root (0 = empty)        |
//! | 72     | 8    | default keyspace entry count             |
//! | 80     | 8    | catalog root (0 = no named keyspaces)    |
//! | 88     | 8    | freelist head page (0 = empty freelist)  |
//! | 96     | 8    | free page count                          |
//! | 104    | 4    | next keyspace id                         |
//! | 108    | 4    | reserved, zero                           |
//! | 112    | 16   | database id                              |
//! | 128    | 8    | log position of this txn                 |
//! | 136    | 8    | txn that wrote the default root          |
//! | 144    | 8    | txn that wrote the catalog root          |
//! | 152    | 8    | txn that wrote the freelist chain        |

use super::page::{read_u32, read_u64, write_header, write_u32, write_u64, PageKind, PageRef};
use crate::limits::{PAGE_HEADER_SIZE, PAGE_SIZE};
use crate::{PageId, TxnId};

/// Magic at the start of the meta body.
pub const FILE_MAGIC: [u8; 8] = *b"NSTARDB\0";

/// Format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

const OFFSET_FILE_MAGIC: usize = PAGE_HEADER_SIZE;
const OFFSET_VERSION: usize = 40;
const OFFSET_PAGE_SIZE: usize = 44;
const OFFSET_TXN_ID: usize = 48;
const OFFSET_PAGE_COUNT: usize = 56;
const OFFSET_DEFAULT_ROOT: usize = 64;
const OFFSET_DEFAULT_LEN: usize = 72;
const OFFSET_CATALOG_ROOT: usize = 80;
const OFFSET_FREELIST_HEAD: usize = 88;
const OFFSET_FREE_COUNT: usize = 96;
const OFFSET_NEXT_KEYSPACE_ID: usize = 104;
const OFFSET_DATABASE_ID: usize = 112;
const OFFSET_LOG_POSITION: usize = 128;
const OFFSET_DEFAULT_ROOT_TXN: usize = 136;
const OFFSET_CATALOG_ROOT_TXN: usize = 144;
const OFFSET_FREELIST_HEAD_TXN: usize = 152;
/// Bytes of the meta page that carry data; the rest is zero.
pub const META_USED_SIZE: usize = 160;
const _: () = assert!(OFFSET_FREELIST_HEAD_TXN + 8 == META_USED_SIZE);

/// Decoded meta page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// Committed txn this meta describes.
    pub txn_id: TxnId,
    /// Pages in use or free below this id; pages at or above it are unallocated.
    pub page_count: u64,
    /// Root of the default keyspace ([`PageRef::NONE`] = empty).
    pub default_root: PageRef,
    /// Entries in the default keyspace.
    pub default_len: u64,
    /// Root of the catalog of named keyspaces ([`PageRef::NONE`] = none).
    pub catalog_root: PageRef,
    /// First page of the freelist chain ([`PageRef::NONE`] = empty); every page of the
    /// chain was written by the same txn.
    pub freelist_head: PageRef,
    /// Number of free page ids recorded in the freelist.
    pub free_count: u64,
    /// Id the next created keyspace gets.
    pub next_keyspace_id: u32,
    /// Random id shared by the page file and its commit log.
    pub database_id: [u8; 16],
    /// Byte position in the commit log just after this txn's record (0 before the log).
    pub log_position: u64,
}

/// Why a meta page was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaFault {
    /// The body does not carry the file magic: not our file.
    NotOurs,
    /// A format version this build does not read.
    Version(u32),
    /// A page size other than [`PAGE_SIZE`].
    PageSize(u32),
    /// Field values that cannot be right.
    Invalid(String),
}

impl Meta {
    /// Encodes this meta as the sealed page for `slot` (page 0 or 1).
    pub fn encode(&self, slot: PageId) -> Vec<u8> {
        assert!(slot < 2, "meta slot {slot}");
        let mut bytes = vec![0u8; PAGE_SIZE];
        let page = &mut bytes[..];
        write_header(page, PageKind::Meta, 0, slot, self.txn_id, 0);
        page[OFFSET_FILE_MAGIC..OFFSET_FILE_MAGIC + 8].copy_from_slice(&FILE_MAGIC);
        write_u32(page, OFFSET_VERSION, FORMAT_VERSION);
        write_u32(page, OFFSET_PAGE_SIZE, PAGE_SIZE as u32);
        write_u64(page, OFFSET_TXN_ID, self.txn_id);
        write_u64(page, OFFSET_PAGE_COUNT, self.page_count);
        write_u64(page, OFFSET_DEFAULT_ROOT, self.default_root.id);
        write_u64(page, OFFSET_DEFAULT_ROOT_TXN, self.default_root.txn);
        write_u64(page, OFFSET_DEFAULT_LEN, self.default_len);
        write_u64(page, OFFSET_CATALOG_ROOT, self.catalog_root.id);
        write_u64(page, OFFSET_CATALOG_ROOT_TXN, self.catalog_root.txn);
        write_u64(page, OFFSET_FREELIST_HEAD, self.freelist_head.id);
        write_u64(page, OFFSET_FREELIST_HEAD_TXN, self.freelist_head.txn);
        write_u64(page, OFFSET_FREE_COUNT, self.free_count);
        write_u32(page, OFFSET_NEXT_KEYSPACE_ID, self.next_keyspace_id);
        page[OFFSET_DATABASE_ID..OFFSET_DATABASE_ID + 16].copy_from_slice(&self.database_id);
        write_u64(page, OFFSET_LOG_POSITION, self.log_position);
        super::page::seal(page);
        bytes
    }

    /// The meta slot (page id 0 or 1) this meta is written to.
    pub fn slot(&self) -> PageId {
        self.txn_id % 2
    }

    /// Decodes the body of a meta page whose header already verified.
    pub fn decode_body(page: &[u8]) -> Result<Meta, MetaFault> {
        if page[OFFSET_FILE_MAGIC..OFFSET_FILE_MAGIC + 8] != FILE_MAGIC {
            return Err(MetaFault::NotOurs);
        }
        let version = read_u32(page, OFFSET_VERSION);
        if version != FORMAT_VERSION {
            return Err(MetaFault::Version(version));
        }
        let page_size = read_u32(page, OFFSET_PAGE_SIZE);
        if page_size as usize != PAGE_SIZE {
            return Err(MetaFault::PageSize(page_size));
        }
        let mut database_id = [0u8; 16];
        database_id.copy_from_slice(&page[OFFSET_DATABASE_ID..OFFSET_DATABASE_ID + 16]);
        let meta = Meta {
            txn_id: read_u64(page, OFFSET_TXN_ID),
            page_count: read_u64(page, OFFSET_PAGE_COUNT),
            default_root: PageRef {
                id: read_u64(page, OFFSET_DEFAULT_ROOT),
                txn: read_u64(page, OFFSET_DEFAULT_ROOT_TXN),
            },
            default_len: read_u64(page, OFFSET_DEFAULT_LEN),
            catalog_root: PageRef {
                id: read_u64(page, OFFSET_CATALOG_ROOT),
                txn: read_u64(page, OFFSET_CATALOG_ROOT_TXN),
            },
            freelist_head: PageRef {
                id: read_u64(page, OFFSET_FREELIST_HEAD),
                txn: read_u64(page, OFFSET_FREELIST_HEAD_TXN),
            },
            free_count: read_u64(page, OFFSET_FREE_COUNT),
            next_keyspace_id: read_u32(page, OFFSET_NEXT_KEYSPACE_ID),
            database_id,
            log_position: read_u64(page, OFFSET_LOG_POSITION),
        };
        meta.check()?;
        Ok(meta)
    }

    fn check(&self) -> Result<(), MetaFault> {
        if self.txn_id == TxnId::MAX {
            return Err(MetaFault::Invalid(
                "txn id u64::MAX, which no commit can have".into(),
            ));
        }
        if self.page_count < 2 {
            return Err(MetaFault::Invalid(format!(
                "page count {} is below 2",
                self.page_count
            )));
        }
        for (name, page) in [
            ("default root", self.default_root.id),
            ("catalog root", self.catalog_root.id),
            ("freelist head", self.freelist_head.id),
        ] {
            if page == 1 || (page != 0 && page >= self.page_count) {
                return Err(MetaFault::Invalid(format!(
                    "{name} {page} is outside pages 2..{}",
                    self.page_count
                )));
            }
        }
        if self.free_count >= self.page_count {
            return Err(MetaFault::Invalid(format!(
                "free count {} is not below page count {}",
                self.free_count, self.page_count
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_round_trips_through_its_page() {
        let meta = Meta {
            txn_id: 5,
            page_count: 99,
            default_root: PageRef { id: 7, txn: 5 },
            default_len: 1234,
            catalog_root: PageRef { id: 8, txn: 4 },
            freelist_head: PageRef { id: 9, txn: 5 },
            free_count: 3,
            next_keyspace_id: 4,
            database_id: [7; 16],
            log_position: 4096,
        };
        let page = meta.encode(1);
        let header = super::super::page::verify(&page, 1).unwrap();
        assert_eq!(header.kind, PageKind::Meta as u8);
        assert_eq!(Meta::decode_body(&page), Ok(meta));
    }
}
