//! The model: what one poll of the machine saw, independent of how it was collected.
//!
//! Everything here is plain data. The collector builds a [`Snapshot`]; the GUI and the CLI
//! only read it, so both show the same thing and tests can build snapshots by hand.

pub mod column;
pub mod container;
pub mod ended;
pub mod ephemeral_fill;
mod explain;
pub mod export;
pub mod history;
pub mod netns;
mod owner;
pub mod query;
mod risk;
mod table;
pub mod text;
pub mod timeline;
mod toggles;
pub mod traffic;
pub mod traffic_history;
pub mod units;

pub use explain::explain_now;
pub use owner::{NoOwnerReason, Owner};
pub use query::{Query, QueryError};
pub use risk::at_ephemeral_risk;
pub use table::{
    Filter, SortDir, SortKey, SortSpec, compare_sockets, merge_sorted_rows, sorted_rows,
    sorted_rows_cached, sorted_rows_of, sorted_rows_with,
};
pub use toggles::Toggles;

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::knowledge::{EphemeralRange, IanaRange};

/// Transport protocol of a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

/// A socket's protocol as the port registry names it.
impl From<Proto> for crate::knowledge::Transport {
    fn from(proto: Proto) -> Self {
        match proto {
            Proto::Tcp => crate::knowledge::Transport::Tcp,
            Proto::Udp => crate::knowledge::Transport::Udp,
        }
    }
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }

    /// Upper-case label for tables ("TCP", "UDP").
    pub fn label(self) -> &'static str {
        match self {
            Proto::Tcp => "TCP",
            Proto::Udp => "UDP",
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// State of a socket as the OS reports it. UDP sockets are `Unconn`, or `Established` when
/// connected to one peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SockState {
    Listen,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
    Closed,
    DeleteTcb,
    /// A TCP socket bound to a port that neither listens nor connects: the port is taken, yet
    /// nothing answers on it (`ss` lists it as `UNCONN`).
    Bound,
    /// A UDP socket with no fixed peer.
    Unconn,
    /// A state number the OS reported that portscope has no name for.
    Unknown,
}

impl SockState {
    pub fn as_str(self) -> &'static str {
        match self {
            SockState::Listen => "LISTEN",
            SockState::SynSent => "SYN_SENT",
            SockState::SynReceived => "SYN_RECV",
            SockState::Established => "ESTABLISHED",
            SockState::FinWait1 => "FIN_WAIT1",
            SockState::FinWait2 => "FIN_WAIT2",
            SockState::CloseWait => "CLOSE_WAIT",
            SockState::Closing => "CLOSING",
            SockState::LastAck => "LAST_ACK",
            SockState::TimeWait => "TIME_WAIT",
            SockState::Closed => "CLOSED",
            SockState::DeleteTcb => "DELETE_TCB",
            SockState::Bound => "BOUND",
            SockState::Unconn => "UNCONN",
            SockState::Unknown => "UNKNOWN",
        }
    }

    /// Listening TCP sockets and unconnected UDP sockets: the ones that wait for others.
    pub fn is_listening(self) -> bool {
        matches!(self, SockState::Listen | SockState::Unconn)
    }
}

