//! What a poll of every network namespace costs next to the bare socket dumps it builds on.
//!
//! ```sh
//! cargo bench --bench namespaces
//! ```
//!
//! Linux, as root. Makes 20 network namespaces (`unshare -n`, loopback only), each holding
//! 500 sockets of one Python process (a listener, 249 connections to it with both ends, one
//! UDP socket), then times, as medians of alternating rounds after a warm-up:
//!
//! - portscope's steady poll of every namespace (`OsSource::all_namespaces`): the 21 socket
//!   tables, owners, processes;
//! - the bare sock_diag dumps of the same 21 namespaces, one after the other, each from a
//!   socket opened inside it once.
//!
//! Target: the poll ≤ 1.5× the sum of the bare dumps. `PORTSCOPE_BENCH_NAMESPACES` (20),
//! `PORTSCOPE_BENCH_PER_NAMESPACE` (500) and `PORTSCOPE_BENCH_RUNS` (25) change the sizes.

#[cfg(target_os = "linux")]
fn main() -> std::process::ExitCode {
    live::main()
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("namespaces bench: Linux only");
}

#[cfg(target_os = "linux")]
mod live {
    use std::env;
    use std::io::{BufRead, BufReader};
    use std::path::PathBuf;
    use std::process::{Child, Command, ExitCode, Stdio};
    use std::time::{Duration, Instant};

    use portscope::collect::{BareDumps, OsSource, SocketSource};

    const TARGET: f64 = 1.5;

    /// Inside a namespace: `count` sockets, then a line, then wait for standard input to close.
    const SCRIPT: &str = "import socket, sys\n\
        n = int(sys.argv[1])\n\
        s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1024)\n\
        keep = [s]\n\
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('127.0.0.1', 0)); keep.append(u)\n\
        for _ in range((n - 2) // 2):\n\
        \x20   c = socket.create_connection(s.getsockname()); a, _ = s.accept(); keep += [c, a]\n\
        print(len(keep), flush=True)\n\
        sys.stdin.read()\n";

    fn setting(name: &str, default: usize) -> usize {
        env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    struct Namespace(Child);

    impl Drop for Namespace {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn namespace(sockets: usize) -> Namespace {
        let mut child = Command::new("unshare")
            .args([
                "-n",
                "sh",
                "-c",
                "ip link set lo up && exec python3 -c \"$0\" \"$1\"",
                SCRIPT,
                &sockets.to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("unshare and python3 run");
        let mut line = String::new();
        if let Some(out) = child.stdout.as_mut() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        assert!(!line.trim().is_empty(), "a namespace did not start");
        Namespace(child)
    }

    fn median(mut times: Vec<Duration>) -> Duration {
        times.sort_unstable();
        times[times.len() / 2]
    }

    pub fn main() -> ExitCode {
        // SAFETY: geteuid only reads the process's credentials.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("namespaces bench: run as root (it makes network namespaces)");
            return ExitCode::FAILURE;
        }
        let count = setting("PORTSCOPE_BENCH_NAMESPACES", 20);
        let per = setting("PORTSCOPE_BENCH_PER_NAMESPACE", 500);
        let runs = setting("PORTSCOPE_BENCH_RUNS", 25).max(3);
        let namespaces: Vec<Namespace> = (0..count).map(|_| namespace(per)).collect();
        let mut paths = vec![PathBuf::from("/proc/self/ns/net")];
        paths.extend(
            namespaces
                .iter()
                .map(|ns| PathBuf::from(format!("/proc/{}/ns/net", ns.0.id()))),
        );
        let bare = match BareDumps::open(&paths) {
            Ok(bare) => bare,
            Err(e) => {
                eprintln!("cannot enter the namespaces: {e}");
                return ExitCode::FAILURE;
            }
        };
        let mut source = match OsSource::all_namespaces() {
            Ok(source) => source,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        };
        // Warm-up: the owner cache's first complete scan, every namespace entered.
        let mut in_poll = 0;
        let mut in_dumps = 0;
        for _ in 0..3 {
            in_poll = source.poll().map(|p| p.sockets.len()).unwrap_or(0);
            in_dumps = bare.dump().unwrap_or(0);
        }
        let (mut polls, mut dumps) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let start = Instant::now();
            let poll = source.poll();
            polls.push(start.elapsed());
            drop(poll);
            let start = Instant::now();
            let dumped = bare.dump();
            dumps.push(start.elapsed());
            drop(dumped);
        }
        let (poll, dump) = (median(polls), median(dumps));
        let ratio = poll.as_secs_f64() / dump.as_secs_f64();
        println!(
            "{count} namespaces × {per} sockets (+ this machine's own: {in_dumps} sockets in all, \
             {in_poll} in the poll), {runs} rounds"
        );
        println!("  poll of every namespace (owners included)  {poll:>10.2?}");
        println!("  bare dumps of the same namespaces          {dump:>10.2?}");
        let verdict = if ratio <= TARGET { "PASS" } else { "FAIL" };
        println!("  poll / bare dumps = {ratio:.2} (target ≤ {TARGET}): {verdict}");
        if ratio <= TARGET {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }
}
