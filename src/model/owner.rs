//! Who owns a socket, and — when no process is visible — why not.
//!
//! A bare "?" in the process column helps nobody. The kernel tells us enough (state, inode,
//! uid) to say *why* a socket has no visible process, and what would reveal it.

use super::{ProcessInfo, Proto, Snapshot, SockState, Socket};

/// The owner of a socket as far as the viewer can see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner<'a> {
    /// One or more processes hold the socket open (shared after `fork`, or passed over a
    /// Unix socket). A process may be missing from the table if it exited mid-scan.
    Processes(Vec<(u32, Option<&'a ProcessInfo>)>),
    None(NoOwnerReason),
}

/// Why a socket shows no owning process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoOwnerReason {
    /// The process closed the connection; the kernel keeps it about a minute so late
    /// packets are not taken for a new connection.
    TimeWait,
    /// No open file refers to the socket any more (e.g. an orphaned FIN_WAIT2 after close).
    KernelHeld,
    /// A connection to a listener that its process has not accepted yet: it waits in the
    /// listener's queue (or is still in the handshake), and no file refers to it until
    /// `accept()` hands it over. The listener's processes, as far as they are visible.
    AwaitingAccept {
        listener: Vec<(u32, Option<String>)>,
    },
    /// Another user's socket: without root the kernel does not show whose process it is.
    OtherUser { uid: u32, user: Option<String> },
    /// No process could be matched: it closed the socket between the two scans, lives in
    /// another PID namespace, or the system refused to show its open files.
    Unmatched,
    /// The OS reports no owner and no reason (platforms without per-socket uid).
    NotReported,
}

impl NoOwnerReason {
    /// A few words for a table cell.
    pub fn short(&self) -> String {
        match self {
            NoOwnerReason::TimeWait => "kernel: TIME_WAIT".to_owned(),
            NoOwnerReason::KernelHeld => "kernel: closed by its process".to_owned(),
            NoOwnerReason::AwaitingAccept { listener } if listener.is_empty() => {
                "waiting to be accepted".to_owned()
            }
            NoOwnerReason::AwaitingAccept { listener } => {
                format!("waiting to be accepted by {}", processes_text(listener))
            }
            NoOwnerReason::OtherUser { uid, user } => match user {
                Some(name) => format!("user {name}: needs root"),
                None => format!("uid {uid}: needs root"),
            },
            NoOwnerReason::Unmatched => "owner not visible".to_owned(),
            NoOwnerReason::NotReported => "owner not reported".to_owned(),
        }
    }

    /// A full sentence for the process panel and the CLI.
    pub fn explain(&self) -> String {
        match self {
            NoOwnerReason::TimeWait => "No process owns this socket: it is in TIME_WAIT. The process that \
                used it has already closed it, and the kernel keeps the connection's address pair for \
                about a minute so that stray packets of the old connection are not mistaken for a new one."
                .to_owned(),
            NoOwnerReason::KernelHeld => "No process owns this socket any more: its process closed it \
                and the kernel is finishing the connection on its own (no open file refers to it)."
                .to_owned(),
            NoOwnerReason::AwaitingAccept { listener } => {
                let by = if listener.is_empty() {
                    "the listener on its port".to_owned()
                } else {
                    processes_text(listener)
                };
                format!(
                    "No process holds this connection yet: it is waiting to be accepted by {by}. \
                     The kernel completes (or is completing) the handshake on its own and queues \
                     the connection until the listening process calls accept(); many of these \
                     mean the server is too slow to accept, or its backlog is full."
                )
            }
            NoOwnerReason::OtherUser { uid, user } => {
                let who = match user {
                    Some(name) => format!("user {name} (uid {uid})"),
                    None => format!("uid {uid}"),
                };
                format!(
                    "This socket belongs to {who}. Without root privileges the system does not reveal \
                     which of another user's processes holds it: run portscope with sudo (or as that \
                     user) to see the process."
                )
            }
            NoOwnerReason::Unmatched => "No process could be matched to this socket. Its process may \
                have closed it or exited between the socket scan and the process scan, it may run in \
                another PID namespace (a container or sandbox), or the system may refuse to show that \
                process's open files even to root."
                .to_owned(),
            NoOwnerReason::NotReported => {
                "The operating system did not report which process owns this socket.".to_owned()
            }
        }
    }
}

