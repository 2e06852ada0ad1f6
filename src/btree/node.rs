//! Nodes a write txn holds in memory, and [`NodeRef`], one read interface over those and
//! over pages on disk.
//!
//! Invariants of [`Node`]: entries sorted by key with no duplicates; `size` equals the bytes
//! the node takes when encoded as a page; branch key 0 is empty and ignored.

use std::cmp::Ordering;

use crate::format::node::{
    branch_cell_size, encode_branch, encode_leaf, leaf_cell_size, CellValue, NodePage,
};
use crate::format::page::PageRef;
use crate::limits::{NODE_FILL_MIN, PAGE_BODY_SIZE, PAGE_HEADER_SIZE};
use crate::{PageId, TxnId};

/// One leaf entry: key and inline value in one allocation, or key and overflow reference.
/// The key's first 8 bytes are kept beside the allocation, so most comparisons in a
/// binary search never follow the pointer.
#[derive(Debug, Clone)]
pub struct LeafEntry {
    prefix: u64,
    bytes: Box<[u8]>,
    key_len: u16,
    overflow: Option<(PageRef, u32)>,
}

/// The first 8 bytes of `key`, big-endian, zero-padded: ordered like the keys whenever two
/// prefixes differ (equal prefixes need the full comparison).
fn key_prefix(key: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    let len = key.len().min(8);
    bytes[..len].copy_from_slice(&key[..len]);
    u64::from_be_bytes(bytes)
}

/// Index of `key` among `entries` (sorted), or where it would go.
fn search_entries(entries: &[LeafEntry], key: &[u8]) -> Result<usize, usize> {
    let prefix = key_prefix(key);
    entries.binary_search_by(|probe| probe.prefix.cmp(&prefix).then_with(|| probe.key().cmp(key)))
}

impl LeafEntry {
    pub fn new(key: &[u8], value: CellValue<'_>) -> LeafEntry {
        let (bytes, overflow) = match value {
            CellValue::Inline(value) => ([key, value].concat().into_boxed_slice(), None),
            CellValue::Overflow { first_page, len } => (key.into(), Some((first_page, len))),
        };
        LeafEntry {
            prefix: key_prefix(key),
            bytes,
            key_len: key.len() as u16,
            overflow,
        }
    }

    pub fn key(&self) -> &[u8] {
        &self.bytes[..self.key_len as usize]
    }

    pub fn value(&self) -> CellValue<'_> {
        match self.overflow {
            Some((first_page, len)) => CellValue::Overflow { first_page, len },
            None => CellValue::Inline(&self.bytes[self.key_len as usize..]),
        }
    }

    pub fn size(&self) -> usize {
        leaf_cell_size(self.key_len as usize, &self.value())
    }
}

/// A node being modified by the write txn.
#[derive(Debug, Clone)]
pub enum Node {
    Leaf {
        entries: Vec<LeafEntry>,
        size: usize,
    },
    Branch {
        keys: Vec<Box<[u8]>>,
        children: Vec<PageRef>,
        size: usize,
    },
}

impl Node {
    /// A branch over `children`, `keys[i]` the lowest key of child `i` (key 0 ignored).
    pub fn branch(keys: Vec<Box<[u8]>>, children: Vec<PageRef>) -> Node {
        debug_assert_eq!(keys.len(), children.len());
        let mut keys = keys;
        if let Some(first) = keys.first_mut() {
            *first = Box::default();
        }
        let size = PAGE_HEADER_SIZE
            + keys
                .iter()
                .map(|key| branch_cell_size(key.len()))
                .sum::<usize>();
        Node::Branch {
            keys,
            children,
            size,
        }
    }

    pub fn leaf_from(entries: Vec<LeafEntry>) -> Node {
        let size = PAGE_HEADER_SIZE + entries.iter().map(LeafEntry::size).sum::<usize>();
        Node::Leaf { entries, size }
    }

