//! The application state and the frame loop.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::action::Action;
use super::bar_panel::bar_panel_ui;
use super::close::{CloseDialog, Closer, os_closer};
use super::details::{DetailsInput, details_ui};
use super::export::ExportDialog;
use super::groups::{Groups, groups_ui};
use super::hint::{HiddenOwners, hint_ui};
use super::history::history_ui;
use super::hosts::{
    Connect, HostLine, HostStatusFn, HostsDialog, HostsInput, REMOTE_ONLY_HERE, hosts_ui,
    system_connect,
};
use super::job::{Job, waker};
use super::keys::{KeysInput, keyboard};
use super::kill::KillDialog;
use super::port_bar::PortBarState;
use super::port_scale::PortView;
use super::prefs::{Loaded, Prefs, Store};
use super::remote_act::{RemoteActFn, RemoteDialog};
use super::selection::Selection;
use super::status::{StatusInput, status_ui};
use super::table::{TableInput, table_ui};
use super::timeline::timeline_ui;
use super::toolbar::{ToolbarInput, filter_help_ui, toolbar_ui};
use super::tracking::Tracking;
use super::view::{ViewSpec, ViewState};
use super::window::FitToScreen;
use crate::act::dns::Resolver;
use crate::act::free::{FreeSearch, find_free};
use crate::collect::{
    Collector, Control, GeneratedSource, HelperSource, HelperSwitch, HostEntry, HostSet, Machines,
    SocketSource,
};
use crate::knowledge::{PortKnowledge, Transport, parse_port};
use crate::model::explain_now;
use crate::model::timeline::Timeline;
use crate::model::traffic_history::TrafficHistory;
use crate::model::{Filter, QueryError, Snapshot, Socket, SocketKey};

/// The status bar's opened/closed rates are averaged over about this long.
const RATES_OVER: Duration = Duration::from_secs(5);

/// Where the window reads the time: the system's clock, or a test's.
pub(crate) type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

pub struct PortscopeApp {
    prefs: Prefs,
    collector: Option<Collector>,
    /// The privileged helper's switch, when the window polls the live machine (Linux).
    helper: Option<Arc<HelperSwitch>>,
    /// The poll on screen, the view's: exactly what the OS said. The closed rows the table
    /// lists for a moment are apart from it, in the view.
    snapshot: Arc<Snapshot>,
    /// The newest snapshot from the collector; shown once its view is ready.
    incoming: Arc<Snapshot>,
    view: ViewState,
    filter: Filter,
    selection: Option<Selection>,
    paused: bool,
    /// Row to bring into view on the next frame (after a click in the details panel).
    scroll_to: Option<SocketKey>,
    startup_error: Option<String>,
    /// The port the explanation shows, and for which transport (`None`: all).
    port_focus: Option<(u16, Option<Transport>)>,
    /// The explanation of `port_focus` on `focus_host`, rebuilt when the port, the machine or
    /// the snapshot changes.
    explained: Option<(u16, Option<Transport>, u16, u64, PortKnowledge)>,
    /// The machine whose ports the bar and the explanation show (0: this one): the selected
    /// row's, or the one picked above the bar.
    focus_host: u16,
    bar: PortBarState,
    goto_text: String,
    goto_error: Option<String>,
    /// The search *Find a free port* started, while it runs (it binds ports: off the UI thread).
    free_job: Option<Job<Vec<u16>>>,
    /// Why the text in the filter box does not parse; the last good filter stays in force.
    filter_error: Option<QueryError>,
    show_filter_help: bool,
    /// The details panel was closed; the selection stays (Enter opens it again).
    details_hidden: bool,
    /// The theme last applied to the context.
    applied_theme: Option<egui::ThemePreference>,
    /// The filter box's widget id, so Ctrl+F can focus it.
    filter_widget: Option<egui::Id>,
    /// Reverse DNS, started the first time names are switched on.
    pub(crate) resolver: Option<Resolver>,
    /// The "end process" dialog, while open.
    kill: Option<KillDialog>,
    /// The "close connection" dialog, while open, and what it closes sockets with.
    close: Option<CloseDialog>,
    closer: Closer,
    /// What appeared, changed and closed: row highlights and the "Recently closed" history.
    tracker: Tracking,
    /// Rate and RTT of the connections that move data, for the details panel's charts.
    traffic: TrafficHistory,
    /// The last minutes of the table: the timeline chart and the opened/closed rates.
    timeline: Timeline,
    /// When a snapshot arrived, for the tracker's highlights.
    clock: Clock,
    show_history: bool,
    groups: Groups,
    /// The export dialog, while open.
    export: Option<ExportDialog>,
    /// A message for the user until dismissed (e.g. preferences that could not be read).
    notice: Option<String>,
    /// Where the preferences are saved (not for tests and screenshots).
    settings: Option<Store>,
    /// Sockets whose owner needs root, counted while their hint may still be shown.
    hidden_owners: HiddenOwners,
    fit_to_screen: FitToScreen,
    /// Opens a machine's source: this one's, and each host's when it is added (`None`: the
    /// window shows one fixed source and no hosts).
    connect: Option<Connect>,
    /// The hosts listed beside this machine, shared with the source that merges them.
    hosts: HostSet,
    /// The hosts beside this machine, in the order added.
    host_lines: Vec<Host>,
    /// The dialog that ends a process or closes a connection on a host, while open.
    remote_act: Option<RemoteDialog>,
    /// The *Hosts…* dialog, while open.
    hosts_dialog: Option<HostsDialog>,
    /// The window title last set.
    titled: Option<String>,
}

