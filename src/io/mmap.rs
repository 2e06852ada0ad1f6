//! The default backend: reads through a shared read-only memory map, writes with `pwrite`;
//! the file grows in large chunks whose blocks are allocated up front (`fallocate`).
//!
//! Invariants: the file never shrinks while open, so an old map stays valid after the file
//! grows and a new map is made; writes go through the file descriptor and are seen through
//! the map (a shared mapping of the same page cache).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;
use parking_lot::Mutex;

use super::{PageIo, PageView};
use crate::limits::PAGE_SIZE;
use crate::{Error, PageId, Result};

/// Smallest growth step: 1 MiB.
const GROW_STEP_MIN_PAGES: u64 = 64;
/// Largest growth step: 1 GiB.
const GROW_STEP_MAX_PAGES: u64 = 65536;

/// Memory-mapped reads with `pwrite` writes: the LMDB-like default backend.
pub struct MmapIo {
    file: File,
    path: PathBuf,
    map: Mutex<Arc<MapView>>,
}

struct MapView {
    map: Option<Mmap>,
    page_count: u64,
}

impl PageView for MapView {
    fn page(&self, page_id: PageId) -> Option<&[u8]> {
        if page_id >= self.page_count {
            return None;
        }
        let start = page_id as usize * PAGE_SIZE;
        self.map.as_ref().map(|map| &map[start..start + PAGE_SIZE])
    }

    fn page_count(&self) -> u64 {
        self.page_count
    }
}

impl MmapIo {
    /// Wraps an open, locked page file.
    pub fn new(file: File, path: PathBuf) -> Result<MmapIo> {
        let view = Self::map(&file, &path)?;
        Ok(MmapIo {
            file,
            path,
            map: Mutex::new(Arc::new(view)),
        })
    }

    fn map(file: &File, path: &Path) -> Result<MapView> {
        let len = file
            .metadata()
            .map_err(|e| Error::io(path, "stat", e))?
            .len();
        let page_count = len / PAGE_SIZE as u64;
        if page_count == 0 {
            return Ok(MapView {
                map: None,
                page_count: 0,
            });
        }
        // SAFETY: the file is locked exclusively by this process and never truncated while
        // mapped; the store writes only pages no reader of the map can be looking at.
        let map = unsafe { Mmap::map(file) }.map_err(|e| Error::io(path, "mmap", e))?;
        Ok(MapView {
            map: Some(map),
            page_count,
        })
    }
}

/// Extends `file` from `from` to `to` bytes with blocks really allocated (`fallocate`), so
/// that pages written there later, by a checkpoint, cannot fail for want of space: a full
/// disk shows at the commit that needed the pages. File systems without `fallocate` get a
/// sparse extension.
pub(crate) fn allocate(file: &File, from: u64, to: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (
        libc::off_t::try_from(from),
        libc::off_t::try_from(to - from),
    ) else {
        return Err(std::io::Error::from_raw_os_error(libc::EFBIG));
    };
    // SAFETY: a plain system call on a file descriptor this backend owns.
    if unsafe { libc::fallocate(file.as_raw_fd(), 0, offset, len) } == 0 {
        return Ok(());
    }
    let error = std::io::Error::last_os_error();
    match error.raw_os_error() {
        Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) => file.set_len(to),
        _ => Err(error),
    }
}

impl PageIo for MmapIo {
    fn path(&self) -> &Path {
        &self.path
    }

    fn view(&self) -> Arc<dyn PageView> {
        self.map.lock().clone()
    }

    fn grow(&self, page_count: u64) -> Result<()> {
        let mut current = self.map.lock();
        let have = current.page_count;
        if have >= page_count {
            return Ok(());
        }
        let step = (have / 4).clamp(GROW_STEP_MIN_PAGES, GROW_STEP_MAX_PAGES);
        let target = page_count
            .max(have + step)
            .next_multiple_of(GROW_STEP_MIN_PAGES);
        allocate(
            &self.file,
            have * PAGE_SIZE as u64,
            target * PAGE_SIZE as u64,
        )
        .map_err(|e| Error::io(&self.path, format!("grow to {target} pages"), e))?;
        *current = Arc::new(Self::map(&self.file, &self.path)?);
        Ok(())
    }

    fn write_page(&self, page_id: PageId, bytes: &[u8]) -> Result<()> {
        debug_assert_eq!(bytes.len(), PAGE_SIZE);
        self.file
            .write_all_at(bytes, page_id * PAGE_SIZE as u64)
            .map_err(|e| Error::io(&self.path, format!("write page {page_id}"), e))
    }

    fn write_pages(&self, first: PageId, bytes: &[u8]) -> Result<()> {
        debug_assert_eq!(bytes.len() % PAGE_SIZE, 0);
        let count = bytes.len() / PAGE_SIZE;
        self.file
            .write_all_at(bytes, first * PAGE_SIZE as u64)
            .map_err(|e| {
                let last = first + count as u64 - 1;
                Error::io(&self.path, format!("write pages {first}..={last}"), e)
            })
    }

    fn write_back(&self, first: PageId, count: u64, previous: Option<(PageId, u64)>) {
        use std::os::fd::AsRawFd;
        let range = |first: PageId, count: u64| {
            (
                (first * PAGE_SIZE as u64) as libc::off64_t,
                (count * PAGE_SIZE as u64) as libc::off64_t,
            )
        };
        let fd = self.file.as_raw_fd();
        // Failures only lose the smoothing: the checkpoint's fdatasync still decides.
        // SAFETY: plain system calls on a file descriptor this backend owns.
        unsafe {
            let (offset, len) = range(first, count);
            libc::sync_file_range(fd, offset, len, libc::SYNC_FILE_RANGE_WRITE);
            if let Some((first, count)) = previous {
                let (offset, len) = range(first, count);
                libc::sync_file_range(
                    fd,
                    offset,
                    len,
                    libc::SYNC_FILE_RANGE_WAIT_BEFORE
                        | libc::SYNC_FILE_RANGE_WRITE
                        | libc::SYNC_FILE_RANGE_WAIT_AFTER,
                );
            }
        }
    }

    fn sync(&self) -> Result<()> {
        self.file
            .sync_data()
            .map_err(|e| Error::io(&self.path, "fdatasync", e))
    }
}
