//! The timeline above the table: the last ten minutes of the socket table as three small
//! charts side by side — sockets by state (stacked bands), connections opened and closed per
//! second, and the share of the ephemeral range in use, the early warning for port
//! exhaustion that the range bar's gauge gives only for now.
//!
//! The samples come from the [`Timeline`] the window feeds with every snapshot; this module
//! only draws them. Time runs along x in seconds before the latest poll (0 is now). The three
//! charts share the hover cursor, and hovering any of them shows every series at that moment.

use std::ops::RangeInclusive;
use std::time::{Duration, SystemTime};

use egui::{Color32, RichText};
use egui_plot::{
    FilledArea, GridInput, GridMark, HoverPosition, Line, Plot, PlotPoints, uniform_grid_spacer,
};

use super::charts::ago_text;
use super::status::clock;
use crate::model::timeline::{Sample, StateGroup, Timeline};

/// The heading of the first chart; also what tests look for.
pub(crate) const STATES_TITLE: &str = "Sockets by state";
pub(crate) const RATES_TITLE: &str = "Opened / closed per second";
pub(crate) const FILL_TITLE: &str = "Ephemeral ports in use";

const CHART_HEIGHT: f32 = 96.0;
/// At least this much time is shown, so a young timeline does not fill the width.
const MIN_SPAN_S: f64 = 60.0;

/// Colours of the bands and lines, readable on light and dark backgrounds.
fn group_color(group: StateGroup) -> Color32 {
    match group {
        StateGroup::Listen => Color32::from_rgb(66, 133, 244),
        StateGroup::Established => Color32::from_rgb(52, 168, 83),
        StateGroup::TimeWait => Color32::from_rgb(251, 140, 0),
        StateGroup::OtherTcp => Color32::from_rgb(171, 71, 188),
        StateGroup::Udp => Color32::from_rgb(0, 172, 193),
    }
}
const OPENED_COLOR: Color32 = Color32::from_rgb(52, 168, 83);
const CLOSED_COLOR: Color32 = Color32::from_rgb(229, 57, 53);
const FILL_COLOR: Color32 = Color32::from_rgb(251, 140, 0);

/// The timeline panel's contents.
pub(crate) fn timeline_ui(ui: &mut egui::Ui, timeline: &Timeline) {
    let Some(latest) = timeline.latest() else {
        ui.label(format!(
            "{STATES_TITLE}: the timeline starts with the first poll."
        ));
        return;
    };
    let now = latest.t_ms;
    let samples = timeline.samples();
    let xs: Vec<f64> = samples
        .iter()
        .map(|s| seconds_before(s.t_ms, now))
        .collect();
    let cursor = egui::Id::unique("timeline-cursor");
    let gap = ui.spacing().item_spacing.x;
    let width = (ui.available_width() - 2.0 * gap).max(300.0);
    ui.horizontal_top(|ui| {
        ui.vertical(|ui| {
            ui.set_width(width * 0.5);
            ui.horizontal(|ui| {
                ui.label(RichText::new(STATES_TITLE).strong());
                for group in StateGroup::ALL.iter().rev() {
                    swatch(ui, group_color(*group), group.label());
                }
            });
            chart(ui, "timeline-states", timeline, now, cursor, |v| {
                format!("{v:.0}")
            })
            .show(ui, |plot| {
                let mut lower = vec![0.0; samples.len()];
                for group in StateGroup::ALL {
                    let upper: Vec<f64> = samples
                        .iter()
                        .zip(&lower)
                        .map(|(s, below)| below + f64::from(s.count(group)))
                        .collect();
                    plot.add(
                        FilledArea::new(group.label(), &xs, &lower, &upper)
                            .fill_color(group_color(group).gamma_multiply(0.85))
                            .allow_hover(false),
                    );
                    lower = upper;
                }
            });
        });
        ui.vertical(|ui| {
            ui.set_width(width * 0.25);
            ui.horizontal(|ui| {
                ui.label(RichText::new(RATES_TITLE).strong());
                swatch(ui, OPENED_COLOR, "opened");
                swatch(ui, CLOSED_COLOR, "closed");
            });
            let opened = points(&xs, samples, Sample::opened_per_sec);
            let closed = points(&xs, samples, Sample::closed_per_sec);
            chart(ui, "timeline-rates", timeline, now, cursor, rate_text).show(ui, |plot| {
                // Closed wide underneath, so that equal rates (a steady churn) show both
                // lines. (A dashed line costs milliseconds a frame at 2,400 points.)
                plot.line(Line::new("closed/s", closed).color(CLOSED_COLOR).width(3.5));
                plot.line(Line::new("opened/s", opened).color(OPENED_COLOR).width(1.5));
            });
        });
        ui.vertical(|ui| {
            ui.set_width(width * 0.25);
            ui.label(RichText::new(FILL_TITLE).strong()).on_hover_text(
                "Share of this OS's ephemeral range in use over time. Near 100%, new outgoing \
                 connections fail (EADDRNOTAVAIL).",
            );
            let fill = points(&xs, samples, |s| s.ephemeral_fraction() * 100.0);
            chart(ui, "timeline-fill", timeline, now, cursor, |v| {
                format!("{v:.1}%")
            })
            .include_y(1.0)
            .show(ui, |plot| {
                plot.line(
                    Line::new("ephemeral in use", fill)
                        .color(FILL_COLOR)
                        .fill(0.0)
                        .fill_alpha(0.25),
                );
            });
        });
    });
}

