//! What a port forwarder publishes, from its command line, and which container it leads to.
//!
//! The host side of a container's published port is a forwarder process: `docker-proxy` for
//! Docker, `pasta`/`passt`, `rootlessport` or `slirp4netns` for Podman, `rootlesskit` for
//! rootless Docker. The table shows it as the port's owner, and its name says nothing about where
//! the traffic goes. `docker-proxy` and `pasta` say it in their arguments:
//!
//! - `docker-proxy -proto tcp -host-ip 0.0.0.0 -host-port 8080 -container-ip 172.17.0.2
//!   -container-port 80` (Go's flags: `-x v`, `-x=v`, `--x v`, `--x=v`);
//! - `pasta … -t 8080:80 -u 127.0.0.1/5353:53 …` (`-t`/`--tcp-ports`, `-u`/`--udp-ports`:
//!   comma-separated `[address[%interface]/]port[-last][:target[-last]]`, `~` excluding ports,
//!   `all`, `auto` and `none`).
//!
//! `rootlessport`, `rootlesskit` and `slirp4netns` get their ports over a pipe or socket, so only
//! the runtime's API says what they forward ([`Forwarding::from_api_only`], [`forward_from_api`]).
//!
//! A command line belongs to whoever started the process and may say anything: nothing here
//! panics on any argument, runs anything, or believes a port that does not parse; what cannot be
//! understood is left out. A port range is expanded to at most [`MAX_FORWARDS`] forwards.

use std::net::{IpAddr, SocketAddr};

use super::api::{ContainerInfo, PublishedPort};
use crate::model::Proto;

/// The most forwards one command line yields; the rest are dropped ([`Forwarding::truncated`]).
pub const MAX_FORWARDS: usize = 4096;

/// One forwarded port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Forward {
    pub proto: Proto,
    /// The host address it listens on; `None` for all of them.
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    /// The container's address, where the forwarder names it (`docker-proxy` does; `pasta`
    /// forwards into its namespace, whose address it does not need).
    pub container_ip: Option<IpAddr>,
    pub container_port: u16,
}

/// The programs that forward host ports to containers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Forwarder {
    DockerProxy,
    Pasta,
    Passt,
    Rootlessport,
    Rootlesskit,
    Slirp4netns,
}

impl Forwarder {
    /// The forwarder a process is, from its name or its command line's program.
    pub fn of(name: &str, argv: &[String]) -> Option<Forwarder> {
        let program = argv
            .first()
            .map(|arg0| arg0.rsplit('/').next().unwrap_or(arg0));
        [Some(name), program]
            .into_iter()
            .flatten()
            .find_map(|name| match name {
                "docker-proxy" => Some(Forwarder::DockerProxy),
                "pasta" | "pasta.avx2" => Some(Forwarder::Pasta),
                "passt" | "passt.avx2" => Some(Forwarder::Passt),
                "rootlessport" => Some(Forwarder::Rootlessport),
                "rootlesskit" => Some(Forwarder::Rootlesskit),
                "slirp4netns" => Some(Forwarder::Slirp4netns),
                _ => None,
            })
    }

    pub fn label(self) -> &'static str {
        match self {
            Forwarder::DockerProxy => "docker-proxy",
            Forwarder::Pasta => "pasta",
            Forwarder::Passt => "passt",
            Forwarder::Rootlessport => "rootlessport",
            Forwarder::Rootlesskit => "rootlesskit",
            Forwarder::Slirp4netns => "slirp4netns",
        }
    }

    /// Whether its command line names no ports: only the runtime's API says what it forwards.
    pub fn from_api_only(self) -> bool {
        matches!(
            self,
            Forwarder::Rootlessport | Forwarder::Rootlesskit | Forwarder::Slirp4netns
        )
    }
}

/// What a forwarder's command line says it forwards.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Forwarding {
    pub forwarder: Option<Forwarder>,
    pub forwards: Vec<Forward>,
    /// Protocols for which it forwards every port that is free (pasta's `all`, `auto`, or only
    /// exclusions such as `-t ~22`): those are not in `forwards`.
    pub all_ports: Vec<Proto>,
    /// Its command line names no ports (`rootlessport`, `rootlesskit`, `slirp4netns`): what it
    /// forwards is known from the runtime's API only.
    pub from_api_only: bool,
    /// The ranges named more than [`MAX_FORWARDS`] ports; the rest were left out.
    pub truncated: bool,
}