impl fmt::Display for SockState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for SockState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The hasher for maps filled and read once per socket (the change tracker's index, a sort's
/// names): SipHash spends most of such a pass hashing; foldhash is several times faster, and
/// seeded at random, so the peers who choose some of a key's fields cannot aim for collisions.
pub(crate) type FastHash = foldhash::fast::RandomState;

/// The processes holding a socket, ascending. Nearly always none or one, which are kept
/// inline: a table of 100,000 sockets is not 100,000 allocations, and each socket stays small.
/// Reads as a slice of PIDs.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Pids(PidsRepr);

#[derive(Clone, Default, PartialEq, Eq, Hash)]
enum PidsRepr {
    #[default]
    None,
    One(u32),
    /// Boxed twice so that the whole value is two words: a boxed slice alone is two.
    Many(Box<Box<[u32]>>),
}

impl Pids {
    pub fn new() -> Pids {
        Pids::default()
    }

    pub fn from_slice(pids: &[u32]) -> Pids {
        Pids(match pids {
            [] => PidsRepr::None,
            [pid] => PidsRepr::One(*pid),
            _ => PidsRepr::Many(Box::new(pids.into())),
        })
    }

    pub fn as_slice(&self) -> &[u32] {
        match &self.0 {
            PidsRepr::None => &[],
            PidsRepr::One(pid) => std::slice::from_ref(pid),
            PidsRepr::Many(pids) => pids,
        }
    }

    /// Keeps the PIDs for which `keep` says yes.
    pub fn retain(&mut self, mut keep: impl FnMut(u32) -> bool) {
        if self.iter().all(|pid| keep(*pid)) {
            return;
        }
        let kept: Vec<u32> = self.iter().copied().filter(|pid| keep(*pid)).collect();
        *self = Pids::from_slice(&kept);
    }
}

impl std::ops::Deref for Pids {
    type Target = [u32];

    fn deref(&self) -> &[u32] {
        self.as_slice()
    }
}

impl fmt::Debug for Pids {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl From<&[u32]> for Pids {
    fn from(pids: &[u32]) -> Pids {
        Pids::from_slice(pids)
    }
}

impl From<Vec<u32>> for Pids {
    fn from(pids: Vec<u32>) -> Pids {
        match pids.len() {
            0 | 1 => Pids::from_slice(&pids),
            _ => Pids(PidsRepr::Many(Box::new(pids.into_boxed_slice()))),
        }
    }
}

impl<'a> IntoIterator for &'a Pids {
    type Item = &'a u32;
    type IntoIter = std::slice::Iter<'a, u32>;

    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

/// One socket of the machine's socket table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Socket {
    pub proto: Proto,
    pub local_addr: IpAddr,
    pub local_port: u16,
    /// The peer. `None` where there is none: listening and bound TCP sockets, unconnected UDP
    /// sockets (and, on systems whose socket table omits it, every UDP socket's peer).
    pub remote_addr: Option<IpAddr>,
    pub remote_port: Option<u16>,
    pub state: SockState,
    /// Processes that hold this socket open, ascending. Empty when no owner is visible.
    pub pids: Pids,
    /// Owning user id as the kernel reports it (Linux), even when no PID is visible.
    pub uid: Option<u32>,
    /// Kernel inode of the socket (Linux); 0 for sockets no file refers to (TIME_WAIT).
    pub inode: Option<u32>,
    /// The kernel's cookie for the socket (Linux): unlike the address pair, never given to
    /// another socket while the machine runs. 0 where the system does not say.
    pub cookie: u64,
    /// Bytes received and not yet read by the process (`Recv-Q` in `ss`); for a listener, the
    /// connections waiting to be accepted. 0 where the system does not say.
    pub recv_q: u32,
    /// Bytes sent and not yet acknowledged by the peer (`Send-Q`); for a listener, the most
    /// connections that may wait to be accepted (its backlog).
    pub send_q: u32,
    /// The network namespace the socket lives in, by its inode (Linux: what `readlink
    /// /proc/PID/ns/net` shows as `net:[N]`); 0 where the system does not say.
    pub netns: u32,
    /// The machine the socket is on, in a table of several machines: the id of its
    /// [`Machine`] (0: this one; see [`Snapshot::on`]). Always 0 in one machine's table.
    pub host: u16,
}

impl Socket {
    pub fn key(&self) -> SocketKey {
        SocketKey {
            proto: self.proto,
            local_addr: self.local_addr,
            local_port: self.local_port,
            remote_addr: self.remote_addr,
            remote_port: self.remote_port,
            inode: self.inode,
            cookie: self.cookie,
            host: self.host,
        }
    }

    /// `addr:port` with IPv6 in brackets, as in URLs.
    pub fn local_endpoint(&self) -> String {
        endpoint(self.local_addr, Some(self.local_port))
    }

    /// One line for lists: `TCP 127.0.0.1:8080 → 127.0.0.1:51000  ESTABLISHED`.
    pub fn summary(&self) -> String {
        format!(
            "{} {} → {}  {}",
            self.proto.label(),
            self.local_endpoint(),
            self.remote_endpoint(),
            self.state
        )
    }

    /// The owning PIDs as text, separated by `sep`.
    pub fn pids_text(&self, sep: &str) -> String {
        self.pids
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(sep)
    }

    pub fn bind_scope(&self) -> BindScope {
        BindScope::of(self.local_addr)
    }

    /// The IANA range of the local port.
    pub fn local_range(&self) -> IanaRange {
        IanaRange::of(self.local_port)
    }

    pub fn remote_endpoint(&self) -> String {
        match self.remote_addr {
            Some(addr) => endpoint(addr, self.remote_port),
            None => "*".to_owned(),
        }
    }
}

/// Where a socket's local address can be reached from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BindScope {
    /// 0.0.0.0 or `::`: every interface of the machine.
    AllInterfaces,
    /// 127.0.0.0/8 or `::1`: this machine only.
    Loopback,
    /// One address of one interface.
    Interface,
}

impl BindScope {
    /// The scope of a local address. An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`, an
    /// IPv6 socket serving IPv4) has the scope of the IPv4 address it carries.
    pub fn of(addr: IpAddr) -> BindScope {
        let addr = addr.to_canonical();
        if addr.is_unspecified() {
            BindScope::AllInterfaces
        } else if addr.is_loopback() {
            BindScope::Loopback
        } else {
            BindScope::Interface
        }
    }

    /// A few words for a table cell.
    pub fn short(self) -> &'static str {
        match self {
            BindScope::AllInterfaces => "all interfaces",
            BindScope::Loopback => "this machine only",
            BindScope::Interface => "one interface",
        }
    }

    /// What it means for who can connect, in a sentence.
    pub fn meaning(self) -> &'static str {
        match self {
            BindScope::AllInterfaces => {
                "every interface: reachable from the network unless a firewall stops it"
            }
            BindScope::Loopback => {
                "this machine only (loopback): nothing on the network can reach it"
            }
            BindScope::Interface => {
                "this one interface address: reachable by whatever can reach that address"
            }
        }
    }
}

