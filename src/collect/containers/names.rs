//! Containers' names for polls and frames that must never wait.
//!
//! Asking a runtime's API takes a connection and up to its timeout (2 s for a daemon that hangs),
//! while a poll or a frame asks for a container's name for every row. So [`ContainerNames::get`]
//! only looks in a cache under a short lock. The first time it is asked about a container the
//! cache does not know, and whenever the cache is older than its refresh interval, it wakes one
//! background thread (started on first need) that asks every available API, replaces the cache
//! with their answer, keeps why any API failed as a short status for the UI ("Docker API:
//! permission denied on /var/run/docker.sock"), and calls `wake` so the window repaints.
//!
//! A container no API knows (another user's rootless container, a Kubernetes container under
//! containerd) is asked about once, then only at the periodic refresh: rows of unknown containers
//! do not turn into a query per poll. Time comes from an injected clock, so tests drive the
//! refresh interval without sleeping.

use std::collections::{BTreeSet, HashSet};
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use super::api::{self, ApiError, ContainerInfo, Endpoint, Limits};
use super::cgroup::{ContainerRef, Runtime};

/// Where the time comes from.
pub type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// How often the cache is refreshed while it is being asked, by default.
pub const REFRESH_EVERY: Duration = Duration::from_secs(10);

/// The most unknown containers remembered as already asked about.
const MAX_ASKED: usize = 10_000;

/// What one round of asking the APIs found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listing {
    /// Every running container the APIs that answered know.
    pub containers: Vec<ContainerInfo>,
    /// Whether any API answered; when none did, the cache keeps what it had.
    pub answered: bool,
    /// Why APIs failed, one short line each.
    pub errors: Vec<String>,
}

/// Asks the runtimes for their containers. [`RuntimeApis`] asks the real ones; tests supply a
/// closure.
pub trait ListContainers: Send + Sync + 'static {
    /// Every running container. `users` are the rootless containers' owners seen so far, whose
    /// own Docker and Podman sockets are worth asking too. May block; it runs on the background thread.
    fn list(&self, users: &[u32]) -> Listing;
}

impl<F> ListContainers for F
where
    F: Fn(&[u32]) -> Listing + Send + Sync + 'static,
{
    fn list(&self, users: &[u32]) -> Listing {
        self(users)
    }
}

/// Docker's and Podman's APIs on their Unix sockets.
#[derive(Clone, Debug)]
pub struct RuntimeApis {
    pub endpoints: Vec<Endpoint>,
    pub limits: Limits,
}

impl RuntimeApis {
    /// The sockets this process's environment points at ([`Endpoint::discover`]).
    pub fn discover() -> Self {
        RuntimeApis {
            endpoints: Endpoint::discover(),
            limits: Limits::default(),
        }
    }
}

