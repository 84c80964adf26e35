//! The live source: netstat2 for the socket table, sysinfo for the processes behind it.
//!
//! One `sysinfo::System` lives as long as the source, and each poll refreshes only the
//! processes that own sockets (and their parents), and only the fields we show: a full
//! refresh of everything would cost far more than reading the sockets.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use netstat2::{AddressFamilyFlags, ProtocolFlags, ProtocolSocketInfo, SocketInfo, TcpState};
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind, Users};

use super::{CollectError, Poll, SocketSource};
use crate::model::{ProcessInfo, Proto, SockState, Socket, Viewer};

/// How often the whole process list is swept, so processes that no longer own sockets
/// are dropped from memory.
const FULL_SWEEP_EVERY: u32 = 30;
/// How long a user list stays fresh before an unknown uid may trigger a reload.
const USERS_TTL: Duration = Duration::from_secs(10);

pub struct OsSource {
    system: System,
    users: Option<Users>,
    users_loaded_at: Option<Instant>,
    polls: u32,
    viewer: Viewer,
}

impl OsSource {
    pub fn new() -> Result<Self, CollectError> {
        let mut system = System::new().map_err(|e| CollectError::Processes(e.to_string()))?;
        let viewer = viewer(&mut system);
        Ok(OsSource {
            system,
            users: None,
            users_loaded_at: None,
            polls: 0,
            viewer,
        })
    }

    fn refresh_processes(&mut self, pids: &[Pid], kind: ProcessRefreshKind) {
        if !pids.is_empty() {
            self.system
                .refresh_processes_specifics(ProcessesToUpdate::Some(pids), true, kind);
        }
    }

    fn user_names(&mut self, uids: &BTreeSet<u32>) -> BTreeMap<u32, String> {
        let stale = self
            .users_loaded_at
            .is_none_or(|at| at.elapsed() > USERS_TTL);
        let missing = |users: &Option<Users>| match users {
            None => true,
            Some(users) => uids.iter().any(|uid| find_user(users, *uid).is_none()),
        };
        if stale && missing(&self.users) {
            // A failed load leaves names out; the uid is still shown.
            self.users = Users::new_with_refreshed_list().ok();
            self.users_loaded_at = Some(Instant::now());
        }
        let mut names = BTreeMap::new();
        if let Some(users) = &self.users {
            for uid in uids {
                if let Some(name) = find_user(users, *uid) {
                    names.insert(*uid, name.to_owned());
                }
            }
        }
        names
    }
}

fn find_user(users: &Users, uid: u32) -> Option<&str> {
    users
        .iter()
        .find(|u| uid_number(u.id()) == Some(uid))
        .map(|u| u.name())
}

#[cfg(unix)]
fn uid_number(uid: &sysinfo::Uid) -> Option<u32> {
    Some(**uid)
}

#[cfg(not(unix))]
fn uid_number(_uid: &sysinfo::Uid) -> Option<u32> {
    None
}

/// Which user we run as, and whether that user sees every socket's owner.
fn viewer(system: &mut System) -> Viewer {
    let Ok(me) = sysinfo::get_current_pid() else {
        return Viewer::default();
    };
    system.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[me]),
        false,
        ProcessRefreshKind::nothing()
            .without_tasks()
            .with_user(UpdateKind::Always),
    );
    let uid = system
        .process(me)
        .and_then(|p| p.effective_user_id().or_else(|| p.user_id()))
        .and_then(uid_number);
    Viewer {
        uid,
        privileged: cfg!(unix) && uid == Some(0),
    }
}

