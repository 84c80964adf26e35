//! What a port number means: IANA's registry, the port ranges, this machine's ephemeral range,
//! plain-language notes, and commands to check a port by hand.
//!
//! A socket table shows numbers; people want to know whether `:5173` is something they started,
//! whether `:60296` matters, and whether `:2375` should worry them. No single source answers
//! that: IANA's registry is authoritative but often not what actually runs on a port, the
//! meaning of a high port depends on this machine's ephemeral range, and the risks of a port are
//! nowhere in the registry. This module combines those sources into one [`PortKnowledge`] value
//! that the GUI, the CLI and JSON output all share, so they never disagree.
//!
//! All data is embedded in the binary, so explanations work offline. The registry and the notes
//! are parsed once, on first use (call [`preload`] to do it early, off the UI thread).

mod choice;
mod commands;
mod csv_reader;
mod ephemeral;
mod iana;
mod notes;
mod port;
mod range;
mod risk;
mod text;
mod transport;

use serde::Serialize;

pub use choice::{NewServiceChoice, judge};
pub use commands::{CheckCommand, PID_PLACEHOLDER, check_commands};
pub use ephemeral::{
    EphemeralRange, EphemeralSource, FREEBSD_DEFAULT, IANA_DYNAMIC, LINUX_DEFAULT,
    LINUX_PORT_RANGE_PATH, LINUX_RESERVED_PORTS_PATH, RangeParseError, parse_port_range,
    parse_reserved_ports,
};
pub use iana::{
    EXPECTED_HEADER, EntryKind, IanaEntry, IanaLoadError, Names, PortSpan, References,
    RegistryText, SkippedRow, iana_data_date, iana_entries, iana_entries_iter, iana_load_error,
    iana_port_entry_count, iana_row_count, iana_skipped_rows, service_name,
};
pub use notes::{NotesError, PortNote, note, notes, notes_load_error};
pub use port::{PortParseError, parse_port};
pub use range::IanaRange;
pub use risk::{EphemeralRisk, Os, reserve_commands, reserve_commands_for};
pub use text::{to_text, write_text, write_text_with};
pub use transport::{Transport, UnknownTransport};

/// Parses the embedded registry and notes now, so that the first lookup is instant.
pub fn preload() {
    iana::preload();
    notes::preload();
}

/// Everything known about one port, ready to show or to serialize as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortKnowledge {
    pub port: u16,
    /// The transport asked about; `None` means all of them.
    pub transport: Option<Transport>,
    /// One or two sentences that sum up the rest; see [`PortKnowledge::headline`].
    pub headline: String,
    pub range: IanaRange,
    pub range_meaning: &'static str,
    pub ephemeral: EphemeralInfo,
    /// The registry rows for this port and transport, in registry order.
    pub iana: Vec<&'static IanaEntry>,
    pub note: Option<&'static PortNote>,
    pub commands: Vec<CheckCommand>,
    /// A server listening here now and at risk of finding the port taken when it restarts;
    /// set by the model's explanation, which sees the machine's sockets.
    pub ephemeral_risk: Option<EphemeralRisk>,
    /// Commands that keep this OS from handing the port out (and one to find another port);
    /// empty when it does not hand it out anyway.
    pub reserve_commands: Vec<CheckCommand>,
    /// Whether the number is a good one for a new service, and why not.
    pub as_new_service: NewServiceChoice,
    /// How current the registry data shipped in this program is (`YYYY-MM-DD`).
    pub registry_date: Option<&'static str>,
}

/// How the port relates to this machine's ephemeral range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EphemeralInfo {
    pub start: u16,
    pub end: u16,
    pub source: EphemeralSource,
    /// Where the range comes from, in words.
    pub source_description: String,
    /// Whether the port lies in the range.
    pub contains: bool,
    /// Whether the port is on the list of ports the OS never hands out automatically.
    pub reserved: bool,
    pub reserved_ranges: Vec<(u16, u16)>,
    /// Set when the range differs from IANA's 49152–65535, saying what that implies.
    pub iana_difference: Option<String>,
}

