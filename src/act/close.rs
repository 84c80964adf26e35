//! Closing one TCP connection or listener, as TCPView's *Close connection* and `ss -K` do.
//!
//! On Linux the kernel destroys a socket on request (`SOCK_DESTROY` over sock_diag netlink):
//! an established connection is reset — its process gets `ECONNABORTED`, the peer
//! `ECONNRESET` — and a listener stops listening, which frees its port. The request names the
//! socket by its addresses, ports *and* cookie, so a connection that closed and whose address
//! pair was taken by a new one is never hit.
//!
//! The kernel answers some refusals with success, so after every request the socket table is
//! read again: only a socket that is no longer there counts as closed. Destroying needs
//! `CAP_NET_ADMIN`; without it the error carries the `ss` command that does the same with
//! `sudo`, for that one socket.

use std::fmt;
use std::io;

use crate::model::{Proto, SockState, Socket};

/// Why a socket was not closed.
#[derive(Debug)]
pub enum CloseError {
    /// Only TCP sockets can be closed this way (a UDP socket stays bound).
    NotTcp,
    /// TIME_WAIT and connection requests are the kernel's own; they go by themselves.
    NotClosable(SockState),
    /// The kernel does not let this user destroy sockets (no `CAP_NET_ADMIN`). `command` does
    /// the same as root.
    NotPermitted {
        command: String,
    },
    /// The socket was already gone when asked (or the kernel did not know it).
    Gone,
    /// The kernel answered, yet the socket is still there.
    StillThere,
    /// This system has no way to close another process's socket.
    Unsupported,
    Os(io::Error),
}

impl fmt::Display for CloseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseError::NotTcp => f.write_str(
                "only TCP connections and listeners can be closed; a UDP socket stays bound until \
                 its process closes it",
            ),
            CloseError::NotClosable(state) => write!(
                f,
                "a socket in {state} belongs to the kernel, which ends it by itself"
            ),
            CloseError::NotPermitted { command } => write!(
                f,
                "closing another process's connection needs root (CAP_NET_ADMIN); as root, \
                 this does the same: {command}"
            ),
            CloseError::Gone => f.write_str("the connection was already gone"),
            CloseError::StillThere => {
                f.write_str("the kernel accepted the request, but the connection is still there")
            }
            CloseError::Unsupported => {
                f.write_str("closing a connection is supported on Linux only")
            }
            CloseError::Os(e) => write!(f, "the kernel refused: {e}"),
        }
    }
}

impl std::error::Error for CloseError {}

/// Whether `socket` is something [`close`] can close.
pub fn closable(socket: &Socket) -> Result<(), CloseError> {
    if socket.proto != Proto::Tcp {
        return Err(CloseError::NotTcp);
    }
    match socket.state {
        SockState::TimeWait | SockState::SynReceived if socket.inode == Some(0) => {
            Err(CloseError::NotClosable(socket.state))
        }
        _ => Ok(()),
    }
}

/// The `ss` command that closes this one socket, for a user who can run it as root.
/// A socket of another network namespace is closed from inside it (`nsenter`, through one of
/// the processes holding it).
pub fn ss_command(socket: &Socket) -> String {
    let local = crate::model::endpoint(socket.local_addr, Some(socket.local_port));
    let enter = match (crate::collect::own_netns(), socket.pids.first()) {
        (Some(own), Some(pid)) if socket.netns != 0 && socket.netns != own => {
            format!("nsenter --net=/proc/{pid}/ns/net ")
        }
        _ => String::new(),
    };
    match (socket.remote_addr, socket.remote_port) {
        (Some(addr), Some(port)) => format!(
            "sudo {enter}ss -K -t src {local} dst {}",
            crate::model::endpoint(addr, Some(port))
        ),
        _ => format!("sudo {enter}ss -K -tl src {local}"),
    }
}

/// Closes `socket` and checks that it is gone.
pub fn close(socket: &Socket) -> Result<(), CloseError> {
    closable(socket)?;
    imp::close(socket)
}

#[cfg(target_os = "linux")]
mod imp {
    use super::{CloseError, ss_command};
    use crate::model::Socket;

    pub(super) fn close(socket: &Socket) -> Result<(), CloseError> {
        match crate::collect::destroy_socket(socket) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                return Err(CloseError::NotPermitted {
                    command: ss_command(socket),
                });
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Err(CloseError::Gone),
            Err(e) => return Err(CloseError::Os(e)),
        }
        // One exact lookup, in the socket's own namespace.
        if crate::collect::socket_gone(socket) {
            Ok(())
        } else {
            Err(CloseError::StillThere)
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::CloseError;
    use crate::model::Socket;

    pub(super) fn close(_socket: &Socket) -> Result<(), CloseError> {
        Err(CloseError::Unsupported)
    }
}
