//! A host without portscope: its table read from `ss` over the same SSH connection.
//!
//! One command prints `ss -tanupeHO` (TCP and UDP, every state, numbers, processes, the
//! kernel's uid, inode and cookie, no header, one line per socket), then the ephemeral range,
//! the user table, the remote user's uid, the clock (ticks per second and boot time) and, for
//! each PID `ss` named, its executable, command line and `stat` (parent, start time), each
//! section after a marker line chosen at random for each run (a process name may hold a
//! newline and a line of its own choosing, never one it cannot guess).
//!
//! A command line may hold any bytes but NUL, an executable's path any but NUL and `/` in a
//! name, so the process details go hex-encoded (`od -An -tx1`, whose lines all start with a
//! space), each after a line naming the PID (`P 42`) or the field (`E`, `C`, `S`): nothing a
//! process chose can end or forge a field. Without root `readlink` fails for other users'
//! processes, whose executable then stays unknown; a command line is read up to 64 KiB.
//!
//! Everything in `ss`'s output is read as hostile: process names are printed raw inside
//! `users:(("name",pid=1,fd=3),…)` and may hold quotes, parentheses, commas and spaces, so a
//! name ends only where `",pid=N,fd=N)` is followed by the next entry or the list's end. A line
//! that does not parse is skipped and counted, never a panic. Without root, `ss -p` shows only
//! the SSH user's own processes: other users' sockets come without owners, and the host's
//! line says so (and that `sudo -n ss` can be allowed for the user).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::collect::Poll;
use crate::knowledge::{EphemeralRange, parse_port_range};
use crate::model::{Pids, ProcessInfo, Proto, SockState, Socket, Viewer};

/// The most of a command line read, in bytes.
pub const CMDLINE_KEPT: usize = 64 * 1024;

/// The command run on the host, its sections after `marker`. It runs under `sh` whatever the
/// user's login shell, on one line (csh takes no newline inside quotes).
pub fn command(marker: &str) -> String {
    let script = format!(
        "command -v ss >/dev/null 2>&1 || exit 127; out=$(ss -tanupeHO); \
         printf '%s\\n' \"$out\"; echo {marker}; \
         cat /proc/sys/net/ipv4/ip_local_port_range; echo {marker}; getent passwd; \
         echo {marker}; id -u; echo {marker}; getconf CLK_TCK; grep '^btime ' /proc/stat; \
         echo {marker}; \
         for p in $(printf '%s\\n' \"$out\" | grep -o 'pid=[0-9]*' | cut -c5- | sort -un); do \
         echo \"P $p\"; \
         echo E; readlink \"/proc/$p/exe\" 2>/dev/null | od -An -v -tx1; \
         echo C; od -An -v -tx1 -N {CMDLINE_KEPT} \"/proc/$p/cmdline\" 2>/dev/null; \
         echo S; od -An -v -tx1 -N 4096 \"/proc/$p/stat\" 2>/dev/null; \
         done"
    );
    format!("exec sh -c {}", shell_words::quote(&script))
}

/// A marker no process on the host can guess.
pub fn new_marker() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    let a = h.finish();
    h.write_u64(a);
    format!("--portscope-{a:016x}{:016x}--", h.finish())
}

/// What one run of [`command`] gave.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    pub poll: Poll,
    pub ephemeral: Option<EphemeralRange>,
    /// Lines of `ss` that did not parse.
    pub skipped: usize,
}

