//! The table's columns, each described once: heading, cell, sort order, free-text search,
//! export field, default width and visibility.
//!
//! The window's header, cells, *Columns* menu and widths, the sort, and the row texts that
//! free words are looked for in all read [`COLUMNS`], so a new column is one entry here (and
//! its [`SortKey`] name). Columns that need a special look in the window (the remote
//! address's DNS name, the state's colour) add a decoration in the window's table.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::IpAddr;

use super::table::{SortNames, SortValue};
use super::text::escape;
use super::units;
use super::{Owner, Snapshot, Socket, SortKey};

/// What a cell shows, before the window styles it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell<'a> {
    /// Text as it is (process text already escaped).
    Text(Cow<'a, str>),
    /// No value (a listener's remote end): shown as a weak `*`.
    Missing,
    /// Why there is no value, with a longer explanation on hover (escaped).
    Note { short: String, explain: String },
}

/// What the row-text writers of one snapshot share: each process's and user's text,
/// lower-cased once per snapshot instead of once per row (when built for a whole table).
pub(crate) struct SearchText<'a> {
    pub snap: &'a Snapshot,
    /// pid → " pid name cmdline user", lower case. `None`: computed for each row.
    pub processes: Option<&'a std::collections::HashMap<u32, String>>,
    /// uid → name, lower case.
    pub users: Option<&'a std::collections::HashMap<u32, String>>,
}

/// One column of the socket table.
pub struct Column {
    pub key: SortKey,
    /// The heading, and the name in the *Columns* menu.
    pub title: &'static str,
    /// The field that holds this column in `list --csv/--json` and the window's export, if any.
    pub export: Option<&'static str>,
    /// Width in points when first shown.
    pub width: f32,
    /// Shown unless the user hides it.
    pub shown: bool,
    pub cell: for<'a> fn(&'a Snapshot, &'a Socket) -> Cell<'a>,
    pub(crate) sort: for<'a> fn(&Snapshot, &'a SortNames, &Socket) -> SortValue<'a>,
    /// Appends the column's text for free-text search, lower case, each piece after a space.
    /// `None`: free words do not look in this column.
    pub(crate) search: Option<fn(&mut String, &SearchText<'_>, &Socket)>,
}

