//! The socket table: virtualized (only visible rows are laid out), sortable by any column,
//! whole-row click selection. Its columns are [`crate::model::column::COLUMNS`].

use egui::{Color32, RichText, Sense};
use egui_extras::{Column, TableBuilder};

use std::sync::Arc;

use super::action::Action;
use super::close::close_button;
use super::tracking::Tracking;
use super::view::ViewData;
use crate::act::dns::Resolver;
use crate::model::column::Cell;
use crate::model::history::Mark;
use crate::model::text::escape;
use crate::model::{Proto, Snapshot, Socket, SocketKey, SortKey, SortSpec};

/// The marker beside the local port of a server the OS may take its port from.
pub(crate) const RISK_MARK: &str = "!";

/// What the table reads.
pub(crate) struct TableInput<'a> {
    pub data: &'a ViewData,
    /// Shown, in order.
    pub columns: &'a [SortKey],
    pub sort: SortSpec,
    pub selected: Option<SocketKey>,
    /// A row to bring into view in this frame.
    pub scroll_to: Option<SocketKey>,
    pub tracker: &'a Tracking,
    /// Reverse DNS, when names are on.
    pub names: Option<&'a Resolver>,
    pub startup_error: Option<&'a str>,
}

/// The socket table. Returns what the user asked for: a sort, a row, a menu entry.
pub(crate) fn table_ui(ui: &mut egui::Ui, input: &TableInput<'_>) -> Vec<Action> {
    let mut actions = Vec::new();
    if let Some(error) = input.startup_error {
        ui.colored_label(ui.visuals().error_fg_color, error);
    }
    // Labels must not take the click: the whole row is the interactive element.
    ui.style_mut().interaction.selectable_labels = false;
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 6.0;
    let data = input.data;
    let rows = &data.rows;
    let columns = input.columns;
    let scroll_row = input.scroll_to.and_then(|key| {
        rows.iter()
            .position(|i| data.row(*i).is_some_and(|r| r.socket.key() == key))
    });
    // Widths are remembered per set of columns, so hiding one does not shift the others.
    let mut table = TableBuilder::new(ui)
        .id_salt(("sockets", columns))
        .striped(true)
        .resizable(true)
        .sense(Sense::click())
        .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
        .min_scrolled_height(0.0);
    for (n, key) in columns.iter().enumerate() {
        let column = if n + 1 == columns.len() {
            Column::remainder()
        } else {
            Column::initial(key.column().width)
        };
        // Cells elide their text instead of clipping it, so the whole table shares one
        // clip rectangle and paints as a few meshes rather than one per cell.
        table = table.column(column.at_least(40.0).clip(false));
    }
    if let Some(row) = scroll_row {
        table = table.scroll_to_row(row, Some(egui::Align::Center));
    }

    let sort = input.sort;
    let mut clicked: Option<usize> = None;
    let mut menu_action: Option<(usize, RowAction)> = None;
    table
        .header(row_height + 2.0, |mut header| {
            for &key in columns {
                header.col(|ui| {
                    ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Truncate);
                    let arrow = if sort.key == key {
                        sort.dir.arrow()
                    } else {
                        ""
                    };
                    let text = format!("{} {arrow}", key.title());
                    let button =
                        egui::Button::new(RichText::new(text.trim_end()).strong()).frame(false);
                    if ui
                        .add(button)
                        .on_hover_text("Sort by this column; click again to reverse")
                        .clicked()
                    {
                        actions.push(Action::SetSort(sort.clicked(key)));
                    }
                });
            }
        })
        .body(|body| {
            body.rows(row_height, rows.len(), |mut row| {
                let index = rows[row.index()];
                let Some(shown) = data.row(index) else {
                    return;
                };
                let socket = shown.socket;
                row.set_selected(input.selected == Some(socket.key()));
                let mark = if shown.closing {
                    Some(Mark::Closing)
                } else {
                    input.tracker.mark(&socket.key())
                };
                row_cells(&mut row, columns, shown.table, socket, input.names, mark);
                let response = row.response();
                if response.clicked() {
                    clicked = Some(index);
                }
                response.context_menu(|ui| {
                    if let Some(action) = row_menu(ui, shown.table, socket, shown.closing) {
                        menu_action = Some((index, action));
                    }
                });
            });
        });

    let select = |index: usize| {
        data.row(index).map(|r| Action::SelectRow {
            socket: r.socket.clone(),
            table: r.table.clone(),
            closing: r.closing,
        })
    };
    actions.extend(clicked.and_then(select));
    if let Some((index, action)) = menu_action
        && let Some(row) = data.row(index)
    {
        match action {
            RowAction::ExplainRemote(port) => {
                actions.extend(select(index));
                actions.push(Action::FocusPort(port, Some(row.socket.proto.into())));
            }
            RowAction::Details => actions.extend(select(index)),
            RowAction::Kill(pid) => {
                if let Some(p) = row.table.process(pid) {
                    actions.push(Action::AskKill {
                        process: p.clone(),
                        host: row.socket.host,
                    });
                }
            }
            RowAction::Close => actions.push(Action::AskClose {
                socket: row.socket.clone(),
                table: row.table.clone(),
            }),
        }
    }
    actions
}

