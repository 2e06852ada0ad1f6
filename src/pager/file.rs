//! The page file: creation, locking, choosing the meta, page writes and syncs.
//!
//! Invariants:
//! - The file is locked exclusively for as long as the pager lives.
//! - A new file appears under its final name only once both metas are durable.
//! - A failed sync poisons the pager: no later write or sync is attempted, because the
//!   kernel may have dropped the dirty pages the failed sync was meant to persist.

use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use super::cache::{CacheStats, Frame, PageCache};
use super::freelist::FreeState;
use super::view::View;
use crate::format::freelist;
use crate::format::meta::{Meta, MetaFault, FORMAT_VERSION};
use crate::format::page::{self, PageFault, PageKind, PageRef};
use crate::io::{ClockStats, IoMode, PageIo, PageIoConfig, Storage};
use crate::limits::PAGE_SIZE;
use crate::{Error, PageId, Result};

/// Most pages a checkpoint writes with one call (1 MiB).
const WRITE_RUN_PAGES_MAX: usize = 64;

/// Pages a checkpoint writes between two writeback hints (1 MiB).
const WRITE_BACK_PAGES: u64 = 64;

/// Name of the page file inside a database directory.
pub const PAGE_FILE_NAME: &str = "northstar.db";

/// Owner of the page file.
pub struct Pager {
    io: Box<dyn PageIo>,
    path: Arc<PathBuf>,
    view: RwLock<Arc<View>>,
    cache: Arc<PageCache>,
    poisoned: Mutex<Option<String>>,
}

/// What open found: the chosen meta and the free pages it records.
pub struct Opened {
    /// The pager.
    pub pager: Pager,
    /// The valid meta with the highest txn id: the newest checkpoint.
    pub meta: Meta,
    /// The meta slot (page 0 or 1) holding it.
    pub slot: PageId,
    /// Free pages from the persisted freelist.
    pub free: FreeState,
}

impl Pager {
    /// Opens the page file in `storage`, whose directory lock the caller holds.
    ///
    /// Errors: [`Error::Io`] (not found) when there is no page file; those of
    /// [`Pager::from_io`].
    pub fn open(storage: &dyn Storage) -> Result<Opened> {
        Self::open_with(storage, &PageIoConfig::default())
    }

    /// Opens the page file in `storage` with the I/O `config` asks for; otherwise as
    /// [`Pager::open`]. Errors: also [`Error::DirectIoUnsupported`].
    pub fn open_with(storage: &dyn Storage, config: &PageIoConfig) -> Result<Opened> {
        Self::from_io(storage.open_pages(PAGE_FILE_NAME, config)?)
    }

    /// The I/O mode the page file runs in.
    pub fn io_mode(&self) -> IoMode {
        self.io.mode()
    }

    /// The counters of the backend's clean-page cache, where it has one.
    pub fn clean_cache_stats(&self) -> Option<ClockStats> {
        self.io.clean_cache_stats()
    }

    /// Opens a database on any backend whose directory lock the caller holds.
    pub fn from_io(io: Box<dyn PageIo>) -> Result<Opened> {
        let path = Arc::new(io.path().to_path_buf());
        let cache = Arc::new(PageCache::default());
        let view = Arc::new(View::new(io.view(), path.clone(), None, cache.clone()));
        let (meta, slot) = choose_meta(&view)?;
        if view.page_count() < meta.page_count {
            return Err(Error::corrupt(
                path.as_path(),
                None,
                format!(
                    "file holds {} pages but meta of txn {} says {}: the file was truncated",
                    view.page_count(),
                    meta.txn_id,
                    meta.page_count
                ),
            ));
        }
        let (ids, chain) = load_freelist(&view, &meta)?;
        let free = FreeState::loaded(meta.page_count, ids, chain, meta.txn_id);
        let pager = Pager {
            io,
            path,
            view: RwLock::new(view),
            cache,
            poisoned: Mutex::new(None),
        };
        Ok(Opened {
            pager,
            meta,
            slot,
            free,
        })
    }

    /// The page file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The current read view.
    pub fn view(&self) -> Arc<View> {
        if self.io.wants_new_view() {
            // Evicted frames kept for old readers are freed once those finish.
            return self.replace_view(|_| {});
        }
        self.view.read().clone()
    }

