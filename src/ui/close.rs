//! Closing a TCP connection or listener, as TCPView's *Close connection*: confirm, then ask
//! the kernel on a short-lived thread (the request and the re-dump that confirms it read the
//! OS, which the window never waits for).
//!
//! Without the right to close it the dialog says so and gives the exact `ss` command that
//! does it as root, with a Copy button. What closes a socket is a [`Closer`]: the library's
//! [`close`](crate::act::close::close) in the window, a fake in tests that cannot be root.

use std::sync::Arc;

use egui::RichText;

use super::action::Action;
use super::job::{Job, failure_ui, progress_ui, waker};
use crate::act::close::{CloseError, closable};
use crate::model::text::escape;
use crate::model::{Snapshot, SockState, Socket};

/// What closes a socket (and checks that it is gone).
pub type Closer = Arc<dyn Fn(&Socket) -> Result<(), CloseError> + Send + Sync>;

/// The real one: `SOCK_DESTROY`, confirmed by a new dump.
pub(crate) fn os_closer() -> Closer {
    Arc::new(crate::act::close::close)
}

#[derive(Debug)]
enum Stage {
    Confirm,
    Closing(Job<Result<(), CloseError>>),
    Done,
    /// No right to close it: the command that does it as root.
    NotPermitted(String),
    Failed(String),
}

/// The "close connection" dialog for one socket.
pub(crate) struct CloseDialog {
    socket: Socket,
    /// Who holds it, escaped: `nginx (PID 812)`, or why no process is shown.
    owner: String,
    closer: Closer,
    stage: Stage,
}

impl CloseDialog {
    /// `table` is the snapshot the socket was seen in, for its process's name.
    pub fn new(socket: Socket, table: &Snapshot, closer: Closer) -> CloseDialog {
        let label = escape(&table.process_label(&socket)).into_owned();
        let owner = if socket.pids.is_empty() {
            label
        } else {
            format!("{label} (PID {})", socket.pids_text(", "))
        };
        CloseDialog {
            socket,
            owner,
            closer,
            stage: Stage::Confirm,
        }
    }

    fn start(&mut self, wake: impl Fn() + Send + 'static) {
        let (socket, closer) = (self.socket.clone(), self.closer.clone());
        self.stage = match Job::spawn("portscope-close", wake, move || closer(&socket)) {
            Ok(job) => Stage::Closing(job),
            Err(e) => Stage::Failed(format!("Could not start closing it: {e}")),
        };
    }

    fn poll(&mut self) {
        let Stage::Closing(job) = &self.stage else {
            return;
        };
        let Some(result) = job.poll() else {
            return;
        };
        self.stage = match result {
            Ok(Ok(())) => Stage::Done,
            Ok(Err(CloseError::NotPermitted { command })) => Stage::NotPermitted(command),
            Ok(Err(e)) => Stage::Failed(format!("Not closed: {e}.")),
            Err(e) => Stage::Failed(e),
        };
    }

    fn listener(&self) -> bool {
        self.socket.state == SockState::Listen
    }

    /// Show the dialog. Returns false once the user has closed it.
    pub fn ui(&mut self, ctx: &egui::Context) -> bool {
        self.poll();
        let mut keep = true;
        let title = if self.listener() {
            "Close this listener?"
        } else {
            "Close this connection?"
        };
        egui::Modal::new(egui::Id::unique("close-dialog")).show(ctx, |ui| {
            ui.set_max_width(560.0);
            ui.heading(title);
            egui::Grid::new("close-grid").num_columns(2).show(ui, |ui| {
                ui.label(RichText::new("Socket").weak());
                ui.label(self.socket.summary());
                ui.end_row();
                ui.label(RichText::new("Process").weak());
                ui.add(egui::Label::new(&self.owner).wrap());
                ui.end_row();
            });
            ui.add_space(6.0);
            let wake = waker(ctx);
            match &self.stage {
                Stage::Confirm => {
                    ui.label(if self.listener() {
                        "The kernel stops the listener and frees its port. The process keeps \
                         running; its next accept() fails."
                    } else {
                        "The kernel resets the connection: its process gets ECONNABORTED, the \
                         peer ECONNRESET. The process keeps running."
                    });
                    ui.horizontal(|ui| {
                        if ui.button("Close connection").clicked() {
                            self.start(wake);
                        }
                        if ui.button("Cancel").clicked() {
                            keep = false;
                        }
                    });
                }
                Stage::Closing(_) => progress_ui(ui, "Asking the kernel to close it…"),
                Stage::Done => {
                    ui.label("Closed: the kernel no longer lists it.");
                    if ui.button("Close").clicked() {
                        keep = false;
                    }
                }
                Stage::NotPermitted(command) => {
                    ui.colored_label(
                        ui.visuals().warn_fg_color,
                        "Not closed: closing a connection needs root (CAP_NET_ADMIN). As root, \
                         this command does the same:",
                    );
                    ui.horizontal(|ui| {
                        ui.code(command);
                        if ui.button("Copy").clicked() {
                            ui.ctx().copy_text(command.clone());
                        }
                    });
                    if ui.button("Close").clicked() {
                        keep = false;
                    }
                }
                Stage::Failed(message) => keep = failure_ui(ui, message),
            }
        });
        keep
    }
}

/// The *Close connection…* entry of a menu or panel for `socket` as seen in `table`: offered
/// for what [`closable`] accepts, shown disabled with the reason on hover otherwise (and for
/// a socket that has already closed, and for a remote host's: closing runs on this machine).
pub(crate) fn close_button(
    ui: &mut egui::Ui,
    socket: &Socket,
    table: &Arc<Snapshot>,
    closed: bool,
) -> Option<Action> {
    let why_not = if closed {
        Some("This socket has already closed.".to_owned())
    } else {
        closable(socket).err().map(|e| {
            let mut text = e.to_string();
            if let Some(first) = text.get(..1) {
                text.replace_range(..1, &first.to_uppercase());
            }
            text + "."
        })
    };
    let button = ui.add_enabled(why_not.is_none(), egui::Button::new("Close connection…"));
    match why_not {
        Some(why) => {
            button.on_disabled_hover_text(why);
            None
        }
        None => button.clicked().then(|| Action::AskClose {
            socket: socket.clone(),
            table: table.clone(),
        }),
    }
}
