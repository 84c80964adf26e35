//! Checking one term against a row. Runs for every row of tables that can hold 100,000
//! sockets, so everything that can be is worked out when the text is parsed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::texts::row_text;
use crate::knowledge::IanaRange;
use crate::model::{BindScope, ProcessInfo, Proto, Snapshot, SockState, Socket};

/// One condition on a row. Lists mean "any of these".
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Test {
    Port(Side, Vec<PortSpan>),
    Addr(Side, Vec<Network>),
    Proto(Vec<ProtoSel>),
    State(Vec<SockState>),
    Range(Vec<RangeSel>),
    /// A server on a port the OS may hand out: [`crate::model::at_ephemeral_risk`].
    EphemeralRisk,
    Scope(Vec<BindScope>),
    Pid(Vec<u32>),
    /// Lower-case part of a process name.
    Proc(String),
    /// Lower-case part of a command line.
    Cmd(String),
    User(Vec<UserSel>),
    /// The network namespace the socket lives in.
    Netns(Vec<NsSel>),
    /// The container of the socket's process or namespace: lower-case part of its name, start
    /// of its ID, or its runtime.
    Container(Vec<String>),
    /// The machine the socket is on: lower-case part of its name (the host as given), or
    /// `local` for this machine.
    Host(Vec<String>),
    /// A number of the row compared with a bound (`rate:>100k`, `recvq:>0`).
    Measure(Metric, Cmp, u64),
    /// Lower-case text to find anywhere in the row.
    Text(String),
}

impl Test {
    /// Rough cost of checking a row: socket fields, then process lookups, then the row text.
    pub(super) fn cost(&self) -> u8 {
        match self {
            Test::Port(..)
            | Test::Addr(..)
            | Test::Proto(_)
            | Test::State(_)
            | Test::Range(_)
            | Test::EphemeralRisk
            | Test::Scope(_)
            | Test::Pid(_)
            | Test::Measure(Metric::RecvQ | Metric::SendQ, ..) => 0,
            Test::Netns(_) | Test::Container(_) | Test::Host(_) => 1,
            Test::Proc(_) | Test::User(_) | Test::Measure(..) => 1,
            Test::Cmd(_) => 2,
            Test::Text(_) => 3,
        }
    }

    pub(super) fn matches(&self, snap: &Snapshot, s: &Socket) -> bool {
        match self {
            Test::Port(side, spans) => side
                .ports(s)
                .into_iter()
                .flatten()
                .any(|p| spans.iter().any(|span| span.contains(p))),
            Test::Addr(side, nets) => side
                .addrs(s)
                .into_iter()
                .flatten()
                .any(|a| nets.iter().any(|net| net.contains(a))),
            Test::Proto(sels) => sels.iter().any(|sel| sel.matches(s)),
            Test::State(states) => states.contains(&s.state),
            Test::Range(sels) => sels.iter().any(|sel| match sel {
                RangeSel::Iana(range) => IanaRange::of(s.local_port) == *range,
                RangeSel::Ephemeral => snap.ephemeral.contains(s.local_port),
            }),
            Test::EphemeralRisk => snap.at_ephemeral_risk(s),
            Test::Scope(scopes) => scopes.contains(&s.bind_scope()),
            Test::Pid(pids) => s.pids.iter().any(|p| pids.contains(p)),
            Test::Proc(part) => processes(snap, s).any(|p| contains_folded(&p.name, part)),
            Test::Cmd(part) => processes(snap, s).any(|p| cmdline_contains(p, part)),
            Test::User(sels) => sels.iter().any(|sel| sel.matches(snap, s)),
            Test::Netns(sels) => sels.iter().any(|sel| sel.matches(snap, s)),
            Test::Container(parts) => snap.container_of(s).is_some_and(|c| {
                parts.iter().any(|part| {
                    c.name.as_deref().is_some_and(|n| contains_folded(n, part))
                        || c.id.to_ascii_lowercase().starts_with(part.as_str())
                        || c.runtime.eq_ignore_ascii_case(part)
                })
            }),
            Test::Host(parts) => parts.iter().any(|part| match &snap.of(s).machine {
                Some(m) => {
                    (m.host.is_none() && part == "local")
                        || contains_folded(&m.name, part)
                        || m.host.as_deref().is_some_and(|h| contains_folded(h, part))
                }
                // One machine's table: this machine's.
                None => part == "local",
            }),
            Test::Measure(metric, cmp, bound) => {
                metric.value(snap, s).is_some_and(|v| cmp.holds(v, *bound))
            }
            Test::Text(word) => row_text(snap, s).contains(word.as_str()),
        }
    }
}

