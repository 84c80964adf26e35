//! What the host's TCP connections move and its UDP sockets drop, on the stream.
//!
//! The host sends its own counters and its own rates: each rate is what the host measured
//! between two of its polls, over its own interval, so it is the true rate whatever the
//! network does to the frames on their way (a reader computing rates from frames' arrival
//! would see a burst where frames bunch up).
//!
//! A busy connection's counters change at every poll, so a delta cannot afford whole flows
//! for all of them: a flow whose counters only moved goes in [`Moved`], column by column, each
//! value the new reading minus the last (a column of zeros is left out, cookies go ascending
//! as the step from the one before). A new flow, or one whose fields appeared or vanished,
//! goes whole. Entries of removed sockets are dropped on both ends without a word; an entry
//! that goes while its socket stays (a connection entering TIME_WAIT) is named in `*_gone`.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::model::FastHash;
use crate::model::traffic::{Drops, Flow, Rate, TcpStats, Traffic};

/// One connection's counters and the host's rate, whole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireFlow {
    pub cookie: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acked: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received: Option<u64>,
    #[serde(default)]
    pub rtt: u32,
    #[serde(default)]
    pub rttvar: u32,
    #[serde(default)]
    pub retrans: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<u64>,
    /// Bytes per second received and sent, between the host's last two polls; absent at the
    /// first poll that saw the connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<WireRate>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireRate {
    pub down: u64,
    pub up: u64,
}

impl WireFlow {
    fn new(cookie: u64, f: &Flow) -> WireFlow {
        WireFlow {
            cookie,
            sent: f.stats.bytes_sent,
            acked: f.stats.bytes_acked,
            received: f.stats.bytes_received,
            rtt: f.stats.rtt_us,
            rttvar: f.stats.rttvar_us,
            retrans: f.stats.retrans,
            delivery: f.stats.delivery_rate,
            rate: f.rate.map(|r| WireRate {
                down: r.down,
                up: r.up,
            }),
        }
    }

    fn flow(&self) -> Flow {
        Flow {
            stats: TcpStats {
                bytes_sent: self.sent,
                bytes_acked: self.acked,
                bytes_received: self.received,
                rtt_us: self.rtt,
                rttvar_us: self.rttvar,
                retrans: self.retrans,
                delivery_rate: self.delivery,
            },
            rate: self.rate.map(|r| Rate {
                down: r.down,
                up: r.up,
            }),
        }
    }
}

/// A UDP socket's drop count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireDrop {
    pub cookie: u64,
    pub drops: u32,
}

/// Flows whose counters moved since the last frame, as columns of differences (see the
/// module's docs). An empty column is all zeros; any other has one value per cookie.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moved {
    /// Each cookie minus the one before it (the first minus 0): ascending, so small.
    pub cookie: Vec<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sent: Vec<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acked: Vec<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub received: Vec<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rtt: Vec<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rttvar: Vec<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retrans: Vec<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delivery: Vec<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub down: Vec<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub up: Vec<i64>,
}

/// The fields of a flow that move, as numbers; `None` where a flow has no value (a flow whose
/// fields appear or vanish goes whole).
fn fields(f: &Flow) -> [Option<i128>; 9] {
    let n = |v: u64| Some(i128::from(v));
    [
        f.stats.bytes_sent.map(i128::from),
        f.stats.bytes_acked.map(i128::from),
        f.stats.bytes_received.map(i128::from),
        n(f.stats.rtt_us.into()),
        n(f.stats.rttvar_us.into()),
        n(f.stats.retrans.into()),
        f.stats.delivery_rate.map(i128::from),
        f.rate.map(|r| i128::from(r.down)),
        f.rate.map(|r| i128::from(r.up)),
    ]
}

