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
//!
//! The parts, one job each:
//! - [`live`]: the live sockets, the index that finds them by key, and what is kept of each;
//! - [`owners`]: the processes holding a live socket, captured while it is alive;
//! - [`marks`]: the highlights (new, state changed) and the closing rows that linger;
//! - [`closed`]: what a closed socket is, and the history of them, bounded by age and count;
//! - [`serialize`]: closed sockets as written to files;
//! - [`update`]: taking in a snapshot, phase by phase.

mod closed;
mod ended;
mod live;
mod marks;
mod owners;
mod serialize;
#[cfg(test)]
mod testkit;
mod update;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{Snapshot, Socket, SocketKey};

pub use closed::{Appeared, ClosedSocket, Moment, OwnerProcess, StateTrail};
pub use marks::{Closing, Mark};

use closed::History;
use live::{Live, Tracked, tracker_key};
use marks::{Lingering, MarkQueue};
use owners::ProcessCache;

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

/// What one update found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub new: usize,
    pub changed: usize,
    pub closed: usize,
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
    /// Closed sockets still shown in the table.
    lingering: Lingering,
    /// Closed sockets past their linger.
    history: History,
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
        self.history.trim_to(self.config.max_closed);
    }

    /// Expire marks, move closed rows past their linger into the history and drop history
    /// entries past their age. The window calls this before drawing.
    pub fn tick(&mut self, now: Instant) {
        let config = self.config;
        for closed in self.lingering.expire(now, &config) {
            self.history.file(closed, config.max_closed);
        }
        self.history.expire(now, config.keep_for);
        self.marked.expire(&mut self.live, now, &config);
    }

    /// The earliest instant at which a mark, a lingering row or a history entry expires: when
    /// the window should next repaint if nothing else happens. `None` when nothing will.
    pub fn next_deadline(&self) -> Option<Instant> {
        [
            self.marked.due,
            self.lingering.due(self.config.linger),
            self.history.due(self.config.keep_for),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// How a row is highlighted, for a live socket or a lingering closed one, as of the last
    /// [`update`](Self::update) or [`tick`](Self::tick).
    pub fn mark(&self, key: &SocketKey) -> Option<Mark> {
        match self.live_by_key(key) {
            Some(t) => t.mark.as_ref().map(|(mark, _)| *mark),
            None => self.lingering.contains(key).then_some(Mark::Closing),
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
                Some((tracker_key(sockets.get(t.index as usize)?), *mark))
            });
        let closing = self
            .lingering
            .rows()
            .iter()
            .map(|c| (c.key(), Mark::Closing));
        live.chain(closing)
    }

    /// When a live socket was first seen.
    pub fn first_seen(&self, key: &SocketKey) -> Option<Appeared> {
        self.live_by_key(key).map(Tracked::appeared)
    }

    /// Closed sockets still shown in the table (as [`Mark::Closing`] rows), oldest first.
    /// Their keys never collide with a live socket's.
    pub fn closing(&self) -> &[ClosedSocket] {
        self.lingering.rows()
    }

    /// Closed sockets past their linger, oldest first.
    pub fn history(&self) -> &VecDeque<ClosedSocket> {
        self.history.entries()
    }

    /// Forget every closed socket, including those still lingering in the table.
    pub fn clear(&mut self) {
        self.lingering.clear();
        self.history.clear();
    }

    /// The closed sockets still shown in the table, as rows of their own beside the poll
    /// (which stays exactly what the OS said): each socket as last seen, with the processes
    /// that held it and when it went. Built once per change of the set; `seq` tells sets apart.
    pub fn closing_rows(&mut self) -> Arc<Closing> {
        self.lingering.table(self.current.as_deref())
    }

    /// The record of a live socket of the current snapshot.
    fn live_by_key(&self, key: &SocketKey) -> Option<&Tracked> {
        let sockets: &[Socket] = self.current.as_deref().map_or(&[], |s| &s.sockets);
        let slot = self
            .live
            .find(key, |t| sockets.get(t.index as usize).map(tracker_key))?;
        self.live.get(slot)
    }
}
