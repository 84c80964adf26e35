//! Port knowledge: what loading the embedded IANA registry and notes costs, and a lookup.
//!
//! Run with `cargo bench --bench knowledge` (after `cargo build --release`, to also time the
//! `portscope explain` process). Loading happens once per process, on first use, so it is
//! timed in fresh child processes.

use std::hint::black_box;
use std::process::Command;
use std::time::Instant;

use portscope::knowledge::{
    EphemeralRange, Transport, explain, iana_entries_iter, iana_row_count, preload, service_name,
};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Times a command over `runs` runs; the median in ms.
fn time_command(program: &std::path::Path, args: &[&str], runs: usize) -> Option<f64> {
    let times: Vec<f64> = (0..runs)
        .filter_map(|_| {
            let start = Instant::now();
            let out = Command::new(program).args(args).output().ok()?;
            out.status
                .success()
                .then(|| start.elapsed().as_secs_f64() * 1000.0)
        })
        .collect();
    (!times.is_empty()).then(|| median(times))
}

fn main() {
    if std::env::var_os("PORTSCOPE_BENCH_LOAD").is_some() {
        let start = Instant::now();
        preload();
        println!("{}", start.elapsed().as_secs_f64() * 1000.0);
        return;
    }
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    println!("portscope port knowledge\n");
    let Ok(me) = std::env::current_exe() else {
        println!("cannot find this benchmark's own binary");
        return;
    };
    let loads: Vec<f64> = (0..9)
        .filter_map(|_| {
            let out = Command::new(&me)
                .env("PORTSCOPE_BENCH_LOAD", "1")
                .output()
                .ok()?;
            String::from_utf8_lossy(&out.stdout).trim().parse().ok()
        })
        .collect();
    println!(
        "load registry ({} rows) and notes, first use in a process: {:.1} ms (median of {})",
        iana_row_count(),
        median(loads.clone()),
        loads.len()
    );

    preload();
    let lookups = 1_000_000u32;
    let start = Instant::now();
    let mut found = 0usize;
    for i in 0..lookups {
        let port = (i.wrapping_mul(2_654_435_761) >> 16) as u16;
        found += iana_entries_iter(black_box(port), Some(Transport::Tcp)).count();
        found += usize::from(service_name(black_box(port), None).is_some());
    }
    let per_lookup = start.elapsed().as_secs_f64() * 1e9 / f64::from(lookups);
    println!(
        "lookup (registry entries + service name): {per_lookup:.0} ns per port ({found} hits)"
    );

    let ephemeral = EphemeralRange::read_live();
    let start = Instant::now();
    for port in 0..=u16::MAX {
        black_box(explain(black_box(port), None, &ephemeral));
    }
    let per_explain = start.elapsed().as_secs_f64() * 1e6 / 65_536.0;
    println!(
        "everything about one port (explain), every port in turn: {per_explain:.1} µs per port"
    );

    let binary = me
        .parent()
        .and_then(|deps| deps.parent())
        .map(|release| release.join("portscope"))
        .filter(|p| p.exists());
    match binary {
        Some(binary) => {
            let explain_ms = time_command(&binary, &["explain", "60296"], 9);
            let ss_ms = time_command(std::path::Path::new("ss"), &["-tan"], 9);
            if let Some(e) = explain_ms {
                println!("`portscope explain 60296`, whole process: {e:.1} ms (median of 9)");
            }
            if let (Some(e), Some(s)) = (explain_ms, ss_ms) {
                println!(
                    "  for scale: `ss -tan` takes {s:.1} ms here ({:.2} ×)",
                    e / s
                );
            }
        }
        None => {
            println!("`portscope explain` not timed: build it first with `cargo build --release`")
        }
    }
}
