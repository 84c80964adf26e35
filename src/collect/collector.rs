//! The collector thread: owns the source, polls it on an interval, sends whole snapshots.
//!
//! Snapshots go one way over a channel, control messages the other way; nothing is shared
//! under a lock, so the UI can never stall on the OS. The wait between polls is a
//! `recv_timeout` on the control channel, so pause, refresh and shutdown act at once.
//!
//! Where the source announces destroyed sockets (Linux), the announcements come in on the
//! same channel: between two polls the collector sends the last poll again without the
//! sockets that were destroyed (or with them in TIME_WAIT, where the kernel keeps that entry),
//! at most every [`ENDED_EVERY`], so a closed connection leaves the table at once. Every
//! snapshot carries the announcements since the one before (`Snapshot::ended`), including
//! connections that lived and died between two polls.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use std::collections::HashMap;

use super::{CollectError, Poll, SocketSource};
use crate::model::ended::{Ended as EndedSocket, EndedBatch};
use crate::model::{FastHash, Pids, Snapshot, SockState, SocketKey};

/// Shortest and longest poll intervals the collector accepts.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);
pub const MAX_INTERVAL: Duration = Duration::from_secs(60);

/// What the UI can ask of the collector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Pause,
    Resume,
    /// Poll now, also while paused.
    RefreshNow,
    SetInterval(Duration),
    Shutdown,
}

/// The shortest time between two snapshots sent for announced closes.
pub const ENDED_EVERY: Duration = Duration::from_millis(200);

/// What reaches the collector thread: the window's controls, and the source's word that
/// sockets were destroyed.
enum Message {
    Control(Control),
    Ended,
}

pub struct Collector {
    control: Sender<Message>,
    snapshots: Receiver<Arc<Snapshot>>,
    thread: Option<JoinHandle<()>>,
    relay: Arc<Mutex<Option<Relay>>>,
    /// Whether a relay was set: read by every frame, which must not wait for the relay's
    /// lock while the collector hands a table over.
    relaying: AtomicBool,
}

/// Where a collector hands each table instead of sending it to [`Collector::latest`] and
/// calling its `wake`: see [`Collector::relay_to`]. A relay that cannot take a table any more
/// gives it back, and the table goes the usual way.
pub type Relay = Box<dyn Fn(Arc<Snapshot>) -> Result<(), Arc<Snapshot>> + Send>;

impl Collector {
    /// Start polling `source` every `interval`. `wake` is called after each snapshot is sent
    /// (the GUI passes `request_repaint`).
    pub fn spawn(
        source: Box<dyn SocketSource>,
        interval: Duration,
        wake: impl Fn() + Send + 'static,
    ) -> std::io::Result<Collector> {
        let (control_tx, control_rx) = mpsc::channel();
        let (snap_tx, snap_rx) = mpsc::channel();
        let ended_tx = control_tx.clone();
        let relay: Arc<Mutex<Option<Relay>>> = Arc::default();
        let relay_there = relay.clone();
        let thread = thread::Builder::new()
            .name("portscope-collector".to_owned())
            .spawn(move || {
                super::background::give_way();
                let mut source = source;
                // Where the system has no announcements, closes are found by polls alone.
                let unavailable = source
                    .watch_ended(Box::new(move || {
                        let _ = ended_tx.send(Message::Ended);
                    }))
                    .err();
                let out = Out {
                    snapshots: snap_tx,
                    wake,
                    relay: relay_there,
                };
                run(source, interval, control_rx, out, unavailable)
            })?;
        Ok(Collector {
            control: control_tx,
            snapshots: snap_rx,
            thread: Some(thread),
            relay,
            relaying: AtomicBool::new(false),
        })
    }

    /// From the next table on, hand each table to `relay` instead: the window's thread then
    /// neither receives it here nor is woken for it (the window's change tracker, on a thread
    /// of its own, takes large tables straight from the collector).
    pub fn relay_to(&self, relay: Relay) {
        *lock(&self.relay) = Some(relay);
        self.relaying.store(true, Ordering::SeqCst);
    }

    /// Whether the tables go to a relay.
    pub fn relays(&self) -> bool {
        self.relaying.load(Ordering::SeqCst)
    }

    /// The newest snapshot that arrived since the last call, if any. Never blocks.
    pub fn latest(&self) -> Option<Arc<Snapshot>> {
        self.snapshots.try_iter().last()
    }

