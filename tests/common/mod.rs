//! Fixtures shared by the integration tests.
#![allow(dead_code)]

pub mod short_lived;
#[cfg(unix)]
pub mod sshd;
#[cfg(target_os = "linux")]
pub mod users;

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::{Child, Command, Stdio};

use portscope::collect::Poll;
use portscope::model::{ProcessInfo, Proto, Snapshot, SockState, Socket, Viewer};

pub fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn socket(
    proto: Proto,
    local: (IpAddr, u16),
    remote: Option<(IpAddr, u16)>,
    state: SockState,
    pids: &[u32],
    uid: u32,
    inode: u32,
) -> Socket {
    Socket {
        host: 0,
        proto,
        local_addr: local.0,
        local_port: local.1,
        remote_addr: remote.map(|r| r.0),
        remote_port: remote.map(|r| r.1),
        state,
        pids: pids.into(),
        uid: Some(uid),
        inode: Some(inode),
        cookie: 0,
        recv_q: 0,
        send_q: 0,
        netns: 0,
    }
}

fn process(
    pid: u32,
    name: &str,
    exe: &str,
    cmd: &[&str],
    user: &str,
    uid: u32,
    ppid: u32,
) -> ProcessInfo {
    ProcessInfo {
        pid,
        name: name.to_owned(),
        exe: Some(exe.to_owned()),
        cmdline: cmd.iter().map(|s| (*s).to_owned()).collect(),
        uid: Some(uid),
        user: Some(user.to_owned()),
        parent_pid: Some(ppid),
        start_time: Some(1_764_000_000),
    }
}

/// A small, fixed machine: nginx (two workers sharing a listener), sshd on v6, redis of
/// another user, a browser connection, a TIME_WAIT leftover and a DNS resolver on UDP.
pub fn demo_poll() -> Poll {
    let lo = v4(127, 0, 0, 1);
    let any = v4(0, 0, 0, 0);
    let sockets = vec![
        socket(
            Proto::Tcp,
            (any, 80),
            None,
            SockState::Listen,
            &[1200, 1201],
            0,
            101,
        ),
        socket(
            Proto::Tcp,
            (IpAddr::V6(Ipv6Addr::UNSPECIFIED), 22),
            None,
            SockState::Listen,
            &[900],
            0,
            102,
        ),
        socket(
            Proto::Tcp,
            (lo, 6379),
            None,
            SockState::Listen,
            &[],
            999,
            103,
        ),
        socket(
            Proto::Tcp,
            (v4(192, 168, 1, 20), 60296),
            Some((v4(140, 82, 112, 3), 443)),
            SockState::Established,
            &[4242],
            1000,
            104,
        ),
        socket(
            Proto::Tcp,
            (v4(192, 168, 1, 20), 51000),
            Some((v4(151, 101, 1, 69), 443)),
            SockState::Established,
            &[4242],
            1000,
            105,
        ),
        socket(
            Proto::Tcp,
            (lo, 8080),
            Some((lo, 41000)),
            SockState::TimeWait,
            &[],
            0,
            0,
        ),
        socket(
            Proto::Udp,
            (v4(127, 0, 0, 53), 53),
            None,
            SockState::Unconn,
            &[700],
            101,
            106,
        ),
    ];
    let processes = [
        process(
            1,
            "systemd",
            "/usr/lib/systemd/systemd",
            &["/sbin/init"],
            "root",
            0,
            0,
        ),
        process(
            900,
            "sshd",
            "/usr/sbin/sshd",
            &["sshd: /usr/sbin/sshd -D"],
            "root",
            0,
            1,
        ),
        process(
            1200,
            "nginx",
            "/usr/sbin/nginx",
            &["nginx: master process /usr/sbin/nginx", "-g", "daemon off;"],
            "root",
            0,
            1,
        ),
        process(
            1201,
            "nginx",
            "/usr/sbin/nginx",
            &["nginx: worker process"],
            "www-data",
            33,
            1200,
        ),
        process(
            4242,
            "firefox",
            "/usr/lib/firefox/firefox",
            &["/usr/lib/firefox/firefox", "--new-window"],
            "alice",
            1000,
            1,
        ),
        process(
            700,
            "systemd-resolve",
            "/usr/lib/systemd/systemd-resolved",
            &["/usr/lib/systemd/systemd-resolved"],
            "systemd-resolve",
            101,
            1,
        ),
    ]
    .into_iter()
    .map(|p| (p.pid, p))
    .collect();
    let users = [
        (0, "root"),
        (33, "www-data"),
        (101, "systemd-resolve"),
        (999, "redis"),
        (1000, "alice"),
    ]
    .into_iter()
    .map(|(uid, name)| (uid, name.to_owned()))
    .collect();
    Poll {
        sockets,
        processes,
        users,
        viewer: Viewer {
            uid: Some(1000),
            privileged: false,
        },
        traffic: Default::default(),
        drops: Default::default(),
        namespaces: Default::default(),
        containers: Default::default(),
        published: Default::default(),
        hidden_containers: Default::default(),
        machines: Default::default(),
        machine: None,
    }
}

pub fn demo_snapshot() -> Snapshot {
    Snapshot::from_poll(
        1,
        std::time::SystemTime::now(),
        std::time::Duration::from_millis(3),
        demo_poll(),
    )
}

/// Python that listens on 127.0.0.1, prints its port, and holds it until its standard input
/// closes.
pub const PY_LISTENER: &str = "import socket, sys\n\
    s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n\
    print(s.getsockname()[1], flush=True)\n\
    sys.stdin.read()\n";

/// Start `command` with pipes to its standard input and output, and read the line it prints
/// once it is ready (trimmed).
pub fn start_ready(command: &mut Command) -> (Child, String) {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line.trim().to_owned())
}
