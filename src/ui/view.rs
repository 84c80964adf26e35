//! What the window shows: a snapshot together with everything derived from it (the filtered,
//! sorted rows, the ports in use, the ephemeral gauge, the counts).
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
use crate::model::query::RowTexts;
use crate::model::{Counts, Filter, Snapshot, SortSpec, Toggles, sorted_rows_cached};

/// Up to this many sockets the view is derived on the UI thread (a few milliseconds).
pub const INLINE_LIMIT: usize = 10_000;

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
    pub snapshot: Arc<Snapshot>,
    pub spec: ViewSpec,
    /// Indices into `snapshot.sockets`, filtered and sorted.
    pub rows: Vec<usize>,
    pub usage: Arc<PortUsage>,
    pub gauge: EphemeralGauge,
    pub counts: Counts,
    /// Each row's text for free-text filtering, built the first time a filter needs it.
    pub texts: Option<Arc<RowTexts>>,
    /// How long deriving took.
    pub took: Duration,
}

impl Default for ViewData {
    fn default() -> Self {
        ViewData::build(Arc::new(Snapshot::default()), ViewSpec::default(), None)
    }
}

/// The per-snapshot parts of a view, which a new sort or filter does not change.
type PerSnapshot = (
    Arc<Snapshot>,
    Arc<PortUsage>,
    EphemeralGauge,
    Counts,
    Option<Arc<RowTexts>>,
);

impl ViewData {
    /// Derive everything for `snapshot`. Per-snapshot parts are reused from `previous` when it
    /// is of the same snapshot (a new sort or filter does not recount ports).
    pub fn build(snapshot: Arc<Snapshot>, spec: ViewSpec, previous: Option<&ViewData>) -> ViewData {
        let reuse = previous.map(ViewData::per_snapshot);
        Self::build_reusing(snapshot, spec, reuse)
    }

    fn per_snapshot(&self) -> PerSnapshot {
        (
            self.snapshot.clone(),
            self.usage.clone(),
            self.gauge.clone(),
            self.counts,
            self.texts.clone(),
        )
    }

    fn build_reusing(
        snapshot: Arc<Snapshot>,
        spec: ViewSpec,
        previous: Option<PerSnapshot>,
    ) -> ViewData {
        let start = Instant::now();
        let (usage, gauge, counts, texts) = match previous {
            Some((snap, usage, gauge, counts, texts)) if Arc::ptr_eq(&snap, &snapshot) => {
                (usage, gauge, counts, texts)
            }
            _ => {
                let usage = PortUsage::of(&snapshot);
                let gauge = EphemeralGauge::of(&snapshot, &usage);
                (Arc::new(usage), gauge, snapshot.counts(), None)
            }
        };
        let texts = match texts {
            None if spec.filter.needs_text() => Some(Arc::new(RowTexts::build(&snapshot))),
            texts => texts,
        };
        let rows = sorted_rows_cached(
            &snapshot,
            spec.sort,
            &spec.filter,
            &spec.toggles,
            texts.as_deref(),
        );
        ViewData {
            snapshot,
            spec,
            rows,
            usage,
            gauge,
            counts,
            texts,
            took: start.elapsed(),
        }
    }

    fn is_for(&self, snapshot: &Arc<Snapshot>, spec: &ViewSpec) -> bool {
        Arc::ptr_eq(&self.snapshot, snapshot) && &self.spec == spec
    }

    /// The same view for a newer snapshot with unchanged content: nothing to recompute.
    fn carried_to(&self, snapshot: &Arc<Snapshot>) -> Option<ViewData> {
        let same = snapshot.content_seq == self.snapshot.content_seq
            && snapshot.seq >= self.snapshot.seq
            && self.snapshot.content_seq != 0;
        same.then(|| ViewData {
            snapshot: snapshot.clone(),
            spec: self.spec.clone(),
            rows: self.rows.clone(),
            usage: self.usage.clone(),
            gauge: self.gauge.clone(),
            counts: self.counts,
            texts: self.texts.clone(),
            took: Duration::ZERO,
        })
    }
}

struct Request {
    snapshot: Arc<Snapshot>,
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
                while let Ok(mut request) = req_rx.recv() {
                    // Only the newest request matters.
                    while let Ok(newer) = req_rx.try_recv() {
                        request = newer;
                    }
                    let data =
                        ViewData::build_reusing(request.snapshot, request.spec, request.previous);
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

/// The view on screen and the one being prepared.
pub struct ViewState {
    data: ViewData,
    /// What the newest request asked for.
    wanted: Option<(Arc<Snapshot>, ViewSpec)>,
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
            wanted: None,
            worker: None,
            wake,
        }
    }

    pub fn data(&self) -> &ViewData {
        &self.data
    }

    /// Whether a newer view is being prepared.
    pub fn is_pending(&self) -> bool {
        self.wanted
            .as_ref()
            .is_some_and(|(snap, spec)| !self.data.is_for(snap, spec))
    }

    /// Ask for the view of `snapshot` under `spec`. Returns true when the view on screen changed.
    pub fn update(&mut self, snapshot: &Arc<Snapshot>, spec: &ViewSpec) -> bool {
        let mut changed = false;
        if let Some(worker) = &self.worker
            && let Some(data) = worker.results.try_iter().last()
        {
            self.data = data;
            changed = true;
        }
        if self.data.is_for(snapshot, spec) {
            self.wanted = None;
            return changed;
        }
        if &self.data.spec == spec
            && let Some(carried) = self.data.carried_to(snapshot)
        {
            self.data = carried;
            self.wanted = None;
            return true;
        }
        let already_asked = self
            .wanted
            .as_ref()
            .is_some_and(|(s, sp)| Arc::ptr_eq(s, snapshot) && sp == spec);
        if already_asked {
            return changed;
        }
        self.wanted = Some((snapshot.clone(), spec.clone()));
        if snapshot.sockets.len() <= INLINE_LIMIT || !self.send_to_worker(snapshot, spec) {
            self.data = ViewData::build(snapshot.clone(), spec.clone(), Some(&self.data));
            self.wanted = None;
            return true;
        }
        changed
    }

    fn send_to_worker(&mut self, snapshot: &Arc<Snapshot>, spec: &ViewSpec) -> bool {
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
                proto: Proto::Tcp,
                local_addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
                local_port: (i % 65_536) as u16,
                remote_addr: None,
                remote_port: None,
                state: SockState::Listen,
                pids: Default::default(),
                uid: None,
                inode: None,
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
    fn large_views_are_built_off_the_frame_and_the_old_view_stays_meanwhile() {
        let (tx, rx) = mpsc::channel();
        let tx = std::sync::Mutex::new(tx);
        let mut view = ViewState::new(Arc::new(move || {
            if let Ok(tx) = tx.lock() {
                let _ = tx.send(());
            }
        }));
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
}
