//! Servers inside the ephemeral range and safe ports: `check`, `explain`, `free` through the real
//! binary against real loopback sockets and the live ephemeral range, and the window's marker,
//! status-bar count and *Find a free port* through egui_kittest.

mod common;

use std::net::{IpAddr, Ipv4Addr, TcpListener, UdpSocket};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use portscope::knowledge::{EntryKind, EphemeralRange, iana_entries, note};
use portscope::model::{Proto, SockState, Socket};
use portscope::ui::{PortscopeApp, Prefs};
use serde_json::Value;

const RESERVED_PORTS: &str = "/proc/sys/net/ipv4/ip_local_reserved_ports";

fn portscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portscope"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json(o: &Output) -> Value {
    serde_json::from_str(&stdout(o)).expect("valid JSON")
}

fn live_range() -> EphemeralRange {
    let range = EphemeralRange::read_live();
    assert!(
        range.source.is_this_machine(),
        "the test needs the live range: {}",
        range.source.describe()
    );
    range
}

/// A listener on 127.0.0.1 at a port the OS may hand out now: inside the live range and not
/// reserved. Ports are tried from `from` up, a bounded number of them, and the listener that
/// bound is what the caller gets, so nothing can take the port in between.
fn listener_inside_the_range(from: u16) -> TcpListener {
    let range = live_range();
    (from.max(range.start)..=range.end)
        .filter(|p| range.may_hand_out(*p))
        .take(500)
        .find_map(|p| TcpListener::bind(("127.0.0.1", p)).ok())
        .expect("a free port in the ephemeral range")
}

/// The ports `check --json` lists as at risk.
fn ports_at_risk(report: &Value) -> Vec<u64> {
    report["at_risk"]
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|s| s["local_port"].as_u64())
        .collect()
}

