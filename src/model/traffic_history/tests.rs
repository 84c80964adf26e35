use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, SystemTime};

use super::*;
use crate::model::traffic::{Flow, TcpStats};
use crate::model::{ProcessInfo, SockState, Socket};

const START: SystemTime = SystemTime::UNIX_EPOCH;

/// The series of connection `cookie`; the test fails, saying `why` it should be there, if
/// there is none.
fn followed<'a>(history: &'a TrafficHistory, cookie: u64, why: &str) -> &'a Series {
    match history.connection(cookie) {
        Some(series) => series,
        None => panic!("connection {cookie} is not followed ({why})"),
    }
}

/// A script of polls at chosen instants: the clock is the snapshot's `taken_at`.
struct Script {
    seq: u64,
    history: TrafficHistory,
}

/// A connection in a poll: cookie, owning PIDs, rate down/up (None: first reading), RTT µs.
#[derive(Clone)]
struct Conn {
    cookie: u64,
    pids: Vec<u32>,
    rate: Option<(u64, u64)>,
    rtt_us: u32,
}

fn busy(cookie: u64, pids: &[u32], down: u64, up: u64) -> Conn {
    Conn {
        cookie,
        pids: pids.to_vec(),
        rate: Some((down, up)),
        rtt_us: 1500,
    }
}

fn quiet(cookie: u64, pids: &[u32]) -> Conn {
    busy(cookie, pids, 0, 0)
}

fn socket(c: &Conn) -> Socket {
    Socket {
        host: 0,
        proto: Proto::Tcp,
        local_addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
        local_port: 40_000 + (c.cookie % 20_000) as u16,
        remote_addr: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        remote_port: Some(8080),
        state: SockState::Established,
        pids: c.pids.as_slice().into(),
        uid: Some(1000),
        inode: Some(c.cookie as u32),
        cookie: c.cookie,
        recv_q: 0,
        send_q: 0,
        netns: 0,
    }
}

fn process(pid: u32, start_time: u64) -> ProcessInfo {
    ProcessInfo {
        pid,
        name: format!("p{pid}"),
        exe: None,
        cmdline: Vec::new(),
        uid: Some(1000),
        user: None,
        parent_pid: None,
        start_time: Some(start_time),
    }
}

/// A poll with these connections; every PID they name runs, started at time 1 unless
/// `processes` says otherwise.
fn poll(at_ms: u64, conns: &[Conn], processes: &[(u32, u64)]) -> Snapshot {
    let mut snap = Snapshot {
        taken_at: START + Duration::from_millis(at_ms),
        ..Snapshot::default()
    };
    for c in conns {
        snap.sockets.push(socket(c));
        let stats = TcpStats {
            bytes_sent: Some(10_000),
            bytes_received: Some(10_000),
            rtt_us: c.rtt_us,
            ..TcpStats::default()
        };
        let rate = c.rate.map(|(down, up)| Rate { down, up });
        snap.traffic.insert(c.cookie, Flow { stats, rate });
        for pid in &c.pids {
            snap.processes.insert(*pid, process(*pid, 1));
        }
    }
    for (pid, start) in processes {
        snap.processes.insert(*pid, process(*pid, *start));
    }
    snap
}

impl Script {
    fn new(limits: Limits) -> Script {
        Script {
            seq: 0,
            history: TrafficHistory::new(limits),
        }
    }

    fn at(&mut self, at_ms: u64, conns: &[Conn]) -> &TrafficHistory {
        self.at_with(at_ms, conns, &[])
    }

    fn at_with(&mut self, at_ms: u64, conns: &[Conn], processes: &[(u32, u64)]) -> &TrafficHistory {
        self.seq += 1;
        let mut snap = poll(at_ms, conns, processes);
        snap.seq = self.seq;
        assert!(self.history.update(&snap));
        &self.history
    }
}

fn downs(series: &Series) -> Vec<f32> {
    series.samples().iter().map(|s| s.down).collect()
}

fn pkey(pid: u32, start: u64) -> ProcessKey {
    ProcessKey {
        pid,
        start_time: Some(start),
    }
}

#[test]
fn only_connections_that_move_data_are_followed_and_from_then_on_every_poll() {
    let mut script = Script::new(Limits::default());
    let first_reading = Conn {
        rate: None,
        ..busy(1, &[10], 0, 0)
    };
    let h = script.at(0, &[first_reading, quiet(2, &[10]), busy(0, &[10], 5, 5)]);
    assert_eq!(
        h.followed(),
        (0, 0),
        "nothing moved data yet; cookie 0 is unknown"
    );
    assert!(h.connection(1).is_none());
    assert!(h.connection(0).is_none());

    let h = script.at(1000, &[busy(1, &[10], 300, 20), quiet(2, &[10])]);
    assert_eq!(h.followed(), (1, 1));
    let s = followed(h, 1, "moved data");
    assert_eq!(
        s.samples()[0],
        Sample {
            t_ms: 1000,
            down: 300.0,
            up: 20.0,
            rtt_ms: 1.5
        }
    );
    assert!(h.connection(2).is_none(), "idle: costs nothing");

    // Quiet from then on, it keeps a sample per poll (the chart falls to zero).
    let h = script.at(2000, &[quiet(1, &[10]), quiet(2, &[10])]);
    assert_eq!(downs(followed(h, 1, "followed")), [300.0, 0.0]);
    assert!(h.connection(2).is_none());
}

