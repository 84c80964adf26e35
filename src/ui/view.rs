//! What the window shows: a snapshot together with everything derived from it (the filtered,
//! sorted rows, the ports in use, the ephemeral gauge, the counts).
//!
//! The table also lists the sockets that closed a moment ago, as red rows. They are kept
//! apart from the snapshot, which stays exactly what the OS said: the rows are sorted and
//! filtered together, but the counts, the ports in use and the gauge read the snapshot alone.
//!
//! Deriving costs time proportional to the number of sockets. For ordinary tables it is done
//! at once; past [`INLINE_LIMIT`] sockets it moves to a worker thread, and the window keeps
//! showing the previous, consistent view until the new one is ready — the frame never waits
//! for a sort. Nothing is rebuilt when neither the snapshot's content nor the view's
//! specification changed.

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::{Duration, Instant};

use super::port_bar::{EphemeralGauge, PortUsage};
use crate::model::history::Closing;
use crate::model::query::RowTexts;
use crate::model::{
    Counts, Filter, Snapshot, Socket, SortSpec, Toggles, merge_sorted_rows, sorted_rows_of,
};

/// Up to this many sockets the view is derived on the UI thread (a few milliseconds).
pub const INLINE_LIMIT: usize = 10_000;

/// Up to this many closed rows are placed among a large table's sorted rows on the UI thread
/// (each a binary search: well under a millisecond).
pub const FEW_CLOSED: usize = 200;

/// How the rows are chosen and ordered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ViewSpec {
    pub sort: SortSpec,
    pub filter: Filter,
    pub toggles: Toggles,
}

/// A snapshot and what the window derives from it.
#[derive(Debug)]
pub struct ViewData {
    /// The poll: what is live. Everything counted reads this alone.
    pub snapshot: Arc<Snapshot>,
    /// The closed sockets listed for a moment after the poll's rows.
    pub closing: Arc<Closing>,
    pub spec: ViewSpec,
    /// The rows, filtered and sorted: an index below `snapshot.sockets.len()` is a socket of
    /// the snapshot, one past it a closed row (see [`ViewData::row`]).
    pub rows: Vec<usize>,
    /// How many of `rows` are the snapshot's (the rest are closed rows).
    pub live_rows: usize,
    /// The snapshot's rows alone, in order: kept so that new closed rows are placed among
    /// them without sorting the whole table again.
    live_sorted: Arc<Vec<usize>>,
    /// Each machine's ports in use and ephemeral gauge (one entry for one machine's table).
    pub bars: Arc<Vec<MachineBar>>,
    pub counts: Counts,
    /// Each of the snapshot's rows' text for free-text filtering, built the first time a
    /// filter needs it.
    pub texts: Option<Arc<RowTexts>>,
    /// How long deriving took.
    pub took: Duration,
}

impl Default for ViewData {
    fn default() -> Self {
        ViewData::build(Arc::new(Snapshot::default()), ViewSpec::default(), None)
    }
}

/// One machine's ports for the range bar: what its sockets use, against its own range.
#[derive(Debug)]
pub struct MachineBar {
    /// The machine's id ([`Socket::host`]).
    pub host: u16,
    /// Its own table (the snapshot itself where it lists one machine).
    pub table: Arc<Snapshot>,
    pub usage: PortUsage,
    pub gauge: EphemeralGauge,
}

impl MachineBar {
    fn all_of(snapshot: &Arc<Snapshot>) -> Vec<MachineBar> {
        let one = |host: u16, table: &Arc<Snapshot>| MachineBar {
            host,
            table: table.clone(),
            usage: PortUsage::of(table),
            gauge: EphemeralGauge::of(table),
        };
        if snapshot.machines.is_empty() {
            vec![one(0, snapshot)]
        } else {
            snapshot
                .machines
                .iter()
                .map(|m| one(m.id, &m.table))
                .collect()
        }
    }
}

