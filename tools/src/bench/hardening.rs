//! The hardening workloads: the cost of the checks that keep data safe. Sizes are at
//! full scale.
//!
//! - `validate`: `Db::check` (every page, key order, fill, page accounting) of the
//!   loaded database (1,000,000 keys), which must come out clean; 5 checks.
//! - `crash_image_recovery`: copy the page file and log of a live database (the commit
//!   base plus 1,000 durable single-put commits since its checkpoint, still open) and
//!   open the copy, which must recover every commit; 10 recoveries. The copy is inside
//!   the timed span: it is what taking a crash image costs.

use northstar::{Db, Options};

use super::context::Context;
use super::error::{BenchError, Fallible};
use super::fixtures::{self, bench_options, commit_random_puts, XorShift, SEED};
use super::measure::{run_ops, run_ops_with_setup, Probe, Sample};

/// `hardening/validate`.
pub fn validate(ctx: &Context) -> Fallible<Sample> {
    let db = Db::open(ctx.fixtures.loaded()?, Options::default().create(false))?;
    let sample = run_ops(&ctx.plan(5, 2), &Probe::reads(&db), || {
        let report = db.check()?;
        if report.is_ok() {
            Ok(())
        } else {
            Err(BenchError::new(format!(
                "the validator found problems in the loaded database: {:?}",
                report.problems
            )))
        }
    })?;
    db.close()?;
    Ok(sample)
}

/// `hardening/crash_image_recovery`.
pub fn crash_image_recovery(ctx: &Context) -> Fallible<Sample> {
    let live_dir = ctx.fixtures.commit_base_copy()?;
    let live = Db::open(
        live_dir.path(),
        bench_options().checkpoint_every(u64::MAX, u64::MAX, std::time::Duration::from_secs(3_600)),
    )?;
    let key_count = ctx.fixtures.commit_base_key_count();
    let mut rng = XorShift::new(SEED);
    for _ in 0..ctx.scaled(1_000, 10) {
        commit_random_puts(&live, &mut rng, key_count, 1)?;
    }
    let expected = live.last_txn_id();
    let sample = run_ops_with_setup(
        &ctx.plan(10, 3),
        &Probe::none(),
        || fixtures::temp_dir(&ctx.data_dir),
        |copy| {
            fixtures::copy_database(live.path(), copy.path())?;
            let db = Db::open(copy.path(), Options::default().create(false))?;
            if db.last_txn_id() != expected {
                return Err(BenchError::new(format!(
                    "the crash image recovered up to txn {}, expected {expected}",
                    db.last_txn_id()
                )));
            }
            // Closing the copy and removing it happen after the timed span.
            Ok((db, copy))
        },
    )?;
    live.close()?;
    Ok(sample)
}