/// A coloured square and a name: the legend, in the heading line.
fn swatch(ui: &mut egui::Ui, color: Color32, name: &str) {
    ui.label(RichText::new("■").color(color));
    ui.add_space(-ui.spacing().item_spacing.x * 0.5);
    ui.label(RichText::new(name).small());
}

/// One of the three charts: fixed, not draggable, x in seconds before now.
fn chart<'a>(
    ui: &egui::Ui,
    id: &'static str,
    timeline: &'a Timeline,
    now: u64,
    cursor: egui::Id,
    value: fn(f64) -> String,
) -> Plot<'a> {
    Plot::new(id)
        .height(CHART_HEIGHT)
        .width(ui.available_width())
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .allow_double_click_reset(false)
        .show_crosshair(false)
        .include_x(0.0)
        .include_x(-MIN_SPAN_S)
        .include_y(0.0)
        .set_margin_fraction(egui::vec2(0.0, 0.1))
        .link_cursor(cursor, [true, false])
        .x_grid_spacer(uniform_grid_spacer(time_steps))
        .x_axis_formatter(|mark: GridMark, _: &RangeInclusive<f64>| ago_text(mark.value))
        .y_axis_formatter(move |mark: GridMark, _: &RangeInclusive<f64>| value(mark.value))
        .y_axis_min_width(40.0)
        .label_formatter(move |pos: &HoverPosition<'_>| {
            let x = match pos {
                HoverPosition::NearDataPoint { position, .. }
                | HoverPosition::Elsewhere { position } => position.x,
            };
            readout(timeline, now, x)
        })
}

/// Grid steps along the time axis in whole seconds and minutes (egui_plot's default steps are
/// powers of ten: a label at -100 s only). The largest step leaves room for a label.
fn time_steps(input: GridInput) -> [f64; 3] {
    // Each step divides the next.
    const LADDER: [f64; 8] = [1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 600.0, 1200.0];
    // `base_step_size` is the data per 8 pixels: a label needs about 60.
    let want = input.base_step_size * 7.5;
    let large = LADDER
        .iter()
        .position(|s| *s >= want)
        .unwrap_or(LADDER.len() - 1);
    let step = |i: usize| LADDER[i.min(LADDER.len() - 1)];
    [
        step(large.saturating_sub(2)),
        step(large.saturating_sub(1)),
        step(large),
    ]
}

