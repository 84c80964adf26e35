//! Writing a file whole or not at all.
//!
//! Opening the target and truncating it loses the old contents the moment a write fails (a full
//! disk, a crash), and follows a symbolic link to whatever it points at — as root, any file on
//! the system. Instead the new contents go to a temporary file in the same folder, are flushed
//! to the disk, and the temporary file is renamed over the target. A rename replaces the name
//! itself: a symbolic link at the target is replaced by the new file and what it pointed to is
//! left alone. Until the rename the old file is untouched; a failure removes the temporary file.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// What is at a path before it is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Existing {
    Nothing,
    File,
    /// A symbolic link, with what it points to (it is replaced, never followed).
    Symlink(PathBuf),
    Folder,
    /// A device, socket or pipe: never replaced.
    Special,
}

impl Existing {
    /// Look at `path` without following a link there.
    pub fn at(path: &Path) -> io::Result<Existing> {
        let meta = match std::fs::symlink_metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Existing::Nothing),
            Err(e) => return Err(e),
        };
        let kind = meta.file_type();
        Ok(if kind.is_symlink() {
            Existing::Symlink(std::fs::read_link(path).unwrap_or_default())
        } else if kind.is_dir() {
            Existing::Folder
        } else if kind.is_file() {
            Existing::File
        } else {
            Existing::Special
        })
    }
}

