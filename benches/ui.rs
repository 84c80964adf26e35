//! The window at scale: 100,000 sockets from a fixed source, and the real window idling.
//!
//! Run with `cargo bench --bench ui`. It prints, against the targets:
//! - deriving the view (filter + sort + ports in use) of 100,000 sockets, per sort column;
//! - the CPU time of a frame with 100,000 rows while the user scrolls and hovers;
//! - the peak memory of a process holding that window state;
//! - the traffic history behind the details panel's charts: memory it adds and time per
//!   snapshot, for 100,000 sockets of which 1% move data, and all of them (capped);
//! - the timeline above the table: its store's intake per snapshot of 100,000 sockets and its
//!   memory, and what drawing 10 minutes of it (2,400 samples) adds to a frame;
//! - the CPU use of the real window (release binary, under Xvfb when available) polling
//!   ~1,000 sockets once a second, and `ss -tan` timed in the same run for scale.

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use portscope::collect::generated_poll;
use portscope::model::{Filter, Snapshot, SortDir, SortKey, SortSpec};
use portscope::ui::view::{ViewData, ViewSpec};
use portscope::ui::{PortscopeApp, Prefs};

const ROWS: usize = 100_000;

/// Counts the bytes live on the heap while `COUNTING` is on, to measure what a structure
/// holds; off, it costs one relaxed load per allocation.
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn fake_snapshot(n: usize) -> Snapshot {
    Snapshot::from_poll(
        1,
        std::time::SystemTime::now(),
        Duration::from_millis(1),
        generated_poll(n),
    )
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn pct(v: &[f64], p: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

fn vm_hwm_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Build the 100k-row window, run frames while scrolling, report frame times and peak memory.
/// Runs in a child process so that its peak memory is its own. A frame here is what the UI
/// thread does for it: egui's layout and painting plus tessellation into triangles; only the
/// GPU upload and drawing are left out.
fn window_at_scale() {
    let snapshot = fake_snapshot(ROWS);
    let mut app = PortscopeApp::from_snapshot(snapshot, Prefs::default());
    let ctx = egui::Context::default();
    portscope::ui::setup_context(&ctx);
    let input = |events: Vec<egui::Event>| egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(1280.0, 800.0),
        )),
        events,
        ..Default::default()
    };
    let frame = |app: &mut PortscopeApp, events: Vec<egui::Event>| {
        let start = Instant::now();
        let out = ctx.run_ui(input(events), |ui| app.ui(ui));
        let triangles = ctx.tessellate(out.shapes, out.pixels_per_point);
        std::hint::black_box(triangles);
        ms(start.elapsed())
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.visible_rows().count() < ROWS {
        assert!(Instant::now() < deadline, "the view never arrived");
        std::thread::sleep(Duration::from_millis(5));
        frame(&mut app, Vec::new());
    }
    let mut frames = Vec::new();
    for i in 0..300 {
        let pos = egui::pos2(400.0, 300.0 + (i % 40) as f32 * 10.0);
        let events = vec![
            egui::Event::PointerMoved(pos),
            egui::Event::MouseWheel {
                unit: egui::MouseWheelUnit::Line,
                delta: egui::vec2(0.0, if i % 100 < 50 { -3.0 } else { 3.0 }),
                modifiers: egui::Modifiers::default(),
                phase: egui::TouchPhase::Move,
                source: egui::MouseWheelSource::Wheel,
            },
        ];
        frames.push(frame(&mut app, events));
    }
    // Frames with nothing changed.
    let idle: Vec<f64> = (0..50).map(|_| frame(&mut app, Vec::new())).collect();
    println!(
        "frames {:.3} {:.3} {:.3} {:.1}",
        median(frames.clone()),
        pct(&frames, 0.95),
        median(idle),
        vm_hwm_mib().unwrap_or(f64::NAN)
    );
}

