//! Ten hosts in one window, each 10,000 sockets with 1% of them replaced every second.
//!
//! Each host is a real `portscope serve --stdio --generated 10000 --churn 1` read through the
//! same stream, decoder and collectors the window uses over SSH: a stand-in for `ssh` (a
//! script that ignores the host and runs the serving end here, at the lowest priority, as a
//! host's own CPU would be elsewhere) replaces only the network. Run with
//! `cargo bench --bench hosts`. It prints, against the targets:
//!
//! 1. the window's frames on its UI thread (egui's layout and painting plus tessellation; the
//!    GPU upload is left out) while the ten hosts' tables come in every second, beside this
//!    machine's own: median, p95 and the slowest — target < 4 ms;
//! 2. the real window (release binary under Xvfb, `--host` ten times): its CPU over 20 s —
//!    target < 10% of one core (the serving processes are the hosts', not counted);
//!
//! and `ss -tan` timed in the same run, for scale. With `PORTSCOPE_BENCH_DETAIL=1` it times
//! building the view of the ten hosts' table and lists why frames were asked for, instead of
//! measuring the real window.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portscope::collect::remote::{Ssh, Timeouts};
use portscope::ui::hosts::ssh_connect;
use portscope::ui::{PortscopeApp, Prefs};

const HOSTS: usize = 10;
const SOCKETS: usize = 10_000;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn pct(values: &[f64], p: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

fn release_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    // target/release/deps/hosts-xxxx → target/release/portscope
    let candidate = exe.parent()?.parent()?.join("portscope");
    candidate.exists().then_some(candidate)
}

/// The stand-in for `ssh`: whatever host it is given, it runs the serving end of a made-up
/// host here.
fn fake_ssh(dir: &Path, binary: &Path) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("ssh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nexec nice -n 19 '{}' serve --stdio --generated {SOCKETS} --churn 1\n",
            binary.display()
        ),
    )?;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
    Ok(script)
}

fn hosts() -> Vec<String> {
    (1..=HOSTS).map(|i| format!("host{i}")).collect()
}

