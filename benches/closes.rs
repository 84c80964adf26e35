//! What listening for the kernel's close announcements costs, beside the poll's own cost.
//!
//! ```sh
//! cargo bench --bench closes
//! ```
//!
//! Linux only. A generator in this process opens and closes loopback connections at a fixed
//! pace (1,000 a second by default: `PORTSCOPE_BENCH_CLOSES`) for a fixed time
//! (`PORTSCOPE_BENCH_SECONDS`, default 10), while the feed that the window and `watch` use
//! reads the announcements on its thread, and a steady `OsSource` polls once a second. It
//! prints the feed thread's CPU time as a share of one core (from the kernel's account of
//! that thread, `/proc/self/task/TID/stat`), the announcements received against the sockets
//! closed, and the poll's median time and share of a core at that interval. Target: the feed
//! thread under 2% of a core at 1,000 closes a second.

#[cfg(target_os = "linux")]
fn main() -> std::process::ExitCode {
    live::main()
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("closes bench: Linux only (the kernel's sock_diag destroy announcements)");
}

#[cfg(target_os = "linux")]
mod live {
    use std::env;
    use std::fs;
    use std::io::Read;
    use std::net::{Ipv4Addr, TcpListener, TcpStream};
    use std::process::ExitCode;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::thread;
    use std::time::{Duration, Instant};

    use portscope::collect::{DESTROY_FEED_BUFFER, DestroyFeed, OsSource, SocketSource};

    const TARGET_SHARE: f64 = 0.02;

    fn number(var: &str, default: u64) -> u64 {
        env::var(var)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    /// CPU time (user + system) of this process's thread named `name`, in seconds.
    fn thread_cpu(name: &str) -> Option<f64> {
        // SAFETY: sysconf has no preconditions.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        for entry in fs::read_dir("/proc/self/task").ok()?.flatten() {
            let dir = entry.path();
            let comm = fs::read_to_string(dir.join("comm")).unwrap_or_default();
            if comm.trim() != name {
                continue;
            }
            let stat = fs::read_to_string(dir.join("stat")).ok()?;
            // Fields after the command name's closing parenthesis: state is field 3, utime 14.
            let rest = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            return Some((utime + stime) / ticks);
        }
        None
    }

    pub fn main() -> ExitCode {
        let rate = number("PORTSCOPE_BENCH_CLOSES", 1000).max(1);
        let seconds = number("PORTSCOPE_BENCH_SECONDS", 10).clamp(1, 600);
        let received = Arc::new(AtomicU64::new(0));
        let feed = match DestroyFeed::start(DESTROY_FEED_BUFFER, || {}) {
            Ok(feed) => feed,
            Err(e) => {
                eprintln!("cannot listen for close announcements: {e}");
                return ExitCode::FAILURE;
            }
        };
        let Ok(listener) = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)) else {
            eprintln!("cannot bind a loopback listener");
            return ExitCode::FAILURE;
        };
        let Ok(addr) = listener.local_addr() else {
            return ExitCode::FAILURE;
        };
        let stop = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    if let Ok(mut conn) = conn {
                        let mut sink = [0u8; 64];
                        let _ = conn.read(&mut sink);
                    }
                }
            })
        };
        let cpu_before = thread_cpu("destroy-events").unwrap_or(0.0);
        let mut source = match OsSource::new() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        };
        let start = Instant::now();
        let total = rate * seconds;
        let mut polls = Vec::new();
        let mut next_poll = start;
        let mut closed = 0u64;
        let mut ours = 0u64;
        let port = addr.port();
        while closed < total {
            let due = start + Duration::from_secs_f64(closed as f64 / rate as f64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                thread::sleep(wait);
            }
            if let Ok(conn) = TcpStream::connect(addr) {
                drop(conn);
            }
            closed += 1;
            if Instant::now() >= next_poll {
                next_poll += Duration::from_secs(1);
                let t = Instant::now();
                if source.poll().is_ok() {
                    polls.push(t.elapsed());
                }
            }
            for e in feed.drain().ended {
                if e.socket.remote_port == Some(port) || e.socket.local_port == port {
                    ours += 1;
                }
            }
        }
        // Announcements still on their way.
        let settle = Instant::now() + Duration::from_secs(2);
        while Instant::now() < settle {
            thread::sleep(Duration::from_millis(100));
            for e in feed.drain().ended {
                if e.socket.remote_port == Some(port) || e.socket.local_port == port {
                    ours += 1;
                }
            }
        }
        let wall = start.elapsed().as_secs_f64() - 2.0;
        let cpu = thread_cpu("destroy-events").unwrap_or(0.0) - cpu_before;
        received.store(ours, Ordering::Relaxed);
        stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(addr);
        let _ = acceptor.join();

        polls.sort();
        let median = polls.get(polls.len() / 2).copied().unwrap_or_default();
        let share = cpu / wall;
        println!("{closed} connections opened and closed in {wall:.1} s ({rate} a second)");
        println!(
            "announcements received for them: {} (both ends: {} expected)",
            received.load(Ordering::Relaxed),
            closed * 2
        );
        println!(
            "feed thread CPU: {:.3} s = {:.2}% of a core (target < {:.0}%)  {}",
            cpu,
            share * 100.0,
            TARGET_SHARE * 100.0,
            if share < TARGET_SHARE { "PASS" } else { "FAIL" }
        );
        println!(
            "steady poll beside it: median {:.1} ms, once a second = {:.2}% of a core ({} polls)",
            median.as_secs_f64() * 1000.0,
            median.as_secs_f64() * 100.0,
            polls.len()
        );
        if share < TARGET_SHARE {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }
}
