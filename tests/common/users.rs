//! Running parts of a test as another user: `nobody`, when the test runs as root.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const NOBODY: u32 = 65534;

pub fn is_root() -> bool {
    // SAFETY: geteuid only reads the process's credentials.
    unsafe { libc::geteuid() == 0 }
}

/// A folder every user may read, holding copies of the population script and of portscope,
/// so that `nobody` can run them wherever the checkout is.
pub struct Shared(PathBuf);

impl Shared {
    pub fn new(tag: &str) -> Shared {
        let dir = std::env::temp_dir().join(format!("portscope-{tag}-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        for (from, name) in [
            (
                Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/population.py"),
                "population.py",
            ),
            (PathBuf::from(env!("CARGO_BIN_EXE_portscope")), "portscope"),
        ] {
            let to = dir.join(name);
            fs::copy(from, &to).unwrap();
            fs::set_permissions(&to, fs::Permissions::from_mode(0o755)).unwrap();
        }
        Shared(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A command run as `nobody` when the test is root, as the test's own user otherwise.
pub fn as_nobody(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("setpriv");
        command
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// The system's Python, which every user may run (a per-user install may not be).
pub fn python() -> PathBuf {
    let system = PathBuf::from("/usr/bin/python3");
    if system.exists() {
        system
    } else {
        PathBuf::from("python3")
    }
}
