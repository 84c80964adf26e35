//! The status bar: counts, the machine's total rate, poll timing, and the collector's controls.

use std::time::Duration;

use super::action::Action;
use super::prefs::{INTERVALS_MS, Prefs};
use crate::collect::Control;
use crate::model::{Counts, Snapshot, units};
use egui::RichText;

/// The filter the count of servers at risk sets when clicked.
pub(crate) const RISK_FILTER: &str = "risk:ephemeral";

/// The status bar: what it reads.
pub(crate) struct StatusInput<'a> {
    pub counts: Counts,
    pub snapshot: &'a Snapshot,
    pub prefs: &'a Prefs,
    pub paused: bool,
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
        if c.services_at_risk > 0 {
            ui.separator();
            let text = match c.services_at_risk {
                1 => "1 service listens inside the ephemeral range".to_owned(),
                n => format!("{n} services listen inside the ephemeral range"),
            };
            if ui
                .link(RichText::new(text).color(ui.visuals().warn_fg_color))
                .on_hover_text(
                    "Servers on ports the OS may hand to outgoing connections: one may fail to \
                     start again after a restart (EADDRINUSE). Click to show them.",
                )
                .clicked()
            {
                actions.push(Action::SetFilter(RISK_FILTER.to_owned()));
            }
        }
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
        if snapshot.ended_lost > 0 {
            ui.separator();
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!("close events lost ({}×)", snapshot.ended_lost),
            )
            .on_hover_text(
                "Connections closed faster than the kernel's announcements could be read, and \
                 it dropped some. Those that closed meanwhile were found by the next poll, \
                 without their final counters; those that lived less than a poll were not seen.",
            );
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
