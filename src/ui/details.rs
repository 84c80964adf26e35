//! The details panel: the selected socket and the process(es) that own it — or why none is shown.

use egui::{RichText, ScrollArea};

use super::action::Action;
use super::charts::traffic_charts_ui;
use super::close::close_button;
use super::explain::explanation_ui;
use super::selection::Selection;
use crate::knowledge::{PortKnowledge, Transport};
use crate::model::text::escape;
use crate::model::traffic_history::TrafficHistory;
use crate::model::{Owner, ProcessInfo, Snapshot, Socket, address_words};

/// What the details panel reads.
pub(crate) struct DetailsInput<'a> {
    pub selection: Option<&'a Selection>,
    /// The poll on screen.
    pub snapshot: &'a Snapshot,
    /// The port the explanation is about, and its explanation.
    pub port_focus: Option<(u16, Option<Transport>)>,
    pub knowledge: Option<&'a PortKnowledge>,
    /// What connections moved lately, for the charts.
    /// What this machine's connections moved lately, for the charts (`None`: the selection
    /// is a host's, whose counters are not charted).
    pub traffic: Option<&'a TrafficHistory>,
}

/// The selected socket, its owners and the port's explanation.
pub(crate) fn details_ui(ui: &mut egui::Ui, input: &DetailsInput<'_>) -> Vec<Action> {
    let mut actions = Vec::new();
    let mut select: Option<Socket> = None;
    let mut focus: Option<(u16, Option<Transport>)> = None;
    let mut close = false;
    let title = if input.selection.is_some() {
        "Socket"
    } else {
        "Port"
    };
    ui.horizontal(|ui| {
        ui.heading(title);
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui.button("×").on_hover_text("Close this panel").clicked() {
                close = true;
            }
        });
    });
    let snapshot = input.snapshot;
    let mut kill: Option<ProcessInfo> = None;
    ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            if let Some(sel) = input.selection {
                let (other, port) = socket_ui(ui, sel, input, &mut kill, &mut actions);
                select = other;
                focus = port;
                ui.add_space(8.0);
                ui.separator();
            }
            if let Some(k) = input.knowledge
                && let Some(s) = explanation_ui(ui, k, snapshot)
            {
                select = Some(s);
            }
        });
    if let Some(p) = kill {
        // The selection's machine: a host's process is ended there.
        let host = input.selection.map_or(0, |sel| sel.socket.host);
        actions.push(Action::AskKill { process: p, host });
    }
    if close {
        // The selection stays highlighted; Enter or a click opens the panel again.
        actions.push(Action::HideDetails);
    } else if let Some(other) = select {
        actions.push(Action::SelectSocket {
            socket: other,
            scroll: true,
        });
    } else if let Some((port, transport)) = focus {
        actions.push(Action::FocusPort(port, transport));
    }
    actions
}

/// The selected socket and its owners (their other sockets as `live`, the poll on screen, has
/// them). Returns a socket the user clicked, or a port to explain.
fn socket_ui(
    ui: &mut egui::Ui,
    sel: &Selection,
    input: &DetailsInput<'_>,
    kill: &mut Option<ProcessInfo>,
    actions: &mut Vec<Action>,
) -> (Option<Socket>, Option<(u16, Option<Transport>)>) {
    let (live, focus) = (input.snapshot, input.port_focus);
    let s = &sel.socket;
    let mut select = None;
    let mut explain = None;
    if sel.closed {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            "Closed: this socket was not in the latest poll. Shown as last seen.",
        );
    }
    egui::Grid::new("socket-grid")
        .num_columns(2)
        .spacing([12.0, 4.0])
        .show(ui, |ui| {
            field(ui, "Protocol", s.proto.label());
            field(ui, "Local", &s.local_endpoint());
            if let Some(words) = address_words(s.local_addr) {
                field(ui, "Local address", &words);
            }
            field(ui, "Remote", &s.remote_endpoint());
            if let Some(words) = s.remote_addr.and_then(address_words) {
                field(ui, "Remote address", &words);
            }
            field(ui, "State", s.state.as_str());
            field(ui, "Bind scope", s.bind_scope().meaning());
            if let Some(user) = sel.seen_in.socket_user(s) {
                field(ui, "Socket user", &escape(&user));
            }
            if s.cookie != 0 {
                field(
                    ui,
                    "Queues",
                    &format!("Recv-Q {} · Send-Q {}", s.recv_q, s.send_q),
                );
            }
            if let Some(drops) = sel.seen_in.drops(s) {
                let dropped = match drops {
                    0 => "none".to_owned(),
                    1 => "1 datagram, which arrived while the receive buffer was full".to_owned(),
                    n => format!("{n} datagrams, which arrived while the receive buffer was full"),
                };
                field(ui, "Dropped", &dropped);
            }
            if let Some(c) = sel.seen_in.container_of(s) {
                field(ui, "Container", &c.description());
            }
            if let Some(ns) = sel.seen_in.foreign_netns(s) {
                field(ui, "Network namespace", &ns.description());
            }
        });
    // A forwarder's port: where it leads, and the socket there.
    for published in sel.seen_in.published_on(s) {
        ui.add(egui::Label::new(format!("{}.", published.text)).wrap());
        if let Some(target) = live.forwarded_to(published)
            && ui.link("Show the container's socket").clicked()
        {
            select = Some(target.clone());
        }
    }
    let transport = Some(Transport::from(s.proto));
    ui.horizontal(|ui| {
        let local = (s.local_port, transport);
        if ui
            .add_enabled(
                focus != Some(local),
                egui::Button::new(format!("Explain local port {}", s.local_port)),
            )
            .clicked()
        {
            explain = Some(local);
        }
        if let Some(rp) = s.remote_port {
            let remote = (rp, transport);
            if ui
                .add_enabled(
                    focus != Some(remote),
                    egui::Button::new(format!("Explain remote port {rp}")),
                )
                .clicked()
            {
                explain = Some(remote);
            }
        }
    });
    // What can be done to the socket itself, before what it moved and who holds it.
    actions.extend(close_button(ui, s, &sel.seen_in, sel.closed));
    if let Some(traffic) = input.traffic {
        traffic_charts_ui(ui, traffic, s, &sel.seen_in);
    }
    ui.add_space(8.0);
    let snap = &sel.seen_in;
    match snap.owner(s) {
        Owner::Processes(list) => {
            let title = if list.len() == 1 {
                "Owning process".to_owned()
            } else {
                format!("Owning processes ({}, sharing this socket)", list.len())
            };
            ui.heading(title);
            for (pid, info) in list {
                ui.separator();
                match info {
                    Some(p) => {
                        if let Some(other) = process_ui(ui, snap, live, p, s, kill) {
                            select = Some(other);
                        }
                    }
                    None => {
                        ui.label(format!(
                            "PID {pid}: the process exited while it was being looked up."
                        ));
                    }
                }
            }
        }
        Owner::None(reason) => {
            ui.heading("No owning process");
            ui.add(egui::Label::new(escape(&reason.explain())).wrap());
        }
    }
    (select, explain)
}

