//! The direct-I/O backend: the page file opened with `O_DIRECT`, every read through the
//! store's own cache of clean pages ([`ClockCache`]), every write from a 4 KiB-aligned
//! buffer. The operating system's page cache holds none of the file, so the store decides
//! what stays in memory and how much.
//!
//! Where the file system refuses `O_DIRECT` (tmpfs answers `EINVAL`), open fails with
//! [`Error::DirectIoUnsupported`] unless the options allow falling back to buffered
//! `pread`/`pwrite` through the same cache; [`PageIo::mode`] says which one runs.
//!
//! Invariants:
//! - The file is never mapped, so `O_DIRECT` and the OS page cache never hold one file
//!   together (a buffered fallback is the one exception, by choice).
//! - A frame borrowed through a view stays alive while that view or an older one lives:
//!   evicted frames go to the newest view handed out, which every older view reaches
//!   through the pager's chain of views (see `crate::pager::View`).
//! - Once the frames kept for readers pass an eighth of the budget, the backend asks for a
//!   new view ([`PageIo::wants_new_view`]), so they are freed as old readers finish.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use super::clock::{ClockCache, ClockStats};
use super::{allocate, Frame, IoMode, PageIo, PageView};
use crate::limits::PAGE_SIZE;
use crate::{Error, PageId, Result};

/// The page file with `O_DIRECT` (or buffered, as a fallback) and its clean-page cache.
pub struct DirectIo {
    shared: Arc<DirectShared>,
    mode: IoMode,
    /// An aligned buffer for writes whose bytes are not aligned.
    bounce: Mutex<Vec<Box<Frame>>>,
}

struct DirectShared {
    file: File,
    path: PathBuf,
    cache: ClockCache,
    page_count: AtomicU64,
    newest: Mutex<Weak<DirectView>>,
    kept_bytes: AtomicU64,
    wants_new_view: AtomicBool,
}

/// A view: reads pages through the cache; keeps frames evicted while it was the newest.
struct DirectView {
    shared: Arc<DirectShared>,
    page_count: u64,
    kept: Mutex<Vec<Arc<Frame>>>,
}

impl DirectIo {
    /// Opens page file `path` for direct I/O (or, with `mode` [`IoMode::Buffered`], plain
    /// `pread`/`pwrite`) with a cache of `cache_size` bytes. With `fallback`, a file system
    /// that refuses `O_DIRECT` gets buffered I/O instead.
    ///
    /// Errors: [`Error::DirectIoUnsupported`] naming the file when `O_DIRECT` is refused
    /// and `fallback` is false; [`Error::Io`] for other failures.
    pub fn open(path: PathBuf, mode: IoMode, cache_size: u64, fallback: bool) -> Result<DirectIo> {
        use std::os::unix::fs::OpenOptionsExt;
        let flags = if mode == IoMode::Buffered {
            0
        } else {
            libc::O_DIRECT
        };
        let direct = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(flags)
            .open(&path);
        let (file, mode) = match direct {
            Ok(file) => (file, mode),
            Err(error) if error.raw_os_error() == Some(libc::EINVAL) => {
                if !fallback {
                    return Err(Error::DirectIoUnsupported {
                        path,
                        source: error,
                    });
                }
                let file = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&path)
                    .map_err(|e| Error::io(&path, "open", e))?;
                (file, IoMode::Buffered)
            }
            Err(error) => return Err(Error::io(&path, "open with O_DIRECT", error)),
        };
        let len = file
            .metadata()
            .map_err(|e| Error::io(&path, "stat", e))?
            .len();
        let capacity = (cache_size / PAGE_SIZE as u64).max(16) as usize;
        let shared = Arc::new(DirectShared {
            file,
            path,
            cache: ClockCache::new(capacity),
            page_count: AtomicU64::new(len / PAGE_SIZE as u64),
            newest: Mutex::new(Weak::new()),
            kept_bytes: AtomicU64::new(0),
            wants_new_view: AtomicBool::new(false),
        });
        Ok(DirectIo {
            shared,
            mode,
            bounce: Mutex::new(Vec::new()),
        })
    }

    /// Writes `bytes` (whole pages) at page `first`, from an aligned buffer.
    fn write_aligned(&self, first: PageId, bytes: &[u8]) -> Result<()> {
        let offset = first * PAGE_SIZE as u64;
        let shared = &self.shared;
        let result = if bytes.as_ptr().align_offset(super::FRAME_ALIGN) == 0 {
            shared.file.write_all_at(bytes, offset)
        } else {
            let mut bounce = self.bounce.lock();
            let pages = bytes.len() / PAGE_SIZE;
            while bounce.len() < pages {
                bounce.push(Frame::new_boxed());
            }
            let mut result = Ok(());
            for (index, page) in bytes.chunks(PAGE_SIZE).enumerate() {
                bounce[index].0.copy_from_slice(page);
                result = shared
                    .file
                    .write_all_at(&bounce[index].0, offset + (index * PAGE_SIZE) as u64);
                if result.is_err() {
                    break;
                }
            }
            result
        };
        // Whatever happened, a cached copy of these pages is no longer the file's.
        for index in 0..(bytes.len() / PAGE_SIZE) as u64 {
            shared.cache.invalidate(first + index);
        }
        result.map_err(|e| {
            let last = first + (bytes.len() / PAGE_SIZE) as u64 - 1;
            Error::io(&shared.path, format!("write pages {first}..={last}"), e)
        })
    }
}

