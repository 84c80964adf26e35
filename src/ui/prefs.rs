//! Preferences kept between runs, without ever losing them.
//!
//! eframe saves its state by truncating its file and writing it anew, and starts empty (then
//! overwrites) when it cannot parse it: a crash or a full disk mid-write loses everything. So
//! portscope keeps its preferences itself, in the file eframe used to keep them in
//! ([`SETTINGS_FILE`], a RON map whose `"app"` entry holds them: settings saved by earlier
//! versions load unchanged), and writes it whole or not at all (see [`super::atomic`]) on a
//! thread of its own. eframe keeps only the window's geometry and egui's memory, in
//! [`WINDOW_FILE`] beside it.
//!
//! A settings file that cannot be used — unreadable (no permission, a folder), not text, not
//! RON — is moved aside under a name that says why (`app.ron.unreadable-<time>`), the window
//! starts with defaults and says so. An entry that does not parse is copied aside the same way.
//! If the file cannot even be moved aside, the notice says so and the file is never
//! overwritten: portscope does not save its preferences in that run. Entries from older
//! versions load with defaults for what is missing.

use std::collections::BTreeMap;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use serde::{Deserialize, Serialize};

use super::atomic::write_atomic;
use crate::model::history::TrackerConfig;
use crate::model::{SortKey, SortSpec, Toggles};

/// Preferences kept between runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Prefs {
    pub sort: SortSpec,
    pub filter: String,
    pub toggles: Toggles,
    pub interval_ms: u64,
    pub theme: egui::ThemePreference,
    /// Show names for remote addresses (reverse DNS). Off unless asked: portscope sends
    /// nothing to the network by itself.
    pub resolve_names: bool,
    /// How long rows stay highlighted and closed rows linger; how much history is kept.
    pub tracker: TrackerConfig,
    /// Show sockets grouped under their processes instead of the flat table.
    pub group_by_process: bool,
    /// Show the timeline above the table.
    pub show_timeline: bool,
    /// Columns shown by default that the user hid.
    pub hidden_columns: Vec<SortKey>,
    /// Columns hidden by default that the user showed.
    pub shown_columns: Vec<SortKey>,
    /// The hint about owners that need root was dismissed: it is not shown again.
    pub owners_hint_dismissed: bool,
    /// Other machines the *Hosts…* dialog offers (anything `ssh` accepts), in the order added.
    pub hosts: Vec<String>,
}

impl Default for Prefs {
    fn default() -> Self {
        Prefs {
            sort: SortSpec::default(),
            filter: String::new(),
            toggles: Toggles::default(),
            interval_ms: 1000,
            theme: egui::ThemePreference::System,
            resolve_names: false,
            tracker: TrackerConfig::default(),
            group_by_process: false,
            show_timeline: true,
            hidden_columns: Vec::new(),
            shown_columns: Vec::new(),
            owners_hint_dismissed: false,
            hosts: Vec::new(),
        }
    }
}

impl Prefs {
    /// Whether the table shows this column.
    pub fn column_shown(&self, key: SortKey) -> bool {
        if key.column().shown {
            !self.hidden_columns.contains(&key)
        } else {
            self.shown_columns.contains(&key)
        }
    }

    /// The columns the table shows, in order.
    pub fn columns(&self) -> Vec<SortKey> {
        SortKey::ALL
            .into_iter()
            .filter(|k| self.column_shown(*k))
            .collect()
    }

    /// Show or hide a column; the last one shown stays.
    pub fn show_column(&mut self, key: SortKey, shown: bool) {
        if !shown && self.columns() == [key] {
            return;
        }
        let list = if key.column().shown {
            &mut self.hidden_columns
        } else {
            &mut self.shown_columns
        };
        list.retain(|k| *k != key);
        if shown != key.column().shown {
            list.push(key);
        }
    }
}

/// Poll intervals offered in the status bar.
pub(crate) const INTERVALS_MS: [u64; 6] = [250, 500, 1000, 2000, 5000, 10_000];

/// portscope's settings file, in eframe's storage folder.
pub const SETTINGS_FILE: &str = "app.ron";
/// eframe's own state (window geometry, egui's memory), beside it.
pub const WINDOW_FILE: &str = "window.ron";
/// The settings file's entry that holds the preferences (eframe's name for it).
const ENTRY: &str = "app";

