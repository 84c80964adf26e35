//! The headless commands — `list`, `who`, `explain`, `check`, `free`, and the actions `kill` and
//! `close` — on the same collection and model code as the window.
//!
//! Exit codes mean something: 0 found, 1 nothing found, 2 error (bad usage or the OS refused).
//! A closed pipe (`portscope list | head`) is a normal end, not an error.
//!
//! Text output shows process names, command lines and user names through
//! [`escape`](crate::model::text::escape): they come from other users, and printed raw they
//! could rewrite the terminal of whoever runs `sudo portscope`. JSON and CSV keep raw values.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod act;
mod check;
mod free;
#[cfg(unix)]
mod hosts;
mod list;
#[cfg(unix)]
mod remote_act;
mod table_text;
mod watch;

pub use act::{CloseArgs, CloseTarget, KillArgs, SignalArg};
pub use check::CheckArgs;
pub use free::FreeArgs;
pub use list::{ColorChoice, ListArgs};
pub use watch::{Event, EventKind, WatchArgs, Watcher};

use crate::collect::{OsSource, SocketSource, snapshot_once};
use crate::knowledge::{PortKnowledge, Transport, service_name, write_text_with};
use crate::model::explain_now;
use crate::model::export::SocketRecord;
use crate::model::text::escape;
use crate::model::{BindScope, Filter, Owner, ProcessInfo, Snapshot, SortSpec, sorted_rows};

#[derive(Debug, Parser)]
#[command(
    name = "portscope",
    version,
    about = "What is on this port, who owns it, and what does the port number mean.",
    long_about = "What is on this port, who owns it, and what does the port number mean.\n\n\
                  Without a command, opens the window."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    // --generated and --churn are tools for measuring the window, not for users: hidden
    // from --help, documented in the README's performance section.
    /// Open the window on N made-up sockets instead of this machine's (to try it at scale).
    #[arg(long, value_name = "N", hide = true,
          value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub generated: Option<u32>,
    /// With --generated: at every poll, replace this percentage of the made-up connections.
    #[arg(long, value_name = "PERCENT", requires = "generated", hide = true,
          value_parser = clap::value_parser!(u8).range(0..=100))]
    pub churn: Option<u8>,
    /// List a host's sockets in the window beside this machine's, read over ssh (user@server
    /// or an ssh alias); repeat for several. Hosts are remembered (Hosts… removes them).
    #[arg(long, value_name = "HOST", conflicts_with = "generated")]
    pub host: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the machine's TCP and UDP sockets with their owning processes.
    List(ListArgs),
    /// Show the process(es) holding a local port. Exits 1 when nothing holds it.
    Who(WhoArgs),
    /// Explain what a port number means and what is on it now.
    Explain(ExplainArgs),
    /// End the processes listening on a port (asks first unless --yes). Exits 1 when nothing
    /// listens there.
    Kill(KillArgs),
    /// Close the TCP connections and listener on a port, or at one end ADDR:PORT (asks first
    /// unless --yes; needs root). Exits 1 when there is none.
    Close(CloseArgs),
    /// Find servers listening inside the ephemeral range, where the OS may take their port;
    /// prints each with the remedy. Exits 1 when there is one.
    Check(CheckArgs),
    /// Print ports a new service can take: unused, outside the ephemeral range, not
    /// registered with IANA, each checked by binding it. Exits 1 when fewer than asked.
    Free(FreeArgs),
    /// Print every connection that opens or closes, one line each, until Ctrl+C — even one
    /// that lives a millisecond (Linux), with its final byte counts.
    Watch(WatchArgs),
    /// Answer the window's polls with what only root may see (started by the window through
    /// pkexec; not for direct use).
    #[cfg(target_os = "linux")]
    #[command(hide = true)]
    Helper,
    /// Stream this machine's sockets on standard output, framed, for a portscope that reads
    /// this host over ssh (`list --host`); controls come on standard input.
    #[cfg(unix)]
    #[command(hide = true)]
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Write to standard output and read controls from standard input (the only transport).
    #[arg(long, required = true)]
    pub stdio: bool,
    /// Seconds between polls (the reader may change it).
    #[arg(long, value_name = "SECONDS", default_value = "1", value_parser = watch::interval_arg)]
    pub interval: std::time::Duration,
    // Tools for measuring a window reading many hosts, as the window's own --generated is.
    #[arg(long, value_name = "N", hide = true,
          value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub generated: Option<u32>,
    #[arg(long, value_name = "PERCENT", requires = "generated", hide = true,
          value_parser = clap::value_parser!(u8).range(0..=100))]
    pub churn: Option<u8>,
}

