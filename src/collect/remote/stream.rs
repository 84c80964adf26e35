//! The stream `portscope serve --stdio` writes and a [`RemoteSource`](super::RemoteSource)
//! reads: the frames of the helper's pipe (a 4-byte big-endian length, then that much JSON; see
//! [`protocol`]), each a versioned message (`{"v":1,"kind":…}`).
//!
//! The server says [`Hello`] once (the host's facts), then a [`Full`] table, then one
//! [`Delta`] per poll: the sockets added, removed (by their keys) and changed, the processes
//! new or changed and those gone, and what the connections moved and the UDP sockets dropped
//! ([`traffic`]: the host's own counters and rates, only what changed). A poll that changed nothing is an empty delta, a few bytes:
//! the heartbeat that tells a reader the stream still moves. The reader answers with
//! [`Control`] frames (interval, refresh, pause, resume, stop).
//!
//! Both ends use this one encoder ([`Encoder`]) and decoder ([`Mirror`]): a delta applied to
//! the table before it gives exactly the table the server polled, in the order it sends (its
//! poll sorted by [`canonical_order`]). Fields this version does not know are ignored, so a
//! newer server may add some; a frame of another version, cut short or not JSON is an error.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, Read, Write};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::collect::Poll;
use crate::collect::helper::protocol::{self, FrameError, Process};
use crate::knowledge::EphemeralRange;
use crate::model::traffic::{Drops, Traffic};
use crate::model::{FastHash, Pids, ProcessInfo, Proto, SockState, Socket, SocketKey, Viewer};

pub mod traffic;

pub use traffic::{Moved, WireDrop, WireFlow, WireRate};

/// The stream's version: a reader refuses frames of another.
pub const VERSION: u32 = 1;

/// One frame of the stream, either way.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub v: u32,
    #[serde(flatten)]
    pub body: Body,
}

impl Message {
    pub fn new(body: Body) -> Message {
        Message { v: VERSION, body }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Body {
    Hello(Hello),
    Full(Full),
    Delta(Delta),
    /// What went wrong on the server (a poll that failed, a control frame it refused).
    Error {
        message: String,
    },
    /// From the reader: how to go on.
    Control(Control),
}

/// The host's facts, said once at the start.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    pub hostname: String,
    /// The kernel's release (`uname -r`), where there is one.
    pub kernel: String,
    /// The operating system (`linux`, `macos`, …).
    pub os: String,
    pub ephemeral: Range,
    /// The server's portscope version (`0.1.0`).
    pub portscope: String,
}

/// An ephemeral range and the ports reserved from it, as the host reads them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    pub start: u16,
    pub end: u16,
    #[serde(default)]
    pub reserved: Vec<(u16, u16)>,
}

impl From<&EphemeralRange> for Range {
    fn from(range: &EphemeralRange) -> Range {
        Range {
            start: range.start,
            end: range.end,
            reserved: range.reserved.clone(),
        }
    }
}

impl Range {
    /// The range as the model holds it: read live, on the host.
    pub fn to_model(&self) -> EphemeralRange {
        EphemeralRange {
            start: self.start,
            end: self.end,
            reserved: self.reserved.clone(),
            source: crate::knowledge::EphemeralSource::Live {
                path: crate::knowledge::LINUX_PORT_RANGE_PATH,
                reserved_error: None,
                host: None,
            },
        }
    }
}

/// A whole table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Full {
    pub seq: u64,
    pub sockets: Vec<WireSocket>,
    pub processes: Vec<Process>,
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub viewer: WireViewer,
    #[serde(default)]
    pub ephemeral: Option<Range>,
    /// The TCP connections that moved data: counters and the host's rates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub traffic: Vec<WireFlow>,
    /// Every UDP socket's drop count.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drops: Vec<WireDrop>,
}

/// What changed since the frame of `seq - 1`. Empty lists are left out of the JSON.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    pub seq: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<WireSocket>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<WireKey>,
    /// Sockets whose key stayed and whose other fields changed: the whole socket.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<WireSocket>,
    /// Processes new or changed since the last frame.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<Process>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processes_gone: Vec<u32>,
    /// The whole user table, when it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<User>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viewer: Option<WireViewer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral: Option<Range>,
    /// Connections' traffic, whole: new, or whose fields appeared or vanished.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub traffic: Vec<WireFlow>,
    /// Connections whose counters only moved: by how much.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved: Option<Box<Moved>>,
    /// Connections, still in the table, that have no traffic any more (by cookie).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub traffic_gone: Vec<u64>,
    /// UDP sockets' drop counts, new or changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drops: Vec<WireDrop>,
    /// Sockets, still in the table, that have no drop count any more (by cookie).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drops_gone: Vec<u64>,
}