/// A number a row has, or not (a listener has no rate, a UDP socket no round-trip time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Metric {
    /// The faster direction's bytes per second: `rate:>100k` is either direction above it,
    /// `rate:<1k` both below.
    Rate,
    /// Smoothed round-trip time, microseconds.
    Rtt,
    Retrans,
    RecvQ,
    SendQ,
    /// Datagrams a UDP socket dropped.
    Drops,
}

impl Metric {
    fn value(self, snap: &Snapshot, s: &Socket) -> Option<u64> {
        match self {
            Metric::Rate => snap.flow(s).and_then(|f| f.rate).map(|r| r.down.max(r.up)),
            Metric::Rtt => snap.flow(s).map(|f| u64::from(f.stats.rtt_us)),
            Metric::Retrans => snap.flow(s).map(|f| u64::from(f.stats.retrans)),
            Metric::RecvQ => Some(u64::from(s.recv_q)),
            Metric::SendQ => Some(u64::from(s.send_q)),
            Metric::Drops => snap.drops(s).map(u64::from),
        }
    }
}

/// How a row's number compares with the term's bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Cmp {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Cmp {
    fn holds(self, value: u64, bound: u64) -> bool {
        match self {
            Cmp::Eq => value == bound,
            Cmp::Gt => value > bound,
            Cmp::Ge => value >= bound,
            Cmp::Lt => value < bound,
            Cmp::Le => value <= bound,
        }
    }
}

/// Which end of the connection a port or address term looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Side {
    Either,
    Local,
    Remote,
}

impl Side {
    pub(super) fn ports(self, s: &Socket) -> [Option<u16>; 2] {
        match self {
            Side::Either => [Some(s.local_port), s.remote_port],
            Side::Local => [Some(s.local_port), None],
            Side::Remote => [s.remote_port, None],
        }
    }

    pub(super) fn addrs(self, s: &Socket) -> [Option<IpAddr>; 2] {
        match self {
            Side::Either => [Some(s.local_addr), s.remote_addr],
            Side::Local => [Some(s.local_addr), None],
            Side::Remote => [s.remote_addr, None],
        }
    }
}

/// Ports `lo..=hi`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct PortSpan {
    pub(super) lo: u16,
    pub(super) hi: u16,
}

impl PortSpan {
    pub(super) fn contains(self, port: u16) -> bool {
        (self.lo..=self.hi).contains(&port)
    }
}

/// An address or a network: `addr` with all but the first `prefix` bits cleared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Network {
    pub(super) addr: IpAddr,
    pub(super) prefix: u8,
}

impl Network {
    pub(super) fn new(addr: IpAddr, prefix: u8) -> Network {
        // An IPv4 address seen through an IPv6 socket (::ffff:10.0.0.1) is the IPv4 address.
        let (addr, prefix) = match addr {
            IpAddr::V6(v6) => match (v6.to_ipv4_mapped(), prefix.checked_sub(96)) {
                (Some(v4), Some(p)) => (IpAddr::V4(v4), p),
                _ => (addr, prefix),
            },
            IpAddr::V4(_) => (addr, prefix),
        };
        Network {
            addr: mask(addr, prefix),
            prefix,
        }
    }

    /// An IPv4-mapped address matches both as itself and as the IPv4 address it stands for.
    pub(super) fn contains(self, addr: IpAddr) -> bool {
        let hit =
            |a: IpAddr| a.is_ipv4() == self.addr.is_ipv4() && mask(a, self.prefix) == self.addr;
        hit(addr) || hit(addr.to_canonical())
    }
}