impl PortKnowledge {
    /// A summary sentence or two, such as "Port 60296/tcp is in the dynamic range
    /// (49152–65535): IANA never assigns it. ..."
    pub fn headline(&self) -> &str {
        &self.headline
    }

    /// "Port 22/tcp", or "Port 22" when no transport was given.
    pub fn label(&self) -> String {
        port_label(self.port, self.transport)
    }
}

/// Gathers everything known about `port` for `transport` (`None`: every transport), judged
/// against the ephemeral range `ephemeral` (normally [`EphemeralRange::read_live`]).
pub fn explain(
    port: u16,
    transport: Option<Transport>,
    ephemeral: &EphemeralRange,
) -> PortKnowledge {
    let ephemeral_range = ephemeral;
    let range = IanaRange::of(port);
    let iana = iana_entries(port, transport);
    let note = note(port, transport);
    let ephemeral = EphemeralInfo {
        start: ephemeral.start,
        end: ephemeral.end,
        source: ephemeral.source.clone(),
        source_description: ephemeral.source.describe(),
        contains: ephemeral.contains(port),
        reserved: ephemeral.is_reserved(port),
        reserved_ranges: ephemeral.reserved.clone(),
        iana_difference: ephemeral.iana_difference(),
    };
    let headline = headline(
        &port_label(port, transport),
        port,
        range,
        &iana,
        note,
        &ephemeral,
        false,
    );
    PortKnowledge {
        port,
        transport,
        headline,
        range,
        range_meaning: range.meaning(),
        ephemeral,
        iana,
        note,
        commands: check_commands(port, transport),
        ephemeral_risk: None,
        reserve_commands: reserve_commands(port, transport, ephemeral_range),
        as_new_service: judge(port, ephemeral_range),
        registry_date: iana_data_date(),
    }
}

pub(crate) fn port_label(port: u16, transport: Option<Transport>) -> String {
    match transport {
        Some(transport) => format!("Port {port}/{transport}"),
        None => format!("Port {port}"),
    }
}

