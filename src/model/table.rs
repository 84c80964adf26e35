//! Sorting and filtering of the socket table, shared by the window and the CLI.
//!
//! A view is an index into the snapshot's socket list, so sorting moves numbers, not sockets.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::query::RowTexts;
use super::{FastHash, Snapshot, Socket, Toggles};

/// A column of the table, by which it can be sorted (see [`super::column::COLUMNS`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SortKey {
    /// The machine a socket is on, in a table of several.
    Host,
    Proto,
    /// The container or network namespace a socket lives in.
    Netns,
    LocalAddr,
    LocalPort,
    RemoteAddr,
    RemotePort,
    State,
    Pid,
    Process,
    User,
    RecvQ,
    SendQ,
    Sent,
    Received,
    RateDown,
    RateUp,
    Rtt,
    Retrans,
    Drops,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SortDir {
    Ascending,
    Descending,
}

impl SortDir {
    pub fn flipped(self) -> SortDir {
        match self {
            SortDir::Ascending => SortDir::Descending,
            SortDir::Descending => SortDir::Ascending,
        }
    }

    pub fn arrow(self) -> &'static str {
        match self {
            SortDir::Ascending => "▲",
            SortDir::Descending => "▼",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SortSpec {
    pub key: SortKey,
    pub dir: SortDir,
}

impl Default for SortSpec {
    fn default() -> Self {
        SortSpec {
            key: SortKey::LocalPort,
            dir: SortDir::Ascending,
        }
    }
}

impl SortSpec {
    /// What clicking a column heading does: the same column flips, another starts ascending.
    pub fn clicked(self, key: SortKey) -> SortSpec {
        if self.key == key {
            SortSpec {
                key,
                dir: self.dir.flipped(),
            }
        } else {
            SortSpec {
                key,
                dir: SortDir::Ascending,
            }
        }
    }
}

/// A sort value: numbers compare as numbers, addresses as addresses (IPv4 before IPv6),
/// text case-insensitively. Missing values sort after present ones.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum SortValue<'a> {
    Num(bool, u64),
    Addr(bool, Option<IpAddr>),
    Text(Cow<'a, str>),
}

/// Maps filled and read once per row of a sort.
type FastMap<K, V> = HashMap<K, V, FastHash>;

/// Lower-cased names, computed once per sort rather than once per row.
pub(crate) struct SortNames {
    pub(crate) processes: FastMap<u32, String>,
    pub(crate) users: FastMap<u32, String>,
}

impl SortNames {
    fn new(snap: &Snapshot, key: SortKey) -> SortNames {
        let processes = if key == SortKey::Process {
            snap.processes
                .iter()
                .map(|(pid, p)| (*pid, p.name.to_lowercase()))
                .collect()
        } else {
            FastMap::default()
        };
        let users = if key == SortKey::User {
            snap.users
                .iter()
                .map(|(uid, name)| (*uid, name.to_lowercase()))
                .collect()
        } else {
            FastMap::default()
        };
        SortNames { processes, users }
    }
}

fn sort_value<'a>(
    snap: &Snapshot,
    names: &'a SortNames,
    s: &Socket,
    key: SortKey,
) -> SortValue<'a> {
    (key.column().sort)(snap, names, s)
}

/// Ties under the chosen column fall back to this order, so the table never jitters.
type TieBreak = (u16, u8, IpAddr, Option<IpAddr>, Option<u16>);

fn tie_break(s: &Socket) -> TieBreak {
    (
        s.local_port,
        s.proto as u8,
        s.local_addr,
        s.remote_addr,
        s.remote_port,
    )
}

/// Compare two sockets under a column, ascending.
pub fn compare_sockets(snap: &Snapshot, a: &Socket, b: &Socket, key: SortKey) -> Ordering {
    let names = SortNames::new(snap, key);
    sort_value(snap, &names, a, key)
        .cmp(&sort_value(snap, &names, b, key))
        .then_with(|| tie_break(a).cmp(&tie_break(b)))
}

