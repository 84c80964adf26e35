//! The kernel's announcements of destroyed sockets (Linux), read on a thread of their own.
//!
//! sock_diag has four multicast groups — TCP and UDP, IPv4 and IPv6 — on which the kernel
//! announces every socket it destroys, any user's, to any user. A connection that opened and
//! closed between two polls shows up here and nowhere else. The thread joins the four groups
//! with a large receive buffer, decodes each announcement into an [`Ended`] and queues it for
//! whoever drains the feed (the window, `portscope watch`), then calls a waker.
//!
//! When closes come faster than the buffer drains, the kernel drops announcements and says so
//! once (`ENOBUFS`). The feed counts these overflows and hands the count out with the next
//! batch, so that the user is told, never left to believe the list is whole; the next poll
//! finds the sockets that closed meanwhile. The queue itself is bounded too: past
//! [`MAX_QUEUED`] undrained announcements, the oldest are counted as lost the same way.

use std::collections::VecDeque;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_sys::Socket as NetlinkSocket;

use super::sock_diag::{ended_from, open_netlink};
use crate::model::ended::{Ended, EndedBatch};

/// The destroy groups: `SKNLGRP_INET_TCP_DESTROY`, `SKNLGRP_INET_UDP_DESTROY`,
/// `SKNLGRP_INET6_TCP_DESTROY`, `SKNLGRP_INET6_UDP_DESTROY`.
const GROUPS: [u32; 4] = [1, 2, 3, 4];
/// The receive buffer asked for by default: room for tens of thousands of announcements.
/// Without privilege the kernel caps it at `net.core.rmem_max`.
pub const RECEIVE_BUFFER: usize = 32 << 20;
/// How often the thread looks up from a quiet socket to see whether it should stop.
const STOP_CHECK: Duration = Duration::from_millis(200);
/// Announcements kept for a reader that does not drain them.
pub const MAX_QUEUED: usize = 200_000;

/// A running feed of destroyed sockets. Dropping it stops the thread.
pub struct DestroyFeed {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    stop: AtomicBool,
}

#[derive(Default)]
struct Queue {
    ended: VecDeque<Ended>,
    overflows: u64,
}

impl DestroyFeed {
    /// Join the destroy groups and start reading, with a receive buffer of `buffer` bytes
    /// (normally [`RECEIVE_BUFFER`]). `wake` is called after each batch of announcements is
    /// queued (and after an overflow), from the feed's thread.
    pub fn start(buffer: usize, wake: impl Fn() + Send + 'static) -> io::Result<Self> {
        Self::start_on(open_netlink()?, buffer, wake)
    }

    /// [`start`](Self::start) on a sock_diag socket already open (in another network
    /// namespace: the announcements are that namespace's).
    pub fn start_on(
        netlink: NetlinkSocket,
        buffer: usize,
        wake: impl Fn() + Send + 'static,
    ) -> io::Result<Self> {
        for group in GROUPS {
            netlink.add_membership(group)?;
        }
        set_receive_buffer(&netlink, buffer);
        set_receive_timeout(&netlink, STOP_CHECK)?;
        let shared = Arc::new(Shared::default());
        let thread = thread::Builder::new()
            .name("destroy-events".to_owned())
            .spawn({
                let shared = Arc::clone(&shared);
                move || read_loop(&netlink, &shared, &wake)
            })?;
        Ok(DestroyFeed {
            shared,
            thread: Some(thread),
        })
    }

    /// What arrived since the last call.
    pub fn drain(&self) -> EndedBatch {
        let mut queue = self
            .shared
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        EndedBatch {
            ended: queue.ended.drain(..).collect(),
            overflows: std::mem::take(&mut queue.overflows),
        }
    }
}

impl Drop for DestroyFeed {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn read_loop(netlink: &NetlinkSocket, shared: &Shared, wake: &dyn Fn()) {
    let mut buf = vec![0u8; 256 * 1024];
    let mut batch = Vec::new();
    while !shared.stop.load(Ordering::Relaxed) {
        let len = match netlink.recv(&mut &mut buf[..], 0) {
            Ok(len) => len,
            Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EINTR)) => continue,
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                shared
                    .queue
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .overflows += 1;
                wake();
                continue;
            }
            // The socket itself failed: nothing more will come.
            Err(_) => return,
        };
        let (at, instant) = (SystemTime::now(), Instant::now());
        decode(buf.get(..len).unwrap_or_default(), at, instant, &mut batch);
        if batch.is_empty() {
            continue;
        }
        {
            let mut queue = shared.queue.lock().unwrap_or_else(PoisonError::into_inner);
            queue.ended.extend(batch.drain(..));
            let excess = queue.ended.len().saturating_sub(MAX_QUEUED);
            if excess > 0 {
                queue.ended.drain(..excess);
                queue.overflows += 1;
            }
        }
        wake();
    }
}

/// Every announcement in one datagram from the kernel. Anything else (or anything that does
/// not decode) is skipped: a malformed message costs that message, never the feed.
fn decode(mut bytes: &[u8], at: SystemTime, instant: Instant, out: &mut Vec<Ended>) {
    while bytes.len() >= 16 {
        let length = u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        if length < 16 || length > bytes.len() {
            return;
        }
        if let Ok(message) = NetlinkMessage::<SockDiagMessage>::deserialize(&bytes[..length])
            && let NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(response)) =
                message.payload
            && let Some(ended) = ended_from(&response, at, instant)
        {
            out.push(ended);
        }
        bytes = bytes.get(length.next_multiple_of(4)..).unwrap_or_default();
    }
}

