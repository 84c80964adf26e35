//! Closed sockets as written to files (the window's export of *Recently closed*): one flat
//! record each, with wall-clock times as seconds since the Unix epoch, since the `Instant`s
//! the tracker reasons with mean nothing outside this run.

use std::net::IpAddr;

use serde::{Serialize, Serializer};

use super::super::{ProcessInfo, Proto, SockState};
use super::{Appeared, ClosedSocket, Moment, StateTrail};

impl Serialize for Moment {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.unix_seconds())
    }
}

impl Serialize for StateTrail {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.as_slice())
    }
}

impl Serialize for ClosedSocket {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        /// The flat record written to files.
        #[derive(Serialize)]
        struct Record<'a> {
            proto: Proto,
            local_addr: IpAddr,
            local_port: u16,
            remote_addr: Option<IpAddr>,
            remote_port: Option<u16>,
            /// The state it was last seen in.
            state: SockState,
            states: &'a StateTrail,
            /// The processes that last held it (see `ClosedSocket::owners`).
            pids: Vec<u32>,
            processes: Vec<&'a ProcessInfo>,
            user: Option<&'a str>,
            uid: Option<u32>,
            inode: Option<u32>,
            /// It was there when portscope started: `first_seen` is then unknown.
            present_at_start: bool,
            first_seen: Option<Moment>,
            /// No poll saw it: it lived and died between two (known from the kernel's
            /// announcement).
            between_polls: bool,
            last_seen: Moment,
            gone_by: Moment,
            /// A TCP connection's final counters, where the kernel announced them.
            bytes_sent: Option<u64>,
            bytes_received: Option<u64>,
            rtt_ms: Option<f64>,
            retrans: Option<u32>,
        }
        let sock = &self.socket;
        Record {
            proto: sock.proto,
            local_addr: sock.local_addr,
            local_port: sock.local_port,
            remote_addr: sock.remote_addr,
            remote_port: sock.remote_port,
            state: sock.state,
            states: &self.states,
            pids: self.owners.iter().map(|o| o.pid).collect(),
            processes: self
                .owners
                .iter()
                .filter_map(|o| o.info.as_deref())
                .collect(),
            user: self.user(),
            uid: sock.uid,
            inode: sock.inode,
            present_at_start: self.appeared == Appeared::BeforeStart,
            first_seen: self.appeared.moment(),
            between_polls: self.appeared == Appeared::BetweenPolls,
            last_seen: self.last_seen,
            gone_by: self.gone,
            bytes_sent: self.final_stats.and_then(|t| t.sent()),
            bytes_received: self.final_stats.and_then(|t| t.bytes_received),
            rtt_ms: self.final_stats.map(|t| f64::from(t.rtt_us) / 1000.0),
            retrans: self.final_stats.map(|t| t.retrans),
        }
        .serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;

    #[test]
    fn closed_sockets_serialize_with_wall_clock_times() {
        let mut sc = Script::new();
        let a = listener(8080, 11, &[10]);
        let b = conn(40000, SockState::Established, 12, &[10]);
        sc.poll(0, vec![a.clone()], &[process(10, "nginx")]);
        sc.poll(1500, vec![a.clone(), b.clone()], &[process(10, "nginx")]);
        sc.poll(2000, vec![], &[]);
        sc.tick(4000);
        let json = serde_json::to_value(sc.tracker.history());
        let Ok(json) = json else {
            panic!("history should serialize: {json:?}");
        };
        let [first, second] = json.as_array().map(Vec::as_slice).unwrap_or_default() else {
            panic!("two entries expected: {json}");
        };
        let (listener, conn) = if first["local_port"] == 8080 {
            (first, second)
        } else {
            (second, first)
        };
        assert_eq!(listener["present_at_start"], true);
        assert!(listener["first_seen"].is_null());
        assert_eq!(listener["state"], "LISTEN");
        assert_eq!(conn["present_at_start"], false);
        assert_eq!(conn["first_seen"], 1_800_000_001.5);
        assert_eq!(conn["last_seen"], 1_800_000_001.5);
        assert_eq!(conn["gone_by"], 1_800_000_002.0);
        assert_eq!(conn["pids"], serde_json::json!([10]));
        assert_eq!(conn["processes"][0]["name"], "nginx");
        assert_eq!(conn["processes"][0]["cmdline"][1], "--flag");
        assert_eq!(conn["user"], "alice");
        assert_eq!(conn["states"], serde_json::json!(["ESTABLISHED"]));
        assert_eq!(conn["remote_port"], 443);
    }
}
