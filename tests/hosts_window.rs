//! Hosts beside this machine in one window: the *Hosts…* dialog driven with clicks (on
//! made-up machines whose PIDs are the same numbers for other processes), each row read
//! against its own machine, and a real host over a real OpenSSH server (see
//! `common/sshd.rs`): a socket this test opens shows as the host's, the status bar names the
//! host and how it is read, and a host that cannot be reached says why while the window keeps
//! drawing.

mod common;

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use portscope::act::remote::{RemoteAction, RemoteOutcome};
use portscope::act::signal::Signal;
use portscope::collect::{CollectError, FixedSource, Poll, SocketSource};
use portscope::knowledge::EphemeralRange;
use portscope::ui::hosts::{Connect, HostLine, HostMode, Opened};
use portscope::ui::remote_act::RemoteActFn;
use portscope::ui::{PortscopeApp, Prefs};

/// The made-up host's listener: port 80 of this machine's made-up table moved to 45000,
/// inside the host's own ephemeral range.
const HOST_PORT: u16 = 45000;

fn harness(app: PortscopeApp) -> Harness<'static, PortscopeApp> {
    let mut h = Harness::builder()
        .with_size([1280.0, 800.0])
        .with_context_setup(portscope::ui::setup_context)
        .build_ui_state(|ui, app: &mut PortscopeApp| app.ui(ui), app);
    h.step();
    h
}

/// Made-up machines: this one is the demo table; every host is the demo table with port 80
/// moved to [`HOST_PORT`], each process renamed `HOST-name` (the same PIDs, other processes)
/// and the ephemeral range 40000–50000. Records which machines were opened; a host's line is
/// what `line` holds.
struct Fake {
    opened: Arc<Mutex<Vec<Option<String>>>>,
    line: Arc<Mutex<HostLine>>,
    /// What was asked of hosts (host, action), and what they answer.
    acted: Arc<Mutex<Vec<(String, RemoteAction)>>>,
    answer: Arc<Mutex<RemoteOutcome>>,
    /// Once set, the hosts' listener on [`HOST_PORT`] is gone from their tables.
    host_listener_gone: Arc<std::sync::atomic::AtomicBool>,
}

/// A fixed table from which the listener on [`HOST_PORT`] goes once `gone` is set.
struct Closing {
    poll: Poll,
    range: EphemeralRange,
    gone: Arc<std::sync::atomic::AtomicBool>,
}

impl SocketSource for Closing {
    fn poll(&mut self) -> Result<Poll, CollectError> {
        let mut poll = self.poll.clone();
        if self.gone.load(std::sync::atomic::Ordering::Relaxed) {
            poll.sockets.retain(|s| s.local_port != HOST_PORT);
        }
        Ok(poll)
    }

    fn ephemeral_range(&mut self) -> EphemeralRange {
        self.range.clone()
    }
}

impl Fake {
    fn new() -> Fake {
        Fake {
            opened: Arc::default(),
            line: Arc::new(Mutex::new(HostLine {
                host: "db1".into(),
                mode: HostMode::Stream,
                error: None,
                retry_at: None,
                note: None,
            })),
            acted: Arc::default(),
            answer: Arc::new(Mutex::new(RemoteOutcome::Done {
                message: "ended".into(),
            })),
            host_listener_gone: Arc::default(),
        }
    }

    fn connect(&self) -> Connect {
        let (opened, line) = (self.opened.clone(), self.line.clone());
        let (acted, answer) = (self.acted.clone(), self.answer.clone());
        let gone = self.host_listener_gone.clone();
        Arc::new(move |host, _interval| {
            opened.lock().unwrap().push(host.map(str::to_owned));
            let mut poll = common::demo_poll();
            let Some(host) = host else {
                return Ok(Opened {
                    source: Box::new(FixedSource::new(poll)),
                    status: None,
                    helper: None,
                    act: None,
                });
            };
            for s in &mut poll.sockets {
                if s.local_port == 80 {
                    s.local_port = HOST_PORT;
                }
            }
            for p in poll.processes.values_mut() {
                p.name = format!("{host}-{}", p.name);
            }
            let range =
                EphemeralRange::from_linux_sysctl(Ok("40000 50000".into()), Ok(String::new()));
            let line = line.clone();
            let host = host.to_owned();
            let (acted, answer, name) = (acted.clone(), answer.clone(), host.clone());
            let act: RemoteActFn = Arc::new(move |action: &RemoteAction| {
                acted.lock().unwrap().push((name.clone(), action.clone()));
                answer.lock().unwrap().clone()
            });
            Ok(Opened {
                source: Box::new(Closing {
                    poll,
                    range,
                    gone: gone.clone(),
                }),
                status: Some(Arc::new(move || HostLine {
                    host: host.clone(),
                    ..line.lock().unwrap().clone()
                })),
                helper: None,
                act: Some(act),
            })
        })
    }

