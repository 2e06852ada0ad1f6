//! The validator: everything a damaged file or a bug could break, checked from the meta
//! down, with no trust in cached verification.
//!
//! It checks every reachable page's checksum, id and kind; key order within and across
//! pages against the separators above them; equal leaf depth; node fill; entry counts;
//! overflow runs; the freelist chain; and that every page below the high-water mark is
//! exactly one of meta, reachable or free.

use crate::format::catalog::Descriptor;
use crate::format::freelist;
use crate::format::meta::Meta;
use crate::format::node::{CellValue, NodePage};
use crate::format::overflow;
use crate::format::page::{PageKind, PageRef};
use crate::limits::{
    NODE_FILL_MIN, OVERFLOW_PAYLOAD_SIZE, PAGE_HEADER_SIZE, PAGE_SIZE, TREE_DEPTH_MAX,
};
use crate::pager::{read_meta_slot, FreeState, View};
use crate::PageId;

/// One thing wrong with a database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The page at fault, when there is one.
    pub page: Option<PageId>,
    /// What is wrong.
    pub detail: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.page {
            Some(page) => write!(f, "page {page}: {}", self.detail),
            None => f.write_str(&self.detail),
        }
    }
}

/// Shape of one tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeStats {
    /// Keyspace name; empty for the default keyspace, `"(catalog)"` for the catalog.
    pub name: String,
    /// Levels from root to leaves (0 for an empty tree).
    pub depth: usize,
    /// Entries in the leaves.
    pub entries: u64,
    /// Leaf pages.
    pub leaf_pages: u64,
    /// Branch pages.
    pub branch_pages: u64,
    /// Overflow pages holding large values.
    pub overflow_pages: u64,
    /// Bytes of leaf and branch pages in use (headers, slots and cells).
    pub node_bytes_used: u64,
}

impl TreeStats {
    /// Average fill of the tree's leaf and branch pages, 0.0 to 1.0.
    pub fn fill(&self) -> f64 {
        let pages = self.leaf_pages + self.branch_pages;
        if pages == 0 {
            return 0.0;
        }
        self.node_bytes_used as f64 / (pages * PAGE_SIZE as u64) as f64
    }
}

/// Result of [`check_database`].
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// Txn id of the meta that was checked.
    pub txn_id: u64,
    /// High-water mark of the page file.
    pub page_count: u64,
    /// Pages listed as free.
    pub free_pages: u64,
    /// Pages holding the freelist itself.
    pub freelist_pages: u64,
    /// One entry per tree: default keyspace, catalog, then named keyspaces.
    pub trees: Vec<TreeStats>,
    /// Everything found wrong; empty when the database is sound.
    pub problems: Vec<Problem>,
    /// Things worth knowing that do not make the database unsound: a meta slot that is
    /// damaged or torn (the database runs on the other one, so its newest commit may be
    /// the one before the damaged meta's).
    pub warnings: Vec<Problem>,
}