impl Delta {
    /// Whether it changes nothing: a heartbeat.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.processes.is_empty()
            && self.processes_gone.is_empty()
            && self.users.is_none()
            && self.viewer.is_none()
            && self.ephemeral.is_none()
            && self.traffic.is_empty()
            && self.moved.is_none()
            && self.traffic_gone.is_empty()
            && self.drops.is_empty()
            && self.drops_gone.is_empty()
    }
}

/// What the reader asks of the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "lowercase")]
pub enum Control {
    /// Poll every `ms` milliseconds.
    Interval {
        ms: u64,
    },
    /// Poll now and send a whole table.
    Refresh,
    Pause,
    Resume,
    Stop,
}

/// A user name by uid (a list, not a map: JSON's keys are text).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub uid: u32,
    pub name: String,
}

fn users_list(users: &BTreeMap<u32, String>) -> Vec<User> {
    users
        .iter()
        .map(|(uid, name)| User {
            uid: *uid,
            name: name.clone(),
        })
        .collect()
}

fn users_map(users: Vec<User>) -> BTreeMap<u32, String> {
    users.into_iter().map(|u| (u.uid, u.name)).collect()
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireViewer {
    pub uid: Option<u32>,
    pub privileged: bool,
}

impl From<Viewer> for WireViewer {
    fn from(v: Viewer) -> Self {
        WireViewer {
            uid: v.uid,
            privileged: v.privileged,
        }
    }
}

impl From<WireViewer> for Viewer {
    fn from(v: WireViewer) -> Self {
        Viewer {
            uid: v.uid,
            privileged: v.privileged,
        }
    }
}

/// A socket on the wire: [`Socket`]'s fields, the state by its name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireSocket {
    pub proto: WireProto,
    pub local: IpAddr,
    pub lport: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rport: Option<u16>,
    pub state: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pids: Vec<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inode: Option<u32>,
    #[serde(default)]
    pub cookie: u64,
    #[serde(default)]
    pub recv_q: u32,
    #[serde(default)]
    pub send_q: u32,
    /// The network namespace, by inode; 0 where the sender did not say.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub netns: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WireProto {
    Tcp,
    Udp,
}

/// What names one socket of the last frame: the protocol and cookie where there is a cookie,
/// else the addresses and inode too (see [`SocketKey`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireKey {
    pub proto: WireProto,
    #[serde(default)]
    pub cookie: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lport: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rport: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inode: Option<u32>,
}

/// Every state, for reading one back by its name.
const STATES: [SockState; 15] = [
    SockState::Listen,
    SockState::SynSent,
    SockState::SynReceived,
    SockState::Established,
    SockState::FinWait1,
    SockState::FinWait2,
    SockState::CloseWait,
    SockState::Closing,
    SockState::LastAck,
    SockState::TimeWait,
    SockState::Closed,
    SockState::DeleteTcb,
    SockState::Bound,
    SockState::Unconn,
    SockState::Unknown,
];

/// A state by the name [`SockState::as_str`] gives it; a name this version does not know is
/// `Unknown`.
pub fn state_named(name: &str) -> SockState {
    STATES
        .into_iter()
        .find(|s| s.as_str() == name)
        .unwrap_or(SockState::Unknown)
}

impl From<Proto> for WireProto {
    fn from(p: Proto) -> Self {
        match p {
            Proto::Tcp => WireProto::Tcp,
            Proto::Udp => WireProto::Udp,
        }
    }
}

impl From<WireProto> for Proto {
    fn from(p: WireProto) -> Self {
        match p {
            WireProto::Tcp => Proto::Tcp,
            WireProto::Udp => Proto::Udp,
        }
    }
}

impl From<&Socket> for WireSocket {
    fn from(s: &Socket) -> Self {
        WireSocket {
            proto: s.proto.into(),
            local: s.local_addr,
            lport: s.local_port,
            remote: s.remote_addr,
            rport: s.remote_port,
            state: s.state.as_str().to_owned(),
            pids: s.pids.to_vec(),
            uid: s.uid,
            inode: s.inode,
            cookie: s.cookie,
            recv_q: s.recv_q,
            send_q: s.send_q,
            netns: s.netns,
        }
    }
}

impl From<WireSocket> for Socket {
    fn from(w: WireSocket) -> Self {
        let mut pids = w.pids;
        pids.sort_unstable();
        pids.dedup();
        Socket {
            host: 0,
            proto: w.proto.into(),
            local_addr: w.local,
            local_port: w.lport,
            remote_addr: w.remote,
            remote_port: w.rport,
            state: state_named(&w.state),
            pids: Pids::from(pids),
            uid: w.uid,
            inode: w.inode,
            cookie: w.cookie,
            recv_q: w.recv_q,
            send_q: w.send_q,
            netns: w.netns,
        }
    }
}