/// What process `name` with command line `argv` forwards: `None` when it is no forwarder.
pub fn forwarding(name: &str, argv: &[String]) -> Option<Forwarding> {
    let forwarder = Forwarder::of(name, argv)?;
    let args = argv.get(1..).unwrap_or_default();
    let mut forwarding = Forwarding {
        forwarder: Some(forwarder),
        from_api_only: forwarder.from_api_only(),
        ..Forwarding::default()
    };
    match forwarder {
        Forwarder::DockerProxy => forwarding.forwards.extend(docker_proxy(args)),
        Forwarder::Pasta | Forwarder::Passt => pasta(args, &mut forwarding),
        Forwarder::Rootlessport | Forwarder::Rootlesskit | Forwarder::Slirp4netns => {}
    }
    Some(forwarding)
}

/// The one port a `docker-proxy` forwards.
fn docker_proxy(args: &[String]) -> Option<Forward> {
    let (mut proto, mut host_ip, mut host_port, mut container_ip, mut container_port) =
        (Some(Proto::Tcp), None, None, None, None);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let Some(flag) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            continue;
        };
        let (flag, inline) = match flag.split_once('=') {
            Some((flag, value)) => (flag, Some(value)),
            None => (flag, None),
        };
        if !matches!(
            flag,
            "proto" | "host-ip" | "host-port" | "container-ip" | "container-port"
        ) {
            continue;
        }
        let Some(value) = inline.or_else(|| args.next().map(String::as_str)) else {
            break;
        };
        match flag {
            "proto" => proto = proto_named(value),
            "host-ip" => host_ip = value.parse().ok(),
            "host-port" => host_port = port(value),
            "container-ip" => container_ip = value.parse().ok(),
            _ => container_port = port(value),
        }
    }
    Some(Forward {
        proto: proto?,
        host_ip: host_ip.filter(|ip: &IpAddr| !ip.is_unspecified()),
        host_port: host_port?,
        container_ip,
        container_port: container_port?,
    })
}

fn proto_named(name: &str) -> Option<Proto> {
    match name {
        "tcp" | "tcp4" | "tcp6" => Some(Proto::Tcp),
        "udp" | "udp4" | "udp6" => Some(Proto::Udp),
        _ => None,
    }
}

/// A port number from 1 to 65535.
fn port(text: &str) -> Option<u16> {
    text.parse().ok().filter(|port| *port != 0)
}

/// The `-t`/`--tcp-ports` and `-u`/`--udp-ports` options of a `pasta` or `passt`.
fn pasta(args: &[String], forwarding: &mut Forwarding) {
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == "--" {
            // What follows is the command pasta runs, not its options.
            break;
        }
        let (proto, inline) = match arg.as_str() {
            "-t" | "--tcp-ports" => (Proto::Tcp, None),
            "-u" | "--udp-ports" => (Proto::Udp, None),
            _ => {
                if let Some(spec) = arg.strip_prefix("--tcp-ports=") {
                    (Proto::Tcp, Some(spec))
                } else if let Some(spec) = arg.strip_prefix("--udp-ports=") {
                    (Proto::Udp, Some(spec))
                } else if let Some(spec) = arg.strip_prefix("-t").filter(|_| !arg.starts_with("--"))
                {
                    (Proto::Tcp, Some(spec))
                } else if let Some(spec) = arg.strip_prefix("-u").filter(|_| !arg.starts_with("--"))
                {
                    (Proto::Udp, Some(spec))
                } else {
                    continue;
                }
            }
        };
        let Some(spec) = inline.or_else(|| args.next().map(String::as_str)) else {
            break;
        };
        port_spec(proto, spec, forwarding);
    }
}

