//! The window, driven like a user drives it: clicks and typing through egui_kittest.

mod common;

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use portscope::collect::OsSource;
use portscope::model::SockState;
use portscope::ui::{PortscopeApp, Prefs};

fn harness(app: PortscopeApp) -> Harness<'static, PortscopeApp> {
    let mut h = Harness::builder()
        .with_size([1280.0, 800.0])
        .with_context_setup(portscope::ui::setup_context)
        .build_ui_state(|ui, app: &mut PortscopeApp| app.ui(ui), app);
    h.run();
    h
}

fn demo() -> Harness<'static, PortscopeApp> {
    harness(PortscopeApp::from_snapshot(
        common::demo_snapshot(),
        Prefs::default(),
    ))
}

fn ports(h: &Harness<'_, PortscopeApp>) -> Vec<u16> {
    h.state().visible_rows().map(|s| s.local_port).collect()
}

#[test]
fn clicking_a_row_shows_its_process() {
    let mut h = demo();
    assert!(
        h.query_by_label("Owning process").is_none(),
        "no panel before a click"
    );
    // The firefox connection from local port 60296: click its port cell.
    h.get_by_label("60296").click();
    h.run();
    assert_eq!(h.state().selected().map(|s| s.local_port), Some(60296));
    h.get_by_label("Owning process");
    h.get_by_label("firefox  (PID 4242)");
    h.get_by_label("/usr/lib/firefox/firefox --new-window");
    h.get_by_label("alice (uid 1000)");
    h.get_by_label("1 systemd");
    // Its other socket is listed and clickable: it moves the selection.
    let other = h.get_by_label_contains("192.168.1.20:51000");
    other.click();
    h.run();
    assert_eq!(h.state().selected().map(|s| s.local_port), Some(51000));
}

#[test]
fn a_shared_socket_lists_every_process() {
    let mut h = demo();
    h.get_by_label("nginx, nginx").click();
    h.run();
    h.get_by_label("Owning processes (2, sharing this socket)");
    h.get_by_label("nginx  (PID 1200)");
    h.get_by_label("nginx  (PID 1201)");
    h.get_by_label("www-data (uid 33)");
    // The bind scope field (the explanation's headline says it too).
    h.get_by_label("every interface: reachable from the network unless a firewall stops it");
}

#[test]
fn a_row_without_a_process_says_why() {
    let mut h = demo();
    h.get_by_label("kernel: TIME_WAIT").click();
    h.run();
    h.get_by_label("No owning process");
    h.get_by_label_contains("it is in TIME_WAIT");

    h.get_by_label("user redis: needs root").click();
    h.run();
    h.get_by_label_contains("belongs to user redis (uid 999)");
    h.get_by_label_contains("run portscope with sudo");
    h.get_by_label("this machine only (loopback): nothing on the network can reach it");
}

#[test]
fn clicking_a_heading_sorts_and_again_reverses() {
    let mut h = demo();
    assert_eq!(ports(&h), [22, 53, 80, 6379, 8080, 51000, 60296]);
    h.get_by_label("PID").click();
    h.run();
    // By first PID ascending, sockets without one last.
    assert_eq!(ports(&h), [53, 22, 80, 51000, 60296, 6379, 8080]);
    h.get_by_label("PID ▲").click();
    h.run();
    assert_eq!(ports(&h), [8080, 6379, 60296, 51000, 80, 22, 53]);
    h.get_by_label("Local address").click();
    h.run();
    // 0.0.0.0 < 127.0.0.1 < 127.0.0.53 < 192.168.1.20 < :: (v4 before v6).
    assert_eq!(ports(&h), [80, 6379, 8080, 53, 51000, 60296, 22]);
}

#[test]
fn typing_in_the_filter_narrows_the_rows() {
    let mut h = demo();
    let filter = h.get_by_label("Filter");
    filter.click();
    filter.type_text("firefox 443");
    h.run();
    assert_eq!(ports(&h), [51000, 60296]);
    h.get_by_label("2 of 7 sockets");
    assert!(h.query_by_label("nginx, nginx").is_none());
    h.get_by_label("Clear").click();
    h.run();
    assert_eq!(ports(&h).len(), 7);
}

#[test]
fn live_window_lists_a_socket_this_test_opens() {
    let me = std::process::id();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut h = Harness::builder()
        .with_size([1280.0, 800.0])
        .with_context_setup(portscope::ui::setup_context)
        .build_ui_state(|ui, app: &mut PortscopeApp| app.ui(ui), {
            let ctx = egui::Context::default();
            let prefs = Prefs {
                filter: port.to_string(),
                ..Prefs::default()
            };
            PortscopeApp::with_source(&ctx, Box::new(OsSource::new().unwrap()), prefs)
        });
    let deadline = Instant::now() + Duration::from_secs(15);
    while h.query_by_label(&port.to_string()).is_none() {
        assert!(
            Instant::now() < deadline,
            "the listener never appeared in the window"
        );
        std::thread::sleep(Duration::from_millis(50));
        h.step();
    }
    h.get_by_label(&port.to_string()).click();
    h.run_ok();
    let selected = h.state().selected().expect("a selection").clone();
    assert_eq!(selected.state, SockState::Listen);
    assert!(selected.pids.contains(&me));
    // The process's heading, "name  (PID n)" (the explanation's headline names it too, with
    // one space).
    h.get_by_label_contains(&format!("  (PID {me})"));
    h.get_by_label("Owning process");
}

#[test]
fn clicking_the_bar_explains_the_port_under_the_pointer() {
    let mut h = demo();
    let bar = h.get_by_label("Port range bar");
    let rect = bar.rect();
    // The centre of the unzoomed bar is port 32768.
    bar.click();
    h.run();
    assert_eq!(h.state().explained_port(), Some(32768));
    h.get_by_label("Port 32768");
    h.get_by_label_contains("registered port");
    // Near the right end: the dynamic range, inside Linux's default ephemeral range.
    h.hover_at(egui::pos2(
        rect.left() + rect.width() * 0.92,
        rect.center().y,
    ));
    h.event(egui::Event::PointerButton {
        pos: egui::pos2(rect.left() + rect.width() * 0.92, rect.center().y),
        button: egui::PointerButton::Primary,
        pressed: true,
        modifiers: egui::Modifiers::default(),
    });
    h.event(egui::Event::PointerButton {
        pos: egui::pos2(rect.left() + rect.width() * 0.92, rect.center().y),
        button: egui::PointerButton::Primary,
        pressed: false,
        modifiers: egui::Modifiers::default(),
    });
    h.run();
    let port = h.state().explained_port().expect("a port");
    assert!((59_000..=61_000).contains(&port), "{port}");
    assert!(h.query_all_by_label_contains("dynamic range").count() >= 1);
}