impl From<SocketKey> for WireKey {
    fn from(k: SocketKey) -> Self {
        let tuple = k.cookie == 0;
        WireKey {
            proto: k.proto.into(),
            cookie: k.cookie,
            local: tuple.then_some(k.local_addr),
            lport: tuple.then_some(k.local_port),
            remote: k.remote_addr.filter(|_| tuple),
            rport: k.remote_port.filter(|_| tuple),
            inode: k.inode.filter(|_| tuple),
        }
    }
}

impl WireKey {
    /// The key it names, or `None` when a key without a cookie lacks its local end.
    fn to_key(&self) -> Option<SocketKey> {
        let (local_addr, local_port) = if self.cookie == 0 {
            (self.local?, self.lport?)
        } else {
            (IpAddr::from([0, 0, 0, 0]), 0)
        };
        Some(SocketKey {
            host: 0,
            proto: self.proto.into(),
            local_addr,
            local_port,
            remote_addr: self.remote,
            remote_port: self.rport,
            inode: self.inode,
            cookie: self.cookie,
        })
    }
}

/// The order the server sends a table in, and the reader keeps it in: by local port,
/// protocol, local address, remote end, cookie and inode — the window's own order by port, so
/// a host's table is one run its sort merges rather than sorts.
pub fn canonical_order(sockets: &mut [Socket]) {
    // Stable: a table that is two sorted runs (what a delta leaves) is merged in one pass.
    sockets.sort_by(|a, b| {
        (
            a.local_port,
            a.proto,
            a.local_addr,
            a.remote_addr,
            a.remote_port,
            a.cookie,
            a.inode,
        )
            .cmp(&(
                b.local_port,
                b.proto,
                b.local_addr,
                b.remote_addr,
                b.remote_port,
                b.cookie,
                b.inode,
            ))
    });
}

/// One host's table as the stream carries it: what both ends hold between frames.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    pub sockets: Vec<Socket>,
    pub processes: BTreeMap<u32, ProcessInfo>,
    pub users: BTreeMap<u32, String>,
    pub viewer: Viewer,
    pub ephemeral: Option<Range>,
    pub traffic: Traffic,
    pub drops: Drops,
}

impl Table {
    /// A poll's table, in canonical order, with its traffic and drops.
    pub fn from_poll(poll: Poll, ephemeral: Option<Range>) -> Table {
        let mut sockets = poll.sockets;
        canonical_order(&mut sockets);
        Table {
            sockets,
            processes: poll.processes,
            users: poll.users,
            viewer: poll.viewer,
            ephemeral,
            traffic: poll.traffic,
            drops: poll.drops,
        }
    }

    /// The table as a poll.
    pub fn to_poll(&self) -> Poll {
        Poll {
            sockets: self.sockets.clone(),
            processes: self.processes.clone(),
            users: self.users.clone(),
            viewer: self.viewer,
            traffic: self.traffic.clone(),
            drops: self.drops.clone(),
            ..Poll::default()
        }
    }

    /// Each socket's index by its key, or `None` when two sockets share a key (a table
    /// without cookies may have them): such a table only goes whole.
    fn index(&self) -> Option<HashMap<SocketKey, usize, crate::model::FastHash>> {
        let mut index = HashMap::with_capacity_and_hasher(self.sockets.len(), Default::default());
        for (i, s) in self.sockets.iter().enumerate() {
            if index.insert(s.key(), i).is_some() {
                return None;
            }
        }
        Some(index)
    }
}

/// The server's side: turns each poll into the frame that brings a reader up to it.
#[derive(Default)]
pub struct Encoder {
    last: Option<Table>,
    seq: u64,
}

impl Encoder {
    /// Send a whole table next time (after a `Refresh`, or when the reader fell out of step).
    pub fn reset(&mut self) {
        self.last = None;
    }

    /// The frame for `table`: the whole table the first time, after a reset, or when keys
    /// repeat; else what changed since the last one.
    pub fn encode(&mut self, table: Table) -> Body {
        self.seq += 1;
        let seq = self.seq;
        let body = match self.last.as_ref().and_then(|last| delta(last, &table, seq)) {
            Some(delta) => Body::Delta(delta),
            None => Body::Full(full(&table, seq)),
        };
        self.last = Some(table);
        body
    }

