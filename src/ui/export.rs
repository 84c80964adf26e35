//! Saving the table as it is shown (filtered, sorted) to CSV or JSON.
//!
//! The same writers serve `portscope list --csv/--json`, so a saved file reads exactly like the
//! command's output. Writing happens on a short-lived thread; an existing file is only
//! replaced after the user confirms.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver};

use crate::model::Snapshot;
use crate::model::export::{write_csv, write_json};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }
}

#[derive(Debug)]
enum Outcome {
    Saved(PathBuf, usize),
    Exists(PathBuf),
    Failed(String),
}

#[derive(Debug)]
enum Stage {
    Edit,
    Writing(Receiver<Outcome>),
    ConfirmOverwrite(PathBuf),
    Done(String),
    Failed(String),
}

/// The export dialog, holding the view it exports.
#[derive(Debug)]
pub struct ExportDialog {
    snapshot: Arc<Snapshot>,
    rows: Arc<Vec<usize>>,
    format: Format,
    path: String,
    stage: Stage,
}

fn default_path(format: Format) -> String {
    let stamp = jiff::Zoned::now().strftime("%Y%m%d-%H%M%S").to_string();
    let dir = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    dir.join(format!("portscope-{stamp}.{}", format.extension()))
        .to_string_lossy()
        .into_owned()
}

impl ExportDialog {
    pub fn new(snapshot: Arc<Snapshot>, rows: Vec<usize>) -> ExportDialog {
        ExportDialog {
            snapshot,
            rows: Arc::new(rows),
            format: Format::Csv,
            path: default_path(Format::Csv),
            stage: Stage::Edit,
        }
    }

    fn start(&mut self, overwrite: bool, wake: impl Fn() + Send + 'static) {
        let (tx, rx) = mpsc::channel();
        let path = PathBuf::from(self.path.trim());
        let (snapshot, rows, format) = (self.snapshot.clone(), self.rows.clone(), self.format);
        let spawned = std::thread::Builder::new()
            .name("portscope-export".to_owned())
            .spawn(move || {
                let _ = tx.send(write(&path, &snapshot, &rows, format, overwrite));
                wake();
            });
        self.stage = match spawned {
            Ok(_) => Stage::Writing(rx),
            Err(e) => Stage::Failed(format!("Could not start writing: {e}")),
        };
    }

    fn poll(&mut self) {
        let Stage::Writing(rx) = &self.stage else {
            return;
        };
        let Ok(outcome) = rx.try_recv() else {
            return;
        };
        self.stage = match outcome {
            Outcome::Saved(path, n) => {
                Stage::Done(format!("Saved {n} rows to {}.", path.display()))
            }
            Outcome::Exists(path) => Stage::ConfirmOverwrite(path),
            Outcome::Failed(e) => Stage::Failed(e),
        };
    }

    /// Show the dialog. Returns false once the user has closed it.
    pub fn ui(&mut self, ctx: &egui::Context) -> bool {
        self.poll();
        let mut keep = true;
        let wake = {
            let ctx = ctx.clone();
            move || ctx.request_repaint()
        };
        egui::Modal::new(egui::Id::unique("export-dialog")).show(ctx, |ui| {
            ui.set_width(560.0);
            ui.heading("Export the table");
            ui.label(format!(
                "{} rows, as filtered and sorted now.",
                self.rows.len()
            ));
            ui.horizontal(|ui| {
                let before = self.format;
                ui.radio_value(&mut self.format, Format::Csv, "CSV");
                ui.radio_value(&mut self.format, Format::Json, "JSON");
                if self.format != before {
                    // Keep the name, change the extension.
                    let path = PathBuf::from(self.path.trim());
                    self.path = path
                        .with_extension(self.format.extension())
                        .to_string_lossy()
                        .into_owned();
                }
            });
            ui.horizontal(|ui| {
                let label = ui.label("File");
                ui.add(egui::TextEdit::singleline(&mut self.path).desired_width(460.0))
                    .labelled_by(label.id);
            });
            match &self.stage {
                Stage::Edit => {
                    ui.horizontal(|ui| {
                        let valid = !self.path.trim().is_empty();
                        if ui.add_enabled(valid, egui::Button::new("Save")).clicked() {
                            self.start(false, wake);
                        }
                        if ui.button("Cancel").clicked() {
                            keep = false;
                        }
                    });
                }
                Stage::Writing(_) => {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label("Writing…");
                    });
                }
                Stage::ConfirmOverwrite(path) => {
                    ui.colored_label(
                        ui.visuals().warn_fg_color,
                        format!("{} already exists. Replace it?", path.display()),
                    );
                    ui.horizontal(|ui| {
                        if ui.button("Replace").clicked() {
                            self.start(true, wake);
                        }
                        if ui.button("Choose another name").clicked() {
                            self.stage = Stage::Edit;
                        }
                    });
                }
                Stage::Done(message) => {
                    ui.label(message);
                    if ui.button("Close").clicked() {
                        keep = false;
                    }
                }
                Stage::Failed(message) => {
                    ui.colored_label(ui.visuals().error_fg_color, message);
                    ui.horizontal(|ui| {
                        if ui.button("Try again").clicked() {
                            self.stage = Stage::Edit;
                        }
                        if ui.button("Close").clicked() {
                            keep = false;
                        }
                    });
                }
            }
        });
        keep
    }
}

fn write(
    path: &PathBuf,
    snap: &Snapshot,
    rows: &[usize],
    format: Format,
    overwrite: bool,
) -> Outcome {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if overwrite {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let file = match options.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Outcome::Exists(path.clone());
        }
        Err(e) => return Outcome::Failed(format!("Cannot write {}: {e}", path.display())),
    };
    let mut out = std::io::BufWriter::new(file);
    let written = match format {
        Format::Csv => write_csv(&mut out, snap, rows),
        Format::Json => write_json(&mut out, snap, rows),
    }
    .and_then(|()| std::io::Write::flush(&mut out));
    match written {
        Ok(()) => Outcome::Saved(path.clone(), rows.len()),
        Err(e) => Outcome::Failed(format!("Writing {} failed: {e}", path.display())),
    }
}