/// What loading found.
#[derive(Debug, Default)]
pub struct Loaded {
    pub prefs: Prefs,
    /// Something to tell the user: why defaults are in use and where the old file went.
    pub notice: Option<String>,
    /// Where to save the preferences; `None` when there is no settings folder.
    pub store: Option<Store>,
}

/// What loading does to the disk: the real file system, or in tests one that fails on cue.
pub(crate) trait Disk {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Rename `from` to `to`, failing if `to` exists.
    fn move_aside(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Create `path`, failing if it exists, holding `contents`.
    fn write_new(&self, path: &Path, contents: &[u8]) -> io::Result<()>;
}

struct RealDisk;

impl Disk for RealDisk {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn move_aside(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut moving = tempfile::TempPath::try_from_path(from)?;
        // Never delete what is moved, whatever happens.
        moving.disable_cleanup(true);
        moving.persist_noclobber(to).map_err(|e| e.error)
    }

    fn write_new(&self, path: &Path, contents: &[u8]) -> io::Result<()> {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)?
            .write_all(contents)
    }
}

/// Load portscope's preferences from `file` (portscope's settings file; `None` when there is
/// no settings folder).
pub fn load(file: Option<&Path>) -> Loaded {
    load_with(file, &RealDisk)
}

pub(crate) fn load_with(file: Option<&Path>, disk: &dyn Disk) -> Loaded {
    let Some(path) = file else {
        return Loaded::default();
    };
    let mut store = Store::new(path.to_owned());
    let bytes = match disk.read(path) {
        Ok(bytes) => bytes,
        // The first start.
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Loaded {
                store: Some(store),
                ..Loaded::default()
            };
        }
        Err(e) => return reject_file(disk, store, &e.to_string()),
    };
    let Ok(text) = String::from_utf8(bytes) else {
        return reject_file(disk, store, "it is not UTF-8 text");
    };
    let mut entries = match ron::from_str::<BTreeMap<String, String>>(&text) {
        Ok(entries) => entries,
        Err(e) => return reject_file(disk, store, &e.to_string()),
    };
    let raw = entries.remove(ENTRY);
    // Entries of other programs or versions (an older eframe's window) are written back.
    store.others = entries;
    let Some(raw) = raw else {
        return Loaded {
            store: Some(store),
            ..Loaded::default()
        };
    };
    match ron::from_str::<Prefs>(&raw) {
        Ok(prefs) => {
            store.saved = Some(raw);
            Loaded {
                prefs: sane(prefs),
                notice: None,
                store: Some(store),
            }
        }
        Err(e) => {
            let kept = keep_copy(
                disk,
                &path.with_file_name("portscope-preferences.ron"),
                &raw,
            );
            let kept = match kept {
                Ok(aside) => format!("The unreadable copy was kept as {}.", aside.display()),
                Err(why) => {
                    store.blocked = true;
                    format!(
                        "The unreadable copy could not be kept ({why}), so portscope leaves {} \
                         as it is and does not save its preferences this time.",
                        path.display()
                    )
                }
            };
            Loaded {
                prefs: Prefs::default(),
                notice: Some(format!(
                    "portscope's preferences could not be read ({e}); defaults are in use. {kept}"
                )),
                store: Some(store),
            }
        }
    }
}

/// Values no control offers, from a hand-edited or hostile file, brought back into range: a
/// zero interval would poll without pause.
fn sane(mut prefs: Prefs) -> Prefs {
    let (least, most) = (INTERVALS_MS[0], INTERVALS_MS[INTERVALS_MS.len() - 1]);
    prefs.interval_ms = prefs.interval_ms.clamp(least, most);
    prefs
}

