//! What a port number means *and* what is on it now: the port's knowledge with a headline that
//! says first what uses the port in a snapshot, then what the number suggests — as a guess that
//! never contradicts what is there. Here, not in [`knowledge`](crate::knowledge), because it
//! reads the model's snapshot, and knowledge stays below the model.

use crate::knowledge::{EphemeralRisk, PortKnowledge, Transport, explain, headline, port_label};
use crate::model::text::escape;
use crate::model::{BindScope, Owner, Snapshot, SockState, Socket, mapped_ipv4};

/// [`explain`](crate::knowledge::explain), with a headline that first says what uses the port in `snapshot` now (its
/// sockets of `transport`), and then what the number suggests — as a guess, and never
/// contradicting what is there. Judged against the snapshot's ephemeral range.
pub fn explain_now(port: u16, transport: Option<Transport>, snapshot: &Snapshot) -> PortKnowledge {
    let mut knowledge = explain(port, transport, &snapshot.ephemeral);
    let on_port: Vec<&Socket> = snapshot
        .sockets_on_port(port)
        .filter(|s| transport.is_none_or(|t| t.as_str() == s.proto.as_str()))
        .collect();
    let label = knowledge.label();
    if let Some(now) = in_use_now(&label, &on_port, snapshot) {
        let listening = on_port.iter().any(|s| s.state.is_listening());
        let guess = headline(
            &port_label(port, transport).replacen("Port", "By its number, port", 1),
            port,
            knowledge.range,
            &knowledge.iana,
            knowledge.note,
            &knowledge.ephemeral,
            listening,
        );
        knowledge.headline = format!("{now} {guess}");
    }
    let listeners = on_port
        .iter()
        .filter(|s| snapshot.at_ephemeral_risk(s))
        .count();
    knowledge.ephemeral_risk = EphemeralRisk::of(
        port,
        listeners,
        snapshot.ephemeral_ports_in_use(),
        &snapshot.ephemeral,
    );
    knowledge
}

