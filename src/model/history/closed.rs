//! What the tracker keeps of a socket once it has closed, and the history of closed sockets.
//!
//! A closed socket is copied out of its last snapshot together with the processes that held
//! it, because nothing on the system remembers them once it is gone. The history keeps the
//! ones past their linger for the *Recently closed* list, bounded by age and by count so an
//! all-day session stays small.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::super::traffic::TcpStats;
use super::super::{ProcessInfo, SockState, Socket, SocketKey};
use super::live::tracker_key;

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

/// When a socket was first seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Appeared {
    /// It was already there in the first snapshot: it was opened before portscope started
    /// watching, at an unknown time.
    BeforeStart,
    /// No snapshot ever had it: it opened and closed between two polls, and is known only
    /// from the kernel's announcement that it was destroyed.
    BetweenPolls,
    /// First seen in the snapshot taken at this moment (it opened after the one before).
    At(Moment),
}

impl Appeared {
    pub fn moment(self) -> Option<Moment> {
        match self {
            Appeared::BeforeStart | Appeared::BetweenPolls => None,
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
    pub(super) uid_user: Option<String>,
    /// A TCP connection's counters when the kernel destroyed it (from its announcement).
    pub final_stats: Option<TcpStats>,
}

impl ClosedSocket {
    pub fn key(&self) -> SocketKey {
        tracker_key(&self.socket)
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

    pub(super) fn new(state: SockState) -> Self {
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

    pub(super) fn push(&mut self, state: SockState) {
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

/// Closed sockets past their linger, oldest first: *Recently closed*.
#[derive(Debug, Default)]
pub(super) struct History {
    entries: VecDeque<ClosedSocket>,
}

impl History {
    pub(super) fn entries(&self) -> &VecDeque<ClosedSocket> {
        &self.entries
    }

    /// Adds a closed socket as the newest entry, keeping at most `max` entries.
    pub(super) fn file(&mut self, closed: ClosedSocket, max: usize) {
        self.entries.push_back(closed);
        self.trim_to(max);
    }

    /// Drops the oldest entries beyond `max`.
    pub(super) fn trim_to(&mut self, max: usize) {
        let excess = self.entries.len().saturating_sub(max);
        self.entries.drain(..excess);
    }

    /// Drops the entries that went `keep_for` or longer before `now`.
    pub(super) fn expire(&mut self, now: Instant, keep_for: Duration) {
        while self
            .entries
            .front()
            .is_some_and(|c| now.saturating_duration_since(c.gone.at) >= keep_for)
        {
            self.entries.pop_front();
        }
    }

    /// When the oldest entry expires.
    pub(super) fn due(&self, keep_for: Duration) -> Option<Instant> {
        self.entries
            .front()
            .and_then(|c| c.gone.at.checked_add(keep_for))
    }

    pub(super) fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::super::*;

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
}