impl<'a> Owner<'a> {
    pub fn of(snapshot: &'a Snapshot, socket: &Socket) -> Owner<'a> {
        // Processes and users are the socket's machine's.
        let snapshot = snapshot.of(socket);
        if !socket.pids.is_empty() {
            return Owner::Processes(
                socket
                    .pids
                    .iter()
                    .map(|pid| (*pid, snapshot.process(*pid)))
                    .collect(),
            );
        }
        if socket.state == SockState::TimeWait {
            return Owner::None(NoOwnerReason::TimeWait);
        }
        if socket.inode == Some(0) {
            if awaits_accept(socket)
                && let Some(listener) = listener_of(snapshot, socket)
            {
                return Owner::None(NoOwnerReason::AwaitingAccept { listener });
            }
            return Owner::None(NoOwnerReason::KernelHeld);
        }
        let viewer = snapshot.viewer;
        match socket.uid {
            Some(uid) if !viewer.privileged && viewer.uid != Some(uid) => {
                Owner::None(NoOwnerReason::OtherUser {
                    uid,
                    user: snapshot.user_name(uid).map(str::to_owned),
                })
            }
            Some(_) => Owner::None(NoOwnerReason::Unmatched),
            None => Owner::None(NoOwnerReason::NotReported),
        }
    }
}

/// `PID 12 (nginx)`, `PID 12 (nginx), PID 13`: processes as a reason names them.
fn processes_text(list: &[(u32, Option<String>)]) -> String {
    list.iter()
        .map(|(pid, name)| match name {
            Some(name) => format!("PID {pid} ({name})"),
            None => format!("PID {pid}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A TCP socket that no file refers to, in a state a connection has before `accept()`: in the
/// handshake, established, or already closed by the peer while it waits. A socket its process
/// closed is never in these states (closing sends a FIN first), so it cannot be mistaken.
fn awaits_accept(socket: &Socket) -> bool {
    socket.proto == Proto::Tcp
        && matches!(
            socket.state,
            SockState::SynReceived | SockState::Established | SockState::CloseWait
        )
}

/// The processes listening where a queued connection arrived: a listener on the same port and
/// address, or on every address. `None` when no such listener is in the table (the socket is
/// then the kernel's, like any other that no file refers to). Several listeners share a port
/// with `SO_REUSEPORT`; each is named.
fn listener_of(snapshot: &Snapshot, socket: &Socket) -> Option<Vec<(u32, Option<String>)>> {
    let local = socket.local_addr.to_canonical();
    let mut found = false;
    let mut pids: Vec<u32> = Vec::new();
    for l in snapshot.sockets.iter().filter(|l| {
        l.proto == Proto::Tcp
            && l.state == SockState::Listen
            && l.local_port == socket.local_port
            && (l.local_addr.is_unspecified() || l.local_addr.to_canonical() == local)
    }) {
        found = true;
        pids.extend(l.pids.iter());
    }
    pids.sort_unstable();
    pids.dedup();
    found.then(|| {
        pids.into_iter()
            .map(|pid| (pid, snapshot.process(pid).map(|p| p.name.clone())))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Viewer;
    use std::net::{IpAddr, Ipv4Addr};

    fn socket(state: SockState, uid: Option<u32>, inode: Option<u32>, pids: Vec<u32>) -> Socket {
        Socket {
            host: 0,
            proto: Proto::Tcp,
            local_addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            local_port: 5000,
            remote_addr: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            remote_port: Some(40000),
            state,
            pids: pids.into(),
            uid,
            inode,
            cookie: 0,
            recv_q: 0,
            send_q: 0,
            netns: 0,
        }
    }

    fn snapshot(viewer: Viewer) -> Snapshot {
        let mut snap = Snapshot {
            viewer,
            ..Snapshot::default()
        };
        snap.users.insert(1001, "alice".to_owned());
        snap
    }

    #[test]
    fn time_wait_belongs_to_the_kernel() {
        let snap = snapshot(Viewer::default());
        let s = socket(SockState::TimeWait, Some(0), Some(0), vec![]);
        assert_eq!(snap.owner(&s), Owner::None(NoOwnerReason::TimeWait));
        assert!(snap.process_label(&s).contains("TIME_WAIT"));
    }

    #[test]
    fn other_users_socket_needs_root() {
        let viewer = Viewer {
            uid: Some(1000),
            privileged: false,
        };
        let snap = snapshot(viewer);
        let s = socket(SockState::Listen, Some(1001), Some(77), vec![]);
        let Owner::None(reason) = snap.owner(&s) else {
            panic!("expected no owner");
        };
        assert_eq!(
            reason,
            NoOwnerReason::OtherUser {
                uid: 1001,
                user: Some("alice".to_owned())
            }
        );
        assert!(reason.explain().contains("alice"));
        assert!(reason.short().contains("needs root"));
    }

    #[test]
    fn own_socket_without_pid_is_unmatched_not_permission() {
        let viewer = Viewer {
            uid: Some(1000),
            privileged: false,
        };
        let snap = snapshot(viewer);
        let s = socket(SockState::Established, Some(1000), Some(77), vec![]);
        assert_eq!(snap.owner(&s), Owner::None(NoOwnerReason::Unmatched));
        // Root sees everything: a missing owner is never a permission matter.
        let root = snapshot(Viewer {
            uid: Some(0),
            privileged: true,
        });
        let s = socket(SockState::Established, Some(1001), Some(77), vec![]);
        assert_eq!(root.owner(&s), Owner::None(NoOwnerReason::Unmatched));
    }

    /// nginx as PID 10, nothing else known of it.
    fn nginx() -> ProcessInfo {
        ProcessInfo {
            pid: 10,
            name: "nginx".to_owned(),
            exe: None,
            cmdline: vec![],
            uid: None,
            user: None,
            parent_pid: None,
            start_time: None,
        }
    }

    #[test]
    fn shared_socket_lists_every_process_even_vanished_ones() {
        let mut snap = snapshot(Viewer::default());
        snap.processes.insert(10, nginx());
        let s = socket(SockState::Listen, Some(0), Some(5), vec![10, 11]);
        let Owner::Processes(list) = snap.owner(&s) else {
            panic!("expected processes");
        };
        assert_eq!(list.len(), 2);
        assert_eq!(snap.process_label(&s), "nginx, pid 11");
    }

    #[test]
    fn a_connection_not_yet_accepted_is_the_listeners() {
        let mut snap = snapshot(Viewer::default());
        snap.processes.insert(10, nginx());
        let mut listener = socket(SockState::Listen, Some(0), Some(5), vec![10]);
        listener.local_addr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        listener.remote_addr = None;
        listener.remote_port = None;
        snap.sockets.push(listener);
        let expected = NoOwnerReason::AwaitingAccept {
            listener: vec![(10, Some("nginx".to_owned()))],
        };
        for state in [
            SockState::Established,
            SockState::SynReceived,
            SockState::CloseWait,
        ] {
            let queued = socket(state, None, Some(0), vec![]);
            assert_eq!(
                snap.owner(&queued),
                Owner::None(expected.clone()),
                "{state}"
            );
        }
        assert_eq!(expected.short(), "waiting to be accepted by PID 10 (nginx)");
        assert!(expected.explain().contains("accept()"));
        // Closed by its process: the kernel finishes it, whatever port it is on.
        let orphan = socket(SockState::FinWait1, Some(0), Some(0), vec![]);
        assert_eq!(snap.owner(&orphan), Owner::None(NoOwnerReason::KernelHeld));
        // No listener on the port: nothing is waiting for an accept.
        let mut elsewhere = socket(SockState::Established, None, Some(0), vec![]);
        elsewhere.local_port = 6000;
        assert_eq!(
            snap.owner(&elsewhere),
            Owner::None(NoOwnerReason::KernelHeld)
        );
    }
}