/// Read the output of [`command`]; `None` when its sections are not all there.
pub fn parse_output(text: &str, marker: &str) -> Option<Parsed> {
    let mut sections = text.split('\n').collect::<Vec<_>>();
    // The last five markers: what comes before the first of them is ss's.
    let marks: Vec<usize> = sections
        .iter()
        .enumerate()
        .filter(|(_, l)| l.trim_end() == marker)
        .map(|(i, _)| i)
        .collect();
    let [.., m1, m2, m3, m4, m5] = marks[..] else {
        return None;
    };
    let details = sections.split_off(m5);
    let clock = sections.split_off(m4);
    let id = sections.split_off(m3);
    let passwd = sections.split_off(m2);
    let range = sections.split_off(m1);
    let mut parsed = Parsed::default();
    for line in &sections {
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(line) {
            Some((socket, procs)) => {
                for (pid, name) in procs {
                    parsed.poll.processes.entry(pid).or_insert(ProcessInfo {
                        pid,
                        name,
                        exe: None,
                        cmdline: Vec::new(),
                        uid: socket.uid,
                        user: None,
                        parent_pid: None,
                        start_time: None,
                    });
                }
                parsed.poll.sockets.push(socket);
            }
            None => parsed.skipped += 1,
        }
    }
    parsed.ephemeral = range
        .get(1)
        .and_then(|l| parse_port_range(l).ok())
        .map(|(start, end)| EphemeralRange {
            start,
            end,
            reserved: Vec::new(),
            source: crate::knowledge::EphemeralSource::Live {
                path: crate::knowledge::LINUX_PORT_RANGE_PATH,
                reserved_error: Some("not read by the ss fallback".to_owned()),
                host: None,
            },
        });
    parsed.poll.users = passwd[1..].iter().filter_map(|l| passwd_line(l)).collect();
    let uid = id.get(1).and_then(|l| l.trim().parse::<u32>().ok());
    parsed.poll.viewer = Viewer {
        uid,
        privileged: uid == Some(0),
    };
    let boot = boot_clock(&clock[1..]);
    for (pid, d) in process_details(&details[1..]) {
        let Some(p) = parsed.poll.processes.get_mut(&pid) else {
            continue;
        };
        p.exe = d.exe;
        p.cmdline = d.cmdline;
        if let Some(stat) = d.stat.as_deref().and_then(stat_fields) {
            p.parent_pid = Some(stat.0).filter(|ppid| *ppid != 0);
            p.start_time = boot.and_then(|(ticks, btime)| btime.checked_add(stat.1 / ticks));
        }
    }
    for p in parsed.poll.processes.values_mut() {
        p.user = p.uid.and_then(|uid| parsed.poll.users.get(&uid).cloned());
    }
    Some(parsed)
}

/// One process's details as the host printed them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Details {
    pub exe: Option<String>,
    pub cmdline: Vec<String>,
    /// `/proc/PID/stat`, raw.
    pub stat: Option<Vec<u8>>,
}

/// The clock's lines: ticks per second and `btime N`, as (ticks, boot time in seconds since
/// the epoch).
fn boot_clock(lines: &[&str]) -> Option<(u64, u64)> {
    let ticks = lines
        .first()?
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|t| *t > 0)?;
    let btime = lines
        .iter()
        .find_map(|l| l.trim().strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    Some((ticks, btime))
}

