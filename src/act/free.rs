//! Finding ports a new service can safely take: `portscope free` and the window's *Find a free
//! port*.
//!
//! A candidate must be a good choice by its number ([`judge`]: outside the ephemeral range and
//! the reserved ports, not registered with IANA for any transport, not a habitual port of
//! well-known software, at least 1024), held by no socket of any protocol in the socket table
//! just read, and — the only proof that counts — bindable at that moment. The bind is on the
//! wildcard address (`0.0.0.0`, and `::` IPv6-only where IPv6 exists), without
//! `SO_REUSEADDR` and without listening: it fails if any address of the machine holds the
//! port, even a connection in TIME_WAIT, and nothing can connect in between. The sockets are
//! closed again at once, so the port is free when the answer arrives, but nothing keeps it free
//! afterwards.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use socket2::{Domain, Protocol, Socket, Type};

use crate::knowledge::{Transport, judge};
use crate::model::Snapshot;

/// Where the search starts without `near`: the first registered port, since every port below
/// needs root.
pub const DEFAULT_START: u16 = 1024;

/// What to look for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FreeSearch {
    /// `Tcp` or `Udp`: the protocol the ports are bound with.
    pub transport: Transport,
    /// Search outward from this port (it first, then one above, one below, …); `None`: upward
    /// from [`DEFAULT_START`].
    pub near: Option<u16>,
    /// How many ports to find.
    pub count: usize,
}

/// Ports to try, in order: outward from `near` (up first on a tie), or upward from
/// [`DEFAULT_START`]. Each port at most once; at most 65,536 of them.
pub fn search_order(near: Option<u16>) -> impl Iterator<Item = u16> {
    let (start, outward) = match near {
        Some(port) => (port, true),
        None => (DEFAULT_START, false),
    };
    (0..=u16::MAX as u32).flat_map(move |step| {
        let up = u32::from(start) + step;
        let down = u32::from(start)
            .checked_sub(step)
            .filter(|_| outward && step > 0);
        let up = u16::try_from(up).ok();
        let down = down.and_then(|d| u16::try_from(d).ok());
        up.into_iter().chain(down)
    })
}

/// Up to `search.count` ports that are good for a new service, unused in `snap`, and bindable
/// now, in search order. Fewer when the search runs out.
pub fn find_free(search: &FreeSearch, snap: &Snapshot) -> Vec<u16> {
    find_free_with(search, snap, |port| can_bind(port, search.transport))
}

/// [`find_free`] with the bind check `bindable` (tests).
pub fn find_free_with(
    search: &FreeSearch,
    snap: &Snapshot,
    mut bindable: impl FnMut(u16) -> bool,
) -> Vec<u16> {
    let used: std::collections::HashSet<u16> = snap.sockets.iter().map(|s| s.local_port).collect();
    search_order(search.near)
        .filter(|&port| !used.contains(&port) && judge(port, &snap.ephemeral).good)
        .filter(|&port| bindable(port))
        .take(search.count)
        .collect()
}

/// Whether `port` can be bound for `transport` (TCP unless UDP) on every address now: on
/// `0.0.0.0`, and on `::` where the machine has IPv6.
pub fn can_bind(port: u16, transport: Transport) -> bool {
    let (kind, protocol) = match transport {
        Transport::Udp => (Type::DGRAM, Protocol::UDP),
        _ => (Type::STREAM, Protocol::TCP),
    };
    let v4 = Socket::new(Domain::IPV4, kind, Some(protocol)).and_then(|s| {
        s.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)).into())?;
        Ok(s)
    });
    let Ok(_v4) = v4 else {
        return false;
    };
    // No IPv6 on this machine: the IPv4 bind is the whole answer.
    let Ok(v6) = Socket::new(Domain::IPV6, kind, Some(protocol)) else {
        return true;
    };
    if v6.set_only_v6(true).is_err() {
        return false;
    }
    match v6.bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)).into()) {
        Ok(()) => true,
        // IPv6 exists but has no address to bind (disabled on every interface).
        Err(e) => e.raw_os_error() == Some(libc::EADDRNOTAVAIL),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::EphemeralRange;

    #[test]
    fn the_search_goes_outward_and_stays_in_bounds() {
        let order: Vec<u16> = search_order(Some(40000)).take(5).collect();
        assert_eq!(order, [40000, 40001, 39999, 40002, 39998]);
        let top: Vec<u16> = search_order(Some(65535)).take(3).collect();
        assert_eq!(top, [65535, 65534, 65533]);
        let bottom: Vec<u16> = search_order(Some(0)).take(3).collect();
        assert_eq!(bottom, [0, 1, 2]);
        assert_eq!(search_order(Some(30000)).count(), 65536);
        assert_eq!(search_order(None).next(), Some(DEFAULT_START));
        assert_eq!(search_order(None).count(), 65536 - 1024);
    }

    #[test]
    fn only_good_unused_bindable_ports_are_offered() {
        let snap = Snapshot {
            ephemeral: EphemeralRange::from_linux_sysctl(
                Ok("32768 60999".into()),
                Ok("61001".into()),
            ),
            ..Snapshot::default()
        };
        let search = |near, count| FreeSearch {
            transport: Transport::Tcp,
            near: Some(near),
            count,
        };
        // From inside the range, outward: the first ports above it.
        let found = find_free_with(&search(60999, 3), &snap, |_| true);
        // 61001 is reserved on this machine.
        assert_eq!(found, [61000, 61002, 61003]);
        // A port that does not bind is skipped.
        let found = find_free_with(&search(61000, 2), &snap, |p| p != 61000);
        assert_eq!(found, [61002, 61003]);
        // Nothing binds: nothing found, after a bounded search.
        assert!(find_free_with(&search(61000, 1), &snap, |_| false).is_empty());
    }

    #[test]
    fn a_held_port_does_not_bind_and_a_released_one_does() {
        let held = match std::net::TcpListener::bind("127.0.0.1:0") {
            Ok(l) => l,
            Err(e) => panic!("cannot bind loopback: {e}"),
        };
        let port = held.local_addr().map(|a| a.port()).unwrap_or(0);
        assert!(!can_bind(port, Transport::Tcp), "127.0.0.1:{port} is held");
        drop(held);
        assert!(can_bind(port, Transport::Tcp), "{port} was released");
        let udp = match std::net::UdpSocket::bind("127.0.0.1:0") {
            Ok(s) => s,
            Err(e) => panic!("cannot bind loopback: {e}"),
        };
        let port = udp.local_addr().map(|a| a.port()).unwrap_or(0);
        assert!(!can_bind(port, Transport::Udp));
    }
}