#[test]
fn zoom_buttons_and_a_click_pick_a_well_known_port() {
    let mut h = demo();
    h.get_by_label("well-known").click();
    h.run();
    // 0–1023 across the bar: its centre is port 512.
    h.get_by_label("Port range bar").click();
    h.run();
    assert_eq!(h.state().explained_port(), Some(512));
}

fn go_to(h: &mut Harness<'_, PortscopeApp>, text: &str) {
    h.get_by_label("Go to port").click();
    h.run();
    // Select what was typed before, so the new text replaces it.
    h.key_combination_modifiers(egui::Modifiers::COMMAND, &[egui::Key::A]);
    h.run();
    if text.is_empty() {
        h.key_press(egui::Key::Backspace);
    } else {
        h.get_by_label("Go to port").type_text(text);
    }
    h.run();
    h.get_by_label("Explain").click();
    h.run();
}

#[test]
fn typing_a_port_opens_its_explanation() {
    let mut h = demo();
    go_to(&mut h, "22");
    assert_eq!(h.state().explained_port(), Some(22));
    h.get_by_label("Port 22");
    assert!(h.query_all_by_label_contains("ssh (22/").count() >= 1);
    // What uses it now: the demo's sshd, with its bind scope.
    h.get_by_label("TCP LISTEN [::]:22 → *  ·  sshd  ·  all interfaces");
    h.get_by_label_contains("Check it yourself");

    // A port nobody uses still gets an explanation.
    go_to(&mut h, "60296");
    assert_eq!(h.state().explained_port(), Some(60296));
    h.get_by_label(
        "TCP ESTABLISHED 192.168.1.20:60296 → 140.82.112.3:443  ·  firefox  ·  one interface",
    );
    h.get_by_label_contains("IANA never assigns it");
}

#[test]
fn bad_input_in_the_port_box_shows_a_message() {
    let mut h = demo();
    for (text, message) in [
        ("abc", "is not a port number"),
        ("65536", "too large"),
        ("-1", "cannot be negative"),
        ("", "enter a port number"),
    ] {
        go_to(&mut h, text);
        h.get_by_label_contains(message);
        assert_eq!(
            h.state().explained_port(),
            None,
            "{text:?} must not select a port"
        );
    }
}

#[test]
fn a_selected_row_explains_its_local_port_and_the_remote_one_on_request() {
    let mut h = demo();
    h.get_by_label("60296").click();
    h.run();
    assert_eq!(h.state().explained_port(), Some(60296));
    h.get_by_label("Port 60296/tcp");
    h.get_by_label("Explain remote port 443").click();
    h.run();
    assert_eq!(h.state().explained_port(), Some(443));
    h.get_by_label("Port 443/tcp");
    assert!(h.query_all_by_label_contains("https (443/").count() >= 1);
    // The socket stays selected while its remote port is explained.
    assert_eq!(h.state().selected().map(|s| s.local_port), Some(60296));
}

#[test]
fn arrows_move_the_selection_and_keys_do_what_they_say() {
    let mut h = demo();
    h.key_press(egui::Key::ArrowDown);
    h.run();
    assert_eq!(h.state().selected().map(|s| s.local_port), Some(22));
    h.key_press(egui::Key::ArrowDown);
    h.key_press(egui::Key::ArrowDown);
    h.run();
    assert_eq!(h.state().selected().map(|s| s.local_port), Some(80));
    h.key_press(egui::Key::ArrowUp);
    h.run();
    assert_eq!(h.state().selected().map(|s| s.local_port), Some(53));
    h.get_by_label("Owning process");

    // Close the panel; Enter opens it again on the same row.
    h.get_by_label("×").click();
    h.run();
    assert!(h.query_by_label("Owning process").is_none());
    h.key_press(egui::Key::Enter);
    h.run();
    h.get_by_label("Owning process");

    // Space pauses and resumes.
    h.key_press(egui::Key::Space);
    h.run();
    assert!(h.state().is_paused());
    h.key_press(egui::Key::Space);
    h.run();
    assert!(!h.state().is_paused());

    // Ctrl+F focuses the filter; Esc clears it.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::F);
    h.run();
    h.get_by_label("Filter").type_text("sshd");
    h.run();
    assert_eq!(ports(&h), [22]);
    h.key_press(egui::Key::Escape);
    h.run();
    assert_eq!(ports(&h).len(), 7);
}

#[test]
fn filter_terms_work_and_a_bad_term_says_why_without_losing_the_rows() {
    let mut h = demo();
    assert_eq!(ports(&h), [22, 53, 80, 6379, 8080, 51000, 60296]);
    let filter = h.get_by_label("Filter");
    filter.click();
    filter.type_text("state:listen -proto:udp");
    h.run();
    // Listening (53 is UDP, so UNCONN, and excluded anyway), TCP only.
    assert_eq!(ports(&h), [22, 80, 6379]);
    // A bad term added to a good filter: it says why, and the good filter stays in force
    // (neither all rows nor none).
    h.get_by_label("Filter").type_text(" state:listn");
    h.run();
    assert_eq!(
        h.state().prefs().filter,
        "state:listen -proto:udp state:listn"
    );
    h.get_by_label_contains("did you mean 'listen'");
    assert_eq!(
        ports(&h),
        [22, 80, 6379],
        "a bad term keeps the last good filter"
    );
    // A negated term alone excludes exactly what it names.
    h.get_by_label("Clear").click();
    h.run();
    assert_eq!(ports(&h).len(), 7);
    h.get_by_label("Filter").click();
    h.get_by_label("Filter").type_text("-state:time_wait");
    h.run();
    assert_eq!(ports(&h), [22, 53, 80, 6379, 51000, 60296]);
    // The help lists examples; clicking one applies it.
    h.get_by_label("?").click();
    h.run();
    h.get_by_label("Filter syntax");
    h.get_by_role_and_label(egui::accesskit::Role::Link, "port:443")
        .click();
    h.run();
    assert_eq!(h.state().prefs().filter, "port:443");
    assert_eq!(ports(&h), [51000, 60296]);
}

/// A toggle button, not a table cell with the same text.
fn toggle<'a>(h: &'a Harness<'_, PortscopeApp>, label: &'a str) -> egui_kittest::Node<'a> {
    h.get_by(move |n| {
        n.label().as_deref() == Some(label) && n.role() != egui::accesskit::Role::Label
    })
}

#[test]
fn quick_toggles_narrow_the_table() {
    let mut h = demo();
    toggle(&h, "UDP").click();
    h.run();
    assert!(!ports(&h).contains(&53));
    h.get_by_label("Hide TIME_WAIT").click();
    h.run();
    assert!(!ports(&h).contains(&8080));
    h.get_by_label("Listening only").click();
    h.run();
    assert_eq!(ports(&h), [22, 80, 6379]);
    h.get_by_label("IPv6").click();
    h.run();
    assert_eq!(ports(&h), [80, 6379]);
}

