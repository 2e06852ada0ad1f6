//! The store's own page cache for pages written since the last checkpoint.
//!
//! A commit writes no page: the pages it changed become frames here, and the log record is
//! the commit's only write. A checkpoint writes each dirty frame once, in page-id order,
//! coalescing adjacent pages, and then retires the frames: the page file holds them now.
//! So a page rewritten by many commits between two checkpoints reaches the disk once, and
//! a page allocated and freed between two checkpoints never does.
//!
//! Eviction: a frame leaves the cache in exactly two ways, both decided by the writer:
//! - retired after a checkpoint made its page durable (readers then read the file);
//! - discarded when its page becomes reusable (freed, and no snapshot can see it).
//!
//! A dirty frame is never evicted unwritten; the checkpoint triggers (commits, bytes,
//! interval, `Options::checkpoint_every`) bound how many accumulate.
//!
//! Reader safety: readers borrow frame bytes without holding a lock or a count. A retired
//! frame is kept alive by the read view that was current when it was retired (see
//! [`super::View`]); every reader that may hold a borrowed frame holds that view or an
//! older one, and older views keep newer ones alive. A discarded frame belongs to a page no
//! live snapshot can reach, so nobody borrows it.
//!
//! Invariants:
//! - `dirty` ⊆ keys of `frames`: the pages reachable from the newest committed txn whose
//!   bytes are not in the page file yet.
//! - Only the holder of the writer slot inserts, retires or discards frames.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use rustc_hash::FxHashMap;

pub use crate::io::Frame;
use crate::PageId;

/// Counters of the cache, as the store ran.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Page reads served from a frame.
    pub hits: u64,
    /// Frames made by commits.
    pub inserted: u64,
    /// Frames retired after a checkpoint wrote them.
    pub retired: u64,
    /// Frames discarded because their page became reusable, never written.
    pub discarded: u64,
    /// Frames now in the cache.
    pub frames: u64,
    /// Of those, frames whose page is not in the page file yet.
    pub dirty: u64,
    /// The backend's cache of clean pages, in the I/O modes that have one.
    pub clean: Option<crate::io::ClockStats>,
}

/// Frames of pages written since the last checkpoint.
#[derive(Default)]
pub struct PageCache {
    frames: RwLock<FxHashMap<PageId, Arc<Frame>>>,
    dirty: Mutex<BTreeSet<PageId>>,
    hits: AtomicU64,
    inserted: AtomicU64,
    retired: AtomicU64,
    discarded: AtomicU64,
}

impl PageCache {
    /// The frame of `page_id`, counted as a hit. The pointer stays valid while the caller
    /// holds the read view it found the page through (see the module's reader rule).
    pub fn lookup(&self, page_id: PageId) -> Option<*const Frame> {
        let frames = self.frames.read();
        let frame = frames.get(&page_id)?;
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(Arc::as_ptr(frame))
    }

    /// Adds the frames of a committed txn; they are dirty until a checkpoint writes them.
    pub fn insert(&self, frames: Vec<(PageId, Box<Frame>)>) {
        let mut map = self.frames.write();
        let mut dirty = self.dirty.lock();
        self.inserted
            .fetch_add(frames.len() as u64, Ordering::Relaxed);
        for (page_id, frame) in frames {
            map.insert(page_id, Arc::from(frame));
            dirty.insert(page_id);
        }
    }

    /// Pages a committed txn freed: no checkpoint needs to write them any more. Their
    /// frames stay for older snapshots until [`PageCache::discard`].
    pub fn forget_dirty(&self, page_ids: &[PageId]) {
        let mut dirty = self.dirty.lock();
        for page_id in page_ids {
            dirty.remove(page_id);
        }
    }

    /// The dirty frames, in page-id order: what a checkpoint of the newest txn writes.
    pub fn dirty_frames(&self) -> Vec<(PageId, Arc<Frame>)> {
        let map = self.frames.read();
        self.dirty
            .lock()
            .iter()
            .map(|page_id| (*page_id, map[page_id].clone()))
            .collect()
    }

    /// Removes the frames of pages a checkpoint wrote (those still dirty) and returns them,
    /// for the caller to keep alive as long as a reader may hold them.
    pub fn retire(&self, written: &[(PageId, Arc<Frame>)]) -> Vec<Arc<Frame>> {
        let mut map = self.frames.write();
        let mut dirty = self.dirty.lock();
        let mut retired = Vec::with_capacity(written.len());
        for (page_id, frame) in written {
            // A page freed and given a new frame since the capture keeps its new frame,
            // dirty or not.
            if map.get(page_id).is_some_and(|now| Arc::ptr_eq(now, frame)) {
                dirty.remove(page_id);
                retired.extend(map.remove(page_id));
            }
        }
        self.retired
            .fetch_add(retired.len() as u64, Ordering::Relaxed);
        retired
    }

    /// Drops the frame of `page_id`, which no snapshot can reach any more (its page became
    /// reusable). Returns whether there was one.
    pub fn discard(&self, page_id: PageId) -> bool {
        debug_assert!(
            !self.dirty.lock().contains(&page_id),
            "discard of dirty page {page_id}"
        );
        let removed = self.frames.write().remove(&page_id).is_some();
        if removed {
            self.discarded.fetch_add(1, Ordering::Relaxed);
        }
        removed
    }

    /// Dirty frames now.
    pub fn dirty_count(&self) -> u64 {
        self.dirty.lock().len() as u64
    }

    /// Whether `page_id` has a frame.
    pub fn contains(&self, page_id: PageId) -> bool {
        self.frames.read().contains_key(&page_id)
    }

    /// The counters now.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            inserted: self.inserted.load(Ordering::Relaxed),
            retired: self.retired.load(Ordering::Relaxed),
            discarded: self.discarded.load(Ordering::Relaxed),
            frames: self.frames.read().len() as u64,
            dirty: self.dirty.lock().len() as u64,
            clean: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(byte: u8) -> Box<Frame> {
        let mut frame = Frame::new_boxed();
        frame.0.fill(byte);
        frame
    }

    #[test]
    fn a_checkpoint_writes_each_dirty_page_once_and_freed_pages_never() {
        let cache = PageCache::default();
        cache.insert(vec![(5, frame(1)), (3, frame(2))]);
        cache.insert(vec![(9, frame(3))]);
        cache.forget_dirty(&[5]);
        let written = cache.dirty_frames();
        let ids: Vec<PageId> = written.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, [3, 9], "page order, freed page left out");
        let retired = cache.retire(&written);
        assert_eq!(retired.len(), 2);
        assert!(cache.lookup(3).is_none() && cache.lookup(9).is_none());
        assert!(
            cache.lookup(5).is_some(),
            "freed frame stays for old snapshots"
        );
        assert!(cache.discard(5));
        assert_eq!(cache.stats().frames, 0);
    }

    #[test]
    fn a_page_given_a_new_frame_after_the_capture_keeps_it() {
        let cache = PageCache::default();
        cache.insert(vec![(4, frame(1))]);
        let written = cache.dirty_frames();
        cache.forget_dirty(&[4]);
        cache.discard(4);
        cache.insert(vec![(4, frame(2))]);
        assert!(cache.retire(&written).is_empty());
        let now = cache.lookup(4).unwrap();
        // SAFETY: the frame is in the cache and nothing removes it during the test.
        assert_eq!(unsafe { (&(*now).0)[0] }, 2);
    }
}