/// Every column, in [`SortKey`] order (`COLUMNS[key as usize].key == key`).
pub const COLUMNS: &[Column] = &[
    // The machine, shown only while the table lists several ([`SortKey::applies`]); its
    // name is the host as the user gave it (text from elsewhere: escaped).
    Column {
        key: SortKey::Host,
        title: "Host",
        export: None,
        width: 110.0,
        shown: true,
        cell: |snap, s| match &snap.of(s).machine {
            Some(m) if m.stale.is_some() => Cell::Note {
                short: format!("{} (not current)", escape(&m.name)),
                explain: format!(
                    "These rows are the last ones read from {}: {}",
                    escape(&m.name),
                    escape(m.stale.as_deref().unwrap_or_default())
                ),
            },
            Some(m) => Cell::Text(escape(&m.name)),
            None => Cell::Text("".into()),
        },
        sort: |snap, _, s| {
            SortValue::Text(
                snap.machine_name(s)
                    .map_or_else(String::new, str::to_lowercase)
                    .into(),
            )
        },
        search: Some(|out, t, s| {
            if let Some(name) = t.snap.machine_name(s) {
                out.push(' ');
                out.push_str(&name.to_lowercase());
            }
        }),
    },
    Column {
        key: SortKey::Proto,
        title: "Proto",
        export: Some("proto"),
        width: 56.0,
        shown: true,
        cell: |_, s| Cell::Text(s.proto.label().into()),
        sort: |_, _, s| SortValue::Num(false, s.proto as u64),
        search: Some(|out, _, s| {
            out.push(' ');
            out.push_str(s.proto.as_str());
        }),
    },
    // The container (or other network namespace) a socket lives in, shown only while some
    // socket does ([`SortKey::applies`]); blank for those of this machine itself.
    Column {
        key: SortKey::Netns,
        title: "Container",
        export: Some("container"),
        width: 150.0,
        shown: true,
        cell: |snap, s| Cell::Text(snap.place(s).unwrap_or_default().into()),
        sort: |snap, _, s| SortValue::Text(snap.place(s).unwrap_or_default().into()),
        search: Some(|out, t, s| {
            if let Some(place) = t.snap.place(s) {
                out.push(' ');
                out.push_str(&place.to_lowercase());
            }
        }),
    },
    Column {
        key: SortKey::LocalAddr,
        title: "Local address",
        export: Some("local_addr"),
        width: 150.0,
        shown: true,
        cell: |_, s| Cell::Text(s.local_addr.to_string().into()),
        sort: |_, _, s| SortValue::Addr(false, Some(s.local_addr)),
        // The endpoint, so that `127.0.0.1:80` is found; the port is in it.
        search: Some(|out, _, s| endpoint(out, s.local_addr, Some(s.local_port))),
    },
    Column {
        key: SortKey::LocalPort,
        title: "Local port",
        export: Some("local_port"),
        width: 76.0,
        shown: true,
        cell: |_, s| Cell::Text(s.local_port.to_string().into()),
        sort: |_, _, s| SortValue::Num(false, u64::from(s.local_port)),
        search: None,
    },
    Column {
        key: SortKey::RemoteAddr,
        title: "Remote address",
        export: Some("remote_addr"),
        width: 150.0,
        shown: true,
        cell: |_, s| match s.remote_addr {
            Some(a) => Cell::Text(a.to_string().into()),
            None => Cell::Missing,
        },
        sort: |_, _, s| SortValue::Addr(s.remote_addr.is_none(), s.remote_addr),
        search: Some(|out, _, s| match s.remote_addr {
            Some(addr) => endpoint(out, addr, s.remote_port),
            None => out.push_str(" *"),
        }),
    },
    Column {
        key: SortKey::RemotePort,
        title: "Remote port",
        export: Some("remote_port"),
        width: 84.0,
        shown: true,
        cell: |_, s| match s.remote_port {
            Some(p) => Cell::Text(p.to_string().into()),
            None => Cell::Missing,
        },
        sort: |_, _, s| SortValue::Num(s.remote_port.is_none(), s.remote_port.map_or(0, u64::from)),
        search: None,
    },
    Column {
        key: SortKey::State,
        title: "State",
        export: Some("state"),
        width: 104.0,
        shown: true,
        cell: |_, s| Cell::Text(s.state.as_str().into()),
        sort: |_, _, s| SortValue::Text(Cow::Borrowed(s.state.as_str())),
        search: Some(|out, _, s| {
            out.push(' ');
            let start = out.len();
            out.push_str(s.state.as_str());
            out[start..].make_ascii_lowercase();
        }),
    },
    Column {
        key: SortKey::Pid,
        title: "PID",
        export: Some("pids"),
        width: 64.0,
        shown: true,
        cell: |_, s| Cell::Text(s.pids_text(", ").into()),
        sort: |_, _, s| {
            SortValue::Num(
                s.pids.is_empty(),
                s.pids.first().map_or(0, |p| u64::from(*p)),
            )
        },
        // Each PID with its process's name, command line and user.
        search: Some(|out, t, s| {
            for pid in &s.pids {
                match t.processes.and_then(|p| p.get(pid)) {
                    Some(text) => out.push_str(text),
                    None => match t.snap.process(*pid) {
                        Some(p) => out.push_str(&process_text(p)),
                        None => {
                            let _ = write!(out, " pid {pid} {pid}");
                        }
                    },
                }
            }
        }),
    },
    Column {
        key: SortKey::Process,
        title: "Process",
        export: Some("processes"),
        width: 170.0,
        shown: true,
        cell: |snap, s| match snap.owner(s) {
            Owner::Processes(_) => {
                Cell::Text(Cow::Owned(escape(&snap.process_label(s)).into_owned()))
            }
            Owner::None(reason) => Cell::Note {
                short: escape(&reason.short()).into_owned(),
                explain: escape(&reason.explain()).into_owned(),
            },
        },
        sort: |snap, names, s| match s.pids.as_slice() {
            [pid] => match names.processes.get(pid) {
                Some(name) => SortValue::Text(Cow::Borrowed(name)),
                None => SortValue::Text(Cow::Owned(format!("pid {pid}"))),
            },
            _ => SortValue::Text(Cow::Owned(snap.process_label(s).to_lowercase())),
        },
        // Processes' names are in the PID column's text; a socket without one says why.
        search: Some(|out, t, s| {
            if s.pids.is_empty() {
                out.push(' ');
                out.push_str(&t.snap.process_label(s).to_lowercase());
            }
        }),
    },
    Column {
        key: SortKey::User,
        title: "User",
        export: Some("user"),
        width: 100.0,
        shown: true,
        cell: |snap, s| {
            Cell::Text(Cow::Owned(
                escape(&snap.socket_user(s).unwrap_or_default()).into_owned(),
            ))
        },
        sort: |snap, names, s| match s.uid.and_then(|uid| names.users.get(&uid)) {
            Some(name) => SortValue::Text(Cow::Borrowed(name)),
            None => SortValue::Text(Cow::Owned(
                snap.socket_user(s).unwrap_or_default().to_lowercase(),
            )),
        },
        search: Some(
            |out, t, s| match s.uid.and_then(|uid| t.users.and_then(|u| u.get(&uid))) {
                Some(name) => {
                    out.push(' ');
                    out.push_str(name);
                }
                None => {
                    if let Some(user) = t.snap.socket_user(s) {
                        out.push(' ');
                        out.push_str(&user.to_lowercase());
                    }
                }
            },
        ),
    },
    Column {
        key: SortKey::RecvQ,
        title: "Recv-Q",
        export: None,
        width: 64.0,
        shown: false,
        cell: |_, s| Cell::Text(s.recv_q.to_string().into()),
        sort: |_, _, s| SortValue::Num(false, u64::from(s.recv_q)),
        search: None,
    },
    Column {
        key: SortKey::SendQ,
        title: "Send-Q",
        export: None,
        width: 64.0,
        shown: false,
        cell: |_, s| Cell::Text(s.send_q.to_string().into()),
        sort: |_, _, s| SortValue::Num(false, u64::from(s.send_q)),
        search: None,
    },
    Column {
        key: SortKey::Sent,
        title: "Sent",
        export: Some("bytes_sent"),
        width: 76.0,
        shown: false,
        cell: |snap, s| traffic_cell(snap.flow(s).and_then(|f| f.stats.sent()), units::bytes),
        sort: |snap, _, s| traffic_sort(snap.flow(s).and_then(|f| f.stats.sent())),
        search: None,
    },
    Column {
        key: SortKey::Received,
        title: "Received",
        export: Some("bytes_received"),
        width: 76.0,
        shown: false,
        cell: |snap, s| {
            traffic_cell(
                snap.flow(s).and_then(|f| f.stats.bytes_received),
                units::bytes,
            )
        },
        sort: |snap, _, s| traffic_sort(snap.flow(s).and_then(|f| f.stats.bytes_received)),
        search: None,
    },
    Column {
        key: SortKey::RateDown,
        title: "↓ rate",
        // `list` reads one poll, which has no rates.
        export: None,
        width: 84.0,
        shown: true,
        cell: |snap, s| {
            traffic_cell(
                snap.flow(s).and_then(|f| f.rate).map(|r| r.down),
                units::rate,
            )
        },
        sort: |snap, _, s| traffic_sort(snap.flow(s).and_then(|f| f.rate).map(|r| r.down)),
        search: None,
    },
    Column {
        key: SortKey::RateUp,
        title: "↑ rate",
        export: None,
        width: 84.0,
        shown: true,
        cell: |snap, s| traffic_cell(snap.flow(s).and_then(|f| f.rate).map(|r| r.up), units::rate),
        sort: |snap, _, s| traffic_sort(snap.flow(s).and_then(|f| f.rate).map(|r| r.up)),
        search: None,
    },
    Column {
        key: SortKey::Rtt,
        title: "RTT",
        export: Some("rtt_ms"),
        width: 64.0,
        shown: true,
        cell: |snap, s| {
            traffic_cell(snap.flow(s).map(|f| u64::from(f.stats.rtt_us)), |us| {
                units::rtt(u32::try_from(us).unwrap_or(u32::MAX))
            })
        },
        sort: |snap, _, s| traffic_sort(snap.flow(s).map(|f| u64::from(f.stats.rtt_us))),
        search: None,
    },
    Column {
        key: SortKey::Retrans,
        title: "Retrans",
        export: Some("retrans"),
        width: 64.0,
        shown: false,
        cell: |snap, s| {
            traffic_cell(snap.flow(s).map(|f| u64::from(f.stats.retrans)), |n| {
                n.to_string()
            })
        },
        sort: |snap, _, s| traffic_sort(snap.flow(s).map(|f| u64::from(f.stats.retrans))),
        search: None,
    },
    Column {
        key: SortKey::Drops,
        title: "Drops",
        export: Some("drops"),
        width: 56.0,
        shown: false,
        cell: |snap, s| traffic_cell(snap.drops(s).map(u64::from), |n| n.to_string()),
        sort: |snap, _, s| traffic_sort(snap.drops(s).map(u64::from)),
        search: None,
    },
];

