use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::*;
use crate::model::traffic::{Flow, Rate, TcpStats};

/// The value in `result`; the test fails, saying `what` failed and why, if there is none.
fn ok<T, E: std::fmt::Debug>(result: Result<T, E>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("{what}: {e:?}"),
    }
}

/// The value in `option`; the test fails, saying `what` is missing, if there is none.
fn some<T>(option: Option<T>, what: &str) -> T {
    match option {
        Some(value) => value,
        None => panic!("{what}: none"),
    }
}

fn socket(i: u32, cookie: u64, state: SockState) -> Socket {
    Socket {
        host: 0,
        proto: if i.is_multiple_of(3) {
            Proto::Udp
        } else {
            Proto::Tcp
        },
        local_addr: if i.is_multiple_of(2) {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            IpAddr::V6(Ipv6Addr::LOCALHOST)
        },
        local_port: (1000 + i % 60000) as u16,
        remote_addr: (state == SockState::Established).then_some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        remote_port: (state == SockState::Established).then_some(40000),
        state,
        pids: Pids::from_slice(&[100 + i % 7]),
        uid: Some(1000),
        inode: Some(i),
        cookie,
        recv_q: 0,
        send_q: 0,
        netns: 0,
    }
}

fn process(pid: u32, name: &str) -> ProcessInfo {
    ProcessInfo {
        pid,
        name: name.to_owned(),
        exe: Some(format!("/usr/bin/{name}")),
        cmdline: vec![name.to_owned(), "--flag".to_owned()],
        uid: Some(1000),
        user: Some("alice".to_owned()),
        parent_pid: Some(1),
        start_time: Some(1_700_000_000),
    }
}

fn table(sockets: Vec<Socket>, names: &[(u32, &str)]) -> Table {
    let poll = Poll {
        sockets,
        processes: names
            .iter()
            .map(|(pid, n)| (*pid, process(*pid, n)))
            .collect(),
        users: [(1000, "alice".to_owned())].into(),
        viewer: Viewer {
            uid: Some(1000),
            privileged: false,
        },
        ..Poll::default()
    };
    Table::from_poll(
        poll,
        Some(Range {
            start: 32768,
            end: 60999,
            reserved: vec![(40000, 40010)],
        }),
    )
}

/// Every frame goes through the wire: encoded, framed, read back, applied.
fn through_wire(encoder: &mut Encoder, mirror: &mut Mirror, t: Table) -> usize {
    let mut wire = Vec::new();
    ok(write_message(&mut wire, encoder.encode(t)), "write_message");
    let len = wire.len();
    match ok(read_message(&mut wire.as_slice()), "read_message") {
        Body::Full(full) => mirror.apply_full(full),
        Body::Delta(delta) => ok(mirror.apply_delta(delta), "mirror.apply_delta"),
        other => panic!("{other:?}"),
    }
    len
}

#[test]
fn a_delta_applied_to_the_last_table_gives_the_servers_poll() {
    let (mut encoder, mut mirror) = (Encoder::default(), Mirror::default());
    let first = table(
        (0..50)
            .map(|i| socket(i, 1 + u64::from(i), SockState::Listen))
            .collect(),
        &[(100, "nginx"), (101, "sshd"), (102, "gone")],
    );
    through_wire(&mut encoder, &mut mirror, first.clone());
    assert_eq!(mirror.table(), Some(&first));
    // Removed, added, changed sockets; a process gone, one renamed, one new; users changed.
    let mut sockets: Vec<Socket> = first.sockets[5..].to_vec();
    sockets.push(socket(77, 500, SockState::Established));
    sockets[0].state = SockState::CloseWait;
    sockets[1].recv_q = 9;
    let mut second = table(
        sockets,
        &[(100, "nginx: worker"), (101, "sshd"), (103, "new")],
    );
    second.users.insert(0, "root".to_owned());
    let bytes = through_wire(&mut encoder, &mut mirror, second.clone());
    assert_eq!(mirror.table(), Some(&second));
    assert!(bytes < 2000, "a delta of a few changes took {bytes} bytes");
    // Nothing changed: a heartbeat of a few bytes, and the table stays.
    let bytes = through_wire(&mut encoder, &mut mirror, second.clone());
    assert!(bytes < 40, "{bytes}");
    assert_eq!(mirror.table(), Some(&second));
}

