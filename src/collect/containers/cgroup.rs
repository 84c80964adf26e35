//! Which container a process is in, from its control group (`/proc/PID/cgroup`).
//!
//! Every container runtime puts a container's processes in a control group of its own and names
//! that group after the container, so the group's path says which container a process belongs to
//! without asking the runtime anything and without privilege: the file is readable for every
//! process. Each runtime has its own naming, and the naming depends on the cgroup version and on
//! whether systemd or the runtime manages the groups:
//!
//! | runtime | path (innermost components) |
//! |---|---|
//! | Docker | `/system.slice/docker-<id>.scope`, `/docker/<id>` |
//! | Podman | `/machine.slice/libpod-<id>.scope`, `/libpod_parent/libpod-<id>` |
//! | Kubernetes | `/kubepods/burstable/pod<uid>/<id>`, `…-pod<uid>.slice/cri-containerd-<id>.scope`, `…/crio-<id>.scope` |
//! | systemd-nspawn | `/machine.slice/machine-<name>.scope` (`-` escaped as `\x2d`) |
//! | LXC / LXD | `/lxc.payload.<name>`, `/lxc/<name>` |
//!
//! Rootless runtimes put the same names under `/user.slice/user-<uid>.slice/user@<uid>.service/…`;
//! the uid is kept, since it says whose API socket knows the container. Containers nest (a kind
//! node is a Docker container running Kubernetes' containers), so the innermost match wins.
//!
//! A runtime's helpers sit in groups named like their container's but are not in it: Podman's
//! and CRI-O's `conmon` (`libpod-conmon-<id>.scope`, `crio-conmon-<id>.scope`) and LXC's monitor
//! (`lxc.monitor.<name>`); they share the host's network namespace. They are not a container's
//! processes ([`parse`] says `None`), but [`parse_conmon`] says which container a `conmon` tends.
//! `machine-qemu\x2d…` groups are libvirt's virtual machines, not containers.
//!
//! Group names below a delegated subtree are chosen by unprivileged users, so the text is
//! hostile: nothing here panics on any input, and names are kept as data for the UI to escape.

use std::fmt;
use std::fs;

use serde::Serialize;

/// The software that runs a container.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Runtime {
    Docker,
    Podman,
    Containerd,
    CriO,
    /// A Kubernetes container whose group does not say which runtime runs it (the cgroupfs
    /// driver's `kubepods/…/pod<uid>/<id>`).
    Kubernetes,
    Nspawn,
    Lxc,
}

