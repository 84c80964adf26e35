use std::time::{Duration, Instant, SystemTime};

use super::*;
use crate::collect::generated_poll;
use crate::model::history::TrackerConfig;

/// A made-up table of `n` sockets, as poll `seq`.
fn table(seq: u64, n: usize) -> Snapshot {
    Snapshot::from_poll(seq, SystemTime::now(), Duration::ZERO, generated_poll(n))
}

/// The same table with its first `gone` sockets closed, as poll `seq`.
fn without(first: &Snapshot, seq: u64, gone: usize) -> Snapshot {
    let mut next = first.clone();
    next.seq = seq;
    next.content_seq = seq;
    next.sockets.drain(..gone);
    next
}

/// Take `snapshot` in on the tracker's thread and wait (at most 10 s) until it is taken.
fn settle(t: &mut Tracking, snapshot: &Arc<Snapshot>, now: Instant) -> Vec<Taken> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut taken = t.take_in(snapshot, now, Vec::new());
    while !taken.iter().any(|k| Arc::ptr_eq(&k.snapshot, snapshot)) {
        assert!(
            Instant::now() < deadline,
            "the tracker's thread never answered"
        );
        std::thread::sleep(Duration::from_millis(5));
        taken.extend(t.take_in(snapshot, now, Vec::new()));
    }
    taken
}

fn config() -> TrackerConfig {
    TrackerConfig {
        new_for: Duration::from_secs(2),
        changed_for: Duration::from_secs(2),
        linger: Duration::from_secs(3),
        ..TrackerConfig::default()
    }
}

#[test]
fn a_large_table_moves_the_tracker_off_the_frame_and_it_says_the_same() {
    let mut here = Tracking::new(config(), Arc::new(|| {}));
    let mut there = Tracking::new(config(), Arc::new(|| {})).with_limit(10);
    let first = Arc::new(table(1, 60));
    let second = Arc::new(without(&table(2, 60), 2, 5));
    let start = Instant::now();
    here.take_in(&first, start, Vec::new());
    settle(&mut there, &first, start);
    assert!(
        there.on_its_thread(),
        "past its limit it runs on its thread"
    );
    assert!(!here.on_its_thread());
    let now = start + Duration::from_secs(1);
    let inline = here.take_in(&second, now, Vec::new());
    let threaded = settle(&mut there, &second, now);
    let changes = |taken: &[Taken]| {
        taken
            .iter()
            .find(|t| t.snapshot.seq == 2)
            .map(|t| (t.changes.new, t.changes.changed, t.changes.closed))
    };
    assert_eq!(changes(&threaded), changes(&inline));
    assert_eq!(changes(&inline), Some((0, 0, 5)));
    // The timeline's counts, measured there, make the same sample as here.
    let Some(taken) = threaded.iter().find(|t| t.snapshot.seq == 2) else {
        panic!("the second table was not taken");
    };
    let Some(measured) = taken.measured else {
        panic!("the timeline's counts were not measured on the thread");
    };
    let mut a = crate::model::timeline::Timeline::default();
    let mut b = crate::model::timeline::Timeline::default();
    assert!(a.update(&second, taken.changes));
    assert!(b.update_measured(&second, &measured, taken.changes));
    assert_eq!(a.latest(), b.latest());
    assert!(
        !b.update_measured(&second, &measured, taken.changes),
        "taken once"
    );
    // The same closed rows, marks and deadline.
    let (a, b) = (here.closing_rows(), there.closing_rows());
    assert_eq!(a.table.sockets, b.table.sockets);
    assert_eq!(b.len(), 5);
    for s in first.sockets.iter().chain(&second.sockets) {
        assert_eq!(here.mark(&s.key()), there.mark(&s.key()), "{}", s.summary());
    }
    assert_eq!(here.next_deadline(), there.next_deadline());

    // Past the linger: a frame at the deadline asks the thread to move the clock on, and the
    // closed rows go to the history there as here.
    let later = start + Duration::from_secs(5);
    here.take_in(&second, later, Vec::new());
    let Some(due) = there.next_deadline() else {
        panic!("no deadline on the thread");
    };
    assert!(due <= later);
    there.take_in(&second, later, Vec::new());
    // Asked once: no frame is wanted until the thread answers (its answer wakes the window).
    assert!(
        there.next_deadline().is_none_or(|d| d > later),
        "the deadline asked for is not asked for again"
    );
    let wait = Instant::now() + Duration::from_secs(10);
    while there.history().len() < 5 {
        assert!(Instant::now() < wait, "the history never came");
        std::thread::sleep(Duration::from_millis(5));
        there.take_in(&second, later, Vec::new());
    }
    assert_eq!(here.history().len(), 5);
    let keys = |t: &Tracking| t.history().iter().map(|c| c.key()).collect::<Vec<_>>();
    assert_eq!(keys(&here), keys(&there));
    assert!(there.closing_rows().is_empty());

    // Cleared at once on screen, and on the thread.
    there.clear();
    assert!(there.history().is_empty());
    let third = Arc::new(without(&second, 3, 0));
    settle(&mut there, &third, later);
    assert!(there.history().is_empty());
}

