//! The live source: the machine's socket table and the processes behind it.
//!
//! Each system has a file of its own behind [`SocketSource`](super::SocketSource):
//!
//! - [`linux`]: the kernel's own sock_diag dump ([`sock_diag`]), owners from an
//!   [`owners::OwnerCache`] kept between polls (finding them afresh means reading every open
//!   file of every process, several times the cost of the socket table), and [`identity`] to
//!   notice a process that renamed itself or became another program;
//! - [`other`] (macOS, Windows, …): netstat2, which reports owners with the socket table.
//!
//! Both describe the owners through [`processes::Processes`], one `sysinfo::System` kept
//! between polls that refreshes only the processes owning sockets (and their parents), and only
//! the fields shown: a refresh of everything would cost far more than reading the sockets.

#[cfg(target_os = "linux")]
mod destroyed;
#[cfg(target_os = "linux")]
mod identity;
#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
mod netns;
#[cfg_attr(target_os = "linux", cfg(test))]
mod netstat;
#[cfg(not(target_os = "linux"))]
mod other;
#[cfg(target_os = "linux")]
mod owners;
mod processes;
#[cfg(target_os = "linux")]
mod procnet;
#[cfg(target_os = "linux")]
mod sock_diag;

#[cfg(target_os = "linux")]
pub use destroyed::{DestroyFeed, RECEIVE_BUFFER as DESTROY_FEED_BUFFER};
#[cfg(target_os = "linux")]
pub use linux::{OsSource, destroy_socket, dump_on, own_netns, socket_gone, socket_table};
#[cfg(target_os = "linux")]
pub use netns::open_inside as open_netns;
#[cfg(not(target_os = "linux"))]
pub use other::OsSource;
