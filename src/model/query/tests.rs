//! The filter language's tests: parsing, matching, errors, row texts.

use super::parse::*;
use super::texts::*;
use super::*;
use crate::knowledge::EphemeralRange;
use crate::model::{ProcessInfo, Proto, Snapshot, SockState, Socket};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

/// `text` parsed as a query; the test fails if it does not parse.
fn parsed(text: &str) -> Query {
    match parse(text) {
        Ok(q) => q,
        Err(e) => panic!("{text:?} does not parse: {e}"),
    }
}

fn v6(text: &str) -> IpAddr {
    match text.parse::<Ipv6Addr>() {
        Ok(addr) => IpAddr::V6(addr),
        Err(e) => panic!("{text} is not an IPv6 address: {e}"),
    }
}

struct Row {
    proto: Proto,
    local: (IpAddr, u16),
    remote: Option<(IpAddr, u16)>,
    state: SockState,
    pids: Vec<u32>,
    uid: Option<u32>,
}

fn socket(row: Row) -> Socket {
    Socket {
        host: 0,
        proto: row.proto,
        local_addr: row.local.0,
        local_port: row.local.1,
        remote_addr: row.remote.map(|r| r.0),
        remote_port: row.remote.map(|r| r.1),
        state: row.state,
        pids: row.pids.into(),
        uid: row.uid,
        inode: Some(1),
        cookie: 0,
        recv_q: 0,
        send_q: 0,
        netns: 0,
    }
}

fn process(pid: u32, name: &str, cmdline: &[&str], uid: u32, user: &str) -> ProcessInfo {
    ProcessInfo {
        pid,
        name: name.to_owned(),
        exe: None,
        cmdline: cmdline.iter().map(|a| (*a).to_owned()).collect(),
        uid: Some(uid),
        user: Some(user.to_owned()),
        parent_pid: None,
        start_time: None,
    }
}

/// Every socket has its own local port, so a list of local ports names the rows.
fn snapshot() -> Snapshot {
    use Proto::{Tcp, Udp};
    use SockState::*;
    let rows = vec![
        Row {
            proto: Tcp,
            local: (v4(127, 0, 0, 1), 8080),
            remote: None,
            state: Listen,
            pids: [20][..].into(),
            uid: Some(0),
        },
        Row {
            proto: Tcp,
            local: (v6("::1"), 22),
            remote: None,
            state: Listen,
            pids: [10][..].into(),
            uid: Some(0),
        },
        Row {
            proto: Udp,
            local: (v4(10, 0, 0, 2), 443),
            remote: None,
            state: Unconn,
            pids: Default::default(),
            uid: Some(1001),
        },
        Row {
            proto: Tcp,
            local: (v4(0, 0, 0, 0), 80),
            remote: None,
            state: Listen,
            pids: [30, 31][..].into(),
            uid: Some(33),
        },
        Row {
            proto: Tcp,
            local: (v4(192, 168, 1, 5), 51000),
            remote: Some((v4(93, 184, 216, 34), 443)),
            state: Established,
            pids: [40][..].into(),
            uid: Some(1001),
        },
        Row {
            proto: Tcp,
            local: (v4(192, 168, 1, 5), 40000),
            remote: Some((v4(10, 1, 2, 3), 8443)),
            state: TimeWait,
            pids: Default::default(),
            uid: None,
        },
        Row {
            proto: Tcp,
            local: (v6("::"), 9000),
            remote: None,
            state: Listen,
            pids: [50][..].into(),
            uid: None,
        },
        Row {
            proto: Udp,
            local: (v6("fe80::1"), 5353),
            remote: None,
            state: Unconn,
            pids: [60][..].into(),
            uid: Some(105),
        },
        Row {
            proto: Tcp,
            local: (v6("::ffff:10.0.0.9"), 3000),
            remote: Some((v6("::ffff:10.0.0.7"), 50000)),
            state: Established,
            pids: [70][..].into(),
            uid: Some(1002),
        },
    ];
    let mut snap = Snapshot {
        seq: 1,
        sockets: rows.into_iter().map(socket).collect(),
        ephemeral: EphemeralRange::from_linux_sysctl(
            Ok("32768 60999".to_owned()),
            Ok(String::new()),
        ),
        ..Snapshot::default()
    };
    for p in [
        process(10, "sshd", &["/usr/sbin/sshd", "-D"], 0, "root"),
        process(20, "Python3", &["python3", "-m", "http.server"], 0, "root"),
        process(30, "nginx", &["nginx: master process"], 33, "www-data"),
        process(
            31,
            "nginx",
            &["/usr/sbin/nginx", "-c", "/etc/My Conf/nginx.conf"],
            33,
            "www-data",
        ),
        process(40, "firefox", &["/usr/lib/firefox/firefox"], 1001, "alice"),
        process(
            50,
            "My Server",
            &["my-server", "--port", "9000"],
            1002,
            "Bob",
        ),
        process(60, "avahi-daemon", &[], 105, "avahi"),
        process(70, "node", &["node", "dev.js"], 1002, "bob"),
    ] {
        snap.processes.insert(p.pid, p);
    }
    if let Some(p) = snap.processes.get_mut(&60) {
        p.exe = Some("/usr/sbin/avahi-daemon".to_owned());
    }
    for (uid, name) in [
        (0, "root"),
        (33, "www-data"),
        (1001, "alice"),
        (105, "avahi"),
    ] {
        snap.users.insert(uid, name.to_owned());
    }
    snap
}

