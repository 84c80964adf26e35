//! Reverse DNS for remote addresses, without ever making a frame wait.
//!
//! Name resolution is off until the user switches it on: portscope sends nothing to the
//! network unless asked, and a reverse lookup of a remote address tells that address's DNS
//! operator who is looking. While it is off, [`Resolver::lookup`] answers [`Lookup::Off`] and
//! no thread is started.
//!
//! The UI asks for every visible address on every frame, so [`Resolver::lookup`] only ever
//! consults a cache under a short lock and, on a miss, puts the address on a bounded queue. A
//! small pool of threads, started on first use, works the queue and calls `wake` when an answer
//! lands so the window repaints. Requests beyond the queue's bound are turned away and simply
//! asked again on a later frame, so the caller never blocks and memory stays bounded.
//!
//! The system resolver (`getnameinfo`) cannot be cancelled and may hang for tens of seconds
//! when a nameserver does not answer. A watchdog thread therefore reports a lookup that
//! outlives its timeout as [`Lookup::TimedOut`], counts its worker as stuck and starts a
//! replacement (up to a cap on threads), so one dead nameserver costs a thread, not the pool.
//! When the stuck call does return with a definite answer, that answer replaces `TimedOut`.
//!
//! A PTR record says whatever its owner wants: `localhost`, `10.0.0.1`, `www.yourbank.example`.
//! So a name is only believed when it leads back: the name's own addresses (A/AAAA) must include
//! the address it was found for (forward-confirmed reverse DNS). A name that is an address
//! itself, is not a host name, or is `localhost` for an address that is not loopback is never
//! believed. Both lookups together are one job with one timeout. A name is shown beside the
//! address, never instead of it (see `ui::names`), and it is still text from a stranger.
//!
//! Answers are cached with a time to live, longer for names than for failures, in a cache of
//! bounded size that evicts its oldest entries. An expired answer is still shown while its
//! refresh is on the way, so names don't flicker away every few minutes.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io;
use std::net::IpAddr;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// What is known about the name of one address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Name resolution is switched off.
    Off,
    /// A query is queued or on its way (or waits for room in the queue).
    Pending,
    /// The address's name.
    Name(Arc<str>),
    /// The address has no name: no PTR record, or it resolves only to itself.
    NoName,
    /// The PTR record names something that does not lead back to the address (its name does
    /// not resolve to it, or it is `localhost`, an address, not a host name): not shown.
    Unconfirmed,
    /// The resolver did not answer within the timeout.
    TimedOut,
    /// The resolver failed, with its reason.
    Failed(Arc<str>),
}

impl Lookup {
    /// The name, if there is one.
    pub fn name(&self) -> Option<&str> {
        match self {
            Lookup::Name(name) => Some(name),
            _ => None,
        }
    }

    /// Whether this is a definite answer (a name or the lack of one), as opposed to a failure
    /// or no answer yet.
    fn is_definite(&self) -> bool {
        matches!(self, Lookup::Name(_) | Lookup::NoName | Lookup::Unconfirmed)
    }
}

/// The lookups themselves. The system's resolver is [`SystemLookup`]; tests supply their own.
/// A pair of functions or closures of the right shapes, `(reverse, forward)`, implements it.
pub trait NameLookup: Send + Sync + 'static {
    /// The name of `addr` (its PTR record): `Ok(Some(name))`, `Ok(None)` when it has none, or
    /// `Err(reason)`. May block; it runs on a worker thread.
    fn reverse(&self, addr: IpAddr) -> Result<Option<String>, String>;

    /// The addresses of `name` (its A and AAAA records): empty when it has none, or
    /// `Err(reason)`. May block; it runs on a worker thread.
    fn forward(&self, name: &str) -> Result<Vec<IpAddr>, String>;
}

impl<R, F> NameLookup for (R, F)
where
    R: Fn(IpAddr) -> Result<Option<String>, String> + Send + Sync + 'static,
    F: Fn(&str) -> Result<Vec<IpAddr>, String> + Send + Sync + 'static,
{
    fn reverse(&self, addr: IpAddr) -> Result<Option<String>, String> {
        (self.0)(addr)
    }

    fn forward(&self, name: &str) -> Result<Vec<IpAddr>, String> {
        (self.1)(name)
    }
}

/// The operating system's resolver (`getnameinfo` with `NI_NAMEREQD`, `getaddrinfo`), which
/// honours the hosts file and the system's DNS configuration.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemLookup;

/// The resolver's reason, without the library's boilerplate.
fn reason(err: &dns_lookup::LookupError) -> String {
    let text = err.to_string();
    text.strip_prefix("failed to lookup address information: ")
        .unwrap_or(&text)
        .to_owned()
}

impl NameLookup for SystemLookup {
    fn forward(&self, name: &str) -> Result<Vec<IpAddr>, String> {
        match dns_lookup::lookup_host(name) {
            Ok(addrs) => Ok(addrs.collect()),
            Err(err) => match err.kind() {
                dns_lookup::LookupErrorKind::NoName | dns_lookup::LookupErrorKind::NoData => {
                    Ok(Vec::new())
                }
                _ => Err(reason(&err)),
            },
        }
    }

    fn reverse(&self, addr: IpAddr) -> Result<Option<String>, String> {
        match dns_lookup::lookup_addr(&addr) {
            Ok(name) => Ok(Some(name)),
            Err(err) => match err.kind() {
                dns_lookup::LookupErrorKind::NoName | dns_lookup::LookupErrorKind::NoData => {
                    Ok(None)
                }
                _ => Err(reason(&err)),
            },
        }
    }
}

