//! How much of the OS's ephemeral range is in use: the figure behind the range bar's gauge
//! (now) and the timeline (over the last minutes), counted once, here.
//!
//! A port counts once however many sockets use it (a listener and its accepted connections,
//! TCP and UDP on the same number): what runs out is ports, not sockets.

use super::Snapshot;

/// Distinct local ports of the snapshot's ephemeral range in use, and the range's size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EphemeralFill {
    pub ports_in_use: usize,
    pub range_size: usize,
}

impl EphemeralFill {
    /// Count `snap`'s ports in its ephemeral range: one pass over the sockets, no sorting.
    pub fn of(snap: &Snapshot) -> EphemeralFill {
        let range = &snap.ephemeral;
        // One bit per port number.
        let mut seen = [0u64; 65_536 / 64];
        let mut ports_in_use = 0;
        for s in &snap.sockets {
            let port = s.local_port;
            if !range.contains(port) {
                continue;
            }
            let (word, bit) = (usize::from(port / 64), port % 64);
            if seen[word] & (1 << bit) == 0 {
                seen[word] |= 1 << bit;
                ports_in_use += 1;
            }
        }
        EphemeralFill {
            ports_in_use,
            range_size: range.len(),
        }
    }

    /// The share in use, 0 to 1 (0 for an empty range).
    pub fn fraction(&self) -> f64 {
        if self.range_size == 0 {
            0.0
        } else {
            self.ports_in_use as f64 / self.range_size as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::EphemeralRange;
    use crate::model::{Proto, SockState, Socket};
    use std::net::{IpAddr, Ipv4Addr};

    fn sock(proto: Proto, port: u16, state: SockState) -> Socket {
        Socket {
            host: 0,
            proto,
            local_addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            local_port: port,
            remote_addr: None,
            remote_port: None,
            state,
            pids: Default::default(),
            uid: None,
            inode: None,
            cookie: 0,
            recv_q: 0,
            send_q: 0,
            netns: 0,
        }
    }

    #[test]
    fn each_port_of_the_range_counts_once() {
        let mut snap = Snapshot {
            sockets: vec![
                sock(Proto::Tcp, 40000, SockState::TimeWait),
                sock(Proto::Tcp, 40000, SockState::Established),
                sock(Proto::Udp, 40000, SockState::Unconn),
                sock(Proto::Tcp, 32768, SockState::Established),
                sock(Proto::Tcp, 60999, SockState::Established),
                sock(Proto::Tcp, 32767, SockState::Established),
                sock(Proto::Tcp, 61000, SockState::Established),
                sock(Proto::Tcp, 8080, SockState::Listen),
                sock(Proto::Udp, 65535, SockState::Unconn),
            ],
            ..Snapshot::default()
        };
        snap.ephemeral =
            EphemeralRange::from_linux_sysctl(Ok("32768 60999".into()), Ok(String::new()));
        let fill = EphemeralFill::of(&snap);
        assert_eq!(
            fill,
            EphemeralFill {
                ports_in_use: 3,
                range_size: 28_232
            }
        );
        assert!((fill.fraction() - 3.0 / 28_232.0).abs() < 1e-12);
        snap.ephemeral =
            EphemeralRange::from_linux_sysctl(Ok("1024 65535".into()), Ok(String::new()));
        assert_eq!(snap.ephemeral.len(), 64_512);
        assert_eq!(
            EphemeralFill::of(&snap).ports_in_use,
            7,
            "the last port too"
        );
    }
}