/// A python3 child listening on a free loopback port, and the window watching it.
fn window_with_child() -> (Harness<'static, PortscopeApp>, std::process::Child, u16) {
    let probe = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    let child = std::process::Command::new("python3")
        .args([
            "-c",
            &format!(
                "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',{port})); s.listen(); time.sleep(60)"
            ),
        ])
        .spawn()
        .expect("python3 runs");
    let h = Harness::builder()
        .with_size([1280.0, 800.0])
        .with_context_setup(portscope::ui::setup_context)
        .build_ui_state(|ui, app: &mut PortscopeApp| app.ui(ui), {
            let ctx = egui::Context::default();
            let prefs = Prefs {
                filter: format!("lport:{port}"),
                interval_ms: 250,
                ..Prefs::default()
            };
            PortscopeApp::with_source(&ctx, Box::new(OsSource::new().unwrap()), prefs)
        });
    (h, child, port)
}

fn wait_for(h: &mut Harness<'_, PortscopeApp>, what: &str, label: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while h.query_by_label_contains(label).is_none() {
        if Instant::now() >= deadline {
            // What the window says instead, for the record.
            let said: Vec<String> = h
                .query_all_by_label_contains("losed")
                .map(|n| format!("{n:?}").chars().take(160).collect())
                .collect();
            panic!("{what} never appeared; labels with 'losed': {said:#?}");
        }
        std::thread::sleep(Duration::from_millis(50));
        h.step();
    }
}

#[test]
fn ending_a_process_after_confirmation() {
    let (mut h, mut child, port) = window_with_child();
    wait_for(&mut h, "the child's listener", &port.to_string());
    h.get_by_label(&port.to_string()).click();
    h.run_ok();
    h.get_by_label("End process…").click();
    h.run_ok();
    h.get_by_label_contains(&format!("(PID {})?", child.id()));
    h.get_by_label("End process (SIGTERM)").click();
    h.run_ok();
    wait_for(
        &mut h,
        "the confirmation that it ended",
        "has ended (SIGTERM)",
    );
    let status = child.try_wait().expect("try_wait");
    assert!(status.is_some(), "the child should have exited");
}

#[test]
fn cancelling_leaves_the_process_running() {
    let (mut h, mut child, port) = window_with_child();
    wait_for(&mut h, "the child's listener", &port.to_string());
    h.get_by_label(&port.to_string()).click();
    h.run_ok();
    h.get_by_label("End process…").click();
    h.run_ok();
    h.get_by_label("Cancel").click();
    h.run_ok();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "the child must live"
    );
    let _ = child.kill();
    let _ = child.wait();
}

fn set_text(h: &mut Harness<'_, PortscopeApp>, label: &str, text: &str) {
    h.get_by_label(label).click();
    h.run();
    h.key_combination_modifiers(egui::Modifiers::COMMAND, &[egui::Key::A]);
    h.run();
    h.get_by_label(label).type_text(text);
    h.run();
}

#[test]
fn exporting_the_view_writes_what_is_shown_and_asks_before_replacing() {
    let dir = std::env::temp_dir().join(format!("portscope-export-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let json_path = dir.join("view.json");

    let mut h = demo();
    // Narrow the view first: the export must hold exactly the rows shown.
    h.get_by_label("Filter").click();
    h.get_by_label("Filter").type_text("state:listen");
    h.run();
    let shown = ports(&h);
    assert_eq!(shown, [22, 80, 6379]);

    h.get_by_label("Export…").click();
    h.run();
    h.get_by_label("JSON").click();
    h.run();
    set_text(&mut h, "File", json_path.to_str().unwrap());
    h.get_by_label("Save").click();
    h.step(); // writing shows a spinner until the file is on disk
    wait_for(&mut h, "the saved message", "Saved 3 rows");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    let saved: Vec<u64> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["local_port"].as_u64().unwrap())
        .collect();
    assert_eq!(saved, [22, 80, 6379]);
    h.get_by_label("Close").click();
    h.run();

    // Again to the same file: it asks, and only replaces when told to.
    h.get_by_label("Export…").click();
    h.run();
    h.get_by_label("JSON").click();
    set_text(&mut h, "File", json_path.to_str().unwrap());
    h.get_by_label("Save").click();
    h.step(); // writing shows a spinner until the file is on disk
    wait_for(&mut h, "the overwrite question", "already exists");
    h.get_by_label("Replace").click();
    h.step(); // writing shows a spinner until the file is on disk
    wait_for(&mut h, "the saved message", "Saved 3 rows");
    h.get_by_label("Close").click();
    h.run();

    // CSV reads back the same rows.
    let csv_path = dir.join("view.csv");
    h.get_by_label("Export…").click();
    h.run();
    set_text(&mut h, "File", csv_path.to_str().unwrap());
    h.get_by_label("Save").click();
    h.step(); // writing shows a spinner until the file is on disk
    wait_for(&mut h, "the saved message", "Saved 3 rows");
    let text = std::fs::read_to_string(&csv_path).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let ports: Vec<String> = reader.records().map(|r| r.unwrap()[2].to_owned()).collect();
    assert_eq!(ports, ["22", "80", "6379"]);
    let _ = std::fs::remove_dir_all(&dir);
}

fn snapshot_of(seq: u64, poll: portscope::collect::Poll) -> portscope::model::Snapshot {
    let mut s = portscope::model::Snapshot::from_poll(
        seq,
        std::time::SystemTime::now(),
        Duration::from_millis(1),
        poll,
    );
    s.content_seq = seq;
    s
}

/// A clock a test moves by hand: highlights and lingering rows expire when it says so.
#[derive(Clone)]
struct FakeClock(Arc<Mutex<Instant>>);

impl FakeClock {
    fn new() -> FakeClock {
        FakeClock(Arc::new(Mutex::new(Instant::now())))
    }

    fn now(&self) -> Instant {
        *self.0.lock().unwrap()
    }

    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }

    /// `app` reading this clock.
    fn drive(&self, app: PortscopeApp) -> PortscopeApp {
        let clock = self.clone();
        app.with_clock(move || clock.now())
    }
}

/// Highlights and lingering closed rows last this long in the scripted tests.
fn highlight_prefs() -> Prefs {
    use portscope::model::history::TrackerConfig;
    Prefs {
        tracker: TrackerConfig {
            new_for: Duration::from_millis(600),
            changed_for: Duration::from_millis(600),
            linger: Duration::from_millis(600),
            ..TrackerConfig::default()
        },
        ..Prefs::default()
    }
}

