//! `portscope kill PORT` and `portscope close PORT|ADDR:PORT`: what people do from a terminal
//! every day (`fuser -k 3000/tcp`, `npx kill-port 3000`, `ss -K`), with the checks of the
//! window's *End process* and *Close connection*.
//!
//! Both say what they are about to do and ask, unless `--yes`; both print what they did.
//! Exit codes: 0 done, 1 nothing matched, 2 refused or failed (with the reason and, where there
//! is one, what would work).

use std::io::{self, BufRead, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::act::close::{self, CloseError};
use crate::act::signal::{self, KillError, Signal, Target};
use crate::model::text::escape;
use crate::model::{Owner, Proto, Snapshot, SockState, Socket};

/// How long `kill` waits to say whether the processes ended.
const WAIT_FOR_EXIT: Duration = Duration::from_secs(3);

#[derive(Debug, Args)]
pub struct KillArgs {
    /// The port a server listens on (0–65535).
    #[arg(value_parser = super::port_arg, allow_negative_numbers = true,
          required_unless_present = "pid", conflicts_with = "pid")]
    pub port: Option<u16>,
    /// End this one process, by its PID, instead of the listeners on a port. Exits 1 when
    /// there is no such process.
    #[arg(long, value_name = "PID", conflicts_with_all = ["tcp", "udp"])]
    pub pid: Option<u32>,
    /// With --pid: only if the process started at this time (seconds since the Unix epoch, as
    /// `list --json` shows it), so that a process which took over the PID meanwhile is spared.
    #[arg(long, value_name = "SECONDS", requires = "pid")]
    pub started: Option<u64>,
    /// The signal to send.
    #[arg(long, short, value_enum, default_value_t = SignalArg::Term)]
    pub signal: SignalArg,
    /// Only processes listening on the TCP port.
    #[arg(long, short, conflicts_with = "udp")]
    pub tcp: bool,
    /// Only processes bound to the UDP port.
    #[arg(long, short)]
    pub udp: bool,
    /// Do not ask.
    #[arg(long, short)]
    pub yes: bool,
    /// On another machine, over ssh (the portscope installed there does it).
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
}

impl KillArgs {
    /// These arguments, as the same command on another machine takes them.
    pub fn remote_args(&self) -> Vec<String> {
        let mut args = vec!["kill".to_owned()];
        if let Some(port) = self.port {
            args.push(port.to_string());
        }
        if let Some(pid) = self.pid {
            args.extend(["--pid".to_owned(), pid.to_string()]);
        }
        if let Some(started) = self.started {
            args.extend(["--started".to_owned(), started.to_string()]);
        }
        args.extend([
            "--signal".to_owned(),
            match self.signal {
                SignalArg::Term => "TERM",
                SignalArg::Kill => "KILL",
            }
            .to_owned(),
        ]);
        for (on, flag) in [
            (self.tcp, "--tcp"),
            (self.udp, "--udp"),
            (self.yes, "--yes"),
        ] {
            if on {
                args.push(flag.to_owned());
            }
        }
        args
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SignalArg {
    /// SIGTERM: ask the process to end.
    #[value(name = "TERM", alias = "term", alias = "SIGTERM")]
    Term,
    /// SIGKILL: end it at once.
    #[value(name = "KILL", alias = "kill", alias = "SIGKILL")]
    Kill,
}

#[derive(Debug, Args)]
pub struct CloseArgs {
    /// A port (every TCP connection with it at either end, and its listener), one end as
    /// ADDR:PORT (`127.0.0.1:8080`, `[::1]:8080`), or one socket as LOCAL-REMOTE
    /// (`127.0.0.1:8080-127.0.0.1:41000`; `127.0.0.1:8080-*` for a listener alone).
    #[arg(value_parser = parse_target)]
    pub target: CloseTarget,
    /// Only the socket with this cookie (the kernel's socket ID, as `list --json` shows it).
    #[arg(long, value_name = "COOKIE")]
    pub cookie: Option<u64>,
    /// Do not ask.
    #[arg(long, short)]
    pub yes: bool,
    /// On another machine, over ssh (the portscope installed there does it).
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
}

impl CloseArgs {
    /// These arguments, as the same command on another machine takes them.
    pub fn remote_args(&self) -> Vec<String> {
        let mut args = vec!["close".to_owned(), self.target.to_string()];
        if let Some(cookie) = self.cookie {
            args.extend(["--cookie".to_owned(), cookie.to_string()]);
        }
        if self.yes {
            args.push("--yes".to_owned());
        }
        args
    }
}

/// What `close` closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseTarget {
    Port(u16),
    End(SocketAddr),
    /// One socket by both its ends; no remote end: a socket without a peer (a listener).
    Socket {
        local: SocketAddr,
        remote: Option<SocketAddr>,
    },
}

fn parse_target(text: &str) -> Result<CloseTarget, String> {
    let text = text.trim();
    if let Ok(end) = SocketAddr::from_str(text) {
        return Ok(CloseTarget::End(end));
    }
    // No address holds a `-`, so the first one parts the two ends.
    if let Some((local, remote)) = text.split_once('-')
        && let Ok(local) = SocketAddr::from_str(local)
    {
        let remote = match remote {
            "*" => None,
            r => Some(SocketAddr::from_str(r).map_err(|e| format!("{r}: {e}"))?),
        };
        return Ok(CloseTarget::Socket { local, remote });
    }
    super::port_arg(text).map(CloseTarget::Port).map_err(|e| {
        format!("{e}; or give one end as ADDR:PORT (127.0.0.1:8080), or one socket as LOCAL-REMOTE")
    })
}

impl std::fmt::Display for CloseTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CloseTarget::Port(port) => write!(f, "{port}"),
            CloseTarget::End(end) => write!(f, "{end}"),
            CloseTarget::Socket {
                local,
                remote: Some(remote),
            } => write!(f, "{local}-{remote}"),
            CloseTarget::Socket {
                local,
                remote: None,
            } => write!(f, "{local}-*"),
        }
    }
}

