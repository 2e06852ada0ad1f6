//! `northstar cartridge`: derived indexes of a database, built from its commit log.
//!
//! Subcommands: `list`, `build KIND`, `catch-up KIND`, `verify`, `inspect NAME`, `query
//! KIND`, each with `--json`. Kinds: `key_history`, `pending_tasks_by_type`, and `words`
//! (the example extractor: words of at least three letters in every keyspace).
//!
//! Layers: `command` parses the command line and dispatches; `build`, `report` (list,
//! inspect, verify) and `query` run the subcommands; `demo` is the cartridge part of
//! `northstar demo`.
//!
//! Invariants: a cartridge error (damage, another database, a newer format) is a failure
//! naming the file, section and offset; `verify` exits with
//! [`crate::failure::EXIT_PROBLEMS_FOUND`] when a cartridge is refused or differs from a
//! rebuild. Building needs no open database: only the log is read, so it runs beside a
//! process that has the database open.

pub mod build;
pub mod command;
pub mod demo;
pub mod query;
pub mod report;

pub use command::{run, CartridgeArgs, CartridgeCommand, KindArg};
