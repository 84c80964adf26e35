//! The explanation of a port: its range, this OS's ephemeral range (and the risk to a server
//! inside it, with this OS's remedy), IANA's entries, our note, whether it suits a new
//! service, what uses it now (with bind scope), and commands to check it by hand.

use egui::{RichText, Ui};

use crate::knowledge::{
    CheckCommand, EntryKind, IanaEntry, PortKnowledge, Transport, iana_entries_iter,
};
use crate::model::text::escape;
use crate::model::{Snapshot, Socket, address_words};

/// Show `k`; returns a socket on the port the user clicked.
pub(crate) fn explanation_ui(ui: &mut Ui, k: &PortKnowledge, snap: &Snapshot) -> Option<Socket> {
    let mut picked = None;
    ui.heading(k.label());
    ui.add(egui::Label::new(RichText::new(&k.headline).strong()).wrap());
    ui.add_space(6.0);

    // A server that may find its port taken: what can happen, how likely, and the remedy.
    if let Some(risk) = &k.ephemeral_risk {
        egui::Frame::group(ui.style())
            .stroke(egui::Stroke::new(1.5, ui.visuals().warn_fg_color))
            .show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.label(
                    RichText::new("This server may find its port taken")
                        .strong()
                        .color(ui.visuals().warn_fg_color),
                );
                ui.add(egui::Label::new(&risk.explanation).wrap());
                if !k.reserve_commands.is_empty() {
                    ui.label(RichText::new("Remedy on this OS").strong());
                    commands_ui(ui, &k.reserve_commands);
                }
            });
    }

    // What uses it right now.
    let on_port: Vec<&Socket> = snap.sockets_on_port(k.port).collect();
    let machine = match snap.machine.as_ref().filter(|m| m.host.is_some()) {
        Some(m) => escape(&m.name).into_owned(),
        None => "this machine".to_owned(),
    };
    section(ui, &format!("On {machine} now ({})", on_port.len()));
    if on_port.is_empty() {
        ui.label("Nothing uses this port right now.");
    }
    for s in on_port.iter().take(100) {
        // The kernel's text for an IPv4-mapped address, and what it is.
        let mapped = address_words(s.local_addr).map_or_else(String::new, |w| format!(" ({w})"));
        // A socket of another network namespace (a container's) is on this port there, not
        // here: say where.
        let place = snap
            .place(s)
            .map_or_else(String::new, |place| format!("  ·  in {place}"));
        let text = format!(
            "{} {} {}{mapped} → {}  ·  {}  ·  {}{place}",
            s.proto.label(),
            s.state,
            s.local_endpoint(),
            s.remote_endpoint(),
            escape(&snap.process_label(s)),
            s.bind_scope().short()
        );
        if ui
            .link(text)
            .on_hover_text(s.bind_scope().meaning())
            .clicked()
        {
            picked = Some((*s).clone());
        }
    }
    if on_port.len() > 100 {
        ui.label(format!("… and {} more", on_port.len() - 100));
    }

    // The range.
    let (lo, hi) = k.range.bounds();
    section(ui, &format!("Range: {} {lo}–{hi}", k.range.label()));
    ui.add(egui::Label::new(k.range_meaning).wrap());

    // The ephemeral range of this OS.
    let e = &k.ephemeral;
    section(ui, &format!("Ephemeral range: {}–{}", e.start, e.end));
    let inside = if e.reserved {
        "This port is reserved: the OS never hands it out automatically."
    } else if e.contains {
        "This port lies inside it: the OS may hand it to any outgoing connection."
    } else {
        "This port lies outside it: the OS does not hand it out on its own."
    };
    ui.add(egui::Label::new(inside).wrap());
    ui.add(
        egui::Label::new(RichText::new(format!("Range {}.", e.source_description)).weak()).wrap(),
    );
    if let Some(diff) = &e.iana_difference {
        ui.add(egui::Label::new(RichText::new(diff).weak()).wrap());
    }

    // IANA.
    section(ui, &format!("IANA registry ({} entries)", k.iana.len()));
    if let Some(date) = k.registry_date {
        ui.label(
            RichText::new(format!(
                "Registry data as of {date}, shipped with portscope."
            ))
            .weak(),
        );
    }
    if k.iana.is_empty() {
        ui.label("No IANA entry covers this port: it is unassigned.");
    }
    for entry in &k.iana {
        iana_entry_ui(ui, entry);
    }
    // Asked about TCP or UDP: the port's SCTP and DCCP registrations too.
    if matches!(k.transport, Some(Transport::Tcp | Transport::Udp)) {
        for transport in [Transport::Sctp, Transport::Dccp] {
            for entry in iana_entries_iter(k.port, Some(transport))
                .filter(|e| e.transport == Some(transport) && e.kind == EntryKind::Assigned)
            {
                iana_entry_ui(ui, entry);
            }
        }
    }

    // Our note.
    if let Some(note) = k.note {
        section(ui, &format!("In everyday use: {}", note.title));
        ui.add(egui::Label::new(&note.text).wrap());
        if let Some(security) = &note.security {
            ui.add(
                egui::Label::new(
                    RichText::new(format!("Security: {security}"))
                        .color(ui.visuals().warn_fg_color),
                )
                .wrap(),
            );
        }
    }

    // As the home of a new service.
    section(ui, "For a new service");
    let choice = k.as_new_service.sentence();
    if on_port.is_empty() {
        ui.add(egui::Label::new(format!("Nothing uses it now. {choice}")).wrap());
    } else {
        ui.add(egui::Label::new(format!("In use now. {choice}")).wrap());
    }

    // Commands.
    section(ui, "Check it yourself");
    commands_ui(ui, &k.commands);
    picked
}