/// Move the settings file aside, start with defaults, and say so.
fn reject_file(disk: &dyn Disk, mut store: Store, error: &str) -> Loaded {
    let path = store.path.clone();
    let kept = match aside_names(&path)
        .map(|aside| disk.move_aside(&path, &aside).map(|()| aside))
        .find(|moved| !matches!(moved, Err(e) if e.kind() == io::ErrorKind::AlreadyExists))
    {
        Some(Ok(aside)) => format!("The unreadable file was kept as {}.", aside.display()),
        Some(Err(e)) => {
            store.blocked = true;
            format!(
                "It could not be moved aside ({e}), so portscope leaves it as it is and does \
                 not save its preferences this time."
            )
        }
        None => {
            store.blocked = true;
            "It could not be moved aside (too many copies already), so portscope leaves it as \
             it is and does not save its preferences this time."
                .to_owned()
        }
    };
    Loaded {
        prefs: Prefs::default(),
        notice: Some(format!(
            "The settings file {} could not be read ({error}); defaults are in use. {kept}",
            path.display()
        )),
        store: Some(store),
    }
}

/// Write `contents` beside `path` under a new name that says why, never over an existing file.
fn keep_copy(disk: &dyn Disk, path: &Path, contents: &str) -> Result<PathBuf, String> {
    for aside in aside_names(path) {
        match disk.write_new(&aside, contents.as_bytes()) {
            Ok(()) => return Ok(aside),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e.to_string()),
        }
    }
    Err("too many copies already".to_owned())
}

/// `<name>.unreadable-<time>`, then with `-1`, `-2`, … for further copies in the same second.
fn aside_names(path: &Path) -> impl Iterator<Item = PathBuf> + '_ {
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let name = path
        .file_name()
        .map_or_else(|| "settings".into(), |n| n.to_string_lossy().into_owned());
    (0..100).map(move |attempt| {
        let suffix = if attempt == 0 {
            String::new()
        } else {
            format!("-{attempt}")
        };
        path.with_file_name(format!("{name}.unreadable-{stamp}{suffix}"))
    })
}

/// Saves the preferences to the settings file on a thread of its own, so the window never
/// waits for the disk, and only when they changed.
pub struct Store {
    path: PathBuf,
    /// The file's other entries, kept as they were.
    others: BTreeMap<String, String>,
    /// The preferences as last handed to the writer (or read): unchanged ones are not written.
    saved: Option<String>,
    /// The file could not be kept aside, so it is never overwritten.
    blocked: bool,
    wake: Arc<dyn Fn() + Send + Sync>,
    writer: Option<Writer>,
}

