//! The filter language of the socket table: free words plus `key:value` terms.
//!
//! Plain words work as in any search box — every word must appear somewhere in the row —
//! because that is what people type first and it needs no help. But a word cannot say *which* column it
//! means: `80` also finds PID 1808 and address 10.80.0.1, and no word can say "not TIME_WAIT"
//! or "any port from 8000 to 8999". Terms such as `port:80`, `state:listen` or
//! `-state:time_wait` say exactly that, in the same box.
//!
//! The text is parsed once, when it changes; [`Query::matches`] then runs for every row of
//! tables that can hold 100,000 sockets. So parsing does all the work that can be done once
//! (numbers, addresses, states, lower-casing), terms are checked cheapest first, and only free
//! words build a per-row string — after every other term has already passed.
//!
//! A mistake is reported as a [`QueryError`] with the byte span of the offending term, a
//! message and a hint, for showing right under the filter box.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::Range;
use std::str::FromStr;

use crate::knowledge::IanaRange;

use super::{BindScope, ProcessInfo, Proto, Snapshot, SockState, Socket};

/// A one-paragraph summary of the language, for a tooltip.
pub const SYNTAX: &str = "Every word must appear somewhere in the row (case does not matter). \
    key:value looks in one column: port lport rport · ip laddr raddr · proto state range scope · \
    pid proc cmd user. Commas list alternatives (port:80,443), a dash gives a port range \
    (port:8000-8999), a leading - excludes (-state:time_wait), \"quotes\" keep spaces \
    (proc:\"my server\"). All terms must hold.";

/// Examples for the help popup: what to type, and what it shows.
pub const HELP: &[(&str, &str)] = &[
    (
        "nginx 443",
        "rows that contain both words, in any column (command line included)",
    ),
    (
        "\"my server\"",
        "rows that contain the text, space included",
    ),
    ("-chrome", "rows that do not contain the word"),
    (
        "--config",
        "text that starts with -- is looked for as it is (command-line options)",
    ),
    ("port:443", "local or remote port 443"),
    ("lport:80,443", "local port 80 or 443"),
    ("rport:8000-8999", "remote port from 8000 to 8999"),
    (
        "lport:50000-",
        "local port 50000 or above (lport:-1023: up to 1023)",
    ),
    (
        "ip:127.0.0.1",
        "local or remote address 127.0.0.1 (addr: is the same)",
    ),
    ("raddr:10.0.0.0/8", "remote address inside 10.0.0.0/8"),
    ("laddr:[::1]", "local address ::1 (brackets optional)"),
    ("ip:fe80::/10", "either address is IPv6 link-local"),
    ("proto:udp", "UDP sockets"),
    (
        "proto:tcp6",
        "TCP sockets on an IPv6 address (tcp4, udp4, udp6 alike)",
    ),
    ("state:listen", "listening TCP sockets"),
    ("state:established,syn_sent", "connected or connecting"),
    (
        "-state:time_wait",
        "hide TIME_WAIT rows (time-wait, timewait work too)",
    ),
    ("state:unconn", "UDP sockets without a fixed peer"),
    ("proc:nginx", "a process whose name contains nginx"),
    (
        "proc:\"my server\"",
        "a process whose name contains my server",
    ),
    (
        "cmd:--config",
        "a process whose command line contains --config",
    ),
    ("pid:1234,5678", "held by process 1234 or 5678"),
    ("user:alice", "belongs to user alice"),
    ("user:0", "belongs to uid 0"),
    ("range:well-known", "local port 0–1023 (also: system)"),
    ("range:registered", "local port 1024–49151 (also: user)"),
    ("range:dynamic", "local port 49152–65535 (also: private)"),
    (
        "range:ephemeral",
        "local port inside this machine's ephemeral range",
    ),
    ("scope:all", "bound to every interface (0.0.0.0 or ::)"),
    ("scope:local", "bound to loopback: this machine only"),
    ("scope:iface", "bound to the address of one interface"),
    (
        "state:listen scope:all -user:root",
        "terms combine: every one must hold",
    ),
];

/// Parses the text of the filter box.
pub fn parse(text: &str) -> Result<Query, QueryError> {
    Query::parse(text)
}

/// A parsed filter: rows must pass every term.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// Cheapest first; free text last.
    terms: Vec<Term>,
}

/// Why the text of the filter box is not a valid query.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}{}", with_dash(.hint))]
pub struct QueryError {
    /// Byte range of the offending term in the text.
    pub span: Range<usize>,
    /// What is wrong, e.g. "unknown state 'listn'".
    pub message: String,
    /// How to put it right, e.g. "did you mean 'listen'?".
    pub hint: Option<String>,
}

fn with_dash(hint: &Option<String>) -> String {
    hint.as_ref()
        .map_or_else(String::new, |h| format!(" — {h}"))
}

impl Query {
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        let mut terms = Vec::new();
        for token in tokens(text)? {
            let span = token.start..token.start + token.raw.len();
            let term = parse_term(token.raw).map_err(|p| QueryError {
                span,
                message: p.message,
                hint: Some(p.hint),
            })?;
            terms.push(term);
        }
        terms.sort_by_key(|t| t.test.cost());
        Ok(Query { terms })
    }

    /// The query, or — when the text does not parse — its words as plain text to look for,
    /// which is what the filter box meant before it knew terms (for saved filters).
    pub fn parse_lossy(text: &str) -> Query {
        Query::parse(text).unwrap_or_else(|_| Query {
            terms: text
                .split_whitespace()
                .map(|w| Term {
                    negated: false,
                    test: Test::Text(w.to_lowercase()),
                })
                .collect(),
        })
    }

    /// No terms: every row passes.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    pub fn matches(&self, snap: &Snapshot, socket: &Socket) -> bool {
        self.matches_with_text(snap, socket, None)
    }

    /// Whether any term looks for free text (and so needs each row's text).
    pub fn needs_text(&self) -> bool {
        self.terms.iter().any(|t| matches!(t.test, Test::Text(_)))
    }

    /// [`Query::matches`] with the row's text already at hand (see [`RowTexts`]).
    pub fn matches_with_text(&self, snap: &Snapshot, socket: &Socket, text: Option<&str>) -> bool {
        let mut haystack: Option<String> = None;
        self.terms.iter().all(|term| {
            let hit = match &term.test {
                Test::Text(word) => match text {
                    Some(t) => t.contains(word.as_str()),
                    None => haystack
                        .get_or_insert_with(|| row_text(snap, socket))
                        .contains(word.as_str()),
                },
                test => test.matches(snap, socket),
            };
            hit != term.negated
        })
    }
}

/// Every row's lower-case text for free-text search, built once per snapshot so that typing
/// in the filter box only searches, and does not rebuild 100,000 strings per keystroke.
#[derive(Debug, Default)]
pub struct RowTexts {
    text: String,
    /// `ends[i]` is where row `i`'s text ends in `text`.
    ends: Vec<usize>,
}

