//! Socket owners through one long-lived source, against the live OS (Linux): it keeps what it
//! learned between polls, so these tests change ownership between polls — a socket handed to a
//! child process, the child exiting, the parent closing its copy, new sockets — and check that
//! the very next poll shows it, exactly as a complete scan does. Loopback only; every assertion
//! is about sockets the test opens. The tests take turns, so no other test's child process can
//! inherit a socket meant for one child.

#![cfg(target_os = "linux")]

use std::collections::BTreeMap;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use portscope::collect::{OsSource, Poll, SocketSource};
use portscope::model::{Proto, SockState, Socket};

static TAKE_TURNS: Mutex<()> = Mutex::new(());

fn my_turn() -> MutexGuard<'static, ()> {
    TAKE_TURNS.lock().unwrap_or_else(PoisonError::into_inner)
}

fn poll(source: &mut OsSource) -> Poll {
    source.poll().expect("a poll of the live machine")
}

/// A complete scan: the first poll of a new source reads every process's open files.
fn full_scan() -> Poll {
    poll(&mut OsSource::new().expect("a live source"))
}

/// A source that has polled a few times, so it works from what it remembers.
fn warm_source() -> OsSource {
    let mut source = OsSource::new().expect("a live source");
    for _ in 0..3 {
        poll(&mut source);
    }
    source
}

fn listening(poll: &Poll, addr: SocketAddr) -> Option<&Socket> {
    poll.sockets.iter().find(|s| {
        s.proto == Proto::Tcp
            && s.state == SockState::Listen
            && s.local_addr == addr.ip()
            && s.local_port == addr.port()
    })
}

fn pids_listening(poll: &Poll, addr: SocketAddr) -> Vec<u32> {
    listening(poll, addr)
        .unwrap_or_else(|| panic!("{addr} is listed as listening"))
        .pids
        .to_vec()
}

fn sorted(mut pids: Vec<u32>) -> Vec<u32> {
    pids.sort_unstable();
    pids
}

