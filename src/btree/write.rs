//! Copy-on-write changes to trees: put, delete, drop, and writing the changed nodes.
//!
//! Invariants:
//! - A page the txn did not allocate is never written: touching it copies it to a new page
//!   and frees the old one (visible to older snapshots until they end).
//! - After every put or delete, each node on the path holds at most a page and, unless it is
//!   the root, at least [`NODE_FILL_MIN`] bytes of cells: overfull nodes split, underfull ones
//!   merge with or borrow from a sibling. A root branch with one child is replaced by it.

use std::sync::Arc;

use parking_lot::MutexGuard;
use rustc_hash::FxHashMap;

use super::node::{LeafEntry, Node, NodeRef};
use crate::format::node::{leaf_cell_size, CellValue};
use crate::format::overflow;
use crate::format::page::PageRef;
use crate::limits::{
    LEAF_CELL_INLINE_SIZE_MAX, NODE_FILL_AFTER_DELETE_MIN, NODE_FILL_MIN, OVERFLOW_PAYLOAD_SIZE,
    PAGE_HEADER_SIZE, PAGE_SIZE, TREE_DEPTH_MAX,
};
use crate::pager::{Frame, FreeState, Pager, View, WriterState};
use crate::{PageId, Result, TxnId};

/// The write txn's view of every tree: its own nodes in memory over the committed pages.
pub struct TreeWriter<'db> {
    pager: &'db Pager,
    view: Arc<View>,
    /// Nodes the txn changed, by page id (page ids are small integers: FxHash, not SipHash).
    dirty: FxHashMap<PageId, Node>,
    slot: MutexGuard<'db, WriterState>,
    txn_id: TxnId,
}

