//! A source that always returns the same sockets: for UI and logic tests and demos.

use super::{CollectError, Poll, SocketSource};

#[derive(Clone, Debug, Default)]
pub struct FixedSource {
    poll: Poll,
}

impl FixedSource {
    pub fn new(poll: Poll) -> Self {
        FixedSource { poll }
    }
}

impl SocketSource for FixedSource {
    fn poll(&mut self) -> Result<Poll, CollectError> {
        Ok(self.poll.clone())
    }
}