#[test]
fn sockets_without_cookies_go_by_their_addresses_and_repeated_keys_go_whole() {
    let (mut encoder, mut mirror) = (Encoder::default(), Mirror::default());
    let first = table(
        (0..10).map(|i| socket(i, 0, SockState::Listen)).collect(),
        &[],
    );
    through_wire(&mut encoder, &mut mirror, first.clone());
    let mut sockets = first.sockets[2..].to_vec();
    sockets.push(socket(20, 0, SockState::Listen));
    let second = table(sockets.clone(), &[]);
    assert!(matches!(encoder.encode(second.clone()), Body::Delta(_)));
    let mut encoder = Encoder::default();
    encoder.encode(first);
    sockets.push(sockets[0].clone());
    assert!(matches!(encoder.encode(table(sockets, &[])), Body::Full(_)));
}

#[test]
fn a_skipped_frame_is_out_of_step_and_leaves_the_table() {
    let (mut encoder, mut mirror) = (Encoder::default(), Mirror::default());
    let first = table(vec![socket(1, 1, SockState::Listen)], &[]);
    through_wire(&mut encoder, &mut mirror, first.clone());
    encoder.encode(table(vec![], &[]));
    let Body::Delta(third) = encoder.encode(table(vec![socket(2, 2, SockState::Listen)], &[]))
    else {
        panic!("a delta")
    };
    assert_eq!(
        mirror.apply_delta(third),
        Err(ApplyError::OutOfStep { had: 1, got: 3 })
    );
    assert_eq!(mirror.table(), Some(&first));
    assert_eq!(
        Mirror::default().apply_delta(Delta::default()),
        Err(ApplyError::NoTable)
    );
}

