//! Docker's and Podman's API: the containers' names, images, addresses and published ports.
//!
//! A control group names a container by its ID; people know it by its name. Docker's Engine API
//! (`/var/run/docker.sock`, or `$DOCKER_HOST` when it is a `unix://` address) and Podman's
//! Docker-compatible API (`/run/podman/podman.sock` for root's containers,
//! `$XDG_RUNTIME_DIR/podman/podman.sock` for a user's) answer `GET /containers/json` with every
//! running container. Only Unix sockets are asked: portscope sends nothing over the network.
//!
//! The request is one HTTP/1.1 `GET` with `Connection: close`. The answer's head is parsed by
//! `httparse`; its body is framed by `Content-Length`, by chunks, or by the end of the
//! connection, and decoded by `serde_json`. Whatever is at the other end of the socket may be
//! slow, broken or not HTTP at all (`$DOCKER_HOST` may point anywhere), so the whole exchange has
//! one deadline (2 s by default) checked before every read and write, the answer has a size cap,
//! and every failure is an [`ApiError`] value, never a hang or a panic. This runs on a background
//! thread ([`super::names`]), never on a poll's or a frame's.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::cgroup::{self, Runtime};
use crate::model::Proto;

/// One runtime's API socket.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// Whose API it is: [`Runtime::Docker`] or [`Runtime::Podman`].
    pub runtime: Runtime,
    pub path: PathBuf,
}

impl Endpoint {
    /// The sockets to ask, from this process's environment.
    pub fn discover() -> Vec<Endpoint> {
        Endpoint::from_env(
            std::env::var("DOCKER_HOST").ok().as_deref(),
            std::env::var("XDG_RUNTIME_DIR").ok().as_deref(),
        )
    }

    /// The sockets to ask given `$DOCKER_HOST` and `$XDG_RUNTIME_DIR`: Docker's (the `unix://`
    /// `$DOCKER_HOST` instead of the system's socket; a TCP `$DOCKER_HOST` is not asked),
    /// rootless Docker's, then root's and the user's Podman. Each path once, in that order.
    pub fn from_env(docker_host: Option<&str>, xdg_runtime_dir: Option<&str>) -> Vec<Endpoint> {
        let docker = |path: PathBuf| Endpoint {
            runtime: Runtime::Docker,
            path,
        };
        let podman = |path: PathBuf| Endpoint {
            runtime: Runtime::Podman,
            path,
        };
        let runtime_dir = xdg_runtime_dir
            .filter(|dir| Path::new(dir).is_absolute())
            .map(PathBuf::from);
        let mut endpoints = Vec::new();
        match docker_host.map(str::trim).filter(|host| !host.is_empty()) {
            Some(host) => {
                if let Some(path) = host.strip_prefix("unix://").filter(|p| p.starts_with('/')) {
                    endpoints.push(docker(PathBuf::from(path)));
                }
            }
            None => endpoints.push(docker(PathBuf::from("/var/run/docker.sock"))),
        }
        if let Some(dir) = &runtime_dir {
            endpoints.push(docker(dir.join("docker.sock")));
        }
        endpoints.push(podman(PathBuf::from("/run/podman/podman.sock")));
        if let Some(dir) = &runtime_dir {
            endpoints.push(podman(dir.join("podman/podman.sock")));
        }
        let mut seen = std::collections::HashSet::new();
        endpoints.retain(|endpoint| seen.insert(endpoint.path.clone()));
        endpoints
    }

    /// The sockets of user `uid`'s rootless runtimes (`/run/user/UID/docker.sock`,
    /// `/run/user/UID/podman/podman.sock`), where a container's control group names its user.
    pub fn rootless(uid: u32) -> [Endpoint; 2] {
        let dir = PathBuf::from(format!("/run/user/{uid}"));
        [
            Endpoint {
                runtime: Runtime::Docker,
                path: dir.join("docker.sock"),
            },
            Endpoint {
                runtime: Runtime::Podman,
                path: dir.join("podman/podman.sock"),
            },
        ]
    }
}

/// How long an exchange may take and how large an answer may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The whole exchange: connecting, the request and the answer.
    pub timeout: Duration,
    /// The most bytes of body accepted. A container's entry is 1–3 kB.
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(2),
            max_body: 16 << 20,
        }
    }
}

/// The most bytes an answer's head may take.
const MAX_HEAD: usize = 64 << 10;
/// The most header lines an answer may have.
const MAX_HEADERS: usize = 64;
/// The most characters of a server's error message kept.
const MAX_MESSAGE: usize = 200;

