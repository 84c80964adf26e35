//! The kernel's text socket tables (`/proc/PID/net/tcp`, `tcp6`, `udp`, `udp6`), which show
//! the sockets of the network namespace process PID is in.
//!
//! portscope reads its own namespace with sock_diag, and other namespaces with sock_diag from
//! inside them; these tables are for the namespaces a user without privilege cannot enter but
//! whose processes are their own (rootless containers). They have no cookies and no counters,
//! and list neither bound-only TCP sockets nor mini sockets' owners — what they list, they
//! list as the kernel has it.
//!
//! Each line: `sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid
//! timeout inode …`, addresses as the bytes of the address in memory order, each 32-bit word
//! printed as a hexadecimal number of this machine's byte order; ports and states in hex.

use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::sock_diag::state_of;
use crate::model::{Pids, Proto, SockState, Socket};

/// Every TCP and UDP socket of the namespace process `pid` is in.
pub fn read(pid: u32) -> io::Result<Vec<Socket>> {
    let mut sockets = Vec::new();
    for (name, proto) in [
        ("tcp", Proto::Tcp),
        ("tcp6", Proto::Tcp),
        ("udp", Proto::Udp),
        ("udp6", Proto::Udp),
    ] {
        match fs::read_to_string(format!("/proc/{pid}/net/{name}")) {
            Ok(text) => sockets.extend(parse(proto, &text)),
            // A kernel without IPv6 has no `tcp6`.
            Err(e) if e.kind() == io::ErrorKind::NotFound && name.ends_with('6') => {}
            Err(e) => return Err(e),
        }
    }
    Ok(sockets)
}

/// The sockets of one table; lines that do not parse are skipped.
pub fn parse(proto: Proto, text: &str) -> Vec<Socket> {
    text.lines()
        .skip(1)
        .filter_map(|line| parse_line(proto, line))
        .collect()
}

fn parse_line(proto: Proto, line: &str) -> Option<Socket> {
    let mut fields = line.split_ascii_whitespace();
    let _slot = fields.next()?;
    let (local_addr, local_port) = endpoint(fields.next()?)?;
    let (remote_addr, remote_port) = endpoint(fields.next()?)?;
    let state = state_of(proto, u8::from_str_radix(fields.next()?, 16).ok()?);
    let (tx, rx) = fields.next()?.split_once(':')?;
    let send_q = u32::from_str_radix(tx, 16).ok()?;
    let recv_q = u32::from_str_radix(rx, 16).ok()?;
    let _timer = fields.next()?;
    let _retransmits = fields.next()?;
    let uid: u32 = fields.next()?.parse().ok()?;
    let _timeout = fields.next()?;
    let inode: u32 = fields.next()?.parse().ok()?;
    let no_peer = remote_port == 0 && remote_addr.is_unspecified();
    let has_peer = !no_peer && !matches!(state, SockState::Listen | SockState::Bound);
    Some(Socket {
        host: 0,
        proto,
        local_addr,
        local_port,
        remote_addr: has_peer.then_some(remote_addr),
        remote_port: has_peer.then_some(remote_port),
        state,
        pids: Pids::new(),
        // TIME_WAIT and handshake entries show uid 0 and inode 0: they belong to no user.
        uid: (inode != 0).then_some(uid),
        inode: Some(inode),
        cookie: 0,
        recv_q,
        send_q,
        netns: 0,
    })
}

/// `0100007F:1F90` or the IPv6 form with 32 hex digits.
fn endpoint(text: &str) -> Option<(IpAddr, u16)> {
    let (addr, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let words = |count: usize| -> Option<Vec<[u8; 4]>> {
        (0..count)
            .map(|i| {
                let word = addr.get(i * 8..i * 8 + 8)?;
                Some(u32::from_str_radix(word, 16).ok()?.to_ne_bytes())
            })
            .collect()
    };
    let addr = match addr.len() {
        8 => IpAddr::V4(Ipv4Addr::from(*words(1)?.first()?)),
        32 => {
            let mut bytes = [0u8; 16];
            for (chunk, word) in bytes.chunks_exact_mut(4).zip(words(4)?) {
                chunk.copy_from_slice(&word);
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some((addr, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernels_lines_are_read_as_it_wrote_them() {
        // Little-endian words, as this machine's kernel writes them.
        let v4 = format!(
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
             \x20  0: {}:1F90 00000000:0000 0A 00000000:00000005 00:00000000 00000000  1000        0 4242 1 0 100 0 0 10 0\n\
             \x20  1: {}:1F90 {}:C350 06 00000000:00000000 03:00001000 00000000     0        0 0 3 0\n\
             garbage line\n",
            hex_v4([127, 0, 0, 1]),
            hex_v4([127, 0, 0, 1]),
            hex_v4([127, 0, 0, 2]),
        );
        let sockets = parse(Proto::Tcp, &v4);
        assert_eq!(sockets.len(), 2);
        let listener = &sockets[0];
        assert_eq!(listener.local_addr, IpAddr::from([127, 0, 0, 1]));
        assert_eq!(listener.local_port, 8080);
        assert_eq!(listener.state, SockState::Listen);
        assert_eq!(listener.remote_addr, None);
        assert_eq!((listener.uid, listener.inode), (Some(1000), Some(4242)));
        assert_eq!(listener.recv_q, 5);
        let time_wait = &sockets[1];
        assert_eq!(time_wait.state, SockState::TimeWait);
        assert_eq!(time_wait.remote_addr, Some(IpAddr::from([127, 0, 0, 2])));
        assert_eq!(time_wait.remote_port, Some(50000));
        assert_eq!(time_wait.uid, None);

        let one: Ipv6Addr = "::1".parse().unwrap();
        let mut v6 = String::from("header\n   0: ");
        for word in one.octets().chunks_exact(4) {
            v6.push_str(&format!(
                "{:08X}",
                u32::from_ne_bytes(word.try_into().unwrap())
            ));
        }
        v6.push_str(":0035 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 77 2 0 0\n");
        let udp = parse(Proto::Udp, &v6);
        assert_eq!(udp.len(), 1);
        assert_eq!(udp[0].local_addr, IpAddr::V6(one));
        assert_eq!(udp[0].local_port, 53);
        assert_eq!(udp[0].state, SockState::Unconn);
    }

    fn hex_v4(octets: [u8; 4]) -> String {
        format!("{:08X}", u32::from_ne_bytes(octets))
    }
}