/// Frames of the window reading the ten hosts.
fn frames(script: &Path) -> Result<Frames, String> {
    let ssh = Ssh {
        program: script.into(),
        prefix: Vec::new(),
        control_dir: None,
    };
    let ctx = egui::Context::default();
    portscope::ui::setup_context(&ctx);
    let mut app = PortscopeApp::with_connect(
        &ctx,
        ssh_connect(ssh, Timeouts::default()),
        hosts(),
        Prefs::default(),
    );
    let input = || egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(1280.0, 800.0),
        )),
        ..Default::default()
    };
    let frame = |app: &mut PortscopeApp| {
        let start = Instant::now();
        let out = ctx.run_ui(input(), |ui| app.ui(ui));
        std::hint::black_box(ctx.tessellate(out.shapes, out.pixels_per_point));
        start.elapsed()
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    while app.visible_rows().filter(|s| s.host != 0).count() < HOSTS * SOCKETS * 99 / 100 {
        if Instant::now() > deadline {
            return Err(format!(
                "the hosts' rows never all came: {} of {}",
                app.visible_rows().filter(|s| s.host != 0).count(),
                HOSTS * SOCKETS
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
        frame(&mut app);
    }
    if std::env::var_os("PORTSCOPE_BENCH_DETAIL").is_some() {
        let snap = Arc::new(app.snapshot().clone());
        for _ in 0..3 {
            let t = Instant::now();
            let data = portscope::ui::view::ViewData::build(
                snap.clone(),
                portscope::ui::view::ViewSpec::default(),
                None,
            );
            println!(
                "view build {:.1} ms ({} rows)",
                ms(t.elapsed()),
                data.rows.len()
            );
            let t = Instant::now();
            let c = snap.counts();
            println!("counts {:.1} ms {}", ms(t.elapsed()), c.total);
            let t = Instant::now();
            let r = portscope::model::sorted_rows(&snap, Default::default(), &Default::default());
            println!("sorted_rows {:.1} ms {}", ms(t.elapsed()), r.len());
        }
        // The change tracker taking in two tables a second apart, as the UI thread does.
        let first = Arc::new(app.snapshot().clone());
        let deadline = Instant::now() + Duration::from_secs(3);
        while app.snapshot().seq == first.seq && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            frame(&mut app);
        }
        let second = Arc::new(app.snapshot().clone());
        let mut tracker = portscope::model::history::ChangeTracker::default();
        let now = Instant::now();
        tracker.update(&first, now);
        let t = Instant::now();
        let changes = tracker.update(&second, now + Duration::from_secs(1));
        println!(
            "change tracker, the next table: {:.1} ms ({} new, {} closed)",
            ms(t.elapsed()),
            changes.new,
            changes.closed
        );
        let t = Instant::now();
        let closing = tracker.closing_rows();
        println!(
            "closed rows' table: {:.1} ms ({} rows)",
            ms(t.elapsed()),
            closing.len()
        );
        // Placing them among the sorted rows.
        let (all, none) = (
            portscope::model::Filter::default(),
            portscope::model::Toggles::default(),
        );
        let sort = portscope::model::SortSpec::default();
        let live_rows = portscope::model::sorted_rows_of(&[(&second, None)], sort, &all, &none);
        let closed_rows =
            portscope::model::sorted_rows_of(&[(&closing.table, None)], sort, &all, &none);
        let t = Instant::now();
        let placed = portscope::model::merge_sorted_rows(
            &second,
            &live_rows,
            &closing.table,
            &closed_rows,
            sort,
        );
        println!(
            "closed rows placed among {} rows: {:.1} ms ({} rows)",
            live_rows.len(),
            ms(t.elapsed()),
            placed.len()
        );
        let t = Instant::now();
        let mut timeline = portscope::model::timeline::Timeline::default();
        timeline.update(&second, changes);
        println!("timeline: {:.1} ms", ms(t.elapsed()));
        let t = Instant::now();
        drop(first);
        println!("dropping a table: {:.1} ms", ms(t.elapsed()));
    }
    // 20 s of the frames the window asks for, as eframe runs them: a frame when a repaint
    // falls due (a collector's or the view worker's wake, a highlight running out), none
    // otherwise; and the UI thread's CPU time over those 20 s.
    let due: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(Some(Instant::now())));
    let wanted = due.clone();
    ctx.set_request_repaint_callback(move |info| {
        let at = Instant::now() + info.delay;
        let mut due = wanted.lock().unwrap_or_else(|e| e.into_inner());
        *due = Some(due.map_or(at, |d| d.min(at)));
    });
    let mut times = Vec::new();
    // Each frame's CPU on the UI thread: its own work, without waiting for a core.
    let mut own = Vec::new();
    let mut arrivals = 0;
    let mut last_seq = app.snapshot().seq;
    let thread_cpu = || {
        let mut t = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: writes the calling thread's CPU clock into `t`.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
        Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
    };
    // Each frame's time on the run queue: ready to run, waiting for a core.
    let mut waited = Vec::new();
    let run_delay = || -> Duration {
        std::fs::read_to_string("/proc/thread-self/schedstat")
            .ok()
            .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
            .map_or(Duration::ZERO, Duration::from_nanos)
    };
    let mut causes = std::collections::BTreeMap::new();
    let cpu0 = thread_cpu();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        let now = Instant::now();
        let run = {
            let mut due = due.lock().unwrap_or_else(|e| e.into_inner());
            match *due {
                Some(at) if at <= now => {
                    *due = None;
                    true
                }
                _ => false,
            }
        };
        if !run {
            std::thread::sleep(Duration::from_millis(2));
            continue;
        }
        let (cpu_before, delay_before) = (thread_cpu(), run_delay());
        let took = frame(&mut app);
        own.push(ms(thread_cpu() - cpu_before));
        waited.push(ms(run_delay() - delay_before));
        if std::env::var_os("PORTSCOPE_BENCH_DETAIL").is_some() {
            for c in ctx.repaint_causes() {
                *causes.entry(c.to_string()).or_insert(0usize) += 1;
            }
        }
        times.push(ms(took));
        if app.snapshot().seq != last_seq {
            arrivals += 1;
            last_seq = app.snapshot().seq;
        }
    }
    for (c, n) in &causes {
        println!("cause {n} {c}");
    }
    let ui_cpu = (thread_cpu() - cpu0).as_secs_f64() / start.elapsed().as_secs_f64() * 100.0;
    if times.is_empty() {
        return Err("no frame was asked for in 20 s".to_owned());
    }
    // The slowest 5%: how much of their time was their own work, and how much waiting for a
    // core.
    let mut order: Vec<usize> = (0..times.len()).collect();
    order.sort_by(|&a, &b| times[b].total_cmp(&times[a]));
    let slow = &order[..times.len().div_ceil(20)];
    let mean = |of: &[f64]| slow.iter().map(|&i| of[i]).sum::<f64>() / slow.len() as f64;
    Ok(Frames {
        slow_split: (mean(&times), mean(&own), mean(&waited)),
        median: pct(&times, 0.5),
        p75: pct(&times, 0.75),
        p95: pct(&times, 0.95),
        slowest: pct(&times, 1.0),
        own_p95: pct(&own, 0.95),
        count: times.len(),
        arrivals,
        ui_cpu,
    })
}