impl RowTexts {
    pub fn build(snap: &Snapshot) -> RowTexts {
        use std::fmt::Write as _;
        // What a process adds to each of its rows, lower-cased once per process.
        let per_process: std::collections::HashMap<u32, String> = snap
            .processes
            .values()
            .map(|p| {
                let mut t = format!(" {} {} {}", p.pid, p.name, p.cmdline_string());
                if let Some(user) = &p.user {
                    t.push(' ');
                    t.push_str(user);
                }
                (p.pid, t.to_lowercase())
            })
            .collect();
        let users: std::collections::HashMap<u32, String> = snap
            .users
            .iter()
            .map(|(uid, name)| (*uid, name.to_lowercase()))
            .collect();
        // Addresses and ports are most of a row: IPv4 and numbers are written by hand (the
        // formatting machinery is half the cost of a row), IPv6 with its compression rules.
        let endpoint = |text: &mut String, addr: std::net::IpAddr, port: Option<u16>| {
            let mut digits = itoa::Buffer::new();
            text.push(' ');
            match addr {
                std::net::IpAddr::V4(a) => {
                    for (i, octet) in a.octets().into_iter().enumerate() {
                        if i > 0 {
                            text.push('.');
                        }
                        text.push_str(digits.format(octet));
                    }
                }
                std::net::IpAddr::V6(a) => {
                    let _ = write!(text, "[{a}]");
                }
            }
            text.push(':');
            match port {
                Some(p) => text.push_str(digits.format(p)),
                None => text.push('*'),
            }
        };
        let build = |sockets: &[crate::model::Socket]| {
            let mut text = String::with_capacity(sockets.len() * 64);
            let mut ends = Vec::with_capacity(sockets.len());
            for s in sockets {
                let start = text.len();
                text.push_str(s.proto.as_str());
                endpoint(&mut text, s.local_addr, Some(s.local_port));
                match s.remote_addr {
                    Some(addr) => endpoint(&mut text, addr, s.remote_port),
                    None => text.push_str(" *"),
                }
                text.push(' ');
                text.push_str(s.state.as_str());
                text[start..].make_ascii_lowercase();
                if s.pids.is_empty() {
                    text.push(' ');
                    text.push_str(&snap.process_label(s).to_lowercase());
                }
                match s.uid.and_then(|uid| users.get(&uid)) {
                    Some(name) => {
                        text.push(' ');
                        text.push_str(name);
                    }
                    None => {
                        if let Some(user) = snap.socket_user(s) {
                            text.push(' ');
                            text.push_str(&user.to_lowercase());
                        }
                    }
                }
                for pid in &s.pids {
                    match per_process.get(pid) {
                        Some(t) => text.push_str(t),
                        None => {
                            let _ = write!(text, " pid {pid} {pid}");
                        }
                    }
                }
                ends.push(text.len());
            }
            (text, ends)
        };
        // Large tables are split in two halves built on two threads: this runs on every new
        // snapshot while a free-text filter is in force.
        if snap.sockets.len() < 20_000 {
            let (text, ends) = build(&snap.sockets);
            return RowTexts { text, ends };
        }
        let (first, second) = snap.sockets.split_at(snap.sockets.len() / 2);
        let ((mut text, mut ends), (text2, ends2)) = std::thread::scope(|scope| {
            let other = scope.spawn(|| build(second));
            let mine = build(first);
            // A panic in the other half would be a bug here; build it on this thread then.
            let theirs = other.join().unwrap_or_else(|_| build(second));
            (mine, theirs)
        });
        let offset = text.len();
        text.push_str(&text2);
        ends.extend(ends2.into_iter().map(|e| e + offset));
        RowTexts { text, ends }
    }

    /// Row `i`'s text.
    pub fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.text.get(start..end)
    }
}

impl FromStr for Query {
    type Err = QueryError;

    fn from_str(text: &str) -> Result<Query, QueryError> {
        Query::parse(text)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Term {
    negated: bool,
    test: Test,
}

/// One condition on a row. Lists mean "any of these".
#[derive(Clone, Debug, PartialEq, Eq)]
enum Test {
    Port(Side, Vec<PortSpan>),
    Addr(Side, Vec<Network>),
    Proto(Vec<ProtoSel>),
    State(Vec<SockState>),
    Range(Vec<RangeSel>),
    Scope(Vec<BindScope>),
    Pid(Vec<u32>),
    /// Lower-case part of a process name.
    Proc(String),
    /// Lower-case part of a command line.
    Cmd(String),
    User(Vec<UserSel>),
    /// Lower-case text to find anywhere in the row.
    Text(String),
}

impl Test {
    /// Rough cost of checking a row: socket fields, then process lookups, then the row text.
    fn cost(&self) -> u8 {
        match self {
            Test::Port(..)
            | Test::Addr(..)
            | Test::Proto(_)
            | Test::State(_)
            | Test::Range(_)
            | Test::Scope(_)
            | Test::Pid(_) => 0,
            Test::Proc(_) | Test::User(_) => 1,
            Test::Cmd(_) => 2,
            Test::Text(_) => 3,
        }
    }

    fn matches(&self, snap: &Snapshot, s: &Socket) -> bool {
        match self {
            Test::Port(side, spans) => side
                .ports(s)
                .into_iter()
                .flatten()
                .any(|p| spans.iter().any(|span| span.contains(p))),
            Test::Addr(side, nets) => side
                .addrs(s)
                .into_iter()
                .flatten()
                .any(|a| nets.iter().any(|net| net.contains(a))),
            Test::Proto(sels) => sels.iter().any(|sel| sel.matches(s)),
            Test::State(states) => states.contains(&s.state),
            Test::Range(sels) => sels.iter().any(|sel| match sel {
                RangeSel::Iana(range) => IanaRange::of(s.local_port) == *range,
                RangeSel::Ephemeral => snap.ephemeral.contains(s.local_port),
            }),
            Test::Scope(scopes) => scopes.contains(&s.bind_scope()),
            Test::Pid(pids) => s.pids.iter().any(|p| pids.contains(p)),
            Test::Proc(part) => processes(snap, s).any(|p| contains_folded(&p.name, part)),
            Test::Cmd(part) => processes(snap, s).any(|p| cmdline_contains(p, part)),
            Test::User(sels) => sels.iter().any(|sel| sel.matches(snap, s)),
            Test::Text(word) => row_text(snap, s).contains(word.as_str()),
        }
    }
}

/// Which end of the connection a port or address term looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Either,
    Local,
    Remote,
}

impl Side {
    fn ports(self, s: &Socket) -> [Option<u16>; 2] {
        match self {
            Side::Either => [Some(s.local_port), s.remote_port],
            Side::Local => [Some(s.local_port), None],
            Side::Remote => [s.remote_port, None],
        }
    }

    fn addrs(self, s: &Socket) -> [Option<IpAddr>; 2] {
        match self {
            Side::Either => [Some(s.local_addr), s.remote_addr],
            Side::Local => [Some(s.local_addr), None],
            Side::Remote => [s.remote_addr, None],
        }
    }
}

/// Ports `lo..=hi`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PortSpan {
    lo: u16,
    hi: u16,
}

impl PortSpan {
    fn contains(self, port: u16) -> bool {
        (self.lo..=self.hi).contains(&port)
    }
}

/// An address or a network: `addr` with all but the first `prefix` bits cleared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    fn new(addr: IpAddr, prefix: u8) -> Network {
        // An IPv4 address seen through an IPv6 socket (::ffff:10.0.0.1) is the IPv4 address.
        let (addr, prefix) = match addr {
            IpAddr::V6(v6) => match (v6.to_ipv4_mapped(), prefix.checked_sub(96)) {
                (Some(v4), Some(p)) => (IpAddr::V4(v4), p),
                _ => (addr, prefix),
            },
            IpAddr::V4(_) => (addr, prefix),
        };
        Network {
            addr: mask(addr, prefix),
            prefix,
        }
    }

    /// An IPv4-mapped address matches both as itself and as the IPv4 address it stands for.
    fn contains(self, addr: IpAddr) -> bool {
        let hit =
            |a: IpAddr| a.is_ipv4() == self.addr.is_ipv4() && mask(a, self.prefix) == self.addr;
        hit(addr) || hit(addr.to_canonical())
    }
}

fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let keep = u32::MAX
                .checked_shl(32 - u32::from(prefix.min(32)))
                .unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from_bits(a.to_bits() & keep))
        }
        IpAddr::V6(a) => {
            let keep = u128::MAX
                .checked_shl(128 - u32::from(prefix.min(128)))
                .unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from_bits(a.to_bits() & keep))
        }
    }
}