/// The IPv4 address an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) carries: an IPv6 socket
/// talking IPv4. The kernel (and `ss`) write it in its IPv6 form; what it means is the IPv4
/// address. `None` for any other address.
pub fn mapped_ipv4(addr: IpAddr) -> Option<Ipv4Addr> {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped(),
        IpAddr::V4(_) => None,
    }
}

/// What an address is, in words, when its text does not say it plainly: "IPv4 127.0.0.1
/// through an IPv6 socket" for `::ffff:127.0.0.1`; `None` for plain addresses.
pub fn address_words(addr: IpAddr) -> Option<String> {
    mapped_ipv4(addr).map(|v4| {
        if v4.is_unspecified() {
            format!("IPv4 {v4} (every IPv4 interface) through an IPv6 socket")
        } else {
            format!("IPv4 {v4} through an IPv6 socket")
        }
    })
}

/// Format an address and port the way users type them: `127.0.0.1:80`, `[::1]:80`.
pub fn endpoint(addr: IpAddr, port: Option<u16>) -> String {
    let port = port.map_or_else(|| "*".to_owned(), |p| p.to_string());
    match addr {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

/// What identifies one socket across polls, so a selection survives a refresh and the change
/// tracker follows a socket from poll to poll.
///
/// Where the kernel gives a socket cookie (Linux), the cookie is the socket's identity: it
/// names one socket for its whole life, through TIME_WAIT (which keeps the cookie of the
/// connection it ends) and whatever its addresses become, and a new socket that reuses the
/// same addresses and inode later has another. Two keys with cookies are equal when the
/// protocol and the cookie are. Without a cookie (0: other systems, made-up tables) the
/// addresses, ports and inode are the identity.
#[derive(Clone, Copy, Debug)]
pub struct SocketKey {
    pub proto: Proto,
    pub local_addr: IpAddr,
    pub local_port: u16,
    pub remote_addr: Option<IpAddr>,
    pub remote_port: Option<u16>,
    pub inode: Option<u32>,
    /// The kernel's socket cookie; 0 when there is none.
    pub cookie: u64,
    /// The machine (see [`Socket::host`]): two machines' cookies and addresses say nothing
    /// about each other.
    pub host: u16,
}

impl SocketKey {
    /// The fields that identify the socket when it has no cookie.
    fn tuple(&self) -> (IpAddr, u16, Option<IpAddr>, Option<u16>, Option<u32>) {
        (
            self.local_addr,
            self.local_port,
            self.remote_addr,
            self.remote_port,
            self.inode,
        )
    }
}

impl PartialEq for SocketKey {
    fn eq(&self, other: &Self) -> bool {
        self.proto == other.proto
            && self.host == other.host
            && self.cookie == other.cookie
            && (self.cookie != 0 || self.tuple() == other.tuple())
    }
}

impl Eq for SocketKey {}

impl std::hash::Hash for SocketKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.proto.hash(state);
        self.host.hash(state);
        self.cookie.hash(state);
        if self.cookie == 0 {
            self.tuple().hash(state);
        }
    }
}

