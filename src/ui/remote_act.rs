//! Ending a process or closing a connection on a host: the same confirmation as on this
//! machine, then the host's own portscope does it over the same `ssh` as reading the host
//! ([`crate::act::remote`]), on a short-lived thread. The dialog says how it went in the
//! host's words (escaped): done, nothing matched any more, the SSH user lacks the right (and
//! what would work), portscope missing there, or why ssh failed.

use std::net::SocketAddr;
use std::sync::Arc;

use egui::RichText;

use super::job::{Job, progress_ui, waker};
use crate::act::remote::{RemoteAction, RemoteOutcome};
use crate::act::signal::Signal;
use crate::model::text::escape;
use crate::model::{ProcessInfo, Snapshot, Socket};

/// Does an action on one host and says how it went; blocks (it runs on a worker thread).
pub type RemoteActFn = Arc<dyn Fn(&RemoteAction) -> RemoteOutcome + Send + Sync>;

#[derive(Debug)]
enum Stage {
    Confirm,
    Running(Job<RemoteOutcome>),
    Finished(RemoteOutcome),
    /// The job could not start.
    Failed(String),
}

/// What the dialog does, as the host's table showed it.
#[derive(Clone, Debug)]
enum What {
    End {
        pid: u32,
        start_time: Option<u64>,
        name: String,
        cmdline: String,
        user: Option<String>,
        /// The signal asked for last.
        signal: Signal,
    },
    Close {
        socket: Socket,
        /// Who holds it, escaped.
        owner: String,
    },
}

/// The dialog for one process or socket of one host.
pub(crate) struct RemoteDialog {
    /// The host as the user gave it.
    host: String,
    what: What,
    act: RemoteActFn,
    stage: Stage,
}

impl RemoteDialog {
    /// End process `p` of `host`.
    pub fn end(host: &str, p: &ProcessInfo, act: RemoteActFn) -> RemoteDialog {
        RemoteDialog {
            host: host.to_owned(),
            what: What::End {
                pid: p.pid,
                start_time: p.start_time,
                name: escape(&p.name).into_owned(),
                cmdline: escape(&p.cmdline_string()).into_owned(),
                user: p.user.as_deref().map(|u| escape(u).into_owned()),
                signal: Signal::Terminate,
            },
            act,
            stage: Stage::Confirm,
        }
    }

    /// Close `socket` of `host`, seen in `table` (the host's own).
    pub fn close(host: &str, socket: Socket, table: &Snapshot, act: RemoteActFn) -> RemoteDialog {
        let label = escape(&table.process_label(&socket)).into_owned();
        let owner = if socket.pids.is_empty() {
            label
        } else {
            format!("{label} (PID {})", socket.pids_text(", "))
        };
        RemoteDialog {
            host: host.to_owned(),
            what: What::Close { socket, owner },
            act,
            stage: Stage::Confirm,
        }
    }

    fn action(&self) -> RemoteAction {
        match &self.what {
            What::End {
                pid,
                start_time,
                signal,
                ..
            } => RemoteAction::End {
                pid: *pid,
                start_time: *start_time,
                signal: *signal,
            },
            What::Close { socket, .. } => RemoteAction::Close {
                local: SocketAddr::new(socket.local_addr, socket.local_port),
                remote: socket
                    .remote_addr
                    .zip(socket.remote_port)
                    .map(|(a, p)| SocketAddr::new(a, p)),
                cookie: socket.cookie,
            },
        }
    }

    fn start(&mut self, wake: impl Fn() + Send + 'static) {
        let (act, action) = (self.act.clone(), self.action());
        self.stage = match Job::spawn("portscope-remote-act", wake, move || act(&action)) {
            Ok(job) => Stage::Running(job),
            Err(e) => Stage::Failed(format!("Could not start: {e}")),
        };
    }

    fn poll(&mut self) {
        let Stage::Running(job) = &self.stage else {
            return;
        };
        if let Some(result) = job.poll() {
            self.stage = match result {
                Ok(outcome) => Stage::Finished(outcome),
                Err(e) => Stage::Failed(e),
            };
        }
    }

    fn title(&self) -> String {
        let host = escape(&self.host);
        match &self.what {
            What::End { pid, name, .. } => format!("End {name} (PID {pid}) on {host}?"),
            What::Close { socket, .. } if socket.remote_addr.is_none() => {
                format!("Close this listener on {host}?")
            }
            What::Close { .. } => format!("Close this connection on {host}?"),
        }
    }

