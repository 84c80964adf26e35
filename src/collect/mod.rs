//! Collection: reading the OS's socket and process tables.
//!
//! Everything that touches the OS sits behind [`SocketSource`], so the same collector, GUI and
//! CLI code runs against the live machine ([`OsSource`]) or a fixed set of sockets
//! ([`FixedSource`]) in tests. The [`Collector`] runs a source on its own thread and sends
//! whole snapshots; the UI thread never waits for the OS.

pub mod background;
mod collector;
pub mod containers;
mod fixed;
mod generated;
pub mod helper;
pub mod machines;
mod os;
#[cfg(target_os = "linux")]
pub(crate) mod procfs;
#[cfg(unix)]
pub mod remote;

pub use collector::{Collector, Control, Relay};
pub use fixed::FixedSource;
pub use generated::{GeneratedSource, generated_poll};
pub use helper::{HelperSource, HelperStatus, HelperSwitch};
pub use machines::{HostEntry, HostSet, Machines};
pub use os::OsSource;
#[cfg(target_os = "linux")]
pub use os::{DESTROY_FEED_BUFFER, DestroyFeed};
#[cfg(unix)]
pub use remote::RemoteSource;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use crate::knowledge::EphemeralRange;
use crate::model::{ProcessInfo, Snapshot, Socket, Viewer};

/// What one poll of a source returns.
#[derive(Clone, Debug, Default)]
pub struct Poll {
    pub sockets: Vec<Socket>,
    pub processes: BTreeMap<u32, ProcessInfo>,
    pub users: BTreeMap<u32, String>,
    pub viewer: Viewer,
    /// TCP connections' counters and rates, by cookie (Linux).
    pub traffic: crate::model::traffic::Traffic,
    /// UDP sockets' drop counts, by cookie (Linux).
    pub drops: crate::model::traffic::Drops,
    /// The network namespaces read, by inode (Linux).
    pub namespaces: BTreeMap<u32, crate::model::netns::NetNs>,
    /// The container of each owning process that is in one, by PID (Linux).
    pub containers: BTreeMap<u32, crate::model::container::Container>,
    /// What each forwarder process publishes, by PID.
    pub published: BTreeMap<u32, Vec<crate::model::container::Published>>,
    /// Containers whose network namespaces this user may not read (other users'): their
    /// sockets are not in the poll.
    pub hidden_containers: Vec<crate::model::container::Container>,
    /// The machines of a table of several (see [`Snapshot::machines`]); empty for one.
    pub machines: Vec<crate::model::Machine>,
    /// Which machine this is, as one of a table of several (see [`Snapshot::machine`]).
    pub machine: Option<crate::model::MachineName>,
}

/// Why a poll failed. Each carries advice for the user where there is any.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("cannot read the socket table: {0}")]
    SocketTable(String),
    #[error("cannot read the process table: {0}")]
    Processes(String),
    #[error("reading the socket table failed unexpectedly: {0}")]
    Panicked(String),
}

/// A place sockets and their owners come from.
pub trait SocketSource: Send {
    fn poll(&mut self) -> Result<Poll, CollectError>;

    /// The range of ports the OS hands out automatically. Read at every poll: it is two small
    /// files on Linux, and an administrator may change it while portscope runs.
    fn ephemeral_range(&mut self) -> EphemeralRange {
        EphemeralRange::read_live()
    }

    /// Start listening for the sockets the system destroys, calling `wake` when some were
    /// announced; [`drain_ended`](Self::drain_ended) then hands them out. Fails where the
    /// system makes no such announcements (the default): closes are then found by polls.
    fn watch_ended(&mut self, wake: Box<dyn Fn() + Send>) -> Result<(), String> {
        drop(wake);
        Err("this source announces no closed sockets".to_owned())
    }

    /// The sockets announced destroyed since the last call.
    fn drain_ended(&mut self) -> crate::model::ended::EndedBatch {
        crate::model::ended::EndedBatch::default()
    }
}

impl Snapshot {
    /// Wrap a poll's result with its sequence number and timing.
    pub fn from_poll(seq: u64, taken_at: SystemTime, poll_duration: Duration, poll: Poll) -> Self {
        Snapshot {
            seq,
            content_seq: seq,
            taken_at,
            changed_at: taken_at,
            poll_duration,
            sockets: poll.sockets,
            processes: poll.processes,
            users: poll.users,
            viewer: poll.viewer,
            error: None,
            ephemeral: EphemeralRange::os_default(),
            traffic: poll.traffic,
            drops: poll.drops,
            ended: Vec::new(),
            ended_lost: 0,
            ended_unavailable: None,
            namespaces: poll.namespaces,
            containers: poll.containers,
            published: poll.published,
            hidden_containers: poll.hidden_containers,
            machines: poll.machines,
            machine: poll.machine,
        }
    }
}

/// The kernel's socket table alone, without owners or processes (Linux): what a poll builds on,
/// for measuring what the rest of a poll costs.
#[cfg(target_os = "linux")]
pub fn socket_table() -> Result<Vec<Socket>, CollectError> {
    os::socket_table()
}

/// The bare socket dumps of some network namespaces, each from a sock_diag socket opened
/// inside it once (Linux): what a poll of every namespace builds on, for measuring what the
/// rest of such a poll costs.
#[cfg(target_os = "linux")]
pub struct BareDumps(Vec<netlink_sys::Socket>);

#[cfg(target_os = "linux")]
impl BareDumps {
    /// Enter each namespace (`/proc/PID/ns/net`, `/run/netns/NAME`) once.
    pub fn open(paths: &[std::path::PathBuf]) -> std::io::Result<BareDumps> {
        paths
            .iter()
            .map(|p| os::open_netns(p))
            .collect::<std::io::Result<Vec<_>>>()
            .map(BareDumps)
    }

    /// Dump each, one after the other; how many sockets they hold.
    pub fn dump(&self) -> Result<usize, CollectError> {
        let mut count = 0;
        for netlink in &self.0 {
            count += os::dump_on(netlink)?.len();
        }
        Ok(count)
    }
}

/// Whether the kernel no longer has this TCP socket (by addresses and cookie), asked in the
/// socket's own network namespace (Linux). A lookup that fails counts as still there.
#[cfg(target_os = "linux")]
pub fn socket_gone(socket: &Socket) -> bool {
    os::socket_gone(socket)
}

/// portscope's own network namespace, by inode (Linux).
pub fn own_netns() -> Option<u32> {
    #[cfg(target_os = "linux")]
    {
        os::own_netns()
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// Asks the kernel to destroy one TCP socket (Linux); see [`crate::act::close`].
#[cfg(target_os = "linux")]
pub fn destroy_socket(socket: &Socket) -> std::io::Result<()> {
    os::destroy_socket(socket)
}

/// Poll a source once, outside any thread: what the CLI does.
pub fn snapshot_once(source: &mut dyn SocketSource) -> Result<Snapshot, CollectError> {
    let taken_at = SystemTime::now();
    let start = Instant::now();
    let poll = source.poll()?;
    let mut snap = Snapshot::from_poll(1, taken_at, start.elapsed(), poll);
    snap.ephemeral = source.ephemeral_range();
    Ok(snap)
}
