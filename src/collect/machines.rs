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

    /// The host's newest table, marked as this entry's. A source wrapped in [`tagged`] marks
    /// its own (nothing is copied here); another's is copied and marked when its content
    /// changed, as is one that failed (its rows, the last read, said to be not current).
    fn table(&mut self) -> Option<Arc<Snapshot>> {
        if let Some(newest) = self.collector.latest() {
            let same = self.latest.as_ref().is_some_and(|(came, _)| {
                came.content_seq == newest.content_seq && came.error == newest.error
            });
            if same {
                if let Some((came, _)) = &mut self.latest {
                    *came = newest;
                }
            } else if self.marks(&newest) && newest.error.is_none() {
                self.latest = Some((newest.clone(), newest));
            } else {
                let mut table = Snapshot::clone(&newest);
                mark(&mut table, self.id, &self.host);
                if let Some(machine) = &mut table.machine {
                    machine.stale = newest.error.clone();
                }
                self.latest = Some((newest, Arc::new(table)));
            }
        }
        self.latest.as_ref().map(|(_, listed)| listed.clone())
    }

    /// Whether `table` came marked as this host's (by [`tagged`], which marks every socket
    /// with the table).
    fn marks(&self, table: &Snapshot) -> bool {
        table
            .machine
            .as_ref()
            .is_some_and(|m| m.host.as_deref() == Some(self.host.as_str()))
    }
}

/// Mark a table as host `host`'s, id `id`: its sockets, its name, and its range as its own
/// (the explanation says whose).
fn mark(table: &mut Snapshot, id: u16, host: &str) {
    for socket in &mut table.sockets {
        socket.host = id;
    }
    if let crate::knowledge::EphemeralSource::Live { host: whose, .. } = &mut table.ephemeral.source
    {
        *whose = Some(host.to_owned());
    }
    table.machine = Some(MachineName {
        host: Some(host.to_owned()),
        name: host.to_owned(),
        stale: None,
    });
}

/// `source`, whose polls come marked as host `host`'s (id `id`), so that its collector's
/// tables are listed as they are: a host of 10,000 sockets is not copied again every second.
pub fn tagged(source: Box<dyn SocketSource>, id: u16, host: &str) -> Box<dyn SocketSource> {
    Box::new(Tagged {
        inner: source,
        id,
        host: host.to_owned(),
    })
}

struct Tagged {
    inner: Box<dyn SocketSource>,
    id: u16,
    host: String,
}

impl SocketSource for Tagged {
    fn poll(&mut self) -> Result<Poll, CollectError> {
        let mut poll = self.inner.poll()?;
        for socket in &mut poll.sockets {
            socket.host = self.id;
        }
        poll.machine = Some(MachineName {
            host: Some(self.host.clone()),
            name: self.host.clone(),
            stale: None,
        });
        Ok(poll)
    }

    fn ephemeral_range(&mut self) -> EphemeralRange {
        let mut range = self.inner.ephemeral_range();
        if let crate::knowledge::EphemeralSource::Live { host, .. } = &mut range.source {
            *host = Some(self.host.clone());
        }
        range
    }

    fn watch_ended(&mut self, wake: Box<dyn Fn() + Send>) -> Result<(), String> {
        self.inner.watch_ended(wake)
    }