#[test]
fn on_its_thread_the_tracker_asks_for_the_view_with_the_closed_rows_and_one_wake_brings_both() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let tracker_wakes = Arc::new(AtomicUsize::new(0));
    let view_wakes = Arc::new(AtomicUsize::new(0));
    let counted = |n: &Arc<AtomicUsize>| -> Arc<dyn Fn() + Send + Sync> {
        let n = n.clone();
        Arc::new(move || {
            n.fetch_add(1, Ordering::SeqCst);
        })
    };
    let mut view = crate::ui::view::ViewState::new(counted(&view_wakes));
    let mut there = Tracking::new(config(), counted(&tracker_wakes)).with_limit(10);
    let spec = crate::ui::view::ViewSpec::default();
    let first = Arc::new(table(1, 60));
    settle(&mut there, &first, Instant::now());
    assert!(there.on_its_thread());
    let Some(ask) = view.asker() else {
        panic!("no view thread");
    };
    there.show_views_with(|| Some(ask), &spec);
    // The next table, 5 of its sockets gone: the tracker's answer and the view with those
    // closed rows come together, on the view thread's wake alone.
    tracker_wakes.store(0, Ordering::SeqCst);
    let second = Arc::new(without(&table(2, 60), 2, 5));
    let now = Instant::now();
    there.take_in(&second, now, Vec::new());
    assert!(
        there.awaiting(),
        "the view of a table not yet answered for comes from there"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while view_wakes.load(Ordering::SeqCst) == 0 {
        assert!(
            Instant::now() < deadline,
            "the view thread never woke the window"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    there.take_in(&second, now, Vec::new());
    assert!(!there.awaiting());
    assert_eq!(
        tracker_wakes.load(Ordering::SeqCst),
        0,
        "the tracker's answer did not wake the window on its own"
    );
    let closing = there.closing_rows();
    assert_eq!(closing.len(), 5);
    // What the window then asks for is there already: no second build.
    assert!(view.update_with(&second, &closing, &spec));
    assert!(!view.is_pending());
    assert!(Arc::ptr_eq(&view.data().snapshot, &second));
    assert_eq!(view.data().closing.seq, closing.seq);
    assert_eq!(view.data().rows.len(), second.sockets.len() + 5);
    // Without a view to ask, the tracker wakes the window itself, as before.
    let mut alone = Tracking::new(config(), counted(&tracker_wakes)).with_limit(10);
    settle(&mut alone, &first, Instant::now());
    assert!(!alone.awaiting());
    assert!(tracker_wakes.load(Ordering::SeqCst) > 0);
}

#[test]
fn on_its_thread_with_a_clock_the_tracker_moves_on_by_itself_and_wakes_the_window() {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let wakes = Arc::new(AtomicUsize::new(0));
    let counted = wakes.clone();
    let start = Instant::now();
    // A test's clock: it moves only when the test says.
    let at = Arc::new(Mutex::new(start));
    let read = at.clone();
    let clock: Arc<dyn Fn() -> Instant + Send + Sync> =
        Arc::new(move || *read.lock().unwrap_or_else(|e| e.into_inner()));
    let mut there = Tracking::new(
        config(),
        Arc::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
        }),
    )
    .with_limit(10);
    there.tick_by(clock);
    let first = Arc::new(table(1, 60));
    let second = Arc::new(without(&table(2, 60), 2, 5));
    settle(&mut there, &first, start);
    let now = start + Duration::from_secs(1);
    settle(&mut there, &second, now);
    assert_eq!(there.closing_rows().len(), 5);
    // The window is not asked to repaint at deadlines: the thread keeps them.
    assert_eq!(there.next_deadline(), None);
    // Past the linger (3 s), with no frame and no new table: the thread moves on by itself,
    // the closed rows go to the history, and the window is woken.
    let woken = wakes.load(Ordering::SeqCst);
    *at.lock().unwrap_or_else(|e| e.into_inner()) = start + Duration::from_secs(5);
    let deadline = Instant::now() + Duration::from_secs(10);
    while there.history().len() < 5 {
        assert!(Instant::now() < deadline, "the thread never moved on");
        std::thread::sleep(Duration::from_millis(5));
        // Nothing new for the tracker: the same table again, as a frame would.
        there.take_in(&second, now, Vec::new());
    }
    assert!(there.closing_rows().is_empty());
    assert!(
        wakes.load(Ordering::SeqCst) > woken,
        "its answer woke the window"
    );
}

