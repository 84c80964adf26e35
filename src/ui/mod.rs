//! The window: a live socket table, a details panel for the selected socket's owner, and a
//! status bar. All OS access happens on the collector thread; this code only reads snapshots.
//!
//! [`PortscopeApp`] (app.rs) owns the state. Each panel is a function of what it reads that
//! returns what the user asked for as `Action`s (action.rs); the app applies them in one place
//! after the panels are drawn. The table's columns are described once, in
//! [`crate::model::column`]. No module here imports one that imports it back.

mod action;
mod app;
mod atomic;
mod bar_panel;
mod charts;
mod close;
mod details;
mod explain;
mod export;
mod groups;
mod hint;
mod history;
pub mod hosts;
pub mod icon;
mod job;
mod keys;
mod kill;
mod letting_go;
pub mod memory;
mod names;
pub mod port_bar;
pub mod port_scale;
pub mod prefs;
pub mod remote_act;
mod selection;
mod status;
mod table;
mod timeline;
mod toolbar;
pub mod tracking;
pub mod view;
pub mod window;

pub use app::PortscopeApp;
pub use prefs::Prefs;

use std::process::ExitCode;

/// The application id: names the window and the folder preferences are kept in.
pub const APP_ID: &str = "portscope";

/// Fonts and style the window needs: egui's proportional font lacks the arrows and marks
/// the table uses, so the bundled monospace font backs it up.
pub fn setup_context(ctx: &egui::Context) {
    let mut fonts = egui::FontDefinitions::default();
    if let Some(family) = fonts.families.get_mut(&egui::FontFamily::Proportional) {
        family.push("Hack".to_owned());
    }
    ctx.set_fonts(fonts);
}

/// Open the window on the live machine (with `hosts` over SSH beside it), or on `generated`
/// made-up sockets. Returns when it is closed.
pub fn run_window(
    generated: Option<crate::collect::GeneratedSource>,
    hosts: Vec<String>,
) -> ExitCode {
    // Checked before anything runs: ssh would take a host starting with '-' as an option.
    let hosts = match hosts
        .iter()
        .map(|h| hosts::valid_host(h))
        .collect::<Result<Vec<String>, String>>()
    {
        Ok(hosts) => hosts,
        Err(e) => {
            eprintln!("portscope: {e}");
            return ExitCode::from(2);
        }
    };
    let file = eframe::storage_dir(APP_ID).map(|dir| dir.join(prefs::SETTINGS_FILE));
    let loaded = prefs::load(file.as_deref());
    // Before any thread starts: with hosts (made-up sockets show none), the tables' memory
    // is kept and reused.
    memory::apply(memory::Policy::for_window(
        generated.is_none() && (!hosts.is_empty() || !loaded.prefs.hosts.is_empty()),
    ));
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("portscope")
            .with_inner_size(window::DEFAULT_SIZE)
            .with_min_inner_size(window::MIN_SIZE)
            .with_icon(std::sync::Arc::new(icon::icon())),
        // eframe's own state only; portscope saves its preferences itself (see prefs).
        centered: true,
        persistence_path: eframe::storage_dir(APP_ID).map(|dir| dir.join(prefs::WINDOW_FILE)),
        ..Default::default()
    };
    let result = eframe::run_native(
        APP_ID,
        options,
        Box::new(move |cc| {
            setup_context(&cc.egui_ctx);
            Ok(Box::new(PortscopeApp::new(cc, generated, hosts, loaded)))
        }),
    );
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portscope: cannot open the window: {e}");
            eprintln!(
                "  (no display? 'portscope list' and 'portscope who PORT' work without one; \
                 on Debian the window needs libxcursor1 libxi6 libxkbcommon-x11-0 and Mesa's GL)"
            );
            ExitCode::from(2)
        }
    }
}
