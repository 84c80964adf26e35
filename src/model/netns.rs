//! Network namespaces: the separate socket tables a Linux machine keeps (one per container,
//! `ip netns`, sandbox), and how portscope read each.
//!
//! A socket opened inside a container lives in the container's network namespace: the host's
//! socket table does not list it, and the same address and port may be in use in several
//! namespaces at once. Every socket carries its namespace ([`super::Socket::netns`]); a
//! snapshot says what it knows of each namespace it read.

use serde::{Deserialize, Serialize};

/// One network namespace, as a poll found it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetNs {
    /// Its inode: `net:[N]` in `readlink /proc/PID/ns/net`.
    pub inode: u32,
    /// portscope's own namespace (the one `ss` without `-N` shows).
    pub own: bool,
    /// The name `ip netns add` gave it (`/run/netns/NAME`).
    pub name: Option<String>,
    /// Processes seen inside it, ascending (at most [`NetNs::PIDS_KEPT`]).
    pub pids: Vec<u32>,
    /// How many processes portscope saw inside it.
    pub processes: usize,
    /// How many sockets were read from it.
    pub sockets: usize,
    /// How its sockets were read.
    pub read: NsRead,
    /// The container its processes are in, if they are in one.
    pub container: Option<super::container::Container>,
}

/// How a namespace's sockets were read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "how")]
pub enum NsRead {
    /// The kernel's sock_diag dump, from inside the namespace: every socket, with counters.
    #[default]
    Dump,
    /// The kernel's text table of one of its processes (`/proc/PID/net/tcp` and the like):
    /// every socket, without counters or cookies. What a user without privilege can read for
    /// the namespaces of their own processes.
    ProcNet { pid: u32 },
    /// Not read: why.
    Unread { why: String },
}

impl NetNs {
    /// How many of a namespace's processes it keeps.
    pub const PIDS_KEPT: usize = 8;

    /// A sentence for the details: which namespace, and how portscope read it.
    pub fn description(&self) -> String {
        let what = match &self.name {
            Some(name) => format!("{} (net:[{}])", super::text::escape(name), self.inode),
            None => format!("net:[{}]", self.inode),
        };
        let processes = match self.processes {
            0 => "no process inside".to_owned(),
            1 => "1 process inside".to_owned(),
            n => format!("{n} processes inside"),
        };
        let read = match &self.read {
            NsRead::Dump => "read from inside it".to_owned(),
            NsRead::ProcNet { pid } => {
                format!("read from /proc/{pid}/net (no counters without root)")
            }
            NsRead::Unread { why } => format!("not readable: {}", super::text::escape(why)),
        };
        format!("{what}, not portscope's own; {processes}; {read}")
    }

    /// A short name for tables: the `ip netns` name, else `net:[N]`.
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => super::text::escape(name).into_owned(),
            None => format!("net:[{}]", self.inode),
        }
    }
}

impl super::Snapshot {
    /// The namespace a socket lives in, when it is not portscope's own: what tables show in
    /// their namespace column. `None` for the own namespace and where the system does not say.
    pub fn foreign_netns(&self, s: &super::Socket) -> Option<&NetNs> {
        self.of(s).namespaces.get(&s.netns).filter(|ns| !ns.own)
    }

    /// Where a socket lives, when that is not simply this machine: the container of its
    /// process or namespace, else its namespace when not portscope's own. A few words for
    /// tables, groups and explanations; `None` for the own namespace outside containers.
    pub fn place(&self, s: &super::Socket) -> Option<String> {
        if let Some(container) = self.container_of(s) {
            return Some(format!("container {}", container.label()));
        }
        self.foreign_netns(s)
            .map(|ns| format!("namespace {}", ns.label()))
    }

    /// Whether any socket has a [`place`](Self::place): tables show their container column
    /// only then.
    pub fn has_places(&self) -> bool {
        if self.machines_cover_rows() {
            return self.machines.iter().any(|m| m.table.has_places());
        }
        !self.containers.is_empty() || self.namespaces.values().any(|ns| !ns.own && ns.sockets > 0)
    }
}
