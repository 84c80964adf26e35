//! `portscope list`: the socket table in a shell — the window's filter language and sort,
//! an aligned table that fits the terminal, colours, JSON and CSV, and `--watch` to redraw it.
//!
//! The arguments are checked and turned into a [`Plan`] before the OS is asked anything: a
//! filter that does not parse or a column that does not exist stops with the same message
//! (and hint) the window shows under its filter box, and exit code 2.
//!
//! Colour is decided once: `--color always` and `never` mean what they say; `auto` colours
//! only a terminal, and only when `NO_COLOR` is unset or empty (<https://no-color.org>) and
//! `TERM` is not `dumb`. `NO_COLOR` does not overrule an explicit `--color always`.

use std::ffi::OsString;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::Duration;

use anstyle::{AnsiColor, Style};
use clap::{Args, ValueEnum};

use super::table_text::{self, Cell, Column, Cut, Layout, Shrink};
use crate::collect::{SocketSource, snapshot_once};
use crate::model::export::{HostRows, write_csv, write_csv_hosts, write_json, write_json_hosts};
use crate::model::text::escape;
use crate::model::{
    Owner, Query, Snapshot, SockState, Socket, SortDir, SortKey, SortSpec, Toggles,
    sorted_rows_with,
};

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only sockets that match this filter, in the window's filter language: plain words,
    /// and terms such as 'proc:nginx state:listen -port:22' (all must hold).
    #[arg(value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Print one JSON array.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print CSV with a header row.
    #[arg(long)]
    pub csv: bool,
    /// Only listening TCP sockets and unconnected UDP sockets.
    #[arg(short, long)]
    pub listening: bool,
    /// Only TCP sockets.
    #[arg(short, long)]
    pub tcp: bool,
    /// Only UDP sockets.
    #[arg(short, long)]
    pub udp: bool,
    /// Only sockets with this port at either end.
    #[arg(short, long, value_name = "PORT", value_parser = super::port_arg, allow_negative_numbers = true)]
    pub port: Option<u16>,
    /// Sockets of every network namespace (containers, 'ip netns'), not only portscope's own:
    /// all of them as root, the namespaces of your own processes otherwise.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Sort by a column, ascending, or descending with ':desc' (e.g. 'port', 'pid:desc',
    /// 'process', 'rtt'). Default: by local port.
    #[arg(long, value_name = "COLUMN[:desc]", value_parser = sort_arg)]
    pub sort: Option<SortSpec>,
    /// Colour the table: 'auto' on a terminal unless NO_COLOR is set.
    #[arg(long, value_name = "WHEN", value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Leave out the heading row of the table.
    #[arg(long)]
    pub no_header: bool,
    /// Redraw the table every interval until Ctrl+C (when not a terminal: one table per
    /// interval, separated by a blank line).
    #[arg(long, conflicts_with_all = ["json", "csv"])]
    pub watch: bool,
    /// With --watch: seconds between tables.
    #[arg(long, value_name = "SECONDS", default_value = "2", value_parser = super::watch::interval_arg, requires = "watch")]
    pub interval: Duration,
    /// List this host's sockets instead, over ssh (user@server, or an alias from
    /// ~/.ssh/config; repeat for several). Every record gets a 'host' field. Runs
    /// 'portscope serve --stdio' there, or reads 'ss' where portscope is not installed.
    #[arg(long = "host", value_name = "[USER@]HOST", conflicts_with = "watch")]
    pub hosts: Vec<String>,
    /// The width to fit the table in, as if the terminal were that wide (for tests).
    #[arg(long, value_name = "COLUMNS", hide = true)]
    pub width: Option<usize>,
}

/// `args` (a whole command line) with the negated filter terms of `list` and `watch`
/// (`-port:22`, `-state:time_wait`) moved after a `--`, where they cannot be taken for flags:
/// as typed, `-port:22` is `-p ort:22`. The filter's terms must all hold, so their order does
/// not matter. Anything after an existing `--` stays as it is.
pub fn negated_terms_last(mut args: Vec<OsString>) -> Vec<OsString> {
    let is_negated_term = |a: &OsString| {
        a.to_str().is_some_and(|a| {
            a.strip_prefix('-')
                .and_then(|rest| rest.split_once(':'))
                .is_some_and(|(key, _)| {
                    !key.is_empty() && key.chars().all(|c| c.is_ascii_alphabetic() || c == '_')
                })
        })
    };
    let Some(command) = args
        .iter()
        .skip(1)
        .position(|a| !a.to_string_lossy().starts_with('-'))
    else {
        return args;
    };
    let command = command + 1;
    if args[command] != "list" && args[command] != "watch" {
        return args;
    }
    let end = args
        .iter()
        .skip(command)
        .position(|a| a == "--")
        .map_or(args.len(), |i| i + command);
    let (moved, kept): (Vec<_>, Vec<_>) = args.drain(command + 1..end).partition(is_negated_term);
    if moved.is_empty() {
        args.splice(command + 1..command + 1, kept);
        return args;
    }
    let mut rest = args.split_off(command + 1);
    args.extend(kept);
    if rest.is_empty() {
        rest.push("--".into());
    }
    args.extend(rest);
    args.extend(moved);
    args
}

