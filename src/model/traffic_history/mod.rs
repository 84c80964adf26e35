//! What busy connections and their processes moved over the last minutes: the data behind the
//! details panel's charts.
//!
//! The window feeds it every snapshot as it arrives, so that a chart is already full the moment
//! its row is selected. Most sockets never move data and cost nothing here: a connection is
//! followed from the first poll at which it moves data, a process from the first poll at which
//! one of its connections does. Everything is bounded — at most one sample a second (polls
//! closer together are averaged), 10 minutes of them, and a hard cap on the connections and
//! processes followed — so a machine where 100,000 connections move data costs a few tens of
//! MB at most. When the cap is reached, a connection that starts moving data takes the place of
//! one that closed, else of the one idle longest; connections moving data now are never pushed
//! out, and the busiest newcomers go first.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, SystemTime};

use super::traffic::Rate;
use super::{FastHash, Proto, Snapshot};

/// How far back the history reaches.
pub const WINDOW: Duration = Duration::from_secs(600);
/// The finest step between two samples: polls closer together share one, averaged.
pub const RESOLUTION: Duration = Duration::from_secs(1);
/// The most samples one series holds: the window at the resolution.
pub const MAX_SAMPLES: usize = (WINDOW.as_secs() / RESOLUTION.as_secs()) as usize + 1;

const WINDOW_MS: u32 = WINDOW.as_millis() as u32;
const RESOLUTION_MS: u32 = RESOLUTION.as_millis() as u32;
/// Past this (24 days), sample times are counted from a later epoch.
const REBASE_MS: u32 = 1 << 31;

/// How many connections and processes are followed at most.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub connections: usize,
    pub processes: usize,
}

impl Default for Limits {
    /// Full, these hold about 2,256 × 601 samples of 16 bytes: 22 MB.
    fn default() -> Self {
        Limits {
            connections: 2_000,
            processes: 256,
        }
    }
}

/// One point of a chart, 16 bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Milliseconds since the first snapshot the history took.
    pub t_ms: u32,
    /// Bytes per second received.
    pub down: f32,
    /// Bytes per second sent.
    pub up: f32,
    /// Smoothed round-trip time, milliseconds (0 for a process's total).
    pub rtt_ms: f32,
}

impl Sample {
    fn new(t_ms: u32, rate: Rate, rtt_ms: f32) -> Sample {
        Sample {
            t_ms,
            down: rate.down as f32,
            up: rate.up as f32,
            rtt_ms,
        }
    }
}

/// The samples of one connection or process, oldest first.
#[derive(Debug, Default)]
pub struct Series {
    samples: VecDeque<Sample>,
    /// How many polls the newest sample averages.
    merged: u16,
    /// When it last moved data.
    last_active_ms: u32,
    /// The update that last saw it.
    seen: u64,
    /// The latest poll no longer had it.
    closed: bool,
}

impl Series {
    pub fn samples(&self) -> &VecDeque<Sample> {
        &self.samples
    }

    /// Whether the latest poll no longer had it (the chart stops where it went).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    fn push(&mut self, sample: Sample) {
        let horizon = sample.t_ms.saturating_sub(WINDOW_MS);
        while self.samples.front().is_some_and(|s| s.t_ms < horizon) {
            self.samples.pop_front();
        }
        if let Some(last) = self.samples.back_mut()
            && sample.t_ms.saturating_sub(last.t_ms) < RESOLUTION_MS
            && self.merged < u16::MAX
        {
            let n = f32::from(self.merged);
            let mean = |old: f32, new: f32| (old * n + new) / (n + 1.0);
            last.down = mean(last.down, sample.down);
            last.up = mean(last.up, sample.up);
            last.rtt_ms = mean(last.rtt_ms, sample.rtt_ms);
            self.merged += 1;
            return;
        }
        if self.samples.len() >= MAX_SAMPLES {
            self.samples.pop_front();
        }
        if self.samples.len() == self.samples.capacity() {
            // Grow by doubling, but never past the cap: a full series holds exactly its
            // samples, not the next power of two.
            let len = self.samples.len();
            self.samples
                .reserve_exact(len.max(8).min(MAX_SAMPLES - len).max(1));
        }
        self.samples.push_back(sample);
        self.merged = 1;
    }

    fn heap_bytes(&self) -> usize {
        self.samples.capacity() * size_of::<Sample>()
    }
}

/// The series of one kind (connections or processes), capped.
#[derive(Debug)]
struct Followed<K> {
    series: HashMap<K, Series, FastHash>,
    limit: usize,
}

impl<K: Copy + Eq + Hash> Followed<K> {
    fn new(limit: usize) -> Self {
        Followed {
            series: HashMap::default(),
            limit,
        }
    }

