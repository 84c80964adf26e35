//! What a connection moves, as the kernel counts it (Linux, loopback): exact byte counts at both
//! ends, and a rate that matches what a paced sender sent between two polls.

#![cfg(target_os = "linux")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use portscope::collect::{OsSource, Poll, SocketSource};
use portscope::model::traffic::Flow;

fn flow(poll: &Poll, local: SocketAddr, remote: SocketAddr) -> Flow {
    let socket = poll
        .sockets
        .iter()
        .find(|s| {
            SocketAddr::new(s.local_addr, s.local_port) == local
                && s.remote_addr.zip(s.remote_port).map(SocketAddr::from) == Some(remote)
        })
        .unwrap_or_else(|| panic!("{local} → {remote} listed"));
    poll.traffic
        .get(&socket.cookie)
        .copied()
        .unwrap_or_else(|| panic!("{local} → {remote} has its counters"))
}

fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (client, server)
}

#[test]
fn both_ends_count_exactly_the_bytes_sent() {
    const N: usize = 100_000;
    let (mut client, mut server) = pair();
    let (c, s) = (client.local_addr().unwrap(), server.local_addr().unwrap());
    client.write_all(&vec![7u8; N]).unwrap();
    let mut got = vec![0u8; N];
    server.read_exact(&mut got).unwrap();
    // And back, so each end has sent and received.
    server.write_all(&got[..N / 2]).unwrap();
    client.read_exact(&mut got[..N / 2]).unwrap();

    let mut source = OsSource::new().expect("a live source");
    let poll = source.poll().expect("a poll");
    let sender = flow(&poll, c, s).stats;
    let receiver = flow(&poll, s, c).stats;
    let n = N as u64;
    assert_eq!(sender.bytes_sent, Some(n), "{sender:?}");
    assert_eq!(receiver.bytes_sent, Some(n / 2), "{receiver:?}");
    // Received counts may include the peer's SYN.
    for (stats, expected) in [(receiver, n), (sender, n / 2)] {
        let received = stats.bytes_received.unwrap();
        assert!((expected..=expected + 1).contains(&received), "{stats:?}");
    }
    assert!(sender.rtt_us > 0, "{sender:?}");
}

#[test]
fn the_rate_is_what_a_paced_sender_sent_between_two_polls() {
    const CHUNK: usize = 16 * 1024;
    const CHUNKS: usize = 40;
    let (mut client, server) = pair();
    let (c, s) = (client.local_addr().unwrap(), server.local_addr().unwrap());
    let reader = std::thread::spawn(move || {
        let mut server = server;
        let mut buf = vec![0u8; CHUNK];
        let mut total = 0;
        while total < CHUNK * CHUNKS {
            match server.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
        (total, server)
    });
    let mut source = OsSource::new().expect("a live source");
    let before = Instant::now();
    let first = source.poll().expect("a poll");
    let after_first = Instant::now();
    assert_eq!(flow(&first, c, s).rate, None, "no rate from one reading");
    // About 640 KiB over about half a second, all between the two polls.
    for _ in 0..CHUNKS {
        client.write_all(&[1u8; CHUNK]).unwrap();
        std::thread::sleep(Duration::from_millis(12));
    }
    let (received, _server) = reader.join().unwrap();
    assert_eq!(received, CHUNK * CHUNKS);
    let before_second = Instant::now();
    let second = source.poll().expect("a poll");
    let after = Instant::now();
    let rate = flow(&second, c, s).rate.expect("a rate from two readings");
    let sent = (CHUNK * CHUNKS) as f64;
    // The poll took its reading somewhere inside each poll call.
    let fastest = sent / before_second.duration_since(after_first).as_secs_f64();
    let slowest = sent / after.duration_since(before).as_secs_f64();
    let up = rate.up as f64;
    assert!(
        up <= fastest * 1.1 && up >= slowest * 0.9,
        "{up} B/s, expected {slowest:.0}–{fastest:.0}"
    );
    let down = flow(&second, s, c).rate.expect("the other end's rate").down as f64;
    assert!(
        down <= fastest * 1.1 && down >= slowest * 0.9,
        "{down} B/s, expected {slowest:.0}–{fastest:.0}"
    );
}
