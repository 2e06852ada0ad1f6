//! Catalog values: the descriptor of a named keyspace, stored in the catalog tree under the
//! keyspace's name.
//!
//! Layout (32 bytes, little-endian): keyspace id `u32`, reserved `u32` (zero), root page id
//! `u64` (0 = empty), entry count `u64`, txn that wrote the root `u64`.

use super::page::PageRef;
use super::page::{read_u32, read_u64, write_u32, write_u64};

/// Encoded size of a descriptor.
pub const DESCRIPTOR_SIZE: usize = 32;

/// Where a named keyspace lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Descriptor {
    /// Stable id of the keyspace (the default keyspace is 0).
    pub id: u32,
    /// Root page of its tree ([`PageRef::NONE`] = empty).
    pub root: PageRef,
    /// Entries in the keyspace.
    pub len: u64,
}

impl Descriptor {
    /// Encodes the descriptor.
    pub fn encode(&self) -> [u8; DESCRIPTOR_SIZE] {
        let mut bytes = [0u8; DESCRIPTOR_SIZE];
        write_u32(&mut bytes, 0, self.id);
        write_u64(&mut bytes, 8, self.root.id);
        write_u64(&mut bytes, 16, self.len);
        write_u64(&mut bytes, 24, self.root.txn);
        bytes
    }

    /// Decodes a descriptor; `None` when the length or reserved field is wrong.
    pub fn decode(bytes: &[u8]) -> Option<Descriptor> {
        if bytes.len() != DESCRIPTOR_SIZE || read_u32(bytes, 4) != 0 {
            return None;
        }
        Some(Descriptor {
            id: read_u32(bytes, 0),
            root: PageRef {
                id: read_u64(bytes, 8),
                txn: read_u64(bytes, 24),
            },
            len: read_u64(bytes, 16),
        })
    }
}