/// One `-t`/`-u` spec's forwards.
fn port_spec(proto: Proto, spec: &str, forwarding: &mut Forwarding) {
    let spec = spec.trim();
    match spec {
        "none" | "" => return,
        "all" | "auto" => {
            add_all(proto, forwarding);
            return;
        }
        _ => {}
    }
    let (address, ports) = match spec.split_once('/') {
        Some((address, ports)) => (Some(address), ports),
        None => (None, spec),
    };
    let host_ip = match address.map(|a| a.split_once('%').map_or(a, |(ip, _interface)| ip)) {
        None | Some("") => None,
        Some(ip) => match ip.parse::<IpAddr>() {
            Ok(ip) if ip.is_unspecified() => None,
            Ok(ip) => Some(ip),
            // An address that does not parse: better no forward than a wrong one.
            Err(_) => return,
        },
    };
    let mut forwards = Vec::new();
    let mut excluded: Vec<(u16, u16)> = Vec::new();
    for item in ports.split(',').map(str::trim) {
        if let Some(range) = item.strip_prefix('~') {
            excluded.extend(range_of(range));
            continue;
        }
        let (host, target) = match item.split_once(':') {
            Some((host, target)) => (host, Some(target)),
            None => (item, None),
        };
        let Some((first, last)) = range_of(host) else {
            continue;
        };
        let target_first = match target.map(range_of) {
            None => first,
            Some(None) => continue,
            Some(Some((target_first, target_last))) => {
                // A target range must be as long as the host's.
                if target_first != target_last && target_last - target_first != last - first {
                    continue;
                }
                target_first
            }
        };
        for host_port in first..=last {
            let Some(container_port) = (host_port - first)
                .checked_add(target_first)
                .filter(|port| *port != 0)
            else {
                break;
            };
            forwards.push(Forward {
                proto,
                host_ip,
                host_port,
                container_ip: None,
                container_port,
            });
            if forwards.len() > MAX_FORWARDS {
                break;
            }
        }
    }
    if forwards.is_empty() {
        if !excluded.is_empty() {
            // Only exclusions: every other port.
            add_all(proto, forwarding);
        }
        return;
    }
    forwards.retain(|f| {
        !excluded
            .iter()
            .any(|(first, last)| (*first..=*last).contains(&f.host_port))
    });
    for forward in forwards {
        if forwarding.forwards.len() >= MAX_FORWARDS {
            forwarding.truncated = true;
            return;
        }
        if !forwarding.forwards.contains(&forward) {
            forwarding.forwards.push(forward);
        }
    }
}

fn add_all(proto: Proto, forwarding: &mut Forwarding) {
    if !forwarding.all_ports.contains(&proto) {
        forwarding.all_ports.push(proto);
    }
}

/// `8000` or `8000-8010`.
fn range_of(text: &str) -> Option<(u16, u16)> {
    let (first, last) = match text.split_once('-') {
        Some((first, last)) => (port(first)?, port(last)?),
        None => (port(text)?, port(text)?),
    };
    (first <= last).then_some((first, last))
}

/// The container `forward` leads to among those a runtime's API listed: the one with its
/// container address (where the forwarder names one), else the one publishing its host port.
pub fn container_for<'a>(
    forward: &Forward,
    containers: &'a [ContainerInfo],
) -> Option<&'a ContainerInfo> {
    let publishes = |container: &ContainerInfo| publishing(forward, container).is_some();
    if let Some(ip) = forward.container_ip {
        let mut with_ip = containers.iter().filter(|c| c.addresses.contains(&ip));
        // Rootless networks may reuse an address: the one that also publishes the port wins.
        let first = with_ip.clone().next();
        if let Some(found) = with_ip.find(|c| publishes(c)).or(first) {
            return Some(found);
        }
    }
    containers.iter().find(|c| publishes(c))
}

/// The port of `container` that publishes `forward`'s host port.
fn publishing<'a>(forward: &Forward, container: &'a ContainerInfo) -> Option<&'a PublishedPort> {
    container.ports.iter().find(|port| {
        port.proto == forward.proto
            && port.public_port == Some(forward.host_port)
            && match (port.ip, forward.host_ip) {
                (Some(published), Some(listening)) => {
                    published.is_unspecified() || published == listening
                }
                _ => true,
            }
    })
}

/// For a forwarder whose command line names no ports (`rootlessport`, …) holding host port
/// `host_port` on `host_ip`: the forward and the container publishing it, from the API's list.
pub fn forward_from_api(
    proto: Proto,
    host_ip: IpAddr,
    host_port: u16,
    containers: &[ContainerInfo],
) -> Option<(Forward, &ContainerInfo)> {
    let mut forward = Forward {
        proto,
        host_ip: Some(host_ip).filter(|ip| !ip.is_unspecified()),
        host_port,
        container_ip: None,
        container_port: 0,
    };
    containers.iter().find_map(|container| {
        let published = publishing(&forward, container)?;
        forward.container_port = published.private_port;
        forward.container_ip = container
            .addresses
            .iter()
            .find(|ip| ip.is_ipv4() == host_ip.is_ipv4())
            .or(container.addresses.first())
            .copied();
        Some((forward, container))
    })
}