/// The parent PID and start time (ticks since boot) of a `/proc/PID/stat`: read after its
/// last `)`, since the name before it may hold anything.
fn stat_fields(stat: &[u8]) -> Option<(u32, u64)> {
    let close = stat.iter().rposition(|b| *b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Field 3 (state) comes first: the parent is field 4, the start time field 22.
    Some((fields.get(1)?.parse().ok()?, fields.get(19)?.parse().ok()?))
}

/// The process section: `P pid`, then `E`, `C` and `S`, each followed by `od`'s hex lines
/// (which all start with a space). A process whose hex does not read is left out.
pub fn process_details(lines: &[&str]) -> Vec<(u32, Details)> {
    let mut out = Vec::new();
    let mut current: Option<(u32, [Vec<u8>; 3], bool)> = None;
    let mut field = None;
    let finish = |entry: Option<(u32, [Vec<u8>; 3], bool)>, out: &mut Vec<(u32, Details)>| {
        if let Some((pid, [exe, cmdline, stat], true)) = entry {
            out.push((pid, details(exe, cmdline, stat)));
        }
    };
    for line in lines {
        if let Some(pid) = line.strip_prefix("P ") {
            finish(current.take(), &mut out);
            current = pid
                .trim()
                .parse()
                .ok()
                .map(|pid| (pid, Default::default(), true));
            field = None;
            continue;
        }
        match *line {
            "E" => field = Some(0),
            "C" => field = Some(1),
            "S" => field = Some(2),
            hex if hex.starts_with(' ') => {
                if let (Some((_, fields, good)), Some(i)) = (current.as_mut(), field) {
                    match unhex(hex) {
                        Some(bytes) => fields[i].extend(bytes),
                        None => *good = false,
                    }
                }
            }
            "" => {}
            _ => {
                // Not this format: drop the process being read.
                if let Some((_, _, good)) = current.as_mut() {
                    *good = false;
                }
            }
        }
    }
    finish(current, &mut out);
    out
}

fn unhex(line: &str) -> Option<Vec<u8>> {
    line.split_whitespace()
        .map(|b| {
            (b.len() == 2)
                .then(|| u8::from_str_radix(b, 16).ok())
                .flatten()
        })
        .collect()
}

fn details(exe: Vec<u8>, cmdline: Vec<u8>, stat: Vec<u8>) -> Details {
    // readlink ends the path with one newline of its own.
    let exe = exe.strip_suffix(b"\n").unwrap_or(&exe);
    // Each argument ends with a NUL.
    let args = cmdline.strip_suffix(b"\0").unwrap_or(&cmdline);
    Details {
        exe: (!exe.is_empty()).then(|| String::from_utf8_lossy(exe).into_owned()),
        cmdline: if cmdline.is_empty() {
            Vec::new()
        } else {
            args.split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        },
        stat: (!stat.is_empty()).then_some(stat),
    }
}

/// `name:x:uid:…` as (uid, name).
fn passwd_line(line: &str) -> Option<(u32, String)> {
    let mut fields = line.split(':');
    let name = fields.next()?;
    let uid = fields.nth(1)?.parse().ok()?;
    (!name.is_empty()).then(|| (uid, name.to_owned()))
}

/// One line of `ss -tanupeHO`: the socket and the (pid, name) of its processes.
pub fn parse_line(line: &str) -> Option<(Socket, Vec<(u32, String)>)> {
    let mut rest = line.trim_start();
    let mut field = || -> Option<&str> {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (word, after) = rest.split_at(end);
        rest = after.trim_start();
        (!word.is_empty()).then_some(word)
    };
    let proto = match field()? {
        "tcp" => Proto::Tcp,
        "udp" => Proto::Udp,
        _ => return None,
    };
    let state = state(proto, field()?)?;
    let recv_q = field()?.parse().ok()?;
    let send_q = field()?.parse().ok()?;
    let (local_addr, local_port) = endpoint(field()?)?;
    let (remote_addr, remote_port) = endpoint(field()?)?;
    let connected = remote_port.is_some_and(|p| p != 0) || !remote_addr.is_unspecified();
    // The process list first (names may hold anything), then the words around it.
    let (before, procs, after) = match rest.find("users:((") {
        Some(at) => {
            let (procs, end) = users(&rest[at + "users:(".len()..])?;
            (&rest[..at], procs, &rest[at + "users:(".len() + end..])
        }
        None => (rest, Vec::new(), ""),
    };
    let mut uid = None;
    let mut inode = None;
    let mut cookie = 0;
    for word in before.split_whitespace().chain(after.split_whitespace()) {
        if let Some(n) = word.strip_prefix("uid:") {
            uid = n.parse().ok();
        } else if let Some(n) = word.strip_prefix("ino:") {
            inode = n.parse().ok();
        } else if let Some(n) = word.strip_prefix("sk:") {
            cookie = u64::from_str_radix(n, 16).unwrap_or(0);
        }
    }
    // ss leaves out a uid of 0 (root) for sockets that have a file.
    if uid.is_none() && inode.is_some_and(|i| i != 0) {
        uid = Some(0);
    }
    let mut pids: Vec<u32> = procs.iter().map(|(pid, _)| *pid).collect();
    pids.sort_unstable();
    pids.dedup();
    let socket = Socket {
        host: 0,
        proto,
        local_addr,
        local_port: local_port.unwrap_or(0),
        remote_addr: connected.then_some(remote_addr),
        remote_port: remote_port.filter(|_| connected),
        state,
        pids: Pids::from(pids),
        uid,
        inode,
        cookie,
        recv_q,
        send_q,
        netns: 0,
    };
    Some((socket, procs))
}

/// A state as `ss` names it.
fn state(proto: Proto, name: &str) -> Option<SockState> {
    Some(match name {
        "LISTEN" => SockState::Listen,
        "ESTAB" => SockState::Established,
        "SYN-SENT" => SockState::SynSent,
        "SYN-RECV" => SockState::SynReceived,
        "FIN-WAIT-1" => SockState::FinWait1,
        "FIN-WAIT-2" => SockState::FinWait2,
        "CLOSE-WAIT" => SockState::CloseWait,
        "CLOSING" => SockState::Closing,
        "LAST-ACK" => SockState::LastAck,
        "TIME-WAIT" => SockState::TimeWait,
        "UNCONN" if proto == Proto::Udp => SockState::Unconn,
        "UNCONN" => SockState::Bound,
        "CLOSED" => SockState::Closed,
        "UNKNOWN" => SockState::Unknown,
        _ => return None,
    })
}

/// `127.0.0.1:80`, `[::1]:22`, `*:*`, `0.0.0.0%lo:53`, `[fe80::1]%eth0:546`,
/// `[fe80::1%eth0]:546`: the address (unspecified for `*`) and port (`None` for `*`).
fn endpoint(text: &str) -> Option<(IpAddr, Option<u16>)> {
    let (host, port) = text.rsplit_once(':')?;
    let port = match port {
        "*" => None,
        p => Some(p.parse().ok()?),
    };
    let host = host.split('%').next()?;
    let addr = match host {
        "*" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        h if h.starts_with('[') => {
            let inner = h.strip_prefix('[')?;
            let inner = inner.strip_suffix(']').unwrap_or(inner);
            IpAddr::V6(inner.parse::<Ipv6Addr>().ok()?)
        }
        h => IpAddr::V4(h.parse().ok()?),
    };
    Some((addr, port))
}

/// The entries of `(("name",pid=1,fd=3),("x",pid=2,fd=4))` (given from its second `(`):
/// each (pid, name), and where the list ends in `text`.
fn users(text: &str) -> Option<(Vec<(u32, String)>, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let entry = text.get(at..)?.strip_prefix("(\"")?;
        at += 2;
        // The name ends at the first `",pid=N,fd=N)` followed by `,(` or `)`.
        let mut search = 0;
        let (name_len, pid, tail) = loop {
            let found = search + entry.get(search..)?.find("\",pid=")?;
            if let Some((pid, tail)) = pid_fd(&entry[found + 6..])
                && (entry[found + 6 + tail..].starts_with(",(\"")
                    || entry[found + 6 + tail..].starts_with(')'))
            {
                break (found, pid, found + 6 + tail);
            }
            search = found + 1;
        };
        out.push((pid, entry[..name_len].to_owned()));
        at += tail;
        match text.as_bytes().get(at)? {
            b',' => at += 1,
            b')' => return Some((out, at + 1)),
            _ => return None,
        }
    }
}

