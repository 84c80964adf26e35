//! portscope against `ss`, socket by socket (Linux).
//!
//! A population built by the test — IPv4, IPv6, dual-stack and `::ffff:`-mapped listeners,
//! connected and unconnected UDP (v4 and v6), TCP pairs whose ends are in two processes,
//! connections left in a listener's queue, a TIME_WAIT — runs in two processes: the server
//! as user `nobody` (when the test runs as root) and the client as the test's user. Then:
//!
//! - `portscope list --json` and `ss -tanupeH` must list the same sockets (tuple, state), with
//!   the same owning PIDs and the same uid;
//! - while a third process opens and closes connections all the time, every socket of the
//!   population must be listed with its owner on every one of 20 polls of one source;
//! - run as `nobody`, portscope shows that user's sockets with their owners, says why the
//!   others have none, and exits 0.
//!
//! Loopback only. The population script is `tests/population.py`.

#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Lines};
use std::net::IpAddr;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};

use common::users::{NOBODY, Shared, as_nobody, is_root, python};
use portscope::collect::{OsSource, SocketSource};
use portscope::model::{Proto, SockState};
use serde_json::Value;

/// What the population script holds: 5 listeners, 5 UDP sockets, 1 TIME_WAIT, 60 pairs and
/// 3 queued connections (both ends each).
const POPULATION: usize = 5 + 5 + 1 + 60 * 2 + 3 * 2;

/// The tests take turns: each builds a population of 137 sockets and counts it exactly.
static TAKE_TURNS: Mutex<()> = Mutex::new(());

fn my_turn() -> MutexGuard<'static, ()> {
    TAKE_TURNS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A child process of the population, killed when dropped.
struct Role {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Role {
    fn start(mut command: Command) -> Role {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the population script starts");
        let stdout = child.stdout.take().unwrap();
        Role {
            child,
            lines: BufReader::new(stdout).lines(),
        }
    }

    fn line(&mut self) -> String {
        self.lines
            .next()
            .expect("the population script says it is ready")
            .unwrap()
    }

    /// The PID of the process holding the sockets: through `setpriv` it is the same process.
    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Population {
    shared: Shared,
    server: Role,
    client: Role,
    ports: BTreeMap<String, u16>,
}

impl Population {
    fn start(tag: &str) -> Population {
        let shared = Shared::new(tag);
        let mut server = as_nobody(&python());
        server.arg(shared.path("population.py")).arg("server");
        let mut server = Role::start(server);
        let ports_json = server.line();
        let ports: BTreeMap<String, u16> = serde_json::from_str(&ports_json).unwrap();
        let mut client = Command::new(python());
        client
            .arg(shared.path("population.py"))
            .args(["client", &ports_json]);
        let mut client = Role::start(client);
        assert_eq!(client.line(), "connected");
        assert_eq!(server.line(), "accepted");
        Population {
            shared,
            server,
            client,
            ports,
        }
    }

    fn port(&self, name: &str) -> u16 {
        self.ports[name]
    }

    fn server_uid(&self) -> u32 {
        if is_root() {
            NOBODY
        } else {
            // SAFETY: geteuid only reads the process's credentials.
            unsafe { libc::geteuid() }
        }
    }