/// One row of the table.
#[derive(Clone, Copy, Debug)]
pub struct Row<'a> {
    pub socket: &'a Socket,
    /// The table the socket belongs to, for its processes and users: the snapshot, or for a
    /// closed row the closed rows' own — in a table of several machines, its machine's part.
    pub table: &'a Arc<Snapshot>,
    /// The socket is gone: a closed row shown for a moment.
    pub closing: bool,
}

/// The per-snapshot parts of a view, which a new sort or filter does not change.
type PerSnapshot = (
    Arc<Snapshot>,
    Arc<Vec<MachineBar>>,
    Counts,
    Option<Arc<RowTexts>>,
    (ViewSpec, Arc<Vec<usize>>),
);

impl ViewData {
    /// Derive everything for `snapshot`. Per-snapshot parts are reused from `previous` when it
    /// is of the same snapshot (a new sort or filter does not recount ports).
    pub fn build(snapshot: Arc<Snapshot>, spec: ViewSpec, previous: Option<&ViewData>) -> ViewData {
        Self::build_with(snapshot, Arc::default(), spec, previous)
    }

    /// [`build`](Self::build), listing `closing` after the snapshot's rows.
    pub fn build_with(
        snapshot: Arc<Snapshot>,
        closing: Arc<Closing>,
        spec: ViewSpec,
        previous: Option<&ViewData>,
    ) -> ViewData {
        let reuse = previous.map(ViewData::per_snapshot);
        Self::build_reusing(snapshot, closing, spec, reuse)
    }

    /// Row `i` of `rows`' numbering: a socket of the snapshot or a closed row.
    pub fn row(&self, i: usize) -> Option<Row<'_>> {
        let live = self.snapshot.sockets.len();
        match self.snapshot.sockets.get(i) {
            Some(socket) => Some(Row {
                socket,
                table: machine_table(&self.snapshot, socket.host),
                closing: false,
            }),
            None => self.closing.table.sockets.get(i - live).map(|socket| Row {
                socket,
                table: machine_table(&self.closing.table, socket.host),
                closing: true,
            }),
        }
    }

    /// The range bar's figures for machine `host` (this machine's when there is no such).
    pub fn bar(&self, host: u16) -> &MachineBar {
        self.bars
            .iter()
            .find(|b| b.host == host)
            .or_else(|| self.bars.first())
            .unwrap_or_else(|| unreachable!("a view has a bar for each machine, and one at least"))
    }

    /// The rows on show in order.
    pub fn shown(&self) -> impl Iterator<Item = Row<'_>> {
        self.rows.iter().filter_map(|&i| self.row(i))
    }

    /// The snapshot's rows on show, in order, without the closed ones: what exports write.
    pub fn live_row_indices(&self) -> Vec<usize> {
        let live = self.snapshot.sockets.len();
        self.rows.iter().copied().filter(|&i| i < live).collect()
    }

    fn per_snapshot(&self) -> PerSnapshot {
        (
            self.snapshot.clone(),
            self.bars.clone(),
            self.counts,
            self.texts.clone(),
            (self.spec.clone(), self.live_sorted.clone()),
        )
    }

    fn build_reusing(
        snapshot: Arc<Snapshot>,
        closing: Arc<Closing>,
        spec: ViewSpec,
        previous: Option<PerSnapshot>,
    ) -> ViewData {
        let start = Instant::now();
        let (bars, counts, texts, sorted) = match previous {
            Some((snap, bars, counts, texts, sorted)) if Arc::ptr_eq(&snap, &snapshot) => {
                (bars, counts, texts, Some(sorted))
            }
            _ => (
                Arc::new(MachineBar::all_of(&snapshot)),
                snapshot.counts(),
                None,
                None,
            ),
        };
        let texts = match texts {
            None if spec.filter.needs_text() => Some(Arc::new(RowTexts::build(&snapshot))),
            texts => texts,
        };
        // The closed rows are few: their texts are built with each view.
        let closing_texts = (spec.filter.needs_text() && !closing.is_empty())
            .then(|| RowTexts::build(&closing.table));
        // The poll's rows, sorted once per poll and view specification; the closed rows, few,
        // sorted apart and placed among them.
        let live_sorted = match sorted {
            Some((was, rows)) if was == spec => rows,
            _ => Arc::new(sorted_rows_of(
                &[(&snapshot, texts.as_deref())],
                spec.sort,
                &spec.filter,
                &spec.toggles,
            )),
        };
        let closed = sorted_rows_of(
            &[(&closing.table, closing_texts.as_ref())],
            spec.sort,
            &spec.filter,
            &spec.toggles,
        );
        let rows = merge_sorted_rows(&snapshot, &live_sorted, &closing.table, &closed, spec.sort);
        let live = snapshot.sockets.len();
        let live_rows = rows.iter().filter(|&&i| i < live).count();
        ViewData {
            snapshot,
            closing,
            spec,
            rows,
            live_rows,
            live_sorted,
            bars,
            counts,
            texts,
            took: start.elapsed(),
        }
    }

    fn is_for(&self, snapshot: &Arc<Snapshot>, closing: &Closing, spec: &ViewSpec) -> bool {
        Arc::ptr_eq(&self.snapshot, snapshot)
            && self.closing.seq == closing.seq
            && &self.spec == spec
    }

    /// The same view for a newer snapshot with unchanged content and the same closed rows:
    /// nothing to recompute.
    fn carried_to(&self, snapshot: &Arc<Snapshot>, closing: &Closing) -> Option<ViewData> {
        let same = snapshot.content_seq == self.snapshot.content_seq
            && snapshot.seq >= self.snapshot.seq
            && self.snapshot.content_seq != 0
            && closing.seq == self.closing.seq;
        same.then(|| ViewData {
            snapshot: snapshot.clone(),
            closing: self.closing.clone(),
            spec: self.spec.clone(),
            rows: self.rows.clone(),
            live_rows: self.live_rows,
            live_sorted: self.live_sorted.clone(),
            bars: self.bars.clone(),
            counts: self.counts,
            texts: self.texts.clone(),
            took: Duration::ZERO,
        })
    }
}

