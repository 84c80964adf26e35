//! The helper's wire format: frames of a 4-byte big-endian length and that many bytes of JSON,
//! each a versioned message (`{"v":1,…}`).
//!
//! Both ends read what the other wrote as hostile: a length over [`MAX_FRAME`] is refused
//! before anything is allocated, a frame cut short by the end of the stream is an error, and
//! JSON that is not a message of this version is an error — never a panic, never a wait for
//! bytes that will not come (a read returns at the end of the stream). After a bad length or a
//! cut frame the stream cannot be trusted to be in step, so readers stop there.

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

/// The protocol's version: both ends refuse messages of another.
pub const VERSION: u32 = 1;

/// The largest frame either end accepts: far above any socket table's owners (a machine with
/// 100,000 sockets and 10,000 processes needs a few MiB).
pub const MAX_FRAME: u32 = 64 * 1024 * 1024;

/// What the window may ask. Nothing else is ever executed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Command {
    /// Read the owners now and send them.
    Poll,
    /// Exit.
    Stop,
}

/// One frame from the window to the helper.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub v: u32,
    pub cmd: Command,
}

/// One frame from the helper to the window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub v: u32,
    #[serde(flatten)]
    pub body: Body,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Body {
    /// Sent once at start: the helper runs, with these privileges.
    Ready { uid: u32 },
    /// The answer to a poll.
    Owners(Owners),
    /// What went wrong with a request, or with reading the system.
    Error { message: String },
}

/// Who holds each socket, and the processes the window may not be able to read; and what only
/// root may read beyond that: the sockets of every other network namespace (containers), and
/// which container each process is in.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owners {
    pub sockets: Vec<Held>,
    pub processes: Vec<Process>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<NsSockets>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<(u32, crate::model::container::Container)>,
}

/// One network namespace other than the helper's own, and its sockets with their holders.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NsSockets {
    pub netns: crate::model::netns::NetNs,
    pub sockets: Vec<crate::collect::remote::stream::WireSocket>,
}

/// The processes holding one socket, named by its inode and cookie (the cookie tells a socket
/// from a later one that got the same inode number).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    pub inode: u32,
    pub cookie: u64,
    pub pids: Vec<u32>,
}

/// A process as the helper read it: what [`crate::model::ProcessInfo`] holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Process {
    pub pid: u32,
    pub name: String,
    pub exe: Option<String>,
    pub cmdline: Vec<String>,
    pub uid: Option<u32>,
    pub user: Option<String>,
    pub parent_pid: Option<u32>,
    pub start_time: Option<u64>,
}

impl From<&crate::model::ProcessInfo> for Process {
    fn from(p: &crate::model::ProcessInfo) -> Self {
        Process {
            pid: p.pid,
            name: p.name.clone(),
            exe: p.exe.clone(),
            cmdline: p.cmdline.clone(),
            uid: p.uid,
            user: p.user.clone(),
            parent_pid: p.parent_pid,
            start_time: p.start_time,
        }
    }
}

impl From<Process> for crate::model::ProcessInfo {
    fn from(p: Process) -> Self {
        crate::model::ProcessInfo {
            pid: p.pid,
            name: p.name,
            exe: p.exe,
            cmdline: p.cmdline,
            uid: p.uid,
            user: p.user,
            parent_pid: p.parent_pid,
            start_time: p.start_time,
        }
    }
}

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The stream ended between frames: the other end closed it.
    #[error("the other end closed the pipe")]
    Closed,
    #[error("a frame was cut short after {got} of {expected} bytes")]
    Truncated { got: usize, expected: usize },
    #[error("a frame of {0} bytes is larger than the {MAX_FRAME} allowed")]
    TooLarge(u32),
    #[error("a frame is not a version-{VERSION} message: {0}")]
    Malformed(String),
    #[error("cannot read the pipe: {0}")]
    Io(#[from] io::Error),
}

impl FrameError {
    /// Whether the stream may still be read after this error: only a well-framed message that
    /// did not parse leaves it in step.
    pub fn in_step(&self) -> bool {
        matches!(self, FrameError::Malformed(_))
    }
}

/// Write one message as a frame and flush it.
pub fn write_frame(out: &mut impl Write, message: &impl Serialize) -> io::Result<()> {
    let json = serde_json::to_vec(message).map_err(io::Error::other)?;
    let len = u32::try_from(json.len())
        .ok()
        .filter(|len| *len <= MAX_FRAME)
        .ok_or_else(|| io::Error::other(format!("a message of {} bytes", json.len())))?;
    out.write_all(&len.to_be_bytes())?;
    out.write_all(&json)?;
    out.flush()
}

/// Read one frame and parse it as a `T` of this protocol's version.
pub fn read_frame<T: for<'de> Deserialize<'de> + Versioned>(
    input: &mut impl Read,
) -> Result<T, FrameError> {
    parse_versioned(&read_body(input)?, VERSION)
}

