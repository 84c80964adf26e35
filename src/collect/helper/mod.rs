//! Seeing every owner without running the window as root.
//!
//! Linux shows which process holds a socket only to that process's user and to root. Rather
//! than run a whole GUI as root, the window starts `portscope helper` — the same binary — with
//! administrator rights through `pkexec`, and the helper answers each poll with what only root
//! may read: the processes holding each socket, and those processes' executables and command
//! lines. The two talk over the helper's standard input and output in versioned, length-framed
//! JSON ([`protocol`]); the helper takes only `poll` and `stop` ([`serve`]); the window's side
//! ([`client`]) reads on a thread of its own and fills the blanks on the collector thread
//! ([`source`]). The window offers it on Linux, where the helper also ends with the window
//! (the kernel's parent-death signal).

pub mod client;
pub mod protocol;
pub mod serve;
pub mod source;

pub use client::{HelperClient, State};
pub use source::{HelperSource, HelperStatus, HelperSwitch, fill, pkexec_command};

/// The command that shows every owner without the helper.
pub const AS_ROOT: &str = "sudo portscope";
