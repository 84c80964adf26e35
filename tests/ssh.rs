//! `list --host` against a real OpenSSH server: an `sshd` this test starts on 127.0.0.1 at a
//! free port, with a host key and a user key it makes, a throwaway known_hosts, and on the
//! "remote" side a `PATH` that holds a copy of this portscope (or none, for the `ss`
//! fallback). The remote side is this machine, so what it lists can be held against a local
//! `list --json` of the same sockets, which this test opens on loopback.
//!
//! Needs Debian's `openssh-server` (`.ci/run` installs it). ssh's own shared connections are
//! off here (`ControlMaster=no`), so no background master outlives a test.

mod common;

use std::io::Read;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::sshd::{Sshd, free_port, one_at_a_time};
use serde_json::Value;

/// Sockets of this test process on loopback: a listener, a connection both ways, UDP on ::1.
struct Population {
    _listener: TcpListener,
    _client: TcpStream,
    _server: TcpStream,
    _udp: UdpSocket,
    /// The filter term that selects exactly these four (tests run side by side in one
    /// process: its PID would take the others' too).
    filter: String,
}

fn population() -> Population {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    let udp = UdpSocket::bind("[::1]:0").unwrap();
    // An earlier connection's TIME_WAIT may hold one of these ports as its local end (ssh's
    // own, to the test's sshd): not one of these sockets.
    let filter = format!(
        "lport:{},{},{} -state:time_wait",
        listener.local_addr().unwrap().port(),
        client.local_addr().unwrap().port(),
        udp.local_addr().unwrap().port()
    );
    Population {
        _listener: listener,
        _client: client,
        _server: server,
        _udp: udp,
        filter,
    }
}

fn json(output: &Output) -> Vec<Value> {
    serde_json::from_slice::<Value>(&output.stdout)
        .unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}\nstderr: {}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
        })
        .as_array()
        .cloned()
        .unwrap()
}

/// The fields of a record that say which socket it is and whose, ordered by address.
fn sockets(records: &[Value], fields: &[&str]) -> Vec<Value> {
    let mut out: Vec<Value> = records
        .iter()
        .map(|r| {
            Value::Object(
                fields
                    .iter()
                    .map(|f| ((*f).to_owned(), r[*f].clone()))
                    .collect(),
            )
        })
        .collect();
    out.sort_by_key(|v| v.to_string());
    out
}

const SAME: &[&str] = &[
    "proto",
    "local_addr",
    "local_port",
    "remote_addr",
    "remote_port",
    "state",
    "pids",
    "processes",
    "uid",
    "user",
    "owner_note",
    "cookie",
];

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_host_lists_what_this_machine_lists_with_owners() {
    let _serial = one_at_a_time();
    let sshd = Sshd::start(true);
    let sockets_here = population();
    let mine = sockets_here.filter.clone();
    let (local, _) = sshd.portscope(&["list", "--json", &mine]);
    assert!(local.status.success(), "{}", stderr(&local));
    let (remote, _) = sshd.portscope(&["list", "--host", "good", "--json", &mine]);
    assert!(remote.status.success(), "{}", stderr(&remote));
    let (local, remote) = (json(&local), json(&remote));
    assert_eq!(local.len(), 4, "{local:#?}");
    assert!(remote.iter().all(|r| r["host"] == "good"), "{remote:#?}");
    assert_eq!(sockets(&remote, SAME), sockets(&local, SAME));
    // Owners came across: this test's own process, by name and command line.
    assert!(
        remote
            .iter()
            .all(|r| r["processes"][0]["cmdline"].is_array())
    );
    // The table and CSV carry the host too.
    let (csv, _) = sshd.portscope(&["list", "--host", "good", "--csv", &mine]);
    let csv = String::from_utf8_lossy(&csv.stdout).into_owned();
    assert!(csv.starts_with("host,proto,"), "{csv}");
    assert_eq!(csv.lines().filter(|l| l.starts_with("good,")).count(), 4);
    let (table, _) = sshd.portscope(&["list", "--host", "good", &mine]);
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    assert!(table.starts_with("HOST"), "{table}");
    // host: is the host's name as given; host:local is this machine.
    let (named, _) = sshd.portscope(&["list", "--host", "good", "--json", &mine, "host:goo"]);
    assert_eq!(json(&named).len(), 4);
    let (here, _) = sshd.portscope(&["list", "--host", "good", "--json", &mine, "host:local"]);
    assert_eq!(json(&here).len(), 0);
    let (here, _) = sshd.portscope(&["list", "--json", &mine, "host:local"]);
    assert_eq!(json(&here).len(), 4);
}