struct Writer {
    files: Option<Sender<String>>,
    error: Arc<Mutex<Option<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl Store {
    fn new(path: PathBuf) -> Store {
        Store {
            path,
            others: BTreeMap::new(),
            saved: None,
            blocked: false,
            wake: Arc::new(|| {}),
            writer: None,
        }
    }

    /// Call `wake` when a save fails, so the window can show why.
    pub fn waking(mut self, wake: impl Fn() + Send + Sync + 'static) -> Store {
        self.wake = Arc::new(wake);
        self
    }

    /// Where the preferences are saved.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Save `prefs` if they changed since the last save. Never blocks on the disk.
    pub fn save(&mut self, prefs: &Prefs) {
        if self.blocked {
            return;
        }
        let Some((raw, text)) = self.contents(prefs) else {
            return;
        };
        if self.saved.as_ref() == Some(&raw) {
            return;
        }
        if self.writer.is_none() {
            self.writer = Some(self.start_writer());
        }
        if let Some(files) = self.writer.as_ref().and_then(|w| w.files.as_ref())
            && files.send(text).is_ok()
        {
            self.saved = Some(raw);
        }
    }

    /// `prefs` as the file's entry, and the whole file holding it.
    fn contents(&self, prefs: &Prefs) -> Option<(String, String)> {
        let raw = ron::to_string(prefs).ok()?;
        let mut entries = self.others.clone();
        entries.insert(ENTRY.to_owned(), raw.clone());
        let text = ron::ser::to_string_pretty(&entries, ron::ser::PrettyConfig::default()).ok()?;
        Some((raw, text))
    }

    /// Why the last save failed, once; the next save tries again.
    pub fn take_error(&mut self) -> Option<String> {
        let writer = self.writer.as_ref()?;
        let error = writer
            .error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()?;
        self.saved = None;
        Some(error)
    }

    fn start_writer(&self) -> Writer {
        let (files, incoming) = mpsc::channel();
        let error = Arc::new(Mutex::new(None));
        let (path, failed, wake) = (self.path.clone(), error.clone(), self.wake.clone());
        let thread = std::thread::Builder::new()
            .name("portscope-prefs".to_owned())
            .spawn(move || write_files(&path, &incoming, &failed, &*wake));
        let thread = match thread {
            Ok(thread) => Some(thread),
            Err(e) => {
                *error.lock().unwrap_or_else(PoisonError::into_inner) = Some(format!(
                    "Preferences are not saved: no thread to save them ({e})."
                ));
                None
            }
        };
        Writer {
            files: thread.as_ref().map(|_| files),
            error,
            thread,
        }
    }
}

/// The writer thread: writes the newest contents handed over, until the store is dropped.
fn write_files(
    path: &Path,
    incoming: &Receiver<String>,
    error: &Mutex<Option<String>>,
    wake: &dyn Fn(),
) {
    while let Ok(mut text) = incoming.recv() {
        // Only the newest matters.
        while let Ok(newer) = incoming.try_recv() {
            text = newer;
        }
        let written = match path.parent() {
            Some(dir) => std::fs::create_dir_all(dir).map_err(Into::into),
            None => Ok(()),
        }
        .and_then(|()| write_atomic(path, true, |out| out.write_all(text.as_bytes())));
        if let Err(e) = written {
            *error.lock().unwrap_or_else(PoisonError::into_inner) = Some(format!(
                "Preferences could not be saved to {}: {e}.",
                path.display()
            ));
            wake();
        }
    }
}

impl Drop for Store {
    /// Let the last save finish: the window is closing and the process is about to end.
    fn drop(&mut self) {
        if let Some(writer) = &mut self.writer {
            writer.files = None;
            if let Some(thread) = writer.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("blocked", &self.blocked)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SortKey;
    use std::cell::RefCell;

    /// A settings file holding `entry` as portscope's preferences, as eframe wrote it.
    fn settings_text(entry: &str) -> String {
        let mut map = BTreeMap::new();
        map.insert(ENTRY.to_owned(), entry.to_owned());
        ron::ser::to_string_pretty(&map, ron::ser::PrettyConfig::default()).unwrap()
    }

    fn kept_copies(dir: &Path) -> Vec<PathBuf> {
        let mut kept: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().contains("unreadable"))
            .collect();
        kept.sort();
        kept
    }

    /// Save and wait for the writer: dropping the store lets the last save finish.
    fn save_now(mut store: Store, prefs: &Prefs) -> Option<String> {
        store.save(prefs);
        let writer = store.writer.take();
        if let Some(mut writer) = writer {
            writer.files = None;
            if let Some(t) = writer.thread.take() {
                t.join().unwrap();
            }
            return writer.error.lock().unwrap().take();
        }
        None
    }

    #[test]
    fn good_preferences_load_and_missing_fields_take_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(SETTINGS_FILE);
        let prefs = Prefs {
            filter: "state:listen".to_owned(),
            ..Prefs::default()
        };
        std::fs::write(&file, settings_text(&ron::to_string(&prefs).unwrap())).unwrap();
        let loaded = load(Some(&file));
        assert_eq!(loaded.prefs, prefs);
        assert!(loaded.notice.is_none());
        // An older version's entry with fewer fields.
        std::fs::write(&file, settings_text("(filter: \"ssh\", interval_ms: 2000)")).unwrap();
        let old = load(Some(&file));
        assert_eq!(old.prefs.filter, "ssh");
        assert_eq!(old.prefs.interval_ms, 2000);
        assert_eq!(old.prefs.sort.key, SortKey::LocalPort);
        assert!(old.prefs.hosts.is_empty(), "no hosts before there were any");
        assert!(old.notice.is_none());
    }

    #[test]
    fn an_unreadable_entry_gives_defaults_a_notice_and_a_kept_copy() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(SETTINGS_FILE);
        std::fs::write(&file, "{\"app\": \"(filter: 42\"}").unwrap();
        let loaded = load(Some(&file));
        assert_eq!(loaded.prefs, Prefs::default());
        let notice = loaded.notice.expect("a notice");
        assert!(notice.contains("could not be read"), "{notice}");
        let kept = kept_copies(dir.path());
        assert_eq!(kept.len(), 1, "{notice}");
        assert_eq!(std::fs::read_to_string(&kept[0]).unwrap(), "(filter: 42");
    }

