//! Plain-text rendering of [`PortKnowledge`] for a terminal.
//!
//! Paragraphs are wrapped to 100 columns so the output reads well in an ordinary terminal and
//! pastes cleanly into issues and chats. Commands are never wrapped, so they stay copyable.

use std::fmt::{self, Write};

use super::{EntryKind, IanaEntry, IanaRange, PortKnowledge, Transport};

/// Line width that paragraphs are wrapped to.
const WIDTH: usize = 100;
/// Width of the field labels in IANA entries, so their values line up.
const LABEL_WIDTH: usize = 18;

/// Renders `knowledge` as readable plain text.
pub fn to_text(knowledge: &PortKnowledge) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_text(knowledge, &mut out);
    out
}

/// Writes `knowledge` as readable plain text: headline, range, ephemeral range, IANA entries,
/// note and security advice, and commands to check by hand.
pub fn write_text(knowledge: &PortKnowledge, out: &mut impl Write) -> fmt::Result {
    write_text_with(knowledge, "", out)
}

/// Like [`write_text`], with `after_headline` (already formatted lines, e.g. what uses the port
/// right now) placed right after the headline, where a reader looks first.
pub fn write_text_with(
    knowledge: &PortKnowledge,
    after_headline: &str,
    out: &mut impl Write,
) -> fmt::Result {
    wrap(out, &knowledge.headline, "", "")?;
    if !after_headline.is_empty() {
        writeln!(out)?;
        out.write_str(after_headline)?;
    }

    let range = knowledge.range;
    let (lo, hi) = range.bounds();
    writeln!(out)?;
    writeln!(
        out,
        "Range: {} ports {lo}–{hi} (IANA \"{}\")",
        range.label(),
        range.iana_name()
    )?;
    wrap(out, knowledge.range_meaning, "  ", "  ")?;

    let ephemeral = &knowledge.ephemeral;
    writeln!(out)?;
    wrap(
        out,
        &format!(
            "Ephemeral ports: {}–{}, {}",
            ephemeral.start, ephemeral.end, ephemeral.source_description
        ),
        "",
        "  ",
    )?;
    if !ephemeral.reserved_ranges.is_empty() {
        let list: Vec<String> = ephemeral
            .reserved_ranges
            .iter()
            .map(|&(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}–{b}")
                }
            })
            .collect();
        wrap(
            out,
            &format!("Reserved from automatic use: {}", list.join(", ")),
            "  ",
            "    ",
        )?;
    }
    let position = match (ephemeral.contains, ephemeral.reserved) {
        (true, false) => "inside this range",
        (true, true) => "inside this range, but reserved from automatic use",
        (false, true) => "outside this range (and on the reserved list)",
        (false, false) => "outside this range",
    };
    writeln!(out, "  Port {} is {position}.", knowledge.port)?;
    // The difference only matters for ports it concerns: those in either range.
    if (ephemeral.contains || range == IanaRange::Dynamic)
        && let Some(difference) = &ephemeral.iana_difference
    {
        wrap(out, difference, "  ", "  ")?;
    }

    if let Some(risk) = &knowledge.ephemeral_risk {
        writeln!(out)?;
        wrap(out, &format!("Risk: {}", risk.explanation), "", "  ")?;
        if !knowledge.reserve_commands.is_empty() {
            writeln!(out, "  Remedy on this OS:")?;
            for command in &knowledge.reserve_commands {
                wrap(out, &format!("{}:", command.purpose), "    ", "      ")?;
                writeln!(out, "      {}", command.command)?;
            }
        }
    }

    writeln!(out)?;
    let date = knowledge
        .registry_date
        .map_or_else(String::new, |d| format!(" (registry data as of {d})"));
    match knowledge.iana.len() {
        0 => writeln!(out, "IANA registry: no entry for this port{date}")?,
        1 => writeln!(out, "IANA registry: 1 entry{date}")?,
        n => writeln!(out, "IANA registry: {n} entries{date}")?,
    }
    for (entry, transports) in group_by_transport(&knowledge.iana) {
        write_entry(out, entry, &transports)?;
    }

    if let Some(note) = knowledge.note {
        writeln!(out)?;
        writeln!(out, "In everyday use: {}", note.title)?;
        wrap(out, &note.text, "  ", "  ")?;
        if let Some(security) = &note.security {
            wrap(out, &format!("Security: {security}"), "  ", "  ")?;
        }
    }

    writeln!(out)?;
    wrap(out, &knowledge.as_new_service.sentence(), "", "  ")?;

    if !knowledge.commands.is_empty() {
        writeln!(out)?;
        writeln!(out, "Check it yourself")?;
        for command in &knowledge.commands {
            wrap(
                out,
                &format!("{} ({}): {}", command.os, command.shell, command.purpose),
                "  ",
                "    ",
            )?;
            writeln!(out, "    {}", command.command)?;
        }
    }
    Ok(())
}