#[test]
fn changes_are_highlighted_and_closed_sockets_linger_then_go_to_history() {
    use portscope::model::history::Mark;
    let mut first = common::demo_poll();
    let clock = FakeClock::new();
    let mut h = harness(clock.drive(PortscopeApp::from_snapshot(
        snapshot_of(1, first.clone()),
        highlight_prefs(),
    )));
    assert!(
        h.state()
            .visible_rows()
            .all(|s| h.state().mark(&s.key()).is_none()),
        "nothing is new at start"
    );

    // Next poll: sshd's listener is gone, the firefox connection on 51000 moved to CLOSE_WAIT,
    // and a new connection on 40404 appeared.
    let gone = first
        .sockets
        .iter()
        .position(|s| s.local_port == 22)
        .unwrap();
    let gone_key = first.sockets.remove(gone).key();
    let changed = first
        .sockets
        .iter_mut()
        .find(|s| s.local_port == 51000)
        .unwrap();
    changed.state = SockState::CloseWait;
    let changed_key = changed.key();
    let mut fresh = first
        .sockets
        .iter()
        .find(|s| s.local_port == 60296)
        .unwrap()
        .clone();
    fresh.local_port = 40404;
    fresh.inode = Some(999);
    let fresh_key = fresh.key();
    first.sockets.push(fresh);
    h.state_mut().push_snapshot(snapshot_of(2, first.clone()));
    h.run_ok();
    let app = h.state();
    assert_eq!(app.mark(&fresh_key), Some(Mark::New));
    assert!(matches!(
        app.mark(&changed_key),
        Some(Mark::StateChanged {
            from: SockState::Established
        })
    ));
    assert_eq!(app.mark(&gone_key), Some(Mark::Closing));
    assert!(ports(&h).contains(&22), "the closed row stays for a moment");
    h.get_by_label("40404");

    // Just before the highlight time is over, all is as it was.
    clock.advance(Duration::from_millis(599));
    h.run_ok();
    assert_eq!(h.state().mark(&fresh_key), Some(Mark::New));
    assert_eq!(h.state().mark(&gone_key), Some(Mark::Closing));
    assert!(ports(&h).contains(&22));

    // After the highlight time: marks are gone, the closed row has left the table for the history.
    clock.advance(Duration::from_millis(1));
    h.state_mut().push_snapshot(snapshot_of(3, first.clone()));
    h.run_ok();
    let app = h.state();
    assert_eq!(app.mark(&fresh_key), None);
    assert_eq!(app.mark(&changed_key), None);
    assert!(!ports(&h).contains(&22));
    let closed: Vec<_> = h.state().closed_history().collect();
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].socket.local_port, 22);
    assert_eq!(closed[0].process_label(), "sshd");

    // The window lists it with its process.
    h.get_by_label("Recently closed (1)").click();
    h.run_ok();
    h.get_by_label("sshd (900)");
    h.get_by_label("Clear").click();
    h.run_ok();
    assert_eq!(h.state().closed_history().count(), 0);
}

#[test]
fn grouping_by_process_lists_each_process_with_its_sockets() {
    let mut h = demo();
    toggle(&h, "Group by process").click();
    h.run();
    h.get_by_label("firefox (PID 4242) — 2 sockets, 2 established");
    h.get_by_label("nginx (PID 1200) — 1 socket, 1 listening");
    h.get_by_label("nginx (PID 1201) — 1 socket, 1 listening");
    h.get_by_label("No visible process: kernel: TIME_WAIT — 1 socket");
    h.get_by_label("firefox (PID 4242) — 2 sockets, 2 established")
        .click();
    h.run();
    h.get_by_label("TCP 192.168.1.20:51000 → 151.101.1.69:443  ESTABLISHED")
        .click();
    h.run();
    assert_eq!(h.state().selected().map(|s| s.local_port), Some(51000));
    h.get_by_label("Owning process");
}

#[test]
fn columns_can_be_hidden_and_shown() {
    let mut h = demo();
    h.get_by_label("Columns").click();
    h.run();
    h.get_by_role_and_label(egui::accesskit::Role::CheckBox, "User")
        .click();
    h.run();
    assert_eq!(
        h.state().prefs().hidden_columns,
        vec![portscope::model::SortKey::User]
    );
    // The user column's values are gone from the table.
    assert!(h.query_by_label("www-data").is_none());
    if h.query_by_role_and_label(egui::accesskit::Role::CheckBox, "User")
        .is_none()
    {
        h.get_by_label("Columns").click();
        h.run();
    }
    h.get_by_role_and_label(egui::accesskit::Role::CheckBox, "User")
        .click();
    h.run();
    assert!(h.state().prefs().hidden_columns.is_empty());
}

#[test]
fn queue_columns_are_shown_from_the_columns_menu_and_sort_as_numbers() {
    use egui::accesskit::Role;
    use portscope::model::SortKey;
    let mut snapshot = common::demo_snapshot();
    for s in &mut snapshot.sockets {
        // 9 < 10 < 100 as numbers; as text "100" would come first.
        (s.recv_q, s.send_q) = match s.local_port {
            22 => (9, 128),
            53 => (10, 0),
            80 => (100, 511),
            _ => (0, 0),
        };
    }
    let mut h = harness(PortscopeApp::from_snapshot(snapshot, Prefs::default()));
    assert!(h.query_by_label("Recv-Q").is_none(), "hidden by default");
    assert!(h.query_by_label("511").is_none());
    for title in ["Recv-Q", "Send-Q"] {
        if h.query_by_role_and_label(Role::CheckBox, title).is_none() {
            h.get_by_label("Columns").click();
            h.run();
        }
        h.get_by_role_and_label(Role::CheckBox, title).click();
        h.run();
    }
    assert_eq!(
        h.state().prefs().shown_columns,
        vec![SortKey::RecvQ, SortKey::SendQ]
    );
    assert!(h.state().prefs().hidden_columns.is_empty());
    // nginx's listener on port 80: its backlog is in the Send-Q column.
    h.get_by_label("511");
    h.get_by_role_and_label(Role::Button, "Recv-Q").click();
    h.run();
    assert_eq!(ports(&h), [6379, 8080, 51000, 60296, 22, 53, 80]);
    h.get_by_role_and_label(Role::Button, "Recv-Q ▲").click();
    h.run();
    assert_eq!(ports(&h), [80, 53, 22, 60296, 51000, 8080, 6379]);
    h.get_by_role_and_label(Role::Button, "Send-Q").click();
    h.run();
    assert_eq!(ports(&h), [53, 6379, 8080, 51000, 60296, 22, 80]);
}

#[test]
fn a_udp_socket_shows_its_dropped_datagrams_in_a_column_and_the_details() {
    use egui::accesskit::Role;
    let mut snapshot = common::demo_snapshot();
    for s in &mut snapshot.sockets {
        if s.local_port == 53 {
            s.cookie = 77;
        }
    }
    snapshot.drops.insert(77, 42);
    let mut h = harness(PortscopeApp::from_snapshot(snapshot, Prefs::default()));
    assert!(
        h.query_by_label("42").is_none(),
        "the column is hidden by default"
    );
    h.get_by_label("Columns").click();
    h.run();
    h.get_by_role_and_label(Role::CheckBox, "Drops").click();
    h.run();
    h.get_by_label("42");
    h.get_by_label("53").click();
    h.run();
    h.get_by_label("42 datagrams, which arrived while the receive buffer was full");
    h.get_by_label_contains("Recv-Q 0 · Send-Q 0");
}

