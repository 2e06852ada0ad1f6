//! Cursors and range iterators over one tree.
//!
//! Invariants: a positioned cursor's stack holds the path from the root to a leaf entry,
//! every index in bounds; moving never allocates (the stack is a fixed array as deep as the
//! deepest tree allowed). A range keeps a front and a back cursor and ends when they meet.

use std::ops::Bound;

use super::node::NodeRef;
use super::search::{Source, Value};
use crate::format::node::NodePage;
use crate::format::page::PageRef;
use crate::limits::{KEY_SIZE_MAX, TREE_DEPTH_MAX};
use crate::Result;

/// A position in a tree: seek, step forwards and backwards, read the entry under it.
///
/// A cursor borrows its transaction and sees exactly the transaction's snapshot.
#[derive(Clone)]
pub struct Cursor<'a> {
    source: Source<'a>,
    root: PageRef,
    stack: [(NodeRef<'a>, usize); TREE_DEPTH_MAX],
    depth: usize,
}

const EMPTY: (NodeRef<'static>, usize) = (NodeRef::Page(NodePage::EMPTY), 0);

impl<'a> Cursor<'a> {
    pub(crate) fn new(source: Source<'a>, root: PageRef) -> Cursor<'a> {
        Cursor {
            source,
            root,
            stack: [EMPTY; TREE_DEPTH_MAX],
            depth: 0,
        }
    }

    /// Whether the cursor is on an entry.
    pub fn is_positioned(&self) -> bool {
        self.depth > 0
    }

    fn leaf(&self) -> Option<(NodeRef<'a>, usize)> {
        self.depth.checked_sub(1).map(|top| self.stack[top])
    }

    /// Key of the entry under the cursor.
    pub fn key(&self) -> Option<&'a [u8]> {
        self.leaf().map(|(node, index)| node.key(index))
    }

    /// Value of the entry under the cursor; reading an overflow value may fail.
    pub fn value(&self) -> Result<Option<Value<'a>>> {
        match self.leaf() {
            Some((node, index)) => Ok(Some(self.source.value(node.value(index))?)),
            None => Ok(None),
        }
    }

    /// Key and value under the cursor.
    pub fn entry(&self) -> Result<Option<(&'a [u8], Value<'a>)>> {
        match self.leaf() {
            Some((node, index)) => Ok(Some((
                node.key(index),
                self.source.value(node.value(index))?,
            ))),
            None => Ok(None),
        }
    }

    fn push(&mut self, page: PageRef, at_end: bool) -> Result<NodeRef<'a>> {
        if self.depth == TREE_DEPTH_MAX {
            return Err(self.source.view().corrupt(
                page.id,
                format!("tree deeper than {TREE_DEPTH_MAX} levels: a cycle"),
            ));
        }
        let node = self.source.node(page)?;
        let index = if at_end {
            node.count().saturating_sub(1)
        } else {
            0
        };
        self.stack[self.depth] = (node, index);
        self.depth += 1;
        Ok(node)
    }

    /// Descends from the node on top of the stack to its first (or last) leaf entry.
    fn descend(&mut self, at_end: bool) -> Result<()> {
        loop {
            let (node, index) = self.stack[self.depth - 1];
            if node.is_leaf() {
                return Ok(());
            }
            self.push(node.child(index), at_end)?;
        }
    }

    /// Moves to the first entry. Returns whether there is one.
    pub fn first(&mut self) -> Result<bool> {
        self.depth = 0;
        if self.root.is_none() {
            return Ok(false);
        }
        self.push(self.root, false)?;
        self.descend(false)?;
        self.skip_empty_forward()
    }

    /// Moves to the last entry. Returns whether there is one.
    pub fn last(&mut self) -> Result<bool> {
        self.depth = 0;
        if self.root.is_none() {
            return Ok(false);
        }
        self.push(self.root, true)?;
        self.descend(true)?;
        self.skip_empty_backward()
    }

    /// Moves to the first entry with a key `>= key`. Returns whether there is one.
    pub fn seek(&mut self, key: &[u8]) -> Result<bool> {
        self.depth = 0;
        if self.root.is_none() {
            return Ok(false);
        }
        let mut node = self.push(self.root, false)?;
        while !node.is_leaf() {
            let index = node.child_index(key);
            self.stack[self.depth - 1].1 = index;
            node = self.push(node.child(index), false)?;
        }
        let index = node.search(key).unwrap_or_else(|insert| insert);
        self.stack[self.depth - 1].1 = index;
        self.skip_empty_forward()
    }

    /// If the leaf index is past its end, moves on to the next entry.
    fn skip_empty_forward(&mut self) -> Result<bool> {
        let (node, index) = self.stack[self.depth - 1];
        if index < node.count() {
            return Ok(true);
        }
        self.step_forward()
    }

    fn skip_empty_backward(&mut self) -> Result<bool> {
        let (node, _) = self.stack[self.depth - 1];
        if node.count() > 0 {
            return Ok(true);
        }
        self.step_backward()
    }

    /// Moves to the next entry. Returns false (and unpositions) at the end.
    // Named like LMDB's MDB_NEXT; a cursor step can fail, so it is not `Iterator::next`.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<bool> {
        if self.depth == 0 {
            return Ok(false);
        }
        self.stack[self.depth - 1].1 += 1;
        self.skip_empty_forward()
    }

    /// Moves to the previous entry. Returns false (and unpositions) at the start.
    pub fn prev(&mut self) -> Result<bool> {
        if self.depth == 0 {
            return Ok(false);
        }
        self.step_backward()
    }

    /// From an exhausted leaf, climbs to the nearest ancestor with a further child and
    /// descends to the first entry after it.
    fn step_forward(&mut self) -> Result<bool> {
        loop {
            loop {
                self.depth -= 1;
                if self.depth == 0 {
                    return Ok(false);
                }
                let parent = &mut self.stack[self.depth - 1];
                if parent.1 + 1 < parent.0.count() {
                    parent.1 += 1;
                    break;
                }
            }
            let (node, index) = self.stack[self.depth - 1];
            self.push(node.child(index), false)?;
            self.descend(false)?;
            if self.stack[self.depth - 1].0.count() > 0 {
                return Ok(true);
            }
        }
    }

    /// Moves one entry back, climbing and descending as needed.
    fn step_backward(&mut self) -> Result<bool> {
        let top = &mut self.stack[self.depth - 1];
        if top.1 > 0 && top.0.count() > 0 {
            top.1 = (top.1 - 1).min(top.0.count() - 1);
            return Ok(true);
        }
        loop {
            loop {
                self.depth -= 1;
                if self.depth == 0 {
                    return Ok(false);
                }
                let parent = &mut self.stack[self.depth - 1];
                if parent.1 > 0 {
                    parent.1 -= 1;
                    break;
                }
            }
            let (node, index) = self.stack[self.depth - 1];
            self.push(node.child(index), true)?;
            self.descend(true)?;
            let (leaf, _) = self.stack[self.depth - 1];
            if leaf.count() > 0 {
                return Ok(true);
            }
        }
    }
}

