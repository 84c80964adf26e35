//! The application state and the frame loop.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::export::ExportDialog;
use super::kill::KillDialog;
use super::port_bar::{PortBarState, describe_port, port_bar_ui};
use super::view::{Row, ViewSpec, ViewState};
use crate::act::dns::Resolver;
use crate::collect::{Collector, Control, GeneratedSource, OsSource, SocketSource};
use crate::knowledge::{PortKnowledge, Transport, explain_now, parse_port};
use crate::model::history::{ChangeTracker, TrackerConfig};
use crate::model::query::{HELP, SYNTAX};
use crate::model::{
    Filter, Proto, QueryError, Snapshot, Socket, SocketKey, SortKey, SortSpec, Toggles,
};

/// Preferences kept between runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Prefs {
    pub sort: SortSpec,
    pub filter: String,
    pub toggles: Toggles,
    pub interval_ms: u64,
    pub theme: egui::ThemePreference,
    /// Show names for remote addresses (reverse DNS). Off unless asked: portscope sends
    /// nothing to the network by itself.
    pub resolve_names: bool,
    /// How long rows stay highlighted and closed rows linger; how much history is kept.
    pub tracker: TrackerConfig,
    /// Show sockets grouped under their processes instead of the flat table.
    pub group_by_process: bool,
    /// Columns the user hid.
    pub hidden_columns: Vec<SortKey>,
}

impl Default for Prefs {
    fn default() -> Self {
        Prefs {
            sort: SortSpec::default(),
            filter: String::new(),
            toggles: Toggles::default(),
            interval_ms: 1000,
            theme: egui::ThemePreference::System,
            resolve_names: false,
            tracker: TrackerConfig::default(),
            group_by_process: false,
            hidden_columns: Vec::new(),
        }
    }
}

/// Poll intervals offered in the status bar.
pub(crate) const INTERVALS_MS: [u64; 6] = [250, 500, 1000, 2000, 5000, 10_000];

/// The socket the details panel shows. A copy is kept so that a socket that closes
/// stays readable, marked as closed, instead of vanishing under the user's cursor.
#[derive(Clone, Debug)]
pub(crate) struct Selection {
    pub key: SocketKey,
    pub socket: Socket,
    /// The table the socket was last seen in (for its processes): a poll, or the closed rows.
    pub seen_in: Arc<Snapshot>,
    /// The poll on screen no longer has it.
    pub closed: bool,
}

/// Where the window reads the time: the system's clock, or a test's.
pub(crate) type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

pub struct PortscopeApp {
    pub(crate) prefs: Prefs,
    pub(crate) collector: Option<Collector>,
    /// The poll on screen, the view's: exactly what the OS said. The closed rows the table
    /// lists for a moment are apart from it, in the view.
    pub(crate) snapshot: Arc<Snapshot>,
    /// The newest snapshot from the collector; shown once its view is ready.
    pub(crate) incoming: Arc<Snapshot>,
    pub(crate) view: ViewState,
    pub(crate) filter: Filter,
    pub(crate) selection: Option<Selection>,
    pub(crate) paused: bool,
    /// Row to bring into view on the next frame (after a click in the details panel).
    pub(crate) scroll_to: Option<SocketKey>,
    pub(crate) startup_error: Option<String>,
    /// The port the explanation shows, and for which transport (`None`: all).
    pub(crate) port_focus: Option<(u16, Option<Transport>)>,
    /// The explanation of `port_focus`, rebuilt when the port or the snapshot changes.
    pub(crate) explained: Option<(u16, Option<Transport>, u64, PortKnowledge)>,
    pub(crate) bar: PortBarState,
    pub(crate) goto_text: String,
    pub(crate) goto_error: Option<String>,
    /// Why the text in the filter box does not parse; the last good filter stays in force.
    pub(crate) filter_error: Option<QueryError>,
    pub(crate) show_filter_help: bool,
    /// The details panel was closed; the selection stays (Enter opens it again).
    pub(crate) details_hidden: bool,
    /// The theme last applied to the context.
    applied_theme: Option<egui::ThemePreference>,
    /// The filter box's widget id, so Ctrl+F can focus it.
    filter_widget: Option<egui::Id>,
    /// Reverse DNS, started the first time names are switched on.
    pub(crate) resolver: Option<Resolver>,
    /// The "end process" dialog, while open.
    pub(crate) kill: Option<KillDialog>,
    /// What appeared, changed and closed: row highlights and the "Recently closed" history.
    pub(crate) tracker: ChangeTracker,
    /// When a snapshot arrived, for the tracker's highlights.
    clock: Clock,
    pub(crate) show_history: bool,
    pub(crate) groups: super::groups::Groups,
    /// The export dialog, while open.
    pub(crate) export: Option<ExportDialog>,
    /// A message for the user until dismissed (e.g. preferences that could not be read).
    pub(crate) notice: Option<String>,
    /// Where the preferences are saved (not for tests and screenshots).
    pub(crate) settings: Option<super::prefs::Store>,
}