#[test]
fn without_portscope_there_the_host_is_read_with_ss() {
    let _serial = one_at_a_time();
    let sshd = Sshd::start(false);
    let sockets_here = population();
    let mine = sockets_here.filter.clone();
    let (local, _) = sshd.portscope(&["list", "--json", &mine]);
    let (remote, _) = sshd.portscope(&["list", "--host", "good", "--json", &mine]);
    assert!(remote.status.success(), "{}", stderr(&remote));
    assert!(
        stderr(&remote).contains("good: portscope is not installed there: read with ss"),
        "{}",
        stderr(&remote)
    );
    let fields = &[
        "proto",
        "local_addr",
        "local_port",
        "remote_addr",
        "remote_port",
        "state",
        "pids",
        "uid",
        "user",
        "cookie",
    ];
    let (local, remote) = (json(&local), json(&remote));
    assert_eq!(local.len(), 4);
    assert_eq!(sockets(&remote, fields), sockets(&local, fields));
    let name = |r: &Value| r["processes"][0]["name"].clone();
    assert!(
        remote.iter().all(|r| name(r) == name(&local[0])),
        "{remote:#?}"
    );

    // A process whose command line holds spaces, quotes and a newline: its exact argv and
    // executable, as here.
    let script = "import socket, sys\n\
                  s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n\
                  print(s.getsockname()[1], flush=True)\n\
                  sys.stdin.read()\n";
    let argv = ["-c", script, "a b", "it's \"quoted\"", "two\nlines", ""];
    let mut server = Command::new("python3")
        .args(argv)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    let filter = format!("lport:{} state:listen", line.trim());
    let (local, _) = sshd.portscope(&["list", "--json", &filter]);
    let (remote, _) = sshd.portscope(&["list", "--host", "good", "--json", &filter]);
    drop(server.stdin.take());
    let _ = server.wait();
    let (local, remote) = (json(&local), json(&remote));
    assert_eq!((local.len(), remote.len()), (1, 1), "{remote:#?}");
    let process = |r: &Value| r["processes"][0].clone();
    // argv[0] is as the kernel has it (a pyenv shim execs python3 by its full path); the
    // rest exactly as given, the empty last argument included (which the local listing,
    // through sysinfo, drops).
    let cmdline = process(&remote[0])["cmdline"].as_array().unwrap().clone();
    assert_eq!(cmdline[0], process(&local[0])["cmdline"][0]);
    assert_eq!(
        cmdline[1..],
        serde_json::json!(argv).as_array().unwrap()[..]
    );
    assert_eq!(process(&remote[0])["exe"], process(&local[0])["exe"]);
    assert!(process(&remote[0])["exe"].is_string(), "{remote:#?}");
}

