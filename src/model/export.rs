//! Writers for a list of sockets: JSON, CSV and a plain-text table.
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
        }
    }
}

fn records<'a>(snap: &'a Snapshot, rows: &'a [usize]) -> impl Iterator<Item = SocketRecord> + 'a {
    rows.iter()
        .filter_map(|i| snap.sockets.get(*i))
        .map(|s| SocketRecord::new(snap, s))
}

/// One JSON array of socket records, written record by record through a buffer (serde_json
/// writes token by token: into a concrete buffer those are inlined copies, into `dyn Write`
/// each is a call).
pub fn write_json(out: &mut dyn Write, snap: &Snapshot, rows: &[usize]) -> io::Result<()> {
    use serde::ser::{SerializeSeq, Serializer};
    let mut buffered = io::BufWriter::with_capacity(64 * 1024, out);
    let mut json = serde_json::Serializer::pretty(&mut buffered);
    let mut list = json.serialize_seq(Some(rows.len()))?;
    for record in records(snap, rows) {
        list.serialize_element(&record)?;
    }
    list.end()?;
    writeln!(buffered)?;
    buffered.flush()
}

/// CSV with a header row. Several processes or PIDs in one cell are separated by `;`.
pub fn write_csv(out: &mut dyn Write, snap: &Snapshot, rows: &[usize]) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
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
    ])?;
    for r in records(snap, rows) {
        let join = |f: &dyn Fn(&ProcessRecord) -> String| {
            r.processes.iter().map(f).collect::<Vec<_>>().join(";")
        };
        w.write_record([
            r.proto.as_str().to_owned(),
            r.local_addr.to_string(),
            r.local_port.to_string(),
            r.remote_addr.map(|a| a.to_string()).unwrap_or_default(),
            r.remote_port.map(|p| p.to_string()).unwrap_or_default(),
            r.state.as_str().to_owned(),
            join(&|p| p.pid.to_string()),
            join(&|p| p.name.clone().unwrap_or_default()),
            r.user.clone().unwrap_or_default(),
            join(&|p| p.cmdline.join(" ")),
            r.owner_note.clone().unwrap_or_default(),
        ])?;
    }
    w.flush()
}

/// A readable aligned table, like `ss` prints.
pub fn write_table(out: &mut dyn Write, snap: &Snapshot, rows: &[usize]) -> io::Result<()> {
    let header = [
        "PROTO", "LOCAL", "REMOTE", "STATE", "PID", "PROCESS", "USER",
    ];
    let mut lines: Vec<[String; 7]> = Vec::with_capacity(rows.len());
    for s in rows.iter().filter_map(|i| snap.sockets.get(*i)) {
        lines.push([
            s.proto.as_str().to_owned(),
            s.local_endpoint(),
            s.remote_endpoint(),
            s.state.as_str().to_owned(),
            s.pids_text(","),
            snap.process_label(s),
            snap.socket_user(s).unwrap_or_default(),
        ]);
    }
    let mut widths = header.map(str::len);
    for line in &lines {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut print = |cells: &[&str]| -> io::Result<()> {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<w$}  "));
            }
        }
        writeln!(out, "{}", text.trim_end())
    };
    print(&header)?;
    for line in &lines {
        print(&line.each_ref().map(String::as_str))?;
    }
    Ok(())
}