    fn app(&self, hosts: &[&str], prefs: Prefs) -> PortscopeApp {
        let mut prefs = Prefs {
            interval_ms: 100,
            ..prefs
        };
        // No highlight that keeps the window repainting while the dialog is clicked through.
        prefs.tracker.new_for = Duration::ZERO;
        prefs.tracker.changed_for = Duration::ZERO;
        prefs.tracker.linger = Duration::ZERO;
        PortscopeApp::with_connect(
            &egui::Context::default(),
            self.connect(),
            hosts.iter().map(|h| (*h).to_owned()).collect(),
            prefs,
        )
    }
}

/// Step frames until `ready` holds (a collector thread fills the table), at most 15 s.
fn until(
    h: &mut Harness<'_, PortscopeApp>,
    what: &str,
    ready: impl Fn(&Harness<'_, PortscopeApp>) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !ready(h) {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
        h.step();
    }
}

/// What a label says (egui puts a label's text in its value).
fn text_of(node: &egui_kittest::Node<'_>) -> String {
    let node = node.accesskit_node();
    node.label().or(node.value()).unwrap_or_default()
}

fn shows_port(h: &Harness<'_, PortscopeApp>, port: u16) -> bool {
    h.state().visible_rows().any(|s| s.local_port == port)
}

/// Whether a host's row (not this machine's) is on `port`.
fn shows_host_port(h: &Harness<'_, PortscopeApp>, port: u16) -> bool {
    h.state()
        .visible_rows()
        .any(|s| s.local_port == port && s.host != 0)
}

fn open_dialog(h: &mut Harness<'_, PortscopeApp>) {
    h.get_by_label("Hosts…").click();
    // Polls keep coming while it opens: a few frames, not until nothing repaints.
    h.run_steps(6);
    h.get_by_label("This machine");
}

fn reopen(h: &mut Harness<'_, PortscopeApp>) {
    h.get_by_label("Close").click();
    h.run();
    assert!(h.query_by_label("This machine").is_none());
    open_dialog(h);
}

fn add(h: &mut Harness<'_, PortscopeApp>, text: &str) {
    h.get_by_label("New host").click();
    h.run_steps(4);
    h.get_by_label("New host").type_text(text);
    h.run_steps(4);
    h.get_by_label("Add").click();
    h.run_steps(4);
}

