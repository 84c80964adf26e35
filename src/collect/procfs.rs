//! `/proc/PID/stat`, read once the same way for everything that needs it (Linux): the owner
//! cache (parents, start times), the process details (name changes) and signals (is it still
//! the process the user chose?).
//!
//! The file is bytes, not text: field 2 is the process's name (`comm`), which its process sets
//! to whatever it likes (`prctl(PR_SET_NAME)`), including invalid UTF-8, spaces, newlines and
//! parentheses. So the name runs from the first `(` to the *last* `)`, and the other fields are
//! counted from there.

use std::fs;
use std::io;

/// The fields of `/proc/PID/stat` that portscope uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stat {
    /// Field 2, the name, as the kernel has it: at most 15 bytes, not necessarily UTF-8.
    pub comm: Vec<u8>,
    /// Field 3: `R`, `S`, `Z` (zombie), `X` (dead), …
    pub state: u8,
    /// Field 4; `None` for 0 (no parent).
    pub parent: Option<u32>,
    /// Field 22: clock ticks from boot to the process's start. With the PID, it names one
    /// process for good.
    pub start_ticks: u64,
}

impl Stat {
    /// The name as text, invalid UTF-8 replaced as sysinfo does.
    pub fn name(&self) -> String {
        String::from_utf8_lossy(&self.comm).into_owned()
    }

    pub fn is_zombie(&self) -> bool {
        matches!(self.state, b'Z' | b'X')
    }
}

/// Reads process `pid`'s stat: `Ok(None)` when it has gone (or went while the file was read).
pub fn read_stat(pid: u32) -> io::Result<Option<Stat>> {
    let text = match fs::read(format!("/proc/{pid}/stat")) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ESRCH) => {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    // A process that exits while its file is read leaves an empty one.
    if text.is_empty() {
        return Ok(None);
    }
    parse_stat(&text).map(Some).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unexpected contents in /proc/{pid}/stat"),
        )
    })
}

/// Parses the contents of `/proc/PID/stat`.
pub fn parse_stat(text: &[u8]) -> Option<Stat> {
    let open = text.iter().position(|&b| b == b'(')?;
    let close = text.iter().rposition(|&b| b == b')')?;
    let comm = text.get(open + 1..close)?.to_vec();
    let mut fields = text
        .get(close + 1..)?
        .split(u8::is_ascii_whitespace)
        .filter(|field| !field.is_empty());
    // Fields from 3 on: the state, then the parent (4); the start time is field 22.
    let state = *fields.next()?.first()?;
    let parent = number(fields.next()?).filter(|ppid| *ppid != 0);
    let start_ticks = number(fields.nth(17)?)?;
    Some(Stat {
        comm,
        state,
        parent: parent.and_then(|p| u32::try_from(p).ok()),
        start_ticks,
    })
}

fn number(field: &[u8]) -> Option<u64> {
    std::str::from_utf8(field).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_counted_after_the_last_parenthesis() {
        let text = b"4242 (a (weird) name) S 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 \
                     987654 1000000 100 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        let stat = parse_stat(text).unwrap();
        assert_eq!(stat.comm, b"a (weird) name");
        assert_eq!(
            (stat.state, stat.parent, stat.start_ticks),
            (b'S', Some(17), 987_654)
        );
        let init = b"1 (init) S 0 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0";
        let stat = parse_stat(init).unwrap();
        assert_eq!((stat.parent, stat.start_ticks), (None, 5));
        assert_eq!(parse_stat(b"12 (cut short) S 1 2"), None);
        assert_eq!(parse_stat(b"garbage"), None);
        assert_eq!(parse_stat(b""), None);
    }

    #[test]
    fn a_name_that_is_not_text_keeps_its_parent_and_start_time() {
        let mut text = b"77 (bad\xff\xfe) x\n) Z 5 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 ".to_vec();
        text.extend_from_slice(b"123 0 0");
        let stat = parse_stat(&text).unwrap();
        assert_eq!(stat.comm, b"bad\xff\xfe) x\n");
        assert_eq!((stat.parent, stat.start_ticks), (Some(5), 123));
        assert!(stat.is_zombie());
        assert_eq!(stat.name(), "bad\u{fffd}\u{fffd}) x\n");
    }

    #[test]
    fn this_process_reads_as_itself() {
        let stat = read_stat(std::process::id()).unwrap().unwrap();
        assert_eq!(stat.parent, Some(std::os::unix::process::parent_id()));
        assert!(!stat.is_zombie());
        assert_eq!(read_stat(u32::MAX).unwrap(), None);
    }
}