struct Frames {
    median: f64,
    p75: f64,
    p95: f64,
    slowest: f64,
    /// The p95 of each frame's CPU time on the UI thread.
    own_p95: f64,
    /// The slowest 5% of frames, on average: their time, their CPU, and their time waiting
    /// for a core.
    slow_split: (f64, f64, f64),
    count: usize,
    arrivals: usize,
    /// The UI thread's CPU, % of one core.
    ui_cpu: f64,
}

/// A `stat` file's name and CPU ticks (user + system).
fn ticks_of(stat: &str) -> Option<(String, u64)> {
    let name = &stat[stat.find('(')? + 1..stat.rfind(')')?];
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some((name.to_owned(), ticks))
}

/// The window's CPU ticks: (its own threads, the software renderer's threads). Under Xvfb
/// Mesa draws on the CPU (llvmpipe); on a desktop that is the GPU's work.
fn cpu_ticks(pid: u32) -> Option<(u64, u64)> {
    let by = threads(pid)?;
    let renderer = by
        .iter()
        .filter(|(name, _)| name.starts_with("llvmpipe"))
        .map(|(_, t)| t)
        .sum();
    let own = by.values().sum::<u64>() - renderer;
    Some((own, renderer))
}

/// Each thread name's CPU ticks (threads of one name summed: the hosts' threads as one).
fn threads(pid: u32) -> Option<std::collections::BTreeMap<String, u64>> {
    let mut by = std::collections::BTreeMap::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        if let Some((name, ticks)) = ticks_of(&stat) {
            let name = if name.starts_with("host ") {
                "host …".to_owned()
            } else {
                name
            };
            *by.entry(name).or_insert(0) += ticks;
        }
    }
    Some(by)
}

fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<f64>().ok()? / 1024.0)
}

/// The real window with the ten hosts under Xvfb: (CPU % of one core over 20 s of its own
/// threads, of the software renderer's, RSS MiB).
fn real_window(binary: &Path, script: &Path, dir: &Path) -> Result<(f64, f64, f64), String> {
    let display = ":95";
    let mut xvfb = Command::new("Xvfb")
        .args([display, "-screen", "0", "1280x800x24"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("Xvfb not available ({e}); install xvfb to measure the window"))?;
    std::thread::sleep(Duration::from_secs(1));
    let home = dir.join("home");
    let runtime = dir.join("runtime");
    let _ = std::fs::create_dir_all(&home);
    let _ = std::fs::create_dir_all(&runtime);
    let mut args = Vec::new();
    for host in hosts() {
        args.push("--host".to_owned());
        args.push(host);
    }
    let result = Command::new(binary)
        .args(&args)
        .env("DISPLAY", display)
        .env("HOME", &home)
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("PORTSCOPE_SSH", script)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())
        .and_then(|mut window| {
            // Connected, the first whole tables read, the view of 100,000 rows built.
            std::thread::sleep(Duration::from_secs(12));
            let pid = window.id();
            let measured = (|| {
                let t0 = cpu_ticks(pid).ok_or("the window exited")?;
                let by0 = threads(pid).unwrap_or_default();
                let start = Instant::now();
                std::thread::sleep(Duration::from_secs(20));
                let t1 = cpu_ticks(pid).ok_or("the window exited")?;
                let by1 = threads(pid).unwrap_or_default();
                let mut spent: Vec<(u64, &String)> = by1
                    .iter()
                    .map(|(name, t)| (t.saturating_sub(*by0.get(name).unwrap_or(&0)), name))
                    .filter(|(t, _)| *t > 0)
                    .collect();
                spent.sort_unstable_by(|a, b| b.cmp(a));
                let secs = start.elapsed().as_secs_f64();
                let list: Vec<String> = spent
                    .iter()
                    .map(|(t, name)| format!("{name} {:.1}%", *t as f64 / secs))
                    .collect();
                println!("  by thread: {}", list.join(", "));
                // USER_HZ ticks to % of one core.
                let pct = |a: u64, b: u64| {
                    b.saturating_sub(a) as f64 / 100.0 / start.elapsed().as_secs_f64() * 100.0
                };
                Ok((
                    pct(t0.0, t1.0),
                    pct(t0.1, t1.1),
                    rss_mib(pid).unwrap_or(f64::NAN),
                ))
            })();
            let _ = window.kill();
            let _ = window.wait();
            measured
        });
    let _ = xvfb.kill();
    let _ = xvfb.wait();
    result
}