/// What we know of a process that owns at least one socket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProcessInfo {
    pub pid: u32,
    pub name: String,
    /// Path of the executable; `None` when the OS does not let us read it.
    pub exe: Option<String>,
    /// Full command line, one element per argument. Empty for kernel threads or when unreadable.
    pub cmdline: Vec<String>,
    pub uid: Option<u32>,
    pub user: Option<String>,
    pub parent_pid: Option<u32>,
    /// Start time in seconds since the Unix epoch.
    pub start_time: Option<u64>,
}

impl ProcessInfo {
    /// The command line as one POSIX shell command that gives back exactly this argv when
    /// pasted into a shell: every argument the shell would interpret is quoted.
    pub fn cmdline_string(&self) -> String {
        text::shell_quote(&self.cmdline)
    }
}

/// Who is looking: decides whether a missing owner is a matter of privileges.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Viewer {
    pub uid: Option<u32>,
    /// Root (or the OS equivalent): every owner is visible.
    pub privileged: bool,
}

/// One complete, immutable picture of the machine's sockets: exactly what one poll saw.
/// (The window's closed rows are kept apart, in [`history::Closing`].)
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// Increases with every snapshot the collector sends; 0 is the empty start.
    pub seq: u64,
    /// The `seq` of the snapshot whose content (sockets, processes, users, error, ephemeral
    /// range) this one repeats unchanged; equal to `seq` when something changed.
    pub content_seq: u64,
    pub taken_at: SystemTime,
    /// When the content last changed: `taken_at` of snapshot `content_seq`.
    pub changed_at: SystemTime,
    pub poll_duration: Duration,
    pub sockets: Vec<Socket>,
    /// Owning processes (and their parents), by PID.
    pub processes: BTreeMap<u32, ProcessInfo>,
    /// User names by uid, for sockets whose owner is not visible.
    pub users: BTreeMap<u32, String>,
    pub viewer: Viewer,
    /// Why this poll failed, if it did. The sockets are then those of the last good poll.
    pub error: Option<String>,
    /// The ports the OS hands out for outgoing connections, as read at this poll.
    pub ephemeral: EphemeralRange,
    /// What each TCP connection moves and how healthy it is, by cookie (Linux; empty
    /// elsewhere). See [`traffic`].
    pub traffic: traffic::Traffic,
    /// What each UDP socket dropped, by cookie (Linux; empty elsewhere).
    pub drops: traffic::Drops,
    /// Sockets the kernel announced destroyed since the snapshot before (Linux). They are
    /// not in `sockets` (or are there in TIME_WAIT): the snapshot is the table as it stands
    /// after them. Some lived and died between two polls and were never in any table.
    pub ended: Vec<ended::Ended>,
    /// How many times since the start the kernel dropped announcements (a flood of closes).
    pub ended_lost: u64,
    /// Why this source announces no closed sockets (other systems, made-up tables, a sandbox
    /// that forbids it): closes are then found by polls alone. `None` where it does.
    pub ended_unavailable: Option<String>,
    /// The network namespaces this poll read, by inode (Linux). Empty where the system has
    /// none, or where only portscope's own was read and it was not asked which it is.
    pub namespaces: BTreeMap<u32, netns::NetNs>,
    /// The container each owning process is in, by PID (Linux; only those in one).
    pub containers: BTreeMap<u32, container::Container>,
    /// The ports each forwarder process publishes to containers, by PID.
    pub published: BTreeMap<u32, Vec<container::Published>>,
    /// Containers whose network namespaces this user may not read (other users', without
    /// root): their sockets are not in the table.
    pub hidden_containers: Vec<container::Container>,
    /// The machines of a table that lists several (this one and hosts read over SSH), by
    /// id, ascending; each socket's [`Socket::host`] names its own. Empty in one machine's
    /// table. The fields above are then this machine's, and `sockets` every machine's.
    pub machines: Vec<Machine>,
    /// Which machine this is, as one of a table of several; `None` elsewhere.
    pub machine: Option<MachineName>,
}

