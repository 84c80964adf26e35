//! The change tracker behind the row highlights, the closed rows and *Recently closed*, kept
//! off the frame for large tables.
//!
//! Taking in a table costs the tracker time proportional to its rows: a few milliseconds for
//! 100,000 (ten hosts of 10,000), too much for a frame. Up to [`INLINE_LIMIT`] rows it runs on
//! the UI thread, at once, as before; once a larger table comes, the tracker moves to a thread
//! of its own for good. The frame then reads what that thread published last — the marked
//! rows, the closed rows, the history, the next deadline — and never waits for it: a new
//! table's highlights and closed rows show a moment (one update of the tracker) after its
//! rows. The thread also counts what the timeline takes of each table.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Weak};
use std::thread;
use std::time::{Instant, SystemTime};

use crate::collect::Relay;
use crate::model::ended::Ended;
use crate::model::history::{ChangeTracker, Changes, ClosedSocket, Closing, Mark, TrackerConfig};
use crate::model::timeline::Measured;
use crate::model::{FastHash, Snapshot, SocketKey};

use super::view::{ViewAsk, ViewSpec};

/// Up to this many rows the tracker runs on the UI thread.
pub const INLINE_LIMIT: usize = 10_000;

/// The longest the tracker's thread waits for a deadline before reading its clock again.
const LOOK_AGAIN: std::time::Duration = std::time::Duration::from_millis(250);

/// A table the tracker took in: what changed, and the closes announced with it that no poll
/// will report (when they happened), for the timeline.
pub struct Taken {
    pub snapshot: Arc<Snapshot>,
    pub changes: Changes,
    pub unseen: Vec<SystemTime>,
    /// The timeline's counts of the table, where the tracker's thread measured them.
    pub measured: Option<Measured>,
}

/// The table to take in when `newest` comes after `shown`: a failed poll that could not be
/// filled in (an error and no rows) keeps the rows on show, with its error.
pub(crate) fn kept_on_failure(newest: Arc<Snapshot>, shown: &Arc<Snapshot>) -> Arc<Snapshot> {
    if newest.error.is_some() && newest.sockets.is_empty() {
        Arc::new(Snapshot {
            error: newest.error.clone(),
            ..Snapshot::clone(shown)
        })
    } else {
        newest
    }
}

/// The tracker, on the UI thread or on its own.
pub struct Tracking {
    mode: Mode,
    config: TrackerConfig,
    /// Tables with more rows than this move the tracker to its thread.
    limit: usize,
    wake: Arc<dyn Fn() + Send + Sync>,
    /// Where the thread asks for the view of each table it has taken in, and under which
    /// specification: see [`Tracking::show_views_with`].
    view: Option<(ViewAsk, ViewSpec)>,
    /// The clock by which the thread moves itself on at its deadlines: see
    /// [`Tracking::tick_by`].
    clock: Option<Clock>,
}

/// Where the time is read.
type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

enum Mode {
    Inline(Box<ChangeTracker>),
    Thread(Worker),
    /// Between the two, for the moment of the move.
    Moving,
}

enum Message {
    Update {
        snapshot: Arc<Snapshot>,
        now: Instant,
        ended: Vec<Ended>,
    },
    /// A table straight from the collector (see [`Tracking::relay`]), with the closes it
    /// announces.
    Relayed {
        snapshot: Arc<Snapshot>,
        now: Instant,
    },
    /// Where and under which specification the views of the tables are asked for.
    View(ViewAsk, ViewSpec),
    Tick(Instant),
    Config(TrackerConfig),
    Clear,
}

/// What the tracker's thread published last: what a frame reads.
#[derive(Clone, Default)]
struct Published {
    marks: HashMap<SocketKey, Mark, FastHash>,
    history: Arc<VecDeque<ClosedSocket>>,
    closing: Arc<Closing>,
    next_deadline: Option<Instant>,
}