/// The headline's first sentence when something uses the port: what is there, before any
/// guess from the number. `label` is "Port 22/tcp"; `on_port` the port's sockets of that
/// transport in `snap`. `None` when there are none.
///
/// "Port 8080/tcp: a server is listening here now — python3 (PID 1234), on every interface."
fn in_use_now(label: &str, on_port: &[&Socket], snap: &Snapshot) -> Option<String> {
    if on_port.is_empty() {
        return None;
    }
    let listeners: Vec<&Socket> = on_port
        .iter()
        .copied()
        .filter(|s| s.state.is_listening())
        .collect();
    if !listeners.is_empty() {
        let what = if listeners.iter().all(|s| s.state == SockState::Unconn) {
            "a program is bound here now, receiving datagrams"
        } else {
            "a server is listening here now"
        };
        let mut scopes: Vec<String> = Vec::new();
        for s in &listeners {
            let scope = scope_words(s);
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        return Some(format!(
            "{label}: {what} — {}, {}.",
            holders(&listeners, snap),
            scopes.join(" and ")
        ));
    }
    let n = on_port.len();
    let connections = if n == 1 {
        "1 connection".to_owned()
    } else {
        format!("{n} connections")
    };
    let open: Vec<&Socket> = on_port
        .iter()
        .copied()
        .filter(|s| s.state != SockState::TimeWait)
        .collect();
    Some(if open.is_empty() {
        format!(
            "{label}: no program holds it now, but the kernel keeps {connections} that ended on it \
             in TIME_WAIT for about a minute."
        )
    } else {
        format!(
            "{label} is in use now as the local end of {connections} — {}.",
            holders(&open, snap)
        )
    })
}

/// Who holds the sockets: "python3 (PID 1234)", each process once, or why none is shown.
fn holders(sockets: &[&Socket], snap: &Snapshot) -> String {
    const SHOWN: usize = 3;
    let mut names: Vec<String> = Vec::new();
    for s in sockets {
        let found = match snap.owner(s) {
            Owner::Processes(list) => list
                .iter()
                .map(|(pid, info)| match info {
                    Some(p) => format!("{} (PID {pid})", escape(&p.name)),
                    None => format!("PID {pid}"),
                })
                .collect(),
            Owner::None(reason) => {
                vec![format!("no visible process ({})", escape(&reason.short()))]
            }
        };
        for name in found {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    if names.len() > SHOWN + 1 {
        let more = names.len() - SHOWN;
        names.truncate(SHOWN);
        format!("{} and {more} others", names.join(", "))
    } else {
        names.join(", ")
    }
}

/// Where a listener can be reached from, as the end of a sentence.
fn scope_words(s: &Socket) -> String {
    let mapped = mapped_ipv4(s.local_addr);
    match (s.bind_scope(), mapped) {
        (BindScope::AllInterfaces, None) => "on every interface".to_owned(),
        (BindScope::AllInterfaces, Some(_)) => {
            "on every IPv4 interface (0.0.0.0 through an IPv6 socket)".to_owned()
        }
        (BindScope::Loopback, None) => "on this machine only (loopback)".to_owned(),
        (BindScope::Loopback, Some(v4)) => {
            format!("on this machine only (loopback: IPv4 {v4} through an IPv6 socket)")
        }
        (BindScope::Interface, None) => format!("on the interface address {} only", s.local_addr),
        (BindScope::Interface, Some(v4)) => {
            format!("on the interface address {v4} only (IPv4 through an IPv6 socket)")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::EphemeralRange;

    fn linux_default() -> EphemeralRange {
        EphemeralRange::from_linux_sysctl(Ok("32768\t60999\n".into()), Ok("\n".into()))
    }

    /// A snapshot of `sockets`, python3 (PID 1234) and firefox (PID 4242) known.
    fn machine(sockets: Vec<crate::model::Socket>) -> crate::model::Snapshot {
        let mut snap = crate::model::Snapshot {
            seq: 1,
            sockets,
            ephemeral: linux_default(),
            ..crate::model::Snapshot::default()
        };
        for (pid, name) in [(1234, "python3"), (4242, "firefox")] {
            snap.processes.insert(
                pid,
                crate::model::ProcessInfo {
                    pid,
                    name: name.to_owned(),
                    exe: None,
                    cmdline: Vec::new(),
                    uid: Some(1000),
                    user: Some("alice".to_owned()),
                    parent_pid: None,
                    start_time: None,
                },
            );
        }
        snap
    }

    fn sock(
        proto: crate::model::Proto,
        local: &str,
        state: crate::model::SockState,
        pid: Option<u32>,
    ) -> crate::model::Socket {
        let local: std::net::SocketAddr = local.parse().expect("an endpoint");
        let connected = !state.is_listening();
        crate::model::Socket {
            host: 0,
            proto,
            local_addr: local.ip(),
            local_port: local.port(),
            remote_addr: connected.then(|| "93.184.216.34".parse().expect("an address")),
            remote_port: connected.then_some(443),
            state,
            pids: pid.map(|p| vec![p]).unwrap_or_default().into(),
            uid: Some(1000),
            inode: Some(7),
            cookie: 0,
            recv_q: 0,
            send_q: 0,
            netns: 0,
        }
    }

    #[test]
    fn a_listener_in_the_ephemeral_range_is_said_first_and_warned_about() {
        use crate::model::{Proto, SockState};
        let snap = machine(vec![sock(
            Proto::Tcp,
            "0.0.0.0:60853",
            SockState::Listen,
            Some(1234),
        )]);
        let headline = explain_now(60853, Some(Transport::Tcp), &snap).headline;
        assert!(
            headline.starts_with(
                "Port 60853/tcp: a server is listening here now — python3 (PID 1234), on every \
                 interface. By its number, port 60853/tcp is in the dynamic range (49152–65535): \
                 IANA never assigns it. Warning: it lies inside this machine's ephemeral range \
                 32768–60999, so while this server is down the kernel may give the port to an \
                 outgoing connection"
            ),
            "{headline}"
        );
        assert!(!headline.contains("temporary local end"), "{headline}");
        // The same in the registered range, inside the ephemeral range.
        let snap = machine(vec![sock(
            Proto::Tcp,
            "127.0.0.1:40000",
            SockState::Listen,
            Some(1234),
        )]);
        let headline = explain_now(40000, Some(Transport::Tcp), &snap).headline;
        assert!(
            headline.starts_with(
                "Port 40000/tcp: a server is listening here now — python3 (PID 1234), on this \
                 machine only (loopback). By its number, port 40000/tcp is a registered port"
            ),
            "{headline}"
        );
        assert!(headline.contains("Warning: it lies inside"), "{headline}");
        assert!(!headline.contains("temporary local end"), "{headline}");
    }

    #[test]
    fn the_headline_says_what_uses_the_port_before_guessing() {
        use crate::model::{Proto, SockState};
        // A connection from the port: the guess agrees with it.
        let snap = machine(vec![sock(
            Proto::Tcp,
            "192.168.1.20:60296",
            SockState::Established,
            Some(4242),
        )]);
        assert_eq!(
            explain_now(60296, Some(Transport::Tcp), &snap).headline,
            "Port 60296/tcp is in use now as the local end of 1 connection — firefox (PID 4242). \
             By its number, port 60296/tcp is in the dynamic range (49152–65535): IANA never \
             assigns it. It lies inside this machine's ephemeral range 32768–60999, so it is \
             almost certainly the temporary local end of an outgoing connection."
        );
        // Only TIME_WAIT left: no program, and the kernel keeps it.
        let snap = machine(vec![sock(
            Proto::Tcp,
            "192.168.1.20:60296",
            SockState::TimeWait,
            None,
        )]);
        assert!(
            explain_now(60296, Some(Transport::Tcp), &snap)
                .headline
                .starts_with(
                    "Port 60296/tcp: no program holds it now, but the kernel keeps 1 connection \
                     that ended on it in TIME_WAIT"
                )
        );
        // A UDP socket on loopback through an IPv6 socket; asked about TCP, nothing is there.
        let snap = machine(vec![sock(
            Proto::Udp,
            "[::ffff:127.0.0.1]:5353",
            SockState::Unconn,
            Some(1234),
        )]);
        assert_eq!(
            explain_now(5353, Some(Transport::Udp), &snap)
                .headline
                .split(". By its number")
                .next(),
            Some(
                "Port 5353/udp: a program is bound here now, receiving datagrams — python3 \
                 (PID 1234), on this machine only (loopback: IPv4 127.0.0.1 through an IPv6 socket)"
            )
        );
        assert_eq!(
            explain_now(5353, Some(Transport::Tcp), &snap),
            explain(5353, Some(Transport::Tcp), &linux_default())
        );
        // Nothing on the port: the number is all there is to say.
        let empty = machine(Vec::new());
        assert_eq!(
            explain_now(60296, Some(Transport::Tcp), &empty),
            explain(60296, Some(Transport::Tcp), &linux_default())
        );
    }
}
