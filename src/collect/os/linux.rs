//! The live source on Linux: the kernel's socket table from our own sock_diag dump, owners
//! from a cache kept between polls, and processes that change what they are noticed at once.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;
use std::{panic, thread};

use super::destroyed::{DestroyFeed, RECEIVE_BUFFER};
use super::identity::Identities;
use super::netns::{self, Namespaces};
use super::owners::OwnerCache;
use super::processes::{Look, Platform, Processes};
use super::sock_diag::{self, Table};
use crate::collect::containers::Attribution;
use crate::collect::{CollectError, Poll, SocketSource};
use crate::model::ended::EndedBatch;
use crate::model::netns::NetNs;
use crate::model::traffic::RateTracker;
use crate::model::{FastHash, Pids, Proto, Socket};

pub struct OsSource {
    /// The kernel's announcements of destroyed sockets, once asked for.
    ended: Option<DestroyFeed>,
    processes: Processes,
    owners: OwnerCache,
    identities: Identities,
    rates: RateTracker,
    /// portscope's own network namespace (0 where `/proc` does not say).
    own_netns: u32,
    /// The other network namespaces, when asked to read them.
    others: Option<Namespaces>,
    /// Which containers the owners and namespaces are in.
    containers: Attribution,
}

/// Where the process table is, and where `ip netns` keeps its names.
const PROC: &str = "/proc";
const NAMED_NETNS: &str = "/run/netns";

impl OsSource {
    /// The sockets of portscope's own network namespace (what `ss` shows without `-N`).
    pub fn new() -> Result<Self, CollectError> {
        Ok(OsSource {
            ended: None,
            processes: Processes::new()?,
            owners: OwnerCache::default(),
            identities: Identities::default(),
            rates: RateTracker::default(),
            own_netns: netns::own().unwrap_or(0),
            others: None,
            containers: Attribution::cached(),
        })
    }

    /// Follow the sockets the other namespaces destroy (each from the poll that enters it),
    /// for a caller that follows portscope's own namespace itself.
    pub fn watch_other_namespaces(&mut self, wake: Arc<dyn Fn() + Send + Sync>) {
        if let Some(others) = &mut self.others {
            others.watch_ended(wake);
        }
    }

    /// What [`watch_other_namespaces`](Self::watch_other_namespaces) follows, since the last
    /// call, each marked with its namespace.
    pub fn drain_other_namespaces(&mut self) -> EndedBatch {
        let mut batch = EndedBatch::default();
        if let Some(others) = &self.others {
            for (inode, feed) in others.feeds() {
                let more = feed.drain();
                batch.overflows += more.overflows;
                batch.ended.extend(more.ended.into_iter().map(|mut e| {
                    e.socket.netns = inode;
                    e
                }));
            }
        }
        batch
    }

    /// Ask the container runtimes' APIs for names during each poll (a one-shot command may
    /// wait for them; the window never does).
    pub fn waiting_for_names(mut self) -> Self {
        self.containers = Attribution::waiting();
        self
    }

    /// The sockets of every network namespace this user may read: with privilege all of them
    /// (containers, `ip netns`), without it those of the user's own processes.
    pub fn all_namespaces() -> Result<Self, CollectError> {
        Ok(OsSource {
            others: Some(Namespaces::default()),
            ..OsSource::new()?
        })
    }
}

impl SocketSource for OsSource {
    fn poll(&mut self) -> Result<Poll, CollectError> {
        let (
            Table {
                sockets,
                tcp,
                udp_drops,
            },
            namespaces,
            hidden,
        ) = self.read_sockets()?;
        let traffic = self.rates.update(Instant::now(), tcp);
        let mut platform = Linux {
            owners: &mut self.owners,
            identities: &mut self.identities,
        };
        let mut poll = self.processes.describe(sockets, &mut platform);
        poll.traffic = traffic;
        poll.drops = udp_drops.into_iter().collect();
        poll.namespaces = namespaces;
        self.containers.attribute(&mut poll, &hidden);
        Ok(poll)
    }

    fn watch_ended(&mut self, wake: Box<dyn Fn() + Send>) -> Result<(), String> {
        let shared = Mutex::new(wake);
        let wake: Arc<dyn Fn() + Send + Sync> =
            Arc::new(move || (shared.lock().unwrap_or_else(PoisonError::into_inner))());
        let own = Arc::clone(&wake);
        let feed = DestroyFeed::start(RECEIVE_BUFFER, move || own())
            .map_err(|e| format!("cannot listen for closed sockets: {e}"))?;
        self.ended = Some(feed);
        // Each other namespace's, as it is entered.
        if let Some(others) = &mut self.others {
            others.watch_ended(wake);
        }
        Ok(())
    }

