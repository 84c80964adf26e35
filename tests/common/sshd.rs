//! A real OpenSSH server for the tests: an `sshd` started on 127.0.0.1 at a free port, with a
//! host key and a user key made here, a throwaway known_hosts, and on the "remote" side a
//! `PATH` that holds a copy of this portscope (or none, for the `ss` fallback). The remote
//! side is this machine. Needs Debian's `openssh-server` (`.ci/run` installs it).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const SSHD: &str = "/usr/sbin/sshd";

/// One test at a time: a process that another test forks holds this process's sockets until
/// it execs, and would show as their owner in one listing and not in the other.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct Sshd {
    dir: tempfile::TempDir,
    child: Child,
    pub port: u16,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(program: &str, args: &[&str]) {
    let status = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(status.success(), "{program} {args:?}: {status}");
}

fn keygen(path: &Path) {
    run(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-f",
            path.to_str().unwrap(),
        ],
    );
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Sshd {
    /// An sshd whose logins see `PATH=<its bin>:/usr/bin:/bin`, its bin holding portscope
    /// or not.
    pub fn start(with_portscope: bool) -> Sshd {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: apt-get install openssh-server"
        );
        // sshd refuses to start without its privilege separation folder.
        let _ = std::fs::create_dir_all("/run/sshd");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        keygen(&d.join("host_key"));
        keygen(&d.join("user_key"));
        keygen(&d.join("wrong_key"));
        let bin = d.join("bin");
        std::fs::create_dir(&bin).unwrap();
        if with_portscope {
            std::fs::copy(env!("CARGO_BIN_EXE_portscope"), bin.join("portscope")).unwrap();
        }
        let user_key = std::fs::read_to_string(d.join("user_key.pub")).unwrap();
        // The key's own command sets PATH, then runs what the client asked for.
        std::fs::write(
            d.join("authorized_keys"),
            format!(
                "command=\"env PATH={}:/usr/bin:/bin /bin/sh -c \\\"$SSH_ORIGINAL_COMMAND\\\"\" {user_key}",
                bin.display()
            ),
        )
        .unwrap();
        let port = free_port();
        std::fs::write(
            d.join("sshd_config"),
            format!(
                "ListenAddress 127.0.0.1:{port}\nHostKey {}\nAuthorizedKeysFile {}\n\
                 StrictModes no\nUsePAM no\nPidFile none\nPermitRootLogin prohibit-password\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\n",
                d.join("host_key").display(),
                d.join("authorized_keys").display()
            ),
        )
        .unwrap();
        let host_key = std::fs::read_to_string(d.join("host_key.pub")).unwrap();
        std::fs::write(
            d.join("known_hosts"),
            format!("[127.0.0.1]:{port} {host_key}"),
        )
        .unwrap();
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sshd starts");
        let sshd = Sshd { dir, child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        sshd.write_config(&[]);
        sshd
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The client's config: `good` is this sshd; more aliases as (name, lines).
    pub fn write_config(&self, more: &[(&str, String)]) {
        let mut text = format!(
            "Host good\n  HostName 127.0.0.1\n  Port {}\n  IdentityFile {}\n  IdentitiesOnly yes\n  \
             UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n",
            self.port,
            self.path("user_key").display(),
            self.path("known_hosts").display()
        );
        for (name, lines) in more {
            text.push_str(&format!("Host {name}\n{lines}"));
        }
        std::fs::write(self.path("ssh_config"), text).unwrap();
    }

    /// `portscope <args>` with ssh reading this test's config.
    pub fn portscope(&self, args: &[&str]) -> (Output, Duration) {
        let start = Instant::now();
        let output = Command::new(env!("CARGO_BIN_EXE_portscope"))
            .args(args)
            .env(
                "PORTSCOPE_SSH",
                format!(
                    "ssh -F {} -o ControlMaster=no -o ConnectTimeout=4",
                    self.path("ssh_config").display()
                ),
            )
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (output, start.elapsed())
    }
}

impl Sshd {
    /// How the tests run `ssh`: this sshd's client config, no shared connections (no
    /// background master outlives a test).
    pub fn ssh(&self) -> portscope::collect::remote::Ssh {
        portscope::collect::remote::Ssh {
            program: "ssh".into(),
            prefix: ["-F", self.path("ssh_config").to_str().unwrap()]
                .into_iter()
                .chain(["-o", "ControlMaster=no"])
                .map(Into::into)
                .collect(),
            control_dir: None,
        }
    }
}
