//! The library against the live OS: sockets this test owns must appear with the right state
//! and this process's PID. Nothing here depends on the machine's other sockets.

use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use portscope::collect::{Collector, Control, OsSource, snapshot_once};
use portscope::model::{Owner, Proto, Snapshot, SockState, Socket};

fn snap() -> Snapshot {
    let mut source = OsSource::new().expect("a live source");
    snapshot_once(&mut source).expect("a poll of the live machine")
}

fn find(snap: &Snapshot, proto: Proto, local: SocketAddr, state: SockState) -> Option<&Socket> {
    snap.sockets.iter().find(|s| {
        s.proto == proto
            && s.local_addr == local.ip()
            && s.local_port == local.port()
            && s.state == state
    })
}

#[test]
fn own_sockets_appear_with_state_and_our_pid() {
    let me = std::process::id();
    let l4 = TcpListener::bind("127.0.0.1:0").unwrap();
    let l6 = TcpListener::bind("[::1]:0").unwrap();
    let client = TcpStream::connect(l4.local_addr().unwrap()).unwrap();
    let (server, _) = l4.accept().unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();

    let snap = snap();
    let listen4 = find(
        &snap,
        Proto::Tcp,
        l4.local_addr().unwrap(),
        SockState::Listen,
    )
    .expect("v4 listener");
    let listen6 = find(
        &snap,
        Proto::Tcp,
        l6.local_addr().unwrap(),
        SockState::Listen,
    )
    .expect("v6 listener");
    // Another process may use the same local port towards another peer: match both ends.
    let out = snap
        .sockets
        .iter()
        .find(|s| {
            s.local_port == client.local_addr().unwrap().port()
                && s.remote_port == Some(l4.local_addr().unwrap().port())
                && s.state == SockState::Established
        })
        .expect("client end of the connection");
    let inbound = snap
        .sockets
        .iter()
        .find(|s| {
            s.local_port == l4.local_addr().unwrap().port()
                && s.remote_port == Some(client.local_addr().unwrap().port())
                && s.state == SockState::Established
        })
        .expect("server end of the connection");
    let u = find(
        &snap,
        Proto::Udp,
        udp.local_addr().unwrap(),
        SockState::Unconn,
    )
    .expect("udp socket");

    for s in [listen4, listen6, out, inbound, u] {
        assert!(s.pids.contains(&me), "{s:?} should belong to pid {me}");
        assert!(matches!(snap.owner(s), Owner::Processes(_)));
    }
    assert_eq!(out.remote_addr, Some(l4.local_addr().unwrap().ip()));
    assert_eq!(out.remote_port, Some(l4.local_addr().unwrap().port()));
    assert_eq!(listen4.remote_addr, None, "a listener has no peer");
    assert_eq!(inbound.local_addr, server.local_addr().unwrap().ip());

    let p = snap.process(me).expect("this process is described");
    assert_eq!(p.pid, me);
    assert!(!p.name.is_empty());
    let exe = std::env::current_exe().unwrap();
    assert_eq!(p.exe.as_deref(), exe.to_str());
    assert!(
        p.cmdline.first().is_some_and(|a| a.contains("live")),
        "{:?}",
        p.cmdline
    );
    assert!(p.start_time.is_some());
    assert!(p.parent_pid.is_some());
    // This process's sockets are all found from the process side too.
    assert!(snap.sockets_of(me).count() >= 5);
}

#[test]
fn collector_thread_sees_sockets_come_and_go() {
    let me = std::process::id();
    let collector = Collector::spawn(
        Box::new(OsSource::new().unwrap()),
        Duration::from_secs(30),
        || {},
    )
    .unwrap();
    collector
        .wait(Duration::from_secs(10))
        .expect("first snapshot");

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    collector.send(Control::RefreshNow);
    let snap = collector
        .wait(Duration::from_secs(10))
        .expect("refreshed snapshot");
    let s =
        find(&snap, Proto::Tcp, addr, SockState::Listen).expect("new listener seen after refresh");
    assert!(s.pids.contains(&me));
    assert!(snap.poll_duration > Duration::ZERO);

    drop(listener);
    collector.send(Control::RefreshNow);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let snap = collector.wait(Duration::from_secs(10)).expect("snapshot");
        if find(&snap, Proto::Tcp, addr, SockState::Listen).is_none() {
            break;
        }
        assert!(Instant::now() < deadline, "closed listener still listed");
        collector.send(Control::RefreshNow);
    }
}

