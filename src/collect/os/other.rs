//! The live source elsewhere (macOS, Windows, …): netstat2 reports each socket with its owners.

use super::netstat;
use super::processes::{Platform, Processes};
use crate::collect::{CollectError, Poll, SocketSource};

/// How often the whole process list is swept, so processes that no longer own sockets are
/// dropped from memory.
const FULL_SWEEP_EVERY: u32 = 30;

pub struct OsSource {
    processes: Processes,
    polls: u32,
}

impl OsSource {
    pub fn new() -> Result<Self, CollectError> {
        Ok(OsSource {
            processes: Processes::new()?,
            polls: 0,
        })
    }

    /// Other systems have one socket table and no announcements: nothing to follow.
    pub fn watch_other_namespaces(&mut self, wake: std::sync::Arc<dyn Fn() + Send + Sync>) {
        drop(wake);
    }

    /// Nothing, as above.
    pub fn drain_other_namespaces(&mut self) -> crate::model::ended::EndedBatch {
        crate::model::ended::EndedBatch::default()
    }

    /// Container names are a Linux matter: the same source.
    pub fn waiting_for_names(self) -> Self {
        self
    }

    /// Other systems have one socket table: the same as [`OsSource::new`].
    pub fn all_namespaces() -> Result<Self, CollectError> {
        Self::new()
    }
}

/// sysinfo's view of processes stands as it is.
struct Other;

impl Platform for Other {}

impl SocketSource for OsSource {
    fn poll(&mut self) -> Result<Poll, CollectError> {
        let sockets = netstat::sockets_with_owners()?;
        self.polls = self.polls.wrapping_add(1);
        if self.polls.is_multiple_of(FULL_SWEEP_EVERY) {
            self.processes.sweep();
        }
        Ok(self.processes.describe(sockets, &mut Other))
    }

    fn watch_ended(&mut self, wake: Box<dyn Fn() + Send>) -> Result<(), String> {
        drop(wake);
        Err("this system does not announce closed sockets".to_owned())
    }
}