fn rows(snap: &Snapshot, text: &str) -> Vec<u16> {
    let query = match parse(text) {
        Ok(q) => q,
        Err(e) => panic!("{text:?} should parse: {e}"),
    };
    snap.sockets
        .iter()
        .filter(|s| query.matches(snap, s))
        .map(|s| s.local_port)
        .collect()
}

fn error(text: &str) -> QueryError {
    match parse(text) {
        Ok(q) => panic!("{text:?} should not parse: {q:?}"),
        Err(e) => e,
    }
}

const ALL: [u16; 9] = [8080, 22, 443, 80, 51000, 40000, 9000, 5353, 3000];

#[test]
fn empty_text_passes_everything() {
    let snap = snapshot();
    for text in ["", "   ", "\t\n"] {
        let q = parsed(text);
        assert!(q.is_empty());
        assert_eq!(rows(&snap, text), ALL);
    }
    assert_eq!(Query::default(), parsed(""));
    assert!(!parsed("port:1").is_empty());
}

#[test]
fn ports_match_either_end_or_one_side() {
    let s = snapshot();
    assert_eq!(rows(&s, "port:443"), [443, 51000]);
    assert_eq!(rows(&s, "lport:443"), [443]);
    assert_eq!(rows(&s, "rport:443"), [51000]);
    assert_eq!(rows(&s, "port:80,22"), [22, 80]);
    assert_eq!(rows(&s, "lport:8000-9000"), [8080, 9000]);
    assert_eq!(rows(&s, "rport:8000-9000"), [40000]);
    assert_eq!(rows(&s, "lport:50000-"), [51000]);
    assert_eq!(rows(&s, "lport:-100"), [22, 80]);
    assert_eq!(rows(&s, "port:\"22, 80 ,0-10\""), [22, 80]);
    assert_eq!(rows(&s, "port:\"22,80\""), [22, 80]);
    assert_eq!(rows(&s, "port:0"), Vec::<u16>::new());
    // A row without a peer has no remote port: it passes only the negation.
    assert_eq!(rows(&s, "-rport:0-65535"), [8080, 22, 443, 80, 9000, 5353]);
}

#[test]
fn ipv4_mapped_sockets_match_as_their_ipv4_addresses() {
    let listener = |addr: &str, port| Socket {
        host: 0,
        proto: Proto::Tcp,
        local_addr: match addr.parse() {
            Ok(addr) => addr,
            Err(e) => panic!("{addr} is not an address: {e}"),
        },
        local_port: port,
        remote_addr: None,
        remote_port: None,
        state: SockState::Listen,
        pids: Default::default(),
        uid: None,
        inode: None,
        cookie: 0,
        recv_q: 0,
        send_q: 0,
        netns: 0,
    };
    let mut s = Snapshot {
        sockets: vec![
            listener("::ffff:127.0.0.1", 8443),
            listener("::ffff:0.0.0.0", 9443),
            listener("::ffff:10.0.0.9", 7443),
        ],
        ..Snapshot::default()
    };
    let mut peer = listener("::ffff:127.0.0.1", 40000);
    peer.state = SockState::Established;
    peer.remote_addr = "::ffff:127.0.0.1".parse().ok();
    peer.remote_port = Some(8443);
    s.sockets.push(peer);
    assert_eq!(rows(&s, "scope:local"), [8443, 40000]);
    assert_eq!(rows(&s, "scope:all"), [9443]);
    assert_eq!(rows(&s, "scope:iface"), [7443]);
    assert_eq!(rows(&s, "ip:127.0.0.1"), [8443, 40000]);
    assert_eq!(rows(&s, "addr:127.0.0.0/8"), [8443, 40000]);
    assert_eq!(rows(&s, "raddr:127.0.0.1"), [40000]);
    assert_eq!(rows(&s, "laddr:0.0.0.0"), [9443]);
    assert_eq!(rows(&s, "ip:::ffff:127.0.0.1"), [8443, 40000]);
}

