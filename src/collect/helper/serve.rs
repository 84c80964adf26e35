//! `portscope helper`: the privileged side. Started as root by the window (through `pkexec`),
//! it reads what only root may read — which processes hold each socket, and those processes'
//! executables and command lines — and answers the window's polls on its standard output.
//!
//! It takes no arguments and no other commands than `poll` and `stop`; anything else gets an
//! error frame and is never acted on. It writes no files. It exits when its standard input
//! closes, when asked to stop, when the stream from the window falls out of step, or when the
//! process that started it dies (the kernel's parent-death signal, checked at start too).

use std::io::{self, Read, Write};
use std::process::ExitCode;

use super::protocol::{
    Body, Command, FrameError, Held, NsSockets, Owners, Reply, Request, VERSION, read_frame,
    write_frame,
};
use crate::collect::{OsSource, Poll, SocketSource};

/// Run the helper on this process's standard input and output.
pub fn run() -> ExitCode {
    if !die_with_parent() {
        return ExitCode::from(2);
    }
    let stdin = io::stdin();
    let stdout = io::stdout();
    serve(
        &mut stdin.lock(),
        &mut stdout.lock(),
        OsSource::all_namespaces,
    )
}

/// Answer requests from `input` on `output` with polls of the source `open` gives.
pub fn serve<S: SocketSource>(
    input: &mut impl Read,
    output: &mut impl Write,
    open: impl FnOnce() -> Result<S, crate::collect::CollectError>,
) -> ExitCode {
    let mut source = match open() {
        Ok(source) => source,
        Err(e) => {
            let _ = send(output, error(e.to_string()));
            return ExitCode::from(2);
        }
    };
    // SAFETY: geteuid only reads the process's credentials.
    let uid = unsafe { libc::geteuid() };
    if send(output, Body::Ready { uid }).is_err() {
        return ExitCode::from(2);
    }
    loop {
        let body = match read_frame::<Request>(input) {
            Ok(Request {
                cmd: Command::Poll, ..
            }) => match source.poll() {
                Ok(poll) => Body::Owners(owners(&poll)),
                Err(e) => error(e.to_string()),
            },
            Ok(Request {
                cmd: Command::Stop, ..
            })
            | Err(FrameError::Closed) => return ExitCode::SUCCESS,
            Err(e) if e.in_step() => error(format!("request refused: {e}")),
            Err(e) => {
                let _ = send(output, error(format!("stopping: {e}")));
                return ExitCode::from(2);
            }
        };
        if send(output, body).is_err() {
            // The window is gone.
            return ExitCode::SUCCESS;
        }
    }
}

/// What the window needs from a poll: who holds each socket that has a file, and those
/// processes.
pub fn owners(poll: &Poll) -> Owners {
    let sockets: Vec<Held> = poll
        .sockets
        .iter()
        .filter(|s| !s.pids.is_empty())
        .filter_map(|s| {
            Some(Held {
                inode: s.inode.filter(|inode| *inode != 0)?,
                cookie: s.cookie,
                pids: s.pids.to_vec(),
            })
        })
        .collect();
    let processes = poll.processes.values().map(Into::into).collect();
    let namespaces = poll
        .namespaces
        .values()
        .filter(|ns| !ns.own)
        .map(|ns| NsSockets {
            netns: ns.clone(),
            sockets: poll
                .sockets
                .iter()
                .filter(|s| s.netns == ns.inode)
                .map(Into::into)
                .collect(),
        })
        .collect();
    let containers = poll
        .containers
        .iter()
        .map(|(pid, c)| (*pid, c.clone()))
        .collect();
    Owners {
        sockets,
        processes,
        namespaces,
        containers,
    }
}

fn error(message: String) -> Body {
    Body::Error { message }
}

fn send(output: &mut impl Write, body: Body) -> io::Result<()> {
    write_frame(output, &Reply { v: VERSION, body })
}

/// Ask the kernel to end this process when the one that started it ends; false when that one
/// has already ended (this process was handed to init) or the kernel refused.
#[cfg(target_os = "linux")]
fn die_with_parent() -> bool {
    // SAFETY: getppid and prctl(PR_SET_PDEATHSIG) only read and set this process's own state.
    unsafe {
        let parent = libc::getppid();
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
            eprintln!(
                "portscope helper: cannot ask to end with its parent: {}",
                io::Error::last_os_error()
            );
            return false;
        }
        // The parent may have died before the request: then the parent is another process.
        parent != 1 && libc::getppid() == parent
    }
}

/// Elsewhere no death signal: the helper ends when its input closes.
#[cfg(not(target_os = "linux"))]
fn die_with_parent() -> bool {
    // SAFETY: getppid only reads this process's own state.
    unsafe { libc::getppid() != 1 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::FixedSource;
    use crate::collect::helper::protocol::MAX_FRAME;

    fn frames(requests: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for body in requests {
            out.extend_from_slice(&(body.len() as u32).to_be_bytes());
            out.extend_from_slice(body);
        }
        out
    }

    fn replies(mut wire: &[u8]) -> Vec<Body> {
        let mut out = Vec::new();
        loop {
            match read_frame::<Reply>(&mut wire) {
                Ok(reply) => out.push(reply.body),
                Err(FrameError::Closed) => return out,
                Err(e) => panic!("the helper wrote a bad frame: {e}"),
            }
        }
    }

    fn run_on(input: &[u8]) -> (ExitCode, Vec<Body>) {
        let mut output = Vec::new();
        let code = serve(&mut &input[..], &mut output, || {
            Ok(FixedSource::new(crate::collect::Poll::default()))
        });
        (code, replies(&output))
    }

    #[test]
    fn garbage_gets_an_error_and_the_next_poll_an_answer() {
        let (code, bodies) = run_on(&frames(&[
            b"rm -rf /",
            br#"{"v":1,"cmd":"exec"}"#,
            br#"{"v":1,"cmd":"poll"}"#,
        ]));
        assert_eq!(code, ExitCode::SUCCESS);
        assert!(matches!(bodies[0], Body::Ready { .. }));
        assert!(matches!(&bodies[1], Body::Error { message } if message.contains("refused")));
        assert!(matches!(&bodies[2], Body::Error { message } if message.contains("refused")));
        assert!(matches!(bodies[3], Body::Owners(_)));
        assert_eq!(bodies.len(), 4);
    }

    #[test]
    fn an_oversized_length_or_a_cut_frame_stops_it_with_an_error() {
        let mut huge = (MAX_FRAME + 1).to_be_bytes().to_vec();
        huge.extend_from_slice(&frames(&[br#"{"v":1,"cmd":"poll"}"#]));
        let mut cut = frames(&[br#"{"v":1,"cmd":"poll"}"#]);
        cut.truncate(9);
        for input in [huge, cut] {
            let (code, bodies) = run_on(&input);
            assert_eq!(code, ExitCode::from(2));
            assert_eq!(bodies.len(), 2, "{bodies:?}");
            assert!(matches!(&bodies[1], Body::Error { message } if message.contains("stopping")));
        }
    }

    #[test]
    fn stop_ends_it_before_later_requests() {
        let (code, bodies) = run_on(&frames(&[
            br#"{"v":1,"cmd":"stop"}"#,
            br#"{"v":1,"cmd":"poll"}"#,
        ]));
        assert_eq!(code, ExitCode::SUCCESS);
        assert_eq!(bodies.len(), 1);
    }
}
