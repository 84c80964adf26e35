//! Change tracking: which sockets just appeared, which changed state, which just closed, and
//! a bounded list of the ones that are gone.
//!
//! Connections from the dynamic port range often live for a fraction of a second: by the time
//! someone looks, the socket is gone. A table that only shows the latest poll hides exactly
//! the sockets worth asking about. So, like TCPView, the table marks what appeared or changed
//! state for a moment, keeps what vanished as a "closing" row for a moment, and then files it
//! in a "recently closed" list together with the processes that held it. Those processes are
//! captured while the socket is alive, because once it has closed nothing on the system
//! remembers who owned it.
//!
//! The tracker is pure: it is fed every snapshot in order with the instant it arrived, and
//! asked what to show. It never reads a clock, so tests script time freely and the window can
//! ask when the next mark expires ([`ChangeTracker::next_deadline`]) instead of repainting
//! on a timer.
//!
//! Identity is [`SocketKey`], which has no state: a connection going SYN_SENT → ESTABLISHED →
//! CLOSE_WAIT keeps its key and is marked as changed, not as closed and reopened. One exception
//! needs care. On Linux the key includes the socket's inode, and when a process closes a
//! connection the kernel replaces the socket (inode N) by a TIME_WAIT or orphaned entry with
//! inode 0 and the same addresses. Within one update, an inode-0 socket that appears where a
//! socket with the same protocol and addresses vanished is taken to be that connection in its
//! next state; it keeps its history and the processes that held it.
//!
//! Cost: a poll may list 100,000 sockets, several times a second. Snapshots are shared
//! (`Arc`), so for a live socket the tracker keeps its position in the current snapshot rather
//! than a copy, and copies a socket only once it has closed. The OS lists its sockets in much
//! the same order every time, so an update first compares each socket with the one that
//! followed the last match in the previous snapshot and hashes only where that fails: an
//! update in which little changed does no hashing at all. Process details are shared between
//! the sockets of a process and copied only when they change.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::hash::BuildHasher;
use std::mem;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use hashbrown::HashTable;
use serde::{Deserialize, Serialize, Serializer};
use smallvec::SmallVec;

use super::{FastHash, ProcessInfo, Proto, Snapshot, SockState, Socket, SocketKey};

/// How long marks and closed sockets are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrackerConfig {
    /// How long a socket that appeared stays marked [`Mark::New`].
    pub new_for: Duration,
    /// How long a socket whose state changed stays marked [`Mark::StateChanged`].
    pub changed_for: Duration,
    /// How long a socket that vanished stays in the table as a [`Mark::Closing`] row before
    /// it moves to the history.
    pub linger: Duration,
    /// How long a closed socket stays in the history.
    pub keep_for: Duration,
    /// At most this many closed sockets are kept; the oldest go first.
    pub max_closed: usize,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            new_for: Duration::from_secs(2),
            changed_for: Duration::from_secs(2),
            linger: Duration::from_secs(2),
            keep_for: Duration::from_secs(10 * 60),
            max_closed: 5_000,
        }
    }
}

/// How a row of the table is highlighted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// The socket appeared since the snapshot before (green in TCPView).
    New,
    /// The socket is still there but its state changed (yellow).
    StateChanged { from: SockState },
    /// The socket is gone; the row stays for a moment so the eye can catch it (red).
    Closing,
}

/// A point in time, both for arithmetic (`at`, this run only) and for people and files
/// (`wall`, the time the snapshot was taken). Serialized as seconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Moment {
    pub at: Instant,
    pub wall: SystemTime,
}

impl Moment {
    /// Seconds since the Unix epoch, to the millisecond; negative before 1970.
    pub fn unix_seconds(&self) -> f64 {
        match self.wall.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(d) => d.as_millis() as f64 / 1000.0,
            Err(e) => -(e.duration().as_millis() as f64 / 1000.0),
        }
    }
}

impl Serialize for Moment {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.unix_seconds())
    }
}

/// When a socket was first seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Appeared {
    /// It was already there in the first snapshot: it was opened before portscope started
    /// watching, at an unknown time.
    BeforeStart,
    /// First seen in the snapshot taken at this moment (it opened after the one before).
    At(Moment),
}

impl Appeared {
    pub fn moment(self) -> Option<Moment> {
        match self {
            Appeared::BeforeStart => None,
            Appeared::At(m) => Some(m),
        }
    }
}

/// A process that held a socket, with what was known of it while the socket was alive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerProcess {
    pub pid: u32,
    /// `None` when no snapshot described the process (it exited before it could be read).
    pub info: Option<Arc<ProcessInfo>>,
}

/// A socket that is gone: as a lingering row of the table and as an entry of the history.
#[derive(Clone, Debug, PartialEq)]
pub struct ClosedSocket {
    /// The socket as last seen.
    pub socket: Socket,
    /// The processes that last held it. For a connection its process had already closed
    /// (TIME_WAIT) these are the processes that held it before.
    pub owners: Vec<OwnerProcess>,
    /// Every state it was seen in.
    pub states: StateTrail,
    pub appeared: Appeared,
    /// The last snapshot it was in.
    pub last_seen: Moment,
    /// The first snapshot it was missing from: it closed between `last_seen` and this.
    pub gone: Moment,
    /// The user named by the socket's uid, kept only when no owner's user is known.
    uid_user: Option<String>,
}

impl ClosedSocket {
    pub fn key(&self) -> SocketKey {
        self.socket.key()
    }

    /// The user it belonged to: its processes' user, else the one its uid names.
    pub fn user(&self) -> Option<&str> {
        self.owners
            .iter()
            .find_map(|o| o.info.as_ref().and_then(|p| p.user.as_deref()))
            .or(self.uid_user.as_deref())
    }

    /// Names of the owning processes, like the table's process column.
    pub fn process_label(&self) -> String {
        if self.owners.is_empty() {
            return "(owner not seen)".to_owned();
        }
        self.owners
            .iter()
            .map(|o| {
                o.info
                    .as_ref()
                    .map_or_else(|| format!("pid {}", o.pid), |p| p.name.clone())
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// How long it was seen for; `None` when it was already there at the start.
    pub fn seen_for(&self) -> Option<Duration> {
        self.appeared
            .moment()
            .map(|m| self.last_seen.at.saturating_duration_since(m.at))
    }
}

impl Serialize for ClosedSocket {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        /// The flat record written to files.
        #[derive(Serialize)]
        struct Record<'a> {
            proto: Proto,
            local_addr: IpAddr,
            local_port: u16,
            remote_addr: Option<IpAddr>,
            remote_port: Option<u16>,
            /// The state it was last seen in.
            state: SockState,
            states: &'a StateTrail,
            /// The processes that last held it (see `ClosedSocket::owners`).
            pids: Vec<u32>,
            processes: Vec<&'a ProcessInfo>,
            user: Option<&'a str>,
            uid: Option<u32>,
            inode: Option<u32>,
            /// It was there when portscope started: `first_seen` is then unknown.
            present_at_start: bool,
            first_seen: Option<Moment>,
            last_seen: Moment,
            gone_by: Moment,
        }
        let sock = &self.socket;
        Record {
            proto: sock.proto,
            local_addr: sock.local_addr,
            local_port: sock.local_port,
            remote_addr: sock.remote_addr,
            remote_port: sock.remote_port,
            state: sock.state,
            states: &self.states,
            pids: self.owners.iter().map(|o| o.pid).collect(),
            processes: self
                .owners
                .iter()
                .filter_map(|o| o.info.as_deref())
                .collect(),
            user: self.user(),
            uid: sock.uid,
            inode: sock.inode,
            present_at_start: self.appeared == Appeared::BeforeStart,
            first_seen: self.appeared.moment(),
            last_seen: self.last_seen,
            gone_by: self.gone,
        }
        .serialize(s)
    }
}

/// What one update found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub new: usize,
    pub changed: usize,
    pub closed: usize,
}

/// The closed sockets the table shows for a moment after they went (red rows), kept apart
/// from the poll: counts, marks, gauges, panels and exports read the poll alone.
#[derive(Clone, Debug, Default)]
pub struct Closing {
    /// Tells sets apart: a new value whenever a row came or went (0: the empty start).
    pub seq: u64,
    /// The rows as a table of their own, so they sort and filter like the poll's: each socket
    /// as last seen, the processes that held it (captured while it was alive), the users
    /// their uids name, and the poll's viewer and ephemeral range. Never counted as live.
    pub table: Arc<Snapshot>,
    /// When each went: `gone[i]` is for `table.sockets[i]`.
    pub gone: Vec<Moment>,
}