/// Commands, each with what it does and a Copy button.
fn commands_ui(ui: &mut Ui, commands: &[CheckCommand]) {
    for c in commands {
        ui.label(RichText::new(format!("{} ({}): {}", c.os, c.shell, c.purpose)).weak());
        ui.horizontal(|ui| {
            if ui
                .small_button("Copy")
                .on_hover_text("Copy the command")
                .clicked()
            {
                ui.ctx().copy_text(c.command.clone());
            }
            ui.add(egui::Label::new(RichText::new(&c.command).monospace()).wrap());
        });
    }
}

fn section(ui: &mut Ui, title: &str) {
    ui.add_space(8.0);
    ui.label(RichText::new(title).strong().size(15.0));
}

fn iana_entry_ui(ui: &mut Ui, entry: &IanaEntry) {
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.set_width(ui.available_width());
        let transport = entry
            .transport
            .map_or("all transports".to_owned(), |t| t.as_str().to_owned());
        let span = if entry.ports.lo == entry.ports.hi {
            entry.ports.lo.to_string()
        } else {
            format!("{}–{}", entry.ports.lo, entry.ports.hi)
        };
        let title = match entry.kind {
            EntryKind::Assigned => format!("{} ({span}/{transport})", entry.name_or_dash()),
            EntryKind::Reserved => format!("Reserved ({span}/{transport})"),
            EntryKind::Unassigned => format!("Unassigned ({span}/{transport})"),
        };
        ui.label(RichText::new(title).strong());
        if !entry.description.is_empty() {
            ui.add(egui::Label::new(entry.description.as_ref()).wrap());
        }
        let mut line = |name: &str, value: String| {
            if !value.is_empty() {
                ui.add(egui::Label::new(RichText::new(format!("{name}: {value}")).weak()).wrap());
            }
        };
        line("Assignee", entry.assignee.to_string());
        line("Contact", entry.contact.to_string());
        line("References", entry.references.to_string());
        line(
            "Registered",
            entry
                .registration_date
                .as_deref()
                .unwrap_or_default()
                .to_owned(),
        );
        line(
            "Modified",
            entry
                .modification_date
                .as_deref()
                .unwrap_or_default()
                .to_owned(),
        );
        line(
            "Notes",
            entry
                .assignment_notes
                .as_deref()
                .unwrap_or_default()
                .to_owned(),
        );
        line(
            "Unauthorized use reported",
            entry
                .unauthorized_use_reported
                .as_deref()
                .unwrap_or_default()
                .to_owned(),
        );
    });
}
