//! The cartridge file format, version 1: the one code home of `spec/cartridge_format_v1.md`.

pub mod file;
pub mod layout;
pub mod table;

pub use file::{check_file, FileLayout};
pub use layout::{params_hash, Kind, SectionId, FORMAT_VERSION, READER_VERSION_MIN};
pub use table::{EntryRef, Table};
