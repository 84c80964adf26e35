//! Taking in the kernel's announcements of destroyed sockets, which snapshots carry
//! (`Snapshot::ended`). The window takes them after the snapshot that shows the table
//! without those sockets, all of them, also those of snapshots it skipped.
//!
//! The snapshot already leaves destroyed sockets out, so the usual phases close them; what
//! the announcements add is what only they know. A closing row gets the connection's final
//! counters and the moment it went. A socket that no snapshot ever had — it opened and closed
//! between two polls — goes straight to the history as [`Appeared::BetweenPolls`], with its
//! final counters and, where it can be told, its process: the owner of the listener on its
//! port for a connection that listener accepted. (Not to the table: under a stream of short
//! connections it would be flooded with rows no one could read.)

use std::time::SystemTime;

use super::super::ended::{Ended, accepting_listener};
use super::super::{Snapshot, SockState};
use super::ChangeTracker;
use super::closed::{Appeared, ClosedSocket, Moment, OwnerProcess, StateTrail};

impl ChangeTracker {
    /// Take in announcements of destroyed sockets, after [`update`](Self::update) with the
    /// snapshot that no longer has them (`snapshot`, for the listeners' owners). Returns when
    /// each of those no poll ever saw went: closes that no update counted.
    pub fn take_ended(&mut self, ended: &[Ended], snapshot: &Snapshot) -> Vec<SystemTime> {
        let mut unseen = Vec::new();
        for ended in ended {
            let key = ended.socket.key();
            let at = Moment {
                at: ended.instant,
                wall: ended.at,
            };
            if let Some(row) = self.lingering.find_mut(&key) {
                row.final_stats = ended.stats;
                row.gone = at;
                continue;
            }
            // Still live: its TIME_WAIT entry, which closes in its turn.
            if self.live_by_key(&key).is_some() {
                continue;
            }
            let mut socket = ended.socket.clone();
            if let Some(listener) = accepting_listener(snapshot.of(&socket), &socket) {
                socket.pids = listener.pids.clone();
            }
            let owners = socket
                .pids
                .iter()
                .map(|&pid| OwnerProcess {
                    pid,
                    info: self.processes.get(socket.host, pid),
                })
                .collect();
            let closed = ClosedSocket {
                socket,
                owners,
                states: StateTrail::new(SockState::Closed),
                appeared: Appeared::BetweenPolls,
                last_seen: at,
                gone: at,
                uid_user: None,
                final_stats: ended.stats,
            };
            self.history.file(closed, self.config.max_closed);
            unseen.push(ended.at);
        }
        unseen
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::super::testkit::*;
    use super::super::*;
    use crate::model::ended::Ended;
    use crate::model::traffic::TcpStats;

    fn announced(socket: &Socket, sc: &Script, t: u64, bytes: u64) -> Ended {
        let mut socket = socket.clone();
        socket.state = SockState::Closed;
        socket.pids = Default::default();
        Ended {
            socket,
            stats: Some(TcpStats {
                bytes_sent: Some(bytes),
                bytes_received: Some(7),
                rtt_us: 250,
                ..TcpStats::default()
            }),
            time_wait: false,
            at: SystemTime::UNIX_EPOCH + ms(t),
            instant: sc.at(t),
        }
    }

    fn current(sc: &Script) -> Arc<Snapshot> {
        Arc::new(Snapshot {
            seq: sc.seq,
            ..Snapshot::default()
        })
    }

    #[test]
    fn a_closing_row_gets_its_final_counters_and_the_moment_it_went() {
        let mut sc = Script::new();
        sc.poll(0, vec![], &[]);
        let mut a = conn(40000, SockState::Established, 12, &[20]);
        a.cookie = 9;
        sc.poll(1000, vec![a.clone()], &[process(20, "curl")]);
        sc.poll(1200, vec![], &[]);
        let ended = announced(&a, &sc, 1100, 5000);
        sc.tracker.take_ended(&[ended], &current(&sc));
        let row = &sc.tracker.closing()[0];
        assert_eq!(row.final_stats.and_then(|t| t.bytes_sent), Some(5000));
        assert_eq!(row.gone.at, sc.at(1100));
        assert_eq!(row.process_label(), "curl");
        assert!(sc.tracker.history().is_empty(), "one entry, not two");
    }

    #[test]
    fn a_connection_no_poll_saw_goes_to_the_history_with_the_listener_s_owner() {
        let mut sc = Script::new();
        let mut l = listener(8080, 11, &[10]);
        l.cookie = 1;
        sc.poll(0, vec![l.clone()], &[process(10, "nginx")]);
        // Accepted by nginx and gone between two polls; and an outgoing one nobody saw.
        let mut accepted = conn(8080, SockState::Established, 0, &[]);
        accepted.cookie = 2;
        let mut outgoing = conn(41000, SockState::Established, 0, &[]);
        outgoing.cookie = 3;
        sc.poll(1000, vec![l.clone()], &[process(10, "nginx")]);
        let snap = Arc::new(Snapshot {
            sockets: vec![l.clone()],
            processes: [(10, process(10, "nginx"))].into_iter().collect(),
            ..Snapshot::default()
        });
        let ended = [
            announced(&accepted, &sc, 500, 300),
            announced(&outgoing, &sc, 600, 40),
        ];
        sc.tracker.take_ended(&ended, &snap);
        let history = sc.tracker.history();
        assert_eq!(history.len(), 2);
        let by_port = |port| {
            history
                .iter()
                .find(|c| c.socket.local_port == port)
                .unwrap()
        };
        let a = by_port(8080);
        assert_eq!(a.appeared, Appeared::BetweenPolls);
        assert_eq!(a.process_label(), "nginx");
        assert_eq!(a.final_stats.and_then(|t| t.bytes_sent), Some(300));
        assert_eq!(a.states.as_slice(), [SockState::Closed]);
        let o = by_port(41000);
        assert_eq!(o.process_label(), "(owner not seen)");
        assert_eq!(o.seen_for(), None);
    }
}
