//! Writers for a list of sockets: JSON and CSV (the text table is `list`'s, in `cli`).
//!
//! The CLI's `list` and the window's export use these same writers, so a file saved from the
//! window reads exactly like `portscope list --json`.

use std::io::{self, Write};
use std::net::IpAddr;

use serde::Serialize;

use super::{Owner, Proto, Snapshot, SockState, Socket};

/// A process as it appears inside a socket record.
#[derive(Clone, Debug, Serialize)]
pub struct ProcessRecord {
    pub pid: u32,
    pub name: Option<String>,
    pub exe: Option<String>,
    pub cmdline: Vec<String>,
    pub user: Option<String>,
}

/// One socket with everything the table shows, flattened for export.
#[derive(Clone, Debug, Serialize)]
pub struct SocketRecord {
    pub proto: Proto,
    pub local_addr: IpAddr,
    pub local_port: u16,
    pub remote_addr: Option<IpAddr>,
    pub remote_port: Option<u16>,
    pub state: SockState,
    pub pids: Vec<u32>,
    pub processes: Vec<ProcessRecord>,
    pub uid: Option<u32>,
    pub user: Option<String>,
    /// Why no process is shown, when none is.
    pub owner_note: Option<String>,
    /// The kernel's socket cookie (Linux).
    pub cookie: Option<u64>,
    /// `Recv-Q` and `Send-Q` as `ss` shows them (Linux).
    pub recv_q: Option<u32>,
    pub send_q: Option<u32>,
    /// A TCP connection's counters (Linux): bytes sent and received, smoothed round-trip time
    /// in milliseconds, segments retransmitted.
    pub bytes_sent: Option<u64>,
    pub bytes_received: Option<u64>,
    pub rtt_ms: Option<f64>,
    pub retrans: Option<u32>,
    /// Datagrams a UDP socket dropped because its receive buffer was full (Linux).
    pub drops: Option<u32>,
    /// The network namespace the socket lives in, by inode (Linux).
    pub netns: Option<u32>,
    /// The container of its process or namespace (Linux).
    pub container: Option<super::container::Container>,
}

impl SocketRecord {
    pub fn new(snap: &Snapshot, s: &Socket) -> SocketRecord {
        let (processes, owner_note) = match snap.owner(s) {
            Owner::Processes(list) => (
                list.into_iter()
                    .map(|(pid, info)| ProcessRecord {
                        pid,
                        name: info.map(|p| p.name.clone()),
                        exe: info.and_then(|p| p.exe.clone()),
                        cmdline: info.map(|p| p.cmdline.clone()).unwrap_or_default(),
                        user: info.and_then(|p| p.user.clone()),
                    })
                    .collect(),
                None,
            ),
            Owner::None(reason) => (Vec::new(), Some(reason.explain())),
        };
        let kernel = s.cookie != 0;
        let stats = snap
            .traffic
            .get(&s.cookie)
            .filter(|_| kernel)
            .map(|f| f.stats);
        SocketRecord {
            proto: s.proto,
            local_addr: s.local_addr,
            local_port: s.local_port,
            remote_addr: s.remote_addr,
            remote_port: s.remote_port,
            state: s.state,
            pids: s.pids.to_vec(),
            processes,
            uid: s.uid,
            user: snap.socket_user(s),
            owner_note,
            cookie: kernel.then_some(s.cookie),
            recv_q: kernel.then_some(s.recv_q),
            send_q: kernel.then_some(s.send_q),
            bytes_sent: stats.and_then(|t| t.sent()),
            bytes_received: stats.and_then(|t| t.bytes_received),
            rtt_ms: stats.map(|t| f64::from(t.rtt_us) / 1000.0),
            retrans: stats.map(|t| t.retrans),
            drops: snap.drops(s),
            netns: (s.netns != 0).then_some(s.netns),
            container: snap.container_of(s).cloned(),
        }
    }
}

