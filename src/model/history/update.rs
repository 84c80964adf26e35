//! Taking in a snapshot: [`ChangeTracker::update`], written as the phases it runs in.
//!
//! 1. [`begin`](ChangeTracker::begin): decide whether the snapshot is news at all, and make it
//!    the current one.
//! 2. [`follow_known`](ChangeTracker::follow_known): find every socket of the snapshot that
//!    was live before, note where it is now and whether its state changed; the rest are
//!    *fresh*.
//! 3. [`remove_vanished`](ChangeTracker::remove_vanished): take out the records of the
//!    sockets of the previous snapshot that were not found. This must follow phase 2, which
//!    is what tells found from not found.
//! 4. [`match_fresh`](ChangeTracker::match_fresh): decide which fresh sockets continue a
//!    vanished or lingering one (a TIME_WAIT successor, a socket a poll missed). It needs both
//!    lists, so it follows phases 2 and 3, and it only decides, so that nothing is moved
//!    twice.
//! 5. [`admit_fresh`](ChangeTracker::admit_fresh): give every fresh socket its record, a new
//!    one or the one it continues.
//! 6. [`settle_lingering`](ChangeTracker::settle_lingering): put back the lingering rows that
//!    nobody took up, and file in the history those whose key a live socket took over.
//! 7. [`close_vanished`](ChangeTracker::close_vanished): the vanished records that nothing
//!    continued become closing rows. Last, so that a record continued in phase 5 is never
//!    also counted as closed.
//!
//! Then marks and rows past their time expire, as on any tick.

use std::mem;
use std::sync::Arc;
use std::time::Instant;

use super::super::{Snapshot, Socket, SocketKey};
use super::live::{
    KeyMap, KeySet, NO_SLOT, Tracked, addresses, may_continue_another, position, tracker_key,
};
use super::{ChangeTracker, Changes, ClosedSocket, Mark, Moment};

/// What every phase of one update reads.
struct Pass<'s> {
    snapshot: &'s Snapshot,
    /// The previous snapshot's sockets (none before the first).
    old: &'s [Socket],
    /// The slot of each of `old`, by position, or [`NO_SLOT`].
    old_at: Vec<usize>,
    /// This update's count of accepted snapshots.
    stamp: u64,
    /// The snapshot is the first accepted: what is in it was there before portscope.
    first: bool,
    /// When the snapshot arrived; every record marked or first seen now shares it.
    shared: Arc<Moment>,
}

impl Pass<'_> {
    /// The key of a record once this update has placed it.
    fn now_at(&self, t: &Tracked) -> Option<SocketKey> {
        self.snapshot.sockets.get(t.index as usize).map(tracker_key)
    }

    /// The key of a record while phase 2 runs: records it has reached point into the new
    /// snapshot, the others still into the old one.
    fn was_at(&self, t: &Tracked) -> Option<SocketKey> {
        let sockets = if t.stamp == self.stamp {
            &self.snapshot.sockets[..]
        } else {
            self.old
        };
        sockets.get(t.index as usize).map(tracker_key)
    }
}

/// What phase 1 found out about the snapshot before.
struct Start {
    previous: Option<Arc<Snapshot>>,
    /// When `previous` arrived.
    last_seen: Option<Moment>,
    /// When this snapshot arrived.
    moment: Moment,
}

/// What phase 2 leaves for the others.
struct Followed<'s> {
    /// The slot of each socket of the new snapshot, by position, or [`NO_SLOT`] (yet).
    at: Vec<usize>,
    /// By position in the previous snapshot: whether its socket is still there.
    found: Vec<bool>,
    /// The sockets whose key was not live.
    fresh: Vec<Fresh<'s>>,
}

/// The record of a socket of the previous snapshot that is missing from this one; `None`
/// once a fresh socket took it over.
type Vanished = Vec<(SocketKey, Option<Tracked>)>;

/// A socket of the new snapshot whose key was not live.
struct Fresh<'s> {
    index: usize,
    key: SocketKey,
    socket: &'s Socket,
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