/// The part of `table` that is machine `host`'s, where it lists several; else `table`.
fn machine_table(table: &Arc<Snapshot>, host: u16) -> &Arc<Snapshot> {
    table.machine(host).map_or(table, |m| &m.table)
}

struct Request {
    snapshot: Arc<Snapshot>,
    closing: Arc<Closing>,
    spec: ViewSpec,
    previous: Option<PerSnapshot>,
}

/// A thread that derives views of large snapshots.
struct Worker {
    requests: Sender<Request>,
    results: Receiver<ViewData>,
}

impl Worker {
    fn spawn(wake: Arc<dyn Fn() + Send + Sync>) -> std::io::Result<Worker> {
        let (req_tx, req_rx) = mpsc::channel::<Request>();
        let (res_tx, res_rx) = mpsc::channel();
        thread::Builder::new()
            .name("portscope-view".to_owned())
            .spawn(move || {
                crate::collect::background::give_way();
                // What this thread built last: a request made while it was being built
                // names the view on screen as its predecessor, but this one is newer.
                let mut last: Option<PerSnapshot> = None;
                while let Ok(mut request) = req_rx.recv() {
                    // Only the newest request matters.
                    while let Ok(newer) = req_rx.try_recv() {
                        request = newer;
                    }
                    let same = |p: &PerSnapshot| Arc::ptr_eq(&p.0, &request.snapshot);
                    let previous = match request.previous {
                        Some(p) if same(&p) => Some(p),
                        _ => last.take().filter(same),
                    };
                    let data = ViewData::build_reusing(
                        request.snapshot,
                        request.closing,
                        request.spec,
                        previous,
                    );
                    last = Some(data.per_snapshot());
                    if res_tx.send(data).is_err() {
                        return;
                    }
                    wake();
                }
            })?;
        Ok(Worker {
            requests: req_tx,
            results: res_rx,
        })
    }
}

/// Asks the view thread for a view from another thread — the change tracker's, once it has
/// taken a table in and knows its closed rows: the view is built there and the window woken
/// as for its own asks, so a new table and its highlights come to the screen in one frame.
#[derive(Clone)]
pub struct ViewAsk(Sender<Request>);

