//! [`RemoteSource`]: one host's sockets over the system's `ssh`, behind [`SocketSource`].
//!
//! A thread of its own per host runs `ssh … <host> portscope serve --stdio` and reads the
//! stream; where portscope is not installed it runs the [`fallback`](super::fallback) `ss`
//! command over the same connection at each interval instead. [`RemoteSource::poll`] only
//! reads what that thread last published, so it never waits on the network longer than a short
//! deadline, and a window can hold one source per host on collector threads like the local one.
//!
//! `ssh` never asks anything (`BatchMode=yes`): a host key it does not know or that changed
//! is refused as the user's own configuration says, never answered. Each failure becomes one
//! sentence from ssh's exit code and standard error ([`classify`]), and the thread tries again
//! after a growing pause ([`Backoff`]). A stream that stops moving (no frame, not even the
//! heartbeat, within [`Timeouts::stalled`]) is ended and reported. Everything from the host —
//! its names, ssh's error text — is hostile: it is escaped wherever it is shown.

use std::ffi::OsString;
use std::io::{BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use super::fallback;
use super::stream::{self, Body, Control, Hello, Mirror, OtherVersion};
use crate::collect::helper::protocol::FrameError;
use crate::collect::{CollectError, Poll, SocketSource};
use crate::knowledge::EphemeralRange;
use crate::model::text::escape;

/// The environment variable that replaces `ssh` with a command of the user's choice (read as
/// shell words): `ssh -F ~/.ssh/other_config`, `ssh -J jumphost`. Its options come before
/// portscope's, and ssh keeps the first value it reads for each option.
pub const SSH_ENV: &str = "PORTSCOPE_SSH";
/// What runs on the host.
pub const SERVE: &str = "portscope serve --stdio";
/// Most of ssh's standard error kept for the message.
const STDERR_KEPT: usize = 16 * 1024;
/// Most of the fallback's output read.
const OUTPUT_KEPT: u64 = 64 * 1024 * 1024;

/// How to run `ssh`.
#[derive(Clone, Debug)]
pub struct Ssh {
    pub program: OsString,
    /// Arguments before portscope's own options.
    pub prefix: Vec<OsString>,
    /// Where the shared connections' sockets live; `None`: no sharing.
    pub control_dir: Option<PathBuf>,
}

impl Ssh {
    /// `ssh`, or what [`SSH_ENV`] says.
    pub fn from_env() -> Result<Ssh, String> {
        let mut ssh = Ssh {
            program: "ssh".into(),
            prefix: Vec::new(),
            control_dir: control_dir(),
        };
        if let Some(text) = std::env::var_os(SSH_ENV) {
            let text = text
                .into_string()
                .map_err(|_| format!("{SSH_ENV} is not UTF-8"))?;
            let mut words = shell_words::split(&text)
                .map_err(|e| format!("{SSH_ENV}: {e}"))?
                .into_iter()
                .map(OsString::from);
            if let Some(program) = words.next() {
                ssh.program = program;
                ssh.prefix = words.collect();
            }
        }
        Ok(ssh)
    }

    /// The command that runs `remote` on `host`.
    pub fn command(&self, host: &str, remote: &str) -> Command {
        let mut command = Command::new(&self.program);
        command.args(&self.prefix);
        let mut option = |o: String| {
            command.arg("-o").arg(o);
        };
        option("BatchMode=yes".into());
        match &self.control_dir {
            Some(dir) => {
                option("ControlMaster=auto".into());
                option(format!("ControlPath={}/portscope-%C", dir.display()));
                option("ControlPersist=60".into());
            }
            None => option("ControlMaster=no".into()),
        }
        option("ServerAliveInterval=5".into());
        option("ServerAliveCountMax=3".into());
        option("ConnectTimeout=10".into());
        command.arg("--").arg(host).arg(remote);
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }
}

/// A folder only this user can enter for ssh's shared-connection sockets: the session's
/// runtime folder, else one in the temporary folder.
fn control_dir() -> Option<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    // SAFETY: geteuid only reads this process's credentials.
    let uid = unsafe { libc::geteuid() };
    let dir = std::env::temp_dir().join(format!("portscope-ssh-{uid}"));
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
    // Someone else's folder, or one others may enter, is not used.
    let meta = std::fs::symlink_metadata(&dir).ok()?;
    (meta.is_dir() && meta.uid() == uid && meta.mode() & 0o077 == 0).then_some(dir)
}

