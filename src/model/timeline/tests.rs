use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::*;
use crate::knowledge::EphemeralRange;
use crate::model::history::ChangeTracker;

/// 2025-11-24 16:00 UTC: a multiple of the resolution, so sample buckets start at it.
const START_MS: u64 = 1_764_000_000_000;

/// The newest sample; the test fails if there is none.
fn latest(t: &Timeline) -> Sample {
    match t.latest() {
        Some(sample) => *sample,
        None => panic!("the timeline has no sample"),
    }
}

/// The oldest sample kept; the test fails if there is none.
fn oldest(t: &Timeline) -> Sample {
    match t.samples().front() {
        Some(sample) => *sample,
        None => panic!("the timeline has no sample"),
    }
}

fn at(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(START_MS + ms)
}

fn socket(proto: Proto, port: u16, state: SockState) -> Socket {
    Socket {
        host: 0,
        proto,
        local_addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
        local_port: port,
        remote_addr: (state != SockState::Listen && state != SockState::Unconn)
            .then_some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        remote_port: (state != SockState::Listen && state != SockState::Unconn).then_some(8080),
        state,
        pids: Default::default(),
        uid: None,
        inode: Some(u32::from(port)),
        cookie: u64::from(port),
        recv_q: 0,
        send_q: 0,
        netns: 0,
    }
}

fn tcp(port: u16, state: SockState) -> Socket {
    socket(Proto::Tcp, port, state)
}

/// Snapshot `seq`, taken `ms` after the start, with `sockets` and a 1,000-port ephemeral
/// range 40000–40999.
fn snap(seq: u64, ms: u64, sockets: Vec<Socket>) -> Snapshot {
    Snapshot {
        seq,
        content_seq: seq,
        taken_at: at(ms),
        sockets,
        ephemeral: EphemeralRange::from_linux_sysctl(Ok("40000 40999".into()), Ok(String::new())),
        ..Snapshot::default()
    }
}

fn changes(new: usize, closed: usize) -> Changes {
    Changes {
        new,
        changed: 0,
        closed,
    }
}

/// Feeds snapshots with no sockets, one every `step` ms from `from` ms, `n` of them.
fn feed(t: &mut Timeline, seq: &mut u64, from: u64, step: u64, n: u64) {
    for i in 0..n {
        *seq += 1;
        assert!(t.update(&snap(*seq, from + i * step, Vec::new()), changes(1, 0)));
    }
}

fn times(t: &Timeline) -> Vec<u64> {
    t.samples().iter().map(|s| s.t_ms - START_MS).collect()
}

#[test]
fn a_sample_counts_sockets_by_state_and_the_ephemeral_fill() {
    let mut t = Timeline::default();
    let sockets = vec![
        tcp(22, SockState::Listen),
        tcp(80, SockState::Listen),
        tcp(40000, SockState::Established),
        tcp(40001, SockState::Established),
        tcp(40001, SockState::TimeWait),
        tcp(40002, SockState::TimeWait),
        tcp(40003, SockState::SynSent),
        tcp(40004, SockState::CloseWait),
        tcp(41000, SockState::Bound),
        socket(Proto::Udp, 53, SockState::Unconn),
        socket(Proto::Udp, 40005, SockState::Established),
    ];
    assert!(t.update(&snap(1, 0, sockets), Changes::default()));
    let s = latest(&t);
    assert_eq!(s.count(StateGroup::Listen), 2);
    assert_eq!(s.count(StateGroup::Established), 2);
    assert_eq!(s.count(StateGroup::TimeWait), 2);
    assert_eq!(
        s.count(StateGroup::OtherTcp),
        3,
        "SYN_SENT, CLOSE_WAIT, BOUND"
    );
    assert_eq!(s.count(StateGroup::Udp), 2, "a connected UDP socket is UDP");
    assert_eq!(s.total(), 11);
    // 40000–40005 in the range (40001 twice), 41000 outside it.
    assert_eq!((s.ephemeral_in_use, s.ephemeral_size), (6, 1000));
    assert!((s.ephemeral_fraction() - 0.006).abs() < 1e-12);
    assert_eq!((s.span_ms, s.opened, s.closed), (0, 0, 0));
    assert_eq!(s.opened_per_sec(), 0.0, "the first sample covers no time");
}