impl ViewAsk {
    /// Ask for the view of `snapshot` with `closing` under `spec`; false when the thread is
    /// gone.
    pub fn ask(&self, snapshot: Arc<Snapshot>, closing: Arc<Closing>, spec: ViewSpec) -> bool {
        self.0
            .send(Request {
                snapshot,
                closing,
                spec,
                previous: None,
            })
            .is_ok()
    }
}

/// The view on screen and the one being prepared.
pub struct ViewState {
    data: ViewData,
    /// Counts the views put on screen.
    version: u64,
    /// What the newest request asked for (the closed rows by their `seq`).
    wanted: Option<(Arc<Snapshot>, u64, ViewSpec)>,
    worker: Option<Worker>,
    wake: Arc<dyn Fn() + Send + Sync>,
}

impl Default for ViewState {
    fn default() -> Self {
        ViewState::new(Arc::new(|| {}))
    }
}

impl ViewState {
    /// `wake` is called when a view prepared in the background is ready.
    pub fn new(wake: Arc<dyn Fn() + Send + Sync>) -> ViewState {
        ViewState {
            data: ViewData::default(),
            version: 0,
            wanted: None,
            worker: None,
            wake,
        }
    }

    pub fn data(&self) -> &ViewData {
        &self.data
    }

    /// Changes whenever another view is put on screen: what caches of a view are keyed by.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Whether a newer view is being prepared.
    pub fn is_pending(&self) -> bool {
        self.wanted.as_ref().is_some_and(|(snap, closing, spec)| {
            !(Arc::ptr_eq(&self.data.snapshot, snap)
                && self.data.closing.seq == *closing
                && &self.data.spec == spec)
        })
    }

    /// Ask for the view of `snapshot` under `spec`, with no closed rows. Returns true when the
    /// view on screen changed.
    pub fn update(&mut self, snapshot: &Arc<Snapshot>, spec: &ViewSpec) -> bool {
        let none = if self.data.closing.is_empty() {
            self.data.closing.clone()
        } else {
            Arc::default()
        };
        self.update_with(snapshot, &none, spec)
    }

    /// Ask for the view of `snapshot` and the closed rows `closing` under `spec`. Returns true
    /// when the view on screen changed.
    pub fn update_with(
        &mut self,
        snapshot: &Arc<Snapshot>,
        closing: &Arc<Closing>,
        spec: &ViewSpec,
    ) -> bool {
        let mut changed = false;
        if let Some(worker) = &self.worker
            && let Some(data) = worker.results.try_iter().last()
        {
            self.show(data);
            changed = true;
        }
        if self.data.is_for(snapshot, closing, spec) {
            self.wanted = None;
            return changed;
        }
        if &self.data.spec == spec
            && let Some(carried) = self.data.carried_to(snapshot, closing)
        {
            self.show(carried);
            self.wanted = None;
            return true;
        }
        let already_asked = self
            .wanted
            .as_ref()
            .is_some_and(|(s, c, sp)| Arc::ptr_eq(s, snapshot) && *c == closing.seq && sp == spec);
        if already_asked {
            return changed;
        }
        self.wanted = Some((snapshot.clone(), closing.seq, spec.clone()));
        let size = snapshot.sockets.len() + closing.len();
        // Only a few closed rows changed: the poll's rows stay sorted, and placing a few closed
        // ones among them is quick at any size, so it is done here, without a frame's wait.
        // Thousands (a busy table's moment of closes) go to the worker like a new poll.
        let closing_only = Arc::ptr_eq(&self.data.snapshot, snapshot)
            && &self.data.spec == spec
            && closing.len() <= FEW_CLOSED;
        if closing_only || size <= INLINE_LIMIT || !self.send_to_worker(snapshot, closing, spec) {
            let data = ViewData::build_with(
                snapshot.clone(),
                closing.clone(),
                spec.clone(),
                Some(&self.data),
            );
            self.show(data);
            self.wanted = None;
            return true;
        }
        changed
    }

