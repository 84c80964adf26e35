//! Loading preferences without ever losing them.
//!
//! eframe keeps its settings in one RON file and, if that file cannot be parsed, starts empty
//! and overwrites it at the next save. portscope checks the file first: an unreadable file (or
//! an unreadable portscope entry in it) is copied aside next to it, the window starts with
//! defaults, and says so. Entries from older versions load with defaults for what is missing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::app::Prefs;

/// What loading found.
#[derive(Debug, Default)]
pub struct Loaded {
    pub prefs: Prefs,
    /// Something to tell the user: why defaults are in use and where the old file went.
    pub notice: Option<String>,
}

/// Load portscope's preferences. `raw` is portscope's entry as eframe stored it (if any);
/// `file` is eframe's settings file, checked so that a file eframe could not read is kept.
pub fn load(raw: Option<String>, file: Option<&Path>) -> Loaded {
    if let Some(path) = file
        && let Ok(text) = std::fs::read_to_string(path)
        && let Err(e) = ron::from_str::<HashMap<String, String>>(&text)
    {
        let kept = keep_aside(path, &text);
        return Loaded {
            prefs: Prefs::default(),
            notice: Some(notice(
                "The settings file could not be read",
                &e.to_string(),
                kept,
            )),
        };
    }
    let Some(raw) = raw else {
        return Loaded::default();
    };
    match ron::from_str::<Prefs>(&raw) {
        Ok(prefs) => Loaded {
            prefs,
            notice: None,
        },
        Err(e) => {
            let kept = match file {
                Some(path) => keep_aside(&path.with_file_name("portscope-preferences.ron"), &raw),
                None => Err("there is no settings folder".to_owned()),
            };
            Loaded {
                prefs: Prefs::default(),
                notice: Some(notice(
                    "portscope's preferences could not be read",
                    &e.to_string(),
                    kept,
                )),
            }
        }
    }
}

fn notice(what: &str, error: &str, kept: Result<PathBuf, String>) -> String {
    let kept = match kept {
        Ok(path) => format!("The unreadable copy was kept as {}.", path.display()),
        Err(e) => format!("The unreadable copy could not be kept ({e})."),
    };
    format!("{what} ({error}); defaults are in use. {kept}")
}

/// Write `contents` beside `path` under a new name that says why, never over an existing file.
fn keep_aside(path: &Path, contents: &str) -> Result<PathBuf, String> {
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let name = path
        .file_name()
        .map_or_else(|| "settings".into(), |n| n.to_string_lossy().into_owned());
    for attempt in 0..100 {
        let suffix = if attempt == 0 {
            String::new()
        } else {
            format!("-{attempt}")
        };
        let aside = path.with_file_name(format!("{name}.unreadable-{stamp}{suffix}"));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&aside);
        match file {
            Ok(mut f) => {
                use std::io::Write as _;
                return f
                    .write_all(contents.as_bytes())
                    .map(|()| aside)
                    .map_err(|e| e.to_string());
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e.to_string()),
        }
    }
    Err("too many copies already".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SortKey;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("portscope-prefs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[test]
    fn good_preferences_load_and_missing_fields_take_defaults() {
        let prefs = Prefs {
            filter: "state:listen".to_owned(),
            ..Prefs::default()
        };
        let raw = ron::to_string(&prefs).expect("serialize");
        let loaded = load(Some(raw), None);
        assert_eq!(loaded.prefs, prefs);
        assert!(loaded.notice.is_none());
        // An older version's entry with fewer fields.
        let old = load(
            Some("(filter: \"ssh\", interval_ms: 2000)".to_owned()),
            None,
        );
        assert_eq!(old.prefs.filter, "ssh");
        assert_eq!(old.prefs.interval_ms, 2000);
        assert_eq!(old.prefs.sort.key, SortKey::LocalPort);
        assert!(old.notice.is_none());
    }

    #[test]
    fn an_unreadable_entry_gives_defaults_a_notice_and_a_kept_copy() {
        let dir = temp_dir("entry");
        let file = dir.join("app.ron");
        std::fs::write(&file, "{\"app\": \"(filter: 42\"}").expect("write");
        let loaded = load(Some("(filter: 42".to_owned()), Some(&file));
        assert_eq!(loaded.prefs, Prefs::default());
        let notice = loaded.notice.expect("a notice");
        assert!(notice.contains("could not be read"), "{notice}");
        let kept: Vec<_> = std::fs::read_dir(&dir)
            .expect("read dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().contains("unreadable"))
            .collect();
        assert_eq!(kept.len(), 1, "{notice}");
        assert_eq!(
            std::fs::read_to_string(kept[0].path()).expect("read"),
            "(filter: 42"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_corrupt_settings_file_is_kept_before_it_can_be_overwritten() {
        let dir = temp_dir("file");
        let file = dir.join("app.ron");
        std::fs::write(&file, "this is not RON {{{").expect("write");
        let loaded = load(None, Some(&file));
        assert_eq!(loaded.prefs, Prefs::default());
        assert!(
            loaded
                .notice
                .as_deref()
                .is_some_and(|n| n.contains("settings file"))
        );
        // Twice: the second copy gets its own name, the first is not overwritten.
        let _ = load(None, Some(&file));
        let kept = std::fs::read_dir(&dir)
            .expect("read dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().contains("unreadable"))
            .count();
        assert_eq!(kept, 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn no_file_and_no_entry_is_a_quiet_first_start() {
        let loaded = load(None, Some(Path::new("/nonexistent/portscope/app.ron")));
        assert_eq!(loaded.prefs, Prefs::default());
        assert!(loaded.notice.is_none());
    }
}