    #[test]
    fn a_corrupt_settings_file_is_kept_before_it_can_be_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(SETTINGS_FILE);
        std::fs::write(&file, "this is not RON {{{").unwrap();
        let loaded = load(Some(&file));
        assert_eq!(loaded.prefs, Prefs::default());
        assert!(
            loaded
                .notice
                .as_deref()
                .is_some_and(|n| n.contains("settings file"))
        );
        // Twice: the second copy gets its own name, the first is not overwritten.
        std::fs::write(&file, "neither is this {{{").unwrap();
        let _ = load(Some(&file));
        let kept = kept_copies(dir.path());
        assert_eq!(kept.len(), 2);
        let mut texts: Vec<_> = kept
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect();
        texts.sort();
        assert_eq!(texts, ["neither is this {{{", "this is not RON {{{"]);
    }

    #[test]
    fn no_file_and_no_entry_is_a_quiet_first_start() {
        let loaded = load(Some(Path::new("/nonexistent/portscope/app.ron")));
        assert_eq!(loaded.prefs, Prefs::default());
        assert!(loaded.notice.is_none());
        let loaded = load(None);
        assert!(loaded.notice.is_none() && loaded.store.is_none());
    }

    #[test]
    fn a_file_that_is_not_text_is_moved_aside_whole_and_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(SETTINGS_FILE);
        let bytes = b"{\"app\": \"(filter: \xff\xfe)\"}".to_vec();
        std::fs::write(&file, &bytes).unwrap();
        let loaded = load(Some(&file));
        assert_eq!(loaded.prefs, Prefs::default());
        let notice = loaded.notice.expect("a notice");
        assert!(notice.contains("not UTF-8"), "{notice}");
        let kept = kept_copies(dir.path());
        assert_eq!(kept.len(), 1, "{notice}");
        assert!(notice.contains(&kept[0].display().to_string()), "{notice}");
        assert_eq!(std::fs::read(&kept[0]).unwrap(), bytes);
        // Saving now writes a fresh file; the kept one stays.
        let store = loaded.store.expect("a store");
        assert_eq!(save_now(store, &Prefs::default()), None);
        assert_eq!(load(Some(&file)).prefs, Prefs::default());
        assert_eq!(std::fs::read(&kept[0]).unwrap(), bytes);
    }

    #[test]
    fn a_settings_path_that_cannot_be_read_is_moved_aside() {
        // Reading a folder fails (EISDIR) for root too.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(SETTINGS_FILE);
        std::fs::create_dir(&file).unwrap();
        std::fs::write(file.join("inside"), "kept").unwrap();
        let loaded = load(Some(&file));
        assert_eq!(loaded.prefs, Prefs::default());
        let notice = loaded.notice.expect("a notice");
        assert!(notice.contains("could not be read"), "{notice}");
        let kept = kept_copies(dir.path());
        assert_eq!(kept.len(), 1, "{notice}");
        assert_eq!(
            std::fs::read_to_string(kept[0].join("inside")).unwrap(),
            "kept"
        );
        assert!(!file.exists());
    }

    /// A disk whose reads and renames fail as told; writing new files works in memory.
    struct FailingDisk {
        read: io::ErrorKind,
        move_aside: Option<io::ErrorKind>,
        moved: RefCell<Vec<(PathBuf, PathBuf)>>,
    }

    impl Disk for FailingDisk {
        fn read(&self, _: &Path) -> io::Result<Vec<u8>> {
            Err(self.read.into())
        }
        fn move_aside(&self, from: &Path, to: &Path) -> io::Result<()> {
            match self.move_aside {
                Some(kind) => Err(kind.into()),
                None => {
                    self.moved.borrow_mut().push((from.into(), to.into()));
                    Ok(())
                }
            }
        }
        fn write_new(&self, _: &Path, _: &[u8]) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_file_without_read_permission_is_moved_aside() {
        // Root reads a mode-000 file anyway, so the refusal is put in the loader's way.
        let disk = FailingDisk {
            read: io::ErrorKind::PermissionDenied,
            move_aside: None,
            moved: RefCell::default(),
        };
        let file = Path::new("/home/alice/.local/share/portscope/app.ron");
        let loaded = load_with(Some(file), &disk);
        assert_eq!(loaded.prefs, Prefs::default());
        let notice = loaded.notice.expect("a notice");
        assert!(notice.contains("permission denied"), "{notice}");
        let moved = disk.moved.borrow();
        assert_eq!(moved.len(), 1);
        assert_eq!(moved[0].0, file);
        assert!(
            moved[0]
                .1
                .to_string_lossy()
                .starts_with("/home/alice/.local/share/portscope/app.ron.unreadable-"),
            "{moved:?}"
        );
        assert!(
            notice.contains(&moved[0].1.display().to_string()),
            "{notice}"
        );
    }

    #[test]
    fn a_file_that_cannot_be_moved_aside_is_never_overwritten() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(SETTINGS_FILE);
        std::fs::write(&file, "root's settings").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).unwrap();
        // As after running once with sudo in a folder the user cannot write either.
        let disk = FailingDisk {
            read: io::ErrorKind::PermissionDenied,
            move_aside: Some(io::ErrorKind::PermissionDenied),
            moved: RefCell::default(),
        };
        let loaded = load_with(Some(&file), &disk);
        assert_eq!(loaded.prefs, Prefs::default());
        let notice = loaded.notice.expect("a notice");
        assert!(notice.contains("could not be moved aside"), "{notice}");
        assert!(notice.contains("does not save"), "{notice}");
        let store = loaded.store.expect("a store");
        let changed = Prefs {
            filter: "port:22".to_owned(),
            ..Prefs::default()
        };
        assert_eq!(save_now(store, &changed), None);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "root's settings");
    }

    #[test]
    fn saving_writes_the_same_file_and_format_and_keeps_other_entries() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(SETTINGS_FILE);
        let mut old = BTreeMap::new();
        old.insert(ENTRY.to_owned(), "(filter: \"ssh\")".to_owned());
        old.insert("window".to_owned(), "(inner_size: (1000, 700))".to_owned());
        std::fs::write(&file, ron::to_string(&old).unwrap()).unwrap();
        let loaded = load(Some(&file));
        assert_eq!(loaded.prefs.filter, "ssh");
        let prefs = Prefs {
            filter: "port:443".to_owned(),
            resolve_names: true,
            ..Prefs::default()
        };
        assert_eq!(save_now(loaded.store.expect("a store"), &prefs), None);
        // eframe's own reader finds the preferences where it left them.
        let map: std::collections::HashMap<String, String> =
            ron::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(map["window"], "(inner_size: (1000, 700))");
        assert_eq!(ron::from_str::<Prefs>(&map[ENTRY]).unwrap(), prefs);
        assert_eq!(load(Some(&file)).prefs, prefs);
        assert_eq!(kept_copies(dir.path()), Vec::<PathBuf>::new());
    }

    #[test]
    fn saving_replaces_a_symlink_and_leaves_its_target_alone() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, settings_text("(filter: \"ssh\")")).unwrap();
        let file = dir.path().join(SETTINGS_FILE);
        std::os::unix::fs::symlink(&target, &file).unwrap();
        let loaded = load(Some(&file));
        assert_eq!(loaded.prefs.filter, "ssh");
        let prefs = Prefs {
            filter: "port:443".to_owned(),
            ..Prefs::default()
        };
        assert_eq!(save_now(loaded.store.expect("a store"), &prefs), None);
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            settings_text("(filter: \"ssh\")")
        );
        assert_eq!(load(Some(&file)).prefs, prefs);
    }

    #[test]
    fn a_failed_save_keeps_the_old_file_and_says_why_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(SETTINGS_FILE);
        let mut store = load(Some(&file)).store.expect("a store");
        // Something took the file's name that is not a file.
        std::fs::create_dir(&file).unwrap();
        std::fs::write(file.join("inside"), "kept").unwrap();
        store.save(&Prefs::default());
        let start = std::time::Instant::now();
        let error = loop {
            if let Some(e) = store.take_error() {
                break e;
            }
            assert!(start.elapsed() < std::time::Duration::from_secs(10));
            std::thread::sleep(std::time::Duration::from_millis(2));
        };
        assert!(error.contains("it is a folder"), "{error}");
        assert_eq!(store.take_error(), None);
        assert_eq!(
            std::fs::read_to_string(file.join("inside")).unwrap(),
            "kept"
        );
        // Told once; the next save tries again.
        std::fs::remove_dir_all(&file).unwrap();
        assert_eq!(save_now(store, &Prefs::default()), None);
        assert_eq!(load(Some(&file)).prefs, Prefs::default());
    }

    /// A settings file in memory; keeping things aside works and is counted.
    struct MemDisk {
        bytes: Vec<u8>,
        kept: std::cell::Cell<usize>,
    }

    impl Disk for MemDisk {
        fn read(&self, _: &Path) -> io::Result<Vec<u8>> {
            Ok(self.bytes.clone())
        }
        fn move_aside(&self, _: &Path, _: &Path) -> io::Result<()> {
            self.kept.set(self.kept.get() + 1);
            Ok(())
        }
        fn write_new(&self, _: &Path, _: &[u8]) -> io::Result<()> {
            self.kept.set(self.kept.get() + 1);
            Ok(())
        }
    }

    #[test]
    fn defaults_save_and_load_back() {
        let text = Store::new(PathBuf::from("/s/app.ron"))
            .contents(&Prefs::default())
            .unwrap()
            .1;
        let disk = MemDisk {
            bytes: text.into_bytes(),
            kept: Default::default(),
        };
        let loaded = load_with(Some(Path::new("/s/app.ron")), &disk);
        assert_eq!((loaded.prefs, loaded.notice), (Prefs::default(), None));
    }

    #[test]
    fn columns_hidden_by_default_stay_hidden_until_shown_and_one_always_stays() {
        // Saved before the queue columns existed: they stay hidden, the user's choice holds.
        let mut prefs: Prefs = ron::from_str("(hidden_columns: [User])").unwrap();
        assert!(!prefs.column_shown(SortKey::User));
        assert!(!prefs.column_shown(SortKey::RecvQ));
        assert!(prefs.column_shown(SortKey::Proto));
        prefs.show_column(SortKey::RecvQ, true);
        assert!(prefs.column_shown(SortKey::RecvQ));
        assert_eq!(prefs.shown_columns, [SortKey::RecvQ]);
        prefs.show_column(SortKey::RecvQ, false);
        assert!(prefs.shown_columns.is_empty());
        prefs.show_column(SortKey::User, true);
        assert!(prefs.hidden_columns.is_empty());
        // The columns after User that are shown by default first, so that User is the last.
        let after_user = [
            SortKey::RateDown,
            SortKey::RateUp,
            SortKey::Rtt,
            SortKey::Netns,
        ];
        for key in after_user.into_iter().chain(SortKey::ALL) {
            prefs.show_column(key, false);
        }
        // The last shown column (User) stays.
        assert_eq!(prefs.columns(), [SortKey::User]);
        assert!(!prefs.column_shown(SortKey::RecvQ));
    }

    #[test]
    fn out_of_range_intervals_are_brought_into_range() {
        for (written, loaded) in [(0, 250), (100, 250), (3000, 3000), (u64::MAX, 10_000)] {
            let disk = MemDisk {
                bytes: settings_text(&format!("(interval_ms: {written})")).into_bytes(),
                kept: Default::default(),
            };
            let prefs = load_with(Some(Path::new("/s/app.ron")), &disk).prefs;
            assert_eq!(prefs.interval_ms, loaded);
        }
    }

    /// Load `bytes` and check that the loader landed on what the file says or on defaults
    /// with a notice and a kept copy.
    fn lands_on_defaults_or_parsed(bytes: Vec<u8>) -> Result<(), TestCaseError> {
        let path = Path::new("/settings/app.ron");
        let disk = MemDisk {
            bytes,
            kept: Default::default(),
        };
        let loaded = load_with(Some(path), &disk);
        let store = loaded.store.as_ref().expect("a store");
        // What the file holds, read independently: a map of entries, and portscope's entry.
        let entries = std::str::from_utf8(&disk.bytes)
            .ok()
            .and_then(|text| ron::from_str::<BTreeMap<String, String>>(text).ok());
        let entry = entries.as_ref().and_then(|e| e.get(ENTRY));
        let expected = match entry.map(|raw| ron::from_str::<Prefs>(raw)) {
            _ if entries.is_none() => None,
            Some(Err(_)) => None,
            Some(Ok(prefs)) => Some(sane(prefs)),
            None => Some(Prefs::default()),
        };
        match expected {
            // Rejected: defaults, a notice, and the file or entry kept aside.
            None => {
                prop_assert!(loaded.notice.is_some());
                prop_assert_eq!(&loaded.prefs, &Prefs::default());
                prop_assert_eq!(disk.kept.get(), 1);
            }
            // Accepted: what the file says, quietly, nothing moved.
            Some(expected) => {
                prop_assert_eq!(&loaded.notice, &None);
                prop_assert_eq!(&loaded.prefs, &expected);
                prop_assert_eq!(disk.kept.get(), 0);
            }
        }
        prop_assert!(!store.blocked);
        Ok(())
    }

    use proptest::prelude::*;
    use proptest::test_runner::{Config, RngSeed, TestCaseError};

    fn config(cases: u32, seed: u64) -> Config {
        Config {
            cases,
            rng_seed: RngSeed::Fixed(seed),
            failure_persistence: None,
            ..Config::default()
        }
    }

    fn some_prefs() -> impl Strategy<Value = Prefs> {
        (
            proptest::collection::vec(any::<char>(), 0..24).prop_map(String::from_iter),
            any::<u64>(),
            any::<bool>(),
            any::<bool>(),
            proptest::sample::subsequence(SortKey::ALL.to_vec(), 0..=3),
            any::<usize>(),
        )
            .prop_map(
                |(filter, interval_ms, resolve_names, group_by_process, hidden_columns, max)| {
                    let mut prefs = Prefs {
                        filter,
                        interval_ms,
                        resolve_names,
                        group_by_process,
                        hidden_columns,
                        ..Prefs::default()
                    };
                    prefs.tracker.max_closed = max;
                    prefs
                },
            )
    }

    /// Delete, insert, replace a byte, or cut the text short.
    fn mutate(mut bytes: Vec<u8>, edits: &[(proptest::sample::Index, u8, u8)]) -> Vec<u8> {
        for (at, op, byte) in edits {
            let i = at.index(bytes.len() + 1);
            match op % 4 {
                0 if i < bytes.len() => {
                    bytes.remove(i);
                }
                1 => bytes.insert(i, *byte),
                2 if i < bytes.len() => bytes[i] = *byte,
                3 => bytes.truncate(i),
                _ => {}
            }
        }
        bytes
    }

    fn edits() -> impl Strategy<Value = Vec<(proptest::sample::Index, u8, u8)>> {
        proptest::collection::vec(
            (any::<proptest::sample::Index>(), any::<u8>(), any::<u8>()),
            0..6,
        )
    }

    proptest! {
        #![proptest_config(config(10_000, 0x5e77_1265))]

        #[test]
        fn arbitrary_bytes_never_panic_the_loader(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            lands_on_defaults_or_parsed(bytes)?;
        }
    }

    proptest! {
        #![proptest_config(config(5_000, 0xa11_f11e))]

        #[test]
        fn mutated_settings_files_never_panic_the_loader(prefs in some_prefs(), edits in edits()) {
            let text = Store::new(PathBuf::from("/settings/app.ron"))
                .contents(&prefs)
                .expect("serializable")
                .1;
            lands_on_defaults_or_parsed(mutate(text.into_bytes(), &edits))?;
        }
    }

    proptest! {
        #![proptest_config(config(5_000, 0xe27_7e1))]

        #[test]
        fn mutated_entries_never_panic_the_loader(prefs in some_prefs(), edits in edits()) {
            let raw = ron::to_string(&prefs).expect("serializable");
            let raw = String::from_utf8_lossy(&mutate(raw.into_bytes(), &edits)).into_owned();
            lands_on_defaults_or_parsed(settings_text(&raw).into_bytes())?;
        }
    }

    proptest! {
        #![proptest_config(config(1_000, 0x5a7e))]

        #[test]
        fn what_is_saved_loads_back(prefs in some_prefs()) {
            let path = Path::new("/settings/app.ron");
            let text = Store::new(path.to_owned()).contents(&prefs).expect("serializable").1;
            let disk = MemDisk { bytes: text.into_bytes(), kept: Default::default() };
            let loaded = load_with(Some(path), &disk);
            prop_assert_eq!(loaded.notice, None);
            prop_assert_eq!(loaded.prefs, sane(prefs));
        }
    }
}