/// When to colour the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Whether to write colour codes: see the module's docs.
pub fn use_color(
    choice: ColorChoice,
    terminal: bool,
    no_color: Option<&std::ffi::OsStr>,
    term: Option<&std::ffi::OsStr>,
) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            terminal && no_color.is_none_or(|v| v.is_empty()) && term.is_none_or(|t| t != "dumb")
        }
    }
}

/// Names a column can be sorted by: the export field names of `list --csv/--json`, the filter
/// language's keys, and the headings (lower case, `_` for spaces).
const SORT_NAMES: &[(&str, SortKey)] = &[
    ("proto", SortKey::Proto),
    ("local_addr", SortKey::LocalAddr),
    ("local_address", SortKey::LocalAddr),
    ("addr", SortKey::LocalAddr),
    ("laddr", SortKey::LocalAddr),
    ("local_port", SortKey::LocalPort),
    ("port", SortKey::LocalPort),
    ("lport", SortKey::LocalPort),
    ("remote_addr", SortKey::RemoteAddr),
    ("remote_address", SortKey::RemoteAddr),
    ("raddr", SortKey::RemoteAddr),
    ("remote_port", SortKey::RemotePort),
    ("rport", SortKey::RemotePort),
    ("state", SortKey::State),
    ("pid", SortKey::Pid),
    ("pids", SortKey::Pid),
    ("process", SortKey::Process),
    ("processes", SortKey::Process),
    ("proc", SortKey::Process),
    ("user", SortKey::User),
    ("recv_q", SortKey::RecvQ),
    ("recvq", SortKey::RecvQ),
    ("send_q", SortKey::SendQ),
    ("sendq", SortKey::SendQ),
    ("sent", SortKey::Sent),
    ("bytes_sent", SortKey::Sent),
    ("received", SortKey::Received),
    ("bytes_received", SortKey::Received),
    ("rate", SortKey::RateDown),
    ("rate_down", SortKey::RateDown),
    ("down", SortKey::RateDown),
    ("rate_up", SortKey::RateUp),
    ("up", SortKey::RateUp),
    ("rtt", SortKey::Rtt),
    ("rtt_ms", SortKey::Rtt),
    ("retrans", SortKey::Retrans),
    ("drops", SortKey::Drops),
    ("container", SortKey::Netns),
    ("netns", SortKey::Netns),
    ("namespace", SortKey::Netns),
    ("host", SortKey::Host),
];

/// Read `--sort`: a column name (any case, `-` or `_` or a space between words), then
/// `:desc` or `:asc`.
pub fn sort_arg(text: &str) -> Result<SortSpec, String> {
    let (name, dir) = match text.rsplit_once(':') {
        Some((name, dir)) => (name, Some(dir)),
        None => (text, None),
    };
    let dir = match dir.map(str::to_ascii_lowercase).as_deref() {
        None | Some("asc") => SortDir::Ascending,
        Some("desc") => SortDir::Descending,
        Some(other) => {
            return Err(format!(
                "unknown order '{}' — use ':asc' or ':desc'",
                escape(other)
            ));
        }
    };
    let wanted: String = name
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c == '-' || c == ' ' { '_' } else { c })
        .collect();
    if let Some((_, key)) = SORT_NAMES.iter().find(|(n, _)| *n == wanted) {
        return Ok(SortSpec { key: *key, dir });
    }
    let names: Vec<&str> = SORT_NAMES.iter().map(|(n, _)| *n).collect();
    let hint = match crate::model::query::suggest(&wanted, &names) {
        Some(near) => format!("did you mean '{near}'?"),
        None => format!("columns: {}", names.join(", ")),
    };
    Err(format!("unknown column '{}' — {hint}", escape(name)))
}