/// One running container as its runtime's API describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerInfo {
    /// Whose API listed it.
    pub runtime: Runtime,
    /// The full ID.
    pub id: String,
    /// Its names, without Docker's leading `/`; the first is the one `docker ps` shows.
    pub names: Vec<String>,
    pub image: String,
    /// Its addresses on its networks (each network's IPv4 and global IPv6 address).
    pub addresses: Vec<IpAddr>,
    /// Its published ports (and exposed ones, which have no public port).
    pub ports: Vec<PublishedPort>,
}

impl ContainerInfo {
    /// The name people know it by.
    pub fn name(&self) -> Option<&str> {
        self.names.first().map(String::as_str)
    }

    /// The first 12 digits of its ID.
    pub fn short_id(&self) -> &str {
        cgroup::short_id(&self.id)
    }

    /// Whether this is the container `id` names: its full ID, or a prefix of it at least as long
    /// as a short ID.
    pub fn has_id(&self, id: &str) -> bool {
        self.id == id || (id.len() >= cgroup::SHORT_ID_LEN && self.id.starts_with(id))
    }
}

/// One of a container's ports: `IP`, `PrivatePort`, `PublicPort` and `Type` of the API's
/// `Ports`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublishedPort {
    pub proto: Proto,
    /// The host address it is published on (`0.0.0.0` or `::` for all); `None` when it is only
    /// exposed.
    pub ip: Option<IpAddr>,
    /// The container's port.
    pub private_port: u16,
    /// The host's port; `None` when it is only exposed.
    pub public_port: Option<u16>,
}

/// Why asking a runtime's API failed. The text follows the runtime's name in a status line:
/// "Docker API: permission denied on /var/run/docker.sock".
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("no socket at {}", .0.display())]
    NotFound(PathBuf),
    #[error("permission denied on {}", .0.display())]
    PermissionDenied(PathBuf),
    #[error("nothing listens on {}", .0.display())]
    Refused(PathBuf),
    #[error("cannot connect to {}: {reason}", path.display())]
    Connect { path: PathBuf, reason: String },
    #[error("no answer within {}", seconds(*.0))]
    TimedOut(Duration),
    #[error("connection failed: {0}")]
    Io(String),
    #[error("the server closed the connection before the answer was complete")]
    Truncated,
    #[error("the answer is not HTTP: {0}")]
    NotHttp(String),
    #[error("the server answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    #[error("unexpected answer: {0}")]
    Json(String),
    #[error("Unix sockets are not available on this system")]
    Unsupported,
}

/// Every running container `endpoint`'s runtime knows (`GET /containers/json`).
pub fn list_containers(
    endpoint: &Endpoint,
    limits: &Limits,
) -> Result<Vec<ContainerInfo>, ApiError> {
    let body = get(&endpoint.path, "/containers/json", limits)?;
    parse_containers(endpoint.runtime, &body)
}

/// The body of a successful `GET path` on the Unix socket at `socket`.
pub fn get(socket: &Path, path: &str, limits: &Limits) -> Result<Vec<u8>, ApiError> {
    let deadline = Instant::now() + limits.timeout;
    let mut conn = Conn {
        stream: transport::connect(socket, limits.timeout)?,
        deadline,
        timeout: limits.timeout,
        buf: Vec::new(),
        eof: false,
        cap: MAX_HEAD + limits.max_body.saturating_mul(2),
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: portscope\r\n\
         Accept: application/json\r\nConnection: close\r\n\r\n"
    );
    conn.write_all(request.as_bytes())?;
    let head = conn.head()?;
    let body = conn.body(&head, limits.max_body)?;
    if head.status != 200 {
        return Err(ApiError::Status {
            status: head.status,
            message: error_message(&body, &head.reason),
        });
    }
    Ok(body)
}

/// What the answer's head says.
struct Head {
    status: u16,
    reason: String,
    /// Where the body starts in the buffer.
    len: usize,
    framing: Framing,
}

enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
}

/// One connection with its deadline and everything read so far.
struct Conn {
    stream: transport::Stream,
    deadline: Instant,
    timeout: Duration,
    buf: Vec<u8>,
    eof: bool,
    /// The most bytes read in all.
    cap: usize,
}

impl Conn {
    /// The time left, or the timeout error once it has run out.
    fn left(&self) -> Result<Duration, ApiError> {
        self.deadline
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
            .ok_or(ApiError::TimedOut(self.timeout))
    }

