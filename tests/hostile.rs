//! Hostile text and hostile input: what other users' processes and the person at the keyboard
//! can hand portscope must neither rewrite the reader's terminal nor crash portscope.
//!
//! - Real `python3` children whose name (`prctl(PR_SET_NAME)`) and command line hold ESC
//!   sequences, newlines, tabs, `)`, bidi controls, invalid UTF-8 and a 64 KiB argument, each
//!   listening on a loopback port, seen through the real binary's `list`, `list --csv`,
//!   `list --json`, `who` and `explain`.
//! - The window on a fixed snapshot with such a process: table, details, groups, explanation.
//! - Property tests with a fixed seed, 0 panics allowed and every rejection with a message:
//!   20,000 arbitrary filter texts, 20,000 built from the filter grammar's pieces, 10,000 port
//!   texts and numbers for the *Go to port* box and the CLI's port arguments, and 5,000 whole
//!   command lines (`who`, `explain`, `list --port`, `kill`, `close`, invalid UTF-8 included)
//!   through the CLI's parser: 55,000 here, and 50,000 registry CSV files in
//!   `src/knowledge/csv_reader.rs` — 105,000 generated inputs in all.

mod common;

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::process::{Child, Command, Output, Stdio};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use portscope::model::text::escape;
use portscope::model::{ProcessInfo, Proto, SockState, Socket};
use portscope::ui::{PortscopeApp, Prefs};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::Value;

/// Characters that must never reach a reader raw: controls other than the newline that ends
/// a line (C0, DEL, C1), and the bidi and invisible characters that reorder or hide text.
/// Written out here rather than taken from the code under test.
fn forbidden(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(u32::from(c), 0x200b..=0x200f | 0x202a..=0x202e | 0x2066..=0x2069 | 0xfeff
            | 0x2028 | 0x2029 | 0x061c)
}