impl ListContainers for RuntimeApis {
    fn list(&self, users: &[u32]) -> Listing {
        let mut endpoints = self.endpoints.clone();
        for rootless in users.iter().flat_map(|user| Endpoint::rootless(*user)) {
            if !endpoints.contains(&rootless) {
                endpoints.push(rootless);
            }
        }
        let mut listing = Listing::default();
        let mut missing = Vec::new();
        for endpoint in &endpoints {
            match api::list_containers(endpoint, &self.limits) {
                Ok(containers) => {
                    listing.answered = true;
                    listing.containers.extend(containers);
                }
                Err(ApiError::NotFound(_)) => missing.push(endpoint),
                Err(e) => listing
                    .errors
                    .push(format!("{} API: {e}", endpoint.runtime.label())),
            }
        }
        // Sockets that are not there only matter when no API could be asked at all.
        if !listing.answered && listing.errors.is_empty() && !missing.is_empty() {
            listing.errors.push(format!(
                "no Docker or Podman API socket ({})",
                missing
                    .iter()
                    .map(|endpoint| endpoint.path.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        listing
    }
}

/// A cache of the runtimes' containers that is asked without waiting.
pub struct ContainerNames {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the background thread.
    work: Condvar,
    lister: Box<dyn ListContainers>,
    clock: Clock,
    refresh_every: Duration,
    wake: Box<dyn Fn() + Send + Sync>,
}

#[derive(Default)]
struct State {
    containers: Arc<[ContainerInfo]>,
    errors: Vec<String>,
    /// When the last refresh was asked for.
    requested_at: Option<Instant>,
    /// A refresh is wanted and the thread has not started it yet.
    requested: bool,
    /// Containers asked about that the cache did not know.
    asked: HashSet<String>,
    /// Rootless containers' owners.
    users: BTreeSet<u32>,
    refreshes: u64,
    started: bool,
    shutdown: bool,
}

impl ContainerNames {
    /// The real APIs, the system's clock and a refresh every [`REFRESH_EVERY`]; `wake` is called
    /// whenever new answers are in (the window's repaint).
    pub fn new(wake: impl Fn() + Send + Sync + 'static) -> Self {
        ContainerNames::with(
            RuntimeApis::discover(),
            Arc::new(Instant::now),
            REFRESH_EVERY,
            wake,
        )
    }

    pub fn with(
        lister: impl ListContainers,
        clock: Clock,
        refresh_every: Duration,
        wake: impl Fn() + Send + Sync + 'static,
    ) -> Self {
        ContainerNames {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                work: Condvar::new(),
                lister: Box::new(lister),
                clock,
                refresh_every,
                wake: Box::new(wake),
            }),
        }
    }

    /// What the runtime's API said about `container` at the last refresh: never waits. Unknown
    /// containers, and a cache older than the refresh interval, start a refresh in the
    /// background; the answer is there on a later call. Containers of runtimes without an API
    /// here (systemd-nspawn, LXC, containerd) are `None` at once.
    pub fn get(&self, container: &ContainerRef) -> Option<ContainerInfo> {
        if !matches!(container.runtime, Runtime::Docker | Runtime::Podman) {
            return None;
        }
        let now = (self.shared.clock)();
        let mut state = self.shared.lock();
        let found = state
            .containers
            .iter()
            .find(|known| known.has_id(&container.id))
            .cloned();
        let mut refresh = state
            .requested_at
            .is_none_or(|at| now.saturating_duration_since(at) >= self.shared.refresh_every);
        if found.is_none() {
            if state.asked.len() >= MAX_ASKED {
                state.asked.clear();
            }
            refresh |= state.asked.insert(container.id.clone());
        }
        if let Some(user) = container
            .user
            .filter(|_| container.runtime == Runtime::Podman)
        {
            refresh |= state.users.insert(user);
        }
        if refresh {
            state.requested_at = Some(now);
            state.requested = true;
            self.start(&mut state);
            self.shared.work.notify_one();
        }
        found
    }

    /// Every container known at the last refresh: what a forward is matched against
    /// ([`super::forward::container_for`]). Never waits; starts a refresh when the cache is old.
    pub fn containers(&self) -> Arc<[ContainerInfo]> {
        let now = (self.shared.clock)();
        let mut state = self.shared.lock();
        if state
            .requested_at
            .is_none_or(|at| now.saturating_duration_since(at) >= self.shared.refresh_every)
        {
            state.requested_at = Some(now);
            state.requested = true;
            self.start(&mut state);
            self.shared.work.notify_one();
        }
        Arc::clone(&state.containers)
    }

    /// Why the APIs could not be asked at the last refresh, for the status bar; `None` when all
    /// that could be asked answered.
    pub fn status(&self) -> Option<String> {
        let state = self.shared.lock();
        (!state.errors.is_empty()).then(|| state.errors.join("; "))
    }

    /// How many refreshes have finished.
    pub fn refreshes(&self) -> u64 {
        self.shared.lock().refreshes
    }

    /// Starts the background thread the first time it is needed.
    fn start(&self, state: &mut State) {
        if state.started {
            return;
        }
        let shared = Arc::clone(&self.shared);
        let spawned = thread::Builder::new()
            .name("container-names".to_owned())
            .spawn(move || shared.serve());
        match spawned {
            Ok(_) => state.started = true,
            Err(e) => state.errors = vec![format!("cannot start a thread: {e}")],
        }
    }
}

impl Drop for ContainerNames {
    /// Tells the thread to end; a query under way finishes on its own, within its timeout.
    fn drop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.work.notify_one();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The background thread: one refresh per request, until the cache is dropped.
    fn serve(&self) {
        loop {
            let users: Vec<u32> = {
                let mut state = self.lock();
                while !state.requested && !state.shutdown {
                    state = self
                        .work
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                if state.shutdown {
                    return;
                }
                state.requested = false;
                state.users.iter().copied().collect()
            };
            let listing = panic::catch_unwind(AssertUnwindSafe(|| self.lister.list(&users)))
                .unwrap_or_else(|_| Listing {
                    errors: vec!["asking the container APIs failed unexpectedly".to_owned()],
                    ..Listing::default()
                });
            {
                let mut state = self.lock();
                if listing.answered {
                    state.containers = listing.containers.into();
                }
                state.errors = listing.errors;
                state.refreshes += 1;
            }
            (self.wake)();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::mpsc;

    use crate::model::Proto;

    const ID: &str = "3f4e5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081";
    const DEADLINE: Duration = Duration::from_secs(10);

    fn docker(id: &str) -> ContainerRef {
        ContainerRef {
            runtime: Runtime::Docker,
            id: id.to_owned(),
            pod: None,
            user: None,
        }
    }

    fn web() -> ContainerInfo {
        ContainerInfo {
            runtime: Runtime::Docker,
            id: ID.to_owned(),
            names: vec!["web".to_owned()],
            image: "nginx".to_owned(),
            addresses: vec![],
            ports: vec![api::PublishedPort {
                proto: Proto::Tcp,
                ip: None,
                private_port: 80,
                public_port: Some(8080),
            }],
        }
    }

    /// A clock the test moves by hand.
    fn manual_clock() -> (Clock, Arc<Mutex<Instant>>) {
        let now = Arc::new(Mutex::new(Instant::now()));
        let read = Arc::clone(&now);
        (Arc::new(move || *read.lock().unwrap()), now)
    }

    /// A cache over `lister` whose refreshes are announced on the returned channel.
    fn names(lister: impl ListContainers, clock: Clock) -> (ContainerNames, mpsc::Receiver<()>) {
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        let names = ContainerNames::with(lister, clock, Duration::from_secs(10), move || {
            let _ = tx.lock().unwrap().send(());
        });
        (names, rx)
    }

    /// A lister that answers `web` and counts its calls.
    fn counting() -> (impl ListContainers, Arc<AtomicU64>) {
        let calls = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&calls);
        let lister = move |_: &[u32]| {
            counted.fetch_add(1, Ordering::SeqCst);
            Listing {
                containers: vec![web()],
                answered: true,
                errors: vec![],
            }
        };
        (lister, calls)
    }

    #[test]
    fn get_never_waits_for_the_api() {
        let (started_tx, started) = mpsc::channel::<()>();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (started_tx, release_rx) = (Mutex::new(started_tx), Mutex::new(release_rx));
        let lister = move |_: &[u32]| {
            let _ = started_tx.lock().unwrap().send(());
            // Blocks like a hung daemon, for at most the deadline.
            let _ = release_rx.lock().unwrap().recv_timeout(DEADLINE);
            Listing {
                containers: vec![web()],
                answered: true,
                errors: vec![],
            }
        };
        let (names, refreshed) = names(lister, Arc::new(Instant::now));
        assert_eq!(names.get(&docker(ID)), None);
        // The query is under way and hangs: asking again answers at once.
        started.recv_timeout(DEADLINE).unwrap();
        let start = Instant::now();
        for _ in 0..100 {
            assert_eq!(names.get(&docker(ID)), None);
            assert!(names.containers().is_empty());
            assert_eq!(names.status(), None);
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
        release_tx.send(()).unwrap();
        refreshed.recv_timeout(DEADLINE).unwrap();
        assert_eq!(
            names
                .get(&docker(ID))
                .and_then(|c| c.names.first().cloned()),
            Some("web".to_owned())
        );
        // The short ID finds it too.
        assert!(names.get(&docker(&ID[..12])).is_some());
    }

    #[test]
    fn an_unknown_container_asks_once_then_waits_for_the_refresh_interval() {
        let (lister, calls) = counting();
        let (clock, now) = manual_clock();
        let (names, refreshed) = names(lister, clock);
        let stranger = docker(&"b".repeat(64));
        assert_eq!(names.get(&stranger), None);
        refreshed.recv_timeout(DEADLINE).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        for _ in 0..50 {
            assert_eq!(names.get(&stranger), None);
            assert!(names.get(&docker(ID)).is_some());
        }
        // Another unknown container asks again, once.
        assert_eq!(names.get(&docker(&"c".repeat(64))), None);
        refreshed.recv_timeout(DEADLINE).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        // Nothing more until the interval has passed.
        *now.lock().unwrap() += Duration::from_secs(9);
        assert_eq!(names.get(&stranger), None);
        assert_eq!(
            refreshed.recv_timeout(Duration::from_millis(200)),
            Err(mpsc::RecvTimeoutError::Timeout)
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        *now.lock().unwrap() += Duration::from_secs(1);
        assert_eq!(names.get(&stranger), None);
        refreshed.recv_timeout(DEADLINE).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(names.refreshes(), 3);
    }

    #[test]
    fn runtimes_without_an_api_here_ask_nothing() {
        let (lister, calls) = counting();
        let (names, refreshed) = names(lister, Arc::new(Instant::now));
        for runtime in [
            Runtime::Nspawn,
            Runtime::Lxc,
            Runtime::Containerd,
            Runtime::CriO,
        ] {
            let container = ContainerRef {
                runtime,
                ..docker(ID)
            };
            assert_eq!(names.get(&container), None);
        }
        assert_eq!(
            refreshed.recv_timeout(Duration::from_millis(200)),
            Err(mpsc::RecvTimeoutError::Timeout)
        );
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn failures_are_kept_as_status_and_the_last_answer_stays() {
        let answer = Arc::new(Mutex::new(Listing {
            containers: vec![web()],
            answered: true,
            errors: vec![],
        }));
        let given = Arc::clone(&answer);
        let (clock, now) = manual_clock();
        let (names, refreshed) = names(move |_: &[u32]| given.lock().unwrap().clone(), clock);
        assert_eq!(names.get(&docker(ID)), None);
        refreshed.recv_timeout(DEADLINE).unwrap();
        assert_eq!(names.status(), None);
        *answer.lock().unwrap() = Listing {
            containers: vec![],
            answered: false,
            errors: vec!["Docker API: permission denied on /var/run/docker.sock".to_owned()],
        };
        *now.lock().unwrap() += Duration::from_secs(10);
        assert!(names.get(&docker(ID)).is_some());
        refreshed.recv_timeout(DEADLINE).unwrap();
        assert_eq!(
            names.status().as_deref(),
            Some("Docker API: permission denied on /var/run/docker.sock")
        );
        assert!(names.get(&docker(ID)).is_some(), "the last answer is kept");
    }

    #[test]
    fn rootless_owners_are_handed_to_the_lister() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        let (names, refreshed) = names(
            move |users: &[u32]| {
                record.lock().unwrap().push(users.to_vec());
                Listing::default()
            },
            Arc::new(Instant::now),
        );
        let rootless = ContainerRef {
            runtime: Runtime::Podman,
            user: Some(1000),
            ..docker(ID)
        };
        assert_eq!(names.get(&rootless), None);
        refreshed.recv_timeout(DEADLINE).unwrap();
        assert_eq!(*seen.lock().unwrap(), [vec![1000]]);
    }

    #[test]
    fn a_panicking_lister_is_a_status_not_a_dead_thread() {
        let (clock, now) = manual_clock();
        let calls = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&calls);
        let (names, refreshed) = names(
            move |_: &[u32]| {
                if counted.fetch_add(1, Ordering::SeqCst) == 0 {
                    panic!("boom");
                }
                Listing {
                    containers: vec![web()],
                    answered: true,
                    errors: vec![],
                }
            },
            clock,
        );
        assert_eq!(names.get(&docker(ID)), None);
        refreshed.recv_timeout(DEADLINE).unwrap();
        assert!(names.status().is_some());
        *now.lock().unwrap() += Duration::from_secs(10);
        let _ = names.containers();
        refreshed.recv_timeout(DEADLINE).unwrap();
        assert_eq!(names.containers().len(), 1);
        assert_eq!(names.status(), None);
    }

    #[test]
    fn missing_sockets_are_one_line_and_only_when_nothing_answered() {
        let dir = tempfile::tempdir().unwrap();
        let apis = RuntimeApis {
            endpoints: vec![
                Endpoint {
                    runtime: Runtime::Docker,
                    path: dir.path().join("docker.sock"),
                },
                Endpoint {
                    runtime: Runtime::Podman,
                    path: dir.path().join("podman.sock"),
                },
            ],
            limits: Limits::default(),
        };
        let listing = apis.list(&[]);
        assert!(!listing.answered);
        assert_eq!(listing.errors.len(), 1);
        assert!(
            listing.errors[0].starts_with("no Docker or Podman API socket ("),
            "{:?}",
            listing.errors
        );
    }
}
