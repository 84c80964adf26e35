//! The status bar: counts, the machine's total rate, poll timing, and the collector's controls.

use std::time::Duration;

use super::action::Action;
use super::prefs::{INTERVALS_MS, Prefs};
use super::timeline::per_sec;
use crate::collect::Control;
use crate::model::timeline::Rates;
use crate::model::{Counts, Snapshot, units};

/// The status bar: what it reads.
pub(crate) struct StatusInput<'a> {
    pub counts: Counts,
    pub snapshot: &'a Snapshot,
    pub prefs: &'a Prefs,
    pub paused: bool,
    /// Connections opened and closed per second lately; `None` before two polls.
    pub rates: Option<Rates>,
}

pub(crate) fn status_ui(ui: &mut egui::Ui, input: &StatusInput<'_>) -> Vec<Action> {
    let mut actions = Vec::new();
    let (snapshot, prefs, paused) = (input.snapshot, input.prefs, input.paused);
    ui.horizontal_wrapped(|ui| {
        let c = input.counts;
        ui.label(format!(
            "{} sockets · {} listening · {} established · {} TCP · {} UDP",
            c.total, c.listening, c.established, c.tcp, c.udp
        ));
        let total = snapshot.total_rate();
        ui.separator();
        ui.label(format!(
            "↓ {} ↑ {}",
            units::rate(total.down),
            units::rate(total.up)
        ))
        .on_hover_text(
            "What every TCP connection of the machine receives (↓) and sends (↑), from the \
             kernel's counters between the last two polls",
        );
        if let Some(r) = input.rates {
            ui.separator();
            ui.label(format!(
                "{} opened/s · {} closed/s",
                per_sec(r.opened_per_sec),
                per_sec(r.closed_per_sec)
            ))
            .on_hover_text(format!(
                "Connections that appeared and went away per second, averaged over the last \
                 {:.1} s (whole polls). The timeline shows the last 10 minutes.",
                r.over.as_secs_f64()
            ));
        }
        ui.separator();
        if snapshot.seq == 0 {
            ui.label("waiting for the first poll…");
        } else {
            ui.label(format!(
                "last change {} · a poll takes {} ms",
                clock(snapshot.changed_at),
                snapshot.poll_duration.as_millis()
            ))
            .on_hover_text(format!(
                "The window redraws when the sockets change. Newest poll seen: {}.",
                clock(snapshot.taken_at)
            ));
        }
        ui.separator();
        let mut interval = prefs.interval_ms;
        egui::ComboBox::new("interval", "poll interval")
            .selected_text(interval_label(interval))
            .show_ui(ui, |ui| {
                for ms in INTERVALS_MS {
                    ui.selectable_value(&mut interval, ms, interval_label(ms));
                }
            });
        if interval != prefs.interval_ms {
            actions.push(Action::Control(Control::SetInterval(
                Duration::from_millis(interval),
            )));
        }
        let pause_label = if paused { "Resume" } else { "Pause" };
        if ui.button(pause_label).clicked() {
            actions.push(Action::Control(if paused {
                Control::Resume
            } else {
                Control::Pause
            }));
        }
        if ui.button("Refresh now").clicked() {
            actions.push(Action::Control(Control::RefreshNow));
        }
        if paused {
            ui.label(egui::RichText::new("paused").strong());
        }
        ui.separator();
        let mut highlight = prefs.tracker.new_for.as_secs();
        egui::ComboBox::new("highlight", "highlight changes")
            .selected_text(format!("{highlight} s"))
            .show_ui(ui, |ui| {
                for secs in [1, 2, 5, 10, 30] {
                    ui.selectable_value(&mut highlight, secs, format!("{secs} s"));
                }
            });
        if highlight != prefs.tracker.new_for.as_secs() {
            actions.push(Action::Highlight(Duration::from_secs(highlight)));
        }
        ui.separator();
        let mut theme = prefs.theme;
        egui::ComboBox::new("theme", "theme")
            .selected_text(match theme {
                egui::ThemePreference::System => "system",
                egui::ThemePreference::Light => "light",
                egui::ThemePreference::Dark => "dark",
            })
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut theme, egui::ThemePreference::System, "system");
                ui.selectable_value(&mut theme, egui::ThemePreference::Light, "light");
                ui.selectable_value(&mut theme, egui::ThemePreference::Dark, "dark");
            });
        if theme != prefs.theme {
            actions.push(Action::Theme(theme));
        }
        if let Some(error) = &snapshot.error {
            ui.separator();
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
    });
    actions
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
