//! Acting on what the table shows: ending a process ([`signal`]), closing a connection
//! ([`close`]), asking DNS for a remote address's name ([`dns`]) and finding a port a new
//! service can take ([`free`], which binds ports to be sure); [`remote`] does the first two
//! on another machine, through the portscope installed there. Neither is collection: each
//! runs when the user asks for it, off the UI thread, and reports back.

pub mod close;
pub mod dns;
pub mod free;
#[cfg(unix)]
pub mod remote;
pub mod signal;
