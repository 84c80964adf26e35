//! What the tracker's tests share: sockets and processes to feed it, and a script that feeds
//! numbered snapshots at scripted instants.

pub(super) use std::net::{IpAddr, Ipv4Addr};
pub(super) use std::sync::Arc;
pub(super) use std::time::{Duration, Instant, SystemTime};

pub(super) use super::super::{ProcessInfo, Proto, Snapshot, SockState, Socket};
use super::{ChangeTracker, Changes, Mark, TrackerConfig};

pub(super) const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10));
pub(super) const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(93, 184, 216, 34));

pub(super) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A TCP connection from `port` to the peer's 443.
pub(super) fn conn(port: u16, state: SockState, inode: u32, pids: &[u32]) -> Socket {
    Socket {
        host: 0,
        proto: Proto::Tcp,
        local_addr: LOCAL,
        local_port: port,
        remote_addr: Some(PEER),
        remote_port: Some(443),
        state,
        pids: pids.into(),
        uid: Some(1000),
        inode: Some(inode),
        cookie: 0,
        recv_q: 0,
        send_q: 0,
        netns: 0,
    }
}

pub(super) fn listener(port: u16, inode: u32, pids: &[u32]) -> Socket {
    Socket {
        host: 0,
        proto: Proto::Tcp,
        local_addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        local_port: port,
        remote_addr: None,
        remote_port: None,
        state: SockState::Listen,
        pids: pids.into(),
        uid: Some(1000),
        inode: Some(inode),
        cookie: 0,
        recv_q: 0,
        send_q: 0,
        netns: 0,
    }
}

pub(super) fn process(pid: u32, name: &str) -> ProcessInfo {
    ProcessInfo {
        pid,
        name: name.to_owned(),
        exe: Some(format!("/usr/bin/{name}")),
        cmdline: vec![name.to_owned(), "--flag".to_owned()],
        uid: Some(1000),
        user: Some("alice".to_owned()),
        parent_pid: Some(1),
        start_time: Some(1_700_000_000),
    }
}

/// Feeds numbered snapshots at scripted instants.
pub(super) struct Script {
    pub(super) tracker: ChangeTracker,
    pub(super) start: Instant,
    pub(super) seq: u64,
}

impl Script {
    pub(super) fn new() -> Self {
        Script::with(TrackerConfig::default())
    }

    pub(super) fn with(config: TrackerConfig) -> Self {
        Script {
            tracker: ChangeTracker::new(config),
            start: Instant::now(),
            seq: 0,
        }
    }

    pub(super) fn at(&self, t: u64) -> Instant {
        self.start + ms(t)
    }

    /// Feed a snapshot taken `t` ms after the start.
    pub(super) fn poll(
        &mut self,
        t: u64,
        sockets: Vec<Socket>,
        processes: &[ProcessInfo],
    ) -> Changes {
        self.seq += 1;
        let snap = Arc::new(Snapshot {
            seq: self.seq,
            taken_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000) + ms(t),
            sockets,
            processes: processes.iter().map(|p| (p.pid, p.clone())).collect(),
            ..Snapshot::default()
        });
        self.tracker.update(&snap, self.at(t))
    }

    pub(super) fn tick(&mut self, t: u64) {
        self.tracker.tick(self.at(t));
    }

    pub(super) fn mark(&self, s: &Socket) -> Option<Mark> {
        self.tracker.mark(&s.key())
    }
}

/// A machine with `n` connections spread over 500 processes; `shift` renumbers the local
/// ports, so two populations with different shifts share nothing.
pub(super) fn population(n: usize, shift: usize, seq: u64) -> Arc<Snapshot> {
    let sockets = (0..n)
        .map(|i| {
            let j = i + shift;
            let pid = u32::try_from(1000 + i % 500).unwrap_or_default();
            Socket {
                host: 0,
                proto: Proto::Tcp,
                local_addr: LOCAL,
                local_port: u16::try_from(j % 60_000).unwrap_or_default(),
                remote_addr: Some(IpAddr::V4(Ipv4Addr::from(
                    u32::try_from(0x0a00_0000 + j / 60_000).unwrap_or_default(),
                ))),
                remote_port: Some(443),
                state: SockState::Established,
                pids: [pid][..].into(),
                uid: Some(1000),
                inode: Some(1_000_000 + j as u32),
                cookie: 0,
                recv_q: 0,
                send_q: 0,
                netns: 0,
            }
        })
        .collect();
    let processes = (1000..1500)
        .map(|pid| (pid, process(pid, "worker")))
        .collect();
    Arc::new(Snapshot {
        seq,
        sockets,
        processes,
        ..Snapshot::default()
    })
}
