//! A made-up machine of any size: for trying the window at scale (`portscope --generated N`)
//! and for the benchmarks. Documentation addresses and made-up process names only.

use std::net::{IpAddr, Ipv4Addr};

use super::{CollectError, Poll, SocketSource};
use crate::knowledge::EphemeralRange;
use crate::model::{Pids, ProcessInfo, Proto, SockState, Socket};

/// A machine of `n` made-up sockets. Each poll builds the table anew, as reading a real
/// machine does, so nothing is held between polls but the counts. Unless told to churn, the
/// sockets never change.
#[derive(Clone, Copy, Debug)]
pub struct GeneratedSource {
    n: usize,
    churn_percent: u8,
    polls: u16,
}

impl GeneratedSource {
    pub fn new(n: usize) -> Self {
        GeneratedSource {
            n,
            churn_percent: 0,
            polls: 0,
        }
    }

    /// At every poll, `percent` of the connections (at most 100) close and as many new ones
    /// open, as on a busy server.
    pub fn with_churn(mut self, percent: u8) -> Self {
        self.churn_percent = percent.min(100);
        self
    }
}

impl SocketSource for GeneratedSource {
    fn poll(&mut self) -> Result<Poll, CollectError> {
        let mut poll = generated_poll(self.n);
        if self.churn_percent > 0 {
            self.polls = self.polls.wrapping_add(1);
            // The same sockets move to a new local port at every poll: the ones of the last
            // poll are gone, and these are new.
            let every = 100 / usize::from(self.churn_percent);
            for socket in poll.sockets.iter_mut().step_by(every) {
                socket.local_port = socket.local_port.wrapping_add(self.polls);
            }
        }
        Ok(poll)
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
                cookie: 0,
                recv_q: 0,
                send_q: 0,
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
        traffic: Default::default(),
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
    fn a_churning_source_replaces_its_share_of_sockets_at_every_poll() {
        use std::collections::HashSet;
        let mut source = GeneratedSource::new(1000).with_churn(5);
        let keys = |source: &mut GeneratedSource| -> HashSet<_> {
            match source.poll() {
                Ok(poll) => poll.sockets.iter().map(Socket::key).collect(),
                Err(e) => panic!("a generated poll failed: {e}"),
            }
        };
        let (a, b, c) = (keys(&mut source), keys(&mut source), keys(&mut source));
        assert_eq!(a.len(), 1000);
        assert_eq!(a.difference(&b).count(), 50);
        assert_eq!(b.difference(&c).count(), 50);
        assert_eq!(a.difference(&c).count(), 50, "the same sockets churn");
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