    /// Decodes a checked page.
    pub fn decode(page: NodePage<'_>) -> Node {
        if page.is_leaf() {
            Node::leaf_from(
                (0..page.count())
                    .map(|i| LeafEntry::new(page.key(i), page.value(i)))
                    .collect(),
            )
        } else {
            Node::branch(
                (0..page.count()).map(|i| Box::from(page.key(i))).collect(),
                (0..page.count()).map(|i| page.child(i)).collect(),
            )
        }
    }

    /// Encodes into a page buffer as page `page_id` written by `txn_id`, sealed.
    pub fn encode(&self, page: &mut [u8], page_id: PageId, txn_id: TxnId) {
        match self {
            Node::Leaf { entries, .. } => encode_leaf(
                page,
                page_id,
                txn_id,
                entries.iter().map(|e| (e.key(), e.value())),
            ),
            Node::Branch { keys, children, .. } => encode_branch(
                page,
                page_id,
                txn_id,
                keys.iter()
                    .zip(children)
                    .map(|(key, child)| (&key[..], *child)),
            ),
        }
    }

    pub fn size(&self) -> usize {
        match self {
            Node::Leaf { size, .. } | Node::Branch { size, .. } => *size,
        }
    }

    pub fn count(&self) -> usize {
        match self {
            Node::Leaf { entries, .. } => entries.len(),
            Node::Branch { children, .. } => children.len(),
        }
    }

    /// Splits an overfull node in two by bytes; returns the separator (lowest key of the
    /// right half, shortened for leaves) and the right half. When `appending` (the node
    /// grew at its end, as in ascending inserts), the right half gets just enough to meet
    /// the minimum fill, so ascending loads leave pages about three quarters full.
    pub fn split(&mut self, appending: bool) -> (Box<[u8]>, Node) {
        let sizes: Vec<usize> = match self {
            Node::Leaf { entries, .. } => entries.iter().map(LeafEntry::size).collect(),
            Node::Branch { keys, .. } => {
                keys.iter().map(|key| branch_cell_size(key.len())).collect()
            }
        };
        let at = split_index(&sizes, appending);
        match self {
            Node::Leaf { entries, .. } => {
                let right = entries.split_off(at);
                let separator = shortest_separator(entries[at - 1].key(), right[0].key());
                let left = std::mem::take(entries);
                *self = Node::leaf_from(left);
                (separator, Node::leaf_from(right))
            }
            Node::Branch { keys, children, .. } => {
                let mut right_keys = keys.split_off(at);
                let right_children = children.split_off(at);
                let separator = std::mem::take(&mut right_keys[0]);
                let (left_keys, left_children) = (std::mem::take(keys), std::mem::take(children));
                *self = Node::branch(left_keys, left_children);
                (separator, Node::branch(right_keys, right_children))
            }
        }
    }

    /// Appends `right` to this node of the same kind; `separator` is the parent's key for
    /// `right` (used by branches).
    pub fn absorb(&mut self, separator: Box<[u8]>, right: Node) {
        match (self, right) {
            (
                Node::Leaf { entries, size },
                Node::Leaf {
                    entries: more,
                    size: more_size,
                },
            ) => {
                entries.extend(more);
                *size += more_size - PAGE_HEADER_SIZE;
            }
            (
                Node::Branch {
                    keys,
                    children,
                    size,
                },
                Node::Branch {
                    keys: mut more_keys,
                    children: more_children,
                    ..
                },
            ) => {
                more_keys[0] = separator;
                keys.extend(more_keys);
                children.extend(more_children);
                *size = PAGE_HEADER_SIZE
                    + keys
                        .iter()
                        .skip(1)
                        .map(|k| branch_cell_size(k.len()))
                        .sum::<usize>()
                    + branch_cell_size(0);
            }
            _ => panic!("merge of a leaf with a branch"),
        }
    }