    /// The newest snapshot that arrived since the last call, with the announcements of
    /// destroyed sockets that every snapshot since the last call carried (`Snapshot::ended`):
    /// a reader that takes only the newest must not lose those of the ones it skips.
    pub fn latest_with_ended(&self) -> Option<(Arc<Snapshot>, Vec<EndedSocket>)> {
        let mut newest = None;
        let mut ended = Vec::new();
        for snapshot in self.snapshots.try_iter() {
            ended.extend(snapshot.ended.iter().cloned());
            newest = Some(snapshot);
        }
        newest.map(|s| (s, ended))
    }

    /// Wait up to `timeout` for a snapshot (for tests and the CLI; never on the UI thread).
    pub fn wait(&self, timeout: Duration) -> Option<Arc<Snapshot>> {
        let first = self.snapshots.recv_timeout(timeout).ok()?;
        Some(self.latest().unwrap_or(first))
    }

    pub fn send(&self, control: Control) {
        // If the thread is gone there is nothing left to control.
        let _ = self.control.send(Message::Control(control));
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.send(Control::Shutdown);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The relay's lock: a relay that panicked leaves nothing half-done behind it.
fn lock(relay: &Mutex<Option<Relay>>) -> MutexGuard<'_, Option<Relay>> {
    relay.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where the collector's tables go.
struct Out<W> {
    snapshots: Sender<Arc<Snapshot>>,
    wake: W,
    relay: Arc<Mutex<Option<Relay>>>,
}

impl<W: Fn()> Out<W> {
    /// Hand `snapshot` on: to the relay if there is one that takes it, else to the window,
    /// which is woken. False once nobody listens any more.
    fn send(&self, snapshot: Arc<Snapshot>) -> bool {
        let snapshot = match lock(&self.relay).as_ref() {
            Some(relay) => match relay(snapshot) {
                Ok(()) => return true,
                Err(back) => back,
            },
            None => snapshot,
        };
        if self.snapshots.send(snapshot).is_err() {
            return false;
        }
        (self.wake)();
        true
    }
}

fn run(
    mut source: Box<dyn SocketSource>,
    interval: Duration,
    control: Receiver<Message>,
    out: Out<impl Fn()>,
    ended_unavailable: Option<String>,
) {
    let mut interval = clamp(interval);
    let mut paused = false;
    let mut seq = 0u64;
    // The last snapshot sent, to tell whether a poll changed anything. Only weakly held: the
    // window may let it go (it replaces it with a copy that shows closed rows), and a large
    // table is then not kept twice; a poll that cannot be compared is simply sent.
    let mut previous: Option<Weak<Snapshot>> = None;
    // The first poll, and any the user asked for, are always sent.
    let mut asked = true;
    let mut ended = Ended::default();
    let send = |snapshot: Snapshot, previous: &mut Option<Weak<Snapshot>>| -> bool {
        let snapshot = Arc::new(snapshot);
        *previous = Some(Arc::downgrade(&snapshot));
        out.send(snapshot)
    };
    loop {
        let started = Instant::now();
        seq += 1;
        let last = previous.as_ref().and_then(Weak::upgrade);
        let mut snapshot = take(source.as_mut(), seq, last.as_deref());
        snapshot.ended_unavailable.clone_from(&ended_unavailable);
        ended.apply(source.drain_ended(), &mut snapshot);
        let unchanged = last.as_ref().is_some_and(|p| p.same_content(&snapshot));
        if let (true, Some(p)) = (unchanged, &last) {
            snapshot.content_seq = p.content_seq;
            snapshot.changed_at = p.changed_at;
        }
        drop(last);
        // A poll that found nothing new is dropped here: the window keeps what it shows, is
        // not redrawn, and no second copy of a large table is kept. Idle stays idle.
        if !unchanged || asked {
            if !send(snapshot, &mut previous) {
                return;
            }
        } else {
            // Now, not after the wait.
            drop(snapshot);
        }
        asked = false;

        // Wait for the next poll, acting on control messages and announcements as they come.
        let mut deadline = started + interval;
        let mut ended_waiting = false;
        loop {
            let wake_at = if ended_waiting {
                deadline.min(ended.sent_at + ENDED_EVERY)
            } else {
                deadline
            };
            let message = if paused {
                match control.recv() {
                    Ok(m) => m,
                    Err(_) => return,
                }
            } else {
                match control.recv_timeout(wake_at.saturating_duration_since(Instant::now())) {
                    Ok(m) => m,
                    Err(RecvTimeoutError::Timeout) if Instant::now() >= deadline => break,
                    Err(RecvTimeoutError::Timeout) => Message::Ended,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            };
            match message {
                Message::Control(Control::Shutdown) => return,
                Message::Control(Control::Pause) => paused = true,
                Message::Control(Control::Resume) => {
                    paused = false;
                    asked = true;
                    break;
                }
                Message::Control(Control::RefreshNow) => {
                    asked = true;
                    break;
                }
                Message::Control(Control::SetInterval(d)) => {
                    interval = clamp(d);
                    deadline = started + interval;
                }
                // While paused the table stays as it is; the announcements wait in the
                // source for the next poll.
                Message::Ended if paused => {}
                Message::Ended if ended.sent_at.elapsed() < ENDED_EVERY => ended_waiting = true,
                Message::Ended => {
                    ended_waiting = false;
                    let Some(last) = previous.as_ref().and_then(Weak::upgrade) else {
                        continue; // The next poll carries them.
                    };
                    let batch = source.drain_ended();
                    if batch.ended.is_empty() && batch.overflows == 0 {
                        continue;
                    }
                    seq += 1;
                    let mut snapshot = Snapshot::clone(&last);
                    drop(last);
                    snapshot.seq = seq;
                    snapshot.content_seq = seq;
                    snapshot.taken_at = SystemTime::now();
                    snapshot.changed_at = snapshot.taken_at;
                    snapshot.ended.clear();
                    ended.apply(batch, &mut snapshot);
                    ended.sent_at = Instant::now();
                    if !send(snapshot, &mut previous) {
                        return;
                    }
                }
            }
        }
    }
}

/// What the collector keeps of the announcements.
struct Ended {
    /// How many times the kernel dropped some, since the start.
    lost: u64,
    /// When the last snapshot for announcements went out.
    sent_at: Instant,
}

impl Default for Ended {
    fn default() -> Self {
        Ended {
            lost: 0,
            sent_at: Instant::now(),
        }
    }
}

impl Ended {
    /// Make `snapshot` the table after `batch`: destroyed sockets out of it, or in TIME_WAIT
    /// where the kernel keeps that entry, and the announcements with it.
    fn apply(&mut self, batch: EndedBatch, snapshot: &mut Snapshot) {
        self.lost += batch.overflows;
        snapshot.ended_lost = self.lost;
        if batch.ended.is_empty() {
            return;
        }
        let gone: HashMap<SocketKey, bool, FastHash> = batch
            .ended
            .iter()
            .map(|e| (e.socket.key(), e.time_wait))
            .collect();
        let mut removed = Vec::new();
        snapshot.sockets.retain_mut(|s| match gone.get(&s.key()) {
            None => true,
            Some(true) => {
                // The kernel's TIME_WAIT entry: no file, no owner, no queues.
                s.state = SockState::TimeWait;
                s.inode = Some(0);
                s.uid = None;
                s.pids = Pids::new();
                (s.recv_q, s.send_q) = (0, 0);
                true
            }
            Some(false) => {
                removed.push(s.cookie);
                false
            }
        });
        for cookie in removed {
            snapshot.traffic.remove(&cookie);
            snapshot.drops.remove(&cookie);
        }
        snapshot.ended.extend(batch.ended);
    }
}

fn clamp(interval: Duration) -> Duration {
    interval.clamp(MIN_INTERVAL, MAX_INTERVAL)
}

/// One poll, turned into a snapshot. A failed poll keeps the last good sockets and says why;
/// a panic inside the OS libraries is caught and reported the same way.
fn take(source: &mut dyn SocketSource, seq: u64, previous: Option<&Snapshot>) -> Snapshot {
    let taken_at = SystemTime::now();
    let start = Instant::now();
    let result = panic::catch_unwind(AssertUnwindSafe(|| source.poll())).unwrap_or_else(|p| {
        let what = p
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown error".to_owned());
        Err(CollectError::Panicked(what))
    });
    let duration = start.elapsed();
    let mut snap = match result {
        Ok(poll) => Snapshot::from_poll(seq, taken_at, duration, poll),
        Err(e) => {
            let last_good = previous.map(|p| Poll {
                sockets: p.sockets.clone(),
                processes: p.processes.clone(),
                users: p.users.clone(),
                viewer: p.viewer,
                traffic: p.traffic.clone(),
                drops: p.drops.clone(),
                namespaces: p.namespaces.clone(),
                containers: p.containers.clone(),
                published: p.published.clone(),
                hidden_containers: p.hidden_containers.clone(),
                machines: p.machines.clone(),
                machine: p.machine.clone(),
            });
            let mut snap =
                Snapshot::from_poll(seq, taken_at, duration, last_good.unwrap_or_default());
            snap.error = Some(e.to_string());
            snap
        }
    };
    snap.ephemeral = source.ephemeral_range();
    snap
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::FixedSource;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Failing {
        calls: usize,
    }

    impl SocketSource for Failing {
        fn poll(&mut self) -> Result<Poll, CollectError> {
            self.calls += 1;
            match self.calls {
                1 => Ok(Poll::default()),
                2 => Err(CollectError::SocketTable("denied".to_owned())),
                _ => panic!("library bug"),
            }
        }
    }

    /// Where the collector's waker for announcements ends up.
    type Waker = Arc<std::sync::Mutex<Option<Box<dyn Fn() + Send>>>>;

    /// A source with two connections that announces what the test gives it.
    struct Announcing {
        sockets: Vec<crate::model::Socket>,
        pending: Arc<std::sync::Mutex<EndedBatch>>,
        wake: Waker,
    }

    impl SocketSource for Announcing {
        fn poll(&mut self) -> Result<Poll, CollectError> {
            Ok(Poll {
                sockets: self.sockets.clone(),
                ..Poll::default()
            })
        }

        fn watch_ended(&mut self, wake: Box<dyn Fn() + Send>) -> Result<(), String> {
            *self.wake.lock().unwrap() = Some(wake);
            Ok(())
        }

        fn drain_ended(&mut self) -> EndedBatch {
            std::mem::take(&mut *self.pending.lock().unwrap())
        }
    }

    #[test]
    fn announced_closes_leave_the_table_between_polls() {
        use crate::model::ended::Ended;
        use crate::model::{Pids, Proto};
        let conn = |port: u16, cookie: u64| crate::model::Socket {
            host: 0,
            proto: Proto::Tcp,
            local_addr: std::net::IpAddr::from([127, 0, 0, 1]),
            local_port: port,
            remote_addr: Some(std::net::IpAddr::from([127, 0, 0, 1])),
            remote_port: Some(80),
            state: SockState::Established,
            pids: Pids::from_slice(&[42]),
            uid: Some(1000),
            inode: Some(cookie as u32 + 100),
            cookie,
            recv_q: 0,
            send_q: 0,
            netns: 0,
        };
        let (a, b) = (conn(40001, 1), conn(40002, 2));
        let pending = Arc::new(std::sync::Mutex::new(EndedBatch::default()));
        let wake: Waker = Arc::new(std::sync::Mutex::new(None));
        let source = Announcing {
            sockets: vec![a.clone(), b.clone()],
            pending: pending.clone(),
            wake: wake.clone(),
        };
        // Polls a minute apart: whatever comes sooner comes from the announcements.
        let collector = Collector::spawn(Box::new(source), MAX_INTERVAL, || {}).expect("spawn");
        let first = collector.wait(Duration::from_secs(5)).expect("first poll");
        assert_eq!(first.sockets.len(), 2);
        assert_eq!(first.ended_unavailable, None);
        let ended = |s: &crate::model::Socket, time_wait| Ended {
            socket: crate::model::Socket {
                state: SockState::Closed,
                ..s.clone()
            },
            stats: None,
            time_wait,
            at: SystemTime::now(),
            instant: Instant::now(),
        };
        *pending.lock().unwrap() = EndedBatch {
            ended: vec![ended(&a, false), ended(&b, true)],
            overflows: 1,
        };
        let wake = wake.lock().unwrap().take().expect("the collector listens");
        wake();
        let next = collector
            .wait(Duration::from_secs(5))
            .expect("a snapshot for the announcements, long before the next poll");
        assert!(next.seq > first.seq);
        assert!(next.sockets.iter().all(|s| s.cookie != 1), "a is gone");
        let b_now = next
            .sockets
            .iter()
            .find(|s| s.cookie == 2)
            .expect("b stays");
        assert_eq!(b_now.state, SockState::TimeWait);
        assert_eq!(
            (b_now.inode, b_now.uid, b_now.pids.len()),
            (Some(0), None, 0)
        );
        assert_eq!(next.ended.len(), 2);
        assert_eq!(next.ended_lost, 1);
    }

    #[test]
    fn unchanged_polls_are_not_sent_unless_asked_for() {
        let woken = Arc::new(AtomicUsize::new(0));
        let w = woken.clone();
        let collector =
            Collector::spawn(Box::new(FixedSource::default()), MIN_INTERVAL, move || {
                w.fetch_add(1, Ordering::SeqCst);
            })
            .expect("spawn");
        let first = collector
            .wait(Duration::from_secs(5))
            .expect("first snapshot");
        assert_eq!(first.seq, 1);
        // Several polls find the same sockets: nothing is sent, nobody is woken.
        assert!(collector.wait(MIN_INTERVAL * 4).is_none());
        thread::sleep(Duration::from_millis(20));
        assert_eq!(woken.load(Ordering::SeqCst), 1);
        // "Refresh now" is always answered, and says the content is the first one's.
        collector.send(Control::RefreshNow);
        let second = collector
            .wait(Duration::from_secs(5))
            .expect("second snapshot");
        assert!(second.seq > 1);
        assert_eq!(second.content_seq, 1);
        let deadline = Instant::now() + Duration::from_secs(5);
        while woken.load(Ordering::SeqCst) < 2 {
            assert!(Instant::now() < deadline, "the UI was not woken");
            thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn a_poll_is_sent_when_the_window_let_the_last_one_go() {
        let collector =
            Collector::spawn(Box::new(FixedSource::default()), MIN_INTERVAL, || {}).expect("spawn");
        let first = collector
            .wait(Duration::from_secs(5))
            .expect("first snapshot");
        // Held: nothing new is sent.
        assert!(collector.wait(MIN_INTERVAL * 4).is_none());
        // Let go (the window shows a copy of it): the collector keeps no copy of its own, so
        // the next poll cannot be compared and is sent.
        drop(first);
        let next = collector
            .wait(Duration::from_secs(5))
            .expect("a poll after the last one was let go");
        assert!(next.seq > 1);
        assert_eq!(next.content_seq, next.seq);
        // And that one, held, stops the sending again.
        assert!(collector.wait(MIN_INTERVAL * 4).is_none());
    }

    /// Counts its polls, and finds one more socket at each, so every poll is sent.
    struct Counting(Arc<AtomicUsize>);

    impl SocketSource for Counting {
        fn poll(&mut self) -> Result<Poll, CollectError> {
            let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
            let socket = crate::model::Socket {
                host: 0,
                proto: crate::model::Proto::Udp,
                local_addr: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
                local_port: u16::try_from(n).unwrap_or(u16::MAX),
                remote_addr: None,
                remote_port: None,
                state: crate::model::SockState::Unconn,
                pids: Default::default(),
                uid: None,
                inode: None,
                cookie: 0,
                recv_q: 0,
                send_q: 0,
                netns: 0,
            };
            Ok(Poll {
                sockets: vec![socket],
                ..Poll::default()
            })
        }
    }

    #[test]
    fn a_relay_takes_the_tables_without_a_wake_and_one_that_gives_them_back_does_not() {
        let woken = Arc::new(AtomicUsize::new(0));
        let w = woken.clone();
        let polls = Arc::new(AtomicUsize::new(0));
        let collector = Collector::spawn(Box::new(Counting(polls)), MIN_INTERVAL, move || {
            w.fetch_add(1, Ordering::SeqCst);
        })
        .expect("spawn");
        let first = collector
            .wait(Duration::from_secs(10))
            .expect("the first table");
        assert!(!collector.relays());
        let (relayed, tables) = mpsc::channel();
        collector.relay_to(Box::new(move |table| {
            relayed.send(table).map_err(|mpsc::SendError(table)| table)
        }));
        assert!(collector.relays());
        let relayed_table = || {
            tables
                .recv_timeout(Duration::from_secs(10))
                .expect("the relay takes each table")
                .seq
        };
        // Once one table is relayed, whatever was sent (and woken for) before is done.
        let mut seqs = vec![relayed_table()];
        while collector.latest().is_some() {}
        let wakes = woken.load(Ordering::SeqCst);
        seqs.extend([relayed_table(), relayed_table()]);
        assert!(seqs.windows(2).all(|w| w[0] < w[1]) && seqs[0] > first.seq);
        assert!(
            collector.latest().is_none(),
            "relayed tables do not come to the window"
        );
        assert_eq!(woken.load(Ordering::SeqCst), wakes, "nor wake it");
        // The relay is gone: the tables come to the window again, and wake it.
        drop(tables);
        assert!(collector.wait(Duration::from_secs(10)).is_some());
        // The wake follows the table.
        let deadline = Instant::now() + Duration::from_secs(10);
        while woken.load(Ordering::SeqCst) == wakes {
            assert!(
                Instant::now() < deadline,
                "a table sent to the window wakes it"
            );
            thread::yield_now();
        }
    }

    #[test]
    fn pause_stops_polling_and_refresh_still_works() {
        let polls = Arc::new(AtomicUsize::new(0));
        let collector = Collector::spawn(Box::new(Counting(polls.clone())), MIN_INTERVAL, || {})
            .expect("spawn");
        collector.wait(Duration::from_secs(5)).expect("first");
        collector.send(Control::Pause);
        // Control messages are taken in order: once the refresh asked for after the pause has
        // been answered, the pause is in force.
        collector.send(Control::RefreshNow);
        let refreshed = collector.wait(Duration::from_secs(5)).expect("refreshed");
        let _ = collector.latest();
        let paused_at = polls.load(Ordering::SeqCst);
        // Unpaused, four intervals would bring at least three polls, each one sent.
        assert!(
            collector.wait(MIN_INTERVAL * 4).is_none(),
            "polled while paused"
        );
        assert_eq!(
            polls.load(Ordering::SeqCst),
            paused_at,
            "polled while paused"
        );
        collector.send(Control::RefreshNow);
        let again = collector
            .wait(Duration::from_secs(5))
            .expect("refresh while paused");
        assert!(again.seq > refreshed.seq);
        assert_eq!(polls.load(Ordering::SeqCst), paused_at + 1);
        collector.send(Control::Resume);
        let deadline = Instant::now() + Duration::from_secs(5);
        while polls.load(Ordering::SeqCst) < paused_at + 3 {
            assert!(Instant::now() < deadline, "polling did not resume");
            assert!(collector.wait(Duration::from_secs(5)).is_some());
        }
    }

    #[test]
    fn errors_and_panics_keep_last_good_data_and_say_why() {
        let mut source = Failing { calls: 0 };
        let mut ok = take(&mut source, 1, None);
        assert!(ok.error.is_none());
        ok.sockets.push(crate::model::Socket {
            host: 0,
            proto: crate::model::Proto::Tcp,
            local_addr: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            local_port: 7,
            remote_addr: None,
            remote_port: None,
            state: crate::model::SockState::Listen,
            pids: Default::default(),
            uid: None,
            inode: None,
            cookie: 0,
            recv_q: 0,
            send_q: 0,
            netns: 0,
        });
        let failed = take(&mut source, 2, Some(&ok));
        assert!(
            failed
                .error
                .as_deref()
                .is_some_and(|e| e.contains("denied"))
        );
        assert_eq!(
            failed.sockets, ok.sockets,
            "the last good sockets stay on show"
        );
        let panicked = take(&mut source, 3, Some(&ok));
        assert!(
            panicked
                .error
                .as_deref()
                .is_some_and(|e| e.contains("library bug"))
        );
    }

    #[test]
    fn snapshots_carry_the_sources_ephemeral_range() {
        let range = crate::knowledge::EphemeralRange::from_linux_sysctl(
            Ok("40000 50000\n".to_owned()),
            Ok("45000\n".to_owned()),
        );
        let source = FixedSource::default().with_ephemeral(range.clone());
        let collector = Collector::spawn(Box::new(source), MAX_INTERVAL, || {}).expect("spawn");
        let snap = collector.wait(Duration::from_secs(5)).expect("first");
        assert_eq!(snap.ephemeral, range);
        assert!(snap.ephemeral.is_reserved(45_000));
    }

    #[test]
    fn shutdown_on_drop_is_prompt_even_with_a_long_interval() {
        let collector =
            Collector::spawn(Box::new(FixedSource::default()), MAX_INTERVAL, || {}).expect("spawn");
        collector.wait(Duration::from_secs(5)).expect("first");
        let start = Instant::now();
        drop(collector);
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