    fn write_all(&mut self, mut bytes: &[u8]) -> Result<(), ApiError> {
        while !bytes.is_empty() {
            let left = self.left()?;
            self.stream
                .set_write_timeout(Some(left))
                .map_err(io_error)?;
            match self.stream.write(bytes) {
                Ok(0) => return Err(ApiError::Truncated),
                Ok(n) => bytes = bytes.get(n..).unwrap_or_default(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => return Err(ApiError::TimedOut(self.timeout)),
                Err(e) => return Err(io_error(e)),
            }
        }
        Ok(())
    }

    /// Reads more of the answer: `Ok(false)` at its end.
    fn fill(&mut self) -> Result<bool, ApiError> {
        if self.eof {
            return Ok(false);
        }
        let room = self.cap.saturating_sub(self.buf.len());
        if room == 0 {
            return Err(ApiError::TooLarge(self.cap));
        }
        let mut chunk = [0u8; 16 << 10];
        let want = room.min(chunk.len());
        loop {
            let left = self.left()?;
            self.stream.set_read_timeout(Some(left)).map_err(io_error)?;
            match self.stream.read(&mut chunk[..want]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => return Err(ApiError::TimedOut(self.timeout)),
                Err(e) => return Err(io_error(e)),
            }
        }
    }

    /// Reads until `len` bytes are buffered: the answer ending first is [`ApiError::Truncated`].
    fn fill_to(&mut self, len: usize) -> Result<(), ApiError> {
        while self.buf.len() < len {
            if !self.fill()? {
                return Err(ApiError::Truncated);
            }
        }
        Ok(())
    }

    fn head(&mut self) -> Result<Head, ApiError> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut response = httparse::Response::new(&mut headers);
            match response.parse(&self.buf) {
                Ok(httparse::Status::Complete(len)) => {
                    return Ok(Head {
                        status: response.code.unwrap_or_default(),
                        reason: response.reason.unwrap_or_default().to_owned(),
                        len,
                        framing: framing(response.headers)?,
                    });
                }
                Ok(httparse::Status::Partial) => {
                    if self.buf.len() > MAX_HEAD {
                        return Err(ApiError::NotHttp("the head is too long".to_owned()));
                    }
                }
                Err(e) => return Err(ApiError::NotHttp(e.to_string())),
            }
            if !self.fill()? {
                return Err(if self.buf.is_empty() {
                    ApiError::Truncated
                } else {
                    ApiError::NotHttp("the head ends early".to_owned())
                });
            }
        }
    }

    fn body(&mut self, head: &Head, max: usize) -> Result<Vec<u8>, ApiError> {
        let start = head.len;
        match head.framing {
            Framing::Length(len) => {
                let len = usize::try_from(len)
                    .ok()
                    .filter(|len| *len <= max)
                    .ok_or(ApiError::TooLarge(max))?;
                self.fill_to(start + len)?;
                Ok(self
                    .buf
                    .get(start..start + len)
                    .unwrap_or_default()
                    .to_vec())
            }
            Framing::UntilClose => {
                // The head's reads may have brought the whole body already.
                loop {
                    if self.buf.len().saturating_sub(start) > max {
                        return Err(ApiError::TooLarge(max));
                    }
                    if !self.fill()? {
                        break;
                    }
                }
                Ok(self.buf.get(start..).unwrap_or_default().to_vec())
            }
            Framing::Chunked => self.chunks(start, max),
        }
    }

    /// A chunked body from `at`, its chunks joined. Trailers after the last chunk are not read.
    fn chunks(&mut self, mut at: usize, max: usize) -> Result<Vec<u8>, ApiError> {
        let mut body = Vec::new();
        loop {
            let rest = self.buf.get(at..).unwrap_or_default();
            match httparse::parse_chunk_size(rest) {
                Ok(httparse::Status::Complete((size_len, size))) => {
                    at += size_len;
                    if size == 0 {
                        return Ok(body);
                    }
                    let size = usize::try_from(size)
                        .ok()
                        .filter(|size| body.len().saturating_add(*size) <= max)
                        .ok_or(ApiError::TooLarge(max))?;
                    self.fill_to(at + size + 2)?;
                    body.extend_from_slice(self.buf.get(at..at + size).unwrap_or_default());
                    if self.buf.get(at + size..at + size + 2) != Some(b"\r\n") {
                        return Err(ApiError::NotHttp("a chunk does not end in CRLF".to_owned()));
                    }
                    at += size + 2;
                }
                Ok(httparse::Status::Partial) => {
                    if rest.len() > 1024 {
                        return Err(ApiError::NotHttp(
                            "a chunk's size line is too long".to_owned(),
                        ));
                    }
                    if !self.fill()? {
                        return Err(ApiError::Truncated);
                    }
                }
                Err(_) => {
                    return Err(ApiError::NotHttp(
                        "a chunk's size is not a number".to_owned(),
                    ));
                }
            }
        }
    }
}

