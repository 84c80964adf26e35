//! Ending the process behind a socket, without ever ending the wrong one.
//!
//! The user picks a process from a table that may be seconds old, confirms, and portscope
//! signals it. Between the drawing and the signal the process may have exited and its PID been
//! given to an unrelated program, so [`send`] first checks that the PID still names the process
//! the user saw — same start time, same name — and refuses otherwise. On Linux the check and the
//! signal go through a pidfd opened *before* the check, so a PID reused between the two cannot
//! receive the signal either; where pidfds are unavailable (kernels before 5.3, some sandboxes)
//! the plain `kill(2)` that follows the check leaves only a window of microseconds.
//!
//! Some PIDs are refused outright: 0 (which `kill(2)` reads as "my whole process group"), PIDs
//! beyond `pid_t` (which would turn negative and address process groups), 1 (init: ending it
//! takes the system down), portscope itself, and the program that started portscope (ending a
//! terminal or `sudo` ends portscope with it).
//!
//! # Start times
//!
//! [`Target::start_time`] is in **seconds since the Unix epoch, exactly as sysinfo's
//! `Process::start_time()` reports it** (and so as the process table stores it), so a target
//! can be filled straight from what the table showed. [`start_time_of`] returns the same unit.
//! On Linux both are the boot time from `/proc/stat` (`btime`) plus field 22 of
//! `/proc/PID/stat` divided by the clock-tick rate, the computation sysinfo does. The boot time
//! moves only when the wall clock is stepped (set by hand, an NTP step, a leap second), so start
//! times are compared with [`START_TIME_SLACK_SECS`] of slack; after a larger step the check
//! fails safe and refuses the process as replaced.
//!
//! Everything here returns at once except [`wait_gone`], which blocks for up to its timeout:
//! call it from a worker thread, not the UI thread.

use std::fmt;
use std::io;
use std::thread;
use std::time::{Duration, Instant};

/// The two ways to end a process: ask first, force after.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Signal {
    /// `SIGTERM`: asks the process to end, letting it clean up. It may ignore the request.
    Terminate,
    /// `SIGKILL`: ends the process at once. It cannot be caught or ignored, and the process
    /// gets no chance to clean up, so offer it only after [`Signal::Terminate`] did not work.
    Kill,
}

