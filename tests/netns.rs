//! Network namespaces made by the tests (`unshare -n`, `ip netns add`; loopback only): what
//! `portscope list --all-namespaces` says of each must be what `ss` says inside it, socket by
//! socket, with the namespace and the owner; a user without privilege sees their own
//! namespaces; the window shows which namespace a socket lives in.

#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::users::{NOBODY, Shared, as_nobody, is_root};
use serde_json::Value;

/// Inside the namespace: loopback up, then a listener, one connection to it (both ends), an
/// unconnected UDP socket and a connected one. Prints the listener's port; ends when its
/// standard input closes.
const SOCKETS: &str = "import socket, sys\n\
    s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n\
    c = socket.create_connection(s.getsockname()); a, _ = s.accept()\n\
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('127.0.0.1', 0))\n\
    v = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); v.connect(u.getsockname())\n\
    print(s.getsockname()[1], flush=True)\n\
    sys.stdin.read()\n";

/// A process with the sockets of [`SOCKETS`] in a namespace of its own.
struct Inside {
    child: Child,
    port: u16,
}

impl Inside {
    /// `prefix` runs `sh -c '…'` in the namespace (`unshare -n`, `ip netns exec NAME`).
    fn start(mut command: Command) -> Inside {
        let (child, line) = common::start_ready(command.args([
            "sh",
            "-c",
            "ip link set lo up && exec python3 -c \"$0\"",
            SOCKETS,
        ]));
        let port = line
            .parse()
            .unwrap_or_else(|_| panic!("no port from the namespace: {line:?}"));
        Inside { child, port }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The namespace's inode, as `/proc/PID/ns/net` gives it.
    fn netns(&self) -> u64 {
        fs::metadata(format!("/proc/{}/ns/net", self.pid()))
            .unwrap()
            .ino()
    }
}

impl Drop for Inside {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// One socket as both tools can say it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    proto: String,
    local: (IpAddr, u16),
    remote: Option<(IpAddr, u16)>,
    state: String,
    pids: Vec<u32>,
    recv_q: u64,
    send_q: u64,
}

fn endpoint(text: &str) -> Option<(IpAddr, u16)> {
    let (addr, port) = text.rsplit_once(':')?;
    let port = port.parse().ok()?;
    let addr = addr.trim_start_matches('[').trim_end_matches(']');
    let addr = if addr == "*" { "0.0.0.0" } else { addr };
    Some((addr.parse().ok()?, port))
}

/// `ss -tanupH` inside the namespace process `pid` is in.
fn ss_inside(pid: u32) -> BTreeSet<Row> {
    let out = Command::new("nsenter")
        .arg(format!("--net=/proc/{pid}/ns/net"))
        .args(["ss", "-tanupH"])
        .output()
        .expect("nsenter and ss run (util-linux, iproute2)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let state = match (f[0], f[1]) {
                ("udp", "UNCONN") => "UNCONN",
                (_, "ESTAB") => "ESTABLISHED",
                (_, "LISTEN") => "LISTEN",
                (_, "TIME-WAIT") => "TIME_WAIT",
                (_, other) => panic!("a state this test does not make: {other}"),
            };
            let mut pids: Vec<u32> = line
                .split("pid=")
                .skip(1)
                .map(|p| p.split(',').next().unwrap().parse().unwrap())
                .collect();
            pids.sort_unstable();
            pids.dedup();
            Row {
                proto: f[0].to_owned(),
                local: endpoint(f[4]).unwrap(),
                remote: endpoint(f[5]),
                state: state.to_owned(),
                pids,
                recv_q: f[2].parse().unwrap(),
                send_q: f[3].parse().unwrap(),
            }
        })
        .collect()
}