/// A transport, optionally on one address family (`tcp6`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ProtoSel {
    proto: Proto,
    /// `Some(true)`: IPv6 only; `Some(false)`: IPv4 only.
    v6: Option<bool>,
}

impl ProtoSel {
    /// The family is that of the local address, as netstat and ss report it: a dual-stack
    /// socket bound to `::` is `tcp6`.
    fn matches(self, s: &Socket) -> bool {
        s.proto == self.proto && self.v6.is_none_or(|v6| s.local_addr.is_ipv6() == v6)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RangeSel {
    Iana(IanaRange),
    Ephemeral,
}

/// A user name (lower case) or uid.
#[derive(Clone, Debug, PartialEq, Eq)]
struct UserSel {
    name: String,
    uid: Option<u32>,
}

impl UserSel {
    /// The socket's own uid (as [`Snapshot::socket_user`] reports it) or the user of any
    /// process holding it.
    fn matches(&self, snap: &Snapshot, s: &Socket) -> bool {
        let socket_user = s.uid.is_some_and(|uid| {
            self.uid == Some(uid)
                || snap
                    .user_name(uid)
                    .is_some_and(|n| eq_folded(n, &self.name))
        });
        socket_user
            || processes(snap, s).any(|p| {
                (self.uid.is_some() && p.uid == self.uid)
                    || p.user.as_deref().is_some_and(|n| eq_folded(n, &self.name))
            })
    }
}

fn processes<'a>(snap: &'a Snapshot, s: &'a Socket) -> impl Iterator<Item = &'a ProcessInfo> {
    s.pids.iter().filter_map(|pid| snap.process(*pid))
}

/// Whether `haystack` contains `part`, which is already lower case; without allocating
/// when both are ASCII.
fn contains_folded(haystack: &str, part: &str) -> bool {
    if part.is_empty() {
        return true;
    }
    if haystack.is_ascii() && part.is_ascii() {
        haystack
            .as_bytes()
            .windows(part.len())
            .any(|w| w.eq_ignore_ascii_case(part.as_bytes()))
    } else {
        haystack.to_lowercase().contains(part)
    }
}

/// Whether `text` equals `lower`, which is already lower case, ignoring case.
fn eq_folded(text: &str, lower: &str) -> bool {
    if text.is_ascii() {
        text.eq_ignore_ascii_case(lower)
    } else {
        text.to_lowercase() == lower
    }
}

/// The command line is matched as its arguments joined by spaces; where it cannot be read
/// (kernel threads, other users' processes), the executable path stands in.
fn cmdline_contains(p: &ProcessInfo, part: &str) -> bool {
    if p.cmdline.is_empty() {
        return p
            .exe
            .as_deref()
            .is_some_and(|exe| contains_folded(exe, part));
    }
    if part.contains(char::is_whitespace) {
        contains_folded(&p.cmdline.join(" "), part)
    } else {
        // Without a space the text cannot span two arguments.
        p.cmdline.iter().any(|arg| contains_folded(arg, part))
    }
}

/// Everything a free word is looked for in, lower case: the columns and the command lines.
fn row_text(snap: &Snapshot, s: &Socket) -> String {
    use std::fmt::Write as _;
    let mut h = String::with_capacity(128);
    let _ = write!(
        h,
        "{} {} {} {} {} {}",
        s.proto,
        s.local_endpoint(),
        s.remote_endpoint(),
        s.state,
        snap.process_label(s),
        snap.socket_user(s).unwrap_or_default(),
    );
    for pid in &s.pids {
        let _ = write!(h, " {pid}");
        if let Some(p) = snap.process(*pid) {
            let _ = write!(h, " {}", p.cmdline_string());
            if let Some(user) = &p.user {
                let _ = write!(h, " {user}");
            }
        }
    }
    h.to_lowercase()
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// A whitespace-separated piece of the text; whitespace inside double quotes does not split.
struct Token<'a> {
    start: usize,
    raw: &'a str,
}

fn tokens(text: &str) -> Result<Vec<Token<'_>>, QueryError> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if in_quotes {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_quotes = false;
            }
        } else if c.is_whitespace() {
            if let Some(s) = start.take() {
                out.push(Token {
                    start: s,
                    raw: &text[s..i],
                });
            }
        } else {
            start.get_or_insert(i);
            if c == '"' {
                in_quotes = true;
            }
        }
    }
    if let Some(s) = start {
        if in_quotes {
            return Err(QueryError {
                span: s..text.len(),
                message: "the quote is not closed".to_owned(),
                hint: Some("end the quoted text with \"".to_owned()),
            });
        }
        out.push(Token {
            start: s,
            raw: &text[s..],
        });
    }
    Ok(out)
}

/// Removes the double quotes of a token; inside them `\"` stands for `"` and `\\` for `\`.
fn unquote(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut in_quotes = false;
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => in_quotes = !in_quotes,
            '\\' if in_quotes => match chars.clone().next() {
                Some(next @ ('"' | '\\')) => {
                    out.push(next);
                    chars.next();
                }
                _ => out.push('\\'),
            },
            _ => out.push(c),
        }
    }
    out
}

/// What is wrong with a term; the span is added by the caller.
struct Problem {
    message: String,
    hint: String,
}

impl Problem {
    fn new(message: impl Into<String>, hint: impl Into<String>) -> Problem {
        Problem {
            message: message.into(),
            hint: hint.into(),
        }
    }

    fn with_suggestion(message: String, suggestion: Option<&str>, otherwise: &str) -> Problem {
        let hint = match suggestion {
            Some(s) => format!("did you mean '{s}'?"),
            None => otherwise.to_owned(),
        };
        Problem::new(message, hint)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    Port(Side),
    Addr(Side),
    Proto,
    State,
    Range,
    Scope,
    Pid,
    Proc,
    Cmd,
    User,
}

const KEYS: &[(&str, Key)] = &[
    ("port", Key::Port(Side::Either)),
    ("lport", Key::Port(Side::Local)),
    ("rport", Key::Port(Side::Remote)),
    ("ip", Key::Addr(Side::Either)),
    ("addr", Key::Addr(Side::Either)),
    ("laddr", Key::Addr(Side::Local)),
    ("raddr", Key::Addr(Side::Remote)),
    ("proto", Key::Proto),
    ("state", Key::State),
    ("range", Key::Range),
    ("scope", Key::Scope),
    ("pid", Key::Pid),
    ("proc", Key::Proc),
    ("cmd", Key::Cmd),
    ("user", Key::User),
];

const KEY_LIST: &str = "port, lport, rport, ip, addr, laddr, raddr, proto, state, range, \
    scope, pid, proc, cmd, user";

fn parse_term(raw: &str) -> Result<Term, Problem> {
    // `-word` excludes; `--word` and a lone `-` are text (command-line options are common).
    let (negated, body) = match raw.strip_prefix('-') {
        Some(rest) if !rest.is_empty() && !rest.starts_with('-') => (true, rest),
        _ => (false, raw),
    };
    let test = match split_key(body)? {
        Some((key, name, value)) => parse_value(key, name, &unquote(value))?,
        None => {
            let text = unquote(body);
            if text.is_empty() {
                return Err(Problem::new(
                    "nothing between the quotes",
                    "put the text to look for between them",
                ));
            }
            Test::Text(text.to_lowercase())
        }
    };
    Ok(Term { negated, test })
}

/// Splits `key:value`. A word is a term only when what comes before the first colon is made
/// of letters (so `:80`, `127.0.0.1:80` and `[::1]` stay text) and is not made of hex digits
/// only, as the start of an IPv6 address is (`fe80::1`, `dead:beef::1`, also `c:\`).
fn split_key(body: &str) -> Result<Option<(Key, &str, &str)>, Problem> {
    let Some((name, value)) = body.split_once(':') else {
        return Ok(None);
    };
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Ok(None);
    }
    if let Some((_, key)) = KEYS.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
        return Ok(Some((*key, name, value)));
    }
    if name.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let names: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
    let hint = match suggest(&name.to_ascii_lowercase(), &names) {
        Some(key) => format!("did you mean '{key}:'?"),
        None => format!("keys are {KEY_LIST}; to look for the text itself, put it in quotes"),
    };
    Err(Problem::new(format!("unknown key '{name}:'"), hint))
}

