//! `portscope watch`: every connection that opens or closes, one line each, until interrupted.
//!
//! Opens come from comparing each poll with the one before (`--interval`); closes come from
//! the kernel's announcements of destroyed sockets (Linux), so a connection that lived a
//! millisecond between two polls is still reported, with its final byte counts — what
//! `tcplife` does with BPF, here without privileges. Where the system makes no such
//! announcements (macOS, Windows), closes come from the polls too, and what lived less than
//! a poll is not seen.
//!
//! Rules that keep the stream honest:
//! - the sockets open when `watch` starts are not reported: they opened before it;
//! - TIME_WAIT entries are left out: they are the kernel's aftermath of a connection whose
//!   close was already reported;
//! - a socket missing from a poll is reported closed only if no announcement came for it by
//!   the next poll (the kernel sends announcements a moment after the socket goes), and a
//!   socket announced closed is never reported opened by a poll that caught it alive;
//! - when the kernel dropped announcements (a flood of closes), a line says so.
//!
//! With `--json` each line is the socket's `list --json` record (same fields) plus `event`
//! (`open`, `close` or `lost`), `time` (RFC 3339), `lifetime_ms` (from the poll that first saw
//! it; `null` when none did) and `seen_by_poll`.

use std::collections::HashMap;
use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use clap::Args;
use serde::Serialize;

use crate::collect::{OsSource, SocketSource, snapshot_once};
use crate::model::ended::{Ended, accepting_listener};
use crate::model::export::SocketRecord;
use crate::model::text::escape;
use crate::model::{Owner, Query, Snapshot, SockState, Socket, SocketKey, units};

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Print one JSON object per line (NDJSON): the socket's `list --json` record plus
    /// `event`, `time`, `lifetime_ms` and `seen_by_poll`.
    #[arg(long)]
    pub json: bool,
    /// Seconds between polls, which find the connections that opened.
    #[arg(long, value_name = "SECONDS", default_value = "1", value_parser = interval_arg)]
    pub interval: Duration,
    /// The kernel-side buffer for close announcements, in bytes (for tests of a flood).
    #[arg(long, value_name = "BYTES", hide = true)]
    pub event_buffer: Option<usize>,
    /// Connections of every network namespace (containers, 'ip netns'), not only portscope's
    /// own: all of them as root, the namespaces of your own processes otherwise.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Only connections that match this filter, in the window's filter language
    /// (e.g. 'port:443 proc:curl').
    #[arg(value_name = "FILTER")]
    pub filter: Vec<String>,
}

pub(super) fn interval_arg(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number of seconds"))?;
    if !(0.05..=3600.0).contains(&secs) {
        return Err("the interval is between 0.05 and 3600 seconds".to_owned());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// What happened to a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Open,
    Close,
    /// The kernel dropped announcements of closes.
    Lost,
}

/// One line of the stream.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    pub event: EventKind,
    #[serde(serialize_with = "rfc3339")]
    pub time: SystemTime,
    pub lifetime_ms: Option<f64>,
    pub seen_by_poll: bool,
    #[serde(flatten)]
    pub record: Option<SocketRecord>,
    /// For `lost`: how many times announcements were dropped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overflows: Option<u64>,
}

fn rfc3339<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&time_text(*t))
}

fn time_text(t: SystemTime) -> String {
    jiff::Timestamp::try_from(t).map_or_else(|_| "?".to_owned(), |ts| format!("{ts:.3}"))
}

/// A socket the stream has seen, by key.
struct Known {
    /// When a poll first saw it; `None` for the sockets open when `watch` started.
    first_seen: Option<SystemTime>,
    /// The poll it was missing from, waiting one more poll for an announcement.
    missing_since: Option<SystemTime>,
}

/// The stream's memory: which sockets are open, from polls and announcements. Pure: fed
/// snapshots and announcements, it returns the lines to print.
pub struct Watcher {
    filter: Query,
    known: HashMap<SocketKey, Known>,
    /// The last poll, for owners and for the sockets that went missing from the current one.
    last: Option<Arc<Snapshot>>,
    /// Sockets announced closed, with when: a poll that still lists one does not reopen it.
    ended: HashMap<SocketKey, SystemTime>,
}

impl Watcher {
    pub fn new(filter: Query) -> Self {
        Watcher {
            filter,
            known: HashMap::new(),
            last: None,
            ended: HashMap::new(),
        }
    }

