//! `portscope free`: ports a new service can take, each checked by binding it — see
//! [`crate::act::free`] for what makes a port good.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Args;

use super::port_arg;
use crate::act::free::{FreeSearch, find_free};
use crate::knowledge::Transport;
use crate::model::Snapshot;

#[derive(Debug, Args)]
pub struct FreeArgs {
    /// How many ports to find (1–1000).
    #[arg(long, short = 'n', default_value_t = 1, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub count: u16,
    /// Search outward from this port (default: upward from 1024).
    #[arg(long, value_name = "PORT", value_parser = port_arg, allow_negative_numbers = true)]
    pub near: Option<u16>,
    /// Ports free for TCP (the default).
    #[arg(short, long, conflicts_with = "udp")]
    pub tcp: bool,
    /// Ports free for UDP.
    #[arg(short, long)]
    pub udp: bool,
    /// Print a JSON array of port numbers.
    #[arg(long)]
    pub json: bool,
}

/// Prints one port a line; exit 1 (with a message) when fewer than asked were found.
pub(super) fn free(args: &FreeArgs, snap: &Snapshot, out: &mut dyn Write) -> io::Result<ExitCode> {
    let transport = if args.udp {
        Transport::Udp
    } else {
        Transport::Tcp
    };
    let search = FreeSearch {
        transport,
        near: args.near,
        count: usize::from(args.count),
    };
    let ports = find_free(&search, snap);
    if args.json {
        serde_json::to_writer(&mut *out, &ports)?;
        writeln!(out)?;
    } else {
        for port in &ports {
            writeln!(out, "{port}")?;
        }
    }
    if ports.len() < search.count {
        eprintln!(
            "portscope: found {} of {} free {transport} ports",
            ports.len(),
            search.count
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