/// How the body is framed: chunks when the last transfer coding is `chunked`, else its
/// `Content-Length`, else the end of the connection.
fn framing(headers: &[httparse::Header<'_>]) -> Result<Framing, ApiError> {
    let values = |name: &'static str| {
        headers
            .iter()
            .filter(move |header| header.name.eq_ignore_ascii_case(name))
            .map(|header| String::from_utf8_lossy(header.value))
    };
    let chunked = values("transfer-encoding")
        .flat_map(|value| {
            value
                .split(',')
                .map(|coding| coding.trim().to_ascii_lowercase())
                .collect::<Vec<_>>()
        })
        .last()
        .is_some_and(|coding| coding == "chunked");
    if chunked {
        return Ok(Framing::Chunked);
    }
    let mut length = None;
    for value in values("content-length") {
        let len: u64 = value
            .trim()
            .parse()
            .map_err(|_| ApiError::NotHttp(format!("Content-Length {:?}", truncate(&value))))?;
        if length.is_some_and(|known| known != len) {
            return Err(ApiError::NotHttp(
                "two different Content-Lengths".to_owned(),
            ));
        }
        length = Some(len);
    }
    Ok(length.map_or(Framing::UntilClose, Framing::Length))
}

/// The `message` of an API error's JSON body, else the HTTP reason, cut short.
fn error_message(body: &[u8], reason: &str) -> String {
    #[derive(Deserialize)]
    struct Message {
        message: String,
    }
    let message = serde_json::from_slice::<Message>(body)
        .map(|m| m.message)
        .unwrap_or_else(|_| reason.to_owned());
    truncate(&message)
}

fn truncate(text: &str) -> String {
    text.chars().take(MAX_MESSAGE).collect()
}