    /// Take this update's reading of `key`. One not followed yet waits in `newcomers` when it
    /// moves data; one that had gone and is back is another connection (or process) under the
    /// same key, and starts afresh.
    fn record(
        &mut self,
        update: u64,
        key: K,
        sample: Sample,
        active: bool,
        newcomers: &mut Vec<(K, Sample)>,
    ) {
        match self.series.get_mut(&key) {
            Some(s) if !s.closed => {
                s.push(sample);
                s.seen = update;
                if active {
                    s.last_active_ms = sample.t_ms;
                }
                return;
            }
            Some(_) => {
                self.series.remove(&key);
            }
            None => {}
        }
        if active {
            newcomers.push((key, sample));
        }
    }

    /// After every reading of an update: what this update did not see has closed, what has
    /// been idle for the whole window is forgotten, and newcomers are taken in as far as the
    /// cap allows. Returns how many were left out.
    fn finish(&mut self, update: u64, now_ms: u32, mut newcomers: Vec<(K, Sample)>) -> usize {
        self.series.retain(|_, s| {
            if s.seen != update {
                s.closed = true;
            }
            now_ms.saturating_sub(s.last_active_ms) <= WINDOW_MS
        });
        let free = self.limit.saturating_sub(self.series.len());
        if newcomers.len() > free {
            // Make room from those not moving data now: the closed first, then the idle
            // longest.
            let mut idle: Vec<(bool, u32, K)> = self
                .series
                .iter()
                .filter(|(_, s)| s.closed || s.last_active_ms < now_ms)
                .map(|(k, s)| (!s.closed, s.last_active_ms, *k))
                .collect();
            let need = newcomers.len() - free;
            if idle.len() > need {
                idle.select_nth_unstable_by_key(need, |(open, at, _)| (*open, *at));
                idle.truncate(need);
            }
            for (_, _, key) in idle {
                self.series.remove(&key);
            }
        }
        let room = self.limit.saturating_sub(self.series.len());
        let left_out = newcomers.len().saturating_sub(room);
        if left_out > 0 && room > 0 {
            // The busiest go first.
            newcomers.select_nth_unstable_by(room - 1, |a, b| {
                (b.1.down + b.1.up).total_cmp(&(a.1.down + a.1.up))
            });
        }
        for (key, sample) in newcomers.into_iter().take(room) {
            let mut s = Series {
                last_active_ms: sample.t_ms,
                seen: update,
                ..Series::default()
            };
            s.push(sample);
            self.series.insert(key, s);
        }
        left_out
    }

    /// Count every time `by` milliseconds later (the epoch moved up by that much).
    fn shift(&mut self, by: u32) {
        for s in self.series.values_mut() {
            s.last_active_ms = s.last_active_ms.saturating_sub(by);
            for sample in &mut s.samples {
                sample.t_ms = sample.t_ms.saturating_sub(by);
            }
        }
    }

    fn heap_bytes(&self) -> usize {
        self.series.capacity() * (size_of::<(K, Series)>() + 1)
            + self.series.values().map(Series::heap_bytes).sum::<usize>()
    }
}

/// A process as the history knows it: a PID is reused, its start time tells the two apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProcessKey {
    pub pid: u32,
    pub start_time: Option<u64>,
}

/// The rate and RTT of busy connections (by socket cookie) and the total rate of their
/// processes, for the last [`WINDOW`].
#[derive(Debug)]
pub struct TrafficHistory {
    /// `taken_at` of the first snapshot: samples count milliseconds from it.
    epoch: Option<SystemTime>,
    /// The snapshot taken last, so a snapshot offered again (every frame) is taken once.
    last: Option<(u64, SystemTime)>,
    now_ms: u32,
    update: u64,
    connections: Followed<u64>,
    processes: Followed<ProcessKey>,
    /// Connections and processes moving data that the caps left out at the last update.
    left_out: (usize, usize),
    /// Scratch, kept between updates: this poll's connections moving data, and the totals
    /// per PID.
    active: HashMap<u64, Rate, FastHash>,
    totals: HashMap<u32, Rate, FastHash>,
}

impl Default for TrafficHistory {
    fn default() -> Self {
        TrafficHistory::new(Limits::default())
    }
}

impl TrafficHistory {
    pub fn new(limits: Limits) -> Self {
        TrafficHistory {
            epoch: None,
            last: None,
            now_ms: 0,
            update: 0,
            connections: Followed::new(limits.connections),
            processes: Followed::new(limits.processes),
            left_out: (0, 0),
            active: HashMap::default(),
            totals: HashMap::default(),
        }
    }