    /// Fails with [`Error::Poisoned`] after a failed sync.
    pub fn check_poisoned(&self) -> Result<()> {
        match &*self.poisoned.lock() {
            Some(detail) => Err(Error::Poisoned {
                path: self.path.to_path_buf(),
                detail: detail.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Makes the file hold `page_count` pages; returns the new view if it changed.
    pub fn grow(&self, page_count: u64) -> Result<Option<Arc<View>>> {
        if self.view.read().page_count() >= page_count {
            return Ok(None);
        }
        self.check_poisoned()?;
        self.io.grow(page_count)?;
        Ok(Some(self.replace_view(|_| {})))
    }

    /// Makes a new current view over the file as it is now, linked from the old one, which
    /// gets `on_old` applied first.
    fn replace_view(&self, on_old: impl FnOnce(&View)) -> Arc<View> {
        let mut current = self.view.write();
        on_old(&current);
        let view = Arc::new(View::new(
            self.io.view(),
            self.path.clone(),
            Some(&current),
            self.cache.clone(),
        ));
        current.link_newer(view.clone());
        *current = view.clone();
        view
    }

    /// Pages changed since the last checkpoint that it has not written yet.
    pub fn dirty_count(&self) -> u64 {
        self.cache.dirty_count()
    }

    /// The cache's counters.
    pub fn cache_stats(&self) -> CacheStats {
        CacheStats {
            clean: self.io.clean_cache_stats(),
            ..self.cache.stats()
        }
    }

    /// Adds the pages a committed txn wrote, as dirty frames (no I/O).
    pub fn insert_frames(&self, frames: Vec<(PageId, Box<Frame>)>) {
        let view = self.view.read();
        for (page_id, _) in &frames {
            view.set_cached(*page_id);
        }
        self.cache.insert(frames);
    }

    /// Pages a committed txn freed: a checkpoint no longer writes them.
    pub fn forget_dirty(&self, page_ids: &[PageId]) {
        self.cache.forget_dirty(page_ids);
    }

    /// Drops the frame of a page that became reusable (no snapshot can reach it).
    pub fn discard_frame(&self, page_id: PageId) {
        if self.cache.discard(page_id) {
            self.view.read().clear_cached(page_id);
        }
    }

    /// The dirty frames, in page-id order: what a checkpoint of the newest txn writes.
    pub fn dirty_frames(&self) -> Vec<(PageId, Arc<Frame>)> {
        self.cache.dirty_frames()
    }

    /// Poisons the pager after `error` left the page file in a state no later write may
    /// build on.
    pub fn poison(&self, error: &Error) {
        self.poisoned
            .lock()
            .get_or_insert_with(|| error.to_string());
    }

    /// Writes `frames` (in page-id order) to their pages, adjacent pages in one write. Not
    /// durable until [`Pager::sync`].
    pub fn write_frames(&self, frames: &[(PageId, Arc<Frame>)]) -> Result<()> {
        self.check_poisoned()?;
        let mut run: Vec<u8> = Vec::new();
        let mut index = 0;
        // Writeback is started every `WRITE_BACK_PAGES` pages and the previous batch waited
        // for, so the device never holds more than two batches of this checkpoint ahead of
        // a commit's log sync.
        let mut batch: Option<(PageId, PageId)> = None;
        let mut previous: Option<(PageId, u64)> = None;
        while index < frames.len() {
            let first = frames[index].0;
            let mut end = index + 1;
            while end < frames.len()
                && frames[end].0 == first + (end - index) as u64
                && end - index < WRITE_RUN_PAGES_MAX
            {
                end += 1;
            }
            if end - index == 1 {
                self.io.write_page(first, &frames[index].1 .0)?;
            } else {
                run.clear();
                for (_, frame) in &frames[index..end] {
                    run.extend_from_slice(&frame.0);
                }
                self.io.write_pages(first, &run)?;
            }
            let last = frames[end - 1].0;
            let (batch_first, _) = *batch.get_or_insert((first, last));
            batch = Some((batch_first, last));
            if last + 1 - batch_first >= WRITE_BACK_PAGES {
                let count = last + 1 - batch_first;
                let waited = std::time::Instant::now();
                self.io.write_back(batch_first, count, previous);
                // Leave the device idle as long as the last batch kept it busy, so a
                // commit's log sync finds a short queue.
                std::thread::sleep(waited.elapsed());
                previous = Some((batch_first, count));
                batch = None;
            }
            index = end;
        }
        Ok(())
    }

    /// Retires frames a durable checkpoint wrote: readers read them from the file from now
    /// on; readers that may still hold them keep them through their views.
    pub fn retire(&self, written: &[(PageId, Arc<Frame>)]) {
        let retired = self.cache.retire(written);
        if retired.is_empty() {
            return;
        }
        let view = self.replace_view(|old| old.keep_retired(retired));
        for (page_id, _) in written {
            // The file's bytes of the page are new: check them again on first read.
            view.forget(*page_id);
            if !self.cache.contains(*page_id) {
                view.clear_cached(*page_id);
            }
        }
    }

    /// Writes a sealed page. The page must not be visible to any live snapshot.
    pub fn write_page(&self, page_id: PageId, bytes: &[u8]) -> Result<()> {
        debug_assert!(page_id >= 2, "data write to meta page {page_id}");
        self.check_poisoned()?;
        self.view.read().forget(page_id);
        self.io.write_page(page_id, bytes)
    }

    /// Makes every page write so far durable. A failure poisons the pager.
    pub fn sync(&self) -> Result<()> {
        self.check_poisoned()?;
        self.io.sync().inspect_err(|error| {
            *self.poisoned.lock() = Some(error.to_string());
        })
    }

    /// Writes `meta` to meta page `slot` and makes it durable. Data pages must be durable
    /// first, and `slot` must not hold the newest valid meta (a torn write there would
    /// leave no valid checkpoint to recover from).
    pub fn write_meta(&self, meta: &Meta, slot: PageId) -> Result<()> {
        self.check_poisoned()?;
        self.view.read().forget(slot);
        self.io.write_page(slot, &meta.encode(slot))?;
        self.sync()
    }
}

/// A fresh random database id.
pub(crate) fn new_database_id() -> [u8; 16] {
    let mut id = [0u8; 16];
    for half in id.chunks_mut(8) {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
        );
        hasher.write_u32(std::process::id());
        half.copy_from_slice(&hasher.finish().to_le_bytes());
    }
    id
}

/// The meta of a new, empty database with id `database_id`.
fn new_database_meta(database_id: [u8; 16]) -> Meta {
    Meta {
        txn_id: 0,
        page_count: 2,
        default_root: PageRef::NONE,
        default_len: 0,
        catalog_root: PageRef::NONE,
        freelist_head: PageRef::NONE,
        free_count: 0,
        next_keyspace_id: 1,
        database_id,
        log_position: 0,
    }
}

/// The bytes of a new, empty page file: the meta of txn 0 in both slots.
pub(crate) fn new_database_file(database_id: [u8; 16]) -> Vec<u8> {
    let meta = new_database_meta(database_id);
    [meta.encode(0), meta.encode(1)].concat()
}

/// Whether `bytes` are exactly the page file [`new_database_file`] makes for
/// `database_id` (a creation cut short is finished only when they are).
pub(crate) fn is_new_database_file(bytes: &[u8], database_id: [u8; 16]) -> bool {
    bytes == new_database_file(database_id).as_slice()
}

/// The decision table for the two meta slots: the chosen meta and its slot.
fn choose_meta(view: &View) -> Result<(Meta, PageId)> {
    let path = view.path();
    if view.page_count() == 0 {
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let detail = if len == 0 {
            "the file is empty".to_string()
        } else {
            format!("the file is {len} bytes, shorter than one page")
        };
        return Err(Error::NotADatabase {
            path: path.to_path_buf(),
            detail,
        });
    }
    let slots: Vec<Result<Meta, String>> = (0..2).map(|slot| read_meta_slot(view, slot)).collect();
    for slot in &slots {
        if let Err(fault) = slot {
            if let Some(found) = fault.strip_prefix("version ").and_then(|v| v.parse().ok()) {
                return Err(Error::UnsupportedVersion {
                    path: path.to_path_buf(),
                    found,
                    supported: FORMAT_VERSION,
                });
            }
        }
    }
    let best = (0..2u64)
        .filter_map(|slot| slots[slot as usize].as_ref().ok().map(|meta| (*meta, slot)))
        .max_by_key(|(meta, _)| meta.txn_id);
    if let Some(best) = best {
        return Ok(best);
    }
    let faults: Vec<&String> = slots
        .iter()
        .filter_map(|slot| slot.as_ref().err())
        .collect();
    // A slot past the end of a one-page file carries no magic either.
    let foreign = |fault: &&String| fault.starts_with("not ours") || fault.starts_with("missing");
    if faults.iter().all(foreign) {
        return Err(Error::NotADatabase {
            path: path.to_path_buf(),
            detail: "neither page 0 nor page 1 is a NorthstarDB meta page".into(),
        });
    }
    Err(Error::corrupt(
        path,
        None,
        format!(
            "both meta pages are bad: page 0: {}; page 1: {}",
            faults[0], faults[1]
        ),
    ))
}

/// Meta slot `slot` (0 or 1), or why it is unusable, in words. Faults starting with
/// "not ours", "missing" or "version N" are read by the open decision table.
pub fn read_meta_slot(view: &View, slot: PageId) -> Result<Meta, String> {
    let Some(bytes) = view.raw_page(slot) else {
        return Err("missing: the file is shorter than two pages".into());
    };
    match page::verify(bytes, slot) {
        Ok(header) if header.kind == PageKind::Meta as u8 => {}
        Ok(header) => return Err(format!("not ours: page kind byte {}", header.kind)),
        Err(PageFault::BadMagic) => return Err("not ours: no page magic".into()),
        Err(fault) => return Err(fault.to_string()),
    }
    Meta::decode_body(bytes).map_err(|fault| match fault {
        MetaFault::NotOurs => "not ours: no file magic".to_string(),
        MetaFault::Version(version) => format!("version {version}"),
        MetaFault::PageSize(size) => format!("page size {size}, expected {PAGE_SIZE}"),
        MetaFault::Invalid(detail) => detail,
    })
}

/// Walks the freelist chain of `meta`: the free ids and the chain's pages.
fn load_freelist(view: &View, meta: &Meta) -> Result<(Vec<PageId>, Vec<PageId>)> {
    let mut ids = Vec::with_capacity(meta.free_count as usize);
    let mut chain = Vec::new();
    let mut next = meta.freelist_head.id;
    while next != 0 {
        if chain.len() as u64 > meta.page_count || next < 2 || next >= meta.page_count {
            return Err(view.corrupt(next, "freelist chain leaves the file or loops"));
        }
        // Every page of the chain was written by the checkpoint that wrote the head.
        let page = PageRef {
            id: next,
            txn: meta.freelist_head.txn,
        };
        let (bytes, header) = view.page(page, PageKind::Freelist)?;
        let (following, page_ids) =
            freelist::decode(bytes, header.count).expect("checked freelist page");
        for page_id in page_ids {
            if page_id < 2
                || page_id >= meta.page_count
                || ids.last().is_some_and(|last| *last >= page_id)
            {
                return Err(view.corrupt(
                    next,
                    format!("freelist lists page {page_id} out of order or range"),
                ));
            }
            ids.push(page_id);
        }
        chain.push(next);
        next = following;
    }
    if ids.len() as u64 != meta.free_count {
        return Err(Error::corrupt(
            view.path(),
            None,
            format!(
                "freelist holds {} pages, meta of txn {} says {}",
                ids.len(),
                meta.txn_id,
                meta.free_count
            ),
        ));
    }
    Ok((ids, chain))
}

/// Writes the freelist chain planned for a checkpoint of txn `txn_id`; returns its head.
pub fn write_freelist(
    pager: &Pager,
    txn_id: u64,
    pages: &[PageId],
    ids: &[PageId],
) -> Result<PageRef> {
    let mut buffer = vec![0u8; PAGE_SIZE];
    for (index, page_id) in pages.iter().enumerate() {
        let chunk_start = (index * freelist::IDS_PER_PAGE).min(ids.len());
        let chunk_end = (chunk_start + freelist::IDS_PER_PAGE).min(ids.len());
        let next = pages.get(index + 1).copied().unwrap_or(0);
        freelist::encode(
            &mut buffer,
            *page_id,
            txn_id,
            next,
            &ids[chunk_start..chunk_end],
        );
        pager.write_page(*page_id, &buffer)?;
    }
    Ok(pages.first().map_or(PageRef::NONE, |first| PageRef {
        id: *first,
        txn: txn_id,
    }))
}