pub(super) fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let keep = u32::MAX
                .checked_shl(32 - u32::from(prefix.min(32)))
                .unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from_bits(a.to_bits() & keep))
        }
        IpAddr::V6(a) => {
            let keep = u128::MAX
                .checked_shl(128 - u32::from(prefix.min(128)))
                .unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from_bits(a.to_bits() & keep))
        }
    }
}

/// A transport, optionally on one address family (`tcp6`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ProtoSel {
    pub(super) proto: Proto,
    /// `Some(true)`: IPv6 only; `Some(false)`: IPv4 only.
    pub(super) v6: Option<bool>,
}

impl ProtoSel {
    /// The family is that of the local address, as netstat and ss report it: a dual-stack
    /// socket bound to `::` is `tcp6`.
    pub(super) fn matches(self, s: &Socket) -> bool {
        s.proto == self.proto && self.v6.is_none_or(|v6| s.local_addr.is_ipv6() == v6)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RangeSel {
    Iana(IanaRange),
    Ephemeral,
}

/// A network namespace: portscope's own, any other, one by inode, or by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum NsSel {
    Own,
    Other,
    Inode(u32),
    /// Lower-case part of an `ip netns` name.
    Name(String),
}

impl NsSel {
    fn matches(&self, snap: &Snapshot, s: &Socket) -> bool {
        let foreign = snap.foreign_netns(s);
        match self {
            NsSel::Own => foreign.is_none(),
            NsSel::Other => foreign.is_some(),
            NsSel::Inode(inode) => s.netns == *inode,
            NsSel::Name(part) => foreign
                .is_some_and(|ns| ns.name.as_deref().is_some_and(|n| contains_folded(n, part))),
        }
    }
}

/// A user name (lower case) or uid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct UserSel {
    pub(super) name: String,
    pub(super) uid: Option<u32>,
}

impl UserSel {
    /// The socket's own uid (as [`Snapshot::socket_user`] reports it) or the user of any
    /// process holding it.
    pub(super) fn matches(&self, snap: &Snapshot, s: &Socket) -> bool {
        let socket_user = s.uid.is_some_and(|uid| {
            self.uid == Some(uid)
                || snap
                    .user_name(uid)
                    .is_some_and(|n| eq_folded(n, &self.name))
        });
        socket_user
            || processes(snap, s).any(|p| {
                (self.uid.is_some() && p.uid == self.uid)
                    || p.user.as_deref().is_some_and(|n| eq_folded(n, &self.name))
            })
    }
}

pub(super) fn processes<'a>(
    snap: &'a Snapshot,
    s: &'a Socket,
) -> impl Iterator<Item = &'a ProcessInfo> {
    s.pids.iter().filter_map(|pid| snap.process(*pid))
}

/// Whether `haystack` contains `part`, which is already lower case; without allocating
/// when both are ASCII.
pub(super) fn contains_folded(haystack: &str, part: &str) -> bool {
    if part.is_empty() {
        return true;
    }
    if haystack.is_ascii() && part.is_ascii() {
        haystack
            .as_bytes()
            .windows(part.len())
            .any(|w| w.eq_ignore_ascii_case(part.as_bytes()))
    } else {
        haystack.to_lowercase().contains(part)
    }
}

/// Whether `text` equals `lower`, which is already lower case, ignoring case.
pub(super) fn eq_folded(text: &str, lower: &str) -> bool {
    if text.is_ascii() {
        text.eq_ignore_ascii_case(lower)
    } else {
        text.to_lowercase() == lower
    }
}

/// The command line is matched as its arguments joined by spaces; where it cannot be read
/// (kernel threads, other users' processes), the executable path stands in.
pub(super) fn cmdline_contains(p: &ProcessInfo, part: &str) -> bool {
    if p.cmdline.is_empty() {
        return p
            .exe
            .as_deref()
            .is_some_and(|exe| contains_folded(exe, part));
    }
    if part.contains(char::is_whitespace) {
        contains_folded(&p.cmdline.join(" "), part)
    } else {
        // Without a space the text cannot span two arguments.
        p.cmdline.iter().any(|arg| contains_folded(arg, part))
    }
}
