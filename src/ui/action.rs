//! What the user asked for in a frame. Panels draw from the state they are given and return
//! these; [`super::PortscopeApp`] applies them in one place after the panels are drawn, so no
//! panel changes state another panel reads in the same frame.

use std::sync::Arc;
use std::time::Duration;

use crate::collect::Control;
use crate::knowledge::Transport;
use crate::model::{ProcessInfo, Snapshot, Socket, SortKey, SortSpec, Toggles};

#[derive(Clone, Debug)]
pub(crate) enum Action {
    /// Select a socket of the poll on screen (and bring its row into view).
    SelectSocket {
        socket: Socket,
        scroll: bool,
    },
    /// Select a row of the table: a socket of `table` (the poll, or the closed rows).
    SelectRow {
        socket: Socket,
        table: Arc<Snapshot>,
        closing: bool,
    },
    /// Move the selection this many rows down (negative: up).
    MoveSelection(isize),
    /// Explain a port (for a transport; `None`: all), keeping the selection.
    FocusPort(u16, Option<Transport>),
    /// Explain a port, with no socket selected.
    ExplainPort(u16),
    /// The text in the "Go to port" box, and whether it was submitted.
    GotoText(String, bool),
    /// Look for a port a new service can take (near the port in the box, if any) and explain it.
    FindFreePort,
    ShowDetails,
    HideDetails,
    /// Ask before ending this process of machine `host` (0: this one).
    AskKill {
        process: ProcessInfo,
        host: u16,
    },
    CloseKill,
    /// Ask before closing this TCP connection or listener (seen in `table`).
    AskClose {
        socket: Socket,
        table: Arc<Snapshot>,
    },
    DismissClose,
    /// The dialog acting on a host was closed.
    CloseRemoteAct,
    OpenExport,
    CloseExport,
    /// The filter box's text.
    SetFilter(String),
    ShowFilterHelp(bool),
    ShowHistory(bool),
    ShowTimeline(bool),
    ClearHistory,
    SetSort(SortSpec),
    SetToggles(Toggles),
    GroupByProcess(bool),
    ShowColumn(SortKey, bool),
    ResolveNames(bool),
    /// How long rows stay highlighted and closed rows linger.
    Highlight(Duration),
    Theme(egui::ThemePreference),
    Control(Control),
    DismissNotice,
    /// Do not show the hint about owners that need root again.
    DismissOwnersHint,
    /// Start the privileged helper that shows every owner.
    ShowAllProcesses,
    /// Zoom the port bar to ports `lo..=hi`.
    ZoomBar(u16, u16),
    OpenHosts,
    CloseHosts,
    /// Remember a host (already checked by the dialog).
    AddHost(String),
    RemoveHost(String),
    /// Show the ports of this machine (0) or of a host (its id) in the range bar and the
    /// explanation.
    FocusHost(u16),
}
