//! How much a TCP connection moves and how healthy it is, as the kernel counts it (`tcp_info`).
//!
//! Kept apart from [`Socket`](super::Socket): most sockets in a large table are idle listeners
//! or quiet connections, and a table of 100,000 should not carry 100,000 copies of numbers that
//! are all zero.

use serde::Serialize;

/// A connection's counters at one poll. Fields a kernel does not report are `None` (older
/// kernels have a shorter `tcp_info`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TcpStats {
    /// Bytes sent, retransmissions included once (`tcpi_bytes_sent`, Linux 4.19+).
    pub bytes_sent: Option<u64>,
    /// Bytes the peer acknowledged (`tcpi_bytes_acked`, Linux 4.1+); counts the SYN and FIN.
    pub bytes_acked: Option<u64>,
    /// Bytes received (`tcpi_bytes_received`, Linux 4.1+); counts the peer's SYN and FIN.
    pub bytes_received: Option<u64>,
    /// Smoothed round-trip time and its variance, microseconds.
    pub rtt_us: u32,
    pub rttvar_us: u32,
    /// Segments retransmitted over the connection's life (`tcpi_total_retrans`).
    pub retrans: u32,
    /// The kernel's estimate of the delivery rate, bytes per second (Linux 4.9+).
    pub delivery_rate: Option<u64>,
}

impl TcpStats {
    /// Bytes sent as well as the kernel can say: `bytes_sent` where it has it, else what the
    /// peer acknowledged.
    pub fn sent(&self) -> Option<u64> {
        self.bytes_sent.or(self.bytes_acked)
    }

    /// Whether the connection has moved any data: most have not, and keep no history.
    pub fn moved_data(&self) -> bool {
        // The handshake alone counts one byte each way (SYN) in bytes_acked/bytes_received.
        self.sent().is_some_and(|n| n > 1) || self.bytes_received.is_some_and(|n| n > 1)
    }
}

/// What a connection moves, per second, from the change between two polls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Rate {
    /// Bytes per second received.
    pub down: u64,
    /// Bytes per second sent.
    pub up: u64,
}

/// One TCP connection's counters and rates at a poll.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flow {
    pub stats: TcpStats,
    /// `None` at the first poll that saw the connection.
    pub rate: Option<Rate>,
}

/// The traffic of the connections that moved data, by socket cookie. Idle sockets are not
/// here: in a large table most are.
pub type Traffic = std::collections::HashMap<u64, Flow, crate::model::FastHash>;

/// Datagrams each UDP socket dropped, by cookie (Linux: the kernel's `skmem` drop counter, which
/// counts what arrived while the socket's receive buffer was full). Every UDP socket of the
/// poll is here, 0 or not: a missing socket is one the system gave no count for.
pub type Drops = std::collections::HashMap<u64, u32, crate::model::FastHash>;

/// Bytes per second between two counter readings `elapsed` apart. A counter that went down
/// belongs to another connection (or was reset): no rate.
pub fn per_second(
    before: Option<u64>,
    now: Option<u64>,
    elapsed: std::time::Duration,
) -> Option<u64> {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        return None;
    }
    let delta = now?.checked_sub(before?)?;
    Some((delta as f64 / secs).round() as u64)
}

/// Turns each poll's counters into rates, remembering the last reading of every connection
/// (by cookie) until it is gone.
#[derive(Debug, Default)]
pub struct RateTracker {
    last: std::collections::HashMap<u64, (std::time::Instant, TcpStats), crate::model::FastHash>,
}

impl RateTracker {
    /// The traffic of one poll taken at `now`: each connection's counters with its rate since
    /// the poll before, if that one saw it. Connections not in `stats` are forgotten.
    pub fn update(
        &mut self,
        now: std::time::Instant,
        stats: impl IntoIterator<Item = (u64, TcpStats)>,
    ) -> Traffic {
        let stats = stats.into_iter();
        let mut traffic =
            Traffic::with_capacity_and_hasher(stats.size_hint().0, Default::default());
        for (cookie, now_stats) in stats {
            // Replaced in place: the map keeps its room from poll to poll.
            let before = self.last.insert(cookie, (now, now_stats));
            let rate = before.and_then(|(at, before)| {
                let elapsed = now.saturating_duration_since(at);
                Some(Rate {
                    down: per_second(before.bytes_received, now_stats.bytes_received, elapsed)?,
                    up: per_second(before.sent(), now_stats.sent(), elapsed)?,
                })
            });
            traffic.insert(
                cookie,
                Flow {
                    stats: now_stats,
                    rate,
                },
            );
        }
        // Connections this poll did not list are gone.
        self.last.retain(|_, (at, _)| *at == now);
        traffic
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rates_come_from_the_change_between_two_readings() {
        let second = Duration::from_secs(1);
        assert_eq!(per_second(Some(1000), Some(6000), second), Some(5000));
        assert_eq!(
            per_second(Some(0), Some(1000), Duration::from_millis(250)),
            Some(4000)
        );
        assert_eq!(per_second(Some(10), Some(5), second), None, "went down");
        assert_eq!(per_second(None, Some(5), second), None);
        assert_eq!(per_second(Some(1), Some(5), Duration::ZERO), None);
    }

    #[test]
    fn a_handshake_alone_is_not_traffic() {
        let idle = TcpStats {
            bytes_acked: Some(1),
            bytes_received: Some(1),
            bytes_sent: Some(0),
            ..TcpStats::default()
        };
        assert!(!idle.moved_data());
        let busy = TcpStats {
            bytes_sent: Some(5000),
            ..idle
        };
        assert!(busy.moved_data());
        assert_eq!(busy.sent(), Some(5000));
        assert_eq!(
            TcpStats {
                bytes_sent: None,
                bytes_acked: Some(7),
                ..idle
            }
            .sent(),
            Some(7)
        );
    }

    #[test]
    fn the_tracker_gives_a_rate_from_the_second_reading_on() {
        let start = std::time::Instant::now();
        let reading = |sent: u64, received: u64| TcpStats {
            bytes_sent: Some(sent),
            bytes_received: Some(received),
            ..TcpStats::default()
        };
        let mut tracker = RateTracker::default();
        let first = tracker.update(start, [(7, reading(100, 50))]);
        assert_eq!(first[&7].rate, None);
        let second = tracker.update(start + Duration::from_secs(2), [(7, reading(2100, 1050))]);
        assert_eq!(
            second[&7].rate,
            Some(Rate {
                down: 500,
                up: 1000
            })
        );
        // Gone, then back with the same cookie: a new start.
        tracker.update(start + Duration::from_secs(3), []);
        let again = tracker.update(start + Duration::from_secs(4), [(7, reading(9000, 9000))]);
        assert_eq!(again[&7].rate, None);
    }
}
