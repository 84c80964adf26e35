//! The real binary: `list`, `who`, usage errors and closed pipes.

use std::io::Read;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn portscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portscope"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A port nothing held a moment ago. Only for asking about a port nobody holds: a test that
/// needs a server on a port lets the server bind port 0 and reads the port back.
fn unused_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    port
}

fn entries_on(list: &Value, port: u16) -> Vec<&Value> {
    list.as_array()
        .expect("a JSON array")
        .iter()
        .filter(|e| e["local_port"] == port)
        .collect()
}

#[test]
fn list_json_shows_our_sockets_with_pid_and_process() {
    let me = std::process::id();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let l6 = TcpListener::bind("[::1]:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();

    let out = portscope(&["list", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let list: Value = serde_json::from_str(&stdout(&out)).expect("valid JSON");

    let on_port = entries_on(&list, port);
    let listen = on_port
        .iter()
        .find(|e| e["state"] == "LISTEN")
        .expect("listener listed");
    assert_eq!(listen["proto"], "tcp");
    assert_eq!(listen["local_addr"], "127.0.0.1");
    assert_eq!(listen["remote_addr"], Value::Null);
    assert!(
        listen["pids"]
            .as_array()
            .unwrap()
            .contains(&Value::from(me))
    );
    let proc0 = &listen["processes"][0];
    assert_eq!(proc0["pid"], me);
    assert!(proc0["name"].as_str().is_some_and(|n| !n.is_empty()));
    assert!(proc0["exe"].as_str().is_some());
    assert!(proc0["cmdline"].as_array().is_some_and(|a| !a.is_empty()));
    assert!(proc0.get("user").is_some());

    let c = client.local_addr().unwrap();
    let conn = entries_on(&list, c.port())
        .into_iter()
        .find(|e| e["state"] == "ESTABLISHED" && e["remote_port"] == port)
        .expect("connection listed");
    assert!(conn["pids"].as_array().unwrap().contains(&Value::from(me)));
    assert_eq!(conn["remote_addr"], "127.0.0.1");

    let v6 = entries_on(&list, l6.local_addr().unwrap().port());
    assert!(
        v6.iter()
            .any(|e| e["local_addr"] == "::1" && e["state"] == "LISTEN")
    );

    let u = entries_on(&list, udp.local_addr().unwrap().port());
    assert!(
        u.iter()
            .any(|e| e["proto"] == "udp" && e["state"] == "UNCONN")
    );
}

#[test]
fn list_filters_and_formats() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let uport = udp.local_addr().unwrap().port();

    let json = |args: &[&str]| -> Value {
        let out = portscope(args);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_str(&stdout(&out)).unwrap()
    };
    let tcp_only = json(&["list", "--json", "--tcp"]);
    assert!(
        tcp_only
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["proto"] == "tcp")
    );
    assert_eq!(entries_on(&tcp_only, port).len(), 1);
    let udp_only = json(&["list", "--json", "--udp"]);
    assert!(
        udp_only
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["proto"] == "udp")
    );
    assert_eq!(entries_on(&udp_only, uport).len(), 1);
    let listening = json(&["list", "--json", "--listening"]);
    assert!(
        listening
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["state"] == "LISTEN" || e["state"] == "UNCONN")
    );
    let by_port = json(&["list", "--json", "--port", &port.to_string()]);
    assert_eq!(by_port.as_array().unwrap().len(), 1);

    let table = portscope(&["list", "--port", &port.to_string()]);
    let text = stdout(&table);
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("PROTO"));
    let row = lines.next().expect("one row");
    assert!(row.contains(&format!("127.0.0.1:{port}")) && row.contains("LISTEN"));
    assert!(row.contains(&std::process::id().to_string()));

    let csv = stdout(&portscope(&["list", "--csv", "--port", &port.to_string()]));
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "proto");
    let rec = reader.records().next().expect("a row").unwrap();
    assert_eq!(&rec[2], port.to_string());
    assert_eq!(&rec[5], "LISTEN");
}