#[test]
fn addresses_exact_and_by_network() {
    let s = snapshot();
    assert_eq!(rows(&s, "ip:127.0.0.1"), [8080]);
    assert_eq!(rows(&s, "addr:::1"), [22]);
    assert_eq!(rows(&s, "ip:[::1]"), [22]);
    assert_eq!(rows(&s, "ip:10.0.0.0/8"), [443, 40000, 3000]);
    assert_eq!(rows(&s, "raddr:10.0.0.0/8"), [40000, 3000]);
    assert_eq!(rows(&s, "laddr:10.0.0.0/8"), [443, 3000]);
    assert_eq!(rows(&s, "laddr:192.168.1.5/24,::"), [51000, 40000, 9000]);
    assert_eq!(rows(&s, "ip:fe80::/10"), [5353]);
    assert_eq!(rows(&s, "ip:[fe80::]/10"), [5353]);
    assert_eq!(
        rows(&s, "ip:0.0.0.0/0"),
        [8080, 443, 80, 51000, 40000, 3000]
    );
    // An IPv4 address reaches IPv4-mapped IPv6 sockets, and the other way round.
    assert_eq!(rows(&s, "ip:10.0.0.9"), [3000]);
    assert_eq!(rows(&s, "ip:::ffff:10.0.0.7"), [3000]);
    assert_eq!(rows(&s, "ip:::ffff:10.0.0.0/104"), [443, 40000, 3000]);
    assert_eq!(rows(&s, "ip:::/0"), [22, 9000, 5353, 3000]);
    // ::ffff:0:0/96 is every IPv4 address in IPv6 clothing: every IPv4 address.
    assert_eq!(
        rows(&s, "laddr:::ffff:0:0/96"),
        [8080, 443, 80, 51000, 40000, 3000]
    );
    // Host bits after the prefix do not matter.
    assert_eq!(rows(&s, "ip:10.1.2.99/24"), [40000]);
}

#[test]
fn protocols_and_families() {
    let s = snapshot();
    assert_eq!(rows(&s, "proto:udp"), [443, 5353]);
    assert_eq!(
        rows(&s, "PROTO:TCP"),
        [8080, 22, 80, 51000, 40000, 9000, 3000]
    );
    assert_eq!(rows(&s, "proto:tcp6"), [22, 9000, 3000]);
    assert_eq!(rows(&s, "proto:tcp4"), [8080, 80, 51000, 40000]);
    assert_eq!(rows(&s, "proto:udp4,udp6"), [443, 5353]);
    assert_eq!(rows(&s, "proto:udp6"), [5353]);
}

#[test]
fn states_in_every_spelling() {
    let s = snapshot();
    assert_eq!(rows(&s, "state:listen"), [8080, 22, 80, 9000]);
    assert_eq!(rows(&s, "state:LISTEN"), [8080, 22, 80, 9000]);
    for spelling in [
        "time_wait",
        "time-wait",
        "timewait",
        "TIME_WAIT",
        "Time-Wait",
    ] {
        assert_eq!(
            rows(&s, &format!("state:{spelling}")),
            [40000],
            "{spelling}"
        );
    }
    assert_eq!(rows(&s, "state:unconn"), [443, 5353]);
    assert_eq!(
        rows(&s, "state:listen,established"),
        [8080, 22, 80, 51000, 9000, 3000]
    );
    assert_eq!(rows(&s, "state:estab"), [51000, 3000]);
    assert_eq!(
        rows(&s, "state:syn_recv,fin_wait1,close_wait,closed,unknown"),
        Vec::<u16>::new()
    );
}

#[test]
fn port_ranges_and_the_ephemeral_range() {
    let s = snapshot();
    assert_eq!(rows(&s, "range:well-known"), [22, 443, 80]);
    assert_eq!(rows(&s, "range:system"), [22, 443, 80]);
    assert_eq!(rows(&s, "range:wellknown"), [22, 443, 80]);
    assert_eq!(
        rows(&s, "range:registered"),
        [8080, 40000, 9000, 5353, 3000]
    );
    assert_eq!(rows(&s, "range:user"), rows(&s, "range:registered"));
    assert_eq!(rows(&s, "range:dynamic"), [51000]);
    assert_eq!(rows(&s, "range:private"), [51000]);
    // 32768–60999 on this snapshot.
    assert_eq!(rows(&s, "range:ephemeral"), [51000, 40000]);
    assert_eq!(rows(&s, "range:well-known,dynamic"), [22, 443, 80, 51000]);
}

