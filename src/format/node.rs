//! Leaf and branch pages: a slot array of cell offsets after the header, cells after it.
//!
//! Leaf cell: key length `u16`, value kind `u8` (0 inline, 1 overflow), value length `u32`,
//! key bytes, then the inline value, or the first overflow page id (`u64`) and the txn that
//! wrote the run (`u64`).
//!
//! Branch cell: key length `u16`, child page id `u64`, txn that wrote the child `u64`, key
//! bytes. The key of cell 0 is empty and ignored; child `i` holds the keys `k` with
//! `key(i) <= k < key(i + 1)`.
//!
//! Invariants a [`NodePage`] guarantees once [`NodePage::check`] passed: every slot points
//! to a cell inside the page, keys are strictly increasing, lengths are within limits. The
//! accessors rely on it and may panic on an unchecked page.

use std::cmp::Ordering;

use super::page::{
    read_u16, read_u32, read_u64, write_header, write_u16, write_u32, write_u64, PageKind, PageRef,
};
use crate::limits::{KEY_SIZE_MAX, PAGE_HEADER_SIZE, PAGE_SIZE, VALUE_SIZE_MAX};
use crate::{PageId, TxnId};

/// Bytes of a slot (a cell offset).
pub const SLOT_SIZE: usize = 2;
/// Bytes of a leaf cell before its key.
pub const LEAF_CELL_HEADER_SIZE: usize = 7;
/// Bytes of a branch cell before its key.
pub const BRANCH_CELL_HEADER_SIZE: usize = 18;
/// Bytes of an overflow reference in a leaf cell: first page id and writer txn.
pub const OVERFLOW_REF_SIZE: usize = 16;

const VALUE_KIND_INLINE: u8 = 0;
const VALUE_KIND_OVERFLOW: u8 = 1;

/// A value as a leaf cell holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellValue<'a> {
    /// The value bytes, stored in the cell.
    Inline(&'a [u8]),
    /// The value lives in a run of `len.div_ceil(OVERFLOW_PAYLOAD_SIZE)` overflow pages
    /// starting at `first_page`, all written by the txn it names.
    Overflow {
        /// First page of the run, and the txn that wrote the run.
        first_page: PageRef,
        /// Value length in bytes.
        len: u32,
    },
}

/// Bytes one leaf entry takes in a page, slot included.
pub fn leaf_cell_size(key_len: usize, value: &CellValue<'_>) -> usize {
    let payload = match value {
        CellValue::Inline(bytes) => bytes.len(),
        CellValue::Overflow { .. } => OVERFLOW_REF_SIZE,
    };
    SLOT_SIZE + LEAF_CELL_HEADER_SIZE + key_len + payload
}

/// Bytes one branch entry takes in a page, slot included.
pub fn branch_cell_size(key_len: usize) -> usize {
    SLOT_SIZE + BRANCH_CELL_HEADER_SIZE + key_len
}

/// Writes a leaf page holding `cells` (already in key order) and seals it.
pub fn encode_leaf<'a>(
    page: &mut [u8],
    page_id: PageId,
    txn_id: TxnId,
    cells: impl ExactSizeIterator<Item = (&'a [u8], CellValue<'a>)>,
) {
    page.fill(0);
    let count = cells.len();
    write_header(page, PageKind::Leaf, count as u16, page_id, txn_id, 0);
    let mut cell_offset = PAGE_HEADER_SIZE + count * SLOT_SIZE;
    for (index, (key, value)) in cells.enumerate() {
        write_u16(
            page,
            PAGE_HEADER_SIZE + index * SLOT_SIZE,
            cell_offset as u16,
        );
        write_u16(page, cell_offset, key.len() as u16);
        let body = cell_offset + LEAF_CELL_HEADER_SIZE;
        page[body..body + key.len()].copy_from_slice(key);
        let payload = body + key.len();
        match value {
            CellValue::Inline(bytes) => {
                page[cell_offset + 2] = VALUE_KIND_INLINE;
                write_u32(page, cell_offset + 3, bytes.len() as u32);
                page[payload..payload + bytes.len()].copy_from_slice(bytes);
                cell_offset = payload + bytes.len();
            }
            CellValue::Overflow { first_page, len } => {
                page[cell_offset + 2] = VALUE_KIND_OVERFLOW;
                write_u32(page, cell_offset + 3, len);
                write_u64(page, payload, first_page.id);
                write_u64(page, payload + 8, first_page.txn);
                cell_offset = payload + OVERFLOW_REF_SIZE;
            }
        }
    }
    assert!(cell_offset <= PAGE_SIZE, "leaf page {page_id} overfilled");
    super::page::seal(page);
}

