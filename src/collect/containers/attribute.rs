//! The step of a poll that says which container each socket's process and each network
//! namespace is in, and what the port forwarders among the owners publish.
//!
//! A process's control group is read once (again only when its PID is reused). Names come
//! from the runtimes' APIs: in the window through [`ContainerNames`], which never waits (a
//! name shows a poll or two after its container first does); in a one-shot command, which may
//! wait, straight from the APIs, and only when there is a container or a forwarder to name.

use std::collections::{BTreeSet, HashMap};

use super::api::ContainerInfo;
use super::cgroup::{ContainerRef, Runtime, read_container};
use super::forward::{self, Forward};
use super::names::{ContainerNames, ListContainers, RuntimeApis};
use crate::collect::Poll;
use crate::model::container::{Container, Published};
use crate::model::text::escape;

/// Where container names come from.
enum Names {
    /// Never waits; started on first need.
    Cached(Option<ContainerNames>),
    /// Asks the APIs during the poll.
    Waiting(RuntimeApis),
}

/// Containers of the processes and namespaces of each poll.
pub struct Attribution {
    /// PID → its start time and container, as last read.
    refs: HashMap<u32, (Option<u64>, Option<ContainerRef>)>,
    /// The same for processes whose network namespace this user may not see.
    hidden: HashMap<u32, Option<ContainerRef>>,
    names: Names,
    /// Why the APIs could not be asked at the last poll that asked (waiting mode).
    status: Option<String>,
}

impl Attribution {
    /// For the window: names from a cache that never waits.
    pub fn cached() -> Attribution {
        Attribution {
            refs: HashMap::new(),
            hidden: HashMap::new(),
            names: Names::Cached(None),
            status: None,
        }
    }

    /// For a one-shot command: names asked of the APIs during the poll.
    pub fn waiting() -> Attribution {
        Attribution {
            refs: HashMap::new(),
            hidden: HashMap::new(),
            names: Names::Waiting(RuntimeApis::discover()),
            status: None,
        }
    }

    /// Why the runtimes' APIs could not be asked, if they could not.
    pub fn status(&self) -> Option<String> {
        match &self.names {
            Names::Cached(names) => names.as_ref().and_then(ContainerNames::status),
            Names::Waiting(_) => self.status.clone(),
        }
    }

    /// Fill `poll.containers`, each namespace's container and `poll.published`; and
    /// `poll.hidden_containers` from the processes `hidden` (those whose network namespace this
    /// user may not see: other users' containers keep their sockets from them).
    pub fn attribute(&mut self, poll: &mut Poll, hidden: &[u32]) {
        let hidden_now: BTreeSet<u32> = hidden.iter().copied().collect();
        self.hidden.retain(|pid, _| hidden_now.contains(pid));
        for &pid in hidden {
            self.hidden
                .entry(pid)
                .or_insert_with(|| read_container(pid));
        }
        // The processes of the poll: every owner (and their parents), without going through
        // every socket.
        let owners: BTreeSet<u32> = poll.processes.keys().copied().collect();
        let inside: BTreeSet<u32> = poll
            .namespaces
            .values()
            .filter(|ns| !ns.own)
            .flat_map(|ns| ns.pids.iter().copied())
            .collect();
        self.refs
            .retain(|pid, _| owners.contains(pid) || inside.contains(pid));
        for &pid in owners.iter().chain(&inside) {
            let start = poll.processes.get(&pid).and_then(|p| p.start_time);
            let fresh = match self.refs.get(&pid) {
                Some((known, _)) => *known != start || start.is_none(),
                None => true,
            };
            if fresh {
                self.refs.insert(pid, (start, read_container(pid)));
            }
        }
        let forwarders: Vec<(u32, forward::Forwarding)> = owners
            .iter()
            .filter_map(|pid| {
                let p = poll.processes.get(pid)?;
                Some((*pid, forward::forwarding(&p.name, &p.cmdline)?))
            })
            .collect();
        let visible: BTreeSet<ContainerRef> =
            self.refs.values().filter_map(|(_, r)| r.clone()).collect();
        let unseen: BTreeSet<ContainerRef> = self
            .hidden
            .values()
            .flatten()
            .filter(|r| !visible.contains(*r))
            .cloned()
            .collect();
        let refs: Vec<ContainerRef> = visible.iter().chain(&unseen).cloned().collect();
        if refs.is_empty() && forwarders.is_empty() {
            return;
        }
        let known = self.known(&refs);
        let describe =
            |r: &ContainerRef| container(r.runtime, &r.id, known.iter().find(|c| c.has_id(&r.id)));
        for &pid in &owners {
            if let Some((_, Some(r))) = self.refs.get(&pid) {
                poll.containers.insert(pid, describe(r));
            }
        }
        poll.hidden_containers = unseen.iter().map(describe).collect();
        for ns in poll.namespaces.values_mut().filter(|ns| !ns.own) {
            ns.container = ns
                .pids
                .iter()
                .find_map(|pid| self.refs.get(pid)?.1.as_ref())
                .map(describe);
        }
        for (pid, forwarding) in forwarders {
            let mut published: Vec<Published> = forwarding
                .forwards
                .iter()
                .map(|f| publish(f, forward::container_for(f, &known)))
                .collect();
            if forwarding.from_api_only {
                // What it holds, matched to the port a container publishes.
                for s in poll.sockets.iter().filter(|s| {
                    s.pids.contains(&pid) && s.state.is_listening() && s.remote_addr.is_none()
                }) {
                    if let Some((f, c)) =
                        forward::forward_from_api(s.proto, s.local_addr, s.local_port, &known)
                    {
                        published.push(publish(&f, Some(c)));
                    }
                }
            }
            if !published.is_empty() {
                poll.published.insert(pid, published);
            }
        }
    }

    /// The containers the runtimes' APIs know, asking about `refs`.
    fn known(&mut self, refs: &[ContainerRef]) -> Vec<ContainerInfo> {
        match &mut self.names {
            Names::Cached(names) => {
                let names = names.get_or_insert_with(|| ContainerNames::new(|| {}));
                for r in refs {
                    names.get(r);
                }
                names.containers().to_vec()
            }
            Names::Waiting(apis) => {
                let users: Vec<u32> = refs
                    .iter()
                    .filter(|r| r.runtime == Runtime::Podman || r.runtime == Runtime::Docker)
                    .filter_map(|r| r.user)
                    .collect();
                let listing = apis.list(&users);
                self.status = (!listing.errors.is_empty()).then(|| listing.errors.join("; "));
                listing.containers
            }
        }
    }
}

fn publish(f: &Forward, container: Option<&ContainerInfo>) -> Published {
    Published {
        proto: f.proto,
        host_ip: f.host_ip,
        host_port: f.host_port,
        container_ip: f.container_ip,
        container_port: f.container_port,
        container: container.map(|c| self::container(c.runtime, &c.id, Some(c))),
        text: escape(&forward::describe(f, container)).into_owned(),
    }
}

/// A container as the snapshot carries it: its runtime and ID, and what the API said of it.
fn container(runtime: Runtime, id: &str, info: Option<&ContainerInfo>) -> Container {
    Container {
        runtime: runtime.label().to_owned(),
        id: id.to_owned(),
        name: info.and_then(ContainerInfo::name).map(str::to_owned),
        image: info.map(|c| c.image.clone()).filter(|i| !i.is_empty()),
    }
}