#[test]
fn servers_at_risk_of_losing_their_port() {
    let mut s = snapshot();
    // None of the snapshot's servers is inside 32768–60999: only a connection and a TIME_WAIT.
    assert_eq!(rows(&s, "risk:ephemeral"), Vec::<u16>::new());
    for (proto, port, state) in [
        (Proto::Tcp, 35729, SockState::Listen),
        (Proto::Udp, 50000, SockState::Unconn),
        (Proto::Tcp, 44300, SockState::Listen),
    ] {
        s.sockets.push(socket(Row {
            proto,
            local: (v4(0, 0, 0, 0), port),
            remote: None,
            state,
            pids: Vec::new(),
            uid: None,
        }));
    }
    s.ephemeral =
        EphemeralRange::from_linux_sysctl(Ok("32768 60999".to_owned()), Ok("44300".to_owned()));
    assert_eq!(rows(&s, "risk:ephemeral"), [35729, 50000]);
    assert_eq!(rows(&s, "RISK:Ephemeral state:listen"), [35729]);
    assert_eq!(rows(&s, "-risk:ephemeral").len(), s.sockets.len() - 2);
    let e = error("risk:ephemeal");
    assert_eq!(e.message, "unknown risk 'ephemeal'");
    assert_eq!(e.hint.as_deref(), Some("did you mean 'ephemeral'?"));
    assert_eq!(
        error("risk:").hint.as_deref(),
        Some("for example risk:ephemeral")
    );
}

#[test]
fn bind_scopes() {
    let s = snapshot();
    assert_eq!(rows(&s, "scope:all"), [80, 9000]);
    assert_eq!(rows(&s, "scope:local"), [8080, 22]);
    assert_eq!(rows(&s, "scope:loopback"), [8080, 22]);
    assert_eq!(rows(&s, "scope:iface"), [443, 51000, 40000, 5353, 3000]);
    assert_eq!(rows(&s, "scope:all,local"), [8080, 22, 80, 9000]);
}

#[test]
fn processes_by_name_command_line_and_pid() {
    let s = snapshot();
    assert_eq!(rows(&s, "proc:nginx"), [80]);
    assert_eq!(rows(&s, "proc:PYTHON"), [8080]);
    assert_eq!(rows(&s, "proc:\"my server\""), [9000]);
    assert_eq!(rows(&s, "proc:server"), [9000]);
    // The name only: "http.server" is in Python's command line, not its name.
    assert_eq!(rows(&s, "proc:http"), Vec::<u16>::new());
    assert_eq!(rows(&s, "cmd:http.server"), [8080]);
    assert_eq!(rows(&s, "cmd:\"-m http\""), [8080]);
    assert_eq!(rows(&s, "cmd:\"my conf\""), [80]);
    assert_eq!(rows(&s, "cmd:--PORT"), [9000]);
    // Unreadable command line: the executable path stands in.
    assert_eq!(rows(&s, "cmd:/usr/sbin/avahi"), [5353]);
    assert_eq!(rows(&s, "pid:10"), [22]);
    assert_eq!(rows(&s, "pid:31"), [80]);
    assert_eq!(rows(&s, "pid:40,70,999"), [51000, 3000]);
}

#[test]
fn users_by_name_or_uid() {
    let s = snapshot();
    assert_eq!(rows(&s, "user:root"), [8080, 22]);
    assert_eq!(rows(&s, "user:0"), [8080, 22]);
    assert_eq!(rows(&s, "user:alice"), [443, 51000]);
    assert_eq!(rows(&s, "user:ALICE"), [443, 51000]);
    assert_eq!(rows(&s, "user:1001"), [443, 51000]);
    // 9000 has no kernel uid, so its process's user counts; 3000's uid has no name.
    assert_eq!(rows(&s, "user:bob"), [9000, 3000]);
    assert_eq!(rows(&s, "user:1002"), [9000, 3000]);
    assert_eq!(rows(&s, "user:www-data,avahi"), [80, 5353]);
    assert_eq!(rows(&s, "user:nobody"), Vec::<u16>::new());
    // Whatever `socket_user` shows for a row, user: finds the row by it.
    for sock in &s.sockets {
        if let Some(user) = s.socket_user(sock) {
            let q = parsed(&format!("user:\"{user}\""));
            assert!(q.matches(&s, sock), "{user}");
        }
    }
}