#[test]
fn polls_within_a_second_share_one_averaged_sample_and_a_series_never_exceeds_its_cap() {
    let mut script = Script::new(Limits::default());
    script.at(0, &[busy(1, &[10], 100, 0)]);
    script.at(250, &[busy(1, &[10], 200, 0)]);
    let h = script.at(500, &[busy(1, &[10], 600, 0)]);
    assert_eq!(downs(followed(h, 1, "followed")), [300.0]);
    let h = script.at(1000, &[busy(1, &[10], 50, 0)]);
    assert_eq!(downs(followed(h, 1, "followed")), [300.0, 50.0]);

    // Twenty minutes of polls every 250 ms: at most one sample a second, ten minutes long.
    let mut script = Script::new(Limits::default());
    for i in 0..(20 * 60 * 4) {
        script.at(i * 250, &[busy(1, &[10], 1000 + i, 1)]);
    }
    let series = followed(&script.history, 1, "followed");
    assert!(series.samples().len() <= MAX_SAMPLES);
    assert!(series.samples().len() >= MAX_SAMPLES - 1);
    assert!(
        series.samples.capacity() <= MAX_SAMPLES + 8,
        "no doubling past the cap"
    );
    let first = series.samples()[0].t_ms;
    let last = series.samples()[series.samples().len() - 1].t_ms;
    assert!(last - first <= WINDOW_MS);
    assert_eq!(
        last,
        script.history.now_ms() - 750,
        "the newest bucket started 750 ms ago"
    );
}

#[test]
fn ten_minutes_on_a_fake_clock_old_samples_go_and_connections_idle_that_long_are_forgotten() {
    let mut script = Script::new(Limits::default());
    script.at(0, &[busy(1, &[10], 500, 0), busy(2, &[11], 500, 0)]);
    // Connection 1 keeps moving data, 2 goes quiet but stays open.
    for s in 1..=600 {
        script.at(s * 1000, &[busy(1, &[10], 500, 0), quiet(2, &[11])]);
    }
    let h = &script.history;
    assert_eq!(followed(h, 1, "busy").samples()[0].t_ms, 0);
    assert!(
        h.connection(2).is_some(),
        "idle for exactly ten minutes: still shown"
    );
    let h = script.at(601_000, &[busy(1, &[10], 500, 0), quiet(2, &[11])]);
    assert_eq!(
        followed(h, 1, "busy").samples()[0].t_ms,
        1000,
        "the sample from more than ten minutes ago is gone"
    );
    assert!(
        h.connection(2).is_none(),
        "idle for over ten minutes: forgotten"
    );
    assert!(h.process(pkey(11, 1)).is_none(), "its process too");
    assert!(h.process(pkey(10, 1)).is_some());
}

#[test]
fn the_cap_admits_the_busiest_and_makes_room_from_closed_then_idle_never_busy_ones() {
    let limits = Limits {
        connections: 3,
        processes: 2,
    };
    let mut script = Script::new(limits);
    let h = script.at(
        0,
        &[
            busy(1, &[1], 10, 0),
            busy(2, &[2], 500, 0),
            busy(3, &[3], 20, 0),
            busy(4, &[4], 400, 0),
            busy(5, &[5], 300, 0),
        ],
    );
    assert_eq!(h.followed(), (3, 2));
    assert_eq!(h.left_out(), (2, 3));
    for cookie in [2, 4, 5] {
        assert!(
            h.connection(cookie).is_some(),
            "{cookie} is among the busiest"
        );
    }
    // Still all busy: a newcomer displaces none of them.
    let h = script.at(
        1000,
        &[
            busy(2, &[2], 500, 0),
            busy(4, &[4], 400, 0),
            busy(5, &[5], 300, 0),
            busy(6, &[6], 9999, 0),
        ],
    );
    assert!(h.connection(6).is_none());
    assert_eq!(h.left_out().0, 1);
    // 4 goes quiet, 5 closes: two newcomers take the closed one's place, then the idle one's.
    let h = script.at(2000, &[busy(2, &[2], 500, 0), quiet(4, &[4])]);
    assert!(h.connection(5).is_some_and(Series::is_closed));
    let h = script.at(
        3000,
        &[busy(2, &[2], 500, 0), quiet(4, &[4]), busy(7, &[7], 1, 0)],
    );
    assert!(h.connection(7).is_some());
    assert!(h.connection(5).is_none(), "the closed one went first");
    assert!(
        h.connection(4).is_some(),
        "the idle one stays while there is room"
    );
    let h = script.at(
        4000,
        &[
            busy(2, &[2], 500, 0),
            quiet(4, &[4]),
            busy(7, &[7], 1, 0),
            busy(8, &[8], 1, 0),
        ],
    );
    assert!(h.connection(8).is_some());
    assert!(h.connection(4).is_none(), "then the idle one");
    assert!(h.connection(2).is_some() && h.connection(7).is_some());
    assert_eq!(h.left_out().0, 0);
}

