//! The code behind the `northstar` and `logdump` command-line tools, shared by both.
//!
//! One module per `northstar` subcommand (`demo`, `validate`, `dump`, `stat`, `get`,
//! `put`, `del`, `scan`, `history`, `replay`, `checkpoint`, `cartridge`), [`commit_log`] for reading a
//! commit log without opening the engine (what `logdump` is built on), and the helpers
//! they share: opening a database, snapshots, showing bytes safely, parsing keys, writing
//! entries, progress indicators, and failures with exit codes. [`bench`] is the
//! macrobenchmark runner and regression gate behind `northstar-bench`.
//!
//! Invariants: every failure is a [`failure::Failure`] carrying one message that names the
//! file (and page or log offset, when known) and an exit code; bad input never panics.

pub mod bench;
pub mod bytes;
pub mod cartridge;
pub mod checkpoint;
pub mod commit_log;
pub mod del;
pub mod demo;
pub mod demo_history;
pub mod dump;
pub mod entries;
pub mod failure;
pub mod get;
pub mod history;
pub mod input;
pub mod keyspace;
pub mod open;
pub mod progress;
pub mod put;
pub mod replay;
pub mod scan;
pub mod snapshot;
pub mod stat;
pub mod tree;
pub mod validate;