/// The change tracker taking in 100k-socket snapshots: the fastest of 5 runs of each step.
fn tracker_at_scale() {
    use portscope::model::history::ChangeTracker;
    // Each step is the one before with one more thing done to it.
    type Edit = fn(&mut Snapshot);
    let edits: [(&str, Edit); 5] = [
        ("first snapshot", |_| {}),
        ("same sockets, new poll", |_| {}),
        ("1% closed, 1% new", |s| {
            for socket in s.sockets.iter_mut().step_by(100) {
                socket.local_port = socket.local_port.wrapping_add(1);
            }
        }),
        ("every state changed", |s| {
            for socket in &mut s.sockets {
                socket.state = portscope::model::SockState::CloseWait;
            }
        }),
        ("same sockets in reverse order (no order to follow)", |s| {
            s.sockets.reverse();
        }),
    ];
    let mut current = fake_snapshot(ROWS);
    let steps: Vec<(&str, Arc<Snapshot>)> = (1u64..)
        .zip(edits)
        .map(|(seq, (label, edit))| {
            edit(&mut current);
            current.seq = seq;
            current.content_seq = seq;
            (label, Arc::new(current.clone()))
        })
        .collect();
    let mut best = vec![f64::MAX; steps.len()];
    for _ in 0..5 {
        let mut tracker = ChangeTracker::default();
        let start = Instant::now();
        for (i, (_, s)) in steps.iter().enumerate() {
            let t = Instant::now();
            tracker.update(s, start + Duration::from_millis(100 * i as u64));
            best[i] = best[i].min(ms(t.elapsed()));
        }
    }
    println!("change tracker, {ROWS} sockets (on the UI thread; fastest of 5)");
    for ((label, _), took) in steps.iter().zip(&best) {
        println!("  {label:<42} {took:>10.1}");
    }
    println!(
        "  (paid by the frame that takes in a changed snapshot; unchanged polls never arrive)\n"
    );
}

/// The traffic history fed ten minutes of 1-second polls of 100,000 sockets: the bytes it
/// holds afterwards (every allocation counted) and the time each snapshot's intake takes on
/// the UI thread.
fn traffic_history_at_scale() {
    use portscope::model::traffic::{Flow, Rate, TcpStats};
    use portscope::model::traffic_history::TrafficHistory;

    // Every TCP socket has counters, as on Linux; 5,000 processes own them.
    let mut snapshot = fake_snapshot(ROWS);
    let template = snapshot
        .processes
        .values()
        .next()
        .cloned()
        .expect("a process");
    for (i, socket) in snapshot.sockets.iter_mut().enumerate() {
        socket.cookie = i as u64 + 1;
        if !socket.pids.is_empty() {
            socket.pids = portscope::model::Pids::from_slice(&[10_000 + (i % 5_000) as u32]);
        }
    }
    for pid in 10_000..15_000 {
        snapshot.processes.insert(
            pid,
            portscope::model::ProcessInfo {
                pid,
                ..template.clone()
            },
        );
    }
    let tcp: Vec<u64> = snapshot
        .sockets
        .iter()
        .filter(|s| s.proto == portscope::model::Proto::Tcp)
        .map(|s| s.cookie)
        .collect();
    for cookie in &tcp {
        let stats = TcpStats {
            bytes_sent: Some(5_000),
            bytes_received: Some(5_000),
            rtt_us: 800,
            ..TcpStats::default()
        };
        snapshot.traffic.insert(
            *cookie,
            Flow {
                stats,
                rate: Some(Rate::default()),
            },
        );
    }
    type Busy = fn(usize, u64) -> bool;
    let cases: [(&str, Busy); 2] = [
        // 1% of the connections move data; another 1% each minute (10,000 over the run).
        ("1% move data, another 1% each minute", |i, poll| {
            i % 100 == (poll / 60) as usize % 100
        }),
        ("all move data at every poll (capped)", |_, _| true),
    ];
    const POLLS: u64 = 600;
    println!(
        "traffic history, {ROWS} sockets ({} TCP), {POLLS} polls 1 s apart (on the UI thread)",
        tcp.len()
    );
    for (label, busy) in cases {
        let mut snap = snapshot.clone();
        let start = snap.taken_at;
        let mut took = Vec::with_capacity(POLLS as usize);
        LIVE.store(0, Ordering::SeqCst);
        COUNTING.store(true, Ordering::SeqCst);
        let mut history = TrafficHistory::default();
        for poll in 0..POLLS {
            snap.seq = poll + 1;
            snap.taken_at = start + Duration::from_secs(poll);
            for (i, cookie) in tcp.iter().enumerate() {
                if let Some(flow) = snap.traffic.get_mut(cookie) {
                    let on = busy(i, poll);
                    let n = (i as u64 % 977 + 1) * 1000;
                    flow.rate = Some(Rate {
                        down: if on { n } else { 0 },
                        up: if on { n / 10 } else { 0 },
                    });
                }
            }
            let t = Instant::now();
            history.update(&snap);
            took.push(ms(t.elapsed()));
        }
        COUNTING.store(false, Ordering::SeqCst);
        let bytes = LIVE.load(Ordering::SeqCst) as f64 / 1e6;
        let (conns, procs) = history.followed();
        println!("  {label}");
        println!(
            "    follows {conns} connections, {procs} processes; left out at the last poll: {:?}",
            history.left_out()
        );
        println!(
            "    memory added: {bytes:.1} MB (counted allocations; target <= 30 MB) {}",
            verdict(bytes <= 30.0)
        );
        println!(
            "    intake per snapshot: median {:.2} ms, p95 {:.2} ms, max {:.2} ms",
            median(took.clone()),
            pct(&took, 0.95),
            pct(&took, 1.0)
        );
        drop(history);
    }
    println!();
}