impl Signal {
    /// The signal's conventional name, e.g. `"SIGTERM"`.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Terminate => "SIGTERM",
            Signal::Kill => "SIGKILL",
        }
    }

    #[cfg(unix)]
    fn number(self) -> libc::c_int {
        match self {
            Signal::Terminate => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The process the user confirmed ending, as the table showed it then.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Target {
    pub pid: u32,
    /// When the process started, in seconds since the Unix epoch: sysinfo's
    /// `Process::start_time()`, or [`start_time_of`] (the same unit). `None` when the table did
    /// not know it; then only the name guards against a reused PID.
    pub start_time: Option<u64>,
    /// The process name the table showed (on Linux the kernel's `comm`, at most 15 bytes; a
    /// longer name matches a `comm` it starts with). Empty when unknown: then it is not checked.
    pub name: String,
    /// The owner's uid, used to say whose process it is when permission is denied.
    pub uid: Option<u32>,
    /// The owner's user name, preferred over `uid` in messages.
    pub user: Option<String>,
}

/// How far apart, in seconds, the remembered and the current start time of the same process may
/// be. They are equal unless the wall clock was stepped in between; a PID cannot be reused by
/// a process that starts within a second of the one it replaces unless the PID space wraps
/// around that fast.
pub const START_TIME_SLACK_SECS: u64 = 1;

/// How often [`wait_gone`] looks at the process.
const POLL_EVERY: Duration = Duration::from_millis(20);

/// Why a process was not signalled. `Display` gives the whole message for the UI, in plain
/// sentences, including what to do where there is something; [`KillError::advice`] gives that
/// last part alone.
#[derive(Debug)]
pub enum KillError {
    /// PID 0, or a number too large to be a PID: `kill(2)` would read either as a process
    /// group, not one process.
    NotAProcess { pid: u32 },
    /// PID 1, the system's init process.
    Init,
    /// portscope's own process.
    Itself { pid: u32 },
    /// The process that started portscope (a terminal, a shell, `sudo`): ending it would end
    /// portscope too.
    Parent { pid: u32 },
    /// The process has exited (or never existed). A zombie — exited, not yet reaped by its
    /// parent — counts as exited.
    Gone { pid: u32, name: String },
    /// The PID now names another process than the one the user chose (`now` is its name), or
    /// the same process now runs another program. Nothing was sent.
    Replaced { pid: u32, name: String, now: String },
    /// The OS refused: the process belongs to someone else. `owner` is the owner's user name or,
    /// failing that, uid; `advice` says what would be needed.
    PermissionDenied {
        pid: u32,
        owner: Option<String>,
        advice: String,
    },
    /// Ending processes is not implemented on this operating system.
    Unsupported,
    /// Any other failure reported by the OS.
    Os(io::Error),
}

impl KillError {
    /// What the user can do about it, when there is something.
    pub fn advice(&self) -> Option<String> {
        match self {
            KillError::Itself { .. } => Some("Quit portscope to end it.".to_owned()),
            KillError::Parent { pid } => Some(format!(
                "Quit portscope first, then end PID {pid} from a terminal."
            )),
            KillError::Replaced { .. } => {
                Some("Wait for the table to refresh and choose the process again.".to_owned())
            }
            KillError::PermissionDenied { advice, .. } => Some(advice.clone()),
            KillError::Unsupported => {
                Some("Use the operating system's own task manager to end it.".to_owned())
            }
            KillError::NotAProcess { .. }
            | KillError::Init
            | KillError::Gone { .. }
            | KillError::Os(_) => None,
        }
    }
}

impl fmt::Display for KillError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KillError::NotAProcess { pid: 0 } => f.write_str(
                "PID 0 does not name a process (signalling it would reach portscope's whole \
                 process group), so nothing was sent.",
            )?,
            KillError::NotAProcess { pid } => {
                write!(f, "{pid} is not a valid process ID, so nothing was sent.")?;
            }
            KillError::Init => f.write_str(
                "PID 1 is the system's init process; ending it would bring the whole system \
                 down, so portscope will not signal it.",
            )?,
            KillError::Itself { pid } => {
                write!(f, "PID {pid} is portscope itself, so it was not signalled.")?;
            }
            KillError::Parent { pid } => write!(
                f,
                "PID {pid} is the program that started portscope; ending it would end \
                 portscope too, so it was not signalled."
            )?,
            KillError::Gone { pid, name } => {
                write!(f, "{} has already exited.", Named(*pid, name))?;
            }
            KillError::Replaced { pid, name, now } if name.is_empty() || name == now => write!(
                f,
                "PID {pid} now belongs to another process than the one you chose, so nothing \
                 was sent."
            )?,
            KillError::Replaced { pid, name, now } => write!(
                f,
                "PID {pid} is now {now}, not the {name} you chose, so nothing was sent."
            )?,
            KillError::PermissionDenied { pid, owner, .. } => match owner {
                Some(owner) => write!(
                    f,
                    "PID {pid} belongs to user {owner}, and portscope is not allowed to \
                     signal it."
                )?,
                None => write!(
                    f,
                    "PID {pid} belongs to another user, and portscope is not allowed to \
                     signal it."
                )?,
            },
            KillError::Unsupported => {
                f.write_str("portscope cannot end processes on this operating system.")?
            }
            KillError::Os(e) => write!(f, "The signal could not be sent: {e}.")?,
        }
        if let Some(advice) = self.advice() {
            write!(f, " {advice}")?;
        }
        Ok(())
    }
}

impl std::error::Error for KillError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            KillError::Os(e) => Some(e),
            _ => None,
        }
    }
}

/// "sleep (PID 42)", or "PID 42" when the name is unknown.
struct Named<'a>(u32, &'a str);

impl fmt::Display for Named<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Named(pid, "") => write!(f, "PID {pid}"),
            Named(pid, name) => write!(f, "{name} (PID {pid})"),
        }
    }
}

/// Send `signal` to `target`, after checking that its PID still names the process the user
/// chose. `Ok` means the signal was delivered, not that the process has ended: follow with
/// [`wait_gone`], and offer [`Signal::Kill`] if a [`Signal::Terminate`] was ignored.
pub fn send(target: &Target, signal: Signal) -> Result<(), KillError> {
    if let Some(refusal) = refusal(target.pid) {
        return Err(refusal);
    }
    deliver(target, signal)
}

