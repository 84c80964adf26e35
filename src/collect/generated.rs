//! A made-up machine of any size: for trying the window at scale (`portscope --generated N`)
//! and for the benchmarks. Documentation addresses and made-up process names only.

use std::net::{IpAddr, Ipv4Addr};

use super::{CollectError, Poll, SocketSource};
use crate::knowledge::EphemeralRange;
use crate::model::{Pids, ProcessInfo, Proto, SockState, Socket};

/// A machine of `n` made-up sockets that never change. Each poll builds the table anew, as
/// reading a real machine does, so nothing is held between polls but the count.
#[derive(Clone, Copy, Debug)]
pub struct GeneratedSource {
    n: usize,
}

impl GeneratedSource {
    pub fn new(n: usize) -> Self {
        GeneratedSource { n }
    }
}

impl SocketSource for GeneratedSource {
    fn poll(&mut self) -> Result<Poll, CollectError> {
        Ok(generated_poll(self.n))
    }

    fn ephemeral_range(&mut self) -> EphemeralRange {
        EphemeralRange::linux_default()
    }
}

/// `n` sockets over 250 processes, in a mix of states, protocols and ports.
pub fn generated_poll(n: usize) -> Poll {
    let states = [
        SockState::Established,
        SockState::TimeWait,
        SockState::Established,
        SockState::CloseWait,
        SockState::Listen,
    ];
    let sockets = (0..n)
        .map(|i| {
            let udp = i % 7 == 0;
            let proto = if udp { Proto::Udp } else { Proto::Tcp };
            let state = if udp {
                SockState::Unconn
            } else {
                states[i % states.len()]
            };
            let pid = 1000 + (i % 250) as u32;
            Socket {
                proto,
                local_addr: IpAddr::V4(Ipv4Addr::new(10, (i >> 16) as u8, (i >> 8) as u8, i as u8)),
                local_port: (1024 + (i * 7919) % 64_000) as u16,
                remote_addr: (!udp)
                    .then(|| IpAddr::V4(Ipv4Addr::new(172, 16, (i >> 8) as u8, i as u8))),
                remote_port: (!udp).then_some((i % 1000) as u16 + 1),
                state,
                pids: if state == SockState::TimeWait {
                    Pids::new()
                } else {
                    Pids::from_slice(&[pid])
                },
                uid: Some(1000),
                inode: Some(i as u32 + 1),
            }
        })
        .collect();
    let processes = (1000..1250u32)
        .map(|pid| {
            (
                pid,
                ProcessInfo {
                    pid,
                    name: format!("server-{pid}"),
                    exe: Some(format!("/usr/bin/server-{pid}")),
                    cmdline: vec![
                        format!("/usr/bin/server-{pid}"),
                        "--workers".into(),
                        "8".into(),
                    ],
                    uid: Some(1000),
                    user: Some("alice".into()),
                    parent_pid: Some(1),
                    start_time: Some(1_764_000_000),
                },
            )
        })
        .collect();
    Poll {
        sockets,
        processes,
        users: [(1000, "alice".to_owned())].into_iter().collect(),
        viewer: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_source_gives_the_same_table_each_time() {
        let mut source = GeneratedSource::new(500);
        let (a, b) = (source.poll(), source.poll());
        match (a, b) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a.sockets.len(), 500);
                assert_eq!(a.sockets, b.sockets);
                assert_eq!(a.processes.len(), b.processes.len());
            }
            other => panic!("a generated poll failed: {other:?}"),
        }
        assert_eq!(source.ephemeral_range().start, 32768);
    }

    #[test]
    fn every_socket_s_process_is_described() {
        let poll = generated_poll(1000);
        assert_eq!(poll.sockets.len(), 1000);
        for s in &poll.sockets {
            for pid in &s.pids {
                assert!(poll.processes.contains_key(pid));
            }
        }
    }
}
