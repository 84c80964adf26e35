//! The container runtimes' API client against a fake API the test serves on a Unix socket in a
//! temporary folder: real HTTP over a real socket, answered well (Content-Length, chunks, the
//! end of the connection), slowly, not at all, cut short, or with garbage. Every failure must be
//! an error value within the client's deadline, never a hang or a panic. Then the name cache and
//! the forward sentence on top of the same fake API.

#![cfg(target_os = "linux")]

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use portscope::collect::containers::api::{self, ApiError, Endpoint, Limits};
use portscope::collect::containers::forward::{self, Forward};
use portscope::collect::containers::names::{ContainerNames, RuntimeApis};
use portscope::collect::containers::{ContainerRef, Runtime};
use portscope::model::Proto;

const ID: &str = "3f4e5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081";

/// What `docker ps` would list: one container, `web`, publishing 8080 → 80.
const BODY: &str = r#"[{"Id":"3f4e5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081",
"Names":["/web"],"Image":"nginx:1.27","Command":"nginx -g 'daemon off;'","State":"running",
"Ports":[{"IP":"0.0.0.0","PrivatePort":80,"PublicPort":8080,"Type":"tcp"}],
"NetworkSettings":{"Networks":{"bridge":{"IPAddress":"172.17.0.2","GlobalIPv6Address":""}}}}]"#;

/// The longest any test waits for anything.
const DEADLINE: Duration = Duration::from_secs(10);

/// How the fake API answers each connection.
#[derive(Clone)]
enum Answer {
    /// These writes, in order, then close.
    Writes(Vec<Vec<u8>>),
    /// Reads the request, then says nothing until the test ends.
    Silent,
    /// One byte of a valid answer every 20 ms (for at most `DEADLINE`).
    Trickle,
}