struct Worker {
    requests: Sender<Message>,
    results: Receiver<(Published, Vec<Taken>)>,
    published: Published,
    /// The table last sent, so that each is sent once (not kept for it: once the collector
    /// hands the thread the tables, the last one sent from here would stay for good).
    sent: Weak<Snapshot>,
    /// The table the thread answered for last: it comes back to the window, not to be sent
    /// again.
    answered_for: Weak<Snapshot>,
    /// The deadline a tick was asked for, so that it is asked once.
    ticked: Option<Instant>,
    /// Tables sent from here, tables the collector handed the thread, and tables the thread
    /// has answered for: while fewer are answered than came, the thread has one in hand.
    sent_count: u64,
    relayed: Arc<AtomicU64>,
    answered: u64,
    /// The thread is gone.
    gone: bool,
    /// The thread moves its clock on by itself (see [`Tracking::tick_by`]).
    ticks_itself: bool,
}

impl Default for Tracking {
    fn default() -> Self {
        Tracking::new(TrackerConfig::default(), Arc::new(|| {}))
    }
}

impl Tracking {
    /// `wake` is called when the tracker's thread has published.
    pub fn new(config: TrackerConfig, wake: Arc<dyn Fn() + Send + Sync>) -> Tracking {
        Tracking {
            mode: Mode::Inline(Box::new(ChangeTracker::new(config))),
            config,
            limit: INLINE_LIMIT,
            wake,
            view: None,
            clock: None,
        }
    }

    /// The same, moving to its thread past `limit` rows (tests).
    pub fn with_limit(mut self, limit: usize) -> Tracking {
        self.limit = limit;
        self
    }

    pub fn config(&self) -> &TrackerConfig {
        &self.config
    }

    /// Whether the tracker runs on its own thread.
    pub fn on_its_thread(&self) -> bool {
        matches!(self.mode, Mode::Thread(_))
    }

    /// Once on its thread, the tracker moves its clock on by itself at each deadline (a
    /// highlight or a closed row running out), reading the time from `clock`, and wakes the
    /// window when that changed something; the window then asks for no frame at deadlines.
    /// Without it, a frame at the deadline asks the thread to.
    pub fn tick_by(&mut self, clock: Clock) {
        self.clock = Some(clock);
    }

    /// On its thread, the tracker asks `ask()` for the view of each table it has taken in (and
    /// of the closed rows each time they change), under `spec`, with the closed rows it has
    /// just found; the view's thread then wakes the window, once, for both. Until the
    /// tracker has answered for a table, [`awaiting`](Self::awaiting) says so and the window
    /// does not ask for that view itself. `ask` is called only when `spec` is new here.
    pub fn show_views_with(&mut self, ask: impl FnOnce() -> Option<ViewAsk>, spec: &ViewSpec) {
        if self.view.as_ref().is_none_or(|(_, was)| was != spec)
            && let Some(ask) = ask()
        {
            if let Mode::Thread(worker) = &self.mode {
                worker.send(Message::View(ask.clone(), spec.clone()));
            }
            self.view = Some((ask, spec.clone()));
        }
    }

    /// Whether the tracker's thread has a table it has not answered for yet (the view of it
    /// comes from there: see [`show_views_with`](Self::show_views_with)).
    pub fn awaiting(&self) -> bool {
        self.view.is_some() && matches!(&self.mode, Mode::Thread(worker) if worker.awaiting())
    }

    /// On its thread (and given a clock: see [`tick_by`](Self::tick_by)), a way for the
    /// collector to hand the thread each table directly, read at the clock's time when it
    /// comes: the window's thread is then not woken for a table (nor does it wake the
    /// tracker's thread, which the scheduler would run on the frame's core, the frame
    /// waiting). The tables come back with [`take_in`](Self::take_in)'s answers, as those
    /// sent from the window do; a failed poll that could not be filled in keeps the rows of
    /// the last table there too ([`kept_on_failure`]).
    pub fn relay(&self) -> Option<Relay> {
        let (Mode::Thread(worker), Some(clock)) = (&self.mode, &self.clock) else {
            return None;
        };
        let requests = worker.requests.clone();
        let relayed = worker.relayed.clone();
        let clock = clock.clone();
        Some(Box::new(move |snapshot| {
            relayed.fetch_add(1, Ordering::SeqCst);
            let back = snapshot.clone();
            let now = clock();
            requests
                .send(Message::Relayed { snapshot, now })
                .map_err(|_| {
                    // The thread is gone: the table goes to the window instead.
                    relayed.fetch_sub(1, Ordering::SeqCst);
                    back
                })
        }))
    }

