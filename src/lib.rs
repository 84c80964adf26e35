//! portscope: what is on this port, who owns it, and what does the port number mean.
//!
//! Layers, each depending only on those above it:
//! - [`collect`]: reading the OS (sockets, processes) on a background thread;
//! - [`model`]: snapshots, ownership, sorting, filtering, export;
//! - [`knowledge`]: what port numbers mean;
//! - [`act`]: what the user asks done to what the table shows (end a process, look up names);
//! - [`ui`] and [`cli`]: the window and the headless commands, on the same model.

pub mod act;
pub mod cli;
pub mod collect;
pub mod knowledge;
pub mod model;
pub mod ui;
