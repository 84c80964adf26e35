//! `portscope check`: the machine-wide check for servers listening inside the ephemeral range,
//! for people and for scripts (exit 1 when there is one, so a deployment's CI can fail on it).
//! Each is printed with its process and this OS's remedy.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Args;

use super::{owner_words, socket_line};
use crate::knowledge::{CheckCommand, reserve_commands};
use crate::model::Snapshot;
use crate::model::export::SocketRecord;
use crate::model::text::escape;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Print JSON: the ephemeral range, how full it is, and each server at risk with its remedy.
    #[arg(long)]
    pub json: bool,
}

#[derive(serde::Serialize)]
struct CheckReport<'a> {
    ephemeral_start: u16,
    ephemeral_end: u16,
    /// Where the range was read from, in words.
    ephemeral_source: String,
    reserved_ranges: &'a [(u16, u16)],
    ports_in_use: usize,
    range_size: usize,
    at_risk: Vec<AtRisk>,
}

#[derive(serde::Serialize)]
struct AtRisk {
    #[serde(flatten)]
    socket: SocketRecord,
    remedy: Vec<CheckCommand>,
}

/// Prints the servers at risk; exit 1 when there is one, 0 when there is none.
pub(super) fn check(
    args: &CheckArgs,
    snap: &Snapshot,
    out: &mut dyn Write,
) -> io::Result<ExitCode> {
    let e = &snap.ephemeral;
    let at_risk: Vec<_> = snap.sockets_at_risk().collect();
    let code = if at_risk.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    };
    let remedy = |s: &crate::model::Socket| reserve_commands(s.local_port, Some(s.proto.into()), e);
    if args.json {
        let report = CheckReport {
            ephemeral_start: e.start,
            ephemeral_end: e.end,
            ephemeral_source: e.source.describe(),
            reserved_ranges: &e.reserved,
            ports_in_use: snap.ephemeral_ports_in_use(),
            range_size: e.len(),
            at_risk: at_risk
                .iter()
                .map(|s| AtRisk {
                    socket: SocketRecord::new(snap, s),
                    remedy: remedy(s),
                })
                .collect(),
        };
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
        return Ok(code);
    }
    let range = format!(
        "the ephemeral range {}–{} ({})",
        e.start,
        e.end,
        e.source.describe()
    );
    if at_risk.is_empty() {
        writeln!(out, "No server listens inside {range}.")?;
        return Ok(code);
    }
    let services = snap.services_at_risk();
    let what = if services == 1 {
        "1 service listens".to_owned()
    } else {
        format!("{services} services listen")
    };
    writeln!(out, "{what} inside {range}.")?;
    writeln!(
        out,
        "While one is down, the OS may give its port to an outgoing connection, and it then \
         fails to start (EADDRINUSE)."
    )?;
    writeln!(
        out,
        "Ports of the range in use now: {} of {}.",
        snap.ephemeral_ports_in_use(),
        e.len()
    )?;
    for s in at_risk {
        writeln!(out)?;
        writeln!(out, "{}", socket_line(snap, s))?;
        writeln!(out, "  held by {}", escape(&owner_words(snap, s)))?;
        for command in remedy(s) {
            writeln!(out, "  {}:", command.purpose)?;
            writeln!(out, "    {}", command.command)?;
        }
    }
    Ok(code)
}