    pub fn set_config(&mut self, config: TrackerConfig) {
        self.config = config;
        match &mut self.mode {
            Mode::Inline(tracker) => tracker.set_config(config),
            Mode::Thread(worker) => worker.send(Message::Config(config)),
            Mode::Moving => {}
        }
    }

    /// Take in `snapshot` (the same one again only moves the clock on) and the closes
    /// announced since, at `now`. Returns the tables taken in since the last call: at once on
    /// the UI thread, as the tracker's thread finishes them otherwise.
    pub fn take_in(
        &mut self,
        snapshot: &Arc<Snapshot>,
        now: Instant,
        ended: Vec<Ended>,
    ) -> Vec<Taken> {
        if matches!(self.mode, Mode::Inline(_)) && snapshot.sockets.len() > self.limit {
            self.move_to_thread();
        }
        match &mut self.mode {
            Mode::Inline(tracker) => {
                let changes = tracker.update(snapshot, now);
                let unseen = if ended.is_empty() {
                    Vec::new()
                } else {
                    tracker.take_ended(&ended, snapshot)
                };
                vec![Taken {
                    snapshot: snapshot.clone(),
                    changes,
                    unseen,
                    measured: None,
                }]
            }
            Mode::Thread(worker) => worker.take_in(snapshot, now, ended),
            Mode::Moving => Vec::new(),
        }
    }

