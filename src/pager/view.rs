//! A checked read view over the page file.
//!
//! Invariant: a page is handed out only after its magic, checksum, id and structure were
//! checked. The result is remembered in a bit per page, so hot pages are checked once; the
//! pager clears the bit before it rewrites a page, and only pages no live snapshot can see
//! are ever rewritten.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::cache::{Frame, PageCache};
use crate::format::node::NodePage;
use crate::format::page::{self, read_u64, PageHeader, PageKind, PageRef};
use crate::format::{freelist, overflow};
use crate::io::PageView;
use crate::limits::{OVERFLOW_PAYLOAD_SIZE, PAGE_SIZE};
use crate::{Error, PageId, Result, TxnId};
use parking_lot::Mutex;

/// Read view of the page file with cached page verification, over the page cache.
///
/// Views form a chain, oldest first: a view replaced by a newer one (the file grew, or a
/// checkpoint retired frames) links to it, and frames retired while a view was current
/// are kept by that view. A reader holds the view it began with, and so every frame it may
/// have borrowed, until it ends.
pub struct View {
    pages: Arc<dyn PageView>,
    verified: Box<[AtomicU64]>,
    /// A bit per page that may have a frame in the cache (a hint: the cache decides).
    cached: Box<[AtomicU64]>,
    cache: Arc<PageCache>,
    path: Arc<PathBuf>,
    newer: Mutex<Option<Arc<View>>>,
    retired: Mutex<Vec<Arc<Frame>>>,
}

impl View {
    pub(crate) fn new(
        pages: Arc<dyn PageView>,
        path: Arc<PathBuf>,
        previous: Option<&View>,
        cache: Arc<PageCache>,
    ) -> View {
        let words = pages.page_count().div_ceil(64) as usize;
        let copy = |bits: Option<&[AtomicU64]>| -> Box<[AtomicU64]> {
            (0..words)
                .map(|index| {
                    let word = bits
                        .and_then(|bits| bits.get(index))
                        .map_or(0, |word| word.load(Ordering::Acquire));
                    AtomicU64::new(word)
                })
                .collect()
        };
        View {
            verified: copy(previous.map(|view| &view.verified[..])),
            cached: copy(previous.map(|view| &view.cached[..])),
            pages,
            cache,
            path,
            newer: Mutex::new(None),
            retired: Mutex::new(Vec::new()),
        }
    }

    /// Makes this view keep `newer` (and so everything `newer` keeps) alive.
    pub(crate) fn link_newer(&self, newer: Arc<View>) {
        *self.newer.lock() = Some(newer);
    }

    /// Keeps `frames`, just retired from the cache, alive as long as this view lives.
    pub(crate) fn keep_retired(&self, frames: Vec<Arc<Frame>>) {
        self.retired.lock().extend(frames);
    }

    /// Marks page `page_id` as possibly cached.
    pub(crate) fn set_cached(&self, page_id: PageId) {
        if let Some(word) = self.cached.get((page_id / 64) as usize) {
            word.fetch_or(1u64 << (page_id % 64), Ordering::AcqRel);
        }
    }

    /// Marks page `page_id` as not cached.
    pub(crate) fn clear_cached(&self, page_id: PageId) {
        if let Some(word) = self.cached.get((page_id / 64) as usize) {
            word.fetch_and(!(1u64 << (page_id % 64)), Ordering::AcqRel);
        }
    }

    fn maybe_cached(&self, page_id: PageId) -> bool {
        self.cached
            .get((page_id / 64) as usize)
            .is_some_and(|word| word.load(Ordering::Acquire) & (1u64 << (page_id % 64)) != 0)
    }

    /// The page file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Pages the view covers.
    pub fn page_count(&self) -> u64 {
        self.pages.page_count()
    }

    /// The page's bytes with no check at all (for tools that inspect damage): its frame
    /// in the cache if it has one, else the file's bytes.
    pub fn raw_page(&self, page_id: PageId) -> Option<&[u8]> {
        match self.located(page_id) {
            Ok((bytes, _)) => Some(bytes),
            Err(_) => None,
        }
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
        let (bytes, trusted) = self.located(page.id)?;
        if !trusted && !self.is_verified(page.id) {
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
        let (bytes, _) = self.located(page_id)?;
        let header = page::verify(bytes, page_id)
            .map_err(|fault| self.corrupt(page_id, fault.to_string()))?;
        check_structure(bytes, &header).map_err(|detail| self.corrupt(page_id, detail))?;
        Ok(header)
    }

    /// The page's bytes and whether they come from a frame (written by this process, so
    /// trusted without a check).
    fn located(&self, page_id: PageId) -> Result<(&[u8], bool)> {
        if self.maybe_cached(page_id) {
            if let Some(frame) = self.cache.lookup(page_id) {
                // SAFETY: a frame found through this view stays alive while the view does:
                // it is either still in the cache, or retired into this view or a newer one
                // this view keeps alive (see `PageCache`'s reader rule).
                return Ok((unsafe { &(&(*frame).0)[..] }, true));
            }
        }
        Ok((self.file_bytes(page_id)?, false))
    }

    fn file_bytes(&self, page_id: PageId) -> Result<&[u8]> {
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
        let (bytes, trusted) = self.located(page_id)?;
        if trusted || self.is_verified(page_id) {
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

impl Drop for View {
    fn drop(&mut self) {
        // Unlink the chain of newer views one at a time: a long-lived reader may keep many,
        // and dropping them recursively could exhaust the stack.
        let mut next = self.newer.get_mut().take();
        while let Some(view) = next {
            next = match Arc::try_unwrap(view) {
                Ok(mut view) => view.newer.get_mut().take(),
                Err(_) => None,
            };
        }
    }
}
