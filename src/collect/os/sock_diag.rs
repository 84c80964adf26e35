//! The kernel's table of TCP and UDP sockets, read over sock_diag netlink (Linux).
//!
//! One dump per protocol and address family (TCP and UDP, IPv4 and IPv6) on one netlink socket,
//! read straight into [`Socket`]s. Reading the replies ourselves, rather than through a
//! socket-listing library, is what lets portscope tell the truth about what the kernel says:
//!
//! - a **connected UDP socket** keeps its peer and is `ESTABLISHED` (what `ss -u` shows as
//!   `ESTAB`); only an unconnected one is `UNCONN`;
//! - every TCP state is named, including a **bound** socket that neither listens nor connects
//!   (asked for with the kernel's bound-inactive state bit, as `ss -a` does);
//! - the kernel's **mini sockets** — TIME_WAIT entries and connection requests still in the
//!   handshake — carry no owner at all: the kernel fills their uid field with 0, which is not
//!   root's. Only full sockets carry the `INET_DIAG_SHUTDOWN` attribute, so a reply without it
//!   gets no uid;
//! - a netlink **error reply is an error**, never an empty table;
//! - each TCP socket's `tcp_info` (bytes, round-trip time, retransmissions), read by the
//!   attribute's length: `tcp_info` grew over the kernel's versions (232 bytes in 5.4, 280 in
//!   6.18), and an older kernel gives fewer fields, never an error;
//! - each UDP socket's drop counter (`skmem`): datagrams that arrived while its receive
//!   buffer was full. A kernel whose `skmem` is too short to hold it gets the UDP table
//!   without it, not an error.
//!
//! The netlink socket and the message encoding come from `netlink-sys` and
//! `netlink-packet-sock-diag`; what is here is the request and the reading of the replies.

use std::io;
use std::net::IpAddr;
use std::time::{Instant, SystemTime};

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP};
use netlink_packet_sock_diag::inet::nlas::Nla;
use netlink_packet_sock_diag::inet::{
    ExtensionFlags, InetRequest, InetResponse, SocketId, StateFlags,
};
use netlink_sys::protocols::NETLINK_SOCK_DIAG;
use netlink_sys::{Socket as NetlinkSocket, SocketAddr};

use crate::model::ended::Ended;
use crate::model::traffic::TcpStats;
use crate::model::{Pids, Proto, SockState, Socket};

/// Every state bit the kernel knows, up to `TCP_BOUND_INACTIVE` (13), which asks for bound
/// sockets that neither listen nor connect. The request type of the netlink crate only names
/// the states up to `TCP_CLOSING`; the extra bits are set in the encoded request.
const ALL_STATES: u32 = (1 << 14) - 1;
/// Where the states mask sits in an encoded request: after the 16-byte netlink header and the
/// request's family, protocol, extensions and padding bytes.
const STATES_OFFSET: usize = 16 + 4;
/// Where the message type sits in an encoded message, and the type that asks the kernel to
/// destroy a socket (`SOCK_DESTROY`; the netlink crate knows only `SOCK_DIAG_BY_FAMILY`).
const TYPE_OFFSET: usize = 4;
const SOCK_DESTROY: u16 = 21;
/// Room for one `recv`: the kernel fills up to this much with replies at a time.
const RECV_BUFFER: usize = 64 * 1024;

/// Why the socket table could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error("cannot open a sock_diag netlink socket: {0}")]
    Open(io::Error),
    #[error("the kernel refused the {what} socket dump: {source}")]
    Refused {
        what: &'static str,
        source: io::Error,
    },
    #[error("reading the {what} socket dump failed: {source}")]
    Read {
        what: &'static str,
        source: io::Error,
    },
    #[error("the kernel's {what} socket dump could not be decoded: {detail}")]
    Decode { what: &'static str, detail: String },
}

/// The four dumps that make up the table.
const DUMPS: [(Proto, u8, u8, &str); 4] = [
    (Proto::Tcp, AF_INET, IPPROTO_TCP, "TCP/IPv4"),
    (Proto::Tcp, AF_INET6, IPPROTO_TCP, "TCP/IPv6"),
    (Proto::Udp, AF_INET, IPPROTO_UDP, "UDP/IPv4"),
    (Proto::Udp, AF_INET6, IPPROTO_UDP, "UDP/IPv6"),
];

