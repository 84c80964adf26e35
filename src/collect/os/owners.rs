//! Which processes hold which sockets (Linux), remembered between polls.
//!
//! The kernel's socket table (sock_diag netlink) gives each socket's inode and uid, but not the
//! processes that hold it. Those can only be found by reading every process's open files
//! (`/proc/PID/fd/*`, one `readlink` each), and with thousands of sockets that costs several
//! times the socket table itself. Between two polls almost nothing changes, so [`OwnerCache`]
//! keeps the map inode → PIDs and reads a process's open files again only when something is
//! unknown:
//!
//! - **New processes** — a PID not seen before, or a PID reused (same number, other start
//!   time) — are always read: a forked child holds its parent's sockets too. The `/proc`
//!   listing that spots new PIDs also gives each one's directory inode, which the kernel
//!   renews when a PID is reused, so start times are compared only when that inode changes.
//! - **New sockets** (an inode not in the map) are looked for where they most likely are:
//!   processes that already hold sockets and run as the socket's user (most recently busy
//!   first, and of those the ones holding fewer sockets), then that user's other processes,
//!   then everyone else. The search stops as soon as every new inode is found. Before it
//!   starts, the sockets it would look for are checked with one exact sock_diag lookup each
//!   (by addresses and cookie): on a busy machine many have closed since the socket table
//!   was taken, and looking for them would read every process's open files in vain. A new socket found in a new process is also looked for in that
//!   process's parent, which may have opened it before forking.
//! - **Exited processes** are gone from the `/proc` listing and are dropped from every owner
//!   list; the caller drops zombies, which no longer hold files, through
//!   [`OwnerCache::forget_holder`].
//! - **A holder of a shared socket closing its copy** is noticed with one `readlink` of the
//!   file descriptor each copy was found at: a process that no longer has the socket there is
//!   read again.
//! - **Sockets no process can be found for** — held in another PID namespace, or by a process
//!   whose open files even root may not read — are remembered as such instead of being
//!   searched for at every poll. New processes are read anyway, so one that holds such a
//!   socket is still seen at once. A socket that a complete scan found no process for is
//!   searched for once more at the next poll — the scan read most processes before the
//!   socket table was taken, and one of them may have opened it in between — unless an
//!   earlier search already found nobody for it (same inode, same cookie): a socket held in
//!   another PID namespace would otherwise send every poll after a complete scan through
//!   every process's open files.
//! - Sockets in TIME_WAIT, and others no file refers to, have inode 0 and are never looked up.
//! - **A socket is its cookie**: an inode listed with another cookie than before is another
//!   socket under a reused number, and what was known of the old one is dropped.
//!
//! What the cache does not see at once: a socket passed over a Unix socket (`SCM_RIGHTS`) to a
//! process that already existed, a socket handed down through a parent that has already
//! exited, and a new socket of processes that share one table of open files (`clone` with `CLONE_FILES`, rare outside threads, which `/proc` lists
//! as one process anyway). A complete re-scan every [`FULL_SCAN_EVERY`] catches these and
//! retries the sockets no process was found for, so such a change shows at most that late.
//! Everything else matches a complete scan taken at the same moment.
//!
//! An update comes in two halves, [`OwnerCache::begin`] (the processes) and
//! [`OwnerCache::finish`] (given the socket table), so that for a complete scan the caller can
//! read the socket table on another thread meanwhile: with thousands of sockets both take tens
//! of milliseconds, and on two or more cores neither need wait for the other.

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};
use std::ffi::CStr;
use std::fs;
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirEntryExt, MetadataExt};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::collect::procfs::{self, Stat};

/// How often every process's open files are read again from scratch.
pub const FULL_SCAN_EVERY: Duration = Duration::from_secs(15);

/// Reading this many processes at once is spread over threads.
const PARALLEL_FROM: usize = 16;
/// At most this many threads read open files at once.
const MAX_THREADS: usize = 4;

/// Socket inode → holding PIDs, kept up to date between polls.
#[derive(Debug)]
pub struct OwnerCache {
    /// Who holds each socket inode of the last socket table. No PIDs: a search of every
    /// process found none.
    holders: IdMap<u64, Held>,
    /// Every process in `/proc` at the last update.
    processes: IdMap<u32, Process>,
    last_full_scan: Option<Instant>,
    full_scan_every: Duration,
    /// Counts updates, to tell which processes showed new sockets most recently.
    generation: u64,
    /// Whether to use the kernel's count of a process's open files (Linux 6.2 and later). Off,
    /// the cache works as on older kernels, which is how tests check that path.
    count_open_files: bool,
}

