//! Letting large tables go off the frame.
//!
//! Freeing a table of 100,000 rows and all it holds takes a few milliseconds a frame should
//! not spend. Past [`INLINE_LIMIT`] rows, what a frame lets go is handed to one thread kept for
//! it, running below the window's priority ([`give_way`]). One thread, started once: a thread
//! started for each table took the core from the frame that started it (a new thread runs at
//! the window's priority until it lowers its own) and kept it for a turn of about 3 ms, while
//! the other core idled.
//!
//! The frame does not wake that thread either: a thread woken by the frame's thread is
//! often put on the frame's core and run at once, the frame waiting its turn (the scheduler's
//! trace showed the frame held up 1.5–2 ms that way each second). While tables come, the
//! thread looks for parcels on its own every [`LOOK_EVERY`]; after [`NAP_AFTER`] looks that
//! found nothing it sleeps until the next parcel wakes it, so an idle window stays idle.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread;
use std::time::Duration;

use super::view::INLINE_LIMIT;
use crate::collect::background::give_way;

/// Something to let go, whatever it is.
type Parcel = Box<dyn Send>;

/// How often the thread looks for parcels while they come.
const LOOK_EVERY: Duration = Duration::from_millis(50);

/// Looks that found nothing before the thread sleeps until woken (two seconds).
const NAP_AFTER: u32 = 40;

/// Where values go to be let go; `None` when the thread could not be started.
static FREEING: OnceLock<Option<Arc<Freeing>>> = OnceLock::new();

/// Let `value` go: a large table's (`rows` rows) on the freeing thread, a small one here and
/// now (as is everything, here, when there is no freeing thread).
pub(crate) fn drop_later<T: Send + 'static>(value: T, rows: usize) {
    if rows > INLINE_LIMIT {
        drop_off_frame(value);
    }
}

/// Let `value` go on the freeing thread, whatever its size (here when there is none).
pub(crate) fn drop_off_frame<T: Send + 'static>(value: T) {
    if let Some(freeing) = FREEING.get_or_init(|| Freeing::start(LOOK_EVERY, NAP_AFTER)) {
        freeing.hand(Box::new(value));
    }
}

/// The parcels waiting, and the thread that lets them go.
struct Freeing {
    parcels: Mutex<Vec<Parcel>>,
    /// Rung when a parcel comes while the thread sleeps.
    bell: Condvar,
    /// The thread sleeps until a parcel comes (rather than looking by itself).
    asleep: AtomicBool,
}

impl Freeing {
    /// Start the thread: it looks every `look_every` and, after `nap_after` looks finding
    /// nothing, sleeps until woken.
    fn start(look_every: Duration, nap_after: u32) -> Option<Arc<Freeing>> {
        let freeing = Arc::new(Freeing {
            parcels: Mutex::new(Vec::new()),
            bell: Condvar::new(),
            asleep: AtomicBool::new(false),
        });
        let shared = freeing.clone();
        thread::Builder::new()
            .name("portscope-drop".to_owned())
            .spawn(move || {
                give_way();
                shared.run(look_every, nap_after);
            })
            .ok()?;
        Some(freeing)
    }

    fn parcels(&self) -> MutexGuard<'_, Vec<Parcel>> {
        // A parcel's drop that panicked poisons nothing here: it is dropped outside the lock.
        self.parcels.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hand a parcel over; the thread is woken only when it sleeps.
    fn hand(&self, parcel: Parcel) {
        self.parcels().push(parcel);
        if self.asleep.load(Ordering::SeqCst) {
            self.bell.notify_one();
        }
    }

    fn run(&self, look_every: Duration, nap_after: u32) {
        let mut found_nothing = 0;
        loop {
            let batch = std::mem::take(&mut *self.parcels());
            if batch.is_empty() {
                found_nothing += 1;
            } else {
                found_nothing = 0;
            }
            drop(batch);
            if found_nothing < nap_after {
                thread::sleep(look_every);
                continue;
            }
            // Marked asleep under the lock: a parcel handed before this is seen by the wait's
            // check, one handed after it rings.
            let parcels = self.parcels();
            self.asleep.store(true, Ordering::SeqCst);
            let parcels = self
                .bell
                .wait_while(parcels, |p| p.is_empty())
                .unwrap_or_else(|e| e.into_inner());
            self.asleep.store(false, Ordering::SeqCst);
            drop(parcels);
            found_nothing = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::thread::{self, ThreadId};
    use std::time::{Duration, Instant};

    use super::*;

    /// Says on which thread it was let go.
    struct Noting(mpsc::Sender<ThreadId>);

    impl Drop for Noting {
        fn drop(&mut self) {
            let _ = self.0.send(thread::current().id());
        }
    }

    #[test]
    fn large_values_are_let_go_on_one_thread_kept_for_it_and_small_ones_here() {
        let (noted, by) = mpsc::channel();
        drop_later(Noting(noted.clone()), INLINE_LIMIT + 1);
        drop_later(Noting(noted.clone()), INLINE_LIMIT);
        drop_later(Noting(noted), 10 * INLINE_LIMIT);
        let threads: Vec<ThreadId> = (0..3)
            .map(|_| {
                by.recv_timeout(Duration::from_secs(10))
                    .expect("each is let go")
            })
            .collect();
        let here = thread::current().id();
        assert_eq!(
            threads.iter().filter(|&&t| t == here).count(),
            1,
            "the small one, here"
        );
        let away: Vec<&ThreadId> = threads.iter().filter(|&&t| t != here).collect();
        assert_eq!(away.len(), 2);
        assert_eq!(away[0], away[1], "the large ones on the same thread");
    }

    /// Wait (bounded) until the thread sleeps until woken.
    fn until_asleep(freeing: &Freeing) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !freeing.asleep.load(Ordering::SeqCst) {
            assert!(Instant::now() < deadline, "the thread never went to sleep");
            thread::yield_now();
        }
    }

    #[test]
    fn parcels_are_let_go_while_the_thread_looks_by_itself_and_once_it_sleeps() {
        // One look finding nothing and the thread sleeps until woken; woken, it lets the
        // parcel go, looks once more and sleeps again.
        let freeing = Freeing::start(Duration::from_millis(10), 1).expect("a thread");
        until_asleep(&freeing);
        let (noted, by) = mpsc::channel();
        // Asleep, the thread is woken by the parcel.
        freeing.hand(Box::new(Noting(noted.clone())));
        let first = by
            .recv_timeout(Duration::from_secs(10))
            .expect("a sleeping thread is woken to let the parcel go");
        assert_ne!(first, thread::current().id());
        until_asleep(&freeing);
        freeing.hand(Box::new(Noting(noted)));
        assert_eq!(
            by.recv_timeout(Duration::from_secs(10)),
            Ok(first),
            "woken again, the same thread"
        );
    }

    #[test]
    fn a_thread_looking_by_itself_is_not_woken() {
        // It looks every 20 ms and never sleeps: the parcel is let go at a look, with no bell.
        let freeing = Freeing::start(Duration::from_millis(20), u32::MAX).expect("a thread");
        let (noted, by) = mpsc::channel();
        freeing.hand(Box::new(Noting(noted)));
        assert!(!freeing.asleep.load(Ordering::SeqCst));
        by.recv_timeout(Duration::from_secs(10))
            .expect("the next look lets it go");
    }
}