/// The timeline above the table: what its store costs per snapshot and in memory, and what
/// drawing it full (2,400 samples, 10 minutes at 4 polls a second) adds to a frame.
fn timeline_at_scale() {
    use portscope::model::history::Changes;
    use portscope::model::timeline::{MAX_SAMPLES, Timeline};

    // Intake: one pass over 100,000 sockets per snapshot, on the UI thread.
    let mut snap = fake_snapshot(ROWS);
    let start = snap.taken_at;
    let mut timeline = Timeline::default();
    let mut took = Vec::new();
    for i in 0..200u64 {
        snap.seq = i + 1;
        snap.taken_at = start + Duration::from_millis(250 * i);
        let t = Instant::now();
        timeline.update(&snap, Changes::default());
        took.push(ms(t.elapsed()));
    }
    println!("timeline (10 minutes, at most {MAX_SAMPLES} samples)");
    println!(
        "  intake of a {ROWS}-socket snapshot: median {:.2} ms, p95 {:.2} ms (target <= 5 ms) {}",
        median(took.clone()),
        pct(&took, 0.95),
        verdict(median(took) <= 5.0)
    );

    // A full timeline: 2,400 samples of a 2,000-socket machine whose population and churn
    // move, ending a second before now.
    let base = fake_snapshot(2_000);
    let now = std::time::SystemTime::now();
    let first = now - Duration::from_millis(250 * MAX_SAMPLES as u64 + 1_000);
    LIVE.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    let mut full = Timeline::default();
    let mut step = Snapshot {
        sockets: Vec::with_capacity(base.sockets.len()),
        ..Snapshot::clone(&base)
    };
    for i in 0..MAX_SAMPLES as u64 {
        let n = 1_000 + (i * 7 % 1_000) as usize;
        step.sockets.clear();
        step.sockets.extend_from_slice(&base.sockets[..n]);
        step.seq = i + 1;
        step.taken_at = first + Duration::from_millis(250 * i);
        let churn = (i % 40) as usize;
        full.update(
            &step,
            Changes {
                new: churn,
                changed: 0,
                closed: 40 - churn,
            },
        );
    }
    drop(step);
    COUNTING.store(false, Ordering::SeqCst);
    let counted = LIVE.load(Ordering::SeqCst) as f64 / 1e3;
    println!(
        "  {} samples hold {counted:.0} kB (counted allocations; target <= 200 kB) {}",
        full.samples().len(),
        verdict(counted <= 200.0)
    );

    // Frames of a 2,000-row window with the pointer moving over the charts, the timeline
    // shown and hidden, taken in turns so that other load on the machine weighs on both
    // alike: the difference is the timeline's cost.
    let window = |show_timeline: bool, timeline: Timeline| {
        let prefs = Prefs {
            show_timeline,
            ..Prefs::default()
        };
        let app = PortscopeApp::from_snapshot(fake_snapshot(2_000), prefs).with_timeline(timeline);
        let ctx = egui::Context::default();
        portscope::ui::setup_context(&ctx);
        (app, ctx)
    };
    let frame = |(app, ctx): &mut (PortscopeApp, egui::Context), i: usize| {
        let pos = egui::pos2(60.0 + (i % 60) as f32 * 18.0, 200.0);
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(
                egui::Pos2::ZERO,
                egui::vec2(1280.0, 800.0),
            )),
            events: vec![egui::Event::PointerMoved(pos)],
            ..Default::default()
        };
        let t = Instant::now();
        let out = ctx.run_ui(input, |ui| app.ui(ui));
        std::hint::black_box(ctx.tessellate(out.shapes, out.pixels_per_point));
        ms(t.elapsed())
    };
    let mut with = window(true, full);
    let mut without = window(false, Timeline::default());
    let (mut shown, mut hidden, mut added) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..220 {
        let a = frame(&mut with, i);
        let b = frame(&mut without, i);
        if i >= 20 {
            shown.push(a);
            hidden.push(b);
            added.push(a - b);
        }
    }
    let cost = median(added);
    println!(
        "  frame, 2,000 rows, pointer over the charts: timeline shown median {:.2} ms (p95 {:.2}), \
         hidden {:.2} ms",
        median(shown.clone()),
        pct(&shown, 0.95),
        median(hidden)
    );
    println!(
        "  the full timeline adds {cost:.2} ms to a frame (median of 200 paired frames; \
         target <= 4 ms) {}",
        verdict(cost <= 4.0)
    );
    println!();
}

fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn rss_mib(pid: u32) -> Option<f64> {
    status_mib(pid, "VmRSS:")
}

/// A memory figure of `/proc/PID/status` (`VmRSS:`, `VmHWM:`), in MiB.
fn status_mib(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    Some(line.split_whitespace().nth(1)?.parse::<f64>().ok()? / 1024.0)
}

/// Runs the real window under its own Xvfb display with `args`, lets it settle, and hands its
/// PID to `measure`; both are stopped afterwards.
fn window_under_xvfb<T>(
    binary: &std::path::Path,
    display: &str,
    args: &[String],
    settle: Duration,
    measure: impl FnOnce(u32) -> Result<T, String>,
) -> Result<T, String> {
    let runtime = std::env::temp_dir().join("portscope-bench-xdg");
    let _ = std::fs::create_dir_all(&runtime);
    let mut xvfb = Command::new("Xvfb")
        .args([display, "-screen", "0", "1280x800x24"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| {
            format!("Xvfb not available ({e}); install xvfb to measure the real window")
        })?;
    std::thread::sleep(Duration::from_secs(1));
    let result = Command::new(binary)
        .args(args)
        .env("DISPLAY", display)
        .env("XDG_RUNTIME_DIR", &runtime)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())
        .and_then(|mut app| {
            std::thread::sleep(settle);
            let result = measure(app.id());
            let _ = app.kill();
            let _ = app.wait();
            result
        });
    let _ = xvfb.kill();
    let _ = xvfb.wait();
    result
}

/// A process's CPU use over `span`, in % of one core.
fn cpu_percent(pid: u32, span: Duration) -> Result<f64, String> {
    let t0 = cpu_ticks(pid).ok_or("the window exited")?;
    let start = Instant::now();
    std::thread::sleep(span);
    let t1 = cpu_ticks(pid).ok_or("the window exited")?;
    let ticks_per_s = 100.0; // USER_HZ on Linux
    Ok(t1.saturating_sub(t0) as f64 / ticks_per_s / start.elapsed().as_secs_f64() * 100.0)
}

/// The real window under Xvfb with ~1,000 sockets: (CPU % over 10 s of idling, RSS MiB,
/// sockets).
fn idle_window(binary: &std::path::Path) -> Result<(f64, f64, usize), String> {
    // ~1,000 sockets: 500 loopback connections, both ends in this process.
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let mut held = Vec::new();
    for _ in 0..500 {
        let c = TcpStream::connect(addr).map_err(|e| e.to_string())?;
        let (s, _) = listener.accept().map_err(|e| e.to_string())?;
        held.push((c, s));
    }
    window_under_xvfb(binary, ":97", &[], Duration::from_secs(4), |pid| {
        let cpu = cpu_percent(pid, Duration::from_secs(10))?;
        Ok((cpu, rss_mib(pid).unwrap_or(f64::NAN), held.len() * 2 + 1))
    })
}