#[derive(Debug)]
struct Held {
    /// Ascending, deduplicated.
    pids: Vec<u32>,
    /// For each of `pids`, a file descriptor number at which that process held the socket
    /// when it was read: one `readlink` then tells whether it still does.
    fds: Vec<u32>,
    /// The socket's uid and cookie, as the socket table gives them.
    ident: Ident,
    /// Generation of the last socket table that listed the inode.
    seen: u64,
}

#[derive(Debug)]
struct Process {
    /// Inode of the `/proc/PID` directory: a new one means the PID may have been reused.
    dir_inode: u64,
    /// Field 22 of `/proc/PID/stat`: together with the PID, names one process for good.
    start_time: Option<u64>,
    parent: Option<u32>,
    /// The process's effective uid, as the owner of `/proc/PID/fd`.
    uid: Option<u32>,
    /// How many files it had open when they were last read.
    fd_count: Option<u64>,
    /// Generation at which a socket not seen before was last found in this process.
    last_new_socket: u64,
    /// How many sockets it held when last read: of two equally likely holders, the one with
    /// fewer open files is read first.
    sockets: usize,
}

/// What the socket table says of a socket besides its inode. The cookie tells a socket from
/// a later one that got the same inode number (inode numbers wrap; cookies do not).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ident {
    uid: u32,
    cookie: u64,
}

/// What an update found besides the owners.
#[derive(Debug, Default)]
pub struct Finished {
    /// PIDs of the processes that exited since the last update.
    pub exited: Vec<u32>,
    /// Inodes of sockets in the socket table that closed before anyone was found holding
    /// them.
    pub closed: Vec<u64>,
}

/// Processes read before the socket table: what [`OwnerCache::begin`] hands to
/// [`OwnerCache::finish`] (or, when the socket table could not be read, to
/// [`OwnerCache::abandon`]).
#[derive(Debug)]
pub struct Pending {
    tables: Vec<(u32, FdTable)>,
    /// Processes seen for the first time.
    fresh: Vec<u32>,
    gone: Vec<u32>,
    full: bool,
}

impl Default for OwnerCache {
    fn default() -> Self {
        OwnerCache::new(FULL_SCAN_EVERY)
    }
}

impl OwnerCache {
    /// A cache that reads everything again every `full_scan_every`.
    pub fn new(full_scan_every: Duration) -> Self {
        OwnerCache {
            holders: IdMap::default(),
            processes: IdMap::default(),
            last_full_scan: None,
            full_scan_every,
            generation: 0,
            count_open_files: true,
        }
    }

    /// Work without the kernel's count of open files, as on kernels before 6.2 (where a
    /// complete scan cannot tell which processes opened files while it ran).
    #[cfg(test)]
    pub fn without_open_file_counts(mut self) -> Self {
        self.count_open_files = false;
        self
    }

    /// The processes holding socket `inode`, ascending; empty when none is known.
    pub fn holders(&self, inode: u64) -> &[u32] {
        self.holders.get(&inode).map_or(&[], |held| &held.pids)
    }

    /// Whether the next [`begin`](Self::begin) reads every process: the first time, and then
    /// every [`FULL_SCAN_EVERY`].
    pub fn full_scan_due(&self) -> bool {
        self.last_full_scan
            .is_none_or(|at| at.elapsed() >= self.full_scan_every)
    }

    /// First half of an update: list the processes, forget those that exited and read the new
    /// ones (all of them when a full scan is due). Needs nothing from the socket table, so it
    /// may run while that is read; but the later the listing, the fewer sockets belong to
    /// processes it missed.
    ///
    /// Fails only when `/proc` itself cannot be listed.
    pub fn begin(&mut self) -> io::Result<Pending> {
        self.generation += 1;
        let listing = list_processes()?;
        let (fresh, gone) = self.reconcile(&listing);
        let full = self.full_scan_due();
        if full {
            self.last_full_scan = Some(Instant::now());
        }
        let to_read: Vec<u32> = if full {
            listing.iter().map(|(pid, _)| *pid).collect()
        } else {
            fresh.keys().copied().collect()
        };
        let mut tables = Vec::with_capacity(to_read.len());
        for (pid, stat, table) in read_processes(&to_read, &fresh) {
            if let Some(&dir_inode) = fresh.get(&pid) {
                self.processes.insert(
                    pid,
                    Process {
                        dir_inode,
                        start_time: stat.as_ref().map(|s| s.start_ticks),
                        parent: stat.and_then(|s| s.parent),
                        uid: None,
                        fd_count: None,
                        last_new_socket: 0,
                        sockets: 0,
                    },
                );
            }
            tables.push((pid, table));
        }
        Ok(Pending {
            tables,
            fresh: fresh.into_keys().collect(),
            gone,
            full,
        })
    }

