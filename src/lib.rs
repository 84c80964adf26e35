//! portscope: what is on this port, who owns it, and what does the port number mean.
//!
//! Layers, each using only those before it:
//! - [`knowledge`]: what port numbers mean (IANA's registry, ranges, the OS's ephemeral range,
//!   notes, commands to check by hand);
//! - [`model`]: snapshots of the socket table, ownership and why it is missing, traffic, the
//!   table's columns, sorting, the filter language, change tracking, export writers, and the
//!   explanation of a port with what is on it now;
//! - [`collect`]: reading the OS on a background thread — on Linux the kernel's sock_diag dump,
//!   owners kept between polls, `/proc`; elsewhere netstat2 — behind one `SocketSource` trait;
//! - [`act`]: what the user asks done to what the table shows (end a process, close a
//!   connection, look up names);
//! - [`ui`] and [`cli`]: the window and the headless commands, on the same model.

pub mod act;
pub mod cli;
pub mod collect;
pub mod knowledge;
pub mod model;
pub mod ui;