/// When the process with this PID started, in the unit of [`Target::start_time`]: seconds since
/// the Unix epoch, as sysinfo reports it. `None` when there is no such process or its start
/// time cannot be read. A zombie still has its start time.
pub fn start_time_of(pid: u32) -> Option<u64> {
    match look(pid) {
        Ok(Now::Running { start_time, .. } | Now::Zombie { start_time }) => start_time,
        Ok(Now::Absent) | Err(_) => None,
    }
}

/// Wait up to `timeout` for the process to end, looking every 20 ms. True once it has exited,
/// become a zombie (exited, waiting for its parent to reap it — a killed child of the caller
/// stays one until the caller waits for it), or its PID names a process with another start
/// time than `start_time` (when given). False if it is still running at the deadline, or if it
/// cannot be looked at. Blocks the calling thread.
pub fn wait_gone(pid: u32, start_time: Option<u64>, timeout: Duration) -> bool {
    // A timeout too long to add to now is as good as forever.
    let deadline = Instant::now().checked_add(timeout);
    loop {
        if is_gone(pid, start_time) {
            return true;
        }
        let now = Instant::now();
        let pause = match deadline {
            Some(deadline) if now >= deadline => return false,
            Some(deadline) => POLL_EVERY.min(deadline - now),
            None => POLL_EVERY,
        };
        thread::sleep(pause);
    }
}

fn is_gone(pid: u32, start_time: Option<u64>) -> bool {
    match look(pid) {
        Ok(Now::Absent | Now::Zombie { .. }) => true,
        Ok(Now::Running {
            start_time: now, ..
        }) => !same_start(start_time, now),
        Err(_) => false,
    }
}

/// The PIDs never signalled, whatever the table says.
fn refusal(pid: u32) -> Option<KillError> {
    if pid == 0 || i32::try_from(pid).is_err() {
        return Some(KillError::NotAProcess { pid });
    }
    if pid == 1 {
        return Some(KillError::Init);
    }
    if pid == std::process::id() {
        return Some(KillError::Itself { pid });
    }
    #[cfg(unix)]
    if pid == std::os::unix::process::parent_id() {
        return Some(KillError::Parent { pid });
    }
    None
}

/// What a PID names at the moment.
#[derive(Debug, PartialEq, Eq)]
enum Now {
    /// No process: it never existed, or exited and was reaped.
    Absent,
    /// Exited, not yet reaped by its parent: it holds nothing and cannot be signalled usefully.
    Zombie { start_time: Option<u64> },
    /// A live process, with its start time (seconds since the epoch) and name (raw bytes: on
    /// Linux the kernel's `comm`, which need not be UTF-8).
    Running {
        start_time: Option<u64>,
        name: Vec<u8>,
    },
}

fn same_start(chosen: Option<u64>, now: Option<u64>) -> bool {
    match (chosen, now) {
        (Some(chosen), Some(now)) => chosen.abs_diff(now) <= START_TIME_SLACK_SECS,
        // Unknown then: nothing to compare. Known then but unreadable now: cannot confirm.
        (None, _) => true,
        (Some(_), None) => false,
    }
}

/// Whether the name the table showed is the name the process has now. The kernel keeps only
/// the first 15 bytes of a name (`comm`), other systems 16, so a name cut that short matches any
/// longer name it begins.
#[cfg(unix)]
fn same_name(chosen: &str, now: &[u8]) -> bool {
    const CUT_AT_LEAST: usize = 15;
    // The table's names are the kernel's bytes decoded with invalid UTF-8 replaced: compare
    // like with like.
    let now = String::from_utf8_lossy(now);
    let (chosen, now) = (chosen.as_bytes(), now.as_bytes());
    let (short, long) = if chosen.len() <= now.len() {
        (chosen, now)
    } else {
        (now, chosen)
    };
    short == long || (short.len() >= CUT_AT_LEAST && long.starts_with(short))
}

