//! The window's own background threads (collectors, hosts' streams, the view and the change
//! tracker) give way to the thread that draws it: a burst of their work — sorting a table of
//! 100,000 rows, a poll — never holds a frame up on a machine with few cores.

/// How much lower than the process the background threads run (Linux nice levels).
pub const GIVE_WAY: i32 = 10;

/// Lower the calling thread's scheduling priority by [`GIVE_WAY`] nice levels (at most to
/// 19), where the system lets a thread do so; elsewhere nothing happens. Lowering one's own
/// priority needs no privilege, and a failure leaves the thread as it was.
pub fn give_way() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: `gettid` has no preconditions; `getpriority` and `setpriority` on this
        // thread's own id read and change only its nice value (Linux keeps one per thread).
        unsafe {
            let tid = libc::gettid() as libc::id_t;
            let now = libc::getpriority(libc::PRIO_PROCESS, tid);
            libc::setpriority(libc::PRIO_PROCESS, tid, (now + GIVE_WAY).min(19));
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The calling thread's nice value as the kernel reports it in `/proc`.
    fn nice_of_this_thread() -> i32 {
        // SAFETY: no preconditions.
        let tid = unsafe { libc::gettid() };
        let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap();
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        // Field 19 of stat; the 17th after the name and state.
        after_name
            .split_whitespace()
            .nth(16)
            .unwrap()
            .parse()
            .unwrap()
    }

    #[test]
    fn a_background_thread_runs_lower_than_the_rest_and_others_are_untouched() {
        let before = nice_of_this_thread();
        let lowered = std::thread::spawn(|| {
            give_way();
            nice_of_this_thread()
        })
        .join()
        .unwrap();
        assert_eq!(lowered, (before + GIVE_WAY).min(19));
        assert_eq!(nice_of_this_thread(), before, "only the calling thread");
    }
}
