//! A simulated disk for crash and fault tests: every file keeps the bytes written to it
//! apart from the bytes that are durable, so a test can cut the power at any moment and
//! look at what a real disk could have kept.
//!
//! The model (see `spec/correctness_contracts_v0.md`): a write is durable only after a sync
//! of its file; at a power loss each 512-byte sector written since the last sync is, at
//! random, kept, lost (the durable bytes stay) or turned to garbage, and unsynced growth of
//! the file may be lost in part. Directory entries (creations, renames, removals) are
//! durable only after a directory sync: at a power loss a prefix of those made since the
//! last one survives, each whole (a rename is atomic), as a journalling file system keeps
//! them. The disk can also fail the k-th operation with EIO or ENOSPC, once or from then
//! on, and fail a sync. The directory lock is held in memory: one exclusive holder or any
//! number of shared ones.
//!
//! Invariants: a page handed to a view stays at the same address for the life of the file
//! (files are stored in page-sized chunks that are never freed or moved), which is what
//! lets page views borrow bytes like the mmap backend does.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use super::{
    DirectoryLock, LockMode, LogBytes, LogIo, PageIo, PageIoConfig, PageView, Storage,
    LOCK_FILE_NAME,
};
use crate::limits::PAGE_SIZE;
use crate::{Error, PageId, Result};

/// Bytes of a sector: the unit a power loss keeps, loses or garbles.
pub const SECTOR_SIZE: u64 = 512;

/// How an injected failure fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Input/output error (EIO).
    Io,
    /// No space left on device (ENOSPC).
    NoSpace,
}

impl FaultKind {
    fn error(self) -> std::io::Error {
        match self {
            FaultKind::Io => std::io::Error::from_raw_os_error(5),
            FaultKind::NoSpace => std::io::Error::from_raw_os_error(28),
        }
    }
}

#[derive(Debug, Default)]
struct Faults {
    operations: u64,
    syncs: u64,
    fail_operation: Option<(u64, FaultKind, bool)>,
    fail_sync: Option<u64>,
    dead: bool,
}

impl Faults {
    fn check(&mut self, is_sync: bool) -> std::io::Result<()> {
        if self.dead {
            return Err(std::io::Error::other("the simulated disk lost power"));
        }
        self.operations += 1;
        if is_sync {
            self.syncs += 1;
            if self.fail_sync == Some(self.syncs) {
                return Err(FaultKind::Io.error());
            }
        }
        match self.fail_operation {
            Some((at, kind, persistent))
                if self.operations == at || (persistent && self.operations > at) =>
            {
                Err(kind.error())
            }
            _ => Ok(()),
        }
    }
}

/// A small deterministic generator, so every crash is reproducible from its seed.
#[derive(Debug, Clone)]
pub struct SimRng(u64);

impl SimRng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> SimRng {
        SimRng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `bound` (> 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }
}

#[derive(Debug, Default)]
struct FileData {
    chunks: Vec<Box<[u8]>>,
    len: u64,
    durable: Vec<u8>,
    dirty: BTreeSet<u64>,
}

impl FileData {
    fn ensure(&mut self, len: u64) {
        while (self.chunks.len() as u64) * (PAGE_SIZE as u64) < len {
            self.chunks.push(vec![0u8; PAGE_SIZE].into_boxed_slice());
        }
    }

    fn write(&mut self, offset: u64, bytes: &[u8]) {
        let end = offset + bytes.len() as u64;
        self.ensure(end);
        let mut at = offset;
        while at < end {
            let chunk = (at / PAGE_SIZE as u64) as usize;
            let within = (at % PAGE_SIZE as u64) as usize;
            let take = ((end - at) as usize).min(PAGE_SIZE - within);
            let from = (at - offset) as usize;
            self.chunks[chunk][within..within + take].copy_from_slice(&bytes[from..from + take]);
            at += take as u64;
        }
        for sector in offset / SECTOR_SIZE..end.div_ceil(SECTOR_SIZE) {
            self.dirty.insert(sector);
        }
        self.len = self.len.max(end);
    }

    fn set_len(&mut self, len: u64) {
        self.ensure(len);
        if len < self.len {
            let zeros = vec![0u8; (self.len - len) as usize];
            self.write(len, &zeros);
            self.dirty.retain(|sector| sector * SECTOR_SIZE < len);
        } else {
            for sector in self.len / SECTOR_SIZE..len.div_ceil(SECTOR_SIZE) {
                self.dirty.insert(sector);
            }
        }
        self.len = len;
    }