/// The real window on `--generated N` made-up sockets under Xvfb: (RSS MiB, peak RSS MiB,
/// CPU % over 5 s).
fn generated_window(
    binary: &std::path::Path,
    n: usize,
    churn_percent: u8,
) -> Result<(f64, f64, f64), String> {
    let mut args = vec!["--generated".to_owned(), n.to_string()];
    if churn_percent > 0 {
        args.extend(["--churn".to_owned(), churn_percent.to_string()]);
    }
    window_under_xvfb(binary, ":96", &args, Duration::from_secs(6), |pid| {
        let cpu = cpu_percent(pid, Duration::from_secs(5))?;
        Ok((
            rss_mib(pid).unwrap_or(f64::NAN),
            status_mib(pid, "VmHWM:").unwrap_or(f64::NAN),
            cpu,
        ))
    })
}

fn release_binary() -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    // target/release/deps/ui-xxxx → target/release/portscope
    let candidate = exe.parent()?.parent()?.join("portscope");
    candidate.exists().then_some(candidate)
}

/// *Recently closed* under 1,000 closes a second for ten minutes, every one announced by the
/// kernel and none seen by a poll (the worst case: each becomes an entry): the bytes the
/// tracker holds at each minute (every allocation counted) must stay flat once the history is
/// full, and taking in a batch of announcements must stay cheap on the UI thread.
fn closed_history_under_a_flood() {
    use portscope::model::ended::Ended;
    use portscope::model::history::{ChangeTracker, TrackerConfig};
    use portscope::model::traffic::TcpStats;

    const PER_SECOND: u64 = 1_000;
    const BATCH_EVERY_MS: u64 = 200;
    const MINUTES: u64 = 10;
    let snap = Arc::new(fake_snapshot(1_000));
    let listener = snap
        .sockets
        .iter()
        .find(|s| s.state == portscope::model::SockState::Listen)
        .cloned()
        .expect("a listener");
    let start = Instant::now();
    let wall = std::time::SystemTime::now();
    let mut tracker = ChangeTracker::new(TrackerConfig::default());
    tracker.update(&snap, start);
    println!(
        "Recently closed under {PER_SECOND} closes a second for {MINUTES} minutes, all between polls (kept: {} entries, {} min)",
        TrackerConfig::default().max_closed,
        TrackerConfig::default().keep_for.as_secs() / 60
    );
    LIVE.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    let per_batch = PER_SECOND * BATCH_EVERY_MS / 1000;
    let mut cookie = 1_000_000u64;
    let mut took = Vec::new();
    let mut at_minute = Vec::new();
    for batch in 0..(MINUTES * 60 * 1000 / BATCH_EVERY_MS) {
        let now = start + Duration::from_millis(batch * BATCH_EVERY_MS);
        let ended: Vec<Ended> = (0..per_batch)
            .map(|i| {
                cookie += 1;
                let mut socket = listener.clone();
                socket.cookie = cookie;
                socket.remote_addr = Some(std::net::IpAddr::from([127, 0, 0, 1]));
                socket.remote_port = Some(40_000 + (i % 20_000) as u16);
                socket.state = portscope::model::SockState::Closed;
                Ended {
                    socket,
                    stats: Some(TcpStats {
                        bytes_sent: Some(100 + i),
                        bytes_received: Some(7),
                        rtt_us: 50,
                        ..TcpStats::default()
                    }),
                    time_wait: false,
                    at: wall + Duration::from_millis(batch * BATCH_EVERY_MS),
                    instant: now,
                }
            })
            .collect();
        let t = Instant::now();
        tracker.take_ended(&ended, &snap);
        tracker.tick(now);
        took.push(ms(t.elapsed()));
        drop(ended);
        if (batch + 1) % (60 * 1000 / BATCH_EVERY_MS) == 0 {
            at_minute.push(LIVE.load(Ordering::SeqCst) as f64 / 1e6);
        }
    }
    COUNTING.store(false, Ordering::SeqCst);
    let entries = tracker.history().len();
    let text: Vec<String> = at_minute.iter().map(|mb| format!("{mb:.2}")).collect();
    println!("  held after each minute (MB): {}", text.join(", "));
    let flat = at_minute
        .iter()
        .skip(1)
        .all(|mb| (mb - at_minute[1]).abs() <= at_minute[1] * 0.05 + 0.05);
    println!(
        "  entries kept at the end: {entries}; flat from the second minute on: {}",
        verdict(flat)
    );
    println!(
        "  taking in {per_batch} announcements: median {:.3} ms, p95 {:.3} ms, max {:.3} ms",
        median(took.clone()),
        pct(&took, 0.95),
        pct(&took, 1.0)
    );
}