/// Read one frame's bytes: its length, then that many bytes. Shared by every framed stream of
/// portscope (the helper's pipe, `serve --stdio`).
pub fn read_body(input: &mut impl Read) -> Result<Vec<u8>, FrameError> {
    let mut len = [0u8; 4];
    let got = read_full(input, &mut len)?;
    if got == 0 {
        return Err(FrameError::Closed);
    }
    if got < len.len() {
        return Err(FrameError::Truncated { got, expected: 4 });
    }
    let len = u32::from_be_bytes(len);
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    let expected = len as usize;
    let mut body = Vec::new();
    let got = input.take(u64::from(len)).read_to_end(&mut body)?;
    if got < expected {
        return Err(FrameError::Truncated { got, expected });
    }
    Ok(body)
}

/// A frame's bytes as a `T`, when they are a message of `version`.
pub fn parse_versioned<T: for<'de> Deserialize<'de>>(
    body: &[u8],
    version: u32,
) -> Result<T, FrameError> {
    // Only the version first: a message of another version need not parse as this one's.
    #[derive(Deserialize)]
    struct Version {
        v: u32,
    }
    let found: Version = parse_json(body)?;
    check_version(found.v, version)?;
    parse_json(body)
}

/// A message's bytes parsed as `T`; what does not parse is a malformed frame.
pub fn parse_json<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, FrameError> {
    serde_json::from_slice(body).map_err(|e| FrameError::Malformed(e.to_string()))
}

/// Whether a message's version `found` is the one this side speaks.
pub fn check_version(found: u32, version: u32) -> Result<(), FrameError> {
    if found == version {
        Ok(())
    } else {
        Err(FrameError::Malformed(format!(
            "version {found} (this portscope speaks {version})"
        )))
    }
}

/// Messages that carry the protocol's version.
pub trait Versioned {}
impl Versioned for Request {}
impl Versioned for Reply {}

/// Read until `buf` is full or the stream ends; how many bytes were read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(body: &[u8]) -> Vec<u8> {
        let mut out = (body.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn a_reply_goes_through_a_frame_unchanged() {
        let reply = Reply {
            v: VERSION,
            body: Body::Owners(Owners {
                sockets: vec![Held {
                    inode: 7,
                    cookie: 9,
                    pids: vec![1, 2],
                }],
                processes: vec![],
                namespaces: vec![NsSockets {
                    netns: crate::model::netns::NetNs {
                        inode: 4026532200,
                        name: Some("blue".to_owned()),
                        ..Default::default()
                    },
                    sockets: vec![],
                }],
                containers: vec![(
                    3,
                    crate::model::container::Container {
                        runtime: "Docker".to_owned(),
                        id: "ab".repeat(32),
                        name: Some("web".to_owned()),
                        image: None,
                    },
                )],
            }),
        };
        let mut wire = Vec::new();
        write_frame(&mut wire, &reply).unwrap();
        assert_eq!(&wire[..4], &((wire.len() - 4) as u32).to_be_bytes());
        assert_eq!(read_frame::<Reply>(&mut wire.as_slice()).unwrap(), reply);
    }

    #[test]
    fn requests_are_poll_and_stop_only() {
        let poll = framed(br#"{"v":1,"cmd":"poll"}"#);
        assert_eq!(
            read_frame::<Request>(&mut poll.as_slice()).unwrap().cmd,
            Command::Poll
        );
        for body in [
            &br#"{"v":1,"cmd":"exec"}"#[..],
            br#"{"v":1,"cmd":"poll","path":"/etc/shadow"}"#,
            br#"{"v":2,"cmd":"poll"}"#,
            b"poll",
        ] {
            let err = read_frame::<Request>(&mut framed(body).as_slice()).unwrap_err();
            assert!(matches!(err, FrameError::Malformed(_)), "{err:?}");
            assert!(err.in_step());
        }
    }

    #[test]
    fn bad_lengths_and_cut_frames_are_errors() {
        let huge = (MAX_FRAME + 1).to_be_bytes();
        assert!(matches!(
            read_frame::<Reply>(&mut &huge[..]),
            Err(FrameError::TooLarge(n)) if n == MAX_FRAME + 1
        ));
        let cut = &framed(br#"{"v":1,"kind":"ready","uid":0}"#)[..10];
        assert!(matches!(
            read_frame::<Reply>(&mut &cut[..]),
            Err(FrameError::Truncated { got: 6, .. })
        ));
        assert!(matches!(
            read_frame::<Reply>(&mut &[0u8, 0][..]),
            Err(FrameError::Truncated {
                got: 2,
                expected: 4
            })
        ));
        assert!(matches!(
            read_frame::<Reply>(&mut &[][..]),
            Err(FrameError::Closed)
        ));
    }
}
