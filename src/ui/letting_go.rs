//! Letting large tables go off the frame.
//!
//! Freeing a table of 100,000 rows and all it holds takes a few milliseconds a frame should
//! not spend. Past [`INLINE_LIMIT`] rows, what a frame lets go is handed to one thread kept for
//! it, running below the window's priority ([`give_way`]). One thread, started once: a thread
//! started for each table took the core from the frame that started it (a new thread runs at
//! the window's priority until it lowers its own) and kept it for a turn of about 3 ms, while
//! the other core idled.

use std::sync::OnceLock;
use std::sync::mpsc::{self, Sender};
use std::thread;

use super::view::INLINE_LIMIT;
use crate::collect::background::give_way;

/// Something to let go, whatever it is.
type Parcel = Box<dyn Send>;

/// Where values go to be let go; `None` when the thread could not be started.
static FREEING: OnceLock<Option<Sender<Parcel>>> = OnceLock::new();

/// Let `value` go: a large table's (`rows` rows) on the freeing thread, a small one here and
/// now (as is everything, here, when there is no freeing thread).
pub(crate) fn drop_later<T: Send + 'static>(value: T, rows: usize) {
    if rows <= INLINE_LIMIT {
        return;
    }
    if let Some(freeing) = FREEING.get_or_init(start) {
        // A thread that is gone hands the value back, and it is let go here.
        let _ = freeing.send(Box::new(value));
    }
}

fn start() -> Option<Sender<Parcel>> {
    let (sender, parcels) = mpsc::channel::<Parcel>();
    thread::Builder::new()
        .name("portscope-drop".to_owned())
        .spawn(move || {
            give_way();
            for parcel in parcels {
                drop(parcel);
            }
        })
        .ok()?;
    Some(sender)
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::thread::{self, ThreadId};
    use std::time::Duration;

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
}
