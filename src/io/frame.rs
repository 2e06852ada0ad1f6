//! One page's bytes in memory, aligned for direct I/O.

use crate::limits::PAGE_SIZE;

/// Alignment of a [`Frame`]: the largest logical block size direct I/O asks for.
pub const FRAME_ALIGN: usize = 4096;

/// One page's bytes, aligned to [`FRAME_ALIGN`] so it can be read or written with
/// `O_DIRECT` as it is.
#[repr(C, align(4096))]
pub struct Frame(pub [u8; PAGE_SIZE]);

const _: () = assert!(std::mem::align_of::<Frame>() == FRAME_ALIGN);
const _: () = assert!(PAGE_SIZE.is_multiple_of(FRAME_ALIGN));

impl Frame {
    /// A zeroed frame on the heap.
    pub fn new_boxed() -> Box<Frame> {
        Box::new(Frame([0u8; PAGE_SIZE]))
    }
}