fn framed(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

#[test]
fn unknown_fields_and_states_are_ignored() {
    let text = br#"{"v":1,"kind":"full","seq":1,"future":[1,2],"viewer":{"uid":5,"privileged":false,"x":1},
        "sockets":[{"proto":"tcp","local":"::1","lport":22,"state":"LISTEN","colour":"red"},
                   {"proto":"udp","local":"127.0.0.1","lport":53,"state":"SOMETHING_NEW"}],
        "processes":[]}"#;
    let Body::Full(full) = ok(read_message(&mut framed(text).as_slice()), "read_message") else {
        panic!("a full table")
    };
    let mut mirror = Mirror::default();
    mirror.apply_full(full);
    let sockets = &some(mirror.table(), "the mirror's table").sockets;
    assert_eq!(sockets.len(), 2);
    assert_eq!(sockets[0].state, SockState::Listen);
    assert_eq!(sockets[1].state, SockState::Unknown);
    let control = framed(br#"{"v":1,"kind":"control","cmd":"interval","ms":500,"why":"x"}"#);
    assert_eq!(
        ok(read_message(&mut control.as_slice()), "read_message"),
        Body::Control(Control::Interval { ms: 500 })
    );
}

#[test]
fn truncated_corrupt_and_other_version_frames_are_errors() {
    let mut wire = Vec::new();
    ok(
        write_message(&mut wire, Body::Control(Control::Refresh)),
        "write_message",
    );
    for cut in 1..wire.len() {
        let err = read_message(&mut &wire[..cut]).unwrap_err();
        assert!(
            matches!(err, FrameError::Truncated { .. }),
            "{cut}: {err:?}"
        );
    }
    assert!(matches!(
        read_message(&mut &[][..]),
        Err(FrameError::Closed)
    ));
    for body in [
        &b"\xff\xfe garbage"[..],
        br#"{"v":1,"kind":"nonsense"}"#,
        br#"{"v":1,"kind":"full","seq":"one"}"#,
        br#"{"v":2,"kind":"control","cmd":"stop"}"#,
        br#"[1,2,3]"#,
    ] {
        let err = read_message(&mut framed(body).as_slice()).unwrap_err();
        assert!(matches!(err, FrameError::Malformed(_)), "{err:?}");
    }
    let huge = (protocol::MAX_FRAME + 1).to_be_bytes();
    assert!(matches!(
        read_message(&mut &huge[..]),
        Err(FrameError::TooLarge(_))
    ));
}

/// The hello of a made-up host, db1.
fn db1_hello() -> Hello {
    Hello {
        hostname: "db1".to_owned(),
        kernel: "6.1.0".to_owned(),
        os: "linux".to_owned(),
        ephemeral: Range {
            start: 10000,
            end: 20000,
            reserved: vec![(10080, 10080)],
        },
        portscope: "0.1.0".to_owned(),
    }
}

#[test]
fn a_hello_of_another_version_says_which() {
    let other = framed(br#"{"v":7,"kind":"hello","portscope":"9.0.0","whatever":true}"#);
    assert_eq!(
        ok(read_hello(&mut other.as_slice()), "read_hello"),
        Err(OtherVersion {
            stream: 7,
            portscope: Some("9.0.0".to_owned())
        })
    );
    let hello = db1_hello();
    let mut wire = Vec::new();
    ok(
        write_message(&mut wire, Body::Hello(hello.clone())),
        "write_message",
    );
    assert_eq!(
        ok(read_hello(&mut wire.as_slice()), "read_hello"),
        Ok(hello)
    );
    let not_hello = framed(br#"{"v":1,"kind":"control","cmd":"stop"}"#);
    assert!(read_hello(&mut not_hello.as_slice()).is_err());
}

fn arb_socket() -> impl Strategy<Value = Socket> {
    (
        0u32..40,
        prop_oneof![Just(0u64), 1u64..30],
        prop::sample::select(STATES.to_vec()),
        0u32..3,
    )
        .prop_map(|(i, cookie, state, q)| {
            let mut s = socket(i, cookie, state);
            s.recv_q = q;
            s
        })
}

proptest! {
    /// Any sequence of polls, streamed, gives each poll back exactly.
    #[test]
    fn any_sequence_of_polls_round_trips(
        polls in prop::collection::vec(prop::collection::vec(arb_socket(), 0..30), 1..6),
    ) {
        let (mut encoder, mut mirror) = (Encoder::default(), Mirror::default());
        for sockets in polls {
            let names: Vec<(u32, &str)> = sockets
                .iter()
                .flat_map(|s| s.pids.iter().map(|p| (*p, "p")))
                .collect();
            let t = table(sockets, &names);
            through_wire(&mut encoder, &mut mirror, t.clone());
            prop_assert_eq!(mirror.table(), Some(&t));
        }
    }
}

fn flow(sent: u64, received: u64, rate: Option<(u64, u64)>) -> Flow {
    Flow {
        stats: TcpStats {
            bytes_sent: Some(sent),
            bytes_acked: Some(sent + 1),
            bytes_received: Some(received),
            rtt_us: 120,
            rttvar_us: 40,
            retrans: 0,
            delivery_rate: Some(1000),
        },
        rate: rate.map(|(down, up)| Rate { down, up }),
    }
}

#[test]
fn traffic_and_drops_cross_whole_then_only_what_moved() {
    let (mut encoder, mut mirror) = (Encoder::default(), Mirror::default());
    let sockets: Vec<Socket> = (1..=100)
        .map(|i| socket(i * 3 + 1, u64::from(i), SockState::Established))
        .chain([socket(0, 500, SockState::Unconn)])
        .collect();
    let mut t = table(sockets, &[]);
    t.traffic = (1..=100)
        .map(|c| (c, flow(c * 1000, c * 50, None)))
        .collect();
    t.drops = [(500, 3)].into_iter().collect();
    let full = through_wire(&mut encoder, &mut mirror, t.clone());
    assert_eq!(mirror.table(), Some(&t));
    // The second poll that saw them: their rates appeared, so they go whole.
    for c in 1..=100u64 {
        t.traffic
            .insert(c, flow(c * 1000 + 4096, c * 50 + 7, Some((7, 4096))));
    }
    let mut wire = Vec::new();
    ok(
        write_message(&mut wire, encoder.encode(t.clone())),
        "write_message",
    );
    match ok(read_message(&mut wire.as_slice()), "read_message") {
        Body::Delta(d) => {
            assert_eq!(d.traffic.len(), 100);
            assert!(d.moved.is_none());
            ok(mirror.apply_delta(d), "mirror.apply_delta");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(mirror.table(), Some(&t));
    // From here on only counters move: steps.
    for c in 1..=100u64 {
        t.traffic
            .insert(c, flow(c * 1000 + 8192, c * 50 + 14, Some((7, 4096))));
    }
    let mut wire = Vec::new();
    ok(
        write_message(&mut wire, encoder.encode(t.clone())),
        "write_message",
    );
    let text = String::from_utf8_lossy(&wire[4..]).into_owned();
    match ok(read_message(&mut wire.as_slice()), "read_message") {
        Body::Delta(d) => {
            let moved = some(d.moved.as_ref(), "steps");
            assert_eq!(moved.cookie, vec![1; 100], "cookies as steps");
            assert_eq!(moved.sent, vec![4096; 100]);
            assert!(moved.rtt.is_empty() && moved.down.is_empty(), "{text}");
            assert!(d.traffic.is_empty(), "{text}");
            ok(mirror.apply_delta(d), "mirror.apply_delta");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(mirror.table(), Some(&t));
    assert!(
        wire.len() * 4 < full,
        "100 busy connections took {} bytes of a {full}-byte table: {text}",
        wire.len()
    );
    // A connection that goes to TIME_WAIT keeps its socket and loses its traffic; a removed
    // connection's traffic goes with it, unnamed; the UDP socket drops more.
    let mut next = t.clone();
    next.sockets.retain(|s| s.cookie != 2);
    some(
        next.sockets.iter_mut().find(|s| s.cookie == 1),
        "the connection with cookie 1",
    )
    .state = SockState::TimeWait;
    next.traffic.remove(&1);
    next.traffic.remove(&2);
    next.drops.insert(500, 9);
    let body = encoder.encode(next.clone());
    let Body::Delta(d) = body else { panic!() };
    assert_eq!(d.traffic_gone, [1]);
    assert_eq!(
        d.drops,
        [WireDrop {
            cookie: 500,
            drops: 9
        }]
    );
    assert!(d.moved.is_none());
    ok(mirror.apply_delta(d), "mirror.apply_delta");
    assert_eq!(mirror.table(), Some(&next));
}

#[test]
fn a_step_for_a_connection_the_reader_lacks_leaves_the_table() {
    let (mut encoder, mut mirror) = (Encoder::default(), Mirror::default());
    let mut t = table(vec![socket(1, 1, SockState::Established)], &[]);
    t.traffic = [(1, flow(10, 10, None))].into_iter().collect();
    through_wire(&mut encoder, &mut mirror, t.clone());
    for moved in [
        // A cookie the reader has no traffic for.
        Moved {
            cookie: vec![2],
            sent: vec![5],
            ..Moved::default()
        },
        // A column of the wrong length.
        Moved {
            cookie: vec![1],
            sent: vec![5, 6],
            ..Moved::default()
        },
        // A counter below zero.
        Moved {
            cookie: vec![1],
            sent: vec![-11],
            ..Moved::default()
        },
        // A rate the connection does not have.
        Moved {
            cookie: vec![1],
            down: vec![3],
            ..Moved::default()
        },
    ] {
        let delta = Delta {
            seq: 2,
            moved: Some(Box::new(moved)),
            ..Delta::default()
        };
        assert_eq!(mirror.apply_delta(delta), Err(ApplyError::BadTraffic));
        assert_eq!(mirror.table(), Some(&t));
    }
}

fn arb_flow() -> impl Strategy<Value = Flow> {
    let counter = || prop::option::weighted(0.9, 0u64..5000);
    (
        (counter(), counter(), counter()),
        (0u32..500, 0u32..50, 0u32..3),
        counter(),
        prop::option::weighted(0.7, (0u64..900, 0u64..900)),
    )
        .prop_map(
            |((sent, acked, received), (rtt, var, re), delivery, rate)| Flow {
                stats: TcpStats {
                    bytes_sent: sent,
                    bytes_acked: acked,
                    bytes_received: received,
                    rtt_us: rtt,
                    rttvar_us: var,
                    retrans: re,
                    delivery_rate: delivery,
                },
                rate: rate.map(|(down, up)| Rate { down, up }),
            },
        )
}

proptest! {
    /// Any sequence of polls with traffic and drops, streamed, gives each poll back exactly:
    /// connections that come, go, move, change shape, lose their socket or keep it.
    #[test]
    fn any_sequence_of_polls_with_traffic_round_trips(
        polls in prop::collection::vec(
            (
                prop::collection::vec(arb_socket(), 0..20),
                prop::collection::hash_map(0u64..30, arb_flow(), 0..12),
                prop::collection::hash_map(0u64..30, 0u32..4, 0..6),
            ),
            1..8,
        ),
    ) {
        let (mut encoder, mut mirror) = (Encoder::default(), Mirror::default());
        for (sockets, traffic, drops) in polls {
            let mut t = table(sockets, &[]);
            t.traffic = traffic.into_iter().collect();
            t.drops = drops.into_iter().collect();
            through_wire(&mut encoder, &mut mirror, t.clone());
            prop_assert_eq!(mirror.table(), Some(&t));
        }
    }
}

#[test]
fn the_kind_first_decoding_reads_every_message_as_the_derived_one_does() {
    let (mut encoder, mut mirror) = (Encoder::default(), Mirror::default());
    let first = Table::from_poll(crate::collect::generated_poll(300), None);
    let mut next = first.clone();
    next.sockets.drain(..30);
    next.processes.retain(|pid, _| pid % 3 != 0);
    let mut bodies = vec![encoder.encode(first.clone())];
    bodies.push(encoder.encode(next));
    bodies.push(Body::Hello(db1_hello()));
    bodies.push(Body::Error {
        message: "cannot read \"/proc\"".to_owned(),
    });
    for control in [
        Control::Interval { ms: 250 },
        Control::Refresh,
        Control::Pause,
        Control::Resume,
        Control::Stop,
    ] {
        bodies.push(Body::Control(control));
    }
    assert!(matches!(bodies[0], Body::Full(_)));
    assert!(matches!(bodies[1], Body::Delta(_)));
    for body in bodies {
        let bytes = ok(
            serde_json::to_vec(&Message::new(body.clone())),
            "serde_json::to_vec",
        );
        let derived: Message = ok(serde_json::from_slice(&bytes), "serde_json::from_slice");
        assert_eq!(ok(parse_message(&bytes), "parse_message"), derived.body);
        assert_eq!(derived.body, body);
        if let Body::Full(full) = derived.body {
            mirror.apply_full(full);
            assert_eq!(mirror.table(), Some(&first));
        }
    }
    // Without a kind, or of one this version does not know: an error, as before.
    for bytes in [
        &br#"{"v":1,"seq":1}"#[..],
        br#"{"v":1,"kind":"\u001b[31m"}"#,
    ] {
        let err = parse_message(bytes).unwrap_err();
        assert!(matches!(err, FrameError::Malformed(_)), "{err:?}");
        assert!(serde_json::from_slice::<Message>(bytes).is_err());
        assert!(!err.to_string().contains('\u{1b}'), "escaped: {err}");
    }
}