#[test]
fn who_names_the_process_holding_a_port() {
    let me = std::process::id();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port().to_string();

    let out = portscope(&["who", &port]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("pid {me}")), "{text}");
    assert!(
        text.contains(&format!("tcp LISTEN 127.0.0.1:{port}")),
        "{text}"
    );
    assert!(text.contains("command"), "{text}");

    let out = portscope(&["who", &port, "--json"]);
    assert!(out.status.success());
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["port"].to_string(), port);
    assert_eq!(v["processes"][0]["pid"], me);
    assert_eq!(v["sockets"][0]["state"], "LISTEN");
}

#[test]
fn who_names_a_real_http_server() {
    // Port 0: the server binds a port the system chooses and says which.
    let mut server = Command::new("python3")
        .args(["-u", "-m", "http.server", "0", "--bind", "127.0.0.1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 runs");
    let mut banner = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.take().unwrap()),
        &mut banner,
    )
    .unwrap();
    // "Serving HTTP on 127.0.0.1 port 40123 (http://127.0.0.1:40123/) ..."
    let port: u16 = banner
        .split_whitespace()
        .skip_while(|word| *word != "port")
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {banner:?}"));
    // The banner comes after the bind: the server is listening now.
    let out = portscope(&["who", &port.to_string()]);
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        out.status.success(),
        "python3 never showed up: {}",
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(text.starts_with("python3"), "{text}");
    assert!(text.contains(&format!("pid {}", server.id())), "{text}");
    assert!(text.contains("-m http.server 0 --bind 127.0.0.1"), "{text}");
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
}