/// What `list` will do, checked before the OS is asked.
pub struct Plan<'a> {
    args: &'a ListArgs,
    query: Query,
    sort: SortSpec,
    toggles: Toggles,
}

impl<'a> Plan<'a> {
    /// The plan, or the filter's complaint (with its hint) for standard error.
    pub fn new(args: &'a ListArgs) -> Result<Plan<'a>, String> {
        let query = Query::parse(&args.filter.join(" ")).map_err(|e| e.to_string())?;
        let toggles = Toggles {
            listening_only: args.listening,
            tcp: args.tcp || !args.udp,
            udp: args.udp || !args.tcp,
            ..Toggles::default()
        };
        Ok(Plan {
            args,
            query,
            sort: args.sort.unwrap_or_default(),
            toggles,
        })
    }

    /// The rows of `snap` to show, in order.
    pub(super) fn rows(&self, snap: &Snapshot) -> Vec<usize> {
        let mut rows = sorted_rows_with(snap, self.sort, &self.query, &self.toggles);
        if let Some(p) = self.args.port {
            rows.retain(|i| {
                let s = &snap.sockets[*i];
                s.local_port == p || s.remote_port == Some(p)
            });
        }
        rows
    }

    /// How a table goes to standard output now: its width and colours.
    fn layout(&self) -> Layout {
        let terminal = io::stdout().is_terminal();
        let width = self
            .args
            .width
            .or_else(|| terminal.then(terminal_width).flatten());
        Layout {
            width,
            header: !self.args.no_header,
            color: use_color(
                self.args.color,
                terminal,
                std::env::var_os("NO_COLOR").as_deref(),
                std::env::var_os("TERM").as_deref(),
            ),
        }
    }

    /// Write one listing of `snap`.
    pub fn write(&self, snap: &Snapshot, out: &mut dyn Write) -> io::Result<()> {
        let rows = self.rows(snap);
        if self.args.json {
            write_json(out, snap, &rows)
        } else if self.args.csv {
            write_csv(out, snap, &rows)
        } else {
            write_text(out, snap, &rows, self.layout())
        }
    }

    /// Write one listing of several hosts' snapshots: one array or table, each record with
    /// its host, the hosts in the order given, each one's rows sorted.
    pub fn write_hosts(&self, hosts: &[(&str, &Snapshot)], out: &mut dyn Write) -> io::Result<()> {
        let rows: Vec<Vec<usize>> = hosts.iter().map(|(_, snap)| self.rows(snap)).collect();
        let parts: Vec<HostRows<'_>> = hosts
            .iter()
            .zip(&rows)
            .map(|((host, snap), rows)| (*host, *snap, rows.as_slice()))
            .collect();
        if self.args.json {
            write_json_hosts(out, &parts)
        } else if self.args.csv {
            write_csv_hosts(out, &parts)
        } else {
            write_text_hosts(out, &parts, self.layout())
        }
    }

    /// One screen of `--watch` on a terminal: a title, then as many rows as fit in `lines`
    /// (the terminal's height, when known), and how many more there are.
    fn write_screen(
        &self,
        snap: &Snapshot,
        out: &mut dyn Write,
        lines: Option<usize>,
    ) -> io::Result<()> {
        let mut rows = self.rows(snap);
        let layout = self.layout();
        let total = rows.len();
        writeln!(
            out,
            "{total} socket{} · every {} s · Ctrl+C ends",
            if total == 1 { "" } else { "s" },
            self.args.interval.as_secs_f64()
        )?;
        // The title, and a last line left free so that the screen never scrolls.
        let more = lines.map_or(0, |l| clip(&mut rows, l.saturating_sub(2), layout.header));
        write_text(out, snap, &rows, layout)?;
        if more > 0 {
            write!(out, "… {more} more (narrow with a filter)")?;
        }
        Ok(())
    }
}

/// Keep the first of `rows` that fit in `lines` with the header (if any) and, when some are
/// left out, a line that says how many; returns how many were left out.
fn clip(rows: &mut Vec<usize>, lines: usize, header: bool) -> usize {
    let room = lines.saturating_sub(usize::from(header));
    if rows.len() <= room {
        return 0;
    }
    let keep = room.saturating_sub(1);
    let more = rows.len() - keep;
    rows.truncate(keep);
    more
}

/// The terminal's width: what the terminal says, else `COLUMNS`.
fn terminal_width() -> Option<usize> {
    terminal_size::terminal_size()
        .map(|(w, _)| usize::from(w.0))
        .or_else(|| std::env::var("COLUMNS").ok()?.trim().parse().ok())
        .filter(|w| *w > 0)
}

/// The text table's columns: the command line gives way first, then names, then addresses.
const TEXT_COLUMNS: [Column; 8] = [
    Column {
        title: "PROTO",
        shrink: None,
    },
    Column {
        title: "LOCAL",
        shrink: Some(Shrink {
            rank: 2,
            min: 12,
            cut: Cut::Middle,
        }),
    },
    Column {
        title: "REMOTE",
        shrink: Some(Shrink {
            rank: 2,
            min: 12,
            cut: Cut::Middle,
        }),
    },
    Column {
        title: "STATE",
        shrink: None,
    },
    Column {
        title: "PID",
        shrink: Some(Shrink {
            rank: 3,
            min: 5,
            cut: Cut::End,
        }),
    },
    Column {
        title: "PROCESS",
        shrink: Some(Shrink {
            rank: 1,
            min: 8,
            cut: Cut::End,
        }),
    },
    Column {
        title: "USER",
        shrink: Some(Shrink {
            rank: 1,
            min: 6,
            cut: Cut::End,
        }),
    },
    Column {
        title: "COMMAND",
        shrink: Some(Shrink {
            rank: 0,
            min: 0,
            cut: Cut::End,
        }),
    },
];

/// The aligned table: process names, users and command lines escaped.
pub fn write_text(
    out: &mut dyn Write,
    snap: &Snapshot,
    rows: &[usize],
    layout: Layout,
) -> io::Result<()> {
    let namespaces = snap.has_places();
    let cells: Vec<Vec<Cell>> = rows
        .iter()
        .filter_map(|i| snap.sockets.get(*i))
        .map(|s| {
            let mut cells = row_cells(snap, s);
            if namespaces {
                let label = snap.place(s).unwrap_or_default();
                cells.insert(1, Cell::plain(label));
            }
            cells
        })
        .collect();
    if namespaces {
        let mut columns = TEXT_COLUMNS.to_vec();
        columns.insert(1, NETNS_COLUMN);
        table_text::write_table(out, &columns, &cells, layout)
    } else {
        table_text::write_table(out, &TEXT_COLUMNS, &cells, layout)
    }
}

/// With sockets in containers or other network namespaces: which, blank for those of this
/// machine itself.
const NETNS_COLUMN: Column = Column {
    title: "CONTAINER",
    shrink: Some(Shrink {
        rank: 2,
        min: 8,
        cut: Cut::End,
    }),
};

/// The aligned table of several hosts: a HOST column first.
pub fn write_text_hosts(
    out: &mut dyn Write,
    parts: &[HostRows<'_>],
    layout: Layout,
) -> io::Result<()> {
    let host = Column {
        title: "HOST",
        shrink: Some(Shrink {
            rank: 2,
            min: 8,
            cut: Cut::End,
        }),
    };
    let columns: Vec<Column> = std::iter::once(host).chain(TEXT_COLUMNS).collect();
    let cells: Vec<Vec<Cell>> = parts
        .iter()
        .flat_map(|(name, snap, rows)| {
            rows.iter()
                .filter_map(|i| snap.sockets.get(*i))
                .map(move |s| {
                    let mut cells = vec![Cell::plain(escape(name).into_owned())];
                    cells.extend(row_cells(snap, s));
                    cells
                })
        })
        .collect();
    table_text::write_table(out, &columns, &cells, layout)
}

fn row_cells(snap: &Snapshot, s: &Socket) -> Vec<Cell> {
    let (process, command) = match snap.owner(s) {
        Owner::Processes(list) => {
            let command = list
                .first()
                .and_then(|(_, p)| *p)
                .map_or(String::new(), |p| escape(&p.cmdline_string()).into_owned());
            (
                Cell::plain(escape(&snap.process_label(s)).into_owned()),
                command,
            )
        }
        Owner::None(_) => (
            Cell::styled(
                escape(&snap.process_label(s)).into_owned(),
                Style::new().dimmed(),
            ),
            String::new(),
        ),
    };
    vec![
        Cell::plain(s.proto.as_str()),
        Cell::plain(s.local_endpoint()),
        Cell::plain(s.remote_endpoint()),
        Cell::styled(s.state.as_str(), state_style(s.state)),
        Cell::plain(s.pids_text(",")),
        process,
        Cell::plain(escape(&snap.socket_user(s).unwrap_or_default()).into_owned()),
        Cell::plain(command),
    ]
}

/// Servers green, live connections cyan, the ways to a close yellow, its aftermath dim.
fn state_style(state: SockState) -> Style {
    let color = |c: AnsiColor| Style::new().fg_color(Some(c.into()));
    match state {
        SockState::Listen | SockState::Unconn | SockState::Bound => color(AnsiColor::Green),
        SockState::Established => color(AnsiColor::Cyan),
        SockState::SynSent
        | SockState::SynReceived
        | SockState::CloseWait
        | SockState::FinWait1
        | SockState::FinWait2
        | SockState::Closing
        | SockState::LastAck => color(AnsiColor::Yellow),
        SockState::TimeWait | SockState::Closed | SockState::DeleteTcb | SockState::Unknown => {
            Style::new().dimmed()
        }
    }
}

/// `list --watch` on this machine: a table every interval until Ctrl+C or a closed pipe.
pub fn run_watch(plan: &Plan<'_>, all_namespaces: bool) -> ExitCode {
    let mut source = match super::source(all_namespaces) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("portscope: {e}");
            return ExitCode::from(2);
        }
    };
    let (wake, woken) = mpsc::channel::<()>();
    let stop = super::stop_on_ctrl_c(wake);
    let terminal = io::stdout().is_terminal();
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut first = true;
    let result = (|| -> io::Result<ExitCode> {
        while !stop.load(Ordering::Relaxed) {
            let snap = match snapshot_once(&mut source as &mut dyn SocketSource) {
                Ok(snap) => snap,
                Err(e) => {
                    eprintln!("portscope: {e}");
                    return Ok(ExitCode::from(2));
                }
            };
            // The whole screen at once, so a redraw never shows half a table.
            let mut screen = Vec::new();
            if terminal {
                // Home, then clear to the end: the old table is overwritten, not scrolled.
                screen.extend_from_slice(b"\x1b[H\x1b[2J");
            } else if !first {
                screen.push(b'\n');
            }
            if terminal {
                let height = terminal_size::terminal_size().map(|(_, h)| usize::from(h.0));
                plan.write_screen(&snap, &mut screen, height)?;
            } else {
                plan.write(&snap, &mut screen)?;
            }
            out.write_all(&screen)?;
            out.flush()?;
            first = false;
            let _ = woken.recv_timeout(plan.args.interval);
        }
        Ok(ExitCode::SUCCESS)
    })();
    match result {
        Ok(code) => code,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portscope: cannot write output: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn sort_names_are_the_columns_export_names_and_filter_keys() {
        let spec = |t: &str| sort_arg(t).unwrap();
        assert_eq!(
            spec("port"),
            SortSpec {
                key: SortKey::LocalPort,
                dir: SortDir::Ascending
            }
        );
        assert_eq!(
            spec("PID:desc"),
            SortSpec {
                key: SortKey::Pid,
                dir: SortDir::Descending
            }
        );
        assert_eq!(spec("Local address").key, SortKey::LocalAddr);
        assert_eq!(spec("recv-q").key, SortKey::RecvQ);
        assert_eq!(spec("rtt:asc").key, SortKey::Rtt);
        assert_eq!(spec("rate").key, SortKey::RateDown);
        // Every column can be sorted by its export name, where it has one.
        for column in crate::model::column::COLUMNS {
            if let Some(name) = column.export {
                assert_eq!(spec(name).key, column.key, "{name}");
            }
            assert!(
                SORT_NAMES.iter().any(|(_, k)| *k == column.key),
                "{}",
                column.title
            );
        }
    }

    #[test]
    fn unknown_sort_names_say_what_was_meant() {
        assert_eq!(
            sort_arg("prot").unwrap_err(),
            "unknown column 'prot' — did you mean 'proto'?"
        );
        assert_eq!(
            sort_arg("port:down").unwrap_err(),
            "unknown order 'down' — use ':asc' or ':desc'"
        );
        let far = sort_arg("\x1bzzzzzzzz").unwrap_err();
        assert!(
            far.starts_with(r"unknown column '\ezzzzzzzz' — columns: proto, "),
            "{far}"
        );
    }

    #[test]
    fn negated_terms_go_after_a_double_dash() {
        let moved = |line: &str| -> String {
            let args = line.split(' ').map(OsString::from).collect();
            let out: Vec<String> = negated_terms_last(args)
                .into_iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            out.join(" ")
        };
        assert_eq!(
            moved("portscope list -state:listen proto:tcp -l --sort port:desc"),
            "portscope list proto:tcp -l --sort port:desc -- -state:listen"
        );
        assert_eq!(
            moved("portscope watch -port:22 --json -- x -rport:1"),
            "portscope watch --json -- x -rport:1 -port:22"
        );
        for line in [
            "portscope list -p 22 --sort=port:desc proto:tcp",
            "portscope list -- -port:22",
            "portscope who -port:22",
            "portscope --generated 10",
            "portscope",
        ] {
            assert_eq!(moved(line), line);
        }
    }

    /// One listener owned by a process whose every text field is hostile.
    fn hostile_snapshot() -> Snapshot {
        use crate::model::{ProcessInfo, Proto, Viewer};
        use std::net::{IpAddr, Ipv4Addr};
        let mut snap = Snapshot {
            viewer: Viewer {
                uid: Some(1000),
                privileged: false,
            },
            ..Snapshot::default()
        };
        snap.sockets.push(Socket {
            host: 0,
            proto: Proto::Tcp,
            local_addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            local_port: 8080,
            remote_addr: None,
            remote_port: None,
            state: SockState::Listen,
            pids: vec![4242].into(),
            uid: None,
            inode: Some(7),
            cookie: 0,
            recv_q: 0,
            send_q: 0,
            netns: 0,
        });
        snap.processes.insert(
            4242,
            ProcessInfo {
                pid: 4242,
                name: "\x1b[2Kevil\x1b[1A".to_owned(),
                exe: None,
                cmdline: vec!["run\u{202e}".to_owned(), "\x1b]0;pwned\x07".to_owned()],
                uid: Some(1000),
                user: Some("=HYPERLINK(\"http://x\")\n".to_owned()),
                parent_pid: None,
                start_time: None,
            },
        );
        snap
    }

    #[test]
    fn a_table_shows_hostile_text_escaped_and_colours_only_its_own() {
        let snap = hostile_snapshot();
        for color in [false, true] {
            for width in [None, Some(50)] {
                let mut out = Vec::new();
                let layout = Layout {
                    width,
                    header: true,
                    color,
                };
                write_text(&mut out, &snap, &[0], layout).unwrap();
                let text = String::from_utf8(out).unwrap();
                // Header and one row: a newline in the user name does not forge a row.
                assert_eq!(text.lines().count(), 2, "{text:?}");
                let plain = text
                    .replace("\x1b[1m", "")
                    .replace("\x1b[2m", "")
                    .replace("\x1b[32m", "")
                    .replace("\x1b[0m", "");
                assert!(!plain.contains('\x1b'), "{text:?}");
                assert!(!plain.contains(['\u{202e}', '\x07']), "{text:?}");
                if width.is_none() {
                    assert!(plain.contains(r"\e[2Kevil\e[1A"), "{text}");
                    assert!(plain.contains(r#"=HYPERLINK("http://x")\n"#), "{text}");
                    assert!(plain.contains(r"\u{202e}"), "{text}");
                    assert!(plain.contains(r"\e]0;pwned\x07"), "{text}");
                }
            }
        }
    }

    #[test]
    fn a_screen_keeps_the_rows_that_fit_and_counts_the_rest() {
        let mut rows: Vec<usize> = (0..10).collect();
        assert_eq!(clip(&mut rows, 11, true), 0);
        assert_eq!(rows.len(), 10);
        // A header, 4 rows and the line that says 6 more.
        assert_eq!(clip(&mut rows, 6, true), 6);
        assert_eq!(rows, [0, 1, 2, 3]);
        let mut rows: Vec<usize> = (0..10).collect();
        assert_eq!(clip(&mut rows, 10, false), 0);
        assert_eq!(clip(&mut rows, 0, true), 10);
        assert!(rows.is_empty());
    }

    #[test]
    fn no_color_turns_off_auto_but_not_always() {
        let set = Some(OsStr::new("1"));
        let empty = Some(OsStr::new(""));
        assert!(use_color(ColorChoice::Auto, true, None, None));
        assert!(use_color(ColorChoice::Auto, true, empty, None));
        assert!(!use_color(ColorChoice::Auto, true, set, None));
        assert!(!use_color(ColorChoice::Auto, false, None, None));
        assert!(!use_color(
            ColorChoice::Auto,
            true,
            None,
            Some(OsStr::new("dumb"))
        ));
        assert!(use_color(ColorChoice::Always, false, set, None));
        assert!(!use_color(ColorChoice::Never, true, None, None));
    }
}
