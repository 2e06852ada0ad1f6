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

use std::hint::black_box;

use northstar::format::frame::{Op, RecordBuilder};
use northstar::format::page::PageRef;
use northstar::io::OsStorage;
use northstar::log::LogFile;
use northstar::pager::{Pager, View};
use northstar::{Db, Options};

use super::context::Context;
use super::error::{BenchError, Fallible};
use super::fixtures::{self, key, value, XorShift, SEED};
use super::measure::{run_ops, Probe, Sample};

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
