//! `portscope serve --stdio`: the far end of a host over SSH. It polls this machine like the
//! window does and writes the [stream](super::stream) to its standard output: hello, one whole
//! table, then a delta per poll (an empty one, a heartbeat, when nothing changed or polling
//! is paused). Control frames are read from standard input on a thread of their own, so a
//! poll never waits for the reader and the reader never waits for a poll.
//!
//! It exits 0 when its input closes (the SSH connection is gone) or on `stop`, and when its
//! output is closed. It takes no command but these controls, and writes no files.

use std::io::{self, Read, Write};
use std::process::ExitCode;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use super::stream::{self, Body, Control, Encoder, Hello, Range, Table};
use crate::collect::helper::protocol::FrameError;
use crate::collect::{OsSource, SocketSource};

/// The default time between polls.
pub const INTERVAL: Duration = Duration::from_secs(1);
/// The intervals a reader may ask for.
pub const INTERVALS: std::ops::RangeInclusive<Duration> =
    Duration::from_millis(100)..=Duration::from_secs(60);

/// Serve this machine on standard input and output.
pub fn run(interval: Duration) -> ExitCode {
    let source = match OsSource::new() {
        Ok(source) => source,
        Err(e) => {
            let stdout = io::stdout();
            let _ = stream::write_message(
                &mut stdout.lock(),
                Body::Error {
                    message: e.to_string(),
                },
            );
            return ExitCode::from(2);
        }
    };
    run_on(source, interval)
}

/// Serve `source` on standard input and output (made-up tables, for measuring readers).
pub fn run_on<S: SocketSource>(source: S, interval: Duration) -> ExitCode {
    let stdout = io::stdout();
    serve(io::stdin(), &mut stdout.lock(), source, interval)
}

/// This machine's facts.
pub fn hello(range: &crate::knowledge::EphemeralRange) -> Hello {
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .map(|t| t.trim().to_owned())
            .unwrap_or_default()
    };
    Hello {
        hostname: read("/proc/sys/kernel/hostname"),
        kernel: read("/proc/sys/kernel/osrelease"),
        os: std::env::consts::OS.to_owned(),
        ephemeral: range.into(),
        portscope: env!("CARGO_PKG_VERSION").to_owned(),
    }
}