impl<'db> TreeWriter<'db> {
    /// A writer for txn `txn_id`, holding the writer slot.
    pub fn new(
        pager: &'db Pager,
        slot: MutexGuard<'db, WriterState>,
        txn_id: TxnId,
    ) -> TreeWriter<'db> {
        TreeWriter {
            pager,
            view: pager.view(),
            dirty: FxHashMap::default(),
            slot,
            txn_id,
        }
    }

    pub fn view(&self) -> &View {
        &self.view
    }

    pub fn txn_id(&self) -> TxnId {
        self.txn_id
    }

    pub fn free_state(&mut self) -> &mut FreeState {
        &mut self.slot.free
    }

    /// The writer slot this txn holds.
    pub fn slot(&mut self) -> &mut WriterState {
        &mut self.slot
    }

    /// Whether the txn changed any tree: it holds new nodes, or it freed committed pages
    /// (deleting the last entry of a one-leaf tree leaves no new node, only a freed page).
    pub fn is_dirty(&self) -> bool {
        !self.dirty.is_empty() || self.slot.free.txn_freed_committed_pages()
    }

    /// The node `page` refers to: the txn's own copy if it wrote one, else the page.
    pub fn node(&self, page: PageRef) -> Result<NodeRef<'_>> {
        if page.txn == self.txn_id {
            if let Some(node) = self.dirty.get(&page.id) {
                return Ok(NodeRef::Dirty(node));
            }
        }
        Ok(NodeRef::Page(self.view.node(page)?))
    }

    fn own(&self, page_id: PageId) -> PageRef {
        PageRef {
            id: page_id,
            txn: self.txn_id,
        }
    }

    fn allocate(&mut self) -> Result<PageRef> {
        let page_id = self.slot.free.allocate();
        self.cover_allocations()?;
        Ok(self.own(page_id))
    }

    /// Grows the file so every allocated page exists in it.
    pub fn cover_allocations(&mut self) -> Result<()> {
        if let Some(view) = self.pager.grow(self.slot.free.page_count())? {
            self.view = view;
        }
        Ok(())
    }

    fn free_page(&mut self, page: PageRef) {
        self.dirty.remove(&page.id);
        self.slot.free.free(page.id, page.txn);
    }

    fn free_run(&mut self, first_page: PageRef, len: u32) {
        for page_id in first_page.id..first_page.id + overflow::page_count_for(len as usize) {
            self.slot.free.free(page_id, first_page.txn);
        }
    }

    fn free_value(&mut self, entry: &LeafEntry) {
        if let CellValue::Overflow { first_page, len } = entry.value() {
            self.free_run(first_page, len);
        }
    }

    /// Returns a reference the txn may modify holding `page`'s node, copying on first
    /// touch.
    fn make_dirty(&mut self, page: PageRef) -> Result<PageRef> {
        if page.txn == self.txn_id && self.dirty.contains_key(&page.id) {
            return Ok(page);
        }
        let node = Node::decode(self.view.node(page)?);
        self.slot.free.free(page.id, page.txn);
        let copy = self.allocate()?;
        self.dirty.insert(copy.id, node);
        Ok(copy)
    }

    fn dirty_node(&mut self, page: PageRef) -> &mut Node {
        self.dirty.get_mut(&page.id).expect("node is dirty")
    }

    /// Builds the leaf entry for a new value, writing large values to overflow pages now.
    fn new_entry(&mut self, key: &[u8], value: &[u8]) -> Result<LeafEntry> {
        if leaf_cell_size(key.len(), &CellValue::Inline(value)) <= LEAF_CELL_INLINE_SIZE_MAX {
            return Ok(LeafEntry::new(key, CellValue::Inline(value)));
        }
        let first_page = self
            .slot
            .free
            .allocate_run(overflow::page_count_for(value.len()));
        self.cover_allocations()?;
        let mut page = vec![0u8; PAGE_SIZE];
        for (index, chunk) in value.chunks(OVERFLOW_PAYLOAD_SIZE).enumerate() {
            let page_id = first_page + index as u64;
            overflow::encode(&mut page, page_id, self.txn_id, chunk);
            self.pager.write_page(page_id, &page)?;
        }
        if value.is_empty() {
            overflow::encode(&mut page, first_page, self.txn_id, &[]);
            self.pager.write_page(first_page, &page)?;
        }
        Ok(LeafEntry::new(
            key,
            CellValue::Overflow {
                first_page: self.own(first_page),
                len: value.len() as u32,
            },
        ))
    }

    /// Puts `key = value` into the tree at `root`. Returns the new root and whether an
    /// entry was replaced.
    pub fn put(&mut self, root: PageRef, key: &[u8], value: &[u8]) -> Result<(PageRef, bool)> {
        let entry = self.new_entry(key, value)?;
        if root.is_none() {
            let page = self.allocate()?;
            self.dirty.insert(page.id, Node::leaf_from(vec![entry]));
            return Ok((page, false));
        }
        let (root, old, appended) = self.put_into(root, entry, 0)?;
        if let Some(old) = &old {
            self.free_value(old);
        }
        Ok((self.fix_root(root, appended)?, old.is_some()))
    }

    /// Puts `entry` below `page`. Returns the node's new reference, the replaced entry,
    /// and whether the node grew at its end (ascending inserts), which biases its split.
    fn put_into(
        &mut self,
        page: PageRef,
        entry: LeafEntry,
        depth: usize,
    ) -> Result<(PageRef, Option<LeafEntry>, bool)> {
        self.check_depth(page.id, depth)?;
        let page = self.make_dirty(page)?;
        let node = self.dirty_node(page);
        if let Node::Leaf { .. } = node {
            let (old, index) = node.leaf_upsert(entry);
            let appended = old.is_none() && index + 1 == node.count();
            return Ok((page, old, appended));
        }
        let index = NodeRef::Dirty(node).child_index(entry.key());
        let child = NodeRef::Dirty(node).child(index);
        let last_child = index + 1 == node.count();
        let (child, old, child_appended) = self.put_into(child, entry, depth + 1)?;
        self.dirty_node(page).set_child(index, child);
        self.fix_child(page, index, child_appended, NODE_FILL_MIN)?;
        Ok((page, old, last_child && child_appended))
    }

    /// The child index taken at each level on the way to `key`'s leaf, if `key` is there.
    fn locate(&self, root: PageRef, key: &[u8]) -> Result<Option<[u16; TREE_DEPTH_MAX]>> {
        let mut path = [0u16; TREE_DEPTH_MAX];
        let mut page = root;
        if page.is_none() {
            return Ok(None);
        }
        for slot in path.iter_mut() {
            let node = self.node(page)?;
            if node.is_leaf() {
                return Ok(node.search(key).is_ok().then_some(path));
            }
            let index = node.child_index(key);
            *slot = index as u16;
            page = node.child(index);
        }
        Err(self.view.corrupt(
            page.id,
            format!("tree deeper than {TREE_DEPTH_MAX} levels: a cycle"),
        ))
    }

    /// Deletes `key` from the tree at `root`. Returns the new root and whether it existed.
    /// Searches once, read-only, and copies pages only when the key is there.
    pub fn delete(&mut self, root: PageRef, key: &[u8]) -> Result<(PageRef, bool)> {
        let Some(path) = self.locate(root, key)? else {
            return Ok((root, false));
        };
        let (root, old) = self.delete_from(root, key, &path, 0)?;
        let old = old.expect("key was found before delete");
        self.free_value(&old);
        Ok((self.fix_root(root, false)?, true))
    }

    fn delete_from(
        &mut self,
        page: PageRef,
        key: &[u8],
        path: &[u16; TREE_DEPTH_MAX],
        depth: usize,
    ) -> Result<(PageRef, Option<LeafEntry>)> {
        self.check_depth(page.id, depth)?;
        let page = self.make_dirty(page)?;
        let node = self.dirty_node(page);
        if let Node::Leaf { .. } = node {
            return Ok((page, node.leaf_remove(key)));
        }
        let index = path[depth] as usize;
        let child = NodeRef::Dirty(node).child(index);
        let (child, old) = self.delete_from(child, key, path, depth + 1)?;
        self.dirty_node(page).set_child(index, child);
        self.fix_child(page, index, false, NODE_FILL_AFTER_DELETE_MIN)?;
        Ok((page, old))
    }

    fn check_depth(&self, page_id: PageId, depth: usize) -> Result<()> {
        if depth >= TREE_DEPTH_MAX {
            return Err(self.view.corrupt(
                page_id,
                format!("tree deeper than {TREE_DEPTH_MAX} levels: a cycle"),
            ));
        }
        Ok(())
    }

    /// Splits an overfull child, or refills one with fewer than `fill_min` bytes of cells
    /// from a sibling. `appending`: the child grew at its end (see [`Node::split`]).
    fn fix_child(
        &mut self,
        parent: PageRef,
        index: usize,
        appending: bool,
        fill_min: usize,
    ) -> Result<()> {
        let child = NodeRef::Dirty(&self.dirty[&parent.id]).child(index);
        let size = self.dirty[&child.id].size();
        if size > PAGE_SIZE {
            let (separator, right) = self.dirty_node(child).split(appending);
            assert!(right.size() <= PAGE_SIZE && self.dirty[&child.id].size() <= PAGE_SIZE);
            let right_page = self.allocate()?;
            self.dirty.insert(right_page.id, right);
            self.dirty_node(parent)
                .insert_child(index + 1, separator, right_page);
        } else if size - PAGE_HEADER_SIZE < fill_min && self.dirty[&parent.id].count() > 1 {
            self.rebalance(parent, index)?;
        }
        Ok(())
    }

    /// Merges child `index` with a sibling, or shares their entries evenly if both do not
    /// fit in one page.
    fn rebalance(&mut self, parent: PageRef, index: usize) -> Result<()> {
        let (left_index, right_index) = if index > 0 {
            (index - 1, index)
        } else {
            (index, index + 1)
        };
        let mut pages = [PageRef::NONE; 2];
        for (slot, child_index) in [left_index, right_index].into_iter().enumerate() {
            let child = NodeRef::Dirty(&self.dirty[&parent.id]).child(child_index);
            pages[slot] = self.make_dirty(child)?;
            self.dirty_node(parent).set_child(child_index, pages[slot]);
        }
        let separator: Box<[u8]> = self.dirty[&parent.id].key_of_child(right_index).into();
        let right = self
            .dirty
            .remove(&pages[1].id)
            .expect("right sibling is dirty");
        let left = self.dirty_node(pages[0]);
        left.absorb(separator, right);
        if left.size() <= PAGE_SIZE {
            self.dirty_node(parent).remove_child(right_index);
            self.slot.free.free(pages[1].id, pages[1].txn);
        } else {
            let (separator, right) = left.split(false);
            self.dirty.insert(pages[1].id, right);
            self.dirty_node(parent).set_key(right_index, separator);
        }
        Ok(())
    }

    /// Grows or shrinks the tree at its root after a change; returns the root
    /// ([`PageRef::NONE`] = empty).
    fn fix_root(&mut self, mut root: PageRef, appending: bool) -> Result<PageRef> {
        loop {
            if root.txn != self.txn_id {
                return Ok(root);
            }
            let Some(node) = self.dirty.get(&root.id) else {
                return Ok(root);
            };
            if node.size() > PAGE_SIZE {
                let (separator, right) = self.dirty_node(root).split(appending);
                let right_page = self.allocate()?;
                self.dirty.insert(right_page.id, right);
                let new_root = self.allocate()?;
                self.dirty.insert(
                    new_root.id,
                    Node::branch(vec![Box::default(), separator], vec![root, right_page]),
                );
                root = new_root;
            } else if node.count() == 0 {
                self.free_page(root);
                return Ok(PageRef::NONE);
            } else if let (Node::Branch { children, .. }, 1) = (node, node.count()) {
                let child = children[0];
                self.free_page(root);
                root = child;
            } else {
                return Ok(root);
            }
        }
    }

    /// Frees every page of the tree at `root`, overflow runs included.
    pub fn free_tree(&mut self, root: PageRef) -> Result<()> {
        if root.is_none() {
            return Ok(());
        }
        let mut stack = vec![(root, 0usize)];
        while let Some((page, depth)) = stack.pop() {
            self.check_depth(page.id, depth)?;
            let node = self.node(page)?;
            let mut runs = Vec::new();
            if node.is_leaf() {
                for index in 0..node.count() {
                    if let CellValue::Overflow { first_page, len } = node.value(index) {
                        runs.push((first_page, len));
                    }
                }
            } else {
                stack.extend((0..node.count()).map(|index| (node.child(index), depth + 1)));
            }
            for (first_page, len) in runs {
                self.free_run(first_page, len);
            }
            self.free_page(page);
        }
        Ok(())
    }

    /// Encodes every node the txn changed into a frame, in page order. Nothing is written:
    /// the frames go to the page cache once the txn's record is in the log.
    pub fn encode_nodes(&mut self) -> Vec<(PageId, Box<Frame>)> {
        let mut ids: Vec<PageId> = self.dirty.keys().copied().collect();
        ids.sort_unstable();
        let mut frames = Vec::with_capacity(ids.len());
        for page_id in ids {
            let mut frame = Frame::new_boxed();
            self.dirty[&page_id].encode(&mut frame.0, page_id, self.txn_id);
            frames.push((page_id, frame));
        }
        frames
    }
}