#[test]
fn a_snapshot_offered_again_the_empty_start_and_a_failed_poll_are_skipped() {
    let mut t = Timeline::default();
    assert!(!t.update(&Snapshot::default(), changes(5, 5)), "seq 0");
    let first = snap(1, 0, vec![tcp(22, SockState::Listen)]);
    assert!(t.update(&first, Changes::default()));
    assert!(!t.update(&first, changes(1, 1)), "the same snapshot again");
    let mut failed = snap(2, 1000, vec![tcp(22, SockState::Listen)]);
    failed.error = Some("netlink: no buffer space".into());
    assert!(!t.update(&failed, changes(1, 1)));
    assert_eq!(t.samples().len(), 1);
    assert_eq!(latest(&t).opened, 0);
}

#[test]
fn polls_closer_than_the_resolution_share_a_sample() {
    let mut t = Timeline::default();
    let mut seq = 0;
    // Every 100 ms for a second: buckets 0–249, 250–499, 500–749, 750–999 and 1000.
    feed(&mut t, &mut seq, 0, 100, 11);
    assert_eq!(times(&t), [200, 400, 700, 900, 1000]);
    let spans: Vec<u32> = t.samples().iter().map(|s| s.span_ms).collect();
    assert_eq!(
        spans,
        [200, 200, 300, 200, 100],
        "each from the sample before"
    );
    let opened: Vec<u32> = t.samples().iter().map(|s| s.opened).collect();
    assert_eq!(opened, [3, 2, 3, 2, 1], "the opens of merged polls add up");
    // Counts are the newest poll's.
    seq += 1;
    let one = snap(seq, 1010, vec![tcp(40000, SockState::Established)]);
    t.update(&one, changes(0, 4));
    let last = latest(&t);
    assert_eq!((last.t_ms - START_MS, last.span_ms), (1010, 110));
    assert_eq!(last.count(StateGroup::Established), 1);
    assert_eq!(last.ephemeral_in_use, 1);
    assert_eq!((last.opened, last.closed), (1, 4));
}

#[test]
fn the_store_keeps_ten_minutes_and_never_more_than_its_cap() {
    let mut t = Timeline::default();
    let mut seq = 0;
    // 15 minutes at 4 polls a second: exactly the cap, the last ten minutes.
    feed(&mut t, &mut seq, 0, 250, 15 * 60 * 4);
    assert_eq!(t.samples().len(), MAX_SAMPLES);
    assert_eq!(MAX_SAMPLES, 2_400);
    let newest = latest(&t).t_ms;
    let oldest = oldest(&t).t_ms;
    assert_eq!(newest - oldest, 600_000 - 250);
    // Faster polls (50 ms) for another minute do not add more.
    feed(&mut t, &mut seq, 15 * 60_000, 50, 60 * 20);
    assert_eq!(t.samples().len(), MAX_SAMPLES);
    let bound = MAX_SAMPLES * size_of::<Sample>() + MAX_PENDING * 16;
    assert!(t.heap_bytes() <= bound, "{} bytes", t.heap_bytes());
    assert_eq!(size_of::<Sample>(), 48);
    // Slow polls after that: what is older than ten minutes goes.
    let from = 16 * 60_000;
    feed(&mut t, &mut seq, from, 10_000, 6 * 11);
    let newest = latest(&t).t_ms;
    assert!(
        t.samples().iter().all(|s| newest - s.t_ms < 600_000),
        "nothing older than the window"
    );
    assert_eq!(t.samples().len(), 60, "one every 10 s over 10 minutes");
    // After a long silence, one sample is left, covering the silence.
    seq += 1;
    t.update(&snap(seq, 3 * 3_600_000, Vec::new()), changes(0, 0));
    assert_eq!(t.samples().len(), 1);
}

#[test]
fn times_never_go_back() {
    let mut t = Timeline::default();
    t.update(&snap(1, 65_000, Vec::new()), Changes::default());
    // The clock was set back a minute: the sample stays at the newest time.
    t.update(&snap(2, 5_000, Vec::new()), changes(2, 0));
    assert_eq!(times(&t), [65_000]);
    assert_eq!(latest(&t).opened, 2);
    t.update(&snap(3, 66_000, Vec::new()), changes(1, 0));
    assert_eq!(times(&t), [65_000, 66_000]);
}