fn assert_readable(what: &str, text: &str) {
    if let Some((i, c)) = text.char_indices().find(|(_, c)| forbidden(*c)) {
        let from = text[..i].rfind('\n').map_or(0, |n| n + 1);
        panic!(
            "{what}: raw U+{:04X} in the line {:?}",
            u32::from(c),
            &text[from..text[i..].find('\n').map_or(text.len(), |n| i + n)]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Real processes with hostile names and command lines, through the real binary.

/// The name the child gives itself: 14 bytes, the kernel keeps 15.
const CHILD_NAME: &[u8] = b"\x1b[2K)(\n\t \xffevil";

/// Sets its name, listens on a loopback port the kernel picks, says which, and lives until its
/// stdin closes.
const CHILD: &str = r#"
import ctypes, socket, sys
if ctypes.CDLL(None).prctl(15, b"\x1b[2K)(\n\t \xffevil", 0, 0, 0) != 0:
    sys.exit("prctl failed")
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
print(s.getsockname()[1], flush=True)
sys.stdin.read()
"#;

/// The child's argv after `python3 -c CHILD`, as bytes.
fn child_args() -> Vec<Vec<u8>> {
    vec![
        b"\x1b]0;pwned\x07\x1b[1A".to_vec(),
        b"bad\xff\xfeutf8".to_vec(),
        "a) b (c\nd\te\u{202e}f\u{200b}g\u{9b}2K"
            .as_bytes()
            .to_vec(),
        b"$(touch${IFS}/nonexistent/x);`id`".to_vec(),
        b"back\\slash".to_vec(),
        vec![b'A'; 64 * 1024],
    ]
}

/// argv[0]: a spreadsheet formula with a cursor move.
const ARGV0: &[u8] = b"=HYPERLINK(\"http://x\")\x1b[1A";

/// Replaces itself with python running the given argv (bytes, argv[0] included): `python3`
/// may be a wrapper script that would not keep an argv[0] set from outside.
const LAUNCHER: &str =
    "import os, sys; os.execv(sys.executable, [os.fsencode(a) for a in sys.argv[1:]])";

/// A child process that ends (stdin closed, then killed) when dropped.
struct Hostile {
    child: Child,
    port: u16,
}

impl Hostile {
    fn start() -> Hostile {
        let mut command = Command::new("python3");
        command
            .args(["-c", LAUNCHER])
            .arg(OsStr::from_bytes(ARGV0))
            .args(["-c", CHILD])
            .args(child_args().into_iter().map(OsString::from_vec))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn().expect("python3 runs");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped");
        // Blocks only until the child prints or exits (then the read returns empty).
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("the child did not say its port: {line:?}")
        });
        Hostile { child, port }
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn portscope(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_portscope"))
        .args(args)
        .output()
        .expect("the binary runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    out
}

fn text_of(args: &[&str]) -> String {
    let out = portscope(args);
    let text = String::from_utf8(out.stdout).expect("valid UTF-8");
    assert_readable(&format!("{args:?}"), &text);
    text
}

/// At most 300 characters of `text`: the 64 KiB argument makes whole outputs unreadable.
fn short(text: &str) -> String {
    text.chars().take(300).collect()
}

/// Equal texts; when not, where they part.
fn assert_same(actual: &str, expected: &str) {
    if actual != expected {
        let at = actual
            .char_indices()
            .zip(expected.chars())
            .find(|((_, a), e)| a != e)
            .map_or(actual.len().min(expected.len()), |((i, _), _)| i);
        let from = actual.floor_char_boundary(at.saturating_sub(40));
        panic!(
            "differ at byte {at} of {}/{} bytes:\n  actual   {:?}\n  expected {:?}",
            actual.len(),
            expected.len(),
            short(&actual[from..]),
            short(expected.get(from..).unwrap_or_default()),
        );
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The child's process record in `list --json`: raw values, as the OS reported them.
fn json_process(child: &Hostile) -> Value {
    let out = portscope(&["list", "--json", "--port", &child.port.to_string()]);
    let list: Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let entry = list
        .as_array()
        .expect("an array")
        .iter()
        .find(|e| e["local_port"] == child.port && e["state"] == "LISTEN")
        .unwrap_or_else(|| panic!("port {} not listed: {list}", child.port))
        .clone();
    assert_eq!(entry["pids"], serde_json::json!([child.child.id()]));
    entry["processes"][0].clone()
}

fn expected_cmdline() -> Vec<String> {
    let mut argv = vec![lossy(ARGV0), "-c".to_owned(), CHILD.to_owned()];
    argv.extend(child_args().iter().map(|a| lossy(a)));
    argv
}

#[test]
fn json_holds_the_raw_name_and_command_line() {
    let child = Hostile::start();
    let p = json_process(&child);
    // Invalid UTF-8 arrives as U+FFFD; everything else as the process set it.
    assert_eq!(p["name"], lossy(CHILD_NAME), "{}", short(&p.to_string()));
    let cmdline: Vec<String> = serde_json::from_value(p["cmdline"].clone()).unwrap();
    assert_same(&cmdline.join(" "), &expected_cmdline().join(" "));
    assert_eq!(cmdline.last().map(String::len), Some(64 * 1024));
}

#[test]
fn text_outputs_show_hostile_text_escaped() {
    let child = Hostile::start();
    let p = json_process(&child);
    let name = p["name"].as_str().expect("a name").to_owned();
    let shown_name = escape(&name).into_owned();
    assert!(shown_name.starts_with(r"\e[2K)(\n\t "), "{shown_name}");
    let port = child.port.to_string();
    let endpoint = format!("127.0.0.1:{port} ");

    let list = text_of(&["list"]);
    // Its listener: other tests' connections may use the same port number elsewhere.
    let row: Vec<&str> = list
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some(endpoint.trim()) && l.contains("LISTEN"))
        .collect();
    assert_eq!(row.len(), 1, "{}", short(&list));
    assert!(row[0].contains(&shown_name), "{}", row[0]);

    let who = text_of(&["who", &port]);
    assert!(
        who.starts_with(&format!("{shown_name} (pid {}", child.child.id())),
        "{}",
        short(&who)
    );
    let info = ProcessInfo {
        pid: 0,
        name: name.clone(),
        exe: None,
        cmdline: expected_cmdline(),
        uid: None,
        user: None,
        parent_pid: None,
        start_time: None,
    };
    let command = escape(&info.cmdline_string()).into_owned();
    let shown_command = who
        .lines()
        .find_map(|l| l.strip_prefix("  command  "))
        .unwrap_or_else(|| panic!("no command line in {}", short(&who)));
    assert_same(shown_command, &command);
    assert!(command.contains(r"'\e]0;pwned\x07\e[1A'"), "{command}");
    assert!(command.contains(r"\u{202e}f\u{200b}g\u{9b}2K"), "{command}");

    let explain = text_of(&["explain", &port]);
    assert!(
        explain.contains(&format!("held by {shown_name} (pid {}", child.child.id())),
        "{}",
        short(&explain)
    );
}

#[test]
fn csv_cells_are_raw_but_never_a_formula() {
    let child = Hostile::start();
    let out = portscope(&["list", "--csv", "--port", &child.port.to_string()]);
    let mut reader = csv::Reader::from_reader(out.stdout.as_slice());
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let row = rows
        .iter()
        .find(|r| r[column("local_port")] == child.port.to_string())
        .expect("the child's row");
    assert_eq!(&row[column("local_addr")], "127.0.0.1");
    assert_eq!(&row[column("pids")], child.child.id().to_string());
    assert_eq!(&row[column("processes")], lossy(CHILD_NAME));
    // argv[0] starts with '=': the cell gets a leading quote and is otherwise raw.
    assert_same(
        &row[column("cmdline")],
        &format!("'{}", expected_cmdline().join(" ")),
    );
}

// ---------------------------------------------------------------------------------------------
// The window on a fixed snapshot.

const NAME: &str = "\x1b[2Kev)il\n x\u{202e}";
const USER: &str = "bob\x1b[1A\u{2067}";

fn hostile_window() -> Harness<'static, PortscopeApp> {
    let mut poll = common::demo_poll();
    poll.sockets.push(Socket {
        host: 0,
        proto: Proto::Tcp,
        local_addr: common::v4(127, 0, 0, 1),
        local_port: 7777,
        remote_addr: None,
        remote_port: None,
        state: SockState::Listen,
        pids: [31337u32][..].into(),
        uid: Some(1002),
        inode: Some(777),
        cookie: 0,
        recv_q: 0,
        send_q: 0,
        netns: 0,
    });
    poll.processes.insert(
        31337,
        ProcessInfo {
            pid: 31337,
            name: NAME.to_owned(),
            exe: Some("/tmp/\u{202e}fdp.exe\n".to_owned()),
            cmdline: vec!["\x1b]0;t\x07".to_owned(), "line\nbreak".to_owned()],
            uid: Some(1002),
            user: Some(USER.to_owned()),
            parent_pid: Some(1),
            start_time: Some(1_764_000_000),
        },
    );
    poll.users.insert(1002, USER.to_owned());
    let snap = portscope::model::Snapshot::from_poll(
        1,
        std::time::SystemTime::now(),
        std::time::Duration::from_millis(3),
        poll,
    );
    let mut h = Harness::builder()
        .with_size([1280.0, 800.0])
        .with_context_setup(portscope::ui::setup_context)
        .build_ui_state(
            |ui, app: &mut PortscopeApp| app.ui(ui),
            PortscopeApp::from_snapshot(snap, Prefs::default()),
        );
    h.run();
    h
}

/// No text on screen holds a raw control or bidi character.
fn assert_window_readable(h: &Harness<'_, PortscopeApp>, step: &str) {
    let raw: Vec<String> = h
        .query_all_by(|n| {
            n.label().is_some_and(|l| l.chars().any(forbidden))
                || n.value().is_some_and(|v| v.chars().any(forbidden))
        })
        .map(|n| format!("{n:?}"))
        .collect();
    assert!(raw.is_empty(), "{step}: raw text on screen: {raw:?}");
}

#[test]
fn the_window_shows_hostile_text_escaped() {
    let mut h = hostile_window();
    let name = r"\e[2Kev)il\n x\u{202e}";
    let user = r"bob\e[1A\u{2067}";
    assert_eq!(escape(NAME), name);
    assert_window_readable(&h, "table");
    // The table: one row for the process, its name and user escaped.
    h.get_by_label(name);
    h.get_by_label(user);

    h.get_by_label("7777").click();
    h.run();
    assert_eq!(h.state().selected().map(|s| s.local_port), Some(7777));
    assert_window_readable(&h, "details");
    h.get_by_label(&format!("{name}  (PID 31337)"));
    h.get_by_label(r"/tmp/\u{202e}fdp.exe\n");
    h.get_by_label(r"'\e]0;t\x07' 'line\nbreak'");
    h.get_by_label(&format!("{user} (uid 1002)"));
    // The explanation of port 7777 lists what uses it now.
    h.get_by_label_contains(&format!("·  {name}  ·"));
    // Copy (Ctrl+C) puts the row on the clipboard as one tab-separated line.
    h.event(egui::Event::Copy);
    h.step();
    let copied: Vec<&String> = h
        .output()
        .platform_output
        .commands
        .iter()
        .filter_map(|c| match c {
            egui::OutputCommand::CopyText(text) => Some(text),
            _ => None,
        })
        .collect();
    assert_eq!(
        copied,
        [&format!(
            "TCP\t127.0.0.1:7777\t*\tLISTEN\t31337\t{name}\t{user}"
        )]
    );
    h.run();

    h.get_by(|n| {
        n.label().as_deref() == Some("Group by process") && n.role() != egui::accesskit::Role::Label
    })
    .click();
    h.run();
    assert_window_readable(&h, "groups");
    h.get_by_label(&format!("{name} (PID 31337) — 1 socket, 1 listening"));
}

// ---------------------------------------------------------------------------------------------
// Property tests: hostile input never panics, and every rejection says why.

fn runner(cases: u32) -> TestRunner {
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

/// Parses `text` as a filter and, when it parses, runs it over every row of the demo table.
fn check_filter(snap: &portscope::model::Snapshot, text: &str) -> Result<(), TestCaseError> {
    match portscope::model::query::parse(text) {
        Ok(query) => {
            for s in &snap.sockets {
                query.matches(snap, s);
            }
        }
        Err(e) => {
            prop_assert!(!e.message.trim().is_empty(), "no message for {text:?}");
            prop_assert!(!e.to_string().trim().is_empty());
            prop_assert!(
                text.get(e.span.clone()).is_some_and(|t| !t.is_empty()),
                "span {:?} does not point into {text:?}",
                e.span
            );
        }
    }
    portscope::model::Query::parse_lossy(text);
    Ok(())
}

#[test]
fn any_filter_text_parses_or_says_why() {
    let snap = common::demo_snapshot();
    runner(20_000)
        .run(&any::<String>(), |text| check_filter(&snap, &text))
        .unwrap();
}

#[test]
fn filter_texts_built_from_the_grammar_parse_or_say_why() {
    let snap = common::demo_snapshot();
    let key = prop::sample::select(vec![
        "", "port", "lport", "rport", "ip", "addr", "laddr", "raddr", "proto", "state", "range",
        "scope", "pid", "proc", "cmd", "user", "rate", "rtt", "retrans", "recvq", "sendq", "bogus",
        "PORT", "RTT",
    ]);
    let value = prop_oneof![
        prop::sample::select(vec![
            "",
            "80",
            "443",
            "0",
            "65535",
            "65536",
            "99999999999",
            "8000-8999",
            "-1023",
            "50000-",
            "9-1",
            "1,2,,3",
            ",",
            "-",
            "127.0.0.1",
            "::1",
            "[::1]",
            "[::1",
            "10.0.0.0/8",
            "fe80::/10",
            "1.2.3.4/33",
            "/",
            "listen",
            "listn",
            "time_wait",
            "time-wait",
            "TIMEWAIT",
            "unconn",
            "tcp6",
            "udp4",
            "sctp",
            "well-known",
            "ephemeral",
            "dynamic",
            "all",
            "local",
            "iface",
            "\"my server\"",
            "\"",
            "\"a\\\"b\"",
            "\\",
            "nginx",
            "root",
            "é",
            "\u{202e}",
            "\x1b[2K",
            ">100k",
            ">=1.5m",
            "<0.1g",
            ">100x",
            ">50ms",
            "<=800us",
            ">1.2s",
            ">50",
            ">5h",
            ">0",
            "=3",
            ">",
            "<=",
            ">-1",
            ">1.2.3",
            ">99999999999999999999g",
            "1e30s",
        ])
        .prop_map(str::to_owned),
        "[ -~]{0,8}",
        any::<String>().prop_map(|s| s.chars().take(6).collect()),
    ];
    let term = (any::<bool>(), key, any::<bool>(), value).prop_map(|(neg, key, colon, value)| {
        let dash = if neg { "-" } else { "" };
        let colon = if colon || !key.is_empty() { ":" } else { "" };
        format!("{dash}{key}{colon}{value}")
    });
    let text = (
        prop::collection::vec(term, 0..6),
        prop::sample::select(vec![" ", "  ", "\t", "\u{3000}"]),
    )
        .prop_map(|(terms, sep)| terms.join(sep));
    runner(20_000)
        .run(&text, |text| check_filter(&snap, &text))
        .unwrap();
}

/// What the port box and `who`/`explain`/`list --port` must accept: plain decimal 0–65535,
/// spaces around allowed.
fn is_port(text: &str) -> Option<u16> {
    let t = text.trim();
    (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .then(|| t.trim_start_matches('0'))
        .filter(|digits| digits.len() <= 5)
        .and_then(|digits| {
            digits
                .parse::<u32>()
                .ok()
                .or(digits.is_empty().then_some(0))
        })
        .and_then(|n| u16::try_from(n).ok())
}

fn check_port(text: &str) -> Result<(), TestCaseError> {
    let parsed = portscope::knowledge::parse_port(text);
    prop_assert_eq!(parsed.as_ref().ok().copied(), is_port(text), "{:?}", text);
    if let Err(e) = &parsed {
        prop_assert!(!e.to_string().trim().is_empty());
    }
    let arg = portscope::cli::port_arg(text);
    prop_assert_eq!(arg.as_ref().ok().copied(), is_port(text));
    if let Err(message) = &arg {
        prop_assert!(!message.trim().is_empty());
    }
    Ok(())
}

#[test]
fn port_texts_parse_exactly_when_they_are_a_port() {
    let text = prop_oneof![
        any::<String>(),
        "[ \t]{0,2}[-+0xob]{0,2}[0-9]{0,7}[ \t]{0,2}",
        prop::sample::select(vec![
            "", " ", "-0", "0x50", "0o7", "0b1", "٣", "８０", "1e3"
        ])
        .prop_map(str::to_owned),
    ];
    runner(6_000).run(&text, |t| check_port(&t)).unwrap();
    runner(4_000)
        .run(&any::<i64>(), |n| {
            check_port(&n.to_string())?;
            let parsed = portscope::knowledge::parse_port(&n.to_string());
            prop_assert_eq!(parsed.ok(), u16::try_from(n).ok());
            Ok(())
        })
        .unwrap();
}

#[test]
fn command_line_port_arguments_parse_or_say_why() {
    use clap::Parser;
    use portscope::cli::{Cli, Command as Sub};
    let arg = prop_oneof![
        any::<String>().prop_map(OsString::from),
        prop::collection::vec(any::<u8>(), 0..12).prop_map(OsString::from_vec),
        "-?[0-9]{1,6}".prop_map(OsString::from),
    ];
    for command in [
        &["who"][..],
        &["explain"],
        &["list", "--port"],
        &["kill"],
        &["close"],
        &["free", "--near"],
    ] {
        runner(1_000)
            .run(&arg, |arg| {
                let mut argv: Vec<OsString> = vec!["portscope".into()];
                argv.extend(command.iter().map(OsString::from));
                argv.push(arg.clone());
                match Cli::try_parse_from(&argv) {
                    Ok(cli) => {
                        let port = match cli.command {
                            Some(Sub::Who(a)) => Some(a.port),
                            Some(Sub::Explain(a)) => Some(a.port),
                            Some(Sub::List(a)) => a.port,
                            Some(Sub::Kill(a)) => a.port,
                            Some(Sub::Free(a)) => a.near,
                            Some(Sub::Check(_) | Sub::Helper | Sub::Serve(_)) => None,
                            Some(Sub::Close(a)) => match a.target {
                                portscope::cli::CloseTarget::Port(port) => Some(port),
                                // One end, ADDR:PORT: what std reads as a socket address.
                                portscope::cli::CloseTarget::End(end) => {
                                    let text = arg.to_str().expect("a parsed end is text");
                                    prop_assert_eq!(
                                        text.trim().parse::<std::net::SocketAddr>().ok(),
                                        Some(end)
                                    );
                                    return Ok(());
                                }
                                // One socket, LOCAL-REMOTE: two ends std reads.
                                portscope::cli::CloseTarget::Socket { local, .. } => {
                                    let text = arg.to_str().expect("a parsed socket is text");
                                    let (l, _) = text.trim().split_once('-').expect("two ends");
                                    prop_assert_eq!(
                                        l.parse::<std::net::SocketAddr>().ok(),
                                        Some(local)
                                    );
                                    return Ok(());
                                }
                            },
                            Some(Sub::Watch(_)) | None => None,
                        };
                        let text = arg.to_str().expect("a parsed port is text");
                        prop_assert_eq!(port, is_port(text), "{:?}", argv);
                    }
                    Err(e) => prop_assert!(!e.render().to_string().trim().is_empty()),
                }
                Ok(())
            })
            .unwrap();
    }
}