#[test]
fn each_failing_host_says_why_alone_within_the_timeout() {
    let _serial = one_at_a_time();
    let sshd = Sshd::start(true);
    // A server that takes the connection and never says a word.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let held = std::thread::spawn(move || {
        let mut kept = Vec::new();
        for stream in silent.incoming().take(1).flatten() {
            kept.push(stream);
        }
        // Hold it until the client gives up.
        for mut s in kept {
            let _ = s.read_to_end(&mut Vec::new());
        }
    });
    let common = |port: u16, key: &str, known: &str| {
        format!(
            "  HostName 127.0.0.1\n  Port {port}\n  IdentityFile {}\n  IdentitiesOnly yes\n  \
             UserKnownHostsFile {known}\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n",
            sshd.path(key).display()
        )
    };
    let known = sshd.path("known_hosts").display().to_string();
    // known_hosts that holds another key for this server: as if its key had changed.
    let other_key = std::fs::read_to_string(sshd.path("wrong_key.pub")).unwrap();
    let changed = sshd.path("changed_known_hosts");
    std::fs::write(&changed, format!("[127.0.0.1]:{} {other_key}", sshd.port)).unwrap();
    let changed = changed.display().to_string();
    sshd.write_config(&[
        ("wrongkey", common(sshd.port, "wrong_key", &known)),
        ("closed", common(free_port(), "user_key", &known)),
        ("silent", common(silent_port, "user_key", &known)),
        ("unknownkey", common(sshd.port, "user_key", "/dev/null")),
        ("changedkey", common(sshd.port, "user_key", &changed)),
    ]);
    for (host, why) in [
        ("wrongkey", "authentication failed"),
        ("closed", "connection was refused"),
        ("silent", "never answered as SSH"),
        ("unknownkey", "host key is not known"),
        ("changedkey", "host key has CHANGED"),
    ] {
        let (out, took) = sshd.portscope(&["list", "--host", "good", "--host", host, "--json"]);
        assert_eq!(out.status.code(), Some(1), "{host}: {}", stderr(&out));
        let err = stderr(&out);
        let line = err
            .lines()
            .find(|l| l.starts_with(&format!("portscope: {host}: ")))
            .unwrap_or_else(|| panic!("no line for {host}: {err}"));
        assert!(line.contains(why), "{host}: {err}");
        assert_eq!(
            err.lines().count(),
            1,
            "only the failing host says something: {err}"
        );
        assert!(took < Duration::from_secs(30), "{host} took {took:?}");
        // The good host is listed all the same.
        let records = json(&out);
        assert!(!records.is_empty() && records.iter().all(|r| r["host"] == "good"));
    }
    drop(sshd);
    let _ = held.join();
}

#[test]
fn a_host_that_looks_like_an_option_is_refused_before_ssh_runs() {
    let _serial = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let touched = dir.path().join("touched");
    let output = Command::new(env!("CARGO_BIN_EXE_portscope"))
        .args(["list", "--json"])
        .arg(format!("--host=-oProxyCommand=touch {}", touched.display()))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("is not a host"),
        "{}",
        stderr(&output)
    );
    assert!(!touched.exists());
}

/// The window's way: a `RemoteSource` on a collector thread, like the local source. Changes
/// on the host come through as the stream's deltas.
#[test]
fn a_remote_source_on_a_collector_follows_the_host() {
    use portscope::collect::remote::{Mode, RemoteSource, Timeouts};
    use portscope::collect::{Collector, SocketSource};
    use portscope::knowledge::EphemeralRange;
    let _serial = one_at_a_time();
    let sshd = Sshd::start(true);
    let ssh = sshd.ssh();
    let interval = Duration::from_millis(250);
    let source = RemoteSource::start("good", ssh, interval, Timeouts::default());
    source
        .wait_first(Duration::from_secs(20))
        .expect("the host answers");
    let status = source.status();
    assert_eq!(status.mode, Mode::Stream);
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(status.hello.unwrap().hostname, hostname.trim());
    let mut source = source;
    let live = EphemeralRange::read_live();
    let range = source.ephemeral_range();
    assert_eq!((range.start, range.end), (live.start, live.end));

    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = udp.local_addr().unwrap().port();
    let collector = Collector::spawn(Box::new(source), interval, || {}).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let has_it = |want: bool| loop {
        assert!(
            Instant::now() < deadline,
            "the host's table never {} port {port}",
            if want { "showed" } else { "lost" }
        );
        if let Some(snap) = collector.wait(Duration::from_millis(500))
            && snap.error.is_none()
            && snap
                .sockets_on_port(port)
                .any(|s| s.pids.contains(&std::process::id()))
                == want
        {
            return snap;
        }
    };
    let snap = has_it(true);
    assert_eq!(
        (snap.ephemeral.start, snap.ephemeral.end),
        (live.start, live.end)
    );
    drop(udp);
    has_it(false);
}