#[test]
fn hosts_are_added_checked_remembered_and_removed() {
    let fake = Fake::new();
    let mut h = harness(fake.app(&[], Prefs::default()));
    open_dialog(&mut h);
    // What ssh would read as an option, or that cannot be a host, is refused with the reason.
    add(&mut h, "-oProxyCommand=touch /tmp/x");
    h.get_by_label_contains("looks like an option");
    assert!(h.state().prefs().hosts.is_empty());
    // A refused host stays in the box; the dialog opened again starts empty.
    reopen(&mut h);
    add(&mut h, "db 1");
    h.get_by_label_contains("spaces or control characters");
    assert!(h.state().prefs().hosts.is_empty());
    reopen(&mut h);

    add(&mut h, "db1");
    add(&mut h, "ops@staging");
    assert_eq!(h.state().prefs().hosts, ["db1", "ops@staging"]);
    assert!(h.query_by_label_contains("looks like an option").is_none());
    h.get_by_label("Remove db1");
    add(&mut h, "db1");
    h.get_by_label_contains("db1 is in the list");
    assert_eq!(h.state().prefs().hosts, ["db1", "ops@staging"]);

    // Remembered: saved and read back as the next run would.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("settings.ron");
    let mut store = portscope::ui::prefs::load(Some(&file)).store.unwrap();
    store.save(h.state().prefs());
    drop(store);
    let loaded = portscope::ui::prefs::load(Some(&file));
    assert_eq!(loaded.prefs.hosts, ["db1", "ops@staging"]);
    assert!(loaded.notice.is_none());

    // Each added host is read at once (the one refused as listed is not opened again).
    assert_eq!(
        *fake.opened.lock().unwrap(),
        [None, Some("db1".into()), Some("ops@staging".into())]
    );
    h.get_by_label("Close").click();
    h.run_steps(4);
    until(&mut h, "both hosts' rows", |h| {
        let hosts: std::collections::BTreeSet<u16> =
            h.state().visible_rows().map(|s| s.host).collect();
        hosts.len() == 3
    });

    open_dialog(&mut h);
    h.get_by_label("Remove db1").click();
    h.run_steps(4);
    assert_eq!(h.state().prefs().hosts, ["ops@staging"]);
    assert!(h.query_by_label("Remove db1").is_none());
    assert_eq!(h.state().listed_hosts(), ["ops@staging"]);
    // Its rows leave the table; this machine's and the other host's stay.
    until(&mut h, "db1's rows gone", |h| {
        let hosts: std::collections::BTreeSet<u16> =
            h.state().visible_rows().map(|s| s.host).collect();
        hosts.len() == 2 && hosts.contains(&0)
    });
    assert!(
        h.state().visible_rows().filter(|s| s.host != 0).all(|s| h
            .state()
            .snapshot()
            .machine_name(s)
            == Some("ops@staging"))
    );
    // Taken out of the table is not closed: nothing of db1 is in *Recently closed*.
    assert_eq!(h.state().closed_history().count(), 0);
}

#[test]
fn a_hosts_rows_show_beside_this_machines_each_read_against_its_own_machine() {
    let fake = Fake::new();
    let prefs = Prefs {
        hosts: vec!["db1".into()],
        ..Prefs::default()
    };
    let mut h = harness(fake.app(&[], prefs));
    until(&mut h, "both machines' rows", |h| {
        shows_port(h, 80) && shows_host_port(h, HOST_PORT)
    });
    // One table: this machine's listener and the host's, and a Host column naming each.
    let local_name = portscope::collect::machines::local_host_name();
    h.get_by_label("Host");
    assert!(h.get_all_by_label("db1").count() >= 7, "each of db1's rows");
    assert!(h.get_all_by_label(&local_name).count() >= 7);
    // The same PIDs on both machines are other processes: each row names its own.
    let rows: Vec<(u16, u16, String)> = h
        .state()
        .visible_rows()
        .map(|s| (s.host, s.local_port, h.state().snapshot().process_label(s)))
        .collect();
    assert!(rows.contains(&(0, 80, "nginx, nginx".into())), "{rows:?}");
    let host_id = rows
        .iter()
        .find(|(_, port, _)| *port == HOST_PORT)
        .map(|(host, _, _)| *host)
        .unwrap();
    assert_ne!(host_id, 0);
    assert!(
        rows.contains(&(host_id, HOST_PORT, "db1-nginx, db1-nginx".into())),
        "{rows:?}"
    );
    h.get_by_label("db1-nginx, db1-nginx");
    h.get_by_label("nginx, nginx");

    // A host's row: the explanation and the bar read the host's ephemeral range.
    h.get_by_label(&HOST_PORT.to_string()).click();
    h.run();
    assert_eq!(h.state().explained_port(), Some(HOST_PORT));
    assert_eq!(h.state().focus_host(), host_id);
    assert_eq!(h.state().selected().map(|s| s.host), Some(host_id));
    h.get_by_label("Ephemeral range: 40000–50000");
    assert!(
        h.query_by_label_contains("Ephemeral range: 32768")
            .is_none()
    );
    // Said as the host's, not this machine's.
    h.get_by_label_contains("db1's ephemeral range 40000–50000");
    h.get_by_label_contains("On db1 now (1)");
    assert!(
        h.query_by_label_contains("this machine's ephemeral range")
            .is_none()
    );
    // Its owner in the details is the host's process of that PID.
    h.get_by_label_contains("db1-nginx  (PID 1200)");
    // This machine's row: this machine's range again.
    h.get_by_label("80").click();
    h.run();
    assert_eq!(h.state().focus_host(), 0);
    h.get_by_label_contains("Ephemeral range: 32768");
    h.get_by_label_contains("nginx  (PID 1200)");
    assert!(h.query_by_label_contains("db1-nginx  (PID 1200)").is_none());

    // host: narrows to one machine.
    let filter = h.get_by_label("Filter");
    filter.click();
    filter.type_text("host:db1");
    h.run();
    until(&mut h, "host:db1 applied", |h| !shows_port(h, 80));
    assert!(h.state().visible_rows().all(|s| s.host == host_id));
    assert!(shows_port(&h, HOST_PORT));
    // The status bar names the host and how it is read.
    h.get_by_label("db1 · portscope stream");

    // The host's listener closes: *Recently closed* says on which machine.
    fake.host_listener_gone
        .store(true, std::sync::atomic::Ordering::Relaxed);
    until(&mut h, "the host's listener closed", |h| {
        h.state()
            .closed_history()
            .any(|c| c.socket.local_port == HOST_PORT)
    });
    let closed = h
        .state()
        .closed_history()
        .find(|c| c.socket.local_port == HOST_PORT)
        .unwrap();
    assert_eq!(closed.socket.host, host_id);
    assert_eq!(closed.process_label(), "db1-nginx, db1-nginx");
    h.get_by_label_contains("Recently closed (").click();
    h.run_steps(30);
    h.get_by_label("db1  0.0.0.0:45000");
}

