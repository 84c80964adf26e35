//! `portscope watch` against real short-lived connections on loopback (Linux: the kernel's
//! announcements of destroyed sockets).
#![cfg(target_os = "linux")]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;

use common::short_lived::{CONNECTIONS, UDP_SOCKETS, short_connections, short_udp_sockets};

/// A `portscope watch --json` process and its lines, read on a thread.
struct Watch {
    child: Child,
    lines: mpsc::Receiver<Value>,
}

impl Watch {
    fn start(args: &[&str]) -> Watch {
        let mut child = Command::new(env!("CARGO_BIN_EXE_portscope"))
            .args(["watch", "--json", "--interval", "1"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("portscope runs");
        let stdout = child.stdout.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || read_lines(stdout, &tx));
        Watch { child, lines }
    }

    /// The next line, within the deadline.
    fn next(&self, deadline: Instant) -> Option<Value> {
        self.lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .ok()
    }

    /// Interrupt it as Ctrl+C does; its exit status.
    fn interrupt(mut self) -> std::process::ExitStatus {
        // SAFETY: kill only sends a signal to our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "watch did not stop on SIGINT");
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_lines(stdout: ChildStdout, tx: &mpsc::Sender<Value>) {
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { return };
        let value: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON: {e}: {line}"));
        if tx.send(value).is_err() {
            return;
        }
    }
}

/// Open connections to `listener` until `watch` reports one open: from then on it has taken
/// its first poll and listens for closes. Returns them, held open.
fn wait_until_watching(watch: &Watch, listener: &TcpListener) -> Vec<TcpStream> {
    let port = listener.local_addr().unwrap().port();
    let mut probes = Vec::new();
    let mut ports = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let probe = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
        ports.push(probe.local_addr().unwrap().port());
        probes.push(probe);
        probes.push(listener.accept().unwrap().0);
        let wait = Instant::now() + Duration::from_millis(300);
        while let Some(line) = watch.next(wait) {
            if line["event"] == "open"
                && line["local_port"]
                    .as_u64()
                    .is_some_and(|p| ports.contains(&(p as u16)))
            {
                return probes;
            }
        }
    }
    panic!("watch never reported a probe connection");
}

#[test]
fn connections_that_live_a_millisecond_are_reported_with_their_bytes() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let receiver = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let udp_port = receiver.local_addr().unwrap().port();
    let watch = Watch::start(&[&format!("port:{port},{udp_port}")]);
    let _probe = wait_until_watching(&watch, &listener);

    let sent = short_connections(&listener);
    let udp_ports = short_udp_sockets(udp_port);