/// Check that what the PID names now is the process the user chose.
#[cfg(unix)]
fn verify(target: &Target, now: Now) -> Result<(), KillError> {
    match now {
        Now::Absent | Now::Zombie { .. } => Err(KillError::Gone {
            pid: target.pid,
            name: target.name.clone(),
        }),
        Now::Running { start_time, name } => {
            let name_ok = target.name.is_empty() || same_name(&target.name, &name);
            if same_start(target.start_time, start_time) && name_ok {
                Ok(())
            } else {
                Err(KillError::Replaced {
                    pid: target.pid,
                    name: target.name.clone(),
                    now: String::from_utf8_lossy(&name).into_owned(),
                })
            }
        }
    }
}

#[cfg(unix)]
fn deliver(target: &Target, signal: Signal) -> Result<(), KillError> {
    let pid = libc::pid_t::try_from(target.pid)
        .map_err(|_| KillError::NotAProcess { pid: target.pid })?;
    // Opened before the check, so that the signal reaches the process checked even if the PID
    // is reused right after.
    #[cfg(target_os = "linux")]
    let handle = pidfd::open(pid).map_err(|e| os_error(target, e))?;
    let now = look(target.pid).map_err(|e| os_error(target, e))?;
    verify(target, now)?;
    #[cfg(target_os = "linux")]
    if let Some(handle) = &handle {
        return pidfd::send(handle, signal.number()).map_err(|e| os_error(target, e));
    }
    // SAFETY: kill(2) takes plain integers and touches no memory of ours; `pid` is positive, so
    // it addresses exactly one process.
    if unsafe { libc::kill(pid, signal.number()) } == 0 {
        Ok(())
    } else {
        Err(os_error(target, io::Error::last_os_error()))
    }
}

#[cfg(not(unix))]
fn deliver(_target: &Target, _signal: Signal) -> Result<(), KillError> {
    Err(KillError::Unsupported)
}

/// Turn what the OS said while looking at or signalling `target` into the error for the user.
#[cfg(unix)]
fn os_error(target: &Target, error: io::Error) -> KillError {
    match error.raw_os_error() {
        Some(libc::ESRCH) => KillError::Gone {
            pid: target.pid,
            name: target.name.clone(),
        },
        Some(libc::EPERM | libc::EACCES) => {
            let owner = owner_of(target);
            let advice = match owner.as_deref() {
                Some("root" | "0") => "Run portscope with sudo to end it.".to_owned(),
                Some(owner) => {
                    format!("Run portscope as user {owner} or with sudo to end it.")
                }
                None => "Run portscope as the process's owner or with sudo to end it.".to_owned(),
            };
            KillError::PermissionDenied {
                pid: target.pid,
                owner,
                advice,
            }
        }
        _ => KillError::Os(error),
    }
}

/// Whose process it is, for messages: the name the table showed, else a uid.
#[cfg(unix)]
fn owner_of(target: &Target) -> Option<String> {
    if let Some(user) = &target.user {
        return Some(user.clone());
    }
    target
        .uid
        .or_else(|| owner_uid(target.pid))
        .map(|uid| uid.to_string())
}

#[cfg(target_os = "linux")]
fn owner_uid(pid: u32) -> Option<u32> {
    proc_fs::real_uid(pid)
}

#[cfg(all(unix, not(target_os = "linux")))]
fn owner_uid(_pid: u32) -> Option<u32> {
    None
}

#[cfg(target_os = "linux")]
use proc_fs::look;

#[cfg(not(target_os = "linux"))]
use by_sysinfo::look;

/// Reading processes from `/proc` (Linux), the same way sysinfo does.
#[cfg(target_os = "linux")]
mod proc_fs {
    use std::fs;
    use std::io;

    use super::Now;

    pub(super) fn look(pid: u32) -> io::Result<Now> {
        let Some(stat) = crate::collect::procfs::read_stat(pid)? else {
            return Ok(Now::Absent);
        };
        let start_time = Some(boot_time()? + stat.start_ticks / clock_ticks_per_second()?);
        Ok(if stat.is_zombie() {
            Now::Zombie { start_time }
        } else {
            Now::Running {
                start_time,
                name: stat.comm,
            }
        })
    }

    /// When the machine booted, in seconds since the epoch: `btime` in `/proc/stat`.
    fn boot_time() -> io::Result<u64> {
        parse_boot_time(&fs::read_to_string("/proc/stat")?)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no boot time in /proc/stat"))
    }

