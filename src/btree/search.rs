//! Point lookups, and [`Source`]: where a reader finds nodes (pages on disk, or the write
//! txn's nodes in memory first).

use std::borrow::Cow;

use super::node::NodeRef;
use super::write::TreeWriter;
use crate::format::node::CellValue;
use crate::format::page::PageRef;
use crate::limits::TREE_DEPTH_MAX;
use crate::pager::View;
use crate::Result;

/// A value read from the store: borrowed from the mapped file when it is stored inline,
/// owned when it was assembled from overflow pages.
pub type Value<'a> = Cow<'a, [u8]>;

/// Where a read finds nodes.
#[derive(Clone, Copy)]
pub enum Source<'a> {
    /// A committed snapshot: pages only.
    View(&'a View),
    /// The write txn: its modified nodes, then pages.
    Writer(&'a TreeWriter<'a>),
}

impl<'a> Source<'a> {
    pub fn view(&self) -> &'a View {
        match self {
            Source::View(view) => view,
            Source::Writer(writer) => writer.view(),
        }
    }

    pub fn node(&self, page: PageRef) -> Result<NodeRef<'a>> {
        match self {
            Source::View(view) => Ok(NodeRef::Page(view.node(page)?)),
            Source::Writer(writer) => writer.node(page),
        }
    }

    /// The bytes of a value as a cell holds it.
    pub fn value(&self, value: CellValue<'a>) -> Result<Value<'a>> {
        match value {
            CellValue::Inline(bytes) => Ok(Cow::Borrowed(bytes)),
            CellValue::Overflow { first_page, len } => Ok(Cow::Owned(
                self.view().read_overflow(first_page, len as usize)?,
            )),
        }
    }

    /// The cell value stored under `key` in the tree at `root`.
    pub fn find(&self, root: PageRef, key: &[u8]) -> Result<Option<CellValue<'a>>> {
        if root.is_none() {
            return Ok(None);
        }
        let mut page = root;
        for _ in 0..TREE_DEPTH_MAX {
            let node = self.node(page)?;
            if node.is_leaf() {
                return Ok(node.search(key).ok().map(|index| node.value(index)));
            }
            page = node.child(node.child_index(key));
        }
        Err(self.view().corrupt(
            page.id,
            format!("tree deeper than {TREE_DEPTH_MAX} levels: a cycle"),
        ))
    }

    /// The value stored under `key` in the tree at `root`.
    pub fn get(&self, root: PageRef, key: &[u8]) -> Result<Option<Value<'a>>> {
        match self.find(root, key)? {
            Some(value) => Ok(Some(self.value(value)?)),
            None => Ok(None),
        }
    }
}