fn main() {
    if std::env::var_os("PORTSCOPE_BENCH_WINDOW").is_some() {
        window_at_scale();
        return;
    }
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` asks which benchmarks exist.
    }
    if std::env::args().any(|a| a == "timeline") {
        timeline_at_scale(); // `cargo bench --bench ui -- timeline`: that section alone.
        return;
    }
    if std::env::args().any(|a| a == "history") {
        traffic_history_at_scale(); // `cargo bench --bench ui -- history`: that section alone.
        return;
    }
    if std::env::args().any(|a| a == "closes") {
        closed_history_under_a_flood(); // `cargo bench --bench ui -- closes`: that section alone.
        return;
    }
    println!("portscope UI benchmark ({ROWS} sockets from a fixed source)\n");

    // 1. Deriving the view, on the worker thread in the window.
    let snapshot = Arc::new(fake_snapshot(ROWS));
    println!(
        "{:<44} {:>10}",
        "derive view of 100k sockets (median of 7)", "ms"
    );
    let mut worst: f64 = 0.0;
    let cases: Vec<(String, SortSpec, Filter)> = SortKey::ALL
        .iter()
        .map(|k| {
            (
                format!("sort by {}", k.title()),
                SortSpec {
                    key: *k,
                    dir: SortDir::Ascending,
                },
                Filter::default(),
            )
        })
        .chain([
            (
                "filter \"server-1042\"".to_owned(),
                SortSpec::default(),
                Filter::parse_lossy("server-1042"),
            ),
            (
                "filter \"established 10.0\"".to_owned(),
                SortSpec::default(),
                Filter::parse_lossy("established 10.0"),
            ),
        ])
        .collect();
    for (name, sort, filter) in cases {
        let times: Vec<f64> = (0..7)
            .map(|_| {
                let start = Instant::now();
                let spec = ViewSpec {
                    sort,
                    filter: filter.clone(),
                    ..ViewSpec::default()
                };
                let data = ViewData::build(snapshot.clone(), spec, None);
                std::hint::black_box(&data.rows);
                ms(start.elapsed())
            })
            .collect();
        let m = median(times);
        worst = worst.max(m);
        println!("  {name:<42} {m:>10.1}");
    }
    // Typing in the filter box: the row texts of the snapshot are built once, then reused.
    let texts_start = Instant::now();
    let base = ViewData::build(
        snapshot.clone(),
        ViewSpec {
            filter: Filter::parse_lossy("x"),
            ..ViewSpec::default()
        },
        None,
    );
    let texts_ms = ms(texts_start.elapsed());
    println!("  build row texts once per snapshot (with a first filter)   {texts_ms:>10.1}");
    for word in ["server-1042", "established 10.0", "state:listen alice"] {
        let times: Vec<f64> = (0..7)
            .map(|_| {
                let start = Instant::now();
                let spec = ViewSpec {
                    filter: Filter::parse_lossy(word),
                    ..ViewSpec::default()
                };
                let data = ViewData::build(snapshot.clone(), spec, Some(&base));
                std::hint::black_box(&data.rows);
                ms(start.elapsed())
            })
            .collect();
        let m = median(times);
        worst = worst.max(m);
        println!("  keystroke: filter {word:<30} {m:>10.1}");
    }
    println!(
        "  worst: {worst:.1} ms (target ≤ 50 ms, and done off the frame) {}\n",
        verdict(worst <= 50.0)
    );

    // Following changes: the tracker behind the highlights and Recently closed, fed each new
    // snapshot on the UI thread.
    tracker_at_scale();

    // The history behind the details panel's charts, fed each new snapshot on the UI thread.
    traffic_history_at_scale();
    println!();
    closed_history_under_a_flood();

    // The timeline above the table, fed each new snapshot and drawn every frame.
    timeline_at_scale();

    // 2 + 3. Frames and memory, in a child process.
    let out = Command::new(std::env::current_exe().expect("own path"))
        .env("PORTSCOPE_BENCH_WINDOW", "1")
        .output();
    match out {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            let line = text
                .lines()
                .find(|l| l.starts_with("frames "))
                .unwrap_or_default();
            let f: Vec<f64> = line
                .split_whitespace()
                .skip(1)
                .filter_map(|x| x.parse().ok())
                .collect();
            if let [median, p95, idle, hwm] = f[..] {
                println!(
                    "window with 100k rows (UI-thread CPU per frame: egui + tessellation; scrolling + hovering)"
                );
                println!(
                    "  median {median:.2} ms, p95 {p95:.2} ms (target < 4 ms) {}",
                    verdict(p95 < 4.0)
                );
                println!("  frame with nothing changed: {idle:.2} ms");
                println!(
                    "  peak memory of the process: {hwm:.0} MiB (target < 150 MB) {}\n",
                    verdict(hwm * 1.048_576 < 150.0)
                );
            } else {
                println!("window run printed nothing usable: {text}");
            }
        }
        Ok(out) => println!(
            "window run failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => println!("window run could not start: {e}"),
    }

    // 4. The real window idling, and `ss` for scale.
    let ss = (0..9)
        .filter_map(|_| {
            let start = Instant::now();
            Command::new("ss").arg("-tan").output().ok()?;
            Some(ms(start.elapsed()))
        })
        .collect::<Vec<_>>();
    match release_binary() {
        Some(binary) => match idle_window(&binary) {
            Ok((cpu, rss, sockets)) => {
                println!(
                    "real window ({}) idling with ~{sockets} sockets, 1 s polling, 10 s",
                    binary.display()
                );
                println!(
                    "  CPU: {cpu:.2}% of one core (target < 1%) {}",
                    verdict(cpu < 1.0)
                );
                println!("  RSS: {rss:.0} MiB");
                if !ss.is_empty() {
                    let ss_ms = median(ss);
                    println!(
                        "  for scale: one `ss -tan` takes {ss_ms:.1} ms here; portscope's CPU per second \
                         equals {:.2} `ss -tan` runs",
                        cpu * 10.0 / ss_ms
                    );
                }
            }
            Err(e) => println!("real window not measured: {e}"),
        },
        None => println!("real window not measured: build it first with `cargo build --release`"),
    }

    // 5. The real window holding 100k made-up sockets, against the same window holding none
    //    (what the GL driver and fonts take on their own).
    if let Some(binary) = release_binary() {
        match (
            generated_window(&binary, 0, 0),
            generated_window(&binary, ROWS, 0),
        ) {
            (Ok((base, _, _)), Ok((rss, peak, cpu))) => {
                println!(
                    "real window with {ROWS} made-up sockets (`portscope --generated {ROWS}`)"
                );
                println!(
                    "  RSS {rss:.0} MiB, of which {base:.0} MiB is the window with no sockets \
                     (GL driver, fonts); {:.0} MiB for the sockets and their view",
                    rss - base
                );
                println!(
                    "  target < 150 MB: {} ({:.0} MB)",
                    verdict(rss * 1.048_576 < 150.0),
                    rss * 1.048_576
                );
                println!(
                    "  peak RSS (the second poll is read while the first is on screen): {peak:.0} MiB \
                     ({:.0} MB)",
                    peak * 1.048_576
                );
                println!("  idle CPU afterwards: {cpu:.2}% of one core");
            }
            (Err(e), _) | (_, Err(e)) => println!("real window at scale not measured: {e}"),
        }
        // A busy server: 1% of the connections close and as many open at every poll, so every
        // poll is sent, tracked, and shown with its closed rows.
        match generated_window(&binary, ROWS, 1) {
            Ok((rss, peak, cpu)) => {
                println!(
                    "real window with {ROWS} made-up sockets, 1% replaced every second \
                     (`--churn 1`)"
                );
                println!(
                    "  RSS {rss:.0} MiB: target < 150 MB: {} ({:.0} MB)",
                    verdict(rss * 1.048_576 < 150.0),
                    rss * 1.048_576
                );
                println!(
                    "  peak RSS (a new poll, the view on screen and the next one being built): \
                     {peak:.0} MiB ({:.0} MB)",
                    peak * 1.048_576
                );
                println!("  CPU: {cpu:.1}% of one core (poll, tracker, view, all 100k rows)");
            }
            Err(e) => println!("real window with churn not measured: {e}"),
        }
    }
}