    /// Take one snapshot's traffic, at its `taken_at`. A snapshot taken already (same `seq`
    /// and time) is skipped, so the window may offer the newest one every frame. Returns
    /// whether it was taken.
    pub fn update(&mut self, snapshot: &Snapshot) -> bool {
        let stamp = (snapshot.seq, snapshot.taken_at);
        // Seq 0 is the empty start, not a poll: its time is no clock's.
        if snapshot.seq == 0 || self.last == Some(stamp) {
            return false;
        }
        self.last = Some(stamp);
        let mut epoch = *self.epoch.get_or_insert(snapshot.taken_at);
        if self.now_ms > REBASE_MS {
            // Weeks on: move the epoch up so the times keep fitting in 32 bits.
            let shift = self.now_ms - WINDOW_MS;
            epoch += Duration::from_millis(u64::from(shift));
            self.epoch = Some(epoch);
            self.now_ms -= shift;
            self.connections.shift(shift);
            self.processes.shift(shift);
        }
        // A clock set back does not reorder the samples.
        let t = snapshot
            .taken_at
            .duration_since(epoch)
            .map_or(0, |d| u32::try_from(d.as_millis()).unwrap_or(u32::MAX))
            .max(self.now_ms);
        self.now_ms = t;
        self.update += 1;
        let update = self.update;

        self.active.clear();
        let mut newcomers = Vec::new();
        for (&cookie, flow) in &snapshot.traffic {
            if cookie == 0 {
                continue;
            }
            let rate = flow.rate.unwrap_or_default();
            let active = rate.down > 0 || rate.up > 0;
            if active {
                self.active.insert(cookie, rate);
            }
            let rtt_ms = flow.stats.rtt_us as f32 / 1000.0;
            let sample = Sample::new(t, rate, rtt_ms);
            self.connections
                .record(update, cookie, sample, active, &mut newcomers);
        }
        self.left_out.0 = self.connections.finish(update, t, newcomers);
        self.update_processes(snapshot, update, t);
        true
    }

    /// Each process's total: the sum of its connections' rates (a socket shared by several
    /// processes counts for each).
    fn update_processes(&mut self, snapshot: &Snapshot, update: u64, t: u32) {
        self.totals.clear();
        if !self.active.is_empty() {
            for s in &snapshot.sockets {
                if s.proto != Proto::Tcp || s.cookie == 0 || s.pids.is_empty() {
                    continue;
                }
                let Some(rate) = self.active.get(&s.cookie) else {
                    continue;
                };
                for pid in s.pids.iter() {
                    let total = self.totals.entry(*pid).or_default();
                    total.down = total.down.saturating_add(rate.down);
                    total.up = total.up.saturating_add(rate.up);
                }
            }
        }
        let key = |pid: u32| ProcessKey {
            pid,
            start_time: snapshot.process(pid).and_then(|p| p.start_time),
        };
        let mut newcomers = Vec::new();
        for (&pid, &rate) in &self.totals {
            let sample = Sample::new(t, rate, 0.0);
            self.processes
                .record(update, key(pid), sample, true, &mut newcomers);
        }
        // Followed processes that moved nothing this time, while they still run: a zero.
        let quiet: Vec<ProcessKey> = self
            .processes
            .series
            .iter()
            .filter(|(k, s)| {
                s.seen != update
                    && !s.closed
                    && snapshot.process(k.pid).is_some()
                    && key(k.pid) == **k
            })
            .map(|(k, _)| *k)
            .collect();
        for k in quiet {
            let sample = Sample::new(t, Rate::default(), 0.0);
            self.processes
                .record(update, k, sample, false, &mut newcomers);
        }
        self.left_out.1 = self.processes.finish(update, t, newcomers);
    }

    /// The samples of the connection with this cookie, if it moved data in the last
    /// [`WINDOW`].
    pub fn connection(&self, cookie: u64) -> Option<&Series> {
        if cookie == 0 {
            return None;
        }
        self.connections.series.get(&cookie)
    }

    /// The total rate of a process, if one of its connections moved data in the last
    /// [`WINDOW`].
    pub fn process(&self, key: ProcessKey) -> Option<&Series> {
        self.processes.series.get(&key)
    }

    /// The time of the latest snapshot taken, on the samples' scale.
    pub fn now_ms(&self) -> u32 {
        self.now_ms
    }

    /// How many connections and processes are followed.
    pub fn followed(&self) -> (usize, usize) {
        (self.connections.series.len(), self.processes.series.len())
    }

    /// Connections and processes moving data at the last update that the caps left out.
    pub fn left_out(&self) -> (usize, usize) {
        self.left_out
    }

    /// About how much memory the history holds (its maps and samples; not the scratch).
    pub fn heap_bytes(&self) -> usize {
        self.connections.heap_bytes() + self.processes.heap_bytes()
    }
}

#[cfg(test)]
mod tests;