impl SocketSource for OsSource {
    fn poll(&mut self) -> Result<Poll, CollectError> {
        let sockets = read_sockets()?;

        let owner_pids: BTreeSet<u32> = sockets
            .iter()
            .flat_map(|s| s.pids.iter().copied())
            .collect();
        let owners: Vec<Pid> = owner_pids.iter().map(|p| Pid::from_u32(*p)).collect();
        self.polls = self.polls.wrapping_add(1);
        if self.polls.is_multiple_of(FULL_SWEEP_EVERY) {
            // Forget processes that exited or no longer own sockets.
            self.system.refresh_processes_specifics(
                ProcessesToUpdate::All,
                true,
                ProcessRefreshKind::nothing().without_tasks(),
            );
        }
        self.refresh_processes(
            &owners,
            ProcessRefreshKind::nothing()
                .without_tasks()
                .with_exe(UpdateKind::OnlyIfNotSet)
                .with_cmd(UpdateKind::OnlyIfNotSet)
                .with_user(UpdateKind::OnlyIfNotSet),
        );
        let parents: Vec<Pid> = owners
            .iter()
            .filter_map(|pid| self.system.process(*pid)?.parent())
            .filter(|pid| !owner_pids.contains(&pid.as_u32()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        self.refresh_processes(
            &parents,
            ProcessRefreshKind::nothing()
                .without_tasks()
                .with_user(UpdateKind::OnlyIfNotSet),
        );

        let mut processes = BTreeMap::new();
        let mut uids: BTreeSet<u32> = sockets.iter().filter_map(|s| s.uid).collect();
        for pid in owners.iter().chain(&parents) {
            // A process that exited since the socket scan is simply not found.
            if let Some(p) = self.system.process(*pid) {
                let info = process_info(p);
                uids.extend(info.uid);
                processes.insert(info.pid, info);
            }
        }
        let users = self.user_names(&uids);
        for info in processes.values_mut() {
            info.user = info.uid.and_then(|uid| users.get(&uid).cloned());
        }
        Ok(Poll {
            sockets,
            processes,
            users,
            viewer: self.viewer,
        })
    }
}

fn process_info(p: &sysinfo::Process) -> ProcessInfo {
    let start = p.start_time();
    ProcessInfo {
        pid: p.pid().as_u32(),
        name: p.name().to_string_lossy().into_owned(),
        exe: p.exe().map(|path| path.to_string_lossy().into_owned()),
        cmdline: p
            .cmd()
            .iter()
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect(),
        uid: p.user_id().and_then(uid_number),
        user: None,
        parent_pid: p.parent().map(Pid::as_u32),
        start_time: (start > 0).then_some(start),
    }
}

/// Read the socket table. Rows the library cannot decode are skipped, not fatal.
pub fn read_sockets() -> Result<Vec<Socket>, CollectError> {
    let rows = netstat2::iterate_sockets_info(
        AddressFamilyFlags::IPV4 | AddressFamilyFlags::IPV6,
        ProtocolFlags::TCP | ProtocolFlags::UDP,
    )
    .map_err(|e| CollectError::SocketTable(socket_error_advice(&e)))?;
    Ok(rows.filter_map(Result::ok).map(socket_from).collect())
}

fn socket_error_advice(e: &netstat2::error::Error) -> String {
    let text = e.to_string();
    if cfg!(target_os = "linux") {
        format!(
            "{text} (the kernel's sock_diag netlink interface did not answer; is this a sandbox without it?)"
        )
    } else {
        text
    }
}

fn socket_from(info: SocketInfo) -> Socket {
    let mut pids = info.associated_pids.clone();
    pids.sort_unstable();
    pids.dedup();
    let (uid, inode) = ids(&info);
    match info.protocol_socket_info {
        ProtocolSocketInfo::Tcp(t) => {
            let state = tcp_state(t.state);
            let no_peer = state == SockState::Listen
                || (t.remote_port == 0 && t.remote_addr.is_unspecified());
            Socket {
                proto: Proto::Tcp,
                local_addr: t.local_addr,
                local_port: t.local_port,
                remote_addr: (!no_peer).then_some(t.remote_addr),
                remote_port: (!no_peer).then_some(t.remote_port),
                state,
                pids,
                uid,
                inode,
            }
        }
        ProtocolSocketInfo::Udp(u) => Socket {
            proto: Proto::Udp,
            local_addr: u.local_addr,
            local_port: u.local_port,
            remote_addr: None,
            remote_port: None,
            state: SockState::Unconn,
            pids,
            uid,
            inode,
        },
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn ids(info: &SocketInfo) -> (Option<u32>, Option<u64>) {
    (Some(info.uid), Some(u64::from(info.inode)))
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn ids(_info: &SocketInfo) -> (Option<u32>, Option<u64>) {
    (None, None)
}

fn tcp_state(state: TcpState) -> SockState {
    match state {
        TcpState::Closed => SockState::Closed,
        TcpState::Listen => SockState::Listen,
        TcpState::SynSent => SockState::SynSent,
        TcpState::SynReceived => SockState::SynReceived,
        TcpState::Established => SockState::Established,
        TcpState::FinWait1 => SockState::FinWait1,
        TcpState::FinWait2 => SockState::FinWait2,
        TcpState::CloseWait => SockState::CloseWait,
        TcpState::Closing => SockState::Closing,
        TcpState::LastAck => SockState::LastAck,
        TcpState::TimeWait => SockState::TimeWait,
        TcpState::DeleteTcb => SockState::DeleteTcb,
        TcpState::Unknown => SockState::Unknown,
    }
}
