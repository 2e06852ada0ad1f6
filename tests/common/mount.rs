//! Small file systems mounted for a test (a 4 MiB tmpfs to run out of space, a ramfs that
//! refuses O_DIRECT), unmounted when the guard drops, even when the test fails.
//!
//! Mounting needs root and a sandbox that allows it; [`Mount::new`] says why when it cannot,
//! so the caller can print a note and skip. `mount` and `umount` start like helpers do (see
//! `child::starting_a_process`): never while the test holds a database open.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A mounted file system; unmounted on drop.
pub struct Mount {
    dir: PathBuf,
    // Dropped after the unmount: removes the mount point.
    _parent: tempfile::TempDir,
}

impl Mount {
    /// Mounts file system `kind` with `options` (e.g. `"size=4m"`) on a new directory.
    /// `Err` says why it could not (not root, no `mount`, refused by the sandbox).
    pub fn new(kind: &str, options: &str) -> Result<Mount, String> {
        let parent = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
        let dir = parent.path().join("mnt");
        std::fs::create_dir(&dir).map_err(|e| format!("mount point: {e}"))?;
        let starting = super::child::starting_a_process();
        let output = Command::new("mount")
            .args(["-t", kind, "-o", options, kind])
            .arg(&dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        drop(starting);
        if !output.status.success() {
            return Err(format!(
                "mount -t {kind} -o {options} failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(Mount {
            dir,
            _parent: parent,
        })
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _starting = super::child::starting_a_process();
        let unmount = |lazy: bool| {
            let mut command = Command::new("umount");
            if lazy {
                command.arg("-l");
            }
            command
                .arg(&self.dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
        };
        // A file still open keeps the mount busy; detach it then, so it goes once closed.
        if !unmount(false) && !unmount(true) {
            eprintln!("could not unmount {}", self.dir.display());
        }
    }
}