impl CheckReport {
    /// Whether no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

struct Checker<'a> {
    view: &'a View,
    owner: Vec<Option<&'static str>>,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn problem(&mut self, page: Option<PageId>, detail: impl Into<String>) {
        self.problems.push(Problem {
            page,
            detail: detail.into(),
        });
    }

    /// Records that `page` is used as `what`; false when it cannot be (out of range or
    /// already used), after reporting why.
    fn claim(&mut self, page: PageId, what: &'static str) -> bool {
        match self.owner.get(page as usize) {
            None => {
                self.problem(
                    Some(page),
                    format!(
                        "{what} page is past the high-water mark {}",
                        self.owner.len()
                    ),
                );
                false
            }
            Some(Some(first)) => {
                let first = *first;
                self.problem(
                    Some(page),
                    format!("page used twice: as {first} and as {what}"),
                );
                false
            }
            Some(None) => {
                self.owner[page as usize] = Some(what);
                true
            }
        }
    }

    fn page(&mut self, page_ref: PageRef, kind: PageKind) -> Option<(&[u8], u16, u32)> {
        let page = page_ref.id;
        match self.view.verify_page(page) {
            Ok(header) if header.kind == kind as u8 && header.txn_id != page_ref.txn => {
                self.problem(
                    Some(page),
                    format!(
                        "stale or misplaced page: written by txn {}, the reference expects txn {}",
                        header.txn_id, page_ref.txn
                    ),
                );
                None
            }
            Ok(header) if header.kind == kind as u8 => {
                let bytes = self.view.raw_page(page).expect("verified page exists");
                Some((bytes, header.count, header.aux))
            }
            Ok(header) => {
                self.problem(
                    Some(page),
                    format!(
                        "expected a {} page, found kind byte {}",
                        kind.name(),
                        header.kind
                    ),
                );
                None
            }
            Err(crate::Error::Corrupt { detail, .. }) => {
                self.problem(Some(page), detail);
                None
            }
            Err(error) => {
                self.problem(Some(page), error.to_string());
                None
            }
        }
    }

    /// Checks the checkpoint's freelist chain on disk, then claims every page the writer
    /// holds as free or pending. (Ids the chain lists may since have been reused by txns
    /// after the checkpoint, so they are checked for form, not claimed.)
    fn check_freelist(&mut self, checkpoint: &Meta, free: &FreeState, report: &mut CheckReport) {
        let mut next = checkpoint.freelist_head.id;
        let mut chain = Vec::new();
        let mut ids = Vec::new();
        while next != 0 {
            if !self.claim(next, "freelist") {
                break;
            }
            chain.push(next);
            let page = PageRef {
                id: next,
                txn: checkpoint.freelist_head.txn,
            };
            let Some((bytes, count, _)) = self.page(page, PageKind::Freelist) else {
                break;
            };
            let (following, listed) =
                freelist::decode(bytes, count).expect("verified freelist page");
            ids.extend(listed);
            next = following;
        }
        report.freelist_pages = chain.len() as u64;
        if chain != free.freelist_pages() {
            self.problem(
                None,
                format!(
                    "freelist chain on disk is {chain:?}, the writer holds {:?}",
                    free.freelist_pages()
                ),
            );
        }
        if ids.windows(2).any(|pair| pair[0] >= pair[1]) {
            self.problem(None, "freelist ids are not strictly ascending");
        }
        if ids.len() as u64 != checkpoint.free_count {
            self.problem(
                None,
                format!(
                    "freelist holds {} ids, meta says {}",
                    ids.len(),
                    checkpoint.free_count
                ),
            );
        }
        if let Some(id) = ids
            .iter()
            .find(|id| **id < 2 || **id >= checkpoint.page_count)
        {
            self.problem(
                None,
                format!(
                    "freelist lists page {id}, outside pages 2..{}",
                    checkpoint.page_count
                ),
            );
        }
        let current = free.all_free();
        report.free_pages = current.len() as u64;
        for id in current {
            self.claim(id, "free");
        }
    }

    fn check_tree(
        &mut self,
        name: &str,
        root: PageRef,
        expected_entries: Option<u64>,
    ) -> TreeStats {
        let mut stats = TreeStats {
            name: name.to_string(),
            ..TreeStats::default()
        };
        if !root.is_none() {
            let mut leaf_depth = None;
            self.visit(root, 1, None, None, &mut stats, &mut leaf_depth);
            stats.depth = leaf_depth.unwrap_or(0);
        }
        if let Some(expected) = expected_entries {
            if expected != stats.entries {
                self.problem(
                    Some(root.id),
                    format!(
                        "{} holds {} entries, its count says {expected}",
                        if name.is_empty() {
                            "the default keyspace".to_string()
                        } else {
                            format!("keyspace {name:?}")
                        },
                        stats.entries
                    ),
                );
            }
        }
        stats
    }

    fn visit(
        &mut self,
        page_ref: PageRef,
        depth: usize,
        lower: Option<&[u8]>,
        upper: Option<&[u8]>,
        stats: &mut TreeStats,
        leaf_depth: &mut Option<usize>,
    ) {
        let page = page_ref.id;
        if depth > TREE_DEPTH_MAX {
            self.problem(
                Some(page),
                format!("tree deeper than {TREE_DEPTH_MAX} levels"),
            );
            return;
        }
        if !self.claim(page, "node") {
            return;
        }
        let node = match self.view.verify_page(page) {
            Ok(_) => match self.view.node(page_ref) {
                Ok(node) => node,
                Err(error) => return self.problem(Some(page), error.to_string()),
            },
            Err(crate::Error::Corrupt { detail, .. }) => return self.problem(Some(page), detail),
            Err(error) => return self.problem(Some(page), error.to_string()),
        };
        let used = node.used_size();
        stats.node_bytes_used += used as u64;
        let is_root = depth == 1;
        if node.count() == 0 {
            self.problem(Some(page), "empty node (an empty tree has root 0)");
        } else if !is_root && used - PAGE_HEADER_SIZE < NODE_FILL_MIN {
            self.problem(
                Some(page),
                format!(
                    "underfull: {} bytes of cells, minimum {NODE_FILL_MIN}",
                    used - PAGE_HEADER_SIZE
                ),
            );
        }
        let first_key = if node.is_leaf() { 0 } else { 1 };
        for index in first_key..node.count() {
            let key = node.key(index);
            if lower.is_some_and(|lower| key < lower) || upper.is_some_and(|upper| key >= upper) {
                self.problem(
                    Some(page),
                    format!("key {index} lies outside the range its parent gives this page"),
                );
                break;
            }
        }
        if node.is_leaf() {
            stats.leaf_pages += 1;
            stats.entries += node.count() as u64;
            match leaf_depth {
                None => *leaf_depth = Some(depth),
                Some(expected) if *expected != depth => self.problem(
                    Some(page),
                    format!("leaf at depth {depth}, other leaves at depth {expected}"),
                ),
                Some(_) => {}
            }
            self.check_overflow_values(node, stats);
        } else {
            stats.branch_pages += 1;
            if is_root && node.count() < 2 {
                self.problem(Some(page), "root branch has a single child");
            }
            self.visit_children(node, depth, lower, upper, stats, leaf_depth);
        }
    }

    fn visit_children(
        &mut self,
        node: NodePage<'_>,
        depth: usize,
        lower: Option<&[u8]>,
        upper: Option<&[u8]>,
        stats: &mut TreeStats,
        leaf_depth: &mut Option<usize>,
    ) {
        for index in 0..node.count() {
            let child_lower = if index == 0 {
                lower
            } else {
                Some(node.key(index))
            };
            let child_upper = if index + 1 < node.count() {
                Some(node.key(index + 1))
            } else {
                upper
            };
            self.visit(
                node.child(index),
                depth + 1,
                child_lower,
                child_upper,
                stats,
                leaf_depth,
            );
        }
    }

    fn check_overflow_values(&mut self, node: NodePage<'_>, stats: &mut TreeStats) {
        for index in 0..node.count() {
            let CellValue::Overflow { first_page, len } = node.value(index) else {
                continue;
            };
            let mut remaining = len as usize;
            for page in first_page.id..first_page.id + overflow::page_count_for(len as usize) {
                if !self.claim(page, "overflow") {
                    break;
                }
                stats.overflow_pages += 1;
                let expected = remaining.min(OVERFLOW_PAYLOAD_SIZE);
                remaining -= expected;
                // A damaged page is reported; the rest of the run is still claimed.
                let page_ref = PageRef {
                    id: page,
                    txn: first_page.txn,
                };
                let Some((_, _, aux)) = self.page(page_ref, PageKind::Overflow) else {
                    continue;
                };
                if aux as usize != expected {
                    self.problem(
                        Some(page),
                        format!("overflow page carries {aux} bytes, expected {expected}"),
                    );
                }
            }
        }
    }

    fn check_catalog(&mut self, meta: &Meta, report: &mut CheckReport) {
        let catalog = self.check_tree("(catalog)", meta.catalog_root, None);
        let mut named = Vec::new();
        // Walk the catalog even if something is damaged: every descriptor read before a
        // bad page still gets its keyspace checked (and its pages claimed).
        if !meta.catalog_root.is_none() {
            let source = super::Source::View(self.view);
            let mut cursor = super::Cursor::new(source, meta.catalog_root);
            let mut more = cursor.first();
            while let Ok(true) = more {
                let key = cursor.key().expect("positioned");
                let value = cursor.value();
                match value.ok().flatten().as_deref().and_then(Descriptor::decode) {
                    Some(descriptor)
                        if descriptor.id != 0 && descriptor.id < meta.next_keyspace_id =>
                    {
                        named.push((String::from_utf8_lossy(key).into_owned(), descriptor))
                    }
                    _ => self.problem(
                        None,
                        format!(
                            "catalog entry {:?} is not a valid keyspace descriptor",
                            String::from_utf8_lossy(key)
                        ),
                    ),
                }
                more = cursor.next();
            }
            if let Err(error) = more {
                self.problem(None, error.to_string());
            }
        }
        report.trees.push(catalog);
        for (name, descriptor) in named {
            let stats = self.check_tree(&name, descriptor.root, Some(descriptor.len));
            report.trees.push(stats);
        }
    }
}

