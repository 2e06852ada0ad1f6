//! The macrobenchmark runner and regression gate behind the `northstar-bench` binary:
//! a registry of benchmarks in three suites that drive the library directly, the
//! measurement of one repeat (time, latency histogram, allocations, bytes written,
//! syncs), JSON results checked against `benches/results.schema.json`, and the
//! comparison of two result sets that the gate judges.
//!
//! Layers: `suite` names the benchmarks and points at their workloads (`workloads`,
//! `micro`, `mvcc`, `hardening`, and the scenarios `task_queue` (on `tasks`),
//! `time_travel`, `knowledge_graph`, `cartridge_scan`; given a `context` and built on
//! `fixtures`); workloads measure through `measure`, which reads `counters`; `runner`
//! turns repeats into `result`s checked by `schema` and stamped with `metadata`;
//! `compare`, `gate`, `report` (with `targets`) and `plot` read result sets back; `baseline` says where
//! named sets live and which profile a machine is; `units` formats numbers.

pub mod baseline;
pub mod cartridge_scan;
pub mod compare;
pub mod context;
pub mod counters;
pub mod error;
pub mod fixtures;
pub mod gate;
pub mod hardening;
pub mod knowledge_graph;
pub mod measure;
pub mod metadata;
pub mod micro;
pub mod mvcc;
pub mod plot;
pub mod report;
pub mod result;
pub mod runner;
pub mod schema;
pub mod suite;
pub mod targets;
pub mod task_queue;
pub mod tasks;
pub mod time_travel;
pub mod units;
pub mod workloads;