pub(crate) fn transport_of(proto: Proto) -> Transport {
    match proto {
        Proto::Tcp => Transport::Tcp,
        Proto::Udp => Transport::Udp,
    }
}

impl PortscopeApp {
    /// The app on the live machine, with preferences restored from the last run.
    pub fn new(cc: &eframe::CreationContext<'_>, generated: Option<GeneratedSource>) -> Self {
        super::setup_context(&cc.egui_ctx);
        let file =
            eframe::storage_dir(super::APP_ID).map(|dir| dir.join(super::prefs::SETTINGS_FILE));
        let loaded = super::prefs::load(file.as_deref());
        let source: Result<Box<dyn SocketSource>, _> = match generated {
            Some(source) => Ok(Box::new(source) as Box<dyn SocketSource>),
            None => OsSource::new().map(|s| Box::new(s) as Box<dyn SocketSource>),
        };
        let mut app = match source {
            Ok(source) => Self::with_source(&cc.egui_ctx, source, loaded.prefs),
            Err(e) => {
                let mut app = Self::from_snapshot(Snapshot::default(), loaded.prefs);
                app.startup_error = Some(e.to_string());
                app
            }
        };
        app.notice = loaded.notice;
        let ctx = cc.egui_ctx.clone();
        app.settings = loaded
            .store
            .map(|s| s.waking(move || ctx.request_repaint()));
        app
    }

    /// The app polling `source` on a collector thread.
    pub fn with_source(ctx: &egui::Context, source: Box<dyn SocketSource>, prefs: Prefs) -> Self {
        let ctx = ctx.clone();
        let interval = Duration::from_millis(prefs.interval_ms);
        let mut app = Self::from_snapshot(Snapshot::default(), prefs);
        let wake_ctx = ctx.clone();
        app.view = ViewState::new(Arc::new(move || wake_ctx.request_repaint()));
        match Collector::spawn(source, interval, move || ctx.request_repaint()) {
            Ok(collector) => app.collector = Some(collector),
            Err(e) => app.startup_error = Some(format!("cannot start the collector thread: {e}")),
        }
        app
    }

    /// The app showing one fixed snapshot, with no collector (tests, screenshots).
    pub fn from_snapshot(snapshot: Snapshot, prefs: Prefs) -> Self {
        let (filter, filter_error) = match Filter::parse(&prefs.filter) {
            Ok(f) => (f, None),
            Err(e) => (Filter::parse_lossy(&prefs.filter), Some(e)),
        };
        let snapshot = Arc::new(snapshot);
        PortscopeApp {
            prefs,
            collector: None,
            snapshot: snapshot.clone(),
            incoming: snapshot,
            view: ViewState::default(),
            filter,
            selection: None,
            paused: false,
            scroll_to: None,
            startup_error: None,
            port_focus: None,
            explained: None,
            bar: PortBarState::default(),
            goto_text: String::new(),
            goto_error: None,
            filter_error,
            show_filter_help: false,
            details_hidden: false,
            applied_theme: None,
            filter_widget: None,
            resolver: None,
            kill: None,
            notice: None,
            settings: None,
            export: None,
            tracker: ChangeTracker::default(),
            clock: Arc::new(Instant::now),
            show_history: false,
            groups: super::groups::Groups::default(),
        }
    }