#[cfg(unix)]
impl ServeArgs {
    fn run(&self) -> ExitCode {
        match self.generated {
            Some(n) => crate::collect::remote::serve::run_on(
                crate::collect::GeneratedSource::new(n as usize)
                    .with_churn(self.churn.unwrap_or(0)),
                self.interval,
            ),
            None => crate::collect::remote::serve::run(self.interval),
        }
    }
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The port (0–65535).
    #[arg(value_parser = port_arg, allow_negative_numbers = true)]
    pub port: u16,
    /// Explain the UDP port (default: TCP).
    #[arg(long, conflicts_with_all = ["sctp", "dccp"])]
    pub udp: bool,
    /// Explain the SCTP port (IANA's SCTP entries).
    #[arg(long, conflicts_with = "dccp")]
    pub sctp: bool,
    /// Explain the DCCP port (IANA's DCCP entries).
    #[arg(long)]
    pub dccp: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct WhoArgs {
    /// The local port (0–65535).
    #[arg(value_parser = port_arg, allow_negative_numbers = true)]
    pub port: u16,
    /// Print JSON: the port, its sockets and their processes.
    #[arg(long)]
    pub json: bool,
}

/// Read a port number the way users type it.
pub fn port_arg(text: &str) -> Result<u16, String> {
    crate::knowledge::parse_port(text).map_err(|e| e.to_string())
}

/// Parse the command line. Help and version print and exit 0; usage errors print one line
/// and exit 2. A negated filter term (`list -state:listen`) is read as a term, not a flag.
pub fn parse() -> Result<Cli, ExitCode> {
    match Cli::try_parse_from(list::negated_terms_last(std::env::args_os().collect())) {
        // The window's --host is not the commands' (`list --host db1` is).
        Ok(cli) if !cli.host.is_empty() && cli.command.is_some() => {
            eprintln!(
                "portscope: --host before a command is the window's: give the command its own \
                 (e.g. 'portscope list --host db1')"
            );
            Err(ExitCode::from(2))
        }
        Ok(cli) => Ok(cli),
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return Err(ExitCode::SUCCESS);
            }
            let rendered = e.render().to_string();
            let first = rendered
                .lines()
                .next()
                .unwrap_or("invalid arguments")
                .trim_start_matches("error: ");
            eprintln!("portscope: {first} (see 'portscope --help')");
            Err(ExitCode::from(2))
        }
    }
}