/// A timeout as people say it: `2 s`, `300 ms`.
fn seconds(timeout: Duration) -> String {
    let ms = timeout.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{ms} ms")
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn io_error(e: io::Error) -> ApiError {
    ApiError::Io(e.to_string())
}

/// The containers in a `GET /containers/json` body.
pub fn parse_containers(runtime: Runtime, body: &[u8]) -> Result<Vec<ContainerInfo>, ApiError> {
    let raw: Vec<RawContainer> =
        serde_json::from_slice(body).map_err(|e| ApiError::Json(truncate(&e.to_string())))?;
    Ok(raw
        .into_iter()
        .filter(|container| !container.id.is_empty())
        .map(|container| container.into_info(runtime))
        .collect())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawContainer {
    #[serde(default)]
    id: String,
    #[serde(default)]
    names: Option<Vec<String>>,
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    ports: Option<Vec<RawPort>>,
    #[serde(default)]
    network_settings: Option<RawNetworkSettings>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawPort {
    #[serde(rename = "IP", default)]
    ip: Option<String>,
    #[serde(default)]
    private_port: u16,
    #[serde(default)]
    public_port: Option<u16>,
    #[serde(rename = "Type", default)]
    kind: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawNetworkSettings {
    #[serde(default)]
    networks: Option<BTreeMap<String, Option<RawNetwork>>>,
}

#[derive(Deserialize)]
struct RawNetwork {
    #[serde(rename = "IPAddress", default)]
    ip_address: Option<String>,
    #[serde(rename = "GlobalIPv6Address", default)]
    global_ipv6_address: Option<String>,
}

impl RawContainer {
    fn into_info(self, runtime: Runtime) -> ContainerInfo {
        let names = self
            .names
            .unwrap_or_default()
            .into_iter()
            .map(|name| name.strip_prefix('/').map(str::to_owned).unwrap_or(name))
            .filter(|name| !name.is_empty())
            .collect();
        let mut addresses = Vec::new();
        for network in self
            .network_settings
            .and_then(|settings| settings.networks)
            .unwrap_or_default()
            .into_values()
            .flatten()
        {
            for address in [network.ip_address, network.global_ipv6_address]
                .into_iter()
                .flatten()
            {
                if let Ok(ip) = address.parse::<IpAddr>()
                    && !addresses.contains(&ip)
                {
                    addresses.push(ip);
                }
            }
        }
        let ports = self
            .ports
            .unwrap_or_default()
            .into_iter()
            .filter_map(|port| {
                let proto = match port.kind.as_deref().unwrap_or("tcp") {
                    "tcp" => Proto::Tcp,
                    "udp" => Proto::Udp,
                    _ => return None,
                };
                Some(PublishedPort {
                    proto,
                    ip: port.ip.and_then(|ip| ip.parse().ok()),
                    private_port: port.private_port,
                    public_port: port.public_port.filter(|port| *port != 0),
                })
            })
            .collect();
        ContainerInfo {
            runtime,
            id: self.id,
            names,
            image: self.image.unwrap_or_default(),
            addresses,
            ports,
        }
    }
}

/// Connecting to a Unix socket with a timeout.
#[cfg(unix)]
mod transport {
    use std::io;
    use std::path::Path;
    use std::time::Duration;

    use socket2::{Domain, SockAddr, Socket, Type};

    use super::ApiError;

    pub type Stream = std::os::unix::net::UnixStream;

    pub fn connect(path: &Path, timeout: Duration) -> Result<Stream, ApiError> {
        let failed = |e: io::Error| match e.kind() {
            io::ErrorKind::NotFound => ApiError::NotFound(path.to_owned()),
            io::ErrorKind::PermissionDenied => ApiError::PermissionDenied(path.to_owned()),
            io::ErrorKind::ConnectionRefused => ApiError::Refused(path.to_owned()),
            _ if super::is_timeout(&e) => ApiError::TimedOut(timeout),
            _ => ApiError::Connect {
                path: path.to_owned(),
                reason: e.to_string(),
            },
        };
        let address = SockAddr::unix(path).map_err(failed)?;
        let socket = Socket::new(Domain::UNIX, Type::STREAM, None).map_err(failed)?;
        // A Unix socket connects at once or not at all (a full backlog is EAGAIN), so the
        // timeout only guards the unexpected.
        socket.connect_timeout(&address, timeout).map_err(failed)?;
        Ok(Stream::from(std::os::fd::OwnedFd::from(socket)))
    }
}

#[cfg(not(unix))]
mod transport {
    use std::path::Path;
    use std::time::Duration;

    use super::ApiError;

    /// Never made: connecting always fails.
    pub struct Stream(std::convert::Infallible);

    impl Stream {
        pub fn set_read_timeout(&self, _: Option<Duration>) -> std::io::Result<()> {
            match self.0 {}
        }
        pub fn set_write_timeout(&self, _: Option<Duration>) -> std::io::Result<()> {
            match self.0 {}
        }
    }

    impl std::io::Read for Stream {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            match self.0 {}
        }
    }

    impl std::io::Write for Stream {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            match self.0 {}
        }
        fn flush(&mut self) -> std::io::Result<()> {
            match self.0 {}
        }
    }

    pub fn connect(_: &Path, _: Duration) -> Result<Stream, ApiError> {
        Err(ApiError::Unsupported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_from_the_environment() {
        let paths = |endpoints: Vec<Endpoint>| {
            endpoints
                .into_iter()
                .map(|e| (e.runtime, e.path.display().to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            paths(Endpoint::from_env(None, None)),
            [
                (Runtime::Docker, "/var/run/docker.sock".to_owned()),
                (Runtime::Podman, "/run/podman/podman.sock".to_owned()),
            ]
        );
        assert_eq!(
            paths(Endpoint::from_env(
                Some("unix:///home/al/.docker/run/docker.sock"),
                Some("/run/user/1000")
            )),
            [
                (
                    Runtime::Docker,
                    "/home/al/.docker/run/docker.sock".to_owned()
                ),
                (Runtime::Docker, "/run/user/1000/docker.sock".to_owned()),
                (Runtime::Podman, "/run/podman/podman.sock".to_owned()),
                (
                    Runtime::Podman,
                    "/run/user/1000/podman/podman.sock".to_owned()
                ),
            ]
        );
        // A TCP Docker host is not asked; a relative runtime directory is ignored.
        assert_eq!(
            paths(Endpoint::from_env(Some("tcp://10.0.0.1:2375"), Some("run"))),
            [(Runtime::Podman, "/run/podman/podman.sock".to_owned())]
        );
        // The same socket twice is asked once.
        assert_eq!(
            Endpoint::from_env(
                Some("unix:///run/user/1000/docker.sock"),
                Some("/run/user/1000")
            )
            .len(),
            3
        );
    }

    #[test]
    fn a_docker_answer_becomes_containers() {
        let body = br#"[
          {"Id":"3f4e5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081",
           "Names":["/web"],"Image":"nginx:1.27",
           "Ports":[{"IP":"0.0.0.0","PrivatePort":80,"PublicPort":8080,"Type":"tcp"},
                    {"IP":"::","PrivatePort":80,"PublicPort":8080,"Type":"tcp"},
                    {"PrivatePort":443,"Type":"tcp"},
                    {"PrivatePort":9,"PublicPort":9,"Type":"sctp"},
                    {"IP":"127.0.0.1","PrivatePort":53,"PublicPort":5353,"Type":"udp"}],
           "NetworkSettings":{"Networks":{
              "bridge":{"IPAddress":"172.17.0.2","GlobalIPv6Address":"fd00::2"},
              "other":{"IPAddress":""}}}},
          {"Id":"","Names":["/ghost"]},
          {"Id":"aaaaaaaaaaaa","Names":null,"Ports":null,"NetworkSettings":null,"Extra":{"x":1}}
        ]"#;
        let containers = parse_containers(Runtime::Docker, body).unwrap();
        assert_eq!(containers.len(), 2);
        let web = &containers[0];
        assert_eq!(web.name(), Some("web"));
        assert_eq!(web.short_id(), "3f4e5a6b7c8d");
        assert_eq!(web.image, "nginx:1.27");
        assert_eq!(
            web.addresses,
            [
                "172.17.0.2".parse::<IpAddr>().unwrap(),
                "fd00::2".parse().unwrap()
            ]
        );
        assert_eq!(
            web.ports,
            [
                PublishedPort {
                    proto: Proto::Tcp,
                    ip: Some("0.0.0.0".parse().unwrap()),
                    private_port: 80,
                    public_port: Some(8080),
                },
                PublishedPort {
                    proto: Proto::Tcp,
                    ip: Some("::".parse().unwrap()),
                    private_port: 80,
                    public_port: Some(8080),
                },
                PublishedPort {
                    proto: Proto::Tcp,
                    ip: None,
                    private_port: 443,
                    public_port: None,
                },
                PublishedPort {
                    proto: Proto::Udp,
                    ip: Some("127.0.0.1".parse().unwrap()),
                    private_port: 53,
                    public_port: Some(5353),
                },
            ]
        );
        assert!(web.has_id("3f4e5a6b7c8d"));
        assert!(!web.has_id("3f4e"));
        assert_eq!(containers[1].name(), None);
        assert!(containers[1].ports.is_empty());
    }

    #[test]
    fn garbage_is_an_error() {
        for body in [&b"not json"[..], b"{}", b"[1,2]", b"[{\"Id\":5}]", b""] {
            assert!(matches!(
                parse_containers(Runtime::Docker, body),
                Err(ApiError::Json(_))
            ));
        }
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse_containers(Runtime::Docker, deep.as_bytes()).is_err());
    }

    #[test]
    fn an_errors_message_is_kept_short() {
        assert_eq!(
            error_message(
                br#"{"message":"client version 1.99 is too new"}"#,
                "Bad Request"
            ),
            "client version 1.99 is too new"
        );
        assert_eq!(error_message(b"<html>", "Not Found"), "Not Found");
        let long = format!(r#"{{"message":"{}"}}"#, "x".repeat(1000));
        assert_eq!(error_message(long.as_bytes(), "").len(), MAX_MESSAGE);
    }

    #[test]
    fn timeouts_read_as_people_say_them() {
        assert_eq!(
            ApiError::TimedOut(Duration::from_secs(2)).to_string(),
            "no answer within 2 s"
        );
        assert_eq!(
            ApiError::TimedOut(Duration::from_millis(300)).to_string(),
            "no answer within 300 ms"
        );
    }

    #[test]
    fn a_missing_socket_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docker.sock");
        let endpoint = Endpoint {
            runtime: Runtime::Docker,
            path: path.clone(),
        };
        assert_eq!(
            list_containers(&endpoint, &Limits::default()),
            Err(ApiError::NotFound(path))
        );
    }
}