    /// Move the tracker to its own thread; if no thread can be started it stays here.
    fn move_to_thread(&mut self) {
        let Mode::Inline(tracker) = std::mem::replace(&mut self.mode, Mode::Moving) else {
            return;
        };
        let (req_tx, req_rx) = mpsc::channel::<Message>();
        let (res_tx, res_rx) = mpsc::channel();
        let (tracker_tx, tracker_rx) = mpsc::channel::<Box<ChangeTracker>>();
        let wake = self.wake.clone();
        let clock = self.clock.clone();
        let spawned = thread::Builder::new()
            .name("portscope-tracker".to_owned())
            .spawn(move || {
                crate::collect::background::give_way();
                let Ok(mut tracker) = tracker_rx.recv().map(|t| *t) else {
                    return;
                };
                let mut history_seen = HistoryStamp::of(tracker.history());
                let mut history = Arc::new(tracker.history().clone());
                // The newest table, where and how its views are asked for, and the closed
                // rows last shown with it.
                let mut current: Option<Arc<Snapshot>> = None;
                let mut view: Option<(ViewAsk, ViewSpec)> = None;
                let mut shown_closing = None;
                loop {
                    let first = match (&clock, tracker.next_deadline()) {
                        // Looked at again at least every quarter second: the clock may be
                        // a test's, which does not move while this thread waits.
                        (Some(clock), Some(due)) => match req_rx
                            .recv_timeout(due.saturating_duration_since(clock()).min(LOOK_AGAIN))
                        {
                            Ok(message) => message,
                            Err(mpsc::RecvTimeoutError::Timeout) if clock() >= due => {
                                Message::Tick(clock())
                            }
                            Err(mpsc::RecvTimeoutError::Timeout) => continue,
                            Err(mpsc::RecvTimeoutError::Disconnected) => return,
                        },
                        _ => match req_rx.recv() {
                            Ok(message) => message,
                            Err(_) => return,
                        },
                    };
                    let mut taken = Vec::new();
                    for message in std::iter::once(first).chain(req_rx.try_iter()) {
                        let (snapshot, now, ended) = match message {
                            Message::Update {
                                snapshot,
                                now,
                                ended,
                            } => (snapshot, now, ended),
                            Message::Relayed { snapshot, now } => {
                                let ended = snapshot.ended.clone();
                                match &current {
                                    Some(shown) => (kept_on_failure(snapshot, shown), now, ended),
                                    None => (snapshot, now, ended),
                                }
                            }
                            Message::View(ask, spec) => {
                                view = Some((ask, spec));
                                continue;
                            }
                            Message::Tick(now) => {
                                tracker.tick(now);
                                continue;
                            }
                            Message::Config(config) => {
                                tracker.set_config(config);
                                continue;
                            }
                            Message::Clear => {
                                tracker.clear();
                                continue;
                            }
                        };
                        current = Some(snapshot.clone());
                        let changes = tracker.update(&snapshot, now);
                        let unseen = if ended.is_empty() {
                            Vec::new()
                        } else {
                            tracker.take_ended(&ended, &snapshot)
                        };
                        // The timeline's pass over every row, here too.
                        let measured = Some(Measured::of(&snapshot));
                        taken.push(Taken {
                            snapshot,
                            changes,
                            unseen,
                            measured,
                        });
                    }
                    let stamp = HistoryStamp::of(tracker.history());
                    if stamp != history_seen {
                        history = Arc::new(tracker.history().clone());
                        history_seen = stamp;
                    }
                    let published = Published {
                        marks: tracker.marks().collect(),
                        history: history.clone(),
                        closing: tracker.closing_rows(),
                        next_deadline: tracker.next_deadline(),
                    };
                    // A new table, or new closed rows: their view is asked for here, and the
                    // view's thread wakes the window when it is built.
                    let closing = published.closing.clone();
                    let forward = match (&view, &current) {
                        (Some((ask, spec)), Some(snapshot))
                            if !taken.is_empty() || shown_closing != Some(closing.seq) =>
                        {
                            Some((ask.clone(), snapshot.clone(), spec.clone()))
                        }
                        _ => None,
                    };
                    shown_closing = Some(closing.seq);
                    if res_tx.send((published, taken)).is_err() {
                        return;
                    }
                    let asked = forward
                        .is_some_and(|(ask, snapshot, spec)| ask.ask(snapshot, closing, spec));
                    if !asked {
                        wake();
                    }
                }
            });
        match spawned {
            Ok(_) => {
                let mut tracker = tracker;
                let published = Published {
                    marks: tracker.marks().collect(),
                    history: Arc::new(tracker.history().clone()),
                    closing: tracker.closing_rows(),
                    next_deadline: tracker.next_deadline(),
                };
                match tracker_tx.send(tracker) {
                    Ok(()) => {
                        self.mode = Mode::Thread(Worker {
                            ticks_itself: self.clock.is_some(),
                            requests: req_tx,
                            results: res_rx,
                            published,
                            sent: Weak::new(),
                            answered_for: Weak::new(),
                            ticked: None,
                            sent_count: 0,
                            relayed: Arc::default(),
                            answered: 0,
                            gone: false,
                        });
                        // Asked for before the move: the thread asks there from now on.
                        if let (Mode::Thread(worker), Some((ask, spec))) = (&self.mode, &self.view)
                        {
                            worker.send(Message::View(ask.clone(), spec.clone()));
                        }
                    }
                    // The thread is gone: the tracker comes back.
                    Err(mpsc::SendError(tracker)) => self.mode = Mode::Inline(tracker),
                }
            }
            Err(_) => self.mode = Mode::Inline(tracker),
        }
    }

    /// How a row is highlighted now, if at all.
    pub fn mark(&self, key: &SocketKey) -> Option<Mark> {
        match &self.mode {
            Mode::Inline(tracker) => tracker.mark(key),
            Mode::Thread(worker) => worker.published.marks.get(key).copied(),
            Mode::Moving => None,
        }
    }

    /// Closed sockets past their linger, oldest first.
    pub fn history(&self) -> &VecDeque<ClosedSocket> {
        static EMPTY: VecDeque<ClosedSocket> = VecDeque::new();
        match &self.mode {
            Mode::Inline(tracker) => tracker.history(),
            Mode::Thread(worker) => &worker.published.history,
            Mode::Moving => &EMPTY,
        }
    }

