//! `northstar-bench capture-baseline [--profile NAME]`: a run stored as the named
//! baseline `benches/baselines/NAME/`, one `<bench>_rNNN.json` per repeat, exactly as
//! `run` writes them, for `gate benches/baselines/NAME NEW_DIR` and `report`. Without
//! `--profile`, the profile detected for the machine ([`detect_profile`]: `ci` or
//! `dev_nvme`) names the baseline; every result records the detected profile in its
//! metadata either way.
//!
//! Invariants: a capture replaces the whole set (every result file in the profile's
//! directory is removed first), so a baseline is always one run on one machine; files
//! that are not results (notes, a README) are left alone.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;

use super::error::{BenchError, Fallible};
pub use super::metadata::{detect_profile, Detected, Profile};
use super::result::remove_all_results;
use super::runner::{self, RunSettings};

/// `northstar-bench capture-baseline`.
#[derive(Debug, Clone, Args)]
pub struct CaptureArgs {
    /// Name of the baseline: letters, digits, `-` and `_`; the roadmap's profiles are
    /// `ci` and `dev_nvme` [default: the profile detected for this machine].
    #[arg(long, value_name = "NAME", value_parser = parse_profile)]
    pub profile: Option<String>,
    /// Directory holding the baselines [default: benches/baselines of this checkout].
    #[arg(long, value_name = "DIR")]
    pub baselines_dir: Option<PathBuf>,
    #[command(flatten)]
    pub settings: RunSettings,
}

fn parse_profile(text: &str) -> Result<String, String> {
    let valid = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(text.to_string())
    } else {
        Err(format!("{text:?}: use letters, digits, '-' and '_'"))
    }
}

/// `benches/baselines` of the checkout the runner was built from.
pub fn default_baselines_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tools/ lives in the workspace")
        .join("benches")
        .join("baselines")
}

/// The directory of baseline `profile` under `baselines_dir`.
pub fn profile_dir(baselines_dir: &Path, profile: &str) -> PathBuf {
    baselines_dir.join(profile)
}

/// Runs `args.settings` and stores the results as the baseline; returns its name and
/// directory.
pub fn capture(args: &CaptureArgs, summary: &mut dyn Write) -> Fallible<(String, PathBuf)> {
    let root = args
        .baselines_dir
        .clone()
        .unwrap_or_else(default_baselines_dir);
    let profile = match &args.profile {
        Some(profile) => profile.clone(),
        None => {
            let data_dir = args
                .settings
                .data_dir
                .clone()
                .unwrap_or_else(std::env::temp_dir);
            let detected = detect_profile(&data_dir);
            eprintln!(
                "detected profile {} ({})",
                detected.profile, detected.reason
            );
            detected.profile.to_string()
        }
    };
    let dir = profile_dir(&root, &profile);
    std::fs::create_dir_all(&dir).map_err(|e| BenchError::io(&dir, "create", e))?;
    remove_all_results(&dir)?;
    runner::run(&args.settings, &dir, summary)?;
    Ok((profile, dir))
}