    pub(super) fn parse_boot_time(text: &str) -> Option<u64> {
        text.lines()
            .find_map(|line| line.strip_prefix("btime "))
            .and_then(|secs| secs.trim().parse().ok())
    }

    /// The unit of the start times in `/proc/PID/stat` (`USER_HZ`, almost always 100).
    fn clock_ticks_per_second() -> io::Result<u64> {
        // SAFETY: sysconf only reads a configuration value.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        u64::try_from(ticks)
            .ok()
            .filter(|ticks| *ticks > 0)
            .ok_or_else(|| io::Error::other("the clock tick rate is unknown"))
    }

    /// The real uid of a process: the first number of the `Uid:` line of `/proc/PID/status`.
    /// `kill(2)` checks the target's real (or saved) uid, so this is whose process it is.
    pub(super) fn real_uid(pid: u32) -> Option<u32> {
        let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))?
            .split_ascii_whitespace()
            .next()?
            .parse()
            .ok()
    }
}

/// Signalling through a pidfd (Linux 5.3 and later): a handle on one process, which a later
/// process given the same PID cannot be reached through.
#[cfg(target_os = "linux")]
mod pidfd {
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    /// A pidfd for `pid`, or `None` where pidfds cannot be had (old kernel, a sandbox that
    /// forbids them, a thread rather than a process): the caller then uses `kill(2)`.
    /// `ESRCH` — no such process — is an error.
    pub(super) fn open(pid: libc::pid_t) -> io::Result<Option<OwnedFd>> {
        const NO_FLAGS: libc::c_uint = 0;
        // SAFETY: pidfd_open takes a PID and flags and returns a new descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, NO_FLAGS) };
        if fd < 0 {
            let error = io::Error::last_os_error();
            return match error.raw_os_error() {
                Some(libc::ESRCH) => Err(error),
                _ => Ok(None),
            };
        }
        let fd = i32::try_from(fd).map_err(|_| io::Error::other("pidfd out of range"))?;
        // SAFETY: the kernel just returned this descriptor to us, and nothing else owns it.
        Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    pub(super) fn send(pidfd: &OwnedFd, signal: libc::c_int) -> io::Result<()> {
        const NO_FLAGS: libc::c_uint = 0;
        // SAFETY: the descriptor is open for the duration of the call; a null siginfo asks the
        // kernel to fill it in as kill(2) would.
        let sent = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                pidfd.as_raw_fd(),
                signal,
                std::ptr::null::<libc::siginfo_t>(),
                NO_FLAGS,
            )
        };
        if sent == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

/// Reading processes through sysinfo, where there is no `/proc` to read (and in tests, to check
/// that both agree).
#[cfg(any(not(target_os = "linux"), test))]
mod by_sysinfo {
    use std::io;

    use sysinfo::{Pid, ProcessRefreshKind, ProcessStatus, ProcessesToUpdate, System};

    use super::Now;