    /// Second half of an update, given this poll's sockets as `(inode, cookie, uid)`: attribute what
    /// [`begin`](Self::begin) read, then look for the sockets still unknown.
    ///
    /// Before a search through every process's open files, `gone` is asked which of the
    /// unknown sockets (by inode) have closed since the socket table was taken: on a busy
    /// machine many short-lived sockets do, and no search could find their owners. Those are
    /// not searched for and come back in [`Finished::closed`].
    pub fn finish(
        &mut self,
        pending: Pending,
        sockets: impl IntoIterator<Item = (u64, u64, u32)>,
        gone: impl FnOnce(&[u64]) -> Vec<u64>,
    ) -> Finished {
        let now = self.generation;
        // The sockets a search found nobody for: a full scan need not send them through one
        // more search.
        let mut searched_before: IdMap<u64, u64> = IdMap::default();
        if pending.full {
            searched_before.extend(
                self.holders
                    .iter()
                    .filter(|(_, held)| held.pids.is_empty())
                    .map(|(inode, held)| (*inode, held.ident.cookie)),
            );
            self.holders.clear();
        }
        // Mark every inode the table lists; those not in the map are unknown. From here on,
        // an inode is in the table if and only if it is in `holders` or in `unknown`.
        let mut unknown: IdMap<u64, Ident> = IdMap::default();
        for (inode, cookie, uid) in sockets {
            if inode == 0 {
                continue;
            }
            let ident = Ident { uid, cookie };
            match self.holders.get_mut(&inode) {
                Some(held) if held.ident.cookie == cookie => held.seen = now,
                // Another socket under a number the cache knew: what it knew is void.
                Some(_) => {
                    self.holders.remove(&inode);
                    unknown.insert(inode, ident);
                }
                None => {
                    unknown.insert(inode, ident);
                }
            }
        }
        self.holders.retain(|_, held| held.seen == now);

        let mut closed = Vec::new();
        let mut read: IdSet<u32> = pending.tables.iter().map(|(pid, _)| *pid).collect();
        let mut found_in_new = Vec::new();
        for (pid, table) in pending.tables {
            if self.record(pid, table, &mut unknown) {
                found_in_new.push(pid);
            }
        }
        if pending.full {
            // A process read while the socket table was being taken may have opened a socket
            // since: read again those whose number of open files changed.
            if !unknown.is_empty() {
                let changed: Vec<u32> = self
                    .processes
                    .keys()
                    .copied()
                    .filter(|pid| self.fd_count_changed(*pid))
                    .collect();
                self.reread(&changed, &mut unknown);
            }
        } else {
            // A new socket in a new process may come from its parent, opened before the fork.
            let mut again: Vec<u32> = found_in_new
                .iter()
                .filter_map(|pid| self.processes.get(pid)?.parent)
                .filter(|parent| self.processes.contains_key(parent) && read.insert(*parent))
                .collect();
            // A holder of a shared socket may have closed its copy.
            for pid in self.shared_holders_changed(&read) {
                read.insert(pid);
                again.push(pid);
            }
            self.reread(&again, &mut unknown);
            if !unknown.is_empty() {
                let inodes: Vec<u64> = unknown.keys().copied().collect();
                closed = gone(&inodes);
                for inode in &closed {
                    unknown.remove(inode);
                }
            }
            if !unknown.is_empty() {
                self.search(&mut unknown, &read);
            }
        }
        // A full scan read most processes before the socket table was taken, and one of them
        // may have opened a socket since; where the kernel does not count open files, or a
        // process opened one file and closed another meanwhile, nothing above saw that. Those
        // sockets are left unknown, so the next update searches for them once more, as it
        // does for any new socket — except those an earlier search already found nobody for.
        if pending.full {
            for (inode, ident) in unknown {
                if searched_before.get(&inode) == Some(&ident.cookie) {
                    self.holders.insert(inode, Held::nobody(ident, now));
                }
            }
            return Finished {
                exited: pending.gone,
                closed,
            };
        }
        // Nobody found: not searched for again until a new process shows it or a full scan.
        for (inode, ident) in unknown {
            self.holders.insert(inode, Held::nobody(ident, now));
        }
        Finished {
            exited: pending.gone,
            closed,
        }
    }