fn parse_value(key: Key, name: &str, value: &str) -> Result<Test, Problem> {
    if value.trim().is_empty() {
        let example = match key {
            Key::Port(_) => "port:443",
            Key::Addr(_) => "ip:127.0.0.1",
            Key::Proto => "proto:udp",
            Key::State => "state:listen",
            Key::Range => "range:ephemeral",
            Key::Scope => "scope:all",
            Key::Pid => "pid:1234",
            Key::Proc => "proc:nginx",
            Key::Cmd => "cmd:--config",
            Key::User => "user:root",
        };
        return Err(Problem::new(
            format!("'{}:' needs a value", name.to_ascii_lowercase()),
            format!("for example {example}"),
        ));
    }
    Ok(match key {
        Key::Port(side) => Test::Port(side, list(value, parse_port_span)?),
        Key::Addr(side) => Test::Addr(side, list(value, parse_network)?),
        Key::Proto => Test::Proto(list(value, parse_proto)?),
        Key::State => Test::State(list(value, parse_state)?),
        Key::Range => Test::Range(list(value, parse_range)?),
        Key::Scope => Test::Scope(list(value, parse_scope)?),
        Key::Pid => Test::Pid(list(value, parse_pid)?),
        Key::Proc => Test::Proc(value.to_lowercase()),
        Key::Cmd => Test::Cmd(value.to_lowercase()),
        Key::User => Test::User(list(value, |v| {
            Ok(UserSel {
                name: v.to_lowercase(),
                uid: digits(v).then(|| v.parse().ok()).flatten(),
            })
        })?),
    })
}

/// A comma-separated list of values, each trimmed.
fn list<T>(value: &str, item: impl Fn(&str) -> Result<T, Problem>) -> Result<Vec<T>, Problem> {
    value
        .split(',')
        .map(|v| {
            let v = v.trim();
            if v.is_empty() {
                Err(Problem::new(
                    "empty item in the list",
                    "separate the values with single commas, as in port:80,443",
                ))
            } else {
                item(v)
            }
        })
        .collect()
}

fn digits(v: &str) -> bool {
    !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())
}

const PORT_HINT: &str = "a port is a number from 0 to 65535: port:443, port:80,443 or \
    port:8000-8999";

fn parse_port_span(v: &str) -> Result<PortSpan, Problem> {
    let Some((lo, hi)) = v.split_once('-') else {
        let port = parse_port(v)?;
        return Ok(PortSpan { lo: port, hi: port });
    };
    let (lo, hi) = (lo.trim(), hi.trim());
    if lo.is_empty() && hi.is_empty() {
        return Err(Problem::new(
            format!("'{v}' is not a port range"),
            PORT_HINT,
        ));
    }
    let lo = if lo.is_empty() { 0 } else { parse_port(lo)? };
    let hi = if hi.is_empty() {
        u16::MAX
    } else {
        parse_port(hi)?
    };
    if lo > hi {
        return Err(Problem::new(
            format!("the range {lo}-{hi} goes backwards"),
            format!("put the lower port first: {hi}-{lo}"),
        ));
    }
    Ok(PortSpan { lo, hi })
}

fn parse_port(v: &str) -> Result<u16, Problem> {
    if !digits(v) {
        return Err(Problem::new(
            format!("'{v}' is not a port number"),
            PORT_HINT,
        ));
    }
    v.parse().map_err(|_| {
        Problem::new(
            format!("port {v} does not exist"),
            "ports go from 0 to 65535",
        )
    })
}

fn parse_pid(v: &str) -> Result<u32, Problem> {
    if !digits(v) {
        return Err(Problem::new(
            format!("'{v}' is not a process id"),
            "a PID is a whole number, as in pid:1234 or pid:1234,5678",
        ));
    }
    v.parse()
        .map_err(|_| Problem::new(format!("PID {v} is too large"), "PIDs go up to 4294967295"))
}

fn parse_network(v: &str) -> Result<Network, Problem> {
    let (addr_text, prefix_text) = match v.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (v, None),
    };
    let bare = addr_text
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(addr_text);
    let Ok(addr) = bare.parse::<IpAddr>() else {
        let hint = if v.parse::<SocketAddr>().is_ok() {
            "give the address alone, and the port with port:".to_owned()
        } else if v.eq_ignore_ascii_case("localhost") {
            "write ip:127.0.0.1 or ip:::1, or scope:local for any loopback address".to_owned()
        } else {
            "write an address (127.0.0.1, ::1) or a network (10.0.0.0/8, fe80::/10)".to_owned()
        };
        return Err(Problem::new(format!("'{v}' is not an IP address"), hint));
    };
    let bits: u8 = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix_text {
        None => bits,
        Some(p) => match p.parse::<u8>() {
            Ok(n) if digits(p) && n <= bits => n,
            _ => {
                let family = if addr.is_ipv4() { "IPv4" } else { "IPv6" };
                return Err(Problem::new(
                    format!("'/{p}' is not a prefix length for an {family} address"),
                    format!("{family} prefixes go from /0 to /{bits}"),
                ));
            }
        },
    };
    Ok(Network::new(addr, prefix))
}

