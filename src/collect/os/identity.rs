//! Noticing that a process has changed what it is (Linux).
//!
//! sysinfo reads a process's name once, and portscope asks it for the executable, command line
//! and user only when they are not known yet: reading them at every poll for every owner would
//! cost more than the socket table. But a process can change all four while it runs — `exec`
//! (a new program under the same PID), `prctl(PR_SET_NAME)` or `setproctitle` (a new name or
//! command line), `setuid` (a new user) — and a table that kept the old values would name the
//! wrong program, and *End process* would refuse it as "not the process you chose".
//!
//! So each poll reads two cheap facts of every process shown, its `/proc/PID/stat` (name and
//! start time) and the target of `/proc/PID/exe`, and marks the process for a complete re-read
//! when either differs from the last poll, and once more at the poll after (a process caught
//! in the middle of `exec` may show its new name before its new command line). What these two
//! cannot show (a new command line
//! without a new name, a new user) is caught by re-reading every process shown every
//! [`SWEEP_EVERY`].

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::time::{Duration, Instant};

use super::processes::Look;
use crate::collect::procfs;

/// How often every process shown is read again completely, whatever it looks like.
pub const SWEEP_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, PartialEq, Eq)]
struct Identity {
    start_ticks: u64,
    comm: Vec<u8>,
    exe: Option<OsString>,
}

/// What the last poll saw of each process shown.
#[derive(Debug)]
pub struct Identities {
    known: HashMap<u32, Identity>,
    /// Processes that changed at the last look: read once more at the next, since a process
    /// caught in the middle of `exec` may show its new name before its new command line.
    settling: Vec<u32>,
    last_sweep: Option<Instant>,
    sweep_every: Duration,
}

impl Default for Identities {
    fn default() -> Self {
        Identities::new(SWEEP_EVERY)
    }
}

impl Identities {
    pub fn new(sweep_every: Duration) -> Self {
        Identities {
            known: HashMap::new(),
            settling: Vec::new(),
            last_sweep: None,
            sweep_every,
        }
    }

    /// Looks at `pids` (the processes this poll shows) and forgets every other process.
    pub fn look(&mut self, pids: &[u32]) -> Look {
        let sweep = self
            .last_sweep
            .is_none_or(|at| at.elapsed() >= self.sweep_every);
        if sweep {
            self.last_sweep = Some(Instant::now());
        }
        let mut look = Look::default();
        let mut now = HashMap::with_capacity(pids.len());
        let mut changed = Vec::new();
        for &pid in pids {
            // Gone, or not ours to read: sysinfo's view stands.
            let Ok(Some(stat)) = procfs::read_stat(pid) else {
                continue;
            };
            look.names.insert(pid, stat.name());
            let identity = Identity {
                start_ticks: stat.start_ticks,
                comm: stat.comm,
                exe: fs::read_link(format!("/proc/{pid}/exe"))
                    .ok()
                    .map(|path| path.into_os_string()),
            };
            if let Some(before) = self.known.get(&pid) {
                if *before != identity {
                    look.reread.push(pid);
                    changed.push(pid);
                } else if sweep || self.settling.contains(&pid) {
                    look.reread.push(pid);
                }
            }
            now.insert(pid, identity);
        }
        self.known = now;
        self.settling = changed;
        look
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_is_read_again_when_it_changes_and_at_each_sweep() {
        let me = std::process::id();
        let mut ids = Identities::new(Duration::from_secs(3600));
        let first = ids.look(&[me]);
        assert!(first.reread.is_empty(), "nothing to compare with yet");
        assert!(first.names.contains_key(&me));
        assert!(ids.look(&[me]).reread.is_empty(), "nothing changed");

        // What a rename looks like from here: the name read last time differs.
        if let Some(known) = ids.known.get_mut(&me) {
            known.comm = b"old-name".to_vec();
        }
        assert_eq!(ids.look(&[me]).reread, [me]);
        assert_eq!(ids.look(&[me]).reread, [me], "read once more as it settles");
        assert!(ids.look(&[me]).reread.is_empty(), "then left alone");
        if let Some(known) = ids.known.get_mut(&me) {
            known.exe = None;
        }
        assert_eq!(ids.look(&[me]).reread, [me]);

        let mut sweeping = Identities::new(Duration::ZERO);
        sweeping.look(&[me]);
        assert_eq!(sweeping.look(&[me]).reread, [me]);
        // A process no longer shown is forgotten, and new again when it comes back.
        assert!(sweeping.look(&[]).reread.is_empty());
        assert!(sweeping.look(&[me]).reread.is_empty());
    }
}