#[test]
fn recently_closed_says_when_closes_are_found_by_polls_alone() {
    let mut snapshot = common::demo_snapshot();
    snapshot.ended_unavailable = Some("this system does not announce closed sockets".to_owned());
    let mut h = harness(PortscopeApp::from_snapshot(snapshot, Prefs::default()));
    h.get_by_label_contains("Recently closed").click();
    h.run();
    h.get_by_label_contains(
        "Closes are found by polls alone (this system does not announce closed sockets)",
    );
}

#[test]
fn a_full_table_paints_as_a_few_meshes() {
    // Cells share the table's clip rectangle (long text is elided instead of clipped), so a
    // screen of rows is a handful of meshes for the GPU, not one per cell.
    let snapshot = snapshot_of(1, portscope::collect::generated_poll(2_000));
    let mut app = PortscopeApp::from_snapshot(snapshot, Prefs::default());
    let ctx = egui::Context::default();
    portscope::ui::setup_context(&ctx);
    let input = || egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(1280.0, 800.0),
        )),
        ..Default::default()
    };
    let mut meshes = 0;
    let mut vertices = 0;
    for _ in 0..3 {
        let mut out = ctx.run_ui(input(), |ui| app.ui(ui));
        out.textures_delta.clear(); // No GPU here to take the font atlas.
        let primitives = ctx.tessellate(out.shapes, out.pixels_per_point);
        meshes = 0;
        vertices = 0;
        for p in &primitives {
            if let egui::epaint::Primitive::Mesh(mesh) = &p.primitive {
                meshes += 1;
                vertices += mesh.vertices.len();
            }
        }
    }
    assert_eq!(app.visible_rows().count(), 2_000);
    assert!(
        vertices > 10_000,
        "a screen of rows was drawn ({vertices} vertices)"
    );
    assert!(meshes <= 40, "{meshes} meshes for one screen of the table");
}

/// The demo machine with the firefox connection from 60296 selected, then a poll in which
/// firefox's other connection (from 51000) has closed. The closed row lingers in the table.
fn demo_then_51000_closes(
    clock: &FakeClock,
) -> (Harness<'static, PortscopeApp>, portscope::collect::Poll) {
    let mut poll = common::demo_poll();
    let mut h = harness(clock.drive(PortscopeApp::from_snapshot(
        snapshot_of(1, poll.clone()),
        highlight_prefs(),
    )));
    h.get_by_label("60296").click();
    h.run();
    h.get_by_label("Its other sockets (1)");
    poll.sockets.retain(|s| s.local_port != 51000);
    h.state_mut().push_snapshot(snapshot_of(2, poll.clone()));
    h.run_ok();
    assert!(
        ports(&h).contains(&51000),
        "the closed row is shown for a moment"
    );
    (h, poll)
}

#[test]
fn closed_rows_are_shown_but_counted_nowhere() {
    let clock = FakeClock::new();
    let (mut h, poll) = demo_then_51000_closes(&clock);
    // The status bar counts the poll alone.
    let c = snapshot_of(2, poll).counts();
    assert_eq!(c.total, 6);
    h.get_by_label(&format!(
        "{} sockets · {} listening · {} established · {} TCP · {} UDP",
        c.total, c.listening, c.established, c.tcp, c.udp
    ));
    h.get_by_label("6 sockets · 1 just closed");
    // The ephemeral gauge (and the bar's marks it is counted from): 60296 alone is in use.
    h.get_by_label_contains("ephemeral ports in use: 1 of ");
    // The selected socket's process has no other socket now.
    h.get_by_label("Its other sockets (0)");
    // Grouped by process, firefox holds one socket.
    toggle(&h, "Group by process").click();
    h.run();
    h.get_by_label("firefox (PID 4242) — 1 socket, 1 established");
    toggle(&h, "Group by process").click();
    h.run();
    // Nothing uses 51000 now, says its explanation.
    go_to(&mut h, "51000");
    h.get_by_label("On this machine now (0)");
    h.get_by_label("Nothing uses this port right now.");
}