/// The sentence that explains a forward: "forwards host port 8080 to container web
/// (172.17.0.2:80)" — the container's name when known, else its short ID, else the address
/// alone. The name is the container owner's text: the UI escapes it as any other.
pub fn describe(forward: &Forward, container: Option<&ContainerInfo>) -> String {
    let what = match forward.proto {
        Proto::Tcp => "port",
        Proto::Udp => "UDP port",
    };
    let host = format!("forwards host {what} {}", forward.host_port);
    let at = forward
        .container_ip
        .map(|ip| SocketAddr::new(ip, forward.container_port));
    let port = forward.container_port;
    match (container, at) {
        (Some(container), at) => {
            let who = container.name().unwrap_or_else(|| container.short_id());
            match at {
                Some(at) => format!("{host} to container {who} ({at})"),
                None => format!("{host} to container {who}, port {port}"),
            }
        }
        (None, Some(at)) => format!("{host} to {at}"),
        (None, None) => format!("{host} to port {port} in its container's namespace"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    use crate::collect::containers::Runtime;

    fn argv(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn tcp(host_port: u16, container_port: u16) -> Forward {
        Forward {
            proto: Proto::Tcp,
            host_ip: None,
            host_port,
            container_ip: None,
            container_port,
        }
    }

    fn forwards(name: &str, line: &str) -> Vec<Forward> {
        forwarding(name, &argv(line)).unwrap().forwards
    }

    const PROXY: &str = "/usr/bin/docker-proxy -proto tcp -host-ip 0.0.0.0 -host-port 8080 \
                         -container-ip 172.17.0.2 -container-port 80 -use-listen-fd";

    #[test]
    fn docker_proxy_single_dash_flags() {
        let expected = Forward {
            container_ip: Some(ip("172.17.0.2")),
            ..tcp(8080, 80)
        };
        assert_eq!(forwards("docker-proxy", PROXY), [expected]);
    }

    #[test]
    fn docker_proxy_equals_and_double_dash_flags() {
        let found = forwards(
            "docker-proxy",
            "docker-proxy --proto=udp --host-ip=127.0.0.1 --host-port=5353 \
             -container-ip=fd00::2 --container-port 53",
        );
        assert_eq!(
            found,
            [Forward {
                proto: Proto::Udp,
                host_ip: Some(ip("127.0.0.1")),
                host_port: 5353,
                container_ip: Some(ip("fd00::2")),
                container_port: 53,
            }]
        );
    }

    #[test]
    fn docker_proxy_without_what_it_needs_forwards_nothing() {
        for line in [
            "docker-proxy",
            "docker-proxy -host-port 8080",
            "docker-proxy -proto sctp -host-port 1 -container-port 1",
            "docker-proxy -host-port 0 -container-port 80",
            "docker-proxy -host-port 70000 -container-port 80",
            "docker-proxy -host-port 8080 -container-port",
        ] {
            assert_eq!(forwards("docker-proxy", line), [], "{line}");
        }
    }

    #[test]
    fn the_program_is_known_by_its_name_or_its_arguments_first_word() {
        assert!(forwarding("docker-proxy", &[]).is_some());
        assert!(forwarding("anything", &argv(PROXY)).is_some());
        assert_eq!(forwarding("nginx", &argv("nginx -g daemon")), None);
        assert_eq!(forwarding("", &[]), None);
    }

    #[test]
    fn pasta_as_podman_runs_it() {
        let line = "/usr/bin/pasta --config-net -t 8080-8080:80-80 -u 127.0.0.1/5353:53 \
                    --dns-forward 169.254.1.1 -T none -U none --no-map-gw --quiet \
                    --netns /run/user/1000/netns/netns-1234 --map-guest-addr 169.254.1.2";
        let found = forwarding("pasta", &argv(line)).unwrap();
        assert_eq!(found.forwarder, Some(Forwarder::Pasta));
        assert_eq!(
            found.forwards,
            [
                tcp(8080, 80),
                Forward {
                    proto: Proto::Udp,
                    host_ip: Some(ip("127.0.0.1")),
                    host_port: 5353,
                    container_ip: None,
                    container_port: 53,
                }
            ]
        );
        assert!(!found.from_api_only && found.all_ports.is_empty() && !found.truncated);
    }

    #[test]
    fn pasta_spec_forms() {
        assert_eq!(forwards("pasta", "pasta -t 22"), [tcp(22, 22)]);
        assert_eq!(forwards("pasta", "pasta -t22:2222"), [tcp(22, 2222)]);
        assert_eq!(forwards("pasta", "pasta --tcp-ports=22"), [tcp(22, 22)]);
        assert_eq!(
            forwards("pasta", "pasta --tcp-ports 22,80:8080"),
            [tcp(22, 22), tcp(80, 8080)]
        );
        assert_eq!(
            forwards("pasta", "pasta -t 8000-8002:80-82"),
            [tcp(8000, 80), tcp(8001, 81), tcp(8002, 82)]
        );
        assert_eq!(
            forwards("pasta", "pasta -t 8000-8003,~8001-8002"),
            [tcp(8000, 8000), tcp(8003, 8003)]
        );
        assert_eq!(
            forwards("pasta", "pasta -t ::1/8080:80"),
            [Forward {
                host_ip: Some(ip("::1")),
                ..tcp(8080, 80)
            }]
        );
        assert_eq!(
            forwards(
                "pasta",
                "pasta -t 192.0.2.1%eth0/22 -t %eth0/23 -t 0.0.0.0/24"
            ),
            [
                Forward {
                    host_ip: Some(ip("192.0.2.1")),
                    ..tcp(22, 22)
                },
                tcp(23, 23),
                tcp(24, 24)
            ]
        );
        // The command pasta runs is not its options.
        assert_eq!(
            forwards("pasta", "pasta -t 22 -- sh -c -t 80"),
            [tcp(22, 22)]
        );
    }

    #[test]
    fn pasta_all_none_and_only_exclusions() {
        let found = forwarding("passt", &argv("passt -t all -u none")).unwrap();
        assert_eq!(found.forwarder, Some(Forwarder::Passt));
        assert_eq!(
            (found.forwards.as_slice(), found.all_ports.as_slice()),
            (&[][..], &[Proto::Tcp][..])
        );
        let found = forwarding("pasta", &argv("pasta -t ~22 -u auto")).unwrap();
        assert_eq!(found.all_ports, [Proto::Tcp, Proto::Udp]);
        assert!(found.forwards.is_empty());
    }

    #[test]
    fn pasta_ignores_what_does_not_parse() {
        for line in [
            "pasta -t",
            "pasta -t x",
            "pasta -t 80-70",
            "pasta -t 8000-8010:80-85",
            "pasta -t 0",
            "pasta -t 65536",
            "pasta -t nonsense/80",
            "pasta -t 1:2:3",
            "pasta -t 65535:65535-65536",
        ] {
            let found = forwarding("pasta", &argv(line)).unwrap();
            assert_eq!(found.forwards, [], "{line}");
        }
        // A target range that would pass 65535 stops there.
        assert_eq!(
            forwards("pasta", "pasta -t 10-12:65534"),
            [tcp(10, 65534), tcp(11, 65535)]
        );
    }

    #[test]
    fn huge_ranges_are_cut_short() {
        let found = forwarding("pasta", &argv("pasta -t 1-65535 -u 1-65535")).unwrap();
        assert_eq!(found.forwards.len(), MAX_FORWARDS);
        assert!(found.truncated);
    }

    #[test]
    fn rootless_forwarders_are_known_from_the_api_only() {
        for name in ["rootlessport", "slirp4netns", "rootlesskit"] {
            let found = forwarding(name, &argv(&format!("{name} --mtu 65520 1234 tap0"))).unwrap();
            assert!(found.from_api_only, "{name}");
            assert!(found.forwards.is_empty(), "{name}");
        }
    }

    fn web() -> ContainerInfo {
        ContainerInfo {
            runtime: Runtime::Docker,
            id: "3f4e5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081".to_owned(),
            names: vec!["web".to_owned()],
            image: "nginx".to_owned(),
            addresses: vec![ip("172.17.0.2")],
            ports: vec![PublishedPort {
                proto: Proto::Tcp,
                ip: Some(ip("0.0.0.0")),
                private_port: 80,
                public_port: Some(8080),
            }],
        }
    }

    fn db() -> ContainerInfo {
        ContainerInfo {
            id: "aaaaaaaaaaaabbbbbbbbbbbb".to_owned(),
            names: vec![],
            addresses: vec![ip("172.17.0.3")],
            ports: vec![PublishedPort {
                proto: Proto::Tcp,
                ip: Some(ip("127.0.0.1")),
                private_port: 5432,
                public_port: Some(15432),
            }],
            ..web()
        }
    }

    #[test]
    fn a_forward_finds_its_container_by_address_or_port() {
        let containers = [db(), web()];
        let by_ip = forwards("docker-proxy", PROXY)[0];
        assert_eq!(
            container_for(&by_ip, &containers).map(|c| c.name()),
            Some(Some("web"))
        );
        // pasta names no container address: the published port decides.
        assert_eq!(
            container_for(&tcp(8080, 80), &containers).map(|c| c.name()),
            Some(Some("web"))
        );
        assert_eq!(
            container_for(&tcp(15432, 5432), &containers).map(|c| c.short_id()),
            Some("aaaaaaaaaaaa")
        );
        // Published on 127.0.0.1 only: a forward on another address is not that one.
        let elsewhere = Forward {
            host_ip: Some(ip("192.0.2.1")),
            ..tcp(15432, 5432)
        };
        assert_eq!(container_for(&elsewhere, &containers), None);
        let udp = Forward {
            proto: Proto::Udp,
            ..tcp(8080, 80)
        };
        assert_eq!(container_for(&udp, &containers), None);
        assert_eq!(container_for(&tcp(9999, 80), &containers), None);
    }

    #[test]
    fn an_api_only_forwarder_is_explained_from_the_published_ports() {
        let containers = [db(), web()];
        let (forward, container) =
            forward_from_api(Proto::Tcp, ip("0.0.0.0"), 8080, &containers).unwrap();
        assert_eq!(container.name(), Some("web"));
        assert_eq!(
            describe(&forward, Some(container)),
            "forwards host port 8080 to container web (172.17.0.2:80)"
        );
        assert!(forward_from_api(Proto::Tcp, ip("0.0.0.0"), 1, &containers).is_none());
    }

    #[test]
    fn the_sentence_says_the_name_else_the_short_id_else_the_address() {
        let proxy = forwards("docker-proxy", PROXY)[0];
        assert_eq!(
            describe(&proxy, Some(&web())),
            "forwards host port 8080 to container web (172.17.0.2:80)"
        );
        assert_eq!(
            describe(&proxy, Some(&db())),
            "forwards host port 8080 to container aaaaaaaaaaaa (172.17.0.2:80)"
        );
        assert_eq!(
            describe(&proxy, None),
            "forwards host port 8080 to 172.17.0.2:80"
        );
        let v6 = Forward {
            proto: Proto::Udp,
            container_ip: Some(ip("fd00::2")),
            ..tcp(5353, 53)
        };
        assert_eq!(
            describe(&v6, None),
            "forwards host UDP port 5353 to [fd00::2]:53"
        );
        assert_eq!(
            describe(&tcp(8080, 80), Some(&web())),
            "forwards host port 8080 to container web, port 80"
        );
        assert_eq!(
            describe(&tcp(8080, 80), None),
            "forwards host port 8080 to port 80 in its container's namespace"
        );
    }

    proptest! {
        #[test]
        fn no_command_line_panics(
            name in "(docker-proxy|pasta|passt|rootlessport|x)",
            args in proptest::collection::vec(
                "(-{0,2}(proto|host-ip|host-port|container-ip|container-port|t|u|tcp-ports|udp-ports)=?)?[0-9a-f:.,~/%-]{0,20}|all|none|--",
                0..12,
            ),
        ) {
            let mut argv = vec![name.clone()];
            argv.extend(args);
            if let Some(found) = forwarding(&name, &argv) {
                prop_assert!(found.forwards.len() <= MAX_FORWARDS);
                for forward in &found.forwards {
                    prop_assert!(forward.host_port != 0 && forward.container_port != 0);
                    let _ = describe(forward, None);
                }
            }
        }

        #[test]
        fn no_text_panics(args in proptest::collection::vec("\\PC*", 0..6)) {
            let _ = forwarding("pasta", &args);
            let _ = forwarding("docker-proxy", &args);
        }
    }
}
