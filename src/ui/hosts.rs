//! The machines the window shows: this one, and hosts read over SSH
//! ([`crate::collect::remote`]), all in one table with a *Host* column
//! ([`crate::collect::machines`]). The *Hosts…* dialog lists the remembered hosts, adds and
//! removes them; each host's line in the status bar says how it is read and, when it fails,
//! why and when it is tried again.
//!
//! Each host is read by a collector of its own, so one that is slow or gone holds up nothing
//! else. Its rows are read against its own processes and users (its PIDs mean nothing here).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::action::Action;
use crate::collect::{HelperSwitch, SocketSource};
use crate::model::text::escape;

/// Why an action that works on this machine only is off for a host's rows.
pub(crate) const REMOTE_ONLY_HERE: &str = "not available on remote hosts yet";

/// How a host is read, in the window's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostMode {
    Connecting,
    /// The host's own `portscope serve --stdio`.
    Stream,
    /// `ss` over ssh: portscope is not installed there.
    Fallback,
}

/// A host's line as the status bar shows it. Its texts are the host's: escaped when shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostLine {
    pub host: String,
    pub mode: HostMode,
    /// Why the host cannot be read now, while it lasts.
    pub error: Option<String>,
    /// When it is tried again, after a failure.
    pub retry_at: Option<Instant>,
    /// What the reading mode cannot show (the fallback's owners without root).
    pub note: Option<String>,
}

#[cfg(unix)]
impl From<crate::collect::remote::HostStatus> for HostLine {
    fn from(s: crate::collect::remote::HostStatus) -> HostLine {
        use crate::collect::remote::Mode;
        HostLine {
            host: s.host,
            mode: match s.mode {
                Mode::Connecting => HostMode::Connecting,
                Mode::Stream => HostMode::Stream,
                Mode::Fallback => HostMode::Fallback,
            },
            error: s.error.map(|e| e.to_string()),
            retry_at: s.retry_at,
            note: s.note,
        }
    }
}

/// Reads a shown host's line; never waits on the host.
pub type HostStatusFn = Arc<dyn Fn() -> HostLine + Send + Sync>;

/// A machine's source, ready for a collector.
pub struct Opened {
    pub source: Box<dyn SocketSource>,
    /// The host's line (`None` for this machine).
    pub status: Option<HostStatusFn>,
    /// The privileged helper's switch, where this machine's source can use one.
    pub helper: Option<Arc<HelperSwitch>>,
    /// Ends a process or closes a connection there (a host's; `None` for this machine).
    pub act: Option<super::remote_act::RemoteActFn>,
}

/// Opens the source of this machine (`None`) or of a host, polled every `interval`. It must
/// not wait on the host: a host's source connects on its own thread.
pub type Connect = Arc<dyn Fn(Option<&str>, Duration) -> Result<Opened, String> + Send + Sync>;

/// The real machines: this one with its privileged helper (Linux), hosts over the system's
/// `ssh` (or `PORTSCOPE_SSH`).
pub fn system_connect() -> Connect {
    Arc::new(|host, interval| match host {
        None => local(),
        Some(host) => remote(host, interval, None),
    })
}

/// This machine, and hosts over `ssh` as given (tests, and shorter `timeouts`).
#[cfg(unix)]
pub fn ssh_connect(
    ssh: crate::collect::remote::Ssh,
    timeouts: crate::collect::remote::Timeouts,
) -> Connect {
    Arc::new(move |host, interval| match host {
        None => local(),
        Some(host) => remote(host, interval, Some((ssh.clone(), timeouts))),
    })
}

