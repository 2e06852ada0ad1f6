//! The cartridge kinds: one file each, and the state-derived machinery they share.

pub mod extractor;
pub mod key_history;
pub mod state;
pub mod tasks;
pub mod words;