/// One machine of a table of several: its own snapshot (its sockets, processes, users,
/// ephemeral range, all numbered as on that machine), whose [`Snapshot::machine`] says which
/// machine it is.
#[derive(Clone, Debug)]
pub struct Machine {
    /// What [`Socket::host`] says for this machine's sockets.
    pub id: u16,
    pub table: std::sync::Arc<Snapshot>,
}

/// Which machine a snapshot is of, in a table of several.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineName {
    /// The host as the user gave it (an ssh alias, `user@server`); `None`: this machine.
    pub host: Option<String>,
    /// What it shows as, in the *Host* column: the host, or this machine's own name.
    pub name: String,
    /// Why its table is not current (the host cannot be read now): its rows are the last
    /// ones read.
    pub stale: Option<String>,
}

impl Default for Snapshot {
    fn default() -> Self {
        Snapshot {
            seq: 0,
            content_seq: 0,
            taken_at: SystemTime::UNIX_EPOCH,
            changed_at: SystemTime::UNIX_EPOCH,
            poll_duration: Duration::ZERO,
            sockets: Vec::new(),
            processes: BTreeMap::new(),
            users: BTreeMap::new(),
            viewer: Viewer::default(),
            error: None,
            ephemeral: EphemeralRange::os_default(),
            traffic: traffic::Traffic::default(),
            drops: traffic::Drops::default(),
            ended: Vec::new(),
            ended_lost: 0,
            ended_unavailable: None,
            namespaces: BTreeMap::new(),
            containers: BTreeMap::new(),
            published: BTreeMap::new(),
            hidden_containers: Vec::new(),
            machines: Vec::new(),
            machine: None,
        }
    }
}

/// Counts for the status bar.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: usize,
    pub listening: usize,
    pub established: usize,
    pub tcp: usize,
    pub udp: usize,
    /// Services listening where the OS may hand their port out: see [`at_ephemeral_risk`].
    pub services_at_risk: usize,
    /// What every connection moves per second ([`Snapshot::total_rate`]).
    pub rate: traffic::Rate,
}

impl Snapshot {
    /// Whether two snapshots show the same thing (times aside).
    pub fn same_content(&self, other: &Snapshot) -> bool {
        self.sockets == other.sockets
            && self.processes == other.processes
            && self.users == other.users
            && self.error == other.error
            && self.ephemeral == other.ephemeral
            && self.traffic == other.traffic
            && self.drops == other.drops
            && self.ended.is_empty()
            && other.ended.is_empty()
            && self.ended_lost == other.ended_lost
            && self.machines.len() == other.machines.len()
            && self
                .machines
                .iter()
                .zip(&other.machines)
                .all(|(a, b)| a.id == b.id && std::sync::Arc::ptr_eq(&a.table, &b.table))
    }

    /// The machine `id` of a table of several, with its own processes, users and range;
    /// the table itself where it lists one machine (or has no such machine).
    pub fn on(&self, id: u16) -> &Snapshot {
        self.machine(id).map_or(self, |m| &m.table)
    }

    /// The table of the machine `socket` is on: where its processes, users, counters and
    /// ephemeral range are read.
    pub fn of(&self, socket: &Socket) -> &Snapshot {
        self.on(socket.host)
    }

    /// Whether the table lists several machines whose own tables, one after the other, are
    /// its rows: then each part is read on its own (sorts, filters, row texts).
    pub fn machines_cover_rows(&self) -> bool {
        !self.machines.is_empty()
            && self
                .machines
                .iter()
                .map(|m| m.table.sockets.len())
                .sum::<usize>()
                == self.sockets.len()
    }