    /// Compare the `/proc` listing with the processes known so far. Returns the new processes
    /// with the inodes of their `/proc` directories, and the PIDs of the processes that
    /// exited, ascending (a reused PID is both).
    fn reconcile(&mut self, listing: &[(u32, u64)]) -> (IdMap<u32, u64>, Vec<u32>) {
        let mut present = IdSet::with_capacity_and_hasher(listing.len(), Default::default());
        let mut fresh = IdMap::default();
        let mut gone = Vec::new();
        for &(pid, dir_inode) in listing {
            present.insert(pid);
            match self.processes.get_mut(&pid) {
                None => {
                    fresh.insert(pid, dir_inode);
                }
                Some(known) if known.dir_inode == dir_inode => {}
                Some(known) => match read_stat(pid) {
                    Some(stat) if Some(stat.start_ticks) == known.start_time => {
                        known.dir_inode = dir_inode;
                    }
                    // Another process under the same PID (or gone while we looked).
                    _ => {
                        gone.push(pid);
                        fresh.insert(pid, dir_inode);
                    }
                },
            }
        }
        gone.extend(self.processes.keys().filter(|pid| !present.contains(*pid)));
        gone.sort_unstable();
        for pid in &gone {
            self.processes.remove(pid);
        }
        if !gone.is_empty() {
            // A socket left without a known holder is looked for again.
            self.holders
                .retain(|_, held| held.drop_pids(|pid| gone.binary_search(&pid).is_ok()));
        }
        (fresh, gone)
    }

    /// Processes not in `read` that hold a socket together with another process and no longer
    /// have it open at the file descriptor they were found with, ascending: they may have
    /// closed their copy. One `readlink` each; counting a process's open files (the size of
    /// `/proc/PID/fd`) would miss a copy closed while another file was opened, and older
    /// kernels do not count them at all.
    fn shared_holders_changed(&self, read: &IdSet<u32>) -> Vec<u32> {
        let mut changed: Vec<u32> = Vec::new();
        for (inode, held) in self.holders.iter().filter(|(_, held)| held.pids.len() > 1) {
            for (&pid, &fd) in held.pids.iter().zip(&held.fds) {
                if !read.contains(&pid) && !changed.contains(&pid) && !holds_at(pid, fd, *inode) {
                    changed.push(pid);
                }
            }
        }
        changed.sort_unstable();
        changed
    }

    /// Whether process `pid` has more or fewer open files than when it was last read. Always
    /// false where the kernel does not count them.
    fn fd_count_changed(&self, pid: u32) -> bool {
        let before = self.processes.get(&pid).and_then(|p| p.fd_count);
        before.is_some() && fd_dir(pid).count != before
    }

    /// Read processes already known again: what they hold now replaces what they held. A
    /// socket left with no known holder becomes unknown: someone else holds it, or it would
    /// not be in the table.
    fn reread(&mut self, pids: &[u32], unknown: &mut IdMap<u64, Ident>) {
        if pids.is_empty() {
            return;
        }
        let tables: Vec<(u32, FdTable)> = read_processes(pids, &IdMap::default())
            .into_iter()
            .map(|(pid, _, table)| (pid, table))
            .collect();
        let now: IdMap<u32, IdSet<u64>> = tables
            .iter()
            .map(|(pid, table)| {
                (
                    *pid,
                    table.sockets.iter().map(|(inode, _)| *inode).collect(),
                )
            })
            .collect();
        self.holders.retain(|inode, held| {
            let kept =
                held.drop_pids(|pid| now.get(&pid).is_some_and(|open| !open.contains(inode)));
            if !kept {
                unknown.insert(*inode, held.ident);
            }
            kept
        });
        for (pid, table) in tables {
            self.record(pid, table, unknown);
        }
    }

    /// Look for the `unknown` sockets in the processes not read yet, likeliest first, until
    /// every one is found or every process has been read.
    fn search(&mut self, unknown: &mut IdMap<u64, Ident>, read: &IdSet<u32>) {
        let uids: IdSet<u32> = unknown.values().map(|ident| ident.uid).collect();
        let holding: IdSet<u32> = self
            .holders
            .values()
            .flat_map(|held| held.pids.iter().copied())
            .collect();
        let mut order: Vec<(u8, Reverse<u64>, usize, u32)> = self
            .processes
            .iter()
            .filter(|(pid, _)| !read.contains(*pid))
            .map(|(pid, p)| {
                let same_user = p.uid.is_some_and(|uid| uids.contains(&uid));
                let tier = match (holding.contains(pid), same_user) {
                    (true, true) => 0,
                    (false, true) => 1,
                    (true, false) => 2,
                    (false, false) => 3,
                };
                (tier, Reverse(p.last_new_socket), p.sockets, *pid)
            })
            .collect();
        order.sort_unstable();
        for (.., pid) in order {
            if unknown.is_empty() {
                break;
            }
            let table = read_fd_table(pid, fd_dir(pid));
            self.record(pid, table, unknown);
        }
    }