#[test]
fn an_export_holds_the_live_rows_only() {
    let dir = std::env::temp_dir().join(format!("portscope-export-live-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("view.json");
    let clock = FakeClock::new();
    let (mut h, _) = demo_then_51000_closes(&clock);
    h.get_by_label("Export…").click();
    h.run();
    h.get_by_label("JSON").click();
    h.run();
    set_text(&mut h, "File", path.to_str().unwrap());
    h.get_by_label("Save").click();
    h.run();
    wait_for(&mut h, "the saved message", "Saved 6 rows");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let saved: Vec<u64> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["local_port"].as_u64().unwrap())
        .collect();
    assert_eq!(saved, [22, 53, 80, 6379, 8080, 60296]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_selected_socket_that_closes_is_marked_closed_at_once() {
    let mut poll = common::demo_poll();
    let clock = FakeClock::new();
    let mut h = harness(clock.drive(PortscopeApp::from_snapshot(
        snapshot_of(1, poll.clone()),
        highlight_prefs(),
    )));
    h.get_by_label("51000").click();
    h.run();
    assert!(h.query_by_label_contains("Closed: this socket").is_none());
    // The first poll without it: the panel says so at once, while its row still lingers.
    poll.sockets.retain(|s| s.local_port != 51000);
    h.state_mut().push_snapshot(snapshot_of(2, poll.clone()));
    h.run_ok();
    assert!(ports(&h).contains(&51000));
    h.get_by_label_contains("Closed: this socket was not in the latest poll");
    assert_eq!(h.state().selected().map(|s| s.local_port), Some(51000));
    assert_eq!(h.state().selection_closed(), Some(true));
    // Once its row has gone, the panel still shows it, closed.
    clock.advance(Duration::from_millis(600));
    h.state_mut().push_snapshot(snapshot_of(3, poll.clone()));
    h.run_ok();
    assert!(!ports(&h).contains(&51000));
    h.get_by_label_contains("Closed: this socket was not in the latest poll");
    h.get_by_label("firefox  (PID 4242)");

    // A closed row clicked while it lingers is closed from the start.
    let mut h = harness(clock.drive(PortscopeApp::from_snapshot(
        snapshot_of(1, common::demo_poll()),
        highlight_prefs(),
    )));
    h.state_mut().push_snapshot(snapshot_of(2, poll));
    h.run_ok();
    h.get_by_label("51000").click();
    h.run();
    h.get_by_label_contains("Closed: this socket was not in the latest poll");
    h.get_by_label("firefox  (PID 4242)");
}

#[test]
fn an_ipv4_mapped_listener_is_loopback_and_said_to_be_ipv4() {
    let mut poll = common::demo_poll();
    let mut java = poll
        .sockets
        .iter()
        .find(|s| s.local_port == 6379)
        .unwrap()
        .clone();
    java.local_addr = "::ffff:127.0.0.1".parse().unwrap();
    java.local_port = 8443;
    java.inode = Some(8443);
    poll.sockets.push(java);
    let mut h = harness(PortscopeApp::from_snapshot(
        snapshot_of(1, poll),
        Prefs::default(),
    ));
    // The table keeps the kernel's text.
    h.get_by_label("::ffff:127.0.0.1");
    h.get_by_label("8443").click();
    h.run();
    h.get_by_label("IPv4 127.0.0.1 through an IPv6 socket");
    h.get_by_label("this machine only (loopback): nothing on the network can reach it");
    h.get_by_label(
        "TCP LISTEN [::ffff:127.0.0.1]:8443 (IPv4 127.0.0.1 through an IPv6 socket) → *  ·  \
         (user redis: needs root)  ·  this machine only",
    );
    // Filters read it as the IPv4 loopback address.
    for filter in ["scope:local", "ip:127.0.0.1", "addr:127.0.0.0/8"] {
        h.get_by_label("Filter").click();
        h.key_combination_modifiers(egui::Modifiers::COMMAND, &[egui::Key::A]);
        h.get_by_label("Filter").type_text(filter);
        h.run();
        assert!(ports(&h).contains(&8443), "{filter}: {:?}", ports(&h));
    }
}

#[test]
fn the_explanation_says_what_is_on_the_port_first() {
    let mut h = demo();
    go_to(&mut h, "22");
    h.get_by_label_contains(
        "Port 22: a server is listening here now — sshd (PID 900), on every interface. By its \
         number, port 22 is a well-known port",
    );
    h.get_by_label("60296").click();
    h.run();
    h.get_by_label_contains(
        "Port 60296/tcp is in use now as the local end of 1 connection — firefox (PID 4242). By \
         its number,",
    );
}

/// The demo machine with traffic: firefox's two connections, and one more into nginx, with
/// counters and rates; queues on the redis and nginx listeners. Listeners, TIME_WAIT and UDP
/// have no counters, as the kernel gives none.
fn traffic_snapshot() -> portscope::model::Snapshot {
    use portscope::model::traffic::{Flow, Rate, TcpStats};
    use portscope::model::{Pids, SockState};
    let mut snap = common::demo_snapshot();
    let lo = common::v4(127, 0, 0, 1);
    let mut into_nginx = snap.sockets[0].clone();
    into_nginx.pids = Pids::from_slice(&[1200]);
    into_nginx.local_addr = lo;
    into_nginx.remote_addr = Some(lo);
    into_nginx.remote_port = Some(50500);
    into_nginx.state = SockState::Established;
    into_nginx.inode = Some(999);
    snap.sockets.push(into_nginx);
    for (n, s) in snap.sockets.iter_mut().enumerate() {
        s.cookie = n as u64 + 1;
        (s.recv_q, s.send_q) = match (s.local_port, s.state) {
            (6379, _) => (3, 128),
            (80, SockState::Listen) => (0, 511),
            _ => (0, 0),
        };
    }
    let cookie = |port: u16| {
        snap.sockets
            .iter()
            .find(|s| s.local_port == port && s.state == SockState::Established)
            .map(|s| s.cookie)
            .expect("a connection on the port")
    };
    let flow = |sent, received, (down, up), rtt_us, retrans| Flow {
        stats: TcpStats {
            bytes_sent: Some(sent),
            bytes_acked: Some(sent),
            bytes_received: Some(received),
            rtt_us,
            rttvar_us: 100,
            retrans,
            delivery_rate: None,
        },
        rate: Some(Rate { down, up }),
    };
    let flows = [
        (
            cookie(60296),
            flow(12_595, 5_242_880, (1_258_291, 900), 400, 10),
        ),
        (
            cookie(51000),
            flow(2_000_000, 9_000, (90, 150_000), 85_000, 7),
        ),
        (cookie(80), flow(300, 700, (1000, 3_000_000), 9_500, 0)),
    ];
    snap.traffic.extend(flows);
    snap
}

fn traffic_window() -> Harness<'static, PortscopeApp> {
    harness(PortscopeApp::from_snapshot(
        traffic_snapshot(),
        Prefs::default(),
    ))
}

/// Wide enough for every column at its first width.
fn wide_traffic_window() -> Harness<'static, PortscopeApp> {
    let mut h = Harness::builder()
        .with_size([1800.0, 800.0])
        .with_context_setup(portscope::ui::setup_context)
        .build_ui_state(
            |ui, app: &mut PortscopeApp| app.ui(ui),
            PortscopeApp::from_snapshot(traffic_snapshot(), Prefs::default()),
        );
    h.run();
    h
}

#[test]
fn traffic_columns_show_human_units_and_sort_as_numbers() {
    use egui::accesskit::Role;
    let mut h = wide_traffic_window();
    // Shown by default: the rates and the round-trip time.
    for text in [
        "1.2 MiB/s",
        "900 B/s",
        "90 B/s",
        "146.5 KiB/s",
        "2.9 MiB/s",
        "0.4 ms",
        "85 ms",
        "9.5 ms",
    ] {
        h.get_by_label(text);
    }
    assert!(h.query_by_label("12.3 KiB").is_none(), "Sent is hidden");
    for title in ["Sent", "Received", "Retrans"] {
        if h.query_by_role_and_label(Role::CheckBox, title).is_none() {
            h.get_by_label("Columns").click();
            h.run();
        }
        h.get_by_role_and_label(Role::CheckBox, title).click();
        h.run();
    }
    for text in [
        "12.3 KiB", "5.0 MiB", "1.9 MiB", "8.8 KiB", "300 B", "700 B",
    ] {
        h.get_by_label(text);
    }
    // Numbers, not text ("1.2 MiB/s" < "1000 B/s" < "90 B/s" as text); rows without a value
    // after every value.
    let no_value = [22, 53, 80, 6379, 8080];
    let sorted = |h: &mut Harness<'_, PortscopeApp>, title: &str, busy: [u16; 3]| {
        h.get_by_role_and_label(Role::Button, title).click();
        h.run();
        let mut expected = busy.to_vec();
        expected.extend(no_value);
        assert_eq!(ports(h), expected, "{title}");
    };
    sorted(&mut h, "↓ rate", [51000, 80, 60296]);
    sorted(&mut h, "↑ rate", [60296, 51000, 80]);
    sorted(&mut h, "RTT", [60296, 80, 51000]);
    sorted(&mut h, "Sent", [80, 60296, 51000]);
    sorted(&mut h, "Received", [80, 51000, 60296]);
    sorted(&mut h, "Retrans", [80, 51000, 60296]);
    // The listener, the TIME_WAIT and the UDP socket show nothing in these columns.
    h.get_by_label("kernel: TIME_WAIT").click();
    h.run();
    assert_eq!(h.state().selected().map(|s| s.local_port), Some(8080));
}