/// `sleep 60` holding `fd` open: std opens every socket close-on-exec, so it is cleared in
/// the child alone, between fork and exec.
fn child_holding(fd: RawFd) -> Child {
    let mut command = Command::new("sleep");
    command.arg("60").stdin(Stdio::null()).stdout(Stdio::null());
    // SAFETY: only `fcntl` runs between fork and exec, and it is async-signal-safe.
    unsafe {
        command.pre_exec(move || {
            if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command.spawn().expect("sleep runs")
}

#[test]
fn a_socket_passed_to_a_child_lists_both_pids_until_the_child_exits() {
    let _turn = my_turn();
    let me = std::process::id();
    let mut source = warm_source();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    assert_eq!(pids_listening(&poll(&mut source), addr), vec![me]);

    let mut child = child_holding(listener.as_raw_fd());
    let both = sorted(vec![me, child.id()]);
    assert_eq!(pids_listening(&poll(&mut source), addr), both);
    assert_eq!(pids_listening(&full_scan(), addr), both);

    // Killed but not yet reaped: a zombie holds no files any more.
    child.kill().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids_listening(&poll(&mut source), addr) != vec![me] {
        assert!(Instant::now() < deadline, "the killed child still listed");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait().unwrap();
    assert_eq!(pids_listening(&poll(&mut source), addr), vec![me]);
    assert_eq!(pids_listening(&full_scan(), addr), vec![me]);
}

#[test]
fn the_parent_closing_its_copy_leaves_the_child_then_the_socket_goes() {
    let _turn = my_turn();
    let me = std::process::id();
    let mut source = warm_source();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut child = child_holding(listener.as_raw_fd());
    let child_pid = child.id();
    assert_eq!(
        pids_listening(&poll(&mut source), addr),
        sorted(vec![me, child_pid])
    );

    drop(listener);
    assert_eq!(pids_listening(&poll(&mut source), addr), vec![child_pid]);
    assert_eq!(pids_listening(&full_scan(), addr), vec![child_pid]);

    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        listening(&poll(&mut source), addr).is_none(),
        "the last holder exited: the socket is closed"
    );
}

#[test]
fn new_sockets_after_several_polls_are_ours_at_the_next_poll() {
    let _turn = my_turn();
    let me = std::process::id();
    let mut source = warm_source();
    for _ in 0..3 {
        poll(&mut source);
    }
    let l4 = TcpListener::bind("127.0.0.1:0").unwrap();
    let l6 = TcpListener::bind("[::1]:0").unwrap();
    let client = TcpStream::connect(l4.local_addr().unwrap()).unwrap();
    let (server, _) = l4.accept().unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();

    let snap = poll(&mut source);
    let ours = |local: SocketAddr, state: SockState| {
        snap.sockets
            .iter()
            .find(|s| {
                s.local_addr == local.ip() && s.local_port == local.port() && s.state == state
            })
            .unwrap_or_else(|| panic!("{local} {state} is listed"))
            .pids
            .to_vec()
    };
    assert_eq!(ours(l4.local_addr().unwrap(), SockState::Listen), vec![me]);
    assert_eq!(ours(l6.local_addr().unwrap(), SockState::Listen), vec![me]);
    assert_eq!(
        ours(client.local_addr().unwrap(), SockState::Established),
        vec![me]
    );
    let inbound = snap
        .sockets
        .iter()
        .find(|s| {
            s.local_port == server.local_addr().unwrap().port()
                && s.remote_port == Some(client.local_addr().unwrap().port())
        })
        .expect("the accepted end is listed");
    assert_eq!(inbound.pids.as_slice(), [me]);
    assert_eq!(ours(udp.local_addr().unwrap(), SockState::Unconn), vec![me]);

    let addr = l6.local_addr().unwrap();
    drop(l6);
    assert!(listening(&poll(&mut source), addr).is_none());
}

/// Owners of every socket with one of `ports` at either end, by inode.
fn owners_on(poll: &Poll, ports: &[u16]) -> BTreeMap<u64, Vec<u32>> {
    poll.sockets
        .iter()
        .filter(|s| {
            ports.contains(&s.local_port) || s.remote_port.is_some_and(|p| ports.contains(&p))
        })
        .filter_map(|s| Some((u64::from(s.inode.filter(|i| *i != 0)?), s.pids.to_vec())))
        .collect()
}

#[test]
fn the_cache_agrees_with_a_complete_scan() {
    let _turn = my_turn();
    let mut source = warm_source();
    let mut ports = Vec::new();
    let mut held = Vec::new();
    let mut children = Vec::new();

    // Change things between polls: new listeners and connections, some shared with a child,
    // some closed again.
    for round in 0..4 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        ports.push(addr.port());
        let client = TcpStream::connect(addr).unwrap();
        let (server, _) = listener.accept().unwrap();
        let udp = UdpSocket::bind("[::1]:0").unwrap();
        ports.push(udp.local_addr().unwrap().port());
        if round % 2 == 0 {
            children.push(child_holding(server.as_raw_fd()));
        }
        if round == 1 {
            drop(client);
            held.push(Box::new((listener, server, udp)) as Box<dyn std::any::Any>);
        } else {
            held.push(Box::new((listener, client, server, udp)));
        }
        poll(&mut source);
    }
    // The parent's copies of round 0 go; the child keeps the one it shares.
    held.remove(0);

    let cached = owners_on(&poll(&mut source), &ports);
    let complete = owners_on(&full_scan(), &ports);
    let by_netstat2: BTreeMap<u64, Vec<u32>> = netstat2::get_sockets_info(
        netstat2::AddressFamilyFlags::IPV4 | netstat2::AddressFamilyFlags::IPV6,
        netstat2::ProtocolFlags::TCP | netstat2::ProtocolFlags::UDP,
    )
    .expect("netstat2 reads the socket table")
    .into_iter()
    .filter(|s| {
        let remote = match &s.protocol_socket_info {
            netstat2::ProtocolSocketInfo::Tcp(t) => Some(t.remote_port),
            netstat2::ProtocolSocketInfo::Udp(_) => None,
        };
        ports.contains(&s.local_port()) || remote.is_some_and(|p| ports.contains(&p))
    })
    .filter(|s| s.inode != 0)
    .map(|s| (u64::from(s.inode), sorted(s.associated_pids)))
    .collect();

    assert!(cached.len() >= 10, "{cached:?}");
    assert!(
        cached.values().any(|pids| pids.len() == 2),
        "a socket shared with a child: {cached:?}"
    );
    assert_eq!(cached, complete);
    assert_eq!(cached, by_netstat2);

    for mut child in children {
        let _ = child.kill();
        let _ = child.wait();
    }
}