    /// Note the sockets process `pid` holds. Returns whether one of them was in `unknown`.
    fn record(&mut self, pid: u32, table: FdTable, unknown: &mut IdMap<u64, Ident>) -> bool {
        let mut found_unknown = false;
        for &(inode, fd) in &table.sockets {
            if let Some(held) = self.holders.get_mut(&inode) {
                match held.pids.binary_search(&pid) {
                    Ok(at) => held.fds[at] = fd,
                    Err(at) => {
                        held.pids.insert(at, pid);
                        held.fds.insert(at, fd);
                    }
                }
                continue;
            }
            // Otherwise not a TCP or UDP socket, or not in this poll's table.
            let Some(ident) = unknown.remove(&inode) else {
                continue;
            };
            found_unknown = true;
            let held = Held {
                pids: vec![pid],
                fds: vec![fd],
                ident,
                seen: self.generation,
            };
            self.holders.insert(inode, held);
        }
        if let Some(p) = self.processes.get_mut(&pid) {
            p.fd_count = table.dir.count.filter(|_| self.count_open_files);
            p.uid = table.dir.uid.or(p.uid);
            p.sockets = table.sockets.len();
            if found_unknown {
                p.last_new_socket = self.generation;
            }
        }
        found_unknown
    }

    /// Undo what [`begin`](Self::begin) did not finish, when the socket table could not be
    /// read: the processes it read for the first time are new again at the next update, and a
    /// full scan it started is due again. Returns the PIDs of the processes that exited.
    pub fn abandon(&mut self, pending: Pending) -> Vec<u32> {
        for pid in &pending.fresh {
            self.processes.remove(pid);
        }
        if pending.full {
            self.last_full_scan = None;
        }
        pending.gone
    }

    /// Drop `pid` from every owner list without forgetting the process: for zombies, which
    /// have released their files but still stand in `/proc` until their parent reaps them.
    pub fn forget_holder(&mut self, pid: u32) {
        self.holders.retain(|_, held| held.drop_pids(|p| p == pid));
    }
}

impl Held {
    /// A socket no process was found holding.
    fn nobody(ident: Ident, seen: u64) -> Self {
        Held {
            pids: Vec::new(),
            fds: Vec::new(),
            ident,
            seen,
        }
    }

    /// Remove the PIDs `gone` says are gone. Returns whether the entry is still worth keeping:
    /// not when it lost its last holder, since someone else must hold the socket then.
    fn drop_pids(&mut self, gone: impl Fn(u32) -> bool) -> bool {
        let before = self.pids.len();
        let mut fds = self.fds.iter();
        let mut kept_fds = Vec::with_capacity(self.fds.len());
        self.pids.retain(|pid| {
            let fd = fds.next();
            let keep = !gone(*pid);
            if keep {
                kept_fds.extend(fd);
            }
            keep
        });
        self.fds = kept_fds;
        before == 0 || !self.pids.is_empty()
    }
}

/// Every process in `/proc` with the inode of its directory.
fn list_processes() -> io::Result<Vec<(u32, u64)>> {
    let mut list = Vec::new();
    for entry in fs::read_dir("/proc")? {
        // An entry that vanished mid-listing is a process that exited.
        let Ok(entry) = entry else { continue };
        if let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) {
            list.push((pid, entry.ino()));
        }
    }
    Ok(list)
}

/// What the cache needs of `/proc/PID/stat`; `None` when it cannot be read.
fn read_stat(pid: u32) -> Option<Stat> {
    procfs::read_stat(pid).ok().flatten()
}

/// What `stat` says of a process's `/proc/PID/fd`.
#[derive(Clone, Copy, Debug, Default)]
struct FdDir {
    /// Number of open files, as the kernel counts them (Linux 6.2 and later).
    count: Option<u64>,
    /// The directory's owner: the process's effective uid.
    uid: Option<u32>,
}

/// What a process had open when it was read.
#[derive(Debug)]
struct FdTable {
    /// Taken before reading the files.
    dir: FdDir,
    /// Inodes of its sockets, of every kind, each with a file descriptor it is open at.
    sockets: Vec<(u64, u32)>,
}

