//! The socket table over the last ten minutes: the data behind the timeline chart and the
//! status bar's opened/closed rates.
//!
//! The table and the range bar's gauge show *now*. A burst of short connections, TIME_WAIT
//! piling up or the ephemeral range filling over minutes — the early warning for port
//! exhaustion — shows only as a history. So the window feeds every snapshot here as it arrives,
//! together with what the change tracker found in it, and the store keeps one small sample per
//! snapshot: sockets by state, connections opened and closed since the sample before, and the
//! ephemeral range's fill.
//!
//! Bounded whatever the machine does: at most one sample per [`RESOLUTION`] of the snapshots'
//! own clock (snapshots closer together share one: their opens and closes add up, the counts
//! are the newest), none older than [`WINDOW`], and never more than [`MAX_SAMPLES`] of 48
//! bytes — about 115 kB, however many sockets there are. Times are the snapshots' `taken_at`,
//! never a clock read here, so tests script time freely.
//!
//! A sample covers the time from the sample before it to its own; its rates are its counts
//! over that time. Closes the polls cannot see — a socket the kernel reports destroyed before
//! any poll noticed it gone — are added with [`Timeline::note_closed`].

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use super::ephemeral_fill::EphemeralFill;
use super::history::Changes;
use super::{Proto, Snapshot, SockState, Socket};

/// How far back the timeline reaches.
pub const WINDOW: Duration = Duration::from_secs(600);
/// The finest step between two samples: snapshots within one step share a sample.
pub const RESOLUTION: Duration = Duration::from_millis(250);
/// The most samples held: the window at the resolution.
pub const MAX_SAMPLES: usize = (WINDOW.as_millis() / RESOLUTION.as_millis()) as usize;

const WINDOW_MS: u64 = WINDOW.as_millis() as u64;
const RESOLUTION_MS: u64 = RESOLUTION.as_millis() as u64;
/// Closes noted for after the newest sample, waiting for the next; past this many, the
/// newest entries are summed into one.
const MAX_PENDING: usize = 1024;

/// The states the timeline counts sockets by, bottom band first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StateGroup {
    Listen,
    Established,
    TimeWait,
    /// Every other TCP state: opening, closing, bound.
    OtherTcp,
    /// Every UDP socket, connected or not.
    Udp,
}

impl StateGroup {
    pub const ALL: [StateGroup; 5] = [
        StateGroup::Listen,
        StateGroup::Established,
        StateGroup::TimeWait,
        StateGroup::OtherTcp,
        StateGroup::Udp,
    ];

