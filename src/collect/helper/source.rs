//! [`HelperSource`]: the window's source with a privileged helper beside it. It polls the
//! wrapped source as always and, while a helper runs, fills in the owners and processes the
//! user may not see from the helper's answer to the same poll. It runs on the collector
//! thread; the window only flips [`HelperSwitch`] and reads its status.

use std::collections::HashMap;
use std::collections::btree_map::Entry;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use super::client::{ANSWER_WITHIN, HelperClient, State};
use super::protocol::Owners;
use crate::collect::{CollectError, Poll, SocketSource};
use crate::knowledge::EphemeralRange;
use crate::model::Pids;
use crate::model::ended::EndedBatch;

/// What the window shows of the helper.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum HelperStatus {
    /// Not asked for.
    #[default]
    Off,
    /// Started; waiting for the user to give administrator rights.
    Starting,
    /// Answering polls.
    Active,
    /// Cannot run here, or ended: why, and what to do instead.
    Failed(String),
}

/// Shared between the window (which asks for a helper and shows its status) and the
/// collector thread (which runs it).
#[derive(Debug, Default)]
pub struct HelperSwitch {
    wanted: AtomicBool,
    status: Mutex<HelperStatus>,
}

impl HelperSwitch {
    /// Start a helper at the next poll.
    pub fn request(&self) {
        self.wanted.store(true, Ordering::Relaxed);
    }

    pub fn status(&self) -> HelperStatus {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set(&self, status: HelperStatus) {
        *self.status.lock().unwrap_or_else(PoisonError::into_inner) = status;
    }
}

/// How a helper is started.
pub type Launch = Box<dyn FnMut() -> Result<Command, String> + Send>;

/// A source whose owners a privileged helper completes.
pub struct HelperSource {
    inner: Box<dyn SocketSource>,
    switch: Arc<HelperSwitch>,
    launch: Launch,
    client: Option<HelperClient>,
}

impl HelperSource {
    /// Wrap `inner`; a helper starts through `pkexec` when `switch` asks for one.
    pub fn new(inner: Box<dyn SocketSource>, switch: Arc<HelperSwitch>) -> Self {
        HelperSource::with_launch(inner, switch, Box::new(pkexec_command))
    }

    /// Wrap `inner`, starting helpers with `launch` (tests start one directly).
    pub fn with_launch(
        inner: Box<dyn SocketSource>,
        switch: Arc<HelperSwitch>,
        launch: Launch,
    ) -> Self {
        HelperSource {
            inner,
            switch,
            launch,
            client: None,
        }
    }

    /// Start a helper if one was asked for; whether one is ready to ask.
    fn ready(&mut self) -> bool {
        if self.switch.wanted.swap(false, Ordering::Relaxed) && self.client.is_none() {
            let started = (self.launch)().and_then(|command| {
                HelperClient::spawn(command).map_err(|e| format!("cannot start the helper: {e}"))
            });
            match started {
                Ok(client) => {
                    self.client = Some(client);
                    self.switch.set(HelperStatus::Starting);
                }
                Err(why) => self.switch.set(HelperStatus::Failed(why)),
            }
        }
        let Some(client) = &mut self.client else {
            return false;
        };
        match client.state() {
            State::Starting => false,
            State::Active { .. } => {
                self.switch.set(HelperStatus::Active);
                true
            }
            State::Gone(why) => {
                let why = why.clone();
                self.client = None;
                self.switch.set(HelperStatus::Failed(why));
                false
            }
        }
    }
}

impl SocketSource for HelperSource {
    fn poll(&mut self) -> Result<Poll, CollectError> {
        let asked = self.ready()
            && self
                .client
                .as_mut()
                .is_some_and(|client| client.ask().is_ok());
        // The helper reads while this source does.
        let mut poll = self.inner.poll()?;
        if asked && let Some(client) = &mut self.client {
            match client.answer(Instant::now() + ANSWER_WITHIN) {
                Ok(owners) => {
                    fill(&mut poll, owners);
                    poll.viewer.privileged = true;
                }
                Err(why) => {
                    if let State::Gone(_) = client.state() {
                        self.client = None;
                    }
                    self.switch.set(HelperStatus::Failed(why));
                }
            }
        }
        Ok(poll)
    }