/// Why a host cannot be read, in words for its line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("cannot reach it: {0}")]
    Unreachable(String),
    #[error("the connection was refused (no SSH server at that address and port)")]
    Refused,
    #[error(
        "authentication failed: ssh has no key the server accepts (ssh-add, or IdentityFile in ~/.ssh/config)"
    )]
    AuthFailed,
    #[error(
        "its host key has CHANGED since it was recorded in known_hosts: check with its administrator before removing the old key"
    )]
    HostKeyChanged,
    #[error("its host key is not known: connect once with `ssh` to check and accept it")]
    HostKeyUnknown,
    #[error("portscope is not installed there")]
    NotInstalled,
    #[error("neither portscope nor ss is installed there")]
    NothingToRead,
    #[error("its portscope ({}) speaks stream version {}, this one {}: install the same version on both", .0.portscope.as_deref().unwrap_or("unknown version"), .0.stream, stream::VERSION)]
    OtherVersion(OtherVersion),
    #[error("the server took the connection and never answered as SSH (timed out)")]
    NoBanner,
    #[error("the stream stopped: nothing came for {:?}", .0)]
    Stalled(Duration),
    #[error("the stream broke: {0}")]
    Protocol(String),
    #[error("cannot run ssh: {0}")]
    NoSsh(String),
    #[error("ssh failed: {0}")]
    Ssh(String),
}

/// What ssh's exit code and standard error mean. Text from ssh (and so from the host) is
/// escaped and cut to its last line.
pub fn classify(code: Option<i32>, stderr: &str) -> HostError {
    let has = |s: &str| stderr.contains(s);
    if has("REMOTE HOST IDENTIFICATION HAS CHANGED") {
        HostError::HostKeyChanged
    } else if has("Host key verification failed") {
        HostError::HostKeyUnknown
    } else if has("Permission denied") || has("Too many authentication failures") {
        HostError::AuthFailed
    } else if has("Connection refused") {
        HostError::Refused
    } else if has("banner exchange") {
        HostError::NoBanner
    } else if code == Some(127)
        || has("command not found")
        || has("portscope: not found")
        || has("No such file or directory") && has("portscope")
    {
        HostError::NotInstalled
    } else if has("Could not resolve hostname")
        || has("No route to host")
        || has("Network is unreachable")
        || has("Connection timed out")
        || has("Operation timed out")
    {
        HostError::Unreachable(last_line(stderr))
    } else {
        let line = last_line(stderr);
        HostError::Ssh(if line.is_empty() {
            format!(
                "exit code {}",
                code.map_or("none".to_owned(), |c| c.to_string())
            )
        } else {
            line
        })
    }
}

/// The last line that says something, escaped and cut short.
fn last_line(text: &str) -> String {
    let line = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let line: String = line.trim().chars().take(300).collect();
    escape(&line).into_owned()
}

/// The pause before the next try: 1 s, doubling to a minute.
#[derive(Clone, Copy, Debug, Default)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    pub fn failed(&mut self) -> Duration {
        let delay = Duration::from_secs(1 << self.failures.min(6)).min(Duration::from_secs(60));
        self.failures = self.failures.saturating_add(1);
        delay
    }

    pub fn succeeded(&mut self) {
        self.failures = 0;
    }
}

/// Where time comes from: injected so tests can move it.
pub trait Clock: Send + Sync {
    fn now(&self) -> Instant;
}

/// The machine's monotonic clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// How long things may take.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// From starting ssh to the host's hello (connecting, authenticating, starting portscope).
    pub hello: Duration,
    /// Between two frames of a running stream (heartbeats come every interval).
    pub stalled: Duration,
    /// How long [`RemoteSource::poll`] waits for a first table.
    pub poll: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            hello: Duration::from_secs(20),
            stalled: Duration::from_secs(15),
            poll: Duration::from_millis(50),
        }
    }
}