    /// Leaf: inserts or replaces; returns the replaced entry and the entry's index.
    pub fn leaf_upsert(&mut self, entry: LeafEntry) -> (Option<LeafEntry>, usize) {
        let Node::Leaf { entries, size } = self else {
            panic!("leaf_upsert on a branch")
        };
        *size += entry.size();
        match search_entries(entries, entry.key()) {
            Ok(index) => {
                let old = std::mem::replace(&mut entries[index], entry);
                *size -= old.size();
                (Some(old), index)
            }
            Err(index) => {
                entries.insert(index, entry);
                (None, index)
            }
        }
    }

    /// Leaf: removes `key`; returns the removed entry.
    pub fn leaf_remove(&mut self, key: &[u8]) -> Option<LeafEntry> {
        let Node::Leaf { entries, size } = self else {
            panic!("leaf_remove on a branch")
        };
        let index = search_entries(entries, key).ok()?;
        let old = entries.remove(index);
        *size -= old.size();
        Some(old)
    }

    /// Branch: sets the child at `index`.
    pub fn set_child(&mut self, index: usize, child: PageRef) {
        let Node::Branch { children, .. } = self else {
            panic!("set_child on a leaf")
        };
        children[index] = child;
    }

    /// Branch: inserts child `child` with lowest key `key` at `index` (> 0).
    pub fn insert_child(&mut self, index: usize, key: Box<[u8]>, child: PageRef) {
        let Node::Branch {
            keys,
            children,
            size,
        } = self
        else {
            panic!("insert_child on a leaf")
        };
        debug_assert!(index > 0);
        *size += branch_cell_size(key.len());
        keys.insert(index, key);
        children.insert(index, child);
    }

    /// Branch: removes child `index` (> 0) and its key.
    pub fn remove_child(&mut self, index: usize) -> PageRef {
        let Node::Branch {
            keys,
            children,
            size,
        } = self
        else {
            panic!("remove_child on a leaf")
        };
        debug_assert!(index > 0);
        let key = keys.remove(index);
        *size -= branch_cell_size(key.len());
        children.remove(index)
    }

    /// Branch: replaces the key of child `index` (> 0).
    pub fn set_key(&mut self, index: usize, key: Box<[u8]>) {
        let Node::Branch { keys, size, .. } = self else {
            panic!("set_key on a leaf")
        };
        debug_assert!(index > 0);
        *size = *size - branch_cell_size(keys[index].len()) + branch_cell_size(key.len());
        keys[index] = key;
    }

    /// Branch: the key of child `index`.
    pub fn key_of_child(&self, index: usize) -> &[u8] {
        let Node::Branch { keys, .. } = self else {
            panic!("key_of_child on a leaf")
        };
        &keys[index]
    }
}

/// The index that splits cells of `sizes` into two halves of most even byte counts, or,
/// when `appending`, with the smallest right half that meets [`NODE_FILL_MIN`]; at least
/// one cell on each side.
fn split_index(sizes: &[usize], appending: bool) -> usize {
    assert!(
        sizes.len() >= 2,
        "split of a node with {} cells",
        sizes.len()
    );
    let total: usize = sizes.iter().sum();
    if appending {
        let mut right = 0;
        for index in (1..sizes.len()).rev() {
            right += sizes[index];
            if right >= NODE_FILL_MIN {
                if total - right <= PAGE_BODY_SIZE {
                    return index;
                }
                break;
            }
        }
    }
    let mut left = 0;
    let mut best = (usize::MAX, 1);
    for (index, size) in sizes.iter().enumerate().take(sizes.len() - 1) {
        left += size;
        let imbalance = left.abs_diff(total - left);
        if imbalance < best.0 {
            best = (imbalance, index + 1);
        }
    }
    best.1
}

/// The shortest key `s` with `left < s <= right`, for `left < right`.
pub fn shortest_separator(left: &[u8], right: &[u8]) -> Box<[u8]> {
    debug_assert!(left < right);
    let common = left.iter().zip(right).take_while(|(a, b)| a == b).count();
    right[..(common + 1).min(right.len())].into()
}