    fn read(&self, len: u64) -> Vec<u8> {
        let len = len.min(self.len);
        let mut bytes = Vec::with_capacity(len as usize);
        for chunk in &self.chunks {
            let want = (len as usize - bytes.len()).min(PAGE_SIZE);
            if want == 0 {
                break;
            }
            bytes.extend_from_slice(&chunk[..want]);
        }
        bytes
    }

    fn sync(&mut self) {
        let image = self.read(self.len);
        self.durable = image;
        self.dirty.clear();
    }

    /// What survives a power loss, drawn from `rng`.
    fn after_power_loss(&self, rng: &mut SimRng) -> Vec<u8> {
        let durable_len = self.durable.len() as u64;
        let len = if self.len > durable_len {
            let sectors = (self.len - durable_len).div_ceil(SECTOR_SIZE);
            (durable_len + rng.below(sectors + 1) * SECTOR_SIZE).min(self.len)
        } else {
            self.len
        };
        let written = self.read(self.len);
        let mut image = self.durable.clone();
        image.resize(len as usize, 0);
        for &sector in &self.dirty {
            let start = sector * SECTOR_SIZE;
            if start >= len {
                break;
            }
            let end = (start + SECTOR_SIZE).min(len) as usize;
            let start = start as usize;
            match rng.below(3) {
                0 => image[start..end].copy_from_slice(&written[start..end]),
                1 => {}
                _ => image[start..end]
                    .iter_mut()
                    .for_each(|byte| *byte = rng.next_u64() as u8),
            }
        }
        image
    }
}

/// A file under one name; a rename makes a new `SimFile` sharing the same data.
struct SimFile {
    path: PathBuf,
    data: Arc<Mutex<FileData>>,
}

/// A change to the directory since its last sync.
enum EntryChange {
    Link(String, Arc<SimFile>),
    Unlink(String),
    Rename(String, String),
}

/// The directory: its entries now, the entries a directory sync made durable, and the
/// changes in between.
#[derive(Default)]
struct Entries {
    now: HashMap<String, Arc<SimFile>>,
    durable: HashMap<String, Arc<SimFile>>,
    pending: Vec<EntryChange>,
}

impl Entries {
    fn apply(map: &mut HashMap<String, Arc<SimFile>>, change: &EntryChange) {
        match change {
            EntryChange::Link(name, file) => {
                map.insert(name.clone(), file.clone());
            }
            EntryChange::Unlink(name) => {
                map.remove(name);
            }
            EntryChange::Rename(from, to) => {
                if let Some(file) = map.remove(from) {
                    let renamed = SimFile {
                        path: file.path.with_file_name(to),
                        data: file.data.clone(),
                    };
                    map.insert(to.clone(), Arc::new(renamed));
                }
            }
        }
    }

    fn change(&mut self, change: EntryChange) {
        Self::apply(&mut self.now, &change);
        self.pending.push(change);
    }

    fn sync(&mut self) {
        self.durable = self.now.clone();
        self.pending.clear();
    }

    /// The entries a power loss leaves: the durable ones plus a prefix of the changes.
    fn after_power_loss(&self, rng: &mut SimRng) -> HashMap<String, Arc<SimFile>> {
        let kept = rng.below(self.pending.len() as u64 + 1) as usize;
        let mut entries = self.durable.clone();
        for change in &self.pending[..kept] {
            Self::apply(&mut entries, change);
        }
        entries
    }
}

#[derive(Debug, Default)]
struct LockState {
    exclusive: bool,
    shared: usize,
}

struct Shared {
    dir: PathBuf,
    entries: Mutex<Entries>,
    faults: Mutex<Faults>,
    lock: Mutex<LockState>,
}

/// A simulated disk holding the files of one database directory.
#[derive(Clone)]
pub struct SimDisk {
    shared: Arc<Shared>,
}

impl SimDisk {
    /// An empty disk; `dir` only names files in messages.
    pub fn new(dir: impl Into<PathBuf>) -> SimDisk {
        let shared = Shared {
            dir: dir.into(),
            entries: Mutex::new(Entries::default()),
            faults: Mutex::new(Faults::default()),
            lock: Mutex::new(LockState::default()),
        };
        SimDisk {
            shared: Arc::new(shared),
        }
    }

    /// Operations (writes, syncs, truncations, creations) so far.
    pub fn operations(&self) -> u64 {
        self.shared.faults.lock().operations
    }

    /// Makes operation number `operations() + after + 1` fail with `kind`; with
    /// `persistent`, every later operation fails too.
    pub fn fail_operation(&self, after: u64, kind: FaultKind, persistent: bool) {
        let mut faults = self.shared.faults.lock();
        faults.fail_operation = Some((faults.operations + after + 1, kind, persistent));
    }