/// What the filter box holds: free words and `key:value` terms (see [`super::query`]).
pub type Filter = super::query::Query;

/// Indices of the sockets that pass the filter, in the order of the sort.
pub fn sorted_rows(snap: &Snapshot, sort: SortSpec, filter: &Filter) -> Vec<usize> {
    sorted_rows_with(snap, sort, filter, &Toggles::default())
}

/// [`sorted_rows`] narrowed further by the quick toggles.
pub fn sorted_rows_with(
    snap: &Snapshot,
    sort: SortSpec,
    filter: &Filter,
    toggles: &Toggles,
) -> Vec<usize> {
    sorted_rows_cached(snap, sort, filter, toggles, None)
}

/// [`sorted_rows_with`] using row texts built earlier for the same snapshot.
pub fn sorted_rows_cached(
    snap: &Snapshot,
    sort: SortSpec,
    filter: &Filter,
    toggles: &Toggles,
    texts: Option<&RowTexts>,
) -> Vec<usize> {
    sorted_rows_of(&[(snap, texts)], sort, filter, toggles)
}

/// Several tables listed as one, each with its row texts if built: row numbers run through
/// the parts in order (the first part's rows, then the second's), and the rows of all parts
/// that pass the filter are sorted together. Each row is read against its own part (its
/// processes, users, ephemeral range). The window lists the poll and its closed rows so.
pub fn sorted_rows_of(
    parts: &[(&Snapshot, Option<&RowTexts>)],
    sort: SortSpec,
    filter: &Filter,
    toggles: &Toggles,
) -> Vec<usize> {
    // A table of several machines is read machine by machine: its rows are theirs, in order,
    // each with its own processes, users and ephemeral range.
    let mut split: Vec<(&Snapshot, Option<&RowTexts>, usize)> = Vec::with_capacity(parts.len());
    for (snap, texts) in parts {
        let mut at = 0;
        for part in snap.parts() {
            split.push((part, *texts, at));
            at += part.sockets.len();
        }
    }
    let mut rows: Vec<usize> = Vec::new();
    let mut offset = 0;
    for (snap, texts, at) in &split {
        rows.extend(
            snap.sockets
                .iter()
                .enumerate()
                .filter(|(i, s)| {
                    toggles.matches(s)
                        && filter.matches_with_text(snap, s, texts.and_then(|t| t.get(at + *i)))
                })
                .map(|(i, _)| offset + i),
        );
        offset += snap.sockets.len();
    }
    let parts: Vec<(&Snapshot, Option<&RowTexts>)> = split
        .iter()
        .map(|(snap, texts, _)| (*snap, *texts))
        .collect();
    let parts = &parts[..];
    let mut keyed = row_keys(parts, &rows, sort.key);
    // The index makes every key unique, so any sort gives the same order; the stable sort
    // finds the runs already in order (a host's table comes ordered by port) and merges them
    // instead of sorting them again.
    match sort.dir {
        SortDir::Ascending => keyed.sort(),
        SortDir::Descending => keyed.sort_by(|a, b| {
            (b.primary, b.tie)
                .cmp(&(a.primary, a.tie))
                .then(a.index.cmp(&b.index))
        }),
    }
    rows.clear();
    rows.extend(keyed.into_iter().map(|k| k.index as usize));
    rows
}