fn local() -> Result<Opened, String> {
    let source = crate::collect::OsSource::all_namespaces().map_err(|e| e.to_string())?;
    if !cfg!(target_os = "linux") {
        return Ok(Opened {
            source: Box::new(source),
            status: None,
            helper: None,
            act: None,
        });
    }
    // On Linux the live source can ask a privileged helper for the owners it cannot see.
    let switch = Arc::new(HelperSwitch::default());
    let source = crate::collect::HelperSource::with_launch(
        Box::new(source),
        switch.clone(),
        Box::new(crate::collect::helper::pkexec_command),
    );
    Ok(Opened {
        source: Box::new(source),
        status: None,
        helper: Some(switch),
        act: None,
    })
}

/// A host's source: it connects on its own thread, so this returns at once.
#[cfg(unix)]
fn remote(
    host: &str,
    interval: Duration,
    how: Option<(
        crate::collect::remote::Ssh,
        crate::collect::remote::Timeouts,
    )>,
) -> Result<Opened, String> {
    use crate::collect::remote::{RemoteSource, Ssh, Timeouts};
    let host = valid_host(host)?;
    let (ssh, timeouts) = match how {
        Some(how) => how,
        None => (Ssh::from_env()?, Timeouts::default()),
    };
    let source = RemoteSource::start(&host, ssh.clone(), interval, timeouts);
    let handle = source.status_handle();
    let act: super::remote_act::RemoteActFn = Arc::new(move |action| {
        crate::act::remote::run(&ssh, &host, action, crate::act::remote::DEADLINE)
    });
    Ok(Opened {
        source: Box::new(source),
        status: Some(Arc::new(move || handle.status().into())),
        helper: None,
        act: Some(act),
    })
}

#[cfg(not(unix))]
fn remote(_host: &str, _interval: Duration, _how: Option<()>) -> Result<Opened, String> {
    Err("hosts over SSH need a Unix system".to_owned())
}

/// A host as typed, checked before `ssh` ever sees it: an argument starting with `-` would be
/// read as an option, and whitespace or control characters are no part of a host or alias.
/// Surrounding spaces are dropped.
pub fn valid_host(text: &str) -> Result<String, String> {
    let host = text.trim();
    if host.is_empty() {
        return Err("type a host: user@server or an ssh alias".to_owned());
    }
    if host.starts_with('-') {
        return Err(format!(
            "'{}' looks like an option, not a host",
            escape(host)
        ));
    }
    if host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "'{}' has spaces or control characters: not a host",
            escape(host)
        ));
    }
    Ok(host.to_owned())
}

/// The host line's words, and whether they report a failure. `now` counts down to the retry.
pub(crate) fn host_words(line: &HostLine, now: Instant) -> (String, bool) {
    let host = escape(&line.host);
    if let Some(error) = &line.error {
        let error = escape(error);
        let text = match line.retry_at {
            Some(at) => {
                let secs = at.saturating_duration_since(now).as_secs_f64().ceil();
                format!("{host}: {error} — retrying in {secs} s")
            }
            None => format!("{host}: {error}"),
        };
        return (text, true);
    }
    let text = match line.mode {
        HostMode::Connecting => format!("{host}: connecting…"),
        HostMode::Stream => format!("{host} · portscope stream"),
        HostMode::Fallback => format!("{host} · ss fallback"),
    };
    (text, false)
}

/// The dialog's own state: the host being typed and why it was refused.
#[derive(Debug, Default)]
pub(crate) struct HostsDialog {
    pub text: String,
    pub error: Option<String>,
}

/// What the dialog reads.
pub(crate) struct HostsInput<'a> {
    /// The remembered hosts, in the order added: each is in the table.
    pub hosts: &'a [String],
    /// Their lines, as the status bar shows them.
    pub lines: &'a [HostLine],
}

