//! The window: a live socket table, a details panel for the selected socket's owner, and a
//! status bar. All OS access happens on the collector thread; this code only reads snapshots.

mod app;
mod details;
mod explain;
mod export;
mod groups;
mod history;
mod kill;
pub mod port_bar;
pub mod port_scale;
pub mod prefs;
mod status;
mod table;
pub mod view;

pub use app::{PortscopeApp, Prefs};

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

/// Open the window on the live machine (or on `generated` made-up sockets). Returns when it
/// is closed.
pub fn run_window(generated: Option<usize>) -> ExitCode {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("portscope")
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([640.0, 400.0]),
        ..Default::default()
    };
    let result = eframe::run_native(
        APP_ID,
        options,
        Box::new(move |cc| Ok(Box::new(PortscopeApp::new(cc, generated)))),
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
