//! The cache of clean pages the direct-I/O backend reads through: a fixed budget of frames
//! and CLOCK eviction.
//!
//! Why CLOCK: a hit only sets a bit (a shared lock and one relaxed store, no list to
//! reorder), which keeps hot reads cheap from many threads; the hand gives every page a
//! second chance, so a page read again before the hand comes round stays. Scans that read
//! each page once pass through without pushing out pages read twice. (S3-FIFO would resist
//! scans better at the cost of a second queue; the store's scans mostly read pages that
//! also serve point reads.)
//!
//! Reader rule: an evicted frame is handed to the caller's `retire`, which keeps it alive
//! for every reader that may have borrowed it (see `crate::pager::View`). A page rewritten
//! on disk is dropped from the cache at once: no live snapshot can see its old bytes.
//!
//! Invariants: `ring` holds exactly the keys of `map`; the number of frames never exceeds
//! the capacity after an insert returns.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use rustc_hash::FxHashMap;

use super::Frame;
use crate::PageId;

struct Entry {
    frame: Arc<Frame>,
    referenced: AtomicBool,
}

/// Counters of a clean-page cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClockStats {
    /// Frames the budget allows.
    pub capacity: u64,
    /// Frames held now.
    pub frames: u64,
    /// Reads served from a frame.
    pub hits: u64,
    /// Reads that went to the disk.
    pub misses: u64,
    /// Frames evicted to make room.
    pub evictions: u64,
}

/// Clean pages, at most `capacity` of them.
pub struct ClockCache {
    capacity: usize,
    map: RwLock<FxHashMap<PageId, Entry>>,
    ring: Mutex<VecDeque<PageId>>,
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
}

impl ClockCache {
    /// A cache of at most `capacity` frames (at least one).
    pub fn new(capacity: usize) -> ClockCache {
        ClockCache {
            capacity: capacity.max(1),
            map: RwLock::new(FxHashMap::default()),
            ring: Mutex::new(VecDeque::new()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        }
    }

    /// The frame of `page_id`, marked as referenced.
    pub fn get(&self, page_id: PageId) -> Option<*const Frame> {
        let map = self.map.read();
        let entry = map.get(&page_id)?;
        // Only a page the hand cleared is written: hot pages keep their cache line shared.
        if !entry.referenced.load(Ordering::Relaxed) {
            entry.referenced.store(true, Ordering::Relaxed);
        }
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(Arc::as_ptr(&entry.frame))
    }

    /// Adds `frame` for `page_id` (read from the disk by the caller) unless another reader
    /// added one first, evicting others past the capacity into `retire`. Returns the frame
    /// the cache holds for the page.
    pub fn insert(
        &self,
        page_id: PageId,
        frame: Box<Frame>,
        retire: impl FnOnce(Vec<Arc<Frame>>),
    ) -> *const Frame {
        self.misses.fetch_add(1, Ordering::Relaxed);
        let mut ring = self.ring.lock();
        let mut map = self.map.write();
        if let Some(entry) = map.get(&page_id) {
            return Arc::as_ptr(&entry.frame);
        }
        let frame: Arc<Frame> = Arc::from(frame);
        let pointer = Arc::as_ptr(&frame);
        map.insert(
            page_id,
            Entry {
                frame,
                referenced: AtomicBool::new(false),
            },
        );
        ring.push_back(page_id);
        let mut evicted = Vec::new();
        // Each page is passed over at most once with its bit set, so this ends.
        while map.len() > self.capacity {
            let Some(victim) = ring.pop_front() else {
                break;
            };
            let entry = &map[&victim];
            if victim != page_id && entry.referenced.swap(false, Ordering::Relaxed) {
                ring.push_back(victim);
                continue;
            }
            if victim == page_id && map.len() > 1 {
                ring.push_back(victim);
                continue;
            }
            evicted.extend(map.remove(&victim).map(|entry| entry.frame));
        }
        drop(map);
        drop(ring);
        if !evicted.is_empty() {
            self.evictions
                .fetch_add(evicted.len() as u64, Ordering::Relaxed);
            retire(evicted);
        }
        pointer
    }

    /// Drops the frame of a page whose bytes on disk were just rewritten.
    pub fn invalidate(&self, page_id: PageId) {
        let mut ring = self.ring.lock();
        if self.map.write().remove(&page_id).is_some() {
            ring.retain(|id| *id != page_id);
        }
    }

    /// The counters now.
    pub fn stats(&self) -> ClockStats {
        ClockStats {
            capacity: self.capacity as u64,
            frames: self.map.read().len() as u64,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(byte: u8) -> Box<Frame> {
        let mut frame = Frame::new_boxed();
        frame.0[0] = byte;
        frame
    }

    #[test]
    fn a_page_read_again_survives_the_hand_and_one_read_once_goes() {
        let cache = ClockCache::new(2);
        let mut retired = Vec::new();
        cache.insert(1, frame(1), |frames| retired.extend(frames));
        cache.insert(2, frame(2), |frames| retired.extend(frames));
        assert!(cache.get(1).is_some(), "page 1 read again");
        cache.insert(3, frame(3), |frames| retired.extend(frames));
        assert!(cache.get(1).is_some(), "page 1 had a second chance");
        assert!(cache.get(2).is_none(), "page 2 was read once and went");
        assert_eq!(retired.len(), 1);
        assert_eq!(retired[0].0[0], 2);
        let stats = cache.stats();
        assert_eq!((stats.frames, stats.evictions), (2, 1));
    }

    #[test]
    fn the_cache_never_holds_more_than_its_capacity() {
        let cache = ClockCache::new(8);
        for page_id in 0..100 {
            cache.insert(page_id, frame(0), drop);
            if page_id % 3 == 0 {
                cache.get(page_id / 2);
            }
            assert!(cache.stats().frames <= 8);
        }
        cache.invalidate(99);
        assert!(cache.get(99).is_none());
    }
}
