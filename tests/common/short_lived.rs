//! Connections that live about a millisecond, for the tests of what polls cannot see.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::thread;
use std::time::Duration;

/// How many of each the generators make.
pub const CONNECTIONS: usize = 1_000;
pub const UDP_SOCKETS: usize = 200;

/// Connection `i` carries this many bytes, so each close can be told by its count too.
pub fn bytes_of(i: usize) -> usize {
    100 + i * 7
}

/// Open, use and close `CONNECTIONS` connections to `listener`, each living about a
/// millisecond. Returns each client port with the bytes it sent. A port the kernel gave to two
/// of them (on loopback it reuses a port whose TIME_WAIT entry is still there, which a full
/// test run leaves thousands of) says nothing about either: it is left out, and at least 90%
/// of the connections remain.
pub fn short_connections(listener: &TcpListener) -> HashMap<u16, usize> {
    let port = listener.local_addr().unwrap().port();
    let server = {
        let listener = listener.try_clone().unwrap();
        thread::spawn(move || {
            for _ in 0..CONNECTIONS {
                let (mut conn, _) = listener.accept().unwrap();
                let mut sink = Vec::new();
                conn.read_to_end(&mut sink).unwrap();
            }
        })
    };
    let mut sent = HashMap::new();
    let mut twice = std::collections::HashSet::new();
    for i in 0..CONNECTIONS {
        let mut conn = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
        let client = conn.local_addr().unwrap().port();
        if sent.insert(client, bytes_of(i)).is_some() {
            twice.insert(client);
        }
        conn.write_all(&vec![b'x'; bytes_of(i)]).unwrap();
        thread::sleep(Duration::from_millis(1));
    }
    server.join().unwrap();
    sent.retain(|port, _| !twice.contains(port));
    assert!(
        sent.len() * 10 >= CONNECTIONS * 9,
        "only {} of {CONNECTIONS} connections had a port of their own",
        sent.len()
    );
    sent
}

/// Bind, send one datagram to `to` and close `UDP_SOCKETS` UDP sockets. Their ports.
pub fn short_udp_sockets(to: u16) -> Vec<u16> {
    (0..UDP_SOCKETS)
        .map(|_| {
            let s = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
            s.connect((Ipv4Addr::LOCALHOST, to)).unwrap();
            s.send(b"ping").unwrap();
            s.local_addr().unwrap().port()
        })
        .collect()
}
