//! The micro workloads: one layer of the engine at a time, below the public API where
//! it has one. Sizes are at full scale.
//!
//! - `page_read`: `View::node` of a random leaf or branch page of the loaded database
//!   opened through the pager, every page verified beforehand (checksum cache hot);
//!   2,000,000 reads.
//! - `record_append`: a `RecordBuilder` with one put (16-byte key, 100-byte value),
//!   sealed and appended to a commit log with `LogFile::append`, no sync; 200,000
//!   appends.
//! - `snapshot_open_close`: `Db::begin_read` and dropping the read txn on the loaded
//!   database; 1,000,000 snapshots.
//! - `pager/read_page_random_16k_cold`: `pread` of one random 16 KiB tree page of the
//!   loaded database into an aligned buffer, and its checksum and header verified
//!   (`format::page::verify`); before each read, outside the timed span, the OS cache
//!   of the page file is dropped with `posix_fadvise(POSIX_FADV_DONTNEED)` (the file
//!   synced once first, as only clean pages are dropped). Best effort:
//!   `cache_drops_refused` counts drops the kernel refused; `hot_latency_ns_p50` is the
//!   same read without the drop, measured in the same repeat, and
//!   `cold_over_hot_latency_p50` their ratio (near 1 if the drops did not take). 2,000
//!   reads.

use std::fs::File;
use std::hint::black_box;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;

use northstar::format::frame::{Op, RecordBuilder};
use northstar::format::page::{self as page_format, PageRef};
use northstar::io::OsStorage;
use northstar::log::LogFile;
use northstar::pager::{Pager, View, PAGE_FILE_NAME};
use northstar::{Db, Options, PAGE_SIZE};

use super::context::Context;
use super::error::{BenchError, Fallible};
use super::fixtures::{self, key, value, XorShift, SEED};
use super::measure::{latency_histogram, run_ops, run_ops_with_setup, Probe, Sample};

/// Database id written in the header of the `record_append` log.
const APPEND_DATABASE_ID: [u8; 16] = *b"northstar-bench!";

/// `micro/page_read`.
pub fn page_read(ctx: &Context) -> Fallible<Sample> {
    let opened = Pager::open(&OsStorage::new(ctx.fixtures.loaded()?))?;
    let view = opened.pager.view();
    let pages = tree_pages(&view, opened.meta.default_root)?;
    if pages.is_empty() {
        return Err(BenchError::new("the loaded database has no tree pages"));
    }
    let mut rng = XorShift::new(SEED);
    run_ops(&ctx.plan(2_000_000, 1_000), &Probe::none(), || {
        let page = pages[rng.below(pages.len() as u64) as usize];
        black_box(view.node(page)?);
        Ok(())
    })
}

/// The leaf and branch pages of the tree rooted at `root`, each read (and so verified)
/// once.
fn tree_pages(view: &View, root: PageRef) -> Fallible<Vec<PageRef>> {
    let mut pages = Vec::new();
    let mut pending = if root.is_none() {
        Vec::new()
    } else {
        vec![root]
    };
    while let Some(page) = pending.pop() {
        let node = view.node(page)?;
        pages.push(page);
        if !node.is_leaf() {
            pending.extend((0..node.count()).map(|index| node.child(index)));
        }
    }
    Ok(pages)
}

/// `micro/record_append`.
pub fn record_append(ctx: &Context) -> Fallible<Sample> {
    let dir = fixtures::temp_dir(&ctx.data_dir)?;
    let log = LogFile::create(&OsStorage::new(dir.path()), APPEND_DATABASE_ID, 1)?;
    let mut txn_id = 1;
    run_ops(&ctx.plan(200_000, 100), &Probe::none(), || {
        let mut builder = RecordBuilder::default();
        builder.push(&Op::Put {
            keyspace: 0,
            key: &key(txn_id),
            value: &value(txn_id, 0),
        });
        log.append(&mut builder, txn_id, &APPEND_DATABASE_ID)?;
        txn_id += 1;
        Ok(())
    })
}

/// `micro/snapshot_open_close`.
pub fn snapshot_open_close(ctx: &Context) -> Fallible<Sample> {
    let db = Db::open(ctx.fixtures.loaded()?, Options::default().create(false))?;
    let sample = run_ops(&ctx.plan(1_000_000, 1_000), &Probe::reads(&db), || {
        drop(black_box(db.begin_read()?));
        Ok(())
    })?;
    db.close()?;
    Ok(sample)
}

/// A page-sized buffer aligned for direct reads.
#[repr(C, align(4096))]
struct PageBuffer([u8; PAGE_SIZE]);

/// Reads page `page` of `file` into `buffer` and verifies it.
fn read_verified(file: &File, buffer: &mut PageBuffer, page: PageRef) -> Fallible<()> {
    file.read_exact_at(&mut buffer.0, page.id * PAGE_SIZE as u64)
        .map_err(|e| BenchError::new(format!("read page {}: {e}", page.id)))?;
    let header = page_format::verify(&buffer.0, page.id)
        .map_err(|fault| BenchError::new(format!("page {}: {fault}", page.id)))?;
    if header.txn_id != page.txn {
        return Err(BenchError::new(format!(
            "page {} was written by txn {}, its reference says {}",
            page.id, header.txn_id, page.txn
        )));
    }
    Ok(())
}

/// `micro/pager/read_page_random_16k_cold`.
pub fn read_page_random_16k_cold(ctx: &Context) -> Fallible<Sample> {
    let dir = ctx.fixtures.loaded()?;
    let pages = {
        let opened = Pager::open(&OsStorage::new(dir))?;
        tree_pages(&opened.pager.view(), opened.meta.default_root)?
    };
    if pages.is_empty() {
        return Err(BenchError::new("the loaded database has no tree pages"));
    }
    let path = dir.join(PAGE_FILE_NAME);
    let file = File::open(&path).map_err(|e| BenchError::io(&path, "open", e))?;
    // The kernel drops only clean pages: write back whatever the build left dirty.
    file.sync_all()
        .map_err(|e| BenchError::io(&path, "sync", e))?;
    let mut buffer = Box::new(PageBuffer([0; PAGE_SIZE]));
    let plan = ctx.plan(2_000, 20);
    let mut rng = XorShift::new(SEED);
    let mut hot_ns = latency_histogram();
    for _ in 0..plan.ops {
        let page = pages[rng.below(pages.len() as u64) as usize];
        let started = std::time::Instant::now();
        read_verified(&file, &mut buffer, page)?;
        hot_ns.saturating_record(started.elapsed().as_nanos() as u64);
    }
    let mut refused = 0u64;
    let mut sample = run_ops_with_setup(
        &plan,
        &Probe::none(),
        || {
            let page = pages[rng.below(pages.len() as u64) as usize];
            // The whole file, not the page's range: the kernel keeps a file's cache in
            // folios that can be larger than a page, and drops only folios wholly inside
            // the range. SAFETY: posix_fadvise only reads its integer arguments; the
            // descriptor is open for the life of `file`.
            let status =
                unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
            refused += u64::from(status != 0);
            Ok(page)
        },
        |page| read_verified(&file, &mut buffer, page),
    )?;
    sample.figure("cache_drops_refused", refused as f64);
    let hot_p50 = hot_ns.value_at_quantile(0.5);
    sample.figure("hot_latency_ns_p50", hot_p50 as f64);
    // Near 1 when the kernel kept the pages cached despite the drop.
    sample.figure(
        "cold_over_hot_latency_p50",
        sample.latency_ns.value_at_quantile(0.5) as f64 / hot_p50.max(1) as f64,
    );
    Ok(sample)
}