    fn show(&mut self, data: ViewData) {
        let old = std::mem::replace(&mut self.data, data);
        let rows = old.snapshot.sockets.len();
        super::letting_go::drop_later(old, rows);
        self.version += 1;
    }

    /// A way for another thread to ask this view's thread for views (it is started if it
    /// is not yet); none where no thread can be started.
    pub fn asker(&mut self) -> Option<ViewAsk> {
        if self.worker.is_none() {
            self.worker = Worker::spawn(self.wake.clone()).ok();
        }
        self.worker
            .as_ref()
            .map(|worker| ViewAsk(worker.requests.clone()))
    }

    fn send_to_worker(
        &mut self,
        snapshot: &Arc<Snapshot>,
        closing: &Arc<Closing>,
        spec: &ViewSpec,
    ) -> bool {
        if self.worker.is_none() {
            self.worker = Worker::spawn(self.wake.clone()).ok();
        }
        let Some(worker) = &self.worker else {
            return false;
        };
        worker
            .requests
            .send(Request {
                snapshot: snapshot.clone(),
                closing: closing.clone(),
                spec: spec.clone(),
                previous: Some(self.data.per_snapshot()),
            })
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Proto, SockState, Socket, SortDir, SortKey};
    use std::net::{IpAddr, Ipv4Addr};

    fn snapshot(seq: u64, n: usize) -> Arc<Snapshot> {
        let sockets = (0..n)
            .map(|i| Socket {
                host: 0,
                proto: Proto::Tcp,
                local_addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
                local_port: (i % 65_536) as u16,
                remote_addr: None,
                remote_port: None,
                state: SockState::Listen,
                pids: Default::default(),
                uid: None,
                inode: None,
                cookie: 0,
                recv_q: 0,
                send_q: 0,
                netns: 0,
            })
            .collect();
        Arc::new(Snapshot {
            seq,
            sockets,
            ..Snapshot::default()
        })
    }

    #[test]
    fn small_views_are_built_at_once_and_only_when_something_changed() {
        let mut view = ViewState::default();
        let snap = snapshot(1, 10);
        let all = ViewSpec::default();
        assert!(view.update(&snap, &all));
        assert_eq!(view.data().rows.len(), 10);
        assert!(!view.update(&snap, &all), "nothing changed: no rebuild");
        let desc = ViewSpec {
            sort: SortSpec::default().clicked(SortKey::LocalPort),
            ..ViewSpec::default()
        };
        assert!(view.update(&snap, &desc));
        assert_eq!(
            view.data().snapshot.sockets[view.data().rows[0]].local_port,
            9
        );
        let filtered = ViewSpec {
            filter: Filter::parse_lossy(":3"),
            ..desc.clone()
        };
        assert!(view.update(&snap, &filtered));
        assert_eq!(view.data().rows.len(), 1);
        let no_tcp = ViewSpec {
            toggles: Toggles {
                tcp: false,
                ..Toggles::default()
            },
            ..desc
        };
        assert!(view.update(&snap, &no_tcp));
        assert!(view.data().rows.is_empty());
    }

    #[test]
    fn closed_rows_are_listed_and_sorted_with_the_rest_but_never_counted() {
        let live = snapshot(1, 3); // ports 0, 1, 2
        let mut gone = snapshot(7, 2); // ports 0, 1 → made 40000, 1
        let table = Arc::get_mut(&mut gone).expect("not shared");
        table.sockets[0].local_port = 40_000;
        let closing = Arc::new(Closing {
            seq: 7,
            table: gone,
            gone: Vec::new(),
        });
        let mut view = ViewState::default();
        let spec = ViewSpec::default();
        assert!(view.update_with(&live, &closing, &spec));
        let data = view.data();
        let listed: Vec<(u16, bool)> = data
            .shown()
            .map(|r| (r.socket.local_port, r.closing))
            .collect();
        assert_eq!(
            listed,
            [
                (0, false),
                (1, false),
                (1, true),
                (2, false),
                (40_000, true)
            ]
        );
        assert_eq!(data.live_rows, 3);
        assert_eq!(data.counts.total, 3);
        assert!(
            data.bar(0).usage.get(40_000).is_none(),
            "no mark for a closed port"
        );
        assert_eq!(data.bar(0).gauge.ports_in_use, 0);
        assert_eq!(data.live_row_indices(), [0, 1, 2]);
        assert!(Arc::ptr_eq(&data.snapshot, &live), "the poll is not copied");

        // The same closed rows again: nothing to do; others (by their seq): a new view.
        let version = view.version();
        assert!(!view.update_with(&live, &closing.clone(), &spec));
        assert_eq!(view.version(), version);
        assert!(view.update_with(&live, &Arc::default(), &spec));
        assert_eq!(view.data().rows.len(), 3);
        assert!(view.version() > version);
    }