    /// Whether a socket is one of the population's. By protocol and port, on loopback: other
    /// processes' sockets may have the same port numbers in the other protocol, and the
    /// TIME_WAIT's port (an ephemeral one) may be taken again by an unrelated connection.
    fn holds(&self, socket: &Row) -> bool {
        const TCP: [&str; 5] = ["pairs", "queue", "v6", "dual", "mapped"];
        const UDP: [&str; 5] = [
            "udp4",
            "udp6",
            "udp4_connected",
            "udp6_connected",
            "udp_drops",
        ];
        let looped = |addr: &IpAddr| {
            addr.is_loopback() || addr.to_canonical().is_loopback() || addr.is_unspecified()
        };
        let on = |names: &[&str], addr: &IpAddr, port: u16| {
            looped(addr) && names.iter().any(|name| self.ports[*name] == port)
        };
        let (local, remote) = (&socket.local, &socket.remote);
        match socket.proto {
            "tcp" => {
                on(&TCP, &local.0, local.1)
                    || remote.as_ref().is_some_and(|(a, p)| on(&TCP, a, *p))
                    || (socket.state == "TIME_WAIT" && on(&["time_wait"], &local.0, local.1))
            }
            _ => on(&UDP, &local.0, local.1),
        }
    }
}

/// One socket as both tools can say it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    proto: &'static str,
    local: (IpAddr, u16),
    remote: Option<(IpAddr, u16)>,
    /// In portscope's words.
    state: String,
    pids: Vec<u32>,
    /// As `ss` prints it: only when not 0.
    uid: u32,
    recv_q: u32,
    send_q: u32,
    /// A TCP connection's counters, 0 where `ss` prints none (it leaves out zeros).
    bytes_sent: u64,
    bytes_received: u64,
    retrans: u64,
    /// Smoothed round-trip time, microseconds.
    rtt_us: Option<u64>,
    /// A UDP socket's drop counter (`d` in `ss -m`'s `skmem`); none for TCP.
    drops: Option<u64>,
}

/// portscope's state names for `ss`'s.
fn state_from_ss(proto: &str, state: &str) -> String {
    match (proto, state) {
        ("udp", "UNCONN") => "UNCONN",
        ("udp", "ESTAB") => "ESTABLISHED",
        ("tcp", "UNCONN") => "BOUND",
        (_, "ESTAB") => "ESTABLISHED",
        (_, "SYN-SENT") => "SYN_SENT",
        (_, "SYN-RECV") => "SYN_RECV",
        (_, "FIN-WAIT-1") => "FIN_WAIT1",
        (_, "FIN-WAIT-2") => "FIN_WAIT2",
        (_, "TIME-WAIT") => "TIME_WAIT",
        (_, "CLOSE-WAIT") => "CLOSE_WAIT",
        (_, "LAST-ACK") => "LAST_ACK",
        (_, "LISTEN") => "LISTEN",
        (_, "CLOSING") => "CLOSING",
        (_, other) => panic!("a state ss names {other}"),
    }
    .to_owned()
}

/// `127.0.0.1:80`, `[::1]:80`, `*:80`, `0.0.0.0:*`, `127.0.0.1%lo:80` as `ss -n` prints them.
fn ss_endpoint(text: &str) -> Option<(IpAddr, u16)> {
    let (addr, port) = text.rsplit_once(':').unwrap();
    let port: u16 = match port {
        "*" => return None,
        port => port.parse().unwrap(),
    };
    let addr = addr.trim_start_matches('[').trim_end_matches(']');
    let addr = addr.split('%').next().unwrap();
    let addr: IpAddr = if addr == "*" {
        IpAddr::from([0u16; 8])
    } else {
        addr.parse().unwrap()
    };
    Some((addr, port))
}

/// `name:value` in `ss`'s details, the value up to `/` (`rtt:0.013/0.007`, `retrans:0/2`).
fn ss_detail<'a>(fields: &[&'a str], name: &str, part: usize) -> Option<&'a str> {
    fields
        .iter()
        .find_map(|f| f.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|v| v.split('/').nth(part))
}

/// The drop counter in `ss -m`'s `skmem:(r0,rb2304,t0,tb212992,f0,w0,o0,bl0,d96)`.
fn ss_drops(fields: &[&str]) -> Option<u64> {
    let skmem = fields.iter().find_map(|f| f.strip_prefix("skmem:("))?;
    skmem
        .trim_end_matches(')')
        .split(',')
        .find_map(|item| item.strip_prefix('d')?.parse().ok())
}

/// Every TCP and UDP socket, as `ss -tanupeimH` lists them (with `-i`, each TCP socket's
/// details continue on a line of their own, indented).
fn ss_rows() -> Vec<Row> {
    let out = Command::new("ss")
        .arg("-tanupeimH")
        .output()
        .expect("ss runs (package iproute2)");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines: Vec<String> = Vec::new();
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        match lines.last_mut() {
            Some(last) if line.starts_with(char::is_whitespace) => {
                last.push(' ');
                last.push_str(line);
            }
            _ => lines.push(line.to_owned()),
        }
    }
    lines
        .iter()
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let proto = match fields[0] {
                "tcp" => "tcp",
                "udp" => "udp",
                other => panic!("ss listed a {other} socket"),
            };
            let rest = fields[6..].join(" ");
            let mut pids: Vec<u32> = rest
                .split("pid=")
                .skip(1)
                .map(|p| p.split(',').next().unwrap().parse().unwrap())
                .collect();
            pids.sort_unstable();
            pids.dedup();
            let uid = fields[6..]
                .iter()
                .find_map(|f| f.strip_prefix("uid:"))
                .map_or(0, |uid| uid.parse().unwrap());
            let number = |name: &str, part: usize| -> u64 {
                ss_detail(&fields, name, part).map_or(0, |v| v.parse().unwrap())
            };
            Row {
                proto,
                local: ss_endpoint(fields[4]).unwrap(),
                remote: ss_endpoint(fields[5]),
                state: state_from_ss(proto, fields[1]),
                pids,
                uid,
                recv_q: fields[2].parse().unwrap(),
                send_q: fields[3].parse().unwrap(),
                bytes_sent: number("bytes_sent", 0),
                bytes_received: number("bytes_received", 0),
                retrans: number("retrans", 1),
                rtt_us: ss_detail(&fields, "rtt", 0)
                    .map(|ms| (ms.parse::<f64>().unwrap() * 1000.0).round() as u64),
                drops: (proto == "udp").then(|| ss_drops(&fields).unwrap()),
            }
        })
        .collect()
}

