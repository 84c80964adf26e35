//! Ending the process behind a socket: confirm, SIGTERM, and SIGKILL only if asked after that.
//!
//! The signal and the wait for the process to go run on a short-lived thread, so the window
//! never waits for the OS. The target carries the start time the table saw, and the signal
//! module refuses a PID that now belongs to another process.

use std::time::Duration;

use egui::RichText;

use super::job::{Job, failure_ui, progress_ui, waker};
use crate::act::signal::{self, Signal, Target};
use crate::model::ProcessInfo;
use crate::model::text::escape;

/// How long to wait for a process to go after a signal before saying it is still there.
const GRACE: Duration = Duration::from_secs(3);

#[derive(Debug)]
enum Stage {
    /// Asking: end it?
    Confirm,
    /// A signal is on its way; waiting for the process to go.
    Sending(Signal, Job<Outcome>),
    /// SIGTERM was sent but the process did not exit: offer SIGKILL.
    StillRunning,
    /// Finished: a message to show.
    Done(String),
    Failed(String),
}

#[derive(Debug)]
enum Outcome {
    Gone,
    StillRunning,
    Error(String),
}

/// The "end process" dialog for one process.
#[derive(Debug)]
pub struct KillDialog {
    target: Target,
    cmdline: String,
    stage: Stage,
}

impl KillDialog {
    pub fn new(p: &ProcessInfo) -> KillDialog {
        KillDialog {
            target: Target {
                pid: p.pid,
                start_time: p.start_time,
                name: p.name.clone(),
                uid: p.uid,
                user: p.user.clone(),
            },
            cmdline: escape(&p.cmdline_string()).into_owned(),
            stage: Stage::Confirm,
        }
    }

    fn start(&mut self, sig: Signal, wake: impl Fn() + Send + 'static) {
        let target = self.target.clone();
        let job = Job::spawn("portscope-signal", wake, move || {
            match signal::send(&target, sig) {
                Ok(()) if signal::wait_gone(target.pid, target.start_time, GRACE) => Outcome::Gone,
                Ok(()) => Outcome::StillRunning,
                Err(e) => Outcome::Error(e.to_string()),
            }
        });
        self.stage = match job {
            Ok(job) => Stage::Sending(sig, job),
            Err(e) => Stage::Failed(format!("Could not start the signal: {e}")),
        };
    }

    fn poll(&mut self) {
        let Stage::Sending(sig, job) = &self.stage else {
            return;
        };
        let Some(outcome) = job.poll() else {
            return;
        };
        let who = format!("{} (PID {})", escape(&self.target.name), self.target.pid);
        self.stage = match (outcome, sig) {
            (Ok(Outcome::Gone), sig) => Stage::Done(format!("{who} has ended ({sig}).")),
            (Ok(Outcome::StillRunning), Signal::Terminate) => Stage::StillRunning,
            (Ok(Outcome::StillRunning), Signal::Kill) => Stage::Failed(format!(
                "{who} is still there {} s after SIGKILL: it may be stuck in the kernel (state D).",
                GRACE.as_secs()
            )),
            (Ok(Outcome::Error(e)), _) | (Err(e), _) => Stage::Failed(e),
        };
    }

    /// Show the dialog. Returns false once the user has closed it.
    pub fn ui(&mut self, ctx: &egui::Context) -> bool {
        self.poll();
        let mut keep = true;
        let title = format!(
            "End {} (PID {})?",
            escape(&self.target.name),
            self.target.pid
        );
        egui::Modal::new(egui::Id::unique(("kill-dialog", self.target.pid))).show(ctx, |ui| {
            ui.set_max_width(520.0);
            ui.heading(&title);
            egui::Grid::new("kill-grid").num_columns(2).show(ui, |ui| {
                ui.label(RichText::new("PID").weak());
                ui.label(self.target.pid.to_string());
                ui.end_row();
                ui.label(RichText::new("Name").weak());
                ui.label(escape(&self.target.name));
                ui.end_row();
                ui.label(RichText::new("Command line").weak());
                ui.add(egui::Label::new(&self.cmdline).wrap());
                ui.end_row();
                if let Some(user) = &self.target.user {
                    ui.label(RichText::new("User").weak());
                    ui.label(escape(user));
                    ui.end_row();
                }
            });
            ui.add_space(6.0);
            let wake = waker(ctx);
            match &self.stage {
                Stage::Confirm => {
                    ui.label(
                        "This sends SIGTERM: the process is asked to exit and may clean up first. \
                         Its sockets close with it.",
                    );
                    ui.horizontal(|ui| {
                        if ui.button("End process (SIGTERM)").clicked() {
                            self.start(Signal::Terminate, wake);
                        }
                        if ui.button("Cancel").clicked() {
                            keep = false;
                        }
                    });
                }
                Stage::Sending(sig, _) => {
                    progress_ui(ui, &format!("Sent {sig}; waiting for the process to exit…"));
                }
                Stage::StillRunning => {
                    ui.colored_label(
                        ui.visuals().warn_fg_color,
                        format!(
                            "The process is still running {} s after SIGTERM. SIGKILL ends it at \
                             once, without letting it clean up.",
                            GRACE.as_secs()
                        ),
                    );
                    ui.horizontal(|ui| {
                        if ui.button("Force kill (SIGKILL)").clicked() {
                            self.start(Signal::Kill, wake);
                        }
                        if ui.button("Leave it running").clicked() {
                            keep = false;
                        }
                    });
                }
                Stage::Done(message) => {
                    ui.label(message);
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
