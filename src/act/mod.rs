//! Acting on what the table shows: ending a process ([`signal`]), closing a connection
//! ([`close`]) and asking DNS for a remote address's name ([`dns`]). Neither is collection: each runs when the user asks for it, off
//! the UI thread, and reports back.

pub mod close;
pub mod dns;
pub mod signal;
