//! The window, driven like a user drives it: clicks and typing through egui_kittest.

mod common;

use std::net::TcpListener;
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
    h.get_by_label_contains("every interface");
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
    h.get_by_label_contains("this machine only");
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
    let filter = h.get_by_role(egui::accesskit::Role::TextInput);
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
    h.get_by_label_contains(&format!("(PID {me})"));
    h.get_by_label("Owning process");
}