/// How the resolver behaves. [`Config::default`] suits the GUI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Worker threads that serve the queue (at least 1).
    pub workers: usize,
    /// Most worker threads alive at once, counting those stuck in a timed-out lookup. Once
    /// reached, stuck workers are not replaced until they return.
    pub max_workers: usize,
    /// Most addresses waiting for a worker (at least 1). Further requests are turned away and
    /// answered `Pending`; the UI asks again on a later frame.
    pub queue_capacity: usize,
    /// How long a lookup may take before it is reported as [`Lookup::TimedOut`].
    pub timeout: Duration,
    /// How long a name, or the lack of one, is kept.
    pub name_ttl: Duration,
    /// How long a failure or timeout is kept before the address is asked again.
    pub failure_ttl: Duration,
    /// Most answers kept (at least 1); the oldest go first.
    pub cache_capacity: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            workers: 4,
            max_workers: 16,
            queue_capacity: 256,
            timeout: Duration::from_secs(2),
            name_ttl: Duration::from_secs(10 * 60),
            failure_ttl: Duration::from_secs(60),
            cache_capacity: 10_000,
        }
    }
}

impl Config {
    /// The same settings with every bound made usable.
    fn normalized(mut self) -> Self {
        self.workers = self.workers.max(1);
        self.max_workers = self.max_workers.max(self.workers);
        self.queue_capacity = self.queue_capacity.max(1);
        self.cache_capacity = self.cache_capacity.max(1);
        self
    }
}

/// Counters, mainly for tests and diagnostics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Lookups handed to the resolver so far.
    pub queries_sent: u64,
    /// Requests turned away because the queue was full.
    pub deferred: u64,
    /// Addresses waiting for a worker.
    pub queued: usize,
    /// Lookups running and not yet timed out.
    pub in_flight: usize,
    /// Worker threads alive, including stuck ones.
    pub workers: usize,
    /// Workers still inside a lookup that timed out.
    pub stuck: usize,
    /// Answers in the cache, expired ones included.
    pub cached: usize,
}

/// Reverse DNS for the UI: [`lookup`](Resolver::lookup) never blocks, answers arrive in the
/// background. Starts switched off.
pub struct Resolver {
    shared: Arc<Shared>,
}

impl Resolver {
    /// A resolver using the system's resolver and [`Config::default`]. `wake` is called from a
    /// worker thread whenever a new answer is ready (the GUI passes `request_repaint`).
    pub fn new(wake: impl Fn() + Send + Sync + 'static) -> Resolver {
        Resolver::with_config(Config::default(), SystemLookup, wake)
    }

    /// A resolver with its own settings and lookup function.
    pub fn with_config(
        config: Config,
        lookup: impl NameLookup,
        wake: impl Fn() + Send + Sync + 'static,
    ) -> Resolver {
        let config = config.normalized();
        let state = State {
            enabled: false,
            shutdown: false,
            cache: Cache::new(config.cache_capacity),
            queue: VecDeque::with_capacity(config.queue_capacity),
            pending: HashSet::new(),
            in_flight: HashMap::new(),
            next_job: 0,
            watchdog_started: false,
            workers: 0,
            stuck: 0,
            queries_sent: 0,
            deferred: 0,
        };
        Resolver {
            shared: Arc::new(Shared {
                config,
                lookup: Box::new(lookup),
                wake: Box::new(wake),
                state: Mutex::new(state),
                work: Condvar::new(),
                watch: Condvar::new(),
            }),
        }
    }

    /// What is known about `addr`'s name. Never blocks: on a miss the address is queued and
    /// `Pending` returned; asking again while it is pending queues nothing. A hit costs a hash
    /// lookup under a short lock and allocates nothing.
    pub fn lookup(&self, addr: IpAddr) -> Lookup {
        // `::ffff:a.b.c.d` is the IPv4 peer of a dual-stack socket: the same host.
        let addr = addr.to_canonical();
        let mut state = self.shared.lock();
        if !state.enabled {
            return Lookup::Off;
        }
        if addr.is_unspecified() {
            return Lookup::NoName;
        }
        let now = Instant::now();
        let stale = match state.cache.get(&addr, now) {
            Some(Cached::Fresh(answer)) => return answer,
            Some(Cached::Stale(answer)) => Some(answer),
            None => None,
        };
        if !state.pending.contains(&addr) {
            if state.queue.len() >= self.shared.config.queue_capacity {
                state.deferred += 1;
            } else if let Err(err) = self.shared.start(&mut state) {
                // Without a thread nothing can be resolved; keep the reason for a while
                // rather than trying to spawn again on every frame.
                let answer =
                    Lookup::Failed(format!("cannot start a resolver thread: {err}").into());
                let ttl = self.shared.config.failure_ttl;
                state.cache.insert(addr, answer.clone(), ttl, now);
                return answer;
            } else {
                state.queue.push_back(addr);
                state.pending.insert(addr);
                self.shared.work.notify_one();
            }
        }
        stale.unwrap_or(Lookup::Pending)
    }

    /// Switch resolution on or off. Switching off drops the queued requests; lookups already
    /// running cannot be recalled, and their answers are kept for when it is switched on again.
    pub fn set_enabled(&self, enabled: bool) {
        let mut state = self.shared.lock();
        state.enabled = enabled;
        if !enabled {
            let State { queue, pending, .. } = &mut *state;
            for addr in queue.drain(..) {
                pending.remove(&addr);
            }
        }
    }

    /// Whether resolution is switched on.
    pub fn enabled(&self) -> bool {
        self.shared.lock().enabled
    }

    /// Forget every answer, so each address is asked again. Queued and running lookups go on.
    pub fn clear(&self) {
        self.shared.lock().cache.clear();
    }

