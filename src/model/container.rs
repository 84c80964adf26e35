//! Containers as the table shows them: which container holds a socket, and where a port
//! forwarder (`docker-proxy`, `pasta`, `rootlessport`) sends a published port.
//!
//! Collected by `collect::containers` from each process's control group and the runtimes'
//! APIs; here only what a snapshot carries. Names, IDs and images are the container owner's
//! text: every writer escapes them.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::Proto;
use super::text::escape;

/// One container.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Container {
    /// `docker`, `podman`, `containerd`, `cri-o`, `kubernetes`, `systemd-nspawn`, `lxc`.
    pub runtime: String,
    /// The full ID, or the machine's or LXC container's name.
    pub id: String,
    /// Its name from the runtime's API, where that could be asked.
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

impl Container {
    /// The ID as `docker ps` shows it: 12 digits of a hexadecimal ID, a name whole.
    pub fn short_id(&self) -> &str {
        if self.id.len() > 12 && self.id.bytes().all(|b| b.is_ascii_hexdigit()) {
            &self.id[..12]
        } else {
            &self.id
        }
    }

    /// A line for the details: name, runtime, ID and image.
    pub fn description(&self) -> String {
        let mut text = match &self.name {
            Some(name) => format!(
                "{} ({}, ID {})",
                escape(name),
                self.runtime,
                self.short_id()
            ),
            None => format!(
                "{} container {} (no runtime API portscope could ask names it)",
                self.runtime,
                escape(self.short_id())
            ),
        };
        if let Some(image) = &self.image {
            text.push_str(&format!(", image {}", escape(image)));
        }
        text
    }

    /// A few words for tables: `web (docker)`, or the short ID where the name is unknown.
    pub fn label(&self) -> String {
        let who = self.name.as_deref().unwrap_or_else(|| self.short_id());
        format!("{} ({})", escape(who), self.runtime)
    }
}

/// One port a forwarder process publishes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Published {
    pub proto: Proto,
    /// The host address it listens on; `None` for all of them.
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub container_ip: Option<IpAddr>,
    pub container_port: u16,
    /// The container it leads to, where known.
    pub container: Option<Container>,
    /// "forwards host port 8080 to container web (172.17.0.2:80)" (escaped).
    pub text: String,
}

impl super::Snapshot {
    /// The container of the process holding `s` (a container on the host's network), else of
    /// the network namespace `s` lives in.
    pub fn container_of(&self, s: &super::Socket) -> Option<&Container> {
        let snap = self.of(s);
        s.pids
            .iter()
            .find_map(|pid| snap.containers.get(pid))
            .or_else(|| self.foreign_netns(s)?.container.as_ref())
    }

    /// A few words on [`Snapshot::hidden_containers`](super::Snapshot::hidden_containers):
    /// `2 containers: need root`.
    pub fn hidden_containers_words(&self) -> String {
        match self.hidden_containers.len() {
            1 => "1 container: needs root".to_owned(),
            n => format!("{n} containers: need root"),
        }
    }

    /// Which containers, and why their sockets are not listed.
    pub fn hidden_containers_explained(&self) -> String {
        let names: Vec<String> = self
            .hidden_containers
            .iter()
            .map(Container::label)
            .collect();
        format!(
            "Containers of other users keep their sockets in network namespaces that only root \
             may read: {}. Show all processes… in the window, or sudo portscope list -A, shows \
             their sockets.",
            names.join(", ")
        )
    }

    /// What the forwarder holding `s` does with it: the ports it publishes on `s`'s port.
    pub fn published_on(&self, s: &super::Socket) -> Vec<&Published> {
        let snap = self.of(s);
        s.pids
            .iter()
            .filter_map(|pid| snap.published.get(pid))
            .flatten()
            .filter(|p| {
                p.proto == s.proto
                    && p.host_port == s.local_port
                    && p.host_ip
                        .is_none_or(|ip| ip == s.local_addr || s.local_addr.is_unspecified())
            })
            .collect()
    }

    /// The socket a published port leads to: a listener on the container's port inside the
    /// container (its namespace, or its processes').
    pub fn forwarded_to(&self, p: &Published) -> Option<&super::Socket> {
        self.sockets.iter().find(|s| {
            s.state.is_listening()
                && s.proto == p.proto
                && s.local_port == p.container_port
                && match (&p.container, p.container_ip) {
                    (Some(c), _) => self.container_of(s).is_some_and(|o| o.id == c.id),
                    (None, Some(ip)) => s.local_addr == ip,
                    (None, None) => false,
                }
        })
    }
}