    pub fn of(socket: &Socket) -> StateGroup {
        match (socket.proto, socket.state) {
            (Proto::Udp, _) => StateGroup::Udp,
            (Proto::Tcp, SockState::Listen) => StateGroup::Listen,
            (Proto::Tcp, SockState::Established) => StateGroup::Established,
            (Proto::Tcp, SockState::TimeWait) => StateGroup::TimeWait,
            (Proto::Tcp, _) => StateGroup::OtherTcp,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            StateGroup::Listen => "LISTEN",
            StateGroup::Established => "ESTABLISHED",
            StateGroup::TimeWait => "TIME_WAIT",
            StateGroup::OtherTcp => "other TCP",
            StateGroup::Udp => "UDP",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One moment of the timeline, 48 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sample {
    /// When the newest snapshot in it was taken, milliseconds since the Unix epoch.
    pub t_ms: u64,
    /// How long it covers: since the sample before (0 for the first, which has none).
    pub span_ms: u32,
    /// Sockets by [`StateGroup`], in the order of [`StateGroup::ALL`], at `t_ms`.
    pub sockets: [u32; 5],
    /// Connections that appeared during the span.
    pub opened: u32,
    /// Connections that went away during the span.
    pub closed: u32,
    /// Distinct ports of the ephemeral range in use at `t_ms`, and the range's size.
    pub ephemeral_in_use: u32,
    pub ephemeral_size: u32,
}

impl Sample {
    pub fn count(&self, group: StateGroup) -> u32 {
        self.sockets[group.index()]
    }

    pub fn total(&self) -> u32 {
        self.sockets.iter().sum()
    }

    /// Connections opened per second over the span (0 when it has none).
    pub fn opened_per_sec(&self) -> f64 {
        per_sec(self.opened, u64::from(self.span_ms))
    }

    /// Connections closed per second over the span (0 when it has none).
    pub fn closed_per_sec(&self) -> f64 {
        per_sec(self.closed, u64::from(self.span_ms))
    }

    /// The ephemeral range's share in use, 0 to 1.
    pub fn ephemeral_fraction(&self) -> f64 {
        EphemeralFill {
            ports_in_use: self.ephemeral_in_use as usize,
            range_size: self.ephemeral_size as usize,
        }
        .fraction()
    }

    /// Where the span starts: the time of the sample before.
    fn start_ms(&self) -> u64 {
        self.t_ms - u64::from(self.span_ms)
    }
}

fn per_sec(count: u32, span_ms: u64) -> f64 {
    if span_ms == 0 {
        0.0
    } else {
        f64::from(count) * 1000.0 / span_ms as f64
    }
}

/// Opened and closed per second over a stretch of the latest samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rates {
    pub opened_per_sec: f64,
    pub closed_per_sec: f64,
    /// The time the rates are averaged over.
    pub over: Duration,
}

/// The last [`WINDOW`] of the socket table, one [`Sample`] per snapshot (at most one per
/// [`RESOLUTION`]). See the module documentation.
#[derive(Debug, Default)]
pub struct Timeline {
    /// Oldest first; times never go back.
    samples: VecDeque<Sample>,
    /// The snapshot taken last, so a snapshot offered again (every frame) is taken once.
    last: Option<(u64, SystemTime)>,
    /// Closes noted for times after the newest sample: (time in ms, count). They belong to
    /// the next sample.
    pending: VecDeque<(u64, u32)>,
}

/// What a sample counts of a snapshot: its sockets by group, and the fill of this machine's
/// ephemeral range. A pass over every socket.
#[derive(Clone, Copy, Debug)]
pub struct Measured {
    sockets: [u32; 5],
    fill: EphemeralFill,
}

impl Measured {
    pub fn of(snapshot: &Snapshot) -> Measured {
        let mut sockets = [0u32; 5];
        for s in &snapshot.sockets {
            let n = &mut sockets[StateGroup::of(s).index()];
            *n = n.saturating_add(1);
        }
        Measured {
            sockets,
            // This machine's range, filled by its own sockets: a host's ports are in its own
            // range.
            fill: EphemeralFill::of(snapshot.on(0)),
        }
    }
}

impl Timeline {
    /// Take one snapshot at its `taken_at`, with what the change tracker found in it
    /// (`changes.new` opened, `changes.closed` closed). A snapshot taken already (same `seq`
    /// and time), the empty start (`seq` 0) and a failed poll (which repeats the last good
    /// one) are skipped. Returns whether it was taken.
    pub fn update(&mut self, snapshot: &Snapshot, changes: Changes) -> bool {
        if self.is_new(snapshot) {
            self.update_measured(snapshot, &Measured::of(snapshot), changes)
        } else {
            false
        }
    }

    /// Whether [`update`](Self::update) would take `snapshot` (it was not taken yet).
    pub fn is_new(&self, snapshot: &Snapshot) -> bool {
        snapshot.seq != 0
            && snapshot.error.is_none()
            && self.last != Some((snapshot.seq, snapshot.taken_at))
    }

    /// [`update`](Self::update) with the snapshot's counts measured already (off the frame,
    /// for large tables).
    pub fn update_measured(
        &mut self,
        snapshot: &Snapshot,
        measured: &Measured,
        changes: Changes,
    ) -> bool {
        if !self.is_new(snapshot) {
            return false;
        }
        self.last = Some((snapshot.seq, snapshot.taken_at));
        let newest = self.samples.back().map(|s| s.t_ms);
        // A clock set back does not reorder the samples.
        let t_ms = ms_since_epoch(snapshot.taken_at).max(newest.unwrap_or(0));
        let sockets = measured.sockets;
        let fill = measured.fill;
        let opened = saturate(changes.new);
        let closed = saturate(changes.closed).saturating_add(self.take_pending(t_ms, newest));
        let ephemeral_in_use = saturate(fill.ports_in_use);
        let ephemeral_size = saturate(fill.range_size);
        match self.samples.back_mut() {
            Some(last) if last.t_ms / RESOLUTION_MS == t_ms / RESOLUTION_MS => {
                last.span_ms = last.span_ms.saturating_add(span(t_ms - last.t_ms));
                last.t_ms = t_ms;
                last.sockets = sockets;
                last.opened = last.opened.saturating_add(opened);
                last.closed = last.closed.saturating_add(closed);
                last.ephemeral_in_use = ephemeral_in_use;
                last.ephemeral_size = ephemeral_size;
            }
            _ => {
                if self.samples.capacity() == 0 {
                    self.samples.reserve_exact(MAX_SAMPLES);
                }
                if self.samples.len() >= MAX_SAMPLES {
                    self.samples.pop_front();
                }
                self.samples.push_back(Sample {
                    t_ms,
                    span_ms: newest.map_or(0, |n| span(t_ms - n)),
                    sockets,
                    opened,
                    closed,
                    ephemeral_in_use,
                    ephemeral_size,
                });
            }
        }
        let horizon = t_ms.saturating_sub(WINDOW_MS);
        while self.samples.front().is_some_and(|s| s.t_ms <= horizon) {
            self.samples.pop_front();
        }
        true
    }

    /// Count `count` connections that closed at `at` into the sample whose span holds `at`.
    ///
    /// For closes the polls do not count: sockets destroyed between two polls, as the
    /// kernel's destroy events report them, which the change tracker never sees go (or a
    /// caller that removes them before the next poll). Passing a close the tracker also
    /// counts counts it twice. A time after the newest sample is kept for the next one (the
    /// event came before the poll that covers it); a time before the first sample's span,
    /// or older than the window, is not counted. Returns whether the closes were taken.
    pub fn note_closed(&mut self, at: SystemTime, count: u32) -> bool {
        let at_ms = ms_since_epoch(at);
        let Some(newest) = self.samples.back() else {
            return false;
        };
        if at_ms > newest.t_ms {
            if self.pending.len() >= MAX_PENDING
                && let Some(last) = self.pending.back_mut()
            {
                last.0 = last.0.max(at_ms);
                last.1 = last.1.saturating_add(count);
            } else {
                self.pending.push_back((at_ms, count));
            }
            return true;
        }
        // The first sample at or after `at`: its span is (time before, its time].
        let i = self.samples.partition_point(|s| s.t_ms < at_ms);
        match self.samples.get_mut(i) {
            Some(s) if s.start_ms() < at_ms => {
                s.closed = s.closed.saturating_add(count);
                true
            }
            _ => false,
        }
    }

    /// The closes noted for after `newest` and up to `t_ms`, taken out of waiting. Before
    /// the first sample there is no span to count them in.
    fn take_pending(&mut self, t_ms: u64, newest: Option<u64>) -> u32 {
        let mut taken = 0u32;
        self.pending.retain(|&(at, count)| {
            if at > t_ms {
                return true;
            }
            if newest.is_some() {
                taken = taken.saturating_add(count);
            }
            false
        });
        taken
    }

    /// The samples, oldest first.
    pub fn samples(&self) -> &VecDeque<Sample> {
        &self.samples
    }

    /// The newest sample.
    pub fn latest(&self) -> Option<&Sample> {
        self.samples.back()
    }

    /// The sample nearest to `t_ms` (milliseconds since the Unix epoch).
    pub fn nearest(&self, t_ms: u64) -> Option<&Sample> {
        let i = self.samples.partition_point(|s| s.t_ms < t_ms);
        let after = self.samples.get(i);
        let before = i.checked_sub(1).and_then(|i| self.samples.get(i));
        match (before, after) {
            (Some(b), Some(a)) if t_ms - b.t_ms <= a.t_ms - t_ms => Some(b),
            (_, Some(a)) => Some(a),
            (b, None) => b,
        }
    }

    /// Opened and closed per second over the latest samples that together cover at least
    /// `over` (or all there are): `None` before two polls.
    pub fn rates(&self, over: Duration) -> Option<Rates> {
        let want = over.as_millis() as u64;
        let (mut opened, mut closed, mut span_ms) = (0u64, 0u64, 0u64);
        for s in self.samples.iter().rev() {
            if span_ms >= want {
                break;
            }
            opened += u64::from(s.opened);
            closed += u64::from(s.closed);
            span_ms += u64::from(s.span_ms);
        }
        (span_ms > 0).then(|| Rates {
            opened_per_sec: opened as f64 * 1000.0 / span_ms as f64,
            closed_per_sec: closed as f64 * 1000.0 / span_ms as f64,
            over: Duration::from_millis(span_ms),
        })
    }

    /// About how much memory the timeline holds.
    pub fn heap_bytes(&self) -> usize {
        self.samples.capacity() * size_of::<Sample>()
            + self.pending.capacity() * size_of::<(u64, u32)>()
    }
}

fn ms_since_epoch(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn span(ms: u64) -> u32 {
    u32::try_from(ms).unwrap_or(u32::MAX)
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests;
