//! Every network namespace of the machine (Linux), each read with the same sock_diag dump as
//! portscope's own.
//!
//! The namespaces are found where the kernel shows them: `/proc/PID/ns/net` of every process
//! (one per distinct inode) and the names `ip netns add` keeps under `/run/netns`. A sock_diag
//! socket dumps the namespace it was opened in, so for each namespace one is opened once, from
//! a short-lived thread that has moved into the namespace with `setns` (which needs
//! `CAP_SYS_ADMIN`), and kept for the polls after. It keeps the namespace alive, so it is
//! closed as soon as no process and no name refers to the namespace any more.
//!
//! Without that privilege a user may still read the namespaces of their own processes
//! (rootless containers): the kernel's text tables under `/proc/PID/net` ([`super::procnet`]).
//! Other users' namespaces are not readable: the kernel does not even say which namespace
//! their processes are in.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;

use netlink_sys::Socket as NetlinkSocket;

use super::destroyed::{DestroyFeed, RECEIVE_BUFFER};
use super::procnet;
use super::sock_diag::{self, Table};
use crate::model::netns::{NetNs, NsRead};

/// One namespace as the listing found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub inode: u32,
    /// A file that refers to it: `/proc/PID/ns/net` or `/run/netns/NAME`.
    pub path: PathBuf,
    pub name: Option<String>,
    /// Processes inside it, ascending.
    pub pids: Vec<u32>,
}

/// The inode of portscope's own network namespace.
pub fn own() -> io::Result<u32> {
    inode(&fs::metadata("/proc/self/ns/net")?)
}

/// A namespace file's inode: the kernel numbers namespaces with 32 bits.
fn inode(meta: &fs::Metadata) -> io::Result<u32> {
    u32::try_from(meta.ino()).map_err(|_| io::Error::other("a namespace number beyond 32 bits"))
}

/// Every namespace a process or a name refers to, that this user may see (a user without
/// privilege sees only their own processes'), by inode; and the processes whose namespace
/// this user may not see.
pub fn list(proc: &Path, named: &Path) -> (BTreeMap<u32, Found>, Vec<u32>) {
    let mut found: BTreeMap<u32, Found> = BTreeMap::new();
    let mut hidden = Vec::new();
    if let Ok(entries) = fs::read_dir(proc) {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let path = entry.path().join("ns/net");
            // Other users' processes: the kernel does not say (without privilege). A
            // process that exited meanwhile: nothing to say.
            let ino = match fs::metadata(&path) {
                Ok(meta) => inode(&meta),
                Err(e) => Err(e),
            };
            let ino = match ino {
                Ok(ino) => ino,
                Err(e) => {
                    if e.kind() == io::ErrorKind::PermissionDenied {
                        hidden.push(pid);
                    }
                    continue;
                }
            };
            found
                .entry(ino)
                .or_insert_with(|| Found {
                    inode: ino,
                    path,
                    name: None,
                    pids: Vec::new(),
                })
                .pids
                .push(pid);
        }
    }
    if let Ok(entries) = fs::read_dir(named) {
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(ino) = fs::metadata(&path).ok().and_then(|m| inode(&m).ok()) else {
                continue;
            };
            let name = entry.file_name().to_string_lossy().into_owned();
            let ns = found.entry(ino).or_insert_with(|| Found {
                inode: ino,
                path: path.clone(),
                name: None,
                pids: Vec::new(),
            });
            ns.name.get_or_insert(name);
            if ns.pids.is_empty() {
                ns.path = path;
            }
        }
    }
    for ns in found.values_mut() {
        ns.pids.sort_unstable();
    }
    (found, hidden)
}

/// A sock_diag socket inside the namespace `path` refers to.
pub fn open_inside(path: &Path) -> io::Result<NetlinkSocket> {
    let file = fs::File::open(path)?;
    // `setns` moves only the calling thread: a thread of its own, which ends right after.
    thread::scope(|scope| {
        let opened = thread::Builder::new()
            .name("netns-open".to_owned())
            .spawn_scoped(scope, || {
                // SAFETY: `file` is an open namespace file for as long as the call runs;
                // setns changes only this thread's namespace, and the thread ends after.
                if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    return Err(io::Error::last_os_error());
                }
                sock_diag::open_netlink()
            })?;
        opened
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("opening a namespace's socket failed")))
    })
}