/// Ask for a receive buffer of `bytes`: past `rmem_max` where the process may
/// (`SO_RCVBUFFORCE` needs CAP_NET_ADMIN), else as much as the system allows.
fn set_receive_buffer(netlink: &NetlinkSocket, bytes: usize) {
    let size = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    for option in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: a valid socket and a pointer to a c_int of the given length.
        let done = unsafe {
            libc::setsockopt(
                netlink.as_raw_fd(),
                libc::SOL_SOCKET,
                option,
                (&raw const size).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        } == 0;
        if done {
            return;
        }
    }
}

fn set_receive_timeout(netlink: &NetlinkSocket, every: Duration) -> io::Result<()> {
    let timeout = libc::timeval {
        tv_sec: 0,
        tv_usec: libc::suseconds_t::try_from(every.as_micros()).unwrap_or(200_000),
    };
    // SAFETY: a valid socket and a pointer to a timeval of the given length.
    let result = unsafe {
        libc::setsockopt(
            netlink.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&raw const timeout).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Proto, SockState};
    use std::io::{Read, Write};
    use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
    use std::sync::mpsc;

    /// Drain until `done` says enough arrived, or the deadline passes.
    fn collect_until(
        feed: &DestroyFeed,
        woken: &mpsc::Receiver<()>,
        done: impl Fn(&[Ended]) -> bool,
    ) -> (Vec<Ended>, u64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let (mut all, mut overflows) = (Vec::new(), 0);
        while !done(&all) && Instant::now() < deadline {
            let _ = woken.recv_timeout(Duration::from_millis(100));
            let batch = feed.drain();
            all.extend(batch.ended);
            overflows += batch.overflows;
        }
        (all, overflows)
    }

    #[test]
    fn a_connection_that_lived_a_moment_is_announced_with_its_bytes() {
        let (tx, woken) = mpsc::channel();
        let feed = DestroyFeed::start(RECEIVE_BUFFER, move || {
            let _ = tx.send(());
        })
        .unwrap();
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut client = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let client_port = client.local_addr().unwrap().port();
        client.write_all(&[7u8; 5000]).unwrap();
        let mut got = vec![0u8; 5000];
        server.read_exact(&mut got).unwrap();
        drop(client);
        drop(server);
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let udp_port = udp.local_addr().unwrap().port();
        drop(udp);

        let mine = |e: &Ended| {
            e.socket.local_addr.is_loopback()
                && [client_port, port, udp_port].contains(&e.socket.local_port)
        };
        let (all, _) = collect_until(&feed, &woken, |all| {
            all.iter().filter(|e| mine(e)).count() >= 3
        });
        let ours: Vec<&Ended> = all.iter().filter(|e| mine(e)).collect();
        let outgoing = ours
            .iter()
            .find(|e| e.socket.proto == Proto::Tcp && e.socket.local_port == client_port)
            .expect("the client's end is announced");
        assert_eq!(outgoing.socket.remote_port, Some(port));
        assert_eq!(outgoing.socket.state, SockState::Closed);
        assert_ne!(outgoing.socket.cookie, 0);
        let stats = outgoing.stats.expect("TCP announcements carry tcp_info");
        assert_eq!(stats.bytes_sent, Some(5000));
        let accepted = ours
            .iter()
            .find(|e| e.socket.proto == Proto::Tcp && e.socket.remote_port == Some(client_port))
            .expect("the server's end is announced");
        let received = accepted.stats.and_then(|s| s.bytes_received).unwrap();
        // The kernel counts the peer's SYN and FIN with the data.
        assert!((5000..=5002).contains(&received), "{received}");
        let udp = ours
            .iter()
            .find(|e| e.socket.proto == Proto::Udp)
            .expect("a UDP socket is announced");
        assert_eq!(udp.socket.local_port, udp_port);
        assert_eq!(udp.stats, None);
    }

    #[test]
    fn the_end_that_closes_first_is_announced_when_it_enters_time_wait() {
        let (tx, woken) = mpsc::channel();
        let feed = DestroyFeed::start(RECEIVE_BUFFER, move || {
            let _ = tx.send(());
        })
        .unwrap();
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
        let (server, _) = listener.accept().unwrap();
        let client_port = client.local_addr().unwrap().port();
        // A dump gives both ends their cookies, as a poll does.
        let _ = super::super::sock_diag::dump_sockets().unwrap();
        drop(server);
        std::thread::sleep(Duration::from_millis(50));
        drop(client);
        let server_end =
            |e: &Ended| e.socket.local_port == port && e.socket.remote_port == Some(client_port);
        let (all, _) = collect_until(&feed, &woken, |all| all.iter().any(server_end));
        let ours: Vec<_> = all
            .iter()
            .filter(|e| e.socket.local_port == port || e.socket.local_port == client_port)
            .map(|e| (e.socket.local_port, e.socket.remote_port))
            .collect();
        assert!(all.iter().any(server_end), "{ours:?}");
    }

    #[test]
    fn garbage_from_the_socket_is_skipped() {
        let mut out = Vec::new();
        let (at, instant) = (SystemTime::now(), Instant::now());
        decode(&[], at, instant, &mut out);
        decode(&[0xff; 15], at, instant, &mut out);
        // A length past the end, and a length of zero.
        let mut header = vec![0u8; 16];
        header[..4].copy_from_slice(&1000u32.to_ne_bytes());
        decode(&header, at, instant, &mut out);
        decode(&[0u8; 64], at, instant, &mut out);
        assert!(out.is_empty());
    }
}