    /// The tables whose rows, one after the other, are this table's: each machine's where
    /// it lists several, else itself.
    pub fn parts(&self) -> Vec<&Snapshot> {
        if self.machines_cover_rows() {
            self.machines.iter().map(|m| &*m.table).collect()
        } else {
            vec![self]
        }
    }

    pub fn machine(&self, id: u16) -> Option<&Machine> {
        self.machines.iter().find(|m| m.id == id)
    }

    /// Whether the table lists more than one machine.
    pub fn is_several(&self) -> bool {
        self.machines.len() > 1
    }

    /// The host a socket is on, as the user gave it; `None`: this machine.
    pub fn host_of(&self, socket: &Socket) -> Option<&str> {
        self.of(socket)
            .machine
            .as_ref()
            .and_then(|m| m.host.as_deref())
    }

    /// The name of the machine a socket is on, in a table of several.
    pub fn machine_name(&self, socket: &Socket) -> Option<&str> {
        self.of(socket).machine.as_ref().map(|m| m.name.as_str())
    }

    /// A TCP connection's counters and rate, where the kernel gave them.
    pub fn flow(&self, socket: &Socket) -> Option<&traffic::Flow> {
        let snap = self.of(socket);
        (socket.cookie != 0)
            .then(|| snap.traffic.get(&socket.cookie))
            .flatten()
    }

    /// Datagrams a UDP socket dropped, where the kernel counted them.
    pub fn drops(&self, socket: &Socket) -> Option<u32> {
        let snap = self.of(socket);
        (socket.cookie != 0 && socket.proto == Proto::Udp)
            .then(|| snap.drops.get(&socket.cookie).copied())
            .flatten()
    }

    /// What every connection of the poll moves per second, received and sent.
    pub fn total_rate(&self) -> traffic::Rate {
        let tables: Vec<&Snapshot> = if self.machines.is_empty() {
            vec![self]
        } else {
            self.machines.iter().map(|m| &*m.table).collect()
        };
        tables
            .iter()
            .flat_map(|t| t.traffic.values())
            .filter_map(|f| f.rate)
            .fold(traffic::Rate::default(), |sum, r| traffic::Rate {
                down: sum.down.saturating_add(r.down),
                up: sum.up.saturating_add(r.up),
            })
    }

    pub fn process(&self, pid: u32) -> Option<&ProcessInfo> {
        self.processes.get(&pid)
    }

    pub fn user_name(&self, uid: u32) -> Option<&str> {
        self.users.get(&uid).map(String::as_str)
    }

    /// The user a socket belongs to: the kernel's uid for it, else its first process's user.
    pub fn socket_user(&self, socket: &Socket) -> Option<String> {
        let snap = self.of(socket);
        if !std::ptr::eq(snap, self) {
            return snap.socket_user(socket);
        }
        if let Some(uid) = socket.uid {
            return Some(
                self.user_name(uid)
                    .map_or_else(|| uid.to_string(), str::to_owned),
            );
        }
        socket
            .pids
            .iter()
            .filter_map(|pid| self.process(*pid))
            .find_map(|p| p.user.clone())
    }