impl Closing {
    fn of(seq: u64, lingering: &[ClosedSocket], poll: Option<&Snapshot>) -> Closing {
        let mut table = Snapshot {
            seq,
            sockets: Vec::with_capacity(lingering.len()),
            ..Snapshot::default()
        };
        if let Some(poll) = poll {
            table.viewer = poll.viewer;
            table.ephemeral = poll.ephemeral.clone();
            table.taken_at = poll.taken_at;
            table.users = poll.users.clone();
        }
        for closed in lingering {
            table.sockets.push(closed.socket.clone());
            for owner in &closed.owners {
                if let Some(info) = &owner.info {
                    table
                        .processes
                        .entry(owner.pid)
                        .or_insert_with(|| ProcessInfo::clone(info));
                }
            }
            if let (Some(uid), Some(user)) = (closed.socket.uid, &closed.uid_user) {
                table.users.entry(uid).or_insert_with(|| user.clone());
            }
        }
        Closing {
            seq,
            table: Arc::new(table),
            gone: lingering.iter().map(|c| c.gone).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.table.sockets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.sockets.is_empty()
    }
}

/// Follows sockets from snapshot to snapshot: marks for the table, lingering closed rows,
/// and the history of closed sockets. See the module documentation.
#[derive(Debug, Default)]
pub struct ChangeTracker {
    config: TrackerConfig,
    /// The last snapshot taken in; live sockets index into it.
    current: Option<Arc<Snapshot>>,
    /// When `current` arrived.
    current_at: Option<Moment>,
    /// Counts accepted snapshots; a live socket carries the count of the last one it was in.
    stamp: u64,
    live: Live,
    processes: ProcessCache,
    marked: MarkQueue,
    /// Closed sockets still shown in the table, oldest first.
    lingering: Vec<ClosedSocket>,
    /// The keys of `lingering`.
    lingering_keys: KeySet,
    /// Counts the changes to `lingering`: what [`Closing::seq`] is made of.
    lingering_seq: u64,
    /// `lingering` as the table takes it, built when first asked for after a change.
    closing_rows: Option<Arc<Closing>>,
    /// Closed sockets past their linger, oldest first.
    history: VecDeque<ClosedSocket>,
}

impl ChangeTracker {
    pub fn new(config: TrackerConfig) -> Self {
        ChangeTracker {
            config,
            ..ChangeTracker::default()
        }
    }

    pub fn config(&self) -> &TrackerConfig {
        &self.config
    }

    /// Applies to existing marks and entries too; the age limits take effect at the next
    /// [`tick`](Self::tick), the count limit at once.
    pub fn set_config(&mut self, config: TrackerConfig) {
        self.config = config;
        self.marked.reschedule(&self.live, &self.config);
        self.trim_history_count();
    }

    /// Take in the next snapshot, which arrived at `now`, and expire what is due.
    ///
    /// Feeding the same snapshot again is a cheap no-op, so the window may call this every
    /// frame with the newest snapshot it holds. Snapshots that carry an `error` repeat the
    /// last good poll and are skipped, as is the empty placeholder with `seq` 0. One that the
    /// collector marks as repeating its predecessor (`content_seq`) costs next to nothing.
    pub fn update(&mut self, snapshot: &Arc<Snapshot>, now: Instant) -> Changes {
        // What expired before this snapshot came is gone whether or not the window ticked.
        self.tick(now);
        if !self.accepts(snapshot) {
            return Changes::default();
        }
        let moment = Moment {
            at: now,
            wall: snapshot.taken_at,
        };
        let first = self.current.is_none();
        let previous = self.current.replace(Arc::clone(snapshot));
        let last_seen = self.current_at.replace(moment);
        if let Some(previous) = &previous
            && repeats(snapshot, previous)
        {
            // Every socket is where it was: they were all seen again, nothing else changed.
            return Changes::default();
        }
        self.stamp += 1;
        let stamp = self.stamp;
        // Every record marked or first seen now refers to this one moment.
        let shared = Arc::new(moment);
        self.processes.refresh(&snapshot.processes, stamp);
        let mut changes = Changes::default();

        // Sockets already known: note where they are now and whether their state changed.
        // `found` tells, by position in the previous snapshot, which of its sockets are still
        // there, so finding the vanished ones needs no pass over every live socket.
        let old: &[Socket] = previous.as_deref().map_or(&[], |p| &p.sockets);
        let old_at = mem::take(&mut self.live.at);
        let mut found = vec![false; old.len()];
        let mut at = Vec::with_capacity(snapshot.sockets.len());
        let mut cursor = 0;
        let mut fresh: Vec<Fresh<'_>> = Vec::new();
        let now_at = |t: &Tracked| snapshot.sockets.get(t.index as usize).map(Socket::key);
        // While this pass runs, records it has reached point into the new snapshot.
        let was_at = |t: &Tracked| {
            let sockets = if t.stamp == stamp {
                &snapshot.sockets[..]
            } else {
                old
            };
            sockets.get(t.index as usize).map(Socket::key)
        };
        for (index, socket) in snapshot.sockets.iter().enumerate() {
            let key = socket.key();
            // The socket table comes in much the same order every time: try the socket after
            // the last one found before hashing.
            let slot = match (old.get(cursor), old_at.get(cursor)) {
                (Some(o), Some(&slot)) if slot != NO_SLOT && o.key() == key => Some(slot),
                _ => self.live.find(&key, was_at),
            };
            match slot.and_then(|slot| self.live.get_mut(slot).map(|t| (slot, t))) {
                None => {
                    fresh.push(Fresh {
                        index,
                        key,
                        socket,
                        origin: Origin::New,
                    });
                    at.push(NO_SLOT);
                }
                // The same key twice in one snapshot: the first one stands for both.
                Some((_, t)) if t.stamp == stamp => at.push(NO_SLOT),
                Some((slot, t)) => {
                    let was = t.index as usize;
                    if let Some(f) = found.get_mut(was) {
                        *f = true;
                    }
                    cursor = was + 1;
                    t.stamp = stamp;
                    t.index = position(index);
                    let from = t.states.last();
                    if from != socket.state {
                        t.states.push(socket.state);
                        let listed = t.mark.is_some();
                        let mark = Mark::StateChanged { from };
                        t.mark = Some((mark, Arc::clone(&shared)));
                        self.marked
                            .note(slot, t.serial, listed, mark, now, &self.config);
                        changes.changed += 1;
                    }
                    t.refresh_owners(&socket.pids, &self.processes);
                    at.push(slot);
                }
            }
        }
        let mut vanished: Vec<(SocketKey, Option<Tracked>)> = Vec::new();
        for ((socket, &found), &slot) in old.iter().zip(&found).zip(&old_at) {
            // A repeated key has no slot; a slot whose socket was found carries this stamp.
            if !found && self.live.get(slot).is_some_and(|t| t.stamp != stamp) {
                let key = socket.key();
                if let Some(t) = self.live.remove(slot, &key) {
                    vanished.push((key, Some(t)));
                }
            }
        }

        let claimed = self.match_fresh(&mut fresh, &vanished);
        if claimed || !vanished.is_empty() {
            self.lingering_seq += 1;
        }
        let mut lingering: Vec<Option<ClosedSocket>> = if claimed {
            mem::take(&mut self.lingering)
                .into_iter()
                .map(Some)
                .collect()
        } else {
            Vec::new()
        };

        // Sockets not known a moment ago: new, or known under another key or as closed.
        self.live.reserve(fresh.len());
        let mut displaced: Vec<SocketKey> = Vec::new();
        for f in &fresh {
            let record = match f.origin {
                Origin::New => {
                    let mut t = Tracked::new(f.index, stamp, f.socket.state);
                    if !first {
                        t.appeared = Some(Arc::clone(&shared));
                        t.mark = Some((Mark::New, Arc::clone(&shared)));
                    }
                    t.refresh_owners(&f.socket.pids, &self.processes);
                    t
                }
                // The same key twice in one snapshot.
                _ if self.live.find(&f.key, now_at).is_some() => continue,
                Origin::Vanished(v) => match vanished.get_mut(v).and_then(|(_, t)| t.take()) {
                    Some(t) => t,
                    None => continue,
                },
                Origin::Back(l) | Origin::Lingering(l) => {
                    match lingering.get_mut(l).and_then(Option::take) {
                        Some(closed) => {
                            self.lingering_keys.remove(&closed.key());
                            Tracked::reopened(closed)
                        }
                        None => continue,
                    }
                }
            };
            let Some((slot, t)) = self.live.insert(f.key, record, now_at) else {
                continue; // The same key twice in one snapshot.
            };
            if !self.lingering_keys.is_empty() && self.lingering_keys.remove(&f.key) {
                // A closed socket with this key still lingers; the live one replaces it.
                displaced.push(f.key);
            }
            if f.origin == Origin::New {
                if !first {
                    changes.new += 1;
                }
            } else {
                t.index = position(f.index);
                t.stamp = stamp;
                let from = t.states.last();
                if from != f.socket.state {
                    t.states.push(f.socket.state);
                    t.mark = Some((Mark::StateChanged { from }, Arc::clone(&shared)));
                    changes.changed += 1;
                }
                t.refresh_owners(&f.socket.pids, &self.processes);
            }
            // A record that moved here lost its place in the queue with its old slot.
            if let Some((mark, since)) = &t.mark {
                self.marked
                    .note(slot, t.serial, false, *mark, since.at, &self.config);
            }
            if let Some(a) = at.get_mut(f.index) {
                *a = slot;
            }
        }
        self.live.at = at;

        // Put back the lingering rows nobody took up, oldest first, then the newly closed.
        if claimed {
            self.lingering.extend(lingering.into_iter().flatten());
        }
        if !displaced.is_empty() {
            self.lingering_seq += 1;
            let displaced: KeySet = displaced.into_iter().collect();
            let (gone, keep): (Vec<_>, Vec<_>) = mem::take(&mut self.lingering)
                .into_iter()
                .partition(|c| displaced.contains(&c.key()));
            self.lingering = keep;
            for closed in gone {
                self.file(closed);
            }
        }
        if let (Some(previous), Some(last_seen)) = (previous.as_deref(), last_seen) {
            self.lingering.reserve(vanished.len());
            self.lingering_keys.reserve(vanished.len());
            for (key, t) in vanished {
                let Some(t) = t else { continue };
                let Some(socket) = previous.sockets.get(t.index as usize) else {
                    continue;
                };
                self.lingering_keys.insert(key);
                self.lingering
                    .push(t.close(socket.clone(), previous, last_seen, moment));
                changes.closed += 1;
            }
        }
        self.tick(now);
        changes
    }

