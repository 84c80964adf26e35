//! The details panel's live charts: what the selected TCP connection moves (down and up), its
//! round-trip time, and its process's total rate, over the last minutes.
//!
//! The samples come from the [`TrafficHistory`] the window keeps from every snapshot, so the
//! charts are full the moment a row is selected; this module only draws them. Time runs along
//! x in seconds before the latest poll (0 is now); the axes, the legend and the hover label
//! speak in bytes per second and milliseconds.

use std::ops::RangeInclusive;

use egui::RichText;
use egui_plot::{Corner, GridMark, HoverPosition, Legend, Line, Plot, PlotPoints};

use crate::model::text::escape;
use crate::model::traffic_history::{ProcessKey, Sample, Series, TrafficHistory, WINDOW};
use crate::model::{Proto, Snapshot, SockState, Socket};

/// What the charts say when a connection has no history.
pub(crate) const NO_TRAFFIC: &str = "No traffic yet";

const CHART_HEIGHT: f32 = 130.0;

/// The charts for `socket`, a TCP connection (nothing for listeners and UDP, for which the
/// kernel keeps no counters). `seen_in` is the poll the socket was seen in, for its processes.
pub(crate) fn traffic_charts_ui(
    ui: &mut egui::Ui,
    history: &TrafficHistory,
    socket: &Socket,
    seen_in: &Snapshot,
) {
    if socket.proto != Proto::Tcp
        || socket.remote_addr.is_none()
        || matches!(socket.state, SockState::Listen | SockState::Bound)
    {
        return;
    }
    let now = history.now_ms();
    ui.add_space(8.0);
    ui.heading("Traffic");
    match history.connection(socket.cookie) {
        Some(series) => connection_charts(ui, series, now, socket.cookie),
        None => {
            ui.label(format!(
                "{NO_TRAFFIC}: the charts start when this connection moves data."
            ));
        }
    }
    for pid in socket.pids.iter() {
        let process = seen_in.process(*pid);
        let key = ProcessKey {
            pid: *pid,
            start_time: process.and_then(|p| p.start_time),
        };
        if let Some(series) = history.process(key) {
            let name = process.map_or_else(|| "?".into(), |p| escape(&p.name));
            ui.add_space(4.0);
            ui.label(RichText::new(format!("Process total: {name} (PID {pid})")).strong());
            rate_chart(ui, ("traffic-process", *pid), series, now);
        }
    }
}

fn connection_charts(ui: &mut egui::Ui, series: &Series, now: u32, cookie: u64) {
    if let Some(last) = series.samples().back() {
        let mut text = format!(
            "now ↓ {}  ↑ {}  RTT {}",
            rate_text(f64::from(last.down)),
            rate_text(f64::from(last.up)),
            rtt_text(f64::from(last.rtt_ms))
        );
        if series.is_closed() {
            text = "closed: the charts end where it went".to_owned();
        }
        ui.label(text);
    }
    ui.label(RichText::new("Rate of this connection").strong());
    rate_chart(ui, ("traffic-rate", cookie), series, now);
    ui.label(RichText::new("Round-trip time").strong());
    let rtt = points(series, now, |s| s.rtt_ms);
    chart(ui, ("traffic-rtt", cookie), rtt_text).show(ui, |plot| {
        plot.line(Line::new("RTT", rtt));
    });
}

fn rate_chart(ui: &mut egui::Ui, id: impl egui::AsIdSalt, series: &Series, now: u32) {
    let down = points(series, now, |s| s.down);
    let up = points(series, now, |s| s.up);
    chart(ui, id, rate_text).show(ui, |plot| {
        plot.line(Line::new("down (received)", down));
        plot.line(Line::new("up (sent)", up));
    });
}

/// A chart over the last minutes with `value` naming the y axis's unit.
fn chart<'a>(ui: &egui::Ui, id: impl egui::AsIdSalt, value: fn(f64) -> String) -> Plot<'a> {
    let width = ui.available_width();
    Plot::new(id)
        .height(CHART_HEIGHT)
        .width(width)
        .legend(Legend::default().position(Corner::LeftTop))
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .allow_double_click_reset(false)
        .include_x(0.0)
        .include_y(0.0)
        .set_margin_fraction(egui::vec2(0.0, 0.1))
        .x_axis_formatter(|mark: GridMark, _: &RangeInclusive<f64>| ago_text(mark.value))
        .y_axis_formatter(move |mark: GridMark, _: &RangeInclusive<f64>| value(mark.value))
        .y_axis_min_width(72.0)
        .label_formatter(move |pos: &HoverPosition<'_>| match pos {
            HoverPosition::NearDataPoint {
                plot_name,
                position,
                ..
            } => Some(format!(
                "{plot_name}: {}\n{}",
                value(position.y),
                ago_text(position.x)
            )),
            HoverPosition::Elsewhere { .. } => None,
        })
}

/// The series as chart points: seconds before `now`, and the chosen value.
fn points(series: &Series, now: u32, value: impl Fn(&Sample) -> f32) -> PlotPoints<'static> {
    series
        .samples()
        .iter()
        .map(|s| {
            let x = (f64::from(s.t_ms) - f64::from(now)) / 1000.0;
            [x.max(-WINDOW.as_secs_f64()), f64::from(value(s))]
        })
        .collect()
}

/// Bytes per second in decimal units, as network rates are usually given.
pub(crate) fn rate_text(bytes_per_sec: f64) -> String {
    const UNITS: [&str; 5] = ["B/s", "kB/s", "MB/s", "GB/s", "TB/s"];
    let mut v = bytes_per_sec.max(0.0);
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 || v >= 100.0 {
        format!("{v:.0} {}", UNITS[unit])
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

fn rtt_text(ms: f64) -> String {
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

/// A time before now, as the x axis says it: `now`, `-45 s`, `-2:30`.
pub(crate) fn ago_text(x: f64) -> String {
    let secs = (-x).round().max(0.0) as u64;
    match secs {
        0 => "now".to_owned(),
        1..120 => format!("-{secs} s"),
        _ => format!("-{}:{:02}", secs / 60, secs % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_times_read_in_human_units() {
        assert_eq!(rate_text(0.0), "0 B/s");
        assert_eq!(rate_text(999.0), "999 B/s");
        assert_eq!(rate_text(1500.0), "1.5 kB/s");
        assert_eq!(rate_text(350_000.0), "350 kB/s");
        assert_eq!(rate_text(12_300_000.0), "12.3 MB/s");
        assert_eq!(rtt_text(0.05), "0.05 ms");
        assert_eq!(rtt_text(42.4), "42 ms");
        assert_eq!(ago_text(0.0), "now");
        assert_eq!(ago_text(-45.0), "-45 s");
        assert_eq!(ago_text(-150.0), "-2:30");
        assert_eq!(ago_text(3.0), "now", "the future is now");
    }
}
