//! What a run was measured on: the machine (CPU, cores, memory, the file system of the
//! data dir, the OS), the code (git commit) and when.
//!
//! Invariants: gathering never fails a run; what cannot be found is `"unknown"` (or 0
//! for numbers), so results from a machine without `/proc` or outside a git checkout
//! still validate.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// What is not known.
pub const UNKNOWN: &str = "unknown";

/// Machine and code of a run; the same in every result of the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// `model name` of the first CPU in `/proc/cpuinfo`.
    pub cpu_model: String,
    /// Logical CPUs available to the process.
    pub core_count: u32,
    /// `MemTotal` of `/proc/meminfo`, in bytes.
    pub ram_bytes: u64,
    /// Kernel name, release and machine (`uname -srm`).
    pub os: String,
    /// Directory the databases were created in.
    pub data_dir: String,
    /// Type of the file system holding it (`/proc/mounts`), e.g. `ext4`, `tmpfs`.
    pub filesystem: String,
    /// Mount point of that file system.
    pub mount_point: String,
    /// `git rev-parse HEAD` of the checkout the runner was built from.
    pub git_commit: String,
    /// Whether tracked files (other than stored baselines) differed from that commit.
    pub git_dirty: bool,
    /// When the run started, RFC 3339 in UTC.
    pub timestamp_utc: String,
    /// Name and version of the runner.
    pub runner: String,
    /// Baseline profile of the machine ([`Profile`]), as detected when the run started;
    /// absent in results written before profiles existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

impl Metadata {
    /// Gathers the metadata of a run creating its databases in `data_dir`.
    pub fn gather(data_dir: &Path) -> Metadata {
        let source_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let (filesystem, mount_point) = filesystem_of(data_dir);
        let git_commit = git(source_dir, &["rev-parse", "HEAD"]).unwrap_or_else(|| UNKNOWN.into());
        // Stored baselines are left out: capturing one replaces tracked result files.
        let git_dirty = git(
            source_dir,
            &[
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                ":/",
                ":(top,exclude)benches/baselines",
            ],
        )
        .is_some_and(|status| !status.is_empty());
        Metadata {
            cpu_model: cpu_model().unwrap_or_else(|| UNKNOWN.into()),
            core_count: std::thread::available_parallelism().map_or(0, |n| n.get() as u32),
            ram_bytes: ram_bytes().unwrap_or(0),
            os: os(),
            data_dir: data_dir.display().to_string(),
            filesystem,
            mount_point,
            git_commit,
            git_dirty,
            timestamp_utc: rfc3339_utc(SystemTime::now()),
            runner: format!("northstar-bench {}", env!("CARGO_PKG_VERSION")),
            profile: Some(detect_profile(data_dir).profile.name().to_string()),
        }
    }
}

fn cpu_model() -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    text.lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim() == "model name")
        .map(|(_, value)| value.trim().to_string())
}

fn ram_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))?;
    let kib: u64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
    Some(kib * 1024)
}

fn os() -> String {
    let read = |path| {
        std::fs::read_to_string(path)
            .ok()
            .map(|s: String| s.trim().to_string())
    };
    match (
        read("/proc/sys/kernel/ostype"),
        read("/proc/sys/kernel/osrelease"),
    ) {
        (Some(name), Some(release)) => format!("{name} {release} {}", std::env::consts::ARCH),
        _ => Command::new("uname")
            .arg("-srm")
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
            .unwrap_or_else(|| format!("{} {}", std::env::consts::OS, std::env::consts::ARCH)),
    }
}

/// Trimmed stdout of `git -C dir arguments`, if git ran and succeeded.
fn git(dir: &Path, arguments: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(arguments)
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// File system type and mount point of the mount holding `dir`: the entry of
/// `/proc/mounts` whose mount point is the longest prefix of its canonical path.
fn filesystem_of(dir: &Path) -> (String, String) {
    match mount_holding(dir) {
        Some(mount) => (mount.filesystem, mount.mount_point),
        None => (UNKNOWN.to_string(), UNKNOWN.to_string()),
    }
}

/// A line of `/proc/mounts`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mount {
    device: String,
    mount_point: String,
    filesystem: String,
}

fn mount_holding(dir: &Path) -> Option<Mount> {
    let path = dir.canonicalize().ok()?;
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    mount_of(&path, &mounts)
}

fn mount_of(path: &Path, mounts: &str) -> Option<Mount> {
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let device = fields.next()?.to_string();
            let mount_point = PathBuf::from(unescape_mount_field(fields.next()?));
            let filesystem = fields.next()?.to_string();
            path.starts_with(&mount_point)
                .then_some((mount_point, device, filesystem))
        })
        // The last of equally long mount points is the one mounted on top.
        .max_by_key(|(mount_point, _, _)| mount_point.components().count())
        .map(|(mount_point, device, filesystem)| Mount {
            device,
            mount_point: mount_point.display().to_string(),
            filesystem,
        })
}

