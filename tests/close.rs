//! Acting on a port from the library and the real binary (Linux, loopback): closing a
//! connection or a listener (`SOCK_DESTROY`, root only — as another user the command that
//! would do it is given instead), and ending the process that listens on a port.

#![cfg(target_os = "linux")]

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::users::{Shared, as_nobody, is_root, python};
use portscope::act::close::{self, CloseError};
use portscope::collect::{OsSource, snapshot_once};
use portscope::model::{SockState, Socket};

fn portscope(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portscope"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("portscope runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The socket at `local`, connected to `remote` (or listening, for `None`).
fn socket_at(local: SocketAddr, remote: Option<SocketAddr>) -> Socket {
    let mut source = OsSource::new().expect("a live source");
    let snap = snapshot_once(&mut source).expect("a poll");
    snap.sockets
        .iter()
        .find(|s| {
            SocketAddr::new(s.local_addr, s.local_port) == local
                && s.remote_addr.zip(s.remote_port).map(SocketAddr::from) == remote
        })
        .cloned()
        .unwrap_or_else(|| panic!("{local} listed"))
}

/// A connection between two sockets of this process.
fn pair() -> (TcpListener, TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    for s in [&client, &server] {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    }
    (listener, client, server)
}

fn read_error(mut stream: &TcpStream) -> ErrorKind {
    let mut buf = [0u8; 16];
    match stream.read(&mut buf) {
        Ok(n) => panic!("read {n} bytes from a closed connection"),
        Err(e) => e.kind(),
    }
}

#[test]
fn closing_a_connection_aborts_this_end_and_resets_the_peer() {
    let (listener, client, server) = pair();
    let socket = socket_at(
        client.local_addr().unwrap(),
        Some(listener.local_addr().unwrap()),
    );
    assert_eq!(socket.state, SockState::Established);
    assert_ne!(socket.cookie, 0, "the dump gives each socket its cookie");
    match close::close(&socket) {
        Ok(()) => {
            assert_eq!(read_error(&client), ErrorKind::ConnectionAborted);
            assert_eq!(read_error(&server), ErrorKind::ConnectionReset);
        }
        Err(CloseError::NotPermitted { command }) => {
            assert!(!is_root(), "root may close connections");
            assert!(
                command.starts_with("sudo ss -K -t src 127.0.0.1:"),
                "{command}"
            );
        }
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn closing_a_listener_frees_its_port() {
    if !is_root() {
        return; // Needs CAP_NET_ADMIN; the unprivileged path is checked below.
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let socket = socket_at(addr, None);
    assert_eq!(socket.state, SockState::Listen);
    close::close(&socket).expect("root closes a listener");
    // The listener's file is still open here, yet the port is free for another.
    let again = TcpListener::bind(addr).expect("the port is free again");
    drop((again, listener));
}

#[test]
fn the_ss_command_offered_instead_closes_the_same_connection() {
    if !is_root() {
        return; // The command needs root to run.
    }
    let (listener, client, server) = pair();
    let socket = socket_at(
        client.local_addr().unwrap(),
        Some(listener.local_addr().unwrap()),
    );
    let command = close::ss_command(&socket);
    let words: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(words[0], "sudo");
    let out = Command::new(words[1]).args(&words[2..]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(read_error(&client), ErrorKind::ConnectionAborted);
    assert_eq!(read_error(&server), ErrorKind::ConnectionReset);
}

#[test]
fn close_from_the_command_line_closes_the_connection_at_one_end() {
    let (listener, client, server) = pair();
    let end = client.local_addr().unwrap().to_string();
    let out = portscope(&["close", &end, "--yes"], "");
    if is_root() {
        assert!(out.status.success(), "{}", text(&out.stdout));
        let said = text(&out.stdout);
        // Both ends of the loopback connection hold the client's end: whichever is closed
        // first resets the other, which is then already gone.
        let (client_end, server_end) = (
            format!("TCP {end} → {}", listener.local_addr().unwrap()),
            format!("TCP {} → {end}", listener.local_addr().unwrap()),
        );
        let closed_client = said.contains(&format!("Closed {client_end}"));
        let closed_server = said.contains(&format!("Closed {server_end}"));
        assert!(closed_client || closed_server, "{said}");
        let (aborted, reset) = if closed_client {
            (&client, &server)
        } else {
            (&server, &client)
        };
        assert_eq!(read_error(aborted), ErrorKind::ConnectionAborted);
        assert_eq!(read_error(reset), ErrorKind::ConnectionReset);
    } else {
        assert_eq!(out.status.code(), Some(2));
        assert!(text(&out.stdout).contains("sudo ss -K"));
    }
}

#[test]
fn as_another_user_close_says_what_would_work_and_changes_nothing() {
    let (listener, mut client, mut server) = pair();
    let shared = Shared::new("close");
    let end = client.local_addr().unwrap().to_string();
    let out = as_nobody(&shared.path("portscope"))
        .args(["close", &end, "--yes"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{said}");
    let expected = format!(
        "needs root (CAP_NET_ADMIN); as root, this does the same: sudo ss -K -t src {end} dst {}",
        listener.local_addr().unwrap()
    );
    assert!(said.contains(&expected), "{said}");
    // Still connected.
    client.write_all(b"ping").unwrap();
    let mut buf = [0u8; 4];
    server.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");
}

#[test]
fn close_asks_first_and_no_closes_nothing() {
    let (_listener, mut client, mut server) = pair();
    let end = client.local_addr().unwrap().to_string();
    let out = portscope(&["close", &end], "n\n");
    assert_eq!(out.status.code(), Some(2));
    // Both ends of a loopback connection have the client's end in them.
    assert!(text(&out.stderr).contains("Close 2 sockets? [y/N]"));
    assert!(text(&out.stdout).contains("Nothing was closed."));
    client.write_all(b"ping").unwrap();
    let mut buf = [0u8; 4];
    server.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");
}

#[test]
fn close_and_kill_exit_1_when_nothing_is_there() {
    // A port that was free a moment ago; nothing here binds it.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let out = portscope(&["close", &port, "--yes"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("No TCP connection or listener on port"));
    let out = portscope(&["kill", &port, "--yes"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains(&format!("Nothing listens on port {port}.")));
}

/// A python3 server listening on a port it chose, and the port.
fn server() -> (std::process::Child, u16) {
    let mut child = Command::new(python())
        .args([
            "-c",
            "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(); \
             print(s.getsockname()[1], flush=True); sys.stdin.read()",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    (child, line.trim().parse().unwrap())
}

#[test]
fn kill_ends_the_process_listening_on_a_port_after_asking() {
    let (mut child, port) = server();
    let pid = child.id();
    let port = port.to_string();

    let out = portscope(&["kill", &port], "no\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains(&format!("Send SIGTERM to python3 (PID {pid}")));
    assert!(text(&out.stdout).contains("Nothing was sent."));
    assert!(child.try_wait().unwrap().is_none(), "still running");

    let out = portscope(&["kill", &port, "--signal", "KILL"], "y\n");
    let said = text(&out.stdout);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains(&format!("Sent SIGKILL to python3 (PID {pid}")),
        "{said}"
    );
    assert!(said.contains("it ended."), "{said}");
    let status = child.wait().unwrap();
    assert!(!status.success());
}

#[test]
fn kill_refuses_bad_signals_with_a_usage_error() {
    let out = portscope(&["kill", "80", "--signal", "HUP"], "");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stderr).lines().count(), 1);
}
