//! How the window sits on a screen: the status bar in one line at 1280 px, and the hint a
//! user sees when the sockets of other users show no process.

mod common;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use portscope::collect::Poll;
use portscope::model::{Snapshot, SockState};
use portscope::ui::{PortscopeApp, Prefs};

fn harness(app: PortscopeApp, width: f32) -> Harness<'static, PortscopeApp> {
    let mut h = Harness::builder()
        .with_size([width, 800.0])
        .with_context_setup(portscope::ui::setup_context)
        .build_ui_state(|ui, app: &mut PortscopeApp| app.ui(ui), app);
    h.run();
    h
}

fn snapshot(poll: Poll) -> Snapshot {
    Snapshot::from_poll(
        7,
        std::time::SystemTime::now(),
        std::time::Duration::from_millis(48),
        poll,
    )
}

/// The demo machine with `n` more listeners of root's whose process the viewer cannot see.
fn with_root_listeners(n: u16) -> Poll {
    let mut poll = common::demo_poll();
    let template = poll.sockets[0].clone();
    for i in 0..n {
        let mut s = template.clone();
        s.local_port = 600 + i;
        s.state = SockState::Listen;
        s.pids = Default::default();
        s.uid = Some(0);
        s.inode = Some(90_000 + u32::from(i));
        s.cookie = 90_000 + u64::from(i);
        poll.sockets.push(s);
    }
    poll
}

#[test]
fn the_status_bar_is_one_line_at_1280_px() {
    // Large counts and a poll error: the longest the bar gets.
    let mut poll = with_root_listeners(0);
    let template = poll.sockets[0].clone();
    for i in 0..20_000u32 {
        let mut s = template.clone();
        s.local_port = 10_000 + (i % 50_000) as u16;
        s.remote_port = Some(40_000 + (i % 20_000) as u16);
        s.remote_addr = Some(std::net::Ipv4Addr::new(127, 0, 0, 2).into());
        s.state = SockState::Established;
        s.cookie = 1_000_000 + u64::from(i);
        poll.sockets.push(s);
    }
    let mut snap = snapshot(poll);
    snap.error = Some(
        "cannot read the socket table: the kernel refused the netlink dump (Operation not \
         permitted); the last good poll is shown"
            .to_owned(),
    );
    let prefs = Prefs {
        interval_ms: 10_000,
        ..Prefs::default()
    };
    let mut h = harness(PortscopeApp::from_snapshot(snap, prefs), 1280.0);
    // A table this large is sorted on the view's thread, which wakes the window when done.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while h.query_by_label_contains("20007 sockets · ").is_none() {
        assert!(std::time::Instant::now() < deadline, "the view never came");
        std::thread::sleep(std::time::Duration::from_millis(10));
        h.run();
    }
    let parts = [
        h.get_by_label_contains("20007 sockets · ").rect(),
        h.get_by_label_contains("cannot read the socket table")
            .rect(),
        h.get_by_value("every 10 s").rect(),
        h.get_by_label("Pause").rect(),
        h.get_by_label("Refresh now").rect(),
        h.get_by_value("highlight 2 s").rect(),
        h.get_by_label("theme").rect(),
    ];
    let row = parts[0].center().y;
    for rect in parts {
        assert!(
            (rect.center().y - row).abs() < 2.0,
            "not on the bar's line: {rect:?} (the line is at y = {row})"
        );
        assert!(
            rect.left() >= 0.0 && rect.right() <= 1280.0,
            "off the window: {rect:?}"
        );
    }
    // The controls keep the right end and do not overlap the text.
    let text_end = parts[1].right();
    assert!(text_end <= parts[2].left(), "{parts:?}");
    assert!(parts[6].right() > 1200.0, "{parts:?}");
}

#[test]
fn many_sockets_of_other_users_bring_a_hint_until_it_is_dismissed() {
    let mut h = harness(
        PortscopeApp::from_snapshot(snapshot(with_root_listeners(4)), Prefs::default()),
        1280.0,
    );
    // The demo's redis socket (another user's) and root's four.
    h.get_by_label(
        "5 sockets of other users (root, redis) show no process: only root may see which \
         process holds another user's socket. To see every owner, run",
    );
    h.get_by_label("sudo portscope");
    h.get_by_label("Copy").click();
    h.step();
    assert!(
        h.output()
            .platform_output
            .commands
            .contains(&egui::OutputCommand::CopyText("sudo portscope".to_owned())),
        "{:?}",
        h.output().platform_output.commands
    );
    h.run();
    h.get_by_label("Dismiss").click();
    h.run();
    assert!(
        h.query_by_label_contains("sockets of other users")
            .is_none()
    );
    assert!(h.state().prefs().owners_hint_dismissed, "remembered");
}

#[test]
fn the_hint_stays_away_when_little_or_nothing_is_hidden() {
    // The demo alone: one socket of another user.
    let h = harness(
        PortscopeApp::from_snapshot(snapshot(with_root_listeners(0)), Prefs::default()),
        1280.0,
    );
    assert!(
        h.query_by_label_contains("sockets of other users")
            .is_none()
    );
    // As root every owner is visible.
    let mut poll = with_root_listeners(10);
    poll.viewer.privileged = true;
    let h = harness(
        PortscopeApp::from_snapshot(snapshot(poll), Prefs::default()),
        1280.0,
    );
    assert!(
        h.query_by_label_contains("sockets of other users")
            .is_none()
    );
    // Dismissed in an earlier run.
    let prefs = Prefs {
        owners_hint_dismissed: true,
        ..Prefs::default()
    };
    let h = harness(
        PortscopeApp::from_snapshot(snapshot(with_root_listeners(10)), prefs),
        1280.0,
    );
    assert!(
        h.query_by_label_contains("sockets of other users")
            .is_none()
    );
}
