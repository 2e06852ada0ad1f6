//! What every workload is given: the scale of the run, the warm-up asked for on the
//! command line, and the shared fixtures.
//!
//! Invariants: every size and op count of a workload is `full × scale`, rounded, and
//! never below the workload's minimum, so a tiny scale still runs every code path.

use std::path::PathBuf;

use super::fixtures::Fixtures;
use super::measure::Plan;

/// Settings of one `run`, shared by every benchmark in it.
pub struct Context {
    /// Factor on every size and op count (1.0 = full scale).
    pub scale: f64,
    /// Warm-up ops per repeat; `None` for each workload's default (a tenth of its ops).
    pub warmup_ops: Option<u64>,
    /// Minimum warm-up time per repeat, in nanoseconds.
    pub warmup_ns: u64,
    /// Directory the databases are created in.
    pub data_dir: PathBuf,
    /// Databases built once per run and shared by the workloads.
    pub fixtures: Fixtures,
}

impl Context {
    /// A context for `scale`, creating databases under `data_dir`.
    pub fn new(scale: f64, warmup_ops: Option<u64>, warmup_ns: u64, data_dir: PathBuf) -> Context {
        assert!(
            scale > 0.0 && scale.is_finite(),
            "scale {scale} must be positive"
        );
        Context {
            scale,
            warmup_ops,
            warmup_ns,
            fixtures: Fixtures::new(data_dir.clone(), scale),
            data_dir,
        }
    }

    /// `full` at this run's scale, at least `min`.
    pub fn scaled(&self, full: u64, min: u64) -> u64 {
        scaled(self.scale, full, min)
    }

    /// The plan of a workload that runs `full_ops` at full scale, at least `min_ops`.
    pub fn plan(&self, full_ops: u64, min_ops: u64) -> Plan {
        let ops = self.scaled(full_ops, min_ops.max(1));
        Plan {
            ops,
            warmup_ops: self.warmup_ops.unwrap_or((ops / 10).max(1)),
            warmup_ns: self.warmup_ns,
        }
    }
}

/// `full × scale`, rounded, at least `min`.
pub fn scaled(scale: f64, full: u64, min: u64) -> u64 {
    ((full as f64 * scale).round() as u64).max(min)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_sizes_round_and_keep_their_minimum() {
        assert_eq!(scaled(1.0, 1_000_000, 10), 1_000_000);
        assert_eq!(scaled(0.001, 1_000_000, 10), 1_000);
        assert_eq!(scaled(0.001, 2_000, 10), 10);
        assert_eq!(scaled(0.0015, 1_000, 0), 2);
    }
}
