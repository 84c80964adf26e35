//! The risk of a server on a port inside the ephemeral range, and how to take it away.
//!
//! The OS hands ports of its ephemeral range to outgoing connections without asking anyone.
//! A server configured on such a port (on Linux 32768–60999 holds popular choices: 33060,
//! 35729, 44300, 50000, 60000) works until, one day, it restarts while an outgoing connection
//! happens to hold its number, and fails with `EADDRINUSE`. The failure is rare and random,
//! so nobody connects it with the port number. This module words the risk and gives each OS's
//! remedy as ready-to-paste commands: reserve the port (Linux), move the range (macOS),
//! exclude the port (Windows) — or move the service.

use serde::Serialize;

use super::commands::CheckCommand;
use super::ephemeral::{EphemeralRange, EphemeralSource};
use super::transport::Transport;

/// What the risk to a server on one port is now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EphemeralRisk {
    /// Listening sockets on the port (TCP listeners, unconnected UDP sockets).
    pub listeners: usize,
    /// Distinct ports of the ephemeral range in use now, and the range's size: the gauge.
    pub ports_in_use: usize,
    pub range_size: usize,
    /// What can happen and how likely it is now, in sentences.
    pub explanation: String,
}

impl EphemeralRisk {
    /// The risk to `listeners` servers on `port`, with `ports_in_use` ports of `ephemeral`
    /// taken now. `None` when the OS does not hand the port out (outside the range, reserved).
    pub fn of(
        port: u16,
        listeners: usize,
        ports_in_use: usize,
        ephemeral: &EphemeralRange,
    ) -> Option<EphemeralRisk> {
        if listeners == 0 || !ephemeral.may_hand_out(port) {
            return None;
        }
        let range_size = ephemeral.len();
        let share = if range_size == 0 {
            0.0
        } else {
            ports_in_use as f64 * 100.0 / range_size as f64
        };
        let explanation = format!(
            "Port {port} lies inside the ephemeral range {}–{}, which the OS hands out to \
             outgoing connections. While this server is stopped (a restart, an upgrade, a crash) \
             an outgoing connection may be given port {port}; the server then fails to start \
             with EADDRINUSE (\"Address already in use\") until that connection is over, which \
             takes minutes when it lingers in TIME_WAIT. Ports of the range in use now: {ports_in_use} of \
             {range_size} ({share:.1}%), about the chance that the port is taken at the moment \
             the server comes back; more outgoing connections make it likelier. \
             Reserving the port, or moving the server outside the range, removes the risk.",
            ephemeral.start, ephemeral.end
        );
        Some(EphemeralRisk {
            listeners,
            ports_in_use,
            range_size,
            explanation,
        })
    }
}

/// An operating system that has its own remedy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    Linux,
    MacOs,
    Windows,
}

impl Os {
    /// The OS this program was built for, if it is one of those.
    pub fn this() -> Option<Os> {
        if cfg!(any(target_os = "linux", target_os = "android")) {
            Some(Os::Linux)
        } else if cfg!(target_os = "macos") {
            Some(Os::MacOs)
        } else if cfg!(target_os = "windows") {
            Some(Os::Windows)
        } else {
            None
        }
    }
}

/// Commands that keep this OS from handing `port` out (for `transport`; `None`: TCP and UDP),
/// and one that finds ports to move the service to. Empty when the OS does not hand the port
/// out anyway.
pub fn reserve_commands(
    port: u16,
    transport: Option<Transport>,
    ephemeral: &EphemeralRange,
) -> Vec<CheckCommand> {
    match Os::this() {
        Some(os) => reserve_commands_for(os, port, transport, ephemeral),
        None => Vec::new(),
    }
}

/// [`reserve_commands`] for `os`.
pub fn reserve_commands_for(
    os: Os,
    port: u16,
    transport: Option<Transport>,
    ephemeral: &EphemeralRange,
) -> Vec<CheckCommand> {
    if !ephemeral.may_hand_out(port) {
        return Vec::new();
    }
    let sh = |os, command: String, purpose| CheckCommand {
        os,
        shell: "sh",
        command,
        purpose,
    };
    let mut commands = match os {
        Os::Linux => {
            let list = reserved_list_with(port, ephemeral);
            vec![
                sh(
                    "Linux",
                    format!("sudo sysctl -w net.ipv4.ip_local_reserved_ports={list}"),
                    "Reserve the port now, keeping the ports reserved already (IPv4 and IPv6, \
                     until reboot)",
                ),
                sh(
                    "Linux",
                    format!(
                        "echo 'net.ipv4.ip_local_reserved_ports = {list}' | sudo tee \
                         /etc/sysctl.d/90-reserved-ports.conf"
                    ),
                    "Keep it reserved after a reboot (a later file in /etc/sysctl.d setting the \
                     same key wins)",
                ),
            ]
        }
        Os::MacOs => {
            // macOS has no list of reserved ports: the range itself must leave the port out,
            // on the side that costs fewer ports.
            let (setting, value) = if port - ephemeral.start <= ephemeral.end - port {
                ("first", port.saturating_add(1))
            } else {
                ("last", port - 1)
            };
            vec![
                sh(
                    "macOS",
                    format!("sudo sysctl -w net.inet.ip.portrange.{setting}={value}"),
                    "Move the edge of the ephemeral range past the port (until reboot)",
                ),
                sh(
                    "macOS",
                    format!(
                        "echo 'net.inet.ip.portrange.{setting}={value}' | sudo tee -a \
                         /etc/sysctl.conf"
                    ),
                    "Keep the range that way after a reboot",
                ),
            ]
        }
        Os::Windows => {
            let protocols: &[&str] = match transport {
                Some(Transport::Udp) => &["udp"],
                Some(Transport::Tcp) => &["tcp"],
                _ => &["tcp", "udp"],
            };
            let mut list = Vec::new();
            for protocol in protocols {
                for family in ["ipv4", "ipv6"] {
                    list.push(CheckCommand {
                        os: "Windows",
                        shell: "cmd",
                        command: format!(
                            "netsh int {family} add excludedportrange protocol={protocol} \
                             startport={port} numberofports=1"
                        ),
                        purpose: "Exclude the port from the dynamic range (as administrator; \
                                  kept after a reboot)",
                    });
                }
            }
            list
        }
    };
    let os_name = commands.first().map_or("Linux", |c| c.os);
    let flag = match transport {
        Some(Transport::Udp) => " --udp",
        _ => "",
    };
    commands.push(sh(
        os_name,
        format!("portscope free --near {port}{flag}"),
        "Or move the service: free ports near this one, outside the ephemeral range",
    ));
    commands
}

