//! `portscope list --host user@server [--host …]`: other machines' sockets, read over `ssh`
//! (see [`crate::collect::remote`]), listed as one array or table with a `host` on every
//! record: the host as it was given, so an ssh alias stays the alias.
//!
//! Hosts are read at once, each on its own thread, and fail alone: a host that cannot be read
//! is one line on standard error, with the reason, and the exit code is 1; the others are
//! listed. Filters and `--sort` work as for this machine, within each host.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use super::list::Plan;
use crate::collect::remote::{Mode, RemoteSource, Ssh, Timeouts, serve};
use crate::collect::snapshot_once;
use crate::model::Snapshot;
use crate::model::text::escape;

/// List the hosts `plan` names.
pub fn run(plan: &Plan<'_>, hosts: &[String]) -> ExitCode {
    if let Some(bad) = hosts.iter().find(|h| h.is_empty() || h.starts_with('-')) {
        eprintln!("portscope: '{}' is not a host", escape(bad));
        return ExitCode::from(2);
    }
    let ssh = match Ssh::from_env() {
        Ok(ssh) => ssh,
        Err(e) => {
            eprintln!("portscope: {}", escape(&e));
            return ExitCode::from(2);
        }
    };
    let timeouts = Timeouts::default();
    let sources: Vec<RemoteSource> = hosts
        .iter()
        .map(|host| RemoteSource::start(host, ssh.clone(), serve::INTERVAL, timeouts))
        .collect();
    let within = timeouts.hello + Duration::from_secs(5);
    let mut failed = false;
    let mut snaps: Vec<(&str, Snapshot)> = Vec::new();
    for (name, mut source) in hosts.iter().zip(sources) {
        let host = escape(source.host()).into_owned();
        let result = source
            .wait_first(within)
            .map_err(|e| e.to_string())
            .and_then(|()| snapshot_once(&mut source).map_err(|e| e.to_string()));
        match result {
            Ok(mut snap) => {
                // Which machine it is, for `host:` terms.
                snap.machine = Some(crate::model::MachineName {
                    host: Some(name.clone()),
                    name: name.clone(),
                    stale: None,
                });
                let status = source.status();
                if status.mode == Mode::Fallback
                    && let Some(note) = status.note
                {
                    eprintln!("portscope: {host}: {note}");
                }
                snaps.push((name.as_str(), snap));
            }
            Err(e) => {
                failed = true;
                eprintln!("portscope: {host}: {e}");
            }
        }
    }
    let parts: Vec<(&str, &Snapshot)> = snaps.iter().map(|(h, s)| (*h, s)).collect();
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    match plan
        .write_hosts(&parts, &mut out)
        .and_then(|()| out.flush())
    {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        Err(e) => {
            eprintln!("portscope: cannot write output: {e}");
            return ExitCode::from(2);
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
