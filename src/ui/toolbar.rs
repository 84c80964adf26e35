//! The toolbar: the filter box and its help, *Go to port* and *Find a free port*, the quick
//! toggles, *Columns*,
//! *Recently closed* and *Export…*.

use super::action::Action;
use super::prefs::Prefs;
use super::view::ViewData;
use crate::model::query::{HELP, SYNTAX};
use crate::model::{QueryError, SortKey};

/// What the toolbar reads.
pub(crate) struct ToolbarInput<'a> {
    pub prefs: &'a Prefs,
    pub data: &'a ViewData,
    pub filter_error: Option<&'a QueryError>,
    pub goto_text: &'a str,
    pub goto_error: Option<&'a str>,
    /// A search for a free port is under way.
    pub finding_free: bool,
    pub show_filter_help: bool,
    pub show_history: bool,
    /// Sockets in *Recently closed*.
    pub closed: usize,
}

/// Draws the toolbar; returns what was asked and the filter box's id (for Ctrl+F).
pub(crate) fn toolbar_ui(ui: &mut egui::Ui, input: &ToolbarInput<'_>) -> (Vec<Action>, egui::Id) {
    let mut actions = Vec::new();
    let prefs = input.prefs;
    let mut filter_id = egui::Id::NULL;
    ui.horizontal(|ui| {
        ui.heading("portscope");
        ui.separator();
        let mut text = prefs.filter.clone();
        let label = ui.label("Filter");
        let edit = egui::TextEdit::singleline(&mut text)
            .hint_text("words, or port:443 state:listen proc:nginx -state:time_wait …")
            .desired_width(380.0);
        let response = ui.add(edit).labelled_by(label.id).on_hover_text(SYNTAX);
        filter_id = response.id;
        if response.changed() {
            actions.push(Action::SetFilter(text));
        }
        if ui
            .button("?")
            .on_hover_text("Filter syntax and examples")
            .clicked()
        {
            actions.push(Action::ShowFilterHelp(!input.show_filter_help));
        }
        if !prefs.filter.is_empty() && ui.button("Clear").clicked() {
            actions.push(Action::SetFilter(String::new()));
        }
        ui.separator();
        let label = ui.label("Go to port");
        let mut goto_text = input.goto_text.to_owned();
        let goto = ui
            .add(
                egui::TextEdit::singleline(&mut goto_text)
                    .hint_text("0–65535")
                    .desired_width(70.0),
            )
            .labelled_by(label.id);
        let enter = goto.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        let submit = ui.button("Explain").clicked() || enter;
        if submit || goto.changed() {
            actions.push(Action::GotoText(goto_text, submit));
        }
        if input.finding_free {
            ui.spinner();
        } else if ui
            .button("Find a free port")
            .on_hover_text(
                "A port a new service can take: unused, outside the ephemeral range and the \
                 reserved ports, not registered with IANA, and free to bind now (near the port \
                 in the box, if there is one)",
            )
            .clicked()
        {
            actions.push(Action::FindFreePort);
        }
        if let Some(error) = input.goto_error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        ui.separator();
        let mut show_history = input.show_history;
        if ui
            .toggle_value(
                &mut show_history,
                format!("Recently closed ({})", input.closed),
            )
            .on_hover_text("Sockets that went away, with the process that held them")
            .changed()
        {
            actions.push(Action::ShowHistory(show_history));
        }
        if ui
            .button("Export…")
            .on_hover_text("Save the table as shown to CSV or JSON")
            .clicked()
        {
            actions.push(Action::OpenExport);
        }
        let data = input.data;
        let shown = data.live_rows;
        let total = data.snapshot.sockets.len();
        let mut text = if shown == total {
            format!("{total} sockets")
        } else {
            format!("{shown} of {total} sockets")
        };
        let closed = data.rows.len() - data.live_rows;
        if closed > 0 {
            text.push_str(&format!(" · {closed} just closed"));
        }
        ui.label(text);
    });
    if let Some(e) = input.filter_error {
        let mut text = format!("Filter not applied: {}", e.message);
        if let Some(hint) = &e.hint {
            text.push_str(&format!(" — {hint}"));
        }
        ui.colored_label(ui.visuals().error_fg_color, text);
    }
    ui.horizontal(|ui| {
        let mut t = prefs.toggles;
        ui.toggle_value(&mut t.listening_only, "Listening only");
        ui.toggle_value(&mut t.hide_time_wait, "Hide TIME_WAIT");
        ui.separator();
        ui.toggle_value(&mut t.tcp, "TCP");
        ui.toggle_value(&mut t.udp, "UDP");
        ui.separator();
        ui.toggle_value(&mut t.ipv4, "IPv4");
        ui.toggle_value(&mut t.ipv6, "IPv6");
        if t != prefs.toggles {
            actions.push(Action::SetToggles(t));
        }
        ui.separator();
        let mut timeline = prefs.show_timeline;
        if ui
            .toggle_value(&mut timeline, "Timeline")
            .on_hover_text("The last 10 minutes above the table (T)")
            .changed()
        {
            actions.push(Action::ShowTimeline(timeline));
        }
        let mut grouped = prefs.group_by_process;
        if ui.toggle_value(&mut grouped, "Group by process").changed() {
            actions.push(Action::GroupByProcess(grouped));
        }
        ui.menu_button("Columns", |ui| {
            let shown_count = prefs.columns().len();
            for key in SortKey::ALL {
                let mut shown = prefs.column_shown(key);
                let last = shown && shown_count == 1;
                if ui
                    .add_enabled(!last, egui::Checkbox::new(&mut shown, key.title()))
                    .changed()
                {
                    actions.push(Action::ShowColumn(key, shown));
                }
            }
        });
        ui.separator();
        let mut resolve = prefs.resolve_names;
        if ui
            .toggle_value(&mut resolve, "Resolve names")
            .on_hover_text(
                "Show names of remote addresses by reverse DNS. This sends queries to your \
                 DNS server; off by default.",
            )
            .changed()
        {
            actions.push(Action::ResolveNames(resolve));
        }
        // On the second row, where there is room: the first holds the sockets' count at its
        // end, which must stay in view at 1200 px.
        ui.separator();
        if ui
            .button("Hosts…")
            .on_hover_text("Show this machine or another one, over SSH")
            .clicked()
        {
            actions.push(Action::OpenHosts);
        }
    });
    (actions, filter_id)
}

/// The filter's help window, while open: the syntax, and examples that fill the box.
pub(crate) fn filter_help_ui(ctx: &egui::Context) -> Vec<Action> {
    let mut open = true;
    let mut actions = Vec::new();
    egui::Window::new("Filter syntax")
        .open(&mut open)
        .default_width(520.0)
        .show(ctx, |ui| {
            ui.add(egui::Label::new(SYNTAX).wrap());
            ui.separator();
            ui.label("Examples (click one to use it):");
            egui::ScrollArea::vertical()
                .max_height(360.0)
                .show(ui, |ui| {
                    egui::Grid::new("filter-examples")
                        .num_columns(2)
                        .show(ui, |ui| {
                            for (example, meaning) in HELP {
                                if ui.link(egui::RichText::new(*example).monospace()).clicked() {
                                    actions.push(Action::SetFilter((*example).to_owned()));
                                }
                                ui.label(*meaning);
                                ui.end_row();
                            }
                        });
                });
        });
    if !open {
        actions.push(Action::ShowFilterHelp(false));
    }
    actions
}