/// Lower case without `-`, `_` and spaces, so `TIME_WAIT`, `time-wait` and `timewait` agree.
fn normalize(v: &str) -> String {
    v.chars()
        .filter(|c| !matches!(c, '-' | '_' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Looks `v` up in `(normalized name, value)` pairs; on failure, suggests one of `shown`.
fn lookup<T: Copy>(v: &str, names: &[(&str, T)], what: &str, shown: &[&str]) -> Result<T, Problem> {
    let n = normalize(v);
    if let Some((_, value)) = names.iter().find(|(name, _)| *name == n) {
        return Ok(*value);
    }
    let normalized: Vec<String> = shown.iter().map(|s| normalize(s)).collect();
    let candidates: Vec<&str> = normalized.iter().map(String::as_str).collect();
    let suggestion = suggest(&n, &candidates).and_then(|s| {
        candidates
            .iter()
            .position(|c| *c == s)
            .and_then(|i| shown.get(i).copied())
    });
    Err(Problem::with_suggestion(
        format!("unknown {what} '{v}'"),
        suggestion,
        &format!("{what}s are {}", shown.join(", ")),
    ))
}

fn parse_state(v: &str) -> Result<SockState, Problem> {
    const NAMES: &[(&str, SockState)] = &[
        ("listen", SockState::Listen),
        ("listening", SockState::Listen),
        ("synsent", SockState::SynSent),
        ("synrecv", SockState::SynReceived),
        ("synreceived", SockState::SynReceived),
        ("established", SockState::Established),
        ("estab", SockState::Established),
        ("finwait1", SockState::FinWait1),
        ("finwait2", SockState::FinWait2),
        ("closewait", SockState::CloseWait),
        ("closing", SockState::Closing),
        ("lastack", SockState::LastAck),
        ("timewait", SockState::TimeWait),
        ("closed", SockState::Closed),
        ("deletetcb", SockState::DeleteTcb),
        ("bound", SockState::Bound),
        ("unconn", SockState::Unconn),
        ("unconnected", SockState::Unconn),
        ("unknown", SockState::Unknown),
    ];
    const SHOWN: &[&str] = &[
        "listen",
        "established",
        "syn_sent",
        "syn_recv",
        "fin_wait1",
        "fin_wait2",
        "close_wait",
        "closing",
        "last_ack",
        "time_wait",
        "closed",
        "delete_tcb",
        "bound",
        "unconn",
        "unknown",
    ];
    lookup(v, NAMES, "state", SHOWN)
}

fn parse_proto(v: &str) -> Result<ProtoSel, Problem> {
    let sel = |proto, v6| ProtoSel { proto, v6 };
    let names = [
        ("tcp", sel(Proto::Tcp, None)),
        ("udp", sel(Proto::Udp, None)),
        ("tcp4", sel(Proto::Tcp, Some(false))),
        ("tcp6", sel(Proto::Tcp, Some(true))),
        ("udp4", sel(Proto::Udp, Some(false))),
        ("udp6", sel(Proto::Udp, Some(true))),
    ];
    let shown = ["tcp", "udp", "tcp4", "tcp6", "udp4", "udp6"];
    lookup(v, &names, "protocol", &shown)
}

fn parse_range(v: &str) -> Result<RangeSel, Problem> {
    const NAMES: &[(&str, RangeSel)] = &[
        ("wellknown", RangeSel::Iana(IanaRange::System)),
        ("system", RangeSel::Iana(IanaRange::System)),
        ("registered", RangeSel::Iana(IanaRange::User)),
        ("user", RangeSel::Iana(IanaRange::User)),
        ("dynamic", RangeSel::Iana(IanaRange::Dynamic)),
        ("private", RangeSel::Iana(IanaRange::Dynamic)),
        ("ephemeral", RangeSel::Ephemeral),
    ];
    const SHOWN: &[&str] = &[
        "well-known",
        "registered",
        "dynamic",
        "ephemeral",
        "system",
        "user",
        "private",
    ];
    lookup(v, NAMES, "range", SHOWN)
}

fn parse_scope(v: &str) -> Result<BindScope, Problem> {
    const NAMES: &[(&str, BindScope)] = &[
        ("all", BindScope::AllInterfaces),
        ("any", BindScope::AllInterfaces),
        ("local", BindScope::Loopback),
        ("loopback", BindScope::Loopback),
        ("iface", BindScope::Interface),
        ("interface", BindScope::Interface),
    ];
    const SHOWN: &[&str] = &["all", "local", "iface", "any", "loopback", "interface"];
    lookup(v, NAMES, "scope", SHOWN)
}

/// The candidate `word` was most likely meant as: the only one it starts, else the nearest
/// by edit distance if that is close enough to be a typo.
fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    if word.is_empty() || word.chars().count() > 20 {
        return None;
    }
    let mut starting = candidates.iter().filter(|c| c.starts_with(word));
    if let (Some(only), None) = (starting.next(), starting.next()) {
        return Some(only);
    }
    let allowed = if word.chars().count() <= 3 { 1 } else { 2 };
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, _)| *d <= allowed)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance counting a swap of two neighbours as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows[i][j]: distance between a[..i] and b[..j].
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = d;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::EphemeralRange;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    fn v6(text: &str) -> IpAddr {
        IpAddr::V6(text.parse::<Ipv6Addr>().expect("test address"))
    }

    struct Row {
        proto: Proto,
        local: (IpAddr, u16),
        remote: Option<(IpAddr, u16)>,
        state: SockState,
        pids: Vec<u32>,
        uid: Option<u32>,
    }

    fn socket(row: Row) -> Socket {
        Socket {
            proto: row.proto,
            local_addr: row.local.0,
            local_port: row.local.1,
            remote_addr: row.remote.map(|r| r.0),
            remote_port: row.remote.map(|r| r.1),
            state: row.state,
            pids: row.pids.into(),
            uid: row.uid,
            inode: Some(1),
            cookie: 0,
            recv_q: 0,
            send_q: 0,
        }
    }

    fn process(pid: u32, name: &str, cmdline: &[&str], uid: u32, user: &str) -> ProcessInfo {
        ProcessInfo {
            pid,
            name: name.to_owned(),
            exe: None,
            cmdline: cmdline.iter().map(|a| (*a).to_owned()).collect(),
            uid: Some(uid),
            user: Some(user.to_owned()),
            parent_pid: None,
            start_time: None,
        }
    }

    /// Every socket has its own local port, so a list of local ports names the rows.
    fn snapshot() -> Snapshot {
        use Proto::{Tcp, Udp};
        use SockState::*;
        let rows = vec![
            Row {
                proto: Tcp,
                local: (v4(127, 0, 0, 1), 8080),
                remote: None,
                state: Listen,
                pids: [20][..].into(),
                uid: Some(0),
            },
            Row {
                proto: Tcp,
                local: (v6("::1"), 22),
                remote: None,
                state: Listen,
                pids: [10][..].into(),
                uid: Some(0),
            },
            Row {
                proto: Udp,
                local: (v4(10, 0, 0, 2), 443),
                remote: None,
                state: Unconn,
                pids: Default::default(),
                uid: Some(1001),
            },
            Row {
                proto: Tcp,
                local: (v4(0, 0, 0, 0), 80),
                remote: None,
                state: Listen,
                pids: [30, 31][..].into(),
                uid: Some(33),
            },
            Row {
                proto: Tcp,
                local: (v4(192, 168, 1, 5), 51000),
                remote: Some((v4(93, 184, 216, 34), 443)),
                state: Established,
                pids: [40][..].into(),
                uid: Some(1001),
            },
            Row {
                proto: Tcp,
                local: (v4(192, 168, 1, 5), 40000),
                remote: Some((v4(10, 1, 2, 3), 8443)),
                state: TimeWait,
                pids: Default::default(),
                uid: None,
            },
            Row {
                proto: Tcp,
                local: (v6("::"), 9000),
                remote: None,
                state: Listen,
                pids: [50][..].into(),
                uid: None,
            },
            Row {
                proto: Udp,
                local: (v6("fe80::1"), 5353),
                remote: None,
                state: Unconn,
                pids: [60][..].into(),
                uid: Some(105),
            },
            Row {
                proto: Tcp,
                local: (v6("::ffff:10.0.0.9"), 3000),
                remote: Some((v6("::ffff:10.0.0.7"), 50000)),
                state: Established,
                pids: [70][..].into(),
                uid: Some(1002),
            },
        ];
        let mut snap = Snapshot {
            seq: 1,
            sockets: rows.into_iter().map(socket).collect(),
            ephemeral: EphemeralRange::from_linux_sysctl(
                Ok("32768 60999".to_owned()),
                Ok(String::new()),
            ),
            ..Snapshot::default()
        };
        for p in [
            process(10, "sshd", &["/usr/sbin/sshd", "-D"], 0, "root"),
            process(20, "Python3", &["python3", "-m", "http.server"], 0, "root"),
            process(30, "nginx", &["nginx: master process"], 33, "www-data"),
            process(
                31,
                "nginx",
                &["/usr/sbin/nginx", "-c", "/etc/My Conf/nginx.conf"],
                33,
                "www-data",
            ),
            process(40, "firefox", &["/usr/lib/firefox/firefox"], 1001, "alice"),
            process(
                50,
                "My Server",
                &["my-server", "--port", "9000"],
                1002,
                "Bob",
            ),
            process(60, "avahi-daemon", &[], 105, "avahi"),
            process(70, "node", &["node", "dev.js"], 1002, "bob"),
        ] {
            snap.processes.insert(p.pid, p);
        }
        if let Some(p) = snap.processes.get_mut(&60) {
            p.exe = Some("/usr/sbin/avahi-daemon".to_owned());
        }
        for (uid, name) in [
            (0, "root"),
            (33, "www-data"),
            (1001, "alice"),
            (105, "avahi"),
        ] {
            snap.users.insert(uid, name.to_owned());
        }
        snap
    }

    fn rows(snap: &Snapshot, text: &str) -> Vec<u16> {
        let query = match parse(text) {
            Ok(q) => q,
            Err(e) => panic!("{text:?} should parse: {e}"),
        };
        snap.sockets
            .iter()
            .filter(|s| query.matches(snap, s))
            .map(|s| s.local_port)
            .collect()
    }

    fn error(text: &str) -> QueryError {
        match parse(text) {
            Ok(q) => panic!("{text:?} should not parse: {q:?}"),
            Err(e) => e,
        }
    }

    const ALL: [u16; 9] = [8080, 22, 443, 80, 51000, 40000, 9000, 5353, 3000];

    #[test]
    fn empty_text_passes_everything() {
        let snap = snapshot();
        for text in ["", "   ", "\t\n"] {
            let q = parse(text).expect("blank parses");
            assert!(q.is_empty());
            assert_eq!(rows(&snap, text), ALL);
        }
        assert_eq!(Query::default(), parse("").expect("blank parses"));
        assert!(!parse("port:1").expect("parses").is_empty());
    }

    #[test]
    fn ports_match_either_end_or_one_side() {
        let s = snapshot();
        assert_eq!(rows(&s, "port:443"), [443, 51000]);
        assert_eq!(rows(&s, "lport:443"), [443]);
        assert_eq!(rows(&s, "rport:443"), [51000]);
        assert_eq!(rows(&s, "port:80,22"), [22, 80]);
        assert_eq!(rows(&s, "lport:8000-9000"), [8080, 9000]);
        assert_eq!(rows(&s, "rport:8000-9000"), [40000]);
        assert_eq!(rows(&s, "lport:50000-"), [51000]);
        assert_eq!(rows(&s, "lport:-100"), [22, 80]);
        assert_eq!(rows(&s, "port:\"22, 80 ,0-10\""), [22, 80]);
        assert_eq!(rows(&s, "port:\"22,80\""), [22, 80]);
        assert_eq!(rows(&s, "port:0"), Vec::<u16>::new());
        // A row without a peer has no remote port: it passes only the negation.
        assert_eq!(rows(&s, "-rport:0-65535"), [8080, 22, 443, 80, 9000, 5353]);
    }

    #[test]
    fn ipv4_mapped_sockets_match_as_their_ipv4_addresses() {
        let listener = |addr: &str, port| Socket {
            proto: Proto::Tcp,
            local_addr: addr.parse().expect("an address"),
            local_port: port,
            remote_addr: None,
            remote_port: None,
            state: SockState::Listen,
            pids: Default::default(),
            uid: None,
            inode: None,
            cookie: 0,
            recv_q: 0,
            send_q: 0,
        };
        let mut s = Snapshot {
            sockets: vec![
                listener("::ffff:127.0.0.1", 8443),
                listener("::ffff:0.0.0.0", 9443),
                listener("::ffff:10.0.0.9", 7443),
            ],
            ..Snapshot::default()
        };
        let mut peer = listener("::ffff:127.0.0.1", 40000);
        peer.state = SockState::Established;
        peer.remote_addr = "::ffff:127.0.0.1".parse().ok();
        peer.remote_port = Some(8443);
        s.sockets.push(peer);
        assert_eq!(rows(&s, "scope:local"), [8443, 40000]);
        assert_eq!(rows(&s, "scope:all"), [9443]);
        assert_eq!(rows(&s, "scope:iface"), [7443]);
        assert_eq!(rows(&s, "ip:127.0.0.1"), [8443, 40000]);
        assert_eq!(rows(&s, "addr:127.0.0.0/8"), [8443, 40000]);
        assert_eq!(rows(&s, "raddr:127.0.0.1"), [40000]);
        assert_eq!(rows(&s, "laddr:0.0.0.0"), [9443]);
        assert_eq!(rows(&s, "ip:::ffff:127.0.0.1"), [8443, 40000]);
    }

    #[test]
    fn addresses_exact_and_by_network() {
        let s = snapshot();
        assert_eq!(rows(&s, "ip:127.0.0.1"), [8080]);
        assert_eq!(rows(&s, "addr:::1"), [22]);
        assert_eq!(rows(&s, "ip:[::1]"), [22]);
        assert_eq!(rows(&s, "ip:10.0.0.0/8"), [443, 40000, 3000]);
        assert_eq!(rows(&s, "raddr:10.0.0.0/8"), [40000, 3000]);
        assert_eq!(rows(&s, "laddr:10.0.0.0/8"), [443, 3000]);
        assert_eq!(rows(&s, "laddr:192.168.1.5/24,::"), [51000, 40000, 9000]);
        assert_eq!(rows(&s, "ip:fe80::/10"), [5353]);
        assert_eq!(rows(&s, "ip:[fe80::]/10"), [5353]);
        assert_eq!(
            rows(&s, "ip:0.0.0.0/0"),
            [8080, 443, 80, 51000, 40000, 3000]
        );
        // An IPv4 address reaches IPv4-mapped IPv6 sockets, and the other way round.
        assert_eq!(rows(&s, "ip:10.0.0.9"), [3000]);
        assert_eq!(rows(&s, "ip:::ffff:10.0.0.7"), [3000]);
        assert_eq!(rows(&s, "ip:::ffff:10.0.0.0/104"), [443, 40000, 3000]);
        assert_eq!(rows(&s, "ip:::/0"), [22, 9000, 5353, 3000]);
        // ::ffff:0:0/96 is every IPv4 address in IPv6 clothing: every IPv4 address.
        assert_eq!(
            rows(&s, "laddr:::ffff:0:0/96"),
            [8080, 443, 80, 51000, 40000, 3000]
        );
        // Host bits after the prefix do not matter.
        assert_eq!(rows(&s, "ip:10.1.2.99/24"), [40000]);
    }

    #[test]
    fn protocols_and_families() {
        let s = snapshot();
        assert_eq!(rows(&s, "proto:udp"), [443, 5353]);
        assert_eq!(
            rows(&s, "PROTO:TCP"),
            [8080, 22, 80, 51000, 40000, 9000, 3000]
        );
        assert_eq!(rows(&s, "proto:tcp6"), [22, 9000, 3000]);
        assert_eq!(rows(&s, "proto:tcp4"), [8080, 80, 51000, 40000]);
        assert_eq!(rows(&s, "proto:udp4,udp6"), [443, 5353]);
        assert_eq!(rows(&s, "proto:udp6"), [5353]);
    }

    #[test]
    fn states_in_every_spelling() {
        let s = snapshot();
        assert_eq!(rows(&s, "state:listen"), [8080, 22, 80, 9000]);
        assert_eq!(rows(&s, "state:LISTEN"), [8080, 22, 80, 9000]);
        for spelling in [
            "time_wait",
            "time-wait",
            "timewait",
            "TIME_WAIT",
            "Time-Wait",
        ] {
            assert_eq!(
                rows(&s, &format!("state:{spelling}")),
                [40000],
                "{spelling}"
            );
        }
        assert_eq!(rows(&s, "state:unconn"), [443, 5353]);
        assert_eq!(
            rows(&s, "state:listen,established"),
            [8080, 22, 80, 51000, 9000, 3000]
        );
        assert_eq!(rows(&s, "state:estab"), [51000, 3000]);
        assert_eq!(
            rows(&s, "state:syn_recv,fin_wait1,close_wait,closed,unknown"),
            Vec::<u16>::new()
        );
    }

    #[test]
    fn port_ranges_and_the_ephemeral_range() {
        let s = snapshot();
        assert_eq!(rows(&s, "range:well-known"), [22, 443, 80]);
        assert_eq!(rows(&s, "range:system"), [22, 443, 80]);
        assert_eq!(rows(&s, "range:wellknown"), [22, 443, 80]);
        assert_eq!(
            rows(&s, "range:registered"),
            [8080, 40000, 9000, 5353, 3000]
        );
        assert_eq!(rows(&s, "range:user"), rows(&s, "range:registered"));
        assert_eq!(rows(&s, "range:dynamic"), [51000]);
        assert_eq!(rows(&s, "range:private"), [51000]);
        // 32768–60999 on this snapshot.
        assert_eq!(rows(&s, "range:ephemeral"), [51000, 40000]);
        assert_eq!(rows(&s, "range:well-known,dynamic"), [22, 443, 80, 51000]);
    }

    #[test]
    fn bind_scopes() {
        let s = snapshot();
        assert_eq!(rows(&s, "scope:all"), [80, 9000]);
        assert_eq!(rows(&s, "scope:local"), [8080, 22]);
        assert_eq!(rows(&s, "scope:loopback"), [8080, 22]);
        assert_eq!(rows(&s, "scope:iface"), [443, 51000, 40000, 5353, 3000]);
        assert_eq!(rows(&s, "scope:all,local"), [8080, 22, 80, 9000]);
    }

    #[test]
    fn processes_by_name_command_line_and_pid() {
        let s = snapshot();
        assert_eq!(rows(&s, "proc:nginx"), [80]);
        assert_eq!(rows(&s, "proc:PYTHON"), [8080]);
        assert_eq!(rows(&s, "proc:\"my server\""), [9000]);
        assert_eq!(rows(&s, "proc:server"), [9000]);
        // The name only: "http.server" is in Python's command line, not its name.
        assert_eq!(rows(&s, "proc:http"), Vec::<u16>::new());
        assert_eq!(rows(&s, "cmd:http.server"), [8080]);
        assert_eq!(rows(&s, "cmd:\"-m http\""), [8080]);
        assert_eq!(rows(&s, "cmd:\"my conf\""), [80]);
        assert_eq!(rows(&s, "cmd:--PORT"), [9000]);
        // Unreadable command line: the executable path stands in.
        assert_eq!(rows(&s, "cmd:/usr/sbin/avahi"), [5353]);
        assert_eq!(rows(&s, "pid:10"), [22]);
        assert_eq!(rows(&s, "pid:31"), [80]);
        assert_eq!(rows(&s, "pid:40,70,999"), [51000, 3000]);
    }

    #[test]
    fn users_by_name_or_uid() {
        let s = snapshot();
        assert_eq!(rows(&s, "user:root"), [8080, 22]);
        assert_eq!(rows(&s, "user:0"), [8080, 22]);
        assert_eq!(rows(&s, "user:alice"), [443, 51000]);
        assert_eq!(rows(&s, "user:ALICE"), [443, 51000]);
        assert_eq!(rows(&s, "user:1001"), [443, 51000]);
        // 9000 has no kernel uid, so its process's user counts; 3000's uid has no name.
        assert_eq!(rows(&s, "user:bob"), [9000, 3000]);
        assert_eq!(rows(&s, "user:1002"), [9000, 3000]);
        assert_eq!(rows(&s, "user:www-data,avahi"), [80, 5353]);
        assert_eq!(rows(&s, "user:nobody"), Vec::<u16>::new());
        // Whatever `socket_user` shows for a row, user: finds the row by it.
        for sock in &s.sockets {
            if let Some(user) = s.socket_user(sock) {
                let q = parse(&format!("user:\"{user}\"")).expect("a user parses");
                assert!(q.matches(&s, sock), "{user}");
            }
        }
    }

    #[test]
    fn negation_quoting_and_and() {
        let s = snapshot();
        assert_eq!(
            rows(&s, "-state:time_wait -state:listen"),
            [443, 51000, 5353, 3000]
        );
        assert_eq!(rows(&s, "-nginx -tcp"), [443, 5353]);
        assert_eq!(rows(&s, "-\"my conf\" state:listen"), [8080, 22, 9000]);
        assert_eq!(rows(&s, "\"my server\""), [9000]);
        assert_eq!(rows(&s, "\"nginx: master\""), [80]);
        assert_eq!(rows(&s, "state:listen proto:tcp4 scope:all"), [80]);
        assert_eq!(rows(&s, "state:listen user:root"), [8080, 22]);
        assert_eq!(
            rows(&s, "-user:root state:listen firefox"),
            Vec::<u16>::new()
        );
        // Terms repeat as AND: no row has both ends on 443.
        assert_eq!(rows(&s, "lport:443 rport:443"), Vec::<u16>::new());
        // Keys ignore case; values keep their inner quotes escaped.
        assert_eq!(rows(&s, "Port:22 STATE:Listen"), [22]);
        assert_eq!(rows(&s, "-PID:10 pid:10,20"), [8080]);
        assert_eq!(rows(&s, "cmd:\"x\\\"y\""), Vec::<u16>::new());
        assert_eq!(unquote(r#""a\"b\\c\d""#), r#"a"b\c\d"#);
    }

    #[test]
    fn free_text_matches_anywhere_in_the_row() {
        let s = snapshot();
        assert_eq!(rows(&s, "python"), [8080]);
        assert_eq!(rows(&s, "UDP"), [443, 5353]);
        assert_eq!(rows(&s, "tcp root"), [8080, 22]);
        assert_eq!(rows(&s, "-D sshd"), Vec::<u16>::new());
        assert_eq!(rows(&s, "[::1]"), [22]);
        assert_eq!(rows(&s, ":80"), [8080, 80]);
        assert_eq!(rows(&s, "127.0.0.1:8080"), [8080]);
        assert_eq!(rows(&s, "fe80::1"), [5353]);
        assert_eq!(rows(&s, "[::ffff:10.0.0.9]:3000"), [3000]);
        assert_eq!(rows(&s, "nothing-like-this"), Vec::<u16>::new());
        // `--x` is text, not "not -x"; a lone `-` is text too.
        assert_eq!(rows(&s, "--port"), [9000]);
        assert_eq!(rows(&s, "-"), [8080, 22, 80, 9000, 5353]);
        // Hex digits before a colon start an IPv6 address, not a key.
        assert!(parse("dead:beef::1").is_ok());
        assert!(parse("C:\\Windows").is_ok());
    }

    #[test]
    fn lossy_parse_falls_back_to_plain_words() {
        let s = snapshot();
        let q = Query::parse_lossy("state:listn python");
        assert_eq!(q, Query::parse_lossy("state:listn python"));
        assert!(s.sockets.iter().all(|sock| !q.matches(&s, sock)));
        assert_eq!(
            Query::parse_lossy("state:listen"),
            parse("state:listen").expect("parses")
        );
        let q: Query = "python".parse().expect("parses");
        assert_eq!(q, Query::parse_lossy("python"));
    }

    #[test]
    fn terms_are_checked_cheapest_first() {
        let q = parse("nginx cmd:x user:y port:1").expect("parses");
        let costs: Vec<u8> = q.terms.iter().map(|t| t.test.cost()).collect();
        assert_eq!(costs, [0, 1, 2, 3]);
    }

    fn assert_error(text: &str, span: &str, message: &str, hint: &str) {
        let e = error(text);
        assert_eq!(&text[e.span.clone()], span, "{text:?}: {e}");
        assert_eq!(e.message, message, "{text:?}");
        assert_eq!(e.hint.as_deref(), Some(hint), "{text:?}");
    }

    #[test]
    fn errors_point_at_the_term_and_say_what_to_do() {
        assert_error(
            "tcp state:listn",
            "state:listn",
            "unknown state 'listn'",
            "did you mean 'listen'?",
        );
        assert_eq!(
            error("state:listn").to_string(),
            "unknown state 'listn' — did you mean 'listen'?"
        );
        assert_error(
            "state:time_wiat",
            "state:time_wiat",
            "unknown state 'time_wiat'",
            "did you mean 'time_wait'?",
        );
        assert_error(
            "state:est",
            "state:est",
            "unknown state 'est'",
            "did you mean 'established'?",
        );
        let e = error("state:zzz");
        assert!(
            e.hint
                .as_deref()
                .is_some_and(|h| h.starts_with("states are listen, ")),
            "{e}"
        );
        assert_error(
            "port:abc",
            "port:abc",
            "'abc' is not a port number",
            PORT_HINT,
        );
        assert_error(
            "a  port:70000  b",
            "port:70000",
            "port 70000 does not exist",
            "ports go from 0 to 65535",
        );
        assert_error(
            "port:9-3",
            "port:9-3",
            "the range 9-3 goes backwards",
            "put the lower port first: 3-9",
        );
        assert_error(
            "port:+80",
            "port:+80",
            "'+80' is not a port number",
            PORT_HINT,
        );
        assert_error("lport:-", "lport:-", "'-' is not a port range", PORT_HINT);
        assert_error(
            "port:80,,443",
            "port:80,,443",
            "empty item in the list",
            "separate the values with single commas, as in port:80,443",
        );
        assert_error(
            "-port:",
            "-port:",
            "'port:' needs a value",
            "for example port:443",
        );
        assert_error(
            "ADDR:\"\"",
            "ADDR:\"\"",
            "'addr:' needs a value",
            "for example ip:127.0.0.1",
        );
        assert_error(
            "potr:80",
            "potr:80",
            "unknown key 'potr:'",
            "did you mean 'port:'?",
        );
        assert_error(
            "prot:udp",
            "prot:udp",
            "unknown key 'prot:'",
            "did you mean 'proto:'?",
        );
        assert_error(
            "x stat:listen",
            "stat:listen",
            "unknown key 'stat:'",
            "did you mean 'state:'?",
        );
        let e = error("http://example.com");
        assert_eq!(e.message, "unknown key 'http:'");
        assert!(
            e.hint
                .as_deref()
                .is_some_and(|h| h.contains("put it in quotes")),
            "{e}"
        );
        assert!(parse("\"http://example.com\"").is_ok());
        assert_error(
            "ip:localhost",
            "ip:localhost",
            "'localhost' is not an IP address",
            "write ip:127.0.0.1 or ip:::1, or scope:local for any loopback address",
        );
        assert_error(
            "ip:1.2.3.4:80",
            "ip:1.2.3.4:80",
            "'1.2.3.4:80' is not an IP address",
            "give the address alone, and the port with port:",
        );
        assert_error(
            "ip:10.0.0.0/33",
            "ip:10.0.0.0/33",
            "'/33' is not a prefix length for an IPv4 address",
            "IPv4 prefixes go from /0 to /32",
        );
        assert_error(
            "ip:::/129",
            "ip:::/129",
            "'/129' is not a prefix length for an IPv6 address",
            "IPv6 prefixes go from /0 to /128",
        );
        assert!(parse("ip:10.0.0.0/+8").is_err());
        assert!(parse("ip:999.1.1.1").is_err());
        assert_error(
            "range:ephemral",
            "range:ephemral",
            "unknown range 'ephemral'",
            "did you mean 'ephemeral'?",
        );
        assert_error(
            "scope:al",
            "scope:al",
            "unknown scope 'al'",
            "did you mean 'all'?",
        );
        assert_error(
            "proto:tcp5",
            "proto:tcp5",
            "unknown protocol 'tcp5'",
            "did you mean 'tcp'?",
        );
        assert_error(
            "pid:12a",
            "pid:12a",
            "'12a' is not a process id",
            "a PID is a whole number, as in pid:1234 or pid:1234,5678",
        );
        assert_error(
            "pid:99999999999",
            "pid:99999999999",
            "PID 99999999999 is too large",
            "PIDs go up to 4294967295",
        );
        assert_error(
            "ok proc:\"my server",
            "proc:\"my server",
            "the quote is not closed",
            "end the quoted text with \"",
        );
        assert_error(
            "é \"\"",
            "\"\"",
            "nothing between the quotes",
            "put the text to look for between them",
        );
    }

    #[test]
    fn help_examples_all_parse() {
        for (example, meaning) in HELP {
            assert!(parse(example).is_ok(), "{example}");
            assert!(!meaning.is_empty());
        }
        // The examples in the summary are the parts in parentheses.
        let examples: Vec<&str> = SYNTAX
            .split(['(', ')'])
            .skip(1)
            .step_by(2)
            .filter(|e| e.contains(':'))
            .collect();
        assert_eq!(examples.len(), 4);
        for example in examples {
            assert!(parse(example).is_ok(), "{example}");
        }
    }

    #[test]
    fn suggestions_need_to_be_close() {
        assert_eq!(suggest("listn", &["listen", "closed"]), Some("listen"));
        assert_eq!(suggest("xyz", &["listen", "closed"]), None);
        assert_eq!(suggest("", &["listen"]), None);
        assert_eq!(edit_distance("ab", "ba"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    /// A small deterministic generator (xorshift), so failures reproduce.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn garbage_never_panics_and_errors_point_inside_the_text() {
        const CHARS: &[char] = &[
            'a', 'e', 'p', 'o', 'r', 't', 'x', 'Z', '0', '1', '5', '9', ':', ':', '-', '-', ',',
            '"', '"', '\\', '/', '[', ']', '.', ' ', ' ', '\t', '\u{3000}', 'é', 'ß', 'İ', '✓',
            '😀', '\u{0}', '\u{200b}', '%', '*',
        ];
        const PIECES: &[&str] = &[
            "port:",
            "lport:",
            "rport:",
            "ip:",
            "addr:",
            "laddr:",
            "raddr:",
            "proto:",
            "state:",
            "range:",
            "scope:",
            "pid:",
            "proc:",
            "cmd:",
            "user:",
            "-",
            "\"",
            "80",
            "65536",
            "8000-",
            "-9",
            ",",
            "::1",
            "[",
            "]",
            "/",
            "/129",
            "10.0.0.0",
            "listen",
            "time-wait",
            "tcp6",
            "ephemeral",
            "all",
            " ",
            "é",
            "\\\"",
            "99999999999999999999999",
        ];
        let snap = snapshot();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut ok, mut failed) = (0, 0);
        for round in 0..6000 {
            let len = rng.below(24);
            let text: String = if round % 2 == 0 {
                (0..len).map(|_| CHARS[rng.below(CHARS.len())]).collect()
            } else {
                (0..len).map(|_| PIECES[rng.below(PIECES.len())]).collect()
            };
            match parse(&text) {
                Ok(query) => {
                    ok += 1;
                    for sock in &snap.sockets {
                        let _ = query.matches(&snap, sock);
                    }
                }
                Err(e) => {
                    failed += 1;
                    assert!(e.span.start < e.span.end, "{text:?}: {e:?}");
                    assert!(text.get(e.span.clone()).is_some(), "{text:?}: {e:?}");
                    assert!(!e.message.is_empty() && e.hint.is_some(), "{text:?}");
                }
            }
            let _ = Query::parse_lossy(&text);
        }
        // Both paths were exercised.
        assert!(ok > 500 && failed > 500, "ok {ok}, failed {failed}");
    }

    #[test]
    fn row_texts_built_in_two_halves_match_row_by_row_texts() {
        let snap = Snapshot::from_poll(
            1,
            std::time::SystemTime::now(),
            std::time::Duration::ZERO,
            crate::collect::generated_poll(25_001),
        );
        let texts = RowTexts::build(&snap);
        let half = snap.sockets.len() / 2;
        for i in (0..snap.sockets.len()).step_by(997).chain([
            half - 1,
            half,
            half + 1,
            snap.sockets.len() - 1,
        ]) {
            // The same words (free text is matched word by word), in whatever order.
            let words = |t: &str| {
                let mut w: Vec<String> = t.split_whitespace().map(str::to_owned).collect();
                w.sort();
                w
            };
            let built = texts.get(i).map(words);
            assert_eq!(
                built,
                Some(words(&row_text(&snap, &snap.sockets[i]))),
                "row {i}"
            );
        }
        assert_eq!(texts.get(snap.sockets.len()), None);
    }
}