/// The kernel's socket table: every socket without owners, and the TCP connections' counters.
#[derive(Debug, Default)]
pub struct Table {
    pub sockets: Vec<Socket>,
    /// `tcp_info` of every TCP socket that has a peer, by cookie.
    pub tcp: Vec<(u64, TcpStats)>,
    /// The drop counter of every UDP socket, by cookie.
    pub udp_drops: Vec<(u64, u32)>,
}

/// Every TCP and UDP socket of this network namespace, IPv4 and IPv6, without owners.
pub fn dump_sockets() -> Result<Table, DumpError> {
    dump_sockets_on(&open_netlink().map_err(DumpError::Open)?)
}

/// Every TCP and UDP socket of the network namespace `netlink` was opened in.
pub fn dump_sockets_on(netlink: &NetlinkSocket) -> Result<Table, DumpError> {
    let mut buf = vec![0u8; RECV_BUFFER];
    let mut table = Table::default();
    for (seq, (proto, family, protocol, what)) in (1u32..).zip(DUMPS) {
        let mut extensions = extensions_for(protocol);
        loop {
            let request = request(family, protocol, extensions, seq);
            netlink
                .send(&request, 0)
                .map_err(|source| DumpError::Refused { what, source })?;
            let (sockets, tcp, drops) =
                (table.sockets.len(), table.tcp.len(), table.udp_drops.len());
            match read_dump(netlink, &mut buf, proto, what, &mut table) {
                // The crate reading the replies wants the whole `skmem`: a kernel with a
                // shorter one is asked again without it. The failed dump was read to its end.
                Err(DumpError::Decode { .. }) if extensions.contains(ExtensionFlags::SKMEMINFO) => {
                    table.sockets.truncate(sockets);
                    table.tcp.truncate(tcp);
                    table.udp_drops.truncate(drops);
                    extensions.remove(ExtensionFlags::SKMEMINFO);
                }
                result => break result?,
            }
        }
    }
    Ok(table)
}

/// Asks the kernel to destroy one TCP socket, named by its addresses, ports and cookie (as a
/// dump gave them). `Ok` means the kernel said yes, which it also says for some sockets it
/// leaves alone: the caller checks the table again.
pub fn destroy(socket: &Socket) -> io::Result<()> {
    destroy_on(&open_netlink()?, socket)
}

/// [`destroy`] in the network namespace `netlink` was opened in.
pub fn destroy_on(netlink: &NetlinkSocket, socket: &Socket) -> io::Result<()> {
    let mut request = one_socket_request(socket, NLM_F_REQUEST | NLM_F_ACK);
    request[TYPE_OFFSET..TYPE_OFFSET + 2].copy_from_slice(&SOCK_DESTROY.to_ne_bytes());
    netlink.send(&request, 0)?;
    let mut buf = vec![0u8; 8192];
    loop {
        let len = match netlink.recv(&mut &mut buf[..], 0) {
            Ok(len) => len,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let reply = NetlinkMessage::<SockDiagMessage>::deserialize(&buf[..len])
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        if let NetlinkPayload::Error(error) = reply.payload {
            return match error.code {
                None => Ok(()),
                Some(code) => Err(io::Error::from_raw_os_error(-code.get())),
            };
        }
    }
}

/// Of the TCP sockets in `sockets` (as a dump gave them), the positions of those the kernel no
/// longer has: one exact lookup each, by addresses, ports and cookie, so a new socket that
/// took over the same addresses is not mistaken for the old one. A lookup the kernel cannot
/// answer counts the socket as still there; so does every UDP socket (the kernel looks UDP
/// sockets up as an arriving packet would, which does not name one socket exactly).
pub fn gone(sockets: &[&Socket]) -> Vec<usize> {
    if !sockets.iter().any(|s| s.proto == Proto::Tcp) {
        return Vec::new();
    }
    match open_netlink() {
        Ok(netlink) => gone_on(&netlink, sockets),
        Err(_) => Vec::new(),
    }
}

/// [`gone`] in the network namespace `netlink` was opened in.
pub fn gone_on(netlink: &NetlinkSocket, sockets: &[&Socket]) -> Vec<usize> {
    let mut gone = Vec::new();
    let mut buf = vec![0u8; 8192];
    for (at, socket) in sockets.iter().enumerate() {
        if socket.proto == Proto::Tcp && lookup(netlink, &mut buf, socket) == Lookup::Gone {
            gone.push(at);
        }
    }
    gone
}

#[derive(Debug, PartialEq, Eq)]
enum Lookup {
    Found,
    Gone,
    Unknown,
}

/// One exact lookup of a TCP socket: the kernel answers with the socket, or `ENOENT` when no
/// socket has these addresses and this cookie.
fn lookup(netlink: &NetlinkSocket, buf: &mut [u8], socket: &Socket) -> Lookup {
    let request = one_socket_request(socket, NLM_F_REQUEST);
    if netlink.send(&request, 0).is_err() {
        return Lookup::Unknown;
    }
    let len = loop {
        match netlink.recv(&mut &mut buf[..], 0) {
            Ok(len) => break len,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Lookup::Unknown,
        }
    };
    match NetlinkMessage::<SockDiagMessage>::deserialize(&buf[..len]).map(|m| m.payload) {
        Ok(NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(_))) => Lookup::Found,
        Ok(NetlinkPayload::Error(error))
            if error.code.map(|code| -code.get()) == Some(libc::ENOENT) =>
        {
            Lookup::Gone
        }
        _ => Lookup::Unknown,
    }
}

