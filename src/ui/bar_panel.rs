//! The panel above the table: the port range bar, its zoom buttons and the ephemeral gauge.

use super::action::Action;
use super::port_bar::{PortBarState, describe_port, port_bar_ui};
use super::view::ViewData;

/// The panel; the bar keeps its own zoom and pan in `bar`. `selected` is the port explained.
pub(crate) fn bar_panel_ui(
    ui: &mut egui::Ui,
    bar: &mut PortBarState,
    data: &ViewData,
    selected: Option<u16>,
) -> Vec<Action> {
    let mut actions = Vec::new();
    ui.add_space(4.0);
    let snapshot = &data.snapshot;
    let out = port_bar_ui(
        ui,
        bar,
        &data.usage,
        &snapshot.ephemeral,
        selected,
        |port| describe_port(port, snapshot),
    );
    if let Some(port) = out.clicked {
        actions.push(Action::ExplainPort(port));
    }
    ui.horizontal(|ui| {
        ui.label("Zoom:");
        let ranges = [
            ("all", 0u16, 65535u16),
            ("well-known", 0, 1023),
            ("registered", 1024, 49151),
            ("dynamic", 49152, 65535),
            (
                "ephemeral",
                snapshot.ephemeral.start,
                snapshot.ephemeral.end,
            ),
        ];
        for (name, lo, hi) in ranges {
            if ui.small_button(name).clicked() {
                actions.push(Action::ZoomBar(lo, hi));
            }
        }
        ui.separator();
        let gauge = &data.gauge;
        ui.add(
            egui::ProgressBar::new(gauge.fraction())
                .desired_width(120.0)
                .text(format!("{:.1}%", gauge.fraction() * 100.0)),
        )
        .on_hover_text(
            "Share of this OS's ephemeral range in use. Near 100%, new outgoing connections fail \
             (EADDRNOTAVAIL); many TIME_WAIT sockets are the usual cause.",
        );
        ui.label(gauge.summary());
    });
    actions
}