/// A socket of `portscope list --json`.
fn json_row(v: &Value) -> Row {
    let addr = |key: &str| -> Option<IpAddr> { v[key].as_str().map(|a| a.parse().unwrap()) };
    let port = |key: &str| -> Option<u16> { v[key].as_u64().map(|p| p as u16) };
    Row {
        proto: if v["proto"] == "tcp" { "tcp" } else { "udp" },
        local: (addr("local_addr").unwrap(), port("local_port").unwrap()),
        remote: addr("remote_addr").zip(port("remote_port")),
        state: v["state"].as_str().unwrap().to_owned(),
        pids: v["pids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_u64().unwrap() as u32)
            .collect(),
        // `ss` prints no uid for 0, nor for the kernel's mini sockets, which have none.
        uid: v["uid"].as_u64().map_or(0, |uid| uid as u32),
        recv_q: v["recv_q"].as_u64().unwrap() as u32,
        send_q: v["send_q"].as_u64().unwrap() as u32,
        bytes_sent: v["bytes_sent"].as_u64().unwrap_or(0),
        bytes_received: v["bytes_received"].as_u64().unwrap_or(0),
        retrans: v["retrans"].as_u64().unwrap_or(0),
        rtt_us: v["rtt_ms"].as_f64().map(|ms| (ms * 1000.0).round() as u64),
        drops: v["drops"].as_u64(),
    }
}

fn portscope_json(command: &mut Command) -> Vec<Value> {
    let out = command
        .args(["list", "--json"])
        .output()
        .expect("portscope runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("list --json is JSON")
}

fn sorted(mut rows: Vec<Row>) -> Vec<Row> {
    rows.sort();
    rows
}

#[test]
fn portscope_and_ss_list_the_same_sockets_owners_and_users() {
    let _turn = my_turn();
    let population = Population::start("ss");
    let json = portscope_json(&mut Command::new(env!("CARGO_BIN_EXE_portscope")));
    let ss = sorted(
        ss_rows()
            .into_iter()
            .filter(|r| population.holds(r))
            .collect(),
    );
    let ours = sorted(
        json.iter()
            .map(json_row)
            .filter(|r| population.holds(r))
            .collect(),
    );
    assert_eq!(
        ss.len(),
        POPULATION,
        "ss sees the whole population: {ss:#?}"
    );
    for (theirs, mine) in ss.iter().zip(&ours) {
        assert_eq!(mine, theirs);
    }
    assert_eq!(ours, ss);

    // What each group is, beyond what ss says.
    let (server, client) = (population.server.pid(), population.client.pid());
    let by_local_port = |port: u16| -> Vec<&Value> {
        json.iter()
            .filter(|v| v["local_port"].as_u64() == Some(u64::from(port)))
            .collect()
    };
    for name in ["pairs", "queue", "v6", "dual", "mapped", "udp4", "udp6"] {
        let listener = by_local_port(population.port(name))
            .into_iter()
            .find(|v| v["remote_addr"].is_null())
            .unwrap_or_else(|| panic!("{name} listed"));
        assert_eq!(listener["pids"], serde_json::json!([server]), "{name}");
        assert_eq!(listener["uid"], population.server_uid(), "{name}");
    }
    for name in ["udp4_connected", "udp6_connected"] {
        let connected = by_local_port(population.port(name));
        assert_eq!(connected.len(), 1);
        assert_eq!(connected[0]["state"], "ESTABLISHED", "{name}");
        assert!(connected[0]["remote_port"].is_u64(), "{name} has its peer");
    }
    // The flooded UDP socket dropped most of what it was sent; ss's count matched above.
    let flooded = by_local_port(population.port("udp_drops"));
    assert_eq!(flooded.len(), 1);
    let drops = flooded[0]["drops"].as_u64().expect("drops counted");
    assert!(
        drops > 50 && drops < 100,
        "{drops} of 100 datagrams dropped"
    );
    let queued: Vec<&Value> = by_local_port(population.port("queue"))
        .into_iter()
        .filter(|v| v["state"] == "ESTABLISHED")
        .collect();
    assert_eq!(queued.len(), 3);
    for v in queued {
        assert_eq!(v["pids"], serde_json::json!([]));
        let note = v["owner_note"].as_str().unwrap();
        assert!(
            note.contains(&format!("waiting to be accepted by PID {server}")),
            "{note}"
        );
    }
    // An ephemeral port: another connection may have it too.
    let time_wait: Vec<&Value> = by_local_port(population.port("time_wait"))
        .into_iter()
        .filter(|v| v["state"] == "TIME_WAIT")
        .collect();
    assert_eq!(time_wait.len(), 1);
    assert_eq!(time_wait[0]["state"], "TIME_WAIT");
    assert!(time_wait[0]["uid"].is_null(), "the kernel's, no user's");
    assert!(time_wait[0]["user"].is_null());
    let clients = json
        .iter()
        .filter(|v| v["remote_port"].as_u64() == Some(u64::from(population.port("pairs"))))
        .filter(|v| v["pids"] == serde_json::json!([client]))
        .count();
    assert_eq!(clients, 60);
}

#[test]
fn every_socket_keeps_its_owner_on_every_poll_while_others_come_and_go() {
    let _turn = my_turn();
    let population = Population::start("churn");
    let expected = sorted(
        ss_rows()
            .into_iter()
            .filter(|r| population.holds(r))
            .collect(),
    );
    assert_eq!(expected.len(), POPULATION);
    let mut churn = Command::new(python());
    churn
        .arg(population.shared.path("population.py"))
        .arg("churn");
    let mut churn = Role::start(churn);
    let churn_port: BTreeMap<String, u16> = serde_json::from_str(&churn.line()).unwrap();
    assert!(churn_port.contains_key("churn"));

    let mut source = OsSource::new().expect("a live source");
    for round in 0..20 {
        let poll = source.poll().expect("a poll of the live machine");
        let rows = sorted(
            poll.sockets
                .iter()
                .map(|s| {
                    let stats = poll.traffic.get(&s.cookie).map(|f| f.stats);
                    Row {
                        proto: match s.proto {
                            Proto::Tcp => "tcp",
                            Proto::Udp => "udp",
                        },
                        local: (s.local_addr, s.local_port),
                        remote: s.remote_addr.zip(s.remote_port),
                        state: s.state.as_str().to_owned(),
                        pids: s.pids.to_vec(),
                        uid: s.uid.unwrap_or(0),
                        recv_q: s.recv_q,
                        send_q: s.send_q,
                        bytes_sent: stats.and_then(|t| t.sent()).unwrap_or(0),
                        bytes_received: stats.and_then(|t| t.bytes_received).unwrap_or(0),
                        retrans: stats.map_or(0, |t| u64::from(t.retrans)),
                        rtt_us: stats.map(|t| u64::from(t.rtt_us)),
                        drops: poll.drops.get(&s.cookie).map(|d| u64::from(*d)),
                    }
                })
                .filter(|r| population.holds(r))
                .collect(),
        );
        assert_eq!(rows, expected, "poll {round}");
        // The population's TIME_WAIT stays one. (The churn's connections may take the same
        // local port to another peer: those are not it.)
        assert!(
            poll.sockets
                .iter()
                .filter(|s| s.local_port == population.port("time_wait"))
                .filter(|s| s
                    .remote_port
                    .is_some_and(|p| population.ports.values().any(|v| *v == p)))
                .all(|s| s.state == SockState::TimeWait)
        );
    }
    drop(churn);
}

#[test]
fn an_unprivileged_user_sees_its_own_owners_and_why_others_have_none() {
    let _turn = my_turn();
    let population = Population::start("nobody");
    let json = portscope_json(&mut as_nobody(&population.shared.path("portscope")));
    let server = population.server.pid();
    let mine: Vec<&Value> = json
        .iter()
        .filter(|v| v["local_port"].as_u64() == Some(u64::from(population.port("pairs"))))
        .filter(|v| v["state"] == "LISTEN")
        .collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["pids"], serde_json::json!([server]));
    let clients: Vec<&Value> = json
        .iter()
        .filter(|v| v["remote_port"].as_u64() == Some(u64::from(population.port("pairs"))))
        .collect();
    assert_eq!(clients.len(), 60);
    for v in clients {
        if is_root() {
            // The client runs as root: its owner is not nobody's to see.
            assert_eq!(v["pids"], serde_json::json!([]));
            let note = v["owner_note"].as_str().unwrap();
            assert!(note.contains("root"), "{note}");
            assert_eq!(v["uid"], 0);
        } else {
            assert_eq!(v["pids"], serde_json::json!([population.client.pid()]));
        }
    }
    // The TIME_WAIT's local port is an ephemeral one: another connection may have it too.
    let time_wait: Vec<&Value> = json
        .iter()
        .filter(|v| {
            v["local_port"].as_u64() == Some(u64::from(population.port("time_wait")))
                && v["state"] == "TIME_WAIT"
        })
        .collect();
    assert_eq!(time_wait.len(), 1);
    assert!(
        time_wait[0]["owner_note"]
            .as_str()
            .unwrap()
            .contains("TIME_WAIT")
    );
}
