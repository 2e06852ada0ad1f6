//! Overflow pages: a value too large for a leaf cell is stored in a run of consecutive
//! pages, each with its own header and checksum. Header `aux` holds the payload bytes in
//! that page; the payload starts right after the header.

use super::page::{write_header, PageKind};
use crate::limits::{OVERFLOW_PAYLOAD_SIZE, PAGE_HEADER_SIZE};
use crate::{PageId, TxnId};

/// Pages needed to hold a value of `len` bytes.
pub fn page_count_for(len: usize) -> u64 {
    len.div_ceil(OVERFLOW_PAYLOAD_SIZE).max(1) as u64
}

/// Writes overflow page `page_id` carrying `chunk` and seals it.
pub fn encode(page: &mut [u8], page_id: PageId, txn_id: TxnId, chunk: &[u8]) {
    debug_assert!(chunk.len() <= OVERFLOW_PAYLOAD_SIZE);
    page.fill(0);
    write_header(
        page,
        PageKind::Overflow,
        0,
        page_id,
        txn_id,
        chunk.len() as u32,
    );
    page[PAGE_HEADER_SIZE..PAGE_HEADER_SIZE + chunk.len()].copy_from_slice(chunk);
    super::page::seal(page);
}

/// The payload of a verified overflow page whose header says `aux` bytes.
pub fn payload(page: &[u8], aux: u32) -> Option<&[u8]> {
    let len = aux as usize;
    (len <= OVERFLOW_PAYLOAD_SIZE).then(|| &page[PAGE_HEADER_SIZE..PAGE_HEADER_SIZE + len])
}