fn json_row(v: &Value) -> Row {
    let addr = |key: &str| -> Option<IpAddr> { v[key].as_str().map(|a| a.parse().unwrap()) };
    let port = |key: &str| v[key].as_u64().map(|p| p as u16);
    Row {
        proto: v["proto"].as_str().unwrap().to_owned(),
        local: (addr("local_addr").unwrap(), port("local_port").unwrap()),
        remote: addr("remote_addr").zip(port("remote_port")),
        state: v["state"].as_str().unwrap().to_owned(),
        pids: v["pids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_u64().unwrap() as u32)
            .collect(),
        recv_q: v["recv_q"].as_u64().unwrap_or(0),
        send_q: v["send_q"].as_u64().unwrap_or(0),
    }
}

fn list_json(command: &mut Command) -> Vec<Value> {
    let out = command.output().expect("portscope runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("list --json is JSON")
}

fn portscope() -> Command {
    Command::new(env!("CARGO_BIN_EXE_portscope"))
}

fn rows_in(records: &[Value], netns: u64) -> BTreeSet<Row> {
    records
        .iter()
        .filter(|r| r["netns"].as_u64() == Some(netns))
        .map(json_row)
        .collect()
}

#[test]
fn every_namespace_is_listed_as_ss_sees_it_inside() {
    assert!(is_root(), "this test makes network namespaces");
    let unshared = [Inside::start(unshare()), Inside::start(unshare())];
    let own = fs::metadata("/proc/self/ns/net").unwrap().ino();
    let all = list_json(portscope().args(["list", "--all-namespaces", "--json"]));
    for inside in &unshared {
        let netns = inside.netns();
        assert_ne!(netns, own);
        let expected = ss_inside(inside.pid());
        assert_eq!(
            expected.len(),
            5,
            "the namespace's five sockets: {expected:#?}"
        );
        assert!(expected.iter().all(|r| r.pids == [inside.pid()]));
        assert_eq!(rows_in(&all, netns), expected, "namespace {netns}");
        let listener = all
            .iter()
            .find(|r| r["netns"].as_u64() == Some(netns) && r["state"] == "LISTEN")
            .unwrap();
        assert_eq!(
            listener["local_port"].as_u64(),
            Some(u64::from(inside.port))
        );
        assert_eq!(listener["processes"][0]["name"], "python3");
        assert!(listener["cookie"].as_u64().is_some(), "read with sock_diag");
    }
    // Without --all-namespaces: portscope's own namespace only, as `ss` without -N.
    let here = list_json(portscope().args(["list", "--json"]));
    assert!(here.iter().all(|r| r["netns"].as_u64() == Some(own)));
    for inside in &unshared {
        assert!(rows_in(&here, inside.netns()).is_empty());
    }
}

fn unshare() -> Command {
    let mut command = Command::new("unshare");
    command.arg("-n");
    command
}

/// A namespace `ip netns add` made, removed with it.
struct Named(String);

impl Named {
    fn new() -> Named {
        let name = format!("portscope-test-{}", std::process::id());
        let status = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .unwrap();
        assert!(status.success(), "ip netns add {name}");
        Named(name)
    }
}

impl Drop for Named {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

#[test]
fn a_named_namespace_shows_by_its_name_and_the_filter_finds_it() {
    assert!(is_root(), "this test makes network namespaces");
    let named = Named::new();
    let mut exec = Command::new("ip");
    exec.args(["netns", "exec", &named.0]);
    let inside = Inside::start(exec);

    let out = portscope()
        .args(["list", "-A", "--width", "200", &format!("ns:{}", named.0)])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("PROTO  CONTAINER"), "{text}");
    assert_eq!(lines.len(), 6, "a heading and five sockets:\n{text}");
    assert!(
        lines[1..]
            .iter()
            .all(|l| l.contains(&format!("namespace {}", named.0))),
        "{text}"
    );
    assert!(
        text.contains(&format!("127.0.0.1:{}", inside.port)),
        "{text}"
    );

    // `who` answers for every namespace, and says which.
    let out = portscope()
        .args(["who", &inside.port.to_string()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("(in namespace {})", named.0)),
        "{text}"
    );
    assert!(text.contains(&format!("pid {}", inside.pid())), "{text}");

    // ns:own leaves it out.
    let own = list_json(portscope().args(["list", "-A", "--json", "ns:own"]));
    assert!(rows_in(&own, inside.netns()).is_empty());
}

#[test]
fn a_user_without_privilege_sees_the_namespaces_of_their_own_processes() {
    assert!(is_root(), "this test runs parts as nobody");
    let shared = Shared::new("netns-nobody");
    // A rootless container's way: a user namespace of nobody's, with a network namespace.
    let mut rootless = as_nobody(Path::new("unshare"));
    rootless.args(["-r", "-n"]);
    let theirs = Inside::start(rootless);
    // And root's, which nobody may not look into.
    let roots = Inside::start(unshare());

    let records = list_json(as_nobody(&shared.path("portscope")).args(["list", "-A", "--json"]));
    // Read from the kernel's text tables (/proc/PID/net/*): no cookies, and no queues in the
    // records (a listener's backlog is not in those tables).
    let without_queues = |rows: BTreeSet<Row>| -> BTreeSet<Row> {
        rows.into_iter()
            .map(|r| Row {
                recv_q: 0,
                send_q: 0,
                ..r
            })
            .collect()
    };
    let expected = without_queues(ss_inside(theirs.pid()));
    assert_eq!(expected.len(), 5);
    let seen = without_queues(rows_in(&records, theirs.netns()));
    assert_eq!(seen, expected, "nobody's own namespace, as ss sees it");
    assert!(
        records
            .iter()
            .filter(|r| r["netns"].as_u64() == Some(theirs.netns()))
            .all(|r| r["cookie"].is_null() && r["recv_q"].is_null())
    );
    let listener = records
        .iter()
        .find(|r| r["netns"].as_u64() == Some(theirs.netns()) && r["state"] == "LISTEN")
        .unwrap();
    assert_eq!(
        listener["local_port"].as_u64(),
        Some(u64::from(theirs.port))
    );
    assert_eq!(listener["uid"].as_u64(), Some(u64::from(NOBODY)));
    assert!(
        rows_in(&records, roots.netns()).is_empty(),
        "root's namespace"
    );
}

/// The demo table with its first socket moved into a namespace named `blue`.
fn demo_with_a_namespace() -> portscope::model::Snapshot {
    use portscope::model::netns::NetNs;
    let mut snap = common::demo_snapshot();
    for s in &mut snap.sockets {
        s.netns = 1;
    }
    snap.sockets[0].netns = 2;
    snap.namespaces = [
        NetNs {
            inode: 1,
            own: true,
            sockets: snap.sockets.len() - 1,
            ..NetNs::default()
        },
        NetNs {
            inode: 2,
            name: Some("blue".to_owned()),
            sockets: 1,
            ..NetNs::default()
        },
    ]
    .into_iter()
    .map(|ns| (ns.inode, ns))
    .collect();
    snap
}

fn window(
    snap: portscope::model::Snapshot,
) -> egui_kittest::Harness<'static, portscope::ui::PortscopeApp> {
    use portscope::ui::{PortscopeApp, Prefs};
    let mut h = egui_kittest::Harness::builder()
        .with_size([1600.0, 800.0])
        .with_context_setup(portscope::ui::setup_context)
        .build_ui_state(
            |ui, app: &mut PortscopeApp| app.ui(ui),
            PortscopeApp::from_snapshot(snap, Prefs::default()),
        );
    h.run();
    h
}

#[test]
fn the_window_says_which_namespace_a_socket_lives_in() {
    use egui_kittest::kittest::Queryable;
    // One host's table: no namespace column.
    let h = window(common::demo_snapshot());
    assert!(h.query_by_label("Container").is_none());

    let snap = demo_with_a_namespace();
    let port = snap.sockets[0].local_port;
    let mut h = window(snap);
    h.get_by_label("Container");
    h.get_by_label("namespace blue").click();
    h.run();
    // The explanation of its port says where the socket on it lives.
    assert!(
        h.query_by_label_contains("in namespace blue").is_some(),
        "the explanation names the namespace"
    );
    assert!(
        h.query_by_label_contains("blue (net:[2]), not portscope's own")
            .is_some()
    );
    let filter = h.get_by_label("Filter");
    filter.click();
    filter.type_text("ns:blue");
    h.run();
    let ports: Vec<u16> = h.state().visible_rows().map(|s| s.local_port).collect();
    assert_eq!(ports, [port]);
    h.get_by_label("Clear").click();
    h.run();
    let filter = h.get_by_label("Filter");
    filter.click();
    filter.type_text("ns:own");
    h.run();
    assert!(h.state().visible_rows().all(|s| s.netns == 1));
    assert_eq!(h.state().visible_rows().count(), 6);
    h.get_by_label("Clear").click();
    h.run();

    // Grouped: under each namespace, its processes.
    h.get_by_label("Group by process").click();
    h.run();
    h.get_by_label("This machine's own namespace — 6 sockets");
    h.get_by_label("In namespace blue — 1 socket");
}

#[test]
fn a_connection_in_another_namespace_is_closed_in_that_namespace() {
    use portscope::collect::{OsSource, SocketSource};
    use portscope::model::{Proto, SockState};

    assert!(is_root(), "closing a connection needs root");
    let inside = Inside::start(unshare());
    let netns = inside.netns() as u32;
    let mut source = OsSource::all_namespaces().unwrap();
    let poll = source.poll().unwrap();
    let connection = poll
        .sockets
        .iter()
        .find(|s| {
            s.netns == netns
                && s.proto == Proto::Tcp
                && s.state == SockState::Established
                && s.local_port == inside.port
        })
        .expect("the namespace's accepted connection")
        .clone();
    portscope::act::close::close(&connection).expect("closed, and checked in its namespace");
    assert!(
        portscope::act::close::ss_command(&connection).contains(&format!(
            "nsenter --net=/proc/{}/ns/net ss -K",
            inside.pid()
        ))
    );
    let left = ss_inside(inside.pid());
    assert!(
        !left
            .iter()
            .any(|r| r.proto == "tcp" && r.state == "ESTABLISHED" && r.local.1 == inside.port),
        "still there: {left:#?}"
    );
    // The listener and the UDP sockets are untouched.
    assert!(
        left.iter()
            .any(|r| r.state == "LISTEN" && r.local.1 == inside.port)
    );
}

/// Connections that open and close between two polls inside another namespace are announced
/// by that namespace's kernel, and come out of the source marked with it.
#[test]
fn connections_closed_between_polls_in_another_namespace_are_announced() {
    use std::io::Write;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use portscope::collect::{OsSource, SocketSource};

    assert!(is_root(), "this test makes network namespaces");
    const CONNECTIONS: usize = 20;
    let mut child = unshare()
        .args([
            "sh",
            "-c",
            "ip link set lo up && exec python3 -c \"$0\"",
            "import socket, sys\n\
             s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n\
             print(s.getsockname()[1], flush=True)\n\
             sys.stdin.readline()\n\
             for _ in range(20):\n\
             \x20   c = socket.create_connection(s.getsockname()); a, _ = s.accept()\n\
             \x20   a.close(); c.close()\n\
             print('done', flush=True)\n\
             sys.stdin.read()\n",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let port: u16 = line.trim().parse().unwrap();
    let netns = fs::metadata(format!("/proc/{}/ns/net", child.id()))
        .unwrap()
        .ino() as u32;

    let mut source = OsSource::all_namespaces().unwrap();
    let (tx, woken) = mpsc::channel();
    source
        .watch_ended(Box::new(move || {
            let _ = tx.send(());
        }))
        .unwrap();
    // The first poll enters the namespace and starts following it.
    let poll = source.poll().unwrap();
    assert!(
        poll.sockets
            .iter()
            .any(|s| s.netns == netns && s.local_port == port)
    );

    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "go").unwrap();
    line.clear();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "done");

    let mut ends = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while ends.len() < 2 * CONNECTIONS && Instant::now() < deadline {
        let _ = woken.recv_timeout(Duration::from_millis(100));
        let batch = source.drain_ended();
        ends.extend(
            batch
                .ended
                .into_iter()
                .map(|e| e.socket)
                .filter(|s| s.local_port == port || s.remote_port == Some(port)),
        );
    }
    assert_eq!(ends.len(), 2 * CONNECTIONS, "both ends of every connection");
    assert!(ends.iter().all(|s| s.netns == netns), "{ends:#?}");
    drop(stdin);
    let _ = child.wait();
}

/// `watch --all-namespaces`: a namespace's connection that opens is reported once a poll sees
/// it, and connections that live between two polls inside it are reported closed, with
/// their namespace.
#[test]
fn watch_reports_closes_inside_other_namespaces() {
    use std::io::Write;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    assert!(is_root(), "this test makes network namespaces");
    let mut child = unshare()
        .args([
            "sh",
            "-c",
            "ip link set lo up && exec python3 -c \"$0\"",
            "import socket, sys\n\
             s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n\
             print(s.getsockname()[1], flush=True)\n\
             held = []\n\
             for line in sys.stdin:\n\
             \x20   if line.strip() == 'hold':\n\
             \x20       c = socket.create_connection(s.getsockname()); held += [c, s.accept()[0]]\n\
             \x20   elif line.strip() == 'burst':\n\
             \x20       for _ in range(20):\n\
             \x20           c = socket.create_connection(s.getsockname()); a, _ = s.accept()\n\
             \x20           a.close(); c.close()\n\
             \x20       print('done', flush=True)\n",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut stdin = child.stdin.take().unwrap();
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let port: u16 = line.trim().parse().unwrap();
    let netns = fs::metadata(format!("/proc/{}/ns/net", child.id()))
        .unwrap()
        .ino();

    /// Ends the watch however the test ends.
    struct Watch(std::process::Child);
    impl Drop for Watch {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut watch = portscope()
        .args([
            "watch",
            "--all-namespaces",
            "--json",
            "--interval",
            "0.2",
            &format!("port:{port}"),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let watch_out = BufReader::new(watch.stdout.take().unwrap());
    let _watch = Watch(watch);
    let (lines, events) = mpsc::channel::<Value>();
    std::thread::spawn(move || {
        for line in watch_out.lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str(&line)
                && lines.send(v).is_err()
            {
                return;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let next = |what: &str| -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        events
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no {what} within the deadline"))
    };

    // Connections that stay, one more at a time until one's opening shows that the watch
    // has polled and follows the namespace (sockets there before its first poll are no news).
    'watched: loop {
        writeln!(stdin, "hold").unwrap();
        let until = Instant::now() + Duration::from_millis(500);
        while let Ok(e) = events.recv_timeout(until.saturating_duration_since(Instant::now())) {
            if e["event"] == "open" && e["netns"].as_u64() == Some(netns) {
                break 'watched;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no open in the namespace was reported"
        );
    }
    writeln!(stdin, "burst").unwrap();
    line.clear();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "done");
    let mut closes = 0;
    while closes < 40 {
        let e = next("the close of every end");
        if e["event"] == "close" {
            assert_eq!(e["netns"].as_u64(), Some(netns), "{e}");
            closes += 1;
        }
    }
    drop(stdin);
    let _ = child.wait();
}
