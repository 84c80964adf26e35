//! What `serve --stdio` sends per poll for a busy host: a made-up table of 10,000 sockets of
//! which 1% are replaced at every poll, streamed as one whole table and then a delta per poll.
//!
//! ```sh
//! cargo bench --bench stream
//! ```
//!
//! Prints the bytes of the whole table, the largest delta over 20 polls, their ratio, and the
//! time to encode and apply a delta. Target: a delta at most 5% of the whole table.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use portscope::collect::remote::stream::{self, Body, Encoder, Mirror, Range, Table};
use portscope::collect::{GeneratedSource, SocketSource};

const SOCKETS: usize = 10_000;
const CHURN_PERCENT: u8 = 1;
const POLLS: usize = 20;
const TARGET: f64 = 0.05;

fn main() -> ExitCode {
    let mut source = GeneratedSource::new(SOCKETS).with_churn(CHURN_PERCENT);
    let range = Range::from(&source.ephemeral_range());
    let (mut encoder, mut mirror) = (Encoder::default(), Mirror::default());
    let mut full_bytes = 0;
    let mut deltas = Vec::new();
    let mut work = Vec::new();
    for poll in 0..=POLLS {
        let Ok(polled) = source.poll() else {
            eprintln!("the generated source failed");
            return ExitCode::from(2);
        };
        let table = Table::from_poll(polled, Some(range.clone()));
        let start = Instant::now();
        let mut wire = Vec::new();
        let body = encoder.encode(table.clone());
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