/// Whether nothing came for longer than `limit`.
pub fn stalled(last: Instant, now: Instant, limit: Duration) -> bool {
    now.saturating_duration_since(last) > limit
}

/// How a host is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Connecting,
    /// Its own `portscope serve --stdio`.
    Stream,
    /// `ss` over ssh: portscope is not installed there.
    Fallback,
}

/// A host's line: how it is read, its facts, and what went wrong last. The hello's text
/// (hostname, kernel) is the host's: escape it wherever it is shown.
#[derive(Clone, Debug)]
pub struct HostStatus {
    pub host: String,
    pub mode: Mode,
    pub hello: Option<Hello>,
    /// The last failure, while it lasts (cleared by the next table).
    pub error: Option<HostError>,
    /// When the next try starts, after a failure.
    pub retry_at: Option<Instant>,
    /// What the reading mode cannot show (the fallback's owners without root).
    pub note: Option<String>,
    /// How many tables have come.
    pub tables: u64,
}

struct Shared {
    status: HostStatus,
    /// The newest table, shared: a poll copies it after letting the lock go, so that reading
    /// the host's line (every frame) never waits for a copy of 10,000 sockets.
    poll: Option<Arc<Poll>>,
    ephemeral: Option<EphemeralRange>,
    /// An error the host itself reported for its last poll.
    poll_error: Option<String>,
}

type Published = Arc<(Mutex<Shared>, Condvar)>;

fn lock(shared: &Published) -> MutexGuard<'_, Shared> {
    shared.0.lock().unwrap_or_else(|e| e.into_inner())
}

enum Event {
    /// From the reader of connection `.0`.
    Hello(u64, Result<Result<Hello, OtherVersion>, FrameError>),
    Frame(u64, Result<Body, FrameError>),
    Output(u64, std::io::Result<Vec<u8>>),
    Control(Control),
    Stop,
}

/// Reads a [`RemoteSource`]'s line from anywhere: see [`RemoteSource::status_handle`].
#[derive(Clone)]
pub struct StatusHandle(Published);

impl StatusHandle {
    /// The host's line as it stands.
    pub fn status(&self) -> HostStatus {
        lock(&self.0).status.clone()
    }
}

/// One host's sockets, read over SSH on a thread of its own.
pub struct RemoteSource {
    host: String,
    shared: Published,
    events: Sender<Event>,
    stop: Arc<AtomicBool>,
    timeouts: Timeouts,
    clock: Arc<dyn Clock>,
}

impl RemoteSource {
    /// Start reading `host` (anything `ssh` accepts: `user@server`, an alias).
    pub fn start(host: &str, ssh: Ssh, interval: Duration, timeouts: Timeouts) -> RemoteSource {
        RemoteSource::start_with_clock(host, ssh, interval, timeouts, Arc::new(SystemClock))
    }