impl DirectShared {
    /// Keeps `frames`, just evicted, alive with the newest view.
    fn keep(&self, frames: Vec<Arc<Frame>>) {
        let bytes = (frames.len() * PAGE_SIZE) as u64;
        let newest = self.newest.lock().upgrade();
        // With no view alive nobody can hold a borrowed frame: they are dropped.
        let Some(view) = newest else {
            return;
        };
        view.kept.lock().extend(frames);
        let kept = self.kept_bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        let budget = self.cache.stats().capacity * PAGE_SIZE as u64;
        if kept > budget / 8 {
            self.wants_new_view.store(true, Ordering::Relaxed);
        }
    }

    fn page(&self, view: &DirectView, page_id: PageId) -> Option<&[u8]> {
        if page_id >= view.page_count {
            return None;
        }
        let pointer = match self.cache.get(page_id) {
            Some(pointer) => pointer,
            None => {
                let mut frame = Frame::new_boxed();
                // A failed read leaves zeros, which fail the page's checksum: the reader
                // gets a Corrupt error naming the page rather than a panic.
                let _ = self
                    .file
                    .read_exact_at(&mut frame.0, page_id * PAGE_SIZE as u64);
                self.cache
                    .insert(page_id, frame, |evicted| self.keep(evicted))
            }
        };
        // SAFETY: the frame is in the cache or kept by the newest view, which `view`
        // (or a newer view that `view` keeps alive through the pager's chain) holds.
        Some(unsafe { &(&(*pointer).0)[..] })
    }
}

impl PageView for DirectView {
    fn page(&self, page_id: PageId) -> Option<&[u8]> {
        self.shared.page(self, page_id)
    }

    fn page_count(&self) -> u64 {
        self.page_count
    }
}

impl Drop for DirectView {
    fn drop(&mut self) {
        let kept = self.kept.get_mut().len() as u64 * PAGE_SIZE as u64;
        self.shared.kept_bytes.fetch_sub(kept, Ordering::Relaxed);
    }
}

impl PageIo for DirectIo {
    fn path(&self) -> &Path {
        &self.shared.path
    }

    fn view(&self) -> Arc<dyn PageView> {
        let shared = &self.shared;
        let view = Arc::new(DirectView {
            shared: shared.clone(),
            page_count: shared.page_count.load(Ordering::Acquire),
            kept: Mutex::new(Vec::new()),
        });
        *shared.newest.lock() = Arc::downgrade(&view);
        shared.wants_new_view.store(false, Ordering::Relaxed);
        view
    }

    fn grow(&self, page_count: u64) -> Result<()> {
        let shared = &self.shared;
        let have = shared.page_count.load(Ordering::Acquire);
        if have >= page_count {
            return Ok(());
        }
        let step = (have / 4).clamp(64, 65_536);
        let target = page_count.max(have + step).next_multiple_of(64);
        allocate(
            &shared.file,
            have * PAGE_SIZE as u64,
            target * PAGE_SIZE as u64,
        )
        .map_err(|e| Error::io(&shared.path, format!("grow to {target} pages"), e))?;
        shared.page_count.store(target, Ordering::Release);
        Ok(())
    }

    fn write_page(&self, page_id: PageId, bytes: &[u8]) -> Result<()> {
        debug_assert_eq!(bytes.len(), PAGE_SIZE);
        self.write_aligned(page_id, bytes)
    }

    fn write_pages(&self, first: PageId, bytes: &[u8]) -> Result<()> {
        debug_assert_eq!(bytes.len() % PAGE_SIZE, 0);
        self.write_aligned(first, bytes)
    }

    fn sync(&self) -> Result<()> {
        self.shared
            .file
            .sync_data()
            .map_err(|e| Error::io(&self.shared.path, "fdatasync", e))
    }

    fn mode(&self) -> IoMode {
        self.mode
    }

    fn wants_new_view(&self) -> bool {
        self.shared.wants_new_view.load(Ordering::Relaxed)
    }

    fn clean_cache_stats(&self) -> Option<ClockStats> {
        Some(self.shared.cache.stats())
    }
}