/// What the number says: `label` ("Port 22/tcp", or a phrase ending in it) and its range,
/// IANA's assignment, our note and the ephemeral range. With `listening`, a server is known to
/// listen there: the ephemeral range is then a risk to it, not a guess at what the port is.
pub(crate) fn headline(
    label: &str,
    port: u16,
    range: IanaRange,
    iana: &[&IanaEntry],
    note: Option<&PortNote>,
    ephemeral: &EphemeralInfo,
    listening: bool,
) -> String {
    if port == 0 {
        return format!(
            "{label} is not a real port: a program that asks for port 0 gets a free port chosen \
             by the operating system, so port 0 never appears on the wire."
        );
    }

    let machine = ephemeral.source.machine();
    let here = if machine == "this machine" {
        "here"
    } else {
        "there"
    };
    let whose = if ephemeral.source.is_this_machine() {
        format!("{machine}'s")
    } else {
        "the assumed".to_owned()
    };
    let span = format!(
        "{whose} ephemeral range {}–{}",
        ephemeral.start, ephemeral.end
    );
    let (lo, hi) = range.bounds();
    // A server on a port the kernel may hand out by itself can find it taken.
    let risk = || {
        let mut text = format!(
            " Warning: it lies inside {span}, so while this server is down the kernel may give \
             the port to an outgoing connection, and the server cannot listen on it again until \
             that connection ends."
        );
        if matches!(ephemeral.source, EphemeralSource::Live { .. }) {
            text.push_str(" Listing it in net.ipv4.ip_local_reserved_ports prevents that.");
        }
        text
    };

    if range == IanaRange::Dynamic {
        let mut text =
            format!("{label} is in the dynamic range ({lo}–{hi}): IANA never assigns it.");
        if listening && ephemeral.contains && !ephemeral.reserved {
            text.push_str(&risk());
            if let Some(note) = note {
                text.push_str(&format!(" It is the usual port of: {}.", note.title));
            }
            return text;
        }
        match (ephemeral.contains, ephemeral.reserved, note) {
            (true, false, None) => text.push_str(&format!(
                " It lies inside {span}, so it is almost certainly the temporary local end of an \
                 outgoing connection."
            )),
            (true, false, Some(note)) => text.push_str(&format!(
                " It lies inside {span}, so it is often the temporary local end of an outgoing \
                 connection, but it is also the usual port of: {}.",
                note.title
            )),
            (true, true, _) => text.push_str(&format!(
                " It lies inside {span} but is reserved from automatic use, so a program chose it \
                 on purpose."
            )),
            (false, _, _) => {
                text.push_str(&format!(
                    " It lies outside {span}, so {machine} does not hand it out by itself; a \
                     program {here} that uses it chose it on purpose."
                ));
                if let Some(note) = note {
                    text.push_str(&format!(" It is the usual port of: {}.", note.title));
                }
            }
        }
        return text;
    }

    let mut text = format!("{label} is a {} port ({lo}–{hi})", range.label());
    let mut names: Vec<&str> = Vec::new();
    for entry in iana.iter().filter(|e| e.kind == EntryKind::Assigned) {
        if let Some(name) = entry.service_name.as_deref()
            && !names.contains(&name)
        {
            names.push(name);
        }
    }
    if let [only] = names.as_slice() {
        let description = iana
            .iter()
            .find(|e| e.service_name.as_deref() == Some(only))
            .map(|e| &*e.description)
            .filter(|d| !d.is_empty());
        match description {
            Some(description) => {
                text.push_str(&format!("; IANA assigns it to {only} ({description})."))
            }
            None => text.push_str(&format!("; IANA assigns it to {only}.")),
        }
    } else if !names.is_empty() {
        text.push_str(&format!("; IANA assigns it to {}.", join_names(&names)));
    } else if iana.iter().any(|e| e.kind == EntryKind::Reserved) {
        text.push_str("; IANA keeps it reserved and assigns it to no service.");
    } else {
        text.push_str(", but IANA has not assigned it to any service.");
    }
    // Mention the note when it tells something IANA's name does not ("Dev servers" on 3000),
    // not when it repeats it ("SSH" on 22).
    if let Some(note) = note {
        let title = note.title.to_lowercase();
        if !names
            .iter()
            .any(|name| title.contains(&name.to_lowercase()))
        {
            text.push_str(&format!(" In everyday use: {}.", note.title));
        }
    }
    if ephemeral.contains && !ephemeral.reserved {
        if listening {
            text.push_str(&risk());
        } else {
            text.push_str(&format!(
                " It also lies inside {span}, so it may simply be the temporary local end of an \
                 outgoing connection."
            ));
        }
    }
    text
}

