//! Turning the filter box's text into terms, or into an error that points at the term and
//! says how to put it right.

use std::net::{IpAddr, SocketAddr};

use super::matching::{
    Cmp, Metric, Network, NsSel, PortSpan, ProtoSel, RangeSel, Side, Test, UserSel,
};
use super::{QueryError, Term};
use crate::knowledge::IanaRange;
use crate::model::{BindScope, Proto, SockState};

/// A whitespace-separated piece of the text; whitespace inside double quotes does not split.
pub(super) struct Token<'a> {
    pub(super) start: usize,
    pub(super) raw: &'a str,
}

pub(super) fn tokens(text: &str) -> Result<Vec<Token<'_>>, QueryError> {
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
pub(super) fn unquote(raw: &str) -> String {
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
pub(super) struct Problem {
    pub(super) message: String,
    pub(super) hint: String,
}

impl Problem {
    pub(super) fn new(message: impl Into<String>, hint: impl Into<String>) -> Problem {
        Problem {
            message: message.into(),
            hint: hint.into(),
        }
    }

    pub(super) fn with_suggestion(
        message: String,
        suggestion: Option<&str>,
        otherwise: &str,
    ) -> Problem {
        let hint = match suggestion {
            Some(s) => format!("did you mean '{s}'?"),
            None => otherwise.to_owned(),
        };
        Problem::new(message, hint)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Key {
    Port(Side),
    Addr(Side),
    Proto,
    State,
    Range,
    Risk,
    Scope,
    Pid,
    Proc,
    Cmd,
    User,
    Netns,
    Container,
    Host,
    Measure(Metric),
}

pub(super) const KEYS: &[(&str, Key)] = &[
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
    ("risk", Key::Risk),
    ("scope", Key::Scope),
    ("pid", Key::Pid),
    ("proc", Key::Proc),
    ("cmd", Key::Cmd),
    ("user", Key::User),
    ("ns", Key::Netns),
    ("netns", Key::Netns),
    ("container", Key::Container),
    ("host", Key::Host),
    ("rate", Key::Measure(Metric::Rate)),
    ("rtt", Key::Measure(Metric::Rtt)),
    ("retrans", Key::Measure(Metric::Retrans)),
    ("recvq", Key::Measure(Metric::RecvQ)),
    ("sendq", Key::Measure(Metric::SendQ)),
    ("drops", Key::Measure(Metric::Drops)),
];

pub(super) const KEY_LIST: &str = "port, lport, rport, ip, addr, laddr, raddr, proto, state, range, \
    risk, scope, pid, proc, cmd, user, ns, container, host, rate, rtt, retrans, recvq, sendq, drops";

pub(super) fn parse_term(raw: &str) -> Result<Term, Problem> {
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
pub(super) fn split_key(body: &str) -> Result<Option<(Key, &str, &str)>, Problem> {
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
    // `http://…` is a URL, whatever key its scheme looks like.
    let url = value.starts_with("//");
    let hint = match suggest(&name.to_ascii_lowercase(), &names).filter(|_| !url) {
        Some(key) => format!("did you mean '{key}:'?"),
        None => format!("keys are {KEY_LIST}; to look for the text itself, put it in quotes"),
    };
    Err(Problem::new(format!("unknown key '{name}:'"), hint))
}

pub(super) fn parse_value(key: Key, name: &str, value: &str) -> Result<Test, Problem> {
    if value.trim().is_empty() {
        let example = match key {
            Key::Port(_) => "port:443",
            Key::Addr(_) => "ip:127.0.0.1",
            Key::Proto => "proto:udp",
            Key::State => "state:listen",
            Key::Range => "range:ephemeral",
            Key::Risk => "risk:ephemeral",
            Key::Scope => "scope:all",
            Key::Pid => "pid:1234",
            Key::Proc => "proc:nginx",
            Key::Cmd => "cmd:--config",
            Key::User => "user:root",
            Key::Netns => "ns:other",
            Key::Container => "container:web",
            Key::Host => "host:db1",
            Key::Measure(metric) => measure_example(metric),
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
        Key::Risk => list(value, parse_risk).map(|_| Test::EphemeralRisk)?,
        Key::Scope => Test::Scope(list(value, parse_scope)?),
        Key::Pid => Test::Pid(list(value, parse_pid)?),
        Key::Proc => Test::Proc(value.to_lowercase()),
        Key::Cmd => Test::Cmd(value.to_lowercase()),
        Key::Measure(metric) => parse_measure(metric, value)?,
        Key::Netns => Test::Netns(list(value, |v| {
            Ok(match v.to_ascii_lowercase().as_str() {
                "own" | "host" => NsSel::Own,
                "other" | "others" => NsSel::Other,
                _ if digits(v) => NsSel::Inode(v.parse().map_err(|_| {
                    Problem::new(
                        format!("'{v}' is not a namespace number"),
                        "as in ns:4026532177 (net:[N] in /proc/PID/ns/net)",
                    )
                })?),
                lower => NsSel::Name(lower.to_owned()),
            })
        })?),
        Key::Container => Test::Container(list(value, |v| Ok(v.to_lowercase()))?),
        Key::Host => Test::Host(list(value, |v| Ok(v.to_lowercase()))?),
        Key::User => Test::User(list(value, |v| {
            Ok(UserSel {
                name: v.to_lowercase(),
                uid: digits(v).then(|| v.parse().ok()).flatten(),
            })
        })?),
    })
}

/// A comma-separated list of values, each trimmed.
pub(super) fn list<T>(
    value: &str,
    item: impl Fn(&str) -> Result<T, Problem>,
) -> Result<Vec<T>, Problem> {
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

pub(super) fn digits(v: &str) -> bool {
    !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())
}

pub(super) const PORT_HINT: &str = "a port is a number from 0 to 65535: port:443, port:80,443 or \
    port:8000-8999";

pub(super) fn parse_port_span(v: &str) -> Result<PortSpan, Problem> {
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

/// A port as [`crate::knowledge::parse_port`] reads it, with the filter's messages; the
/// value must be the digits alone (no spaces inside a quoted term).
pub(super) fn parse_port(v: &str) -> Result<u16, Problem> {
    use crate::knowledge::PortParseError;
    match crate::knowledge::parse_port(v) {
        Ok(port) if v.trim() == v => Ok(port),
        Err(PortParseError::TooLarge(_)) if v.trim() == v => Err(Problem::new(
            format!("port {v} does not exist"),
            "ports go from 0 to 65535",
        )),
        _ => Err(Problem::new(
            format!("'{v}' is not a port number"),
            PORT_HINT,
        )),
    }
}

pub(super) fn parse_pid(v: &str) -> Result<u32, Problem> {
    if !digits(v) {
        return Err(Problem::new(
            format!("'{v}' is not a process id"),
            "a PID is a whole number, as in pid:1234 or pid:1234,5678",
        ));
    }
    v.parse()
        .map_err(|_| Problem::new(format!("PID {v} is too large"), "PIDs go up to 4294967295"))
}

pub(super) fn parse_network(v: &str) -> Result<Network, Problem> {
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
pub(super) fn normalize(v: &str) -> String {
    v.chars()
        .filter(|c| !matches!(c, '-' | '_' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Looks `v` up in `(normalized name, value)` pairs; on failure, suggests one of `shown`.
pub(super) fn lookup<T: Copy>(
    v: &str,
    names: &[(&str, T)],
    what: &str,
    shown: &[&str],
) -> Result<T, Problem> {
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

fn measure_example(metric: Metric) -> &'static str {
    match metric {
        Metric::Rate => "rate:>100k",
        Metric::Rtt => "rtt:>50ms",
        Metric::Retrans => "retrans:>0",
        Metric::RecvQ => "recvq:>0",
        Metric::SendQ => "sendq:>0",
        Metric::Drops => "drops:>0",
    }
}

/// `>100k`, `<=50ms`, `0`: a comparison (none: equal) and a number in the metric's unit.
pub(super) fn parse_measure(metric: Metric, value: &str) -> Result<Test, Problem> {
    let (cmp, number) = [
        (">=", Cmp::Ge),
        ("<=", Cmp::Le),
        (">", Cmp::Gt),
        ("<", Cmp::Lt),
        ("=", Cmp::Eq),
    ]
    .into_iter()
    .find_map(|(op, cmp)| value.strip_prefix(op).map(|rest| (cmp, rest)))
    .unwrap_or((Cmp::Eq, value));
    let example = measure_example(metric);
    if number.is_empty() {
        return Err(Problem::new(
            format!("'{value}' has no number to compare with"),
            format!("for example {example}"),
        ));
    }
    let bound = match metric {
        Metric::Rate => parse_rate(number)?,
        Metric::Rtt => parse_duration_us(number)?,
        Metric::Retrans | Metric::RecvQ | Metric::SendQ | Metric::Drops => {
            if !digits(number) {
                return Err(Problem::new(
                    format!("'{number}' is not a whole number"),
                    format!("a count is a whole number, as in {example}"),
                ));
            }
            number.parse().map_err(|_| {
                Problem::new(
                    format!("{number} is too large"),
                    format!("for example {example}"),
                )
            })?
        }
    };
    Ok(Test::Measure(metric, cmp, bound))
}

/// A decimal number and what it is made of: `1.5` → 1.5. Only digits and one point.
fn decimal(text: &str) -> Option<f64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let fine = !whole.is_empty()
        && digits(whole)
        && (fraction.is_empty() && !text.ends_with('.') || digits(fraction));
    fine.then(|| text.parse().ok()).flatten()
}

/// Bytes per second: `100k` (thousands), `1.5m`, `2g`, or plain bytes. Decimal units, as
/// network speeds are written.
pub(super) fn parse_rate(v: &str) -> Result<u64, Problem> {
    const HINT: &str = "a rate is bytes per second, with k, m or g for thousands, millions or \
        billions: rate:>100k, rate:<1.5m";
    let split = v
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(v.len());
    let (number, suffix) = v.split_at(split);
    let scale = match suffix.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        _ => {
            return Err(Problem::new(
                format!("unknown unit '{suffix}' in rate '{v}'"),
                HINT,
            ));
        }
    };
    let Some(n) = decimal(number) else {
        return Err(Problem::new(format!("'{v}' is not a rate"), HINT));
    };
    let bytes = n * scale;
    if bytes >= u64::MAX as f64 {
        return Err(Problem::new(format!("the rate {v} is too large"), HINT));
    }
    Ok(bytes.round() as u64)
}

/// A duration in microseconds: `50ms`, `1.5s`, `800us`. The unit is needed: a bare `50`
/// could be any of them.
pub(super) fn parse_duration_us(v: &str) -> Result<u64, Problem> {
    const HINT: &str = "write a time with its unit, us, ms or s: rtt:>50ms, rtt:<800us";
    let split = v
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(v.len());
    let (number, unit) = v.split_at(split);
    let scale = match unit.to_ascii_lowercase().as_str() {
        "us" | "µs" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "" => {
            return Err(Problem::new(format!("'{v}' has no unit"), HINT));
        }
        _ => {
            return Err(Problem::new(
                format!("unknown unit '{unit}' in time '{v}'"),
                HINT,
            ));
        }
    };
    let Some(n) = decimal(number) else {
        return Err(Problem::new(format!("'{v}' is not a time"), HINT));
    };
    let us = n * scale;
    if us >= u64::MAX as f64 {
        return Err(Problem::new(format!("the time {v} is too long"), HINT));
    }
    Ok(us.round() as u64)
}

pub(super) fn parse_state(v: &str) -> Result<SockState, Problem> {
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

pub(super) fn parse_proto(v: &str) -> Result<ProtoSel, Problem> {
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

pub(super) fn parse_range(v: &str) -> Result<RangeSel, Problem> {
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

/// `risk:ephemeral`, the one risk there is so far.
pub(super) fn parse_risk(v: &str) -> Result<(), Problem> {
    lookup(v, &[("ephemeral", ())], "risk", &["ephemeral"])
}

pub(super) fn parse_scope(v: &str) -> Result<BindScope, Problem> {
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
pub(crate) fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
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
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
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
