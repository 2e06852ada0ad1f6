//! Byte layout of the page file, apart from any I/O. See `spec/file_format_v1.md`.

pub mod catalog;
pub mod frame;
pub mod freelist;
pub mod meta;
pub mod node;
pub mod overflow;
pub mod page;