/// A connection's number in its unit; empty where the kernel gave none (listeners, UDP,
/// TIME_WAIT, and rates at the first poll that saw a connection).
fn traffic_cell(value: Option<u64>, unit: fn(u64) -> String) -> Cell<'static> {
    Cell::Text(value.map_or(Cow::Borrowed(""), |n| Cow::Owned(unit(n))))
}

/// Numbers as numbers; no value after every value (ascending).
fn traffic_sort(value: Option<u64>) -> SortValue<'static> {
    SortValue::Num(value.is_none(), value.unwrap_or(0))
}

impl SortKey {
    /// Every column, in the table's order.
    pub const ALL: [SortKey; COLUMNS.len()] = {
        let mut all = [SortKey::Proto; COLUMNS.len()];
        let mut i = 0;
        while i < COLUMNS.len() {
            all[i] = COLUMNS[i].key;
            i += 1;
        }
        all
    };

    /// The column's description.
    pub fn column(self) -> &'static Column {
        &COLUMNS[self as usize]
    }

    /// The column heading.
    pub fn title(self) -> &'static str {
        self.column().title
    }

    /// Whether the column says anything about this snapshot: the container column only while
    /// some socket lives in a container or another namespace than portscope's.
    pub fn applies(self, snap: &Snapshot) -> bool {
        match self {
            SortKey::Host => snap.is_several(),
            SortKey::Netns => snap.has_places(),
            _ => true,
        }
    }
}