/// `kill --host` and `close --host` run the host's portscope over the same ssh: its checks,
/// its answer, its exit code; without portscope there, they say so.
#[test]
fn ending_a_process_and_closing_a_connection_on_a_host() {
    let _serial = one_at_a_time();
    let sshd = Sshd::start(true);
    let mut server = Command::new("python3")
        .args([
            "-c",
            "import socket, sys\n\
             s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n\
             print(s.getsockname()[1], flush=True)\n\
             sys.stdin.read()\n",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    let port = line.trim().to_owned();
    let (out, _) = sshd.portscope(&["kill", &port, "--host", "good", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains(&format!("{}", server.id())), "{said}");
    assert!(said.contains("it ended"), "{said}");
    let status = server.wait().unwrap();
    assert!(!status.success(), "ended by the signal: {status:?}");
    // Nothing there any more: the host's portscope says so, with its exit code.
    let (out, _) = sshd.portscope(&["kill", &port, "--host", "good", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Nothing listens on port"));

    // A connection on the host, closed there.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (_accepted, _) = listener.accept().unwrap();
    let end = client.local_addr().unwrap().to_string();
    let (out, _) = sshd.portscope(&["close", &end, "--host", "good", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Closed"));
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 1];
    match (&client).read(&mut buf) {
        Ok(0) => {}
        // The kernel aborts a destroyed socket (ECONNABORTED); its peer gets a reset.
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset
            ) => {}
        other => panic!("the connection is still open: {other:?}"),
    }

    drop(sshd);
    let bare = Sshd::start(false);
    let (out, _) = bare.portscope(&["kill", "1", "--host", "good", "--yes"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("good: portscope is not installed there"),
        "{}",
        stderr(&out)
    );
}

/// The window's way to act on a host: [`portscope::act::remote::run`], no terminal, a typed
/// outcome.
#[test]
fn the_library_ends_a_process_and_closes_a_connection_on_a_host() {
    use portscope::act::remote::{self, RemoteAction, RemoteOutcome};
    use portscope::act::signal::Signal;
    let _serial = one_at_a_time();
    let sshd = Sshd::start(true);
    let ssh = sshd.ssh();
    let deadline = remote::DEADLINE;

    let mut sleeper = Command::new("sleep").arg("600").spawn().unwrap();
    let end = RemoteAction::End {
        pid: sleeper.id(),
        start_time: portscope::act::signal::start_time_of(sleeper.id()),
        signal: Signal::Terminate,
    };
    match remote::run(&ssh, "good", &end, deadline) {
        RemoteOutcome::Done { message } => {
            assert!(message.contains("it ended"), "{message}");
            assert!(message.contains(&sleeper.id().to_string()), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let status = sleeper.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");

    // Beyond the kernel's largest PID: no such process, ever.
    let nobody = RemoteAction::End {
        pid: 4_194_305,
        start_time: None,
        signal: Signal::Kill,
    };
    match remote::run(&ssh, "good", &nobody, deadline) {
        RemoteOutcome::NothingMatched { message } => {
            assert!(message.contains("No process has PID 4194305"), "{message}")
        }
        other => panic!("{other:?}"),
    }

    // One connection, named by both ends and its cookie (as the host's table shows it);
    // another between the same listener and client port range stays open.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (_accepted, _) = listener.accept().unwrap();
    let other = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (_other_accepted, _) = listener.accept().unwrap();
    let (local, peer) = (client.local_addr().unwrap(), client.peer_addr().unwrap());
    let (listed, _) = sshd.portscope(&["list", "--json", &format!("lport:{}", local.port())]);
    let cookie = json(&listed)
        .iter()
        .find(|r| r["local_port"] == local.port())
        .and_then(|r| r["cookie"].as_u64())
        .expect("the client's cookie");
    let close = RemoteAction::Close {
        local,
        remote: Some(peer),
        cookie,
    };
    match remote::run(&ssh, "good", &close, deadline) {
        RemoteOutcome::Done { message } => assert!(message.contains("Closed"), "{message}"),
        other => panic!("{other:?}"),
    }
    for (stream, closed) in [(&client, true), (&other, false)] {
        stream
            .set_read_timeout(Some(Duration::from_millis(if closed { 5000 } else { 200 })))
            .unwrap();
        let mut buf = [0u8; 1];
        let got = (&*stream).read(&mut buf);
        let was_closed = match &got {
            Ok(0) => true,
            Err(e) => matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset
            ),
            Ok(_) => false,
        };
        assert_eq!(was_closed, closed, "{got:?}");
    }
    // The same connection again: gone, nothing matches.
    assert!(matches!(
        remote::run(&ssh, "good", &close, deadline),
        RemoteOutcome::NothingMatched { .. }
    ));

    drop(sshd);
    let bare = Sshd::start(false);
    assert_eq!(
        remote::run(&bare.ssh(), "good", &nobody, deadline),
        RemoteOutcome::NotInstalled
    );
}

/// A connection that moved data shows the same counters through the host as here: in
/// `list --host` (the stream's whole table) and in a `RemoteSource` that follows it (its
/// deltas) as more data moves.
#[test]
fn a_hosts_connections_carry_their_traffic_and_drops() {
    use portscope::collect::SocketSource;
    use portscope::collect::remote::{RemoteSource, Timeouts};
    use std::io::Write;
    let _serial = one_at_a_time();
    let sshd = Sshd::start(true);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    // Move N bytes each way, read to the end: then the connection is idle.
    let exchange = |client: &mut TcpStream, server: &mut TcpStream, up: usize, down: usize| {
        client.write_all(&vec![7u8; up]).unwrap();
        server.read_exact(&mut vec![0u8; up]).unwrap();
        server.write_all(&vec![9u8; down]).unwrap();
        client.read_exact(&mut vec![0u8; down]).unwrap();
    };
    exchange(&mut client, &mut server, 5000, 3000);
    let port = client.local_addr().unwrap().port();
    let filter = format!(
        "lport:{},{} -state:time_wait",
        port,
        udp.local_addr().unwrap().port()
    );
    let fields = &[
        "proto",
        "local_port",
        "remote_port",
        "cookie",
        "bytes_sent",
        "bytes_received",
        "retrans",
        "drops",
    ];
    let (local, _) = sshd.portscope(&["list", "--json", &filter]);
    let (remote, _) = sshd.portscope(&["list", "--host", "good", "--json", &filter]);
    assert!(remote.status.success(), "{}", stderr(&remote));
    let (local, remote) = (json(&local), json(&remote));
    assert_eq!(local.len(), 2, "{local:#?}");
    assert_eq!(sockets(&remote, fields), sockets(&local, fields));
    let tcp = remote.iter().find(|r| r["proto"] == "tcp").unwrap();
    assert_eq!(tcp["bytes_sent"], 5000, "{tcp:#}");
    assert_eq!(tcp["bytes_received"], 3000, "{tcp:#}");
    assert!(tcp["rtt_ms"].is_number(), "{tcp:#}");
    let udp_record = remote.iter().find(|r| r["proto"] == "udp").unwrap();
    assert_eq!(udp_record["drops"], 0, "{udp_record:#}");
    let cookie = tcp["cookie"].as_u64().unwrap();

    // Followed: more data moves, the deltas bring the new counters.
    let mut source = RemoteSource::start(
        "good",
        sshd.ssh(),
        Duration::from_millis(250),
        Timeouts::default(),
    );
    source
        .wait_first(Duration::from_secs(20))
        .expect("the host answers");
    exchange(&mut client, &mut server, 70_000, 20_000);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let sent = source
            .poll()
            .ok()
            .and_then(|p| p.traffic.get(&cookie).copied())
            .and_then(|f| f.stats.bytes_sent);
        if sent == Some(75_000) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the host's deltas never brought 75000 bytes sent: {sent:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let flow = source.poll().unwrap().traffic[&cookie];
    assert_eq!(flow.stats.bytes_received, Some(23_000));
    // The host's own rate over its interval: the 70,000 bytes came within one or two polls.
    assert!(flow.rate.is_some(), "{flow:?}");
}