/// An encoded request naming one TCP socket by its addresses, ports and cookie, of type
/// `SOCK_DIAG_BY_FAMILY` (a lookup) until the caller changes it.
fn one_socket_request(socket: &Socket, flags: u16) -> Vec<u8> {
    let family = if socket.local_addr.is_ipv4() {
        AF_INET
    } else {
        AF_INET6
    };
    let mut id = if family == AF_INET6 {
        SocketId::new_v6()
    } else {
        SocketId::new_v4()
    };
    id.source_address = socket.local_addr;
    id.source_port = socket.local_port;
    if let (Some(addr), Some(port)) = (socket.remote_addr, socket.remote_port) {
        id.destination_address = addr;
        id.destination_port = port;
    }
    id.cookie = socket.cookie.to_ne_bytes();
    let mut header = NetlinkHeader::default();
    header.flags = flags;
    header.sequence_number = 1;
    let mut message = NetlinkMessage::new(
        header,
        SockDiagMessage::InetRequest(InetRequest {
            family,
            protocol: IPPROTO_TCP,
            extensions: ExtensionFlags::empty(),
            states: StateFlags::all(),
            socket_id: id,
        })
        .into(),
    );
    message.finalize();
    let mut request = vec![0u8; message.buffer_len()];
    message.serialize(&mut request);
    request[STATES_OFFSET..STATES_OFFSET + 4].copy_from_slice(&ALL_STATES.to_ne_bytes());
    request
}

pub(super) fn open_netlink() -> io::Result<NetlinkSocket> {
    let mut netlink = NetlinkSocket::new(NETLINK_SOCK_DIAG)?;
    netlink.bind_auto()?;
    netlink.connect(&SocketAddr::new(0, 0))?;
    Ok(netlink)
}

/// What a dump asks the kernel to add to each socket: `tcp_info` for TCP, `skmem` (with the
/// drop counter) for UDP.
fn extensions_for(protocol: u8) -> ExtensionFlags {
    if protocol == IPPROTO_TCP {
        ExtensionFlags::INFO
    } else {
        ExtensionFlags::SKMEMINFO
    }
}

/// An encoded dump request for one family and protocol, every state, with `extensions`.
fn request(family: u8, protocol: u8, extensions: ExtensionFlags, seq: u32) -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    header.sequence_number = seq;
    let socket_id = if family == AF_INET6 {
        SocketId::new_v6()
    } else {
        SocketId::new_v4()
    };
    let mut message = NetlinkMessage::new(
        header,
        SockDiagMessage::InetRequest(InetRequest {
            family,
            protocol,
            extensions,
            states: StateFlags::all(),
            socket_id,
        })
        .into(),
    );
    message.finalize();
    let mut buf = vec![0u8; message.buffer_len()];
    message.serialize(&mut buf);
    buf[STATES_OFFSET..STATES_OFFSET + 4].copy_from_slice(&ALL_STATES.to_ne_bytes());
    buf
}

