//! NorthstarDB side by side with redb, LMDB (through heed) and SQLite (through rusqlite):
//! the same workloads, the same keys from a fixed seed, one run, one markdown table.
//!
//! ```sh
//! cargo bench --bench peers                        # the full table (scale 1)
//! cargo bench --bench peers -- --scale 0.01        # every count times 0.01
//! cargo bench --bench peers -- --out peers.md --engines northstar,lmdb
//! NORTHSTAR_BENCH_SMOKE=1 cargo bench --bench peers   # CI: scale 0.002
//! ```
//!
//! Workloads (counts at scale 1; every write a durable commit): bulk load of 1,000,000
//! random 24-byte keys with 150-byte values in one txn; 1,000 one-key commits from 1 thread
//! and from 4; 100 commits of 1,000 keys; 1,000,000 hot point gets from 1, 2 and 4 threads;
//! 500,000 scans of 10 entries and 1,000 scans of 1,000; 1,000,000 ascending keys in commits
//! of 10,000; removal of half the loaded keys in one txn; snapshot open/close; reopening the
//! loaded database; file sizes after the load and after the removals. The notes printed
//! under the table say how each engine is configured and what each row means.
//!
//! Engines run one after another, each in fresh temporary directories that are removed
//! before the next engine starts. Times come from `std::time::Instant`.

#[path = "peers/config.rs"]
mod config;
#[path = "peers/engine.rs"]
mod engine;
#[path = "peers/keys.rs"]
mod keys;
#[path = "peers/lmdb.rs"]
mod lmdb;
#[path = "peers/northstar.rs"]
mod northstar;
#[path = "peers/redb.rs"]
mod redb;
#[path = "peers/results.rs"]
mod results;
#[path = "peers/sqlite.rs"]
mod sqlite;
#[path = "peers/table.rs"]
mod table;
#[path = "peers/timing.rs"]
mod timing;
#[path = "peers/workloads.rs"]
mod workloads;

use std::time::Instant;

use config::Config;
use engine::EngineKind;
use table::Column;
use workloads::Recorder;

fn main() {
    let smoke = std::env::var_os("NORTHSTAR_BENCH_SMOKE").is_some_and(|value| value == "1");
    let config = Config::parse(std::env::args().skip(1), smoke);
    let plan = config.plan();
    let started = Instant::now();
    let mut columns = Vec::new();
    for kind in config.engines.iter().copied() {
        eprintln!("peers: {} at scale {}", kind.title(), plan.scale);
        let engine_started = Instant::now();
        let mut out = Recorder::new(kind.flag_name(), plan);
        match kind {
            EngineKind::Northstar => workloads::run::<northstar::Northstar>(&plan, &mut out),
            EngineKind::NorthstarDirect => {
                workloads::run::<northstar::NorthstarDirect>(&plan, &mut out)
            }
            EngineKind::Redb => workloads::run::<redb::Redb>(&plan, &mut out),
            EngineKind::Lmdb => workloads::run::<lmdb::Lmdb>(&plan, &mut out),
            EngineKind::Sqlite => workloads::run::<sqlite::Sqlite>(&plan, &mut out),
        }
        eprintln!(
            "peers: {} done in {:.1?}",
            kind.title(),
            engine_started.elapsed()
        );
        columns.push(Column {
            kind,
            figures: out.figures,
        });
    }
    let markdown = table::render(&plan, &columns);
    println!("{markdown}");
    if let Some(path) = &config.out {
        std::fs::write(path, &markdown)
            .unwrap_or_else(|error| panic!("writing {}: {error}", path.display()));
        eprintln!("peers: table written to {}", path.display());
    }
    eprintln!("peers: finished in {:.1?}", started.elapsed());
}
