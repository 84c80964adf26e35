//! Which servers of a snapshot listen on a port the OS may hand to an outgoing connection.
//!
//! One predicate, [`at_ephemeral_risk`], for the table's marker, the status bar's count, the
//! filter term `risk:ephemeral`, the explanation and `portscope check`, so they never
//! disagree. A server is at risk when it waits for others on a port inside the ephemeral
//! range that is not reserved: while it is down, the kernel may give that port to an outgoing
//! connection, and the server cannot start again until that connection is over.
//!
//! A UDP socket whose number the kernel chose (a DNS client's, bound by its first `sendto`)
//! also counts: the kernel does not say who picked a number, and such a socket is on that
//! port only until it closes.

use std::collections::BTreeSet;

use super::{Proto, Snapshot, Socket};
use crate::knowledge::EphemeralRange;

/// A listening TCP socket or unconnected UDP socket on a port `ephemeral` may hand out.
pub fn at_ephemeral_risk(s: &Socket, ephemeral: &EphemeralRange) -> bool {
    s.state.is_listening() && ephemeral.may_hand_out(s.local_port)
}

impl Snapshot {
    /// [`at_ephemeral_risk`] against this poll's ephemeral range. The range is a setting of
    /// each network namespace: a socket of another namespace (a container's) is not judged
    /// by portscope's own.
    pub fn at_ephemeral_risk(&self, s: &Socket) -> bool {
        // Each machine's sockets against that machine's range.
        let snap = self.of(s);
        snap.foreign_netns(s).is_none() && at_ephemeral_risk(s, &snap.ephemeral)
    }

    /// The sockets at risk, in table order.
    pub fn sockets_at_risk(&self) -> impl Iterator<Item = &Socket> {
        self.sockets.iter().filter(|s| self.at_ephemeral_risk(s))
    }

    /// Services at risk: distinct protocol and port pairs (a server on `0.0.0.0` and `::`
    /// is one).
    pub fn services_at_risk(&self) -> usize {
        self.sockets_at_risk()
            .map(|s| (s.host, s.proto, s.local_port))
            .collect::<BTreeSet<(u16, Proto, u16)>>()
            .len()
    }

    /// Distinct local ports of the ephemeral range in use now, by any socket of portscope's
    /// own network namespace: how full the range is.
    pub fn ephemeral_ports_in_use(&self) -> usize {
        // One bit a port: the explanation panel asks at every poll, on the UI thread, of a
        // table that can hold 100,000 sockets.
        let mut seen = vec![0u64; 1024];
        let mut count = 0;
        let own = self
            .sockets
            .iter()
            .filter(|s| self.foreign_netns(s).is_none());
        for port in own.map(|s| s.local_port) {
            let (word, bit) = (usize::from(port / 64), 1u64 << (port % 64));
            if self.ephemeral.contains(port) && seen[word] & bit == 0 {
                seen[word] |= bit;
                count += 1;
            }
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Pids, SockState};
    use std::net::IpAddr;

    fn sock(proto: Proto, addr: &str, port: u16, state: SockState) -> Socket {
        let connected = !state.is_listening();
        Socket {
            host: 0,
            proto,
            local_addr: addr.parse::<IpAddr>().expect("an address"),
            local_port: port,
            remote_addr: connected.then(|| "127.0.0.1".parse().expect("an address")),
            remote_port: connected.then_some(443),
            state,
            pids: Pids::new(),
            uid: None,
            inode: None,
            cookie: 0,
            recv_q: 0,
            send_q: 0,
            netns: 0,
        }
    }

    fn range(reserved: &str) -> EphemeralRange {
        EphemeralRange::from_linux_sysctl(Ok("32768\t60999\n".into()), Ok(reserved.into()))
    }

    #[test]
    fn listeners_inside_the_range_and_not_reserved_are_at_risk() {
        let e = range("44300\n");
        let at = |proto, port, state| at_ephemeral_risk(&sock(proto, "0.0.0.0", port, state), &e);
        assert!(at(Proto::Tcp, 35729, SockState::Listen));
        assert!(at(Proto::Udp, 50000, SockState::Unconn));
        // The range's edges are inside it.
        assert!(at(Proto::Tcp, 32768, SockState::Listen));
        assert!(at(Proto::Tcp, 60999, SockState::Listen));
        // Outside the range, reserved, or not a server.
        assert!(!at(Proto::Tcp, 32767, SockState::Listen));
        assert!(!at(Proto::Tcp, 61000, SockState::Listen));
        assert!(!at(Proto::Tcp, 44300, SockState::Listen));
        assert!(!at(Proto::Tcp, 35729, SockState::Established));
        assert!(!at(Proto::Tcp, 35729, SockState::Bound));
        assert!(!at(Proto::Udp, 50000, SockState::Established));
        assert!(!at(Proto::Tcp, 35729, SockState::TimeWait));
    }

    #[test]
    fn services_count_a_port_once_per_protocol() {
        let snap = Snapshot {
            sockets: vec![
                sock(Proto::Tcp, "0.0.0.0", 35729, SockState::Listen),
                sock(Proto::Tcp, "::", 35729, SockState::Listen),
                sock(Proto::Udp, "0.0.0.0", 35729, SockState::Unconn),
                sock(Proto::Tcp, "127.0.0.1", 8080, SockState::Listen),
                sock(Proto::Tcp, "127.0.0.1", 40000, SockState::Established),
                sock(Proto::Tcp, "127.0.0.1", 40001, SockState::TimeWait),
            ],
            ephemeral: range(""),
            ..Snapshot::default()
        };
        assert_eq!(snap.sockets_at_risk().count(), 3);
        assert_eq!(snap.services_at_risk(), 2);
        assert_eq!(snap.ephemeral_ports_in_use(), 3);
    }
}