/// Everything the timeline knows about the moment `x` seconds before `now`.
pub(crate) fn readout(timeline: &Timeline, now: u64, x: f64) -> Option<String> {
    let at = now as f64 + x * 1000.0;
    let s = timeline.nearest(at.max(0.0).round() as u64)?;
    let states = StateGroup::ALL
        .iter()
        .rev()
        .map(|g| format!("{} {}", g.label(), s.count(*g)))
        .collect::<Vec<_>>()
        .join("\n");
    let when = SystemTime::UNIX_EPOCH + Duration::from_millis(s.t_ms);
    Some(format!(
        "{} ({})\n{} sockets:\n{states}\nopened {} · closed {}\nephemeral ports in use: {} of {} ({:.1}%)",
        ago_text(seconds_before(s.t_ms, now)),
        clock(when),
        s.total(),
        rate_text(s.opened_per_sec()),
        rate_text(s.closed_per_sec()),
        s.ephemeral_in_use,
        s.ephemeral_size,
        s.ephemeral_fraction() * 100.0,
    ))
}

/// Connections per second: one decimal below 10, none above.
pub(crate) fn per_sec(n: f64) -> String {
    if n < 10.0 {
        format!("{n:.1}")
    } else {
        format!("{n:.0}")
    }
}

fn rate_text(n: f64) -> String {
    format!("{}/s", per_sec(n))
}

fn seconds_before(t_ms: u64, now: u64) -> f64 {
    -((now.saturating_sub(t_ms)) as f64 / 1000.0)
}

fn points<'s>(
    xs: &[f64],
    samples: impl IntoIterator<Item = &'s Sample>,
    value: impl Fn(&Sample) -> f64,
) -> PlotPoints<'static> {
    xs.iter()
        .zip(samples)
        .map(|(x, s)| [*x, value(s)])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Snapshot;
    use crate::model::history::Changes;

    #[test]
    fn hovering_reads_out_every_series_at_the_nearest_sample() {
        let mut timeline = Timeline::default();
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_000_000);
        for (seq, secs, opened) in [(1, 0, 0), (2, 2, 3), (3, 4, 40)] {
            let snap = Snapshot {
                seq,
                taken_at: start + Duration::from_secs(secs),
                ..Snapshot::default()
            };
            let changes = Changes {
                new: opened,
                changed: 0,
                closed: 1,
            };
            assert!(timeline.update(&snap, changes));
        }
        let now = timeline.latest().map(|s| s.t_ms).unwrap_or_default();
        // 1.9 s before now is nearest the sample 2 s before now.
        let text = readout(&timeline, now, -1.9).unwrap_or_default();
        assert!(text.starts_with("-2 s ("), "{text}");
        assert!(
            text.contains("0 sockets:\nUDP 0\nother TCP 0\nTIME_WAIT 0"),
            "{text}"
        );
        assert!(text.contains("opened 1.5/s · closed 0.5/s"), "{text}");
        assert!(text.contains("ephemeral ports in use: 0 of "), "{text}");
        let text = readout(&timeline, now, 0.3).unwrap_or_default();
        assert!(text.starts_with("now ("), "{text}");
        assert!(text.contains("opened 20/s"), "{text}");
        assert_eq!(readout(&Timeline::default(), now, 0.0), None);
    }

    #[test]
    fn time_grid_steps_are_whole_seconds_and_minutes_with_room_for_labels() {
        let steps = |base_step_size| {
            time_steps(GridInput {
                bounds: (-600.0, 0.0),
                base_step_size,
            })
        };
        // 8 pixels a second: a label every 10 s.
        assert_eq!(steps(1.0), [1.0, 5.0, 10.0]);
        // 10 minutes over 300 pixels: 16 s per 8 pixels, a label every 2 minutes.
        assert_eq!(steps(16.0), [30.0, 60.0, 120.0]);
        assert_eq!(steps(0.01), [1.0, 1.0, 1.0]);
        assert_eq!(steps(1e9), [120.0, 600.0, 1200.0]);
    }
}