impl ChangeTracker {
    /// Take in the next snapshot, which arrived at `now`, and expire what is due.
    ///
    /// Feeding the same snapshot again is a cheap no-op, so the window may call this every
    /// frame with the newest snapshot it holds. Snapshots that carry an `error` repeat the
    /// last good poll and are skipped, as is the empty placeholder with `seq` 0. One that the
    /// collector marks as repeating its predecessor (`content_seq`) costs next to nothing.
    pub fn update(&mut self, snapshot: &Arc<Snapshot>, now: Instant) -> Changes {
        // What expired before this snapshot came is gone whether or not the window ticked.
        self.tick(now);
        let Some(start) = self.begin(snapshot, now) else {
            return Changes::default();
        };
        let pass = Pass {
            snapshot,
            old: start.previous.as_deref().map_or(&[], |p| &p.sockets),
            old_at: mem::take(&mut self.live.at),
            stamp: self.stamp,
            first: start.previous.is_none(),
            shared: Arc::new(start.moment),
        };
        let mut changes = Changes::default();

        let Followed {
            mut at,
            found,
            mut fresh,
        } = self.follow_known(&pass, &mut changes);
        let mut vanished = self.remove_vanished(&pass, &found);
        let claimed = self.match_fresh(&mut fresh, &vanished);
        if claimed || !vanished.is_empty() {
            self.lingering.touch();
        }
        // The lingering rows, by position, for fresh sockets to take up.
        let mut lingering = if claimed {
            self.lingering.take_all()
        } else {
            Vec::new()
        };
        let displaced = self.admit_fresh(
            &pass,
            &fresh,
            (&mut vanished, &mut lingering),
            &mut at,
            &mut changes,
        );
        self.live.at = at;
        self.settle_lingering(claimed.then_some(lingering), &displaced);
        if let (Some(previous), Some(last_seen)) = (start.previous.as_deref(), start.last_seen) {
            changes.closed +=
                self.close_vanished(vanished, previous, snapshot, last_seen, start.moment);
        }
        self.tick(now);
        changes
    }

    /// Phase 1: whether `snapshot` is news, and if so make it the current one.
    ///
    /// Not news: the empty placeholder (`seq` 0), a failed poll (it repeats the last good
    /// one), the current snapshot fed again. A snapshot the collector found to repeat its
    /// predecessor is news only in that every socket was seen again: it becomes current (so
    /// "last seen" moves on) and nothing else is done.
    fn begin(&mut self, snapshot: &Arc<Snapshot>, now: Instant) -> Option<Start> {
        if !self.accepts(snapshot) {
            return None;
        }
        let moment = Moment {
            at: now,
            wall: snapshot.taken_at,
        };
        let previous = self.current.replace(Arc::clone(snapshot));
        let last_seen = self.current_at.replace(moment);
        if let Some(previous) = &previous
            && repeats(snapshot, previous)
        {
            return None;
        }
        self.stamp += 1;
        self.processes.refresh_from(snapshot, self.stamp);
        Some(Start {
            previous,
            last_seen,
            moment,
        })
    }

    fn accepts(&self, snapshot: &Arc<Snapshot>) -> bool {
        if snapshot.seq == 0 || snapshot.error.is_some() {
            return false;
        }
        self.current.as_ref().is_none_or(|c| {
            !Arc::ptr_eq(c, snapshot) && (c.seq, c.taken_at) != (snapshot.seq, snapshot.taken_at)
        })
    }

