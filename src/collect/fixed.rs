//! A source that always returns the same sockets: for UI and logic tests and demos.

use super::{CollectError, Poll, SocketSource};
use crate::knowledge::EphemeralRange;

#[derive(Clone, Debug)]
pub struct FixedSource {
    poll: Poll,
    ephemeral: EphemeralRange,
}

impl Default for FixedSource {
    fn default() -> Self {
        FixedSource::new(Poll::default())
    }
}

impl FixedSource {
    /// A source with Linux's default ephemeral range, 32768–60999.
    pub fn new(poll: Poll) -> Self {
        FixedSource {
            poll,
            ephemeral: EphemeralRange::from_linux_sysctl(
                Ok("32768\t60999\n".to_owned()),
                Ok(String::new()),
            ),
        }
    }

    pub fn with_ephemeral(mut self, ephemeral: EphemeralRange) -> Self {
        self.ephemeral = ephemeral;
        self
    }
}

impl SocketSource for FixedSource {
    fn poll(&mut self) -> Result<Poll, CollectError> {
        Ok(self.poll.clone())
    }

    fn ephemeral_range(&mut self) -> EphemeralRange {
        self.ephemeral.clone()
    }
}
