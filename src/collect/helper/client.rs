//! The window's end of the pipe to `portscope helper`: starts it, asks it to poll, and reads
//! its answers on a thread of their own, so that waiting for the helper (a password dialog
//! may stand between starting it and its first word) never holds up a poll.
//!
//! What the helper writes is read as hostile like everything else from the pipe: a bad frame
//! is an error message and the end of the helper, never a panic or a wait without end.

use std::io::{self, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, TryRecvError};
use std::thread;
use std::time::{Duration, Instant};

use super::protocol::{self, Body, FrameError, Owners, Reply, Request, VERSION};

/// How long a poll waits for the helper's answer before giving the helper up.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// Where a helper is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// Started, not yet ready (`pkexec` may be asking for a password).
    Starting,
    /// Ready, running with this effective uid.
    Active { uid: u32 },
    /// Ended, or refused: why, in a sentence.
    Gone(String),
}

/// A running helper and the pipe to it.
pub struct HelperClient {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    replies: Receiver<Result<Reply, FrameError>>,
    state: State,
}

impl HelperClient {
    /// Start `command` (`pkexec /path/to/portscope helper`, or the helper itself) with pipes
    /// to its standard input and output.
    pub fn spawn(mut command: Command) -> io::Result<Self> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("the helper has no standard output"))?;
        let (send, replies) = mpsc::channel();
        thread::Builder::new()
            .name("helper-pipe".to_owned())
            .spawn(move || {
                let mut stdout = BufReader::new(stdout);
                loop {
                    let reply = protocol::read_frame::<Reply>(&mut stdout);
                    let last = reply.as_ref().is_err_and(|e| !e.in_step());
                    if send.send(reply).is_err() || last {
                        return;
                    }
                }
            })?;
        Ok(HelperClient {
            child: Some(child),
            stdin,
            replies,
            state: State::Starting,
        })
    }

    /// Where the helper is now, from what it has said so far. Never waits.
    pub fn state(&mut self) -> &State {
        while self.state == State::Starting {
            match self.replies.try_recv() {
                Ok(reply) => self.take(reply),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => self.give_up("stopped"),
            }
        }
        &self.state
    }

    /// Wait up to `within` for the helper to be ready: what tests and scripts do.
    pub fn wait_ready(&mut self, within: Duration) -> &State {
        let deadline = Instant::now() + within;
        while self.state == State::Starting {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.replies.recv_timeout(left) {
                Ok(reply) => self.take(reply),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => self.give_up("stopped"),
            }
        }
        &self.state
    }

    /// Ask the ready helper to poll. Its answer comes from [`answer`](Self::answer), so the
    /// caller may read its own socket table meanwhile.
    pub fn ask(&mut self) -> Result<(), String> {
        if !matches!(self.state(), State::Active { .. }) {
            return Err("the helper is not ready".to_owned());
        }
        // Anything still waiting belongs to an earlier request.
        while let Ok(reply) = self.replies.try_recv() {
            if let Err(e) = reply
                && !e.in_step()
            {
                self.give_up(&e.to_string());
                return Err(self.why());
            }
        }
        let request = Request {
            v: VERSION,
            cmd: protocol::Command::Poll,
        };
        let written = match &mut self.stdin {
            Some(stdin) => protocol::write_frame(stdin, &request),
            None => Err(io::Error::from(io::ErrorKind::BrokenPipe)),
        };
        if let Err(e) = written {
            self.give_up(&format!("cannot be written to ({e})"));
            return Err(self.why());
        }
        Ok(())
    }

    /// The answer to the last [`ask`](Self::ask), waiting until `deadline` at most. A helper
    /// that does not answer in time, or answers with a bad frame, is given up.
    pub fn answer(&mut self, deadline: Instant) -> Result<Owners, String> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.replies.recv_timeout(left) {
            Ok(Ok(Reply {
                body: Body::Owners(owners),
                ..
            })) => Ok(owners),
            Ok(Ok(Reply {
                body: Body::Error { message },
                ..
            })) => Err(format!(
                "the helper could not poll: {}",
                crate::model::text::escape(&message)
            )),
            Ok(Ok(Reply {
                body: Body::Ready { .. },
                ..
            })) => {
                self.give_up("said it was ready twice");
                Err(self.why())
            }
            Ok(Err(e)) => {
                self.give_up(&e.to_string());
                Err(self.why())
            }
            Err(RecvTimeoutError::Timeout) => {
                self.give_up("did not answer in time");
                Err(self.why())
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.give_up("stopped");
                Err(self.why())
            }
        }
    }

    fn take(&mut self, reply: Result<Reply, FrameError>) {
        match reply {
            Ok(Reply {
                body: Body::Ready { uid },
                ..
            }) => self.state = State::Active { uid },
            Ok(Reply {
                body: Body::Error { message },
                ..
            }) => self.give_up(&format!("failed: {}", crate::model::text::escape(&message))),
            Ok(Reply {
                body: Body::Owners(_),
                ..
            }) => self.give_up("answered before it was ready"),
            Err(e) => self.give_up(&e.to_string()),
        }
    }

    fn why(&self) -> String {
        match &self.state {
            State::Gone(why) => why.clone(),
            _ => String::new(),
        }
    }

    /// End the helper and say why. `pkexec`'s own exit codes say whether the user declined.
    fn give_up(&mut self, what: &str) {
        if matches!(self.state, State::Gone(_)) {
            return;
        }
        self.stdin = None;
        let status = self.child.as_mut().and_then(|child| {
            // Closing its input ends a helper that still runs; give it a moment to.
            let deadline = Instant::now() + Duration::from_millis(500);
            loop {
                match child.try_wait() {
                    Ok(Some(status)) => return Some(status),
                    Ok(None) if Instant::now() < deadline => {
                        thread::sleep(Duration::from_millis(10))
                    }
                    _ => {
                        // One that does not end is ended (a root helper refuses the signal,
                        // but it stops anyway once its input is closed).
                        let _ = child.kill();
                        return None;
                    }
                }
            }
        });
        let why = match status.and_then(|s| s.code()) {
            Some(126) => "the request for administrator rights was dismissed".to_owned(),
            Some(127) => format!(
                "administrator rights were refused, or no polkit agent is running to ask for \
                 them: run '{}' in a terminal instead",
                super::AS_ROOT
            ),
            Some(code) => format!("the helper {what} (exit code {code})"),
            None => format!("the helper {what}"),
        };
        if status.is_some() {
            self.child = None;
        }
        self.state = State::Gone(why);
    }
}

impl Drop for HelperClient {
    fn drop(&mut self) {
        if let Some(stdin) = &mut self.stdin {
            let stop = Request {
                v: VERSION,
                cmd: protocol::Command::Stop,
            };
            let _ = protocol::write_frame(stdin, &stop);
        }
        self.stdin = None;
        // It ends on its own now; reap it without waiting here.
        if let Some(mut child) = self.child.take() {
            let _ = thread::Builder::new()
                .name("helper-reap".to_owned())
                .spawn(move || child.wait());
        }
    }
}
