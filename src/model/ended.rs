//! Sockets the kernel announced it destroyed, as they reach the window and `portscope watch`.
//!
//! A poll sees only the sockets alive at that moment; a connection that opens and closes
//! between two polls is invisible to it. On Linux the kernel announces every socket it
//! destroys (any user's, without privilege), with the socket's addresses, cookie and, for
//! TCP, its final counters. Those announcements are [`Ended`]s.

use std::time::{Instant, SystemTime};

use super::traffic::TcpStats;
use super::{Proto, Snapshot, SockState, Socket};

/// One socket the kernel destroyed.
#[derive(Clone, Debug, PartialEq)]
pub struct Ended {
    /// The socket as the announcement gives it: protocol, both ends, cookie and the closed
    /// state. The kernel sends no uid or inode with it: the owner must come from an earlier
    /// poll that saw the same cookie.
    pub socket: Socket,
    /// A TCP connection's final counters: bytes, round-trip time, retransmissions.
    pub stats: Option<TcpStats>,
    /// The kernel keeps the connection's TIME_WAIT entry in its place (same cookie): the
    /// connection's process closed it first. The socket table still lists it, in TIME_WAIT.
    pub time_wait: bool,
    /// When the announcement arrived.
    pub at: SystemTime,
    /// The same moment, for arithmetic within this run.
    pub instant: Instant,
}

/// What a feed of announcements delivered since it was last asked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EndedBatch {
    pub ended: Vec<Ended>,
    /// How many times the kernel dropped announcements since the last batch because the
    /// feed's buffer was full (a flood of closes): the sockets closed meanwhile are found by
    /// the next poll instead, without their final counters, and those that lived less than a
    /// poll are not seen at all.
    pub overflows: u64,
}

/// For a TCP connection no poll saw: the listener on its local port, whose process accepted it.
/// `None` for anything else (an outgoing connection's process cannot be told afterwards).
pub fn accepting_listener<'s>(snap: &'s Snapshot, socket: &Socket) -> Option<&'s Socket> {
    if socket.proto != Proto::Tcp || socket.remote_addr.is_none() {
        return None;
    }
    snap.sockets.iter().find(|l| {
        l.proto == Proto::Tcp
            && l.state == SockState::Listen
            && l.local_port == socket.local_port
            && (l.local_addr.is_unspecified()
                || l.local_addr.to_canonical() == socket.local_addr.to_canonical())
    })
}