    /// An empty delta: nothing changed (or polling is paused), the stream still moves.
    pub fn heartbeat(&mut self) -> Body {
        if self.last.is_none() {
            return Body::Error {
                message: "paused before the first poll".to_owned(),
            };
        }
        self.seq += 1;
        Body::Delta(Delta {
            seq: self.seq,
            ..Delta::default()
        })
    }
}

fn full(table: &Table, seq: u64) -> Full {
    let (traffic, drops) = traffic::whole(&table.traffic, &table.drops);
    Full {
        seq,
        sockets: table.sockets.iter().map(WireSocket::from).collect(),
        processes: table.processes.values().map(Process::from).collect(),
        users: users_list(&table.users),
        viewer: table.viewer.into(),
        ephemeral: table.ephemeral.clone(),
        traffic,
        drops,
    }
}

/// What turns `old` into `new`; `None` when either has repeated keys.
fn delta(old: &Table, new: &Table, seq: u64) -> Option<Delta> {
    let old_index = old.index()?;
    let new_index = new.index()?;
    let mut d = Delta {
        seq,
        ..Delta::default()
    };
    for s in &new.sockets {
        match old_index.get(&s.key()) {
            None => d.added.push(s.into()),
            Some(&i) if old.sockets[i] != *s => d.changed.push(s.into()),
            Some(_) => {}
        }
    }
    let mut pruned = HashSet::default();
    for s in &old.sockets {
        if !new_index.contains_key(&s.key()) {
            d.removed.push(s.key().into());
            if s.cookie != 0 {
                pruned.insert(s.cookie);
            }
        }
    }
    let change = traffic::change(
        (&old.traffic, &old.drops),
        (&new.traffic, &new.drops),
        &pruned,
    );
    d.traffic = change.flows;
    d.moved = change.moved;
    d.traffic_gone = change.flows_gone;
    d.drops = change.drops;
    d.drops_gone = change.drops_gone;
    for (pid, p) in &new.processes {
        if old.processes.get(pid) != Some(p) {
            d.processes.push(p.into());
        }
    }
    d.processes_gone = old
        .processes
        .keys()
        .filter(|pid| !new.processes.contains_key(pid))
        .copied()
        .collect();
    d.users = (old.users != new.users).then(|| users_list(&new.users));
    d.viewer = (old.viewer != new.viewer).then(|| new.viewer.into());
    d.ephemeral = new
        .ephemeral
        .clone()
        .filter(|_| old.ephemeral != new.ephemeral);
    Some(d)
}

/// Why a frame could not be applied.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error("a change came before any whole table")]
    NoTable,
    #[error("frame {got} came after frame {had}: the stream skipped one")]
    OutOfStep { had: u64, got: u64 },
    #[error("a change names a socket without its local end")]
    BadKey,
    #[error("a traffic change does not fit the connections the reader has")]
    BadTraffic,
}

/// The reader's side: the table as the last frame left it.
#[derive(Default)]
pub struct Mirror {
    table: Option<Table>,
    seq: u64,
}

impl Mirror {
    pub fn table(&self) -> Option<&Table> {
        self.table.as_ref()
    }

    /// Bring the table up to `full`.
    pub fn apply_full(&mut self, full: Full) {
        let mut sockets: Vec<Socket> = full.sockets.into_iter().map(Socket::from).collect();
        canonical_order(&mut sockets);
        self.seq = full.seq;
        self.table = Some(Table {
            sockets,
            processes: processes(full.processes),
            users: users_map(full.users),
            viewer: full.viewer.into(),
            ephemeral: full.ephemeral,
            traffic: traffic::traffic_of(full.traffic),
            drops: traffic::drops_of(full.drops),
        });
    }