fn field(ui: &mut egui::Ui, name: &str, value: &str) {
    ui.label(RichText::new(name).weak());
    ui.add(egui::Label::new(value).wrap().selectable(true));
    ui.end_row();
}

/// One process's fields (as `snap`, where the socket was seen, knew them) and its other live
/// sockets (those of `live`). Returns a socket the user clicked.
fn process_ui(
    ui: &mut egui::Ui,
    snap: &Snapshot,
    live: &Snapshot,
    p: &ProcessInfo,
    current: &Socket,
    kill: &mut Option<ProcessInfo>,
) -> Option<Socket> {
    ui.label(
        RichText::new(format!("{}  (PID {})", escape(&p.name), p.pid))
            .strong()
            .size(16.0),
    );
    egui::Grid::new(("process-grid", p.pid))
        .num_columns(2)
        .spacing([12.0, 4.0])
        .show(ui, |ui| {
            field(ui, "PID", &p.pid.to_string());
            field(ui, "Name", &escape(&p.name));
            field(
                ui,
                "Executable",
                &p.exe.as_deref().map_or(
                    "(not readable: the process belongs to another user or is a kernel thread)"
                        .into(),
                    escape,
                ),
            );
            let cmd = if p.cmdline.is_empty() {
                "(empty: a kernel thread, or not readable)".to_owned()
            } else {
                escape(&p.cmdline_string()).into_owned()
            };
            field(ui, "Command line", &cmd);
            let user = match (&p.user, p.uid) {
                (Some(name), Some(uid)) => format!("{} (uid {uid})", escape(name)),
                (None, Some(uid)) => format!("uid {uid} (no name in the user database)"),
                (Some(name), None) => escape(name).into_owned(),
                (None, None) => "(not reported)".to_owned(),
            };
            field(ui, "User", &user);
            let parent = match p.parent_pid {
                Some(ppid) => match live.process(ppid).or_else(|| snap.process(ppid)) {
                    Some(pp) => format!("{ppid} {}", escape(&pp.name)),
                    None => format!("{ppid} (exited or not visible)"),
                },
                None => "(none)".to_owned(),
            };
            field(ui, "Parent", &parent);
            let started = p
                .start_time
                .map_or_else(|| "(not reported)".to_owned(), started);
            field(ui, "Started", &started);
        });
    let end = ui
        .button("End process…")
        .on_hover_text("Ask this process to exit (SIGTERM), after a confirmation");
    if end.clicked() {
        *kill = Some(p.clone());
    }
    let others: Vec<&Socket> = live
        .sockets_of(p.pid)
        .map(|(_, s)| s)
        .filter(|s| s.key() != current.key())
        .collect();
    ui.add_space(4.0);
    ui.label(RichText::new(format!("Its other sockets ({})", others.len())).strong());
    let mut picked = None;
    for s in others.iter().take(200) {
        let text = s.summary();
        if ui.link(text).clicked() {
            picked = Some((*s).clone());
        }
    }
    if others.len() > 200 {
        ui.label(format!(
            "… and {} more (filter the table by PID {})",
            others.len() - 200,
            p.pid
        ));
    }
    picked
}

fn started(secs: u64) -> String {
    let Ok(ts) = jiff::Timestamp::from_second(secs as i64) else {
        return format!("{secs} s after the Unix epoch");
    };
    let zoned = ts.to_zoned(jiff::tz::TimeZone::system());
    let ago = jiff::Timestamp::now().duration_since(ts).as_secs();
    format!(
        "{} ({} ago)",
        zoned.strftime("%Y-%m-%d %H:%M:%S %Z"),
        human_duration(ago.max(0) as u64)
    )
}

fn human_duration(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..86_400 => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
        _ => format!("{} days {} h", secs / 86_400, secs % 86_400 / 3600),
    }
}