impl CloseTarget {
    fn matches(self, s: &Socket) -> bool {
        let local = SocketAddr::new(s.local_addr, s.local_port);
        let remote = s.remote_addr.zip(s.remote_port).map(SocketAddr::from);
        match self {
            CloseTarget::Port(port) => s.local_port == port || s.remote_port == Some(port),
            CloseTarget::End(end) => local == end || remote == Some(end),
            CloseTarget::Socket {
                local: want_local,
                remote: want_remote,
            } => local == want_local && remote == want_remote,
        }
    }
}

/// Where the answer to "Go ahead?" comes from, and where the question goes: the terminal in
/// real use, anything in tests.
pub struct Prompt<'a> {
    pub input: &'a mut dyn BufRead,
    pub question: &'a mut dyn Write,
}

impl Prompt<'_> {
    fn confirm(&mut self, what: &str) -> io::Result<bool> {
        write!(self.question, "{what} [y/N] ")?;
        self.question.flush()?;
        let mut answer = String::new();
        self.input.read_line(&mut answer)?;
        Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes" | "YES"))
    }
}

/// `kill PORT`: end the processes listening on a port; `kill --pid N`: end that one.
pub fn kill(
    args: &KillArgs,
    snap: &Snapshot,
    out: &mut dyn Write,
    prompt: &mut Prompt<'_>,
) -> io::Result<ExitCode> {
    let port = match (args.pid, args.port) {
        (Some(pid), _) => return kill_pid(args, pid, snap, out, prompt),
        (None, Some(port)) => port,
        // clap requires one of the two.
        (None, None) => {
            writeln!(out, "Give a port or --pid.")?;
            return Ok(ExitCode::from(2));
        }
    };
    let listening: Vec<&Socket> = snap
        .sockets
        .iter()
        .filter(|s| s.local_port == port && s.state.is_listening())
        .filter(|s| s.proto == Proto::Tcp || s.state == SockState::Unconn)
        .filter(|s| match (args.tcp, args.udp) {
            (true, _) => s.proto == Proto::Tcp,
            (_, true) => s.proto == Proto::Udp,
            _ => true,
        })
        .collect();
    if listening.is_empty() {
        writeln!(out, "Nothing listens on port {port}.")?;
        return Ok(ExitCode::from(1));
    }
    let mut targets: Vec<Target> = Vec::new();
    let mut hidden: Vec<String> = Vec::new();
    for s in &listening {
        match snap.owner(s) {
            Owner::Processes(list) => {
                for (pid, info) in list {
                    if targets.iter().any(|t| t.pid == pid) {
                        continue;
                    }
                    targets.push(match info {
                        Some(p) => Target {
                            pid,
                            start_time: p.start_time,
                            name: p.name.clone(),
                            uid: p.uid,
                            user: p.user.clone(),
                        },
                        None => Target {
                            pid,
                            ..Target::default()
                        },
                    });
                }
            }
            Owner::None(reason) => hidden.push(format!(
                "{} {}: {}",
                s.proto.label(),
                s.local_endpoint(),
                escape(&reason.explain())
            )),
        }
    }
    if targets.is_empty() {
        for line in &hidden {
            writeln!(out, "{line}")?;
        }
        writeln!(
            out,
            "Port {port} is held, but not by a process portscope can see."
        )?;
        return Ok(ExitCode::from(2));
    }
    let code = send_all(args, &targets, snap, out, prompt)?;
    for line in &hidden {
        writeln!(out, "Also on the port: {line}")?;
    }
    Ok(code)
}