    pub(super) fn look(pid: u32) -> io::Result<Now> {
        let mut system = System::new().map_err(|e| io::Error::other(e.to_string()))?;
        let pid = Pid::from_u32(pid);
        system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[pid]),
            true,
            ProcessRefreshKind::nothing(),
        );
        let Some(process) = system.process(pid) else {
            return Ok(Now::Absent);
        };
        // sysinfo reports 0 when it does not know.
        let start_time = Some(process.start_time()).filter(|t| *t > 0);
        Ok(match process.status() {
            ProcessStatus::Zombie | ProcessStatus::Dead => Now::Zombie { start_time },
            _ => Now::Running {
                start_time,
                name: process.name().as_encoded_bytes().to_vec(),
            },
        })
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Child, Command, Stdio};
    use std::time::SystemTime;

    use super::*;

    /// A child that is killed and reaped even when a test fails half-way.
    struct Spawned(Child);

    impl Spawned {
        fn new(command: &mut Command) -> Spawned {
            Spawned(command.spawn().expect("spawn test child"))
        }

        fn pid(&self) -> u32 {
            self.0.id()
        }

        fn target(&self, name: &str) -> Target {
            Target {
                pid: self.pid(),
                start_time: Some(start_time_of(self.pid()).expect("child's start time")),
                name: name.to_owned(),
                uid: None,
                user: None,
            }
        }

        fn is_running(&mut self) -> bool {
            self.0.try_wait().expect("try_wait").is_none()
        }

        /// Reap the ended child and return the signal that ended it.
        fn reap(&mut self) -> Option<i32> {
            let status = self.0.wait().expect("wait for child");
            status.signal()
        }
    }

    impl Drop for Spawned {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn sleeper() -> Spawned {
        // `spawn` returns only once the child has exec'd, so its name is already "sleep".
        Spawned::new(Command::new("sleep").arg("30"))
    }

    /// A shell that ignores SIGTERM, then becomes `sleep` (which inherits the ignoring).
    fn stubborn() -> Spawned {
        let mut child = Spawned::new(
            Command::new("sh")
                .args(["-c", r#"trap "" TERM; echo ready; exec sleep 30"#])
                .stdout(Stdio::piped()),
        );
        let stdout = child.0.stdout.take().expect("child's stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read from child");
        assert_eq!(line, "ready\n");
        // The trap is set; wait for the exec so that the name is settled.
        let deadline = Instant::now() + Duration::from_secs(5);
        while name_of(child.pid()) != b"sleep" {
            assert!(Instant::now() < deadline, "child never became sleep");
            thread::sleep(Duration::from_millis(5));
        }
        child
    }

    fn name_of(pid: u32) -> Vec<u8> {
        match look(pid) {
            Ok(Now::Running { name, .. }) => name,
            other => panic!("PID {pid} is not running: {other:?}"),
        }
    }

    fn is_root() -> bool {
        // SAFETY: geteuid cannot fail and touches no memory.
        unsafe { libc::geteuid() == 0 }
    }

    /// A PID no process can have: above the kernel's limit.
    fn unused_pid() -> u32 {
        let max: u32 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
            .expect("read pid_max")
            .trim()
            .parse()
            .expect("parse pid_max");
        max + 1
    }

    #[test]
    fn terminate_ends_a_process() {
        let mut child = sleeper();
        let target = child.target("sleep");
        send(&target, Signal::Terminate).expect("terminate");
        assert!(wait_gone(
            target.pid,
            target.start_time,
            Duration::from_secs(5)
        ));
        assert_eq!(child.reap(), Some(libc::SIGTERM));
    }

    #[test]
    fn a_process_ignoring_terminate_survives_it_and_dies_of_kill() {
        let mut child = stubborn();
        let target = child.target("sleep");
        send(&target, Signal::Terminate).expect("terminate");
        assert!(!wait_gone(
            target.pid,
            target.start_time,
            Duration::from_millis(300)
        ));
        assert!(child.is_running());
        send(&target, Signal::Kill).expect("kill");
        assert!(wait_gone(
            target.pid,
            target.start_time,
            Duration::from_secs(5)
        ));
        assert_eq!(child.reap(), Some(libc::SIGKILL));
    }

    #[test]
    fn a_zombie_counts_as_gone() {
        let mut child = sleeper();
        let target = child.target("sleep");
        send(&target, Signal::Kill).expect("kill");
        assert!(wait_gone(
            target.pid,
            target.start_time,
            Duration::from_secs(5)
        ));
        // Not reaped yet: the PID still shows, as a zombie.
        assert_eq!(start_time_of(target.pid), target.start_time);
        assert!(matches!(
            send(&target, Signal::Kill),
            Err(KillError::Gone { .. })
        ));
        assert_eq!(child.reap(), Some(libc::SIGKILL));
    }

    #[test]
    fn init_self_parent_and_non_pids_are_refused() {
        // Checked through `refusal` alone: a mistake here must not signal init or the runner.
        assert!(matches!(refusal(1), Some(KillError::Init)));
        let me = std::process::id();
        assert!(matches!(refusal(me), Some(KillError::Itself { pid }) if pid == me));
        let parent = std::os::unix::process::parent_id();
        assert!(matches!(refusal(parent), Some(KillError::Parent { pid }) if pid == parent));
        assert!(matches!(
            refusal(0),
            Some(KillError::NotAProcess { pid: 0 })
        ));
        // Would be -1 as a pid_t: every process portscope may signal.
        assert!(matches!(
            refusal(u32::MAX),
            Some(KillError::NotAProcess { .. })
        ));
        assert!(refusal(2).is_none());
    }

    #[test]
    fn send_refuses_this_process() {
        let target = Target {
            pid: std::process::id(),
            start_time: start_time_of(std::process::id()),
            name: String::new(),
            uid: None,
            user: None,
        };
        let error = send(&target, Signal::Terminate).expect_err("must refuse");
        assert!(matches!(error, KillError::Itself { .. }));
        assert!(error.to_string().contains("portscope itself"));
    }

    #[test]
    fn a_stale_start_time_is_refused_and_the_process_lives() {
        let mut child = sleeper();
        let mut target = child.target("sleep");
        target.start_time = target.start_time.map(|t| t - 1000);
        let error = send(&target, Signal::Kill).expect_err("must refuse");
        assert!(matches!(error, KillError::Replaced { .. }), "{error:?}");
        assert!(error.to_string().contains("another process"), "{error}");
        assert!(error.advice().is_some());
        thread::sleep(Duration::from_millis(100));
        assert!(child.is_running());
    }

    #[test]
    fn another_name_is_refused_and_the_process_lives() {
        let mut child = sleeper();
        let target = child.target("postgres");
        let error = send(&target, Signal::Kill).expect_err("must refuse");
        assert!(matches!(error, KillError::Replaced { .. }), "{error:?}");
        assert!(
            error.to_string().contains("is now sleep, not the postgres"),
            "{error}"
        );
        thread::sleep(Duration::from_millis(100));
        assert!(child.is_running());
    }

    #[test]
    fn a_missing_process_is_gone() {
        let target = Target {
            pid: unused_pid(),
            start_time: None,
            name: "nginx".to_owned(),
            uid: None,
            user: None,
        };
        let error = send(&target, Signal::Terminate).expect_err("must fail");
        assert!(matches!(error, KillError::Gone { .. }), "{error:?}");
        assert_eq!(
            error.to_string(),
            format!("nginx (PID {}) has already exited.", target.pid)
        );
        assert_eq!(start_time_of(target.pid), None);
        assert!(wait_gone(target.pid, None, Duration::ZERO));
    }

    #[test]
    fn start_time_of_a_live_child_matches_sysinfo_and_now() {
        let mut child = sleeper();
        let target = child.target("sleep");
        let start = target.start_time.expect("start time");
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs();
        assert!(
            start <= now + START_TIME_SLACK_SECS && now - start < 60,
            "{start} vs {now}"
        );
        verify(&target, look(target.pid).expect("look")).expect("same process");
        match by_sysinfo::look(target.pid).expect("sysinfo") {
            Now::Running { start_time, name } => {
                assert!(same_start(target.start_time, start_time), "{start_time:?}");
                assert_eq!(name, b"sleep");
            }
            other => panic!("sysinfo sees {other:?}"),
        }
        assert!(child.is_running());
    }

    #[test]
    fn a_long_running_wait_ends_at_its_timeout() {
        let child = sleeper();
        let began = Instant::now();
        assert!(!wait_gone(child.pid(), None, Duration::from_millis(100)));
        assert!(began.elapsed() >= Duration::from_millis(100));
        // A PID now naming a later process is the old one gone.
        let earlier = start_time_of(child.pid()).map(|t| t - 1000);
        assert!(wait_gone(child.pid(), earlier, Duration::ZERO));
    }

    #[test]
    fn permission_denied_says_whose_process_and_what_is_needed() {
        let target = Target {
            pid: 812,
            start_time: None,
            name: "postgres".to_owned(),
            uid: Some(119),
            user: Some("postgres".to_owned()),
        };
        let error = os_error(&target, io::Error::from_raw_os_error(libc::EPERM));
        let KillError::PermissionDenied { pid, owner, advice } = &error else {
            panic!("{error:?}");
        };
        assert_eq!(*pid, 812);
        assert_eq!(owner.as_deref(), Some("postgres"));
        assert!(
            advice.contains("postgres") && advice.contains("sudo"),
            "{advice}"
        );
        assert_eq!(
            error.to_string(),
            "PID 812 belongs to user postgres, and portscope is not allowed to signal it. \
             Run portscope as user postgres or with sudo to end it."
        );

        let by_uid = Target {
            user: None,
            ..target.clone()
        };
        let error = os_error(&by_uid, io::Error::from_raw_os_error(libc::EPERM));
        assert!(error.to_string().contains("belongs to user 119"), "{error}");

        let root = Target {
            user: Some("root".to_owned()),
            ..target.clone()
        };
        let error = os_error(&root, io::Error::from_raw_os_error(libc::EPERM));
        assert_eq!(
            error.advice().as_deref(),
            Some("Run portscope with sudo to end it.")
        );
    }

    #[test]
    fn other_errnos_map_to_gone_and_os() {
        let target = Target {
            pid: 812,
            name: "postgres".to_owned(),
            ..Target::default()
        };
        assert!(matches!(
            os_error(&target, io::Error::from_raw_os_error(libc::ESRCH)),
            KillError::Gone { pid: 812, .. }
        ));
        let error = os_error(&target, io::Error::from_raw_os_error(libc::EIO));
        assert!(matches!(error, KillError::Os(_)));
        assert!(
            error
                .to_string()
                .starts_with("The signal could not be sent: ")
        );
        assert!(std::error::Error::source(&error).is_some());
    }

    /// Only an unprivileged run can be refused by the kernel; as root the mapping test above
    /// stands in for it.
    #[test]
    fn signalling_another_users_process_is_denied() {
        if is_root() {
            return;
        }
        let me = std::process::id();
        let ancestors = [me, std::os::unix::process::parent_id()];
        // Any root-owned process that is not init, a kernel thread, or one of ours.
        let Some(pid) = std::fs::read_dir("/proc")
            .expect("list /proc")
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| *pid > 2 && !ancestors.contains(pid))
            .find(|pid| {
                proc_fs::real_uid(*pid) == Some(0)
                    && std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                        .is_ok_and(|cmdline| !cmdline.is_empty())
            })
        else {
            return;
        };
        let target = Target {
            pid,
            start_time: start_time_of(pid),
            name: String::new(),
            uid: None,
            user: None,
        };
        let error = send(&target, Signal::Terminate).expect_err("must be denied");
        let KillError::PermissionDenied { owner, .. } = &error else {
            panic!("{error:?}");
        };
        assert_eq!(owner.as_deref(), Some("0"));
        assert!(error.to_string().contains("with sudo"), "{error}");
    }

    #[test]
    fn names_cut_by_the_kernel_still_match() {
        assert!(same_name("sleep", b"sleep"));
        assert!(!same_name("sleep", b"sleeper"));
        assert!(same_name("systemd-resolved", b"systemd-resolve"));
        assert!(same_name("systemd-resolve", b"systemd-resolved"));
        assert!(!same_name("systemd-resolved", b"systemd-journal"));
        assert!(!same_name("short", b"shor"));
        // The table shows a name that is not UTF-8 as sysinfo decodes it.
        assert!(same_name("bad\u{fffd}name", b"bad\xffname"));
        assert!(!same_name("bad\u{fffd}name", b"bad\xfename2"));
    }

    #[test]
    fn boot_time_parses() {
        assert_eq!(
            proc_fs::parse_boot_time("cpu  1 2 3\nintr 5\nbtime 1700000000\nprocesses 9\n"),
            Some(1_700_000_000)
        );
        assert_eq!(proc_fs::parse_boot_time("cpu 1\n"), None);
    }

    #[test]
    fn every_error_reads_as_sentences() {
        let errors = [
            KillError::NotAProcess { pid: 0 },
            KillError::NotAProcess { pid: u32::MAX },
            KillError::Init,
            KillError::Itself { pid: 7 },
            KillError::Parent { pid: 6 },
            KillError::Gone {
                pid: 5,
                name: String::new(),
            },
            KillError::Replaced {
                pid: 5,
                name: "sleep".to_owned(),
                now: "sleep".to_owned(),
            },
            KillError::PermissionDenied {
                pid: 5,
                owner: None,
                advice: "Run portscope as the process's owner or with sudo to end it.".to_owned(),
            },
            KillError::Unsupported,
            KillError::Os(io::Error::from_raw_os_error(libc::EIO)),
        ];
        for error in errors {
            let text = error.to_string();
            assert!(text.ends_with('.'), "{text}");
            let first = text.chars().next().expect("non-empty");
            assert!(
                first.is_uppercase() || first.is_ascii_digit() || text.starts_with("portscope"),
                "{text}"
            );
            if let Some(advice) = error.advice() {
                assert!(text.ends_with(&advice), "{text}");
            }
        }
    }
}
