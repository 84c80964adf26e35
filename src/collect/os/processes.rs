//! The processes behind the sockets, through one `sysinfo::System` kept between polls.
//!
//! Each poll refreshes only the processes that own sockets, and their parents, and only the
//! fields shown (name, executable, command line, user), read once and again only when the
//! platform says a process changed (see [`Platform::look`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind, Users};

use crate::collect::{CollectError, Poll};
use crate::model::{ProcessInfo, Socket, Viewer};

/// How long a user list stays fresh before an unknown uid may trigger a reload.
const USERS_TTL: Duration = Duration::from_secs(10);

/// What a system adds to describing processes.
pub trait Platform {
    /// Process `pid` became a zombie: it holds no files any more.
    fn zombie(&mut self, _pid: u32) {}

    /// Looks at the processes this poll shows: their names as they are now, and those to read
    /// again completely because they changed what they are.
    fn look(&mut self, _pids: &[u32]) -> Look {
        Look::default()
    }
}

/// What a [`Platform::look`] found.
#[derive(Debug, Default)]
pub struct Look {
    /// Names that replace sysinfo's, which reads a name only once.
    pub names: HashMap<u32, String>,
    /// Processes to read again completely.
    pub reread: Vec<u32>,
}

/// The owners' details, kept between polls.
pub struct Processes {
    system: System,
    users: Option<Users>,
    users_loaded_at: Option<Instant>,
    viewer: Viewer,
}

impl Processes {
    pub fn new() -> Result<Self, CollectError> {
        let mut system = System::new().map_err(|e| CollectError::Processes(e.to_string()))?;
        let viewer = viewer(&mut system);
        Ok(Processes {
            system,
            users: None,
            users_loaded_at: None,
            viewer,
        })
    }

    /// Forget what sysinfo knew of processes that exited: they cannot be read any more.
    pub fn forget(&mut self, exited: &[u32]) {
        self.refresh_processes(
            &exited.iter().map(|p| Pid::from_u32(*p)).collect::<Vec<_>>(),
            ProcessRefreshKind::nothing().without_tasks(),
        );
    }

    /// Forget every process that exited or no longer owns sockets: where nothing else says
    /// which processes exited.
    #[cfg_attr(target_os = "linux", allow(dead_code))]
    pub fn sweep(&mut self) {
        self.system.refresh_processes_specifics(
            ProcessesToUpdate::All,
            true,
            ProcessRefreshKind::nothing().without_tasks(),
        );
    }

    fn refresh_processes(&mut self, pids: &[Pid], kind: ProcessRefreshKind) {
        if !pids.is_empty() {
            self.system
                .refresh_processes_specifics(ProcessesToUpdate::Some(pids), true, kind);
        }
    }

    /// A zombie has released its files but stays in the process table until its parent reaps
    /// it: it holds no socket any more, even one its parent or a sibling still holds.
    fn drop_zombies(
        &mut self,
        sockets: &mut [Socket],
        owner_pids: &mut BTreeSet<u32>,
        owners: &mut Vec<Pid>,
        platform: &mut dyn Platform,
    ) {
        let zombies: Vec<Pid> = owners
            .iter()
            .copied()
            .filter(|pid| {
                self.system.process(*pid).is_some_and(|p| {
                    matches!(
                        p.status(),
                        sysinfo::ProcessStatus::Zombie | sysinfo::ProcessStatus::Dead
                    )
                })
            })
            .collect();
        if zombies.is_empty() {
            return;
        }
        for zombie in &zombies {
            platform.zombie(zombie.as_u32());
            owner_pids.remove(&zombie.as_u32());
        }
        owners.retain(|pid| !zombies.contains(pid));
        for s in sockets {
            s.pids.retain(|pid| owner_pids.contains(&pid));
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

impl Processes {
    /// The poll of `sockets`: their owners described, zombies dropped from them.
    pub fn describe(&mut self, mut sockets: Vec<Socket>, platform: &mut dyn Platform) -> Poll {
        let (mut owner_pids, mut uids) = owners_and_uids(&sockets);
        let mut owners: Vec<Pid> = owner_pids.iter().map(|p| Pid::from_u32(*p)).collect();
        self.refresh_processes(
            &owners,
            ProcessRefreshKind::nothing()
                .without_tasks()
                .with_exe(UpdateKind::OnlyIfNotSet)
                .with_cmd(UpdateKind::OnlyIfNotSet)
                .with_user(UpdateKind::OnlyIfNotSet),
        );
        self.drop_zombies(&mut sockets, &mut owner_pids, &mut owners, platform);
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

        let names = self.names_now(&owners, &parents, platform);
        let mut processes = BTreeMap::new();
        for pid in owners.iter().chain(&parents) {
            // A process that exited since the socket scan is simply not found.
            if let Some(p) = self.system.process(*pid) {
                let mut info = process_info(p);
                if let Some(name) = names.get(&info.pid) {
                    info.name.clone_from(name);
                }
                uids.extend(info.uid);
                processes.insert(info.pid, info);
            }
        }
        let users = self.user_names(&uids);
        for info in processes.values_mut() {
            info.user = info.uid.and_then(|uid| users.get(&uid).cloned());
        }
        Poll {
            sockets,
            processes,
            users,
            viewer: self.viewer,
            traffic: Default::default(),
            drops: Default::default(),
            namespaces: Default::default(),
            containers: Default::default(),
            published: Default::default(),
            hidden_containers: Default::default(),
            machines: Default::default(),
            machine: None,
        }
    }

    /// The processes' names as they are now, after reading again completely those the platform
    /// says changed what they are.
    fn names_now(
        &mut self,
        owners: &[Pid],
        parents: &[Pid],
        platform: &mut dyn Platform,
    ) -> HashMap<u32, String> {
        let shown: Vec<u32> = owners.iter().chain(parents).map(|p| p.as_u32()).collect();
        let look = platform.look(&shown);
        let reread: Vec<Pid> = look.reread.iter().map(|p| Pid::from_u32(*p)).collect();
        self.refresh_processes(
            &reread,
            ProcessRefreshKind::nothing()
                .without_tasks()
                .with_exe(UpdateKind::Always)
                .with_cmd(UpdateKind::Always)
                .with_user(UpdateKind::Always),
        );
        look.names
    }
}

/// The PIDs that hold sockets and the uids that own them, each once. Neighbouring sockets
/// mostly repeat the last ones, which then cost no set lookup.
fn owners_and_uids(sockets: &[Socket]) -> (BTreeSet<u32>, BTreeSet<u32>) {
    let (mut pids, mut uids) = (BTreeSet::new(), BTreeSet::new());
    let (mut last_pid, mut last_uid) = (None, None);
    for s in sockets {
        for pid in &s.pids {
            if last_pid != Some(*pid) {
                pids.insert(*pid);
                last_pid = Some(*pid);
            }
        }
        if s.uid.is_some() && s.uid != last_uid {
            uids.extend(s.uid);
            last_uid = s.uid;
        }
    }
    (pids, uids)
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