/// `kill --pid N [--started T]`: end one process, as the table showed it.
fn kill_pid(
    args: &KillArgs,
    pid: u32,
    snap: &Snapshot,
    out: &mut dyn Write,
    prompt: &mut Prompt<'_>,
) -> io::Result<ExitCode> {
    // Only a process that is there now matches; its start time then guards the signal.
    let Some(now) = signal::start_time_of(pid) else {
        writeln!(out, "No process has PID {pid}.")?;
        return Ok(ExitCode::from(1));
    };
    // The process chosen ended and another took its PID: nothing of what was chosen is left.
    if let Some(started) = args.started
        && started.abs_diff(now) > signal::START_TIME_SLACK_SECS
    {
        writeln!(
            out,
            "No process has PID {pid} any more: the one that started at {started} ended, and \
             PID {pid} is now another process (started at {now}); nothing was sent."
        )?;
        return Ok(ExitCode::from(1));
    }
    let target = match snap.process(pid) {
        Some(p) => Target {
            pid,
            start_time: args.started.or(p.start_time).or(Some(now)),
            name: p.name.clone(),
            uid: p.uid,
            user: p.user.clone(),
        },
        None => Target {
            pid,
            start_time: args.started.or(Some(now)),
            ..Target::default()
        },
    };
    send_all(args, &[target], snap, out, prompt)
}

