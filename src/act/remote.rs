//! Ending a process or closing a connection on another machine, for a caller without a
//! terminal (the window, on a worker thread).
//!
//! The host's own portscope does it — `portscope kill --pid N --yes`, `portscope close
//! LOCAL-REMOTE --cookie C --yes` — over the same `ssh` as reading the host, so the host's
//! checks apply (PID 1, a PID reused since the table was drawn, a socket that is not closable)
//! and its user's rights decide. Nothing but portscope's own arguments (numbers, addresses,
//! fixed flags) is sent, each quoted for the remote shell, and standard input is closed: the
//! remote never waits for an answer.
//!
//! The remote's exit code and words become a [`RemoteOutcome`]: 0 done, 1 nothing matched, 2
//! refused (told apart from "not allowed" by the last sentence of a refusal, which is always
//! portscope's own, never a process's name); any other code is ssh's, classified as for
//! reading a host. Everything the host says is escaped: process names in it are hostile. A
//! deadline ends ssh if the host does not finish in time.

use std::io::Read;
use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::act::signal::Signal;
use crate::collect::remote::ssh::classify;
use crate::collect::remote::{HostError, Ssh};
use crate::model::text::escape;

/// How long an action may take by default: connecting, the remote's checks, and the 3 s it
/// waits for a process to end.
pub const DEADLINE: Duration = Duration::from_secs(30);
/// The most of each of the remote's outputs kept.
const KEPT: u64 = 64 * 1024;

/// What to do on the host, as its table showed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RemoteAction {
    /// Send `signal` to the process `pid`; `start_time` (seconds since the epoch, the host's
    /// own [`ProcessInfo::start_time`](crate::model::ProcessInfo::start_time)) spares a process
    /// that took the PID over since.
    End {
        pid: u32,
        start_time: Option<u64>,
        signal: Signal,
    },
    /// Close one TCP connection (or, with no remote end, a listener); a `cookie` other than 0
    /// names exactly that socket.
    Close {
        local: SocketAddr,
        remote: Option<SocketAddr>,
        cookie: u64,
    },
}

impl RemoteAction {
    /// The arguments of the host's portscope.
    pub fn args(&self) -> Vec<String> {
        match self {
            RemoteAction::End {
                pid,
                start_time,
                signal,
            } => {
                let mut args = vec!["kill".to_owned(), "--pid".to_owned(), pid.to_string()];
                if let Some(started) = start_time {
                    args.extend(["--started".to_owned(), started.to_string()]);
                }
                let signal = match signal {
                    Signal::Terminate => "TERM",
                    Signal::Kill => "KILL",
                };
                args.extend(["--signal".to_owned(), signal.to_owned(), "--yes".to_owned()]);
                args
            }
            RemoteAction::Close {
                local,
                remote,
                cookie,
            } => {
                let remote = remote.map_or("*".to_owned(), |r| r.to_string());
                let mut args = vec!["close".to_owned(), format!("{local}-{remote}")];
                if *cookie != 0 {
                    args.extend(["--cookie".to_owned(), cookie.to_string()]);
                }
                args.push("--yes".to_owned());
                args
            }
        }
    }
}

/// How it went. Every text is the host's, escaped (controls shown as `\e`, `\n`, …), one
/// line per line it printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RemoteOutcome {
    /// Done, as the host's portscope says.
    Done { message: String },
    /// No such process (or the one chosen ended and another took its PID), or no such
    /// socket, on the host now.
    NothingMatched { message: String },
    /// The SSH user may not do it there: the host's words, and what would work.
    NotPermitted { message: String, advice: String },
    /// The host's portscope refused or failed for another reason (PID 1, a process still
    /// running after SIGTERM, a portscope too old for these options).
    Refused { message: String },
    /// There is no portscope on the host.
    NotInstalled,
    /// ssh itself failed: the reason, as for reading the host.
    Ssh(HostError),
    /// Nothing came back within the deadline; ssh was ended.
    TimedOut(Duration),
}

/// The remote shell's command line for `portscope <args>`, every word quoted.
pub fn remote_command(args: &[String]) -> String {
    shell_words::join(std::iter::once("portscope").chain(args.iter().map(String::as_str)))
}

/// Whether `host` may be handed to ssh: not empty, not an option.
pub fn check_host(host: &str) -> Result<(), String> {
    if host.is_empty() || host.starts_with('-') {
        Err(format!("'{}' is not a host", escape(host)))
    } else {
        Ok(())
    }
}