/// Have `ctx` draw one frame for data a background thread has made ready. Asked for at once,
/// egui draws two frames for every wake (the second to let a layout settle); a new table
/// needs one, and each frame is the renderer's work for the whole window. The frame still
/// comes if the wake falls while one is being drawn. The frame's cause is the caller's.
#[track_caller]
fn show_new_data(ctx: &egui::Context) {
    ctx.request_repaint_after(NEW_DATA_AFTER);
}

/// How soon a frame shows new data: at once, as egui counts it (any delay above zero draws
/// one frame, not two).
const NEW_DATA_AFTER: Duration = Duration::from_micros(1);

/// A host of the table: its line, and what acts there.
struct Host {
    host: String,
    id: u16,
    status: Option<HostStatusFn>,
    act: Option<RemoteActFn>,
}

impl PortscopeApp {
    /// The app on the live machine (or on `generated` sockets), with the preferences
    /// `loaded` from the last run.
    pub fn new(
        cc: &eframe::CreationContext<'_>,
        generated: Option<GeneratedSource>,
        hosts: Vec<String>,
        loaded: Loaded,
    ) -> Self {
        // The live machine (on Linux with the privileged helper for the owners it cannot
        // see), or a host over SSH; made-up sockets stay on their own.
        let mut app = match generated {
            Some(source) => Self::with_source(&cc.egui_ctx, Box::new(source), loaded.prefs),
            None => Self::with_connect(&cc.egui_ctx, system_connect(), hosts, loaded.prefs),
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
        let mut app = Self::from_snapshot(Snapshot::default(), prefs).woken_by(ctx);
        app.poll(ctx, source);
        app
    }

    /// The app with its view and tracker threads waking the window when they are done.
    fn woken_by(mut self, ctx: &egui::Context) -> Self {
        let wake = |ctx: &egui::Context| -> Arc<dyn Fn() + Send + Sync> {
            let ctx = ctx.clone();
            Arc::new(move || show_new_data(&ctx))
        };
        self.view = ViewState::new(wake(ctx));
        self.tracker = Tracking::new(self.prefs.tracker, wake(ctx));
        // On its thread the tracker moves its own clock on at its deadlines: no frame asks.
        self.tracker.tick_by(self.clock.clone());
        self
    }

    /// Poll `source` on a collector thread, or say why it cannot start.
    fn poll(&mut self, ctx: &egui::Context, source: Box<dyn SocketSource>) {
        let interval = Duration::from_millis(self.prefs.interval_ms);
        let ctx = ctx.clone();
        match Collector::spawn(source, interval, move || show_new_data(&ctx)) {
            Ok(collector) => self.collector = Some(collector),
            Err(e) => self.startup_error = Some(format!("cannot start the collector thread: {e}")),
        }
    }

    /// The app polling `source`, which a privileged helper started by `launch` completes once
    /// the user asks for it (*Show all processes…*): the window uses `pkexec`, tests start the
    /// helper directly.
    pub fn with_helper(
        ctx: &egui::Context,
        source: Box<dyn SocketSource>,
        launch: crate::collect::helper::source::Launch,
        prefs: Prefs,
    ) -> Self {
        let switch = Arc::new(HelperSwitch::default());
        let source = HelperSource::with_launch(source, switch.clone(), launch);
        let mut app = Self::with_source(ctx, Box::new(source), prefs);
        app.helper = Some(switch);
        app
    }

    /// The app on this machine and the remembered hosts (with `hosts`, which are remembered
    /// too), each opened by `connect`; the *Hosts…* dialog adds and removes hosts.
    pub fn with_connect(
        ctx: &egui::Context,
        connect: Connect,
        hosts: Vec<String>,
        prefs: Prefs,
    ) -> Self {
        let mut app = Self::from_snapshot(Snapshot::default(), prefs).woken_by(ctx);
        app.connect = Some(connect.clone());
        for host in hosts {
            if !app.prefs.hosts.contains(&host) {
                app.prefs.hosts.push(host);
            }
        }
        let interval = Duration::from_millis(app.prefs.interval_ms);
        match connect(None, interval) {
            Ok(opened) => {
                app.helper = opened.helper;
                let source = Machines::new(opened.source, app.hosts.clone());
                app.poll(ctx, Box::new(source));
            }
            Err(e) => app.startup_error = Some(e),
        }
        let mut failed = Vec::new();
        for host in app.prefs.hosts.clone() {
            if let Err(e) = app.start_host(&host) {
                failed.push(format!("{}: {e}", crate::model::text::escape(&host)));
            }
        }
        if !failed.is_empty() {
            app.notice = Some(format!("cannot read {}", failed.join("; ")));
        }
        app
    }

    /// Start reading `host` beside this machine: its own collector, whose tables the
    /// machine's source merges at its next poll. Never waits on the host.
    fn start_host(&mut self, host: &str) -> Result<(), String> {
        let connect = self
            .connect
            .clone()
            .ok_or_else(|| "this window shows one source only".to_owned())?;
        let interval = Duration::from_millis(self.prefs.interval_ms);
        let opened = connect(Some(host), interval)?;
        let id = self
            .hosts
            .lock()
            .next_id()
            .ok_or_else(|| "no more hosts can be added in this window".to_owned())?;
        // Its tables are taken at the merging source's next poll: nothing to wake here.
        let source = crate::collect::machines::tagged(opened.source, id, host);
        let collector = Collector::spawn(source, interval, || {})
            .map_err(|e| format!("cannot start a collector thread: {e}"))?;
        if self.paused {
            collector.send(Control::Pause);
        }
        self.hosts
            .lock()
            .entries
            .push(HostEntry::new(id, host.to_owned(), collector));
        self.host_lines.push(Host {
            host: host.to_owned(),
            id,
            status: opened.status,
            act: opened.act,
        });
        Ok(())
    }

    /// Stop reading `host`: its rows leave the table at the next poll.
    fn stop_host(&mut self, host: &str) {
        let removed: Vec<HostEntry> = {
            let mut list = self.hosts.lock();
            let (gone, kept) = std::mem::take(&mut list.entries)
                .into_iter()
                .partition(|e| e.host == host);
            list.entries = kept;
            gone
        };
        self.host_lines.retain(|h| h.host != host);
        for entry in &removed {
            if self.focus_host == entry.id {
                self.focus_host = 0;
                self.explained = None;
            }
            if self
                .selection
                .as_ref()
                .is_some_and(|sel| sel.key.host == entry.id)
            {
                self.selection = None;
            }
        }
        if !removed.is_empty() {
            // A collector waits for its thread when dropped: not on the UI thread.
            let stopping = std::thread::Builder::new()
                .name("stop host".into())
                .spawn(move || drop(removed));
            drop(stopping);
        }
        if let Some(collector) = &self.collector {
            collector.send(Control::RefreshNow);
        }
    }

    /// The hosts listed beside this machine, in the order added.
    pub fn listed_hosts(&self) -> Vec<String> {
        self.host_lines.iter().map(|h| h.host.clone()).collect()
    }

    /// The machine the bar and the explanation show (0: this one).
    pub fn focus_host(&self) -> u16 {
        self.focus_host
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
            helper: None,
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
            free_job: None,
            filter_error,
            show_filter_help: false,
            details_hidden: false,
            applied_theme: None,
            filter_widget: None,
            resolver: None,
            kill: None,
            close: None,
            closer: os_closer(),
            notice: None,
            settings: None,
            export: None,
            tracker: Tracking::default(),
            traffic: TrafficHistory::default(),
            timeline: Timeline::default(),
            clock: Arc::new(Instant::now),
            show_history: false,
            groups: Groups::default(),
            hidden_owners: HiddenOwners::default(),
            fit_to_screen: FitToScreen::default(),
            connect: None,
            hosts: HostSet::default(),
            host_lines: Vec::new(),
            remote_act: None,
            focus_host: 0,
            hosts_dialog: None,
            titled: None,
        }
    }