    /// Makes sync number `syncs so far + after + 1` fail with EIO.
    pub fn fail_sync(&self, after: u64) {
        let mut faults = self.shared.faults.lock();
        faults.fail_sync = Some(faults.syncs + after + 1);
    }

    /// Removes every planned failure.
    pub fn heal(&self) {
        let mut faults = self.shared.faults.lock();
        faults.fail_operation = None;
        faults.fail_sync = None;
    }

    /// Cuts the power: returns a new disk holding what survived (drawn from `seed`), and
    /// makes every later operation on this disk fail, so handles on it can only be dropped.
    pub fn power_loss(&self, seed: u64) -> SimDisk {
        self.shared.faults.lock().dead = true;
        let mut rng = SimRng::new(seed);
        let survivor = SimDisk::new(self.shared.dir.clone());
        let entries = self.shared.entries.lock().after_power_loss(&mut rng);
        let mut names: Vec<&String> = entries.keys().collect();
        names.sort();
        for name in names {
            let image = entries[name].data.lock().after_power_loss(&mut rng);
            survivor.put_file(name, &image);
        }
        survivor
    }

    /// A copy of this disk as if everything written had been synced (a clean image).
    pub fn snapshot(&self) -> SimDisk {
        let copy = SimDisk::new(self.shared.dir.clone());
        for (name, file) in self.shared.entries.lock().now.iter() {
            let data = file.data.lock();
            copy.put_file(name, &data.read(data.len));
        }
        copy
    }

    /// The names of the files on the disk, sorted.
    pub fn file_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.shared.entries.lock().now.keys().cloned().collect();
        names.sort();
        names
    }

    /// Puts a durable file `name` holding `bytes` on the disk (replacing any).
    pub fn put_file(&self, name: &str, bytes: &[u8]) {
        let mut data = FileData::default();
        data.write(0, bytes);
        data.sync();
        let file = Arc::new(SimFile {
            path: self.shared.dir.join(name),
            data: Arc::new(Mutex::new(data)),
        });
        let mut entries = self.shared.entries.lock();
        entries.now.insert(name.to_string(), file.clone());
        entries.durable.insert(name.to_string(), file);
    }

    /// The bytes of file `name` as written (what a read sees), if it exists.
    pub fn file(&self, name: &str) -> Option<Vec<u8>> {
        let file = self.shared.entries.lock().now.get(name).cloned()?;
        let data = file.data.lock();
        Some(data.read(data.len))
    }

    fn file_handle(&self, name: &str) -> Result<Arc<SimFile>> {
        self.shared
            .entries
            .lock()
            .now
            .get(name)
            .cloned()
            .ok_or_else(|| {
                Error::io(
                    self.shared.dir.join(name),
                    "open",
                    std::io::ErrorKind::NotFound.into(),
                )
            })
    }

    fn check(&self, path: &Path, op: &str, is_sync: bool) -> Result<()> {
        self.shared
            .faults
            .lock()
            .check(is_sync)
            .map_err(|e| Error::io(path, op, e))
    }
}

impl Storage for SimDisk {
    fn dir(&self) -> &Path {
        &self.shared.dir
    }

    fn lock(&self, mode: LockMode, _create: bool) -> Result<Box<dyn DirectoryLock>> {
        let mut lock = self.shared.lock.lock();
        let free = match mode {
            LockMode::Exclusive => !lock.exclusive && lock.shared == 0,
            LockMode::Shared => !lock.exclusive,
        };
        if !free {
            return Err(Error::Locked {
                path: self.shared.dir.join(LOCK_FILE_NAME),
            });
        }
        match mode {
            LockMode::Exclusive => lock.exclusive = true,
            LockMode::Shared => lock.shared += 1,
        }
        Ok(Box::new(SimLock {
            disk: self.clone(),
            mode,
        }))
    }

    fn exists(&self, name: &str) -> Result<bool> {
        Ok(self.shared.entries.lock().now.contains_key(name))
    }

    fn read_start(&self, name: &str, len_max: usize) -> Result<Option<(Vec<u8>, u64)>> {
        let Some(file) = self.shared.entries.lock().now.get(name).cloned() else {
            return Ok(None);
        };
        let data = file.data.lock();
        Ok(Some((data.read(data.len.min(len_max as u64)), data.len)))
    }

