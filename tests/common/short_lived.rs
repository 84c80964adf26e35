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
/// millisecond. Returns each client port with the bytes it sent.
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
    for i in 0..CONNECTIONS {
        let mut conn = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
        sent.insert(conn.local_addr().unwrap().port(), bytes_of(i));
        conn.write_all(&vec![b'x'; bytes_of(i)]).unwrap();
        thread::sleep(Duration::from_millis(1));
    }
    server.join().unwrap();
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