#[test]
fn a_failing_host_says_why_and_when_it_is_tried_again() {
    let fake = Fake::new();
    {
        let mut line = fake.line.lock().unwrap();
        line.error = Some("authentication failed".into());
        line.retry_at = Some(Instant::now() + Duration::from_secs(8));
    }
    let mut h = harness(fake.app(&["db1"], Prefs::default()));
    let text = text_of(&h.get_by_label_contains("db1: authentication failed — retrying in "));
    assert!(text.ends_with(" s"), "{text}");
    // The host came back: its mode instead.
    fake.line.lock().unwrap().error = None;
    fake.line.lock().unwrap().retry_at = None;
    fake.line.lock().unwrap().mode = HostMode::Fallback;
    h.step();
    h.get_by_label("db1 · ss fallback");
    assert!(h.query_by_label_contains("authentication failed").is_none());
}

#[test]
fn a_hosts_process_and_socket_are_acted_on_there_after_the_confirmation() {
    let fake = Fake::new();
    let mut h = harness(fake.app(&["db1"], Prefs::default()));
    until(&mut h, "the host's table", |h| {
        shows_host_port(h, HOST_PORT)
    });
    h.run_steps(30);
    let acted = |fake: &Fake| fake.acted.lock().unwrap().clone();
    // The menu of the host's row: its own process, ended on the host.
    h.get_by_label(&HOST_PORT.to_string()).click_secondary();
    h.run_steps(30);
    h.get_by_label("End db1-nginx (PID 1200)…").click();
    h.run_steps(30);
    h.get_by_label("End db1-nginx (PID 1200) on db1?");
    assert!(acted(&fake).is_empty(), "nothing before the confirmation");
    h.get_by_label("End process (SIGTERM)").click();
    until(&mut h, "the host's answer", |h| {
        h.query_by_label("Done on db1.").is_some()
    });
    h.run_steps(30);
    h.get_by_label("ended");
    let end = RemoteAction::End {
        pid: 1200,
        start_time: Some(1_764_000_000),
        signal: Signal::Terminate,
    };
    assert_eq!(acted(&fake), [("db1".to_owned(), end)]);
    h.get_by_label("Close").click();
    h.run_steps(30);
    assert!(h.query_by_label("Done on db1.").is_none());

    // The details panel: the listener closed there; the SSH user lacks the right.
    *fake.answer.lock().unwrap() = RemoteOutcome::NotPermitted {
        message: "closing needs root".into(),
        advice: "sudo portscope close 0.0.0.0:45000-*".into(),
    };
    h.get_by_label(&HOST_PORT.to_string()).click();
    h.run_steps(30);
    h.get_by_label("Close connection…").click();
    h.run_steps(30);
    h.get_by_label("Close this listener on db1?");
    h.get_by_label("Close connection").click();
    until(&mut h, "the host's refusal", |h| {
        h.query_by_label_contains("your SSH user on db1 may not do this")
            .is_some()
    });
    h.run_steps(30);
    h.get_by_label("sudo portscope close 0.0.0.0:45000-*");
    let listener = h
        .state()
        .visible_rows()
        .find(|s| s.local_port == HOST_PORT)
        .unwrap()
        .clone();
    assert_eq!(
        acted(&fake).last().map(|(_, a)| a.clone()),
        Some(RemoteAction::Close {
            local: "0.0.0.0:45000".parse().unwrap(),
            remote: None,
            cookie: listener.cookie,
        })
    );
    h.get_by_label("Close").click();
    h.run_steps(30);

    // SIGTERM refused there: SIGKILL is offered, and sent only when asked.
    *fake.answer.lock().unwrap() = RemoteOutcome::Refused {
        message: "still running 3 s after SIGTERM".into(),
    };
    let before = acted(&fake).len();
    h.get_all_by_label("End process…").next().unwrap().click();
    h.run_steps(30);
    h.get_by_label("End process (SIGTERM)").click();
    until(&mut h, "the refusal", |h| {
        h.query_by_label("End at once (SIGKILL)").is_some()
    });
    h.run_steps(30);
    assert_eq!(acted(&fake).len(), before + 1);
    h.get_by_label("End at once (SIGKILL)").click();
    until(&mut h, "the second answer", |h| {
        acted_len(h, &fake) == before + 2
    });
    h.run_steps(30);
    assert!(matches!(
        acted(&fake).last(),
        Some((
            _,
            RemoteAction::End {
                signal: Signal::Kill,
                pid: 1200,
                ..
            }
        ))
    ));
    h.get_by_label("Close").click();
    h.run_steps(30);

    // Finding a free port binds ports on this machine: refused for the host's ports.
    h.get_by_label("Find a free port").click();
    h.run_steps(30);
    h.get_by_label_contains("Find a free port: not available on remote hosts yet");
    // This machine's rows are acted on here: the local dialog, nothing sent to a host.
    let before = acted(&fake).len();
    h.get_by_label("80").click();
    h.run_steps(30);
    h.get_all_by_label("End process…").next().unwrap().click();
    h.run_steps(30);
    h.get_by_label("End nginx (PID 1200)?");
    h.get_by_label("Cancel").click();
    h.run_steps(30);
    assert_eq!(acted(&fake).len(), before);
}