#[test]
fn negation_quoting_and_and() {
    let s = snapshot();
    assert_eq!(
        rows(&s, "-state:time_wait -state:listen"),
        [443, 51000, 5353, 3000]
    );
    assert_eq!(rows(&s, "-nginx -tcp"), [443, 5353]);
    assert_eq!(rows(&s, "-\"my conf\" state:listen"), [8080, 22, 9000]);
    assert_eq!(rows(&s, "\"my server\""), [9000]);
    assert_eq!(rows(&s, "\"nginx: master\""), [80]);
    assert_eq!(rows(&s, "state:listen proto:tcp4 scope:all"), [80]);
    assert_eq!(rows(&s, "state:listen user:root"), [8080, 22]);
    assert_eq!(
        rows(&s, "-user:root state:listen firefox"),
        Vec::<u16>::new()
    );
    // Terms repeat as AND: no row has both ends on 443.
    assert_eq!(rows(&s, "lport:443 rport:443"), Vec::<u16>::new());
    // Keys ignore case; values keep their inner quotes escaped.
    assert_eq!(rows(&s, "Port:22 STATE:Listen"), [22]);
    assert_eq!(rows(&s, "-PID:10 pid:10,20"), [8080]);
    assert_eq!(rows(&s, "cmd:\"x\\\"y\""), Vec::<u16>::new());
    assert_eq!(unquote(r#""a\"b\\c\d""#), r#"a"b\c\d"#);
}

#[test]
fn free_text_matches_anywhere_in_the_row() {
    let s = snapshot();
    assert_eq!(rows(&s, "python"), [8080]);
    assert_eq!(rows(&s, "UDP"), [443, 5353]);
    assert_eq!(rows(&s, "tcp root"), [8080, 22]);
    assert_eq!(rows(&s, "-D sshd"), Vec::<u16>::new());
    assert_eq!(rows(&s, "[::1]"), [22]);
    assert_eq!(rows(&s, ":80"), [8080, 80]);
    assert_eq!(rows(&s, "127.0.0.1:8080"), [8080]);
    assert_eq!(rows(&s, "fe80::1"), [5353]);
    assert_eq!(rows(&s, "[::ffff:10.0.0.9]:3000"), [3000]);
    assert_eq!(rows(&s, "nothing-like-this"), Vec::<u16>::new());
    // `--x` is text, not "not -x"; a lone `-` is text too.
    assert_eq!(rows(&s, "--port"), [9000]);
    assert_eq!(rows(&s, "-"), [8080, 22, 80, 9000, 5353]);
    // Hex digits before a colon start an IPv6 address, not a key.
    assert!(parse("dead:beef::1").is_ok());
    assert!(parse("C:\\Windows").is_ok());
}

#[test]
fn lossy_parse_falls_back_to_plain_words() {
    let s = snapshot();
    let q = Query::parse_lossy("state:listn python");
    assert_eq!(q, Query::parse_lossy("state:listn python"));
    assert!(s.sockets.iter().all(|sock| !q.matches(&s, sock)));
    assert_eq!(Query::parse_lossy("state:listen"), parsed("state:listen"));
    let q: Query = match "python".parse() {
        Ok(q) => q,
        Err(e) => panic!("python does not parse: {e}"),
    };
    assert_eq!(q, Query::parse_lossy("python"));
}

#[test]
fn terms_are_checked_cheapest_first() {
    let q = parsed("nginx cmd:x user:y port:1");
    let costs: Vec<u8> = q.terms.iter().map(|t| t.test.cost()).collect();
    assert_eq!(costs, [0, 1, 2, 3]);
}

fn assert_error(text: &str, span: &str, message: &str, hint: &str) {
    let e = error(text);
    assert_eq!(&text[e.span.clone()], span, "{text:?}: {e}");
    assert_eq!(e.message, message, "{text:?}");
    assert_eq!(e.hint.as_deref(), Some(hint), "{text:?}");
}

#[test]
fn errors_point_at_the_term_and_say_what_to_do() {
    assert_error(
        "tcp state:listn",
        "state:listn",
        "unknown state 'listn'",
        "did you mean 'listen'?",
    );
    assert_eq!(
        error("state:listn").to_string(),
        "unknown state 'listn' — did you mean 'listen'?"
    );
    assert_error(
        "state:time_wiat",
        "state:time_wiat",
        "unknown state 'time_wiat'",
        "did you mean 'time_wait'?",
    );
    assert_error(
        "state:est",
        "state:est",
        "unknown state 'est'",
        "did you mean 'established'?",
    );
    let e = error("state:zzz");
    assert!(
        e.hint
            .as_deref()
            .is_some_and(|h| h.starts_with("states are listen, ")),
        "{e}"
    );
    assert_error(
        "port:abc",
        "port:abc",
        "'abc' is not a port number",
        PORT_HINT,
    );
    assert_error(
        "a  port:70000  b",
        "port:70000",
        "port 70000 does not exist",
        "ports go from 0 to 65535",
    );
    assert_error(
        "port:9-3",
        "port:9-3",
        "the range 9-3 goes backwards",
        "put the lower port first: 3-9",
    );
    assert_error(
        "port:+80",
        "port:+80",
        "'+80' is not a port number",
        PORT_HINT,
    );
    assert_error("lport:-", "lport:-", "'-' is not a port range", PORT_HINT);
    assert_error(
        "port:80,,443",
        "port:80,,443",
        "empty item in the list",
        "separate the values with single commas, as in port:80,443",
    );
    assert_error(
        "-port:",
        "-port:",
        "'port:' needs a value",
        "for example port:443",
    );
    assert_error(
        "ADDR:\"\"",
        "ADDR:\"\"",
        "'addr:' needs a value",
        "for example ip:127.0.0.1",
    );
    assert_error(
        "potr:80",
        "potr:80",
        "unknown key 'potr:'",
        "did you mean 'port:'?",
    );
    assert_error(
        "prot:udp",
        "prot:udp",
        "unknown key 'prot:'",
        "did you mean 'proto:'?",
    );
    assert_error(
        "x stat:listen",
        "stat:listen",
        "unknown key 'stat:'",
        "did you mean 'state:'?",
    );
    let e = error("http://example.com");
    assert_eq!(e.message, "unknown key 'http:'");
    assert!(
        e.hint
            .as_deref()
            .is_some_and(|h| h.contains("put it in quotes")),
        "{e}"
    );
    assert!(parse("\"http://example.com\"").is_ok());
    assert_error(
        "ip:localhost",
        "ip:localhost",
        "'localhost' is not an IP address",
        "write ip:127.0.0.1 or ip:::1, or scope:local for any loopback address",
    );
    assert_error(
        "ip:1.2.3.4:80",
        "ip:1.2.3.4:80",
        "'1.2.3.4:80' is not an IP address",
        "give the address alone, and the port with port:",
    );
    assert_error(
        "ip:10.0.0.0/33",
        "ip:10.0.0.0/33",
        "'/33' is not a prefix length for an IPv4 address",
        "IPv4 prefixes go from /0 to /32",
    );
    assert_error(
        "ip:::/129",
        "ip:::/129",
        "'/129' is not a prefix length for an IPv6 address",
        "IPv6 prefixes go from /0 to /128",
    );
    assert!(parse("ip:10.0.0.0/+8").is_err());
    assert!(parse("ip:999.1.1.1").is_err());
    assert_error(
        "range:ephemral",
        "range:ephemral",
        "unknown range 'ephemral'",
        "did you mean 'ephemeral'?",
    );
    assert_error(
        "scope:al",
        "scope:al",
        "unknown scope 'al'",
        "did you mean 'all'?",
    );
    assert_error(
        "proto:tcp5",
        "proto:tcp5",
        "unknown protocol 'tcp5'",
        "did you mean 'tcp'?",
    );
    assert_error(
        "pid:12a",
        "pid:12a",
        "'12a' is not a process id",
        "a PID is a whole number, as in pid:1234 or pid:1234,5678",
    );
    assert_error(
        "pid:99999999999",
        "pid:99999999999",
        "PID 99999999999 is too large",
        "PIDs go up to 4294967295",
    );
    assert_error(
        "ok proc:\"my server",
        "proc:\"my server",
        "the quote is not closed",
        "end the quoted text with \"",
    );
    assert_error(
        "é \"\"",
        "\"\"",
        "nothing between the quotes",
        "put the text to look for between them",
    );
}

#[test]
fn help_examples_all_parse() {
    for (example, meaning) in HELP {
        assert!(parse(example).is_ok(), "{example}");
        assert!(!meaning.is_empty());
    }
    // The examples in the summary are the parts in parentheses.
    let examples: Vec<&str> = SYNTAX
        .split(['(', ')'])
        .skip(1)
        .step_by(2)
        .filter(|e| e.contains(':'))
        .collect();
    assert_eq!(examples.len(), 5);
    for example in examples {
        assert!(parse(example).is_ok(), "{example}");
    }
}

#[test]
fn suggestions_need_to_be_close() {
    assert_eq!(suggest("listn", &["listen", "closed"]), Some("listen"));
    assert_eq!(suggest("xyz", &["listen", "closed"]), None);
    assert_eq!(suggest("", &["listen"]), None);
    assert_eq!(edit_distance("ab", "ba"), 1);
    assert_eq!(edit_distance("", "abc"), 3);
    assert_eq!(edit_distance("kitten", "sitting"), 3);
}

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn garbage_never_panics_and_errors_point_inside_the_text() {
    const CHARS: &[char] = &[
        'a', 'e', 'p', 'o', 'r', 't', 'x', 'Z', '0', '1', '5', '9', ':', ':', '-', '-', ',', '"',
        '"', '\\', '/', '[', ']', '.', ' ', ' ', '\t', '\u{3000}', 'é', 'ß', 'İ', '✓', '😀',
        '\u{0}', '\u{200b}', '%', '*',
    ];
    const PIECES: &[&str] = &[
        "port:",
        "lport:",
        "rport:",
        "ip:",
        "addr:",
        "laddr:",
        "raddr:",
        "proto:",
        "state:",
        "range:",
        "scope:",
        "pid:",
        "proc:",
        "cmd:",
        "user:",
        "-",
        "\"",
        "80",
        "65536",
        "8000-",
        "-9",
        ",",
        "::1",
        "[",
        "]",
        "/",
        "/129",
        "10.0.0.0",
        "listen",
        "time-wait",
        "tcp6",
        "ephemeral",
        "all",
        " ",
        "é",
        "\\\"",
        "99999999999999999999999",
    ];
    let snap = snapshot();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut ok, mut failed) = (0, 0);
    for round in 0..6000 {
        let len = rng.below(24);
        let text: String = if round % 2 == 0 {
            (0..len).map(|_| CHARS[rng.below(CHARS.len())]).collect()
        } else {
            (0..len).map(|_| PIECES[rng.below(PIECES.len())]).collect()
        };
        match parse(&text) {
            Ok(query) => {
                ok += 1;
                for sock in &snap.sockets {
                    let _ = query.matches(&snap, sock);
                }
            }
            Err(e) => {
                failed += 1;
                assert!(e.span.start < e.span.end, "{text:?}: {e:?}");
                assert!(text.get(e.span.clone()).is_some(), "{text:?}: {e:?}");
                assert!(!e.message.is_empty() && e.hint.is_some(), "{text:?}");
            }
        }
        let _ = Query::parse_lossy(&text);
    }
    // Both paths were exercised.
    assert!(ok > 500 && failed > 500, "ok {ok}, failed {failed}");
}

#[test]
fn row_texts_built_in_two_halves_match_row_by_row_texts() {
    let snap = Snapshot::from_poll(
        1,
        std::time::SystemTime::now(),
        std::time::Duration::ZERO,
        crate::collect::generated_poll(25_001),
    );
    let texts = RowTexts::build(&snap);
    let half = snap.sockets.len() / 2;
    for i in (0..snap.sockets.len()).step_by(997).chain([
        half - 1,
        half,
        half + 1,
        snap.sockets.len() - 1,
    ]) {
        // The same words (free text is matched word by word), in whatever order.
        let words = |t: &str| {
            let mut w: Vec<String> = t.split_whitespace().map(str::to_owned).collect();
            w.sort();
            w
        };
        let built = texts.get(i).map(words);
        assert_eq!(
            built,
            Some(words(&row_text(&snap, &snap.sockets[i]))),
            "row {i}"
        );
    }
    assert_eq!(texts.get(snap.sockets.len()), None);
}

/// Four connections with counters (cookies 1–4; the one on 7004 has no rate yet), a listener
/// with a queue, and two UDP sockets (one dropped datagrams).
fn traffic_snapshot() -> Snapshot {
    use crate::model::traffic::{Flow, Rate, TcpStats};
    let mut snap = Snapshot::default();
    let conn = |port: u16, cookie: u64| Socket {
        cookie,
        ..socket(Row {
            proto: Proto::Tcp,
            local: (v4(127, 0, 0, 1), port),
            remote: Some((v4(127, 0, 0, 1), 9)),
            state: SockState::Established,
            pids: vec![],
            uid: None,
        })
    };
    snap.sockets = vec![
        conn(7001, 1),
        conn(7002, 2),
        conn(7003, 3),
        conn(7004, 4),
        Socket {
            recv_q: 3,
            send_q: 128,
            cookie: 5,
            ..socket(Row {
                proto: Proto::Tcp,
                local: (v4(127, 0, 0, 1), 7005),
                remote: None,
                state: SockState::Listen,
                pids: vec![],
                uid: None,
            })
        },
        Socket {
            cookie: 6,
            ..socket(Row {
                proto: Proto::Udp,
                local: (v4(127, 0, 0, 1), 7006),
                remote: None,
                state: SockState::Unconn,
                pids: vec![],
                uid: None,
            })
        },
        Socket {
            cookie: 7,
            ..socket(Row {
                proto: Proto::Udp,
                local: (v4(127, 0, 0, 1), 7007),
                remote: None,
                state: SockState::Unconn,
                pids: vec![],
                uid: None,
            })
        },
    ];
    let flow = |down, up, rtt_us, retrans| Flow {
        stats: TcpStats {
            bytes_sent: Some(1000),
            bytes_received: Some(1000),
            rtt_us,
            retrans,
            ..TcpStats::default()
        },
        rate: Some(Rate { down, up }),
    };
    snap.drops.insert(6, 0);
    snap.drops.insert(7, 42);
    // A TCP socket's cookie in the drop counts is not a UDP socket's count.
    snap.drops.insert(1, 9);
    snap.traffic.insert(1, flow(150_000, 10, 400, 0));
    snap.traffic.insert(2, flow(10, 2_000_000, 60_000, 3));
    snap.traffic.insert(3, flow(100_000, 100_000, 50_000, 0));
    snap.traffic.insert(
        4,
        Flow {
            rate: None,
            ..flow(0, 0, 1_500_000, 1)
        },
    );
    snap
}

#[test]
fn rate_rtt_retrans_and_queue_terms_compare_numbers() {
    let snap = traffic_snapshot();
    // Either direction above 100 kB/s; exactly 100k is not above it.
    assert_eq!(rows(&snap, "rate:>100k"), [7001, 7002]);
    assert_eq!(rows(&snap, "rate:>=100k"), [7001, 7002, 7003]);
    assert_eq!(rows(&snap, "rate:>1.5m"), [7002]);
    assert_eq!(rows(&snap, "rate:>0.1M"), [7001, 7002]);
    assert_eq!(rows(&snap, "rate:<=100000"), [7003]);
    // Sockets without a rate match neither way; negation takes them in.
    assert_eq!(rows(&snap, "-rate:>100k"), [7003, 7004, 7005, 7006, 7007]);
    assert_eq!(rows(&snap, "rtt:>50ms"), [7002, 7004]);
    assert_eq!(rows(&snap, "rtt:>=50ms"), [7002, 7003, 7004]);
    assert_eq!(rows(&snap, "rtt:<1ms"), [7001]);
    assert_eq!(rows(&snap, "rtt:<500us"), [7001]);
    assert_eq!(rows(&snap, "rtt:>1.2s"), [7004]);
    assert_eq!(rows(&snap, "retrans:>0"), [7002, 7004]);
    assert_eq!(rows(&snap, "retrans:3"), [7002]);
    assert_eq!(rows(&snap, "retrans:0"), [7001, 7003]);
    assert_eq!(rows(&snap, "recvq:>0"), [7005]);
    assert_eq!(rows(&snap, "sendq:>=128"), [7005]);
    assert_eq!(rows(&snap, "sendq:0 proto:udp"), [7006, 7007]);
    assert_eq!(rows(&snap, "drops:>0"), [7007]);
    assert_eq!(rows(&snap, "drops:0"), [7006]);
    assert_eq!(rows(&snap, "drops:>=42"), [7007]);
}

#[test]
fn measure_terms_say_what_is_wrong() {
    let rate_hint = "a rate is bytes per second, with k, m or g for thousands, millions or \
        billions: rate:>100k, rate:<1.5m";
    let time_hint = "write a time with its unit, us, ms or s: rtt:>50ms, rtt:<800us";
    assert_error(
        "rate:>100x",
        "rate:>100x",
        "unknown unit 'x' in rate '100x'",
        rate_hint,
    );
    assert_error(
        "rate:>fast",
        "rate:>fast",
        "unknown unit 'fast' in rate 'fast'",
        rate_hint,
    );
    assert_error(
        "rate:>1.2.3k",
        "rate:>1.2.3k",
        "'1.2.3k' is not a rate",
        rate_hint,
    );
    assert_error("rate:>.5k", "rate:>.5k", "'.5k' is not a rate", rate_hint);
    assert_error(
        "x rate:>",
        "rate:>",
        "'>' has no number to compare with",
        "for example rate:>100k",
    );
    assert_error("rtt:>50", "rtt:>50", "'50' has no unit", time_hint);
    assert_error(
        "rtt:>5h",
        "rtt:>5h",
        "unknown unit 'h' in time '5h'",
        time_hint,
    );
    assert_error(
        "rtt:",
        "rtt:",
        "'rtt:' needs a value",
        "for example rtt:>50ms",
    );
    assert_error(
        "retrans:>-1",
        "retrans:>-1",
        "'-1' is not a whole number",
        "a count is a whole number, as in retrans:>0",
    );
    assert_error(
        "recvq:>99999999999999999999",
        "recvq:>99999999999999999999",
        "99999999999999999999 is too large",
        "for example recvq:>0",
    );
    assert_error(
        "rtt:>1e30s",
        "rtt:>1e30s",
        "unknown unit 'e30s' in time '1e30s'",
        time_hint,
    );
    assert_error(
        "rate:>99999999999999999999g",
        "rate:>99999999999999999999g",
        "the rate 99999999999999999999g is too large",
        rate_hint,
    );
    assert_error(
        "ratee:>1",
        "ratee:>1",
        "unknown key 'ratee:'",
        "did you mean 'rate:'?",
    );
}