    /// The app reading the time from `clock` instead of the system, so that tests can step
    /// through highlights and lingering rows without waiting for them.
    pub fn with_clock(mut self, clock: impl Fn() -> Instant + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The port the explanation panel shows, if any.
    pub fn explained_port(&self) -> Option<u16> {
        self.port_focus.map(|(port, _)| port)
    }

    /// Explain `port` (for every transport), with no socket selected.
    pub fn select_port(&mut self, port: u16) {
        self.selection = None;
        self.port_focus = Some((port, None));
    }

    /// The explanation for the focused port (what uses it now first), computed once per port
    /// and snapshot.
    pub(crate) fn knowledge(&mut self) -> Option<&PortKnowledge> {
        let (port, transport) = self.port_focus?;
        let fresh = matches!(&self.explained, Some((p, t, seq, _))
            if *p == port && *t == transport && *seq == self.snapshot.seq);
        if !fresh {
            let k = explain_now(port, transport, &self.snapshot);
            self.explained = Some((port, transport, self.snapshot.seq, k));
        }
        self.explained.as_ref().map(|(_, _, _, k)| k)
    }

    fn goto_port(&mut self) {
        match parse_port(&self.goto_text) {
            Ok(port) => {
                self.goto_error = None;
                self.select_port(port);
            }
            Err(e) => self.goto_error = Some(e.to_string()),
        }
    }

    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// The selected socket, if any.
    pub fn selected(&self) -> Option<&Socket> {
        self.selection.as_ref().map(|s| &s.socket)
    }

    /// Sockets in display order, the closed rows still shown among them.
    pub fn visible_rows(&self) -> impl Iterator<Item = &Socket> {
        self.view.data().shown().map(|row| row.socket)
    }

    /// Whether the details panel shows its socket as closed.
    pub fn selection_closed(&self) -> Option<bool> {
        self.selection.as_ref().map(|s| s.closed)
    }

    /// Take `snapshot` as if the collector had just sent it (scripted sources, tests).
    pub fn push_snapshot(&mut self, snapshot: Snapshot) {
        self.incoming = Arc::new(snapshot);
    }

    /// How a socket's row is highlighted now, if at all.
    pub fn mark(&self, key: &SocketKey) -> Option<crate::model::history::Mark> {
        self.tracker.mark(key)
    }

    /// Sockets that went away, oldest first.
    pub fn closed_history(&self) -> impl Iterator<Item = &crate::model::history::ClosedSocket> {
        self.tracker.history().iter()
    }

    pub fn is_paused(&self) -> bool {
        self.paused
    }

    pub fn prefs(&self) -> &Prefs {
        &self.prefs
    }

    pub(crate) fn control(&mut self, control: Control) {
        match control {
            Control::Pause => self.paused = true,
            Control::Resume => self.paused = false,
            Control::SetInterval(d) => self.prefs.interval_ms = d.as_millis() as u64,
            Control::RefreshNow | Control::Shutdown => {}
        }
        if let Some(c) = &self.collector {
            c.send(control);
        }
    }

    /// Select a socket of the poll on screen.
    pub(crate) fn select(&mut self, socket: &Socket) {
        let poll = self.snapshot.clone();
        self.select_in(socket, &poll, false);
    }

    /// Select a row of the table: a socket of the poll, or a closed row (of `table`).
    pub(crate) fn select_row(&mut self, row: Row<'_>) {
        let (socket, table) = (row.socket.clone(), row.table.clone());
        self.select_in(&socket, &table, row.closing);
    }

    fn select_in(&mut self, socket: &Socket, table: &Arc<Snapshot>, closed: bool) {
        self.port_focus = Some((socket.local_port, Some(transport_of(socket.proto))));
        self.details_hidden = false;
        self.selection = Some(Selection {
            key: socket.key(),
            socket: socket.clone(),
            seen_in: table.clone(),
            closed,
        });
    }

    /// Take the filter box's text. Text that does not parse keeps the last good filter in
    /// force and shows why under the box.
    pub(crate) fn set_filter(&mut self, text: String, ctx: &egui::Context) {
        ctx.request_repaint();
        match Filter::parse(&text) {
            Ok(filter) => {
                self.filter = filter;
                self.filter_error = None;
            }
            Err(e) => self.filter_error = Some(e),
        }
        self.prefs.filter = text;
    }

    /// The filter error on show, if the box's text does not parse.
    pub fn filter_error(&self) -> Option<&QueryError> {
        self.filter_error.as_ref()
    }

    /// Take the newest snapshot, if one came, and have its view prepared. When the view on
    /// screen moves to a new snapshot, carry the selection over to it.
    fn intake(&mut self, ctx: &egui::Context) {
        if let Some(newest) = self.collector.as_ref().and_then(Collector::latest) {
            self.incoming = if newest.error.is_some() && newest.sockets.is_empty() {
                // A failed poll the collector could not fill in: keep the rows on show.
                Arc::new(Snapshot {
                    error: newest.error.clone(),
                    ..Snapshot::clone(&self.incoming)
                })
            } else {
                newest
            };
        }
        let now = (self.clock)();
        if *self.tracker.config() != self.prefs.tracker {
            self.tracker.set_config(self.prefs.tracker);
        }
        self.tracker.update(&self.incoming, now);
        if let Some(deadline) = self.tracker.next_deadline() {
            ctx.request_repaint_after(deadline.saturating_duration_since(now));
        }
        // The poll and the closed rows stay apart; the table lists both.
        let closing = self.tracker.closing_rows();
        let spec = ViewSpec {
            sort: self.prefs.sort,
            filter: self.filter.clone(),
            toggles: self.prefs.toggles,
        };
        self.view.update_with(&self.incoming, &closing, &spec);
        let shown = &self.view.data().snapshot;
        if Arc::ptr_eq(shown, &self.snapshot) {
            return;
        }
        self.snapshot = shown.clone();
        // A selected socket the poll no longer has is closed now, whether or not its row
        // lingers in the table.
        if let Some(sel) = &mut self.selection {
            match self.snapshot.sockets.iter().find(|s| s.key() == sel.key) {
                Some(s) => {
                    sel.socket = s.clone();
                    sel.seen_in = self.snapshot.clone();
                    sel.closed = false;
                }
                None => sel.closed = true,
            }
        }
    }

    /// Draw one frame.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        self.intake(ui.ctx());

        if self.applied_theme != Some(self.prefs.theme) {
            ui.ctx().set_theme(self.prefs.theme);
            self.applied_theme = Some(self.prefs.theme);
        }
        self.keyboard(ui.ctx());
        self.sync_resolver(ui.ctx());
        if let Some(error) = self
            .settings
            .as_mut()
            .and_then(super::prefs::Store::take_error)
        {
            self.notice = Some(error);
        }
        egui::Panel::top("toolbar").show(ui, |ui| self.toolbar_ui(ui));
        if let Some(notice) = self.notice.clone() {
            egui::Panel::top("notice").show(ui, |ui| {
                ui.horizontal_wrapped(|ui| {
                    ui.colored_label(ui.visuals().warn_fg_color, notice);
                    if ui.button("Dismiss").clicked() {
                        self.notice = None;
                    }
                });
            });
        }
        egui::Panel::top("portbar").show(ui, |ui| self.port_bar_panel_ui(ui));
        egui::Panel::bottom("status").show(ui, |ui| self.status_ui(ui));
        if let Some(dialog) = &mut self.kill
            && !dialog.ui(ui.ctx())
        {
            self.kill = None;
            self.control(Control::RefreshNow);
        }
        if let Some(dialog) = &mut self.export
            && !dialog.ui(ui.ctx())
        {
            self.export = None;
        }
        if self.show_filter_help {
            self.filter_help_ui(ui.ctx());
        }
        if self.show_history {
            self.history_ui(ui.ctx());
        }
        if (self.selection.is_some() || self.port_focus.is_some()) && !self.details_hidden {
            egui::Panel::right("details")
                .resizable(true)
                .default_size(420.0)
                .show(ui, |ui| self.details_ui(ui));
        }
        egui::CentralPanel::default().show(ui, |ui| {
            if self.prefs.group_by_process {
                self.groups_ui(ui);
            } else {
                self.table_ui(ui);
            }
        });
    }