    pub fn start_with_clock(
        host: &str,
        ssh: Ssh,
        interval: Duration,
        timeouts: Timeouts,
        clock: Arc<dyn Clock>,
    ) -> RemoteSource {
        let shared: Published = Arc::new((
            Mutex::new(Shared {
                status: HostStatus {
                    host: host.to_owned(),
                    mode: Mode::Connecting,
                    hello: None,
                    error: None,
                    retry_at: None,
                    note: None,
                    tables: 0,
                },
                poll: None,
                ephemeral: None,
                poll_error: None,
            }),
            Condvar::new(),
        ));
        let (events, received) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let worker = Worker {
            host: host.to_owned(),
            ssh,
            interval,
            timeouts,
            clock: clock.clone(),
            shared: shared.clone(),
            events: events.clone(),
            received,
            stop: stop.clone(),
            generation: 0,
            child: None,
        };
        let spawned = thread::Builder::new()
            .name(format!("host {}", escape(host)))
            .spawn(move || {
                crate::collect::background::give_way();
                worker.run()
            });
        if let Err(e) = spawned {
            let mut s = lock(&shared);
            s.status.error = Some(HostError::NoSsh(e.to_string()));
        }
        RemoteSource {
            host: host.to_owned(),
            shared,
            events,
            stop,
            timeouts,
            clock,
        }
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// The host's line as it stands.
    pub fn status(&self) -> HostStatus {
        lock(&self.shared).status.clone()
    }

    /// A handle that reads the host's line after the source has moved to a collector thread
    /// (the window's status bar). Reading it never waits on the host.
    pub fn status_handle(&self) -> StatusHandle {
        StatusHandle(self.shared.clone())
    }

    /// Ask the host to poll at another interval, poll now, pause or resume.
    pub fn control(&self, control: Control) {
        let _ = self.events.send(Event::Control(control));
    }

    /// Wait until the first table came or the first try failed, at most `within`: what a
    /// command that lists once does. The error says why there is no table.
    pub fn wait_first(&self, within: Duration) -> Result<(), HostError> {
        let deadline = Instant::now() + within;
        let mut s = lock(&self.shared);
        loop {
            if s.poll.is_some() {
                return Ok(());
            }
            if let Some(e) = &s.status.error {
                return Err(e.clone());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(HostError::Stalled(within));
            }
            s = self
                .shared
                .1
                .wait_timeout(s, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    fn message(&self, error: &HostError, retry_at: Option<Instant>) -> String {
        let retry = retry_at.map_or(String::new(), |at| {
            let secs = at
                .saturating_duration_since(self.clock.now())
                .as_secs_f64()
                .ceil();
            format!("; trying again in {secs} s")
        });
        format!("{}: {error}{retry}", escape(&self.host))
    }
}

impl SocketSource for RemoteSource {
    fn poll(&mut self) -> Result<Poll, CollectError> {
        let deadline = Instant::now() + self.timeouts.poll;
        let mut s = lock(&self.shared);
        while s.poll.is_none() && s.status.error.is_none() {
            let now = Instant::now();
            if now >= deadline {
                return Err(CollectError::SocketTable(format!(
                    "{}: connecting",
                    escape(&self.host)
                )));
            }
            s = self
                .shared
                .1
                .wait_timeout(s, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        if let Some(error) = &s.status.error {
            return Err(CollectError::SocketTable(
                self.message(error, s.status.retry_at),
            ));
        }
        if let Some(message) = &s.poll_error {
            return Err(CollectError::SocketTable(format!(
                "{}: {}",
                escape(&self.host),
                escape(message)
            )));
        }
        let newest = s.poll.clone();
        drop(s);
        newest
            .map(|poll| Poll::clone(&poll))
            .ok_or_else(|| CollectError::SocketTable(format!("{}: connecting", escape(&self.host))))
    }

    /// The host's range, as it said; until it has, Linux's documented default.
    fn ephemeral_range(&mut self) -> EphemeralRange {
        lock(&self.shared)
            .ephemeral
            .clone()
            .unwrap_or_else(EphemeralRange::linux_default)
    }
}

impl Drop for RemoteSource {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.events.send(Event::Stop);
    }
}

/// The thread behind a [`RemoteSource`].
struct Worker {
    host: String,
    ssh: Ssh,
    interval: Duration,
    timeouts: Timeouts,
    clock: Arc<dyn Clock>,
    shared: Published,
    events: Sender<Event>,
    received: Receiver<Event>,
    stop: Arc<AtomicBool>,
    generation: u64,
    child: Option<(Child, Option<ChildStdin>, Receiver<Vec<u8>>)>,
}

/// Why a connection ended: a failure to report, or the source was dropped.
enum End {
    Failed(HostError),
    Stopped,
}

impl Worker {
    fn run(mut self) {
        let mut backoff = Backoff::default();
        let mut fallback = false;
        loop {
            let end = if fallback {
                self.fallback(&mut backoff)
            } else {
                self.stream(&mut backoff)
            };
            self.end_child();
            let error = match end {
                End::Stopped => return,
                End::Failed(HostError::NotInstalled) if !fallback => {
                    fallback = true;
                    continue;
                }
                End::Failed(HostError::NotInstalled) => HostError::NothingToRead,
                End::Failed(e) => e,
            };
            let pause = backoff.failed();
            let retry_at = self.clock.now() + pause;
            self.publish(|s| {
                s.status.error = Some(error);
                s.status.retry_at = Some(retry_at);
            });
            if self.wait(pause).is_err() {
                return;
            }
        }
    }

    fn publish(&self, change: impl FnOnce(&mut Shared)) {
        change(&mut lock(&self.shared));
        self.shared.1.notify_all();
    }

    /// Wait for `pause` unless stopped (`Err`); controls meanwhile are dropped.
    fn wait(&self, pause: Duration) -> Result<(), ()> {
        let until = self.clock.now() + pause;
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Err(());
            }
            let left = until.saturating_duration_since(self.clock.now());
            if left.is_zero() {
                return Ok(());
            }
            match self
                .received
                .recv_timeout(left.min(Duration::from_millis(200)))
            {
                Ok(Event::Stop) | Err(RecvTimeoutError::Disconnected) => return Err(()),
                Ok(Event::Control(Control::Refresh)) => return Ok(()),
                _ => {}
            }
        }
    }

    /// Start `remote` on the host; its standard error is collected on a thread.
    fn spawn(&mut self, remote: &str) -> Result<std::process::ChildStdout, HostError> {
        self.generation += 1;
        let mut child = self
            .ssh
            .command(&self.host, remote)
            .spawn()
            .map_err(|e| HostError::NoSsh(e.to_string()))?;
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let stdin = child.stdin.take();
        let (sent, errors) = mpsc::channel();
        if let Some(stderr) = stderr {
            let _ = thread::Builder::new()
                .name("ssh-stderr".to_owned())
                .spawn(move || {
                    let mut kept = Vec::new();
                    let _ = stderr.take(STDERR_KEPT as u64).read_to_end(&mut kept);
                    let _ = sent.send(kept);
                });
        }
        self.child = Some((child, stdin, errors));
        stdout.ok_or_else(|| HostError::NoSsh("no standard output".to_owned()))
    }

    /// End the running ssh, if any.
    fn end_child(&mut self) {
        if let Some((mut child, stdin, _)) = self.child.take() {
            drop(stdin);
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Why the running ssh ended: waits a little for it to exit, then reads its exit code
    /// and standard error.
    fn why_ended(&mut self) -> HostError {
        let Some((mut child, stdin, errors)) = self.child.take() else {
            return HostError::Ssh("ended".to_owned());
        };
        drop(stdin);
        // ssh closes its standard error when it exits.
        let stderr = errors
            .recv_timeout(Duration::from_secs(2))
            .unwrap_or_default();
        let deadline = Instant::now() + Duration::from_secs(1);
        let code = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status.code(),
                Ok(None) if Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(10));
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
            }
        };
        classify(code, &String::from_utf8_lossy(&stderr))
    }

    /// Read the host's own stream until it ends.
    fn stream(&mut self, backoff: &mut Backoff) -> End {
        let stdout = match self.spawn(SERVE) {
            Ok(stdout) => stdout,
            Err(e) => return End::Failed(e),
        };
        let generation = self.generation;
        let events = self.events.clone();
        let reader = thread::Builder::new()
            .name("ssh-stream".to_owned())
            .spawn(move || {
                crate::collect::background::give_way();
                let mut input = BufReader::new(stdout);
                let hello = stream::read_hello(&mut input);
                let go_on = matches!(hello, Ok(Ok(_)));
                if events.send(Event::Hello(generation, hello)).is_err() || !go_on {
                    return;
                }
                loop {
                    let frame = stream::read_message(&mut input);
                    let last = frame.as_ref().is_err_and(|e| !e.in_step());
                    if events.send(Event::Frame(generation, frame)).is_err() || last {
                        return;
                    }
                }
            });
        if let Err(e) = reader {
            return End::Failed(HostError::NoSsh(e.to_string()));
        }
        if self.interval != super::serve::INTERVAL {
            self.send_control(Control::Interval {
                ms: u64::try_from(self.interval.as_millis()).unwrap_or(u64::MAX),
            });
        }
        let mut mirror = Mirror::default();
        let mut last = self.clock.now();
        let mut limit = self.timeouts.hello;
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return End::Stopped;
            }
            match self.received.recv_timeout(Duration::from_millis(200)) {
                Ok(Event::Stop) | Err(RecvTimeoutError::Disconnected) => return End::Stopped,
                Ok(Event::Control(control)) => self.send_control(control),
                Ok(Event::Hello(g, hello)) if g == generation => match hello {
                    Ok(Ok(hello)) => {
                        last = self.clock.now();
                        limit = self.timeouts.stalled.max(self.interval * 3);
                        let range = hello.ephemeral.to_model();
                        self.publish(|s| {
                            s.status.mode = Mode::Stream;
                            s.status.hello = Some(hello);
                            s.status.note = None;
                            s.ephemeral = Some(range);
                        });
                    }
                    Ok(Err(other)) => {
                        return End::Failed(HostError::OtherVersion(OtherVersion {
                            portscope: other.portscope.map(|p| escape(&p).into_owned()),
                            ..other
                        }));
                    }
                    Err(FrameError::Closed) => return End::Failed(self.why_ended()),
                    Err(e) => {
                        let why = escape(&e.to_string()).into_owned();
                        return End::Failed(HostError::Protocol(format!(
                            "{why} (does the login shell print to standard output?)"
                        )));
                    }
                },
                Ok(Event::Frame(g, frame)) if g == generation => {
                    last = self.clock.now();
                    match frame {
                        Ok(Body::Full(full)) => {
                            mirror.apply_full(full);
                            self.publish_table(&mirror, backoff);
                        }
                        Ok(Body::Delta(delta)) => {
                            if mirror.apply_delta(delta).is_err() {
                                self.send_control(Control::Refresh);
                            } else {
                                self.publish_table(&mirror, backoff);
                            }
                        }
                        Ok(Body::Error { message }) => {
                            self.publish(|s| s.poll_error = Some(message));
                        }
                        Ok(Body::Hello(_) | Body::Control(_)) => {}
                        Err(FrameError::Closed) => return End::Failed(self.why_ended()),
                        Err(e) if e.in_step() => {}
                        Err(e) => {
                            let why = escape(&e.to_string()).into_owned();
                            return End::Failed(HostError::Protocol(why));
                        }
                    }
                }
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    if stalled(last, self.clock.now(), limit) {
                        return End::Failed(HostError::Stalled(limit));
                    }
                }
            }
        }
    }

    fn send_control(&mut self, control: Control) {
        if let Some((_, Some(stdin), _)) = &mut self.child {
            let _ = stream::write_message(stdin, Body::Control(control));
        }
    }

    fn publish_table(&self, mirror: &Mirror, backoff: &mut Backoff) {
        let Some(table) = mirror.table() else {
            return;
        };
        backoff.succeeded();
        let poll = table.to_poll();
        let range = table.ephemeral.as_ref().map(stream::Range::to_model);
        let mut old = None;
        self.publish(|s| {
            // The table it replaces is let go after the lock.
            old = s.poll.replace(Arc::new(poll));
            s.poll_error = None;
            s.status.error = None;
            s.status.retry_at = None;
            s.status.tables += 1;
            if let Some(range) = range {
                s.ephemeral = Some(range);
            }
        });
        drop(old);
    }

    /// Read the host with `ss` at each interval until that fails.
    fn fallback(&mut self, backoff: &mut Backoff) -> End {
        loop {
            let marker = fallback::new_marker();
            let stdout = match self.spawn(&fallback::command(&marker)) {
                Ok(stdout) => stdout,
                Err(e) => return End::Failed(e),
            };
            let generation = self.generation;
            let events = self.events.clone();
            let reader = thread::Builder::new()
                .name("ssh-ss".to_owned())
                .spawn(move || {
                    let mut out = Vec::new();
                    let read = stdout.take(OUTPUT_KEPT).read_to_end(&mut out).map(|_| out);
                    let _ = events.send(Event::Output(generation, read));
                });
            if let Err(e) = reader {
                return End::Failed(HostError::NoSsh(e.to_string()));
            }
            let started = self.clock.now();
            let output = loop {
                if self.stop.load(Ordering::Relaxed) {
                    return End::Stopped;
                }
                match self.received.recv_timeout(Duration::from_millis(200)) {
                    Ok(Event::Stop) | Err(RecvTimeoutError::Disconnected) => return End::Stopped,
                    Ok(Event::Output(g, out)) if g == generation => break out,
                    Ok(_) => {}
                    Err(RecvTimeoutError::Timeout) => {
                        if stalled(started, self.clock.now(), self.timeouts.hello) {
                            return End::Failed(HostError::Stalled(self.timeouts.hello));
                        }
                    }
                }
            };
            let text = String::from_utf8_lossy(&output.unwrap_or_default()).into_owned();
            let Some(parsed) = fallback::parse_output(&text, &marker) else {
                return End::Failed(self.why_ended());
            };
            self.end_child();
            backoff.succeeded();
            let note = Some(fallback::mode_note(&parsed.poll.viewer));
            self.publish(|s| {
                s.status.mode = Mode::Fallback;
                s.status.note = note;
                s.status.error = None;
                s.status.retry_at = None;
                s.status.tables += 1;
                s.poll = Some(Arc::new(parsed.poll));
                s.poll_error = None;
                if let Some(range) = parsed.ephemeral {
                    s.ephemeral = Some(range);
                }
            });
            if self.wait(self.interval).is_err() {
                return End::Stopped;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_messages_become_reasons() {
        for (code, stderr, want) in [
            (
                Some(255),
                "ssh: connect to host 127.0.0.1 port 1: Connection refused\r\n",
                HostError::Refused,
            ),
            (
                Some(255),
                "root@127.0.0.1: Permission denied (publickey,password,keyboard-interactive).\r\n",
                HostError::AuthFailed,
            ),
            (
                Some(255),
                "Host key verification failed.\r\n",
                HostError::HostKeyUnknown,
            ),
            (
                Some(255),
                "@@@@@@@@\r\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\r\nHost key verification failed.\r\n",
                HostError::HostKeyChanged,
            ),
            (
                Some(127),
                "bash: line 1: portscope: command not found\n",
                HostError::NotInstalled,
            ),
            (Some(127), "", HostError::NotInstalled),
            (
                Some(255),
                "Connection timed out during banner exchange\r\nConnection to UNKNOWN port 65535 timed out\r\n",
                HostError::NoBanner,
            ),
        ] {
            assert_eq!(classify(code, stderr), want, "{stderr}");
        }
        match classify(
            Some(255),
            "ssh: Could not resolve hostname nowhere.invalid: Name or service not known\r\n",
        ) {
            HostError::Unreachable(why) => assert!(why.contains("nowhere.invalid"), "{why}"),
            other => panic!("{other:?}"),
        }
        // ssh's own words, from the host, are escaped.
        match classify(Some(1), "fine\n\x1b]0;pwned\x07 bad\n") {
            HostError::Ssh(line) => assert_eq!(line, r"\e]0;pwned\x07 bad"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_pause_doubles_to_a_minute_and_starts_over_after_a_table() {
        let mut b = Backoff::default();
        let pauses: Vec<u64> = (0..9).map(|_| b.failed().as_secs()).collect();
        assert_eq!(pauses, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        b.succeeded();
        assert_eq!(b.failed(), Duration::from_secs(1));
    }

    #[test]
    fn a_stream_is_stalled_only_past_its_limit() {
        let start = Instant::now();
        let limit = Duration::from_secs(15);
        assert!(!stalled(start, start + limit, limit));
        assert!(stalled(
            start,
            start + limit + Duration::from_millis(1),
            limit
        ));
        // A clock that went back is no stall.
        assert!(!stalled(start + limit, start, limit));
    }

    #[test]
    fn the_command_puts_the_users_options_first_and_never_takes_a_host_for_an_option() {
        let ssh = Ssh {
            program: "ssh".into(),
            prefix: vec!["-F".into(), "/tmp/config".into()],
            control_dir: Some("/run/user/1000".into()),
        };
        let command = ssh.command("-oProxyCommand=evil", SERVE);
        let args: Vec<String> = command
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(&args[..2], ["-F", "/tmp/config"]);
        assert!(args.contains(&"BatchMode=yes".to_owned()));
        assert!(args.contains(&"ControlPath=/run/user/1000/portscope-%C".to_owned()));
        let dashes = args.iter().position(|a| a == "--").unwrap();
        assert_eq!(&args[dashes + 1..], ["-oProxyCommand=evil", SERVE]);
    }

    /// An "ssh" that writes `wire` and then waits: `sh -c SCRIPT sh <ssh options> -- host
    /// command` (the options become the script's unused arguments).
    fn fake_host(wire: &[u8]) -> (tempfile::TempDir, Ssh) {
        let dir = tempfile::tempdir().unwrap();
        let frames = dir.path().join("frames");
        std::fs::write(&frames, wire).unwrap();
        let ssh = Ssh {
            program: "sh".into(),
            prefix: vec![
                "-c".into(),
                format!("cat '{}'; exec sleep 60", frames.display()).into(),
                "sh".into(),
            ],
            control_dir: None,
        };
        (dir, ssh)
    }

    fn first_error(source: &RemoteSource) -> HostError {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(error) = source.status().error {
                return error;
            }
            assert!(Instant::now() < deadline, "no failure reported");
            thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn a_login_that_prints_before_the_stream_is_a_broken_stream() {
        let (_dir, ssh) = fake_host(b"Welcome to the server!\n");
        let interval = super::super::serve::INTERVAL;
        let source = RemoteSource::start("chatty", ssh, interval, Timeouts::default());
        match first_error(&source) {
            HostError::Protocol(why) => assert!(why.contains("login shell"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_host_of_another_stream_version_is_too_old_or_too_new() {
        let body = br#"{"v":2,"kind":"hello","portscope":"9.9.9\u001b[2J","hostname":"x"}"#;
        let mut wire = (body.len() as u32).to_be_bytes().to_vec();
        wire.extend_from_slice(body);
        let (_dir, ssh) = fake_host(&wire);
        let mut source = RemoteSource::start(
            "old",
            ssh,
            super::super::serve::INTERVAL,
            Timeouts::default(),
        );
        assert!(matches!(first_error(&source), HostError::OtherVersion(_)));
        let message = source.poll().unwrap_err().to_string();
        assert!(
            message
                .contains(r"old: its portscope (9.9.9\e[2J) speaks stream version 2, this one 1"),
            "{message}"
        );
    }

    /// A "host" that says hello and then nothing: the source ends it and says the stream
    /// stopped, within its limit (3 intervals here), and tries again later.
    #[test]
    fn a_stream_that_stops_moving_is_ended_and_reported() {
        let mut wire = Vec::new();
        stream::write_message(
            &mut wire,
            Body::Hello(super::super::serve::hello(&EphemeralRange::linux_default())),
        )
        .unwrap();
        let (_dir, ssh) = fake_host(&wire);
        let timeouts = Timeouts {
            hello: Duration::from_secs(10),
            stalled: Duration::from_millis(100),
            poll: Duration::from_millis(10),
        };
        let interval = Duration::from_millis(300);
        let start = Instant::now();
        let mut source = RemoteSource::start("quiet", ssh, interval, timeouts);
        assert_eq!(first_error(&source), HostError::Stalled(interval * 3));
        assert!(start.elapsed() >= interval * 3);
        let status = source.status();
        assert_eq!(status.mode, Mode::Stream);
        assert!(status.hello.is_some() && status.retry_at.is_some());
        let message = source.poll().unwrap_err().to_string();
        assert!(
            message.contains("quiet: the stream stopped: nothing came for 900ms; trying again in"),
            "{message}"
        );
    }
}
