//! The panel above the table: the port range bar, its zoom buttons and the ephemeral gauge.

use super::action::Action;
use super::port_bar::{PortBarState, describe_port, port_bar_ui};
use super::view::ViewData;
use crate::model::text::escape;

/// The panel; the bar keeps its own zoom and pan in `bar`. `selected` is the port explained,
/// `host` the machine whose ports it shows (in a table of several, a choice above the bar).
pub(crate) fn bar_panel_ui(
    ui: &mut egui::Ui,
    bar: &mut PortBarState,
    data: &ViewData,
    selected: Option<u16>,
    host: u16,
) -> Vec<Action> {
    let mut actions = Vec::new();
    ui.add_space(4.0);
    let machine = data.bar(host);
    if data.bars.len() > 1 {
        ui.horizontal(|ui| {
            ui.label("Ports of");
            let name = |b: &super::view::MachineBar| {
                b.table
                    .machine
                    .as_ref()
                    .map_or_else(String::new, |m| escape(&m.name).into_owned())
            };
            egui::ComboBox::from_id_salt("bar_host")
                .selected_text(name(machine))
                .show_ui(ui, |ui| {
                    for b in data.bars.iter() {
                        if ui
                            .selectable_label(b.host == machine.host, name(b))
                            .clicked()
                            && b.host != machine.host
                        {
                            actions.push(Action::FocusHost(b.host));
                        }
                    }
                })
                .response
                .on_hover_text(
                    "The machine whose ports the bar, the gauge and the explanation show: \
                     each has its own ephemeral range",
                );
        });
    }
    let snapshot = &machine.table;
    let out = port_bar_ui(
        ui,
        bar,
        &machine.usage,
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
        let gauge = &machine.gauge;
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