    /// A view whose worker's wakes come on the receiver.
    fn waking_view() -> (ViewState, mpsc::Receiver<()>) {
        let (tx, rx) = mpsc::channel();
        let tx = std::sync::Mutex::new(tx);
        let view = ViewState::new(Arc::new(move || {
            if let Ok(tx) = tx.lock() {
                let _ = tx.send(());
            }
        }));
        (view, rx)
    }

    #[test]
    fn large_views_are_built_off_the_frame_and_the_old_view_stays_meanwhile() {
        let (mut view, rx) = waking_view();
        let small = snapshot(1, 5);
        view.update(&small, &ViewSpec::default());
        let big = snapshot(2, INLINE_LIMIT + 1);
        let spec = ViewSpec {
            sort: SortSpec {
                key: SortKey::LocalPort,
                dir: SortDir::Descending,
            },
            ..ViewSpec::default()
        };
        view.update(&big, &spec);
        // Until the worker is done, the window keeps the small, consistent view.
        if view.is_pending() {
            assert_eq!(view.data().snapshot.seq, 1);
            rx.recv_timeout(Duration::from_secs(10))
                .expect("the worker wakes the UI");
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while view.data().snapshot.seq != 2 {
            view.update(&big, &spec);
            assert!(Instant::now() < deadline, "the large view never arrived");
            thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(view.data().rows.len(), INLINE_LIMIT + 1);
        assert!(!view.is_pending());
        let first = &view.data().snapshot.sockets[view.data().rows[0]];
        assert_eq!(first.local_port, 10_000);
    }

    /// Closed rows as the tracker lists them: `n` sockets (made up), set `seq`.
    fn closed(seq: u64, n: usize) -> Arc<Closing> {
        let table = snapshot(0, n);
        Arc::new(Closing {
            seq,
            gone: Vec::new(),
            table,
        })
    }

    #[test]
    fn a_few_closed_rows_join_a_large_view_at_once_and_many_on_the_worker() {
        let (mut view, rx) = waking_view();
        let big = snapshot(2, INLINE_LIMIT + 1);
        let spec = ViewSpec::default();
        let deadline = Instant::now() + Duration::from_secs(10);
        while view.data().snapshot.seq != 2 {
            view.update(&big, &spec);
            assert!(Instant::now() < deadline, "the large view never arrived");
            thread::sleep(Duration::from_millis(5));
        }
        // A few: on this frame.
        let few = closed(1, FEW_CLOSED);
        assert!(view.update_with(&big, &few, &spec));
        assert_eq!(view.data().rows.len(), INLINE_LIMIT + 1 + FEW_CLOSED);
        assert!(!view.is_pending());
        // Many: the view on show stays until the worker has placed them.
        let many = closed(2, FEW_CLOSED + 1);
        assert!(!view.update_with(&big, &many, &spec));
        assert!(view.is_pending(), "asked of the worker");
        assert_eq!(view.data().closing.seq, 1, "the last view stays meanwhile");
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the worker wakes the UI");
        let deadline = Instant::now() + Duration::from_secs(10);
        while view.data().closing.seq != 2 {
            view.update_with(&big, &many, &spec);
            assert!(Instant::now() < deadline, "the closed rows never came");
            thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(view.data().rows.len(), INLINE_LIMIT + 1 + FEW_CLOSED + 1);
        assert_eq!(view.data().live_rows, INLINE_LIMIT + 1);
    }
}
