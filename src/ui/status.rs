//! The status bar: counts, the machine's total rate, poll timing, and the collector's controls.

use std::time::Duration;

use super::action::Action;
use super::prefs::{INTERVALS_MS, Prefs};
use super::timeline::per_sec;
use crate::collect::Control;
use crate::model::timeline::Rates;
use crate::model::{Counts, Snapshot, units};

/// The filter the count of servers at risk sets when clicked.
pub(crate) const RISK_FILTER: &str = "risk:ephemeral";

/// The status bar: what it reads.
pub(crate) struct StatusInput<'a> {
    pub counts: Counts,
    pub snapshot: &'a Snapshot,
    pub prefs: &'a Prefs,
    pub paused: bool,
    /// Connections opened and closed per second lately; `None` before two polls.
    pub rates: Option<Rates>,
    /// The privileged helper, where the window can start one, and how many sockets' owners
    /// are hidden without it.
    pub helper: Option<(&'a crate::collect::HelperStatus, usize)>,
    /// The hosts beside this machine, each with its line, and the time now (for their
    /// retries' countdowns).
    pub hosts: &'a [super::hosts::HostLine],
    pub now: std::time::Instant,
}

pub(crate) fn status_ui(ui: &mut egui::Ui, input: &StatusInput<'_>) -> Vec<Action> {
    let mut actions = Vec::new();
    // One line at any width: the controls are laid out first, from the right edge; what is
    // left of the line goes to the counts and timings, and text that does not fit is cut
    // short (the whole of it on hover) rather than wrapped onto a second line.
    ui.horizontal(|ui| {
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            controls_ui(ui, input, &mut actions);
            // Offered while some owners are hidden and no helper runs.
            if let Some((status, hidden)) = input.helper
                && hidden > 0
                && matches!(
                    status,
                    crate::collect::HelperStatus::Off | crate::collect::HelperStatus::Failed(_)
                )
            {
                ui.separator();
                super::hint::show_all_button(ui, &mut actions, status);
            }
            ui.separator();
            ui.with_layout(egui::Layout::left_to_right(egui::Align::Center), |ui| {
                // Readings that run out of room are cut at the controls' edge: drawn past it,
                // even an elided label would lie over a button and take its clicks.
                ui.set_clip_rect(ui.max_rect().intersect(ui.clip_rect()));
                readings_ui(ui, input, &mut actions);
            });
        });
    });
    actions
}

/// The counts, the machine's rate, the poll's timing and its error, left to right.
fn readings_ui(ui: &mut egui::Ui, input: &StatusInput<'_>, actions: &mut Vec<Action>) {
    let snapshot = input.snapshot;
    let c = input.counts;
    // Each host's line first: how it is read, or why it cannot be and when it is tried again.
    for line in input.hosts {
        let (text, failed) = super::hosts::host_words(line, input.now);
        let shown = if failed {
            egui::RichText::new(text.as_str()).color(ui.visuals().error_fg_color)
        } else {
            egui::RichText::new(text.as_str()).strong()
        };
        let hover = match &line.note {
            Some(note) => format!("{text}\n{}", crate::model::text::escape(note)),
            None => text.clone(),
        };
        ui.scope(|ui| {
            ui.set_max_width(260.0);
            ui.add(egui::Label::new(shown).truncate())
                .on_hover_text(hover);
        });
        ui.separator();
    }
    ui.add(
        egui::Label::new(format!(
            "{} sockets · {} listening · {} established · {} TCP · {} UDP",
            c.total, c.listening, c.established, c.tcp, c.udp
        ))
        .truncate(),
    );
    if c.services_at_risk > 0 {
        ui.separator();
        let text = match c.services_at_risk {
            1 => "1 service listens inside the ephemeral range".to_owned(),
            n => format!("{n} services listen inside the ephemeral range"),
        };
        if ui
            .link(egui::RichText::new(text).color(ui.visuals().warn_fg_color))
            .on_hover_text(
                "Servers on ports the OS may hand to outgoing connections: one may fail to \
                 start again after a restart (EADDRINUSE). Click to show them.",
            )
            .clicked()
        {
            actions.push(Action::SetFilter(RISK_FILTER.to_owned()));
        }
    }
    if !snapshot.hidden_containers.is_empty() {
        ui.separator();
        ui.add(
            egui::Label::new(
                egui::RichText::new(snapshot.hidden_containers_words())
                    .color(ui.visuals().warn_fg_color),
            )
            .truncate(),
        )
        .on_hover_text(snapshot.hidden_containers_explained());
    }
    // Summed once per poll with the other counts, not at every frame.
    let total = c.rate;
    ui.separator();
    ui.add(
        egui::Label::new(format!(
            "↓ {} ↑ {}",
            units::rate(total.down),
            units::rate(total.up)
        ))
        .truncate(),
    )
    .on_hover_text(
        "What every TCP connection of the machine receives (↓) and sends (↑), from the \
         kernel's counters between the last two polls",
    );
    if let Some(r) = input.rates {
        ui.separator();
        ui.add(
            egui::Label::new(format!(
                "{} opened/s · {} closed/s",
                per_sec(r.opened_per_sec),
                per_sec(r.closed_per_sec)
            ))
            .truncate(),
        )
        .on_hover_text(format!(
            "Connections that appeared and went away per second, averaged over the last \
             {:.1} s (whole polls). The timeline shows the last 10 minutes.",
            r.over.as_secs_f64()
        ));
    }
    ui.separator();
    if snapshot.seq == 0 {
        ui.add(egui::Label::new("waiting for the first poll…").truncate());
    } else {
        ui.add(
            egui::Label::new(format!(
                "changed {} · poll {} ms",
                clock(snapshot.changed_at),
                snapshot.poll_duration.as_millis()
            ))
            .truncate(),
        )
        .on_hover_text(format!(
            "The sockets last changed at {}, and a poll takes {} ms. The window redraws when \
             the sockets change. Newest poll seen: {}.",
            clock(snapshot.changed_at),
            snapshot.poll_duration.as_millis(),
            clock(snapshot.taken_at)
        ));
    }
    if let Some((status, _)) = input.helper
        && *status != crate::collect::HelperStatus::Off
    {
        ui.separator();
        super::hint::helper_status_ui(ui, status);
    }
    if let Some(error) = &snapshot.error {
        ui.separator();
        ui.add(
            egui::Label::new(egui::RichText::new(error).color(ui.visuals().error_fg_color))
                .truncate(),
        )
        .on_hover_text(error);
    }
    if snapshot.ended_lost > 0 {
        ui.separator();
        ui.add(
            egui::Label::new(
                egui::RichText::new(format!("close events lost ({}×)", snapshot.ended_lost))
                    .color(ui.visuals().warn_fg_color),
            )
            .truncate(),
        )
        .on_hover_text(
            "Connections closed faster than the kernel's announcements could be read, and it \
             dropped some. Those that closed meanwhile were found by the next poll, without \
             their final counters; those that lived less than a poll were not seen.",
        );
    }
}