/// Read the open files of every process in `pids`, and the `stat` of those in `fresh`; on
/// several threads when there are many.
fn read_processes(pids: &[u32], fresh: &IdMap<u32, u64>) -> Vec<(u32, Option<Stat>, FdTable)> {
    let read_one = |pid: u32, dir: FdDir| {
        let stat = if fresh.contains_key(&pid) {
            read_stat(pid)
        } else {
            None
        };
        (pid, stat, read_fd_table(pid, dir))
    };
    let threads = if pids.len() < PARALLEL_FROM {
        1
    } else {
        thread::available_parallelism().map_or(1, usize::from)
    };
    if threads < 2 {
        return pids
            .iter()
            .map(|pid| read_one(*pid, fd_dir(*pid)))
            .collect();
    }
    // Largest first: a big one left for the end would keep one thread busy alone.
    let mut queue: Vec<(u32, FdDir)> = pids.iter().map(|pid| (*pid, fd_dir(*pid))).collect();
    queue.sort_unstable_by_key(|(_, dir)| Reverse(dir.count));
    let next = AtomicUsize::new(0);
    let work = || {
        let mut out = Vec::new();
        while let Some(&(pid, dir)) = queue.get(next.fetch_add(1, Ordering::Relaxed)) {
            out.push(read_one(pid, dir));
        }
        out
    };
    thread::scope(|scope| {
        // A thread that cannot be started leaves its share to the others.
        let helpers: Vec<_> = (1..threads.min(MAX_THREADS))
            .filter_map(|_| thread::Builder::new().spawn_scoped(scope, work).ok())
            .collect();
        let mut all = work();
        for helper in helpers {
            match helper.join() {
                Ok(part) => all.extend(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        all
    })
}

/// The count and owner of `/proc/PID/fd`. Its size is the number of open files on Linux 6.2
/// and later, and 0 before.
fn fd_dir(pid: u32) -> FdDir {
    match fs::metadata(format!("/proc/{pid}/fd")) {
        Ok(meta) => FdDir {
            count: Some(meta.size()).filter(|n| *n > 0),
            uid: Some(meta.uid()),
        },
        Err(_) => FdDir::default(),
    }
}

/// The sockets process `pid` has open, with what `fd_dir` said of it. Empty when its
/// open files cannot be read (it exited, or the system does not show them to us).
fn read_fd_table(pid: u32, dir: FdDir) -> FdTable {
    let mut table = FdTable {
        dir,
        sockets: Vec::new(),
    };
    let path = format!("/proc/{pid}/fd");
    let (Ok(entries), Ok(dir)) = (fs::read_dir(&path), fs::File::open(&path)) else {
        return table;
    };
    let mut name = Vec::new();
    let mut link = [0; LINK_MAX];
    for entry in entries.flatten() {
        name.clear();
        name.extend_from_slice(entry.file_name().as_bytes());
        name.push(0);
        let Ok(name) = CStr::from_bytes_with_nul(&name) else {
            continue;
        };
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        // An fd closed since the listing, or one we may not read, is skipped.
        if let Some(inode) = read_link_at(&dir, name, &mut link).and_then(socket_inode) {
            table.sockets.push((inode, fd));
        }
    }
    table
}

/// Whether process `pid` still has socket `inode` open as file descriptor `fd`.
fn holds_at(pid: u32, fd: u32, inode: u64) -> bool {
    fs::read_link(format!("/proc/{pid}/fd/{fd}"))
        .ok()
        .and_then(|link| socket_inode(link.as_os_str().as_bytes()))
        == Some(inode)
}

/// Room for a socket's fd link text; longer links (file paths) are cut, which is harmless as
/// only socket links matter.
const LINK_MAX: usize = 64;

/// The target of the symbolic link `name` in the directory `dir`, cut to `buf`'s length.
/// Resolving one name in an open directory, instead of a whole `/proc/PID/fd/N` path, makes
/// this about a third cheaper — it runs once for every open file of every process read.
fn read_link_at<'b>(dir: &fs::File, name: &CStr, buf: &'b mut [u8; LINK_MAX]) -> Option<&'b [u8]> {
    // SAFETY: `dir` is an open file descriptor for the call's duration, `name` is
    // NUL-terminated, and the kernel writes at most `buf.len()` bytes to `buf`.
    let len = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    // -1 is an error; anything else is the number of bytes written.
    buf.get(..usize::try_from(len).ok()?)
}

/// The inode in a socket's fd link text, `socket:[12345]`.
fn socket_inode(link: &[u8]) -> Option<u64> {
    let digits = link.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;
type IdSet<K> = HashSet<K, BuildHasherDefault<IdHasher>>;

/// A hasher for the kernel's integer ids (inodes, PIDs): one multiplication per key. The ids
/// are handed out by the kernel in sequence, not chosen by whoever opens sockets, so SipHash's
/// defence against crafted keys buys nothing here, and with tens of thousands of sockets it
/// would cost more than the rest of a poll's bookkeeping.
#[derive(Clone, Copy, Debug, Default)]
struct IdHasher(u64);

impl IdHasher {
    fn add(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.add(u64::from(*byte));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_socket_links_name_an_inode() {
        assert_eq!(socket_inode(b"socket:[12345]"), Some(12_345));
        assert_eq!(socket_inode(b"pipe:[12345]"), None);
        assert_eq!(socket_inode(b"/dev/null"), None);
        assert_eq!(socket_inode(b"socket:[]"), None);
        assert_eq!(socket_inode(b"socket:[12"), None);
    }

    #[test]
    fn this_process_is_listed_with_its_open_files() {
        let me = std::process::id();
        let list = list_processes().expect("/proc lists");
        assert!(list.iter().any(|(pid, _)| *pid == me));
        let stat = read_stat(me).expect("our own stat");
        assert!(stat.parent.is_some());
        let table = read_fd_table(me, fd_dir(me));
        assert!(table.dir.uid.is_some());
    }

    #[test]
    fn a_socket_of_this_process_is_found_and_forgotten() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let me = std::process::id();
        // Only the test's own socket: other tests open and close theirs meanwhile.
        let mine = vec![inode_of(&listener)];
        let table = read_fd_table(me, fd_dir(me));
        assert!(table.sockets.iter().any(|(inode, _)| *inode == mine[0]));
        // Pretend every socket of this process is in the table, owned by uid 0.
        let mut cache = OwnerCache::new(Duration::from_secs(3600));
        let pending = cache.begin().expect("/proc lists");
        cache.finish(pending, mine.iter().map(|inode| (*inode, 1, 0)), |_| {
            Vec::new()
        });
        for inode in &mine {
            assert!(cache.holders(*inode).contains(&me));
        }
        cache.forget_holder(me);
        assert!(
            mine.iter()
                .all(|inode| !cache.holders(*inode).contains(&me))
        );
        drop(listener);
    }

    #[test]
    fn sockets_closed_before_the_search_are_not_searched_for() {
        let me = std::process::id();
        let uid = fd_dir(me).uid.unwrap();
        let mut cache = OwnerCache::new(Duration::from_secs(3600));
        let pending = cache.begin().expect("/proc lists");
        cache.finish(pending, [], |_| panic!("nothing is unknown"));
        // A socket opened since the full scan, and an inode nobody holds (closed meanwhile).
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let (open, closed) = (inode_of(&listener), u64::from(u32::MAX) + 7);
        let pending = cache.begin().expect("/proc lists");
        let mut asked = Vec::new();
        let finished = cache.finish(pending, [(open, 1, uid), (closed, 2, uid)], |inodes| {
            asked = inodes.to_vec();
            vec![closed]
        });
        asked.sort_unstable();
        assert_eq!(asked, vec![open, closed]);
        assert_eq!(finished.closed, vec![closed]);
        assert!(cache.holders(open).contains(&me));
        // Not remembered as a socket nobody holds: were it listed again, it would be looked
        // for again.
        assert!(!cache.holders.contains_key(&closed));
    }

    #[test]
    fn a_socket_no_search_could_find_is_not_searched_for_after_every_full_scan() {
        let me = std::process::id();
        let uid = fd_dir(me).uid.unwrap();
        // Inodes no process holds: sockets in another PID namespace look like this.
        let (nobody, later) = (u64::from(u32::MAX) + 11, u64::from(u32::MAX) + 12);
        for counts in [true, false] {
            let mut cache = OwnerCache::new(Duration::from_secs(3600));
            if !counts {
                cache = cache.without_open_file_counts();
            }
            let pending = cache.begin().expect("/proc lists");
            cache.finish(pending, [(nobody, 1, uid)], |_| Vec::new());
            // A full scan may have missed it while it ran: one more search.
            let mut asked = Vec::new();
            let pending = cache.begin().expect("/proc lists");
            cache.finish(pending, [(nobody, 1, uid)], |inodes| {
                asked = inodes.to_vec();
                Vec::new()
            });
            assert_eq!(asked, vec![nobody]);
            // The next full scan finds nobody for it again, and for a socket new since.
            cache.last_full_scan = None;
            let pending = cache.begin().expect("/proc lists");
            cache.finish(pending, [(nobody, 1, uid), (later, 2, uid)], |_| Vec::new());
            // Only the new one gets one more search.
            let pending = cache.begin().expect("/proc lists");
            cache.finish(pending, [(nobody, 1, uid), (later, 2, uid)], |inodes| {
                asked = inodes.to_vec();
                Vec::new()
            });
            assert_eq!(asked, vec![later], "counting open files: {counts}");
        }
    }

    #[test]
    fn an_inode_listed_with_another_cookie_is_another_socket() {
        let me = std::process::id();
        let uid = fd_dir(me).uid.unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let inode = inode_of(&listener);
        let mut cache = OwnerCache::new(Duration::from_secs(3600));
        let pending = cache.begin().expect("/proc lists");
        cache.finish(pending, [(inode, 5, uid)], |_| Vec::new());
        assert!(cache.holders(inode).contains(&me));
        // Same cookie: known, nothing to look for.
        let pending = cache.begin().expect("/proc lists");
        cache.finish(pending, [(inode, 5, uid)], |_| panic!("nothing is unknown"));
        // Another cookie under that inode: what was known of it is void, and it is looked for.
        let pending = cache.begin().expect("/proc lists");
        let mut asked = Vec::new();
        cache.finish(pending, [(inode, 6, uid)], |inodes| {
            asked = inodes.to_vec();
            Vec::new()
        });
        assert_eq!(asked, vec![inode]);
        assert!(cache.holders(inode).contains(&me));
    }

    /// The inode of a socket this process holds open as `fd`.
    fn inode_of(fd: &impl AsRawFd) -> u64 {
        let link = fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
        socket_inode(link.as_os_str().as_bytes()).unwrap()
    }

    #[test]
    fn a_socket_opened_during_a_full_scan_has_its_owner_at_the_next_update() {
        let me = std::process::id();
        let uid = fd_dir(me).uid.unwrap();
        for counts in [true, false] {
            let mut cache = OwnerCache::new(Duration::from_secs(3600));
            if !counts {
                cache = cache.without_open_file_counts();
            }
            let pending = cache.begin().expect("/proc lists");
            assert!(pending.full);
            // Opened after this process's files were read, before the socket table is taken.
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            let inode = inode_of(&listener);
            cache.finish(pending, [(inode, 1, uid)], |_| Vec::new());
            let pending = cache.begin().expect("/proc lists");
            assert!(!pending.full);
            cache.finish(pending, [(inode, 1, uid)], |_| Vec::new());
            assert_eq!(cache.holders(inode), [me], "counting open files: {counts}");
        }
    }

    #[test]
    fn a_holder_closing_its_copy_of_a_shared_socket_shows_at_the_next_update() {
        use std::os::unix::process::CommandExt;
        let me = std::process::id();
        let uid = fd_dir(me).uid.unwrap();
        for counts in [true, false] {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            let inode = inode_of(&listener);
            let fd = listener.as_raw_fd();
            let mut command = std::process::Command::new("sleep");
            command.arg("60");
            // SAFETY: only `fcntl`, async-signal-safe, runs between fork and exec.
            unsafe {
                command.pre_exec(move || {
                    if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                        return Err(io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            let mut child = command.spawn().expect("sleep starts");
            let mut cache = OwnerCache::new(Duration::from_secs(3600));
            if !counts {
                cache = cache.without_open_file_counts();
            }
            let update = |cache: &mut OwnerCache| {
                let pending = cache.begin().expect("/proc lists");
                cache.finish(pending, [(inode, 1, uid)], |_| Vec::new());
            };
            update(&mut cache);
            let mut both = vec![me, child.id()];
            both.sort_unstable();
            assert_eq!(cache.holders(inode), both, "counting open files: {counts}");
            drop(listener);
            update(&mut cache);
            assert_eq!(
                cache.holders(inode),
                [child.id()],
                "counting open files: {counts}"
            );
            child.kill().expect("kill");
            child.wait().expect("reap");
        }
    }

    #[test]
    fn ids_hash_apart() {
        let hash = |n: u64| {
            let mut h = IdHasher::default();
            h.write_u64(n);
            h.finish()
        };
        let hashes: HashSet<u64> = (0..10_000).map(hash).collect();
        assert_eq!(hashes.len(), 10_000);
    }
}