/// How many actions the fake hosts were asked for (steps a frame meanwhile).
fn acted_len(_h: &Harness<'_, PortscopeApp>, fake: &Fake) -> usize {
    fake.acted.lock().unwrap().len()
}

#[cfg(unix)]
mod over_ssh {
    use super::*;
    use common::sshd::{Sshd, free_port, one_at_a_time};
    use portscope::collect::remote::Timeouts;
    use portscope::ui::hosts::ssh_connect;

    fn app(sshd: &Sshd, host: &str, timeouts: Timeouts) -> PortscopeApp {
        let prefs = Prefs {
            interval_ms: 250,
            ..Prefs::default()
        };
        PortscopeApp::with_connect(
            &egui::Context::default(),
            ssh_connect(sshd.ssh(), timeouts),
            vec![host.to_owned()],
            prefs,
        )
    }

    #[test]
    fn the_window_shows_a_real_hosts_socket_and_names_the_host() {
        let _serial = one_at_a_time();
        let sshd = Sshd::start(true);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut h = harness(app(&sshd, "good", Timeouts::default()));
        let deadline = Instant::now() + Duration::from_secs(30);
        // This machine lists it too: the host's row is the one wanted.
        while !shows_host_port(&h, port) {
            assert!(
                Instant::now() < deadline,
                "the host's listener never showed; status: {:?}",
                h.state().snapshot().error
            );
            std::thread::sleep(Duration::from_millis(50));
            h.step();
        }
        h.get_by_label("good · portscope stream");
        let me = std::process::id();
        let socket = h
            .state()
            .visible_rows()
            .find(|s| s.local_port == port && s.host != 0)
            .unwrap()
            .clone();
        assert!(socket.pids.contains(&me), "its owner came over ssh too");
        let snap = h.state().snapshot();
        assert_eq!(snap.machine_name(&socket), Some("good"));
        assert_eq!(
            snap.process_label(&socket),
            snap.process_label(
                h.state()
                    .visible_rows()
                    .find(|s| s.local_port == port && s.host == 0)
                    .unwrap()
            ),
            "the same process, read there and here"
        );
        // The Host column names it.
        h.get_by_label("Host");
        assert!(h.get_all_by_label("good").count() >= 1);
        // The range is the one the host said (the host is this machine here).
        let live = EphemeralRange::read_live();
        let shown = &h.state().snapshot().on(socket.host).ephemeral;
        assert_eq!((shown.start, shown.end), (live.start, live.end));
    }