/// The collector's and the window's controls, right to left: the theme at the right edge.
fn controls_ui(ui: &mut egui::Ui, input: &StatusInput<'_>, actions: &mut Vec<Action>) {
    let (prefs, paused) = (input.prefs, input.paused);
    let mut theme = prefs.theme;
    let response = egui::ComboBox::from_id_salt("theme")
        .selected_text(match theme {
            egui::ThemePreference::System => "theme: system",
            egui::ThemePreference::Light => "theme: light",
            egui::ThemePreference::Dark => "theme: dark",
        })
        .show_ui(ui, |ui| {
            ui.selectable_value(&mut theme, egui::ThemePreference::System, "system");
            ui.selectable_value(&mut theme, egui::ThemePreference::Light, "light");
            ui.selectable_value(&mut theme, egui::ThemePreference::Dark, "dark");
        })
        .response;
    named(response, "theme", "Theme");
    if theme != prefs.theme {
        actions.push(Action::Theme(theme));
    }
    ui.separator();
    let mut highlight = prefs.tracker.new_for.as_secs();
    let response = egui::ComboBox::from_id_salt("highlight")
        .selected_text(format!("highlight {highlight} s"))
        .show_ui(ui, |ui| {
            for secs in [1, 2, 5, 10, 30] {
                ui.selectable_value(&mut highlight, secs, format!("{secs} s"));
            }
        })
        .response;
    named(
        response,
        "highlight changes",
        "Highlight changes: how long new and changed rows stay tinted, and closed rows stay shown",
    );
    if highlight != prefs.tracker.new_for.as_secs() {
        actions.push(Action::Highlight(Duration::from_secs(highlight)));
    }
    ui.separator();
    if paused {
        ui.label(egui::RichText::new("paused").strong());
    }
    if ui.button("Refresh now").clicked() {
        actions.push(Action::Control(Control::RefreshNow));
    }
    let pause_label = if paused { "Resume" } else { "Pause" };
    if ui.button(pause_label).clicked() {
        actions.push(Action::Control(if paused {
            Control::Resume
        } else {
            Control::Pause
        }));
    }
    let mut interval = prefs.interval_ms;
    let response = egui::ComboBox::from_id_salt("interval")
        .selected_text(format!("every {}", interval_label(interval)))
        .show_ui(ui, |ui| {
            for ms in INTERVALS_MS {
                ui.selectable_value(&mut interval, ms, interval_label(ms));
            }
        })
        .response;
    named(
        response,
        "poll interval",
        "How often the socket table is read",
    );
    if interval != prefs.interval_ms {
        actions.push(Action::Control(Control::SetInterval(
            Duration::from_millis(interval),
        )));
    }
}

/// Give a combo box without a visible label its name, for screen readers (and tests) and as
/// its tooltip.
fn named(response: egui::Response, name: &str, tip: &str) {
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::ComboBox, true, name));
    response.on_hover_text(tip);
}

pub(crate) fn interval_label(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{} s", ms / 1000)
    }
}

/// Local wall-clock time of a snapshot, HH:MM:SS.
pub(crate) fn clock(t: std::time::SystemTime) -> String {
    jiff::Timestamp::try_from(t)
        .map(|ts| {
            ts.to_zoned(jiff::tz::TimeZone::system())
                .strftime("%H:%M:%S")
                .to_string()
        })
        .unwrap_or_else(|_| "(time unknown)".to_owned())
}