/// What a row's context menu asks the window to do (copying happens in the menu itself).
enum RowAction {
    Details,
    ExplainRemote(u16),
    Kill(u32),
    Close,
}

fn row_menu(
    ui: &mut egui::Ui,
    snap: &Arc<Snapshot>,
    s: &Socket,
    closing: bool,
) -> Option<RowAction> {
    let mut action = None;
    if ui.button("Show details").clicked() {
        action = Some(RowAction::Details);
    }
    if let Some(port) = s.remote_port
        && ui.button(format!("Explain remote port {port}")).clicked()
    {
        action = Some(RowAction::ExplainRemote(port));
    }
    ui.separator();
    if ui.button("Copy row").clicked() {
        ui.ctx().copy_text(row_text(snap, s));
    }
    if ui.button(format!("Copy {}", s.local_endpoint())).clicked() {
        ui.ctx().copy_text(s.local_endpoint());
    }
    if s.remote_addr.is_some() && ui.button(format!("Copy {}", s.remote_endpoint())).clicked() {
        ui.ctx().copy_text(s.remote_endpoint());
    }
    if !s.pids.is_empty() {
        let pids = s.pids_text(" ");
        if ui.button(format!("Copy PID {pids}")).clicked() {
            ui.ctx().copy_text(pids);
        }
        let cmd: Vec<String> = s
            .pids
            .iter()
            .filter_map(|pid| snap.process(*pid))
            .map(|p| p.cmdline_string())
            .filter(|c| !c.is_empty())
            .collect();
        if !cmd.is_empty() && ui.button("Copy command line").clicked() {
            ui.ctx().copy_text(cmd.join("\n"));
        }
        ui.separator();
        for pid in &s.pids {
            if let Some(p) = snap.process(*pid)
                && ui
                    .button(format!("End {} (PID {pid})…", escape(&p.name)))
                    .clicked()
            {
                action = Some(RowAction::Kill(*pid));
            }
        }
    }
    if s.proto == Proto::Tcp {
        if s.pids.is_empty() {
            ui.separator();
        }
        if close_button(ui, s, snap, closing).is_some() {
            action = Some(RowAction::Close);
        }
    }
    action
}

/// One row as text, the way Copy puts it on the clipboard: tab-separated like `list`'s
/// table, with process and user text escaped so that a name cannot add a row or a column.
pub(crate) fn row_text(snap: &Snapshot, s: &Socket) -> String {
    let pids = s.pids_text(",");
    let mut text = format!(
        "{}\t{}\t{}\t{}\t{}\t{}",
        s.proto.label(),
        s.local_endpoint(),
        s.remote_endpoint(),
        s.state,
        pids,
        escape(&snap.process_label(s))
    );
    if let Some(user) = snap.socket_user(s) {
        text.push('\t');
        text.push_str(&escape(&user));
    }
    text
}