#[test]
fn check_flags_a_listener_inside_the_range_with_its_process_and_remedy() {
    let range = live_range();
    let listener = listener_inside_the_range(range.start + (range.end - range.start) / 3);
    let port = listener.local_addr().unwrap().port();
    let me = std::process::id();

    let out = portscope(&["check"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    let line = format!("tcp LISTEN 127.0.0.1:{port}\n  held by ");
    let at = text
        .find(&line)
        .unwrap_or_else(|| panic!("{line:?} not in\n{text}"));
    let ours = &text[at..];
    assert!(ours.contains(&format!("(pid {me}")), "{ours}");
    if cfg!(target_os = "linux") {
        assert!(
            ours.contains("    sudo sysctl -w net.ipv4.ip_local_reserved_ports="),
            "{ours}"
        );
        assert!(
            ours.contains(&format!("    portscope free --near {port}\n")),
            "{ours}"
        );
    }

    let out = portscope(&["check", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    assert_eq!(report["ephemeral_start"], range.start);
    assert_eq!(report["ephemeral_end"], range.end);
    assert!(ports_at_risk(&report).contains(&u64::from(port)));
    let entry = report["at_risk"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["local_port"] == port)
        .unwrap();
    assert_eq!(entry["state"], "LISTEN");
    assert!(entry["pids"].as_array().unwrap().contains(&Value::from(me)));
    let reserve = entry["remedy"][0]["command"].as_str().unwrap_or_default();
    if cfg!(target_os = "linux") {
        assert!(
            reserve.starts_with("sudo sysctl -w net.ipv4.ip_local_reserved_ports=")
                && reserve.ends_with(&port.to_string()),
            "{reserve}"
        );
    }

    // explain --json carries the risk and this OS's reservation command.
    let out = portscope(&["explain", &port.to_string(), "--json"]);
    assert!(out.status.success());
    let v = json(&out);
    assert_eq!(v["ephemeral_risk"]["listeners"], 1);
    assert!(
        v["ephemeral_risk"]["explanation"]
            .as_str()
            .is_some_and(|t| t.contains("EADDRINUSE")),
        "{v}"
    );
    assert_eq!(v["reserve_commands"][0]["command"], reserve);
    assert_eq!(v["as_new_service"]["good"], false);
    drop(listener);

    // The port is no longer held: not at risk any more.
    let out = portscope(&["check", "--json"]);
    assert!(!ports_at_risk(&json(&out)).contains(&u64::from(port)));
}

/// Adds a port to the kernel's reserved list and puts the list back when dropped.
struct Reserved {
    before: String,
}

impl Reserved {
    fn add(port: u16) -> Reserved {
        let before = std::fs::read_to_string(RESERVED_PORTS).expect("reserved ports readable");
        let list = match before.trim() {
            "" => port.to_string(),
            old => format!("{old},{port}"),
        };
        std::fs::write(RESERVED_PORTS, format!("{list}\n")).expect("reserved ports writable");
        Reserved { before }
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        let _ = std::fs::write(RESERVED_PORTS, format!("{}\n", self.before.trim()));
    }
}

#[test]
fn a_reserved_port_is_not_flagged() {
    if !common::users::is_root() {
        eprintln!("skipped: writing {RESERVED_PORTS} needs root");
        return;
    }
    let range = live_range();
    let listener = listener_inside_the_range(range.start + 2 * (range.end - range.start) / 3);
    let port = listener.local_addr().unwrap().port();
    let arg = port.to_string();
    // Flagged before the reservation, ...
    assert!(ports_at_risk(&json(&portscope(&["check", "--json"]))).contains(&u64::from(port)));
    {
        let _reserved = Reserved::add(port);
        // ... not while the port is reserved, ...
        assert!(!ports_at_risk(&json(&portscope(&["check", "--json"]))).contains(&u64::from(port)));
        let v = json(&portscope(&["explain", &arg, "--json"]));
        assert_eq!(v["ephemeral"]["reserved"], true);
        assert_eq!(v["ephemeral_risk"], Value::Null);
        assert_eq!(v["reserve_commands"], Value::Array(Vec::new()));
    }
    // ... and again once the list is back as it was.
    let after = std::fs::read_to_string(RESERVED_PORTS).unwrap_or_default();
    assert!(!after.split(',').any(|p| p.trim() == arg), "{after}");
    assert!(ports_at_risk(&json(&portscope(&["check", "--json"]))).contains(&u64::from(port)));
}

fn free_ports(args: &[&str]) -> Vec<u16> {
    let out = portscope(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(&out)
        .lines()
        .map(|l| l.parse().expect("a port a line"))
        .collect()
}

/// A good port: outside the live range and the reserved list, no IANA assignment or
/// reservation for any transport, no habitual use in the notes, at least 1024.
fn assert_good(port: u16, range: &EphemeralRange) {
    assert!(port >= 1024, "{port}");
    assert!(!range.contains(port), "{port} is in the ephemeral range");
    assert!(!range.is_reserved(port), "{port} is reserved");
    let entries = iana_entries(port, None);
    assert!(
        entries.iter().all(|e| e.kind == EntryKind::Unassigned),
        "{port}: {entries:?}"
    );
    assert!(note(port, None).is_none(), "{port}");
}

#[test]
fn free_gives_ports_that_bind_at_once_outside_the_range_and_the_registry() {
    let range = live_range();
    let ports = free_ports(&["free", "--count", "5"]);
    assert_eq!(ports.len(), 5);
    let mut distinct = ports.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 5);
    // Each binds, all five held at once, on every address.
    let held: Vec<TcpListener> = ports
        .iter()
        .map(|p| TcpListener::bind(("0.0.0.0", *p)).unwrap_or_else(|e| panic!("{p}: {e}")))
        .collect();
    for port in &ports {
        assert_good(*port, &range);
    }
    drop(held);

    // UDP, near a port inside the range: the nearest good ports, outward.
    let near = range.start + 100;
    let ports = free_ports(&["free", "-n", "3", "--udp", "--near", &near.to_string()]);
    assert_eq!(ports.len(), 3);
    let held: Vec<UdpSocket> = ports
        .iter()
        .map(|p| UdpSocket::bind(("0.0.0.0", *p)).unwrap_or_else(|e| panic!("{p}: {e}")))
        .collect();
    for port in &ports {
        assert_good(*port, &range);
    }
    let distance = |p: &u16| p.abs_diff(near);
    assert!(ports.iter().map(distance).is_sorted(), "{ports:?}");
    drop(held);

    // JSON, and a port this test holds is never offered.
    let first = free_ports(&["free"])[0];
    let holder = TcpListener::bind(("127.0.0.1", first)).expect("the free port binds");
    let out = portscope(&["free", "--json", "--near", &first.to_string()]);
    let offered: Vec<u16> = serde_json::from_str(&stdout(&out)).expect("a JSON array");
    assert_eq!(offered.len(), 1);
    assert_ne!(offered[0], first);
    drop(holder);

    for bad in [
        &["free", "--count", "0"][..],
        &["free", "--tcp", "--udp"],
        &["free", "--near", "70000"],
    ] {
        assert_eq!(portscope(bad).status.code(), Some(2), "{bad:?}");
    }
}

#[test]
fn explain_covers_sctp_and_dccp_and_dates_the_registry() {
    let v = json(&portscope(&["explain", "22", "--sctp", "--json"]));
    assert_eq!(v["transport"], "sctp");
    let iana = v["iana"].as_array().expect("entries");
    assert!(iana.iter().all(|e| e["transport"] == "sctp"), "{v}");
    assert!(iana.iter().any(|e| e["service_name"] == "ssh"), "{v}");
    // The date is the file's newest, as assets/README.md records it.
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/README.md"))
        .expect("assets/README.md");
    let newest = readme
        .lines()
        .find_map(|l| l.strip_prefix("| Newest entry | "))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the README's newest-entry row");
    assert_eq!(v["registry_date"], newest);

    let text = stdout(&portscope(&["explain", "9", "--dccp"]));
    assert!(
        text.starts_with("Port 9/dccp is a well-known port"),
        "{text}"
    );
    assert!(text.contains("  discard — 9/dccp\n"), "{text}");
    assert!(
        text.contains(&format!(
            "IANA registry: 1 entry (registry data as of {newest})"
        )),
        "{text}"
    );
    assert_eq!(
        portscope(&["explain", "9", "--udp", "--dccp"])
            .status
            .code(),
        Some(2)
    );
}

fn harness(app: PortscopeApp) -> Harness<'static, PortscopeApp> {
    let mut h = Harness::builder()
        .with_size([1280.0, 800.0])
        .with_context_setup(portscope::ui::setup_context)
        .build_ui_state(|ui, app: &mut PortscopeApp| app.ui(ui), app);
    h.run();
    h
}

/// The demo machine with a dev server (PID 1200) listening on 0.0.0.0:35729, inside Linux's
/// default range 32768–60999.
fn machine_with_a_server_at_risk() -> portscope::model::Snapshot {
    let mut snap = common::demo_snapshot();
    snap.ephemeral = EphemeralRange::from_linux_sysctl(Ok("32768 60999".into()), Ok("\n".into()));
    snap.sockets.push(Socket {
        host: 0,
        proto: Proto::Tcp,
        local_addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        local_port: 35729,
        remote_addr: None,
        remote_port: None,
        state: SockState::Listen,
        pids: [1200][..].into(),
        uid: Some(33),
        inode: Some(99),
        cookie: 0,
        recv_q: 0,
        send_q: 128,
        netns: 0,
    });
    snap
}

#[test]
fn the_window_marks_the_server_counts_it_and_filters_to_it() {
    let mut h = harness(PortscopeApp::from_snapshot(
        machine_with_a_server_at_risk(),
        Prefs::default(),
    ));
    // One marker: the demo's other sockets in the range are a connection and a TIME_WAIT.
    assert_eq!(h.query_all_by_label("!").count(), 1);
    h.get_by_label("35729");
    let marker = h.get_by_label("!");
    marker.hover();
    h.run();
    h.get_by_label_contains("Inside the ephemeral range 32768–60999: while this server is down");

    let rows = |h: &Harness<'_, PortscopeApp>| -> Vec<u16> {
        h.state().visible_rows().map(|s| s.local_port).collect()
    };
    assert_eq!(rows(&h).len(), 8);
    h.get_by_label("1 service listens inside the ephemeral range")
        .click();
    h.run();
    assert_eq!(h.state().prefs().filter, "risk:ephemeral");
    assert_eq!(rows(&h), [35729]);

    // Its explanation: the risk, how full the range is, and the remedy with Copy.
    h.get_by_label("35729").click();
    h.run();
    h.get_by_label("This server may find its port taken");
    // 51000, 60296 and 35729: the gauge above the table says the same.
    h.get_by_label_contains("Ports of the range in use now: 3 of 28232 (0.0%)");
    h.get_by_label_contains("ephemeral ports in use: 3 of 28232");
    h.get_by_label("Remedy on this OS");
    if cfg!(target_os = "linux") {
        h.get_by_label("sudo sysctl -w net.ipv4.ip_local_reserved_ports=35729");
    }
    h.get_by_label_contains("Not a good choice for a new service: it lies inside the ephemeral");
}

#[test]
fn without_a_server_at_risk_there_is_no_count_and_no_marker() {
    let h = harness(PortscopeApp::from_snapshot(
        common::demo_snapshot(),
        Prefs::default(),
    ));
    assert!(
        h.query_by_label_contains("inside the ephemeral range")
            .is_none()
    );
    assert!(h.query_by_label("!").is_none());
}

#[test]
fn find_a_free_port_explains_a_port_that_binds() {
    let range = live_range();
    let mut snap = common::demo_snapshot();
    snap.ephemeral = range.clone();
    let mut h = harness(PortscopeApp::from_snapshot(snap, Prefs::default()));
    h.get_by_label("Find a free port").click();
    // The search binds ports on a worker thread (a spinner meanwhile): wait for it, boundedly.
    let deadline = Instant::now() + Duration::from_secs(20);
    while h.state().explained_port().is_none() {
        assert!(Instant::now() < deadline, "no port found in time");
        std::thread::sleep(Duration::from_millis(20));
        h.step();
    }
    h.run();
    let port = h.state().explained_port().unwrap_or_default();
    assert_good(port, &range);
    TcpListener::bind(("0.0.0.0", port)).expect("the port found binds");
    h.get_by_label_contains("Nothing uses it now. A good choice for a new service");
}

#[test]
fn the_panel_shows_a_tcp_port_s_sctp_registration_and_the_registry_date() {
    let mut h = harness(PortscopeApp::from_snapshot(
        common::demo_snapshot(),
        Prefs::default(),
    ));
    // sshd's row: a TCP socket, so the explanation is for TCP; SCTP's ssh is there too.
    h.get_by_label("22").click();
    h.run();
    assert_eq!(h.state().explained_port(), Some(22));
    h.get_by_label("ssh (22/tcp)");
    h.get_by_label("ssh (22/sctp)");
    h.get_by_label_contains("Registry data as of ");
}