    /// Expire marks, move closed rows past their linger into the history and drop history
    /// entries past their age. The window calls this before drawing.
    pub fn tick(&mut self, now: Instant) {
        let linger = self.config.linger;
        let done = self
            .lingering
            .iter()
            .take_while(|c| now.saturating_duration_since(c.gone.at) >= linger)
            .count();
        if done > 0 {
            self.lingering_seq += 1;
            // Those that would be pushed out by the count limit at once are dropped here.
            let kept = done.min(self.config.max_closed);
            for c in self.lingering.drain(..done - kept) {
                self.lingering_keys.remove(&c.key());
            }
            let closed: Vec<ClosedSocket> = self.lingering.drain(..kept).collect();
            for c in closed {
                self.lingering_keys.remove(&c.key());
                self.file(c);
            }
        }
        let keep_for = self.config.keep_for;
        while self
            .history
            .front()
            .is_some_and(|c| now.saturating_duration_since(c.gone.at) >= keep_for)
        {
            self.history.pop_front();
        }
        self.marked.expire(&mut self.live, now, &self.config);
    }

    /// The earliest instant at which a mark, a lingering row or a history entry expires: when
    /// the window should next repaint if nothing else happens. `None` when nothing will.
    pub fn next_deadline(&self) -> Option<Instant> {
        let linger = self
            .lingering
            .first()
            .and_then(|c| c.gone.at.checked_add(self.config.linger));
        let history = self
            .history
            .front()
            .and_then(|c| c.gone.at.checked_add(self.config.keep_for));
        [self.marked.due, linger, history]
            .into_iter()
            .flatten()
            .min()
    }

    /// How a row is highlighted, for a live socket or a lingering closed one, as of the last
    /// [`update`](Self::update) or [`tick`](Self::tick).
    pub fn mark(&self, key: &SocketKey) -> Option<Mark> {
        match self.live_by_key(key) {
            Some(t) => t.mark.as_ref().map(|(mark, _)| *mark),
            None => self.lingering_keys.contains(key).then_some(Mark::Closing),
        }
    }

    /// Every highlighted row: the marked live sockets, then the lingering closed ones.
    pub fn marks(&self) -> impl Iterator<Item = (SocketKey, Mark)> + '_ {
        let sockets: &[Socket] = self.current.as_deref().map_or(&[], |s| &s.sockets);
        let live = self
            .marked
            .entries
            .iter()
            .filter_map(move |&(slot, serial)| {
                let t = self.live.get(slot).filter(|t| t.serial == serial)?;
                let (mark, _) = t.mark.as_ref()?;
                Some((sockets.get(t.index as usize)?.key(), *mark))
            });
        let closing = self.lingering.iter().map(|c| (c.key(), Mark::Closing));
        live.chain(closing)
    }

    /// When a live socket was first seen.
    pub fn first_seen(&self, key: &SocketKey) -> Option<Appeared> {
        self.live_by_key(key).map(Tracked::appeared)
    }

    /// Closed sockets still shown in the table (as [`Mark::Closing`] rows), oldest first.
    /// Their keys never collide with a live socket's.
    pub fn closing(&self) -> &[ClosedSocket] {
        &self.lingering
    }

    /// Closed sockets past their linger, oldest first.
    pub fn history(&self) -> &VecDeque<ClosedSocket> {
        &self.history
    }

    /// Forget every closed socket, including those still lingering in the table.
    pub fn clear(&mut self) {
        if !self.lingering.is_empty() {
            self.lingering_seq += 1;
        }
        self.lingering.clear();
        self.lingering_keys.clear();
        self.history.clear();
    }

    fn accepts(&self, snapshot: &Arc<Snapshot>) -> bool {
        if snapshot.seq == 0 || snapshot.error.is_some() {
            return false;
        }
        self.current.as_ref().is_none_or(|c| {
            !Arc::ptr_eq(c, snapshot) && (c.seq, c.taken_at) != (snapshot.seq, snapshot.taken_at)
        })
    }

    /// The closed sockets still shown in the table, as rows of their own beside the poll
    /// (which stays exactly what the OS said): each socket as last seen, with the processes
    /// that held it and when it went. Built once per change of the set; `seq` tells sets apart.
    pub fn closing_rows(&mut self) -> Arc<Closing> {
        if let Some(rows) = &self.closing_rows
            && rows.seq == self.lingering_seq
        {
            return Arc::clone(rows);
        }
        let rows = Arc::new(Closing::of(
            self.lingering_seq,
            &self.lingering,
            self.current.as_deref(),
        ));
        self.closing_rows = Some(Arc::clone(&rows));
        rows
    }

    /// The record of a live socket of the current snapshot.
    fn live_by_key(&self, key: &SocketKey) -> Option<&Tracked> {
        let sockets: &[Socket] = self.current.as_deref().map_or(&[], |s| &s.sockets);
        let slot = self
            .live
            .find(key, |t| sockets.get(t.index as usize).map(Socket::key))?;
        self.live.get(slot)
    }

    /// Decide which fresh sockets continue a vanished or lingering one. Returns whether a
    /// lingering row was taken up.
    fn match_fresh(
        &self,
        fresh: &mut [Fresh<'_>],
        vanished: &[(SocketKey, Option<Tracked>)],
    ) -> bool {
        let mut taken = vec![false; self.lingering.len()];
        // A lingering socket that is back under its own key was only missed by a poll.
        if !self.lingering.is_empty() {
            let mut by_key: Option<KeyMap<usize>> = None;
            for f in fresh.iter_mut() {
                if !self.lingering_keys.contains(&f.key) {
                    continue;
                }
                let by_key = by_key.get_or_insert_with(|| {
                    self.lingering
                        .iter()
                        .enumerate()
                        .map(|(l, c)| (c.key(), l))
                        .collect()
                });
                if let Some(&l) = by_key.get(&f.key)
                    && let Some(slot) = taken.get_mut(l)
                    && !*slot
                {
                    *slot = true;
                    f.origin = Origin::Back(l);
                }
            }
        }
        // A connection its process closed: inode N vanished, inode 0 with the same addresses
        // appeared (TIME_WAIT, or an orphan finishing the close).
        if !vanished.is_empty() || !self.lingering.is_empty() {
            let successors: KeyMap<usize> = fresh
                .iter()
                .enumerate()
                .filter(|(_, f)| f.origin == Origin::New && f.key.inode == Some(0))
                .map(|(i, f)| (addresses(&f.key), i))
                .collect();
            if !successors.is_empty() {
                let mut claim = |key: &SocketKey, origin: Origin| -> bool {
                    if key.inode == Some(0) {
                        return false;
                    }
                    match successors
                        .get(&addresses(key))
                        .and_then(|&i| fresh.get_mut(i))
                    {
                        Some(f) if f.origin == Origin::New => {
                            f.origin = origin;
                            true
                        }
                        _ => false,
                    }
                };
                for (v, (key, _)) in vanished.iter().enumerate() {
                    claim(key, Origin::Vanished(v));
                }
                for (l, c) in self.lingering.iter().enumerate() {
                    if let Some(slot) = taken.get_mut(l)
                        && !*slot
                        && claim(&c.key(), Origin::Lingering(l))
                    {
                        *slot = true;
                    }
                }
            }
        }
        taken.contains(&true)
    }

    /// Move a closed socket into the history.
    fn file(&mut self, closed: ClosedSocket) {
        self.history.push_back(closed);
        self.trim_history_count();
    }

    fn trim_history_count(&mut self) {
        let excess = self.history.len().saturating_sub(self.config.max_closed);
        self.history.drain(..excess);
    }
}

/// Whether the collector found `snapshot` to show the same as `previous`, its predecessor.
/// (A `content_seq` of 0 is unknown: hand-built snapshots.)
fn repeats(snapshot: &Snapshot, previous: &Snapshot) -> bool {
    snapshot.content_seq != 0
        && snapshot.content_seq == previous.content_seq
        && snapshot.seq > previous.seq
}

/// A socket's protocol and addresses, without its inode.
fn addresses(key: &SocketKey) -> SocketKey {
    SocketKey {
        inode: None,
        ..*key
    }
}

/// A socket of the new snapshot whose key was not live.
struct Fresh<'a> {
    index: usize,
    key: SocketKey,
    socket: &'a Socket,
    origin: Origin,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    /// Really new.
    New,
    /// Continues the socket at this position of the vanished list.
    Vanished(usize),
    /// The lingering closed socket at this position, back under the same key.
    Back(usize),
    /// Continues the lingering closed socket at this position under another key.
    Lingering(usize),
}

