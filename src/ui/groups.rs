//! The table grouped by process: one collapsible entry per process with its socket counts and
//! the rate of its connections, and one per reason for sockets without a visible process.
//! Where sockets live in other network namespaces (containers), the processes are grouped
//! under the namespace they are in first, this machine's own namespace at the top.
//! Only live sockets are grouped: the closed rows the flat table shows for a moment are no
//! process's sockets any more.

use std::collections::BTreeMap;
use std::sync::Arc;

use egui::RichText;

use super::action::Action;
use super::view::ViewState;
use crate::model::text::escape;
use crate::model::traffic::Rate;
use crate::model::{Owner, Snapshot, SockState, Socket, SocketKey, units};

/// The groups of one view, rebuilt when the view changes.
#[derive(Debug, Default)]
pub struct Groups {
    /// The [`ViewState::version`](super::view::ViewState::version) they were built for.
    built_for: Option<u64>,
    groups: Vec<Group>,
}

#[derive(Debug)]
struct Group {
    /// The namespace (container) the rows live in; `None`: portscope's own.
    place: Option<String>,
    title: String,
    /// Indices into the snapshot's sockets, in the view's order.
    rows: Vec<usize>,
    listening: usize,
    established: usize,
    /// What the process's connections move per second, if any has a rate.
    rate: Option<Rate>,
}

/// Sockets listed under one group before the rest are summed up.
const SHOWN_PER_GROUP: usize = 500;

impl Groups {
    fn rebuild(&mut self, version: u64, snap: &Arc<Snapshot>, rows: &[usize]) {
        if self.built_for == Some(version) {
            return;
        }
        // (place, sort key, title) → rows; this machine's own namespace first, then the
        // others by name; in each, processes first by name, then the reasons.
        let mut map: BTreeMap<(Option<String>, u8, String, u32), Vec<usize>> = BTreeMap::new();
        // Rows past the snapshot's sockets are closed rows: not grouped.
        for &i in rows {
            let Some(s) = snap.sockets.get(i) else {
                continue;
            };
            let place = place_of(snap, s);
            match snap.owner(s) {
                Owner::Processes(list) => {
                    for (pid, info) in list {
                        let name = info.map_or_else(|| format!("pid {pid}"), |p| p.name.clone());
                        map.entry((place.clone(), 0, name.to_lowercase(), pid))
                            .or_default()
                            .push(i);
                    }
                }
                Owner::None(reason) => {
                    let why = format!("no visible process: {}", reason.short());
                    map.entry((place, 1, why, 0)).or_default().push(i);
                }
            }
        }
        self.groups = map
            .into_iter()
            .map(|((place, kind, _, pid), rows)| {
                let title = if kind == 0 {
                    // The process of the group's machine.
                    let machine = snap.of(&snap.sockets[rows[0]]);
                    let name = machine.process(pid).map_or("(exited)", |p| p.name.as_str());
                    format!("{} (PID {pid})", escape(name))
                } else {
                    let s = &snap.sockets[rows[0]];
                    match snap.owner(s) {
                        Owner::None(reason) => {
                            format!("No visible process: {}", escape(&reason.short()))
                        }
                        Owner::Processes(_) => "No visible process".to_owned(),
                    }
                };
                let count = |state| {
                    rows.iter()
                        .filter(|i| snap.sockets[**i].state == state)
                        .count()
                };
                let rate = rows
                    .iter()
                    .filter_map(|i| snap.flow(&snap.sockets[*i]).and_then(|f| f.rate))
                    .reduce(|a, b| Rate {
                        down: a.down.saturating_add(b.down),
                        up: a.up.saturating_add(b.up),
                    });
                Group {
                    place,
                    title,
                    rate,
                    listening: count(SockState::Listen),
                    established: count(SockState::Established),
                    rows,
                }
            })
            .collect();
        self.built_for = Some(version);
    }
}