#[test]
fn a_settings_file_from_before_the_traffic_columns_shows_them_by_their_default() {
    use portscope::model::SortKey;
    let prefs: Prefs = ron::from_str("(hidden_columns: [User], shown_columns: [RecvQ])")
        .expect("old settings read");
    let columns = prefs.columns();
    for key in [
        SortKey::RateDown,
        SortKey::RateUp,
        SortKey::Rtt,
        SortKey::RecvQ,
    ] {
        assert!(columns.contains(&key), "{key:?} shown");
    }
    for key in [
        SortKey::Sent,
        SortKey::Received,
        SortKey::Retrans,
        SortKey::User,
    ] {
        assert!(!columns.contains(&key), "{key:?} hidden");
    }
}

#[test]
fn the_status_bar_and_each_group_total_the_rates() {
    let mut h = traffic_window();
    // ↓ 1,258,291 + 90 + 1,000; ↑ 900 + 150,000 + 3,000,000.
    h.get_by_label("↓ 1.2 MiB/s ↑ 3.0 MiB/s");
    toggle(&h, "Group by process").click();
    h.run();
    h.get_by_label("firefox (PID 4242) — 2 sockets, 2 established · ↓ 1.2 MiB/s ↑ 147.4 KiB/s");
    h.get_by_label(
        "nginx (PID 1200) — 2 sockets, 1 listening, 1 established · ↓ 1000 B/s ↑ 2.9 MiB/s",
    );
    // Without a rate, no total.
    h.get_by_label("nginx (PID 1201) — 1 socket, 1 listening");
}

#[test]
fn rate_rtt_retrans_and_queue_terms_narrow_the_window() {
    let mut h = traffic_window();
    for (text, expected) in [
        ("rate:>100k", &[80, 51000, 60296][..]),
        ("rate:>1.2m", &[80, 60296]),
        ("rate:<=1000", &[][..]),
        // Both directions below: the faster one is.
        ("rate:<200k", &[51000]),
        ("-rate:>100k", &[22, 53, 80, 6379, 8080]),
        ("rtt:>50ms", &[51000]),
        ("rtt:<10ms", &[80, 60296]),
        ("rtt:<=400us", &[60296]),
        ("retrans:>0", &[51000, 60296]),
        ("retrans:0", &[80]),
        ("recvq:>0", &[6379]),
        ("sendq:>=128", &[80, 6379]),
        ("sendq:>0 state:listen", &[80, 6379]),
    ] {
        set_text(&mut h, "Filter", text);
        assert_eq!(ports(&h), expected, "{text}");
        assert!(h.state().filter_error().is_none(), "{text}");
    }
    // A bad term says why; the last good filter stays.
    for (text, why) in [
        (
            "rtt:>50",
            "'50' has no unit — write a time with its unit, us, ms or s",
        ),
        ("rate:>100x", "unknown unit 'x' in rate '100x'"),
        (
            "retrans:>many",
            "'many' is not a whole number — a count is a whole number",
        ),
        (
            "recvq:>",
            "'>' has no number to compare with — for example recvq:>0",
        ),
    ] {
        set_text(&mut h, "Filter", text);
        h.get_by_label_contains(why);
        assert_eq!(ports(&h), [80, 6379], "{text} keeps the last good filter");
    }
    // The help lists the new terms; clicking one applies it.
    h.get_by_label("?").click();
    h.run();
    h.get_by_role_and_label(egui::accesskit::Role::Link, "rtt:>50ms")
        .scroll_to_me();
    h.run();
    h.get_by_role_and_label(egui::accesskit::Role::Link, "rtt:>50ms")
        .click();
    h.run();
    assert_eq!(h.state().prefs().filter, "rtt:>50ms");
    assert_eq!(ports(&h), [51000]);
}

type CloseResult = Result<(), portscope::act::close::CloseError>;
type Asked = Arc<Mutex<Vec<portscope::model::Socket>>>;

/// A closer that records what it was asked to close and answers `answer`.
fn recording_closer(
    answer: fn(&portscope::model::Socket) -> CloseResult,
) -> (
    Asked,
    impl Fn(&portscope::model::Socket) -> CloseResult + Send + Sync + 'static,
) {
    let asked = Asked::default();
    let record = asked.clone();
    (asked, move |s: &portscope::model::Socket| {
        record.lock().unwrap().push(s.clone());
        answer(s)
    })
}

fn wait_for_label(h: &mut Harness<'_, PortscopeApp>, label: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while h.query_by_label_contains(label).is_none() {
        assert!(Instant::now() < deadline, "{label:?} never appeared");
        std::thread::yield_now();
        h.step();
    }
}

#[test]
fn closing_a_connection_from_its_menu_asks_then_runs_the_closer() {
    let (asked, closer) = recording_closer(|_| Ok(()));
    let app = PortscopeApp::from_snapshot(traffic_snapshot(), Prefs::default()).with_closer(closer);
    let mut h = harness(app);
    h.get_by_label("60296").click_secondary();
    h.run();
    h.get_by_label("Close connection…").click();
    h.run();
    // The dialog names the connection and its process, and nothing runs before the confirm.
    h.get_by_label("Close this connection?");
    h.get_by_label("TCP 192.168.1.20:60296 → 140.82.112.3:443  ESTABLISHED");
    h.get_by_label("firefox (PID 4242)");
    assert!(asked.lock().unwrap().is_empty());
    h.get_by_label("Close connection").click();
    h.run();
    wait_for_label(&mut h, "Closed: the kernel no longer lists it.");
    let asked = asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].local_port, 60296);
    assert_eq!(asked[0].remote_port, Some(443));
    h.get_by_label("Close").click();
    h.run();
    assert!(h.query_by_label("Close this connection?").is_none());
}

#[test]
fn closing_without_the_right_shows_the_ss_command_to_copy() {
    use portscope::act::close::{CloseError, ss_command};
    let (asked, closer) = recording_closer(|s| {
        Err(CloseError::NotPermitted {
            command: ss_command(s),
        })
    });
    let app = PortscopeApp::from_snapshot(traffic_snapshot(), Prefs::default()).with_closer(closer);
    let mut h = harness(app);
    // A listener.
    h.get_by_label("6379").click_secondary();
    h.run();
    h.get_by_label("Close connection…").click();
    h.run();
    h.get_by_label("Close this listener?");
    h.get_by_label("Close connection").click();
    h.run();
    let command = "sudo ss -K -tl src 127.0.0.1:6379";
    wait_for_label(&mut h, command);
    h.get_by_label_contains("needs root (CAP_NET_ADMIN)");
    assert_eq!(asked.lock().unwrap().len(), 1);
    h.get_by_label("Copy").click();
    // The frame that handles the click is the one that copies.
    h.step();
    let copied = h
        .output()
        .platform_output
        .commands
        .iter()
        .any(|c| matches!(c, egui::OutputCommand::CopyText(text) if text == command));
    assert!(copied, "{:?}", h.output().platform_output.commands);
}