    /// Counters, for tests and diagnostics.
    pub fn stats(&self) -> Stats {
        let state = self.shared.lock();
        Stats {
            queries_sent: state.queries_sent,
            deferred: state.deferred,
            queued: state.queue.len(),
            in_flight: state
                .in_flight
                .values()
                .filter(|job| !job.timed_out)
                .count(),
            workers: state.workers,
            stuck: state.stuck,
            cached: state.cache.len(),
        }
    }
}

impl Drop for Resolver {
    /// Tell the threads to end. They are not joined: one may be stuck in the system resolver
    /// for a long time, and it ends by itself once that returns.
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.shutdown = true;
        state.queue.clear();
        state.pending.clear();
        drop(state);
        self.shared.work.notify_all();
        self.shared.watch.notify_all();
    }
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("config", &self.shared.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// What the resolver's threads share with it.
struct Shared {
    config: Config,
    lookup: Box<dyn NameLookup>,
    wake: Box<dyn Fn() + Send + Sync>,
    state: Mutex<State>,
    /// Workers wait here for queued addresses.
    work: Condvar,
    /// The watchdog waits here for the next deadline.
    watch: Condvar,
}

struct State {
    enabled: bool,
    shutdown: bool,
    cache: Cache,
    /// Addresses waiting for a worker.
    queue: VecDeque<IpAddr>,
    /// Addresses queued or running (and not yet timed out): never queued twice.
    pending: HashSet<IpAddr>,
    /// Running lookups by job number, timed-out ones included until they return.
    in_flight: HashMap<u64, Job>,
    next_job: u64,
    watchdog_started: bool,
    /// Worker threads alive, stuck ones included.
    workers: usize,
    /// Workers inside a lookup that timed out.
    stuck: usize,
    queries_sent: u64,
    deferred: u64,
}

struct Job {
    addr: IpAddr,
    deadline: Instant,
    timed_out: bool,
}

impl Shared {
    /// The state, also after a thread panicked while holding it: every update leaves it
    /// consistent, and lookups themselves run outside the lock.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Start the watchdog and the workers if they are not running yet. Fails only if no
    /// worker could be started.
    fn start(self: &Arc<Self>, state: &mut State) -> io::Result<()> {
        if !state.watchdog_started {
            let shared = Arc::clone(self);
            thread::Builder::new()
                .name("portscope-dns-watch".to_owned())
                .spawn(move || watchdog(&shared))?;
            state.watchdog_started = true;
        }
        if state.workers == 0 {
            self.top_up(state)?;
        }
        Ok(())
    }

    /// Start workers until enough are free to serve the queue, within the cap. Fails only if
    /// none is alive afterwards.
    fn top_up(self: &Arc<Self>, state: &mut State) -> io::Result<()> {
        let mut result = Ok(());
        while state.workers - state.stuck < self.config.workers
            && state.workers < self.config.max_workers
        {
            let shared = Arc::clone(self);
            match thread::Builder::new()
                .name("portscope-dns".to_owned())
                .spawn(move || worker(&shared))
            {
                Ok(_) => state.workers += 1,
                Err(err) => {
                    result = Err(err);
                    break;
                }
            }
        }
        if state.workers > 0 { Ok(()) } else { result }
    }

    /// Call `wake` without holding the lock, unless the resolver is gone.
    fn notify_ui<'a>(&'a self, state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        if state.shutdown {
            return state;
        }
        drop(state);
        // A panicking callback must not take a worker with it.
        let _ = panic::catch_unwind(AssertUnwindSafe(|| (self.wake)()));
        self.lock()
    }
}

/// A worker: takes addresses off the queue and resolves them, one at a time.
fn worker(shared: &Arc<Shared>) {
    let config = &shared.config;
    let mut state = shared.lock();
    loop {
        // A worker whose stuck lookup returned after a replacement was started is surplus.
        if state.shutdown || state.workers - state.stuck > config.workers {
            state.workers -= 1;
            return;
        }
        let Some(addr) = state.queue.pop_front() else {
            state = shared
                .work
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            continue;
        };
        let id = state.next_job;
        state.next_job += 1;
        state.queries_sent += 1;
        let deadline = Instant::now() + config.timeout;
        state.in_flight.insert(
            id,
            Job {
                addr,
                deadline,
                timed_out: false,
            },
        );
        drop(state);
        shared.watch.notify_one();

        let answer = panic::catch_unwind(AssertUnwindSafe(|| confirmed(&*shared.lookup, addr)))
            .unwrap_or_else(|_| Lookup::Failed("the lookup failed unexpectedly".into()));

        state = shared.lock();
        if finish(&mut state, config, id, answer) {
            state = shared.notify_ui(state);
        }
    }
}

/// Record the answer of job `id`. Returns whether the cache changed.
fn finish(state: &mut State, config: &Config, id: u64, answer: Lookup) -> bool {
    let Some(job) = state.in_flight.remove(&id) else {
        return false;
    };
    let now = Instant::now();
    if job.timed_out {
        state.stuck -= 1;
        // A late name is still worth showing, unless the address was asked anew meanwhile
        // or holds something other than the timeout. A late failure adds nothing.
        let replace = answer.is_definite()
            && !state.pending.contains(&job.addr)
            && state
                .cache
                .peek(&job.addr)
                .is_none_or(|held| *held == Lookup::TimedOut);
        if replace {
            state.cache.insert(job.addr, answer, config.name_ttl, now);
        }
        return replace;
    }
    state.pending.remove(&job.addr);
    let ttl = if answer.is_definite() {
        config.name_ttl
    } else {
        config.failure_ttl
    };
    state.cache.insert(job.addr, answer, ttl, now);
    true
}