/// Reads the replies to one request until the kernel says it is done.
fn read_dump(
    netlink: &NetlinkSocket,
    buf: &mut [u8],
    proto: Proto,
    what: &'static str,
    out: &mut Table,
) -> Result<(), DumpError> {
    loop {
        let len = loop {
            match netlink.recv(&mut &mut buf[..], 0) {
                Ok(len) => break len,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => return Err(DumpError::Read { what, source }),
            }
        };
        if len == 0 {
            return Err(DumpError::Read {
                what,
                source: io::Error::new(io::ErrorKind::UnexpectedEof, "the kernel closed the dump"),
            });
        }
        let mut offset = 0;
        while offset < len {
            let message = NetlinkMessage::<SockDiagMessage>::deserialize(&buf[offset..len])
                .map_err(|e| DumpError::Decode {
                    what,
                    detail: e.to_string(),
                })?;
            let length = message.header.length as usize;
            if length == 0 {
                return Err(DumpError::Decode {
                    what,
                    detail: "a reply of length 0".to_owned(),
                });
            }
            offset += length.next_multiple_of(4);
            match message.payload {
                NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(response)) => {
                    if let Some(socket) = socket_from(proto, &response) {
                        if socket.remote_addr.is_some()
                            && let Some(info) = response.nlas.iter().find_map(|nla| match nla {
                                Nla::TcpInfo(bytes) => Some(tcp_stats(bytes)),
                                _ => None,
                            })
                        {
                            out.tcp.push((socket.cookie, info));
                        }
                        if proto == Proto::Udp
                            && let Some(drops) = response.nlas.iter().find_map(|nla| match nla {
                                Nla::MemInfo(m) => Some(m.drops),
                                _ => None,
                            })
                        {
                            out.udp_drops.push((socket.cookie, drops));
                        }
                        out.sockets.push(socket);
                    }
                }
                NetlinkPayload::Done(_) => return Ok(()),
                NetlinkPayload::Error(error) => {
                    let source = error.code.map_or_else(
                        || io::Error::other("error reply"),
                        |code| io::Error::from_raw_os_error(-code.get()),
                    );
                    return Err(DumpError::Refused { what, source });
                }
                _ => {}
            }
        }
    }
}

/// One reply as a socket. A reply with an address family other than IPv4/IPv6 is skipped.
fn socket_from(proto: Proto, response: &InetResponse) -> Option<Socket> {
    let header = &response.header;
    let id = &header.socket_id;
    let (local_addr, remote_addr) = (id.source_address, id.destination_address);
    if !matches!(
        (local_addr, remote_addr),
        (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_))
    ) {
        return None;
    }
    // Only full sockets carry INET_DIAG_SHUTDOWN; the kernel writes uid 0 into the replies for
    // its TIME_WAIT and handshake mini sockets, which belong to no user.
    let full_socket = response
        .nlas
        .iter()
        .any(|nla| matches!(nla, Nla::Shutdown(_)));
    let state = state_of(proto, header.state);
    let has_peer = !(id.destination_port == 0 && remote_addr.is_unspecified());
    let has_peer = has_peer && !matches!(state, SockState::Listen | SockState::Bound);
    Some(Socket {
        host: 0,
        proto,
        local_addr,
        local_port: id.source_port,
        remote_addr: has_peer.then_some(remote_addr),
        remote_port: has_peer.then_some(id.destination_port),
        state,
        pids: Pids::new(),
        uid: full_socket.then_some(header.uid),
        inode: Some(header.inode),
        cookie: u64::from_ne_bytes(id.cookie),
        recv_q: header.recv_queue,
        send_q: header.send_queue,
        netns: 0,
    })
}

