//! A container made by hand, as Docker makes one (loopback only, no Docker): a process in a
//! network namespace of its own (`unshare -n`) and in a control group named
//! `docker/<id>`, a fake Docker API on a Unix socket naming it, and a `docker-proxy`
//! publishing its port on the host. portscope must name the container of its sockets, and say
//! where the proxy forwards.

#![cfg(target_os = "linux")]

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use common::users::is_root;
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(20);
const CONTAINER_IP: &str = "10.200.0.2";

/// A process that prints one line when its sockets are open and ends when its standard input
/// closes.
struct Running(Child);

impl Running {
    fn start(mut command: Command) -> (Running, String) {
        let (child, line) = common::start_ready(&mut command);
        (Running(child), line)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.wait();
    }
}

/// A control group named as Docker names its containers', removed (after its process) at the
/// end: `docker/<id>` in the cgroup v1 `pids` hierarchy where there is one, else
/// `docker-<id>.scope` in the v2 hierarchy.
struct Group(Vec<PathBuf>);

impl Group {
    fn docker(id: &str, pid: u32) -> Group {
        let v1 = Path::new("/sys/fs/cgroup/pids");
        let dirs = if v1.join("cgroup.procs").exists() {
            vec![v1.join("docker"), v1.join("docker").join(id)]
        } else {
            let v2 = [
                Path::new("/sys/fs/cgroup/unified"),
                Path::new("/sys/fs/cgroup"),
            ]
            .into_iter()
            .find(|root| {
                root.join("cgroup.procs").exists() && root.join("cgroup.subtree_control").exists()
            })
            .expect("a cgroup v1 pids or a cgroup v2 hierarchy");
            vec![v2.join(format!("docker-{id}.scope"))]
        };
        let mut made = Vec::new();
        for dir in &dirs {
            // Tests side by side may make the shared `docker` group at the same moment.
            match fs::create_dir(dir) {
                Ok(()) => made.push(dir.clone()),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => panic!("cannot make {}: {e}", dir.display()),
            }
        }
        fs::write(dirs[dirs.len() - 1].join("cgroup.procs"), pid.to_string()).unwrap();
        Group(made)
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        // The process has ended by now (the test drops it first); the innermost group first.
        for dir in self.0.iter().rev() {
            for _ in 0..100 {
                if fs::remove_dir(dir).is_ok() || !dir.exists() {
                    break;
                }
                thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// Docker's API on a Unix socket, answering every `GET /containers/json` with `body`.
struct FakeDocker {
    _dir: tempfile::TempDir,
    path: PathBuf,
    stop: Arc<AtomicBool>,
    asked: mpsc::Receiver<()>,
}

impl FakeDocker {
    fn new(body: String) -> FakeDocker {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docker.sock");
        let listener = UnixListener::bind(&path).unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let (tell, asked) = mpsc::channel();
        thread::spawn(move || {
            let started = Instant::now();
            while !stopping.load(Ordering::Relaxed) && started.elapsed() < DEADLINE * 3 {
                let Ok((mut conn, _)) = listener.accept() else {
                    thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let _ = conn.set_nonblocking(false);
                let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(answer.as_bytes());
                let _ = tell.send(());
            }
        });
        FakeDocker {
            _dir: dir,
            path,
            stop,
            asked,
        }
    }
}

impl Drop for FakeDocker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn portscope(docker: &FakeDocker, runtime_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portscope"));
    command
        .env("DOCKER_HOST", format!("unix://{}", docker.path.display()))
        .env("XDG_RUNTIME_DIR", runtime_dir);
    command
}

#[test]
fn a_containers_sockets_carry_its_name_and_its_proxy_says_where_it_forwards() {
    assert!(is_root(), "this test makes a namespace and a control group");
    let id = format!("c0ffee{:010x}{:048x}", std::process::id(), 0);
    // The container: a listener on port 80 of its own namespace.
    let mut inside = Command::new("unshare");
    inside.args([
        "-n",
        "sh",
        "-c",
        "ip link set lo up && exec python3 -c \"$0\"",
        "import socket, sys\n\
         s = socket.socket(); s.bind(('0.0.0.0', 80)); s.listen()\n\
         print('ready', flush=True)\n\
         sys.stdin.read()\n",
    ]);
    let (container, _) = Running::start(inside);
    let group = Group::docker(&id, container.0.id());

    // The proxy on the host: named docker-proxy, with docker-proxy's arguments.
    let host_port = {
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let mut proxy = Command::new("python3");
    proxy.args([
        "-c",
        "import ctypes, socket, sys\n\
         ctypes.CDLL(None).prctl(15, b'docker-proxy', 0, 0, 0)\n\
         s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[6]))); s.listen()\n\
         print('ready', flush=True)\n\
         sys.stdin.read()\n",
        "-proto",
        "tcp",
        "-host-ip",
        "127.0.0.1",
        "-host-port",
        &host_port.to_string(),
        "-container-ip",
        CONTAINER_IP,
        "-container-port",
        "80",
    ]);
    let (proxy, _) = Running::start(proxy);

    let docker = FakeDocker::new(format!(
        r#"[{{"Id":"{id}","Names":["/web"],"Image":"nginx:test","State":"running",
             "Ports":[{{"IP":"127.0.0.1","PrivatePort":80,"PublicPort":{host_port},"Type":"tcp"}}],
             "NetworkSettings":{{"Networks":{{"bridge":{{"IPAddress":"{CONTAINER_IP}"}}}}}}}}]"#
    ));
    let runtime_dir = tempfile::tempdir().unwrap();

    // The container's sockets, with its name from the API.
    let out = portscope(&docker, runtime_dir.path())
        .args(["list", "--all-namespaces", "--json", "container:web"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(records.len(), 1, "the container's one socket: {records:#?}");
    let listener = &records[0];
    assert_eq!(listener["local_port"], 80);
    assert_eq!(listener["state"], "LISTEN");
    assert_eq!(
        listener["pids"][0].as_u64(),
        Some(u64::from(container.0.id()))
    );
    assert_eq!(listener["container"]["runtime"], "Docker");
    assert_eq!(listener["container"]["id"], id.as_str());
    assert_eq!(listener["container"]["name"], "web");
    assert_eq!(listener["container"]["image"], "nginx:test");
    assert!(docker.asked.try_recv().is_ok(), "the API was asked");

    // The proxy's port: where it forwards.
    let out = portscope(&docker, runtime_dir.path())
        .args(["who", &host_port.to_string()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("docker-proxy"), "{text}");
    assert!(
        text.contains(&format!(
            "forwards host port {host_port} to container web ({CONTAINER_IP}:80)"
        )),
        "{text}"
    );
    // Port 80 asked about: the container's listener, saying which container.
    let out = portscope(&docker, runtime_dir.path())
        .args(["who", "80"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("(in container web (Docker))"), "{text}");

    // Without the API: the container by its short ID, and the same proxy sentence by address.
    let silent = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_portscope"))
        .env(
            "DOCKER_HOST",
            format!("unix://{}/none.sock", silent.path().display()),
        )
        .env("XDG_RUNTIME_DIR", silent.path())
        .args(["list", "-A", "--json", &format!("container:{}", &id[..12])])
        .output()
        .unwrap();
    let records: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(records.len(), 1, "{records:#?}");
    assert_eq!(records[0]["container"]["name"], Value::Null);
    drop((proxy, container));
    drop(group);
}

/// The window, on a fixed table: a proxy's row says where it forwards and leads to the
/// container's socket; the container column names the container.
#[test]
fn the_window_leads_from_a_proxy_to_its_containers_socket() {
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;
    use portscope::model::container::{Container, Published};
    use portscope::model::netns::NetNs;
    use portscope::model::{Pids, ProcessInfo, Proto, SockState, Socket};
    use portscope::ui::{PortscopeApp, Prefs};

    let web = Container {
        runtime: "Docker".to_owned(),
        id: "ab".repeat(32),
        name: Some("web".to_owned()),
        image: Some("nginx:test".to_owned()),
    };
    let socket = |port: u16, pid: u32, netns: u32| Socket {
        host: 0,
        proto: Proto::Tcp,
        local_addr: "0.0.0.0".parse().unwrap(),
        local_port: port,
        remote_addr: None,
        remote_port: None,
        state: SockState::Listen,
        pids: Pids::from_slice(&[pid]),
        uid: Some(0),
        inode: Some(u32::from(port)),
        cookie: u64::from(port),
        recv_q: 0,
        send_q: 128,
        netns,
    };
    let process = |pid: u32, name: &str| ProcessInfo {
        pid,
        name: name.to_owned(),
        exe: None,
        cmdline: vec![name.to_owned()],
        uid: Some(0),
        user: Some("root".to_owned()),
        parent_pid: Some(1),
        start_time: Some(1),
    };
    let mut snap = common::demo_snapshot();
    for s in &mut snap.sockets {
        s.netns = 1;
    }
    snap.sockets.push(socket(8080, 700, 1));
    snap.sockets.push(socket(80, 900, 2));
    snap.processes.insert(700, process(700, "docker-proxy"));
    snap.processes.insert(900, process(900, "nginx"));
    snap.containers.insert(900, web.clone());
    snap.published.insert(
        700,
        vec![Published {
            proto: Proto::Tcp,
            host_ip: None,
            host_port: 8080,
            container_ip: Some("172.17.0.2".parse().unwrap()),
            container_port: 80,
            container: Some(web.clone()),
            text: "forwards host port 8080 to container web (172.17.0.2:80)".to_owned(),
        }],
    );
    snap.namespaces = [
        NetNs {
            inode: 1,
            own: true,
            sockets: snap.sockets.len() - 1,
            ..NetNs::default()
        },
        NetNs {
            inode: 2,
            sockets: 1,
            container: Some(web),
            ..NetNs::default()
        },
    ]
    .into_iter()
    .map(|ns| (ns.inode, ns))
    .collect();

    let mut h = Harness::builder()
        .with_size([1600.0, 900.0])
        .with_context_setup(portscope::ui::setup_context)
        .build_ui_state(
            |ui, app: &mut PortscopeApp| app.ui(ui),
            PortscopeApp::from_snapshot(
                snap,
                Prefs {
                    filter: "port:8080,80 state:listen".to_owned(),
                    ..Prefs::default()
                },
            ),
        );
    h.run();
    h.get_by_label("Container");
    h.get_by_label("container web (Docker)");
    h.get_by_label("docker-proxy").click();
    h.run();
    h.get_by_label("forwards host port 8080 to container web (172.17.0.2:80).");
    h.get_by_label("Show the container's socket").click();
    h.run();
    let selected = h.state().selected().expect("a selection");
    assert_eq!((selected.local_port, selected.netns), (80, 2));
    h.get_by_label_contains("web (Docker, ID abababababab), image nginx:test");
}

/// Without privilege another user's container keeps its sockets out of sight: `list -A` says
/// so, naming the container, instead of leaving the reader to think there are none.
#[test]
fn a_user_without_privilege_is_told_which_containers_need_root() {
    use common::users::{Shared, as_nobody};

    assert!(is_root(), "this test makes a namespace and a control group");
    let shared = Shared::new("hidden-container");
    let id = format!("41dde0{:010x}{:048x}", std::process::id(), 0);
    let mut inside = Command::new("unshare");
    inside.args([
        "-n",
        "sh",
        "-c",
        "ip link set lo up && exec python3 -c \"$0\"",
        "import socket, sys\n\
         s = socket.socket(); s.bind(('0.0.0.0', 80)); s.listen()\n\
         print('ready', flush=True)\n\
         sys.stdin.read()\n",
    ]);
    let (container, _) = Running::start(inside);
    let group = Group::docker(&id, container.0.id());

    let out = as_nobody(&shared.path("portscope"))
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args(["list", "-A", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    // (Other containers of the machine may be named too.)
    assert!(
        stderr.contains("container: needs root") || stderr.contains("containers: need root"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{} (Docker)", &id[..12])),
        "{stderr}"
    );
    let records: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(records.iter().all(|r| r["container"]["id"] != id.as_str()));

    // As root, the container's sockets are there and nothing is said to be missing.
    let out = Command::new(env!("CARGO_BIN_EXE_portscope"))
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args(["list", "-A", "--json", &format!("container:{}", &id[..12])])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("not listed"));
    let records: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(records.len(), 1);
    drop(container);
    drop(group);
}