    fn drain_ended(&mut self) -> EndedBatch {
        self.inner.drain_ended()
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
        // The hosts' newest tables, taken under the lock (the window adds and removes hosts
        // through it); the copying into one table after it is let go.
        let (tables, no_hosts) = {
            let mut hosts = self.hosts.lock();
            let tables: Vec<Machine> = hosts
                .entries
                .iter_mut()
                .filter_map(|entry| {
                    entry.table().map(|table| Machine {
                        id: entry.id,
                        table,
                    })
                })
                .collect();
            (tables, hosts.entries.is_empty())
        };
        if no_hosts {
            self.local_table = None;
            return Ok(poll);
        }
        let mut machines = vec![Machine {
            id: 0,
            table: self.local_table(&poll, ephemeral),
        }];
        poll.sockets
            .reserve(tables.iter().map(|m| m.table.sockets.len()).sum());
        for machine in tables {
            poll.sockets.extend(machine.table.sockets.iter().cloned());
            machines.push(machine);
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::net::{IpAddr, Ipv4Addr};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    use super::*;
    use crate::collect::FixedSource;
    use crate::model::{Pids, ProcessInfo, Proto, SockState, Socket};

    fn listener(port: u16, pid: u32) -> Socket {
        Socket {
            proto: Proto::Tcp,
            local_addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            local_port: port,
            remote_addr: None,
            remote_port: None,
            state: SockState::Listen,
            pids: Pids::from_slice(&[pid]),
            uid: Some(0),
            inode: Some(u32::from(port)),
            cookie: u64::from(port),
            recv_q: 0,
            send_q: 128,
            netns: 0,
            host: 0,
        }
    }

    /// One listener on `port`, held by PID 100 named `name`.
    fn machine(port: u16, name: &str) -> Poll {
        let process = ProcessInfo {
            pid: 100,
            name: name.to_owned(),
            exe: None,
            cmdline: vec![name.to_owned()],
            uid: Some(0),
            user: Some("root".to_owned()),
            parent_pid: Some(1),
            start_time: None,
        };
        Poll {
            sockets: vec![listener(port, 100)],
            processes: BTreeMap::from([(100, process)]),
            ..Poll::default()
        }
    }

    /// A host whose polls fail once `down` is set.
    struct Flaky {
        poll: Poll,
        down: Arc<AtomicBool>,
    }

    impl SocketSource for Flaky {
        fn poll(&mut self) -> Result<Poll, CollectError> {
            if self.down.load(Ordering::Relaxed) {
                return Err(CollectError::SocketTable("db1: the stream stopped".into()));
            }
            Ok(self.poll.clone())
        }
    }

    fn add(hosts: &HostSet, name: &str, source: Box<dyn SocketSource>) -> u16 {
        let collector =
            Collector::spawn(source, Duration::from_millis(20), || {}).expect("a thread");
        let mut list = hosts.lock();
        let id = list.next_id().expect("an id");
        list.entries
            .push(HostEntry::new(id, name.to_owned(), collector));
        id
    }

    /// Poll until `ready` holds, at most 10 s.
    fn poll_until(machines: &mut Machines, ready: impl Fn(&Poll) -> bool) -> Poll {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let poll = machines.poll().expect("this machine's poll");
            if ready(&poll) {
                return poll;
            }
            assert!(Instant::now() < deadline, "never ready: {poll:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn without_hosts_a_poll_is_this_machines_untouched() {
        let mut machines = Machines::new(
            Box::new(FixedSource::new(machine(80, "nginx"))),
            HostSet::default(),
        );
        let poll = machines.poll().expect("a poll");
        assert!(poll.machines.is_empty());
        assert_eq!(poll.sockets, machine(80, "nginx").sockets);
    }

    #[test]
    fn a_hosts_sockets_join_the_table_each_read_against_its_own_machine() {
        let hosts = HostSet::default();
        let mut machines = Machines::new(
            Box::new(FixedSource::new(machine(80, "nginx"))),
            hosts.clone(),
        );
        let id = add(
            &hosts,
            "db1",
            Box::new(FixedSource::new(machine(5432, "postgres"))),
        );
        let poll = poll_until(&mut machines, |p| p.machines.len() == 2);
        let snap = Snapshot::from_poll(1, SystemTime::now(), Duration::ZERO, poll);
        // The rows are the machines' rows one after the other, each marked with its machine.
        assert!(snap.machines_cover_rows());
        let rows: Vec<(u16, u16)> = snap
            .sockets
            .iter()
            .map(|s| (s.host, s.local_port))
            .collect();
        assert_eq!(rows, [(0, 80), (id, 5432)]);
        // PID 100 is nginx here and postgres there.
        assert_eq!(snap.process_label(&snap.sockets[0]), "nginx");
        assert_eq!(snap.process_label(&snap.sockets[1]), "postgres");
        assert_eq!(snap.machine_name(&snap.sockets[1]), Some("db1"));
        assert_eq!(snap.host_of(&snap.sockets[1]), Some("db1"));
        assert_eq!(snap.host_of(&snap.sockets[0]), None);
        // Keys of two machines never meet, whatever their cookies.
        let mut twin = snap.sockets[1].clone();
        twin.host = 0;
        assert_ne!(twin.key(), snap.sockets[1].key());
        // Nothing changed: the same tables again, not copies (the window rebuilds nothing).
        let again = machines.poll().expect("a poll");
        for (a, b) in snap.machines.iter().zip(&again.machines) {
            assert!(Arc::ptr_eq(&a.table, &b.table), "machine {} copied", a.id);
        }
    }

    #[test]
    fn a_host_that_fails_keeps_its_last_rows_marked_not_current_and_a_removed_one_leaves() {
        let hosts = HostSet::default();
        let mut machines = Machines::new(
            Box::new(FixedSource::new(machine(80, "nginx"))),
            hosts.clone(),
        );
        let down = Arc::new(AtomicBool::new(false));
        let id = add(
            &hosts,
            "db1",
            Box::new(Flaky {
                poll: machine(5432, "postgres"),
                down: down.clone(),
            }),
        );
        poll_until(&mut machines, |p| p.machines.len() == 2);
        down.store(true, Ordering::Relaxed);
        let poll = poll_until(&mut machines, |p| {
            p.machines
                .iter()
                .any(|m| m.table.machine.as_ref().is_some_and(|n| n.stale.is_some()))
        });
        let host = poll.machines.iter().find(|m| m.id == id).expect("db1");
        let name = host.table.machine.as_ref().expect("named");
        assert_eq!(
            name.stale.as_deref(),
            Some("cannot read the socket table: db1: the stream stopped")
        );
        assert!(
            poll.sockets
                .iter()
                .any(|s| s.host == id && s.local_port == 5432)
        );

        hosts.lock().entries.clear();
        let poll = machines.poll().expect("a poll");
        assert!(poll.machines.is_empty());
        assert!(poll.sockets.iter().all(|s| s.host == 0));
    }

    /// This machine with nginx on 80 and a host with postgres on `host_ports`, both PID 100,
    /// as the window gets them.
    fn merged(seq: u64, host_ports: &[u16]) -> Arc<Snapshot> {
        let mut local =
            Snapshot::from_poll(seq, SystemTime::now(), Duration::ZERO, machine(80, "nginx"));
        local.machine = Some(MachineName {
            host: None,
            name: "here".into(),
            stale: None,
        });
        let mut host = Snapshot::from_poll(
            seq,
            SystemTime::now(),
            Duration::ZERO,
            machine(0, "postgres"),
        );
        host.sockets = host_ports
            .iter()
            .map(|&port| Socket {
                host: 1,
                ..listener(port, 100)
            })
            .collect();
        host.machine = Some(MachineName {
            host: Some("db1".into()),
            name: "db1".into(),
            stale: None,
        });
        let mut all = local.clone();
        all.sockets.extend(host.sockets.iter().cloned());
        all.machines = vec![
            Machine {
                id: 0,
                table: Arc::new(local),
            },
            Machine {
                id: 1,
                table: Arc::new(host),
            },
        ];
        Arc::new(all)
    }

    #[test]
    fn a_hosts_closed_socket_lingers_with_the_hosts_process() {
        let mut tracker = crate::model::history::ChangeTracker::default();
        let start = Instant::now();
        tracker.update(&merged(1, &[5432, 6432]), start);
        let changes = tracker.update(&merged(2, &[6432]), start + Duration::from_secs(1));
        assert_eq!(changes.closed, 1);
        let closing = tracker.closing_rows();
        let rows: Vec<(u16, u16, String)> = closing
            .table
            .sockets
            .iter()
            .map(|s| (s.host, s.local_port, closing.table.process_label(s)))
            .collect();
        // Postgres, the host's PID 100: not nginx, this machine's.
        assert_eq!(rows, [(1, 5432, "postgres".to_owned())]);
        assert_eq!(
            closing.table.machine_name(&closing.table.sockets[0]),
            Some("db1")
        );
    }

    #[test]
    fn a_host_taken_out_of_the_table_closed_nothing() {
        let mut tracker = crate::model::history::ChangeTracker::default();
        let start = Instant::now();
        tracker.update(&merged(1, &[5432, 6432]), start);
        // The next table has this machine alone.
        let mut alone = Snapshot::clone(&merged(2, &[]));
        alone.machines.clear();
        let changes = tracker.update(&Arc::new(alone), start + Duration::from_secs(1));
        assert_eq!(changes.closed, 0);
        assert!(tracker.closing_rows().is_empty());
    }

    #[test]
    fn the_timeline_counts_every_machines_sockets_and_this_machines_ephemeral_ports() {
        // The host's listeners sit inside this machine's ephemeral range by number only.
        let merged = merged(1, &[40000, 40001]);
        assert!(merged.on(0).ephemeral.contains(40000));
        let mut timeline = crate::model::timeline::Timeline::default();
        timeline.update(&merged, Default::default());
        let sample = timeline.latest().expect("a sample");
        assert_eq!(sample.total(), 3);
        assert_eq!(
            sample.ephemeral_in_use, 0,
            "a host's ports are in its own range"
        );
    }
}