/// One announcement of a destroyed socket (from the sock_diag destroy groups) as an
/// [`Ended`]. Its state is `CLOSED`; it keeps its peer, which the kernel still reports.
pub(super) fn ended_from(
    response: &InetResponse,
    at: SystemTime,
    instant: Instant,
) -> Option<Ended> {
    let tcp_info = response.nlas.iter().find_map(|nla| match nla {
        Nla::TcpInfo(bytes) => Some(bytes),
        _ => None,
    });
    let protocol = response.nlas.iter().find_map(|nla| match nla {
        Nla::Protocol(p) => Some(*p),
        _ => None,
    });
    let proto = match protocol {
        Some(IPPROTO_TCP) => Proto::Tcp,
        Some(IPPROTO_UDP) => Proto::Udp,
        Some(_) => return None,
        // Kernels that do not name the protocol: only TCP sends tcp_info.
        None if tcp_info.is_some() => Proto::Tcp,
        None => Proto::Udp,
    };
    let mut socket = socket_from(proto, response)?;
    let id = &response.header.socket_id;
    let has_peer = !(id.destination_port == 0 && id.destination_address.is_unspecified());
    socket.remote_addr = has_peer.then_some(id.destination_address);
    socket.remote_port = has_peer.then_some(id.destination_port);
    socket.state = SockState::Closed;
    // The announcement carries neither (the kernel writes 0), nor meaningful queues.
    (socket.uid, socket.inode, socket.recv_q, socket.send_q) = (None, None, 0, 0);
    Some(Ended {
        socket,
        // A listener's counters are all zero: only connections move bytes.
        stats: tcp_info.filter(|_| has_peer).map(|info| tcp_stats(info)),
        time_wait: false,
        at,
        instant,
    })
}

/// The fields of a `struct tcp_info` that portscope shows, read from as many bytes as the
/// kernel sent: a field beyond them is `None` (or 0), never an error.
fn tcp_stats(info: &[u8]) -> TcpStats {
    let u32_at = |at: usize| -> Option<u32> {
        Some(u32::from_ne_bytes(info.get(at..at + 4)?.try_into().ok()?))
    };
    let u64_at = |at: usize| -> Option<u64> {
        Some(u64::from_ne_bytes(info.get(at..at + 8)?.try_into().ok()?))
    };
    // Offsets in include/uapi/linux/tcp.h.
    TcpStats {
        rtt_us: u32_at(68).unwrap_or(0),
        rttvar_us: u32_at(72).unwrap_or(0),
        retrans: u32_at(100).unwrap_or(0),
        bytes_acked: u64_at(120),
        bytes_received: u64_at(128),
        delivery_rate: u64_at(160),
        bytes_sent: u64_at(200),
    }
}