/// A fake runtime API on a Unix socket in a temporary folder, serving connections on a thread
/// until dropped.
struct FakeApi {
    _dir: tempfile::TempDir,
    path: PathBuf,
    requests: mpsc::Receiver<String>,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl FakeApi {
    fn new(answer: Answer) -> FakeApi {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docker.sock");
        let listener = UnixListener::bind(&path).unwrap();
        listener.set_nonblocking(true).unwrap();
        let (requests_tx, requests) = mpsc::channel();
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = thread::spawn(move || {
            let started = Instant::now();
            let mut held = Vec::new();
            // Accepts until told to stop (or the deadline passes), polling so it can stop.
            while started.elapsed() < DEADLINE {
                match stopped.recv_timeout(Duration::from_millis(5)) {
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
                let Ok((mut conn, _)) = listener.accept() else {
                    continue;
                };
                conn.set_nonblocking(false).unwrap();
                let _ = requests_tx.send(read_request(&mut conn));
                match &answer {
                    Answer::Writes(writes) => {
                        for write in writes {
                            if conn.write_all(write).is_err() {
                                break;
                            }
                            let _ = conn.flush();
                        }
                    }
                    Answer::Silent => held.push(conn),
                    Answer::Trickle => {
                        let reply = ok_with_length(BODY);
                        for byte in reply.iter().take(500) {
                            if conn.write_all(&[*byte]).is_err() {
                                break;
                            }
                            if stopped.recv_timeout(Duration::from_millis(20)).is_ok() {
                                return;
                            }
                        }
                    }
                }
            }
        });
        FakeApi {
            _dir: dir,
            path,
            requests,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn endpoint(&self) -> Endpoint {
        Endpoint {
            runtime: Runtime::Docker,
            path: self.path.clone(),
        }
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The request's head, as the fake API read it (at most 8 KiB, for at most `DEADLINE`).
fn read_request(conn: &mut UnixStream) -> String {
    conn.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
        match conn.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

fn ok_with_length(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nApi-Version: 1.47\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// `body` as chunks of at most `size` bytes, each its own write, with a chunk extension and a
/// trailer for good measure.
fn chunked(body: &str, size: usize) -> Vec<Vec<u8>> {
    let mut writes = vec![
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec(),
    ];
    for chunk in body.as_bytes().chunks(size) {
        let mut write = format!("{:x};ext=1\r\n", chunk.len()).into_bytes();
        write.extend_from_slice(chunk);
        write.extend_from_slice(b"\r\n");
        writes.push(write);
    }
    writes.push(b"0\r\nX-Trailer: yes\r\n\r\n".to_vec());
    writes
}

fn short() -> Limits {
    Limits {
        timeout: Duration::from_millis(300),
        ..Limits::default()
    }
}

fn assert_web(found: Result<Vec<api::ContainerInfo>, ApiError>) {
    let containers = found.unwrap();
    assert_eq!(containers.len(), 1);
    let web = &containers[0];
    assert_eq!(
        (web.id.as_str(), web.name(), web.image.as_str()),
        (ID, Some("web"), "nginx:1.27")
    );
    assert_eq!(
        web.addresses,
        ["172.17.0.2".parse::<std::net::IpAddr>().unwrap()]
    );
    assert_eq!(web.ports.len(), 1);
    assert_eq!(web.ports[0].public_port, Some(8080));
}

/// Asks `api` with `limits`, checking that the answer comes within the deadline and a margin.
fn list_timed(api: &FakeApi, limits: &Limits) -> Result<Vec<api::ContainerInfo>, ApiError> {
    let start = Instant::now();
    let found = api::list_containers(&api.endpoint(), limits);
    let took = start.elapsed();
    assert!(
        took < limits.timeout + Duration::from_secs(1),
        "took {took:?} with a {:?} limit",
        limits.timeout
    );
    found
}

#[test]
fn an_answer_with_content_length() {
    let api = FakeApi::new(Answer::Writes(vec![ok_with_length(BODY)]));
    assert_web(list_timed(&api, &Limits::default()));
    let request = api.requests.recv_timeout(DEADLINE).unwrap();
    assert!(
        request.starts_with("GET /containers/json HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(request.contains("\r\nConnection: close\r\n"), "{request}");
}

#[test]
fn a_chunked_answer() {
    // Chunks of 7 bytes, and the same answer one byte per write: chunk sizes split across reads.
    let api = FakeApi::new(Answer::Writes(chunked(BODY, 7)));
    assert_web(list_timed(&api, &Limits::default()));
    let bytes: Vec<Vec<u8>> = chunked(BODY, 100)
        .concat()
        .into_iter()
        .map(|b| vec![b])
        .collect();
    let api = FakeApi::new(Answer::Writes(bytes));
    assert_web(list_timed(&api, &Limits::default()));
}

#[test]
fn an_answer_that_ends_with_the_connection() {
    let answer = format!("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{BODY}");
    let api = FakeApi::new(Answer::Writes(vec![answer.into_bytes()]));
    assert_web(list_timed(&api, &Limits::default()));
}

#[test]
fn a_server_that_never_answers_times_out() {
    let api = FakeApi::new(Answer::Silent);
    let start = Instant::now();
    assert_eq!(
        list_timed(&api, &short()),
        Err(ApiError::TimedOut(short().timeout))
    );
    assert!(start.elapsed() >= short().timeout);
}

#[test]
fn a_server_that_answers_a_byte_at_a_time_times_out_as_a_whole() {
    // Each read gets a byte well within any per-read timeout; the whole answer would take 10 s.
    let api = FakeApi::new(Answer::Trickle);
    assert_eq!(
        list_timed(&api, &short()),
        Err(ApiError::TimedOut(short().timeout))
    );
}

#[test]
fn a_listener_that_never_accepts_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("docker.sock");
    let _listener = UnixListener::bind(&path).unwrap();
    let endpoint = Endpoint {
        runtime: Runtime::Docker,
        path,
    };
    let start = Instant::now();
    let found = api::list_containers(&endpoint, &short());
    assert_eq!(found, Err(ApiError::TimedOut(short().timeout)));
    assert!(start.elapsed() < short().timeout + Duration::from_secs(1));
}

#[test]
fn a_socket_nothing_listens_on_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("docker.sock");
    drop(UnixListener::bind(&path).unwrap());
    let endpoint = Endpoint {
        runtime: Runtime::Docker,
        path: path.clone(),
    };
    assert_eq!(
        api::list_containers(&endpoint, &short()),
        Err(ApiError::Refused(path))
    );
}

#[test]
fn a_server_that_closes_mid_body_is_truncated() {
    let whole = ok_with_length(BODY);
    let api = FakeApi::new(Answer::Writes(vec![whole[..whole.len() - 40].to_vec()]));
    assert_eq!(
        list_timed(&api, &Limits::default()),
        Err(ApiError::Truncated)
    );

    let mut chunks = chunked(BODY, 50);
    chunks.truncate(3);
    chunks.push(b"32\r\n[{\"Id\"".to_vec());
    let api = FakeApi::new(Answer::Writes(chunks));
    assert_eq!(
        list_timed(&api, &Limits::default()),
        Err(ApiError::Truncated)
    );

    let api = FakeApi::new(Answer::Writes(vec![]));
    assert_eq!(
        list_timed(&api, &Limits::default()),
        Err(ApiError::Truncated)
    );
}

#[test]
fn garbage_is_an_error() {
    for garbage in [
        &b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"[..],
        b"\x00\x01\x02\xff\xfe\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\n[]",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n[]",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n[]\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n[]XX0\r\n\r\n",
    ] {
        let api = FakeApi::new(Answer::Writes(vec![garbage.to_vec()]));
        let found = list_timed(&api, &Limits::default());
        assert!(
            matches!(found, Err(ApiError::NotHttp(_))),
            "{:?}: {found:?}",
            String::from_utf8_lossy(garbage)
        );
    }
    let api = FakeApi::new(Answer::Writes(vec![ok_with_length("<html>hello</html>")]));
    assert!(matches!(
        list_timed(&api, &Limits::default()),
        Err(ApiError::Json(_))
    ));
}

#[test]
fn an_answer_larger_than_the_cap_is_refused() {
    let limits = Limits {
        max_body: 100,
        ..Limits::default()
    };
    let api = FakeApi::new(Answer::Writes(vec![ok_with_length(BODY)]));
    assert_eq!(list_timed(&api, &limits), Err(ApiError::TooLarge(100)));
    let api = FakeApi::new(Answer::Writes(chunked(BODY, 30)));
    assert_eq!(list_timed(&api, &limits), Err(ApiError::TooLarge(100)));
    let endless = format!("HTTP/1.0 200 OK\r\n\r\n{}", " ".repeat(10_000));
    let api = FakeApi::new(Answer::Writes(vec![endless.into_bytes()]));
    assert_eq!(list_timed(&api, &limits), Err(ApiError::TooLarge(100)));
}

#[test]
fn an_error_status_carries_the_apis_message() {
    let body =
        r#"{"message":"client version 1.99 is too new. Maximum supported API version is 1.47"}"#;
    let answer = format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let api = FakeApi::new(Answer::Writes(vec![answer.into_bytes()]));
    let found = list_timed(&api, &Limits::default());
    assert_eq!(
        found,
        Err(ApiError::Status {
            status: 400,
            message: "client version 1.99 is too new. Maximum supported API version is 1.47"
                .to_owned()
        })
    );
    assert_eq!(
        found.unwrap_err().to_string(),
        "the server answered 400: client version 1.99 is too new. Maximum supported API version is 1.47"
    );
}

/// Run by [`a_socket_the_user_may_not_use_is_permission_denied`] as `nobody`: asks the socket
/// named by `PORTSCOPE_TEST_SOCKET` and prints the error.
#[test]
#[ignore = "run as another user by a_socket_the_user_may_not_use_is_permission_denied"]
fn child_asks_the_socket() {
    let Some(path) = std::env::var_os("PORTSCOPE_TEST_SOCKET") else {
        return;
    };
    let endpoint = Endpoint {
        runtime: Runtime::Docker,
        path: PathBuf::from(path),
    };
    match api::list_containers(&endpoint, &short()) {
        Ok(_) => println!("RESULT: answered"),
        Err(e) => println!("RESULT: Docker API: {e}"),
    }
}

#[test]
fn a_socket_the_user_may_not_use_is_permission_denied() {
    // The fake API's folder and socket as /var/run/docker.sock has them: root's, mode 0660.
    let api = FakeApi::new(Answer::Writes(vec![ok_with_length(BODY)]));
    std::fs::set_permissions(
        api.path.parent().unwrap(),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(&api.path, std::fs::Permissions::from_mode(0o660)).unwrap();
    let expected = format!("Docker API: permission denied on {}", api.path.display());
    if !common::users::is_root() {
        std::fs::set_permissions(&api.path, std::fs::Permissions::from_mode(0o000)).unwrap();
        let found = api::list_containers(&api.endpoint(), &short());
        assert_eq!(format!("Docker API: {}", found.unwrap_err()), expected);
        return;
    }
    // As root the socket's mode does not stop the test: this test's own binary asks as nobody.
    let shared = tempfile::tempdir().unwrap();
    std::fs::set_permissions(shared.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let copy = shared.path().join("containers-test");
    std::fs::copy(std::env::current_exe().unwrap(), &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    let output = common::users::as_nobody(&copy)
        .args([
            "--exact",
            "child_asks_the_socket",
            "--ignored",
            "--nocapture",
        ])
        .env("PORTSCOPE_TEST_SOCKET", &api.path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!("RESULT: {expected}\n")),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_name_cache_fills_from_the_api_in_the_background() {
    let api = FakeApi::new(Answer::Writes(vec![ok_with_length(BODY)]));
    let (tx, refreshed) = mpsc::channel();
    let tx = Mutex::new(tx);
    let names = ContainerNames::with(
        RuntimeApis {
            endpoints: vec![api.endpoint()],
            limits: Limits::default(),
        },
        Arc::new(Instant::now),
        Duration::from_secs(10),
        move || {
            let _ = tx.lock().unwrap().send(());
        },
    );
    // As a cgroup names it.
    let container = portscope::collect::containers::cgroup::parse(&format!(
        "0::/system.slice/docker-{ID}.scope\n"
    ))
    .unwrap();
    assert_eq!(names.get(&container), None);
    refreshed.recv_timeout(DEADLINE).unwrap();
    let web = names.get(&container).unwrap();
    assert_eq!(web.name(), Some("web"));
    assert_eq!(names.status(), None);

    // docker-proxy's arguments lead to it.
    let argv: Vec<String> = "/usr/bin/docker-proxy -proto tcp -host-ip 0.0.0.0 -host-port 8080 \
                             -container-ip 172.17.0.2 -container-port 80"
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let forwarding = forward::forwarding("docker-proxy", &argv).unwrap();
    let forward: Forward = forwarding.forwards[0];
    let containers = names.containers();
    let leads_to = forward::container_for(&forward, &containers);
    assert_eq!(
        forward::describe(&forward, leads_to),
        "forwards host port 8080 to container web (172.17.0.2:80)"
    );
    assert_eq!(forward.proto, Proto::Tcp);
}

#[test]
fn the_name_cache_says_why_an_api_failed() {
    let api = FakeApi::new(Answer::Silent);
    let (tx, refreshed) = mpsc::channel();
    let tx = Mutex::new(tx);
    let names = ContainerNames::with(
        RuntimeApis {
            endpoints: vec![api.endpoint()],
            limits: short(),
        },
        Arc::new(Instant::now),
        Duration::from_secs(10),
        move || {
            let _ = tx.lock().unwrap().send(());
        },
    );
    let container = ContainerRef {
        runtime: Runtime::Docker,
        id: ID.to_owned(),
        pod: None,
        user: None,
    };
    let start = Instant::now();
    assert_eq!(names.get(&container), None);
    assert!(
        start.elapsed() < Duration::from_millis(100),
        "get waited {:?}",
        start.elapsed()
    );
    refreshed.recv_timeout(DEADLINE).unwrap();
    assert_eq!(
        names.status().as_deref(),
        Some("Docker API: no answer within 300 ms")
    );
}

/// A control group made by the test where a runtime would make it, removed when dropped with
/// the process moved into it.
struct Group {
    dirs: Vec<PathBuf>,
    child: std::process::Child,
}

impl Drop for Group {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for dir in self.dirs.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

#[test]
fn a_real_process_in_a_docker_named_group_is_in_that_container() {
    // Docker's cgroup v1 layout, `/docker/<id>` under a controller, made by hand: needs root
    // and a writable v1 `pids` hierarchy, as on this test machine.
    let hierarchy = PathBuf::from("/sys/fs/cgroup/pids");
    if !common::users::is_root() || !hierarchy.join("cgroup.procs").exists() {
        eprintln!("skipped: needs root and a cgroup v1 pids hierarchy");
        return;
    }
    let id = format!("{:032x}{:032x}", std::process::id(), 0x5eed_u128 << 64);
    let child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut group = Group {
        dirs: Vec::new(),
        child,
    };
    let mut dir = hierarchy;
    for part in ["docker", id.as_str()] {
        dir.push(part);
        if !dir.exists() {
            if let Err(e) = std::fs::create_dir(&dir) {
                eprintln!("skipped: cannot make {}: {e}", dir.display());
                return;
            }
            group.dirs.push(dir.clone());
        }
    }
    std::fs::write(dir.join("cgroup.procs"), pid.to_string()).unwrap();
    let found = portscope::collect::containers::read_container(pid);
    // Out of the group again before it is removed.
    let _ = group.child.kill();
    let _ = group.child.wait();
    assert_eq!(
        found,
        Some(ContainerRef {
            runtime: Runtime::Docker,
            id: id.clone(),
            pod: None,
            user: None,
        })
    );
    assert_eq!(found.unwrap().short_id(), &id[..12]);
    assert_eq!(portscope::collect::containers::read_container(pid), None);
}