    // Each client end closes with its bytes sent; each server end with them received.
    let (mut clients, mut servers, mut udp) = (HashMap::new(), HashMap::new(), Vec::new());
    let deadline = Instant::now() + Duration::from_secs(30);
    let all_clients = |clients: &HashMap<u16, serde_json::Value>| {
        sent.keys().all(|port| clients.contains_key(port))
    };
    while !all_clients(&clients) || udp.len() < UDP_SOCKETS {
        let Some(line) = watch.next(deadline) else {
            break;
        };
        if line["event"] != "close" {
            continue;
        }
        assert_eq!(line["state"], "CLOSED", "{line}");
        let local = line["local_port"].as_u64().unwrap() as u16;
        let remote = line["remote_port"].as_u64().map(|p| p as u16);
        match (line["proto"].as_str().unwrap(), remote) {
            ("tcp", Some(p)) if p == port => {
                clients.insert(local, line);
            }
            ("tcp", Some(client)) if local == port => {
                servers.insert(client, line);
            }
            ("udp", Some(p)) if p == udp_port => udp.push(local),
            _ => {}
        }
    }
    let right_clients = sent
        .iter()
        .filter(|(client, bytes)| {
            clients
                .get(client)
                .is_some_and(|l| l["bytes_sent"].as_u64() == Some(**bytes as u64))
        })
        .count();
    let right_servers = sent
        .iter()
        .filter(|(client, bytes)| {
            servers.get(client).is_some_and(|l| {
                let got = l["bytes_received"].as_u64().unwrap_or(0);
                // The kernel counts the peer's SYN and FIN with the data.
                (**bytes as u64..=**bytes as u64 + 2).contains(&got)
            })
        })
        .count();
    assert!(
        right_clients * 100 >= sent.len() * 99,
        "{right_clients} of {} client ends reported with their bytes",
        sent.len()
    );
    assert!(
        right_servers * 100 >= sent.len() * 99,
        "{right_servers} of {} server ends reported with their bytes",
        sent.len()
    );
    let right_udp = udp_ports.iter().filter(|p| udp.contains(p)).count();
    assert!(
        right_udp * 100 >= UDP_SOCKETS * 99,
        "{right_udp} of {UDP_SOCKETS} UDP sockets reported"
    );
    // Most lived less than a poll: no poll saw their process, but the server's accepted
    // ends are put down to the listener's process.
    let server_note = servers
        .values()
        .find(|l| l["seen_by_poll"] == false)
        .map(|l| l["owner_note"].as_str().unwrap_or("").to_owned())
        .expect("a server end no poll saw");
    assert!(
        server_note.contains(&format!("accepted by the listener on port {port}")),
        "{server_note}"
    );
    assert!(
        servers
            .values()
            .filter(|l| l["seen_by_poll"] == false)
            .all(|l| l["pids"] == serde_json::json!([std::process::id()])),
        "the listener's process is this test"
    );
    let status = watch.interrupt();
    assert_eq!(status.code(), Some(0), "Ctrl+C ends it cleanly");
}

#[test]
fn a_flood_past_the_buffer_is_said_and_gives_no_wrong_rows() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    // A buffer that holds a handful of announcements.
    let watch = Watch::start(&["--event-buffer", "2048", &format!("port:{port}")]);
    let _probe = wait_until_watching(&watch, &listener);
    let sent = short_connections(&listener);

    let (mut lost, mut closes) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(8);
    while let Some(line) = watch.next(deadline) {
        match line["event"].as_str() {
            Some("lost") => lost += line["overflows"].as_u64().unwrap(),
            Some("close") => {
                closes += 1;
                // Every close reported is one of ours, with its own figures.
                let (local, remote) = (&line["local_port"], &line["remote_port"]);
                let client = if *remote == port { local } else { remote };
                let client = client.as_u64().unwrap() as u16;
                let Some(bytes) = sent.get(&client) else {
                    continue; // the probe
                };
                if *remote == port && line["seen_by_poll"] == false {
                    assert_eq!(line["bytes_sent"].as_u64(), Some(*bytes as u64), "{line}");
                }
            }
            _ => {}
        }
    }
    assert!(lost > 0, "the overflow is reported ({closes} closes seen)");
    assert!(closes < CONNECTIONS * 2, "some were lost, as it says");
    assert_eq!(watch.interrupt().code(), Some(0));
}

#[test]
fn a_closed_pipe_ends_it_cleanly() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_portscope"))
        .args(["watch", "--interval", "0.2", &format!("port:{port}")])
        .stdout(Stdio::piped())
        .spawn()
        .expect("portscope runs");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    // Connections until the first line: the reader then goes away.
    let mut line = String::new();
    let (tx, rx) = mpsc::channel();
    let reader = thread::spawn(move || {
        let _ = stdout.read_line(&mut line);
        let _ = tx.send(line);
        drop(stdout);
    });
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut held = Vec::new();
    while rx.try_recv().is_err() {
        assert!(Instant::now() < deadline, "no line came");
        held.push(TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap());
        held.push(listener.accept().unwrap().0);
        thread::sleep(Duration::from_millis(50));
    }
    reader.join().unwrap();
    // More events to write into the closed pipe.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "watch did not end after its reader went"
        );
        let _ = TcpStream::connect((Ipv4Addr::LOCALHOST, port));
        thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
}