/// The meta slot not in use should hold a valid, older meta; say so when it does not.
fn meta_slot_warnings(view: &View, meta: &Meta, slot: PageId) -> Vec<Problem> {
    let other = 1 - slot;
    match read_meta_slot(view, other) {
        Ok(older) if older.txn_id <= meta.txn_id => Vec::new(),
        Ok(newer) => vec![Problem {
            page: Some(other),
            detail: format!("meta page {other} names txn {}, newer than the txn {} in use", newer.txn_id, meta.txn_id),
        }],
        Err(fault) => vec![Problem {
            page: Some(other),
            detail: format!(
                "meta page {other} is unusable ({fault}); the database runs on meta page {slot} at txn {}",
                meta.txn_id
            ),
        }],
    }
}

/// Checks the whole database: the trees of `head` (the newest txn), the freelist chain of
/// `checkpoint` (the newest meta on disk, in meta page `checkpoint_slot`), and that every
/// page is exactly one of reachable, free (per `free`, the writer's state) or freelist.
pub fn check_database(
    view: &View,
    head: &Meta,
    checkpoint: &Meta,
    checkpoint_slot: PageId,
    free: &FreeState,
) -> CheckReport {
    let meta = head;
    let mut report = CheckReport {
        txn_id: meta.txn_id,
        page_count: meta.page_count,
        ..CheckReport::default()
    };
    let mut checker = Checker {
        view,
        owner: vec![None; meta.page_count as usize],
        problems: Vec::new(),
    };
    checker.owner[0] = Some("meta");
    checker.owner[1] = Some("meta");
    report.warnings = meta_slot_warnings(view, checkpoint, checkpoint_slot);
    checker.check_freelist(checkpoint, free, &mut report);
    let default = checker.check_tree("", meta.default_root, Some(meta.default_len));
    report.trees.push(default);
    checker.check_catalog(meta, &mut report);
    let leaked: Vec<usize> = checker
        .owner
        .iter()
        .enumerate()
        .filter(|(_, owner)| owner.is_none())
        .map(|(page, _)| page)
        .collect();
    for page in leaked.iter().take(100) {
        checker.problem(
            Some(*page as PageId),
            "page is neither reachable nor free (leaked)",
        );
    }
    if leaked.len() > 100 {
        checker.problem(None, format!("{} more leaked pages", leaked.len() - 100));
    }
    report.problems = checker.problems;
    report
}