/// The name of `addr`, if its PTR record names a host that leads back to it.
fn confirmed(lookup: &dyn NameLookup, addr: IpAddr) -> Lookup {
    let name = match lookup.reverse(addr) {
        Err(reason) => return Lookup::Failed(reason.into()),
        Ok(None) => return Lookup::NoName,
        Ok(Some(name)) => name,
    };
    let name = name.trim().trim_end_matches('.');
    if name.is_empty() {
        return Lookup::NoName;
    }
    if let Some(literal) = name
        .split('%')
        .next()
        .and_then(|text| text.parse::<IpAddr>().ok())
    {
        // Some resolvers return the address itself when there is no name; any other address
        // is a lie.
        return if literal.to_canonical() == addr {
            Lookup::NoName
        } else {
            Lookup::Unconfirmed
        };
    }
    if !is_host_name(name) || (is_localhost(name) && !addr.is_loopback()) {
        return Lookup::Unconfirmed;
    }
    match lookup.forward(name) {
        Err(reason) => Lookup::Failed(reason.into()),
        Ok(addrs) if addrs.iter().any(|a| a.to_canonical() == addr) => Lookup::Name(name.into()),
        Ok(_) => Lookup::Unconfirmed,
    }
}

/// Letters, digits, `-` and `_` in dot-separated labels of 1–63 characters, 253 in all: what a
/// DNS host name can be. Anything else (spaces, control or look-alike characters) is not shown.
fn is_host_name(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// `localhost` and names under it (RFC 6761): this machine, whatever a PTR record claims.
fn is_localhost(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// The watchdog: reports lookups that outlive their timeout and replaces their workers.
fn watchdog(shared: &Arc<Shared>) {
    let config = &shared.config;
    let mut state = shared.lock();
    loop {
        if state.shutdown {
            return;
        }
        let now = Instant::now();
        let mut changed = false;
        let mut next: Option<Instant> = None;
        let State {
            in_flight,
            pending,
            cache,
            stuck,
            ..
        } = &mut *state;
        for job in in_flight.values_mut().filter(|job| !job.timed_out) {
            if job.deadline <= now {
                job.timed_out = true;
                *stuck += 1;
                pending.remove(&job.addr);
                cache.insert(job.addr, Lookup::TimedOut, config.failure_ttl, now);
                changed = true;
            } else {
                next = Some(next.map_or(job.deadline, |next| next.min(job.deadline)));
            }
        }
        if changed {
            // If no thread can be started, the remaining workers serve the queue.
            let _ = shared.top_up(&mut state);
            state = shared.notify_ui(state);
            continue;
        }
        state = match next {
            None => shared
                .watch
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner),
            Some(deadline) => {
                shared
                    .watch
                    .wait_timeout(state, deadline.saturating_duration_since(now))
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
        };
    }
}

/// What the cache holds for an address.
enum Cached {
    Fresh(Lookup),
    /// Past its time to live: shown until the refresh arrives.
    Stale(Lookup),
}

/// Answers by address, bounded in size, oldest evicted first.
struct Cache {
    capacity: usize,
    entries: HashMap<IpAddr, Entry>,
    /// Addresses in the order their answers were stored, with the stamp of that answer;
    /// records whose stamp no longer matches the entry are left over from replaced answers.
    order: VecDeque<(IpAddr, u64)>,
    next_stamp: u64,
}

struct Entry {
    answer: Lookup,
    expires: Instant,
    stamp: u64,
}

impl Cache {
    fn new(capacity: usize) -> Self {
        Cache {
            capacity,
            entries: HashMap::new(),
            order: VecDeque::new(),
            next_stamp: 0,
        }
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    fn get(&self, addr: &IpAddr, now: Instant) -> Option<Cached> {
        let entry = self.entries.get(addr)?;
        let answer = entry.answer.clone();
        Some(if now < entry.expires {
            Cached::Fresh(answer)
        } else {
            Cached::Stale(answer)
        })
    }

    fn peek(&self, addr: &IpAddr) -> Option<&Lookup> {
        self.entries.get(addr).map(|entry| &entry.answer)
    }

    fn insert(&mut self, addr: IpAddr, answer: Lookup, ttl: Duration, now: Instant) {
        let stamp = self.next_stamp;
        self.next_stamp += 1;
        let entry = Entry {
            answer,
            expires: now + ttl,
            stamp,
        };
        if self.entries.insert(addr, entry).is_none() {
            while self.entries.len() > self.capacity {
                self.evict_oldest();
            }
        }
        self.order.push_back((addr, stamp));
        // Replaced answers leave records behind; drop them before they pile up.
        if self.order.len() > 2 * self.capacity + 16 {
            let entries = &self.entries;
            self.order
                .retain(|(addr, stamp)| entries.get(addr).is_some_and(|e| e.stamp == *stamp));
        }
    }

    fn evict_oldest(&mut self) {
        while let Some((addr, stamp)) = self.order.pop_front() {
            if self.entries.get(&addr).is_some_and(|e| e.stamp == stamp) {
                self.entries.remove(&addr);
                return;
            }
        }
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::sync::atomic::{AtomicUsize, Ordering};

    const DEADLINE: Duration = Duration::from_secs(10);

    fn v4(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
    }

    /// Ask until the answer is no longer `Pending`, as the UI does on every frame.
    fn settle(resolver: &Resolver, addr: IpAddr) -> Lookup {
        let start = Instant::now();
        loop {
            let answer = resolver.lookup(addr);
            if answer != Lookup::Pending || start.elapsed() > DEADLINE {
                return answer;
            }
            thread::sleep(Duration::from_millis(2));
        }
    }

    fn wait_until(mut done: impl FnMut() -> bool) -> bool {
        let start = Instant::now();
        while !done() {
            if start.elapsed() > DEADLINE {
                return false;
            }
            thread::sleep(Duration::from_millis(2));
        }
        true
    }

    /// A lookup that names every address `host-<last octet>` and counts its calls.
    fn naming(calls: &Arc<AtomicUsize>) -> impl NameLookup {
        let calls = Arc::clone(calls);
        confirming(move |addr: IpAddr| {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(Some(match addr {
                IpAddr::V4(v4) => format!("host-{}", v4.octets()[3]),
                IpAddr::V6(_) => "host-v6".to_owned(),
            }))
        })
    }

    /// A zone in which every PTR record that `reverse` gives has its matching A record: each
    /// name leads back to the addresses it was given for.
    fn confirming(
        reverse: impl Fn(IpAddr) -> Result<Option<String>, String> + Send + Sync + 'static,
    ) -> impl NameLookup {
        let zone: Arc<Mutex<HashMap<String, Vec<IpAddr>>>> = Arc::default();
        let written = Arc::clone(&zone);
        (
            move |addr: IpAddr| {
                let answer = reverse(addr);
                if let Ok(Some(name)) = &answer {
                    let name = name.trim().trim_end_matches('.').to_owned();
                    written.lock().unwrap().entry(name).or_default().push(addr);
                }
                answer
            },
            move |name: &str| Ok(zone.lock().unwrap().get(name).cloned().unwrap_or_default()),
        )
    }

    /// A resolver switched on, over `reverse` in a zone that confirms every name it gives.
    fn enabled(
        config: Config,
        reverse: impl Fn(IpAddr) -> Result<Option<String>, String> + Send + Sync + 'static,
    ) -> Resolver {
        enabled_over(config, confirming(reverse))
    }

    fn enabled_over(config: Config, lookup: impl NameLookup) -> Resolver {
        let resolver = Resolver::with_config(config, lookup, || {});
        resolver.set_enabled(true);
        resolver
    }

    /// A gate lookups wait at until the test opens it.
    #[derive(Default)]
    struct Gate {
        open: Mutex<bool>,
        changed: Condvar,
    }

    impl Gate {
        fn pass(&self) {
            let mut open = self.open.lock().unwrap();
            while !*open {
                open = self.changed.wait(open).unwrap();
            }
        }

        fn open(&self) {
            *self.open.lock().unwrap() = true;
            self.changed.notify_all();
        }
    }

    /// Whether the system resolver answers `addr` from the hosts file without asking a
    /// nameserver: tests must not send queries to anything but loopback.
    fn hosts_file_names(addr: IpAddr) -> bool {
        let Ok(nsswitch) = std::fs::read_to_string("/etc/nsswitch.conf") else {
            return false;
        };
        let files_first = nsswitch
            .lines()
            .filter_map(|line| line.trim().strip_prefix("hosts:"))
            .any(|sources| sources.split_whitespace().next() == Some("files"));
        let Ok(hosts) = std::fs::read_to_string("/etc/hosts") else {
            return false;
        };
        let listed = hosts.lines().any(|line| {
            let mut fields = line.split('#').next().unwrap_or("").split_whitespace();
            fields.next().and_then(|a| a.parse::<IpAddr>().ok()) == Some(addr)
                && fields.next().is_some()
        });
        files_first && listed
    }

    #[test]
    fn system_resolves_ipv4_loopback() {
        let addr = IpAddr::V4(Ipv4Addr::LOCALHOST);
        if !hosts_file_names(addr) {
            eprintln!("skipped: the hosts file does not name {addr}");
            return;
        }
        let resolver = Resolver::new(|| {});
        resolver.set_enabled(true);
        let answer = settle(&resolver, addr);
        assert!(
            answer.name().is_some_and(|name| !name.is_empty()),
            "{answer:?}"
        );
    }

    #[test]
    fn system_resolves_ipv6_loopback_if_hosts_names_it() {
        let addr = IpAddr::V6(Ipv6Addr::LOCALHOST);
        // Without a hosts entry the query would go to the configured nameserver, which need
        // not be on loopback, so it is not asked at all.
        if !hosts_file_names(addr) {
            eprintln!("skipped: the hosts file does not name {addr}");
            return;
        }
        let resolver = Resolver::new(|| {});
        resolver.set_enabled(true);
        let answer = settle(&resolver, addr);
        assert!(
            matches!(answer, Lookup::Name(_) | Lookup::NoName),
            "{answer:?}"
        );
    }

    #[test]
    fn off_by_default_and_sends_nothing() {
        let calls = Arc::new(AtomicUsize::new(0));
        let resolver = Resolver::with_config(Config::default(), naming(&calls), || {});
        assert!(!resolver.enabled());
        assert_eq!(resolver.lookup(v4(1)), Lookup::Off);
        assert_eq!(
            resolver.lookup(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            Lookup::Off
        );
        let stats = resolver.stats();
        assert_eq!(stats.workers, 0);
        assert_eq!(stats.queued, 0);
        assert_eq!(stats.queries_sent, 0);
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn switching_off_hides_answers_and_drops_the_queue() {
        let gate = Arc::new(Gate::default());
        let held = Arc::clone(&gate);
        let config = Config {
            workers: 1,
            ..Config::default()
        };
        let resolver = enabled(config, move |_| {
            held.pass();
            Ok(Some("named".to_owned()))
        });
        for last in 1..=5 {
            assert_eq!(resolver.lookup(v4(last)), Lookup::Pending);
        }
        resolver.set_enabled(false);
        assert_eq!(resolver.stats().queued, 0);
        assert_eq!(resolver.lookup(v4(1)), Lookup::Off);
        gate.open();
        assert!(wait_until(|| resolver.stats().in_flight == 0));
        // At most the one lookup already running was sent.
        assert!(resolver.stats().queries_sent <= 1);
        resolver.set_enabled(true);
        assert!(settle(&resolver, v4(5)).name().is_some());
    }

    #[test]
    fn unspecified_addresses_have_no_name_without_a_query() {
        let calls = Arc::new(AtomicUsize::new(0));
        let resolver = enabled_over(Config::default(), naming(&calls));
        assert_eq!(
            resolver.lookup(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            Lookup::NoName
        );
        assert_eq!(
            resolver.lookup(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
            Lookup::NoName
        );
        assert_eq!(resolver.stats().workers, 0);
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn pending_address_is_queued_once() {
        let gate = Arc::new(Gate::default());
        let held = Arc::clone(&gate);
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        let resolver = enabled(Config::default(), move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
            held.pass();
            Ok(Some("named".to_owned()))
        });
        for _ in 0..100 {
            assert_eq!(resolver.lookup(v4(1)), Lookup::Pending);
        }
        let stats = resolver.stats();
        assert!(stats.queued + stats.in_flight == 1, "{stats:?}");
        gate.open();
        assert_eq!(settle(&resolver, v4(1)), Lookup::Name("named".into()));
        assert_eq!(resolver.stats().queries_sent, 1);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn answers_are_cached() {
        let calls = Arc::new(AtomicUsize::new(0));
        let resolver = enabled_over(Config::default(), naming(&calls));
        assert_eq!(settle(&resolver, v4(7)), Lookup::Name("host-7".into()));
        for _ in 0..100 {
            assert_eq!(resolver.lookup(v4(7)), Lookup::Name("host-7".into()));
        }
        assert_eq!(resolver.stats().queries_sent, 1);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn negative_answers_and_failures_are_cached() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        let resolver = enabled(Config::default(), move |addr: IpAddr| {
            counted.fetch_add(1, Ordering::SeqCst);
            match addr {
                IpAddr::V4(v4) if v4.octets()[3] == 1 => Ok(None),
                IpAddr::V4(v4) if v4.octets()[3] == 2 => Err("server failure".to_owned()),
                IpAddr::V4(v4) if v4.octets()[3] == 3 => Ok(Some(v4.to_string())),
                IpAddr::V4(v4) if v4.octets()[3] == 4 => Ok(Some("named.example.".to_owned())),
                _ => panic!("unexpected address"),
            }
        });
        assert_eq!(settle(&resolver, v4(1)), Lookup::NoName);
        assert_eq!(
            settle(&resolver, v4(2)),
            Lookup::Failed("server failure".into())
        );
        // A name that is just the address is no name.
        assert_eq!(settle(&resolver, v4(3)), Lookup::NoName);
        // The root's trailing dot is not shown.
        assert_eq!(
            settle(&resolver, v4(4)),
            Lookup::Name("named.example".into())
        );
        // A lookup that panics fails, and the pool goes on.
        assert!(matches!(settle(&resolver, v4(5)), Lookup::Failed(_)));
        for last in 1..=5 {
            resolver.lookup(v4(last));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 5);
    }

    #[test]
    fn mapped_ipv4_shares_the_ipv4_answer() {
        let calls = Arc::new(AtomicUsize::new(0));
        let resolver = enabled_over(Config::default(), naming(&calls));
        assert_eq!(settle(&resolver, v4(9)), Lookup::Name("host-9".into()));
        let mapped = IpAddr::V6(Ipv4Addr::new(127, 0, 0, 9).to_ipv6_mapped());
        assert_eq!(resolver.lookup(mapped), Lookup::Name("host-9".into()));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn wake_is_called_when_an_answer_arrives() {
        let wakes = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&wakes);
        let calls = Arc::new(AtomicUsize::new(0));
        let resolver = Resolver::with_config(Config::default(), naming(&calls), move || {
            counted.fetch_add(1, Ordering::SeqCst);
        });
        resolver.set_enabled(true);
        assert_eq!(resolver.lookup(v4(1)), Lookup::Pending);
        assert!(wait_until(|| wakes.load(Ordering::SeqCst) >= 1));
        assert_eq!(resolver.lookup(v4(1)), Lookup::Name("host-1".into()));
    }

    #[test]
    fn timeout_spares_the_pool() {
        let slow = v4(2);
        let config = Config {
            workers: 1,
            max_workers: 3,
            timeout: Duration::from_millis(100),
            ..Config::default()
        };
        let resolver = enabled(config, move |addr: IpAddr| {
            if addr == slow {
                thread::sleep(Duration::from_secs(5));
            }
            Ok(Some("named".to_owned()))
        });
        let start = Instant::now();
        assert_eq!(settle(&resolver, slow), Lookup::TimedOut);
        // The only worker is stuck; a replacement serves the next address.
        assert_eq!(settle(&resolver, v4(3)), Lookup::Name("named".into()));
        assert!(
            start.elapsed() < Duration::from_secs(4),
            "{:?}",
            start.elapsed()
        );
        let stats = resolver.stats();
        assert_eq!(stats.stuck, 1);
        assert_eq!(stats.workers, 2);
        // The timeout is cached like a failure: no new query.
        assert_eq!(resolver.lookup(slow), Lookup::TimedOut);
        assert_eq!(resolver.stats().queries_sent, 2);
    }

    #[test]
    fn late_answer_replaces_the_timeout_and_surplus_worker_leaves() {
        let config = Config {
            workers: 1,
            timeout: Duration::from_millis(50),
            ..Config::default()
        };
        let resolver = enabled(config, |_| {
            thread::sleep(Duration::from_millis(300));
            Ok(Some("late".to_owned()))
        });
        assert_eq!(settle(&resolver, v4(1)), Lookup::TimedOut);
        assert!(wait_until(
            || resolver.lookup(v4(1)) == Lookup::Name("late".into())
        ));
        assert!(wait_until(|| {
            let stats = resolver.stats();
            stats.workers == 1 && stats.stuck == 0
        }));
    }

    #[test]
    fn oldest_answers_are_evicted() {
        let calls = Arc::new(AtomicUsize::new(0));
        let config = Config {
            cache_capacity: 3,
            ..Config::default()
        };
        let resolver = enabled_over(config, naming(&calls));
        for last in 1..=5 {
            assert_eq!(
                settle(&resolver, v4(last)),
                Lookup::Name(format!("host-{last}").into())
            );
        }
        assert_eq!(resolver.stats().cached, 3);
        for last in 3..=5 {
            assert_eq!(
                resolver.lookup(v4(last)),
                Lookup::Name(format!("host-{last}").into())
            );
        }
        assert_eq!(calls.load(Ordering::SeqCst), 5);
        // The first two went, so they are asked again.
        assert_eq!(resolver.lookup(v4(1)), Lookup::Pending);
        assert_eq!(settle(&resolver, v4(1)), Lookup::Name("host-1".into()));
        assert_eq!(calls.load(Ordering::SeqCst), 6);
        assert_eq!(resolver.stats().cached, 3);
    }

    #[test]
    fn cache_order_stays_bounded_under_refreshes() {
        let mut cache = Cache::new(2);
        let now = Instant::now();
        for round in 0..100 {
            cache.insert(v4(1), Lookup::NoName, Duration::ZERO, now);
            cache.insert(
                v4(2),
                Lookup::Name(format!("{round}").into()),
                Duration::ZERO,
                now,
            );
        }
        assert_eq!(cache.len(), 2);
        assert!(cache.order.len() <= 2 * 2 + 16 + 1);
        // Refreshing 1 made 2 the older one.
        cache.insert(v4(1), Lookup::NoName, Duration::ZERO, now);
        cache.insert(v4(3), Lookup::NoName, Duration::ZERO, now);
        assert!(cache.peek(&v4(1)).is_some());
        assert!(cache.peek(&v4(2)).is_none());
        assert!(cache.peek(&v4(3)).is_some());
    }

    #[test]
    fn full_queue_defers_without_blocking() {
        let gate = Arc::new(Gate::default());
        let held = Arc::clone(&gate);
        let config = Config {
            workers: 1,
            queue_capacity: 2,
            ..Config::default()
        };
        let resolver = enabled(config, move |_| {
            held.pass();
            Ok(Some("named".to_owned()))
        });
        for last in 1..=10 {
            assert_eq!(resolver.lookup(v4(last)), Lookup::Pending);
        }
        let stats = resolver.stats();
        assert!(stats.queued <= 2, "{stats:?}");
        assert!(stats.deferred >= 7, "{stats:?}");
        gate.open();
        // Turned-away addresses are taken when asked again, as the UI does every frame.
        assert!(wait_until(|| {
            (1..=10).all(|last| resolver.lookup(v4(last)) == Lookup::Name("named".into()))
        }));
        assert_eq!(resolver.stats().queries_sent, 10);
    }

    #[test]
    fn clear_forgets_answers() {
        let calls = Arc::new(AtomicUsize::new(0));
        let resolver = enabled_over(Config::default(), naming(&calls));
        assert_eq!(settle(&resolver, v4(1)), Lookup::Name("host-1".into()));
        resolver.clear();
        assert_eq!(resolver.stats().cached, 0);
        assert_eq!(resolver.lookup(v4(1)), Lookup::Pending);
        assert_eq!(settle(&resolver, v4(1)), Lookup::Name("host-1".into()));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn expired_answer_is_shown_while_refreshing() {
        let calls = Arc::new(AtomicUsize::new(0));
        let config = Config {
            name_ttl: Duration::from_millis(20),
            ..Config::default()
        };
        let resolver = enabled_over(config, naming(&calls));
        assert_eq!(settle(&resolver, v4(1)), Lookup::Name("host-1".into()));
        thread::sleep(Duration::from_millis(30));
        // Still shown, and asked again in the background.
        assert_eq!(resolver.lookup(v4(1)), Lookup::Name("host-1".into()));
        assert!(wait_until(|| calls.load(Ordering::SeqCst) >= 2));
    }

    /// A made-up zone: PTR records and A/AAAA records, set by each test; its forward lookups
    /// can be held at a gate. Nothing leaves the process.
    #[derive(Default)]
    struct Zone {
        ptr: HashMap<IpAddr, String>,
        a: HashMap<String, Vec<IpAddr>>,
        forward_gate: Option<Arc<Gate>>,
        forwards: Arc<AtomicUsize>,
    }

    impl Zone {
        fn ptr(mut self, addr: IpAddr, name: &str) -> Zone {
            self.ptr.insert(addr, name.to_owned());
            self
        }

        fn a(mut self, name: &str, addrs: &[IpAddr]) -> Zone {
            self.a.insert(name.to_owned(), addrs.to_vec());
            self
        }
    }

    impl NameLookup for Zone {
        fn reverse(&self, addr: IpAddr) -> Result<Option<String>, String> {
            Ok(self.ptr.get(&addr).cloned())
        }

        fn forward(&self, name: &str) -> Result<Vec<IpAddr>, String> {
            self.forwards.fetch_add(1, Ordering::SeqCst);
            if let Some(gate) = &self.forward_gate {
                gate.pass();
            }
            Ok(self.a.get(name).cloned().unwrap_or_default())
        }
    }

    fn addr(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_name_that_leads_back_to_the_address_is_shown() {
        let zone = Zone::default()
            .ptr(addr("203.0.113.5"), "www.example.org.")
            .a(
                "www.example.org",
                &[addr("203.0.113.9"), addr("203.0.113.5")],
            )
            .ptr(addr("2001:db8::5"), "v6.example.org")
            .a("v6.example.org", &[addr("2001:db8::5")]);
        let resolver = enabled_over(Config::default(), zone);
        assert_eq!(
            settle(&resolver, addr("203.0.113.5")),
            Lookup::Name("www.example.org".into())
        );
        assert_eq!(
            settle(&resolver, addr("2001:db8::5")),
            Lookup::Name("v6.example.org".into())
        );
        // The IPv4 peer of a dual-stack socket is confirmed by the name's A record.
        assert_eq!(
            settle(&resolver, addr("::ffff:203.0.113.5")),
            Lookup::Name("www.example.org".into())
        );
    }

    #[test]
    fn a_name_that_resolves_elsewhere_is_not_believed() {
        let forwards = Arc::new(AtomicUsize::new(0));
        let zone = Zone {
            forwards: Arc::clone(&forwards),
            ..Zone::default()
        }
        .ptr(addr("203.0.113.5"), "login.yourbank.example")
        .a("login.yourbank.example", &[addr("198.51.100.1")])
        .ptr(addr("203.0.113.6"), "no-such-name.example");
        let resolver = enabled_over(Config::default(), zone);
        let answer = settle(&resolver, addr("203.0.113.5"));
        assert_eq!(answer, Lookup::Unconfirmed);
        assert_eq!(answer.name(), None);
        assert_eq!(settle(&resolver, addr("203.0.113.6")), Lookup::Unconfirmed);
        assert_eq!(forwards.load(Ordering::SeqCst), 2);
        // A definite answer: cached like a name, not asked again.
        assert_eq!(resolver.lookup(addr("203.0.113.5")), Lookup::Unconfirmed);
        assert_eq!(resolver.stats().queries_sent, 2);
    }

    #[test]
    fn localhost_an_address_or_a_non_host_name_is_not_believed() {
        let forwards = Arc::new(AtomicUsize::new(0));
        let hostile = [
            "a b.example",
            "evil\u{202e}elpmaxe.com",
            "bell\u{7}.example",
            "tab\there.example",
            "dots..example",
            &"x".repeat(64),
        ];
        let mut zone = Zone {
            forwards: Arc::clone(&forwards),
            ..Zone::default()
        }
        // A zone that lies about localhost too: only loopback addresses may be called that.
        .ptr(addr("192.0.2.7"), "localhost")
        .ptr(addr("192.0.2.8"), "db.localhost.")
        .a("localhost", &[addr("127.0.0.1"), addr("192.0.2.7")])
        .a("db.localhost", &[addr("192.0.2.8")])
        .ptr(addr("192.0.2.9"), "10.0.0.1")
        .ptr(addr("192.0.2.10"), "::1")
        .ptr(addr("192.0.2.11"), "192.0.2.11.");
        for (n, name) in hostile.iter().enumerate() {
            let at = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100 + n as u8));
            zone = zone.ptr(at, name).a(name, &[at]);
        }
        let resolver = enabled_over(Config::default(), zone);
        for last in [7, 8, 9, 10] {
            let at = IpAddr::V4(Ipv4Addr::new(192, 0, 2, last));
            assert_eq!(settle(&resolver, at), Lookup::Unconfirmed, "{at}");
        }
        // The address itself, as some resolvers give it, is just no name.
        assert_eq!(settle(&resolver, addr("192.0.2.11")), Lookup::NoName);
        for (n, name) in hostile.iter().enumerate() {
            let at = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100 + n as u8));
            assert_eq!(settle(&resolver, at), Lookup::Unconfirmed, "{name:?}");
        }
        // None of them was even looked up forward.
        assert_eq!(forwards.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn localhost_is_believed_for_loopback_when_it_leads_back() {
        let zone = Zone::default()
            .ptr(addr("127.0.0.1"), "localhost")
            .ptr(addr("127.0.0.2"), "localhost")
            .a("localhost", &[addr("127.0.0.1"), addr("::1")]);
        let resolver = enabled_over(Config::default(), zone);
        assert_eq!(
            settle(&resolver, addr("127.0.0.1")),
            Lookup::Name("localhost".into())
        );
        assert_eq!(settle(&resolver, addr("127.0.0.2")), Lookup::Unconfirmed);
    }

    #[test]
    fn a_forward_lookup_that_times_out_gives_no_name() {
        let gate = Arc::new(Gate::default());
        let zone = Zone {
            forward_gate: Some(Arc::clone(&gate)),
            ..Zone::default()
        }
        .ptr(addr("203.0.113.5"), "slow.example")
        .a("slow.example", &[addr("203.0.113.5")]);
        let config = Config {
            timeout: Duration::from_millis(50),
            ..Config::default()
        };
        let resolver = enabled_over(config, zone);
        let answer = settle(&resolver, addr("203.0.113.5"));
        assert_eq!(answer, Lookup::TimedOut);
        assert_eq!(answer.name(), None);
        // Let the stuck worker finish.
        gate.open();
        assert!(wait_until(|| resolver.stats().stuck == 0));
    }
}