/// A position in a snapshot, as kept in a record. Socket tables are far below 2³² rows.
fn position(index: usize) -> u32 {
    u32::try_from(index).unwrap_or(u32::MAX)
}

/// Marks a position of the snapshot whose socket has no slot of its own (a repeated key).
const NO_SLOT: usize = usize::MAX;

/// The live sockets. Records sit in slots that stay put while the socket lives; the snapshot
/// order maps to them through `at`, and keys through `index`, which changes only when sockets
/// come or go.
#[derive(Debug, Default)]
struct Live {
    slots: Vec<Option<Tracked>>,
    free: Vec<usize>,
    /// The slot of each live key with the key's hash. The key itself is not copied here: it
    /// is read from the socket the record points at, which the caller resolves.
    index: HashTable<(u64, usize)>,
    hasher: FastHash,
    /// The slot of each socket of the current snapshot, by position, or [`NO_SLOT`].
    at: Vec<usize>,
    /// Numbers the records, to tell a slot's record from a later one in the same slot.
    serials: u64,
}

impl Live {
    fn get(&self, slot: usize) -> Option<&Tracked> {
        self.slots.get(slot).and_then(Option::as_ref)
    }

    fn get_mut(&mut self, slot: usize) -> Option<&mut Tracked> {
        self.slots.get_mut(slot).and_then(Option::as_mut)
    }

    /// The slot of the record for `key`; `key_of` tells the key of a record.
    fn find(
        &self,
        key: &SocketKey,
        key_of: impl Fn(&Tracked) -> Option<SocketKey>,
    ) -> Option<usize> {
        let hash = self.hasher.hash_one(key);
        self.index
            .find(hash, |&(h, slot)| {
                h == hash && self.get(slot).and_then(&key_of).as_ref() == Some(key)
            })
            .map(|&(_, slot)| slot)
    }

    fn reserve(&mut self, additional: usize) {
        self.index.reserve(additional, |&(hash, _)| hash);
        self.slots
            .reserve(additional.saturating_sub(self.free.len()));
    }

    /// Add a record under a key that is not live yet; `None` when it is.
    fn insert(
        &mut self,
        key: SocketKey,
        mut t: Tracked,
        key_of: impl Fn(&Tracked) -> Option<SocketKey>,
    ) -> Option<(usize, &mut Tracked)> {
        if self.find(&key, key_of).is_some() {
            return None;
        }
        self.serials += 1;
        t.serial = self.serials;
        let slot = match self.free.pop() {
            Some(slot) if slot < self.slots.len() => {
                self.slots[slot] = Some(t);
                slot
            }
            _ => {
                self.slots.push(Some(t));
                self.slots.len() - 1
            }
        };
        let hash = self.hasher.hash_one(key);
        self.index
            .insert_unique(hash, (hash, slot), |&(hash, _)| hash);
        self.get_mut(slot).map(|t| (slot, t))
    }

    fn remove(&mut self, slot: usize, key: &SocketKey) -> Option<Tracked> {
        let t = self.slots.get_mut(slot)?.take()?;
        let hash = self.hasher.hash_one(key);
        if let Ok(entry) = self
            .index
            .find_entry(hash, |&(h, s)| h == hash && s == slot)
        {
            entry.remove();
        }
        self.free.push(slot);
        Some(t)
    }
}

/// The live sockets that carry a mark, so that expiring marks does not visit every socket.
#[derive(Debug, Default)]
struct MarkQueue {
    /// Slot and serial of each marked record. An entry whose slot now holds another record,
    /// or whose record lost its mark, is stale and dropped at the next expiry.
    entries: Vec<(usize, u64)>,
    /// No mark expires before this (it may be early after a mark was replaced).
    due: Option<Instant>,
}

impl MarkQueue {
    /// A record got a mark; `listed` when it already had one, so it has an entry.
    fn note(
        &mut self,
        slot: usize,
        serial: u64,
        listed: bool,
        mark: Mark,
        since: Instant,
        config: &TrackerConfig,
    ) {
        if !listed {
            self.entries.push((slot, serial));
        }
        if let Some(end) = expiry(mark, since, config) {
            self.due = Some(self.due.map_or(end, |due| due.min(end)));
        }
    }

    fn expire(&mut self, live: &mut Live, now: Instant, config: &TrackerConfig) {
        if self.due.is_none_or(|due| due > now) {
            return;
        }
        let mut next: Option<Instant> = None;
        self.entries.retain(|&(slot, serial)| {
            let Some(t) = live.get_mut(slot).filter(|t| t.serial == serial) else {
                return false;
            };
            let Some((mark, since)) = &t.mark else {
                return false;
            };
            match expiry(*mark, since.at, config) {
                Some(end) if end <= now => {
                    t.mark = None;
                    false
                }
                Some(end) => {
                    next = Some(next.map_or(end, |n| n.min(end)));
                    true
                }
                None => true,
            }
        });
        self.due = next;
    }

    /// Recompute `due` after the durations changed.
    fn reschedule(&mut self, live: &Live, config: &TrackerConfig) {
        self.due = self
            .entries
            .iter()
            .filter_map(|&(slot, serial)| live.get(slot).filter(|t| t.serial == serial))
            .filter_map(|t| t.mark.as_ref())
            .filter_map(|(mark, since)| expiry(*mark, since.at, config))
            .min();
    }
}

/// When a mark set at `since` ends; `None` for marks that end with their row (or never).
fn expiry(mark: Mark, since: Instant, config: &TrackerConfig) -> Option<Instant> {
    let lasts = match mark {
        Mark::New => config.new_for,
        Mark::StateChanged { .. } => config.changed_for,
        Mark::Closing => return None,
    };
    since.checked_add(lasts)
}

/// What the tracker keeps of a live socket: one per socket of the table, so kept small.
#[derive(Debug)]
struct Tracked {
    /// Position in the current snapshot's socket list.
    index: u32,
    /// The last accepted snapshot it was in.
    stamp: u64,
    /// Set by [`Live::insert`].
    serial: u64,
    /// When it was first seen; `None` when it was there at the start.
    appeared: Option<Arc<Moment>>,
    states: StateTrail,
    /// [`Mark::New`] or [`Mark::StateChanged`], and since when.
    mark: Option<(Mark, Arc<Moment>)>,
    /// The processes that last held it, kept when it has none any more (TIME_WAIT).
    owners: OwnerList,
    /// Some owner's details were not known yet.
    incomplete: bool,
}

impl Tracked {
    fn new(index: usize, stamp: u64, state: SockState) -> Self {
        Tracked {
            index: position(index),
            stamp,
            serial: 0,
            appeared: None,
            states: StateTrail::new(state),
            mark: None,
            owners: OwnerList::default(),
            incomplete: false,
        }
    }

    fn appeared(&self) -> Appeared {
        self.appeared
            .as_deref()
            .map_or(Appeared::BeforeStart, |m| Appeared::At(*m))
    }

    /// A closed socket that turned out to be alive after all.
    fn reopened(closed: ClosedSocket) -> Self {
        let incomplete = closed.owners.iter().any(|o| o.info.is_none());
        Tracked {
            index: 0,
            stamp: 0,
            serial: 0,
            appeared: closed.appeared.moment().map(Arc::new),
            states: closed.states,
            mark: None,
            owners: closed.owners.into_iter().collect(),
            incomplete,
        }
    }