    /// Phase 2: the sockets already known. Each gets its new position, its state change
    /// marked, and its owners followed; the others are returned as fresh.
    ///
    /// The socket table comes in much the same order every time, so each socket is first
    /// compared with the one after the last match in the previous snapshot, and looked up by
    /// hash only when that fails. `found` tells, by position in the previous snapshot, which
    /// of its sockets are still there, so finding the vanished ones needs no pass over every
    /// live socket.
    fn follow_known<'s>(&mut self, pass: &Pass<'s>, changes: &mut Changes) -> Followed<'s> {
        let snapshot = pass.snapshot;
        let (old, old_at) = (pass.old, &pass.old_at);
        let mut found = vec![false; old.len()];
        let mut at = Vec::with_capacity(snapshot.sockets.len());
        let mut fresh = Vec::new();
        let mut cursor = 0;
        for (index, socket) in snapshot.sockets.iter().enumerate() {
            let key = tracker_key(socket);
            let slot = match (old.get(cursor), old_at.get(cursor)) {
                (Some(o), Some(&slot)) if slot != NO_SLOT && tracker_key(o) == key => Some(slot),
                _ => self.live.find(&key, |t| pass.was_at(t)),
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
                Some((_, t)) if t.stamp == pass.stamp => at.push(NO_SLOT),
                Some((slot, t)) => {
                    let was = t.index as usize;
                    if let Some(f) = found.get_mut(was) {
                        *f = true;
                    }
                    cursor = was + 1;
                    t.stamp = pass.stamp;
                    t.index = position(index);
                    let listed = t.mark.is_some();
                    if let Some(mark) = t.restate(socket.state, &pass.shared) {
                        self.marked.note(
                            slot,
                            t.serial,
                            listed,
                            mark,
                            pass.shared.at,
                            &self.config,
                        );
                        changes.changed += 1;
                    }
                    t.refresh_owners(socket.host, &socket.pids, &self.processes);
                    at.push(slot);
                }
            }
        }
        Followed { at, found, fresh }
    }

    /// Phase 3: the records of the previous snapshot's sockets that phase 2 did not find.
    fn remove_vanished(&mut self, pass: &Pass<'_>, found: &[bool]) -> Vanished {
        let mut vanished = Vec::new();
        for ((socket, &found), &slot) in pass.old.iter().zip(found).zip(&pass.old_at) {
            // A repeated key has no slot; a slot whose socket was found carries this stamp.
            if !found && self.live.get(slot).is_some_and(|t| t.stamp != pass.stamp) {
                let key = tracker_key(socket);
                if let Some(t) = self.live.remove(slot, &key) {
                    vanished.push((key, Some(t)));
                }
            }
        }
        vanished
    }

    /// Phase 4: decide which fresh sockets continue a vanished or lingering one, by setting
    /// their origin. Returns whether a lingering row was taken up.
    fn match_fresh(&self, fresh: &mut [Fresh<'_>], vanished: &Vanished) -> bool {
        let rows = self.lingering.rows();
        let mut taken = vec![false; rows.len()];
        // A lingering socket that is back under its own key was only missed by a poll.
        if !rows.is_empty() {
            let mut by_key: Option<KeyMap<usize>> = None;
            for f in fresh.iter_mut() {
                if !self.lingering.contains(&f.key) {
                    continue;
                }
                let by_key = by_key.get_or_insert_with(|| {
                    rows.iter().enumerate().map(|(l, c)| (c.key(), l)).collect()
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
        if !vanished.is_empty() || !rows.is_empty() {
            let successors: KeyMap<usize> = fresh
                .iter()
                .enumerate()
                .filter(|(_, f)| f.origin == Origin::New && may_continue_another(&f.key))
                .map(|(i, f)| (addresses(&f.key), i))
                .collect();
            if !successors.is_empty() {
                let mut claim = |key: &SocketKey, origin: Origin| -> bool {
                    if may_continue_another(key) {
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
                for (l, c) in rows.iter().enumerate() {
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

    /// Phase 5: give each fresh socket a record — a new one, or the vanished or lingering one
    /// phase 4 matched it with (taken out of those lists) — and its place in `at`. Returns
    /// the keys of lingering rows that a live socket took over.
    fn admit_fresh(
        &mut self,
        pass: &Pass<'_>,
        fresh: &[Fresh<'_>],
        (vanished, lingering): (&mut Vanished, &mut [Option<ClosedSocket>]),
        at: &mut [usize],
        changes: &mut Changes,
    ) -> KeySet {
        self.live.reserve(fresh.len());
        let mut displaced = KeySet::default();
        for f in fresh {
            let Some(record) = self.record_for(pass, f, vanished, lingering) else {
                continue;
            };
            let Some((slot, t)) = self.live.insert(f.key, record, |t| pass.now_at(t)) else {
                continue; // The same key twice in one snapshot.
            };
            if self.lingering.forget_key(&f.key) {
                // A closed socket with this key still lingers; the live one replaces it.
                displaced.insert(f.key);
            }
            if f.origin == Origin::New {
                changes.new += usize::from(!pass.first);
            } else {
                t.index = position(f.index);
                t.stamp = pass.stamp;
                if t.restate(f.socket.state, &pass.shared).is_some() {
                    changes.changed += 1;
                }
                t.refresh_owners(f.socket.host, &f.socket.pids, &self.processes);
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
        displaced
    }

    /// The record a fresh socket starts from; `None` when it has none of its own (its key
    /// is live already: the same key twice in one snapshot).
    fn record_for(
        &mut self,
        pass: &Pass<'_>,
        f: &Fresh<'_>,
        vanished: &mut Vanished,
        lingering: &mut [Option<ClosedSocket>],
    ) -> Option<Tracked> {
        match f.origin {
            Origin::New => {
                let mut t = Tracked::new(f.index, pass.stamp, f.socket.state);
                if !pass.first {
                    t.appeared = Some(Arc::clone(&pass.shared));
                    t.mark = Some((Mark::New, Arc::clone(&pass.shared)));
                }
                t.refresh_owners(f.socket.host, &f.socket.pids, &self.processes);
                Some(t)
            }
            _ if self.live.find(&f.key, |t| pass.now_at(t)).is_some() => None,
            Origin::Vanished(v) => vanished.get_mut(v).and_then(|(_, t)| t.take()),
            Origin::Back(l) | Origin::Lingering(l) => {
                let closed = lingering.get_mut(l).and_then(Option::take)?;
                self.lingering.forget_key(&closed.key());
                Some(Tracked::reopened(closed))
            }
        }
    }

    /// Phase 6: put back the lingering rows phase 5 did not take up (`None`: none were taken
    /// out), oldest first, and file in the history the rows whose key a live socket took over.
    fn settle_lingering(
        &mut self,
        taken_out: Option<Vec<Option<ClosedSocket>>>,
        displaced: &KeySet,
    ) {
        if let Some(rows) = taken_out {
            self.lingering.put_back(rows);
        }
        if !displaced.is_empty() {
            for closed in self.lingering.take_displaced(displaced) {
                self.history.file(closed, self.config.max_closed);
            }
        }
    }

    /// Phase 7: the vanished records nothing continued become closing rows, copied out of
    /// `previous`, the snapshot they were last seen in (at `last_seen`). Returns how many.
    /// The sockets of a machine `now` no longer lists (a host taken out of the table) did
    /// not close: they are forgotten.
    fn close_vanished(
        &mut self,
        vanished: Vanished,
        previous: &Snapshot,
        now: &Snapshot,
        last_seen: Moment,
        gone: Moment,
    ) -> usize {
        let mut closed = 0;
        self.lingering.reserve(vanished.len());
        let listed = |host: u16| {
            if now.machines.is_empty() {
                host == 0
            } else {
                now.machine(host).is_some()
            }
        };
        for (_, t) in vanished {
            let Some(t) = t else { continue };
            let Some(socket) = previous.sockets.get(t.index as usize) else {
                continue;
            };
            if !listed(socket.host) {
                continue;
            }
            self.lingering
                .push(t.close(socket.clone(), previous, last_seen, gone));
            closed += 1;
        }
        closed
    }
}

/// Whether the collector found `snapshot` to show the same as `previous`, its predecessor.
/// (A `content_seq` of 0 is unknown: hand-built snapshots.)
fn repeats(snapshot: &Snapshot, previous: &Snapshot) -> bool {
    snapshot.content_seq != 0
        && snapshot.content_seq == previous.content_seq
        && snapshot.seq > previous.seq
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::super::*;

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

    /// A socket as the kernel names it: with its cookie.
    fn cookied(mut socket: Socket, cookie: u64) -> Socket {
        socket.cookie = cookie;
        socket
    }

    #[test]
    fn with_cookies_a_connection_is_followed_into_time_wait_by_its_cookie() {
        let mut sc = Script::new();
        sc.poll(0, vec![], &[]);
        let est = cookied(conn(40000, SockState::Established, 12, &[20]), 7);
        // The kernel's TIME_WAIT entry keeps the connection's cookie, and has no inode.
        let tw = cookied(conn(40000, SockState::TimeWait, 0, &[]), 7);
        sc.poll(1000, vec![est.clone()], &[process(20, "curl")]);
        let changes = sc.poll(2000, vec![tw.clone()], &[]);
        assert_eq!(
            changes,
            Changes {
                new: 0,
                changed: 1,
                closed: 0
            }
        );
        assert_eq!(est.key(), tw.key());
        assert_eq!(
            sc.mark(&tw),
            Some(Mark::StateChanged {
                from: SockState::Established
            })
        );
        assert!(sc.tracker.closing().is_empty());
        sc.poll(62_000, vec![], &[]);
        sc.tick(64_000);
        let entry = &sc.tracker.history()[0];
        assert_eq!(entry.process_label(), "curl");
        assert_eq!(
            entry.states.as_slice(),
            [SockState::Established, SockState::TimeWait]
        );
    }

    #[test]
    fn with_cookies_a_socket_reusing_the_addresses_and_inode_is_another_socket() {
        let mut sc = Script::new();
        sc.poll(0, vec![], &[]);
        let first = cookied(conn(40000, SockState::Established, 12, &[20]), 7);
        let reused = cookied(conn(40000, SockState::Established, 12, &[20]), 8);
        sc.poll(1000, vec![first.clone()], &[process(20, "curl")]);
        let changes = sc.poll(2000, vec![reused.clone()], &[process(20, "curl")]);
        assert_eq!(
            changes,
            Changes {
                new: 1,
                changed: 0,
                closed: 1
            }
        );
        assert_eq!(sc.mark(&reused), Some(Mark::New));
        assert_eq!(sc.mark(&first), Some(Mark::Closing));
    }

    #[test]
    fn with_cookies_a_udp_socket_that_connects_is_the_same_socket() {
        let mut sc = Script::new();
        sc.poll(0, vec![], &[]);
        let mut bound = cookied(listener(5353, 30, &[20]), 9);
        bound.proto = Proto::Udp;
        bound.state = SockState::Unconn;
        let mut connected = bound.clone();
        connected.remote_addr = Some(PEER);
        connected.remote_port = Some(53);
        connected.state = SockState::Established;
        sc.poll(1000, vec![bound.clone()], &[process(20, "resolver")]);
        let changes = sc.poll(2000, vec![connected.clone()], &[process(20, "resolver")]);
        assert_eq!(
            changes,
            Changes {
                new: 0,
                changed: 1,
                closed: 0
            }
        );
        assert_eq!(
            sc.mark(&connected),
            Some(Mark::StateChanged {
                from: SockState::Unconn
            })
        );
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
}
