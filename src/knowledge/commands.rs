//! Ready-to-paste commands that show what is using a port, for each desktop OS.
//!
//! portscope shows the same facts itself, but people often need to check on another machine,
//! over SSH, or in a bug report; giving them the exact command, with the port filled in and the
//! quoting right for that shell, saves a search. Commands that need privileges to see other
//! users' processes say so in their purpose rather than hiding the limitation.

use serde::Serialize;

use super::transport::Transport;

/// A command to run by hand, with the port already filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckCommand {
    /// "Linux", "macOS" or "Windows".
    pub os: &'static str,
    /// The shell the command is written for: "sh" (any POSIX shell, bash or zsh), "cmd" or
    /// "PowerShell".
    pub shell: &'static str,
    pub command: String,
    /// What the command shows, in a few words.
    pub purpose: &'static str,
}

/// The placeholder in commands that need a process ID from an earlier command.
pub const PID_PLACEHOLDER: &str = "<PID>";

const OS_ORDER: [&str; 3] = ["Linux", "macOS", "Windows"];

/// Commands that show what is using `port`, for Linux, macOS and Windows.
///
/// `transport: None` gives commands for TCP and UDP. SCTP and DCCP sockets can only be listed
/// on Linux, so for them only Linux commands are given.
pub fn check_commands(port: u16, transport: Option<Transport>) -> Vec<CheckCommand> {
    let transports: &[Transport] = match transport {
        None => &[Transport::Tcp, Transport::Udp],
        Some(Transport::Tcp) => &[Transport::Tcp],
        Some(Transport::Udp) => &[Transport::Udp],
        Some(Transport::Sctp) => &[Transport::Sctp],
        Some(Transport::Dccp) => &[Transport::Dccp],
    };
    let mut commands = Vec::new();
    for &transport in transports {
        commands.extend(for_transport(port, transport));
    }
    if transports
        .iter()
        .any(|t| matches!(t, Transport::Tcp | Transport::Udp))
    {
        commands.push(CheckCommand {
            os: "Windows",
            shell: "cmd",
            command: format!("netstat -ano | findstr /c:\":{port} \""),
            purpose: "TCP and UDP sockets on this port; the last column is the process ID",
        });
        commands.push(CheckCommand {
            os: "Windows",
            shell: "cmd",
            command: format!("tasklist /fi \"pid eq {PID_PLACEHOLDER}\""),
            purpose: "The program with a given process ID: replace <PID> with a number shown above",
        });
    }
    // Stable: keeps TCP before UDP and the order within each OS.
    commands.sort_by_key(|c| OS_ORDER.iter().position(|&os| os == c.os));
    commands
}