/// `N,fd=N)`: the pid and the length read.
fn pid_fd(text: &str) -> Option<(u32, usize)> {
    let digits = |t: &str| t.bytes().take_while(u8::is_ascii_digit).count();
    let n = digits(text);
    let pid = text.get(..n)?.parse().ok()?;
    let rest = text.get(n..)?.strip_prefix(",fd=")?;
    let m = digits(rest);
    if m == 0 || !rest.get(m..)?.starts_with(')') {
        return None;
    }
    Some((pid, n + 4 + m + 1))
}

/// What the host's line says in this mode: that it is read with `ss`, and, when the SSH
/// user is not root, which owners `ss` could not show.
pub fn mode_note(viewer: &Viewer) -> String {
    let mut note = "portscope is not installed there: read with ss".to_owned();
    if !viewer.privileged {
        note.push_str(
            ", which shows only the SSH user's own processes without root (install \
             portscope there, or allow `sudo -n ss` for the user)",
        );
    }
    note
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lines_of_every_kind_parse() {
        let (s, procs) = parse_line(
            "tcp LISTEN 0      128    127.0.0.1:44505   0.0.0.0:*     \
             users:((\"python3\",pid=19856,fd=3)) ino:1900213 sk:7fa08 cgroup:/ <->",
        )
        .unwrap();
        assert_eq!(s.state, SockState::Listen);
        assert_eq!(
            (s.local_port, s.remote_addr, s.remote_port),
            (44505, None, None)
        );
        assert_eq!(
            (s.inode, s.cookie, s.uid),
            (Some(1900213), 0x7fa08, Some(0))
        );
        assert_eq!(procs, [(19856, "python3".to_owned())]);
        let (s, _) = parse_line(
            "udp UNCONN 0 0 [::1]:33513 [::]:* users:((\"a b\",pid=1,fd=6),(\"x\",pid=2,fd=4)) \
             uid:1000 ino:5 sk:1 v6only:1 <->",
        )
        .unwrap();
        assert_eq!(s.state, SockState::Unconn);
        assert_eq!(s.local_addr, "::1".parse::<IpAddr>().unwrap());
        assert_eq!(s.pids.as_slice(), [1, 2]);
        assert_eq!(s.uid, Some(1000));
        let (s, procs) = parse_line("tcp TIME-WAIT 0 0 [::ffff:127.0.0.1]:80 [::ffff:127.0.0.1]:5000 timer:(timewait,59sec,0) ino:0 sk:9 <->").unwrap();
        assert_eq!(s.state, SockState::TimeWait);
        assert_eq!(s.remote_port, Some(5000));
        assert!(procs.is_empty() && s.uid.is_none());
        let (s, _) = parse_line("tcp UNCONN 0 0 *:8080 *:* ino:7 sk:3 <->").unwrap();
        assert_eq!(s.state, SockState::Bound);
        assert!(s.local_addr.is_unspecified());
        let (s, _) = parse_line("udp UNCONN 0 0 [fe80::1]%eth0:546 [::]:* ino:1 sk:2 <->").unwrap();
        assert_eq!(s.local_addr, "fe80::1".parse::<IpAddr>().unwrap());
        let (s, _) = parse_line("udp UNCONN 0 0 0.0.0.0%lo:53 0.0.0.0:* ino:1 sk:2").unwrap();
        assert_eq!((s.local_port, s.local_addr.is_unspecified()), (53, true));
        for state in [
            "SYN-SENT",
            "SYN-RECV",
            "FIN-WAIT-1",
            "FIN-WAIT-2",
            "CLOSE-WAIT",
            "CLOSING",
            "LAST-ACK",
        ] {
            let line = format!("tcp {state} 0 0 127.0.0.1:1 127.0.0.1:2 ino:0 sk:1");
            assert_ne!(
                parse_line(&line).unwrap().0.state,
                SockState::Unknown,
                "{state}"
            );
        }
        for garbage in [
            "",
            "tcp",
            "sctp LISTEN 0 0 a:1 b:2",
            "tcp ESTAB x 0 1.2.3.4:1 1.2.3.4:2",
            "tcp WEIRD 0 0 1.2.3.4:1 *:*",
        ] {
            assert!(parse_line(garbage).is_none(), "{garbage}");
        }
    }

    #[test]
    fn names_with_quotes_parentheses_and_fake_fields_stay_names() {
        let line = r#"tcp ESTAB 0 0 127.0.0.1:1 127.0.0.1:2 users:(("a\"),(\"b",pid=9,fd=1) uid:0",pid=7,fd=3),("x) y",pid=8,fd=4)) uid:1000 ino:5 sk:a"#;
        let (s, procs) = parse_line(line).unwrap();
        assert_eq!(
            procs,
            [
                (7, r#"a\"),(\"b",pid=9,fd=1) uid:0"#.to_owned()),
                (8, "x) y".to_owned())
            ]
        );
        assert_eq!(s.uid, Some(1000));
        assert_eq!(s.pids.as_slice(), [7, 8]);
    }

    #[test]
    fn the_sections_follow_the_last_markers() {
        let m = "--m--";
        let text = format!(
            "tcp LISTEN 0 1 127.0.0.1:22 0.0.0.0:* users:((\"sshd\",pid=5,fd=3)) uid:1000 ino:1 sk:1\nnot a line\n{m}\n32768\t60999\n{m}\nroot:x:0:0::/:/bin/sh\nalice:x:1000:1000::/:/bin/sh\nbad\n{m}\n1000\n{m}\n100\nbtime 1700000000\n{m}\n"
        );
        let parsed = parse_output(&text, m).unwrap();
        assert_eq!(parsed.poll.sockets.len(), 1);
        assert_eq!(parsed.skipped, 1);
        assert_eq!(
            parsed.ephemeral.as_ref().map(|r| (r.start, r.end)),
            Some((32768, 60999))
        );
        assert_eq!(
            parsed.poll.users.get(&1000).map(String::as_str),
            Some("alice")
        );
        assert_eq!(parsed.poll.processes[&5].user.as_deref(), Some("alice"));
        assert!(!parsed.poll.viewer.privileged);
        assert!(mode_note(&parsed.poll.viewer).contains("sudo -n"));
        assert!(
            !mode_note(&Viewer {
                uid: Some(0),
                privileged: true
            })
            .contains("sudo")
        );
        assert!(parse_output("only ss\n", m).is_none());
    }

    proptest! {
        /// Any name ss may print (comm: up to 15 bytes of anything but NUL) comes back as it
        /// was, with its pid, whatever comes around it.
        #[test]
        fn any_process_names_parse_back(
            names in prop::collection::vec("[^\u{0}\n]{0,15}", 1..4),
            pids in prop::collection::vec(1u32..4_000_000, 4),
        ) {
            let entries: Vec<String> = names
                .iter()
                .zip(&pids)
                .map(|(n, p)| format!("(\"{n}\",pid={p},fd=3)"))
                .collect();
            let line = format!(
                "tcp ESTAB 0 0 [::1]:22 [::1]:40000 users:({}) uid:1000 ino:77 sk:ff",
                entries.join(",")
            );
            let (socket, procs) = parse_line(&line).expect("a line ss may print");
            let want: Vec<(u32, String)> =
                pids.iter().copied().zip(names.iter().cloned()).collect();
            // A name may itself look like the end of an entry: then the parse is ambiguous,
            // and only the first entry's pid is certain.
            let forged = names.iter().any(|n| n.contains("\",pid="));
            if !forged {
                prop_assert_eq!(&procs, &want);
                prop_assert_eq!(socket.uid, Some(1000));
                prop_assert_eq!(socket.inode, Some(77));
                prop_assert_eq!(socket.cookie, 0xff);
            }
        }
    }
}

#[cfg(test)]
mod details_tests {
    use super::*;

    /// What `od -An -v -tx1` prints for `bytes`: 16 a line, each line starting with a space.
    fn od(bytes: &[u8]) -> String {
        bytes
            .chunks(16)
            .map(|c| {
                let hex: Vec<String> = c.iter().map(|b| format!("{b:02x}")).collect();
                format!(" {}\n", hex.join(" "))
            })
            .collect()
    }

    fn section(pid: u32, exe: &[u8], cmdline: &[u8], stat: &[u8]) -> String {
        format!("P {pid}\nE\n{}C\n{}S\n{}", od(exe), od(cmdline), od(stat))
    }

    fn parse(text: &str) -> Vec<(u32, Details)> {
        let lines: Vec<&str> = text.split('\n').collect();
        process_details(&lines)
    }

    #[test]
    fn hostile_command_lines_come_back_byte_for_byte() {
        let long = "x".repeat(200_000);
        let cases: Vec<(&[u8], Vec<&str>)> = vec![
            (b"python3\0-c\0a b\0", vec!["python3", "-c", "a b"]),
            (
                b"sh\0it's \"quoted\"\0new\nline\0\0",
                vec!["sh", "it's \"quoted\"", "new\nline", ""],
            ),
            // A line of its own that looks like the format's markers.
            (b"x\0\nP 1\nE\n 41\n\0", vec!["x", "\nP 1\nE\n 41\n"]),
            // Rewritten without NULs (setproctitle): one argument.
            (b"nginx: worker process", vec!["nginx: worker process"]),
            (long.as_bytes(), vec![long.as_str()]),
        ];
        let text: String = cases
            .iter()
            .enumerate()
            .map(|(i, (cmdline, _))| section(i as u32 + 10, b"/usr/bin/x\n", cmdline, b""))
            .collect();
        let got = parse(&text);
        assert_eq!(got.len(), cases.len());
        for ((pid, d), (i, (_, want))) in got.iter().zip(cases.iter().enumerate()) {
            assert_eq!(*pid, i as u32 + 10);
            assert_eq!(d.cmdline, *want);
            assert_eq!(d.exe.as_deref(), Some("/usr/bin/x"));
        }
        // Not UTF-8: replaced, never a failure; an executable path with a newline in it.
        let got = parse(&section(7, b"/tmp/a\nb\xff\n", b"\xff\xfeok\0", b""));
        assert_eq!(got[0].1.cmdline, ["\u{fffd}\u{fffd}ok"]);
        assert_eq!(got[0].1.exe.as_deref(), Some("/tmp/a\nb\u{fffd}"));
        // No executable readable (another user's process), no command line (a kernel thread).
        let got = parse(&section(8, b"", b"", b""));
        assert_eq!(got[0].1, Details::default());
    }

    #[test]
    fn bad_hex_drops_that_process_only() {
        let text = format!(
            "{}P 2\nE\n zz\nC\n 61 00\nS\n{}",
            section(1, b"/a\n", b"a\0", b""),
            section(3, b"/c\n", b"c\0", b"")
        );
        let pids: Vec<u32> = parse(&text).iter().map(|(p, _)| *p).collect();
        assert_eq!(pids, [1, 3]);
        assert!(parse("P x\nE\n 41\n").is_empty());
        assert!(parse("garbage\n 41\n").is_empty());
    }

    #[test]
    fn parent_and_start_time_come_from_after_the_last_parenthesis() {
        let stat = b"4242 (a) b) 1 2 (c) S 17 4242 4242 0 -1 4194560 1 0 0 0 3 1 0 0 20 0 1 0 250000 1 2 3\n";
        assert_eq!(stat_fields(stat), Some((17, 250_000)));
        assert_eq!(stat_fields(b"garbage"), None);
        assert_eq!(
            boot_clock(&["100", "btime 1700000000"]),
            Some((100, 1_700_000_000))
        );
        assert_eq!(boot_clock(&["0", "btime 1"]), None);
        let m = "--m--";
        let text = format!(
            "tcp LISTEN 0 1 127.0.0.1:22 0.0.0.0:* users:((\"sshd\",pid=4242,fd=3)) uid:1000 ino:1 sk:1\n\
             {m}\n32768 60999\n{m}\nalice:x:1000:1000::/:/bin/sh\n{m}\n1000\n{m}\n100\nbtime 1700000000\n{m}\n{}{}",
            section(4242, b"/usr/sbin/sshd\n", b"sshd: alice\0", stat),
            // A PID ss did not name: not a process of the table.
            section(9, b"/bin/x\n", b"x\0", stat),
        );
        let parsed = parse_output(&text, m).unwrap();
        let p = &parsed.poll.processes[&4242];
        assert_eq!(p.exe.as_deref(), Some("/usr/sbin/sshd"));
        assert_eq!(p.cmdline, ["sshd: alice"]);
        assert_eq!(p.parent_pid, Some(17));
        assert_eq!(p.start_time, Some(1_700_000_000 + 2_500));
        assert_eq!(p.name, "sshd");
        assert!(!parsed.poll.processes.contains_key(&9));
    }

    /// The real command, run by `sh` here: this test's own process, which holds a listener,
    /// comes back with its executable and command line as `/proc` has them.
    #[test]
    fn the_command_reads_this_machine() {
        let _listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let marker = new_marker();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(command(&marker))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let parsed = parse_output(&text, &marker).expect("every section");
        let me = &parsed.poll.processes[&std::process::id()];
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        assert_eq!(me.exe.as_deref(), exe.to_str());
        assert_eq!(me.cmdline, std::env::args().collect::<Vec<_>>());
        assert_eq!(me.parent_pid, Some(std::os::unix::process::parent_id()));
        assert_eq!(
            me.start_time,
            crate::act::signal::start_time_of(std::process::id())
        );
        assert!(parsed.ephemeral.is_some());
    }
}