    fn port_bar_panel_ui(&mut self, ui: &mut egui::Ui) {
        ui.add_space(4.0);
        let snapshot = self.snapshot.clone();
        let selected = self.explained_port();
        let usage = self.view.data().usage.clone();
        let out = port_bar_ui(
            ui,
            &mut self.bar,
            &usage,
            &snapshot.ephemeral,
            selected,
            |port| describe_port(port, &snapshot),
        );
        if let Some(port) = out.clicked {
            self.select_port(port);
        }
        ui.horizontal(|ui| {
            ui.label("Zoom:");
            let ranges = [
                ("all", 0u16, 65535u16),
                ("well-known", 0, 1023),
                ("registered", 1024, 49151),
                ("dynamic", 49152, 65535),
                ("ephemeral", snapshot.ephemeral.start, snapshot.ephemeral.end),
            ];
            for (name, lo, hi) in ranges {
                if ui.small_button(name).clicked() {
                    self.bar.view = super::port_scale::PortView::new(f64::from(lo), f64::from(hi) + 1.0);
                }
            }
            ui.separator();
            let gauge = &self.view.data().gauge;
            ui.add(
                egui::ProgressBar::new(gauge.fraction())
                    .desired_width(120.0)
                    .text(format!("{:.1}%", gauge.fraction() * 100.0)),
            )
            .on_hover_text(
                "Share of this OS's ephemeral range in use. Near 100%, new outgoing connections fail \
                 (EADDRNOTAVAIL); many TIME_WAIT sockets are the usual cause.",
            );
            ui.label(gauge.summary());
        });
    }