    /// The processes holding a socket, or why none is shown.
    pub fn owner(&self, socket: &Socket) -> Owner<'_> {
        Owner::of(self, socket)
    }

    /// Names of the owning processes, or a short reason when there are none.
    pub fn process_label(&self, socket: &Socket) -> String {
        match self.owner(socket) {
            Owner::Processes(list) => list
                .iter()
                .map(|(pid, info)| info.map_or_else(|| format!("pid {pid}"), |p| p.name.clone()))
                .collect::<Vec<_>>()
                .join(", "),
            Owner::None(reason) => format!("({})", reason.short()),
        }
    }

    /// Every socket a process holds.
    pub fn sockets_of(&self, pid: u32) -> impl Iterator<Item = (usize, &Socket)> {
        self.sockets
            .iter()
            .enumerate()
            .filter(move |(_, s)| s.pids.contains(&pid))
    }

    /// Every socket process `pid` of machine `host` holds.
    pub fn sockets_of_on(&self, host: u16, pid: u32) -> impl Iterator<Item = (usize, &Socket)> {
        self.sockets_of(pid).filter(move |(_, s)| s.host == host)
    }

    /// Sockets whose local port is `port`.
    pub fn sockets_on_port(&self, port: u16) -> impl Iterator<Item = &Socket> {
        self.sockets.iter().filter(move |s| s.local_port == port)
    }

    pub fn counts(&self) -> Counts {
        let mut c = Counts {
            total: self.sockets.len(),
            services_at_risk: self.services_at_risk(),
            rate: self.total_rate(),
            ..Counts::default()
        };
        for s in &self.sockets {
            match s.proto {
                Proto::Tcp => c.tcp += 1,
                Proto::Udp => c.udp += 1,
            }
            match s.state {
                SockState::Listen => c.listening += 1,
                SockState::Established => c.established += 1,
                _ => {}
            }
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_read_as_a_slice_whatever_their_count() {
        assert!(Pids::new().is_empty());
        assert_eq!(Pids::from_slice(&[7]).as_slice(), [7]);
        let many = Pids::from(vec![3, 5, 9]);
        assert_eq!(many.as_slice(), [3, 5, 9]);
        assert_eq!(many.first(), Some(&3));
        assert_eq!(many, Pids::from_slice(&[3, 5, 9]));
        assert_eq!(format!("{many:?}"), "[3, 5, 9]");
        let mut kept = many.clone();
        kept.retain(|pid| pid != 5);
        assert_eq!(kept.as_slice(), [3, 9]);
        kept.retain(|pid| pid == 9);
        assert_eq!(kept, Pids::from_slice(&[9]));
        kept.retain(|_| false);
        assert_eq!(kept, Pids::new());
    }

    #[test]
    fn an_ipv4_mapped_address_has_the_scope_of_its_ipv4_address() {
        let addr = |text: &str| -> IpAddr { text.parse().expect("an address") };
        for (text, scope) in [
            ("::ffff:127.0.0.1", BindScope::Loopback),
            ("::ffff:127.8.9.10", BindScope::Loopback),
            ("::ffff:0.0.0.0", BindScope::AllInterfaces),
            ("::ffff:10.0.0.9", BindScope::Interface),
            ("127.0.0.1", BindScope::Loopback),
            ("::1", BindScope::Loopback),
            ("::", BindScope::AllInterfaces),
            ("fe80::1", BindScope::Interface),
            // Only the mapped form is IPv4: the deprecated compatible form is not.
            ("::127.0.0.1", BindScope::Interface),
        ] {
            assert_eq!(BindScope::of(addr(text)), scope, "{text}");
        }
        assert_eq!(
            address_words(addr("::ffff:127.0.0.1")).as_deref(),
            Some("IPv4 127.0.0.1 through an IPv6 socket")
        );
        assert_eq!(
            address_words(addr("::ffff:0.0.0.0")).as_deref(),
            Some("IPv4 0.0.0.0 (every IPv4 interface) through an IPv6 socket")
        );
        assert_eq!(address_words(addr("127.0.0.1")), None);
        assert_eq!(address_words(addr("::1")), None);
        // The kernel's text stays as it is wherever the address is written.
        let socket = Socket {
            host: 0,
            proto: Proto::Tcp,
            local_addr: addr("::ffff:127.0.0.1"),
            local_port: 8443,
            remote_addr: None,
            remote_port: None,
            state: SockState::Listen,
            pids: Pids::new(),
            uid: None,
            inode: None,
            cookie: 0,
            recv_q: 0,
            send_q: 0,
            netns: 0,
        };
        assert_eq!(socket.local_endpoint(), "[::ffff:127.0.0.1]:8443");
        assert_eq!(socket.bind_scope(), BindScope::Loopback);
    }

    #[test]
    fn a_socket_stays_small() {
        // A 100,000-socket table is held twice while a poll is compared with the last one.
        assert_eq!(size_of::<Pids>(), 16);
        // 80 bytes of addresses, owners and ids, and 16 of the kernel's cookie and queues.
        assert!(size_of::<Socket>() <= 96, "{} bytes", size_of::<Socket>());
    }
}
