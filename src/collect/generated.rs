//! A made-up machine of any size: for trying the window at scale (`portscope --generated N`)
//! and for the benchmarks. Documentation addresses and made-up process names only. Half of its
//! established connections move data: their counters grow at every poll by their
//! rates, which are fixed per connection, so every poll of a source is the same given its
//! number.

use std::net::{IpAddr, Ipv4Addr};

use super::{CollectError, Poll, SocketSource};
use crate::knowledge::EphemeralRange;
use crate::model::traffic::{Flow, Rate, TcpStats, Traffic};
use crate::model::{Pids, ProcessInfo, Proto, SockState, Socket};

/// A machine of `n` made-up sockets. Each poll builds the table anew, as reading a real
/// machine does, so nothing is held between polls but the counts. Unless told to churn, the
/// sockets never change; the counters of the busy connections grow.
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
        self.polls = self.polls.wrapping_add(1);
        let mut poll = generated_poll(self.n);
        if self.churn_percent > 0 {
            // The same sockets move to a new local port at every poll: the ones of the last
            // poll are gone, and these are new (with new cookies, as new connections have).
            let every = 100 / usize::from(self.churn_percent);
            for socket in poll.sockets.iter_mut().step_by(every) {
                socket.local_port = socket.local_port.wrapping_add(self.polls);
                if socket.cookie != 0 {
                    socket.cookie |= u64::from(self.polls) << 32;
                }
            }
        }
        poll.traffic = made_up_traffic(&poll.sockets, self.polls);
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
    let sockets: Vec<Socket> = (0..n)
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
                host: 0,
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
                // Like the kernel's, a made-up TIME_WAIT belongs to no user and no file.
                uid: (state != SockState::TimeWait).then_some(1000),
                inode: Some(if state == SockState::TimeWait {
                    0
                } else {
                    i as u32 + 1
                }),
                cookie: if udp { 0 } else { i as u64 + 1 },
                recv_q: 0,
                send_q: 0,
                netns: 0,
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
    let traffic = made_up_traffic(&sockets, 0);
    Poll {
        sockets,
        processes,
        users: [(1000, "alice".to_owned())].into_iter().collect(),
        viewer: Default::default(),
        traffic,
        drops: Default::default(),
        namespaces: Default::default(),
        containers: Default::default(),
        published: Default::default(),
        hidden_containers: Default::default(),
        machines: Default::default(),
        machine: None,
    }
}

/// The counters and rates of the busy connections at poll number `polls`: each has its rates
/// (bytes per second, up to about 1 MB/s down and 90 kB/s up), and its counters have grown
/// by them once per poll, as if a second went by between polls.
fn made_up_traffic(sockets: &[Socket], polls: u16) -> Traffic {
    sockets
        .iter()
        .filter(|s| s.state == SockState::Established && s.proto == Proto::Tcp)
        .filter_map(|s| {
            // The socket's number, whatever its cookie's churn bits.
            let i = (s.cookie & u64::from(u32::MAX)).checked_sub(1)?;
            // Established sockets are those with i % 5 of 0 or 2: half of them.
            if i % 5 != 0 {
                return None;
            }
            let down = (i * 7919 % 1000).pow(2);
            let up = (i * 104_729 % 300).pow(2);
            let polls = u64::from(polls);
            let stats = TcpStats {
                bytes_sent: Some(1 + i * 13 % 50_000 + polls * up),
                bytes_acked: Some(1 + i * 13 % 50_000 + polls * up),
                bytes_received: Some(1 + i * 17 % 90_000 + polls * down),
                rtt_us: 150 + (i * 31 % 120_000) as u32,
                rttvar_us: 50 + (i * 7 % 20_000) as u32,
                retrans: if i % 11 == 0 { (i % 7) as u32 } else { 0 },
                delivery_rate: Some(down.max(up)),
            };
            Some((
                s.cookie,
                Flow {
                    stats,
                    rate: Some(Rate { down, up }),
                },
            ))
        })
        .collect()
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
    fn a_share_of_the_connections_move_data_and_their_counters_grow_by_their_rates() {
        let mut source = GeneratedSource::new(2000).with_churn(5);
        let (Ok(a), Ok(b)) = (source.poll(), source.poll()) else {
            panic!("a generated poll failed");
        };
        let established = a
            .sockets
            .iter()
            .filter(|s| s.state == SockState::Established)
            .count();
        assert!(
            a.traffic.len() * 3 > established && a.traffic.len() < established,
            "{} of {established}",
            a.traffic.len()
        );
        let mut grew = 0;
        for (cookie, flow) in &b.traffic {
            assert!(
                b.sockets.iter().any(|s| s.cookie == *cookie),
                "a flow of no socket"
            );
            let Some(rate) = flow.rate else {
                panic!("every made-up flow has a rate")
            };
            // Churned connections are new: their cookies are not in the poll before.
            if let Some(before) = a.traffic.get(cookie) {
                assert_eq!(
                    flow.stats.bytes_received,
                    before.stats.bytes_received.map(|n| n + rate.down)
                );
                assert_eq!(flow.stats.sent(), before.stats.sent().map(|n| n + rate.up));
                grew += 1;
            }
        }
        assert!(grew > b.traffic.len() / 2, "{grew}");
        assert!(
            b.traffic
                .values()
                .any(|f| f.rate.is_some_and(|r| r.down > 500_000))
        );
        // Another source at the same poll number gives the same numbers.
        let mut again = GeneratedSource::new(2000).with_churn(5);
        let _ = again.poll();
        match again.poll() {
            Ok(c) => assert_eq!(c.traffic, b.traffic),
            Err(e) => panic!("{e}"),
        }
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
