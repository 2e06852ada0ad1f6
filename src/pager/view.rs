//! A checked read view over the page file.
//!
//! Invariant: a page is handed out only after its magic, checksum, id and structure were
//! checked. The result is remembered in a bit per page, so hot pages are checked once; the
//! pager clears the bit before it rewrites a page, and only pages no live snapshot can see
//! are ever rewritten.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::format::node::NodePage;
use crate::format::page::{self, read_u64, PageHeader, PageKind, PageRef};
use crate::format::{freelist, overflow};
use crate::io::PageView;
use crate::limits::{OVERFLOW_PAYLOAD_SIZE, PAGE_SIZE};
use crate::{Error, PageId, Result, TxnId};

/// Read view of the page file with cached page verification.
pub struct View {
    pages: Arc<dyn PageView>,
    verified: Box<[AtomicU64]>,
    path: Arc<PathBuf>,
}

impl View {
    pub(crate) fn new(
        pages: Arc<dyn PageView>,
        path: Arc<PathBuf>,
        previous: Option<&View>,
    ) -> View {
        let words = pages.page_count().div_ceil(64) as usize;
        let verified: Box<[AtomicU64]> = (0..words)
            .map(|index| {
                let bits = previous
                    .and_then(|view| view.verified.get(index))
                    .map_or(0, |word| word.load(Ordering::Acquire));
                AtomicU64::new(bits)
            })
            .collect();
        View {
            pages,
            verified,
            path,
        }
    }

    /// The page file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Pages the view covers.
    pub fn page_count(&self) -> u64 {
        self.pages.page_count()
    }

    /// The page's bytes with no check at all (for tools that inspect damage).
    pub fn raw_page(&self, page_id: PageId) -> Option<&[u8]> {
        self.pages.page(page_id)
    }

    pub(crate) fn forget(&self, page_id: PageId) {
        if let Some(word) = self.verified.get((page_id / 64) as usize) {
            word.fetch_and(!(1u64 << (page_id % 64)), Ordering::AcqRel);
        }
    }

    fn is_verified(&self, page_id: PageId) -> bool {
        self.verified
            .get((page_id / 64) as usize)
            .is_some_and(|word| word.load(Ordering::Acquire) & (1u64 << (page_id % 64)) != 0)
    }

    fn mark_verified(&self, page_id: PageId) {
        if let Some(word) = self.verified.get((page_id / 64) as usize) {
            word.fetch_or(1u64 << (page_id % 64), Ordering::AcqRel);
        }
    }

    pub(crate) fn corrupt(&self, page_id: PageId, detail: impl Into<String>) -> Error {
        Error::corrupt(self.path.as_path(), Some(page_id), detail)
    }

    /// The page `page` refers to, checked, which must be of kind `kind` and written by the
    /// txn the reference names.
    pub fn page(&self, page: PageRef, kind: PageKind) -> Result<(&[u8], PageHeader)> {
        let (bytes, header) = self.checked(page.id)?;
        if header.kind != kind as u8 {
            let found = PageKind::from_byte(header.kind).map_or("unknown", PageKind::name);
            return Err(self.corrupt(
                page.id,
                format!("expected a {} page, found a {found} page", kind.name()),
            ));
        }
        self.check_writer(page, header.txn_id)?;
        Ok((bytes, header))
    }

    fn check_writer(&self, page: PageRef, written_by: TxnId) -> Result<()> {
        if written_by != page.txn {
            return Err(self.corrupt(
                page.id,
                format!(
                    "stale or misplaced page: written by txn {written_by}, the reference expects txn {}",
                    page.txn
                ),
            ));
        }
        Ok(())
    }

    /// The leaf or branch page `page` refers to, checked.
    pub fn node(&self, page: PageRef) -> Result<NodePage<'_>> {
        let bytes = self.bytes(page.id)?;
        if !self.is_verified(page.id) {
            self.verify_page(page.id)?;
            self.mark_verified(page.id);
        }
        // Only the kind byte and the writer txn are needed on this hot path.
        self.check_writer(page, read_u64(bytes, 16))?;
        match PageKind::from_byte(bytes[4]) {
            Some(PageKind::Leaf) => Ok(NodePage::new(bytes, true)),
            Some(PageKind::Branch) => Ok(NodePage::new(bytes, false)),
            _ => Err(self.corrupt(
                page.id,
                format!(
                    "expected a leaf or branch page, found kind byte {}",
                    bytes[4]
                ),
            )),
        }
    }

    /// Checks page `page_id` fully, ignoring the cache, and returns its header.
    pub fn verify_page(&self, page_id: PageId) -> Result<PageHeader> {
        let bytes = self.bytes(page_id)?;
        let header = page::verify(bytes, page_id)
            .map_err(|fault| self.corrupt(page_id, fault.to_string()))?;
        check_structure(bytes, &header).map_err(|detail| self.corrupt(page_id, detail))?;
        Ok(header)
    }

    fn bytes(&self, page_id: PageId) -> Result<&[u8]> {
        self.pages.page(page_id).ok_or_else(|| {
            self.corrupt(
                page_id,
                format!(
                    "page is past the end of the file ({} pages)",
                    self.page_count()
                ),
            )
        })
    }

    fn checked(&self, page_id: PageId) -> Result<(&[u8], PageHeader)> {
        let bytes = self.bytes(page_id)?;
        if self.is_verified(page_id) {
            return Ok((bytes, PageHeader::decode(bytes)));
        }
        let header = self.verify_page(page_id)?;
        self.mark_verified(page_id);
        Ok((bytes, header))
    }

    /// Reads a `len`-byte value from the overflow run starting at `first_page`.
    pub fn read_overflow(&self, first_page: PageRef, len: usize) -> Result<Vec<u8>> {
        let mut value = Vec::with_capacity(len);
        for page_id in first_page.id..first_page.id + overflow::page_count_for(len) {
            let page = PageRef {
                id: page_id,
                txn: first_page.txn,
            };
            let (bytes, header) = self.page(page, PageKind::Overflow)?;
            let want = (len - value.len()).min(OVERFLOW_PAYLOAD_SIZE);
            if header.aux as usize != want {
                return Err(self.corrupt(
                    page_id,
                    format!(
                        "overflow page carries {} bytes, expected {want}",
                        header.aux
                    ),
                ));
            }
            value.extend_from_slice(
                overflow::payload(bytes, header.aux).expect("checked payload size"),
            );
        }
        Ok(value)
    }
}

/// Kind-specific structure checks, run once per page before it is trusted.
fn check_structure(bytes: &[u8], header: &PageHeader) -> Result<(), String> {
    debug_assert_eq!(bytes.len(), PAGE_SIZE);
    match PageKind::from_byte(header.kind) {
        Some(PageKind::Leaf) => NodePage::new(bytes, true).check(),
        Some(PageKind::Branch) => NodePage::new(bytes, false).check(),
        Some(PageKind::Overflow) if header.aux as usize > OVERFLOW_PAYLOAD_SIZE => Err(format!(
            "overflow payload of {} bytes exceeds the page",
            header.aux
        )),
        Some(PageKind::Freelist) if freelist::decode(bytes, header.count).is_none() => {
            Err(format!("freelist count {} exceeds a page", header.count))
        }
        Some(_) => Ok(()),
        None => Err(format!("unknown page kind byte {}", header.kind)),
    }
}
