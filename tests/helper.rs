//! `portscope helper` end to end, without pkexec: the real binary started directly (the tests
//! run as root), driven through the same client and source the window uses, and once with the
//! window as `nobody` and a set-user-ID-root helper, as on a desktop. Also what the two
//! ends do with garbage on the pipe, and that the helper ends with the process that started it.
//! Loopback only.

#![cfg(target_os = "linux")]

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::users::{NOBODY, as_nobody, is_root, python};
use portscope::collect::helper::protocol::{self, Body, MAX_FRAME, Reply};
use portscope::collect::helper::{HelperClient, HelperSource, HelperStatus, HelperSwitch, State};
use portscope::collect::{CollectError, FixedSource, OsSource, Poll, SocketSource};
use portscope::model::{Proto, SockState};

const DEADLINE: Duration = Duration::from_secs(20);

fn helper_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portscope"));
    command.arg("helper");
    command
}

/// The machine as a user who may see no process at all: every owner blank.
struct SeesNoOwners(OsSource);

impl SocketSource for SeesNoOwners {
    fn poll(&mut self) -> Result<Poll, CollectError> {
        let mut poll = self.0.poll()?;
        for s in &mut poll.sockets {
            s.pids = Default::default();
        }
        poll.processes.clear();
        // Another user's view: every socket is someone else's.
        poll.viewer = portscope::model::Viewer {
            uid: Some(12345),
            privileged: false,
        };
        Ok(poll)
    }
}

/// A process of `nobody` listening on loopback, and its port.
fn nobody_listener() -> (Child, u16) {
    let (child, port) = common::start_ready(as_nobody(&python()).args(["-c", common::PY_LISTENER]));
    (child, port.parse().unwrap())
}