/// Do `action` on `host` and say how it went, within `deadline`. Blocks: call it from a
/// worker thread.
pub fn run(ssh: &Ssh, host: &str, action: &RemoteAction, deadline: Duration) -> RemoteOutcome {
    if let Err(e) = check_host(host) {
        return RemoteOutcome::Ssh(HostError::Ssh(e));
    }
    let args = action.args();
    let mut command = ssh.command(host, &remote_command(&args));
    command.stdin(Stdio::null());
    let child = match command.spawn() {
        Ok(child) => child,
        Err(e) => return RemoteOutcome::Ssh(HostError::NoSsh(e.to_string())),
    };
    match finish(child, Instant::now() + deadline) {
        Some((code, stdout, stderr)) => outcome(host, &args, code, &stdout, &stderr),
        None => RemoteOutcome::TimedOut(deadline),
    }
}

/// Read the child's outputs and wait for it, until `deadline`; past it, end it: `None`.
fn finish(mut child: Child, deadline: Instant) -> Option<(Option<i32>, String, String)> {
    let (send, outputs) = mpsc::channel();
    let readers: Vec<Box<dyn Read + Send>> = [
        child
            .stdout
            .take()
            .map(|o| Box::new(o) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|e| Box::new(e) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .collect();
    let expected = readers.len();
    for (i, reader) in readers.into_iter().enumerate() {
        let send = send.clone();
        let spawned = thread::Builder::new()
            .name("remote-act".to_owned())
            .spawn(move || {
                let mut kept = Vec::new();
                let mut reader = reader;
                let _ = reader.by_ref().take(KEPT).read_to_end(&mut kept);
                // Drain the rest, so the remote never blocks on a full pipe.
                let _ = std::io::copy(&mut reader, &mut std::io::sink());
                let _ = send.send((i, kept));
            });
        if spawned.is_err() {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
    }
    drop(send);
    let mut texts = [Vec::new(), Vec::new()];
    for _ in 0..expected {
        let left = deadline.saturating_duration_since(Instant::now());
        match outputs.recv_timeout(left) {
            Ok((i, text)) => texts[i] = text,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    // Both outputs closed: ssh is ending. Wait for its code, within the deadline too.
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    };
    let [stdout, stderr] = texts.map(|t| String::from_utf8_lossy(&t).into_owned());
    Some((status.code(), stdout, stderr))
}

/// What the remote's exit code and words mean.
pub fn outcome(
    host: &str,
    args: &[String],
    code: Option<i32>,
    stdout: &str,
    stderr: &str,
) -> RemoteOutcome {
    let said = || {
        let text = format!("{}{}", stdout, stderr);
        escape_keeping_lines(text.trim_end())
    };
    match code {
        Some(0) => RemoteOutcome::Done { message: said() },
        Some(1) => RemoteOutcome::NothingMatched { message: said() },
        Some(2) if not_permitted(stdout) => RemoteOutcome::NotPermitted {
            message: said(),
            advice: format!(
                "the SSH user on {} lacks the right: log in there as the process's owner or \
                 as root, or run `sudo {}` on the host",
                escape(host),
                escape(&remote_command(args))
            ),
        },
        Some(2) => RemoteOutcome::Refused { message: said() },
        code => match classify(code, stderr) {
            HostError::NotInstalled => RemoteOutcome::NotInstalled,
            e => RemoteOutcome::Ssh(e),
        },
    }
}

/// Whether portscope's words say the user lacks the right. Each refusal's line ends in
/// portscope's own sentence (a process's name comes earlier in the line, never last), and a
/// close's line holds addresses and portscope's words alone.
fn not_permitted(stdout: &str) -> bool {
    stdout.lines().any(|line| {
        (line.starts_with("Not sent to ")
            && (line.ends_with("or with sudo to end it.")
                || line.ends_with("Run portscope with sudo to end it.")))
            || (line.starts_with("Not closed: ") && line.contains("needs root (CAP_NET_ADMIN)"))
    })
}

/// Text from the host with every control character escaped but its line ends.
pub fn escape_keeping_lines(text: &str) -> String {
    text.split_inclusive('\n')
        .map(|line| {
            let (body, end) = match line.strip_suffix('\n') {
                Some(body) => (body, "\n"),
                None => (line, ""),
            };
            format!("{}{end}", escape(body))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::act::close::CloseError;
    use crate::act::signal::KillError;

    fn args() -> Vec<String> {
        RemoteAction::End {
            pid: 42,
            start_time: Some(1_700_000_000),
            signal: Signal::Terminate,
        }
        .args()
    }

    #[test]
    fn actions_become_the_hosts_portscope_arguments() {
        assert_eq!(
            remote_command(&args()),
            "portscope kill --pid 42 --started 1700000000 --signal TERM --yes"
        );
        let close = RemoteAction::Close {
            local: "[::1]:8080".parse().unwrap(),
            remote: Some("[::1]:40000".parse().unwrap()),
            cookie: 77,
        };
        assert_eq!(
            remote_command(&close.args()),
            "portscope close '[::1]:8080-[::1]:40000' --cookie 77 --yes"
        );
        let listener = RemoteAction::Close {
            local: "127.0.0.1:80".parse().unwrap(),
            remote: None,
            cookie: 0,
        };
        assert_eq!(
            remote_command(&listener.args()),
            "portscope close '127.0.0.1:80-*' --yes"
        );
    }

    #[test]
    fn the_remotes_words_and_codes_become_outcomes() {
        let denied = KillError::PermissionDenied {
            pid: 42,
            owner: Some("alice".to_owned()),
            advice: "Run portscope as user alice or with sudo to end it.".to_owned(),
        };
        let line = format!("Not sent to sleep (PID 42, user alice): {denied}\n");
        match outcome("h", &args(), Some(2), &line, "") {
            RemoteOutcome::NotPermitted { message, advice } => {
                assert!(message.contains("belongs to user alice"), "{message}");
                assert!(advice.contains("sudo portscope kill --pid 42"), "{advice}");
            }
            other => panic!("{other:?}"),
        }
        let root = KillError::PermissionDenied {
            pid: 1,
            owner: Some("root".to_owned()),
            advice: "Run portscope with sudo to end it.".to_owned(),
        };
        let line = format!("Not sent to PID 9: {root}\n");
        assert!(matches!(
            outcome("h", &args(), Some(2), &line, ""),
            RemoteOutcome::NotPermitted { .. }
        ));
        let close = CloseError::NotPermitted {
            command: "sudo ss -K -t src 127.0.0.1:1 dst 127.0.0.1:2".to_owned(),
        };
        let line = format!("Not closed: tcp 127.0.0.1:1 -> 127.0.0.1:2: {close}\n");
        match outcome("h", &args(), Some(2), &line, "") {
            RemoteOutcome::NotPermitted { message, .. } => {
                assert!(message.contains("sudo ss -K"), "{message}")
            }
            other => panic!("{other:?}"),
        }
        // A process named like the refusal is not one.
        let gone = KillError::Gone {
            pid: 9,
            name: "x or with sudo to end it.".to_owned(),
        };
        let line = format!("Not sent to x or with sudo to end it. (PID 9): {gone}\n");
        assert!(matches!(
            outcome("h", &args(), Some(2), &line, ""),
            RemoteOutcome::Refused { .. }
        ));
        assert_eq!(
            outcome("h", &args(), Some(0), "Sent SIGTERM to x: it ended.\n", ""),
            RemoteOutcome::Done {
                message: "Sent SIGTERM to x: it ended.".to_owned()
            }
        );
        assert!(matches!(
            outcome("h", &args(), Some(1), "No process has PID 42.\n", ""),
            RemoteOutcome::NothingMatched { .. }
        ));
        assert_eq!(
            outcome("h", &args(), Some(127), "", "sh: 1: portscope: not found\n"),
            RemoteOutcome::NotInstalled
        );
        assert_eq!(
            outcome(
                "h",
                &args(),
                Some(255),
                "",
                "Host key verification failed.\r\n"
            ),
            RemoteOutcome::Ssh(HostError::HostKeyUnknown)
        );
    }

    #[test]
    fn the_hosts_text_is_escaped_line_by_line() {
        match outcome(
            "h",
            &args(),
            Some(0),
            "Sent SIGTERM to \x1b]0;pwned\x07 (PID 4): it ended.\nsecond\n",
            "",
        ) {
            RemoteOutcome::Done { message } => assert_eq!(
                message,
                "Sent SIGTERM to \\e]0;pwned\\x07 (PID 4): it ended.\nsecond"
            ),
            other => panic!("{other:?}"),
        }
        assert!(check_host("-oProxyCommand=x").is_err());
        assert!(check_host("").is_err());
        assert!(check_host("user@db1").is_ok());
    }

    /// An "ssh" that never ends: the deadline ends it.
    #[test]
    fn a_host_that_never_answers_is_given_up_at_the_deadline() {
        let ssh = Ssh {
            program: "sh".into(),
            prefix: vec!["-c".into(), "exec sleep 60".into(), "sh".into()],
            control_dir: None,
        };
        let start = Instant::now();
        let action = RemoteAction::End {
            pid: 42,
            start_time: None,
            signal: Signal::Terminate,
        };
        let got = run(&ssh, "h", &action, Duration::from_millis(300));
        assert_eq!(got, RemoteOutcome::TimedOut(Duration::from_millis(300)));
        assert!(start.elapsed() < Duration::from_secs(10));
    }
}
