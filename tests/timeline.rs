//! The timeline above the table and the status bar's opened/closed rates, driven through
//! egui_kittest with scripted polls.

mod common;

use std::time::{Duration, SystemTime};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use portscope::model::Snapshot;
use portscope::ui::{PortscopeApp, Prefs};

/// The demo machine at poll `seq`, taken at a fixed time `ms` after a fixed start.
fn poll_at(seq: u64, ms: u64, poll: portscope::collect::Poll) -> Snapshot {
    let mut snap = Snapshot::from_poll(
        seq,
        SystemTime::UNIX_EPOCH + Duration::from_millis(1_764_000_000_000 + ms),
        Duration::from_millis(1),
        poll,
    );
    snap.content_seq = seq;
    snap
}

fn window(prefs: Prefs) -> Harness<'static, PortscopeApp> {
    let app = PortscopeApp::from_snapshot(poll_at(1, 0, common::demo_poll()), prefs);
    let mut h = Harness::builder()
        .with_size([1280.0, 800.0])
        .with_context_setup(portscope::ui::setup_context)
        .build_ui_state(|ui, app: &mut PortscopeApp| app.ui(ui), app);
    h.run();
    h
}

fn toggle<'a>(h: &'a Harness<'_, PortscopeApp>, label: &'a str) -> egui_kittest::Node<'a> {
    h.get_by(move |n| {
        n.label().as_deref() == Some(label) && n.role() != egui::accesskit::Role::Label
    })
}

#[test]
fn the_timeline_shows_by_default_and_its_toggle_and_key_hide_and_show_it() {
    let mut h = window(Prefs::default());
    // The three charts' headings and the states' legend.
    h.get_by_label("Sockets by state");
    h.get_by_label("Opened / closed per second");
    h.get_by_label("Ephemeral ports in use");
    h.get_by_label("other TCP");
    h.get_by_label("opened");

    toggle(&h, "Timeline").click();
    h.run();
    assert!(h.query_by_label("Sockets by state").is_none());
    assert!(
        !h.state().prefs().show_timeline,
        "remembered in the preferences"
    );

    h.key_press(egui::Key::T);
    h.run();
    h.get_by_label("Sockets by state");
    assert!(h.state().prefs().show_timeline);
    h.key_press(egui::Key::T);
    h.run();
    assert!(h.query_by_label("Sockets by state").is_none());

    // Typing a T into the filter box is typing, not a toggle.
    h.get_by_label("Filter").click();
    h.run();
    h.get_by_label("Filter").type_text("t");
    h.key_press(egui::Key::T);
    h.run();
    assert!(h.query_by_label("Sockets by state").is_none());
}

#[test]
fn a_hidden_timeline_stays_hidden_at_the_next_start() {
    let h = window(Prefs {
        show_timeline: false,
        ..Prefs::default()
    });
    assert!(h.query_by_label("Sockets by state").is_none());
    toggle(&h, "Timeline");
}

#[test]
fn the_status_bar_says_how_many_connections_opened_and_closed_per_second() {
    let mut h = window(Prefs::default());
    assert!(
        h.query_by_label_contains("opened/s").is_none(),
        "no rate before a second poll"
    );
    // One second later the browser's connection from 51000 has closed and one from 40404
    // has opened.
    let mut next = common::demo_poll();
    let gone = next
        .sockets
        .iter()
        .position(|s| s.local_port == 51000)
        .expect("the demo has a connection from 51000");
    let mut fresh = next.sockets.remove(gone);
    fresh.local_port = 40404;
    fresh.inode = Some(999);
    next.sockets.push(fresh);
    h.state_mut().push_snapshot(poll_at(2, 1_000, next.clone()));
    h.run();
    h.get_by_label("1.0 opened/s · 1.0 closed/s");

    // Four quiet seconds later the five-second average has thinned out.
    for seq in 3..=6 {
        h.state_mut()
            .push_snapshot(poll_at(seq, (seq - 1) * 1_000, next.clone()));
        h.run();
    }
    h.get_by_label("0.2 opened/s · 0.2 closed/s");
}