/// The reserved-ports list with `port` added, as the sysctl takes it ("8080,9000-9010,40000").
/// When the current list could not be read, a shell expression that adds to whatever it is,
/// so that running the command never drops a reservation made earlier.
fn reserved_list_with(port: u16, ephemeral: &EphemeralRange) -> String {
    let known = matches!(
        &ephemeral.source,
        EphemeralSource::Live {
            reserved_error: None,
            ..
        }
    );
    if !known {
        return format!("\"$(sysctl -n net.ipv4.ip_local_reserved_ports | sed 's/.$/&,/'){port}\"");
    }
    let mut items: Vec<String> = ephemeral
        .reserved
        .iter()
        .map(|&(lo, hi)| {
            if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}-{hi}")
            }
        })
        .collect();
    items.push(port.to_string());
    items.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(reserved: &str) -> EphemeralRange {
        EphemeralRange::from_linux_sysctl(Ok("32768\t60999\n".into()), Ok(reserved.into()))
    }

    #[test]
    fn linux_reserves_the_port_and_keeps_earlier_reservations() {
        let commands = reserve_commands_for(Os::Linux, 44300, Some(Transport::Tcp), &live("\n"));
        let texts: Vec<&str> = commands.iter().map(|c| c.command.as_str()).collect();
        assert_eq!(
            texts,
            [
                "sudo sysctl -w net.ipv4.ip_local_reserved_ports=44300",
                "echo 'net.ipv4.ip_local_reserved_ports = 44300' | sudo tee \
                 /etc/sysctl.d/90-reserved-ports.conf",
                "portscope free --near 44300",
            ]
        );
        let commands = reserve_commands_for(Os::Linux, 44300, None, &live("8080,50000-50010\n"));
        assert_eq!(
            commands[0].command,
            "sudo sysctl -w net.ipv4.ip_local_reserved_ports=8080,50000-50010,44300"
        );
        // The list could not be read: the command adds to whatever it is.
        let unreadable = EphemeralRange::from_linux_sysctl(
            Ok("32768 60999".into()),
            Err(std::io::Error::other("denied")),
        );
        let commands = reserve_commands_for(Os::Linux, 44300, None, &unreadable);
        assert!(
            commands[0]
                .command
                .contains("$(sysctl -n net.ipv4.ip_local_reserved_ports"),
            "{}",
            commands[0].command
        );
    }

    #[test]
    fn nothing_to_do_outside_the_range_or_when_reserved() {
        for os in [Os::Linux, Os::MacOs, Os::Windows] {
            assert!(reserve_commands_for(os, 8080, None, &live("")).is_empty());
            assert!(reserve_commands_for(os, 61000, None, &live("")).is_empty());
            assert!(reserve_commands_for(os, 40000, None, &live("40000")).is_empty());
        }
    }

    #[test]
    fn macos_moves_the_nearer_edge_and_windows_excludes_the_port() {
        let range = EphemeralRange {
            start: 49152,
            end: 65535,
            reserved: Vec::new(),
            source: EphemeralSource::Fallback {
                reason: "test".into(),
            },
        };
        let low = reserve_commands_for(Os::MacOs, 50000, None, &range);
        assert_eq!(
            low[0].command,
            "sudo sysctl -w net.inet.ip.portrange.first=50001"
        );
        let high = reserve_commands_for(Os::MacOs, 60000, None, &range);
        assert_eq!(
            high[0].command,
            "sudo sysctl -w net.inet.ip.portrange.last=59999"
        );
        let windows = reserve_commands_for(Os::Windows, 50000, Some(Transport::Udp), &range);
        assert_eq!(
            windows[0].command,
            "netsh int ipv4 add excludedportrange protocol=udp startport=50000 numberofports=1"
        );
        assert_eq!(
            windows.last().map(|c| c.command.as_str()),
            Some("portscope free --near 50000 --udp")
        );
        assert_eq!(
            reserve_commands_for(Os::Windows, 50000, None, &range).len(),
            5,
            "tcp and udp, IPv4 and IPv6, and the move"
        );
    }

    #[test]
    fn the_risk_says_what_happens_and_how_likely_it_is_now() {
        let range = live("");
        let risk = EphemeralRisk::of(44300, 1, 2823, &range).expect("at risk");
        assert_eq!(risk.range_size, 28232);
        assert!(
            risk.explanation.contains("EADDRINUSE"),
            "{}",
            risk.explanation
        );
        assert!(
            risk.explanation
                .contains("Ports of the range in use now: 2823 of 28232 (10.0%)"),
            "{}",
            risk.explanation
        );
        assert_eq!(EphemeralRisk::of(44300, 0, 10, &range), None);
        assert_eq!(EphemeralRisk::of(8080, 1, 10, &range), None);
        assert_eq!(EphemeralRisk::of(44300, 1, 10, &live("44300")), None);
    }
}