fn for_transport(port: u16, transport: Transport) -> Vec<CheckCommand> {
    let sh = |os, command: String, purpose| CheckCommand {
        os,
        shell: "sh",
        command,
        purpose,
    };
    let ps = |command: String, purpose| CheckCommand {
        os: "Windows",
        shell: "PowerShell",
        command,
        purpose,
    };
    let both_ends = format!("'sport = :{port} or dport = :{port}'");
    match transport {
        Transport::Tcp => vec![
            sh(
                "Linux",
                format!("ss -ltnp 'sport = :{port}'"),
                "Which program listens on this TCP port (use sudo to see other users' programs)",
            ),
            sh(
                "Linux",
                format!("ss -tanp {both_ends}"),
                "Every TCP connection using this port, at either end, in any state",
            ),
            sh(
                "Linux",
                format!("sudo lsof -nP -iTCP:{port}"),
                "Every process with a TCP socket on this port, local or remote end",
            ),
            sh(
                "macOS",
                format!("sudo lsof -nP -iTCP:{port} -sTCP:LISTEN"),
                "Which program listens on this TCP port",
            ),
            sh(
                "macOS",
                format!("sudo lsof -nP -iTCP:{port}"),
                "Every process with a TCP socket on this port, local or remote end",
            ),
            ps(
                format!("Get-NetTCPConnection -LocalPort {port}"),
                "TCP sockets on this local port; OwningProcess is the process ID",
            ),
            ps(
                format!("Get-Process -Id (Get-NetTCPConnection -LocalPort {port}).OwningProcess"),
                "The programs behind this local TCP port",
            ),
        ],
        Transport::Udp => vec![
            sh(
                "Linux",
                format!("ss -lunp 'sport = :{port}'"),
                "Which program has a UDP socket on this port (use sudo to see other users' programs)",
            ),
            sh(
                "Linux",
                format!("ss -uanp {both_ends}"),
                "Every UDP socket using this port, at either end",
            ),
            sh(
                "Linux",
                format!("sudo lsof -nP -iUDP:{port}"),
                "Every process with a UDP socket on this port, local or remote end",
            ),
            sh(
                "macOS",
                format!("sudo lsof -nP -iUDP:{port}"),
                "Every process with a UDP socket on this port, local or remote end",
            ),
            ps(
                format!("Get-NetUDPEndpoint -LocalPort {port}"),
                "UDP sockets on this local port; OwningProcess is the process ID",
            ),
            ps(
                format!("Get-Process -Id (Get-NetUDPEndpoint -LocalPort {port}).OwningProcess"),
                "The programs behind this local UDP port",
            ),
        ],
        Transport::Sctp => vec![sh(
            "Linux",
            format!("ss -Sanp {both_ends}"),
            "Every SCTP socket using this port (use sudo to see other users' programs)",
        )],
        Transport::Dccp => vec![sh(
            "Linux",
            format!("ss -danp {both_ends}"),
            "Every DCCP socket using this port (use sudo to see other users' programs)",
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_names_the_port() {
        for transport in [
            None,
            Some(Transport::Tcp),
            Some(Transport::Udp),
            Some(Transport::Sctp),
        ] {
            let commands = check_commands(5173, transport);
            assert!(!commands.is_empty());
            for command in &commands {
                assert!(
                    command.command.contains("5173") || command.command.contains(PID_PLACEHOLDER),
                    "{command:?}"
                );
                assert!(OS_ORDER.contains(&command.os));
            }
        }
    }

    #[test]
    fn descriptions_fit_on_a_terminal_line() {
        for transport in Transport::ALL {
            for c in check_commands(65535, Some(transport)) {
                let line = format!("  {} ({}): {}", c.os, c.shell, c.purpose);
                assert!(line.chars().count() <= 100, "{line}");
            }
        }
    }

    #[test]
    fn exact_forms() {
        let all: Vec<String> = check_commands(22, None)
            .into_iter()
            .map(|c| c.command)
            .collect();
        for expected in [
            "ss -ltnp 'sport = :22'",
            "ss -tanp 'sport = :22 or dport = :22'",
            "ss -lunp 'sport = :22'",
            "sudo lsof -nP -iTCP:22",
            "sudo lsof -nP -iUDP:22",
            "netstat -ano | findstr /c:\":22 \"",
            "Get-NetTCPConnection -LocalPort 22",
            "Get-NetUDPEndpoint -LocalPort 22",
            "tasklist /fi \"pid eq <PID>\"",
        ] {
            assert!(all.iter().any(|c| c == expected), "missing {expected}");
        }
        // The transport-neutral Windows commands appear once.
        assert_eq!(all.iter().filter(|c| c.starts_with("tasklist")).count(), 1);
    }

    #[test]
    fn grouped_by_os_and_filtered_by_transport() {
        let commands = check_commands(53, Some(Transport::Udp));
        let positions: Vec<usize> = commands
            .iter()
            .filter_map(|c| OS_ORDER.iter().position(|&os| os == c.os))
            .collect();
        assert!(positions.is_sorted());
        assert!(commands.iter().all(|c| !c.command.contains("TCP")));
        let sctp = check_commands(9, Some(Transport::Sctp));
        assert!(sctp.iter().all(|c| c.os == "Linux"));
    }
}
