//! The highlights: live sockets marked new or changed for a moment, and closed sockets that
//! linger as red rows before they move to the history.
//!
//! Marks end on their own, without a new snapshot, so the tracker keeps the marked records in
//! a queue with the earliest end: expiring marks then visits the few marked records, never
//! every socket, and the window can sleep until [`MarkQueue::due`].

use std::mem;
use std::sync::Arc;
use std::time::Instant;

use super::super::{ProcessInfo, Snapshot, SockState, SocketKey};
use super::live::{KeySet, Live};
use super::{ClosedSocket, Moment, TrackerConfig};

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

/// The live sockets that carry a mark, so that expiring marks does not visit every socket.
#[derive(Debug, Default)]
pub(super) struct MarkQueue {
    /// Slot and serial of each marked record. An entry whose slot now holds another record,
    /// or whose record lost its mark, is stale and dropped at the next expiry.
    pub(super) entries: Vec<(usize, u64)>,
    /// No mark expires before this (it may be early after a mark was replaced).
    pub(super) due: Option<Instant>,
}

impl MarkQueue {
    /// A record got a mark; `listed` when it already had one, so it has an entry.
    pub(super) fn note(
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

    pub(super) fn expire(&mut self, live: &mut Live, now: Instant, config: &TrackerConfig) {
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
    pub(super) fn reschedule(&mut self, live: &Live, config: &TrackerConfig) {
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

/// Closed sockets still shown in the table as [`Mark::Closing`] rows, oldest first.
#[derive(Debug, Default)]
pub(super) struct Lingering {
    rows: Vec<ClosedSocket>,
    /// The keys of `rows`.
    keys: KeySet,
    /// Counts the changes to `rows`: what [`Closing::seq`] is made of.
    seq: u64,
    /// `rows` as the table takes it, built when first asked for after a change.
    table: Option<Arc<Closing>>,
}

impl Lingering {
    pub(super) fn rows(&self) -> &[ClosedSocket] {
        &self.rows
    }

    pub(super) fn contains(&self, key: &SocketKey) -> bool {
        self.keys.contains(key)
    }

    /// The set of rows is about to change: tables built before are out of date.
    pub(super) fn touch(&mut self) {
        self.seq += 1;
    }

    /// The row of a socket with this key, to add what its announcement says.
    pub(super) fn find_mut(&mut self, key: &SocketKey) -> Option<&mut ClosedSocket> {
        if !self.keys.contains(key) {
            return None;
        }
        self.seq += 1;
        self.rows.iter_mut().rev().find(|c| c.key() == *key)
    }

    /// Adds a row that just closed, as the newest.
    pub(super) fn push(&mut self, closed: ClosedSocket) {
        self.keys.insert(closed.key());
        self.rows.push(closed);
    }

    pub(super) fn reserve(&mut self, additional: usize) {
        self.rows.reserve(additional);
        self.keys.reserve(additional);
    }

    /// Takes every row out, by position, so that an update can take some of them up again;
    /// the keys stay until [`forget_key`](Self::forget_key) or [`put_back`](Self::put_back).
    pub(super) fn take_all(&mut self) -> Vec<Option<ClosedSocket>> {
        mem::take(&mut self.rows).into_iter().map(Some).collect()
    }

    /// Puts back, oldest first, the rows [`take_all`](Self::take_all) handed out that were
    /// not taken up.
    pub(super) fn put_back(&mut self, rows: Vec<Option<ClosedSocket>>) {
        self.rows.extend(rows.into_iter().flatten());
    }

    /// Forgets `key` as a lingering row's; whether it was one.
    pub(super) fn forget_key(&mut self, key: &SocketKey) -> bool {
        !self.keys.is_empty() && self.keys.remove(key)
    }

    /// Takes out the rows whose keys were forgotten (a live socket took the key over).
    pub(super) fn take_displaced(&mut self, displaced: &KeySet) -> Vec<ClosedSocket> {
        self.seq += 1;
        let (gone, keep) = mem::take(&mut self.rows)
            .into_iter()
            .partition(|c| displaced.contains(&c.key()));
        self.rows = keep;
        gone
    }

    /// Takes out the rows whose linger is over at `now`, oldest first, for the history;
    /// those that the history's count limit would push out at once are dropped here.
    pub(super) fn expire(&mut self, now: Instant, config: &TrackerConfig) -> Vec<ClosedSocket> {
        let linger = config.linger;
        let done = self
            .rows
            .iter()
            .take_while(|c| now.saturating_duration_since(c.gone.at) >= linger)
            .count();
        if done == 0 {
            return Vec::new();
        }
        self.seq += 1;
        let kept = done.min(config.max_closed);
        for c in self.rows.drain(..done - kept) {
            self.keys.remove(&c.key());
        }
        let closed: Vec<ClosedSocket> = self.rows.drain(..kept).collect();
        for c in &closed {
            self.keys.remove(&c.key());
        }
        closed
    }

    /// When the oldest row's linger ends.
    pub(super) fn due(&self, linger: std::time::Duration) -> Option<Instant> {
        self.rows
            .first()
            .and_then(|c| c.gone.at.checked_add(linger))
    }

    pub(super) fn clear(&mut self) {
        if !self.rows.is_empty() {
            self.seq += 1;
        }
        self.rows.clear();
        self.keys.clear();
    }

    /// The rows as the table takes them, built once per change of the set.
    pub(super) fn table(&mut self, poll: Option<&Snapshot>) -> Arc<Closing> {
        if let Some(table) = &self.table
            && table.seq == self.seq
        {
            return Arc::clone(table);
        }
        let table = Arc::new(Closing::of(self.seq, &self.rows, poll));
        self.table = Some(Arc::clone(&table));
        table
    }
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
        let machines = poll.map_or(&[][..], |p| &p.machines[..]);
        if machines.is_empty() {
            let rows: Vec<&ClosedSocket> = lingering.iter().collect();
            let table = Self::table_of(seq, &rows, poll);
            return Closing {
                seq,
                table: Arc::new(table),
                gone: lingering.iter().map(|c| c.gone).collect(),
            };
        }
        // Several machines: one table each, listed one after the other in the machines'
        // order, so that each row is read against its own machine's processes and users.
        let mut table = Snapshot {
            seq,
            ..Snapshot::default()
        };
        let mut gone = Vec::with_capacity(lingering.len());
        for machine in machines {
            let rows: Vec<&ClosedSocket> = lingering
                .iter()
                .filter(|c| c.socket.host == machine.id)
                .collect();
            let mut part = Self::table_of(seq, &rows, Some(&machine.table));
            part.machine = machine.table.machine.clone();
            table.sockets.extend(part.sockets.iter().cloned());
            gone.extend(rows.iter().map(|c| c.gone));
            table.machines.push(crate::model::Machine {
                id: machine.id,
                table: Arc::new(part),
            });
        }
        if let Some(poll) = poll {
            table.viewer = poll.viewer;
            table.ephemeral = poll.ephemeral.clone();
            table.taken_at = poll.taken_at;
        }
        Closing {
            seq,
            table: Arc::new(table),
            gone,
        }
    }

    /// One machine's closed rows as a table, read against `poll` (that machine's).
    fn table_of(seq: u64, lingering: &[&ClosedSocket], poll: Option<&Snapshot>) -> Snapshot {
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
        table
    }

    pub fn len(&self) -> usize {
        self.table.sockets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.sockets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::super::*;

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
}