fn records<'a>(snap: &'a Snapshot, rows: &'a [usize]) -> impl Iterator<Item = SocketRecord> + 'a {
    rows.iter()
        .filter_map(|i| snap.sockets.get(*i))
        .map(|s| SocketRecord::new(snap, s))
}

/// A socket record with the host it was read on (`list --host`): `host` first, then the
/// record's fields.
#[derive(Serialize)]
pub struct HostRecord<'a> {
    pub host: &'a str,
    #[serde(flatten)]
    pub record: SocketRecord,
}

/// One host's part of a listing: its name, its snapshot, the rows to write.
pub type HostRows<'a> = (&'a str, &'a Snapshot, &'a [usize]);

/// One JSON array of socket records, written record by record through a buffer (serde_json
/// writes token by token: into a concrete buffer those are inlined copies, into `dyn Write`
/// each is a call). Values are raw: the encoder escapes control characters itself.
pub fn write_json(out: &mut dyn Write, snap: &Snapshot, rows: &[usize]) -> io::Result<()> {
    write_json_of(out, rows.len(), records(snap, rows))
}

/// One JSON array of the records of several hosts, each with its `host`.
pub fn write_json_hosts(out: &mut dyn Write, parts: &[HostRows<'_>]) -> io::Result<()> {
    let len = parts.iter().map(|(_, _, rows)| rows.len()).sum();
    let records = parts.iter().flat_map(|(host, snap, rows)| {
        records(snap, rows).map(|record| HostRecord { host, record })
    });
    write_json_of(out, len, records)
}

fn write_json_of(
    out: &mut dyn Write,
    len: usize,
    records: impl Iterator<Item = impl Serialize>,
) -> io::Result<()> {
    use serde::ser::{SerializeSeq, Serializer};
    let mut buffered = io::BufWriter::with_capacity(64 * 1024, out);
    let mut json = serde_json::Serializer::pretty(&mut buffered);
    let mut list = json.serialize_seq(Some(len))?;
    for record in records {
        list.serialize_element(&record)?;
    }
    list.end()?;
    writeln!(buffered)?;
    buffered.flush()
}

/// The CSV header.
const CSV_HEADER: [&str; 21] = [
    "proto",
    "local_addr",
    "local_port",
    "remote_addr",
    "remote_port",
    "state",
    "pids",
    "processes",
    "user",
    "cmdline",
    "owner_note",
    "cookie",
    "recv_q",
    "send_q",
    "bytes_sent",
    "bytes_received",
    "rtt_ms",
    "retrans",
    "drops",
    "netns",
    "container",
];

/// CSV with a header row. Several processes or PIDs in one cell are separated by `;`. Text
/// cells keep their raw value but never start a formula ([`no_formula`]).
pub fn write_csv(out: &mut dyn Write, snap: &Snapshot, rows: &[usize]) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(CSV_HEADER)?;
    for r in records(snap, rows) {
        w.write_record(csv_cells(&r))?;
    }
    w.flush()
}