    /// Apply the changes of `delta`. On an error the table is as before, and only a whole
    /// table (ask with `Refresh`) brings the reader back in step.
    pub fn apply_delta(&mut self, delta: Delta) -> Result<(), ApplyError> {
        let table = self.table.as_mut().ok_or(ApplyError::NoTable)?;
        if delta.seq != self.seq + 1 {
            return Err(ApplyError::OutOfStep {
                had: self.seq,
                got: delta.seq,
            });
        }
        if delta.is_empty() {
            self.seq = delta.seq;
            return Ok(());
        }
        let removed = delta
            .removed
            .iter()
            .map(WireKey::to_key)
            .collect::<Option<HashSet<SocketKey, FastHash>>>()
            .ok_or(ApplyError::BadKey)?;
        // The entries of removed sockets go with them (a socket without a cookie has none).
        let pruned: HashSet<u64, FastHash> = removed
            .iter()
            .map(|k| k.cookie)
            .filter(|c| *c != 0)
            .collect();
        let change = traffic::Change {
            flows: delta.traffic,
            moved: delta.moved,
            flows_gone: delta.traffic_gone,
            drops: delta.drops,
            drops_gone: delta.drops_gone,
        };
        traffic::apply(&mut table.traffic, &mut table.drops, &pruned, change)
            .ok_or(ApplyError::BadTraffic)?;
        let mut changed: HashMap<SocketKey, Socket, crate::model::FastHash> = delta
            .changed
            .into_iter()
            .map(|w| {
                let s = Socket::from(w);
                (s.key(), s)
            })
            .collect();
        table.sockets.retain_mut(|s| {
            let key = s.key();
            if removed.contains(&key) {
                return false;
            }
            if let Some(new) = changed.remove(&key) {
                *s = new;
            }
            true
        });
        // The kept sockets are in order; the added are put in order apart, and the stable
        // sort then merges two runs in one pass instead of sorting the whole table again.
        let mut added: Vec<Socket> = delta.added.into_iter().map(Socket::from).collect();
        canonical_order(&mut added);
        table.sockets.extend(added);
        canonical_order(&mut table.sockets);
        for pid in delta.processes_gone {
            table.processes.remove(&pid);
        }
        table.processes.extend(processes(delta.processes));
        if let Some(users) = delta.users {
            table.users = users_map(users);
        }
        if let Some(viewer) = delta.viewer {
            table.viewer = viewer.into();
        }
        if delta.ephemeral.is_some() {
            table.ephemeral = delta.ephemeral;
        }
        self.seq = delta.seq;
        Ok(())
    }
}

fn processes(list: Vec<Process>) -> BTreeMap<u32, ProcessInfo> {
    list.into_iter()
        .map(|p| (p.pid, ProcessInfo::from(p)))
        .collect()
}

/// Write one message as a frame and flush it.
pub fn write_message(out: &mut impl Write, body: Body) -> io::Result<()> {
    protocol::write_frame(out, &Message::new(body))
}

/// Read one message of this version.
pub fn read_message(input: &mut impl Read) -> Result<Body, FrameError> {
    parse_message(&protocol::read_body(input)?)
}

/// A frame's bytes as a message of this version. The version and kind are read first (a pass
/// that only skips the rest) and the bytes then parsed as that kind's body directly, which
/// ignores `v` and `kind` as it ignores any field it does not know. The same messages as
/// [`Message`]'s own decoding, without its cost: a tagged, flattened enum makes serde copy the
/// whole message into a tree of values first, most of the time a host's table takes to read.
pub fn parse_message(bytes: &[u8]) -> Result<Body, FrameError> {
    #[derive(Deserialize)]
    struct Head {
        v: u32,
        kind: String,
    }
    #[derive(Deserialize)]
    struct ErrorBody {
        message: String,
    }
    use protocol::parse_json as parse;
    let head: Head = parse(bytes)?;
    protocol::check_version(head.v, VERSION)?;
    Ok(match head.kind.as_str() {
        "hello" => Body::Hello(parse(bytes)?),
        "full" => Body::Full(parse(bytes)?),
        "delta" => Body::Delta(parse(bytes)?),
        "error" => Body::Error {
            message: parse::<ErrorBody>(bytes)?.message,
        },
        "control" => Body::Control(parse(bytes)?),
        other => {
            return Err(FrameError::Malformed(format!(
                "a message of unknown kind {:?}",
                crate::model::text::escape(other)
            )));
        }
    })
}

/// The first frame of a stream, read so that a server of another version is told apart from
/// a broken stream: its version and the portscope that sent it.
pub fn read_hello(input: &mut impl Read) -> Result<Result<Hello, OtherVersion>, FrameError> {
    let body = protocol::read_body(input)?;
    #[derive(Deserialize)]
    struct Versions {
        v: u32,
        #[serde(default)]
        portscope: Option<String>,
    }
    let versions: Versions =
        serde_json::from_slice(&body).map_err(|e| FrameError::Malformed(e.to_string()))?;
    if versions.v != VERSION {
        return Ok(Err(OtherVersion {
            stream: versions.v,
            portscope: versions.portscope,
        }));
    }
    match parse_message(&body)? {
        Body::Hello(hello) => Ok(Ok(hello)),
        Body::Error { message } => {
            Err(FrameError::Malformed(format!("the server said: {message}")))
        }
        _ => Err(FrameError::Malformed(
            "the stream did not start with hello".to_owned(),
        )),
    }
}

/// A server that speaks another version of the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtherVersion {
    pub stream: u32,
    pub portscope: Option<String>,
}

#[cfg(test)]
mod tests;