/// The namespaces other than portscope's own, with a sock_diag socket kept open inside each
/// that could be entered — and, once asked, a feed of the sockets each destroys.
#[derive(Default)]
pub struct Namespaces {
    inside: HashMap<u32, NetlinkSocket>,
    /// Namespaces that could not be entered, and why (tried once each).
    refused: HashMap<u32, String>,
    /// Called when a feed has announcements; `None` until closes are asked for.
    wake: Option<Wake>,
    feeds: HashMap<u32, DestroyFeed>,
}

/// What a namespace's feed calls when it has announcements.
type Wake = Arc<dyn Fn() + Send + Sync>;

/// The most namespaces followed for closes (a thread each); beyond them, closes are found by
/// polls.
pub const MAX_FEEDS: usize = 64;

/// One namespace's sockets, as read at one poll.
pub struct Read {
    pub netns: NetNs,
    pub table: Table,
}

impl Namespaces {
    /// Read every namespace in `found` but `own`: with sock_diag where it could be entered,
    /// else from one of its processes' `/proc/PID/net` tables.
    pub fn read(&mut self, own: u32, found: &BTreeMap<u32, Found>) -> Vec<Read> {
        self.inside.retain(|inode, _| found.contains_key(inode));
        self.refused.retain(|inode, _| found.contains_key(inode));
        self.feeds.retain(|inode, _| found.contains_key(inode));
        let mut reads = Vec::new();
        for ns in found.values().filter(|ns| ns.inode != own) {
            let mut netns = NetNs {
                inode: ns.inode,
                own: false,
                name: ns.name.clone(),
                pids: ns.pids.iter().copied().take(NetNs::PIDS_KEPT).collect(),
                processes: ns.pids.len(),
                sockets: 0,
                read: NsRead::Dump,
                container: None,
            };
            if !self.inside.contains_key(&ns.inode) && !self.refused.contains_key(&ns.inode) {
                match open_inside(&ns.path) {
                    Ok(netlink) => {
                        self.inside.insert(ns.inode, netlink);
                        self.follow(ns);
                    }
                    // Without the privilege to enter it, not tried again while it exists; a
                    // process that exited before it could be entered is no such answer.
                    Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                        self.refused.insert(ns.inode, e.to_string());
                    }
                    Err(e) => {
                        netns.read = NsRead::Unread { why: e.to_string() };
                    }
                }
            }
            let table = match self.inside.get(&ns.inode) {
                _ if matches!(netns.read, NsRead::Unread { .. }) => Ok(Table::default()),
                Some(netlink) => sock_diag::dump_sockets_on(netlink).map_err(|e| e.to_string()),
                None => match ns.pids.first() {
                    Some(&pid) => match procnet::read(pid) {
                        Ok(sockets) => {
                            netns.read = NsRead::ProcNet { pid };
                            Ok(Table {
                                sockets,
                                ..Table::default()
                            })
                        }
                        Err(e) => Err(e.to_string()),
                    },
                    None => Err(self
                        .refused
                        .get(&ns.inode)
                        .cloned()
                        .unwrap_or_else(|| "no process inside".to_owned())),
                },
            };
            let mut table = table.unwrap_or_else(|why| {
                netns.read = NsRead::Unread { why };
                Table::default()
            });
            for s in &mut table.sockets {
                s.netns = ns.inode;
            }
            netns.sockets = table.sockets.len();
            reads.push(Read { netns, table });
        }
        reads
    }

    /// The sock_diag socket inside a namespace, if it could be entered.
    pub fn netlink(&self, inode: u32) -> Option<&NetlinkSocket> {
        self.inside.get(&inode)
    }

    /// Follow the sockets each namespace entered from now on destroys, calling `wake` when
    /// some were announced.
    pub fn watch_ended(&mut self, wake: Wake) {
        self.wake = Some(wake);
    }

    /// Start the feed of a namespace just entered, when closes are asked for. A feed that
    /// cannot start leaves that namespace's closes to the polls.
    fn follow(&mut self, ns: &Found) {
        let Some(wake) = &self.wake else {
            return;
        };
        if self.feeds.len() >= MAX_FEEDS {
            return;
        }
        let wake = Arc::clone(wake);
        let feed = open_inside(&ns.path)
            .and_then(|netlink| DestroyFeed::start_on(netlink, RECEIVE_BUFFER, move || wake()));
        if let Ok(feed) = feed {
            self.feeds.insert(ns.inode, feed);
        }
    }

    /// The feeds of the namespaces followed, by inode.
    pub fn feeds(&self) -> impl Iterator<Item = (u32, &DestroyFeed)> {
        self.feeds.iter().map(|(inode, feed)| (*inode, feed))
    }
}