/// Run a headless command and turn the outcome into an exit code.
pub fn run(command: Command) -> ExitCode {
    match &command {
        Command::Watch(args) => return watch::run(args),
        #[cfg(unix)]
        Command::Kill(args) if args.host.is_some() => {
            return remote_act::run(
                args.host.as_deref().unwrap_or_default(),
                &args.remote_args(),
            );
        }
        #[cfg(unix)]
        Command::Close(args) if args.host.is_some() => {
            return remote_act::run(
                args.host.as_deref().unwrap_or_default(),
                &args.remote_args(),
            );
        }
        // A filter that does not parse stops before the OS is asked anything.
        Command::List(args) => match list::Plan::new(args) {
            Err(e) => {
                eprintln!("portscope: {e}");
                return ExitCode::from(2);
            }
            Ok(plan) if args.watch => return list::run_watch(&plan, args.all_namespaces),
            #[cfg(unix)]
            Ok(plan) if !args.hosts.is_empty() => return hosts::run(&plan, &args.hosts),
            Ok(_) => {}
        },
        _ => {}
    }
    #[cfg(target_os = "linux")]
    if let Command::Helper = command {
        return crate::collect::helper::serve::run();
    }
    #[cfg(unix)]
    if let Command::Serve(args) = &command {
        return args.run();
    }
    // What is on a port, and what a port means, include containers' sockets.
    let everywhere = match &command {
        Command::List(args) => args.all_namespaces,
        Command::Who { .. } | Command::Explain { .. } => true,
        _ => false,
    };
    let mut source = match source(everywhere) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("portscope: {e}");
            return ExitCode::from(2);
        }
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let result = run_with(command, &mut source, &mut out).and_then(|code| {
        out.flush()?;
        Ok(code)
    });
    match result {
        Ok(code) => code,
        Err(CliError::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portscope: {e}");
            ExitCode::from(2)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Collect(#[from] crate::collect::CollectError),
    #[error("cannot write output: {0}")]
    Io(#[from] io::Error),
}

/// Run a command against any source, writing to `out`. Used by `run` and by tests.
pub fn run_with(
    command: Command,
    source: &mut dyn SocketSource,
    out: &mut dyn Write,
) -> Result<ExitCode, CliError> {
    let snap = snapshot_once(source)?;
    match command {
        Command::List(args) => match list::Plan::new(&args) {
            Ok(plan) => {
                plan.write(&snap, out)?;
                if !snap.hidden_containers.is_empty() {
                    eprintln!(
                        "portscope: not listed: {}. {}",
                        snap.hidden_containers_words(),
                        snap.hidden_containers_explained()
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("portscope: {e}");
                Ok(ExitCode::from(2))
            }
        },
        Command::Who(args) => who(&args, &snap, out),
        Command::Explain(args) => {
            explain_port(&args, &snap, out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Kill(args) => {
            let (stdin, mut stderr) = (io::stdin(), io::stderr());
            let mut prompt = act::Prompt {
                input: &mut stdin.lock(),
                question: &mut stderr,
            };
            Ok(act::kill(&args, &snap, out, &mut prompt)?)
        }
        Command::Close(args) => {
            let (stdin, mut stderr) = (io::stdin(), io::stderr());
            let mut prompt = act::Prompt {
                input: &mut stdin.lock(),
                question: &mut stderr,
            };
            Ok(act::close(&args, &snap, out, &mut prompt)?)
        }
        Command::Check(args) => Ok(check::check(&args, &snap, out)?),
        Command::Free(args) => Ok(free::free(&args, &snap, out)?),
        // A stream of this machine's sockets, on its own source and standard output.
        Command::Watch(args) => Ok(watch::run(&args)),
        // Privileged, on its own standard input and output.
        #[cfg(target_os = "linux")]
        Command::Helper => Ok(crate::collect::helper::serve::run()),
        #[cfg(unix)]
        Command::Serve(args) => Ok(args.run()),
    }
}

#[derive(serde::Serialize)]
struct LiveSocket {
    #[serde(flatten)]
    record: SocketRecord,
    bind_scope: BindScope,
    bind_scope_meaning: &'static str,
}

#[derive(serde::Serialize)]
struct ExplainReport<'a> {
    #[serde(flatten)]
    knowledge: &'a PortKnowledge,
    /// Every socket on this local port now, of any transport.
    sockets: Vec<LiveSocket>,
}

fn explain_port(args: &ExplainArgs, snap: &Snapshot, out: &mut dyn Write) -> io::Result<()> {
    let transport = if args.udp {
        Transport::Udp
    } else if args.sctp {
        Transport::Sctp
    } else if args.dccp {
        Transport::Dccp
    } else {
        Transport::Tcp
    };
    let knowledge = explain_now(args.port, Some(transport), snap);
    let rows: Vec<usize> = sorted_rows(snap, SortSpec::default(), &Filter::default())
        .into_iter()
        .filter(|i| snap.sockets[*i].local_port == args.port)
        .collect();
    if args.json {
        let report = ExplainReport {
            knowledge: &knowledge,
            sockets: rows
                .iter()
                .map(|i| {
                    let s = &snap.sockets[*i];
                    LiveSocket {
                        record: SocketRecord::new(snap, s),
                        bind_scope: s.bind_scope(),
                        bind_scope_meaning: s.bind_scope().meaning(),
                    }
                })
                .collect(),
        };
        serde_json::to_writer_pretty(&mut *out, &report)?;
        return writeln!(out);
    }
    let mut live = String::new();
    if rows.is_empty() {
        live.push_str(&format!(
            "On this machine now: nothing uses port {}.\n",
            args.port
        ));
    } else {
        let plural = if rows.len() == 1 { "" } else { "s" };
        live.push_str(&format!(
            "On this machine now ({} socket{plural}):\n",
            rows.len()
        ));
        for i in &rows {
            let s = &snap.sockets[*i];
            live.push_str(&format!(
                "  {}\n    held by {}",
                socket_line(snap, s),
                escape(&owner_words(snap, s))
            ));
            if let (Some(addr), Some(port)) = (s.remote_addr, s.remote_port) {
                let service = service_name(port, Some(s.proto.into()))
                    .map_or(String::new(), |name| format!(" ({name})"));
                live.push_str(&format!(
                    ", talking to {}{service}\n",
                    crate::model::endpoint(addr, Some(port))
                ));
            } else {
                live.push_str(&format!("; bound to {}\n", s.bind_scope().meaning()));
            }
        }
    }
    let mut text = String::new();
    // Formatting into a String cannot fail.
    let _ = write_text_with(&knowledge, &live, &mut text);
    out.write_all(text.as_bytes())
}

/// "python3 (pid 1234, user root)" for each owner, or why there is none. Raw: the caller
/// escapes it.
fn owner_words(snap: &Snapshot, s: &crate::model::Socket) -> String {
    match snap.owner(s) {
        Owner::Processes(list) => list
            .iter()
            .map(|(pid, info)| match info {
                Some(p) => match &p.user {
                    Some(u) => format!("{} (pid {pid}, user {u})", p.name),
                    None => format!("{} (pid {pid})", p.name),
                },
                None => format!("pid {pid} (exited)"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Owner::None(reason) => format!("no process: {}", reason.short()),
    }
}

#[derive(serde::Serialize)]
struct WhoReport<'a> {
    port: u16,
    processes: Vec<&'a ProcessInfo>,
    sockets: Vec<SocketRecord>,
}

fn who(args: &WhoArgs, snap: &Snapshot, out: &mut dyn Write) -> Result<ExitCode, CliError> {
    let rows: Vec<usize> = sorted_rows(snap, SortSpec::default(), &Filter::default())
        .into_iter()
        .filter(|i| snap.sockets[*i].local_port == args.port)
        .collect();
    let mut pids: Vec<u32> = rows
        .iter()
        .flat_map(|i| snap.sockets[*i].pids.iter().copied())
        .collect();
    pids.sort_unstable();
    pids.dedup();
    if args.json {
        let report = WhoReport {
            port: args.port,
            processes: pids.iter().filter_map(|p| snap.process(*p)).collect(),
            sockets: rows
                .iter()
                .map(|i| SocketRecord::new(snap, &snap.sockets[*i]))
                .collect(),
        };
        serde_json::to_writer_pretty(&mut *out, &report).map_err(io::Error::from)?;
        writeln!(out)?;
    } else if rows.is_empty() {
        eprintln!(
            "portscope: nothing holds local port {} (no TCP or UDP socket uses it)",
            args.port
        );
    } else {
        write_who_text(out, snap, &rows, &pids)?;
    }
    Ok(if rows.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn write_who_text(
    out: &mut dyn Write,
    snap: &Snapshot,
    rows: &[usize],
    pids: &[u32],
) -> io::Result<()> {
    for pid in pids {
        match snap.process(*pid) {
            Some(p) => {
                let user = p
                    .user
                    .as_deref()
                    .map_or(String::new(), |u| format!(", user {}", escape(u)));
                writeln!(out, "{} (pid {pid}{user})", escape(&p.name))?;
                if let Some(exe) = &p.exe {
                    writeln!(out, "  exe      {}", escape(exe))?;
                }
                if !p.cmdline.is_empty() {
                    writeln!(out, "  command  {}", escape(&p.cmdline_string()))?;
                }
                if let Some(parent) = p.parent_pid {
                    let name = snap.process(parent).map_or("", |pp| pp.name.as_str());
                    writeln!(out, "  parent   {parent} {}", escape(name))?;
                }
            }
            None => writeln!(out, "pid {pid} (exited while being looked up)")?,
        }
        for i in rows {
            let s = &snap.sockets[*i];
            if s.pids.contains(pid) {
                writeln!(out, "  {}", socket_line(snap, s))?;
                for published in snap.published_on(s) {
                    writeln!(out, "    {}", published.text)?;
                }
            }
        }
    }
    for i in rows {
        let s = &snap.sockets[*i];
        if let Owner::None(reason) = snap.owner(s) {
            writeln!(out, "no process: {}", socket_line(snap, s))?;
            writeln!(out, "  {}", escape(&reason.explain()))?;
        }
    }
    Ok(())
}

/// One socket in a line, with its network namespace when it is not portscope's own.
fn socket_line(snap: &Snapshot, s: &crate::model::Socket) -> String {
    let line = match s.remote_addr {
        Some(_) => format!(
            "{} {} {} -> {}",
            s.proto,
            s.state,
            s.local_endpoint(),
            s.remote_endpoint()
        ),
        None => format!("{} {} {}", s.proto, s.state, s.local_endpoint()),
    };
    match snap.place(s) {
        Some(place) => format!("{line}  (in {place})"),
        None => line,
    }
}

/// Ends a long-running command (`watch`, `list --watch`) on Ctrl+C: the flag returned is set
/// and `wake` is sent, so a wait in progress ends at once and the command exits with 0.
fn stop_on_ctrl_c(
    wake: std::sync::mpsc::Sender<()>,
) -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let flag = std::sync::Arc::clone(&stop);
    if let Err(e) = ctrlc::set_handler(move || {
        flag.store(true, Ordering::Relaxed);
        let _ = wake.send(());
    }) {
        eprintln!("portscope: cannot catch Ctrl+C: {e}");
    }
    stop
}

/// The live machine: portscope's own network namespace, or every one this user may read.
fn source(all_namespaces: bool) -> Result<OsSource, crate::collect::CollectError> {
    let source = if all_namespaces {
        OsSource::all_namespaces()
    } else {
        OsSource::new()
    };
    // A command may wait a moment for the containers' names.
    source.map(OsSource::waiting_for_names)
}