/// Groups rows that differ only in their transport, as most registrations come in a tcp and a
/// udp copy; groups keep the order of their first row.
fn group_by_transport<'a>(
    entries: &[&'a IanaEntry],
) -> Vec<(&'a IanaEntry, Vec<Option<Transport>>)> {
    let mut groups: Vec<(&IanaEntry, Vec<Option<Transport>>)> = Vec::new();
    for &entry in entries {
        match groups
            .iter_mut()
            .find(|(first, _)| same_but_transport(first, entry))
        {
            Some((_, transports)) => transports.push(entry.transport),
            None => groups.push((entry, vec![entry.transport])),
        }
    }
    groups
}

fn same_but_transport(a: &IanaEntry, b: &IanaEntry) -> bool {
    let IanaEntry {
        service_name,
        ports,
        transport: _,
        kind,
        description,
        assignee,
        contact,
        registration_date,
        modification_date,
        references,
        assignment_notes,
        unauthorized_use_reported,
    } = a;
    *service_name == b.service_name
        && *ports == b.ports
        && *kind == b.kind
        && *description == b.description
        && *assignee == b.assignee
        && *contact == b.contact
        && *registration_date == b.registration_date
        && *modification_date == b.modification_date
        && *references == b.references
        // Some otherwise identical notes differ only in indentation, which is not shown.
        && same_words(assignment_notes.as_deref(), b.assignment_notes.as_deref())
        && *unauthorized_use_reported == b.unauthorized_use_reported
}

fn same_words(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.split_whitespace().eq(b.split_whitespace()),
        (a, b) => a == b,
    }
}

fn write_entry(
    out: &mut impl Write,
    entry: &IanaEntry,
    transports: &[Option<Transport>],
) -> fmt::Result {
    let transport = if transports.contains(&None) {
        "all transports".to_owned()
    } else {
        let names: Vec<&str> = transports.iter().flatten().map(|t| t.as_str()).collect();
        names.join(", ")
    };
    let name = match (&entry.service_name, entry.kind) {
        (Some(name), EntryKind::Assigned) => name.to_string(),
        (Some(name), kind) => format!("{name} ({})", kind.as_str()),
        (None, kind) => kind.as_str().to_owned(),
    };
    writeln!(out, "  {name} — {}/{transport}", entry.ports)?;
    field(out, "Description", &entry.description)?;
    field(out, "Assignee", &entry.assignee.to_string())?;
    field(out, "Contact", &entry.contact.to_string())?;
    field(
        out,
        "Registered",
        entry.registration_date.as_deref().unwrap_or_default(),
    )?;
    field(
        out,
        "Modified",
        entry.modification_date.as_deref().unwrap_or_default(),
    )?;
    field(out, "References", &entry.references.to_string())?;
    field(
        out,
        "Notes",
        entry.assignment_notes.as_deref().unwrap_or_default(),
    )?;
    field(
        out,
        "Unauthorized use",
        entry
            .unauthorized_use_reported
            .as_deref()
            .unwrap_or_default(),
    )
}

/// One labelled value, skipped when empty; multi-line values keep their line breaks.
fn field(out: &mut impl Write, label: &str, value: &str) -> fmt::Result {
    let value = value.trim();
    if value.is_empty() {
        return Ok(());
    }
    let first = format!("    {:<LABEL_WIDTH$}", format!("{label}:"));
    let rest = " ".repeat(first.chars().count());
    let mut indent = first.as_str();
    for line in value.lines() {
        wrap(out, line, indent, &rest)?;
        indent = &rest;
    }
    Ok(())
}

/// Writes `text` word-wrapped to [`WIDTH`] columns, the first line prefixed with `first` and
/// the others with `rest`. Words longer than a line are left whole rather than broken.
fn wrap(out: &mut impl Write, text: &str, first: &str, rest: &str) -> fmt::Result {
    let mut line = String::from(first);
    let mut line_len = first.chars().count();
    let mut empty = true;
    for word in text.split_whitespace() {
        let word_len = word.chars().count();
        if !empty && line_len + 1 + word_len > WIDTH {
            writeln!(out, "{line}")?;
            line.clear();
            line.push_str(rest);
            line_len = rest.chars().count();
            empty = true;
        }
        if !empty {
            line.push(' ');
            line_len += 1;
        }
        line.push_str(word);
        line_len += word_len;
        empty = false;
    }
    writeln!(out, "{}", line.trim_end())
}

#[cfg(test)]
mod tests {
    use super::super::{EphemeralRange, Transport, explain};
    use super::*;