/// Ask once, then signal each target and wait for it to end.
fn send_all(
    args: &KillArgs,
    targets: &[Target],
    snap: &Snapshot,
    out: &mut dyn Write,
    prompt: &mut Prompt<'_>,
) -> io::Result<ExitCode> {
    let signal = match args.signal {
        SignalArg::Term => Signal::Terminate,
        SignalArg::Kill => Signal::Kill,
    };
    let names: Vec<String> = targets.iter().map(|t| describe(snap, t)).collect();
    if !args.yes && !prompt.confirm(&format!("Send {} to {}?", signal.name(), names.join(", ")))? {
        writeln!(out, "Nothing was sent.")?;
        return Ok(ExitCode::from(2));
    }
    let mut failed = false;
    for (target, name) in targets.iter().zip(&names) {
        match signal::send(target, signal) {
            Ok(()) => {
                write!(out, "Sent {} to {name}", signal.name())?;
                if signal::wait_gone(target.pid, target.start_time, WAIT_FOR_EXIT) {
                    writeln!(out, ": it ended.")?;
                } else {
                    writeln!(
                        out,
                        ": still running after {} s (try --signal KILL).",
                        WAIT_FOR_EXIT.as_secs()
                    )?;
                    failed = true;
                }
            }
            Err(e) => {
                failed = true;
                writeln!(out, "Not sent to {name}: {}", escape(&refusal_text(&e)))?;
            }
        }
    }
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn refusal_text(e: &KillError) -> String {
    e.to_string()
}

/// `python3 (PID 1234, user alice): python3 -m http.server 8000`, escaped for a terminal.
fn describe(snap: &Snapshot, target: &Target) -> String {
    let mut text = if target.name.is_empty() {
        format!("PID {}", target.pid)
    } else {
        format!("{} (PID {}", escape(&target.name), target.pid)
    };
    if !target.name.is_empty() {
        if let Some(user) = &target.user {
            text.push_str(&format!(", user {}", escape(user)));
        }
        text.push(')');
    }
    if let Some(p) = snap.process(target.pid)
        && !p.cmdline.is_empty()
    {
        text.push_str(&format!(": {}", escape(&p.cmdline_string())));
    }
    text
}

/// `close PORT|ADDR:PORT`: close the matching TCP connections and listeners.
pub fn close(
    args: &CloseArgs,
    snap: &Snapshot,
    out: &mut dyn Write,
    prompt: &mut Prompt<'_>,
) -> io::Result<ExitCode> {
    let matching: Vec<&Socket> = snap
        .sockets
        .iter()
        .filter(|s| args.target.matches(s) && close::closable(s).is_ok())
        .filter(|s| args.cookie.is_none_or(|c| s.cookie == c))
        .collect();
    if matching.is_empty() {
        let what = match args.target {
            CloseTarget::Port(port) => format!("port {port}"),
            target => target.to_string(),
        };
        writeln!(out, "No TCP connection or listener on {what}.")?;
        return Ok(ExitCode::from(1));
    }
    if !args.yes {
        writeln!(out, "These will be closed:")?;
        for s in &matching {
            writeln!(out, "  {}  {}", s.summary(), escape(&snap.process_label(s)))?;
        }
        if !prompt.confirm(&format!("Close {}?", plural(matching.len())))? {
            writeln!(out, "Nothing was closed.")?;
            return Ok(ExitCode::from(2));
        }
    }
    let mut failed = false;
    for s in matching {
        match close::close(s) {
            Ok(()) => writeln!(out, "Closed {}", s.summary())?,
            Err(CloseError::Gone) => writeln!(out, "Already gone: {}", s.summary())?,
            Err(e) => {
                failed = true;
                writeln!(out, "Not closed: {}: {e}", s.summary())?;
            }
        }
    }
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn plural(n: usize) -> String {
    if n == 1 {
        "1 socket".to_owned()
    } else {
        format!("{n} sockets")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_read_as_a_port_or_one_end() {
        assert_eq!(parse_target("8080"), Ok(CloseTarget::Port(8080)));
        assert_eq!(
            parse_target("127.0.0.1:8080"),
            Ok(CloseTarget::End("127.0.0.1:8080".parse().unwrap()))
        );
        assert_eq!(
            parse_target("[::1]:53"),
            Ok(CloseTarget::End("[::1]:53".parse().unwrap()))
        );
        let socket = parse_target("[::1]:53-[::1]:40000").unwrap();
        assert_eq!(
            socket,
            CloseTarget::Socket {
                local: "[::1]:53".parse().unwrap(),
                remote: Some("[::1]:40000".parse().unwrap())
            }
        );
        assert_eq!(socket.to_string(), "[::1]:53-[::1]:40000");
        let listener = parse_target("127.0.0.1:80-*").unwrap();
        assert_eq!(listener.to_string(), "127.0.0.1:80-*");
        assert!(parse_target("127.0.0.1:80-nowhere").is_err());
        for bad in ["", "http", "65536", "1.2.3.4", "[::1]", "-1"] {
            let e = parse_target(bad).unwrap_err();
            assert!(e.contains("ADDR:PORT"), "{bad}: {e}");
        }
    }

    #[test]
    fn an_answer_other_than_yes_is_no() {
        for (answer, yes) in [
            ("y\n", true),
            ("yes\n", true),
            ("\n", false),
            ("n\n", false),
            ("", false),
        ] {
            let mut input = answer.as_bytes();
            let mut question = Vec::new();
            let mut prompt = Prompt {
                input: &mut input,
                question: &mut question,
            };
            assert_eq!(prompt.confirm("Go?").unwrap(), yes, "{answer:?}");
            assert_eq!(question, b"Go? [y/N] ");
        }
    }
}
