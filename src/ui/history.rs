//! The "Recently closed" window: sockets that went away, with the process that held them
//! (captured while they were alive), when they appeared and when they vanished.

use egui::RichText;
use egui_extras::{Column, TableBuilder};

use super::action::Action;
use super::status::clock;
use super::tracking::Tracking;
use crate::model::Snapshot;
use crate::model::history::{Appeared, ClosedSocket};
use crate::model::text::escape;
use crate::model::units;

/// The window, while open; returns its closing or *Clear*.
pub(crate) fn history_ui(
    ctx: &egui::Context,
    tracker: &Tracking,
    snapshot: &Snapshot,
) -> Vec<Action> {
    let mut open = true;
    let mut clear = false;
    egui::Window::new("Recently closed")
        .open(&mut open)
        .default_size([900.0, 420.0])
        .show(ctx, |ui| {
            let config = tracker.config();
            let history = tracker.history();
            ui.horizontal(|ui| {
                ui.label(format!(
                    "{} sockets closed in the last {} min (at most {} kept), newest first.",
                    history.len(),
                    config.keep_for.as_secs() / 60,
                    config.max_closed
                ));
                if ui.button("Clear").clicked() {
                    clear = true;
                }
            });
            if let Some(why) = &snapshot.ended_unavailable {
                ui.label(
                    RichText::new(format!(
                        "Closes are found by polls alone ({why}): a connection that opens and \
                         closes between two polls is not seen."
                    ))
                    .weak(),
                );
            }
            ui.style_mut().interaction.selectable_labels = false;
            let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
            TableBuilder::new(ui)
                .id_salt("history")
                .striped(true)
                .resizable(true)
                .column(Column::initial(70.0))
                .column(Column::initial(44.0))
                .column(Column::initial(160.0).clip(true))
                .column(Column::initial(160.0).clip(true))
                .column(Column::initial(150.0).clip(true))
                .column(Column::initial(150.0).clip(true))
                .column(Column::initial(150.0).clip(true))
                .column(Column::remainder().clip(true))
                .header(row_height, |mut header| {
                    for title in [
                        "Gone", "Proto", "Local", "Remote", "States", "Process", "Moved", "Lived",
                    ] {
                        header.col(|ui| {
                            ui.strong(title);
                        });
                    }
                })
                .body(|body| {
                    body.rows(row_height, history.len(), |mut row| {
                        let Some(c) = history.iter().rev().nth(row.index()) else {
                            return;
                        };
                        // In a table of several machines, which one it closed on.
                        let host = snapshot.is_several().then(|| {
                            snapshot.machine_name(&c.socket).map_or_else(
                                || format!("host {}", c.socket.host),
                                |name| escape(name).into_owned(),
                            )
                        });
                        history_row(&mut row, c, host.as_deref());
                    });
                });
        });
    let mut actions = Vec::new();
    if clear {
        actions.push(Action::ClearHistory);
    }
    if !open {
        actions.push(Action::ShowHistory(false));
    }
    actions
}

fn history_row(row: &mut egui_extras::TableRow<'_, '_>, c: &ClosedSocket, host: Option<&str>) {
    let s = &c.socket;
    row.col(|ui| {
        ui.label(clock(c.gone.wall));
    });
    row.col(|ui| {
        ui.label(s.proto.label());
    });
    row.col(|ui| {
        match host {
            Some(host) => ui.label(format!("{host}  {}", s.local_endpoint())),
            None => ui.label(s.local_endpoint()),
        };
    });
    row.col(|ui| {
        ui.label(s.remote_endpoint());
    });
    row.col(|ui| {
        let trail = c
            .states
            .as_slice()
            .iter()
            .map(|st| st.as_str())
            .collect::<Vec<_>>()
            .join(" → ");
        ui.label(trail);
    });
    row.col(|ui| {
        let label = escape(&c.process_label()).into_owned();
        let pids = s.pids_text(",");
        let text = if pids.is_empty() {
            label
        } else {
            format!("{label} ({pids})")
        };
        let response = ui.label(text);
        let cmd: Vec<String> = c
            .owners
            .iter()
            .filter_map(|o| {
                o.info
                    .as_ref()
                    .map(|p| escape(&p.cmdline_string()).into_owned())
            })
            .collect();
        if !cmd.is_empty() {
            response.on_hover_text(cmd.join("\n"));
        }
    });
    row.col(|ui| {
        // The final counters, where the kernel announced the close.
        if let Some(t) = c.final_stats {
            let moved = format!(
                "↑ {} ↓ {}",
                units::bytes(t.sent().unwrap_or(0)),
                units::bytes(t.bytes_received.unwrap_or(0))
            );
            ui.label(moved).on_hover_text(format!(
                "When it closed: {} sent, {} received, round trip {}, {} retransmitted",
                units::bytes(t.sent().unwrap_or(0)),
                units::bytes(t.bytes_received.unwrap_or(0)),
                units::rtt(t.rtt_us),
                t.retrans
            ));
        }
    });
    row.col(|ui| {
        let lived = match (c.appeared, c.seen_for()) {
            (Appeared::BeforeStart, _) => "open before portscope started".to_owned(),
            (Appeared::BetweenPolls, _) => "less than one poll (no poll saw it)".to_owned(),
            (_, Some(d)) if d.as_secs() < 1 => format!("< 1 s (from {})", appeared_clock(c)),
            (_, Some(d)) => format!("{} s (from {})", d.as_secs(), appeared_clock(c)),
            (_, None) => String::new(),
        };
        ui.label(RichText::new(lived).weak());
    });
}

fn appeared_clock(c: &ClosedSocket) -> String {
    c.appeared
        .moment()
        .map_or_else(String::new, |m| clock(m.wall))
}