/// The flow with `fields` put back, when each is a value its field can hold.
fn with_fields(shape: &Flow, v: [Option<i128>; 9]) -> Option<Flow> {
    let u64_ = |x: Option<i128>| x.map(u64::try_from).transpose().ok();
    let u32_ = |x: Option<i128>| x.and_then(|x| u32::try_from(x).ok());
    Some(Flow {
        stats: TcpStats {
            bytes_sent: u64_(v[0])?,
            bytes_acked: u64_(v[1])?,
            bytes_received: u64_(v[2])?,
            rtt_us: u32_(v[3])?,
            rttvar_us: u32_(v[4])?,
            retrans: u32_(v[5])?,
            delivery_rate: u64_(v[6])?,
        },
        rate: match (shape.rate, u64_(v[7])?, u64_(v[8])?) {
            (Some(_), Some(down), Some(up)) => Some(Rate { down, up }),
            (None, None, None) => None,
            _ => return None,
        },
    })
}

/// The differences from `old` to `new`, when both have the same fields and each difference
/// fits.
fn step(old: &Flow, new: &Flow) -> Option<[i64; 9]> {
    let (a, b) = (fields(old), fields(new));
    let mut out = [0i64; 9];
    for i in 0..9 {
        out[i] = match (a[i], b[i]) {
            (Some(a), Some(b)) => i64::try_from(b - a).ok()?,
            (None, None) => 0,
            _ => return None,
        };
    }
    Some(out)
}

impl Moved {
    fn columns_mut(&mut self) -> [&mut Vec<i64>; 9] {
        [
            &mut self.sent,
            &mut self.acked,
            &mut self.received,
            &mut self.rtt,
            &mut self.rttvar,
            &mut self.retrans,
            &mut self.delivery,
            &mut self.down,
            &mut self.up,
        ]
    }

    fn from_steps(mut steps: Vec<(u64, [i64; 9])>) -> Option<Moved> {
        if steps.is_empty() {
            return None;
        }
        steps.sort_unstable_by_key(|(c, _)| *c);
        let mut moved = Moved::default();
        let mut last = 0;
        for (cookie, _) in &steps {
            moved.cookie.push(cookie - last);
            last = *cookie;
        }
        for (i, column) in moved.columns_mut().into_iter().enumerate() {
            if steps.iter().any(|(_, d)| d[i] != 0) {
                *column = steps.iter().map(|(_, d)| d[i]).collect();
            }
        }
        Some(moved)
    }

    /// Each (cookie, differences), or `None` when the columns do not fit together.
    fn steps(&self) -> Option<Vec<(u64, [i64; 9])>> {
        let n = self.cookie.len();
        let columns = [
            &self.sent,
            &self.acked,
            &self.received,
            &self.rtt,
            &self.rttvar,
            &self.retrans,
            &self.delivery,
            &self.down,
            &self.up,
        ];
        if columns.iter().any(|c| !c.is_empty() && c.len() != n) {
            return None;
        }
        let mut cookie = 0u64;
        let mut out = Vec::with_capacity(n);
        for (j, step) in self.cookie.iter().enumerate() {
            cookie = cookie.checked_add(*step)?;
            let mut d = [0i64; 9];
            for (i, column) in columns.iter().enumerate() {
                d[i] = column.get(j).copied().unwrap_or(0);
            }
            out.push((cookie, d));
        }
        Some(out)
    }
}

/// What a delta says of traffic and drops.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Change {
    pub flows: Vec<WireFlow>,
    pub moved: Option<Box<Moved>>,
    pub flows_gone: Vec<u64>,
    pub drops: Vec<WireDrop>,
    pub drops_gone: Vec<u64>,
}

/// The whole of `traffic` and `drops`, by cookie.
pub(super) fn whole(traffic: &Traffic, drops: &Drops) -> (Vec<WireFlow>, Vec<WireDrop>) {
    let mut flows: Vec<WireFlow> = traffic.iter().map(|(c, f)| WireFlow::new(*c, f)).collect();
    flows.sort_unstable_by_key(|f| f.cookie);
    let mut drops: Vec<WireDrop> = drops
        .iter()
        .map(|(c, d)| WireDrop {
            cookie: *c,
            drops: *d,
        })
        .collect();
    drops.sort_unstable_by_key(|d| d.cookie);
    (flows, drops)
}