#[test]
fn close_connection_is_disabled_with_a_reason_for_time_wait_and_not_offered_for_udp() {
    use egui_kittest::kittest::NodeT;
    let (asked, closer) = recording_closer(|_| Ok(()));
    let app = PortscopeApp::from_snapshot(traffic_snapshot(), Prefs::default()).with_closer(closer);
    let mut h = harness(app);
    // The UDP socket's menu has no such entry.
    h.get_by_label("127.0.0.53").click_secondary();
    h.run();
    h.get_by_label("Copy row");
    assert!(h.query_by_label("Close connection…").is_none());
    h.key_press(egui::Key::Escape);
    h.run();
    // TIME_WAIT's panel: disabled, and the reason on hover.
    h.get_by_label("kernel: TIME_WAIT").click();
    h.run();
    let button = h.get_by_label("Close connection…");
    assert!(button.accesskit_node().is_disabled());
    button.hover();
    h.run();
    h.get_by_label_contains("belongs to the kernel, which ends it by itself");
    h.get_by_label("Close connection…").click();
    h.run();
    assert!(h.query_by_label("Close this connection?").is_none());
    // The UDP socket's panel: disabled too.
    h.get_by_label("127.0.0.53").click();
    h.run();
    assert!(
        h.get_by_label("Close connection…")
            .accesskit_node()
            .is_disabled()
    );
    assert!(asked.lock().unwrap().is_empty());
}

#[test]
fn closing_a_real_connection_as_root_aborts_its_client_end() {
    use std::io::Read;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: closing a connection needs root");
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (_server, _) = listener.accept().unwrap();
    let port = client.local_addr().unwrap().port();
    let mut h = Harness::builder()
        .with_size([1280.0, 800.0])
        .with_context_setup(portscope::ui::setup_context)
        .build_ui_state(|ui, app: &mut PortscopeApp| app.ui(ui), {
            let ctx = egui::Context::default();
            let prefs = Prefs {
                // Earlier connections' TIME_WAIT entries may hold the same local port.
                filter: format!("lport:{port} state:established"),
                ..Prefs::default()
            };
            PortscopeApp::with_source(&ctx, Box::new(OsSource::new().unwrap()), prefs)
        });
    wait_for(&mut h, "the test's connection", &port.to_string());
    h.get_by_label(&port.to_string()).click();
    h.run_ok();
    h.get_by_label("Close connection…").click();
    h.run_ok();
    h.get_by_label("Close connection").click();
    h.run_ok();
    wait_for(
        &mut h,
        "the confirmation",
        "Closed: the kernel no longer lists it.",
    );
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 8];
    let error = client.read(&mut buf).expect_err("the connection was reset");
    assert_eq!(
        error.kind(),
        std::io::ErrorKind::ConnectionAborted,
        "{error}"
    );
}

/// Run `app`'s frames as the window does — one each time a repaint is asked for — until
/// `enough` says so after a frame (at most 60 s); returns each frame's repaint causes and the
/// table it showed.
fn frames_until(
    app: &mut PortscopeApp,
    ctx: &egui::Context,
    mut enough: impl FnMut(&PortscopeApp) -> bool,
) -> Vec<(Vec<String>, u64)> {
    let due = Arc::new(Mutex::new(true));
    let wanted = due.clone();
    ctx.set_request_repaint_callback(move |_| {
        *wanted.lock().unwrap_or_else(|e| e.into_inner()) = true;
    });
    let input = || egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(1280.0, 800.0),
        )),
        ..Default::default()
    };
    let mut frames = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "not enough within 60 s");
        let run = std::mem::take(&mut *due.lock().unwrap_or_else(|e| e.into_inner()));
        if !run {
            std::thread::sleep(Duration::from_millis(2));
            continue;
        }
        let mut out = ctx.run_ui(input(), |ui| app.ui(ui));
        // No renderer here: nothing takes the font atlas's updates.
        out.textures_delta.clear();
        let causes = ctx.repaint_causes().iter().map(|c| c.to_string()).collect();
        frames.push((causes, app.snapshot().seq));
        if enough(app) {
            return frames;
        }
    }
}

#[test]
fn past_ten_thousand_rows_the_tables_reach_the_window_without_the_collector_waking_it() {
    use portscope::collect::GeneratedSource;
    let prefs = Prefs {
        interval_ms: 250,
        ..Prefs::default()
    };
    // A small table: each one comes to the window, which its collector wakes. The collector's
    // wake is what woke most of the frames that showed a new table.
    let ctx = egui::Context::default();
    let mut small = PortscopeApp::with_source(
        &ctx,
        Box::new(GeneratedSource::new(100).with_churn(5)),
        prefs.clone(),
    );
    let mut tables = std::collections::BTreeSet::new();
    let frames = frames_until(&mut small, &ctx, |app| {
        tables.insert(app.snapshot().seq);
        tables.len() > 5
    });
    let mut woke_new = std::collections::BTreeMap::<&str, usize>::new();
    for pair in frames.windows(2) {
        let ((_, before), (causes, after)) = (&pair[0], &pair[1]);
        if before != after {
            for cause in causes.iter().filter(|c| c.starts_with("src/")) {
                *woke_new.entry(cause).or_default() += 1;
            }
        }
    }
    let collector = woke_new
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(cause, _)| cause.to_string())
        .expect("frames woken by the collector showed new tables");
    drop(small);
    // A large one: the change tracker moves to its thread and the collector hands it each
    // table; the window is woken once the table's view is built, never by the collector.
    let ctx = egui::Context::default();
    let mut large = PortscopeApp::with_source(
        &ctx,
        Box::new(GeneratedSource::new(20_000).with_churn(1)),
        prefs,
    );
    let mut shown = std::collections::BTreeSet::new();
    let mut marked = false;
    let frames = frames_until(&mut large, &ctx, |app| {
        let seq = app.snapshot().seq;
        if seq > 0 {
            shown.insert(seq);
            // New rows are highlighted: the tracker is at work on its thread.
            marked |= app
                .visible_rows()
                .take(20_000)
                .any(|s| app.mark(&s.key()).is_some());
        }
        shown.len() > 8 && marked
    });
    // Once the tracker is on its thread (from the first table on; the next may have come
    // before the collector was told), no frame was the collector's.
    let first = frames
        .iter()
        .map(|(_, seq)| *seq)
        .find(|seq| *seq > 0)
        .unwrap_or_default();
    let after_first: Vec<&Vec<String>> = frames
        .iter()
        .skip_while(|(_, seq)| *seq <= first + 1)
        .skip(1)
        .map(|(causes, _)| causes)
        .collect();
    assert!(
        after_first.len() >= 4,
        "frames after the first tables: {}",
        after_first.len()
    );
    for causes in after_first {
        assert!(
            !causes.contains(&collector),
            "a frame woken by the collector ({collector}): {causes:?}"
        );
    }
}