/// Iterator over the entries of a key range, in key order or (with `.rev()`) reversed.
///
/// Items are `Result`s: a corrupt page or failed overflow read ends the range with an error.
pub struct Range<'a> {
    front: Cursor<'a>,
    back: Cursor<'a>,
    /// Whether `back` is positioned. A range read only forwards never positions it: the
    /// front stops at `end` instead, which saves a descent per range.
    back_ready: bool,
    end: EndBound,
    done: bool,
}

/// Longest end key kept by value; a longer one positions the back cursor at once.
const END_KEY_INLINE_MAX: usize = 64;

/// The end bound of a range, kept by value (no allocation) while `back` is not positioned.
#[derive(Clone, Copy)]
struct EndBound {
    kind: Bound<()>,
    len: usize,
    key: [u8; END_KEY_INLINE_MAX],
}

impl EndBound {
    fn key(&self) -> &[u8] {
        &self.key[..self.len]
    }

    /// Whether `key` lies past the end of the range.
    fn excludes(&self, key: &[u8]) -> bool {
        match self.kind {
            Bound::Unbounded => false,
            Bound::Included(()) => key > self.key(),
            Bound::Excluded(()) => key >= self.key(),
        }
    }
}

impl<'a> Range<'a> {
    pub(crate) fn new(
        source: Source<'a>,
        root: PageRef,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
    ) -> Result<Range<'a>> {
        let mut front = Cursor::new(source, root);
        let front_ok = match start {
            Bound::Unbounded => front.first()?,
            Bound::Included(key) => front.seek(key)?,
            Bound::Excluded(key) => {
                front.seek(key)? && (front.key() != Some(key) || front.next()?)
            }
        };
        let end_key: &[u8] = match end {
            Bound::Included(key) | Bound::Excluded(key) => key,
            Bound::Unbounded => &[],
        };
        let mut range = Range {
            front,
            back: Cursor::new(source, root),
            back_ready: false,
            end: EndBound {
                kind: end.map(|_| ()),
                len: 0,
                key: [0; END_KEY_INLINE_MAX],
            },
            done: !front_ok,
        };
        if end_key.len() <= END_KEY_INLINE_MAX {
            range.end.len = end_key.len();
            range.end.key[..end_key.len()].copy_from_slice(end_key);
            range.done |= range.front.key().is_some_and(|key| range.end.excludes(key));
        } else if !range.done {
            range.position_back(end)?;
        }
        Ok(range)
    }

    /// Positions the back cursor on the last entry within `end`; ends the range if there
    /// is none at or after the front.
    fn position_back(&mut self, end: Bound<&[u8]>) -> Result<()> {
        let back = &mut self.back;
        let back_ok = match end {
            Bound::Unbounded => back.last()?,
            Bound::Included(key) => {
                if back.seek(key)? {
                    back.key() == Some(key) || back.prev()?
                } else {
                    back.last()?
                }
            }
            Bound::Excluded(key) => {
                if back.seek(key)? {
                    back.prev()?
                } else {
                    back.last()?
                }
            }
        };
        self.back_ready = true;
        self.done |= !back_ok || self.front.key() > self.back.key();
        Ok(())
    }

    /// Entries whose key starts with `prefix`.
    pub(crate) fn prefix(source: Source<'a>, root: PageRef, prefix: &[u8]) -> Result<Range<'a>> {
        if prefix.len() > KEY_SIZE_MAX {
            // No key is that long, so none starts with it (and `end` could not hold it).
            let mut range = Range::new(source, root, Bound::Unbounded, Bound::Unbounded)?;
            range.done = true;
            return Ok(range);
        }
        let mut end = [0u8; KEY_SIZE_MAX];
        match prefix.iter().rposition(|byte| *byte != 0xff) {
            Some(last) => {
                end[..=last].copy_from_slice(&prefix[..=last]);
                end[last] += 1;
                Range::new(
                    source,
                    root,
                    Bound::Included(prefix),
                    Bound::Excluded(&end[..=last]),
                )
            }
            None => Range::new(source, root, Bound::Included(prefix), Bound::Unbounded),
        }
    }

    fn take(&mut self, from_back: bool) -> Option<Result<(&'a [u8], Value<'a>)>> {
        if self.done {
            return None;
        }
        if from_back && !self.back_ready {
            let end = self.end;
            let bound = match end.kind {
                Bound::Included(()) => Bound::Included(end.key()),
                Bound::Excluded(()) => Bound::Excluded(end.key()),
                Bound::Unbounded => Bound::Unbounded,
            };
            if let Err(error) = self.position_back(bound) {
                self.done = true;
                return Some(Err(error));
            }
            if self.done {
                return None;
            }
        }
        if !self.back_ready && self.front.key().is_some_and(|key| self.end.excludes(key)) {
            self.done = true;
            return None;
        }
        let cursor = if from_back { &self.back } else { &self.front };
        let entry = match cursor.entry() {
            Ok(entry) => entry.expect("range cursor positioned"),
            Err(error) => {
                self.done = true;
                return Some(Err(error));
            }
        };
        if self.back_ready && self.front.key() == self.back.key() {
            self.done = true;
            return Some(Ok(entry));
        }
        let moved = if from_back {
            self.back.prev()
        } else {
            self.front.next()
        };
        match moved {
            Ok(true) => {}
            Ok(false) => self.done = true,
            Err(error) => {
                self.done = true;
                return Some(Err(error));
            }
        }
        Some(Ok(entry))
    }
}

impl<'a> Iterator for Range<'a> {
    type Item = Result<(&'a [u8], Value<'a>)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.take(false)
    }
}

impl DoubleEndedIterator for Range<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.take(true)
    }
}