    /// Follow the socket's owners. An empty list keeps the last owners: the process closed
    /// the socket and the kernel finishes it, but the history should still say whose it was.
    fn refresh_owners(&mut self, pids: &[u32], processes: &ProcessCache) {
        if pids.is_empty() {
            return;
        }
        if self.owners.has_pids(pids) {
            if !self.incomplete && !processes.any_changed(pids) {
                return;
            }
            for owner in self.owners.iter_mut() {
                if let Some(info) = processes.get(owner.pid) {
                    owner.info = Some(info);
                }
            }
        } else {
            let old = mem::take(&mut self.owners);
            self.owners = pids
                .iter()
                .map(|&pid| OwnerProcess {
                    pid,
                    info: processes.get(pid).or_else(|| {
                        old.iter()
                            .find(|o| o.pid == pid)
                            .and_then(|o| o.info.clone())
                    }),
                })
                .collect();
        }
        self.incomplete = self.owners.iter().any(|o| o.info.is_none());
    }

    fn close(
        self,
        socket: Socket,
        seen_in: &Snapshot,
        last_seen: Moment,
        gone: Moment,
    ) -> ClosedSocket {
        let owner_user_known = self
            .owners
            .iter()
            .any(|o| o.info.as_ref().is_some_and(|p| p.user.is_some()));
        // A TIME_WAIT entry's uid is the kernel's, not its former owner's.
        let uid_user = if owner_user_known || socket.state == SockState::TimeWait {
            None
        } else {
            seen_in.socket_user(&socket)
        };
        ClosedSocket {
            appeared: self.appeared(),
            states: self.states,
            socket,
            owners: self.owners.into_vec(),
            last_seen,
            gone,
            uid_user,
        }
    }
}

/// The processes holding a live socket: nearly always one, kept without an allocation.
#[derive(Debug, Default)]
struct OwnerList(SmallVec<[OwnerProcess; 1]>);

impl OwnerList {
    fn iter(&self) -> impl Iterator<Item = &OwnerProcess> {
        self.0.iter()
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = &mut OwnerProcess> {
        self.0.iter_mut()
    }

    fn has_pids(&self, pids: &[u32]) -> bool {
        self.0.len() == pids.len() && self.0.iter().zip(pids).all(|(o, pid)| o.pid == *pid)
    }

    fn into_vec(self) -> Vec<OwnerProcess> {
        self.0.into_vec()
    }
}

impl FromIterator<OwnerProcess> for OwnerList {
    fn from_iter<I: IntoIterator<Item = OwnerProcess>>(iter: I) -> Self {
        OwnerList(iter.into_iter().collect())
    }
}

/// The states a socket was seen in, oldest first, without repeats. Kept inline, without an
/// allocation: on its usual paths a TCP connection passes through at most five states, so
/// [`StateTrail::CAPACITY`] is ample; a socket that flaps keeps its first and latest states.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct StateTrail {
    states: [SockState; StateTrail::CAPACITY],
    len: u8,
}

impl StateTrail {
    pub const CAPACITY: usize = 8;

    fn new(state: SockState) -> Self {
        StateTrail {
            states: [state; StateTrail::CAPACITY],
            len: 1,
        }
    }

    pub fn as_slice(&self) -> &[SockState] {
        self.states.get(..usize::from(self.len)).unwrap_or_default()
    }

    pub fn first(&self) -> SockState {
        self.states[0]
    }

    pub fn last(&self) -> SockState {
        self.as_slice().last().copied().unwrap_or(self.states[0])
    }

    fn push(&mut self, state: SockState) {
        let len = usize::from(self.len);
        if len < Self::CAPACITY {
            self.states[len] = state;
            self.len += 1;
        } else {
            self.states.copy_within(2.., 1);
            self.states[Self::CAPACITY - 1] = state;
        }
    }
}

impl fmt::Debug for StateTrail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl Serialize for StateTrail {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.as_slice())
    }
}

/// Process details shared by the sockets that refer to them, copied only when they change.
/// A process missing from a few snapshots (it exited mid-scan) is remembered a little longer,
/// so a socket first seen just then still gets its details.
#[derive(Debug, Default)]
struct ProcessCache {
    by_pid: HashMap<u32, (Arc<ProcessInfo>, u64), FastHash>,
    /// PIDs whose details were added or replaced by the last refresh.
    changed: HashSet<u32, FastHash>,
}

impl ProcessCache {
    /// Snapshots a process may be missing from before it is forgotten.
    const GRACE: u64 = 4;

    fn refresh(&mut self, processes: &BTreeMap<u32, ProcessInfo>, stamp: u64) {
        self.changed.clear();
        for (&pid, info) in processes {
            match self.by_pid.get_mut(&pid) {
                Some((known, seen)) if **known == *info => *seen = stamp,
                _ => {
                    self.by_pid.insert(pid, (Arc::new(info.clone()), stamp));
                    self.changed.insert(pid);
                }
            }
        }
        self.by_pid
            .retain(|_, (_, seen)| stamp.saturating_sub(*seen) <= Self::GRACE);
    }

    fn get(&self, pid: u32) -> Option<Arc<ProcessInfo>> {
        self.by_pid.get(&pid).map(|(info, _)| Arc::clone(info))
    }

    fn any_changed(&self, pids: &[u32]) -> bool {
        !self.changed.is_empty() && pids.iter().any(|pid| self.changed.contains(pid))
    }
}

