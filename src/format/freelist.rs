//! Freelist pages: a chain of pages listing free page ids.
//!
//! Body: next page id in the chain (`u64`, 0 = last), then `count` (from the header) page
//! ids as `u64`, ascending across the whole chain.

use super::page::{read_u64, write_header, write_u64, PageKind};
use crate::limits::{PAGE_HEADER_SIZE, PAGE_SIZE};
use crate::{PageId, TxnId};

const OFFSET_NEXT: usize = PAGE_HEADER_SIZE;
const OFFSET_IDS: usize = PAGE_HEADER_SIZE + 8;

/// Page ids one freelist page holds.
pub const IDS_PER_PAGE: usize = (PAGE_SIZE - OFFSET_IDS) / 8;

/// Writes a freelist page listing `ids`, chained to `next`, and seals it.
pub fn encode(page: &mut [u8], page_id: PageId, txn_id: TxnId, next: PageId, ids: &[PageId]) {
    assert!(ids.len() <= IDS_PER_PAGE);
    page.fill(0);
    write_header(
        page,
        PageKind::Freelist,
        ids.len() as u16,
        page_id,
        txn_id,
        0,
    );
    write_u64(page, OFFSET_NEXT, next);
    for (index, id) in ids.iter().enumerate() {
        write_u64(page, OFFSET_IDS + index * 8, *id);
    }
    super::page::seal(page);
}

/// Reads a verified freelist page with header count `count`: the next page and the ids.
/// `None` when the count does not fit in a page.
pub fn decode(page: &[u8], count: u16) -> Option<(PageId, impl Iterator<Item = PageId> + '_)> {
    let count = count as usize;
    if count > IDS_PER_PAGE {
        return None;
    }
    let ids = (0..count).map(move |index| read_u64(page, OFFSET_IDS + index * 8));
    Some((read_u64(page, OFFSET_NEXT), ids))
}