    fn ephemeral_range(&mut self) -> EphemeralRange {
        self.inner.ephemeral_range()
    }

    fn watch_ended(&mut self, wake: Box<dyn Fn() + Send>) -> Result<(), String> {
        self.inner.watch_ended(wake)
    }

    fn drain_ended(&mut self) -> EndedBatch {
        self.inner.drain_ended()
    }
}

/// Give the sockets of `poll` that show no process the holders the helper found for them
/// (the same socket: same inode and cookie), and add the processes behind them. A process the
/// poll already has keeps what it has, and gains what only the helper could read.
///
/// The helper runs as root: it reads every network namespace, so its tables of the other
/// namespaces replace whatever the window could read of them, and no container is hidden.
pub fn fill(poll: &mut Poll, owners: Owners) {
    for ns in owners.namespaces {
        let inode = ns.netns.inode;
        poll.sockets.retain(|s| s.netns != inode);
        poll.sockets
            .extend(ns.sockets.into_iter().map(crate::model::Socket::from));
        poll.namespaces.insert(inode, ns.netns);
    }
    for (pid, container) in owners.containers {
        poll.containers.insert(pid, container);
    }
    poll.hidden_containers.clear();
    let holders: HashMap<(u32, u64), Vec<u32>> = owners
        .sockets
        .into_iter()
        .map(|held| ((held.inode, held.cookie), held.pids))
        .collect();
    for socket in poll.sockets.iter_mut().filter(|s| s.pids.is_empty()) {
        if let Some(inode) = socket.inode.filter(|inode| *inode != 0)
            && let Some(pids) = holders.get(&(inode, socket.cookie))
        {
            socket.pids = Pids::from_slice(pids);
        }
    }
    for process in owners.processes {
        let process: crate::model::ProcessInfo = process.into();
        if let (Some(uid), Some(user)) = (process.uid, process.user.as_ref()) {
            poll.users.entry(uid).or_insert_with(|| user.clone());
        }
        match poll.processes.entry(process.pid) {
            Entry::Vacant(entry) => {
                entry.insert(process);
            }
            // The same process (not a reused PID): it gains what only root could read.
            Entry::Occupied(mut entry) if entry.get().start_time == process.start_time => {
                let known = entry.get_mut();
                if known.exe.is_none() {
                    known.exe = process.exe;
                }
                if known.cmdline.is_empty() {
                    known.cmdline = process.cmdline;
                }
            }
            Entry::Occupied(_) => {}
        }
    }
}

/// `pkexec /path/to/portscope helper`, or why it cannot be used here.
pub fn pkexec_command() -> Result<Command, String> {
    pkexec_in(std::env::var_os("PATH").as_deref())
}

/// [`pkexec_command`] with `pkexec` looked for in the search path `path`.
fn pkexec_in(path: Option<&std::ffi::OsStr>) -> Result<Command, String> {
    let Some(pkexec) = path.and_then(|path| in_path(path, "pkexec")) else {
        return Err(format!(
            "pkexec is not installed, so portscope cannot ask for administrator rights: run \
             '{}' in a terminal instead",
            crate::collect::helper::AS_ROOT
        ));
    };
    // pkexec needs an absolute path; the installed binary is the one the polkit policy names.
    let exe = std::env::current_exe()
        .map_err(|e| format!("cannot find portscope's own executable: {e}"))?;
    let mut command = Command::new(pkexec);
    command.arg(exe).arg("helper");
    Ok(command)
}

fn in_path(path: &std::ffi::OsStr, program: &str) -> Option<PathBuf> {
    std::env::split_paths(path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::helper::protocol::{Held, Process};
    use crate::model::{Proto, SockState, Socket};
    use std::net::{IpAddr, Ipv4Addr};

    fn socket(inode: u32, cookie: u64, pids: &[u32]) -> Socket {
        Socket {
            host: 0,
            proto: Proto::Tcp,
            local_addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            local_port: 22,
            remote_addr: None,
            remote_port: None,
            state: SockState::Listen,
            pids: Pids::from_slice(pids),
            uid: Some(0),
            inode: Some(inode),
            cookie,
            recv_q: 0,
            send_q: 0,
            netns: 0,
        }
    }

    fn process(pid: u32, exe: &str) -> Process {
        Process {
            pid,
            name: "sshd".to_owned(),
            exe: Some(exe.to_owned()),
            cmdline: vec![exe.to_owned()],
            uid: Some(0),
            user: Some("root".to_owned()),
            parent_pid: Some(1),
            start_time: Some(5),
        }
    }

    #[test]
    fn fills_only_the_same_socket_and_keeps_what_the_poll_saw() {
        let mut poll = Poll {
            sockets: vec![
                socket(10, 100, &[]),
                socket(11, 111, &[]),
                socket(12, 120, &[7]),
            ],
            ..Poll::default()
        };
        let owners = Owners {
            sockets: vec![
                Held {
                    inode: 10,
                    cookie: 100,
                    pids: vec![40],
                },
                // Same inode number, another socket: not this one.
                Held {
                    inode: 11,
                    cookie: 999,
                    pids: vec![41],
                },
                Held {
                    inode: 12,
                    cookie: 120,
                    pids: vec![42],
                },
            ],
            processes: vec![process(40, "/usr/sbin/sshd")],
            ..Owners::default()
        };
        fill(&mut poll, owners);
        assert_eq!(poll.sockets[0].pids.to_vec(), vec![40]);
        assert!(poll.sockets[1].pids.is_empty());
        assert_eq!(poll.sockets[2].pids.to_vec(), vec![7]);
        assert_eq!(poll.processes[&40].exe.as_deref(), Some("/usr/sbin/sshd"));
        assert_eq!(poll.users.get(&0).map(String::as_str), Some("root"));
    }

    #[test]
    fn the_helpers_namespaces_replace_what_the_window_read_of_them() {
        use crate::collect::helper::protocol::NsSockets;
        use crate::model::container::Container;
        use crate::model::netns::{NetNs, NsRead};

        let mut in_ns = socket(50, 0, &[]);
        in_ns.netns = 9;
        let mut poll = Poll {
            // The window's own namespace, and one it read without counters or owners.
            sockets: vec![socket(10, 100, &[]), in_ns],
            hidden_containers: vec![Container {
                runtime: "Docker".to_owned(),
                id: "cd".repeat(32),
                name: None,
                image: None,
            }],
            ..Poll::default()
        };
        let mut theirs = socket(51, 510, &[77]);
        theirs.netns = 9;
        let mut other = socket(60, 600, &[78]);
        other.netns = 12;
        let web = Container {
            runtime: "Docker".to_owned(),
            id: "ab".repeat(32),
            name: Some("web".to_owned()),
            image: None,
        };
        let owners = Owners {
            namespaces: vec![
                NsSockets {
                    netns: NetNs {
                        inode: 9,
                        read: NsRead::Dump,
                        ..NetNs::default()
                    },
                    sockets: vec![(&theirs).into()],
                },
                NsSockets {
                    netns: NetNs {
                        inode: 12,
                        container: Some(web.clone()),
                        ..NetNs::default()
                    },
                    sockets: vec![(&other).into()],
                },
            ],
            containers: vec![(78, web.clone())],
            ..Owners::default()
        };
        fill(&mut poll, owners);
        let inodes: Vec<Option<u32>> = poll.sockets.iter().map(|s| s.inode).collect();
        assert_eq!(inodes, [Some(10), Some(51), Some(60)]);
        assert_eq!(poll.sockets[2].pids.to_vec(), vec![78]);
        assert_eq!(poll.sockets[2].netns, 12);
        assert_eq!(poll.namespaces[&12].container.as_ref(), Some(&web));
        assert_eq!(poll.containers[&78], web);
        assert!(poll.hidden_containers.is_empty());
    }

    #[test]
    fn a_missing_pkexec_says_what_to_run_instead() {
        for path in [None, Some(std::ffi::OsStr::new("/nonexistent"))] {
            let why = pkexec_in(path).err().unwrap();
            assert!(why.contains("sudo portscope"), "{why}");
        }
    }
}