#[test]
fn rates_are_counts_over_the_time_a_sample_covers() {
    let mut t = Timeline::default();
    t.update(&snap(1, 0, Vec::new()), Changes::default());
    t.update(&snap(2, 2_000, Vec::new()), changes(4, 1));
    let s = latest(&t);
    assert_eq!(s.span_ms, 2_000);
    assert_eq!(s.opened_per_sec(), 2.0);
    assert_eq!(s.closed_per_sec(), 0.5);
    // Over the last ~5 s: whole samples back until they cover 5 s.
    for (i, (new, closed)) in [(1, 0), (3, 2), (0, 0), (2, 4)].into_iter().enumerate() {
        let ms = 3_000 + 1_000 * i as u64;
        t.update(&snap(3 + i as u64, ms, Vec::new()), changes(new, closed));
    }
    let Some(r) = t.rates(Duration::from_secs(5)) else {
        panic!("rates over that span");
    };
    assert_eq!(
        r.over,
        Duration::from_secs(6),
        "4 one-second samples and one of two"
    );
    // Opened 2, 0, 3, 1 and 4; closed 4, 0, 2, 0 and 1.
    assert_eq!(r.opened_per_sec, 10.0 / 6.0);
    assert_eq!(r.closed_per_sec, 7.0 / 6.0);
    let Some(r) = t.rates(Duration::from_secs(2)) else {
        panic!("rates over that span");
    };
    assert_eq!((r.opened_per_sec, r.closed_per_sec), (1.0, 2.0));
    // Before two polls there is no rate.
    let mut one = Timeline::default();
    assert_eq!(one.rates(Duration::from_secs(5)), None);
    one.update(&snap(1, 0, Vec::new()), changes(0, 0));
    assert_eq!(one.rates(Duration::from_secs(5)), None);
}

#[test]
fn closes_noted_between_polls_land_in_the_sample_that_covers_them() {
    let mut t = Timeline::default();
    assert!(!t.note_closed(at(0), 1), "nothing to count into yet");
    let mut seq = 0;
    feed(&mut t, &mut seq, 0, 1_000, 3); // samples at 0, 1000, 2000
    let closed = |t: &Timeline| t.samples().iter().map(|s| s.closed).collect::<Vec<_>>();
    assert!(t.note_closed(at(1_500), 2));
    assert!(t.note_closed(at(1_000), 1), "the end of a span is in it");
    assert!(t.note_closed(at(1), 5), "just after the first poll");
    assert_eq!(closed(&t), [0, 6, 2]);
    assert!(!t.note_closed(at(0), 1), "the first sample covers no time");
    assert_eq!(closed(&t), [0, 6, 2]);
    // After the newest poll: counted into the next sample, when it comes.
    assert!(t.note_closed(at(2_500), 3));
    assert!(t.note_closed(at(3_400), 7), "after the next poll too");
    assert_eq!(closed(&t), [0, 6, 2]);
    seq += 1;
    t.update(&snap(seq, 3_000, Vec::new()), changes(0, 1));
    assert_eq!(
        closed(&t),
        [0, 6, 2, 4],
        "the poll's own close and the one noted"
    );
    seq += 1;
    t.update(&snap(seq, 4_000, Vec::new()), changes(0, 0));
    assert_eq!(closed(&t), [0, 6, 2, 4, 7]);
    // Older than the window: gone with it.
    feed(&mut t, &mut seq, 610_000, 1_000, 1);
    assert!(!t.note_closed(at(1_500), 1));
}

#[test]
fn noted_closes_waiting_for_a_poll_stay_bounded() {
    let mut t = Timeline::default();
    t.update(&snap(1, 0, Vec::new()), Changes::default());
    for i in 0..10_000 {
        assert!(t.note_closed(at(1 + i), 1));
    }
    assert!(t.pending.len() <= MAX_PENDING);
    t.update(&snap(2, 20_000, Vec::new()), Changes::default());
    assert_eq!(latest(&t).closed, 10_000, "none lost");
    assert!(t.pending.is_empty());
}

#[test]
fn fed_by_the_change_tracker_a_sample_counts_what_opened_and_closed() {
    let mut tracker = ChangeTracker::default();
    let mut t = Timeline::default();
    let instant = Instant::now();
    let mut step = |seq: u64, ms: u64, sockets: Vec<Socket>| {
        let s = Arc::new(snap(seq, ms, sockets));
        let changes = tracker.update(&s, instant + Duration::from_millis(ms));
        t.update(&s, changes);
    };
    let a = tcp(40000, SockState::Established);
    let b = tcp(40001, SockState::Established);
    let c = tcp(40002, SockState::Established);
    step(1, 0, vec![a.clone(), b.clone()]);
    // b closes, c opens, a goes on.
    step(2, 1_000, vec![a.clone(), c.clone()]);
    // Nothing changes: a sample all the same, with no opens or closes.
    step(3, 2_000, vec![a.clone(), c.clone()]);
    let s: Vec<(u32, u32)> = t.samples().iter().map(|s| (s.opened, s.closed)).collect();
    assert_eq!(s, [(0, 0), (1, 1), (0, 0)], "the first poll opens nothing");
    assert_eq!(latest(&t).count(StateGroup::Established), 2);
}
