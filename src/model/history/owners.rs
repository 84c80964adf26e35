//! The processes holding a live socket, captured while it is alive: once a socket has closed
//! nothing on the system remembers who owned it.
//!
//! Process details are shared (`Arc`) between the sockets of a process and copied only when
//! they change, so following owners costs next to nothing on a poll where no process changed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::mem;
use std::sync::Arc;

use smallvec::SmallVec;

use super::super::{FastHash, ProcessInfo, Snapshot};
use super::OwnerProcess;
use super::live::Tracked;

/// The processes holding a live socket: nearly always one, kept without an allocation.
#[derive(Debug, Default)]
pub(super) struct OwnerList(SmallVec<[OwnerProcess; 1]>);

impl OwnerList {
    pub(super) fn iter(&self) -> impl Iterator<Item = &OwnerProcess> {
        self.0.iter()
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = &mut OwnerProcess> {
        self.0.iter_mut()
    }

    fn has_pids(&self, pids: &[u32]) -> bool {
        self.0.len() == pids.len() && self.0.iter().zip(pids).all(|(o, pid)| o.pid == *pid)
    }

    pub(super) fn into_vec(self) -> Vec<OwnerProcess> {
        self.0.into_vec()
    }
}

impl FromIterator<OwnerProcess> for OwnerList {
    fn from_iter<I: IntoIterator<Item = OwnerProcess>>(iter: I) -> Self {
        OwnerList(iter.into_iter().collect())
    }
}

impl Tracked {
    /// Follow the socket's owners. An empty list keeps the last owners: the process closed
    /// the socket and the kernel finishes it, but the history should still say whose it was.
    /// Take the owners `pids` of machine `host` names, as `processes` knows them.
    pub(super) fn refresh_owners(&mut self, host: u16, pids: &[u32], processes: &ProcessCache) {
        if pids.is_empty() {
            return;
        }
        if self.owners.has_pids(pids) {
            if !self.incomplete && !processes.any_changed(host, pids) {
                return;
            }
            for owner in self.owners.iter_mut() {
                if let Some(info) = processes.get(host, owner.pid) {
                    owner.info = Some(info);
                }
            }
        } else {
            let old = mem::take(&mut self.owners);
            self.owners = pids
                .iter()
                .map(|&pid| OwnerProcess {
                    pid,
                    info: processes.get(host, pid).or_else(|| {
                        old.iter()
                            .find(|o| o.pid == pid)
                            .and_then(|o| o.info.clone())
                    }),
                })
                .collect();
        }
        self.incomplete = self.owners.iter().any(|o| o.info.is_none());
    }
}

/// Process details shared by the sockets that refer to them, copied only when they change.
/// A process missing from a few snapshots (it exited mid-scan) is remembered a little longer,
/// so a socket first seen just then still gets its details.
#[derive(Debug, Default)]
pub(super) struct ProcessCache {
    /// By machine (see [`crate::model::Socket::host`]) and PID: two machines' PIDs say
    /// nothing about each other.
    by_pid: HashMap<(u16, u32), (Arc<ProcessInfo>, u64), FastHash>,
    /// Processes whose details were added or replaced by the last refresh.
    changed: HashSet<(u16, u32), FastHash>,
}

impl ProcessCache {
    /// Snapshots a process may be missing from before it is forgotten.
    const GRACE: u64 = 4;

    /// Take the processes of a snapshot: each machine's, where it lists several.
    pub(super) fn refresh_from(&mut self, snapshot: &Snapshot, stamp: u64) {
        if snapshot.machines.is_empty() {
            self.refresh(&[(0, &snapshot.processes)], stamp);
        } else {
            let tables: Vec<(u16, &BTreeMap<u32, ProcessInfo>)> = snapshot
                .machines
                .iter()
                .map(|m| (m.id, &m.table.processes))
                .collect();
            self.refresh(&tables, stamp);
        }
    }

    pub(super) fn refresh(&mut self, tables: &[(u16, &BTreeMap<u32, ProcessInfo>)], stamp: u64) {
        self.changed.clear();
        for (host, processes) in tables {
            for (&pid, info) in *processes {
                let key = (*host, pid);
                match self.by_pid.get_mut(&key) {
                    Some((known, seen)) if **known == *info => *seen = stamp,
                    _ => {
                        self.by_pid.insert(key, (Arc::new(info.clone()), stamp));
                        self.changed.insert(key);
                    }
                }
            }
        }
        self.by_pid
            .retain(|_, (_, seen)| stamp.saturating_sub(*seen) <= Self::GRACE);
    }

    pub(super) fn get(&self, host: u16, pid: u32) -> Option<Arc<ProcessInfo>> {
        self.by_pid
            .get(&(host, pid))
            .map(|(info, _)| Arc::clone(info))
    }

    fn any_changed(&self, host: u16, pids: &[u32]) -> bool {
        !self.changed.is_empty() && pids.iter().any(|pid| self.changed.contains(&(host, *pid)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::super::*;

    #[test]
    fn processes_are_captured_while_alive() {
        let mut sc = Script::new();
        sc.poll(0, vec![], &[]);
        let a = conn(40000, SockState::Established, 12, &[20]);
        let b = conn(40001, SockState::Established, 13, &[30]);
        // 20 is described at first and then missing (it exited mid-scan); 30 is described
        // only after its socket was first seen.
        sc.poll(1000, vec![a.clone(), b.clone()], &[process(20, "curl")]);
        sc.poll(2000, vec![a.clone(), b.clone()], &[process(30, "wget")]);
        sc.poll(3000, vec![a.clone(), b.clone()], &[]);
        sc.poll(4000, vec![], &[]);
        let closing = sc.tracker.closing();
        assert_eq!(closing.len(), 2);
        let label = |s: &Socket| {
            closing
                .iter()
                .find(|c| c.socket == *s)
                .map(ClosedSocket::process_label)
        };
        assert_eq!(label(&a).as_deref(), Some("curl"));
        assert_eq!(label(&b).as_deref(), Some("wget"));
    }

    #[test]
    fn an_owner_never_described_is_kept_by_pid() {
        let mut sc = Script::new();
        let a = conn(40000, SockState::Established, 12, &[20]);
        sc.poll(0, vec![a.clone()], &[]);
        sc.poll(1000, vec![], &[]);
        let closed = &sc.tracker.closing()[0];
        assert_eq!(closed.process_label(), "pid 20");
        // Without process details the socket's own uid names the user.
        assert_eq!(closed.user(), Some("1000"));
    }
}