    fn linux_default() -> EphemeralRange {
        EphemeralRange::from_linux_sysctl(Ok("32768 60999\n".into()), Ok("8080,9000-9010\n".into()))
    }

    #[test]
    fn renders_every_section() {
        let text = to_text(&explain(22, Some(Transport::Tcp), &linux_default()));
        for expected in [
            "Port 22/tcp is a well-known port",
            "Range: well-known ports 0–1023 (IANA \"System Ports\")",
            "Ephemeral ports: 32768–60999, read from /proc/sys/net/ipv4/ip_local_port_range",
            "Reserved from automatic use: 8080, 9000–9010",
            "Port 22 is outside this range.",
            "IANA registry: 1 entry",
            "  ssh — 22/tcp",
            "    Description:      The Secure Shell (SSH) Protocol",
            "In everyday use: SSH",
            "Security: ",
            "Check it yourself",
            "    ss -ltnp 'sport = :22'",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
    }

    #[test]
    fn lines_stay_within_width() {
        let ranges = linux_default();
        for port in [0, 22, 53, 80, 126, 1023, 2375, 5173, 6000, 60296] {
            let knowledge = explain(port, None, &ranges);
            let text = to_text(&knowledge);
            for line in text.lines() {
                // Commands are never wrapped, and a single word longer than a line (a URL)
                // cannot be; everything else must fit.
                let is_command = knowledge.commands.iter().any(|c| line.trim() == c.command);
                let single_word = !line.trim().contains(' ');
                assert!(
                    line.chars().count() <= WIDTH || is_command || single_word,
                    "port {port}: line too long: {line:?}"
                );
            }
        }
    }

    #[test]
    fn rows_differing_only_in_transport_are_shown_once() {
        let text = to_text(&explain(126, None, &linux_default()));
        assert!(text.contains("IANA registry: 2 entries"), "{text}");
        assert_eq!(text.matches("  nxedit — 126/tcp, udp").count(), 1, "{text}");
        let text = to_text(&explain(22, None, &linux_default()));
        assert!(text.contains("  ssh — 22/tcp, udp\n"), "{text}");
        assert!(text.contains("  ssh — 22/sctp\n"), "{text}");
        let text = to_text(&explain(80, None, &linux_default()));
        assert!(text.contains("  www-http — 80/tcp, udp\n"), "{text}");
        let text = to_text(&explain(275, None, &linux_default()));
        assert!(
            text.contains("  unassigned — 272–279/all transports"),
            "{text}"
        );
    }

    #[test]
    fn a_server_at_risk_gets_the_risk_and_the_remedy() {
        let range = linux_default();
        let mut knowledge = explain(44300, Some(Transport::Tcp), &range);
        let plain = to_text(&knowledge);
        assert!(!plain.contains("Risk:"), "{plain}");
        knowledge.ephemeral_risk = super::super::EphemeralRisk::of(44300, 1, 100, &range);
        let text = to_text(&knowledge);
        assert!(text.contains("\nRisk: Port 44300 lies inside"), "{text}");
        assert!(text.contains("EADDRINUSE"), "{text}");
        if cfg!(target_os = "linux") {
            assert!(
                text.contains(
                    "\n      sudo sysctl -w net.ipv4.ip_local_reserved_ports=8080,9000-9010,44300\n"
                ),
                "{text}"
            );
        }
        assert!(
            text.contains("\nNot a good choice for a new service: it lies inside the ephemeral"),
            "{text}"
        );
        let date = super::super::iana_data_date().unwrap_or("none");
        assert!(
            text.contains(&format!(" (registry data as of {date})\n")),
            "{text}"
        );
        let free = to_text(&explain(61000, Some(Transport::Tcp), &range));
        assert!(free.contains("\nA good choice for a new service"), "{free}");
    }

    #[test]
    fn wrap_handles_edges() {
        let mut out = String::new();
        assert!(wrap(&mut out, "", "  ", "  ").is_ok());
        assert_eq!(out, "\n");
        out.clear();
        let long_word = "x".repeat(120);
        assert!(wrap(&mut out, &format!("a {long_word} b"), "", "").is_ok());
        assert_eq!(out, format!("a\n{long_word}\nb\n"));
        out.clear();
        assert!(wrap(&mut out, &"word ".repeat(40), "> ", "  ").is_ok());
        assert!(out.lines().all(|l| l.chars().count() <= WIDTH));
        assert!(out.starts_with("> word"));
    }

    #[test]
    fn multi_line_notes_keep_their_lines() {
        let mut out = String::new();
        assert!(field(&mut out, "Notes", "first line\nsecond line").is_ok());
        assert_eq!(
            out,
            "    Notes:            first line\n                      second line\n"
        );
    }
}
