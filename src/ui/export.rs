//! Saving the table as it is shown (filtered, sorted) to CSV or JSON.
//!
//! The same writers serve `portscope list --csv/--json`, so a saved file reads exactly like the
//! command's output. Writing happens on a short-lived thread; an existing file is only
//! replaced after the user confirms, and then whole or not at all (see [`super::atomic`]): a
//! failed write leaves it as it was. A symbolic link is replaced by the new file, never written
//! through, and the question says so; a folder or a device is never replaced.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::atomic::{Existing, WriteError, write_atomic};
use super::job::{Job, progress_ui, waker};
use crate::model::Snapshot;
use crate::model::export::{HostRows, write_csv, write_csv_hosts, write_json, write_json_hosts};

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
    Exists(PathBuf, Existing),
    Failed(String),
}

#[derive(Debug)]
enum Stage {
    Edit,
    Writing(Job<Outcome>),
    ConfirmOverwrite(PathBuf, Existing),
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
        let path = PathBuf::from(self.path.trim());
        let (snapshot, rows, format) = (self.snapshot.clone(), self.rows.clone(), self.format);
        let job = Job::spawn("portscope-export", wake, move || {
            write(&path, &snapshot, &rows, format, overwrite)
        });
        self.stage = match job {
            Ok(job) => Stage::Writing(job),
            Err(e) => Stage::Failed(format!("Could not start writing: {e}")),
        };
    }

    fn poll(&mut self) {
        let Stage::Writing(job) = &self.stage else {
            return;
        };
        let Some(outcome) = job.poll() else {
            return;
        };
        self.stage = match outcome {
            Ok(Outcome::Saved(path, n)) => {
                Stage::Done(format!("Saved {n} rows to {}.", path.display()))
            }
            Ok(Outcome::Exists(path, what)) => Stage::ConfirmOverwrite(path, what),
            Ok(Outcome::Failed(e)) | Err(e) => Stage::Failed(e),
        };
    }

    /// Show the dialog. Returns false once the user has closed it.
    pub fn ui(&mut self, ctx: &egui::Context) -> bool {
        self.poll();
        let mut keep = true;
        let wake = waker(ctx);
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
                Stage::Writing(_) => progress_ui(ui, "Writing…"),
                Stage::ConfirmOverwrite(path, what) => {
                    ui.colored_label(ui.visuals().warn_fg_color, replace_question(path, what));
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

/// The question asked before replacing what is at `path`.
fn replace_question(path: &Path, what: &Existing) -> String {
    match what {
        Existing::Symlink(target) => format!(
            "{} already exists: it is a symbolic link to {}. Replace puts the new file in place \
             of the link; {} is not changed.",
            path.display(),
            target.display(),
            target.display()
        ),
        _ => format!("{} already exists. Replace it?", path.display()),
    }
}

/// The rows of a table of several machines, machine by machine: its name, its own table, its
/// rows there (in the order given).
fn split_by_machine<'a>(
    snap: &'a Snapshot,
    rows: &[usize],
) -> Vec<(String, &'a Arc<Snapshot>, Vec<usize>)> {
    let mut parts = Vec::with_capacity(snap.machines.len());
    let mut offset = 0;
    for machine in &snap.machines {
        let len = machine.table.sockets.len();
        let mine = rows
            .iter()
            .filter(|&&i| (offset..offset + len).contains(&i))
            .map(|&i| i - offset)
            .collect();
        let name = machine
            .table
            .machine
            .as_ref()
            .map_or_else(String::new, |m| m.name.clone());
        parts.push((name, &machine.table, mine));
        offset += len;
    }
    parts
}

fn write(path: &Path, snap: &Snapshot, rows: &[usize], format: Format, overwrite: bool) -> Outcome {
    let written = write_atomic(path, overwrite, |out| {
        if snap.machines_cover_rows() {
            // Several machines: each row with its host, read against its machine.
            let split = split_by_machine(snap, rows);
            let parts: Vec<HostRows<'_>> = split
                .iter()
                .map(|(name, table, rows)| (name.as_str(), &***table, &rows[..]))
                .collect();
            return match format {
                Format::Csv => write_csv_hosts(out, &parts),
                Format::Json => write_json_hosts(out, &parts),
            };
        }
        match format {
            Format::Csv => write_csv(out, snap, rows),
            Format::Json => write_json(out, snap, rows),
        }
    });
    match written {
        Ok(()) => Outcome::Saved(path.to_owned(), rows.len()),
        Err(WriteError::Exists(what)) => Outcome::Exists(path.to_owned(), what),
        Err(e) => {
            let kept = match Existing::at(path) {
                Ok(Existing::Nothing) => "",
                _ => " What was there is unchanged.",
            };
            Outcome::Failed(format!("Could not write {}: {e}.{kept}", path.display()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn export(path: &Path, overwrite: bool) -> Outcome {
        write(path, &Snapshot::default(), &[], Format::Csv, overwrite)
    }

    #[test]
    fn replacing_a_symlink_says_so_and_leaves_its_target_alone() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("passwd");
        std::fs::write(&target, "root:x:0:0").unwrap();
        let link = dir.path().join("export.csv");
        std::os::unix::fs::symlink(&target, &link).unwrap();

        let Outcome::Exists(_, what) = export(&link, false) else {
            panic!("a link is asked about first");
        };
        let question = replace_question(&link, &what);
        assert!(question.contains("symbolic link to"), "{question}");
        assert!(
            question.contains(&format!("{} is not changed", target.display())),
            "{question}"
        );
        assert!(matches!(export(&link, true), Outcome::Saved(_, 0)));
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "root:x:0:0");
        let written = std::fs::read_to_string(&link).unwrap();
        assert!(written.starts_with("proto,"), "{written}");
    }

    #[test]
    fn a_failed_replace_keeps_what_was_there_and_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("export.csv");
        std::fs::create_dir(&folder).unwrap();
        let Outcome::Failed(why) = export(&folder, true) else {
            panic!("a folder is not replaced");
        };
        assert!(why.contains("it is a folder"), "{why}");
        assert!(why.contains("unchanged"), "{why}");
        assert!(folder.is_dir());

        let missing = dir.path().join("gone").join("export.csv");
        let Outcome::Failed(why) = export(&missing, false) else {
            panic!("a missing folder fails");
        };
        assert!(why.contains("No such file or directory"), "{why}");
        assert!(!why.contains("unchanged"), "{why}");
    }
}
