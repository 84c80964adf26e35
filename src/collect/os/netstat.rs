//! The socket table through netstat2: the source on macOS and Windows, and on Linux a second
//! opinion that tests hold the kernel dump against.
//!
//! netstat2 reports no peer for UDP sockets, so every UDP row here is `UNCONN`.

use netstat2::{AddressFamilyFlags, ProtocolFlags, ProtocolSocketInfo, SocketInfo, TcpState};

use crate::collect::CollectError;
use crate::model::{Pids, Proto, SockState, Socket};

/// Every TCP and UDP socket, IPv4 and IPv6.
const FAMILIES: AddressFamilyFlags = AddressFamilyFlags::IPV4.union(AddressFamilyFlags::IPV6);
const PROTOCOLS: ProtocolFlags = ProtocolFlags::TCP.union(ProtocolFlags::UDP);

/// The socket table with the owners the OS reports for each socket. Rows the library cannot
/// decode are skipped, not fatal.
pub fn sockets_with_owners() -> Result<Vec<Socket>, CollectError> {
    let rows = netstat2::iterate_sockets_info(FAMILIES, PROTOCOLS)
        .map_err(|e| CollectError::SocketTable(e.to_string()))?;
    Ok(rows.filter_map(Result::ok).map(socket_from).collect())
}

fn socket_from(info: SocketInfo) -> Socket {
    let mut pids = info.associated_pids.clone();
    pids.sort_unstable();
    pids.dedup();
    let pids = Pids::from(pids);
    let (uid, inode) = ids(&info);
    match info.protocol_socket_info {
        ProtocolSocketInfo::Tcp(t) => {
            let state = tcp_state(t.state);
            let no_peer = state == SockState::Listen
                || (t.remote_port == 0 && t.remote_addr.is_unspecified());
            Socket {
                host: 0,
                proto: Proto::Tcp,
                local_addr: t.local_addr,
                local_port: t.local_port,
                remote_addr: (!no_peer).then_some(t.remote_addr),
                remote_port: (!no_peer).then_some(t.remote_port),
                state,
                pids,
                uid,
                inode,
                cookie: 0,
                recv_q: 0,
                send_q: 0,
                netns: 0,
            }
        }
        ProtocolSocketInfo::Udp(u) => Socket {
            host: 0,
            proto: Proto::Udp,
            local_addr: u.local_addr,
            local_port: u.local_port,
            remote_addr: None,
            remote_port: None,
            state: SockState::Unconn,
            pids,
            uid,
            inode,
            cookie: 0,
            recv_q: 0,
            send_q: 0,
            netns: 0,
        },
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn ids(info: &SocketInfo) -> (Option<u32>, Option<u32>) {
    (Some(info.uid), Some(info.inode))
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn ids(_info: &SocketInfo) -> (Option<u32>, Option<u32>) {
    (None, None)
}

fn tcp_state(state: TcpState) -> SockState {
    match state {
        TcpState::Closed => SockState::Closed,
        TcpState::Listen => SockState::Listen,
        TcpState::SynSent => SockState::SynSent,
        TcpState::SynReceived => SockState::SynReceived,
        TcpState::Established => SockState::Established,
        TcpState::FinWait1 => SockState::FinWait1,
        TcpState::FinWait2 => SockState::FinWait2,
        TcpState::CloseWait => SockState::CloseWait,
        TcpState::Closing => SockState::Closing,
        TcpState::LastAck => SockState::LastAck,
        TcpState::TimeWait => SockState::TimeWait,
        TcpState::DeleteTcb => SockState::DeleteTcb,
        TcpState::Unknown => SockState::Unknown,
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};

    /// What both sources can say of a socket: netstat2 gives UDP sockets no peer and names
    /// fewer states, so those are left out of the comparison.
    /// Only the sockets at `locals`: other tests open and close theirs meanwhile (and their
    /// TIME_WAIT entries may hold one of these local ports towards another peer).
    fn tuples(sockets: &[Socket], locals: &[(Proto, SocketAddr)]) -> Vec<String> {
        let mut out: Vec<String> = sockets
            .iter()
            .filter(|s| s.state != SockState::TimeWait)
            .filter(|s| locals.contains(&(s.proto, SocketAddr::new(s.local_addr, s.local_port))))
            .map(|s| match s.proto {
                Proto::Tcp => format!(
                    "tcp {} {} {} {:?}",
                    s.local_endpoint(),
                    s.remote_endpoint(),
                    s.state,
                    s.inode
                ),
                Proto::Udp => format!("udp {} {:?}", s.local_endpoint(), s.inode),
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn netstat2_and_the_kernel_dump_list_the_same_sockets() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let clients: Vec<TcpStream> = (0..5)
            .map(|_| TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap())
            .collect();
        let accepted: Vec<TcpStream> = (0..5).map(|_| listener.accept().unwrap().0).collect();
        let v6 = TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).unwrap();
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let udp6 = UdpSocket::bind((Ipv6Addr::LOCALHOST, 0)).unwrap();
        let mut locals = vec![
            (Proto::Tcp, listener.local_addr().unwrap()),
            (Proto::Tcp, v6.local_addr().unwrap()),
            (Proto::Udp, udp.local_addr().unwrap()),
            (Proto::Udp, udp6.local_addr().unwrap()),
        ];
        locals.extend(
            clients
                .iter()
                .map(|c| (Proto::Tcp, c.local_addr().unwrap())),
        );

        let ours = crate::collect::os::sock_diag::dump_sockets()
            .unwrap()
            .sockets;
        let theirs = sockets_with_owners().unwrap();
        let expected = tuples(&ours, &locals);
        assert_eq!(expected.len(), 1 + 5 + 5 + 1 + 2, "{expected:#?}");
        assert_eq!(tuples(&theirs, &locals), expected);
        drop(accepted);
    }
}