#[test]
fn a_child_process_owning_a_socket_is_named_with_its_command_line() {
    let probe = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    let mut child = std::process::Command::new("python3")
        .args(["-c", &format!(
            "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',{port})); s.listen(); time.sleep(30)"
        )])
        .spawn()
        .expect("python3 runs");
    let deadline = Instant::now() + Duration::from_secs(10);
    let found = loop {
        let snap = snap();
        if let Some(s) = snap
            .sockets
            .iter()
            .find(|s| s.local_port == port && s.state == SockState::Listen)
        {
            break (s.clone(), snap.clone());
        }
        assert!(
            Instant::now() < deadline,
            "python3's listener never appeared"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = child.kill();
    let _ = child.wait();
    let (socket, snap) = found;
    assert_eq!(socket.pids.as_slice(), [child.id()]);
    let p = snap.process(child.id()).expect("python3 described");
    assert!(p.name.starts_with("python3"), "{}", p.name);
    assert!(p.cmdline_string().contains("s.listen()"));
    assert_eq!(p.parent_pid, Some(std::process::id()));
    assert!(
        snap.process(std::process::id()).is_some(),
        "the parent is described too"
    );
}

/// A listener in a process that renames itself, then becomes another program under the same
/// PID: the table must follow, and *End process* must accept what it shows.
#[cfg(target_os = "linux")]
#[test]
fn a_process_that_renames_itself_or_execs_is_shown_as_it_is_now() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};

    use portscope::act::signal::{self, Signal, Target};
    use portscope::collect::SocketSource;

    const SCRIPT: &str = "\
import ctypes, os, socket, sys
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()
print(s.getsockname()[1], flush=True)
sys.stdin.readline()
ctypes.CDLL(None).prctl(15, b'renamed-proc', 0, 0, 0)
print('renamed', flush=True)
sys.stdin.readline()
s.set_inheritable(True)
os.execv('/bin/sleep', ['sleep', '60'])
";
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port: u16 = lines.next().unwrap().unwrap().trim().parse().unwrap();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();

    let mut source = OsSource::new().expect("a live source");
    let owner_of_listener = |source: &mut OsSource| {
        let poll = source.poll().expect("a poll");
        let socket = poll
            .sockets
            .iter()
            .find(|s| s.state == SockState::Listen && s.local_port == port)
            .unwrap_or_else(|| panic!("{addr} listed"));
        assert_eq!(socket.pids.as_slice(), [pid]);
        poll.processes[&pid].clone()
    };
    assert_eq!(owner_of_listener(&mut source).name, "python3");

    writeln!(stdin).unwrap();
    assert_eq!(lines.next().unwrap().unwrap(), "renamed");
    assert_eq!(owner_of_listener(&mut source).name, "renamed-proc");

    writeln!(stdin).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let now = loop {
        let info = owner_of_listener(&mut source);
        if info.name == "sleep" {
            break info;
        }
        assert!(Instant::now() < deadline, "still shown as {info:?}");
        std::thread::yield_now();
    };
    // A poll may catch the process in the middle of exec, with its new name and not yet its
    // new command line: the next poll has both.
    let now = if now.cmdline == ["sleep", "60"] {
        now
    } else {
        owner_of_listener(&mut source)
    };
    assert_eq!(now.cmdline, ["sleep", "60"]);
    assert!(
        now.exe.as_deref().is_some_and(|exe| exe.ends_with("sleep")),
        "{now:?}"
    );

    // What the table shows is what End process checks against.
    let target = Target {
        pid,
        start_time: now.start_time,
        name: now.name.clone(),
        uid: now.uid,
        user: now.user.clone(),
    };
    signal::send(&target, Signal::Terminate).expect("the process the table shows is ended");
    let status = child.wait().unwrap();
    assert!(!status.success());
}