/// The rows of `live` and of `extra` in the order [`sorted_rows_of`] gives for the two as
/// parts (`extra`'s numbered after `live`'s), from each part's rows already in that order:
/// `extra`'s few rows are placed among `live`'s by a galloping search from the last one's
/// place, so a new set of closed rows does not sort the whole table again. Ties go as in the
/// whole sort: by row number.
pub fn merge_sorted_rows(
    live: &Snapshot,
    live_rows: &[usize],
    extra: &Snapshot,
    extra_rows: &[usize],
    sort: SortSpec,
) -> Vec<usize> {
    let live_keys = Keyer::new(live, sort.key);
    let extra_keys = Keyer::new(extra, sort.key);
    let offset = live.sockets.len();
    let mut out = Vec::with_capacity(live_rows.len() + extra_rows.len());
    let mut taken = 0;
    for &e in extra_rows {
        let Some(es) = extra.sockets.get(e) else {
            continue;
        };
        let ek = extra_keys.key(extra, es);
        let before = gallop(&live_rows[taken..], |&l| {
            live.sockets
                .get(l)
                .is_some_and(|ls| comes_first(live_keys.key(live, ls).cmp(&ek), sort.dir))
        });
        out.extend_from_slice(&live_rows[taken..taken + before]);
        taken += before;
        out.push(offset + e);
    }
    out.extend_from_slice(&live_rows[taken..]);
    out
}

/// Whether a live row whose key compares so with an extra row's comes before it: smaller
/// (ascending) or larger (descending), and equal, since its row number is smaller.
fn comes_first(order: Ordering, dir: SortDir) -> bool {
    match dir {
        SortDir::Ascending => order != Ordering::Greater,
        SortDir::Descending => order != Ordering::Less,
    }
}

/// How many of `items` from the start satisfy `pred` (true, then false throughout), found by
/// galloping: steps of 1, 2, 4, … from the start, then a binary search in the last step. The
/// sorted closed rows' places are near one another, so each search stays close to where the
/// last one ended — a few neighbouring reads instead of a binary search's reads across the
/// whole table, each a cache miss at 100,000 rows.
fn gallop<T>(items: &[T], mut pred: impl FnMut(&T) -> bool) -> usize {
    let mut bound = 1;
    while bound <= items.len() && pred(&items[bound - 1]) {
        bound *= 2;
    }
    let low = bound / 2;
    let high = bound.min(items.len());
    low + items[low..high].partition_point(pred)
}

/// A row's sort value and tie-break, read against its own machine's part.
struct Keyer<'a> {
    key: SortKey,
    names: Vec<(&'a Snapshot, SortNames)>,
}

impl<'a> Keyer<'a> {
    fn new(snap: &'a Snapshot, key: SortKey) -> Keyer<'a> {
        Keyer {
            key,
            names: snap
                .parts()
                .into_iter()
                .map(|part| (part, SortNames::new(part, key)))
                .collect(),
        }
    }

    fn key<'s>(&'s self, snap: &Snapshot, s: &Socket) -> (SortValue<'s>, TieBreak) {
        let part = snap.of(s);
        let names = self
            .names
            .iter()
            .find(|(p, _)| std::ptr::eq(*p, part))
            .or_else(|| self.names.first())
            .map(|(_, n)| n);
        let value = match names {
            Some(names) => sort_value(part, names, s, self.key),
            None => SortValue::Num(true, 0),
        };
        (value, tie_break(s))
    }
}

/// A row's place under a column and in the tie-break, as integers: the order of
/// [`compare_sockets`], but compared several times faster than names and addresses are.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct RowKey {
    primary: (u8, Wide),
    tie: TieKey,
    index: u32,
}

/// [`TieBreak`] as integers.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct TieKey {
    /// Local port, protocol and the local address's family.
    port_proto_family: u32,
    local: Wide,
    /// No peer, IPv4 or IPv6.
    remote_family: u8,
    remote: Wide,
    /// Missing or present, and the port.
    remote_port: u32,
}

/// A 128-bit number as two halves, high first: it orders like `u128` but packs at 8-byte
/// alignment, which keeps the keys small.
type Wide = [u64; 2];

fn wide(n: u128) -> Wide {
    [(n >> 64) as u64, n as u64]
}

