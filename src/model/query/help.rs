//! How to write a filter: a summary for the tooltip and examples for the help window.

/// A one-paragraph summary of the language, for a tooltip.
pub const SYNTAX: &str = "Every word must appear somewhere in the row (case does not matter). \
    key:value looks in one column: port lport rport · ip laddr raddr · proto state range risk scope · \
    pid proc cmd user · rate rtt retrans recvq sendq drops compare with > < >= <= (rate:>100k). Commas list alternatives (port:80,443), a dash gives a port range \
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
    (
        "ns:other",
        "in another network namespace than portscope's (a container's, ip netns); ns:own",
    ),
    (
        "container:web",
        "in a container whose name contains web (or whose ID starts so; container:docker)",
    ),
    (
        "host:db1",
        "on the host whose name contains db1 (hosts over SSH); host:local for this machine",
    ),
    (
        "ns:blue",
        "in the network namespace named blue (ip netns), or ns:4026532177 by number",
    ),
    ("range:well-known", "local port 0–1023 (also: system)"),
    ("range:registered", "local port 1024–49151 (also: user)"),
    ("range:dynamic", "local port 49152–65535 (also: private)"),
    (
        "range:ephemeral",
        "local port inside this machine's ephemeral range",
    ),
    (
        "risk:ephemeral",
        "servers on a port the OS may hand to an outgoing connection (inside the ephemeral \
         range, not reserved)",
    ),
    ("scope:all", "bound to every interface (0.0.0.0 or ::)"),
    ("scope:local", "bound to loopback: this machine only"),
    ("scope:iface", "bound to the address of one interface"),
    (
        "rate:>100k",
        "either direction moves more than 100 kB/s (k, m, g; rate:<1.5m: both below)",
    ),
    ("rtt:>50ms", "round-trip time above 50 ms (us, ms, s)"),
    ("retrans:>0", "connections that retransmitted a segment"),
    (
        "recvq:>0",
        "data waiting to be read (sendq:>0: waiting for the peer's acknowledgement)",
    ),
    (
        "drops:>0",
        "UDP sockets that dropped datagrams: they arrived faster than they were read",
    ),
    (
        "state:listen scope:all -user:root",
        "terms combine: every one must hold",
    ),
];