fn row_cells(
    row: &mut egui_extras::TableRow<'_, '_>,
    columns: &[SortKey],
    snap: &Snapshot,
    s: &Socket,
    names: Option<&Resolver>,
    mark: Option<Mark>,
) {
    let weak = |text: &str| RichText::new(text).weak();
    // Changes are tinted across the whole row: green new, yellow changed state, red closing.
    let tint = mark.map(mark_color);
    let mut col = |add: &mut dyn FnMut(&mut egui::Ui)| {
        row.col(|ui| {
            ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Truncate);
            if let Some(color) = tint {
                // Half the spacing on each side: neighbouring cells meet without overlapping,
                // so the translucent tint is even across the row.
                ui.painter().rect_filled(
                    ui.max_rect().expand2(ui.spacing().item_spacing * 0.5),
                    0.0,
                    color,
                );
            }
            add(ui);
        });
    };
    for &key in columns {
        col(&mut |ui| match key {
            // The name of the remote address, when looked up.
            SortKey::RemoteAddr if names.is_some() && s.remote_addr.is_some() => {
                let Some(a) = s.remote_addr else { return };
                let lookup = names.map(|r| r.lookup(a));
                let (text, hover) = super::names::remote_address(a, lookup.as_ref());
                let label = ui.label(text);
                if let Some(hover) = hover {
                    label.on_hover_text(hover);
                }
            }
            // A server on a port the OS may hand out: a marker, and why on hover.
            SortKey::LocalPort if snap.at_ephemeral_risk(s) => {
                let e = &snap.ephemeral;
                let why = format!(
                    "Inside the ephemeral range {}–{}: while this server is down, the OS may \
                     give port {} to an outgoing connection, and the server cannot start again \
                     until that connection is over (EADDRINUSE). Select the row for the remedy.",
                    e.start, e.end, s.local_port
                );
                // The marker apart from the number, so the number reads as in any other row.
                let warn = ui.visuals().warn_fg_color;
                ui.label(RichText::new(RISK_MARK).strong().color(warn))
                    .on_hover_text(&why);
                ui.label(RichText::new(s.local_port.to_string()).color(warn))
                    .on_hover_text(why);
            }
            // Coloured by state; a changed state says what it was.
            SortKey::State => {
                let label = ui.label(RichText::new(s.state.as_str()).color(state_color(ui, s)));
                if let Some(Mark::StateChanged { from }) = mark {
                    label.on_hover_text(format!("was {from} until the last poll"));
                }
            }
            _ => match (key.column().cell)(snap, s) {
                Cell::Text(text) => {
                    ui.label(text.as_ref());
                }
                Cell::Missing => {
                    ui.label(weak("*"));
                }
                Cell::Note { short, explain } => {
                    ui.label(weak(&short).italics()).on_hover_text(explain);
                }
            },
        });
    }
}

/// Translucent tints that read on light and dark themes alike.
fn mark_color(mark: Mark) -> Color32 {
    match mark {
        Mark::New => Color32::from_rgba_unmultiplied(40, 180, 70, 70),
        Mark::StateChanged { .. } => Color32::from_rgba_unmultiplied(230, 190, 20, 80),
        Mark::Closing => Color32::from_rgba_unmultiplied(225, 45, 45, 80),
    }
}

fn state_color(ui: &egui::Ui, s: &Socket) -> Color32 {
    use crate::model::SockState;
    let dark = ui.visuals().dark_mode;
    match s.state {
        SockState::Listen => {
            if dark {
                Color32::from_rgb(110, 200, 250)
            } else {
                Color32::from_rgb(0, 90, 170)
            }
        }
        SockState::Established => {
            if dark {
                Color32::from_rgb(120, 220, 140)
            } else {
                Color32::from_rgb(20, 120, 40)
            }
        }
        SockState::TimeWait | SockState::CloseWait | SockState::FinWait1 | SockState::FinWait2 => {
            ui.visuals().weak_text_color()
        }
        _ => ui.visuals().text_color(),
    }
}