    fn write_new(&self, name: &str, contents: &[u8]) -> Result<()> {
        let path = self.shared.dir.join(name);
        self.check(&path, "create", false)?;
        let file = Arc::new(SimFile {
            path: path.clone(),
            data: Arc::new(Mutex::new(FileData::default())),
        });
        self.shared
            .entries
            .lock()
            .change(EntryChange::Link(name.to_string(), file.clone()));
        self.check(&path, "write", false)?;
        file.data.lock().write(0, contents);
        self.check(&path, "fsync", true)?;
        file.data.lock().sync();
        Ok(())
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        let path = self.file_handle(from)?.path.clone();
        self.check(&path, &format!("rename to {to}"), false)?;
        self.shared
            .entries
            .lock()
            .change(EntryChange::Rename(from.to_string(), to.to_string()));
        Ok(())
    }

    fn remove(&self, name: &str) -> Result<()> {
        let path = self.file_handle(name)?.path.clone();
        self.check(&path, "remove", false)?;
        self.shared
            .entries
            .lock()
            .change(EntryChange::Unlink(name.to_string()));
        Ok(())
    }

    fn sync_dir(&self) -> Result<()> {
        self.check(&self.shared.dir, "fsync directory", true)?;
        self.shared.entries.lock().sync();
        Ok(())
    }

    fn open_pages(&self, name: &str, _config: &PageIoConfig) -> Result<Box<dyn PageIo>> {
        let file = self.file_handle(name)?;
        Ok(Box::new(SimPageIo {
            disk: self.clone(),
            file,
        }))
    }

    fn open_log(&self, name: &str) -> Result<Box<dyn LogIo>> {
        let file = self.file_handle(name)?;
        Ok(Box::new(SimLogIo {
            disk: self.clone(),
            file,
        }))
    }
}

struct SimLock {
    disk: SimDisk,
    mode: LockMode,
}

impl DirectoryLock for SimLock {
    fn release_refused(self: Box<Self>) {}
}

impl Drop for SimLock {
    fn drop(&mut self) {
        let mut lock = self.disk.shared.lock.lock();
        match self.mode {
            LockMode::Exclusive => lock.exclusive = false,
            LockMode::Shared => lock.shared -= 1,
        }
    }
}

struct SimPageIo {
    disk: SimDisk,
    file: Arc<SimFile>,
}

struct SimPageView {
    file: Arc<SimFile>,
    pages: Vec<*const u8>,
}

// SAFETY: the pointers address chunks owned by `file`, which the view keeps alive and
// which are never freed or moved; the store writes a page only when no snapshot can read it.
unsafe impl Send for SimPageView {}
unsafe impl Sync for SimPageView {}

impl PageView for SimPageView {
    fn page(&self, page_id: PageId) -> Option<&[u8]> {
        let pointer = *self.pages.get(page_id as usize)?;
        let _owner = &self.file;
        // SAFETY: see the `Send`/`Sync` note: the chunk lives as long as `self.file`.
        Some(unsafe { std::slice::from_raw_parts(pointer, PAGE_SIZE) })
    }

    fn page_count(&self) -> u64 {
        self.pages.len() as u64
    }
}

impl PageIo for SimPageIo {
    fn path(&self) -> &Path {
        &self.file.path
    }

    fn view(&self) -> Arc<dyn PageView> {
        let data = self.file.data.lock();
        let count = (data.len / PAGE_SIZE as u64) as usize;
        let pages = data.chunks[..count]
            .iter()
            .map(|chunk| chunk.as_ptr())
            .collect();
        Arc::new(SimPageView {
            file: self.file.clone(),
            pages,
        })
    }

    fn grow(&self, page_count: u64) -> Result<()> {
        let mut data = self.file.data.lock();
        let len = page_count * PAGE_SIZE as u64;
        if data.len >= len {
            return Ok(());
        }
        self.disk.check(&self.file.path, "grow", false)?;
        data.set_len(len);
        Ok(())
    }

    fn write_pages(&self, first: PageId, bytes: &[u8]) -> Result<()> {
        let last = first + (bytes.len() / PAGE_SIZE) as u64 - 1;
        self.disk.check(
            &self.file.path,
            &format!("write pages {first}..={last}"),
            false,
        )?;
        self.file.data.lock().write(first * PAGE_SIZE as u64, bytes);
        Ok(())
    }

    fn write_page(&self, page_id: PageId, bytes: &[u8]) -> Result<()> {
        self.disk
            .check(&self.file.path, &format!("write page {page_id}"), false)?;
        self.file
            .data
            .lock()
            .write(page_id * PAGE_SIZE as u64, bytes);
        Ok(())
    }