/// Maps keyed by socket.
type KeyMap<V> = HashMap<SocketKey, V, FastHash>;
type KeySet = HashSet<SocketKey, FastHash>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10));
    const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(93, 184, 216, 34));

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A TCP connection from `port` to the peer's 443.
    fn conn(port: u16, state: SockState, inode: u32, pids: &[u32]) -> Socket {
        Socket {
            proto: Proto::Tcp,
            local_addr: LOCAL,
            local_port: port,
            remote_addr: Some(PEER),
            remote_port: Some(443),
            state,
            pids: pids.into(),
            uid: Some(1000),
            inode: Some(inode),
            cookie: 0,
            recv_q: 0,
            send_q: 0,
        }
    }

    fn listener(port: u16, inode: u32, pids: &[u32]) -> Socket {
        Socket {
            proto: Proto::Tcp,
            local_addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            local_port: port,
            remote_addr: None,
            remote_port: None,
            state: SockState::Listen,
            pids: pids.into(),
            uid: Some(1000),
            inode: Some(inode),
            cookie: 0,
            recv_q: 0,
            send_q: 0,
        }
    }

    fn process(pid: u32, name: &str) -> ProcessInfo {
        ProcessInfo {
            pid,
            name: name.to_owned(),
            exe: Some(format!("/usr/bin/{name}")),
            cmdline: vec![name.to_owned(), "--flag".to_owned()],
            uid: Some(1000),
            user: Some("alice".to_owned()),
            parent_pid: Some(1),
            start_time: Some(1_700_000_000),
        }
    }

    /// Feeds numbered snapshots at scripted instants.
    struct Script {
        tracker: ChangeTracker,
        start: Instant,
        seq: u64,
    }

    impl Script {
        fn new() -> Self {
            Script::with(TrackerConfig::default())
        }

        fn with(config: TrackerConfig) -> Self {
            Script {
                tracker: ChangeTracker::new(config),
                start: Instant::now(),
                seq: 0,
            }
        }

        fn at(&self, t: u64) -> Instant {
            self.start + ms(t)
        }

        /// Feed a snapshot taken `t` ms after the start.
        fn poll(&mut self, t: u64, sockets: Vec<Socket>, processes: &[ProcessInfo]) -> Changes {
            self.seq += 1;
            let snap = Arc::new(Snapshot {
                seq: self.seq,
                taken_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000) + ms(t),
                sockets,
                processes: processes.iter().map(|p| (p.pid, p.clone())).collect(),
                ..Snapshot::default()
            });
            self.tracker.update(&snap, self.at(t))
        }

        fn tick(&mut self, t: u64) {
            self.tracker.tick(self.at(t));
        }

        fn mark(&self, s: &Socket) -> Option<Mark> {
            self.tracker.mark(&s.key())
        }
    }

    #[test]
    fn closing_rows_are_kept_apart_from_the_poll_with_their_processes() {
        let mut sc = Script::new();
        let a = conn(40000, SockState::Established, 21, &[10]);
        let b = conn(40001, SockState::Established, 22, &[11]);
        sc.poll(
            0,
            vec![a.clone(), b.clone()],
            &[process(10, "curl"), process(11, "wget")],
        );
        let none = sc.tracker.closing_rows();
        assert!(none.is_empty());
        assert!(
            Arc::ptr_eq(&none, &sc.tracker.closing_rows()),
            "built once per set"
        );

        // b closes, and its process exits with it.
        sc.poll(1000, vec![a.clone()], &[process(10, "curl")]);
        let poll = sc.tracker.current.clone().expect("a current snapshot");
        assert_eq!(
            poll.sockets,
            vec![a.clone()],
            "the poll stays what the OS said"
        );
        assert!(poll.process(11).is_none());
        let closing = sc.tracker.closing_rows();
        assert_ne!(closing.seq, none.seq);
        assert_eq!(closing.table.sockets, vec![b.clone()]);
        assert_eq!(
            closing.table.process(11).map(|p| p.name.as_str()),
            Some("wget"),
            "the closed row keeps its process"
        );
        assert_eq!(
            closing.gone.iter().map(|m| m.at).collect::<Vec<_>>(),
            [sc.at(1000)]
        );
        assert_eq!(closing.table.counts().total, 1);
        assert_eq!(sc.mark(&b), Some(Mark::Closing));
        assert_eq!(sc.mark(&a), None);
        let same = sc.tracker.closing_rows();
        assert!(Arc::ptr_eq(&closing, &same), "unchanged: not rebuilt");

        // Once the linger is over, the closed row goes.
        sc.tick(1000 + sc.tracker.config().linger.as_millis() as u64 + 1);
        let after = sc.tracker.closing_rows();
        assert!(after.is_empty());
        assert_ne!(after.seq, closing.seq);

        // Clearing while a row lingers empties the set too.
        sc.poll(5000, vec![], &[]);
        assert_eq!(sc.tracker.closing_rows().len(), 1);
        sc.tracker.clear();
        assert!(sc.tracker.closing_rows().is_empty());
    }

    #[test]
    fn first_snapshot_marks_nothing() {
        let mut sc = Script::new();
        let a = listener(8080, 11, &[10]);
        let changes = sc.poll(0, vec![a.clone()], &[process(10, "nginx")]);
        assert_eq!(changes, Changes::default());
        assert_eq!(sc.mark(&a), None);
        assert_eq!(sc.tracker.marks().count(), 0);
        assert_eq!(sc.tracker.first_seen(&a.key()), Some(Appeared::BeforeStart));
    }

    #[test]
    fn a_new_socket_is_marked_for_its_duration_not_one_poll() {
        let mut sc = Script::new();
        let a = listener(8080, 11, &[10]);
        let b = conn(40000, SockState::Established, 12, &[10]);
        sc.poll(0, vec![a.clone()], &[]);
        let changes = sc.poll(250, vec![a.clone(), b.clone()], &[]);
        assert_eq!(changes.new, 1);
        assert_eq!(sc.mark(&b), Some(Mark::New));
        assert_eq!(sc.mark(&a), None);
        // Still marked over the next polls...
        sc.poll(500, vec![a.clone(), b.clone()], &[]);
        sc.tick(2249);
        assert_eq!(sc.mark(&b), Some(Mark::New));
        assert_eq!(sc.tracker.next_deadline(), Some(sc.at(2250)));
        // ...and unmarked once the duration is over, without a new snapshot.
        sc.tick(2250);
        assert_eq!(sc.mark(&b), None);
        assert_eq!(sc.tracker.next_deadline(), None);
        let Some(Appeared::At(m)) = sc.tracker.first_seen(&b.key()) else {
            panic!("appeared time expected");
        };
        assert_eq!(m.at, sc.at(250));
    }

    #[test]
    fn a_vanished_socket_lingers_then_moves_to_history_with_its_process() {
        let mut sc = Script::new();
        let a = listener(8080, 11, &[10]);
        let b = conn(40000, SockState::Established, 12, &[20]);
        let procs = [process(10, "nginx"), process(20, "curl")];
        sc.poll(0, vec![a.clone()], &procs);
        sc.poll(1000, vec![a.clone(), b.clone()], &procs);
        // The process is gone from the table together with its socket.
        let changes = sc.poll(2000, vec![a.clone()], &procs[..1]);
        assert_eq!(changes.closed, 1);
        assert_eq!(sc.mark(&b), Some(Mark::Closing));
        let closing = sc.tracker.closing();
        assert_eq!(closing.len(), 1);
        assert_eq!(closing[0].socket, b);
        assert_eq!(closing[0].process_label(), "curl");
        assert!(sc.tracker.history().is_empty());

        sc.tick(3999);
        assert_eq!(sc.tracker.closing().len(), 1);
        assert_eq!(sc.tracker.next_deadline(), Some(sc.at(4000)));
        sc.tick(4000);
        assert!(sc.tracker.closing().is_empty());
        assert_eq!(sc.mark(&b), None);

        let history = sc.tracker.history();
        assert_eq!(history.len(), 1);
        let entry = &history[0];
        assert_eq!(entry.socket, b);
        assert_eq!(entry.owners.len(), 1);
        assert_eq!(entry.owners[0].pid, 20);
        let info = entry.owners[0].info.as_deref();
        assert_eq!(info.map(|p| p.name.as_str()), Some("curl"));
        assert_eq!(info.map(|p| p.cmdline.len()), Some(2));
        assert_eq!(entry.user(), Some("alice"));
        assert_eq!(entry.appeared.moment().map(|m| m.at), Some(sc.at(1000)));
        assert_eq!(entry.last_seen.at, sc.at(1000));
        assert_eq!(entry.gone.at, sc.at(2000));
        assert_eq!(entry.states.as_slice(), [SockState::Established]);
        assert_eq!(entry.seen_for(), Some(Duration::ZERO));
    }

    #[test]
    fn a_state_change_is_marked_and_recorded() {
        let mut sc = Script::new();
        sc.poll(0, vec![], &[]);
        let syn = conn(40000, SockState::SynSent, 12, &[20]);
        let est = conn(40000, SockState::Established, 12, &[20]);
        let cw = conn(40000, SockState::CloseWait, 12, &[20]);
        sc.poll(1000, vec![syn.clone()], &[]);
        let changes = sc.poll(1250, vec![est.clone()], &[]);
        assert_eq!(
            changes,
            Changes {
                new: 0,
                changed: 1,
                closed: 0
            }
        );
        assert_eq!(
            sc.mark(&est),
            Some(Mark::StateChanged {
                from: SockState::SynSent
            })
        );
        sc.tick(3249);
        assert!(matches!(sc.mark(&est), Some(Mark::StateChanged { .. })));
        sc.tick(3250);
        assert_eq!(sc.mark(&est), None);
        sc.poll(5000, vec![cw.clone()], &[]);
        assert_eq!(
            sc.mark(&cw),
            Some(Mark::StateChanged {
                from: SockState::Established
            })
        );
        assert!(sc.tracker.closing().is_empty());
        sc.poll(6000, vec![], &[]);
        sc.tick(8000);
        assert_eq!(
            sc.tracker.history()[0].states.as_slice(),
            [
                SockState::SynSent,
                SockState::Established,
                SockState::CloseWait
            ]
        );
    }

    #[test]
    fn established_to_time_wait_is_a_state_change_of_the_same_connection() {
        let mut sc = Script::new();
        sc.poll(0, vec![], &[]);
        let est = conn(40000, SockState::Established, 12, &[20]);
        let tw = conn(40000, SockState::TimeWait, 0, &[]);
        sc.poll(1000, vec![est.clone()], &[process(20, "curl")]);
        // The process closed the connection and exited.
        let changes = sc.poll(2000, vec![tw.clone()], &[]);
        assert_eq!(
            changes,
            Changes {
                new: 0,
                changed: 1,
                closed: 0
            }
        );
        assert_eq!(
            sc.mark(&tw),
            Some(Mark::StateChanged {
                from: SockState::Established
            })
        );
        assert_eq!(sc.mark(&est), None);
        assert!(sc.tracker.closing().is_empty());
        assert_eq!(
            sc.tracker
                .first_seen(&tw.key())
                .and_then(Appeared::moment)
                .map(|m| m.at),
            Some(sc.at(1000))
        );
        // The TIME_WAIT ends a minute later; the history still knows whose it was.
        sc.poll(62_000, vec![], &[]);
        sc.tick(64_000);
        let entry = &sc.tracker.history()[0];
        assert_eq!(entry.socket, tw);
        assert_eq!(entry.process_label(), "curl");
        assert_eq!(entry.user(), Some("alice"));
        assert_eq!(
            entry.states.as_slice(),
            [SockState::Established, SockState::TimeWait]
        );
        assert_eq!(entry.appeared.moment().map(|m| m.at), Some(sc.at(1000)));
    }

    #[test]
    fn time_wait_after_a_missed_poll_still_continues_the_connection() {
        let mut sc = Script::new();
        sc.poll(0, vec![], &[]);
        let est = conn(40000, SockState::Established, 12, &[20]);
        let tw = conn(40000, SockState::TimeWait, 0, &[]);
        sc.poll(1000, vec![est.clone()], &[process(20, "curl")]);
        sc.poll(1250, vec![], &[]);
        assert_eq!(sc.mark(&est), Some(Mark::Closing));
        sc.poll(1500, vec![tw.clone()], &[]);
        assert!(sc.tracker.closing().is_empty());
        assert_eq!(sc.mark(&est), None);
        assert_eq!(
            sc.mark(&tw),
            Some(Mark::StateChanged {
                from: SockState::Established
            })
        );
        sc.tick(10_000);
        assert!(sc.tracker.history().is_empty());
    }

    #[test]
    fn a_new_connection_on_a_time_wait_address_pair_is_new() {
        let mut sc = Script::new();
        let tw = conn(40000, SockState::TimeWait, 0, &[]);
        let again = conn(40000, SockState::Established, 13, &[20]);
        sc.poll(0, vec![tw.clone()], &[]);
        sc.poll(1000, vec![again.clone()], &[]);
        assert_eq!(sc.mark(&again), Some(Mark::New));
        assert_eq!(sc.mark(&tw), Some(Mark::Closing));
    }

    #[test]
    fn a_socket_back_within_its_linger_was_only_missed() {
        let mut sc = Script::new();
        let a = listener(8080, 11, &[10]);
        sc.poll(0, vec![], &[]);
        sc.poll(1000, vec![a.clone()], &[process(10, "nginx")]);
        sc.tick(3000);
        sc.poll(3000, vec![], &[]);
        assert_eq!(sc.mark(&a), Some(Mark::Closing));
        let changes = sc.poll(3250, vec![a.clone()], &[process(10, "nginx")]);
        assert_eq!(changes, Changes::default());
        assert_eq!(sc.mark(&a), None);
        assert!(sc.tracker.closing().is_empty());
        assert_eq!(
            sc.tracker
                .first_seen(&a.key())
                .and_then(Appeared::moment)
                .map(|m| m.at),
            Some(sc.at(1000))
        );
        sc.tick(10_000);
        assert!(sc.tracker.history().is_empty());
    }

    #[test]
    fn a_socket_back_after_its_linger_is_new_again() {
        let mut sc = Script::new();
        let a = listener(8080, 11, &[10]);
        sc.poll(0, vec![a.clone()], &[]);
        sc.poll(1000, vec![], &[]);
        sc.tick(3000);
        assert_eq!(sc.tracker.history().len(), 1);
        assert_eq!(sc.tracker.history()[0].appeared, Appeared::BeforeStart);
        sc.poll(4000, vec![a.clone()], &[]);
        assert_eq!(sc.mark(&a), Some(Mark::New));
        assert_eq!(
            sc.tracker
                .first_seen(&a.key())
                .and_then(Appeared::moment)
                .map(|m| m.at),
            Some(sc.at(4000))
        );
        assert_eq!(sc.tracker.history().len(), 1);
    }

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

    #[test]
    fn history_is_bounded_by_count() {
        let mut sc = Script::with(TrackerConfig {
            max_closed: 3,
            ..TrackerConfig::default()
        });
        let all: Vec<Socket> = (0..5)
            .map(|i| conn(40000 + i, SockState::Established, 100 + u32::from(i), &[]))
            .collect();
        sc.poll(0, all.clone(), &[]);
        for i in 0..5u64 {
            let n = usize::try_from(i).unwrap_or_default();
            sc.poll(1000 * (i + 1), all[n + 1..].to_vec(), &[]);
        }
        sc.tick(20_000);
        let ports: Vec<u16> = sc
            .tracker
            .history()
            .iter()
            .map(|c| c.socket.local_port)
            .collect();
        assert_eq!(ports, vec![40002, 40003, 40004]);
        // A smaller bound applies at once.
        sc.tracker.set_config(TrackerConfig {
            max_closed: 1,
            ..TrackerConfig::default()
        });
        assert_eq!(sc.tracker.history().len(), 1);
        assert_eq!(sc.tracker.history()[0].socket.local_port, 40004);
    }

    #[test]
    fn history_is_bounded_by_age() {
        let mut sc = Script::with(TrackerConfig {
            keep_for: Duration::from_secs(10),
            ..TrackerConfig::default()
        });
        let a = conn(40000, SockState::Established, 12, &[]);
        let b = conn(40001, SockState::Established, 13, &[]);
        sc.poll(0, vec![a.clone(), b.clone()], &[]);
        sc.poll(1000, vec![b.clone()], &[]);
        sc.poll(6000, vec![], &[]);
        sc.tick(10_999);
        assert_eq!(sc.tracker.history().len(), 2);
        assert_eq!(sc.tracker.next_deadline(), Some(sc.at(11_000)));
        sc.tick(11_000);
        assert_eq!(sc.tracker.history().len(), 1);
        assert_eq!(sc.tracker.history()[0].socket, b);
        sc.tick(16_000);
        assert!(sc.tracker.history().is_empty());
    }

    #[test]
    fn clear_forgets_closed_sockets_including_lingering_ones() {
        let mut sc = Script::new();
        let a = conn(40000, SockState::Established, 12, &[]);
        let b = conn(40001, SockState::Established, 13, &[]);
        sc.poll(0, vec![a.clone(), b.clone()], &[]);
        sc.poll(1000, vec![b.clone()], &[]);
        sc.tick(3000);
        sc.poll(3000, vec![], &[]);
        assert_eq!(sc.tracker.history().len(), 1);
        assert_eq!(sc.tracker.closing().len(), 1);
        sc.tracker.clear();
        assert!(sc.tracker.history().is_empty());
        assert!(sc.tracker.closing().is_empty());
        assert_eq!(sc.mark(&b), None);
        sc.tick(10_000);
        assert!(sc.tracker.history().is_empty());
    }

    #[test]
    fn snapshots_with_errors_or_seen_before_are_skipped() {
        let mut sc = Script::new();
        let a = conn(40000, SockState::Established, 12, &[]);
        // The empty start and a failed first poll change nothing...
        sc.tracker.update(&Arc::new(Snapshot::default()), sc.at(0));
        let failed = Arc::new(Snapshot {
            seq: 1,
            error: Some("denied".to_owned()),
            ..Snapshot::default()
        });
        sc.tracker.update(&failed, sc.at(0));
        sc.seq = 1;
        // ...so the first good one still counts as the first.
        let snap = Arc::new(Snapshot {
            seq: 2,
            sockets: vec![a.clone()],
            ..Snapshot::default()
        });
        assert_eq!(sc.tracker.update(&snap, sc.at(500)), Changes::default());
        assert_eq!(sc.mark(&a), None);
        let b = conn(40001, SockState::Established, 13, &[]);
        let next = Arc::new(Snapshot {
            seq: 3,
            sockets: vec![a.clone(), b.clone()],
            ..Snapshot::default()
        });
        assert_eq!(sc.tracker.update(&next, sc.at(1000)).new, 1);
        // Feeding it again every frame is harmless.
        assert_eq!(sc.tracker.update(&next, sc.at(1100)), Changes::default());
        assert_eq!(sc.mark(&b), Some(Mark::New));
    }

    #[test]
    fn a_snapshot_repeating_the_last_one_only_moves_last_seen_on() {
        let mut sc = Script::new();
        let a = conn(40000, SockState::Established, 12, &[]);
        let snap = |seq: u64, content_seq: u64, sockets: Vec<Socket>| {
            Arc::new(Snapshot {
                seq,
                content_seq,
                taken_at: SystemTime::UNIX_EPOCH + Duration::from_secs(seq),
                sockets,
                ..Snapshot::default()
            })
        };
        sc.tracker.update(&snap(1, 1, vec![a.clone()]), sc.at(0));
        sc.tracker.update(&snap(2, 1, vec![a.clone()]), sc.at(1000));
        sc.tracker.update(&snap(3, 1, vec![a.clone()]), sc.at(2000));
        assert_eq!(
            sc.tracker.update(&snap(4, 4, vec![]), sc.at(3000)).closed,
            1
        );
        let closed = &sc.tracker.closing()[0];
        assert_eq!(closed.last_seen.at, sc.at(2000));
        assert_eq!(closed.last_seen.unix_seconds(), 3.0);
        assert_eq!(closed.gone.at, sc.at(3000));
    }

    #[test]
    fn the_same_key_twice_in_one_snapshot_is_tracked_once() {
        let mut sc = Script::new();
        let a = listener(5353, 0, &[]);
        sc.poll(0, vec![], &[]);
        assert_eq!(sc.poll(1000, vec![a.clone(), a.clone()], &[]).new, 1);
        assert_eq!(sc.poll(2000, vec![a.clone()], &[]), Changes::default());
        assert_eq!(sc.poll(3000, vec![], &[]).closed, 1);
        assert_eq!(sc.poll(6000, vec![a.clone(), a.clone()], &[]).new, 1);
        assert_eq!(sc.poll(6250, vec![], &[]).closed, 1);
        assert_eq!(sc.tracker.closing().len(), 1);
    }

    #[test]
    fn sockets_are_followed_whatever_order_they_come_in() {
        let mut sc = Script::new();
        let mut all: Vec<Socket> = (0..50)
            .map(|i| conn(40000 + i, SockState::Established, 100 + u32::from(i), &[]))
            .collect();
        sc.poll(0, all.clone(), &[]);
        all.reverse();
        all.retain(|s| s.local_port != 40010);
        all[5].state = SockState::CloseWait;
        let changes = sc.poll(1000, all.clone(), &[]);
        assert_eq!(
            changes,
            Changes {
                new: 0,
                changed: 1,
                closed: 1
            }
        );
        assert_eq!(
            sc.mark(&all[5]),
            Some(Mark::StateChanged {
                from: SockState::Established
            })
        );
        all.swap(0, 30);
        assert_eq!(sc.poll(2000, all.clone(), &[]), Changes::default());
        assert_eq!(sc.tracker.closing().len(), 1);
        assert_eq!(sc.tracker.closing()[0].socket.local_port, 40010);
    }

    #[test]
    fn marks_lists_marked_live_rows_and_closing_rows() {
        let mut sc = Script::new();
        let a = conn(40000, SockState::Established, 12, &[]);
        let b = conn(40001, SockState::Established, 13, &[]);
        let c = conn(40002, SockState::SynSent, 14, &[]);
        let c2 = conn(40002, SockState::Established, 14, &[]);
        sc.poll(0, vec![a.clone(), c.clone()], &[]);
        sc.poll(1000, vec![b.clone(), c2.clone()], &[]);
        let mut marks: Vec<(u16, Mark)> = sc
            .tracker
            .marks()
            .map(|(key, mark)| (key.local_port, mark))
            .collect();
        marks.sort_by_key(|(port, _)| *port);
        assert_eq!(
            marks,
            vec![
                (40000, Mark::Closing),
                (40001, Mark::New),
                (
                    40002,
                    Mark::StateChanged {
                        from: SockState::SynSent
                    }
                ),
            ]
        );
    }

    #[test]
    fn a_mark_belongs_to_its_socket_not_to_where_it_was_kept() {
        let mut sc = Script::new();
        sc.poll(0, vec![], &[]);
        let a = conn(40000, SockState::Established, 12, &[]);
        let b = conn(40001, SockState::Established, 13, &[]);
        sc.poll(1000, vec![a.clone()], &[]);
        sc.poll(1250, vec![], &[]);
        // b takes the place a had; a's mark would have ended at 3000, b's ends at 3500.
        sc.poll(1500, vec![b.clone()], &[]);
        sc.tick(3000);
        assert_eq!(sc.mark(&b), Some(Mark::New));
        assert_eq!(
            sc.tracker.marks().filter(|(_, m)| *m == Mark::New).count(),
            1
        );
        sc.tick(3500);
        assert_eq!(sc.mark(&b), None);

        // A new connection that closes at once moves to its TIME_WAIT key with its mark.
        let c = conn(40002, SockState::Established, 14, &[]);
        let c_tw = conn(40002, SockState::TimeWait, 0, &[]);
        sc.poll(4000, vec![b.clone(), c.clone()], &[]);
        sc.poll(4250, vec![b.clone(), c_tw.clone()], &[]);
        assert_eq!(sc.tracker.marks().count(), 1);
        sc.tick(6249);
        assert!(matches!(sc.mark(&c_tw), Some(Mark::StateChanged { .. })));
        sc.tick(6250);
        assert_eq!(sc.tracker.marks().count(), 0);
    }

    #[test]
    fn marks_follow_config_changes() {
        let mut sc = Script::new();
        sc.poll(0, vec![], &[]);
        let a = conn(40000, SockState::Established, 12, &[]);
        sc.poll(1000, vec![a.clone()], &[]);
        sc.tracker.set_config(TrackerConfig {
            new_for: Duration::from_secs(10),
            ..TrackerConfig::default()
        });
        sc.tick(5000);
        assert_eq!(sc.mark(&a), Some(Mark::New));
        assert_eq!(sc.tracker.next_deadline(), Some(sc.at(11_000)));
    }

    #[test]
    fn closed_sockets_serialize_with_wall_clock_times() {
        let mut sc = Script::new();
        let a = listener(8080, 11, &[10]);
        let b = conn(40000, SockState::Established, 12, &[10]);
        sc.poll(0, vec![a.clone()], &[process(10, "nginx")]);
        sc.poll(1500, vec![a.clone(), b.clone()], &[process(10, "nginx")]);
        sc.poll(2000, vec![], &[]);
        sc.tick(4000);
        let json = serde_json::to_value(sc.tracker.history());
        let Ok(json) = json else {
            panic!("history should serialize: {json:?}");
        };
        let [first, second] = json.as_array().map(Vec::as_slice).unwrap_or_default() else {
            panic!("two entries expected: {json}");
        };
        let (listener, conn) = if first["local_port"] == 8080 {
            (first, second)
        } else {
            (second, first)
        };
        assert_eq!(listener["present_at_start"], true);
        assert!(listener["first_seen"].is_null());
        assert_eq!(listener["state"], "LISTEN");
        assert_eq!(conn["present_at_start"], false);
        assert_eq!(conn["first_seen"], 1_800_000_001.5);
        assert_eq!(conn["last_seen"], 1_800_000_001.5);
        assert_eq!(conn["gone_by"], 1_800_000_002.0);
        assert_eq!(conn["pids"], serde_json::json!([10]));
        assert_eq!(conn["processes"][0]["name"], "nginx");
        assert_eq!(conn["processes"][0]["cmdline"][1], "--flag");
        assert_eq!(conn["user"], "alice");
        assert_eq!(conn["states"], serde_json::json!(["ESTABLISHED"]));
        assert_eq!(conn["remote_port"], 443);
    }

    /// A machine with `n` connections spread over 500 processes; `shift` renumbers the local
    /// ports, so two populations with different shifts share nothing.
    /// A large table is followed exactly: whatever the order the sockets come in, each is
    /// found again, and only the ones that really came, changed or went are counted.
    #[test]
    fn a_large_table_is_followed_exactly() {
        const N: usize = 20_000;
        let mut tracker = ChangeTracker::default();
        let t0 = Instant::now();
        let first = population(N, 0, 1);
        tracker.update(&first, t0);

        let mut reversed = population(N, 0, 2);
        Arc::get_mut(&mut reversed)
            .expect("not shared yet")
            .sockets
            .reverse();
        let c = tracker.update(&reversed, t0 + ms(100));
        assert_eq!((c.new, c.changed, c.closed), (0, 0, 0));
        assert!(tracker.marks().next().is_none());

        let shifted = population(N, N / 100, 3);
        let c = tracker.update(&shifted, t0 + ms(200));
        assert_eq!((c.new, c.changed, c.closed), (N / 100, 0, N / 100));
        let gone = first.sockets[0].key();
        let came = shifted.sockets[N - 1].key();
        let stayed = shifted.sockets[0].key();
        assert_eq!(tracker.mark(&gone), Some(Mark::Closing));
        assert_eq!(tracker.mark(&came), Some(Mark::New));
        assert_eq!(tracker.mark(&stayed), None);
        assert_eq!(tracker.first_seen(&stayed), Some(Appeared::BeforeStart));
        assert!(matches!(tracker.first_seen(&came), Some(Appeared::At(_))));

        let mut restated = population(N, N / 100, 4);
        for socket in &mut Arc::get_mut(&mut restated).expect("not shared yet").sockets {
            socket.state = SockState::CloseWait;
        }
        let c = tracker.update(&restated, t0 + ms(300));
        assert_eq!((c.new, c.changed, c.closed), (0, N, 0));
        assert_eq!(
            tracker.mark(&stayed),
            Some(Mark::StateChanged {
                from: SockState::Established
            })
        );
    }

    fn population(n: usize, shift: usize, seq: u64) -> Arc<Snapshot> {
        let sockets = (0..n)
            .map(|i| {
                let j = i + shift;
                let pid = u32::try_from(1000 + i % 500).unwrap_or_default();
                Socket {
                    proto: Proto::Tcp,
                    local_addr: LOCAL,
                    local_port: u16::try_from(j % 60_000).unwrap_or_default(),
                    remote_addr: Some(IpAddr::V4(Ipv4Addr::from(
                        u32::try_from(0x0a00_0000 + j / 60_000).unwrap_or_default(),
                    ))),
                    remote_port: Some(443),
                    state: SockState::Established,
                    pids: [pid][..].into(),
                    uid: Some(1000),
                    inode: Some(1_000_000 + j as u32),
                    cookie: 0,
                    recv_q: 0,
                    send_q: 0,
                }
            })
            .collect();
        let processes = (1000..1500)
            .map(|pid| (pid, process(pid, "worker")))
            .collect();
        Arc::new(Snapshot {
            seq,
            sockets,
            processes,
            ..Snapshot::default()
        })
    }
}