#[test]
fn a_process_total_is_the_sum_of_its_connections_and_a_reused_pid_starts_afresh() {
    let mut script = Script::new(Limits::default());
    // PID 10 has two busy connections, one of them shared with PID 11.
    let h = script.at(
        0,
        &[
            busy(1, &[10], 1000, 10),
            busy(2, &[10, 11], 500, 5),
            quiet(3, &[10]),
        ],
    );
    let total = |h: &TrafficHistory, key| {
        h.process(key).map(|s| {
            s.samples()
                .iter()
                .map(|x| (x.down, x.up))
                .collect::<Vec<_>>()
        })
    };
    assert_eq!(total(h, pkey(10, 1)), Some(vec![(1500.0, 15.0)]));
    assert_eq!(total(h, pkey(11, 1)), Some(vec![(500.0, 5.0)]));
    // Quiet, still running: a zero. PID 11 exits: its series closes.
    let h = script.at(1000, &[quiet(1, &[10])]);
    assert_eq!(
        total(h, pkey(10, 1)),
        Some(vec![(1500.0, 15.0), (0.0, 0.0)])
    );
    assert!(h.process(pkey(11, 1)).is_some_and(Series::is_closed));
    // PID 10 is now another program (another start time): its own history, from zero.
    let h = script.at_with(2000, &[busy(4, &[10], 70, 0)], &[(10, 99)]);
    assert_eq!(total(h, pkey(10, 99)), Some(vec![(70.0, 0.0)]));
    assert!(h.process(pkey(10, 1)).is_some_and(Series::is_closed));
}

#[test]
fn a_cookie_back_after_it_closed_is_another_connection_and_starts_fresh() {
    let mut script = Script::new(Limits::default());
    script.at(0, &[busy(7, &[10], 100, 0)]);
    script.at(1000, &[busy(7, &[10], 200, 0)]);
    let h = script.at(2000, &[]);
    let gone = followed(h, 7, "kept while its chart is worth showing");
    assert!(gone.is_closed());
    assert_eq!(downs(gone), [100.0, 200.0]);
    let h = script.at(3000, &[busy(7, &[10], 900, 0)]);
    let again = followed(h, 7, "moves data");
    assert!(!again.is_closed());
    assert_eq!(
        downs(again),
        [900.0],
        "none of the old connection's samples"
    );
    // Back but quiet: not followed.
    script.at(4000, &[]);
    let h = script.at(5000, &[quiet(7, &[10])]);
    assert!(h.connection(7).is_none());
}

#[test]
fn the_empty_start_is_no_poll_and_weeks_of_polls_keep_their_times() {
    let mut history = TrafficHistory::default();
    // The window starts on an empty snapshot dated 1970: it sets no epoch.
    assert!(!history.update(&Snapshot::default()));
    let at = |history: &mut TrafficHistory, seq: u64, ms: u64| {
        let mut snap = poll(ms, &[busy(1, &[10], 100 + seq, 0)], &[]);
        snap.taken_at += Duration::from_secs(1_764_000_000);
        snap.seq = seq;
        assert!(history.update(&snap));
    };
    at(&mut history, 1, 0);
    at(&mut history, 2, 1000);
    let s = followed(&history, 1, "busy");
    assert_eq!(downs(s), [101.0, 102.0], "a second apart: two samples");
    // Thirty days on (past what 32 bits of milliseconds hold), still a sample a second.
    let month = 30 * 24 * 3600 * 1000;
    for (seq, ms) in (3..).zip([month, month + 1000, month + 2000]) {
        at(&mut history, seq, ms);
    }
    let s = followed(&history, 1, "busy");
    let times: Vec<u32> = s.samples().iter().map(|x| x.t_ms).collect();
    assert_eq!(downs(s), [103.0, 104.0, 105.0]);
    assert_eq!(times[1] - times[0], 1000);
    assert_eq!(times[2] - times[1], 1000);
    assert_eq!(history.now_ms(), times[2]);
}

#[test]
fn a_snapshot_offered_again_is_taken_once() {
    let mut history = TrafficHistory::default();
    let mut snap = poll(0, &[busy(1, &[10], 100, 0)], &[]);
    snap.seq = 1;
    assert!(history.update(&snap));
    assert!(!history.update(&snap), "the same poll, next frame");
    snap.seq = 2;
    snap.taken_at += Duration::from_secs(1);
    assert!(history.update(&snap));
    assert_eq!(followed(&history, 1, "busy").samples().len(), 2);
}
