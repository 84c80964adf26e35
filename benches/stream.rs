//! What `serve --stdio` sends per poll for a busy host: a made-up table of 10,000 sockets of
//! which 1% are replaced at every poll, streamed as one whole table and then a delta per poll.
//! Twice: with the generated traffic (half the connections move data, at steady rates), then
//! with every connection moving data and every one of its numbers — counters, round-trip time,
//! delivery rate, rates — changing at every poll, the worst a poll can bring.
//!
//! ```sh
//! cargo bench --bench stream
//! ```
//!
//! Prints, for each, the bytes of the whole table, the largest delta over 20 polls, their
//! ratio, and the time to encode and apply a delta. Target: a delta at most 5% of the whole
//! table with the generated traffic. With every connection busy the figure is reported, not
//! held to it: each busy connection's new numbers are news at every poll (about 40 bytes
//! each, as differences), whatever the table's churn.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use portscope::collect::remote::stream::{self, Body, Encoder, Mirror, Range, Table};
use portscope::collect::{GeneratedSource, Poll, SocketSource};
use portscope::model::traffic::{Flow, Rate, TcpStats};
use portscope::model::{Proto, SockState};

const SOCKETS: usize = 10_000;
const CHURN_PERCENT: u8 = 1;
const POLLS: usize = 20;
const TARGET: f64 = 0.05;

fn main() -> ExitCode {
    let mut code = ExitCode::SUCCESS;
    for (label, busy) in [
        ("generated traffic (half the connections)", false),
        ("every connection busy, every number changing", true),
    ] {
        println!("-- {label}");
        let run = run(busy);
        if run != ExitCode::SUCCESS {
            code = run;
        }
    }
    code
}

/// Every established connection moves data, and all its numbers change at poll `n`.
fn all_busy(poll: &mut Poll, n: u64) {
    for s in &poll.sockets {
        if s.proto != Proto::Tcp || s.state != SockState::Established {
            continue;
        }
        let i = s.cookie & u64::from(u32::MAX);
        let up = 1000 + (i * 7919 + n * 13) % 90_000;
        let down = 1000 + (i * 104_729 + n * 31) % 900_000;
        let stats = TcpStats {
            bytes_sent: Some(i * 13 % 50_000 + n * up),
            bytes_acked: Some(i * 13 % 50_000 + n * up),
            bytes_received: Some(i * 17 % 90_000 + n * down),
            rtt_us: 150 + ((i * 31 + n * 97) % 120_000) as u32,
            rttvar_us: 50 + ((i * 7 + n * 11) % 20_000) as u32,
            retrans: ((i + n) / 50) as u32,
            delivery_rate: Some(down.max(up) + n % 1000),
        };
        let rate = Some(Rate { down, up });
        poll.traffic.insert(s.cookie, Flow { stats, rate });
    }
}

fn run(busy: bool) -> ExitCode {
    let mut source = GeneratedSource::new(SOCKETS).with_churn(CHURN_PERCENT);
    let range = Range::from(&source.ephemeral_range());
    let (mut encoder, mut mirror) = (Encoder::default(), Mirror::default());
    let mut full_bytes = 0;
    let mut deltas = Vec::new();
    let mut work = Vec::new();
    let mut connections = 0;
    let mut traffic_bytes = 0;
    for poll in 0..=POLLS {
        let Ok(mut polled) = source.poll() else {
            eprintln!("the generated source failed");
            return ExitCode::from(2);
        };
        if busy {
            all_busy(&mut polled, poll as u64);
        }
        connections = polled.traffic.len();
        let table = Table::from_poll(polled, Some(range.clone()));
        let start = Instant::now();
        let mut wire = Vec::new();
        let body = encoder.encode(table.clone());
        if let Body::Delta(d) = &body {
            let moved = d.moved.as_ref().map_or(0, json_len);
            traffic_bytes = traffic_bytes.max(moved + json_len(&d.traffic));
        }
        if stream::write_message(&mut wire, body).is_err() {
            return ExitCode::from(2);
        }
        let applied = match stream::read_message(&mut wire.as_slice()) {
            Ok(Body::Full(full)) => {
                mirror.apply_full(full);
                Ok(())
            }
            Ok(Body::Delta(delta)) => mirror.apply_delta(delta).map_err(|e| e.to_string()),
            other => Err(format!("{other:?}")),
        };
        let took = start.elapsed();
        if let Err(e) = applied {
            eprintln!("poll {poll}: {e}");
            return ExitCode::from(2);
        }
        if mirror.table() != Some(&table) {
            eprintln!("poll {poll}: the reader's table is not the server's");
            return ExitCode::from(2);
        }
        if poll == 0 {
            full_bytes = wire.len();
            println!("{connections} connections with traffic");
        } else {
            deltas.push(wire.len());
            work.push(took);
        }
    }
    let worst = deltas.iter().copied().max().unwrap_or(0);
    work.sort();
    let median = work.get(work.len() / 2).copied().unwrap_or(Duration::ZERO);
    let ratio = worst as f64 / full_bytes.max(1) as f64;
    println!("{SOCKETS} sockets, {CHURN_PERCENT}% replaced per poll, {POLLS} polls");
    println!("whole table: {full_bytes} bytes");
    println!(
        "largest delta: {worst} bytes ({:.2}% of the whole table)",
        ratio * 100.0
    );
    println!("encode + frame + decode + apply a delta: median {median:?}");
    if busy {
        println!(
            "traffic in the largest delta: {traffic_bytes} bytes, {} per busy connection \
             (reported, not held to the target)",
            traffic_bytes / connections.max(1)
        );
        return ExitCode::SUCCESS;
    }
    if ratio <= TARGET {
        println!(
            "PASS: a delta is at most {:.0}% of the whole table",
            TARGET * 100.0
        );
        ExitCode::SUCCESS
    } else {
        println!(
            "FAIL: a delta is more than {:.0}% of the whole table",
            TARGET * 100.0
        );
        ExitCode::from(1)
    }
}

fn json_len(value: &impl serde::Serialize) -> usize {
    serde_json::to_vec(value).map_or(0, |v| v.len())
}