/// The baseline profiles: which stored baseline a machine's results compare with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// A shared CI runner or any machine not known to be faster: few cores, virtual or
    /// network disks.
    Ci,
    /// A developer machine whose data dir is on an NVMe drive.
    DevNvme,
}

impl Profile {
    /// Every profile.
    pub const ALL: [Profile; 2] = [Profile::Ci, Profile::DevNvme];

    /// The profile's name, as in `benches/baselines/NAME`.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Ci => "ci",
            Profile::DevNvme => "dev_nvme",
        }
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A detected profile and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    /// The profile.
    pub profile: Profile,
    /// What decided it, in words.
    pub reason: String,
}

/// The profile of this machine for databases in `data_dir`: `ci` when the `CI`
/// environment variable is set (and not `false` or `0`), `dev_nvme` when `data_dir` is
/// on an NVMe device, `ci` otherwise.
pub fn detect_profile(data_dir: &Path) -> Detected {
    let ci = std::env::var("CI").ok();
    let device = mount_holding(data_dir).map(|mount| mount.device);
    profile_for(ci.as_deref(), device.as_deref())
}

fn profile_for(ci: Option<&str>, device: Option<&str>) -> Detected {
    let detected = |profile, reason: String| Detected { profile, reason };
    match (ci, device) {
        (Some(value), _) if !matches!(value, "" | "0" | "false") => {
            detected(Profile::Ci, format!("CI={value}"))
        }
        (_, Some(device)) if device.contains("nvme") => {
            detected(Profile::DevNvme, format!("data dir on {device}"))
        }
        (_, Some(device)) => detected(Profile::Ci, format!("data dir on {device}, not NVMe")),
        (_, None) => detected(Profile::Ci, "the data dir's device is unknown".into()),
    }
}

/// `/proc/mounts` writes space, tab, newline and backslash as `\NNN` octal escapes.
fn unescape_mount_field(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let octal = bytes.get(index + 1..index + 4).filter(|digits| {
            bytes[index] == b'\\' && digits.iter().all(|d| (b'0'..=b'7').contains(d))
        });
        match octal {
            Some(digits) => {
                let code = digits.iter().fold(0u32, |n, d| n * 8 + u32::from(d - b'0'));
                out.push(code as u8);
                index += 4;
            }
            None => {
                out.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `time` as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339_utc(time: SystemTime) -> String {
    let seconds = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, second_of_day) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3_600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

/// Year, month and day of `days` since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_rfc3339_in_utc() {
        assert_eq!(rfc3339_utc(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let leap_day = UNIX_EPOCH + Duration::from_secs(951_827_696);
        assert_eq!(rfc3339_utc(leap_day), "2000-02-29T12:34:56Z");
        let later = UNIX_EPOCH + Duration::from_secs(1_735_689_599);
        assert_eq!(rfc3339_utc(later), "2024-12-31T23:59:59Z");
    }

    #[test]
    fn the_longest_mount_point_holding_the_path_wins() {
        let mounts = "\
/dev/vda / ext4 rw 0 0
tmpfs /tmp tmpfs rw 0 0
/dev/vdb /tmp/my\\040disk xfs rw 0 0
";
        let found = |path: &str| {
            let mount = mount_of(Path::new(path), mounts).unwrap();
            (mount.filesystem, mount.mount_point)
        };
        assert_eq!(found("/work/x"), ("ext4".into(), "/".into()));
        assert_eq!(found("/tmp/a"), ("tmpfs".into(), "/tmp".into()));
        assert_eq!(
            found("/tmp/my disk/db"),
            ("xfs".into(), "/tmp/my disk".into())
        );
        assert_eq!(found("/tmpfoo"), ("ext4".into(), "/".into()));
        assert_eq!(
            mount_of(Path::new("/tmp/my disk"), mounts).unwrap().device,
            "/dev/vdb"
        );
    }

    #[test]
    fn the_profile_is_ci_on_ci_and_dev_nvme_on_an_nvme_disk() {
        let profile = |ci, device| profile_for(ci, device).profile;
        assert_eq!(profile(Some("true"), Some("/dev/nvme0n1p2")), Profile::Ci);
        assert_eq!(
            profile(Some("false"), Some("/dev/nvme0n1p2")),
            Profile::DevNvme
        );
        assert_eq!(profile(None, Some("/dev/nvme0n1p2")), Profile::DevNvme);
        assert_eq!(profile(None, Some("/dev/vda")), Profile::Ci);
        assert_eq!(profile(None, None), Profile::Ci);
        assert_eq!(
            profile_for(None, Some("/dev/vda")).reason,
            "data dir on /dev/vda, not NVMe"
        );
    }

    #[test]
    fn gathering_fills_every_field() {
        let metadata = Metadata::gather(&std::env::temp_dir());
        assert!(!metadata.os.is_empty());
        assert!(metadata.timestamp_utc.ends_with('Z'));
        assert!(metadata.runner.starts_with("northstar-bench "));
    }
}
