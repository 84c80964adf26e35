//! The live source: the socket table (on Linux the kernel's own sock_diag dump, elsewhere
//! netstat2) and sysinfo for the processes behind it.
//!
//! One `sysinfo::System` lives as long as the source, and each poll refreshes only the
//! processes that own sockets (and their parents), and only the fields we show: a full
//! refresh of everything would cost far more than reading the sockets.
//!
//! On Linux the socket table comes from the kernel without owners, and [`owners::OwnerCache`]
//! says which processes hold each socket: finding that out afresh means reading every open
//! file of every process, which costs several times the socket table itself, so the answer is
//! kept between polls and only what changed is looked up. Other systems report owners with
//! the socket table.

#[cfg(target_os = "linux")]
mod identity;
#[cfg_attr(target_os = "linux", cfg(test))]
mod netstat;
#[cfg(target_os = "linux")]
mod owners;
#[cfg(target_os = "linux")]
mod sock_diag;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};
#[cfg(target_os = "linux")]
use std::{panic, thread};

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind, Users};

use super::{CollectError, Poll, SocketSource};
use crate::model::{Pids, ProcessInfo, Socket, Viewer};

/// How often the whole process list is swept, so processes that no longer own sockets
/// are dropped from memory. (On Linux the owner cache names the processes that exited.)
#[cfg(not(target_os = "linux"))]
const FULL_SWEEP_EVERY: u32 = 30;
/// How long a user list stays fresh before an unknown uid may trigger a reload.
const USERS_TTL: Duration = Duration::from_secs(10);

pub struct OsSource {
    system: System,
    users: Option<Users>,
    users_loaded_at: Option<Instant>,
    #[cfg(not(target_os = "linux"))]
    polls: u32,
    #[cfg(target_os = "linux")]
    owners: owners::OwnerCache,
    #[cfg(target_os = "linux")]
    identities: identity::Identities,
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
            #[cfg(not(target_os = "linux"))]
            polls: 0,
            #[cfg(target_os = "linux")]
            owners: owners::OwnerCache::default(),
            #[cfg(target_os = "linux")]
            identities: identity::Identities::default(),
            viewer,
        })
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
            #[cfg(target_os = "linux")]
            self.owners.forget_holder(zombie.as_u32());
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

impl SocketSource for OsSource {
    fn poll(&mut self) -> Result<Poll, CollectError> {
        let mut sockets = self.read_sockets()?;

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
        self.drop_zombies(&mut sockets, &mut owner_pids, &mut owners);
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

        let names = self.names_now(&owners, &parents);
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
        Ok(Poll {
            sockets,
            processes,
            users,
            viewer: self.viewer,
        })
    }
}

#[cfg(target_os = "linux")]
impl OsSource {
    /// The socket table, with owners from the cache.
    fn read_sockets(&mut self) -> Result<Vec<Socket>, CollectError> {
        let (sockets, pending) = if self.owners.full_scan_due() {
            // Reading every process's open files and the socket table both take long on a busy
            // machine: do them at once.
            thread::scope(|scope| {
                let table = thread::Builder::new().spawn_scoped(scope, socket_table);
                let pending = self.owners.begin();
                let sockets = match table {
                    Ok(thread) => thread.join().unwrap_or_else(|p| panic::resume_unwind(p)),
                    Err(_) => socket_table(),
                };
                (sockets, pending)
            })
        } else {
            // The socket table first: then every socket in it belongs to a process that the
            // listing in `begin` sees.
            let sockets = socket_table()?;
            (Ok(sockets), self.owners.begin())
        };
        let pending =
            pending.map_err(|e| CollectError::Processes(format!("cannot list /proc: {e}")))?;
        let (mut sockets, exited) = match sockets {
            Ok(sockets) => {
                let exited = self.owners.finish(
                    pending,
                    sockets
                        .iter()
                        .filter_map(|s| Some((u64::from(s.inode?), s.uid?))),
                );
                (sockets, exited)
            }
            Err(e) => {
                let exited = self.owners.abandon(pending);
                self.forget_processes(&exited);
                return Err(e);
            }
        };
        for s in &mut sockets {
            if let Some(inode) = s.inode {
                s.pids = Pids::from_slice(self.owners.holders(u64::from(inode)));
            }
        }
        self.forget_processes(&exited);
        Ok(sockets)
    }

    /// Forget what sysinfo knew of processes that exited: they cannot be read any more.
    fn forget_processes(&mut self, exited: &[u32]) {
        self.refresh_processes(
            &exited.iter().map(|p| Pid::from_u32(*p)).collect::<Vec<_>>(),
            ProcessRefreshKind::nothing().without_tasks(),
        );
    }
}

#[cfg(target_os = "linux")]
impl OsSource {
    /// The processes' names as they are now, after reading again completely those that
    /// changed what they are since the last poll (see [`identity`]).
    fn names_now(&mut self, owners: &[Pid], parents: &[Pid]) -> HashMap<u32, String> {
        let shown: Vec<u32> = owners.iter().chain(parents).map(|p| p.as_u32()).collect();
        let look = self.identities.look(&shown);
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

#[cfg(not(target_os = "linux"))]
impl OsSource {
    /// Elsewhere sysinfo's names stand.
    fn names_now(&mut self, _owners: &[Pid], _parents: &[Pid]) -> HashMap<u32, String> {
        HashMap::new()
    }
}

#[cfg(not(target_os = "linux"))]
impl OsSource {
    /// The socket table with the owners the OS reports for each socket. Rows the library
    /// cannot decode are skipped, not fatal.
    fn read_sockets(&mut self) -> Result<Vec<Socket>, CollectError> {
        let sockets = netstat::sockets_with_owners()?;
        self.polls = self.polls.wrapping_add(1);
        if self.polls.is_multiple_of(FULL_SWEEP_EVERY) {
            // Forget processes that exited or no longer own sockets.
            self.system.refresh_processes_specifics(
                ProcessesToUpdate::All,
                true,
                ProcessRefreshKind::nothing().without_tasks(),
            );
        }
        Ok(sockets)
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

/// The socket table without owners, straight from the kernel: the owner cache finds those.
#[cfg(target_os = "linux")]
pub fn socket_table() -> Result<Vec<Socket>, CollectError> {
    sock_diag::dump_sockets().map_err(|e| {
        CollectError::SocketTable(format!(
            "{e} (portscope reads sockets over the kernel's sock_diag netlink interface; a \
             sandbox or seccomp policy may block it)"
        ))
    })
}