impl Runtime {
    /// The runtime's name as its users know it.
    pub fn label(self) -> &'static str {
        match self {
            Runtime::Docker => "Docker",
            Runtime::Podman => "Podman",
            Runtime::Containerd => "containerd",
            Runtime::CriO => "CRI-O",
            Runtime::Kubernetes => "Kubernetes",
            Runtime::Nspawn => "systemd-nspawn",
            Runtime::Lxc => "LXC",
        }
    }

    /// Whether the container is named by a hexadecimal ID (as opposed to a name of its own).
    fn has_hex_id(self) -> bool {
        !matches!(self, Runtime::Nspawn | Runtime::Lxc)
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One container, as its control group names it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ContainerRef {
    pub runtime: Runtime,
    /// The full ID (hexadecimal, 64 digits for Docker, Podman and Kubernetes), or the machine's
    /// or LXC container's name.
    pub id: String,
    /// The Kubernetes pod's UID, or the Podman pod's ID, when the container is in a pod.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// The user whose systemd instance holds the group: a rootless container's owner.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<u32>,
}

/// How many characters of a hexadecimal ID `docker ps` and `podman ps` show.
pub const SHORT_ID_LEN: usize = 12;

impl ContainerRef {
    /// The ID for display: the first 12 digits of a hexadecimal ID, as `docker ps` shows it; a
    /// name (systemd-nspawn, LXC) whole.
    pub fn short_id(&self) -> &str {
        if self.runtime.has_hex_id() {
            short_id(&self.id)
        } else {
            &self.id
        }
    }
}

/// The first 12 characters of an ID (all of it when shorter), cut on a character boundary.
pub fn short_id(id: &str) -> &str {
    match id.char_indices().nth(SHORT_ID_LEN) {
        Some((end, _)) => &id[..end],
        None => id,
    }
}

/// The container process `pid` is in, from `/proc/PID/cgroup`: `None` when it is in none, or
/// the file cannot be read (the process has gone, or this is not Linux).
pub fn read_container(pid: u32) -> Option<ContainerRef> {
    let text = fs::read(format!("/proc/{pid}/cgroup")).ok()?;
    parse(&String::from_utf8_lossy(&text))
}

/// The container a process is in, from the text of its `/proc/PID/cgroup`.
pub fn parse(text: &str) -> Option<ContainerRef> {
    match find(text)? {
        Found::Container(container) => Some(container),
        Found::Helper(_) => None,
    }
}

/// The container a `conmon` process tends (Podman's or CRI-O's), from the text of its
/// `/proc/PID/cgroup`: `None` for any other process.
pub fn parse_conmon(text: &str) -> Option<ContainerRef> {
    match find(text)? {
        Found::Helper(container) => Some(container),
        Found::Container(_) => None,
    }
}

/// What a group path says about its processes.
enum Found {
    /// They are the container's.
    Container(ContainerRef),
    /// They are a runtime's helper for the container, outside it (conmon, LXC's monitor).
    Helper(ContainerRef),
}

/// The first line that names a container, the unified hierarchy's (`0::`) first: it is the one
/// systemd and the runtimes keep up to date on hybrid systems.
fn find(text: &str) -> Option<Found> {
    let paths = || {
        text.lines().filter_map(|line| {
            let mut fields = line.splitn(3, ':');
            let hierarchy = fields.next()?;
            let _controllers = fields.next()?;
            Some((hierarchy, fields.next()?))
        })
    };
    paths()
        .filter(|(hierarchy, _)| *hierarchy == "0")
        .chain(paths().filter(|(hierarchy, _)| *hierarchy != "0"))
        .find_map(|(_, path)| from_path(path))
}

/// What one group path says, looking from its innermost component outwards.
fn from_path(path: &str) -> Option<Found> {
    let parts: Vec<&str> = path.split('/').filter(|part| !part.is_empty()).collect();
    (0..parts.len()).rev().find_map(|at| {
        let parent = at.checked_sub(1).and_then(|p| parts.get(p)).copied();
        let found = component(parts.get(at)?, parent, &parts[..at])?;
        let ancestors = &parts[..at];
        Some(found.with(|container| {
            container.user = user_of(ancestors);
            if container.pod.is_none() {
                container.pod = pod_of(ancestors);
            }
        }))
    })
}

impl Found {
    fn with(mut self, f: impl FnOnce(&mut ContainerRef)) -> Found {
        match &mut self {
            Found::Container(container) | Found::Helper(container) => f(container),
        }
        self
    }
}

/// What one component says, given its parent and the components above it.
fn component(part: &str, parent: Option<&str>, ancestors: &[&str]) -> Option<Found> {
    let unit = part.strip_suffix(".scope");
    let name = unit.unwrap_or(part);
    let container = |runtime: Runtime, id: &str| ContainerRef {
        runtime,
        id: id.to_owned(),
        pod: None,
        user: None,
    };
    let hex = |prefix: &str| name.strip_prefix(prefix).filter(|id| is_hex_id(id));

    if let Some(id) = hex("libpod-conmon-") {
        return Some(Found::Helper(container(Runtime::Podman, id)));
    }
    if let Some(id) = hex("crio-conmon-") {
        return Some(Found::Helper(container(Runtime::CriO, id)));
    }
    if let Some(id) = hex("docker-") {
        return Some(Found::Container(container(Runtime::Docker, id)));
    }
    if let Some(id) = hex("libpod-") {
        return Some(Found::Container(container(Runtime::Podman, id)));
    }
    if let Some(id) = hex("cri-containerd-") {
        return Some(Found::Container(container(Runtime::Containerd, id)));
    }
    if let Some(id) = hex("crio-") {
        return Some(Found::Container(container(Runtime::CriO, id)));
    }
    if let Some(escaped) = unit.and_then(|unit| unit.strip_prefix("machine-")) {
        let machine = unescape(escaped);
        // libvirt's virtual machines (`machine-qemu\x2d1\x2dvm.scope`) are not containers.
        if machine.is_empty() || machine.starts_with("qemu-") {
            return None;
        }
        return Some(Found::Container(container(Runtime::Nspawn, &machine)));
    }
    if let Some(name) = part.strip_prefix("lxc.payload.").filter(|n| !n.is_empty()) {
        return Some(Found::Container(container(Runtime::Lxc, name)));
    }
    if let Some(name) = part.strip_prefix("lxc.monitor.").filter(|n| !n.is_empty()) {
        return Some(Found::Helper(container(Runtime::Lxc, name)));
    }
    match parent {
        Some("docker") if is_hex_id(part) => {
            Some(Found::Container(container(Runtime::Docker, part)))
        }
        Some("lxc") => Some(Found::Container(container(Runtime::Lxc, part))),
        Some(pod) if is_hex_id(part) && pod.starts_with("pod") && in_kubepods(ancestors) => {
            Some(Found::Container(container(Runtime::Kubernetes, part)))
        }
        _ => None,
    }
}

/// Whether the group is under Kubernetes' `kubepods` hierarchy (either driver's naming).
fn in_kubepods(ancestors: &[&str]) -> bool {
    ancestors.iter().any(|part| part.contains("kubepods"))
}

/// The pod a container's group sits in: Kubernetes' `pod<uid>` (cgroupfs driver) or
/// `kubepods-…-pod<uid_with_underscores>.slice` (systemd driver), or Podman's
/// `machine-libpod_pod_<id>.slice`.
fn pod_of(ancestors: &[&str]) -> Option<String> {
    ancestors.iter().rev().find_map(|part| {
        if let Some(slice) = part.strip_suffix(".slice") {
            if let Some((_, pod)) = slice.split_once("libpod_pod_") {
                return Some(pod.to_owned()).filter(|pod| is_hex_id(pod));
            }
            if slice.contains("kubepods") {
                let (_, uid) = slice.rsplit_once("-pod")?;
                return Some(uid.replace('_', "-")).filter(|uid| is_uid(uid));
            }
            return None;
        }
        part.strip_prefix("pod")
            .filter(|uid| is_uid(uid) && in_kubepods(ancestors))
            .map(str::to_owned)
    })
}

/// The user of the innermost `user-<uid>.slice` or `user@<uid>.service` above the group.
fn user_of(ancestors: &[&str]) -> Option<u32> {
    ancestors.iter().rev().find_map(|part| {
        let uid = part
            .strip_prefix("user-")
            .and_then(|rest| rest.strip_suffix(".slice"))
            .or_else(|| {
                part.strip_prefix("user@")
                    .and_then(|rest| rest.strip_suffix(".service"))
            })?;
        uid.parse().ok()
    })
}

/// A runtime's container ID: hexadecimal, at least as long as a short ID.
fn is_hex_id(id: &str) -> bool {
    (SHORT_ID_LEN..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A Kubernetes pod UID: hexadecimal digits and dashes.
fn is_uid(uid: &str) -> bool {
    (8..=64).contains(&uid.len()) && uid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

/// A systemd unit name's `\xNN` escapes undone (`web\x2d1` → `web-1`); anything that is not a
/// valid escape is kept as it is, and bytes that are not UTF-8 are replaced.
fn unescape(escaped: &str) -> String {
    let bytes = escaped.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        let code = bytes
            .get(at + 2..at + 4)
            .filter(|_| byte == b'\\' && bytes.get(at + 1) == Some(&b'x'))
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match code {
            Some(code) => {
                out.push(code);
                at += 4;
            }
            None => {
                out.push(byte);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    const ID: &str = "3f4e5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081";

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/tests/fixtures/cgroup/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn found(name: &str) -> ContainerRef {
        parse(&fixture(name)).unwrap_or_else(|| panic!("{name}: no container found"))
    }

    fn container(runtime: Runtime, id: &str) -> ContainerRef {
        ContainerRef {
            runtime,
            id: id.to_owned(),
            pod: None,
            user: None,
        }
    }

    #[test]
    fn docker_with_the_systemd_driver_on_cgroup_v2() {
        assert_eq!(found("docker-v2-systemd"), container(Runtime::Docker, ID));
    }

    #[test]
    fn docker_with_the_cgroupfs_driver_on_cgroup_v2() {
        assert_eq!(found("docker-v2-cgroupfs"), container(Runtime::Docker, ID));
    }

    #[test]
    fn docker_on_cgroup_v1() {
        assert_eq!(found("docker-v1"), container(Runtime::Docker, ID));
    }

    #[test]
    fn docker_on_a_hybrid_system_reads_the_unified_line() {
        assert_eq!(found("docker-v1-systemd"), container(Runtime::Docker, ID));
    }

    #[test]
    fn rootless_docker_keeps_its_user() {
        let mut expected = container(Runtime::Docker, ID);
        expected.user = Some(1000);
        assert_eq!(found("docker-rootless"), expected);
    }

    #[test]
    fn podman_rootful() {
        assert_eq!(found("podman-rootful"), container(Runtime::Podman, ID));
    }

    #[test]
    fn podman_rootless_in_a_pod() {
        let mut expected = container(Runtime::Podman, ID);
        expected.user = Some(1000);
        expected.pod =
            Some("9a8b7c6d5e4f30211a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081".to_owned());
        assert_eq!(found("podman-rootless-pod"), expected);
    }

    #[test]
    fn podman_with_the_cgroupfs_manager_on_cgroup_v1() {
        assert_eq!(found("podman-v1-cgroupfs"), container(Runtime::Podman, ID));
    }

    #[test]
    fn podmans_conmon_is_not_in_its_container() {
        let text = fixture("podman-conmon");
        assert_eq!(parse(&text), None);
        assert_eq!(parse_conmon(&text), Some(container(Runtime::Podman, ID)));
        assert_eq!(parse_conmon(&fixture("podman-rootful")), None);
    }

    #[test]
    fn kubernetes_with_containerd_and_the_systemd_driver_keeps_the_pod() {
        let mut expected = container(Runtime::Containerd, ID);
        expected.pod = Some("0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0".to_owned());
        assert_eq!(found("kubernetes-containerd"), expected);
    }

    #[test]
    fn kubernetes_with_cri_o() {
        let mut expected = container(Runtime::CriO, ID);
        expected.pod = Some("0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0".to_owned());
        assert_eq!(found("kubernetes-crio"), expected);
        assert_eq!(
            parse_conmon(&fixture("kubernetes-crio-conmon")).map(|c| c.runtime),
            Some(Runtime::CriO)
        );
        assert_eq!(parse(&fixture("kubernetes-crio-conmon")), None);
    }

    #[test]
    fn kubernetes_with_the_cgroupfs_driver() {
        let mut expected = container(Runtime::Kubernetes, ID);
        expected.pod = Some("0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0".to_owned());
        assert_eq!(found("kubernetes-cgroupfs"), expected);
    }

    #[test]
    fn kind_the_innermost_container_wins() {
        // A kind node is a Docker container; the pods' containers run inside it.
        let mut expected = container(Runtime::Containerd, ID);
        expected.pod = Some("0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0".to_owned());
        assert_eq!(found("kind"), expected);
    }

    #[test]
    fn systemd_nspawn_unescapes_the_machine_name() {
        assert_eq!(found("nspawn"), container(Runtime::Nspawn, "web-1"));
    }

    #[test]
    fn libvirt_virtual_machines_are_not_containers() {
        assert_eq!(
            parse("0::/machine.slice/machine-qemu\\x2d1\\x2ddebian.scope/libvirt/emulator\n"),
            None
        );
    }

    #[test]
    fn lxc_payload_and_the_monitor() {
        assert_eq!(found("lxc-v2"), container(Runtime::Lxc, "web"));
        assert_eq!(parse("0::/lxc.monitor.web\n"), None);
    }

    #[test]
    fn lxc_on_cgroup_v1() {
        assert_eq!(found("lxc-v1"), container(Runtime::Lxc, "web"));
    }

    #[test]
    fn rootless_lxc_keeps_its_user() {
        let mut expected = container(Runtime::Lxc, "web");
        expected.user = Some(1000);
        assert_eq!(found("lxc-rootless"), expected);
    }

    #[test]
    fn host_processes_are_in_no_container() {
        assert_eq!(parse(&fixture("host")), None);
        assert_eq!(parse(&fixture("host-v1")), None);
        // A hexadecimal group that no runtime made (this very machine's sandbox has one).
        assert_eq!(
            parse("4:memory:/process_api/562b6e59088a5e9971b56f5885b97371\n0::/\n"),
            None
        );
        // Names that only look like a runtime's.
        assert_eq!(parse("0::/system.slice/docker-compose.scope\n"), None);
        assert_eq!(parse("0::/system.slice/docker.service\n"), None);
        assert_eq!(parse("0::/kubepods.slice/not-kube/abc\n"), None);
    }

    #[test]
    fn short_ids_are_twelve_hex_digits_and_names_stay_whole() {
        assert_eq!(container(Runtime::Docker, ID).short_id(), "3f4e5a6b7c8d");
        assert_eq!(
            container(Runtime::Nspawn, "a-long-machine-name").short_id(),
            "a-long-machine-name"
        );
        assert_eq!(short_id("ab"), "ab");
        assert_eq!(short_id("ééééééééééééé"), "éééééééééééé");
    }

    #[test]
    fn unescape_keeps_what_is_not_an_escape() {
        assert_eq!(unescape("a\\x2db"), "a-b");
        assert_eq!(unescape("a\\x2"), "a\\x2");
        assert_eq!(unescape("a\\xzz"), "a\\xzz");
        assert_eq!(unescape("\\xff"), "\u{fffd}");
        assert_eq!(unescape("\\"), "\\");
    }

    #[test]
    fn this_process_reads_without_error() {
        // The test machine is not a container a runtime names; what matters is that reading a
        // real file works, and a PID that does not exist is no container.
        let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        assert_eq!(read_container(std::process::id()), parse(&text));
        assert_eq!(read_container(u32::MAX), None);
    }

    proptest! {
        #[test]
        fn no_text_panics(text in "\\PC*") {
            let _ = parse(&text);
            let _ = parse_conmon(&text);
        }

        #[test]
        fn no_path_made_of_runtime_words_panics(
            parts in proptest::collection::vec(
                "(docker-|libpod-|libpod-conmon-|crio-|cri-containerd-|machine-|lxc\\.payload\\.|pod|kubepods-|user-|user@)?[0-9a-f_\\\\x.-]{0,70}(\\.scope|\\.slice|\\.service)?",
                0..8,
            ),
        ) {
            let text = format!("0::/{}\n", parts.join("/"));
            if let Some(found) = parse(&text) {
                prop_assert!(!found.id.is_empty());
                let _ = found.short_id();
            }
        }
    }
}