    /// Take in a poll: the sockets it shows for the first time are opens; those missing from
    /// it for the second poll in a row, with no announcement, are closes.
    pub fn poll(&mut self, snap: Snapshot) -> Vec<Event> {
        let snap = Arc::new(snap);
        let first = self.last.is_none();
        let now = snap.taken_at;
        let mut events = Vec::new();
        let mut present = HashMap::with_capacity(snap.sockets.len());
        for socket in snap.sockets.iter().filter(|s| watched(s)) {
            let key = socket.key();
            present.insert(key, ());
            if self.ended.contains_key(&key) {
                continue;
            }
            match self.known.get_mut(&key) {
                Some(known) => known.missing_since = None,
                None => {
                    self.known.insert(
                        key,
                        Known {
                            first_seen: (!first).then_some(now),
                            missing_since: None,
                        },
                    );
                    if !first && self.filter.matches(&snap, socket) {
                        events.push(Event {
                            event: EventKind::Open,
                            time: now,
                            lifetime_ms: None,
                            seen_by_poll: true,
                            record: Some(SocketRecord::new(&snap, socket)),
                            overflows: None,
                        });
                    }
                }
            }
        }
        // Missing: give the announcement one more poll; then the poll says it closed.
        let previous = self.last.clone();
        let mut closed = Vec::new();
        for (key, known) in &mut self.known {
            if present.contains_key(key) {
                continue;
            }
            match known.missing_since {
                None => known.missing_since = Some(now),
                Some(_) => closed.push(*key),
            }
        }
        for key in closed {
            let Some(known) = self.known.remove(&key) else {
                continue;
            };
            let Some(prev) = previous.as_deref() else {
                continue;
            };
            if let Some(socket) = prev.sockets.iter().find(|s| s.key() == key)
                && self.filter.matches(prev, socket)
            {
                let gone = known.missing_since.unwrap_or(now);
                events.push(Event {
                    event: EventKind::Close,
                    time: gone,
                    lifetime_ms: lifetime(known.first_seen, gone),
                    seen_by_poll: true,
                    record: Some(SocketRecord::new(prev, socket)),
                    overflows: None,
                });
            }
        }
        // Announcements older than two polls can no longer meet a poll that saw the socket.
        let horizon = now.checked_sub(Duration::from_secs(10)).unwrap_or(now);
        self.ended.retain(|_, at| *at >= horizon);
        // Keep the previous poll until the missing sockets are settled.
        if self.known.values().any(|k| k.missing_since.is_some()) {
            self.last = Some(merge_missing(&snap, previous.as_deref(), &self.known));
        } else {
            self.last = Some(snap);
        }
        events
    }

    /// Take in the kernel's announcement that a socket was destroyed.
    pub fn ended(&mut self, ended: &Ended) -> Option<Event> {
        let key = ended.socket.key();
        self.ended.insert(key, ended.at);
        let known = self.known.remove(&key);
        let last = self.last.as_deref()?;
        if ended.socket.state == SockState::TimeWait {
            return None;
        }
        let seen = last.sockets.iter().find(|s| s.key() == key);
        let (socket, note) = match seen {
            // As the poll saw it: its owners and last state.
            Some(s) => (s.clone(), None),
            None => {
                let mut s = ended.socket.clone();
                let listener = accepting_listener(last, &s);
                if let Some(l) = listener {
                    s.pids = l.pids.clone();
                }
                let note = match listener {
                    Some(l) => format!(
                        "lived less than one poll; accepted by the listener on port {} ({})",
                        l.local_port,
                        owner_words(last, l)
                    ),
                    None => "lived less than one poll: no poll saw its process".to_owned(),
                };
                (s, Some(note))
            }
        };
        if !self.filter.matches(last, &socket) {
            return None;
        }
        let mut record = SocketRecord::new(last, &socket);
        if let Some(note) = note {
            record.owner_note = Some(note);
        }
        record.state = SockState::Closed;
        if let Some(stats) = ended.stats {
            record.bytes_sent = stats.sent();
            record.bytes_received = stats.bytes_received;
            record.rtt_ms = Some(f64::from(stats.rtt_us) / 1000.0);
            record.retrans = Some(stats.retrans);
        }
        record.recv_q = None;
        record.send_q = None;
        Some(Event {
            event: EventKind::Close,
            time: ended.at,
            lifetime_ms: known.and_then(|k| lifetime(k.first_seen, ended.at)),
            seen_by_poll: seen.is_some(),
            record: Some(record),
            overflows: None,
        })
    }
}

