//! Derived, memory-mapped indexes ("cartridges") built offline from the NorthstarDB
//! commit stream.
//!
//! A cartridge is an immutable file with a header naming its kind, format version, build
//! parameters, database id and covered txn range, with a CRC per section, laid out for
//! zero-copy reads. It is rebuilt byte-identically from the same commit log and can catch
//! up by applying newer records. Planned kinds: `pending_tasks_by_type` (a task queue
//! index), `key_history` (every version of every key) and user-defined extractors
//! (secondary indexes).
//!
//! This crate has no cartridge kinds yet: they are built from the commit log, which the
//! store does not write yet.
