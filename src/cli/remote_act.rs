//! `portscope kill PORT --host H` and `portscope close TARGET --host H`: the same command, run
//! by the portscope on that host over the same `ssh` as `list --host`, so it goes through the
//! same checks, the same confirmation (the question comes back on standard error, the answer
//! goes from standard input) and says the same when the remote user lacks the right.
//!
//! Nothing but portscope's own arguments (numbers, an address, fixed flags) is sent, each
//! quoted for the remote shell. When ssh itself fails the reason is said as for `list --host`;
//! the remote command's exit code is passed on. The window does the same without a terminal
//! through [`act::remote`](crate::act::remote), whose command line and escaping this shares.

use std::io::{self, Read, Write};
use std::process::{ExitCode, Stdio};
use std::thread;

use crate::act::remote::{check_host, escape_keeping_lines, remote_command};
use crate::collect::remote::ssh::classify;
use crate::collect::remote::{HostError, Ssh};
use crate::model::text::escape;

/// The most of the remote's standard error kept to tell why ssh failed.
const STDERR_KEPT: usize = 16 * 1024;

/// Run `portscope <args>` on `host`.
pub fn run(host: &str, args: &[String]) -> ExitCode {
    if let Err(e) = check_host(host) {
        eprintln!("portscope: {e}");
        return ExitCode::from(2);
    }
    let ssh = match Ssh::from_env() {
        Ok(ssh) => ssh,
        Err(e) => {
            eprintln!("portscope: {}", escape(&e));
            return ExitCode::from(2);
        }
    };
    let mut command = ssh.command(host, &remote_command(args));
    command
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped());
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            eprintln!(
                "portscope: {host}: {}",
                HostError::NoSsh(e.to_string()),
                host = escape(host)
            );
            return ExitCode::from(2);
        }
    };
    // The remote's messages and questions pass through as they come (escaped: they are the
    // host's text); the start and end are kept to tell why ssh failed.
    let kept = child.stderr.take().map(|mut stderr| {
        thread::spawn(move || {
            let mut kept = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                match stderr.read(&mut buf) {
                    Ok(0) | Err(_) => return kept,
                    Ok(n) => {
                        let text = String::from_utf8_lossy(&buf[..n]);
                        let mut err = io::stderr();
                        let _ = err.write_all(escape_keeping_lines(&text).as_bytes());
                        let _ = err.flush();
                        if kept.len() < STDERR_KEPT {
                            kept.extend_from_slice(&buf[..n]);
                        }
                    }
                }
            }
        })
    });
    let status = match child.wait() {
        Ok(status) => status,
        Err(e) => {
            eprintln!("portscope: {}: {e}", escape(host));
            return ExitCode::from(2);
        }
    };
    let stderr = kept
        .and_then(|t| t.join().ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    match status.code() {
        // portscope's own answers: done, nothing matched, refused.
        Some(code @ 0..=2) => ExitCode::from(code as u8),
        code => {
            let why = classify(code, &stderr);
            eprintln!("portscope: {}: {why}", escape(host));
            ExitCode::from(2)
        }
    }
}