    /// The app reading the time from `clock` instead of the system, so that tests can step
    /// through highlights and lingering rows without waiting for them.
    pub fn with_clock(mut self, clock: impl Fn() -> Instant + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self.tracker.tick_by(self.clock.clone());
        self
    }

    /// The app with `timeline` as the history behind its timeline chart (benchmarks, tests).
    pub fn with_timeline(mut self, timeline: Timeline) -> Self {
        self.timeline = timeline;
        self
    }

    /// The app closing connections with `closer` instead of asking the kernel, so that tests
    /// can confirm the dialog without root.
    pub fn with_closer(
        mut self,
        closer: impl Fn(&Socket) -> Result<(), crate::act::close::CloseError> + Send + Sync + 'static,
    ) -> Self {
        self.closer = std::sync::Arc::new(closer);
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
    fn knowledge(&mut self) -> Option<&PortKnowledge> {
        let (port, transport) = self.port_focus?;
        let host = self.focus_host;
        let fresh = matches!(&self.explained, Some((p, t, h, seq, _))
            if *p == port && *t == transport && *h == host && *seq == self.snapshot.seq);
        if !fresh {
            // The machine's own sockets and ephemeral range.
            let k = explain_now(port, transport, self.snapshot.on(host));
            self.explained = Some((port, transport, host, self.snapshot.seq, k));
        }
        self.explained.as_ref().map(|(_, _, _, _, k)| k)
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

    /// Start looking for a free port near the one in the *Go to port* box.
    fn find_free_port(&mut self, ctx: &egui::Context) {
        let search = FreeSearch {
            transport: Transport::Tcp,
            near: parse_port(&self.goto_text).ok(),
            count: 1,
        };
        let snap = machine_table(&self.snapshot, 0);
        match Job::spawn("free-port", waker(ctx), move || find_free(&search, &snap)) {
            Ok(job) => self.free_job = Some(job),
            Err(e) => self.goto_error = Some(format!("cannot start the search: {e}")),
        }
    }

    /// Explain the port the search found, once it is done.
    fn take_free_port(&mut self) {
        let Some(result) = self.free_job.as_ref().and_then(Job::poll) else {
            return;
        };
        self.free_job = None;
        match result {
            Ok(ports) => match ports.first() {
                Some(&port) => {
                    self.goto_text = port.to_string();
                    self.goto_error = None;
                    self.select_port(port);
                }
                None => self.goto_error = Some("no free port found".to_owned()),
            },
            Err(e) => self.goto_error = Some(e),
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

    fn control(&mut self, control: Control) {
        match control {
            Control::Pause => self.paused = true,
            Control::Resume => self.paused = false,
            Control::SetInterval(d) => self.prefs.interval_ms = d.as_millis() as u64,
            Control::RefreshNow | Control::Shutdown => {}
        }
        if let Some(c) = &self.collector {
            c.send(control);
        }
        // Each host's collector too: paused, a host is not read either.
        for entry in &self.hosts.lock().entries {
            entry.collector.send(control);
        }
    }

    /// Select a socket of the poll on screen.
    fn select(&mut self, socket: &Socket) {
        let poll = machine_table(&self.snapshot, socket.host);
        self.select_in(socket, &poll, false);
    }

    fn select_in(&mut self, socket: &Socket, table: &Arc<Snapshot>, closed: bool) {
        self.port_focus = Some((socket.local_port, Some(socket.proto.into())));
        self.focus_host = socket.host;
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
    fn set_filter(&mut self, text: String, ctx: &egui::Context) {
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
        let mut ended = Vec::new();
        if let Some((newest, announced)) = self
            .collector
            .as_ref()
            .and_then(Collector::latest_with_ended)
        {
            ended = announced;
            self.incoming = super::tracking::kept_on_failure(newest, &self.incoming);
        }
        let now = (self.clock)();
        if *self.tracker.config() != self.prefs.tracker {
            self.tracker.set_config(self.prefs.tracker);
        }
        let spec = ViewSpec {
            sort: self.prefs.sort,
            filter: self.filter.clone(),
            toggles: self.prefs.toggles,
        };
        // On its thread, the tracker asks for the view of each table once it knows the
        // table's closed rows: one frame brings both.
        if self.tracker.on_its_thread() {
            self.tracker.show_views_with(|| self.view.asker(), &spec);
        }
        // On the UI thread for ordinary tables; for large ones on the tracker's thread, whose
        // tables come back here when it is done with them.
        let relaying = self.collector.as_ref().is_some_and(Collector::relays);
        for taken in self.tracker.take_in(&self.incoming, now, ended) {
            // Closes no poll will report: the timeline counts them where they happened.
            for at in taken.unseen {
                self.timeline.note_closed(at, 1);
            }
            match &taken.measured {
                Some(measured) => {
                    self.timeline
                        .update_measured(&taken.snapshot, measured, taken.changes)
                }
                None => self.timeline.update(&taken.snapshot, taken.changes),
            };
            // Tables the collector handed the tracker's thread come to the window this way.
            if relaying && taken.snapshot.seq >= self.incoming.seq {
                self.incoming = taken.snapshot;
            }
        }
        // Once the tracker is on its thread, the collector hands it the tables itself.
        if let Some(collector) = &self.collector
            && !relaying
            && let Some(relay) = self.tracker.relay()
        {
            collector.relay_to(relay);
        }
        // This machine's connections: a host's counters are numbered by its own kernel.
        self.traffic.update(self.incoming.on(0));
        if let Some(deadline) = self.tracker.next_deadline() {
            ctx.request_repaint_after(deadline.saturating_duration_since(now));
        }
        // The poll and the closed rows stay apart; the table lists both. A table the tracker's
        // thread has not answered for yet has its view asked for there.
        let closing = self.tracker.closing_rows();
        if !self.tracker.awaiting() {
            self.view.update_with(&self.incoming, &closing, &spec);
        }
        let shown = &self.view.data().snapshot;
        if Arc::ptr_eq(shown, &self.snapshot) {
            return;
        }
        let rows = self.snapshot.sockets.len();
        let old = std::mem::replace(&mut self.snapshot, shown.clone());
        super::letting_go::drop_later(old, rows);
        // A selected socket the poll no longer has is closed now, whether or not its row
        // lingers in the table.
        if let Some(sel) = &mut self.selection {
            match self.snapshot.sockets.iter().find(|s| s.key() == sel.key) {
                Some(s) => {
                    sel.socket = s.clone();
                    sel.seen_in = machine_table(&self.snapshot, s.host);
                    sel.closed = false;
                }
                None => sel.closed = true,
            }
        }
    }

    /// Draw one frame: take in the newest snapshot, read the keys, draw the panels, then
    /// apply what the user asked for.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        self.intake(ui.ctx());
        self.fit_to_screen.apply(ui.ctx());

        if self.applied_theme != Some(self.prefs.theme) {
            ui.ctx().set_theme(self.prefs.theme);
            self.applied_theme = Some(self.prefs.theme);
        }
        let keys = keyboard(
            ui.ctx(),
            &KeysInput {
                filter_widget: self.filter_widget,
                filter_empty: self.prefs.filter.is_empty(),
                paused: self.paused,
                timeline_shown: self.prefs.show_timeline,
                selection: self.selection.as_ref(),
            },
        );
        self.apply(keys, ui.ctx());
        self.take_free_port();
        self.sync_resolver(ui.ctx());
        if let Some(error) = self.settings.as_mut().and_then(Store::take_error) {
            self.notice = Some(error);
        }
        let title = match self.host_lines.as_slice() {
            [] => "portscope".to_owned(),
            [one] => format!(
                "portscope — this machine and {}",
                crate::model::text::escape(&one.host)
            ),
            more => format!("portscope — this machine and {} hosts", more.len()),
        };
        if self.titled.as_deref() != Some(title.as_str()) {
            ui.ctx()
                .send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.titled = Some(title);
        }
        let host_lines: Vec<HostLine> = self
            .host_lines
            .iter()
            .filter_map(|h| h.status.as_ref().map(|status| status()))
            .collect();
        if host_lines.iter().any(|l| l.retry_at.is_some()) {
            // The retries' countdown.
            ui.ctx().request_repaint_after(Duration::from_secs(1));
        }
        let mut actions = Vec::new();
        egui::Panel::top("toolbar").show(ui, |ui| {
            let (asked, filter_id) = toolbar_ui(
                ui,
                &ToolbarInput {
                    prefs: &self.prefs,
                    data: self.view.data(),
                    filter_error: self.filter_error.as_ref(),
                    goto_text: &self.goto_text,
                    goto_error: self.goto_error.as_deref(),
                    finding_free: self.free_job.is_some(),
                    show_filter_help: self.show_filter_help,
                    show_history: self.show_history,
                    closed: self.tracker.history().len(),
                },
            );
            self.filter_widget = Some(filter_id);
            actions.extend(asked);
        });
        if self.hidden_owners.seq != self.snapshot.seq {
            // This machine's owners: the helper shows this machine's.
            self.hidden_owners = HiddenOwners::of(self.snapshot.on(0));
            self.hidden_owners.seq = self.snapshot.seq;
        }
        let helper = self.helper.as_ref().map(|switch| switch.status());
        // The hint offers this machine's helper: nothing for a remote host's owners.
        let hint = !self.prefs.owners_hint_dismissed && self.hidden_owners.worth_a_hint();
        if hint {
            egui::Panel::top("owners_hint").show(ui, |ui| {
                actions.extend(hint_ui(ui, &self.hidden_owners, helper.as_ref()));
            });
        }
        if let Some(notice) = &self.notice {
            egui::Panel::top("notice").show(ui, |ui| {
                ui.horizontal_wrapped(|ui| {
                    ui.colored_label(ui.visuals().warn_fg_color, notice);
                    if ui.button("Dismiss").clicked() {
                        actions.push(Action::DismissNotice);
                    }
                });
            });
        }
        egui::Panel::top("portbar").show(ui, |ui| {
            let selected = self.explained_port();
            actions.extend(bar_panel_ui(
                ui,
                &mut self.bar,
                self.view.data(),
                selected,
                self.focus_host,
            ));
        });
        egui::Panel::bottom("status").show(ui, |ui| {
            actions.extend(status_ui(
                ui,
                &StatusInput {
                    counts: self.view.data().counts,
                    snapshot: &self.snapshot,
                    prefs: &self.prefs,
                    paused: self.paused,
                    rates: self.timeline.rates(RATES_OVER),
                    // The hint, when shown, has the button already.
                    helper: helper
                        .as_ref()
                        .map(|status| (status, if hint { 0 } else { self.hidden_owners.sockets })),
                    hosts: &host_lines,
                    now: Instant::now(),
                },
            ));
        });
        if let Some(dialog) = &mut self.kill
            && !dialog.ui(ui.ctx())
        {
            actions.push(Action::CloseKill);
        }
        if let Some(dialog) = &mut self.close
            && !dialog.ui(ui.ctx())
        {
            actions.push(Action::DismissClose);
        }
        if let Some(dialog) = &mut self.remote_act
            && !dialog.ui(ui.ctx())
        {
            actions.push(Action::CloseRemoteAct);
        }
        if let Some(dialog) = &mut self.export
            && !dialog.ui(ui.ctx())
        {
            actions.push(Action::CloseExport);
        }
        if self.show_filter_help {
            actions.extend(filter_help_ui(ui.ctx()));
        }
        if let Some(dialog) = &mut self.hosts_dialog {
            actions.extend(hosts_ui(
                ui.ctx(),
                dialog,
                &HostsInput {
                    hosts: &self.prefs.hosts,
                    lines: &host_lines,
                },
            ));
        }
        if self.show_history {
            actions.extend(history_ui(ui.ctx(), &self.tracker, &self.snapshot));
        }
        if (self.selection.is_some() || self.port_focus.is_some()) && !self.details_hidden {
            self.knowledge();
            egui::Panel::right("details")
                .resizable(true)
                .default_size(420.0)
                .show(ui, |ui| {
                    let knowledge = self.explained.as_ref().map(|(_, _, _, _, k)| k);
                    let host = self.focus_host;
                    actions.extend(details_ui(
                        ui,
                        &DetailsInput {
                            selection: self.selection.as_ref(),
                            // The selected row's machine: its processes' other sockets.
                            snapshot: self.snapshot.on(host),
                            port_focus: self.port_focus,
                            knowledge: knowledge.filter(|_| self.port_focus.is_some()),
                            // This machine's counters; a host's are not charted.
                            traffic: (host == 0).then_some(&self.traffic),
                        },
                    ));
                });
        }
        // Above the table, beside the details panel: the table's own history.
        if self.prefs.show_timeline {
            egui::Panel::top("timeline").show(ui, |ui| timeline_ui(ui, &self.timeline));
        }
        egui::CentralPanel::default().show(ui, |ui| {
            if self.prefs.group_by_process {
                let selected = self.selection.as_ref().map(|s| s.key);
                actions.extend(groups_ui(ui, &mut self.groups, &self.view, selected));
            } else {
                let snap = &self.view.data().snapshot;
                let columns: Vec<crate::model::SortKey> = self
                    .prefs
                    .columns()
                    .into_iter()
                    .filter(|key| key.applies(snap))
                    .collect();
                let names = self
                    .prefs
                    .resolve_names
                    .then_some(())
                    .and(self.resolver.as_ref());
                actions.extend(table_ui(
                    ui,
                    &TableInput {
                        data: self.view.data(),
                        columns: &columns,
                        sort: self.prefs.sort,
                        selected: self.selection.as_ref().map(|s| s.key),
                        scroll_to: self.scroll_to.take(),
                        tracker: &self.tracker,
                        names,
                        startup_error: self.startup_error.as_deref(),
                    },
                ));
            }
        });
        self.apply(actions, ui.ctx());
    }

    /// Do what the panels asked, in the order they asked it.
    fn apply(&mut self, actions: Vec<Action>, ctx: &egui::Context) {
        for action in actions {
            match action {
                Action::SelectSocket { socket, scroll } => {
                    if scroll {
                        self.scroll_to = Some(socket.key());
                    }
                    self.select(&socket);
                }
                Action::SelectRow {
                    socket,
                    table,
                    closing,
                } => self.select_in(&socket, &table, closing),
                Action::MoveSelection(step) => self.move_selection(step),
                Action::FocusPort(port, transport) => self.port_focus = Some((port, transport)),
                Action::ExplainPort(port) => self.select_port(port),
                Action::GotoText(text, submit) => {
                    let changed = text != self.goto_text;
                    self.goto_text = text;
                    if submit {
                        self.goto_port();
                    }
                    if changed {
                        self.goto_error = None;
                    }
                }
                // It binds ports here: for a host's ports it would answer for the wrong machine.
                Action::FindFreePort if self.focus_host != 0 => {
                    self.goto_error = Some(format!("Find a free port: {REMOTE_ONLY_HERE}"));
                }
                Action::FindFreePort => self.find_free_port(ctx),
                Action::ShowDetails => self.details_hidden = false,
                Action::HideDetails => self.details_hidden = true,
                // A host's PID means another process here: its own portscope acts there.
                Action::AskKill { process, host } if host != 0 => {
                    self.remote_act = self
                        .remote_dialog(host, |name, act| RemoteDialog::end(name, &process, act));
                }
                Action::AskClose { socket, table } if socket.host != 0 => {
                    let host = socket.host;
                    self.remote_act = self.remote_dialog(host, |name, act| {
                        RemoteDialog::close(name, socket, &table, act)
                    });
                }
                Action::AskKill { process, .. } => self.kill = Some(KillDialog::new(&process)),
                Action::CloseRemoteAct => {
                    self.remote_act = None;
                    self.control(Control::RefreshNow);
                }
                Action::CloseKill => {
                    self.kill = None;
                    self.control(Control::RefreshNow);
                }
                Action::AskClose { socket, table } => {
                    self.close = Some(CloseDialog::new(socket, &table, self.closer.clone()));
                }
                Action::DismissClose => {
                    self.close = None;
                    self.control(Control::RefreshNow);
                }
                Action::OpenExport => {
                    // What is live: the closed rows shown for a moment are not exported.
                    let data = self.view.data();
                    self.export = Some(ExportDialog::new(
                        data.snapshot.clone(),
                        data.live_row_indices(),
                    ));
                }
                Action::CloseExport => self.export = None,
                Action::SetFilter(text) => self.set_filter(text, ctx),
                Action::ShowFilterHelp(show) => self.show_filter_help = show,
                Action::ShowHistory(show) => self.show_history = show,
                Action::ShowTimeline(show) => self.prefs.show_timeline = show,
                Action::ClearHistory => self.tracker.clear(),
                Action::SetSort(sort) => {
                    self.prefs.sort = sort;
                    ctx.request_repaint();
                }
                Action::SetToggles(toggles) => {
                    self.prefs.toggles = toggles;
                    ctx.request_repaint();
                }
                Action::GroupByProcess(on) => self.prefs.group_by_process = on,
                Action::ShowColumn(key, shown) => self.prefs.show_column(key, shown),
                Action::ResolveNames(on) => self.prefs.resolve_names = on,
                Action::Highlight(d) => {
                    self.prefs.tracker.new_for = d;
                    self.prefs.tracker.changed_for = d;
                    self.prefs.tracker.linger = d;
                }
                Action::Theme(theme) => self.prefs.theme = theme,
                Action::Control(control) => self.control(control),
                Action::DismissNotice => self.notice = None,
                Action::DismissOwnersHint => self.prefs.owners_hint_dismissed = true,
                Action::ShowAllProcesses => {
                    if let Some(switch) = &self.helper {
                        switch.request();
                    }
                    // The collector starts it at its next poll: now.
                    if let Some(collector) = &self.collector {
                        collector.send(Control::RefreshNow);
                    }
                }
                Action::ZoomBar(lo, hi) => {
                    self.bar.view = PortView::new(f64::from(lo), f64::from(hi) + 1.0);
                }
                Action::OpenHosts => self.hosts_dialog = Some(HostsDialog::default()),
                Action::CloseHosts => self.hosts_dialog = None,
                Action::AddHost(host) => {
                    if !self.prefs.hosts.contains(&host) {
                        self.prefs.hosts.push(host.clone());
                        if let Err(e) = self.start_host(&host) {
                            self.notice = Some(format!(
                                "cannot read {}: {e}",
                                crate::model::text::escape(&host)
                            ));
                        }
                    }
                }
                Action::RemoveHost(host) => {
                    self.prefs.hosts.retain(|h| *h != host);
                    self.stop_host(&host);
                }
                Action::FocusHost(host) => {
                    self.focus_host = host;
                    self.explained = None;
                    // The selection's details are its own machine's: they go with another.
                    if self.selection.as_ref().is_some_and(|s| s.key.host != host) {
                        self.selection = None;
                    }
                }
            }
        }
    }

    /// The dialog `make` builds for host `id`, with what acts there; a notice when that
    /// host cannot be acted on (it was removed meanwhile).
    fn remote_dialog(
        &mut self,
        id: u16,
        make: impl FnOnce(&str, RemoteActFn) -> RemoteDialog,
    ) -> Option<RemoteDialog> {
        match self.host_lines.iter().find(|h| h.id == id) {
            Some(Host {
                host,
                act: Some(act),
                ..
            }) => Some(make(host, act.clone())),
            _ => {
                self.notice = Some("that host is no longer in the table".to_owned());
                None
            }
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

/// The part of `snapshot` that is machine `host`'s, where it lists several; else `snapshot`.
fn machine_table(snapshot: &Arc<Snapshot>, host: u16) -> Arc<Snapshot> {
    snapshot
        .machine(host)
        .map_or_else(|| snapshot.clone(), |m| m.table.clone())
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    /// How many frames `ctx` draws after `wake`, drawing one each time one is asked for, once
    /// the frames before it have settled (at most ten).
    fn frames_after(ctx: &egui::Context, wake: impl FnOnce(&egui::Context)) -> usize {
        let asked = Arc::new(AtomicBool::new(true));
        let on_ask = asked.clone();
        ctx.set_request_repaint_callback(move |_| on_ask.store(true, Ordering::SeqCst));
        let frames = |ctx: &egui::Context| {
            let mut drawn = 0;
            while asked.swap(false, Ordering::SeqCst) && drawn < 10 {
                let mut out = ctx.run_ui(egui::RawInput::default(), |ui| {
                    ui.label("a table");
                });
                // No renderer here: nothing takes the font atlas's updates.
                out.textures_delta.clear();
                drawn += 1;
            }
            drawn
        };
        frames(ctx);
        wake(ctx);
        frames(ctx)
    }

    #[test]
    fn new_data_is_drawn_in_one_frame_where_a_plain_wake_draws_two() {
        let ctx = egui::Context::default();
        assert_eq!(frames_after(&ctx, |ctx| ctx.request_repaint()), 2);
        assert_eq!(frames_after(&ctx, |ctx| show_new_data(ctx)), 1);
    }
}
