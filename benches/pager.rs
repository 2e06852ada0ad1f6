//! Pager micro-benchmarks: opening a database, checked page reads and the meta commit.
//!
//! - `pager/open_close_empty`: `Db::open` and drop of an existing empty database.
//! - `pager/read_page_random_16k_hot`: `View::node` on random leaf and branch pages of the
//!   shared database, every page already verified (the checksum cache is hot).
//! - `pager/commit_meta_fsync`: `Pager::write_meta`, one meta page write and fdatasync.

#[path = "support/mod.rs"]
mod support;

use std::cell::OnceCell;
use std::hint::black_box;

use northstar::format::page::PageRef;
use northstar::pager::{Opened, Pager, View};
use northstar::{Db, Options};
use support::{Fixture, XorShift};
use tempfile::TempDir;

fn main() {
    let fixture = Fixture::new();
    let mut criterion = support::criterion();
    let mut group = criterion.benchmark_group("pager");

    let empty = OnceCell::new();
    group.bench_function("open_close_empty", |b| {
        let dir = empty.get_or_init(empty_database);
        b.iter(|| {
            drop(black_box(
                Db::open(dir.path(), Options::default()).expect("open"),
            ))
        });
    });

    let reads = OnceCell::new();
    let mut rng = XorShift::new(support::SEED);
    group.bench_function("read_page_random_16k_hot", |b| {
        let (opened, page_ids) = reads.get_or_init(|| open_for_reads(&fixture));
        let view = opened.pager.view();
        let page_count = page_ids.len() as u64;
        b.iter(|| {
            let page_id = page_ids[rng.below(page_count) as usize];
            black_box(view.node(page_id).expect("node page"));
        });
    });

    let metas = OnceCell::new();
    let mut newest = None;
    group.bench_function("commit_meta_fsync", |b| {
        let (_dir, opened) = metas.get_or_init(open_for_metas);
        // Txn ids keep rising across samples, as they would across commits.
        let meta = newest.get_or_insert(opened.meta);
        b.iter(|| {
            // Alternate slots, as checkpoints do: never overwrite the newest meta.
            meta.txn_id += 1;
            opened
                .pager
                .write_meta(meta, meta.txn_id % 2)
                .expect("write meta");
        });
    });

    group.finish();
    criterion.final_summary();
}

/// A directory holding a freshly created, empty database (closed).
fn empty_database() -> TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    drop(Db::open(dir.path(), Options::default()).expect("create empty database"));
    dir
}

/// The shared database opened through the pager, and the ids of all its tree pages,
/// each read once so its checksum is verified and cached.
fn open_for_reads(fixture: &Fixture) -> (Opened, Vec<PageRef>) {
    let opened =
        Pager::open(&northstar::io::OsStorage::new(fixture.path())).expect("open page file");
    let page_ids = tree_page_ids(&opened.pager.view(), opened.meta.default_root);
    assert!(
        !page_ids.is_empty(),
        "the shared database has no tree pages"
    );
    let view = opened.pager.view();
    support::assert_no_allocations("View::node", page_ids.len() as u64, {
        let mut ids = page_ids.iter();
        move || {
            black_box(view.node(*ids.next().expect("id")).expect("node page"));
        }
    });
    (opened, page_ids)
}

/// References to the leaf and branch pages of the tree rooted at `root`.
fn tree_page_ids(view: &View, root: PageRef) -> Vec<PageRef> {
    let mut page_ids = Vec::new();
    let mut pending = if root.is_none() {
        Vec::new()
    } else {
        vec![root]
    };
    while let Some(page_id) = pending.pop() {
        let node = view.node(page_id).expect("node page");
        page_ids.push(page_id);
        if !node.is_leaf() {
            pending.extend((0..node.count()).map(|index| node.child(index)));
        }
    }
    page_ids
}

/// A small database of its own, opened through the pager, for meta writes.
fn open_for_metas() -> (TempDir, Opened) {
    let dir = tempfile::tempdir().expect("temporary directory");
    drop(support::build(dir.path(), 100));
    let opened = Pager::open(&northstar::io::OsStorage::new(dir.path())).expect("open page file");
    (dir, opened)
}