pub(super) fn traffic_of(flows: Vec<WireFlow>) -> Traffic {
    flows.into_iter().map(|w| (w.cookie, w.flow())).collect()
}

pub(super) fn drops_of(drops: Vec<WireDrop>) -> Drops {
    drops.into_iter().map(|d| (d.cookie, d.drops)).collect()
}

/// What turns the old traffic and drops into the new; `pruned`: the cookies of the sockets
/// removed, whose entries the reader drops by itself.
pub(super) fn change(
    old: (&Traffic, &Drops),
    new: (&Traffic, &Drops),
    pruned: &HashSet<u64, FastHash>,
) -> Change {
    let mut c = Change::default();
    let kept = |cookie: &u64| !pruned.contains(cookie);
    let mut steps = Vec::new();
    for (cookie, flow) in new.0 {
        match old.0.get(cookie).filter(|_| kept(cookie)) {
            Some(before) if before == flow => {}
            Some(before) => match step(before, flow) {
                Some(d) => steps.push((*cookie, d)),
                None => c.flows.push(WireFlow::new(*cookie, flow)),
            },
            None => c.flows.push(WireFlow::new(*cookie, flow)),
        }
    }
    c.flows.sort_unstable_by_key(|f| f.cookie);
    c.moved = Moved::from_steps(steps).map(Box::new);
    c.flows_gone = gone(old.0.keys(), |k| new.0.contains_key(k), &kept);
    for (cookie, drops) in new.1 {
        if old.1.get(cookie).filter(|_| kept(cookie)) != Some(drops) {
            c.drops.push(WireDrop {
                cookie: *cookie,
                drops: *drops,
            });
        }
    }
    c.drops.sort_unstable_by_key(|d| d.cookie);
    c.drops_gone = gone(old.1.keys(), |k| new.1.contains_key(k), &kept);
    c
}

fn gone<'a>(
    old: impl Iterator<Item = &'a u64>,
    still: impl Fn(&u64) -> bool,
    kept: &impl Fn(&u64) -> bool,
) -> Vec<u64> {
    let mut out: Vec<u64> = old.filter(|k| kept(k) && !still(k)).copied().collect();
    out.sort_unstable();
    out
}

/// Bring `traffic` and `drops` up to `change`, or leave them as they were and say `None`
/// when it does not fit them (a step for a flow the reader does not have).
pub(super) fn apply(
    traffic: &mut Traffic,
    drops: &mut Drops,
    pruned: &HashSet<u64, FastHash>,
    change: Change,
) -> Option<()> {
    let gone: HashSet<u64, FastHash> = change.flows_gone.iter().copied().collect();
    // Every step is worked out before anything changes.
    let stepped = match &change.moved {
        Some(moved) => moved
            .steps()?
            .into_iter()
            .map(|(cookie, d)| {
                if pruned.contains(&cookie) || gone.contains(&cookie) {
                    return None;
                }
                let before = traffic.get(&cookie)?;
                let mut v = fields(before);
                for (x, d) in v.iter_mut().zip(d) {
                    *x = match *x {
                        Some(x) => Some(x + i128::from(d)),
                        None if d == 0 => None,
                        None => return None,
                    };
                }
                Some((cookie, with_fields(before, v)?))
            })
            .collect::<Option<Vec<_>>>()?,
        None => Vec::new(),
    };
    for cookie in pruned.iter().chain(&change.flows_gone) {
        traffic.remove(cookie);
    }
    for cookie in pruned.iter().chain(&change.drops_gone) {
        drops.remove(cookie);
    }
    traffic.extend(stepped);
    traffic.extend(change.flows.into_iter().map(|w| (w.cookie, w.flow())));
    drops.extend(change.drops.into_iter().map(|d| (d.cookie, d.drops)));
    Some(())
}