/// Writes a branch page with `(separator, child)` cells and seals it.
pub fn encode_branch<'a>(
    page: &mut [u8],
    page_id: PageId,
    txn_id: TxnId,
    cells: impl ExactSizeIterator<Item = (&'a [u8], PageRef)>,
) {
    page.fill(0);
    let count = cells.len();
    write_header(page, PageKind::Branch, count as u16, page_id, txn_id, 0);
    let mut cell_offset = PAGE_HEADER_SIZE + count * SLOT_SIZE;
    for (index, (key, child)) in cells.enumerate() {
        let key: &[u8] = if index == 0 { &[] } else { key };
        write_u16(
            page,
            PAGE_HEADER_SIZE + index * SLOT_SIZE,
            cell_offset as u16,
        );
        write_u16(page, cell_offset, key.len() as u16);
        write_u64(page, cell_offset + 2, child.id);
        write_u64(page, cell_offset + 10, child.txn);
        let body = cell_offset + BRANCH_CELL_HEADER_SIZE;
        page[body..body + key.len()].copy_from_slice(key);
        cell_offset = body + key.len();
    }
    assert!(cell_offset <= PAGE_SIZE, "branch page {page_id} overfilled");
    super::page::seal(page);
}

/// A leaf or branch page, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct NodePage<'a> {
    bytes: &'a [u8],
    leaf: bool,
    count: usize,
}

