//! The page file's I/O modes side by side, printed as a table: hot and cold random point
//! reads through the mmap backend and through direct I/O with the store's own cache, and
//! the resident memory of direct I/O reading a database much larger than its cache.
//!
//! - hot: every page read once before timing (mmap: in the OS page cache; direct: in a
//!   cache large enough for the whole file);
//! - cold: mmap after `posix_fadvise(DONTNEED)` on the page file (best effort: the OS may
//!   keep pages), direct with an empty cache;
//! - memory: a database of `NORTHSTAR_BENCH_RSS_MIB` MiB (default 2048) read at random
//!   with a 128 MiB cache, a read txn per 10,000 gets; resident memory before and after,
//!   against the budget (frames evicted under a read txn live until it ends).
//!
//! `NORTHSTAR_BENCH_SMOKE=1` runs it small, for CI.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use northstar::{Db, IoMode, Options};

fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kib| kib * 1024)
}

fn drop_os_cache(path: &Path) {
    use std::os::fd::AsRawFd;
    if let Ok(file) = std::fs::File::open(path) {
        // SAFETY: a plain system call on a file this function owns.
        unsafe {
            libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED);
        }
    }
}

/// Loads keys `0..keys` with values of `value_len` bytes.
fn load(dir: &Path, keys: u64, value_len: usize) {
    let db = Db::open(dir, Options::default()).expect("open");
    let value = vec![7u8; value_len];
    let mut next = 0;
    while next < keys {
        let mut txn = db.begin_write().expect("begin");
        for index in next..(next + 50_000).min(keys) {
            txn.put(support::key(index), &value).expect("put");
        }
        txn.commit().expect("commit");
        next += 50_000;
    }
    db.close().expect("close");
}

/// Random point gets per second over `count` gets.
fn gets_per_second(db: &Db, keys: u64, count: u64) -> f64 {
    let read = db.begin_read().expect("read");
    let mut rng = support::XorShift::new(support::SEED);
    let start = Instant::now();
    for _ in 0..count {
        let key = support::key(rng.below(keys));
        assert!(read.get(key).expect("get").is_some());
    }
    count as f64 / start.elapsed().as_secs_f64()
}

/// Reads every entry once, so every page is cached.
fn warm(db: &Db) {
    let read = db.begin_read().expect("read");
    for entry in read.iter().expect("iterate") {
        std::hint::black_box(entry.expect("entry"));
    }
}

fn open(dir: &Path, mode: IoMode, cache_size: u64) -> Db {
    let options = Options::default()
        .create(false)
        .io_mode(mode)
        .cache_size(cache_size);
    Db::open(dir, options).expect("open")
}

fn reads() {
    let (keys, gets) = if support::is_smoke() {
        (20_000, 20_000)
    } else {
        (1_000_000, 1_000_000)
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    load(dir.path(), keys, 100);
    let page_file = dir.path().join("northstar.db");
    let file_size = std::fs::metadata(&page_file).expect("page file").len();
    let mut rows = Vec::new();
    for mode in [IoMode::Mmap, IoMode::Direct] {
        let db = open(dir.path(), mode, file_size * 2);
        warm(&db);
        let hot = gets_per_second(&db, keys, gets);
        drop(db);
        drop_os_cache(&page_file);
        let db = open(dir.path(), mode, file_size * 2);
        let cold = gets_per_second(&db, keys, gets / 10);
        rows.push((mode, hot, cold));
    }
    let mmap_hot = rows[0].1;
    let mmap_cold = rows[0].2;
    for (mode, hot, cold) in rows {
        println!(
            "| {} | {keys} keys, {} MiB | {:.0} k/s | {:.2}x | {:.0} k/s | {:.2}x |",
            mode.name(),
            file_size >> 20,
            hot / 1e3,
            hot / mmap_hot,
            cold / 1e3,
            cold / mmap_cold,
        );
    }
}

fn memory() {
    let mib: u64 = if support::is_smoke() {
        16
    } else {
        std::env::var("NORTHSTAR_BENCH_RSS_MIB")
            .ok()
            .and_then(|value| value.parse().ok())
            .unwrap_or(2048)
    };
    let cache_size: u64 = if support::is_smoke() {
        4 << 20
    } else {
        128 << 20
    };
    // About 200 bytes of page space per 150-byte value.
    let keys = (mib << 20) / 200;
    let dir = tempfile::tempdir().expect("temporary directory");
    let start = Instant::now();
    load(dir.path(), keys, 150);
    let built = start.elapsed();
    let file_size = std::fs::metadata(dir.path().join("northstar.db"))
        .expect("page file")
        .len();
    let before = resident_bytes();
    let db = open(dir.path(), IoMode::Direct, cache_size);
    let mut rng = support::XorShift::new(support::SEED);
    let mut peak = 0;
    let deadline = Instant::now() + Duration::from_secs(if support::is_smoke() { 1 } else { 20 });
    let mut gets = 0u64;
    while Instant::now() < deadline {
        // A read txn per 10,000 gets: frames evicted under a txn live as long as it does.
        let read = db.begin_read().expect("read");
        for _ in 0..10_000 {
            let key = support::key(rng.below(keys));
            assert!(read.get(key).expect("get").is_some());
        }
        gets += 10_000;
        peak = peak.max(resident_bytes());
    }
    let clean = db
        .cache_stats()
        .clean
        .expect("direct I/O has a clean cache");
    println!(
        "| direct, {} MiB file (built in {:.0} s), {} MiB cache | {gets} random gets | {} MiB before open, peak {} MiB: +{} MiB ({:.2}x the cache) | {} hits, {} misses, {} evictions |",
        file_size >> 20,
        built.as_secs_f64(),
        cache_size >> 20,
        before >> 20,
        peak >> 20,
        peak.saturating_sub(before) >> 20,
        peak.saturating_sub(before) as f64 / cache_size as f64,
        clean.hits,
        clean.misses,
        clean.evictions,
    );
}

fn main() {
    println!("| mode | database | hot gets | ÷ mmap | cold gets | ÷ mmap |");
    println!("|---|---|---|---|---|---|");
    reads();
    println!();
    println!("| workload | reads | resident memory | cache |");
    println!("|---|---|---|---|");
    memory();
}