/// `ss -tan` on this machine, median of 5, in ms.
fn ss_ms() -> Option<f64> {
    let mut times: Vec<f64> = (0..5)
        .filter_map(|_| {
            let start = Instant::now();
            let ok = Command::new("ss")
                .arg("-tan")
                .stdout(Stdio::null())
                .status()
                .ok()?
                .success();
            ok.then(|| ms(start.elapsed()))
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times.get(times.len() / 2).copied()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` asks which benchmarks exist.
    }
    // As the window does before it starts its threads.
    portscope::ui::memory::apply(portscope::ui::memory::Policy::Keep);
    let Some(binary) = release_binary() else {
        println!("no release binary next to the benchmark: run `cargo build --release` first");
        return;
    };
    let dir = std::env::temp_dir().join(format!("portscope-bench-hosts-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        println!("cannot make {}: {e}", dir.display());
        return;
    }
    let script = match fake_ssh(&dir, &binary) {
        Ok(script) => script,
        Err(e) => {
            println!("cannot write the ssh stand-in: {e}");
            return;
        }
    };
    println!(
        "portscope hosts benchmark: {HOSTS} hosts × {SOCKETS} sockets, 1% replaced every second, \
         1 s polling\n"
    );
    match frames(&script) {
        Ok(f) => {
            println!(
                "frames on the UI thread, 20 s: {} frames asked for ({} took in a new table): \
                 median {:.2} ms, p75 {:.2} ms, p95 {:.2} ms, slowest {:.2} ms (target < 4 ms) {}",
                f.count,
                f.arrivals,
                f.median,
                f.p75,
                f.p95,
                f.slowest,
                verdict(f.p95 < 4.0)
            );
            println!(
                "  the frames' own CPU: p95 {:.2} ms; the UI thread's CPU: {:.1}% of one core",
                f.own_p95, f.ui_cpu
            );
            let (time, cpu, queued) = f.slow_split;
            println!(
                "  the slowest 5% of frames: {time:.2} ms on average, of which {cpu:.2} ms their \
                 own CPU and {queued:.2} ms waiting for a core"
            );
        }
        Err(e) => println!("frames: {e}"),
    }
    if std::env::var_os("PORTSCOPE_BENCH_DETAIL").is_some() {
        return;
    }
    match real_window(&binary, &script, &dir) {
        Ok((cpu, renderer, rss)) => println!(
            "real window, {HOSTS} hosts: {cpu:.1}% of one core over 20 s (target < 10%) {}, \
             and {renderer:.1}% in Mesa's software renderer (the GPU's work on a desktop); \
             {rss:.0} MiB RSS",
            verdict(cpu < 10.0)
        ),
        Err(e) => println!("real window: {e}"),
    }
    if let Some(ss) = ss_ms() {
        println!("for scale: `ss -tan` on this machine takes {ss:.1} ms");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
