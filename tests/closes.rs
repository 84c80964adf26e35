//! The window's *Recently closed* gets every connection, even one that lived a millisecond
//! between two polls, and a closed connection leaves the table without waiting for a poll
//! (Linux: the kernel's announcements of destroyed sockets).
#![cfg(target_os = "linux")]

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use common::short_lived::{CONNECTIONS, UDP_SOCKETS, short_connections, short_udp_sockets};
use egui_kittest::Harness;
use portscope::collect::OsSource;
use portscope::model::history::{Appeared, ClosedSocket, Mark};
use portscope::ui::{PortscopeApp, Prefs};

fn live_window(filter: String, interval_ms: u64) -> Harness<'static, PortscopeApp> {
    Harness::builder()
        .with_size([1280.0, 800.0])
        .with_context_setup(portscope::ui::setup_context)
        .build_ui_state(|ui, app: &mut PortscopeApp| app.ui(ui), {
            let ctx = egui::Context::default();
            let prefs = Prefs {
                filter,
                interval_ms,
                ..Prefs::default()
            };
            PortscopeApp::with_source(&ctx, Box::new(OsSource::new().unwrap()), prefs)
        })
}

/// Step the window until `done`, within `limit`.
fn step_until(
    h: &mut Harness<'_, PortscopeApp>,
    limit: Duration,
    what: &str,
    done: impl Fn(&PortscopeApp) -> bool,
) {
    let deadline = Instant::now() + limit;
    while !done(h.state()) {
        assert!(
            Instant::now() < deadline,
            "{what} (Recently closed holds {}: {:?})",
            h.state().closed_history().count(),
            h.state()
                .closed_history()
                .map(|c| (
                    c.socket.proto,
                    c.appeared == Appeared::BetweenPolls,
                    c.socket.state
                ))
                .fold(HashMap::new(), |mut m, k| {
                    *m.entry(format!("{k:?}")).or_insert(0) += 1;
                    m
                })
        );
        std::thread::sleep(Duration::from_millis(20));
        h.step();
    }
}

#[test]
fn recently_closed_gets_connections_that_lived_a_millisecond_with_their_bytes() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let receiver = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let udp_port = receiver.local_addr().unwrap().port();
    let mut h = live_window(format!("port:{port},{udp_port}"), 1000);
    step_until(
        &mut h,
        Duration::from_secs(15),
        "the listener shows",
        |app| app.visible_rows().any(|s| s.local_port == port),
    );

    let sent = short_connections(&listener);
    let udp_ports = short_udp_sockets(udp_port);

    let ours = |c: &ClosedSocket| c.socket.remote_port == Some(port);
    step_until(
        &mut h,
        Duration::from_secs(30),
        "the connections reach Recently closed",
        |app| {
            app.closed_history().filter(|c| ours(c)).count() >= CONNECTIONS * 99 / 100
                && app
                    .closed_history()
                    .filter(|c| c.socket.remote_port == Some(udp_port))
                    .count()
                    >= UDP_SOCKETS * 99 / 100
        },
    );
    let history: Vec<&ClosedSocket> = h.state().closed_history().collect();
    let clients: HashMap<u16, &ClosedSocket> = history
        .iter()
        .filter(|c| ours(c))
        .map(|c| (c.socket.local_port, *c))
        .collect();
    let right = sent
        .iter()
        .filter(|(client, bytes)| {
            clients
                .get(client)
                .is_some_and(|c| c.final_stats.and_then(|t| t.bytes_sent) == Some(**bytes as u64))
        })
        .count();
    assert!(
        right * 100 >= sent.len() * 99,
        "{right} of {} connections in Recently closed with their bytes",
        sent.len()
    );
    // Most lived less than a poll; the server's ends are put down to the listener's owner.
    let between = history
        .iter()
        .filter(|c| c.appeared == Appeared::BetweenPolls)
        .count();
    assert!(between * 2 > CONNECTIONS, "{between} lived between polls");
    let me = std::process::id();
    let accepted = history
        .iter()
        .filter(|c| c.socket.local_port == port && c.appeared == Appeared::BetweenPolls)
        .collect::<Vec<_>>();
    assert!(!accepted.is_empty());
    assert!(
        accepted
            .iter()
            .all(|c| c.owners.iter().any(|o| o.pid == me))
    );
    let udp: Vec<u16> = history
        .iter()
        .filter(|c| c.socket.remote_port == Some(udp_port))
        .map(|c| c.socket.local_port)
        .collect();
    let right_udp = udp_ports.iter().filter(|p| udp.contains(p)).count();
    assert!(
        right_udp * 100 >= UDP_SOCKETS * 99,
        "{right_udp} of {UDP_SOCKETS} UDP sockets in Recently closed"
    );
}

#[test]
fn a_closed_connection_leaves_the_table_before_the_next_poll() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    // Polls 30 s apart: anything faster than that comes from the kernel's announcement.
    let mut client = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    let (server, _) = listener.accept().unwrap();
    let mut h = live_window(format!("port:{port}"), 30_000);
    let client_port = client.local_addr().unwrap().port();
    step_until(
        &mut h,
        Duration::from_secs(15),
        "the connection shows",
        |app| app.visible_rows().any(|s| s.local_port == client_port),
    );
    let key = h
        .state()
        .visible_rows()
        .find(|s| s.local_port == client_port)
        .map(|s| s.key())
        .unwrap();
    client.write_all(&[1u8; 1234]).unwrap();
    // The server closes; a moment later the client answers with its own close.
    drop(server);
    std::thread::sleep(Duration::from_millis(50));
    drop(client);
    let closed_at = Instant::now();
    step_until(
        &mut h,
        Duration::from_secs(5),
        "the row is marked closing",
        |app| app.mark(&key) == Some(Mark::Closing),
    );
    assert!(
        closed_at.elapsed() < Duration::from_secs(10),
        "long before the next poll"
    );
}