/// Sockets `watch` reports: all but the kernel's TIME_WAIT entries.
fn watched(socket: &Socket) -> bool {
    socket.state != SockState::TimeWait
}

fn lifetime(first_seen: Option<SystemTime>, gone: SystemTime) -> Option<f64> {
    let d = gone.duration_since(first_seen?).ok()?;
    Some((d.as_secs_f64() * 1_000_000.0).round() / 1000.0)
}

/// The new poll, plus the sockets still waiting for their announcement as the previous poll
/// had them, so that a close reported next time still has its owners.
fn merge_missing(
    snap: &Arc<Snapshot>,
    previous: Option<&Snapshot>,
    known: &HashMap<SocketKey, Known>,
) -> Arc<Snapshot> {
    let Some(previous) = previous else {
        return Arc::clone(snap);
    };
    let mut merged = Snapshot::clone(snap);
    for socket in &previous.sockets {
        if known
            .get(&socket.key())
            .is_some_and(|k| k.missing_since.is_some())
        {
            merged.sockets.push(socket.clone());
            for pid in socket.pids.iter() {
                if let Some(p) = previous.processes.get(pid) {
                    merged.processes.entry(*pid).or_insert_with(|| p.clone());
                }
            }
        }
    }
    Arc::new(merged)
}

fn owner_words(snap: &Snapshot, socket: &Socket) -> String {
    match snap.owner(socket) {
        Owner::Processes(list) => list
            .iter()
            .map(|(pid, info)| match info {
                Some(p) => format!("PID {pid} {}", p.name),
                None => format!("PID {pid}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Owner::None(reason) => reason.explain(),
    }
}

/// One event as a line of text for a terminal (hostile text escaped).
pub fn text_line(e: &Event) -> String {
    let clock = jiff::Timestamp::try_from(e.time)
        .ok()
        .map(|ts| {
            ts.to_zoned(jiff::tz::TimeZone::system())
                .strftime("%H:%M:%S%.3f")
                .to_string()
        })
        .unwrap_or_default();
    let Some(r) = &e.record else {
        return format!(
            "{clock} lost  the kernel dropped close announcements ({} times); closes are \
             missing from this stream",
            e.overflows.unwrap_or(0)
        );
    };
    let end = |addr: Option<std::net::IpAddr>, port: Option<u16>| match addr {
        Some(a) => crate::model::endpoint(a, port),
        None => "*".to_owned(),
    };
    let mut line = format!(
        "{clock} {:<5} {} {} → {}",
        match e.event {
            EventKind::Open => "open",
            _ => "close",
        },
        r.proto.as_str().to_uppercase(),
        end(Some(r.local_addr), Some(r.local_port)),
        end(r.remote_addr, r.remote_port),
    );
    if e.event == EventKind::Open {
        line.push_str(&format!("  {}", r.state.as_str()));
    }
    if e.event == EventKind::Close {
        match e.lifetime_ms {
            Some(ms) => line.push_str(&format!("  lived {}", units::duration_ms(ms))),
            None if !e.seen_by_poll => line.push_str("  lived < 1 poll"),
            None => {}
        }
        if let (Some(sent), Some(received)) = (r.bytes_sent, r.bytes_received) {
            line.push_str(&format!(
                "  sent {} received {}",
                units::bytes(sent),
                units::bytes(received)
            ));
        }
    }
    let owners: Vec<String> = r
        .processes
        .iter()
        .map(|p| match &p.name {
            Some(name) => format!("{} (PID {})", escape(name), p.pid),
            None => format!("PID {}", p.pid),
        })
        .collect();
    if !owners.is_empty() {
        line.push_str(&format!("  {}", owners.join(", ")));
    } else if let Some(note) = &r.owner_note {
        line.push_str(&format!("  ({})", escape(note)));
    }
    line
}

/// Run `watch` on this machine until Ctrl+C or a closed pipe.
pub fn run(args: &WatchArgs) -> ExitCode {
    let filter = match Query::parse(&args.filter.join(" ")) {
        Ok(q) => q,
        Err(e) => {
            eprintln!("portscope: {e}");
            return ExitCode::from(2);
        }
    };
    let source = if args.all_namespaces {
        OsSource::all_namespaces()
    } else {
        OsSource::new()
    };
    let mut source = match source {
        Ok(s) => s,
        Err(e) => {
            eprintln!("portscope: {e}");
            return ExitCode::from(2);
        }
    };
    let (wake, woken) = mpsc::channel::<()>();
    let stop = super::stop_on_ctrl_c(wake.clone());
    // The other namespaces' closes, each as the polls enter it.
    let others = std::sync::Mutex::new(wake.clone());
    source.watch_other_namespaces(std::sync::Arc::new(move || {
        let _ = others
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .send(());
    }));
    let feed = Feed::start(args.event_buffer, wake);
    if let Some(why) = &feed.unavailable {
        eprintln!(
            "portscope: {why}: closes come from the polls, and what lives less than a poll is not seen"
        );
    }
    let stdout = io::stdout();
    let mut out = io::LineWriter::new(stdout.lock());
    let mut watcher = Watcher::new(filter);
    let mut next_poll = Instant::now();
    let result = (|| -> io::Result<ExitCode> {
        while !stop.load(Ordering::Relaxed) {
            let mut batch = feed.drain();
            let others = source.drain_other_namespaces();
            batch.overflows += others.overflows;
            batch.ended.extend(others.ended);
            if batch.overflows > 0 {
                write_event(
                    &mut out,
                    args.json,
                    &Event {
                        event: EventKind::Lost,
                        time: SystemTime::now(),
                        lifetime_ms: None,
                        seen_by_poll: false,
                        record: None,
                        overflows: Some(batch.overflows),
                    },
                )?;
            }
            for ended in &batch.ended {
                if let Some(event) = watcher.ended(ended) {
                    write_event(&mut out, args.json, &event)?;
                }
            }
            if Instant::now() >= next_poll {
                next_poll = Instant::now() + args.interval;
                match snapshot_once(&mut source as &mut dyn SocketSource) {
                    Ok(snap) => {
                        // Announcements that arrived while the poll ran go first.
                        let others = source.drain_other_namespaces().ended;
                        for ended in feed.drain().ended.into_iter().chain(others) {
                            if let Some(event) = watcher.ended(&ended) {
                                write_event(&mut out, args.json, &event)?;
                            }
                        }
                        for event in watcher.poll(snap) {
                            write_event(&mut out, args.json, &event)?;
                        }
                    }
                    Err(e) => {
                        eprintln!("portscope: {e}");
                        return Ok(ExitCode::from(2));
                    }
                }
            }
            let wait = next_poll.saturating_duration_since(Instant::now());
            let _ = woken.recv_timeout(wait.min(Duration::from_millis(250)));
        }
        Ok(ExitCode::SUCCESS)
    })();
    match result {
        Ok(code) => code,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portscope: cannot write output: {e}");
            ExitCode::from(2)
        }
    }
}

fn write_event(out: &mut dyn Write, json: bool, event: &Event) -> io::Result<()> {
    if json {
        serde_json::to_writer(&mut *out, event).map_err(io::Error::other)?;
        out.write_all(b"\n")
    } else {
        writeln!(out, "{}", text_line(event))
    }
}

/// The kernel's announcements where the system has them.
struct Feed {
    #[cfg(target_os = "linux")]
    feed: Option<crate::collect::DestroyFeed>,
    unavailable: Option<String>,
}

impl Feed {
    #[cfg(target_os = "linux")]
    fn start(buffer: Option<usize>, wake: mpsc::Sender<()>) -> Self {
        let buffer = buffer.unwrap_or(crate::collect::DESTROY_FEED_BUFFER);
        match crate::collect::DestroyFeed::start(buffer, move || {
            let _ = wake.send(());
        }) {
            Ok(feed) => Feed {
                feed: Some(feed),
                unavailable: None,
            },
            Err(e) => Feed {
                feed: None,
                unavailable: Some(format!("cannot listen for closed sockets ({e})")),
            },
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn start(_buffer: Option<usize>, _wake: mpsc::Sender<()>) -> Self {
        Feed {
            unavailable: Some("this system does not announce closed sockets".to_owned()),
        }
    }

    fn drain(&self) -> crate::model::ended::EndedBatch {
        #[cfg(target_os = "linux")]
        if let Some(feed) = &self.feed {
            return feed.drain();
        }
        crate::model::ended::EndedBatch::default()
    }
}