    #[test]
    fn ending_a_hosts_process_from_the_window_ends_it_there() {
        let _serial = one_at_a_time();
        let sshd = Sshd::start(true);
        let (mut child, port) = common::start_ready(
            std::process::Command::new("python3").args(["-c", common::PY_LISTENER]),
        );
        let port: u16 = port.parse().unwrap();
        let mut h = harness(app(&sshd, "good", Timeouts::default()));
        let deadline = Instant::now() + Duration::from_secs(30);
        while !shows_host_port(&h, port) {
            assert!(
                Instant::now() < deadline,
                "the host's listener never showed"
            );
            std::thread::sleep(Duration::from_millis(50));
            h.step();
        }
        // The host's row alone (this machine lists the same listener).
        let filter = h.get_by_label("Filter");
        filter.click();
        filter.type_text(&format!("host:good lport:{port}"));
        h.run_steps(10);
        h.get_by_label(&port.to_string()).click();
        h.run_steps(30);
        h.get_by_label("End process…").click();
        h.run_steps(30);
        h.get_by_label(&format!("End python3 (PID {}) on good?", child.id()));
        h.get_by_label("End process (SIGTERM)").click();
        let deadline = Instant::now() + Duration::from_secs(30);
        while h.query_by_label("Done on good.").is_none() {
            assert!(
                Instant::now() < deadline,
                "no answer from the host within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
            h.step();
        }
        // Ended there: the host is this machine, so the process is this test's child.
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "the process is still running");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    #[test]
    fn a_closed_port_says_why_while_the_window_keeps_drawing() {
        let _serial = one_at_a_time();
        let sshd = Sshd::start(true);
        let closed = free_port();
        sshd.write_config(&[(
            "closed",
            format!(
                "  HostName 127.0.0.1\n  Port {closed}\n  IdentityFile {}\n  IdentitiesOnly yes\n  \
                 UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n",
                sshd.path("user_key").display(),
                sshd.path("known_hosts").display()
            ),
        )]);
        let mut h = harness(app(&sshd, "closed", Timeouts::default()));
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut frames = 0u32;
        let mut slowest = Duration::ZERO;
        while h
            .query_by_label_contains("closed: the connection was refused")
            .is_none()
        {
            assert!(
                Instant::now() < deadline,
                "no reason within 30 s after {frames} frames; error: {:?}",
                h.state().snapshot().error
            );
            let start = Instant::now();
            h.step();
            slowest = slowest.max(start.elapsed());
            frames += 1;
            std::thread::sleep(Duration::from_millis(10));
        }
        let line = text_of(&h.get_by_label_contains("closed: the connection was refused"));
        assert!(line.contains("— retrying in "), "{line}");
        // A frame never waited on the host.
        assert!(
            slowest < Duration::from_millis(500),
            "a frame took {slowest:?}"
        );
    }
}

#[test]
fn a_window_host_that_looks_like_an_option_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let touched = dir.path().join("touched");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_portscope"))
        .arg(format!("--host=-oProxyCommand=touch {}", touched.display()))
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("looks like an option, not a host"),
        "{stderr}"
    );
    assert!(!stderr.contains("cannot open the window"), "{stderr}");
    assert!(!touched.exists());
}