/// "a", "a and b", "a, b and c", "a, b, c and 4 others".
fn join_names(names: &[&str]) -> String {
    const SHOWN: usize = 3;
    match names {
        [] => String::new(),
        [only] => (*only).to_owned(),
        _ if names.len() > SHOWN + 1 => format!(
            "{} and {} others",
            names[..SHOWN].join(", "),
            names.len() - SHOWN
        ),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linux_default() -> EphemeralRange {
        EphemeralRange::from_linux_sysctl(Ok("32768\t60999\n".into()), Ok("\n".into()))
    }

    #[test]
    fn headline_for_a_temporary_port() {
        let knowledge = explain(60296, Some(Transport::Tcp), &linux_default());
        assert_eq!(
            knowledge.headline(),
            "Port 60296/tcp is in the dynamic range (49152–65535): IANA never assigns it. It lies \
             inside this machine's ephemeral range 32768–60999, so it is almost certainly the \
             temporary local end of an outgoing connection."
        );
        assert!(knowledge.ephemeral.contains);
        assert!(knowledge.iana.is_empty());
        assert!(knowledge.ephemeral.iana_difference.is_some());
    }

    #[test]
    fn headline_for_ssh() {
        let knowledge = explain(22, Some(Transport::Tcp), &linux_default());
        assert!(
            knowledge.headline().starts_with(
                "Port 22/tcp is a well-known port (0–1023); IANA assigns it to ssh (The Secure \
                 Shell (SSH) Protocol)."
            ),
            "{}",
            knowledge.headline()
        );
        assert_eq!(knowledge.range, IanaRange::System);
        assert_eq!(knowledge.label(), "Port 22/tcp");
        assert!(knowledge.note.is_some());
        assert!(!knowledge.headline().contains("In everyday use"));
        assert!(
            knowledge
                .commands
                .iter()
                .all(|c| c.command.contains("22") || c.command.contains(PID_PLACEHOLDER))
        );
    }

    #[test]
    fn headline_wording_for_each_case() {
        let linux = linux_default();
        let headline = |port, transport| explain(port, transport, &linux).headline;

        assert!(headline(0, None).starts_with("Port 0 is not a real port"));
        assert!(headline(1023, Some(Transport::Tcp)).contains("IANA keeps it reserved"));
        assert!(
            headline(80, Some(Transport::Tcp))
                .contains("IANA assigns it to http, www and www-http.")
        );
        assert!(headline(5432, Some(Transport::Tcp)).starts_with(
            "Port 5432/tcp is a registered port (1024–49151); IANA assigns it to postgresql"
        ));
        let dev = headline(3000, Some(Transport::Tcp));
        assert!(
            dev.contains("IANA assigns it to hbci and remoteware-cl."),
            "{dev}"
        );
        assert!(dev.contains("In everyday use: Dev servers"), "{dev}");
        let vite = headline(5173, Some(Transport::Tcp));
        assert!(
            vite.contains("but IANA has not assigned it to any service."),
            "{vite}"
        );
        assert!(vite.contains("In everyday use: Vite dev server."), "{vite}");
        let registered_but_ephemeral = headline(40000, Some(Transport::Tcp));
        assert!(
            registered_but_ephemeral.contains("It also lies inside this machine's ephemeral range")
        );
        let outside = headline(62000, Some(Transport::Udp));
        assert!(
            outside.contains("It lies outside this machine's ephemeral range 32768–60999"),
            "{outside}"
        );
        let wireguard = headline(51820, Some(Transport::Udp));
        assert!(
            wireguard.contains("but it is also the usual port of: WireGuard"),
            "{wireguard}"
        );

        let reserved =
            EphemeralRange::from_linux_sysctl(Ok("32768 60999".into()), Ok("50000-50010".into()));
        let text = explain(50005, Some(Transport::Tcp), &reserved).headline;
        assert!(text.contains("reserved from automatic use"), "{text}");

        let fallback = EphemeralRange::from_linux_sysctl(Ok("junk".into()), Ok(String::new()));
        let text = explain(60296, None, &fallback).headline;
        assert!(text.contains("the assumed ephemeral range"), "{text}");
    }

    #[test]
    fn knowledge_serializes_to_json() {
        let knowledge = explain(53, None, &linux_default());
        let json = match serde_json::to_value(&knowledge) {
            Ok(json) => json,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(json["port"], 53);
        assert_eq!(json["range"], "system");
        assert_eq!(json["iana"][0]["service_name"], "domain");
        assert_eq!(json["iana"][0]["transport"], "tcp");
        assert_eq!(json["iana"][0]["kind"], "assigned");
        assert_eq!(json["ephemeral"]["source"]["kind"], "live");
        assert!(json["commands"].as_array().is_some_and(|c| !c.is_empty()));
    }

    #[test]
    fn join_names_reads_naturally() {
        assert_eq!(join_names(&["a"]), "a");
        assert_eq!(join_names(&["a", "b"]), "a and b");
        assert_eq!(join_names(&["a", "b", "c", "d"]), "a, b, c and d");
        assert_eq!(
            join_names(&["a", "b", "c", "d", "e"]),
            "a, b, c and 2 others"
        );
    }
}