/// The kernel's state number as portscope names it. UDP uses two of the TCP numbers:
/// `TCP_ESTABLISHED` for a connected socket and `TCP_CLOSE` for an unconnected one.
pub(super) fn state_of(proto: Proto, state: u8) -> SockState {
    match (proto, state) {
        (Proto::Udp, 1) => SockState::Established,
        (Proto::Udp, 7) => SockState::Unconn,
        (_, 1) => SockState::Established,
        (_, 2) => SockState::SynSent,
        // 12 is the kernel's own name for a connection request (NEW_SYN_RECV); it reports
        // requests as SYN_RECV, and so does `ss`.
        (_, 3 | 12) => SockState::SynReceived,
        (_, 4) => SockState::FinWait1,
        (_, 5) => SockState::FinWait2,
        (_, 6) => SockState::TimeWait,
        // A TCP socket in CLOSE is bound to a port and neither listens nor connects: the
        // kernel reports these only for the bound-inactive bit (13), and says 7 or 13.
        (_, 7 | 13) => SockState::Bound,
        (_, 8) => SockState::CloseWait,
        (_, 9) => SockState::LastAck,
        (_, 10) => SockState::Listen,
        (_, 11) => SockState::Closing,
        _ => SockState::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr, TcpListener, TcpStream, UdpSocket};
    use std::os::fd::AsRawFd;

    /// The sockets at a local address and port.
    fn find(sockets: &[Socket], proto: Proto, local: std::net::SocketAddr) -> Vec<&Socket> {
        sockets
            .iter()
            .filter(|s| {
                s.proto == proto && s.local_addr == local.ip() && s.local_port == local.port()
            })
            .collect()
    }

    /// [`find`] without TIME_WAIT entries: an earlier connection's may hold the same local
    /// port (to another peer) while the tests run.
    fn find_live(sockets: &[Socket], proto: Proto, local: std::net::SocketAddr) -> Vec<&Socket> {
        find(sockets, proto, local)
            .into_iter()
            .filter(|s| s.state != SockState::TimeWait)
            .collect()
    }

    fn socket_inode(fd: i32) -> u32 {
        let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
        let text = link.to_string_lossy();
        text.trim_start_matches("socket:[")
            .trim_end_matches(']')
            .parse()
            .unwrap()
    }

    #[test]
    fn the_request_asks_for_every_state_including_bound_sockets() {
        let req = request(AF_INET6, IPPROTO_UDP, extensions_for(IPPROTO_UDP), 7);
        // INET_DIAG_SKMEMINFO is extension 7: bit 6.
        assert_eq!(req[18], 1 << 6, "skmem for UDP");
        // INET_DIAG_INFO is extension 2: bit 1.
        assert_eq!(
            request(AF_INET, IPPROTO_TCP, extensions_for(IPPROTO_TCP), 1)[18],
            1 << 1,
            "tcp_info for TCP"
        );
        // struct nlmsghdr (16 bytes), then struct inet_diag_req_v2.
        assert_eq!(req.len(), 16 + 56);
        assert_eq!(u32::from_ne_bytes(req[8..12].try_into().unwrap()), 7);
        assert_eq!((req[16], req[17]), (AF_INET6, IPPROTO_UDP));
        let states = u32::from_ne_bytes(req[STATES_OFFSET..STATES_OFFSET + 4].try_into().unwrap());
        assert_eq!(states, ALL_STATES);
    }

    #[test]
    fn every_state_number_is_named_as_ss_names_it() {
        use SockState::*;
        let tcp: Vec<SockState> = (1..=13).map(|n| state_of(Proto::Tcp, n)).collect();
        assert_eq!(
            tcp,
            [
                Established,
                SynSent,
                SynReceived,
                FinWait1,
                FinWait2,
                TimeWait,
                Bound,
                CloseWait,
                LastAck,
                Listen,
                Closing,
                SynReceived,
                Bound
            ]
        );
        assert_eq!(state_of(Proto::Tcp, 99), Unknown);
        assert_eq!(state_of(Proto::Udp, 1), Established);
        assert_eq!(state_of(Proto::Udp, 7), Unconn);
    }

    #[test]
    fn listeners_connections_and_udp_sockets_appear_as_the_kernel_has_them() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
        let (server, _) = listener.accept().unwrap();
        let v6 = TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).unwrap();
        let unconnected = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let connected = UdpSocket::bind((Ipv6Addr::LOCALHOST, 0)).unwrap();
        connected.connect((Ipv6Addr::LOCALHOST, 53)).unwrap();

        let sockets = dump_sockets().unwrap().sockets;
        let me = unsafe { libc::geteuid() };

        let on_port = find(&sockets, Proto::Tcp, listener.local_addr().unwrap());
        let listen = on_port
            .iter()
            .find(|s| s.state == SockState::Listen)
            .unwrap();
        assert_eq!(listen.remote_addr, None);
        assert_eq!(listen.uid, Some(me));
        assert_eq!(listen.inode, Some(socket_inode(listener.as_raw_fd())));
        let accepted = on_port
            .iter()
            .find(|s| s.state == SockState::Established)
            .unwrap();
        let client_port = client.local_addr().unwrap().port();
        assert_eq!(accepted.remote_port, Some(client_port));
        assert_eq!(accepted.inode, Some(socket_inode(server.as_raw_fd())));
        let outgoing = find_live(&sockets, Proto::Tcp, client.local_addr().unwrap());
        assert_eq!(outgoing.len(), 1);
        assert_eq!(outgoing[0].remote_port, Some(port));
        assert_eq!(outgoing[0].state, SockState::Established);

        let v6_listen = find(&sockets, Proto::Tcp, v6.local_addr().unwrap());
        assert_eq!(v6_listen.len(), 1);
        assert_eq!(v6_listen[0].local_addr, IpAddr::V6(Ipv6Addr::LOCALHOST));

        let udp = find(&sockets, Proto::Udp, unconnected.local_addr().unwrap());
        assert_eq!(udp.len(), 1);
        assert_eq!(udp[0].state, SockState::Unconn);
        assert_eq!(udp[0].remote_addr, None);
        let udp = find(&sockets, Proto::Udp, connected.local_addr().unwrap());
        assert_eq!(udp.len(), 1);
        assert_eq!(udp[0].state, SockState::Established);
        assert_eq!(udp[0].remote_addr, Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        assert_eq!(udp[0].remote_port, Some(53));
        assert_eq!(udp[0].uid, Some(me));
    }

    #[test]
    fn a_lookup_tells_a_closed_socket_from_one_still_open() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
        let (server, _) = listener.accept().unwrap();
        let sockets = dump_sockets().unwrap().sockets;
        let outgoing = find_live(&sockets, Proto::Tcp, client.local_addr().unwrap())[0].clone();
        let accepted = find(&sockets, Proto::Tcp, listener.local_addr().unwrap())
            .into_iter()
            .find(|s| s.state == SockState::Established)
            .unwrap()
            .clone();
        let listening = find(&sockets, Proto::Tcp, listener.local_addr().unwrap())
            .into_iter()
            .find(|s| s.state == SockState::Listen)
            .unwrap()
            .clone();
        assert_eq!(
            gone(&[&outgoing, &accepted, &listening]),
            Vec::<usize>::new()
        );

        // The same addresses under another cookie are another socket.
        let mut other = accepted.clone();
        other.cookie ^= 1;
        assert_eq!(gone(&[&outgoing, &other]), vec![1]);

        // Closed with a reset, so no TIME_WAIT takes its place; the listener still stands on
        // the accepted socket's port, and a lookup must not take it for the closed socket.
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        let set = unsafe {
            libc::setsockopt(
                server.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&raw const linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        assert_eq!(set, 0);
        drop(server);
        drop(client);
        assert_eq!(gone(&[&outgoing, &accepted, &listening]), vec![0, 1]);
        drop(listener);
        assert_eq!(gone(&[&listening]), vec![0]);
    }

    #[test]
    fn a_lookup_finds_the_time_wait_entry_a_closed_connection_left() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let sockets = dump_sockets().unwrap().sockets;
        let server_end = find(&sockets, Proto::Tcp, listener.local_addr().unwrap())
            .into_iter()
            .find(|s| s.state == SockState::Established)
            .unwrap()
            .clone();
        // The server closes first: its end stays in TIME_WAIT, under the same cookie.
        drop(server);
        drop(client);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let now = dump_sockets().unwrap().sockets;
            let tw = now
                .iter()
                .find(|s| s.cookie == server_end.cookie && s.state == SockState::TimeWait);
            if tw.is_some() {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "no TIME_WAIT came");
        }
        assert_eq!(gone(&[&server_end]), Vec::<usize>::new());
    }

    #[test]
    fn a_bound_socket_that_neither_listens_nor_connects_is_listed() {
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
        assert!(fd >= 0);
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr {
                s_addr: u32::from(Ipv4Addr::LOCALHOST).to_be(),
            },
            sin_zero: [0; 8],
        };
        let len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let rc = unsafe { libc::bind(fd, (&raw const addr).cast(), len) };
        assert_eq!(rc, 0);
        let mut bound: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        let mut bound_len = len;
        let rc = unsafe { libc::getsockname(fd, (&raw mut bound).cast(), &mut bound_len) };
        assert_eq!(rc, 0);
        let port = u16::from_be(bound.sin_port);

        let sockets = dump_sockets().unwrap().sockets;
        unsafe { libc::close(fd) };
        let found = find(&sockets, Proto::Tcp, (Ipv4Addr::LOCALHOST, port).into());
        assert_eq!(found.len(), 1, "{sockets:?}");
        assert_eq!(found[0].state, SockState::Bound);
        assert_eq!(found[0].remote_addr, None);
    }

    #[test]
    fn time_wait_sockets_belong_to_no_user() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
        let client_port = client.local_addr().unwrap().port();
        let (server, _) = listener.accept().unwrap();
        // The side that closes first goes to TIME_WAIT once the other side closes too.
        drop(client);
        drop(server);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let sockets = dump_sockets().unwrap().sockets;
            let tw: Vec<_> = find(
                &sockets,
                Proto::Tcp,
                (Ipv4Addr::LOCALHOST, client_port).into(),
            )
            .into_iter()
            .filter(|s| s.state == SockState::TimeWait)
            .collect();
            if let Some(s) = tw.first() {
                assert_eq!(s.uid, None, "{s:?}");
                assert_eq!(s.inode, Some(0));
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no TIME_WAIT for port {client_port}"
            );
            std::thread::yield_now();
        }
    }
}
