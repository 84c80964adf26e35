//! Other machines' sockets, over SSH.
//!
//! portscope reaches a host the way its administrator does: with the system's `ssh` (keys,
//! agent, `~/.ssh/config`, jump hosts, known_hosts), running `portscope serve --stdio` there
//! ([`serve`]), which streams its table as framed, versioned JSON ([`stream`]): one whole
//! table, then only the changes of each poll. [`RemoteSource`] ([`ssh`]) reads one host
//! behind the same [`SocketSource`](crate::collect::SocketSource) as this machine; where
//! portscope is not installed it reads `ss` over the same connection instead ([`fallback`]).

pub mod fallback;
pub mod serve;
pub mod ssh;
pub mod stream;

pub use ssh::{HostError, HostStatus, Mode, RemoteSource, Ssh, StatusHandle, Timeouts};