/// Stream `source` on `output`, taking controls from `input`, until either end closes.
pub fn serve<S: SocketSource>(
    input: impl Read + Send + 'static,
    output: &mut impl Write,
    mut source: S,
    interval: Duration,
) -> ExitCode {
    let (send, controls) = mpsc::channel();
    let reader = thread::Builder::new()
        .name("serve-controls".to_owned())
        .spawn(move || read_controls(input, &send));
    if reader.is_err() {
        return ExitCode::from(2);
    }
    let mut interval = interval.clamp(*INTERVALS.start(), *INTERVALS.end());
    let range = source.ephemeral_range();
    if stream::write_message(output, Body::Hello(hello(&range))).is_err() {
        return ExitCode::SUCCESS;
    }
    let mut encoder = Encoder::default();
    let mut paused = false;
    let mut due = Instant::now();
    loop {
        let now = Instant::now();
        if now >= due {
            let body = if paused {
                encoder.heartbeat()
            } else {
                match source.poll() {
                    Ok(poll) => {
                        let range = Range::from(&source.ephemeral_range());
                        encoder.encode(Table::from_poll(poll, Some(range)))
                    }
                    Err(e) => Body::Error {
                        message: e.to_string(),
                    },
                }
            };
            if stream::write_message(output, body).is_err() {
                // Nobody reads any more.
                return ExitCode::SUCCESS;
            }
            due = Instant::now() + interval;
            continue;
        }
        match controls.recv_timeout(due - now) {
            Ok(Ok(Control::Interval { ms })) => {
                interval = Duration::from_millis(ms).clamp(*INTERVALS.start(), *INTERVALS.end());
                due = due.min(Instant::now() + interval);
            }
            Ok(Ok(Control::Refresh)) => {
                encoder.reset();
                due = Instant::now();
            }
            Ok(Ok(Control::Pause)) => paused = true,
            Ok(Ok(Control::Resume)) => {
                paused = false;
                due = Instant::now();
            }
            Ok(Ok(Control::Stop)) | Err(RecvTimeoutError::Disconnected) => {
                return ExitCode::SUCCESS;
            }
            Ok(Err(refused)) => {
                let message = format!("control refused: {refused}");
                if stream::write_message(output, Body::Error { message }).is_err() {
                    return ExitCode::SUCCESS;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
}

/// Hand each control frame over until the input ends or falls out of step; frames that are
/// not controls of this version are handed over as refusals.
fn read_controls(mut input: impl Read, send: &mpsc::Sender<Result<Control, String>>) {
    loop {
        let control = match stream::read_message(&mut input) {
            Ok(Body::Control(control)) => Ok(control),
            Ok(_) => Err("not a control".to_owned()),
            Err(FrameError::Closed) => return,
            Err(e) if e.in_step() => Err(e.to_string()),
            Err(_) => return,
        };
        if send.send(control).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::{FixedSource, Poll};
    use crate::model::{Proto, SockState, Socket};
    use std::net::{IpAddr, Ipv4Addr};

    fn frames(controls: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for body in controls {
            out.extend_from_slice(&(body.len() as u32).to_be_bytes());
            out.extend_from_slice(body);
        }
        out
    }

    fn bodies(mut wire: &[u8]) -> Vec<Body> {
        let mut out = Vec::new();
        loop {
            match stream::read_message(&mut wire) {
                Ok(body) => out.push(body),
                Err(FrameError::Closed) => return out,
                Err(e) => panic!("serve wrote a bad frame: {e}"),
            }
        }
    }

    fn one_listener() -> Poll {
        Poll {
            sockets: vec![Socket {
                host: 0,
                proto: Proto::Tcp,
                local_addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
                local_port: 8080,
                remote_addr: None,
                remote_port: None,
                state: SockState::Listen,
                pids: Default::default(),
                uid: None,
                inode: Some(7),
                cookie: 9,
                recv_q: 0,
                send_q: 0,
                netns: 0,
            }],
            ..Poll::default()
        }
    }

    /// A reader whose input stays open until `hold` is dropped, then closes.
    struct Held(mpsc::Receiver<()>, Vec<u8>, usize);

    impl Read for Held {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.2 < self.1.len() {
                let n = buf.len().min(self.1.len() - self.2);
                buf[..n].copy_from_slice(&self.1[self.2..self.2 + n]);
                self.2 += n;
                return Ok(n);
            }
            let _ = self.0.recv();
            Ok(0)
        }
    }

    #[test]
    fn hello_then_a_whole_table_then_heartbeats_until_stop() {
        let mut output = Vec::new();
        // Stop at once: hello and the first table are written before any control is read.
        let input = frames(&[br#"{"v":1,"kind":"control","cmd":"stop"}"#]);
        let code = serve(
            io::Cursor::new(input),
            &mut output,
            FixedSource::new(one_listener()),
            Duration::from_millis(100),
        );
        assert_eq!(code, ExitCode::SUCCESS);
        let got = bodies(&output);
        assert!(matches!(&got[0], Body::Hello(h) if h.portscope == env!("CARGO_PKG_VERSION")));
        assert!(matches!(&got[1], Body::Full(f) if f.sockets.len() == 1 && f.seq == 1));
        // A heartbeat when a poll changes nothing, before the stop is read or after.
        assert!(
            got[2..]
                .iter()
                .all(|b| matches!(b, Body::Delta(d) if d.is_empty()))
        );
    }

    #[test]
    fn polls_until_the_input_closes_and_refuses_what_is_not_a_control() {
        let (hold, released) = mpsc::channel();
        let input = Held(
            released,
            frames(&[
                br#"{"v":1,"kind":"control","cmd":"interval","ms":100}"#,
                br#"{"v":1,"kind":"control","cmd":"exec","path":"/bin/sh"}"#,
            ]),
            0,
        );
        let (done, finished) = mpsc::channel();
        thread::spawn(move || {
            let mut output = Vec::new();
            let code = serve(
                input,
                &mut output,
                FixedSource::new(one_listener()),
                INTERVAL,
            );
            let _ = done.send((code, output));
        });
        // Still serving while the input is open...
        assert!(finished.recv_timeout(Duration::from_millis(300)).is_err());
        drop(hold);
        // ... and done once it closes.
        let (code, output) = finished
            .recv_timeout(Duration::from_secs(10))
            .expect("serve ends when its input closes");
        assert_eq!(code, ExitCode::SUCCESS);
        let got = bodies(&output);
        assert!(
            got.iter()
                .any(|b| matches!(b, Body::Error { message } if message.contains("refused")))
        );
        // At 100 ms, 300 ms hold several polls: the interval control was taken.
        assert!(got.len() >= 4, "{got:?}");
    }

    #[test]
    fn a_closed_output_ends_it() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let (_hold, released) = mpsc::channel();
        let code = serve(
            Held(released, Vec::new(), 0),
            &mut Closed,
            FixedSource::new(one_listener()),
            INTERVAL,
        );
        assert_eq!(code, ExitCode::SUCCESS);
    }
}
