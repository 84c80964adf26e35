//! Several machines as one table: this machine's source, polled as ever, and each host read
//! by a collector of its own (over SSH it connects, fails and retries on its own thread), so
//! a host that is slow or gone never holds up this machine's poll or another host's.
//!
//! Each poll of [`Machines`] polls this machine and takes each host's newest table without
//! waiting for it. The table it gives lists every machine's sockets, each marked with its
//! machine's id ([`Socket::host`]); each machine's own snapshot (its processes, users,
//! ephemeral range, numbered as on that machine) is in [`Snapshot::machines`]. Ids are given
//! once per host and never reused while the window runs, so a socket keeps its identity
//! while other hosts come and go.
//!
//! With no host, a poll is this machine's poll untouched: nothing is copied.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use super::{CollectError, Collector, Poll, SocketSource};
use crate::knowledge::EphemeralRange;
use crate::model::ended::EndedBatch;
use crate::model::{Machine, MachineName, Snapshot};

/// One host of the table, read by its own collector.
pub struct HostEntry {
    /// What its sockets' [`Socket::host`](crate::model::Socket::host) says (1 and up).
    pub id: u16,
    /// The host as the user gave it.
    pub host: String,
    pub collector: Collector,
    /// Its newest table as it came, and as it is listed (sockets marked with `id`).
    latest: Option<(Arc<Snapshot>, Arc<Snapshot>)>,
}

impl HostEntry {
    pub fn new(id: u16, host: String, collector: Collector) -> HostEntry {
        HostEntry {
            id,
            host,
            collector,
            latest: None,
        }
    }

    /// The host's newest table, marked as this entry's: a new copy only when its content
    /// changed.
    fn table(&mut self) -> Option<Arc<Snapshot>> {
        if let Some(newest) = self.collector.latest() {
            let same = self.latest.as_ref().is_some_and(|(came, _)| {
                came.content_seq == newest.content_seq && came.error == newest.error
            });
            if same {
                if let Some((came, _)) = &mut self.latest {
                    *came = newest;
                }
            } else {
                let mut table = Snapshot::clone(&newest);
                for socket in &mut table.sockets {
                    socket.host = self.id;
                }
                table.machine = Some(MachineName {
                    host: Some(self.host.clone()),
                    name: self.host.clone(),
                    stale: newest.error.clone(),
                });
                self.latest = Some((newest, Arc::new(table)));
            }
        }
        self.latest.as_ref().map(|(_, listed)| listed.clone())
    }
}

/// The hosts a [`Machines`] source lists, shared with whoever adds and removes them.
#[derive(Clone, Default)]
pub struct HostSet(Arc<Mutex<HostList>>);

#[derive(Default)]
pub struct HostList {
    pub entries: Vec<HostEntry>,
    /// The last id given.
    last_id: u16,
}

impl HostSet {
    pub fn lock(&self) -> MutexGuard<'_, HostList> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl HostList {
    /// The id for a new host; `None` once every id was given.
    pub fn next_id(&mut self) -> Option<u16> {
        self.last_id = self.last_id.checked_add(1)?;
        Some(self.last_id)
    }
}

/// This machine and the hosts of a [`HostSet`], as one source.
pub struct Machines {
    local: Box<dyn SocketSource>,
    /// What this machine is called in the *Host* column.
    local_name: String,
    hosts: HostSet,
    ephemeral: Option<EphemeralRange>,
    /// This machine's last table, kept while its content does not change.
    local_table: Option<Arc<Snapshot>>,
    seq: u64,
}

impl Machines {
    pub fn new(local: Box<dyn SocketSource>, hosts: HostSet) -> Machines {
        Machines {
            local,
            local_name: local_host_name(),
            hosts,
            ephemeral: None,
            local_table: None,
            seq: 0,
        }
    }

    /// This machine's table of `poll`, the last one again when nothing changed.
    fn local_table(&mut self, poll: &Poll, ephemeral: EphemeralRange) -> Arc<Snapshot> {
        self.seq += 1;
        let mut table = Snapshot::from_poll(self.seq, SystemTime::now(), Default::default(), {
            let mut own = poll.clone();
            own.machines = Vec::new();
            own
        });
        table.ephemeral = ephemeral;
        table.machine = Some(MachineName {
            host: None,
            name: self.local_name.clone(),
            stale: None,
        });
        if let Some(last) = &self.local_table
            && last.same_content(&table)
        {
            return last.clone();
        }
        let table = Arc::new(table);
        self.local_table = Some(table.clone());
        table
    }
}

/// This machine's name as the system gives it, or words when it gives none.
pub fn local_host_name() -> String {
    sysinfo::System::host_name()
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "this machine".to_owned())
}

impl SocketSource for Machines {
    fn poll(&mut self) -> Result<Poll, CollectError> {
        let mut poll = self.local.poll()?;
        let ephemeral = self.local.ephemeral_range();
        self.ephemeral = Some(ephemeral.clone());
        let hosts = self.hosts.clone();
        let mut hosts = hosts.lock();
        if hosts.entries.is_empty() {
            self.local_table = None;
            return Ok(poll);
        }
        let mut machines = vec![Machine {
            id: 0,
            table: self.local_table(&poll, ephemeral),
        }];
        for entry in &mut hosts.entries {
            let Some(table) = entry.table() else {
                continue;
            };
            poll.sockets.extend(table.sockets.iter().cloned());
            machines.push(Machine {
                id: entry.id,
                table,
            });
        }
        poll.machines = machines;
        Ok(poll)
    }

    fn ephemeral_range(&mut self) -> EphemeralRange {
        match &self.ephemeral {
            Some(range) => range.clone(),
            None => self.local.ephemeral_range(),
        }
    }

    fn watch_ended(&mut self, wake: Box<dyn Fn() + Send>) -> Result<(), String> {
        self.local.watch_ended(wake)
    }

    fn drain_ended(&mut self) -> EndedBatch {
        self.local.drain_ended()
    }
}
