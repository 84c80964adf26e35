//! Containers: which container a process is in, the container's name, and what a port
//! forwarder publishes.
//!
//! Half the ports on a developer's machine belong to containers, and the host's view of them
//! says little: the container's own processes live in other namespaces, and the host side of a
//! published port is a `docker-proxy`, `rootlessport` or `pasta` whose name says nothing about
//! where it leads. This module turns what the host does show into the container's identity:
//! - [`cgroup`]: the container a process is in, from `/proc/PID/cgroup` (every runtime names its
//!   containers' control groups after them);
//! - [`api`]: the containers' names, images, addresses and published ports from Docker's or
//!   Podman's API over its Unix socket;
//! - [`names`]: a cache of those that a poll or a frame can ask without ever waiting, filled by a
//!   background thread;
//! - [`forward`]: what a port forwarder forwards, from its command line, matched to a container.
//!
//! Nothing here touches the window, the model's sockets or the collector: those ask.

pub mod api;
pub mod attribute;
pub mod cgroup;
pub mod forward;
pub mod names;

pub use api::{ApiError, ContainerInfo, Endpoint, PublishedPort, list_containers};
pub use attribute::Attribution;
pub use cgroup::{ContainerRef, Runtime, read_container};
pub use forward::{Forward, Forwarder, Forwarding, forwarding};
pub use names::ContainerNames;