#[test]
fn on_its_thread_the_tracker_takes_tables_from_the_collector_and_hands_them_to_the_window() {
    let start = Instant::now();
    let clock: Arc<dyn Fn() -> Instant + Send + Sync> = Arc::new(move || start);
    let mut there = Tracking::new(config(), Arc::new(|| {})).with_limit(10);
    assert!(there.relay().is_none(), "not before it is on its thread");
    there.tick_by(clock);
    let first = Arc::new(table(1, 60));
    settle(&mut there, &first, start);
    let Some(relay) = there.relay() else {
        panic!("no relay on its thread, with a clock");
    };
    // Frames that have not got the next table yet send the tracker nothing.
    let ask = |t: &mut Tracking| -> Vec<Taken> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let taken = t.take_in(&first, start, Vec::new());
            if !taken.is_empty() {
                return taken;
            }
            assert!(
                Instant::now() < deadline,
                "the tracker's thread never answered"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    let second = Arc::new(without(&table(2, 60), 2, 5));
    let _ = there.take_in(&first, start, Vec::new());
    assert!(relay(second.clone()).is_ok());
    let taken = ask(&mut there);
    assert_eq!(taken.len(), 1, "each table once");
    assert!(Arc::ptr_eq(&taken[0].snapshot, &second));
    assert_eq!(taken[0].changes.closed, 5);
    assert_eq!(there.closing_rows().len(), 5);
    // The table last sent from here is not kept for it.
    assert_eq!(Arc::strong_count(&first), 1, "only this test holds it");
    // The window shows the table it got back: it is not sent again.
    assert!(there.take_in(&second, start, Vec::new()).is_empty());
    assert!(
        matches!(&there.mode, Mode::Thread(worker) if !worker.awaiting()),
        "nothing in hand on the thread"
    );
    // A failed poll with no rows: the rows on show stay, with the error.
    let mut failed = table(3, 0);
    failed.error = Some("the poll failed".to_owned());
    assert!(relay(Arc::new(failed)).is_ok());
    let taken = ask(&mut there);
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].snapshot.sockets.len(), second.sockets.len());
    assert_eq!(taken[0].snapshot.error.as_deref(), Some("the poll failed"));
    assert_eq!(
        taken[0].changes.closed, 0,
        "nothing closed by a failed poll"
    );
    // A tracker that is gone gives the table back.
    drop(there);
    let back = Arc::new(table(4, 60));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match relay(back.clone()) {
            Err(table) => {
                assert!(Arc::ptr_eq(&table, &back));
                break;
            }
            Ok(()) => {
                assert!(Instant::now() < deadline, "the thread never ended");
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}