    fn drain_ended(&mut self) -> EndedBatch {
        let Some(feed) = &self.ended else {
            return EndedBatch::default();
        };
        let mut batch = feed.drain();
        for e in &mut batch.ended {
            e.socket.netns = self.own_netns;
        }
        let others = self.drain_other_namespaces();
        batch.overflows += others.overflows;
        batch.ended.extend(others.ended);
        // A connection its process closed first leaves a TIME_WAIT entry with its cookie:
        // one exact lookup (in its namespace) tells it from one that is gone for good.
        let mut by_namespace: BTreeMap<u32, Vec<&Socket>> = BTreeMap::new();
        for s in batch.ended.iter().map(|e| &e.socket) {
            if s.proto == Proto::Tcp && s.remote_addr.is_some() {
                by_namespace.entry(s.netns).or_default().push(s);
            }
        }
        let mut lingering: HashSet<u64, FastHash> = HashSet::default();
        for (netns, connections) in by_namespace {
            // Where the namespace cannot be asked: taken as gone.
            let gone = gone_in(netns, self.own_netns, self.others.as_ref(), &connections)
                .unwrap_or_else(|| (0..connections.len()).collect());
            let gone: HashSet<usize, FastHash> = gone.into_iter().collect();
            lingering.extend(
                connections
                    .iter()
                    .enumerate()
                    .filter(|(at, _)| !gone.contains(at))
                    .map(|(_, s)| s.cookie),
            );
        }
        for e in &mut batch.ended {
            e.time_wait = e.socket.proto == Proto::Tcp && lingering.contains(&e.socket.cookie);
        }
        batch
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
    fn read_sockets(&mut self) -> Result<Everywhere, CollectError> {
        let own = self.own_netns;
        let others = &mut self.others;
        let owners = &mut self.owners;
        let (sockets, pending) = if owners.full_scan_due() {
            // Reading every process's open files and the socket table both take long on a busy
            // machine: do them at once.
            thread::scope(|scope| {
                let dump = thread::Builder::new()
                    .spawn_scoped(scope, || table_everywhere(own, others.as_mut()));
                let pending = owners.begin();
                let sockets = match dump {
                    Ok(thread) => thread.join().unwrap_or_else(|p| panic::resume_unwind(p)),
                    Err(_) => Err(CollectError::SocketTable(
                        "cannot start the thread that reads the socket table".to_owned(),
                    )),
                };
                (sockets, pending)
            })
        } else {
            // The socket table first: then every socket in it belongs to a process that the
            // listing in `begin` sees.
            let sockets = table_everywhere(own, others.as_mut())?;
            (Ok(sockets), owners.begin())
        };
        let others = self.others.as_ref();
        let pending =
            pending.map_err(|e| CollectError::Processes(format!("cannot list /proc: {e}")))?;
        let ((mut dump, namespaces, hidden), finished) = match sockets {
            Ok((dump, namespaces, hidden)) => {
                let finished = self.owners.finish(
                    pending,
                    dump.sockets
                        .iter()
                        .filter_map(|s| Some((u64::from(s.inode?), s.cookie, s.uid?))),
                    |inodes| closed_since(&dump.sockets, inodes, own, others),
                );
                ((dump, namespaces, hidden), finished)
            }
            Err(e) => {
                let exited = self.owners.abandon(pending);
                self.processes.forget(&exited);
                return Err(e);
            }
        };
        if !finished.closed.is_empty() {
            // Closed while the poll ran: not on the machine any more, so not in the poll.
            let closed: HashSet<u64, FastHash> = finished.closed.iter().copied().collect();
            let mut cookies = HashSet::<u64, FastHash>::default();
            dump.sockets.retain(|s| {
                let open = s
                    .inode
                    .is_none_or(|inode| !closed.contains(&u64::from(inode)));
                if !open {
                    cookies.insert(s.cookie);
                }
                open
            });
            dump.tcp.retain(|(cookie, _)| !cookies.contains(cookie));
        }
        for s in &mut dump.sockets {
            if let Some(inode) = s.inode {
                s.pids = Pids::from_slice(self.owners.holders(u64::from(inode)));
            }
        }
        let exited = finished.exited;
        self.processes.forget(&exited);
        Ok((dump, namespaces, hidden))
    }
}

/// The socket table of portscope's own namespace, and of every other one when `others` is
/// given, each socket marked with its namespace.
fn table_everywhere(own: u32, others: Option<&mut Namespaces>) -> Result<Everywhere, CollectError> {
    let mut dump = table()?;
    for s in &mut dump.sockets {
        s.netns = own;
    }
    let mut namespaces = BTreeMap::new();
    let Some(others) = others else {
        return Ok((dump, namespaces, Vec::new()));
    };
    let (found, hidden) = netns::list(Path::new(PROC), Path::new(NAMED_NETNS));
    if own != 0 {
        let pids = found.get(&own).map(|ns| ns.pids.as_slice()).unwrap_or(&[]);
        namespaces.insert(
            own,
            NetNs {
                inode: own,
                own: true,
                name: found.get(&own).and_then(|ns| ns.name.clone()),
                pids: pids.iter().copied().take(NetNs::PIDS_KEPT).collect(),
                processes: pids.len(),
                sockets: dump.sockets.len(),
                read: Default::default(),
                container: None,
            },
        );
    }
    for read in others.read(own, &found) {
        dump.sockets.extend(read.table.sockets);
        dump.tcp.extend(read.table.tcp);
        dump.udp_drops.extend(read.table.udp_drops);
        namespaces.insert(read.netns.inode, read.netns);
    }
    Ok((dump, namespaces, hidden))
}

/// Every namespace's sockets, what is known of each namespace, and the processes whose
/// namespace this user may not see.
type Everywhere = (Table, BTreeMap<u32, NetNs>, Vec<u32>);

/// Of the sockets with these inodes, those the kernel no longer has: asked in each socket's
/// own namespace. Sockets read without sock_diag (no cookie) are not asked about.
fn closed_since(
    sockets: &[Socket],
    inodes: &[u64],
    own: u32,
    others: Option<&Namespaces>,
) -> Vec<u64> {
    let wanted: HashSet<u64, FastHash> = inodes.iter().copied().collect();
    let mut by_namespace: BTreeMap<u32, Vec<&Socket>> = BTreeMap::new();
    for s in sockets {
        if s.cookie != 0
            && s.inode
                .is_some_and(|inode| wanted.contains(&u64::from(inode)))
        {
            by_namespace.entry(s.netns).or_default().push(s);
        }
    }
    let mut closed = Vec::new();
    for (netns, asked) in by_namespace {
        let Some(gone) = gone_in(netns, own, others, &asked) else {
            continue;
        };
        closed.extend(
            gone.into_iter()
                .filter_map(|at| Some(u64::from(asked.get(at)?.inode?))),
        );
    }
    closed
}

/// Of `sockets`, all of namespace `netns`, the positions of those the kernel no longer has
/// ([`sock_diag::gone`]), asked in that namespace; `None` where it cannot be asked.
fn gone_in(
    netns: u32,
    own: u32,
    others: Option<&Namespaces>,
    sockets: &[&Socket],
) -> Option<Vec<usize>> {
    if netns == own {
        return Some(sock_diag::gone(sockets));
    }
    let netlink = others?.netlink(netns)?;
    Some(sock_diag::gone_on(netlink, sockets))
}

/// The socket table of the namespace `netlink` was opened in, without owners.
pub fn dump_on(netlink: &netlink_sys::Socket) -> Result<Vec<Socket>, CollectError> {
    sock_diag::dump_sockets_on(netlink)
        .map(|table| table.sockets)
        .map_err(|e| CollectError::SocketTable(e.to_string()))
}

/// The socket table without owners, straight from the kernel: the owner cache finds those.
pub fn socket_table() -> Result<Vec<Socket>, CollectError> {
    table().map(|table| table.sockets)
}

fn table() -> Result<Table, CollectError> {
    sock_diag::dump_sockets().map_err(|e| {
        CollectError::SocketTable(format!(
            "{e} (portscope reads sockets over the kernel's sock_diag netlink interface; a \
             sandbox or seccomp policy may block it)"
        ))
    })
}

/// Asks the kernel to destroy one TCP socket (see [`sock_diag::destroy`]), in the network
/// namespace the socket lives in.
pub fn destroy_socket(socket: &Socket) -> std::io::Result<()> {
    match netlink_for(socket)? {
        Some(netlink) => sock_diag::destroy_on(&netlink, socket),
        None => sock_diag::destroy(socket),
    }
}

/// Whether the kernel no longer has `socket`: one exact lookup in its namespace.
pub fn socket_gone(socket: &Socket) -> bool {
    match netlink_for(socket) {
        Ok(Some(netlink)) => !sock_diag::gone_on(&netlink, &[socket]).is_empty(),
        Ok(None) => !sock_diag::gone(&[socket]).is_empty(),
        Err(_) => false,
    }
}

/// portscope's own network namespace.
pub fn own_netns() -> Option<u32> {
    netns::own().ok()
}

/// A sock_diag socket inside the namespace `socket` lives in; `None` for portscope's own.
fn netlink_for(socket: &Socket) -> std::io::Result<Option<netlink_sys::Socket>> {
    let own = netns::own().unwrap_or(0);
    if socket.netns == 0 || socket.netns == own {
        return Ok(None);
    }
    let (found, _) = netns::list(Path::new(PROC), Path::new(NAMED_NETNS));
    let ns = found.get(&socket.netns).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "its network namespace is gone, or this user may not see it",
        )
    })?;
    netns::open_inside(&ns.path).map(Some)
}