    /// The closed rows the table lists for a moment.
    pub fn closing_rows(&mut self) -> Arc<Closing> {
        match &mut self.mode {
            Mode::Inline(tracker) => tracker.closing_rows(),
            Mode::Thread(worker) => worker.published.closing.clone(),
            Mode::Moving => Arc::default(),
        }
    }

    /// When the window should next repaint for a highlight or a closed row running out. On
    /// the thread, none when it moves its clock on by itself, or once a frame at the deadline
    /// has asked it to: its answer wakes the window, which is not redrawn meanwhile.
    pub fn next_deadline(&self) -> Option<Instant> {
        match &self.mode {
            Mode::Inline(tracker) => tracker.next_deadline(),
            Mode::Thread(worker) if worker.ticks_itself => None,
            Mode::Thread(worker) => worker
                .published
                .next_deadline
                .filter(|due| worker.ticked != Some(*due)),
            Mode::Moving => None,
        }
    }

    /// Forget every closed socket.
    pub fn clear(&mut self) {
        match &mut self.mode {
            Mode::Inline(tracker) => tracker.clear(),
            Mode::Thread(worker) => {
                // At once on screen too, before the thread has done it.
                worker.published.history = Arc::default();
                worker.published.closing = Arc::default();
                worker.send(Message::Clear);
            }
            Mode::Moving => {}
        }
    }
}

impl Worker {
    fn send(&self, message: Message) {
        // A thread that is gone leaves the last published state on screen.
        let _ = self.requests.send(message);
    }

    /// The thread has a table in hand it has not answered for.
    fn awaiting(&self) -> bool {
        !self.gone && self.sent_count + self.relayed.load(Ordering::SeqCst) > self.answered
    }

    fn take_in(&mut self, snapshot: &Arc<Snapshot>, now: Instant, ended: Vec<Ended>) -> Vec<Taken> {
        // A weak reference keeps the table's place in memory, so no other table can be there.
        let same = |table: &Weak<Snapshot>| std::ptr::eq(table.as_ptr(), Arc::as_ptr(snapshot));
        // A table the thread answered for (one the collector handed it, coming back) is not
        // sent again.
        let new = !same(&self.sent) && !same(&self.answered_for);
        if new || !ended.is_empty() {
            self.send(Message::Update {
                snapshot: snapshot.clone(),
                now,
                ended,
            });
            self.sent = Arc::downgrade(snapshot);
            self.sent_count += 1;
        } else if !self.ticks_itself
            && let Some(due) = self.published.next_deadline
            && due <= now
            && self.ticked != Some(due)
        {
            self.send(Message::Tick(now));
            self.ticked = Some(due);
        }
        let mut taken = Vec::new();
        loop {
            match self.results.try_recv() {
                Ok((published, done)) => {
                    // What it replaces (made on the thread, for large tables) is let go off
                    // the frame.
                    let old = std::mem::replace(&mut self.published, published);
                    super::letting_go::drop_off_frame(old);
                    taken.extend(done);
                }
                Err(mpsc::TryRecvError::Empty) => break,
                // The thread is gone: nothing more will come from it.
                Err(mpsc::TryRecvError::Disconnected) => {
                    self.gone = true;
                    break;
                }
            }
        }
        self.answered += taken.len() as u64;
        if let Some(last) = taken.last() {
            self.answered_for = Arc::downgrade(&last.snapshot);
        }
        taken
    }
}

/// What tells one state of the history from another: it only grows at the back and shrinks
/// at the front (or is cleared).
#[derive(Clone, Copy, PartialEq, Eq)]
struct HistoryStamp {
    len: usize,
    front: Option<(SocketKey, SystemTime)>,
    back: Option<(SocketKey, SystemTime)>,
}

impl HistoryStamp {
    fn of(history: &VecDeque<ClosedSocket>) -> HistoryStamp {
        let at = |c: &ClosedSocket| (c.key(), c.gone.wall);
        HistoryStamp {
            len: history.len(),
            front: history.front().map(at),
            back: history.back().map(at),
        }
    }
}

#[cfg(test)]
mod tests;