/// IPv4 before IPv6, then by address: the order of [`IpAddr`].
fn addr_key(addr: IpAddr) -> (u8, Wide) {
    match addr {
        IpAddr::V4(a) => (0, [0, u64::from(a.to_bits())]),
        IpAddr::V6(a) => (1, wide(a.to_bits())),
    }
}

/// None first, as for [`Option`].
fn opt_addr_key(addr: Option<IpAddr>) -> (u8, Wide) {
    addr.map_or((0, [0, 0]), |a| {
        let (family, bits) = addr_key(a);
        (family + 1, bits)
    })
}

fn tie_key(s: &Socket) -> TieKey {
    let (local_family, local) = addr_key(s.local_addr);
    let (remote_family, remote) = opt_addr_key(s.remote_addr);
    TieKey {
        port_proto_family: u32::from(s.local_port) << 16
            | u32::from(s.proto as u8) << 8
            | u32::from(local_family),
        local,
        remote_family,
        remote,
        remote_port: s.remote_port.map_or(0, |p| 1 << 16 | u32::from(p)),
    }
}

/// Each row's sort key. `rows` holds each part's rows in turn, ascending within a part, as
/// [`sorted_rows_of`] collects them before sorting.
fn row_keys(parts: &[(&Snapshot, Option<&RowTexts>)], rows: &[usize], key: SortKey) -> Vec<RowKey> {
    let names: Vec<SortNames> = parts
        .iter()
        .map(|(snap, _)| SortNames::new(snap, key))
        .collect();
    // Where each part's rows are in `rows`, and its first row number.
    let mut spans = Vec::with_capacity(parts.len());
    let (mut start, mut offset) = (0, 0);
    for (snap, _) in parts {
        let len = snap.sockets.len();
        let end = start + rows[start..].partition_point(|&i| i < offset + len);
        spans.push((&snap.sockets[..], start..end, offset));
        start = end;
        offset += len;
    }
    let mut values: Vec<SortValue<'_>> = Vec::with_capacity(rows.len());
    for (((snap, _), names), (sockets, span, offset)) in parts.iter().zip(&names).zip(&spans) {
        values.extend(
            rows[span.clone()]
                .iter()
                .map(|&i| sort_value(snap, names, &sockets[i - offset], key)),
        );
    }
    // Text compares by its rank among the distinct texts of the column.
    let mut distinct: Vec<&str> = values
        .iter()
        .filter_map(|v| match v {
            SortValue::Text(text) => Some(text.as_ref()),
            _ => None,
        })
        .collect::<HashSet<&str, FastHash>>()
        .into_iter()
        .collect();
    distinct.sort_unstable();
    let rank: FastMap<&str, u64> = distinct
        .iter()
        .enumerate()
        .map(|(r, text)| (*text, r as u64))
        .collect();
    let mut keys = Vec::with_capacity(rows.len());
    let mut values = values.iter();
    for (sockets, span, offset) in &spans {
        for &i in &rows[span.clone()] {
            let Some(value) = values.next() else { break };
            keys.push(RowKey {
                primary: match value {
                    SortValue::Num(missing, n) => (u8::from(*missing), [0, *n]),
                    SortValue::Addr(missing, addr) => {
                        let (family, bits) = opt_addr_key(*addr);
                        (u8::from(*missing) << 2 | family, bits)
                    }
                    SortValue::Text(text) => {
                        (0, [0, rank.get(text.as_ref()).copied().unwrap_or(0)])
                    }
                },
                tie: tie_key(&sockets[i - offset]),
                index: u32::try_from(i).unwrap_or(u32::MAX),
            });
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Pids, ProcessInfo, Proto, SockState};
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn sock(proto: Proto, addr: IpAddr, port: u16, pids: Vec<u32>) -> Socket {
        Socket {
            host: 0,
            proto,
            local_addr: addr,
            local_port: port,
            remote_addr: None,
            remote_port: None,
            state: SockState::Listen,
            pids: pids.into(),
            uid: Some(0),
            inode: Some(1),
            cookie: 0,
            recv_q: 0,
            send_q: 0,
            netns: 0,
        }
    }

    fn snap() -> Snapshot {
        let v4 = |a, b, c, d| IpAddr::V4(Ipv4Addr::new(a, b, c, d));
        let mut s = Snapshot {
            seq: 1,
            sockets: vec![
                sock(Proto::Tcp, v4(127, 0, 0, 1), 8080, vec![20]),
                sock(Proto::Tcp, IpAddr::V6(Ipv6Addr::LOCALHOST), 22, vec![10]),
                sock(Proto::Udp, v4(10, 0, 0, 2), 443, vec![]),
                sock(Proto::Tcp, v4(9, 0, 0, 1), 9, vec![30]),
            ],
            ..Snapshot::default()
        };
        for (pid, name) in [(10, "sshd"), (20, "Python3"), (30, "alpha")] {
            s.processes.insert(
                pid,
                ProcessInfo {
                    pid,
                    name: name.to_owned(),
                    exe: None,
                    cmdline: vec![name.to_owned(), "--serve".to_owned()],
                    uid: Some(0),
                    user: Some("root".to_owned()),
                    parent_pid: None,
                    start_time: None,
                },
            );
        }
        s
    }

    #[test]
    fn rows_of_two_tables_sort_together_each_read_against_its_own() {
        let live = snap();
        let mut other = Snapshot {
            sockets: vec![sock(
                Proto::Tcp,
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                7,
                vec![20],
            )],
            ..Snapshot::default()
        };
        other.processes.insert(
            20,
            ProcessInfo {
                pid: 20,
                name: "Beta".to_owned(),
                exe: None,
                cmdline: Vec::new(),
                uid: None,
                user: None,
                parent_pid: None,
                start_time: None,
            },
        );
        let parts = [(&live, None), (&other, None)];
        let by = |key, filter: &str| {
            let spec = SortSpec {
                key,
                dir: SortDir::Ascending,
            };
            sorted_rows_of(
                &parts,
                spec,
                &Filter::parse_lossy(filter),
                &Toggles::default(),
            )
        };
        // Row 4 is the second table's first: PID 20 there is "Beta", in the first "Python3".
        // (Row 2 has no process: its reason, in brackets, sorts first.)
        assert_eq!(by(SortKey::Process, ""), [2, 3, 4, 0, 1]);
        assert_eq!(by(SortKey::LocalPort, ""), [4, 3, 1, 2, 0]);
        assert_eq!(by(SortKey::LocalPort, "proc:beta"), [4]);
        assert_eq!(by(SortKey::LocalPort, "proc:python3"), [0]);
    }

    /// Every column, both directions, on a table with every kind of value and many ties:
    /// the order is exactly that of `compare_sockets`, ties in table order.
    #[test]
    fn the_fast_sort_keeps_the_order_of_compare_sockets() {
        let mut s = snap();
        s.users.insert(0, "root".to_owned());
        s.users.insert(1000, "Alice".to_owned());
        let states = [
            SockState::Listen,
            SockState::Established,
            SockState::TimeWait,
        ];
        s.sockets = (0..600u32)
            .map(|i| {
                let local = match i % 4 {
                    0 => IpAddr::V6(Ipv6Addr::LOCALHOST),
                    1 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                    _ => IpAddr::V4(Ipv4Addr::new(10, 0, (i % 3) as u8, (i % 5) as u8)),
                };
                let remote = match i % 5 {
                    0 => None,
                    1 => Some(IpAddr::V6(Ipv6Addr::new(
                        0xfe80,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                        i as u16 % 3,
                    ))),
                    _ => Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, (i % 7) as u8))),
                };
                Socket {
                    host: 0,
                    proto: if i % 3 == 0 { Proto::Udp } else { Proto::Tcp },
                    local_addr: local,
                    local_port: (i % 9) as u16 * 1000,
                    remote_addr: remote,
                    remote_port: remote.map(|_| (i % 4) as u16),
                    state: states[i as usize % states.len()],
                    pids: match i % 6 {
                        0 => Pids::new(),
                        1 => Pids::from_slice(&[10, 20]),
                        2 => Pids::from_slice(&[99]), // not described
                        3 => Pids::from_slice(&[20]),
                        4 => Pids::from_slice(&[30]),
                        _ => Pids::from_slice(&[10]),
                    },
                    uid: [None, Some(0), Some(1000), Some(7)][i as usize % 4],
                    inode: Some(i),
                    cookie: 0,
                    recv_q: 0,
                    send_q: 0,
                    netns: 0,
                }
            })
            .collect();
        for key in SortKey::ALL {
            for dir in [SortDir::Ascending, SortDir::Descending] {
                let mut expected: Vec<usize> = (0..s.sockets.len()).collect();
                expected.sort_by(|&a, &b| {
                    let (x, y) = (&s.sockets[a], &s.sockets[b]);
                    match dir {
                        SortDir::Ascending => compare_sockets(&s, x, y, key),
                        SortDir::Descending => compare_sockets(&s, y, x, key),
                    }
                    .then(a.cmp(&b))
                });
                let got = sorted_rows(&s, SortSpec { key, dir }, &Filter::default());
                assert_eq!(got, expected, "{key:?} {dir:?}");
            }
        }
    }

    fn order(s: &Snapshot, key: SortKey, dir: SortDir) -> Vec<u16> {
        sorted_rows(s, SortSpec { key, dir }, &Filter::default())
            .into_iter()
            .map(|i| s.sockets[i].local_port)
            .collect()
    }

    #[test]
    fn ports_sort_numerically_not_as_text() {
        let s = snap();
        assert_eq!(
            order(&s, SortKey::LocalPort, SortDir::Ascending),
            [9, 22, 443, 8080]
        );
        assert_eq!(
            order(&s, SortKey::LocalPort, SortDir::Descending),
            [8080, 443, 22, 9]
        );
    }

    #[test]
    fn addresses_sort_by_ip_with_v4_before_v6() {
        let s = snap();
        // 9.0.0.1 < 10.0.0.2 < 127.0.0.1 numerically (as strings "10" < "127" < "9"), then ::1.
        assert_eq!(
            order(&s, SortKey::LocalAddr, SortDir::Ascending),
            [9, 443, 8080, 22]
        );
    }

    #[test]
    fn pids_sort_numerically_with_missing_last() {
        let s = snap();
        assert_eq!(
            order(&s, SortKey::Pid, SortDir::Ascending),
            [22, 8080, 9, 443]
        );
    }

    #[test]
    fn process_sorts_case_insensitively() {
        let s = snap();
        // "(…reason…)" sorts before letters; then alpha, python3, sshd.
        assert_eq!(
            order(&s, SortKey::Process, SortDir::Ascending),
            [443, 9, 8080, 22]
        );
    }

    #[test]
    fn clicking_a_heading_toggles_then_switches() {
        let spec = SortSpec::default();
        let again = spec.clicked(SortKey::LocalPort);
        assert_eq!(again.dir, SortDir::Descending);
        let other = again.clicked(SortKey::Pid);
        assert_eq!(
            other,
            SortSpec {
                key: SortKey::Pid,
                dir: SortDir::Ascending
            }
        );
    }

    #[test]
    fn filter_words_must_all_match_somewhere() {
        let s = snap();
        let rows = |text| {
            let filter = Filter::parse(text).expect("plain words parse");
            sorted_rows(&s, SortSpec::default(), &filter)
                .into_iter()
                .map(|i| s.sockets[i].local_port)
                .collect::<Vec<_>>()
        };
        assert_eq!(rows("python"), [8080]);
        assert_eq!(rows("UDP"), [443]);
        assert_eq!(rows("tcp root"), [9, 22, 8080]);
        assert_eq!(rows("--serve alpha"), [9]);
        assert_eq!(rows("[::1]"), [22]);
        assert!(rows("nothing-like-this").is_empty());
    }

    #[test]
    fn prebuilt_row_texts_filter_exactly_like_building_them_per_row() {
        let s = snap();
        let texts = RowTexts::build(&s);
        for text in [
            "python",
            "udp",
            "tcp root",
            "--serve alpha",
            "[::1]",
            "nothing",
            "-sshd",
            "8080",
        ] {
            let filter = Filter::parse_lossy(text);
            let plain = sorted_rows(&s, SortSpec::default(), &filter);
            let cached = sorted_rows_cached(
                &s,
                SortSpec::default(),
                &filter,
                &Toggles::default(),
                Some(&texts),
            );
            assert_eq!(plain, cached, "{text}");
        }
    }

    /// A small table of made-up sockets: ports, addresses, states and owners from `seeds`,
    /// names that repeat (ties) and PIDs without a process.
    fn table_of(seeds: &[(u16, u8, u8, u8)], names: &[&str]) -> Snapshot {
        let states = [
            SockState::Listen,
            SockState::Established,
            SockState::TimeWait,
        ];
        let mut s = Snapshot {
            seq: 1,
            ..Snapshot::default()
        };
        for &(port, addr, state, pid) in seeds {
            let mut socket = sock(
                if addr % 2 == 0 {
                    Proto::Tcp
                } else {
                    Proto::Udp
                },
                IpAddr::V4(Ipv4Addr::new(10, 0, 0, addr % 4)),
                port % 50,
                if pid % 3 == 0 {
                    vec![]
                } else {
                    vec![u32::from(pid % 5)]
                },
            );
            socket.state = states[usize::from(state) % states.len()];
            socket.recv_q = u32::from(pid % 7);
            s.sockets.push(socket);
        }
        for (pid, name) in names.iter().enumerate().take(4) {
            s.processes.insert(
                pid as u32,
                ProcessInfo {
                    pid: pid as u32,
                    name: (*name).to_owned(),
                    exe: None,
                    cmdline: Vec::new(),
                    uid: Some(0),
                    user: None,
                    parent_pid: None,
                    start_time: None,
                },
            );
        }
        s
    }

    proptest::proptest! {
        #[test]
        fn closed_rows_placed_among_sorted_live_rows_are_where_a_whole_sort_puts_them(
            live in proptest::collection::vec(proptest::prelude::any::<(u16, u8, u8, u8)>(), 0..40),
            closed in proptest::collection::vec(proptest::prelude::any::<(u16, u8, u8, u8)>(), 0..8),
            column in 0..SortKey::ALL.len(),
            descending in proptest::prelude::any::<bool>(),
            filtered in proptest::prelude::any::<bool>(),
        ) {
            let live = table_of(&live, &["nginx", "sshd", "nginx", "Zed"]);
            // The closed rows' processes: other names under the same PIDs.
            let closed = table_of(&closed, &["curl", "nginx", "apt", "sshd"]);
            let sort = SortSpec {
                key: SortKey::ALL[column],
                dir: if descending { SortDir::Descending } else { SortDir::Ascending },
            };
            let filter = if filtered {
                Filter::parse_lossy("state:listen,established")
            } else {
                Filter::default()
            };
            let toggles = Toggles::default();
            let whole = sorted_rows_of(&[(&live, None), (&closed, None)], sort, &filter, &toggles);
            let live_rows = sorted_rows_of(&[(&live, None)], sort, &filter, &toggles);
            let closed_rows = sorted_rows_of(&[(&closed, None)], sort, &filter, &toggles);
            let merged = merge_sorted_rows(&live, &live_rows, &closed, &closed_rows, sort);
            proptest::prop_assert_eq!(merged, whole);
        }
    }
}