/// The *Hosts…* dialog. Returns what was asked: add, remove, close.
pub(crate) fn hosts_ui(
    ctx: &egui::Context,
    dialog: &mut HostsDialog,
    input: &HostsInput<'_>,
) -> Vec<Action> {
    let mut actions = Vec::new();
    let mut open = true;
    egui::Window::new("Hosts")
        .open(&mut open)
        .collapsible(false)
        .resizable(false)
        .show(ctx, |ui| {
            ui.label("The table lists this machine and each host below (the Host column).");
            ui.label(egui::RichText::new("This machine").strong());
            let now = Instant::now();
            for host in input.hosts {
                ui.horizontal(|ui| {
                    let line = input.lines.iter().find(|l| l.host == *host);
                    let (words, failed) = match line {
                        Some(line) => host_words(line, now),
                        None => (escape(host).into_owned(), false),
                    };
                    let text = if failed {
                        egui::RichText::new(words).color(ui.visuals().error_fg_color)
                    } else {
                        egui::RichText::new(words)
                    };
                    ui.label(text)
                        .on_hover_text("Read over ssh: portscope serve --stdio there, else ss");
                    if ui
                        .button(format!("Remove {}", escape(host)))
                        .on_hover_text("Forget this host: its rows leave the table")
                        .clicked()
                    {
                        actions.push(Action::RemoveHost(host.clone()));
                    }
                });
            }
            ui.separator();
            ui.horizontal(|ui| {
                let label = ui.label("New host");
                let edit = ui
                    .add(
                        egui::TextEdit::singleline(&mut dialog.text)
                            .hint_text("user@server or an ssh alias")
                            .desired_width(220.0),
                    )
                    .labelled_by(label.id);
                if edit.changed() {
                    dialog.error = None;
                }
                let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                if ui.button("Add").clicked() || enter {
                    match valid_host(&dialog.text) {
                        Ok(host) if input.hosts.contains(&host) => {
                            dialog.error = Some(format!("{} is in the list", escape(&host)));
                        }
                        Ok(host) => {
                            dialog.text.clear();
                            dialog.error = None;
                            actions.push(Action::AddHost(host));
                        }
                        Err(e) => dialog.error = Some(e),
                    }
                }
            });
            if let Some(error) = &dialog.error {
                ui.colored_label(ui.visuals().error_fg_color, error);
            }
            ui.label(
                egui::RichText::new(
                    "Hosts are read with your ssh (keys, agent, ~/.ssh/config); a host key \
                     is never accepted for you.",
                )
                .weak(),
            );
            if ui.button("Close").clicked() {
                actions.push(Action::CloseHosts);
            }
        });
    if !open {
        actions.push(Action::CloseHosts);
    }
    actions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_that_ssh_would_misread_are_refused() {
        assert_eq!(valid_host("  db1 ").as_deref(), Ok("db1"));
        assert_eq!(valid_host("ops@10.0.0.7").as_deref(), Ok("ops@10.0.0.7"));
        assert!(valid_host("").is_err());
        assert!(valid_host("   ").is_err());
        assert!(valid_host("-oProxyCommand=touch x").is_err());
        assert!(valid_host("db1 db2").is_err());
        assert!(valid_host("db1\tx").is_err());
        assert!(valid_host("db\u{1b}[2J").is_err());
    }

    #[test]
    fn the_host_line_says_the_mode_or_the_failure_and_the_retry() {
        let now = Instant::now();
        let mut line = HostLine {
            host: "db1".into(),
            mode: HostMode::Stream,
            error: None,
            retry_at: None,
            note: None,
        };
        assert_eq!(
            host_words(&line, now),
            ("db1 · portscope stream".into(), false)
        );
        line.mode = HostMode::Fallback;
        assert_eq!(host_words(&line, now), ("db1 · ss fallback".into(), false));
        line.error = Some("authentication failed".into());
        line.retry_at = Some(now + Duration::from_millis(7200));
        assert_eq!(
            host_words(&line, now),
            ("db1: authentication failed — retrying in 8 s".into(), true)
        );
        // The host's name and its error are text from elsewhere: escaped.
        line.host = "db\u{1b}[2J".into();
        line.retry_at = None;
        let (text, _) = host_words(&line, now);
        assert!(!text.contains('\u{1b}'), "{text}");
    }
}