#[test]
fn who_exits_1_when_nothing_holds_the_port() {
    let port = unused_port();
    let out = portscope(&["who", &port.to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty());
    assert!(stderr(&out).contains(&format!("nothing holds local port {port}")));
    let json = portscope(&["who", &port.to_string(), "--json"]);
    assert_eq!(json.status.code(), Some(1));
    let v: Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(v["sockets"].as_array().unwrap().len(), 0);
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    for args in [
        &["who", "65536"][..],
        &["who", "abc"],
        &["who", "-1"],
        &["who"],
        &["list", "--bogus"],
        &["list", "--port", "x"],
        &["list", "--json", "--csv"],
        &["frobnicate"],
        &["--churn", "5"],
        &["--generated", "10", "--churn", "101"],
    ] {
        let out = portscope(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("portscope: "), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    assert!(stderr(&portscope(&["who", "65536"])).contains("0 to 65535"));
    let help = portscope(&["--help"]);
    assert!(help.status.success());
    assert!(stdout(&help).contains("who"));
}

#[test]
fn a_closed_pipe_is_a_normal_exit() {
    // Enough sockets that the output overflows the pipe buffer before the reader hangs up.
    let sockets: Vec<UdpSocket> = (0..600)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_portscope"))
        .args(["list", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    drop(sockets);
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        stderr(&out)
    );
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

#[test]
fn explain_60296_answers_what_it_is_and_what_is_on_it() {
    let out = portscope(&["explain", "60296"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    // 60296 is inside Linux's ephemeral range: an outgoing connection may hold it right now,
    // and then the headline says so first. What the number means follows either way.
    let headline: String = text
        .split("\n\n")
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        headline.starts_with("Port 60296/tcp is in the dynamic range")
            || headline.contains("By its number, port 60296/tcp is in the dynamic range"),
        "{text}"
    );
    for part in [
        "IANA never assigns it",
        "ephemeral",
        "On this machine now",
        "IANA registry: no entry",
        "ss -ltnp 'sport = :60296'",
        "sudo lsof -nP -iTCP:60296",
        "Get-NetTCPConnection -LocalPort 60296",
    ] {
        assert!(text.contains(part), "missing {part:?} in:\n{text}");
    }
}

#[test]
fn explain_shows_the_process_on_a_port_with_its_bind_scope() {
    let me = std::process::id();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let text = stdout(&portscope(&["explain", &port.to_string()]));
    assert!(
        text.contains(&format!("tcp LISTEN 127.0.0.1:{port}")),
        "{text}"
    );
    assert!(text.contains(&format!("pid {me}")), "{text}");
    assert!(text.contains("this machine only"), "{text}");

    let out = portscope(&["explain", &port.to_string(), "--json"]);
    assert!(out.status.success());
    let v: Value = serde_json::from_str(&stdout(&out)).expect("valid JSON");
    assert_eq!(v["port"], port);
    assert_eq!(v["transport"], "tcp");
    assert!(
        v["headline"]
            .as_str()
            .is_some_and(|h| h.starts_with(&format!("Port {port}/tcp")))
    );
    assert!(v["range"].is_string());
    assert!(v["ephemeral"]["start"].is_u64());
    assert!(v["commands"].as_array().is_some_and(|c| !c.is_empty()));
    let socket = &v["sockets"][0];
    assert_eq!(socket["state"], "LISTEN");
    assert_eq!(socket["bind_scope"], "loopback");
    assert_eq!(socket["processes"][0]["pid"], me);
}

#[test]
fn explain_json_carries_the_iana_entries() {
    let v: Value =
        serde_json::from_str(&stdout(&portscope(&["explain", "53", "--udp", "--json"]))).unwrap();
    assert_eq!(v["transport"], "udp");
    let iana = v["iana"].as_array().expect("entries");
    assert!(
        iana.iter()
            .any(|e| e["service_name"] == "domain" && e["transport"] == "udp")
    );
    let ssh: Value =
        serde_json::from_str(&stdout(&portscope(&["explain", "22", "--json"]))).unwrap();
    assert!(
        ssh["iana"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["service_name"] == "ssh")
    );
    assert!(ssh["note"]["title"].is_string());
}

#[test]
fn explain_rejects_bad_ports() {
    for bad in ["65536", "abc", "-1", "0x50", ""] {
        let out = portscope(&["explain", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert_eq!(stderr(&out).trim_end().lines().count(), 1, "{bad:?}");
    }
}

#[test]
fn the_scale_test_flags_work_but_are_not_in_help() {
    for help in ["--help", "-h"] {
        let out = portscope(&[help]);
        assert!(out.status.success());
        let text = stdout(&out);
        assert!(text.contains("explain"), "{text}");
        assert!(!text.contains("--generated"), "{text}");
        assert!(!text.contains("--churn"), "{text}");
    }
    // They still parse: with a command they are ignored and the command runs.
    let out = portscope(&["--generated", "10", "--churn", "5", "list", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let list: Value = serde_json::from_str(&stdout(&out)).expect("valid JSON");
    assert!(list.is_array());
    let cli = <portscope::cli::Cli as clap::Parser>::try_parse_from([
        "portscope",
        "--generated",
        "100000",
        "--churn",
        "1",
    ])
    .unwrap();
    assert_eq!((cli.generated, cli.churn), (Some(100_000), Some(1)));
}

/// A listener on loopback at a port inside this machine's ephemeral range: ports are tried
/// from the middle of the range up until one binds (a bounded number of tries), and the
/// listener that bound is what the caller gets, so nothing can take the port in between.
fn listener_in_ephemeral_range() -> TcpListener {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .expect("the ephemeral range is readable");
    let (lo, hi) = portscope::knowledge::parse_port_range(&text).expect("a range");
    let reserved = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_reserved_ports")
        .ok()
        .and_then(|t| portscope::knowledge::parse_reserved_ports(&t).ok())
        .unwrap_or_default();
    let start = lo + (hi - lo) / 2;
    (start..=hi)
        .filter(|p| !reserved.iter().any(|(a, b)| (a..=b).contains(&p)))
        .take(500)
        .find_map(|p| TcpListener::bind(("127.0.0.1", p)).ok())
        .expect("a free port in the ephemeral range")
}

#[test]
fn explain_says_a_listener_is_there_before_what_the_number_suggests() {
    let me = std::process::id();
    let listener = listener_in_ephemeral_range();
    let port = listener.local_addr().unwrap().port();
    let arg = port.to_string();

    let out = portscope(&["explain", &arg]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let headline: String = text
        .split("\n\n")
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let first = format!("Port {port}/tcp: a server is listening here now — ");
    assert!(headline.starts_with(&first), "{text}");
    assert!(
        headline.contains(&format!("(PID {me}), on this machine only (loopback).")),
        "{text}"
    );
    assert!(headline.contains("By its number, port"), "{text}");
    assert!(headline.contains("Warning: it lies inside"), "{text}");
    assert!(!headline.contains("temporary local end"), "{text}");

    let out = portscope(&["explain", &arg, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).expect("valid JSON");
    let json_headline = v["headline"].as_str().expect("a headline");
    assert_eq!(json_headline, headline);
    assert_eq!(v["sockets"][0]["bind_scope"], "loopback");
    drop(listener);
}

/// The rows of a text table on a local port: lines whose local endpoint is `127.0.0.1:port`.
fn text_rows_on(text: &str, port: u16) -> Vec<String> {
    let endpoint = format!("127.0.0.1:{port} ");
    text.lines()
        .filter(|l| l.contains(&endpoint))
        .map(str::to_owned)
        .collect()
}

#[test]
fn list_takes_the_windows_filter_language_with_its_flags() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let _client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (_served, _) = l.accept().unwrap();
    let json = |args: &[&str]| -> Vec<Value> {
        let out = portscope(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let list: Value = serde_json::from_str(&stdout(&out)).unwrap();
        list.as_array().unwrap().clone()
    };
    let lport = format!("lport:{port}");

    let listener = json(&["list", "--json", &format!("{lport} state:listen")]);
    assert_eq!(listener.len(), 1, "{listener:?}");
    assert_eq!(listener[0]["state"], "LISTEN");
    assert_eq!(listener[0]["local_port"], port);
    // Words are joined: two arguments are the same filter as one.
    assert_eq!(json(&["list", "--json", &lport, "state:listen"]), listener);

    // A negated term is a filter term, not a flag, wherever it stands.
    let served = json(&["list", "--json", &lport, "-state:listen", "--tcp"]);
    assert_eq!(served.len(), 1, "{served:?}");
    assert_eq!(served[0]["state"], "ESTABLISHED");
    assert_eq!(served[0]["remote_addr"], "127.0.0.1");

    // The flags narrow further.
    assert!(json(&["list", "--json", "--udp", &lport]).is_empty());
    assert_eq!(json(&["list", "--json", "-l", &lport]), listener);

    let table = stdout(&portscope(&["list", &lport, "state:listen"]));
    assert_eq!(table.lines().count(), 2, "{table}");
    assert_eq!(text_rows_on(&table, port).len(), 1, "{table}");
}

#[test]
fn a_bad_filter_term_or_column_exits_2_and_says_what_was_meant() {
    for (args, message) in [
        (
            &["list", "state:listn"][..],
            "portscope: unknown state 'listn' — did you mean 'listen'?",
        ),
        (
            &["list", "--json", "-stat:listen"],
            "portscope: unknown key 'stat:' — did you mean 'state:'?",
        ),
        (
            &["list", "--sort", "prot"],
            "unknown column 'prot' — did you mean 'proto'?",
        ),
        (
            &["list", "--sort", "port:down"],
            "unknown order 'down' — use ':asc' or ':desc'",
        ),
        (
            &["list", "--color", "sometimes"],
            "invalid value 'sometimes'",
        ),
    ] {
        let out = portscope(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stdout(&out).is_empty(), "{args:?}: {}", stdout(&out));
        let err = stderr(&out);
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: {err}");
    }
}

#[test]
fn list_sorts_by_any_column_in_either_order() {
    let listeners: Vec<TcpListener> = (0..3)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let mut ports: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    let filter = format!(
        "lport:{} state:listen",
        ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(",")
    );
    ports.sort_unstable();
    let desc: Vec<u16> = ports.iter().rev().copied().collect();

    let json_ports = |sort: &str| -> Vec<u16> {
        let out = portscope(&["list", "--json", "--sort", sort, &filter]);
        assert!(out.status.success(), "{}", stderr(&out));
        let list: Value = serde_json::from_str(&stdout(&out)).unwrap();
        list.as_array()
            .unwrap()
            .iter()
            .map(|e| e["local_port"].as_u64().unwrap() as u16)
            .collect()
    };
    assert_eq!(json_ports("port:desc"), desc);
    assert_eq!(json_ports("Local-Port:DESC"), desc);
    assert_eq!(json_ports("port"), ports);

    let csv = stdout(&portscope(&[
        "list",
        "--csv",
        "--sort",
        "port:desc",
        &filter,
    ]));
    let csv_ports: Vec<u16> = csv::Reader::from_reader(csv.as_bytes())
        .records()
        .map(|r| r.unwrap()[2].parse().unwrap())
        .collect();
    assert_eq!(csv_ports, desc);

    // The text table, without its header: the first line is the highest port's row.
    let text = stdout(&portscope(&[
        "list",
        "--no-header",
        "--sort",
        "port:desc",
        &filter,
    ]));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    for (line, port) in lines.iter().zip(&desc) {
        assert!(line.starts_with("tcp "), "{text}");
        assert!(line.contains(&format!("127.0.0.1:{port} ")), "{text}");
    }
    // With the header, the same rows under it (its titles may widen the columns).
    let with_header = stdout(&portscope(&["list", "--sort", "port:desc", &filter]));
    assert!(with_header.starts_with("PROTO "), "{with_header}");
    let words = |line: &str| line.split_whitespace().collect::<Vec<_>>().join(" ");
    let under: Vec<String> = with_header.lines().skip(1).map(words).collect();
    assert_eq!(under, lines.iter().map(|l| words(l)).collect::<Vec<_>>());
}

/// `text` without the SGR colour codes `ESC [ … m`.
fn without_colour(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("\x1b[") {
        out.push_str(&rest[..at]);
        let end = rest[at..].find('m').expect("an SGR sequence ends in m");
        rest = &rest[at + end + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn colour_comes_when_asked_and_never_otherwise() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let filter = format!("lport:{} state:listen", l.local_addr().unwrap().port());
    let run = |color: Option<&str>, no_color: bool| -> String {
        let mut command = Command::new(env!("CARGO_BIN_EXE_portscope"));
        command.args(["list", &filter]).env_remove("NO_COLOR");
        if let Some(when) = color {
            command.args(["--color", when]);
        }
        if no_color {
            command.env("NO_COLOR", "1");
        }
        let out = command.output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let never = run(Some("never"), false);
    assert!(!never.contains('\x1b'), "{never:?}");
    // Not a terminal: auto means none.
    assert_eq!(run(None, false), never);
    assert_eq!(run(Some("auto"), false), never);

    let always = run(Some("always"), false);
    assert!(always.contains("\x1b[32mLISTEN\x1b[0m"), "{always:?}");
    assert!(always.starts_with("\x1b[1mPROTO\x1b[0m"), "{always:?}");
    // The codes are all there is to it: the same table, the same alignment.
    assert_eq!(without_colour(&always), never);
    // NO_COLOR turns off colour by default, not the colour asked for by name.
    assert_eq!(run(Some("always"), true), always);
}

#[test]
fn the_table_fits_the_width_it_is_given_and_never_wraps() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let filter = format!("lport:{port} state:listen");
    let me = std::process::id().to_string();

    // Not a terminal: no limit, the whole command line is there.
    let wide = stdout(&portscope(&["list", &filter]));
    let row = &text_rows_on(&wide, port)[0];
    let argv0 = std::env::args().next().unwrap();
    assert!(row.contains(&argv0), "{row}");
    assert!(!row.contains('…'), "{row}");

    for width in ["60", "80", "120"] {
        let narrow = stdout(&portscope(&["list", "--width", width, &filter]));
        let limit: usize = width.parse().unwrap();
        for line in narrow.lines() {
            assert!(line.chars().count() <= limit, "{width}: {line:?}");
        }
        // What is cut says so; an address cut keeps its port, and the PID stays whole.
        let rows: Vec<&str> = narrow.lines().skip(1).collect();
        assert_eq!(rows.len(), 1, "{narrow}");
        // Cut only when the whole row does not fit (the command line's length depends on
        // where the tests run).
        if row.chars().count() > limit {
            assert!(rows[0].contains('…'), "{width}: {}", rows[0]);
        } else {
            assert_eq!(rows[0].trim_end(), row.trim_end(), "{width}");
        }
        assert!(
            rows[0].contains(&format!(":{port} ")),
            "{width}: {}",
            rows[0]
        );
        assert!(rows[0].contains(&me), "{width}: {}", rows[0]);
    }
}

#[test]
fn list_watch_prints_a_table_per_interval_until_interrupted() {
    use std::io::{BufRead, BufReader};
    use std::time::{Duration, Instant};

    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_portscope"))
        .args(["list", "--watch", "--interval", "0.2"])
        .arg(format!("lport:{port} state:listen"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, got) = std::sync::mpsc::channel();
    let reader = BufReader::new(child.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in reader.lines() {
            if lines.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    // Three tables: header, our row, and a blank line between tables.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    while seen
        .iter()
        .filter(|l: &&String| l.starts_with("PROTO"))
        .count()
        < 3
    {
        let left = deadline.saturating_duration_since(Instant::now());
        match got.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => panic!("fewer than 3 tables in 30 s: {seen:?}"),
        }
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "still running 10 s after SIGINT");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0), "{status:?}");
    let table = |i: usize| seen[i * 3..i * 3 + 2].to_vec();
    assert_eq!(seen[2], "", "{seen:?}");
    assert_eq!(seen[5], "", "{seen:?}");
    assert_eq!(table(0), table(1), "{seen:?}");
    assert!(
        table(0)[1].contains(&format!("127.0.0.1:{port} ")),
        "{seen:?}"
    );
    assert!(
        !seen.concat().contains('\x1b'),
        "not a terminal: no screen codes"
    );
}

#[test]
fn the_windows_host_option_is_refused_with_a_command() {
    let out = Command::new(env!("CARGO_BIN_EXE_portscope"))
        .args(["--host", "db1", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("give the command its own"), "{said}");
}

/// `kill --pid N --yes`: ends that one process; a PID that names no process, or now names
/// another process than the one that started at `--started`, is nothing matched (exit 1).
#[test]
fn kill_by_pid_ends_that_process_and_spares_a_reused_pid() {
    let mut child = std::process::Command::new("sleep")
        .arg("600")
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let started = portscope::act::signal::start_time_of(child.id()).unwrap();
    // As if the table had shown a process that started an hour earlier under this PID.
    let earlier = (started - 3600).to_string();
    let out = portscope(&["kill", "--pid", &pid, "--started", &earlier, "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("is now another process"),
        "{}",
        stdout(&out)
    );
    assert!(child.try_wait().unwrap().is_none(), "spared");

    let out = portscope(&[
        "kill",
        "--pid",
        &pid,
        "--started",
        &started.to_string(),
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("it ended"), "{}", stdout(&out));
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGTERM));

    let out = portscope(&["kill", "--pid", "4194305", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("No process has PID 4194305"));
    // A port or a PID, not both.
    assert_eq!(
        portscope(&["kill", "80", "--pid", &pid]).status.code(),
        Some(2)
    );
}