    fn sync(&self) -> Result<()> {
        self.disk.check(&self.file.path, "fdatasync", true)?;
        self.file.data.lock().sync();
        Ok(())
    }
}

struct SimLogIo {
    disk: SimDisk,
    file: Arc<SimFile>,
}

impl LogIo for SimLogIo {
    fn path(&self) -> &Path {
        &self.file.path
    }

    fn file_len(&self) -> Result<u64> {
        Ok(self.file.data.lock().len)
    }

    fn read(&self, len: u64) -> Result<LogBytes> {
        Ok(LogBytes::Owned(self.file.data.lock().read(len)))
    }

    fn write_at(&self, offset: u64, bytes: &[u8]) -> Result<()> {
        self.disk.check(
            &self.file.path,
            &format!("append at offset {offset}"),
            false,
        )?;
        self.file.data.lock().write(offset, bytes);
        Ok(())
    }

    fn sync(&self) -> Result<()> {
        self.disk.check(&self.file.path, "fdatasync", true)?;
        self.file.data.lock().sync();
        Ok(())
    }

    fn truncate(&self, len: u64) -> Result<()> {
        self.disk
            .check(&self.file.path, &format!("truncate at offset {len}"), false)?;
        let mut data = self.file.data.lock();
        data.set_len(len);
        data.sync();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_loss_keeps_synced_bytes_and_may_lose_unsynced_ones() {
        let disk = SimDisk::new("/sim");
        disk.create("f", &[1u8; 1024]).unwrap();
        let log = disk.open_log("f").unwrap();
        log.write_at(0, &[2u8; 512]).unwrap();
        log.sync().unwrap();
        log.write_at(512, &[3u8; 512]).unwrap();
        log.write_at(1024, &[4u8; 1024]).unwrap();
        let mut fates = std::collections::HashSet::new();
        for seed in 0..64 {
            let image = disk.power_loss(seed).file("f").unwrap();
            assert_eq!(&image[..512], &[2u8; 512][..], "synced sector survives");
            assert!(image.len() >= 1024 && image.len() <= 2048);
            fates.insert((image[512], image.len()));
        }
        assert!(fates.len() > 3, "fates vary: {fates:?}");
    }

    #[test]
    fn planned_failures_hit_the_chosen_operation() {
        let disk = SimDisk::new("/sim");
        disk.create("f", b"x").unwrap();
        let log = disk.open_log("f").unwrap();
        disk.fail_operation(1, FaultKind::NoSpace, false);
        log.write_at(0, b"a").unwrap();
        let error = log.write_at(1, b"b").unwrap_err();
        assert!(error.to_string().contains("No space"), "{error}");
        log.write_at(1, b"b").unwrap();
        disk.fail_sync(0);
        assert!(log.sync().is_err());
        assert!(
            log.sync().is_ok(),
            "a planned sync failure happens once; the store never retries"
        );
    }

    #[test]
    fn the_directory_lock_excludes_writers_and_admits_many_readers() {
        let disk = SimDisk::new("/sim");
        let writer = disk.lock(LockMode::Exclusive, true).unwrap();
        assert!(matches!(
            disk.lock(LockMode::Exclusive, true),
            Err(Error::Locked { .. })
        ));
        assert!(matches!(
            disk.lock(LockMode::Shared, true),
            Err(Error::Locked { .. })
        ));
        drop(writer);
        let readers = [
            disk.lock(LockMode::Shared, false).unwrap(),
            disk.lock(LockMode::Shared, false).unwrap(),
        ];
        assert!(matches!(
            disk.lock(LockMode::Exclusive, true),
            Err(Error::Locked { .. })
        ));
        drop(readers);
        assert!(disk.lock(LockMode::Exclusive, true).is_ok());
    }

    #[test]
    fn power_loss_keeps_a_prefix_of_the_unsynced_directory_changes() {
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..64 {
            let disk = SimDisk::new("/sim");
            disk.write_new("a.creating", b"a").unwrap();
            disk.rename("a.creating", "a").unwrap();
            disk.sync_dir().unwrap();
            disk.write_new("b.creating", b"b").unwrap();
            disk.rename("b.creating", "b").unwrap();
            disk.remove("a").unwrap();
            let names = disk.power_loss(seed).file_names();
            let allowed = [
                vec!["a"],
                vec!["a", "b.creating"],
                vec!["a", "b"],
                vec!["b"],
            ];
            assert!(
                allowed.iter().any(|a| *a == names),
                "seed {seed}: {names:?}"
            );
            seen.insert(names);
        }
        assert_eq!(seen.len(), 4, "every prefix occurs: {seen:?}");
    }
}