    fn toolbar_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.heading("portscope");
            ui.separator();
            let mut text = self.prefs.filter.clone();
            let label = ui.label("Filter");
            let edit = egui::TextEdit::singleline(&mut text)
                .hint_text("words, or port:443 state:listen proc:nginx -state:time_wait …")
                .desired_width(380.0);
            let response = ui.add(edit).labelled_by(label.id).on_hover_text(SYNTAX);
            self.filter_widget = Some(response.id);
            if response.changed() {
                self.set_filter(text, ui.ctx());
            }
            if ui
                .button("?")
                .on_hover_text("Filter syntax and examples")
                .clicked()
            {
                self.show_filter_help = !self.show_filter_help;
            }
            if !self.prefs.filter.is_empty() && ui.button("Clear").clicked() {
                self.set_filter(String::new(), ui.ctx());
            }
            ui.separator();
            let label = ui.label("Go to port");
            let goto = ui
                .add(
                    egui::TextEdit::singleline(&mut self.goto_text)
                        .hint_text("0–65535")
                        .desired_width(70.0),
                )
                .labelled_by(label.id);
            let enter = goto.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui.button("Explain").clicked() || enter {
                self.goto_port();
            }
            if goto.changed() {
                self.goto_error = None;
            }
            if let Some(error) = &self.goto_error {
                ui.colored_label(ui.visuals().error_fg_color, error);
            }
            ui.separator();
            let closed = self.tracker.history().len();
            ui.toggle_value(
                &mut self.show_history,
                format!("Recently closed ({closed})"),
            )
            .on_hover_text("Sockets that went away, with the process that held them");
            if ui
                .button("Export…")
                .on_hover_text("Save the table as shown to CSV or JSON")
                .clicked()
            {
                // What is live: the closed rows shown for a moment are not exported.
                let data = self.view.data();
                self.export = Some(ExportDialog::new(
                    data.snapshot.clone(),
                    data.live_row_indices(),
                ));
            }
            let data = self.view.data();
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
        if let Some(e) = &self.filter_error {
            let mut text = format!("Filter not applied: {}", e.message);
            if let Some(hint) = &e.hint {
                text.push_str(&format!(" — {hint}"));
            }
            ui.colored_label(ui.visuals().error_fg_color, text);
        }
        ui.horizontal(|ui| {
            let t = &mut self.prefs.toggles;
            let before = *t;
            ui.toggle_value(&mut t.listening_only, "Listening only");
            ui.toggle_value(&mut t.hide_time_wait, "Hide TIME_WAIT");
            ui.separator();
            ui.toggle_value(&mut t.tcp, "TCP");
            ui.toggle_value(&mut t.udp, "UDP");
            ui.separator();
            ui.toggle_value(&mut t.ipv4, "IPv4");
            ui.toggle_value(&mut t.ipv6, "IPv6");
            ui.separator();
            ui.toggle_value(&mut self.prefs.group_by_process, "Group by process");
            ui.menu_button("Columns", |ui| {
                for key in SortKey::ALL {
                    let mut shown = !self.prefs.hidden_columns.contains(&key);
                    let last = shown && self.prefs.hidden_columns.len() + 1 == SortKey::ALL.len();
                    if ui
                        .add_enabled(!last, egui::Checkbox::new(&mut shown, key.title()))
                        .changed()
                    {
                        self.prefs.hidden_columns.retain(|k| *k != key);
                        if !shown {
                            self.prefs.hidden_columns.push(key);
                        }
                    }
                }
            });
            ui.separator();
            ui.toggle_value(&mut self.prefs.resolve_names, "Resolve names")
                .on_hover_text(
                    "Show names of remote addresses by reverse DNS. This sends queries to your \
                 DNS server; off by default.",
                );
            if *t != before {
                ui.ctx().request_repaint();
            }
        });
    }

    fn filter_help_ui(&mut self, ctx: &egui::Context) {
        let mut open = self.show_filter_help;
        let mut chosen = None;
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
                                    if ui.link(egui::RichText::new(*example).monospace()).clicked()
                                    {
                                        chosen = Some((*example).to_owned());
                                    }
                                    ui.label(*meaning);
                                    ui.end_row();
                                }
                            });
                    });
            });
        self.show_filter_help = open;
        if let Some(example) = chosen {
            self.set_filter(example, ctx);
        }
    }

    /// Keyboard: arrows move the selection, Enter opens details, Ctrl+F focuses the filter,
    /// Esc clears it, F5 refreshes, Space pauses, Ctrl+C copies the selected row.
    fn keyboard(&mut self, ctx: &egui::Context) {
        use egui::{Key, Modifiers};
        let typing = ctx.egui_wants_keyboard_input();
        let filter_focused = self
            .filter_widget
            .is_some_and(|id| ctx.memory(|m| m.has_focus(id)));
        let (focus_filter, escape, refresh) = ctx.input_mut(|i| {
            (
                i.consume_key(Modifiers::COMMAND, Key::F),
                i.key_pressed(Key::Escape),
                i.consume_key(Modifiers::NONE, Key::F5),
            )
        });
        if focus_filter && let Some(id) = self.filter_widget {
            ctx.memory_mut(|m| m.request_focus(id));
        }
        if escape && (filter_focused || !typing) && !self.prefs.filter.is_empty() {
            self.set_filter(String::new(), ctx);
            if let Some(id) = self.filter_widget {
                ctx.memory_mut(|m| m.surrender_focus(id));
            }
        }
        if refresh {
            self.control(Control::RefreshNow);
        }
        if typing {
            return;
        }
        let (space, up, down, enter, copy) = ctx.input_mut(|i| {
            (
                i.consume_key(Modifiers::NONE, Key::Space),
                i.consume_key(Modifiers::NONE, Key::ArrowUp),
                i.consume_key(Modifiers::NONE, Key::ArrowDown),
                i.consume_key(Modifiers::NONE, Key::Enter),
                i.events.iter().any(|e| matches!(e, egui::Event::Copy)),
            )
        });
        if space {
            self.control(if self.paused {
                Control::Resume
            } else {
                Control::Pause
            });
        }
        if up || down {
            self.move_selection(if down { 1 } else { -1 });
        }
        if enter && self.selection.is_some() {
            self.details_hidden = false;
        }
        if copy && let Some(sel) = &self.selection {
            ctx.copy_text(super::table::row_text(&sel.seen_in, &sel.socket));
        }
    }

    /// Start or stop reverse DNS to match the preference.
    fn sync_resolver(&mut self, ctx: &egui::Context) {
        if self.prefs.resolve_names && self.resolver.is_none() {
            let ctx = ctx.clone();
            self.resolver = Some(Resolver::new(move || ctx.request_repaint()));
        }
        if let Some(r) = &self.resolver
            && r.enabled() != self.prefs.resolve_names
        {
            r.set_enabled(self.prefs.resolve_names);
        }
    }

    /// Select the row `step` rows below (negative: above) the selected one.
    fn move_selection(&mut self, step: isize) {
        let data = self.view.data();
        if data.rows.is_empty() {
            return;
        }
        let current = self.selection.as_ref().and_then(|sel| {
            data.rows
                .iter()
                .position(|i| data.row(*i).is_some_and(|r| r.socket.key() == sel.key))
        });
        let next = match current {
            Some(at) => at.saturating_add_signed(step).min(data.rows.len() - 1),
            None if step > 0 => 0,
            None => data.rows.len() - 1,
        };
        if let Some(row) = data.row(data.rows[next]) {
            let (socket, table, closing) = (row.socket.clone(), row.table.clone(), row.closing);
            self.scroll_to = Some(socket.key());
            self.select_in(&socket, &table, closing);
        }
    }
}

impl eframe::App for PortscopeApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        PortscopeApp::ui(self, ui);
    }

    /// eframe's storage keeps only the window; the preferences go to portscope's own file.
    fn save(&mut self, _storage: &mut dyn eframe::Storage) {
        if let Some(settings) = &mut self.settings {
            settings.save(&self.prefs);
        }
    }
}