/// CSV of several hosts: a `host` column first, then [`write_csv`]'s.
pub fn write_csv_hosts(out: &mut dyn Write, parts: &[HostRows<'_>]) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(std::iter::once("host").chain(CSV_HEADER))?;
    for (host, snap, rows) in parts {
        for r in records(snap, rows) {
            w.write_record(std::iter::once(no_formula((*host).to_owned())).chain(csv_cells(&r)))?;
        }
    }
    w.flush()
}

fn csv_cells(r: &SocketRecord) -> [String; 21] {
    let join = |f: &dyn Fn(&ProcessRecord) -> String| {
        r.processes.iter().map(f).collect::<Vec<_>>().join(";")
    };
    [
        r.proto.as_str().to_owned(),
        r.local_addr.to_string(),
        r.local_port.to_string(),
        r.remote_addr.map(|a| a.to_string()).unwrap_or_default(),
        r.remote_port.map(|p| p.to_string()).unwrap_or_default(),
        r.state.as_str().to_owned(),
        join(&|p| p.pid.to_string()),
        no_formula(join(&|p| p.name.clone().unwrap_or_default())),
        no_formula(r.user.clone().unwrap_or_default()),
        no_formula(join(&|p| p.cmdline.join(" "))),
        no_formula(r.owner_note.clone().unwrap_or_default()),
        number(r.cookie),
        number(r.recv_q),
        number(r.send_q),
        number(r.bytes_sent),
        number(r.bytes_received),
        number(r.rtt_ms),
        number(r.retrans),
        number(r.drops),
        number(r.netns),
        no_formula(
            r.container
                .as_ref()
                .map(|c| c.name.clone().unwrap_or_else(|| c.short_id().to_owned()))
                .unwrap_or_default(),
        ),
    ]
}

/// A number's cell, empty when there is none.
fn number(n: Option<impl ToString>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

/// A text cell that a spreadsheet will not read as a formula. A cell starting with `=`, `+`,
/// `-`, `@`, a tab or a carriage return is one to Excel, LibreOffice and Google Sheets, and
/// process names and command lines are chosen by whoever runs the process: as OWASP advises,
/// such a cell gets a leading `'`, which spreadsheets show as text and do not evaluate (the
/// CSV writer's quoting handles the rest). Only the text columns go through this: numbers and
/// addresses are ours and stay as they are.
fn no_formula(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::model::{ProcessInfo, Viewer};

    const EVIL_NAME: &str = "\x1b[2Kevil\x1b[1A";

    /// One listener owned by a process whose every text field is hostile.
    fn hostile_snapshot(cmdline: &[&str]) -> Snapshot {
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
                name: EVIL_NAME.to_owned(),
                exe: Some("/tmp/\u{202e}txt.exe".to_owned()),
                cmdline: cmdline.iter().map(|a| (*a).to_owned()).collect(),
                uid: Some(1000),
                user: Some("=HYPERLINK(\"http://x\")\n".to_owned()),
                parent_pid: None,
                start_time: None,
            },
        );
        snap
    }

    fn csv_cells(snap: &Snapshot) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        write_csv(&mut out, snap, &[0]).unwrap();
        csv::Reader::from_reader(out.as_slice())
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect()
    }

    #[test]
    fn csv_text_cells_never_start_a_formula() {
        for (first, expected) in [
            ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
            ("+1+1", "'+1+1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("python3", "python3"),
        ] {
            let rows = csv_cells(&hostile_snapshot(&[first, "-m"]));
            let row = &rows[0];
            // proto, local_addr, local_port, remote_addr, remote_port, state, pids, processes,
            // user, cmdline, owner_note
            assert_eq!(row[9], format!("{expected} -m"), "{first:?}");
            assert_eq!(row[8], "'=HYPERLINK(\"http://x\")\n");
            // The name keeps its raw value: it starts with ESC, not with a formula character.
            assert_eq!(row[7], EVIL_NAME);
            assert_eq!(
                row[..7],
                ["tcp", "127.0.0.1", "8080", "", "", "LISTEN", "4242"]
            );
        }
    }

    #[test]
    fn json_keeps_raw_values_with_controls_escaped_by_the_encoder() {
        let snap = hostile_snapshot(&["a\u{0}b", "\u{9b}c"]);
        let mut out = Vec::new();
        write_json(&mut out, &snap, &[0]).unwrap();
        assert!(
            !out.iter()
                .any(|b| b.is_ascii_control() && !matches!(b, b'\n' | b' ')),
            "a raw control byte in {:?}",
            String::from_utf8_lossy(&out)
        );
        assert!(String::from_utf8_lossy(&out).contains(r"\u001b[2Kevil\u001b[1A"));
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let process = &value[0]["processes"][0];
        assert_eq!(process["name"], EVIL_NAME);
        assert_eq!(process["exe"], "/tmp/\u{202e}txt.exe");
        assert_eq!(
            process["cmdline"],
            serde_json::json!(["a\u{0}b", "\u{9b}c"])
        );
        assert_eq!(process["user"], "=HYPERLINK(\"http://x\")\n");
    }
}
