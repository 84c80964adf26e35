//! The live source on Linux: the kernel's socket table from our own sock_diag dump, owners
//! from a cache kept between polls, and processes that change what they are noticed at once.

use std::{panic, thread};

use super::identity::Identities;
use super::owners::OwnerCache;
use super::processes::{Look, Platform, Processes};
use super::sock_diag;
use crate::collect::{CollectError, Poll, SocketSource};
use crate::model::{Pids, Socket};

pub struct OsSource {
    processes: Processes,
    owners: OwnerCache,
    identities: Identities,
}

impl OsSource {
    pub fn new() -> Result<Self, CollectError> {
        Ok(OsSource {
            processes: Processes::new()?,
            owners: OwnerCache::default(),
            identities: Identities::default(),
        })
    }
}

impl SocketSource for OsSource {
    fn poll(&mut self) -> Result<Poll, CollectError> {
        let sockets = self.read_sockets()?;
        let mut platform = Linux {
            owners: &mut self.owners,
            identities: &mut self.identities,
        };
        Ok(self.processes.describe(sockets, &mut platform))
    }
}

/// What Linux adds to describing processes: zombies leave the owner cache, and processes that
/// renamed themselves or became another program are read again.
struct Linux<'a> {
    owners: &'a mut OwnerCache,
    identities: &'a mut Identities,
}

impl Platform for Linux<'_> {
    fn zombie(&mut self, pid: u32) {
        self.owners.forget_holder(pid);
    }

    fn look(&mut self, pids: &[u32]) -> Look {
        self.identities.look(pids)
    }
}

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
                self.processes.forget(&exited);
                return Err(e);
            }
        };
        for s in &mut sockets {
            if let Some(inode) = s.inode {
                s.pids = Pids::from_slice(self.owners.holders(u64::from(inode)));
            }
        }
        self.processes.forget(&exited);
        Ok(sockets)
    }
}

/// The socket table without owners, straight from the kernel: the owner cache finds those.
pub fn socket_table() -> Result<Vec<Socket>, CollectError> {
    sock_diag::dump_sockets().map_err(|e| {
        CollectError::SocketTable(format!(
            "{e} (portscope reads sockets over the kernel's sock_diag netlink interface; a \
             sandbox or seccomp policy may block it)"
        ))
    })
}

/// Asks the kernel to destroy one TCP socket (see [`sock_diag::destroy`]).
pub fn destroy_socket(socket: &Socket) -> std::io::Result<()> {
    sock_diag::destroy(socket)
}
