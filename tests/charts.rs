//! The details panel's traffic charts, driven through egui_kittest: a connection that moved
//! data shows its charts the moment it is selected; one that did not says so.

mod common;

use std::time::{Duration, SystemTime};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use portscope::model::Snapshot;
use portscope::model::traffic::{Flow, Rate, TcpStats};
use portscope::ui::{PortscopeApp, Prefs};

/// The browser's connection from local port 60296, given a cookie so its traffic can be found.
const BUSY_PORT: u16 = 60296;
const BUSY_COOKIE: u64 = 77;
/// The browser's other connection, which moves nothing.
const QUIET_PORT: u16 = 51000;
const QUIET_COOKIE: u64 = 78;

/// The demo machine at poll `seq`, one second after the one before, with the busy connection
/// receiving `down` bytes/s and the quiet one open and idle.
fn poll(seq: u64, down: u64) -> Snapshot {
    let mut snap = Snapshot::from_poll(
        seq,
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_000_000 + seq),
        Duration::from_millis(1),
        common::demo_poll(),
    );
    snap.content_seq = seq;
    for s in &mut snap.sockets {
        match s.local_port {
            BUSY_PORT => s.cookie = BUSY_COOKIE,
            QUIET_PORT => s.cookie = QUIET_COOKIE,
            _ => {}
        }
    }
    let stats = TcpStats {
        bytes_sent: Some(seq * 1000),
        bytes_received: Some(seq * down),
        rtt_us: 12_000,
        ..TcpStats::default()
    };
    let rate = (seq > 1).then_some(Rate { down, up: 1000 });
    snap.traffic.insert(BUSY_COOKIE, Flow { stats, rate });
    let idle = TcpStats {
        bytes_acked: Some(1),
        bytes_received: Some(1),
        ..TcpStats::default()
    };
    snap.traffic.insert(
        QUIET_COOKIE,
        Flow {
            stats: idle,
            rate: (seq > 1).then_some(Rate::default()),
        },
    );
    snap
}

/// The window after a minute of polls: the history fills while nothing is selected.
fn window_after_a_minute() -> Harness<'static, PortscopeApp> {
    let app = PortscopeApp::from_snapshot(poll(1, 0), Prefs::default());
    let mut h = Harness::builder()
        .with_size([1280.0, 1000.0])
        .with_context_setup(portscope::ui::setup_context)
        .build_ui_state(|ui, app: &mut PortscopeApp| app.ui(ui), app);
    h.run();
    for seq in 2..=60 {
        h.state_mut().push_snapshot(poll(seq, 350_000));
        h.run();
    }
    h
}

#[test]
fn a_connection_that_moved_data_shows_its_charts_when_selected() {
    let mut h = window_after_a_minute();
    assert!(h.query_by_label("Rate of this connection").is_none());
    h.get_by_label(&BUSY_PORT.to_string()).click();
    h.run();
    assert_eq!(h.state().selected().map(|s| s.local_port), Some(BUSY_PORT));
    h.get_by_label("Traffic");
    h.get_by_label("now ↓ 350 kB/s  ↑ 1.0 kB/s  RTT 12 ms");
    h.get_by_label("Rate of this connection");
    h.get_by_label("Round-trip time");
    h.get_by_label("Process total: firefox (PID 4242)");
    // The legends: the connection's rate and its process's each name down and up.
    assert_eq!(h.query_all_by_label("down (received)").count(), 2);
    assert_eq!(h.query_all_by_label("up (sent)").count(), 2);
    // The RTT chart's legend, beside the table's RTT column heading.
    assert_eq!(h.query_all_by_label("RTT").count(), 2);
    assert!(h.query_by_label_contains("No traffic yet").is_none());
}

#[test]
fn a_connection_without_traffic_says_no_traffic_yet() {
    let mut h = window_after_a_minute();
    h.get_by_label(&QUIET_PORT.to_string()).click();
    h.run();
    assert_eq!(h.state().selected().map(|s| s.local_port), Some(QUIET_PORT));
    h.get_by_label_contains("No traffic yet");
    assert!(h.query_by_label("Rate of this connection").is_none());
    assert!(h.query_by_label("Round-trip time").is_none());
    // Its process did move data, through the other connection: that chart is there.
    h.get_by_label("Process total: firefox (PID 4242)");
}

#[test]
fn listeners_and_udp_sockets_show_no_traffic_section() {
    let mut h = window_after_a_minute();
    h.get_by_label("nginx, nginx").click();
    h.run();
    assert!(h.query_by_label("Traffic").is_none());
    assert!(h.query_by_label_contains("No traffic yet").is_none());
}