impl<'a> NodePage<'a> {
    /// An empty leaf borrowing nothing, for initialising fixed arrays.
    pub const EMPTY: NodePage<'static> = NodePage {
        bytes: &[],
        leaf: true,
        count: 0,
    };

    /// Wraps a page whose header verified; call [`NodePage::check`] before trusting it.
    pub fn new(bytes: &'a [u8], leaf: bool) -> NodePage<'a> {
        let count = read_u16(bytes, 6) as usize;
        NodePage { bytes, leaf, count }
    }

    /// Whether this is a leaf page.
    pub fn is_leaf(&self) -> bool {
        self.leaf
    }

    /// Number of entries (leaf) or children (branch).
    pub fn count(&self) -> usize {
        self.count
    }

    /// Bytes used: header, slots and cells.
    pub fn used_size(&self) -> usize {
        let mut used = PAGE_HEADER_SIZE;
        for index in 0..self.count {
            used += if self.leaf {
                leaf_cell_size(self.key(index).len(), &self.value(index))
            } else {
                branch_cell_size(self.key(index).len())
            };
        }
        used
    }

    fn cell(&self, index: usize) -> usize {
        read_u16(self.bytes, PAGE_HEADER_SIZE + index * SLOT_SIZE) as usize
    }

    /// Key of entry `index` (empty for branch cell 0).
    pub fn key(&self, index: usize) -> &'a [u8] {
        let cell = self.cell(index);
        let key_len = read_u16(self.bytes, cell) as usize;
        let start = cell
            + if self.leaf {
                LEAF_CELL_HEADER_SIZE
            } else {
                BRANCH_CELL_HEADER_SIZE
            };
        &self.bytes[start..start + key_len]
    }

    /// Value of leaf entry `index`.
    pub fn value(&self, index: usize) -> CellValue<'a> {
        debug_assert!(self.leaf);
        let cell = self.cell(index);
        let key_len = read_u16(self.bytes, cell) as usize;
        let len = read_u32(self.bytes, cell + 3);
        let payload = cell + LEAF_CELL_HEADER_SIZE + key_len;
        if self.bytes[cell + 2] == VALUE_KIND_OVERFLOW {
            CellValue::Overflow {
                first_page: PageRef {
                    id: read_u64(self.bytes, payload),
                    txn: read_u64(self.bytes, payload + 8),
                },
                len,
            }
        } else {
            CellValue::Inline(&self.bytes[payload..payload + len as usize])
        }
    }

    /// Child of branch entry `index`: its page id and the txn that wrote it.
    pub fn child(&self, index: usize) -> PageRef {
        debug_assert!(!self.leaf);
        let cell = self.cell(index);
        PageRef {
            id: read_u64(self.bytes, cell + 2),
            txn: read_u64(self.bytes, cell + 10),
        }
    }

    /// Leaf: `Ok(index)` of `key`, or `Err(index)` where it would be inserted.
    pub fn search(&self, key: &[u8]) -> Result<usize, usize> {
        let (mut low, mut high) = (0, self.count);
        while low < high {
            let mid = low + (high - low) / 2;
            match self.key(mid).cmp(key) {
                Ordering::Less => low = mid + 1,
                Ordering::Greater => high = mid,
                Ordering::Equal => return Ok(mid),
            }
        }
        Err(low)
    }

    /// Branch: index of the child whose key range holds `key`.
    pub fn child_index(&self, key: &[u8]) -> usize {
        // The last i >= 1 with key(i) <= key, else 0.
        let (mut low, mut high) = (1, self.count);
        while low < high {
            let mid = low + (high - low) / 2;
            if self.key(mid) <= key {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        low - 1
    }

    /// Checks every offset and length against the page and the limits, and key order.
    /// On failure returns what is wrong, in words.
    pub fn check(&self) -> Result<(), String> {
        let slots_end = PAGE_HEADER_SIZE + self.count * SLOT_SIZE;
        if slots_end > PAGE_SIZE {
            return Err(format!("entry count {} does not fit in a page", self.count));
        }
        if !self.leaf && self.count == 0 {
            return Err("branch page has no children".into());
        }
        let header_size = if self.leaf {
            LEAF_CELL_HEADER_SIZE
        } else {
            BRANCH_CELL_HEADER_SIZE
        };
        for index in 0..self.count {
            let cell = self.cell(index);
            if cell < slots_end || cell + header_size > PAGE_SIZE {
                return Err(format!(
                    "slot {index} points to offset {cell}, outside the cell area"
                ));
            }
            let key_len = read_u16(self.bytes, cell) as usize;
            if key_len > KEY_SIZE_MAX {
                return Err(format!(
                    "slot {index}: key length {key_len} exceeds {KEY_SIZE_MAX}"
                ));
            }
            let mut end = cell + header_size + key_len;
            if self.leaf {
                let kind = self.bytes[cell + 2];
                let len = read_u32(self.bytes, cell + 3) as usize;
                end += match kind {
                    VALUE_KIND_INLINE => len,
                    VALUE_KIND_OVERFLOW if len <= VALUE_SIZE_MAX => OVERFLOW_REF_SIZE,
                    VALUE_KIND_OVERFLOW => {
                        return Err(format!(
                            "slot {index}: value length {len} exceeds {VALUE_SIZE_MAX}"
                        ))
                    }
                    other => return Err(format!("slot {index}: unknown value kind {other}")),
                };
            } else if index == 0 && key_len != 0 {
                return Err("branch cell 0 has a key".into());
            }
            if end > PAGE_SIZE {
                return Err(format!(
                    "slot {index}: cell at {cell} runs past the page end"
                ));
            }
            let order_from = if self.leaf { 1 } else { 2 };
            if index >= order_from && self.key(index - 1) >= self.key(index) {
                return Err(format!("keys out of order at slot {index}"));
            }
        }
        Ok(())
    }
}