#[test]
fn the_helper_fills_in_the_process_of_another_users_socket() {
    assert!(is_root(), "this test starts the helper as root directly");
    let (mut listener, port) = nobody_listener();
    let switch = Arc::new(HelperSwitch::default());
    let mut source = HelperSource::with_launch(
        Box::new(SeesNoOwners(OsSource::new().unwrap())),
        switch.clone(),
        Box::new(|| Ok(helper_command())),
    );
    let before = source.poll().unwrap();
    assert_eq!(switch.status(), HelperStatus::Off);
    assert!(!before.viewer.privileged);

    switch.request();
    let deadline = Instant::now() + DEADLINE;
    let (socket, poll) = loop {
        let poll = source.poll().unwrap();
        let found = poll.sockets.iter().find(|s| {
            s.proto == Proto::Tcp && s.state == SockState::Listen && s.local_port == port
        });
        if let Some(socket) = found
            && !socket.pids.is_empty()
        {
            break (socket.clone(), poll);
        }
        assert!(
            Instant::now() < deadline,
            "no owner after {DEADLINE:?}; helper: {:?}",
            switch.status()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(switch.status(), HelperStatus::Active);
    assert!(poll.viewer.privileged);
    assert_eq!(socket.uid, Some(NOBODY));
    assert_eq!(socket.pids.to_vec(), vec![listener.id()]);
    let process = &poll.processes[&listener.id()];
    let python =
        fs::canonicalize(fs::read_link(format!("/proc/{}/exe", listener.id())).unwrap()).unwrap();
    assert_eq!(process.exe.as_deref().map(PathBuf::from), Some(python));
    assert_eq!(process.uid, Some(NOBODY));
    assert_eq!(process.cmdline.get(1).map(String::as_str), Some("-c"));

    drop(listener.stdin.take());
    listener.wait().unwrap();
}

#[test]
fn a_helper_that_dies_is_reported_and_polls_go_on() {
    // Says it is ready, then ends.
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready");
    let mut wire = Vec::new();
    protocol::write_frame(
        &mut wire,
        &Reply {
            v: protocol::VERSION,
            body: Body::Ready { uid: 0 },
        },
    )
    .unwrap();
    fs::write(&ready, wire).unwrap();
    let switch = Arc::new(HelperSwitch::default());
    let mut source = HelperSource::with_launch(
        Box::new(FixedSource::new(common::demo_poll())),
        switch.clone(),
        Box::new(move || {
            let mut command = Command::new("cat");
            command.arg(&ready);
            Ok(command)
        }),
    );
    switch.request();
    let deadline = Instant::now() + DEADLINE;
    loop {
        let poll = source.poll().expect("polls go on without the helper");
        assert_eq!(poll.sockets.len(), common::demo_poll().sockets.len());
        if let HelperStatus::Failed(why) = switch.status() {
            assert!(why.contains("helper"), "{why}");
            assert!(!poll.viewer.privileged);
            break;
        }
        assert!(Instant::now() < deadline, "{:?}", switch.status());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A stand-in for the helper that writes exactly `bytes`, then does `then` (a shell command).
fn fake_helper(dir: &tempfile::TempDir, bytes: &[u8], then: &str) -> HelperClient {
    let file = dir.path().join("reply");
    fs::write(&file, bytes).unwrap();
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("cat \"$0\"; {then}"))
        .arg(&file);
    HelperClient::spawn(command).unwrap()
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

#[test]
fn the_client_turns_garbage_on_its_pipe_into_a_message() {
    let dir = tempfile::tempdir().unwrap();
    // Each keeps its pipe open (it sleeps on), except the one whose frame the end of the
    // stream cuts: a frame that stops coming while the pipe stays open is a helper that does
    // not answer (below).
    let cases: [(Vec<u8>, &str, &str); 4] = [
        (
            frame(b"\x1b]0;pwned\x07 not json"),
            "exec sleep 30",
            "not a version-1 message",
        ),
        (
            (MAX_FRAME + 1).to_be_bytes().to_vec(),
            "exec sleep 30",
            "larger than",
        ),
        (
            frame(br#"{"v":1,"kind":"ready","uid":0}"#)[..12].to_vec(),
            "exit 0",
            "cut short",
        ),
        (
            frame(br#"{"v":7,"kind":"ready","uid":0}"#),
            "exec sleep 30",
            "version 7",
        ),
    ];
    for (bytes, then, expected) in cases {
        let mut client = fake_helper(&dir, &bytes, then);
        match client.wait_ready(DEADLINE) {
            State::Gone(why) => assert!(why.contains(expected), "{why:?} for {bytes:?}"),
            other => panic!("{other:?} for {bytes:?}"),
        }
    }
}

#[test]
fn a_helper_that_does_not_answer_is_given_up_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let ready = frame(br#"{"v":1,"kind":"ready","uid":0}"#);
    let mut client = fake_helper(&dir, &ready, "exec sleep 30");
    assert_eq!(client.wait_ready(DEADLINE), &State::Active { uid: 0 });
    client.ask().unwrap();
    let started = Instant::now();
    let why = client
        .answer(Instant::now() + Duration::from_millis(300))
        .unwrap_err();
    assert!(why.contains("did not answer in time"), "{why}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(matches!(client.state(), State::Gone(_)));
}

/// The real helper, read from its standard output.
struct Helper {
    child: Child,
}

impl Helper {
    fn start() -> Helper {
        let child = helper_command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut helper = Helper { child };
        assert!(matches!(helper.read().body, Body::Ready { .. }));
        helper
    }

    fn write(&mut self, bytes: &[u8]) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    fn read(&mut self) -> Reply {
        protocol::read_frame::<Reply>(self.child.stdout.as_mut().unwrap()).unwrap()
    }

    fn error(&mut self) -> String {
        match self.read().body {
            Body::Error { message } => message,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    /// Its exit code, waiting at most the deadline.
    fn exit_code(&mut self) -> Option<i32> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "the helper did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_helper_refuses_garbage_and_stops_on_a_bad_length_or_a_cut_frame() {
    let mut helper = Helper::start();
    helper.write(&frame(b"\x00garbage"));
    assert!(helper.error().contains("refused"));
    helper.write(&frame(br#"{"v":1,"cmd":"sh","arg":"-c id"}"#));
    assert!(helper.error().contains("refused"));
    // Still answers.
    helper.write(&frame(br#"{"v":1,"cmd":"poll"}"#));
    assert!(matches!(helper.read().body, Body::Owners(_)));
    helper.write(&u32::MAX.to_be_bytes());
    assert!(helper.error().contains("larger than"));
    assert_eq!(helper.exit_code(), Some(2));

    let mut helper = Helper::start();
    helper.write(&frame(br#"{"v":1,"cmd":"poll"}"#)[..7]);
    drop(helper.child.stdin.take());
    assert!(helper.error().contains("cut short"));
    assert_eq!(helper.exit_code(), Some(2));

    let mut helper = Helper::start();
    drop(helper.child.stdin.take());
    assert_eq!(helper.exit_code(), Some(0));
}

/// Whether process `pid` has ended (gone, or a zombie nobody reaped yet).
fn ended(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

#[test]
fn the_helper_ends_with_the_process_that_started_it() {
    // A shell starts the helper on the shell's own input, which this test holds open: only the
    // shell's death can end the helper.
    let mut parent = Command::new("sh")
        .arg("-c")
        .arg("exec 3<&0; \"$0\" helper <&3 3<&- & echo $! >&2; exec sleep 60")
        .arg(env!("CARGO_BIN_EXE_portscope"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(parent.stderr.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let helper: u32 = line.trim().parse().unwrap();
    let ready = protocol::read_frame::<Reply>(parent.stdout.as_mut().unwrap()).unwrap();
    assert!(matches!(ready.body, Body::Ready { .. }));
    assert!(!ended(helper));

    // `wait` would close the shell's input: keep it open.
    let input = parent.stdin.take();
    parent.kill().unwrap();
    parent.wait().unwrap();
    let deadline = Instant::now() + DEADLINE;
    while !ended(helper) {
        assert!(
            Instant::now() < deadline,
            "the helper outlived its parent by {DEADLINE:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(input);
}

#[test]
fn show_all_processes_in_the_window_fills_in_the_owners() {
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;
    use portscope::ui::{PortscopeApp, Prefs};

    assert!(is_root(), "this test starts the helper as root directly");
    let (mut listener, port) = nobody_listener();
    let mut h = Harness::builder()
        .with_size([1280.0, 800.0])
        .with_context_setup(portscope::ui::setup_context)
        .build_ui_state(|ui, app: &mut PortscopeApp| app.ui(ui), {
            let prefs = Prefs {
                filter: format!("lport:{port}"),
                ..Prefs::default()
            };
            PortscopeApp::with_helper(
                &egui::Context::default(),
                Box::new(SeesNoOwners(OsSource::new().unwrap())),
                Box::new(|| Ok(helper_command())),
                prefs,
            )
        });
    let deadline = Instant::now() + DEADLINE;
    while h.query_by_label_contains("needs root").is_none() {
        assert!(Instant::now() < deadline, "the listener never showed");
        std::thread::sleep(Duration::from_millis(50));
        h.step();
    }
    assert!(h.query_all_by_label("helper active").next().is_none());
    h.get_all_by_label("Show all processes…")
        .next()
        .expect("the button")
        .click();
    let pid = listener.id().to_string();
    while h.query_all_by_label("helper active").next().is_none()
        || h.query_all_by_label(&pid).next().is_none()
    {
        assert!(
            Instant::now() < deadline,
            "the owner never showed; needs root: {}",
            h.query_by_label_contains("needs root").is_some()
        );
        std::thread::sleep(Duration::from_millis(50));
        h.step();
    }
    assert!(h.query_by_label_contains("needs root").is_none());
    assert!(h.query_by_label("Show all processes…").is_none());

    drop(listener.stdin.take());
    listener.wait().unwrap();
}

/// The window's half of [`show_all_processes_as_an_unprivileged_user`]: run by that test as
/// `nobody`, in a copy of this test binary, with the port and process to look for and the
/// helper to start in its environment.
#[test]
#[ignore = "the unprivileged half of show_all_processes_as_an_unprivileged_user"]
fn window_half_run_as_nobody() {
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;
    use portscope::ui::{PortscopeApp, Prefs};

    let (Ok(helper), Ok(port), Ok(pid), Ok(ns_port)) = (
        std::env::var("PORTSCOPE_TEST_HELPER"),
        std::env::var("PORTSCOPE_TEST_PORT"),
        std::env::var("PORTSCOPE_TEST_PID"),
        std::env::var("PORTSCOPE_TEST_NS_PORT"),
    ) else {
        panic!("run by show_all_processes_as_an_unprivileged_user, not by hand");
    };
    let ns_port: u16 = ns_port.parse().unwrap();
    let in_namespace = |h: &Harness<'_, PortscopeApp>| {
        h.state()
            .visible_rows()
            .any(|s| s.local_port == ns_port && !s.pids.is_empty())
    };
    // SAFETY: geteuid only reads the process's credentials.
    assert_ne!(
        unsafe { libc::geteuid() },
        0,
        "the window half must not be root"
    );
    let mut h = Harness::builder()
        .with_size([1280.0, 800.0])
        .with_context_setup(portscope::ui::setup_context)
        .build_ui_state(|ui, app: &mut PortscopeApp| app.ui(ui), {
            let prefs = Prefs {
                filter: format!("lport:{port},{ns_port}"),
                ..Prefs::default()
            };
            PortscopeApp::with_helper(
                &egui::Context::default(),
                Box::new(OsSource::all_namespaces().unwrap()),
                Box::new(move || {
                    let mut command = Command::new(&helper);
                    command.arg("helper");
                    Ok(command)
                }),
                prefs,
            )
        });
    let deadline = Instant::now() + DEADLINE;
    while h.query_by_label_contains("needs root").is_none() {
        assert!(Instant::now() < deadline, "root's listener never showed");
        std::thread::sleep(Duration::from_millis(50));
        h.step();
    }
    assert!(
        h.query_all_by_label(&pid).next().is_none(),
        "seen without the helper"
    );
    // Root's network namespace: nobody may not read it.
    assert!(
        !in_namespace(&h),
        "root's namespace read without the helper"
    );
    h.get_all_by_label("Show all processes…")
        .next()
        .expect("the button")
        .click();
    while h.query_all_by_label("helper active").next().is_none()
        || h.query_all_by_label(&pid).next().is_none()
        || !in_namespace(&h)
    {
        assert!(
            Instant::now() < deadline,
            "the owner or the namespace never showed; needs root: {}",
            h.query_by_label_contains("needs root").is_some()
        );
        std::thread::sleep(Duration::from_millis(50));
        h.step();
    }
    assert!(h.query_by_label_contains("needs root").is_none());
    // The namespace's socket says where it lives.
    assert!(
        h.query_all_by_label_contains("namespace net:[")
            .next()
            .is_some()
    );
}

/// The window as `nobody`, the helper as root, the pipe between them as in a desktop session:
/// the helper is a set-user-ID-root copy of portscope, which is what `pkexec` amounts to (a
/// root process the user's window starts and talks to). The window half sees root's listener
/// without an owner, clicks *Show all processes…*, and sees it.
#[test]
fn show_all_processes_as_an_unprivileged_user() {
    use std::os::unix::fs::PermissionsExt;

    assert!(
        is_root(),
        "this test makes a set-user-ID copy of the helper"
    );
    let shared = common::users::Shared::new("helper-suid");
    let helper = shared.path("portscope");
    fs::set_permissions(&helper, fs::Permissions::from_mode(0o4755)).unwrap();
    let window = shared.path("window-half");
    fs::copy(std::env::current_exe().unwrap(), &window).unwrap();
    fs::set_permissions(&window, fs::Permissions::from_mode(0o755)).unwrap();

    // Root's listener: what an unprivileged window cannot see the owner of.
    let (mut listener, port) =
        common::start_ready(Command::new(python()).args(["-c", common::PY_LISTENER]));
    let port: u16 = port.parse().unwrap();
    // Root's network namespace with a listener.
    let (mut in_namespace, ns_port) = common::start_ready(Command::new("unshare").args([
        "-n",
        "sh",
        "-c",
        "ip link set lo up && exec python3 -c \"$0\"",
        common::PY_LISTENER,
    ]));
    let ns_port: u16 = ns_port.parse().unwrap();

    let out = as_nobody(&window)
        .args([
            "--exact",
            "window_half_run_as_nobody",
            "--ignored",
            "--nocapture",
        ])
        .env("PORTSCOPE_TEST_HELPER", &helper)
        .env("PORTSCOPE_TEST_PORT", port.to_string())
        .env("PORTSCOPE_TEST_PID", listener.id().to_string())
        .env("PORTSCOPE_TEST_NS_PORT", ns_port.to_string())
        .env("HOME", shared.path(""))
        .current_dir(shared.path(""))
        .output()
        .unwrap();
    drop(listener.stdin.take());
    listener.wait().unwrap();
    drop(in_namespace.stdin.take());
    in_namespace.wait().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the window half failed:\n{text}");
    assert!(
        text.contains("1 passed"),
        "the window half did not run:\n{text}"
    );
}