/// What a process adds to the text of each of its rows: ` pid name cmdline user`, lower case.
pub(crate) fn process_text(p: &super::ProcessInfo) -> String {
    let mut t = format!(" {} {} {}", p.pid, p.name, p.cmdline_string());
    if let Some(user) = &p.user {
        t.push(' ');
        t.push_str(user);
    }
    t.to_lowercase()
}

/// ` addr:port` in lower case. IPv4 and numbers are written by hand (the formatting machinery
/// is half the cost of a row), IPv6 with its compression rules.
fn endpoint(out: &mut String, addr: IpAddr, port: Option<u16>) {
    let mut digits = itoa::Buffer::new();
    out.push(' ');
    match addr {
        IpAddr::V4(a) => {
            for (i, octet) in a.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                out.push_str(digits.format(octet));
            }
        }
        IpAddr::V6(a) => {
            let start = out.len();
            let _ = write!(out, "[{a}]");
            out[start..].make_ascii_lowercase();
        }
    }
    out.push(':');
    match port {
        Some(p) => out.push_str(digits.format(p)),
        None => out.push('*'),
    }
}

/// The row's text for free words: every searchable column's text, in column order.
pub(crate) fn write_row_text(out: &mut String, t: &SearchText<'_>, s: &Socket) {
    for column in COLUMNS {
        if let Some(search) = column.search {
            search(out, t, s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_in_sort_key_order_with_distinct_titles() {
        for (i, column) in COLUMNS.iter().enumerate() {
            assert_eq!(column.key as usize, i, "{}", column.title);
        }
        let mut titles: Vec<_> = COLUMNS.iter().map(|c| c.title).collect();
        titles.sort();
        titles.dedup();
        assert_eq!(titles.len(), COLUMNS.len());
    }

    #[test]
    fn export_field_names_are_fields_the_writers_write() {
        let mut csv = Vec::new();
        super::super::export::write_csv(&mut csv, &Snapshot::default(), &[]).unwrap();
        let header = String::from_utf8(csv).unwrap();
        let fields: Vec<&str> = header.trim_end().split(',').collect();
        for column in COLUMNS {
            if let Some(name) = column.export {
                assert!(fields.contains(&name), "{name} not in {header}");
            }
        }
    }
}