/// A node to read: a checked page, or a node of the write txn.
#[derive(Debug, Clone, Copy)]
pub enum NodeRef<'a> {
    Page(NodePage<'a>),
    Dirty(&'a Node),
}

impl<'a> NodeRef<'a> {
    pub fn is_leaf(&self) -> bool {
        match self {
            NodeRef::Page(page) => page.is_leaf(),
            NodeRef::Dirty(node) => matches!(node, Node::Leaf { .. }),
        }
    }

    pub fn count(&self) -> usize {
        match self {
            NodeRef::Page(page) => page.count(),
            NodeRef::Dirty(node) => node.count(),
        }
    }

    pub fn key(&self, index: usize) -> &'a [u8] {
        match self {
            NodeRef::Page(page) => page.key(index),
            NodeRef::Dirty(Node::Leaf { entries, .. }) => entries[index].key(),
            NodeRef::Dirty(Node::Branch { keys, .. }) => &keys[index],
        }
    }

    pub fn value(&self, index: usize) -> CellValue<'a> {
        match self {
            NodeRef::Page(page) => page.value(index),
            NodeRef::Dirty(Node::Leaf { entries, .. }) => entries[index].value(),
            NodeRef::Dirty(Node::Branch { .. }) => panic!("value of a branch"),
        }
    }

    pub fn child(&self, index: usize) -> PageRef {
        match self {
            NodeRef::Page(page) => page.child(index),
            NodeRef::Dirty(Node::Branch { children, .. }) => children[index],
            NodeRef::Dirty(Node::Leaf { .. }) => panic!("child of a leaf"),
        }
    }

    /// Leaf: `Ok(index)` of `key` or `Err(insertion index)`.
    pub fn search(&self, key: &[u8]) -> Result<usize, usize> {
        match self {
            NodeRef::Page(page) => page.search(key),
            NodeRef::Dirty(Node::Leaf { entries, .. }) => search_entries(entries, key),
            NodeRef::Dirty(Node::Branch { .. }) => panic!("search of a branch"),
        }
    }

    /// Branch: index of the child whose range holds `key`.
    pub fn child_index(&self, key: &[u8]) -> usize {
        match self {
            NodeRef::Page(page) => page.child_index(key),
            NodeRef::Dirty(Node::Branch { keys, .. }) => {
                keys[1..].partition_point(|probe| probe[..].cmp(key) != Ordering::Greater)
            }
            NodeRef::Dirty(Node::Leaf { .. }) => panic!("child_index of a leaf"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortest_separator_sits_between_its_keys() {
        for (left, right) in [
            (&b"abc"[..], &b"abd"[..]),
            (b"ab", b"abzz"),
            (b"", b"a"),
            (b"a", b"b123"),
        ] {
            let separator = shortest_separator(left, right);
            assert!(
                left < &separator[..] && &separator[..] <= right,
                "{left:?} {right:?} {separator:?}"
            );
        }
        assert_eq!(&*shortest_separator(b"apple", b"banana"), b"b");
    }

    #[test]
    fn key_prefixes_order_like_keys_whenever_they_differ() {
        let keys: [&[u8]; 9] = [
            b"",
            b"\0",
            b"a",
            b"a\0",
            b"a\0\0\0\0\0\0\0\x01",
            b"ab",
            b"abcdefgh",
            b"abcdefghi",
            b"b",
        ];
        for a in keys {
            for b in keys {
                let (pa, pb) = (key_prefix(a), key_prefix(b));
                if pa != pb {
                    assert_eq!(pa.cmp(&pb), a.cmp(b), "{a:?} {b:?}");
                }
            }
        }
    }

    #[test]
    fn split_balances_bytes() {
        assert_eq!(split_index(&[10, 10, 10, 10], false), 2);
        assert_eq!(split_index(&[100, 1, 1, 1], false), 1);
        assert_eq!(split_index(&[1, 1], false), 1);
    }

    #[test]
    fn appending_split_leaves_a_minimal_right_half() {
        let sizes = vec![100; 170];
        let at = split_index(&sizes, true);
        let right: usize = sizes[at..].iter().sum();
        assert!((NODE_FILL_MIN..NODE_FILL_MIN + 100).contains(&right));
    }
}