/// Where a socket lives, for grouping: in a table of several machines, its machine (this one
/// first, as no place) and there its container or namespace.
fn place_of(snap: &Snapshot, s: &Socket) -> Option<String> {
    let place = snap.place(s);
    match snap.of(s).machine.as_ref().filter(|_| snap.is_several()) {
        Some(m) if m.host.is_some() => Some(match place {
            Some(place) => format!("host {} · {place}", escape(&m.name)),
            None => format!("host {}", escape(&m.name)),
        }),
        _ => place,
    }
}

/// The view's sockets under their processes (the groups are rebuilt when the view changes).
pub(crate) fn groups_ui(
    ui: &mut egui::Ui,
    groups: &mut Groups,
    view: &ViewState,
    selected: Option<SocketKey>,
) -> Vec<Action> {
    let data = view.data();
    let snap = data.snapshot.clone();
    groups.rebuild(view.version(), &snap, &data.rows);
    let mut clicked: Option<Socket> = None;
    let places = groups.groups.iter().any(|g| g.place.is_some());
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            if !places {
                for group in &groups.groups {
                    group_ui(ui, group, &snap, selected, &mut clicked);
                }
            }
            // Under each namespace: its processes (the groups are sorted by namespace).
            let mut rest: &[Group] = if places { &groups.groups } else { &[] };
            while let Some(first) = rest.first() {
                let place = first.place.clone();
                let end = rest
                    .iter()
                    .position(|g| g.place != place)
                    .unwrap_or(rest.len());
                let (members, after) = rest.split_at(end);
                rest = after;
                // A socket several processes share is under each of them: count it once.
                let sockets = members
                    .iter()
                    .flat_map(|g| &g.rows)
                    .collect::<std::collections::BTreeSet<_>>()
                    .len();
                let count = match sockets {
                    1 => "1 socket".to_owned(),
                    n => format!("{n} sockets"),
                };
                let title = match &place {
                    Some(place) => format!("In {place} — {count}"),
                    None => format!("This machine's own namespace — {count}"),
                };
                egui::CollapsingHeader::new(RichText::new(title).strong().heading())
                    .id_salt(("place", &place))
                    .default_open(true)
                    .show(ui, |ui| {
                        for group in members {
                            group_ui(ui, group, &snap, selected, &mut clicked);
                        }
                    });
            }
            if groups.groups.is_empty() {
                ui.label("No sockets match.");
            }
        });
    clicked
        .map(|socket| Action::SelectSocket {
            socket,
            scroll: false,
        })
        .into_iter()
        .collect()
}

/// One process's entry: a heading with its counts, its sockets inside.
fn group_ui(
    ui: &mut egui::Ui,
    group: &Group,
    snap: &Snapshot,
    selected: Option<SocketKey>,
    clicked: &mut Option<Socket>,
) {
    let n = group.rows.len();
    let header = format!(
        "{} — {n} socket{}{}{}{}",
        group.title,
        if n == 1 { "" } else { "s" },
        if group.listening > 0 {
            format!(", {} listening", group.listening)
        } else {
            String::new()
        },
        if group.established > 0 {
            format!(", {} established", group.established)
        } else {
            String::new()
        },
        group.rate.map_or_else(String::new, |r| format!(
            " · ↓ {} ↑ {}",
            units::rate(r.down),
            units::rate(r.up)
        )),
    );
    egui::CollapsingHeader::new(RichText::new(header).strong())
        .id_salt(&group.title)
        .show(ui, |ui| {
            for &i in group.rows.iter().take(SHOWN_PER_GROUP) {
                let s = &snap.sockets[i];
                let text = s.summary();
                if ui
                    .selectable_label(selected == Some(s.key()), text)
                    .clicked()
                {
                    *clicked = Some(s.clone());
                }
            }
            if n > SHOWN_PER_GROUP {
                ui.label(format!(
                    "… and {} more: narrow the filter to see them",
                    n - SHOWN_PER_GROUP
                ));
            }
        });
}
