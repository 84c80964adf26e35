//! The live sockets: what the tracker keeps of each, and the index that finds a record by its
//! socket's key.
//!
//! A poll may list 100,000 sockets, so a record is small and holds no copy of its socket:
//! records sit in slots that stay put while the socket lives and point at the socket's
//! position in the current snapshot; the index holds only slots and hashes, and reads a key
//! from the socket its record points at.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::HashTable;

use super::super::{FastHash, Snapshot, SockState, Socket, SocketKey};
use super::owners::OwnerList;
use super::{Appeared, ClosedSocket, Mark, Moment, StateTrail};

/// The key the tracker follows a socket by. Every key the tracker computes comes from here.
pub(super) fn tracker_key(socket: &Socket) -> SocketKey {
    socket.key()
}

/// A socket's protocol and addresses, without its inode: what a connection keeps when the
/// kernel replaces it by its TIME_WAIT entry.
pub(super) fn addresses(key: &SocketKey) -> SocketKey {
    SocketKey {
        inode: None,
        ..*key
    }
}

/// Whether a key is the kernel's stand-in for a connection its process closed (TIME_WAIT, or
/// an orphan finishing the close), which may continue a socket that just vanished. A key with
/// a cookie never needs this: the kernel's stand-in keeps the connection's cookie, so it is
/// the same key.
pub(super) fn may_continue_another(key: &SocketKey) -> bool {
    key.cookie == 0 && key.inode == Some(0)
}

/// Maps keyed by socket.
pub(super) type KeyMap<V> = HashMap<SocketKey, V, FastHash>;
pub(super) type KeySet = HashSet<SocketKey, FastHash>;

/// A position in a snapshot, as kept in a record. Socket tables are far below 2³² rows.
pub(super) fn position(index: usize) -> u32 {
    u32::try_from(index).unwrap_or(u32::MAX)
}

/// Marks a position of the snapshot whose socket has no slot of its own (a repeated key).
pub(super) const NO_SLOT: usize = usize::MAX;

/// The live sockets. Records sit in slots that stay put while the socket lives; the snapshot
/// order maps to them through `at`, and keys through `index`, which changes only when sockets
/// come or go.
#[derive(Debug, Default)]
pub(super) struct Live {
    slots: Vec<Option<Tracked>>,
    free: Vec<usize>,
    /// The slot of each live key with the key's hash. The key itself is not copied here: it
    /// is read from the socket the record points at, which the caller resolves.
    index: HashTable<(u64, usize)>,
    hasher: FastHash,
    /// The slot of each socket of the current snapshot, by position, or [`NO_SLOT`].
    pub(super) at: Vec<usize>,
    /// Numbers the records, to tell a slot's record from a later one in the same slot.
    serials: u64,
}

impl Live {
    pub(super) fn get(&self, slot: usize) -> Option<&Tracked> {
        self.slots.get(slot).and_then(Option::as_ref)
    }

    pub(super) fn get_mut(&mut self, slot: usize) -> Option<&mut Tracked> {
        self.slots.get_mut(slot).and_then(Option::as_mut)
    }

    /// The slot of the record for `key`; `key_of` tells the key of a record.
    pub(super) fn find(
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

    pub(super) fn reserve(&mut self, additional: usize) {
        self.index.reserve(additional, |&(hash, _)| hash);
        self.slots
            .reserve(additional.saturating_sub(self.free.len()));
    }

    /// Add a record under a key that is not live yet; `None` when it is.
    pub(super) fn insert(
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

    pub(super) fn remove(&mut self, slot: usize, key: &SocketKey) -> Option<Tracked> {
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

/// What the tracker keeps of a live socket: one per socket of the table, so kept small.
#[derive(Debug)]
pub(super) struct Tracked {
    /// Position in the current snapshot's socket list.
    pub(super) index: u32,
    /// The last accepted snapshot it was in.
    pub(super) stamp: u64,
    /// Set by [`Live::insert`].
    pub(super) serial: u64,
    /// When it was first seen; `None` when it was there at the start.
    pub(super) appeared: Option<Arc<Moment>>,
    pub(super) states: StateTrail,
    /// [`Mark::New`] or [`Mark::StateChanged`], and since when.
    pub(super) mark: Option<(Mark, Arc<Moment>)>,
    /// The processes that last held it, kept when it has none any more (TIME_WAIT).
    pub(super) owners: OwnerList,
    /// Some owner's details were not known yet.
    pub(super) incomplete: bool,
}

impl Tracked {
    pub(super) fn new(index: usize, stamp: u64, state: SockState) -> Self {
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

    pub(super) fn appeared(&self) -> Appeared {
        self.appeared
            .as_deref()
            .map_or(Appeared::BeforeStart, |m| Appeared::At(*m))
    }

    /// The socket is now in `state`: if that is another state, record it and mark the change
    /// as of `since`. Returns the new mark.
    pub(super) fn restate(&mut self, state: SockState, since: &Arc<Moment>) -> Option<Mark> {
        let from = self.states.last();
        if from == state {
            return None;
        }
        self.states.push(state);
        let mark = Mark::StateChanged { from };
        self.mark = Some((mark, Arc::clone(since)));
        Some(mark)
    }

    /// A closed socket that turned out to be alive after all.
    pub(super) fn reopened(closed: ClosedSocket) -> Self {
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

    /// The socket has gone: what is kept of it, copied out of `seen_in`, the last snapshot it
    /// was in.
    pub(super) fn close(
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
            final_stats: None,
        }
    }
}