/// Why a file was not written. In every case the file that was there is unchanged.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Something is there and replacing was not asked for.
    #[error("it already exists")]
    Exists(Existing),
    #[error("it is a folder")]
    Folder,
    #[error("it is a device, socket or pipe, not a file")]
    Special,
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Write `path` with what `fill` produces, whole or not at all. Without `replace`, an existing
/// file or link is left alone and reported as [`WriteError::Exists`], also one that appears
/// while writing. With it, a file or link is replaced (a link by the new file, never what it
/// points to); a folder or a device never is. A replaced file keeps its permissions, and its
/// owner when run as root.
pub fn write_atomic(
    path: &Path,
    replace: bool,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), WriteError> {
    let existing = Existing::at(path)?;
    match &existing {
        Existing::Folder => return Err(WriteError::Folder),
        Existing::Special => return Err(WriteError::Special),
        Existing::Nothing => {}
        Existing::File | Existing::Symlink(_) if !replace => {
            return Err(WriteError::Exists(existing));
        }
        Existing::File | Existing::Symlink(_) => {}
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    if existing == Existing::File {
        keep_permissions(path, temp.as_file())?;
    }
    let mut out = BufWriter::new(temp);
    fill(&mut out)?;
    let temp = out.into_inner().map_err(io::IntoInnerError::into_error)?;
    temp.as_file().sync_all()?;
    let persisted = if replace {
        temp.persist(path)
    } else {
        temp.persist_noclobber(path)
    };
    if let Err(e) = persisted {
        // Dropping the returned temporary file removes it.
        return Err(match e.error.kind() {
            io::ErrorKind::AlreadyExists => WriteError::Exists(Existing::at(path)?),
            io::ErrorKind::IsADirectory => WriteError::Folder,
            _ => WriteError::Io(e.error),
        });
    }
    // The rename is only durable once the folder is; some filesystems cannot sync a folder,
    // and the file is in place either way.
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Give the new file the replaced one's permissions and, as root, its owner: replacing a
/// user's file under `sudo` must not hand it to root.
fn keep_permissions(old: &Path, new: &File) -> io::Result<()> {
    let meta = std::fs::metadata(old)?;
    new.set_permissions(meta.permissions())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } == 0 {
            std::os::unix::fs::fchown(new, Some(meta.uid()), Some(meta.gid()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap()
    }

    fn put(text: &str) -> impl FnOnce(&mut dyn Write) -> io::Result<()> + '_ {
        move |out| out.write_all(text.as_bytes())
    }

    /// Names in the folder other than `keep`: leftover temporary files.
    fn others(dir: &Path, keep: &[&str]) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !keep.contains(&n.as_str()))
            .collect()
    }

    #[test]
    fn creates_a_new_file_and_refuses_to_replace_unless_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        write_atomic(&path, false, put("one")).unwrap();
        assert_eq!(read(&path), "one");
        let again = write_atomic(&path, false, put("two"));
        assert!(
            matches!(again, Err(WriteError::Exists(Existing::File))),
            "{again:?}"
        );
        assert_eq!(read(&path), "one");
        write_atomic(&path, true, put("two")).unwrap();
        assert_eq!(read(&path), "two");
        assert_eq!(others(dir.path(), &["out.csv"]), Vec::<String>::new());
    }

    #[test]
    fn a_symlink_is_replaced_and_its_target_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("precious");
        std::fs::write(&target, "do not touch").unwrap();
        let link = dir.path().join("out.csv");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let asked = write_atomic(&link, false, put("new"));
        assert!(
            matches!(&asked, Err(WriteError::Exists(Existing::Symlink(t))) if *t == target),
            "{asked:?}"
        );
        write_atomic(&link, true, put("new")).unwrap();
        assert_eq!(read(&target), "do not touch");
        assert!(!std::fs::symlink_metadata(&link).unwrap().is_symlink());
        assert_eq!(read(&link), "new");
    }

    #[test]
    fn a_dangling_symlink_is_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("would-be-created");
        let link = dir.path().join("out.csv");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        write_atomic(&link, true, put("new")).unwrap();
        assert!(!target.exists());
        assert_eq!(read(&link), "new");
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        std::fs::write(&path, "old contents").unwrap();
        let failed = write_atomic(&path, true, |out| {
            out.write_all(b"half of the new")?;
            Err(io::Error::other("disk on fire"))
        });
        assert!(
            matches!(&failed, Err(WriteError::Io(e)) if e.to_string() == "disk on fire"),
            "{failed:?}"
        );
        assert_eq!(read(&path), "old contents");
        assert_eq!(others(dir.path(), &["out.csv"]), Vec::<String>::new());
    }

    #[test]
    fn a_folder_or_a_device_is_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("out.csv");
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join("inside"), "kept").unwrap();
        let failed = write_atomic(&folder, true, put("new"));
        assert!(matches!(failed, Err(WriteError::Folder)), "{failed:?}");
        assert_eq!(read(&folder.join("inside")), "kept");
        let failed = write_atomic(Path::new("/dev/null"), true, put("new"));
        assert!(matches!(failed, Err(WriteError::Special)), "{failed:?}");
        assert!(
            !std::fs::metadata("/dev/null").unwrap().is_file(),
            "/dev/null is still the device"
        );
    }

    #[test]
    fn a_missing_or_unusable_folder_is_an_error_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-folder").join("out.csv");
        let failed = write_atomic(&missing, false, put("new"));
        assert!(matches!(failed, Err(WriteError::Io(_))), "{failed:?}");
        let file = dir.path().join("a-file");
        std::fs::write(&file, "plain").unwrap();
        let failed = write_atomic(&file.join("out.csv"), false, put("new"));
        assert!(matches!(failed, Err(WriteError::Io(_))), "{failed:?}");
        assert_eq!(read(&file), "plain");
        assert_eq!(others(dir.path(), &["a-file"]), Vec::<String>::new());
    }

    #[test]
    fn a_replaced_file_keeps_its_permissions_and_owner() {
        use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        // As root, hand the file to another user first: replacing must give it back to them.
        let root = unsafe { libc::geteuid() } == 0;
        if root {
            std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
        }
        let before = std::fs::metadata(&path).unwrap();
        write_atomic(&path, true, put("new")).unwrap();
        let after = std::fs::metadata(&path).unwrap();
        assert_ne!(before.ino(), after.ino(), "a new file took the name");
        assert_eq!(after.permissions().mode() & 0o7777, 0o640);
        assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
    }
}
