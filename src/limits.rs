//! Sizes and limits of the store, in one place.
//!
//! Invariants checked at compile time below: two cells of the largest inline size fit in
//! one page, so a node that overflows can always be split into two nodes that fit, and a
//! branch page with the largest separators still holds at least three children.

/// Size in bytes of every page in the page file.
pub const PAGE_SIZE: usize = 16 * 1024;

/// Size in bytes of the header that starts every page.
pub const PAGE_HEADER_SIZE: usize = 32;

/// Bytes of a page available after its header.
pub const PAGE_BODY_SIZE: usize = PAGE_SIZE - PAGE_HEADER_SIZE;

/// Longest key accepted, in bytes. Longer keys get [`crate::Error::KeyTooLarge`].
/// An empty key is a valid key.
pub const KEY_SIZE_MAX: usize = 4096;

/// Longest value accepted, in bytes (1 GiB). Longer values get
/// [`crate::Error::ValueTooLarge`].
pub const VALUE_SIZE_MAX: usize = 1 << 30;

/// Longest keyspace name, in bytes.
pub const KEYSPACE_NAME_SIZE_MAX: usize = 255;

/// A leaf cell (slot, cell header, key and inline value) larger than this stores its value
/// in overflow pages instead.
pub const LEAF_CELL_INLINE_SIZE_MAX: usize = PAGE_BODY_SIZE / 4;

/// A non-root node holding fewer bytes than this is merged with or refilled from a sibling.
pub const NODE_FILL_MIN: usize = PAGE_BODY_SIZE / 4;

/// A delete that leaves a non-root node with fewer bytes of cells than this merges it
/// with or refills it from a sibling. Above [`NODE_FILL_MIN`] (which puts keep, so the
/// 3/4-full pages of ascending loads stay as they are) so that trees thinned out by deletes
/// stay about half full instead of settling just above the minimum.
pub const NODE_FILL_AFTER_DELETE_MIN: usize = PAGE_BODY_SIZE / 3;

/// Deepest tree the store will follow; deeper means a cycle in a corrupt file.
pub const TREE_DEPTH_MAX: usize = 32;

/// Bytes of value payload carried by one overflow page.
pub const OVERFLOW_PAYLOAD_SIZE: usize = PAGE_BODY_SIZE;

// The largest leaf cell (slot 2 + cell header 7 + key + overflow reference 16) is at most
// half a page body, so an overfull node always splits into two that fit.
const _: () = assert!(2 + 7 + KEY_SIZE_MAX + 16 <= PAGE_BODY_SIZE / 2);
// Branch cell: slot (2) + key length (2) + child id (8) + child txn (8) + key.
const _: () = assert!(3 * (2 + 2 + 8 + 8 + KEY_SIZE_MAX) <= PAGE_BODY_SIZE);
const _: () = assert!(LEAF_CELL_INLINE_SIZE_MAX <= PAGE_BODY_SIZE / 2);
const _: () = assert!(
    NODE_FILL_MIN <= NODE_FILL_AFTER_DELETE_MIN && NODE_FILL_AFTER_DELETE_MIN <= PAGE_BODY_SIZE / 2
);
const _: () = assert!(PAGE_SIZE.is_multiple_of(4096));