    /// Show the dialog. Returns false once the user has closed it.
    pub fn ui(&mut self, ctx: &egui::Context) -> bool {
        self.poll();
        let mut keep = true;
        let host = escape(&self.host).into_owned();
        let title = self.title();
        egui::Modal::new(egui::Id::unique("remote-act-dialog")).show(ctx, |ui| {
            ui.set_max_width(560.0);
            ui.heading(&title);
            egui::Grid::new("remote-act-grid")
                .num_columns(2)
                .show(ui, |ui| {
                    let mut row = |name: &str, value: &str| {
                        ui.label(RichText::new(name).weak());
                        ui.add(egui::Label::new(value).wrap());
                        ui.end_row();
                    };
                    row("Host", &host);
                    match &self.what {
                        What::End {
                            pid,
                            name,
                            cmdline,
                            user,
                            ..
                        } => {
                            row("PID", &pid.to_string());
                            row("Name", name);
                            row("Command line", cmdline);
                            if let Some(user) = user {
                                row("User", user);
                            }
                        }
                        What::Close { socket, owner } => {
                            row("Socket", &socket.summary());
                            row("Process", owner);
                        }
                    }
                });
            ui.add_space(6.0);
            let wake = waker(ctx);
            match &self.stage {
                Stage::Confirm => {
                    let (explain, button) = match &self.what {
                        What::End { .. } => (
                            format!(
                                "portscope on {host} sends SIGTERM, as your SSH user there: the \
                                 process is asked to exit and may clean up first."
                            ),
                            "End process (SIGTERM)",
                        ),
                        What::Close { .. } => (
                            format!(
                                "portscope on {host} asks its kernel to close exactly this socket \
                                 (as your SSH user there; it needs root). The process keeps \
                                 running."
                            ),
                            "Close connection",
                        ),
                    };
                    ui.label(explain);
                    ui.horizontal(|ui| {
                        if ui.button(button).clicked() {
                            self.start(wake);
                        }
                        if ui.button("Cancel").clicked() {
                            keep = false;
                        }
                    });
                }
                Stage::Running(_) => progress_ui(ui, &format!("Asking {host}…")),
                Stage::Finished(outcome) => {
                    let mut kill = false;
                    outcome_ui(ui, &host, outcome, &self.what, &mut kill);
                    ui.horizontal(|ui| {
                        if kill && ui.button("End at once (SIGKILL)").clicked() {
                            if let What::End { signal, .. } = &mut self.what {
                                *signal = Signal::Kill;
                            }
                            self.start(wake);
                        }
                        if ui.button("Close").clicked() {
                            keep = false;
                        }
                    });
                }
                Stage::Failed(message) => {
                    ui.colored_label(ui.visuals().error_fg_color, message);
                    if ui.button("Close").clicked() {
                        keep = false;
                    }
                }
            }
        });
        keep
    }
}

/// How it went, in the host's words; `kill` is set when SIGKILL is worth offering (SIGTERM
/// was refused or did not end the process).
fn outcome_ui(
    ui: &mut egui::Ui,
    host: &str,
    outcome: &RemoteOutcome,
    what: &What,
    kill: &mut bool,
) {
    let warn = ui.visuals().warn_fg_color;
    let error = ui.visuals().error_fg_color;
    match outcome {
        RemoteOutcome::Done { message } => {
            ui.label(RichText::new(format!("Done on {host}.")).strong());
            if !message.is_empty() {
                ui.add(egui::Label::new(message.as_str()).wrap());
            }
        }
        RemoteOutcome::NothingMatched { message } => {
            ui.colored_label(
                warn,
                format!("Nothing done: it is not there on {host} any more."),
            );
            if !message.is_empty() {
                ui.add(egui::Label::new(message.as_str()).wrap());
            }
        }
        RemoteOutcome::NotPermitted { message, advice } => {
            ui.colored_label(
                warn,
                format!("Not done: your SSH user on {host} may not do this."),
            );
            ui.add(egui::Label::new(message.as_str()).wrap());
            if !advice.is_empty() {
                ui.horizontal(|ui| {
                    ui.code(advice.as_str());
                    if ui.button("Copy").clicked() {
                        ui.ctx().copy_text(advice.clone());
                    }
                });
            }
        }
        RemoteOutcome::Refused { message } => {
            ui.colored_label(warn, format!("Not done: portscope on {host} says:"));
            ui.add(egui::Label::new(message.as_str()).wrap());
            *kill = matches!(
                what,
                What::End {
                    signal: Signal::Terminate,
                    ..
                }
            );
        }
        RemoteOutcome::NotInstalled => {
            ui.colored_label(
                warn,
                format!(
                    "Not done: portscope is not installed on {host} (it is read with ss there). \
                     Install it there, or do it over ssh yourself."
                ),
            );
        }
        RemoteOutcome::Ssh(e) => {
            ui.colored_label(error, format!("Not done: {host}: {e}"));
        }
        RemoteOutcome::TimedOut(after) => {
            ui.colored_label(
                error,
                format!(
                    "No answer from {host} within {} s: ssh was stopped. It may or may not have \
                     been done; the table shows it at the next poll.",
                    after.as_secs()
                ),
            );
        }
    }
}
